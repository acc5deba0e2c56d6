// reviewsd: one binary, one subcommand per operation (DESIGN.md, "Command-line contract").
#include "server/args.h"
#include "server/commands.h"
#include "server/log.h"

#include <fmt/format.h>

#include <cstdio>
#include <cstring>
#include <exception>
#include <string_view>

namespace {

struct Subcommand {
  std::string_view name;
  int (*run)(int argc, char** argv);
  std::string_view summary;
};

constexpr Subcommand kSubcommands[] = {
    {"serve", server::cmd_serve, "serve the HTTP API (reactor threads, graceful drain)"},
    {"migrate", server::cmd_migrate, "create or upgrade the schema and indexes (idempotent)"},
    {"gen", server::cmd_gen, "generate a data set in the original CSV format"},
    {"load", server::cmd_load, "load a CSV data set into PostgreSQL (COPY), with validation"},
    {"demo", server::cmd_demo, "private PostgreSQL under ./var, generated data, then serve"},
    {"sql", server::cmd_sql, "print the SQL statements the server prepares"},
};

void usage(std::FILE* out) {
  fmt::print(out,
             "usage: reviewsd <command> [options]   (reviewsd <command> --help)\n"
             "       reviewsd --version\n\ncommands:\n");
  for (const auto& s : kSubcommands) fmt::print(out, "  {:<9} {}\n", s.name, s.summary);
  fmt::print(out, "  {:<9} {}\n", "version", "print the version");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  if (!std::strcmp(argv[1], "--version") || !std::strcmp(argv[1], "version")) {
    fmt::print("reviewsd {}\n", REVIEWSD_VERSION);
    return 0;
  }
  for (const auto& s : kSubcommands) {
    if (s.name != argv[1]) continue;
    try {
      return s.run(argc - 2, argv + 2);
    } catch (const server::UsageError& e) {
      server::print_error(fmt::format("reviewsd {}: {}", s.name, e.what()));
      return 2;
    } catch (const std::exception& e) {
      server::print_error(fmt::format("reviewsd {}: {}", s.name, e.what()));
      return 1;
    }
  }
  fmt::print(stderr, "reviewsd: unknown command '{}'\n", argv[1]);
  usage(stderr);
  return 2;
}
