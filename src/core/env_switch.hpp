#pragma once
// Internal: the engines' A/B switches. Each is an environment variable read when a plan is made
// (never in run()), so one process can time an engine against the one it replaced
// (tools/device-check's `ab` rows); docs/design-notes.md lists them.
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string_view>

namespace baracuda {

// The variable's value; nullopt when it is unset.
inline std::optional<std::string_view> env_value(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::optional<std::string_view>(v) : std::nullopt;
}

// Whether the variable is set to exactly `value`.
inline bool env_is(const char* name, std::string_view value) {
  const std::optional<std::string_view> v = env_value(name);
  return v && *v == value;
}

// A switch that is on unless the variable is "0".
inline bool env_switch_on(const char* name) { return !env_is(name, "0"); }

// The variable as a count (decimal digits only, at most 2^40); `fallback` when it is unset, empty,
// or anything else.
inline int64_t env_count(const char* name, int64_t fallback) {
  const std::optional<std::string_view> v = env_value(name);
  if (!v || v->empty()) return fallback;
  int64_t n = 0;
  for (char ch : *v) {
    if (ch < '0' || ch > '9' || n > (int64_t{1} << 40)) return fallback;
    n = n * 10 + (ch - '0');
  }
  return n;
}

}  // namespace baracuda
