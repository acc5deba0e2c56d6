// PgPool: see pg_pool.h for the contract. Reading order: the types, then a query's life
// (query → flush task → send → read → deliver), then a connection's life (connect → prepare →
// ready → lost → backoff), then deadlines and housekeeping.
//
// Traps, once:
// - libpq's pipeline is strictly FIFO. Every connection keeps `expects`, what it has sent and is
//   waiting for, in order: a Prepare or Query yields its result(s) then a NULL from
//   PQgetResult; a Sync yields PGRES_PIPELINE_SYNC. Results are matched to the front only.
// - PQgetResult blocks when PQisBusy: always ask PQisBusy first.
// - A query past its deadline stays in `expects` with its callback spent (a "zombie"): its
//   late result still has to be read off the pipeline, then it is dropped. Zombies count as
//   outstanding and as the connection's load, because they still hold the pipeline.
// - unwatch() before PQfinish(): PQfinish closes the fd, and the number may be reused at once.
// - Nothing here frees a Conn: conns live as long as the pool, and a reconnect reuses the slot.
//   `generation` tells a loop that its connection was closed under it.
#include "db/pg_pool.h"

#include "db/log.h"

#include <fmt/format.h>
#include <sys/epoll.h>

#include <algorithm>
#include <cstdio>
#include <deque>
#include <exception>
#include <random>
#include <utility>

namespace db {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using namespace std::chrono_literals;

// Reconnect backoff: the first retry after a failed attempt comes soon (a restart takes about
// a second), then doubles so that a long outage costs one attempt per connection every 5 s.
// A connection that was up and is lost reconnects at once: a single killed backend is the
// common case, and its in-flight reads are waiting for it. Unless it keeps dying young (a
// server that accepts and then drops us): after kImmediateReconnects losses, each within
// kHealthyAfter of becoming ready, the reconnect backs off too instead of spinning.
constexpr milliseconds kFirstBackoff = 100ms;
constexpr milliseconds kMaxBackoff = 5s;
// retry_primary_now() acts on at most one hint per kMaxBackoff (a LISTEN that flaps, e.g. a
// server that accepts and then drops sessions, must not undo the backoff), and spreads the
// attempts it starts over up to kRetrySpread, so that every reactor's connections do not knock
// at the same instant on a server that has just come back.
constexpr milliseconds kRetrySpread = 50ms;
constexpr unsigned kImmediateReconnects = 2;
constexpr milliseconds kHealthyAfter = 1s;
// libpq does not time out a non-blocking connect: a blackholed host would hang it forever.
constexpr milliseconds kConnectTimeout = 5s;
// Outage logging: one line when a server goes down, one when it is back, and in between at
// most one summary per interval (never one line per query or per attempt).
constexpr milliseconds kLogInterval = 10s;
// How often housekeeping looks for stuck connections and due summaries.
constexpr milliseconds kHousekeepingInterval = 1s;
// A connection whose oldest request has had no answer for this many deadlines (and at least
// kMinStuck) is presumed dead (a silent network partition) and reconnected.
constexpr int kStuckDeadlines = 4;
constexpr milliseconds kMinStuck = 5s;
// The protocol's limit on parameters per statement (a 16-bit count).
constexpr std::size_t kMaxParams = 65535;

// An error of severity FATAL or PANIC ends the session (pg_terminate_backend: FATAL 57P01, a
// shutdown, a crash): the query did not fail, its connection did. The SQLSTATE alone cannot
// tell: 08P01 is also what a wrong parameter count gets, as a plain ERROR.
bool ends_session(const PGresult* res) {
  const char* severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
  if (!severity) return false;
  const std::string_view sv{severity};
  return sv == "FATAL" || sv == "PANIC";
}

// libpq 17 can queue a Sync without flushing; older versions flush on every PQpipelineSync,
// which costs one send(2) per query instead of one per flush task (same bytes on the wire).
int queue_sync(PGconn* pg) {
#ifdef LIBPQ_HAS_SEND_PIPELINE_SYNC
  return PQsendPipelineSync(pg);
#else
  return PQpipelineSync(pg);
#endif
}

}  // namespace

class PgPool::Impl {
 public:
  Impl(EventLoop& loop, PoolOptions opts);
  ~Impl();

  void query(Route route, std::size_t statement, std::vector<std::string> params, QueryCallback cb);
  [[nodiscard]] bool primary_ready() const { return servers_.front()->ready > 0; }
  [[nodiscard]] PoolStats stats() const;
  void retry_primary_now();

 private:
  using Status = QueryResult::Status;

  struct Query {
    Route route = Route::Read;
    std::size_t statement = 0;
    std::vector<std::string> params;
    QueryCallback cb;  // empty once spent (Timeout delivered while in flight)
    Clock::time_point deadline;
    bool retried = false;
    bool in_flight = false;  // else in pending_reads_/pending_writes_
    // The deadline list (intrusive, oldest first: every deadline is now + the same delay).
    Query* prev = nullptr;
    Query* next = nullptr;
    bool linked = false;
  };
  using QueryPtr = std::unique_ptr<Query>;

