"""Symbolic integer index expressions with range analysis and simplification.

Kernels index their buffers with expressions built from loop variables. Movement ops
(reshape, permute, slicing, padding) compose into these expressions as divisions,
modulos and affine sums; the rules here fold them back to the simplest form they allow,
using the known range of each variable (e.g. ``(i*8 + j) // 8 -> i`` when ``0 <= j < 8``).

Every expression is immutable and hashable. Build them with ``var``, ``num`` and the
operators ``+``, ``*``, ``//`` and ``%``.

*Generic* kernels (compiled once per structure, see docs/ARCHITECTURE.md "Compile once") index
with sizes that are runtime arguments: a size is a ``Var`` standing for itself (a *parameter*),
products of variables are ``Prod`` terms, and ``//`` / ``%`` may divide by a parameter
expression. Rules for symbolic divisors are syntactic or proved with symbolic upper bounds
(a loop variable knows its extent ``hi`` as an expression): ``(x//n)*n + x%n -> x``,
``(i*n + j)//n -> i`` when ``j < n`` is provable, and so on. Ranges of parameters are
unknown (``[lo, BIG]``), so the numeric rules never fire on them.
"""
from __future__ import annotations

from math import gcd

BIG = 1 << 62  # "unbounded": the upper range of a runtime parameter


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
            return mul_sym(self, other)
        return mul(self, int(other))

    __rmul__ = __mul__

    def __floordiv__(self, c) -> "Sym":
        return div(self, c if isinstance(c, Sym) else int(c))

    def __mod__(self, c) -> "Sym":
        return mod(self, c if isinstance(c, Sym) else int(c))

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
    """A loop variable or a runtime value, with inclusive bounds [vmin, vmax]. ``hi``, when
    set, is an exclusive upper bound as an expression (the symbolic extent of a loop)."""

    def __init__(self, name: str, vmin: int, vmax: int, hi: "Sym | None" = None):
        self.name, self.vmin, self.vmax, self.hi = name, int(vmin), int(vmax), hi

    def key(self):
        return ("v", self.name, self.vmin, self.vmax, None if self.hi is None else self.hi.key())

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


class Prod(Sym):
    """A product of two or more factors (variables, divisions, modulos), sorted."""

    def __init__(self, factors: tuple):
        self.factors = factors
        lo = hi = 1
        for f in factors:
            corners = (lo * f.vmin, lo * f.vmax, hi * f.vmin, hi * f.vmax)
            lo, hi = min(corners), max(corners)
        self.vmin, self.vmax = max(lo, -BIG), min(hi, BIG)

    def key(self):
        return ("p", tuple(f.key() for f in self.factors))

    def render(self, names=None) -> str:
        return "(" + "*".join(f.render() for f in self.factors) + ")"


def _ckey(c):
    return c if isinstance(c, int) else c.key()


def _crender(c) -> str:
    return str(c) if isinstance(c, int) else c.render()


class Div(Sym):
    """Floor division by a positive int or a positive parameter expression."""

    def __init__(self, a: Sym, c):
        self.a, self.c = a, c
        if isinstance(c, int):
            self.vmin, self.vmax = a.vmin // c, a.vmax // c
        else:
            self.vmin = 0 if a.vmin >= 0 else -BIG
            self.vmax = max(a.vmax, 0)

    def key(self):
        return ("d", self.a.key(), _ckey(self.c))

    def render(self, names=None) -> str:
        return f"({self.a.render()}/{_crender(self.c)})"


class Mod(Sym):
    def __init__(self, a: Sym, c):
        self.a, self.c = a, c
        if not isinstance(c, int):
            self.vmin, self.vmax = (0, max(0, min(a.vmax, c.vmax - 1))) if a.vmin >= 0 else (-BIG, BIG)
        elif a.vmin >= 0 and a.vmax - a.vmin < c and a.vmin % c <= a.vmax % c:
            self.vmin, self.vmax = a.vmin % c, a.vmax % c
        else:
            self.vmin, self.vmax = 0, c - 1

    def key(self):
        return ("m", self.a.key(), _ckey(self.c))

    def render(self, names=None) -> str:
        return f"({self.a.render()}%{_crender(self.c)})"


