#include "db/pg.h"

#include "db/log.h"

#include <fmt/format.h>

#include <atomic>
#include <cstdio>

namespace db {

namespace {
std::string trimmed_error(PGconn* conn) {
  std::string msg = PQerrorMessage(conn);
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  return msg;
}
}  // namespace

PgConnPtr connect(const std::string& conninfo) {
  PgConnPtr conn{PQconnectdb(conninfo.c_str())};
  if (!conn) throw DbError("out of memory allocating a PostgreSQL connection");
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    throw DbError(fmt::format("cannot connect to PostgreSQL ({}): {}", mask_conninfo(conninfo),
                              trimmed_error(conn.get())));
  }
  PQsetNoticeProcessor(conn.get(), ignore_notice, nullptr);
  return conn;
}

void exec(PGconn* conn, std::string_view sql) {
  const std::string text{sql};
  if (!PQsendQuery(conn, text.c_str())) throw DbError(trimmed_error(conn));
  std::string error;
  while (PGresult* raw = PQgetResult(conn)) {
    PgResultPtr res{raw};
    const auto st = PQresultStatus(raw);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY &&
        error.empty()) {
      error = PQresultErrorMessage(raw);
    }
  }
  if (!error.empty()) {
    while (!error.empty() && (error.back() == '\n' || error.back() == ' ')) error.pop_back();
    throw DbError(error);
  }
}

PgResultPtr query(PGconn* conn, std::string_view sql, const std::vector<std::string>& params) {
  const std::string text{sql};
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p.c_str());
  PgResultPtr res{PQexecParams(conn, text.c_str(), static_cast<int>(values.size()), nullptr,
                               values.data(), nullptr, nullptr, 0)};
  if (!res) throw DbError(trimmed_error(conn));
  const auto st = PQresultStatus(res.get());
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    std::string msg = PQresultErrorMessage(res.get());
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    throw DbError(msg);
  }
  return res;
}

std::string query_value(PGconn* conn, std::string_view sql,
                        const std::vector<std::string>& params) {
  auto res = query(conn, sql, params);
  if (PQntuples(res.get()) == 0 || PQgetisnull(res.get(), 0, 0)) return {};
  return PQgetvalue(res.get(), 0, 0);
}

std::string conninfo_quote(std::string_view value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  out += '\'';
  return out;
}

std::string mask_conninfo(std::string_view conninfo) {
  std::string s{conninfo};
  // URI form: postgresql://user:secret@host/db
  if (s.rfind("postgres://", 0) == 0 || s.rfind("postgresql://", 0) == 0) {
    const auto scheme_end = s.find("://") + 3;
    const auto at = s.find('@', scheme_end);
    const auto colon = s.find(':', scheme_end);
    if (at != std::string::npos && colon != std::string::npos && colon < at) {
      s.replace(colon + 1, at - colon - 1, "*****");
    }
  }
  // key=value form (also URI query parameters): password=secret or password='se cret'
  for (std::size_t pos = 0; (pos = s.find("password", pos)) != std::string::npos;) {
    std::size_t v = pos + 8;
    while (v < s.size() && s[v] == ' ') ++v;
    if (v >= s.size() || s[v] != '=') {
      pos = v;
      continue;
    }
    ++v;
    while (v < s.size() && s[v] == ' ') ++v;
    std::size_t e = v;
    if (e < s.size() && s[e] == '\'') {
      for (++e; e < s.size() && s[e] != '\''; ++e) {
        if (s[e] == '\\') ++e;
      }
      if (e < s.size()) ++e;
    } else {
      while (e < s.size() && s[e] != ' ' && s[e] != '&') ++e;
    }
    s.replace(v, e - v, "*****");
    pos = v + 5;
  }
  return s;
}

// --- log helpers (db/log.h) ---

std::string trimmed(const char* msg) {
  std::string s;
  for (const char* p = msg ? msg : ""; *p; ++p) {
    if (*p == '\n' || *p == '\t' || *p == '\r') {
      if (!s.empty() && s.back() != ' ') s.push_back(' ');
    } else {
      s.push_back(*p);
    }
  }
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

std::string conn_error(PGconn* pg) { return pg ? trimmed(PQerrorMessage(pg)) : "no connection"; }

void ignore_notice(void*, const char*) {}

namespace {
std::atomic<LogSink> log_sink{nullptr};
}  // namespace

void set_log_sink(LogSink sink) noexcept { log_sink.store(sink, std::memory_order_release); }

void emit_log(LogSeverity severity, std::string message) noexcept {
  if (const LogSink sink = log_sink.load(std::memory_order_acquire)) return sink(severity, message);
  try {
    std::string line = "reviewsd: db: " + message + '\n';
    std::fwrite(line.data(), 1, line.size(), stderr);
  } catch (...) {  // out of memory: drop the line
  }
}

}  // namespace db
