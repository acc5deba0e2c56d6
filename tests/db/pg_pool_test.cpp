// db::PgPool against the test cluster, on a real server::Reactor run by a thread of the test
// (through server::ReactorLoop). The test thread hands work to the loop with post() and waits
// on futures; every wait is bounded.
#include "db/pg_pool.h"
#include "server/reactor.h"
#include "server/reactor_loop.h"
#include "support/test_env.h"

#include <fmt/format.h>
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using Status = db::QueryResult::Status;

constexpr auto kWait = 15s;  // bound on any single wait; tests normally take far less

enum Stmt : std::size_t { kEcho, kDiv, kSlowEcho, kInsert, kSlowInsert, kAppName };
constexpr db::PreparedStatement kStatements[] = {
    {"t_echo", "SELECT $1::integer"},
    {"t_div", "SELECT 100 / $1::integer"},
    {"t_slow_echo", "SELECT $1::integer FROM pg_sleep($2::float8)"},
    {"t_insert", "INSERT INTO t(v) VALUES ($1::integer)"},
    {"t_slow_insert", "INSERT INTO t(v) SELECT $1::integer FROM pg_sleep($2::float8)"},
    {"t_app", "SELECT current_setting('application_name')"},
};

// Contract checks made inside callbacks, on the loop thread.
std::atomic<int> g_calls_inside_query{0};
std::atomic<int> g_extra_calls{0};
bool g_in_query = false;  // loop thread only

struct Outcome {
  Status status = Status::Unavailable;
  std::string value;  // first cell, text
  std::string error;
  std::string sqlstate;
  std::uint64_t outstanding_at_callback = 0;
};

// A reactor on its own thread for the duration of a test.
class LoopThread {
 public:
  LoopThread() : loop_(reactor_) {
    thread_ = std::thread([this] { reactor_.run(); });
  }
  ~LoopThread() {
    reactor_.post([this] { reactor_.stop(); });
    thread_.join();
  }
  LoopThread(const LoopThread&) = delete;
  LoopThread& operator=(const LoopThread&) = delete;

  // Runs `fn` on the loop thread and waits until it has run.
  void run(std::function<void()> fn) {
    auto done = std::make_shared<std::promise<void>>();
    auto fut = done->get_future();
    reactor_.post([fn = std::move(fn), done] {
      fn();
      done->set_value();
    });
    REQUIRE(fut.wait_for(kWait) == std::future_status::ready);
  }

  // Polls `pred` on the loop thread until it holds (or the bound passes); returns it.
  bool wait_for(const std::function<bool()>& pred, std::chrono::milliseconds limit = kWait) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (true) {
      bool ok = false;
      run([&] { ok = pred(); });
      if (ok) return true;
      if (std::chrono::steady_clock::now() >= end) return false;
      std::this_thread::sleep_for(10ms);
    }
  }

  db::EventLoop& loop() { return loop_; }

 private:
  server::Reactor reactor_{0};
  server::ReactorLoop loop_;
  std::thread thread_;
};

// The pool lives on the loop thread: made and destroyed there.
class PoolFixture {
 public:
  PoolFixture(LoopThread& t, db::PoolOptions opts) : t_(t) {
    opts.statements = kStatements;
    t_.run([&] { pool_ = std::make_unique<db::PgPool>(t_.loop(), std::move(opts)); });
  }
  ~PoolFixture() { destroy(); }
  PoolFixture(const PoolFixture&) = delete;
  PoolFixture& operator=(const PoolFixture&) = delete;

  void destroy() {
    if (pool_) t_.run([&] { pool_.reset(); });
  }
  db::PgPool& pool() { return *pool_; }
  db::PoolStats stats() {
    db::PoolStats st;
    t_.run([&] { st = pool_->stats(); });
    return st;
  }
  bool wait_up(unsigned connections) {
    return t_.wait_for([&] { return pool_->stats().connections_up == connections; });
  }

