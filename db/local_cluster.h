// A private PostgreSQL cluster in a directory of ours: initdb, start on a unix socket in that
// directory (no TCP unless asked), stop. Used by the test fixture, `reviewsd demo` and the bench.
//
// PostgreSQL refuses to run as root: when we are root, initdb and the postmaster run as the
// `postgres` OS user that Debian's package creates, and the directory is chowned to it.
// Blocking; never call from a reactor thread.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace db {

struct LocalClusterOptions {
  std::filesystem::path dir;                // holds data/, sock/ and server.log
  int port = 5432;                          // names the socket file; TCP only when listen_tcp
  bool listen_tcp = false;                  // also listen on 127.0.0.1:port
  bool durable = true;                      // false: fsync=off etc., for throwaway test clusters
  std::vector<std::string> extra_settings;  // "key = value" lines for postgresql.conf
};

class LocalCluster {
 public:
  explicit LocalCluster(LocalClusterOptions opts);

  // initdb when dir/data has no cluster yet. Returns true when it created one.
  bool init_if_missing();
  // Starts the postmaster and waits until it accepts connections. Throws on failure,
  // with the tail of server.log in the message. No-op when already running.
  void start();
  // Fast shutdown; waits for it. No-op when not running.
  void stop() noexcept;
  // Immediate shutdown, as a crash: no checkpoint, WAL recovery at the next start (fault tests).
  void crash() noexcept;
  [[nodiscard]] bool running() const;

  // libpq conninfo for `dbname` over the unix socket, as the superuser `postgres`.
  [[nodiscard]] std::string conninfo(const std::string& dbname = "postgres") const;
  [[nodiscard]] const LocalClusterOptions& options() const { return opts_; }
  [[nodiscard]] std::filesystem::path socket_dir() const { return opts_.dir / "sock"; }
  [[nodiscard]] std::filesystem::path data_dir() const { return opts_.dir / "data"; }

  // Directory with initdb/pg_ctl/pgbench: $REVIEWSD_PG_BINDIR, else the newest
  // /usr/lib/postgresql/*/bin. Throws when none is found.
  static std::filesystem::path bindir();

 private:
  // Runs a PostgreSQL program as the cluster owner; returns its exit status.
  int run_pg(const std::string& program, const std::vector<std::string>& args,
             const std::filesystem::path& log) const;
  LocalClusterOptions opts_;
};

}  // namespace db
