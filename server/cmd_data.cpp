// The data subcommands: migrate, gen, load (API.md §1 is their contract).
#include "db/csv.h"
#include "db/gen.h"
#include "db/loader.h"
#include "db/pg.h"
#include "db/schema.h"
#include "db/statements.h"
#include "server/args.h"
#include "server/commands.h"

#include <fmt/format.h>

#include <cstdio>

namespace server {

namespace {
constexpr const char* kDbHelp = "PostgreSQL to use: a libpq connection string or URI (required)";
}  // namespace

const CommandSpec& migrate_spec() {
  static const CommandSpec spec{
      "migrate",
      "--db CONNINFO",
      "Creates or upgrades the schema and its indexes. Idempotent: on an up-to-date database\n"
      "it changes nothing.\n",
      {{"db", OptionKind::Value, "CONNINFO", kDbHelp}}};
  return spec;
}

const CommandSpec& gen_spec() {
  static const CommandSpec spec{
      "gen",
      "--scale SF --out DIR [--seed N] [--quiet]",
      "Writes a synthetic data set in the original CSV format (API.md §1) into DIR.\n"
      "--scale 1 is the full data set (1,000,011 products, 5.8M reviews); 0.01 a 1% sample.\n"
      "The same scale and seed always give the same bytes.\n",
      {{"scale", OptionKind::Value, "SF", "data set scale, 1 = full size", "0.01"},
       {"out", OptionKind::Value, "DIR", "directory to write the CSV files to (required)"},
       {"seed", OptionKind::Value, "N", "generator seed", "42"},
       {"quiet", OptionKind::Flag, "", "no progress lines"}}};
  return spec;
}

const CommandSpec& load_spec() {
  static const CommandSpec spec{
      "load",
      "--db CONNINFO --from DIR [--replace] [--quiet]",
      "Loads the five CSV files of DIR (reviews.csv, reviews_photos.csv, characteristics.csv,\n"
      "characteristic_reviews.csv, related.csv) with COPY, in one transaction: on any error\n"
      "(reported as FILE:LINE: reason, exit 1) the database is left as it was. Migrates the\n"
      "schema first. Refuses a database that already holds data unless --replace is given.\n",
      {{"db", OptionKind::Value, "CONNINFO", kDbHelp},
       {"from", OptionKind::Value, "DIR", "directory holding the CSV files (required)"},
       {"replace", OptionKind::Flag, "", "replace the data of a database that already holds some"},
       {"quiet", OptionKind::Flag, "", "no progress lines"}}};
  return spec;
}

const CommandSpec& sql_spec() {
  static const CommandSpec spec{
      "sql",
      "[--name NAME]",
      "Prints the SQL statements the server prepares on every connection, one per line as\n"
      "NAME<TAB>SQL (or only the SQL of NAME): for EXPLAIN, and for running the same SQL\n"
      "through pgbench in bench/.\n",
      {{"name", OptionKind::Value, "NAME", "print only this statement's SQL"}}};
  return spec;
}

int cmd_migrate(int argc, char** argv) {
  const Args args(argc, argv, migrate_spec());
  if (args.flag("help")) {
    fmt::print("{}", help_text(migrate_spec()));
    return 0;
  }
  const std::string conninfo = args.required("db");
  auto conn = db::connect(conninfo);
  const auto r = db::migrate(conn.get());
  if (r.from_version == r.to_version) {
    fmt::print("schema is up to date (version {})\n", r.to_version);
  } else {
    fmt::print("schema migrated from version {} to {}\n", r.from_version, r.to_version);
  }
  return 0;
}

int cmd_gen(int argc, char** argv) {
  const Args args(argc, argv, gen_spec());
  if (args.flag("help")) {
    fmt::print("{}", help_text(gen_spec()));
    return 0;
  }
  db::GenOptions opts;
  opts.scale = args.get_double("scale", 0.01, 1e-6, 100);
  opts.out = args.required("out");
  opts.seed = static_cast<std::uint64_t>(args.get_int("seed", 42, 0, INT64_MAX));
  opts.progress = !args.flag("quiet");
  const auto s = db::generate_dataset(opts);
  fmt::print(
      "generated scale {} in {}: {} products, {} reviews, {} photos, {} characteristics, "
      "{} characteristic ratings, {} related rows; {:.1f} MB in {:.1f} s\n",
      opts.scale, opts.out.string(), s.products, s.reviews, s.photos, s.characteristics,
      s.characteristic_reviews, s.related, static_cast<double>(s.bytes) / 1e6, s.seconds);
  return 0;
}

int cmd_load(int argc, char** argv) {
  const Args args(argc, argv, load_spec());
  if (args.flag("help")) {
    fmt::print("{}", help_text(load_spec()));
    return 0;
  }
  db::LoadOptions opts;
  opts.conninfo = args.required("db");
  opts.from = args.required("from");
  opts.replace = args.flag("replace");
  opts.progress = !args.flag("quiet");
  const auto s = db::load_dataset(opts);
  for (const auto& t : s.tables) {
    fmt::print("  {:<24} {:>10} rows{} ({:.1f} MB, {:.1f} s)\n", t.table, t.rows,
               t.dropped ? fmt::format(", {} invalid dropped", t.dropped) : "",
               static_cast<double>(t.bytes) / 1e6, t.seconds);
  }
  fmt::print("loaded in {:.1f} s: copy {:.1f} s, indexes {:.1f} s, analyze {:.1f} s\n",
             s.total_seconds, s.copy_seconds, s.index_seconds, s.analyze_seconds);
  return 0;
}

}  // namespace server

namespace server {

int cmd_sql(int argc, char** argv) {
  const Args args(argc, argv, sql_spec());
  if (args.flag("help")) {
    fmt::print("{}", help_text(sql_spec()));
    return 0;
  }
  const auto only = args.get("name");
  bool found = false;
  for (const auto& st : db::sql::statements()) {
    if (only && *only != st.name) continue;
    found = true;
    if (only) {
      fmt::print("{}\n", st.sql);
    } else {
      fmt::print("{}\t{}\n", st.name, st.sql);
    }
  }
  if (!found) throw UsageError(fmt::format("no statement named '{}'", only.value_or("")));
  return 0;
}

}  // namespace server
