// The load generator. The only file of bench/ that touches epoll, timerfd and sockets.
//
// Follow one request, top to bottom: run_load() splits connections and the arrival timetable
// over the threads → Worker::run() (the loop) → connect_conn() → refill() (closed loop: at
// once; open loop: when a scheduled request is due) → enqueue() and flush() → on_readable() →
// feed() → complete_response() → refill() again, or close_conn() on an error, after which
// on_tick() reconnects. The run ends in finish(), which turns whatever is still pending into
// errors, so no measured request disappears. What a request is comes from the thread's
// RequestMix (scenario.h); complete_response() checks its status (and, with --check-json, its
// body), counts acknowledged writes and feeds the per-second series (SeriesCollector).
//
// Two models:
// - closed loop: each connection sends its next request as soon as the previous response is
//   complete (with --pipeline D: keeps D in flight, refilled after each read that completed
//   responses, in one write); latency runs from the send.
// - open loop (--rate): the i-th request of the run is due at start + i/rate, whatever the
//   server does. Thread t owns requests t, t+T, t+2T... A due request takes a free connection
//   or waits (the backlog) for one; its latency runs from its *due* time, so time spent waiting
//   for a connection because the server stalled is counted (no coordinated omission).
//   With --pipeline D, a connection with fewer than D in flight is free for the next due one.
//
// Pipelining: a connection's requests in flight are a FIFO (Conn::ring); each response
// answers the oldest (HTTP/1.1 answers in order). A broken connection fails them all.
#include "bench/loadgen.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <ctime>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <vector>

namespace bench {

const char* error_kind_name(ErrorKind kind) noexcept {
  switch (kind) {
    case ErrorKind::Status:
      return "status";
    case ErrorKind::Timeout:
      return "timeout";
    case ErrorKind::Reset:
      return "reset";
    case ErrorKind::Connect:
      return "connect";
    case ErrorKind::Protocol:
      return "protocol";
    case ErrorKind::Unsent:
      return "unsent";
    case ErrorKind::Body:
      return "body";
  }
  return "?";
}

void LoadResult::merge(const LoadResult& other) {
  responses += other.responses;
  sent += other.sent;
  bytes_read += other.bytes_read;
  for (int i = 0; i < kErrorKinds; ++i) errors[i] += other.errors[i];
  for (const auto& [status, n] : other.statuses) statuses[status] += n;
  latency.merge(other.latency);
  max_backlog += other.max_backlog;  // per-thread maxima: an upper bound of the total's
  scheduled += other.scheduled;
  timer_lag.merge(other.timer_lag);
  ok_responses += other.ok_responses;
  ok_body_bytes += other.ok_body_bytes;
  for (int k = 0; k < kRequestKinds; ++k) {
    writes_sent[k] += other.writes_sent[k];
    writes_acked[k] += other.writes_acked[k];
  }
  drain_responses += other.drain_responses;
  drain_errors += other.drain_errors;
  series.insert(series.end(), other.series.begin(), other.series.end());
}

std::uint64_t LoadResult::error_total() const noexcept {
  std::uint64_t n = 0;
  for (auto e : errors) n += e;
  return n;
}

std::optional<Target> parse_loopback_url(const std::string& url, std::string& error) {
  constexpr std::string_view kScheme = "http://";
  std::string_view rest = url;
  if (!rest.starts_with(kScheme)) {
    error = "only http:// URLs are supported";
    return std::nullopt;
  }
  rest.remove_prefix(kScheme.size());
  const auto slash = rest.find('/');
  const std::string_view authority = rest.substr(0, slash);
  Target t;
  t.path = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));

  std::string_view host;
  std::string_view port;
  if (authority.starts_with('[')) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos || authority.substr(close + 1, 1) != ":") {
      error = "expected http://[::1]:PORT";
      return std::nullopt;
    }
    host = authority.substr(1, close - 1);
    port = authority.substr(close + 2);
  } else {
    const auto colon = authority.rfind(':');
    if (colon == std::string_view::npos) {
      error = "the URL needs an explicit port";
      return std::nullopt;
    }
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  unsigned long port_n = 0;
  if (port.empty() || port.size() > 5 ||
      !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
      (port_n = std::stoul(std::string(port))) == 0 || port_n > 65535) {
    error = fmt::format("bad port '{}'", port);
    return std::nullopt;
  }
  // Loopback only, by literal address: no name resolution can send the load elsewhere.
  if (host == "127.0.0.1") {
    auto* sa = reinterpret_cast<sockaddr_in*>(&t.addr);
    sa->sin_family = AF_INET;
    sa->sin_port = htons(static_cast<std::uint16_t>(port_n));
    sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    t.addr_len = sizeof(sockaddr_in);
    t.host_header = fmt::format("127.0.0.1:{}", port_n);
  } else if (host == "::1") {
    auto* sa = reinterpret_cast<sockaddr_in6*>(&t.addr);
    sa->sin6_family = AF_INET6;
    sa->sin6_port = htons(static_cast<std::uint16_t>(port_n));
    sa->sin6_addr = in6addr_loopback;
    t.addr_len = sizeof(sockaddr_in6);
    t.host_header = fmt::format("[::1]:{}", port_n);
  } else {
    error = fmt::format("refusing host '{}': load only targets 127.0.0.1 or [::1]", host);
    return std::nullopt;
  }
  return t;
}

namespace {

std::int64_t mono_ns() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);  // the timerfd's clock too
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// The one-sided parts of a response head we act on.
struct ResponseHead {
  int status = 0;
  std::int64_t content_length = -1;
  bool close = false;
};

