// Logging: one line per event, each written with one write(2) to stderr, so that lines from
// several threads never interleave and journald (or the terminal) gets them as they happen.
// No per-request lines here: those go to the access log (access_log.h).
//
// Format, logfmt (`key=value`, values with blanks or quotes in double quotes):
//   stderr is journald:  <6>level=info msg="listening on 127.0.0.1:8080 (2 reactors)"
//   otherwise:           ts=2024-05-01T12:00:00.123Z level=info msg="..." key=value
// journald is recognised by JOURNAL_STREAM naming our stderr (systemd sets it); it adds its own
// timestamp, and the <N> syslog prefix becomes the entry's priority (journalctl -p warning).
//
// Contract
// - log_setup() runs once on the main thread before other threads start (serve does it after
//   parsing its options); until then the level is info and lines go to stderr.
// - log_error()... and log_line() may be called from any thread at any time. They never throw
//   and never block longer than one write(2) to stderr; a failed write drops the line.
// - With --log-file, the file is dup2()ed onto fd 2: everything written to stderr (libpq, db/'s
//   own lines, an abort message) lands in it. log_reopen() (SIGHUP) does that again with a new
//   open(2) of the same path, atomically for writers in other threads.
#pragma once

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

namespace server {

enum class LogLevel : std::uint8_t { Error, Warn, Info, Debug };

// "error", "warn", "info", "debug" (also "warning"); nullopt for anything else.
[[nodiscard]] std::optional<LogLevel> parse_log_level(std::string_view name);
[[nodiscard]] std::string_view log_level_name(LogLevel level);

struct LogOptions {
  LogLevel level = LogLevel::Info;
  std::string file;  // empty: stderr
};

// Sets the level and, with a file, opens it (append, created 0640) and points fd 2 at it.
// Throws std::system_error when the file cannot be opened.
void log_setup(const LogOptions& options);
// SIGHUP: opens the log file again (after logrotate moved it). Returns "" on success, else the
// reason, and keeps writing to the old file. A no-op returning "" without a file.
[[nodiscard]] std::string log_reopen();
// The --log-file path ("" = stderr).
[[nodiscard]] std::string log_file_path();

// A structured field: log_write(LogLevel::Info, "listening", {{"addr", a}, {"reactors", 2}}).
struct LogField {
  LogField(std::string_view k, std::string_view v) : key(k), value(v) {}
  LogField(std::string_view k, const char* v) : key(k), value(v ? v : "") {}
  LogField(std::string_view k, const std::string& v) : key(k), value(v) {}
  template <typename T>
  requires std::is_arithmetic_v<T> LogField(std::string_view k, T v)
      : key(k), value(fmt::to_string(v)) {}
  std::string_view key;
  std::string value;
};

namespace log_detail {
inline std::atomic<std::uint8_t> level{static_cast<std::uint8_t>(LogLevel::Info)};
}  // namespace log_detail

[[nodiscard]] inline bool log_enabled(LogLevel level) noexcept {
  return static_cast<std::uint8_t>(level) <= log_detail::level.load(std::memory_order_relaxed);
}

// Formats and writes one line (if `level` is enabled). Never throws.
void log_write(LogLevel level, std::string_view msg,
               std::initializer_list<LogField> fields = {}) noexcept;

// For main(): a fatal error line, plain text. Goes to stderr; when --log-file redirected stderr,
// it is also logged there (as an error) and written to the terminal/journal we started with.
void print_error(std::string_view line) noexcept;

template <typename... Args>
void log_at(LogLevel level, fmt::format_string<Args...> f, Args&&... args) {
  if (!log_enabled(level)) return;
  log_write(level, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void log_error(fmt::format_string<Args...> f, Args&&... args) {
  log_at(LogLevel::Error, f, std::forward<Args>(args)...);
}
template <typename... Args>
void log_warn(fmt::format_string<Args...> f, Args&&... args) {
  log_at(LogLevel::Warn, f, std::forward<Args>(args)...);
}
template <typename... Args>
void log_info(fmt::format_string<Args...> f, Args&&... args) {
  log_at(LogLevel::Info, f, std::forward<Args>(args)...);
}
template <typename... Args>
void log_debug(fmt::format_string<Args...> f, Args&&... args) {
  log_at(LogLevel::Debug, f, std::forward<Args>(args)...);
}
// The original logger's name: an info line. New code should pick its level.
template <typename... Args>
void log_line(fmt::format_string<Args...> f, Args&&... args) {
  log_at(LogLevel::Info, f, std::forward<Args>(args)...);
}

// Rate limit for a repeating event (accept errors, a flapping database...): at most one line per
// `interval`; the lines in between are counted, and the next line that passes ends with
// "(N similar suppressed)". Thread-safe (two atomics, no lock). Typical use:
//   static LogRateLimit accept_errors{std::chrono::seconds(10)};
//   log_limited(accept_errors, LogLevel::Warn, "reactor {}: accept: {}", i, strerror(err));
// Lines suppressed after the last one that passed are never reported.
class LogRateLimit {
 public:
  explicit LogRateLimit(std::chrono::milliseconds interval) noexcept
      : interval_ns_(std::chrono::duration_cast<std::chrono::nanoseconds>(interval).count()) {}
  // True when this occurrence may be logged; then `suppressed` is the number of occurrences
  // refused since the last one allowed.
  [[nodiscard]] bool allow(std::uint64_t& suppressed) noexcept;

 private:
  const std::int64_t interval_ns_;
  std::atomic<std::int64_t> next_ns_{0};  // steady clock; 0: the first one passes
  std::atomic<std::uint64_t> suppressed_{0};
};

template <typename... Args>
void log_limited(LogRateLimit& limit, LogLevel level, fmt::format_string<Args...> f,
                 Args&&... args) {
  if (!log_enabled(level)) return;
  std::uint64_t suppressed = 0;
  if (!limit.allow(suppressed)) return;
  std::string msg = fmt::format(f, std::forward<Args>(args)...);
  if (suppressed) fmt::format_to(std::back_inserter(msg), " ({} similar suppressed)", suppressed);
  log_write(level, msg);
}

}  // namespace server
