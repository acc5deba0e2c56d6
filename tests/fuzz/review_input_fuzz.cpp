// Fuzz target: server/review_input.h, the validation of POST /reviews bodies. The input is the
// request body.
//
// Properties:
// - parse_new_review never crashes or throws; it answers 400 "Error: invalid JSON body" or 422
//   "Error: invalid <field> provided" naming one of API.md's nine fields, or a review;
// - an accepted review meets API.md section 3 on its own: product_id 1..2147483647, rating 1..5,
//   summary <= 1000 code points (may be empty), body 1..10000, name and email 1..255, at most
//   10 photos of 1..2048 code points, characteristic ids 1..2147483647 without repeats and
//   values 1..5; every string valid UTF-8 without NUL;
// - against an independent reading of the same body with simdjson's DOM API (when DOM can
//   judge: it refuses well-formed numbers it cannot represent, like 1e400, and we skip nesting
//   past 30 levels, which the On-Demand walk refuses by design): a body DOM reads as an object
//   is never a 400, an accepted review holds exactly DOM's values, and a 422 names the first
//   field in API.md's order that DOM's reading finds missing, repeated or invalid.
#include "fuzz_check.h"
#include "server/review_input.h"

#include <simdjson.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace {

namespace dom = simdjson::dom;
namespace lim = server::review_limits;

constexpr std::string_view kFields[] = {"product_id", "rating",    "summary",
                                        "body",       "recommend", "name",
                                        "email",      "photos",    "characteristics"};
constexpr int kFieldCount = 9;

std::size_t code_points(std::string_view s) {
  std::size_t n = 0;
  FUZZ_CHECK(fuzz::valid_utf8(s, &n));
  return n;
}

bool good_text(std::string_view s, std::size_t max, bool allow_empty) {
  return (allow_empty || !s.empty()) && code_points(s) <= max &&
         s.find('\0') == std::string_view::npos;
}

// API.md integer parameter, by text: digits only, 1..2147483647.
std::optional<std::int32_t> digits_int(std::string_view s) {
  if (s.empty() || s.find_first_not_of("0123456789") != std::string_view::npos) return {};
  while (!s.empty() && s.front() == '0') s.remove_prefix(1);
  if (s.empty() || s.size() > 10 || (s.size() == 10 && s > "2147483647")) return {};
  std::int64_t v = 0;
  for (const char c : s) v = v * 10 + (c - '0');
  return static_cast<std::int32_t>(v);
}

std::optional<std::int32_t> ref_positive_int(dom::element e) {
  switch (e.type()) {
    case dom::element_type::INT64: {
      const std::int64_t v = e.get_int64().value_unsafe();
      if (v < 1 || v > 2147483647) return {};
      return static_cast<std::int32_t>(v);
    }
    case dom::element_type::STRING:
      return digits_int(e.get_string().value_unsafe());
    default:  // uint64 above int64, doubles (5.0, 5e0), anything else
      return {};
  }
}

std::optional<std::int32_t> ref_star(dom::element e) {
  auto n = ref_positive_int(e);
  if (n && *n <= 5) return n;
  return {};
}

std::optional<std::string> ref_text(dom::element e, std::size_t max, bool allow_empty) {
  if (e.type() != dom::element_type::STRING) return {};
  const std::string_view s = e.get_string().value_unsafe();
  if (!good_text(s, max, allow_empty)) return {};
  return std::string(s);
}

// DOM's reading of the body: the review, or the index of the first bad field.
std::variant<server::NewReview, int> ref_review(dom::object obj) {
  server::NewReview r;
  int seen[kFieldCount] = {};
  bool bad[kFieldCount] = {};
  for (const auto field : obj) {
    int f = 0;
    while (f < kFieldCount && kFields[f] != field.key) ++f;
    if (f == kFieldCount || seen[f]++) continue;
    const dom::element v = field.value;
    switch (f) {
      case 0: {
        auto n = ref_positive_int(v);
        bad[f] = !n;
        r.product_id = n.value_or(0);
        break;
      }
      case 1: {
        auto n = ref_star(v);
        bad[f] = !n;
        r.rating = n.value_or(0);
        break;
      }
      case 2:
      case 3:
      case 5:
      case 6: {
        const std::size_t max = f == 2   ? lim::kMaxSummary
                                : f == 3 ? lim::kMaxBody
                                : f == 5 ? lim::kMaxName
                                         : lim::kMaxEmail;
        auto s = ref_text(v, max, f == 2);
        bad[f] = !s;
        if (s) (f == 2 ? r.summary : f == 3 ? r.body : f == 5 ? r.name : r.email) = *s;
        break;
      }
      case 4:
        bad[f] = v.type() != dom::element_type::BOOL;
        if (!bad[f]) r.recommend = v.get_bool().value_unsafe();
        break;
      case 7: {
        if (v.type() != dom::element_type::ARRAY) {
          bad[f] = true;
          break;
        }
        const dom::array photos = v.get_array().value_unsafe();
        for (const auto item : photos) {
          auto url = ref_text(item, lim::kMaxPhotoUrl, false);
          if (!url) bad[f] = true;
          if (url) r.photos.push_back(*url);
        }
        if (r.photos.size() > lim::kMaxPhotos) bad[f] = true;
        break;
      }
      case 8: {
        if (v.type() != dom::element_type::OBJECT) {
          bad[f] = true;
          break;
        }
        const dom::object chars = v.get_object().value_unsafe();
        for (const auto entry : chars) {
          const auto id = digits_int(entry.key);
          const auto value = ref_star(entry.value);
          if (!id || !value) {
            bad[f] = true;
            continue;
          }
          for (const auto& [cid, _] : r.characteristics) bad[f] = bad[f] || cid == *id;
          r.characteristics.emplace_back(*id, *value);
        }
        break;
      }
    }
  }
  for (int f = 0; f < kFieldCount; ++f) {
    const bool optional = f == 7 || f == 8;
    if (bad[f] || seen[f] > 1 || (!seen[f] && !optional)) return f;
  }
  return r;
}

