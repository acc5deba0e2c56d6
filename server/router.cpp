#include "server/router.h"

#include <stdexcept>

namespace server {

namespace {

using protocol::Method;

std::vector<std::string> split(std::string_view path) {
  std::vector<std::string> out;
  if (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  while (!path.empty()) {
    const auto slash = path.find('/');
    out.emplace_back(path.substr(0, slash));
    path = slash == std::string_view::npos ? std::string_view() : path.substr(slash + 1);
  }
  return out;
}

std::string_view name_of(Method m) {
  switch (m) {
    case Method::Get:
      return "GET";
    case Method::Head:
      return "HEAD";
    case Method::Post:
      return "POST";
    case Method::Put:
      return "PUT";
    case Method::Delete:
      return "DELETE";
    case Method::Options:
      return "OPTIONS";
    case Method::Patch:
      return "PATCH";
    case Method::Other:
      break;
  }
  return "?";
}

}  // namespace

void Router::add(Method method, std::string_view pattern, Handler handler) {
  auto segments = split(pattern);
  Route* route = nullptr;
  for (auto& r : routes_)
    if (r.segments == segments) route = &r;
  if (!route) {
    std::string first =
        segments.empty() || segments[0].starts_with(':') ? std::string() : segments[0];
    route = &routes_.emplace_back(Route{std::move(segments), std::move(first), {}, {}});
  }
  for (const auto& [m, h] : route->handlers)
    if (m == method) throw std::logic_error("duplicate route " + std::string(pattern));
  route->handlers.emplace_back(method, std::move(handler));
  // Allow: the route's methods in a fixed order, HEAD implied by GET, OPTIONS always.
  route->allow.clear();
  for (const Method m : {Method::Get, Method::Head, Method::Post, Method::Put, Method::Delete,
                         Method::Patch, Method::Options}) {
    bool has = m == Method::Options;
    for (const auto& entry : route->handlers)
      has = has || entry.first == m || (m == Method::Head && entry.first == Method::Get);
    if (!has) continue;
    if (!route->allow.empty()) route->allow += ", ";
    route->allow += name_of(m);
  }
}

bool Router::match(const Route& r, std::string_view path, RouteParams& params) const {
  if (path.empty() || path.front() != '/') return false;
  if (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  path.remove_prefix(1);
  params.size = 0;
  std::size_t i = 0;  // "/" has no segments, like the pattern "/"
  while (!path.empty() || i > 0) {
    const auto slash = path.find('/');
    const std::string_view seg = path.substr(0, slash);
    if (i == r.segments.size()) return false;
    const std::string& want = r.segments[i++];
    if (!want.empty() && want.front() == ':') {
      if (seg.empty() || params.size == RouteParams::kMax) return false;
      params.items[params.size++] = {std::string_view(want).substr(1), seg};
    } else if (seg != want) {
      return false;
    }
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return i == r.segments.size();
}

std::vector<std::string> Router::route_patterns() const {
  std::vector<std::string> out;
  for (const auto& r : routes_) {
    std::string p;
    for (const auto& seg : r.segments) p += "/" + seg;
    out.push_back(p.empty() ? "/" : p);
  }
  return out;
}

Router::Match Router::find(Method method, std::string_view path) const {
  Match m;
  m.route = routes_.size();
  // The path's first segment: "/reviews/5/list" -> "reviews", "/" -> "".
  std::string_view first = path.substr(path.starts_with('/') ? 1 : 0);
  first = first.substr(0, first.find('/'));
  for (const auto& r : routes_) {
    if (!r.first.empty() && r.first != first) continue;
    if (!match(r, path, m.params)) continue;
    m.route = static_cast<std::size_t>(&r - routes_.data());
    const Handler* get = nullptr;
    for (const auto& [rm, h] : r.handlers) {
      if (rm == method) {
        m.outcome = Outcome::Found;
        m.handler = &h;
        return m;
      }
      if (rm == Method::Get) get = &h;
    }
    if (method == Method::Head && get) {
      m.outcome = Outcome::Found;
      m.handler = get;
      return m;
    }
    m.outcome = method == Method::Options ? Outcome::Preflight : Outcome::MethodNotAllowed;
    m.allow = r.allow;
    return m;
  }
  m.params.size = 0;
  return m;
}

}  // namespace server
