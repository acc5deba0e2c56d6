// `reviewsd gen`: a synthetic data set in the byte form of the original Atelier export.
//
// Two phases. The plan (one thread, small arrays) decides every count: characteristics per
// product, reviews per product, photos per review, related rows per product. Each is drawn from a
// skewed distribution and then nudged so the totals are exactly the scaled row counts of API.md
// §1 (characteristic_reviews too, by moving single reviews between products whose characteristic
// counts differ). The write phase then streams the five files, reviews.csv on the calling thread
// and the four others on a second thread. Each file draws from its own PRNG stream and a review's
// rating is a pure hash of its id (both threads need it), so the bytes depend only on
// (scale, seed, options), never on timing.
//
// Randomness is splitmix64 with integer range reduction; the distributions are explicit tables
// built with + - * / only, so no implementation-defined std:: distribution or libm call is
// involved.
#include "db/gen.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include "db/progress.h"

namespace db {

namespace {

// ---------------------------------------------------------------------------------------------
// Row counts of the original data set (API.md §1).
constexpr double kProducts1 = 1'000'011;
constexpr double kReviews1 = 5'774'952;
constexpr double kPhotos1 = 2'742'540;
constexpr double kCharacteristics1 = 3'347'679;
constexpr double kCharReviews1 = 19'327'575;
constexpr double kRelated1 = 4'508'263;

constexpr std::int64_t kDateMin = 1'577'836'800'000;  // 2020-01-01T00:00:00Z
constexpr std::int64_t kDateMax = 1'622'505'600'000;  // 2021-06-01T00:00:00Z

// ---------------------------------------------------------------------------------------------
// PRNG: splitmix64.
constexpr std::uint64_t kGolden = 0x9E3779B97F4A7C15ull;

constexpr std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

class Rng {
 public:
  Rng(std::uint64_t seed, std::uint64_t stream)
      : s_(mix64(mix64(seed ^ 0x52455649455753ull) + stream * kGolden)) {}
  std::uint64_t next() {
    s_ += kGolden;
    return mix64(s_);
  }
  // Uniform in [0, n), n < 2^32 (multiply-shift; the tiny bias does not matter here).
  std::uint32_t below(std::uint32_t n) {
    return static_cast<std::uint32_t>(((next() >> 32) * n) >> 32);
  }
  std::uint64_t below64(std::uint64_t n) { return next() % n; }
  // Uniform in [lo, hi].
  std::uint32_t range(std::uint32_t lo, std::uint32_t hi) { return lo + below(hi - lo + 1); }
  // Uniform double in [0, 1).
  double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  bool chance(double p) { return unit() < p; }

 private:
  std::uint64_t s_;
};

// Stream ids (each file / plan step has its own).
enum Stream : std::uint64_t {
  kStreamCharPlan = 1,
  kStreamReviewPlan,
  kStreamMovePlan,
  kStreamPhotoPlan,
  kStreamRelatedPlan,
  kStreamReviews,
  kStreamPhotos,
  kStreamCharReviews,
  kStreamRelated,
  kStreamUrlPool,
  kStreamRating,
};

// A discrete distribution over 0..n-1 given by weights (cumulative, searched by binary search).
class Table {
 public:
  explicit Table(std::vector<double> weights) {
    double sum = 0;
    for (double w : weights) sum += w;
    double acc = 0;
    cdf_.reserve(weights.size());
    for (double w : weights) {
      acc += w / sum;
      cdf_.push_back(acc);
    }
    cdf_.back() = 2.0;  // anything below 1 lands somewhere
    mean_ = 0;
    for (std::size_t i = 0; i < weights.size(); ++i)
      mean_ += static_cast<double>(i) * weights[i] / sum;
  }
  std::uint32_t sample(Rng& rng) const {
    const double u = rng.unit();
    return static_cast<std::uint32_t>(std::upper_bound(cdf_.begin(), cdf_.end(), u) - cdf_.begin());
  }
  double mean() const { return mean_; }

