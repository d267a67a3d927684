"""The index-expression simplifier must never change a value: every rewrite is checked by
evaluating random expressions at every point of their variables' ranges."""
from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from zyx.kernels import symbolic as sym


def evaluate(e: sym.Sym, env: dict) -> int:
    if isinstance(e, sym.Num):
        return e.v
    if isinstance(e, sym.Var):
        return env[e.name]
    if isinstance(e, sym.Sum):
        return e.const + sum(c * evaluate(t, env) for t, c in e.terms)
    if isinstance(e, sym.Div):
        return evaluate(e.a, env) // e.c
    if isinstance(e, sym.Mod):
        return evaluate(e.a, env) % e.c
    raise TypeError(e)


VARS = {"i": (0, 5), "j": (0, 7), "k": (0, 3)}


@st.composite
def exprs(draw, depth=3):
    """Pairs (symbolic expression, python function of env) built the same way."""
    if depth == 0 or draw(st.booleans()):
        if draw(st.booleans()):
            name = draw(st.sampled_from(sorted(VARS)))
            lo, hi = VARS[name]
            return sym.var(name, lo, hi), (lambda env, n=name: env[n])
        c = draw(st.integers(0, 9))
        return sym.num(c), (lambda env, c=c: c)
    op = draw(st.sampled_from(["add", "mul", "div", "mod"]))
    a, fa = draw(exprs(depth=depth - 1))
    if op == "add":
        b, fb = draw(exprs(depth=depth - 1))
        return a + b, (lambda env: fa(env) + fb(env))
    c = draw(st.integers(1, 12))
    if op == "mul":
        return a * c, (lambda env: fa(env) * c)
    if op == "div":
        return a // c, (lambda env: fa(env) // c)
    return a % c, (lambda env: fa(env) % c)


@settings(max_examples=300, deadline=None)
@given(exprs())
def test_simplified_expression_keeps_its_value(pair):
    e, ref = pair
    names = sorted(VARS)
    for values in itertools.product(*[range(VARS[n][0], VARS[n][1] + 1) for n in names]):
        env = dict(zip(names, values))
        assert evaluate(e, env) == ref(env), (e, env)
        assert e.vmin <= ref(env) <= e.vmax, ("range analysis is wrong", e, env)