  // Loop thread only. `order`, if given, gets `tag` appended when the callback runs.
  std::future<Outcome> submit(db::Route route, Stmt st, std::vector<std::string> params,
                              std::vector<int>* order = nullptr, int tag = 0) {
    auto promise = std::make_shared<std::promise<Outcome>>();
    auto fut = promise->get_future();
    auto calls = std::make_shared<int>(0);
    db::PgPool* pool = pool_.get();
    g_in_query = true;
    pool_->query(route, st, std::move(params),
                 [promise, calls, order, tag, pool](db::QueryResult& r) {
                   if (g_in_query) ++g_calls_inside_query;
                   if (++*calls > 1) {
                     ++g_extra_calls;
                     return;
                   }
                   if (order) order->push_back(tag);
                   Outcome o;
                   o.status = r.status;
                   if (r.result && PQntuples(r.result.get()) > 0)
                     o.value = PQgetvalue(r.result.get(), 0, 0);
                   o.error = r.error;
                   o.sqlstate = r.sqlstate;
                   o.outstanding_at_callback = pool->stats().outstanding;
                   promise->set_value(std::move(o));
                 });
    g_in_query = false;
    return fut;
  }

 private:
  LoopThread& t_;
  std::unique_ptr<db::PgPool> pool_;
};

Outcome get(std::future<Outcome>& f) {
  REQUIRE(f.wait_for(kWait) == std::future_status::ready);
  return f.get();
}

// A database with the table the statements need (they are prepared at connect).
struct TestDb {
  testenv::TempDatabase db;
  TestDb() {
    auto conn = db::connect(db.conninfo());
    db::exec(conn.get(), "CREATE TABLE t (v integer)");
  }
};

db::PoolOptions options(const std::string& conninfo) {
  db::PoolOptions o;
  o.primary = conninfo;
  return o;
}

void check_contract() {
  CHECK(g_calls_inside_query.load() == 0);
  CHECK(g_extra_calls.load() == 0);
}

// A server the test switches on and off: the pool connects through a socket directory of its
// own, where a symlink to the test cluster's socket is "the server is up" and no symlink is "the
// server is down" (down at first).
struct SwitchedServer {
  TestDb tdb;
  testenv::TempDir dir;
  std::filesystem::path link = dir.path() / fmt::format(".s.PGSQL.{}", testenv::kTestPgPort);
  std::string conninfo = fmt::format("host={} port={} user=postgres dbname={}", dir.path().string(),
                                     testenv::kTestPgPort, tdb.db.name());
  void up() { std::filesystem::create_symlink(testenv::pg_dir() / "sock" / link.filename(), link); }
  void down() { std::filesystem::remove(link); }
};

}  // namespace

TEST_CASE("pipelined queries on one connection return their own results in order",
          "[db][pool][integration]") {
  TestDb tdb;
  LoopThread t;
  PoolFixture p(t, options(tdb.db.conninfo()));
  REQUIRE(p.wait_up(1));

  constexpr int kN = 500;
  std::vector<int> order;
  std::vector<std::future<Outcome>> futs;
  t.run([&] {
    for (int i = 0; i < kN; ++i)
      futs.push_back(p.submit(db::Route::Read, kEcho, {std::to_string(i)}, &order, i));
  });
  for (int i = 0; i < kN; ++i) {
    const Outcome o = get(futs[i]);
    REQUIRE(o.status == Status::Ok);
    CHECK(o.value == std::to_string(i));
  }
  REQUIRE(order.size() == kN);
  for (int i = 0; i < kN; ++i) CHECK(order[i] == i);
  const auto st = p.stats();
  CHECK(st.queries == kN);
  CHECK(st.outstanding == 0);
  CHECK(st.errors == 0);
  CHECK(st.connections_up == 1);
  CHECK(st.connections_total == 1);
  CHECK(st.primary_up);
  check_contract();
}

