// Fuzz target: db/csv.h, the loader's strict RFC 4180 reader and COPY row writer. The input is
// the bytes of a CSV file.
//
// Properties:
// - Reader::next only ever throws CsvError (anything else escapes and crashes the target),
//   always makes progress, and its fields are views into the input: an unquoted field holds no
//   '"', ',', CR or LF; a quoted one's quotes come in "" pairs, and has_escapes says whether it
//   has any;
// - round trip: the records read before the end (or the first error) written back as CSV
//   (quoted fields re-quoted, "" kept) read again as the very same records, the same count;
// - check_header accepts a record only if it spells spec.header;
// - append_copy_row, tried against each of the five table specs: a row it accepts is one COPY
//   text line (newline-terminated, columns separated by exactly columns-1 tabs, no other raw
//   tab, CR or LF), and decoding that line by PostgreSQL's COPY text rules gives back each
//   field: the CSV text with "" undone for text columns (valid UTF-8, no NUL), \N only for a
//   bare `null` in a nullable column, t/f for booleans, the digits for integers. A refused row
//   appends nothing. Only related.csv rows with related_product_id 0 are Dropped.
#include "db/csv.h"
#include "fuzz_check.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace csv = db::csv;

namespace {

constexpr std::string_view kBom = "\xEF\xBB\xBF";

struct Record {
  std::vector<csv::Field> fields;
};

bool same_fields(const std::vector<csv::Field>& a, const std::vector<csv::Field>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i].raw != b[i].raw || a[i].quoted != b[i].quoted || a[i].has_escapes != b[i].has_escapes)
      return false;
  return true;
}

void check_field(const csv::Field& f, std::string_view data) {
  FUZZ_CHECK(f.raw.data() >= data.data() &&
             f.raw.data() + f.raw.size() <= data.data() + data.size());
  if (!f.quoted) {
    FUZZ_CHECK(f.raw.find_first_of("\",\r\n") == std::string_view::npos);
    FUZZ_CHECK(!f.has_escapes);
    return;
  }
  bool quotes = false;
  for (std::size_t i = 0; i < f.raw.size(); ++i) {
    if (f.raw[i] != '"') continue;
    FUZZ_CHECK(i + 1 < f.raw.size() && f.raw[i + 1] == '"');
    quotes = true;
    ++i;
  }
  FUZZ_CHECK(quotes == f.has_escapes);
}

void write_csv(std::string& out, const std::vector<csv::Field>& fields) {
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (i) out += ',';
    if (fields[i].quoted) out += '"';
    out += fields[i].raw;
    if (fields[i].quoted) out += '"';
  }
  out += '\n';
}

std::string unquote(const csv::Field& f) {
  std::string s;
  for (std::size_t i = 0; i < f.raw.size(); ++i) {
    s += f.raw[i];
    if (f.raw[i] == '"') ++i;
  }
  return s;
}

// One COPY text line into its columns (nullopt = \N), by PostgreSQL's documented rules.
std::vector<std::optional<std::string>> decode_copy_line(std::string_view line) {
  std::vector<std::optional<std::string>> cols;
  std::size_t start = 0;
  for (;;) {
    std::size_t tab = line.find('\t', start);
    const std::string_view raw =
        line.substr(start, tab == std::string_view::npos ? std::string_view::npos : tab - start);
    if (raw == "\\N") {
      cols.emplace_back(std::nullopt);
    } else {
      std::string v;
      for (std::size_t i = 0; i < raw.size(); ++i) {
        if (raw[i] != '\\') {
          v += raw[i];
          continue;
        }
        FUZZ_CHECK(i + 1 < raw.size());  // a lone trailing backslash would escape the tab
        switch (raw[++i]) {
          case '\\':
            v += '\\';
            break;
          case 'n':
            v += '\n';
            break;
          case 'r':
            v += '\r';
            break;
          case 't':
            v += '\t';
            break;
          default:
            FUZZ_CHECK(false && "only \\\\ \\n \\r \\t \\N are written");
        }
      }
      cols.emplace_back(std::move(v));
    }
    if (tab == std::string_view::npos) return cols;
    start = tab + 1;
  }
}

