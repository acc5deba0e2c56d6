// A connection's life, top to bottom: start -> on_io -> on_readable -> consume -> dispatch ->
// (handler) -> fill -> after_io -> flush -> ... -> close_soon -> (end of iteration) release.
#include "server/connection.h"

#include "protocol/error_reply.h"
#include "protocol/response_writer.h"
#include "server/access_log.h"
#include "server/log.h"
#include "server/socket.h"
#include "server/worker.h"

#include <sys/epoll.h>
#include <sys/uio.h>

#include <ctime>
#include <exception>

namespace server {

namespace {
// iovecs per sendmsg: up to three per ready response (head, cached head, cached body); 96 covers a
// pipeline of 32 cached responses in one call.
constexpr int kMaxIov = 96;

std::int64_t now_us() noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);  // vDSO: no system call
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
}
}  // namespace

Connection::Connection(Worker& worker, int fd, std::uint32_t index, std::uint32_t generation)
    : worker_(worker),
      fd_(fd),
      index_(index),
      generation_(generation),
      parser_(worker.options().request_limits) {}

Connection::~Connection() {
  for (auto& slot : queue_) worker_.give_buffer(std::move(slot.bytes));
  close_fd(fd_);
}

// --- start -------------------------------------------------------------------------------------

void Connection::start() {
  if (AccessLog::enabled()) peer_ = AccessLog::peer_of(fd_);
  interest_ = EPOLLIN;
  worker_.reactor().add(fd_, interest_, this);
  worker_.arm_timer(*this, TimerKind::Head);  // a client must send a request soon after connecting
}

// --- read and parse ----------------------------------------------------------------------------

void Connection::on_io(std::uint32_t events) {
  if (closing_) return;  // closed earlier in this iteration: the event is stale
  // EPOLLHUP: both directions are gone, nothing we write can arrive. (A half-close arrives as
  // EPOLLIN with recv() == 0 and is handled in on_readable.)
  if (events & (EPOLLERR | EPOLLHUP)) return close_soon(CloseReason::IoError);
  if (events & EPOLLOUT) write_blocked_ = false;
  if (events & EPOLLIN) {
    on_readable();
    if (closing_) return;
  }
  after_io();
}

void Connection::on_readable() {
  if (stop_reading_ || read_closed_ || !pending_input_.empty()) return;
  std::size_t n = 0;
  switch (read_some(fd_, worker_.read_buffer(), limits::kReadChunk, n)) {
    case Io::Done:
      break;
    case Io::Again:
      return;
    case Io::PeerClosed:
      // Half-close: a client may send its requests, shut its side and wait for the answers.
      read_closed_ = true;
      if (queue_.empty()) close_soon(CloseReason::PeerClosed);
      return;
    case Io::Failed:
      return close_soon(CloseReason::IoError);
  }
  worker_.metrics().bytes_in.add(n);
  // One recv per readiness event (level-triggered): a busy client cannot starve the others.
  consume({worker_.read_buffer(), n});
}

// Feeds bytes to the parser and dispatches every complete request. Stops (stashing the rest in
// pending_input_) when the response queue is full: that is the backpressure.
void Connection::consume(std::string_view data) {
  in_consume_ = true;
  while (!data.empty() && !closing_) {
    if (stop_reading_) break;  // a close was decided: later pipelined bytes are dropped
    if (queue_.size() >= worker_.options().max_pipeline_depth) {
      pending_input_.assign(data);
      break;
    }
    const auto r = parser_.feed(data);
    data.remove_prefix(r.consumed);
    if (r.status == protocol::RequestParser::Status::Complete) {
      dispatch(parser_.request());
    } else if (r.status == protocol::RequestParser::Status::Error) {
      const auto reply = protocol::error_reply(parser_.error());
      reply_error(reply.status, reply.body);
    } else {
      break;  // NeedMore: everything consumed
    }
  }
  in_consume_ = false;
}

// --- dispatch ----------------------------------------------------------------------------------

