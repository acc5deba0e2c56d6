#include "server/server.h"

#include "server/access_log.h"
#include "server/log.h"
#include "server/socket.h"
#include "server/worker.h"

#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>

namespace server {

namespace {

// 10k+ connections need more than the usual soft limit of 1024 fds; the hard limit is ours.
void raise_fd_limit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    (void)::setrlimit(RLIMIT_NOFILE, &rl);
  }
}

// The client connections the fd limit leaves room for, after the server's own fds (limits.h);
// a limit too small for that headroom gives clients half of it.
std::size_t fd_connection_cap(unsigned threads) {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return SIZE_MAX;
  const std::size_t limit = rl.rlim_cur;
  const std::size_t own = limits::kFdsPerProcess + limits::kFdsPerReactor * threads;
  return limit > 2 * own ? limit - own : limit / 2;
}

// Blocks the signals we handle (threads started later inherit the mask) and returns a
// signalfd for them. SIGPIPE is ignored: a write to a reset socket must fail, not kill us.
int block_signals() {
  ::signal(SIGPIPE, SIG_IGN);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  if (pthread_sigmask(SIG_BLOCK, &set, nullptr) != 0)
    throw std::runtime_error("pthread_sigmask failed");
  const int fd = ::signalfd(-1, &set, SFD_CLOEXEC);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "signalfd");
  return fd;
}

// How often the main thread asks ReactorHooks::ready while it waits to send READY=1, and after
// how long it says in the log that it is waiting.
constexpr int kReadyPollMs = 20;
constexpr std::chrono::seconds kReadyWaitNotice{1};

// Waits for one of the handled signals, up to `timeout_ms` (-1: forever). Returns 0 on timeout.
int wait_signal(int sfd, int timeout_ms) {
  pollfd p{sfd, POLLIN, 0};
  const int r = ::poll(&p, 1, timeout_ms);
  if (r <= 0) return 0;
  signalfd_siginfo si{};
  if (::read(sfd, &si, sizeof si) != sizeof si) return 0;
  return static_cast<int>(si.ssi_signo);
}

// SIGHUP: logrotate has moved the log files away; open them again by name. A file that cannot
// be reopened keeps receiving the lines (we never lose the fd we have).
void reopen_logs() {
  const std::string log_file = log_file_path();
  const std::string access = AccessLog::path();
  if (log_file.empty() && (access.empty() || access == "-")) {
    log_write(LogLevel::Info, "SIGHUP: no log file to reopen");
    return;
  }
  if (!log_file.empty()) {
    if (const auto err = log_reopen(); err.empty()) {
      log_write(LogLevel::Info, "SIGHUP: reopened the log file", {{"file", log_file}});
    } else {
      log_write(LogLevel::Error, "SIGHUP: cannot reopen the log file, still writing to the old one",
                {{"file", log_file}, {"error", err}});
    }
  }
  if (!access.empty() && access != "-") {
    if (const auto err = AccessLog::reopen(); err.empty()) {
      log_write(LogLevel::Info, "SIGHUP: reopened the access log", {{"file", access}});
    } else {
      log_write(LogLevel::Error,
                "SIGHUP: cannot reopen the access log, still writing to the old one",
                {{"file", access}, {"error", err}});
    }
  }
}

}  // namespace