# Expressions are immutable, and hashed and compared by their key - in every dict of terms,
# many times over while lowering one kernel. So each expression computes its key, the key's
# hash and its sort order once (kept in the instance; a key nests its parts' keys, so a deep
# expression was rebuilt and rehashed all the way down at every lookup: ~1/3 of lowering).
# The memos are not pickled (a str hash differs between processes).
_MEMO = ("_k", "_h", "_r")


def _memoized_key(raw):
    def key(self):
        d = self.__dict__
        k = d.get("_k")
        if k is None:
            k = d["_k"] = raw(self)
        return k
    return key


def _hash(self) -> int:
    d = self.__dict__
    h = d.get("_h")
    if h is None:
        h = d["_h"] = hash(self.key())
    return h


def _eq(self, o) -> bool:
    return self is o or (isinstance(o, Sym) and _hash(self) == _hash(o) and self.key() == o.key())


def _order(x: "Sym") -> str:
    """A total order of expressions (a Sum's terms are kept sorted by it)."""
    d = x.__dict__
    r = d.get("_r")
    if r is None:
        r = d["_r"] = repr(x.key())
    return r


def _getstate(self) -> dict:
    d = self.__dict__
    return {k: v for k, v in d.items() if k not in _MEMO} if any(k in d for k in _MEMO) else d


for _cls in (Num, Var, Sum, Div, Mod, Prod):
    _cls.key = _memoized_key(_cls.key)  # type: ignore[method-assign]
    _cls.__hash__ = _hash  # type: ignore[assignment]
    _cls.__eq__ = _eq  # type: ignore[assignment]
Sym.__getstate__ = _getstate  # type: ignore[method-assign]


def num(v: int) -> Num:
    return Num(v)


def var(name: str, vmin: int, vmax: int) -> Sym:
    if vmin == vmax:
        return Num(vmin)
    return Var(name, vmin, vmax)


def param(name: str, vmin: int = 0) -> Var:
    """A runtime value (a size, an offset) of a generic kernel: it stands for itself."""
    return Var(name, vmin, BIG)


def loop_var(name: str, extent) -> Sym:
    """The variable of a loop over ``[0, extent)``: an int extent gives the usual ranged
    variable, a symbolic one a variable that knows its extent."""
    if isinstance(extent, int):
        return var(name, 0, extent - 1)
    if isinstance(extent, Num):
        return var(name, 0, extent.v - 1)
    return Var(name, 0, BIG, extent)


def is_concrete(x) -> bool:
    """An int, or an expression with no variables (a Num)."""
    return isinstance(x, int) or isinstance(x, Num)


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
    items.sort(key=lambda tc: _order(tc[0]))
    return Sum(tuple(items), const)


def _single_term(x: Sym):
    """(term, coefficient) when ``x`` is one term times an int (no constant), else None."""
    if isinstance(x, Num):
        return None
    if isinstance(x, Sum):
        return x.terms[0] if len(x.terms) == 1 and x.const == 0 else None
    return x, 1


def _recombine(terms: dict):
    """Fold ``(x//s)*s + x%s -> x`` and ``((x//s)%n)*s + x%s -> x%(s*n)`` in place (``s``
    and ``n`` ints or parameter expressions; both terms may share a further factor, as
    ``((x//s)*s + x%s)*m``). Returns None when nothing changed, else the constant the fold
    released."""
    for t, c in list(terms.items()):
        facs = _factors(t)
        for fi, f in enumerate(facs):
            if not isinstance(f, Mod):
                continue
            x, s = f.a, f.c
            rest = facs[:fi] + facs[fi + 1:]
            rest_sym = _mono(rest) if rest else Num(1)
            partner = _single_term(_times(_times(div(x, s), s), rest_sym))
            if partner is not None and partner[0] != t and terms.get(partner[0]) == partner[1] * c:
                del terms[partner[0]], terms[t]
                return _add_into(terms, _times(x, rest_sym), c)
            for t2 in [g for tt in list(terms) for g in _factors(tt)]:
                if isinstance(t2, Mod) and isinstance(t2.a, Div) and t2.a.a == x and t2.a.c == s:
                    partner = _single_term(_times(_times(t2, s), rest_sym))
                    if partner is not None and partner[0] != t and terms.get(partner[0]) == partner[1] * c:
                        del terms[partner[0]], terms[t]
                        return _add_into(terms, _times(mod(x, _times(s, t2.c)), rest_sym), c)
                # (y//s)*s + x%s -> y where x is y with its coefficients reduced mod s (``mod``
                # reduces them: (g*500 + r) % 64 is kept as (g*52 + r) % 64), so x%s == y%s
                if isinstance(t2, Div) and isinstance(s, int) and t2.c == s and t2.a != x \
                        and t2.a.vmin >= 0 and x.vmin >= 0 and _congruent(t2.a, x, s):
                    partner = _single_term(_times(_times(t2, s), rest_sym))
                    if partner is not None and partner[0] != t and terms.get(partner[0]) == partner[1] * c:
                        del terms[partner[0]], terms[t]
                        return _add_into(terms, _times(t2.a, rest_sym), c)
    return None


