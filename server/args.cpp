#include "server/args.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace server {

namespace {

// --help: option names and metavars in the first column, the text from this column on.
constexpr std::size_t kHelpColumn = 28;
// --help lines stay within this width (a default goes to the next line rather than past it).
constexpr std::size_t kHelpWidth = 96;
// A config file is a few dozen lines; anything this large is a wrong path (a data file).
constexpr std::size_t kMaxConfigBytes = 1 << 20;

std::string_view trim(std::string_view s) {
  constexpr std::string_view kBlanks = " \t\r\f\v";
  const auto b = s.find_first_not_of(kBlanks);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(kBlanks) - b + 1);
}

std::optional<bool> parse_bool(std::string_view v) {
  if (v == "true") return true;
  if (v == "false") return false;
  return std::nullopt;
}

// "--threads", "threads (env REVIEWSD_THREADS)", "threads (config F:4)": the key as the user
// wrote it, so the message points at the line to fix.
std::string located(const std::string& name, const Setting& s) {
  switch (s.source) {
    case Source::Flag:
      return "--" + name;
    case Source::Env:
    case Source::File:
      return fmt::format("{} ({})", name, s.where);
    case Source::Default:
      break;
  }
  return name;
}

CommandSpec adhoc_spec(const std::set<std::string>& valued, const std::set<std::string>& flags) {
  CommandSpec spec;
  for (const auto& v : valued) spec.options.push_back({v, OptionKind::List, "VALUE"});
  for (const auto& f : flags) spec.options.push_back({f, OptionKind::Flag});
  return spec;
}

// Reads a whole (small) file; throws UsageError "config FILE: cannot read: reason".
std::string read_small_file(const std::string& path) {
  const auto fail = [&](int err) {
    throw UsageError(fmt::format("config {}: cannot read: {}", path, std::strerror(err)));
  };
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(errno);
  std::string text;
  char buf[8192];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;  // e.g. EISDIR: open(2) of a directory succeeds, read(2) fails
      ::close(fd);
      fail(err);
    }
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
    if (text.size() > kMaxConfigBytes) {
      ::close(fd);
      throw UsageError(
          fmt::format("config {}: larger than {} bytes: not a config file", path, kMaxConfigBytes));
    }
  }
  ::close(fd);
  return text;
}

std::string list_keys(const CommandSpec& spec) {
  std::string out;
  for (const auto& o : spec.options) {
    if (o.kind == OptionKind::List) out += (out.empty() ? "" : ", ") + o.name;
  }
  return out.empty() ? "none" : out;
}

}  // namespace

const OptionSpec* CommandSpec::find(const std::string& name) const {
  for (const auto& o : options) {
    if (o.name == name) return &o;
  }
  return nullptr;
}

std::string help_text(const CommandSpec& spec) {
  std::string out = fmt::format("usage: reviewsd {} {}\n", spec.name, spec.synopsis);
  if (!spec.description.empty()) out += "\n" + spec.description;
  if (!out.ends_with("\n")) out += "\n";
  out += "\noptions:\n";
  const auto line = [&](const std::string& head, std::string help, const std::string& fallback) {
    if (!fallback.empty()) {
      const auto last = help.rfind('\n');
      const std::size_t last_len = help.size() - (last == std::string::npos ? 0 : last + 1);
      const std::string suffix = "(default " + fallback + ")";
      help += kHelpColumn + last_len + 1 + suffix.size() > kHelpWidth ? "\n" : " ";
      help += suffix;
    }
    std::string first = "  " + head;
    if (first.size() + 1 >= kHelpColumn) {
      out += first + "\n";
      first.clear();
    }
    first.resize(kHelpColumn, ' ');
    std::string_view rest = help;
    bool first_line = true;
    while (first_line || !rest.empty()) {
      const auto nl = rest.find('\n');
      const auto piece = rest.substr(0, nl);
      out += (first_line ? first : std::string(kHelpColumn, ' ')) + std::string(piece) + "\n";
      rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
      first_line = false;
    }
  };
  if (spec.config_file) {
    line("--config FILE",
         "read options from FILE: `option = value` lines (server/README.md);\n"
         "also REVIEWSD_CONFIG; '' reads no file",
         "");
  }
  std::string example;
  bool has_flags = false;
  for (const auto& o : spec.options) {
    if (o.group) out += "\n";
    line(o.metavar.empty() ? "--" + o.name : fmt::format("--{} {}", o.name, o.metavar), o.help,
         o.fallback);
    if (o.kind != OptionKind::Action && example.empty()) example = Args::env_name(o.name);
    has_flags = has_flags || o.kind == OptionKind::Flag;
  }
  line("--help", "print this help and exit", "");
  if (!example.empty()) {
    out += fmt::format(
        "\nEvery option can also be set by the environment variable REVIEWSD_<OPTION> (upper\n"
        "case, '-' as '_': {}){}.\nPrecedence: command line > environment{} > default.{}\n",
        example, spec.config_file ? " and as `option = value` in the --config file" : "",
        spec.config_file ? " > config file" : "",
        has_flags ? "\nOptions without a value take true or false there." : "");
  }
  return out;
}

