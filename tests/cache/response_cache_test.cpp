// Tests cache/response_cache.cpp: LRU order, byte budget, TTL, generations and epoch, single
// flight (including across invalidations), upgrade(), the disabled cache, and threads.
#include "cache/response_cache.h"

#include <catch2/catch.hpp>

#include <atomic>
#include <climits>
#include <cstdint>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using cache::CachedResponse;
using cache::kEntryOverhead;
using cache::Options;
using cache::ResponseCache;
using cache::ResponsePtr;
using Kind = ResponseCache::Lookup::Kind;

constexpr std::int64_t kTtl = 1'000;
constexpr std::int64_t kNow = 50'000;

std::shared_ptr<CachedResponse> response(std::size_t body_bytes, char fill = 'x') {
  auto r = std::make_shared<CachedResponse>();
  r->body.assign(body_bytes, fill);
  return r;
}

std::size_t entry_charge(std::string_view key, const CachedResponse& r) {
  return key.size() + r.charge() + kEntryOverhead;
}

// Small and deterministic: one shard unless a test says otherwise, 16 generation slots.
Options options(std::size_t max_bytes, std::size_t shards = 1) {
  Options o;
  o.max_bytes = max_bytes;
  o.ttl_ms = kTtl;
  o.ttl_spread_percent = 0;  // exact expiry; the spread has its own test
  o.shards = shards;
  o.generation_slots = 16;
  return o;
}

// Records what each waiter it made was called with, and how often.
struct Waiters {
  struct Call {
    int count = 0;
    ResponsePtr got;
  };
  std::vector<std::unique_ptr<Call>> calls;
  ResponseCache::Waiter make() {
    calls.push_back(std::make_unique<Call>());
    Call* call = calls.back().get();
    return [call](ResponsePtr r) {
      ++call->count;
      call->got = std::move(r);
    };
  }
};

ResponseCache::Lookup look(ResponseCache& c, std::string_view key, std::int32_t product,
                           std::int64_t now = kNow) {
  ResponseCache::Waiter unused = [](ResponsePtr) {};
  return c.lookup(key, product, now, unused);
}

// Leads and completes `key` with `value` at `now`.
void put(ResponseCache& c, std::string_view key, std::int32_t product, ResponsePtr value,
         std::int64_t now = kNow) {
  const auto l = look(c, key, product, now);
  REQUIRE(l.kind == Kind::Lead);
  c.complete(key, product, l.flight, l.stamp, std::move(value), now);
}

bool is_hit(ResponseCache& c, std::string_view key, std::int32_t product, std::int64_t now = kNow) {
  return look(c, key, product, now).kind == Kind::Hit;
}

}  // namespace

TEST_CASE("charge counts the object and its six strings", "[cache]") {
  CachedResponse r;
  CHECK(r.charge() == sizeof(CachedResponse));
  r.etag = "\"abc\"";
  r.head = std::string(100, 'h');
  r.body = std::string(1000, 'b');
  r.gz_etag = "\"abc-gz\"";
  r.gz_head = std::string(10, 'g');
  r.gz_body = std::string(300, 'z');
  CHECK(r.charge() == sizeof(CachedResponse) + 5 + 100 + 1000 + 8 + 10 + 300);
  CHECK(r.has_gzip());
}

