// Non-template parts of Plan<Family>: preference filters, environment switches, dispatch log,
// run() preconditions.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "baracuda/core/plan.hpp"

namespace baracuda::detail {

Status check_preference(std::string_view impl, std::string_view backend, const PlanPreference& pref) {
  if (!pref.force.empty() && pref.force != impl && pref.force != backend)
    return not_supported("not the forced implementation '" + pref.force + "'");
  for (const std::string& ex : pref.exclude)
    if (ex == impl || ex == backend) return not_supported("excluded by the preference");
  return Status::ok();
}

std::string forced_implementation_from_env() {
  const char* v = std::getenv("BARACUDA_IMPL");
  return v ? std::string(v) : std::string();
}

bool dispatch_log_enabled() {
  const char* v = std::getenv("BARACUDA_LOG");
  return v && std::string_view(v).find("dispatch") != std::string_view::npos;
}

void log_dispatch(std::string_view family, const std::string& problem, const std::vector<Candidate>& candidates) {
  std::string out = "[baracuda dispatch] " + std::string(family) + " " + problem + "\n";
  for (const Candidate& c : candidates) {
    out += std::string(c.chosen ? "  * " : "    ") + c.impl + " (" + c.backend + "): " +
           (c.status.is_ok() ? (c.chosen ? "chosen" : "usable") : c.status.to_string()) + "\n";
  }
  std::fputs(out.c_str(), stderr);
}

Status check_run_preconditions(std::string_view family, const Device& plan_device, const Stream& stream,
                               size_t needed, const Workspace& ws) {
  const std::string f = "[" + std::string(family) + "] ";
  if (!stream.device().same_place(plan_device))
    return invalid_argument(f + "device mismatch: the plan was selected for " + plan_device.to_string() +
                            ", run() got a stream on " + stream.device().to_string());
  if (ws.bytes < needed)
    return workspace_too_small(f + "workspace of " + std::to_string(ws.bytes) + " bytes, the plan needs " +
                               std::to_string(needed));
  if (needed > 0 && ws.data == nullptr)
    return invalid_argument(f + "null workspace pointer with " + std::to_string(ws.bytes) + " bytes");
  return Status::ok();
}

Status wrong_device_kind(DeviceKind impl_kind, const Device& stream_device) {
  std::string m = "runs on ";
  m += impl_kind == DeviceKind::cpu ? "cpu" : "cuda";
  m += ", the stream is on ";
  m += stream_device.to_string();
  return not_supported(std::move(m));
}

Status workspace_over_limit(size_t needed, size_t limit) {
  std::string m = "needs ";
  m += std::to_string(needed);
  m += " workspace bytes, the preference allows ";
  m += std::to_string(limit);
  return not_supported(std::move(m));
}

Status not_deterministic() { return not_supported("not deterministic, the preference asks for determinism"); }

Status no_implementation(std::string_view family, const std::string& problem, const Device& device,
                         const std::vector<Candidate>& candidates) {
  std::string m = "[";
  m += family;
  m += "] no implementation for ";
  m += problem;
  m += " on ";
  m += device.to_string();
  m += ":";
  for (const Candidate& c : candidates) {
    if (c.status.is_ok()) continue;
    m += "\n  ";
    m += c.impl;
    m += ": ";
    m += c.status.message();
  }
  return not_supported(std::move(m));
}

}  // namespace baracuda::detail
