// `reviewsd serve`: options -> ServeOptions, routes -> Router, then run_server().
#include "server/api.h"
#include "server/args.h"
#include "server/commands.h"
#include "server/limits.h"
#include "server/routes.h"
#include "server/server.h"

#include <fmt/format.h>

#include <chrono>

namespace server {

namespace {

constexpr const char* kHelp = R"(usage: reviewsd serve [options]

  --listen HOST:PORT        address to listen on, repeatable; [V6ADDR]:PORT for IPv6,
                            port 0 picks a free port (logged)        (default 127.0.0.1:8080)
  --threads N               reactor threads                          (default: number of cores)
  --max-connections N       open connections, all reactors           (default 100000)
  --max-pipeline N          in-flight pipelined requests per connection (default 32)
  --head-timeout-ms N       time to send a whole request             (default 10000)
  --idle-timeout-ms N       keep-alive idle time                     (default 60000)
  --write-timeout-ms N      time a client may stop reading           (default 10000)
  --drain-timeout-ms N      SIGTERM: time for in-flight requests     (default 10000)
  --max-body-bytes N        request body limit                       (default 65536)
  --cors-origin ORIGIN      Access-Control-Allow-Origin ('' = none)  (default *)
  --debug-routes            enable /debug/* test routes (never in production)

  --db CONNINFO             the primary PostgreSQL (libpq conninfo or URI); without it only
                            the engine routes (/healthz) answer, the API gets 503
  --replica CONNINFO        a read replica, repeatable: reads go to replicas, writes to --db
  --db-conns-per-thread N   connections per reactor to each server       (default 1)
  --db-deadline-ms N        a request's database deadline, then 503      (default 2000)
  --db-max-outstanding N    queries queued or in flight per reactor, then 503 (default 4096)
  --no-pipeline             one query at a time per connection (to measure pipelining)

Each option may also come from the environment: REVIEWSD_LISTEN, REVIEWSD_THREADS, ...
)";

}  // namespace

int cmd_serve(int argc, char** argv) {
  const Args args(
      argc, argv,
      {"listen", "threads", "max-connections", "max-pipeline", "head-timeout-ms", "idle-timeout-ms",
       "write-timeout-ms", "drain-timeout-ms", "max-body-bytes", "cors-origin", "config", "db",
       "replica", "cache-mb", "db-conns-per-thread", "db-deadline-ms", "db-max-outstanding"},
      {"debug-routes", "no-pipeline"});
  if (args.flag("help")) {
    fmt::print("{}", kHelp);
    return 0;
  }
  ServeOptions o;
  if (auto l = args.all("listen"); !l.empty()) o.listen = l;
  o.threads = static_cast<unsigned>(args.get_int("threads", 0, 0, 1024));
  o.max_connections = static_cast<std::size_t>(
      args.get_int("max-connections", static_cast<std::int64_t>(o.max_connections), 1, 10'000'000));
  o.max_pipeline_depth = static_cast<std::size_t>(
      args.get_int("max-pipeline", static_cast<std::int64_t>(o.max_pipeline_depth), 1, 1024));
  using ms = std::chrono::milliseconds;
  o.head_timeout = ms(args.get_int("head-timeout-ms", o.head_timeout.count(), 1, 3'600'000));
  o.idle_timeout = ms(args.get_int("idle-timeout-ms", o.idle_timeout.count(), 1, 86'400'000));
  o.write_timeout = ms(args.get_int("write-timeout-ms", o.write_timeout.count(), 1, 3'600'000));
  o.drain_timeout = ms(args.get_int("drain-timeout-ms", o.drain_timeout.count(), 0, 3'600'000));
  o.request_limits.max_body = static_cast<std::size_t>(args.get_int(
      "max-body-bytes", static_cast<std::int64_t>(o.request_limits.max_body), 0, 64 << 20));
  if (auto c = args.get("cors-origin")) o.cors_origin = *c;
  o.debug_routes = args.flag("debug-routes");
  for (const auto& spec : o.listen)
    if (spec.find(':') == std::string::npos)
      throw UsageError("--listen wants HOST:PORT, got '" + spec + "'");

  DbOptions db;
  db.primary = args.get("db").value_or("");
  db.replicas = args.all("replica");
  db.conns_per_server = static_cast<unsigned>(args.get_int("db-conns-per-thread", 1, 1, 64));
  db.deadline = ms(args.get_int("db-deadline-ms", db.deadline.count(), 1, 600'000));
  db.max_outstanding = static_cast<std::size_t>(args.get_int(
      "db-max-outstanding", static_cast<std::int64_t>(db.max_outstanding), 1, 1'000'000));
  db.pipeline = !args.flag("no-pipeline");

  Router router;
  add_engine_routes(router, o);
  add_api_routes(router);
  return run_server(o, router, api_reactor_hooks(db));
}

}  // namespace server
