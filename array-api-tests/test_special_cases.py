"""Special cases (NaN, +-infinity, +-0, ...) that the standard lists per
elementwise function, written out as explicit input -> result tables.

For every function the whole table is evaluated in one call (per float dtype
and device).  Where the standard allows alternatives (e.g. floor_divide with
an infinite operand, signs that are "unspecified") any allowed result is
accepted.  Signed zeros and the sign bit of NaN are checked where the standard
states them.  Binary functions with an operator are checked through the
operator too.
"""

from __future__ import annotations

import math
import operator

import numpy as np
import pytest

from . import _common as C
from ._common import xp

INF = math.inf
NINF = -math.inf
NAN = math.nan
PZ = 0.0
NZ = -0.0
NNAN = float(np.copysign(np.nan, -1.0))  # NaN with the sign bit set
PI = math.pi


class Approx:
    def __init__(self, v):
        self.v = v

    def __repr__(self):
        return f"~{self.v:.6g}"


class Alt:
    def __init__(self, *opts):
        self.opts = opts

    def __repr__(self):
        return " or ".join(_tok_repr(o) for o in self.opts)


class NanSign:
    def __init__(self, bit):
        self.bit = bit

    def __repr__(self):
        return "-NaN" if self.bit else "+NaN"


class _Tok:
    def __init__(self, r):
        self.r = r

    def __repr__(self):
        return self.r


ANYZ = _Tok("+-0")  # a zero of either sign (sign unspecified)
AINF = _Tok("+-inf")  # an infinity of either sign


class Next:
    """nextafter(a, b) computed in the tested dtype."""

    def __init__(self, a, b):
        self.a, self.b = a, b

    def __repr__(self):
        return f"nextafter({self.a}, {self.b})"


def _tok_repr(t):
    if isinstance(t, float):
        if math.isnan(t):
            return "NaN"
        if t == 0:
            return "-0" if math.copysign(1, t) < 0 else "+0"
    return repr(t)


def _match(got, tok, dt) -> bool:
    if isinstance(tok, Alt):
        return any(_match(got, o, dt) for o in tok.opts)
    if isinstance(tok, (bool, np.bool_)):
        return isinstance(got, (bool, np.bool_)) and bool(got) == bool(tok)
    got = float(got)
    if tok is ANYZ:
        return got == 0
    if tok is AINF:
        return math.isinf(got)
    if isinstance(tok, NanSign):
        return math.isnan(got) and bool(np.signbit(got)) == tok.bit
    if isinstance(tok, Approx):
        eps = C.EPS[C.REAL_OF[dt]]
        return math.isfinite(got) and abs(got - tok.v) <= 4 * eps * max(1.0, abs(tok.v))
    if isinstance(tok, Next):
        t = np.dtype(C.REAL_OF[dt]).type
        exp = float(np.nextafter(t(tok.a), t(tok.b)))
        return got == exp and (exp != 0 or np.signbit(got) == np.signbit(exp))
    tok = float(tok)
    if math.isnan(tok):
        return math.isnan(got)
    if tok == 0:
        return got == 0 and bool(np.signbit(got)) == bool(np.signbit(tok))
    return got == tok


# --------------------------------------------------------------------------
# real-valued tables
# --------------------------------------------------------------------------

_ROUNDING = [(INF, INF), (NINF, NINF), (PZ, PZ), (NZ, NZ), (NAN, NAN), (3.0, 3.0), (-4.0, -4.0)]
_LOG = [(NAN, NAN), (-1.0, NAN), (NINF, NAN), (PZ, NINF), (NZ, NINF), (1.0, PZ), (INF, INF)]