  // One thing sent on a connection whose answer is still to be read.
  struct Expect {
    enum class Kind : std::uint8_t { Prepare, Query, Sync };
    Kind kind;
    QueryPtr query;      // Kind::Query; on a Sync: the write whose commit it confirms
    PgResultPtr result;  // Prepare/Query: the result read so far
    Clock::time_point sent;
  };

  enum class ConnState : std::uint8_t { Backoff, Connecting, Preparing, Ready };

  struct Server;
  struct Conn {
    Server* server = nullptr;
    ConnState state = ConnState::Backoff;
    PgConnPtr pg;
    EventLoop::Watch* watch = nullptr;
    bool want_write = false;  // EPOLLOUT is in the interest set: PQflush returned 1
    bool dirty = false;       // in dirty_: sent to during this flush task
    bool was_ready = false;   // has been Ready before: the next Ready is a reconnect
    std::uint64_t generation = 0;
    std::deque<Expect> expects;
    std::size_t queries_in_flight = 0;  // Kind::Query entries in expects, zombies included
    unsigned failures = 0;              // consecutive failed connection attempts
    unsigned quick_losses = 0;          // consecutive losses soon after becoming ready
    Clock::time_point ready_since{};
    std::uint64_t backoff_timer = 0;
    std::uint64_t connect_timer = 0;
    std::string prepare_error;
  };

  struct Server {
    std::string conninfo;
    std::string label;  // "primary (host=...)", for logs
    bool primary = false;
    std::vector<std::unique_ptr<Conn>> conns;
    unsigned ready = 0;
    bool down_logged = false;            // an outage line was printed, the recovery line not yet
    Clock::time_point last_log{};        // of the last line about this server (epoch: none yet)
    Clock::time_point first_unlogged{};  // of the oldest failure not in a line yet
    std::uint64_t failures_since_log = 0;
    std::string last_error;
  };

  // --- a query's life ----------------------------------------------------------------------
  void refuse(QueryCallback cb, Status status, std::string error);
  void schedule_flush();
  void run_flush();
  void dispatch(Route route, std::deque<QueryPtr>& pending);
  Conn* pick(Route route);
  bool send_query(Conn& c, QueryPtr q, std::deque<QueryPtr>& pending);
  void flush_conn(Conn& c);
  void on_io(Conn& c, std::uint32_t events);
  void read_results(Conn& c);
  void on_command_done(Conn& c, Expect e);
  void on_sync(Conn& c);
  QueryCallback retire(QueryPtr q);
  void deliver(QueryPtr q, Status status, std::string error, std::string sqlstate = {},
               PgResultPtr result = nullptr);
  void fail_all(std::deque<QueryPtr>& pending, Route route);
  void requeue_read(QueryPtr q);

  // --- a connection's life -----------------------------------------------------------------
  void start_connect(Conn& c);
  void on_connect_io(Conn& c);
  void watch_socket(Conn& c, std::uint32_t events);
  void on_connected(Conn& c);
  void on_ready(Conn& c);
  void close_conn(Conn& c);
  void connect_failed(Conn& c, std::string error);
  void reconnect_later(Conn& c, unsigned attempt);
  void lost(Conn& c, std::string error);
  void note_failure(Server& s, const std::string& error);
  void log_summary(Server& s, Clock::time_point now);
  bool hopeful(Route route) const;
  bool any_ready(Route route) const;
  std::string unavailable_reason(Route route) const;

  // --- deadlines and housekeeping -----------------------------------------------------------
  void link_deadline(Query* q);
  void unlink_deadline(Query* q);
  void arm_deadline_timer();
  void on_deadline_timer();
  void expire(Query* q);
  void arm_housekeeping();
  void housekeeping();

  EventLoop& loop_;
  PoolOptions opts_;
  std::vector<std::string> stmt_names_, stmt_sql_;
  std::vector<std::unique_ptr<Server>> servers_;  // [0] is the primary
  // Deferred tasks cannot be cancelled: they hold this and find it null once the pool is gone.
  std::shared_ptr<Impl*> self_;
  std::minstd_rand rng_;

  std::deque<QueryPtr> pending_reads_, pending_writes_;         // no connection taken them yet
  std::vector<std::pair<QueryCallback, QueryResult>> refused_;  // delivered by the flush task
  std::vector<Conn*> dirty_;
  std::vector<const char*> param_ptrs_;  // scratch for PQsendQueryPrepared
  bool flush_scheduled_ = false;

  Query* deadline_head_ = nullptr;
  Query* deadline_tail_ = nullptr;
  std::uint64_t deadline_timer_ = 0;
  std::uint64_t housekeeping_timer_ = 0;

  std::uint64_t outstanding_ = 0;
  PoolStats counters_;  // the monotonic counters; the gauges are computed in stats()
  Clock::time_point last_retry_hint_{};  // of the last hint acted on (epoch: none yet)
};

// ---------------------------------------------------------------------------------------------

