// tests/bench/report_test.cpp: the renderer of `reviewsd-bench report` (bench/run_result.*,
// bench/html_report.*, bench/svg_plot.*), from the hand-written results of tests/bench/fixtures.
#include "bench/html_report.h"
#include "bench/run_result.h"
#include "bench/svg_plot.h"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <regex>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

fs::path fixture(const std::string& name) { return fs::path(REVIEWSD_BENCH_FIXTURES) / name; }

bench::result::ReportInput load_all() {
  bench::result::ReportInput in;
  for (const char* f : {"run.json", "hot.json", "hot.nginx.json", "ramp.json",
                        "random-uncached.json", "random-uncached.pgbench.json"}) {
    bench::result::add_report_file(in, fixture(f).string());
  }
  return in;
}

// The Markdown line of the results table whose first cell is `scenario`.
std::string md_row(const std::string& md, const std::string& scenario) {
  const std::string start = "| " + scenario + " |";
  const auto at = md.find("\n" + start);
  if (at == std::string::npos) return {};
  const auto end = md.find('\n', at + 1);
  return md.substr(at + 1, end - at - 1);
}

std::vector<std::string> cells(const std::string& row) {
  std::vector<std::string> out;
  std::size_t i = row.find('|');
  while (i != std::string::npos) {
    std::size_t j = row.find('|', i + 1);
    while (j != std::string::npos && row[j - 1] == '\\') j = row.find('|', j + 1);
    if (j == std::string::npos) break;
    std::string c = row.substr(i + 1, j - i - 1);
    c.erase(0, c.find_first_not_of(' '));
    c.erase(c.find_last_not_of(' ') + 1);
    out.push_back(c);
    i = j;
  }
  return out;
}

// Every element closed in order (void HTML elements and `/>` aside), nothing after </html>.
std::string check_balanced(const std::string& html) {
  static const std::vector<std::string> kVoid = {"meta", "br", "hr", "img", "link", "input"};
  std::vector<std::string> stack;
  std::size_t i = 0;
  while ((i = html.find('<', i)) != std::string::npos) {
    const std::size_t end = html.find('>', i);
    if (end == std::string::npos) return "unterminated tag";
    std::string tag = html.substr(i + 1, end - i - 1);
    i = end + 1;
    if (tag.starts_with("!")) continue;
    const bool closing = tag.starts_with("/");
    const bool self = tag.ends_with("/");
    std::string name = tag.substr(closing ? 1 : 0);
    name = name.substr(0, name.find_first_of(" /\n"));
    if (closing) {
      if (stack.empty() || stack.back() != name)
        return "</" + name + "> closes " + (stack.empty() ? "nothing" : stack.back());
      stack.pop_back();
    } else if (!self && std::find(kVoid.begin(), kVoid.end(), name) == kVoid.end()) {
      stack.push_back(name);
    }
  }
  if (!stack.empty()) return "unclosed <" + stack.back() + ">";
  return "ok";
}

// The d attribute of the line path named `name` in the n-th (0-based) <svg> of `html`.
std::string path_of(const std::string& html, int n, const std::string& name) {
  std::size_t at = 0;
  for (int k = 0; k <= n; ++k) {
    at = html.find("<svg", at + (k ? 1 : 0));
    if (at == std::string::npos) return {};
  }
  const std::size_t end = html.find("</svg>", at);
  const std::string svg = html.substr(at, end - at);
  const std::string key = "class=\"line\" data-name=\"" + name + "\" d=\"";
  const auto p = svg.find(key);
  if (p == std::string::npos) return {};
  const auto q = svg.find('"', p + key.size());
  return svg.substr(p + key.size(), q - p - key.size());
}

struct Points {
  int count = 0;
  double min_x = 1e9, max_x = -1e9, min_y = 1e9, max_y = -1e9;
};
Points points(const std::string& d) {
  Points p;
  static const std::regex pt(R"([ML](-?[0-9.]+),(-?[0-9.]+))");
  for (auto it = std::sregex_iterator(d.begin(), d.end(), pt); it != std::sregex_iterator(); ++it) {
    const double x = std::stod((*it)[1]), y = std::stod((*it)[2]);
    ++p.count;
    p.min_x = std::min(p.min_x, x), p.max_x = std::max(p.max_x, x);
    p.min_y = std::min(p.min_y, y), p.max_y = std::max(p.max_y, y);
  }
  return p;
}

