"""Random op graphs, run on zyx and on NumPy and compared: the differential fuzzer.

Used by ``tests/test_fuzz.py`` (a fixed seed, a few hundred graphs per run) and by
``benches/fuzz.py`` (long runs in subprocesses). A graph is a *program*: Python statements
over an array namespace ``xp`` (``v3 = xp.add(v1, 2.5)``, ``v4 = v3[1:, ::-2]``,
``v4 += v2``, ``realize(v3, v5)``), generated from a seed and executed three times:

* on zyx (``xp = zyx.array_api``, arrays on the device under test, lazy);
* on NumPy in the same dtypes (the reference ``ref``);
* on NumPy with float16/bfloat16 computed in float32, as zyx's kernels do (``mid``);
* on NumPy with every float widened to float64 (complex to complex128) (``wide``).

The generator runs each statement on NumPy as it goes, so every statement it keeps is
valid for NumPy (shapes, dtypes, indices), and it knows shapes and dtypes to choose the
next op. Graph features: elementwise ops with broadcasting and Python scalars,
reductions, movement and slicing, getitem and setitem, in-place ops (also through a
basic-slice view), matmul, gathers, casts; ranks 0-4 with 0- and 1-sized axes; every
dtype of the device; NaN, inf and -0 in the inputs; several values realized at once and
used again afterwards.

Comparison: shapes and (where zyx and NumPy promise the same rule) dtypes must match.
An element is checked only where the problem is well conditioned - where the three
references agree (floats: to a quarter of the dtype's tolerance; integers and booleans
exactly; NaN with NaN, an infinity with the same infinity) - and there zyx must match one
of them (floats: within the tolerance). So a different summation order, a 1-ulp different
``exp`` or a half-precision value rounded once instead of per op never counts, while a
wrong index, sign, NaN or kernel does. Complex elements that NumPy makes non-finite only
need to be non-finite (C99's and NumPy's complex multiply disagree on inf vs nan).

A failure is printed as a minimal runnable repro: the backward slice of the failing value,
shrunk statement by statement while the failure persists.
"""
from __future__ import annotations

import math
import traceback
import warnings
from dataclasses import dataclass, field

import ml_dtypes
import numpy as np

# ----------------------------------------------------------------- dtypes and namespaces
NP_DTYPES = {"bool": np.dtype(np.bool_), "int8": np.dtype(np.int8), "int16": np.dtype(np.int16),
             "int32": np.dtype(np.int32), "int64": np.dtype(np.int64), "uint8": np.dtype(np.uint8),
             "uint16": np.dtype(np.uint16), "uint32": np.dtype(np.uint32), "uint64": np.dtype(np.uint64),
             "float16": np.dtype(np.float16), "bfloat16": np.dtype(ml_dtypes.bfloat16),
             "float32": np.dtype(np.float32), "float64": np.dtype(np.float64),
             "complex64": np.dtype(np.complex64), "complex128": np.dtype(np.complex128)}
_WIDE = {"float16": "float64", "bfloat16": "float64", "float32": "float64", "complex64": "complex128"}
TOL = {"float16": 1e-2, "bfloat16": 8e-2, "float32": 1e-4, "float64": 1e-9, "complex64": 1e-4,
       "complex128": 1e-9}
FLOATS = ("float16", "bfloat16", "float32", "float64")
COMPLEX = ("complex64", "complex128")
SINTS = ("int8", "int16", "int32", "int64")
UINTS = ("uint8", "uint16", "uint32", "uint64")


def kind(d: str) -> str:
    return "b" if d == "bool" else "i" if d in SINTS else "u" if d in UINTS else "f" if d in FLOATS else "c"


def dname(dtype) -> str:
    """The zyx-style name of a NumPy or zyx dtype."""
    n = getattr(dtype, "name", str(dtype))
    return "bool" if n == "bool_" else n


NP_DTYPES["longdouble"] = np.dtype(np.longdouble)
NP_DTYPES["clongdouble"] = np.dtype(np.clongdouble)
_MID = {"float16": "float32", "bfloat16": "float32"}
_WIDER = {"float16": "float64", "bfloat16": "float64", "float32": "float64", "complex64": "clongdouble",
          "float64": "longdouble", "complex128": "clongdouble"}
MODES = ("ref", "mid", "midr", "wide", "pert", "pertneg")


class NumpyNS:
    """NumPy as an array namespace for the generated statements. ``mode``:

    * "ref": the dtypes as written;
    * "mid" / "midr": float16 and bfloat16 computed in float32, as zyx's kernels do
      ("midr" also rounds every statement's half-precision result, as a stored value is);
    * "wide": float32 and below in float64, float64 in long double (complex alike);
    * "pert" / "pertneg": as "ref", with every float input and computed value moved up
      (down) by a few ulps (conditioning probes: what another correct implementation's
      rounding might do).
    """

    def __init__(self, mode: str = "ref"):
        self.mode = mode
        self.map = {"mid": _MID, "midr": _MID, "wide": _WIDER}.get(mode, {})

    # functions with a sine or cosine inside, and which part of a complex argument feeds it
    _PERIODIC = {"sin": "ri", "cos": "ri", "tan": "ri", "sinh": "i", "cosh": "i", "tanh": "i",
                 "exp": "i", "expm1": "i"}

    def __getattr__(self, name):
        parts = NumpyNS._PERIODIC.get(name)
        if parts is not None:
            return lambda x, /: self._periodic(name, x, parts)
        return getattr(np, name)

    def astype(self, x, dtype, /, *, copy=True):
        return np.astype(x, self.dtype(dname(dtype)), copy=copy)

    def pow(self, x1, x2, /):
        """NumPy's power, with the standard's ``pow(-0, y) = +0`` and ``pow(-inf, y) = +inf``
        for y > 0 not an odd integer (NumPy computes float32/float64 ``x ** 0.5`` as
        ``sqrt(x)``: -0 and NaN)."""
        r = np.power(x1, x2)
        if np.asarray(r).dtype.kind != "f":
            return r
        a, b = np.asarray(x1), np.asarray(x2)
        rd = np.asarray(r).dtype
        with np.errstate(all="ignore"):
            odd = (np.mod(b, 2) == 1) if b.dtype.kind in "fiu" else np.zeros(b.shape, bool)
            fix = (a == 0) & np.signbit(a) & (b > 0) & ~odd & np.signbit(r)
            inf = (a == -np.inf) & (b > 0) & ~odd & np.isnan(r)
        if np.any(fix):
            r = np.where(fix, np.zeros((), rd), r).astype(rd)
        if np.any(inf):
            r = np.where(inf, np.array(np.inf, rd), r).astype(rd)
        return r

    def dtype(self, name: str) -> np.dtype:
        return NP_DTYPES[self.map.get(name, name)]

    def _periodic(self, fname: str, x, parts: str):
        """``np.<fname>(x)``; in the "pert" runs NaN where the argument of a sine or cosine
        inside it (``parts``: "r" the real part, "i" the imaginary part) is so large that an
        ulp of it is a good part of a period: any rounding upstream makes the value (its
        sign included) a coin toss, and two probes agreeing by chance must not make it
        count as well-conditioned (opencl seed 5000577: expm1 of cos of -71.7-179.7j)."""
        r = getattr(np, fname)(x)
        a = np.asarray(x)
        if not self.mode.startswith("pert") or a.dtype.kind not in "fc" or not a.size:
            return r
        comps = ([np.real(a)] if "r" in parts else []) + ([np.imag(a)] if "i" in parts and a.dtype.kind == "c" else [])
        if not comps:
            return r
        eps = float(np.finfo(a.dtype).eps)
        with np.errstate(all="ignore"):
            wild = np.zeros(a.shape, bool)
            for c in comps:
                wild |= np.abs(c) * eps > 1e-3
        if not wild.any():
            return r
        rr = np.asarray(r)
        return np.where(wild, np.array(np.nan, rr.dtype), rr).astype(rr.dtype)

    def convert(self, a: np.ndarray, seed: int = 0) -> np.ndarray:
        n = dname(a.dtype)
        out = a.astype(NP_DTYPES[self.map[n]]) if n in self.map else a.copy()
        if self.mode.startswith("pert") and kind(n) in "fc" and out.size:
            rng = np.random.default_rng(seed)
            ulps = 16 * np.finfo(NP_DTYPES["float32" if n == "bfloat16" else n]).eps * (64 if n == "bfloat16" else 1)
            sign = -1.0 if self.mode == "pertneg" else 1.0
            with np.errstate(all="ignore"):
                out = (out * (1 + ulps * sign)).astype(out.dtype)
        return out