void check_copy_row(const csv::TableSpec& spec, const std::vector<csv::Field>& fields,
                    const csv::Reader& reader) {
  std::string out = "prefix\n";  // append_copy_row appends: what was there stays
  const std::string before = out;
  csv::RowResult result;
  try {
    result = csv::append_copy_row(spec, fields, reader, out);
  } catch (const csv::CsvError&) {
    FUZZ_CHECK(out == before);
    return;
  }
  FUZZ_CHECK(out.compare(0, before.size(), before) == 0);
  if (result == csv::RowResult::Dropped) {
    FUZZ_CHECK(out == before);
    FUZZ_CHECK(spec.drop_if_zero_column >= 0);
    const std::string_view v = fields[spec.drop_if_zero_column].raw;
    FUZZ_CHECK(!v.empty() && v.find_first_not_of('0') == std::string_view::npos);
    return;
  }
  std::string_view line(out);
  line.remove_prefix(before.size());
  FUZZ_CHECK(!line.empty() && line.back() == '\n');
  line.remove_suffix(1);
  FUZZ_CHECK(line.find_first_of("\r\n") == std::string_view::npos);
  const auto cols = decode_copy_line(line);
  FUZZ_CHECK(cols.size() == spec.columns.size());
  FUZZ_CHECK(fields.size() == spec.columns.size());
  for (std::size_t i = 0; i < cols.size(); ++i) {
    const csv::Field& f = fields[i];
    const auto& col = cols[i];
    switch (spec.columns[i].type) {
      case csv::ColumnType::Text:
      case csv::ColumnType::NullableText:
        if (!f.quoted && f.raw == "null") {
          FUZZ_CHECK(spec.columns[i].type == csv::ColumnType::NullableText);
          FUZZ_CHECK(!col);
        } else {
          FUZZ_CHECK(col && *col == unquote(f));
          FUZZ_CHECK(fuzz::valid_utf8(*col));
          FUZZ_CHECK(col->find('\0') == std::string::npos);
        }
        break;
      case csv::ColumnType::Bool:
        FUZZ_CHECK(col && *col == (f.raw == "true" ? "t" : "f"));
        FUZZ_CHECK(f.raw == "true" || f.raw == "false");
        break;
      case csv::ColumnType::CharacteristicName:
        FUZZ_CHECK(col && *col == f.raw);
        break;
      case csv::ColumnType::PositiveInt:
      case csv::ColumnType::NonNegativeInt:
      case csv::ColumnType::EpochMillis:
      case csv::ColumnType::Rating: {
        FUZZ_CHECK(col && *col == f.raw);
        FUZZ_CHECK(!f.raw.empty() &&
                   f.raw.find_first_not_of("0123456789") == std::string_view::npos);
        break;
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  csv::Reader reader(input, "fuzz.csv");
  std::vector<csv::Field> fields;
  std::vector<std::vector<csv::Field>> records;
  std::string rewritten(kBom);  // the reader drops one BOM: a field that starts with one stays
  std::size_t last_offset = reader.offset(), last_line = 0, count = 0;
  try {
    while (reader.next(fields)) {
      FUZZ_CHECK(reader.offset() > last_offset);  // progress
      FUZZ_CHECK(reader.offset() <= input.size());
      FUZZ_CHECK(reader.line() > last_line);
      last_offset = reader.offset();
      last_line = reader.line();
      FUZZ_CHECK(!fields.empty());
      for (const auto& f : fields) check_field(f, input);
      if (records.empty()) {
        for (const auto& spec : csv::tables()) {
          try {
            csv::check_header(spec, fields, reader);
            std::string joined;
            for (std::size_t i = 0; i < fields.size(); ++i)
              joined += (i ? "," : "") + std::string(fields[i].raw);
            FUZZ_CHECK(joined == spec.header);
          } catch (const csv::CsvError&) {
          }
        }
      }
      // Specs of another width only refuse the row (by exception, which is slow under ASan):
      // try those on the first record only.
      for (const auto& spec : csv::tables())
        if (count == 0 || spec.columns.size() == fields.size())
          check_copy_row(spec, fields, reader);
      write_csv(rewritten, fields);
      ++count;
      if (records.size() < 1000) records.push_back(fields);
    }
    FUZZ_CHECK(reader.offset() == input.size());
  } catch (const csv::CsvError& e) {
    FUZZ_CHECK(std::string_view(e.what()).substr(0, 9) == "fuzz.csv:");
  }

  // Round trip: what was read, written back, reads back the same.
  csv::Reader again(rewritten, "again.csv");
  std::size_t n = 0;
  try {
    while (again.next(fields)) {
      if (n < records.size()) FUZZ_CHECK(same_fields(fields, records[n]));
      ++n;
    }
  } catch (const csv::CsvError& e) {
    std::fprintf(stderr, "rewritten CSV refused: %s\n", e.what());
    FUZZ_CHECK(false && "the rewritten records must read back");
  }
  FUZZ_CHECK(n == count);
  return 0;
}
