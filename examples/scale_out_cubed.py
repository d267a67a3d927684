"""Scale out with Cubed: zyx computes each chunk, Cubed plans the chunks and runs them on
an executor - here local worker processes, on a cluster Dask distributed or Lithops.

    pip install -e ".[cubed]"
    python examples/scale_out_cubed.py                       # 2000 x 2000 in 500 x 500 chunks
    python examples/scale_out_cubed.py --n 4000 --chunk 1000 --executor threads

It builds an elementwise expression, reductions, a matrix product and a rechunk over
chunked arrays, runs them, and prints how far each result is from NumPy's (float64) answer;
it exits with 1 if any is further than the tolerance. See docs/scale_out.md for cluster
executors and for what travels between workers.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time

# Cubed reads its backend array library once, when it is imported: zyx's namespace.
# Worker processes inherit the variable (on a cluster, set it in the workers' environment).
os.environ.setdefault("CUBED_BACKEND_ARRAY_API_MODULE", "zyx.array_api")

import numpy as np  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000, help="the arrays are n x n (default 2000)")
    ap.add_argument("--chunk", type=int, default=500, help="chunks are chunk x chunk (default 500)")
    ap.add_argument("--executor", default="processes", choices=["processes", "threads", "single-threaded"])
    ap.add_argument("--workers", type=int, default=2, help="worker processes or threads (default 2)")
    args = ap.parse_args()

    import cubed
    import cubed.array_api as cxp

    import zyx.array_api

    if cubed.backend_array_api.namespace is not zyx.array_api:
        print("cubed does not use zyx: CUBED_BACKEND_ARRAY_API_MODULE was set to "
              f"{os.environ['CUBED_BACKEND_ARRAY_API_MODULE']!r}", file=sys.stderr)
        return 1
    work_dir = tempfile.mkdtemp(prefix="zyx-cubed-")  # intermediate chunks (Zarr) live here
    try:
        return _run(args, cubed, cxp, zyx, work_dir)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


def _run(args, cubed, cxp, zyx, work_dir: str) -> int:
    options = {"max_workers": args.workers} if args.executor != "single-threaded" else {}
    spec = cubed.Spec(work_dir=work_dir, allowed_mem="2GB", executor_name=args.executor,
                      executor_options=options)

    rng = np.random.default_rng(0)
    an = rng.standard_normal((args.n, args.n)).astype(np.float32)
    bn = rng.standard_normal((args.n, args.n)).astype(np.float32)
    a = cubed.from_array(an, chunks=(args.chunk, args.chunk), spec=spec)
    b = cubed.from_array(bn, chunks=(args.chunk, args.chunk), spec=spec)

    e = cxp.exp(a * 0.5) + b  # elementwise: one fused zyx kernel per chunk
    named = {
        "sum(exp(a/2) + b)": cxp.sum(e),
        "mean(exp(a/2) + b, axis=0)": cxp.mean(e, axis=0),
        "max(a, axis=1)": cxp.max(a, axis=1),
        "a @ b": cxp.matmul(a, b),
        "rechunk(exp(a/2) + b)": e.rechunk((args.chunk * 2, args.chunk // 2)),
    }
    t0 = time.perf_counter()
    results = cubed.compute(*named.values())
    seconds = time.perf_counter() - t0

    ref_e = np.exp(an.astype(np.float64) * 0.5) + bn
    refs = [ref_e.sum(), ref_e.mean(0), an.max(1), an.astype(np.float64) @ bn, ref_e]
    tol = 1e-4
    worst = 0.0
    print(f"{args.n} x {args.n} float32 in {args.chunk} x {args.chunk} chunks, Cubed's {args.executor} executor "
          f"({args.workers} workers), zyx device {zyx.array_api.asarray(0.0).device}: {seconds:.1f} s")
    for (name, _), got, ref in zip(named.items(), results, refs):
        got = np.asarray(got, dtype=np.float64)
        err = float(np.max(np.abs(got - ref)) / max(float(np.max(np.abs(ref))), 1e-30))
        worst = max(worst, err)
        print(f"  {name:<28} {type(results[0]).__module__.split('.')[0]} array, max relative error vs NumPy "
              f"{err:.1e}")
    ok = worst <= tol
    print(f"agreement with NumPy: max relative error {worst:.1e} (tolerance {tol:.0e}): {'OK' if ok else 'FAILED'}")
    return 0 if ok else 1


if __name__ == "__main__":  # required: the processes executor starts workers that import this file
    sys.exit(main())
