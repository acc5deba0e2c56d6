// Server: the main thread of `reviewsd serve`. Opens the listeners, starts one Worker (reactor
// thread) per --threads, tells systemd when every reactor listens, then waits on a signalfd:
// SIGTERM/SIGINT drain and exit, SIGHUP reopens the log files.
#pragma once

#include "server/limits.h"
#include "server/router.h"

#include <functional>

namespace server {

class Metrics;
class Reactor;

// Per-reactor setup and teardown, run on each reactor's own thread: on_start before it serves
// its first request, on_stop after its loop ended. For state a reactor owns (its PgPool).
struct ReactorHooks {
  std::function<void(Reactor&)> on_start;
  std::function<void(Reactor&)> on_stop;
  // Once, on the main thread before any reactor starts: register metric collectors.
  std::function<void(Metrics&)> on_metrics;
  // On the main thread, once every reactor listens, polled until it returns true: READY=1
  // waits for it (for the API: the database answered, as /readyz checks). Empty: ready as soon
  // as all listen.
  std::function<bool()> ready;
};

// Runs until drained. Returns the exit status (0 after a clean drain). Throws std::exception
// for startup failures (bad address, port in use...). `options.max_connections` is lowered
// (with a warning) to what RLIMIT_NOFILE leaves room for after the server's own fds.
int run_server(const ServeOptions& options, const Router& router, const ReactorHooks& hooks = {});

}  // namespace server
