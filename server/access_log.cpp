#include "server/access_log.h"

#include "server/reactor.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <iterator>
#include <mutex>
#include <system_error>

namespace server {

namespace {

// Lines of one thread waiting for the end of its reactor's loop iteration.
struct ThreadBuffer {
  std::string buf;
  bool flush_armed = false;     // a Reactor::defer(flush) is pending
  std::int64_t ts_second = -1;  // `ts` formats this second
  std::string ts;
  // A thread that ends with lines still buffered (a reactor stopped mid-iteration) writes
  // them. The object is alive during its own destructor, so flush_thread() may use it.
  ~ThreadBuffer() { AccessLog::flush_thread(); }
};
thread_local ThreadBuffer t_buffer;

std::mutex g_mu;     // open/reopen/close (main and signal threads)
std::string g_path;  // guarded by g_mu

int open_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0640);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), path);
  return fd;
}

void append_target(std::string& out, std::string_view target) {
  const bool cut = target.size() > AccessLog::kMaxTarget;
  if (cut) target = target.substr(0, AccessLog::kMaxTarget);
  out.push_back('"');
  for (const char c : target) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (u < 0x20 || u == 0x7f) {
      fmt::format_to(std::back_inserter(out), "\\x{:02x}", u);
    } else {
      out.push_back(c);
    }
  }
  if (cut) out += "...";
  out.push_back('"');
}

}  // namespace

void AccessLog::open(const std::string& path) {
  std::lock_guard lock(g_mu);
  const int old = fd_.load();
  int fd = -1;
  if (path == "-") {
    fd = 2;
  } else if (!path.empty()) {
    fd = open_file(path);
  }
  fd_.store(fd);
  if (old > 2) ::close(old);
  g_path = path;
}

std::string AccessLog::reopen() {
  std::lock_guard lock(g_mu);
  const int fd = fd_.load();
  if (g_path.empty() || g_path == "-" || fd < 0) return {};
  int fresh;
  try {
    fresh = open_file(g_path);
  } catch (const std::system_error& e) {
    return e.what();
  }
  // Same trick as the error log: the fd number the reactors write to now means the new file.
  if (::dup2(fresh, fd) < 0) {
    const int err = errno;
    ::close(fresh);
    return std::string("dup2: ") + std::strerror(err);
  }
  ::close(fresh);
  return {};
}

std::string AccessLog::path() {
  std::lock_guard lock(g_mu);
  return g_path;
}

void AccessLog::close() {
  std::lock_guard lock(g_mu);
  const int old = fd_.exchange(-1);
  if (old > 2) ::close(old);
  g_path.clear();
}

void AccessLog::flush_thread() noexcept {
  ThreadBuffer& t = t_buffer;
  t.flush_armed = false;
  if (t.buf.empty()) return;
  std::string_view data = t.buf;
  const int fd = fd_.load(std::memory_order_relaxed);
  while (fd >= 0 && !data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // disk full, file gone...: drop the batch, never retry on the reactor
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  t.buf.clear();
}

void AccessLog::append(Reactor& reactor, std::string_view method, std::string_view target,
                       int status, std::size_t bytes, std::int64_t duration_us,
                       std::string_view peer) {
  ThreadBuffer& t = t_buffer;
  const std::int64_t now = reactor.unix_seconds();
  if (now != t.ts_second) {
    t.ts_second = now;
    const std::time_t secs = static_cast<std::time_t>(now);
    std::tm tm{};
    ::gmtime_r(&secs, &tm);
    t.ts = fmt::format("ts={:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                       tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  }
  std::string& out = t.buf;
  out += t.ts;
  out += " peer=";
  out += peer.empty() ? std::string_view("-") : peer;
  out += " method=";
  out += method.empty() ? std::string_view("-") : method;
  out += " target=";
  append_target(out, target);
  fmt::format_to(std::back_inserter(out), " status={} bytes={} us={}\n", status, bytes,
                 duration_us);
  if (out.size() >= kFlushBytes) {
    flush_thread();
  } else if (!t.flush_armed) {
    t.flush_armed = true;
    reactor.defer([] { AccessLog::flush_thread(); });
  }
}

std::string AccessLog::peer_of(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return "-";
  char ip[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    ::inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
    return fmt::format("{}:{}", ip, ntohs(a->sin_port));
  }
  if (ss.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    ::inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
    return fmt::format("[{}]:{}", ip, ntohs(a->sin6_port));
  }
  return "-";
}

}  // namespace server
