// Integration tests over real sockets against a spawned `reviewsd serve` (REVIEWSD_BIN), on
// 127.0.0.1 only. Every wait is bounded; every process started here is killed here.
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/http_test.h"

#include <catch2/catch.hpp>

#include <chrono>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// The engine tests run with the /debug/* routes on (slow handlers for pipelining and drain).
class Server : public testenv::ServerProcess {
 public:
  explicit Server(std::vector<std::string> extra = {})
      : ServerProcess(with_debug(std::move(extra))) {}

 private:
  static std::vector<std::string> with_debug(std::vector<std::string> extra) {
    extra.push_back("--debug-routes");
    return extra;
  }
};
using Client = testenv::HttpClient;
using Response = testenv::HttpResponse;

const std::string kGet = "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n";

}  // namespace

TEST_CASE("settings exported in the test's environment do not reach the servers it starts",
          "[server][integration]") {
  // Values a server would refuse at start (a usage error, no "listening on" line), as a
  // developer's shell might hold after trying a deployment. Neither is an option ServerProcess
  // passes as a flag, which would win over the environment.
  const testenv::ScopedEnv cache_mb("REVIEWSD_CACHE_MB", "not-a-number");
  const testenv::ScopedEnv config("REVIEWSD_CONFIG", "/nonexistent/reviewsd.conf");
  Server srv;  // fails unless it starts listening
  Client c(srv.port());
  CHECK(c.request("GET", "/healthz").status == 200);
}

TEST_CASE("keep-alive: several requests on one connection", "[server][integration]") {
  Server srv;
  Client c(srv.port());
  for (int i = 0; i < 5; ++i) {
    c.send(kGet);
    const auto r = c.read_response();
    CHECK(r.status == 200);
    CHECK(r.body == "ok");
    CHECK(r.has_header("Access-Control-Allow-Origin: *"));
    CHECK_FALSE(r.has_header("Connection: close"));
  }
  c.send("GET /healthz HTTP/1.0\r\n\r\n");  // HTTP/1.0 without keep-alive: answered, then closed
  CHECK(c.read_response().has_header("Connection: close"));
  CHECK(c.at_eof());
}

TEST_CASE("routing: HEAD, OPTIONS, 404, 405, bench route", "[server][integration]") {
  Server srv({"--cors-origin", "https://shop.example"});
  Client c(srv.port());
  c.send("HEAD /healthz/ HTTP/1.1\r\n\r\n");
  auto r = c.read_response(true);
  CHECK(r.status == 200);
  CHECK(r.has_header("Content-Length: 2"));
  CHECK(r.has_header("Access-Control-Allow-Origin: https://shop.example"));
  c.send("OPTIONS /healthz HTTP/1.1\r\nOrigin: https://shop.example\r\n\r\n");
  r = c.read_response();
  CHECK(r.status == 204);
  CHECK(r.has_header("Access-Control-Allow-Methods: GET, HEAD, OPTIONS"));
  c.send("GET /nope HTTP/1.1\r\n\r\n");
  r = c.read_response();
  CHECK(r.status == 404);
  CHECK(r.body == "Not Found");
  CHECK(r.has_header("Content-Type: text/plain; charset=utf-8"));
  c.send("DELETE /healthz HTTP/1.1\r\n\r\n");
  r = c.read_response();
  CHECK(r.status == 405);
  CHECK(r.has_header("Allow: GET, HEAD, OPTIONS"));
  c.send("GET /bench/fixed HTTP/1.1\r\n\r\n");
  r = c.read_response();
  CHECK(r.status == 200);
  CHECK(r.body.size() == 1536);
  CHECK(r.has_header("Content-Type: application/json; charset=utf-8"));
}

TEST_CASE("pipelined requests are answered in order, slow ones included",
          "[server][integration][pipelining]") {
  Server srv;
  Client c(srv.port());
  std::string batch;
  const std::vector<std::string> targets = {
      "/healthz", "/debug/delay?ms=150", "/nope", "/debug/delay?ms=20", "/healthz", "/bench/fixed"};
  for (int round = 0; round < 10; ++round)
    for (const auto& t : targets) batch += "GET " + t + " HTTP/1.1\r\n\r\n";
  c.send(batch);
  for (int round = 0; round < 10; ++round) {
    CHECK(c.read_response().body == "ok");
    CHECK(c.read_response().body == "delayed");
    CHECK(c.read_response().status == 404);
    CHECK(c.read_response().body == "delayed");
    CHECK(c.read_response().body == "ok");
    CHECK(c.read_response().body.size() == 1536);
  }
}

