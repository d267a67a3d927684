"""Symbolic integer index expressions with range analysis and simplification.

Kernels index their buffers with expressions built from loop variables. Movement ops
(reshape, permute, slicing, padding) compose into these expressions as divisions,
modulos and affine sums; the rules here fold them back to the simplest form they allow,
using the known range of each variable (e.g. ``(i*8 + j) // 8 -> i`` when ``0 <= j < 8``).

Every expression is immutable and hashable. Build them with ``var``, ``num`` and the
operators ``+``, ``*`` (by an int), ``//`` and ``%`` (by a positive int).
"""
from __future__ import annotations



class Sym:
    __slots__ = ("__dict__",)
    vmin: int
    vmax: int

    # --- construction helpers -------------------------------------------------
    def __add__(self, other) -> "Sym":
        return add(self, _sym(other))

    __radd__ = __add__

    def __sub__(self, other) -> "Sym":
        return add(self, mul(_sym(other), -1))

    def __rsub__(self, other) -> "Sym":
        return add(_sym(other), mul(self, -1))

    def __neg__(self) -> "Sym":
        return mul(self, -1)

    def __mul__(self, other) -> "Sym":
        if isinstance(other, Sym):
            if isinstance(other, Num):
                return mul(self, other.v)
            if isinstance(self, Num):
                return mul(other, self.v)
            raise TypeError("only multiplication by a constant is supported in index expressions")
        return mul(self, int(other))

    __rmul__ = __mul__

    def __floordiv__(self, c: int) -> "Sym":
        return div(self, int(c))

    def __mod__(self, c: int) -> "Sym":
        return mod(self, int(c))

    def render(self, names=None) -> str:
        raise NotImplementedError

    def __repr__(self) -> str:
        return self.render()


class Num(Sym):
    def __init__(self, v: int):
        self.v = int(v)
        self.vmin = self.vmax = self.v

    def key(self):
        return ("n", self.v)

    def render(self, names=None) -> str:
        return str(self.v)


class Var(Sym):
    """A loop variable or a runtime value, with inclusive bounds [vmin, vmax]."""

    def __init__(self, name: str, vmin: int, vmax: int):
        self.name, self.vmin, self.vmax = name, int(vmin), int(vmax)

    def key(self):
        return ("v", self.name, self.vmin, self.vmax)

    def render(self, names=None) -> str:
        return self.name


class Sum(Sym):
    """const + sum(coef * term): terms are Var, Div or Mod nodes."""

    def __init__(self, terms: tuple, const: int):
        self.terms, self.const = terms, const  # terms: tuple[(Sym, int)], sorted by key
        lo = hi = const
        for t, c in terms:
            a, b = t.vmin * c, t.vmax * c
            lo += min(a, b)
            hi += max(a, b)
        self.vmin, self.vmax = lo, hi

    def key(self):
        return ("s", tuple((t.key(), c) for t, c in self.terms), self.const)

    def render(self, names=None) -> str:
        parts = []
        for t, c in self.terms:
            r = t.render()
            parts.append(r if c == 1 else f"{r}*{c}" if c > 0 else f"{r}*({c})")
        if self.const:
            parts.append(str(self.const))
        return "(" + " + ".join(parts) + ")"


class Div(Sym):
    def __init__(self, a: Sym, c: int):
        self.a, self.c = a, c
        self.vmin, self.vmax = a.vmin // c, a.vmax // c

    def key(self):
        return ("d", self.a.key(), self.c)

    def render(self, names=None) -> str:
        return f"({self.a.render()}/{self.c})"


class Mod(Sym):
    def __init__(self, a: Sym, c: int):
        self.a, self.c = a, c
        if a.vmin >= 0 and a.vmax - a.vmin < c and a.vmin % c <= a.vmax % c:
            self.vmin, self.vmax = a.vmin % c, a.vmax % c
        else:
            self.vmin, self.vmax = 0, c - 1

    def key(self):
        return ("m", self.a.key(), self.c)

    def render(self, names=None) -> str:
        return f"({self.a.render()}%{self.c})"


for _cls in (Num, Var, Sum, Div, Mod):
    _cls.__hash__ = lambda self: hash(self.key())  # type: ignore[assignment]
    _cls.__eq__ = lambda self, o: isinstance(o, Sym) and self.key() == o.key()  # type: ignore


def num(v: int) -> Num:
    return Num(v)


def var(name: str, vmin: int, vmax: int) -> Sym:
    if vmin == vmax:
        return Num(vmin)
    return Var(name, vmin, vmax)


def _sym(x) -> Sym:
    return x if isinstance(x, Sym) else Num(int(x))


def _as_terms(x: Sym) -> tuple[dict, int]:
    if isinstance(x, Num):
        return {}, x.v
    if isinstance(x, Sum):
        return {t: c for t, c in x.terms}, x.const
    return {x: 1}, 0


def _make_sum(terms: dict, const: int) -> Sym:
    items = [(t, c) for t, c in terms.items() if c != 0]
    if not items:
        return Num(const)
    if len(items) == 1 and const == 0 and items[0][1] == 1:
        return items[0][0]
    items.sort(key=lambda tc: repr(tc[0].key()))
    return Sum(tuple(items), const)


