// tests/bench/loadgen_test.cpp: the parts of bench/loadgen.cpp and bench/report.cpp that need
// no server: the one --ramp parser (shared by `load` and `run`), the step count, the time
// bounds `run` waits for, and the JSON string writer.
#include "bench/loadgen.h"
#include "bench/report.h"

#include <simdjson.h>
#include <catch2/catch.hpp>

#include <chrono>
#include <string>

using namespace std::chrono_literals;

TEST_CASE("parse_ramp: START:STEP:MAX, refused otherwise", "[bench][ramp]") {
  bench::RampConfig r;
  std::string error;
  REQUIRE(bench::parse_ramp("1000:1000:20000", r, error));
  CHECK(r.start == 1000);
  CHECK(r.step == 1000);
  CHECK(r.max == 20000);
  CHECK(r.step_count() == 20);
  for (const char* bad : {"", "1000", "1000:1000", "a:1:2", "1:1:2x", "0:1:2", "2:1:1", "1:0:2",
                          "1:-1:2", "1:1:1e9", "1:1:inf", "1:1:nan"}) {
    INFO(bad);
    bench::RampConfig untouched;
    CHECK_FALSE(bench::parse_ramp(bad, untouched, error));
    CHECK_FALSE(error.empty());
  }
}

TEST_CASE("ramp step count: every rate from START by STEP up to MAX, decimal rates included",
          "[bench][ramp]") {
  bench::RampConfig r;
  std::string error;
  // (0.3 - 0.1) / 0.1 is 1.9999999999999998 in doubles: MAX is still a step.
  REQUIRE(bench::parse_ramp("0.1:0.1:0.3", r, error));
  CHECK(r.step_count() == 3);
  REQUIRE(bench::parse_ramp("250:250:2500", r, error));
  CHECK(r.step_count() == 10);
  REQUIRE(bench::parse_ramp("100:300:1000", r, error));
  CHECK(r.step_count() == 4);  // 100 400 700 1000
  REQUIRE(bench::parse_ramp("100:300:999", r, error));
  CHECK(r.step_count() == 3);  // 100 400 700
  REQUIRE(bench::parse_ramp("5:10:5", r, error));
  CHECK(r.step_count() == 1);
}

TEST_CASE("time bounds: each ramp step has its own start delay, warm-up and drain",
          "[bench][ramp]") {
  bench::LoadConfig c;
  c.warmup = 2s;
  c.duration = 10s;
  CHECK(bench::max_run_time(c) == bench::limits::kStartDelay + 2s + 10s + bench::limits::kMaxDrain);
  bench::RampConfig r;
  std::string error;
  REQUIRE(bench::parse_ramp("1000:1000:20000", r, error));
  r.step_duration = 2s;
  // 20 steps of 20 ms + 2 s + 2 s + 2 s: far more than warm-up + 20 x 2 s.
  CHECK(bench::max_ramp_time(c, r) ==
        20 * (bench::limits::kStartDelay + 2s + 2s + bench::limits::kMaxDrain));
}

TEST_CASE("json_string: a JSON string literal of any bytes", "[bench]") {
  CHECK(bench::json_string("plain") == "\"plain\"");
  CHECK(bench::json_string("a\"b\\c") == R"("a\"b\\c")");
  CHECK(bench::json_string(std::string("\n\t\x01", 3)) == R"("\u000a\u0009\u0001")");
  const std::string hostile = "x\"y\\z\r\n\x1f end";
  simdjson::dom::parser parser;
  std::string_view back;
  REQUIRE(parser.parse(simdjson::padded_string(bench::json_string(hostile))).get(back) ==
          simdjson::SUCCESS);
  CHECK(back == hostile);
}
