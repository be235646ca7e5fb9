// <ncclkit/communicator.h>: the ncclComm_t of an ncclkit.Communicator, for an extension's own NCCL
// calls on the communicator Python made. C and C++; needs Python's headers and a target that
// ncclkit_target_link_nccl() gave NCCL (or RCCL) and <ncclkit/config.h>.
//
//   ncclkit_comm_handle handle;
//   if (ncclkit_comm_from_python(obj, &handle) != 0) return NULL;  // a Python exception is set
//   ncclAllReduce(send, recv, count, ncclFloat, ncclSum, handle.comm, stream);  // on handle.device
//
// The handle is the communicator's for as long as the caller holds `obj` and does not destroy or
// abort it. Calls through it do not take the communicator's lock (one ncclkit call at a time per
// communicator): order them with the communicator's own calls, as NCCL asks of any two threads.
#pragma once

#include <Python.h>
#include <ncclkit/config.h>
#if NCCLKIT_WITH_RCCL
#include <rccl.h>
#else
#include <nccl.h>
#endif

// The capsule Communicator.__ncclkit_comm__() returns; the version names this struct's layout.
#define NCCLKIT_COMM_CAPSULE "ncclkit.comm_handle.v1"

typedef struct ncclkit_comm_handle {
  ncclComm_t comm;
  int device;  // the CUDA device the communicator's rank runs on
} ncclkit_comm_handle;

// 0 with *out set; -1 with a Python exception set: TypeError for an object that is not an
// ncclkit.Communicator, ValueError (from ncclkit) for one destroyed or aborted.
static inline int ncclkit_comm_from_python(PyObject* obj, ncclkit_comm_handle* out) {
  PyObject* method = PyObject_GetAttrString(obj, "__ncclkit_comm__");
  if (method == NULL) {
    PyErr_Clear();
    PyErr_Format(PyExc_TypeError, "expected an ncclkit.Communicator, got %s", Py_TYPE(obj)->tp_name);
    return -1;
  }
  PyObject* capsule = PyObject_CallNoArgs(method);
  Py_DECREF(method);
  if (capsule == NULL) return -1;
  const ncclkit_comm_handle* handle = (const ncclkit_comm_handle*)PyCapsule_GetPointer(capsule, NCCLKIT_COMM_CAPSULE);
  if (handle == NULL) {
    PyErr_Clear();
    PyErr_Format(PyExc_TypeError,
                 "%s.__ncclkit_comm__() returned no \"" NCCLKIT_COMM_CAPSULE "\" capsule: an ncclkit other than "
                 "the one this extension was built with?",
                 Py_TYPE(obj)->tp_name);
  } else {
    *out = *handle;
  }
  Py_DECREF(capsule);
  return handle == NULL ? -1 : 0;
}