TEST_CASE("invalid options are refused", "[cache][options]") {
  auto with = [](auto change) {
    Options o = options(1 << 20);
    change(o);
    return o;
  };
  CHECK_THROWS_AS(ResponseCache(with([](Options& o) { o.shards = 0; })), std::invalid_argument);
  CHECK_THROWS_AS(ResponseCache(with([](Options& o) { o.ttl_spread_percent = -1; })),
                  std::invalid_argument);
  CHECK_THROWS_AS(ResponseCache(with([](Options& o) { o.ttl_spread_percent = 101; })),
                  std::invalid_argument);
  CHECK_THROWS_AS(ResponseCache(with([](Options& o) { o.shards = 3; })), std::invalid_argument);
  CHECK_THROWS_AS(ResponseCache(with([](Options& o) { o.generation_slots = 0; })),
                  std::invalid_argument);
  CHECK_THROWS_AS(ResponseCache(with([](Options& o) { o.generation_slots = 24; })),
                  std::invalid_argument);
  CHECK_THROWS_AS(
      ResponseCache(with([](Options& o) { o.generation_slots = std::size_t{1} << 33; })),
      std::invalid_argument);
  CHECK_THROWS_AS(ResponseCache(with([](Options& o) { o.ttl_ms = 0; })), std::invalid_argument);
  CHECK_NOTHROW(ResponseCache(with([](Options& o) { o.shards = 64; })));
  CHECK_NOTHROW(ResponseCache(Options{}));  // the defaults are valid
}

TEST_CASE("a completed lead is a hit until its TTL passes", "[cache][ttl]") {
  ResponseCache c(options(1 << 20));
  auto r = response(100);
  put(c, "/a", 1, r, kNow);

  const auto hit = look(c, "/a", 1, kNow);
  REQUIRE(hit.kind == Kind::Hit);
  CHECK(hit.response == r);
  CHECK(is_hit(c, "/a", 1, kNow + kTtl - 1));
  CHECK(look(c, "/a", 1, kNow + kTtl).kind == Kind::Lead);  // expired: dropped, leads again

  const auto s = c.stats();
  CHECK(s.hits == 2);
  CHECK(s.misses == 2);
  CHECK(s.stale == 1);
  CHECK(s.insertions == 1);
  CHECK(s.entries == 0);
  CHECK(s.bytes == 0);
}

TEST_CASE("entries filled together expire spread over the last part of the TTL", "[cache][ttl]") {
  Options o = options(64 << 20);
  o.ttl_spread_percent = 20;
  ResponseCache c(o);
  constexpr int kKeys = 1000;
  const auto key = [](int i) { return "/k" + std::to_string(i); };
  for (int i = 0; i < kKeys; ++i) put(c, key(i), i, response(10), kNow);
  // Alive at each probe time (a probe of an expired entry drops it; a live one stays).
  const auto alive_at = [&](std::int64_t t) {
    int n = 0;
    for (int i = 0; i < kKeys; ++i) n += c.find(key(i), i, t) != nullptr;
    return n;
  };
  CHECK(alive_at(kNow + kTtl * 80 / 100 - 1) == kKeys);  // none before the spread starts
  const int at_90 = alive_at(kNow + kTtl * 90 / 100);    // about half, by the hash
  CHECK(at_90 > kKeys / 4);
  CHECK(at_90 < kKeys * 3 / 4);
  CHECK(alive_at(kNow + kTtl) == 0);  // ttl_ms stays the upper bound
}

TEST_CASE("an entry costs its key, its value and the fixed overhead", "[cache][budget]") {
  ResponseCache c(options(1 << 20));
  auto r = response(1000);
  put(c, "/products/1/reviews", 1, r);
  CHECK(c.stats().bytes == entry_charge("/products/1/reviews", *r));
  CHECK(c.stats().entries == 1);
}

TEST_CASE("the least recently used entry is evicted first; a hit refreshes", "[cache][lru]") {
  auto r = response(500);
  const std::size_t one = entry_charge("/a", *r);  // every key below has the same length
  ResponseCache c(options(3 * one));
  put(c, "/a", 1, r);
  put(c, "/b", 1, r);
  put(c, "/c", 1, r);
  CHECK(c.stats().bytes == 3 * one);

  REQUIRE(is_hit(c, "/a", 1));  // now /b is the least recently used
  put(c, "/d", 1, r);
  CHECK(c.stats().evictions == 1);
  CHECK(is_hit(c, "/a", 1));
  CHECK(is_hit(c, "/c", 1));
  CHECK(is_hit(c, "/d", 1));
  CHECK_FALSE(is_hit(c, "/b", 1));

  // /a, /c, /d were hit in that order: /a goes next.
  auto l = look(c, "/e", 1);
  c.complete("/e", 1, l.flight, l.stamp, r, kNow);
  CHECK(c.stats().evictions == 2);
  CHECK_FALSE(is_hit(c, "/a", 1));
  CHECK(c.stats().bytes <= 3 * one);
}

