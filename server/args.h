// Options of one subcommand, from three layers: the command line, the environment and a config
// file. Per key, the highest layer that has it wins: flag > REVIEWSD_<KEY> > file > default
// (DESIGN.md, "Command-line contract"). The option tables of the subcommands live here too, so
// that --help, the config-file keys and the environment names come from one list.
//
// Layers
// - Command line: `--key value`, `--key=value`; a flag is `--key` (or `--key=true|false`).
//   A single-valued key given twice: the first occurrence counts (wrappers put their own
//   options first). A list key (`listen`, `replica`) accumulates.
// - Environment: REVIEWSD_<KEY>, upper case, '-' as '_' (REVIEWSD_CACHE_MB). An empty variable
//   counts as unset. Unknown REVIEWSD_* variables are ignored (tests and wrappers set their
//   own). A list key takes one value from the environment.
// - Config file (subcommands with `config_file`): `--config FILE`, else REVIEWSD_CONFIG; an
//   empty name reads no file. Format (server/README.md): one `key = value` per line, key = the
//   long option name; `#` starts a comment line only (no inline comments: a password may
//   contain '#'); list keys may repeat and accumulate; any other key given twice is an error.
// - Flags take `true`/`false` in the file and in the environment.
// For a list key the winning layer replaces the lower ones entirely.
//
// Errors are UsageError (exit status 2) and name where the value came from:
//   "--threads: 'x' is not an integer in 0..1024"
//   "threads (config /etc/reviewsd.conf:4): 'x' is not an integer in 0..1024"
//   "config /etc/reviewsd.conf:7: unknown key 'thread'"
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace server {

// A usage or configuration error: the binary prints it and exits with status 2.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class OptionKind : std::uint8_t {
  Value,   // --key VALUE, one value
  List,    // --key VALUE, repeatable; values accumulate within a layer
  Flag,    // --key; `true`/`false` in the file and environment
  Action,  // --key, command line only (--help, --check-config): not a setting
};

struct OptionSpec {
  std::string name{};  // long name without "--": also the config-file key and env suffix
  OptionKind kind = OptionKind::Value;
  std::string metavar{};   // "N", "HOST:PORT" in --help (empty for flags)
  std::string help{};      // for --help; '\n' continues on the next line
  std::string fallback{};  // the default, for --help ("" = none shown)
  bool group = false;      // --help prints a blank line before this option
};

class Args;

struct CommandSpec {
  std::string name;                 // "serve"
  std::string synopsis;             // after "usage: reviewsd NAME "
  std::string description;          // paragraphs printed after the usage line
  std::vector<OptionSpec> options;  // without --help and --config: every command gets --help,
  bool config_file = false;         // and --config FILE when this is true
  [[nodiscard]] const OptionSpec* find(const std::string& name) const;
};

// The option tables of the subcommands (defined next to each: cmd_serve.cpp, cmd_demo.cpp,
// cmd_data.cpp). demo's table includes serve's options, which it passes on to serve.
const CommandSpec& serve_spec();
const CommandSpec& demo_spec();
const CommandSpec& migrate_spec();
const CommandSpec& gen_spec();
const CommandSpec& load_spec();
const CommandSpec& sql_spec();
// Every check `serve` makes on its options, without acting on them. demo runs it on its own
// Args (a superset of serve's options but --db/--replica) before it starts a cluster.
void check_serve_config(const Args& args);

// --help text: usage, description, every option (with --config and --help), and the
// environment/config-file rule.
[[nodiscard]] std::string help_text(const CommandSpec& spec);

// Where a value came from.
enum class Source : std::uint8_t { Default, File, Env, Flag };

// One value of one key, with its origin for messages: "--threads", "env REVIEWSD_THREADS",
// "config /etc/reviewsd.conf:4".
struct Setting {
  std::string value;
  Source source = Source::Default;
  std::string where;
};

class Args {
 public:
  // Parses `argv` (the arguments after the subcommand's name), then, unless --help was given,
  // the environment and the config file. Throws UsageError for an unknown option, a missing
  // value, a positional argument, an unreadable or malformed config file, an unknown or
  // repeated key in it, or a flag whose file/env value is not true/false. Values are checked
  // for type and range only when read (get_int...), so the caller must read every key it uses
  // before acting (serve does, in one function).
  Args(int argc, char** argv, const CommandSpec& spec);
  // Ad-hoc form (no config file, every valued option repeatable). Kept for small tools.
  Args(int argc, char** argv, std::set<std::string> valued, std::set<std::string> flags);

  // Lookups of a name the command does not have read as unset (demo reuses serve's checks).

  // A flag's effective value, or whether an action (--help) was given.
  [[nodiscard]] bool flag(const std::string& name) const;
  // First value of the winning layer.
  [[nodiscard]] std::optional<std::string> get(const std::string& name) const;
  // Every value of the winning layer.
  [[nodiscard]] std::vector<std::string> all(const std::string& name) const;
  // get() or UsageError("--name is required").
  [[nodiscard]] std::string required(const std::string& name) const;
  // Parsed numbers; UsageError names the option, where it came from and the accepted range.
  [[nodiscard]] std::int64_t get_int(const std::string& name, std::int64_t fallback,
                                     std::int64_t min, std::int64_t max) const;
  [[nodiscard]] double get_double(const std::string& name, double fallback, double min,
                                  double max) const;

  // The winning layer's values with their origins (empty: default).
  [[nodiscard]] const std::vector<Setting>& settings(const std::string& name) const;
  [[nodiscard]] Source source(const std::string& name) const;
  // "--threads", "env REVIEWSD_THREADS", "config FILE:LINE" or "default".
  [[nodiscard]] std::string where(const std::string& name) const;
  // UsageError("<key as located>: <reason>") for a value a caller found invalid, e.g.
  // fail(s, "wants HOST:PORT") -> "listen (config /etc/reviewsd.conf:3): wants HOST:PORT".
  [[noreturn]] static void fail(const std::string& name, const Setting& s,
                                const std::string& reason);
  [[noreturn]] void fail(const std::string& name, const std::string& reason) const;

  // The config file that was read ("" when none).
  [[nodiscard]] const std::string& config_path() const noexcept { return config_path_; }
  [[nodiscard]] const CommandSpec& spec() const noexcept { return spec_; }

  // REVIEWSD_CACHE_MB for "cache-mb".
  [[nodiscard]] static std::string env_name(const std::string& name);

 private:
  void parse_command_line(int argc, char** argv);
  void read_environment();
  void read_config_file(const std::string& path);
  void add(Source layer, const std::string& name, Setting s);
  [[nodiscard]] const OptionSpec& option(const std::string& name) const;

  CommandSpec spec_;
  std::string config_path_;
  std::set<std::string> actions_;  // actions given on the command line
  // Per key, the values of each layer, indexed by Source.
  struct Layers {
    std::vector<Setting> by_source[4];
    [[nodiscard]] const std::vector<Setting>& winner() const;
  };
  std::map<std::string, Layers> keys_;
};

}  // namespace server