def _congruent(y: Sym, x: Sym, s: int) -> bool:
    """Whether ``y - x`` is a sum of multiples of ``s`` (every coefficient and the constant)."""
    ty, cy = _as_terms(y)
    tx, cx = _as_terms(x)
    if (cy - cx) % s:
        return False
    return all((ty.get(k, 0) - tx.get(k, 0)) % s == 0 for k in set(ty) | set(tx))


def _add_into(terms: dict, e: Sym, c: int) -> int:
    """terms += c * e; returns the constant part of c * e."""
    et, ec = _as_terms(e)
    for tt, cc in et.items():
        terms[tt] = terms.get(tt, 0) + cc * c
    return ec * c


def _times(a, b) -> Sym:
    """a * b for ints or expressions."""
    if isinstance(a, int):
        return mul(_sym(b), a)
    if isinstance(b, int):
        return mul(a, b)
    return a * b


def add(a: Sym, b: Sym) -> Sym:
    if isinstance(a, Num) and isinstance(b, Num):
        return Num(a.v + b.v)
    ta, ca = _as_terms(a)
    tb, cb = _as_terms(b)
    terms = dict(ta)
    for t, c in tb.items():
        terms[t] = terms.get(t, 0) + c
    return _normalize(terms, ca + cb)


def _normalize(terms: dict, const: int) -> Sym:
    terms = {t: c for t, c in terms.items() if c != 0}
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


def _factors(t: Sym) -> tuple:
    return t.factors if isinstance(t, Prod) else (t,)


def _mono(factors) -> Sym:
    factors = tuple(sorted(factors, key=_order))
    return factors[0] if len(factors) == 1 else Prod(factors)


def mul_sym(a: Sym, b: Sym) -> Sym:
    """a * b for two expressions: the product expanded into a sum of monomials."""
    if isinstance(b, Num):
        return mul(a, b.v)
    if isinstance(a, Num):
        return mul(b, a.v)
    ta, ca = _as_terms(a)
    tb, cb = _as_terms(b)
    terms: dict = {}
    for t1, c1 in ta.items():
        for t2, c2 in tb.items():
            m = _mono(_factors(t1) + _factors(t2))
            terms[m] = terms.get(m, 0) + c1 * c2
        if cb:
            terms[t1] = terms.get(t1, 0) + c1 * cb
    if ca:
        for t2, c2 in tb.items():
            terms[t2] = terms.get(t2, 0) + c2 * ca
    return _normalize(terms, ca * cb)


def _divide_mono(t: Sym, d: Sym):
    """The monomial t / d when d's factors are among t's (Num(1) when equal), else None."""
    rest = list(_factors(t))
    for f in _factors(d):
        if f in rest:
            rest.remove(f)
        else:
            return None
    return _mono(rest) if rest else Num(1)


def _as_monomial(d: Sym):
    """(monomial, positive int k) with d == k * monomial, or None."""
    if isinstance(d, Sum):
        if len(d.terms) == 1 and d.const == 0 and d.terms[0][1] > 0:
            return d.terms[0]
        return None
    if isinstance(d, Num):
        return None
    return d, 1