int run_server(const ServeOptions& requested, const Router& router, const ReactorHooks& hooks) {
  raise_fd_limit();
  const unsigned threads =
      requested.threads ? requested.threads : std::max(1u, std::thread::hardware_concurrency());
  // The workers' options: --max-connections as far as the fd limit allows.
  ServeOptions options = requested;
  if (const std::size_t cap = fd_connection_cap(threads); cap < options.max_connections) {
    // A default lowered to what the machine allows is how it should run, not a problem: the
    // unit raises LimitNOFILE, a shell's hard limit is often lower.
    log_at(options.max_connections_set ? LogLevel::Warn : LogLevel::Info,
           "max-connections lowered from {} to {}: the file limit (RLIMIT_NOFILE) leaves no room "
           "for more",
           options.max_connections, cap);
    options.max_connections = cap;
  }

  // Listeners are opened here, before any thread starts, so that a bad address fails startup
  // with a clear message and port 0 resolves to one port shared by every reactor.
  std::vector<std::vector<int>> fds(threads);
  std::vector<std::string> names;
  for (const auto& spec : options.listen) {
    ListenAddress where;
    try {
      where = parse_listen(spec);
    } catch (const std::invalid_argument& e) {
      throw std::runtime_error(e.what());
    }
    for (unsigned t = 0; t < threads; ++t) {
      int fd;
      try {
        fd = open_listener(where, limits::kListenBacklog);
      } catch (const std::system_error& e) {
        throw std::runtime_error("cannot listen on " + spec + ": " + e.code().message());
      }
      if (t == 0) {
        where = bound_address(fd);
        names.push_back(local_address(fd));
      }
      fds[t].push_back(fd);
    }
  }

  if (options.metrics) {
    options.metrics->set_route_names(router.route_patterns());
    if (hooks.on_metrics) hooks.on_metrics(*options.metrics);
  }
  const int sfd = block_signals();
  std::atomic<std::size_t> open_connections{0};
  std::vector<std::unique_ptr<Worker>> workers;
  for (unsigned t = 0; t < threads; ++t)
    workers.push_back(
        std::make_unique<Worker>(t, options, router, std::move(fds[t]), open_connections));

  std::mutex mu;
  std::condition_variable cv;
  unsigned listening = 0, finished = 0;
  std::vector<std::thread> pool;
  for (auto& w : workers) {
    pool.emplace_back([&, worker = w.get()] {
      try {
        worker->run([&] {
          if (hooks.on_start) hooks.on_start(worker->reactor());
          std::lock_guard lock(mu);
          ++listening;
          cv.notify_all();
        });
        if (hooks.on_stop) hooks.on_stop(worker->reactor());
      } catch (const std::exception& e) {
        log_error("reactor {} failed: {}", worker->reactor().index(), e.what());
        std::abort();  // a reactor that died takes its connections with it: fail loudly
      }
      std::lock_guard lock(mu);
      ++finished;
      cv.notify_all();
    });
  }
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return listening == threads; });
  }
  std::string where;
  for (const auto& n : names) where += (where.empty() ? "" : " ") + n;
  log_line("listening on {} ({} reactors)", where, threads);

  // READY=1 (a no-op outside systemd: no NOTIFY_SOCKET) once the hooks say ready too, so that
  // units ordered after this one start against a server that can answer. Until then the
  // reactors serve what they can (/healthz 200, /readyz 503) and signals work as always.
  const auto waiting_since = std::chrono::steady_clock::now();
  bool ready = false, said_waiting = false;
  for (;;) {
    if (!ready && (!hooks.ready || hooks.ready())) {
      ready = true;
      sd_notify(0, "READY=1");
      if (said_waiting) log_line("ready: the database answered");
    }
    const int sig = wait_signal(sfd, ready ? -1 : kReadyPollMs);
    if (sig == 0 && !ready && !said_waiting &&
        std::chrono::steady_clock::now() - waiting_since >= kReadyWaitNotice) {
      log_warn("not ready: waiting for the database (READY=1 and /readyz 200 once it answers)");
      said_waiting = true;
    }
    if (sig == SIGHUP) {
      reopen_logs();
      continue;
    }
    if (sig == SIGTERM || sig == SIGINT) {
      log_line("{}: draining (up to {} ms)", sig == SIGTERM ? "SIGTERM" : "SIGINT",
               options.drain_timeout.count());
      break;
    }
  }
  sd_notify(0, "STOPPING=1");
  for (auto& w : workers) w->start_drain();
  bool clean;
  {
    std::unique_lock lock(mu);
    clean = cv.wait_for(lock, options.drain_timeout, [&] { return finished == threads; });
  }
  if (!clean) {
    log_warn("drain timeout: closing the remaining connections");
    for (auto& w : workers) w->force_stop();
  }
  for (auto& t : pool) t.join();
  workers.clear();
  ::close(sfd);
  log_line("stopped");
  return 0;
}

}  // namespace server
