#include "bench/report.h"

#include <fmt/format.h>

#include <iterator>

namespace bench {

namespace {

constexpr double kPercentiles[] = {50, 75, 90, 99, 99.9};
constexpr RequestKind kWriteKinds[] = {RequestKind::Post, RequestKind::Helpful,
                                       RequestKind::Report};

std::string human_us(double ns) {
  if (ns < 1e6) return fmt::format("{:.0f}us", ns / 1e3);
  if (ns < 1e9) return fmt::format("{:.2f}ms", ns / 1e6);
  return fmt::format("{:.2f}s", ns / 1e9);
}

double rps(const LoadResult& r) { return r.seconds > 0 ? r.responses / r.seconds : 0; }

bool has_writes(const LoadResult& r) {
  for (auto k : kWriteKinds)
    if (r.writes_sent[static_cast<int>(k)] > 0) return true;
  return false;
}

}  // namespace

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      fmt::format_to(std::back_inserter(out), "\\u{:04x}", static_cast<int>(c));
    } else {
      out.push_back(c);
    }
  }
  return out + "\"";
}

std::string format_summary(const RunInfo& info, const LoadResult& r) {
  const LoadConfig& c = *info.config;
  std::string out;
  auto o = std::back_inserter(out);
  fmt::format_to(o, "reviewsd-bench load {}\n", info.url);
  if (info.scenario) fmt::format_to(o, "  scenario {}\n", info.scenario->describe());
  if (info.ramp)
    fmt::format_to(o, "  ramp of open-loop steps (all steps together below)");
  else if (c.rate > 0)
    fmt::format_to(o, "  open loop at {:.0f} req/s", c.rate);
  else
    fmt::format_to(o, "  closed loop");
  fmt::format_to(o,
                 ", {} connections, pipeline {}, {} thread(s), {:.2f} s measured after {:.2f} s "
                 "warmup\n",
                 c.connections, c.pipeline, c.threads, r.seconds, c.warmup.count() / 1e9);
  fmt::format_to(o, "  {} responses in {:.2f} s: {:.1f} req/s, {:.2f} MB/s read", r.responses,
                 r.seconds, rps(r), r.seconds > 0 ? r.bytes_read / r.seconds / 1e6 : 0.0);
  fmt::format_to(o, ", mean 200 body {:.0f} bytes\n", r.mean_body_bytes());
  if (c.rate > 0 || info.ramp)
    fmt::format_to(o, "  scheduled {} ({:.1f}/s), max backlog waiting for a connection {}\n",
                   r.scheduled, r.seconds > 0 ? r.scheduled / r.seconds : 0.0, r.max_backlog);
  if (c.rate > 0 || info.ramp)
    fmt::format_to(o, "  generator timer lag (own wake-up jitter): p99 {}  max {}\n",
                   human_us(r.timer_lag.percentile_ns(99)),
                   human_us(static_cast<double>(r.timer_lag.max_ns())));
  const auto& h = r.latency;
  fmt::format_to(o, "  latency{}: avg {}  p50 {}  p75 {}  p90 {}  p99 {}  p99.9 {}  max {}\n",
                 c.rate > 0 || info.ramp ? " (from due time)" : "", human_us(h.mean_ns()),
                 human_us(h.percentile_ns(50)), human_us(h.percentile_ns(75)),
                 human_us(h.percentile_ns(90)), human_us(h.percentile_ns(99)),
                 human_us(h.percentile_ns(99.9)), human_us(static_cast<double>(h.max_ns())));
  fmt::format_to(o, "  statuses:");
  if (r.statuses.empty()) fmt::format_to(o, " none");
  for (const auto& [status, n] : r.statuses) fmt::format_to(o, " {}={}", status, n);
  fmt::format_to(o, "\n  errors: {}", r.error_total());
  for (int k = 0; k < kErrorKinds; ++k)
    fmt::format_to(o, "{}{} {}", k == 0 ? " (" : ", ", error_kind_name(static_cast<ErrorKind>(k)),
                   r.errors[k]);
  fmt::format_to(o, ")\n");
  if (has_writes(r)) {
    fmt::format_to(o, "  writes acknowledged (whole run):");
    for (auto k : kWriteKinds)
      fmt::format_to(o, " {} {} (of {} sent)", request_kind_name(k),
                     r.writes_acked[static_cast<int>(k)], r.writes_sent[static_cast<int>(k)]);
    fmt::format_to(o, "\n");
  }
  if (info.ramp && info.ramp_config) {
    fmt::format_to(o, "  ramp, SLO p99 <= {}:\n", human_us(info.ramp_config->slo_p99.count()));
    for (const auto& s : info.ramp->steps)
      fmt::format_to(o,
                     "    rate {:>8.0f}/s  {:>9.1f} req/s  p50 {:>8}  p90 {:>8}  p99 {:>8}  "
                     "max {:>8}  errors {}  {}\n",
                     s.rate, s.rps, human_us(s.p50_ns), human_us(s.p90_ns), human_us(s.p99_ns),
                     human_us(s.max_ns), s.errors, s.held ? "held" : "MISSED");
    fmt::format_to(o, "  capacity at the SLO: {:.0f} req/s\n", info.ramp->held_rate);
  }
  return out;
}

