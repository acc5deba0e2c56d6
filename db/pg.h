// Small RAII layer over libpq for the blocking, off-reactor paths (migrate, load, tests, demo).
// The reactors never use these: they talk to PostgreSQL through the non-blocking pipeline.
#pragma once

#include <libpq-fe.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace db {

struct PgConnDeleter {
  void operator()(PGconn* c) const noexcept { PQfinish(c); }
};
struct PgResultDeleter {
  void operator()(PGresult* r) const noexcept { PQclear(r); }
};
using PgConnPtr = std::unique_ptr<PGconn, PgConnDeleter>;
using PgResultPtr = std::unique_ptr<PGresult, PgResultDeleter>;

// Any failure talking to PostgreSQL on a blocking path; what() is the server's message.
class DbError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Connects (blocking) and throws DbError with libpq's message on failure.
// Notices are silenced: callers report what matters themselves.
PgConnPtr connect(const std::string& conninfo);

// Runs one or more statements with no parameters; throws DbError unless every result is OK.
// Not for COPY: PQgetResult would return the COPY state forever.
void exec(PGconn* conn, std::string_view sql);

// Runs one parameterised statement; throws DbError unless it returns COMMAND_OK or TUPLES_OK.
PgResultPtr query(PGconn* conn, std::string_view sql, const std::vector<std::string>& params = {});

// First column of the first row as text (empty string when NULL or no rows).
std::string query_value(PGconn* conn, std::string_view sql,
                        const std::vector<std::string>& params = {});

// Quotes a value for a conninfo string (key='value' with \ and ' escaped).
std::string conninfo_quote(std::string_view value);

// Returns `conninfo` with password=... and user:password@ in URIs masked, for printing.
std::string mask_conninfo(std::string_view conninfo);

}  // namespace db
