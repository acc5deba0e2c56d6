#include "db/progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>

namespace db {

namespace {
constexpr auto kRedrawInterval = std::chrono::milliseconds(250);
}

Progress::Progress(std::string label, std::uint64_t total_bytes)
    : Progress(std::move(label), total_bytes, ::isatty(STDERR_FILENO) == 1) {}

Progress::Progress(std::string label, std::uint64_t total_bytes, bool enabled)
    : label_(std::move(label)),
      total_bytes_(total_bytes),
      enabled_(enabled),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

void Progress::update(std::uint64_t rows, std::uint64_t bytes) {
  if (!enabled_ || (++calls_ & 4095u) != 0) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_draw_ < kRedrawInterval) return;
  last_draw_ = now;
  draw(rows, bytes);
}

void Progress::draw(std::uint64_t rows, std::uint64_t bytes) {
  const double secs = seconds();
  const double mb = static_cast<double>(bytes) / 1e6;
  const double rate = secs > 0 ? mb / secs : 0;
  std::string eta = "?";
  if (total_bytes_ > 0 && bytes > 0 && rate > 0) {
    const double left = (static_cast<double>(total_bytes_) / 1e6 - mb) / rate;
    eta = fmt::format("{:.0f}s", left > 0 ? left : 0);
  }
  fmt::print(stderr, "\r\033[K{}: {} rows, {:.1f} MB, {:.1f} MB/s, ETA {}", label_, rows, mb, rate,
             eta);
  std::fflush(stderr);
  drawn_ = true;
}

void Progress::finish() {
  if (!drawn_) return;
  fmt::print(stderr, "\r\033[K");
  std::fflush(stderr);
  drawn_ = false;
}

double Progress::seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

}  // namespace db
