"""Edge cases and hostile conditions (issue 11): refused as NumPy / array_api_strict
refuse, with the exception type the standard names; sizes no device can hold fail
before any code is generated; an unusable cache directory only costs the disk cache."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import zyx
import zyx.array_api as xp
from zyx.realize import stats

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_eye_with_a_diagonal_outside_the_matrix():
    assert xp.eye(0, None, k=2 ** 31).shape == (0, 0)
    np.testing.assert_array_equal(xp.eye(3, 4, k=-2 ** 40).numpy(), np.zeros((3, 4), np.float32))
    np.testing.assert_array_equal(xp.eye(3, 5, k=2).numpy(), np.eye(3, 5, k=2, dtype=np.float32))


def test_cross_broadcasts_operands_of_different_rank():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((4, 2, 3)), rng.standard_normal(3)
    np.testing.assert_allclose(xp.linalg.cross(xp.asarray(a), xp.asarray(b)).numpy(), np.linalg.cross(a, b))
    np.testing.assert_allclose(xp.linalg.cross(xp.asarray(b), xp.asarray(a)).numpy(), np.linalg.cross(b, a))
    c, d = rng.standard_normal((3, 5)), rng.standard_normal((2, 3, 1))
    np.testing.assert_allclose(xp.linalg.cross(xp.asarray(c), xp.asarray(d), axis=-2).numpy(),
                               np.cross(c, d, axis=-2))
    with pytest.raises(ValueError):   # an axis that does not count from the end of both
        xp.linalg.cross(xp.asarray(a), xp.asarray(b), axis=0)
    with pytest.raises(ValueError):   # the compute axis does not broadcast
        xp.linalg.cross(xp.asarray(a), xp.asarray(np.ones((2, 1))))


def test_oversize_allocations_fail_before_any_code(device):
    stats.reset()
    for make in (lambda: xp.zeros((1 << 40,), device=device),
                 lambda: xp.ones((1 << 20, 1 << 20), dtype=xp.float32, device=device),
                 lambda: xp.full((1 << 31, 1 << 31), 2, device=device),
                 lambda: xp.arange(1 << 42, device=device),
                 lambda: xp.eye(1 << 21, device=device),
                 lambda: zyx.rand(1 << 40, device=device)):
        with pytest.raises((MemoryError, ValueError)) as e:
            make()
        assert str(device) in str(e.value)
    with pytest.raises(ValueError):   # more elements than any device can index
        xp.zeros((1 << 62, 4), device=device)
    assert stats.schedules == 0
    assert xp.sum(xp.ones((1000,), device=device)).item() == 1000.0   # the device stays usable


@pytest.mark.parametrize("where", ["proc", "file"])
def test_unusable_cache_dir_warns_once_and_runs(where, tmp_path):
    cache = "/proc/zyx-no-such-cache" if where == "proc" else str(tmp_path / "a-file")
    if where == "file":
        (tmp_path / "a-file").write_text("not a directory")
    devices = [d.name for d in zyx.available_devices() if d.type in ("cpu", "opencl")]
    script = textwrap.dedent(f"""
        import warnings
        import numpy as np
        import zyx
        warnings.simplefilter("always")
        with warnings.catch_warnings(record=True) as w:
            for dev in {devices!r}:
                x = zyx.Tensor(np.arange(6, dtype=np.float32), device=dev)
                print(((x * 1.5 + 0.25).exp() - x).numpy().round(3).tolist(), (x * 3).sum().item())
        print(sum("cannot be used" in str(m.message) for m in w))
    """)
    env = dict(os.environ, ZYX_CACHE_DIR=cache, PYTHONPATH=ROOT)
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    lines = r.stdout.splitlines()
    a = np.arange(6, dtype=np.float32)
    want = [np.round(np.exp(a * 1.5 + 0.25) - a, 3).tolist(), 45.0]
    for line in lines[:-1]:
        got, total = line.rsplit(" ", 1)
        np.testing.assert_allclose(eval(got), want[0], rtol=1e-5)
        assert float(total) == want[1]
    assert len(lines) == len(devices) + 1 and lines[-1] == "1"   # one warning in all


def test_index_arrays_on_another_device_are_refused():
    others = [d for d in zyx.available_devices() if d.type != "cpu"]
    if not others:
        pytest.skip("needs a second device")
    other = others[0]
    x = xp.asarray(np.arange(6.0, dtype=np.float32))
    idx, mask = xp.asarray([0, 2], device=other), xp.asarray([True, False] * 3, device=other)
    for key in (idx, mask, (idx,), (mask,)):
        with pytest.raises(ValueError, match="device"):
            x[key]
        with pytest.raises(ValueError, match="device"):
            x[key] = 1.0
    with pytest.raises(ValueError, match="device"):
        x[0:2] = xp.asarray([1.0, 2.0], device=other)
    with pytest.raises(ValueError, match="device"):
        xp.take(x, idx)
    assert x.tolist() == list(range(6))


def test_refused_as_numpy_refuses():
    x = xp.ones((2, 3))
    with pytest.raises(ValueError):
        xp.flip(x, axis=(1, 1))
    with pytest.raises(ValueError):
        x.flip((0, -2))
    for convert in (float, int, complex):
        with pytest.raises(TypeError):
            convert(xp.asarray([1.0]))
        convert(xp.asarray(1.0))
    with pytest.raises(TypeError):
        iter(xp.asarray(1.0))
    assert [v.tolist() for v in xp.asarray([1.0, 2.0])] == [1.0, 2.0]


def test_integer_to_a_negative_integer_power():
    i = xp.asarray([1, 2, -1], dtype=xp.int32)
    for f in (lambda: i ** -1, lambda: xp.pow(i, -2), lambda: i.__pow__(-3)):
        with pytest.raises(ValueError, match="negative integer powers"):
            f()
    assert (i ** 2).tolist() == [1, 4, 1]
    assert (i ** 0).tolist() == [1, 1, 1]
    assert (i ** -1.0).tolist() == [1.0, 0.5, -1.0]     # a float exponent promotes: no error
    # a negative value inside an integer exponent array is data: documented trunc(x ** e)
    assert (i ** xp.asarray([-1, -1, -1], dtype=xp.int32)).tolist() == [1, 0, -1]
