// tests/bench/stall_test.cpp: bench/loadgen.cpp against a tiny in-test HTTP server (its own
// thread) whose behaviour we control: a stall of 200 ms once a second, a fixed service time per
// request, and the status and body of its answers.
//
// What it shows (issue 7): a stall is visible in an open-loop run's p99, because latency runs
// from each request's due time and the requests due during the stall wait for it; a closed loop
// hides it, because each connection has just one request waiting during a stall and sends
// nothing meanwhile, so only `connections` slow samples a second meet thousands of fast ones.
// Observed on the shared 2-core box, 3 s runs: open loop at 500/s, p99 188-191 ms, 109-113 of
// 1,500 requests >= 100 ms (the first stall falls at the end of the first second); closed loop,
// 16 connections, 199k responses, p99 0.32 ms (ASan: 48k, 2-6 ms), max 200-213 ms, exactly 48
// requests >= 100 ms: 16 connections x 3 stalls.
//
// Only what is robust is asserted: the open loop's p99 >= 150 ms, the closed loop's slow
// requests bounded by connections x (the stalls that happened during its run, counted by the
// server, + the machine's own hiccups, counted by a watchdog thread), sums of the series, the
// ramp's stop rule.
#include "bench/loadgen.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

struct ServerBehaviour {
  std::chrono::milliseconds stall_every{0};  // 0: never stalls
  std::chrono::milliseconds stall_for{0};
  std::chrono::microseconds service{0};  // slept per request: the server's capacity
  bool bad_json = false;                 // 200 bodies that are not JSON
  bool writes_as_200 = false;            // answer POST/PUT with 200 instead of 201/204
  bool huge_length = false;              // 200 heads announcing a 1 TB body (a few bytes follow)
  // > 0: after answering this many requests on a connection, the next read that holds a
  // request is answered with an RST (SO_LINGER 0) instead: a reset mid-pipeline.
  unsigned reset_after = 0;
};

// Counts the times this machine stopped running us: a thread sleeping kTick that wakes more
// than kLate after it should have. A stall of the whole box delays the load generator and the
// server alike, so a test can allow for each one.
class Watchdog {
 public:
  static constexpr auto kTick = 10ms;
  static constexpr auto kLate = 50ms;
  Watchdog()
      : thread_([this] {
          while (!stop_) {
            const auto before = std::chrono::steady_clock::now();
            std::this_thread::sleep_for(kTick);
            if (std::chrono::steady_clock::now() - before > kTick + kLate) ++hiccups_;
          }
        }) {}
  ~Watchdog() {
    stop_ = true;
    thread_.join();
  }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;
  [[nodiscard]] unsigned hiccups() const { return hiccups_.load(); }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<unsigned> hiccups_{0};
  std::thread thread_;
};

