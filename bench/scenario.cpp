#include "bench/scenario.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <charconv>
#include <iterator>

namespace bench {

const char* request_kind_name(RequestKind kind) noexcept {
  switch (kind) {
    case RequestKind::Get:
      return "get";
    case RequestKind::Post:
      return "post";
    case RequestKind::Helpful:
      return "helpful";
    case RequestKind::Report:
      return "report";
  }
  return "?";
}

int expected_status(RequestKind kind) noexcept {
  switch (kind) {
    case RequestKind::Get:
      return 200;
    case RequestKind::Post:
      return 201;
    case RequestKind::Helpful:
    case RequestKind::Report:
      return 204;
  }
  return 200;
}

namespace {

// The hot/repeat scenarios' product set, as cache_vs_nginx.sh passes it to product_mix.lua.
constexpr std::int64_t kHotProducts = 10'000;
constexpr std::int64_t kRepeatProducts = 10;
constexpr std::int64_t kListCounts[] = {5, 100, 1000};
constexpr const char* kListSorts[] = {"newest", "helpful", "relevant"};
// Product ids are int32 in the API; larger ones could only be a typo.
constexpr std::int64_t kMaxId = 2'147'483'647;

}  // namespace

Scenario Scenario::custom(std::string path_template, std::int64_t lo, std::int64_t hi) {
  Scenario s;
  s.kind_ = Kind::Custom;
  const auto pct = path_template.find("%d");
  s.prefix_ = path_template.substr(0, pct);
  if (pct != std::string::npos) {
    s.suffix_ = path_template.substr(pct + 2);
    s.has_id_ = true;
  }
  s.lo_ = lo;
  s.hi_ = hi;
  return s;
}

std::optional<Scenario> Scenario::named(std::string_view name, std::int64_t products,
                                        std::int64_t reviews, std::optional<Route> route,
                                        std::string& error) {
  Scenario s;
  if (name == "random") {
    s.kind_ = Kind::Random;
  } else if (name == "hot") {
    s.kind_ = Kind::Hot;
  } else if (name == "repeat") {
    s.kind_ = Kind::Repeat;
  } else if (name == "list") {
    s.kind_ = Kind::List;
  } else if (name == "mixed") {
    s.kind_ = Kind::Mixed;
  } else {
    error = fmt::format("unknown scenario '{}' (random, hot, repeat, list, mixed)", name);
    return std::nullopt;
  }
  if (products < 1 || products > kMaxId) {
    error = "--products: the largest product id, 1..2147483647, is required";
    return std::nullopt;
  }
  if (s.kind_ == Kind::Mixed && (reviews < 1 || reviews > kMaxId)) {
    error = "--reviews: the largest review id, 1..2147483647, is required for mixed";
    return std::nullopt;
  }
  if (route && s.kind_ != Kind::Random && s.kind_ != Kind::Hot && s.kind_ != Kind::Repeat) {
    error = "--route applies to random, hot and repeat only";
    return std::nullopt;
  }
  s.reviews_ = reviews;
  switch (s.kind_) {
    case Kind::Hot:
      s.lo_ = std::max<std::int64_t>(1, products - (kHotProducts - 1));
      s.hi_ = products;
      s.nhot_ = (s.hi_ - s.lo_ + 1 + 4) / 5;  // offsets 0, 5, 10, ... from lo
      s.ncold_ = s.hi_ - s.lo_ + 1 - s.nhot_;
      s.route_ = route.value_or(Route::Reviews);
      break;
    case Kind::Repeat:
      s.lo_ = std::max<std::int64_t>(1, products - (kRepeatProducts - 1));
      s.hi_ = products;
      s.route_ = route.value_or(Route::Reviews);
      break;
    default:  // the read issue's convention: the last 10% of products
      s.lo_ = products - products / 10;
      s.hi_ = products;
      s.route_ = route.value_or(Route::Both);
      break;
  }
  return s;
}

const char* Scenario::name() const noexcept {
  switch (kind_) {
    case Kind::Custom:
      return "custom";
    case Kind::Random:
      return "random";
    case Kind::Hot:
      return "hot";
    case Kind::Repeat:
      return "repeat";
    case Kind::List:
      return "list";
    case Kind::Mixed:
      return "mixed";
  }
  return "?";
}

std::string Scenario::describe() const {
  const char* routes = route_ == Route::Reviews ? "GET /reviews?product_id=ID"
                       : route_ == Route::Meta  ? "GET /reviews/meta?product_id=ID"
                                                : "GET /reviews or /reviews/meta ?product_id=ID";
  switch (kind_) {
    case Kind::Custom:
      return has_id_ ? fmt::format("custom: GET {}ID{}, ID uniform in [{}, {}]", prefix_, suffix_,
                                   lo_, hi_)
                     : fmt::format("custom: GET {}", prefix_);
    case Kind::Random:
      return fmt::format("random: {}, ID uniform in [{}, {}]", routes, lo_, hi_);
    case Kind::Hot:
      return fmt::format("hot: {}, 80% on every 5th ID of [{}, {}] ({} ids), 20% on the rest",
                         routes, lo_, hi_, nhot_);
    case Kind::Repeat:
      return fmt::format("repeat: {}, ID uniform in [{}, {}]", routes, lo_, hi_);
    case Kind::List:
      return fmt::format(
          "list: GET /reviews?product_id=ID&count={{5,100,1000}}&sort={{newest,helpful,"
          "relevant}}, ID uniform in [{}, {}]",
          lo_, hi_);
    case Kind::Mixed:
      return fmt::format(
          "mixed: 90% GET /reviews|/reviews/meta (ID in [{}, {}]), 5% PUT helpful, 1% PUT "
          "report (review in [1, {}]), 4% POST /reviews ({} products)",
          lo_, hi_, reviews_, post_products_.size());
  }
  return "?";
}

RequestMix::RequestMix(const Scenario& scenario, std::uint64_t seed, std::string host_header)
    : s_(scenario), rng_(seed), host_(std::move(host_header)) {}

std::int64_t RequestMix::pick_product() {
  switch (s_.kind_) {
    case Scenario::Kind::Hot: {
      // product_mix.lua's pick(), draw for draw.
      if (s_.ncold_ == 0 || rng_.unit() < 0.8) return s_.lo_ + 5 * rng_.uniform(0, s_.nhot_ - 1);
      const std::int64_t c = rng_.uniform(0, s_.ncold_ - 1);  // the c-th id not 0 mod 5
      return s_.lo_ + 5 * (c / 4) + 1 + c % 4;
    }
    case Scenario::Kind::Repeat:
      return s_.hi_ - rng_.uniform(0, s_.hi_ - s_.lo_);
    default:
      return rng_.uniform(s_.lo_, s_.hi_);
  }
}

void RequestMix::append_get(std::string& out, std::string_view path_prefix, std::int64_t id,
                            std::string_view path_suffix) {
  out.append("GET ").append(path_prefix);
  fmt::format_to(std::back_inserter(out), "{}", id);
  out.append(path_suffix).append(" HTTP/1.1\r\nHost: ").append(host_).append("\r\n\r\n");
}

RequestInfo RequestMix::next(std::string& out) {
  RequestInfo info;
  // Reads of one product on /reviews or /reviews/meta: the routes of random/hot/repeat/mixed.
  auto read = [&](bool meta) {
    const std::int64_t id = pick_product();
    append_get(out, meta ? "/reviews/meta?product_id=" : "/reviews?product_id=", id, "");
    info.field = meta ? "product_id" : "product";
    info.id = id;
  };
  switch (s_.kind_) {
    case Scenario::Kind::Custom:
      if (!s_.has_id_) {
        out.append("GET ").append(s_.prefix_).append(" HTTP/1.1\r\nHost: ").append(host_);
        out.append("\r\n\r\n");
      } else {
        append_get(out, s_.prefix_, rng_.uniform(s_.lo_, s_.hi_), s_.suffix_);
      }
      return info;
    case Scenario::Kind::Random:
    case Scenario::Kind::Hot:
    case Scenario::Kind::Repeat:
      read(s_.route_ == Route::Meta || (s_.route_ == Route::Both && (rng_.next() >> 63) != 0));
      return info;
    case Scenario::Kind::List: {
      const auto combo = static_cast<std::size_t>(rng_.uniform(0, 8));
      const std::int64_t id = pick_product();
      out.append("GET /reviews?product_id=");
      fmt::format_to(std::back_inserter(out), "{}&count={}&sort={} HTTP/1.1\r\nHost: ", id,
                     kListCounts[combo / 3], kListSorts[combo % 3]);
      out.append(host_).append("\r\n\r\n");
      info.field = "product";
      info.id = id;
      return info;
    }
    case Scenario::Kind::Mixed: {
      // mixed.lua: r = random(100); 1..90 GET (even: /reviews, odd: meta), 91..95 helpful,
      // 96 report, 97..100 POST.
      const std::int64_t r = rng_.uniform(1, 100);
      if (r <= 90) {
        read(r % 2 != 0);
        return info;
      }
      if (r <= 96) {
        info.kind = r <= 95 ? RequestKind::Helpful : RequestKind::Report;
        out.append("PUT /reviews/");
        fmt::format_to(std::back_inserter(out),
                       "{}/{} HTTP/1.1\r\nHost: ", rng_.uniform(1, s_.reviews_),
                       r <= 95 ? "helpful" : "report");
        out.append(host_).append("\r\nContent-Length: 0\r\n\r\n");
        return info;
      }
      info.kind = RequestKind::Post;
      append_post(out);
      return info;
    }
  }
  return info;
}

void RequestMix::append_post(std::string& out) {
  const auto& products = s_.post_products_;
  // Without the products' characteristics (never in practice: cmd_load fetches them), a body
  // without "characteristics" is still valid (API.md: absent = {}).
  PostProduct fallback;
  const PostProduct* p = &fallback;
  if (!products.empty()) {
    p = &products[static_cast<std::size_t>(
        rng_.uniform(0, static_cast<std::int64_t>(products.size()) - 1))];
  } else {
    fallback.id = rng_.uniform(s_.lo_, s_.hi_);
  }
  body_ = review_body(*p, rng_);
  out.append("POST /reviews HTTP/1.1\r\nHost: ").append(host_);
  fmt::format_to(std::back_inserter(out),
                 "\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n", body_.size());
  out.append(body_);
}

std::string review_body(const PostProduct& product, Rng& rng) {
  // mixed.lua's body, plus the characteristics the API accepts for the product.
  std::string body = fmt::format(
      R"({{"product_id":{},"rating":{},"summary":"bench","body":"A review written by the mixed )"
      R"(bench.","recommend":true,"name":"bench","email":"bench@example.com",)"
      R"("photos":["https://example.com/b.jpg"],"characteristics":{{)",
      product.id, rng.uniform(1, 5));
  bool first = true;
  for (const std::int64_t c : product.characteristic_ids) {
    fmt::format_to(std::back_inserter(body), R"({}"{}":{})", first ? "" : ",", c,
                   rng.uniform(1, 5));
    first = false;
  }
  body.append("}}");
  return body;
}

