"""NumPy's protocols on ``zyx.Tensor``: ``__array__``, ``__array_ufunc__``,
``__array_function__``, ``__format__`` and ``__bytes__``.

The dispatch protocols work the way CuPy's do. A NumPy function or ufunc called with a
zyx array runs zyx's own function when there is one (``np.exp(t)``, ``np.sum(t, axis=1)``,
``np.concatenate([t, u])``, ``np.add.reduce(t)``) and returns a zyx array on the
array's device, lazily like any zyx operation. NumPy arrays and NumPy scalars among the
arguments are put on that device first (NumPy scalars keep their dtype, Python scalars are
"weak", as in NumPy 2).

Anything else - NumPy functions zyx lacks (``np.unique``, ``np.linalg.norm``, ``np.fmax``),
keyword arguments zyx's functions do not take (``where=``, ``initial=``, ``casting=``), and
calls zyx's function refuses with a TypeError where NumPy has an answer (``np.sum`` of
booleans) - is a *host fallback*: the zyx arguments are realized and copied to NumPy, NumPy
runs, and array results (and NumPy scalars) come back as zyx arrays on the same device, so
array in gives array out with NumPy's exact values. A result whose dtype zyx or the device
lacks stays a NumPy array; Python values (``np.allclose``'s bool, ``np.shape``'s tuple) and
dtypes are returned as they are. ``ufunc.at`` (an in-place write NumPy would make into a
zyx array) and ``out=`` of a foreign type raise a TypeError that says what to do. Objects
of other libraries that take part in the protocols (Dask, xarray) get ``NotImplemented``,
so they handle the call themselves.
"""
from __future__ import annotations

import numbers

import numpy as np

from . import dtypes as dt
from .tensor import Tensor

_SCALARS = (bool, int, float, complex)


def _xp():
    from . import array_api
    return array_api


class _HostFallback(Exception):
    """An argument zyx's implementation does not take: run NumPy on host copies."""


# ---------------------------------------------------------------------------- __array__
def array(t: Tensor, dtype=None, copy: bool | None = None) -> np.ndarray:
    """NumPy's ``__array__(dtype, copy)`` protocol. ``copy=None``: a fresh host array
    (zyx arrays are values, so NumPy never gets write access to a tensor's buffer this
    way). ``copy=True``: a fresh array. ``copy=False``: a read-only view of the realized
    buffer on the ``cpu`` device (realizing is computing, not copying); ValueError when a
    copy cannot be avoided (another device, or a ``dtype`` that differs)."""
    want = np.dtype(dtype) if dtype is not None else None
    if copy is False:
        if t.device.type != "cpu":
            raise ValueError(f"np.asarray(x, copy=False): x lives on device {t.device}; reaching it from "
                             "NumPy needs a host copy (pass copy=None or True, or x.numpy())")
        if want is not None and want != t.dtype.np:
            raise ValueError(f"np.asarray(x, dtype={want}, copy=False): x is {t.dtype.name}; converting "
                             "needs a copy")
        t.realize()
        view = t.device.backend.view(t._node.buffer.handle, t.size).reshape(t.shape)
        view.flags.writeable = False
        return view
    a = t.numpy()  # a fresh host array on every device
    if want is not None and want != a.dtype:
        a = a.astype(want)
    return a


# ---------------------------------------------------------------------------- __format__ / bytes
def format_tensor(t: Tensor, spec: str) -> str:
    """``format(x, spec)``: a 0-d array formats its value (``f"{x:.2f}"``); with an empty
    spec any array formats as ``str(x)``; other arrays raise NumPy's TypeError."""
    if not spec:
        return str(t)
    if t.ndim == 0:
        return format(t.item(), spec)
    raise TypeError(f"unsupported format string passed to zyx.Tensor.__format__: only 0-d arrays take a "
                    f"format spec (this one has shape {t.shape}); format x.item() or the elements")


