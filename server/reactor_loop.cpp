#include "server/reactor_loop.h"

namespace server {

// db::EventLoop::Watch is an opaque handle that db/ never dereferences: it is the Reactor's own
// FdWatch pointer in disguise, so a watch costs no allocation beyond the Reactor's.
namespace {
db::EventLoop::Watch* to_db(Reactor::FdWatch* w) noexcept {
  return reinterpret_cast<db::EventLoop::Watch*>(w);
}
Reactor::FdWatch* to_reactor(db::EventLoop::Watch* w) noexcept {
  return reinterpret_cast<Reactor::FdWatch*>(w);
}
}  // namespace

db::EventLoop::Watch* ReactorLoop::watch(int fd, std::uint32_t events, FdCallback cb) {
  return to_db(reactor_.watch(fd, events, std::move(cb)));
}

void ReactorLoop::rewatch(Watch* w, std::uint32_t events) {
  reactor_.rewatch(to_reactor(w), events);
}

void ReactorLoop::unwatch(Watch* w) { reactor_.unwatch(to_reactor(w)); }

std::uint64_t ReactorLoop::call_after(std::chrono::milliseconds delay, Task fn) {
  return reactor_.call_after(delay.count(), std::move(fn));
}

void ReactorLoop::cancel(std::uint64_t timer_id) { reactor_.cancel(timer_id); }

void ReactorLoop::defer(Task fn) { reactor_.defer(std::move(fn)); }

// The Reactor reads CLOCK_MONOTONIC once per iteration; libstdc++'s steady_clock is the same
// clock, so the cached value converts without a syscall.
std::chrono::steady_clock::time_point ReactorLoop::now() const {
  return std::chrono::steady_clock::time_point(std::chrono::milliseconds(reactor_.now_ms()));
}

}  // namespace server