namespace {

simdjson::dom::parser& thread_parser() {
  thread_local simdjson::dom::parser parser;
  return parser;
}

bool is_id_string(std::string_view s, std::int64_t id) {
  char buf[24];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, id);
  return ec == std::errc{} && s == std::string_view(buf, static_cast<std::size_t>(end - buf));
}

}  // namespace

bool check_json_body(std::string_view body, const RequestInfo& info) {
  simdjson::dom::element doc;
  if (thread_parser().parse(body.data(), body.size(), true).get(doc) != simdjson::SUCCESS)
    return false;
  if (info.field == nullptr) return true;
  std::string_view value;
  if (doc[info.field].get(value) != simdjson::SUCCESS) return false;
  return is_id_string(value, info.id);
}

std::optional<std::vector<std::int64_t>> parse_meta_characteristics(std::string_view body) {
  simdjson::dom::object chars;
  if (thread_parser().parse(body.data(), body.size(), true)["characteristics"].get(chars) !=
      simdjson::SUCCESS)
    return std::nullopt;
  std::vector<std::int64_t> ids;
  for (const auto field : chars) {
    std::int64_t id = 0;
    if (field.value["id"].get(id) != simdjson::SUCCESS) return std::nullopt;
    ids.push_back(id);
  }
  return ids;
}

}  // namespace bench
