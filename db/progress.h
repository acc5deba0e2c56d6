// Terminal progress for long data operations (gen, load): rows, MB/s and ETA on one line of
// stderr, redrawn at most a few times a second; silent when stderr is not a terminal.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace db {

class Progress {
 public:
  // `total_bytes` sizes the ETA (0: unknown). `enabled` defaults to isatty(stderr).
  Progress(std::string label, std::uint64_t total_bytes);
  Progress(std::string label, std::uint64_t total_bytes, bool enabled);
  // Cheap enough to call per row: it looks at the clock only every 4096 calls.
  void update(std::uint64_t rows, std::uint64_t bytes);
  // Clears the progress line. Idempotent.
  void finish();
  ~Progress() { finish(); }
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  [[nodiscard]] double seconds() const;

 private:
  void draw(std::uint64_t rows, std::uint64_t bytes);
  std::string label_;
  std::uint64_t total_bytes_;
  bool enabled_;
  bool drawn_ = false;
  std::uint32_t calls_ = 0;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

}  // namespace db
