// Connection: one client socket from accept to close, owned by one Worker (one reactor thread).
// connection.cpp reads top to bottom in lifecycle order: start, read, parse, dispatch, fill,
// flush, timeouts, drain, close.
#pragma once

#include "cache/response_cache.h"
#include "protocol/request_parser.h"
#include "server/handler.h"
#include "server/reactor.h"
#include "server/timer_list.h"

#include <cstdint>
#include <string>
#include <vector>

namespace server {

class Worker;

enum class TimerKind : std::uint8_t { Head, Idle, Write };

enum class CloseReason : std::uint8_t {
  PeerClosed,
  IoError,
  ResponseSaysClose,
  HeadTimeout,
  IdleTimeout,
  WriteTimeout,
  Drained,
  Shutdown
};

class Connection final : public IoHandler, public TimerList::Node {
 public:
  Connection(Worker& worker, int fd, std::uint32_t index, std::uint32_t generation);
  ~Connection();  // closes the fd; only Worker::release calls it, at the end of a loop iteration
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Registers with the reactor and starts the head timeout.
  void start();
  void on_io(std::uint32_t events) override;
  void on_timeout(TimerKind kind);
  // Responder::send lands here. Ignores slots already filled or gone.
  void fill(std::uint64_t seq, int status, std::string_view content_type, std::string_view body,
            std::initializer_list<ResponseHeader> headers);
  // Responder::send_cached lands here: a 200 whose head and body come from a cached response,
  // sent from the shared value without copying (gzip: its compressed variant).
  void fill_cached(std::uint64_t seq, cache::ResponsePtr response, bool gzip);
  // Graceful stop: finish what is in flight with `Connection: close`, close when idle.
  void start_drain();
  // Deferred, idempotent close (STYLE.md 5): the fd leaves epoll now, the object and the fd go
  // at the end of the loop iteration.
  void close_soon(CloseReason why);

  [[nodiscard]] bool closing() const noexcept { return closing_; }
  [[nodiscard]] std::uint32_t index() const noexcept { return index_; }

 private:
  // One request's place in the response queue. Filled in any order, sent in order.
  struct Slot {
    std::string bytes;  // formatted response (or, with `shared`, its per-connection head)
    // A cached response: its header lines and body are written straight from the shared value,
    // after `bytes`. The views point into *shared, which the slot keeps alive.
    cache::ResponsePtr shared;
    std::string_view shared_head, shared_body;
    [[nodiscard]] std::size_t size() const noexcept {
      return bytes.size() + shared_head.size() + shared_body.size();
    }
    std::string log_method, log_target;  // for the access log, only when it is on
    std::size_t route = 0;               // Router::Match::route, for metrics
    std::int64_t start_us = 0;           // when the request was parsed (CLOCK_MONOTONIC)
    bool ready = false;
    bool head_only = false;  // HEAD: no body
    bool keep_alive = true;  // false: close after this response, nothing after it is read
    bool http10 = false;
  };

  void on_readable();
  void consume(std::string_view data);
  void dispatch(const protocol::Request& req);
  Slot& push_slot(bool head_only, bool keep_alive, bool http10, std::size_t route);
  void reply_error(int status, std::string_view body);
  void after_io();
  void flush();
  void update_interest();
  void update_timer();
  void arm(TimerKind kind);
  [[nodiscard]] bool idle() const noexcept;

  Worker& worker_;
  const int fd_;
  const std::uint32_t index_;
  const std::uint32_t generation_;
  protocol::RequestParser parser_;
  std::vector<Slot> queue_;                 // bounded by ServeOptions::max_pipeline_depth
  std::uint64_t first_seq_ = 0;             // sequence number of queue_.front()
  std::size_t sent_ = 0;                    // bytes of queue_.front() already written (all pieces)
  std::string pending_input_;               // read but not parsed yet (queue was full)
  std::string peer_;                        // "ip:port", only when the access log is on
  std::uint32_t interest_ = 0;              // events currently registered in epoll
  TimerKind timer_kind_ = TimerKind::Head;  // meaningful while TimerList::Node::list is set
  bool closing_ = false;
  bool stop_reading_ = false;   // a response will close the connection: read no more
  bool read_closed_ = false;    // peer sent FIN: answer what we have, then close
  bool write_blocked_ = false;  // socket buffer full: waiting for EPOLLOUT
  bool draining_ = false;
  bool in_consume_ = false;  // responses filled now are flushed by after_io(), not fill()
  Slot* slot_to_fill(std::uint64_t seq) noexcept;
  void slot_ready(Slot& s, int status);
};

}  // namespace server
