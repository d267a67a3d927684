"""GPU benchmarks: zyx on a GPU side by side with PyTorch on the same GPU.

    python benches/bench_gpu.py                 # cuda:0
    python benches/bench_gpu.py --device wgpu   # WGPU (PyTorch comparison only with CUDA)

Workloads: a fused elementwise chain, a row reduction and a full reduction, a matmul,
softmax, and one MLP training step (forward, GradientTape backward, SGD). Each time is
the best of several runs after a warm-up (compilation happens there), measured with the
device synchronized. Ratios are torch time / zyx time (> 1: zyx is faster).

Without a GPU (``device_count() == 0``) it prints why and exits 0, so CI can call it.
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np

import zyx


def _timer(sync):
    def best(fn, reps: int = 10) -> float:
        fn()
        sync()
        ts = []
        for _ in range(reps):
            t0 = time.perf_counter()
            fn()
            sync()
            ts.append(time.perf_counter() - t0)
        return min(ts)
    return best


def _available(device: str) -> bool:
    kind = device.split(":")[0]
    try:
        mod = __import__(f"zyx.backends.{kind}", fromlist=["device_count"])
        return mod.device_count() > 0
    except Exception:
        return False


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda:0")
    ap.add_argument("--size", type=int, default=1 << 24, help="elements for the elementwise/reduction rows")
    ap.add_argument("--mat", type=int, default=4096, help="side of the square matrices")
    args = ap.parse_args(argv)
    dev = args.device
    if not _available(dev):
        print(f"bench_gpu: no {dev.split(':')[0]} device on this machine (device_count() == 0); skipping.")
        return 0
    zdev = zyx.get_device(dev)
    backend = zdev.backend
    try:
        import torch
        tdev = torch.device(f"cuda:{zdev.index}") if zdev.type == "cuda" and torch.cuda.is_available() else None
    except ImportError:
        torch, tdev = None, None
    tsync = (lambda: torch.cuda.synchronize(tdev)) if tdev is not None else (lambda: None)
    zbest, tbest = _timer(backend.synchronize), _timer(tsync)
    print(f"zyx device: {zdev} ({backend.description}); torch: {tdev or 'not on this GPU'}")

    rng = np.random.default_rng(0)
    n = args.size
    a = rng.standard_normal(n).astype(np.float32)
    b = rng.standard_normal(n).astype(np.float32)
    k = args.mat
    m = rng.standard_normal((k, k)).astype(np.float32)
    w = rng.standard_normal((k, k)).astype(np.float32)
    za, zb, zm, zw = (zyx.Tensor(v, device=dev) for v in (a, b, m, w))
    if tdev is not None:
        ta, tb, tm, tw = (torch.from_numpy(v).to(tdev) for v in (a, b, m, w))

    def z(fn):
        return lambda: zyx.realize(fn())

    rows = [
        ("elementwise (a*b+1).exp()*a", 3 * 4 * n, 0,
         z(lambda: (za * zb + 1).exp() * za), lambda: (ta * tb + 1).exp() * ta),
        (f"sum over rows {k}x{k}", 4 * k * k, 0, z(lambda: zm.sum(axis=1)), lambda: tm.sum(dim=1)),
        (f"full sum {n}", 4 * n, 0, z(lambda: za.sum()), lambda: ta.sum()),
        (f"matmul {k}^3 f32", 3 * 4 * k * k, 2 * k ** 3, z(lambda: zm @ zw), lambda: tm @ tw),
        (f"softmax rows {k}x{k}", 2 * 4 * k * k, 0, z(lambda: zm.softmax(-1)),
         lambda: torch.softmax(tm, -1)),
    ]
    for name, nbytes, flops, zfn, tfn in rows:
        tz = zbest(zfn)
        extra = f"{nbytes / tz / 1e9:7.1f} GB/s" + (f" {flops / tz / 1e12:6.2f} TFLOP/s" if flops else "")
        if tdev is not None:
            tt = tbest(tfn)
            print(f"{name:<30} zyx {tz * 1e3:8.3f} ms  torch {tt * 1e3:8.3f} ms  torch/zyx {tt / tz:5.2f}x  {extra}")
        else:
            print(f"{name:<30} zyx {tz * 1e3:8.3f} ms  {extra}")
    _mlp(dev, tdev, zbest, tbest)
    if zdev.type == "cuda":
        _tensor_core_rows(dev, tdev, zbest, tbest)
        _reduction_rows(dev, tdev, zbest, tbest, n)
        _cold_start_row(dev)
    return 0


def _mlp(dev, tdev, zbest, tbest) -> None:
    """One training step of a 784-1024-1024-10 MLP on a batch of 512."""
    from zyx import nn, optim
    from zyx.autograd import GradientTape
    rng = np.random.default_rng(1)
    x = rng.standard_normal((512, 784)).astype(np.float32)
    y = rng.integers(0, 10, 512)
    model = nn.Sequential(nn.Linear(784, 1024, device=dev), nn.ReLU(), nn.Linear(1024, 1024, device=dev), nn.ReLU(),
                          nn.Linear(1024, 10, device=dev))
    opt = optim.SGD(model.parameters(), lr=1e-2)
    zx, zy = zyx.Tensor(x, device=dev), zyx.Tensor(y, device=dev)
    loss_fn = nn.CrossEntropyLoss()

    def zstep():
        with GradientTape() as tape:
            loss = loss_fn(model(zx), zy)
            grads = tape.gradient(loss, model.parameters())
        opt.step(grads)
    tz = zbest(zstep, reps=5)
    if tdev is None:
        print(f"{'MLP step 512x784-1024-1024-10':<30} zyx {tz * 1e3:8.3f} ms")
        return
    import torch
    tmodel = torch.nn.Sequential(torch.nn.Linear(784, 1024), torch.nn.ReLU(), torch.nn.Linear(1024, 1024),
                                 torch.nn.ReLU(), torch.nn.Linear(1024, 10)).to(tdev)
    topt = torch.optim.SGD(tmodel.parameters(), lr=1e-2)
    tx, ty = torch.from_numpy(x).to(tdev), torch.from_numpy(y).to(tdev)

    def tstep():
        topt.zero_grad()
        torch.nn.functional.cross_entropy(tmodel(tx), ty).backward()
        topt.step()
    tt = tbest(tstep, reps=5)
    print(f"{'MLP step 512x784-1024-1024-10':<30} zyx {tz * 1e3:8.3f} ms  torch {tt * 1e3:8.3f} ms  "
          f"torch/zyx {tt / tz:5.2f}x")


def _row(name, tz, tt=None, flops=0, nbytes=0) -> None:
    extra = (f"  {flops / tz / 1e12:7.1f} TFLOP/s" if flops else "") + \
        (f"  {nbytes / tz / 1e9:7.1f} GB/s" if nbytes else "")
    if tt is None:
        print(f"{name:<30} zyx {tz * 1e3:8.3f} ms{extra}")
    else:
        print(f"{name:<30} zyx {tz * 1e3:8.3f} ms  torch {tt * 1e3:8.3f} ms  torch/zyx {tt / tz:5.2f}x{extra}")


def _tensor_core_rows(dev, tdev, zbest, tbest) -> None:
    """Issue 15 matmul rows: float16 / bfloat16 8192^3 (mma.sync), float32 4096^3 (FFMA, and
    TF32 when allowed, against torch with allow_tf32), relu(x @ W + b) fused in one kernel
    against torch's addmm + relu."""
    import zyx.backends.cuda as zcuda
    from zyx import dtypes as dt
    torch = __import__("torch") if tdev is not None else None
    rng = np.random.default_rng(2)

    def pair(n, dtype, tdtype):
        a = rng.standard_normal((n, n), dtype=np.float32)
        b = rng.standard_normal((n, n), dtype=np.float32)
        za, zb = (zyx.Tensor(v, device=dev).cast(dtype).realize() for v in (a, b))
        ta, tb = ((torch.from_numpy(v).to(tdev).to(tdtype)) if torch else None for v in (a, b))
        return za, zb, ta, tb

    sizes = ((8192, dt.float16, "float16"), (8192, dt.bfloat16, "bfloat16"), (4096, dt.float32, "float32"))
    for n, dtype, tname in sizes:
        za, zb, ta, tb = pair(n, dtype, getattr(torch, tname) if torch else None)
        tz = zbest(lambda: zyx.realize(za @ zb), reps=5)
        tt = tbest(lambda: ta @ tb, reps=5) if torch else None
        _row(f"matmul {n}^3 {tname}", tz, tt, flops=2 * n ** 3)
        if dtype is dt.float32:
            zcuda.set_allow_tf32(True)
            if torch:
                torch.backends.cuda.matmul.allow_tf32 = True
            try:
                tz = zbest(lambda: zyx.realize(za @ zb), reps=5)
                tt = tbest(lambda: ta @ tb, reps=5) if torch else None
                _row(f"matmul {n}^3 tf32", tz, tt, flops=2 * n ** 3)
            finally:
                zcuda.set_allow_tf32(False)
                if torch:
                    torch.backends.cuda.matmul.allow_tf32 = False
    n = 8192
    za, zw, ta, tw = pair(n, dt.float16, torch.float16 if torch else None)
    bias = rng.standard_normal(n, dtype=np.float32)
    zbias = zyx.Tensor(bias, device=dev).cast(dt.float16).realize()
    tbias = torch.from_numpy(bias).to(tdev).half() if torch else None
    tz = zbest(lambda: zyx.realize((za @ zw + zbias).relu()), reps=5)
    tt = tbest(lambda: torch.relu(torch.addmm(tbias, ta, tw)), reps=5) if torch else None
    _row(f"relu(x@W+b) {n}^3 float16", tz, tt, flops=2 * n ** 3)


