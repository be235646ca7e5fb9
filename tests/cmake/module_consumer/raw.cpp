// rawpkg._raw: nccl_version() from the NCCL loaded, the header's version code, the CUDA runtime's
// version, and an ncclkit.Communicator's ncclComm_t and rank, through the C API alone.
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <nccl.h>
#include <ncclkit/communicator.h>
#include <ncclkit/config.h>

int raw_cuda_runtime_version();

static PyObject* nccl_version(PyObject*, PyObject*) {
  int version = 0;
  if (ncclGetVersion(&version) != ncclSuccess) {
    PyErr_SetString(PyExc_RuntimeError, "ncclGetVersion failed");
    return nullptr;
  }
  return PyLong_FromLong(version);
}

static PyObject* cuda_runtime_version(PyObject*, PyObject*) { return PyLong_FromLong(raw_cuda_runtime_version()); }

// (address of the ncclComm_t, device) of an ncclkit.Communicator.
static PyObject* comm_handle(PyObject*, PyObject* comm) {
  ncclkit_comm_handle handle;
  if (ncclkit_comm_from_python(comm, &handle) != 0) return nullptr;
  return Py_BuildValue("(Ki)", static_cast<unsigned long long>(reinterpret_cast<uintptr_t>(handle.comm)), handle.device);
}

// ncclCommUserRank on an ncclkit.Communicator, as an op of one's own would call NCCL on it.
static PyObject* comm_rank(PyObject*, PyObject* comm) {
  ncclkit_comm_handle handle;
  if (ncclkit_comm_from_python(comm, &handle) != 0) return nullptr;
  int rank = -1;
  if (ncclCommUserRank(handle.comm, &rank) != ncclSuccess) {
    PyErr_SetString(PyExc_RuntimeError, "ncclCommUserRank failed");
    return nullptr;
  }
  return PyLong_FromLong(rank);
}

static PyMethodDef methods[] = {
    {"comm_handle", comm_handle, METH_O, nullptr},
    {"comm_rank", comm_rank, METH_O, nullptr},
    {"nccl_version", nccl_version, METH_NOARGS, nullptr},
    {"cuda_runtime_version", cuda_runtime_version, METH_NOARGS, nullptr},
    {nullptr, nullptr, 0, nullptr},
};

static PyModuleDef module = {PyModuleDef_HEAD_INIT, "_raw", nullptr, -1, methods};

PyMODINIT_FUNC PyInit__raw() {
  PyObject* m = PyModule_Create(&module);
  if (m != nullptr && PyModule_AddIntConstant(m, "header_version_code", NCCLKIT_NCCL_VERSION_CODE) != 0) {
    Py_DECREF(m);
    return nullptr;
  }
  return m;
}
