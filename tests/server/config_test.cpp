// Configuration and logs of the `reviewsd` binary: server/args.{h,cpp} in-process (layers,
// config file format, errors with their origin), server/log.{h,cpp} and server/access_log.{h,cpp},
// then the binary itself (REVIEWSD_BIN) for exit codes, --check-config, --help, --version and
// the SIGHUP log reopen.
#include "server/access_log.h"
#include "server/args.h"
#include "server/log.h"
#include "server/reactor.h"
#include "support/http_test.h"
#include "support/test_env.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using server::Args;
using server::Source;
using server::UsageError;
using testenv::ScopedEnv;

// An environment without any serve setting (a developer's shell may export some).
struct CleanEnv {
  CleanEnv() {
    for (const auto& o : server::serve_spec().options)
      vars.emplace_back(std::make_unique<ScopedEnv>(Args::env_name(o.name), std::nullopt));
    vars.emplace_back(std::make_unique<ScopedEnv>("REVIEWSD_CONFIG", std::nullopt));
  }
  std::vector<std::unique_ptr<ScopedEnv>> vars;
};

Args parse(std::vector<std::string> argv, const server::CommandSpec& spec = server::serve_spec()) {
  std::vector<char*> p;
  for (auto& a : argv) p.push_back(a.data());
  return Args(static_cast<int>(p.size()), p.data(), spec);
}

std::string write_file(const fs::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
  return path.string();
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The UsageError message of `fn`, or "" when it did not throw one.
template <typename Fn>
std::string usage_error(Fn&& fn) {
  try {
    fn();
  } catch (const UsageError& e) {
    return e.what();
  }
  return {};
}

testenv::CommandResult reviewsd(std::vector<std::string> args) {
  args.insert(args.begin(), testenv::reviewsd_bin().string());
  return testenv::run(args, 30s);
}

}  // namespace

// --- Args: layers and precedence ----------------------------------------------------------------

TEST_CASE("a scalar key: flag > env > file > default, each with its origin", "[server][config]") {
  CleanEnv clean;
  testenv::TempDir dir;
  const auto conf = write_file(dir.path() / "r.conf", "# test\n\nthreads = 3\n");
  const std::string at = "config " + conf + ":3";

  {
    const auto a = parse({});
    CHECK(a.get_int("threads", 0, 0, 1024) == 0);
    CHECK(a.source("threads") == Source::Default);
    CHECK(a.where("threads") == "default");
    CHECK(a.config_path().empty());
  }
  {
    const auto a = parse({"--config", conf});
    CHECK(a.get_int("threads", 0, 0, 1024) == 3);
    CHECK(a.source("threads") == Source::File);
    CHECK(a.where("threads") == at);
    CHECK(a.config_path() == conf);
  }
  ScopedEnv env("REVIEWSD_THREADS", "5");
  {
    const auto a = parse({"--config", conf});
    CHECK(a.get_int("threads", 0, 0, 1024) == 5);
    CHECK(a.where("threads") == "env REVIEWSD_THREADS");
  }
  {
    const auto a = parse({"--config", conf, "--threads", "7"});
    CHECK(a.get_int("threads", 0, 0, 1024) == 7);
    CHECK(a.source("threads") == Source::Flag);
    CHECK(a.where("threads") == "--threads");
  }
  {
    const auto a = parse({"--threads=8", "--config=" + conf});
    CHECK(a.get("threads") == "8");
  }
}

TEST_CASE("a list key: the highest layer with any value replaces the others", "[server][config]") {
  CleanEnv clean;
  testenv::TempDir dir;
  const auto conf =
      write_file(dir.path() / "r.conf", "listen = 127.0.0.1:1\nthreads = 2\nlisten = [::1]:2\n");
  using V = std::vector<std::string>;
  CHECK(parse({}).all("listen").empty());
  {
    const auto a = parse({"--config", conf});
    CHECK(a.all("listen") == V{"127.0.0.1:1", "[::1]:2"});
    REQUIRE(a.settings("listen").size() == 2);
    CHECK(a.settings("listen")[1].where == "config " + conf + ":3");
  }
  ScopedEnv env("REVIEWSD_LISTEN", "0.0.0.0:3");
  CHECK(parse({"--config", conf}).all("listen") == V{"0.0.0.0:3"});
  CHECK(
      parse({"--config", conf, "--listen", "127.0.0.1:4", "--listen=127.0.0.1:5"}).all("listen") ==
      V{"127.0.0.1:4", "127.0.0.1:5"});
}

