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
// requests bounded by connections x stalls, sums of the series, the ramp's stop rule.
#include "bench/loadgen.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
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

 private:
  struct Client {
    int fd;
    std::string in;
  };

  void loop() {
    auto next_stall = std::chrono::steady_clock::now() + b_.stall_every;
    std::vector<pollfd> fds;
    while (!stop_) {
      if (b_.stall_every.count() > 0 && std::chrono::steady_clock::now() >= next_stall) {
        std::this_thread::sleep_for(b_.stall_for);
        next_stall += b_.stall_every;
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
      }
      std::erase_if(conns_, [](const Client& c) { return c.fd < 0; });
    }
  }

  // Every complete request in c.in, in order.
  void answer_all(Client& c) {
    for (;;) {
      const auto end = c.in.find("\r\n\r\n");
      if (end == std::string::npos) return;
      std::size_t body = 0;
      const auto cl = c.in.find("Content-Length: ");
      if (cl != std::string::npos && cl < end) body = std::stoul(c.in.substr(cl + 16));
      if (c.in.size() < end + 4 + body) return;
      const std::string head = c.in.substr(0, end);
      c.in.erase(0, end + 4 + body);
      if (b_.service.count() > 0) std::this_thread::sleep_for(b_.service);
      std::string resp;
      if (head.starts_with("GET ")) {
        std::string id = "0";
        const auto p = head.find("product_id=");
        if (p != std::string::npos) id = head.substr(p + 11, head.find_first_of(" &", p) - p - 11);
        const std::string body_text =
            b_.bad_json ? "not json" : R"({"product":")" + id + R"(","product_id":")" + id + "\"}";
        resp = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body_text.size()) +
               "\r\n\r\n" + body_text;
      } else if (b_.writes_as_200) {
        resp = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
      } else if (head.starts_with("POST ")) {
        resp = "HTTP/1.1 201 Created\r\nContent-Length: 7\r\n\r\nCreated";
      } else {
        resp = "HTTP/1.1 204 No Content\r\n\r\n";
      }
      // Blocking send of a few bytes into an empty socket buffer: never waits in practice.
      ::send(c.fd, resp.data(), resp.size(), MSG_NOSIGNAL);
    }
  }

  ServerBehaviour b_;
  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::vector<Client> conns_;
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
  const bench::LoadResult closed = bench::run_load(config);

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

  CHECK(open.error_total() == 0);
  CHECK(closed.error_total() == 0);
  CHECK(open.scheduled == 1500);
  CHECK(open.responses == 1500);
  // The stall, in the open loop's p99: ~20% of requests are due during a stall.
  CHECK(ho.percentile_ns(99) >= 150'000'000);
  CHECK(ho.count_at_least(100'000'000) >= open.responses / 40);
  // The closed loop saw the stalls too (its max), but each connection had one request waiting
  // per stall: at most connections x (stalls in 3 s, +1 for the edges) slow samples.
  CHECK(hc.max_ns() >= 150'000'000);
  CHECK(hc.count_at_least(100'000'000) <= 16u * 4);
  CHECK(hc.count_at_least(100'000'000) < ho.count_at_least(100'000'000));

  // The series: one point a second, summing to the totals; the open loop's stalls in most
  // seconds' p99.
  REQUIRE(open.series.size() == 3);
  REQUIRE(closed.series.size() == 3);
  CHECK(sum_responses(open) == open.responses);
  CHECK(sum_responses(closed) == closed.responses);
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
  CHECK(sum_errors(r) == r.error_total());
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

TEST_CASE("ramp: steps until the first that misses the SLO; the last held rate is reported",
          "[bench][loadgen][ramp]") {
  // 1 ms of service per request on one thread: capacity under 1,000 requests/s. Below it,
  // latency stays near the service time; above it, the queue grows for the whole step.
  TestServer server({.service = 1000us});
  const bench::Scenario scenario = bench::Scenario::custom("/x", 1, 1);
  bench::LoadConfig config = config_for(server, scenario);
  bench::RampConfig ramp;
  ramp.start = 250;
  ramp.step = 250;
  ramp.max = 2500;
  ramp.slo_p99 = 100ms;  // generous: a loaded machine or ASan oversleeps the 1 ms
  ramp.step_duration = 1s;
  const bench::RampResult r = bench::run_ramp(config, ramp);
  for (const auto& s : r.steps)
    std::printf("ramp step %.0f/s: %.0f req/s p99 %.2f ms errors %llu %s\n", s.rate, s.rps,
                s.p99_ns / 1e6, static_cast<unsigned long long>(s.errors),
                s.held ? "held" : "missed");
  REQUIRE(!r.steps.empty());
  CHECK(ramp.step_count() == 10);
  // The rule: every step but the last held; the last missed (capacity is far below 2,500/s);
  // held_rate is the rate of the last held step.
  CHECK_FALSE(r.steps.back().held);
  for (std::size_t i = 0; i + 1 < r.steps.size(); ++i) CHECK(r.steps[i].held);
  CHECK(r.held_rate == (r.steps.size() >= 2 ? r.steps[r.steps.size() - 2].rate : 0));
  CHECK(r.held_rate < 1250);  // 1 ms per request cannot hold 1,250/s
  CHECK((r.steps.back().p99_ns > 100'000'000 || r.steps.back().errors > 0));
  // The total: every step's requests.
  std::uint64_t series_total = 0;
  for (const auto& p : r.total.series) series_total += p.responses;
  CHECK(series_total == r.total.responses);
  CHECK(r.total.series.size() == r.steps.size());
}
