// What db/ needs from an event loop, so that it can live on a reactor without including
// server/. server/ implements it over its Reactor; every call happens on that reactor's thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>

namespace db {

class EventLoop {
 public:
  using FdCallback = std::function<void(std::uint32_t epoll_events)>;
  using Task = std::function<void()>;
  struct Watch;  // opaque handle

  virtual ~EventLoop() = default;
  // Registers `fd` for `events` (EPOLLIN/EPOLLOUT bits, level-triggered); `cb` runs on each
  // readiness with the bits that fired (EPOLLERR/EPOLLHUP are always reported). May throw
  // (e.g. std::system_error) when the fd cannot be registered.
  virtual Watch* watch(int fd, std::uint32_t events, FdCallback cb) = 0;
  virtual void rewatch(Watch* w, std::uint32_t events) = 0;
  // Must be called before the fd is closed. Events already fetched for it are dropped; the
  // handle is invalid afterwards (the same fd may be watched again at once, with a new handle).
  virtual void unwatch(Watch* w) = 0;
  // One-shot timer; returns an id for cancel(). 0 is never an id. cancel() of an id that fired
  // or was cancelled is a no-op.
  virtual std::uint64_t call_after(std::chrono::milliseconds delay, Task fn) = 0;
  virtual void cancel(std::uint64_t timer_id) = 0;
  // Runs `fn` once at the end of the current loop iteration, after every ready fd was handled:
  // the place to flush what the iteration queued (one write for many queries). Tasks deferred
  // by a deferred task run in the same iteration. A deferred task cannot be cancelled.
  virtual void defer(Task fn) = 0;
  // The loop's clock (may be cached once per iteration), the one call_after() delays count on.
  [[nodiscard]] virtual std::chrono::steady_clock::time_point now() const = 0;
};

}  // namespace db