UNARY = {
    "abs": [(NAN, NAN), (NZ, PZ), (NINF, INF), (PZ, PZ), (INF, INF), (-2.5, 2.5)],
    "acos": [(NAN, NAN), (1.5, NAN), (INF, NAN), (-1.5, NAN), (NINF, NAN), (1.0, PZ)],
    "acosh": [(NAN, NAN), (0.5, NAN), (PZ, NAN), (-2.0, NAN), (NINF, NAN), (1.0, PZ), (INF, INF)],
    "asin": [(NAN, NAN), (1.5, NAN), (-1.5, NAN), (INF, NAN), (NINF, NAN), (PZ, PZ), (NZ, NZ)],
    "asinh": [(NAN, NAN), (PZ, PZ), (NZ, NZ), (INF, INF), (NINF, NINF)],
    "atan": [(NAN, NAN), (PZ, PZ), (NZ, NZ), (INF, Approx(PI / 2)), (NINF, Approx(-PI / 2))],
    "atanh": [(NAN, NAN), (-1.5, NAN), (NINF, NAN), (1.5, NAN), (INF, NAN), (-1.0, NINF), (1.0, INF), (PZ, PZ), (NZ, NZ)],
    "ceil": _ROUNDING,
    "cos": [(NAN, NAN), (PZ, 1.0), (NZ, 1.0), (INF, NAN), (NINF, NAN)],
    "cosh": [(NAN, NAN), (PZ, 1.0), (NZ, 1.0), (INF, INF), (NINF, INF)],
    "exp": [(NAN, NAN), (PZ, 1.0), (NZ, 1.0), (INF, INF), (NINF, PZ)],
    "expm1": [(NAN, NAN), (PZ, PZ), (NZ, NZ), (INF, INF), (NINF, -1.0)],
    "floor": _ROUNDING,
    "isfinite": [(INF, False), (NINF, False), (NAN, False), (PZ, True), (NZ, True), (1e30, True)],
    "isinf": [(INF, True), (NINF, True), (NAN, False), (PZ, False), (-1e30, False)],
    "isnan": [(NAN, True), (NNAN, True), (INF, False), (NINF, False), (PZ, False), (1.0, False)],
    "log": _LOG,
    "log1p": [(NAN, NAN), (-2.0, NAN), (NINF, NAN), (-1.0, NINF), (NZ, NZ), (PZ, PZ), (INF, INF)],
    "log2": _LOG,
    "log10": _LOG,
    "negative": [(PZ, NZ), (NZ, PZ), (INF, NINF), (NINF, INF), (NAN, NAN)],
    "positive": [(PZ, PZ), (NZ, NZ), (INF, INF), (NINF, NINF), (NAN, NAN)],
    "reciprocal": [(NAN, NAN), (PZ, INF), (NZ, NINF), (INF, PZ), (NINF, NZ), (2.0, 0.5), (-4.0, -0.25)],
    "round": _ROUNDING
    + [(0.5, PZ), (1.5, 2.0), (2.5, 2.0), (3.5, 4.0), (-0.5, ANYZ), (-1.5, -2.0), (-2.5, -2.0), (-3.5, -4.0)],
    "sign": [(-2.0, -1.0), (NZ, ANYZ), (PZ, ANYZ), (3.0, 1.0), (NAN, NAN), (INF, 1.0), (NINF, -1.0)],
    "signbit": [(PZ, False), (NZ, True), (INF, False), (NINF, True), (1.0, False), (-1.0, True), (NAN, False), (NNAN, True)],
    "sin": [(NAN, NAN), (PZ, PZ), (NZ, NZ), (INF, NAN), (NINF, NAN)],
    "sinh": [(NAN, NAN), (PZ, PZ), (NZ, NZ), (INF, INF), (NINF, NINF)],
    "sqrt": [(NAN, NAN), (-1.0, NAN), (NINF, NAN), (PZ, PZ), (NZ, NZ), (INF, INF), (4.0, 2.0)],
    "square": [(NAN, NAN), (PZ, PZ), (NZ, PZ), (INF, INF), (NINF, INF), (-3.0, 9.0)],
    "tan": [(NAN, NAN), (PZ, PZ), (NZ, NZ), (INF, NAN), (NINF, NAN)],
    "tanh": [(NAN, NAN), (PZ, PZ), (NZ, NZ), (INF, 1.0), (NINF, -1.0)],
    "trunc": _ROUNDING,
}


def _add_cases():
    c = [
        (NAN, 1.0, NAN), (1.0, NAN, NAN), (NAN, NAN, NAN),
        (INF, NINF, NAN), (NINF, INF, NAN), (INF, INF, INF), (NINF, NINF, NINF),
        (INF, 2.0, INF), (NINF, 2.0, NINF), (2.0, INF, INF), (2.0, NINF, NINF),
        (NZ, NZ, NZ), (NZ, PZ, PZ), (PZ, NZ, PZ), (PZ, PZ, PZ),
        (PZ, 3.0, 3.0), (NZ, -3.0, -3.0), (3.0, NZ, 3.0), (-3.0, PZ, -3.0),
        (2.5, -2.5, PZ), (-2.5, 2.5, PZ),
    ]
    return c


