"""``schedule.walk`` in C: the same post-order walk and structure key, built at run time
as a CPython extension (where the interpreter's headers and a C compiler are present) and
used once built. Every realize walks its graph, cache hit or not: in Python the walk of a
10-op expression was ~7 us of a ~21 us realize (NumPy computes the expression in ~7 us);
in C it is well under one.

The C code does the traversal and the key items of leaves and elementwise nodes; the ops
whose key item is computed from their shapes (RESHAPE, SHRINK, PAD, EXPAND, CAST, BITCAST)
and leaves other than buffers and constants call back into ``schedule``'s own Python
helpers, so both walks give the same (order, key, positions) - tested on every graph of
the fuzzer's kinds (``tests/test_compile_once.py``). ``ZYX_NATIVE_WALK=0`` keeps the Python
walk. The build runs in the background (~0.2 s, once per machine and interpreter: the disk
cache keeps it); until it lands the Python walk serves."""
from __future__ import annotations

import importlib.machinery
import os
import sys
import threading

from .. import cache, debug

SOURCE = r"""
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <stdint.h>

/* set by init(): the Node type and its slots' offsets, schedule's helpers and tables */
static PyTypeObject *node_type;
static Py_ssize_t off_op, off_srcs, off_arg, off_shape, off_dtype;
static PyObject *sigs, *sig_fn, *leaf_key_fn, *special_fn, *special_ops, *bool_dtype;
static PyObject *s_buffer, *s_const, *s_name;

static PyObject *slot(PyObject *n, Py_ssize_t off) {  /* borrowed; NULL with an error if unset */
    PyObject *v = *(PyObject **)((char *)n + off);
    if (v == NULL) PyErr_SetString(PyExc_AttributeError, "zyx walk: a Node slot is unset");
    return v;
}

static int is_node(PyObject *n) {
    if (Py_TYPE(n) != node_type) { PyErr_SetString(PyExc_TypeError, "zyx walk: not a Node"); return 0; }
    return 1;
}

static int op_is(PyObject *op, PyObject *name) {  /* ops are interned names: identity first */
    if (op == name) return 1;
    return PyUnicode_Check(op) && PyUnicode_Compare(op, name) == 0;
}

static PyObject *sig_of(PyObject *shape) {  /* new reference */
    PyObject *s = PyDict_GetItemWithError(sigs, shape);
    if (s != NULL) { Py_INCREF(s); return s; }
    if (PyErr_Occurred()) return NULL;
    return PyObject_CallOneArg(sig_fn, shape);
}

/* dtype -> its name, for the few dtypes a process meets (they live for good: held here) */
#define NAMES 16
static PyObject *name_of_dtype[NAMES][2];

static PyObject *dtype_name(PyObject *n) {  /* new reference */
    PyObject *d = slot(n, off_dtype);
    if (d == NULL) return NULL;
    for (int i = 0; i < NAMES && name_of_dtype[i][0] != NULL; i++)
        if (name_of_dtype[i][0] == d) return Py_NewRef(name_of_dtype[i][1]);
    PyObject *name = PyObject_GetAttr(d, s_name);
    if (name == NULL) return NULL;
    for (int i = 0; i < NAMES; i++)
        if (name_of_dtype[i][0] == NULL) {
            name_of_dtype[i][0] = Py_NewRef(d);
            name_of_dtype[i][1] = Py_NewRef(name);
            break;
        }
    return name;
}

static PyObject *pack(Py_ssize_t n, PyObject **items) {  /* a tuple stealing n references; NULL ones fail it */
    for (Py_ssize_t i = 0; i < n; i++)
        if (items[i] == NULL) {
            for (Py_ssize_t j = 0; j < n; j++) Py_XDECREF(items[j]);
            return NULL;
        }
    PyObject *t = PyTuple_New(n);
    if (t == NULL) {
        for (Py_ssize_t j = 0; j < n; j++) Py_DECREF(items[j]);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) PyTuple_SET_ITEM(t, i, items[i]);
    return t;
}

/* The slots read below are taken as new references before anything that may run Python
   (a helper, a hash): no other thread can then free what this walk still uses. */
static PyObject *leaf_item(PyObject *s) {  /* a leaf's key item (schedule._leaf_key's) */
    PyObject *op = slot(s, off_op);
    if (op == NULL) return NULL;
    int buf = op_is(op, s_buffer), cst = !buf && op_is(op, s_const);
    if (!buf && !cst) return PyObject_CallOneArg(leaf_key_fn, s);
    PyObject *b = Py_None;
    if (cst && slot(s, off_dtype) == bool_dtype) {
        PyObject *arg = slot(s, off_arg);
        if (arg == NULL) return NULL;
        Py_INCREF(arg);
        int t = PyObject_IsTrue(arg);
        Py_DECREF(arg);
        if (t < 0) return NULL;
        b = t ? Py_True : Py_False;
    }
    PyObject *shape = slot(s, off_shape);
    if (shape == NULL) return NULL;
    Py_INCREF(shape);
    PyObject *sig = sig_of(shape);
    Py_DECREF(shape);
    if (sig == NULL) return NULL;
    PyObject *name = dtype_name(s);
    if (buf) {
        PyObject *items[2] = {sig, name};
        return pack(2, items);
    }
    PyObject *items[4] = {Py_NewRef(s_const), sig, name, Py_NewRef(b)};
    return pack(4, items);
}

/* The walk's positions: node -> its index (a PyLong, owned here), by the node's address
   (open addressing; nodes are held by the order list for as long as the map lives). */
typedef struct { PyObject *node, *idx; } entry;
typedef struct { entry *e; size_t mask; Py_ssize_t n; } nmap;

static size_t slot_of(const nmap *m, PyObject *node) {
    size_t h = (size_t)(((uint64_t)(uintptr_t)node >> 4) * 0x9E3779B97F4A7C15ULL >> 20);
    return h & m->mask;
}

static int nmap_init(nmap *m) {
    m->mask = 63;
    m->n = 0;
    m->e = PyMem_Calloc(m->mask + 1, sizeof(entry));
    if (m->e == NULL) { PyErr_NoMemory(); return -1; }
    return 0;
}

static PyObject *nmap_get(const nmap *m, PyObject *node) {  /* borrowed; NULL (no error) if absent */
    for (size_t i = slot_of(m, node);; i = (i + 1) & m->mask) {
        if (m->e[i].node == node) return m->e[i].idx;
        if (m->e[i].node == NULL) return NULL;
    }
}

static int nmap_put(nmap *m, PyObject *node, PyObject *idx) {  /* steals idx; node not present */
    if ((size_t)(m->n + 1) * 2 > m->mask + 1) {
        entry *old = m->e;
        size_t oldcap = m->mask + 1;
        m->e = PyMem_Calloc(oldcap * 2, sizeof(entry));
        if (m->e == NULL) { m->e = old; Py_DECREF(idx); PyErr_NoMemory(); return -1; }
        m->mask = oldcap * 2 - 1;
        for (size_t j = 0; j < oldcap; j++)
            if (old[j].node != NULL) {
                size_t i = slot_of(m, old[j].node);
                while (m->e[i].node != NULL) i = (i + 1) & m->mask;
                m->e[i] = old[j];
            }
        PyMem_Free(old);
    }
    size_t i = slot_of(m, node);
    while (m->e[i].node != NULL) i = (i + 1) & m->mask;
    m->e[i].node = node;
    m->e[i].idx = idx;
    m->n++;
    return 0;
}

static void nmap_free(nmap *m) {
    if (m->e == NULL) return;
    for (size_t i = 0; i <= m->mask; i++) Py_XDECREF(m->e[i].idx);
    PyMem_Free(m->e);
    m->e = NULL;
}

static PyObject *node_item_of(PyObject *n, PyObject *op, PyObject *shape, PyObject *srcs, Py_ssize_t ns,
                              const nmap *pos) {
    PyObject *arg;
    if (ns == 1) {
        int special = PySet_Contains(special_ops, op);
        if (special < 0) return NULL;
        if (special) {
            arg = PyObject_CallFunctionObjArgs(special_fn, n, PyTuple_GET_ITEM(srcs, 0), NULL);
        } else {
            arg = slot(n, off_arg);
            Py_XINCREF(arg);
        }
    } else {
        arg = slot(n, off_arg);
        if (arg == NULL) return NULL;
        Py_INCREF(arg);
    }
    if (arg == NULL) return NULL;
    PyObject *sig = sig_of(shape);
    PyObject *name = sig ? dtype_name(n) : NULL;
    if (name == NULL) { Py_DECREF(arg); Py_XDECREF(sig); return NULL; }
    PyObject *item;
    if (ns <= 2) {
        item = PyTuple_New(4 + ns);
        if (item == NULL) { Py_DECREF(arg); Py_DECREF(sig); Py_DECREF(name); return NULL; }
        for (Py_ssize_t i = 0; i < ns; i++) {
            PyObject *p = nmap_get(pos, PyTuple_GET_ITEM(srcs, i));
            if (p == NULL) {
                PyErr_SetString(PyExc_RuntimeError, "zyx walk: a source was not placed");
                Py_DECREF(item); Py_DECREF(arg); Py_DECREF(sig); Py_DECREF(name);
                return NULL;
            }
            PyTuple_SET_ITEM(item, 4 + i, Py_NewRef(p));
        }
    } else {
        PyObject *ps = PyTuple_New(ns);
        item = ps ? PyTuple_New(5) : NULL;
        if (item == NULL) { Py_XDECREF(ps); Py_DECREF(arg); Py_DECREF(sig); Py_DECREF(name); return NULL; }
        for (Py_ssize_t i = 0; i < ns; i++) {
            PyObject *p = nmap_get(pos, PyTuple_GET_ITEM(srcs, i));
            if (p == NULL) {
                PyErr_SetString(PyExc_RuntimeError, "zyx walk: a source was not placed");
                Py_DECREF(ps); Py_DECREF(item); Py_DECREF(arg); Py_DECREF(sig); Py_DECREF(name);
                return NULL;
            }
            PyTuple_SET_ITEM(ps, i, Py_NewRef(p));
        }
        PyTuple_SET_ITEM(item, 4, ps);
    }
    PyTuple_SET_ITEM(item, 0, Py_NewRef(op));
    PyTuple_SET_ITEM(item, 1, arg);
    PyTuple_SET_ITEM(item, 2, sig);
    PyTuple_SET_ITEM(item, 3, name);
    return item;
}

static PyObject *node_item(PyObject *n, PyObject *srcs, const nmap *pos) {  /* an inner node's item */
    PyObject *op = slot(n, off_op), *shape = slot(n, off_shape);
    if (op == NULL || shape == NULL) return NULL;
    Py_ssize_t ns = PyTuple_GET_SIZE(srcs);
    PyObject *item = NULL;
    Py_INCREF(op);
    Py_INCREF(shape);
    item = node_item_of(n, op, shape, srcs, ns, pos);
    Py_DECREF(op);
    Py_DECREF(shape);
    return item;
}

/* place n: pos[n] = len(order); order.append(n); key.append(item) - item is stolen */
static int emit(PyObject *n, PyObject *item, PyObject *order, PyObject *key, nmap *pos) {
    if (item == NULL) return -1;
    PyObject *i = PyLong_FromSsize_t(PyList_GET_SIZE(order));
    int bad = i == NULL || PyList_Append(order, n) < 0 || PyList_Append(key, item) < 0;
    Py_DECREF(item);
    if (bad) { Py_XDECREF(i); return -1; }
    return nmap_put(pos, n, i);  /* (after the append: the order list holds n) */
}

/* (order, key) - and with want_pos the positions as a dict - of schedule.python_walk */
static PyObject *walk_impl(PyObject *targets, int want_pos) {
    if (!PyList_Check(targets)) { PyErr_SetString(PyExc_TypeError, "walk: a list of nodes"); return NULL; }
    if (node_type == NULL) { PyErr_SetString(PyExc_RuntimeError, "walk: init() first"); return NULL; }
    PyObject *order = PyList_New(0), *key = PyList_New(0), *k = NULL, *pd = NULL;
    PyObject **stack = NULL;  /* owned references */
    Py_ssize_t depth = 0, cap = 0;
    nmap pos = {NULL, 0, 0};
    if (order == NULL || key == NULL || nmap_init(&pos) < 0) goto fail;
    for (Py_ssize_t t = 0; t < PyList_GET_SIZE(targets); t++) {
        PyObject *tn = PyList_GET_ITEM(targets, t);
        if (!is_node(tn)) goto fail;
        if (nmap_get(&pos, tn) != NULL) continue;
        PyObject *ts = slot(tn, off_srcs);
        if (ts == NULL || !PyTuple_Check(ts)) { if (ts) PyErr_SetString(PyExc_TypeError, "zyx walk: srcs"); goto fail; }
        if (PyTuple_GET_SIZE(ts) == 0) {
            if (emit(tn, PyObject_CallOneArg(leaf_key_fn, tn), order, key, &pos) < 0) goto fail;
            continue;
        }
        if (cap == 0) {
            cap = 64;
            stack = PyMem_Malloc(cap * sizeof(PyObject *));
            if (stack == NULL) { PyErr_NoMemory(); goto fail; }
        }
        stack[depth++] = Py_NewRef(tn);
        while (depth > 0) {
            PyObject *n = stack[depth - 1];
            if (nmap_get(&pos, n) != NULL) { depth--; Py_DECREF(n); continue; }
            PyObject *srcs = slot(n, off_srcs);
            if (srcs == NULL || !PyTuple_Check(srcs)) { if (srcs) PyErr_SetString(PyExc_TypeError, "zyx walk: srcs"); goto fail; }
            Py_INCREF(srcs);  /* (held: a callback below runs Python) */
            int pending = 0;
            for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(srcs); i++) {
                PyObject *s = PyTuple_GET_ITEM(srcs, i);
                if (!is_node(s)) { Py_DECREF(srcs); goto fail; }
                if (nmap_get(&pos, s) != NULL) continue;
                PyObject *ss = slot(s, off_srcs);
                if (ss == NULL || !PyTuple_Check(ss)) {
                    if (ss) PyErr_SetString(PyExc_TypeError, "zyx walk: srcs");
                    Py_DECREF(srcs);
                    goto fail;
                }
                if (PyTuple_GET_SIZE(ss) > 0) {
                    if (depth == cap) {
                        PyObject **more = PyMem_Realloc(stack, 2 * cap * sizeof(PyObject *));
                        if (more == NULL) { Py_DECREF(srcs); PyErr_NoMemory(); goto fail; }
                        stack = more;
                        cap *= 2;
                    }
                    stack[depth++] = Py_NewRef(s);
                    pending = 1;
                } else if (emit(s, leaf_item(s), order, key, &pos) < 0) {
                    Py_DECREF(srcs);
                    goto fail;
                }
            }
            if (!pending) {
                depth--;
                int bad = emit(n, node_item(n, srcs, &pos), order, key, &pos);
                Py_DECREF(n);
                if (bad < 0) { Py_DECREF(srcs); goto fail; }
            }
            Py_DECREF(srcs);
        }
    }
    {
        Py_ssize_t nt = PyList_GET_SIZE(targets);
        PyObject *tp = PyTuple_New(nt);
        if (tp == NULL) goto fail;
        for (Py_ssize_t t = 0; t < nt; t++) {
            PyObject *p = nmap_get(&pos, PyList_GET_ITEM(targets, t));
            if (p == NULL) {
                PyErr_SetString(PyExc_RuntimeError, "zyx walk: a target was not placed");
                Py_DECREF(tp);
                goto fail;
            }
            PyTuple_SET_ITEM(tp, t, Py_NewRef(p));
        }
        int bad = PyList_Append(key, tp) < 0;
        Py_DECREF(tp);
        if (bad) goto fail;
    }
    if (want_pos) {  /* {node: position} in walk order, as python_walk's dict */
        pd = PyDict_New();
        if (pd == NULL) goto fail;
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(order); i++) {
            PyObject *n = PyList_GET_ITEM(order, i);
            if (PyDict_SetItem(pd, n, nmap_get(&pos, n)) < 0) goto fail;
        }
    }
    PyMem_Free(stack);
    stack = NULL;
    nmap_free(&pos);
    k = PyList_AsTuple(key);
    Py_CLEAR(key);
    if (k == NULL) goto fail;
    if (want_pos) {
        PyObject *out[3] = {order, k, pd};
        return pack(3, out);
    }
    PyObject *out[2] = {order, k};
    return pack(2, out);
fail:
    while (depth > 0) { depth--; Py_DECREF(stack[depth]); }
    PyMem_Free(stack);
    nmap_free(&pos);
    Py_XDECREF(order);
    Py_XDECREF(key);
    Py_XDECREF(k);
    Py_XDECREF(pd);
    return NULL;
}

static PyObject *walk(PyObject *self, PyObject *targets) { return walk_impl(targets, 1); }
static PyObject *walk_key(PyObject *self, PyObject *targets) { return walk_impl(targets, 0); }

static Py_ssize_t offset_of(PyObject *type, const char *name) {
    PyObject *d = PyObject_GetAttrString(type, name);
    if (d == NULL) return -1;
    Py_ssize_t off = -1;
    if (Py_IS_TYPE(d, &PyMemberDescr_Type)) {
        PyMemberDef *m = ((PyMemberDescrObject *)d)->d_member;
        if (m->type == T_OBJECT_EX) off = m->offset;
    }
    Py_DECREF(d);
    if (off < 0) PyErr_Format(PyExc_TypeError, "zyx walk: Node.%s is not a slot", name);
    return off;
}

/* init(Node, sigs, sig_fn, leaf_key_fn, special_fn, special_ops, bool_dtype) */
static PyObject *init(PyObject *self, PyObject *args) {
    PyObject *nt, *a, *b, *c, *d, *e, *f;
    if (!PyArg_ParseTuple(args, "O!O!OOOO!O", &PyType_Type, &nt, &PyDict_Type, &a, &b, &c, &d, &PySet_Type, &e, &f))
        return NULL;
    if ((off_op = offset_of(nt, "op")) < 0 || (off_srcs = offset_of(nt, "srcs")) < 0 ||
        (off_arg = offset_of(nt, "arg")) < 0 || (off_shape = offset_of(nt, "shape")) < 0 ||
        (off_dtype = offset_of(nt, "dtype")) < 0)
        return NULL;
    Py_XSETREF(sigs, Py_NewRef(a)); Py_XSETREF(sig_fn, Py_NewRef(b)); Py_XSETREF(leaf_key_fn, Py_NewRef(c));
    Py_XSETREF(special_fn, Py_NewRef(d)); Py_XSETREF(special_ops, Py_NewRef(e)); Py_XSETREF(bool_dtype, Py_NewRef(f));
    Py_XSETREF(node_type, (PyTypeObject *)Py_NewRef(nt));
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"walk", walk, METH_O, "schedule.walk in C: (order, key, positions)"},
    {"walk_key", walk_key, METH_O, "(order, key) of schedule.walk, without the positions"},
    {"init", init, METH_VARARGS, "the Node type and schedule's helpers"},
    {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_zyx_walk", NULL, -1, methods};

PyMODINIT_FUNC PyInit__zyx_walk(void) {
    s_buffer = PyUnicode_InternFromString("BUFFER");
    s_const = PyUnicode_InternFromString("CONST");
    s_name = PyUnicode_InternFromString("name");
    if (s_buffer == NULL || s_const == NULL || s_name == NULL) return NULL;
    return PyModule_Create(&module);
}
"""

