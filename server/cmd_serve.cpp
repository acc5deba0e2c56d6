// `reviewsd serve`: options (flags > env > config file > defaults, args.h) -> ServeOptions,
// DbOptions, CacheOptions and the logs; routes -> Router; then run_server().
// `--check-config` stops after the parsing and prints the effective configuration.
#include "db/log.h"
#include "db/pg.h"
#include "server/access_log.h"
#include "server/api.h"
#include "server/args.h"
#include "server/commands.h"
#include "server/limits.h"
#include "server/log.h"
#include "server/routes.h"
#include "server/server.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <system_error>

namespace server {

const CommandSpec& serve_spec() {
  using K = OptionKind;
  static const CommandSpec spec{
      "serve",
      "[options]",
      "Serves the Ratings & Reviews API (API.md) from PostgreSQL: one reactor thread per core,\n"
      "graceful drain on SIGTERM, log files reopened on SIGHUP.\n",
      {
          {"listen", K::List, "HOST:PORT",
           "address to listen on, repeatable; [V6ADDR]:PORT for IPv6,\n"
           "port 0 picks a free port (logged)",
           "127.0.0.1:8080"},
          {"threads", K::Value, "N", "reactor threads, 0 = one per core", "0"},
          {"max-connections", K::Value, "N", "open connections, all reactors", "100000"},
          {"max-pipeline", K::Value, "N", "in-flight pipelined requests per connection", "32"},
          {"head-timeout-ms", K::Value, "N", "time to send a whole request", "10000"},
          {"idle-timeout-ms", K::Value, "N", "keep-alive idle time", "60000"},
          {"write-timeout-ms", K::Value, "N", "time a client may stop reading", "10000"},
          {"drain-timeout-ms", K::Value, "N", "SIGTERM: time for in-flight requests", "10000"},
          {"max-body-bytes", K::Value, "N", "request body limit", "65536"},
          {"cors-origin", K::Value, "ORIGIN", "Access-Control-Allow-Origin, '' = none", "*"},
          {"debug-routes", K::Flag, "", "enable /debug/* test routes (never in production)"},

          {"db", K::Value, "CONNINFO",
           "the primary PostgreSQL (libpq conninfo or URI); without it only\n"
           "the engine routes (/healthz) answer, the API gets 503",
           "", true},
          {"replica", K::List, "CONNINFO",
           "a read replica, repeatable: reads go to replicas, writes to --db"},
          {"db-conns-per-thread", K::Value, "N", "connections per reactor to each server", "1"},
          {"db-deadline-ms", K::Value, "N", "a request's database deadline, then 503", "2000"},
          {"db-max-outstanding", K::Value, "N", "queries queued or in flight per reactor, then 503",
           "4096"},
          {"no-pipeline", K::Flag, "",
           "one query at a time per connection (to measure pipelining)"},

          {"cache-mb", K::Value, "N", "response cache size in MiB, 0 disables it", "256", true},
          {"cache-ttl-s", K::Value, "N", "a cached response's longest life in seconds", "60"},
          {"read-your-writes-ms", K::Value, "N",
           "after a write, reads of that product use the primary for this long", "2000"},

          {"log-level", K::Value, "LEVEL", "error, warn, info or debug", "info", true},
          {"log-file", K::Value, "PATH", "log there instead of stderr; reopened on SIGHUP",
           "stderr"},
          {"access-log", K::Value, "PATH",
           "one line per request there, '-' = stderr; reopened on SIGHUP", "off"},

          {"check-config", K::Action, "",
           "validate the configuration, print the effective one (secrets\n"
           "masked) and exit: 0 if valid, 2 if not. Connects to nothing.",
           "", true},
      },
      true};
  return spec;
}

namespace {

// Everything `serve` resolves from its options, before it acts on any of it.
struct ServeConfig {
  ServeOptions serve;
  DbOptions db;
  CacheOptions cache;
  LogOptions log;
  std::string access_log;
};

// The syntax of a listen address without resolving it (a host name is looked up at startup,
// and --check-config must not touch the network). Returns "" or the reason.
std::string listen_syntax_error(const std::string& spec) {
  std::string host, port;
  bool v6 = false;
  if (!spec.empty() && spec.front() == '[') {
    const auto close = spec.find(']');
    if (close == std::string::npos || close + 1 >= spec.size() || spec[close + 1] != ':')
      return "wants [V6ADDR]:PORT, got '" + spec + "'";
    host = spec.substr(1, close - 1);
    port = spec.substr(close + 2);
    v6 = true;
  } else {
    const auto colon = spec.rfind(':');
    if (colon == std::string::npos) return "wants HOST:PORT, got '" + spec + "'";
    host = spec.substr(0, colon);
    port = spec.substr(colon + 1);
  }
  if (port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string::npos || std::stoul(port) > 65535)
    return "bad port in '" + spec + "' (0..65535)";
  unsigned char buf[sizeof(in6_addr)];
  if (v6 && inet_pton(AF_INET6, host.c_str(), buf) != 1)
    return "'" + host + "' is not an IPv6 address";
  if (!v6 && !host.empty() && host.find_first_not_of("0123456789.") == std::string::npos &&
      inet_pton(AF_INET, host.c_str(), buf) != 1)
    return "'" + host + "' is not an IPv4 address";
  return {};
}

// Reads and checks every option (so that a bad value fails before anything starts).
ServeConfig resolve(const Args& args) {
  using ms = std::chrono::milliseconds;
  ServeConfig c;
  ServeOptions& o = c.serve;
  if (auto l = args.all("listen"); !l.empty()) o.listen = l;
  for (const auto& s : args.settings("listen")) {
    if (auto why = listen_syntax_error(s.value); !why.empty()) Args::fail("listen", s, why);
  }
  o.threads = static_cast<unsigned>(args.get_int("threads", 0, 0, 1024));
  o.max_connections = static_cast<std::size_t>(
      args.get_int("max-connections", static_cast<std::int64_t>(o.max_connections), 1, 10'000'000));
  o.max_connections_set = !args.settings("max-connections").empty();
  o.max_pipeline_depth = static_cast<std::size_t>(
      args.get_int("max-pipeline", static_cast<std::int64_t>(o.max_pipeline_depth), 1, 1024));
  o.head_timeout = ms(args.get_int("head-timeout-ms", o.head_timeout.count(), 1, 3'600'000));
  o.idle_timeout = ms(args.get_int("idle-timeout-ms", o.idle_timeout.count(), 1, 86'400'000));
  o.write_timeout = ms(args.get_int("write-timeout-ms", o.write_timeout.count(), 1, 3'600'000));
  o.drain_timeout = ms(args.get_int("drain-timeout-ms", o.drain_timeout.count(), 0, 3'600'000));
  o.request_limits.max_body = static_cast<std::size_t>(args.get_int(
      "max-body-bytes", static_cast<std::int64_t>(o.request_limits.max_body), 0, 64 << 20));
  if (auto v = args.get("cors-origin")) o.cors_origin = *v;
  for (const char ch : o.cors_origin) {
    if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f)
      args.fail("cors-origin", "control characters cannot go in a header");
  }
  o.debug_routes = args.flag("debug-routes");