TEST_CASE("a failing statement fails only its own query", "[db][pool][integration]") {
  TestDb tdb;
  LoopThread t;
  PoolFixture p(t, options(tdb.db.conninfo()));
  REQUIRE(p.wait_up(1));

  std::vector<std::future<Outcome>> futs;
  t.run([&] {  // one loop iteration: one flush, neighbours in the same pipeline
    futs.push_back(p.submit(db::Route::Read, kEcho, {"1"}));
    futs.push_back(p.submit(db::Route::Read, kDiv, {"0"}));
    futs.push_back(p.submit(db::Route::Write, kInsert, {"7"}));
    futs.push_back(p.submit(db::Route::Read, kDiv, {"4"}));
    futs.push_back(p.submit(db::Route::Write, kInsert, {"not a number"}));
    futs.push_back(p.submit(db::Route::Read, kEcho, {"3"}));
    futs.push_back(p.submit(db::Route::Read, kEcho, {"1", "2"}));  // wrong parameter count
    futs.push_back(p.submit(db::Route::Read, kEcho, {"4"}));
  });
  const Outcome a = get(futs[0]), b = get(futs[1]), c = get(futs[2]), d = get(futs[3]),
                e = get(futs[4]), f = get(futs[5]);
  CHECK(a.status == Status::Ok);
  CHECK(a.value == "1");
  CHECK(b.status == Status::Error);
  CHECK(b.sqlstate == "22012");  // division_by_zero
  CHECK(b.error.find("division by zero") != std::string::npos);
  CHECK(c.status == Status::Ok);
  CHECK(d.status == Status::Ok);
  CHECK(d.value == "25");
  CHECK(e.status == Status::Error);
  CHECK(e.sqlstate == "22P02");  // invalid_text_representation
  CHECK(f.status == Status::Ok);
  CHECK(f.value == "3");
  const Outcome g = get(futs[6]), h = get(futs[7]);
  CHECK(g.status == Status::Error);
  CHECK(g.sqlstate == "08P01");  // a plain ERROR despite its class: the connection stays
  CHECK(h.status == Status::Ok);
  CHECK(h.value == "4");
  // The write next to the failures committed: each query has its own Sync (transaction).
  CHECK(testenv::sql_value(tdb.db.conninfo(), "SELECT count(*) FROM t WHERE v = 7") == "1");
  const auto st = p.stats();
  CHECK(st.errors == 3);
  CHECK(st.retries == 0);
  CHECK(st.connections_up == 1);
  check_contract();
}

// Waits until `n` statements of the pool sleep in `conninfo`'s database, then terminates the
// backends running them (or every backend of the pool, with `all`); returns how many.
std::string kill_backends(const std::string& conninfo, int n, bool all) {
  auto admin = db::connect(conninfo);
  const std::string others = "datname = current_database() AND pid <> pg_backend_pid()";
  const std::string sleeping = others + " AND state = 'active' AND query LIKE '%pg_sleep%'";
  const auto end = std::chrono::steady_clock::now() + kWait;
  while (db::query_value(admin.get(), "SELECT count(*) FROM pg_stat_activity WHERE " + sleeping) !=
         std::to_string(n)) {
    REQUIRE(std::chrono::steady_clock::now() < end);
    std::this_thread::sleep_for(10ms);
  }
  return db::query_value(admin.get(),
                         "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) "
                         "FROM pg_stat_activity WHERE " +
                             (all ? others : sleeping));
}

TEST_CASE("a killed backend: reads are retried, writes fail, statements are prepared again",
          "[db][pool][integration]") {
  TestDb tdb;
  LoopThread t;
  auto opts = options(tdb.db.conninfo());
  opts.deadline = 10s;

  SECTION("the only connection: reads wait for the reconnect") {
    PoolFixture p(t, opts);
    REQUIRE(p.wait_up(1));
    std::vector<std::future<Outcome>> futs;
    // Pipelined on the one connection, all three in flight when it dies: the slow read first
    // (a flush sends its writes before its reads, so the other two come one iteration later).
    t.run([&] { futs.push_back(p.submit(db::Route::Read, kSlowEcho, {"11", "1"})); });
    t.run([&] {
      futs.push_back(p.submit(db::Route::Write, kSlowInsert, {"13", "0"}));
      futs.push_back(p.submit(db::Route::Read, kSlowEcho, {"12", "0"}));
    });
    CHECK(kill_backends(tdb.db.conninfo(), 1, true) == "1");

    const Outcome r1 = get(futs[0]), w = get(futs[1]), r2 = get(futs[2]);
    CHECK(r1.status == Status::Ok);
    CHECK(r1.value == "11");
    CHECK(w.status == Status::Unavailable);
    CHECK(w.error.find("lost") != std::string::npos);
    CHECK(r2.status == Status::Ok);
    CHECK(r2.value == "12");

    // Back, with its statements prepared again.
    REQUIRE(p.wait_up(1));
    std::vector<std::future<Outcome>> again;
    t.run([&] {
      again.push_back(p.submit(db::Route::Read, kEcho, {"5"}));
      again.push_back(p.submit(db::Route::Write, kInsert, {"14"}));
    });
    for (auto& f : again) CHECK(get(f).status == Status::Ok);
    const auto st = p.stats();
    CHECK(st.retries == 2);
    CHECK(st.unavailable == 1);
    CHECK(st.outstanding == 0);
    CHECK(st.connections_up == 1);
  }

  SECTION("two connections: the read moves to the other one") {
    opts.conns_per_server = 2;
    PoolFixture p(t, opts);
    REQUIRE(p.wait_up(2));
    std::vector<std::future<Outcome>> futs;
    t.run([&] { futs.push_back(p.submit(db::Route::Read, kSlowEcho, {"21", "1"})); });
    CHECK(kill_backends(tdb.db.conninfo(), 1, false) == "1");
    const Outcome r = get(futs[0]);
    CHECK(r.status == Status::Ok);
    CHECK(r.value == "21");
    CHECK(p.stats().retries == 1);
    REQUIRE(p.wait_up(2));
  }
  check_contract();
}