bool iequals(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x | 0x20) == (y | 0x20);
         });
}

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// `head` ends with the blank line. False: not a response we can frame.
bool parse_head(std::string_view head, ResponseHead& out) {
  auto eol = head.find("\r\n");
  const std::string_view status_line = head.substr(0, eol);
  // "HTTP/1.x NNN reason"
  if (status_line.size() < 12 || !status_line.starts_with("HTTP/1.") || status_line[8] != ' ')
    return false;
  int status = 0;
  for (int i = 9; i < 12; ++i) {
    const char c = status_line[static_cast<std::size_t>(i)];
    if (c < '0' || c > '9') return false;
    status = status * 10 + (c - '0');
  }
  out.status = status;
  const bool http10 = status_line[7] == '0';
  bool keep_alive = false;
  head.remove_prefix(eol + 2);
  while (!head.empty() && !head.starts_with("\r\n")) {
    eol = head.find("\r\n");
    const std::string_view line = head.substr(0, eol);
    head.remove_prefix(eol + 2);
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) return false;
    const std::string_view name = line.substr(0, colon);
    const std::string_view value = trim(line.substr(colon + 1));
    if (iequals(name, "content-length")) {
      if (value.empty() || value.size() > 15) return false;
      std::int64_t n = 0;
      for (char c : value) {
        if (c < '0' || c > '9') return false;
        n = n * 10 + (c - '0');
      }
      out.content_length = n;
    } else if (iequals(name, "connection")) {
      // A token list; "close" or "keep-alive" anywhere in it.
      std::size_t pos = 0;
      while (pos <= value.size()) {
        const auto comma = std::min(value.find(',', pos), value.size());
        const auto token = trim(value.substr(pos, comma - pos));
        if (iequals(token, "close")) out.close = true;
        if (iequals(token, "keep-alive")) keep_alive = true;
        pos = comma + 1;
      }
    } else if (iequals(name, "transfer-encoding")) {
      return false;  // chunked framing is not implemented (reviewsd always sends a length)
    }
  }
  if (http10 && !keep_alive) out.close = true;
  const bool bodyless = (status >= 100 && status < 200) || status == 204 || status == 304;
  if (bodyless) out.content_length = 0;
  return out.content_length >= 0;
}

// What a connection is waiting for (STYLE.md 4).
enum class ConnState {
  Backoff,     // no socket; on_tick() connects at retry_at
  Connecting,  // non-blocking connect in progress (EPOLLOUT)
  Idle,        // connected, no request
  Sending,     // part of the requests in flight still in out (EPOLLOUT)
  Awaiting,    // requests sent, reading the responses
};

// One request in flight.
struct InFlight {
  std::int64_t started_ns = 0;  // due time (open loop) or send time (closed loop)
  std::int64_t sent_ns = 0;     // for --timeout
  bool measured = false;
  RequestInfo info;
};

struct Conn {
  int fd = -1;
  std::uint32_t generation = 0;  // in the epoll data: events of a closed socket are dropped
  ConnState state = ConnState::Backoff;
  std::int64_t retry_at = 0;
  // The requests in flight (Sending/Awaiting), oldest first: a ring of --pipeline slots.
  std::vector<InFlight> ring;
  std::size_t ring_head = 0;
  std::size_t ring_count = 0;
  bool listed = false;  // in Worker::idle_ (at most once)
  std::string out;      // the requests in flight, back to back; out_off: written so far
  std::size_t out_off = 0;
  [[nodiscard]] InFlight& front() noexcept { return ring[ring_head]; }
  InFlight& push() noexcept {
    InFlight& r = ring[(ring_head + ring_count) % ring.size()];
    ++ring_count;
    return r;
  }
  void pop() noexcept {
    ring_head = (ring_head + 1) % ring.size();
    --ring_count;
  }
  // The response being read: to front().
  std::string head;  // bytes of a head that spans reads (usually empty: one read has it all)
  bool head_done = false;
  ResponseHead resp;
  std::int64_t body_left = 0;
  std::uint64_t resp_bytes = 0;  // head + body, for the MB/s figure
  bool keep_body = false;        // --check-json: this body is collected for the check
  std::string body;
};

struct Times {
  std::int64_t start;    // the first request is due (open loop) / may be sent (closed)
  std::int64_t measure;  // start + warmup
  std::int64_t end;      // measure + duration: no request starts at or after this
  std::int64_t drain_end;
};

constexpr std::uint64_t kTimerTag = ~std::uint64_t{0};
constexpr int kMaxEvents = 256;
constexpr std::int64_t kSecondNs = 1'000'000'000;
// Statuses 100..599 are counted in an array on the hot path, others in the result's map.
constexpr int kStatusSlots = 600;

// One second of the series, while it is being filled.
struct SecondStats {
  std::uint64_t responses = 0;
  std::uint64_t errors = 0;
  SeriesHistogram latency;
};

// The per-second series of one run, shared by its workers: each worker fills the second it is
// in and merges it here when it moves on (at most a few times a second), so memory is one
// SeriesHistogram per second of the window whatever the thread count.
class SeriesCollector {
 public:
  explicit SeriesCollector(std::size_t seconds) : seconds_(std::max<std::size_t>(seconds, 1)) {}
  [[nodiscard]] std::size_t size() const noexcept { return seconds_.size(); }

  void merge(std::size_t second, const SecondStats& s) {
    const std::lock_guard lock(mu_);
    SecondStats& d = seconds_[std::min(second, seconds_.size() - 1)];
    d.responses += s.responses;
    d.errors += s.errors;
    d.latency.merge(s.latency);
  }
  SeriesPoint point(std::size_t second) {
    const std::lock_guard lock(mu_);
    const SecondStats& s = seconds_[second];
    return SeriesPoint{s.responses, s.errors, s.latency.percentile_ns(50),
                       s.latency.percentile_ns(99)};
  }