class DTypes:
    """``D.float16`` etc. in generated statements: the namespace's own dtype objects."""

    def __init__(self, table):
        self._t = table

    def __getattr__(self, name):
        return self._t(name)


# ----------------------------------------------------------------- programs
@dataclass
class Stmt:
    text: str
    defines: str | None = None  # the name the statement binds
    uses: tuple = ()  # names it reads
    modifies: tuple = ()  # names whose contents it changes (in-place ops, setitem, views)


@dataclass
class Program:
    seed: int
    device: str
    inputs: dict  # name -> np.ndarray
    stmts: list = field(default_factory=list)
    loose: set = field(default_factory=set)  # names whose dtype may differ from NumPy's
    cx: set = field(default_factory=set)  # names computed from complex values (see compare_value)
    halfy: set = field(default_factory=set)  # names computed from half-precision values
    tol: dict = field(default_factory=dict)  # name -> the loosest tolerance of the dtypes it came through

    def text(self) -> str:
        return "\n".join(s.text for s in self.stmts)


class _Skip(Exception):
    pass


# In-place ops and setitem mutate the target in both namespaces, so the generator only picks
# targets no other live NumPy value shares memory with. zyx may still have handed back its
# input object from an op that NumPy copies (issue 11: positive, round of integers,
# concat of one non-empty part, ...), so a mutation also changed the input. Until that is
# fixed, targets must come from ops that surely allocate; STRICT_ALIASING = True tests it.
STRICT_ALIASING = False
# zyx computes float16/bfloat16 in float32 inside a kernel and rounds only when it stores,
# so a half-precision value recomputed in a fused kernel differs from the stored one (x ==
# max(x) fails for every row) and from NumPy's per-op rounding. Until that is fixed,
# discontinuous ops (comparisons, rounding, casts to integers, argmax, masks...) are not
# applied to values computed from half-precision floats; HALF_ROUNDING_FIXED = True does.
HALF_ROUNDING_FIXED = False


_NAME_TOKEN = None


def _names_in(text: str) -> tuple:
    import re
    global _NAME_TOKEN
    if _NAME_TOKEN is None:
        _NAME_TOKEN = re.compile(r"\bv\d+\b")
    return tuple(dict.fromkeys(_NAME_TOKEN.findall(text)))


