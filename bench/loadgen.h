// The load generator behind `reviewsd-bench load`: keep-alive HTTP/1.1 clients on one epoll loop
// per thread, in a closed loop or at a constant arrival rate (open loop).
//
// Contract
// - run_load() blocks for kStartDelay + warmup + duration + at most kMaxDrain (max_run_time()),
//   spawning `threads` loop threads and joining them all before it returns; it never runs
//   longer (the invariant of bench/README.md). It throws std::runtime_error only for setup
//   failures (epoll, timerfd).
// - Only loopback is ever contacted: the address comes from parse_loopback_url(), which
//   refuses every host but 127.0.0.1 and [::1].
// - A request belongs to the measurement when it *starts* inside [warmup, warmup + duration):
//   its scheduled time in the open loop, its send time in the closed loop. Each such request
//   ends up exactly once as a response (latency recorded, status counted) or as an error.
//   A response with an unexpected status (or, with check_json, a bad body) is both: a
//   response and an error of kind Status (Body).
// - Writes are counted over the whole run, warmup and drain included (a soak compares them with
//   the rows in the database afterwards): writes_acked = answered with their success status,
//   writes_sent - writes_acked = sent but not acknowledged (no answer, or another status), so
//   the rows written are in [acked, sent].
// - The time series has one point per second of the measured window, by *completion* time:
//   responses and errors of measured requests observed in that second. Events of the drain
//   (after the window: late responses, requests still in flight at its end) are left out of
//   the series, so that an overloaded run's last point shows that second's throughput, not a
//   spike of everything that finished later; they are counted in drain_responses and
//   drain_errors. So the series sums to responses - drain_responses and to
//   error_total() - drain_errors.
#pragma once

#include "bench/histogram.h"
#include "bench/scenario.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bench {

namespace limits {
// The longest run (or ramp, all steps with their warm-ups and drains) `load` and `run` accept:
// longer than an hour is a typo, not a benchmark.
inline constexpr std::chrono::seconds kMaxRunTime{3600};
// In-flight requests still unanswered this long after the end of the run count as timeouts.
inline constexpr std::chrono::milliseconds kMaxDrain{2'000};
// A connect failure is retried after this pause, so a missing server costs no busy loop.
inline constexpr std::chrono::milliseconds kReconnectBackoff{100};
// How often the loop looks for requests older than --timeout (a scan of its connections).
inline constexpr std::chrono::milliseconds kTimeoutScan{50};
// A response head larger than this is a protocol error: ours are a few hundred bytes.
inline constexpr std::size_t kMaxResponseHead = 64 * 1024;
// A Content-Length above this is a protocol error: the largest page of reviews is well under
// 1 MiB, and --check-json reserves the announced length before reading it, so an absurd length
// must not become an absurd allocation.
inline constexpr std::int64_t kMaxResponseBody = 64 * 1024 * 1024;
// run_load() waits this long after starting the connects before the first request is due, so
// the open loop's first due times do not include the TCP handshakes.
inline constexpr std::chrono::milliseconds kStartDelay{20};
// Bytes per recv(2); one buffer per connection, so 64 connections cost 4 MiB at most.
inline constexpr std::size_t kReadChunk = 64 * 1024;
// --pipeline: the most requests one connection keeps in flight.
inline constexpr unsigned kMaxPipeline = 64;
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
  // What to send. Null: the custom scenario of path_template and [id_lo, id_hi].
  const Scenario* scenario = nullptr;
  std::string path_template;  // "%d" (first occurrence) is replaced by the product id
  std::int64_t id_lo = 1;
  std::int64_t id_hi = 1;
  unsigned connections = 64;
  // Requests in flight per connection (HTTP/1.1 pipelining), 1..kMaxPipeline: written back to
  // back (one write for all that are due together), answered in order (FIFO). Closed loop:
  // each connection refills to `pipeline` as responses arrive; open loop: a due request goes
  // to a connection with fewer than `pipeline` in flight.
  unsigned pipeline = 1;
  unsigned threads = 1;
  std::chrono::nanoseconds duration{std::chrono::seconds(10)};
  std::chrono::nanoseconds warmup{0};
  std::chrono::nanoseconds timeout{std::chrono::seconds(10)};  // per request, from its send
  double rate = 0;  // requests/s in total; 0 = closed loop
  std::uint64_t seed = 1;
  bool check_json = false;  // every measured 200 GET body must parse (RequestInfo's field check)
  bool progress = false;    // a line per second of the window on stderr: "t=3s rps=... p99=..."
};

// Why a measured request got no usable response.
enum class ErrorKind {
  Status,    // a response arrived with another status than its kind's (200 GET, 201 POST, 204
             // PUT); its latency is still recorded
  Timeout,   // no response within --timeout, or still in flight when the drain ended; when the
             // oldest request of a connection times out, the connection is dropped and every
             // request in flight on it counts as a timeout (none could be answered before it)
  Reset,     // the connection broke (RST, EOF, recv/send error) while a request was in flight:
             // one per request in flight on it
  Connect,   // connect(2) failed (counted per attempt, inside the measured window)
  Protocol,  // the response could not be framed (no Content-Length, bad status line, head over
             // kMaxResponseHead, Content-Length over kMaxResponseBody): one per request in
             // flight on the connection
  Unsent,    // open loop: scheduled in the window, never got a free connection before the end
  Body,      // --check-json: a 200 whose body is not JSON or names another product
};
inline constexpr int kErrorKinds = 7;
const char* error_kind_name(ErrorKind kind) noexcept;

// One second of the time series.
struct SeriesPoint {
  std::uint64_t responses = 0;
  std::uint64_t errors = 0;
  std::int64_t p50_ns = 0;
  std::int64_t p99_ns = 0;
};

struct LoadResult {
  std::uint64_t responses = 0;  // complete responses to measured requests, any status
  // Measured requests written (not in the JSON): each ends as a response or as an error of kind
  // Timeout, Reset or Protocol, so sent == responses + those three.
  std::uint64_t sent = 0;
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
  // Measured 200 responses and their body bytes (mean_body_bytes: the size a reference server
  // must answer with).
  std::uint64_t ok_responses = 0;
  std::uint64_t ok_body_bytes = 0;
  // Writes by RequestKind (the Get entries stay 0); see the contract above.
  std::uint64_t writes_sent[kRequestKinds] = {};
  std::uint64_t writes_acked[kRequestKinds] = {};
  std::vector<SeriesPoint> series;  // ceil(seconds) points; run_load fills it, merge() appends
  // Responses and errors of measured requests observed after the window (in the drain, or
  // still pending at its end): in responses and errors above, not in the series.
  std::uint64_t drain_responses = 0;
  std::uint64_t drain_errors = 0;