TEST_CASE("bad requests get their status and a close", "[server][integration]") {
  Server srv;
  const std::vector<std::pair<std::string, int>> cases = {
      {"GET / HTTP/1.1\r\nX: a\rContent-Length: 5\r\n\r\nhello", 400},
      {"FOO / HTTP/1.1\r\n\r\n", 501},
      {"GET / HTTP/2.0\r\n\r\n", 505},
      {"GET /" + std::string(9000, 'a') + " HTTP/1.1\r\n\r\n", 414},
      {"POST /healthz HTTP/1.1\r\nContent-Length: 70000\r\n\r\n", 413},
      {"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", 400},
  };
  const int baseline = srv.fd_count();
  for (const auto& [bytes, status] : cases) {
    Client c(srv.port());
    c.send(kGet + bytes + kGet);  // the good request before is answered, nothing after
    CHECK(c.read_response().status == 200);
    const auto r = c.read_response();
    CHECK(r.status == status);
    CHECK(r.has_header("Connection: close"));
    CHECK(c.at_eof());
  }
  CHECK(srv.fds_back_to(baseline));
}

TEST_CASE("a slow client gets 408 and is closed; an idle one is closed",
          "[server][integration][timeouts]") {
  Server srv({"--head-timeout-ms", "300", "--idle-timeout-ms", "400"});
  Client slow(srv.port());
  const auto start = Clock::now();
  slow.send("GET /healthz HTTP/1.1\r\nHost");
  std::this_thread::sleep_for(100ms);
  slow.send(": t\r\n");  // progress does not extend the head timeout
  const auto r = slow.read_response();
  CHECK(r.status == 408);
  CHECK(slow.at_eof());
  CHECK(Clock::now() - start < 2s);

  Client silent(srv.port());  // connects and sends nothing: the head timeout applies too
  CHECK(silent.read_response().status == 408);

  Client idle(srv.port());
  idle.send(kGet);
  CHECK(idle.read_response().status == 200);
  const auto t0 = Clock::now();
  CHECK(idle.at_eof());  // closed by the idle timeout, without a response
  CHECK(Clock::now() - t0 >= 300ms);
}

TEST_CASE("a client that stops reading is dropped by the write timeout",
          "[server][integration][timeouts]") {
  Server srv({"--write-timeout-ms", "300"});
  const int baseline = srv.fd_count();
  {
    Client c(srv.port(), 4096);
    std::string batch;
    for (int i = 0; i < 100; ++i) batch += "GET /bench/fixed HTTP/1.1\r\n\r\n";
    // Send (never blocking) until the server stops reading us: its queue is full because its
    // writes are blocked, because we read nothing.
    const auto until = Clock::now() + 2s;
    std::size_t sent = 0;
    while (Clock::now() < until) {
      const ssize_t n = ::send(c.fd(), batch.data(), batch.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n < 0 && errno != EAGAIN) break;  // reset: the server already dropped us
      if (n < 0) {
        std::this_thread::sleep_for(10ms);
        continue;
      }
      sent += static_cast<std::size_t>(n);
    }
    CHECK(sent > 0);
    CHECK(srv.fds_back_to(baseline, 3s));
  }
  Client after(srv.port());  // still serving
  after.send(kGet);
  CHECK(after.read_response().status == 200);
}

TEST_CASE("connection cap: extra connections are shed, service recovers",
          "[server][integration][limits]") {
  Server srv({"--max-connections", "3"});
  const int baseline = srv.fd_count();
  std::vector<std::unique_ptr<Client>> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(std::make_unique<Client>(srv.port()));
    held.back()->send(kGet);
    REQUIRE(held.back()->read_response().status == 200);
  }
  {
    Client extra(srv.port());  // the kernel completes the handshake; the server closes it
    CHECK(extra.at_eof());
  }
  held.pop_back();
  std::this_thread::sleep_for(100ms);
  Client again(srv.port());
  again.send(kGet);
  CHECK(again.read_response().status == 200);
  CHECK(srv.log().find("connection limit (3) reached") != std::string::npos);
  held.clear();
  again.close();
  CHECK(srv.fds_back_to(baseline));
}

