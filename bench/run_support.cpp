#include "bench/run_support.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <simdjson.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace bench::run {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

volatile sig_atomic_t g_stop = 0;

void on_stop_signal(int) { g_stop = 1; }

int exit_status(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

void install_stop_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: a blocking call returns EINTR and we look at the flag
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
}

bool stop_requested() { return g_stop != 0; }

void check_stop() {
  if (stop_requested()) throw Interrupted{};
}

void sleep_for(std::chrono::milliseconds d) {
  const auto end = Clock::now() + d;
  while (Clock::now() < end) {
    check_stop();
    std::this_thread::sleep_for(
        std::min<Clock::duration>(std::chrono::milliseconds(50), end - Clock::now()));
  }
  check_stop();
}

Child::Child(const std::vector<std::string>& argv, const SpawnOptions& opts, std::string name)
    : name_(std::move(name)) {
  if (argv.empty()) throw std::invalid_argument("Child: empty argv");
  std::vector<std::string> store = argv;
  std::vector<char*> cargv;
  for (auto& a : store) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  const int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (opts.append ? O_APPEND : O_TRUNC);
  // Opened before fork: a bad path is our error, reported here.
  auto open_out = [&](const fs::path& p) {
    if (p.empty()) return -1;
    const int fd = ::open(p.c_str(), flags, 0644);
    if (fd < 0)
      throw std::runtime_error(fmt::format("open {}: {}", p.string(), std::strerror(errno)));
    return fd;
  };
  const int out = open_out(opts.stdout_file);
  const int err = open_out(opts.stderr_file);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    if (out >= 0) ::close(out);
    if (err >= 0) ::close(err);
    throw std::runtime_error(fmt::format("fork: {}", std::strerror(errno)));
  }
  if (pid == 0) {
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(126);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGINT, SIG_DFL);
    ::signal(SIGTERM, SIG_DFL);
    ::signal(SIGPIPE, SIG_DFL);
    const int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    if (opts.stdout_to_stderr) ::dup2(2, 1);
    if (out >= 0) ::dup2(out, 1);
    if (err >= 0) ::dup2(err, 2);
    ::execv(cargv[0], cargv.data());
    ::_exit(127);
  }
  if (out >= 0) ::close(out);
  if (err >= 0) ::close(err);
  pid_ = pid;
}

Child& Child::operator=(Child&& other) noexcept {
  if (this != &other) {
    stop();
    pid_ = std::exchange(other.pid_, -1);
    name_ = std::move(other.name_);
    status_ = other.status_;
  }
  return *this;
}

std::optional<int> Child::poll() {
  if (pid_ < 0) return status_;
  int status = 0;
  const pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    pid_ = -1;
    status_ = exit_status(status);
    return status_;
  }
  return std::nullopt;
}

int Child::wait(std::chrono::milliseconds limit) {
  const auto deadline = Clock::now() + limit;
  for (;;) {
    if (const auto s = poll()) return *s;
    if (stop_requested()) {
      stop();
      throw Interrupted{};
    }
    if (Clock::now() > deadline) {
      stop(SIGKILL, std::chrono::seconds(5));
      throw std::runtime_error(
          fmt::format("{} did not finish within {} s: killed", name_, limit.count() / 1000));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

int Child::stop(int sig, std::chrono::milliseconds grace) noexcept {
  if (pid_ < 0) return -1;
  ::kill(pid_, sig);
  const auto deadline = Clock::now() + grace;
  while (Clock::now() < deadline) {
    if (const auto s = poll()) return *s;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::kill(pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  status_ = exit_status(status);
  return status_;
}

std::pair<int, std::string> capture(const std::vector<std::string>& argv,
                                    std::chrono::milliseconds limit) {
  std::string tmpl = (fs::temp_directory_path() / "reviewsd-bench-out-XXXXXX").string();
  const int fd = ::mkstemp(tmpl.data());
  if (fd < 0) throw std::runtime_error("mkstemp failed");
  ::close(fd);
  struct Remove {
    std::string p;
    ~Remove() { ::unlink(p.c_str()); }
  } remove{tmpl};
  Child c(argv, {tmpl, tmpl, true, false}, argv[0]);
  const int status = c.wait(limit);
  std::ifstream in(tmpl);
  std::stringstream ss;
  ss << in.rdbuf();
  return {status, ss.str()};
}

std::optional<std::pair<int, std::string>> http_get(int port, const std::string& path,
                                                    std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  auto left_ms = [&] {
    return static_cast<int>(std::max<std::int64_t>(
        0, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count()));
  };
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  struct Close {
    int fd;
    ~Close() { ::close(fd); }
  } close_fd{fd};
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 && errno != EINPROGRESS)
    return std::nullopt;
  pollfd p{fd, POLLOUT, 0};
  if (::poll(&p, 1, left_ms()) <= 0) return std::nullopt;
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) return std::nullopt;
  const std::string req =
      fmt::format("GET {} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n", path, port);
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size()))
    return std::nullopt;
  std::string resp;
  for (;;) {
    p = {fd, POLLIN, 0};
    if (::poll(&p, 1, left_ms()) <= 0) return std::nullopt;
    char buf[16384];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) break;
    resp.append(buf, static_cast<std::size_t>(n));
  }
  if (!resp.starts_with("HTTP/1.") || resp.size() < 12) return std::nullopt;
  const int status = std::atoi(resp.c_str() + 9);
  const auto body_at = resp.find("\r\n\r\n");
  return std::pair{status, body_at == std::string::npos ? std::string() : resp.substr(body_at + 4)};
}

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw std::runtime_error(fmt::format("no free port: {}", std::strerror(errno)));
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      fmt::format_to(std::back_inserter(out), "\\u{:04x}", static_cast<int>(c));
    } else {
      out.push_back(c);
    }
  }
  return out + "\"";
}

std::string json_with_fields(const std::string& json,
                             const std::vector<std::pair<std::string, std::string>>& fields) {
  simdjson::dom::parser parser;
  simdjson::dom::object o;
  if (parser.parse(simdjson::padded_string(json)).get_object().get(o) != simdjson::SUCCESS)
    throw std::runtime_error("not a JSON object");
  std::vector<bool> used(fields.size(), false);
  std::string body;
  for (const auto field : o) {
    std::string value = simdjson::minify(field.value);
    for (std::size_t i = 0; i < fields.size(); ++i) {
      if (fields[i].first == field.key) {
        value = fields[i].second;
        used[i] = true;
      }
    }
    body += fmt::format(",{}:{}", json_string(std::string(field.key)), value);
  }
  std::string front;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (!used[i]) front += fmt::format("{}:{},", json_string(fields[i].first), fields[i].second);
  }
  if (body.empty() && !front.empty()) front.pop_back();
  return "{" + front + (body.empty() ? "" : body.substr(1)) + "}";
}

fs::path self_dir() { return fs::read_symlink("/proc/self/exe").parent_path(); }

fs::path find_program(const std::string& name, const std::vector<fs::path>& extra) {
  std::vector<fs::path> dirs = extra;
  if (const char* path = std::getenv("PATH")) {
    std::stringstream ss(path);
    for (std::string d; std::getline(ss, d, ':');) {
      if (!d.empty()) dirs.emplace_back(d);
    }
  }
  for (const char* d : {"/usr/sbin", "/sbin", "/usr/local/sbin"}) dirs.emplace_back(d);
  for (const auto& d : dirs) {
    const fs::path p = d / name;
    if (::access(p.c_str(), X_OK) == 0 && fs::is_regular_file(p)) return p;
  }
  return {};
}

}  // namespace bench::run
