// `reviewsd-bench report` (issue 7): not written yet.
#include "bench/commands.h"

#include <fmt/format.h>

namespace bench {

int cmd_report(const std::vector<std::string_view>&) {
  throw UsageError{"'report' is not implemented yet"};
}

}  // namespace bench
