// Entity tags: a strong ETag from the body's bytes, and If-None-Match matching (RFC 9110 §13.1.2:
// weak comparison, a list of tags or "*").
#pragma once

#include <string>
#include <string_view>

namespace protocol {

// "\"<16 hex digits>\"": a 64-bit FNV-1a hash of the body. Same bytes, same tag, across
// processes and restarts (unlike std::hash), so any instance of a fleet agrees.
[[nodiscard]] std::string strong_etag(std::string_view body);

// True when the If-None-Match header value names `etag` (or is "*").
[[nodiscard]] bool etag_matches(std::string_view if_none_match, std::string_view etag) noexcept;

}  // namespace protocol