std::size_t depth_of(dom::element e) {
  std::size_t d = 0;
  // (value_unsafe() of a temporary result must not be the range of a for: bind it first.)
  if (e.type() == dom::element_type::ARRAY) {
    const dom::array arr = e.get_array().value_unsafe();
    for (const auto item : arr) d = std::max(d, depth_of(item));
    return d + 1;
  }
  if (e.type() == dom::element_type::OBJECT) {
    const dom::object obj = e.get_object().value_unsafe();
    for (const auto field : obj) d = std::max(d, depth_of(field.value));
    return d + 1;
  }
  return 0;
}

void check_contract(const server::NewReview& r) {
  FUZZ_CHECK(r.product_id >= 1);
  FUZZ_CHECK(r.rating >= 1 && r.rating <= 5);
  FUZZ_CHECK(good_text(r.summary, 1000, true));
  FUZZ_CHECK(good_text(r.body, 10000, false));
  FUZZ_CHECK(good_text(r.name, 255, false));
  FUZZ_CHECK(good_text(r.email, 255, false));
  FUZZ_CHECK(r.photos.size() <= 10);
  for (const auto& url : r.photos) FUZZ_CHECK(good_text(url, 2048, false));
  for (std::size_t i = 0; i < r.characteristics.size(); ++i) {
    const auto [id, value] = r.characteristics[i];
    FUZZ_CHECK(id >= 1);
    FUZZ_CHECK(value >= 1 && value <= 5);
    for (std::size_t j = 0; j < i; ++j) FUZZ_CHECK(r.characteristics[j].first != id);
  }
}

bool same_review(const server::NewReview& a, const server::NewReview& b) {
  return a.product_id == b.product_id && a.rating == b.rating && a.summary == b.summary &&
         a.body == b.body && a.recommend == b.recommend && a.name == b.name && a.email == b.email &&
         a.photos == b.photos && a.characteristics == b.characteristics;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const auto got = server::parse_new_review(body);

  if (const auto* err = std::get_if<server::InputError>(&got)) {
    if (err->status == 400) {
      FUZZ_CHECK(err->message == "Error: invalid JSON body");
    } else {
      FUZZ_CHECK(err->status == 422);
      bool known = false;
      for (const auto f : kFields)
        known = known || err->message == "Error: invalid " + std::string(f) + " provided";
      FUZZ_CHECK(known);
    }
  } else {
    check_contract(std::get<server::NewReview>(got));
  }

  static dom::parser parser;
  dom::element root;
  const auto dom_err = parser.parse(body.data(), body.size()).get(root);
  if (dom_err == simdjson::NUMBER_ERROR) return 0;  // DOM cannot judge a valid 1e400
  if (dom_err != simdjson::SUCCESS) {
    // Not JSON for DOM: On-Demand must have said 400 as well.
    if (!std::holds_alternative<server::InputError>(got) ||
        std::get<server::InputError>(got).status != 400) {
      std::fprintf(stderr, "DOM refused (%s) what parse_new_review accepted as JSON\n",
                   simdjson::error_message(dom_err));
      FUZZ_CHECK(false && "On-Demand accepted a body DOM refuses");
    }
    return 0;
  }
  if (root.type() != dom::element_type::OBJECT) {
    FUZZ_CHECK(std::holds_alternative<server::InputError>(got));
    FUZZ_CHECK(std::get<server::InputError>(got).status == 400);
    return 0;
  }
  if (depth_of(root) > 30) return 0;  // the walk's depth limit (32) is ours, not JSON's

  const auto want = ref_review(root.get_object().value_unsafe());
  if (const auto* field = std::get_if<int>(&want)) {
    const auto* err = std::get_if<server::InputError>(&got);
    FUZZ_CHECK(err != nullptr);
    if (err->message != "Error: invalid " + std::string(kFields[*field]) + " provided") {
      std::fprintf(stderr, "got '%s', DOM says field %s\n", err->message.c_str(),
                   std::string(kFields[*field]).c_str());
      FUZZ_CHECK(false && "422 names another field than DOM's reading");
    }
    FUZZ_CHECK(err->status == 422);
  } else {
    const auto* r = std::get_if<server::NewReview>(&got);
    if (r == nullptr) {
      std::fprintf(stderr, "got '%s', DOM accepts\n",
                   std::get<server::InputError>(got).message.c_str());
      FUZZ_CHECK(false && "refused a body DOM's reading accepts");
    }
    FUZZ_CHECK(same_review(*r, std::get<server::NewReview>(want)));
  }
  return 0;
}
