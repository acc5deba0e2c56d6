// tests/bench/scenario_test.cpp: bench/scenario.cpp. Each scenario's request mix and id set, as
// the wrk scripts it mirrors define them, drawn from a seeded RequestMix: proportions within a
// tolerance many standard deviations wide (the draws are deterministic for the seed anyway),
// id sets exact, POST bodies valid JSON with every field API.md requires.
#include "bench/scenario.h"

#include <simdjson.h>
#include <catch2/catch.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

using bench::RequestInfo;
using bench::RequestKind;
using bench::RequestMix;
using bench::Route;
using bench::Scenario;

namespace {

constexpr int kDraws = 200'000;

// One request of a mix, taken apart.
struct Drawn {
  std::string method;
  std::string target;  // path and query
  std::string body;
  RequestInfo info;
};

Drawn draw(RequestMix& mix) {
  std::string out;
  Drawn d;
  d.info = mix.next(out);
  const auto sp1 = out.find(' ');
  const auto sp2 = out.find(' ', sp1 + 1);
  d.method = out.substr(0, sp1);
  d.target = out.substr(sp1 + 1, sp2 - sp1 - 1);
  REQUIRE(out.substr(sp2, 11) == " HTTP/1.1\r\n");
  REQUIRE(out.find("\r\nHost: 127.0.0.1:1\r\n") != std::string::npos);
  const auto head_end = out.find("\r\n\r\n");
  REQUIRE(head_end != std::string::npos);
  d.body = out.substr(head_end + 4);
  return d;
}

// The product_id=N parameter of a target.
std::int64_t product_of(const std::string& target) {
  const auto p = target.find("product_id=");
  REQUIRE(p != std::string::npos);
  return std::stoll(target.substr(p + 11));
}

Scenario named(std::string_view name, std::int64_t products, std::int64_t reviews = 0,
               std::optional<Route> route = std::nullopt) {
  std::string error;
  auto s = Scenario::named(name, products, reviews, route, error);
  INFO(error);
  REQUIRE(s);
  return *s;
}

void check_share(std::uint64_t n, double want) {
  INFO("share " << static_cast<double>(n) / kDraws << " want " << want);
  CHECK(std::abs(static_cast<double>(n) / kDraws - want) < 0.005);
}

}  // namespace

