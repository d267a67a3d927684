"""pytest configuration of the array API conformance suite.

* The suite's directory has a dash in its name, so it cannot be a package.
  Its modules are imported under a private synthetic package
  (``_zyx_array_api_tests``) whose ``__path__`` is this directory.  This keeps
  test-module names from clashing with same-named modules elsewhere in the
  repository (e.g. ``tests/test_linalg.py``) whatever ``--import-mode`` is in
  use, lets the helpers be imported relatively (``from ._common import ...``),
  and keeps pytest's assertion rewriting for tests and helpers.
* Registers the hypothesis settings profile ``array-api-tests``.
* Parametrizes every test that takes a ``dev`` argument over
  ``xp.__array_namespace_info__().devices()``.
* Marks known deviations of specific reference libraries (``_xfails.py``).
* Prints a per-section pass/fail table at the end of the run.
"""

from __future__ import annotations

import importlib
import re
import os
import sys
import types
from collections import defaultdict
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

HERE = Path(__file__).resolve().parent
PKG = "_zyx_array_api_tests"


def _install_package() -> None:
    mod = sys.modules.get(PKG)
    if mod is None:
        mod = types.ModuleType(PKG)
        mod.__path__ = [str(HERE)]
        mod.__package__ = PKG
        sys.modules[PKG] = mod


pytest.register_assert_rewrite(PKG)
_install_package()

# --------------------------------------------------------------------------
# hypothesis profile
# --------------------------------------------------------------------------

_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")
_MAX_EXAMPLES = int(os.environ.get("ARRAY_API_TESTS_MAX_EXAMPLES", "10"))
# hypothesis' deadline per example on the default device, as the official suite runs it
# (800 ms); "none" turns it off. Other devices (OpenCL's and WGPU's compilers take far longer
# than a C compiler for a first kernel) run without one.
_DEADLINE = os.environ.get("ARRAY_API_TESTS_DEADLINE", "800").strip().lower()
DEADLINE_MS = None if _DEADLINE in ("", "none", "0") else float(_DEADLINE)

settings.register_profile(
    "array-api-tests",
    max_examples=_MAX_EXAMPLES,
    deadline=None,
    derandomize=_CI,
    database=None if _CI else settings.default.database,
    print_blob=True,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
        HealthCheck.differing_executors,
    ],
)

# --------------------------------------------------------------------------
# collection of the suite's modules under the synthetic package
# --------------------------------------------------------------------------


class _SuiteModule(pytest.Module):
    def _getobj(self):
        name = f"{PKG}.{self.path.stem}"
        try:
            return importlib.import_module(name)
        except pytest.skip.Exception:
            raise
        except (SyntaxError, ImportError) as exc:
            raise self.CollectError(
                f"error importing {self.path.name} as {name}: {type(exc).__name__}: {exc}"
            ) from exc


def pytest_pycollect_makemodule(module_path, parent):
    path = Path(module_path)
    if path.parent.resolve() == HERE and path.name.startswith("test_"):
        return _SuiteModule.from_parent(parent, path=path)
    return None


def _common():
    return importlib.import_module(f"{PKG}._common")


def _explicitly_parametrized(metafunc, name):
    for mark in metafunc.definition.iter_markers("parametrize"):
        names = mark.args[0] if mark.args else mark.kwargs.get("argnames", "")
        if isinstance(names, str):
            names = [n.strip() for n in names.split(",")]
        if name in names:
            return True
    return False


def pytest_generate_tests(metafunc):
    if "dev" in metafunc.fixturenames and Path(str(metafunc.definition.path)).parent.resolve() == HERE:
        if _explicitly_parametrized(metafunc, "dev"):
            return
        c = _common()
        metafunc.parametrize("dev", c.DEVICES, ids=c.DEVICE_IDS)


