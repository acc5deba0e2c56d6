// The body of POST /reviews (API.md §3): parsed with simdjson's On-Demand API and validated
// field by field. Pure: no I/O, no database (that a characteristic belongs to the product is
// checked by the insert itself).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace server {

// API.md's bounds, in Unicode characters (code points).
namespace review_limits {
inline constexpr std::size_t kMaxSummary = 1000;
inline constexpr std::size_t kMaxBody = 10000;
inline constexpr std::size_t kMaxName = 255;
inline constexpr std::size_t kMaxEmail = 255;
inline constexpr std::size_t kMaxPhotos = 10;
inline constexpr std::size_t kMaxPhotoUrl = 2048;
// Nesting of ignored fields we walk through (to validate them); deeper is not our JSON.
inline constexpr int kMaxDepth = 32;
}  // namespace review_limits

struct NewReview {
  std::int32_t product_id = 0;
  std::int32_t rating = 0;
  std::string summary;
  std::string body;
  bool recommend = false;
  std::string name;
  std::string email;
  std::vector<std::string> photos;                                     // in array order
  std::vector<std::pair<std::int32_t, std::int32_t>> characteristics;  // (id, value)
};

struct InputError {
  int status;           // 400 or 422
  std::string message;  // "Error: invalid JSON body", "Error: invalid rating provided", ...
};

// 400 when `json` is not a JSON object (or not JSON at all); otherwise 422 naming the first
// bad field in API.md's order: product_id, rating, summary, body, recommend, name, email,
// photos, characteristics. Unknown fields are ignored (but must be valid JSON). A repeated
// field is invalid. Strings must not contain NUL (PostgreSQL text cannot hold it).
[[nodiscard]] std::variant<NewReview, InputError> parse_new_review(std::string_view json);

}  // namespace server