 private:
  std::vector<double> cdf_;
  double mean_;
};

// ---------------------------------------------------------------------------------------------
// Characteristic sets. Names in the original's order within a product.
constexpr std::string_view kCharNames[] = {"Fit", "Length", "Comfort", "Quality", "Size", "Width"};
enum : std::uint8_t { kFit, kLength, kComfort, kQuality, kSize, kWidth };

struct CharTemplate {
  std::uint8_t size;
  std::array<std::uint8_t, 6> names;
  double weight;
};

constexpr CharTemplate kTemplates[] = {
    {4, {kFit, kLength, kComfort, kQuality}, 0.42},                 // 0: clothes
    {4, {kSize, kWidth, kComfort, kQuality}, 0.25},                 // 1: shoes
    {1, {kQuality}, 0.12},                                          // 2: accessories
    {0, {}, 0.03},                                                  // 3: none
    {3, {kFit, kLength, kQuality}, 0.06},                           // 4
    {2, {kComfort, kQuality}, 0.04},                                // 5
    {2, {kSize, kQuality}, 0.04},                                   // 6
    {5, {kFit, kLength, kComfort, kQuality, kWidth}, 0.03},         // 7
    {6, {kFit, kLength, kComfort, kQuality, kSize, kWidth}, 0.01},  // 8
};
// The template used when a product's set must grow or shrink to size s.
constexpr std::uint8_t kTemplateOfSize[7] = {3, 2, 5, 4, 0, 7, 8};

// ---------------------------------------------------------------------------------------------
// Text material.
constexpr std::string_view kLorem =
    "alias consequatur aut perferendis sit voluptatem accusantium doloremque aperiam eaque ipsa "
    "quae ab illo inventore veritatis et quasi architecto beatae vitae dicta sunt explicabo "
    "aspernatur aut odit aut fugit sed quia consequuntur magni dolores eos qui ratione voluptatem "
    "sequi nesciunt neque dolorem ipsum quia dolor sit amet consectetur adipisci velit sed quia "
    "non "
    "numquam eius modi tempora incidunt ut labore et dolore magnam aliquam quaerat voluptatem ut "
    "enim ad minima veniam quis nostrum exercitationem ullam corporis nemo enim ipsam voluptatem "
    "quia voluptas sit suscipit laboriosam nisi ut aliquid ex ea commodi consequatur quis autem "
    "vel "
    "eum iure reprehenderit qui in ea voluptate velit esse quam nihil molestiae et iusto odio "
    "dignissimos ducimus qui blanditiis praesentium laudantium totam rem voluptatum deleniti atque "
    "corrupti quos dolores et quas molestias excepturi sint occaecati cupiditate non provident sed "
    "ut perspiciatis unde omnis iste natus error similique sunt in culpa qui officia deserunt "
    "mollitia animi id est laborum et dolorum fuga et harum quidem rerum facilis est et expedita "
    "distinctio nam libero tempore cum soluta nobis est eligendi optio cumque nihil impedit quo "
    "porro quisquam est qui minus id quod maxime placeat facere possimus omnis voluptas assumenda "
    "est omnis dolor repellendus temporibus autem quibusdam et aut consequatur vel illum qui "
    "dolorem eum fugiat quo voluptas nulla pariatur at vero eos et accusamus officiis debitis aut "
    "rerum necessitatibus saepe eveniet ut et voluptates repudiandae sint et molestiae non "
    "recusandae itaque earum rerum hic tenetur a sapiente delectus ut aut reiciendis voluptatibus "
    "maiores doloribus asperiores repellat";

// Review sentences in the style of the original's hand-written rows (commas, apostrophes, runs
// of spaces).
constexpr std::string_view kEnglishSentences[] = {
    "This product was great!",
    "I really like these pants.",
    "Best fit ever!",
    "A little tight on the waist.",
    "They run a bit small, so order a size up.",
    "Comfortable and practical.",
    "The color is exactly as pictured.",
    "Shipping was fast, and the packaging was nice.",
    "They're fine but I wouldn't buy again.",
    "My wife loves it, my kids love it, even the dog loves it.",
    "Would recommend to a friend.",
    "Great quality for the price.",
    "The material feels a bit cheap.",
    "I've worn them every day for a month.",
    "Fits true to size.",
    "I didn't buy the shoes but I don't like the man behind them.",
    "The stitching came loose after two washes.",
    "I mortgaged my house to pay for these.",
    "They are very dark.  But that's good because I'm in very sunny spots.",
    "I really did or did not like this product based on whether it was sustainably sourced.",
    "Now I can get to stomping!",
    "I like them but they run wide.",
    "Not worth the money, honestly.",
    "The fabric is soft, breathable, and warm.",
    "Runs large; I'm usually a medium, and the small fits.",
    "Five stars.",
    "Meh.",
    "It arrived two weeks late, but it was worth the wait.",
    "The zipper broke on day one.",
    "Washes well, no shrinking.",
    "I get compliments every time I wear it.",
    "Wish it came in more colors.",
    "I so stylish and just my aesthetic.",
};

// Rarer sentences with double quotes (escaped as "" in the file) or non-ASCII UTF-8.
constexpr std::string_view kSpecialSentences[] = {
    "The tag says \"one size fits all\", it does not.",
    "My friends call them my \"lucky\" shoes.",
    "The 32\" inseam is perfect for me.",
    "Customer service said \"no refunds\", so be careful.",
    "Perfect for the caf\xC3\xA9 around the corner.",
    "It\xE2\x80\x99s my favorite jacket now.",
    "Love it \xF0\x9F\x98\x8D",
    "Tr\xC3\xA8s chic!",
    "10/10 would buy again \xF0\x9F\x91\x8D",
    "Na\xC3\xAFve me thought it would fit.",
    "Die Gr\xC3\xB6\xC3\x9F"
    "e passt perfekt.",
    "\xC2\xA1Me encanta!",
};

constexpr std::string_view kEnglishSummaries[] = {
    "This product was great!",
    "This product was ok!",
    "I am liking these glasses",
    "They look good on me",
    "I'm enjoying wearing these shades",
    "I'm not a fan!",
    "These pants are fine",
    "These pants are great!",
    "Great shoes!",
    "They're heavy but great",
    "Ye is good at everything",
    "Love them, love them, love them",
    "\"Perfect\" is an understatement",
    "Not what I expected",
    "Runs small, order a size up",
    "Tr\xC3\xA8s bien \xF0\x9F\x91\x8C",
    "It\xE2\x80\x99s okay I guess",
    "Would buy again",
    "Worst purchase ever",
    "Solid, comfortable, good value",
};

constexpr std::string_view kResponses[] = {
    "Glad you're enjoying the product!",
    "Sorry to hear. Is there anything in particular you don't like?",
    "Thank you for your feedback!",
    "We're sorry it didn't fit, please contact support for an exchange.",
    "Thanks, we passed your \"lucky shoes\" story on to the team!",
};

constexpr std::string_view kFirstNames[] = {
    "Steve",   "Makenna", "Nick",       "Nora",    "Alvah",    "Oral",    "Laverne", "Charles",
    "Viviane", "Javier",  "Tevin",      "Cierra",  "Jonathon", "Katrina", "Lourdes", "Dock",
    "Ludwig",  "Pierce",  "Fred",       "Camron",  "Tia",      "Will",    "Lacey",   "Prudence",
    "Gwen",    "Aletha",  "Pansy",      "Gerardo", "Lawson",   "Maritza", "Keanu",   "Bette",
    "Joaquin", "Dejah",   "Kristoffer", "Delbert", "Marquise", "Vance",   "Amira",   "Bruno",
    "Chloe",   "Dmitri",  "Elena",      "Farah",   "Gustavo",  "Hana",    "Igor",    "Jada",
    "Kenji",   "Lucia",   "Mateo",      "Nadia",   "Omar",     "Priya",   "Quinn",   "Rosa",
    "Sven",    "Tomas",   "Uma",        "Yusuf",
};

constexpr std::string_view kLastNames[] = {
    "Witting",   "Kulas",       "Hintz",     "Abshire", "Murray",    "Schmitt",   "Feil",
    "Price",     "Breitenberg", "Davis",     "Stroman", "Pouros",    "Marvin",    "Reilly",
    "Buckridge", "Ankunding",   "Stracke",   "Ritchie", "Schmeler",  "Mohr",      "Hirthe",
    "Beer",      "Kuhn",        "Larson",    "Okuneva", "Bashirian", "Gleichner", "Hackett",
    "Jast",      "Kemmer",      "Lind",      "Mante",   "Nader",     "Orn",       "Pfannerstill",
    "Quigley",   "Rath",        "Sauer",     "Torphy",  "Upton",     "Veum",      "Waelchi",
    "Yost",      "Zieme",       "Bergstrom", "Conroy",  "Dach",      "Emard",
};

constexpr std::string_view kHandleWords[] = {
    "fun",    "time",  "my",    "main",  "stream", "mother",   "big",   "brother", "fashion",
    "person", "short", "sweet", "shop",  "addict", "figuring", "it",    "out",     "thin",
    "foot",   "jim",   "ye",    "crazy", "happy",  "camper",   "style", "guru",    "sneaker",
    "head",   "cozy",  "cat",   "lover", "night",  "owl",      "urban", "hiker",   "coffee",
};

constexpr std::string_view kEmailDomains[] = {"gmail.com", "yahoo.com", "hotmail.com"};

constexpr std::uint32_t kPhotoWidths[] = {668, 975,  1650, 1567, 1652, 2775, 3028, 662, 1536,
                                          962, 1651, 2384, 666,  988,  1526, 1563, 1000};

template <typename T, std::size_t N>
constexpr std::uint32_t count_of(const T (&)[N]) {
  return static_cast<std::uint32_t>(N);
}

std::vector<std::string_view> split_words(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    const std::size_t j = s.find(' ', i);
    const std::size_t end = j == std::string_view::npos ? s.size() : j;
    if (end > i) out.push_back(s.substr(i, end - i));
    i = end + 1;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Buffered file output; every failure names the path.
class OutFile {
 public:
  static constexpr std::size_t kCap = 1u << 20;

  explicit OutFile(std::filesystem::path path) : path_(std::move(path)), buf_(new char[kCap]) {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) fail("cannot create");
  }
  ~OutFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  OutFile(const OutFile&) = delete;
  OutFile& operator=(const OutFile&) = delete;

  // Makes room for n more bytes.
  void need(std::size_t n) {
    if (len_ + n > kCap) flush();
  }
  void ch(char c) {
    need(1);
    buf_[len_++] = c;
  }
  void raw(std::string_view s) {
    need(s.size());
    std::memcpy(buf_.get() + len_, s.data(), s.size());
    len_ += s.size();
  }
  void num(std::uint64_t v) {
    need(24);
    auto r = std::to_chars(buf_.get() + len_, buf_.get() + len_ + 24, v);
    len_ = static_cast<std::size_t>(r.ptr - buf_.get());
  }
  // num + ','
  void numc(std::uint64_t v) {
    num(v);
    buf_[len_++] = ',';
  }
  // A double-quoted text field, `"` doubled.
  void quoted(std::string_view s) {
    if (2 * s.size() + 2 > kCap) throw std::logic_error("gen: field too long");
    need(2 * s.size() + 2);
    char* p = buf_.get() + len_;
    *p++ = '"';
    const char* q = s.data();
    const char* end = q + s.size();
    while (q < end) {
      const void* hit = std::memchr(q, '"', static_cast<std::size_t>(end - q));
      const char* stop = hit ? static_cast<const char*>(hit) + 1 : end;
      std::memcpy(p, q, static_cast<std::size_t>(stop - q));
      p += stop - q;
      if (hit) *p++ = '"';
      q = stop;
    }
    *p++ = '"';
    len_ = static_cast<std::size_t>(p - buf_.get());
  }
  void flush() {
    std::size_t off = 0;
    while (off < len_) {
      const ssize_t w = ::write(fd_, buf_.get() + off, len_ - off);
      if (w < 0) {
        if (errno == EINTR) continue;
        fail("write failed");
      }
      if (w == 0) {
        errno = EIO;
        fail("write failed");
      }
      off += static_cast<std::size_t>(w);
    }
    written_ += len_;
    len_ = 0;
  }
  void close() {
    flush();
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) fail("close failed");
  }
  std::uint64_t bytes() const { return written_ + len_; }

