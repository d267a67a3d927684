"""Creation functions (standard section "Creation Functions").

``asarray`` and ``from_dlpack`` share host memory where they can (see their
docstrings); everything else builds lazy constant/iota graphs that fuse into their
consumers.
"""
from __future__ import annotations

import numpy as np

from .. import creation
from .. import dtypes as dt
from .. import graph
from ..device import Buffer, Device, get_device
from ..dtypes import DType
from ..tensor import Tensor, _host_array
from ._helpers import check_array, device_arg, dtype_arg, is_scalar, shape_tuple

__all__ = ["arange", "asarray", "diag", "empty", "empty_like", "eye", "from_dlpack", "full", "full_like", "linspace",
           "meshgrid", "ones", "ones_like", "tril", "triu", "zeros", "zeros_like"]


def _wrap_host(arr: np.ndarray, dev: Device, copy: bool | None) -> Tensor:
    """A Tensor over a host NumPy array. On the CPU device, and unless ``copy`` is True,
    the array's memory is used directly (zero-copy: a BUFFER node whose handle is the
    array); otherwise the data is copied to the device."""
    zd = dt.from_numpy(arr.dtype)
    dev.check_dtype(zd)
    zero_copy = (copy is not True and dev.type == "cpu" and arr.size > 0 and arr.flags.c_contiguous
                 and arr.flags.aligned and arr.dtype.isnative)
    if zero_copy:
        buf = Buffer(dev, arr.size, zd, handle=arr.reshape(-1))
    else:
        if copy is False:
            raise ValueError(f"asarray(copy=False): the data must be copied to reach device {dev} "
                             "(non-contiguous, non-native or off-CPU); pass copy=None or True")
        buf = Buffer(dev, arr.size, zd)
        buf.copy_in(arr)
    return Tensor._wrap(graph.buffer_node(buf, arr.shape, zd, dev))


def _python_data(obj, d: DType | None) -> np.ndarray:
    """Nested Python sequences (possibly holding arrays and NumPy scalars) -> a NumPy array.
    Python numbers take zyx's default dtypes; values that carry a dtype (NumPy scalars and
    arrays, zyx arrays) keep it, with Python numbers beside them weak (as in NumPy 2:
    ``[np.float64(1.5), 2.5]`` is float64, ``[np.float32(1), 2.5]`` float32)."""
    if isinstance(obj, (list, tuple)) and not _plain_numbers(obj):
        obj = _tensors_to_host(obj)
        if d is None:
            strong, weak = [], {}
            _dtypes_in(obj, strong, weak)
            if strong:
                d = dt.from_numpy(np.result_type(*strong, *weak.values()))
    return _host_array(obj, d)


_WEAK = {bool: False, int: 0, float: 0.0, complex: 0j}


def _plain_numbers(seq) -> bool:
    """Whether nested lists/tuples hold Python numbers only (NumPy then converts them with
    zyx's default dtypes, no value carrying a dtype of its own): the types of each
    sequence's items are collected at C speed (``asarray`` of a million-float list took 1 s
    looking at each item in Python, NumPy's conversion 30 ms)."""
    nested = False
    for t in set(map(type, seq)):
        if t is list or t is tuple:
            nested = True
        elif t not in _WEAK:
            return False
    if nested:
        for v in seq:
            if (type(v) is list or type(v) is tuple) and not _plain_numbers(v):
                return False
    return True


def _dtypes_in(seq, strong: list, weak: dict) -> None:
    """The dtypes of the values in a nested sequence that carry one (``strong``), and one
    Python number of each type found (``weak``: NumPy 2 treats them as weak)."""
    for v in seq:
        if isinstance(v, (np.generic, np.ndarray)):
            if v.dtype not in strong:
                strong.append(v.dtype)
        elif isinstance(v, (list, tuple)):
            _dtypes_in(v, strong, weak)
        elif type(v) in _WEAK:
            weak[type(v)] = _WEAK[type(v)]


