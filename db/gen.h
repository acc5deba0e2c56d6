// `reviewsd gen`: writes a synthetic data set in exactly the original CSV format (API.md §1),
// with the original's shape and distributions. Same options and seed: same bytes.
#pragma once

#include <cstdint>
#include <filesystem>

namespace db {

struct GenOptions {
  double scale = 0.01;        // 1.0 = the row counts of API.md §1 (1,000,011 products)
  std::filesystem::path out;  // created if missing; the five CSVs are written into it
  std::uint64_t seed = 42;
  bool progress = true;  // progress line on a terminal (Progress decides if it is one)
  // Rarely (about 1 body in 700) join two sentences with a newline inside the quoted field.
  // The original has none; this exercises the loader's RFC 4180 multi-line records.
  bool embedded_newlines = false;
};

struct GenStats {
  std::uint64_t products = 0;
  std::uint64_t reviews = 0;
  std::uint64_t photos = 0;
  std::uint64_t characteristics = 0;
  std::uint64_t characteristic_reviews = 0;
  std::uint64_t related = 0;
  std::uint64_t bytes = 0;
  double seconds = 0;
};

// Throws std::runtime_error (with the path) when a file cannot be written.
GenStats generate_dataset(const GenOptions& opts);

}  // namespace db