TEST_CASE("past the deadline: Timeout at once, the late result is discarded",
          "[db][pool][integration]") {
  TestDb tdb;
  LoopThread t;
  auto opts = options(tdb.db.conninfo());
  opts.deadline = 300ms;
  const bool pipeline = GENERATE(true, false);
  opts.pipeline = pipeline;
  PoolFixture p(t, opts);
  REQUIRE(p.wait_up(1));

  std::vector<std::future<Outcome>> futs;
  t.run([&] {
    futs.push_back(p.submit(db::Route::Read, kSlowEcho, {"1", "1.5"}));
    // Without pipelining this one waits in the pool's queue (never sent) and times out there.
    futs.push_back(p.submit(db::Route::Read, kSlowEcho, {"2", "0"}));
  });
  const Outcome slow = get(futs[0]);
  CHECK(slow.status == Status::Timeout);
  // Delivered while the statement was still running: the zombie still counts.
  CHECK(slow.outstanding_at_callback >= 1);
  CHECK(get(futs[1]).status == Status::Timeout);

  // The late result is read and dropped; the same connection then serves new queries.
  REQUIRE(t.wait_for([&] { return p.pool().stats().outstanding == 0; }));
  std::vector<std::future<Outcome>> next;
  t.run([&] { next.push_back(p.submit(db::Route::Read, kEcho, {"42"})); });
  const Outcome o = get(next[0]);
  CHECK(o.status == Status::Ok);
  CHECK(o.value == "42");
  const auto st = p.stats();
  CHECK(st.timeouts == 2);
  CHECK(st.connections_up == 1);
  CHECK(st.retries == 0);
  check_contract();
}

TEST_CASE("a sent write is not abandoned at its deadline: the server ends it, the outcome is told",
          "[db][pool][integration]") {
  TestDb tdb;
  LoopThread t;
  auto opts = options(tdb.db.conninfo());
  opts.deadline = 300ms;
  PoolFixture p(t, opts);
  REQUIRE(p.wait_up(1));
  std::vector<std::future<Outcome>> futs;
  t.run([&] {
    // Sleeps past the deadline: the pool waits (a 503 now could invite a retry of a write that
    // then commits); the server's statement_timeout, just past the deadline, cancels it.
    futs.push_back(p.submit(db::Route::Write, kSlowInsert, {"77", "5"}));
    futs.push_back(p.submit(db::Route::Write, kSlowInsert, {"78", "0"}));
  });
  const Outcome slow = get(futs[0]);
  CHECK(slow.status == Status::Error);
  CHECK(slow.sqlstate == "57014");  // query_canceled: rolled back, nothing written
  const Outcome quick = get(futs[1]);
  CHECK(quick.status == Status::Ok);
  CHECK(testenv::sql_value(tdb.db.conninfo(), "SELECT string_agg(v::text, ',') FROM t") == "78");
  check_contract();
}

