// The response cache through a real `reviewsd serve` and PostgreSQL: a writer reads its own
// write at once, other instances and psql writes converge within a second (LISTEN/NOTIFY),
// concurrent misses share one query, keys are canonical, ETag/304 and gzip work from the cache.
#include "db/pg.h"
#include "protocol/gzip.h"
#include "support/http_test.h"
#include "support/test_env.h"

#include <fmt/format.h>
#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <thread>

namespace {

using testenv::HttpClient;
using testenv::metric;
using testenv::SampleServer;
using testenv::ServerProcess;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const std::string kJsonType = "Content-Type: application/json\r\n";

std::string review_json(int product, const std::string& summary) {
  return fmt::format(
      R"({{"product_id":{},"rating":3,"summary":"{}","body":"Long enough body for a review.",)"
      R"("recommend":false,"name":"cachetester","email":"c@example.com"}})",
      product, summary);
}

// Polls `target` on `port` until its body contains `needle`; the time it took, or nullopt after
// `within`.
std::optional<std::chrono::milliseconds> until_contains(std::uint16_t port,
                                                        const std::string& target,
                                                        const std::string& needle,
                                                        std::chrono::milliseconds within) {
  const auto t0 = Clock::now();
  HttpClient c(port);
  while (Clock::now() - t0 < within) {
    if (c.request("GET", target).body.find(needle) != std::string::npos)
      return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
    std::this_thread::sleep_for(10ms);
  }
  return std::nullopt;
}

}  // namespace

TEST_CASE("a write is visible to its writer at once, on every route", "[cache][integration]") {
  SampleServer sample;
  const auto port = sample.server().port();
  HttpClient c(port);
  const std::string list = "/reviews?product_id=2&count=50&sort=newest";
  const auto before = c.request("GET", list);
  REQUIRE(before.status == 200);
  const auto meta_before = c.request("GET", "/reviews/meta?product_id=2").body;
  // Both are cached now: the same requests again are hits with the same ETag.
  const auto hits0 = metric(port, "reviewsd_cache_hits_total");
  const auto again = c.request("GET", list);
  CHECK(again.body == before.body);
  CHECK(again.header("ETag") == before.header("ETag"));
  CHECK(metric(port, "reviewsd_cache_hits_total") == hits0 + 1);

  REQUIRE(
      c.request("POST", "/reviews", kJsonType, review_json(2, "fresh-from-the-writer")).status ==
      201);
  const auto after = c.request("GET", list);
  CHECK(after.body.find("fresh-from-the-writer") != std::string::npos);
  CHECK(after.header("ETag") != before.header("ETag"));
  CHECK(c.request("GET", "/reviews/meta?product_id=2").body != meta_before);

  // PUT report: the review leaves the list at once (the write's 204 follows the invalidation).
  const auto id = std::stoi(testenv::sql_value(
      sample.db(), "SELECT id FROM reviews WHERE summary = 'fresh-from-the-writer'"));
  REQUIRE(c.request("PUT", fmt::format("/reviews/{}/report", id)).status == 204);
  CHECK(c.request("GET", list).body.find("fresh-from-the-writer") == std::string::npos);
  // Product 1's entries were never touched by product 2's writes.
  CHECK(c.request("GET", "/reviews?product_id=1").status == 200);
}

TEST_CASE("equivalent queries share one entry; HEAD and 304 come from it", "[cache][integration]") {
  SampleServer sample;
  const auto port = sample.server().port();
  HttpClient c(port);
  const auto first = c.request("GET", "/reviews?product_id=007&count=5");
  REQUIRE(first.status == 200);
  const auto misses = metric(port, "reviewsd_cache_misses_total");
  const auto hits = metric(port, "reviewsd_cache_hits_total");
  // Same answer whatever the spelling: parameter order, leading zeros, defaults spelled out,
  // unknown parameters, the alias route.
  for (const std::string target :
       {"/reviews?count=5&product_id=7", "/reviews?product_id=7&page=1&sort=relevant&x=1",
        "/reviews/7/list?count=5", "/reviews?product_id=%37&sort=bogus"}) {
    INFO(target);
    const auto r = c.request("GET", target);
    CHECK(r.status == 200);
    CHECK(r.body == first.body);
  }
  const auto head = c.request("HEAD", "/reviews?product_id=7");
  CHECK(head.status == 200);
  CHECK(head.header("Content-Length") == first.header("Content-Length"));
  const auto not_modified =
      c.request("GET", "/reviews?product_id=7", "If-None-Match: " + first.header("ETag") + "\r\n");
  CHECK(not_modified.status == 304);
  CHECK(not_modified.body.empty());
  CHECK(metric(port, "reviewsd_cache_misses_total") == misses);
  CHECK(metric(port, "reviewsd_cache_hits_total") == hits + 6);
  CHECK(first.header("Vary") == "Accept-Encoding");
}

