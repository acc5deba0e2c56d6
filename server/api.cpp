#include "server/api.h"

#include "cache/response_cache.h"
#include "db/pg_listener.h"
#include "db/pg_pool.h"
#include "db/statements.h"
#include "protocol/etag.h"
#include "protocol/gzip.h"
#include "protocol/query.h"
#include "server/api_json.h"
#include "server/log.h"
#include "server/metrics.h"
#include "server/reactor.h"
#include "server/reactor_loop.h"
#include "server/review_input.h"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <initializer_list>
#include <memory>
#include <mutex>
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

struct ApiContext;

// One per process: the response cache and what every reactor reads of the options.
struct ApiShared {
  ApiShared(const DbOptions& db, const CacheOptions& options)
      : db(db), options(options), cache(cache_options(options)) {}
  static cache::Options cache_options(const CacheOptions& o) {
    cache::Options c;
    c.max_bytes = o.max_bytes;
    c.ttl_ms = o.ttl.count();
    return c;
  }
  const DbOptions& db;
  const CacheOptions& options;
  cache::ResponseCache cache;
  // True while reactor 0's LISTEN is in effect. Until then (and after a loss, until the flush
  // of the reconnect) writes by others may go unseen, so /readyz says not ready.
  std::atomic<bool> listen_up{false};
  std::mutex contexts_mu;  // guards `contexts` (reactors come and go; scrapes read them)
  std::vector<ApiContext*> contexts;
};

// How often each reactor copies its pool statistics for GET /metrics.
constexpr std::chrono::milliseconds kPoolSnapshotInterval{1000};
// How often a reactor looks at its pool until the primary has been up once (for READY=1).
constexpr std::chrono::milliseconds kPrimaryWatchInterval{20};

// One per reactor, owned by the hooks and found through Reactor::user_data().
struct ApiContext {
  ApiContext(Reactor& reactor, db::PoolOptions opts, ApiShared& shared)
      : loop(reactor), pool(loop, std::move(opts)), shared(shared) {}
  ReactorLoop loop;
  db::PgPool pool;
  ApiShared& shared;
  std::unique_ptr<db::PgListener> listener;  // reactor 0 only: one LISTEN per process
  // A copy of the pool's statistics, refreshed once a second by the reactor (a pool is only
  // ever touched on its own thread) and read by scrapes: the mutex is never contended.
  mutable std::mutex snapshot_mu;
  db::PoolStats snapshot;
  bool listening = false;
  unsigned long listen_connects = 0;
  std::uint64_t snapshot_timer = 0;

  void take_snapshot() {
    const db::PoolStats st = pool.stats();
    std::lock_guard lock(snapshot_mu);
    snapshot = st;
    if (listener) {
      listening = listener->listening();
      listen_connects = listener->connects();
    }
  }
  void snapshot_every_second() {
    take_snapshot();
    snapshot_timer = loop.call_after(kPoolSnapshotInterval, [this] { snapshot_every_second(); });
  }

  // Set (on this reactor's thread, read by the main thread) once the pool's primary connection
  // has been up: until then the reactor looks every kPrimaryWatchInterval.
  std::atomic<bool> primary_was_up{false};
  void watch_primary_until_up() {
    if (pool.primary_ready()) return primary_was_up.store(true, std::memory_order_release);
    loop.call_after(kPrimaryWatchInterval, [this] { watch_primary_until_up(); });
  }
};

// For READY=1 (ReactorHooks::ready, on the main thread): what GET /readyz checks, on every
// reactor at once: the LISTEN connection is up and each reactor's pool has reached the primary.
bool all_reactors_ready(ApiShared& shared) {
  if (!shared.listen_up.load(std::memory_order_acquire)) return false;
  std::lock_guard lock(shared.contexts_mu);
  return !shared.contexts.empty() &&
         std::all_of(shared.contexts.begin(), shared.contexts.end(), [](const ApiContext* c) {
           return c->primary_was_up.load(std::memory_order_acquire);
         });
}

