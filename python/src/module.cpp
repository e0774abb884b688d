// baracuda._C: the nanobind extension module of the baracuda Python package.
#include "bindings.hpp"

NB_MODULE(_C, m) {
  namespace py = baracuda::py;
  m.doc() = "baracuda C++ bindings: elementwise and reduction plans over DLPack tensors (numpy, torch, CuPy, JAX).";
  m.attr("__version__") = BARACUDA_PY_VERSION;
  py::register_errors(m);
  py::register_tensors(m);
  py::register_elementwise_info(m);
  py::register_elementwise_plan(m);
  py::register_reduce(m);
  py::register_scan(m);
  py::register_norm(m);
  py::register_softmax(m);
  py::register_loss(m);
  py::register_gemm(m);
  py::register_grouped_gemm(m);
  m.def("built_with_cuda", &baracuda::built_with_cuda, "Whether this build contains the CUDA kernels.");
  m.def("cuda_device_count", &baracuda::cuda_device_count, "Usable CUDA devices (0 without CUDA).");
}
