// Logging: one line per event on stderr (journald adds time and unit). No per-request lines.
#pragma once

#include <fmt/format.h>

#include <cstdio>
#include <string>

namespace server {

template <typename... Args>
void log_line(fmt::format_string<Args...> f, Args&&... args) {
  std::string line = "reviewsd: ";
  fmt::format_to(std::back_inserter(line), f, std::forward<Args>(args)...);
  line.push_back('\n');
  std::fwrite(line.data(), 1, line.size(), stderr);  // stderr is unbuffered: one write(2)
}

}  // namespace server
