"""Loop-nest rewrites of the kernel IR that a renderer may apply before emitting code.

* ``split_by_divisor``: an innermost output loop indexed through ``g // c`` and ``g % c``
  becomes ``g = c*go + gi``, so the loop over ``go`` reads contiguously and ``gi`` can be
  unrolled (an upsampled gradient, a pooling backward).
* ``unroll_size``: how many steps a straight-line reduction nest has, for renderers that
  unroll small ones (a 2x2 pooling window) so the output loop vectorizes.

They know nothing of any language; the C renderer uses them today.
"""
from __future__ import annotations

from .ir import AccUpdate, Assign, Kernel, Loop, Store
from .symbolic import Div, Mod, Sum, substitute, variables, var


def split_by_divisor(k: Kernel):
    """(kernel, c) with the innermost output loop ``g`` rewritten as ``g = c*go + gi`` when its
    indices use ``g // c`` or ``g % c`` (an upsampled gradient, a pooling backward): then the
    go loop reads contiguously and vectorizes, and the c values of gi are unrolled inside it
    (their stores interleave). None when that does not remove every div/mod of ``g``."""
    if not k.global_dims or any(isinstance(s, Loop) for s in k.body):
        return None
    v, n = k.global_dims[-1]
    divs: set = set()

    def scan(e):
        if isinstance(e, (Div, Mod)):
            if v.name in variables(e.a):
                divs.add(e.c)
            scan(e.a)
        elif isinstance(e, Sum):
            for x, _ in e.terms:
                scan(x)
    syms = list(_syms(k.body))
    for e in syms:
        scan(e)
    if len(divs) != 1:
        return None
    c = divs.pop()
    if c > 4 or n % c or n // c < 8:
        return None
    go, gi = var(v.name + "o", 0, n // c - 1), var(v.name + "i", 0, c - 1)
    sub = {v.name: go * c + gi}
    body = [_subst_stmt(s, sub, substitute) for s in k.body]
    if any(go.name in variables(e) or gi.name in variables(e) for e in _div_mod_args(body)):
        return None
    dims = list(k.global_dims[:-1]) + [(go, n // c), (gi, c)]
    return Kernel(k.name, k.params, dims, body, k.flops, k.mem_bytes, k.ops_summary, k.scalars), c


def _syms(stmts):
    """Every index expression in statements (loads, gates, index values, stores)."""
    for s in stmts:
        if isinstance(s, Assign):
            if s.op == "LOAD":
                yield s.arg[1]
                for e, _, _ in s.arg[2] or ():
                    yield e
            elif s.op == "INDEX":
                yield s.arg
            elif s.op == "GATE":
                for e, _, _ in s.arg:
                    yield e
            elif s.op == "RAND":
                yield s.arg[2]
        elif isinstance(s, Store):
            yield s.index


def _div_mod_args(stmts):
    out = []

    def walk(e):
        if isinstance(e, (Div, Mod)):
            out.append(e.a)
            walk(e.a)
        elif isinstance(e, Sum):
            for x, _ in e.terms:
                walk(x)
    for e in _syms(stmts):
        walk(e)
    return out


def _subst_stmt(s, sub, substitute):
    if isinstance(s, Assign):
        if s.op == "LOAD":
            p, idx, gate = s.arg
            gate = tuple((substitute(e, sub), lo, hi) for e, lo, hi in gate) if gate else gate
            return Assign(s.name, s.dtype, s.op, s.srcs, (p, substitute(idx, sub), gate))
        if s.op == "INDEX":
            return Assign(s.name, s.dtype, s.op, s.srcs, substitute(s.arg, sub))
        if s.op == "GATE":
            return Assign(s.name, s.dtype, s.op, s.srcs, tuple((substitute(e, sub), lo, hi) for e, lo, hi in s.arg))
        if s.op == "RAND":
            return Assign(s.name, s.dtype, s.op, s.srcs, (s.arg[0], s.arg[1], substitute(s.arg[2], sub)))
        return s
    if isinstance(s, Store):
        return Store(s.param, substitute(s.index, sub), s.src, s.dtype)
    return s


def unroll_size(loop: Loop):
    """Steps of a loop nest whose bodies are straight-line (assignments and accumulator
    updates), or None."""
    n = 0
    for s in loop.body:
        if isinstance(s, Loop):
            inner = unroll_size(s)
            if inner is None:
                return None
            n += inner
        elif not isinstance(s, (Assign, AccUpdate)):
            return None
        elif isinstance(s, Assign) and s.op in ("BITCAST", "CLAMP"):
            return None
    return loop.size * max(n, 1)
