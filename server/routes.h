// The routes of the HTTP engine itself (no database): health, the bench route, test routes.
#pragma once

#include "server/limits.h"
#include "server/router.h"

namespace server {

// GET /healthz: 200 "ok" while the process runs.
// GET /bench/fixed: a fixed 1.5 KB JSON body built once at startup; the same body nginx serves
//   in bench/http_vs_nginx.sh, so the two can be compared byte for byte.
// With options.debug_routes (tests only): GET /debug/delay?ms=N answers 200 after N ms
//   (at most 10 s) from a reactor timer, the way a database answer will arrive.
void add_engine_routes(Router& router, const ServeOptions& options);

// The /bench/fixed body (bench/ writes it into nginx's config).
[[nodiscard]] const std::string& bench_fixed_body();

}  // namespace server
