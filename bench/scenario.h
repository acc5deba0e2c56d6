// Scenarios of `reviewsd-bench load`: which requests a run sends, in what proportions, with
// which ids. Each one mirrors a wrk script of bench/ so figures stay comparable:
//
//   custom   GET of one path template, "%d" (first occurrence) = an id uniform in [LO, HI]
//            (the original --path-template/--ids mode; no %d: always the same path)
//   random   ids uniform over the last 10% of products, [N - N/10, N] (read_vs_pgbench.sh,
//            random_product.lua); routes: GET /reviews?product_id=ID and/or
//            /reviews/meta?product_id=ID, half each for `both` (as mixed.lua's GETs)
//   hot      product_mix.lua `hot` on the 10,000 largest ids [max(1, N-9999), N]: 80% of
//            requests on every 5th id from the lowest (a fixed 20%), 20% on the others
//   repeat   product_mix.lua `repeat`: the 10 ids N-9..N, uniformly
//   list     GET /reviews?product_id=ID&count=C&sort=S, C in {5, 100, 1000} x S in {newest,
//            helpful, relevant} uniformly (9 combinations), ids as `random`
//   mixed    mixed.lua: 90% GET (45% /reviews, 45% /reviews/meta, ids as `random`), 5% PUT
//            /reviews/R/helpful, 1% PUT /reviews/R/report (R uniform in [1, M]), 4% POST
//            /reviews with a valid body (API.md) for one of the products of `post_products`,
//            with a rating for each of that product's characteristics
//
// Contract
// - A Scenario is immutable once built and shared read-only by the load threads; each thread
//   draws from its own RequestMix (its own seeded Rng), so a run is reproducible for a seed.
// - RequestMix::next() appends one complete HTTP/1.1 request (head, and body for POST) and
//   says what kind it is: the status it must get, and what --check-json verifies in a 200.
#pragma once

#include <bit>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bench {

// xoshiro256** seeded through splitmix64: fast, deterministic for a given seed.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) noexcept {
    for (auto& s : s_) {
      seed += 0x9e3779b97f4a7c15ULL;
      std::uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
      s = z ^ (z >> 31);
    }
  }
  std::uint64_t next() noexcept {
    const std::uint64_t result = std::rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = std::rotl(s_[3], 45);
    return result;
  }
  // Uniform in [lo, hi] (Lemire's multiply-shift; the bias is below 2^-40 for our spans).
  std::int64_t uniform(std::int64_t lo, std::int64_t hi) noexcept {
    const auto span = static_cast<unsigned __int128>(static_cast<std::uint64_t>(hi - lo) + 1);
    return lo + static_cast<std::int64_t>((next() * span) >> 64);
  }
  // Uniform in [0, 1).
  double unit() noexcept { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

 private:
  std::uint64_t s_[4];
};

enum class RequestKind : std::uint8_t { Get, Post, Helpful, Report };
inline constexpr int kRequestKinds = 4;
// "get", "post", "helpful", "report".
const char* request_kind_name(RequestKind kind) noexcept;
// What success is for the kind (API.md 4): 200, 201, 204, 204.
int expected_status(RequestKind kind) noexcept;

// What one request is, for the checks on its response.
struct RequestInfo {
  RequestKind kind = RequestKind::Get;
  // --check-json on a 200: when `field` is set, the body's top-level `field` must be the
  // string of `id` ("product" for /reviews, "product_id" for /reviews/meta).
  const char* field = nullptr;
  std::int64_t id = 0;
};

// A product that POSTs may target, with its characteristic ids (API.md: the keys of
// "characteristics" must be characteristics of this product).
struct PostProduct {
  std::int64_t id = 0;
  std::vector<std::int64_t> characteristic_ids;
};

enum class Route : std::uint8_t { Reviews, Meta, Both };

class Scenario {
 public:
  enum class Kind : std::uint8_t { Custom, Random, Hot, Repeat, List, Mixed };

  // The --path-template/--ids mode. `path_template` starts with '/'.
  static Scenario custom(std::string path_template, std::int64_t lo, std::int64_t hi);
  // A named scenario over products 1..products (reviews 1..reviews for `mixed`). `route`
  // applies to random/hot/repeat; nullopt: the scenario's default (random: both; hot, repeat:
  // reviews, as cache_vs_nginx.sh). Returns nullopt (and sets `error`) for an unknown name or
  // out-of-range sizes. `mixed` also needs set_post_products() before use.
  static std::optional<Scenario> named(std::string_view name, std::int64_t products,
                                       std::int64_t reviews, std::optional<Route> route,
                                       std::string& error);

  [[nodiscard]] Kind kind() const noexcept { return kind_; }
  // "custom", "random", "hot", "repeat", "list", "mixed".
  [[nodiscard]] const char* name() const noexcept;
  // The product ids the reads draw from, [lo, hi] (the hot set is inside it for `hot`).
  [[nodiscard]] std::int64_t id_lo() const noexcept { return lo_; }
  [[nodiscard]] std::int64_t id_hi() const noexcept { return hi_; }
  [[nodiscard]] std::int64_t reviews() const noexcept { return reviews_; }
  // For the human summary: e.g. "GET /reviews?product_id=ID, ID in [900, 1000]".
  [[nodiscard]] std::string describe() const;

  // `mixed`: the products POSTs go to, uniformly (fetch_post_products() finds them).
  void set_post_products(std::vector<PostProduct> products) {
    post_products_ = std::move(products);
  }
  [[nodiscard]] const std::vector<PostProduct>& post_products() const noexcept {
    return post_products_;
  }

 private:
  friend class RequestMix;
  Scenario() = default;

  Kind kind_ = Kind::Custom;
  Route route_ = Route::Reviews;
  std::string prefix_;  // custom: the template before %d
  std::string suffix_;  // custom: after it
  bool has_id_ = false;
  std::int64_t lo_ = 1;
  std::int64_t hi_ = 1;
  std::int64_t reviews_ = 0;
  std::int64_t nhot_ = 0;   // hot: ids lo, lo+5, lo+10, ...
  std::int64_t ncold_ = 0;  // hot: the four ids after each hot one
  std::vector<PostProduct> post_products_;
};

// One thread's stream of requests.
class RequestMix {
 public:
  RequestMix(const Scenario& scenario, std::uint64_t seed, std::string host_header);
  // Appends one whole request to `out`.
  RequestInfo next(std::string& out);
  // The product id a read picks (exposed for the distribution tests).
  std::int64_t pick_product();

 private:
  void append_get(std::string& out, std::string_view path_prefix, std::int64_t id,
                  std::string_view path_suffix);
  void append_post(std::string& out);

  const Scenario& s_;
  Rng rng_;
  std::string host_;
  std::string body_;  // POST body scratch, reused
};

// The body of a POST /reviews for `product`: valid per API.md (every required field, rating
// 1..5, one rating 1..5 per characteristic of the product, one photo URL).
std::string review_body(const PostProduct& product, Rng& rng);

// --check-json of a 200 GET body: parses as JSON and, when `info.field` is set, that top-level
// field is the string of info.id. Thread-safe (a parser per thread).
bool check_json_body(std::string_view body, const RequestInfo& info);

// Parses a /reviews/meta body into the product's characteristic ids (in the body's order).
// nullopt: not a meta body.
std::optional<std::vector<std::int64_t>> parse_meta_characteristics(std::string_view body);

}  // namespace bench
