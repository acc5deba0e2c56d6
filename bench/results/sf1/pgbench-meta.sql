\set pid random(900009, 1000010)
\set count 5
\set page 0
SELECT 0 AS kind, rating::integer AS a, recommend::integer AS b, count(*) AS n, NULL::text AS name, NULL::text AS avg FROM reviews WHERE product_id = :pid::integer GROUP BY rating, recommend UNION ALL SELECT 1, c.id, 0, 0, c.name, (SELECT avg(cr.value)::text FROM characteristic_reviews cr WHERE cr.characteristic_id = c.id) FROM characteristics c WHERE c.product_id = :pid::integer;
