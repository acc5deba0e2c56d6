#include "protocol/query.h"

#include <catch2/catch.hpp>

#include <string>

using protocol::parse_positive_int;
using protocol::percent_decode;
using protocol::QueryString;

TEST_CASE("integers follow API.md section 2 exactly", "[protocol][query]") {
  CHECK(parse_positive_int("1") == 1);
  CHECK(parse_positive_int("007") == 7);
  CHECK(parse_positive_int("2147483647") == 2147483647);
  CHECK(parse_positive_int("0000000000002147483647") == 2147483647);
  for (const char* bad : {"", "0", "000", "-1", "+1", " 1", "1 ", "1.0", "1e3", "0x10",
                          "2147483648", "99999999999999999999", "１", "1a", "a"}) {
    INFO(bad);
    CHECK_FALSE(parse_positive_int(bad).has_value());
  }
}

TEST_CASE("query parameters: first wins, decoded, unknown ignored", "[protocol][query]") {
  const QueryString q(
      "product_id=5&page=2&product_id=9&x%5Fy=a%20b&plus=a+b&empty=&flag&bad=%zz%4");
  CHECK(q.get("product_id") == "5");
  CHECK(q.get("page") == "2");
  CHECK(q.get("x_y") == "a b");
  CHECK(q.get("plus") == "a b");
  CHECK(q.get("empty") == "");
  CHECK(q.get("flag") == "");
  CHECK(q.get("bad") == "%zz%4");
  CHECK_FALSE(q.get("count").has_value());
  CHECK_FALSE(QueryString("").get("a").has_value());
  CHECK(QueryString("&&a=1&").get("a") == "1");
  // The first '=' splits; '%' and '+' are decoded on the side they are on, and only there.
  CHECK(QueryString("a=b=c").get("a") == "b=c");
  CHECK(QueryString("%61=1+1&b+c=%2B").get("a") == "1 1");
  CHECK(QueryString("%61=1+1&b+c=%2B").get("b c") == "+");
  CHECK(QueryString("x=%61&a=2").get("a") == "2");
  CHECK(QueryString("=v&a").get("") == "v");
  // Decoding happens before the integer check.
  CHECK(parse_positive_int(*QueryString("product_id=%31%32").get("product_id")) == 12);
  CHECK_FALSE(parse_positive_int(*QueryString("product_id=%2B1").get("product_id")).has_value());
}

TEST_CASE("query parameters past the first eight: same rules", "[protocol][query]") {
  // The first pairs are indexed at construction, the rest scanned when asked; a name must be
  // found, first occurrence first, wherever it sits.
  std::string raw;
  for (int i = 0; i < 12; ++i) raw += "&p" + std::to_string(i) + "=" + std::to_string(i);
  raw += "&late=x&p3=again&l%61te2=y+z";
  const QueryString q(raw);
  CHECK(q.get("p0") == "0");
  CHECK(q.get("p7") == "7");
  CHECK(q.get("p8") == "8");
  CHECK(q.get("p11") == "11");
  CHECK(q.get("p3") == "3");
  CHECK(q.get("late") == "x");
  CHECK(q.get("late2") == "y z");
  CHECK_FALSE(q.get("p12").has_value());
  // A name repeated across the boundary: the indexed (earlier) one wins.
  CHECK(QueryString("a=1&b&c&d&e&f&g&h&a=2").get("a") == "1");
  CHECK(QueryString("b&c&d&e&f&g&h&i&a=2&a=3").get("a") == "2");
}

TEST_CASE("percent_decode", "[protocol][query]") {
  CHECK(percent_decode("a%2Fb%2fc") == "a/b/c");
  CHECK(percent_decode("%E2%9C%93") == "\xE2\x9C\x93");
  CHECK(percent_decode("100%") == "100%");
  CHECK(percent_decode("%4") == "%4");
}
