#include "protocol/etag.h"

#include <bit>
#include <cstdint>
#include <cstring>

namespace protocol {

namespace {

// Up to 8 bytes as a little-endian number on every machine (zeros above the n-th byte).
std::uint64_t load_le64(const char* p, std::size_t n) noexcept {
  std::uint64_t w = 0;
  std::memcpy(&w, p, n);
  if constexpr (std::endian::native == std::endian::big) w = __builtin_bswap64(w);
  return w;
}

}  // namespace

std::string strong_etag(std::string_view body) {
  constexpr std::uint64_t kMul = 0x9e3779b97f4a7c15ULL;
  std::uint64_t h = 0xcbf29ce484222325ULL ^ (body.size() * kMul);
  std::size_t i = 0;
  const auto step = [&h](std::uint64_t w) {
    h = (h ^ w) * kMul;
    h ^= h >> 32;
  };
  for (; i + 8 <= body.size(); i += 8) step(load_le64(body.data() + i, 8));
  if (i < body.size()) step(load_le64(body.data() + i, body.size() - i));
  h ^= h >> 33;  // fmix64
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(18, '"');
  for (int i = 16; i >= 1; --i, h >>= 4) out[static_cast<std::size_t>(i)] = kHex[h & 0xF];
  return out;
}

bool etag_matches(std::string_view header, std::string_view etag) noexcept {
  auto trim = [](std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
  };
  if (trim(header) == "*") return true;
  while (!header.empty()) {
    const auto comma = header.find(',');
    std::string_view tag = trim(header.substr(0, comma));
    header = comma == std::string_view::npos ? std::string_view{} : header.substr(comma + 1);
    if (tag.substr(0, 2) == "W/") tag.remove_prefix(2);  // weak comparison
    if (tag == etag) return true;
  }
  return false;
}

}  // namespace protocol