TEST_CASE("SIGTERM drains: in-flight requests complete, exit 0", "[server][integration][drain]") {
  Server srv({"--drain-timeout-ms", "3000"});
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 8; ++i) {
    clients.push_back(std::make_unique<Client>(srv.port()));
    clients.back()->send("GET /debug/delay?ms=400 HTTP/1.1\r\n\r\n");
  }
  Client idle(srv.port());
  idle.send(kGet);
  REQUIRE(idle.read_response().status == 200);
  std::this_thread::sleep_for(100ms);  // all eight are in flight now
  const auto t0 = Clock::now();
  kill(srv.pid(), SIGTERM);
  for (auto& c : clients) {
    const auto r = c->read_response();
    CHECK(r.status == 200);
    CHECK(r.body == "delayed");
    CHECK(r.has_header("Connection: close"));
    CHECK(c->at_eof());
  }
  CHECK(idle.at_eof());  // idle keep-alive connections are closed
  CHECK(srv.terminate_and_wait(3s) == 0);
  CHECK(Clock::now() - t0 < 3s);
  CHECK(srv.log().find("draining") != std::string::npos);
}

TEST_CASE("drain timeout cuts requests that take too long", "[server][integration][drain]") {
  Server srv({"--drain-timeout-ms", "200"});
  Client c(srv.port());
  c.send("GET /debug/delay?ms=5000 HTTP/1.1\r\n\r\n");
  std::this_thread::sleep_for(100ms);
  const auto t0 = Clock::now();
  CHECK(srv.terminate_and_wait(3s) == 0);
  CHECK(Clock::now() - t0 < 2s);
  CHECK(c.at_eof());
}

TEST_CASE("many connections open and close: fds back to baseline",
          "[server][integration][limits]") {
  Server srv;
  const int baseline = srv.fd_count();
  {
    std::vector<std::unique_ptr<Client>> cs;
    for (int i = 0; i < 200; ++i) cs.push_back(std::make_unique<Client>(srv.port()));
    for (auto& c : cs) c->send(kGet);
    for (auto& c : cs) CHECK(c->read_response().status == 200);
    for (int i = 0; i < 50; ++i) cs[i]->send("GET /healthz HTTP/1.1\r\nHo");  // left half-sent
  }
  CHECK(srv.fds_back_to(baseline));
}

TEST_CASE("IPv6: a [::1] listener answers next to an IPv4 one", "[server][integration]") {
  Server server({"--listen", "[::1]:0", "--listen", "127.0.0.1:0"});
  std::smatch m;
  const std::string log = server.log();
  REQUIRE(std::regex_search(log, m, std::regex(R"(listening on \[::1\]:([0-9]+))")));
  const int fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in6 addr{};
  addr.sin6_family = AF_INET6;
  addr.sin6_port = htons(static_cast<std::uint16_t>(std::stoi(m[1])));
  addr.sin6_addr = in6addr_loopback;
  timeval tv{5, 0};  // a bug fails the test, never hangs it
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::write(fd, kGet.data(), kGet.size()) == static_cast<ssize_t>(kGet.size()));
  std::string got;
  char buf[4096];
  while (got.find("\r\n\r\nok") == std::string::npos) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  CHECK(got.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(got.find("\r\n\r\nok") != std::string::npos);
  // The IPv4 listener of the same server still answers.
  Client c(server.port());
  CHECK(c.request("GET", "/healthz").status == 200);
}

namespace {
using testenv::environment_of;
using testenv::has_var;
// Starts a server in this process's environment, checks that it answers (after a re-exec it is
// the new image that serves), and returns the environment it started with.
std::vector<std::string> environment_of_a_server() {
  Server srv;
  Client c(srv.port());
  c.send(kGet);
  CHECK(c.read_response().status == 200);
  return environment_of(srv.pid());
}
}  // namespace

TEST_CASE("serve restarts itself once with its malloc settings; GLIBC_TUNABLES opts out",
          "[server][integration]") {
  // The test's own GLIBC_TUNABLES (if any) is set aside: the children inherit this environment.
  {
    const testenv::ScopedEnv none("GLIBC_TUNABLES", std::nullopt);
    const auto tuned = environment_of_a_server();
    CHECK(has_var(tuned, "REVIEWSD_MALLOC_TUNED=1"));
    CHECK(has_var(tuned, "GLIBC_TUNABLES=glibc.malloc.hugetlb=1"));
  }
  // An operator's setting, even an empty one, wins.
  const testenv::ScopedEnv empty("GLIBC_TUNABLES", "");
  const auto left_alone = environment_of_a_server();
  CHECK_FALSE(has_var(left_alone, "REVIEWSD_MALLOC_TUNED="));
  CHECK(has_var(left_alone, "GLIBC_TUNABLES="));
}
