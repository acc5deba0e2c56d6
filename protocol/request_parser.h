// RequestParser: one HTTP/1.1 request at a time out of a byte stream, on top of llhttp (strict,
// no lenient flags), with the limits and smuggling checks a server facing the internet needs.
//
// Contract
// - Single-threaded; one parser per connection, reused for every request on it.
// - feed() consumes bytes until one request is complete, an error is found, or the input runs
//   out. Pipelined requests come out one per feed(): after Complete, call feed() again with the
//   bytes past `consumed` (and later input) to get the next one.
// - request() returns views into a buffer the parser owns. They stay valid until the next
//   feed() or reset(). A handler that answers later must copy what it needs.
// - After Error the parser is dead until reset(); error() says why and error_reply() (in
//   error_reply.h) says what to answer. The connection must be closed after that answer.
#pragma once

#include "protocol/error_reply.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

struct llhttp__internal_s;  // llhttp_t; kept out of this header so llhttp.h stays private

namespace protocol {

// Size limits of one request. Defaults are what a JSON API behind browsers needs, no more.
struct Limits {
  // Request target (path + query). Browsers cap URLs near 8 KiB and our longest real target is
  // well under 200 bytes; longer is an attack or a bug: 414.
  std::size_t max_target = 8 * 1024;
  // Whole header block (names + values). 16 KiB holds every real client's head (cookies
  // included) and bounds per-connection memory at 10k connections: 431.
  std::size_t max_head = 16 * 1024;
  // Header count. Real clients send 5-20; hash-flooding and parser-cost attacks send thousands:
  // 431.
  std::size_t max_headers = 64;
  // Body (after de-chunking). POST /reviews bodies are at most 64 KiB by contract (API.md): 413.
  std::size_t max_body = 64 * 1024;
};

enum class Method : std::uint8_t { Get, Head, Post, Put, Delete, Options, Patch, Other };

struct Header {
  std::string_view name;   // as sent (case preserved); compare case-insensitively
  std::string_view value;  // leading and trailing whitespace removed
};

struct Request {
  Method method = Method::Other;
  std::string_view method_name;  // "GET", "PROPFIND", ...
  std::string_view target;       // "/reviews?product_id=1"
  std::string_view path;         // "/reviews" (not percent-decoded)
  std::string_view query;        // "product_id=1" (without '?'; empty when absent)
  std::vector<Header> headers;
  std::string_view body;   // de-chunked
  int version_minor = 1;   // HTTP/1.<minor>, 0 or 1
  bool keep_alive = true;  // HTTP/1.1 unless `Connection: close`; 1.0 needs `keep-alive`

  // First header with this name (ASCII case-insensitive), or empty when absent.
  [[nodiscard]] std::string_view header(std::string_view name) const noexcept;
};

[[nodiscard]] bool iequals(std::string_view a, std::string_view b) noexcept;

class RequestParser {
 public:
  enum class Status : std::uint8_t { NeedMore, Complete, Error };
  struct Result {
    Status status;
    std::size_t consumed;  // bytes of `data` used; the rest belongs to the next request
  };

  explicit RequestParser(const Limits& limits = {});
  ~RequestParser();
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;

  // Parses as much of `data` as one request needs. NeedMore: all of `data` was consumed.
  [[nodiscard]] Result feed(std::string_view data);
  // The request of the last Complete feed().
  [[nodiscard]] const Request& request() const noexcept { return req_; }
  [[nodiscard]] ParseError error() const noexcept { return error_; }
  // True while part of a request has arrived and the rest has not (head timeout applies).
  [[nodiscard]] bool in_message() const noexcept { return in_message_; }
  // Forgets everything, including an error: the next byte starts a new request.
  void reset();

 private:
  struct Callbacks;
  struct Span {
    std::uint32_t off = 0, len = 0;
  };
  struct RawHeader {
    Span name, value;
  };

  void begin_message();
  int fail(ParseError err);
  [[nodiscard]] bool framing_ok(std::string_view consumed);
  void finish_request();

  Limits limits_;
  std::unique_ptr<::llhttp__internal_s> parser_;
  std::string buf_;  // target, header names and values, body: one allocation reused per request
  Span target_;
  std::vector<RawHeader> raw_headers_;
  Span body_;
  std::size_t head_bytes_ = 0;
  std::vector<std::pair<const char*, const char*>> body_spans_;  // body bytes of this feed()
  bool prev_cr_ = false, prev_lf_ = false;                       // framing_ok() state across feeds
  bool name_open_ = false;     // inside a header name (llhttp may deliver it in pieces)
  bool value_open_ = false;    // inside a header value
  bool expect_value_ = false;  // a name was completed: a value (possibly empty) follows
  bool headers_done_ = false;  // past the head: header callbacks now carry chunked trailers
  bool version_seen_ = false;
  bool in_message_ = false;
  bool complete_ = false;  // paused at on_message_complete; next feed() resumes
  bool keep_alive_ = true;
  ParseError error_ = ParseError::None;
  Request req_;
};

}  // namespace protocol
