"""Shared fixtures: every device test runs on each device zyx finds (cpu, opencl, ...)."""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile

import pytest

# an isolated kernel cache per test session unless the caller chose one (one for all
# pytest-xdist workers: the controller sets it before they start, and they inherit it),
# removed when the session ends. (Made only where unset: each worker made one of its own
# and left it, empty, in /tmp.)
if not os.environ.get("ZYX_CACHE_DIR"):
    os.environ["ZYX_CACHE_DIR"] = _SESSION_CACHE = tempfile.mkdtemp(prefix="zyx-test-cache-")
    atexit.register(shutil.rmtree, _SESSION_CACHE, True)
# SciPy reads SCIPY_ARRAY_API once, when it is first imported: set before any test module
# imports it, so scikit-learn's and SciPy's array-API paths run in this process (not in a
# second pytest run in a subprocess, which cost a minute)
os.environ.setdefault("SCIPY_ARRAY_API", "1")

import zyx  # noqa: E402

DEVICES = [d.name for d in zyx.available_devices()]


def pytest_xdist_auto_num_workers(config):
    """``-n auto`` (pyproject's addopts): one worker per core, at most 4 - the suite is
    compile-bound (gcc, PoCL, naga run beside the tests), and each worker holds its own
    imports (torch, scikit-learn, SciPy) and kernel caches."""
    return max(1, min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1))


# What the default run leaves to ``-m slow`` (which ``.ci/run`` runs after it): cases whose
# time is almost all kernel compiles that the default run's other cases already exercise
# (docs/ARCHITECTURE.md, "The test suite"; PoCL spends ~150 ms building each new kernel).
# * OpenCL cases of the dtypes beyond int32 and float32 - the cpu and wgpu devices run every
#   dtype by default, and OpenCL's other cases meet booleans and int64 (comparisons, masks,
#   indices, argmax) anyway (bool and int64 moved here when the default run neared 10 minutes
#   on a busy machine: ~50 s of PoCL builds);
_OPENCL_SLOW_DTYPES = {"bool", "int64", "int8", "int16", "uint8", "uint16", "uint32", "uint64", "float16", "bfloat16",
                       "float64", "complex64", "complex128"}
# * OpenCL runs that compile hundreds of kernels each (fuzzing; a process compiling ever new
#   kernels; scikit-learn's estimators and metrics; a lazily grown loop state's ~40 structures):
#   the default run does them on cpu and wgpu;
_OPENCL_SLOW_TESTS = {"test_random_graphs_match_numpy", "test_a_process_compiling_ever_new_kernels_keeps_a_bounded_number",
                      "test_estimator_matches_numpy", "test_classification_and_regression_metrics",
                      "test_pairwise_matches_numpy", "test_a_lazily_grown_state_hits_the_cache"}
# * the conformance suite (array-api-tests/) on OpenCL: the default run has it on cpu (with
#   hypothesis deadlines) and wgpu;
# * the CUDA code generator's emulated and compile-only cases (tests/test_cuda.py) of the
#   dtypes beyond these, which cover its distinct code paths (half, complex, bool, integer):
_CUDA_SLOW_DTYPES = {d.name for d in zyx.dtypes.ALL} - {"bool", "int32", "float16", "float32", "complex64"}


def _dtype_names(item) -> set:
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return set()
    out = set()
    for v in callspec.params.values():
        name = getattr(v, "name", None) if isinstance(v, zyx.dtypes.DType) else v if isinstance(v, str) else None
        if name:
            out.add(name)
    return out


def _on_opencl(item) -> bool:
    module = getattr(item, "module", None)
    if module is not None and module.__name__.rsplit(".", 1)[-1] == "test_opencl":
        return True
    callspec = getattr(item, "callspec", None)  # (a device parameter: a name, or a Device in array-api-tests/)
    return callspec is not None and any(str(v).startswith("opencl") for v in callspec.params.values())


def _slow_by_default(item) -> bool:
    path = item.nodeid.split("::", 1)[0]
    if path.endswith("test_cuda.py"):
        return bool(_dtype_names(item) & _CUDA_SLOW_DTYPES)
    if not _on_opencl(item):
        return False
    return (path.startswith("array-api-tests/") or bool(_dtype_names(item) & _OPENCL_SLOW_DTYPES)
            or getattr(item, "originalname", None) in _OPENCL_SLOW_TESTS)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    for item in items:
        if _slow_by_default(item):
            item.add_marker(pytest.mark.slow)


def pytest_report_header(config):
    return f"zyx devices: {', '.join(DEVICES)}"


@pytest.fixture(params=DEVICES)
def device(request):
    """Name of a zyx device; tests using it run once per device found."""
    return request.param
