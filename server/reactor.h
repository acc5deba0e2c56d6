// Reactor: one thread's event loop. The only place that calls epoll_wait/epoll_ctl (STYLE.md 2).
//
// Contract
// - Every method except post() must be called on the reactor's own thread (asserted in debug
//   builds); post() may be called from any thread.
// - Callbacks run on the reactor thread, one at a time, and must not block.
// - Nothing registered is freed inside a callback: unwatch() and defer() take effect at the end
//   of the loop iteration, so a callback may unwatch itself or its neighbours safely, and events
//   already fetched for an unwatched fd are dropped, never delivered to freed memory.
#pragma once

#include <sys/epoll.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <queue>
#include <thread>
#include <unordered_map>
#include <vector>

namespace server {

// Something with an fd in the epoll set. on_io receives the EPOLL* bits that fired.
class IoHandler {
 public:
  virtual void on_io(std::uint32_t events) = 0;

 protected:
  ~IoHandler() = default;
};

class Reactor {
 public:
  using TimerId = std::uint64_t;
  using FdCallback = std::function<void(std::uint32_t events)>;
  // A foreign fd (e.g. a libpq socket) registered with watch(). Opaque; owned by the reactor.
  struct FdWatch;

  explicit Reactor(unsigned index);
  ~Reactor();
  Reactor(const Reactor&) = delete;
  Reactor& operator=(const Reactor&) = delete;

  // --- the loop ------------------------------------------------------------------------------
  // Runs until stop(); binds the reactor to the calling thread. On return, pending timers and
  // posted work have been dropped (destroyed without running).
  void run();
  // Ends run() after the current iteration. Own thread only (others: post([&]{ stop(); })).
  void stop() noexcept { stopping_ = true; }
  // Makes the calling thread the reactor's own (run() does it too), for setup before run().
  void adopt_thread() noexcept { owner_ = std::this_thread::get_id(); }
  [[nodiscard]] bool in_own_thread() const noexcept { return std::this_thread::get_id() == owner_; }
  [[nodiscard]] unsigned index() const noexcept { return index_; }
  // Monotonic and wall-clock time, read once per loop iteration.
  [[nodiscard]] std::int64_t now_ms() const noexcept { return now_ms_; }
  [[nodiscard]] std::int64_t unix_seconds() const noexcept { return unix_s_; }

  // --- fds (level-triggered) -----------------------------------------------------------------
  // For the server's own sockets: `handler` must outlive its registration.
  void add(int fd, std::uint32_t events, IoHandler* handler);
  void modify(int fd, std::uint32_t events, IoHandler* handler);
  void remove(int fd) noexcept;
  // For other components (db/ registers libpq sockets): `cb(events)` runs whenever `fd` is
  // ready for `events` (EPOLLIN / EPOLLOUT; EPOLLERR/EPOLLHUP always reported). The fd stays
  // the caller's: unwatch() before closing it. Returns a handle for rewatch()/unwatch().
  FdWatch* watch(int fd, std::uint32_t events, FdCallback cb);
  void rewatch(FdWatch* w, std::uint32_t events);
  // Removes the fd from epoll now; the handle is freed at the end of the iteration.
  void unwatch(FdWatch* w) noexcept;

  // --- time ----------------------------------------------------------------------------------
  // Runs `fn` once, `delay_ms` from now, on this thread. cancel() of a fired or unknown id is a
  // no-op.
  TimerId call_after(std::int64_t delay_ms, std::function<void()> fn);
  void cancel(TimerId id) noexcept;

  // --- deferred and cross-thread work --------------------------------------------------------
  // Runs `fn` at the end of this iteration, after every event (closing, freeing).
  void defer(std::function<void()> fn) { deferred_.push_back(std::move(fn)); }
  // Any thread: runs `fn` on the reactor thread soon (wakes it through an eventfd).
  void post(std::function<void()> fn);

  // Opaque per-reactor pointer for other layers (e.g. db/ hangs its connection pool here).
  void set_user_data(void* p) noexcept { user_data_ = p; }
  [[nodiscard]] void* user_data() const noexcept { return user_data_; }

 private:
  struct Timer {
    std::int64_t deadline;
    TimerId id;
    bool operator>(const Timer& o) const noexcept {
      return deadline != o.deadline ? deadline > o.deadline : id > o.id;
    }
  };
  class Wakeup;

  void update_clock() noexcept;
  int wait_timeout_ms() const noexcept;
  void run_timers();
  void run_posted();
  void run_deferred();

  const unsigned index_;
  int epfd_ = -1;
  int eventfd_ = -1;
  std::thread::id owner_;
  bool stopping_ = false;
  std::int64_t now_ms_ = 0;
  std::int64_t unix_s_ = 0;
  void* user_data_ = nullptr;

  std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timer_heap_;
  std::unordered_map<TimerId, std::function<void()>> timer_fns_;  // cancel() erases here
  TimerId next_timer_ = 1;

  std::vector<std::function<void()>> deferred_;
  std::vector<FdWatch*> dead_watches_;

  std::mutex posted_mu_;
  std::vector<std::function<void()>> posted_;  // guarded by posted_mu_
  std::atomic<bool> wakeup_pending_{false};
};

}  // namespace server
