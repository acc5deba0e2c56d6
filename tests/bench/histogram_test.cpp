// tests/bench/histogram_test.cpp: bench/histogram.cpp. Percentiles of known distributions must
// be within 1% of the exact order statistics, across the whole 1 µs .. 60 s range.
#include "bench/histogram.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

using bench::LatencyHistogram;

namespace {

constexpr double kPercentiles[] = {0, 1, 10, 25, 50, 75, 90, 99, 99.9, 99.99, 100};

// The exact value the histogram approximates: the smallest v with at least p% of values <= v.
std::int64_t exact_percentile(std::vector<std::int64_t> sorted, double p) {
  std::sort(sorted.begin(), sorted.end());
  auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  rank = std::clamp<std::size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

void check_within_1pct(const LatencyHistogram& h, const std::vector<std::int64_t>& values) {
  for (double p : kPercentiles) {
    const auto want = static_cast<double>(exact_percentile(values, p));
    const auto got = static_cast<double>(h.percentile_ns(p));
    INFO("p" << p << " want " << want << " got " << got);
    CHECK(std::abs(got - want) <= 0.01 * want);
  }
}

}  // namespace

TEST_CASE("bucket layout: contiguous, each bucket under 1% of its values wide",
          "[bench][histogram]") {
  CHECK(LatencyHistogram::bucket_of(0) == 0);
  CHECK(LatencyHistogram::bucket_of(255) == 255);
  CHECK(LatencyHistogram::bucket_of(256) == 256);
  CHECK(LatencyHistogram::bucket_of(LatencyHistogram::kMaxTrackableNs) <
        LatencyHistogram::kBucketCount);
  for (std::size_t i = 0; i + 1 < LatencyHistogram::kBucketCount; ++i) {
    INFO("bucket " << i);
    REQUIRE(LatencyHistogram::bucket_low(i) + LatencyHistogram::bucket_width(i) ==
            LatencyHistogram::bucket_low(i + 1));
    REQUIRE(LatencyHistogram::bucket_of(LatencyHistogram::bucket_low(i)) == i);
    REQUIRE(LatencyHistogram::bucket_of(LatencyHistogram::bucket_low(i + 1) - 1) == i);
    if (LatencyHistogram::bucket_low(i) >= 1000)  // from 1 µs up
      REQUIRE(LatencyHistogram::bucket_width(i) <= LatencyHistogram::bucket_low(i) / 100);
  }
}

TEST_CASE("empty histogram reports zeros", "[bench][histogram]") {
  const LatencyHistogram h;
  CHECK(h.count() == 0);
  CHECK(h.percentile_ns(50) == 0);
  CHECK(h.max_ns() == 0);
  CHECK(h.mean_ns() == 0);
}

TEST_CASE("a single value is reported exactly", "[bench][histogram]") {
  LatencyHistogram h;
  h.record(123'456'789);
  for (double p : kPercentiles) CHECK(h.percentile_ns(p) == 123'456'789);
  CHECK(h.mean_ns() == Approx(123'456'789.0));
}

TEST_CASE("uniform 1 µs .. 10 ms: percentiles within 1%", "[bench][histogram]") {
  std::mt19937_64 gen(42);
  std::uniform_int_distribution<std::int64_t> dist(1'000, 10'000'000);
  LatencyHistogram h;
  std::vector<std::int64_t> values(200'000);
  for (auto& v : values) h.record(v = dist(gen));
  CHECK(h.count() == values.size());
  check_within_1pct(h, values);
  CHECK(h.percentile_ns(50) == Approx(5'000'500).epsilon(0.01));
  CHECK(h.percentile_ns(99) == Approx(9'900'010).epsilon(0.01));
}

TEST_CASE("log-normal latencies (long tail up to seconds): percentiles within 1%",
          "[bench][histogram]") {
  std::mt19937_64 gen(7);
  std::lognormal_distribution<double> dist(std::log(200'000.0), 1.5);  // median 200 µs
  LatencyHistogram h;
  std::vector<std::int64_t> values(200'000);
  for (auto& v : values) h.record(v = static_cast<std::int64_t>(dist(gen)));
  check_within_1pct(h, values);
  CHECK(h.min_ns() == *std::min_element(values.begin(), values.end()));
  CHECK(h.max_ns() == *std::max_element(values.begin(), values.end()));
}

TEST_CASE("bimodal (a stall): p99 lands in the slow mode", "[bench][histogram]") {
  LatencyHistogram h;
  std::vector<std::int64_t> values;
  for (int i = 0; i < 9'800; ++i) values.push_back(100'000 + i);           // ~100 µs
  for (int i = 0; i < 200; ++i) values.push_back(200'000'000 + i * 1000);  // ~200 ms
  for (auto v : values) h.record(v);
  check_within_1pct(h, values);
  CHECK(h.percentile_ns(99) > 190'000'000);
  CHECK(h.percentile_ns(97) < 110'000);
}

TEST_CASE("merge equals recording everything in one histogram", "[bench][histogram]") {
  std::mt19937_64 gen(3);
  std::exponential_distribution<double> dist(1.0 / 500'000);
  LatencyHistogram a, b, all;
  std::vector<std::int64_t> values;
  for (int i = 0; i < 100'000; ++i) {
    const auto v = static_cast<std::int64_t>(dist(gen)) + 1'000;
    values.push_back(v);
    (i % 3 ? a : b).record(v);
    all.record(v);
  }
  LatencyHistogram merged;
  merged.merge(a);
  merged.merge(b);
  CHECK(merged.count() == all.count());
  CHECK(merged.min_ns() == all.min_ns());
  CHECK(merged.max_ns() == all.max_ns());
  CHECK(merged.mean_ns() == Approx(all.mean_ns()));
  for (double p : kPercentiles) CHECK(merged.percentile_ns(p) == all.percentile_ns(p));
  check_within_1pct(merged, values);
}

TEST_CASE("values past 60 s are clamped but min/max stay exact", "[bench][histogram]") {
  LatencyHistogram h;
  h.record(-5);
  h.record(90'000'000'000);
  CHECK(h.count() == 2);
  CHECK(h.clamped() == 1);
  CHECK(h.min_ns() == 0);
  CHECK(h.max_ns() == 90'000'000'000);
  CHECK(h.percentile_ns(100) <= h.max_ns());
  CHECK(h.percentile_ns(100) >= LatencyHistogram::kMaxTrackableNs * 99 / 100);
}
