#include "protocol/query.h"

namespace protocol {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// A plain loop: string_view::find_first_of calls memchr once per character.
bool needs_decoding(std::string_view s) noexcept {
  for (const char c : s)
    if (c == '%' || c == '+') return true;
  return false;
}

}  // namespace

std::string percent_decode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%' && i + 2 < in.size() && hex_value(in[i + 1]) >= 0 &&
               hex_value(in[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex_value(in[i + 1]) * 16 + hex_value(in[i + 2])));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

QueryString::QueryString(std::string_view raw) noexcept : rest_(raw) {
  while (count_ < kIndexed && next_pair(rest_, pairs_[count_])) ++count_;
}

bool QueryString::next_pair(std::string_view& rest, Pair& out) noexcept {
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    out.name = pair.substr(0, eq);
    out.value = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    out.name_encoded = needs_decoding(out.name);
    out.value_encoded = needs_decoding(out.value);
    return true;
  }
  return false;
}

std::optional<std::string> QueryString::value_if(const Pair& p, std::string_view name) {
  const bool match = p.name_encoded ? percent_decode(p.name) == name : p.name == name;
  if (!match) return std::nullopt;
  return p.value_encoded ? percent_decode(p.value) : std::string(p.value);
}

std::optional<std::string> QueryString::get(std::string_view name) const {
  for (std::size_t i = 0; i < count_; ++i)
    if (auto v = value_if(pairs_[i], name)) return v;
  std::string_view rest = rest_;
  for (Pair p; next_pair(rest, p);)
    if (auto v = value_if(p, name)) return v;
  return std::nullopt;
}

std::optional<std::int32_t> parse_positive_int(std::string_view s) noexcept {
  if (s.empty()) return std::nullopt;
  std::int64_t v = 0;
  for (const char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
    if (v > 2147483647) return std::nullopt;  // checked per digit: leading zeros never overflow
  }
  if (v < 1) return std::nullopt;
  return static_cast<std::int32_t>(v);
}

}  // namespace protocol
