"""The default floating dtypes: float32/complex64 unless ``zyx.set_default_float(float64)``
(or ZYX_DEFAULT_FLOAT=float64) makes them float64/complex128; per device, since a device
without float64 keeps float32."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import zyx
import zyx.array_api as xp
from zyx import dtypes as dt
from zyx.device import Device

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def x64():
    before = zyx.get_default_float()
    zyx.set_default_float(zyx.float64)
    yield
    zyx.set_default_float(before)


def _defaults(dev=None):
    i = xp.asarray([1, 2], device=dev)
    return [xp.asarray([1.5], device=dev).dtype, xp.asarray(1.5, device=dev).dtype, xp.asarray([1j], device=dev).dtype,
            xp.zeros(2, device=dev).dtype, xp.ones(2, device=dev).dtype, xp.empty(2, device=dev).dtype,
            xp.full(2, 0.5, device=dev).dtype, xp.full(2, 1j, device=dev).dtype, xp.eye(2, device=dev).dtype,
            xp.linspace(0, 1, 3, device=dev).dtype, xp.arange(0.0, 1.0, device=dev).dtype,
            xp.fft.fftfreq(4, device=dev).dtype, zyx.randn(2, device=dev).dtype, i.softmax().dtype]


WANT32 = [dt.float32, dt.float32, dt.complex64, dt.float32, dt.float32, dt.float32, dt.float32, dt.complex64,
          dt.float32, dt.float32, dt.float32, dt.float32, dt.float32, dt.float32]
WANT64 = [dt.complex128 if d is dt.complex64 else dt.float64 for d in WANT32]


def test_float32_is_the_default():
    assert _defaults() == WANT32
    assert xp.__array_namespace_info__().default_dtypes()["real floating"] is xp.float32


def test_set_default_float(x64):
    assert zyx.get_default_float() is zyx.float64
    assert xp.__array_namespace_info__().default_dtypes() == {
        "real floating": xp.float64, "complex floating": xp.complex128, "integral": xp.int64, "indexing": xp.int64}
    assert _defaults() == WANT64
    np.testing.assert_array_equal(xp.asarray([0.1, 0.2]).numpy(), np.array([0.1, 0.2]))  # no float32 rounding
    zyx.set_default_float("float32")
    assert _defaults() == WANT32
    with pytest.raises(ValueError):
        zyx.set_default_float(zyx.float16)


class _NoFloat64:
    dtypes = frozenset(d for d in dt.ALL if d not in (dt.float64, dt.complex128))
    description = "a device without float64"


def test_a_device_without_float64_keeps_float32(x64):
    dev = Device("wgpu", 99, _NoFloat64())
    assert xp.__array_namespace_info__().default_dtypes(device=dev)["real floating"] is xp.float32
    assert xp.__array_namespace_info__().default_dtypes(device=dev)["complex floating"] is xp.complex64
    assert xp.zeros(2, device=dev).dtype is xp.float32 and xp.full(2, 1j, device=dev).dtype is xp.complex64
    assert xp.linspace(0, 1, 3, device=dev).dtype is xp.float32


def test_numpy_scalars_keep_their_dtype_in_asarray():
    assert xp.asarray([np.float64(1.5), np.float64(2.5)]).dtype is xp.float64
    assert xp.asarray([[np.float64(1.5)], [2.5]]).dtype is xp.float64
    assert xp.asarray([np.float32(1.5), 2.5]).dtype is xp.float32       # Python numbers are weak
    assert xp.asarray([np.int16(1), 2]).dtype is xp.int16
    assert xp.asarray([xp.asarray(1.0, dtype=xp.float64), 2.0]).dtype is xp.float64
    assert xp.asarray([1.5, 2.5]).dtype is xp.float32                   # plain Python data: the default
    assert xp.asarray([np.float64(1.5)], dtype=xp.float32).dtype is xp.float32


def test_plain_python_data_is_not_walked_item_by_item(monkeypatch):
    """Nested lists of Python numbers go to NumPy at once (a million-float list took 1 s when
    each item was looked at in Python); a value carrying a dtype anywhere takes the walk."""
    from zyx.array_api import _creation
    walked = []
    monkeypatch.setattr(_creation, "_tensors_to_host", lambda seq: walked.append(1) or seq)
    a = xp.asarray([[1.5, 2], (3, 4.0)])
    assert a.dtype is xp.float32 and a.shape == (2, 2) and not walked
    assert xp.asarray([[True], [False]]).dtype is xp.bool and xp.asarray([1, 2]).dtype is xp.int64 and not walked
    assert xp.asarray([[1.5], [np.float64(2.5)]]).dtype is xp.float64 and walked


def test_environment_variable():
    code = ("import zyx.array_api as xp; d = xp.__array_namespace_info__().default_dtypes(); "
            "print(d['real floating'], d['complex floating'], xp.asarray([0.5]).dtype)")
    env = dict(os.environ, ZYX_DEFAULT_FLOAT="float64", PYTHONPATH=ROOT, ZYX_DEVICE="cpu")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["zyx.float64", "zyx.complex128", "zyx.float64"]
    env["ZYX_DEFAULT_FLOAT"] = "float128"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode != 0 and "ZYX_DEFAULT_FLOAT" in r.stderr


def test_python_floats_beyond_float32_become_infinities_without_a_warning():
    """zyx's default float is float32, so asarray(1e300) is ordinary code: the value rounds to
    an infinity as a cast on the device does, and NumPy's overflow warning (an error in suites
    run with -W error, array-api-extra's) is not passed on."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert float(xp.asarray(1e300)) == float("inf")
        assert xp.asarray([1e300, -1e300, 2.5]).tolist() == [float("inf"), float("-inf"), 2.5]
        assert float(xp.asarray(-1e39, dtype=xp.float32)) == float("-inf")
        z = xp.asarray(complex(1e300, 1.0))
        assert z.dtype is xp.complex64 and complex(z) == complex(float("inf"), 1.0)
        assert xp.asarray(np.array([1e300, 1.0]), dtype=xp.float32).tolist() == [float("inf"), 1.0]
        assert float(zyx.Tensor(7e4, dtype=zyx.float16)) == float("inf")
        assert float(xp.asarray(1e300, dtype=xp.float64)) == 1e300  # (in range: kept)
        assert float(xp.asarray(65504.0, dtype=zyx.float16)) == 65504.0
