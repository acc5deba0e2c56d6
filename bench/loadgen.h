// The load generator behind `reviewsd-bench load`: keep-alive HTTP/1.1 clients on one epoll loop
// per thread, in a closed loop or at a constant arrival rate (open loop).
//
// Contract
// - run_load() blocks for warmup + duration + at most kMaxDrain, spawning `threads` loop
//   threads and joining them all before it returns; it never runs longer (the invariant of
//   bench/README.md). It throws std::runtime_error only for setup failures (epoll, timerfd).
// - Only loopback is ever contacted: the address comes from parse_loopback_url(), which
//   refuses every host but 127.0.0.1 and [::1].
// - A request belongs to the measurement when it *starts* inside [warmup, warmup + duration):
//   its scheduled time in the open loop, its send time in the closed loop. Each such request
//   ends up exactly once as a response (latency recorded, status counted) or as an error.
#pragma once

#include "bench/histogram.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace bench {

namespace limits {
// In-flight requests still unanswered this long after the end of the run count as timeouts.
inline constexpr std::chrono::milliseconds kMaxDrain{2'000};
// A connect failure is retried after this pause, so a missing server costs no busy loop.
inline constexpr std::chrono::milliseconds kReconnectBackoff{100};
// How often the loop looks for requests older than --timeout (a scan of its connections).
inline constexpr std::chrono::milliseconds kTimeoutScan{50};
// A response head larger than this is a protocol error: ours are a few hundred bytes.
inline constexpr std::size_t kMaxResponseHead = 64 * 1024;
// Bytes per recv(2); one buffer per connection, so 64 connections cost 4 MiB at most.
inline constexpr std::size_t kReadChunk = 64 * 1024;
}  // namespace limits

// Where to connect: loopback only.
struct Target {
  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  std::string host_header;  // "127.0.0.1:8080" or "[::1]:8080"
  std::string path;         // the URL's path and query, "/" when absent
};

// Parses http://127.0.0.1:PORT[/path] or http://[::1]:PORT[/path]. Returns nullopt (and sets
// `error`) for anything else, including other hosts: load never leaves the machine.
std::optional<Target> parse_loopback_url(const std::string& url, std::string& error);

struct LoadConfig {
  Target target;
  std::string path_template;  // "%d" (first occurrence) is replaced by the product id
  std::int64_t id_lo = 1;
  std::int64_t id_hi = 1;
  unsigned connections = 64;
  unsigned threads = 1;
  std::chrono::nanoseconds duration{std::chrono::seconds(10)};
  std::chrono::nanoseconds warmup{0};
  std::chrono::nanoseconds timeout{std::chrono::seconds(10)};  // per request, from its send
  double rate = 0;  // requests/s in total; 0 = closed loop
  std::uint64_t seed = 1;
};

// Why a measured request got no usable response.
enum class ErrorKind {
  Status,    // a response arrived, with a status outside 2xx (its latency is still recorded)
  Timeout,   // no response within --timeout, or still in flight when the drain ended
  Reset,     // the connection broke (RST, EOF, recv/send error) while a request was in flight
  Connect,   // connect(2) failed (counted per attempt, inside the measured window)
  Protocol,  // the response could not be framed (no Content-Length, bad status line, too big)
  Unsent,    // open loop: scheduled in the window, never got a free connection before the end
};
inline constexpr int kErrorKinds = 6;
const char* error_kind_name(ErrorKind kind) noexcept;

struct LoadResult {
  std::uint64_t responses = 0;   // complete responses to measured requests, any status
  std::uint64_t bytes_read = 0;  // heads and bodies of those responses
  double seconds = 0;            // the measured window, = duration
  std::uint64_t errors[kErrorKinds] = {};
  std::map<int, std::uint64_t> statuses;
  LatencyHistogram latency;       // from the scheduled time (open loop) or the send time (closed)
  std::uint64_t max_backlog = 0;  // open loop: most requests ever waiting for a connection
  std::uint64_t scheduled = 0;    // open loop: requests scheduled in the window
  // Open loop: how late the generator itself woke for a due request (timer and scheduling
  // jitter of this machine). A large p99 here means the latency figures include our own lag.
  LatencyHistogram timer_lag;

  void merge(const LoadResult& other);
  [[nodiscard]] std::uint64_t error_total() const noexcept;
};

LoadResult run_load(const LoadConfig& config);

}  // namespace bench
