// Every SQL statement the server runs, prepared on each connection at connect (PgPool). The
// JSON of API.md is built in C++ from these rows (server/api_json.cpp): PostgreSQL's json
// functions write non-compact text (`{"a" : 1}`) and jsonb reorders keys, and both cost the
// database CPU that it needs for queries.
#pragma once

#include "db/pg_pool.h"

#include <cstddef>
#include <span>

namespace db::sql {

enum Statement : std::size_t {
  // $1 product_id, $2 count, $3 zero-based page. Rows: one per (review, photo) — a review
  // without photos gives one row with NULL photo columns — in the sort's order, photos by id:
  // review_id, rating, summary, recommend, response, body, date_ms, reviewer_name, helpfulness,
  // photo_id, photo_url.
  kReviewsRelevant,
  kReviewsHelpful,
  kReviewsNewest,
  // $1 product_id. Rows: kind 0 = (rating, recommend 0|1, count) for each pair that occurs;
  // kind 1 = (characteristic id, 0, 0, name, avg(value)::text or NULL). Columns: kind, a, b, n,
  // name, avg.
  kMeta,
  // $1 product_id. Rows: related_product_id, in row-id order, 0s excluded.
  kRelated,
  // POST /reviews, in one statement (so one implicit transaction: all or nothing). $1 product_id,
  // $2 rating, $3 summary, $4 body, $5 recommend, $6 name, $7 email, $8 photo urls text[] (in
  // order), $9 characteristic ids integer[], $10 their values integer[]. One row: the new
  // review's id, or NULL (nothing written) when a characteristic id is not the product's.
  kInsertReview,
  // PUT /reviews/:id/helpful and /report. $1 review_id. Rows: the review's product_id, none
  // when there is no such review.
  kMarkHelpful,
  kReport,
  kStatementCount
};

// Indexed by Statement.
std::span<const PreparedStatement> statements();

}  // namespace db::sql
