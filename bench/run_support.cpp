#include "bench/run_support.h"

#include "bench/report.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <signal.h>
#include <simdjson.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
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
  // The child made itself the leader of group pid_ before exec (setpgid in the constructor);
  // a child too young to have done so gets the signal directly.
  const pid_t group = pid_;
  auto signal_group = [&](int s) {
    if (::kill(-group, s) != 0) ::kill(group, s);
  };
  signal_group(sig);
  const auto deadline = Clock::now() + grace;
  int status = -1;
  while (Clock::now() < deadline) {
    if (const auto s = poll()) {
      status = *s;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (status < 0) {
    signal_group(SIGKILL);
    int raw = 0;
    while (::waitpid(pid_, &raw, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    status_ = status = exit_status(raw);
  }
  // Members of the group that outlived the leader (nginx workers of a killed master). While
  // any is alive the group id cannot be reused for another process, so this reaches only
  // ours; ESRCH when none is left.
  ::kill(-group, SIGKILL);
  return status;
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

namespace {

// The inodes of the TCP sockets in LISTEN state on `port`, from /proc/net/tcp and tcp6.
std::vector<std::string> listening_inodes(int port) {
  constexpr const char* kListen = "0A";  // TCP_LISTEN in the `st` column
  std::vector<std::string> out;
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);  // the header
    while (std::getline(in, line)) {
      // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
      std::istringstream fields(line);
      std::string sl, local, remote, st, queues, timer, retr, uid, timeout, inode;
      fields >> sl >> local >> remote >> st >> queues >> timer >> retr >> uid >> timeout >> inode;
      const auto colon = local.rfind(':');
      if (st != kListen || colon == std::string::npos) continue;
      if (std::stoi(local.substr(colon + 1), nullptr, 16) == port) out.push_back(inode);
    }
  }
  return out;
}

// The socket inodes open in the processes of group `pgid` (ours: we may read their /proc).
std::vector<std::string> group_socket_inodes(pid_t pgid) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& proc : fs::directory_iterator("/proc", ec)) {
    const std::string name = proc.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(proc.path() / "stat");
    std::string text;
    std::getline(stat, text);
    // pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses, so from the last ')'.
    const auto paren = text.rfind(')');
    if (paren == std::string::npos) continue;
    std::istringstream rest(text.substr(paren + 1));
    std::string state;
    long ppid = 0, pgrp = 0;
    if (!(rest >> state >> ppid >> pgrp) || pgrp != pgid) continue;
    for (const auto& fd : fs::directory_iterator(proc.path() / "fd", ec)) {
      const std::string target = fs::read_symlink(fd.path(), ec).string();
      if (!ec && target.starts_with("socket:[") && target.ends_with("]"))
        out.push_back(target.substr(8, target.size() - 9));
    }
  }
  return out;
}

}  // namespace

bool only_group_listens(int port, pid_t pgid, std::string& error) {
  const auto listening = listening_inodes(port);
  const auto ours = group_socket_inodes(pgid);
  std::size_t mine = 0;
  for (const auto& inode : listening) {
    if (std::find(ours.begin(), ours.end(), inode) != ours.end()) {
      ++mine;
    } else {
      error = fmt::format(
          "port {}: another process listens there too (socket inode {}), it would take part of "
          "the load",
          port, inode);
      return false;
    }
  }
  if (mine == 0) {
    error = fmt::format("port {}: nothing of process group {} listens there", port, pgid);
    return false;
  }
  return true;
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
