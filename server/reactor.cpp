#include "server/reactor.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cassert>
#include <cerrno>
#include <ctime>
#include <system_error>

namespace server {

namespace {
constexpr int kMaxEvents = 256;

std::int64_t clock_ms(clockid_t id) noexcept {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}
}  // namespace

struct Reactor::FdWatch final : IoHandler {
  int fd;
  FdCallback cb;
  bool dead = false;
  FdWatch(int f, FdCallback c) : fd(f), cb(std::move(c)) {}
  void on_io(std::uint32_t events) override {
    if (!dead) cb(events);
  }
};

// The eventfd that post() writes to; reading it just clears the wakeup.
class Reactor::Wakeup final : public IoHandler {
 public:
  explicit Wakeup(int fd) : fd_(fd) {}
  void on_io(std::uint32_t) override {
    std::uint64_t v;
    (void)!::read(fd_, &v, sizeof v);
  }

 private:
  int fd_;
};

Reactor::Reactor(unsigned index) : index_(index), owner_(std::this_thread::get_id()) {
  epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epfd_ < 0) throw std::system_error(errno, std::generic_category(), "epoll_create1");
  eventfd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (eventfd_ < 0) {
    ::close(epfd_);
    throw std::system_error(errno, std::generic_category(), "eventfd");
  }
  static_assert(sizeof(Wakeup) > 0);
  update_clock();
}

Reactor::~Reactor() {
  for (FdWatch* w : dead_watches_) delete w;
  ::close(eventfd_);
  ::close(epfd_);
}

void Reactor::update_clock() noexcept {
  now_ms_ = clock_ms(CLOCK_MONOTONIC);
  unix_s_ = clock_ms(CLOCK_REALTIME_COARSE) / 1000;
}

void Reactor::add(int fd, std::uint32_t events, IoHandler* handler) {
  assert(in_own_thread());
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = handler;
  if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) < 0)
    throw std::system_error(errno, std::generic_category(), "epoll_ctl(ADD)");
}

void Reactor::modify(int fd, std::uint32_t events, IoHandler* handler) {
  assert(in_own_thread());
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = handler;
  (void)::epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev);  // fails only for a closed fd: harmless
}

void Reactor::remove(int fd) noexcept {
  assert(in_own_thread());
  (void)::epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);
}

Reactor::FdWatch* Reactor::watch(int fd, std::uint32_t events, FdCallback cb) {
  auto* w = new FdWatch(fd, std::move(cb));
  try {
    add(fd, events, w);
  } catch (...) {
    delete w;
    throw;
  }
  return w;
}

void Reactor::rewatch(FdWatch* w, std::uint32_t events) { modify(w->fd, events, w); }

void Reactor::unwatch(FdWatch* w) noexcept {
  if (!w || w->dead) return;
  w->dead = true;  // events already fetched in this iteration are dropped by on_io
  remove(w->fd);
  dead_watches_.push_back(w);
}

Reactor::TimerId Reactor::call_after(std::int64_t delay_ms, std::function<void()> fn) {
  assert(in_own_thread());
  const TimerId id = next_timer_++;
  timer_heap_.push({now_ms_ + (delay_ms < 0 ? 0 : delay_ms), id});
  timer_fns_.emplace(id, std::move(fn));
  return id;
}

void Reactor::cancel(TimerId id) noexcept { timer_fns_.erase(id); }

void Reactor::post(std::function<void()> fn) {
  {
    std::lock_guard lock(posted_mu_);
    posted_.push_back(std::move(fn));
  }
  // One eventfd write per batch: later posters see the flag and skip the syscall.
  if (!wakeup_pending_.exchange(true)) {
    const std::uint64_t one = 1;
    (void)!::write(eventfd_, &one, sizeof one);
  }
}

int Reactor::wait_timeout_ms() const noexcept {
  if (!deferred_.empty()) return 0;
  if (timer_heap_.empty()) return -1;
  const std::int64_t d = timer_heap_.top().deadline - now_ms_;
  return d <= 0 ? 0 : static_cast<int>(d > 60'000 ? 60'000 : d);
}

void Reactor::run() {
  owner_ = std::this_thread::get_id();
  Wakeup wakeup(eventfd_);
  add(eventfd_, EPOLLIN, &wakeup);
  epoll_event events[kMaxEvents];
  while (!stopping_) {
    const int n = ::epoll_wait(epfd_, events, kMaxEvents, wait_timeout_ms());  // the only sleep
    update_clock();
    for (int i = 0; i < n; ++i)
      static_cast<IoHandler*>(events[i].data.ptr)->on_io(events[i].events);
    run_posted();
    run_timers();
    run_deferred();  // closes and frees: never inside a callback
  }
  remove(eventfd_);
  // Drop pending timers and posted work now, while their owners (whose state the callbacks'
  // destructors may touch, e.g. an unsent Responder) are still alive.
  timer_fns_.clear();
  timer_heap_ = {};
  {
    std::lock_guard lock(posted_mu_);
    posted_.clear();
  }
  run_deferred();
}

void Reactor::run_posted() {
  if (!wakeup_pending_.load(std::memory_order_acquire)) return;
  std::vector<std::function<void()>> batch;
  {
    std::lock_guard lock(posted_mu_);
    batch.swap(posted_);
    wakeup_pending_.store(false);
  }
  for (auto& fn : batch) fn();
}

void Reactor::run_timers() {
  while (!timer_heap_.empty() && timer_heap_.top().deadline <= now_ms_) {
    const TimerId id = timer_heap_.top().id;
    timer_heap_.pop();
    const auto it = timer_fns_.find(id);
    if (it == timer_fns_.end()) continue;  // cancelled
    auto fn = std::move(it->second);
    timer_fns_.erase(it);
    fn();
  }
}

void Reactor::run_deferred() {
  // A deferred function may defer more work (a close that triggers a close): loop until quiet.
  while (!deferred_.empty()) {
    auto batch = std::move(deferred_);
    deferred_.clear();
    for (auto& fn : batch) fn();
  }
  for (FdWatch* w : dead_watches_) delete w;
  dead_watches_.clear();
}

}  // namespace server