TEST_CASE("an entry is replaced, not duplicated, when its key is stored again", "[cache][lru]") {
  ResponseCache c(options(1 << 20));
  auto r1 = response(100, '1');
  auto r2 = response(300, '2');
  put(c, "/a", 1, r1);
  // A complete() with an unknown flight id only applies the insert rules.
  c.complete("/a", 1, 999'999, c.stamp(1), r2, kNow);
  CHECK(c.stats().entries == 1);
  CHECK(c.stats().bytes == entry_charge("/a", *r2));
  CHECK(look(c, "/a", 1).response == r2);
}

TEST_CASE("a value larger than a shard is refused but reaches the waiters",
          "[cache][budget][flight]") {
  ResponseCache c(options(8 * 1024, 2));  // 4 KiB per shard
  Waiters w;
  const auto lead = look(c, "/big", 1);
  REQUIRE(lead.kind == Kind::Lead);
  auto wait = w.make();
  REQUIRE(c.lookup("/big", 1, kNow, wait).kind == Kind::Wait);

  auto big = response(4 * 1024);
  c.complete("/big", 1, lead.flight, lead.stamp, big, kNow);
  REQUIRE(w.calls[0]->count == 1);
  CHECK(w.calls[0]->got == big);
  const auto s = c.stats();
  CHECK(s.rejected == 1);
  CHECK(s.entries == 0);
  CHECK(s.bytes == 0);
  CHECK(look(c, "/big", 1).kind == Kind::Lead);
}

TEST_CASE("the byte budget holds after every operation of a random sequence", "[cache][budget]") {
  constexpr std::size_t kMaxBytes = 64 * 1024;  // 4 shards of 16 KiB
  constexpr int kOps = 20'000;
  constexpr int kKeys = 64;
  ResponseCache c(options(kMaxBytes, 4));
  std::mt19937 rng(12345);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };

  struct Pending {
    std::string key;
    std::int32_t product;
    ResponseCache::Lookup lead;
  };
  std::vector<Pending> pending;
  Waiters w;
  std::int64_t now = kNow;
  std::uint64_t leads = 0, waits = 0, hits = 0;
  std::vector<ResponsePtr> seen;         // hit values, for upgrade()
  std::vector<std::string> waiter_keys;  // the key each of w.calls waited on
  // A value names its key in its ETag, so that a receiver can tell it got its own key's value.
  auto keyed = [](std::size_t bytes, const std::string& key) {
    auto r = response(bytes);
    r->etag = key;
    return r;
  };
  auto key_of = [](int k) {
    return "/products/" + std::to_string(k % 16) + "/v" + std::to_string(k);
  };

  for (int i = 0; i < kOps; ++i) {
    now += pick(3);
    const int op = pick(100);
    if (op < 50) {
      const int k = pick(kKeys);
      const std::string key = key_of(k);
      const std::int32_t product = k % 16 + 1;
      auto waiter = w.make();
      waiter_keys.push_back(key);
      const auto l = c.lookup(key, product, now, waiter);
      if (l.kind == Kind::Lead) {
        ++leads;
        pending.push_back({key, product, l});
      } else if (l.kind == Kind::Wait) {
        ++waits;
      } else {
        ++hits;
        if (seen.size() < 32) seen.push_back(l.response);
      }
    } else if (op < 85 && !pending.empty()) {
      const std::size_t at = static_cast<std::size_t>(pick(static_cast<int>(pending.size())));
      const Pending p = pending[at];
      pending.erase(pending.begin() + static_cast<std::ptrdiff_t>(at));
      // Sizes from nothing to past a 16 KiB shard; now and then a failed query.
      const int size = pick(20);
      ResponsePtr value = size == 0 ? nullptr : keyed(static_cast<std::size_t>(size) * 1000, p.key);
      c.complete(p.key, p.product, p.lead.flight, p.lead.stamp, value, now);
    } else if (op < 92 && !seen.empty()) {
      const std::string key = key_of(pick(kKeys));
      c.upgrade(key, seen[static_cast<std::size_t>(pick(static_cast<int>(seen.size())))],
                keyed(static_cast<std::size_t>(pick(18)) * 1000, key));
    } else if (op < 99) {
      c.invalidate(pick(16) + 1, now);
    } else {
      c.invalidate_all();
    }
    const auto s = c.stats();
    if (s.bytes > kMaxBytes) FAIL("over budget after op " << i << ": " << s.bytes);
  }
  for (const auto& p : pending)
    c.complete(p.key, p.product, p.lead.flight, p.lead.stamp, keyed(100, p.key), now);

  const auto s = c.stats();
  CHECK(s.bytes <= kMaxBytes);
  CHECK(s.misses == leads);
  CHECK(s.coalesced == waits);
  CHECK(s.hits == hits);
  CHECK(s.rejected > 0);   // some values were larger than a shard, or stale
  CHECK(s.evictions > 0);  // and the budget was reached
  std::uint64_t called = 0, wrong_key = 0, too_big_delivered = 0;
  for (std::size_t i = 0; i < w.calls.size(); ++i) {
    const auto& call = *w.calls[i];
    REQUIRE(call.count <= 1);
    called += static_cast<std::uint64_t>(call.count);
    if (!call.got) continue;
    if (call.got->etag != waiter_keys[i]) ++wrong_key;
    if (entry_charge(waiter_keys[i], *call.got) > kMaxBytes / 4) ++too_big_delivered;
  }
  CHECK(called == waits);  // every waiter called exactly once; never one that did not wait
  CHECK(wrong_key == 0);
  CHECK(too_big_delivered > 0);  // values no shard could hold still reached their waiters
}

