// Faults with a PostgreSQL of the test's own (the shared test cluster must stay up for the
// other tests): the database stopped under load, a query held past its deadline, a replica
// lost, and a crash in the middle of a write burst. Bounded in time; every process and
// cluster started here is stopped here.
#include "db/local_cluster.h"
#include "db/pg.h"
#include "support/http_test.h"
#include "support/test_env.h"

#include <fmt/format.h>
#include <catch2/catch.hpp>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using testenv::HttpClient;
using testenv::line_with;
using testenv::metric;
using testenv::ServerProcess;
using testenv::sql_value;

// A private cluster loaded with the real sample; stopped at destruction.
struct OwnCluster {
  testenv::TempDir dir;
  db::LocalCluster cluster;
  explicit OwnCluster(bool durable = false)
      : cluster([&] {
          db::LocalClusterOptions o;
          o.dir = dir.path() / "pg";
          o.port = testenv::kTestPgPort;
          o.durable = durable;
          return o;
        }()) {
    cluster.init_if_missing();
    cluster.start();
    testenv::load_sample(conninfo());
  }
  ~OwnCluster() { cluster.stop(); }
  [[nodiscard]] std::string conninfo() const { return cluster.conninfo("postgres"); }
};

// systemd's side of sd_notify: a datagram socket that servers started while it lives report
// to (NOTIFY_SOCKET is set in this process's environment, which children inherit).
class NotifySocket {
 public:
  NotifySocket() : path_((dir_.path() / "notify").string()) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    REQUIRE(path_.size() < sizeof a.sun_path);
    std::memcpy(a.sun_path, path_.c_str(), path_.size());
    REQUIRE(::bind(fd_, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0);
    ::setenv("NOTIFY_SOCKET", path_.c_str(), 1);
  }
  ~NotifySocket() {
    ::unsetenv("NOTIFY_SOCKET");
    ::close(fd_);
  }
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;

  // Reads datagrams for up to `within`; true as soon as one has the line `line`. Everything
  // read is kept in `seen()`.
  bool wait_for(const std::string& line, std::chrono::milliseconds within) {
    const auto deadline = Clock::now() + within;
    for (;;) {
      if (("\n" + seen_ + "\n").find("\n" + line + "\n") != std::string::npos) return true;
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buf[4096];
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n > 0) seen_ += (seen_.empty() ? "" : "\n") + std::string(buf, static_cast<size_t>(n));
    }
  }
  [[nodiscard]] const std::string& seen() const { return seen_; }

 private:
  testenv::TempDir dir_;
  std::string path_;
  int fd_ = -1;
  std::string seen_;
};

}  // namespace

TEST_CASE("READY=1 waits until the database answers; SIGTERM while waiting still drains",
          "[api][fault][integration]") {
  OwnCluster pg;
  pg.cluster.stop();
  {
    NotifySocket notify;
    ServerProcess server({"--db", pg.conninfo()});
    CHECK_FALSE(notify.wait_for("READY=1", 1500ms));
    HttpClient c(server.port());
    CHECK(c.request("GET", "/healthz").status == 200);  // it listens and answers meanwhile
    CHECK(c.request("GET", "/readyz").status == 503);
    CHECK(server.terminate_and_wait(5s) == 0);
    CHECK(notify.wait_for("STOPPING=1", 1s));
    CHECK(notify.seen().find("READY=1") == std::string::npos);
  }
  NotifySocket notify;
  ServerProcess server({"--db", pg.conninfo()});
  bool noticed = false;  // logged after 1 s of waiting
  for (const auto until = Clock::now() + 5s; !noticed && Clock::now() < until;) {
    noticed = server.log().find("not ready: waiting for the database") != std::string::npos;
    if (!noticed) std::this_thread::sleep_for(50ms);
  }
  CHECK(noticed);
  // db/'s lines go through the server's logger: a level (journald's priority) and logfmt.
  CHECK_FALSE(line_with(server.log(), {"level=warn msg=\"primary (", ") is down: ",
                                       "; reconnecting with backoff\"", "component=db"})
                  .empty());
  CHECK_FALSE(line_with(server.log(),
                        {"level=warn msg=\"LISTEN reviewsd_invalidate lost: ", "component=db"})
                  .empty());
  CHECK(server.log().find("reviewsd: db:") == std::string::npos);
  CHECK(notify.seen().find("READY=1") == std::string::npos);
  CHECK_FALSE(notify.wait_for("READY=1", 300ms));
  pg.cluster.start();  // without NOTIFY_SOCKET: PostgreSQL would speak sd_notify too
  {
    std::ifstream pidfile(pg.cluster.data_dir() / "postmaster.pid");
    int postmaster = 0;
    pidfile >> postmaster;
    const auto env = testenv::environment_of(postmaster);
    CHECK(!env.empty());
    CHECK_FALSE(testenv::has_var(env, "NOTIFY_SOCKET="));
  }
  // Each reactor's pool retries with a backoff of up to 5 s, cut short once LISTEN is back;
  // READY=1 waits for all of them.
  const bool ready = notify.wait_for("READY=1", 15s);
  INFO(server.log());
  REQUIRE(ready);
  for (int i = 0; i < 4; ++i) {  // whichever reactor takes the connection: ready there too
    HttpClient c(server.port());
    CHECK(c.request("GET", "/readyz").status == 200);
    CHECK(c.request("GET", "/reviews/meta?product_id=1").status == 200);
  }
  // the attempts made while the database was down are counted
  CHECK(metric(server.port(), "reviewsd_db_connect_failures_total") >= 1);
  CHECK_FALSE(
      line_with(server.log(), {"level=info msg=\"primary (", ") is back up\"", "component=db"})
          .empty());
  CHECK_FALSE(line_with(server.log(),
                        {"level=info msg=\"LISTEN reviewsd_invalidate is back\"", "component=db"})
                  .empty());
}