void Connection::dispatch(const protocol::Request& req) {
  // The head timeout restarts with the next request's first byte (a write timeout stays).
  if (timer_kind_ == TimerKind::Head) Worker::disarm_timer(*this);
  const bool keep_alive = req.keep_alive && !draining_;
  if (!keep_alive) stop_reading_ = true;
  const auto m = worker_.router().find(req.method, req.path);
  Slot& slot =
      push_slot(req.method == protocol::Method::Head, keep_alive, req.version_minor == 0, m.route);
  if (AccessLog::enabled()) {
    slot.log_method = req.method_name;
    slot.log_target = req.target;
  }
  Responder res(&worker_, index_, generation_, first_seq_ + queue_.size() - 1);
  switch (m.outcome) {
    case Router::Outcome::Found:
      try {
        (*m.handler)(req, m.params, std::move(res));
      } catch (const std::exception& e) {
        // The moved-into Responder already answered 500 while unwinding.
        log_line("handler for {} {} threw: {}", req.method_name, req.path, e.what());
      }
      break;
    case Router::Outcome::Preflight:
      res.send(204, {}, {},
               {{"Allow", m.allow},
                {"Access-Control-Allow-Methods", m.allow},
                {"Access-Control-Allow-Headers", "Content-Type, If-None-Match"},
                {"Access-Control-Max-Age", "86400"}});
      break;
    case Router::Outcome::MethodNotAllowed:
      res.send(405, kText, "Error: method not allowed", {{"Allow", m.allow}});
      break;
    case Router::Outcome::NotFound:
      res.send(404, kText, "Not Found");
      break;
  }
}

Connection::Slot& Connection::push_slot(bool head_only, bool keep_alive, bool http10,
                                        std::size_t route) {
  Slot& s = queue_.emplace_back();
  s.route = route;
  s.start_us = now_us();
  s.bytes = worker_.take_buffer();
  s.head_only = head_only;
  s.keep_alive = keep_alive;
  s.http10 = http10;
  return s;
}

// A request we refuse before routing (parse error, head timeout): answer, then close.
void Connection::reply_error(int status, std::string_view body) {
  stop_reading_ = true;
  push_slot(false, false, false, worker_.router().route_count());
  fill(first_seq_ + queue_.size() - 1, status, kText, body, {});
}

// --- fill (now or later, from a handler) -------------------------------------------------------

// The slot of `seq` if it still waits for its response (not sent, connection not closing).
Connection::Slot* Connection::slot_to_fill(std::uint64_t seq) noexcept {
  if (closing_ || seq < first_seq_ || seq - first_seq_ >= queue_.size()) return nullptr;
  Slot& s = queue_[seq - first_seq_];
  if (s.ready) return nullptr;
  // Draining: the last response we will send says so.
  if (draining_ && stop_reading_ && seq - first_seq_ + 1 == queue_.size()) s.keep_alive = false;
  return &s;
}

void Connection::fill(std::uint64_t seq, int status, std::string_view content_type,
                      std::string_view body, std::initializer_list<ResponseHeader> headers) {
  Slot* slot = slot_to_fill(seq);
  if (!slot) return;
  Slot& s = *slot;
  const protocol::ResponseContext ctx{worker_.date(), worker_.options().cors_origin, s.head_only,
                                      s.keep_alive, s.http10};
  protocol::ResponseWriter w(s.bytes, ctx);
  if (status == 200)
    w.start_ok(worker_.ok_head());
  else
    w.start(status);
  for (const auto& h : headers) w.header(h.name, h.value);
  w.finish(content_type, body);
  slot_ready(s, status);
}

void Connection::fill_cached(std::uint64_t seq, cache::ResponsePtr response, bool gzip) {
  Slot* slot = slot_to_fill(seq);
  if (!slot) return;
  Slot& s = *slot;
  const protocol::ResponseContext ctx{worker_.date(), worker_.options().cors_origin, s.head_only,
                                      s.keep_alive, s.http10};
  protocol::ResponseWriter w(s.bytes, ctx);
  w.start_ok(worker_.ok_head());  // status line and the per-connection headers; the rest is shared
  s.shared_head = gzip ? response->gz_head : response->head;
  if (!s.head_only) s.shared_body = gzip ? response->gz_body : response->body;
  s.shared = std::move(response);
  slot_ready(s, 200);
}

