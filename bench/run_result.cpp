#include "bench/run_result.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace bench::result {

namespace dom = simdjson::dom;

namespace {

double number(dom::element e) {
  double d = 0;
  if (e.get_double().get(d) == simdjson::SUCCESS) return d;
  std::int64_t i = 0;
  if (e.get_int64().get(i) == simdjson::SUCCESS) return static_cast<double>(i);
  std::uint64_t u = 0;
  if (e.get_uint64().get(u) == simdjson::SUCCESS) return static_cast<double>(u);
  return kNaN;
}

double number(dom::object o, std::string_view key) {
  dom::element e;
  if (o[key].get(e) != simdjson::SUCCESS) return kNaN;
  return number(e);
}

std::string text(dom::object o, std::string_view key) {
  std::string_view s;
  if (o[key].get_string().get(s) != simdjson::SUCCESS) return {};
  return std::string(s);
}

std::optional<dom::object> object(dom::object o, std::string_view key) {
  dom::object sub;
  if (o[key].get_object().get(sub) != simdjson::SUCCESS) return std::nullopt;
  return sub;
}

std::optional<dom::array> array(dom::object o, std::string_view key) {
  dom::array a;
  if (o[key].get_array().get(a) != simdjson::SUCCESS) return std::nullopt;
  return a;
}

std::vector<std::pair<std::string, double>> counts(dom::object o, std::string_view key) {
  std::vector<std::pair<std::string, double>> out;
  if (const auto sub = object(o, key)) {
    for (const auto field : *sub) out.emplace_back(std::string(field.key), number(field.value));
  }
  return out;
}

// A scalar as text, for the run header.
std::string scalar_text(dom::element e) {
  switch (e.type()) {
    case dom::element_type::STRING:
      return std::string(std::string_view(e));
    case dom::element_type::BOOL:
      return bool(e) ? "true" : "false";
    case dom::element_type::NULL_VALUE:
      return "-";
    case dom::element_type::INT64:
      return fmt::format("{}", std::int64_t(e));
    case dom::element_type::UINT64:
      return fmt::format("{}", std::uint64_t(e));
    case dom::element_type::DOUBLE:
      return fmt::format("{}", double(e));
    default:
      return simdjson::minify(e);
  }
}

void flatten(const std::string& prefix, dom::object o,
             std::vector<std::pair<std::string, std::string>>& out) {
  for (const auto field : o) {
    const std::string key =
        prefix.empty() ? std::string(field.key) : fmt::format("{}.{}", prefix, field.key);
    dom::object sub;
    if (field.value.get_object().get(sub) == simdjson::SUCCESS) {
      flatten(key, sub, out);
    } else {
      out.emplace_back(key, scalar_text(field.value));
    }
  }
}

LatencyUs latency(dom::object o) {
  LatencyUs l;
  const auto lat = object(o, "latency_us");
  if (!lat) return l;
  l.count = number(*lat, "count");
  l.min = number(*lat, "min");
  l.avg = number(*lat, "avg");
  l.p50 = number(*lat, "p50");
  l.p75 = number(*lat, "p75");
  l.p90 = number(*lat, "p90");
  l.p99 = number(*lat, "p99");
  l.p99_9 = number(*lat, "p99_9");
  l.max = number(*lat, "max");
  return l;
}

BenchResult result_from(dom::object o, const std::string& name) {
  BenchResult r;
  r.file = name;
  r.scenario = text(o, "scenario");
  if (r.scenario.empty()) r.scenario = std::filesystem::path(name).stem().string();
  r.reference = text(o, "reference");
  r.label = text(o, "label");
  r.command = text(o, "command");
  r.url = text(o, "url");
  r.model = text(o, "model");
  r.rate = number(o, "rate");
  r.connections = number(o, "connections");
  r.threads = number(o, "threads");
  r.seconds = number(o, "seconds");
  r.requests = number(o, "requests");
  r.rps = number(o, "rps");
  r.bytes = number(o, "bytes");
  r.mean_body_bytes = number(o, "mean_body_bytes");
  r.errors = counts(o, "errors");
  r.statuses = counts(o, "statuses");
  r.writes = counts(o, "writes");
  r.latency = latency(o);
  if (const auto series = array(o, "series")) {
    for (const auto e : *series) {
      dom::object p;
      if (e.get_object().get(p) != simdjson::SUCCESS) continue;
      r.series.push_back({number(p, "t"), number(p, "responses"), number(p, "errors"),
                          number(p, "p50_us"), number(p, "p99_us")});
    }
  }
  if (const auto ramp = object(o, "ramp")) {
    RampResult rr;
    rr.slo_p99_ms = number(*ramp, "slo_p99_ms");
    rr.held_rate = number(*ramp, "held_rate");
    if (const auto steps = array(*ramp, "steps")) {
      for (const auto e : *steps) {
        dom::object s;
        if (e.get_object().get(s) != simdjson::SUCCESS) continue;
        RampStep st{number(s, "rate"),   number(s, "rps"),    number(s, "errors"),
                    number(s, "p50_us"), number(s, "p90_us"), number(s, "p99_us"),
                    number(s, "max_us")};
        bool held = false;
        st.held = s["held"].get_bool().get(held) == simdjson::SUCCESS && held;
        rr.steps.push_back(st);
      }
    }
    r.ramp = std::move(rr);
  }
  return r;
}

}  // namespace

