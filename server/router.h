// Router: exact path patterns with `:param` segments, dispatched by method. Built once at
// startup, then read-only and shared by every reactor (no locking needed).
#pragma once

#include "server/handler.h"

#include <string>
#include <string_view>
#include <vector>

namespace server {

class Router {
 public:
  // `pattern` like "/reviews/:product_id/list". A GET route also answers HEAD. Adding the same
  // method and pattern twice throws std::logic_error.
  void add(protocol::Method method, std::string_view pattern, Handler handler);

  enum class Outcome { Found, Preflight, NotFound, MethodNotAllowed };
  struct Match {
    Outcome outcome = Outcome::NotFound;
    const Handler* handler = nullptr;  // Found only
    RouteParams params;                // views into `path`
    std::string_view allow;            // Preflight, MethodNotAllowed: "GET, HEAD, OPTIONS"
    std::size_t route = 0;             // index of the matched pattern; route_count() if none
  };
  // `path` is the request path (no query). One trailing slash is tolerated ("/healthz/").
  // OPTIONS on a known path gives Preflight.
  [[nodiscard]] Match find(protocol::Method method, std::string_view path) const;

  // Patterns in the order they were first added (Match::route indexes them): metric labels.
  [[nodiscard]] std::size_t route_count() const noexcept { return routes_.size(); }
  [[nodiscard]] std::vector<std::string> route_patterns() const;

 private:
  struct Route {
    std::vector<std::string> segments;  // ":name" marks a parameter
    // The first segment when it is a literal ("reviews"), else empty: find() compares it with
    // the path's first segment before walking the pattern, so most routes cost one compare.
    std::string first;
    std::vector<std::pair<protocol::Method, Handler>> handlers;
    std::string allow;
  };
  [[nodiscard]] bool match(const Route& r, std::string_view path, RouteParams& params) const;

  std::vector<Route> routes_;
};

}  // namespace server
