// A real primary and a real streaming replica on this machine, the replica made by
// deploy/make-replica.sh (so the script is tested too), and `reviewsd serve --db primary
// --replica replica`. Shows that reads are served by the replica, writes by the primary, and
// that a write reaches the replica within a second. Bounded in time; both clusters are
// stopped and their directory removed whatever happens, and the only processes ended are the
// ones started here.
#include "db/local_cluster.h"
#include "db/pg.h"
#include "support/http_test.h"
#include "support/test_env.h"

#include <fmt/format.h>
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdlib>
#include <stdexcept>
#include <thread>

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using testenv::HttpClient;
using testenv::ServerProcess;
using testenv::sql_value;

// Socket names only (each cluster has its own socket directory and no TCP): no port is taken.
constexpr int kPrimaryPort = testenv::kTestPgPort;
constexpr int kReplicaPort = testenv::kTestPgPort - 1;
// Reads counted on the replica: enough that no background activity can stand in for them.
constexpr int kReads = 200;
// `reviewsd serve` in ServerProcess runs 2 reactors, each with 1 connection to each server.
constexpr int kServerThreads = 2;

fs::path deploy_dir() {
  const char* v = std::getenv("REVIEWSD_DEPLOY_DIR");
  if (!v || !*v) throw std::runtime_error("REVIEWSD_DEPLOY_DIR is not set: run through ctest");
  return v;
}

db::LocalClusterOptions cluster_options(const fs::path& dir, int port) {
  db::LocalClusterOptions o;
  o.dir = dir;
  o.port = port;
  // Durable: with synchronous_commit = off the WAL of a commit reaches the replica only when
  // the WAL writer flushes it (up to 3 x 200 ms later), which is not what a deployment runs.
  o.durable = true;
  // What a primary needs to feed a streaming replica (15's defaults, said explicitly). initdb's
  // pg_hba.conf already has `local replication all trust`.
  o.extra_settings = {"wal_level = replica", "max_wal_senders = 4"};
  return o;
}

// Stops a cluster when the test leaves its scope, however it leaves.
struct StopAtExit {
  db::LocalCluster& cluster;
  ~StopAtExit() { cluster.stop(); }
};

// Transactions committed in database `dbname` of the server at `server` (a conninfo for its
// `postgres` database, so that asking does not count).
long commits(const std::string& server, const std::string& dbname) {
  return std::stol(sql_value(
      server, "SELECT xact_commit FROM pg_stat_database WHERE datname = '" + dbname + "'"));
}

}  // namespace