void Connection::slot_ready(Slot& s, int status) {
  s.ready = true;
  const std::int64_t took = now_us() - s.start_us;
  worker_.metrics().request(s.route, status, took);
  AccessLog::record(worker_.reactor(), s.log_method, s.log_target, status, s.size(), took, peer_);
  if (!in_consume_) after_io();  // a late (asynchronous) answer goes out now
}

// --- write -------------------------------------------------------------------------------------

// Runs after every event on this connection: write what is ready, resume parsing input held
// back by backpressure, then bring epoll interest and timer in line with the new state.
void Connection::after_io() {
  for (;;) {
    if (!write_blocked_) flush();
    if (closing_) return;
    if (pending_input_.empty() || queue_.size() >= worker_.options().max_pipeline_depth) break;
    const std::string input = std::move(pending_input_);
    pending_input_.clear();
    consume(input);  // may stash a tail again, when the queue fills up once more
  }
  if (queue_.empty() && (read_closed_ || (stop_reading_ && pending_input_.empty()) ||
                         (draining_ && !parser_.in_message()))) {
    return close_soon(draining_ ? CloseReason::Drained : CloseReason::ResponseSaysClose);
  }
  update_interest();
  update_timer();
}

// Writes the ready responses at the front of the queue with one sendmsg, handling partial
// writes. Responses behind an unfilled slot wait: order is the protocol.
void Connection::flush() {
  while (!queue_.empty() && queue_.front().ready) {
    iovec iov[kMaxIov];
    int cnt = 0;
    for (std::size_t i = 0; i < queue_.size() && cnt + 3 <= kMaxIov && queue_[i].ready; ++i) {
      const Slot& s = queue_[i];
      std::size_t skip = i == 0 ? sent_ : 0;  // a partial write left off inside this slot
      for (const std::string_view piece :
           {std::string_view(s.bytes), s.shared_head, s.shared_body}) {
        if (skip >= piece.size()) {
          skip -= piece.size();
          continue;
        }
        iov[cnt++] = {const_cast<char*>(piece.data()) + skip, piece.size() - skip};
        skip = 0;
      }
      if (!s.keep_alive) break;  // nothing after a closing response is sent
    }
    std::size_t n = 0;
    const Io r = write_some(fd_, iov, cnt, n);
    if (r == Io::Again) {
      if (!write_blocked_ || list == nullptr) arm(TimerKind::Write);
      write_blocked_ = true;
      return;
    }
    if (r != Io::Done) return close_soon(CloseReason::IoError);
    worker_.metrics().bytes_out.add(n);
    if (n > 0 && write_blocked_) write_blocked_ = false;
    n += sent_;
    std::size_t popped = 0;
    while (popped < queue_.size() && queue_[popped].ready && n >= queue_[popped].size()) {
      n -= queue_[popped].size();
      const bool close_after = !queue_[popped].keep_alive;
      worker_.give_buffer(std::move(queue_[popped].bytes));
      ++popped;
      if (close_after) {
        queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(popped));
        first_seq_ += popped;
        sent_ = 0;
        return close_soon(CloseReason::ResponseSaysClose);
      }
    }
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(popped));
    first_seq_ += popped;
    sent_ = n;
    if (sent_ > 0) {  // partial write: the socket buffer is full, wait for EPOLLOUT
      write_blocked_ = true;
      arm(TimerKind::Write);  // progress restarts the write timeout
      return;
    }
  }
}

void Connection::update_interest() {
  std::uint32_t want = 0;
  if (!stop_reading_ && !read_closed_ && pending_input_.empty() &&
      queue_.size() < worker_.options().max_pipeline_depth)
    want |= EPOLLIN;
  if (write_blocked_) want |= EPOLLOUT;
  if (want != interest_) {
    interest_ = want;
    worker_.reactor().modify(fd_, want, this);
  }
}

// --- timeouts ----------------------------------------------------------------------------------

bool Connection::idle() const noexcept { return queue_.empty() && !parser_.in_message(); }

