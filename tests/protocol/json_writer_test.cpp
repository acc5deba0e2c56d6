#include "protocol/json_writer.h"

#include <catch2/catch.hpp>

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

TEST_CASE("epoch milliseconds become ISO 8601 UTC by integer arithmetic", "[protocol][date]") {
  CHECK(iso(1596080481467) == "2020-07-30T03:41:21.467Z");
  CHECK(iso(1593628485253) == "2020-07-01T18:34:45.253Z");
  CHECK(iso(0) == "1970-01-01T00:00:00.000Z");
  CHECK(iso(-1) == "1969-12-31T23:59:59.999Z");
  CHECK(iso(951782400000) == "2000-02-29T00:00:00.000Z");   // leap day
  CHECK(iso(4107542399999) == "2100-02-28T23:59:59.999Z");  // 2100 is not a leap year
  CHECK(iso(253402300799999) == "9999-12-31T23:59:59.999Z");
}
