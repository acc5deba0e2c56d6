#include "cache/response_cache.h"

#include "cache/entry_index.h"

#include <bit>
#include <exception>
#include <limits>
#include <new>
#include <stdexcept>
#include <unordered_map>
#include <utility>

namespace cache {

namespace {

// Shards are allocated one by one; aligning them keeps two shards' hot fields (mutex, LRU ends,
// counters) off one cache line, so threads hitting different shards do not contend.
constexpr std::size_t kCacheLine = 64;

// Product ids are 32-bit: more slots than 2^32 could never be used.
constexpr std::size_t kMaxGenerationSlots = std::size_t{1} << 32;

constexpr unsigned kHashBits = std::numeric_limits<std::size_t>::digits;

// A key as stored: its hash is computed once, by lookup()/complete(), and kept with it, so the
// map never rehashes strings (on rehash or while walking a bucket) and the shard choice and the
// map share one hash computation.
struct Key {
  std::string text;
  std::size_t hash;
};

// A key as probed: a view, so a lookup allocates nothing.
struct KeyView {
  std::string_view text;
  std::size_t hash;
  KeyView(std::string_view t, std::size_t h) : text(t), hash(h) {}
  KeyView(const Key& k) : text(k.text), hash(k.hash) {}  // NOLINT: implicit on purpose
};

struct KeyHash {
  using is_transparent = void;
  std::size_t operator()(KeyView k) const noexcept { return k.hash; }
};

struct KeyEq {
  using is_transparent = void;
  bool operator()(KeyView a, KeyView b) const noexcept {
    return a.hash == b.hash && a.text == b.text;
  }
};

std::size_t hash_key(std::string_view key) noexcept { return std::hash<std::string_view>{}(key); }

// splitmix64's finalizer: every input bit moves every output bit.
std::uint64_t mix(std::uint64_t x) noexcept {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Through uint32, so that a negative id (never valid, but possible in a bad request) still maps
// into range. `slots` is a power of two.
std::size_t slot_index(std::int32_t product, std::size_t slots) noexcept {
  return static_cast<std::uint32_t>(product) & (slots - 1);
}

}  // namespace

struct alignas(kCacheLine) ResponseCache::Shard {
  // One allocation per entry, owned by the index: the key (short keys inline), the value and
  // the LRU links.
  struct Entry {
    ResponsePtr value;
    Stamp stamp;
    std::int64_t expires_ms = 0;
    std::size_t charge = 0;
    Entry* newer = nullptr;  // LRU neighbours: an intrusive list saves a node per entry
    Entry* older = nullptr;
    Key key;
  };
  using Map = EntryIndex<Entry>;
  // kEntryOverhead must cover at least the entry, its index slots (a hash and a pointer, up to
  // four slots per entry: at most half full, and just after doubling a quarter), the shared_ptr
  // control block (two counts, a vtable pointer) and a malloc header for each of the two
  // allocations.
  static_assert(sizeof(Entry) + 4 * 2 * sizeof(void*) + (2 * sizeof(int) + sizeof(void*)) +
                        2 * 2 * sizeof(void*) <=
                    kEntryOverhead,
                "kEntryOverhead under-counts an entry");

  struct Flight {
    std::uint64_t id = 0;
    Stamp stamp;
    std::vector<Waiter> waiters;
  };

  std::mutex mu;
  std::size_t budget = 0;  // max_bytes / shards; `bytes` never exceeds it
  std::size_t bytes = 0;
  Map entries;
  Entry* newest = nullptr;
  Entry* oldest = nullptr;
  std::unordered_map<Key, Flight, KeyHash, KeyEq> flights;
  // Waiters of flights replaced by a newer-stamp flight of the same key, by flight id: their
  // leader's complete() still wakes them, without touching the key's current flight.
  std::unordered_map<std::uint64_t, std::vector<Waiter>> superseded;

  std::uint64_t hits = 0, misses = 0, coalesced = 0, stale = 0, insertions = 0, rejected = 0,
                evictions = 0;