  void merge(const LoadResult& other);
  [[nodiscard]] std::uint64_t error_total() const noexcept;
  [[nodiscard]] double mean_body_bytes() const noexcept {
    return ok_responses ? static_cast<double>(ok_body_bytes) / ok_responses : 0.0;
  }
};

LoadResult run_load(const LoadConfig& config);
// The longest run_load(config) can take: kStartDelay + warmup + duration + kMaxDrain.
std::chrono::nanoseconds max_run_time(const LoadConfig& config) noexcept;

// --ramp START:STEP:MAX: open-loop steps at START, START+STEP, ... <= MAX requests/s, each
// `step_duration` long (plus the config's warmup), fresh connections per step. A step holds
// when its p99 is <= slo_p99 and it had no error; the ramp stops after the first step that
// does not hold. held_rate: the rate of the last step that held (0 if none did).
struct RampConfig {
  double start = 0;
  double step = 0;
  double max = 0;
  std::chrono::nanoseconds slo_p99{std::chrono::milliseconds(10)};
  std::chrono::nanoseconds step_duration{std::chrono::seconds(10)};
  // How many steps START:STEP:MAX makes (at least 1). A MAX that the steps miss by rounding
  // only (0.1:0.1:0.3) still counts as reached.
  [[nodiscard]] std::size_t step_count() const noexcept;
};

// Parses --ramp START:STEP:MAX into start, step and max (the other fields untouched): the one
// parser of `load --ramp` and `run --ramp`. False (and `error` set) unless 0 < START <= MAX <=
// 1e8 and STEP > 0.
bool parse_ramp(std::string_view text, RampConfig& out, std::string& error);

struct RampStep {
  double rate = 0;
  double rps = 0;
  std::uint64_t errors = 0;
  std::int64_t p50_ns = 0, p90_ns = 0, p99_ns = 0, max_ns = 0;
  bool held = false;
};

struct RampResult {
  std::vector<RampStep> steps;
  double held_rate = 0;
  // Every step merged: requests, errors, writes, latency; series concatenated (t continues
  // from step to step); seconds is the sum of the steps' windows.
  LoadResult total;
};

RampResult run_ramp(const LoadConfig& config, const RampConfig& ramp);
// The longest run_ramp(config, ramp) can take: step_count() runs of max_run_time() with the
// step's duration (each step has its own start delay, warmup and drain).
std::chrono::nanoseconds max_ramp_time(const LoadConfig& config, const RampConfig& ramp) noexcept;

// `mixed`: up to `count` distinct products of the scenario's read range (drawn with `seed`)
// with their characteristic ids, read from GET /reviews/meta on the target over one blocking
// connection (at most 10 s in all). Empty with `error` set when the server does not answer
// them all with a meta body.
std::vector<PostProduct> fetch_post_products(const Target& target, const Scenario& scenario,
                                             std::size_t count, std::uint64_t seed,
                                             std::string& error);

// One GET of `path` on `target` over a blocking connection of its own (readiness probes): the
// status and body, or nullopt when nothing answered with a framed response (Content-Length at
// most kMaxResponseBody) within `timeout` per connect, send and receive.
std::optional<std::pair<int, std::string>> http_get(const Target& target, const std::string& path,
                                                    std::chrono::milliseconds timeout);

}  // namespace bench
