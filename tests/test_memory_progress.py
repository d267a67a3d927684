"""What users of PyTorch and CuPy look for: a memory report per device
(``zyx.memory_stats``) and a progress line when compiling takes long."""
from __future__ import annotations

import gc
import time

import numpy as np
import pytest

import zyx
import zyx._progress as progress
import zyx.array_api as xp
from zyx.realize import clear_cache

from _util import T


def test_memory_stats_count_buffers(device):
    dev = zyx.get_device(device)
    gc.collect()
    before = zyx.memory_stats(device)
    assert set(before) == {"in_use_bytes", "peak_in_use_bytes", "buffers", "cached_bytes", "borrowed_bytes"}
    dev.reset_peak_memory_stats()
    x = T(np.ones((300, 500), np.float32), device)
    y = (x * 3).realize()
    now = dev.memory_stats()
    assert now["in_use_bytes"] - before["in_use_bytes"] == 2 * 300 * 500 * 4
    assert now["buffers"] - before["buffers"] == 2
    assert now["peak_in_use_bytes"] >= now["in_use_bytes"]
    del x, y
    gc.collect()
    after = dev.memory_stats()
    assert after["in_use_bytes"] == before["in_use_bytes"] and after["buffers"] == before["buffers"]
    assert after["peak_in_use_bytes"] - before["in_use_bytes"] >= 2 * 300 * 500 * 4
    dev.reset_peak_memory_stats()
    assert dev.memory_stats()["peak_in_use_bytes"] == after["in_use_bytes"]


def test_memory_stats_cpu_pool_and_borrowed_memory():
    dev = zyx.get_device("cpu")
    dev.backend.empty_cache()
    gc.collect()
    base = dev.memory_stats()
    x = (zyx.ones((256, 1024)) + 1).realize()  # 1 MiB: a pooled size
    del x
    gc.collect()
    assert dev.memory_stats()["cached_bytes"] >= base["cached_bytes"] + 256 * 1024 * 4
    dev.backend.empty_cache()
    assert dev.memory_stats()["cached_bytes"] == 0
    host = np.ones(1000, np.float32)
    t = xp.asarray(host)  # zero-copy: zyx borrows NumPy's memory
    assert dev.memory_stats()["borrowed_bytes"] == base["borrowed_bytes"] + 4000
    del t
    gc.collect()
    assert dev.memory_stats()["borrowed_bytes"] == base["borrowed_bytes"]


def test_progress_line_after_the_delay(monkeypatch, capsys):
    monkeypatch.setenv("ZYX_PROGRESS_AFTER", "0.05")
    with progress.compiling("cpu"):
        time.sleep(0.4)
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and err[0].startswith("zyx: compiling kernels for cpu") and "compiled for cpu in" in err[1]
    with progress.compiling("cpu"):  # quick: nothing
        pass
    time.sleep(0.15)
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("ZYX_PROGRESS", "0")
    with progress.compiling("cpu"):
        time.sleep(0.3)
    assert capsys.readouterr().err == ""


def test_realize_reports_compiles(monkeypatch):
    seen = []
    real = progress.compiling

    def spy(device):
        seen.append(device)
        return real(device)
    monkeypatch.setattr(progress, "compiling", spy)
    clear_cache()
    x = zyx.ones((7, 3))
    (x * 5 - 2).realize()
    assert seen == ["cpu"]
    (x * 5 - 2).realize()  # a schedule-cache hit compiles nothing
    assert seen == ["cpu"]


def test_progress_env_is_checked():
    import os
    os.environ["ZYX_PROGRESS_AFTER"] = "soon"
    try:
        with pytest.raises(ValueError, match="ZYX_PROGRESS_AFTER"):
            progress.delay()
    finally:
        del os.environ["ZYX_PROGRESS_AFTER"]