void collect_metrics(ApiShared& shared, std::string& out) {
  using db::PoolStats;
  const cache::Stats c = shared.cache.stats();
  struct Row {
    std::string_view name, type, help;
    std::uint64_t value;
  };
  const Row cache_rows[] = {
      {"reviewsd_cache_hits_total", "counter", "Responses served from the cache.", c.hits},
      {"reviewsd_cache_misses_total", "counter", "Lookups that led a database query.", c.misses},
      {"reviewsd_cache_coalesced_total", "counter",
       "Lookups that waited for a query already in flight (single flight).", c.coalesced},
      {"reviewsd_cache_stale_total", "counter",
       "Entries dropped when met: invalidated or past their TTL.", c.stale},
      {"reviewsd_cache_evictions_total", "counter", "Entries evicted to stay within --cache-mb.",
       c.evictions},
      {"reviewsd_cache_insertions_total", "counter", "Entries stored.", c.insertions},
      {"reviewsd_cache_rejected_total", "counter",
       "Results not stored: stale when done, or too large.", c.rejected},
      {"reviewsd_cache_invalidations_total", "counter",
       "Products invalidated (writes here, or NOTIFY from anywhere).", c.invalidations},
      {"reviewsd_cache_flushes_total", "counter",
       "Whole-cache invalidations (LISTEN (re)connected, bulk load).", c.invalidations_all},
      {"reviewsd_cache_entries", "gauge", "Entries held.", c.entries},
      {"reviewsd_cache_bytes", "gauge", "Bytes held, as charged to --cache-mb.", c.bytes},
  };
  for (const Row& r : cache_rows) append_metric(out, r.name, r.type, r.help, r.value);

  PoolStats sum;
  std::uint64_t listening = 0, listen_connects = 0, replicas_up = 0, replicas_total = 0;
  {
    std::lock_guard lock(shared.contexts_mu);
    bool first = true;
    for (const ApiContext* ctx : shared.contexts) {
      std::lock_guard snap(ctx->snapshot_mu);
      const PoolStats& p = ctx->snapshot;
      sum.queries += p.queries;
      sum.outstanding += p.outstanding;
      sum.errors += p.errors;
      sum.unavailable += p.unavailable;
      sum.timeouts += p.timeouts;
      sum.overloaded += p.overloaded;
      sum.retries += p.retries;
      sum.reconnects += p.reconnects;
      sum.connect_failures += p.connect_failures;
      sum.connections_up += p.connections_up;
      sum.connections_total += p.connections_total;
      sum.primary_up = sum.primary_up || p.primary_up;
      // Every reactor has its own connections to each replica: report the worst view.
      replicas_up = first ? p.replicas_up : std::min<std::uint64_t>(replicas_up, p.replicas_up);
      replicas_total = p.replicas_total;
      first = false;
      listening += ctx->listening;
      listen_connects += ctx->listen_connects;
    }
  }
  const Row db_rows[] = {
      {"reviewsd_db_queries_total", "counter",
       "Queries issued (refused ones included); refreshed every second.", sum.queries},
      {"reviewsd_db_queries_in_flight", "gauge", "Queries queued or in flight, all reactors.",
       sum.outstanding},
      {"reviewsd_db_errors_total", "counter", "Queries the server failed.", sum.errors},
      {"reviewsd_db_unavailable_total", "counter", "Queries no connection could run (503).",
       sum.unavailable},
      {"reviewsd_db_timeouts_total", "counter", "Queries past their deadline (503).", sum.timeouts},
      {"reviewsd_db_overloaded_total", "counter",
       "Queries refused at once: too many outstanding (503).", sum.overloaded},
      {"reviewsd_db_retries_total", "counter", "Reads retried after their connection was lost.",
       sum.retries},
      {"reviewsd_db_connections_up", "gauge", "Pool connections up and prepared.",
       sum.connections_up},
      {"reviewsd_db_connections", "gauge", "Pool connections configured.", sum.connections_total},
      {"reviewsd_db_reconnects_total", "counter", "Pool connections ready again after being lost.",
       sum.reconnects},
      {"reviewsd_db_connect_failures_total", "counter",
       "Pool connection attempts that failed (each is retried with backoff).",
       sum.connect_failures},
      {"reviewsd_db_replicas", "gauge", "Read replicas configured (--replica).", replicas_total},
      {"reviewsd_db_replicas_up", "gauge",
       "Replicas every reactor has a connection to (reads go there).", replicas_up},
      {"reviewsd_db_primary_up", "gauge", "1 while the primary answers.", sum.primary_up ? 1u : 0u},
      {"reviewsd_db_listen_up", "gauge", "1 while the LISTEN connection (cache coherence) is up.",
       listening},
      {"reviewsd_db_listen_connects_total", "counter",
       "Times LISTEN took effect (each one after the first flushed the cache).", listen_connects},
  };
  for (const Row& r : db_rows) append_metric(out, r.name, r.type, r.help, r.value);
}

