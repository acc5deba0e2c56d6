// `reviewsd-bench load`: one load run against a loopback server.
#include "bench/commands.h"
#include "bench/loadgen.h"
#include "bench/report.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace bench {
namespace {

constexpr double kMaxDurationSeconds = static_cast<double>(limits::kMaxRunTime.count());
// The fd budget of one process, with room for the epoll and timer fds.
constexpr unsigned kMaxConnections = 60'000;
constexpr unsigned kMaxThreads = 256;
// `mixed`: POSTs go to this many products (their characteristics fetched before the run): enough
// to spread the writes, few enough that fetching them costs well under a second.
constexpr std::size_t kPostProducts = 256;

constexpr const char* kUsage =
    R"(usage: reviewsd-bench load --url http://127.0.0.1:PORT[/PATH] [options]

Drives keep-alive HTTP/1.1 requests at a loopback server and reports throughput, latency
percentiles (HDR histogram, ~1% precision), errors by kind and a per-second series.

  --url URL              http://127.0.0.1:PORT or http://[::1]:PORT (no other host is allowed)
  --scenario NAME        what to request (default custom):
                           custom  GET --path-template with ids from --ids
                           random  GET /reviews and /reviews/meta, ids uniform over the last
                                   10% of products (read_vs_pgbench.sh)
                           hot     GET /reviews, 80% on every 5th of the 10,000 largest ids
                                   (product_mix.lua hot)
                           repeat  GET /reviews of the 10 largest ids (product_mix.lua repeat)
                           list    GET /reviews, count 5/100/1000 x sort newest/helpful/relevant
                           mixed   mixed.lua: 90% GET, 5% PUT helpful, 1% PUT report, 4% POST
                                   /reviews (valid bodies with the product's characteristics,
                                   fetched from /reviews/meta before the run)
  --products N           the data set's largest product id (ids are 1..N); named scenarios
  --reviews M            the largest review id (PUT targets 1..M); mixed
  --route R              reviews, meta or both (random: both; hot, repeat: reviews)
  --path-template T      custom: request path; the first %d becomes an id (default: URL's path)
  --ids LO:HI            custom: ids uniform in LO..HI (default 1:1)
  --check-json           every 200 GET body must parse as JSON and name the requested product
                         ("product" of /reviews, "product_id" of /reviews/meta); else an
                         error of kind body
  --connections C        keep-alive connections (default 64)
  --pipeline D           requests in flight per connection (HTTP/1.1 pipelining, 1..{max},
                         default 1): written back to back, answered in order; closed loop:
                         each connection refills to D as responses arrive; open loop: a due
                         request goes to a connection with fewer than D in flight. A reset
                         fails every request in flight on the connection
  --threads T            event-loop threads, connections split between them (default 1)
  --duration S           measured seconds (default 10); then up to 2 s drain
  --warmup S             seconds of load before measuring (default 0)
  --rate R               open loop: R requests/s on a fixed timetable, latency from the due
                         time; without it, closed loop (next request when the last completes)
  --timeout S            a request unanswered this long after its send is a timeout (default 10)
  --ramp START:STEP:MAX  open-loop steps at START, START+STEP, ... <= MAX requests/s; stops at
                         the first step whose p99 exceeds --slo-p99-ms or that has errors, and
                         reports the highest rate that held (the capacity at that SLO)
  --slo-p99-ms B         the ramp's p99 bound in ms (default 10)
  --step-seconds S       measured seconds per ramp step (default 10; steps x (S + warmup +
                         up to 2 s drain) must stay within an hour)
  --seed N               PRNG seed of the request mix (default 1; per thread: seed and index)
  --quiet                no progress line per second on stderr
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
  config.progress = true;
  std::string url;
  bool have_template = false;
  bool have_ids = false;
  bool json = false;
  std::string scenario_name = "custom";
  std::int64_t products = 0;
  std::int64_t reviews = 0;
  std::optional<Route> route;
  std::optional<RampConfig> ramp;
  std::optional<double> slo_ms;
  std::optional<double> step_seconds;
  bool have_duration = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view flag = args[i];
    if (flag == "--json") {
      json = true;
      continue;
    }
    if (flag == "--check-json") {
      config.check_json = true;
      continue;
    }
    if (flag == "--quiet") {
      config.progress = false;
      continue;
    }
    if (flag == "--help" || flag == "-h") {
      std::fputs(fmt::format(fmt::runtime(kUsage), fmt::arg("max", limits::kMaxPipeline)).c_str(),
                 stdout);
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
      have_ids = true;
    } else if (flag == "--scenario") {
      scenario_name = v;
    } else if (flag == "--products") {
      products = parse_int(flag, v);
    } else if (flag == "--reviews") {
      reviews = parse_int(flag, v);
    } else if (flag == "--route") {
      if (v == "reviews")
        route = Route::Reviews;
      else if (v == "meta")
        route = Route::Meta;
      else if (v == "both")
        route = Route::Both;
      else
        throw UsageError{"--route: reviews, meta or both"};
    } else if (flag == "--ramp") {
      RampConfig r;
      if (std::string error; !parse_ramp(v, r, error))
        throw UsageError{fmt::format("--ramp: {}", error)};
      ramp = r;
    } else if (flag == "--slo-p99-ms") {
      slo_ms = parse_number(flag, v);
      if (*slo_ms <= 0 || *slo_ms > 60'000) throw UsageError{"--slo-p99-ms: in (0, 60000]"};
    } else if (flag == "--step-seconds") {
      step_seconds = parse_number(flag, v);
      if (*step_seconds < 0.1 || *step_seconds > kMaxDurationSeconds)
        throw UsageError{"--step-seconds: in [0.1, 3600]"};
    } else if (flag == "--connections") {
      const auto n = parse_int(flag, v);
      if (n < 1 || n > kMaxConnections)
        throw UsageError{fmt::format("--connections: 1..{}", kMaxConnections)};
      config.connections = static_cast<unsigned>(n);
    } else if (flag == "--pipeline") {
      const auto n = parse_int(flag, v);
      if (n < 1 || n > limits::kMaxPipeline)
        throw UsageError{fmt::format("--pipeline: 1..{}", limits::kMaxPipeline)};
      config.pipeline = static_cast<unsigned>(n);
    } else if (flag == "--threads") {
      const auto n = parse_int(flag, v);
      if (n < 1 || n > kMaxThreads) throw UsageError{fmt::format("--threads: 1..{}", kMaxThreads)};
      config.threads = static_cast<unsigned>(n);
    } else if (flag == "--duration") {
      config.duration = seconds_arg(flag, v, 0.001);
      have_duration = true;
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

  // The scenario.
  std::optional<Scenario> scenario;
  std::string shown_url;
  if (scenario_name == "custom") {
    if (products || reviews || route)
      throw UsageError{"--products/--reviews/--route apply to the named scenarios"};
    scenario = Scenario::custom(config.path_template, config.id_lo, config.id_hi);
    shown_url = fmt::format("http://{}{}", config.target.host_header, config.path_template);
  } else {
    if (have_template || have_ids)
      throw UsageError{"--path-template/--ids apply to --scenario custom only"};
    std::string error;
    scenario = Scenario::named(scenario_name, products, reviews, route, error);
    if (!scenario) throw UsageError{error};
    shown_url = fmt::format("http://{}/ ({})", config.target.host_header, scenario->name());
  }
  config.scenario = &*scenario;

  // The ramp.
  if (ramp) {
    if (config.rate > 0) throw UsageError{"--ramp and --rate exclude each other"};
    if (have_duration) throw UsageError{"--ramp: the step length is --step-seconds"};
    ramp->slo_p99 = std::chrono::nanoseconds(static_cast<std::int64_t>(slo_ms.value_or(10) * 1e6));
    ramp->step_duration =
        std::chrono::nanoseconds(static_cast<std::int64_t>(step_seconds.value_or(10) * 1e9));
    const double total = static_cast<double>(max_ramp_time(config, *ramp).count()) / 1e9;
    if (total > kMaxDurationSeconds)
      throw UsageError{fmt::format(
          "--ramp: {} steps of {:.1f} s (warm-up and drain included) make up to {:.0f} s, over "
          "the {:.0f} s limit",
          ramp->step_count(), total / static_cast<double>(ramp->step_count()), total,
          kMaxDurationSeconds)};
  } else if (slo_ms || step_seconds) {
    throw UsageError{"--slo-p99-ms/--step-seconds apply to --ramp"};
  }

  if (scenario->kind() == Scenario::Kind::Mixed) {
    std::string error;
    auto post_products =
        bench::fetch_post_products(config.target, *scenario, kPostProducts, config.seed, error);
    if (post_products.empty())
      throw std::runtime_error(fmt::format("mixed: finding products to POST to: {}", error));
    scenario->set_post_products(std::move(post_products));
  }

  bench::LoadResult result;
  std::optional<RampResult> ramp_result;
  if (ramp) {
    ramp_result = bench::run_ramp(config, *ramp);
    result = ramp_result->total;
  } else {
    result = bench::run_load(config);
  }
  bench::RunInfo info{shown_url, &config, &*scenario, nullptr, nullptr};
  if (ramp) {
    info.ramp_config = &*ramp;
    info.ramp = &*ramp_result;
  }
  if (json) {
    std::fputs(bench::format_summary(info, result).c_str(), stderr);
    std::puts(bench::format_json(info, result).c_str());
  } else {
    std::fputs(bench::format_summary(info, result).c_str(), stdout);
  }
  return result.responses > 0 ? 0 : 1;
}

}  // namespace bench
