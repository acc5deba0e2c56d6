// The subcommands of reviewsd-bench, one file each; main.cpp dispatches.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace bench {

// Thrown for a bad command line: main prints it with a hint and exits 2.
struct UsageError {
  std::string message;
};

// `load`: one load run against a loopback server (cmd_load.cpp).
int cmd_load(const std::vector<std::string_view>& args);
// `run`: data set to report in one command (cmd_run.cpp).
int cmd_run(const std::vector<std::string_view>& args);
// `report`: Markdown and HTML from the JSON results of earlier runs (cmd_report.cpp).
int cmd_report(const std::vector<std::string_view>& args);

}  // namespace bench
