#include "bench/svg_plot.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>

namespace bench::svg {

std::string escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (const char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        // Control characters are not allowed in XML 1.0 text: drop them (tab and newline stay).
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n') continue;
        out.push_back(c);
    }
  }
  return out;
}

std::string tick_label(double v) {
  const double a = std::fabs(v);
  if (a >= 1e6) return fmt::format("{:g}M", v / 1e6);
  if (a >= 1e3) return fmt::format("{:g}k", v / 1e3);
  if (a == 0) return "0";
  return fmt::format("{:g}", v);
}

std::vector<double> linear_ticks(double lo, double hi, double& nice_lo, double& nice_hi) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) lo = 0, hi = 1;
  if (hi < lo) std::swap(lo, hi);
  if (hi - lo < 1e-12) hi = lo + (lo == 0 ? 1 : std::fabs(lo) * 0.1);
  const double raw = (hi - lo) / 5;
  const double mag = std::pow(10, std::floor(std::log10(raw)));
  double step = mag * 10;
  for (const double m : {1.0, 2.0, 5.0}) {
    if (mag * m >= raw) {
      step = mag * m;
      break;
    }
  }
  nice_lo = std::floor(lo / step + 1e-9) * step;
  nice_hi = std::ceil(hi / step - 1e-9) * step;
  std::vector<double> ticks;
  for (double t = nice_lo; t <= nice_hi + step * 1e-6; t += step) {
    ticks.push_back(std::fabs(t) < step * 1e-9 ? 0 : t);
  }
  return ticks;
}

std::vector<double> log_ticks(double lo, double hi, double& nice_lo, double& nice_hi) {
  if (!(lo > 0) || !std::isfinite(lo)) lo = 1;
  if (!(hi > 0) || !std::isfinite(hi)) hi = lo * 10;
  if (hi < lo) std::swap(lo, hi);
  const int k_lo = static_cast<int>(std::floor(std::log10(lo) + 1e-9));
  int k_hi = static_cast<int>(std::ceil(std::log10(hi) - 1e-9));
  if (k_hi <= k_lo) k_hi = k_lo + 1;
  nice_lo = std::pow(10, k_lo);
  nice_hi = std::pow(10, k_hi);
  std::vector<double> ticks;
  // With many decades, only the powers of ten: the 2 and 5 labels would collide.
  const bool dense = k_hi - k_lo <= 3;
  for (int k = k_lo; k <= k_hi; ++k) {
    for (const double m : {1.0, 2.0, 5.0}) {
      if (m != 1 && (!dense || k == k_hi)) continue;
      ticks.push_back(m * std::pow(10, k));
    }
  }
  return ticks;
}

namespace {

struct Axis {
  double lo = 0, hi = 1;
  bool log = false;
  std::vector<double> ticks;
  double pixel_lo = 0, pixel_hi = 1;  // where lo and hi land

