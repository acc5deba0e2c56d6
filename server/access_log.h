// AccessLog: one line per answered request, off by default (--access-log PATH, '-' = stderr).
//
// Line format (logfmt, like the error log; fields always in this order):
//   ts=2024-05-01T12:00:00Z peer=127.0.0.1:41234 method=GET target="/reviews?product_id=2"
//   status=200 bytes=1536 us=412
// ts: the reactor's clock (second precision); bytes: the whole response, head and body;
// us: from the request's dispatch to its response being queued; target: in double quotes, with
// '"', '\' and control bytes escaped, cut to kMaxTarget bytes ("..." marks a cut).
//
// Cost: when off, record() is one relaxed load and a branch. When on, it formats into a
// buffer of the calling thread (no lock) and, on its first line of a loop iteration, asks the
// reactor to flush at the end of the iteration (Reactor::defer): one write(2) per reactor per
// loop iteration, or sooner once the buffer passes kFlushBytes. Lines are whole in every write,
// and the file is opened O_APPEND, so reactors' batches never interleave inside a line. A write
// that fails (disk full) drops that batch; nothing blocks beyond a write(2) to the file.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace server {

class Reactor;

class AccessLog {
 public:
  // Main thread, before the reactors start: "" = off, "-" = stderr (fd 2, wherever the error
  // log goes), else a file opened for appending (created 0640). Throws std::system_error.
  static void open(const std::string& path);
  // SIGHUP (signal thread): opens the file again after logrotate moved it; the reactors'
  // next writes go to the new file. Returns "" on success or when there is no file to reopen,
  // else the reason (the old file stays in use).
  [[nodiscard]] static std::string reopen();
  // The configured path ("" = off, "-" = stderr).
  [[nodiscard]] static std::string path();
  // Ends logging (tests). Not safe while reactors may still record.
  static void close();

  [[nodiscard]] static bool enabled() noexcept { return fd_.load(std::memory_order_relaxed) >= 0; }

  // Reactor thread: records one answered request. `peer` is "ip:port" (peer_of()), or empty.
  static void record(Reactor& reactor, std::string_view method, std::string_view target, int status,
                     std::size_t bytes, std::int64_t duration_us, std::string_view peer) {
    if (!enabled()) return;
    append(reactor, method, target, status, bytes, duration_us, peer);
  }

  // Writes this thread's buffered lines now (one write). Reactors get it done for them at the
  // end of each iteration; call it directly only outside a reactor (tests).
  static void flush_thread() noexcept;

  // "1.2.3.4:5678" / "[::1]:5678" of a connected socket (getpeername; "-" when unknown). A
  // syscall: call it once per connection, and only when enabled().
  [[nodiscard]] static std::string peer_of(int fd);

  // A target longer than this is cut: bounds a line (a request head may be 16 KiB).
  static constexpr std::size_t kMaxTarget = 2048;
  // A thread's buffer is written out once it holds this much, even mid-iteration: bounds the
  // buffer and the size of one write(2).
  static constexpr std::size_t kFlushBytes = 32 * 1024;

 private:
  static void append(Reactor& reactor, std::string_view method, std::string_view target, int status,
                     std::size_t bytes, std::int64_t duration_us, std::string_view peer);
  // -1: off. Once open, the number stays the same for the process's life: reopen() dup2()s
  // the new file onto it, so readers never see a closed or reused fd.
  static inline std::atomic<int> fd_{-1};
};

}  // namespace server
