// `reviewsd-bench load`: one load run against a loopback server.
#include "bench/commands.h"
#include "bench/loadgen.h"
#include "bench/report.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

namespace bench {
namespace {

// A run is bounded: longer than an hour is a typo, not a benchmark.
constexpr double kMaxDurationSeconds = 3600;
// The fd budget of one process, with room for the epoll and timer fds.
constexpr unsigned kMaxConnections = 60'000;
constexpr unsigned kMaxThreads = 256;

constexpr const char* kUsage =
    R"(usage: reviewsd-bench load --url http://127.0.0.1:PORT[/PATH] [options]

Drives keep-alive HTTP/1.1 GETs at a loopback server and reports throughput, latency
percentiles (HDR histogram, ~1% precision) and errors by kind.

  --url URL              http://127.0.0.1:PORT or http://[::1]:PORT (no other host is allowed)
  --path-template T      request path; the first %d becomes a product id (default: URL's path)
  --ids LO:HI            product ids, uniform in LO..HI (default 1:1)
  --connections C        keep-alive connections (default 64)
  --threads T            event-loop threads, connections split between them (default 1)
  --duration S           measured seconds (default 10); then up to 2 s drain
  --warmup S             seconds of load before measuring (default 0)
  --rate R               open loop: R requests/s on a fixed timetable, latency from the due
                         time; without it, closed loop (next request when the last completes)
  --timeout S            a request unanswered this long after its send is a timeout (default 10)
  --seed N               PRNG seed for the ids (default 1)
  --json                 print one JSON line on stdout (the summary goes to stderr)
)";

double parse_number(std::string_view flag, std::string_view v) {
  double d = 0;
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), d);
  if (ec != std::errc{} || end != v.data() + v.size() || !std::isfinite(d))
    throw UsageError{fmt::format("{}: not a number: '{}'", flag, v)};
  return d;
}

std::int64_t parse_int(std::string_view flag, std::string_view v) {
  std::int64_t n = 0;
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc{} || end != v.data() + v.size())
    throw UsageError{fmt::format("{}: not an integer: '{}'", flag, v)};
  return n;
}

std::chrono::nanoseconds seconds_arg(std::string_view flag, std::string_view v, double min) {
  const double s = parse_number(flag, v);
  if (s < min || s > kMaxDurationSeconds)
    throw UsageError{
        fmt::format("{}: must be in [{}, {}] seconds", flag, min, kMaxDurationSeconds)};
  return std::chrono::nanoseconds(static_cast<std::int64_t>(s * 1e9));
}

}  // namespace

int cmd_load(const std::vector<std::string_view>& args) {
  bench::LoadConfig config;
  std::string url;
  bool have_template = false;
  bool json = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view flag = args[i];
    if (flag == "--json") {
      json = true;
      continue;
    }
    if (flag == "--help" || flag == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (i + 1 >= args.size()) throw UsageError{fmt::format("{} needs a value", flag)};
    const std::string_view v = args[++i];
    if (flag == "--url") {
      url = v;
    } else if (flag == "--path-template") {
      config.path_template = v;
      have_template = true;
    } else if (flag == "--ids") {
      const auto colon = v.find(':');
      if (colon == std::string_view::npos) throw UsageError{"--ids: expected LO:HI"};
      config.id_lo = parse_int(flag, v.substr(0, colon));
      config.id_hi = parse_int(flag, v.substr(colon + 1));
      if (config.id_lo > config.id_hi) throw UsageError{"--ids: LO > HI"};
    } else if (flag == "--connections") {
      const auto n = parse_int(flag, v);
      if (n < 1 || n > kMaxConnections)
        throw UsageError{fmt::format("--connections: 1..{}", kMaxConnections)};
      config.connections = static_cast<unsigned>(n);
    } else if (flag == "--threads") {
      const auto n = parse_int(flag, v);
      if (n < 1 || n > kMaxThreads) throw UsageError{fmt::format("--threads: 1..{}", kMaxThreads)};
      config.threads = static_cast<unsigned>(n);
    } else if (flag == "--duration") {
      config.duration = seconds_arg(flag, v, 0.001);
    } else if (flag == "--warmup") {
      config.warmup = seconds_arg(flag, v, 0);
    } else if (flag == "--timeout") {
      config.timeout = seconds_arg(flag, v, 0.001);
    } else if (flag == "--rate") {
      config.rate = parse_number(flag, v);
      if (config.rate <= 0 || config.rate > 1e8) throw UsageError{"--rate: must be in (0, 1e8]"};
    } else if (flag == "--seed") {
      config.seed = static_cast<std::uint64_t>(parse_int(flag, v));
    } else {
      throw UsageError{fmt::format("unknown option {}", flag)};
    }
  }
  if (url.empty()) throw UsageError{"--url is required"};
  std::string error;
  auto target = bench::parse_loopback_url(url, error);
  if (!target) throw UsageError{fmt::format("--url: {}", error)};
  config.target = std::move(*target);
  if (!have_template) config.path_template = config.target.path;
  if (config.path_template.empty() || config.path_template.front() != '/')
    throw UsageError{"--path-template must start with /"};
  if (config.threads > config.connections)
    throw UsageError{"--threads must not exceed --connections"};

  const std::string shown_url =
      fmt::format("http://{}{}", config.target.host_header, config.path_template);
  const bench::LoadResult result = bench::run_load(config);
  const bench::RunInfo info{shown_url, &config};
  if (json) {
    std::fputs(bench::format_summary(info, result).c_str(), stderr);
    std::puts(bench::format_json(info, result).c_str());
  } else {
    std::fputs(bench::format_summary(info, result).c_str(), stdout);
  }
  return result.responses > 0 ? 0 : 1;
}

}  // namespace bench