// A single-threaded poll(2) server on 127.0.0.1:0. Answers each request in arrival order with
// GET: 200 {"product":"ID","product_id":"ID"} (ID from the query's product_id), POST: 201
// Created, PUT: 204. Stalls and service times are sleeps of the one thread, so they delay every
// connection, as a GC pause or a slow database would.
class TestServer {
 public:
  explicit TestServer(ServerBehaviour b) : b_(b) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int one = 1;
    setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
    REQUIRE(::listen(listen_fd_, 1024) == 0);
    socklen_t len = sizeof sa;
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&sa), &len);
    port_ = ntohs(sa.sin_port);
    thread_ = std::thread([this] { loop(); });
  }
  ~TestServer() {
    stop_ = true;
    thread_.join();
    for (auto& c : conns_) ::close(c.fd);
    ::close(listen_fd_);
  }
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  [[nodiscard]] std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // Stalls finished so far: read before and after a run, the difference counts every stall
  // that overlapped it (one still going at the start ends after the first read).
  [[nodiscard]] unsigned stalls() const { return stalls_.load(); }
  // Requests parsed and answered; reads that held two requests or more (pipelining seen from
  // this side); connections reset by reset_after. Read them after the run.
  [[nodiscard]] std::uint64_t received() const { return received_.load(); }
  [[nodiscard]] std::uint64_t answered() const { return answered_.load(); }
  [[nodiscard]] std::uint64_t multi_request_reads() const { return multi_reads_.load(); }
  [[nodiscard]] unsigned resets() const { return resets_.load(); }

 private:
  struct Client {
    int fd;
    std::string in;
    std::uint64_t answered = 0;
  };

  void loop() {
    auto next_stall = std::chrono::steady_clock::now() + b_.stall_every;
    std::vector<pollfd> fds;
    while (!stop_) {
      if (b_.stall_every.count() > 0 && std::chrono::steady_clock::now() >= next_stall) {
        std::this_thread::sleep_for(b_.stall_for);
        next_stall += b_.stall_every;
        ++stalls_;
      }
      fds.clear();
      fds.push_back({listen_fd_, POLLIN, 0});
      for (const auto& c : conns_) fds.push_back({c.fd, POLLIN, 0});
      if (::poll(fds.data(), fds.size(), 10) <= 0) continue;
      if (fds[0].revents & POLLIN) {
        const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd >= 0) {
          const int one = 1;
          setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          conns_.push_back({fd, {}});
        }
      }
      for (std::size_t i = 1; i < fds.size(); ++i) {
        if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        Client& c = conns_[i - 1];
        char buf[16384];
        const ssize_t n = ::recv(c.fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n <= 0) {
          ::close(c.fd);
          c.fd = -1;
          continue;
        }
        c.in.append(buf, static_cast<std::size_t>(n));
        answer_all(c);
        if (c.fd < 0) continue;  // reset
      }
      std::erase_if(conns_, [](const Client& c) { return c.fd < 0; });
    }
  }

  // Every complete request in c.in, in order.
  void answer_all(Client& c) {
    for (unsigned in_this_read = 0;; ++in_this_read) {
      if (in_this_read == 2) ++multi_reads_;
      const auto end = c.in.find("\r\n\r\n");
      if (end == std::string::npos) return;
      std::size_t body = 0;
      const auto cl = c.in.find("Content-Length: ");
      if (cl != std::string::npos && cl < end) body = std::stoul(c.in.substr(cl + 16));
      if (c.in.size() < end + 4 + body) return;
      const std::string head = c.in.substr(0, end);
      c.in.erase(0, end + 4 + body);
      ++received_;
      if (b_.reset_after > 0 && c.answered >= b_.reset_after) {
        const linger hard{1, 0};  // close(2) sends an RST
        setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
        ::close(c.fd);
        c.fd = -1;
        ++resets_;
        return;
      }
      if (b_.service.count() > 0) std::this_thread::sleep_for(b_.service);
      std::string resp;
      if (head.starts_with("GET ")) {
        std::string id = "0";
        const auto p = head.find("product_id=");
        if (p != std::string::npos) id = head.substr(p + 11, head.find_first_of(" &", p) - p - 11);
        const std::string body_text =
            b_.bad_json ? "not json" : R"({"product":")" + id + R"(","product_id":")" + id + "\"}";
        const std::string length =
            b_.huge_length ? "1000000000000" : std::to_string(body_text.size());
        resp = "HTTP/1.1 200 OK\r\nContent-Length: " + length + "\r\n\r\n" + body_text;
      } else if (b_.writes_as_200) {
        resp = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
      } else if (head.starts_with("POST ")) {
        resp = "HTTP/1.1 201 Created\r\nContent-Length: 7\r\n\r\nCreated";
      } else {
        resp = "HTTP/1.1 204 No Content\r\n\r\n";
      }
      // Blocking send of a few bytes into an empty socket buffer: never waits in practice.
      ::send(c.fd, resp.data(), resp.size(), MSG_NOSIGNAL);
      ++c.answered;
      ++answered_;
    }
  }

  ServerBehaviour b_;
  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::vector<Client> conns_;
  std::atomic<unsigned> stalls_{0};
  std::atomic<std::uint64_t> received_{0};
  std::atomic<std::uint64_t> answered_{0};
  std::atomic<std::uint64_t> multi_reads_{0};
  std::atomic<unsigned> resets_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

bench::LoadConfig config_for(const TestServer& server, const bench::Scenario& scenario) {
  std::string error;
  auto target = bench::parse_loopback_url(server.url(), error);
  REQUIRE(target);
  bench::LoadConfig c;
  c.target = *target;
  c.scenario = &scenario;
  c.connections = 16;
  c.threads = 1;
  c.duration = 3s;
  c.timeout = 5s;
  return c;
}

std::uint64_t sum_responses(const bench::LoadResult& r) {
  std::uint64_t n = 0;
  for (const auto& p : r.series) n += p.responses;
  return n;
}
std::uint64_t sum_errors(const bench::LoadResult& r) {
  std::uint64_t n = 0;
  for (const auto& p : r.series) n += p.errors;
  return n;
}

}  // namespace

