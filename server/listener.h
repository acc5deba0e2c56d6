// Listener: one reactor's SO_REUSEPORT listening socket and its accept loop, including load
// shedding when fds run out.
#pragma once

#include "server/reactor.h"

#include <cstdint>

namespace server {

class Worker;

class Listener final : public IoHandler {
 public:
  Listener(Worker& worker, int fd);  // takes ownership of `fd`
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  void start();  // registers with the reactor
  void on_io(std::uint32_t events) override;

 private:
  void shed_on_fd_exhaustion();

  Worker& worker_;
  int fd_;
  int reserve_fd_;       // given up to accept-and-close one client when fds run out
  bool paused_ = false;  // out of epoll for limits::kAcceptBackoff
  Reactor::TimerId resume_timer_ = 0;
  std::int64_t last_log_ms_ = -1'000'000;
};

}  // namespace server
