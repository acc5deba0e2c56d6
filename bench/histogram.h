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
//
// SeriesHistogram is the same layout with 32 sub-buckets and 32-bit counters (4 KiB, within
// 1.6%): one per second of a run's time series, so an hour of them costs 15 MiB, not 100.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace bench {

// SubBucketBits: log2 of the sub-buckets per power of two; Count: the counter type.
template <int SubBucketBits, typename Count>
class BasicLatencyHistogram {
 public:
  // 60 s: the longest latency anyone reports; 2^36 ns (68.7 s) bounds the bucket table.
  static constexpr std::int64_t kMaxTrackableNs = 60'000'000'000;
  static constexpr int kSubBucketBits = SubBucketBits;
  static constexpr int kMaxExponent = 35;  // 2^35 <= 60 s < 2^36
  static constexpr std::size_t kLinearBuckets = std::size_t{2} << kSubBucketBits;
  static constexpr std::size_t kBucketCount =
      kLinearBuckets +
      static_cast<std::size_t>(kMaxExponent - kSubBucketBits) * (std::size_t{1} << kSubBucketBits);

  BasicLatencyHistogram() : counts_(kBucketCount, 0) {}

  // Negative values count as 0; values above kMaxTrackableNs land in the last bucket.
  void record(std::int64_t ns) noexcept {
    if (ns < 0) ns = 0;
    if (ns > kMaxTrackableNs) ++clamped_;
    ++counts_[bucket_of(std::min(ns, kMaxTrackableNs))];
    if (count_ == 0 || ns < min_) min_ = ns;
    if (ns > max_) max_ = ns;
    ++count_;
    sum_ += static_cast<long double>(ns);
  }
  // Adds every count of `other` (same layout by construction).
  void merge(const BasicLatencyHistogram& other) noexcept {
    if (other.count_ == 0) return;
    for (std::size_t i = 0; i < kBucketCount; ++i) counts_[i] += other.counts_[i];
    if (count_ == 0 || other.min_ < min_) min_ = other.min_;
    max_ = std::max(max_, other.max_);
    count_ += other.count_;
    clamped_ += other.clamped_;
    sum_ += other.sum_;
  }
  void reset() noexcept {
    std::fill(counts_.begin(), counts_.end(), Count{0});
    count_ = clamped_ = 0;
    min_ = max_ = 0;
    sum_ = 0;
  }

  [[nodiscard]] std::uint64_t count() const noexcept { return count_; }
  [[nodiscard]] std::uint64_t clamped() const noexcept { return clamped_; }
  // 0 when empty.
  [[nodiscard]] std::int64_t min_ns() const noexcept { return count_ ? min_ : 0; }
  [[nodiscard]] std::int64_t max_ns() const noexcept { return max_; }
  [[nodiscard]] double mean_ns() const noexcept {
    return count_ ? static_cast<double>(sum_ / static_cast<long double>(count_)) : 0.0;
  }
  // The value at percentile `p` (0..100): the smallest recorded value v such that at least
  // p% of the values are <= v, to bucket precision. 0 when empty.
  [[nodiscard]] std::int64_t percentile_ns(double p) const noexcept {
    if (count_ == 0) return 0;
    p = std::clamp(p, 0.0, 100.0);
    // Rank of the wanted value, 1-based: ceil(p% of count), at least the first value.
    auto rank = static_cast<std::uint64_t>(std::ceil(p / 100.0 * static_cast<double>(count_)));
    rank = std::clamp<std::uint64_t>(rank, 1, count_);
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < kBucketCount; ++i) {
      seen += counts_[i];
      if (seen >= rank) {
        const std::int64_t mid = bucket_low(i) + bucket_width(i) / 2;
        return std::clamp(mid, min_, max_);
      }
    }
    return max_;
  }

  // How many values are >= ns, to bucket precision (the whole bucket of ns counts).
  [[nodiscard]] std::uint64_t count_at_least(std::int64_t ns) const noexcept {
    std::uint64_t n = 0;
    for (std::size_t i = bucket_of(std::min(ns, kMaxTrackableNs)); i < kBucketCount; ++i)
      n += counts_[i];
    return n;
  }

  // Bucket arithmetic, public for the unit test.
  [[nodiscard]] static std::size_t bucket_of(std::int64_t ns) noexcept {
    if (ns < 0) ns = 0;
    const auto v = static_cast<std::uint64_t>(ns);
    if (v < kLinearBuckets) return static_cast<std::size_t>(v);
    const int k = std::bit_width(v) - 1;  // v in [2^k, 2^(k+1)), k > kSubBucketBits
    if (k > kMaxExponent) return kBucketCount - 1;
    const int shift = k - kSubBucketBits;
    const auto sub = static_cast<std::size_t>(v >> shift) - kSubBuckets;  // 0..S-1
    return kLinearBuckets + static_cast<std::size_t>(k - kSubBucketBits - 1) * kSubBuckets + sub;
  }
  [[nodiscard]] static std::int64_t bucket_low(std::size_t index) noexcept {
    if (index < kLinearBuckets) return static_cast<std::int64_t>(index);
    const std::size_t rel = index - kLinearBuckets;
    const int k = static_cast<int>(rel / kSubBuckets) + kSubBucketBits + 1;
    const std::size_t sub = rel % kSubBuckets;
    return static_cast<std::int64_t>((kSubBuckets + sub) << (k - kSubBucketBits));
  }
  [[nodiscard]] static std::int64_t bucket_width(std::size_t index) noexcept {
    if (index < kLinearBuckets) return 1;
    const int k = static_cast<int>((index - kLinearBuckets) / kSubBuckets) + kSubBucketBits + 1;
    return std::int64_t{1} << (k - kSubBucketBits);
  }

 private:
  static constexpr std::size_t kSubBuckets = std::size_t{1} << kSubBucketBits;

  std::vector<Count> counts_;
  std::uint64_t count_ = 0;
  std::uint64_t clamped_ = 0;
  std::int64_t min_ = 0;
  std::int64_t max_ = 0;
  // Sum in long double: 10^9 samples of 60 s overflow no 64-bit integer but lose nothing here.
  long double sum_ = 0;
};

// 128 sub-buckets per power of two: < 1% error. The run's histograms.
using LatencyHistogram = BasicLatencyHistogram<7, std::uint64_t>;
// 32 sub-buckets, 32-bit counts (4 billion responses a second is more than loopback carries):
// one per second of the time series.
using SeriesHistogram = BasicLatencyHistogram<5, std::uint32_t>;

extern template class BasicLatencyHistogram<7, std::uint64_t>;
extern template class BasicLatencyHistogram<5, std::uint32_t>;

}  // namespace bench