int count_of(const std::string& s, const std::string& what) {
  int n = 0;
  for (auto i = s.find(what); i != std::string::npos; i = s.find(what, i + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("report: fixtures parse into results, references and run information", "[bench]") {
  const auto in = load_all();
  REQUIRE(in.runs.size() == 1);
  REQUIRE(in.results.size() == 5);
  CHECK(in.results[0].scenario == "hot");
  CHECK(in.results[0].series.size() == 10);
  CHECK(in.results[0].error_total() == 3);
  CHECK(std::isnan(in.results[0].rate));  // "rate": null
  CHECK(in.results[1].reference == "nginx");
  REQUIRE(in.results[2].ramp);
  CHECK(in.results[2].ramp->steps.size() == 6);
  CHECK(in.results[2].ramp->held_rate == 4000);
  CHECK(in.results[2].ramp->steps[3].held);
  CHECK_FALSE(in.results[2].ramp->steps[4].held);
  CHECK(bench::references_of(in, in.results[3]).size() == 1);
  CHECK(bench::references_of(in, in.results[3])[0]->reference == "pgbench");
  // Flattened in file order, nested objects with a dotted key.
  const auto& f = in.runs[0].fields;
  REQUIRE(f.size() == 7);
  CHECK(f[0].first == "command");
  CHECK(f[2] == std::pair<std::string, std::string>{"scale", "0.01"});
  CHECK(f[4].first == "machine.nproc");
  CHECK(f[4].second == "2");
}

TEST_CASE("report: the Markdown table carries the figures and the reference ratios", "[bench]") {
  const auto md = bench::render_markdown(load_all());
  INFO(md);
  const auto hot = cells(md_row(md, "hot"));
  REQUIRE(hot.size() == 12);
  // scenario, model, requests/s, errors, avg, p50, p75, p90, p99, max (ms), reference, ratio
  CHECK(hot == std::vector<std::string>{"hot", "closed, 64 conns", "40123", "3", "1.52", "1.21",
                                        "1.65", "2.30", "4.57", "12.35", "nginx 50154 req/s",
                                        "0.80x"});
  const auto unc = cells(md_row(md, "random-uncached (--cache-mb 0)"));
  REQUIRE(unc.size() == 12);
  CHECK(unc[2] == "9877");
  CHECK(unc[10] == "pgbench 12346 tps");
  CHECK(unc[11] == "0.80x");
  const auto ramp = cells(md_row(md, "ramp"));
  REQUIRE(ramp.size() == 12);
  CHECK(ramp[1] == "ramp, 256 conns");
  CHECK(ramp[3] == "37");
  CHECK(ramp[8] == "60.00");
  CHECK(ramp[10] == "-");
  CHECK(ramp[11] == "-");
  // The header of the table, and the reference rows.
  CHECK(md.find("| scenario | model | requests/s | errors | avg ms | p50 ms | p75 ms | p90 ms | "
                "p99 ms | max ms | reference | ratio |") != std::string::npos);
  const auto ng = cells(md_row(md, "hot (nginx)"));
  REQUIRE(ng.size() == 10);
  CHECK(ng[2] == "50154");
  CHECK(ng[3] == "0");
  // The ramp: its capacity and one row per step.
  CHECK(md.find("highest offered rate with p99 within 10.0 ms: 4000 requests/s") !=
        std::string::npos);
  CHECK(md.find("| 4000 | 3996 | 0 | 0.48 | 2.40 | 6.00 | 12.00 | yes |") != std::string::npos);
  CHECK(md.find("| 6000 | 5400 | 37 | 0.60 | 36.00 | 90.00 | 180.00 | no |") != std::string::npos);
  // The run header, escaped for Markdown: a pipe must not split a cell.
  CHECK(md.find("| machine.cpu | Test CPU &lt;fast&gt; &amp; \"cool\" |") != std::string::npos);
  CHECK(md.find("mean size \\| pipes &amp; &lt;tags&gt;") != std::string::npos);
}

TEST_CASE("report: the HTML page is balanced, self-contained and escaped", "[bench]") {
  const auto html = bench::render_html(load_all());
  CHECK(check_balanced(html) == "ok");
  CHECK(html.starts_with("<!DOCTYPE html>"));
  // Nothing fetched from anywhere, nothing to run.
  CHECK(html.find("<script") == std::string::npos);
  CHECK(html.find("src=") == std::string::npos);
  CHECK(html.find("href=") == std::string::npos);
  CHECK(count_of(html, "http://") ==
        count_of(html, "http://www.w3.org/2000/svg") + count_of(html, "http://127.0.0.1:"));
  // Escaped: the command of run.json holds <b>&"x"</b>, the CPU name <fast> & "cool".
  CHECK(html.find("&lt;b&gt;&amp;&quot;x&quot;&lt;/b&gt;") != std::string::npos);
  CHECK(html.find("<b>") == std::string::npos);
  CHECK(html.find("Test CPU &lt;fast&gt; &amp; &quot;cool&quot;") != std::string::npos);
  // The tables hold the same figures as the Markdown.
  CHECK(html.find("<td class=\"n\">40123</td>") != std::string::npos);
  CHECK(html.find("<td class=\"n\">0.80x</td>") != std::string::npos);
}

TEST_CASE("report: one time plot per scenario, a rate plot for the ramp, all points drawn",
          "[bench]") {
  const auto html = bench::render_html(load_all());
  // hot (time), ramp (time, rate), random-uncached (time); references get no plot.
  REQUIRE(count_of(html, "<svg ") == 4);
  CHECK(count_of(html, "</svg>") == 4);
  struct Want {
    int svg;
    const char* line;
    int points;
  };
  for (const auto& w :
       {Want{0, "throughput (req/s)", 10}, Want{0, "p50 (ms)", 10}, Want{0, "p99 (ms)", 10},
        Want{1, "throughput (req/s)", 12}, Want{1, "p99 (ms)", 12}, Want{1, "errors/s", 12},
        Want{2, "p50", 6}, Want{2, "p90", 6}, Want{2, "p99", 6}, Want{3, "p99 (ms)", 5}}) {
    INFO("svg " << w.svg << " line " << w.line);
    const auto d = path_of(html, w.svg, w.line);
    REQUIRE_FALSE(d.empty());
    const auto p = points(d);
    CHECK(p.count == w.points);
    // Inside the plot area (760 x 320 with margins), and not all on one spot.
    CHECK(p.min_x >= 72);
    CHECK(p.max_x <= 760 - 24);
    CHECK(p.min_y >= 52);
    CHECK(p.max_y <= 320 - 50);
    CHECK(p.max_x > p.min_x);
  }
  // No errors in hot: no error line there.
  CHECK(path_of(html, 0, "errors/s").empty());
  // The ramp plot: the SLO and held-rate markers, and a log axis with decade ticks.
  CHECK(html.find("SLO p99 10.0 ms") != std::string::npos);
  CHECK(html.find("held 4000 req/s") != std::string::npos);
  CHECK(html.find("latency (ms, log scale)") != std::string::npos);
  CHECK(html.find(">offered rate (requests/s)</text>") != std::string::npos);
  CHECK(html.find(">time (s)</text>") != std::string::npos);
}

TEST_CASE("report: hostile names are escaped everywhere", "[bench]") {
  bench::result::ReportInput in;
  bench::result::add_report_json(
      in,
      R"({"scenario":"<script>alert('x')</script>","label":"a|b & \"c\"","rps":1,"model":"closed",)"
      R"("latency_us":{"p50":1},"series":[{"t":0,"responses":1,"p50_us":1,"p99_us":2}]})",
      "evil");
  const auto html = bench::render_html(in);
  CHECK(html.find("<script") == std::string::npos);
  CHECK(html.find("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;") != std::string::npos);
  CHECK(check_balanced(html) == "ok");
  const auto md = bench::render_markdown(in);
  CHECK(md.find("a\\|b &amp; \"c\"") != std::string::npos);
  CHECK(md.find("<script") == std::string::npos);
}

TEST_CASE("report: files that are not results are refused with their name", "[bench]") {
  bench::result::ReportInput in;
  CHECK_THROWS_WITH(bench::result::add_report_json(in, "{nope", "bad.json"),
                    Catch::Contains("bad.json: not valid JSON"));
  CHECK_THROWS_WITH(bench::result::add_report_json(in, R"({"x":1})", "x.json"),
                    Catch::Contains("x.json: neither a load result"));
  CHECK_THROWS_WITH(bench::result::add_report_file(in, "/nonexistent/r.json"),
                    Catch::Contains("cannot read"));
}

TEST_CASE("svg: ticks are 1-2-5 steps covering the data", "[bench]") {
  double lo = 0, hi = 0;
  CHECK(bench::svg::linear_ticks(0, 9.3, lo, hi) == std::vector<double>{0, 2, 4, 6, 8, 10});
  CHECK(lo == 0);
  CHECK(hi == 10);
  const auto t = bench::svg::linear_ticks(0, 41234, lo, hi);
  CHECK(hi == 50000);
  CHECK(t.size() == 6);
  const auto l = bench::svg::log_ticks(0.3, 90, lo, hi);
  CHECK(lo == Approx(0.1));
  CHECK(hi == Approx(100));
  CHECK(l.front() == Approx(0.1));
  CHECK(l.back() == Approx(100));
  CHECK(bench::svg::tick_label(1500) == "1.5k");
  CHECK(bench::svg::tick_label(2e6) == "2M");
  CHECK(bench::svg::tick_label(0.25) == "0.25");
  CHECK(bench::svg::escape("<a href=\"x\">'&'</a>") ==
        "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
}