def _tensors_to_host(seq):
    out = []
    for v in seq:
        if isinstance(v, Tensor):
            out.append(v.numpy())
        elif isinstance(v, (list, tuple)):
            out.append(_tensors_to_host(v))
        else:
            out.append(v)
    return out


def asarray(obj, /, *, dtype=None, device=None, copy: bool | None = None) -> Tensor:
    """Convert ``obj`` (a zyx array, a NumPy array, any DLPack or buffer-protocol object,
    a Python scalar or nested sequences of them) to a zyx array.

    Memory: with ``copy=None`` a zyx array is returned as is when no change is asked,
    and a C-contiguous NumPy array (or DLPack producer on the CPU, e.g. a CPU torch
    tensor) is wrapped **without copying** on the ``cpu`` device, as ``numpy.asarray``
    shares memory. ``copy=True`` always copies; ``copy=False`` raises ValueError when a
    copy cannot be avoided (Python data, another device, a dtype change)."""
    d = dtype_arg(dtype, "asarray")
    dev = device_arg(device)
    if copy not in (None, True, False):
        raise ValueError(f"asarray: copy must be True, False or None, not {copy!r}")
    if isinstance(obj, Tensor):
        change = (d is not None and d is not obj.dtype) or (dev is not None and dev != obj.device)
        if change and copy is False:
            raise ValueError("asarray(copy=False): changing the dtype or device needs a copy")
        out = obj
        if dev is not None and dev != obj.device:
            out = out.to(dev)
        if d is not None and d is not out.dtype:
            out = out.cast(d)
        if out is obj and copy:
            out = Tensor._wrap(obj._node)
        return out
    dev = dev or get_device(None)
    if is_scalar(obj) or isinstance(obj, (list, tuple)):
        if copy is False:
            raise ValueError("asarray(copy=False): Python data must be copied into a new array")
        if is_scalar(obj):
            return Tensor(obj, dtype=d, device=dev)
        arr = _python_data(obj, d)
        if arr.dtype.kind == "U" or arr.dtype == object:
            raise TypeError(f"asarray: cannot make an array from {obj!r}")
        return _wrap_host(arr, dev, True)
    if isinstance(obj, (np.ndarray, np.generic)):
        arr = np.asarray(obj)
    elif hasattr(obj, "__dlpack__"):  # on the producer's device, as the standard infers it
        out = _import_dlpack(obj, device_arg(device), copy)
        if d is not None and d is not out.dtype:
            if copy is False:
                raise ValueError(f"asarray(copy=False): converting {out.dtype.name} to {d.name} needs a copy")
            out = out.cast(d)
        return out
    else:
        try:
            arr = np.asarray(memoryview(obj)) if not hasattr(obj, "__array__") else np.asarray(obj)
        except TypeError:
            raise TypeError(f"asarray: cannot convert {type(obj).__name__} to a zyx array") from None
    try:
        dt.from_numpy(arr.dtype)  # bfloat16 (ml_dtypes) is a 'V'-kind NumPy dtype zyx has
    except TypeError:
        raise TypeError(f"asarray: {arr.dtype} data has no zyx dtype") from None
    if d is not None and arr.dtype != d.np:
        if copy is False:
            raise ValueError(f"asarray(copy=False): converting {arr.dtype} to {d.name} needs a copy")
        arr = _host_array(arr, d)  # (converted as Tensor data is: no overflow warning)
        copy = True
    return _wrap_host(arr, dev, copy)


def _call_dlpack(x, stream, copy: bool | None, dl_device=None):
    """``x.__dlpack__`` with the 2023.12 keywords, or without them for older producers
    (zyx then does any copy itself)."""
    from .. import _dlpack
    kwargs = {"stream": stream, "max_version": _dlpack.VERSION}
    if copy is not None:
        kwargs["copy"] = copy
    if dl_device is not None:
        kwargs["dl_device"] = dl_device
    try:
        return x.__dlpack__(**kwargs)
    except TypeError:
        if dl_device is not None:
            raise BufferError(f"from_dlpack: {type(x).__name__}.__dlpack__ cannot export to another device "
                              "(it takes no dl_device)") from None
        return x.__dlpack__(stream=stream) if stream is not None else x.__dlpack__()


