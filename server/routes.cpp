#include "server/routes.h"

#include "protocol/json_writer.h"
#include "protocol/query.h"
#include "server/metrics.h"
#include "server/reactor.h"

#include <memory>
#include <string>

namespace server {

const std::string& bench_fixed_body() {
  // A review-list-shaped document of exactly 1536 bytes.
  static const std::string body = [] {
    std::string out;
    protocol::JsonWriter w(out);
    w.begin_object()
        .key("product")
        .value("2")
        .key("page")
        .value(0)
        .key("count")
        .value(5)
        .key("results")
        .begin_array();
    for (int i = 0; i < 5; ++i) {
      w.begin_object()
          .key("review_id")
          .value(1000 + i)
          .key("rating")
          .value(1 + i)
          .key("summary")
          .value("They look good on me")
          .key("recommend")
          .value(i % 2 == 0)
          .key("response")
          .null()
          .key("body")
          .value("I so stylish and just my aesthetic. Fits well, looks great.")
          .key("date")
          .value("2020-07-01T18:34:45.253Z")
          .key("reviewer_name")
          .value("fashionperson")
          .key("helpfulness")
          .value(i)
          .key("photos")
          .begin_array()
          .end_array()
          .end_object();
    }
    w.end_array().key("pad").value("");
    w.end_object();
    // Pad the last string to reach 1536 bytes exactly.
    if (out.size() < 1536) out.insert(out.size() - 2, 1536 - out.size(), 'x');
    return out;
  }();
  return body;
}

void add_engine_routes(Router& router, const ServeOptions& options) {
  using protocol::Method;
  router.add(Method::Get, "/healthz",
             [](const protocol::Request&, const RouteParams&, Responder res) {
               res.send(200, kText, "ok");
             });
  router.add(Method::Get, "/bench/fixed",
             [](const protocol::Request&, const RouteParams&, Responder res) {
               res.send(200, kJson, bench_fixed_body());
             });
  if (Metrics* metrics = options.metrics.get()) {
    router.add(Method::Get, "/metrics",
               [metrics](const protocol::Request&, const RouteParams&, Responder res) {
                 res.send(200, "text/plain; version=0.0.4; charset=utf-8", metrics->render());
               });
  }
  if (!options.debug_routes) return;
  router.add(Method::Get, "/debug/delay",
             [](const protocol::Request& req, const RouteParams&, Responder res) {
               const auto ms = protocol::parse_positive_int(
                   protocol::QueryString(req.query).get("ms").value_or("1"));
               if (!ms || *ms > 10'000) return res.send_text(422, "Error: invalid ms provided");
               // std::function needs a copyable callable; the Responder is move-only, so it rides
               // in a shared_ptr. Production code (db/) keeps Responders in its own queues instead.
               auto held = std::make_shared<Responder>(std::move(res));
               held->reactor().call_after(*ms, [held] { held->send(200, kText, "delayed"); });
             });
}

}  // namespace server
