#!/usr/bin/env bash
# Where to build the JSON (issue 4): the database's cost of the statements reviewsd runs (rows,
# JSON built in C++) against the same answers built by PostgreSQL's json functions (the
# statements of tests/fixtures/atelier-sample/README.md), measured with pgbench -M prepared on
# the same ids and connections. (The date format is spelled with replace() because pgbench would
# read ":MI" in a literal as a variable.)
#
#   bench/json_in_sql.sh BIN CONNINFO [ROUNDS]      (env DUR, default 10 seconds; CONNS, default 2)
set -euo pipefail
BIN=$(readlink -f "$1")
DB=$2
ROUNDS=${3:-3}
DUR=${DUR:-10}
CONNS=${CONNS:-2}
PGBENCH=$(ls /usr/lib/postgresql/*/bin/pgbench | sort -V | tail -1)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
MAXP=$(psql "$DB" -Atc "SELECT max(product_id) FROM reviews")
LO=$(( MAXP - MAXP / 10 )); HI=$MAXP
head() { echo "\\set pid random($LO, $HI)"; echo "\\set count 5"; echo "\\set page 0"; }
{ head; "$BIN" sql --name meta | sed -e 's/\$1/:pid/g' -e 's/$/;/'; } > "$TMP/meta_rows.sql"
{ head; "$BIN" sql --name reviews_relevant | sed -e 's/\$1/:pid/g; s/\$2/:count/g; s/\$3/:page/g' -e 's/$/;/'; } > "$TMP/reviews_rows.sql"
{ head; cat <<'SQL'
SELECT json_build_object('product_id', :pid::text,
  'ratings', COALESCE((SELECT json_object_agg(rating::text, n::text ORDER BY rating) FROM (SELECT rating, count(*) n FROM reviews WHERE product_id = :pid GROUP BY rating) s), '{}'::json),
  'recommended', COALESCE((SELECT json_object_agg(recommend::text, n::text ORDER BY recommend) FROM (SELECT recommend, count(*) n FROM reviews WHERE product_id = :pid GROUP BY recommend) s), '{}'::json),
  'characteristics', COALESCE((SELECT json_object_agg(c.name, json_build_object('id', c.id, 'value', (SELECT avg(cr.value)::text FROM characteristic_reviews cr WHERE cr.characteristic_id = c.id)) ORDER BY c.id) FROM characteristics c WHERE c.product_id = :pid), '{}'::json));
SQL
} > "$TMP/meta_json.sql"
{ head; cat <<'SQL'
SELECT json_build_object('product', :pid::text, 'page', :page::int, 'count', :count::int, 'results', COALESCE((SELECT json_agg(json_build_object('review_id', r.id, 'rating', r.rating, 'summary', r.summary, 'recommend', r.recommend, 'response', r.response, 'body', r.body, 'date', to_char(timestamp 'epoch' + r.date_ms * interval '1 millisecond', replace('YYYY-MM-DD"T"HH24#MI#SS.MS"Z"', '#', ':')), 'reviewer_name', r.reviewer_name, 'helpfulness', r.helpfulness, 'photos', COALESCE((SELECT json_agg(json_build_object('id', p.id, 'url', p.url) ORDER BY p.id) FROM reviews_photos p WHERE p.review_id = r.id), '[]'::json)) ORDER BY r.helpfulness DESC, r.date_ms DESC, r.id DESC) FROM (SELECT * FROM reviews WHERE product_id = :pid::int AND NOT reported ORDER BY helpfulness DESC, date_ms DESC, id DESC LIMIT :count::int OFFSET :page::int * :count::int) r), '[]'::json));
SQL
} > "$TMP/reviews_json.sql"
for q in ${ONLY:-meta reviews}; do
  for i in $(seq "$ROUNDS"); do
    for v in rows json; do
      tps=$("$PGBENCH" -n -M prepared -c "$CONNS" -j 1 -T "$DUR" -f "$TMP/${q}_$v.sql" "$DB" 2>/dev/null | awk '/^tps/ {print $3}')
      echo "$q $v round $i: $tps tps"
    done
  done
done
