// PgListener: see pg_listener.h. A connection's life: connect → send LISTEN → listening (read
// notifications) → lost → backoff → connect.
#include "db/pg_listener.h"

#include "db/log.h"
#include "db/pg.h"

#include <fmt/format.h>
#include <sys/epoll.h>

#include <algorithm>

namespace db {

namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

// Soon after a restart, then once a second in an outage: one connection per instance is cheap,
// and /readyz waits for it (the cache must not serve writes it cannot hear about).
constexpr milliseconds kFirstBackoff = 100ms;
constexpr milliseconds kMaxBackoff = 1s;
// libpq does not time out a non-blocking connect.
constexpr milliseconds kConnectTimeout = 5s;

}  // namespace

class PgListener::Impl {
 public:
  Impl(EventLoop& loop, std::string conninfo, std::string channel, Callbacks cb)
      : loop_(loop),
        conninfo_(std::move(conninfo)),
        channel_(std::move(channel)),
        cb_(std::move(cb)) {
    start_connect();
  }

  ~Impl() {
    if (timer_) loop_.cancel(timer_);
    close();
  }

  bool listening() const noexcept { return state_ == State::Listening; }
  unsigned long connects() const noexcept { return connects_; }

 private:
  enum class State { Backoff, Connecting, SentListen, Listening };

  void start_connect() {
    timer_ = 0;
    state_ = State::Connecting;
    pg_.reset(PQconnectStart(conninfo_.c_str()));
    if (!pg_ || PQstatus(pg_.get()) == CONNECTION_BAD) {
      return lost(pg_ ? trimmed(PQerrorMessage(pg_.get())) : "out of memory");
    }
    PQsetNoticeProcessor(pg_.get(), ignore_notice, nullptr);
    timer_ = loop_.call_after(kConnectTimeout, [this] {
      timer_ = 0;
      lost(fmt::format("no connection within {} ms", kConnectTimeout.count()));
    });
    watch(EPOLLOUT);  // libpq: wait for writability before the first PQconnectPoll
  }

  // Re-registered after every PQconnectPoll step: libpq may switch sockets between addresses.
  void watch(std::uint32_t events) {
    if (watch_) loop_.unwatch(watch_);
    watch_ = nullptr;
    const int fd = PQsocket(pg_.get());
    if (fd < 0) return lost("libpq has no socket");
    try {
      watch_ = loop_.watch(fd, events, [this](std::uint32_t ev) { on_io(ev); });
    } catch (const std::exception& e) {
      lost(fmt::format("cannot watch the socket: {}", e.what()));
    }
  }

  void on_io(std::uint32_t events) {
    if (state_ == State::Connecting) return on_connect_io();
    if (events & EPOLLOUT) {
      const int f = PQflush(pg_.get());
      if (f < 0) return lost(trimmed(PQerrorMessage(pg_.get())));
      if (f == 0) loop_.rewatch(watch_, EPOLLIN);
    }
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable();
  }

  void on_connect_io() {
    switch (PQconnectPoll(pg_.get())) {
      case PGRES_POLLING_OK:
        return on_connected();
      case PGRES_POLLING_READING:
        return watch(EPOLLIN);
      case PGRES_POLLING_WRITING:
        return watch(EPOLLOUT);
      default:
        return lost(trimmed(PQerrorMessage(pg_.get())));
    }
  }

  void on_connected() {
    if (timer_) loop_.cancel(timer_);
    timer_ = 0;
    if (PQsetnonblocking(pg_.get(), 1) != 0 ||
        !PQsendQuery(pg_.get(), fmt::format("LISTEN \"{}\"", channel_).c_str())) {
      return lost(trimmed(PQerrorMessage(pg_.get())));
    }
    state_ = State::SentListen;
    const int f = PQflush(pg_.get());
    if (f < 0) return lost(trimmed(PQerrorMessage(pg_.get())));
    watch(f == 1 ? EPOLLIN | EPOLLOUT : EPOLLIN);
  }

  void on_readable() {
    if (!PQconsumeInput(pg_.get())) return lost(trimmed(PQerrorMessage(pg_.get())));
    while (!PQisBusy(pg_.get())) {  // PQgetResult would block otherwise
      PgResultPtr r(PQgetResult(pg_.get()));
      if (!r) break;
      if (state_ != State::SentListen) continue;  // nothing else is ever sent
      if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) {
        return lost("LISTEN failed: " + trimmed(PQresultErrorMessage(r.get())));
      }
      state_ = State::Listening;
      ++connects_;
      if (down_) log_line(LogSeverity::Info, "LISTEN {} is back", channel_);
      down_ = false;
      backoff_ = kFirstBackoff;
      if (cb_.on_listening) cb_.on_listening();
    }
    while (PGnotify* n = PQnotifies(pg_.get())) {
      const std::string payload = n->extra ? n->extra : "";
      const bool ours = channel_ == n->relname;
      PQfreemem(n);
      if (ours && cb_.on_notify) cb_.on_notify(payload);
    }
    if (PQstatus(pg_.get()) == CONNECTION_BAD) lost(trimmed(PQerrorMessage(pg_.get())));
  }

  void lost(const std::string& why) {
    const bool was_listening = state_ == State::Listening;
    if (!down_) {
      log_line(LogSeverity::Warn, "LISTEN {} lost: {}; reconnecting with backoff", channel_, why);
      down_ = true;
    }
    close();
    state_ = State::Backoff;
    if (timer_) loop_.cancel(timer_);
    timer_ = loop_.call_after(backoff_, [this] { start_connect(); });
    backoff_ = std::min(backoff_ * 2, kMaxBackoff);
    if (was_listening && cb_.on_lost) cb_.on_lost();
  }

  void close() {
    if (watch_) loop_.unwatch(watch_);  // before PQfinish closes the fd
    watch_ = nullptr;
    pg_.reset();
  }

  EventLoop& loop_;
  const std::string conninfo_;
  const std::string channel_;
  Callbacks cb_;
  PgConnPtr pg_;
  EventLoop::Watch* watch_ = nullptr;
  std::uint64_t timer_ = 0;
  State state_ = State::Connecting;
  milliseconds backoff_ = kFirstBackoff;
  bool down_ = false;
  unsigned long connects_ = 0;
};

PgListener::PgListener(EventLoop& loop, std::string conninfo, std::string channel,
                       Callbacks callbacks)
    : impl_(std::make_unique<Impl>(loop, std::move(conninfo), std::move(channel),
                                   std::move(callbacks))) {}
PgListener::~PgListener() = default;
bool PgListener::listening() const noexcept { return impl_->listening(); }
unsigned long PgListener::connects() const noexcept { return impl_->connects(); }

}  // namespace db
