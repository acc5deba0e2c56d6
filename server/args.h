// Command-line options of one subcommand: `--key value`, `--key=value`, repeatable keys and
// boolean flags. A key not given on the command line falls back to the environment variable
// REVIEWSD_<KEY> (upper case, '-' as '_'), as DESIGN.md's precedence says (flag > env > default).
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace server {

// A usage or configuration error: the binary prints it and exits with status 2.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Args {
 public:
  // `valued`: options that take a value; `flags`: options that do not. `--help`/`-h` is always
  // accepted as a flag. Throws UsageError for an unknown option, a missing value or a
  // positional argument.
  Args(int argc, char** argv, std::set<std::string> valued, std::set<std::string> flags);

  [[nodiscard]] bool flag(const std::string& name) const;
  // First occurrence on the command line, else REVIEWSD_<NAME> from the environment.
  [[nodiscard]] std::optional<std::string> get(const std::string& name) const;
  // Every occurrence on the command line (else the environment variable, if set).
  [[nodiscard]] std::vector<std::string> all(const std::string& name) const;
  // get() or UsageError("--name is required").
  [[nodiscard]] std::string required(const std::string& name) const;
  // Parsed numbers; UsageError names the option and the accepted range.
  [[nodiscard]] std::int64_t get_int(const std::string& name, std::int64_t fallback,
                                     std::int64_t min, std::int64_t max) const;
  [[nodiscard]] double get_double(const std::string& name, double fallback, double min,
                                  double max) const;

 private:
  std::vector<std::pair<std::string, std::string>> values_;
  std::set<std::string> flags_set_;
};

}  // namespace server
