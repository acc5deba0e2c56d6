// Line plots as inline SVG: axes with ticks and labels, a legend, one or two y axes, linear or
// log scale. No JavaScript, no external resources: a browser renders it offline.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bench::svg {

// Text for HTML and SVG (element content and attribute values): & < > " ' escaped.
std::string escape(std::string_view s);

struct Line {
  std::string name;                               // legend
  std::string colour;                             // "#rrggbb"
  std::vector<std::pair<double, double>> points;  // non-finite y breaks the line
  bool right_axis = false;
  bool dashed = false;
};

// A horizontal (y = value) or vertical (x = value) marker line with a label.
struct Marker {
  std::string label;
  std::string colour;
  double value = 0;
  bool vertical = false;
};

struct Plot {
  std::string title;
  std::string x_label;
  std::string y_label;
  std::string y2_label;  // the right axis, used by lines with right_axis
  bool y_log = false;    // left axis logarithmic (values <= 0 are dropped)
  std::vector<Line> lines;
  std::vector<Marker> markers;  // on the left axis (horizontal) or the x axis (vertical)
  int width = 760;
  int height = 320;
};

// The <svg> element. Each line is one <path class="line" data-name="..." d="M x y L x y ...">
// with one coordinate pair per finite point (an "M" starts each run of finite points).
std::string render(const Plot& plot);

// Tick positions "nice" for a human: 1, 2, 5 x 10^k steps covering [lo, hi] (linear), or
// 1, 2, 5 x 10^k values within [lo, hi] (log). Exposed for the tests.
std::vector<double> linear_ticks(double lo, double hi, double& nice_lo, double& nice_hi);
std::vector<double> log_ticks(double lo, double hi, double& nice_lo, double& nice_hi);
// 1500 -> "1.5k", 2000000 -> "2M", 0.25 -> "0.25".
std::string tick_label(double v);

}  // namespace bench::svg
