// Worker: one reactor thread serving HTTP. Owns its Reactor, its SO_REUSEPORT listeners, its
// connections and their timeouts; shares only the read-only Router and options and one atomic
// connection counter with the other workers (shared-nothing, DESIGN.md).
//
// Thread rules: the constructor runs on the main thread; run() is the thread body; every other
// method runs on the worker's thread, except start_drain()/force_stop(), which post to it.
#pragma once

#include "protocol/response_writer.h"
#include "server/connection.h"
#include "server/limits.h"
#include "server/metrics.h"
#include "server/reactor.h"
#include "server/router.h"
#include "server/timer_list.h"

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace server {

class Listener;

class Worker {
 public:
  Worker(unsigned index, const ServeOptions& options, const Router& router,
         std::vector<int> listen_fds, std::atomic<std::size_t>& open_connections);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Thread body: registers the listeners, calls `on_listening`, loops until drained or stopped.
  void run(const std::function<void()>& on_listening);
  // Any thread. Drain: close the listeners, finish in-flight requests, then stop.
  void start_drain();
  // Any thread. Close every connection now and stop (drain timeout passed).
  void force_stop();

  [[nodiscard]] Reactor& reactor() noexcept { return reactor_; }

  // --- for Listener, Connection and Responder (worker thread) ---------------------------------
  void accept_connection(int fd);
  [[nodiscard]] Connection* find(std::uint32_t index, std::uint32_t generation) noexcept;
  // Called by Connection::close_soon at the end of the iteration: frees the connection.
  void release(std::uint32_t index);
  void arm_timer(Connection& conn, TimerKind kind);
  static void disarm_timer(Connection& conn) noexcept { TimerList::unlink(&conn); }

  [[nodiscard]] const ServeOptions& options() const noexcept { return options_; }
  [[nodiscard]] const Router& router() const noexcept { return router_; }
  [[nodiscard]] ReactorMetrics& metrics() noexcept { return *metrics_; }
  [[nodiscard]] std::string_view date() { return dates_.get(reactor_.unix_seconds()); }
  // ResponseWriter::common_head(200) for date() and the CORS origin, rebuilt once a second: a
  // 200 (every cache hit) copies it in one step (about 250 instructions less under callgrind).
  [[nodiscard]] std::string_view ok_head();
  [[nodiscard]] char* read_buffer() noexcept { return read_buf_.get(); }
  // Response buffers recycled across requests: no malloc per response in steady state.
  [[nodiscard]] std::string take_buffer();
  void give_buffer(std::string&& buf);

 private:
  void sweep_timers();
  void schedule_sweep(std::int64_t deadline);
  void maybe_finish_drain();

  const ServeOptions& options_;
  const Router& router_;
  Reactor reactor_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::atomic<std::size_t>& open_connections_;  // all workers, for --max-connections

  std::vector<std::unique_ptr<Connection>> conns_;  // indexed by Connection::index()
  std::vector<std::uint32_t> generations_;          // bumped when a slot is freed
  std::vector<std::uint32_t> free_slots_;
  std::size_t live_ = 0;

  TimerList head_timers_, idle_timers_, write_timers_;
  Reactor::TimerId sweep_timer_ = 0;
  std::int64_t sweep_at_ = -1;  // deadline of the armed sweep, -1 when none

  std::unique_ptr<ReactorMetrics> own_metrics_;  // when options_.metrics is null
  ReactorMetrics* metrics_;
  protocol::DateCache dates_;
  std::string ok_head_;
  std::int64_t ok_head_second_ = -1;
  std::unique_ptr<char[]> read_buf_;
  std::vector<std::string> spare_buffers_;
  bool draining_ = false;
  std::int64_t last_shed_log_ = -1'000'000;
};

}  // namespace server
