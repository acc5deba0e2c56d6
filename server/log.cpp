#include "server/log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <mutex>
#include <system_error>

namespace server {

namespace {

// Process-wide logger state. Writers read only `journald` (an atomic); the rest changes on the
// main thread (setup) or the signal thread (reopen), under `mu`.
struct LogState {
  std::atomic<bool> journald{false};
  std::mutex mu;
  std::string file;     // --log-file, "" = stderr
  int console_fd = -1;  // the stderr we started with, once fd 2 points at the file

  LogState() { journald.store(stderr_is_journal(), std::memory_order_relaxed); }

  // systemd sets JOURNAL_STREAM=<dev>:<inode> of the stream it connected to stdout/stderr;
  // it only applies if our fd 2 is still that stream (not redirected by a wrapper).
  static bool stderr_is_journal() {
    const char* v = std::getenv("JOURNAL_STREAM");
    if (!v) return false;
    unsigned long long dev = 0, ino = 0;
    if (std::sscanf(v, "%llu:%llu", &dev, &ino) != 2) return false;
    struct stat st {};
    if (::fstat(2, &st) != 0) return false;
    return static_cast<unsigned long long>(st.st_dev) == dev &&
           static_cast<unsigned long long>(st.st_ino) == ino;
  }
};

LogState& state() {
  static LogState s;
  return s;
}

// Whole-line write: retried on EINTR and after a partial write (a pipe or terminal may take
// part of it); any error drops the rest of the line. Never blocks longer than write(2) does.
void write_all(int fd, std::string_view data) noexcept {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

// syslog priorities (sd-daemon.h's SD_ERR...), understood by journald as a line prefix.
int syslog_priority(LogLevel level) {
  switch (level) {
    case LogLevel::Error:
      return 3;
    case LogLevel::Warn:
      return 4;
    case LogLevel::Info:
      return 6;
    case LogLevel::Debug:
      return 7;
  }
  return 6;
}

bool needs_quotes(std::string_view v) {
  if (v.empty()) return true;
  for (const char c : v) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= ' ' || u == 0x7f || c == '"' || c == '=' || c == '\\') return true;
  }
  return false;
}

void append_quoted(std::string& out, std::string_view v) {
  out.push_back('"');
  for (const char c : v) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (u < 0x20 || u == 0x7f) {
          fmt::format_to(std::back_inserter(out), "\\x{:02x}", u);
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

void append_timestamp(std::string& out) {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  tm t{};
  ::gmtime_r(&ts.tv_sec, &t);
  fmt::format_to(std::back_inserter(out), "ts={:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z ",
                 t.tm_year + 1900, t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec,
                 ts.tv_nsec / 1'000'000);
}

int open_log_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0640);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), path);
  return fd;
}

}  // namespace

std::optional<LogLevel> parse_log_level(std::string_view name) {
  if (name == "error") return LogLevel::Error;
  if (name == "warn" || name == "warning") return LogLevel::Warn;
  if (name == "info") return LogLevel::Info;
  if (name == "debug") return LogLevel::Debug;
  return std::nullopt;
}

std::string_view log_level_name(LogLevel level) {
  switch (level) {
    case LogLevel::Error:
      return "error";
    case LogLevel::Warn:
      return "warn";
    case LogLevel::Info:
      return "info";
    case LogLevel::Debug:
      return "debug";
  }
  return "info";
}

void log_setup(const LogOptions& options) {
  LogState& s = state();
  std::lock_guard lock(s.mu);
  log_detail::level.store(static_cast<std::uint8_t>(options.level), std::memory_order_relaxed);
  if (options.file.empty()) return;
  const int fd = open_log_file(options.file);
  if (s.console_fd < 0) s.console_fd = ::fcntl(2, F_DUPFD_CLOEXEC, 3);
  ::dup2(fd, 2);
  ::close(fd);
  s.file = options.file;
  s.journald.store(false, std::memory_order_relaxed);
}

std::string log_reopen() {
  LogState& s = state();
  std::lock_guard lock(s.mu);
  if (s.file.empty()) return {};
  int fd;
  try {
    fd = open_log_file(s.file);
  } catch (const std::system_error& e) {
    return e.what();
  }
  // dup2 swaps what fd 2 refers to in one step: a write in another thread goes wholly to the
  // old file or wholly to the new one.
  if (::dup2(fd, 2) < 0) {
    const int err = errno;
    ::close(fd);
    return std::string("dup2: ") + std::strerror(err);
  }
  ::close(fd);
  return {};
}

std::string log_file_path() {
  LogState& s = state();
  std::lock_guard lock(s.mu);
  return s.file;
}

void log_write(LogLevel level, std::string_view msg,
               std::initializer_list<LogField> fields) noexcept {
  if (!log_enabled(level)) return;
  try {
    std::string line;
    line.reserve(96 + msg.size());
    if (state().journald.load(std::memory_order_relaxed)) {
      fmt::format_to(std::back_inserter(line), "<{}>", syslog_priority(level));
    } else {
      append_timestamp(line);
    }
    line += "level=";
    line += log_level_name(level);
    line += " msg=";
    append_quoted(line, msg);
    for (const auto& f : fields) {
      line.push_back(' ');
      line += f.key;
      line.push_back('=');
      if (needs_quotes(f.value)) {
        append_quoted(line, f.value);
      } else {
        line += f.value;
      }
    }
    line.push_back('\n');
    write_all(2, line);
  } catch (...) {
    // Out of memory while formatting a log line: drop it rather than take the process down.
  }
}

void print_error(std::string_view line) noexcept {
  int console;
  {
    LogState& s = state();
    std::lock_guard lock(s.mu);
    console = s.file.empty() ? -1 : s.console_fd;
  }
  if (console >= 0) {
    log_write(LogLevel::Error, line);
    try {
      write_all(console, std::string(line) + "\n");
    } catch (...) {
    }
    return;
  }
  try {
    write_all(2, std::string(line) + "\n");
  } catch (...) {
  }
}

bool LogRateLimit::allow(std::uint64_t& suppressed) noexcept {
  const std::int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                               std::chrono::steady_clock::now().time_since_epoch())
                               .count();
  std::int64_t next = next_ns_.load(std::memory_order_relaxed);
  // Of several threads arriving at once past the deadline, the one whose CAS succeeds logs.
  if (now < next ||
      !next_ns_.compare_exchange_strong(next, now + interval_ns_, std::memory_order_relaxed)) {
    suppressed_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  suppressed = suppressed_.exchange(0, std::memory_order_relaxed);
  return true;
}

}  // namespace server