TEST_CASE("a streaming replica serves the reads, the primary the writes, within a second",
          "[deploy][replica][integration]") {
  testenv::TempDir dir;
  db::LocalCluster primary(cluster_options(dir.path() / "primary", kPrimaryPort));
  // Same layout as make-replica.sh's (DIR/data, DIR/sock): LocalCluster can stop it.
  db::LocalCluster replica(cluster_options(dir.path() / "replica", kReplicaPort));
  const StopAtExit stop_primary{primary};
  const StopAtExit stop_replica{replica};  // declared later: stopped first

  primary.init_if_missing();
  primary.start();
  db::exec(db::connect(primary.conninfo()).get(), "CREATE DATABASE reviews");
  testenv::load_sample(primary.conninfo("reviews"));

  const auto made =
      testenv::run({"/bin/bash", (deploy_dir() / "make-replica.sh").string(), "--primary-data",
                    primary.data_dir().string(), "--dir", (dir.path() / "replica").string(),
                    "--port", std::to_string(kReplicaPort), "--slot", "reviewsd_test"},
                   120s);
  INFO("make-replica.sh stdout:\n" << made.out << "\nstderr:\n" << made.err);
  REQUIRE(made.status == 0);
  REQUIRE(made.out.find(fmt::format("host={} port={}", replica.socket_dir().string(),
                                    kReplicaPort)) != std::string::npos);
  REQUIRE(sql_value(replica.conninfo(), "SELECT pg_is_in_recovery()") == "t");
  REQUIRE(sql_value(primary.conninfo(),
                    "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'") == "1");
  REQUIRE(sql_value(replica.conninfo("reviews"), "SELECT count(*) FROM reviews") ==
          sql_value(primary.conninfo("reviews"), "SELECT count(*) FROM reviews"));

  ServerProcess server({"--db", primary.conninfo("reviews"), "--replica",
                        replica.conninfo("reviews"), "--cache-mb", "0", "--db-deadline-ms", "1000",
                        "--threads", std::to_string(kServerThreads)});
  REQUIRE(server.wait_for_status("/readyz", 200));
  // /readyz speaks for the primary only: wait until the server's replica connections are up
  // and idle (prepared), or the first reads would rightly go to the primary.
  bool replica_connected = false;
  for (const auto until = Clock::now() + 10s; Clock::now() < until && !replica_connected;) {
    replica_connected =
        std::stoi(sql_value(replica.conninfo(),
                            "SELECT count(*) FROM pg_stat_activity WHERE datname = 'reviews' "
                            "AND backend_type = 'client backend' AND state = 'idle'")) >=
        kServerThreads;
    if (!replica_connected) std::this_thread::sleep_for(50ms);
  }
  REQUIRE(replica_connected);
  // /metrics reports the replica (refreshed once a second).
  {
    bool reported = false;
    for (const auto until = Clock::now() + 3s; Clock::now() < until && !reported;) {
      testenv::HttpClient c(server.port());
      const std::string m = c.request("GET", "/metrics").body;
      reported = m.find("\nreviewsd_db_replicas 1\n") != std::string::npos &&
                 m.find("\nreviewsd_db_replicas_up 1\n") != std::string::npos;
      if (!reported) std::this_thread::sleep_for(100ms);
    }
    CHECK(reported);
  }

  // (1) Reads while both are up: the replica commits a transaction per read, the primary none.
  // Statistics reach pg_stat_database up to ~1 s after a backend goes idle, so wait until every
  // read is accounted for on one server or the other, then look where they went.
  {
    const long primary0 = commits(primary.conninfo(), "reviews");
    const long replica0 = commits(replica.conninfo(), "reviews");
    HttpClient c(server.port());
    int ok = 0;
    for (int i = 0; i < kReads; ++i)
      ok += c.request("GET", "/reviews/meta?product_id=1").status == 200;
    CHECK(ok == kReads);
    long on_primary = 0, on_replica = 0;
    for (const auto until = Clock::now() + 15s; Clock::now() < until;) {
      on_primary = commits(primary.conninfo(), "reviews") - primary0;
      on_replica = commits(replica.conninfo(), "reviews") - replica0;
      if (on_primary + on_replica >= kReads) break;
      std::this_thread::sleep_for(100ms);
    }
    fmt::print("{} reads: transactions in `reviews` on the primary +{}, on the replica +{}\n",
               kReads, on_primary, on_replica);
    CHECK(on_replica >= kReads);
    CHECK(on_primary < kReads / 10);  // autovacuum and the like, never the reads
  }

  // (2) A write goes to the primary: acknowledged means committed there.
  const std::string tag = fmt::format("replica-test-{}", ::getpid());
  const std::string count_tag = "SELECT count(*) FROM reviews WHERE summary = '" + tag + "'";
  auto on_replica = db::connect(replica.conninfo("reviews"));  // before the clock starts
  REQUIRE(db::query_value(on_replica.get(), count_tag) == "0");
  {
    HttpClient c(server.port());
    const auto r = c.request(
        "POST", "/reviews", "Content-Type: application/json\r\n",
        fmt::format(R"({{"product_id":2,"rating":4,"summary":"{}","body":"from the replica )"
                    R"(test","recommend":true,"name":"n","email":"n@example.com"}})",
                    tag));
    REQUIRE(r.status == 201);
  }
  const auto acknowledged = Clock::now();
  CHECK(sql_value(primary.conninfo("reviews"), count_tag) == "1");

  // (3) ... and is on the replica within a second (polled directly, every 5 ms).
  bool replicated = false;
  while (!replicated && Clock::now() - acknowledged < 5s) {
    replicated = db::query_value(on_replica.get(), count_tag) == "1";
    if (!replicated) std::this_thread::sleep_for(5ms);
  }
  const auto lag =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - acknowledged);
  fmt::print("the review was visible on the replica {} ms after the 201\n", lag.count());
  CHECK(replicated);
  CHECK(lag < 1s);
  on_replica.reset();

  // (4) The primary stopped: reads of a product not written lately are still answered, by the
  // replica (there is nobody else), with the same bodies; writes get 503.
  std::string meta_before, reviews_before;
  {
    HttpClient c(server.port());
    meta_before = c.request("GET", "/reviews/meta?product_id=1").body;
    reviews_before = c.request("GET", "/reviews?product_id=1").body;
  }
  REQUIRE(!meta_before.empty());
  primary.stop();
  REQUIRE(!primary.running());
  int same = 0;
  for (int i = 0; i < 20; ++i) {
    HttpClient c(server.port());  // fresh connections: whichever reactor takes them
    const auto meta = c.request("GET", "/reviews/meta?product_id=1");
    const auto reviews = c.request("GET", "/reviews?product_id=1");
    same += meta.status == 200 && meta.body == meta_before && reviews.status == 200 &&
            reviews.body == reviews_before;
  }
  CHECK(same == 20);
  {
    HttpClient c(server.port());
    const auto r = c.request(
        "POST", "/reviews", "Content-Type: application/json\r\n",
        R"({"product_id":1,"rating":5,"summary":"s","body":"b","recommend":true,"name":"n","email":"e"})");
    CHECK(r.status == 503);
    CHECK(r.header("Retry-After") == "1");
    CHECK(c.request("GET", "/readyz").status == 503);  // /readyz speaks for the primary
  }
  CHECK(server.terminate_and_wait(10s) == 0);
}
