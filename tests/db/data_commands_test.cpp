// `reviewsd migrate` and `reviewsd load` against the real test cluster, through the binary.
#include "db/schema.h"
#include "support/test_env.h"

#include <fmt/format.h>
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;
using testenv::run;
using testenv::sql_value;

namespace {

const char* const kFiles[] = {"reviews.csv", "reviews_photos.csv", "characteristics.csv",
                              "characteristic_reviews.csv", "related.csv"};

fs::path sample_dir() { return testenv::fixtures_dir() / "atelier-sample"; }

testenv::CommandResult reviewsd(std::vector<std::string> args) {
  args.insert(args.begin(), testenv::reviewsd_bin().string());
  return run(args);
}

// "reviews=34 photos=42 ..." for comparing whole-database states.
std::string counts(const std::string& conninfo) {
  return sql_value(
      conninfo,
      "SELECT format('reviews=%s photos=%s characteristics=%s ratings=%s related=%s',"
      " (SELECT count(*) FROM reviews), (SELECT count(*) FROM reviews_photos),"
      " (SELECT count(*) FROM characteristics),"
      " (SELECT count(*) FROM characteristic_reviews), (SELECT count(*) FROM related))");
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const fs::path& p, const std::string& s) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << s;
}

// Copies the sample into `dir`, replacing file `name` by `content`.
void sample_with(const fs::path& dir, const std::string& name, const std::string& content) {
  for (const char* f : kFiles)
    fs::copy_file(sample_dir() / f, dir / f, fs::copy_options::overwrite_existing);
  write_file(dir / name, content);
}

// The sample's `name`, with its line `lineno` (1-based) replaced.
std::string replace_line(const std::string& name, int lineno, const std::string& line) {
  std::istringstream in(read_file(sample_dir() / name));
  std::string out;
  int n = 0;
  for (std::string l; std::getline(in, l);) {
    ++n;
    out += (n == lineno ? line : l) + "\n";
  }
  return out;
}

constexpr const char* kSampleCounts =
    "reviews=34 photos=42 characteristics=40 ratings=47 related=100";

}  // namespace

TEST_CASE("migrate creates the schema and is a no-op the second time", "[db][integration]") {
  testenv::TempDatabase tdb;
  const auto first = reviewsd({"migrate", "--db", tdb.conninfo()});
  REQUIRE(first.status == 0);
  const int latest = db::migrations().back().version;
  CHECK(first.out == fmt::format("schema migrated from version 0 to {}\n", latest));
  const std::string objects =
      "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace";
  const std::string before = sql_value(tdb.conninfo(), objects);
  const auto second = reviewsd({"migrate", "--db", tdb.conninfo()});
  REQUIRE(second.status == 0);
  CHECK(second.out == fmt::format("schema is up to date (version {})\n", latest));
  CHECK(sql_value(tdb.conninfo(), objects) == before);
  CHECK(sql_value(tdb.conninfo(), "SELECT max(version) FROM reviewsd_schema") ==
        std::to_string(latest));
}

TEST_CASE("migrate without --db is a usage error, a bad conninfo a runtime error",
          "[db][integration]") {
  auto r = reviewsd({"migrate"});
  CHECK(r.status == 2);
  CHECK(r.err.find("--db is required") != std::string::npos);
  r = reviewsd({"migrate", "--db", testenv::pg_conninfo("no_such_database_x")});
  CHECK(r.status == 1);
  CHECK(r.err.find("cannot connect") != std::string::npos);
}

TEST_CASE("load of the real sample stores every row exactly", "[db][integration]") {
  testenv::TempDatabase tdb;
  const auto r = reviewsd({"load", "--db", tdb.conninfo(), "--from", sample_dir().string()});
  INFO(r.err);
  REQUIRE(r.status == 0);
  const auto db = tdb.conninfo();
  CHECK(counts(db) == kSampleCounts);
  // The bare null is SQL NULL; quoted text keeps its bytes (runs of spaces, apostrophes).
  CHECK(sql_value(db, "SELECT response IS NULL FROM reviews WHERE id = 1") == "t");
  CHECK(sql_value(db, "SELECT response FROM reviews WHERE id = 3") ==
        "Glad you're enjoying the product!");
  CHECK(sql_value(db, "SELECT body FROM reviews WHERE id = 1") ==
        "I really did or did not like this product based on whether it was sustainably sourced."
        "  Then I found out that its made from nothing at all.");
  CHECK(sql_value(db, "SELECT date_ms FROM reviews WHERE id = 1") == "1596080481467");
  CHECK(sql_value(db, "SELECT count(*) FROM reviews WHERE reported") == "2");
  CHECK(sql_value(db, "SELECT reviewer_email FROM reviews WHERE id = 5774952") != "");
  // Ids handed out next continue after the largest loaded id.
  CHECK(sql_value(db, "SELECT nextval(pg_get_serial_sequence('reviews', 'id'))") == "5774953");
  CHECK(sql_value(db, "SELECT nextval(pg_get_serial_sequence('reviews_photos', 'id'))") ==
        "2742541");
  CHECK(sql_value(db, "SELECT count(*) FROM pg_indexes WHERE tablename = 'reviews'") == "2");

  SECTION("a second load is refused without --replace and changes nothing") {
    const auto again = reviewsd({"load", "--db", db, "--from", sample_dir().string()});
    CHECK(again.status == 1);
    CHECK(again.err.find("--replace") != std::string::npos);
    CHECK(counts(db) == kSampleCounts);
  }
  SECTION("--replace reloads to the same state") {
    const auto again = reviewsd({"load", "--db", db, "--from", sample_dir().string(), "--replace"});
    CHECK(again.status == 0);
    CHECK(counts(db) == kSampleCounts);
  }
}

