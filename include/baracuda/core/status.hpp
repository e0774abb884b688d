#pragma once
// Status and Result: the public API never throws. Every failure is a Status whose message names
// the op and quotes the offending values, e.g. "[elementwise.add] shape [3] vs [4] do not broadcast".
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace baracuda {

enum class StatusCode {
  ok,
  invalid_argument,     // wrong for every implementation (bad shape, rank, dtype combination...)
  not_supported,        // valid, but this plan/implementation cannot do it
  workspace_too_small,  // the workspace passed to run is smaller than workspace_size()
  misaligned,           // a pointer does not meet the alignment the plan requires
  backend_error,        // a CUDA / library call failed; the message names the call
  internal,             // a bug in baracuda
};

std::string_view status_code_name(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}
  Status(const Status&) = default;
  Status(Status&&) noexcept = default;
  // Assignment returns void: with a [[nodiscard]] class, a returned Status& makes every plain
  // `s = other;` an "ignored result" for nvcc's front end.
  void operator=(const Status& o) {
    code_ = o.code_;
    message_ = o.message_;
  }
  void operator=(Status&& o) noexcept {
    code_ = o.code_;
    message_ = std::move(o.message_);
  }

  static Status ok() { return {}; }
  bool is_ok() const { return code_ == StatusCode::ok; }
  explicit operator bool() const { return is_ok(); }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "not_supported: [elementwise] ..."
  std::string to_string() const;

 private:
  StatusCode code_ = StatusCode::ok;
  std::string message_;
};

inline Status invalid_argument(std::string m) { return {StatusCode::invalid_argument, std::move(m)}; }
inline Status not_supported(std::string m) { return {StatusCode::not_supported, std::move(m)}; }
inline Status misaligned(std::string m) { return {StatusCode::misaligned, std::move(m)}; }
inline Status workspace_too_small(std::string m) { return {StatusCode::workspace_too_small, std::move(m)}; }
inline Status backend_error(std::string m) { return {StatusCode::backend_error, std::move(m)}; }
inline Status internal_error(std::string m) { return {StatusCode::internal, std::move(m)}; }

// A value or the Status explaining why there is none.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {
    if (std::get<Status>(v_).is_ok()) v_ = Status(StatusCode::internal, "Result built from an ok Status");
  }

  bool has_value() const { return v_.index() == 0; }
  explicit operator bool() const { return has_value(); }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &std::get<T>(v_); }
  const T* operator->() const { return &std::get<T>(v_); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  Status status() const { return has_value() ? Status::ok() : std::get<Status>(v_); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace baracuda

#define BARACUDA_CONCAT_INNER(a, b) a##b
#define BARACUDA_CONCAT(a, b) BARACUDA_CONCAT_INNER(a, b)

// Return early from a function returning Status (or Result<T>) when `expr` is not ok.
#define BARACUDA_TRY(expr)                                              \
  do {                                                                  \
    ::baracuda::Status baracuda_try_status_ = (expr);                   \
    if (!baracuda_try_status_.is_ok()) return baracuda_try_status_;     \
  } while (0)

// Bind the value of a Result<T> expression to `lhs`, or return its Status.
#define BARACUDA_ASSIGN_OR_RETURN(lhs, expr)                                       \
  auto BARACUDA_CONCAT(baracuda_result_, __LINE__) = (expr);                      \
  if (!BARACUDA_CONCAT(baracuda_result_, __LINE__)) return BARACUDA_CONCAT(baracuda_result_, __LINE__).status(); \
  lhs = std::move(BARACUDA_CONCAT(baracuda_result_, __LINE__)).value()
