#include "server/api.h"

#include "db/pg_pool.h"
#include "db/statements.h"
#include "protocol/etag.h"
#include "protocol/query.h"
#include "server/api_json.h"
#include "server/log.h"
#include "server/reactor.h"
#include "server/reactor_loop.h"
#include "server/review_input.h"

#include <charconv>
#include <memory>
#include <optional>
#include <string>

namespace server {

namespace {

// API.md §3: count defaults to 5 and is capped at 1000; page defaults to 1.
constexpr std::int32_t kDefaultCount = 5;
constexpr std::int32_t kMaxCount = 1000;
// Retry-After on 503: the pool reconnects within about a second, and a client retrying sooner
// would only add load while the database is struggling.
constexpr std::string_view kRetryAfterSeconds = "1";

// One per reactor, owned by the hooks and found through Reactor::user_data().
struct ApiContext {
  ApiContext(Reactor& reactor, db::PoolOptions opts) : loop(reactor), pool(loop, std::move(opts)) {}
  ReactorLoop loop;
  db::PgPool pool;
};

ApiContext* context(Reactor& reactor) { return static_cast<ApiContext*>(reactor.user_data()); }

std::string decimal(std::int64_t v) {
  char buf[24];
  const auto end = std::to_chars(buf, buf + sizeof buf, v).ptr;
  return {buf, static_cast<std::size_t>(end - buf)};
}

// product_id from the path (aliases like /reviews/:product_id/list) or else the query.
std::optional<std::int32_t> product_id(const RouteParams& params, const protocol::QueryString& q) {
  if (const auto raw = params.get("product_id"); !raw.empty()) {
    return protocol::parse_positive_int(protocol::percent_decode(raw));
  }
  const auto v = q.get("product_id");
  return v ? protocol::parse_positive_int(*v) : std::nullopt;
}

void invalid_product(Responder& res) { res.send_text(422, "Error: invalid product_id provided"); }

void unavailable(Responder& res) {
  res.send(503, kText, "Error: database unavailable", {{"Retry-After", kRetryAfterSeconds}});
}

// SQLSTATEs that mean "the database cannot answer this now", not "this request is wrong":
// serialization failures and conflicts with recovery on a replica (40), insufficient resources
// (53), cancellation, statement_timeout and shutdown (57), connection trouble (08), lock not
// available (55P03). The client gets 503 + Retry-After, as for an unreachable database.
bool transient(std::string_view sqlstate) {
  const auto cls = sqlstate.substr(0, 2);
  return cls == "40" || cls == "53" || cls == "57" || cls == "08" || sqlstate == "55P03";
}

// Answers the request when the query did not succeed; returns false then.
bool check_result(Responder& res, db::QueryResult& r, std::string_view route) {
  using S = db::QueryResult::Status;
  switch (r.status) {
    case S::Ok:
      return true;
    case S::Unavailable:
    case S::Timeout:
    case S::Overloaded:
      unavailable(res);
      return false;
    case S::Error:
      if (transient(r.sqlstate)) {
        unavailable(res);
        return false;
      }
      log_line("{}: query failed: {} ({})", route, r.error, r.sqlstate);
      res.send_text(500, "Error: internal error");
      return false;
  }
  return false;
}

// 200 with a strong ETag, or 304 when the client already has this representation.
void send_json(Responder& res, const std::string& body, const std::string& if_none_match) {
  const std::string etag = protocol::strong_etag(body);
  if (!if_none_match.empty() && protocol::etag_matches(if_none_match, etag)) {
    res.send(304, "", "", {{"ETag", etag}});
    return;
  }
  res.send(200, kJson, body, {{"ETag", etag}});
}

// The pool of the reactor this request runs on, or nullptr (and a 503) when serving without
// a database.
db::PgPool* pool_for(Responder& res) {
  ApiContext* ctx = context(res.reactor());
  if (!ctx) {
    unavailable(res);
    return nullptr;
  }
  return &ctx->pool;
}

void get_reviews(const protocol::Request& req, const RouteParams& params, Responder res) {
  const protocol::QueryString q(req.query);
  const auto pid = product_id(params, q);
  if (!pid) return invalid_product(res);
  std::int32_t count = kDefaultCount;
  if (const auto v = q.get("count"))
    count = protocol::parse_positive_int(*v).value_or(kDefaultCount);
  count = std::min(count, kMaxCount);
  std::int32_t page = 1;
  if (const auto v = q.get("page")) page = protocol::parse_positive_int(*v).value_or(1);
  const auto sort = q.get("sort");
  const auto stmt = sort == "newest"    ? db::sql::kReviewsNewest
                    : sort == "helpful" ? db::sql::kReviewsHelpful
                                        : db::sql::kReviewsRelevant;
  db::PgPool* pool = pool_for(res);
  if (!pool) return;
  const std::int32_t page0 = page - 1;
  pool->query(db::Route::Read, stmt, {decimal(*pid), decimal(count), decimal(page0)},
              [res = std::move(res), pid = *pid, page0, count,
               inm = std::string(req.header("If-None-Match"))](db::QueryResult& r) mutable {
                if (!check_result(res, r, "GET /reviews")) return;
                std::string body;
                api::append_reviews_body(body, pid, page0, count, r.result.get());
                send_json(res, body, inm);
              });
}

void get_meta(const protocol::Request& req, const RouteParams& params, Responder res) {
  const auto pid = product_id(params, protocol::QueryString(req.query));
  if (!pid) return invalid_product(res);
  db::PgPool* pool = pool_for(res);
  if (!pool) return;
  pool->query(db::Route::Read, db::sql::kMeta, {decimal(*pid)},
              [res = std::move(res), pid = *pid,
               inm = std::string(req.header("If-None-Match"))](db::QueryResult& r) mutable {
                if (!check_result(res, r, "GET /reviews/meta")) return;
                std::string body;
                api::append_meta_body(body, pid, r.result.get());
                send_json(res, body, inm);
              });
}

void get_related(const protocol::Request& req, const RouteParams& params, Responder res) {
  const auto pid = product_id(params, protocol::QueryString(req.query));
  if (!pid) return invalid_product(res);
  db::PgPool* pool = pool_for(res);
  if (!pool) return;
  pool->query(db::Route::Read, db::sql::kRelated, {decimal(*pid)},
              [res = std::move(res),
               inm = std::string(req.header("If-None-Match"))](db::QueryResult& r) mutable {
                if (!check_result(res, r, "GET /products/:id/related")) return;
                std::string body;
                api::append_related_body(body, r.result.get());
                send_json(res, body, inm);
              });
}

// PostgreSQL array literals for the insert's array parameters.
std::string text_array(const std::vector<std::string>& items) {
  std::string out = "{";
  for (const auto& item : items) {
    if (out.size() > 1) out += ',';
    out += '"';
    for (char c : item) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

template <class Pick>
std::string int_array(const std::vector<std::pair<std::int32_t, std::int32_t>>& pairs, Pick pick) {
  std::string out = "{";
  for (const auto& p : pairs) {
    if (out.size() > 1) out += ',';
    out += decimal(pick(p));
  }
  return out + "}";
}

// "application/json", with any parameters (charset=utf-8), case-insensitively.
bool is_json_content_type(std::string_view v) {
  v = v.substr(0, v.find(';'));
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return protocol::iequals(v, "application/json");
}

void post_review(const protocol::Request& req, const RouteParams&, Responder res) {
  if (!is_json_content_type(req.header("Content-Type"))) {
    return res.send_text(415, "Error: Content-Type must be application/json");
  }
  auto parsed = parse_new_review(req.body);
  if (auto* err = std::get_if<InputError>(&parsed)) return res.send_text(err->status, err->message);
  auto& review = std::get<NewReview>(parsed);
  db::PgPool* pool = pool_for(res);
  if (!pool) return;
  std::vector<std::string> params{
      decimal(review.product_id),
      decimal(review.rating),
      std::move(review.summary),
      std::move(review.body),
      review.recommend ? "true" : "false",
      std::move(review.name),
      std::move(review.email),
      text_array(review.photos),
      int_array(review.characteristics, [](const auto& p) { return p.first; }),
      int_array(review.characteristics, [](const auto& p) { return p.second; })};
  pool->query(db::Route::Write, db::sql::kInsertReview, std::move(params),
              [res = std::move(res)](db::QueryResult& r) mutable {
                if (!check_result(res, r, "POST /reviews")) return;
                if (PQntuples(r.result.get()) != 1 || PQgetisnull(r.result.get(), 0, 0)) {
                  return res.send_text(422, "Error: invalid characteristics provided");
                }
                res.send_text(201, "Created");
              });
}

// PUT /reviews/:review_id/helpful and /report.
void put_review(const RouteParams& params, Responder res, db::sql::Statement stmt) {
  const auto id = protocol::parse_positive_int(protocol::percent_decode(params.get("review_id")));
  if (!id) return res.send_text(422, "Error: invalid review_id provided");
  db::PgPool* pool = pool_for(res);
  if (!pool) return;
  pool->query(db::Route::Write, stmt, {decimal(*id)},
              [res = std::move(res)](db::QueryResult& r) mutable {
                if (!check_result(res, r, "PUT /reviews/:id")) return;
                if (PQntuples(r.result.get()) == 0)
                  return res.send_text(404, "Error: review not found");
                res.send(204, "", "");
              });
}

void put_helpful(const protocol::Request&, const RouteParams& params, Responder res) {
  put_review(params, std::move(res), db::sql::kMarkHelpful);
}

void put_report(const protocol::Request&, const RouteParams& params, Responder res) {
  put_review(params, std::move(res), db::sql::kReport);
}

void get_readyz(const protocol::Request&, const RouteParams&, Responder res) {
  const ApiContext* ctx = context(res.reactor());
  if (ctx && ctx->pool.primary_ready()) return res.send_text(200, "ready");
  unavailable(res);
}

}  // namespace

void add_api_routes(Router& router) {
  using protocol::Method;
  router.add(Method::Get, "/reviews", get_reviews);
  router.add(Method::Get, "/reviews/:product_id/list", get_reviews);
  router.add(Method::Get, "/reviews/meta", get_meta);
  router.add(Method::Get, "/reviews/:product_id/meta", get_meta);
  router.add(Method::Get, "/products/:product_id/related", get_related);
  router.add(Method::Post, "/reviews", post_review);
  router.add(Method::Put, "/reviews/:review_id/helpful", put_helpful);
  router.add(Method::Put, "/reviews/:review_id/report", put_report);
  router.add(Method::Get, "/readyz", get_readyz);
}

ReactorHooks api_reactor_hooks(const DbOptions& db) {
  ReactorHooks hooks;
  if (db.primary.empty()) return hooks;
  hooks.on_start = [&db](Reactor& reactor) {
    db::PoolOptions opts;
    opts.primary = db.primary;
    opts.replicas = db.replicas;
    opts.conns_per_server = db.conns_per_server;
    opts.deadline = db.deadline;
    opts.max_outstanding = db.max_outstanding;
    opts.pipeline = db.pipeline;
    opts.statements = db::sql::statements();
    reactor.set_user_data(new ApiContext(reactor, std::move(opts)));
  };
  hooks.on_stop = [](Reactor& reactor) {
    delete context(reactor);
    reactor.set_user_data(nullptr);
  };
  return hooks;
}

}  // namespace server