 private:
  std::mutex mu_;
  std::vector<SecondStats> seconds_;
};

class Worker {
 public:
  Worker(const LoadConfig& config, const Scenario& scenario, unsigned index, unsigned connections,
         Times times, SeriesCollector& series)
      : config_(config),
        index_(index),
        times_(times),
        mix_(scenario, config.seed * 0x100000001b3ULL + index, config.target.host_header),
        conns_(connections),
        pipeline_(std::clamp<std::size_t>(config.pipeline, 1, limits::kMaxPipeline)),
        watching_out_(connections, false),
        recv_buf_(limits::kReadChunk),
        status_counts_(kStatusSlots, 0),
        series_(series) {
    for (auto& c : conns_) c.ring.resize(pipeline_);
    // A constructor that throws gets no destructor call: each failure closes what is open.
    epfd_ = epoll_create1(EPOLL_CLOEXEC);
    if (epfd_ < 0) throw std::runtime_error(fmt::format("epoll: {}", std::strerror(errno)));
    timerfd_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (timerfd_ < 0) {
      const int err = errno;
      close_fds();
      throw std::runtime_error(fmt::format("timerfd: {}", std::strerror(err)));
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kTimerTag;
    if (epoll_ctl(epfd_, EPOLL_CTL_ADD, timerfd_, &ev) != 0) {
      const int err = errno;
      close_fds();
      throw std::runtime_error(fmt::format("epoll_ctl: {}", std::strerror(err)));
    }
  }
  ~Worker() {
    for (auto& c : conns_)
      if (c.fd >= 0) ::close(c.fd);
    close_fds();
  }
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  LoadResult& result() noexcept { return result_; }

  void run() {
    const std::int64_t now = mono_ns();
    for (std::size_t i = 0; i < conns_.size(); ++i) connect_conn(i, now);
    epoll_event events[kMaxEvents];
    for (;;) {
      arm_timer(mono_ns());
      const int n = epoll_wait(epfd_, events, kMaxEvents, -1);  // the only sleep
      if (n < 0 && errno != EINTR) throw std::runtime_error("epoll_wait failed");
      for (int i = 0; i < n; ++i) dispatch(events[i]);
      if (!on_tick(mono_ns())) break;
    }
    finish();
  }

 private:
  [[nodiscard]] bool open_loop() const noexcept { return config_.rate > 0; }
  [[nodiscard]] bool in_window(std::int64_t t) const noexcept {
    return t >= times_.measure && t < times_.end;
  }
  // Due time of this thread's j-th request: global index index_ + j * threads.
  [[nodiscard]] std::int64_t due_time(std::uint64_t j) const noexcept {
    const long double global =
        static_cast<long double>(index_) + static_cast<long double>(j) * config_.threads;
    return times_.start + static_cast<std::int64_t>(global * 1e9L / config_.rate);
  }
  [[nodiscard]] std::uint64_t backlog() const noexcept { return next_due_ - next_send_; }
  void close_fds() noexcept {
    if (timerfd_ >= 0) ::close(timerfd_);
    if (epfd_ >= 0) ::close(epfd_);
    timerfd_ = epfd_ = -1;
  }

  // An error of a measured request, observed (or, for Unsent, due) at `at`.
  void count_error(ErrorKind kind, std::int64_t at) {
    ++result_.errors[static_cast<int>(kind)];
    if (SecondStats* sec = series_at(at))
      ++sec->errors;
    else
      ++result_.drain_errors;
  }

  // --- the time series -----------------------------------------------------------------------
  [[nodiscard]] std::size_t second_of(std::int64_t at) const noexcept {
    if (at <= times_.measure) return 0;
    return std::min(static_cast<std::size_t>((at - times_.measure) / kSecondNs),
                    series_.size() - 1);
  }
  // The stats of the second `at` falls in; the one being filled moves there first. Null for an
  // event of the drain (at or after the end of the window): the caller counts it apart.
  SecondStats* series_at(std::int64_t at) {
    if (at >= times_.end) return nullptr;
    const std::size_t s = second_of(at);
    if (s != second_) {
      flush_second();
      second_ = s;
    }
    return &second_stats_;
  }
  void flush_second() {
    if (second_stats_.responses == 0 && second_stats_.errors == 0) return;
    series_.merge(second_, second_stats_);
    second_stats_.responses = second_stats_.errors = 0;
    second_stats_.latency.reset();
  }

  // --- connecting ----------------------------------------------------------------------------
  void connect_conn(std::size_t i, std::int64_t now) {
    Conn& c = conns_[i];
    const int fd =
        ::socket(config_.target.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return connect_failed(i, now);
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c.fd = fd;
    ++c.generation;
    const int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&config_.target.addr),
                             config_.target.addr_len);
    if (rc != 0 && errno != EINPROGRESS) return connect_failed(i, now);
    c.state = rc == 0 ? ConnState::Idle : ConnState::Connecting;
    watch(i, rc == 0 ? EPOLLIN : EPOLLOUT, EPOLL_CTL_ADD);
    if (c.state == ConnState::Idle) refill(i, now);
  }

  void connect_failed(std::size_t i, std::int64_t now) {
    if (in_window(now)) count_error(ErrorKind::Connect, now);
    close_conn(i, now + std::chrono::nanoseconds(limits::kReconnectBackoff).count());
  }

  void on_connected(std::size_t i, std::int64_t now) {
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(conns_[i].fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0)
      return connect_failed(i, now);
    conns_[i].state = ConnState::Idle;
    watch(i, EPOLLIN, EPOLL_CTL_MOD);
    refill(i, now);
  }

