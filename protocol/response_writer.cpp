#include "protocol/response_writer.h"

#include <fmt/format.h>

#include <array>
#include <cstring>
#include <ctime>
#include <string>

namespace protocol {

std::string_view reason_phrase(int status) noexcept {
  switch (status) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 204:
      return "No Content";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 422:
      return "Unprocessable Content";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

std::string_view DateCache::get(std::int64_t unix_seconds) {
  if (unix_seconds != second_) {
    second_ = unix_seconds;
    const std::time_t t = static_cast<std::time_t>(unix_seconds);
    std::tm tm{};
    gmtime_r(&t, &tm);
    // strftime's %a/%b follow the locale; IMF-fixdate needs the English names.
    static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    const auto r = fmt::format_to_n(text_, sizeof text_, "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
                                    kDays[tm.tm_wday], tm.tm_mday, kMonths[tm.tm_mon],
                                    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    len_ = r.size < sizeof text_ ? r.size : sizeof text_;
  }
  return {text_, len_};
}

namespace {

// "HTTP/1.1 200 OK\r\n" for every 3-digit status, formatted once: the hot path copies a line
// instead of running fmt's format-string parser for each response (that parsing was a fifth of the
// server's user-space instructions per request under callgrind).
constexpr int kFirstStatus = 100, kLastStatus = 599;

const std::array<std::string, kLastStatus - kFirstStatus + 1>& status_lines() {
  static const auto lines = [] {
    std::array<std::string, kLastStatus - kFirstStatus + 1> out;
    for (int s = kFirstStatus; s <= kLastStatus; ++s)
      out[static_cast<std::size_t>(s - kFirstStatus)] =
          fmt::format("HTTP/1.1 {} {}\r\n", s, reason_phrase(s));
    return out;
  }();
  return lines;
}

// Appends every piece with one size change: a response head is a dozen short pieces, and one
// bounds-checked std::string::append per piece cost more than the copying itself.
template <std::size_t N>
constexpr std::string_view piece(const char (&literal)[N]) noexcept {
  return {literal, N - 1};  // no strlen at run time
}
constexpr std::string_view piece(std::string_view s) noexcept { return s; }

template <typename... Pieces>
void append_all(std::string& out, const Pieces&... pieces) {
  const std::string_view parts[] = {piece(pieces)...};
  std::size_t total = 0;
  for (const auto part : parts) total += part.size();
  const std::size_t old = out.size();
  out.resize(old + total);
  char* to = out.data() + old;
  for (const auto part : parts) {
    if (part.empty()) continue;  // an empty view may have a null data(): not for memcpy
    std::memcpy(to, part.data(), part.size());
    to += part.size();
  }
}

}  // namespace

std::string ResponseWriter::common_head(int status, const ResponseContext& ctx) {
  std::string out;
  ResponseWriter(out, ctx).start_common(status);
  return out;
}

void ResponseWriter::start(int status) {
  status_ = status;
  start_common(status);
  start_connection();
}

void ResponseWriter::start_ok(std::string_view common) {
  status_ = 200;
  out_ += common;
  start_connection();
}

void ResponseWriter::start_common(int status) {
  if (status >= kFirstStatus && status <= kLastStatus) {
    out_ += status_lines()[static_cast<std::size_t>(status - kFirstStatus)];
  } else {
    fmt::format_to(std::back_inserter(out_), "HTTP/1.1 {} {}\r\n", status, reason_phrase(status));
  }
  if (!ctx_.date.empty() && !ctx_.cors_origin.empty()) {  // the usual case, in one step
    append_all(out_, "Date: ", ctx_.date, "\r\nAccess-Control-Allow-Origin: ", ctx_.cors_origin,
               "\r\n");
  } else if (!ctx_.date.empty()) {
    header("Date", ctx_.date);
  } else if (!ctx_.cors_origin.empty()) {
    header("Access-Control-Allow-Origin", ctx_.cors_origin);
  }
}

void ResponseWriter::start_connection() {
  if (!ctx_.keep_alive) {
    out_ += "Connection: close\r\n";
  } else if (ctx_.http10) {
    out_ += "Connection: keep-alive\r\n";
  }
}

void ResponseWriter::header(std::string_view name, std::string_view value) {
  append_all(out_, name, ": ", value, "\r\n");
}

void ResponseWriter::finish(std::string_view content_type, std::string_view body) {
  if (status_ == 204 || status_ == 304) {
    out_ += "\r\n";
    return;
  }
  const fmt::format_int digits(body.size());
  const std::string_view length(digits.data(), digits.size());
  const bool with_body = !ctx_.head_only;
  out_.reserve(out_.size() + content_type.size() + length.size() + 40 +
               (with_body ? body.size() : 0));
  if (content_type.empty()) {
    append_all(out_, "Content-Length: ", length, "\r\n\r\n");
  } else {
    append_all(out_, "Content-Type: ", content_type, "\r\nContent-Length: ", length, "\r\n\r\n");
  }
  if (with_body) out_ += body;
}

}  // namespace protocol
