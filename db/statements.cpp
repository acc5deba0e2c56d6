#include "db/statements.h"

namespace db::sql {

namespace {

// The page is a subquery so that LIMIT/OFFSET count reviews, not (review, photo) rows; the
// outer ORDER BY repeats the sort (a handful of rows) and puts photos in id order. OFFSET is
// computed in bigint: page × count can pass 2^31.
#define REVIEWS_PAGE(ORDER, ORDER_R)                                                      \
  "SELECT r.id, r.rating, r.summary, r.recommend, r.response, r.body, r.date_ms, "        \
  "r.reviewer_name, r.helpfulness, p.id, p.url "                                          \
  "FROM (SELECT id, rating, summary, recommend, response, body, date_ms, reviewer_name, " \
  "helpfulness FROM reviews WHERE product_id = $1::integer AND NOT reported "             \
  "ORDER BY " ORDER                                                                       \
  " LIMIT $2::integer OFFSET $3::bigint * $2::integer) r "                                \
  "LEFT JOIN reviews_photos p ON p.review_id = r.id "                                     \
  "ORDER BY " ORDER_R ", p.id"

constexpr PreparedStatement kStatements[] = {
    {"reviews_relevant", REVIEWS_PAGE("helpfulness DESC, date_ms DESC, id DESC",
                                      "r.helpfulness DESC, r.date_ms DESC, r.id DESC")},
    {"reviews_helpful", REVIEWS_PAGE("helpfulness DESC, id DESC", "r.helpfulness DESC, r.id DESC")},
    {"reviews_newest", REVIEWS_PAGE("date_ms DESC, id DESC", "r.date_ms DESC, r.id DESC")},
    {"meta",
     "SELECT 0 AS kind, rating::integer AS a, recommend::integer AS b, count(*) AS n, "
     "NULL::text AS name, NULL::text AS avg "
     "FROM reviews WHERE product_id = $1::integer GROUP BY rating, recommend "
     "UNION ALL "
     "SELECT 1, c.id, 0, 0, c.name, "
     "(SELECT avg(cr.value)::text FROM characteristic_reviews cr WHERE cr.characteristic_id = "
     "c.id) "
     "FROM characteristics c WHERE c.product_id = $1::integer"},
    {"related",
     "SELECT related_product_id FROM related "
     "WHERE current_product_id = $1::integer AND related_product_id <> 0 ORDER BY id"},
    // Photo ids follow the array's order: the rows are inserted in the ORDER BY's order.
    {"insert_review",
     "WITH chk AS (SELECT count(*) = cardinality($9::integer[]) AS ok FROM characteristics "
     "WHERE product_id = $1::integer AND id = ANY($9::integer[])), "
     "ins AS (INSERT INTO reviews (product_id, rating, date_ms, summary, body, recommend, "
     "reviewer_name, reviewer_email) SELECT $1::integer, $2::integer, "
     "floor(extract(epoch FROM now()) * 1000)::bigint, $3::text, $4::text, $5::boolean, "
     "$6::text, $7::text FROM chk WHERE ok RETURNING id), "
     "photos AS (INSERT INTO reviews_photos (review_id, url) SELECT ins.id, u.url FROM ins, "
     "unnest($8::text[]) WITH ORDINALITY AS u(url, n) ORDER BY u.n), "
     "ratings AS (INSERT INTO characteristic_reviews (characteristic_id, review_id, value) "
     "SELECT c.id, ins.id, c.value FROM ins, unnest($9::integer[], $10::integer[]) AS c(id, "
     "value)) "
     "SELECT (SELECT id FROM ins)"},
    // Saturates at 2^31-1 instead of failing (a 500 for a well-formed request).
    {"mark_helpful",
     "UPDATE reviews SET helpfulness = least(helpfulness::bigint + 1, 2147483647) "
     "WHERE id = $1::integer RETURNING product_id"},
    {"report", "UPDATE reviews SET reported = true WHERE id = $1::integer RETURNING product_id"},
};
#undef REVIEWS_PAGE

static_assert(std::size(kStatements) == kStatementCount);

}  // namespace

std::span<const PreparedStatement> statements() { return kStatements; }

}  // namespace db::sql
