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

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A `reviewsd serve` child on 127.0.0.1:<free port>; killed (SIGKILL) if still running at the end.
class Server {
 public:
  explicit Server(std::vector<std::string> extra = {}) {
    const char* bin = std::getenv("REVIEWSD_BIN");
    REQUIRE(bin != nullptr);
    char tmpl[] = "/tmp/reviewsd-serve-test-XXXXXX";
    const int logfd = mkstemp(tmpl);
    REQUIRE(logfd >= 0);
    log_path_ = tmpl;
    std::vector<std::string> args{bin,         "serve", "--listen",      "127.0.0.1:0",
                                  "--threads", "2",     "--debug-routes"};
    args.insert(args.end(), extra.begin(), extra.end());
    pid_ = fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      dup2(logfd, 2);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(bin, argv.data());
      _exit(127);
    }
    close(logfd);
    const auto deadline = Clock::now() + 5s;
    const std::regex re("listening on 127\\.0\\.0\\.1:([0-9]+)");
    while (Clock::now() < deadline && port_ == 0) {
      std::smatch m;
      const std::string text = log();
      if (std::regex_search(text, m, re))
        port_ = static_cast<std::uint16_t>(std::stoi(m[1]));
      else
        std::this_thread::sleep_for(20ms);
    }
    REQUIRE(port_ != 0);
  }
  ~Server() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    unlink(log_path_.c_str());
  }
  [[nodiscard]] std::uint16_t port() const { return port_; }
  [[nodiscard]] pid_t pid() const { return pid_; }
  [[nodiscard]] std::string log() const {
    std::ifstream in(log_path_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  [[nodiscard]] int fd_count() const {
    int n = 0;
    DIR* d = opendir(("/proc/" + std::to_string(pid_) + "/fd").c_str());
    if (!d) return -1;
    while (const dirent* e = readdir(d))
      if (e->d_name[0] != '.') ++n;
    closedir(d);
    return n;
  }
  // Waits (bounded) until the server's fd count is back to `baseline`.
  [[nodiscard]] bool fds_back_to(int baseline, std::chrono::milliseconds within = 3s) const {
    const auto deadline = Clock::now() + within;
    while (Clock::now() < deadline) {
      if (fd_count() == baseline) return true;
      std::this_thread::sleep_for(20ms);
    }
    return fd_count() == baseline;
  }
  // SIGTERM, then waits up to `within` for exit; returns the exit status (-1: still running).
  int terminate_and_wait(std::chrono::milliseconds within) {
    kill(pid_, SIGTERM);
    const auto deadline = Clock::now() + within;
    while (Clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(10ms);
    }
    return -1;
  }

 private:
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
  std::string log_path_;
};

struct Response {
  int status = 0;
  std::string head, body;
  [[nodiscard]] bool has_header(const std::string& line) const {
    return head.find("\r\n" + line + "\r\n") != std::string::npos;
  }
};

// A blocking client socket with a 5 s receive timeout (so a bug fails the test, never hangs it).
class Client {
 public:
  explicit Client(std::uint16_t port, int rcvbuf = 0) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    if (rcvbuf) setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    timeval tv{5, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  }
  ~Client() { close(); }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  void send(const std::string& data) {
    std::size_t off = 0;
    while (off < data.size()) {
      const ssize_t n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      REQUIRE(n > 0);
      off += static_cast<std::size_t>(n);
    }
  }
  // Reads one response (Content-Length framed; `head_only` for HEAD). status 0: EOF/timeout.
  Response read_response(bool head_only = false) {
    Response r;
    for (;;) {
      const auto end = buf_.find("\r\n\r\n");
      if (end != std::string::npos) {
        r.head = buf_.substr(0, end + 2);
        r.status = std::stoi(r.head.substr(9, 3));
        std::size_t len = 0;
        std::smatch m;
        if (std::regex_search(r.head, m, std::regex("Content-Length: ([0-9]+)")))
          len = std::stoul(m[1]);
        if (head_only) len = 0;
        if (buf_.size() >= end + 4 + len) {
          r.body = buf_.substr(end + 4, len);
          buf_.erase(0, end + 4 + len);
          return r;
        }
      }
      if (!fill()) return {};
    }
  }
  // True when the server closed the connection (EOF or reset) with nothing more to read.
  bool at_eof() {
    if (!buf_.empty()) return false;
    char c;
    const ssize_t n = ::recv(fd_, &c, 1, 0);
    return n == 0 || (n < 0 && errno == ECONNRESET);
  }
  [[nodiscard]] int fd() const { return fd_; }

 private:
  bool fill() {
    char tmp[65536];
    const ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<std::size_t>(n));
    return true;
  }
  int fd_ = -1;
  std::string buf_;
};

const std::string kGet = "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n";

}  // namespace

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