  // --- requests ------------------------------------------------------------------------------
  [[nodiscard]] bool connected(const Conn& c) const noexcept {
    return c.fd >= 0 && c.state != ConnState::Backoff && c.state != ConnState::Connecting;
  }
  [[nodiscard]] std::size_t room(const Conn& c) const noexcept { return pipeline_ - c.ring_count; }
  void list_idle(std::size_t i) {
    if (conns_[i].listed) return;
    conns_[i].listed = true;
    idle_.push_back(i);
  }

  // A connected connection takes requests up to pipeline_ in flight, if there are any, in one
  // write; with room left it waits in idle_.
  void refill(std::size_t i, std::int64_t now) {
    Conn& c = conns_[i];
    const std::size_t free = room(c);
    if (!open_loop()) {
      if (now < times_.start) {
        list_idle(i);  // on_tick() sends at start
      } else if (now < times_.end && free > 0) {
        for (std::size_t k = 0; k < free; ++k) enqueue(i, now);
        flush(i);
      }
      return;
    }
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(free, backlog()));
    for (std::size_t k = 0; k < n; ++k) enqueue(i, due_time(next_send_++));
    const std::uint32_t gen = c.generation;
    if (n > 0) flush(i);
    if (n < free && c.generation == gen) list_idle(i);
  }

  // Appends the next request to the connection's output and its FIFO; flush() writes it.
  void enqueue(std::size_t i, std::int64_t started) {
    Conn& c = conns_[i];
    if (c.ring_count == 0) {
      // Nothing in flight: whatever is left of out belongs to answered requests.
      c.out.clear();
      c.out_off = 0;
      c.head.clear();
      c.head_done = false;
    } else if (c.out_off == c.out.size()) {
      c.out.clear();
      c.out_off = 0;
    }
    InFlight& r = c.push();
    r.info = mix_.next(c.out);
    if (r.info.kind != RequestKind::Get) ++result_.writes_sent[static_cast<int>(r.info.kind)];
    // Closed loop: started is the time refill() checked against the window, so a batch of
    // --pipeline requests is measured whole or not at all (the server sees every request sent).
    r.sent_ns = open_loop() ? mono_ns() : started;
    r.started_ns = started;
    r.measured = in_window(r.started_ns);
    if (r.measured) ++result_.sent;
    c.state = ConnState::Sending;
    ++in_flight_;
  }

  void flush(std::size_t i) {
    Conn& c = conns_[i];
    while (c.out_off < c.out.size()) {
      const ssize_t n =
          ::send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL);
      if (n > 0) {
        c.out_off += static_cast<std::size_t>(n);
      } else if (n < 0 && errno == EAGAIN) {
        watch(i, EPOLLIN | EPOLLOUT, EPOLL_CTL_MOD);
        return;
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else {
        return fail_request(i, ErrorKind::Reset);
      }
    }
    if (c.state == ConnState::Sending) {
      c.state = ConnState::Awaiting;
      // Only re-register when we asked for EPOLLOUT: the common path costs no epoll_ctl.
      if (watching_out_[i]) watch(i, EPOLLIN, EPOLL_CTL_MOD);
    }
  }

  // --- responses -----------------------------------------------------------------------------
  void on_readable(std::size_t i, std::int64_t now) {
    Conn& c = conns_[i];
    const ssize_t n = ::recv(c.fd, recv_buf_.data(), recv_buf_.size(), 0);
    if (n > 0) {
      return feed(i, recv_buf_.data(), static_cast<std::size_t>(n));
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    // EOF or an error: broken requests if any were in flight, else the server closed an idle
    // keep-alive connection, which is no error. Reconnect at once either way.
    if (c.ring_count > 0) return fail_request(i, ErrorKind::Reset);
    close_conn(i, now);
  }

  void feed(std::size_t i, const char* p, std::size_t n) {
    Conn& c = conns_[i];
    bool completed = false;
    while (n > 0) {
      if (c.ring_count == 0 && completed) {
        // More bytes after the last answer: the next request goes out first (as it always did
        // with one request per connection); with none to send, they are unasked for.
        completed = false;
        refill(i, mono_ns());
        if (c.fd < 0) return;
      }
      if (c.ring_count == 0) {
        // Bytes nobody asked for (e.g. a 408 before an idle close): drop the connection.
        return close_conn(i, mono_ns());
      }
      if (!c.head_done) {
        // The usual case: the whole head is in this read, parsed in place without a copy.
        std::string_view head;
        if (c.head.empty()) {
          const std::string_view chunk(p, n);
          const auto end = chunk.find("\r\n\r\n");
          if (end == std::string_view::npos) {
            c.head.assign(p, n);
            if (c.head.size() > limits::kMaxResponseHead) fail_request(i, ErrorKind::Protocol);
            return;
          }
          head = chunk.substr(0, end + 4);
          p += head.size();
          n -= head.size();
        } else {
          const std::size_t old = c.head.size();
          c.head.append(p, n);
          const auto end = c.head.find("\r\n\r\n", old >= 3 ? old - 3 : 0);
          if (end == std::string::npos) {
            if (c.head.size() > limits::kMaxResponseHead) fail_request(i, ErrorKind::Protocol);
            return;
          }
          const std::size_t head_len = end + 4;
          const std::size_t extra = c.head.size() - head_len;
          p += n - extra;
          n = extra;
          head = std::string_view(c.head).substr(0, head_len);
        }
        c.resp = ResponseHead{};
        if (!parse_head(head, c.resp) || c.resp.content_length > limits::kMaxResponseBody)
          return fail_request(i, ErrorKind::Protocol);
        c.head_done = true;
        c.body_left = c.resp.content_length;
        c.resp_bytes = static_cast<std::uint64_t>(head.size()) +
                       static_cast<std::uint64_t>(c.resp.content_length);
        c.head.clear();
        const InFlight& r = c.front();
        c.keep_body = config_.check_json && r.measured && r.info.kind == RequestKind::Get &&
                      c.resp.status == 200;
        if (c.keep_body) {
          c.body.clear();
          c.body.reserve(static_cast<std::size_t>(c.resp.content_length));
        }
      }
      const auto take = static_cast<std::size_t>(
          std::min<std::int64_t>(static_cast<std::int64_t>(n), c.body_left));
      if (c.keep_body) c.body.append(p, take);
      c.body_left -= static_cast<std::int64_t>(take);
      p += take;
      n -= take;
      if (c.body_left > 0) return;
      const std::uint32_t gen = c.generation;
      complete_response(i);
      if (c.generation != gen) return;  // closed (Connection: close); the rest is moot
      completed = true;
    }
    // Refill once per read: the requests answered by this read are replaced in one write.
    if (completed) refill(i, mono_ns());
  }

  // The oldest request in flight on connection i has its response; refill() follows.
  void complete_response(std::size_t i) {
    Conn& c = conns_[i];
    const std::int64_t now = mono_ns();
    --in_flight_;
    const InFlight r = c.front();
    c.pop();
    const int status = c.resp.status;
    const bool as_expected = status == expected_status(r.info.kind);
    if (r.info.kind != RequestKind::Get && as_expected)
      ++result_.writes_acked[static_cast<int>(r.info.kind)];
    if (r.measured) {
      ++result_.responses;
      result_.bytes_read += c.resp_bytes;
      if (status >= 0 && status < kStatusSlots)
        ++status_counts_[static_cast<std::size_t>(status)];
      else
        ++result_.statuses[status];
      const std::int64_t latency = now - r.started_ns;
      result_.latency.record(latency);
      if (SecondStats* sec = series_at(now)) {
        ++sec->responses;
        sec->latency.record(latency);
      } else {
        ++result_.drain_responses;
      }
      if (!as_expected) {
        count_error(ErrorKind::Status, now);
      } else if (status == 200) {
        ++result_.ok_responses;
        result_.ok_body_bytes += static_cast<std::uint64_t>(c.resp.content_length);
        if (c.keep_body && !check_json_body(c.body, r.info)) count_error(ErrorKind::Body, now);
      }
    }
    if (c.ring_count == 0) c.state = ConnState::Idle;
    c.head_done = false;
    // Reconnect at once, not an error (but requests still in flight on it are reset).
    if (c.resp.close) return close_conn(i, now);
  }

  // Every request in flight on connection i is lost: count each once, drop the connection.
  void fail_request(std::size_t i, ErrorKind kind) {
    Conn& c = conns_[i];
    const std::int64_t now = mono_ns();
    fail_all(c, kind, now);
    c.state = ConnState::Idle;
    close_conn(i, now);
  }
  void fail_all(Conn& c, ErrorKind kind, std::int64_t now) {
    for (; c.ring_count > 0; c.pop()) {
      --in_flight_;
      if (c.front().measured) count_error(kind, now);
    }
  }

  // --- closing -------------------------------------------------------------------------------
  // Closes the socket now; the reconnect happens in on_tick(), never inside an event callback,
  // and the new generation makes any already-fetched event for the old socket a no-op.
  void close_conn(std::size_t i, std::int64_t retry_at) {
    Conn& c = conns_[i];
    if (c.ring_count > 0) fail_all(c, ErrorKind::Reset, mono_ns());
    if (c.fd >= 0) {
      epoll_ctl(epfd_, EPOLL_CTL_DEL, c.fd, nullptr);
      ::close(c.fd);
    }
    c.fd = -1;
    ++c.generation;
    c.state = ConnState::Backoff;
    c.retry_at = retry_at;
    c.head.clear();
    c.head_done = false;
    ++backoff_count_;
  }

  // --- the loop ------------------------------------------------------------------------------
  void watch(std::size_t i, std::uint32_t events, int op) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = (std::uint64_t{conns_[i].generation} << 32) | i;
    watching_out_[i] = (events & EPOLLOUT) != 0;
    if (epoll_ctl(epfd_, op, conns_[i].fd, &ev) != 0) {
      // Cannot happen for a fresh socket; treat as a connection failure rather than abort.
      close_conn(i, mono_ns() + std::chrono::nanoseconds(limits::kReconnectBackoff).count());
    }
  }

  void dispatch(const epoll_event& ev) {
    if (ev.data.u64 == kTimerTag) {
      std::uint64_t expirations;
      [[maybe_unused]] const auto r = ::read(timerfd_, &expirations, sizeof expirations);
      if (armed_for_due_ && r > 0) result_.timer_lag.record(mono_ns() - armed_at_);
      return;
    }
    const auto i = static_cast<std::size_t>(ev.data.u64 & 0xffffffffu);
    const auto gen = static_cast<std::uint32_t>(ev.data.u64 >> 32);
    if (i >= conns_.size() || conns_[i].generation != gen || conns_[i].fd < 0) return;  // stale
    const std::int64_t now = mono_ns();
    Conn& c = conns_[i];
    if (c.state == ConnState::Connecting) {
      if (ev.events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) on_connected(i, now);
      return;
    }
    if (ev.events & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(i, now);
    if (conns_[i].generation == gen && conns_[i].state == ConnState::Sending &&
        (ev.events & EPOLLOUT))
      flush(i);
  }

  // Work that depends on the clock. Returns false when the run is over.
  bool on_tick(std::int64_t now) {
    if (open_loop()) {
      // Every request due by now joins the backlog; requests stop being scheduled at end.
      while (due_time(next_due_) <= now && due_time(next_due_) < times_.end) {
        if (in_window(due_time(next_due_))) ++result_.scheduled;
        ++next_due_;
      }
      result_.max_backlog = std::max<std::uint64_t>(result_.max_backlog, backlog());
      // The backlog is shared out over the free connections, each taking its share (up to its
      // room) in one write; one with room left is listed again for the rest.
      while (backlog() > 0 && !idle_.empty()) {
        while (backlog() > 0 && !idle_.empty()) {
          const std::uint64_t share = (backlog() + idle_.size() - 1) / idle_.size();
          const std::size_t i = idle_.back();
          idle_.pop_back();
          Conn& c = conns_[i];
          c.listed = false;
          if (!connected(c) || room(c) == 0) continue;  // closed or filled since it was listed
          const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(share, room(c)));
          for (std::size_t k = 0; k < n; ++k) enqueue(i, due_time(next_send_++));
          const std::uint32_t gen = c.generation;
          flush(i);
          if (c.generation == gen && room(c) > 0) relist_.push_back(i);
        }
        for (const std::size_t i : relist_) list_idle(i);
        relist_.clear();
      }
    }
    if (!open_loop() && now >= times_.start && now < times_.end) {
      while (!idle_.empty()) {
        const std::size_t i = idle_.back();
        idle_.pop_back();
        conns_[i].listed = false;
        if (connected(conns_[i])) refill(i, now);
      }
    }
    if (now >= next_scan_) {
      next_scan_ = now + std::chrono::nanoseconds(limits::kTimeoutScan).count();
      for (std::size_t i = 0; i < conns_.size(); ++i) {
        // The oldest request in flight was sent first: if it timed out, none behind it can be
        // answered before it.
        Conn& c = conns_[i];
        if (c.ring_count > 0 && now - c.front().sent_ns > config_.timeout.count())
          fail_request(i, ErrorKind::Timeout);
      }
    }
    if (backoff_count_ > 0 && now < times_.drain_end) {
      backoff_count_ = 0;
      for (std::size_t i = 0; i < conns_.size(); ++i) {
        if (conns_[i].state != ConnState::Backoff) continue;
        if (conns_[i].retry_at <= now)
          connect_conn(i, now);
        else
          ++backoff_count_;
      }
    }
    // A second of the series is complete: hand it over (for the progress line).
    if (second_of(now) != second_) flush_second();
    if (now >= times_.drain_end) return false;
    return !(now >= times_.end && in_flight_ == 0 && backlog() == 0);
  }

  // The one timer: the earliest of the next due request (only if a connection could take it),
  // the end of the window, the drain deadline, the timeout scan, the first reconnect and the
  // next second of the series.
  void arm_timer(std::int64_t now) {
    std::int64_t at = times_.drain_end;
    if (now < times_.end) at = std::min(at, times_.end);
    if (!open_loop() && !idle_.empty() && now < times_.start) at = std::min(at, times_.start);
    if (now >= times_.measure && now < times_.end)
      at = std::min(at, times_.measure + static_cast<std::int64_t>(second_of(now) + 1) * kSecondNs);
    bool for_due = false;
    if (open_loop() && !idle_.empty()) {
      const std::int64_t due = due_time(next_due_);
      if (due < times_.end && due <= at) {
        at = due;
        for_due = true;
      }
    }
    if (in_flight_ > 0 && next_scan_ < at) {
      at = next_scan_;
      for_due = false;
    }
    if (backoff_count_ > 0) {
      for (const auto& c : conns_) {
        if (c.state == ConnState::Backoff && c.retry_at < at) {
          at = c.retry_at;
          for_due = false;
        }
      }
    }
    armed_for_due_ = for_due;
    if (at == armed_at_) return;
    armed_at_ = at;
    itimerspec spec{};
    at = std::max<std::int64_t>(at, 1);  // it_value 0 would disarm
    spec.it_value.tv_sec = at / 1'000'000'000;
    spec.it_value.tv_nsec = at % 1'000'000'000;
    timerfd_settime(timerfd_, TFD_TIMER_ABSTIME, &spec, nullptr);
  }

  // Whatever is still pending is an error, never silently dropped.
  void finish() {
    for (std::size_t i = 0; i < conns_.size(); ++i)
      if (conns_[i].ring_count > 0) fail_request(i, ErrorKind::Timeout);
    for (std::uint64_t j = next_send_; j < next_due_; ++j)
      if (in_window(due_time(j))) count_error(ErrorKind::Unsent, due_time(j));
    // Requests that were due inside the window but not even counted as due yet (the loop woke
    // late at the very end) are unsent too.
    if (open_loop()) {
      for (std::uint64_t j = next_due_; due_time(j) < times_.end; ++j) {
        if (!in_window(due_time(j))) continue;
        ++result_.scheduled;
        count_error(ErrorKind::Unsent, due_time(j));
      }
    }
    flush_second();
    for (int s = 0; s < kStatusSlots; ++s)
      if (status_counts_[static_cast<std::size_t>(s)] > 0)
        result_.statuses[s] += status_counts_[static_cast<std::size_t>(s)];
    result_.seconds = static_cast<double>(times_.end - times_.measure) / 1e9;
  }

  const LoadConfig& config_;
  const unsigned index_;
  const Times times_;
  RequestMix mix_;
  std::vector<Conn> conns_;
  const std::size_t pipeline_;  // requests in flight per connection
  std::vector<bool> watching_out_;
  std::vector<char> recv_buf_;  // one per thread: a connection keeps only an unfinished head
  std::vector<std::uint64_t> status_counts_;
  SeriesCollector& series_;
  std::size_t second_ = 0;  // the second second_stats_ holds
  SecondStats second_stats_;
  int epfd_ = -1;
  int timerfd_ = -1;
  std::int64_t armed_at_ = -1;
  bool armed_for_due_ = false;  // the armed deadline is a request's due time
  std::int64_t next_scan_ = 0;
  std::size_t in_flight_ = 0;
  std::size_t backoff_count_ = 0;  // an upper bound of connections in Backoff
  // Connections free for the next due request (open loop: fewer than pipeline_ in flight), each
  // listed once (Conn::listed); an entry may be stale (closed or filled since), checked on use.
  std::vector<std::size_t> idle_;
  std::vector<std::size_t> relist_;  // on_tick() scratch
  std::uint64_t next_due_ = 0;       // open loop: first request not yet due
  std::uint64_t next_send_ = 0;      // open loop: first due request not yet sent
  LoadResult result_;
};

