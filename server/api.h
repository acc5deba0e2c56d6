// The Ratings & Reviews API (API.md §3) on top of the HTTP engine: the routes, their parameter
// rules, and the per-reactor state they need (the reactor's PgPool).
#pragma once

#include "server/router.h"
#include "server/server.h"

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

namespace server {

// Database options of `reviewsd serve` (flags --db, --replica, --db-conns-per-thread, ...).
struct DbOptions {
  std::string primary;                // conninfo; empty: no database (engine routes only)
  std::vector<std::string> replicas;  // read replicas
  unsigned conns_per_server = 1;      // per reactor, to the primary and to each replica
  std::chrono::milliseconds deadline{2000};
  std::size_t max_outstanding = 4096;  // per reactor
  bool pipeline = true;
};

// Response cache options of `reviewsd serve` (--cache-mb, --cache-ttl-s, ...).
struct CacheOptions {
  std::size_t max_bytes = 256u << 20;  // 0 disables the cache
  std::chrono::milliseconds ttl{60'000};
  // After a write to a product (through this instance, or learnt by NOTIFY), its reads go to the
  // primary for this long, so a replica that has not replayed the write yet cannot answer (and
  // fill the cache) with the old data.
  std::chrono::milliseconds read_your_writes{2'000};
};

// Registers GET /reviews, /reviews/meta, /products/:product_id/related (and their aliases) and
// /readyz. Their handlers find the reactor's pool through api_reactor_hooks().
void add_api_routes(Router& router);

// Creates the process's response cache and each reactor's PgPool (on the reactor's own thread
// when it starts; destroyed there when it stops), and the LISTEN connection that invalidates the
// cache when another writer changes the data. `db` and `cache` must outlive the server.
ReactorHooks api_reactor_hooks(const DbOptions& db, const CacheOptions& cache);

}  // namespace server