def _sub_cases():
    return [
        (NAN, 1.0, NAN), (1.0, NAN, NAN), (INF, INF, NAN), (NINF, NINF, NAN),
        (INF, NINF, INF), (NINF, INF, NINF), (INF, 2.0, INF), (2.0, INF, NINF),
        (NZ, PZ, NZ), (NZ, NZ, PZ), (PZ, PZ, PZ), (PZ, NZ, PZ),
        (2.5, 2.5, PZ), (PZ, 3.0, -3.0), (3.0, PZ, 3.0),
    ]


def _mul_cases():
    return [
        (NAN, 1.0, NAN), (1.0, NAN, NAN), (INF, PZ, NAN), (NINF, NZ, NAN), (PZ, INF, NAN), (NZ, NINF, NAN),
        (INF, INF, INF), (INF, NINF, NINF), (NINF, NINF, INF), (INF, 2.0, INF), (INF, -2.0, NINF),
        (-2.0, INF, NINF), (PZ, NZ, NZ), (NZ, NZ, PZ), (PZ, -3.0, NZ), (NZ, 3.0, NZ), (2.0, -3.0, -6.0),
    ]


def _div_cases(floor: bool):
    c = [
        (NAN, 1.0, NAN), (1.0, NAN, NAN),
        (INF, INF, NAN), (INF, NINF, NAN), (NINF, INF, NAN), (NINF, NINF, NAN),
        (PZ, PZ, NAN), (PZ, NZ, NAN), (NZ, PZ, NAN), (NZ, NZ, NAN),
        (PZ, 2.0, PZ), (NZ, 2.0, NZ), (PZ, -2.0, NZ), (NZ, -2.0, PZ),
        (2.0, PZ, INF), (2.0, NZ, NINF), (-2.0, PZ, NINF), (-2.0, NZ, INF),
        (2.0, INF, PZ), (-2.0, NINF, PZ),
    ]
    if floor:
        # the standard allows Python's behaviour as an alternative here
        c += [
            (INF, 2.0, Alt(INF, NAN)), (INF, -2.0, Alt(NINF, NAN)),
            (NINF, 2.0, Alt(NINF, NAN)), (NINF, -2.0, Alt(INF, NAN)),
            (2.0, NINF, Alt(NZ, -1.0)), (-2.0, INF, Alt(NZ, -1.0)),
            (7.0, 2.0, 3.0), (-7.0, 2.0, -4.0), (7.0, -2.0, -4.0), (-7.0, -2.0, 3.0),
        ]
    else:
        c += [
            (INF, 2.0, INF), (INF, -2.0, NINF), (NINF, 2.0, NINF), (NINF, -2.0, INF),
            (2.0, NINF, NZ), (-2.0, INF, NZ), (3.0, -2.0, -1.5), (-3.0, -4.0, 0.75),
        ]
    return c


def _rem_cases():
    return [
        (NAN, 1.0, NAN), (1.0, NAN, NAN),
        (INF, INF, NAN), (NINF, INF, NAN), (INF, NINF, NAN),
        (PZ, PZ, NAN), (NZ, NZ, NAN), (PZ, NZ, NAN),
        (PZ, 2.0, PZ), (NZ, 2.0, PZ), (PZ, -2.0, NZ), (NZ, -2.0, NZ),
        (2.0, PZ, NAN), (2.0, NZ, NAN), (-2.0, PZ, NAN), (-2.0, NZ, NAN),
        (INF, 2.0, NAN), (INF, -2.0, NAN), (NINF, 2.0, NAN), (NINF, -2.0, NAN),
        (2.0, INF, 2.0), (2.0, NINF, NINF), (-2.0, INF, INF), (-2.0, NINF, -2.0),
        (5.0, 3.0, 2.0), (-5.0, 3.0, 1.0), (5.0, -3.0, -1.0), (-5.0, -3.0, -2.0),
        (6.0, -3.0, NZ), (-6.0, 3.0, PZ),
    ]