TEST_CASE("the config file comes from --config, else REVIEWSD_CONFIG; '' reads none",
          "[server][config]") {
  CleanEnv clean;
  testenv::TempDir dir;
  const auto a_conf = write_file(dir.path() / "a.conf", "threads = 11\n");
  const auto b_conf = write_file(dir.path() / "b.conf", "threads = 12\n");
  ScopedEnv env("REVIEWSD_CONFIG", b_conf);
  CHECK(parse({}).get("threads") == "12");
  CHECK(parse({"--config", a_conf}).get("threads") == "11");
  CHECK(parse({"--config="}).get("threads") == std::nullopt);
  // Subcommands without a config file ignore REVIEWSD_CONFIG, and reject --config.
  CHECK(usage_error([] { (void)parse({}, server::migrate_spec()); }).empty());
  CHECK(usage_error([&] {
          (void)parse({"--config", a_conf}, server::migrate_spec());
        }) == "unknown option --config");
}

TEST_CASE("file syntax: comments, blanks, '#' and '=' inside values, CRLF, BOM",
          "[server][config]") {
  CleanEnv clean;
  testenv::TempDir dir;
  const auto conf = write_file(dir.path() / "r.conf",
                               "\xEF\xBB\xBF# reviewsd\n"
                               "   # indented comment\n"
                               "\t\n"
                               "db = host=/run/pg password=a#b=c \r\n"
                               "cors-origin =\n"
                               "debug-routes=true\n"
                               "no-pipeline = false\n"
                               "log-level\t=\twarn");  // no final newline
  const auto a = parse({"--config", conf});
  CHECK(a.get("db") == "host=/run/pg password=a#b=c");
  CHECK(a.get("cors-origin") == "");
  CHECK(a.flag("debug-routes"));
  CHECK_FALSE(a.flag("no-pipeline"));
  CHECK(a.get("log-level") == "warn");
  CHECK(a.where("log-level") == "config " + conf + ":8");
}

TEST_CASE("flags: --flag, --flag=false over a file's true, true/false in the environment",
          "[server][config]") {
  CleanEnv clean;
  testenv::TempDir dir;
  const auto conf = write_file(dir.path() / "r.conf", "debug-routes = true\n");
  CHECK_FALSE(parse({}).flag("debug-routes"));
  CHECK(parse({"--debug-routes"}).flag("debug-routes"));
  CHECK(parse({"--config", conf}).flag("debug-routes"));
  CHECK_FALSE(parse({"--config", conf, "--debug-routes=false"}).flag("debug-routes"));
  {
    ScopedEnv env("REVIEWSD_DEBUG_ROUTES", "false");
    CHECK_FALSE(parse({"--config", conf}).flag("debug-routes"));
  }
  {
    ScopedEnv env("REVIEWSD_NO_PIPELINE", "yes");
    CHECK(usage_error([] { (void)parse({}); }) ==
          "no-pipeline (env REVIEWSD_NO_PIPELINE): 'yes' is not true or false");
  }
  CHECK(usage_error([] { (void)parse({"--debug-routes=1"}); }) ==
        "--debug-routes: '1' is not true or false");
  CHECK(usage_error([] { (void)parse({"--check-config=yes"}); }) ==
        "--check-config takes no value");
}

TEST_CASE("the command line: the first occurrence of a single-valued option counts",
          "[server][config]") {
  CleanEnv clean;
  const auto a = parse({"--threads", "1", "--threads", "2"});
  CHECK(a.get("threads") == "1");
  CHECK(usage_error([] { (void)parse({"--threads"}); }) == "--threads needs a value");
  CHECK(usage_error([] { (void)parse({"--nope", "1"}); }) == "unknown option --nope");
  CHECK(usage_error([] { (void)parse({"serve"}); }) == "unexpected argument 'serve'");
}