def to_bytes(t: Tensor) -> bytes:
    """``bytes(x)`` as for a NumPy array: the raw bytes of the values in C order - except
    for a 0-d integer array, which Python's ``bytes()`` treats as an int (``bytes(5)`` is
    five zero bytes) because it has ``__index__``; NumPy's arrays behave so, and so do
    zyx's."""
    if t.ndim == 0 and t.dtype.kind in "iu":
        return bytes(int(t))
    return t.numpy().tobytes()


# ---------------------------------------------------------------------------- arguments
def _device_of(args) -> object:
    for a in _walk(args):
        if isinstance(a, Tensor):
            return a.device
    return None


def _walk(obj):
    if isinstance(obj, (list, tuple)):
        for o in obj:
            yield from _walk(o)
    elif isinstance(obj, dict):
        for o in obj.values():
            yield from _walk(o)
    else:
        yield obj


def _foreign(obj) -> bool:
    """Another library's array that takes part in NumPy's protocols (Dask, xarray...)."""
    return (not isinstance(obj, (Tensor, np.ndarray, np.generic))
            and (hasattr(obj, "__array_ufunc__") or hasattr(obj, "__array_function__")))


def _operand(v, device):
    """A ufunc/function argument as zyx takes it: Tensors as they are, Python scalars
    as Python scalars (weak), NumPy arrays and scalars and nested sequences as arrays on
    ``device``."""
    if isinstance(v, Tensor):
        return v
    if isinstance(v, _SCALARS) and not isinstance(v, np.generic):
        return v
    if isinstance(v, (np.ndarray, np.generic, list, tuple)):
        arr = np.asarray(v)
        try:
            dt.from_numpy(arr.dtype)
        except TypeError:
            raise _HostFallback from None
        return _xp().asarray(arr if arr.flags.c_contiguous else arr.copy(), device=device)
    raise _HostFallback


def _host(obj):
    """Every zyx array inside ``obj`` (lists, tuples, dicts) as a NumPy array."""
    if isinstance(obj, Tensor):
        return obj.numpy()
    if isinstance(obj, list):
        return [_host(o) for o in obj]
    if isinstance(obj, tuple) and not hasattr(obj, "_fields"):
        return tuple(_host(o) for o in obj)
    if isinstance(obj, dict):
        return {k: _host(v) for k, v in obj.items()}
    return obj


def _back(obj, device):
    """NumPy arrays in a fallback's result as zyx arrays on ``device`` (where zyx and the
    device have the dtype); anything else unchanged."""
    if isinstance(obj, np.ndarray):
        try:
            d = dt.from_numpy(obj.dtype)
        except TypeError:
            return obj
        if not device.supports(d):
            return obj
        return _xp().asarray(obj if obj.flags.c_contiguous else obj.copy(), device=device)
    if isinstance(obj, np.generic) and obj.dtype.kind in "biufc":
        return _back(np.asarray(obj), device)  # a NumPy scalar result: a 0-d zyx array
    if type(obj) is tuple or type(obj) is list:
        return type(obj)(_back(o, device) for o in obj)
    return obj


def _store_out(out, result):
    """Write ``result`` into a ufunc's or function's ``out=`` argument and return it."""
    if isinstance(out, tuple):
        if len(out) != 1:
            raise TypeError("zyx handles out= with a single array only")
        out = out[0]
    if out is None:
        return result
    if isinstance(out, Tensor):
        if isinstance(result, Tensor) and result.shape != out.shape:
            result = result.broadcast_to(out.shape)
        out[...] = result  # rebinds out's graph (and writes back a view into its base)
        return out
    if isinstance(out, np.ndarray):
        np.copyto(out, np.asarray(result), casting="same_kind")
        return out
    raise TypeError(f"out= must be a zyx array or a NumPy array, not {type(out).__name__}")


