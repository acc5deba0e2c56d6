#include "db/csv.h"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

namespace {

using db::csv::CsvError;
using db::csv::Field;
using db::csv::Reader;

std::vector<std::vector<std::string>> split(std::string_view data) {
  Reader r(data, "t.csv");
  std::vector<Field> fields;
  std::vector<std::vector<std::string>> out;
  while (r.next(fields)) {
    auto& row = out.emplace_back();
    for (const auto& f : fields) row.emplace_back(f.raw);
  }
  return out;
}

const db::csv::TableSpec& spec(std::string_view table) {
  for (const auto& t : db::csv::tables()) {
    if (t.table == table) return t;
  }
  throw std::logic_error("no such table");
}

// Converts one data row (no header) of `table` to COPY text.
std::string copy_row(std::string_view table, std::string_view line) {
  Reader r(line, "t.csv");
  std::vector<Field> fields;
  REQUIRE(r.next(fields));
  std::string out;
  db::csv::append_copy_row(spec(table), fields, r, out);
  return out;
}

}  // namespace

TEST_CASE("records split on commas and line ends, LF or CRLF, final newline optional",
          "[db][csv]") {
  CHECK(split("a,b\n1,2") == std::vector<std::vector<std::string>>{{"a", "b"}, {"1", "2"}});
  CHECK(split("a,b\r\n1,2\r\n") == std::vector<std::vector<std::string>>{{"a", "b"}, {"1", "2"}});
  CHECK(split("x,,\n") == std::vector<std::vector<std::string>>{{"x", "", ""}});
}

TEST_CASE("quoted fields keep commas, runs of spaces, doubled quotes and line breaks",
          "[db][csv]") {
  Reader r("\"a, b\",\"say \"\"hi\"\"\",\"two\nlines\",\"  x  \"\nnext\n", "t.csv");
  std::vector<Field> f;
  REQUIRE(r.next(f));
  REQUIRE(f.size() == 4);
  CHECK(f[0].raw == "a, b");
  CHECK(f[1].raw == "say \"\"hi\"\"");
  CHECK(f[1].has_escapes);
  CHECK(f[2].raw == "two\nlines");
  CHECK(f[3].raw == "  x  ");
  REQUIRE(r.next(f));
  CHECK(r.line() == 3);  // the embedded line break counts
  CHECK_FALSE(r.next(f));
}

TEST_CASE("bad quoting is reported with file and line", "[db][csv]") {
  CHECK_THROWS_WITH(split("a\n\"open"), "t.csv:2: unterminated quoted field");
  CHECK_THROWS_WITH(split("a\n\"x\"y\n"), "t.csv:2: unexpected text after a closing quote");
  CHECK_THROWS_WITH(split("a\nx\"y\n"), "t.csv:2: quote inside an unquoted field");
  CHECK_THROWS_WITH(split("a\rb\n"), "t.csv:1: bare CR outside a quoted field");
}

TEST_CASE("review rows convert to COPY text: bare null is NULL, quoted \"null\" is text",
          "[db][csv]") {
  CHECK(copy_row("reviews",
                 "1,1,5,1596080481467,\"This, "
                 "\"\"great\"\"\",\"a\\b\ttab\",true,false,\"n\",\"e\",null,8") ==
        "1\t1\t5\t1596080481467\tThis, \"great\"\ta\\\\b\\ttab\tt\tf\tn\te\t\\N\t8\n");
  CHECK(copy_row("reviews", "2,1,4,1,\"s\",\"b\",false,true,\"n\",\"e\",\"null\",0") ==
        "2\t1\t4\t1\ts\tb\tf\tt\tn\te\tnull\t0\n");
}

TEST_CASE("invalid values name the column and value", "[db][csv]") {
  CHECK_THROWS_WITH(copy_row("reviews", "1,1,9,1,\"s\",\"b\",true,false,\"n\",\"e\",null,0"),
                    "t.csv:1: column rating: '9' is not an integer in 1..5");
  CHECK_THROWS_WITH(copy_row("reviews", "x1,1,5,1,\"s\",\"b\",true,false,\"n\",\"e\",null,0"),
                    "t.csv:1: column id: 'x1' is not an integer in 1..2147483647");
  CHECK_THROWS_WITH(copy_row("reviews", "1,1,5,1,\"s\",\"b\",yes,false,\"n\",\"e\",null,0"),
                    "t.csv:1: column recommend: 'yes' is not true or false");
  CHECK_THROWS_WITH(copy_row("reviews", "1,1,5,1,null,\"b\",true,false,\"n\",\"e\",null,0"),
                    "t.csv:1: column summary: 'null' is not allowed to be null");
  CHECK_THROWS_WITH(copy_row("reviews", "1,1,5,1596080481467,\"s\""),
                    "t.csv:1: expected 12 fields, found 5");
  CHECK_THROWS_WITH(copy_row("characteristic_reviews", "1,1,1,0"),
                    "t.csv:1: column value: '0' is not an integer in 1..5");
  CHECK_THROWS_WITH(
      copy_row("characteristics", "1,1,\"Colour\""),
      "t.csv:1: column name: 'Colour' is not one of Fit, Length, Comfort, Quality, Size, Width");
  CHECK_THROWS_WITH(copy_row("reviews_photos", "1,2147483648,\"u\""),
                    "t.csv:1: column review_id: '2147483648' is not an integer in 1..2147483647");
  CHECK_THROWS_WITH(copy_row("reviews_photos", "1,2,\"\xC3\x28\""),
                    Catch::Matchers::Contains("is not valid UTF-8"));
}

TEST_CASE("related rows pointing to product 0 are dropped, others kept as stored", "[db][csv]") {
  const auto& related = spec("related");
  Reader r("1,5,0\n2,5,5\n3,5,00\n", "related.csv");
  std::vector<Field> f;
  std::string out;
  REQUIRE(r.next(f));
  CHECK(db::csv::append_copy_row(related, f, r, out) == db::csv::RowResult::Dropped);
  CHECK(out.empty());
  REQUIRE(r.next(f));
  CHECK(db::csv::append_copy_row(related, f, r, out) == db::csv::RowResult::Ok);
  CHECK(out == "2\t5\t5\n");
  REQUIRE(r.next(f));
  CHECK(db::csv::append_copy_row(related, f, r, out) == db::csv::RowResult::Dropped);
}

TEST_CASE("headers must match the original exactly", "[db][csv]") {
  Reader r("id,review_id,link\n", "reviews_photos.csv");
  std::vector<Field> f;
  REQUIRE(r.next(f));
  CHECK_THROWS_WITH(
      db::csv::check_header(spec("reviews_photos"), f, r),
      "reviews_photos.csv:1: wrong header: expected 'id,review_id,url', found 'id,review_id,link'");
}
