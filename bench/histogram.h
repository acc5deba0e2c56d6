// LatencyHistogram: an HDR-style histogram of latencies in nanoseconds (STYLE.md 13).
//
// Contract
// - Values 0..255 ns have exact buckets; above that, each power-of-two range [2^k, 2^(k+1)) is
//   split into 128 equal sub-buckets, so a bucket is at most 1/128 (0.78%) of its values wide.
//   percentile() reports a bucket's midpoint, hence within 0.4% of the true order statistic
//   (and clamped to the exact min/max).
// - The range is 1 µs .. kMaxTrackableNs (60 s) with that precision; larger values are clamped
//   into the last bucket (counted in clamped()), min/max/mean stay exact.
// - Not thread-safe: one histogram per thread, merge() them after the threads have joined.
// - Memory: kBucketCount counters (about 30 KiB), allocated once in the constructor.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace bench {

class LatencyHistogram {
 public:
  // 60 s: the longest latency anyone reports; 2^36 ns (68.7 s) bounds the bucket table.
  static constexpr std::int64_t kMaxTrackableNs = 60'000'000'000;
  static constexpr int kSubBucketBits = 7;  // 128 sub-buckets per power of two: < 1% error
  static constexpr int kMaxExponent = 35;   // 2^35 <= 60 s < 2^36
  static constexpr std::size_t kLinearBuckets = std::size_t{2} << kSubBucketBits;  // 0..255
  static constexpr std::size_t kBucketCount =
      kLinearBuckets +
      static_cast<std::size_t>(kMaxExponent - kSubBucketBits) * (std::size_t{1} << kSubBucketBits);

  LatencyHistogram();

  // Negative values count as 0; values above kMaxTrackableNs land in the last bucket.
  void record(std::int64_t ns) noexcept;
  // Adds every count of `other` (same layout by construction).
  void merge(const LatencyHistogram& other) noexcept;
  void reset() noexcept;

  [[nodiscard]] std::uint64_t count() const noexcept { return count_; }
  [[nodiscard]] std::uint64_t clamped() const noexcept { return clamped_; }
  // 0 when empty.
  [[nodiscard]] std::int64_t min_ns() const noexcept { return count_ ? min_ : 0; }
  [[nodiscard]] std::int64_t max_ns() const noexcept { return max_; }
  [[nodiscard]] double mean_ns() const noexcept;
  // The value at percentile `p` (0..100): the smallest recorded value v such that at least
  // p% of the values are <= v, to bucket precision. 0 when empty.
  [[nodiscard]] std::int64_t percentile_ns(double p) const noexcept;

  // Bucket arithmetic, public for the unit test.
  [[nodiscard]] static std::size_t bucket_of(std::int64_t ns) noexcept;
  [[nodiscard]] static std::int64_t bucket_low(std::size_t index) noexcept;
  [[nodiscard]] static std::int64_t bucket_width(std::size_t index) noexcept;

 private:
  std::vector<std::uint64_t> counts_;
  std::uint64_t count_ = 0;
  std::uint64_t clamped_ = 0;
  std::int64_t min_ = 0;
  std::int64_t max_ = 0;
  // Sum in long double: 10^9 samples of 60 s overflow no 64-bit integer but lose nothing here.
  long double sum_ = 0;
};

}  // namespace bench
