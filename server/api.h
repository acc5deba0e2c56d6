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

// Registers GET /reviews, /reviews/meta, /products/:product_id/related (and their aliases) and
// /readyz. Their handlers find the reactor's pool through api_reactor_hooks().
void add_api_routes(Router& router);

// Creates each reactor's PgPool on its own thread when it starts, and destroys it there when it
// stops. `db` must outlive the server.
ReactorHooks api_reactor_hooks(const DbOptions& db);

}  // namespace server
