#include "server/metrics.h"

#include <fmt/format.h>

#include <iterator>

namespace server {

namespace {

std::size_t status_slot(int status) noexcept {
  for (std::size_t i = 0; i < kStatusSlots; ++i)
    if (kCountedStatuses[i] == status) return i;
  return kStatusSlots - 1;
}

}  // namespace

ReactorMetrics::ReactorMetrics(std::size_t routes)
    : routes_(routes), requests_(std::make_unique<Counter[]>((routes + 1) * kStatusSlots)) {}

void ReactorMetrics::request(std::size_t route, int status, std::int64_t micros) noexcept {
  if (route > routes_) route = routes_;
  requests_[route * kStatusSlots + status_slot(status)].add();
  if (micros < 0) micros = 0;
  std::size_t b = 0;
  const double seconds = static_cast<double>(micros) / 1e6;
  while (b < kLatencyBuckets.size() && seconds > kLatencyBuckets[b]) ++b;
  buckets_[b].add();
  latency_us_.add(static_cast<std::uint64_t>(micros));
  count_.add();
}

ReactorMetrics& Metrics::add_reactor(std::size_t routes) {
  return *reactors_.emplace_back(std::make_unique<ReactorMetrics>(routes));
}

void Metrics::add_collector(Collector c) { collectors_.push_back(std::move(c)); }

void Metrics::set_route_names(std::vector<std::string> names) { route_names_ = std::move(names); }

void append_metric(std::string& out, std::string_view name, std::string_view type,
                   std::string_view help, std::uint64_t value) {
  fmt::format_to(std::back_inserter(out), "# HELP {0} {1}\n# TYPE {0} {2}\n{0} {3}\n", name, help,
                 type, value);
}

std::string Metrics::render() const {
  std::string out;
  auto it = std::back_inserter(out);
  const std::size_t routes = route_names_.size();
  out +=
      "# HELP reviewsd_http_requests_total HTTP responses by route pattern and status.\n"
      "# TYPE reviewsd_http_requests_total counter\n";
  for (std::size_t r = 0; r <= routes; ++r) {
    const std::string_view route = r < routes ? std::string_view(route_names_[r]) : "other";
    for (std::size_t s = 0; s < kStatusSlots; ++s) {
      std::uint64_t n = 0;
      for (const auto& m : reactors_) n += m->requests(r, s);
      if (n == 0) continue;
      if (s + 1 == kStatusSlots) {
        fmt::format_to(it, "reviewsd_http_requests_total{{route=\"{}\",status=\"other\"}} {}\n",
                       route, n);
      } else {
        fmt::format_to(it, "reviewsd_http_requests_total{{route=\"{}\",status=\"{}\"}} {}\n", route,
                       kCountedStatuses[s], n);
      }
    }
  }
  out +=
      "# HELP reviewsd_http_request_duration_seconds From a request parsed to its response "
      "ready.\n# TYPE reviewsd_http_request_duration_seconds histogram\n";
  std::uint64_t cumulative = 0, count = 0, micros = 0;
  for (std::size_t b = 0; b <= kLatencyBuckets.size(); ++b) {
    for (const auto& m : reactors_) cumulative += m->bucket(b);
    if (b < kLatencyBuckets.size()) {
      fmt::format_to(it, "reviewsd_http_request_duration_seconds_bucket{{le=\"{}\"}} {}\n",
                     kLatencyBuckets[b], cumulative);
    } else {
      fmt::format_to(it, "reviewsd_http_request_duration_seconds_bucket{{le=\"+Inf\"}} {}\n",
                     cumulative);
    }
  }
  for (const auto& m : reactors_) {
    count += m->count();
    micros += m->latency_micros();
  }
  // _count equals the +Inf bucket only between requests; a scrape racing a request may see
  // them differ by the requests in between.
  fmt::format_to(it, "reviewsd_http_request_duration_seconds_sum {}\n",
                 static_cast<double>(micros) / 1e6);
  fmt::format_to(it, "reviewsd_http_request_duration_seconds_count {}\n", count);

  std::uint64_t in = 0, sent = 0, accepted = 0, closed = 0, shed = 0;
  for (const auto& m : reactors_) {
    in += m->bytes_in.get();
    sent += m->bytes_out.get();
    accepted += m->accepted.get();
    closed += m->closed.get();
    shed += m->shed.get();
  }
  append_metric(out, "reviewsd_http_received_bytes_total", "counter", "Bytes read from clients.",
                in);
  append_metric(out, "reviewsd_http_sent_bytes_total", "counter", "Bytes written to clients.",
                sent);
  append_metric(out, "reviewsd_http_connections_accepted_total", "counter",
                "Client connections accepted.", accepted);
  append_metric(out, "reviewsd_http_connections_shed_total", "counter",
                "Connections closed at once because --max-connections was reached.", shed);
  append_metric(out, "reviewsd_http_connections_open", "gauge", "Client connections open now.",
                accepted >= closed ? accepted - closed : 0);
  for (const auto& c : collectors_) c(out);
  return out;
}

}  // namespace server
