#include "protocol/response_writer.h"

#include <fmt/format.h>

#include <ctime>

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

void ResponseWriter::start(int status) {
  status_ = status;
  fmt::format_to(std::back_inserter(out_), "HTTP/1.1 {} {}\r\n", status, reason_phrase(status));
  if (!ctx_.date.empty()) header("Date", ctx_.date);
  if (!ctx_.cors_origin.empty()) header("Access-Control-Allow-Origin", ctx_.cors_origin);
  if (!ctx_.keep_alive) {
    out_ += "Connection: close\r\n";
  } else if (ctx_.http10) {
    out_ += "Connection: keep-alive\r\n";
  }
}

void ResponseWriter::header(std::string_view name, std::string_view value) {
  out_ += name;
  out_ += ": ";
  out_ += value;
  out_ += "\r\n";
}

void ResponseWriter::finish(std::string_view content_type, std::string_view body) {
  const bool bodiless_status = status_ == 204 || status_ == 304;
  if (!content_type.empty() && !bodiless_status) header("Content-Type", content_type);
  if (!bodiless_status)
    fmt::format_to(std::back_inserter(out_), "Content-Length: {}\r\n", body.size());
  out_ += "\r\n";
  if (!ctx_.head_only && !bodiless_status) out_ += body;
}

}  // namespace protocol