TEST_CASE("invalidate makes one product's entries stale", "[cache][invalidate]") {
  ResponseCache c(options(1 << 20));
  auto r7 = response(10, '7');
  auto r8 = response(10, '8');
  put(c, "/products/7", 7, r7);
  put(c, "/products/8", 8, r8);
  const auto before7 = c.stamp(7);
  const auto before8 = c.stamp(8);
  CHECK(c.last_invalidated_ms(7) == INT64_MIN);

  c.invalidate(7, kNow + 5);
  CHECK_FALSE(c.stamp(7) == before7);
  CHECK(c.stamp(8) == before8);
  CHECK(c.last_invalidated_ms(7) == kNow + 5);
  CHECK(c.last_invalidated_ms(8) == INT64_MIN);
  c.invalidate(7, kNow + 1);  // an older time never moves it back
  CHECK(c.last_invalidated_ms(7) == kNow + 5);

  CHECK(look(c, "/products/7", 7).kind == Kind::Lead);
  CHECK(look(c, "/products/8", 8).response == r8);
  const auto s = c.stats();
  CHECK(s.stale == 1);
  CHECK(s.invalidations == 2);
}

TEST_CASE("products sharing a generation slot are invalidated together", "[cache][invalidate]") {
  ResponseCache c(options(1 << 20));  // 16 slots: 7 and 23 collide
  put(c, "/products/23", 23, response(10));
  c.invalidate(7, kNow);
  CHECK_FALSE(is_hit(c, "/products/23", 23));  // a collision only costs a miss

  // Negative ids are mapped like their uint32 bit pattern, never out of range.
  const auto before = c.stamp(-1);
  c.invalidate(-1, kNow);
  CHECK_FALSE(c.stamp(-1) == before);
  CHECK(c.stamp(15) == c.stamp(-1));  // 0xffffffff & 15
  CHECK(c.last_invalidated_ms(15) == kNow);
  c.invalidate(INT32_MIN, kNow);
  CHECK(c.last_invalidated_ms(0) == kNow);
}

