// ResponseCache: one per process, shared by every reactor. A sharded LRU of complete,
// ready-to-send HTTP responses, bounded in bytes, with single flight for concurrent misses and
// O(1) invalidation per product (DESIGN.md "Cache").
//
// Freshness. An entry is served only while all three hold:
//  - its product's generation is the one read (stamp()) before the query that produced it was
//    issued: invalidate(product) bumps the generation, so every entry of that product, and every
//    query already in flight for it, is stale from that instant;
//  - the cache-wide epoch is unchanged (invalidate_all(), e.g. after a lost LISTEN connection);
//  - its TTL has not passed.
// Stale entries are dropped when met; the LRU and the byte budget take care of the rest.
//
// Threads. Every method may be called from any thread. Each shard has its own mutex, held only
// for map and list operations (never across I/O, allocation of values, or a waiter's callback).
// Generations are an array of relaxed/acquire-release atomics: invalidate() takes no lock.
//
// Memory. `max_bytes` is split evenly over the shards; a shard never holds more than its share,
// counting key.size() + value->charge() + kEntryOverhead per entry, at any instant. A value
// larger than one shard's share is never stored (it is still handed to the flight's waiters).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace cache {

// A response as the server will send it. Built once, then immutable and shared. The cache does
// not look inside beyond charge(); the server decides what goes in the strings.
// Bytes charged per entry on top of its key and value: the entry holding the key object and
// the bookkeeping (~112 with malloc's header), its index slots (16 bytes each, up to four per
// entry: the index is kept between a quarter and half full), and the shared_ptr control block
// with its own malloc header (~32). Rounded up so that short keys and small values are not
// under-counted; the .cpp checks it against the real layout.
inline constexpr std::size_t kEntryOverhead = 224;

struct CachedResponse {
  std::string etag;     // strong ETag of the plain body, quoted
  std::string head;     // header lines after the per-connection ones, through the blank line
  std::string body;     // plain body
  std::string gz_etag;  // empty when there is no gzip variant
  std::string gz_head;
  std::string gz_body;
  [[nodiscard]] bool has_gzip() const noexcept { return !gz_body.empty(); }
  // Bytes this value costs the cache: sizeof(CachedResponse) + the six strings' size().
  [[nodiscard]] std::size_t charge() const noexcept;
};

using ResponsePtr = std::shared_ptr<const CachedResponse>;

// What a query was issued against: compare with the current one before storing its result.
struct Stamp {
  std::uint32_t generation = 0;
  std::uint32_t epoch = 0;
  friend bool operator==(const Stamp&, const Stamp&) = default;
};

struct Options {
  // 0 disables the cache: nothing is kept, so no lookup hits, but misses still coalesce.
  std::size_t max_bytes = 256u << 20;
  std::int64_t ttl_ms = 60'000;  // safety net behind invalidation; > 0
  // Entries live between ttl_ms x (100 - ttl_spread_percent)% and ttl_ms, spread by a hash of
  // key and flight: a cache filled in one burst (a warm-up, the refill after a flush) would
  // otherwise expire in one burst too, and send all its queries to PostgreSQL in the same
  // second. 0..100; 0 gives every entry exactly ttl_ms.
  int ttl_spread_percent = 20;
  std::size_t shards = 16;  // power of two
  // Generation slots: product ids are mapped onto them modulo this power of two. A collision
  // only costs extra misses. 2^20 covers the full data set's 1,000,011 products one to one.
  // Power of two, at most 2^32 (product ids are 32-bit).
  std::size_t generation_slots = 1u << 20;
};

struct Stats {
  std::uint64_t hits = 0;
  std::uint64_t misses = 0;     // lookups that led a query (Lead)
  std::uint64_t coalesced = 0;  // lookups that joined a query already in flight (Wait)
  std::uint64_t stale = 0;      // entries met but dropped: generation, epoch or TTL
  std::uint64_t insertions = 0;
  std::uint64_t rejected = 0;           // results not stored: stale stamp, or larger than a shard
  std::uint64_t evictions = 0;          // removed by LRU to stay within the byte budget
  std::uint64_t invalidations = 0;      // invalidate() calls
  std::uint64_t invalidations_all = 0;  // invalidate_all() calls
  std::uint64_t entries = 0;
  std::uint64_t bytes = 0;  // charged bytes held now
};

class ResponseCache {
 public:
  // Called with the flight's result (nullptr when the leader failed) on the thread that calls
  // complete(), after every lock is released. It must not block; a server posts to its reactor.
  // It should not throw: if one does, the remaining waiters are still called, then complete()
  // rethrows the first exception.
  using Waiter = std::function<void(ResponsePtr)>;

