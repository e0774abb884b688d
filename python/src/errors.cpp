// baracuda Status codes as a Python exception hierarchy.
#include <Python.h>

#include "bindings.hpp"

namespace baracuda::py {
namespace {

PyObject* g_base = nullptr;
PyObject* g_invalid = nullptr;
PyObject* g_not_supported = nullptr;
PyObject* g_workspace = nullptr;
PyObject* g_misaligned = nullptr;
PyObject* g_backend = nullptr;
PyObject* g_internal = nullptr;
PyObject* g_dtype = nullptr;

PyObject* make_type(nb::module_& m, const char* name, const char* doc, nb::handle bases, const char* code) {
  nb::dict attrs;
  if (code) attrs["code"] = code;
  else attrs["code"] = nb::none();
  std::string qualified = std::string("baracuda.") + name;
  PyObject* t = PyErr_NewExceptionWithDoc(qualified.c_str(), doc, bases.ptr(), attrs.ptr());
  if (!t) throw nb::python_error();
  m.attr(name) = nb::handle(t);  // the module holds a reference; the type lives as long as it
  Py_DECREF(t);
  return t;
}

}  // namespace

void register_errors(nb::module_& m) {
  g_base = make_type(m, "BaracudaError",
                     "Base of every baracuda error. .code is the baracuda StatusCode name "
                     "('invalid_argument', 'not_supported', ...).",
                     nb::make_tuple(nb::handle(PyExc_Exception)), nullptr);
  nb::handle base(g_base);
  g_invalid = make_type(m, "InvalidArgumentError", "A problem no implementation can run (shape, dtype, attribute).",
                        nb::make_tuple(base, nb::handle(PyExc_ValueError)), "invalid_argument");
  g_not_supported = make_type(m, "NotSupportedError", "A valid problem this build / device / plan cannot run.",
                              nb::make_tuple(base, nb::handle(PyExc_NotImplementedError)), "not_supported");
  g_workspace = make_type(m, "WorkspaceTooSmallError", "The workspace given to run() is smaller than workspace_size.",
                          nb::make_tuple(base, nb::handle(PyExc_RuntimeError)), "workspace_too_small");
  g_misaligned = make_type(m, "MisalignedError", "A pointer does not meet the alignment the plan was selected for.",
                           nb::make_tuple(base, nb::handle(PyExc_RuntimeError)), "misaligned");
  g_backend = make_type(m, "BackendError", "A CUDA or library call failed.",
                        nb::make_tuple(base, nb::handle(PyExc_RuntimeError)), "backend_error");
  g_internal = make_type(m, "InternalError", "A bug in baracuda.", nb::make_tuple(base, nb::handle(PyExc_RuntimeError)),
                         "internal");
  g_dtype = make_type(m, "DTypeError", "A dtype baracuda or the array framework cannot represent.",
                      nb::make_tuple(base, nb::handle(PyExc_TypeError)), "invalid_argument");
}

[[noreturn]] void throw_status(const Status& s) {
  PyObject* type = g_internal;
  switch (s.code()) {
    case StatusCode::invalid_argument: type = g_invalid; break;
    case StatusCode::not_supported: type = g_not_supported; break;
    case StatusCode::workspace_too_small: type = g_workspace; break;
    case StatusCode::misaligned: type = g_misaligned; break;
    case StatusCode::backend_error: type = g_backend; break;
    case StatusCode::internal: type = g_internal; break;
    case StatusCode::ok: break;
  }
  std::string msg = s.is_ok() ? "internal: throw_status called with an ok Status" : s.message();
  PyErr_SetString(type, msg.c_str());
  throw nb::python_error();
}

[[noreturn]] void throw_dtype_error(const std::string& message) {
  PyErr_SetString(g_dtype, message.c_str());
  throw nb::python_error();
}

[[noreturn]] void throw_invalid(const std::string& message) {
  PyErr_SetString(g_invalid, message.c_str());
  throw nb::python_error();
}

}  // namespace baracuda::py
