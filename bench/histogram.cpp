#include "bench/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace bench {

namespace {
constexpr std::size_t kSubBuckets = std::size_t{1} << LatencyHistogram::kSubBucketBits;
}  // namespace

LatencyHistogram::LatencyHistogram() : counts_(kBucketCount, 0) {}

std::size_t LatencyHistogram::bucket_of(std::int64_t ns) noexcept {
  if (ns < 0) ns = 0;
  const auto v = static_cast<std::uint64_t>(ns);
  if (v < kLinearBuckets) return static_cast<std::size_t>(v);
  const int k = std::bit_width(v) - 1;  // v in [2^k, 2^(k+1)), k >= 8
  if (k > kMaxExponent) return kBucketCount - 1;
  const int shift = k - kSubBucketBits;
  const auto sub = static_cast<std::size_t>(v >> shift) - kSubBuckets;  // 0..127
  return kLinearBuckets + static_cast<std::size_t>(k - kSubBucketBits - 1) * kSubBuckets + sub;
}

std::int64_t LatencyHistogram::bucket_low(std::size_t index) noexcept {
  if (index < kLinearBuckets) return static_cast<std::int64_t>(index);
  const std::size_t rel = index - kLinearBuckets;
  const int k = static_cast<int>(rel / kSubBuckets) + kSubBucketBits + 1;
  const std::size_t sub = rel % kSubBuckets;
  return static_cast<std::int64_t>((kSubBuckets + sub) << (k - kSubBucketBits));
}

std::int64_t LatencyHistogram::bucket_width(std::size_t index) noexcept {
  if (index < kLinearBuckets) return 1;
  const int k = static_cast<int>((index - kLinearBuckets) / kSubBuckets) + kSubBucketBits + 1;
  return std::int64_t{1} << (k - kSubBucketBits);
}

void LatencyHistogram::record(std::int64_t ns) noexcept {
  if (ns < 0) ns = 0;
  if (ns > kMaxTrackableNs) ++clamped_;
  ++counts_[bucket_of(std::min(ns, kMaxTrackableNs))];
  if (count_ == 0 || ns < min_) min_ = ns;
  if (ns > max_) max_ = ns;
  ++count_;
  sum_ += static_cast<long double>(ns);
}

void LatencyHistogram::merge(const LatencyHistogram& other) noexcept {
  if (other.count_ == 0) return;
  for (std::size_t i = 0; i < kBucketCount; ++i) counts_[i] += other.counts_[i];
  if (count_ == 0 || other.min_ < min_) min_ = other.min_;
  max_ = std::max(max_, other.max_);
  count_ += other.count_;
  clamped_ += other.clamped_;
  sum_ += other.sum_;
}

void LatencyHistogram::reset() noexcept {
  std::fill(counts_.begin(), counts_.end(), 0);
  count_ = clamped_ = 0;
  min_ = max_ = 0;
  sum_ = 0;
}

double LatencyHistogram::mean_ns() const noexcept {
  return count_ ? static_cast<double>(sum_ / static_cast<long double>(count_)) : 0.0;
}

std::int64_t LatencyHistogram::percentile_ns(double p) const noexcept {
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

}  // namespace bench
