// all_reduce is the call a training or decode step makes again and again, on a message that can
// be a few bytes: there pybind11's dispatch (overload matching, a caster per argument, keyword
// handling) costs more than NCCL's enqueue. A METH_FASTCALL method takes its six integers straight
// from the argument vector. The other collectives keep pybind11's bindings.
#include "comm/fast_all_reduce.h"

#include <climits>
#include <cstdint>

#include <pybind11/detail/exception_translation.h>

namespace py = pybind11;

namespace ncclkit {
namespace {

// unsigned long, not unsigned long long: from an int past 2^30, as an address is, CPython's long
// long conversion goes through a byte array, at six times the cost (two addresses a call).
static_assert(sizeof(unsigned long) == sizeof(std::uint64_t), "a 64-bit unsigned long (LP64, as on Linux)");

bool unsigned_argument(PyObject* value, unsigned long& out) {
  if (!PyLong_Check(value)) {  // numpy's integers and other __index__ types, as pybind11 takes them
    py::object index = py::reinterpret_steal<py::object>(PyNumber_Index(value));
    return index && unsigned_argument(index.ptr(), out);
  }
  out = PyLong_AsUnsignedLong(value);
  return !(out == static_cast<unsigned long>(-1) && PyErr_Occurred());
}

bool int_argument(PyObject* value, int& out) {
  const long wide = PyLong_AsLong(value);  // takes __index__ types too
  if (wide == -1 && PyErr_Occurred()) return false;
  if (wide < INT_MIN || wide > INT_MAX) {
    PyErr_SetString(PyExc_OverflowError, "all_reduce: dtype and op must fit a C int");
    return false;
  }
  out = static_cast<int>(wide);
  return true;
}

// The Communicator inside `self`. The method descriptor has checked self's type, and Comm is
// final (no subclass adds holders), so this skips the type lookup py::cast would repeat each call.
Communicator* communicator(PyObject* self) {
  auto value = reinterpret_cast<py::detail::instance*>(self)->get_value_and_holder();
  if (!value.holder_constructed()) {
    PyErr_SetString(PyExc_TypeError, "all_reduce: the Comm was never initialized (make one with Comm.init_rank)");
    return nullptr;
  }
  return value.value_ptr<Communicator>();
}

PyObject* all_reduce(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
  if (nargs != 6) {
    PyErr_Format(PyExc_TypeError, "all_reduce(send, recv, count, dtype, op, stream) takes 6 arguments, got %zd",
                 nargs);
    return nullptr;
  }
  Communicator* comm = communicator(self);
  unsigned long send, recv, count, stream;
  int dtype, op;
  if (comm == nullptr || !unsigned_argument(args[0], send) || !unsigned_argument(args[1], recv) ||
      !unsigned_argument(args[2], count) || !int_argument(args[3], dtype) || !int_argument(args[4], op) ||
      !unsigned_argument(args[5], stream)) {
    return nullptr;
  }
  try {
    comm->all_reduce(static_cast<Communicator::Ptr>(send), static_cast<Communicator::Ptr>(recv),
                     static_cast<std::size_t>(count), dtype, op, static_cast<Communicator::Ptr>(stream));
  } catch (...) {
    py::detail::try_translate_exceptions();  // the translators pybind11 itself would run, NcclError's too
    return nullptr;
  }
  Py_RETURN_NONE;
}

PyMethodDef all_reduce_method = {
    "all_reduce", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(all_reduce)), METH_FASTCALL,
    "all_reduce(send, recv, count, dtype, op, stream): ncclAllReduce of `count` elements of NCCL type "
    "`dtype` from address `send` to `recv` (the same for in place) on CUDA stream handle `stream`."};

}  // namespace

void bind_fast_all_reduce(py::class_<Communicator>& comm) {
  auto* type = reinterpret_cast<PyTypeObject*>(comm.ptr());
  py::object method = py::reinterpret_steal<py::object>(PyDescr_NewMethod(type, &all_reduce_method));
  if (!method) throw py::error_already_set();
  comm.attr("all_reduce") = method;
}

}  // namespace ncclkit