TEST_CASE("load keeps escaped quotes, quoted \"null\" and drops related rows pointing to 0",
          "[db][integration]") {
  testenv::TempDatabase tdb;
  testenv::TempDir dir;
  sample_with(
      dir.path(), "reviews.csv",
      "id,product_id,rating,date,summary,body,recommend,reported,reviewer_name,"
      "reviewer_email,response,helpfulness\r\n"
      "1,1,5,1596080481467,\"He said \"\"wow\"\"\",\"a,b\nc\",true,false,\"n\",\"e\",\"null\",3\r\n"
      "7,2,1,0,\"\",\"x\",false,true,\"n\",\"e\",null,0");
  write_file(dir.path() / "related.csv",
             "id,current_product_id,related_product_id\n1,1,0\n2,1,1\n3,1,1\n");
  const auto r = reviewsd({"load", "--db", tdb.conninfo(), "--from", dir.path().string()});
  INFO(r.err);
  REQUIRE(r.status == 0);
  const auto db = tdb.conninfo();
  CHECK(sql_value(db, "SELECT summary FROM reviews WHERE id = 1") == "He said \"wow\"");
  CHECK(sql_value(db, "SELECT body FROM reviews WHERE id = 1") == "a,b\nc");
  CHECK(sql_value(db, "SELECT response FROM reviews WHERE id = 1") == "null");
  CHECK(sql_value(db, "SELECT response IS NULL FROM reviews WHERE id = 7") == "t");
  CHECK(
      sql_value(db, "SELECT string_agg(related_product_id::text, ',' ORDER BY id) FROM related") ==
      "1,1");
  CHECK(r.out.find("1 invalid dropped") != std::string::npos);
}

TEST_CASE("a malformed file stops the load with file:line: reason and leaves nothing behind",
          "[db][integration]") {
  struct Case {
    const char* name;
    std::string file;
    std::string content;
    std::string error;
  };
  const std::string reviews_header =
      "id,product_id,rating,date,summary,body,recommend,reported,reviewer_name,reviewer_email,"
      "response,helpfulness";
  const std::string full_reviews = read_file(sample_dir() / "reviews.csv");
  const std::vector<Case> cases = {
      {"wrong header", "reviews_photos.csv", "id,review,url\n1,5,\"u\"\n",
       "reviews_photos.csv:1: wrong header"},
      {"bad quoting", "reviews.csv",
       replace_line(
           "reviews.csv", 4,
           "3,2,4,1609325851021,\"I am \"liking\" these\",\"b\",true,false,\"n\",\"e\",null,5"),
       "reviews.csv:4: unexpected text after a closing quote"},
      {"non-integer id", "characteristics.csv",
       replace_line("characteristics.csv", 3, "2x,1,\"Length\""),
       "characteristics.csv:3: column id: '2x' is not an integer"},
      {"rating of 9", "reviews.csv",
       replace_line("reviews.csv", 2,
                    "1,1,9,1596080481467,\"s\",\"b\",true,false,\"funtime\",\"e\",null,8"),
       "reviews.csv:2: column rating: '9' is not an integer in 1..5"},
      {"truncated last line (cut inside a quoted field)", "reviews.csv",
       full_reviews.substr(0, full_reviews.size() - 40),
       "reviews.csv:35: unterminated quoted field"},
      {"truncated last line (cut between fields)", "reviews.csv",
       full_reviews.substr(0, full_reviews.rfind('\n') + 1) + "5774952,1000011,5,1599",
       "reviews.csv:35: expected 12 fields, found 4"},
      {"unterminated quote at the end", "reviews_photos.csv",
       read_file(sample_dir() / "reviews_photos.csv") + "\n43,1,\"https://x",
       "reviews_photos.csv:44: unterminated quoted field"},
      {"duplicate ids", "related.csv", "id,current_product_id,related_product_id\n1,1,2\n1,1,3\n",
       "related.csv: ids are not unique"},
      {"empty file", "related.csv", "", "related.csv:1: empty file"},
  };
  testenv::TempDatabase tdb;
  const auto db = tdb.conninfo();
  REQUIRE(reviewsd({"migrate", "--db", db}).status == 0);
  const std::string empty = counts(db);
  const std::string objects =
      "SELECT string_agg(relname, ',' ORDER BY relname) FROM pg_class WHERE relnamespace = "
      "'public'::regnamespace";
  const std::string schema_before = sql_value(db, objects);
  for (const auto& c : cases) {
    testenv::TempDir dir;
    sample_with(dir.path(), c.file, c.content);
    DYNAMIC_SECTION(c.name) {
      const auto r = reviewsd({"load", "--db", db, "--from", dir.path().string()});
      INFO(r.err);
      CHECK(r.status == 1);
      CHECK(r.err.find(c.error) != std::string::npos);
      CHECK(counts(db) == empty);
      CHECK(sql_value(db, objects) == schema_before);  // indexes and keys are all still there
    }
  }
  SECTION("over an existing data set with --replace, the old data stays") {
    REQUIRE(reviewsd({"load", "--db", db, "--from", sample_dir().string()}).status == 0);
    testenv::TempDir dir;
    sample_with(dir.path(), "related.csv", "id,current_product_id,related_product_id\n1,1,x\n");
    const auto r = reviewsd({"load", "--db", db, "--from", dir.path().string(), "--replace"});
    CHECK(r.status == 1);
    CHECK(r.err.find("related.csv:2: column related_product_id") != std::string::npos);
    CHECK(counts(db) == kSampleCounts);
  }
}