class Generator:
    """Builds one random program, running each statement on NumPy as it goes."""

    def __init__(self, seed: int, device: str, dtypes, n_ops: int | None = None, big: bool | None = None):
        self.rng = np.random.default_rng(seed)
        self.dtypes = [d for d in dtypes if d in NP_DTYPES]
        self.prog = Program(seed, device, {})
        self.env = {"xp": NumpyNS(), "D": DTypes(NumpyNS().dtype), "realize": lambda *a: None,
                    "inp": lambda n: self.prog.inputs[n].copy()}
        self.vals: list[str] = []  # live value names, oldest first
        self.fresh_vals: set = set()  # values made by ops that surely allocate (in-place targets)
        self.aliased: set = set()  # values an op may have returned or viewed (not in-place targets)
        self.halfy: set = self.prog.halfy  # values computed from half-precision floats
        # the statements also run lazily on zyx (no kernels), to see which results are their
        # input objects (not in-place targets while STRICT_ALIASING is off)
        self.zenv = None if STRICT_ALIASING else _zyx_env(self.prog, device)
        self.n = 0
        self.n_ops = n_ops if n_ops is not None else int(self.rng.integers(3, 16))
        self.big = big if big is not None else self.rng.random() < 0.15

    # ---------------------------------------------------------- helpers
    def arr(self, name: str) -> np.ndarray:
        return np.asarray(self.env[name])

    def dt(self, name: str) -> str:
        return dname(self.arr(name).dtype)

    def has_nan(self, v: str) -> bool:
        a = self.arr(v)
        return kind(self.dt(v)) in "fc" and bool(np.isnan(a.astype(np.complex128) if a.dtype.kind == "c" else
                                                         a.astype(np.float64)).any())

    def cx_nonfinite(self, v: str) -> bool:
        """A value computed from complex ones with an inf or nan (C99 Annex G and NumPy
        disagree on which components of a complex overflow are inf and which nan)."""
        if v not in self.prog.cx:
            return False
        a = self.arr(v)
        if a.dtype == NP_DTYPES["bfloat16"]:
            a = a.astype(np.float32)
        return not bool(np.isfinite(a).all())

    def exact(self, v: str) -> bool:
        """Whether a discontinuous op (a comparison, rounding, a cast to integers) may see v:
        not when zyx computes it in another precision than NumPy (half precision, or float32
        where NumPy has float64)."""
        return (HALF_ROUNDING_FIXED or v not in self.halfy) and v not in self.prog.loose

    def fresh(self) -> str:
        self.n += 1
        return f"v{self.n}"

    def pick(self, pred=None):
        cands = [v for v in self.vals if pred is None or pred(v)]
        if not cands:
            return None
        # favour recent values: deep chains
        w = np.arange(1, len(cands) + 1, dtype=np.float64) ** 2
        return cands[int(self.rng.choice(len(cands), p=w / w.sum()))]

    def run(self, text: str, defines: str | None = None, loose_from=(), loose=False, modifies=(),
            fresh: bool = False) -> bool:
        """Execute ``text`` on NumPy; keep the statement if it worked (and its result is sane)."""
        before = {v: self.env[v] for v in self.vals}
        try:
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                exec(text, self.env)
                if defines is not None:
                    r = self.env[defines]
                    a = np.asarray(r)
                    if a.dtype.kind not in "biufc" and a.dtype != NP_DTYPES["bfloat16"]:
                        raise _Skip
                    if a.size > (1 << 17) or a.ndim > 5:
                        raise _Skip
        except Exception:
            # undo a partial statement (an in-place op that raised leaves no trace in NumPy)
            for v, x in before.items():
                self.env[v] = x
            if defines is not None:
                self.env.pop(defines, None)
            return False
        uses = _names_in(text)
        if self.zenv is not None:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    exec(text, self.zenv)
                if defines is not None and any(self.zenv[defines] is self.zenv.get(u) for u in uses if u != defines):
                    self.aliased.update(uses)
                    self.aliased.add(defines)
            except Exception:
                self.zenv = None  # zyx refuses: the run reports it; no more in-place ops here
        if defines is not None:
            uses = tuple(u for u in uses if u != defines)
            self.vals.append(defines)
            if fresh:
                self.fresh_vals.add(defines)
            else:  # zyx may have returned (or viewed) an input: mutating either is unsafe
                self.aliased.update(uses)
            if loose or any(u in self.prog.loose for u in loose_from or uses):
                self.prog.loose.add(defines)
            if any(u in self.prog.cx for u in uses) or kind(dname(np.asarray(self.env[defines]).dtype)) == "c":
                self.prog.cx.add(defines)
            if any(u in self.halfy for u in uses) or dname(np.asarray(self.env[defines]).dtype) in _MID:
                self.halfy.add(defines)
            t = max([self.prog.tol.get(u, 0.0) for u in uses] + [TOL.get(dname(np.asarray(self.env[defines]).dtype),
                                                                          0.0)])
            if defines in self.prog.loose:
                t = max(t, TOL["float32"])  # zyx's float32 where NumPy computes in float64
            self.prog.tol[defines] = t
        for m in modifies:  # an in-place op: the target takes on what its operands carry
            if any(u in self.prog.loose for u in uses if u not in modifies):
                self.prog.loose.add(m)
            for flag in (self.prog.cx, self.halfy):
                if any(u in flag for u in uses):
                    flag.add(m)
            self.prog.tol[m] = max([self.prog.tol.get(u, 0.0) for u in uses] + [self.prog.tol.get(m, 0.0)])
        self.prog.stmts.append(Stmt(text, defines, uses, tuple(modifies)))
        return True

    # ---------------------------------------------------------- inputs
    def shape(self, rank: int | None = None) -> tuple:
        r = int(self.rng.choice([0, 1, 2, 2, 3, 3, 4])) if rank is None else rank
        dims = []
        for _ in range(r):
            u = self.rng.random()
            dims.append(0 if u < 0.04 else 1 if u < 0.2 else int(self.rng.choice([2, 3, 4, 5, 7, 8])))
        if self.big and r and self.rng.random() < 0.5:
            i = int(self.rng.integers(r))
            dims[i] = int(self.rng.choice([17, 33, 64, 100]))
        return tuple(dims)

    def data(self, shape: tuple, d: str) -> np.ndarray:
        rng = self.rng
        k = kind(d)
        if k == "b":
            return rng.random(shape) < 0.5
        if k in "iu":
            info = np.iinfo(NP_DTYPES[d])
            if rng.random() < 0.3:
                a = rng.integers(info.min, info.max, shape, dtype=NP_DTYPES[d], endpoint=True)
            else:
                a = np.clip(rng.integers(-9, 10, shape), info.min, info.max).astype(NP_DTYPES[d])
            return a
        scale = float(rng.choice([1.0, 1.0, 3.0, 100.0, 1e-3]))
        re = rng.standard_normal(shape) * scale
        if rng.random() < 0.3:
            re = np.round(re)
        im = rng.standard_normal(shape) * scale if k == "c" else None
        if rng.random() < 0.5:  # NaN, infinities and signed zeros
            special = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0])
            m = rng.random(shape) < 0.15
            re = np.where(m, rng.choice(special, shape), re)
            if im is not None:
                m = rng.random(shape) < 0.1
                im = np.where(m, rng.choice(special, shape), im)
        with np.errstate(all="ignore"):
            a = re if im is None else re + 1j * im
            return np.asarray(a).astype(NP_DTYPES[d])

    def leaf(self, shape: tuple | None = None, d: str | None = None, data=None) -> str:
        """A new input array (random data with special values, unless ``data`` is given)."""
        name = self.fresh()
        d = d or str(self.rng.choice(self.dtypes))
        shape = self.shape() if shape is None else tuple(shape)
        if len(shape) > 5 or math.prod(shape) > (1 << 17):
            shape, data = (), None
        a = self.data(shape, d) if data is None else np.asarray(data).astype(NP_DTYPES[d])
        if d == "bfloat16":  # NumPy has no bfloat16 of its own: in as float32, cast in the program
            self.prog.inputs[name] = a.astype(np.float32)
            self.run(f"{name} = xp.astype(inp({name!r}), D.bfloat16)", name, fresh=True)
        else:
            self.prog.inputs[name] = a
            self.run(f"{name} = inp({name!r})", name, fresh=True)
        return name

    def index_dtype(self) -> str:
        return "int64" if "int64" in self.dtypes and self.rng.random() < 0.7 else "int32"

    def safe_scalar(self, d: str) -> str:
        """A Python scalar that any array of dtype ``d`` accepts in place."""
        k = kind(d)
        if k == "b":
            return repr(bool(self.rng.random() < 0.5))
        if k in "iu":
            return repr(int(self.rng.integers(0, 8)))
        if k == "c" and self.rng.random() < 0.5:
            return repr(complex(float(self.rng.choice([0.5, -1.0])), float(self.rng.choice([0.0, 2.0]))))
        return repr(float(self.rng.choice([0.5, -1.5, 2.0, 0.0, -0.0, 1e30])))

    def bshape(self, shape: tuple) -> tuple:
        """A shape that broadcasts with ``shape``."""
        r = self.rng.random()
        if r < 0.4:
            return shape
        out = list(shape)
        for i in range(len(out)):
            if self.rng.random() < 0.3:
                out[i] = 1
        if r > 0.8 and len(out) < 4:
            out.insert(0, int(self.rng.choice([1, 2, 3])))
        if r > 0.6 and out and self.rng.random() < 0.3:
            out = out[int(self.rng.integers(len(out))):]  # fewer dims
        return tuple(out)

    def scalar(self, d: str):
        k = kind(d)
        r = self.rng.random()
        if k == "b" or r < 0.1:
            return repr(bool(self.rng.random() < 0.5))
        if k in "iu" or r < 0.4:
            return repr(int(self.rng.choice([0, 1, 2, 3, 7, 100] + ([] if k == "u" else [-1, -5]))))
        if k == "c" and r < 0.6:
            return repr(complex(float(self.rng.choice([0.5, -1.0, 2.0])), float(self.rng.choice([0.0, 1.0, -0.5]))))
        return repr(float(self.rng.choice([0.5, -1.5, 2.0, 0.0, -0.0, 3.25, 1e-3, 1e30])))

    def axis(self, nd: int, allow_none=True, allow_tuple=True):
        r = self.rng.random()
        if nd == 0 or (allow_none and r < 0.25):
            return None
        if allow_tuple and r < 0.45 and nd >= 2:
            k = int(self.rng.integers(1, nd + 1))
            ax = sorted(self.rng.choice(nd, k, replace=False).tolist())
            return tuple(int(a) - nd if self.rng.random() < 0.3 else int(a) for a in ax)
        a = int(self.rng.integers(nd))
        return a - nd if self.rng.random() < 0.3 else a

    # ---------------------------------------------------------- ops
    UNARY_F = ["abs", "negative", "positive", "exp", "log", "sqrt", "sin", "cos", "tan", "tanh", "floor", "ceil",
               "trunc", "round", "sign", "square", "expm1", "log1p", "isnan", "isinf", "isfinite", "signbit",
               "atan", "asinh", "sinh", "cosh", "asin", "acos", "acosh", "atanh", "log2", "log10", "reciprocal"]
    UNARY_C = ["abs", "negative", "exp", "log", "sqrt", "sin", "cos", "tanh", "square", "isnan", "isinf",
               "isfinite", "real", "imag", "conj", "expm1", "log1p", "reciprocal"]
    UNARY_I = ["abs", "negative", "positive", "bitwise_invert", "square", "sign", "exp", "sqrt", "sin", "floor",
               "round", "isnan", "log1p", "tanh"]
    UNARY_B = ["logical_not", "bitwise_invert", "isnan", "isfinite"]
    BIN_ARITH = ["add", "subtract", "multiply", "divide", "floor_divide", "remainder", "pow", "maximum", "minimum"]
    BIN_CMP = ["equal", "not_equal", "less", "less_equal", "greater", "greater_equal"]
    BIN_FLOAT = ["atan2", "hypot", "copysign", "logaddexp", "nextafter"]
    BIN_INT = ["bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_left_shift", "bitwise_right_shift"]
    BIN_BOOL = ["logical_and", "logical_or", "logical_xor", "bitwise_and", "bitwise_xor"]

    def op_unary(self):
        x = self.pick()
        if x is None:
            return
        k = kind(self.dt(x))
        fns = {"f": self.UNARY_F, "c": self.UNARY_C, "i": self.UNARY_I, "u": self.UNARY_I, "b": self.UNARY_B}[k]
        f = str(self.rng.choice(fns))
        if k in "iu" and f == "reciprocal":
            return  # NumPy's integer reciprocal is 1 // x
        if not self.exact(x) and f in ("floor", "ceil", "trunc", "round", "sign", "signbit"):
            return
        if f == "signbit" and self.has_nan(x):
            return  # the sign of a NaN is the platform's (x86 makes -nan, GPUs +nan)
        if f in ("isnan", "isinf", "isfinite") and self.cx_nonfinite(x):
            return  # which component of a complex overflow is inf and which nan is a convention
        out = self.fresh()
        same = f in ("positive", "round", "floor", "ceil", "trunc", "real", "conj", "abs") and k in "iub"
        self.run(f"{out} = xp.{f}({x})", out, fresh=not same and f != "positive")

    def operand(self, x: str, kinds: str = "biufc") -> tuple[str, bool]:
        """A second operand for ``x``: an existing value or a new input whose shape
        broadcasts with it, or a Python scalar. Returns (text, is_scalar)."""
        r = self.rng.random()
        sx = self.arr(x).shape
        if r < 0.3:
            sc = self.scalar(self.dt(x))
            if "b" not in kinds and sc in ("True", "False"):
                sc = "1"
            return sc, True
        if r < 0.6:
            y = self.pick(lambda v: v != x and kind(self.dt(v)) in kinds and _broadcasts(self.arr(v).shape, sx))
            if y is not None:
                return y, False
        d = self.dt(x) if self.rng.random() < 0.6 else str(self.rng.choice(self.dtypes))
        if kind(d) not in kinds:
            d = self.dt(x)
        return self.leaf(self.bshape(sx), d), False

    def op_binary(self):
        x = self.pick()
        if x is None:
            return
        d = self.dt(x)
        k = kind(d)
        groups = [self.BIN_ARITH, self.BIN_CMP]
        if k in "fiu":
            groups.append(self.BIN_FLOAT)
        if k in "iu":
            groups.append(self.BIN_INT)
        if k == "b":  # the standard's arithmetic is for numeric dtypes only
            groups = [self.BIN_BOOL, ["equal", "not_equal", "bitwise_or"]]
        if not self.exact(x) and k != "b":
            groups = [["add", "subtract", "multiply", "divide", "pow", "maximum", "minimum"], ["atan2", "hypot",
                                                                                                  "logaddexp"]]
            if k == "c":
                groups = groups[:1]
        fns = groups[int(self.rng.integers(len(groups)))]
        f = str(self.rng.choice(fns))
        if k == "c" and f in ("less", "less_equal", "greater", "greater_equal", "floor_divide", "remainder",
                              "maximum", "minimum"):
            f = "add"
        kinds = "iu" if f in self.BIN_INT[3:] else "biu" if f in self.BIN_INT else "b" if f in self.BIN_BOOL \
            else "biufc" if f in ("equal", "not_equal") else "iuf" if k != "c" else "iufc"
        y, is_scalar = self.operand(x, kinds)
        if f in ("bitwise_left_shift", "bitwise_right_shift") and not is_scalar and self.rng.random() < 0.7:
            # shift counts mostly within the width, of any integer dtype
            cd = str(self.rng.choice([t for t in self.dtypes if kind(t) in "iu"] or [d]))
            shape = self.bshape(self.arr(x).shape)
            y = self.leaf(shape, cd, self.rng.integers(0, NP_DTYPES[d].itemsize * 8 + 2, shape))
        if f == "pow" and k in "iu" and is_scalar and y not in ("True", "False"):
            y = str(abs(int(float(y))))
        a, b = (y, x) if self.rng.random() < 0.3 else (x, y)
        if y in self.vals and not self.exact(y) and (f in self.BIN_CMP or f in ("floor_divide", "remainder")):
            return
        if f in self.BIN_CMP and (self.cx_nonfinite(x) or (y in self.vals and self.cx_nonfinite(y))):
            return
        if f == "nextafter" and (x in self.prog.loose or y in self.prog.loose):
            return  # the step is the dtype's, and zyx's may be float32 where NumPy's is float64
        if f == "copysign" and b in self.vals and self.has_nan(b):
            return  # the sign of a NaN is the platform's (x86 makes -nan, GPUs +nan)
        out = self.fresh()
        loose = self._loose_binary(f, a, b)
        call = f"xp.{f}({a}, {b})"
        if f in ("maximum", "minimum") and k in "fc":
            call = f"xp.add({call}, 0.0)"  # the sign of a zero max(-0, +0) is unspecified
        self.run(f"{out} = {call}", out, loose=loose, fresh=True)

    def _loose_binary(self, f: str, a: str, b: str) -> bool:
        """Whether zyx's result dtype may legitimately differ from NumPy's (documented)."""
        ka = self._kind_of(a)
        kb = self._kind_of(b)
        if f == "divide" and ka in "biuI" and kb in "biuI":
            return True  # integer true division: zyx gives the default float
        pyfloat = {ka, kb} & {"F", "C"}
        ints = {ka, kb} & set("biu")
        if pyfloat and ints:
            return True  # a Python float with an integer array
        if "C" in {ka, kb}:
            return True
        names = [n for n in (a, b) if n in self.env]
        return any(self.dt(n) == "bfloat16" for n in names) and len({self.dt(n) for n in names}) > 1

    def _kind_of(self, t: str) -> str:
        if t in self.env and t.startswith("v"):
            return kind(self.dt(t))
        if t in ("True", "False"):
            return "b"
        try:
            int(t)
            return "I"
        except ValueError:
            pass
        try:
            float(t)
            return "F"
        except ValueError:
            return "C"

    def op_where(self):
        x = self.pick()
        if x is None:
            return
        sx = self.arr(x).shape
        c = self.pick(lambda v: self.dt(v) == "bool" and _broadcasts(self.arr(v).shape, sx) and self.exact(v))
        if c is None and not self.exact(x):
            c = self.leaf(self.bshape(sx), "bool")
        if c is None:
            c = self.fresh()
            cmp = "equal" if kind(self.dt(x)) == "c" else "less"
            if not self.run(f"{c} = xp.{cmp}({x}, {self.safe_scalar(self.dt(x))})", c):
                c = self.leaf(self.bshape(sx), "bool")
        y, _ = self.operand(x)
        out = self.fresh()
        self.run(f"{out} = xp.where({c}, {x}, {y})", out, loose=self._loose_binary("where", x, y), fresh=True)

    REDUCE = ["sum", "prod", "max", "min", "mean", "any", "all", "argmax", "argmin", "var", "std", "count_nonzero",
              "cumulative_sum", "cumulative_prod"]

    def op_reduce(self):
        x = self.pick()
        if x is None:
            return
        a = self.arr(x)
        d = self.dt(x)
        f = str(self.rng.choice(self.REDUCE))
        if kind(d) == "c" and f in ("max", "min", "argmax", "argmin"):
            f = "sum"
        if kind(d) == "b" and f not in ("any", "all", "count_nonzero"):
            f = str(self.rng.choice(["any", "all", "count_nonzero"]))
        if not self.exact(x) and f in ("argmax", "argmin", "any", "all", "count_nonzero"):
            if kind(d) == "b":
                return
            f = "sum"
        if f in ("argmax", "argmin") and a.size == 0:
            return
        if f in ("prod", "cumulative_prod") and a.size > 16:
            f = "sum"  # a long product overflows or underflows first depending on the order
        kw = []
        if f in ("argmax", "argmin"):
            ax = self.axis(a.ndim, allow_tuple=False)
        elif f in ("cumulative_sum", "cumulative_prod"):
            if a.ndim == 0:
                return
            ax = self.axis(a.ndim, allow_none=a.ndim == 1, allow_tuple=False)
            if self.rng.random() < 0.3:
                kw.append("include_initial=True")
        else:
            ax = self.axis(a.ndim)
        if ax is not None:
            kw.insert(0, f"axis={ax!r}")
        if f not in ("cumulative_sum", "cumulative_prod") and self.rng.random() < 0.3:
            kw.append("keepdims=True")
        if f in ("var", "std") and self.rng.random() < 0.4:
            kw.append("correction=1")
        out = self.fresh()
        loose = f in ("mean", "var", "std", "sum", "prod", "cumulative_sum", "cumulative_prod") and kind(d) in "biu"
        call = f"xp.{f}({', '.join([x] + kw)})"
        if kind(d) in "fc" and f not in ("argmax", "argmin", "count_nonzero", "any", "all"):
            # the sign of a zero sum differs (NumPy: sum([-0.0]) is +0.0, zyx -0.0; zyx's
            # cumulative sums of -0.0 are +0.0), that of max(-0, +0) is unspecified: compare
            # up to it (+ 0.0 makes -0.0 +0.0)
            call = f"xp.add({call}, 0.0)"
        self.run(f"{out} = {call}", out, loose=loose or d in ("float16", "bfloat16")
                 and f in ("mean", "var", "std"), fresh=True)

    def op_movement(self):
        x = self.pick()
        if x is None:
            return
        a = self.arr(x)
        nd = a.ndim
        r = self.rng.random()
        out = self.fresh()
        if r < 0.15:
            shape = _factor(self.rng, a.size, int(self.rng.integers(0, 5)) if a.size else 1)
            if shape is None:
                return
            if shape and self.rng.random() < 0.3 and a.size:
                shape = list(shape)
                shape[int(self.rng.integers(len(shape)))] = -1
                shape = tuple(shape)
            self.run(f"{out} = xp.reshape({x}, {shape!r})", out)
        elif r < 0.25 and nd >= 2:
            perm = tuple(int(p) for p in self.rng.permutation(nd))
            self.run(f"{out} = xp.permute_dims({x}, {perm!r})", out)
        elif r < 0.32:
            self.run(f"{out} = xp.expand_dims({x}, axis={int(self.rng.integers(-nd - 1, nd + 1))})", out)
        elif r < 0.38:
            ones = [i for i, s in enumerate(a.shape) if s == 1]
            if not ones:
                return
            ax = tuple(int(i) for i in self.rng.choice(ones, int(self.rng.integers(1, len(ones) + 1)), replace=False))
            self.run(f"{out} = xp.squeeze({x}, axis={ax!r})", out)
        elif r < 0.46:
            ax = self.axis(nd)
            self.run(f"{out} = xp.flip({x}{'' if ax is None else f', axis={ax!r}'})", out)
        elif r < 0.52:
            target = tuple(int(self.rng.choice([2, 3])) for _ in range(int(self.rng.integers(0, 2)))) + tuple(
                int(self.rng.choice([2, 3])) if s == 1 and self.rng.random() < 0.5 else s for s in a.shape)
            self.run(f"{out} = xp.broadcast_to({x}, {target!r})", out)
        elif r < 0.62 and nd >= 1:
            ax = int(self.rng.integers(-nd, nd))
            shape = list(a.shape)
            shape[ax] = int(self.rng.choice([0, 1, 2, 3]))
            y = self.pick(lambda v: v != x and self.arr(v).shape == tuple(shape)) or self.leaf(
                tuple(shape), self.dt(x) if self.rng.random() < 0.7 else None)
            parts = [x, y] if self.rng.random() < 0.5 else [y, x, y]
            self.run(f"{out} = xp.concat([{', '.join(parts)}], axis={ax})", out,
                     loose=len({self.dt(p) for p in parts}) > 1 and "bfloat16" in {self.dt(p) for p in parts})
        elif r < 0.67:
            y = self.pick(lambda v: v != x and self.arr(v).shape == a.shape) or self.leaf(a.shape, self.dt(x))
            self.run(f"{out} = xp.stack([{x}, {y}], axis={int(self.rng.integers(-nd - 1, nd + 1))})", out,
                     loose="bfloat16" in {self.dt(x), self.dt(y)} and self.dt(x) != self.dt(y))
        elif r < 0.72 and nd >= 1:
            src, dst = (int(self.rng.integers(-nd, nd)) for _ in range(2))
            self.run(f"{out} = xp.moveaxis({x}, {src}, {dst})", out)
        elif r < 0.77:
            ax = self.axis(nd, allow_tuple=False)
            sh = int(self.rng.integers(-7, 8))
            self.run(f"{out} = xp.roll({x}, {sh}{'' if ax is None else f', axis={ax}'})", out)
        elif r < 0.81:
            reps = tuple(int(self.rng.choice([1, 2, 3])) for _ in range(int(self.rng.integers(max(nd, 1), nd + 2))))
            self.run(f"{out} = xp.tile({x}, {reps!r})", out)
        elif r < 0.85 and nd >= 1:
            ax = int(self.rng.integers(-nd, nd))
            self.run(f"{out} = xp.repeat({x}, {int(self.rng.integers(0, 4))}, axis={ax})", out)
        elif r < 0.9 and nd >= 2:
            f = str(self.rng.choice(["matrix_transpose", "tril", "triu"]))
            k = "" if f == "matrix_transpose" else f", k={int(self.rng.integers(-2, 3))}"
            self.run(f"{out} = xp.{f}({x}{k})", out)
        else:
            self.run(f"{out} = {x}[{self.basic_key(a.shape)}]", out)

    def basic_key(self, shape: tuple) -> str:
        parts = []
        for s in shape:
            r = self.rng.random()
            if r < 0.2 and s > 0:
                parts.append(str(int(self.rng.integers(-s, s))))
            elif r < 0.75:
                step = int(self.rng.choice([1, 1, 2, 3, -1, -2]))
                lo = self.rng.choice([None, int(self.rng.integers(-s - 1, s + 2))])
                hi = self.rng.choice([None, int(self.rng.integers(-s - 1, s + 2))])
                parts.append(f"{'' if lo is None else lo}:{'' if hi is None else hi}{'' if step == 1 else f':{step}'}")
            else:
                parts.append(":")
        if self.rng.random() < 0.15:
            parts.insert(int(self.rng.integers(len(parts) + 1)), "None")
        if parts and self.rng.random() < 0.15:
            i = int(self.rng.integers(len(parts)))
            parts = parts[:i] + ["..."]
        return ", ".join(parts) if parts else "..."

    def op_getitem_advanced(self):
        x = self.pick(lambda v: self.arr(v).ndim >= 1)
        if x is None:
            return
        a = self.arr(x)
        out = self.fresh()
        if self.rng.random() < 0.5 and a.shape[0] > 0:
            n = int(self.rng.integers(0, 6))
            idx = self.leaf((n,), self.index_dtype(), self.rng.integers(-a.shape[0], a.shape[0], n))
            self.run(f"{out} = {x}[{idx}]", out, fresh=True)
        else:
            m = self.pick(lambda v: self.dt(v) == "bool" and self.arr(v).shape == a.shape[:self.arr(v).ndim]
                          and self.arr(v).ndim >= 1 and self.exact(v))
            if m is None:
                m = self.leaf(a.shape[:int(self.rng.integers(1, a.ndim + 1))], "bool")
            self.run(f"{out} = {x}[{m}]", out, fresh=True)

    def op_gather(self):
        x = self.pick(lambda v: self.arr(v).ndim >= 1 and 0 not in self.arr(v).shape)
        if x is None:
            return
        a = self.arr(x)
        ax = int(self.rng.integers(-a.ndim, a.ndim))
        n = a.shape[ax]
        it = self.index_dtype()
        out = self.fresh()
        if self.rng.random() < 0.5:
            m = int(self.rng.integers(0, 7))
            idx = self.leaf((m,), it, self.rng.integers(-n, n, m))
            self.run(f"{out} = xp.take({x}, {idx}, axis={ax})", out, fresh=True)
        else:
            shape = list(a.shape)
            shape[ax] = int(self.rng.integers(0, 5))
            idx = self.leaf(tuple(shape), it, self.rng.integers(0, n, tuple(shape)))
            self.run(f"{out} = xp.take_along_axis({x}, {idx}, axis={ax})", out, fresh=True)

    def op_matmul(self):
        x = self.pick(lambda v: self.arr(v).ndim >= 1 and self.dt(v) != "bool")
        if x is None:
            return
        a = self.arr(x)
        k = a.shape[-1]
        if self.rng.random() < 0.2 and a.ndim >= 1:
            y = self.leaf((k,), self.dt(x))
            out = self.fresh()
            self.run(f"{out} = {self.unsigned_zero(f'xp.vecdot({x}, {y})')}", out,
                     loose=self.dt(x) == "bfloat16", fresh=True)
            return
        n = int(self.rng.choice([1, 2, 3, 5, 16, 17, 33])) if self.big else int(self.rng.choice([1, 2, 3, 4]))
        yshape = (k,) if self.rng.random() < 0.15 else (k, n)
        if a.ndim >= 3 and self.rng.random() < 0.5:
            yshape = a.shape[:-2] + yshape if len(yshape) == 2 else yshape
        d = self.dt(x) if self.rng.random() < 0.7 else str(self.rng.choice(self.dtypes))
        if d == "bool":
            d = self.dt(x)
        y = self.pick(lambda v: v != x and self.arr(v).shape == yshape and self.dt(v) != "bool") or self.leaf(yshape, d)
        d = self.dt(y)  # a picked value brings its own dtype
        if self.rng.random() < 0.2:
            y = f"xp.matrix_transpose({y})" if self.arr(y).ndim >= 2 and self.arr(y).shape[-1] == self.arr(y).shape[-2] \
                else y
        out = self.fresh()
        call = f"xp.matmul({x}, {y})"
        if "bfloat16" in (self.dt(x), d):  # NumPy (ml_dtypes) has no bfloat16 matmul: float32
            call = f"xp.astype({call}, xp.result_type({x}, {y}))"
        self.run(f"{out} = {self.unsigned_zero(call)}", out, loose="bfloat16" in (self.dt(x), d) and
                 (self.dt(x), d) != ("bfloat16", "bfloat16"), fresh=True)

    def unsigned_zero(self, call: str) -> str:
        """``call`` + 0.0 for floating results: the sign of a zero sum of products depends on
        the order of the additions (BLAS, tiles), and + 0.0 turns -0.0 into +0.0."""
        try:
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                k = kind(dname(np.asarray(eval(call, self.env)).dtype))
        except Exception:
            return call
        return f"xp.add({call}, 0.0)" if k in "fc" else call

    def op_cast(self):
        x = self.pick()
        if x is None:
            return
        src = self.dt(x)
        dst = str(self.rng.choice(self.dtypes))
        out = self.fresh()
        if kind(src) == "c" and kind(dst) != "c":
            return
        if not self.exact(x) and kind(dst) in "biu":
            return
        if kind(src) in "fc" and kind(dst) in "iu":
            # float -> int is undefined for NaN, inf and out-of-range values: clip first
            info = np.iinfo(NP_DTYPES[dst])
            lo, hi = max(float(info.min), -1e4), min(float(info.max), 1e4)
            self.run(f"{out} = xp.astype(xp.where(xp.isfinite({x}), xp.clip({x}, {lo!r}, {hi!r}), 0), D.{dst})", out,
                     fresh=True)
            return
        self.run(f"{out} = xp.astype({x}, D.{dst})", out, fresh=True)

    def exclusive(self, v: str) -> bool:
        """No other live value shares memory with v (in-place on it is the same in both)."""
        if not STRICT_ALIASING and (v not in self.fresh_vals or v in self.aliased or self.zenv is None):
            return False
        a = self.env[v]
        if not isinstance(a, np.ndarray) or not a.flags.writeable:
            return False
        return not any(u != v and isinstance(self.env[u], np.ndarray) and np.shares_memory(a, self.env[u])
                       for u in self.vals)

    def op_inplace(self):
        x = self.pick(lambda v: self.exclusive(v) and self.arr(v).size > 0)
        if x is None:
            return
        a = self.arr(x)
        target = x
        mods = [x]
        if a.ndim and self.rng.random() < 0.5:
            # through a basic-slice view: w = x[...]; w op= y (the write reaches x)
            w = self.fresh()
            key = ", ".join(f"{int(self.rng.integers(0, max(s, 1)))}:" if self.rng.random() < 0.5 else "::2"
                            if self.rng.random() < 0.5 else ":" for s in a.shape)
            if not self.run(f"{w} = {x}[{key}]", w):
                return
            target = w
            mods = [w, x]
        d = self.dt(target)
        k = kind(d)
        ops = ["+=", "-=", "*="] if k != "b" else ["&=", "|=", "^="]
        if k in "c":
            ops = ["+=", "-=", "*=", "/="]
        if k in "iu":
            ops += ["//=", "%=", "&=", "|=", "^=", "<<="]
        if k in "fc":
            ops += ["/="]
        op = str(self.rng.choice(ops))
        if op == "<<=":
            y = repr(int(self.rng.integers(0, 4)))
        elif self.rng.random() < 0.4:
            y = self.safe_scalar(d)
        else:
            sub = self.arr(target).shape
            yd = d if self.rng.random() < 0.8 else str(self.rng.choice(self.dtypes))
            y = self.pick(lambda v: v not in mods and self.dt(v) == yd and _broadcasts_to(self.arr(v).shape, sub))
            if y is None:
                shape = self.bshape(sub)
                y = self.leaf(shape if _broadcasts_to(shape, sub) else sub, yd)
        self.run(f"{target} {op} {y}", modifies=mods)

    def op_setitem(self):
        x = self.pick(lambda v: self.exclusive(v) and self.arr(v).ndim >= 1 and self.arr(v).size > 0)
        if x is None:
            return
        a = self.arr(x)
        d = self.dt(x)
        r = self.rng.random()
        if r < 0.6:
            key = self.basic_key(a.shape)
        elif r < 0.8:
            key = self.leaf(a.shape, "bool")
        else:
            k = int(self.rng.integers(1, min(4, a.shape[0]) + 1))
            key = self.leaf((k,), self.index_dtype(), self.rng.choice(a.shape[0], k, replace=False))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                sub = np.asarray(eval(f"{x}[{key}]", self.env)).shape
        except Exception:
            return
        if self.rng.random() < 0.5 or r >= 0.6:
            y = self.safe_scalar(d)
        else:
            y = self.leaf(tuple(s for s in sub if self.rng.random() < 0.9 or s != 1), d)
            if not _broadcasts_to(self.arr(y).shape, sub):
                return
        self.run(f"{x}[{key}] = {y}", modifies=[x])

    def op_realize(self):
        live = [v for v in self.vals]
        if not live:
            return
        k = min(len(live), int(self.rng.integers(1, 4)))
        chosen = [str(v) for v in self.rng.choice(live, k, replace=False)]
        self.run(f"realize({', '.join(chosen)})")

    OPS = [("op_unary", 16), ("op_binary", 22), ("op_where", 4), ("op_reduce", 12), ("op_movement", 16),
           ("op_getitem_advanced", 3), ("op_gather", 4), ("op_matmul", 5), ("op_cast", 6), ("op_inplace", 5),
           ("op_setitem", 4), ("op_realize", 4)]

    def build(self) -> Program:
        for _ in range(int(self.rng.integers(1, 4))):
            self.leaf()
        names = [n for n, _ in self.OPS]
        w = np.array([wt for _, wt in self.OPS], dtype=np.float64)
        w /= w.sum()
        tries = 0
        while sum(" = inp(" not in s.text for s in self.prog.stmts) < self.n_ops and tries < self.n_ops * 6:
            tries += 1
            getattr(self, names[int(self.rng.choice(len(names), p=w))])()
        return self.prog