# ---------------------------------------------------------------------------- ufuncs
# NumPy ufunc name -> zyx.array_api function name
_UFUNCS = {
    "add": "add", "subtract": "subtract", "multiply": "multiply", "divide": "divide", "true_divide": "divide",
    "floor_divide": "floor_divide", "remainder": "remainder", "power": "pow", "negative": "negative",
    "positive": "positive", "absolute": "abs", "sign": "sign", "exp": "exp", "expm1": "expm1", "log": "log",
    "log2": "log2", "log10": "log10", "log1p": "log1p", "sqrt": "sqrt", "square": "square",
    "reciprocal": "reciprocal", "sin": "sin", "cos": "cos", "tan": "tan", "arcsin": "asin", "arccos": "acos",
    "arctan": "atan", "arctan2": "atan2", "sinh": "sinh", "cosh": "cosh", "tanh": "tanh", "arcsinh": "asinh",
    "arccosh": "acosh", "arctanh": "atanh", "floor": "floor", "ceil": "ceil", "trunc": "trunc", "rint": "round",
    "isnan": "isnan", "isinf": "isinf", "isfinite": "isfinite", "signbit": "signbit", "copysign": "copysign",
    "nextafter": "nextafter", "hypot": "hypot", "logaddexp": "logaddexp", "maximum": "maximum",
    "minimum": "minimum", "greater": "greater", "greater_equal": "greater_equal", "less": "less",
    "less_equal": "less_equal", "equal": "equal", "not_equal": "not_equal", "logical_and": "logical_and",
    "logical_or": "logical_or", "logical_xor": "logical_xor", "logical_not": "logical_not",
    "bitwise_and": "bitwise_and", "bitwise_or": "bitwise_or", "bitwise_xor": "bitwise_xor",
    "invert": "bitwise_invert", "bitwise_invert": "bitwise_invert", "left_shift": "bitwise_left_shift",
    "right_shift": "bitwise_right_shift", "conjugate": "conj", "matmul": "matmul",
}
# ufunc.reduce / accumulate -> zyx.array_api reduction
_REDUCE = {"add": "sum", "multiply": "prod", "maximum": "max", "minimum": "min", "logical_and": "all",
           "logical_or": "any"}
_ACCUMULATE = {"add": "cumulative_sum", "multiply": "cumulative_prod"}
# the keyword arguments zyx takes per ufunc method (others - where=, casting=, initial=... -
# make the call a host fallback)
_UFUNC_KWARGS = {"__call__": {"dtype"}, "outer": {"dtype"}, "reduce": {"axis", "dtype", "keepdims"},
                 "accumulate": {"axis", "dtype"}}


def array_ufunc(ufunc, method: str, inputs: tuple, kwargs: dict):
    if any(_foreign(v) for v in inputs) or any(_foreign(v) for v in _walk(kwargs.get("out", ()))):
        return NotImplemented
    if method == "at":
        raise TypeError(f"numpy.{ufunc.__name__}.at writes into its first argument in place, which a zyx array "
                        "cannot lend to NumPy; use x[idx] = ... or zyx operations")
    device = _device_of((inputs, kwargs))
    out = kwargs.pop("out", None)
    try:
        if set(kwargs) - _UFUNC_KWARGS.get(method, set()):
            raise _HostFallback
        result = _ufunc_zyx(ufunc, method, inputs, kwargs, device)
    except (_HostFallback, TypeError):  # TypeError: zyx's function refuses what NumPy takes (bool sums)
        if method not in ("__call__", "reduce", "accumulate", "outer", "reduceat"):
            return NotImplemented
        if out is not None and any(isinstance(o, Tensor) for o in _walk(out)):
            result = _back(getattr(ufunc, method)(*_host(inputs), **_host(kwargs)), device)
        else:
            if out is not None:
                kwargs["out"] = out
            return _back(getattr(ufunc, method)(*_host(inputs), **_host(kwargs)), device)
    return _store_out(out, result)