TEST_CASE("a 200 ms stall every second: open loop shows it in p99, closed loop hides it",
          "[bench][loadgen][stall]") {
  TestServer server({.stall_every = 1000ms, .stall_for = 200ms});
  const bench::Scenario scenario = bench::Scenario::custom("/x?product_id=%d", 1, 100);
  bench::LoadConfig config = config_for(server, scenario);

  config.rate = 500;
  const bench::LoadResult open = bench::run_load(config);
  config.rate = 0;
  const Watchdog watchdog;
  const unsigned stalls_before = server.stalls();
  const bench::LoadResult closed = bench::run_load(config);
  const unsigned stalls = server.stalls() - stalls_before;
  const unsigned hiccups = watchdog.hiccups();

  const auto& ho = open.latency;
  const auto& hc = closed.latency;
  std::printf(
      "open loop 500/s:  %llu responses, p50 %.2f ms, p99 %.2f ms, max %.2f ms, >=100 ms: %llu\n"
      "closed loop c16: %llu responses, p50 %.3f ms, p99 %.3f ms, max %.2f ms, >=100 ms: %llu\n",
      static_cast<unsigned long long>(open.responses), ho.percentile_ns(50) / 1e6,
      ho.percentile_ns(99) / 1e6, ho.max_ns() / 1e6,
      static_cast<unsigned long long>(ho.count_at_least(100'000'000)),
      static_cast<unsigned long long>(closed.responses), hc.percentile_ns(50) / 1e6,
      hc.percentile_ns(99) / 1e6, hc.max_ns() / 1e6,
      static_cast<unsigned long long>(hc.count_at_least(100'000'000)));
  std::printf("closed loop: %u server stalls, %u machine hiccups during the run\n", stalls,
              hiccups);

  CHECK(open.error_total() == 0);
  CHECK(closed.error_total() == 0);
  CHECK(open.scheduled == 1500);
  CHECK(open.responses == 1500);
  // The stall, in the open loop's p99: ~20% of requests are due during a stall.
  CHECK(ho.percentile_ns(99) >= 150'000'000);
  CHECK(ho.count_at_least(100'000'000) >= open.responses / 40);
  // The closed loop saw the stalls too (its max), but each connection had one request waiting
  // per stall: at most connections x stalls slow samples. A stall of the machine itself (the
  // watchdog's hiccups) may add one slow sample per connection too. Latency measured from
  // anything but the send would make thousands.
  REQUIRE(stalls >= 2);  // 3 s with a stall every second
  CHECK(hc.max_ns() >= 150'000'000);
  CHECK(hc.count_at_least(100'000'000) <= 16u * (stalls + hiccups));
  CHECK(hc.count_at_least(100'000'000) < ho.count_at_least(100'000'000));

  // The series: one point a second, summing to the totals but for the drain; the open loop's
  // stalls in most seconds' p99.
  REQUIRE(open.series.size() == 3);
  REQUIRE(closed.series.size() == 3);
  CHECK(sum_responses(open) + open.drain_responses == open.responses);
  CHECK(sum_responses(closed) + closed.drain_responses == closed.responses);
  int stalled_seconds = 0;
  for (const auto& p : open.series) {
    std::printf("  open t: responses %llu p50 %.2f ms p99 %.2f ms\n",
                static_cast<unsigned long long>(p.responses), p.p50_ns / 1e6, p.p99_ns / 1e6);
    stalled_seconds += p.p99_ns >= 100'000'000;
  }
  CHECK(stalled_seconds >= 2);
}

TEST_CASE("series: errors land in their second and sum to the totals", "[bench][loadgen]") {
  // Nothing listens on this port (bound, never listening): every connect fails.
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
  socklen_t len = sizeof sa;
  getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  std::string error;
  auto target =
      bench::parse_loopback_url("http://127.0.0.1:" + std::to_string(ntohs(sa.sin_port)), error);
  REQUIRE(target);
  bench::LoadConfig c;
  c.target = *target;
  c.path_template = "/";
  c.connections = 2;
  c.duration = 1500ms;
  c.rate = 100;
  const bench::LoadResult r = bench::run_load(c);
  ::close(fd);
  CHECK(r.responses == 0);
  CHECK(r.errors[static_cast<int>(bench::ErrorKind::Connect)] > 0);
  CHECK(r.errors[static_cast<int>(bench::ErrorKind::Unsent)] == 150);
  REQUIRE(r.series.size() == 2);  // ceil(1.5 s)
  CHECK(sum_errors(r) + r.drain_errors == r.error_total());
  CHECK(r.series[0].errors > 0);
  CHECK(r.series[1].errors > 0);
}