std::string Args::env_name(const std::string& name) {
  std::string out = "REVIEWSD_";
  for (char c : name)
    out += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

Args::Args(int argc, char** argv, std::set<std::string> valued, std::set<std::string> flags)
    : Args(argc, argv, adhoc_spec(valued, flags)) {}

Args::Args(int argc, char** argv, const CommandSpec& spec) : spec_(spec) {
  std::optional<std::string> config_flag;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-h") a = "--help";
    if (a.rfind("--", 0) != 0 || a.size() < 3) {
      throw UsageError(fmt::format("unexpected argument '{}'", a));
    }
    std::string key = a.substr(2);
    std::optional<std::string> inline_value;
    if (const auto eq = key.find('='); eq != std::string::npos) {
      inline_value = key.substr(eq + 1);
      key.resize(eq);
    }
    const auto take_value = [&]() -> std::string {
      if (inline_value) return *inline_value;
      if (i + 1 >= argc) throw UsageError(fmt::format("--{} needs a value", key));
      return argv[++i];
    };
    if (key == "help") {
      if (inline_value) throw UsageError("--help takes no value");
      actions_.insert(key);
      continue;
    }
    if (key == "config" && spec_.config_file) {
      const std::string v = take_value();
      if (!config_flag) config_flag = v;
      continue;
    }
    const OptionSpec* opt = spec_.find(key);
    if (!opt) throw UsageError(fmt::format("unknown option --{}", key));
    const std::string where = "--" + key;
    switch (opt->kind) {
      case OptionKind::Action:
        if (inline_value) throw UsageError(fmt::format("--{} takes no value", key));
        actions_.insert(key);
        break;
      case OptionKind::Flag: {
        const std::string v = inline_value.value_or("true");
        if (!parse_bool(v)) {
          throw UsageError(fmt::format("--{}: '{}' is not true or false", key, v));
        }
        add(Source::Flag, key, {v, Source::Flag, where});
        break;
      }
      case OptionKind::Value:
      case OptionKind::List:
        add(Source::Flag, key, {take_value(), Source::Flag, where});
        break;
    }
  }
  // --help must work whatever the environment and the config file hold.
  if (actions_.count("help")) return;

  for (const auto& o : spec_.options) {
    if (o.kind == OptionKind::Action) continue;
    const std::string var = env_name(o.name);
    const char* v = std::getenv(var.c_str());
    if (!v || !*v) continue;
    Setting s{v, Source::Env, "env " + var};
    if (o.kind == OptionKind::Flag && !parse_bool(s.value)) {
      fail(o.name, s, fmt::format("'{}' is not true or false", s.value));
    }
    add(Source::Env, o.name, std::move(s));
  }

  if (spec_.config_file) {
    std::string path;
    if (config_flag) {
      path = *config_flag;
    } else if (const char* v = std::getenv("REVIEWSD_CONFIG")) {
      path = v;
    }
    if (!path.empty()) read_config_file(path);
  }
}