PgPool::Impl::Impl(EventLoop& loop, PoolOptions opts)
    : loop_(loop),
      opts_(std::move(opts)),
      self_(std::make_shared<Impl*>(this)),
      rng_(static_cast<std::minstd_rand::result_type>(Clock::now().time_since_epoch().count() ^
                                                      reinterpret_cast<std::uintptr_t>(this))) {
  // Copied: the caller's span may not outlive the pool, and libpq wants C strings.
  for (const auto& st : opts_.statements) {
    stmt_names_.emplace_back(st.name);
    stmt_sql_.emplace_back(st.sql);
  }
  opts_.statements = {};
  const unsigned per_server = std::max(1U, opts_.conns_per_server);
  auto add_server = [&](const std::string& conninfo, std::string label, bool primary) {
    auto s = std::make_unique<Server>();
    s->conninfo = conninfo;
    s->label = fmt::format("{} ({})", label, mask_conninfo(conninfo));
    s->primary = primary;
    for (unsigned i = 0; i < per_server; ++i) {
      s->conns.push_back(std::make_unique<Conn>());
      s->conns.back()->server = s.get();
    }
    servers_.push_back(std::move(s));
  };
  add_server(opts_.primary, "primary", true);
  for (std::size_t i = 0; i < opts_.replicas.size(); ++i)
    add_server(opts_.replicas[i], fmt::format("replica {}", i + 1), false);
  for (auto& s : servers_)
    for (auto& c : s->conns) start_connect(*c);
  arm_housekeeping();
}

PgPool::Impl::~Impl() {
  *self_ = nullptr;
  if (deadline_timer_) loop_.cancel(deadline_timer_);
  if (housekeeping_timer_) loop_.cancel(housekeeping_timer_);
  for (auto& s : servers_) {
    for (auto& c : s->conns) {
      if (c->backoff_timer) loop_.cancel(c->backoff_timer);
      if (c->connect_timer) loop_.cancel(c->connect_timer);
      if (c->watch) loop_.unwatch(c->watch);
      c->watch = nullptr;
      c->pg.reset();
    }
  }
  // Outstanding callbacks are destroyed without being called (see pg_pool.h).
}

PoolStats PgPool::Impl::stats() const {
  PoolStats st = counters_;
  st.outstanding = outstanding_;
  for (const auto& s : servers_) {
    st.connections_up += s->ready;
    st.connections_total += static_cast<unsigned>(s->conns.size());
    if (!s->primary) {
      ++st.replicas_total;
      st.replicas_up += s->ready > 0;
    }
  }
  st.primary_up = primary_ready();
  return st;
}

// --- a query's life ----------------------------------------------------------------------------

void PgPool::Impl::query(Route route, std::size_t statement, std::vector<std::string> params,
                         QueryCallback cb) {
  ++counters_.queries;
  if (outstanding_ >= opts_.max_outstanding) {
    ++counters_.overloaded;
    refuse(std::move(cb), Status::Overloaded, "too many outstanding queries");
    return;
  }
  if (statement >= stmt_names_.size()) {
    ++counters_.errors;
    refuse(std::move(cb), Status::Error, fmt::format("no prepared statement #{}", statement));
    return;
  }
  if (params.size() > kMaxParams) {  // libpq would refuse to send it, which looks like a broken
    ++counters_.errors;              // connection: refuse it here instead
    refuse(std::move(cb), Status::Error, fmt::format("{} parameters", params.size()));
    return;
  }
  auto q = std::make_unique<Query>();
  q->route = route;
  q->statement = statement;
  q->params = std::move(params);
  q->cb = std::move(cb);
  q->deadline = loop_.now() + opts_.deadline;
  ++outstanding_;
  link_deadline(q.get());
  (route == Route::Read ? pending_reads_ : pending_writes_).push_back(std::move(q));
  schedule_flush();
}

void PgPool::Impl::refuse(QueryCallback cb, Status status, std::string error) {
  QueryResult r;
  r.status = status;
  r.error = std::move(error);
  refused_.emplace_back(std::move(cb), std::move(r));
  schedule_flush();
}

// Everything a loop iteration queued leaves in one task at its end: the callbacks that
// query() may not call itself, then the queries, handed to connections and flushed.
void PgPool::Impl::schedule_flush() {
  if (flush_scheduled_) return;
  flush_scheduled_ = true;
  loop_.defer([self = self_] {
    if (Impl* pool = *self) pool->run_flush();
  });
}

void PgPool::Impl::run_flush() {
  flush_scheduled_ = false;
  auto refused = std::move(refused_);
  refused_.clear();
  for (auto& [cb, result] : refused) cb(result);

  dispatch(Route::Write, pending_writes_);
  dispatch(Route::Read, pending_reads_);

  auto dirty = std::move(dirty_);
  dirty_.clear();
  for (Conn* c : dirty) {
    c->dirty = false;
    if (c->state == ConnState::Ready) flush_conn(*c);
  }
}

void PgPool::Impl::dispatch(Route route, std::deque<QueryPtr>& pending) {
  while (!pending.empty()) {
    Conn* c = pick(route);
    if (!c) {
      // Nothing can take it now. Wait while a connection is on its way up (start, reconnect);
      // when none is, fail fast rather than let requests hang until their deadline.
      if (!any_ready(route) && !hopeful(route)) fail_all(pending, route);
      return;
    }
    QueryPtr q = std::move(pending.front());
    pending.pop_front();
    send_query(*c, std::move(q), pending);
  }
}

