// The database schema, as an ordered list of versioned migrations, and the secondary indexes
// the read queries rely on. `reviewsd migrate` applies what is missing; `reviewsd load` drops
// the secondary indexes for the COPY and builds them again afterwards.
#pragma once

#include <libpq-fe.h>

#include <span>
#include <string_view>

namespace db {

struct Migration {
  int version;
  std::string_view description;
  std::string_view sql;
};

struct IndexDef {
  std::string_view name;
  std::string_view create_sql;  // CREATE INDEX IF NOT EXISTS ...
};

// Every migration, in version order. Never edit a released one: append a new version.
std::span<const Migration> migrations();

// Secondary (non primary key) indexes, kept in one place for migrate and load.
std::span<const IndexDef> secondary_indexes();

// Result of migrate(): versions before and after.
struct MigrateResult {
  int from_version = 0;
  int to_version = 0;
};

// Applies the missing migrations, each in its own transaction, serialised against concurrent
// migrators by an advisory lock. Running it on an up-to-date database changes nothing.
// Throws DbError.
MigrateResult migrate(PGconn* conn);

// The schema version of the database (0 when never migrated). Throws DbError.
int schema_version(PGconn* conn);

}  // namespace db
