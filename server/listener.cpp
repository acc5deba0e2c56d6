#include "server/listener.h"

#include "server/limits.h"
#include "server/log.h"
#include "server/socket.h"
#include "server/worker.h"

#include <cerrno>
#include <cstring>

namespace server {

namespace {
// Connections accepted per readiness event: the listener is level-triggered, so the rest come
// in the next iteration, after the connections that are already open got their turn.
constexpr int kAcceptBatch = 64;
}  // namespace

Listener::Listener(Worker& worker, int fd)
    : worker_(worker), fd_(fd), reserve_fd_(open_reserve_fd()) {}

Listener::~Listener() {
  if (resume_timer_) worker_.reactor().cancel(resume_timer_);
  if (!paused_) worker_.reactor().remove(fd_);
  close_fd(fd_);
  close_fd(reserve_fd_);
}

void Listener::start() { worker_.reactor().add(fd_, EPOLLIN, this); }

void Listener::on_io(std::uint32_t) {
  for (int i = 0; i < kAcceptBatch; ++i) {
    int err = 0;
    const int fd = accept_client(fd_, err);
    if (fd >= 0) {
      worker_.accept_connection(fd);
      continue;
    }
    if (err == EAGAIN || err == EWOULDBLOCK) return;
    if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM)
      return shed_on_fd_exhaustion();
    // ECONNABORTED, EPROTO, EPERM...: that one client failed; the next may not.
    if (err != ECONNABORTED && err != EINTR) {
      log_line("reactor {}: accept: {}", worker_.reactor().index(), std::strerror(err));
      return;
    }
  }
}

// Out of fds, the pending client cannot be accepted and the level-triggered listener would
// fire again at once: a busy loop. Give up the reserve fd to accept the client and close it
// (it sees a reset instead of a hang); when even that fails, take the listener out of epoll for
// a short backoff. Either way we recover by ourselves once fds are freed.
void Listener::shed_on_fd_exhaustion() {
  const std::int64_t now = worker_.reactor().now_ms();
  if (now - last_log_ms_ >= 1000) {
    last_log_ms_ = now;
    log_line("reactor {}: out of file descriptors, shedding new connections",
             worker_.reactor().index());
  }
  if (reserve_fd_ >= 0) {
    close_fd(reserve_fd_);
    int err = 0;
    close_fd(accept_client(fd_, err));
    reserve_fd_ = open_reserve_fd();
    if (reserve_fd_ >= 0) return;
  }
  paused_ = true;
  worker_.reactor().remove(fd_);
  resume_timer_ = worker_.reactor().call_after(limits::kAcceptBackoff.count(), [this] {
    resume_timer_ = 0;
    paused_ = false;
    if (reserve_fd_ < 0) reserve_fd_ = open_reserve_fd();
    start();
  });
}

}  // namespace server