def _pow_cases():
    return [
        (2.0, NAN, NAN), (NAN, NAN, NAN),
        (NAN, PZ, 1.0), (NAN, NZ, 1.0), (3.0, PZ, 1.0), (INF, NZ, 1.0),
        (NAN, 2.0, NAN), (NAN, -1.0, NAN),
        (2.0, INF, INF), (-2.0, INF, INF), (2.0, NINF, PZ), (-2.0, NINF, PZ),
        (1.0, INF, 1.0), (-1.0, INF, 1.0), (1.0, NINF, 1.0), (-1.0, NINF, 1.0),
        (1.0, NAN, 1.0), (1.0, 5.5, 1.0),
        (0.5, INF, PZ), (-0.5, INF, PZ), (0.5, NINF, INF), (-0.5, NINF, INF),
        (INF, 2.0, INF), (INF, 0.5, INF), (INF, -2.0, PZ), (INF, -0.5, PZ),
        (NINF, 3.0, NINF), (NINF, 2.0, INF), (NINF, 2.5, INF),
        (NINF, -3.0, NZ), (NINF, -2.0, PZ), (NINF, -2.5, PZ),
        (PZ, 2.0, PZ), (PZ, 0.5, PZ), (PZ, -2.0, INF), (PZ, -0.5, INF),
        (NZ, 3.0, NZ), (NZ, 2.0, PZ), (NZ, 2.5, PZ),
        (NZ, -3.0, NINF), (NZ, -2.0, INF), (NZ, -2.5, INF),
        (-2.0, 0.5, NAN), (-3.0, -1.5, NAN),
        (-2.0, 3.0, Approx(-8.0)), (2.0, -2.0, Approx(0.25)),
    ]


def _atan2_cases():
    return [
        (NAN, 1.0, NAN), (1.0, NAN, NAN),
        (2.0, PZ, Approx(PI / 2)), (2.0, NZ, Approx(PI / 2)),
        (PZ, 2.0, PZ), (PZ, PZ, PZ), (PZ, NZ, Approx(PI)), (PZ, -2.0, Approx(PI)),
        (NZ, 2.0, NZ), (NZ, PZ, NZ), (NZ, NZ, Approx(-PI)), (NZ, -2.0, Approx(-PI)),
        (-2.0, PZ, Approx(-PI / 2)), (-2.0, NZ, Approx(-PI / 2)),
        (2.0, INF, PZ), (2.0, NINF, Approx(PI)), (-2.0, INF, NZ), (-2.0, NINF, Approx(-PI)),
        (INF, 2.0, Approx(PI / 2)), (NINF, 2.0, Approx(-PI / 2)),
        (INF, INF, Approx(PI / 4)), (INF, NINF, Approx(3 * PI / 4)),
        (NINF, INF, Approx(-PI / 4)), (NINF, NINF, Approx(-3 * PI / 4)),
    ]


def _copysign_cases():
    return [
        (2.0, -1.0, -2.0), (2.0, NZ, -2.0), (-2.0, PZ, 2.0), (-2.0, 3.0, 2.0),
        (2.0, NNAN, -2.0), (-2.0, NAN, 2.0), (INF, -1.0, NINF), (NINF, PZ, INF),
        (PZ, -1.0, NZ), (NZ, 1.0, PZ),
        (NAN, -1.0, NanSign(True)), (NAN, NZ, NanSign(True)), (NNAN, PZ, NanSign(False)),
        (NNAN, 1.0, NanSign(False)), (NAN, NNAN, NanSign(True)), (NNAN, NAN, NanSign(False)),
    ]


def _hypot_cases():
    return [
        (INF, NAN, INF), (NINF, NAN, INF), (NAN, INF, INF), (NAN, NINF, INF), (INF, 2.0, INF), (2.0, NINF, INF),
        (PZ, -3.0, 3.0), (NZ, 3.0, 3.0), (-3.0, PZ, 3.0), (3.0, NZ, 3.0), (PZ, NZ, PZ), (NZ, NZ, PZ),
        (2.0, NAN, NAN), (NAN, 2.0, NAN), (NAN, NAN, NAN), (3.0, 4.0, Approx(5.0)), (-3.0, -4.0, Approx(5.0)),
    ]