  void unlink(Entry& e) noexcept {
    (e.newer ? e.newer->older : newest) = e.older;
    (e.older ? e.older->newer : oldest) = e.newer;
    e.newer = e.older = nullptr;
  }
  void push_front(Entry& e) noexcept {
    e.older = newest;
    e.newer = nullptr;
    (newest ? newest->newer : oldest) = &e;
    newest = &e;
  }
  void touch(Entry& e) noexcept {
    if (newest == &e) return;
    unlink(e);
    push_front(e);
  }
  // Removes the entry; its value goes to `graveyard`, so that the last reference to a possibly
  // large response is dropped by the caller after the lock is released.
  void erase(Entry* e, ResponsePtr& graveyard) {
    unlink(*e);
    bytes -= e->charge;
    graveyard = std::move(e->value);
    entries.erase(e);
  }
  void erase(Entry* e, std::vector<ResponsePtr>& graveyard) {
    graveyard.emplace_back();
    erase(e, graveyard.back());
  }
  [[nodiscard]] Entry* find(KeyView k) const noexcept { return entries.find(k.text, k.hash); }
  // Stores `entry` under entry.key as the most recently used, replacing any entry of that key
  // and evicting from the LRU tail. The caller has checked that entry.charge fits in the budget.
  void insert(Entry&& entry, std::vector<ResponsePtr>& graveyard) {
    if (Entry* old = find(KeyView(entry.key))) erase(old, graveyard);
    make_room(entry.charge, nullptr, graveyard);
    Entry* e = entries.insert(std::move(entry));
    push_front(*e);
    bytes += e->charge;
    ++insertions;
  }
  // Evicts from the LRU tail, never `keep`, until `extra` more bytes fit in the budget. The
  // caller has checked that `extra` fits in an otherwise empty shard.
  void make_room(std::size_t extra, const Entry* keep, std::vector<ResponsePtr>& graveyard) {
    while (bytes + extra > budget) {
      Entry* victim = oldest != keep ? oldest : keep->newer;
      erase(victim, graveyard);
      ++evictions;
    }
  }
};

std::size_t CachedResponse::charge() const noexcept {
  return sizeof(CachedResponse) + etag.size() + head.size() + body.size() + gz_etag.size() +
         gz_head.size() + gz_body.size();
}

ResponseCache::ResponseCache(const Options& options) : options_(options) {
  if (options_.shards == 0 || !std::has_single_bit(options_.shards))
    throw std::invalid_argument("cache: shards must be a power of two");
  if (options_.generation_slots == 0 || !std::has_single_bit(options_.generation_slots) ||
      options_.generation_slots > kMaxGenerationSlots)
    throw std::invalid_argument("cache: generation_slots must be a power of two, at most 2^32");
  if (options_.ttl_ms <= 0) throw std::invalid_argument("cache: ttl_ms must be positive");
  if (options_.ttl_spread_percent < 0 || options_.ttl_spread_percent > 100)
    throw std::invalid_argument("cache: ttl_spread_percent must be in 0..100");

  shard_shift_ = kHashBits - static_cast<unsigned>(std::countr_zero(options_.shards));
  shards_.reserve(options_.shards);
  for (std::size_t i = 0; i < options_.shards; ++i) {
    shards_.push_back(std::make_unique<Shard>());
    shards_.back()->budget = options_.max_bytes / options_.shards;
  }
  slots_ = std::make_unique<Slot[]>(options_.generation_slots);
}

ResponseCache::~ResponseCache() = default;

// The top bits pick the shard: a shard's EntryIndex starts probing at the low bits (hash & mask),
// so keys sharing their top bits still spread over its slots.
ResponseCache::Shard& ResponseCache::shard_for(std::size_t key_hash) const noexcept {
  if (shard_shift_ >= kHashBits) return *shards_[0];  // one shard: a shift by 64 is undefined
  return *shards_[key_hash >> shard_shift_];
}

std::int64_t ResponseCache::ttl_spread(std::size_t key_hash, std::uint64_t flight) const noexcept {
  const auto span =
      static_cast<std::uint64_t>(options_.ttl_ms / 100 * options_.ttl_spread_percent +
                                 options_.ttl_ms % 100 * options_.ttl_spread_percent / 100);
  if (span == 0) return 0;
  // The flight id takes part so that the same key refilled gets another point in the span.
  return static_cast<std::int64_t>(mix(key_hash ^ mix(flight)) % (span + 1));
}

// Memory ordering. invalidate() bumps a generation with a release RMW after the writer's commit
// and before its HTTP answer leaves; stamp() loads it with acquire. A request that arrives after
// that answer (through the kernel, which orders the two threads) reads the new generation, and
// everything stored before the bump, last_invalidated_ms() included, is visible to it: so a
// reader that sees the new generation also sees that the product was just written, and reads it
// from the primary instead of a lagging replica.
Stamp ResponseCache::stamp(std::int32_t product) const noexcept {
  const std::size_t slot = slot_index(product, options_.generation_slots);
  return Stamp{slots_[slot].generation.load(std::memory_order_acquire),
               epoch_.load(std::memory_order_acquire)};
}

ResponsePtr ResponseCache::find(std::string_view key, std::int32_t product, std::int64_t now_ms) {
  if (!enabled()) return nullptr;
  const KeyView probe(key, hash_key(key));
  Shard& shard = shard_for(probe.hash);
  ResponsePtr dropped;  // declared before the lock: released after it
  std::lock_guard lock(shard.mu);
  Shard::Entry* const e = shard.find(probe);
  if (!e) return nullptr;
  if (e->stamp == stamp(product) && now_ms < e->expires_ms) {
    shard.touch(*e);
    ++shard.hits;
    return e->value;
  }
  shard.erase(e, dropped);
  ++shard.stale;
  return nullptr;
}

ResponseCache::Lookup ResponseCache::lookup(std::string_view key, std::int32_t product,
                                            std::int64_t now_ms, Waiter& waiter) {
  const KeyView probe(key, hash_key(key));
  Shard& shard = shard_for(probe.hash);
  Lookup result;
  ResponsePtr dropped;  // declared before the lock: released after it
  std::lock_guard lock(shard.mu);
  // Read under the lock: stamps then only move forward within a shard, so a flight is only
  // ever replaced by a newer one.
  const Stamp current = stamp(product);

  if (Shard::Entry* const e = shard.find(probe)) {
    if (e->stamp == current && now_ms < e->expires_ms) {
      shard.touch(*e);
      ++shard.hits;
      result.kind = Lookup::Kind::Hit;
      result.response = e->value;
      return result;
    }
    shard.erase(e, dropped);
    ++shard.stale;
  }

  auto flight = shard.flights.find(probe);
  if (flight != shard.flights.end() && flight->second.stamp == current) {
    flight->second.waiters.push_back(std::move(waiter));
    ++shard.coalesced;
    result.kind = Lookup::Kind::Wait;
    return result;
  }
  const std::uint64_t id = next_flight_.fetch_add(1, std::memory_order_relaxed);
  if (flight == shard.flights.end()) {
    shard.flights.emplace(Key{std::string(key), probe.hash}, Shard::Flight{id, current, {}});
  } else {
    // A flight from before an invalidation: its result predates a write, so this reader must
    // not get it. Its waiters stay with its leader, who wakes them by id.
    Shard::Flight& old = flight->second;
    if (!old.waiters.empty()) shard.superseded.emplace(old.id, std::move(old.waiters));
    old = Shard::Flight{id, current, {}};
  }
  ++shard.misses;
  result.kind = Lookup::Kind::Lead;
  result.stamp = current;
  result.flight = id;
  return result;
}

void ResponseCache::complete(std::string_view key, std::int32_t product, std::uint64_t flight,
                             Stamp stamp_at_start, ResponsePtr response, std::int64_t now_ms) {
  const KeyView probe(key, hash_key(key));
  Shard& shard = shard_for(probe.hash);
  const bool store = response != nullptr && enabled();
  // Built before locking: the shard lock covers map and list work only.
  Key owned{store ? std::string(key) : std::string(), probe.hash};
  const std::int64_t ttl = options_.ttl_ms - ttl_spread(probe.hash, flight);
  const std::int64_t expires_ms = now_ms > std::numeric_limits<std::int64_t>::max() - ttl
                                      ? std::numeric_limits<std::int64_t>::max()
                                      : now_ms + ttl;

  std::vector<Waiter> waiters;
  std::vector<ResponsePtr> graveyard;  // declared before the lock: released after it
  {
    std::lock_guard lock(shard.mu);
    if (auto it = shard.flights.find(probe); it != shard.flights.end() && it->second.id == flight) {
      waiters = std::move(it->second.waiters);
      shard.flights.erase(it);
    } else if (auto old = shard.superseded.find(flight); old != shard.superseded.end()) {
      waiters = std::move(old->second);
      shard.superseded.erase(old);
    }

    if (store) {
      const std::size_t charge = key.size() + response->charge() + kEntryOverhead;
      if (stamp_at_start != stamp(product) || charge > shard.budget) {
        ++shard.rejected;
      } else {
        try {
          shard.insert(Shard::Entry{.value = response,
                                    .stamp = stamp_at_start,
                                    .expires_ms = expires_ms,
                                    .charge = charge,
                                    .key = std::move(owned)},
                       graveyard);
        } catch (const std::bad_alloc&) {
          // insert() leaves the shard consistent when it throws. Not storing is always allowed;
          // losing the detached waiters is not, so they are still called below.
          ++shard.rejected;
        }
      }
    }
  }

  // Outside every lock: a waiter may post to a reactor, or even call back into the cache.
  std::exception_ptr first_error;
  for (Waiter& w : waiters) {
    try {
      w(response);
    } catch (...) {
      if (!first_error) first_error = std::current_exception();
    }
  }
  if (first_error) std::rethrow_exception(first_error);
}

void ResponseCache::upgrade(std::string_view key, const ResponsePtr& old, ResponsePtr replacement) {
  if (!old || !replacement || !enabled()) return;
  const KeyView probe(key, hash_key(key));
  Shard& shard = shard_for(probe.hash);
  std::vector<ResponsePtr> graveyard;  // declared before the lock: released after it
  ResponsePtr replaced;                // likewise
  std::lock_guard lock(shard.mu);
  Shard::Entry* const found = shard.find(probe);
  if (!found || found->value != old) return;
  Shard::Entry& e = *found;
  const std::size_t charge = key.size() + replacement->charge() + kEntryOverhead;
  if (charge > shard.budget) {
    ++shard.rejected;
    return;
  }
  shard.touch(e);
  if (charge > e.charge) shard.make_room(charge - e.charge, &e, graveyard);
  shard.bytes = shard.bytes - e.charge + charge;
  e.charge = charge;
  replaced = std::exchange(e.value, std::move(replacement));
}

void ResponseCache::invalidate(std::int32_t product, std::int64_t now_ms) noexcept {
  Slot& slot = slots_[slot_index(product, options_.generation_slots)];
  // The time first, then the generation (release): whoever sees the new generation sees the
  // time too. Kept as a maximum, so concurrent writers never move it back.
  std::int64_t seen = slot.invalidated_ms.load(std::memory_order_relaxed);
  while (seen < now_ms &&
         !slot.invalidated_ms.compare_exchange_weak(seen, now_ms, std::memory_order_relaxed)) {
  }
  slot.generation.fetch_add(1, std::memory_order_release);
  invalidations_.fetch_add(1, std::memory_order_relaxed);
}

std::int64_t ResponseCache::last_invalidated_ms(std::int32_t product) const noexcept {
  const Slot& slot = slots_[slot_index(product, options_.generation_slots)];
  return slot.invalidated_ms.load(std::memory_order_acquire);
}

void ResponseCache::invalidate_all() noexcept {
  epoch_.fetch_add(1, std::memory_order_release);
  invalidations_all_.fetch_add(1, std::memory_order_relaxed);
}

Stats ResponseCache::stats() const {
  Stats s;
  for (const auto& shard : shards_) {
    std::lock_guard lock(shard->mu);
    s.hits += shard->hits;
    s.misses += shard->misses;
    s.coalesced += shard->coalesced;
    s.stale += shard->stale;
    s.insertions += shard->insertions;
    s.rejected += shard->rejected;
    s.evictions += shard->evictions;
    s.entries += shard->entries.size();
    s.bytes += shard->bytes;
  }
  s.invalidations = invalidations_.load(std::memory_order_relaxed);
  s.invalidations_all = invalidations_all_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace cache
