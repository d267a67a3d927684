"""zyx among other Python libraries: dtypes NumPy understands, pickling and copying on
every device, NumPy's exchange protocols (``__array__`` copy rules, ``__format__``,
``bytes``, ``__array_function__`` / ``__array_ufunc__``), and first contact (import
time, quiet start-up, one-line CLI errors)."""
from __future__ import annotations

import copy
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

import zyx
import zyx.array_api as xp
from zyx import dtypes as dt

from _util import T

NUMPY_NAMED = [d for d in dt.ALL if d is not dt.bfloat16]


# ----------------------------------------------------------------- dtypes NumPy understands
@pytest.mark.parametrize("d", NUMPY_NAMED, ids=lambda d: d.name)
def test_numpy_reads_zyx_dtypes(d):
    nd = np.dtype(d.name)
    assert np.dtype(d) == nd
    assert d == nd and nd == d and d == nd.type and nd.type == d
    assert not d != nd
    assert hash(d) == hash(nd)
    assert {nd: "found"}[d] == "found" and {d: "found"}[nd] == "found"
    assert np.zeros(2, dtype=d).dtype == nd
    assert d.type is nd.type and d.char == nd.char and d.str == nd.str and d.kind == nd.kind
    others = [o for o in NUMPY_NAMED if o is not d]
    assert all(d != np.dtype(o.name) and np.dtype(o.name) != d for o in others)
    assert d != d.name and d is not None  # names are dtype-likes, not dtypes


def test_bfloat16_is_ml_dtypes_bfloat16():
    ml_dtypes = pytest.importorskip("ml_dtypes")
    assert np.dtype(zyx.bfloat16) == np.dtype(ml_dtypes.bfloat16)
    assert zyx.bfloat16 == ml_dtypes.bfloat16 and np.dtype(ml_dtypes.bfloat16) == zyx.bfloat16
    assert zyx.float16 != ml_dtypes.bfloat16 and zyx.bfloat16 != np.float16
    assert dt.to_dtype(ml_dtypes.bfloat16) is zyx.bfloat16


@pytest.mark.parametrize("d", dt.ALL, ids=lambda d: d.name)
def test_dtypes_pickle_as_themselves(d):
    assert pickle.loads(pickle.dumps(d)) is d
    assert copy.deepcopy(d) is d and copy.copy(d) is d


def test_import_does_not_import_ml_dtypes():
    """ml_dtypes takes ~0.6 s to import; zyx loads it when bfloat16 first meets NumPy."""
    code = ("import sys, zyx, numpy as np; assert 'ml_dtypes' not in sys.modules; "
            "x = zyx.ones((2,)); assert 'ml_dtypes' not in sys.modules; "
            "assert str(np.dtype(zyx.bfloat16)) == 'bfloat16' and 'ml_dtypes' in sys.modules")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]


def test_array_api_takes_numpy_dtypes():
    x = xp.asarray([1.0, 2.0])
    assert xp.asarray([1, 2], dtype=np.int16).dtype is xp.int16
    assert xp.asarray([1, 2], dtype="f8").dtype is xp.float64
    assert xp.zeros(3, dtype=np.dtype("float64")).dtype is xp.float64
    assert xp.full(3, 1, dtype=np.uint8).dtype is xp.uint8
    assert xp.astype(x, np.float64).dtype is xp.float64 and x.astype(np.int32).dtype is xp.int32
    assert xp.result_type(np.float32, xp.int8, np.dtype("int16")) is xp.float32
    assert xp.result_type("f8", x, 1) is xp.float64
    assert xp.isdtype(np.dtype("float32"), "real floating") and xp.isdtype(np.uint8, "integral")
    assert xp.isdtype(xp.float32, np.float32) and not xp.isdtype(xp.float32, (np.float64, "integral"))
    assert xp.can_cast(np.float32, np.float64) and not xp.can_cast(np.float64, xp.float32)
    assert xp.finfo(np.float32).dtype is xp.float32 and xp.iinfo(np.int8).max == 127


def test_numpy_dtypes_zyx_lacks_raise_type_error():
    with pytest.raises(TypeError, match="no zyx equivalent"):
        xp.result_type(np.dtype("U3"))
    with pytest.raises(TypeError):
        xp.asarray([1], dtype=np.dtype("datetime64[s]"))
    with pytest.raises(TypeError, match="isdtype"):
        xp.isdtype(None, "bool")
    with pytest.raises(TypeError, match="result_type"):
        xp.result_type(object())


# ----------------------------------------------------------------- pickling and copying
def _roundtrip_checks(t: zyx.Tensor, want: np.ndarray) -> None:
    for r in (pickle.loads(pickle.dumps(t)), copy.deepcopy(t)):
        assert isinstance(r, zyx.Tensor) and r is not t
        assert r.device == t.device and r.dtype is t.dtype and r.shape == t.shape
        np.testing.assert_array_equal(r.numpy(), want)


