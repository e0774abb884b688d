#pragma once
// GoogleTest helpers shared by the test files: Status assertions and a tolerance comparison.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <iomanip>

#include "baracuda/core/status.hpp"

#define ASSERT_OK(expr)                          \
  do {                                           \
    const ::baracuda::Status st_ = (expr);       \
    ASSERT_TRUE(st_.is_ok()) << st_.to_string(); \
  } while (0)
#define EXPECT_OK(expr)                          \
  do {                                           \
    const ::baracuda::Status st_ = (expr);       \
    EXPECT_TRUE(st_.is_ok()) << st_.to_string(); \
  } while (0)

namespace bt {

// |actual - expected| <= max(atol, rtol |expected|); NaN and infinities must match exactly.
inline ::testing::AssertionResult Close(double actual, double expected, double rtol = 1e-14, double atol = 0.0) {
  if (std::isnan(expected) || std::isinf(expected)) {
    const bool same = std::isnan(expected) ? std::isnan(actual) : actual == expected;
    if (same) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "got " << actual << ", expected " << expected;
  }
  const double tol = std::max(atol, rtol * std::fabs(expected));
  if (std::fabs(actual - expected) <= tol) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << std::setprecision(17) << "got " << actual << ", expected " << expected
                                       << " (diff " << actual - expected << ", tol " << tol << ")";
}

}  // namespace bt