def _ufunc_zyx(ufunc, method, inputs, kwargs, device):
    xp = _xp()
    name = ufunc.__name__
    dtype = kwargs.get("dtype")
    d = dt.to_dtype(dtype) if dtype is not None else None
    if method == "__call__":
        fname = _UFUNCS.get(name)
        if fname is None or ufunc.nout != 1:
            raise _HostFallback
        args = [_operand(v, device) for v in inputs]
        if d is not None:
            args = [a.astype(d) if isinstance(a, Tensor) else a for a in args]
        if name == "matmul" and any(not isinstance(a, Tensor) or a.ndim == 0 for a in args):
            raise _HostFallback  # NumPy raises for scalars here; let it say so
        if not any(isinstance(a, Tensor) for a in args):
            raise _HostFallback
        out = getattr(xp, fname)(*args)
        return out.astype(d) if d is not None and out.dtype is not d else out
    if len(inputs) != 1 and method != "outer":
        raise _HostFallback
    if method == "reduce":
        fname = _REDUCE.get(name)
        x = _operand(inputs[0], device)
        if fname is None or not isinstance(x, Tensor):
            raise _HostFallback
        axis = kwargs.get("axis", 0)
        keep = bool(kwargs.get("keepdims", False))
        if fname in ("sum", "prod"):
            return getattr(xp, fname)(x, axis=axis, dtype=d, keepdims=keep)
        out = getattr(xp, fname)(x, axis=axis, keepdims=keep)
        return out.astype(d) if d is not None else out
    if method == "accumulate":
        fname = _ACCUMULATE.get(name)
        x = _operand(inputs[0], device)
        if fname is None or not isinstance(x, Tensor):
            raise _HostFallback
        return getattr(xp, fname)(x, axis=kwargs.get("axis", 0), dtype=d)
    if method == "outer":
        fname = _UFUNCS.get(name)
        if fname is None or len(inputs) != 2 or ufunc.nin != 2:
            raise _HostFallback
        a, b = (_operand(v, device) for v in inputs)
        a = a if isinstance(a, Tensor) else xp.asarray(a, device=device)
        b = b if isinstance(b, Tensor) else xp.asarray(b, device=device)
        return getattr(xp, fname)(xp.reshape(a, a.shape + (1,) * b.ndim), b)
    raise _HostFallback


# ---------------------------------------------------------------------------- functions
_FUNCTIONS: dict = {}


def _implements(*np_funcs):
    def deco(fn):
        for f in np_funcs:
            if f is not None:
                _FUNCTIONS[f] = fn
        return fn
    return deco


def array_function(func, types, args, kwargs):
    if not all(issubclass(t, (Tensor, np.ndarray)) for t in types):
        return NotImplemented
    dev = _device_of((args, kwargs))
    kwargs = {k: v for k, v in kwargs.items() if v is not np._NoValue}
    impl = _FUNCTIONS.get(func)
    out = kwargs.pop("out", None)
    if impl is not None:
        try:
            result = impl(dev, *args, **kwargs)
        except (_HostFallback, TypeError):  # TypeError: arguments or dtypes zyx's function refuses
            pass
        else:
            return _store_out(out, result)
    if out is not None and not isinstance(out, Tensor):
        kwargs["out"] = out
        out = None
    result = func._implementation(*_host(args), **_host(kwargs)) if hasattr(func, "_implementation") \
        else func(*_host(args), **_host(kwargs))
    return _store_out(out, _back(result, dev))


def _need(cond: bool) -> None:
    if not cond:
        raise _HostFallback


def _arr(v, dev) -> Tensor:
    v = _operand(v, dev)
    return v if isinstance(v, Tensor) else _xp().asarray(v, device=dev)


def _axis(axis):
    if axis is None or isinstance(axis, numbers.Integral):
        return None if axis is None else int(axis)
    return tuple(int(a) for a in axis)


def _reduction(fname: str, takes_dtype: bool):
    def impl(dev, a, axis=None, dtype=None, keepdims=False, **extra):
        _need(not extra)
        x = _arr(a, dev)
        xp = _xp()
        if takes_dtype:
            return getattr(xp, fname)(x, axis=_axis(axis), dtype=dtype, keepdims=bool(keepdims))
        _need(dtype is None)
        return getattr(xp, fname)(x, axis=_axis(axis), keepdims=bool(keepdims))
    return impl


def _extreme(fname: str):
    def impl(dev, a, axis=None, keepdims=False, **extra):
        _need(not extra)
        return getattr(_xp(), fname)(_arr(a, dev), axis=_axis(axis), keepdims=bool(keepdims))
    return impl


