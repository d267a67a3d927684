"""GPU benchmarks: zyx on a GPU side by side with PyTorch on the same GPU.

    python benches/bench_gpu.py                 # cuda:0
    python benches/bench_gpu.py --device wgpu   # WGPU (PyTorch comparison only with CUDA)

Workloads: a fused elementwise chain, a row reduction and a full reduction, a matmul,
softmax, and one MLP training step (forward, GradientTape backward, SGD). Each time is
the best of several runs after a warm-up (compilation happens there), measured with the
device synchronized. Ratios are torch time / zyx time (> 1: zyx is faster).

Then (``--skip train,sklearn`` leaves them out): Adam training steps of an MLP
1024-4096-4096-10 (batch 4096) and a CNN (conv 3->32->64 on 32x32, batch 256) against
torch eager from the same initial weights (first step with the kernel cache as found - empty
under benches/gpu_check.sh - then the best warm step; losses printed side by side), and
scikit-learn with ``array_api_dispatch`` on 100,000 x 128 float32 data - zyx arrays on the
GPU, torch tensors on the GPU, NumPy on the host - first and warm fit times and the
torch/zyx geomean.

Without a GPU (``device_count() == 0``) it prints why and exits 0, so CI can call it.
"""
from __future__ import annotations

import argparse
import atexit
import shutil
import sys
import time

import numpy as np

import zyx


def _timer(sync):
    def best(fn, reps: int = 10) -> float:
        fn()
        sync()
        # big kernels get a version specialised on their sizes, compiled in the background
        # after the generic one has run twice: time the steady state a loop reaches
        fn()
        zyx.realize.wait_compiles()
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
    ap.add_argument("--skip", default="", help="comma-separated row groups to leave out: train, sklearn")
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
    skip = set(filter(None, args.skip.split(",")))
    if "train" not in skip:
        _adam_steps(dev, tdev, backend.synchronize, tsync)
    if "sklearn" not in skip:
        _sklearn_rows(dev, tdev, backend.synchronize, tsync)
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



def _timed(fn, sync) -> float:
    t0 = time.perf_counter()
    fn()
    sync()
    return time.perf_counter() - t0


def _adam_steps(dev, tdev, zsync, tsync, small: bool = False) -> None:
    """Adam steps of the issue's MLP and CNN, zyx against torch eager from the same weights
    (``small``: shrunken sizes, for a smoke test on a CPU)."""
    import zyx.nn.functional as F
    from zyx import nn, optim
    rng = np.random.default_rng(2)
    h, b, cb = (128, 64, 8) if small else (4096, 4096, 256)
    cases = [
        (f"MLP 1024-{h}-{h}-10 b{b}", lambda: nn.Sequential(
            nn.Linear(1024, h, device=dev), nn.ReLU(), nn.Linear(h, h, device=dev), nn.ReLU(),
            nn.Linear(h, 10, device=dev)), (b, 1024)),
        (f"CNN 3-32-64 32x32 b{cb}", lambda: nn.Sequential(
            nn.Conv2d(3, 32, 3, padding=1, device=dev), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1, device=dev), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
            nn.Linear(64 * 8 * 8, 10, device=dev)), (cb, 3, 32, 32)),
    ]
    for name, make, xshape in cases:
        x = rng.standard_normal(xshape).astype(np.float32)
        y = rng.integers(0, 10, xshape[0])
        model = make()
        twin = None
        if tdev is not None:
            import torch
            twin = _torch_twin(model, torch).to(tdev)  # the same initial weights
        opt = optim.Adam(model.parameters(), lr=1e-3)
        zx, zy = zyx.Tensor(x, device=dev), zyx.Tensor(y, device=dev)
        zl = []

        def zstep():
            with zyx.GradientTape() as tape:
                loss = F.cross_entropy(model(zx), zy)
                grads = tape.gradient(loss, model.parameters())
            opt.step(grads, realize=False)
            zyx.realize(loss, model, opt)
            zl.append(loss)
        first = _timed(zstep, zsync)
        warm = min(_timed(zstep, zsync) for _ in range(5))
        line = f"{'Adam step ' + name:<36} zyx first {first * 1e3:8.1f} ms  warm {warm * 1e3:8.3f} ms"
        if twin is None:
            print(line)
            continue
        topt = torch.optim.Adam(twin.parameters(), lr=1e-3)
        tx, ty = torch.from_numpy(x).to(tdev), torch.from_numpy(y).to(tdev)
        tl = []

        def tstep():
            topt.zero_grad(set_to_none=True)
            loss = torch.nn.functional.cross_entropy(twin(tx), ty)
            loss.backward()
            topt.step()
            tl.append(loss.detach())
        tfirst = _timed(tstep, tsync)
        twarm = min(_timed(tstep, tsync) for _ in range(5))
        print(f"{line}  torch first {tfirst * 1e3:8.1f} ms  warm {twarm * 1e3:8.3f} ms  torch/zyx "
              f"{twarm / warm:5.2f}x  loss step 1 zyx {float(zl[0]):.5f} torch {float(tl[0]):.5f}, "
              f"step 6 {float(zl[5]):.5f} / {float(tl[5]):.5f}")