ApiContext* context(Reactor& reactor) { return static_cast<ApiContext*>(reactor.user_data()); }

// Asks each reactor's pool, on its own thread, to reconnect to the primary now.
void retry_primary_everywhere(ApiShared& shared) {
  std::lock_guard lock(shared.contexts_mu);
  for (ApiContext* c : shared.contexts) {
    Reactor* r = &c->loop.reactor();
    // Looked up again when it runs: a context is only ever touched on its own reactor.
    r->post([r] {
      if (ApiContext* ctx = context(*r)) ctx->pool.retry_primary_now();
    });
  }
}

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

// --- cacheable reads -----------------------------------------------------------------------------
//
// A GET's answer is made once as a cache::CachedResponse (head lines and body, plus a gzip
// variant when worth it) and sent from there, whether it came from the cache or just from the
// database. Misses of one key share one query (single flight); see cache/README.md.

constexpr std::string_view kChannel = "reviewsd_invalidate";

void append_head(std::string& out, std::string_view etag, std::size_t length, bool gzip) {
  out += "Content-Type: ";
  out += kJson;
  out += "\r\nETag: ";
  out += etag;
  out += "\r\nVary: Accept-Encoding\r\n";
  if (gzip) out += "Content-Encoding: gzip\r\n";
  out += "Content-Length: ";
  out += decimal(static_cast<std::int64_t>(length));
  out += "\r\n\r\n";
}

// Adds the gzip variant when the body is large enough and actually shrinks. Its strong ETag
// differs from the plain one (RFC 9110 §8.8.3: one per representation).
void add_gzip(cache::CachedResponse& r) {
  if (r.body.size() < protocol::kGzipMinBytes) return;
  std::string gz = protocol::gzip_compress(r.body);
  if (gz.size() >= r.body.size()) return;
  r.gz_etag = r.etag;
  r.gz_etag.insert(r.gz_etag.size() - 1, "-gzip");
  append_head(r.gz_head, r.gz_etag, gz.size(), true);
  r.gz_body = std::move(gz);
}

cache::ResponsePtr make_response(std::string body, bool with_gzip) {
  auto r = std::make_shared<cache::CachedResponse>();
  r->etag = protocol::strong_etag(body);
  append_head(r->head, r->etag, body.size(), false);
  r->body = std::move(body);
  // Compressed when the first client to ask for it wants it, not for every miss: a client that
  // never sends Accept-Encoding (a benchmark, a backend service) does not pay for deflate.
  if (with_gzip) add_gzip(*r);
  return r;
}

// What the client asked for beyond the resource itself.
struct ClientPrefs {
  bool gzip = false;
  std::string if_none_match;
};

// 200 from `r`, or 304 when the client already has this representation.
void answer(Responder& res, bool gzip, std::string_view if_none_match, cache::ResponsePtr r) {
  if (!r) return unavailable(res);  // the query this request waited on failed
  const bool gz = gzip && r->has_gzip();
  const std::string& etag = gz ? r->gz_etag : r->etag;
  if (!if_none_match.empty() && protocol::etag_matches(if_none_match, etag)) {
    return res.send(304, "", "", {{"ETag", etag}, {"Vary", "Accept-Encoding"}});
  }
  res.send_cached(std::move(r), gz);
}
void answer(Responder& res, const ClientPrefs& prefs, cache::ResponsePtr r) {
  answer(res, prefs.gzip, prefs.if_none_match, std::move(r));
}

