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
