// Every tunable of `reviewsd serve`, with its default and the reason for it (STYLE.md 7).
// Flags of the same name override them (see cmd_serve.cpp).
#pragma once

#include "protocol/request_parser.h"
#include "server/metrics.h"

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace server {

namespace limits {
// 127.0.0.1: secure by default; a deployment names its address explicitly (unit file, config).
inline constexpr const char* kDefaultListen = "127.0.0.1:8080";
// 100k: ten times the 10k-connection goal, still far below the fd limit we raise to.
inline constexpr std::size_t kMaxConnections = 100'000;
// In-flight pipelined requests per connection; past this we stop reading the connection
// (backpressure). 32 lets a client pipeline 16 at a time (wrk, the bench) with room for the
// next batch arriving in the same read.
inline constexpr std::size_t kMaxPipelineDepth = 32;
// A client must deliver a whole request (head and body) this long after its first byte, or
// after connecting: slowloris protection. Generous for any real client on any network.
inline constexpr std::chrono::milliseconds kHeadTimeout{10'000};
// Keep-alive connections with nothing in flight close after this; browsers keep theirs open
// for about as long, and 10k idle connections cost little (see bench/RESULTS.md).
inline constexpr std::chrono::milliseconds kIdleTimeout{60'000};
// A client that stops reading our responses (no progress at all) is dropped after this.
inline constexpr std::chrono::milliseconds kWriteTimeout{10'000};
// SIGTERM gives in-flight requests this long before connections are cut; below systemd's
// default TimeoutStopSec (90 s) so we exit on our own terms.
inline constexpr std::chrono::milliseconds kDrainTimeout{10'000};
// Bytes read per recv(2). One buffer per reactor (not per connection): idle connections cost
// no read buffer at all.
inline constexpr std::size_t kReadChunk = 64 * 1024;
// listen(2) backlog; the kernel caps it at net.core.somaxconn.
inline constexpr int kListenBacklog = 4096;
// How long a listener stays off after accept(2) failed for lack of fds (EMFILE/ENFILE) and the
// reserve-fd trick could not help: short enough to recover quickly, long enough not to spin.
inline constexpr std::chrono::milliseconds kAcceptBackoff{100};
// File descriptors the server keeps for itself out of RLIMIT_NOFILE: client connections are
// capped below the limit by this much (see run_server), so that clients alone can never run the
// process out of fds. Out of fds, the database could not reconnect, SIGHUP could not reopen
// the logs, and new clients would wait in the backlog whenever two reactors race for the
// listeners' reserve fds. Per process: stdio, the signalfd, the log files and their reopened
// copies, the LISTEN/NOTIFY connection and whatever libraries open (libpq, the resolver).
inline constexpr std::size_t kFdsPerProcess = 32;
// Per reactor: epoll and eventfd, a listening socket and a reserve fd per listen address, and
// its database connections (to the primary and each replica, and reconnects in progress).
inline constexpr std::size_t kFdsPerReactor = 16;
}  // namespace limits

// The options of `reviewsd serve`, resolved (flags > environment > defaults).
struct ServeOptions {
  std::vector<std::string> listen{limits::kDefaultListen};  // HOST:PORT or [V6]:PORT; port 0 = any
  unsigned threads = 0;                                     // 0 = number of cores
  std::size_t max_connections = limits::kMaxConnections;
  // Whether the operator chose max_connections (flag, environment or config file): if the file
  // limit lowers it, that is a warning; lowering the default is only worth an info line.
  bool max_connections_set = false;
  std::size_t max_pipeline_depth = limits::kMaxPipelineDepth;
  std::chrono::milliseconds head_timeout = limits::kHeadTimeout;
  std::chrono::milliseconds idle_timeout = limits::kIdleTimeout;
  std::chrono::milliseconds write_timeout = limits::kWriteTimeout;
  std::chrono::milliseconds drain_timeout = limits::kDrainTimeout;
  std::string cors_origin = "*";
  protocol::Limits request_limits;
  bool debug_routes = false;  // /debug/* routes for tests (never in production)
  // Where the reactors count, served at GET /metrics. Shared by copies of the options.
  std::shared_ptr<Metrics> metrics = std::make_shared<Metrics>();
};

}  // namespace server
