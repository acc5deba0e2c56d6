// Compact JSON output with API.md's escaping, and the ISO-8601 dates the read API returns.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace protocol {

// Appends `s` as a JSON string literal. Escapes only '"', '\\' and control characters, the way
// PostgreSQL's json_build_object does: \b \f \n \r \t, \u00XX for the other controls. Every
// other byte, UTF-8 included, is copied as-is (the data is UTF-8 by contract).
void append_json_string(std::string& out, std::string_view s);

// Appends epoch milliseconds as ISO 8601 UTC with milliseconds, by integer arithmetic:
// 1596080481467 -> 2020-07-30T03:41:21.467Z. Valid for years 0000..9999.
void append_iso8601_ms(std::string& out, std::int64_t epoch_ms);

// Writes compact JSON into a string the caller owns, inserting commas itself. Nesting is
// limited to 64 levels (ours is 4). The caller keeps keys and values in the right order.
class JsonWriter {
 public:
  explicit JsonWriter(std::string& out) noexcept : out_(out) {}

  JsonWriter& begin_object() { return open('{'); }
  JsonWriter& end_object() { return close('}'); }
  JsonWriter& begin_array() { return open('['); }
  JsonWriter& end_array() { return close(']'); }
  JsonWriter& key(std::string_view k);
  JsonWriter& value(std::string_view s);
  JsonWriter& value(const char* s) { return value(std::string_view(s)); }
  JsonWriter& value(std::int64_t n);
  JsonWriter& value(int n) { return value(static_cast<std::int64_t>(n)); }
  JsonWriter& value(bool b);
  JsonWriter& null();
  // Inserts already-valid JSON (e.g. a cached fragment) as one value.
  JsonWriter& raw(std::string_view json);

 private:
  JsonWriter& open(char c);
  JsonWriter& close(char c);
  void separate();

  std::string& out_;
  std::uint64_t has_items_ = 0;  // bit d: the container at depth d already holds an item
  int depth_ = 0;
  bool after_key_ = false;
};

}  // namespace protocol