TEST_CASE("large pages are served gzip-compressed to clients that accept it",
          "[cache][integration]") {
  SampleServer sample;
  const auto port = sample.server().port();
  HttpClient c(port);
  for (int i = 0; i < 30; ++i)
    REQUIRE(c.request("POST", "/reviews", kJsonType, review_json(4, fmt::format("bulk {}", i)))
                .status == 201);
  const std::string page = "/reviews?product_id=4&count=1000";
  const auto plain = c.request("GET", page);
  REQUIRE(plain.status == 200);
  REQUIRE(plain.body.size() > 4000);
  CHECK(plain.header("Content-Encoding").empty());
  // The entry was made without gzip; the first client asking for gzip adds the variant.
  for (int round = 0; round < 2; ++round) {
    const auto gz = c.request("GET", page, "Accept-Encoding: gzip, deflate, br\r\n");
    REQUIRE(gz.status == 200);
    CHECK(gz.header("Content-Encoding") == "gzip");
    CHECK(gz.header("Vary") == "Accept-Encoding");
    CHECK(gz.header("ETag") != plain.header("ETag"));
    CHECK(protocol::gzip_decompress(gz.body) == plain.body);
    CHECK(gz.body.size() * 4 < plain.body.size());
    const auto nm = c.request(
        "GET", page, "Accept-Encoding: gzip\r\nIf-None-Match: " + gz.header("ETag") + "\r\n");
    CHECK(nm.status == 304);
  }
  // q=0 refuses gzip; small bodies are never compressed.
  CHECK(c.request("GET", page, "Accept-Encoding: gzip;q=0\r\n").body == plain.body);
  CHECK(c.request("GET", "/reviews/meta?product_id=1", "Accept-Encoding: gzip\r\n")
            .header("Content-Encoding")
            .empty());
}

TEST_CASE("writes through one instance or psql reach the other instances within a second",
          "[cache][integration]") {
  SampleServer sample;
  ServerProcess other({"--db", sample.db()});
  REQUIRE(other.wait_for_status("/readyz", 200));
  const auto a = sample.server().port(), b = other.port();
  const std::string list = "/reviews?product_id=1000010&count=100";
  // Both instances cache the page, and both LISTEN (the flush at connect is behind us).
  for (const auto port : {a, b}) {
    HttpClient c(port);
    REQUIRE(c.request("GET", list).status == 200);
    REQUIRE(c.request("GET", list).status == 200);
  }
  // The gauge is refreshed once a second.
  const auto t0 = Clock::now();
  while (metric(b, "reviewsd_db_listen_up") != 1 && Clock::now() - t0 < 3s)
    std::this_thread::sleep_for(50ms);
  REQUIRE(metric(b, "reviewsd_db_listen_up") == 1);
  {
    HttpClient c(a);
    REQUIRE(c.request("POST", "/reviews", kJsonType, review_json(1000010, "written-through-a"))
                .status == 201);
  }
  const auto seen = until_contains(b, list, "written-through-a", 1s);
  REQUIRE(seen);
  INFO("B saw A's write after " << seen->count() << " ms");

  // A write that bypasses reviewsd altogether.
  testenv::sql_value(sample.db(),
                     "UPDATE reviews SET summary = 'edited-by-psql' WHERE summary = "
                     "'written-through-a' RETURNING id");
  for (const auto port : {a, b}) {
    const auto t = until_contains(port, list, "edited-by-psql", 1s);
    CHECK(t);
  }
  CHECK(metric(b, "reviewsd_cache_invalidations_total") >= 2);
}

TEST_CASE("concurrent misses for one cold key cause one database query", "[cache][integration]") {
  SampleServer sample({"--db-deadline-ms", "20000"});
  const auto port = sample.server().port();
  const auto misses0 = metric(port, "reviewsd_cache_misses_total");
  const auto coalesced0 = metric(port, "reviewsd_cache_coalesced_total");
  // Hold the first query in PostgreSQL until all 100 requests have arrived.
  db::PgConnPtr lock = db::connect(sample.db());
  db::exec(lock.get(), "BEGIN");
  db::exec(lock.get(), "LOCK TABLE reviews IN ACCESS EXCLUSIVE MODE");
  constexpr int kClients = 100;
  std::vector<std::unique_ptr<HttpClient>> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(std::make_unique<HttpClient>(port));
    clients.back()->send("GET /reviews/meta?product_id=1000011 HTTP/1.1\r\nHost: t\r\n\r\n");
  }
  const auto t0 = Clock::now();
  while (metric(port, "reviewsd_cache_coalesced_total") - coalesced0 < kClients - 1 &&
         Clock::now() - t0 < 10s)
    std::this_thread::sleep_for(20ms);
  CHECK(metric(port, "reviewsd_cache_coalesced_total") - coalesced0 == kClients - 1);
  db::exec(lock.get(), "COMMIT");
  std::string body;
  for (auto& c : clients) {
    const auto r = c->read_response();
    CHECK(r.status == 200);
    if (body.empty()) body = r.body;
    CHECK(r.body == body);
  }
  CHECK(body.find("\"product_id\":\"1000011\"") != std::string::npos);
  CHECK(metric(port, "reviewsd_cache_misses_total") - misses0 == 1);
}

TEST_CASE("with --cache-mb 0 nothing is stored and answers are the same", "[cache][integration]") {
  SampleServer sample({"--cache-mb", "0"});
  const auto port = sample.server().port();
  HttpClient c(port);
  const auto one = c.request("GET", "/reviews?product_id=1");
  const auto two = c.request("GET", "/reviews?product_id=1");
  REQUIRE(one.status == 200);
  CHECK(one.body == two.body);
  CHECK(one.header("ETag") == two.header("ETag"));
  CHECK(metric(port, "reviewsd_cache_hits_total") == 0);
  CHECK(metric(port, "reviewsd_cache_entries") == 0);
  CHECK(metric(port, "reviewsd_cache_misses_total") == 2);
}