TEST_CASE("unknown REVIEWSD_* variables are ignored", "[server][config]") {
  CleanEnv clean;
  ScopedEnv a("REVIEWSD_NO_SUCH_OPTION", "1");
  ScopedEnv b("REVIEWSD_TEST_PG_DIR", "/nowhere");
  CHECK(usage_error([] { (void)parse({}); }).empty());
}

TEST_CASE("file errors name the file, the line, the key and the reason", "[server][config]") {
  CleanEnv clean;
  testenv::TempDir dir;
  const auto err = [&](const std::string& text) {
    const auto conf = write_file(dir.path() / "r.conf", text);
    return usage_error([&] { (void)parse({"--config", conf}); });
  };
  const std::string f = "config " + (dir.path() / "r.conf").string();
  CHECK(err("threads = 2\nthread = 3\n") == f + ":2: unknown key 'thread'");
  CHECK(err("--threads = 2\n") == f + ":1: unknown key '--threads'");
  CHECK(err("check-config = true\n") == f + ":1: unknown key 'check-config'");
  CHECK(err("config = /etc/x\n") == f + ":1: `config` cannot be set in a config file");
  CHECK(err("\nthreads 4\n") == f + ":2: expected `key = value`, got 'threads 4'");
  CHECK(err("= 4\n") == f + ":1: a line with no key before '='");
  CHECK(
      err("threads = 2\n# again\nthreads = 3\n") ==
      f + ":3: threads given twice (first on line 1); only list keys (listen, replica) may repeat");
  CHECK(err("debug-routes = on\n") == "debug-routes (" + f + ":1): 'on' is not true or false");
  // Value errors surface when the value is read, with the same location.
  const auto conf = write_file(dir.path() / "v.conf", "cache-mb = 1\nthreads = abc\n");
  const auto a = parse({"--config", conf});
  CHECK(usage_error([&] { (void)a.get_int("threads", 0, 0, 1024); }) ==
        "threads (config " + conf + ":2): 'abc' is not an integer in 0..1024");
}

TEST_CASE("an unreadable config file is refused", "[server][config]") {
  CleanEnv clean;
  testenv::TempDir dir;
  const auto missing = (dir.path() / "missing.conf").string();
  CHECK(usage_error([&] {
          (void)parse({"--config", missing});
        }) == "config " + missing + ": cannot read: No such file or directory");
  const auto directory = dir.path().string();
  CHECK(usage_error([&] {
          (void)parse({"--config", directory});
        }) == "config " + directory + ": cannot read: Is a directory");
}

TEST_CASE("--help ignores the environment and a broken config file", "[server][config]") {
  CleanEnv clean;
  ScopedEnv env("REVIEWSD_CONFIG", "/nonexistent/reviewsd.conf");
  ScopedEnv bad("REVIEWSD_DEBUG_ROUTES", "maybe");
  CHECK(usage_error([] { CHECK(parse({"--help"}).flag("help")); }).empty());
  CHECK(usage_error([] { CHECK(parse({"-h"}).flag("help")); }).empty());
  CHECK_FALSE(usage_error([] { (void)parse({}); }).empty());
}

TEST_CASE("the ad-hoc constructor still layers flags over the environment", "[server][config]") {
  ScopedEnv env("REVIEWSD_ZZ_TEST_KEY", "from-env");
  std::string a0 = "--zz-test-flag";
  char* argv[] = {a0.data()};
  const Args a(1, argv, {"zz-test-key"}, {"zz-test-flag"});
  CHECK(a.get("zz-test-key") == "from-env");
  CHECK(a.flag("zz-test-flag"));
  CHECK(a.required("zz-test-key") == "from-env");
  const Args none(0, argv, {"zz-other"}, {});
  CHECK(usage_error([&] { (void)none.required("zz-other"); }) == "--zz-other is required");
}

