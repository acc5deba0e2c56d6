// ReactorLoop: db::EventLoop over a server::Reactor, so that db/ (the PgPool) can register its
// libpq sockets, timers and end-of-iteration work on a reactor without including server/.
//
// One per reactor, created, used and destroyed on that reactor's thread; it must outlive
// everything registered through it (destroy the PgPool first). It owns nothing: every call
// forwards to the Reactor.
#pragma once

#include "db/event_loop.h"
#include "server/reactor.h"

namespace server {

class ReactorLoop final : public db::EventLoop {
 public:
  explicit ReactorLoop(Reactor& reactor) noexcept : reactor_(reactor) {}

  Watch* watch(int fd, std::uint32_t events, FdCallback cb) override;
  void rewatch(Watch* w, std::uint32_t events) override;
  void unwatch(Watch* w) override;
  std::uint64_t call_after(std::chrono::milliseconds delay, Task fn) override;
  void cancel(std::uint64_t timer_id) override;
  void defer(Task fn) override;
  [[nodiscard]] std::chrono::steady_clock::time_point now() const override;

  [[nodiscard]] Reactor& reactor() const noexcept { return reactor_; }

 private:
  Reactor& reactor_;
};

}  // namespace server