@pytest.mark.parametrize("npdtype", [np.float32, np.int32, np.bool_], ids=lambda d: np.dtype(d).name)
def test_tensor_pickles_on_every_device(device, npdtype):
    """Realized and lazy tensors (realized when pickled), 0-d and empty ones, on every
    device - the device fixture has opened OpenCL/WGPU, whose ctypes handles must not be
    reached."""
    a = (np.arange(12).reshape(3, 4) % 5).astype(npdtype)
    x = T(a, device)
    _roundtrip_checks(x, a)
    _roundtrip_checks(T(a[0, 0], device), a[0, 0])
    _roundtrip_checks(T(a[:0], device), a[:0])
    if npdtype is np.float32:
        lazy = (x * 2 + 1).sum(1)
        _roundtrip_checks(lazy, (a * 2 + 1).sum(1))


def test_device_pickles_by_name(device):
    d = zyx.get_device(device)
    assert pickle.loads(pickle.dumps(d)) is d and copy.deepcopy(d) is d


def test_containers_of_tensors_deepcopy(device):
    """What xarray's copy(deep=True) and a model copy do: a structure holding tensors."""
    a = np.arange(6, dtype=np.float32)
    x = T(a, device)
    box = {"w": x, "same": x, "pair": [x + 1, 3]}
    c = copy.deepcopy(box)
    assert c["w"] is c["same"] and c["w"] is not x  # the memo keeps sharing
    np.testing.assert_array_equal(c["pair"][0].numpy(), a + 1)


def test_shallow_copy_is_a_new_handle():
    x = zyx.Tensor(np.arange(3, dtype=np.float32))
    c = copy.copy(x)
    assert c is not x and c.shape == x.shape
    c += 1  # in-place rebinds the copy only
    np.testing.assert_array_equal(x.numpy(), [0, 1, 2])
    np.testing.assert_array_equal(c.numpy(), [1, 2, 3])


def test_bfloat16_tensor_pickles():
    x = zyx.Tensor(np.array([1.5, -2.0, 3.25], np.float32)).cast(zyx.bfloat16)
    r = pickle.loads(pickle.dumps(x))
    assert r.dtype is zyx.bfloat16
    np.testing.assert_array_equal(r.cast(zyx.float32).numpy(), [1.5, -2.0, 3.25])


# ----------------------------------------------------------------- NumPy's protocols
def test_numpy_functions_run_zyx_functions(device):
    """np.sum / max / mean / std / exp on a zyx array run zyx's own function and give a zyx
    array on the same device (they failed with "unexpected keyword argument 'out'", and
    np.exp returned a NumPy array)."""
    a = np.arange(12, dtype=np.float32).reshape(3, 4) - 4.5
    t = T(a, device)
    cases = {
        "sum": (np.sum(t), a.sum()), "sum axis": (np.sum(t, axis=1, keepdims=True), a.sum(1, keepdims=True)),
        "max": (np.max(t), a.max()), "min axis": (np.min(t, axis=0), a.min(0)), "mean": (np.mean(t), a.mean()),
        "std": (np.std(t, axis=0, ddof=1), a.std(0, ddof=1)), "var": (np.var(t), a.var()),
        "exp": (np.exp(t), np.exp(a)), "add": (np.add(t, a), a + a), "ndarray + t": (np.ones(4, np.float32) + t, a + 1),
        "where": (np.where(t > 0, t, 0), np.where(a > 0, a, 0)), "cumsum": (np.cumsum(t), np.cumsum(a)),
        "concatenate": (np.concatenate([t, a[:1]]), np.concatenate([a, a[:1]])),
        "add.reduce": (np.add.reduce(t), np.add.reduce(a)), "maximum.reduce": (np.maximum.reduce(t, axis=1), a.max(1)),
        "matmul": (np.matmul(t, t.T), a @ a.T), "transpose": (np.transpose(t), a.T),
        "reshape": (np.reshape(t, (4, 3)), a.reshape(4, 3)), "argmax": (np.argmax(t, axis=1), a.argmax(1)),
        "outer": (np.multiply.outer(t[0], t[1]), np.multiply.outer(a[0], a[1])),
        "zeros_like": (np.zeros_like(t), np.zeros_like(a)), "mean of ints": (np.mean(t.astype(zyx.int32)), a.astype(np.int32).mean()),
    }
    for name, (got, want) in cases.items():
        assert isinstance(got, zyx.Tensor), f"{name} gave {type(got).__name__}"
        assert got.device == t.device, name
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, atol=1e-5, err_msg=name)
    assert np.shape(t) == (3, 4) and np.ndim(t) == 2 and np.size(t) == 12


