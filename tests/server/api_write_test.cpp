// The write routes through a real `reviewsd serve` and PostgreSQL: validation leaves the
// database untouched, round trips show exactly the arithmetic, and concurrent writers lose and
// duplicate nothing.
#include "support/http_test.h"
#include "support/test_env.h"

#include <fmt/format.h>
#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

namespace {

using testenv::HttpClient;
using testenv::ServerProcess;
using testenv::sql_value;

std::string state(const std::string& db) {
  return sql_value(
      db,
      "SELECT format('%s/%s/%s/%s/%s', (SELECT count(*) FROM reviews), "
      "(SELECT count(*) FROM reviews_photos), (SELECT count(*) FROM characteristic_reviews), "
      "(SELECT sum(helpfulness) FROM reviews), (SELECT count(*) FROM reviews WHERE reported))");
}

const std::string kJson = "Content-Type: application/json\r\n";

std::string review_json(int product, const std::string& summary, const std::string& extra = "") {
  return fmt::format(
      R"({{"product_id":{},"rating":5,"summary":"{}","body":"The fit is perfect.","recommend":true,)"
      R"("name":"jackson11","email":"jackson11@email.com"{}}})",
      product, summary, extra);
}

}  // namespace

TEST_CASE("invalid writes get their status and change nothing", "[api][write][integration]") {
  testenv::SampleServer sample;
  auto& server = sample.server();
  const auto db = sample.db();
  HttpClient c(server.port());
  const std::string before = state(db);
  const std::string meta_before = c.request("GET", "/reviews/meta?product_id=1").body;

  struct Case {
    std::string headers, body;
    int status;
    std::string message;
  };
  const std::vector<Case> cases = {
      {kJson, "not json", 400, "Error: invalid JSON body"},
      {kJson, "[1,2]", 400, "Error: invalid JSON body"},
      {"Content-Type: text/plain\r\n", review_json(1, "x"), 415, ""},
      {"", review_json(1, "x"), 415, ""},
      {kJson, review_json(0, "x"), 422, "Error: invalid product_id provided"},
      {kJson, R"({"product_id":1,"rating":9})", 422, "Error: invalid rating provided"},
      {kJson, review_json(1, std::string(1001, 's')), 422, "Error: invalid summary provided"},
      {kJson, review_json(1, "x", R"(,"photos":["a","b","c","d","e","f","g","h","i","j","k"])"),
       422, "Error: invalid photos provided"},
      // Characteristic 5 belongs to product 2, not 1: nothing may be written, photos included.
      {kJson,
       review_json(1, "x", R"(,"photos":["https://p/1.jpg"],"characteristics":{"1":5,"5":3})"), 422,
       "Error: invalid characteristics provided"},
      {kJson, review_json(1, "x", R"(,"characteristics":{"1":0})"), 422,
       "Error: invalid characteristics provided"},
  };
  for (const auto& k : cases) {
    INFO(k.body.substr(0, 120));
    const auto r = c.request("POST", "/reviews", k.headers, k.body);
    CHECK(r.status == k.status);
    if (!k.message.empty()) CHECK(r.body == k.message);
  }
  {
    HttpClient big(server.port());
    const auto r =
        big.request("POST", "/reviews", kJson, review_json(1, std::string(70 * 1024, 'b')));
    CHECK(r.status == 413);
  }
  CHECK(c.request("PUT", "/reviews/abc/helpful").status == 422);
  CHECK(c.request("PUT", "/reviews/0/report").body == "Error: invalid review_id provided");
  const auto missing = c.request("PUT", "/reviews/999999999/helpful");
  CHECK(missing.status == 404);
  CHECK(missing.body == "Error: review not found");
  CHECK(c.request("PUT", "/reviews/2147483647/report").status == 404);
  CHECK(c.request("GET", "/reviews/1/helpful").status == 405);

  CHECK(state(db) == before);
  CHECK(c.request("GET", "/reviews/meta?product_id=1").body == meta_before);
}

TEST_CASE("a posted review shows first under newest, with photos, and meta moves exactly",
          "[api][write][integration]") {
  testenv::SampleServer sample;
  auto& server = sample.server();
  const auto db = sample.db();
  HttpClient c(server.port());
  REQUIRE(c.request("GET", "/reviews/meta?product_id=1").body ==
          R"({"product_id":"1","ratings":{"4":"1","5":"1"},"recommended":{"false":"1","true":"1"},)"
          R"("characteristics":{"Fit":{"id":1,"value":"4.0000000000000000"},)"
          R"("Length":{"id":2,"value":"3.5000000000000000"},)"
          R"("Comfort":{"id":3,"value":"5.0000000000000000"},)"
          R"("Quality":{"id":4,"value":"4.0000000000000000"}}})");

  const auto posted = c.request(
      "POST", "/reviews", kJson,
      R"({"product_id":1,"rating":"5","summary":"Best \"purchase\" ever!","body":"The fit is perfect.",)"
      R"("recommend":true,"name":"jackson11","email":"jackson11@email.com",)"
      R"("photos":["https://example.com/p2.jpg","https://example.com/p1.jpg"],)"
      R"("characteristics":{"1":5,"2":"4"}})");
  REQUIRE(posted.status == 201);
  CHECK(posted.body == "Created");

  const auto list = c.request("GET", "/reviews?product_id=1&sort=newest");
  REQUIRE(list.status == 200);
  const auto id = sql_value(db, "SELECT max(id) FROM reviews");
  CHECK(id == "5774953");  // ids continue after the largest loaded one
  const auto first = list.body.find("\"results\":[{\"review_id\":" + id + ",");
  CHECK(first != std::string::npos);
  const auto photo1 = sql_value(db, "SELECT min(id) FROM reviews_photos WHERE review_id = " + id);
  CHECK(list.body.find(fmt::format(R"("summary":"Best \"purchase\" ever!")")) != std::string::npos);
  CHECK(
      list.body.find(fmt::format(
          R"("photos":[{{"id":{},"url":"https://example.com/p2.jpg"}},{{"id":{},"url":"https://example.com/p1.jpg"}}])",
          photo1, std::stoi(photo1) + 1)) != std::string::npos);
  CHECK(list.body.find(R"("response":null)") != std::string::npos);
  CHECK(list.body.find(R"("helpfulness":0)") != std::string::npos);
  // Fit: (4 + 4 + 5) / 3; Length: (3 + 4 + 4) / 3; others unrated by the new review.
  CHECK(c.request("GET", "/reviews/meta?product_id=1").body ==
        R"({"product_id":"1","ratings":{"4":"1","5":"2"},"recommended":{"false":"1","true":"2"},)"
        R"("characteristics":{"Fit":{"id":1,"value":"4.3333333333333333"},)"
        R"("Length":{"id":2,"value":"3.6666666666666667"},)"
        R"("Comfort":{"id":3,"value":"5.0000000000000000"},)"
        R"("Quality":{"id":4,"value":"4.0000000000000000"}}})");

  SECTION("helpful three times adds 3; at the int32 ceiling it saturates") {
    for (int i = 0; i < 3; ++i) CHECK(c.request("PUT", "/reviews/1/helpful").status == 204);
    CHECK(sql_value(db, "SELECT helpfulness FROM reviews WHERE id = 1") == "11");
    sql_value(db, "UPDATE reviews SET helpfulness = 2147483647 WHERE id = 2 RETURNING id");
    CHECK(c.request("PUT", "/reviews/2/helpful").status == 204);
    CHECK(sql_value(db, "SELECT helpfulness FROM reviews WHERE id = 2") == "2147483647");
    sql_value(db, "UPDATE reviews SET helpfulness = 2 WHERE id = 2 RETURNING id");
    CHECK(c.request("GET", "/reviews?product_id=1&sort=helpful").body.find(R"("review_id":1,)") !=
          std::string::npos);
  }
  SECTION("report hides the review from the list, not from meta; twice is fine") {
    const auto meta = c.request("GET", "/reviews/meta?product_id=1").body;
    CHECK(c.request("PUT", "/reviews/" + id + "/report").status == 204);
    CHECK(c.request("PUT", "/reviews/" + id + "/report").status == 204);
    CHECK(c.request("GET", "/reviews?product_id=1").body.find("\"review_id\":" + id) ==
          std::string::npos);
    CHECK(c.request("GET", "/reviews/meta?product_id=1").body == meta);
  }
}

TEST_CASE("concurrent writers: every 201/204 is in the database exactly once, no 5xx",
          "[api][write][integration]") {
  testenv::SampleServer sample({"--db-conns-per-thread", "2"});
  auto& server = sample.server();
  const auto db = sample.db();
  const std::string helpful_before = sql_value(db, "SELECT sum(helpfulness) FROM reviews");
  const std::string reviews_before = sql_value(db, "SELECT count(*) FROM reviews");

  constexpr int kClients = 8;
  constexpr int kRequestsEach = 60;
  std::atomic<int> created{0}, helped{0}, server_errors{0}, other{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < kClients; ++t) {
    clients.emplace_back([&, t] {
      try {
        HttpClient c(server.port());
        for (int i = 0; i < kRequestsEach; ++i) {
          testenv::HttpResponse r;
          if (i % 2 == 0) {
            r = c.request("POST", "/reviews", kJson,
                          review_json(1 + (i % 7), fmt::format("concurrent {} {}", t, i),
                                      R"(,"photos":["https://p/x.jpg"])"));
            if (r.status == 201) ++created;
          } else {
            r = c.request("PUT", fmt::format("/reviews/{}/helpful", 1 + (i % 15)));
            if (r.status == 204) ++helped;
          }
          if (r.status >= 500) ++server_errors;
          if (r.status != 201 && r.status != 204) ++other;
        }
      } catch (const std::exception&) {
        ++other;  // a client thread must not throw (Catch asserts only on the main thread)
      }
    });
  }
  for (auto& t : clients) t.join();
  CHECK(server_errors == 0);
  CHECK(other == 0);
  CHECK(created == kClients * kRequestsEach / 2);
  CHECK(std::stoi(sql_value(db, "SELECT count(*) FROM reviews")) - std::stoi(reviews_before) ==
        created);
  CHECK(sql_value(
            db, "SELECT count(DISTINCT summary) FROM reviews WHERE summary LIKE 'concurrent %'") ==
        std::to_string(created.load()));
  CHECK(sql_value(db,
                  "SELECT count(*) FROM reviews_photos p JOIN reviews r ON r.id = p.review_id "
                  "WHERE r.summary LIKE 'concurrent %'") == std::to_string(created.load()));
  CHECK(std::stoi(sql_value(db, "SELECT sum(helpfulness) FROM reviews")) -
            std::stoi(helpful_before) ==
        helped);
}
