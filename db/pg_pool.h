// PgPool: one reactor's asynchronous connections to PostgreSQL (the primary and any read
// replicas), in libpq pipeline mode with every statement prepared at connect.
//
// Threading: a PgPool belongs to one reactor (EventLoop) and every method is called on that
// reactor's thread; callbacks run there too. Nothing here ever blocks: connecting, sending and
// reading are driven by the loop's readiness events.
//
// Contract of query():
// - the callback runs exactly once, on the loop thread, and never from inside query() itself
//   (even an immediate refusal is delivered from a deferred task), so callers need not guard
//   against re-entry;
// - reads go to a replica that is up (least outstanding queries), else to the primary; writes
//   always to the primary;
// - a failing statement fails only its own query (each query is isolated by its own Sync, or
//   retried when batching aborted it);
// - a read whose connection is lost is retried once on another connection (or on the same
//   one once it has reconnected); a write is never retried (it may have committed) and reports
//   Unavailable. A connection whose oldest query has had no answer for 4 deadlines (at least
//   5 s) is presumed lost;
// - queries on one connection run in the order they were issued, except that the queries of a
//   loop iteration go out writes first, then reads;
// - past `deadline` the callback gets Timeout at once; a late result is discarded and the
//   connection stays usable;
// - when `max_outstanding` queries are already queued or in flight, Overloaded (without waiting,
//   from the deferred task like every refusal). A query
//   that timed out while in flight still counts until its late result has been read;
// - while no connection for the route is up, a query waits for one that is being connected
//   (start, reconnect), up to its deadline; when none is even being attempted (the server is
//   down and the pool is backing off), Unavailable at once.
//
// Destroying the pool (on the loop thread) closes every connection and destroys the callbacks
// of outstanding queries without calling them.
//
// Faults are logged through db/log.h (under `serve`, the server's logger: level=warn or info,
// component=db), one line when a server goes down, one when it is back, and at most one
// summary per 10 s in between; never per query.
//
// Conninfo: libpq resolves a host *name* with a blocking getaddrinfo() inside PQconnectStart;
// give IP addresses (or hostaddr=) or a socket directory for a reactor that never blocks.
#pragma once

#include "db/event_loop.h"
#include "db/pg.h"
#include "db/unique_function.h"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace db {

// A statement prepared on every connection at connect (and again after a reconnect).
// Parameter types are taken from casts in the SQL ($1::integer).
struct PreparedStatement {
  std::string_view name;
  std::string_view sql;
};

struct PoolOptions {
  std::string primary;                // conninfo
  std::vector<std::string> replicas;  // conninfo of each read replica
  unsigned conns_per_server = 1;      // per reactor, to the primary and to each replica
  std::chrono::milliseconds deadline{2000};
  std::size_t max_outstanding = 4096;  // per reactor
  bool pipeline = true;                // false: one query at a time per connection (to measure)
  std::span<const PreparedStatement> statements;
};

enum class Route { Read, Write };

struct QueryResult {
  enum class Status {
    Ok,           // `result` holds PGRES_TUPLES_OK or PGRES_COMMAND_OK
    Error,        // the statement failed: `error` and `sqlstate` say why (e.g. 23xxx)
    Unavailable,  // no connection could run it, or it was lost mid-flight
    Timeout,      // the deadline passed
    Overloaded,   // refused at once: too many outstanding queries
  };
  Status status = Status::Unavailable;
  PgResultPtr result;
  std::string error;
  std::string sqlstate;
};

using QueryCallback = UniqueFunction<void(QueryResult&)>;

struct PoolStats {
  std::uint64_t queries = 0;      // calls to query(), refused ones included
  std::uint64_t outstanding = 0;  // queued + in flight now
  std::uint64_t errors = 0, unavailable = 0, timeouts = 0, overloaded = 0, retries = 0;
  unsigned connections_up = 0, connections_total = 0;
  unsigned replicas_up = 0, replicas_total = 0;  // a replica is up while one connection is
  std::uint64_t reconnects = 0;                  // connections ready again after having been lost
  std::uint64_t connect_failures = 0;  // attempts that failed (connect, prepare or its timeout)
  bool primary_up = false;
};

class PgPool {
 public:
  // Starts connecting at once (asynchronously). Never throws for an unreachable server: the
  // pool keeps retrying with exponential backoff and jitter, logging at most once per interval.
  PgPool(EventLoop& loop, PoolOptions opts);
  ~PgPool();
  PgPool(const PgPool&) = delete;
  PgPool& operator=(const PgPool&) = delete;

  // Runs prepared statement number `statement` (index into opts.statements) with text
  // parameters (std::nullopt-free: every parameter is a non-NULL text value).
  void query(Route route, std::size_t statement, std::vector<std::string> params, QueryCallback cb);

  // True while a connection to the primary is up and prepared (for /readyz).
  [[nodiscard]] bool primary_ready() const;
  // A hint that the primary answers again (another connection to it, such as the server's
  // LISTEN, just succeeded): its connections that are waiting out a reconnect backoff try
  // within 50 ms, instead of up to 5 s later. Connections that are up or connecting are left
  // alone, and an attempt that fails backs off as before. At most one hint per 5 s is acted on
  // (the others are ignored; one that finds nothing waiting does not count), so a flapping hint
  // cannot undo the backoff. On the pool's thread.
  void retry_primary_now();
  [[nodiscard]] PoolStats stats() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace db