def _broadcasts(a: tuple, b: tuple) -> bool:
    for x, y in zip(reversed(a), reversed(b)):
        if x != y and x != 1 and y != 1:
            return False
    return True


def _broadcasts_to(a: tuple, b: tuple) -> bool:
    if len(a) > len(b):
        return False
    return all(x == y or x == 1 for x, y in zip(reversed(a), reversed(b)))


def _factor(rng, size: int, rank: int):
    if rank == 0:
        return () if size == 1 else None
    if size == 0:
        dims = [int(rng.choice([0, 1, 2, 3])) for _ in range(rank)]
        dims[int(rng.integers(rank))] = 0
        return tuple(dims)
    dims = []
    rest = size
    for _ in range(rank - 1):
        divs = [d for d in range(1, rest + 1) if rest % d == 0 and d <= 64]
        d = int(rng.choice(divs))
        dims.append(d)
        rest //= d
    dims.append(rest)
    rng.shuffle(dims)
    return tuple(dims)


def generate(seed: int, device: str, dtypes, **kw) -> Program:
    return Generator(seed, device, dtypes, **kw).build()


# ----------------------------------------------------------------- running and comparing
@dataclass
class Outcome:
    seed: int
    status: str  # ok, mismatch, error, compile_error
    message: str = ""
    value: str | None = None  # the failing value (or statement's definition)
    line: int | None = None  # the failing statement (errors)