def test_numpy_functions_zyx_lacks_run_on_the_host():
    """A host fallback: NumPy's exact answer, array results as zyx arrays on the device."""
    a = np.array([[3.0, -1.0, 3.0], [np.nan, 2.0, 0.5]], np.float32)
    t = zyx.Tensor(a)
    for got, want in [(np.fmax(t, 1.0), np.fmax(a, 1.0)), (np.unique(t[0]), np.unique(a[0])),
                      (np.linalg.norm(t[0]), np.linalg.norm(a[0])), (np.nanmax(t), np.nanmax(a)),
                      (np.mean(t[0], where=np.array([True, False, True])), 3.0)]:
        assert isinstance(got, zyx.Tensor)
        np.testing.assert_allclose(got.numpy(), want)
    assert np.allclose(t[0], a[0]) is True  # non-array results as NumPy gives them
    assert np.result_type(t, np.int64) == np.float64  # from the dtype, without copying data
    mant, ex = np.frexp(t[0])
    assert isinstance(mant, zyx.Tensor) and np.array_equal(ex.numpy(), np.frexp(a[0])[1])


def test_ufunc_out_and_errors():
    t = zyx.Tensor(np.array([0.0, 1.0], np.float32))
    o = zyx.zeros((2,))
    assert np.exp(t, out=o) is o
    np.testing.assert_allclose(o.numpy(), np.exp([0.0, 1.0]), rtol=1e-6)
    host = np.zeros(2, np.float32)
    assert np.add(t, 1, out=host) is host and host.tolist() == [1.0, 2.0]
    with pytest.raises(TypeError, match="in place"):
        np.add.at(t, [0], 1)


def test_array_protocol_copy_rules(device):
    """np.asarray(x, copy=False) raises ValueError when a copy is needed (NumPy's
    ``__array__(dtype, copy)`` protocol), and never hands out a writable tensor buffer."""
    a = np.arange(6, dtype=np.float32)
    t = T(a, device) * 2
    b = np.asarray(t)
    b[0] = 100  # a fresh array: the tensor keeps its value
    assert t.numpy()[0] == 0
    c = np.asarray(t, copy=True)
    assert c is not b and np.array_equal(c, a * 2)
    assert np.asarray(t, dtype=np.float64).dtype == np.float64
    if device == "cpu":
        v = np.asarray(t, copy=False)
        assert np.array_equal(v, a * 2) and not v.flags.writeable
        assert np.shares_memory(v, np.asarray(t, copy=False))  # the realized buffer itself
        with pytest.raises(ValueError, match="copy"):
            np.asarray(t, dtype=np.float64, copy=False)
    else:
        with pytest.raises(ValueError, match="host copy"):
            np.asarray(t, copy=False)


def test_format_and_bytes():
    x0 = zyx.Tensor(np.float32(3.14159))
    assert f"{x0:.2f}" == "3.14" and f"{zyx.Tensor(7):>4}" == "   7"
    x = zyx.Tensor(np.array([1.5, 2.5], np.float32))
    assert f"{x}" == str(x)
    with pytest.raises(TypeError, match="unsupported format string"):
        f"{x:.2f}"
    for a in (np.array([1, -2, 3], np.int16), np.array(5, np.int64), np.array(True), np.arange(6.0).reshape(2, 3),
              np.array(2.5, np.float32)):
        assert bytes(zyx.Tensor(a)) == bytes(a)


# ----------------------------------------------------------------- first contact
def _python(code_or_args, env_extra=None, drop=()):
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(env_extra or {})
    args = ["-c", code_or_args] if isinstance(code_or_args, str) else code_or_args
    return subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.skipif("wgpu:0" not in [d.name for d in zyx.available_devices()], reason="no WGPU adapter here")
def test_starting_wgpu_prints_nothing():
    """Mesa's Wayland probe wrote 'error: XDG_RUNTIME_DIR is invalid or not set' four times
    at adapter enumeration; zyx keeps it off stderr unless ZYX_DEBUG=1 asks."""
    code = "import zyx; print([d.name for d in zyx.available_devices()])"
    r = _python(code, {"ZYX_DEBUG": "0"}, drop=("XDG_RUNTIME_DIR",))
    assert r.returncode == 0 and "wgpu:0" in r.stdout, r.stderr
    assert r.stderr == ""


@pytest.mark.parametrize("env, says", [({"CC": "/nonexistent"}, "set CC to an installed C compiler"),
                                       ({"ZYX_DEVICE": "cuda"}, "Unset ZYX_DEVICE or choose one of")])
def test_cli_start_errors_are_one_line(env, says):
    if env.get("ZYX_DEVICE") == "cuda" and any(d.type == "cuda" for d in zyx.available_devices()):
        pytest.skip("this machine has a CUDA device")
    r = _python(["-m", "zyx"], env, drop=("ZYX_DEVICE", "CC"))
    assert r.returncode == 1
    assert r.stdout == "" and "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("zyx: ") and says in lines[0], r.stderr


def test_numpy_answers_where_zyx_refuses():
    """np.sum of booleans is a count in NumPy; zyx's sum refuses booleans (the standard),
    so NumPy's call falls back to the host and gives NumPy's answer as a zyx array."""
    b = zyx.Tensor(np.array([True, False, True]))
    got = np.sum(b)
    assert isinstance(got, zyx.Tensor) and int(got) == 2
    assert np.add(b, b).numpy().tolist() == [True, False, True]
    with pytest.raises(TypeError):
        np.negative(b)  # NumPy refuses this one itself