  DbOptions& db = c.db;
  db.primary = args.get("db").value_or("");
  db.replicas = args.all("replica");
  for (const auto& s : args.settings("replica")) {
    if (s.value.empty()) Args::fail("replica", s, "empty conninfo");
  }
  db.conns_per_server = static_cast<unsigned>(args.get_int("db-conns-per-thread", 1, 1, 64));
  db.deadline = ms(args.get_int("db-deadline-ms", db.deadline.count(), 1, 600'000));
  db.max_outstanding = static_cast<std::size_t>(args.get_int(
      "db-max-outstanding", static_cast<std::int64_t>(db.max_outstanding), 1, 1'000'000));
  db.pipeline = !args.flag("no-pipeline");

  CacheOptions& cache = c.cache;
  cache.max_bytes = static_cast<std::size_t>(args.get_int("cache-mb", 256, 0, 1 << 20)) << 20;
  cache.ttl = ms(args.get_int("cache-ttl-s", 60, 1, 86'400) * 1000);
  cache.read_your_writes =
      ms(args.get_int("read-your-writes-ms", cache.read_your_writes.count(), 0, 600'000));

  if (auto v = args.get("log-level")) {
    const auto level = parse_log_level(*v);
    if (!level) args.fail("log-level", fmt::format("'{}' is not error, warn, info or debug", *v));
    c.log.level = *level;
  }
  c.log.file = args.get("log-file").value_or("");
  c.access_log = args.get("access-log").value_or("");
  return c;
}

// The effective configuration in the config-file format, each key after a comment saying
// where its value came from: paste it into a file and it means the same (secrets aside).
void print_config(const ServeConfig& c, const Args& args) {
  const auto& o = c.serve;
  const auto b = [](bool v) { return std::string(v ? "true" : "false"); };
  const auto n = [](auto v) { return fmt::to_string(v); };
  std::vector<std::string> replicas;
  for (const auto& r : c.db.replicas) replicas.push_back(db::mask_conninfo(r));
  const std::vector<std::pair<std::string, std::vector<std::string>>> values{
      {"listen", o.listen},
      {"threads", {n(o.threads)}},
      {"max-connections", {n(o.max_connections)}},
      {"max-pipeline", {n(o.max_pipeline_depth)}},
      {"head-timeout-ms", {n(o.head_timeout.count())}},
      {"idle-timeout-ms", {n(o.idle_timeout.count())}},
      {"write-timeout-ms", {n(o.write_timeout.count())}},
      {"drain-timeout-ms", {n(o.drain_timeout.count())}},
      {"max-body-bytes", {n(o.request_limits.max_body)}},
      {"cors-origin", {o.cors_origin}},
      {"debug-routes", {b(o.debug_routes)}},
      {"db", {db::mask_conninfo(c.db.primary)}},
      {"replica", replicas},
      {"db-conns-per-thread", {n(c.db.conns_per_server)}},
      {"db-deadline-ms", {n(c.db.deadline.count())}},
      {"db-max-outstanding", {n(c.db.max_outstanding)}},
      {"no-pipeline", {b(!c.db.pipeline)}},
      {"cache-mb", {n(c.cache.max_bytes >> 20)}},
      {"cache-ttl-s", {n(c.cache.ttl.count() / 1000)}},
      {"read-your-writes-ms", {n(c.cache.read_your_writes.count())}},
      {"log-level", {std::string(log_level_name(c.log.level))}},
      {"log-file", {c.log.file}},
      {"access-log", {c.access_log}},
  };
  std::string out = fmt::format(
      "# reviewsd serve: effective configuration (flag > environment > config file > default)\n"
      "# config file: {}\n",
      args.config_path().empty() ? "none" : args.config_path());
  for (const auto& opt : args.spec().options) {
    if (opt.kind == OptionKind::Action) continue;
    const auto it = std::find_if(values.begin(), values.end(),
                                 [&](const auto& kv) { return kv.first == opt.name; });
    // Every option must be printed: a new one without a line here is a bug, caught by the tests.
    if (it == values.end()) throw std::logic_error("--check-config does not know " + opt.name);
    const auto& from = args.settings(opt.name);
    if (it->second.empty()) {
      fmt::format_to(std::back_inserter(out), "# {}: none ({})\n", opt.name,
                     from.empty() ? "default" : from.front().where);
    }
    for (std::size_t i = 0; i < it->second.size(); ++i) {
      const std::string where = from.empty() ? "default" : from[std::min(i, from.size() - 1)].where;
      const std::string& v = it->second[i];
      fmt::format_to(std::back_inserter(out), "# {}\n{} ={}{}\n", where, opt.name,
                     v.empty() ? "" : " ", v);
    }
  }
  fmt::print("{}", out);
}

// db/'s lines (a database server down, back up; the LISTEN connection lost) through this
// logger, so they get a level and the same format as the rest: `journalctl -p warning` shows a
// database outage.
void log_db_line(db::LogSeverity severity, std::string_view message) noexcept {
  log_write(severity == db::LogSeverity::Warn ? LogLevel::Warn : LogLevel::Info, message,
            {{"component", "db"}});
}

}  // namespace

void check_serve_config(const Args& args) { (void)resolve(args); }

int cmd_serve(int argc, char** argv) {
  const Args args(argc, argv, serve_spec());
  if (args.flag("help")) {
    fmt::print("{}", help_text(serve_spec()));
    return 0;
  }
  const ServeConfig c = resolve(args);
  if (args.flag("check-config")) {
    print_config(c, args);
    return 0;
  }
  // Files are opened now, as the user that starts us: an unwritable path is a configuration
  // error (exit 2), reported before anything listens.
  try {
    log_setup(c.log);
  } catch (const std::system_error& e) {
    args.fail("log-file", fmt::format("cannot open: {}", e.code().message()));
  }
  db::set_log_sink(&log_db_line);  // before any pool or listener exists
  try {
    AccessLog::open(c.access_log);
  } catch (const std::system_error& e) {
    args.fail("access-log", fmt::format("cannot open: {}", e.code().message()));
  }

  Router router;
  add_engine_routes(router, c.serve);
  add_api_routes(router);
  return run_server(c.serve, router, api_reactor_hooks(c.db, c.cache));
}

}  // namespace server