TEST_CASE("--help of every subcommand lists every option", "[server][config]") {
  for (const auto* spec : {&server::serve_spec(), &server::demo_spec(), &server::migrate_spec(),
                           &server::gen_spec(), &server::load_spec(), &server::sql_spec()}) {
    INFO(spec->name);
    const std::string help = server::help_text(*spec);
    CHECK(help.rfind("usage: reviewsd " + spec->name, 0) == 0);
    CHECK(help.find("  --help ") != std::string::npos);
    CHECK((help.find("  --config FILE") != std::string::npos) == spec->config_file);
    for (const auto& o : spec->options) CHECK(help.find("  --" + o.name) != std::string::npos);
  }
  CHECK(server::serve_spec().config_file);
  CHECK(server::demo_spec().config_file);
  // demo passes serve's options on, except its database.
  for (const auto& o : server::serve_spec().options) {
    const bool in_demo = server::demo_spec().find(o.name) != nullptr;
    CHECK(in_demo == (o.name != "db" && o.name != "replica" && o.name != "check-config"));
  }
}

// --- logs ----------------------------------------------------------------------------------------

TEST_CASE("log levels parse and name", "[server][log]") {
  CHECK(server::parse_log_level("error") == server::LogLevel::Error);
  CHECK(server::parse_log_level("warn") == server::LogLevel::Warn);
  CHECK(server::parse_log_level("warning") == server::LogLevel::Warn);
  CHECK(server::parse_log_level("info") == server::LogLevel::Info);
  CHECK(server::parse_log_level("debug") == server::LogLevel::Debug);
  CHECK_FALSE(server::parse_log_level("INFO"));
  CHECK(server::log_level_name(server::LogLevel::Warn) == "warn");
}

TEST_CASE("a rate limit lets one line through per interval and counts the others",
          "[server][log]") {
  server::LogRateLimit limit(std::chrono::milliseconds(20));
  std::uint64_t suppressed = 99;
  REQUIRE(limit.allow(suppressed));
  CHECK(suppressed == 0);
  // Usually all refused; a stalled machine may let one through, which restarts the count.
  std::uint64_t refused = 0;
  for (int i = 0; i < 5; ++i) refused = limit.allow(suppressed) ? 0 : refused + 1;
  std::this_thread::sleep_for(30ms);  // past the interval, whatever happened above
  suppressed = 99;
  REQUIRE(limit.allow(suppressed));
  CHECK(suppressed == refused);
}

TEST_CASE("the access log: one logfmt line per request, flushed at the end of the iteration",
          "[server][log]") {
  testenv::TempDir dir;
  const auto path = dir.path() / "access.log";
  CHECK_FALSE(server::AccessLog::enabled());
  server::AccessLog::open(path.string());
  REQUIRE(server::AccessLog::enabled());
  server::Reactor reactor(0);
  std::string seen_before_flush = "unset";
  reactor.post([&] {
    server::AccessLog::record(reactor, "GET", "/reviews?product_id=2", 200, 1536, 412,
                              "127.0.0.1:41234");
    server::AccessLog::record(reactor, "POST", "/a\"b\\c\x01", 201, 0, 7, "");
    server::AccessLog::record(reactor, "GET", std::string(5000, 'x'), 414, 10, 1, "[::1]:9");
    seen_before_flush = read_file(path);  // nothing written yet: one write per iteration
    reactor.stop();
  });
  reactor.run();
  server::AccessLog::close();
  CHECK_FALSE(server::AccessLog::enabled());
  CHECK(seen_before_flush.empty());
  const std::string text = read_file(path);
  std::istringstream lines(text);
  std::string l1, l2, l3;
  std::getline(lines, l1);
  std::getline(lines, l2);
  std::getline(lines, l3);
  const std::regex first(
      "ts=\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ peer=127\\.0\\.0\\.1:41234 method=GET "
      "target=\"/reviews\\?product_id=2\" status=200 bytes=1536 us=412");
  CHECK(std::regex_match(l1, first));
  CHECK(l2.find(" peer=- method=POST target=\"/a\\\"b\\\\c\\x01\" status=201 bytes=0 us=7") !=
        std::string::npos);
  CHECK(l3.find("target=\"" + std::string(server::AccessLog::kMaxTarget, 'x') + "...\"") !=
        std::string::npos);
  CHECK(l3.size() < 2200);
}

// --- the binary ----------------------------------------------------------------------------------