 private:
  [[noreturn]] void fail(const char* what) const {
    const int e = errno;
    throw std::runtime_error(path_.string() + ": " + what + ": " +
                             std::error_code(e, std::generic_category()).message());
  }
  std::filesystem::path path_;
  std::unique_ptr<char[]> buf_;
  std::size_t len_ = 0;
  std::uint64_t written_ = 0;
  int fd_ = -1;
};

// ---------------------------------------------------------------------------------------------
// The plan: every count, decided up front.
struct Plan {
  std::uint32_t products = 0;
  std::vector<std::uint8_t> tmpl;      // per product: index into kTemplates
  std::vector<std::uint32_t> reviews;  // per product: number of reviews
  std::vector<std::uint8_t> photos;    // per review (index id-1): number of photos
  std::vector<std::uint8_t> related;   // per product: number of related rows
  std::uint64_t n_reviews = 0, n_photos = 0, n_chars = 0, n_char_reviews = 0, n_related = 0;
};

std::uint64_t scaled(double count1, std::uint32_t products) {
  return static_cast<std::uint64_t>(std::llround(count1 * products / kProducts1));
}

// Nudges counts[i] (each within [0, hi]) by ±1 at random positions until they sum to target.
// Prefers positions that are already non-zero so the share of zeros stays as sampled.
template <typename T>
void adjust_to_total(std::vector<T>& counts, std::uint64_t target, std::uint32_t hi, Rng& rng) {
  std::uint64_t sum = 0;
  for (T c : counts) sum += c;
  target = std::min<std::uint64_t>(target, static_cast<std::uint64_t>(hi) * counts.size());
  const auto n = static_cast<std::uint32_t>(counts.size());
  std::uint64_t tries = 0;
  const std::uint64_t budget = 64ull * n + 1000;
  while (sum != target) {
    T& c = counts[rng.below(n)];
    const bool relaxed = ++tries > budget;
    if (sum < target) {
      if (c < hi && (c > 0 || relaxed)) {
        ++c;
        ++sum;
      }
    } else if (c > 1 || (c > 0 && relaxed)) {
      --c;
      --sum;
    }
  }
}

Plan make_plan(const GenOptions& opts) {
  Plan plan;
  const double p_raw = std::round(kProducts1 * opts.scale);
  plan.products = static_cast<std::uint32_t>(std::clamp(p_raw, 1.0, 2.0e9));
  const std::uint32_t P = plan.products;

  // Characteristic sets.
  {
    Rng rng(opts.seed, kStreamCharPlan);
    std::vector<double> w;
    for (const auto& t : kTemplates) w.push_back(t.weight);
    const Table table(std::move(w));
    plan.tmpl.resize(P);
    std::uint64_t sum = 0;
    for (auto& t : plan.tmpl) {
      t = static_cast<std::uint8_t>(table.sample(rng));
      sum += kTemplates[t].size;
    }
    const std::uint64_t target = std::min<std::uint64_t>(scaled(kCharacteristics1, P), 6ull * P);
    while (sum != target) {
      auto& t = plan.tmpl[rng.below(P)];
      const std::uint8_t s = kTemplates[t].size;
      if (sum < target && s < 6) {
        t = kTemplateOfSize[s + 1];
        ++sum;
      } else if (sum > target && s > 0) {
        t = kTemplateOfSize[s - 1];
        --sum;
      }
    }
    plan.n_chars = sum;
  }

  // Reviews per product: 30% none, else a mix of a geometric body (typical: a few) and a
  // zipf tail (s = 2, up to 1000: a few products with hundreds).
  {
    constexpr std::uint32_t kMax = 1000;
    constexpr double kZero = 0.30, kTail = 0.20;
    std::vector<double> zipf(kMax + 1, 0.0);
    double zsum = 0, zmean = 0;
    for (std::uint32_t k = 1; k <= kMax; ++k) {
      const double kk = k;
      zipf[k] = 1.0 / (kk * kk);
      zsum += zipf[k];
    }
    for (std::uint32_t k = 1; k <= kMax; ++k) {
      zipf[k] /= zsum;
      zmean += k * zipf[k];
    }
    const double target_mean = kReviews1 / kProducts1;
    const double geo_mean =
        std::max(1.5, (target_mean / (1 - kZero) - kTail * zmean) / (1 - kTail));
    const double q = 1.0 - 1.0 / geo_mean;
    std::vector<double> w(kMax + 1, 0.0);
    w[0] = kZero;
    double qk = 1.0;  // q^(k-1)
    for (std::uint32_t k = 1; k <= kMax; ++k) {
      w[k] = (1 - kZero) * ((1 - kTail) * (1 - q) * qk + kTail * zipf[k]);
      qk *= q;
    }
    const Table table(std::move(w));
    Rng rng(opts.seed, kStreamReviewPlan);
    plan.reviews.resize(P);
    for (auto& r : plan.reviews) r = table.sample(rng);
    const std::uint64_t target = scaled(kReviews1, P);
    adjust_to_total(plan.reviews, target, std::max<std::uint64_t>(kMax, target), rng);
    plan.n_reviews = target;
  }

  // characteristic_reviews = sum of reviews × characteristics per product. Move single reviews
  // between products with different characteristic counts until it is exact (bounded effort:
  // tiny scales may not allow it).
  {
    std::uint64_t cr = 0;
    for (std::uint32_t p = 0; p < P; ++p)
      cr += std::uint64_t{plan.reviews[p]} * kTemplates[plan.tmpl[p]].size;
    const auto target = static_cast<std::int64_t>(scaled(kCharReviews1, P));
    auto diff = static_cast<std::int64_t>(cr) - target;  // > 0: too many
    Rng rng(opts.seed, kStreamMovePlan);
    const std::uint64_t budget = 200ull * P + 10000;
    for (std::uint64_t tries = 0; diff != 0 && tries < budget; ++tries) {
      const std::uint32_t from = rng.below(P), to = rng.below(P);
      if (plan.reviews[from] < 2 || plan.reviews[to] == 0) continue;
      const std::int64_t delta =
          std::int64_t{kTemplates[plan.tmpl[to]].size} - kTemplates[plan.tmpl[from]].size;
      if (delta == 0) continue;
      const std::int64_t next = diff + delta;
      if ((next < 0 ? -next : next) >= (diff < 0 ? -diff : diff)) continue;
      --plan.reviews[from];
      ++plan.reviews[to];
      diff = next;
    }
    plan.n_char_reviews = static_cast<std::uint64_t>(target + diff);
  }

  // Photos per review: mostly none, 0..5.
  {
    const Table table({0.76, 0.12, 0.055, 0.035, 0.018, 0.012});
    Rng rng(opts.seed, kStreamPhotoPlan);
    plan.photos.resize(plan.n_reviews);
    for (auto& c : plan.photos) c = static_cast<std::uint8_t>(table.sample(rng));
    if (!plan.photos.empty()) adjust_to_total(plan.photos, scaled(kPhotos1, P), 5, rng);
    for (auto c : plan.photos) plan.n_photos += c;
  }

  // Related rows per product: a few, sometimes none.
  {
    const Table table({0.06, 0.0, 0.04, 0.18, 0.22, 0.22, 0.17, 0.06, 0.03, 0.02});
    Rng rng(opts.seed, kStreamRelatedPlan);
    plan.related.resize(P);
    for (auto& c : plan.related) c = static_cast<std::uint8_t>(table.sample(rng));
    adjust_to_total(plan.related, scaled(kRelated1, P), 12, rng);
    for (auto c : plan.related) plan.n_related += c;
  }
  return plan;
}

// ---------------------------------------------------------------------------------------------
// Ratings: a pure function of (seed, review id), used by reviews.csv and characteristic_reviews.
struct Ratings {
  std::uint64_t key;
  std::uint32_t rating(std::uint64_t review_id) const {
    const std::uint64_t h = mix64(key + review_id * kGolden) % 100;
    // 1: 7%, 2: 8%, 3: 14%, 4: 29%, 5: 42%
    if (h < 7) return 1;
    if (h < 15) return 2;
    if (h < 29) return 3;
    if (h < 58) return 4;
    return 5;
  }
};

// ---------------------------------------------------------------------------------------------
// Text generator (writes raw text into a scratch string; OutFile::quoted escapes it).
class Text {
 public:
  explicit Text(const GenOptions& opts)
      : lorem_(split_words(kLorem)), newlines_(opts.embedded_newlines) {}