TEST_CASE("PostgreSQL stopped under load: fast 503s, then 200s within 2 s of its return",
          "[api][fault][integration]") {
  OwnCluster pg;
  // The database path is under test: a cache would answer the repeated reads from memory.
  ServerProcess server({"--db", pg.conninfo(), "--db-deadline-ms", "1000", "--cache-mb", "0"});
  REQUIRE(server.wait_for_status("/readyz", 200));

  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, unavailable{0}, other{0}, slow{0};
  std::thread load([&] {
    while (!stop) try {
        HttpClient c(server.port());
        for (int i = 0; i < 50 && !stop; ++i) {
          const auto t0 = Clock::now();
          const auto r = c.request("GET", "/reviews/meta?product_id=1");
          if (Clock::now() - t0 > 1500ms) ++slow;
          if (r.status == 200) {
            ++ok;
          } else if (r.status == 503 && r.header("Retry-After") == "1") {
            ++unavailable;
          } else {
            ++other;
            break;  // e.g. a dropped connection: reconnect
          }
        }
      } catch (const std::exception&) {
        ++other;
      }
  });
  std::this_thread::sleep_for(300ms);
  pg.cluster.stop();
  std::this_thread::sleep_for(1500ms);
  {
    HttpClient c(server.port());
    CHECK(c.request("GET", "/readyz").status == 503);
    CHECK(c.request("GET", "/healthz").status == 200);  // the process itself is fine
  }
  pg.cluster.start();
  const auto back = Clock::now();
  const bool recovered = server.wait_for_status("/reviews/meta?product_id=1", 200, 5s);
  const auto took = Clock::now() - back;
  std::this_thread::sleep_for(300ms);
  stop = true;
  load.join();
  CHECK(recovered);
  CHECK(took < 2s);
  CHECK(ok > 0);
  CHECK(unavailable > 0);
  CHECK(other == 0);
  CHECK(slow == 0);
  CHECK(server.wait_for_status("/readyz", 200, 2s));
}

TEST_CASE("a query held past its deadline gets 503; the connection stays usable",
          "[api][fault][integration]") {
  OwnCluster pg;
  ServerProcess server({"--db", pg.conninfo(), "--db-deadline-ms", "300", "--threads", "1"});
  REQUIRE(server.wait_for_status("/readyz", 200));
  auto locker = db::connect(pg.conninfo());
  db::exec(locker.get(), "BEGIN; LOCK TABLE related IN ACCESS EXCLUSIVE MODE");
  HttpClient c(server.port());
  const auto t0 = Clock::now();
  const auto r = c.request("GET", "/products/1/related");
  CHECK(r.status == 503);
  CHECK(r.header("Retry-After") == "1");
  CHECK(Clock::now() - t0 < 2s);
  db::exec(locker.get(), "COMMIT");
  const auto again = c.request("GET", "/products/1/related");
  CHECK(again.status == 200);
  CHECK(again.body == "[2,3,8,7]");
  CHECK(c.request("GET", "/reviews/meta?product_id=3").status == 200);

  // A write held past its deadline is not abandoned while it might still commit: the server
  // cancels it just past the deadline, and the client gets 503 for a write that did not happen.
  const std::string before = sql_value(pg.conninfo(), "SELECT count(*) FROM reviews");
  db::exec(locker.get(), "BEGIN; LOCK TABLE reviews IN ACCESS EXCLUSIVE MODE");
  const auto held = c.request(
      "POST", "/reviews", "Content-Type: application/json\r\n",
      R"({"product_id":1,"rating":5,"summary":"s","body":"b","recommend":true,"name":"n","email":"e"})");
  CHECK(held.status == 503);
  CHECK(held.header("Retry-After") == "1");
  db::exec(locker.get(), "COMMIT");
  CHECK(sql_value(pg.conninfo(), "SELECT count(*) FROM reviews") == before);
}

