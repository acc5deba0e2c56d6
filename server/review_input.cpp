#include "server/review_input.h"

#include "protocol/query.h"

#include <simdjson.h>

#include <optional>

namespace server {

namespace od = simdjson::ondemand;

namespace {

enum Field {
  kProductId,
  kRating,
  kSummary,
  kBody,
  kRecommend,
  kName,
  kEmail,
  kPhotos,
  kChars,
  kFieldCount
};
constexpr std::string_view kFieldNames[kFieldCount] = {
    "product_id", "rating", "summary", "body",           "recommend",
    "name",       "email",  "photos",  "characteristics"};

// Thrown inside the walk: the body is not JSON (400).
struct NotJson {};

std::size_t code_points(std::string_view s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

template <class T>
T ok_or_throw(simdjson::simdjson_result<T> r) {
  T v;
  if (std::move(r).get(v) != simdjson::SUCCESS) throw NotJson{};
  return v;
}

// The text of a number value, checked against JSON's number grammar (simdjson's own check
// would also refuse numbers it cannot represent, which are valid JSON).
std::string_view number_token(od::value& v) {
  std::string_view t = v.raw_json_token();
  while (!t.empty() &&
         (t.back() == ' ' || t.back() == '\t' || t.back() == '\n' || t.back() == '\r')) {
    t.remove_suffix(1);
  }
  std::size_t i = 0;
  auto digits = [&] {
    const std::size_t from = i;
    while (i < t.size() && t[i] >= '0' && t[i] <= '9') ++i;
    return i > from;
  };
  if (i < t.size() && t[i] == '-') ++i;
  if (i < t.size() && t[i] == '0') {
    ++i;
  } else if (!digits()) {
    throw NotJson{};
  }
  if (i < t.size() && t[i] == '.') {
    ++i;
    if (!digits()) throw NotJson{};
  }
  if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    if (i < t.size() && (t[i] == '+' || t[i] == '-')) ++i;
    if (!digits()) throw NotJson{};
  }
  if (i != t.size()) throw NotJson{};
  return t;
}

// An integer token small enough for int64 (so that simdjson can read it): 1-18 digits, optional
// minus sign.
bool is_plain_integer(std::string_view t) {
  if (!t.empty() && t.front() == '-') t.remove_prefix(1);
  if (t.empty() || t.size() > 18) return false;
  for (char c : t) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// Visits every value below `v` so that On-Demand validates it (it only checks what is read).
void walk(od::value v, int depth) {
  if (depth > review_limits::kMaxDepth) throw NotJson{};
  switch (ok_or_throw(v.type())) {
    case od::json_type::object:
      for (auto field : ok_or_throw(v.get_object())) {
        ok_or_throw(field.unescaped_key());
        walk(ok_or_throw(field.value()), depth + 1);
      }
      break;
    case od::json_type::array:
      for (auto item : ok_or_throw(v.get_array())) walk(ok_or_throw(std::move(item)), depth + 1);
      break;
    case od::json_type::string:
      ok_or_throw(v.get_string());
      break;
    case od::json_type::number:
      number_token(v);
      break;
    case od::json_type::boolean:
      ok_or_throw(v.get_bool());
      break;
    case od::json_type::null:
      // is_null() yields a simdjson_result<bool>: an error (a misspelt "nul") must not reach its
      // throwing bool conversion as a 500; it is malformed JSON.
      if (!ok_or_throw(v.is_null())) throw NotJson{};
      break;
  }
}

// A JSON integer, or a string of ASCII digits ("5", "007"), in 1..2147483647. Anything else is
// nullopt; malformed JSON throws.
std::optional<std::int32_t> positive_int(od::value v) {
  switch (ok_or_throw(v.type())) {
    case od::json_type::number: {
      // A well-formed number simdjson cannot represent (1e400, 10^20) is an invalid value,
      // not invalid JSON: read the token ourselves before asking simdjson for its value.
      if (!is_plain_integer(number_token(v))) return std::nullopt;
      od::number n = ok_or_throw(v.get_number());
      if (!n.is_int64() && !n.is_uint64()) return std::nullopt;
      if (n.is_uint64()) return std::nullopt;  // above int64: certainly above int32
      const std::int64_t i = n.get_int64();
      if (i < 1 || i > 2147483647) return std::nullopt;
      return static_cast<std::int32_t>(i);
    }
    case od::json_type::string:
      return protocol::parse_positive_int(ok_or_throw(v.get_string()));
    default:
      walk(v, 0);
      return std::nullopt;
  }
}

std::optional<std::int32_t> star(od::value v) {
  auto n = positive_int(v);
  if (n && *n <= 5) return n;
  return std::nullopt;
}

// A string of at most `max` code points, without NUL; `allow_empty` for summary.
std::optional<std::string> text(od::value v, std::size_t max, bool allow_empty) {
  if (ok_or_throw(v.type()) != od::json_type::string) {
    walk(v, 0);
    return std::nullopt;
  }
  const std::string_view s = ok_or_throw(v.get_string());
  if ((!allow_empty && s.empty()) || code_points(s) > max ||
      s.find('\0') != std::string_view::npos) {
    return std::nullopt;
  }
  return std::string(s);
}

}  // namespace

std::variant<NewReview, InputError> parse_new_review(std::string_view json) {
  const InputError not_json{400, "Error: invalid JSON body"};
  auto invalid = [](Field f) {
    return InputError{422, "Error: invalid " + std::string(kFieldNames[f]) + " provided"};
  };
  NewReview r;
  bool seen[kFieldCount] = {};
  bool bad[kFieldCount] = {};
  try {
    simdjson::padded_string padded(json);
    od::parser parser;
    od::document doc = ok_or_throw(parser.iterate(padded));
    if (ok_or_throw(doc.type()) != od::json_type::object) return not_json;
    for (auto field : ok_or_throw(doc.get_object())) {
      const std::string_view key = ok_or_throw(field.unescaped_key());
      od::value v = ok_or_throw(field.value());
      int f = 0;
      while (f < kFieldCount && kFieldNames[f] != key) ++f;
      if (f == kFieldCount) {
        walk(v, 0);
        continue;
      }
      if (seen[f]) {  // a repeated field: which one would the client mean?
        bad[f] = true;
        walk(v, 0);
        continue;
      }
      seen[f] = true;
      switch (static_cast<Field>(f)) {
        case kProductId: {
          const auto n = positive_int(v);
          bad[f] = !n;
          r.product_id = n.value_or(0);
          break;
        }
        case kRating: {
          const auto n = star(v);
          bad[f] = !n;
          r.rating = n.value_or(0);
          break;
        }
        case kSummary: {
          auto s = text(v, review_limits::kMaxSummary, true);
          bad[f] = !s;
          if (s) r.summary = std::move(*s);
          break;
        }
        case kBody: {
          auto s = text(v, review_limits::kMaxBody, false);
          bad[f] = !s;
          if (s) r.body = std::move(*s);
          break;
        }
        case kRecommend:
          if (ok_or_throw(v.type()) == od::json_type::boolean) {
            r.recommend = ok_or_throw(v.get_bool());
          } else {
            bad[f] = true;
            walk(v, 0);
          }
          break;
        case kName:
        case kEmail: {
          auto s = text(v, f == kName ? review_limits::kMaxName : review_limits::kMaxEmail, false);
          bad[f] = !s;
          if (s) (f == kName ? r.name : r.email) = std::move(*s);
          break;
        }
        case kPhotos:
          if (ok_or_throw(v.type()) != od::json_type::array) {
            bad[f] = true;
            walk(v, 0);
            break;
          }
          for (auto item : ok_or_throw(v.get_array())) {
            auto url = text(ok_or_throw(std::move(item)), review_limits::kMaxPhotoUrl, false);
            if (!url || r.photos.size() == review_limits::kMaxPhotos) {
              bad[f] = true;
            } else {
              r.photos.push_back(std::move(*url));
            }
          }
          break;
        case kChars:
          if (ok_or_throw(v.type()) != od::json_type::object) {
            bad[f] = true;
            walk(v, 0);
            break;
          }
          for (auto entry : ok_or_throw(v.get_object())) {
            const auto id = protocol::parse_positive_int(ok_or_throw(entry.unescaped_key()));
            const auto value = star(ok_or_throw(entry.value()));
            bool duplicate = false;
            for (const auto& [cid, _] : r.characteristics)
              duplicate = duplicate || (id && cid == *id);
            if (!id || !value || duplicate) {
              bad[f] = true;
            } else {
              r.characteristics.emplace_back(*id, *value);
            }
          }
          break;
        case kFieldCount:
          break;
      }
    }
    // Trailing content after the object: current_location() only fails once all is consumed.
    const char* rest = nullptr;
    if (doc.current_location().get(rest) == simdjson::SUCCESS) return not_json;
  } catch (const NotJson&) {
    return not_json;
  }
  for (int f = 0; f < kFieldCount; ++f) {
    const bool optional = f == kPhotos || f == kChars;
    if (bad[f] || (!seen[f] && !optional)) return invalid(static_cast<Field>(f));
  }
  return r;
}

}  // namespace server
