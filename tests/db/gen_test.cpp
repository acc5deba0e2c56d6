// `reviewsd gen` (db::generate_dataset): byte format, referential shape, determinism and
// loose distribution checks on small scales.
#include <catch2/catch.hpp>

#include <stdlib.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "db/gen.h"

namespace fs = std::filesystem;

namespace {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = "/tmp/reviewsd-gen-test-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  REQUIRE(in.good());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Field {
  std::string value;  // unescaped
  bool quoted = false;
};
using Record = std::vector<Field>;

// A strict RFC 4180 splitter (LF line ends only, as the generator writes them). Fails the test on
// a stray quote, text after a closing quote, an unterminated field or a missing final newline.
std::vector<Record> parse_csv(const std::string& data, const std::string& name) {
  INFO(name);
  std::vector<Record> out;
  std::size_t i = 0;
  const std::size_t n = data.size();
  REQUIRE(n > 0);
  REQUIRE(data.back() == '\n');
  REQUIRE(data.find('\r') == std::string::npos);
  while (i < n) {
    Record rec;
    for (;;) {
      Field f;
      if (data[i] == '"') {
        f.quoted = true;
        ++i;
        for (;;) {
          REQUIRE(i < n);  // unterminated quoted field
          if (data[i] == '"') {
            if (i + 1 < n && data[i + 1] == '"') {
              f.value += '"';
              i += 2;
            } else {
              ++i;
              break;
            }
          } else {
            f.value += data[i++];
          }
        }
        REQUIRE(i < n);
        REQUIRE((data[i] == ',' || data[i] == '\n'));
      } else {
        while (i < n && data[i] != ',' && data[i] != '\n') {
          REQUIRE(data[i] != '"');  // quote inside an unquoted field
          f.value += data[i++];
        }
        REQUIRE(i < n);
      }
      rec.push_back(std::move(f));
      if (data[i++] == '\n') break;
    }
    out.push_back(std::move(rec));
  }
  return out;
}

bool valid_utf8(const std::string& s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t len = c < 0x80         ? 1
                      : (c >> 5) == 6  ? 2
                      : (c >> 4) == 14 ? 3
                      : (c >> 3) == 30 ? 4
                                       : 0;
    if (len == 0 || i + len > s.size()) return false;
    for (std::size_t k = 1; k < len; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += len;
  }
  return true;
}

bool is_digits(const std::string& s) {
  if (s.empty() || s.size() > 19) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// A bare (unquoted) non-negative integer field.
std::int64_t bare_int(const Field& f) {
  INFO(f.value);
  REQUIRE_FALSE(f.quoted);
  REQUIRE(is_digits(f.value));
  REQUIRE((f.value == "0" || f.value[0] != '0'));
  return std::stoll(f.value);
}

bool bare_bool(const Field& f) {
  INFO(f.value);
  REQUIRE_FALSE(f.quoted);
  REQUIRE((f.value == "true" || f.value == "false"));
  return f.value == "true";
}

const std::string& text(const Field& f) {
  INFO(f.value);
  REQUIRE(f.quoted);
  REQUIRE(valid_utf8(f.value));
  return f.value;
}

std::uint64_t scaled(double count1, std::uint64_t products) {
  return static_cast<std::uint64_t>(
      std::llround(count1 * static_cast<double>(products) / 1000011.0));
}

db::GenStats gen(const fs::path& out, double scale, std::uint64_t seed, bool newlines = false) {
  db::GenOptions o;
  o.scale = scale;
  o.out = out;
  o.seed = seed;
  o.progress = false;
  o.embedded_newlines = newlines;
  return db::generate_dataset(o);
}

const char* const kFiles[] = {"reviews.csv", "reviews_photos.csv", "characteristics.csv",
                              "characteristic_reviews.csv", "related.csv"};

}  // namespace