// Reads: the ready replica connection with the fewest queries in flight; the primary only when
// no replica is up. Writes: the primary. With pipelining off, only idle connections qualify.
PgPool::Impl::Conn* PgPool::Impl::pick(Route route) {
  Conn* best = nullptr;
  auto consider = [&](Server& s) {
    for (auto& c : s.conns) {
      if (c->state != ConnState::Ready) continue;
      if (!opts_.pipeline && !c->expects.empty()) continue;
      if (!best || c->queries_in_flight < best->queries_in_flight) best = c.get();
    }
  };
  if (route == Route::Read) {
    bool replica_up = false;
    for (std::size_t i = 1; i < servers_.size(); ++i) {
      if (servers_[i]->ready == 0) continue;
      replica_up = true;
      consider(*servers_[i]);
    }
    if (replica_up) return best;
  }
  consider(*servers_.front());
  return best;
}

// Queues the query and its own Sync on `c` (sent by flush_conn). Returns false when the
// connection broke; the query is then handled as any in-flight query of a lost connection.
bool PgPool::Impl::send_query(Conn& c, QueryPtr q, std::deque<QueryPtr>& pending) {
  param_ptrs_.clear();
  for (const auto& p : q->params) param_ptrs_.push_back(p.c_str());
  const bool sent = PQsendQueryPrepared(c.pg.get(), stmt_names_[q->statement].c_str(),
                                        static_cast<int>(param_ptrs_.size()), param_ptrs_.data(),
                                        nullptr, nullptr, /*resultFormat text*/ 0) != 0;
  if (!sent) {
    // Nothing of it reached libpq's queue: put it back where it was, then drop the connection.
    pending.push_front(std::move(q));
    lost(c, conn_error(c.pg.get()));
    return false;
  }
  q->in_flight = true;
  c.expects.push_back({Expect::Kind::Query, std::move(q), nullptr, loop_.now()});
  ++c.queries_in_flight;
  if (!queue_sync(c.pg.get())) {
    lost(c, conn_error(c.pg.get()));
    return false;
  }
  c.expects.push_back({Expect::Kind::Sync, nullptr, nullptr, loop_.now()});
  if (!c.dirty) {
    c.dirty = true;
    dirty_.push_back(&c);
  }
  return true;
}

void PgPool::Impl::flush_conn(Conn& c) {
  const int r = PQflush(c.pg.get());
  if (r < 0) {
    lost(c, conn_error(c.pg.get()));
    return;
  }
  const bool want_write = r == 1;  // the socket buffer is full: finish on EPOLLOUT
  if (want_write != c.want_write) {
    c.want_write = want_write;
    loop_.rewatch(c.watch, EPOLLIN | (want_write ? EPOLLOUT : 0U));
  }
}

void PgPool::Impl::on_io(Conn& c, std::uint32_t events) {
  if (c.state == ConnState::Connecting) {
    on_connect_io(c);
    return;
  }
  const std::uint64_t gen = c.generation;
  if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) read_results(c);
  // libpq may need to read before it can write more (the server stops reading while its own
  // output is blocked), so a pending flush is retried after any event.
  if (c.generation == gen && c.want_write) flush_conn(c);
}

void PgPool::Impl::read_results(Conn& c) {
  PGconn* pg = c.pg.get();
  if (!PQconsumeInput(pg)) {
    lost(c, conn_error(pg));
    return;
  }
  const std::uint64_t gen = c.generation;
  bool null_without_progress = false;
  while (c.generation == gen && !c.expects.empty() && !PQisBusy(pg)) {
    PgResultPtr res{PQgetResult(pg)};
    Expect& e = c.expects.front();
    const ExecStatusType st = res ? PQresultStatus(res.get()) : PGRES_EMPTY_QUERY;
    if (e.kind == Expect::Kind::Sync) {
      if (!res) {
        // libpq has nothing yet; asking again would spin.
        if (null_without_progress) break;
        null_without_progress = true;
        continue;
      }
      if (st != PGRES_PIPELINE_SYNC) {
        lost(c, fmt::format("pipeline out of step: {} where a sync was due", PQresStatus(st)));
        return;
      }
      Expect sync = std::move(e);
      c.expects.pop_front();
      null_without_progress = false;
      // A write waiting for its commit (see on_command_done): committed now.
      if (sync.query) deliver(std::move(sync.query), Status::Ok, {}, {}, std::move(sync.result));
      if (c.generation != gen) return;
      on_sync(c);
      continue;
    }
    if (res) {
      if (st == PGRES_PIPELINE_SYNC) {
        lost(c, "pipeline out of step: a sync where a result was due");
        return;
      }
      // One statement gives one result; should there be more, an error wins.
      if (!e.result || st == PGRES_FATAL_ERROR) e.result = std::move(res);
      null_without_progress = false;
      continue;
    }
    if (!e.result) {
      // A NULL before any result is not this command's terminator (libpq between rounds).
      if (null_without_progress) break;
      null_without_progress = true;
      continue;
    }
    null_without_progress = false;
    Expect done = std::move(e);
    c.expects.pop_front();
    on_command_done(c, std::move(done));
  }
  if (c.generation == gen && PQstatus(pg) == CONNECTION_BAD) lost(c, conn_error(pg));
}