TEST_CASE("statuses are checked per kind; writes counted when acknowledged", "[bench][loadgen]") {
  bench::Scenario scenario = [] {
    std::string error;
    return *bench::Scenario::named("mixed", 1'000, 10'000, std::nullopt, error);
  }();
  scenario.set_post_products({{950, {1, 2}}});

  SECTION("a server that acknowledges every write") {
    TestServer server({});
    bench::LoadConfig config = config_for(server, scenario);
    config.duration = 1s;
    config.warmup = 200ms;
    config.check_json = true;
    const bench::LoadResult r = bench::run_load(config);
    CHECK(r.error_total() == 0);
    CHECK(r.responses > 1000);
    for (int k = 1; k < bench::kRequestKinds; ++k) {
      INFO(bench::request_kind_name(static_cast<bench::RequestKind>(k)));
      CHECK(r.writes_acked[k] > 0);
      CHECK(r.writes_acked[k] == r.writes_sent[k]);  // the whole run, warmup included
    }
    // Measured statuses by kind: 201 = POST, 204 = PUT; all within the whole run's writes.
    CHECK(r.statuses.at(201) <= r.writes_acked[static_cast<int>(bench::RequestKind::Post)]);
    CHECK(r.ok_responses == r.statuses.at(200));
    // {"product":"950","product_id":"950"}: 34 to 38 bytes for ids 900..1000.
    CHECK(r.mean_body_bytes() > 33);
    CHECK(r.mean_body_bytes() < 39);
  }
  SECTION("a server that answers writes with 200: each one a status error, none acknowledged") {
    TestServer server({.writes_as_200 = true});
    bench::LoadConfig config = config_for(server, scenario);
    config.duration = 1s;
    const bench::LoadResult r = bench::run_load(config);
    const auto errors = r.errors[static_cast<int>(bench::ErrorKind::Status)];
    CHECK(errors > 0);
    CHECK(errors == r.error_total());
    CHECK(errors + r.ok_responses == r.responses);  // 200s of reads are fine, of writes not
    for (int k = 1; k < bench::kRequestKinds; ++k) CHECK(r.writes_acked[k] == 0);
  }
  SECTION("--check-json: a body that is not JSON is an error of kind body") {
    TestServer server({.bad_json = true});
    const bench::Scenario reads = bench::Scenario::custom("/reviews?product_id=%d", 1, 9);
    bench::LoadConfig config = config_for(server, reads);
    config.duration = 500ms;
    config.check_json = true;
    const bench::LoadResult r = bench::run_load(config);
    CHECK(r.responses > 0);
    CHECK(r.errors[static_cast<int>(bench::ErrorKind::Body)] == r.responses);
    config.check_json = false;
    CHECK(bench::run_load(config).error_total() == 0);
  }
}

TEST_CASE("series: under overload the drain stays out of the last second",
          "[bench][loadgen][series]") {
  // 2 ms of service per request on one thread: at most 500 responses a second. Offered 1,000/s
  // for 3 s, the backlog grows all along; what is still queued at the end is answered in the
  // drain (up to 2 s more). Counted in the last point, it would make a spike of up to three
  // times the server's throughput there.
  TestServer server({.service = 2000us});
  const bench::Scenario scenario = bench::Scenario::custom("/x", 1, 1);
  bench::LoadConfig config = config_for(server, scenario);
  config.rate = 1000;
  const bench::LoadResult r = bench::run_load(config);
  for (const auto& p : r.series)
    std::printf("  overload t: responses %llu errors %llu\n",
                static_cast<unsigned long long>(p.responses),
                static_cast<unsigned long long>(p.errors));
  std::printf("  drain: responses %llu errors %llu\n",
              static_cast<unsigned long long>(r.drain_responses),
              static_cast<unsigned long long>(r.drain_errors));
  REQUIRE(r.series.size() == 3);
  CHECK(r.drain_responses > 0);
  CHECK(sum_responses(r) + r.drain_responses == r.responses);
  CHECK(sum_errors(r) + r.drain_errors == r.error_total());
  // One second of this server: 500 responses, plus the 16 a stalled client may read late.
  CHECK(r.series.back().responses <= 500 + 16);
}