_FLAGS = ["-O2", "-shared", "-fPIC", "-fno-strict-aliasing"] + (
    ["-undefined", "dynamic_lookup"] if sys.platform == "darwin" else [])


def wanted() -> bool:
    """``ZYX_NATIVE_WALK=0`` (or empty) keeps the Python walk, as does a free-threaded
    interpreter running without its GIL (the extension relies on it)."""
    if hasattr(sys, "_is_gil_enabled") and not sys._is_gil_enabled():
        return False
    return os.environ.get("ZYX_NATIVE_WALK", "1") not in ("", "0")


def _include() -> str | None:
    """The interpreter's C headers' directory, where they are installed (``sysconfig``: ~1 ms
    the first time, so only a build asks)."""
    import sysconfig
    inc = sysconfig.get_paths().get("include")
    return inc if inc and os.path.exists(os.path.join(inc, "Python.h")) else None


def _key(cc: str) -> str:
    """The extension's disk-cache key: its source, the compiler, and the interpreter's ABI
    (version, build, platform and extension tag: a process loads what another one of the same
    interpreter built)."""
    return cache.key_of(SOURCE, cc, _FLAGS, sys.version, sys.platform, sys.implementation.cache_tag,
                        importlib.machinery.EXTENSION_SUFFIXES[0])


