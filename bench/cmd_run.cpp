// `reviewsd-bench run`: from nothing to a report in one command. A private PostgreSQL cluster
// (db::LocalCluster, as `reviewsd demo`: as root it runs as the `postgres` OS user), the data
// set at the asked scale generated and loaded once and reused, `reviewsd serve`, each scenario
// through `reviewsd-bench load --json` (a child of ours: /proc/self/exe), the references (nginx
// `return 200`, pgbench -M prepared), then report.md and report.html. Everything it starts is
// a child it stops by pid on every exit path, Ctrl-C and SIGTERM included.
#include "bench/commands.h"
#include "bench/html_report.h"
#include "bench/loadgen.h"
#include "bench/report.h"
#include "bench/run_result.h"
#include "bench/run_support.h"
#include "db/local_cluster.h"
#include "db/pg.h"
#include "db/schema.h"

#include <fmt/format.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace bench {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

constexpr const char* kAllScenarios[] = {"random", "hot", "repeat", "list", "mixed", "ramp"};

// A `load` child may take its run's longest time (max_run_time, max_ramp_time) plus this: its
// own start, `mixed`'s fetch of the products to POST to (at most 10 s), the JSON output, on a
// shared box that may be slow. Past it the child is killed and the scenario marked failed.
constexpr auto kLoadMargin = 30s;
// `reviewsd serve` and nginx get this long to answer their readiness probe.
constexpr auto kServeReady = 60s;
constexpr auto kNginxReady = 15s;
// pgbench's -T window plus this for its connections and report.
constexpr auto kPgbenchMargin = 60s;

constexpr const char* kUsage =
    R"(usage: reviewsd-bench run --scale SF [--scenario NAME]... [options]

From nothing to a report: creates (or reuses) a private PostgreSQL cluster, generates and loads
the data set at scale SF unless it is already there, starts `reviewsd serve` (response cache on),
runs each scenario with `reviewsd-bench load` (warm-up, then the measured window), then the
references (nginx `return 200` of a body of each scenario's mean response size, driven by the
same load command: the HTTP ceiling; `reviewsd serve --cache-mb 0` on `random` against
`pgbench -M prepared` running the same SQL over as many database connections: the database
ceiling), stops everything it started and writes OUT/report.md and OUT/report.html (inline SVG
plots) next to every JSON result. The Markdown table is printed on stdout at the end;
progress goes to stderr. Ctrl-C stops everything started and exits 130.

Scenarios: random hot repeat list mixed ramp (ramp = random at an increasing constant rate,
--ramp START:STEP:MAX, until p99 passes --slo-p99-ms).

  --scale SF             data set scale, 1 = full size (required)
  --scenario NAME        repeatable or a comma list (default: all six)
  --out DIR              results and report (default bench/out/YYYYMMDD-HHMMSS)
  --cluster DIR          the private cluster and the generated CSVs, reused across runs: one
                         database per scale (sf1, sf0_01) (default /tmp/reviewsd-bench)
  --pg-port N            the cluster's socket port, unix socket only (default 5437)
  --keep-cluster         leave the cluster running at the end (the next run reuses it)
  --seed N               data generator seed (default 42)
  --duration S           measured seconds per scenario (default 10)
  --warmup S             warm-up seconds before each measurement (default 2)
  --connections C        keep-alive connections (default 64)
  --threads T            load generator threads (default 1)
  --rate R               open loop at R requests/s for the non-ramp scenarios (default closed)
  --route R              reviews, meta or both for random/hot/repeat (default: the scenario's)
  --ramp START:STEP:MAX  the ramp's offered rates (default 1000:1000:20000)
  --slo-p99-ms B         the ramp's latency bound (default 10)
  --step-seconds S       seconds per ramp step (default 2)
  --serve-threads N      `reviewsd serve --threads` (default: number of cores)
  --cache-mb N           `reviewsd serve --cache-mb` for the scenarios (default: serve's, 256;
                         0 measures the database path, e.g. to compare scales)
  --bin PATH             the reviewsd binary (default: ../server/reviewsd next to this binary,
                         then ./reviewsd next to it, then $PATH)
  --no-reference         skip the nginx and pgbench references
)";

struct RunOptions {
  std::string scale_text;
  double scale = 0;
  std::vector<std::string> scenarios;
  fs::path out;
  fs::path cluster = "/tmp/reviewsd-bench";
  int pg_port = 5437;
  bool keep_cluster = false;
  std::string seed = "42";
  std::string duration = "10", warmup = "2";
  double duration_s = 10, warmup_s = 2;
  std::string connections = "64", threads = "1";
  std::string rate;
  std::string route;
  std::string ramp = "1000:1000:20000";
  std::string slo_ms = "10";
  std::string step_seconds = "2";
  RampConfig ramp_config;  // parsed from `ramp`, `slo_ms` and `step_seconds`, as load does
  int serve_threads = 0;
  std::string cache_mb;  // empty: serve's default
  fs::path bin;
  bool reference = true;
  std::string command_line;
};

double to_number(std::string_view flag, std::string_view v, double lo, double hi) {
  double d = 0;
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), d);
  if (ec != std::errc{} || end != v.data() + v.size() || !(d >= lo && d <= hi))
    throw UsageError{fmt::format("{}: expected a number in [{}, {}], got '{}'", flag, lo, hi, v)};
  return d;
}