double BenchResult::error_total() const {
  if (errors.empty()) return kNaN;
  double sum = 0;
  for (const auto& [kind, n] : errors) {
    if (std::isfinite(n)) sum += n;
  }
  return sum;
}

void add_report_json(ReportInput& input, const std::string& json, const std::string& name) {
  dom::parser parser;
  dom::element doc;
  if (const auto err = parser.parse(simdjson::padded_string(json)).get(doc); err) {
    throw std::runtime_error(
        fmt::format("{}: not valid JSON ({})", name, simdjson::error_message(err)));
  }
  dom::object o;
  if (doc.get_object().get(o) != simdjson::SUCCESS)
    throw std::runtime_error(fmt::format("{}: expected a JSON object", name));
  if (const auto run = object(o, "run")) {
    RunInfoFile info;
    flatten("", *run, info.fields);
    if (const auto notes = array(o, "notes")) {
      for (const auto e : *notes) {
        std::string_view s;
        if (e.get_string().get(s) == simdjson::SUCCESS) info.notes.emplace_back(s);
      }
    }
    input.runs.push_back(std::move(info));
    return;
  }
  if (!object(o, "latency_us") && std::isnan(number(o, "rps"))) {
    throw std::runtime_error(fmt::format(
        "{}: neither a load result (no \"rps\", no \"latency_us\") nor run information", name));
  }
  input.results.push_back(result_from(o, name));
}

void add_report_file(ReportInput& input, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(fmt::format("{}: cannot read", path));
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string all = ss.str();
  // Usually one document; `load --json` output appended by a script gives one per line.
  std::size_t docs = 0;
  std::size_t start = 0;
  std::vector<std::string> lines;
  while (start < all.size()) {
    std::size_t end = all.find('\n', start);
    if (end == std::string::npos) end = all.size();
    const std::string line = all.substr(start, end - start);
    if (line.find_first_not_of(" \t\r") != std::string::npos) lines.push_back(line);
    start = end + 1;
  }
  // A pretty-printed document spans lines: try the whole file first.
  if (lines.size() > 1) {
    dom::parser parser;
    dom::element doc;
    if (parser.parse(simdjson::padded_string(all)).get(doc) == simdjson::SUCCESS) lines = {all};
  }
  for (const auto& line : lines) {
    add_report_json(input, line, lines.size() > 1 ? fmt::format("{}#{}", path, ++docs) : path);
  }
  if (lines.empty()) throw std::runtime_error(fmt::format("{}: empty", path));
}

}  // namespace bench::result
