"""Core engine benchmarks, side by side with NumPy (and PyTorch where installed) in one run.

    python benches/bench_core.py            # default device
    ZYX_DEVICE=opencl python benches/bench_core.py

Prints times and ratios (peer time / zyx time: > 1 means zyx is faster). Each number is the
best of several runs after a warm-up (compilation happens in the warm-up).
"""
from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
import time

import numpy as np

import zyx

try:
    import torch
    torch.set_num_threads(os.cpu_count() or 1)
except ImportError:  # pragma: no cover
    torch = None


def best(fn, reps: int = 7) -> float:
    fn()
    fn()  # big kernels get a version specialised on their sizes when they come back:
    zyx.realize.wait_compiles()  # time the steady state a loop reaches
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return min(ts)


def row(name: str, t_zyx: float, t_np: float, t_torch: float | None = None, extra: str = "") -> None:
    tt = f"{t_torch * 1e3:9.2f} ms  np/zyx {t_np / t_zyx:5.2f}x  torch/zyx {t_torch / t_zyx:5.2f}x" \
        if t_torch is not None else f"{'-':>12}     np/zyx {t_np / t_zyx:5.2f}x"
    print(f"{name:<34} zyx {t_zyx * 1e3:9.2f} ms  numpy {t_np * 1e3:9.2f} ms  torch {tt}  {extra}")


