// `reviewsd demo`: the embedded default. A private PostgreSQL cluster under ./var, a generated
// data set loaded on first run, then the server; Ctrl-C stops both.
#include "db/gen.h"
#include "db/loader.h"
#include "db/local_cluster.h"
#include "db/pg.h"
#include "db/schema.h"
#include "server/args.h"
#include "server/commands.h"

#include <fmt/format.h>
#include <signal.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

namespace server {

namespace fs = std::filesystem;

namespace {
// Port number of the demo cluster's unix socket (and of its TCP listener on 127.0.0.1, so
// psql and pgbench can reach it); chosen away from a system PostgreSQL's 5432.
constexpr int kDemoPgPort = 5433;

bool has_data(PGconn* conn) {
  if (db::schema_version(conn) == 0) return false;
  return db::query_value(conn, "SELECT EXISTS (SELECT 1 FROM reviews)") == "t";
}
}  // namespace

int cmd_demo(int argc, char** argv) {
  const Args args(argc, argv, {"scale", "listen", "dir", "seed"}, {});
  if (args.flag("help")) {
    fmt::print(
        "usage: reviewsd demo [--scale SF] [--listen HOST:PORT] [--dir DIR]\n\n"
        "Creates a private PostgreSQL cluster in DIR (default ./var), generates and loads a data\n"
        "set at scale SF (default 0.01) on first run, then serves it. The second run reuses the\n"
        "data and starts in seconds. Ctrl-C stops the server and the cluster.\n");
    return 0;
  }
  const double scale = args.get_double("scale", 0.01, 1e-6, 100);
  const fs::path dir = fs::absolute(args.get("dir").value_or("var"));
  const std::string listen = args.get("listen").value_or("127.0.0.1:8080");

  // Signals are taken synchronously below; blocking them first also keeps them from killing
  // us half way through initdb or a load.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

  db::LocalClusterOptions copts;
  copts.dir = dir / "pg";
  copts.port = kDemoPgPort;
  copts.listen_tcp = true;
  db::LocalCluster cluster(copts);
  if (cluster.init_if_missing())
    fmt::print("demo: created a PostgreSQL cluster in {}\n", copts.dir.string());
  cluster.start();
  struct StopCluster {
    db::LocalCluster& c;
    ~StopCluster() {
      fmt::print("demo: stopping PostgreSQL\n");
      c.stop();
    }
  } stop_cluster{cluster};

  {
    auto admin = db::connect(cluster.conninfo("postgres"));
    if (db::query_value(admin.get(), "SELECT 1 FROM pg_database WHERE datname = 'reviewsd'")
            .empty()) {
      db::exec(admin.get(), "CREATE DATABASE reviewsd");
    }
  }
  const std::string conninfo = cluster.conninfo("reviewsd");
  {
    auto conn = db::connect(conninfo);
    if (!has_data(conn.get())) {
      db::GenOptions g;
      g.scale = scale;
      g.seed = static_cast<std::uint64_t>(args.get_int("seed", 42, 0, INT64_MAX));
      g.out = dir / fmt::format("data-{}", scale);
      fmt::print("demo: generating a data set at scale {} in {}\n", scale, g.out.string());
      const auto gs = db::generate_dataset(g);
      fmt::print("demo: {} reviews of {} products generated in {:.1f} s; loading\n", gs.reviews,
                 gs.products, gs.seconds);
      db::LoadOptions l;
      l.conninfo = conninfo;
      l.from = g.out;
      const auto ls = db::load_dataset(l);
      fmt::print("demo: loaded in {:.1f} s\n", ls.total_seconds);
    } else {
      fmt::print("demo: reusing the data set already loaded in {}\n", copts.dir.string());
    }
  }
  fmt::print("demo: database ready: psql \"{}\"\n", conninfo);
  fmt::print("demo: serving on http://{}/ (try /reviews?product_id=1); Ctrl-C stops\n", listen);
  std::fflush(stdout);
  std::vector<std::string> serve_args{"--db", conninfo, "--listen", listen};
  std::vector<char*> argv_serve;
  for (auto& a : serve_args) argv_serve.push_back(a.data());
  return cmd_serve(static_cast<int>(argv_serve.size()), argv_serve.data());
}

}  // namespace server