def _import_dlpack(x, dev: Device | None, copy: bool | None) -> Tensor:
    """A DLPack producer as a zyx array on ``dev`` (default: the producer's own device),
    sharing its memory unless a copy is asked for or a device change needs one."""
    from .. import _dlpack
    from ..device import DeviceUnavailable
    try:
        dl_type, dl_id = (int(v) for v in x.__dlpack_device__())
    except AttributeError:  # a producer from before __dlpack_device__: host memory
        dl_type, dl_id = _dlpack.kDLCPU, 0
    name = _dlpack.zyx_device_name(dl_type, dl_id)  # BufferError for memory zyx cannot read
    try:
        home = get_device(name)
    except (DeviceUnavailable, ImportError, RuntimeError) as e:
        if dev is not None and dev.type == "cpu" and copy is not False:  # ask the producer for a host copy
            r = _dlpack.receive(_call_dlpack(x, None, True, (_dlpack.kDLCPU, 0)))
            return _dlpack.to_tensor(r, dev, None)
        raise BufferError(f"from_dlpack: the array lives on {name}, which zyx cannot open here ({e}); "
                          "pass device='cpu' to copy it to the host") from None
    if dev is not None and dev != home and copy is False:
        raise ValueError(f"from_dlpack(copy=False): the array lives on {home}; placing it on {dev} needs a copy")
    stream = home.backend.stream_ptr() if home.type == "cuda" else None
    same = dev is None or dev == home
    r = _dlpack.receive(_call_dlpack(x, stream, copy if same else None))
    t = _dlpack.to_tensor(r, home, copy if same else None)
    return t if same else t.to(dev)


def from_dlpack(x, /, *, device=None, copy: bool | None = None) -> Tensor:
    """Import an array from any DLPack producer (NumPy, PyTorch, CuPy, JAX, ...).

    The result lives on the producer's device (host memory on ``cpu``, ``(kDLCUDA, N)``
    on ``cuda:N``) and shares its memory - contiguous data as a buffer, strided data
    (a transpose, a slice) as a lazy view - unless ``copy=True``. ``device=`` places it
    elsewhere, which copies (``copy=False`` then raises ValueError); nothing moves between
    devices otherwise. bfloat16 and DLPack 1.0 versioned capsules are read. A zyx array
    is returned as is (or copied with ``copy=True``)."""
    dev = device_arg(device)
    if not (copy is None or copy is True or copy is False):
        raise ValueError(f"from_dlpack: copy must be True, False or None, not {copy!r}")
    if isinstance(x, Tensor):
        return asarray(x, device=dev, copy=copy)
    if not hasattr(x, "__dlpack__"):
        raise TypeError(f"from_dlpack: {type(x).__name__} does not implement __dlpack__")
    return _import_dlpack(x, dev, copy)


def arange(start, /, stop=None, step=1, *, dtype=None, device=None) -> Tensor:
    """Evenly spaced values in ``[start, stop)``."""
    d = dtype_arg(dtype, "arange")
    start, stop, step = (_arange_number(v) for v in (start, stop, step))
    return creation.arange(start, stop, step, dtype=d, device=device_arg(device))


def _arange_number(v):
    """A bound of ``arange``: a Python number, a NumPy scalar or a 0-d array's value (as
    NumPy and PyTorch take it: SciPy writes ``arange(1, n + 1)`` with ``n`` a 0-d array)."""
    if v is None or is_scalar(v) or isinstance(v, (np.integer, np.floating)):
        return v
    if isinstance(v, (Tensor, np.ndarray)) and v.ndim == 0 and v.dtype.kind in ("i", "u", "f"):
        return v.item()
    raise TypeError(f"arange: start, stop and step must be real numbers (or 0-d arrays), got {type(v).__name__}"
                    + (f" of shape {v.shape}" if hasattr(v, "shape") else ""))