TEST_CASE("a Content-Length over kMaxResponseBody is a protocol error, not an allocation",
          "[bench][loadgen]") {
  TestServer server({.huge_length = true});
  const bench::Scenario scenario = bench::Scenario::custom("/x?product_id=%d", 1, 9);
  bench::LoadConfig config = config_for(server, scenario);
  config.duration = 300ms;
  config.connections = 2;
  config.check_json = true;  // reserves the body it collects: the length must be refused first
  const bench::LoadResult r = bench::run_load(config);
  CHECK(r.responses == 0);
  CHECK(r.errors[static_cast<int>(bench::ErrorKind::Protocol)] > 0);
  std::string error;
  const auto target = bench::parse_loopback_url(server.url(), error);
  REQUIRE(target);
  CHECK_FALSE(bench::http_get(*target, "/x?product_id=1", 1s));
}

TEST_CASE("a worker whose timerfd cannot be created closes its epoll fd", "[bench][loadgen]") {
  // RLIMIT_NOFILE just above the lowest free descriptor: epoll_create1 gets it, timerfd_create
  // fails with EMFILE and run_load throws. The epoll fd must be closed again.
  const int lowest = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  REQUIRE(lowest >= 0);
  ::close(lowest);
  rlimit old{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &old) == 0);
  rlimit tight = old;
  tight.rlim_cur = static_cast<rlim_t>(lowest) + 1;
  bench::LoadConfig c;
  std::string error;
  c.target = *bench::parse_loopback_url("http://127.0.0.1:9", error);
  c.path_template = "/";
  c.connections = 1;
  c.duration = 100ms;
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &tight) == 0);
  bool threw = false;
  try {
    (void)bench::run_load(c);
  } catch (const std::runtime_error&) {
    threw = true;
  }
  ::setrlimit(RLIMIT_NOFILE, &old);
  CHECK(threw);
  CHECK(::fcntl(lowest, F_GETFD) == -1);  // not left open
}

TEST_CASE("ramp: steps until the first that misses the SLO; the last held rate is reported",
          "[bench][loadgen][ramp]") {
  // 1 ms of service per request on one thread: capacity at most 1,000 requests/s. Below it,
  // latency stays near the service time; above it, the queue grows for the whole step: at
  // 1,400/s the last 1% of a 1 s step waits at least 0.4 x 0.99 s, past the 250 ms bound.
  // The bound is generous below capacity: a loaded machine or ASan oversleeps the 1 ms, and
  // a stall of the box shorter than 250 ms does not make the first step miss.
  TestServer server({.service = 1000us});
  const bench::Scenario scenario = bench::Scenario::custom("/x", 1, 1);
  bench::LoadConfig config = config_for(server, scenario);
  config.warmup = 200ms;  // per step: part of the time bound below
  bench::RampConfig ramp;
  ramp.start = 200;
  ramp.step = 400;
  ramp.max = 2600;
  ramp.slo_p99 = 250ms;
  ramp.step_duration = 1s;
  const auto started = std::chrono::steady_clock::now();
  const bench::RampResult r = bench::run_ramp(config, ramp);
  const auto elapsed = std::chrono::steady_clock::now() - started;
  for (const auto& s : r.steps)
    std::printf("ramp step %.0f/s: %.0f req/s p99 %.2f ms errors %llu %s\n", s.rate, s.rps,
                s.p99_ns / 1e6, static_cast<unsigned long long>(s.errors),
                s.held ? "held" : "missed");
  REQUIRE(!r.steps.empty());
  CHECK(ramp.step_count() == 7);
  // Each step's verdict follows from its own figures.
  for (const auto& s : r.steps) {
    INFO("rate " << s.rate);
    CHECK(s.held == (s.errors == 0 && s.rps > 0 && s.p99_ns <= ramp.slo_p99.count()));
    if (&s != &r.steps.front()) CHECK(s.rate == (&s)[-1].rate + ramp.step);
  }
  // The ramp stops at the first miss, which must come (2,600/s is far past capacity): the
  // steps that held are exactly those before it, at least the first one held, and held_rate
  // is the rate of the last of them.
  std::size_t first_miss = 0;
  while (first_miss < r.steps.size() && r.steps[first_miss].held) ++first_miss;
  REQUIRE(first_miss < r.steps.size());
  CHECK(first_miss + 1 == r.steps.size());
  const auto& miss = r.steps[first_miss];
  CHECK((miss.p99_ns > ramp.slo_p99.count() || miss.errors > 0));
  CHECK(first_miss >= 1);
  CHECK(r.held_rate == (first_miss >= 1 ? r.steps[first_miss - 1].rate : 0.0));
  CHECK(r.held_rate <= 1000);
  // The total: every step's requests, the drains apart; within the bound `run` waits for.
  std::uint64_t series_total = 0;
  for (const auto& p : r.total.series) series_total += p.responses;
  CHECK(series_total + r.total.drain_responses == r.total.responses);
  CHECK(r.total.series.size() == r.steps.size());
  CHECK(elapsed <= bench::max_ramp_time(config, ramp));
}