TEST_CASE("random: /reviews and /reviews/meta half each, ids uniform over the last 10%",
          "[bench][scenario]") {
  const Scenario s = named("random", 1'000'011);
  CHECK(s.id_lo() == 1'000'011 - 100'001);
  CHECK(s.id_hi() == 1'000'011);
  RequestMix mix(s, 7, "127.0.0.1:1");
  std::uint64_t meta = 0;
  std::int64_t lo = INT64_MAX, hi = 0;
  double sum = 0;
  for (int i = 0; i < kDraws; ++i) {
    const Drawn d = draw(mix);
    REQUIRE(d.method == "GET");
    REQUIRE(d.info.kind == RequestKind::Get);
    const bool is_meta = d.target.starts_with("/reviews/meta?product_id=");
    REQUIRE((is_meta || d.target.starts_with("/reviews?product_id=")));
    meta += is_meta;
    const std::int64_t id = product_of(d.target);
    REQUIRE(id == d.info.id);
    REQUIRE(std::string_view(d.info.field) == (is_meta ? "product_id" : "product"));
    lo = std::min(lo, id);
    hi = std::max(hi, id);
    sum += static_cast<double>(id);
  }
  check_share(meta, 0.5);
  CHECK(lo >= s.id_lo());
  CHECK(hi <= s.id_hi());
  CHECK(lo < s.id_lo() + 100);  // the ends are reached
  CHECK(hi > s.id_hi() - 100);
  CHECK(sum / kDraws == Approx((s.id_lo() + s.id_hi()) / 2.0).epsilon(0.001));

  const Scenario only_meta = named("random", 100, 0, Route::Meta);
  RequestMix mix2(only_meta, 1, "127.0.0.1:1");
  for (int i = 0; i < 1000; ++i) {
    const Drawn d = draw(mix2);
    REQUIRE(d.target.starts_with("/reviews/meta?product_id="));
    REQUIRE(product_of(d.target) >= 90);
  }
}

TEST_CASE("hot: product_mix.lua's hot mode on the 10,000 largest ids", "[bench][scenario]") {
  const std::int64_t n = 1'000'011;
  const Scenario s = named("hot", n);
  CHECK(s.id_lo() == n - 9'999);
  CHECK(s.id_hi() == n);
  RequestMix mix(s, 3, "127.0.0.1:1");
  std::uint64_t hot = 0;
  std::set<std::int64_t> hot_seen, cold_seen;
  for (int i = 0; i < kDraws; ++i) {
    const Drawn d = draw(mix);
    REQUIRE(d.target.starts_with("/reviews?product_id="));  // cache_vs_nginx.sh's TEMPLATE
    const std::int64_t id = product_of(d.target);
    REQUIRE(id >= s.id_lo());
    REQUIRE(id <= s.id_hi());
    if ((id - s.id_lo()) % 5 == 0) {
      ++hot;
      hot_seen.insert(id);
    } else {
      cold_seen.insert(id);
    }
  }
  check_share(hot, 0.8);
  CHECK(hot_seen.size() == 2'000);  // every hot id, about 80 draws each
  CHECK(cold_seen.size() > 7'900);  // nearly all 8,000 cold ids at about 5 draws each
  CHECK(*cold_seen.rbegin() <= n);

  // A small data set: the ids 1..N, the same rule.
  const Scenario small = named("hot", 12);
  CHECK(small.id_lo() == 1);
  RequestMix mix2(small, 3, "127.0.0.1:1");
  std::set<std::int64_t> seen;
  for (int i = 0; i < 10'000; ++i) seen.insert(product_of(draw(mix2).target));
  CHECK(seen == std::set<std::int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
}

TEST_CASE("repeat: the 10 largest ids, uniformly", "[bench][scenario]") {
  const Scenario s = named("repeat", 5'000);
  RequestMix mix(s, 11, "127.0.0.1:1");
  std::map<std::int64_t, std::uint64_t> counts;
  for (int i = 0; i < kDraws; ++i) ++counts[product_of(draw(mix).target)];
  REQUIRE(counts.size() == 10);
  CHECK(counts.begin()->first == 4'991);
  CHECK(counts.rbegin()->first == 5'000);
  for (const auto& [id, c] : counts) check_share(c, 0.1);
}

TEST_CASE("list: count 5/100/1000 x every sort, uniformly", "[bench][scenario]") {
  const Scenario s = named("list", 1'000);
  RequestMix mix(s, 5, "127.0.0.1:1");
  std::map<std::string, std::uint64_t> combos;
  for (int i = 0; i < kDraws; ++i) {
    const Drawn d = draw(mix);
    REQUIRE(d.target.starts_with("/reviews?product_id="));
    REQUIRE(product_of(d.target) >= 900);
    REQUIRE(std::string_view(d.info.field) == "product");
    ++combos[d.target.substr(d.target.find('&'))];
  }
  REQUIRE(combos.size() == 9);
  for (const char* count : {"5", "100", "1000"})
    for (const char* sort : {"newest", "helpful", "relevant"}) {
      const std::string key = std::string("&count=") + count + "&sort=" + sort;
      INFO(key);
      REQUIRE(combos.count(key) == 1);
      check_share(combos[key], 1.0 / 9);
    }
}

TEST_CASE("mixed: mixed.lua's proportions; writes valid per API.md", "[bench][scenario]") {
  Scenario s = named("mixed", 1'000, 5'000);
  s.set_post_products({{950, {3001, 3002, 3005}}, {990, {}}});
  RequestMix mix(s, 9, "127.0.0.1:1");
  std::map<std::string, std::uint64_t> kinds;
  std::set<std::int64_t> post_products;
  std::int64_t max_review = 0;
  simdjson::dom::parser parser;
  for (int i = 0; i < kDraws; ++i) {
    const Drawn d = draw(mix);
    switch (d.info.kind) {
      case RequestKind::Get:
        REQUIRE(d.method == "GET");
        REQUIRE(product_of(d.target) >= 900);
        ++kinds[d.target.starts_with("/reviews/meta?") ? "meta" : "reviews"];
        break;
      case RequestKind::Helpful:
      case RequestKind::Report: {
        const bool helpful = d.info.kind == RequestKind::Helpful;
        REQUIRE(d.method == "PUT");
        REQUIRE(d.target.starts_with("/reviews/"));
        REQUIRE(d.target.ends_with(helpful ? "/helpful" : "/report"));
        const std::int64_t review = std::stoll(d.target.substr(9));
        REQUIRE(review >= 1);
        REQUIRE(review <= 5'000);
        max_review = std::max(max_review, review);
        REQUIRE(d.body.empty());
        ++kinds[helpful ? "helpful" : "report"];
        break;
      }
      case RequestKind::Post: {
        REQUIRE(d.method == "POST");
        REQUIRE(d.target == "/reviews");
        ++kinds["post"];
        // The body: valid JSON of the API's shape; characteristics of its product only.
        simdjson::dom::element doc;
        REQUIRE(parser.parse(d.body).get(doc) == simdjson::SUCCESS);
        const std::int64_t product = doc["product_id"].get_int64().value();
        post_products.insert(product);
        const std::int64_t rating = doc["rating"].get_int64().value();
        REQUIRE(rating >= 1);
        REQUIRE(rating <= 5);
        for (const char* field : {"summary", "body", "name", "email"})
          REQUIRE(doc[field].is_string());
        REQUIRE(doc["recommend"].is_bool());
        simdjson::dom::array photos;
        REQUIRE(doc["photos"].get(photos) == simdjson::SUCCESS);
        for (auto photo : photos) REQUIRE(photo.is_string());
        std::set<std::string> keys;
        simdjson::dom::object chars;
        REQUIRE(doc["characteristics"].get(chars) == simdjson::SUCCESS);
        for (auto [key, value] : chars) {
          keys.insert(std::string(key));
          const std::int64_t v = value.get_int64().value();
          REQUIRE(v >= 1);
          REQUIRE(v <= 5);
        }
        if (product == 950)
          REQUIRE(keys == std::set<std::string>{"3001", "3002", "3005"});
        else
          REQUIRE(keys.empty());
        // The head announces it.
        break;
      }
    }
  }
  check_share(kinds["reviews"], 0.45);
  check_share(kinds["meta"], 0.45);
  check_share(kinds["helpful"], 0.05);
  check_share(kinds["report"], 0.01);
  check_share(kinds["post"], 0.04);
  CHECK(post_products == std::set<std::int64_t>{950, 990});
  CHECK(max_review > 4'990);
}

TEST_CASE("POST head: Content-Type and Content-Length of the body", "[bench][scenario]") {
  Scenario s = named("mixed", 100, 100);
  s.set_post_products({{95, {1, 2}}});
  RequestMix mix(s, 1, "127.0.0.1:1");
  for (int i = 0; i < 2'000; ++i) {
    std::string out;
    if (mix.next(out).kind != RequestKind::Post) continue;
    const auto head_end = out.find("\r\n\r\n");
    const std::string head = out.substr(0, head_end);
    CHECK(head.find("\r\nContent-Type: application/json\r\n") != std::string::npos);
    const auto cl = head.find("Content-Length: ");
    REQUIRE(cl != std::string::npos);
    CHECK(std::stoul(head.substr(cl + 16)) == out.size() - head_end - 4);
  }
}

TEST_CASE("custom: the template and id range; a seed reproduces the sequence",
          "[bench][scenario]") {
  const Scenario s = Scenario::custom("/reviews/%d/list?count=2", 5, 7);
  RequestMix a(s, 42, "127.0.0.1:1"), b(s, 42, "127.0.0.1:1"), c(s, 43, "127.0.0.1:1");
  std::set<std::string> targets;
  bool differs = false;
  for (int i = 0; i < 1'000; ++i) {
    const Drawn da = draw(a), db = draw(b), dc = draw(c);
    CHECK(da.target == db.target);
    differs |= da.target != dc.target;
    targets.insert(da.target);
    CHECK(da.info.field == nullptr);
  }
  CHECK(differs);
  CHECK(targets == std::set<std::string>{"/reviews/5/list?count=2", "/reviews/6/list?count=2",
                                         "/reviews/7/list?count=2"});
  const Scenario fixed = Scenario::custom("/bench/fixed", 1, 1);
  RequestMix f(fixed, 1, "127.0.0.1:1");
  std::string out;
  f.next(out);
  CHECK(out == "GET /bench/fixed HTTP/1.1\r\nHost: 127.0.0.1:1\r\n\r\n");
}

TEST_CASE("named() refuses what it cannot run", "[bench][scenario]") {
  std::string error;
  CHECK_FALSE(Scenario::named("nope", 10, 0, std::nullopt, error));
  CHECK_FALSE(Scenario::named("random", 0, 0, std::nullopt, error));
  CHECK_FALSE(Scenario::named("mixed", 10, 0, std::nullopt, error));  // needs --reviews
  CHECK_FALSE(Scenario::named("list", 10, 0, Route::Meta, error));
  CHECK(Scenario::named("repeat", 10, 0, Route::Both, error));
}

TEST_CASE("check_json_body: JSON, and the product named as a string", "[bench][scenario]") {
  RequestInfo reviews;
  reviews.field = "product";
  reviews.id = 12;
  CHECK(bench::check_json_body(R"({"product":"12","page":0,"count":5,"results":[]})", reviews));
  CHECK_FALSE(bench::check_json_body(R"({"product":"13","page":0})", reviews));
  CHECK_FALSE(bench::check_json_body(R"({"product":12})", reviews));  // a number: wrong type
  CHECK_FALSE(bench::check_json_body(R"({"product":"12",)", reviews));
  CHECK_FALSE(bench::check_json_body("Error: invalid product_id provided", reviews));
  RequestInfo any;
  CHECK(bench::check_json_body("[1,2,3]", any));
  CHECK_FALSE(bench::check_json_body("[1,2", any));
}

TEST_CASE("parse_meta_characteristics: the ids, in order", "[bench][scenario]") {
  const auto ids = bench::parse_meta_characteristics(
      R"({"product_id":"1","ratings":{"4":"1"},"recommended":{"true":"1"},)"
      R"("characteristics":{"Fit":{"id":14,"value":"4.0000000000000000"},)"
      R"("Length":{"id":15,"value":null}}})");
  REQUIRE(ids);
  CHECK(*ids == std::vector<std::int64_t>{14, 15});
  const auto none = bench::parse_meta_characteristics(
      R"({"product_id":"9","ratings":{},"recommended":{},"characteristics":{}})");
  REQUIRE(none);
  CHECK(none->empty());
  CHECK_FALSE(bench::parse_meta_characteristics("Error: invalid product_id provided"));
}