TEST_CASE("a flight started before an invalidation is not joined after it, nor stored",
          "[cache][invalidate][flight]") {
  ResponseCache c(options(1 << 20));
  Waiters w;
  const auto old_lead = look(c, "/products/7", 7);
  REQUIRE(old_lead.kind == Kind::Lead);
  auto w0 = w.make();
  REQUIRE(c.lookup("/products/7", 7, kNow, w0).kind == Kind::Wait);

  c.invalidate(7, kNow);
  auto w1 = w.make();
  const auto new_lead = c.lookup("/products/7", 7, kNow, w1);
  REQUIRE(new_lead.kind == Kind::Lead);  // not joined: that result may predate the write
  CHECK(new_lead.flight != old_lead.flight);
  CHECK_FALSE(new_lead.stamp == old_lead.stamp);
  REQUIRE(w1);  // not moved from: only Wait takes the waiter
  auto w2 = w.make();
  REQUIRE(c.lookup("/products/7", 7, kNow, w2).kind == Kind::Wait);  // joins the new flight

  auto old_value = response(10, 'o');
  c.complete("/products/7", 7, old_lead.flight, old_lead.stamp, old_value, kNow);
  CHECK(w.calls[0]->count == 1);  // the old flight's own waiter, with the old value
  CHECK(w.calls[0]->got == old_value);
  CHECK(w.calls[2]->count == 0);  // the new flight's waiter is left alone
  CHECK(c.stats().rejected == 1);
  CHECK(c.stats().entries == 0);
  auto w3 = w.make();
  REQUIRE(c.lookup("/products/7", 7, kNow, w3).kind == Kind::Wait);  // new flight still there

  auto new_value = response(10, 'n');
  c.complete("/products/7", 7, new_lead.flight, new_lead.stamp, new_value, kNow);
  CHECK(w.calls[2]->count == 1);
  CHECK(w.calls[2]->got == new_value);
  CHECK(w.calls[3]->count == 1);
  CHECK(w.calls[0]->count == 1);
  CHECK(w.calls[1]->count == 0);  // w1 led, never waited
  CHECK(look(c, "/products/7", 7).response == new_value);
}

TEST_CASE("invalidate_all makes every entry and flight stale", "[cache][invalidate]") {
  ResponseCache c(options(1 << 20));
  put(c, "/products/1", 1, response(10));
  put(c, "/products/2", 2, response(10));
  const auto flying = look(c, "/products/3", 3);
  REQUIRE(flying.kind == Kind::Lead);

  c.invalidate_all();
  CHECK_FALSE(is_hit(c, "/products/1", 1));
  CHECK_FALSE(is_hit(c, "/products/2", 2));
  CHECK(look(c, "/products/3", 3).kind == Kind::Lead);  // not joined
  c.complete("/products/3", 3, flying.flight, flying.stamp, response(10), kNow);
  CHECK(c.stats().rejected == 1);
  CHECK(c.stats().invalidations_all == 1);
  CHECK(c.stats().invalidations == 0);
}

TEST_CASE("a disabled cache stores nothing but still coalesces", "[cache][disabled][flight]") {
  ResponseCache c(options(0, 4));
  CHECK_FALSE(c.enabled());
  Waiters w;
  const auto lead = look(c, "/a", 1);
  REQUIRE(lead.kind == Kind::Lead);
  auto w0 = w.make();
  auto w1 = w.make();
  REQUIRE(c.lookup("/a", 1, kNow, w0).kind == Kind::Wait);
  REQUIRE(c.lookup("/a", 1, kNow, w1).kind == Kind::Wait);

  auto r = response(10);
  c.complete("/a", 1, lead.flight, lead.stamp, r, kNow);
  CHECK(w.calls[0]->got == r);
  CHECK(w.calls[1]->got == r);
  CHECK(look(c, "/a", 1).kind == Kind::Lead);
  const auto s = c.stats();
  CHECK(s.entries == 0);
  CHECK(s.bytes == 0);
  CHECK(s.insertions == 0);
  CHECK(s.rejected == 0);
  CHECK(s.coalesced == 2);
  CHECK(s.misses == 2);
}

