// The read routes against a real PostgreSQL through a real `reviewsd serve`: the exact bytes of
// the real sample's expected answers, and, on generated data, agreement with an independent SQL
// formulation of API.md (PostgreSQL's own JSON functions).
#include "db/pg.h"
#include "support/http_test.h"
#include "support/test_env.h"

#include <fmt/format.h>
#include <simdjson.h>
#include <catch2/catch.hpp>

#include <fstream>
#include <random>
#include <regex>

namespace {

using testenv::HttpClient;
using testenv::ServerProcess;

struct Case {
  std::string target;
  int status = 0;
  std::string body;  // exact expected bytes
  bool json = false;
};

std::vector<Case> expected_cases() {
  std::ifstream in(testenv::fixtures_dir() / "atelier-sample" / "expected.jsonl");
  static const std::regex head(
      R"re(^\{"method":"GET","target":"([^"]*)","status":([0-9]+),"(body|body_text)":)re");
  std::vector<Case> cases;
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    REQUIRE(std::regex_search(line, m, head));
    Case c;
    c.target = m[1];
    c.status = std::stoi(m[2]);
    c.json = m[3] == "body";
    std::string value = line.substr(static_cast<std::size_t>(m.length(0)));
    value.pop_back();  // the closing brace of the case object
    // The file is written compactly, so a JSON body's bytes are the expected bytes; error
    // texts carry no escapes.
    c.body = c.json ? value : value.substr(1, value.size() - 2);
    cases.push_back(c);
  }
  return cases;
}

// Compact re-serialisation keeping key order: the canonical form for comparing JSON texts.
std::string canonical(const std::string& json) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  const auto err = parser.parse(json).get(doc);
  INFO(json);
  REQUIRE(!err);
  return simdjson::minify(doc);
}

}  // namespace

TEST_CASE("every case of the real sample's expected.jsonl, byte for byte",
          "[api][read][integration]") {
  testenv::SampleServer sample;
  auto& server = sample.server();
  const auto cases = expected_cases();
  REQUIRE(cases.size() == 106);
  HttpClient client(server.port());  // one keep-alive connection for all of them
  for (const auto& c : cases) {
    INFO(c.target);
    const auto r = client.request("GET", c.target);
    CHECK(r.status == c.status);
    CHECK(r.body == c.body);
    CHECK(r.header("Content-Type") ==
          (c.json ? "application/json; charset=utf-8" : "text/plain; charset=utf-8"));
  }
}

TEST_CASE("ETag and If-None-Match, HEAD, aliases, percent-encoding", "[api][read][integration]") {
  testenv::SampleServer sample;
  auto& server = sample.server();
  HttpClient c(server.port());

  const auto full = c.request("GET", "/reviews?product_id=2");
  REQUIRE(full.status == 200);
  const std::string etag = full.header("ETag");
  REQUIRE(etag.size() == 18);
  CHECK(etag.front() == '"');

  const auto again = c.request("GET", "/reviews?product_id=2", "If-None-Match: " + etag + "\r\n");
  CHECK(again.status == 304);
  CHECK(again.body.empty());
  CHECK(again.header("ETag") == etag);
  CHECK(c.request("GET", "/reviews?product_id=2", "If-None-Match: \"other\", W/" + etag + "\r\n")
            .status == 304);
  CHECK(c.request("GET", "/reviews?product_id=2", "If-None-Match: \"other\"\r\n").status == 200);

  const auto head = c.request("HEAD", "/reviews?product_id=2");
  CHECK(head.status == 200);
  CHECK(head.header("ETag") == etag);
  CHECK(head.header("Content-Length") == std::to_string(full.body.size()));

  CHECK(c.request("GET", "/reviews/2/list").body == full.body);
  CHECK(c.request("GET", "/reviews/%32/list").body == full.body);
  CHECK(c.request("GET", "/reviews?product%5Fid=%32").body == full.body);
  CHECK(c.request("GET", "/reviews/1/meta").body ==
        c.request("GET", "/reviews/meta?product_id=1").body);
  CHECK(c.request("GET", "/reviews/x/list").status == 422);
  CHECK(c.request("GET", "/products/0/related").status == 422);
  CHECK(c.request("GET", "/reviews?product_id=1&count=1.5").body.find("\"count\":5,") !=
        std::string::npos);
  CHECK(c.request("GET", "/reviews?product_id=2&page=2147483647&count=1000").status == 200);
  CHECK(c.request("POST", "/reviews/meta?product_id=1").status == 405);
}

