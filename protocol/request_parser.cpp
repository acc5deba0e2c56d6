#include "protocol/request_parser.h"

#include <llhttp.h>

#include <algorithm>
#include <bit>
#include <cstring>

namespace protocol {

namespace {

constexpr bool is_tchar(unsigned char c) {
  // RFC 9110 5.6.2 token characters.
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

// Field values may hold HTAB, visible ASCII and obs-text; any other control byte (a bare CR
// above all: llhttp 8.1 lets it through, and a peer that splits lines on CR would see a second
// header there) is a smuggling attempt.
constexpr bool is_field_value_byte(unsigned char c) {
  return c == '\t' || (c >= 0x20 && c != 0x7f);
}

std::uint64_t load8(const char* p) noexcept {
  std::uint64_t w;
  std::memcpy(&w, p, sizeof w);
  return w;
}

// The high bit of each byte of `w` that is CR or LF (Hacker's Delight 6-1, "find a zero byte",
// on w^CR and w^LF). Bits above the lowest one may be false positives; the lowest is exact.
constexpr std::uint64_t cr_or_lf_mask(std::uint64_t w) noexcept {
  constexpr std::uint64_t kOnes = 0x0101010101010101ULL, kHighs = 0x8080808080808080ULL;
  const std::uint64_t a = w ^ (kOnes * '\r'), b = w ^ (kOnes * '\n');
  return (((a - kOnes) & ~a) | ((b - kOnes) & ~b)) & kHighs;
}

// The first CR or LF in [p, end), or `end`.
const char* find_cr_or_lf(const char* p, const char* end) noexcept {
  if constexpr (std::endian::native == std::endian::little) {
    for (; end - p >= 8; p += 8)
      if (const std::uint64_t m = cr_or_lf_mask(load8(p)); m != 0)
        return p + std::countr_zero(m) / 8;
  }
  while (p < end && *p != '\r' && *p != '\n') ++p;
  return p;
}

constexpr char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

Method method_of(int m) {
  switch (m) {
    case HTTP_GET:
      return Method::Get;
    case HTTP_HEAD:
      return Method::Head;
    case HTTP_POST:
      return Method::Post;
    case HTTP_PUT:
      return Method::Put;
    case HTTP_DELETE:
      return Method::Delete;
    case HTTP_OPTIONS:
      return Method::Options;
    case HTTP_PATCH:
      return Method::Patch;
    default:
      return Method::Other;
  }
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

std::string_view Request::header(std::string_view name) const noexcept {
  for (const auto& h : headers)
    if (iequals(h.name, name)) return h.value;
  return {};
}

// llhttp calls back into C functions; these forward to the parser that owns the llhttp_t.
// Data callbacks return HPE_USER to stop, notification callbacks -1; fail() records the reason.
struct RequestParser::Callbacks {
  static RequestParser& self(llhttp_t* p) { return *static_cast<RequestParser*>(p->data); }

  static int on_message_begin(llhttp_t* p) {
    self(p).begin_message();
    return 0;
  }

  static int on_url(llhttp_t* p, const char* at, std::size_t len) {
    auto& s = self(p);
    if (s.target_.len + len > s.limits_.max_target) return s.fail(ParseError::TargetTooLong);
    s.buf_.append(at, len);
    s.target_.len += static_cast<std::uint32_t>(len);
    return 0;
  }

  static int on_version(llhttp_t* p, const char*, std::size_t) {
    self(p).version_seen_ = true;
    return 0;
  }

  static int on_version_complete(llhttp_t* p) {
    if (p->method == HTTP_PRI) return self(p).fail(ParseError::Malformed);  // h2 preface
    if (p->http_major != 1 || p->http_minor > 1)
      return self(p).fail(ParseError::UnsupportedVersion);
    return 0;
  }

  static int on_header_field(llhttp_t* p, const char* at, std::size_t len) {
    auto& s = self(p);
    // llhttp 8.1 accepts a space or control byte inside a name; a token is all RFC 9110 allows.
    for (std::size_t i = 0; i < len; ++i)
      if (!is_tchar(static_cast<unsigned char>(at[i]))) return s.fail(ParseError::Malformed);
    if (len == 0) return 0;  // an empty name fails in on_header_field_complete
    s.head_bytes_ += len;
    if (!s.name_open_) {
      s.head_bytes_ += 4;  // ": " and CRLF, so that empty headers still count
      s.name_open_ = true;
      if (!s.headers_done_) {  // a trailer (after a chunked body) is checked, not kept
        if (s.raw_headers_.size() >= s.limits_.max_headers)
          return s.fail(ParseError::HeadersTooLarge);
        const auto off = static_cast<std::uint32_t>(s.buf_.size());
        s.raw_headers_.push_back({{off, 0}, {off, 0}});
      }
    }
    if (s.head_bytes_ > s.limits_.max_head) return s.fail(ParseError::HeadersTooLarge);
    if (s.headers_done_) return 0;
    s.buf_.append(at, len);
    s.raw_headers_.back().name.len += static_cast<std::uint32_t>(len);
    return 0;
  }

  static int on_header_field_complete(llhttp_t* p) {
    auto& s = self(p);
    if (!s.name_open_) return s.fail(ParseError::Malformed);  // empty name: llhttp 8.1 allows it
    s.name_open_ = false;
    s.expect_value_ = true;
    if (!s.headers_done_ && !s.raw_headers_.empty())
      s.raw_headers_.back().value.off = static_cast<std::uint32_t>(s.buf_.size());
    return 0;
  }

  static int on_header_value(llhttp_t* p, const char* at, std::size_t len) {
    auto& s = self(p);
    for (std::size_t i = 0; i < len; ++i)
      if (!is_field_value_byte(static_cast<unsigned char>(at[i])))
        return s.fail(ParseError::Malformed);
    s.head_bytes_ += len;
    if (s.head_bytes_ > s.limits_.max_head) return s.fail(ParseError::HeadersTooLarge);
    if (!s.value_open_ && !s.expect_value_) return s.fail(ParseError::Malformed);  // ": v"
    s.value_open_ = true;
    if (s.headers_done_ || s.raw_headers_.empty()) return 0;
    s.buf_.append(at, len);
    s.raw_headers_.back().value.len += static_cast<std::uint32_t>(len);
    return 0;
  }

  static int on_header_value_complete(llhttp_t* p) {
    self(p).value_open_ = false;
    self(p).expect_value_ = false;
    return 0;
  }

  static int on_headers_complete(llhttp_t* p) {
    auto& s = self(p);
    s.headers_done_ = true;
    // HTTP/0.9 shape (no version): llhttp 8.1 still reads headers after it.
    if (!s.version_seen_) return s.fail(ParseError::Malformed);
    if (p->http_major != 1 || p->http_minor > 1) return s.fail(ParseError::UnsupportedVersion);
    // Upgrade, CONNECT and (via the h2 preface) PRI switch protocols: we speak only HTTP/1.x,
    // and llhttp would pause mid-stream, so refuse them here rather than hang.
    if (p->upgrade || p->method == HTTP_CONNECT || p->method == HTTP_PRI)
      return s.fail(ParseError::Malformed);
    int content_lengths = 0, transfer_encodings = 0;
    for (const auto& h : s.raw_headers_) {
      const std::string_view name(s.buf_.data() + h.name.off, h.name.len);
      if (iequals(name, "content-length")) {
        ++content_lengths;
      } else if (iequals(name, "transfer-encoding")) {
        ++transfer_encodings;
        if (!iequals(trim({s.buf_.data() + h.value.off, h.value.len}), "chunked"))
          return s.fail(ParseError::UnsupportedEncoding);
      }
    }
    // Framing must be unambiguous: one Content-Length (even repeated identical ones are refused)
    // or one `Transfer-Encoding: chunked`, never both.
    if (content_lengths > 1 || transfer_encodings > 1 || (content_lengths && transfer_encodings))
      return s.fail(ParseError::Malformed);
    if ((p->flags & F_CONTENT_LENGTH) && p->content_length > s.limits_.max_body)
      return s.fail(ParseError::BodyTooLarge);
    s.keep_alive_ = llhttp_should_keep_alive(p) != 0;
    return 0;
  }

  static int on_body(llhttp_t* p, const char* at, std::size_t len) {
    auto& s = self(p);
    if (s.body_.len + len > s.limits_.max_body) return s.fail(ParseError::BodyTooLarge);
    if (s.body_.len == 0) s.body_.off = static_cast<std::uint32_t>(s.buf_.size());
    s.body_spans_.push_back({at, at + len});  // exempt from the line-ending scan
    s.buf_.append(at, len);
    s.body_.len += static_cast<std::uint32_t>(len);
    return 0;
  }

  static int on_chunk_extension(llhttp_t* p, const char*, std::size_t len) {
    // Chunk extensions are ignored but bounded, or a client could stream them forever.
    auto& s = self(p);
    s.head_bytes_ += len;
    if (s.head_bytes_ > s.limits_.max_head) return s.fail(ParseError::HeadersTooLarge);
    return 0;
  }

  static int on_message_complete(llhttp_t* p) {
    auto& s = self(p);
    s.complete_ = true;
    s.in_message_ = false;
    return HPE_PAUSED;  // one request per feed(): pipelined ones wait for the caller
  }

  static const llhttp_settings_t& settings() {
    static const llhttp_settings_t kSettings = [] {
      llhttp_settings_t st;
      llhttp_settings_init(&st);
      st.on_message_begin = on_message_begin;
      st.on_url = on_url;
      st.on_version = on_version;
      st.on_version_complete = on_version_complete;
      st.on_header_field = on_header_field;
      st.on_header_field_complete = on_header_field_complete;
      st.on_header_value = on_header_value;
      st.on_header_value_complete = on_header_value_complete;
      st.on_headers_complete = on_headers_complete;
      st.on_body = on_body;
      st.on_chunk_extension_name = on_chunk_extension;
      st.on_chunk_extension_value = on_chunk_extension;
      st.on_message_complete = on_message_complete;
      return st;
    }();
    return kSettings;
  }
};

RequestParser::RequestParser(const Limits& limits)
    : limits_(limits), parser_(std::make_unique<llhttp_t>()) {
  reset();
}

RequestParser::~RequestParser() = default;

void RequestParser::reset() {
  llhttp_init(parser_.get(), HTTP_REQUEST, &Callbacks::settings());
  parser_->data = this;
  error_ = ParseError::None;
  complete_ = false;
  prev_cr_ = prev_lf_ = false;
  in_message_ = false;
  begin_message();
  in_message_ = false;
}

void RequestParser::begin_message() {
  buf_.clear();
  raw_headers_.clear();
  target_ = {};
  body_ = {};
  head_bytes_ = 0;
  name_open_ = false;
  value_open_ = false;
  expect_value_ = false;
  headers_done_ = false;
  version_seen_ = false;
  keep_alive_ = true;
  in_message_ = true;
}

// llhttp 8.1, even compiled strict, accepts a bare LF after the request line and after the
// last header, and reports an obs-fold line as part of the value (joined, CRLF dropped, and
// across feed() boundaries indistinguishable from a split value). So every byte outside the
// body is checked here: CR must come before LF and LF after CR, and no line may start with
// whitespace. State carries across feed() calls.
bool RequestParser::framing_ok(std::string_view consumed) {
  const char* p = consumed.data();
  const char* const end = p + consumed.size();
  // Locals, not the members: stores through `this` inside a char loop cannot be kept in
  // registers (char may alias anything), which made this scan ~13 instructions a byte.
  bool cr = prev_cr_, lf = prev_lf_;
  std::size_t next_span = 0;
  while (p < end) {
    if (next_span < body_spans_.size() && p == body_spans_[next_span].first) {
      p = body_spans_[next_span++].second;
      cr = lf = false;
      continue;
    }
    // Up to the next body span (or the end): only CR, LF and the byte after an LF matter.
    const char* stop = end;
    if (next_span < body_spans_.size() && body_spans_[next_span].first > p &&
        body_spans_[next_span].first < end)
      stop = body_spans_[next_span].first;
    while (p < stop) {
      if (!cr && !lf) {  // in the middle of a line: skip to the next CR or LF, 8 bytes a step
        p = find_cr_or_lf(p, stop);
        if (p == stop) break;
      }
      const char c = *p++;
      if (cr != (c == '\n') || (lf && (c == ' ' || c == '\t'))) {
        if (error_ == ParseError::None) error_ = ParseError::Malformed;
        return false;
      }
      cr = c == '\r';
      lf = c == '\n';
    }
  }
  prev_cr_ = cr;
  prev_lf_ = lf;
  return true;
}

int RequestParser::fail(ParseError err) {
  if (error_ == ParseError::None) error_ = err;
  return HPE_USER;  // -1 would do for notification callbacks; HPE_USER works for both kinds
}

RequestParser::Result RequestParser::feed(std::string_view data) {
  if (error_ != ParseError::None) return {Status::Error, 0};
  if (complete_) {
    complete_ = false;
    llhttp_resume(parser_.get());
  }
  if (data.empty()) return {Status::NeedMore, 0};
  // The first byte of a request may be a CR/LF llhttp skips without a callback; the message is
  // under way all the same (the head timeout must run).
  in_message_ = true;
  body_spans_.clear();
  const llhttp_errno_t rc = llhttp_execute(parser_.get(), data.data(), data.size());
  const auto consumed_at = [&] {
    // After HPE_OK llhttp's error position is stale (left from the previous request's pause,
    // possibly in another buffer): the whole input was consumed.
    if (rc == HPE_OK) return data.size();
    const char* pos = llhttp_get_error_pos(parser_.get());
    return pos ? static_cast<std::size_t>(pos - data.data()) : data.size();
  };
  switch (rc) {
    case HPE_OK:
      if (!framing_ok(data)) break;
      return {Status::NeedMore, data.size()};
    case HPE_PAUSED:
      if (complete_ && framing_ok(data.substr(0, consumed_at()))) {
        finish_request();
        return {Status::Complete, consumed_at()};
      }
      break;
    case HPE_INVALID_METHOD:
      if (error_ == ParseError::None) error_ = ParseError::UnknownMethod;
      break;
    case HPE_INVALID_VERSION:
      // Well-formed digits llhttp does not accept (1.2, 3.0) are a version we do not speak;
      // anything else in that place is garbage.
      if (error_ == ParseError::None && parser_->reason &&
          std::string_view(parser_->reason) == "Invalid HTTP version")
        error_ = ParseError::UnsupportedVersion;
      break;
    default:
      break;
  }
  // Everything else, including HPE_PAUSED_UPGRADE and HPE_PAUSED_H2_UPGRADE, is a dead stream.
  if (error_ == ParseError::None) error_ = ParseError::Malformed;
  complete_ = false;
  return {Status::Error, consumed_at()};
}

void RequestParser::finish_request() {
  const std::string_view all(buf_);
  req_.method = method_of(parser_->method);
  req_.method_name = llhttp_method_name(static_cast<llhttp_method_t>(parser_->method));
  std::string_view target = all.substr(target_.off, target_.len);
  req_.target = target;
  // absolute-form (RFC 9112 3.2.2): servers must accept it; route on its path.
  if (target.size() > 7 &&
      (iequals(target.substr(0, 7), "http://") || iequals(target.substr(0, 8), "https://"))) {
    const auto slash = target.find('/', target.find("//") + 2);
    target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
  }
  const auto q = target.find('?');
  req_.path = target.substr(0, q);
  req_.query = q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
  req_.headers.clear();
  for (const auto& h : raw_headers_)
    req_.headers.push_back(
        {all.substr(h.name.off, h.name.len), trim(all.substr(h.value.off, h.value.len))});
  req_.body = all.substr(body_.off, body_.len);
  req_.version_minor = parser_->http_minor;
  req_.keep_alive = keep_alive_;
}

}  // namespace protocol
