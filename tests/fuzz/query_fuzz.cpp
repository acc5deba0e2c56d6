// Fuzz target: protocol/query.h. The input is a raw query string (what follows '?').
//
// Properties, each against a naive reference written from API.md section 2:
// - percent_decode gives exactly what the reference decoder gives ('+' is a space, %XX with
//   two hex digits is a byte, anything else is kept literally) and never grows the input;
// - QueryString::get(name) returns the decoded value of the first pair whose decoded name is
//   `name`, for every name in the query and for the API's own parameter names;
// - parse_positive_int accepts exactly "ASCII digits only, value 1..2147483647, leading zeros
//   allowed" (checked by string comparison, not arithmetic) on the raw query, every raw and
//   decoded value, and every name.
#include "fuzz_check.h"
#include "protocol/query.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string ref_decode(std::string_view in) {
  std::string out;
  std::size_t i = 0;
  while (i < in.size()) {
    if (in[i] == '+') {
      out += ' ';
      i += 1;
    } else if (in[i] == '%' && in.size() - i >= 3 && hex_digit(in[i + 1]) >= 0 &&
               hex_digit(in[i + 2]) >= 0) {
      out += static_cast<char>(hex_digit(in[i + 1]) << 4 | hex_digit(in[i + 2]));
      i += 3;
    } else {
      out += in[i];
      i += 1;
    }
  }
  return out;
}

// Digits only, then compared as text with "2147483647" once leading zeros are gone.
std::optional<std::int32_t> ref_positive_int(std::string_view s) {
  if (s.empty()) return std::nullopt;
  for (const char c : s)
    if (c < '0' || c > '9') return std::nullopt;
  while (!s.empty() && s.front() == '0') s.remove_prefix(1);
  if (s.empty()) return std::nullopt;  // zero
  constexpr std::string_view kMax = "2147483647";
  if (s.size() > kMax.size() || (s.size() == kMax.size() && s > kMax)) return std::nullopt;
  std::int32_t v = 0;
  for (const char c : s) v = v * 10 + (c - '0');
  return v;
}

struct Pair {
  std::string_view raw_name, raw_value;
  std::string name, value;  // decoded
};

std::vector<Pair> ref_pairs(std::string_view raw) {
  std::vector<Pair> out;
  std::size_t start = 0;
  while (start <= raw.size()) {
    std::size_t amp = raw.find('&', start);
    if (amp == std::string_view::npos) amp = raw.size();
    const std::string_view pair = raw.substr(start, amp - start);
    if (!pair.empty()) {
      const std::size_t eq = pair.find('=');
      if (eq == std::string_view::npos) {
        out.push_back({pair, {}, ref_decode(pair), {}});
      } else {
        out.push_back({pair.substr(0, eq), pair.substr(eq + 1), ref_decode(pair.substr(0, eq)),
                       ref_decode(pair.substr(eq + 1))});
      }
    }
    start = amp + 1;
  }
  return out;
}

std::optional<std::string> ref_get(const std::vector<Pair>& pairs, std::string_view name) {
  for (const auto& p : pairs)
    if (p.name == name) return p.value;
  return std::nullopt;
}

void check_int(std::string_view s) {
  FUZZ_CHECK(protocol::parse_positive_int(s) == ref_positive_int(s));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view raw(reinterpret_cast<const char*>(data), size);

  const std::string decoded = protocol::percent_decode(raw);
  FUZZ_CHECK(decoded == ref_decode(raw));
  FUZZ_CHECK(decoded.size() <= raw.size());
  check_int(raw);
  check_int(decoded);

  const protocol::QueryString query(raw);
  const auto pairs = ref_pairs(raw);
  std::vector<std::string> names = {"product_id", "page", "count", "sort", "review_id", ""};
  // The first pairs only: a 4 KiB input can hold 2000 of them, and checking each against all
  // would make every run quadratic.
  for (std::size_t i = 0; i < pairs.size() && i < 32; ++i) {
    names.push_back(pairs[i].name);
    check_int(pairs[i].raw_value);
    check_int(pairs[i].value);
    check_int(pairs[i].raw_name);
  }
  for (const auto& name : names) FUZZ_CHECK(query.get(name) == ref_get(pairs, name));
  return 0;
}
