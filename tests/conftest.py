"""Shared fixtures: every device test runs on each device zyx finds (cpu, opencl, ...)."""
from __future__ import annotations

import os
import tempfile

import pytest

# an isolated kernel cache per test session unless the caller chose one (one for all
# pytest-xdist workers: the controller sets it before they start, and they inherit it)
os.environ.setdefault("ZYX_CACHE_DIR", tempfile.mkdtemp(prefix="zyx-test-cache-"))
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


# OpenCL-device cases of the less common dtypes: PoCL spends ~150 ms building each new
# kernel (docs/ARCHITECTURE.md, "The test suite"), so these run with ``-m slow`` (which
# ``.ci/run`` runs after the default suite) and the default run keeps OpenCL's bool, uint8,
# int32, int64, float32, float64 and complex64 cases - the cpu and wgpu devices run every dtype
_OPENCL_SLOW_DTYPES = {"int8", "int16", "uint16", "uint32", "uint64", "float16", "bfloat16", "complex128"}
# and two OpenCL runs that compile hundreds of kernels each (fuzzing; a process compiling
# ever new kernels): the default run does them on cpu and wgpu
_OPENCL_SLOW_TESTS = {"test_random_graphs_match_numpy", "test_a_process_compiling_ever_new_kernels_keeps_a_bounded_number"}


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
    callspec = getattr(item, "callspec", None)
    return callspec is not None and any(isinstance(v, str) and v.startswith("opencl") for v in callspec.params.values())


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    for item in items:
        if (_dtype_names(item) & _OPENCL_SLOW_DTYPES or getattr(item, "originalname", None) in _OPENCL_SLOW_TESTS) \
                and _on_opencl(item):
            item.add_marker(pytest.mark.slow)


def pytest_report_header(config):
    return f"zyx devices: {', '.join(DEVICES)}"


@pytest.fixture(params=DEVICES)
def device(request):
    """Name of a zyx device; tests using it run once per device found."""
    return request.param