TEST_CASE("reviewsd --version and reviewsd version", "[server][config][binary]") {
  for (const char* v : {"--version", "version"}) {
    const auto r = reviewsd({v});
    CHECK(r.status == 0);
    CHECK(std::regex_match(r.out, std::regex("reviewsd [0-9]+\\.[0-9]+\\.[0-9]+\n")));
  }
}

TEST_CASE("every subcommand has --help, exit 0, listing every option", "[server][config][binary]") {
  CleanEnv clean;
  for (const auto* spec : {&server::serve_spec(), &server::demo_spec(), &server::migrate_spec(),
                           &server::gen_spec(), &server::load_spec(), &server::sql_spec()}) {
    INFO(spec->name);
    for (const char* h : {"--help", "-h"}) {
      const auto r = reviewsd({spec->name, h});
      CHECK(r.status == 0);
      CHECK(r.out == server::help_text(*spec));
      for (const auto& o : spec->options) CHECK(r.out.find("--" + o.name) != std::string::npos);
    }
  }
  const auto top = reviewsd({"--help"});
  CHECK(top.status == 0);
  CHECK(top.out.find("--version") != std::string::npos);
}

TEST_CASE("serve refuses bad configuration with exit 2, naming the key and where it came from",
          "[server][config][binary]") {
  CleanEnv clean;
  testenv::TempDir dir;
  const auto run_with = [&](const std::string& text, std::vector<std::string> more = {}) {
    const auto conf = write_file(dir.path() / "bad.conf", text);
    std::vector<std::string> args{"serve", "--config", conf, "--check-config"};
    args.insert(args.end(), more.begin(), more.end());
    return reviewsd(args);
  };
  const std::string f = (dir.path() / "bad.conf").string();
  struct Case {
    std::string file;
    std::string error;
  };
  const std::vector<Case> cases{
      {"threads = 2\nbogus-key = 1\n", "config " + f + ":2: unknown key 'bogus-key'"},
      {"threads = abc\n", "threads (config " + f + ":1): 'abc' is not an integer in 0..1024"},
      {"threads = -1\n", "threads (config " + f + ":1): '-1' is not an integer in 0..1024"},
      {"cache-mb = 12\ncache-mb = 13\n", "config " + f + ":2: cache-mb given twice"},
      {"listen = localhost\n", "listen (config " + f + ":1): wants HOST:PORT, got 'localhost'"},
      {"listen = 127.0.0.1:99999\n", "listen (config " + f + ":1): bad port"},
      {"log-level = loud\n", "log-level (config " + f + ":1): 'loud' is not error, warn"},
      {"replica =\n", "replica (config " + f + ":1): empty conninfo"},
  };
  for (const auto& c : cases) {
    INFO(c.file);
    const auto r = run_with(c.file);
    INFO(r.err);
    CHECK(r.status == 2);
    CHECK(r.out.empty());
    CHECK(r.err.find("reviewsd serve: " + c.error) == 0);
  }
  {
    const auto r = reviewsd({"serve", "--config", (dir.path() / "none.conf").string()});
    CHECK(r.status == 2);
    CHECK(r.err.find(": cannot read: No such file or directory") != std::string::npos);
  }
  {
    ScopedEnv env("REVIEWSD_MAX_PIPELINE", "0");
    const auto r = reviewsd({"serve", "--check-config"});
    CHECK(r.status == 2);
    CHECK(r.err ==
          "reviewsd serve: max-pipeline (env REVIEWSD_MAX_PIPELINE): '0' is not an "
          "integer in 1..1024\n");
  }
  {
    const auto r = reviewsd({"serve", "--threads", "x"});
    CHECK(r.status == 2);
    CHECK(r.err == "reviewsd serve: --threads: 'x' is not an integer in 0..1024\n");
  }
  {
    // Not --check-config: the log file is opened at start, and a bad path is a config error.
    const auto r = reviewsd({"serve", "--listen", "127.0.0.1:0", "--log-file",
                             (dir.path() / "no-such-dir" / "x.log").string()});
    CHECK(r.status == 2);
    CHECK(r.err.find("reviewsd serve: --log-file: cannot open: No such file or directory") == 0);
  }
  {
    // demo checks serve's options before it creates anything.
    const auto r = reviewsd({"demo", "--dir", (dir.path() / "demo").string(), "--threads", "-3"});
    CHECK(r.status == 2);
    CHECK(r.err == "reviewsd demo: --threads: '-3' is not an integer in 0..1024\n");
    CHECK_FALSE(fs::exists(dir.path() / "demo"));
  }
}

