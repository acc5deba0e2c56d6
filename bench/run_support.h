// What `reviewsd-bench run` needs around the load generator: child processes it owns by pid
// (stopped on every exit path), Ctrl-C/SIGTERM as a flag, free loopback ports and who listens
// on them, and editing the fields of a JSON result. (Readiness probes use bench::http_get.)
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace bench::run {

// Thrown when SIGINT/SIGTERM arrived: unwinding stops whatever was started.
struct Interrupted {};

// SIGINT and SIGTERM set a flag instead of killing us (installed once).
void install_stop_handlers();
bool stop_requested();
// Throws Interrupted when a stop was requested.
void check_stop();
// Sleeps up to `d`, returning early (and throwing Interrupted) on a stop request.
void sleep_for(std::chrono::milliseconds d);

struct SpawnOptions {
  std::filesystem::path stdout_file;  // empty: inherit ours
  std::filesystem::path stderr_file;  // empty: inherit ours
  bool append = false;                // append to the files instead of truncating them
  bool stdout_to_stderr = false;      // the child's stdout goes to our stderr (progress)
};

// A child process we started, in a process group of its own (so that a Ctrl-C on the
// terminal reaches us, not it; and so that stopping it reaches the processes it forked, such
// as nginx's workers) and with PR_SET_PDEATHSIG SIGTERM (it goes if we die).
// The destructor stops it (SIGTERM, then SIGKILL after `grace`) unless it already ended.
class Child {
 public:
  Child() = default;
  Child(const std::vector<std::string>& argv, const SpawnOptions& opts, std::string name);
  ~Child() { stop(); }
  Child(Child&& other) noexcept { *this = std::move(other); }
  Child& operator=(Child&& other) noexcept;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  [[nodiscard]] pid_t pid() const { return pid_; }
  [[nodiscard]] const std::string& name() const { return name_; }
  // Non-blocking: the exit status if it ended (then the pid is forgotten).
  std::optional<int> poll();
  // Waits until it ends; past `limit` kills it and throws runtime_error; on a stop request
  // stops it and throws Interrupted. Returns the exit status (128+signal when killed).
  int wait(std::chrono::milliseconds limit);
  // SIGTERM (or `sig`) to its process group, up to `grace` for the child to end, then SIGKILL
  // to the group; once the child is reaped, SIGKILL to whatever of its group is left (a
  // worker whose master died). Returns the child's exit status, or -1 when it was not running.
  int stop(int sig = 15, std::chrono::milliseconds grace = std::chrono::seconds(10)) noexcept;

 private:
  pid_t pid_ = -1;
  std::string name_;
  int status_ = -1;
};

// Runs argv to completion within `limit` and returns (status, stdout and stderr).
std::pair<int, std::string> capture(const std::vector<std::string>& argv,
                                    std::chrono::milliseconds limit = std::chrono::seconds(30));

// A TCP port on 127.0.0.1 that was free a moment ago (bind to 0, read, close): someone else
// may take it before our server binds it, so check with only_group_listens() after the start.
int free_port();

// True when every TCP socket listening on `port` (IPv4 and IPv6, any address) belongs to a
// process of process group `pgid`, and there is at least one. False (and `error` set) when a
// process outside the group listens there too: with SO_REUSEPORT another server can share
// the port silently, and part of the load would go to it.
bool only_group_listens(int port, pid_t pgid, std::string& error);

// `json` (one object) with `fields` set: existing keys replaced in place, others added at
// the front. Values are JSON text ("\"nginx\"", "12"). Throws runtime_error on bad JSON.
std::string json_with_fields(const std::string& json,
                             const std::vector<std::pair<std::string, std::string>>& fields);

// The directory of the running executable.
std::filesystem::path self_dir();
// The first executable `name` in $PATH (or `extra` directories first); empty when none.
std::filesystem::path find_program(const std::string& name,
                                   const std::vector<std::filesystem::path>& extra = {});

}  // namespace bench::run
