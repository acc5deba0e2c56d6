// gzip content coding (RFC 9110 §8.4.1.3) with zlib, and the Accept-Encoding test for it.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace protocol {

// Bodies shorter than this are sent plain: gzip's ~20-byte frame and the client's inflate cost
// more than the bytes saved on a small JSON document.
inline constexpr std::size_t kGzipMinBytes = 1024;

// The gzip member of `data` (deflate level 6, zlib's default trade-off). Throws std::bad_alloc
// or std::runtime_error if zlib fails, which only happens when out of memory.
[[nodiscard]] std::string gzip_compress(std::string_view data);

// The inflated content of one gzip member, or nullopt if `data` is not one (tests, bench).
[[nodiscard]] std::optional<std::string> gzip_decompress(std::string_view data);

// True when the Accept-Encoding value lists `gzip` (or its alias `x-gzip`) with a q-value other
// than 0, case-insensitively: "gzip, deflate, br", "br;q=1.0, gzip;q=0.8"; or, when neither is
// named, lists `*` with a q-value other than 0 ("gzip;q=0, *" refuses gzip).
[[nodiscard]] bool accepts_gzip(std::string_view accept_encoding) noexcept;

}  // namespace protocol