TEST_CASE(
    "serve --check-config prints the effective configuration, secrets masked, and binds "
    "nothing",
    "[server][config][binary]") {
  CleanEnv clean;
  testenv::TempDir dir;
  // A port held by a socket without SO_REUSEPORT: serve could not bind it.
  const int holder = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(holder >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(holder, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(::listen(holder, 1) == 0);
  socklen_t len = sizeof a;
  REQUIRE(::getsockname(holder, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  const std::string held = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));

  const auto conf = write_file(dir.path() / "r.conf",
                               "# deploy\n"
                               "listen = " +
                                   held +
                                   "\n"
                                   "threads = 3\n"
                                   "cache-mb = 64\n"
                                   "db = host=/nonexistent port=1 user=r password=secret dbname=r\n"
                                   "replica = postgresql://r:hunter2@replica.invalid/r\n"
                                   "debug-routes = true\n");
  ScopedEnv env("REVIEWSD_CACHE_MB", "32");
  const auto r = reviewsd({"serve", "--config", conf, "--check-config", "--threads", "5"});
  INFO(r.err);
  REQUIRE(r.status == 0);
  CHECK(r.err.empty());
  const std::string& out = r.out;
  INFO(out);
  CHECK(out.find("# config file: " + conf + "\n") != std::string::npos);
  CHECK(out.find("# --threads\nthreads = 5\n") != std::string::npos);
  CHECK(out.find("# env REVIEWSD_CACHE_MB\ncache-mb = 32\n") != std::string::npos);
  CHECK(out.find("# config " + conf + ":2\nlisten = " + held + "\n") != std::string::npos);
  CHECK(out.find("# config " + conf + ":7\ndebug-routes = true\n") != std::string::npos);
  CHECK(out.find("# default\nmax-pipeline = 32\n") != std::string::npos);
  CHECK(out.find("# default\nlog-level = info\n") != std::string::npos);
  CHECK(out.find("# default\naccess-log =\n") != std::string::npos);  // empty: off
  CHECK(out.find("db = host=/nonexistent port=1 user=r password=***** dbname=r\n") !=
        std::string::npos);
  CHECK(out.find("replica = postgresql://r:*****@replica.invalid/r\n") != std::string::npos);
  CHECK(out.find("secret") == std::string::npos);
  CHECK(out.find("hunter2") == std::string::npos);
  // Every option appears as a `key = value` line or a "none" comment.
  for (const auto& o : server::serve_spec().options) {
    if (o.kind == server::OptionKind::Action) continue;
    CHECK((out.find("\n" + o.name + " =") != std::string::npos ||
           out.find("# " + o.name + ": none") != std::string::npos));
  }

  // The output is itself a valid config file meaning the same (secrets aside).
  std::string again_text;
  std::istringstream in(out);
  for (std::string l; std::getline(in, l);) {
    if (l.rfind("db = ", 0) == 0 || l.rfind("replica = ", 0) == 0) continue;
    again_text += l + "\n";
  }
  const auto again_conf = write_file(dir.path() / "again.conf", again_text);
  ScopedEnv no_env("REVIEWSD_CACHE_MB", std::nullopt);
  const auto again = reviewsd({"serve", "--config", again_conf, "--check-config"});
  INFO(again.err);
  REQUIRE(again.status == 0);
  CHECK(again.out.find("threads = 5\n") != std::string::npos);
  CHECK(again.out.find("cache-mb = 32\n") != std::string::npos);
  ::close(holder);
}

namespace {

// `reviewsd serve` with its stdout and stderr in `out`, killed at the end of the scope.
class Spawned {
 public:
  Spawned(std::vector<std::string> args, const fs::path& out) {
    args.insert(args.begin(), {testenv::reviewsd_bin().string(), "serve"});
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      const int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
  }
  ~Spawned() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  Spawned(const Spawned&) = delete;
  Spawned& operator=(const Spawned&) = delete;
  [[nodiscard]] pid_t pid() const { return pid_; }
  // SIGTERM and wait (bounded); the exit status, or -1.
  int stop() {
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 500; ++i) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(20ms);
    }
    return -1;
  }

 private:
  pid_t pid_ = -1;
};

// Waits (up to 10 s) until `path` exists and matches `re`; returns the first group or "".
std::string wait_for(const fs::path& path, const std::regex& re) {
  for (int i = 0; i < 500; ++i) {
    std::smatch m;
    const std::string text = read_file(path);
    if (std::regex_search(text, m, re)) return m.size() > 1 ? m[1].str() : m[0].str();
    std::this_thread::sleep_for(20ms);
  }
  return {};
}

}  // namespace

