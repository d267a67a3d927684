"""Fork (docs/array_api.md "Processes"): drivers do not survive ``os.fork()``. A forked
child keeps the ``cpu`` device (its kernels on one OpenMP thread: the parent's thread pool
is gone) and gets a clear RuntimeError, never a hang, from a device whose driver the
parent had started. Each case runs in a subprocess with a timeout, so a hang fails the
test instead of stopping the suite."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SCRIPT = textwrap.dedent("""
    import multiprocessing, os, sys
    import numpy as np
    import zyx

    DEV = sys.argv[1]

    def work(k):
        # big enough that the cpu kernel runs on OpenMP threads in the parent
        x = zyx.Tensor(np.full((1 << 20,), k, np.float32), device=DEV)
        return float((x * 2 + 1).sum().item())

    if __name__ == "__main__":
        print("parent", work(1), flush=True)
        pid = os.fork()
        if pid == 0:
            try:
                print("child", work(2), flush=True)
            except RuntimeError as e:
                print("child error", "spawn" in str(e), flush=True)
            os._exit(0)
        os.waitpid(pid, 0)
        with multiprocessing.get_context("fork").Pool(2) as pool:
            try:
                print("pool", pool.map(work, [3, 4]), flush=True)
            except RuntimeError as e:
                print("pool error", "spawn" in str(e), flush=True)
""")


def _run(device: str, script: str, tmp_path, timeout: int = 240) -> str:
    path = tmp_path / "script.py"   # a file: spawned workers re-import the main module
    path.write_text(script)
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run([sys.executable, str(path), device], capture_output=True, text=True,
                       timeout=timeout, env=env, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout


def test_forked_children_work_or_refuse_clearly(device, tmp_path):
    out = _run(device, SCRIPT, tmp_path).splitlines()
    n = 1 << 20
    assert out[0] == f"parent {float(3 * n)}"
    if device == "cpu":
        assert out[1:] == [f"child {float(5 * n)}", f"pool {[float(7 * n), float(9 * n)]}"]
    else:
        assert out[1:] == ["child error True", "pool error True"]


def test_spawned_workers_use_any_device(tmp_path):
    """The documented remedy: the spawn start method gives each worker its own driver."""
    opencl = [d for d in ("opencl:0",) if _has(d)]
    dev = opencl[0] if opencl else "cpu"
    script = SCRIPT.split("if __name__")[0] + textwrap.dedent("""
        if __name__ == "__main__":
            print("parent", work(1), flush=True)
            with multiprocessing.get_context("spawn").Pool(2) as pool:
                print("pool", pool.map(work, [3, 4]), flush=True)
    """)
    out = _run(dev, script, tmp_path).splitlines()
    n = 1 << 20
    assert out == [f"parent {float(3 * n)}", f"pool {[float(7 * n), float(9 * n)]}"]


def _has(name: str) -> bool:
    import zyx
    return any(d.name == name for d in zyx.available_devices())


@pytest.mark.parametrize("dev", ["cpu"])
def test_fork_hook_limits_openmp_in_the_child_only(dev, tmp_path):
    """The parent keeps its threads; only the forking thread of the child is limited."""
    script = textwrap.dedent("""
        import ctypes, os, sys
        import numpy as np
        import zyx
        x = zyx.Tensor(np.ones((1 << 20,), np.float32), device=sys.argv[1])
        (x * 2).sum().item()
        gomp = ctypes.CDLL("libgomp.so.1")
        before = gomp.omp_get_max_threads()
        pid = os.fork()
        if pid == 0:
            print("child", gomp.omp_get_max_threads(), flush=True)
            os._exit(0)
        os.waitpid(pid, 0)
        print("parent", gomp.omp_get_max_threads() == before, flush=True)
    """)
    assert _run(dev, script, tmp_path).splitlines() == ["child 1", "parent True"]