def _zyx_env(prog: Program, device: str):
    import zyx
    import zyx.array_api as zxp
    from zyx import dtypes as zdt
    inputs = prog.inputs
    return {"xp": zxp, "D": DTypes(lambda n: zdt.to_dtype(n)), "realize": zyx.realize,
            "inp": lambda n: zxp.asarray(inputs[n].copy(), device=device)}


def _np_env(prog: Program, mode: str):
    ns = NumpyNS(mode)
    inputs = prog.inputs
    return {"xp": ns, "D": DTypes(ns.dtype), "realize": lambda *a: None,
            "inp": lambda n: ns.convert(inputs[n], prog.seed * 1000 + int(n[1:]))}


def _round_halves(env: dict, ref: dict, names) -> None:
    """In the "midr" run: round the half-precision values of ``names`` as zyx stores them."""
    for n in names:
        v, r = env.get(n), ref.get(n)
        if v is None or r is None or dname(np.asarray(r).dtype) not in _MID:
            continue
        h = np.asarray(v).astype(np.asarray(r).dtype).astype(np.float32)
        if isinstance(v, np.ndarray) and v.flags.writeable and v.dtype == np.float32 and v.shape == h.shape:
            v[...] = h
        else:
            env[n] = h


def _perturb(env: dict, name: str, seed: int, direction: float, floor: float = 0.0) -> None:
    """In the "pert" run: move a computed float value by a few ulps, as another correct
    implementation's rounding might (views of other values are left alone)."""
    v = env.get(name)
    if not isinstance(v, (np.ndarray, np.generic)):
        return
    a = np.asarray(v)
    n = dname(a.dtype)
    if kind(n) not in "fc" or a.size == 0:
        return
    if isinstance(v, np.ndarray) and any(u is not v and isinstance(u, np.ndarray) and u.size and
                                         np.shares_memory(v, u) for k, u in env.items() if k != name):
        return
    eps = max(2.0 ** -7 if n == "bfloat16" else float(np.finfo(a.dtype).eps), floor)
    # one sign pattern for the whole run (random signs let two perturbations cancel
    # exactly): a checkerboard (parity of the index sum), so neighbours along every axis move
    # apart and a value made of differences of near-equal elements (a variance of values near
    # pi/2, along any axis) shows its sensitivity - a uniform factor cannot
    sign = direction * (1 - 2 * (np.indices(a.shape).sum(axis=0) % 2)) if a.ndim else direction
    with np.errstate(all="ignore"):
        env[name] = (a * (1 + 8 * eps * sign)).astype(a.dtype)


