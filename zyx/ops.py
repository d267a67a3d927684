"""The primitive op set: one record (``OpDef``) per primitive, in the table ``OPS``.
Everything else in zyx is composed from these.

A record says what the rest of zyx needs to know about a primitive: its category (how the
scheduler and the lowering treat it), arity, the dtype of its result, the dtype kinds it is
defined on, whether it is a transcendental function (cost), whether it has a gradient, and
its Tensor method and array-API function where one exists. The sets ``UNARY``, ``BINARY``,
``COMPARE``, ... are derived from the table.

Where the rest lives (``tests/test_op_registry.py`` checks each for every primitive):
backward rules in ``zyx/autograd/rules.py`` (``RULES``, keyed by name); each language's
spelling in its renderer's ``alu`` / tables (``Renderer.spells(op, dtype)`` asks);
compositions in ``zyx/_math.py``. docs/ARCHITECTURE.md, "How to add an op", walks through it.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OpDef:
    """One primitive.

    * ``category``: unary, binary, compare, ternary, cast (elementwise); source, movement,
      reduce, gather.
    * ``dtype``: the result dtype given the operands' (promoted) dtype ``d``: ``same`` (``d``;
      WHERE: its second and third operands'), ``bool``, ``real`` (``dtypes.real_of(d)``: the
      real part of a complex ``d``, ``d`` itself when real), ``complex``
      (``dtypes.complex_of(d)``), ``given`` (the op's argument: CAST, BITCAST, the sources),
      ``index`` (GATHER: the source's dtype, read through integer indices).
    * ``kinds``: the dtype kinds (``b i u f c``) of operands the primitive is built with
      (after ``float_args`` promotion) and every renderer spells; the functions of ``_math.py``
      raise TypeError for the others or compose them (a complex ``round``, a bool ``abs``).
    * ``float_args``: integer and boolean operands are first promoted to a floating dtype
      (NumPy's rule for math functions: int8 -> float16, int16 -> float32, ...).
    * ``transcendental``: a math-library function (counts as expensive for the scheduler's
      recompute limit; the host tier evaluates it only through the device's own functions).
    * ``differentiable``: False where no gradient flows (bit-level ops, integer/boolean results);
      every other primitive has a rule in ``autograd.rules.RULES``.
    * ``tensor`` / ``array_api``: the Tensor method and ``zyx.array_api`` function that
      expose it (None: only a composition or an internal caller uses it).
    """

    name: str
    category: str
    arity: int
    dtype: str = "same"
    kinds: str = "biufc"
    float_args: bool = False
    transcendental: bool = False
    differentiable: bool = True
    tensor: str | None = None
    array_api: str | None = None

    @property
    def elementwise(self) -> bool:
        return self.category in _ELEMENTWISE_CATEGORIES


_ELEMENTWISE_CATEGORIES = frozenset({"unary", "binary", "compare", "ternary", "cast"})


def _table(category: str, arity: int, rows: str, **common) -> dict[str, OpDef]:
    """Rows ``NAME tensor_name array_api_name [flag ...]`` (``-``: none). Flags: ``t``
    transcendental, ``f`` float arguments, ``nd`` not differentiable, ``k=KINDS``,
    ``d=DTYPE``."""
    out = {}
    for line in rows.strip().splitlines():
        name, tensor, api, *flags = line.split()
        kw = dict(common)
        for fl in flags:
            if fl == "t":
                kw["transcendental"] = True
            elif fl == "f":
                kw["float_args"] = True
            elif fl == "nd":
                kw["differentiable"] = False
            elif fl.startswith("k="):
                kw["kinds"] = fl[2:]
            elif fl.startswith("d="):
                kw["dtype"] = fl[2:]
            else:
                raise ValueError(f"ops table: unknown flag {fl!r} in {line!r}")
        out[name] = OpDef(name, category, arity, tensor=None if tensor == "-" else tensor,
                          array_api=None if api == "-" else api, **kw)
    return out


# name        Tensor method     array-API function   flags
OPS: dict[str, OpDef] = {
    **_table("unary", 1, """
NEG           neg               negative             k=iufc
EXP           exp               exp                  f t k=fc
EXP2          exp2              -                    f t k=f
EXPM1         expm1             expm1                f t k=fc
LOG           log               log                  f t k=fc
LOG2          log2              log2                 f t k=fc
LOG10         log10             log10                f t k=fc
LOG1P         log1p             log1p                f t k=fc
SQRT          sqrt              sqrt                 f k=fc
RECIP         reciprocal        reciprocal           f k=fc
SIN           sin               sin                  f t k=fc
COS           cos               cos                  f t k=fc
TAN           tan               tan                  f t k=fc
ASIN          asin              asin                 f t k=fc
ACOS          acos              acos                 f t k=fc
ATAN          atan              atan                 f t k=fc
SINH          sinh              sinh                 f t k=fc
COSH          cosh              cosh                 f t k=fc
TANH          tanh              tanh                 f t k=fc
ASINH         asinh             asinh                f t k=fc
ACOSH         acosh             acosh                f t k=fc
ATANH         atanh             atanh                f t k=fc
FLOOR         floor             floor                k=f
CEIL          ceil              ceil                 k=f
ROUND         round             round                k=f
TRUNC         trunc             trunc                k=f
ABS           abs               abs                  d=real k=iufc
ERF           erf               -                    f t k=f
NOT           logical_not       logical_not          k=b nd
BITNOT        bitwise_not       bitwise_invert       k=biu nd
ISNAN         isnan             isnan                d=bool k=f nd
ISINF         isinf             isinf                d=bool k=f nd
SIGNBIT       signbit           signbit              d=bool k=biuf nd
REAL          real              real                 d=real k=c
IMAG          imag              imag                 d=real k=c
CONJ          conj              conj                 k=c
ANGLE         angle             -                    d=real k=c
"""),
    **_table("binary", 2, """
ADD           add               add
SUB           sub               subtract
MUL           mul               multiply
DIV           truediv           divide               k=fc
IDIV          floordiv          floor_divide         k=iuf
MOD           mod               remainder            k=iuf
POW           pow               pow                  t k=iufc
MAX           maximum           maximum              k=biuf
MIN           minimum           minimum              k=biuf
ATAN2         atan2             atan2                f t k=f
HYPOT         hypot             hypot                f t k=f
COPYSIGN      copysign          copysign             f k=f
NEXTAFTER     nextafter         nextafter            f k=f nd
LOGADDEXP     logaddexp         logaddexp            f t k=f
AND           bitwise_and       bitwise_and          k=biu nd
OR            bitwise_or        bitwise_or           k=biu nd
XOR           bitwise_xor       bitwise_xor          k=biu nd
SHL           lshift            bitwise_left_shift   k=iu nd
SHR           rshift            bitwise_right_shift  k=iu nd
COMPLEX       -                 -                    d=complex k=f
"""),
    **_table("compare", 2, """
CMPLT         lt                less                 k=biuf
CMPLE         le                less_equal           k=biuf
CMPEQ         eq                equal
CMPNE         ne                not_equal
""", dtype="bool", differentiable=False),
    **_table("ternary", 3, """
WHERE         where             -
"""),
    **_table("cast", 1, """
CAST          cast              -                    d=given
BITCAST       bitcast           -                    d=given k=biuf nd
"""),
    **_table("source", 0, """
BUFFER        -                 -                    d=given
CONST         -                 -                    d=given
IOTA          -                 -                    d=given
RAND          -                 -                    d=given
""", differentiable=False),
    **_table("movement", 1, """
RESHAPE       reshape           -
PERMUTE       permute           -
EXPAND        expand            -
SHRINK        -                 -
PAD           pad               -
"""),
    **_table("reduce", 1, """
REDUCE        -                 -
"""),
    **_table("gather", 2, """
GATHER        -                 -                    d=index
"""),
}


def category(cat: str) -> frozenset[str]:
    """The names of the primitives of category ``cat``."""
    return frozenset(n for n, o in OPS.items() if o.category == cat)


# the sets the rest of zyx tests op names against, derived from the table
COMPARE = category("compare")
UNARY = category("unary")
BINARY = category("binary") | COMPARE  # elementwise, two inputs of one dtype (comparisons included)
TERNARY = category("ternary")
CASTS = category("cast")
SOURCES = category("source")  # leaves
MOVEMENT = category("movement")
REDUCE = "REDUCE"
GATHER = "GATHER"
REDUCE_KINDS = ("SUM", "PROD", "MAX", "MIN")
ELEMENTWISE = frozenset(n for n, o in OPS.items() if o.elementwise)
# expensive to evaluate (the scheduler stores rather than recomputes them)
TRANSCENDENTAL = frozenset(n for n, o in OPS.items() if o.transcendental)


def result_dtype(op: str, d):
    """The dtype of ``op``'s result for operands of (promoted) dtype ``d`` (not for the
    ``given`` rule, whose dtype is the op's argument)."""
    from . import dtypes as dt
    rule = OPS[op].dtype
    if rule == "same" or rule == "index":
        return d
    if rule == "bool":
        return dt.bool_
    if rule == "real":
        return dt.real_of(d)
    if rule == "complex":
        return dt.complex_of(d)
    raise ValueError(f"{op}: the result dtype is the op's argument")


def reduce_identity(kind: str, dtype):
    """The value a reduction starts from (and pads with): 0, 1, the lowest or the highest
    value of ``dtype`` (-inf / +inf for floats; False / True for bool)."""
    from . import dtypes as dt
    if kind == "SUM":
        return False if dtype.kind == "b" else 0
    if kind == "PROD":
        return True if dtype.kind == "b" else 1
    return dt.min_value(dtype) if kind == "MAX" else dt.max_value(dtype)