// One timeout at a time, chosen by what the connection waits for: the client to read (write),
// the client to finish a request (head, from its first byte, never extended by progress), the
// next request (idle), or a handler (none: the handler owns that deadline, e.g. db's 503).
void Connection::update_timer() {
  if (write_blocked_) return;  // the write timeout, armed by flush()
  if (parser_.in_message()) {
    if (list == nullptr || timer_kind_ != TimerKind::Head) arm(TimerKind::Head);
  } else if (queue_.empty()) {
    if (list == nullptr || timer_kind_ != TimerKind::Idle) arm(TimerKind::Idle);
  } else {
    Worker::disarm_timer(*this);
  }
}

void Connection::arm(TimerKind kind) {
  timer_kind_ = kind;
  worker_.arm_timer(*this, kind);
}

void Connection::on_timeout(TimerKind kind) {
  if (closing_) return;
  switch (kind) {
    case TimerKind::Head:
      if (queue_.empty() && !stop_reading_) {
        reply_error(408, "Error: request timeout");  // then close; a client that does not
        after_io();                                  // read it meets the write timeout
      } else {
        close_soon(CloseReason::HeadTimeout);
      }
      return;
    case TimerKind::Idle:
      return close_soon(CloseReason::IdleTimeout);
    case TimerKind::Write:
      return close_soon(CloseReason::WriteTimeout);
  }
}

// --- drain and close ---------------------------------------------------------------------------

void Connection::start_drain() {
  if (closing_ || draining_) return;
  draining_ = true;
  // A request the client wrote before the signal may still sit unread in the socket buffer
  // (epoll reported it after the iteration that ran the drain began, or a reactor reads only a
  // batch of events per iteration). Read what is there now, so that it is answered (with
  // `Connection: close`, as dispatch() does while draining) instead of cut off by a close that
  // the client sees as a reset. Nothing that arrives later is read.
  if (!stop_reading_ && !read_closed_ && pending_input_.empty() &&
      queue_.size() < worker_.options().max_pipeline_depth) {
    on_readable();
    if (closing_) return;
  }
  // A request under way may still complete; anything after it is not read.
  if (!parser_.in_message()) stop_reading_ = true;
  after_io();
}

void Connection::close_soon(CloseReason why) {
  if (closing_) return;  // second call is a no-op
  closing_ = true;
  (void)why;  // no per-connection log line by default (DESIGN: no per-request logging)
  Worker::disarm_timer(*this);
  worker_.reactor().remove(fd_);
  Worker* w = &worker_;
  const std::uint32_t index = index_;
  worker_.reactor().defer([w, index] { w->release(index); });
}

// --- Responder ---------------------------------------------------------------------------------

Responder& Responder::operator=(Responder&& o) noexcept {
  if (this != &o) {
    if (worker_) send(500, kText, "Error: internal server error");
    worker_ = std::exchange(o.worker_, nullptr);
    home_ = o.home_;
    conn_index_ = o.conn_index_;
    generation_ = o.generation_;
    seq_ = o.seq_;
  }
  return *this;
}

Responder::~Responder() {
  if (worker_) send(500, kText, "Error: internal server error");
}

void Responder::send(int status, std::string_view content_type, std::string_view body,
                     std::initializer_list<ResponseHeader> headers) {
  Worker* w = std::exchange(worker_, nullptr);
  if (!w) return;
  if (Connection* c = w->find(conn_index_, generation_))
    c->fill(seq_, status, content_type, body, headers);
}

void Responder::send_cached(cache::ResponsePtr response, bool gzip) {
  Worker* w = std::exchange(worker_, nullptr);
  if (!w) return;
  if (Connection* c = w->find(conn_index_, generation_))
    c->fill_cached(seq_, std::move(response), gzip);
}

void Responder::abandon() noexcept { worker_ = nullptr; }

bool Responder::alive() const noexcept {
  if (!worker_) return false;
  const Connection* c = worker_->find(conn_index_, generation_);
  return c && !c->closing();
}

Reactor& Responder::reactor() const noexcept { return home_->reactor(); }

}  // namespace server