TEST_CASE("gen writes the five files in the original format with a consistent shape", "[db][gen]") {
  TempDir dir;
  const db::GenStats st = gen(dir.path(), 0.001, 42);

  const std::uint64_t P = 1000;
  CHECK(st.products == P);
  // Scaled row counts (characteristic_reviews follows from the others; within 1%).
  CHECK(st.reviews == scaled(5774952, P));
  CHECK(st.photos == scaled(2742540, P));
  CHECK(st.characteristics == scaled(3347679, P));
  CHECK(st.related == scaled(4508263, P));
  CHECK(std::abs(static_cast<double>(st.characteristic_reviews) / scaled(19327575, P) - 1) < 0.01);

  std::uint64_t bytes = 0;
  for (const char* f : kFiles) bytes += fs::file_size(dir.path() / f);
  CHECK(st.bytes == bytes);
  CHECK(st.seconds >= 0);

  // --- reviews.csv
  const std::string reviews_raw = slurp(dir.path() / "reviews.csv");
  const auto reviews = parse_csv(reviews_raw, "reviews.csv");
  REQUIRE(
      reviews_raw.rfind("id,product_id,rating,date,summary,body,recommend,reported,reviewer_name,"
                        "reviewer_email,response,helpfulness\n",
                        0) == 0);
  REQUIRE(reviews.size() == st.reviews + 1);
  CHECK(reviews_raw.find("\"\"") != std::string::npos);      // an escaped quote
  CHECK(reviews_raw.find(",null,") != std::string::npos);    // a bare NULL response
  CHECK(reviews_raw.find("\"null\"") == std::string::npos);  // never the quoted string
  CHECK(reviews_raw.find("  ") != std::string::npos);        // runs of spaces

  std::unordered_map<std::int64_t, std::int64_t> review_product;  // review id -> product id
  std::int64_t last_product = 0;
  std::size_t nulls = 0, responses = 0, commas = 0, non_ascii = 0;
  for (std::size_t r = 1; r < reviews.size(); ++r) {
    const Record& rec = reviews[r];
    REQUIRE(rec.size() == 12);
    CHECK(bare_int(rec[0]) == static_cast<std::int64_t>(r));  // ids 1..N in order
    const std::int64_t product = bare_int(rec[1]);
    CHECK(product >= 1);
    CHECK(product <= static_cast<std::int64_t>(P));
    CHECK(product >= last_product);
    last_product = product;
    review_product[static_cast<std::int64_t>(r)] = product;
    const std::int64_t rating = bare_int(rec[2]);
    CHECK(rating >= 1);
    CHECK(rating <= 5);
    const std::int64_t date = bare_int(rec[3]);
    CHECK(date >= 1577836800000);  // 2020-01-01
    CHECK(date < 1622505600000);   // 2021-06-01
    const std::string& summary = text(rec[4]);
    CHECK(summary.size() >= 5);
    CHECK(summary.size() <= 120);
    const std::string& body = text(rec[5]);
    CHECK(body.size() >= 20);
    CHECK(body.size() <= 1100);
    commas += body.find(',') != std::string::npos;
    for (char c : body) {
      if (static_cast<unsigned char>(c) >= 0x80) {
        ++non_ascii;
        break;
      }
    }
    bare_bool(rec[6]);
    bare_bool(rec[7]);
    CHECK_FALSE(text(rec[8]).empty());
    CHECK(text(rec[9]).find('@') != std::string::npos);
    if (!rec[10].quoted) {
      CHECK(rec[10].value == "null");
      ++nulls;
    } else {
      CHECK_FALSE(text(rec[10]).empty());
      ++responses;
    }
    const std::int64_t helpful = bare_int(rec[11]);
    CHECK(helpful <= 30);
  }
  CHECK(nulls > 0);
  CHECK(responses > 0);
  CHECK(commas > 0);
  CHECK(non_ascii > 0);

  // --- characteristics.csv
  const std::string chars_raw = slurp(dir.path() / "characteristics.csv");
  const auto chars = parse_csv(chars_raw, "characteristics.csv");
  REQUIRE(chars_raw.rfind("id,product_id,name\n", 0) == 0);
  REQUIRE(chars.size() == st.characteristics + 1);
  const std::set<std::string> names = {"Fit", "Length", "Comfort", "Quality", "Size", "Width"};
  std::unordered_map<std::int64_t, std::int64_t> char_product;      // char id -> product
  std::map<std::int64_t, std::vector<std::int64_t>> product_chars;  // product -> char ids
  std::map<std::int64_t, std::set<std::string>> product_char_names;
  for (std::size_t r = 1; r < chars.size(); ++r) {
    const Record& rec = chars[r];
    REQUIRE(rec.size() == 3);
    const std::int64_t id = bare_int(rec[0]);
    CHECK(id == static_cast<std::int64_t>(r));
    const std::int64_t product = bare_int(rec[1]);
    CHECK(product >= 1);
    CHECK(product <= static_cast<std::int64_t>(P));
    const std::string& name = text(rec[2]);
    CHECK(names.count(name) == 1);
    CHECK(product_char_names[product].insert(name).second);  // no duplicate within a product
    auto& ids = product_chars[product];
    if (!ids.empty()) CHECK(ids.back() + 1 == id);  // consecutive within the product
    ids.push_back(id);
    char_product[id] = product;
  }
  for (const auto& [product, ids] : product_chars) CHECK(ids.size() <= 6);
  CHECK(product_chars.size() < P);  // some products have none

  // --- characteristic_reviews.csv: exactly one row per (review, characteristic of its product)
  const std::string cr_raw = slurp(dir.path() / "characteristic_reviews.csv");
  const auto crs = parse_csv(cr_raw, "characteristic_reviews.csv");
  REQUIRE(cr_raw.rfind("id,characteristic_id,review_id,value\n", 0) == 0);
  REQUIRE(crs.size() == st.characteristic_reviews + 1);
  std::set<std::pair<std::int64_t, std::int64_t>> pairs;
  for (std::size_t r = 1; r < crs.size(); ++r) {
    const Record& rec = crs[r];
    REQUIRE(rec.size() == 4);
    CHECK(bare_int(rec[0]) == static_cast<std::int64_t>(r));
    const std::int64_t cid = bare_int(rec[1]);
    const std::int64_t rid = bare_int(rec[2]);
    const std::int64_t value = bare_int(rec[3]);
    CHECK(value >= 1);
    CHECK(value <= 5);
    REQUIRE(review_product.count(rid) == 1);
    REQUIRE(char_product.count(cid) == 1);
    CHECK(char_product[cid] == review_product[rid]);
    CHECK(pairs.emplace(rid, cid).second);
  }
  std::size_t expected_pairs = 0;
  for (const auto& [rid, product] : review_product) {
    auto it = product_chars.find(product);
    if (it != product_chars.end()) expected_pairs += it->second.size();
  }
  CHECK(pairs.size() == expected_pairs);

  // --- reviews_photos.csv
  const std::string photos_raw = slurp(dir.path() / "reviews_photos.csv");
  const auto photos = parse_csv(photos_raw, "reviews_photos.csv");
  REQUIRE(photos_raw.rfind("id,review_id,url\n", 0) == 0);
  REQUIRE(photos.size() == st.photos + 1);
  std::map<std::int64_t, int> per_review;
  for (std::size_t r = 1; r < photos.size(); ++r) {
    const Record& rec = photos[r];
    REQUIRE(rec.size() == 3);
    CHECK(bare_int(rec[0]) == static_cast<std::int64_t>(r));
    const std::int64_t rid = bare_int(rec[1]);
    CHECK(review_product.count(rid) == 1);
    ++per_review[rid];
    CHECK(text(rec[2]).rfind("https://images.unsplash.com/photo-", 0) == 0);
  }
  for (const auto& [rid, n] : per_review) CHECK(n <= 5);
  CHECK(per_review.size() < st.reviews);  // most reviews have no photo

  // --- related.csv
  const std::string related_raw = slurp(dir.path() / "related.csv");
  const auto related = parse_csv(related_raw, "related.csv");
  REQUIRE(related_raw.rfind("id,current_product_id,related_product_id\n", 0) == 0);
  REQUIRE(related.size() == st.related + 1);
  std::size_t zeros = 0, selfs = 0, dups = 0;
  std::set<std::pair<std::int64_t, std::int64_t>> seen;
  std::int64_t last_current = 0;
  for (std::size_t r = 1; r < related.size(); ++r) {
    const Record& rec = related[r];
    REQUIRE(rec.size() == 3);
    CHECK(bare_int(rec[0]) == static_cast<std::int64_t>(r));
    const std::int64_t cur = bare_int(rec[1]);
    const std::int64_t rel = bare_int(rec[2]);
    CHECK(cur >= 1);
    CHECK(cur <= static_cast<std::int64_t>(P));
    CHECK(cur >= last_current);
    last_current = cur;
    CHECK(rel <= static_cast<std::int64_t>(P));
    zeros += rel == 0;
    selfs += rel == cur;
    if (!seen.emplace(cur, rel).second) ++dups;
  }
  CHECK(zeros > 0);
  CHECK(selfs > 0);
  CHECK(dups > 0);
}