namespace {
std::uint64_t err(const bench::LoadResult& r, bench::ErrorKind k) {
  return r.errors[static_cast<int>(k)];
}
}  // namespace

TEST_CASE("--pipeline 8: one response per request, in order, and really pipelined",
          "[bench][loadgen][pipeline]") {
  // Ids from a wide range with --check-json: the server echoes each request's id, so a response
  // matched to the wrong request (out of FIFO order) is an error of kind body.
  TestServer server({});
  const bench::Scenario scenario = bench::Scenario::custom("/x?product_id=%d", 1, 1'000'000);
  bench::LoadConfig config = config_for(server, scenario);
  config.connections = 4;
  config.pipeline = 8;
  config.duration = 1s;
  config.check_json = true;
  const bench::LoadResult r = bench::run_load(config);
  std::printf("pipeline 8 closed: %llu responses, %llu multi-request reads of %llu requests\n",
              static_cast<unsigned long long>(r.responses),
              static_cast<unsigned long long>(server.multi_request_reads()),
              static_cast<unsigned long long>(server.received()));
  CHECK(r.responses > 1000);
  CHECK(r.error_total() == 0);
  CHECK(r.ok_responses == r.responses);
  // Every request the client sent got exactly one response, and the server saw exactly those
  // (no warm-up: every request is measured; the drain waits for the last ones).
  CHECK(r.sent == r.responses);
  CHECK(server.received() == r.responses);
  CHECK(server.answered() == r.responses);
  CHECK(sum_responses(r) + r.drain_responses == r.responses);
  // Several requests in one read of the server, at least sometimes: they were written back to
  // back without waiting for the answers.
  CHECK(server.multi_request_reads() > 0);

  // The open loop: due requests go to connections with room, all answered, in order.
  config.rate = 4000;
  config.connections = 2;
  const unsigned long long before = server.received();
  const bench::LoadResult o = bench::run_load(config);
  CHECK(o.scheduled >= 3900);
  CHECK(o.error_total() == 0);
  CHECK(o.sent == o.scheduled);
  CHECK(o.responses == o.scheduled);
  CHECK(server.received() - before == o.responses);
}

TEST_CASE("--pipeline 8: a reset mid-pipeline fails every request in flight, each once",
          "[bench][loadgen][pipeline]") {
  // After 20 answers on a connection, the server resets it on the next read holding a request:
  // the client has up to 8 requests in flight on it then.
  TestServer server({.reset_after = 20});
  const bench::Scenario scenario = bench::Scenario::custom("/x?product_id=%d", 1, 1'000'000);
  bench::LoadConfig config = config_for(server, scenario);
  config.connections = 4;
  config.pipeline = 8;
  config.duration = 500ms;
  config.check_json = true;
  const bench::LoadResult r = bench::run_load(config);
  const std::uint64_t resets = err(r, bench::ErrorKind::Reset);
  std::printf("pipeline 8 resets: %u connections reset, %llu requests reset, %llu responses\n",
              server.resets(), static_cast<unsigned long long>(resets),
              static_cast<unsigned long long>(r.responses));
  REQUIRE(server.resets() > 0);
  CHECK(r.responses > 0);
  // Each request the client sent ends once: answered or reset, nothing else.
  CHECK(r.sent == r.responses + resets);
  CHECK(r.error_total() == resets);
  CHECK(sum_responses(r) + r.drain_responses == r.responses);
  CHECK(sum_errors(r) + r.drain_errors == resets);
  // Nothing answered is lost, nothing is answered twice; the server only answers what it got.
  CHECK(r.responses <= server.answered());
  CHECK(server.answered() <= server.received());
  // Every reset hits at least the request that triggered it, and mostly more: the whole
  // pipeline of that connection (up to 8).
  CHECK(resets >= server.resets());
  CHECK(resets > server.resets());
  CHECK(resets <= 8ULL * server.resets());
}
