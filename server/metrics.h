// Metrics: the counters behind GET /metrics (Prometheus text format 0.0.4).
//
// Each reactor counts into its own ReactorMetrics: single writer, relaxed atomic load+store (a
// plain add on x86, no lock and no contended cache line on the request path). A scrape, on any
// thread, sums every reactor's block and appends what the registered collectors report (the
// cache, the database pools). A scrape may see a request counted in one counter and not yet in
// another; every counter is monotonic on its own.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace server {

// A counter with one writer thread and any number of readers.
class Counter {
 public:
  void add(std::uint64_t n = 1) noexcept {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  [[nodiscard]] std::uint64_t get() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> v_{0};
};

// The statuses this server sends, each its own label value; anything else counts as "other".
inline constexpr std::array<int, 19> kCountedStatuses = {
    200, 201, 204, 304, 400, 404, 405, 408, 413, 414, 415, 422, 431, 500, 501, 503, 505, 0, 0};
inline constexpr std::size_t kStatusSlots = kCountedStatuses.size() - 1;  // last: "other"

// Request latency buckets (seconds), upper bounds: from a cache hit (~50 µs) to a deadline 503.
inline constexpr std::array<double, 14> kLatencyBuckets = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};

class ReactorMetrics {
 public:
  // `routes`: the router's route count; index `routes` is for requests that matched none.
  explicit ReactorMetrics(std::size_t routes);

  // A response is ready: its route index, its status, and how long it took since the request
  // was parsed. Reactor thread only.
  void request(std::size_t route, int status, std::int64_t micros) noexcept;

  Counter bytes_in, bytes_out, accepted, closed, shed;

  // --- read by Metrics::render ---
  [[nodiscard]] std::uint64_t requests(std::size_t route, std::size_t status_slot) const noexcept {
    return requests_[route * kStatusSlots + status_slot].get();
  }
  [[nodiscard]] std::uint64_t bucket(std::size_t i) const noexcept { return buckets_[i].get(); }
  [[nodiscard]] std::uint64_t latency_micros() const noexcept { return latency_us_.get(); }
  [[nodiscard]] std::uint64_t count() const noexcept { return count_.get(); }

 private:
  std::size_t routes_;
  std::unique_ptr<Counter[]> requests_;                      // (routes_ + 1) x kStatusSlots
  std::array<Counter, kLatencyBuckets.size() + 1> buckets_;  // not cumulative; last = +Inf
  Counter latency_us_, count_;
};

class Metrics {
 public:
  // Appends whole metric families (# HELP, # TYPE, samples) to the text. Called on the scraping
  // thread: it must only read thread-safe state.
  using Collector = std::function<void(std::string& out)>;

  // Setup, on the main thread before the reactors start.
  ReactorMetrics& add_reactor(std::size_t routes);
  void add_collector(Collector c);
  // Names for the route label, by route index (the router's patterns).
  void set_route_names(std::vector<std::string> names);

  // Any thread, once the reactors run.
  [[nodiscard]] std::string render() const;

 private:
  std::vector<std::unique_ptr<ReactorMetrics>> reactors_;
  std::vector<Collector> collectors_;
  std::vector<std::string> route_names_;
};

// Helpers for collectors: one family with one unlabeled sample.
void append_metric(std::string& out, std::string_view name, std::string_view type,
                   std::string_view help, std::uint64_t value);

}  // namespace server