TEST_CASE("gen is deterministic for a seed and differs across seeds", "[db][gen]") {
  TempDir a, b, c;
  const auto sa = gen(a.path(), 0.001, 7);
  const auto sb = gen(b.path(), 0.001, 7);
  gen(c.path(), 0.001, 8);
  CHECK(sa.bytes == sb.bytes);
  for (const char* f : kFiles) {
    INFO(f);
    CHECK(slurp(a.path() / f) == slurp(b.path() / f));
  }
  // Another seed: other data (row counts are fixed by the scale, so compare contents).
  CHECK(slurp(a.path() / "reviews.csv") != slurp(c.path() / "reviews.csv"));
  CHECK(slurp(a.path() / "related.csv") != slurp(c.path() / "related.csv"));
  CHECK(slurp(a.path() / "characteristics.csv") != slurp(c.path() / "characteristics.csv"));
}

TEST_CASE("gen at scale 0.01 has the original's proportions and distributions", "[db][gen]") {
  TempDir dir;
  const auto st = gen(dir.path(), 0.01, 42);
  const std::uint64_t P = 10000;
  CHECK(st.products == P);
  CHECK(st.reviews == scaled(5774952, P));
  CHECK(st.photos == scaled(2742540, P));
  CHECK(st.characteristics == scaled(3347679, P));
  CHECK(st.related == scaled(4508263, P));
  CHECK(std::abs(static_cast<double>(st.characteristic_reviews) / scaled(19327575, P) - 1) < 0.01);

  const auto reviews = parse_csv(slurp(dir.path() / "reviews.csv"), "reviews.csv");
  REQUIRE(reviews.size() == st.reviews + 1);
  const double n = static_cast<double>(st.reviews);
  std::size_t reported = 0, nulls = 0, recommend = 0, high = 0, helpful0 = 0;
  double body_len = 0, summary_len = 0;
  std::map<std::int64_t, std::size_t> per_product;
  for (std::size_t r = 1; r < reviews.size(); ++r) {
    const Record& rec = reviews[r];
    ++per_product[std::stoll(rec[1].value)];
    high += rec[2].value == "4" || rec[2].value == "5";
    recommend += rec[6].value == "true";
    reported += rec[7].value == "true";
    nulls += !rec[10].quoted;
    helpful0 += rec[11].value == "0";
    body_len += static_cast<double>(rec[5].value.size());
    summary_len += static_cast<double>(rec[4].value.size());
  }
  CHECK(reported / n > 0.002);
  CHECK(reported / n < 0.03);
  CHECK(nulls / n > 0.35);
  CHECK(nulls / n < 0.65);
  CHECK(recommend / n > 0.6);
  CHECK(recommend / n < 0.8);
  CHECK(high / n > 0.55);
  CHECK(helpful0 / n > 0.2);
  CHECK(body_len / n > 100);
  CHECK(body_len / n < 500);
  CHECK(summary_len / n > 20);
  CHECK(summary_len / n < 60);

  // Skewed reviews per product: many with none, a few with many.
  const double zero_share = 1.0 - static_cast<double>(per_product.size()) / static_cast<double>(P);
  CHECK(zero_share > 0.15);
  CHECK(zero_share < 0.5);
  std::size_t max_reviews = 0;
  for (const auto& [p, k] : per_product) max_reviews = std::max(max_reviews, k);
  CHECK(max_reviews >= 50);
}