TEST_CASE("upgrade replaces only the exact value it was given", "[cache][upgrade]") {
  ResponseCache c(options(1 << 20));
  auto plain = response(2000);
  put(c, "/a", 1, plain, kNow);

  auto gz = std::make_shared<CachedResponse>(*plain);
  gz->gz_body = std::string(200, 'z');
  auto look_alike = std::make_shared<CachedResponse>(*plain);  // equal contents, other pointer
  c.upgrade("/a", look_alike, gz);
  CHECK(look(c, "/a", 1).response == plain);
  c.upgrade("/b", plain, gz);  // no such key: nothing happens
  CHECK(c.stats().entries == 1);

  c.upgrade("/a", plain, gz);
  CHECK(look(c, "/a", 1).response == gz);
  CHECK(c.stats().bytes == entry_charge("/a", *gz));
  c.upgrade("/a", plain, response(1));  // `plain` is no longer there
  CHECK(look(c, "/a", 1).response == gz);

  // Expiry and stamp are the original entry's.
  CHECK(is_hit(c, "/a", 1, kNow + kTtl - 1));
  c.invalidate(1, kNow);
  CHECK_FALSE(is_hit(c, "/a", 1));
}

TEST_CASE("upgrade keeps its expiry", "[cache][upgrade][ttl]") {
  ResponseCache c(options(1 << 20));
  auto plain = response(10);
  put(c, "/a", 1, plain, kNow);
  c.upgrade("/a", plain, response(20));
  CHECK_FALSE(is_hit(c, "/a", 1, kNow + kTtl));
}

TEST_CASE("upgrade evicts others to stay within budget, and refuses what never fits",
          "[cache][upgrade][budget]") {
  auto small = response(1000);
  const std::size_t one = entry_charge("/a", *small);
  const std::size_t budget = 2 * one + 100;
  ResponseCache c(options(budget));
  put(c, "/a", 1, small);
  put(c, "/b", 1, small);

  c.upgrade("/a", small, response(1500));  // 500 more bytes: /b must go
  CHECK(c.stats().evictions == 1);
  CHECK(c.stats().bytes <= budget);
  CHECK(is_hit(c, "/a", 1));
  CHECK_FALSE(is_hit(c, "/b", 1));

  const auto current = look(c, "/a", 1).response;
  c.upgrade("/a", current, response(budget));  // larger than the shard: `current` stays
  CHECK(look(c, "/a", 1).response == current);
  CHECK(c.stats().rejected == 1);
  CHECK(c.stats().bytes <= budget);
}

TEST_CASE("a failed lead wakes its waiters with nullptr and stores nothing", "[cache][flight]") {
  ResponseCache c(options(1 << 20));
  Waiters w;
  const auto lead = look(c, "/a", 1);
  auto w0 = w.make();
  REQUIRE(c.lookup("/a", 1, kNow, w0).kind == Kind::Wait);
  w.calls[0]->got = response(1);  // so that a call with nullptr is visible

  c.complete("/a", 1, lead.flight, lead.stamp, nullptr, kNow);
  CHECK(w.calls[0]->count == 1);
  CHECK(w.calls[0]->got == nullptr);
  CHECK(c.stats().entries == 0);
  CHECK(c.stats().rejected == 0);
  CHECK(look(c, "/a", 1).kind == Kind::Lead);  // the flight is gone
}