// The options `load` parses as integers are checked as integers here, before gen and load
// spend minutes on a value (64.5, 1e3) the load child would refuse.
std::int64_t to_int(std::string_view flag, std::string_view v, std::int64_t lo, std::int64_t hi) {
  std::int64_t n = 0;
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc{} || end != v.data() + v.size() || n < lo || n > hi)
    throw UsageError{fmt::format("{}: expected an integer in [{}, {}], got '{}'", flag, lo, hi, v)};
  return n;
}

std::chrono::nanoseconds seconds(double s) {
  return std::chrono::nanoseconds(static_cast<std::int64_t>(s * 1e9));
}

// The longest a `load` child of these options may run before it is killed.
std::chrono::milliseconds load_time_limit(const RunOptions& o, bool ramp) {
  LoadConfig c;
  c.warmup = seconds(o.warmup_s);
  c.duration = seconds(o.duration_s);
  const auto t = ramp ? max_ramp_time(c, o.ramp_config) : max_run_time(c);
  return std::chrono::ceil<std::chrono::milliseconds>(t) + kLoadMargin;
}

std::string shell_quote(std::string_view a) {
  if (!a.empty() && a.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                        "0123456789-_./:=,@%+") == std::string_view::npos)
    return std::string(a);
  std::string out = "'";
  for (const char c : a) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string join_command(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) s += (s.empty() ? "" : " ") + shell_quote(a);
  return s;
}

std::string now_text(const char* format, bool utc) {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  if (utc)
    gmtime_r(&t, &tm);
  else
    localtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, format, &tm);
  return buf;
}

