"""Loop-nest rewrites of the kernel IR that a renderer may apply before emitting code.

* ``split_by_divisor``: an innermost output loop indexed through ``g // c`` and ``g % c``
  becomes ``g = c*go + gi``, so the loop over ``go`` reads contiguously and ``gi`` can be
  unrolled (an upsampled gradient, a pooling backward).
* ``unroll_size``: how many steps a straight-line reduction nest has, for renderers that
  unroll small ones (a 2x2 pooling window) so the output loop vectorizes.

They know nothing of any language; the C renderer uses them today.
"""
from __future__ import annotations

from .ir import AccUpdate, Assign, Kernel, Loop, index_exprs, map_index_exprs
from .symbolic import Div, Mod, Sum, substitute, variables, var


def split_by_divisor(k: Kernel):
    """(kernel, c) with the innermost output loop ``g`` rewritten as ``g = c*go + gi`` when its
    indices use ``g // c`` or ``g % c`` (an upsampled gradient, a pooling backward): then the
    go loop reads contiguously and vectorizes, and the c values of gi are unrolled inside it
    (their stores interleave). None when that does not remove every div/mod of ``g``."""
    if not k.global_dims or any(isinstance(s, Loop) for s in k.body):
        return None
    v, n = k.global_dims[-1]
    divs = {d.c for d in _div_mods(k.body) if v.name in variables(d.a)}
    if len(divs) != 1:
        return None
    c = divs.pop()
    if c > 4 or n % c or n // c < 4:  # 7 steps of go still beat g // 2 (14-wide rows: 1.7x)
        return None
    go, gi = var(v.name + "o", 0, n // c - 1), var(v.name + "i", 0, c - 1)
    sub = {v.name: go * c + gi}
    body = [map_index_exprs(s, lambda e: substitute(e, sub)) for s in k.body]
    if any({go.name, gi.name} & variables(d.a) for d in _div_mods(body)):
        return None
    dims = list(k.global_dims[:-1]) + [(go, n // c), (gi, c)]
    return Kernel(k.name, k.params, dims, body, k.flops, k.mem_bytes, k.ops_summary, k.scalars), c


def _div_mods(stmts):
    """Every ``//`` and ``%`` node in the statements' index expressions."""
    stack = [e for s in stmts for e in index_exprs(s)]
    while stack:
        e = stack.pop()
        if isinstance(e, (Div, Mod)):
            yield e
            stack.append(e.a)
        elif isinstance(e, Sum):
            stack.extend(x for x, _ in e.terms)


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