def upper_bound(e: Sym):
    """An expression U with e <= U for every value of the variables, or None. Loop
    variables with a symbolic extent give ``hi - 1``, parameters stand for themselves."""
    if isinstance(e, Num):
        return e
    if isinstance(e, Var):
        if e.hi is not None:
            return add(e.hi, Num(-1))
        return e if e.vmax >= BIG else Num(e.vmax)
    if isinstance(e, Mod):
        if e.vmin < 0:
            return None
        return add(_sym(e.c), Num(-1)) if not isinstance(e.c, int) else Num(e.vmax)
    if isinstance(e, Div):
        return Num(e.vmax) if e.vmax < BIG else None
    if isinstance(e, Prod):
        out: Sym = Num(1)
        for f in e.factors:
            if f.vmin < 0:
                return None
            u = upper_bound(f)
            if u is None:
                return None
            out = out * u
        return out
    if isinstance(e, Sum):
        out = Num(e.const)
        for t, c in e.terms:
            if t.vmin < 0:
                return None
            if c < 0:
                continue  # c * t <= 0
            u = upper_bound(t)
            if u is None:
                return None
            out = add(out, mul(u, c))
        return out
    return None


def nonnegative(e: Sym) -> bool:
    """Provably e >= 0: a constant >= 0, or a sum of monomials with non-negative
    coefficients over non-negative factors."""
    if e.vmin >= 0:
        return True
    if isinstance(e, Sum):
        return e.const >= 0 and all(c >= 0 and t.vmin >= 0 for t, c in e.terms)
    return False


def provably_less(e: Sym, d) -> bool:
    """Provably e < d (for e >= 0)."""
    if isinstance(d, int):
        return e.vmax < d
    if isinstance(e, Var) and e.hi is not None and e.hi == d:
        return True
    if isinstance(e, Mod) and not isinstance(e.c, int) and e.c == d:
        return True
    u = upper_bound(e)
    return u is not None and nonnegative(add(add(d, mul(u, -1)), Num(-1)))