void PgPool::Impl::on_command_done(Conn& c, Expect e) {
  const ExecStatusType st = PQresultStatus(e.result.get());
  const bool ok = st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK;
  std::string sqlstate;
  if (!ok) {
    const char* code = PQresultErrorField(e.result.get(), PG_DIAG_SQLSTATE);
    sqlstate = code ? code : "";
  }
  if (e.kind == Expect::Kind::Prepare) {
    if (!ok && c.prepare_error.empty())
      c.prepare_error = st == PGRES_PIPELINE_ABORTED
                            ? "pipeline aborted"
                            : trimmed(PQresultErrorMessage(e.result.get()));
    return;
  }

  --c.queries_in_flight;
  if (!ok && st != PGRES_PIPELINE_ABORTED &&
      (ends_session(e.result.get()) || PQstatus(c.pg.get()) == CONNECTION_BAD)) {
    // The server is ending this session (e.g. pg_terminate_backend): not the query's fault.
    // Put it back in front and treat it like every other query of the lost connection.
    ++c.queries_in_flight;
    c.expects.push_front(std::move(e));
    lost(c, trimmed(PQresultErrorMessage(c.expects.front().result.get())));
    return;
  }
  QueryPtr q = std::move(e.query);
  if (!q->cb) {  // a zombie: its Timeout was delivered, the late result goes nowhere
    retire(std::move(q));
    return;
  }
  if (st == PGRES_PIPELINE_ABORTED) {
    // Cannot happen with one Sync per query; if it does, the statement never ran.
    if (q->route == Route::Read && !q->retried) {
      requeue_read(std::move(q));
      return;
    }
    ++counters_.errors;
    deliver(std::move(q), Status::Error, "pipeline aborted");
    return;
  }
  if (ok && q->route == Route::Write && !c.expects.empty() &&
      c.expects.front().kind == Expect::Kind::Sync) {
    // A write's result arrives before its implicit transaction commits, which happens at the
    // Sync. Acknowledging now could tell a client "201" for a review a crash then loses, so it
    // rides on its Sync and is delivered when that comes back (or Unavailable if the
    // connection dies first: it may or may not have committed, and the client is told so).
    c.expects.front().query = std::move(q);
    c.expects.front().result = std::move(e.result);
    return;
  }
  if (ok) {
    deliver(std::move(q), Status::Ok, {}, {}, std::move(e.result));
  } else {
    ++counters_.errors;
    std::string error = trimmed(PQresultErrorMessage(e.result.get()));  // before the move below
    deliver(std::move(q), Status::Error, std::move(error), std::move(sqlstate),
            std::move(e.result));
  }
}

void PgPool::Impl::on_sync(Conn& c) {
  if (c.state == ConnState::Preparing) {
    // The Sync after the prepares: every statement is ready, or the connection is useless.
    if (!c.prepare_error.empty())
      connect_failed(c, "preparing statements: " + c.prepare_error);
    else
      on_ready(c);
    return;
  }
  // With pipelining off this connection may now take the next query.
  if (!opts_.pipeline && (!pending_reads_.empty() || !pending_writes_.empty())) schedule_flush();
}

// Takes the query out of the pool's books; returns its callback (empty for a zombie).
QueryCallback PgPool::Impl::retire(QueryPtr q) {
  unlink_deadline(q.get());
  --outstanding_;
  return std::move(q->cb);
}

void PgPool::Impl::deliver(QueryPtr q, Status status, std::string error, std::string sqlstate,
                           PgResultPtr result) {
  QueryCallback cb = retire(std::move(q));
  if (!cb) return;
  QueryResult r;
  r.status = status;
  r.result = std::move(result);
  r.error = std::move(error);
  r.sqlstate = std::move(sqlstate);
  cb(r);
}

void PgPool::Impl::fail_all(std::deque<QueryPtr>& pending, Route route) {
  // Swapped out first: a callback may queue a new query into `pending`.
  auto batch = std::move(pending);
  pending.clear();
  const std::string why = unavailable_reason(route);
  for (auto& q : batch) {
    ++counters_.unavailable;
    deliver(std::move(q), Status::Unavailable, why);
  }
}

void PgPool::Impl::requeue_read(QueryPtr q) {
  ++counters_.retries;
  q->retried = true;
  q->in_flight = false;
  pending_reads_.push_front(std::move(q));
  schedule_flush();
}

// --- a connection's life -----------------------------------------------------------------------

