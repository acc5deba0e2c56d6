// reviewsd: one binary, one subcommand per operation (DESIGN.md, "Command-line contract").
#include "server/args.h"
#include "server/commands.h"
#include "server/log.h"

#include <fmt/format.h>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string_view>

namespace {

struct Subcommand {
  std::string_view name;
  int (*run)(int argc, char** argv);
  std::string_view summary;
  bool serves = false;  // runs the server: started with its malloc settings (tune_malloc)
};

constexpr Subcommand kSubcommands[] = {
    {"serve", server::cmd_serve, "serve the HTTP API (reactor threads, graceful drain)", true},
    {"migrate", server::cmd_migrate, "create or upgrade the schema and indexes (idempotent)"},
    {"gen", server::cmd_gen, "generate a data set in the original CSV format"},
    {"load", server::cmd_load, "load a CSV data set into PostgreSQL (COPY), with validation"},
    {"demo", server::cmd_demo, "private PostgreSQL under ./var, generated data, then serve", true},
    {"sql", server::cmd_sql, "print the SQL statements the server prepares"},
};

void usage(std::FILE* out) {
  fmt::print(out,
             "usage: reviewsd <command> [options]   (reviewsd <command> --help)\n"
             "       reviewsd --version\n\ncommands:\n");
  for (const auto& s : kSubcommands) fmt::print(out, "  {:<9} {}\n", s.name, s.summary);
  fmt::print(out, "  {:<9} {}\n", "version", "print the version");
}

// The allocator settings of the server: one malloc arena, its heap on transparent huge pages
// where the kernel allows them (THP "always" or "madvise"). A cache filling up grows the heap by
// hundreds of megabytes, and with 4 KB pages every new page costs a page fault: on the VMs we
// measured, faults and heap growth took a fifth of the server's CPU while the cache filled, and
// a cold cache served fewer requests/s than no cache at all (bench/RESULTS.md, issue 6, "A cold
// cache"). glibc reads these settings only at startup, from GLIBC_TUNABLES, so the process
// re-executes itself once with them set (same pid: systemd's Type=notify is unaffected), then
// removes them from its environment, so that the processes it starts (PostgreSQL, in demo) do
// not inherit them. An operator who sets GLIBC_TUNABLES, even to nothing, is left alone.
constexpr const char* kTunables = "glibc.malloc.hugetlb=1:glibc.malloc.arena_max=1";
constexpr const char* kTunedMarker = "REVIEWSD_MALLOC_TUNED";

void tune_malloc(char** argv) {
  if (std::getenv(kTunedMarker)) {  // the re-executed process: glibc has read the settings
    ::unsetenv(kTunedMarker);
    ::unsetenv("GLIBC_TUNABLES");
    return;
  }
  if (std::getenv("GLIBC_TUNABLES")) return;
  if (::setenv("GLIBC_TUNABLES", kTunables, 1) != 0 || ::setenv(kTunedMarker, "1", 1) != 0) return;
  ::execv("/proc/self/exe", argv);
  // No /proc (a chroot, a sandbox): run with glibc's defaults.
  ::unsetenv(kTunedMarker);
  ::unsetenv("GLIBC_TUNABLES");
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
    if (s.serves) tune_malloc(argv);
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