  struct Lookup {
    enum class Kind : std::uint8_t {
      Hit,   // `response` is fresh: send it
      Lead,  // miss: run the query, then call complete(key, flight, ...) exactly once
      Wait,  // a query for this key is in flight: the waiter will be called
    };
    Kind kind = Kind::Lead;
    ResponsePtr response;      // Hit
    Stamp stamp;               // Lead: the stamp the query runs under
    std::uint64_t flight = 0;  // Lead: pass to complete()
  };

  // Throws std::invalid_argument for options outside the documented ranges.
  explicit ResponseCache(const Options& options);
  // Destroy only after every leader has completed: waiters of open flights are never called.
  ~ResponseCache();
  ResponseCache(const ResponseCache&) = delete;
  ResponseCache& operator=(const ResponseCache&) = delete;

  [[nodiscard]] bool enabled() const noexcept { return options_.max_bytes > 0; }
  [[nodiscard]] const Options& options() const noexcept { return options_; }

  // The current stamp of `product`.
  [[nodiscard]] Stamp stamp(std::int32_t product) const noexcept;

  // The hit-only half of lookup(): the fresh entry, or nullptr (then call lookup(), which
  // counts the miss). Lets a hit skip building a Waiter. One shard lock.
  [[nodiscard]] ResponsePtr find(std::string_view key, std::int32_t product, std::int64_t now_ms);

  // One shard lock. `key` is canonical (the server builds it), `product` the product it
  // belongs to, `now_ms` a steady-clock time in ms. `waiter` is moved from only for Wait.
  // A key whose flight was started under an older stamp is not joined: the caller leads a
  // new flight (a read after a write never receives a result that predates the write).
  // When the cache is disabled: never Hit, but misses still coalesce (Lead, then Wait).
  [[nodiscard]] Lookup lookup(std::string_view key, std::int32_t product, std::int64_t now_ms,
                              Waiter& waiter);

  // Ends a flight started by lookup() → Lead. Stores `response` (if non-null, enabled, its
  // stamp still current and it fits), then calls every waiter of that flight, and only of that
  // flight, with `response`. A second call, or an unknown `flight`, wakes nobody and only tries
  // to store. Expiry is `now_ms` + ttl_ms, less the spread (Options).
  void complete(std::string_view key, std::int32_t product, std::uint64_t flight, Stamp stamp,
                ResponsePtr response, std::int64_t now_ms);

  // Replaces the value of `key` if it is still exactly `old` (same pointer), keeping its stamp
  // and expiry, and marks it recently used. For adding a variant (gzip) to an entry that was
  // stored without one. Other entries may be evicted to make room; a replacement larger than a
  // shard leaves `old` in place (counted as rejected). Otherwise a no-op.
  void upgrade(std::string_view key, const ResponsePtr& old, ResponsePtr replacement);

  // O(1), no lock: every entry and flight of `product` becomes stale. `now_ms` is remembered
  // for last_invalidated_ms().
  void invalidate(std::int32_t product, std::int64_t now_ms) noexcept;
  // When `product` (or a product sharing its generation slot) was last invalidated, or
  // INT64_MIN if never. The server sends reads of recently written products to the primary
  // (read your writes while replicas catch up).
  [[nodiscard]] std::int64_t last_invalidated_ms(std::int32_t product) const noexcept;
  // Every entry and flight becomes stale (the epoch moves on).
  void invalidate_all() noexcept;

  // Sum over shards (each locked briefly in turn).
  [[nodiscard]] Stats stats() const;

 private:
  struct Shard;
  Shard& shard_for(std::size_t key_hash) const noexcept;
  // How much shorter than ttl_ms this entry lives: 0 .. ttl_ms x ttl_spread_percent / 100.
  [[nodiscard]] std::int64_t ttl_spread(std::size_t key_hash, std::uint64_t flight) const noexcept;

  Options options_;
  std::vector<std::unique_ptr<Shard>> shards_;
  unsigned shard_shift_ = 0;  // shard index = key hash >> shard_shift_ (its top bits)
  struct Slot {
    std::atomic<std::uint32_t> generation{0};
    std::atomic<std::int64_t> invalidated_ms{INT64_MIN};
  };
  std::unique_ptr<Slot[]> slots_;  // options_.generation_slots of them
  std::atomic<std::uint32_t> epoch_{0};
  std::atomic<std::uint64_t> invalidations_{0}, invalidations_all_{0};
  std::atomic<std::uint64_t> next_flight_{1};
};

}  // namespace cache