std::string first_line(std::string s) {
  s = s.substr(0, s.find('\n'));
  while (!s.empty() && (s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string file_field(const fs::path& file, const std::string& key, char sep) {
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) {
    if (!line.starts_with(key)) continue;
    auto at = line.find(sep);
    if (at == std::string::npos) continue;
    std::string v = line.substr(at + 1);
    v.erase(0, v.find_first_not_of(" \t\""));
    while (!v.empty() && (v.back() == '"' || v.back() == ' ')) v.pop_back();
    return v;
  }
  return "unknown";
}

RunOptions parse(const std::vector<std::string_view>& args) {
  RunOptions o;
  bool have_scale = false;
  o.command_line = "reviewsd-bench run";
  for (const auto a : args) o.command_line += " " + shell_quote(a);
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view flag = args[i];
    if (flag == "--help" || flag == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    if (flag == "--keep-cluster") {
      o.keep_cluster = true;
      continue;
    }
    if (flag == "--no-reference") {
      o.reference = false;
      continue;
    }
    if (i + 1 >= args.size()) throw UsageError{fmt::format("{} needs a value", flag)};
    const std::string v(args[++i]);
    if (flag == "--scale") {
      o.scale = to_number(flag, v, 1e-6, 100);
      o.scale_text = fmt::format("{}", o.scale);
      have_scale = true;
    } else if (flag == "--scenario") {
      std::stringstream ss(v);
      for (std::string s; std::getline(ss, s, ',');) {
        if (s.empty()) continue;
        if (std::find(std::begin(kAllScenarios), std::end(kAllScenarios), s) ==
            std::end(kAllScenarios))
          throw UsageError{
              fmt::format("--scenario: unknown '{}' (random, hot, repeat, list, mixed, ramp)", s)};
        if (std::find(o.scenarios.begin(), o.scenarios.end(), s) == o.scenarios.end())
          o.scenarios.push_back(s);
      }
    } else if (flag == "--out") {
      o.out = v;
    } else if (flag == "--cluster") {
      o.cluster = v;
    } else if (flag == "--pg-port") {
      o.pg_port = static_cast<int>(to_int(flag, v, 1, 65535));
    } else if (flag == "--seed") {
      to_int(flag, v, 0, std::numeric_limits<std::int64_t>::max());
      o.seed = v;
    } else if (flag == "--duration") {
      o.duration_s = to_number(flag, v, 0.1, 3600);
      o.duration = v;
    } else if (flag == "--warmup") {
      o.warmup_s = to_number(flag, v, 0, 3600);
      o.warmup = v;
    } else if (flag == "--connections") {
      to_int(flag, v, 1, 60000);
      o.connections = v;
    } else if (flag == "--threads") {
      to_int(flag, v, 1, 256);
      o.threads = v;
    } else if (flag == "--rate") {
      to_number(flag, v, 1e-3, 1e8);
      o.rate = v;
    } else if (flag == "--route") {
      if (v != "reviews" && v != "meta" && v != "both")
        throw UsageError{"--route: reviews, meta or both"};
      o.route = v;
    } else if (flag == "--ramp") {
      o.ramp = v;
    } else if (flag == "--slo-p99-ms") {
      to_number(flag, v, 1e-3, 60000);
      o.slo_ms = v;
    } else if (flag == "--step-seconds") {
      to_number(flag, v, 0.1, 3600);
      o.step_seconds = v;
    } else if (flag == "--serve-threads") {
      o.serve_threads = static_cast<int>(to_int(flag, v, 1, 1024));
    } else if (flag == "--cache-mb") {
      o.cache_mb = std::to_string(to_int(flag, v, 0, 1 << 20));
    } else if (flag == "--bin") {
      o.bin = v;
    } else {
      throw UsageError{fmt::format("unknown option {}", flag)};
    }
  }
  if (!have_scale) throw UsageError{"--scale is required"};
  if (o.scenarios.empty()) o.scenarios.assign(std::begin(kAllScenarios), std::end(kAllScenarios));
  if (std::stoll(o.threads) > std::stoll(o.connections))
    throw UsageError{"--threads must not exceed --connections"};
  // The ramp, parsed as `load` parses it (its step count sets the child's time limit).
  if (std::string error; !parse_ramp(o.ramp, o.ramp_config, error))
    throw UsageError{fmt::format("--ramp: {}", error)};
  o.ramp_config.slo_p99 = seconds(std::stod(o.slo_ms) / 1e3);
  o.ramp_config.step_duration = seconds(std::stod(o.step_seconds));
  if (std::find(o.scenarios.begin(), o.scenarios.end(), "ramp") != o.scenarios.end()) {
    LoadConfig c;
    c.warmup = seconds(o.warmup_s);
    if (max_ramp_time(c, o.ramp_config) > limits::kMaxRunTime)
      throw UsageError{fmt::format(
          "--ramp: {} steps of --step-seconds {} after --warmup {} (and up to 2 s of drain "
          "each) may take longer than {} s",
          o.ramp_config.step_count(), o.step_seconds, o.warmup, limits::kMaxRunTime.count())};
  }
  if (o.out.empty()) o.out = fs::path("bench/out") / now_text("%Y%m%d-%H%M%S", false);
  if (o.serve_threads == 0)
    o.serve_threads = static_cast<int>(std::max(1L, ::sysconf(_SC_NPROCESSORS_ONLN)));
  if (o.bin.empty()) {
    const fs::path here = run::self_dir();
    for (const fs::path& p : {here / ".." / "server" / "reviewsd", here / "reviewsd"}) {
      if (::access(p.c_str(), X_OK) == 0) {
        o.bin = p.lexically_normal();
        break;
      }
    }
    if (o.bin.empty()) o.bin = run::find_program("reviewsd");
    if (o.bin.empty())
      throw UsageError{"no reviewsd binary next to reviewsd-bench or in $PATH: give --bin"};
  }
  o.bin = fs::absolute(o.bin);
  if (::access(o.bin.c_str(), X_OK) != 0)
    throw UsageError{fmt::format("--bin {}: not an executable", o.bin.string())};
  return o;
}

void progress(const std::string& line) {
  fmt::print(stderr, "run: {}\n", line);
  std::fflush(stderr);
}

bool has_data(const std::string& conninfo) {
  auto conn = db::connect(conninfo);
  if (db::schema_version(conn.get()) == 0) return false;
  return db::query_value(conn.get(), "SELECT EXISTS (SELECT 1 FROM reviews)") == "t";
}

Target loopback(int port) {
  std::string error;
  auto t = parse_loopback_url(fmt::format("http://127.0.0.1:{}", port), error);
  if (!t) throw std::runtime_error(fmt::format("port {}: {}", port, error));
  return *t;
}

// The port of the first "listening on ... 127.0.0.1:PORT" line of `log` past `offset`; 0 when
// there is none yet.
int logged_port(const fs::path& log, std::uintmax_t offset) {
  std::ifstream in(log);
  in.seekg(static_cast<std::streamoff>(offset));
  constexpr std::string_view kAddress = "127.0.0.1:";
  for (std::string line; std::getline(in, line);) {
    const auto at = line.find("listening on ");
    if (at == std::string::npos) continue;
    const auto addr = line.find(kAddress, at);
    if (addr == std::string::npos) continue;
    int port = 0;
    const char* p = line.data() + addr + kAddress.size();
    const auto [end, ec] = std::from_chars(p, line.data() + line.size(), port);
    if (ec == std::errc{} && end != p && port > 0) return port;
  }
  return 0;
}

// A `reviewsd serve` of ours, ready when this returns.
struct Serve {
  run::Child child;
  int port = 0;
};

// It listens on 127.0.0.1:0 and logs the port the kernel gave it: unlike a port picked with
// free_port() before the start, no other process can hold or share it.
Serve start_serve(const RunOptions& o, const std::string& conninfo, const fs::path& log,
                  const std::vector<std::string>& extra) {
  std::vector<std::string> argv{o.bin.string(),
                                "serve",
                                "--config=",
                                "--listen",
                                "127.0.0.1:0",
                                "--threads",
                                std::to_string(o.serve_threads),
                                "--db",
                                conninfo};
  argv.insert(argv.end(), extra.begin(), extra.end());
  std::error_code ec;
  const std::uintmax_t offset = fs::exists(log) ? fs::file_size(log, ec) : 0;
  progress(fmt::format("starting {} (log {})", join_command(argv), log.string()));
  Serve s{run::Child(argv, {log, log, true, false}, "reviewsd serve")};
  const auto deadline = std::chrono::steady_clock::now() + kServeReady;
  while (std::chrono::steady_clock::now() < deadline) {
    if (const auto st = s.child.poll())
      throw std::runtime_error(
          fmt::format("reviewsd serve exited ({}) before it was ready; see {}", *st, log.string()));
    if (s.port == 0) s.port = logged_port(log, offset);
    if (s.port != 0) {
      if (const auto r = http_get(loopback(s.port), "/readyz", 1s); r && r->first == 200) {
        progress(fmt::format("reviewsd serve (pid {}) ready on port {}", s.child.pid(), s.port));
        return s;
      }
    }
    run::sleep_for(100ms);
  }
  throw std::runtime_error(fmt::format("reviewsd serve not ready within {} s; see {}",
                                       kServeReady.count(), log.string()));
}

struct Sizes {
  std::int64_t products = 0;
  std::int64_t reviews = 0;
};

// One `reviewsd-bench load --json` run; the result (with `fields` set) in `file`. Returns
// false (and says why) when the load failed, ran past its time limit (killed) or printed no
// result: the caller marks the scenario failed and goes on.
bool run_load(const RunOptions& o, const std::string& load_scenario, bool ramp, int port,
              const Sizes& sizes, const fs::path& file,
              std::vector<std::pair<std::string, std::string>> fields) {
  std::vector<std::string> argv{fs::read_symlink("/proc/self/exe").string(),
                                "load",
                                "--url",
                                fmt::format("http://127.0.0.1:{}", port),
                                "--scenario",
                                load_scenario,
                                "--products",
                                std::to_string(sizes.products),
                                "--reviews",
                                std::to_string(sizes.reviews),
                                "--connections",
                                o.connections,
                                "--threads",
                                o.threads,
                                "--warmup",
                                o.warmup};
  if (!o.route.empty() &&
      (load_scenario == "random" || load_scenario == "hot" || load_scenario == "repeat")) {
    argv.insert(argv.end(), {"--route", o.route});
  }
  if (ramp) {
    argv.insert(argv.end(),
                {"--ramp", o.ramp, "--slo-p99-ms", o.slo_ms, "--step-seconds", o.step_seconds});
  } else {
    argv.insert(argv.end(), {"--duration", o.duration});
    if (!o.rate.empty()) argv.insert(argv.end(), {"--rate", o.rate});
  }
  argv.emplace_back("--json");
  const fs::path raw = fs::path(file).concat(".out");
  std::vector<std::string> shown = argv;
  shown[0] = "reviewsd-bench";
  const std::string command = join_command(shown);
  progress(command);
  try {
    run::Child c(argv, {raw, "", false, false}, "reviewsd-bench load");
    const int status = c.wait(load_time_limit(o, ramp));
    std::ifstream in(raw);
    std::string json;
    std::getline(in, json);
    if (status != 0 || json.empty() || json.front() != '{') {
      progress(fmt::format("load failed (exit {}); its output: {}", status, raw.string()));
      return false;
    }
    fields.emplace_back("command", json_string(command));
    std::ofstream(file, std::ios::trunc) << run::json_with_fields(json, fields) << "\n";
  } catch (const std::exception& e) {
    // A time limit passed (the child is killed by now), or its output was not a result.
    progress(fmt::format("load failed: {}; its output: {}", e.what(), raw.string()));
    return false;
  }
  fs::remove(raw);
  return true;
}

result::BenchResult read_result(const fs::path& file) {
  result::ReportInput in;
  result::add_report_file(in, file.string());
  return in.results.at(0);
}

// `s` as an nginx configuration string: double quotes, with " and \ escaped (nginx also reads
// \t, \n and \r in quotes, so every backslash must be escaped, not only those before a quote).
std::string nginx_quote(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

// nginx answering every path of each port with `return 200` of its body, as bench/lib.sh.
struct NginxServer {
  int port;
  std::size_t bytes;
};

run::Child start_nginx(const fs::path& nginx, const fs::path& dir, int workers,
                       const std::vector<NginxServer>& servers) {
  fs::create_directories(dir);
  std::string maps, blocks;
  for (const auto& s : servers) {
    const std::string body = s.bytes >= 10 ? "{\"pad\":\"" + std::string(s.bytes - 10, 'x') + "\"}"
                                           : std::string(s.bytes, 'x');
    // nginx reads a config token of at most 4 KB: the body as constant map variables of
    // 1,000 characters each, concatenated.
    std::string ref;
    for (std::size_t j = 0; j < body.size(); j += 1000) {
      const std::string name = fmt::format("$bench_body_{}_{}", s.port, j / 1000);
      maps +=
          fmt::format("  map \"\" {} {{ default {}; }}\n", name, nginx_quote(body.substr(j, 1000)));
      ref += name;
    }
    blocks += fmt::format(
        "  server {{\n    listen 127.0.0.1:{} reuseport;\n    location / {{ default_type "
        "\"application/json; charset=utf-8\"; return 200 \"{}\"; }}\n  }}\n",
        s.port, ref);
  }
  // Every path quoted: --out may hold spaces, quotes or semicolons.
  auto path = [&](const char* name) { return nginx_quote((dir / name).string()); };
  const std::string d = nginx_quote(dir.string());
  std::ofstream(dir / "nginx.conf", std::ios::trunc) << fmt::format(
      "worker_processes {};\ndaemon off;\nmaster_process on;\nerror_log {};\n"
      "pid {};\nevents {{ worker_connections 20000; }}\nhttp {{\n  access_log off;\n"
      "  client_body_temp_path {}; proxy_temp_path {}; fastcgi_temp_path {};\n"
      "  uwsgi_temp_path {}; scgi_temp_path {};\n  keepalive_requests 1000000;\n{}{}}}\n",
      workers, path("error.log"), path("nginx.pid"), d, d, d, d, d, maps, blocks);
  std::vector<std::string> argv{
      nginx.string(), "-e", (dir / "error.log").string(), "-c", (dir / "nginx.conf").string(), "-p",
      dir.string()};
  progress(fmt::format("starting nginx: {}", join_command(argv)));
  run::Child c(argv, {dir / "nginx.log", dir / "nginx.log", true, false}, "nginx");
  for (const auto& s : servers) {
    const auto deadline = std::chrono::steady_clock::now() + kNginxReady;
    for (;;) {
      if (const auto st = c.poll())
        throw std::runtime_error(
            fmt::format("nginx exited ({}); see {}/error.log", *st, dir.string()));
      const auto r = http_get(loopback(s.port), "/bench/fixed", 1s);
      if (r && r->first == 200) {
        if (r->second.size() != s.bytes)
          throw std::runtime_error(
              fmt::format("nginx body is {} bytes, expected {}", r->second.size(), s.bytes));
        break;
      }
      if (std::chrono::steady_clock::now() > deadline)
        throw std::runtime_error(fmt::format("nginx not answering on port {}", s.port));
      run::sleep_for(100ms);
    }
    // The port came from free_port(): make sure nobody took it (or shares it) meanwhile.
    if (std::string error; !run::only_group_listens(s.port, c.pid(), error))
      throw std::runtime_error(fmt::format("nginx: {}", error));
  }
  return c;
}

// The pgbench script of one of the server's statements: $1 product id uniform in [lo, hi],
// $2 count 5, $3 page 0 (bench/read_vs_pgbench.sh).
std::string pgbench_script(const RunOptions& o, const std::string& statement, std::int64_t lo,
                           std::int64_t hi) {
  auto [status, sql] = run::capture({o.bin.string(), "sql", "--name", statement});
  if (status != 0 || sql.empty())
    throw std::runtime_error(fmt::format("reviewsd sql --name {} failed", statement));
  while (!sql.empty() && (sql.back() == '\n' || sql.back() == ' ' || sql.back() == ';'))
    sql.pop_back();
  std::replace(sql.begin(), sql.end(), '\n', ' ');
  auto replace_all = [&](const std::string& from, const std::string& to) {
    for (auto at = sql.find(from); at != std::string::npos; at = sql.find(from, at + to.size()))
      sql.replace(at, from.size(), to);
  };
  replace_all("$1", ":pid");
  replace_all("$2", ":count");
  replace_all("$3", ":page");
  return fmt::format("\\set pid random({}, {})\n\\set count 5\n\\set page 0\n{};\n", lo, hi, sql);
}

std::string pgbench_value(const std::string& out, const std::string& key) {
  const auto at = out.find(key);
  if (at == std::string::npos) return {};
  auto v = out.substr(at + key.size());
  v.erase(0, v.find_first_not_of(" =:"));
  return v.substr(0, v.find_first_of(" \n("));
}

std::vector<std::pair<std::string, std::string>> machine_fields() {
  utsname u{};
  ::uname(&u);
  return {{"nproc", std::to_string(::sysconf(_SC_NPROCESSORS_ONLN))},
          {"cpu", file_field("/proc/cpuinfo", "model name", ':')},
          {"kernel", fmt::format("{} {}", u.sysname, u.release)},
          {"os", file_field("/etc/os-release", "PRETTY_NAME", '=')}};
}

// What the steps of a run hand on to the next: where the results go and what happened.
struct RunState {
  fs::path out;  // absolute
  std::string version;
  std::string dbname;
  std::string conninfo;
  Sizes sizes;
  std::vector<std::string> notes;
  std::vector<std::string> failed;
  std::vector<fs::path> files;                         // results for the report
  std::vector<std::pair<std::string, fs::path>> done;  // scenario, its result
};

// The data set: a database per scale in our cluster; the CSVs kept next to it. Generated and
// loaded only when missing.
void prepare_data(const RunOptions& o, const db::LocalCluster& cluster, RunState& st) {
  st.dbname = "sf" + o.scale_text;
  for (auto& c : st.dbname) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  {
    auto admin = db::connect(cluster.conninfo("postgres"));
    if (db::query_value(admin.get(), "SELECT 1 FROM pg_database WHERE datname = $1", {st.dbname})
            .empty())
      db::exec(admin.get(), fmt::format("CREATE DATABASE {}", st.dbname));
  }
  st.conninfo = cluster.conninfo(st.dbname);
  if (has_data(st.conninfo)) {
    progress(fmt::format("reusing the data set in database {}", st.dbname));
  } else {
    const fs::path csv = fs::absolute(o.cluster) / ("data-" + st.dbname);
    const fs::path complete = csv / "COMPLETE";
    if (!fs::exists(complete)) {
      fs::remove_all(csv);
      progress(fmt::format("generating scale {} into {}", o.scale_text, csv.string()));
      run::Child gen(
          {o.bin.string(), "gen", "--scale", o.scale_text, "--seed", o.seed, "--out", csv.string()},
          {"", "", false, true}, "reviewsd gen");
      if (const int s = gen.wait(4h); s != 0)
        throw std::runtime_error(fmt::format("reviewsd gen failed (exit {})", s));
      std::ofstream(complete) << o.scale_text << " " << o.seed << "\n";
    } else {
      progress(fmt::format("reusing the generated CSVs in {}", csv.string()));
    }
    progress(fmt::format("loading {} into database {}", csv.string(), st.dbname));
    run::Child load({o.bin.string(), "load", "--db", st.conninfo, "--from", csv.string()},
                    {"", "", false, true}, "reviewsd load");
    if (const int s = load.wait(4h); s != 0)
      throw std::runtime_error(fmt::format("reviewsd load failed (exit {})", s));
  }
  auto conn = db::connect(st.conninfo);
  st.sizes.products =
      std::stoll(db::query_value(conn.get(), "SELECT coalesce(max(product_id), 0) FROM reviews"));
  st.sizes.reviews =
      std::stoll(db::query_value(conn.get(), "SELECT coalesce(max(id), 0) FROM reviews"));
  if (st.sizes.products < 1)
    throw std::runtime_error(fmt::format("database {} is empty", st.dbname));
  progress(fmt::format("database {}: products up to {}, reviews up to {}", st.dbname,
                       st.sizes.products, st.sizes.reviews));
}

// The scenarios against one `reviewsd serve` (cache on, the default). A scenario whose load
// fails is marked failed; the others still run.
void run_scenarios(const RunOptions& o, RunState& st) {
  std::vector<std::string> cache_flag;
  if (!o.cache_mb.empty()) cache_flag = {"--cache-mb", o.cache_mb};
  Serve serve = start_serve(o, st.conninfo, st.out / "serve.log", cache_flag);
  int i = 0;
  for (const auto& s : o.scenarios) {
    const bool ramp = s == "ramp";
    progress(fmt::format("[{}/{}] {}: {} s warm-up, then {}", ++i, o.scenarios.size(), s, o.warmup,
                         ramp ? fmt::format("ramp {} req/s, {} s per step, SLO p99 {} ms", o.ramp,
                                            o.step_seconds, o.slo_ms)
                              : fmt::format("{} s measured", o.duration)));
    const fs::path file = st.out / (s + ".json");
    if (run_load(o, ramp ? "random" : s, ramp, serve.port, st.sizes, file,
                 {{"scenario", json_string(s)}})) {
      st.files.push_back(file);
      st.done.emplace_back(s, file);
    } else {
      st.failed.push_back(s);
    }
  }
  progress("stopping reviewsd serve");
  serve.child.stop();
}

// The HTTP ceiling: nginx `return 200` of each read scenario's mean body size.
void run_nginx_reference(const RunOptions& o, RunState& st) {
  const fs::path nginx = run::find_program("nginx");
  std::vector<std::pair<std::string, NginxServer>> ng;
  for (const auto& [s, file] : st.done) {
    if (s == "ramp" || s == "mixed") continue;  // no ceiling to speak of: writes, a ramp
    const auto r = read_result(file);
    double bytes = r.mean_body_bytes;
    if (!std::isfinite(bytes) && r.requests > 0) bytes = r.bytes / r.requests;
    if (!std::isfinite(bytes) || bytes < 1) continue;
    ng.push_back({s, {run::free_port(), static_cast<std::size_t>(std::lround(bytes))}});
  }
  if (nginx.empty()) {
    st.notes.emplace_back("nginx not found: no HTTP ceiling (apt-get install nginx-light)");
    return;
  }
  if (ng.empty()) return;
  std::vector<NginxServer> servers;
  for (const auto& [s, srv] : ng) servers.push_back(srv);
  run::Child nginx_child = start_nginx(nginx, st.out / "nginx", o.serve_threads, servers);
  for (const auto& [s, srv] : ng) {
    progress(fmt::format("reference nginx for {}: return 200 of {} bytes", s, srv.bytes));
    const fs::path file = st.out / (s + ".nginx.json");
    if (run_load(o, s, false, srv.port, st.sizes, file,
                 {{"scenario", json_string(s)},
                  {"reference", "\"nginx\""},
                  {"mean_body_bytes", std::to_string(srv.bytes)}})) {
      st.files.push_back(file);
    } else {
      st.failed.push_back(s + " (nginx)");
    }
  }
  // SIGQUIT: nginx's graceful stop, master and workers; the group gets SIGKILL past the grace.
  nginx_child.stop(SIGQUIT, 10s);
  st.notes.push_back(fmt::format(
      "nginx {}: worker_processes {} (= serve threads), access_log off, `return 200` of "
      "a JSON body of the scenario's mean response size, driven by the same "
      "`reviewsd-bench load` command (it ignores the path): the HTTP ceiling",
      first_line(run::capture({nginx.string(), "-v"}).second), o.serve_threads));
}

// The database ceiling: reviewsd --cache-mb 0 on `random` against pgbench -M prepared running
// the same SQL and ids over as many database connections.
void run_pgbench_reference(const RunOptions& o, RunState& st) {
  if (std::find(o.scenarios.begin(), o.scenarios.end(), "random") == o.scenarios.end()) {
    st.notes.emplace_back("no pgbench reference: it compares the `random` scenario");
    return;
  }
  fs::path pgbench;
  try {
    pgbench = db::LocalCluster::bindir() / "pgbench";
  } catch (const std::exception&) {
  }
  if (pgbench.empty() || ::access(pgbench.c_str(), X_OK) != 0)
    pgbench = run::find_program("pgbench");
  if (pgbench.empty()) {
    st.notes.emplace_back(
        "pgbench not found: no database ceiling (apt-get install postgresql-contrib)");
    return;
  }
  // reviewsd with every request a query, as pgbench: --cache-mb 0.
  const int db_conns = o.serve_threads;  // --db-conns-per-thread 1
  {
    Serve serve = start_serve(o, st.conninfo, st.out / "serve-uncached.log",
                              {"--cache-mb", "0", "--db-conns-per-thread", "1"});
    progress("reference: random with --cache-mb 0, for pgbench");
    const fs::path file = st.out / "random-uncached.json";
    if (run_load(o, "random", false, serve.port, st.sizes, file,
                 {{"scenario", "\"random-uncached\""}, {"label", "\"reviewsd --cache-mb 0\""}})) {
      st.files.push_back(file);
    } else {
      st.failed.emplace_back("random-uncached");
    }
    serve.child.stop();
  }
  // The same SQL and ids: random reads /reviews (reviews_relevant) and/or /reviews/meta.
  const std::int64_t lo = st.sizes.products - st.sizes.products / 10, hi = st.sizes.products;
  const std::string route = o.route.empty() ? "both" : o.route;
  // pgbench's sessions plan like the server's pool (db/README.md, "Generic plans"): with the
  // default, PostgreSQL re-plans each execution, and the reference would pay for planning
  // that reviewsd does not. Through env(1), so the printed command says it too.
  std::vector<std::string> argv{"/usr/bin/env",
                                "PGOPTIONS=-c plan_cache_mode=force_generic_plan",
                                pgbench.string(),
                                "-n",
                                "-M",
                                "prepared",
                                "-c",
                                std::to_string(db_conns),
                                "-j",
                                "1",
                                "-T",
                                std::to_string(std::max(1L, std::lround(o.duration_s)))};
  for (const char* stmt : {"reviews_relevant", "meta"}) {
    if (route != "both" && route != (std::string(stmt) == "meta" ? "meta" : "reviews")) continue;
    const fs::path script = st.out / fmt::format("pgbench-{}.sql", stmt);
    std::ofstream(script, std::ios::trunc) << pgbench_script(o, stmt, lo, hi);
    // Always with a weight: pgbench splits -f at the last '@', which --out may contain.
    argv.push_back("-f");
    argv.push_back(script.string() + "@1");
  }
  argv.push_back(st.conninfo);
  const std::string command = join_command(argv);
  progress(fmt::format("reference pgbench: {}", command));
  run::Child pg(argv, {st.out / "pgbench.log", st.out / "pgbench.err", false, false}, "pgbench");
  const int status =
      pg.wait(std::chrono::milliseconds(std::lround(o.duration_s * 1e3)) + kPgbenchMargin);
  std::ifstream in(st.out / "pgbench.log");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  const std::string tps = pgbench_value(text, "tps"), lat = pgbench_value(text, "latency average"),
                    n = pgbench_value(text, "number of transactions actually processed"),
                    bad = pgbench_value(text, "number of failed transactions");
  if (status != 0 || tps.empty())
    throw std::runtime_error(
        fmt::format("pgbench failed (exit {}); see {}/pgbench.err", status, st.out.string()));
  double lat_us = std::nan("");
  if (!lat.empty()) lat_us = std::stod(lat) * 1e3;
  const fs::path file = st.out / "random-uncached.pgbench.json";
  std::ofstream(file, std::ios::trunc) << fmt::format(
      R"({{"reference":"pgbench","scenario":"random-uncached","model":"closed",)"
      R"("connections":{},"threads":1,"seconds":{},"requests":{},"rps":{},)"
      R"("errors":{{"failed":{}}},"latency_us":{{"avg":{}}},"command":{}}})"
      "\n",
      db_conns, o.duration_s, n.empty() ? "null" : n, tps, bad.empty() ? "0" : bad,
      std::isfinite(lat_us) ? fmt::format("{:.1f}", lat_us) : "null", json_string(command));
  st.files.push_back(file);
  st.notes.push_back(fmt::format(
      "pgbench -M prepared, generic plans as reviewsd's pool: the statements `reviewsd sql` "
      "prints for the `random` routes ({}), product ids uniform in [{}, {}], {} connection(s) "
      "= reviewsd's database connections (--threads {} x --db-conns-per-thread 1); compared "
      "with reviewsd --cache-mb 0 running `random`: the database ceiling",
      route, lo, hi, db_conns, o.serve_threads));
}

// Each reference on its own: one that fails (nginx does not start, pgbench errors) is noted
// and marked failed, and the report of everything measured is still written.
void run_references(const RunOptions& o, RunState& st) {
  if (!o.reference) {
    st.notes.emplace_back("--no-reference: no nginx or pgbench ceiling measured");
    return;
  }
  const std::pair<const char*, void (*)(const RunOptions&, RunState&)> references[] = {
      {"nginx", run_nginx_reference}, {"pgbench", run_pgbench_reference}};
  for (const auto& [name, reference] : references) {
    try {
      reference(o, st);
    } catch (const std::exception& e) {
      progress(fmt::format("reference {} failed: {}", name, e.what()));
      st.notes.push_back(fmt::format("reference {} failed: {}", name, e.what()));
      st.failed.emplace_back(fmt::format("{} (reference)", name));
    }
  }
}

// run.json, report.md and report.html; the Markdown table on stdout.
void write_run_report(const RunOptions& o, RunState& st) {
  st.notes.push_back(fmt::format(
      "the load generator, reviewsd, PostgreSQL and the references share this machine's {} "
      "core(s); figures are one run each",
      ::sysconf(_SC_NPROCESSORS_ONLN)));
  if (!st.failed.empty())
    st.notes.push_back(fmt::format("failed (no result): {}", fmt::join(st.failed, ", ")));
  std::string run_json = "{\"run\":{";
  std::vector<std::pair<std::string, std::string>> fields{
      {"command", o.command_line},
      {"date", now_text("%Y-%m-%dT%H:%M:%SZ", true)},
      {"reviewsd", st.version},
      {"scale", o.scale_text},
      {"database", fmt::format("{} (products up to {}, reviews up to {})", st.dbname,
                               st.sizes.products, st.sizes.reviews)},
      {"serve", fmt::format("--threads {}, {}", o.serve_threads,
                            o.cache_mb.empty()  ? "cache on (default --cache-mb)"
                            : o.cache_mb == "0" ? "cache off (--cache-mb 0)"
                                                : "--cache-mb " + o.cache_mb)},
      {"load", fmt::format("--connections {} --threads {} --warmup {} --duration {}{}",
                           o.connections, o.threads, o.warmup, o.duration,
                           o.rate.empty() ? " (closed loop)" : " --rate " + o.rate)},
  };
  for (std::size_t i = 0; i < fields.size(); ++i)
    run_json += fmt::format("{}{}:{}", i ? "," : "", json_string(fields[i].first),
                            json_string(fields[i].second));
  run_json += ",\"machine\":{";
  const auto machine = machine_fields();
  for (std::size_t i = 0; i < machine.size(); ++i)
    run_json += fmt::format("{}{}:{}", i ? "," : "", json_string(machine[i].first),
                            json_string(machine[i].second));
  run_json += "}},\"notes\":[";
  for (std::size_t i = 0; i < st.notes.size(); ++i)
    run_json += (i ? "," : "") + json_string(st.notes[i]);
  run_json += "]}\n";
  std::ofstream(st.out / "run.json", std::ios::trunc) << run_json;

  result::ReportInput input;
  result::add_report_file(input, (st.out / "run.json").string());
  for (const auto& f : st.files) result::add_report_file(input, f.string());
  const std::string md = write_report(input, st.out.string());
  std::fputs(md.c_str(), stdout);
  std::fflush(stdout);
}

int run_all(const RunOptions& o) {
  const auto started = std::chrono::steady_clock::now();
  RunState st;
  fs::create_directories(o.out);
  st.out = fs::absolute(o.out);
  st.version = first_line(run::capture({o.bin.string(), "--version"}).second);
  progress(fmt::format("{}; {} scenario(s): {}; output in {}", st.version, o.scenarios.size(),
                       fmt::join(o.scenarios, " "), st.out.string()));

  // 1. The cluster: ours, reused; stopped at the end if we started it (unless --keep-cluster).
  db::LocalClusterOptions copts;
  copts.dir = fs::absolute(o.cluster) / "pg";
  copts.port = o.pg_port;
  db::LocalCluster cluster(copts);
  const bool was_running = cluster.running();
  if (cluster.init_if_missing())
    progress(fmt::format("created a PostgreSQL cluster in {}", copts.dir.string()));
  struct StopCluster {
    db::LocalCluster& c;
    bool stop_it;
    ~StopCluster() {
      if (!stop_it) return;
      progress("stopping PostgreSQL");
      c.stop();
    }
  } stop_cluster{cluster, !was_running && !o.keep_cluster};
  if (was_running) {
    progress(fmt::format("PostgreSQL already running in {}: using it, leaving it running",
                         copts.dir.string()));
  } else {
    progress(fmt::format("starting PostgreSQL in {}", copts.dir.string()));
    cluster.start();
  }
  run::check_stop();

  prepare_data(o, cluster, st);  // 2.
  run_scenarios(o, st);          // 3.
  run_references(o, st);         // 4.
  write_run_report(o, st);       // 5.
  progress(fmt::format(
      "report: {}/report.md, {}/report.html ({:.0f} s)", st.out.string(), st.out.string(),
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count()));
  if (run::stop_requested()) {
    // Ctrl-C while the report was being written: it is complete, but the run was interrupted.
    progress("interrupted: the report is written; stopped everything this run started");
    return 130;
  }
  if (!st.failed.empty()) {
    progress(fmt::format("failed: {}", fmt::join(st.failed, ", ")));
    return 1;
  }
  return 0;
}

}  // namespace

int cmd_run(const std::vector<std::string_view>& args) {
  const RunOptions o = parse(args);
  run::install_stop_handlers();
  try {
    return run_all(o);
  } catch (const run::Interrupted&) {
    // Unwinding has stopped the load, the servers and the cluster we started.
    progress("interrupted: stopped everything this run started");
    return 130;
  }
}

}  // namespace bench
