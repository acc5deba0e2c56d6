#include "db/csv.h"

#include <fmt/format.h>

#include <cstring>

namespace db::csv {

namespace {

constexpr Column kReviewsColumns[] = {
    {"id", ColumnType::PositiveInt},        {"product_id", ColumnType::PositiveInt},
    {"rating", ColumnType::Rating},         {"date", ColumnType::EpochMillis},
    {"summary", ColumnType::Text},          {"body", ColumnType::Text},
    {"recommend", ColumnType::Bool},        {"reported", ColumnType::Bool},
    {"reviewer_name", ColumnType::Text},    {"reviewer_email", ColumnType::Text},
    {"response", ColumnType::NullableText}, {"helpfulness", ColumnType::NonNegativeInt},
};
constexpr Column kPhotosColumns[] = {{"id", ColumnType::PositiveInt},
                                     {"review_id", ColumnType::PositiveInt},
                                     {"url", ColumnType::Text}};
constexpr Column kCharacteristicsColumns[] = {{"id", ColumnType::PositiveInt},
                                              {"product_id", ColumnType::PositiveInt},
                                              {"name", ColumnType::CharacteristicName}};
constexpr Column kCharacteristicReviewsColumns[] = {{"id", ColumnType::PositiveInt},
                                                    {"characteristic_id", ColumnType::PositiveInt},
                                                    {"review_id", ColumnType::PositiveInt},
                                                    {"value", ColumnType::Rating}};
constexpr Column kRelatedColumns[] = {{"id", ColumnType::PositiveInt},
                                      {"current_product_id", ColumnType::PositiveInt},
                                      {"related_product_id", ColumnType::NonNegativeInt}};

constexpr TableSpec kTables[] = {
    {"reviews", "reviews.csv",
     "id,product_id,rating,date,summary,body,recommend,reported,reviewer_name,reviewer_email,"
     "response,helpfulness",
     kReviewsColumns},
    {"reviews_photos", "reviews_photos.csv", "id,review_id,url", kPhotosColumns},
    {"characteristics", "characteristics.csv", "id,product_id,name", kCharacteristicsColumns},
    {"characteristic_reviews", "characteristic_reviews.csv", "id,characteristic_id,review_id,value",
     kCharacteristicReviewsColumns},
    {"related", "related.csv", "id,current_product_id,related_product_id", kRelatedColumns, 2},
};

constexpr std::string_view kCharacteristicNames[] = {"Fit",     "Length", "Comfort",
                                                     "Quality", "Size",   "Width"};

// Strict unsigned decimal: digits only, no sign, no spaces, value <= max.
bool parse_uint(std::string_view s, unsigned long long max, unsigned long long& out) {
  if (s.empty() || s.size() > 20) return false;
  unsigned long long v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    const unsigned d = static_cast<unsigned>(c - '0');
    if (d > max || v > (max - d) / 10) return false;
    v = v * 10 + d;
  }
  out = v;
  return true;
}

// Returns the byte offset of the first invalid UTF-8 sequence, or npos.
std::size_t invalid_utf8_at(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    const unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    unsigned cp = 0;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return i;
    }
    if (i + len > n) return i;
    for (std::size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    const bool overlong =
        (len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000);
    if (overlong || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
    i += len;
  }
  return std::string_view::npos;
}

// Appends a field's text in COPY text format, undoing CSV's "" escapes.
void append_copy_text(const Field& f, std::string& out) {
  const std::string_view s = f.raw;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '"':
        out += '"';
        if (f.has_escapes) ++i;  // the reader guarantees quotes inside come in pairs
        break;
      default:
        out += c;
    }
  }
}

std::string shown(const Field& f) {
  constexpr std::size_t kMax = 40;
  std::string s{f.raw.substr(0, kMax)};
  if (f.raw.size() > kMax) s += "...";
  return s;
}

}  // namespace

std::span<const TableSpec> tables() { return kTables; }

Reader::Reader(std::string_view data, std::string file) : data_(data), file_(std::move(file)) {
  if (data_.substr(0, 3) == "\xEF\xBB\xBF") pos_ = 3;  // a UTF-8 byte order mark is not data
}

void Reader::fail(std::string_view reason) const {
  throw CsvError(fmt::format("{}:{}: {}", file_, record_line_ ? record_line_ : line_, reason));
}

