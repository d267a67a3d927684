"""The native half of zyx's DLPack support (see ``_dlpack.py``): the C release callbacks'
source, their disk-cache key and their build - kept apart from ``_dlpack`` so the cpu
device, when it opens, can check for the built helper and start its build without
importing ``_dlpack`` (~5 ms: its ctypes structures and callbacks)."""
from __future__ import annotations

import os
import sys
import threading

from . import cache

SOURCE = r"""
/* zyx DLPack release callbacks: run from C (a consumer's deleter call, a capsule's
   destruction) with the Python error state saved, so a pending exception survives. */
#include <stdint.h>
typedef struct _object PyObject;
extern int PyGILState_Ensure(void);
extern void PyGILState_Release(int);
extern void PyErr_Fetch(PyObject **, PyObject **, PyObject **);
extern void PyErr_Restore(PyObject *, PyObject *, PyObject *);
extern void Py_DecRef(PyObject *);
extern int Py_IsInitialized(void);
extern int PyCapsule_IsValid(PyObject *, const char *);
extern void *PyCapsule_GetPointer(PyObject *, const char *);

typedef struct { void *data; int32_t device_type, device_id, ndim; uint8_t code, bits; uint16_t lanes;
                 int64_t *shape, *strides; uint64_t byte_offset; } DLTensor;
typedef struct DLManagedTensor { DLTensor dl_tensor; void *manager_ctx;
                                 void (*deleter)(struct DLManagedTensor *); } DLManagedTensor;
typedef struct DLManagedTensorVersioned { uint32_t major, minor; void *manager_ctx;
                                          void (*deleter)(struct DLManagedTensorVersioned *);
                                          uint64_t flags; DLTensor dl_tensor; } DLManagedTensorVersioned;

static void zyx_release(void *owner) {
    if (owner == 0 || !Py_IsInitialized()) return;  /* at exit: leak rather than crash */
    int gil = PyGILState_Ensure();
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    Py_DecRef((PyObject *)owner);
    PyErr_Restore(type, value, tb);
    PyGILState_Release(gil);
}
void zyx_dlpack_deleter(DLManagedTensor *self) { zyx_release(self->manager_ctx); }
void zyx_dlpack_deleter_versioned(DLManagedTensorVersioned *self) { zyx_release(self->manager_ctx); }
void zyx_dlpack_capsule_destructor(PyObject *capsule) {
    if (PyCapsule_IsValid(capsule, "dltensor")) {
        DLManagedTensor *m = (DLManagedTensor *)PyCapsule_GetPointer(capsule, "dltensor");
        if (m && m->deleter) m->deleter(m);
    }
}
void zyx_dlpack_capsule_destructor_versioned(PyObject *capsule) {
    if (PyCapsule_IsValid(capsule, "dltensor_versioned")) {
        DLManagedTensorVersioned *m = (DLManagedTensorVersioned *)PyCapsule_GetPointer(capsule, "dltensor_versioned");
        if (m && m->deleter) m->deleter(m);
    }
}
"""


def wanted() -> bool:
    """``ZYX_DLPACK_NATIVE=0`` (or empty) forces the ctypes callbacks."""
    return os.environ.get("ZYX_DLPACK_NATIVE", "1") not in ("", "0")


def _key(cc: str) -> tuple[list, str]:
    flags = ["-O2", "-shared", "-fPIC"] + (["-undefined", "dynamic_lookup"] if sys.platform == "darwin" else [])
    return flags, cache.key_of(SOURCE, cc, flags, sys.version, sys.platform)


def build():
    """Compile (or load from the disk cache) the C release callbacks."""
    import ctypes

    from .backends.cpu import _find_compiler, build_helper
    cc = _find_compiler()
    flags, key = _key(cc)
    path = cache.read("dlpack", key, ".so")
    if path is not None:
        return ctypes.CDLL(str(path))
    return cache.open_loadable(build_helper(cc, SOURCE, flags, "dlpack", key), ctypes.CDLL)


_warmed = False


def _warm() -> None:
    from . import _dlpack
    _dlpack.callbacks()


def warm_up(cc: str) -> None:
    """Start building the callbacks in the background where the disk cache lacks them
    (called when the cpu device opens): the build is a compiler run, ~50 ms, which a cold
    process's first export - scikit-learn moving an array to NumPy for SciPy - waited for.
    Where they are on disk nothing starts: the first export loads them (~0.2 ms)."""
    global _warmed
    if _warmed or not wanted():
        return
    _warmed = True
    if not cache.enabled() or os.path.exists(cache.entry_str("dlpack", _key(cc)[1], ".so")):
        return
    # (not a daemon: a short first script still leaves the helper for the next process)
    threading.Thread(target=_warm, name="zyx-dlpack-callbacks").start()


def _after_fork_in_child() -> None:
    global _warmed
    _warmed = False  # (a child builds at its first export, or at its own device open)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