def empty(shape, *, dtype=None, device=None) -> Tensor:
    """An uninitialized array (zyx fills it with zeros: a free constant)."""
    return zeros(shape, dtype=dtype, device=device)


def empty_like(x: Tensor, /, *, dtype=None, device=None) -> Tensor:
    return zeros_like(x, dtype=dtype, device=device)


def eye(n_rows: int, n_cols: int | None = None, /, *, k: int = 0, dtype=None, device=None) -> Tensor:
    """Ones on the ``k``-th diagonal, zeros elsewhere."""
    if n_rows < 0 or (n_cols is not None and n_cols < 0):
        raise ValueError("eye: negative dimensions")
    return creation.eye(n_rows, n_cols, k, dtype=dtype_arg(dtype, "eye"), device=device_arg(device))


def full(shape, fill_value, *, dtype=None, device=None) -> Tensor:
    """An array of ``shape`` filled with ``fill_value``; the dtype follows the value's
    Python type when not given."""
    if not is_scalar(fill_value) and not isinstance(fill_value, (np.generic, Tensor)):
        raise TypeError(f"full: fill_value must be a Python scalar, not {type(fill_value).__name__}")
    return creation.full(shape_tuple(shape, "full"), fill_value, dtype=dtype_arg(dtype, "full"),
                         device=device_arg(device))


def diag(v: Tensor, /, k: int = 0) -> Tensor:
    """NumPy's (and PyTorch's, CuPy's, JAX's) ``diag``, beyond the standard: a 1-d array
    placed on the ``k``-th diagonal of a square matrix, or the ``k``-th diagonal of a 2-d
    array (``linalg.diagonal``'s view). SciPy's array-API code calls it."""
    check_array(v, "diag")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"diag: k must be an int, not {type(k).__name__}")
    k = int(k)
    if v.ndim == 2:
        from .linalg import diagonal
        return diagonal(v, offset=k)
    if v.ndim != 1:
        raise ValueError(f"diag: v must be 1-d or 2-d (got shape {v.shape})")
    n = v.shape[0] + abs(k)
    # v along rows (k >= 0: row i holds v[i]) or columns (k < 0), selected where the
    # diagonal runs - a select, not a product: inf * 0 would put NaNs off the diagonal
    pad = [(0, abs(k))]
    line = v.pad(pad, 0) if k else v
    line = line.reshape(n, 1) if k >= 0 else line.reshape(1, n)
    on = creation.eye(n, n, k, dtype=dt.bool_, device=v.device)
    return on.where(line, Tensor._const(0, (), v.dtype, v.device))


def full_like(x: Tensor, /, fill_value, *, dtype=None, device=None) -> Tensor:
    check_array(x, "full_like")
    return full(x.shape, fill_value, dtype=dtype_arg(dtype, "full_like") or x.dtype,
                device=device_arg(device) or x.device)


def linspace(start, stop, /, num: int, *, dtype=None, device=None, endpoint: bool = True) -> Tensor:
    """``num`` evenly spaced samples over ``[start, stop]`` (or ``[start, stop)``)."""
    if not isinstance(num, int) or isinstance(num, bool):
        raise TypeError("linspace: num must be an int")
    d = dtype_arg(dtype, "linspace")
    if d is not None and d.is_int:
        # (NumPy's and PyTorch's integer linspace: the float samples, floored - SciPy's tests
        # build integer signals so)
        dev = device_arg(device) or get_device(None)
        f = dt.float64 if dev.supports(dt.float64) else dt.float32
        if isinstance(start, complex) or isinstance(stop, complex):
            raise TypeError(f"linspace: complex start/stop need a complex dtype, not {d.name}")
        return creation.linspace(start, stop, num, dtype=f, device=dev, endpoint=endpoint).floor().cast(d)
    if d is not None and not d.is_inexact:
        raise TypeError(f"linspace: dtype must be numeric, not {d.name}")
    if d is not None and not d.is_complex and (isinstance(start, complex) or isinstance(stop, complex)):
        raise TypeError("linspace: complex start/stop need a complex dtype")
    return creation.linspace(start, stop, num, dtype=d, device=device_arg(device), endpoint=endpoint)


