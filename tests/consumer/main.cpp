// Uses an installed baracuda: relu on the CPU stream; exits non-zero on a wrong answer.
#include <cstdio>

#include "baracuda/baracuda.hpp"

int main() {
  using namespace baracuda;
  float x[4] = {-2.f, -0.5f, 0.f, 3.f}, y[4] = {9.f, 9.f, 9.f, 9.f};
  Stream cpu = Stream::cpu();
  ElementwiseDescriptor desc{.op = ElementwiseOp::relu, .inputs = {Operand::tensor(DType::f32, {4})}};
  auto plan = ElementwisePlan::select(cpu, desc);
  if (!plan) { std::puts(plan.status().to_string().c_str()); return 1; }
  ElementwiseArgs args{.inputs = {*make_tensor_ref(x, DType::f32, {4})}, .outputs = {*make_tensor_mut(y, DType::f32, {4})}};
  if (Status s = plan->run(cpu, {}, args); !s.is_ok()) { std::puts(s.to_string().c_str()); return 1; }
  bool ok = y[0] == 0.f && y[1] == 0.f && y[2] == 0.f && y[3] == 3.f;
  std::printf("consumer: relu -> %g %g %g %g (%s) via %s\n", y[0], y[1], y[2], y[3], ok ? "ok" : "WRONG",
              plan->sku().to_string().c_str());
  return ok ? 0 : 1;
}