TEST_CASE("gen can embed rare newlines in quoted bodies", "[db][gen]") {
  TempDir dir;
  gen(dir.path(), 0.001, 42, true);
  const std::string raw = slurp(dir.path() / "reviews.csv");
  const auto reviews = parse_csv(raw, "reviews.csv");
  std::size_t with_newline = 0;
  for (std::size_t r = 1; r < reviews.size(); ++r) {
    REQUIRE(reviews[r].size() == 12);
    with_newline += reviews[r][5].value.find('\n') != std::string::npos;
  }
  CHECK(with_newline > 0);
  CHECK(with_newline < reviews.size() / 20);
}

TEST_CASE("gen reports I/O errors with the path", "[db][gen]") {
  SECTION("a file that cannot be created") {
    TempDir dir;
    fs::create_directory(dir.path() / "related.csv");  // a directory where the file goes
    try {
      gen(dir.path(), 0.001, 42);
      FAIL("no exception");
    } catch (const std::runtime_error& e) {
      CHECK_THAT(e.what(), Catch::Contains((dir.path() / "related.csv").string()));
    }
  }
  SECTION("an output directory that cannot be created") {
    TempDir dir;
    { std::ofstream(dir.path() / "file") << "x"; }
    const fs::path out = dir.path() / "file" / "sub";
    try {
      gen(out, 0.001, 42);
      FAIL("no exception");
    } catch (const std::runtime_error& e) {
      CHECK_THAT(e.what(), Catch::Contains(out.string()));
    }
  }
  SECTION("a full disk") {
    if (!fs::exists("/dev/full")) return;
    // Not a directory we can write into; instead check that writing to /dev/full through a
    // symlinked file name fails with the path.
    TempDir dir;
    fs::create_symlink("/dev/full", dir.path() / "reviews.csv");
    try {
      gen(dir.path(), 0.001, 42);
      FAIL("no exception");
    } catch (const std::runtime_error& e) {
      CHECK_THAT(e.what(), Catch::Contains((dir.path() / "reviews.csv").string()));
    }
  }
}
