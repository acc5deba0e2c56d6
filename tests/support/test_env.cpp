#include "support/test_env.h"

#include "db/pg.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <utility>

namespace testenv {

namespace fs = std::filesystem;

namespace {
fs::path env_path(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v)
    throw std::runtime_error(fmt::format("{} is not set: run the tests through ctest", name));
  return v;
}
}  // namespace

fs::path reviewsd_bin() { return env_path("REVIEWSD_BIN"); }
fs::path fixtures_dir() { return env_path("REVIEWSD_FIXTURES"); }
fs::path pg_dir() { return env_path("REVIEWSD_TEST_PG_DIR"); }

std::string pg_conninfo(const std::string& dbname) {
  return fmt::format("host={} port={} user=postgres dbname={}",
                     db::conninfo_quote((pg_dir() / "sock").string()), kTestPgPort,
                     db::conninfo_quote(dbname));
}

TempDatabase::TempDatabase() {
  static std::atomic<int> counter{0};
  name_ = fmt::format("t_{}_{}", ::getpid(), counter++);
  auto conn = db::connect(pg_conninfo());
  db::exec(conn.get(), fmt::format("DROP DATABASE IF EXISTS {}", name_));
  db::exec(conn.get(), fmt::format("CREATE DATABASE {}", name_));
}

TempDatabase::~TempDatabase() {
  try {
    auto conn = db::connect(pg_conninfo());
    db::exec(conn.get(), fmt::format("DROP DATABASE IF EXISTS {} WITH (FORCE)", name_));
  } catch (...) {
    // The cluster is torn down by the fixture anyway.
  }
}

TempDir::TempDir() {
  std::string tmpl = (fs::temp_directory_path() / "reviewsd-test-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
  // mkdtemp makes it 0700; a private PostgreSQL cluster inside runs as `postgres` when we are
  // root, and must be able to reach it.
  fs::permissions(path_, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                             fs::perms::others_read | fs::perms::others_exec);
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

CommandResult run(const std::vector<std::string>& argv, std::chrono::milliseconds limit) {
  int out_pipe[2];
  int err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe failed");
  }
  std::vector<std::string> store = argv;
  std::vector<char*> cargv;
  for (auto& a : store) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out_pipe[1], 1);
    ::dup2(err_pipe[1], 2);
    const int devnull = ::open("/dev/null", O_RDONLY);
    ::dup2(devnull, 0);
    ::execv(cargv[0], cargv.data());
    ::_exit(127);
  }
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  CommandResult res;
  const auto deadline = std::chrono::steady_clock::now() + limit;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  int open_fds = 2;
  bool killed = false;
  while (open_fds > 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      ::kill(pid, SIGKILL);
      killed = true;
      break;
    }
    if (::poll(fds, 2, static_cast<int>(left.count())) < 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[65536];
      const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        (i == 0 ? res.out : res.err).append(buf, static_cast<std::size_t>(n));
      } else {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (auto& f : fds) {
    if (f.fd >= 0) ::close(f.fd);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (killed) {
    res.status = -1;
  } else {
    res.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  return res;
}

void load_sample(const std::string& conninfo) {
  const auto r = run({reviewsd_bin().string(), "load", "--db", conninfo, "--from",
                      (fixtures_dir() / "atelier-sample").string(), "--quiet"});
  if (r.status != 0) throw std::runtime_error("loading the sample failed: " + r.err);
}

std::string sql_value(const std::string& conninfo, const std::string& sql) {
  auto conn = db::connect(conninfo);
  return db::query_value(conn.get(), sql);
}

std::vector<std::string> environment_of(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/environ", std::ios::binary);
  std::vector<std::string> vars;
  for (std::string var; std::getline(in, var, '\0');) vars.push_back(var);
  return vars;
}

bool has_var(const std::vector<std::string>& vars, const std::string& prefix) {
  for (const auto& v : vars)
    if (v.rfind(prefix, 0) == 0) return true;
  return false;
}

ScopedEnv::ScopedEnv(std::string name, const std::optional<std::string>& value)
    : name_(std::move(name)) {
  if (const char* old = std::getenv(name_.c_str())) old_ = old;
  if (value) {
    ::setenv(name_.c_str(), value->c_str(), 1);
  } else {
    ::unsetenv(name_.c_str());
  }
}

ScopedEnv::~ScopedEnv() {
  if (old_) {
    ::setenv(name_.c_str(), old_->c_str(), 1);
  } else {
    ::unsetenv(name_.c_str());
  }
}

}  // namespace testenv
