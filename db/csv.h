// Strict RFC 4180 reading of the data set's CSV files (API.md §1) and conversion of each row to
// PostgreSQL's COPY text format. Pure functions over memory: the loader feeds them a mapped
// file, the fuzz target feeds them bytes.
#pragma once

#include <cstddef>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace db::csv {

// A malformed file: what() is "FILE:LINE: reason".
class CsvError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One field of a record. For a quoted field `raw` is the text between the quotes with any
// doubled quotes ("") still doubled; `has_escapes` says whether there are any.
struct Field {
  std::string_view raw;
  bool quoted = false;
  bool has_escapes = false;
};

// Splits a buffer into records. Accepts LF and CRLF line ends, quoted fields with "" escapes
// and embedded line breaks, and a last record with or without a final line end. Rejects a
// quote inside an unquoted field, text after a closing quote, an unterminated quote and a
// bare CR outside quotes.
class Reader {
 public:
  // `file` names the data in error messages.
  Reader(std::string_view data, std::string file);

  // Reads the next record into `fields` (views into the data). Returns false at the end.
  // Throws CsvError.
  bool next(std::vector<Field>& fields);

  // Line number (1-based) on which the record last returned by next() starts.
  [[nodiscard]] std::size_t line() const { return record_line_; }
  // Bytes consumed so far.
  [[nodiscard]] std::size_t offset() const { return pos_; }
  [[nodiscard]] const std::string& file() const { return file_; }

  // Throws CsvError "FILE:LINE: reason" for the current record.
  [[noreturn]] void fail(std::string_view reason) const;

 private:
  std::string_view data_;
  std::string file_;
  std::size_t pos_ = 0;
  std::size_t line_ = 1;
  std::size_t record_line_ = 0;
};

// How a column is validated and converted.
enum class ColumnType {
  PositiveInt,         // 1..2147483647
  NonNegativeInt,      // 0..2147483647
  EpochMillis,         // 0..(2^63-1), unquoted digits
  Rating,              // 1..5
  Bool,                // true | false
  Text,                // any string; bare `null` is refused (the column is NOT NULL)
  NullableText,        // any string; bare `null` is SQL NULL
  CharacteristicName,  // Fit | Length | Comfort | Quality | Size | Width
};

struct Column {
  std::string_view name;
  ColumnType type;
};

// One of the five files of the data set.
struct TableSpec {
  std::string_view table;   // PostgreSQL table
  std::string_view file;    // file name in the data directory
  std::string_view header;  // the exact header line
  std::span<const Column> columns;
  // For related.csv: rows whose `related_product_id` is 0 are invalid and dropped.
  int drop_if_zero_column = -1;
};

// The five files, in load order.
std::span<const TableSpec> tables();

// Outcome of converting one record.
enum class RowResult { Ok, Dropped };

// Validates `fields` against `spec` and appends the row to `out` in COPY text format
// (tab-separated, \N for NULL, backslash escapes, newline-terminated). Returns Dropped, with
// nothing appended, for rows the contract says to drop. Throws CsvError through reader.fail().
RowResult append_copy_row(const TableSpec& spec, std::span<const Field> fields,
                          const Reader& reader, std::string& out);

// Checks the header record against spec.header. Throws CsvError.
void check_header(const TableSpec& spec, std::span<const Field> fields, const Reader& reader);

}  // namespace db::csv