def _settled(a: Sym, c, is_div: bool) -> tuple[Sym | None, int]:
    """What ``a // c`` (``is_div``) or ``a % c`` is without looking inside ``a``: by a
    symbolic ``c``, the symbolic rules; by 1, by a number, or of an ``a`` known to lie in
    ``[0, c)``, the answer. Else ``(None, c)``, ``c`` as a positive int."""
    if isinstance(c, Sym) and not isinstance(c, Num):
        return (_div_sym if is_div else _mod_sym)(a, c), 0
    c = c.v if isinstance(c, Num) else c
    if c <= 0:
        raise ValueError(f"index {'division' if is_div else 'modulo'} by a non-positive constant")
    if c == 1:
        return (a if is_div else Num(0)), c
    if isinstance(a, Num):
        return Num(a.v // c if is_div else a.v % c), c
    if a.vmin >= 0 and a.vmax < c:
        return (Num(0) if is_div else a), c
    return None, c


def div(a: Sym, c) -> Sym:
    """Floor division by a positive constant or parameter expression (operands of index
    expressions that reach a real memory access are never negative)."""
    done, c = _settled(a, c, True)
    if done is not None:
        return done
    if a.vmin // c == a.vmax // c:
        return Num(a.vmin // c)
    if isinstance(a, Div):
        return div(a.a, _times(a.c, c))
    if isinstance(a, Mod) and isinstance(a.c, int) and a.c % c == 0 and a.a.vmin >= 0:
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
        g = c
        for k in terms.values():
            g = gcd(g, k)
        g = gcd(g, const)
        if g > 1 and a.vmin >= 0:
            return div(_make_sum({t: k // g for t, k in terms.items()}, const // g), c // g)
    return Div(a, c)


def _split_by(a: Sym, d: Sym):
    """(whole, rest) with a == whole * d + rest, where whole collects the terms that d
    divides syntactically; None when d is not a monomial."""
    md = _as_monomial(d)
    if md is None:
        return None
    dm, dk = md
    terms, const = _as_terms(a)
    whole: dict = {}
    rest: dict = {}
    for t, k in terms.items():
        q = _divide_mono(t, dm)
        if q is not None and k % dk == 0:
            qt, qc = _as_terms(q)
            for tt, cc in qt.items():
                whole[tt] = whole.get(tt, 0) + cc * (k // dk)
            rest_const = qc * (k // dk)
            if rest_const:
                whole[None] = whole.get(None, 0) + rest_const
        else:
            rest[t] = k
    wc = whole.pop(None, 0)
    return _make_sum(whole, wc), _make_sum(rest, const)


def _div_sym(a: Sym, d: Sym) -> Sym:
    if isinstance(a, Num) and a.v == 0:
        return a
    if a == d:
        return Num(1)
    if isinstance(a, Div):
        return div(a.a, _times(a.c, d))
    parts = _split_by(a, d)
    if parts is not None:
        whole, rest = parts
        if rest.vmin >= 0 and provably_less(rest, d):
            return whole
        if not (isinstance(whole, Num) and whole.v == 0) and rest.vmin >= 0:
            return add(whole, _div_sym(rest, d))
    if a.vmin >= 0 and provably_less(a, d):
        return Num(0)
    return Div(a, d)


def mod(a: Sym, c) -> Sym:
    done, c = _settled(a, c, False)
    if done is not None:
        return done
    if isinstance(a, Mod) and isinstance(a.c, int) and a.c % c == 0:
        return mod(a.a, c)
    terms, const = _as_terms(a)
    if a.vmin >= 0 and (len(terms) > 1 or const != 0 or next(iter(terms.values())) != 1):
        reduced = {t: k % c for t, k in terms.items() if k % c}
        r = _make_sum(reduced, const % c)
        if r.vmin >= 0 and (reduced != terms or const % c != const):
            return mod(r, c)
        g = c
        for k in terms.values():
            g = gcd(g, k)
        g = gcd(g, const)
        if g > 1:
            return mul(mod(_make_sum({t: k // g for t, k in terms.items()}, const // g), c // g), g)
    if a.vmin >= 0 and a.vmin // c == a.vmax // c:
        return add(a, Num(-(a.vmin // c) * c))
    return Mod(a, c)


def _mod_sym(a: Sym, d: Sym) -> Sym:
    if isinstance(a, Num) and a.v == 0 or a == d:
        return Num(0)
    if isinstance(a, Mod) and a.c == d:
        return a
    if a.vmin >= 0:
        parts = _split_by(a, d)
        if parts is not None:
            whole, rest = parts
            if rest.vmin >= 0 and not (isinstance(whole, Num) and whole.v == 0):
                return _mod_sym(rest, d)
        if provably_less(a, d):
            return a
    return Mod(a, d)


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
    if isinstance(e, Prod):
        out = Num(1)
        for f in e.factors:
            out = out * substitute(f, mapping)
        return out
    c = e.c if isinstance(e.c, int) else substitute(e.c, mapping)
    if isinstance(e, Div):
        return div(substitute(e.a, mapping), c)
    if isinstance(e, Mod):
        return mod(substitute(e.a, mapping), c)
    raise TypeError(e)


def variables(e: Sym) -> set[str]:
    if isinstance(e, Var):
        return {e.name}
    if isinstance(e, Sum):
        out: set[str] = set()
        for t, _ in e.terms:
            out |= variables(t)
        return out
    if isinstance(e, Prod):
        out = set()
        for f in e.factors:
            out |= variables(f)
        return out
    if isinstance(e, (Div, Mod)):
        return variables(e.a) | (set() if isinstance(e.c, int) else variables(e.c))
    return set()


def coef(e: Sym, name: str) -> int:
    """Coefficient of variable ``name`` in an affine index expression (0 if absent or not
    affine in it)."""
    if isinstance(e, Var):
        return 1 if e.name == name else 0
    if isinstance(e, Sum):
        return next((c for t, c in e.terms if isinstance(t, Var) and t.name == name), 0)
    return 0


def to_python(e, names: dict) -> str:
    """Python source evaluating ``e`` (an int or expression): variable ``v`` is read as
    ``names[v]``, ``//`` and ``%`` are Python's (operands are non-negative)."""
    if isinstance(e, int):
        return str(e)
    if isinstance(e, Num):
        return str(e.v)
    if isinstance(e, Var):
        return names[e.name]
    if isinstance(e, Sum):
        parts = [f"{to_python(t, names)}*{c}" for t, c in e.terms] + [str(e.const)]
        return "(" + " + ".join(parts) + ")"
    if isinstance(e, Prod):
        return "(" + "*".join(to_python(f, names) for f in e.factors) + ")"
    op = "//" if isinstance(e, Div) else "%"
    return f"({to_python(e.a, names)} {op} {to_python(e.c, names)})"