def _eps_floor(prog: Program, name: str) -> float:
    """The precision zyx may really compute ``name`` in, where it is coarser than NumPy's
    dtype: float32 for values whose dtype differs (integer division), half precision for
    values computed from halves (fused, not rounded per op)."""
    half = name in prog.halfy and not HALF_ROUNDING_FIXED
    if name in prog.loose:
        return 2.0 ** -7 if half else 2.0 ** -23
    return 2.0 ** -10 if half else 0.0


def execute(prog: Program, stmts=None):
    """Run the statements on zyx (lazily) and on the NumPy references (``MODES``). Returns
    (zyx env, reference envs, error) with error = (statement index, exception) for the
    first statement zyx raised on."""
    stmts = prog.stmts if stmts is None else stmts
    z = _zyx_env(prog, prog.device)
    refs = [_np_env(prog, m) for m in MODES]
    err = None
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i, s in enumerate(stmts):
            exec(s.text, refs[0])
            for m, r in zip(MODES[1:], refs[1:]):
                try:
                    exec(s.text, r)
                except Exception:  # a widened run may refuse what the real one accepts
                    if s.defines:
                        r[s.defines] = None
                if m == "midr":
                    _round_halves(r, refs[0], ((s.defines,) if s.defines else ()) + tuple(s.modifies))
                if m.startswith("pert") and s.defines:
                    _perturb(r, s.defines, prog.seed * 7919 + i, -1.0 if m == "pertneg" else 1.0,
                             _eps_floor(prog, s.defines))
            try:
                exec(s.text, z)
            except Exception as e:
                err = (i, e)
                break
            if s.defines in prog.loose:
                _narrow_to_zyx(refs, z, s.defines)
    return z, refs, err


