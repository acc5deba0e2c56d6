// The report of a bench run: a Markdown table in the style of the old stack's write-ups
// (requests/s, errors, average, p50, p75, p90, p99, max, and the reference ratio) and one
// self-contained HTML page with the same tables and inline SVG plots (throughput and latency
// over time per scenario; latency percentiles against the offered rate for a ramp).
#pragma once

#include "bench/run_result.h"

#include <string>

namespace bench {

// Plot colours, fixed so that a test can find the lines in a screenshot.
namespace colours {
inline constexpr const char* kThroughput = "#1f77b4";
inline constexpr const char* kP50 = "#2ca02c";
inline constexpr const char* kP90 = "#ff7f0e";
inline constexpr const char* kP99 = "#d62728";
inline constexpr const char* kErrors = "#9467bd";
inline constexpr const char* kSlo = "#555555";
inline constexpr const char* kHeld = "#8c564b";
}  // namespace colours

// The references of `r` (results with a non-empty `reference` and the same scenario).
std::vector<const result::BenchResult*> references_of(const result::ReportInput& in,
                                                      const result::BenchResult& r);

std::string render_markdown(const result::ReportInput& in);
std::string render_html(const result::ReportInput& in);

// Writes DIR/report.md and DIR/report.html (creating DIR); returns the Markdown.
std::string write_report(const result::ReportInput& in, const std::string& dir);

}  // namespace bench