TEST_CASE("complete wakes each waiter once, however often it is called", "[cache][flight]") {
  ResponseCache c(options(1 << 20));
  Waiters w;
  const auto lead = look(c, "/a", 1);
  auto w0 = w.make();
  REQUIRE(c.lookup("/a", 1, kNow, w0).kind == Kind::Wait);
  auto r = response(10);
  c.complete("/a", 1, lead.flight, lead.stamp, r, kNow);
  c.complete("/a", 1, lead.flight, lead.stamp, r, kNow);
  CHECK(w.calls[0]->count == 1);
  CHECK(c.stats().entries == 1);
}

TEST_CASE("a throwing waiter does not keep the others from being called", "[cache][flight]") {
  ResponseCache c(options(1 << 20));
  const auto lead = look(c, "/a", 1);
  int called = 0;
  ResponseCache::Waiter thrower = [&](ResponsePtr) {
    ++called;
    throw std::runtime_error("waiter");
  };
  ResponseCache::Waiter counter = [&](ResponsePtr) { ++called; };
  REQUIRE(c.lookup("/a", 1, kNow, thrower).kind == Kind::Wait);
  REQUIRE(c.lookup("/a", 1, kNow, counter).kind == Kind::Wait);
  CHECK_THROWS_AS(c.complete("/a", 1, lead.flight, lead.stamp, response(10), kNow),
                  std::runtime_error);
  CHECK(called == 2);
  CHECK(is_hit(c, "/a", 1));  // stored before any waiter ran
}

TEST_CASE("a waiter may call back into the cache", "[cache][flight]") {
  ResponseCache c(options(1 << 20, 1));  // one shard: a lock held across the call would deadlock
  const auto lead = look(c, "/a", 1);
  bool hit_inside = false;
  ResponseCache::Waiter waiter = [&](ResponsePtr) { hit_inside = is_hit(c, "/a", 1); };
  REQUIRE(c.lookup("/a", 1, kNow, waiter).kind == Kind::Wait);
  c.complete("/a", 1, lead.flight, lead.stamp, response(10), kNow);
  CHECK(hit_inside);
}