_NARROW = {np.dtype(np.float64): np.dtype(np.float32), np.dtype(np.complex128): np.dtype(np.complex64)}


def _narrow_to_zyx(refs, z, name: str) -> None:
    """In the "mid" runs, a loose value that zyx holds in single precision where NumPy's is
    double (an integer division: zyx's default float) is rounded to it, so that values
    computed from it overflow where zyx's do (``sinh`` of 300 is finite only in double)."""
    zv = z.get(name)
    zd = NP_DTYPES.get(dname(zv.dtype)) if hasattr(zv, "dtype") else None
    if zd not in _NARROW.values():
        return
    for m, r in zip(MODES, refs):
        v = r.get(name) if m in ("mid", "midr") else None
        if v is not None and hasattr(v, "dtype") and _NARROW.get(np.dtype(v.dtype)) == zd:
            r[name] = np.asarray(v).astype(zd)


def live_values(prog: Program, stmts=None) -> list[str]:
    stmts = prog.stmts if stmts is None else stmts
    return list(dict.fromkeys(s.defines for s in stmts if s.defines))


def classify_error(e: BaseException) -> str:
    return "compile_error" if type(e).__name__ == "CompileError" else "error"


def compare_value(name: str, got, refs, loose: bool, cx: bool = False, tol_floor: float = 0.0) -> str | None:
    """None when zyx's value ``got`` agrees with the NumPy references ``refs`` (one per
    ``MODES``), see the module doc."""
    ref = np.asarray(refs[0])
    gd = dname(got.dtype)
    gn = got.numpy() if hasattr(got, "numpy") else np.asarray(got)
    by = {m: (None if r is None else np.asarray(r)) for m, r in zip(MODES, refs)}
    probes = [by[m] for m in ("wide", "pert", "pertneg") if by[m] is not None]
    if any(p.shape != ref.shape for p in probes):
        return None  # a data-dependent shape that rounding can change: ill-conditioned
    if gn.shape != ref.shape:
        return f"{name}: shape {gn.shape} != NumPy's {ref.shape}"
    if not loose and gd != dname(ref.dtype):
        return f"{name}: dtype {gd} != NumPy's {dname(ref.dtype)}"
    if gn.size == 0:
        return None
    cands = [ref] + [by[m] for m in ("mid", "midr", "wide") if by[m] is not None and by[m].shape == ref.shape]
    gk = kind(gd)
    allint = all(kind(dname(r.dtype)) in "biu" for r in cands + probes)
    if gk in "biu" and allint:
        g = gn.astype(object)
        ok = np.zeros(ref.shape, bool)
        for c in cands:
            ok |= g == c.astype(object)
        agree = np.ones(ref.shape, bool)
        for p in probes:
            agree &= p.astype(object) == ref.astype(object)
        bad = ~ok & agree
        if bad.any():
            i = tuple(int(j) for j in np.argwhere(bad)[0])
            return f"{name}: {int(bad.sum())} of {gn.size} differ, e.g. at {i}: zyx {gn[i]!r} NumPy {ref[i]!r}"
        return None
    tol = max(TOL.get(gd, TOL.get(dname(ref.dtype), 1e-4)), tol_floor)
    # a value beyond the largest finite of zyx's (narrower, "loose") dtype overflows to inf there
    gmax = float(ml_dtypes.finfo(gn.dtype).max) if gk in "fc" else np.inf
    g, cs, ps = _c128(gn), [_c128(c) for c in cands], [_c128(p) for p in probes]
    complex_ = any(kind(dname(a.dtype)) == "c" for a in [gn] + cands)
    mag = np.abs(cs[0])  # a component is compared at the scale of the whole number
    mfin = np.isfinite(mag)
    scale = np.where(mfin, mag, 0) + 1e-3 * (np.max(mag[mfin]) if mfin.any() else 0.0) + 1e-30
    for part, take in (("", np.real), (" (imag)", np.imag)):
        if part and not complex_:
            break
        gp, cp, pp = take(g), [take(c) for c in cs], [take(p) for p in ps]
        rp = cp[0]
        fin = np.isfinite(rp)
        with np.errstate(all="ignore"):
            ok = np.zeros(ref.shape, bool)
            for c in cp:
                ok |= (np.isnan(c) & np.isnan(gp)) | (np.isinf(c) & (gp == c)) | \
                    (np.isfinite(c) & (np.abs(gp - c) <= tol * scale)) | \
                    (np.isinf(gp) & (np.abs(c) > gmax) & (np.sign(gp) == np.sign(c)))  # past zyx's dtype
            agree = np.ones(ref.shape, bool)
            for p in pp:
                agree &= (np.isnan(p) & np.isnan(rp)) | (np.isinf(p) & (p == rp)) | \
                    (np.isfinite(p) & fin & (np.abs(p - rp) <= tol / 4 * scale))
            if cx:  # complex infinities: C99 Annex G (zyx, the standard) and NumPy part ways
                for c in cs:
                    agree &= np.isfinite(c)
                agree &= np.isfinite(g)
            bad = ~ok & agree
        if bad.any():
            i = tuple(int(j) for j in np.argwhere(bad)[0])
            return (f"{name}{part}: {int(bad.sum())} of {gn.size} differ, e.g. at {i}: zyx {gp[i]!r} "
                    f"NumPy {rp[i]!r}")
    return None


