// rawpkg._raw: nccl_version() from the NCCL loaded, the header's version code, and the CUDA
// runtime's version, through the C API alone.
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <nccl.h>
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

static PyMethodDef methods[] = {
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
