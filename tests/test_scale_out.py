"""Scale out: Cubed runs chunked computations with zyx as its backend array library on its
single-threaded, threads and processes executors; worker processes share the disk kernel
cache safely; Dask arrays and xarray objects hold zyx arrays. Cubed, Dask and xarray are
optional (``pip install 'zyx[cubed,dask,xarray]'``): their tests skip when absent."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import zyx
import zyx.array_api as xp

# Cubed reads its backend module once, at import: set it before anything imports cubed
os.environ["CUBED_BACKEND_ARRAY_API_MODULE"] = "zyx.array_api"


def _cubed():
    cubed = pytest.importorskip("cubed", reason="Cubed is not installed (pip install 'zyx[cubed]')")
    from cubed import backend_array_api
    if backend_array_api.namespace is not xp:
        pytest.skip("cubed was imported before CUBED_BACKEND_ARRAY_API_MODULE was set")
    return cubed


# ----------------------------------------------------------------- Cubed
@pytest.mark.parametrize("executor", ["single-threaded", "threads"])  # processes: the example below
def test_cubed_chunked_computation_matches_numpy(executor, tmp_path):
    cubed = _cubed()
    import cubed.array_api as cxp
    options = {"max_workers": 2} if executor != "single-threaded" else {}
    spec = cubed.Spec(work_dir=str(tmp_path), allowed_mem="200MB", executor_name=executor,
                      executor_options=options)
    rng = np.random.default_rng(0)
    an = rng.standard_normal((120, 120)).astype(np.float32)
    bn = rng.standard_normal((120, 120)).astype(np.float32)
    a = cubed.from_array(an, chunks=(40, 40), spec=spec)
    b = cubed.from_array(bn, chunks=(40, 40), spec=spec)
    e = cxp.exp(a * 0.5) + b
    results = cubed.compute(cxp.sum(e), cxp.mean(e, axis=0), cxp.max(a, axis=1), cxp.matmul(a, b),
                            e.rechunk((60, 30)))
    ref = np.exp(an.astype(np.float64) * 0.5) + bn
    want = [ref.sum(), ref.mean(0), an.max(1), an.astype(np.float64) @ bn, ref]
    for got, w in zip(results, want):
        assert isinstance(got, zyx.Tensor)  # Cubed hands back its backend's arrays
        np.testing.assert_allclose(got.numpy(), w, rtol=2e-5, atol=2e-4)


def test_cubed_sees_numpy_compatible_dtypes(tmp_path):
    cubed = _cubed()
    import cubed.array_api as cxp
    spec = cubed.Spec(work_dir=str(tmp_path), allowed_mem="200MB")  # (by default a new folder in /tmp, left behind)
    a = cubed.from_array(np.arange(12, dtype=np.int32).reshape(3, 4), chunks=(2, 2), spec=spec)
    assert a.dtype == np.int32 and cxp.float32 is zyx.float32
    b = cxp.astype(a, cxp.float32) * 1.5
    assert b.dtype == np.float32
    np.testing.assert_allclose(b.compute().numpy(), np.arange(12).reshape(3, 4) * 1.5)


_WORKER = textwrap.dedent("""
    import json, sys, time
    from pathlib import Path
    import numpy as np
    import zyx
    go, unique = Path(sys.argv[1]), float(sys.argv[2])
    while not go.exists():  # start compiling together
        time.sleep(0.005)
    x = zyx.Tensor(np.arange(64, dtype=np.float32).reshape(8, 8))
    shared = ((x * 0.5).exp() + x.T).sum(1)      # the same kernels in every process
    own = x
    for _ in range(int(unique)):                 # a structure of this process: its own kernel
        own = (own - unique).abs()
    own = own.max(0) * unique
    zyx.realize(shared, own)
    zyx.realize.wait_compiles()  # kernels that ran on the host tier finish compiling (into the cache)
    print(json.dumps({"compiles": zyx.get_device("cpu").backend.compiles,
                      "shared": shared.numpy().tolist(), "own": own.numpy().tolist()}))
