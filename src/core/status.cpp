#include "baracuda/core/status.hpp"

namespace baracuda {

std::string_view status_code_name(StatusCode code) {
  switch (code) {
    case StatusCode::ok: return "ok";
    case StatusCode::invalid_argument: return "invalid_argument";
    case StatusCode::not_supported: return "not_supported";
    case StatusCode::workspace_too_small: return "workspace_too_small";
    case StatusCode::misaligned: return "misaligned";
    case StatusCode::backend_error: return "backend_error";
    case StatusCode::internal: return "internal";
  }
  return "unknown";
}

std::string Status::to_string() const {
  if (is_ok()) return "ok";
  return std::string(status_code_name(code_)) + ": " + message_;
}

}  // namespace baracuda