def main() -> None:
    dev = zyx.default_device()
    print(f"device: {dev.name} ({dev.backend.description}); {os.cpu_count()} cores; numpy {np.__version__}"
          + (f"; torch {torch.__version__}" if torch else ""))
    rng = np.random.default_rng(0)

    # ---- memory bandwidth floor: read 3 x 64 MiB once
    n = 16 * 1024 * 1024
    xs = [rng.random(n, dtype=np.float32) for _ in range(3)]
    big = np.empty(n * 4, dtype=np.float32)
    t_copy = best(lambda: np.copyto(big[:n], xs[0]), 5)
    bw = 2 * n * 4 / t_copy  # bytes read + written
    read_floor = 3 * n * 4 / bw  # moving the 3 inputs' bytes once at the copy's bytes-per-second
    print(f"measured copy bandwidth {bw / 1e9:.1f} GB/s (read+write); reading the 3 inputs once ~ {read_floor * 1e3:.2f} ms")

    X, Y, Z = (zyx.Tensor(a) for a in xs)
    t_z = best(lambda: ((X * 2 + Y).exp() * Z).sum().realize())
    t_n = best(lambda: (np.exp(xs[0] * 2 + xs[1]) * xs[2]).sum())
    t_t = None
    if torch:
        tx = [torch.from_numpy(a) for a in xs]
        t_t = best(lambda: ((tx[0] * 2 + tx[1]).exp() * tx[2]).sum())
    row("fused ((x*2+y).exp()*z).sum() 16M", t_z, t_n, t_t, f"zyx/read-floor {t_z / read_floor:.2f}")

    a = rng.random((4096, 4096), dtype=np.float32)
    A = zyx.Tensor(a)
    ta = torch.from_numpy(a) if torch else None
    cases = [
        ("sum 4096x4096", lambda: A.sum().realize(), lambda: a.sum(), (lambda: ta.sum()) if torch else None),
        ("max 4096x4096", lambda: A.max().realize(), lambda: a.max(), (lambda: ta.max()) if torch else None),
        ("mean(axis=1) 4096x4096", lambda: A.mean(1).realize(), lambda: a.mean(1),
         (lambda: ta.mean(1)) if torch else None),
        ("softmax(axis=1) 4096x4096", lambda: A.softmax(1).realize(),
         lambda: (lambda e: e / e.sum(1, keepdims=True))(np.exp(a - a.max(1, keepdims=True))),
         (lambda: torch.softmax(ta, 1)) if torch else None),
    ]
    # a masked softmax: half the scores -inf (libmvec's exp takes its slow path for any vector
    # holding one; the cpu kernels' guard sends such lanes through as zeros: render_c._GUARDED)
    am = np.where(rng.random(a.shape) < 0.5, np.float32(-np.inf), a)
    am[:, 0] = a[:, 0]
    AM = zyx.Tensor(am)
    tam = torch.from_numpy(am) if torch else None
    cases.append(("softmax(axis=1) 4096x4096, half -inf", lambda: AM.softmax(1).realize(),
                  lambda: (lambda e: e / e.sum(1, keepdims=True))(np.exp(am - am.max(1, keepdims=True))),
                  (lambda: torch.softmax(tam, 1)) if torch else None))
    for name, fz, fn, ft in cases:
        row(name, best(fz), best(fn), best(ft) if ft else None)

    for size in (1024, 2048):
        m1 = rng.random((size, size), dtype=np.float32)
        m2 = rng.random((size, size), dtype=np.float32)
        M1, M2 = zyx.Tensor(m1), zyx.Tensor(m2)
        tz = best(lambda: (M1 @ M2).realize(), 3)
        tn = best(lambda: m1 @ m2, 3)
        tt = best(lambda: torch.from_numpy(m1) @ torch.from_numpy(m2), 3) if torch else None
        row(f"matmul {size} float32", tz, tn, tt, f"zyx {2 * size ** 3 / tz / 1e9:.0f} GFLOP/s")

    # ---- compile and dispatch overheads
    from zyx.realize import clear_cache
    os.environ["ZYX_CACHE_DIR"] = scratch = tempfile.mkdtemp(prefix="zyx-bench-")
    atexit.register(shutil.rmtree, scratch, True)
    s = zyx.Tensor(rng.random(64, dtype=np.float32))
    times = []
    for mode, label in (("sync", "cold compile of a new small kernel"),
                        ("auto", "first call of a new structure")):
        times = []
        with zyx.realize.specialization(mode):  # sync: compiled at once; auto: host tier meanwhile
            for k in range(5):
                clear_cache()
                z = s  # a structure no cache has seen (constants are arguments, not structure)
                for _ in range(k + 5 * (mode == "auto") + int(time.time()) % 7 + 2):
                    z = (z * 1.5).sqrt() + 1
                t0 = time.perf_counter()
                z.realize()
                times.append(time.perf_counter() - t0)
        print(f"{label:<34} {min(times) * 1e3:.1f} ms (min of 5; median {sorted(times)[2] * 1e3:.1f} ms)")
    zyx.realize.wait_compiles()
    times = []
    for k in range(50):
        t0 = time.perf_counter()
        (s * (k + 0.5) + 1).sqrt().realize()  # new scalars: one generic kernel serves them all
        times.append(time.perf_counter() - t0)
    print(f"{'same structure, 50 new scalars':<34} {sum(times) * 1e3:.1f} ms in all (first {times[0] * 1e3:.1f} ms)")

    x1, y1 = zyx.Tensor(rng.random(1000, dtype=np.float32)), zyx.Tensor(rng.random(1000, dtype=np.float32))
    xn, yn = x1.numpy(), y1.numpy()

    def ten_ops():
        z = x1
        for _ in range(5):
            z = z * y1 + 1.0
        return z.realize()

    def ten_np():
        z = xn
        for _ in range(5):
            z = z * yn + 1.0
        return z
    for _ in range(10):
        ten_ops()
    zyx.realize.wait_compiles()  # (a new structure runs on the host tier while it compiles)
    per_z, per_n = [], []
    for _ in range(5):  # interleaved, best of 5 rounds of 400 calls
        t0 = time.perf_counter()
        for _ in range(400):
            ten_ops()
        t1 = time.perf_counter()
        for _ in range(400):
            ten_np()
        t2 = time.perf_counter()
        per_z.append((t1 - t0) / 400)
        per_n.append((t2 - t1) / 400)
    pz, pn = min(per_z), min(per_n)
    print(f"{'cached 10-op graph, 1000 floats':<34} zyx {pz * 1e6:.1f} us  numpy {pn * 1e6:.1f} us  zyx/np {pz / pn:.2f}x "
          "(graph build + cache hit + launch)")


if __name__ == "__main__":
    sys.exit(main())
