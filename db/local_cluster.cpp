#include "db/local_cluster.h"

#include "db/pg.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string_view>

namespace db {

namespace fs = std::filesystem;

namespace {

// uid/gid to run PostgreSQL as: ourselves unless we are root.
struct Owner {
  bool switch_user = false;
  uid_t uid = 0;
  gid_t gid = 0;
};

Owner cluster_owner() {
  Owner o;
  if (geteuid() != 0) return o;
  const passwd* pw = getpwnam("postgres");
  if (!pw)
    throw std::runtime_error(
        "running as root, but there is no `postgres` OS user to run PostgreSQL as");
  o.switch_user = true;
  o.uid = pw->pw_uid;
  o.gid = pw->pw_gid;
  return o;
}

void chown_tree(const fs::path& p, const Owner& o) {
  if (!o.switch_user) return;
  if (::chown(p.c_str(), o.uid, o.gid) != 0) {
    throw std::runtime_error(fmt::format("chown {}: {}", p.string(), std::strerror(errno)));
  }
  if (fs::is_directory(p)) {
    for (const auto& e : fs::recursive_directory_iterator(p)) {
      if (::lchown(e.path().c_str(), o.uid, o.gid) != 0) {
        throw std::runtime_error(
            fmt::format("chown {}: {}", e.path().string(), std::strerror(errno)));
      }
    }
  }
}

std::string tail_of(const fs::path& log, std::size_t max_lines = 15) {
  std::ifstream in(log);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  std::string out;
  const std::size_t from = lines.size() > max_lines ? lines.size() - max_lines : 0;
  for (std::size_t i = from; i < lines.size(); ++i) out += "\n  " + lines[i];
  return out;
}

}  // namespace

LocalCluster::LocalCluster(LocalClusterOptions opts) : opts_(std::move(opts)) {
  opts_.dir = fs::absolute(opts_.dir);
}

fs::path LocalCluster::bindir() {
  if (const char* env = std::getenv("REVIEWSD_PG_BINDIR"); env && *env) return env;
  std::vector<fs::path> found;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    if (fs::exists(e.path() / "bin" / "initdb")) found.push_back(e.path() / "bin");
  }
  if (found.empty()) {
    throw std::runtime_error(
        "no PostgreSQL server binaries in /usr/lib/postgresql/*/bin (install postgresql-15, "
        "or set REVIEWSD_PG_BINDIR)");
  }
  std::sort(found.begin(), found.end(), [](const fs::path& a, const fs::path& b) {
    return std::stoi(a.parent_path().filename().string()) <
           std::stoi(b.parent_path().filename().string());
  });
  return found.back();
}