_implements(np.sum)(_reduction("sum", True))
_implements(np.prod)(_reduction("prod", True))
_implements(np.max, getattr(np, "amax", None))(_extreme("max"))
_implements(np.min, getattr(np, "amin", None))(_extreme("min"))
_implements(np.all)(_extreme("all"))
_implements(np.any)(_extreme("any"))


def _float_for_mean(x: Tensor, dtype) -> Tensor:
    """NumPy's mean/var/std of integers and bools is float64 (float32 where the dev
    lacks float64)."""
    if dtype is not None:
        return x.astype(dtype)
    if x.dtype.kind in "biu":
        return x.astype(dt.float64 if x.device.supports(dt.float64) else dt.float32)
    return x


@_implements(np.mean)
def _mean(dev, a, axis=None, dtype=None, keepdims=False, **extra):
    _need(not extra)
    return _xp().mean(_float_for_mean(_arr(a, dev), dtype), axis=_axis(axis), keepdims=bool(keepdims))


def _spread(fname: str):
    def impl(dev, a, axis=None, dtype=None, ddof=0, keepdims=False, **extra):
        _need(not extra)
        x = _float_for_mean(_arr(a, dev), dtype)
        return getattr(_xp(), fname)(x, axis=_axis(axis), correction=ddof, keepdims=bool(keepdims))
    return impl


_implements(np.std)(_spread("std"))
_implements(np.var)(_spread("var"))


def _arg(fname: str):
    def impl(dev, a, axis=None, **extra):
        keep = extra.pop("keepdims", False)
        _need(not extra)
        return getattr(_xp(), fname)(_arr(a, dev), axis=None if axis is None else int(axis),
                                     keepdims=bool(keep))
    return impl


_implements(np.argmax)(_arg("argmax"))
_implements(np.argmin)(_arg("argmin"))


def _cumulative(fname: str):
    def impl(dev, a, axis=None, dtype=None):
        x = _arr(a, dev)
        if axis is None:
            x, axis = _xp().reshape(x, (-1,)), 0
        return getattr(_xp(), fname)(x, axis=int(axis), dtype=dtype)
    return impl


_implements(np.cumsum)(_cumulative("cumulative_sum"))
_implements(np.cumprod)(_cumulative("cumulative_prod"))


@_implements(np.count_nonzero)
def _count_nonzero(dev, a, axis=None, *, keepdims=False):
    return _xp().count_nonzero(_arr(a, dev), axis=_axis(axis), keepdims=bool(keepdims))


def _arrs(arrays, dev, dtype) -> list:
    """The arrays to join, as tensors on ``dev``, in ``dtype`` when one is given."""
    xs = [_arr(a, dev) for a in arrays]
    return xs if dtype is None else [x.astype(dtype) for x in xs]


@_implements(np.concatenate)
def _concatenate(dev, arrays, axis=0, dtype=None, **extra):
    _need(not extra)
    return _xp().concat(_arrs(arrays, dev, dtype), axis=None if axis is None else int(axis))


@_implements(np.stack)
def _stack(dev, arrays, axis=0, dtype=None, **extra):
    _need(not extra)
    return _xp().stack(_arrs(arrays, dev, dtype), axis=int(axis))


@_implements(np.where)
def _where(dev, condition, *xy):
    _need(len(xy) == 2)  # the one-argument form is nonzero (host fallback)
    cond = _arr(condition, dev)
    x, y = (_operand(v, dev) for v in xy)
    if not isinstance(x, Tensor) and not isinstance(y, Tensor):
        x = _xp().asarray(x, device=dev)
    return _xp().where(cond.astype(dt.bool_) if cond.dtype is not dt.bool_ else cond, x, y)


@_implements(np.reshape)
def _reshape(dev, a, shape=None, order="C", *, newshape=None, copy=None):
    _need(order == "C")
    shape = shape if shape is not None else newshape
    shape = (int(shape),) if isinstance(shape, numbers.Integral) else tuple(int(s) for s in shape)
    return _xp().reshape(_arr(a, dev), shape, copy=copy)


