// Server: the main thread of `reviewsd serve`. Opens the listeners, starts one Worker (reactor
// thread) per --threads, tells systemd when every reactor listens, then waits on a signalfd:
// SIGTERM/SIGINT drain and exit, SIGHUP is logged (reload comes later).
#pragma once

#include "server/limits.h"
#include "server/router.h"

namespace server {

// Runs until drained. Returns the exit status (0 after a clean drain). Throws std::exception
// for startup failures (bad address, port in use...).
int run_server(const ServeOptions& options, const Router& router);

}  // namespace server
