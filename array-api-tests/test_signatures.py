"""Signatures of every function/method of the standard (via inspect.signature).

Rules (from the standard's "Function and method signatures" section):

* parameters before ``/`` must be positional-only (their names are free);
* parameters between ``/`` and ``*`` (e.g. ``reshape(x, /, shape)``) must be
  positional-or-keyword with the standard's name;
* parameters after ``*`` must be keyword-only with the standard's name;
* defaults must equal the standard's defaults.  Where the standard's default
  is ``None`` a private sentinel object is accepted too (a common way to tell
  "not given" from ``None``);
* implementations may add parameters (gh-870) as long as they are optional.

A missing function fails.  A signature that cannot be introspected fails.
"""

from __future__ import annotations

import inspect

import pytest

from . import _spec
from ._common import xp

P = inspect.Parameter
_PLAIN_TYPES = (bool, int, float, complex, str, bytes, tuple, list, dict, set, frozenset)


def _is_sentinel(v) -> bool:
    return v is not None and not isinstance(v, _PLAIN_TYPES)


def _default_ok(spec_default, impl_default) -> bool:
    if spec_default is P.empty:
        return True
    if impl_default is P.empty:
        return False
    if spec_default is None:
        return impl_default is None or _is_sentinel(impl_default)
    if isinstance(spec_default, bool) or isinstance(impl_default, bool):
        return type(spec_default) is type(impl_default) and spec_default == impl_default
    if isinstance(spec_default, (int, float)) and isinstance(impl_default, (int, float)):
        return spec_default == impl_default
    return type(spec_default) is type(impl_default) and spec_default == impl_default


def signature_problems(impl_sig: inspect.Signature, spec_sig: inspect.Signature) -> list[str]:
    probs: list[str] = []
    impl = list(impl_sig.parameters.values())
    spec = list(spec_sig.parameters.values())
    positional = (P.POSITIONAL_ONLY, P.POSITIONAL_OR_KEYWORD)
    spec_pos = [p for p in spec if p.kind in positional]
    impl_pos = [p for p in impl if p.kind in positional]
    impl_var = [p for p in impl if p.kind == P.VAR_POSITIONAL]

    for i, sp in enumerate(spec_pos):
        if i >= len(impl_pos):
            probs.append(f"missing positional parameter #{i} ({sp.name})")
            continue
        ip = impl_pos[i]
        if sp.kind == P.POSITIONAL_ONLY and ip.kind != P.POSITIONAL_ONLY:
            probs.append(f"parameter #{i} ({ip.name}) must be positional-only")
        if sp.kind == P.POSITIONAL_OR_KEYWORD:
            if ip.kind != P.POSITIONAL_OR_KEYWORD:
                probs.append(f"parameter {sp.name!r} must be positional-or-keyword, is {ip.kind.description}")
            if ip.name != sp.name:
                probs.append(f"parameter #{i} must be named {sp.name!r}, is {ip.name!r}")
        if not _default_ok(sp.default, ip.default):
            probs.append(f"parameter {sp.name!r}: default {ip.default!r}, expected {sp.default!r}")
    for ip in impl_pos[len(spec_pos):]:
        if ip.default is P.empty:
            probs.append(f"extra required positional parameter {ip.name!r}")

    if any(p.kind == P.VAR_POSITIONAL for p in spec) and not impl_var:
        probs.append("must accept a variable number of positional arguments (*args)")

    for sp in spec:
        if sp.kind != P.KEYWORD_ONLY:
            continue
        ip = impl_sig.parameters.get(sp.name)
        if ip is None:
            probs.append(f"missing keyword-only parameter {sp.name!r}")
            continue
        if ip.kind != P.KEYWORD_ONLY:
            probs.append(f"parameter {sp.name!r} must be keyword-only, is {ip.kind.description}")
        if not _default_ok(sp.default, ip.default):
            probs.append(f"parameter {sp.name!r}: default {ip.default!r}, expected {sp.default!r}")
    spec_kw = {p.name for p in spec if p.kind == P.KEYWORD_ONLY}
    for ip in impl:
        if ip.kind == P.KEYWORD_ONLY and ip.name not in spec_kw and ip.default is P.empty:
            probs.append(f"extra required keyword-only parameter {ip.name!r}")
    return probs


def check_signature(obj, params: str, label: str):
    assert callable(obj), f"{label} is not callable"
    try:
        impl_sig = inspect.signature(obj)
    except (TypeError, ValueError) as exc:
        pytest.fail(f"{label}: signature cannot be introspected ({exc})")
    probs = signature_problems(impl_sig, _spec.parse(params))
    assert not probs, f"{label}{impl_sig} vs standard {params}:\n  " + "\n  ".join(probs)