int LocalCluster::run_pg(const std::string& program, const std::vector<std::string>& args,
                         const fs::path& log) const {
  const Owner owner = cluster_owner();
  const std::string exe = (bindir() / program).string();
  std::vector<std::string> argv_store{exe};
  argv_store.insert(argv_store.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_store) argv.push_back(a.data());
  argv.push_back(nullptr);
  // The environment is made here, not in the child (setenv after fork in a threaded process is
  // not safe). PostgreSQL speaks sd_notify itself: under systemd (`reviewsd demo` in a unit) it
  // would send READY=1 and STOPPING=1 for the unit whose main process we are, so NOTIFY_SOCKET
  // is left out; HOME is the cluster's directory when it runs as another user.
  std::vector<std::string> env_store;
  for (char** e = environ; *e; ++e) {
    const std::string_view var(*e);
    if (var.starts_with("NOTIFY_SOCKET=") || (owner.switch_user && var.starts_with("HOME=")))
      continue;
    env_store.emplace_back(var);
  }
  if (owner.switch_user) env_store.push_back("HOME=" + opts_.dir.string());
  std::vector<char*> envp;
  for (auto& e : env_store) envp.push_back(e.data());
  envp.push_back(nullptr);

  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error(fmt::format("fork: {}", std::strerror(errno)));
  if (pid == 0) {
    // Child: own process group so a Ctrl-C aimed at us is handled by us, not by PostgreSQL.
    ::setpgid(0, 0);
    // A caller that blocks signals for its signalfd must not hand that mask to PostgreSQL.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    const int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    if (owner.switch_user) {
      if (::setgroups(0, nullptr) != 0 || ::setgid(owner.gid) != 0 || ::setuid(owner.uid) != 0) {
        ::_exit(126);
      }
    }
    ::execve(exe.c_str(), argv.data(), envp.data());
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

bool LocalCluster::init_if_missing() {
  if (fs::exists(data_dir() / "PG_VERSION")) return false;
  const Owner owner = cluster_owner();
  fs::create_directories(opts_.dir);
  fs::create_directories(socket_dir());
  if (owner.switch_user) {
    // The postgres user must be able to reach the directory from /.
    for (fs::path p = opts_.dir; p != p.root_path(); p = p.parent_path()) {
      struct stat st {};
      if (::stat(p.c_str(), &st) == 0 && (st.st_mode & S_IXOTH) == 0 && st.st_uid != owner.uid) {
        throw std::runtime_error(fmt::format(
            "{} is not searchable by the `postgres` user that PostgreSQL must run as (we are "
            "root); choose a directory outside it",
            p.string()));
      }
    }
  }
  chown_tree(opts_.dir, owner);
  const fs::path log = opts_.dir / "initdb.log";
  const int rc = run_pg("initdb",
                        {"-D", data_dir().string(), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                         "--locale=C", "--no-sync"},
                        log);
  if (rc != 0) {
    throw std::runtime_error(
        fmt::format("initdb failed (exit {}), log {}:{}", rc, log.string(), tail_of(log)));
  }
  std::ofstream conf(data_dir() / "postgresql.conf", std::ios::app);
  conf << "\n# reviewsd private cluster\n"
       << "listen_addresses = '" << (opts_.listen_tcp ? "127.0.0.1" : "") << "'\n"
       << "port = " << opts_.port << "\n"
       << "unix_socket_directories = '" << socket_dir().string() << "'\n"
       << "max_connections = 200\n"
       << "shared_buffers = 256MB\n"
       << "maintenance_work_mem = 512MB\n"
       << "max_wal_size = 4GB\n"
       << "logging_collector = off\n";
  if (!opts_.durable) {
    conf << "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n";
  }
  for (const auto& s : opts_.extra_settings) conf << s << "\n";
  conf.close();
  chown_tree(data_dir() / "postgresql.conf", owner);
  return true;
}

bool LocalCluster::running() const {
  std::ifstream pidfile(data_dir() / "postmaster.pid");
  long pid = 0;
  if (!(pidfile >> pid) || pid <= 0) return false;
  return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

void LocalCluster::start() {
  if (running()) return;
  const Owner owner = cluster_owner();
  fs::create_directories(socket_dir());
  chown_tree(socket_dir(), owner);
  const fs::path log = opts_.dir / "server.log";
  if (!fs::exists(log)) {
    std::ofstream{log};
    chown_tree(log, owner);
  }
  const int rc = run_pg(
      "pg_ctl", {"-D", data_dir().string(), "-l", log.string(), "-w", "-t", "60", "-s", "start"},
      opts_.dir / "pg_ctl.log");
  if (rc != 0) {
    throw std::runtime_error(fmt::format("PostgreSQL did not start (pg_ctl exit {}), log {}:{}", rc,
                                         log.string(), tail_of(log)));
  }
}

void LocalCluster::stop() noexcept {
  try {
    if (!running()) return;
    run_pg("pg_ctl", {"-D", data_dir().string(), "-m", "fast", "-w", "-t", "60", "-s", "stop"},
           opts_.dir / "pg_ctl.log");
  } catch (...) {
    // stop() runs from destructors and cleanup paths: it reports nothing and never throws.
  }
}

void LocalCluster::crash() noexcept {
  try {
    if (!running()) return;
    run_pg("pg_ctl", {"-D", data_dir().string(), "-m", "immediate", "-w", "-t", "60", "-s", "stop"},
           opts_.dir / "pg_ctl.log");
  } catch (...) {
  }
}

std::string LocalCluster::conninfo(const std::string& dbname) const {
  return fmt::format("host={} port={} user=postgres dbname={}",
                     conninfo_quote(socket_dir().string()), opts_.port, conninfo_quote(dbname));
}

}  // namespace db
