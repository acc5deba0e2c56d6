// Rendering a LoadResult: the human summary and the one-line JSON that scripts parse.
#pragma once

#include "bench/loadgen.h"

#include <string>

namespace bench {

// What was asked, echoed in both outputs.
struct RunInfo {
  std::string url;  // scheme, host, port and the path template
  const LoadConfig* config = nullptr;
};

// Multi-line, for a terminal. Latencies in µs/ms as fits.
std::string format_summary(const RunInfo& info, const LoadResult& r);
// One line, no trailing newline. Fields: model, rate, connections, threads, seconds, requests,
// rps, bytes, errors{status,timeout,reset,connect,protocol,unsent}, statuses{"200":n},
// latency_us{count,min,avg,p50,p75,p90,p99,p99_9,max}, scheduled, max_backlog,
// timer_lag_us{p99,max} (open loop; the generator's own lateness).
std::string format_json(const RunInfo& info, const LoadResult& r);

}  // namespace bench
