// The JSON bodies of the read routes (API.md §3), built from the rows of db/statements.h.
// Pure functions: no I/O, no state; tested against the real sample through the server.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <string>

namespace server::api {

// GET /reviews: `page0` is the zero-based page echoed as "page", `count` the effective count.
void append_reviews_body(std::string& out, std::int32_t product_id, std::int32_t page0,
                         std::int32_t count, const PGresult* rows);
// GET /reviews/meta.
void append_meta_body(std::string& out, std::int32_t product_id, const PGresult* rows);
// GET /products/:product_id/related.
void append_related_body(std::string& out, const PGresult* rows);

}  // namespace server::api