def _reduction_rows(dev, tdev, zbest, tbest, size: int) -> None:
    """Issue 15 reduction rows: a full sum of 64M, column and row means of 8192^2."""
    torch = __import__("torch") if tdev is not None else None
    rng = np.random.default_rng(3)
    flat = rng.standard_normal(1 << 26, dtype=np.float32)
    mat = rng.standard_normal((8192, 8192), dtype=np.float32)
    zf, zm = zyx.Tensor(flat, device=dev), zyx.Tensor(mat, device=dev)
    tf, tm = (torch.from_numpy(flat).to(tdev), torch.from_numpy(mat).to(tdev)) if torch else (None, None)
    for name, zfn, tfn, nbytes in (
            ("sum 64M", lambda: zf.sum(), lambda: tf.sum(), flat.nbytes),
            ("mean(axis=0) 8192^2", lambda: zm.mean(axis=0), lambda: tm.mean(dim=0), mat.nbytes),
            ("mean(axis=1) 8192^2", lambda: zm.mean(axis=1), lambda: tm.mean(dim=1), mat.nbytes),
            ("softmax rows 8192^2", lambda: zm.softmax(-1), lambda: torch.softmax(tm, -1), 2 * mat.nbytes)):
        tz = zbest(lambda: zyx.realize(zfn()))
        tt = tbest(tfn) if torch else None
        _row(name, tz, tt, nbytes=nbytes)


