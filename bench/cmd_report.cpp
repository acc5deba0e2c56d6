// `reviewsd-bench report`: report.md and report.html from the JSON results of earlier runs.
#include "bench/commands.h"
#include "bench/html_report.h"
#include "bench/run_result.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>

namespace bench {

namespace {

constexpr const char* kUsage =
    R"(usage: reviewsd-bench report --out DIR FILE.json...

Renders DIR/report.md (Markdown tables: requests/s, errors, average, p50, p75, p90, p99, max,
and the ratio to each reference) and DIR/report.html (one self-contained page: the same tables
and inline SVG plots, no JavaScript, no network) from JSON files:
  - `reviewsd-bench load --json` results (scenario, series, ramp fields when present);
  - reference results: the same shape with "reference":"nginx"|"pgbench", compared with the
    result of the same "scenario";
  - run information: {"run":{"command":...,"date":...,...},"notes":[...]} (the header).
`reviewsd-bench run` writes all three into its output directory; a DIRECTORY argument stands
for every *.json in it (run.json first). Prints the Markdown on stdout.

  --out DIR     where to write report.md and report.html (created; default: the directory
                of the first FILE)
  --quiet       do not print the Markdown
)";

std::vector<std::string> expand(const std::string& arg) {
  namespace fs = std::filesystem;
  if (!fs::is_directory(arg)) return {arg};
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(arg)) {
    if (e.path().extension() == ".json") files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end(), [](const std::string& a, const std::string& b) {
    const bool ra = fs::path(a).filename() == "run.json", rb = fs::path(b).filename() == "run.json";
    return ra != rb ? ra : a < b;
  });
  if (files.empty()) throw UsageError{fmt::format("{}: no *.json files in it", arg)};
  return files;
}

}  // namespace

int cmd_report(const std::vector<std::string_view>& args) {
  std::string out;
  bool quiet = false;
  std::vector<std::string> files;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view a = args[i];
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (a == "--quiet") {
      quiet = true;
    } else if (a == "--out") {
      if (i + 1 >= args.size()) throw UsageError{"--out needs a value"};
      out = args[++i];
    } else if (a.starts_with("--")) {
      throw UsageError{fmt::format("unknown option {}", a)};
    } else {
      for (auto& f : expand(std::string(a))) files.push_back(std::move(f));
    }
  }
  if (files.empty()) throw UsageError{"no result files given"};
  if (out.empty()) {
    out = std::filesystem::path(files.front()).parent_path().lexically_normal().string();
    if (out.empty()) out = ".";
  }
  result::ReportInput input;
  for (const auto& f : files) result::add_report_file(input, f);
  const std::string md = write_report(input, out);
  if (!quiet) std::fputs(md.c_str(), stdout);
  fmt::print(stderr, "report: {}/report.md and {}/report.html ({} results, {} run files)\n", out,
             out, input.results.size(), input.runs.size());
  return 0;
}

}  // namespace bench
