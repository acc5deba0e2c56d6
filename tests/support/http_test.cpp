#include "support/http_test.h"

#include "support/test_env.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <cerrno>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace testenv {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

ServerProcess::ServerProcess(std::vector<std::string> extra, SpawnOptions spawn) {
  const std::string bin = reviewsd_bin().string();
  char tmpl[] = "/tmp/reviewsd-serve-test-XXXXXX";
  const int logfd = mkstemp(tmpl);
  REQUIRE(logfd >= 0);
  log_path_ = tmpl;
  // The test's own options first: for a repeated option the first occurrence wins.
  std::vector<std::string> args{bin, "serve"};
  args.insert(args.end(), extra.begin(), extra.end());
  for (const char* d : {"--listen", "127.0.0.1:0", "--threads", "2"}) args.emplace_back(d);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  // This process's environment without REVIEWSD_*: serve reads its options from those too
  // (server/README.md, "Config file"), and a developer's shell that exports one, or
  // REVIEWSD_CONFIG, must not change the server a test starts. Built before fork(): the child
  // of a threaded process should not allocate.
  std::vector<char*> envp;
  for (char** e = environ; *e; ++e) {
    if (std::string_view(*e).rfind("REVIEWSD_", 0) != 0) envp.push_back(*e);
  }
  envp.push_back(nullptr);
  pid_ = fork();
  REQUIRE(pid_ >= 0);
  if (pid_ == 0) {
    dup2(logfd, 2);
    if (spawn.max_fds > 0) {
      const rlimit rl{spawn.max_fds, spawn.max_fds};
      if (setrlimit(RLIMIT_NOFILE, &rl) != 0) _exit(126);
    }
    execve(bin.c_str(), argv.data(), envp.data());
    _exit(127);
  }
  close(logfd);
  const auto deadline = Clock::now() + 10s;
  // The first IPv4 loopback address in "listening on ADDR..." (other listeners may come first).
  const std::regex re("listening on [^\"]*?127\\.0\\.0\\.1:([0-9]+)");
  while (Clock::now() < deadline && port_ == 0) {
    std::smatch m;
    const std::string text = log();
    if (std::regex_search(text, m, re)) {
      port_ = static_cast<std::uint16_t>(std::stoi(m[1]));
    } else {
      std::this_thread::sleep_for(20ms);
    }
  }
  INFO(log());
  REQUIRE(port_ != 0);
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  unlink(log_path_.c_str());
}

std::string ServerProcess::log() const {
  std::ifstream in(log_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::uint64_t metric(std::uint16_t port, const std::string& name) {
  HttpClient c(port);
  const auto r = c.request("GET", "/metrics");
  REQUIRE(r.status == 200);
  const auto at = r.body.find("\n" + name + " ");
  REQUIRE(at != std::string::npos);
  const auto start = at + name.size() + 2;
  return std::stoull(r.body.substr(start, r.body.find('\n', start) - start));
}

std::string line_with(const std::string& log, std::initializer_list<std::string_view> parts) {
  std::size_t begin = 0;
  while (begin < log.size()) {
    std::size_t end = log.find('\n', begin);
    if (end == std::string::npos) end = log.size();
    const std::string_view line(log.data() + begin, end - begin);
    bool all = true;
    for (const auto part : parts) all = all && line.find(part) != std::string_view::npos;
    if (all) return std::string(line);
    begin = end + 1;
  }
  return {};
}

int ServerProcess::fd_count() const {
  int n = 0;
  DIR* d = opendir(("/proc/" + std::to_string(pid_) + "/fd").c_str());
  if (!d) return -1;
  while (const dirent* e = readdir(d)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(d);
  return n;
}

bool ServerProcess::fds_back_to(int baseline, std::chrono::milliseconds within) const {
  const auto deadline = Clock::now() + within;
  while (Clock::now() < deadline) {
    if (fd_count() == baseline) return true;
    std::this_thread::sleep_for(20ms);
  }
  return fd_count() == baseline;
}

int ServerProcess::terminate_and_wait(std::chrono::milliseconds within) {
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

bool ServerProcess::wait_for_status(const std::string& target, int status,
                                    std::chrono::milliseconds within) const {
  const auto deadline = Clock::now() + within;
  while (Clock::now() < deadline) {
    HttpClient c(port_);
    if (c.request("GET", target).status == status) return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

SampleServer::SampleServer(std::vector<std::string> extra)
    : server_(load_then_args(tdb_, std::move(extra))) {
  REQUIRE(server_.wait_for_status("/readyz", 200));
}

std::vector<std::string> SampleServer::load_then_args(const TempDatabase& tdb,
                                                      std::vector<std::string> extra) {
  load_sample(tdb.conninfo());
  extra.insert(extra.begin(), {"--db", tdb.conninfo()});
  return extra;
}

std::string HttpResponse::header(const std::string& name) const {
  const auto at = head.find("\r\n" + name + ": ");
  if (at == std::string::npos) return {};
  const auto from = at + 4 + name.size();
  return head.substr(from, head.find("\r\n", from) - from);
}

HttpClient::HttpClient(std::uint16_t port, int rcvbuf) {
  fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw std::runtime_error("socket failed");
  if (rcvbuf) setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  timeval tv{5, 0};
  setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd_);
    throw std::runtime_error("connect to 127.0.0.1:" + std::to_string(port) + " failed");
  }
}

void HttpClient::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void HttpClient::send(const std::string& data) {
  std::size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0) throw std::runtime_error("send failed");
    off += static_cast<std::size_t>(n);
  }
}

HttpResponse HttpClient::read_response(bool head_only) {
  HttpResponse r;
  static const std::regex content_length("Content-Length: ([0-9]+)");
  for (;;) {
    const auto end = buf_.find("\r\n\r\n");
    if (end != std::string::npos) {
      r.head = buf_.substr(0, end + 2);
      r.status = std::stoi(r.head.substr(9, 3));
      std::size_t len = 0;
      std::smatch m;
      if (std::regex_search(r.head, m, content_length)) len = std::stoul(m[1]);
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

HttpResponse HttpClient::request(const std::string& method, const std::string& target,
                                 const std::string& headers, const std::string& body) {
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: test\r\n" + headers;
  if (!body.empty()) req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  req += "\r\n" + body;
  send(req);
  return read_response(method == "HEAD");
}

bool HttpClient::at_eof() {
  if (!buf_.empty()) return false;
  char c;
  const ssize_t n = ::recv(fd_, &c, 1, 0);
  return n == 0 || (n < 0 && errno == ECONNRESET);
}

bool HttpClient::fill() {
  char tmp[65536];
  const ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
  if (n <= 0) return false;
  buf_.append(tmp, static_cast<std::size_t>(n));
  return true;
}

}  // namespace testenv