def _cold_start_row(dev) -> None:
    """First call of a schedule of new kernels with empty caches (NVRTC on a thread pool),
    against compiling the same kernels one after another."""
    import os
    import tempfile
    import time

    import zyx.backends.cuda as zcuda
    from zyx import realize
    be = zyx.get_device(dev).backend
    old = os.environ.get("ZYX_CACHE_DIR")
    x = zyx.Tensor(np.random.default_rng(4).standard_normal((512, 512), dtype=np.float32), device=dev)
    try:
        for label, threads in (("parallel", zcuda.COMPILE_THREADS), ("one thread", 1)):
            os.environ["ZYX_CACHE_DIR"] = tempfile.mkdtemp(prefix="zyx-cold-")
            realize.clear_cache()
            be._programs.clear()
            zcuda.COMPILE_THREADS, saved = threads, zcuda.COMPILE_THREADS
            try:
                outs = [(x * (i + 1.5)).exp().sum(axis=i % 2) + i for i in range(10)]  # 10 new kernels
                t0 = time.perf_counter()
                zyx.realize(*outs)
                be.synchronize()
                ms = (time.perf_counter() - t0) * 1e3
                print(f"{'cold 10 kernels, ' + label:<30} zyx {ms:8.1f} ms (NVRTC + load)")
            finally:
                zcuda.COMPILE_THREADS = saved
    finally:
        if old is None:
            os.environ.pop("ZYX_CACHE_DIR", None)
        else:
            os.environ["ZYX_CACHE_DIR"] = old


if __name__ == "__main__":
    sys.exit(main())