// Threads share a few keys and products; each leads, joins, completes (sometimes late, sometimes
// with nullptr), upgrades and invalidates. Every check that needs a thread's view is counted in
// atomics and asserted on the main thread (Catch2 v2 assertions are not thread-safe).
TEST_CASE("threads sharing keys: every lead completes, every waiter runs once, budget holds",
          "[cache][threads]") {
  constexpr int kThreads = 4;
  constexpr int kIterations = 50'000;
  constexpr int kKeys = 12;
  constexpr int kProducts = 4;
  constexpr std::size_t kMaxBytes = 4 * 6 * 1024;  // 4 shards, room for a few entries each
  ResponseCache c(options(kMaxBytes, 4));

  struct alignas(64) Tally {
    std::uint64_t leads = 0, waits = 0, hits = 0;
  };
  std::vector<Tally> tally(kThreads);
  // One slot per possible waiter, counting its calls.
  std::vector<std::atomic<int>> calls(static_cast<std::size_t>(kThreads) * kIterations);
  std::atomic<int> wrong_value{0};  // a waiter or hit got another key's response
  std::atomic<int> over_budget{0};  // seen by the monitor thread
  std::atomic<bool> done{false};
  std::atomic<int> ready{0};  // workers start together, so that their operations interleave

  auto key_of = [](int k) {
    return "/products/" + std::to_string(k % kProducts + 1) + "/r" + std::to_string(k);
  };

  auto worker = [&](int t) {
    std::mt19937 rng(static_cast<unsigned>(1000 + t));
    auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
    struct Pending {
      int k;
      ResponseCache::Lookup lead;
    };
    std::vector<Pending> pending;
    std::int64_t now = kNow;
    ready.fetch_add(1, std::memory_order_acq_rel);
    while (ready.load(std::memory_order_acquire) < kThreads) std::this_thread::yield();
    auto finish = [&](const Pending& p) {
      // The body names its key, so that receivers can check they got their own key's value.
      ResponsePtr value;
      if (pick(10) != 0) {
        auto r = response(static_cast<std::size_t>(pick(8)) * 1000);
        r->etag = key_of(p.k);
        value = std::move(r);
      }
      c.complete(key_of(p.k), p.k % kProducts + 1, p.lead.flight, p.lead.stamp, value, now);
    };
    for (int i = 0; i < kIterations; ++i) {
      now += pick(2);
      const int op = pick(100);
      if (op < 70) {
        const int k = pick(kKeys);
        const std::string key = key_of(k);
        std::atomic<int>* slot = &calls[static_cast<std::size_t>(t) * kIterations + i];
        ResponseCache::Waiter waiter = [slot, key, &wrong_value](ResponsePtr r) {
          slot->fetch_add(1, std::memory_order_relaxed);
          if (r && r->etag != key) wrong_value.fetch_add(1, std::memory_order_relaxed);
        };
        const auto l = c.lookup(key, k % kProducts + 1, now, waiter);
        if (l.kind == Kind::Lead) {
          ++tally[t].leads;
          pending.push_back({k, l});
        } else if (l.kind == Kind::Wait) {
          ++tally[t].waits;
        } else {
          ++tally[t].hits;
          if (l.response->etag != key) wrong_value.fetch_add(1, std::memory_order_relaxed);
          if (pick(4) == 0) {
            auto bigger = std::make_shared<CachedResponse>(*l.response);
            bigger->gz_body.assign(static_cast<std::size_t>(pick(3)) * 1000, 'z');
            c.upgrade(key, l.response, std::move(bigger));
          }
        }
      } else if (op < 95) {
        // Complete a pending lead, picked at random so that flights stay open for a while.
        if (!pending.empty()) {
          const std::size_t at = static_cast<std::size_t>(pick(static_cast<int>(pending.size())));
          finish(pending[at]);
          pending[at] = pending.back();
          pending.pop_back();
        }
      } else if (op < 99) {
        c.invalidate(pick(kProducts) + 1, now);
      } else {
        c.invalidate_all();
      }
    }
    for (const auto& p : pending) finish(p);
  };

  std::thread monitor([&] {
    while (!done.load(std::memory_order_acquire)) {
      if (c.stats().bytes > kMaxBytes) over_budget.fetch_add(1, std::memory_order_relaxed);
      std::this_thread::yield();
    }
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back(worker, t);
  for (auto& th : threads) th.join();
  done.store(true, std::memory_order_release);
  monitor.join();

  Tally sum;
  for (const auto& t : tally) {
    sum.leads += t.leads;
    sum.waits += t.waits;
    sum.hits += t.hits;
  }
  int called_once = 0, called_twice_or_more = 0;
  for (const auto& n : calls) {
    if (n.load() == 1) ++called_once;
    if (n.load() > 1) ++called_twice_or_more;
  }
  const auto s = c.stats();
  CHECK(called_twice_or_more == 0);
  CHECK(static_cast<std::uint64_t>(called_once) == sum.waits);  // every waiter ran, once
  CHECK(wrong_value.load() == 0);
  CHECK(over_budget.load() == 0);
  CHECK(s.bytes <= kMaxBytes);
  CHECK(s.misses == sum.leads);
  CHECK(s.coalesced == sum.waits);
  CHECK(s.hits == sum.hits);
  CHECK(sum.waits > 0);  // the mix did exercise single flight
  CHECK(sum.hits > 0);

  // No flight is left open: a lookup now never has to wait.
  for (int k = 0; k < kKeys; ++k) {
    const auto l = look(c, key_of(k), k % kProducts + 1);
    REQUIRE(l.kind != Kind::Wait);
    if (l.kind == Kind::Lead)
      c.complete(key_of(k), k % kProducts + 1, l.flight, l.stamp, nullptr, kNow);
  }
}
