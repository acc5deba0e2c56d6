// db/'s own log lines and libpq message helpers, shared by PgPool and PgListener.
// A line goes to the sink a program installed (set_log_sink): `reviewsd serve` sends them
// through its own logger, so they carry a level and its format (logfmt, journald priorities)
// like every other line. Without a sink, to stderr as "reviewsd: db: ...", one write(2) each
// (stderr is unbuffered), so lines from several reactors never interleave.
#pragma once

#include <fmt/format.h>
#include <libpq-fe.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace db {

enum class LogSeverity : std::uint8_t {
  Warn,  // a server or the LISTEN connection lost, failures while it stays down
  Info,  // it is back
};

// Receives each line (no trailing newline). Called on whichever reactor thread logs, possibly
// from several at once; must not block for long, must not throw, and must not call into db/.
using LogSink = void (*)(LogSeverity severity, std::string_view message) noexcept;

// Where db/'s lines go from now on; nullptr restores stderr. Set it before any PgPool or
// PgListener exists (the pointer itself is atomic: a late call is safe, just not ordered).
void set_log_sink(LogSink sink) noexcept;
// One line to the sink. Never throws: a line that cannot be built or written is dropped.
void emit_log(LogSeverity severity, std::string message) noexcept;

template <typename... Args>
void log_line(LogSeverity severity, fmt::format_string<Args...> f, Args&&... args) {
  std::string line;
  try {
    line = fmt::format(f, std::forward<Args>(args)...);
  } catch (...) {
    return;  // out of memory: drop the line, as a failed write would
  }
  emit_log(severity, std::move(line));
}

// libpq's messages end in a newline and may span lines ("...failed: ...\n\tIs the server
// running...?"): one line each, for logs and for callers.
[[nodiscard]] std::string trimmed(const char* msg);
// The connection's last error on one line ("no connection" for a null one).
[[nodiscard]] std::string conn_error(PGconn* pg);
// A notice processor that drops notices: callers report what matters themselves.
void ignore_notice(void*, const char*);

}  // namespace db
