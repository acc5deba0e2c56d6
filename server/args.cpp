#include "server/args.h"

#include <fmt/format.h>

#include <cctype>
#include <charconv>
#include <cstdlib>

namespace server {

namespace {
std::string env_name(const std::string& name) {
  std::string out = "REVIEWSD_";
  for (char c : name)
    out += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}
}  // namespace

Args::Args(int argc, char** argv, std::set<std::string> valued, std::set<std::string> flags) {
  flags.insert("help");
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
    if (flags.count(key)) {
      if (inline_value) throw UsageError(fmt::format("--{} takes no value", key));
      flags_set_.insert(key);
    } else if (valued.count(key)) {
      if (inline_value) {
        values_.emplace_back(key, *inline_value);
      } else {
        if (i + 1 >= argc) throw UsageError(fmt::format("--{} needs a value", key));
        values_.emplace_back(key, argv[++i]);
      }
    } else {
      throw UsageError(fmt::format("unknown option --{}", key));
    }
  }
}

bool Args::flag(const std::string& name) const { return flags_set_.count(name) > 0; }

std::optional<std::string> Args::get(const std::string& name) const {
  for (const auto& [k, v] : values_) {
    if (k == name) return v;
  }
  if (const char* env = std::getenv(env_name(name).c_str()); env && *env) return std::string(env);
  return std::nullopt;
}

std::vector<std::string> Args::all(const std::string& name) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : values_) {
    if (k == name) out.push_back(v);
  }
  if (out.empty()) {
    if (auto v = get(name)) out.push_back(*v);
  }
  return out;
}

std::string Args::required(const std::string& name) const {
  auto v = get(name);
  if (!v) throw UsageError(fmt::format("--{} is required", name));
  return *v;
}

std::int64_t Args::get_int(const std::string& name, std::int64_t fallback, std::int64_t min,
                           std::int64_t max) const {
  auto v = get(name);
  if (!v) return fallback;
  std::int64_t out = 0;
  const auto* end = v->data() + v->size();
  const auto [p, ec] = std::from_chars(v->data(), end, out);
  if (ec != std::errc{} || p != end || out < min || out > max) {
    throw UsageError(fmt::format("--{}: '{}' is not an integer in {}..{}", name, *v, min, max));
  }
  return out;
}

double Args::get_double(const std::string& name, double fallback, double min, double max) const {
  auto v = get(name);
  if (!v) return fallback;
  char* end = nullptr;
  const double out = std::strtod(v->c_str(), &end);
  if (v->empty() || end != v->c_str() + v->size() || !(out >= min && out <= max)) {
    throw UsageError(fmt::format("--{}: '{}' is not a number in {}..{}", name, *v, min, max));
  }
  return out;
}

}  // namespace server
