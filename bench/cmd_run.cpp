// `reviewsd-bench run` (issue 7): not written yet.
#include "bench/commands.h"

#include <fmt/format.h>

namespace bench {

int cmd_run(const std::vector<std::string_view>&) {
  throw UsageError{"'run' is not implemented yet"};
}

}  // namespace bench