@_implements(np.ravel)
def _ravel(dev, a, order="C"):
    _need(order == "C")
    return _xp().reshape(_arr(a, dev), (-1,))


@_implements(np.transpose)
def _transpose(dev, a, axes=None):
    x = _arr(a, dev)
    axes = tuple(range(x.ndim))[::-1] if axes is None else tuple(int(i) for i in axes)
    return _xp().permute_dims(x, axes)


@_implements(np.swapaxes)
def _swapaxes(dev, a, axis1, axis2):
    x = _arr(a, dev)
    return _xp().moveaxis(x, (int(axis1), int(axis2)), (int(axis2), int(axis1)))


@_implements(np.moveaxis)
def _moveaxis(dev, a, source, destination):
    return _xp().moveaxis(_arr(a, dev), source, destination)


@_implements(np.squeeze)
def _squeeze(dev, a, axis=None):
    x = _arr(a, dev)
    if axis is None:
        axis = tuple(i for i, s in enumerate(x.shape) if s == 1)
    return _xp().squeeze(x, axis=axis)


@_implements(np.expand_dims)
def _expand_dims(dev, a, axis):
    x = _arr(a, dev)
    axes = (axis,) if isinstance(axis, numbers.Integral) else tuple(axis)
    nd = x.ndim + len(axes)
    for ax in sorted(int(i) % nd if -nd <= int(i) < nd else int(i) for i in axes):
        x = _xp().expand_dims(x, axis=ax)
    return x


@_implements(np.broadcast_to)
def _broadcast_to(dev, array, shape, subok=False):
    shape = (int(shape),) if isinstance(shape, numbers.Integral) else tuple(int(s) for s in shape)
    return _xp().broadcast_to(_arr(array, dev), shape)


@_implements(np.flip)
def _flip(dev, m, axis=None):
    return _xp().flip(_arr(m, dev), axis=_axis(axis))


@_implements(np.roll)
def _roll(dev, a, shift, axis=None):
    return _xp().roll(_arr(a, dev), shift, axis=_axis(axis))


@_implements(np.tile)
def _tile(dev, A, reps):
    reps = (int(reps),) if isinstance(reps, numbers.Integral) else tuple(int(r) for r in reps)
    return _xp().tile(_arr(A, dev), reps)


@_implements(np.repeat)
def _repeat(dev, a, repeats, axis=None):
    _need(isinstance(repeats, numbers.Integral))
    return _xp().repeat(_arr(a, dev), int(repeats), axis=None if axis is None else int(axis))


@_implements(np.take)
def _take(dev, a, indices, axis=None, mode="raise"):
    _need(mode == "raise")
    x = _arr(a, dev)
    if isinstance(indices, numbers.Integral):
        x = x if axis is not None else _xp().reshape(x, (-1,))
        ax = 0 if axis is None else int(axis)
        return _xp().take(x, _xp().asarray([int(indices)], device=dev), axis=ax).squeeze(ax)
    idx = _arr(indices, dev)
    _need(idx.ndim == 1 and idx.dtype.kind in "iu")
    return _xp().take(x, idx, axis=None if axis is None else int(axis))


@_implements(np.clip)
def _clip(dev, a, a_min=None, a_max=None, **extra):
    lo = extra.pop("min", a_min)
    hi = extra.pop("max", a_max)
    _need(not extra)
    x = _arr(a, dev)
    lo, hi = (v if v is None or isinstance(v, (Tensor, *_SCALARS)) else _arr(v, dev) for v in (lo, hi))
    return _xp().clip(x, min=lo, max=hi)


@_implements(np.dot)
def _dot(dev, a, b):
    x, y = _arr(a, dev), _arr(b, dev)
    _need(x.ndim <= 2 and y.ndim <= 2)
    if x.ndim == 0 or y.ndim == 0:
        return _xp().multiply(x, y)
    return _xp().matmul(x, y)