  void lorem_sentence(Rng& rng, std::string& s, std::uint32_t words) {
    for (std::uint32_t i = 0; i < words; ++i) {
      std::string_view w = lorem_[rng.below(static_cast<std::uint32_t>(lorem_.size()))];
      if (i == 0) {
        s += static_cast<char>(w[0] - 'a' + 'A');
        s.append(w.substr(1));
      } else {
        s += ' ';
        s.append(w);
      }
      if (i + 1 < words && rng.below(40) == 0) s += ',';
    }
    s += '.';
  }

  void summary(Rng& rng, std::string& s) {
    s.clear();
    const std::uint32_t r = rng.below(1000);
    if (r < 150) {
      s.append(kEnglishSummaries[rng.below(count_of(kEnglishSummaries))]);
    } else {
      // Faker style: a capitalised run of words ending in '.', about 20-60 characters.
      const std::uint32_t want = rng.range(18, 58);
      std::string_view w = lorem_[rng.below(static_cast<std::uint32_t>(lorem_.size()))];
      s += static_cast<char>(w[0] - 'a' + 'A');
      s.append(w.substr(1));
      while (s.size() < want) {
        w = lorem_[rng.below(static_cast<std::uint32_t>(lorem_.size()))];
        if (s.size() + 1 + w.size() > 59) break;
        s += ' ';
        s.append(w);
      }
      if (r < 156) {
        s.insert(0, "\"");
        s += '"';
      } else if (r < 165) {
        s += ',';
        s += " Great!";
      } else {
        s += '.';
      }
    }
    if (rng.below(1000) == 0) s += ' ';  // a trailing space now and then: kept byte for byte
  }

