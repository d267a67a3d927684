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


if __name__ == "__main__":
    sys.exit(main())
