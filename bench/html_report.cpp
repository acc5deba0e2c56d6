#include "bench/html_report.h"

#include "bench/svg_plot.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>

namespace bench {

// This file renders only results read back (run_result.h); it never sees loadgen.h's types.
using namespace result;

namespace {

using svg::escape;

// A number with `prec` decimals, "-" when absent.
std::string num(double v, int prec = 0) {
  if (!std::isfinite(v)) return "-";
  return fmt::format("{:.{}f}", v, prec);
}
std::string ms(double us) { return std::isfinite(us) ? num(us / 1e3, 2) : "-"; }

std::string ratio(double a, double b) {
  if (!std::isfinite(a) || !std::isfinite(b) || b <= 0) return "-";
  return fmt::format("{:.2f}x", a / b);
}

std::string model_text(const BenchResult& r) {
  std::string m = r.model.empty() ? "-" : r.model;
  if (r.ramp) {
    m = "ramp";
  } else if (r.model == "open" && std::isfinite(r.rate)) {
    m = fmt::format("open, {:.0f}/s", r.rate);
  }
  if (std::isfinite(r.connections)) m += fmt::format(", {:.0f} conns", r.connections);
  return m;
}

std::string scenario_text(const BenchResult& r) {
  return r.label.empty() ? r.scenario : fmt::format("{} ({})", r.scenario, r.label);
}

std::string reference_text(const BenchResult& ref) {
  return fmt::format("{} {} {}", ref.reference, num(ref.rps),
                     ref.reference == "pgbench" ? "tps" : "req/s");
}

// One results row: the cells after the scenario.
std::vector<std::string> figures(const BenchResult& r) {
  const auto& l = r.latency;
  return {model_text(r), num(r.rps), num(r.error_total()),
          ms(l.avg),     ms(l.p50),  ms(l.p75),
          ms(l.p90),     ms(l.p99),  ms(l.max)};
}

const char* kFigureHeads[] = {"model",  "requests/s", "errors", "avg ms", "p50 ms",
                              "p75 ms", "p90 ms",     "p99 ms", "max ms"};

std::string md_escape(std::string_view s) {
  std::string out;
  for (const char c : s) {
    switch (c) {
      case '|':
      case '*':
      case '_':
      case '`':
      case '\\':
        out.push_back('\\');
        out.push_back(c);
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '\n':
      case '\r':
        out.push_back(' ');
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

std::string join_counts(const std::vector<std::pair<std::string, double>>& v) {
  std::string out;
  for (const auto& [k, n] : v) out += fmt::format("{}{} {}", out.empty() ? "" : ", ", k, num(n));
  return out.empty() ? "-" : out;
}

std::vector<const BenchResult*> own_results(const ReportInput& in) {
  std::vector<const BenchResult*> out;
  for (const auto& r : in.results) {
    if (r.reference.empty()) out.push_back(&r);
  }
  return out;
}

std::string details_text(const BenchResult& r) {
  std::string s = fmt::format("{} responses in {} s", num(r.requests), num(r.seconds, 2));
  if (std::isfinite(r.threads)) s += fmt::format(", {} client thread(s)", num(r.threads));
  if (std::isfinite(r.mean_body_bytes))
    s += fmt::format(", mean body {} bytes", num(r.mean_body_bytes));
  if (!r.url.empty()) s += fmt::format(", {}", r.url);
  return s;
}

// A count per second: each bucket's count over its width (the spacing of the series).
std::vector<std::pair<double, double>> per_second(const std::vector<SeriesPoint>& series,
                                                  double SeriesPoint::*count) {
  std::vector<std::pair<double, double>> out;
  for (std::size_t i = 0; i < series.size(); ++i) {
    double w = 1;
    if (i + 1 < series.size())
      w = series[i + 1].t - series[i].t;
    else if (i > 0)
      w = series[i].t - series[i - 1].t;
    if (!(w > 0)) w = 1;
    out.emplace_back(series[i].t, series[i].*count / w);
  }
  return out;
}

svg::Plot time_plot(const BenchResult& r) {
  svg::Plot p;
  p.title = fmt::format("{}: throughput and latency over time", scenario_text(r));
  p.x_label = "time (s)";
  p.y_label = "responses/s";
  p.y2_label = "latency (ms)";
  p.lines.push_back(
      {"throughput (req/s)", colours::kThroughput, per_second(r.series, &SeriesPoint::responses)});
  svg::Line p50{"p50 (ms)", colours::kP50, {}, true};
  svg::Line p99{"p99 (ms)", colours::kP99, {}, true};
  for (const auto& pt : r.series) {
    p50.points.emplace_back(pt.t, pt.p50_us / 1e3);
    p99.points.emplace_back(pt.t, pt.p99_us / 1e3);
  }
  if (std::any_of(r.series.begin(), r.series.end(),
                  [](const SeriesPoint& pt) { return pt.errors > 0; })) {
    p.lines.push_back(
        {"errors/s", colours::kErrors, per_second(r.series, &SeriesPoint::errors), false, true});
  }
  p.lines.push_back(std::move(p50));
  p.lines.push_back(std::move(p99));
  return p;
}

svg::Plot ramp_plot(const BenchResult& r) {
  svg::Plot p;
  p.title = fmt::format("{}: latency percentiles against the offered rate", scenario_text(r));
  p.x_label = "offered rate (requests/s)";
  p.y_label = "latency (ms, log scale)";
  p.y_log = true;
  svg::Line p50{"p50", colours::kP50, {}};
  svg::Line p90{"p90", colours::kP90, {}};
  svg::Line p99{"p99", colours::kP99, {}};
  for (const auto& s : r.ramp->steps) {
    p50.points.emplace_back(s.rate, s.p50_us / 1e3);
    p90.points.emplace_back(s.rate, s.p90_us / 1e3);
    p99.points.emplace_back(s.rate, s.p99_us / 1e3);
  }
  p.lines = {p50, p90, p99};
  if (std::isfinite(r.ramp->slo_p99_ms)) {
    p.markers.push_back({fmt::format("SLO p99 {} ms", num(r.ramp->slo_p99_ms, 1)), colours::kSlo,
                         r.ramp->slo_p99_ms, false});
  }
  if (std::isfinite(r.ramp->held_rate) && r.ramp->held_rate > 0) {
    p.markers.push_back({fmt::format("held {} req/s", num(r.ramp->held_rate)), colours::kHeld,
                         r.ramp->held_rate, true});
  }
  return p;
}

constexpr const char* kRampHeads[] = {"offered req/s", "achieved req/s", "errors",
                                      "p50 ms",        "p90 ms",         "p99 ms",
                                      "max ms",        "p99 within SLO"};

std::vector<std::string> ramp_cells(const RampStep& s) {
  return {num(s.rate),  num(s.rps),   num(s.errors), ms(s.p50_us),
          ms(s.p90_us), ms(s.p99_us), ms(s.max_us),  s.held ? "yes" : "no"};
}

std::string held_sentence(const RampResult& ramp) {
  const std::string head =
      fmt::format("highest offered rate with p99 within {} ms: ", num(ramp.slo_p99_ms, 1));
  if (std::isfinite(ramp.held_rate) && ramp.held_rate > 0)
    return head + num(ramp.held_rate) + " requests/s";
  return head + "none (the first step already exceeded it)";
}

// --- Markdown ------------------------------------------------------------------------------

void md_row(std::string& out, const std::vector<std::string>& cells) {
  out += "|";
  for (const auto& c : cells) out += " " + md_escape(c) + " |";
  out += "\n";
}

void md_head(std::string& out, const std::vector<std::string>& heads, std::size_t left = 2) {
  md_row(out, heads);
  out += "|";
  for (std::size_t i = 0; i < heads.size(); ++i) out += i < left ? "---|" : "--:|";
  out += "\n";
}

// --- HTML ----------------------------------------------------------------------------------

void html_table(std::string& out, const std::vector<std::string>& heads,
                const std::vector<std::vector<std::string>>& rows, std::size_t left,
                const char* cls) {
  fmt::format_to(std::back_inserter(out), "<table class=\"{}\">\n<thead><tr>", cls);
  for (const auto& h : heads) out += "<th>" + escape(h) + "</th>";
  out += "</tr></thead>\n<tbody>\n";
  for (const auto& row : rows) {
    out += "<tr>";
    for (std::size_t i = 0; i < row.size(); ++i) {
      out += i < left ? "<td>" : "<td class=\"n\">";
      out += escape(row[i]) + "</td>";
    }
    out += "</tr>\n";
  }
  out += "</tbody>\n</table>\n";
}

std::vector<std::string> result_heads(bool with_reference) {
  std::vector<std::string> h{"scenario"};
  h.insert(h.end(), std::begin(kFigureHeads), std::end(kFigureHeads));
  if (with_reference) {
    h.emplace_back("reference");
    h.emplace_back("ratio");
  }
  return h;
}

std::vector<std::vector<std::string>> result_rows(const ReportInput& in) {
  std::vector<std::vector<std::string>> rows;
  for (const auto* r : own_results(in)) {
    std::vector<std::string> row{scenario_text(*r)};
    const auto f = figures(*r);
    row.insert(row.end(), f.begin(), f.end());
    std::string refs, ratios;
    for (const auto* ref : references_of(in, *r)) {
      refs += (refs.empty() ? "" : "; ") + reference_text(*ref);
      ratios += (ratios.empty() ? "" : "; ") + ratio(r->rps, ref->rps);
    }
    row.push_back(refs.empty() ? "-" : refs);
    row.push_back(ratios.empty() ? "-" : ratios);
    rows.push_back(std::move(row));
  }
  return rows;
}

std::vector<std::vector<std::string>> reference_rows(const ReportInput& in) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& r : in.results) {
    if (r.reference.empty()) continue;
    std::vector<std::string> row{fmt::format("{} ({})", r.scenario, r.reference)};
    const auto f = figures(r);
    row.insert(row.end(), f.begin(), f.end());
    rows.push_back(std::move(row));
  }
  return rows;
}

constexpr const char* kCss =
    R"(body{font-family:sans-serif;margin:24px;color:#222222;max-width:1100px}
table{border-collapse:collapse;margin:8px 0 16px 0;font-size:14px}
th,td{border:1px solid #cccccc;padding:3px 8px;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}
th{background:#f2f2f2}
svg.plot{display:block;margin:8px 0 24px 0;font-size:12px}
svg .title{font-size:14px;font-weight:bold}
code{font-size:13px}
)";

}  // namespace

std::vector<const BenchResult*> references_of(const ReportInput& in, const BenchResult& r) {
  std::vector<const BenchResult*> out;
  for (const auto& ref : in.results) {
    if (!ref.reference.empty() && ref.scenario == r.scenario) out.push_back(&ref);
  }
  return out;
}

std::string render_markdown(const ReportInput& in) {
  std::string out = "# reviewsd bench report\n\n";
  for (const auto& run : in.runs) {
    md_head(out, {"run", ""}, 2);
    for (const auto& [k, v] : run.fields) md_row(out, {k, v});
    out += "\n";
  }
  out += "## Results\n\n";
  md_head(out, result_heads(true), 2);
  for (const auto& row : result_rows(in)) md_row(out, row);
  out += "\n";
  out +=
      "Latencies in milliseconds (open loop: from each request's scheduled time); errors are "
      "non-2xx responses, timeouts, resets, connect and protocol errors, and requests never "
      "sent. Ratio: reviewsd's requests/s over the reference's.\n\n";
  if (const auto refs = reference_rows(in); !refs.empty()) {
    out += "## Reference runs\n\n";
    md_head(out, result_heads(false), 2);
    for (const auto& row : refs) md_row(out, row);
    out += "\n";
    for (const auto& r : in.results) {
      if (!r.reference.empty() && !r.command.empty())
        out += fmt::format("- {} ({}): {}\n", md_escape(r.scenario), md_escape(r.reference),
                           md_escape(r.command));
    }
    out += "\n";
  }
  for (const auto* r : own_results(in)) {
    out += fmt::format("### {}\n\n", md_escape(scenario_text(*r)));
    out += fmt::format("- {}\n", md_escape(details_text(*r)));
    out += fmt::format("- statuses: {}\n", md_escape(join_counts(r->statuses)));
    out += fmt::format("- errors: {}\n", md_escape(join_counts(r->errors)));
    if (!r->writes.empty()) out += fmt::format("- writes: {}\n", md_escape(join_counts(r->writes)));
    if (r->ramp) {
      out += fmt::format("- {}\n\n", md_escape(held_sentence(*r->ramp)));
      md_head(out, {std::begin(kRampHeads), std::end(kRampHeads)}, 0);
      for (const auto& s : r->ramp->steps) md_row(out, ramp_cells(s));
    }
    out += "\n";
  }
  for (const auto& run : in.runs) {
    for (const auto& n : run.notes) out += fmt::format("- {}\n", md_escape(n));
  }
  return out;
}

std::string render_html(const ReportInput& in) {
  std::string out =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<title>reviewsd bench report</title>\n<style>\n";
  out += kCss;
  out += "</style>\n</head>\n<body>\n<h1>reviewsd bench report</h1>\n";
  for (const auto& run : in.runs) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& [k, v] : run.fields) rows.push_back({k, v});
    html_table(out, {"run", ""}, rows, 2, "run");
  }
  out += "<h2>Results</h2>\n";
  html_table(out, result_heads(true), result_rows(in), 2, "results");
  out +=
      "<p>Latencies in milliseconds (open loop: from each request's scheduled time); errors are "
      "non-2xx responses, timeouts, resets, connect and protocol errors, and requests never "
      "sent. Ratio: reviewsd's requests/s over the reference's.</p>\n";
  if (const auto refs = reference_rows(in); !refs.empty()) {
    out += "<h2>Reference runs</h2>\n";
    html_table(out, result_heads(false), refs, 2, "references");
    out += "<ul>\n";
    for (const auto& r : in.results) {
      if (!r.reference.empty() && !r.command.empty())
        out += fmt::format("<li>{} ({}): <code>{}</code></li>\n", escape(r.scenario),
                           escape(r.reference), escape(r.command));
    }
    out += "</ul>\n";
  }
  for (const auto* r : own_results(in)) {
    out += fmt::format("<h2>{}</h2>\n<p>{}<br>statuses: {}<br>errors: {}",
                       escape(scenario_text(*r)), escape(details_text(*r)),
                       escape(join_counts(r->statuses)), escape(join_counts(r->errors)));
    if (!r->writes.empty()) out += fmt::format("<br>writes: {}", escape(join_counts(r->writes)));
    out += "</p>\n";
    if (!r->series.empty()) out += svg::render(time_plot(*r));
    if (r->ramp) {
      out += fmt::format("<p>{}</p>\n", escape(held_sentence(*r->ramp)));
      if (!r->ramp->steps.empty()) out += svg::render(ramp_plot(*r));
      std::vector<std::vector<std::string>> rows;
      for (const auto& s : r->ramp->steps) rows.push_back(ramp_cells(s));
      html_table(out, {std::begin(kRampHeads), std::end(kRampHeads)}, rows, 0, "ramp");
    }
  }
  bool notes = false;
  for (const auto& run : in.runs) {
    for (const auto& n : run.notes) {
      if (!notes) out += "<h2>Notes</h2>\n<ul>\n";
      notes = true;
      out += "<li>" + escape(n) + "</li>\n";
    }
  }
  if (notes) out += "</ul>\n";
  out += "</body>\n</html>\n";
  return out;
}

std::string write_report(const ReportInput& in, const std::string& dir) {
  namespace fs = std::filesystem;
  fs::create_directories(dir);
  const std::string md = render_markdown(in);
  const std::string html = render_html(in);
  for (const auto& [name, body] : {std::pair{"report.md", &md}, std::pair{"report.html", &html}}) {
    const fs::path p = fs::path(dir) / name;
    std::ofstream f(p, std::ios::binary | std::ios::trunc);
    f << *body;
    if (!f.flush()) throw std::runtime_error(fmt::format("cannot write {}", p.string()));
  }
  return md;
}

}  // namespace bench
