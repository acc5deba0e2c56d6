// GET /metrics through a real server: Prometheus's own parser (promtool) accepts it, and the
// counters agree with what the test sent.
#include "support/http_test.h"
#include "support/test_env.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <thread>

namespace {

using testenv::HttpClient;

// "name{labels} value" lines -> value, keyed by everything before the last space.
std::map<std::string, double> samples(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    const auto sp = line.rfind(' ');
    out[line.substr(0, sp)] = std::stod(line.substr(sp + 1));
  }
  return out;
}

}  // namespace

TEST_CASE("/metrics passes promtool and counts what was sent", "[metrics][integration]") {
  testenv::SampleServer sample;
  const auto port = sample.server().port();
  {
    HttpClient c(port);
    for (int i = 0; i < 3; ++i) REQUIRE(c.request("GET", "/reviews?product_id=1").status == 200);
    for (int i = 0; i < 2; ++i) REQUIRE(c.request("GET", "/no/such/route").status == 404);
    REQUIRE(c.request("GET", "/reviews?product_id=abc").status == 422);
    REQUIRE(c.request("DELETE", "/reviews").status == 405);
  }
  HttpClient c(port);
  // The first client's close reaches the server asynchronously, possibly on the other reactor
  // than the one serving this connection: scrape until its connection is no longer counted
  // (bounded; the gauge is checked below either way).
  auto r = c.request("GET", "/metrics");
  for (int i = 0; i < 100 && r.status == 200; ++i) {
    const auto now = samples(r.body);
    if (const auto open = now.find("reviewsd_http_connections_open");
        open != now.end() && open->second == 1)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    r = c.request("GET", "/metrics");
  }
  REQUIRE(r.status == 200);
  CHECK(r.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8");

  testenv::TempDir dir;
  const auto path = dir.path() / "metrics.txt";
  std::ofstream(path) << r.body;
  const auto check = testenv::run({"/bin/sh", "-c", "promtool check metrics < " + path.string()});
  INFO(check.out);
  CHECK(check.status == 0);

  const auto m = samples(r.body);
  const auto at = [&](const std::string& key) {
    const auto it = m.find(key);
    INFO(key);
    REQUIRE(it != m.end());
    return it->second;
  };
  CHECK(at(R"(reviewsd_http_requests_total{route="/reviews",status="200"})") == 3);
  CHECK(at(R"(reviewsd_http_requests_total{route="/reviews",status="422"})") == 1);
  CHECK(at(R"(reviewsd_http_requests_total{route="/reviews",status="405"})") == 1);
  CHECK(at(R"(reviewsd_http_requests_total{route="other",status="404"})") == 2);
  // Every request answered before this scrape is in the histogram (the scrape itself is not:
  // it is counted once its response is ready).
  double answered = 0;
  for (const auto& [key, v] : m)
    if (key.rfind("reviewsd_http_requests_total{", 0) == 0) answered += v;
  CHECK(at(R"(reviewsd_http_request_duration_seconds_bucket{le="+Inf"})") == answered);
  CHECK(at("reviewsd_http_request_duration_seconds_count") == answered);
  // The first GET filled the cache, the other two were hits.
  CHECK(at("reviewsd_cache_misses_total") == 1);
  CHECK(at("reviewsd_cache_hits_total") == 2);
  CHECK(at("reviewsd_cache_entries") == 1);
  CHECK(at("reviewsd_cache_bytes") > 0);
  CHECK(at("reviewsd_http_connections_open") == 1);  // this client; the first one closed
  CHECK(at("reviewsd_http_received_bytes_total") > 0);
  CHECK(at("reviewsd_http_sent_bytes_total") > 0);
  CHECK(at("reviewsd_db_connections") >= 1);
}

TEST_CASE("--access-log writes one line per answered request", "[metrics][integration]") {
  testenv::TempDir dir;
  const auto log = dir.path() / "access.log";
  testenv::ServerProcess server({"--access-log", log.string()});
  {
    HttpClient c(server.port());
    REQUIRE(c.request("GET", "/healthz").status == 200);
    REQUIRE(c.request("GET", "/nowhere?q=%22x%22").status == 404);
  }
  std::string text;
  for (int i = 0; i < 100 && std::count(text.begin(), text.end(), '\n') < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::ifstream in(log);
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  INFO(text);
  CHECK(std::count(text.begin(), text.end(), '\n') == 2);
  CHECK(text.find(R"(method=GET target="/healthz" status=200 bytes=)") != std::string::npos);
  CHECK(text.find(R"(target="/nowhere?q=%22x%22" status=404)") != std::string::npos);
  CHECK(text.find("peer=127.0.0.1:") != std::string::npos);
}