def _cmp_cases(op):
    vals = [NAN, INF, NINF, PZ, NZ, 1.0, -1.0]
    out = []
    for a in vals:
        for b in vals:
            out.append((a, b, bool(op(a, b))))  # Python floats follow IEEE 754 here
    return out


BINARY = {
    "add": _add_cases(),
    "subtract": _sub_cases(),
    "multiply": _mul_cases(),
    "divide": _div_cases(floor=False),
    "floor_divide": _div_cases(floor=True),
    "remainder": _rem_cases(),
    "pow": _pow_cases(),
    "atan2": _atan2_cases(),
    "copysign": _copysign_cases(),
    "hypot": _hypot_cases(),
    "nextafter": [(NAN, 1.0, NAN), (1.0, NAN, NAN), (NZ, PZ, PZ), (PZ, NZ, NZ), (1.0, 1.0, 1.0),
                  (1.0, 2.0, Next(1.0, 2.0)), (1.0, NINF, Next(1.0, -1.0)), (PZ, 1.0, Next(0.0, 1.0))],
    "maximum": [(NAN, 1.0, NAN), (1.0, NAN, NAN), (NAN, NAN, NAN), (INF, NAN, NAN), (1.0, 2.0, 2.0), (NINF, INF, INF), (-3.0, NINF, -3.0)],
    "minimum": [(NAN, 1.0, NAN), (1.0, NAN, NAN), (NAN, NAN, NAN), (NINF, NAN, NAN), (1.0, 2.0, 1.0), (NINF, INF, NINF), (-3.0, INF, -3.0)],
    "logaddexp": [(NAN, 1.0, NAN), (1.0, NAN, NAN), (NAN, INF, NAN), (INF, 1.0, INF), (1.0, INF, INF), (INF, NINF, INF), (NINF, INF, INF), (INF, INF, INF)],
    "equal": _cmp_cases(operator.eq),
    "not_equal": _cmp_cases(operator.ne),
    "less": _cmp_cases(operator.lt),
    "less_equal": _cmp_cases(operator.le),
    "greater": _cmp_cases(operator.gt),
    "greater_equal": _cmp_cases(operator.ge),
}

OPERATORS = {
    "add": operator.add, "subtract": operator.sub, "multiply": operator.mul, "divide": operator.truediv,
    "floor_divide": operator.floordiv, "remainder": operator.mod, "pow": operator.pow,
    "equal": operator.eq, "not_equal": operator.ne, "less": operator.lt, "less_equal": operator.le,
    "greater": operator.gt, "greater_equal": operator.ge,
}
UNARY_OPERATORS = {"abs": abs, "negative": operator.neg, "positive": operator.pos}


def _report(name, dt, inputs, got, toks):
    bad = []
    for i, tok in enumerate(toks):
        if not _match(got[i], tok, dt):
            args = ", ".join(_tok_repr(float(a[i])) for a in inputs)
            bad.append(f"  {name}({args}) = {_tok_repr(float(got[i])) if got.dtype.kind != 'b' else bool(got[i])}, expected {_tok_repr(tok)}")
    return bad


def _sc_cases(names, dtypes, other):
    cases = [(n, d) for n in names for d in dtypes]
    return C.device_cases(cases, lambda c: c[1] == other, ids=[f"{n}-{d}" for n, d in cases])


@pytest.mark.parametrize("dev, name, dt", _sc_cases(sorted(UNARY), C.RFLOAT, "float32"))
def test_unary_special_cases(dev, name, dt):
    C.require_dtypes(dev, dt)
    cases = UNARY[name]
    x = np.asarray([c[0] for c in cases], dtype=dt)
    toks = [c[1] for c in cases]
    funcs = [(name, getattr(xp, name))]
    if name in UNARY_OPERATORS and C.is_primary(dev):
        funcs.append((f"operator {name}", UNARY_OPERATORS[name]))
    bad = []
    for label, f in funcs:
        res = f(C.to_xp(x, dev))
        want = "bool" if isinstance(toks[0], bool) else dt
        C.assert_dtype(res, want, label)
        C.assert_shape(res, x.shape, label)
        bad += _report(label, dt, [x], C.to_np(res), toks)
    assert not bad, f"{len(bad)} special case(s) violated ({dt}):\n" + "\n".join(bad)