std::string format_json(const RunInfo& info, const LoadResult& r) {
  const LoadConfig& c = *info.config;
  const bool open = c.rate > 0 || info.ramp != nullptr;
  const double rate = info.ramp ? info.ramp->held_rate : c.rate;
  std::string out;
  auto o = std::back_inserter(out);
  fmt::format_to(o, R"({{"url":{},"scenario":"{}","model":"{}","rate":{},)", json_string(info.url),
                 info.scenario ? info.scenario->name() : "custom", open ? "open" : "closed",
                 open ? fmt::format("{}", rate) : "null");
  fmt::format_to(o, R"("connections":{},"pipeline":{},"threads":{},)", c.connections, c.pipeline,
                 c.threads);
  fmt::format_to(o, R"("seconds":{:.3f},"requests":{},"rps":{:.1f},"bytes":{},)", r.seconds,
                 r.responses, rps(r), r.bytes_read);
  fmt::format_to(o, R"("mean_body_bytes":{:.1f},)", r.mean_body_bytes());
  fmt::format_to(o, R"("scheduled":{},"max_backlog":{},"errors":{{)", r.scheduled, r.max_backlog);
  for (int k = 0; k < kErrorKinds; ++k)
    fmt::format_to(o, R"({}"{}":{})", k ? "," : "", error_kind_name(static_cast<ErrorKind>(k)),
                   r.errors[k]);
  fmt::format_to(o, R"(}},"statuses":{{)");
  bool first = true;
  for (const auto& [status, n] : r.statuses) {
    fmt::format_to(o, R"({}"{}":{})", first ? "" : ",", status, n);
    first = false;
  }
  fmt::format_to(o, R"(}},"writes":{{)");
  for (auto k : kWriteKinds)
    fmt::format_to(o, R"({}"{}":{})", k == RequestKind::Post ? "" : ",", request_kind_name(k),
                   r.writes_acked[static_cast<int>(k)]);
  fmt::format_to(o, R"(}},"writes_unacknowledged":{{)");
  for (auto k : kWriteKinds)
    fmt::format_to(o, R"({}"{}":{})", k == RequestKind::Post ? "" : ",", request_kind_name(k),
                   r.writes_sent[static_cast<int>(k)] - r.writes_acked[static_cast<int>(k)]);
  const auto& h = r.latency;
  fmt::format_to(o, R"(}},"latency_us":{{"count":{},"min":{:.1f},"avg":{:.1f})", h.count(),
                 h.min_ns() / 1e3, h.mean_ns() / 1e3);
  for (double p : kPercentiles) {
    const std::string name = p == 99.9 ? "p99_9" : fmt::format("p{:.0f}", p);
    fmt::format_to(o, R"(,"{}":{:.1f})", name, h.percentile_ns(p) / 1e3);
  }
  fmt::format_to(o, R"(,"max":{:.1f}}},"timer_lag_us":{{"p99":{:.1f},"max":{:.1f}}})",
                 h.max_ns() / 1e3, r.timer_lag.percentile_ns(99) / 1e3, r.timer_lag.max_ns() / 1e3);
  fmt::format_to(o, R"(,"series":[)");
  for (std::size_t t = 0; t < r.series.size(); ++t) {
    const SeriesPoint& p = r.series[t];
    fmt::format_to(o, R"({}{{"t":{},"responses":{},"errors":{},"p50_us":{:.1f},"p99_us":{:.1f}}})",
                   t ? "," : "", t, p.responses, p.errors, p.p50_ns / 1e3, p.p99_ns / 1e3);
  }
  fmt::format_to(o, R"(],"drain":{{"responses":{},"errors":{}}})", r.drain_responses,
                 r.drain_errors);
  if (info.ramp && info.ramp_config) {
    fmt::format_to(o, R"(,"ramp":{{"slo_p99_ms":{},"held_rate":{},"steps":[)",
                   info.ramp_config->slo_p99.count() / 1e6, info.ramp->held_rate);
    first = true;
    for (const auto& s : info.ramp->steps) {
      fmt::format_to(o,
                     R"({}{{"rate":{},"rps":{:.1f},"errors":{},"p50_us":{:.1f},"p90_us":{:.1f},)"
                     R"("p99_us":{:.1f},"max_us":{:.1f},"held":{}}})",
                     first ? "" : ",", s.rate, s.rps, s.errors, s.p50_ns / 1e3, s.p90_ns / 1e3,
                     s.p99_ns / 1e3, s.max_ns / 1e3, s.held ? "true" : "false");
      first = false;
    }
    fmt::format_to(o, "]}}");
  }
  fmt::format_to(o, "}}");
  return out;
}

}  // namespace bench