TEST_CASE("--log-file: lines go to the file; SIGHUP reopens it (and the access log) by name",
          "[server][log][binary]") {
  CleanEnv clean;
  testenv::TempDir dir;
  const auto log = dir.path() / "reviewsd.log";
  const auto access = dir.path() / "access.log";
  const auto console = dir.path() / "console.txt";
  Spawned srv({"--listen", "127.0.0.1:0", "--threads", "2", "--log-file", log.string(),
               "--access-log", access.string(), "--log-level", "info"},
              console);
  const std::string port =
      wait_for(log, std::regex("level=info msg=\"listening on 127\\.0\\.0\\.1:([0-9]+)"));
  INFO(read_file(log));
  INFO(read_file(console));
  REQUIRE_FALSE(port.empty());
  CHECK(fs::exists(access));
  // Lines are logfmt with a timestamp (stderr is not journald here).
  CHECK(std::regex_search(read_file(log),
                          std::regex("(^|\n)ts=\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z "
                                     "level=info msg=\"listening on ")));
  CHECK(read_file(console).empty());  // stderr itself went to the log file

  // logrotate: move the files away, then SIGHUP.
  fs::rename(log, dir.path() / "reviewsd.log.1");
  fs::rename(access, dir.path() / "access.log.1");
  REQUIRE(::kill(srv.pid(), SIGHUP) == 0);
  CHECK_FALSE(wait_for(log, std::regex("SIGHUP: reopened the access log")).empty());
  const std::string fresh = read_file(log);
  CHECK(fresh.find("msg=\"SIGHUP: reopened the log file\" file=" + log.string()) !=
        std::string::npos);
  CHECK(fs::exists(access));
  CHECK(read_file(dir.path() / "reviewsd.log.1").find("SIGHUP") == std::string::npos);

  // Still serving, and later lines land in the new file.
  testenv::HttpClient c(static_cast<std::uint16_t>(std::stoi(port)));
  CHECK(c.request("GET", "/healthz").status == 200);
  CHECK(srv.stop() == 0);
  CHECK(read_file(log).find("msg=\"stopped\"") != std::string::npos);
}

TEST_CASE("--log-level warn hides info lines", "[server][log][binary]") {
  CleanEnv clean;
  testenv::TempDir dir;
  // No "listening on" line at this level to learn the port from: pick a free one.
  const int probe = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(probe >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(probe, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  REQUIRE(::getsockname(probe, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  const auto port = ntohs(a.sin_port);
  ::close(probe);

  const auto log = dir.path() / "quiet.log";
  Spawned srv({"--listen", "127.0.0.1:" + std::to_string(port), "--threads", "1", "--log-file",
               log.string(), "--log-level", "warn"},
              dir.path() / "console.txt");
  bool up = false;
  for (int i = 0; i < 500 && !up; ++i) {
    try {
      testenv::HttpClient c(port);
      up = c.request("GET", "/healthz").status == 200;
    } catch (const std::runtime_error&) {
      std::this_thread::sleep_for(20ms);
    }
  }
  REQUIRE(up);
  CHECK(srv.stop() == 0);
  CHECK(fs::exists(log));
  CHECK(read_file(log).find("level=info") == std::string::npos);
}
