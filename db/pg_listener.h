// PgListener: one dedicated connection that LISTENs on a channel and hands every notification to
// a callback. The response cache's link to writes made by other instances (or by psql).
//
// Threading: belongs to one EventLoop (a reactor); every method and callback runs on its thread.
// Nothing blocks: connecting and reading are driven by readiness, like PgPool.
//
// Contract:
// - on_listening() runs each time LISTEN takes effect: at start and after every reconnect.
//   Notifications sent while the connection was down are lost for good, so the caller must treat
//   this as "anything may have changed" (the cache drops everything).
// - on_notify(payload) runs once per notification received on the channel, in order.
// - A lost connection is reconnected with backoff (100 ms doubling to 1 s), logged once when it
//   goes down and once when it is back.
#pragma once

#include "db/event_loop.h"

#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace db {

class PgListener {
 public:
  struct Callbacks {
    std::function<void(std::string_view payload)> on_notify;
    std::function<void()> on_listening;
    std::function<void()> on_lost;  // LISTEN was in effect and the connection is gone
  };

  // `channel` must be a plain identifier (it is quoted, not escaped).
  PgListener(EventLoop& loop, std::string conninfo, std::string channel, Callbacks callbacks);
  ~PgListener();
  PgListener(const PgListener&) = delete;
  PgListener& operator=(const PgListener&) = delete;

  // True while LISTEN is in effect.
  [[nodiscard]] bool listening() const noexcept;
  // Times LISTEN took effect (1 after the first connect; more after reconnects).
  [[nodiscard]] unsigned long connects() const noexcept;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace db