  void body(Rng& rng, std::string& s) {
    s.clear();
    // Target length: mostly short, some long, up to ~1000 characters.
    const std::uint32_t r = rng.below(100);
    const std::uint32_t want = r < 85   ? rng.range(50, 220)
                               : r < 97 ? rng.range(220, 500)
                                        : rng.range(500, 980);
    const bool english = rng.below(100) < 25;
    while (s.size() < want) {
      const std::size_t before = s.size();
      if (before > 0) {
        if (newlines_ && rng.below(2000) == 0) {
          s += '\n';
        } else {
          s += english && rng.below(3) == 0 ? "  " : " ";
        }
      }
      const std::uint32_t kind = rng.below(1000);
      if (english || kind < 40) {
        if (rng.below(100) < 3) {
          s.append(kSpecialSentences[rng.below(count_of(kSpecialSentences))]);
        } else {
          s.append(kEnglishSentences[rng.below(count_of(kEnglishSentences))]);
        }
      } else if (kind < 45) {
        // A quoted phrase inside a lorem sentence.
        lorem_sentence(rng, s, rng.range(2, 5));
        s.pop_back();
        s += " \"";
        lorem_sentence(rng, s, rng.range(1, 3));
        s.pop_back();
        s += "\".";
      } else if (kind < 48) {
        lorem_sentence(rng, s, rng.range(3, 10));
        s += "   ";  // a run of spaces
        lorem_sentence(rng, s, rng.range(3, 6));
      } else {
        lorem_sentence(rng, s, rng.range(3, 14));
      }
      if (s.size() > 1000 && before >= 50) {
        s.resize(before);
        break;
      }
    }
  }