def _load(path) -> object:
    loader = importlib.machinery.ExtensionFileLoader("_zyx_walk", str(path))
    spec = importlib.machinery.ModuleSpec("_zyx_walk", loader, origin=str(path))
    mod = loader.create_module(spec)
    loader.exec_module(mod)
    return mod


def _build(cc: str, inc: str, key: str):
    from ..backends.base import in_background
    from ..backends.cpu import build_helper
    with in_background():  # (at low priority, as background kernel builds: the program's work goes first)
        written = build_helper(cc, SOURCE, [f"-I{inc}"] + _FLAGS, "walk", key)
    return cache.open_loadable(written, _load)


def module(background: bool = True, ready=None):
    """The built extension: loaded from the disk cache at once, else None while it builds
    (in the background, or here with ``background=False``); None for good where it cannot
    be built (no compiler, no Python headers, a failed build: the Python walk serves).
    ``ready(module)`` is called when it becomes available, at once or when its build lands."""
    global _state
    with _lock:
        if _state is not None:
            return _state if _state is not False and _state != "building" else None
        _state = "building"
    found = _find(background, ready)
    return found if found is not False and found != "building" else None


_state = None  # None: not asked yet; "building"; False: not available; else the module
_lock = threading.Lock()


def _settle(value, ready=None):
    global _state
    _state = value
    if value is not False and ready is not None:
        ready(value)
    return value


def _find(background: bool, ready):
    if not wanted():
        return _settle(False)
    try:
        from ..backends.cpu import _find_compiler
        cc = _find_compiler()
    except Exception:  # noqa: BLE001 - no compiler: the Python walk
        return _settle(False)
    key = _key(cc)
    path = cache.read("walk", key, ".so")
    if path is not None:
        try:
            return _settle(_load(path), ready)
        except Exception:  # noqa: BLE001 - not loadable: build it again
            pass

    def build():
        try:
            inc = _include()
            if inc is None:
                return _settle(False)
            mod = _build(cc, inc, key)
        except Exception as e:  # noqa: BLE001
            if debug.level & 1:
                debug.log(f"the native graph walk did not build ({type(e).__name__}: {e}); the Python walk serves")
            return _settle(False)
        return _settle(mod, ready)
    if not background:
        return build()
    # (not a daemon: a short first script still leaves the extension for the next process)
    threading.Thread(target=build, name="zyx-walk-build").start()
    return "building"


def _after_fork_in_child() -> None:
    global _state
    if _state == "building":  # (the build's thread is not in the child: it keeps the Python
        _state = False  # walk rather than build again - a pool of forked workers would each)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
