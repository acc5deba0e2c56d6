// Fuzz target: protocol/json_writer.h. FuzzedDataProvider turns the input into a random JSON
// tree (strings of arbitrary bytes, int64s, booleans, nulls, nested objects and arrays, raw()
// fragments), written once with JsonWriter and once with a naive reference serializer.
//
// Properties:
// - the bytes are exactly the reference's: compact, commas only between items, and API.md's
//   escaping (only '"', '\\' and control bytes: \b \f \n \r \t, \u00xx for the rest; every
//   other byte, UTF-8 or not, copied as-is, which is what json_writer.h promises);
// - when every string is valid UTF-8, simdjson parses the output and gives back the same tree:
//   the same strings byte for byte, keys in order, the same int64 values;
// - when some string is not valid UTF-8 (outside the contract: "the data is UTF-8"), the bytes
//   are still copied as-is, so simdjson refuses the document with UTF8_ERROR, never anything
//   else (no escape or structure is broken by a stray byte);
// - append_iso8601_ms agrees with <chrono>'s civil calendar for every millisecond of years
//   0000..9999.
#include "fuzz_check.h"
#include "protocol/json_writer.h"

#include <fuzzer/FuzzedDataProvider.h>
#include <simdjson.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace {

struct Node {
  enum Kind { Object, Array, String, Int, Bool, Null } kind = Null;
  std::string text;  // String
  std::int64_t number = 0;
  bool flag = false;
  std::vector<std::string> keys;  // Object
  std::vector<Node> items;        // Object (values, in key order), Array
};

constexpr int kMaxDepth = 12;

bool all_utf8 = true;  // every string of the current tree is valid UTF-8

std::string take_string(FuzzedDataProvider& fdp, std::size_t max) {
  std::string s = fdp.ConsumeRandomLengthString(max);
  all_utf8 = all_utf8 && fuzz::valid_utf8(s);
  return s;
}

// Writes a random value with `w` and returns what was written.
Node write_value(FuzzedDataProvider& fdp, protocol::JsonWriter& w, int depth) {
  Node n;
  const int pick = fdp.ConsumeIntegralInRange(0, depth >= kMaxDepth ? 3 : 6);
  switch (pick) {
    case 0:
      n.kind = Node::String;
      n.text = take_string(fdp, 80);
      w.value(n.text);
      break;
    case 1:
      n.kind = Node::Int;
      n.number = fdp.ConsumeIntegral<std::int64_t>();
      w.value(n.number);
      break;
    case 2:
      n.kind = Node::Bool;
      n.flag = fdp.ConsumeBool();
      w.value(n.flag);
      break;
    case 3:
      n.kind = Node::Null;
      w.null();
      break;
    case 4:
    case 5: {
      n.kind = pick == 4 ? Node::Object : Node::Array;
      pick == 4 ? w.begin_object() : w.begin_array();
      const int items = fdp.ConsumeIntegralInRange(0, 4);
      for (int i = 0; i < items && fdp.remaining_bytes() > 0; ++i) {
        std::string key;
        if (n.kind == Node::Object) {
          key = take_string(fdp, 24);
          w.key(key);
        }
        n.items.push_back(write_value(fdp, w, depth + 1));
        n.keys.push_back(std::move(key));
      }
      pick == 4 ? w.end_object() : w.end_array();
      break;
    }
    case 6: {  // raw(): a fragment written by a JsonWriter of its own, as the cache does
      std::string fragment;
      protocol::JsonWriter inner(fragment);
      n = write_value(fdp, inner, depth + 1);
      w.raw(fragment);
      break;
    }
  }
  return n;
}

void ref_escape(std::string& out, const std::string& s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"') {
      out += "\\\"";
    } else if (c == '\\') {
      out += "\\\\";
    } else if (c == '\b') {
      out += "\\b";
    } else if (c == '\f') {
      out += "\\f";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20) {
      out += "\\u00";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += ch;
    }
  }
  out += '"';
}