  void response(Rng& rng, std::string& s) {
    s.clear();
    if (rng.below(5) == 0) {
      s.append(kResponses[rng.below(count_of(kResponses))]);
    } else {
      lorem_sentence(rng, s, rng.range(3, 10));
    }
  }

  void name(Rng& rng, std::string& s) {
    s.clear();
    const std::uint32_t r = rng.below(10);
    const auto first = kFirstNames[rng.below(count_of(kFirstNames))];
    const auto last = kLastNames[rng.below(count_of(kLastNames))];
    switch (r) {
      case 0:
      case 1:
        s.append(first);
        append_num(s, rng.below(100));
        break;
      case 2:
        s.append(first).append(".").append(last);
        break;
      case 3:
        s.append(first).append("_").append(last);
        break;
      case 4:
        s.append(first).append(".").append(last);
        append_num(s, rng.below(100));
        break;
      case 5:
        s.append(kHandleWords[rng.below(count_of(kHandleWords))]);
        s.append(kHandleWords[rng.below(count_of(kHandleWords))]);
        break;
      case 6:
        s.append(last);
        append_num(s, rng.below(100));
        break;
      default:
        s.append(first).append(
            last.substr(0, 1 + rng.below(static_cast<std::uint32_t>(last.size()))));
        append_num(s, rng.below(1000));
        break;
    }
  }

  void email(Rng& rng, std::string& s) {
    s.clear();
    const auto first = kFirstNames[rng.below(count_of(kFirstNames))];
    const auto last = kLastNames[rng.below(count_of(kLastNames))];
    switch (rng.below(5)) {
      case 0:
        s.append(first);
        append_num(s, rng.below(100));
        break;
      case 1:
        s.append(first).append(".").append(last);
        break;
      case 2:
        s.append(first).append("_").append(last);
        append_num(s, rng.below(100));
        break;
      case 3:
        s.append(first).append(".").append(last);
        append_num(s, rng.below(100));
        break;
      default:
        s.append("first.last");
        break;
    }
    s += '@';
    s.append(kEmailDomains[rng.below(count_of(kEmailDomains))]);
  }