def meshgrid(*arrays: Tensor, indexing: str = "xy") -> tuple[Tensor, ...]:
    """Coordinate grids from 1-d arrays ('xy': Cartesian, 'ij': matrix indexing)."""
    if indexing not in ("xy", "ij"):
        raise ValueError(f"meshgrid: indexing must be 'xy' or 'ij', not {indexing!r}")
    for a in arrays:
        check_array(a, "meshgrid", "arrays")
        if a.ndim != 1:
            raise ValueError(f"meshgrid: every input must be 1-d (got shape {a.shape})")
    if not arrays:
        return ()
    if len({a.dtype for a in arrays}) > 1:
        raise ValueError("meshgrid: all arrays need one dtype")
    sizes = [a.shape[0] for a in arrays]
    pos = list(range(len(arrays)))
    if indexing == "xy" and len(arrays) > 1:
        pos[0], pos[1] = 1, 0
    out_shape = [0] * len(arrays)
    for i, p in enumerate(pos):
        out_shape[p] = sizes[i]
    out = []
    for i, a in enumerate(arrays):
        shp = [1] * len(arrays)
        shp[pos[i]] = sizes[i]
        out.append(a.reshape(tuple(shp)).broadcast_to(tuple(out_shape)))
    return tuple(out)


def _constant(shape, value: int, dtype, device, fname: str) -> Tensor:
    """``ones`` / ``zeros``: ``value`` in the dtype given, else in the default float dtype."""
    d = dtype_arg(dtype, fname)
    return creation.full(shape_tuple(shape, fname), value if d else float(value), dtype=d, device=device_arg(device))


def _constant_like(x: Tensor, value: int, dtype, device, fname: str) -> Tensor:
    """``ones_like`` / ``zeros_like``: dtype and device default to ``x``'s."""
    check_array(x, fname)
    return creation.full(x.shape, value, dtype=dtype_arg(dtype, fname) or x.dtype,
                         device=device_arg(device) or x.device)


def ones(shape, *, dtype=None, device=None) -> Tensor:
    return _constant(shape, 1, dtype, device, "ones")


def ones_like(x: Tensor, /, *, dtype=None, device=None) -> Tensor:
    return _constant_like(x, 1, dtype, device, "ones_like")


def zeros(shape, *, dtype=None, device=None) -> Tensor:
    return _constant(shape, 0, dtype, device, "zeros")


def zeros_like(x: Tensor, /, *, dtype=None, device=None) -> Tensor:
    return _constant_like(x, 0, dtype, device, "zeros_like")


def _triangle(x: Tensor, k: int, lower: bool, fname: str) -> Tensor:
    check_array(x, fname)
    if x.ndim < 2:
        raise ValueError(f"{fname}: x must have at least 2 dimensions (got shape {x.shape})")
    n, m = x.shape[-2:]
    mask = creation.tri_mask(n, m, int(k), lower, x.device)
    return mask.where(x, Tensor._const(0, (), x.dtype, x.device))


def tril(x: Tensor, /, *, k: int = 0) -> Tensor:
    """Lower triangle of the last two axes (elements above the ``k``-th diagonal zeroed)."""
    return _triangle(x, k, True, "tril")


def triu(x: Tensor, /, *, k: int = 0) -> Tensor:
    """Upper triangle of the last two axes (elements below the ``k``-th diagonal zeroed)."""
    return _triangle(x, k, False, "triu")