@pytest.mark.parametrize("dev, name, dt", _sc_cases(sorted(BINARY), C.RFLOAT, "float32"))
def test_binary_special_cases(dev, name, dt):
    C.require_dtypes(dev, dt)
    cases = BINARY[name]
    x1 = np.asarray([c[0] for c in cases], dtype=dt)
    x2 = np.asarray([c[1] for c in cases], dtype=dt)
    toks = [c[2] for c in cases]
    funcs = [(name, getattr(xp, name))]
    if name in OPERATORS and C.is_primary(dev):
        funcs.append((f"operator {name}", OPERATORS[name]))
    bad = []
    for label, f in funcs:
        res = f(C.to_xp(x1, dev), C.to_xp(x2, dev))
        want = "bool" if isinstance(toks[0], bool) else dt
        C.assert_dtype(res, want, label)
        C.assert_shape(res, x1.shape, label)
        bad += _report(label, dt, [x1, x2], C.to_np(res), toks)
    assert not bad, f"{len(bad)} special case(s) violated ({dt}):\n" + "\n".join(bad)


def test_in_place_special_cases(dev):
    """In-place operators follow the same special cases."""
    dt = C.dtypes_on(dev, C.RFLOAT)
    if not dt:
        pytest.skip("no real floating dtype")
    dt = dt[0]
    x = C.to_xp(np.asarray([NZ, 2.0, INF, 2.0], dtype=dt), dev)
    x += C.to_xp(np.asarray([NZ, NINF, NINF, NAN], dtype=dt), dev)
    got = C.to_np(x)
    bad = _report("x += y", dt, [np.asarray([NZ, 2.0, INF, 2.0]), np.asarray([NZ, NINF, NINF, NAN])], got, [NZ, NINF, NAN, NAN])
    y = C.to_xp(np.asarray([PZ, -2.0, 2.0], dtype=dt), dev)
    y /= C.to_xp(np.asarray([-2.0, PZ, NINF], dtype=dt), dev)
    bad += _report("x /= y", dt, [np.asarray([PZ, -2.0, 2.0]), np.asarray([-2.0, PZ, NINF])], C.to_np(y), [NZ, NINF, NZ])
    assert not bad, "\n".join(bad)


# --------------------------------------------------------------------------
# complex special cases (a selection where the standard fixes the result)
# --------------------------------------------------------------------------