void PgPool::Impl::start_connect(Conn& c) {
  c.backoff_timer = 0;
  if (c.pg) close_conn(c);  // cannot happen; never leak a watched socket if it does
  c.state = ConnState::Connecting;
  // Non-blocking from here on, except for one thing libpq cannot avoid: a host *name* is
  // resolved with a blocking getaddrinfo(). Use IP addresses, hostaddr= or a socket directory.
  //
  // The server cancels a statement just after the deadline itself (statement_timeout), so a query
  // nobody waits for any more does not hold the pipeline behind it, and an in-flight write
  // always ends (committed, or cancelled and rolled back) instead of outliving its answer.
  //
  // Every statement runs on one generic plan (plan_cache_mode): PostgreSQL would otherwise plan
  // each execution of ours afresh, because the generic plan's estimate (a LIMIT of unknown size)
  // never beats the custom ones, and planning costs as much as running these index lookups
  // (db/README.md, "Generic plans"). Each statement finds its rows through an index on the
  // parameter, so the plan is the same for every value.
  //
  // Both are left out when the conninfo sets `options` of its own (ours would replace it).
  const std::string& conninfo = c.server->conninfo;
  if (conninfo.find("options") == std::string::npos) {
    // A little past the deadline: a read's Timeout is delivered by the pool first, as before.
    const auto timeout = opts_.deadline + std::max<milliseconds>(50ms, opts_.deadline / 10);
    const std::string options = fmt::format(
        "-c statement_timeout={} -c plan_cache_mode=force_generic_plan", timeout.count());
    const char* const keys[] = {"dbname", "options", nullptr};
    const char* const values[] = {conninfo.c_str(), options.c_str(), nullptr};
    c.pg.reset(PQconnectStartParams(keys, values, /*expand_dbname=*/1));
  } else {
    c.pg.reset(PQconnectStart(conninfo.c_str()));
  }
  if (!c.pg) {
    connect_failed(c, "out of memory");
    return;
  }
  if (PQstatus(c.pg.get()) == CONNECTION_BAD) {
    connect_failed(c, conn_error(c.pg.get()));
    return;
  }
  PQsetNoticeProcessor(c.pg.get(), ignore_notice, nullptr);
  c.connect_timer = loop_.call_after(kConnectTimeout, [this, &c] {
    c.connect_timer = 0;
    connect_failed(c, fmt::format("no connection within {} ms", kConnectTimeout.count()));
  });
  // libpq's rule: before the first PQconnectPoll, wait until the socket is writable.
  watch_socket(c, EPOLLOUT);
}

void PgPool::Impl::on_connect_io(Conn& c) {
  switch (PQconnectPoll(c.pg.get())) {
    case PGRES_POLLING_OK:
      on_connected(c);
      return;
    case PGRES_POLLING_READING:
      watch_socket(c, EPOLLIN);
      return;
    case PGRES_POLLING_WRITING:
      watch_socket(c, EPOLLOUT);
      return;
    default:
      connect_failed(c, conn_error(c.pg.get()));
      return;
  }
}

// Registers the connection's current socket. While connecting it is registered afresh after
// every PQconnectPoll step: libpq closes the socket and opens another when it moves on to the
// next host or address, and the new one may even get the same number (which epoll would have
// forgotten with the old file), so comparing numbers is not enough.
void PgPool::Impl::watch_socket(Conn& c, std::uint32_t events) {
  if (c.watch) loop_.unwatch(c.watch);
  c.watch = nullptr;
  c.want_write = (events & EPOLLOUT) != 0 && c.state != ConnState::Connecting;
  const int fd = PQsocket(c.pg.get());
  if (fd < 0) {
    connect_failed(c, "libpq has no socket: " + conn_error(c.pg.get()));
    return;
  }
  try {
    c.watch = loop_.watch(fd, events, [this, &c](std::uint32_t ev) { on_io(c, ev); });
  } catch (const std::exception& ex) {
    connect_failed(c, fmt::format("cannot watch the socket: {}", ex.what()));
  }
}

void PgPool::Impl::on_connected(Conn& c) {
  PGconn* pg = c.pg.get();
  if (PQsetnonblocking(pg, 1) != 0 || !PQenterPipelineMode(pg)) {
    connect_failed(c, "cannot enter pipeline mode: " + conn_error(pg));
    return;
  }
  c.state = ConnState::Preparing;
  c.prepare_error.clear();
  const auto now = loop_.now();
  for (std::size_t i = 0; i < stmt_names_.size(); ++i) {
    if (!PQsendPrepare(pg, stmt_names_[i].c_str(), stmt_sql_[i].c_str(), 0, nullptr)) {
      connect_failed(c, "preparing statements: " + conn_error(pg));
      return;
    }
    c.expects.push_back({Expect::Kind::Prepare, nullptr, nullptr, now});
  }
  if (!queue_sync(pg)) {
    connect_failed(c, "preparing statements: " + conn_error(pg));
    return;
  }
  c.expects.push_back({Expect::Kind::Sync, nullptr, nullptr, now});
  watch_socket(c, EPOLLIN);
  if (c.state == ConnState::Preparing) flush_conn(c);
}

void PgPool::Impl::on_ready(Conn& c) {
  if (c.was_ready) ++counters_.reconnects;
  c.was_ready = true;
  c.state = ConnState::Ready;
  c.failures = 0;
  c.ready_since = loop_.now();
  if (c.connect_timer) loop_.cancel(c.connect_timer);
  c.connect_timer = 0;
  Server& s = *c.server;
  ++s.ready;
  if (s.ready == 1 && s.down_logged) {
    log_line(LogSeverity::Info, "{} is back up", s.label);
    s.down_logged = false;
    s.failures_since_log = 0;
    s.last_log = loop_.now();
  }
  schedule_flush();  // queries may be waiting for it
}

// Takes the connection out of the loop and closes it. In-flight queries are the caller's.
void PgPool::Impl::close_conn(Conn& c) {
  if (c.watch) loop_.unwatch(c.watch);  // before PQfinish closes the fd
  c.watch = nullptr;
  c.pg.reset();
  if (c.connect_timer) loop_.cancel(c.connect_timer);
  c.connect_timer = 0;
  if (c.state == ConnState::Ready) --c.server->ready;
  c.state = ConnState::Backoff;
  c.want_write = false;
  c.queries_in_flight = 0;
  ++c.generation;
}

