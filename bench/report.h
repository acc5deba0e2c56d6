// Rendering a LoadResult: the human summary and the one-line JSON that scripts parse.
#pragma once

#include "bench/loadgen.h"

#include <string>
#include <string_view>

namespace bench {

// What was asked, echoed in both outputs.
struct RunInfo {
  std::string url;  // scheme, host, port and the path template (or the scenario's name)
  const LoadConfig* config = nullptr;
  const Scenario* scenario = nullptr;       // null: "custom"
  const RampConfig* ramp_config = nullptr;  // a ramp: its steps are in `ramp`
  const RampResult* ramp = nullptr;
};

// Multi-line, for a terminal. Latencies in µs/ms as fits.
std::string format_summary(const RunInfo& info, const LoadResult& r);
// One line, no trailing newline. Fields: url, scenario ("custom", "random", "hot", "repeat",
// "list", "mixed"), model ("open" for --rate and --ramp, else "closed"), rate (null when
// closed; a ramp: its held_rate), connections, pipeline (requests in flight per connection),
// threads, seconds, requests, rps, bytes, mean_body_bytes (mean body size of the measured 200s),
// scheduled, max_backlog, errors{status,timeout,reset,connect,protocol,unsent,body},
// statuses{"200":n}, writes{post,helpful,report} (acknowledged: 201/204, whole run),
// writes_unacknowledged{...} (sent without their success status),
// latency_us{count,min,avg,p50,p75,p90,p99,p99_9,max}, timer_lag_us{p99,max} (open loop; the
// generator's own lateness), series[{t,responses,errors,p50_us,p99_us}] (one per second of the
// window, by completion time; the drain left out), drain{responses,errors} (what completed or
// failed after the window: the series sums to requests - drain.responses), and with --ramp:
// ramp{slo_p99_ms,held_rate,steps[{rate,rps,errors,p50_us,p90_us,p99_us,max_us,held}]}.
std::string format_json(const RunInfo& info, const LoadResult& r);

// `s` as a JSON string literal, quotes included: " and \ escaped, control bytes as \u00XX.
// The one JSON string writer of bench/ (format_json, and `run`'s result files).
std::string json_string(std::string_view s);

}  // namespace bench
