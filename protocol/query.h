// Query strings and integer parameters, exactly as API.md section 2 defines them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace protocol {

// Decodes %XX escapes and '+' (space, as in form encoding). An invalid escape ("%zz", "%4")
// is kept literally, so the value then fails whatever check comes next.
[[nodiscard]] std::string percent_decode(std::string_view in);

// A view over the raw query (without '?'). Cheap to construct; nothing is decoded until asked.
class QueryString {
 public:
  explicit QueryString(std::string_view raw) noexcept : raw_(raw) {}
  // Decoded value of the first parameter whose decoded name is `name` (later repeats are
  // ignored), or nullopt when absent. `a` and `a=` both give "".
  [[nodiscard]] std::optional<std::string> get(std::string_view name) const;

 private:
  std::string_view raw_;
};

// API.md integer: ASCII digits only, value 1..2147483647, leading zeros allowed ("007" is 7).
// Signs, spaces, decimals, exponents, empty and overflow give nullopt.
[[nodiscard]] std::optional<std::int32_t> parse_positive_int(std::string_view s) noexcept;

}  // namespace protocol