def pytest_runtest_setup(item):
    """Per-device number of hypothesis examples (full on the default device,
    fewer on the others), scaled by the test's weight."""
    if not _in_suite(item):
        return
    fn = getattr(item, "obj", None)
    if fn is None or not hasattr(fn, "hypothesis") or not hasattr(fn, "_hypothesis_internal_use_settings"):
        return
    c = _common()
    callspec = getattr(item, "callspec", None)
    dev = callspec.params.get("dev", c.PRIMARY_DEVICE) if callspec is not None else c.PRIMARY_DEVICE
    n = c.examples_for(dev, getattr(fn, "_aat_weight", 1.0))
    deadline = DEADLINE_MS if dev == c.PRIMARY_DEVICE else None
    fn._hypothesis_internal_use_settings = settings(c.SETTINGS, max_examples=n, deadline=deadline)


def _in_suite(item) -> bool:
    try:
        return Path(str(item.path)).resolve().parent == HERE
    except Exception:
        return False


def pytest_collection_modifyitems(config, items):
    try:
        c = _common()
        xf = importlib.import_module(f"{PKG}._xfails")
    except BaseException:
        return
    table = xf.KNOWN_DEVIATIONS.get(c.MODULE_NAME, [])
    if not table:
        return
    compiled = [(re.compile(".*".join(map(re.escape, p.split("*"))) + r"\Z"), r) for p, r in table]
    for item in items:
        if not _in_suite(item):
            continue
        key = f"{Path(str(item.path)).stem}::{item.name}"
        for pattern, reason in compiled:
            if pattern.match(key):
                item.add_marker(pytest.mark.xfail(reason=f"known {c.MODULE_NAME} deviation: {reason}", strict=False))
                break


# --------------------------------------------------------------------------
# per-section summary table
# --------------------------------------------------------------------------

_OUTCOMES = ("passed", "failed", "skipped", "xfailed", "xpassed", "error")


def _section_of(nodeid: str) -> str | None:
    path = nodeid.split("::", 1)[0]
    p = Path(path)
    if p.name.startswith("test_") and p.suffix == ".py":
        try:
            if (Path(str(p)).resolve().parent == HERE) or p.parent.name == HERE.name:
                return p.stem[len("test_"):]
        except Exception:
            return None
    return None


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    counts: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(_OUTCOMES, 0))
    seen = set()
    for key, reports in terminalreporter.stats.items():
        for rep in reports:
            nodeid = getattr(rep, "nodeid", None)
            if not nodeid or not hasattr(rep, "outcome"):
                continue
            section = _section_of(nodeid)
            if section is None:
                continue
            when = getattr(rep, "when", None)
            if key == "xfailed":
                outcome = "xfailed"
            elif key == "xpassed":
                outcome = "xpassed"
            elif key == "error" or (getattr(rep, "failed", False) and when not in (None, "call")):
                outcome = "error"
            elif key in ("passed", "failed", "skipped"):
                outcome = key
            else:
                continue
            ident = (nodeid, outcome, when)
            if ident in seen:
                continue
            seen.add(ident)
            counts[section][outcome] += 1
    if not counts:
        return
    mod = os.environ.get("ARRAY_API_TESTS_MODULE", "zyx.array_api")
    tr = terminalreporter
    tr.write_sep("=", f"array API conformance by section ({mod})")
    cols = ("passed", "failed", "skipped", "xfailed")
    extra = [c for c in ("xpassed", "error") if any(v[c] for v in counts.values())]
    cols = cols + tuple(extra)
    w = max(len("section"), max(len(s) for s in counts)) + 1
    tr.write_line(f"{'section':<{w}}| " + " | ".join(f"{c:>7}" for c in cols))
    tr.write_line("-" * w + "+" + "-" * (10 * len(cols)))
    total = dict.fromkeys(cols, 0)
    for section in sorted(counts):
        row = counts[section]
        for c in cols:
            total[c] += row[c]
        tr.write_line(f"{section:<{w}}| " + " | ".join(f"{row[c]:>7}" for c in cols))
    tr.write_line("-" * w + "+" + "-" * (10 * len(cols)))
    tr.write_line(f"{'total':<{w}}| " + " | ".join(f"{total[c]:>7}" for c in cols))
