// What tests need from their environment: the reviewsd binary, the fixtures, the private
// PostgreSQL cluster of the `pg` CTest fixture, temporary databases and directories, and
// running a command with a time limit.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace testenv {

// Socket-name port of the test cluster (unix socket only: no TCP port is taken).
inline constexpr int kTestPgPort = 5499;

std::filesystem::path reviewsd_bin();  // $REVIEWSD_BIN
std::filesystem::path fixtures_dir();  // $REVIEWSD_FIXTURES
std::filesystem::path pg_dir();        // $REVIEWSD_TEST_PG_DIR
// conninfo for `dbname` on the test cluster.
std::string pg_conninfo(const std::string& dbname = "postgres");

// A database of its own for one test, created empty and dropped (with its connections) at
// destruction.
class TempDatabase {
 public:
  TempDatabase();
  ~TempDatabase();
  TempDatabase(const TempDatabase&) = delete;
  TempDatabase& operator=(const TempDatabase&) = delete;
  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] std::string conninfo() const { return pg_conninfo(name_); }

 private:
  std::string name_;
};

// A directory under /tmp removed with its contents at destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

struct CommandResult {
  int status = -1;  // exit status, 128+signal, or -1 when killed at the time limit
  std::string out;
  std::string err;
};

// Runs argv[0] with argv, stdin from /dev/null; kills it (SIGKILL) past `limit`.
CommandResult run(const std::vector<std::string>& argv,
                  std::chrono::milliseconds limit = std::chrono::seconds(120));

// Loads the real sample (fixtures/atelier-sample) into `conninfo` with `reviewsd load`; throws
// std::runtime_error with the command's stderr if it fails.
void load_sample(const std::string& conninfo);

// Single value of a query on `conninfo` (test helper; throws on error).
std::string sql_value(const std::string& conninfo, const std::string& sql);

// The environment a process started with, one "NAME=value" per entry, as /proc shows it (empty
// when the process is gone or not ours to read).
std::vector<std::string> environment_of(int pid);
// Whether one entry of `vars` starts with `prefix` (for example "NOTIFY_SOCKET=").
bool has_var(const std::vector<std::string>& vars, const std::string& prefix);

// Sets (or, with nullopt, unsets) an environment variable for one scope, then restores what
// was there. Not thread-safe: set it while no other thread of the test reads the environment.
class ScopedEnv {
 public:
  ScopedEnv(std::string name, const std::optional<std::string>& value);
  ~ScopedEnv();
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
  std::optional<std::string> old_;
};

}  // namespace testenv