# --------------------------------------------------------------------------
# a self-test of the checker, so that it cannot silently accept anything
# --------------------------------------------------------------------------


def test_checker_detects_deviations():
    def good(x, /, *, axis=None, keepdims=False): ...
    def not_posonly(x, *, axis=None, keepdims=False): ...
    def not_kwonly(x, /, axis=None, keepdims=False): ...
    def bad_default(x, /, *, axis=0, keepdims=False): ...
    def missing(x, /, *, axis=None): ...
    def extra_opt(x, /, *, axis=None, keepdims=False, out=None): ...
    def extra_req(x, /, *, axis=None, keepdims=False, out): ...

    spec = _spec.parse("(x, /, *, axis=None, keepdims=False)")
    assert signature_problems(inspect.signature(good), spec) == []
    assert signature_problems(inspect.signature(extra_opt), spec) == []
    for bad in (not_posonly, not_kwonly, bad_default, missing, extra_req):
        assert signature_problems(inspect.signature(bad), spec), bad.__name__

    def reshape_bad(x, /, *, shape, copy=None): ...
    def reshape_good(x, /, shape, *, copy=None): ...
    spec = _spec.parse("(x, /, shape, *, copy=None)")
    assert signature_problems(inspect.signature(reshape_good), spec) == []
    assert signature_problems(inspect.signature(reshape_bad), spec)


# --------------------------------------------------------------------------
# the namespace
# --------------------------------------------------------------------------

_MAIN = _spec.all_main_functions()


@pytest.mark.parametrize("name", sorted(_MAIN))
def test_function_signature(name):
    assert hasattr(xp, name), f"{xp.__name__}.{name} is missing"
    check_signature(getattr(xp, name), _MAIN[name], f"{name}")


@pytest.mark.parametrize("name", sorted(_spec.LINALG))
def test_linalg_signature(name):
    if not hasattr(xp, "linalg"):
        pytest.skip("namespace has no linalg extension")
    assert hasattr(xp.linalg, name), f"linalg.{name} is missing"
    check_signature(getattr(xp.linalg, name), _spec.LINALG[name], f"linalg.{name}")


@pytest.mark.parametrize("name", sorted(_spec.FFT))
def test_fft_signature(name):
    if not hasattr(xp, "fft"):
        pytest.skip("namespace has no fft extension")
    assert hasattr(xp.fft, name), f"fft.{name} is missing"
    check_signature(getattr(xp.fft, name), _spec.FFT[name], f"fft.{name}")


def _an_array():
    return xp.asarray([1.0, 2.0])


@pytest.mark.parametrize("name", sorted(_spec.ARRAY_METHODS))
def test_array_method_signature(name):
    x = _an_array()
    assert hasattr(x, name), f"array.{name} is missing"
    check_signature(getattr(x, name), _spec.ARRAY_METHODS[name], f"array.{name}")


@pytest.mark.parametrize("name", _spec.REFLECTED_METHODS + _spec.INPLACE_METHODS)
def test_array_operator_method_signature(name):
    x = _an_array()
    assert hasattr(x, name), f"array.{name} is missing"
    check_signature(getattr(x, name), "(other, /)", f"array.{name}")


@pytest.mark.parametrize("name", _spec.ARRAY_ATTRIBUTES)
def test_array_attribute_is_not_a_method(name):
    x = xp.asarray([[1.0, 2.0]])
    cls_attr = inspect.getattr_static(type(x), name, None)
    assert cls_attr is not None or hasattr(x, name), f"array.{name} is missing"
    val = getattr(x, name)
    assert not inspect.ismethod(val), f"array.{name} must be an attribute/property, not a method"


@pytest.mark.parametrize("name", sorted(_spec.INFO_METHODS))
def test_info_method_signature(name):
    assert hasattr(xp, "__array_namespace_info__"), "__array_namespace_info__ is missing"
    info = xp.__array_namespace_info__()
    assert hasattr(info, name), f"__array_namespace_info__().{name} is missing"
    check_signature(getattr(info, name), _spec.INFO_METHODS[name], f"info.{name}")


@pytest.mark.parametrize("name", _spec.CONSTANTS + tuple(_spec.DTYPE_NAMES))
def test_constant_and_dtype_names_exist(name):
    assert hasattr(xp, name), f"{xp.__name__}.{name} is missing"