void ref_write(std::string& out, const Node& n) {
  switch (n.kind) {
    case Node::String:
      ref_escape(out, n.text);
      break;
    case Node::Int:
      out += std::to_string(n.number);
      break;
    case Node::Bool:
      out += n.flag ? "true" : "false";
      break;
    case Node::Null:
      out += "null";
      break;
    case Node::Object:
    case Node::Array: {
      out += n.kind == Node::Object ? '{' : '[';
      bool first = true;
      for (std::size_t i = 0; i < n.items.size(); ++i) {
        if (!first) out += ',';
        first = false;
        if (n.kind == Node::Object) {
          ref_escape(out, n.keys[i]);
          out += ':';
        }
        ref_write(out, n.items[i]);
      }
      out += n.kind == Node::Object ? '}' : ']';
      break;
    }
  }
}

void check_same(const Node& n, simdjson::dom::element e) {
  using T = simdjson::dom::element_type;
  switch (n.kind) {
    case Node::String: {
      std::string_view s;
      FUZZ_CHECK(e.get_string().get(s) == simdjson::SUCCESS);
      FUZZ_CHECK(s == n.text);
      break;
    }
    case Node::Int: {
      std::int64_t v = 0;
      FUZZ_CHECK(e.type() == T::INT64);
      FUZZ_CHECK(e.get_int64().get(v) == simdjson::SUCCESS);
      FUZZ_CHECK(v == n.number);
      break;
    }
    case Node::Bool: {
      bool b = false;
      FUZZ_CHECK(e.get_bool().get(b) == simdjson::SUCCESS);
      FUZZ_CHECK(b == n.flag);
      break;
    }
    case Node::Null:
      FUZZ_CHECK(e.is_null());
      break;
    case Node::Object: {
      simdjson::dom::object obj;
      FUZZ_CHECK(e.get_object().get(obj) == simdjson::SUCCESS);
      std::size_t i = 0;
      for (const auto field : obj) {
        FUZZ_CHECK(i < n.items.size());
        FUZZ_CHECK(field.key == n.keys[i]);
        check_same(n.items[i], field.value);
        ++i;
      }
      FUZZ_CHECK(i == n.items.size());
      break;
    }
    case Node::Array: {
      simdjson::dom::array arr;
      FUZZ_CHECK(e.get_array().get(arr) == simdjson::SUCCESS);
      std::size_t i = 0;
      for (const auto item : arr) {
        FUZZ_CHECK(i < n.items.size());
        check_same(n.items[i], item);
        ++i;
      }
      FUZZ_CHECK(i == n.items.size());
      break;
    }
  }
}

void check_iso8601(std::int64_t ms) {
  using namespace std::chrono;
  const sys_time<milliseconds> tp{milliseconds{ms}};
  const auto day = floor<days>(tp);
  const year_month_day ymd{day};
  const hh_mm_ss hms{tp - day};
  char want[32];
  std::snprintf(want, sizeof want, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", int(ymd.year()),
                unsigned(ymd.month()), unsigned(ymd.day()), int(hms.hours().count()),
                int(hms.minutes().count()), int(hms.seconds().count()),
                int(hms.subseconds().count()));
  std::string got = "x";  // appends: what was there stays
  protocol::append_iso8601_ms(got, ms);
  FUZZ_CHECK(got == "x" + std::string(want));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider fdp(data, size);
  // 0000-01-01T00:00:00.000Z .. 9999-12-31T23:59:59.999Z
  check_iso8601(fdp.ConsumeIntegralInRange<std::int64_t>(-62167219200000, 253402300799999));

  all_utf8 = true;
  std::string out;
  protocol::JsonWriter w(out);
  const Node tree = write_value(fdp, w, 0);

  std::string want;
  ref_write(want, tree);
  FUZZ_CHECK(out == want);
  for (const char c : out) FUZZ_CHECK(static_cast<unsigned char>(c) >= 0x20);

  static simdjson::dom::parser parser;  // reused: its buffers grow once
  simdjson::dom::element root;
  const auto err = parser.parse(out).get(root);
  if (all_utf8) {
    FUZZ_CHECK(err == simdjson::SUCCESS);
    check_same(tree, root);
  } else {
    FUZZ_CHECK(err == simdjson::UTF8_ERROR);
  }
  return 0;
}
