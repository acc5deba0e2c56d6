#include "bench/report.h"

#include <fmt/format.h>

#include <iterator>

namespace bench {

namespace {

constexpr double kPercentiles[] = {50, 75, 90, 99, 99.9};

std::string human_us(double ns) {
  if (ns < 1e6) return fmt::format("{:.0f}us", ns / 1e3);
  if (ns < 1e9) return fmt::format("{:.2f}ms", ns / 1e6);
  return fmt::format("{:.2f}s", ns / 1e9);
}

std::string json_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    if (static_cast<unsigned char>(c) < 0x20) {
      fmt::format_to(std::back_inserter(out), "\\u{:04x}", c);
      continue;
    }
    out.push_back(c);
  }
  return out;
}

double rps(const LoadResult& r) { return r.seconds > 0 ? r.responses / r.seconds : 0; }

}  // namespace

std::string format_summary(const RunInfo& info, const LoadResult& r) {
  const LoadConfig& c = *info.config;
  std::string out;
  auto o = std::back_inserter(out);
  fmt::format_to(o, "reviewsd-bench load {}\n", info.url);
  if (c.rate > 0)
    fmt::format_to(o, "  open loop at {:.0f} req/s", c.rate);
  else
    fmt::format_to(o, "  closed loop");
  fmt::format_to(o, ", {} connections, {} thread(s), {:.2f} s measured after {:.2f} s warmup\n",
                 c.connections, c.threads, r.seconds, c.warmup.count() / 1e9);
  fmt::format_to(o, "  {} responses in {:.2f} s: {:.1f} req/s, {:.2f} MB/s read\n", r.responses,
                 r.seconds, rps(r), r.seconds > 0 ? r.bytes_read / r.seconds / 1e6 : 0.0);
  if (c.rate > 0)
    fmt::format_to(o, "  scheduled {} ({:.1f}/s), max backlog waiting for a connection {}\n",
                   r.scheduled, r.seconds > 0 ? r.scheduled / r.seconds : 0.0, r.max_backlog);
  if (c.rate > 0)
    fmt::format_to(o, "  generator timer lag (own wake-up jitter): p99 {}  max {}\n",
                   human_us(r.timer_lag.percentile_ns(99)),
                   human_us(static_cast<double>(r.timer_lag.max_ns())));
  const auto& h = r.latency;
  fmt::format_to(o, "  latency{}: avg {}  p50 {}  p75 {}  p90 {}  p99 {}  p99.9 {}  max {}\n",
                 c.rate > 0 ? " (from due time)" : "", human_us(h.mean_ns()),
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
  return out;
}

std::string format_json(const RunInfo& info, const LoadResult& r) {
  const LoadConfig& c = *info.config;
  std::string out;
  auto o = std::back_inserter(out);
  fmt::format_to(o, R"({{"url":"{}","model":"{}","rate":{},"connections":{},"threads":{},)",
                 json_escape(info.url), c.rate > 0 ? "open" : "closed",
                 c.rate > 0 ? fmt::format("{}", c.rate) : "null", c.connections, c.threads);
  fmt::format_to(o, R"("seconds":{:.3f},"requests":{},"rps":{:.1f},"bytes":{},)", r.seconds,
                 r.responses, rps(r), r.bytes_read);
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
  const auto& h = r.latency;
  fmt::format_to(o, R"(}},"latency_us":{{"count":{},"min":{:.1f},"avg":{:.1f})", h.count(),
                 h.min_ns() / 1e3, h.mean_ns() / 1e3);
  for (double p : kPercentiles) {
    const std::string name = p == 99.9 ? "p99_9" : fmt::format("p{:.0f}", p);
    fmt::format_to(o, R"(,"{}":{:.1f})", name, h.percentile_ns(p) / 1e3);
  }
  fmt::format_to(o, R"(,"max":{:.1f}}},"timer_lag_us":{{"p99":{:.1f},"max":{:.1f}}}}})",
                 h.max_ns() / 1e3, r.timer_lag.percentile_ns(99) / 1e3, r.timer_lag.max_ns() / 1e3);
  return out;
}

}  // namespace bench
