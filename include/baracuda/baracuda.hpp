#pragma once
// Umbrella header.
#include "baracuda/core/device.hpp"
#include "baracuda/core/dtype.hpp"
#include "baracuda/core/plan.hpp"
#include "baracuda/core/scalar_convert.hpp"
#include "baracuda/core/sku.hpp"
#include "baracuda/core/status.hpp"
#include "baracuda/core/stream.hpp"
#include "baracuda/core/tensor.hpp"
#include "baracuda/core/workspace.hpp"
#include "baracuda/ops/elementwise.hpp"
#include "baracuda/ops/loss.hpp"
#include "baracuda/ops/reduce.hpp"
