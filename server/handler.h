// The interface between the HTTP engine and the code that answers requests.
//
// A handler is called on a reactor thread with the parsed request, its route parameters and a
// Responder: a handle on the request's place in its connection's response queue. The handler
// answers through the Responder either before returning (cache hit, error, health) or later,
// from the same reactor thread, e.g. when a database result arrives. Responses leave the
// connection in request order whatever order they are filled in.
//
// Lifetimes
// - `req` and `params` are views into the connection's parser buffer: valid only during the
//   call. A handler that answers later copies what it needs first.
// - The Responder is move-only and may be kept anywhere on its reactor thread. If the client
//   has gone away meanwhile, send() is a safe no-op (the handle checks the connection's
//   generation; it never touches freed memory). Check alive() to skip work nobody will read.
// - A Responder destroyed without send() answers 500, so a forgotten path never hangs a client.
#pragma once

#include "cache/response_cache.h"
#include "protocol/request_parser.h"

#include <array>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string_view>
#include <utility>

namespace server {

class Reactor;
class Worker;

// Route parameters (`/reviews/:product_id/list`): names from the route, raw (undecoded) values.
struct RouteParams {
  static constexpr std::size_t kMax = 4;
  std::array<std::pair<std::string_view, std::string_view>, kMax> items{};
  std::size_t size = 0;
  [[nodiscard]] std::string_view get(std::string_view name) const noexcept {
    for (std::size_t i = 0; i < size; ++i)
      if (items[i].first == name) return items[i].second;
    return {};
  }
};

struct ResponseHeader {
  std::string_view name, value;
};

inline constexpr std::string_view kJson = "application/json; charset=utf-8";
inline constexpr std::string_view kText = "text/plain; charset=utf-8";

class Responder {
 public:
  Responder() = default;
  Responder(Worker* worker, std::uint32_t conn_index, std::uint32_t generation,
            std::uint64_t seq) noexcept
      : worker_(worker),
        home_(worker),
        conn_index_(conn_index),
        generation_(generation),
        seq_(seq) {}
  Responder(Responder&& o) noexcept { *this = std::move(o); }
  Responder& operator=(Responder&& o) noexcept;
  Responder(const Responder&) = delete;
  Responder& operator=(const Responder&) = delete;
  ~Responder();

  // Fills the slot: status, Content-Type (may be empty), body, extra headers (Allow, ETag,
  // Retry-After, ...). Date, CORS, Content-Length and Connection are added by the engine; for
  // HEAD the body is left out. At most once; later calls are ignored. Reactor thread only.
  void send(int status, std::string_view content_type, std::string_view body,
            std::initializer_list<ResponseHeader> headers = {});
  // A 200 from the response cache: the engine adds the status line and per-connection headers
  // (Date, CORS, Connection) and writes the value's head and body (or their gzip variant) as
  // they are. Same rules as send().
  void send_cached(cache::ResponsePtr response, bool gzip);
  // Gives the slot up without answering, for a Responder that must be destroyed off its reactor
  // thread (its connection is being torn down anyway). Any thread.
  void abandon() noexcept;
  // Shorthand for the text/plain error bodies of API.md ("Error: ...").
  void send_text(int status, std::string_view body) { send(status, kText, body); }

  // False once the client is gone (or after send()): further work would be wasted.
  [[nodiscard]] bool alive() const noexcept;
  // The reactor this request lives on: schedule timers, register fds, find per-thread state.
  // Precondition: the Responder came from the engine (not default-constructed).
  [[nodiscard]] Reactor& reactor() const noexcept;

 private:
  Worker* worker_ = nullptr;  // null once sent
  Worker* home_ = nullptr;    // the worker, even after send()
  std::uint32_t conn_index_ = 0;
  std::uint32_t generation_ = 0;
  std::uint64_t seq_ = 0;
};

using Handler =
    std::function<void(const protocol::Request& req, const RouteParams& params, Responder res)>;

}  // namespace server
