// The JSON results that `reviewsd-bench report` renders, as read back from files.
//
// Three kinds of JSON file, told apart by their fields:
// - a load result: the one line `reviewsd-bench load --json` prints (bench/report.h), with the
//   scenario fields (scenario, writes, mean_body_bytes, series, ramp) when it ran a scenario;
// - a reference result: the same shape plus "reference":"nginx"|"pgbench" (and usually
//   "command"), compared with the load result of the same "scenario";
// - run information: {"run":{...}} with the command line, date, machine, scale, version,
//   and optional "notes":["..."]: rendered as the report's header, in file order.
// Every number is optional: a field that is absent (or null) reads as NaN and shows as "-".
//
// Its own namespace: these are the results *as read back* (doubles, NaN when absent), not the
// load generator's types of the same names in loadgen.h (SeriesPoint, RampStep, RampResult),
// which reviewsd-bench links too.
#pragma once

#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace bench::result {

inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct LatencyUs {
  double count = kNaN, min = kNaN, avg = kNaN, p50 = kNaN, p75 = kNaN, p90 = kNaN, p99 = kNaN,
         p99_9 = kNaN, max = kNaN;
};

// One bucket of a run's time series: `t` seconds from the start of the measured window.
struct SeriesPoint {
  double t = kNaN, responses = kNaN, errors = kNaN, p50_us = kNaN, p99_us = kNaN;
};

struct RampStep {
  double rate = kNaN, rps = kNaN, errors = kNaN, p50_us = kNaN, p90_us = kNaN, p99_us = kNaN,
         max_us = kNaN;
  bool held = false;
};

struct RampResult {
  double slo_p99_ms = kNaN;
  double held_rate = kNaN;  // the highest offered rate whose p99 stayed within the SLO
  std::vector<RampStep> steps;
};

struct BenchResult {
  std::string file;       // where it was read from (for messages)
  std::string scenario;   // "hot", ...; the file's stem when the JSON has none
  std::string reference;  // "" for reviewsd, else "nginx", "pgbench", ...
  std::string label;      // optional free text shown next to the scenario
  std::string command;    // optional: the command that produced it
  std::string url, model;
  double rate = kNaN, connections = kNaN, threads = kNaN, seconds = kNaN, requests = kNaN,
         rps = kNaN, bytes = kNaN, mean_body_bytes = kNaN;
  std::vector<std::pair<std::string, double>> errors;  // by kind, in file order
  std::vector<std::pair<std::string, double>> statuses;
  std::vector<std::pair<std::string, double>> writes;
  LatencyUs latency;
  std::vector<SeriesPoint> series;
  std::optional<RampResult> ramp;

  // Sum of `errors`; NaN when the file has no errors object.
  [[nodiscard]] double error_total() const;
};

// The header of a report: flattened key/value pairs ("machine.cpu") in file order.
struct RunInfoFile {
  std::vector<std::pair<std::string, std::string>> fields;
  std::vector<std::string> notes;
};

struct ReportInput {
  std::vector<RunInfoFile> runs;
  std::vector<BenchResult> results;  // reviewsd's and references, in file order
};

// Parses one JSON document (`name` for messages and the default scenario) into `input`.
// Throws std::runtime_error naming `name` when it is not JSON or not one of the kinds above.
void add_report_json(ReportInput& input, const std::string& json, const std::string& name);
// Reads `path` and adds it; a file of several lines adds each non-empty line as a document.
void add_report_file(ReportInput& input, const std::string& path);

}  // namespace bench::result