// A request waiting for a response: its own query's, or another request's (single flight),
// possibly finished on another reactor.
struct Waiting {
  Waiting(Responder r, ClientPrefs p)
      : res(std::move(r)), prefs(std::move(p)), home(&res.reactor()) {}
  ~Waiting() {
    // Destroyed elsewhere (a flight abandoned at shutdown): the connection is not ours to touch.
    if (!home->in_own_thread()) res.abandon();
  }
  Responder res;
  ClientPrefs prefs;
  Reactor* home;
};

// A query leading a flight. If its callback is destroyed without running (the pool destroyed at
// shutdown), the flight still ends, so no waiter is left hanging.
struct Flight {
  Flight(cache::ResponseCache& c, std::string k, std::int32_t p, std::uint64_t id, cache::Stamp s)
      : cache(&c), key(std::move(k)), product(p), id(id), stamp(s) {}
  Flight(Flight&& o) noexcept
      : cache(std::exchange(o.cache, nullptr)),
        key(std::move(o.key)),
        product(o.product),
        id(o.id),
        stamp(o.stamp) {}
  Flight& operator=(Flight&&) = delete;
  ~Flight() {
    if (cache) cache->complete(key, product, id, stamp, nullptr, 0);
  }
  void complete(cache::ResponsePtr r, std::int64_t now_ms) {
    if (auto* c = std::exchange(cache, nullptr))
      c->complete(key, product, id, stamp, std::move(r), now_ms);
  }
  cache::ResponseCache* cache;
  std::string key;
  std::int32_t product;
  std::uint64_t id;
  cache::Stamp stamp;
};

// One cacheable GET: its canonical key (parameters that do not change the answer are not part
// of it), its product, its query and how rows become the body.
struct Read {
  enum class Kind : std::uint8_t { Reviews, Meta, Related };
  Kind kind;
  std::int32_t product;
  std::int32_t page0 = 0, count = 0;  // Reviews
  db::sql::Statement stmt;
  std::string_view route;  // for logs
  std::string key;
};

