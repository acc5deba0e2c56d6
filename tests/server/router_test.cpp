#include "server/router.h"

#include <catch2/catch.hpp>

using protocol::Method;
using server::Router;

namespace {
server::Handler noop() {
  return [](const protocol::Request&, const server::RouteParams&, server::Responder) {};
}
}  // namespace

TEST_CASE("routes match exact paths with :params and a tolerated trailing slash",
          "[server][router]") {
  Router r;
  r.add(Method::Get, "/reviews", noop());
  r.add(Method::Post, "/reviews", noop());
  r.add(Method::Get, "/reviews/meta", noop());
  r.add(Method::Get, "/reviews/:product_id/list", noop());
  r.add(Method::Put, "/reviews/:review_id/helpful", noop());
  r.add(Method::Get, "/", noop());

  CHECK(r.find(Method::Get, "/reviews").outcome == Router::Outcome::Found);
  CHECK(r.find(Method::Get, "/reviews/").outcome == Router::Outcome::Found);
  CHECK(r.find(Method::Get, "/reviews/meta/").outcome == Router::Outcome::Found);
  CHECK(r.find(Method::Get, "/").outcome == Router::Outcome::Found);
  const auto m = r.find(Method::Get, "/reviews/42/list");
  REQUIRE(m.outcome == Router::Outcome::Found);
  CHECK(m.params.get("product_id") == "42");
  CHECK(r.find(Method::Put, "/reviews/7/helpful/").params.get("review_id") == "7");

  CHECK(r.find(Method::Get, "/reviews//list").outcome == Router::Outcome::NotFound);
  CHECK(r.find(Method::Get, "/reviews/42/list/x").outcome == Router::Outcome::NotFound);
  CHECK(r.find(Method::Get, "/review").outcome == Router::Outcome::NotFound);
  CHECK(r.find(Method::Get, "/reviews//").outcome == Router::Outcome::NotFound);
  CHECK(r.find(Method::Get, "").outcome == Router::Outcome::NotFound);
  CHECK(r.find(Method::Get, "*").outcome == Router::Outcome::NotFound);
}

TEST_CASE("HEAD follows GET, OPTIONS is a preflight, others get 405 with Allow",
          "[server][router]") {
  Router r;
  r.add(Method::Get, "/reviews", noop());
  r.add(Method::Post, "/reviews", noop());
  r.add(Method::Put, "/reviews/:id/report", noop());
  CHECK(r.find(Method::Head, "/reviews").outcome == Router::Outcome::Found);
  const auto pre = r.find(Method::Options, "/reviews");
  CHECK(pre.outcome == Router::Outcome::Preflight);
  CHECK(pre.allow == "GET, HEAD, POST, OPTIONS");
  const auto bad = r.find(Method::Delete, "/reviews");
  CHECK(bad.outcome == Router::Outcome::MethodNotAllowed);
  CHECK(bad.allow == "GET, HEAD, POST, OPTIONS");
  CHECK(r.find(Method::Get, "/reviews/1/report").allow == "PUT, OPTIONS");
  CHECK(r.find(Method::Head, "/reviews/1/report").outcome == Router::Outcome::MethodNotAllowed);
  CHECK_THROWS(r.add(Method::Get, "/reviews/", noop()));
}

TEST_CASE("a route starting with a parameter is tried for every first segment; indexes hold",
          "[server][router]") {
  Router r;
  r.add(Method::Get, "/products/:id/related", noop());
  r.add(Method::Get, "/:tenant/reviews", noop());
  r.add(Method::Get, "/reviews/meta", noop());
  r.add(Method::Get, "/", noop());
  const auto t = r.find(Method::Get, "/acme/reviews");
  REQUIRE(t.outcome == Router::Outcome::Found);
  CHECK(t.params.get("tenant") == "acme");
  CHECK(t.route == 1);
  // "products" as a tenant: the literal route is skipped by its first segment, not by luck.
  CHECK(r.find(Method::Get, "/products/reviews").params.get("tenant") == "products");
  CHECK(r.find(Method::Get, "/products/9/related").route == 0);
  CHECK(r.find(Method::Get, "/reviews/meta/").route == 2);
  CHECK(r.find(Method::Get, "/").route == 3);
  CHECK(r.find(Method::Get, "/meta").outcome == Router::Outcome::NotFound);
  CHECK(r.find(Method::Get, "/meta").route == r.route_count());
  CHECK(r.find(Method::Get, "reviews/meta").outcome == Router::Outcome::NotFound);
}