def _torch_twin(model, torch):
    """A torch.nn.Sequential with the zyx Sequential's layers and its current weights."""
    from zyx import nn
    layers = []
    for m in model:
        if isinstance(m, nn.Linear):
            t = torch.nn.Linear(m.in_features, m.out_features)
        elif isinstance(m, nn.Conv2d):
            t = torch.nn.Conv2d(m.in_channels, m.out_channels, m.kernel_size, padding=m.padding)
        elif isinstance(m, nn.MaxPool2d):
            t = torch.nn.MaxPool2d(2)
        elif isinstance(m, nn.Flatten):
            t = torch.nn.Flatten()
        else:
            t = torch.nn.ReLU()
        if hasattr(t, "weight"):
            t.weight.data.copy_(torch.from_numpy(m.weight.numpy()))
            t.bias.data.copy_(torch.from_numpy(m.bias.numpy()))
        layers.append(t)
    return torch.nn.Sequential(*layers)


def _sklearn_rows(dev, tdev, zsync, tsync, n: int = 100_000) -> None:
    """scikit-learn estimators with array_api_dispatch: NumPy (host), torch and zyx on the GPU."""
    import os
    os.environ.setdefault("SCIPY_ARRAY_API", "1")
    try:
        import array_api_compat  # noqa: F401
        import sklearn
        from sklearn.decomposition import PCA
        from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
        from sklearn.linear_model import LogisticRegression, Ridge
        from sklearn.mixture import GaussianMixture
        from sklearn.naive_bayes import GaussianNB
        from sklearn.preprocessing import StandardScaler
    except ImportError as e:
        print(f"scikit-learn rows skipped: {e}")
        return
    import zyx.array_api as xp
    rng = np.random.default_rng(3)
    p = 128
    y4 = rng.integers(0, 4, n)
    X = (rng.standard_normal((n, p)) + 0.5 * y4[:, None] * rng.standard_normal(p)).astype(np.float32)
    targets = {"X": None, "y4": y4, "y2": (y4 >= 2).astype(np.int64),
               "yreg": (X @ rng.standard_normal(p) + rng.standard_normal(n)).astype(np.float32)}
    rows = [("PCA(covariance_eigh)", lambda: PCA(16, svd_solver="covariance_eigh"), "X"),
            ("PCA(randomized)", lambda: PCA(16, svd_solver="randomized", power_iteration_normalizer="QR",
                                            random_state=0), "X"),
            ("LinearDiscriminantAnalysis", LinearDiscriminantAnalysis, "y4"),
            ("Ridge(svd)", lambda: Ridge(solver="svd"), "yreg"),
            ("LogisticRegression", lambda: LogisticRegression(max_iter=100), "y2"),
            ("GaussianNB", GaussianNB, "y4"),
            ("GaussianMixture(4)", lambda: GaussianMixture(4, init_params="random_from_data", random_state=0), "X"),
            ("StandardScaler", StandardScaler, "X")]
    print(f"scikit-learn {sklearn.__version__}, array_api_dispatch, {n} x {p} float32 "
          "(seconds: first fit / warm fit)")

    def zyx_sync_fitted(est):
        zyx.realize(*[v for v in vars(est).values() if isinstance(v, zyx.Tensor)])
        zsync()

    backends = [("numpy", lambda a: a, lambda est: None)]
    if tdev is not None:
        import torch
        backends.append(("torch", lambda a: torch.from_numpy(a).to(tdev), lambda est: tsync()))
    backends.append(("zyx", lambda a: xp.asarray(a, device=dev), zyx_sync_fitted))
    ratios = []
    for name, make, target in rows:
        got = {}
        for bname, put, sync in backends:
            Xb = put(X)
            yb = None if targets[target] is None else put(targets[target])
            try:
                with sklearn.config_context(array_api_dispatch=bname != "numpy"):
                    def fit():
                        est = make().fit(Xb) if yb is None else make().fit(Xb, yb)
                        sync(est)
                    first = _timed(fit, lambda: None)
                    warm = first if bname == "numpy" else _timed(fit, lambda: None)
                got[bname] = (first, warm)
            except Exception as e:  # an estimator this scikit-learn cannot dispatch
                got[bname] = None
                print(f"  {name}: {bname} failed: {type(e).__name__}: {str(e)[:120]}")
        cells = "  ".join(f"{b} {got[b][0]:7.3f}/{got[b][1]:7.3f}" if got.get(b) else f"{b} {'-':>15}"
                          for b, _, _ in backends)
        ratio = ""
        if got.get("torch") and got.get("zyx"):
            r = got["torch"][1] / got["zyx"][1]
            ratios.append(r)
            ratio = f"  torch/zyx {r:5.2f}x"
        print(f"{name:<28} {cells}{ratio}")
    if ratios:
        print(f"{'scikit-learn geomean':<28} torch/zyx {float(np.exp(np.mean(np.log(ratios)))):5.2f}x "
              f"over {len(ratios)} estimators (target >= 0.7, none below 0.3)")
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
            os.environ["ZYX_CACHE_DIR"] = scratch = tempfile.mkdtemp(prefix="zyx-cold-")
            atexit.register(shutil.rmtree, scratch, True)
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
