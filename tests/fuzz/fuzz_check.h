// Shared by the libFuzzer targets of tests/fuzz: a property check that stops the fuzzer (and
// makes it write the reproducer) with a readable reason, plus the small reference helpers
// several targets need. The references are deliberately naive: they restate API.md, they are
// not copies of the code under test.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string_view>

// Aborts (libFuzzer then saves the input as crash-<sha1>) when `cond` is false. Always on:
// unlike assert() it does not depend on NDEBUG.
#define FUZZ_CHECK(cond)                                                                 \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::fprintf(stderr, "%s:%d: property violated: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                      \
    }                                                                                    \
  } while (0)

namespace fuzz {

// True when `s` is well-formed UTF-8 (RFC 3629: no overlongs, no surrogates, <= U+10FFFF),
// decoded by the book, one code point at a time. `code_points` gets the count when valid.
inline bool valid_utf8(std::string_view s, std::size_t* code_points = nullptr) {
  std::size_t n = 0;
  for (std::size_t i = 0; i < s.size(); ++n) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    std::size_t len;
    char32_t cp, min;
    if (b0 < 0x80) {
      len = 1, cp = b0, min = 0;
    } else if (b0 >= 0xC2 && b0 <= 0xDF) {
      len = 2, cp = b0 & 0x1F, min = 0x80;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
      len = 3, cp = b0 & 0x0F, min = 0x800;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
      len = 4, cp = b0 & 0x07, min = 0x10000;
    } else {
      return false;
    }
    if (s.size() - i < len) return false;
    for (std::size_t k = 1; k < len; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (b & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  if (code_points) *code_points = n;
  return true;
}

}  // namespace fuzz