std::string human_ms(std::int64_t ns) { return fmt::format("{:.2f}ms", ns / 1e6); }

// --progress: one line per second of the window, a little after the workers handed it over.
void print_progress(const LoadConfig& config, const Times& times, SeriesCollector& series,
                    const std::atomic<unsigned>& running) {
  constexpr std::int64_t kGraceNs = 150'000'000;
  for (std::size_t s = 0; s < series.size(); ++s) {
    const std::int64_t at =
        std::min(times.measure + static_cast<std::int64_t>(s + 1) * kSecondNs, times.end) +
        kGraceNs;
    while (running.load() > 0 && mono_ns() < at)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (running.load() == 0 && s + 1 < series.size()) break;  // the run ended early (error)
    const SeriesPoint p = series.point(s);
    const double secs = std::min<double>(
        1.0, static_cast<double>(config.duration.count()) / 1e9 - static_cast<double>(s));
    fmt::print(stderr, "t={}s rps={:.0f} p50={} p99={} errors={}\n", s + 1,
               secs > 0 ? p.responses / secs : 0.0, human_ms(p.p50_ns), human_ms(p.p99_ns),
               p.errors);
  }
}

// A blocking loopback connection for fetch_post_products() (keep-alive) and http_get() (one
// request): not the hot path. `timeout` bounds each connect, send and receive.
class BlockingClient {
 public:
  BlockingClient(const Target& target, std::chrono::milliseconds timeout) : target_(target) {
    fd_ = ::socket(target.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return;
    timeval tv{};
    tv.tv_sec = timeout.count() / 1000;
    tv.tv_usec = (timeout.count() % 1000) * 1000;
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (::connect(fd_, reinterpret_cast<const sockaddr*>(&target.addr), target.addr_len) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~BlockingClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  BlockingClient(const BlockingClient&) = delete;
  BlockingClient& operator=(const BlockingClient&) = delete;
  [[nodiscard]] bool connected() const noexcept { return fd_ >= 0; }

  // GET `path`: the status (0 on any failure) and the body.
  int get(const std::string& path, std::string& body) {
    const std::string req =
        fmt::format("GET {} HTTP/1.1\r\nHost: {}\r\n\r\n", path, target_.host_header);
    for (std::size_t off = 0; off < req.size();) {
      const ssize_t n = ::send(fd_, req.data() + off, req.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return 0;
      off += static_cast<std::size_t>(n);
    }
    std::size_t head_end;
    while ((head_end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (buf_.size() > limits::kMaxResponseHead || !fill()) return 0;
    }
    ResponseHead head;
    if (!parse_head(std::string_view(buf_).substr(0, head_end + 4), head) ||
        head.content_length > limits::kMaxResponseBody)
      return 0;
    const auto len = static_cast<std::size_t>(head.content_length);
    while (buf_.size() < head_end + 4 + len)
      if (!fill()) return 0;
    body = buf_.substr(head_end + 4, len);
    buf_.erase(0, head_end + 4 + len);
    return head.status;
  }

 private:
  bool fill() {
    char chunk[16384];
    const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buf_.append(chunk, static_cast<std::size_t>(n));
    return true;
  }

  const Target& target_;
  int fd_ = -1;
  std::string buf_;
};

}  // namespace

LoadResult run_load(const LoadConfig& config) {
  // The connects are started at once; the first request is due kStartDelay later.
  const std::int64_t start = mono_ns() + std::chrono::nanoseconds(limits::kStartDelay).count();
  Times times{};
  times.start = start;
  times.measure = start + config.warmup.count();
  times.end = times.measure + config.duration.count();
  times.drain_end = times.end + std::chrono::nanoseconds(limits::kMaxDrain).count();

  std::optional<Scenario> own_scenario;
  if (config.scenario == nullptr)
    own_scenario = Scenario::custom(config.path_template, config.id_lo, config.id_hi);
  const Scenario& scenario = config.scenario ? *config.scenario : *own_scenario;

  SeriesCollector series(
      static_cast<std::size_t>((config.duration.count() + kSecondNs - 1) / kSecondNs));
  std::vector<std::unique_ptr<Worker>> workers;
  for (unsigned t = 0; t < config.threads; ++t) {
    const unsigned conns =
        config.connections / config.threads + (t < config.connections % config.threads ? 1 : 0);
    workers.push_back(std::make_unique<Worker>(config, scenario, t, conns, times, series));
  }
  std::vector<std::thread> threads;
  std::vector<std::exception_ptr> failures(config.threads);
  std::atomic<unsigned> running{config.threads};
  for (unsigned t = 0; t < config.threads; ++t) {
    threads.emplace_back([&, t] {
      try {
        workers[t]->run();
      } catch (...) {
        failures[t] = std::current_exception();
      }
      --running;
    });
  }
  if (config.progress) print_progress(config, times, series, running);
  for (auto& th : threads) th.join();
  for (auto& f : failures)
    if (f) std::rethrow_exception(f);

  LoadResult total;
  for (auto& w : workers) total.merge(w->result());
  total.seconds = static_cast<double>(config.duration.count()) / 1e9;
  total.series.clear();
  for (std::size_t s = 0; s < series.size(); ++s) total.series.push_back(series.point(s));
  return total;
}

std::chrono::nanoseconds max_run_time(const LoadConfig& config) noexcept {
  return std::chrono::nanoseconds(limits::kStartDelay) + config.warmup + config.duration +
         std::chrono::nanoseconds(limits::kMaxDrain);
}

std::size_t RampConfig::step_count() const noexcept {
  if (step <= 0 || max < start) return 1;
  // The relative slack absorbs the rounding of decimal rates: (0.3 - 0.1) / 0.1 < 2.
  return static_cast<std::size_t>(std::floor((max - start) / step + 1e-9)) + 1;
}

bool parse_ramp(std::string_view text, RampConfig& out, std::string& error) {
  const auto c1 = text.find(':');
  const auto c2 = c1 == std::string_view::npos ? c1 : text.find(':', c1 + 1);
  if (c2 == std::string_view::npos) {
    error = "expected START:STEP:MAX";
    return false;
  }
  double v[3] = {};
  const std::string_view parts[3] = {text.substr(0, c1), text.substr(c1 + 1, c2 - c1 - 1),
                                     text.substr(c2 + 1)};
  for (int k = 0; k < 3; ++k) {
    const auto part = parts[k];
    const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), v[k]);
    if (ec != std::errc{} || end != part.data() + part.size() || !std::isfinite(v[k])) {
      error = fmt::format("not a number: '{}'", part);
      return false;
    }
  }
  if (v[0] <= 0 || v[1] <= 0 || v[2] < v[0] || v[2] > 1e8) {
    error = "need 0 < START <= MAX <= 1e8 and STEP > 0";
    return false;
  }
  out.start = v[0];
  out.step = v[1];
  out.max = v[2];
  return true;
}

std::chrono::nanoseconds max_ramp_time(const LoadConfig& config, const RampConfig& ramp) noexcept {
  // run_ramp() runs each step as run_load() with the step's duration.
  const auto step = std::chrono::nanoseconds(limits::kStartDelay) + config.warmup +
                    ramp.step_duration + std::chrono::nanoseconds(limits::kMaxDrain);
  return static_cast<std::int64_t>(ramp.step_count()) * step;
}

RampResult run_ramp(const LoadConfig& config, const RampConfig& ramp) {
  RampResult out;
  const std::size_t n = ramp.step_count();
  for (std::size_t k = 0; k < n; ++k) {
    LoadConfig step_config = config;
    step_config.rate = ramp.start + static_cast<double>(k) * ramp.step;
    step_config.duration = ramp.step_duration;
    const LoadResult r = run_load(step_config);
    RampStep step;
    step.rate = step_config.rate;
    step.rps = r.seconds > 0 ? r.responses / r.seconds : 0;
    step.errors = r.error_total();
    step.p50_ns = r.latency.percentile_ns(50);
    step.p90_ns = r.latency.percentile_ns(90);
    step.p99_ns = r.latency.percentile_ns(99);
    step.max_ns = r.latency.max_ns();
    step.held = step.errors == 0 && r.responses > 0 && step.p99_ns <= ramp.slo_p99.count();
    if (config.progress)
      fmt::print(stderr, "ramp: rate {:.0f}/s: {:.0f} req/s, p99 {}, errors {}: {}\n", step.rate,
                 step.rps, human_ms(step.p99_ns), step.errors, step.held ? "held" : "missed");
    out.steps.push_back(step);
    const double seconds = out.total.seconds + r.seconds;
    out.total.merge(r);
    out.total.seconds = seconds;
    if (!step.held) break;
    out.held_rate = step.rate;
  }
  return out;
}

std::vector<PostProduct> fetch_post_products(const Target& target, const Scenario& scenario,
                                             std::size_t count, std::uint64_t seed,
                                             std::string& error) {
  constexpr auto kBudget = std::chrono::seconds(10);
  const auto deadline = std::chrono::steady_clock::now() + kBudget;
  BlockingClient client(target, std::chrono::milliseconds(2000));
  if (!client.connected()) {
    error = fmt::format("cannot connect to {}", target.host_header);
    return {};
  }
  const std::int64_t lo = scenario.id_lo();
  const std::int64_t hi = scenario.id_hi();
  count = static_cast<std::size_t>(
      std::min<std::int64_t>(static_cast<std::int64_t>(count), hi - lo + 1));
  Rng rng(seed ^ 0x5eed'f00d'cafe'beefULL);
  std::vector<std::int64_t> ids;
  while (ids.size() < count) {
    const std::int64_t id = rng.uniform(lo, hi);
    if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
  }
  std::vector<PostProduct> products;
  std::string body;
  for (const std::int64_t id : ids) {
    if (std::chrono::steady_clock::now() > deadline) {
      error = fmt::format("GET /reviews/meta took longer than {} s for {} products",
                          kBudget.count(), count);
      return {};
    }
    const int status = client.get(fmt::format("/reviews/meta?product_id={}", id), body);
    auto chars = status == 200 ? parse_meta_characteristics(body) : std::nullopt;
    if (!chars) {
      error =
          fmt::format("GET /reviews/meta?product_id={}: status {}, not a meta body", id, status);
      return {};
    }
    products.push_back(PostProduct{id, std::move(*chars)});
  }
  return products;
}

std::optional<std::pair<int, std::string>> http_get(const Target& target, const std::string& path,
                                                    std::chrono::milliseconds timeout) {
  BlockingClient client(target, timeout);
  if (!client.connected()) return std::nullopt;
  std::string body;
  const int status = client.get(path, body);
  if (status == 0) return std::nullopt;
  return std::pair{status, std::move(body)};
}

}  // namespace bench