def test_reshape_round_trip_folds_to_the_variables():
    i, j = sym.var("i", 0, 9), sym.var("j", 0, 7)
    lin = i * 8 + j
    assert (lin // 8) == i
    assert (lin % 8) == j
    g = sym.var("g", 0, 1023)
    assert (g // 32) * 32 + g % 32 == g
    assert ((g // 32) % 4) * 32 + g % 32 == g % 128
    assert ((g // 32) % 4) * 32 + g % 32 + (g // 128) * 128 == g


def test_a_split_reduction_over_a_flattened_matrix_folds_back():
    """``(y // 64) * 64 + y % 64`` folds to ``y`` also when ``mod`` has reduced y's
    coefficients (``(g*500 + r) % 64`` is kept as ``(g*52 + r) % 64``): the index of a sum of
    a 4000 x 64 matrix cut into 512 chunks of 500 was a division and a modulo per element
    (120 us, 15 us without). Checked at every point too."""
    g, r = sym.var("g", 0, 511), sym.var("r", 0, 499)
    y = g * 500 + r
    e = (y // 64) * 64 + y % 64
    assert e == y
    assert ((y // 64) * 64 + y % 64) * 4 == y * 4
    for gv in range(0, 512, 37):
        for rv in range(0, 500, 23):
            assert evaluate(e, {"g": gv, "r": rv}) == gv * 500 + rv
    # not congruent: kept as it is (and still exact)
    odd = (y // 64) * 64 + (g * 53 + r) % 64
    assert odd != y
    for gv, rv in ((3, 7), (511, 499), (0, 0)):
        assert evaluate(odd, {"g": gv, "r": rv}) == (gv * 500 + rv) // 64 * 64 + (gv * 53 + rv) % 64


def test_substitute_and_variables():
    i, j = sym.var("i", 0, 9), sym.var("j", 0, 7)
    e = (i * 8 + j) // 4
    assert sym.variables(e) == {"i", "j"}
    out = sym.substitute(e, {"i": sym.num(2), "j": sym.num(5)})
    assert isinstance(out, sym.Num) and out.v == (2 * 8 + 5) // 4


# ---------------------------------------------------------------- parameters (generic kernels)
def evaluate_p(e, env: dict) -> int:
    """Like evaluate, with products and symbolic divisors."""
    if isinstance(e, int):
        return e
    if isinstance(e, sym.Num):
        return e.v
    if isinstance(e, sym.Var):
        return env[e.name]
    if isinstance(e, sym.Sum):
        return e.const + sum(c * evaluate_p(t, env) for t, c in e.terms)
    if isinstance(e, sym.Prod):
        out = 1
        for f in e.factors:
            out *= evaluate_p(f, env)
        return out
    if isinstance(e, sym.Div):
        return evaluate_p(e.a, env) // evaluate_p(e.c, env)
    if isinstance(e, sym.Mod):
        return evaluate_p(e.a, env) % evaluate_p(e.c, env)
    raise TypeError(e)


PARAMS = ("A", "B", "C")


@st.composite
def param_exprs(draw, depth=3):
    """Index-like expressions over loop variables whose extents are products of size
    parameters, with divisions and modulos by parameter products (as reshapes produce)."""
    P = {n: sym.param(n, 1) for n in PARAMS}
    ext = {"i": P["A"], "j": P["B"] * P["C"], "k": P["C"]}

    def divisor():
        names = draw(st.lists(st.sampled_from(PARAMS), min_size=1, max_size=2))
        out, f = sym.num(1), 1
        for n in names:
            out = out * P[n]
        k = draw(st.sampled_from([1, 1, 2]))
        return out * k, (lambda env, names=names, k=k: k * __import__("math").prod(env[n] for n in names))

    def go(d):
        if d == 0 or draw(st.booleans()):
            if draw(st.booleans()):
                name = draw(st.sampled_from(sorted(ext)))
                return sym.loop_var(name, ext[name]), (lambda env, n=name: env[n])
            if draw(st.booleans()):
                n = draw(st.sampled_from(PARAMS))
                return P[n], (lambda env, n=n: env[n])
            c = draw(st.integers(0, 5))
            return sym.num(c), (lambda env, c=c: c)
        op = draw(st.sampled_from(["add", "mul", "div", "mod"]))
        a, fa = go(d - 1)
        if op == "add":
            b, fb = go(d - 1)
            return a + b, (lambda env: fa(env) + fb(env))
        if op == "mul":
            b, fb = (divisor() if draw(st.booleans()) else go(d - 1))
            return a * b, (lambda env: fa(env) * fb(env))
        dv, fd = divisor()
        if op == "div":
            return a // dv, (lambda env: fa(env) // fd(env))
        return a % dv, (lambda env: fa(env) % fd(env))
    return go(depth)


@settings(max_examples=400, deadline=None)
@given(param_exprs(), st.lists(st.integers(1, 4), min_size=3, max_size=3))
def test_parameter_expressions_keep_their_value(pair, sizes):
    e, ref = pair
    env = dict(zip(PARAMS, sizes))
    ranges = {"i": env["A"], "j": env["B"] * env["C"], "k": env["C"]}
    for i in range(ranges["i"]):
        for j in range(ranges["j"]):
            for k in range(ranges["k"]):
                env.update(i=i, j=j, k=k)
                assert evaluate_p(e, env) == ref(env), (e, env)


def test_parameter_reshapes_fold():
    A, B, C = (sym.param(n, 1) for n in "ABC")
    g = sym.loop_var("g", A * B * C)
    i0, i1, i2 = (g // (B * C)) % A, (g // C) % B, g % C
    assert i0 * B * C + i1 * C + i2 == g  # flatten then linearize: the identity
    x, y = sym.loop_var("x", A), sym.loop_var("y", B)
    lin = x * B + y
    assert lin // B == x and lin % B == y  # unflatten of a linear index
    o = sym.param("o")
    assert (lin + o * B) // B == x + o  # a row offset
