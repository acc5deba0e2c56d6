// ResponseWriter: an HTTP/1.1 response (status line, headers, body) appended to a string.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace protocol {

// "OK", "Not Found", ...: the phrase of every status this server sends ("Unknown" otherwise).
[[nodiscard]] std::string_view reason_phrase(int status) noexcept;

// The `Date` header value, formatted at most once per second. Not thread-safe: one per reactor.
class DateCache {
 public:
  // IMF-fixdate for `unix_seconds`, e.g. "Thu, 30 Jul 2020 03:41:21 GMT". The view stays valid
  // until the next call with a different second.
  [[nodiscard]] std::string_view get(std::int64_t unix_seconds);

 private:
  std::int64_t second_ = -1;
  char text_[32] = {};
  std::size_t len_ = 0;
};

// What a response needs to know about its request and its connection.
struct ResponseContext {
  std::string_view date;         // DateCache::get(); empty leaves the header out
  std::string_view cors_origin;  // Access-Control-Allow-Origin; empty leaves it out
  bool head_only = false;        // HEAD request: every header, no body
  bool keep_alive = true;        // false adds `Connection: close`
  bool http10 = false;           // HTTP/1.0 keep-alive must be announced explicitly
};

// Usage: start(status), any header() calls, then exactly one finish(). The writer only appends
// to `out`, so several responses (pipelining) can share one buffer.
class ResponseWriter {
 public:
  ResponseWriter(std::string& out, const ResponseContext& ctx) noexcept : out_(out), ctx_(ctx) {}

  void start(int status);
  // start(200) with the status line, Date and CORS lines taken from `common`, which must be
  // common_head(200, ctx) of this writer's date and origin: a caller that keeps it per second
  // copies one block instead of assembling it per response.
  void start_ok(std::string_view common);
  // The status line, Date and Access-Control-Allow-Origin lines of `ctx` (not its connection
  // lines), for start_ok().
  [[nodiscard]] static std::string common_head(int status, const ResponseContext& ctx);
  void header(std::string_view name, std::string_view value);
  // Content-Type (unless empty), Content-Length, the blank line, then the body unless HEAD,
  // 204 or 304 (which also get no Content-Length: 204 must not have one, 304 would describe
  // the full representation).
  void finish(std::string_view content_type, std::string_view body);

 private:
  void start_common(int status);  // status line, Date, Access-Control-Allow-Origin
  void start_connection();        // Connection: close / keep-alive when needed

  std::string& out_;
  const ResponseContext& ctx_;
  int status_ = 200;
};

}  // namespace protocol