@_implements(np.tensordot)
def _tensordot(dev, a, b, axes=2):
    return _xp().tensordot(_arr(a, dev), _arr(b, dev), axes=axes)


def _sort_operand(dev, a, axis, order, extra) -> tuple:
    """``np.sort`` / ``np.argsort``'s array and axis (``axis=None``: the flattened array)."""
    _need(order is None and not extra)
    x = _arr(a, dev)
    if axis is None:
        return _xp().reshape(x, (-1,)), 0
    return x, int(axis)


@_implements(np.sort)
def _sort(dev, a, axis=-1, kind=None, order=None, **extra):
    x, axis = _sort_operand(dev, a, axis, order, extra)
    return _xp().sort(x, axis=axis, stable=kind == "stable" or kind is None)


@_implements(np.argsort)
def _argsort(dev, a, axis=-1, kind=None, order=None, **extra):
    x, axis = _sort_operand(dev, a, axis, order, extra)
    return _xp().argsort(x, axis=axis, stable=True)


def _like(fname: str):
    def impl(dev, a, *fill, dtype=None, order="K", subok=True, shape=None, **extra):
        _need(not extra or set(extra) <= {"device"} and extra["device"] in (None, "cpu"))
        x = _arr(a, dev)
        xp = _xp()
        if shape is None:
            return getattr(xp, fname)(x, *fill, dtype=dtype)
        shape = (int(shape),) if isinstance(shape, numbers.Integral) else tuple(int(s) for s in shape)
        d = dtype if dtype is not None else x.dtype
        if fname == "full_like":
            return xp.full(shape, fill[0], dtype=d, device=x.device)
        return getattr(xp, fname[:-5])(shape, dtype=d, device=x.device)
    return impl


_implements(np.zeros_like)(_like("zeros_like"))
_implements(np.ones_like)(_like("ones_like"))
_implements(np.empty_like)(_like("empty_like"))
_implements(np.full_like)(_like("full_like"))


@_implements(np.copy)
def _copy(dev, a, order="K", subok=False):
    x = _arr(a, dev)
    return Tensor._wrap(x._node)  # zyx arrays are values: a new handle is a copy


@_implements(np.round, getattr(np, "around", None))
def _round(dev, a, decimals=0):
    _need(decimals == 0)
    return _xp().round(_arr(a, dev))


@_implements(np.real)
def _real(dev, val):
    return _xp().real(_arr(val, dev))


@_implements(np.imag)
def _imag(dev, val):
    return _xp().imag(_arr(val, dev))


@_implements(getattr(np, "astype", None))
def _astype(dev, x, dtype, /, *, copy=True, device=None):
    _need(device is None)
    return _xp().astype(_arr(x, dev), dtype, copy=copy)


@_implements(np.shape)
def _shape(dev, a):
    return a.shape if isinstance(a, Tensor) else np.shape(_host(a))


@_implements(np.ndim)
def _ndim(dev, a):
    return a.ndim if isinstance(a, Tensor) else np.ndim(_host(a))


@_implements(np.size)
def _size(dev, a, axis=None):
    if not isinstance(a, Tensor):
        return np.size(_host(a), axis)
    return a.size if axis is None else a.shape[int(axis)]


@_implements(np.result_type)
def _result_type(dev, *arrays_and_dtypes):
    # dtypes only: never copies a zyx array to learn its dtype
    return np.result_type(*(a.dtype.np if isinstance(a, Tensor) else a for a in arrays_and_dtypes))


@_implements(np.isscalar if hasattr(np.isscalar, "_implementation") else None)
def _isscalar(dev, element):
    return False


@_implements(np.iscomplexobj)
def _iscomplexobj(dev, x):
    return x.dtype.kind == "c" if isinstance(x, Tensor) else np.iscomplexobj(_host(x))


def implemented() -> list[str]:
    """Names of the NumPy functions that run as zyx functions (the rest fall back to NumPy)."""
    return sorted({f"numpy.{f.__name__}" for f in _FUNCTIONS})


__all__ = ["array", "array_function", "array_ufunc", "format_tensor", "implemented", "to_bytes"]
