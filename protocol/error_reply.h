// The one place where a request that could not be parsed becomes a status code (STYLE.md 6).
#pragma once

#include <cstdint>
#include <string_view>

namespace protocol {

// Why RequestParser refused a request. Every value except None ends the connection: after a
// parse error the byte stream can no longer be trusted to frame the next request.
enum class ParseError : std::uint8_t {
  None,
  Malformed,            // syntax error, smuggling shape, bare CR/LF, upgrade/CONNECT/PRI
  TargetTooLong,        // request line or target past Limits::max_target
  HeadersTooLarge,      // header block past Limits::max_head or Limits::max_headers
  BodyTooLarge,         // body past Limits::max_body
  UnknownMethod,        // a method token llhttp does not know
  UnsupportedVersion,   // HTTP version other than 1.0 and 1.1
  UnsupportedEncoding,  // a Transfer-Encoding other than `chunked`
};

struct ErrorReply {
  int status;             // HTTP status to answer with, always followed by a close
  std::string_view body;  // text/plain body, e.g. "Error: bad request"
};

// Maps a parse error to its reply. Precondition: err != ParseError::None.
[[nodiscard]] ErrorReply error_reply(ParseError err) noexcept;

}  // namespace protocol