def _c128(a: np.ndarray) -> np.ndarray:
    if a.dtype == NP_DTYPES["bfloat16"]:
        a = a.astype(np.float64)
    return a.astype(np.clongdouble)


def check(prog: Program, stmts=None) -> Outcome:
    """Execute and compare one program (realizing its values itself unless ``realized``)."""
    stmts = prog.stmts if stmts is None else stmts
    z, refs, err = execute(prog, stmts)
    if err is not None:
        i, e = err
        return Outcome(prog.seed, classify_error(e), _short(e), stmts[i].defines, i)
    return compare_envs(prog, stmts, z, refs)


def compare_envs(prog: Program, stmts, z, refs, realize: bool = True) -> Outcome:
    import zyx
    names = live_values(prog, stmts)
    if realize:
        try:
            zyx.realize(*[z[n] for n in names if hasattr(z[n], "realize")])
        except Exception as e:
            return Outcome(prog.seed, classify_error(e), _short(e), None, None)
    for n in names:
        try:
            # a fused half-precision value is not rounded (HALF_ROUNDING_FIXED): it may stay
            # finite where NumPy's overflows, so its infinities get the complex leniency
            lenient = n in prog.cx or (not HALF_ROUNDING_FIXED and n in prog.halfy)
            msg = compare_value(n, z[n], [r.get(n) for r in refs], n in prog.loose, lenient, prog.tol.get(n, 0.0))
        except Exception as e:
            return Outcome(prog.seed, classify_error(e), f"{n}: {_short(e)}", n, None)
        if msg:
            return Outcome(prog.seed, "mismatch", msg, n, None)
    return Outcome(prog.seed, "ok")


def _short(e: BaseException) -> str:
    s = f"{type(e).__name__}: {e}"
    lines = s.splitlines()
    return "\n".join(lines[:12])


def run_batch(progs: list[Program]) -> list[Outcome]:
    """Check several programs, realizing all of their values in one call (one compiler
    run on the cpu device); a failure of the joint realize is attributed by rerunning the
    programs one by one."""
    import zyx
    envs, outs = [], {}
    for p in progs:
        z, refs, err = execute(p)
        if err is not None:
            i, e = err
            outs[p.seed] = Outcome(p.seed, classify_error(e), _short(e), p.stmts[i].defines, i)
        else:
            envs.append((p, z, refs))
    try:
        zyx.realize(*[z[n] for p, z, _ in envs for n in live_values(p) if hasattr(z[n], "realize")])
        joint = True
    except Exception:
        joint = False
    for p, z, refs in envs:
        outs[p.seed] = compare_envs(p, p.stmts, z, refs, realize=False) if joint else check(p)
    return [outs[p.seed] for p in progs]


# ----------------------------------------------------------------- minimal repros
def backward_slice(prog: Program, target: str | None, upto: int | None = None) -> list[Stmt]:
    """The statements the value ``target`` (or statement ``upto``) depends on."""
    stmts = prog.stmts if upto is None else prog.stmts[:upto + 1]
    need = set(stmts[upto].uses) | ({stmts[upto].defines} if stmts[upto].defines else set()) if upto is not None \
        else {target}
    keep = []
    for s in reversed(stmts):
        touches = ({s.defines} if s.defines else set()) | set(s.modifies)
        if (upto is not None and s is stmts[upto]) or touches & need:
            keep.append(s)
            need |= set(s.uses) | set(s.modifies)
    return list(reversed(keep))


def minimize(prog: Program, outcome: Outcome, budget: int = 40) -> list[Stmt]:
    """A small statement list that still fails the same way (status kept)."""
    if outcome.line is not None:
        stmts = backward_slice(prog, None, outcome.line)
    elif outcome.value is not None:
        stmts = backward_slice(prog, outcome.value)
    else:
        stmts = list(prog.stmts)

    def fails(cand) -> bool:
        try:
            o = check(prog, cand)
        except Exception:
            return False
        return o.status == outcome.status

    if not fails(stmts):
        return stmts
    i = len(stmts) - 2
    while i >= 0 and budget > 0:
        s = stmts[i]
        if not s.text.startswith("realize") and s.defines and any(s.defines in t.uses for t in stmts[i + 1:]):
            i -= 1
            continue
        cand = stmts[:i] + stmts[i + 1:]
        budget -= 1
        if fails(cand):
            stmts = cand
        i -= 1
    return stmts


def repro(prog: Program, stmts: list[Stmt], outcome: Outcome) -> str:
    used = set()
    for s in stmts:
        used |= set(s.uses) | ({s.defines} if s.defines else set())
    lines = ["import numpy as np, ml_dtypes", "import zyx, zyx.array_api as xp", "from zyx import dtypes as D",
             f"dev = {prog.device!r}", "realize = zyx.realize"]
    for n, a in prog.inputs.items():
        if n in used:
            lines.append(f"{n}_np = {_literal(a)}")
    for s in stmts:
        t = s.text
        if " = inp(" in t:
            n = s.defines
            t = f"{n} = xp.asarray({n}_np, device=dev)"
        lines.append(t)
    lines.append(f"# {outcome.status}: {outcome.message.splitlines()[0] if outcome.message else ''}")
    if outcome.value:
        lines.append(f"print({outcome.value}.numpy())  # compare with the same statements on NumPy")
    return "\n".join(lines)


def _literal(a: np.ndarray) -> str:
    d = dname(a.dtype)
    dt = f"ml_dtypes.{d}" if d == "bfloat16" else f"np.{d}"
    with np.printoptions(threshold=10 ** 6, floatmode="unique"):
        vals = a.astype(np.float32).tolist() if d in ("bfloat16", "float16") else a.tolist()
    return f"np.array({vals!r}, dtype={dt})".replace("nan", "np.nan").replace("inf", "np.inf")


def device_dtypes(device: str) -> list[str]:
    import zyx
    dev = zyx.get_device(device)
    return [d.name for d in zyx.dtypes.ALL if dev.supports(d)]


def fuzz(device: str, seeds, batch: int = 10, **kw) -> list[tuple[Outcome, str]]:
    """Run the programs of ``seeds`` on ``device``; returns (outcome, repro) per failure."""
    dts = device_dtypes(device)
    seeds = list(seeds)
    failures = []
    for i in range(0, len(seeds), batch):
        progs = [generate(s, device, dts, **kw) for s in seeds[i:i + batch]]
        for p, o in zip(progs, run_batch(progs)):
            if o.status != "ok":
                try:
                    text = repro(p, minimize(p, o), o)
                except Exception:
                    text = f"(repro failed: {traceback.format_exc(limit=2)})\n" + p.text()
                failures.append((o, text))
    return failures


__all__ = ["Program", "Stmt", "Outcome", "Generator", "generate", "execute", "check", "run_batch", "minimize",
           "repro", "fuzz", "device_dtypes", "compare_value", "backward_slice", "math"]
