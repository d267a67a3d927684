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


def test_substitute_and_variables():
    i, j = sym.var("i", 0, 9), sym.var("j", 0, 7)
    e = (i * 8 + j) // 4
    assert sym.variables(e) == {"i", "j"}
    out = sym.substitute(e, {"i": sym.num(2), "j": sym.num(5)})
    assert isinstance(out, sym.Num) and out.v == (2 * 8 + 5) // 4