void Args::read_config_file(const std::string& path) {
  config_path_ = path;
  const std::string text = read_small_file(path);
  std::string_view rest = text;
  if (rest.starts_with("\xEF\xBB\xBF")) rest.remove_prefix(3);  // a UTF-8 BOM from an editor
  std::map<std::string, std::size_t> first_line;                // of single-valued keys
  for (std::size_t lineno = 1; !rest.empty(); ++lineno) {
    const auto nl = rest.find('\n');
    const std::string_view line = trim(rest.substr(0, nl));
    rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
    if (line.empty() || line.front() == '#') continue;
    const std::string at = fmt::format("config {}:{}", path, lineno);
    const auto eq = line.find('=');
    if (eq == std::string_view::npos) {
      throw UsageError(fmt::format("{}: expected `key = value`, got '{}'", at, line.substr(0, 60)));
    }
    const std::string key(trim(line.substr(0, eq)));
    if (key.empty()) throw UsageError(fmt::format("{}: a line with no key before '='", at));
    if (key == "config") {
      throw UsageError(fmt::format("{}: `config` cannot be set in a config file", at));
    }
    const OptionSpec* opt = spec_.find(key);
    if (!opt || opt->kind == OptionKind::Action) {
      throw UsageError(fmt::format("{}: unknown key '{}'", at, key));
    }
    Setting s{std::string(trim(line.substr(eq + 1))), Source::File, at};
    if (opt->kind != OptionKind::List) {
      const auto [it, fresh] = first_line.emplace(key, lineno);
      if (!fresh) {
        throw UsageError(
            fmt::format("{}: {} given twice (first on line {}); only list keys ({}) may repeat", at,
                        key, it->second, list_keys(spec_)));
      }
    }
    if (opt->kind == OptionKind::Flag && !parse_bool(s.value)) {
      fail(key, s, fmt::format("'{}' is not true or false", s.value));
    }
    add(Source::File, key, std::move(s));
  }
}

void Args::add(Source layer, const std::string& name, Setting s) {
  auto& values = keys_[name].by_source[static_cast<int>(layer)];
  // On the command line the first occurrence of a single-valued option counts; the file's
  // duplicates were refused by the caller.
  if (!values.empty() && option(name).kind != OptionKind::List) return;
  values.push_back(std::move(s));
}

const OptionSpec& Args::option(const std::string& name) const {
  const OptionSpec* o = spec_.find(name);
  if (!o) throw std::logic_error("reviewsd " + spec_.name + ": no option --" + name);
  return *o;
}

const std::vector<Setting>& Args::Layers::winner() const {
  for (int s = 3; s > 0; --s) {
    if (!by_source[s].empty()) return by_source[s];
  }
  return by_source[0];
}

const std::vector<Setting>& Args::settings(const std::string& name) const {
  static const std::vector<Setting> kNone;
  const auto it = keys_.find(name);
  return it == keys_.end() ? kNone : it->second.winner();
}

Source Args::source(const std::string& name) const {
  const auto& s = settings(name);
  return s.empty() ? Source::Default : s.front().source;
}

std::string Args::where(const std::string& name) const {
  const auto& s = settings(name);
  return s.empty() ? "default" : s.front().where;
}

void Args::fail(const std::string& name, const Setting& s, const std::string& reason) {
  throw UsageError(fmt::format("{}: {}", located(name, s), reason));
}

void Args::fail(const std::string& name, const std::string& reason) const {
  const auto& s = settings(name);
  fail(name, s.empty() ? Setting{} : s.front(), reason);
}

bool Args::flag(const std::string& name) const {
  if (actions_.count(name)) return true;
  const auto& s = settings(name);
  return !s.empty() && s.front().value == "true";
}

std::optional<std::string> Args::get(const std::string& name) const {
  const auto& s = settings(name);
  if (s.empty()) return std::nullopt;
  return s.front().value;
}

std::vector<std::string> Args::all(const std::string& name) const {
  std::vector<std::string> out;
  for (const auto& s : settings(name)) out.push_back(s.value);
  return out;
}

std::string Args::required(const std::string& name) const {
  auto v = get(name);
  if (!v) throw UsageError(fmt::format("--{} is required", name));
  return *v;
}

std::int64_t Args::get_int(const std::string& name, std::int64_t fallback, std::int64_t min,
                           std::int64_t max) const {
  const auto& s = settings(name);
  if (s.empty()) return fallback;
  const std::string& v = s.front().value;
  std::int64_t out = 0;
  const auto* end = v.data() + v.size();
  const auto [p, ec] = std::from_chars(v.data(), end, out);
  if (ec != std::errc{} || p != end || v.empty() || out < min || out > max) {
    fail(name, s.front(), fmt::format("'{}' is not an integer in {}..{}", v, min, max));
  }
  return out;
}

double Args::get_double(const std::string& name, double fallback, double min, double max) const {
  const auto& s = settings(name);
  if (s.empty()) return fallback;
  const std::string& v = s.front().value;
  char* end = nullptr;
  const double out = std::strtod(v.c_str(), &end);
  if (v.empty() || end != v.c_str() + v.size() || !(out >= min && out <= max)) {
    fail(name, s.front(), fmt::format("'{}' is not a number in {}..{}", v, min, max));
  }
  return out;
}

}  // namespace server
