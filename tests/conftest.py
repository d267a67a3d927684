"""Shared fixtures: every device test runs on each device zyx finds (cpu, opencl, ...)."""
from __future__ import annotations

import os
import tempfile

import pytest

# an isolated kernel cache per test session unless the caller chose one
os.environ.setdefault("ZYX_CACHE_DIR", tempfile.mkdtemp(prefix="zyx-test-cache-"))

import zyx  # noqa: E402

DEVICES = [d.name for d in zyx.available_devices()]


def pytest_report_header(config):
    return f"zyx devices: {', '.join(DEVICES)}"


@pytest.fixture(params=DEVICES)
def device(request):
    """Name of a zyx device; tests using it run once per device found."""
    return request.param