  [[nodiscard]] double map(double v) const {
    const double f = log ? (std::log10(v) - std::log10(lo)) / (std::log10(hi) - std::log10(lo))
                         : (v - lo) / (hi - lo);
    return pixel_lo + f * (pixel_hi - pixel_lo);
  }
};

bool usable(double v, bool log) { return std::isfinite(v) && (!log || v > 0); }

Axis make_axis(double lo, double hi, bool log, bool from_zero) {
  Axis a;
  a.log = log;
  if (log) {
    a.ticks = log_ticks(lo, hi, a.lo, a.hi);
  } else {
    if (from_zero && lo > 0) lo = 0;
    a.ticks = linear_ticks(lo, hi, a.lo, a.hi);
  }
  return a;
}

struct Range {
  double lo = std::numeric_limits<double>::infinity();
  double hi = -std::numeric_limits<double>::infinity();
  void add(double v) {
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  [[nodiscard]] bool empty() const { return lo > hi; }
};

}  // namespace

std::string render(const Plot& plot) {
  const double W = plot.width, H = plot.height;
  bool has_right = false;
  Range xr, yr, y2r;
  for (const auto& line : plot.lines) {
    has_right |= line.right_axis;
    for (const auto& [x, y] : line.points) {
      if (!std::isfinite(x) || !usable(y, line.right_axis ? false : plot.y_log)) continue;
      xr.add(x);
      (line.right_axis ? y2r : yr).add(y);
    }
  }
  const bool no_data = xr.empty();
  for (const auto& m : plot.markers) {
    if (m.vertical && std::isfinite(m.value)) xr.add(m.value);
    if (!m.vertical && usable(m.value, plot.y_log)) yr.add(m.value);
  }
  if (xr.empty()) xr.add(0), xr.add(1);
  if (yr.empty()) yr.add(plot.y_log ? 1 : 0), yr.add(plot.y_log ? 10 : 1);
  if (y2r.empty()) y2r.add(0), y2r.add(1);

  const double ml = 72, mr = has_right ? 72 : 24, mt = 52, mb = 50;
  Axis x = make_axis(xr.lo, xr.hi, false, false);
  Axis y = make_axis(yr.lo, yr.hi, plot.y_log, true);
  Axis y2 = make_axis(y2r.lo, y2r.hi, false, true);
  x.pixel_lo = ml, x.pixel_hi = W - mr;
  y.pixel_lo = y2.pixel_lo = H - mb, y.pixel_hi = y2.pixel_hi = mt;

  std::string out;
  auto o = std::back_inserter(out);
  fmt::format_to(o,
                 R"(<svg xmlns="http://www.w3.org/2000/svg" class="plot" width="{0}" height="{1}" )"
                 R"(viewBox="0 0 {0} {1}" role="img" aria-label="{2}">)"
                 "\n",
                 W, H, escape(plot.title));
  fmt::format_to(o,
                 R"(<rect x="0" y="0" width="{}" height="{}" fill="#ffffff"/>)"
                 "\n",
                 W, H);
  fmt::format_to(o,
                 R"(<text x="{}" y="18" text-anchor="middle" class="title">{}</text>)"
                 "\n",
                 W / 2, escape(plot.title));
  // Legend: a short stroke of each line's colour and its name, on one row under the title.
  double lx = ml;
  for (const auto& line : plot.lines) {
    fmt::format_to(o,
                   R"(<g class="legend"><line x1="{0:.1f}" y1="34" x2="{1:.1f}" y2="34" )"
                   R"(stroke="{2}" stroke-width="2"{3}/><text x="{4:.1f}" y="38">{5}</text></g>)"
                   "\n",
                   lx, lx + 18, escape(line.colour),
                   line.dashed ? R"( stroke-dasharray="5,3")" : "", lx + 22, escape(line.name));
    lx += 34 + 7.0 * static_cast<double>(line.name.size());
  }
  // Grid and ticks.
  fmt::format_to(o, "<g class=\"grid\" stroke=\"#e4e4e4\" stroke-width=\"1\">\n");
  for (const double t : y.ticks) {
    fmt::format_to(o,
                   R"(<line x1="{:.1f}" y1="{:.1f}" x2="{:.1f}" y2="{:.1f}"/>)"
                   "\n",
                   ml, y.map(t), W - mr, y.map(t));
  }
  for (const double t : x.ticks) {
    fmt::format_to(o,
                   R"(<line x1="{:.1f}" y1="{:.1f}" x2="{:.1f}" y2="{:.1f}"/>)"
                   "\n",
                   x.map(t), mt, x.map(t), H - mb);
  }
  fmt::format_to(o, "</g>\n<g class=\"ticks\" font-size=\"11\" fill=\"#333333\">\n");
  for (const double t : y.ticks) {
    fmt::format_to(o,
                   R"(<text x="{:.1f}" y="{:.1f}" text-anchor="end">{}</text>)"
                   "\n",
                   ml - 6, y.map(t) + 4, escape(tick_label(t)));
  }
  if (has_right) {
    for (const double t : y2.ticks) {
      fmt::format_to(o,
                     R"(<text x="{:.1f}" y="{:.1f}" text-anchor="start">{}</text>)"
                     "\n",
                     W - mr + 6, y2.map(t) + 4, escape(tick_label(t)));
    }
  }
  for (const double t : x.ticks) {
    fmt::format_to(o,
                   R"(<text x="{:.1f}" y="{:.1f}" text-anchor="middle">{}</text>)"
                   "\n",
                   x.map(t), H - mb + 16, escape(tick_label(t)));
  }
  fmt::format_to(o, "</g>\n");
  // Axes and their labels.
  fmt::format_to(o,
                 R"(<path class="axes" d="M{0:.1f},{1:.1f} L{0:.1f},{2:.1f} L{3:.1f},{2:.1f}{4}" )"
                 R"(fill="none" stroke="#333333" stroke-width="1"/>)"
                 "\n",
                 ml, mt, H - mb, W - mr,
                 has_right ? fmt::format(" L{:.1f},{:.1f}", W - mr, mt) : std::string());
  fmt::format_to(o,
                 R"(<text class="xlabel" x="{:.1f}" y="{:.1f}" text-anchor="middle">{}</text>)"
                 "\n",
                 (ml + W - mr) / 2, H - 12, escape(plot.x_label));
  fmt::format_to(o,
                 R"~(<text class="ylabel" transform="translate(16,{:.1f}) rotate(-90)" )~"
                 R"(text-anchor="middle">{}</text>)"
                 "\n",
                 (mt + H - mb) / 2, escape(plot.y_label));
  if (has_right) {
    fmt::format_to(o,
                   R"~(<text class="ylabel" transform="translate({:.1f},{:.1f}) rotate(90)" )~"
                   R"(text-anchor="middle">{}</text>)"
                   "\n",
                   W - 14, (mt + H - mb) / 2, escape(plot.y2_label));
  }
  if (no_data) {
    fmt::format_to(o,
                   R"(<text x="{:.1f}" y="{:.1f}" text-anchor="middle">no data</text>)"
                   "\n",
                   (ml + W - mr) / 2, (mt + H - mb) / 2);
  }
  // Markers (SLO, held rate), then the lines on top.
  for (const auto& m : plot.markers) {
    if (m.vertical ? !std::isfinite(m.value) : !usable(m.value, plot.y_log)) continue;
    if (m.vertical) {
      const double px = x.map(m.value);
      fmt::format_to(
          o,
          R"(<g class="marker"><line x1="{0:.1f}" y1="{1:.1f}" x2="{0:.1f}" y2="{2:.1f}" )"
          R"(stroke="{3}" stroke-width="1.5" stroke-dasharray="2,3"/>)"
          R"(<text x="{4:.1f}" y="{5:.1f}" fill="{3}">{6}</text></g>)"
          "\n",
          px, mt, H - mb, escape(m.colour), px + 4, mt + 12, escape(m.label));
    } else {
      const double py = y.map(m.value);
      fmt::format_to(
          o,
          R"(<g class="marker"><line x1="{0:.1f}" y1="{1:.1f}" x2="{2:.1f}" y2="{1:.1f}" )"
          R"(stroke="{3}" stroke-width="1.5" stroke-dasharray="6,4"/>)"
          R"(<text x="{4:.1f}" y="{5:.1f}" text-anchor="end" fill="{3}">{6}</text></g>)"
          "\n",
          ml, py, W - mr, escape(m.colour), W - mr - 4, py - 4, escape(m.label));
    }
  }
  for (const auto& line : plot.lines) {
    const Axis& ya = line.right_axis ? y2 : y;
    std::string d;
    bool pen_down = false;
    for (const auto& [px, py] : line.points) {
      if (!std::isfinite(px) || !usable(py, ya.log)) {
        pen_down = false;
        continue;
      }
      fmt::format_to(std::back_inserter(d), "{}{}{:.1f},{:.1f}", d.empty() ? "" : " ",
                     pen_down ? 'L' : 'M', x.map(px), ya.map(py));
      pen_down = true;
    }
    if (d.empty()) continue;
    // Dots on the points when there are few: a one-point line is a dot, not nothing.
    std::string dots;
    if (line.points.size() <= 40) {
      for (const auto& [px, py] : line.points) {
        if (!std::isfinite(px) || !usable(py, ya.log)) continue;
        fmt::format_to(std::back_inserter(dots), R"(<circle cx="{:.1f}" cy="{:.1f}" r="3"/>)",
                       x.map(px), ya.map(py));
      }
    }
    if (!dots.empty())
      fmt::format_to(o,
                     R"(<g class="dots" fill="{}">{}</g>)"
                     "\n",
                     escape(line.colour), dots);
    fmt::format_to(o,
                   R"(<path class="line" data-name="{}" d="{}" fill="none" stroke="{}" )"
                   R"(stroke-width="2.5" stroke-linejoin="round"{}/>)"
                   "\n",
                   escape(line.name), d, escape(line.colour),
                   line.dashed ? R"( stroke-dasharray="7,4")" : "");
  }
  out += "</svg>\n";
  return out;
}

}  // namespace bench::svg