TEST_CASE("an unreachable server: Unavailable quickly, primary not ready, no crash",
          "[db][pool][integration]") {
  LoopThread t;
  testenv::TempDir dir;  // a socket directory with no server in it
  const bool tcp = GENERATE(false, true);
  const std::string conninfo =
      tcp ? std::string("host=127.0.0.1 port=1 dbname=x user=postgres")
          : fmt::format("host={} port=5499 dbname=x user=postgres", dir.path().string());
  auto opts = options(conninfo);
  opts.conns_per_server = 2;
  PoolFixture p(t, opts);

  for (int round = 0; round < 3; ++round) {
    std::vector<std::future<Outcome>> futs;
    t.run([&] {
      CHECK_FALSE(p.pool().primary_ready());
      futs.push_back(p.submit(db::Route::Read, kEcho, {"1"}));
      futs.push_back(p.submit(db::Route::Write, kInsert, {"1"}));
    });
    for (auto& f : futs) {
      const Outcome o = get(f);
      CHECK((o.status == Status::Unavailable || o.status == Status::Timeout));
      CHECK_FALSE(o.error.empty());
    }
    std::this_thread::sleep_for(150ms);  // let a backoff attempt or two happen
  }
  const auto st = p.stats();
  CHECK_FALSE(st.primary_up);
  CHECK(st.connections_up == 0);
  CHECK(st.connections_total == 2);
  CHECK(st.outstanding == 0);
  check_contract();
}

TEST_CASE("past max_outstanding: Overloaded at once", "[db][pool][integration]") {
  TestDb tdb;
  LoopThread t;
  auto opts = options(tdb.db.conninfo());
  opts.max_outstanding = 4;
  PoolFixture p(t, opts);
  REQUIRE(p.wait_up(1));

  std::vector<std::future<Outcome>> futs;
  t.run([&] {
    for (int i = 0; i < 6; ++i) futs.push_back(p.submit(db::Route::Read, kEcho, {"9"}));
  });
  int ok = 0, overloaded = 0;
  for (auto& f : futs) {
    const Outcome o = get(f);
    if (o.status == Status::Ok) ++ok;
    if (o.status == Status::Overloaded) ++overloaded;
  }
  CHECK(ok == 4);
  CHECK(overloaded == 2);
  CHECK(p.stats().overloaded == 2);
  // Room again once they completed.
  std::vector<std::future<Outcome>> more;
  t.run([&] { more.push_back(p.submit(db::Route::Read, kEcho, {"10"})); });
  CHECK(get(more[0]).status == Status::Ok);
  check_contract();
}

TEST_CASE("pipelining off: one query at a time per connection, all answered",
          "[db][pool][integration]") {
  TestDb tdb;
  LoopThread t;
  auto opts = options(tdb.db.conninfo());
  opts.pipeline = false;
  opts.conns_per_server = 2;
  PoolFixture p(t, opts);
  REQUIRE(p.wait_up(2));

  constexpr int kN = 200;
  std::vector<std::future<Outcome>> futs;
  t.run([&] {
    for (int i = 0; i < kN; ++i)
      futs.push_back(p.submit(i % 5 == 0 ? db::Route::Write : db::Route::Read,
                              i % 5 == 0 ? kInsert : kEcho, {std::to_string(i)}));
  });
  for (int i = 0; i < kN; ++i) {
    const Outcome o = get(futs[i]);
    REQUIRE(o.status == Status::Ok);
    if (i % 5 != 0) CHECK(o.value == std::to_string(i));
  }
  CHECK(testenv::sql_value(tdb.db.conninfo(), "SELECT count(*) FROM t") == "40");
  check_contract();
}

TEST_CASE("reads go to a replica, writes to the primary; reads fall back to the primary",
          "[db][pool][integration]") {
  TestDb tdb;
  LoopThread t;
  testenv::TempDir dir;
  auto opts = options(tdb.db.conninfo() + " application_name=as_primary");
  const bool replica_up = GENERATE(true, false);
  opts.replicas = {
      replica_up ? tdb.db.conninfo() + " application_name=as_replica"
                 : fmt::format("host={} port=5499 dbname=x user=postgres", dir.path().string())};
  PoolFixture p(t, opts);
  REQUIRE(p.wait_up(replica_up ? 2 : 1));

  std::vector<std::future<Outcome>> reads, writes;
  t.run([&] {
    for (int i = 0; i < 10; ++i) {
      reads.push_back(p.submit(db::Route::Read, kAppName, {}));
      writes.push_back(p.submit(db::Route::Write, kAppName, {}));
    }
  });
  for (auto& f : reads) {
    const Outcome o = get(f);
    CHECK(o.status == Status::Ok);
    CHECK(o.value == (replica_up ? "as_replica" : "as_primary"));
  }
  for (auto& f : writes) {
    const Outcome o = get(f);
    CHECK(o.status == Status::Ok);
    CHECK(o.value == "as_primary");
  }
  check_contract();
}