bool Reader::next(std::vector<Field>& fields) {
  fields.clear();
  const std::size_t n = data_.size();
  if (pos_ >= n) return false;
  record_line_ = line_;
  const char* d = data_.data();
  for (;;) {
    Field f;
    // pos_ == n here after a trailing comma ("a,b,"): the last field is empty, not a byte past
    // the end (the loader's data is a mapped file: that byte may be unmapped).
    if (pos_ < n && d[pos_] == '"') {
      f.quoted = true;
      const std::size_t start = ++pos_;
      for (;;) {
        const void* q = pos_ < n ? std::memchr(d + pos_, '"', n - pos_) : nullptr;
        if (!q) fail("unterminated quoted field");
        const std::size_t qi = static_cast<std::size_t>(static_cast<const char*>(q) - d);
        if (qi + 1 < n && d[qi + 1] == '"') {
          f.has_escapes = true;
          pos_ = qi + 2;
          continue;
        }
        f.raw = data_.substr(start, qi - start);
        pos_ = qi + 1;
        break;
      }
      for (char c : f.raw) line_ += c == '\n';
      if (pos_ < n && d[pos_] != ',' && d[pos_] != '\n' && d[pos_] != '\r') {
        fail("unexpected text after a closing quote");
      }
    } else {
      const std::size_t start = pos_;
      while (pos_ < n) {
        const char c = d[pos_];
        if (c == ',' || c == '\n' || c == '\r') break;
        if (c == '"') fail("quote inside an unquoted field");
        ++pos_;
      }
      f.raw = data_.substr(start, pos_ - start);
    }
    fields.push_back(f);
    if (pos_ >= n) return true;
    const char c = d[pos_];
    if (c == ',') {
      ++pos_;
      continue;
    }
    if (c == '\r') {
      if (pos_ + 1 >= n || d[pos_ + 1] != '\n') fail("bare CR outside a quoted field");
      ++pos_;
    }
    ++pos_;  // the '\n'
    ++line_;
    return true;
  }
}

void check_header(const TableSpec& spec, std::span<const Field> fields, const Reader& reader) {
  std::string got;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (i) got += ',';
    got += fields[i].raw;
  }
  if (got != spec.header) {
    reader.fail(fmt::format("wrong header: expected '{}', found '{}'", spec.header, got));
  }
}

RowResult append_copy_row(const TableSpec& spec, std::span<const Field> fields,
                          const Reader& reader, std::string& out) {
  if (fields.size() != spec.columns.size()) {
    reader.fail(fmt::format("expected {} fields, found {}", spec.columns.size(), fields.size()));
  }
  if (spec.drop_if_zero_column >= 0) {
    unsigned long long v = 1;
    if (parse_uint(fields[spec.drop_if_zero_column].raw, 2147483647ULL, v) && v == 0) {
      return RowResult::Dropped;  // "0" or "00": the same invalid product
    }
  }
  const std::size_t mark = out.size();
  for (std::size_t i = 0; i < fields.size(); ++i) {
    const Field& f = fields[i];
    const Column& col = spec.columns[i];
    if (i) out += '\t';
    unsigned long long v = 0;
    auto bad = [&](std::string_view what) {
      out.resize(mark);
      reader.fail(fmt::format("column {}: '{}' is not {}", col.name, shown(f), what));
    };
    switch (col.type) {
      case ColumnType::PositiveInt:
        if (!parse_uint(f.raw, 2147483647ULL, v) || v == 0) bad("an integer in 1..2147483647");
        out += f.raw;
        break;
      case ColumnType::NonNegativeInt:
        if (!parse_uint(f.raw, 2147483647ULL, v)) bad("an integer in 0..2147483647");
        out += f.raw;
        break;
      case ColumnType::EpochMillis:
        if (f.quoted || !parse_uint(f.raw, 9223372036854775807ULL, v)) {
          bad("an epoch time in milliseconds");
        }
        out += f.raw;
        break;
      case ColumnType::Rating:
        if (!parse_uint(f.raw, 5, v) || v == 0) bad("an integer in 1..5");
        out += f.raw;
        break;
      case ColumnType::Bool:
        if (f.raw == "true") {
          out += 't';
        } else if (f.raw == "false") {
          out += 'f';
        } else {
          bad("true or false");
        }
        break;
      case ColumnType::CharacteristicName: {
        bool known = false;
        for (auto name : kCharacteristicNames) known = known || f.raw == name;
        if (!known) bad("one of Fit, Length, Comfort, Quality, Size, Width");
        out += f.raw;
        break;
      }
      case ColumnType::Text:
      case ColumnType::NullableText:
        if (!f.quoted && f.raw == "null") {
          if (col.type == ColumnType::Text) bad("allowed to be null");
          out += "\\N";
          break;
        }
        if (f.raw.find('\0') != std::string_view::npos) bad("text without NUL bytes");
        if (invalid_utf8_at(f.raw) != std::string_view::npos) bad("valid UTF-8");
        append_copy_text(f, out);
        break;
    }
  }
  out += '\n';
  return RowResult::Ok;
}

}  // namespace db::csv
