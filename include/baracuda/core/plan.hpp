#pragma once
// The one plan mechanism every op family uses.
//
//   describe the problem (Family::Descriptor) -> Plan<Family>::select(stream, desc, preference)
//   -> plan.can_implement(args) -> plan.workspace_size() -> plan.run(stream, workspace, args)
//
// A family is a struct that names its Descriptor and Args, validates descriptors, and lists its
// implementations in preference order (fastest first, the CPU reference last). select() walks that
// list; explain() reports every candidate with the reason it was taken or refused.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "baracuda/core/device.hpp"
#include "baracuda/core/sku.hpp"
#include "baracuda/core/status.hpp"
#include "baracuda/core/stream.hpp"
#include "baracuda/core/workspace.hpp"

namespace baracuda {

struct PlanPreference {
  bool deterministic = false;               // refuse implementations whose results depend on timing
  std::string force;                        // only this implementation or backend (name)
  std::vector<std::string> exclude;         // never these implementations or backends
  size_t max_workspace_bytes = SIZE_MAX;    // refuse plans that need more scratch memory
  bool allow_tf32 = false;                  // f32 matrix math may use tf32 tensor cores
  bool autotune = false;                    // time the candidates and keep the fastest
};

// One line of explain(): an implementation and why it was (status ok) or was not usable.
struct Candidate {
  std::string impl;
  std::string backend;
  Status status;
  bool chosen = false;
};

// A ready-to-run implementation for one descriptor on one device. Immutable; thread-safe.
template <class Family>
class Executable {
 public:
  using Args = typename Family::Args;
  virtual ~Executable() = default;
  virtual Status can_implement(const Args& args) const = 0;
  virtual size_t workspace_size() const = 0;
  // Enqueues the work on `stream`. Never allocates device memory, never synchronizes.
  virtual Status run(const Stream& stream, Workspace workspace, const Args& args) const = 0;
  virtual const KernelSku& sku() const = 0;
  virtual const PrecisionGuarantee& precision_guarantee() const = 0;
  virtual bool deterministic() const { return precision_guarantee().deterministic; }
};

// One entry of a family's ordered implementation list.
template <class Family>
struct Implementation {
  using Descriptor = typename Family::Descriptor;
  std::string_view name;     // "cuda_vectorized", "cpu_reference", ...
  std::string_view backend;  // "baracuda-cuda", "cpu-reference", "cublaslt", ...
  DeviceKind device_kind;
  // Cheap capability check; the Status says why not.
  Status (*supports)(const Descriptor&, const Device&);
  Result<std::shared_ptr<const Executable<Family>>> (*make)(const Descriptor&, const Device&);
  // Optional, used instead of make() when given: for implementations whose plan depends on the
  // caller's PlanPreference beyond the generic filters select() applies itself (autotune,
  // allow_tf32, a workspace cap the implementation can choose within).
  Result<std::shared_ptr<const Executable<Family>>> (*make_with_preference)(const Descriptor&, const Device&,
                                                                            const PlanPreference&) = nullptr;
};

namespace detail {
// Non-template parts of dispatch (src/core/dispatch.cpp).
Status check_preference(std::string_view impl, std::string_view backend, const PlanPreference& pref);
std::string forced_implementation_from_env();  // BARACUDA_IMPL
bool dispatch_log_enabled();                   // BARACUDA_LOG contains "dispatch"
void log_dispatch(std::string_view family, const std::string& problem, const std::vector<Candidate>& candidates);
Status check_run_preconditions(std::string_view family, const Device& plan_device, const Stream& stream,
                               size_t needed, const Workspace& ws);
// Reasons select() refuses a candidate, and the Status when none is left (messages built here,
// out of line, so the template stays small).
Status wrong_device_kind(DeviceKind impl_kind, const Device& stream_device);
Status workspace_over_limit(size_t needed, size_t limit);
Status not_deterministic();
Status no_implementation(std::string_view family, const std::string& problem, const Device& device,
                         const std::vector<Candidate>& candidates);
}  // namespace detail

template <class Family>
class Plan {
 public:
  using Descriptor = typename Family::Descriptor;
  using Args = typename Family::Args;

  static Result<Plan> select(const Stream& stream, const Descriptor& desc, const PlanPreference& pref = {}) {
    return select_impl(stream.device(), desc, pref, /*env_override=*/true);
  }

