#include "protocol/json_writer.h"

#include <catch2/catch.hpp>

#include <cstdio>
#include <ctime>
#include <random>
#include <string>

using protocol::append_iso8601_ms;
using protocol::append_json_string;
using protocol::JsonWriter;

namespace {
std::string json(std::string_view s) {
  std::string out;
  append_json_string(out, s);
  return out;
}
std::string iso(std::int64_t ms) {
  std::string out;
  append_iso8601_ms(out, ms);
  return out;
}
// The escaping rule, one byte at a time: the reference the word-at-a-time writer must equal.
std::string json_reference(std::string_view s) {
  std::string out = "\"";
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    char buf[8];
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t') {
      out += '\\';
      out += "bfnrt"[std::string_view("\b\f\n\r\t").find(ch)];
    } else if (c < 0x20) {
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += ch;
    }
  }
  return out + "\"";
}
}  // namespace

TEST_CASE("strings escape only quote, backslash and controls, like PostgreSQL",
          "[protocol][json]") {
  CHECK(json("plain") == "\"plain\"");
  CHECK(json("a\"b\\c") == "\"a\\\"b\\\\c\"");
  CHECK(json("\b\f\n\r\t") == "\"\\b\\f\\n\\r\\t\"");
  CHECK(json(std::string("\x00\x01\x1f", 3)) == "\"\\u0000\\u0001\\u001f\"");
  CHECK(json("/ < > & ' \x7f") == "\"/ < > & ' \x7f\"");
  CHECK(json("caf\xC3\xA9 \xF0\x9F\x98\x80") == "\"caf\xC3\xA9 \xF0\x9F\x98\x80\"");  // UTF-8 as-is
  CHECK(json("") == "\"\"");
}

TEST_CASE("JsonWriter places commas and colons", "[protocol][json]") {
  std::string out;
  JsonWriter w(out);
  w.begin_object().key("product").value("2").key("page").value(0).key("results").begin_array();
  w.begin_object()
      .key("id")
      .value(std::int64_t{1})
      .key("ok")
      .value(true)
      .key("r")
      .null()
      .key("photos")
      .begin_array()
      .end_array()
      .end_object();
  w.begin_object().key("id").value(2).end_object();
  w.end_array().key("raw").raw("{\"x\":1}").end_object();
  CHECK(
      out ==
      R"({"product":"2","page":0,"results":[{"id":1,"ok":true,"r":null,"photos":[]},{"id":2}],"raw":{"x":1}})");
}

TEST_CASE("the word-at-a-time escaper equals the byte rule everywhere in a word",
          "[protocol][json]") {
  // Every byte value at every offset of strings around the 8-byte steps, in plain text.
  for (int c = 0; c < 256; ++c) {
    for (std::size_t len = 1; len <= 19; ++len) {
      for (std::size_t at = 0; at < len; ++at) {
        std::string s(len, 'x');
        s[at] = static_cast<char>(c);
        REQUIRE(json(s) == json_reference(s));
      }
    }
  }
  // Random mixes, with UTF-8 and controls.
  std::mt19937 rng(7);
  for (int i = 0; i < 2000; ++i) {
    std::string s(rng() % 64, '\0');
    for (auto& ch : s) {
      const unsigned r = rng() % 10;
      ch = static_cast<char>(r < 6 ? 'a' + rng() % 26 : r < 8 ? 0x80 + rng() % 128 : rng() % 256);
    }
    REQUIRE(json(s) == json_reference(s));
  }
  // Appends: what was in the buffer stays.
  std::string out = "[";
  append_json_string(out, "a\"bcdefghij");
  CHECK(out == "[\"a\\\"bcdefghij\"");
}

TEST_CASE("ISO dates equal the C library's gmtime over the whole range", "[protocol][date]") {
  std::mt19937_64 rng(11);
  for (int i = 0; i < 20000; ++i) {
    // About 1019..10050: every year the four-digit path writes, and past 9999 the fallback.
    const std::int64_t ms =
        static_cast<std::int64_t>(rng() % 285'000'000'000'000ULL) - 30'000'000'000'000LL;
    std::int64_t secs = ms / 1000, milli = ms % 1000;
    if (milli < 0) {
      milli += 1000;
      --secs;
    }
    const std::time_t t = static_cast<std::time_t>(secs);
    std::tm tm{};
    REQUIRE(gmtime_r(&t, &tm) != nullptr);
    char want[96];
    std::snprintf(want, sizeof want, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(milli));
    REQUIRE(iso(ms) == want);
  }
  // Outside 0000..9999 the number is still faithful (not wrapped into four digits).
  CHECK(iso(253402300800000) == "10000-01-01T00:00:00.000Z");
  CHECK(iso(-62167219200000) == "0000-01-01T00:00:00.000Z");
}

TEST_CASE("epoch milliseconds become ISO 8601 UTC by integer arithmetic", "[protocol][date]") {
  CHECK(iso(1596080481467) == "2020-07-30T03:41:21.467Z");
  CHECK(iso(1593628485253) == "2020-07-01T18:34:45.253Z");
  CHECK(iso(0) == "1970-01-01T00:00:00.000Z");
  CHECK(iso(-1) == "1969-12-31T23:59:59.999Z");
  CHECK(iso(951782400000) == "2000-02-29T00:00:00.000Z");   // leap day
  CHECK(iso(4107542399999) == "2100-02-28T23:59:59.999Z");  // 2100 is not a leap year
  CHECK(iso(253402300799999) == "9999-12-31T23:59:59.999Z");
}