TEST_CASE("generated data: answers equal an independent SQL formulation",
          "[api][read][integration]") {
  testenv::TempDatabase tdb;
  testenv::TempDir data;
  const auto bin = testenv::reviewsd_bin().string();
  REQUIRE(testenv::run({bin, "gen", "--scale", "0.002", "--out", data.path().string(), "--seed",
                        "7", "--quiet"})
              .status == 0);
  REQUIRE(
      testenv::run({bin, "load", "--db", tdb.conninfo(), "--from", data.path().string(), "--quiet"})
          .status == 0);
  ServerProcess server({"--db", tdb.conninfo()});
  REQUIRE(server.wait_for_status("/readyz", 200));

  // The statements of tests/fixtures/atelier-sample/README.md, which computed expected.jsonl.
  auto conn = db::connect(tdb.conninfo());
  const char* order[] = {"helpfulness DESC, date_ms DESC, id DESC", "helpfulness DESC, id DESC",
                         "date_ms DESC, id DESC"};
  const char* sorts[] = {"relevant", "helpful", "newest"};
  auto reviews_sql = [&](int sort) {
    return fmt::format(
        "SELECT json_build_object('product', $1::text, 'page', $3::int, 'count', $2::int, "
        "'results', "
        "COALESCE((SELECT json_agg(json_build_object('review_id', r.id, 'rating', r.rating, "
        "'summary', r.summary, 'recommend', r.recommend, 'response', r.response, 'body', r.body, "
        "'date', to_char(timestamp 'epoch' + r.date_ms * interval '1 millisecond', "
        "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), 'reviewer_name', r.reviewer_name, "
        "'helpfulness', r.helpfulness, 'photos', COALESCE((SELECT json_agg(json_build_object("
        "'id', p.id, 'url', p.url) ORDER BY p.id) FROM reviews_photos p WHERE p.review_id = r.id), "
        "'[]'::json)) ORDER BY {0}) FROM (SELECT * FROM reviews WHERE product_id = $1::int AND NOT "
        "reported ORDER BY {0} LIMIT $2::int OFFSET $3::int * $2::int) r), '[]'::json))",
        order[sort]);
  };
  const std::string meta_sql =
      "SELECT json_build_object('product_id', $1::text, 'ratings', COALESCE((SELECT "
      "json_object_agg(rating::text, n::text ORDER BY rating) FROM (SELECT rating, count(*) n FROM "
      "reviews WHERE product_id = $1::int GROUP BY rating) s), '{}'::json), 'recommended', "
      "COALESCE((SELECT json_object_agg(recommend::text, n::text ORDER BY recommend) FROM (SELECT "
      "recommend, count(*) n FROM reviews WHERE product_id = $1::int GROUP BY recommend) s), "
      "'{}'::json), 'characteristics', COALESCE((SELECT json_object_agg(c.name, "
      "json_build_object('id', c.id, 'value', (SELECT avg(cr.value)::text FROM "
      "characteristic_reviews cr WHERE cr.characteristic_id = c.id)) ORDER BY c.id) FROM "
      "characteristics c WHERE c.product_id = $1::int), '{}'::json))";
  const std::string related_sql =
      "SELECT COALESCE(json_agg(related_product_id ORDER BY id), '[]'::json) FROM related WHERE "
      "current_product_id = $1::int AND related_product_id <> 0";

  // Products with the most reviews first (several pages), then random ones (many empty).
  std::vector<int> products;
  auto top = db::query(
      conn.get(), "SELECT product_id FROM reviews GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 5");
  for (int i = 0; i < PQntuples(top.get()); ++i)
    products.push_back(std::stoi(PQgetvalue(top.get(), i, 0)));
  std::mt19937 rng(12345);
  std::uniform_int_distribution<int> any(1, 2000);
  for (int i = 0; i < 15; ++i) products.push_back(any(rng));

  HttpClient c(server.port());
  int compared = 0;
  for (int pid : products) {
    const std::string p = std::to_string(pid);
    for (int s = 0; s < 3; ++s) {
      for (auto [page, count] : {std::pair{1, 5}, {2, 3}, {1, 1000}}) {
        const std::string target = fmt::format("/reviews?product_id={}&sort={}&page={}&count={}",
                                               pid, sorts[s], page, count);
        INFO(target);
        const auto r = c.request("GET", target);
        REQUIRE(r.status == 200);
        const std::string want = db::query_value(
            conn.get(), reviews_sql(s), {p, std::to_string(count), std::to_string(page - 1)});
        CHECK(canonical(r.body) == canonical(want));
        CHECK(r.body == canonical(r.body));  // compact as served
        ++compared;
      }
    }
    INFO(pid);
    CHECK(canonical(c.request("GET", "/reviews/meta?product_id=" + p).body) ==
          canonical(db::query_value(conn.get(), meta_sql, {p})));
    CHECK(canonical(c.request("GET", "/products/" + p + "/related").body) ==
          canonical(db::query_value(conn.get(), related_sql, {p})));
  }
  CHECK(compared == 20 * 9);
}