// A connection attempt failed (connect, prepare, or a timeout before it was ready).
void PgPool::Impl::connect_failed(Conn& c, std::string error) {
  close_conn(c);
  c.expects.clear();  // only prepares and their Sync: no query is sent before Ready
  ++c.failures;
  ++counters_.connect_failures;
  note_failure(*c.server, error);
  reconnect_later(c, c.failures);
  schedule_flush();  // queries waiting for this attempt may now have nowhere to go
}

// Only a connection waiting out its backoff has a backoff timer (start_connect clears it). Its
// failure count is kept: if the attempt fails, the next one waits as long as before. A hint
// that finds no connection waiting (the first LISTEN at start-up) does not count.
void PgPool::Impl::retry_primary_now() {
  const auto now = loop_.now();
  if (last_retry_hint_ != Clock::time_point{} && now - last_retry_hint_ < kMaxBackoff) return;
  for (auto& c : servers_.front()->conns) {
    if (!c->backoff_timer) continue;
    last_retry_hint_ = now;
    loop_.cancel(c->backoff_timer);
    const milliseconds delay{rng_() % static_cast<unsigned>(kRetrySpread.count() + 1)};
    Conn* conn = c.get();
    c->backoff_timer = loop_.call_after(delay, [this, conn] { start_connect(*conn); });
  }
}

// Backoff before attempt number `attempt` (1, 2, ...): 100 ms doubling to 5 s, with jitter.
void PgPool::Impl::reconnect_later(Conn& c, unsigned attempt) {
  if (c.backoff_timer) loop_.cancel(c.backoff_timer);  // never two attempts at once
  const unsigned shift = std::min(attempt - 1, 16U);
  const milliseconds base = std::min<milliseconds>(kFirstBackoff * (1LL << shift), kMaxBackoff);
  // Jitter in [base/2, base]: the reactors' connections do not all knock at the same moment.
  const auto half = base.count() / 2;
  const milliseconds delay{half + static_cast<long long>(rng_() % static_cast<unsigned>(half + 1))};
  c.backoff_timer = loop_.call_after(delay, [this, &c] { start_connect(c); });
}

// A connection that was up broke: its reads are retried once elsewhere (or after the
// reconnect), its writes fail (they may have committed), and it reconnects at once.
void PgPool::Impl::lost(Conn& c, std::string error) {
  if (c.state != ConnState::Ready) {
    // Broke while preparing: an attempt that failed, with backoff.
    connect_failed(c, std::move(error));
    return;
  }
  auto expects = std::move(c.expects);
  c.expects.clear();
  if (loop_.now() - c.ready_since >= kHealthyAfter) c.quick_losses = 0;
  ++c.quick_losses;
  close_conn(c);
  note_failure(*c.server, error);
  // First, so that the requeued reads know whether a connection is coming.
  if (c.quick_losses <= kImmediateReconnects)
    start_connect(c);
  else
    reconnect_later(c, c.quick_losses - kImmediateReconnects);

  std::vector<QueryPtr> retry;
  std::vector<QueryPtr> fail;
  for (auto& e : expects) {
    if (!e.query) continue;  // a Query, or a Sync carrying a write that awaits its commit
    QueryPtr q = std::move(e.query);
    if (!q->cb)
      retire(std::move(q));  // zombie
    else if (q->route == Route::Read && !q->retried)
      retry.push_back(std::move(q));
    else
      fail.push_back(std::move(q));
  }
  // Back in front of the queue, in their original order: they are the oldest.
  for (auto it = retry.rbegin(); it != retry.rend(); ++it) requeue_read(std::move(*it));
  const std::string why = fmt::format("connection to {} lost: {}", c.server->label, error);
  for (auto& q : fail) {
    ++counters_.unavailable;
    deliver(std::move(q), Status::Unavailable, why);
  }
  schedule_flush();
}

// Outage logging, per server: see kLogInterval.
void PgPool::Impl::note_failure(Server& s, const std::string& error) {
  s.last_error = error;
  const auto now = loop_.now();
  // A server that comes and goes gets its down line at most once per interval; the summary
  // counts the rest.
  const bool first_line = s.last_log == Clock::time_point{};
  if (s.ready == 0 && !s.down_logged && (first_line || now - s.last_log >= kLogInterval)) {
    log_line(LogSeverity::Warn, "{} is down: {}; reconnecting with backoff", s.label, error);
    s.down_logged = true;
    s.last_log = now;
    s.failures_since_log = 0;
    return;
  }
  if (s.failures_since_log++ == 0) s.first_unlogged = now;
  if (first_line || now - s.last_log >= kLogInterval) log_summary(s, now);
}

void PgPool::Impl::log_summary(Server& s, Clock::time_point now) {
  const auto span = std::chrono::ceil<std::chrono::seconds>(now - s.first_unlogged);
  log_line(LogSeverity::Warn,
           "{}: {} connection failure(s) in the last {} s, now {}; last error: {}", s.label,
           s.failures_since_log, std::max<std::int64_t>(1, span.count()),
           s.ready > 0 ? "up" : "down", s.last_error);
  s.last_log = now;
  s.failures_since_log = 0;
}

