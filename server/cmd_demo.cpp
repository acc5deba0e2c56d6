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

const CommandSpec& demo_spec() {
  static const CommandSpec spec = [] {
    CommandSpec d{
        "demo",
        "[--scale SF] [--dir DIR] [--seed N] [serve options]",
        "Creates a private PostgreSQL cluster in DIR (default ./var), generates and loads a data\n"
        "set at scale SF on first run, then serves it. The second run reuses the data and starts\n"
        "in seconds. Ctrl-C stops the server and the cluster. Every option of `reviewsd serve`\n"
        "but --db and --replica (the demo brings its own database) is passed on to it.\n",
        {
            {"scale", OptionKind::Value, "SF", "data set scale, 1 = full size", "0.01"},
            {"dir", OptionKind::Value, "DIR", "where the cluster and data live", "./var"},
            {"seed", OptionKind::Value, "N", "data generator seed", "42"},
        },
        true};
    bool first = true;
    for (const auto& o : serve_spec().options) {
      if (o.name == "db" || o.name == "replica" || o.kind == OptionKind::Action) continue;
      d.options.push_back(o);
      d.options.back().group = first || o.group;
      first = false;
    }
    return d;
  }();
  return spec;
}

int cmd_demo(int argc, char** argv) {
  const Args args(argc, argv, demo_spec());
  if (args.flag("help")) {
    fmt::print("{}", help_text(demo_spec()));
    return 0;
  }
  const double scale = args.get_double("scale", 0.01, 1e-6, 100);
  const fs::path dir = fs::absolute(args.get("dir").value_or("var"));
  const auto seed = static_cast<std::uint64_t>(args.get_int("seed", 42, 0, INT64_MAX));
  const std::string listen = args.get("listen").value_or("127.0.0.1:8080");
  // serve gets every serve option that was set, wherever it was set, as a flag: no config
  // file of its own (`--config=`; it may hold demo's keys, which serve does not know).
  std::vector<std::string> serve_args{"--config="};
  for (const auto& o : serve_spec().options) {
    if (o.kind == OptionKind::Action || !demo_spec().find(o.name)) continue;
    for (const auto& s : args.settings(o.name)) serve_args.push_back("--" + o.name + "=" + s.value);
  }
  check_serve_config(args);  // fail now, with the value's origin, not after a long data load

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
      g.seed = seed;
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
  serve_args.push_back("--db=" + conninfo);
  std::vector<char*> argv_serve;
  for (auto& a : serve_args) argv_serve.push_back(a.data());
  return cmd_serve(static_cast<int>(argv_serve.size()), argv_serve.data());
}

}  // namespace server
