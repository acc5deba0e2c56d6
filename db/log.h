// db/'s own log lines and libpq message helpers, shared by PgPool and PgListener.
// Lines go to stderr as "reviewsd: db: ...", one write(2) each (stderr is unbuffered), so lines
// from several reactors never interleave; the server points fd 2 at its --log-file.
#pragma once

#include <fmt/format.h>
#include <libpq-fe.h>

#include <cstdio>
#include <iterator>
#include <string>

namespace db {

template <typename... Args>
void log_line(fmt::format_string<Args...> f, Args&&... args) {
  std::string line = "reviewsd: db: ";
  fmt::format_to(std::back_inserter(line), f, std::forward<Args>(args)...);
  line.push_back('\n');
  std::fwrite(line.data(), 1, line.size(), stderr);
}

// libpq's messages end in a newline and may span lines ("...failed: ...\n\tIs the server
// running...?"): one line each, for logs and for callers.
[[nodiscard]] std::string trimmed(const char* msg);
// The connection's last error on one line ("no connection" for a null one).
[[nodiscard]] std::string conn_error(PGconn* pg);
// A notice processor that drops notices: callers report what matters themselves.
void ignore_notice(void*, const char*);

}  // namespace db
