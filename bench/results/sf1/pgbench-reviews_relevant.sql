\set pid random(900009, 1000010)
\set count 5
\set page 0
SELECT r.id, r.rating, r.summary, r.recommend, r.response, r.body, r.date_ms, r.reviewer_name, r.helpfulness, p.id, p.url FROM (SELECT id, rating, summary, recommend, response, body, date_ms, reviewer_name, helpfulness FROM reviews WHERE product_id = :pid::integer AND NOT reported ORDER BY helpfulness DESC, date_ms DESC, id DESC LIMIT :count::integer OFFSET :page::bigint * :count::integer) r LEFT JOIN reviews_photos p ON p.review_id = r.id ORDER BY r.helpfulness DESC, r.date_ms DESC, r.id DESC, p.id;
