// `reviewsd load`: streams the five CSV files of a data set into PostgreSQL with COPY, in one
// transaction: either the whole data set is loaded, indexed and its sequences reset, or the
// database is left exactly as it was.
#pragma once

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace db {

struct LoadOptions {
  std::string conninfo;
  std::filesystem::path from;  // directory with the five CSV files
  bool replace = false;        // allow replacing a non-empty database
  bool progress = true;        // progress line on a terminal
};

struct TableLoadStats {
  std::string table;
  std::uint64_t rows = 0;     // rows stored
  std::uint64_t dropped = 0;  // rows the contract drops (related rows pointing to 0)
  std::uint64_t bytes = 0;    // size of the file
  double seconds = 0;
};

struct LoadStats {
  std::vector<TableLoadStats> tables;
  double copy_seconds = 0;
  double index_seconds = 0;
  double analyze_seconds = 0;
  double total_seconds = 0;
};

// The database holds data and replace was not asked for.
class LoadRefused : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Migrates the schema if needed, then loads. Throws csv::CsvError ("FILE:LINE: reason") for a
// malformed file, LoadRefused, DbError, or std::runtime_error for an unreadable file; in every
// case nothing of the load is left in the database.
LoadStats load_dataset(const LoadOptions& opts);

}  // namespace db