 private:
  static void append_num(std::string& s, std::uint32_t v) {
    char b[12];
    auto r = std::to_chars(b, b + sizeof b, v);
    s.append(b, r.ptr);
  }
  std::vector<std::string_view> lorem_;
  bool newlines_;
};

// ---------------------------------------------------------------------------------------------
// Shared progress counters (the second thread publishes in batches).
struct Shared {
  std::atomic<std::uint64_t> rows{0};
  std::atomic<std::uint64_t> bytes{0};
  std::atomic<bool> abort{false};
};

constexpr std::uint32_t kPublishEvery = 4096;

void check_abort(const Shared& sh) {
  if (sh.abort.load(std::memory_order_relaxed)) throw std::runtime_error("generation aborted");
}

// reviews.csv (calling thread; drives the progress line).
std::uint64_t write_reviews(const GenOptions& opts, const Plan& plan, const Ratings& ratings,
                            Shared& sh, Progress& progress) {
  OutFile out(opts.out / "reviews.csv");
  out.raw(
      "id,product_id,rating,date,summary,body,recommend,reported,reviewer_name,reviewer_email,"
      "response,helpfulness\n");
  Rng rng(opts.seed, kStreamReviews);
  Text text(opts);
  std::string summary, body, name, email, response;
  summary.reserve(256);
  body.reserve(2048);
  std::uint64_t id = 0;
  for (std::uint32_t p = 0; p < plan.products; ++p) {
    const std::uint64_t product_id = p + 1;
    for (std::uint32_t k = 0; k < plan.reviews[p]; ++k) {
      ++id;
      const std::uint32_t rating = ratings.rating(id);
      const std::int64_t date =
          kDateMin +
          static_cast<std::int64_t>(rng.below64(static_cast<std::uint64_t>(kDateMax - kDateMin)));
      text.summary(rng, summary);
      text.body(rng, body);
      static constexpr std::uint32_t kRecommendPct[6] = {0, 35, 45, 62, 80, 84};
      const bool recommend = rng.below(100) < kRecommendPct[rating];
      const bool reported = rng.below(1000) < 10;
      text.name(rng, name);
      text.email(rng, email);
      const bool has_response = rng.below(2) == 0;
      if (has_response) text.response(rng, response);
      // helpfulness: many 0, a geometric middle, a flat tail up to 30.
      std::uint32_t helpful = 0;
      const std::uint32_t h = rng.below(100);
      if (h >= 40 && h < 80) {
        helpful = 1;
        while (helpful < 30 && rng.below(4) != 0) ++helpful;
      } else if (h >= 80) {
        helpful = rng.below(31);
      }

      out.numc(id);
      out.numc(product_id);
      out.numc(rating);
      out.numc(static_cast<std::uint64_t>(date));
      out.quoted(summary);
      out.ch(',');
      out.quoted(body);
      out.raw(recommend ? ",true," : ",false,");
      out.raw(reported ? "true," : "false,");
      out.quoted(name);
      out.ch(',');
      out.quoted(email);
      out.ch(',');
      if (has_response) {
        out.quoted(response);
      } else {
        out.raw("null");
      }
      out.ch(',');
      out.num(helpful);
      out.ch('\n');
      if ((id & (kPublishEvery - 1)) == 0) check_abort(sh);
      progress.update(id + sh.rows.load(std::memory_order_relaxed),
                      out.bytes() + sh.bytes.load(std::memory_order_relaxed));
    }
  }
  out.close();
  return out.bytes();
}

// The four other files (second thread).
std::uint64_t write_others(const GenOptions& opts, const Plan& plan, const Ratings& ratings,
                           Shared& sh) {
  std::uint64_t total = 0, rows = 0, published_bytes = 0;
  auto tick = [&](const OutFile& out) {
    if ((++rows & (kPublishEvery - 1)) == 0) {
      check_abort(sh);
      sh.rows.fetch_add(kPublishEvery, std::memory_order_relaxed);
      const std::uint64_t b = total + out.bytes();
      sh.bytes.fetch_add(b - published_bytes, std::memory_order_relaxed);
      published_bytes = b;
    }
  };
  const std::uint32_t P = plan.products;

  // characteristics.csv
  {
    OutFile out(opts.out / "characteristics.csv");
    out.raw("id,product_id,name\n");
    std::uint64_t id = 0;
    for (std::uint32_t p = 0; p < P; ++p) {
      const auto& t = kTemplates[plan.tmpl[p]];
      for (std::uint32_t j = 0; j < t.size; ++j) {
        out.numc(++id);
        out.numc(p + 1);
        out.ch('"');
        out.raw(kCharNames[t.names[j]]);
        out.raw("\"\n");
        tick(out);
      }
    }
    out.close();
    total += out.bytes();
  }

  // characteristic_reviews.csv: per product, per review, per characteristic (ids follow).
  {
    OutFile out(opts.out / "characteristic_reviews.csv");
    out.raw("id,characteristic_id,review_id,value\n");
    Rng rng(opts.seed, kStreamCharReviews);
    std::uint64_t id = 0, review_id = 0, char_id0 = 1;
    // Value around the review's rating: offset -2..+2 with weights 5/15/50/20/10 (%).
    static constexpr std::int32_t kOffset[20] = {-2, -1, -1, -1, 0, 0, 0, 0, 0, 0,
                                                 0,  0,  0,  0,  1, 1, 1, 1, 2, 2};
    for (std::uint32_t p = 0; p < P; ++p) {
      const auto& t = kTemplates[plan.tmpl[p]];
      for (std::uint32_t k = 0; k < plan.reviews[p]; ++k) {
        ++review_id;
        const auto rating = static_cast<std::int32_t>(ratings.rating(review_id));
        for (std::uint32_t j = 0; j < t.size; ++j) {
          const std::int32_t v = std::clamp(rating + kOffset[rng.below(20)], 1, 5);
          out.numc(++id);
          out.numc(char_id0 + j);
          out.numc(review_id);
          out.num(static_cast<std::uint64_t>(v));
          out.ch('\n');
          tick(out);
        }
      }
      char_id0 += t.size;
    }
    out.close();
    total += out.bytes();
  }

  // reviews_photos.csv: a pool of Unsplash-style URLs (the original reuses a few hundred).
  {
    Rng pool_rng(opts.seed, kStreamUrlPool);
    std::vector<std::string> pool(2048);
    static constexpr char kHex[] = "0123456789abcdef";
    for (auto& url : pool) {
      url = "https://images.unsplash.com/photo-";
      char b[24];
      const std::uint64_t ts = pool_rng.below(10) < 3
                                   ? 1'400'000'000 + pool_rng.below(200'000'000)
                                   : 1'400'000'000'000 + pool_rng.below64(190'000'000'000);
      auto r = std::to_chars(b, b + sizeof b, ts);
      url.append(b, r.ptr);
      url += '-';
      for (int i = 0; i < 12; ++i) url += kHex[pool_rng.below(16)];
      url += "?ixlib=rb-1.2.1";
      if (pool_rng.below(10) < 7) url += "&ixid=eyJhcHBfaWQiOjEyMDd9";
      url += "&auto=format&fit=crop&w=";
      r = std::to_chars(b, b + sizeof b, kPhotoWidths[pool_rng.below(count_of(kPhotoWidths))]);
      url.append(b, r.ptr);
      url += "&q=80";
    }
    OutFile out(opts.out / "reviews_photos.csv");
    out.raw("id,review_id,url\n");
    Rng rng(opts.seed, kStreamPhotos);
    std::uint64_t id = 0;
    for (std::size_t i = 0; i < plan.photos.size(); ++i) {
      for (std::uint32_t k = 0; k < plan.photos[i]; ++k) {
        out.numc(++id);
        out.numc(i + 1);
        out.quoted(pool[rng.below(static_cast<std::uint32_t>(pool.size()))]);
        out.ch('\n');
        tick(out);
      }
    }
    out.close();
    total += out.bytes();
  }

  // related.csv: mostly nearby product ids (so duplicates and self-references occur naturally),
  // some anywhere, and now and then the invalid 0.
  {
    OutFile out(opts.out / "related.csv");
    out.raw("id,current_product_id,related_product_id\n");
    Rng rng(opts.seed, kStreamRelated);
    std::uint64_t id = 0;
    for (std::uint32_t p = 0; p < P; ++p) {
      const std::int64_t cur = std::int64_t{p} + 1;
      for (std::uint32_t k = 0; k < plan.related[p]; ++k) {
        std::int64_t rel;
        const std::uint32_t r = rng.below(1000);
        if (r < 4) {
          rel = 0;
        } else if (r < 700) {
          rel = std::clamp<std::int64_t>(cur - 12 + rng.below(25), 1, P);
        } else {
          rel = 1 + rng.below(P);
        }
        out.numc(++id);
        out.numc(static_cast<std::uint64_t>(cur));
        out.num(static_cast<std::uint64_t>(rel));
        out.ch('\n');
        tick(out);
      }
    }
    out.close();
    total += out.bytes();
  }
  sh.rows.fetch_add(rows & (kPublishEvery - 1), std::memory_order_relaxed);
  sh.bytes.fetch_add(total - published_bytes, std::memory_order_relaxed);
  return total;
}

}  // namespace

GenStats generate_dataset(const GenOptions& opts) {
  const auto start = std::chrono::steady_clock::now();
  if (!(opts.scale > 0) || !std::isfinite(opts.scale) || opts.scale > 100) {
    throw std::invalid_argument(
        "gen: scale must be a number in (0, 100] (ids must fit PostgreSQL integer)");
  }
  if (opts.out.empty()) throw std::invalid_argument("gen: no output directory");
  {
    std::error_code ec;
    std::filesystem::create_directories(opts.out, ec);
    if (ec)
      throw std::runtime_error(opts.out.string() + ": cannot create directory: " + ec.message());
  }

  const Plan plan = make_plan(opts);
  const Ratings ratings{mix64(opts.seed ^ 0xA5A5A5A5DEADBEEFull) + kStreamRating};

  GenStats st;
  st.products = plan.products;
  st.reviews = plan.n_reviews;
  st.photos = plan.n_photos;
  st.characteristics = plan.n_chars;
  st.characteristic_reviews = plan.n_char_reviews;
  st.related = plan.n_related;

  // Rough byte estimate for the ETA.
  const std::uint64_t estimate = st.reviews * 365 + st.photos * 143 + st.characteristics * 23 +
                                 st.characteristic_reviews * 26 + st.related * 22;
  std::unique_ptr<Progress> progress_owner =
      opts.progress ? std::make_unique<Progress>("gen", estimate)
                    : std::make_unique<Progress>("gen", estimate, false);
  Progress& progress = *progress_owner;

  Shared sh;
  std::uint64_t other_bytes = 0;
  std::exception_ptr other_error;
  std::atomic<bool> other_done{false};
  std::thread other([&] {
    try {
      other_bytes = write_others(opts, plan, ratings, sh);
    } catch (...) {
      other_error = std::current_exception();
      sh.abort.store(true);
    }
    other_done.store(true);
  });

  std::uint64_t review_bytes = 0;
  std::exception_ptr main_error;
  try {
    review_bytes = write_reviews(opts, plan, ratings, sh, progress);
  } catch (...) {
    main_error = std::current_exception();
    sh.abort.store(true);
  }
  // Keep the progress line alive while the second thread finishes (update() only looks at the
  // clock every 4096 calls).
  while (!main_error && !other_done.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    for (int i = 0; i < 4096; ++i) {
      progress.update(st.reviews + sh.rows.load(std::memory_order_relaxed),
                      review_bytes + sh.bytes.load(std::memory_order_relaxed));
    }
  }
  other.join();
  progress.finish();
  // The real error first (the other thread's "aborted" is only a consequence).
  if (main_error && other_error) {
    try {
      std::rethrow_exception(main_error);
    } catch (const std::runtime_error& e) {
      if (std::string_view(e.what()) == "generation aborted") std::rethrow_exception(other_error);
      throw;
    }
  }
  if (main_error) std::rethrow_exception(main_error);
  if (other_error) std::rethrow_exception(other_error);

  st.bytes = review_bytes + other_bytes;
  st.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return st;
}

}  // namespace db