def _recombine(terms: dict):
    """Fold ``(x//s)*s + x%s -> x`` and ``((x//s)%n)*s + x%s -> x%(s*n)`` in place.
    Returns None when nothing changed, else the constant the fold released."""
    for t, c in list(terms.items()):
        if not isinstance(t, Mod):
            continue
        x, s = t.a, t.c
        d = div(x, s)
        if terms.get(d) == s * c:
            del terms[d], terms[t]
            xt, xc = _as_terms(x)
            for tt, cc in xt.items():
                terms[tt] = terms.get(tt, 0) + cc * c
            return xc * c
        for t2, c2 in list(terms.items()):
            if isinstance(t2, Mod) and isinstance(t2.a, Div) and t2.a.a == x and t2.a.c == s and c2 == s * c:
                del terms[t2], terms[t]
                m = mod(x, s * t2.c)
                terms[m] = terms.get(m, 0) + c
                return 0
    return None


def add(a: Sym, b: Sym) -> Sym:
    if isinstance(a, Num) and isinstance(b, Num):
        return Num(a.v + b.v)
    ta, ca = _as_terms(a)
    tb, cb = _as_terms(b)
    terms = dict(ta)
    for t, c in tb.items():
        terms[t] = terms.get(t, 0) + c
    terms = {t: c for t, c in terms.items() if c != 0}
    const = ca + cb
    while (released := _recombine(terms)) is not None:
        const += released
        terms = {t: c for t, c in terms.items() if c != 0}
    return _make_sum(terms, const)


def mul(a: Sym, c: int) -> Sym:
    if c == 0:
        return Num(0)
    if c == 1:
        return a
    if isinstance(a, Num):
        return Num(a.v * c)
    terms, const = _as_terms(a)
    return _make_sum({t: k * c for t, k in terms.items()}, const * c)


def div(a: Sym, c: int) -> Sym:
    """Floor division by a positive constant (operands of index expressions that reach a
    real memory access are never negative)."""
    if c <= 0:
        raise ValueError("index division by a non-positive constant")
    if c == 1:
        return a
    if isinstance(a, Num):
        return Num(a.v // c)
    if a.vmin >= 0 and a.vmax < c:
        return Num(0)
    if a.vmin // c == a.vmax // c:
        return Num(a.vmin // c)
    if isinstance(a, Div):
        return div(a.a, a.c * c)
    if isinstance(a, Mod) and a.c % c == 0 and a.a.vmin >= 0:
        return mod(div(a.a, c), a.c // c)
    terms, const = _as_terms(a)
    if len(terms) > 0 and (len(terms) > 1 or const != 0 or next(iter(terms.values())) != 1):
        # split into the part divisible by c and a remainder
        whole: dict = {}
        rest: dict = {}
        for t, k in terms.items():
            if k % c == 0:
                whole[t] = k // c
            else:
                rest[t] = k
        q, r = divmod(const, c)
        rem = _make_sum(rest, r)
        if whole and rem.vmin >= 0:
            return add(_make_sum(whole, q), div(rem, c))
        if not whole and rest != terms and rem.vmin >= 0:
            return add(Num(q), div(rem, c))
        # common factor: (a*g + b*g) // (c) with g | c
        from math import gcd
        g = c
        for k in terms.values():
            g = gcd(g, k)
        g = gcd(g, const)
        if g > 1 and a.vmin >= 0:
            return div(_make_sum({t: k // g for t, k in terms.items()}, const // g), c // g)
    return Div(a, c)


def mod(a: Sym, c: int) -> Sym:
    if c <= 0:
        raise ValueError("index modulo by a non-positive constant")
    if c == 1:
        return Num(0)
    if isinstance(a, Num):
        return Num(a.v % c)
    if a.vmin >= 0 and a.vmax < c:
        return a
    if isinstance(a, Mod) and a.c % c == 0:
        return mod(a.a, c)
    terms, const = _as_terms(a)
    if a.vmin >= 0 and (len(terms) > 1 or const != 0 or next(iter(terms.values())) != 1):
        reduced = {t: k % c for t, k in terms.items() if k % c}
        r = _make_sum(reduced, const % c)
        if r.vmin >= 0 and (reduced != terms or const % c != const):
            return mod(r, c)
        from math import gcd
        g = c
        for k in terms.values():
            g = gcd(g, k)
        g = gcd(g, const)
        if g > 1:
            return mul(mod(_make_sum({t: k // g for t, k in terms.items()}, const // g), c // g), g)
    if a.vmin >= 0 and a.vmin // c == a.vmax // c:
        return add(a, Num(-(a.vmin // c) * c))
    return Mod(a, c)


def substitute(e: Sym, mapping: dict) -> Sym:
    """Replace variables (by name) with expressions, re-simplifying."""
    if isinstance(e, Num):
        return e
    if isinstance(e, Var):
        return mapping.get(e.name, e)
    if isinstance(e, Sum):
        out: Sym = Num(e.const)
        for t, c in e.terms:
            out = add(out, mul(substitute(t, mapping), c))
        return out
    if isinstance(e, Div):
        return div(substitute(e.a, mapping), e.c)
    if isinstance(e, Mod):
        return mod(substitute(e.a, mapping), e.c)
    raise TypeError(e)


def variables(e: Sym) -> set[str]:
    if isinstance(e, Var):
        return {e.name}
    if isinstance(e, Sum):
        out: set[str] = set()
        for t, _ in e.terms:
            out |= variables(t)
        return out
    if isinstance(e, (Div, Mod)):
        return variables(e.a)
    return set()


def coef(e: Sym, name: str) -> int:
    """Coefficient of variable ``name`` in an affine index expression (0 if absent or not
    affine in it)."""
    if isinstance(e, Var):
        return 1 if e.name == name else 0
    if isinstance(e, Sum):
        return next((c for t, c in e.terms if isinstance(t, Var) and t.name == name), 0)
    return 0