TEST_CASE("reads go to a replica while it is up, and to the primary when it is not",
          "[api][fault][integration]") {
  OwnCluster primary;
  OwnCluster replica;  // same data, loaded separately; one row told apart to see who answered
  db::exec(db::connect(replica.conninfo()).get(),
           "UPDATE related SET related_product_id = 9 WHERE id = 1");
  ServerProcess server({"--db", primary.conninfo(), "--replica", replica.conninfo(),
                        "--db-deadline-ms", "1000", "--cache-mb",
                        "0"});  // who answers is under test, not what was cached
  REQUIRE(server.wait_for_status("/readyz", 200));
  REQUIRE(server.wait_for_status("/products/1/related", 200));
  // /readyz needs only the primary; until every reactor has its replica connection (slower on
  // a busy machine), reads go to the primary. /metrics reports the worst reactor's view.
  bool replica_up = false;
  for (const auto until = Clock::now() + 5s; Clock::now() < until && !replica_up;) {
    replica_up = HttpClient(server.port())
                     .request("GET", "/metrics")
                     .body.find("\nreviewsd_db_replicas_up 1\n") != std::string::npos;
    if (!replica_up) std::this_thread::sleep_for(100ms);
  }
  REQUIRE(replica_up);
  HttpClient c(server.port());
  for (int i = 0; i < 20; ++i)
    CHECK(c.request("GET", "/products/1/related").body == "[9,3,8,7]");  // the replica's
  replica.cluster.stop();
  // After the in-flight ones, reads move to the primary without errors for new requests.
  bool moved = false;
  for (const auto until = Clock::now() + 5s; Clock::now() < until && !moved;) {
    HttpClient d(server.port());
    const auto r = d.request("GET", "/products/1/related");
    moved = r.status == 200 && r.body == "[2,3,8,7]";
    if (!moved) std::this_thread::sleep_for(50ms);
  }
  CHECK(moved);
  int errors = 0;
  for (int i = 0; i < 50; ++i) errors += c.request("GET", "/products/1/related").status != 200;
  CHECK(errors == 0);
}

TEST_CASE("PostgreSQL crashes in a write burst: every acknowledged write survives, none is half",
          "[api][write][fault][integration]") {
  OwnCluster pg(/*durable=*/true);
  ServerProcess server({"--db", pg.conninfo(), "--db-deadline-ms", "1000"});
  REQUIRE(server.wait_for_status("/readyz", 200));

  std::mutex mu;
  std::set<std::string> acknowledged;
  std::atomic<int> failed{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; !stop; ++i) try {
          HttpClient c(server.port());
          const std::string tag = fmt::format("burst-{}-{}", t, i);
          const auto r = c.request(
              "POST", "/reviews", "Content-Type: application/json\r\n",
              fmt::format(
                  R"({{"product_id":2,"rating":4,"summary":"{}","body":"b","recommend":false,)"
                  R"("name":"n","email":"e@x","photos":["https://p/1","https://p/2"],)"
                  R"("characteristics":{{"5":3}}}})",
                  tag));
          if (r.status == 201) {
            std::lock_guard lock(mu);
            acknowledged.insert(tag);
          } else {
            ++failed;
          }
        } catch (const std::exception&) {
          ++failed;
        }
    });
  }
  std::this_thread::sleep_for(700ms);
  pg.cluster.crash();
  std::this_thread::sleep_for(500ms);
  pg.cluster.start();
  REQUIRE(server.wait_for_status("/readyz", 200, 10s));
  std::this_thread::sleep_for(300ms);
  stop = true;
  for (auto& w : writers) w.join();

  const auto db = pg.conninfo();
  REQUIRE(!acknowledged.empty());
  CHECK(failed > 0);  // the crash was felt
  const auto stored =
      std::stoul(sql_value(db, "SELECT count(*) FROM reviews WHERE summary LIKE 'burst-%'"));
  const auto distinct = std::stoul(
      sql_value(db, "SELECT count(DISTINCT summary) FROM reviews WHERE summary LIKE 'burst-%'"));
  CHECK(stored == distinct);             // nothing written twice
  CHECK(stored >= acknowledged.size());  // 5xx ones may have committed: clients were told
  std::size_t missing = 0;
  for (const auto& tag : acknowledged) {
    missing += sql_value(db, "SELECT count(*) FROM reviews WHERE summary = '" + tag + "'") != "1";
  }
  CHECK(missing == 0);
  // Atomic: every stored review has both photos and its rating.
  CHECK(
      sql_value(db,
                "SELECT count(*) FROM reviews r WHERE summary LIKE 'burst-%' AND "
                "((SELECT count(*) FROM reviews_photos p WHERE p.review_id = r.id) <> 2 OR "
                "(SELECT count(*) FROM characteristic_reviews c WHERE c.review_id = r.id) <> 1)") ==
      "0");
}
