#include "server/worker.h"

#include "server/listener.h"
#include "server/log.h"
#include "server/socket.h"

#include <algorithm>
#include <cassert>

namespace server {

namespace {
// Response buffers kept for reuse per worker; bounds the memory parked there (~1-2 KiB each).
constexpr std::size_t kMaxSpareBuffers = 256;
// A buffer that grew past this (a large response) is freed rather than parked.
constexpr std::size_t kMaxSpareCapacity = 16 * 1024;
}  // namespace

Worker::Worker(unsigned index, const ServeOptions& options, const Router& router,
               std::vector<int> listen_fds, std::atomic<std::size_t>& open_connections)
    : options_(options),
      router_(router),
      reactor_(index),
      open_connections_(open_connections),
      read_buf_(std::make_unique<char[]>(limits::kReadChunk)) {
  for (const int fd : listen_fds) listeners_.push_back(std::make_unique<Listener>(*this, fd));
  if (options.metrics) {
    metrics_ = &options.metrics->add_reactor(router.route_count());  // main thread, before run()
  } else {
    own_metrics_ = std::make_unique<ReactorMetrics>(router.route_count());
    metrics_ = own_metrics_.get();
  }
}

Worker::~Worker() = default;

void Worker::run(const std::function<void()>& on_listening) {
  reactor_.adopt_thread();
  for (auto& l : listeners_) l->start();
  on_listening();
  reactor_.run();
  // Stopped: whatever is left (force_stop) is closed with the reactor's fds.
  listeners_.clear();
  conns_.clear();
}

// --- connections -------------------------------------------------------------------------------

void Worker::accept_connection(int fd) {
  // fetch_add first, so that reactors racing at the cap cannot both slip past it.
  if (draining_ ||
      open_connections_.fetch_add(1, std::memory_order_relaxed) >= options_.max_connections) {
    if (!draining_) open_connections_.fetch_sub(1, std::memory_order_relaxed);
    close_fd(fd);  // shed: the client sees the connection closed at once, not a hang
    metrics_->shed.add();
    if (reactor_.now_ms() - last_shed_log_ >= 1000) {
      last_shed_log_ = reactor_.now_ms();
      log_line("reactor {}: connection limit ({}) reached, shedding new connections",
               reactor_.index(), options_.max_connections);
    }
    return;
  }
  std::uint32_t index;
  if (!free_slots_.empty()) {
    index = free_slots_.back();
    free_slots_.pop_back();
  } else {
    index = static_cast<std::uint32_t>(conns_.size());
    conns_.emplace_back();
    generations_.push_back(0);
  }
  conns_[index] = std::make_unique<Connection>(*this, fd, index, generations_[index]);
  ++live_;
  metrics_->accepted.add();
  conns_[index]->start();
}

Connection* Worker::find(std::uint32_t index, std::uint32_t generation) noexcept {
  assert(reactor_.in_own_thread());
  if (index >= conns_.size() || generations_[index] != generation) return nullptr;
  return conns_[index].get();
}

void Worker::release(std::uint32_t index) {
  conns_[index].reset();
  ++generations_[index];  // every Responder still pointing here is now stale
  free_slots_.push_back(index);
  --live_;
  metrics_->closed.add();
  open_connections_.fetch_sub(1, std::memory_order_relaxed);
  maybe_finish_drain();
}

std::string_view Worker::ok_head() {
  if (const std::int64_t now = reactor_.unix_seconds(); now != ok_head_second_) {
    const protocol::ResponseContext ctx{date(), options_.cors_origin, false, true, false};
    ok_head_ = protocol::ResponseWriter::common_head(200, ctx);
    ok_head_second_ = now;
  }
  return ok_head_;
}

std::string Worker::take_buffer() {
  if (spare_buffers_.empty()) return {};
  std::string b = std::move(spare_buffers_.back());
  spare_buffers_.pop_back();
  return b;
}

void Worker::give_buffer(std::string&& buf) {
  if (buf.capacity() > kMaxSpareCapacity || spare_buffers_.size() >= kMaxSpareBuffers) return;
  buf.clear();
  spare_buffers_.push_back(std::move(buf));
}

// --- timeouts ----------------------------------------------------------------------------------

void Worker::arm_timer(Connection& conn, TimerKind kind) {
  TimerList* list = &head_timers_;
  std::int64_t timeout = options_.head_timeout.count();
  if (kind == TimerKind::Idle) {
    list = &idle_timers_;
    timeout = options_.idle_timeout.count();
  } else if (kind == TimerKind::Write) {
    list = &write_timers_;
    timeout = options_.write_timeout.count();
  }
  const std::int64_t deadline = reactor_.now_ms() + timeout;
  list->push_back(&conn, deadline);
  schedule_sweep(deadline);
}

// One reactor timer, at the earliest deadline of the three lists, serves every connection.
void Worker::schedule_sweep(std::int64_t deadline) {
  if (sweep_at_ >= 0 && sweep_at_ <= deadline) return;
  if (sweep_at_ >= 0) reactor_.cancel(sweep_timer_);
  sweep_at_ = deadline;
  sweep_timer_ = reactor_.call_after(deadline - reactor_.now_ms(), [this] {
    sweep_at_ = -1;
    sweep_timers();
  });
}

void Worker::sweep_timers() {
  const std::int64_t now = reactor_.now_ms();
  const std::pair<TimerList*, TimerKind> lists[] = {{&head_timers_, TimerKind::Head},
                                                    {&idle_timers_, TimerKind::Idle},
                                                    {&write_timers_, TimerKind::Write}};
  std::int64_t next = -1;
  for (const auto& [list, kind] : lists) {
    while (TimerList::Node* n = list->front()) {
      if (n->deadline > now) {
        next = next < 0 ? n->deadline : std::min(next, n->deadline);
        break;
      }
      TimerList::unlink(n);
      static_cast<Connection*>(n)->on_timeout(kind);  // may re-arm it (408 then write timeout)
    }
  }
  // on_timeout may have armed new timers (and a sweep); make sure the earliest is covered.
  for (const auto& [list, kind] : lists)
    if (const TimerList::Node* n = list->front())
      next = next < 0 ? n->deadline : std::min(next, n->deadline);
  if (next >= 0) schedule_sweep(next);
}

// --- drain -------------------------------------------------------------------------------------

void Worker::start_drain() {
  reactor_.post([this] {
    if (draining_) return;
    draining_ = true;
    listeners_.clear();  // close the listeners first: the kernel sends new clients elsewhere
    for (auto& c : conns_)
      if (c && !c->closing()) c->start_drain();
    maybe_finish_drain();
  });
}

void Worker::force_stop() {
  reactor_.post([this] {
    draining_ = true;
    listeners_.clear();
    for (auto& c : conns_)
      if (c) c->close_soon(CloseReason::Shutdown);
    reactor_.defer([this] { reactor_.stop(); });
  });
}

void Worker::maybe_finish_drain() {
  if (draining_ && live_ == 0) reactor_.stop();
}

}  // namespace server
