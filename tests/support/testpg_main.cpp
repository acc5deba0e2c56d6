// reviewsd-testpg start|stop DIR: the private PostgreSQL cluster of the `pg` CTest fixture.
// `start` creates a throwaway cluster (fsync off) in DIR and starts it on a unix socket in
// DIR/sock; `stop` stops it and removes DIR. ctest runs `stop` even when tests fail.
#include "db/local_cluster.h"
#include "support/test_env.h"

#include <fmt/format.h>

#include <cstring>
#include <exception>
#include <filesystem>

int main(int argc, char** argv) {
  if (argc != 3 || (std::strcmp(argv[1], "start") != 0 && std::strcmp(argv[1], "stop") != 0)) {
    fmt::print(stderr, "usage: reviewsd-testpg start|stop DIR\n");
    return 2;
  }
  db::LocalClusterOptions opts;
  opts.dir = argv[2];
  opts.port = testenv::kTestPgPort;
  opts.durable = false;
  db::LocalCluster cluster(opts);
  try {
    if (std::strcmp(argv[1], "start") == 0) {
      cluster.stop();  // a cluster left over by an interrupted run is replaced
      std::filesystem::remove_all(opts.dir);
      cluster.init_if_missing();
      cluster.start();
      fmt::print("test cluster up: {}\n", cluster.conninfo());
    } else {
      cluster.stop();
      std::filesystem::remove_all(opts.dir);
      fmt::print("test cluster stopped and removed\n");
    }
  } catch (const std::exception& e) {
    fmt::print(stderr, "reviewsd-testpg: {}\n", e.what());
    return 1;
  }
  return 0;
}