TEST_CASE("destroying the pool with queries in flight drops their callbacks",
          "[db][pool][integration]") {
  TestDb tdb;
  LoopThread t;
  std::vector<std::future<Outcome>> futs;
  {
    PoolFixture p(t, options(tdb.db.conninfo()));
    REQUIRE(p.wait_up(1));
    t.run([&] {
      futs.push_back(p.submit(db::Route::Read, kSlowEcho, {"1", "0.2"}));
      futs.push_back(p.submit(db::Route::Read, kEcho, {"2"}));
    });
    p.destroy();
  }
  std::this_thread::sleep_for(300ms);  // a late event for a freed pool would crash here
  t.run([] {});
  // The callbacks were destroyed uncalled: their promises are broken, never fulfilled.
  for (auto& f : futs) {
    REQUIRE(f.wait_for(0s) == std::future_status::ready);
    CHECK_THROWS_AS(f.get(), std::future_error);
  }
  check_contract();
}

TEST_CASE("a server down at start, then up, then down and up again", "[db][pool][integration]") {
  SwitchedServer server;
  LoopThread t;
  auto opts = options(server.conninfo);
  opts.conns_per_server = 2;
  PoolFixture p(t, opts);

  auto one_query = [&] {
    std::vector<std::future<Outcome>> futs;
    t.run([&] { futs.push_back(p.submit(db::Route::Read, kEcho, {"8"})); });
    return get(futs[0]);
  };

  CHECK(one_query().status == Status::Unavailable);
  CHECK_FALSE(p.stats().primary_up);

  server.up();
  REQUIRE(p.wait_up(2));  // within the backoff (at most 5 s per attempt)
  CHECK(p.stats().primary_up);
  CHECK(one_query().value == "8");

  server.down();
  (void)testenv::sql_value(server.tdb.db.conninfo(),
                           "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                           "WHERE datname = current_database() AND pid <> pg_backend_pid()");
  REQUIRE(t.wait_for([&] { return p.pool().stats().connections_up == 0; }));
  CHECK_FALSE(p.stats().primary_up);
  // Waiting for nothing: refused at once while no connection is being attempted, or after the
  // current attempt fails.
  const Outcome down = one_query();
  CHECK(down.status == Status::Unavailable);

  server.up();
  REQUIRE(p.wait_up(2));
  CHECK(one_query().value == "8");
  check_contract();
}

TEST_CASE("retry_primary_now: a connection waiting out a long backoff tries at once",
          "[db][pool][integration]") {
  SwitchedServer server;
  LoopThread t;
  auto opts = options(server.conninfo);
  opts.conns_per_server = 1;
  PoolFixture p(t, opts);

  // Attempt n + 1 comes 100 ms x 2^(n-1) after failure n, at most 5 s, jittered down to half of
  // that: once 7 attempts have failed, the next one is at least 2.5 s away. Polled every 10 ms,
  // so the 7th failure is seen within a few ms of happening.
  REQUIRE(t.wait_for([&] { return p.pool().stats().connect_failures >= 7; }, 15s));
  server.up();
  const auto hinted = std::chrono::steady_clock::now();
  t.run([&] { p.pool().retry_primary_now(); });
  REQUIRE(p.wait_up(1));
  const auto took = std::chrono::steady_clock::now() - hinted;
  CHECK(took < 1s);  // without the hint: 2.4 s or more
  const auto st = p.stats();
  CHECK(st.primary_up);
  CHECK(st.connect_failures >= 7);
  // A hint with nothing waiting changes nothing: the connection that is up stays up.
  t.run([&] { p.pool().retry_primary_now(); });
  CHECK(p.stats().connections_up == 1);
  check_contract();
}
