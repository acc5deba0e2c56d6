// Query strings and integer parameters, exactly as API.md section 2 defines them.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace protocol {

// Decodes %XX escapes and '+' (space, as in form encoding). An invalid escape ("%zz", "%4")
// is kept literally, so the value then fails whatever check comes next.
[[nodiscard]] std::string percent_decode(std::string_view in);

// A view over the raw query (without '?'), split into name=value pairs once, at construction:
// the handlers ask for three or four names per request, and scanning the query for each (with
// a decoding check per character) was a quarter of a cache hit's user-space instructions.
// Nothing is decoded until asked, and nothing is allocated: the first kIndexed pairs are kept
// as views, the rest (rare: our clients send at most four) is scanned when asked.
class QueryString {
 public:
  explicit QueryString(std::string_view raw) noexcept;
  // Decoded value of the first parameter whose decoded name is `name` (later repeats are
  // ignored), or nullopt when absent. `a` and `a=` both give "".
  [[nodiscard]] std::optional<std::string> get(std::string_view name) const;

 private:
  struct Pair {
    std::string_view name, value;                      // raw, as sent
    bool name_encoded = false, value_encoded = false;  // holds a '%' or a '+'
  };
  static constexpr std::size_t kIndexed = 8;
  // The next non-empty pair of `rest`, removed from it; false when none is left.
  static bool next_pair(std::string_view& rest, Pair& out) noexcept;
  [[nodiscard]] static std::optional<std::string> value_if(const Pair& p, std::string_view name);

  std::array<Pair, kIndexed> pairs_{};
  std::size_t count_ = 0;
  std::string_view rest_;  // after the kIndexed-th pair
};

// API.md integer: ASCII digits only, value 1..2147483647, leading zeros allowed ("007" is 7).
// Signs, spaces, decimals, exponents, empty and overflow give nullopt.
[[nodiscard]] std::optional<std::int32_t> parse_positive_int(std::string_view s) noexcept;

}  // namespace protocol