C_UNARY = {
    "abs": [((INF, NAN), INF), ((NAN, NINF), INF), ((PZ, -3.0), 3.0), ((-4.0, NZ), 4.0), ((NAN, 1.0), NAN), ((NAN, NAN), NAN)],
    "isnan": [((NAN, 1.0), True), ((1.0, NAN), True), ((INF, 1.0), False), ((1.0, 2.0), False)],
    "isinf": [((INF, NAN), True), ((NAN, NINF), True), ((1.0, INF), True), ((NAN, 1.0), False), ((1.0, 2.0), False)],
    "isfinite": [((NAN, 1.0), False), ((1.0, INF), False), ((INF, 1.0), False), ((1.0, 2.0), True)],
    "exp": [
        ((PZ, PZ), (1.0, PZ)), ((NZ, PZ), (1.0, PZ)), ((2.0, INF), (NAN, NAN)), ((2.0, NAN), (NAN, NAN)),
        ((INF, PZ), (INF, PZ)), ((NAN, PZ), (NAN, PZ)), ((NAN, 2.0), (NAN, NAN)), ((NAN, NAN), (NAN, NAN)),
        ((NINF, INF), (ANYZ, ANYZ)), ((NINF, NAN), (ANYZ, ANYZ)), ((INF, INF), (AINF, NAN)), ((INF, NAN), (AINF, NAN)),
    ],
    "log": [
        ((NZ, PZ), (NINF, Approx(PI))), ((PZ, PZ), (NINF, PZ)), ((2.0, INF), (INF, Approx(PI / 2))),
        ((2.0, NAN), (NAN, NAN)), ((NINF, 2.0), (INF, Approx(PI))), ((INF, 2.0), (INF, PZ)),
        ((NINF, INF), (INF, Approx(3 * PI / 4))), ((INF, INF), (INF, Approx(PI / 4))),
        ((INF, NAN), (INF, NAN)), ((NINF, NAN), (INF, NAN)), ((NAN, 2.0), (NAN, NAN)),
        ((NAN, INF), (INF, NAN)), ((NAN, NAN), (NAN, NAN)),
    ],
    "sqrt": [
        ((PZ, PZ), (PZ, PZ)), ((NZ, PZ), (PZ, PZ)), ((2.0, INF), (INF, INF)), ((NAN, INF), (INF, INF)),
        ((2.0, NAN), (NAN, NAN)), ((NINF, 2.0), (PZ, INF)), ((INF, 2.0), (INF, PZ)),
        ((NINF, NAN), (NAN, AINF)), ((INF, NAN), (INF, NAN)), ((NAN, 2.0), (NAN, NAN)), ((NAN, NAN), (NAN, NAN)),
    ],
    "cosh": [((PZ, PZ), (1.0, PZ)), ((INF, PZ), (INF, PZ)), ((2.0, INF), (NAN, NAN)), ((NAN, 2.0), (NAN, NAN)), ((NAN, NAN), (NAN, NAN))],
    "sinh": [((PZ, PZ), (PZ, PZ)), ((INF, PZ), (INF, PZ)), ((2.0, INF), (NAN, NAN)), ((NAN, PZ), (NAN, PZ)), ((NAN, NAN), (NAN, NAN))],
    "tanh": [((PZ, PZ), (PZ, PZ)), ((INF, 2.0), (1.0, ANYZ)), ((2.0, INF), (NAN, NAN)), ((NAN, PZ), (NAN, PZ)), ((NAN, NAN), (NAN, NAN))],
    "acosh": [((PZ, PZ), (PZ, Approx(PI / 2))), ((2.0, INF), (INF, Approx(PI / 2))), ((INF, 2.0), (INF, PZ)), ((NAN, NAN), (NAN, NAN))],
    "asinh": [((PZ, PZ), (PZ, PZ)), ((2.0, INF), (INF, Approx(PI / 2))), ((INF, 2.0), (INF, PZ)), ((NAN, PZ), (NAN, PZ)), ((NAN, NAN), (NAN, NAN))],
    "atanh": [((PZ, PZ), (PZ, PZ)), ((PZ, NAN), (PZ, NAN)), ((1.0, PZ), (INF, PZ)), ((INF, 2.0), (PZ, Approx(PI / 2))), ((NAN, NAN), (NAN, NAN))],
    "sign": [((PZ, PZ), (ANYZ, ANYZ)), ((NZ, NZ), (ANYZ, ANYZ)), ((NAN, 1.0), (NAN, NAN)), ((3.0, 4.0), (Approx(0.6), Approx(0.8)))],
}


@pytest.mark.parametrize("dev, name, dt", _sc_cases(sorted(C_UNARY), C.CFLOAT, "complex64"))
def test_complex_special_cases(dev, name, dt):
    C.require_dtypes(dev, dt)
    cases = C_UNARY[name]
    x = np.asarray([complex(*c[0]) for c in cases], dtype=dt)
    # complex(a, b) with special components: build componentwise to keep them
    x.real = [c[0][0] for c in cases]
    x.imag = [c[0][1] for c in cases]
    res = getattr(xp, name)(C.to_xp(x, dev))
    got = C.to_np(res)
    bad = []
    for i, (inp, tok) in enumerate(cases):
        arg = f"{_tok_repr(inp[0])}{'+' if True else ''}{_tok_repr(inp[1])}j"
        if isinstance(tok, tuple):
            if got.dtype.kind != "c":
                bad.append(f"  {name}({arg}): result is not complex ({got.dtype})")
                continue
            ok = _match(got[i].real, tok[0], dt) and _match(got[i].imag, tok[1], dt)
            shown = f"{_tok_repr(float(got[i].real))} + {_tok_repr(float(got[i].imag))}j"
            want = f"{_tok_repr(tok[0])} + {_tok_repr(tok[1])}j"
        else:
            if got.dtype.kind == "c":
                bad.append(f"  {name}({arg}): result must be real, got {got.dtype}")
                continue
            ok = _match(got[i], tok, dt)
            shown = repr(got[i])
            want = _tok_repr(tok)
        if not ok:
            bad.append(f"  {name}({arg}) = {shown}, expected {want}")
    assert not bad, f"{len(bad)} complex special case(s) violated ({dt}):\n" + "\n".join(bad)