""")


def test_disk_cache_is_shared_safely_by_concurrent_processes(tmp_path):
    """Worker processes (Cubed's processes executor, a cluster's workers on one machine)
    compile the same and different kernels at once into one cache directory: every
    result is right, every entry verifies, and a process started afterwards loads all
    of it from disk (compiles nothing)."""
    cache = tmp_path / "cache"
    go = tmp_path / "go"
    env = {**os.environ, "ZYX_CACHE_DIR": str(cache), "ZYX_DEVICE": "cpu", "ZYX_DEBUG": "0"}
    env.pop("ZYX_DISABLE_DISK_CACHE", None)
    uniques = [1.5, 2.5, 3.5]
    procs = [subprocess.Popen([sys.executable, "-c", _WORKER, str(go), str(u)], env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for u in uniques]
    go.touch()
    outs = [p.communicate(timeout=300) for p in procs]
    later = subprocess.run([sys.executable, "-c", _WORKER, str(go), str(uniques[1])], env=env, text=True,
                           capture_output=True, timeout=300)
    x = np.arange(64, dtype=np.float64).reshape(8, 8)
    shared = (np.exp(x * 0.5) + x.T).sum(1)
    for p, (out, err), u in zip(procs, outs, uniques):
        assert p.returncode == 0, err[-2000:]
        r = json.loads(out.strip().splitlines()[-1])
        assert r["compiles"] >= 1
        np.testing.assert_allclose(r["shared"], shared, rtol=1e-5)
        own = x
        for _ in range(int(u)):
            own = np.abs(own - u)
        np.testing.assert_allclose(r["own"], own.max(0) * u, rtol=1e-6)
    assert later.returncode == 0, later.stderr[-2000:]
    assert json.loads(later.stdout.strip().splitlines()[-1])["compiles"] == 0
    entries = [p for p in cache.rglob("*") if p.is_file() and not p.name.endswith(".sha256")]
    assert entries and not [p for p in entries if p.name.startswith(".tmp-")]
    for p in entries:
        digest = p.with_name(p.name + ".sha256").read_text().strip()
        assert hashlib.sha256(p.read_bytes()).hexdigest() == digest, f"{p.name} does not verify"


# ----------------------------------------------------------------- Dask
def test_dask_array_over_zyx_chunks():
    da = pytest.importorskip("dask.array", reason="Dask is not installed (pip install 'zyx[dask]')")
    an = np.arange(48, dtype=np.float32).reshape(6, 8) / 10
    d = da.from_array(xp.asarray(an), chunks=(3, 4))
    assert isinstance(d._meta, zyx.Tensor) and d.dtype == np.float32
    y = d.map_blocks(lambda b: xp.exp(b) * 2 - b)
    got = y.compute(scheduler="synchronous")
    assert isinstance(got, zyx.Tensor)
    np.testing.assert_allclose(got.numpy(), np.exp(an) * 2 - an, rtol=1e-5)
    for got, want in [(d.sum(), an.sum()), (d.mean(axis=0), an.mean(0)), (d.max(axis=1), an.max(1)),
                      (d @ d.T, an @ an.T), ((d * 2 + 1).std(), (an * 2 + 1).std())]:
        r = got.compute(scheduler="threads")
        assert isinstance(r, zyx.Tensor)
        np.testing.assert_allclose(r.numpy(), want, rtol=1e-5)


# ----------------------------------------------------------------- xarray
def test_xarray_keeps_data_in_zyx():
    xr = pytest.importorskip("xarray", reason="xarray is not installed (pip install 'zyx[xarray]')")
    import copy
    an = np.arange(24, dtype=np.float32).reshape(4, 6) / 4
    arr = xr.DataArray(xp.asarray(an), dims=("t", "c"), coords={"t": np.arange(4)})
    cases = {
        "arithmetic": (arr * 2 + 1, an * 2 + 1), "ufunc": (np.exp(arr), np.exp(an)),
        "mean": (arr.mean("t"), an.mean(0)), "sum": (arr.sum(), an.sum()), "std": (arr.std("c"), an.std(1)),
        "isel": (arr.isel(t=slice(1, 3)), an[1:3]), "sel": (arr.sel(t=2), an[2]), "where": (arr.where(arr > 2, 0),
                                                                                          np.where(an > 2, an, 0)),
        "concat": (xr.concat([arr, arr], "t"), np.concatenate([an, an])), "cumsum": (arr.cumsum("t"), an.cumsum(0)),
        "argmax": (arr.argmax("c"), an.argmax(1)), "astype": (arr.astype(np.float64), an.astype(np.float64)),
        "dataset mean": (xr.Dataset({"a": arr}).mean()["a"], an.mean()),
        "deep copy": (arr.copy(deep=True), an), "deepcopy": (copy.deepcopy(arr), an),
    }
    for name, (got, want) in cases.items():
        assert isinstance(got.data, zyx.Tensor), f"{name}: data is {type(got.data).__name__}"
        np.testing.assert_allclose(got.data.numpy(), want, rtol=1e-6, err_msg=name)


def test_example_scale_out_cubed_on_processes():
    """examples/scale_out_cubed.py on Cubed's processes executor: two worker processes
    (spawned: they import zyx and Cubed afresh, pickle tasks, pass chunks through Zarr)
    compute every chunk with zyx, and it prints its agreement with NumPy."""
    _cubed()
    path = Path(__file__).resolve().parents[1] / "examples" / "scale_out_cubed.py"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(path.parents[1])] + sys.path)}
    r = subprocess.run([sys.executable, str(path), "--n", "240", "--chunk", "60", "--executor", "processes"],
                       env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    assert "processes executor" in r.stdout and "agreement with NumPy" in r.stdout and ": OK" in r.stdout