// True while a connection that could serve `route` is on its way up.
bool PgPool::Impl::hopeful(Route route) const {
  for (std::size_t i = 0; i < servers_.size(); ++i) {
    if (route == Route::Write && i > 0) break;
    for (const auto& c : servers_[i]->conns)
      if (c->state == ConnState::Connecting || c->state == ConnState::Preparing) return true;
  }
  return false;
}

bool PgPool::Impl::any_ready(Route route) const {
  if (route == Route::Write) return servers_.front()->ready > 0;
  return std::any_of(servers_.begin(), servers_.end(), [](const auto& s) { return s->ready > 0; });
}

std::string PgPool::Impl::unavailable_reason(Route route) const {
  const Server& s = *servers_.front();
  return fmt::format("no connection to PostgreSQL for {} ({}: {})",
                     route == Route::Read ? "reads" : "writes", s.label,
                     s.last_error.empty() ? "not connected" : s.last_error);
}

// --- deadlines and housekeeping ------------------------------------------------------------------

// Every query waits the same delay, so appending keeps the list sorted and one timer, armed for
// the head, serves them all.
void PgPool::Impl::link_deadline(Query* q) {
  q->prev = deadline_tail_;
  q->next = nullptr;
  (deadline_tail_ ? deadline_tail_->next : deadline_head_) = q;
  deadline_tail_ = q;
  q->linked = true;
  if (!deadline_timer_) arm_deadline_timer();
}

void PgPool::Impl::unlink_deadline(Query* q) {
  if (!q->linked) return;
  (q->prev ? q->prev->next : deadline_head_) = q->next;
  (q->next ? q->next->prev : deadline_tail_) = q->prev;
  q->prev = q->next = nullptr;
  q->linked = false;
}

void PgPool::Impl::arm_deadline_timer() {
  if (!deadline_head_) return;
  const auto left = deadline_head_->deadline - loop_.now();
  // Rounded up: a timer that fires a millisecond early would only re-arm itself.
  auto ms = std::chrono::ceil<milliseconds>(left);
  if (ms < 0ms) ms = 0ms;
  deadline_timer_ = loop_.call_after(ms, [this] { on_deadline_timer(); });
}

void PgPool::Impl::on_deadline_timer() {
  deadline_timer_ = 0;
  const auto now = loop_.now();
  while (deadline_head_ && deadline_head_->deadline <= now) expire(deadline_head_);
  if (!deadline_timer_) arm_deadline_timer();
}

void PgPool::Impl::expire(Query* q) {
  ++counters_.timeouts;
  unlink_deadline(q);
  QueryResult r;
  r.status = Status::Timeout;
  r.error = fmt::format("no answer within {} ms", opts_.deadline.count());
  if (q->in_flight && q->route == Route::Write) {
    // A sent write is not abandoned: answering 503 while it may still commit would invite the
    // client to send it again. Its statement_timeout ends it on the server, so its real
    // outcome (committed, or cancelled and rolled back) comes back soon; stuck detection
    // bounds the wait if the server never answers.
    --counters_.timeouts;
    return;
  }
  if (q->in_flight) {
    // Stays in its connection's pipeline as a zombie until its late result is read.
    QueryCallback cb = std::move(q->cb);
    q->cb = {};
    cb(r);
    return;
  }
  // Still waiting for a connection: the oldest are at the front, so the search is short.
  auto& pending = q->route == Route::Read ? pending_reads_ : pending_writes_;
  const auto it =
      std::find_if(pending.begin(), pending.end(), [q](const QueryPtr& p) { return p.get() == q; });
  if (it == pending.end()) return;  // cannot happen: a linked query is pending or in flight
  QueryPtr owned = std::move(*it);
  pending.erase(it);
  QueryCallback cb = retire(std::move(owned));
  cb(r);
}

void PgPool::Impl::arm_housekeeping() {
  housekeeping_timer_ = loop_.call_after(kHousekeepingInterval, [this] {
    housekeeping_timer_ = 0;
    housekeeping();
    arm_housekeeping();
  });
}

void PgPool::Impl::housekeeping() {
  const auto now = loop_.now();
  const auto stuck_after = std::max<milliseconds>(kMinStuck, opts_.deadline * kStuckDeadlines);
  for (auto& s : servers_) {
    for (auto& c : s->conns) {
      if (c->state == ConnState::Ready && !c->expects.empty() &&
          now - c->expects.front().sent >= stuck_after) {
        lost(*c, fmt::format("no answer for {} ms", stuck_after.count()));
      }
    }
    if (s->failures_since_log > 0 && now - s->last_log >= kLogInterval) log_summary(*s, now);
  }
}

// --- PgPool ------------------------------------------------------------------------------------

PgPool::PgPool(EventLoop& loop, PoolOptions opts)
    : impl_(std::make_unique<Impl>(loop, std::move(opts))) {}

PgPool::~PgPool() = default;

void PgPool::query(Route route, std::size_t statement, std::vector<std::string> params,
                   QueryCallback cb) {
  impl_->query(route, statement, std::move(params), std::move(cb));
}

bool PgPool::primary_ready() const { return impl_->primary_ready(); }

void PgPool::retry_primary_now() { impl_->retry_primary_now(); }

PoolStats PgPool::stats() const { return impl_->stats(); }

}  // namespace db