std::string render(const Read& read, const PGresult* rows) {
  std::string body;
  switch (read.kind) {
    case Read::Kind::Reviews:
      api::append_reviews_body(body, read.product, read.page0, read.count, rows);
      break;
    case Read::Kind::Meta:
      api::append_meta_body(body, read.product, rows);
      break;
    case Read::Kind::Related:
      api::append_related_body(body, rows);
      break;
  }
  return body;
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

// Answers `read` from the cache, or joins the query already in flight for it, or runs it.
void serve_read(const protocol::Request& req, Responder res, Read read) {
  ApiContext* ctx = context(res.reactor());
  if (!ctx) return unavailable(res);
  ApiShared& shared = ctx->shared;
  const std::int64_t now = res.reactor().now_ms();
  const bool gzip = protocol::accepts_gzip(req.header("Accept-Encoding"));
  // The common case first, with nothing allocated: a fresh entry in the form the client takes.
  if (auto hit = shared.cache.find(read.key, read.product, now);
      hit && (!gzip || hit->has_gzip() || hit->body.size() < protocol::kGzipMinBytes)) {
    return answer(res, gzip, req.header("If-None-Match"), std::move(hit));
  }
  auto waiting = std::make_shared<Waiting>(
      std::move(res), ClientPrefs{gzip, std::string(req.header("If-None-Match"))});
  cache::ResponseCache::Waiter waiter = [waiting](cache::ResponsePtr r) {
    Reactor& home = *waiting->home;
    if (home.in_own_thread()) return answer(waiting->res, waiting->prefs, r);
    home.post([waiting, r = std::move(r)] { answer(waiting->res, waiting->prefs, r); });
  };
  auto found = shared.cache.lookup(read.key, read.product, now, waiter);
  using Kind = cache::ResponseCache::Lookup::Kind;
  if (found.kind == Kind::Wait) return;
  if (found.kind == Kind::Hit) {
    cache::ResponsePtr r = std::move(found.response);
    if (waiting->prefs.gzip && !r->has_gzip() && r->body.size() >= protocol::kGzipMinBytes) {
      // The entry was made for a client without gzip: add the variant once, for everyone.
      auto with_gzip = std::make_shared<cache::CachedResponse>(*r);
      add_gzip(*with_gzip);
      shared.cache.upgrade(read.key, r, with_gzip);
      r = std::move(with_gzip);
    }
    return answer(waiting->res, waiting->prefs, r);
  }
  // Lead. A product written within the read-your-writes window is read from the primary: a
  // replica may not have replayed the write yet, and its answer would be cached as current.
  const auto window = shared.options.read_your_writes.count();
  const bool recent = shared.cache.last_invalidated_ms(read.product) > now - window;
  const auto route = recent ? db::Route::Write : db::Route::Read;
  std::vector<std::string> params{decimal(read.product)};
  if (read.kind == Read::Kind::Reviews) {
    params.push_back(decimal(read.count));
    params.push_back(decimal(read.page0));
  }
  const auto stmt = read.stmt;
  Flight flight(shared.cache, read.key, read.product, found.flight, found.stamp);
  ctx->pool.query(route, stmt, std::move(params),
                  [ctx, waiting, flight = std::move(flight),
                   read = std::move(read)](db::QueryResult& r) mutable {
                    const std::int64_t done = ctx->loop.reactor().now_ms();
                    if (!check_result(waiting->res, r, read.route))
                      return flight.complete(nullptr, done);
                    cache::ResponsePtr response =
                        make_response(render(read, r.result.get()), waiting->prefs.gzip);
                    flight.complete(response, done);  // wakes the waiters, stores if still fresh
                    answer(waiting->res, waiting->prefs, response);
                  });
}

// `kind` then the numbers joined by '/': "m42", "rn42/0/5". Built in a stack buffer and
// assigned once (a key fits in the string's inline buffer: no allocation on a cache hit).
std::string cache_key(char kind, std::initializer_list<std::int64_t> numbers) {
  char buf[64];  // 1 + 3 x (20 digits + '/') fits
  char* p = buf;
  *p++ = kind;
  for (const std::int64_t n : numbers) {
    if (p != buf + 1) *p++ = '/';
    p = std::to_chars(p, buf + sizeof buf, n).ptr;
  }
  return {buf, static_cast<std::size_t>(p - buf)};
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
  char sort_code = 'r';
  auto stmt = db::sql::kReviewsRelevant;
  if (sort == "newest") {
    sort_code = 'n';
    stmt = db::sql::kReviewsNewest;
  } else if (sort == "helpful") {
    sort_code = 'h';
    stmt = db::sql::kReviewsHelpful;
  }
  Read read{Read::Kind::Reviews, *pid, page - 1, count, stmt, "GET /reviews", {}};
  // r<sort><product>/<page0>/<count>: "/reviews?product_id=007&count=5" and
  // "/reviews?count=5&product_id=7&unknown=1" are one entry.
  read.key = cache_key(sort_code, {*pid, read.page0, count});
  serve_read(req, std::move(res), std::move(read));
}

void get_meta(const protocol::Request& req, const RouteParams& params, Responder res) {
  const auto pid = product_id(params, protocol::QueryString(req.query));
  if (!pid) return invalid_product(res);
  serve_read(req, std::move(res),
             Read{Read::Kind::Meta, *pid, 0, 0, db::sql::kMeta, "GET /reviews/meta",
                  cache_key('m', {*pid})});
}

void get_related(const protocol::Request& req, const RouteParams& params, Responder res) {
  const auto pid = product_id(params, protocol::QueryString(req.query));
  if (!pid) return invalid_product(res);
  serve_read(req, std::move(res),
             Read{Read::Kind::Related, *pid, 0, 0, db::sql::kRelated, "GET /products/:id/related",
                  cache_key('p', {*pid})});
}

// A committed write to `product`: every cached answer about it is stale from now on.
void invalidate(Responder& res, std::int32_t product) {
  if (ApiContext* ctx = context(res.reactor()))
    ctx->shared.cache.invalidate(product, res.reactor().now_ms());
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
              [res = std::move(res), product = review.product_id](db::QueryResult& r) mutable {
                if (!check_result(res, r, "POST /reviews")) return;
                if (PQntuples(r.result.get()) != 1 || PQgetisnull(r.result.get(), 0, 0)) {
                  return res.send_text(422, "Error: invalid characteristics provided");
                }
                // Before the 201 leaves: the client's next GET must see its review.
                invalidate(res, product);
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
                // RETURNING product_id: the product whose cached answers just went stale.
                if (const auto pid = protocol::parse_positive_int(PQgetvalue(r.result.get(), 0, 0)))
                  invalidate(res, *pid);
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
  if (ctx && ctx->pool.primary_ready() && ctx->shared.listen_up.load(std::memory_order_acquire))
    return res.send_text(200, "ready");
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

ReactorHooks api_reactor_hooks(const DbOptions& db, const CacheOptions& cache) {
  ReactorHooks hooks;
  if (db.primary.empty()) return hooks;
  // Shared by every reactor; lives as long as the hooks (the whole run_server call).
  auto shared = std::make_shared<ApiShared>(db, cache);
  hooks.on_start = [shared](Reactor& reactor) {
    const DbOptions& db = shared->db;
    db::PoolOptions opts;
    opts.primary = db.primary;
    opts.replicas = db.replicas;
    opts.conns_per_server = db.conns_per_server;
    opts.deadline = db.deadline;
    opts.max_outstanding = db.max_outstanding;
    opts.pipeline = db.pipeline;
    opts.statements = db::sql::statements();
    auto ctx = std::make_unique<ApiContext>(reactor, std::move(opts), *shared);
    if (reactor.index() == 0) {
      // Writes by other instances (or by anyone, with psql) reach the cache through NOTIFY.
      cache::ResponseCache* c = &shared->cache;
      Reactor* r = &reactor;
      ctx->listener = std::make_unique<db::PgListener>(
          ctx->loop, db.primary, std::string(kChannel),
          db::PgListener::Callbacks{
              [c, r](std::string_view payload) {
                const auto pid = protocol::parse_positive_int(payload);
                if (pid) return c->invalidate(*pid, r->now_ms());
                c->invalidate_all();  // '*' (TRUNCATE, a bulk load) or anything unexpected
              },
              // Notifications sent while the connection was down are lost: forget everything.
              // The primary answers again, so every reactor's pool may stop waiting out its
              // backoff (up to 5 s): reads, writes and READY=1 resume within LISTEN's own
              // backoff (at most 1 s) of the database's return.
              [c, sh = shared.get()] {
                c->invalidate_all();
                sh->listen_up.store(true, std::memory_order_release);
                retry_primary_everywhere(*sh);
              },
              [sh = shared.get()] { sh->listen_up.store(false, std::memory_order_release); }});
    }
    ctx->snapshot_every_second();
    ctx->watch_primary_until_up();
    {
      std::lock_guard lock(shared->contexts_mu);
      shared->contexts.push_back(ctx.get());
    }
    reactor.set_user_data(ctx.release());
  };
  hooks.on_stop = [shared](Reactor& reactor) {
    ApiContext* ctx = context(reactor);
    {
      std::lock_guard lock(shared->contexts_mu);
      std::erase(shared->contexts, ctx);
    }
    delete ctx;
    reactor.set_user_data(nullptr);
  };
  // READY=1 once the database answered, as /readyz would say on every reactor. run_server asks
  // only after every reactor listens, so every reactor's context is registered by then.
  hooks.ready = [shared] { return all_reactors_ready(*shared); };
  hooks.on_metrics = [shared](Metrics& metrics) {
    metrics.add_collector([shared](std::string& out) { collect_metrics(*shared, out); });
  };
  return hooks;
}

}  // namespace server
