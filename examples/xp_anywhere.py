"""One array-API function, run unchanged on NumPy and on every zyx device.

    python examples/xp_anywhere.py [n_samples] [n_features]

``soft_assign`` standardizes the data, computes squared euclidean distances to a few
centroids and turns them into soft cluster assignments with a softmax. It only uses
the standard's functions through the namespace of its input (``x.__array_namespace__()``
or ``array_api_compat.array_namespace``), so it runs on NumPy arrays and on zyx tensors.
On zyx the whole function is one lazy graph; it runs when the result is read.
"""
from __future__ import annotations

import sys
import time

import numpy as np

import zyx
import zyx.array_api as zxp


def namespace_of(x):
    try:
        import array_api_compat
        return array_api_compat.array_namespace(x)
    except ImportError:
        return x.__array_namespace__()


def soft_assign(x, centroids, temperature: float = 1.0):
    """Soft cluster assignments of the rows of ``x`` to ``centroids`` (array API only)."""
    xp = namespace_of(x)
    mu = xp.mean(x, axis=0, keepdims=True)
    sd = xp.std(x, axis=0, keepdims=True)
    z = (x - mu) / (sd + 1e-6)
    d2 = (xp.sum(z * z, axis=1, keepdims=True) - 2.0 * (z @ xp.matrix_transpose(centroids))
          + xp.sum(centroids * centroids, axis=1)[xp.newaxis, :])
    logits = -d2 / temperature
    e = xp.exp(logits - xp.max(logits, axis=1, keepdims=True))
    return e / xp.sum(e, axis=1, keepdims=True)


def _time(fn, to_host, repeat: int = 3) -> tuple[float, float, np.ndarray]:
    t0 = time.perf_counter()
    out = to_host(fn())
    first = time.perf_counter() - t0
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = to_host(fn())
        best = min(best, time.perf_counter() - t0)
    return first, best, out


def main(n: int = 20000, d: int = 64, k: int = 16) -> None:
    rng = np.random.default_rng(0)
    data = rng.standard_normal((n, d)).astype(np.float32)
    cents = rng.standard_normal((k, d)).astype(np.float32)
    try:
        import array_api_compat.numpy as np_xp
        ref_x, ref_c, label = np_xp.asarray(data), np_xp.asarray(cents), "numpy (array_api_compat)"
    except ImportError:
        ref_x, ref_c, label = data, cents, "numpy"
    first, best, ref = _time(lambda: soft_assign(ref_x, ref_c), np.asarray)
    print(f"soft_assign on a {n}x{d} float32 matrix, {k} centroids")
    print(f"{label:<28} first {first * 1e3:8.1f} ms   warm {best * 1e3:8.1f} ms")
    for dev in zyx.available_devices():
        x = zxp.asarray(data, device=dev)
        c = zxp.asarray(cents, device=dev)
        first, best, out = _time(lambda: soft_assign(x, c), lambda t: t.numpy())
        err = float(np.abs(out - ref).max())
        print(f"zyx {dev.name:<24} first {first * 1e3:8.1f} ms   warm {best * 1e3:8.1f} ms   "
              f"max |diff| vs numpy {err:.1e}")


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    main(*args)