  // select() for a device rather than a stream: what an implementation composed of other
  // families' plans uses at plan time (its make() sees the device, not the stream). The
  // BARACUDA_IMPL override names an implementation of the outer family, so it is not applied here.
  static Result<Plan> select_on(const Device& device, const Descriptor& desc, const PlanPreference& pref = {}) {
    return select_impl(device, desc, pref, /*env_override=*/false);
  }

  // Every candidate with its status; the first usable one is marked chosen.
  static std::vector<Candidate> explain(const Stream& stream, const Descriptor& desc, const PlanPreference& pref = {}) {
    std::vector<Candidate> candidates;
    (void)walk(stream.device(), desc, pref, candidates, /*stop_at_first=*/false);
    return candidates;
  }

  Status can_implement(const Args& args) const { return exec_->can_implement(args); }
  size_t workspace_size() const { return exec_->workspace_size(); }

  // Checks the stream's device, the workspace and the arguments, then enqueues the work.
  Status run(const Stream& stream, Workspace workspace, const Args& args) const {
    BARACUDA_TRY(detail::check_run_preconditions(Family::name, device_, stream, exec_->workspace_size(), workspace));
    BARACUDA_TRY(exec_->can_implement(args));
    return exec_->run(stream, workspace, args);
  }

  const KernelSku& sku() const { return exec_->sku(); }
  const PrecisionGuarantee& precision_guarantee() const { return exec_->precision_guarantee(); }
  const Descriptor& descriptor() const { return desc_; }
  const Device& device() const { return device_; }

 private:
  Plan(Descriptor d, Device dev, std::shared_ptr<const Executable<Family>> e)
      : desc_(std::move(d)), device_(dev), exec_(std::move(e)) {}

  static Result<Plan> select_impl(const Device& device, const Descriptor& desc, const PlanPreference& pref,
                                  bool env_override) {
    std::vector<Candidate> candidates;
    auto chosen = walk(device, desc, pref, candidates, /*stop_at_first=*/true, env_override);
    if (detail::dispatch_log_enabled()) detail::log_dispatch(Family::name, Family::describe(desc), candidates);
    if (!chosen) return chosen.status();
    return Plan(desc, device, std::move(chosen).value());
  }

  static Result<std::shared_ptr<const Executable<Family>>> walk(const Device& device, const Descriptor& desc,
                                                                 PlanPreference pref, std::vector<Candidate>& out,
                                                                 bool stop_at_first, bool env_override = true) {
    Status valid = Family::validate(desc);
    if (!valid.is_ok()) return valid;
    if (std::string env = detail::forced_implementation_from_env(); env_override && !env.empty()) pref.force = env;
    std::shared_ptr<const Executable<Family>> chosen;
    for (const Implementation<Family>& impl : Family::implementations()) {
      Candidate c{std::string(impl.name), std::string(impl.backend), Status::ok(), false};
      if (impl.device_kind != device.kind) {
        c.status = detail::wrong_device_kind(impl.device_kind, device);
      } else if (Status s = detail::check_preference(impl.name, impl.backend, pref); !s.is_ok()) {
        c.status = s;
      } else if (Status s2 = impl.supports(desc, device); !s2.is_ok()) {
        c.status = s2;
      } else if (chosen && stop_at_first) {
        continue;
      } else {
        auto made = impl.make_with_preference ? impl.make_with_preference(desc, device, pref) : impl.make(desc, device);
        if (!made) {
          c.status = made.status();
        } else if ((*made)->workspace_size() > pref.max_workspace_bytes) {
          c.status = detail::workspace_over_limit((*made)->workspace_size(), pref.max_workspace_bytes);
        } else if (pref.deterministic && !(*made)->deterministic()) {
          c.status = detail::not_deterministic();
        } else if (!chosen) {
          chosen = std::move(made).value();
          c.chosen = true;
        }
      }
      out.push_back(std::move(c));
      if (chosen && stop_at_first) break;
    }
    if (chosen) return chosen;
    return detail::no_implementation(Family::name, Family::describe(desc), device, out);
  }

  Descriptor desc_;
  Device device_;
  std::shared_ptr<const Executable<Family>> exec_;
};

}  // namespace baracuda
