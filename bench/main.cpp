// reviewsd-bench: the benchmark harness (issue 7). One subcommand per file (commands.h).
#include "bench/commands.h"

#include <fmt/format.h>

#include <cstdio>
#include <exception>
#include <string_view>
#include <vector>

namespace {

constexpr const char* kUsage =
    R"(usage: reviewsd-bench COMMAND [options]   (COMMAND --help for its options)

  load     one load run against a loopback server: closed loop or constant arrival rate
  run      from data set to report: cluster, data, server, scenarios, references, report
  report   Markdown and HTML (SVG plots) from the JSON results of earlier runs
)";

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  try {
    if (args.empty() || args[0] == "--help" || args[0] == "-h") {
      std::fputs(kUsage, args.empty() ? stderr : stdout);
      return args.empty() ? 2 : 0;
    }
    const std::vector<std::string_view> rest(args.begin() + 1, args.end());
    if (args[0] == "load") return bench::cmd_load(rest);
    if (args[0] == "run") return bench::cmd_run(rest);
    if (args[0] == "report") return bench::cmd_report(rest);
    throw bench::UsageError{fmt::format("unknown command '{}'", args[0])};
  } catch (const bench::UsageError& e) {
    fmt::print(stderr, "reviewsd-bench: {}\n(see reviewsd-bench --help)\n", e.message);
    return 2;
  } catch (const std::exception& e) {
    fmt::print(stderr, "reviewsd-bench: {}\n", e.what());
    return 1;
  }
}
