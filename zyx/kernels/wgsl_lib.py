"""The WGSL helper library: functions a generated shader may call, emitted on demand.

WGSL has no overloading, so every helper is spelled per type (``zyx_floordiv_i32``,
``zyx_exp_f64``...). ``HELPERS`` maps a key (the function name without ``zyx_``) to its
source; ``deps(key)`` lists the helpers it calls, found by scanning its text, so a
renderer only asks for what it uses and gets everything underneath, dependencies first.

Vulkan's GLSL.std.450 transcendental functions are 32-bit only, and the 32-bit ones are
approximate on some drivers (llvmpipe: asin off by 2e-4, sinh(1e-30) = 3e-8, atan(nan)
= 0), so exp, log, sin, cos, tan, atan, atan2, asin, acos, the hyperbolic functions and
their inverses are computed here in software for both f32 and f64 (range reduction +
polynomials, a few ulp; sin/cos reduce by pi/2 in three parts for moderate |x| and by
Payne-Hanek with 192 bits of 2/pi beyond). NaN tests use bit patterns, because drivers
may compile with fast-math assumptions.
"""
from __future__ import annotations

import re

def _float_helpers(t: str) -> dict[str, str]:
    """Helpers for one float type (f32 or f64); f64 ones need 64-bit integers."""
    return {**_float_bits(t), **_float_math(t)}


def _float_consts(t: str) -> tuple:
    """The spellings the parts of ``_float_helpers`` share."""
    u = "u32" if t == "f32" else "u64"
    s = "u" if t == "f32" else "lu"
    absmask, expmask, sign, qnan = (("0x7fffffff", "0x7f800000", "0x80000000", "0x7fc00000") if t == "f32" else
                                    ("0x7fffffffffffffff", "0x7ff0000000000000", "0x8000000000000000",
                                     "0x7ff8000000000000"))
    lit = "" if t == "f32" else "lf"
    one, zero, half = f"1.0{lit}", f"0.0{lit}", f"0.5{lit}"
    mb = 23 if t == "f32" else 52
    mmask, hidden = hex((1 << mb) - 1), hex(1 << mb)
    return (u, s, absmask, expmask, sign, qnan, lit, one, zero, half, mb, mmask, hidden)


def _float_bits(t: str) -> dict[str, str]:
    """Bit tests, NaN-aware selects and NumPy's division and modulo."""
    (u, s, absmask, expmask, sign, qnan, lit, one, zero, half, mb, mmask, hidden) = _float_consts(t)
    return {
        f"isnan_{t}": f"fn zyx_isnan_{t}(x: {t}) -> bool {{ return (bitcast<{u}>(x) & {absmask}{s}) > {expmask}{s}; }}",
        f"isinf_{t}": f"fn zyx_isinf_{t}(x: {t}) -> bool {{ return (bitcast<{u}>(x) & {absmask}{s}) == {expmask}{s}; }}",
        f"signbit_{t}": f"fn zyx_signbit_{t}(x: {t}) -> bool {{ return (bitcast<{u}>(x) & {sign}{s}) != 0{s}; }}",
        f"inf_{t}": f"fn zyx_inf_{t}() -> {t} {{ return bitcast<{t}>({expmask}{s}); }}",
        f"nan_{t}": f"fn zyx_nan_{t}() -> {t} {{ return bitcast<{t}>({qnan}{s}); }}",
        f"copysign_{t}": (f"fn zyx_copysign_{t}(a: {t}, b: {t}) -> {t} {{ return bitcast<{t}>((bitcast<{u}>(a) & "
                          f"{absmask}{s}) | (bitcast<{u}>(b) & {sign}{s})); }}"),
        f"max_{t}": (f"fn zyx_max_{t}(a: {t}, b: {t}) -> {t} {{ if (a > b || zyx_isnan_{t}(a)) {{ return a; }} "
                     f"return b; }}"),
        f"min_{t}": (f"fn zyx_min_{t}(a: {t}, b: {t}) -> {t} {{ if (a < b || zyx_isnan_{t}(a)) {{ return a; }} "
                     f"return b; }}"),
        f"fmod_{t}": f"""fn zyx_fmod_{t}(a: {t}, b: {t}) -> {t} {{
  if (zyx_isnan_{t}(a) || zyx_isnan_{t}(b) || zyx_isinf_{t}(a) || b == {zero}) {{ return zyx_nan_{t}(); }}
  if (zyx_isinf_{t}(b)) {{ return a; }}
  // exact remainder by long division on the integer significands (as C's fmod)
  let ax = bitcast<{u}>(a) & {absmask}{s}; let ay = bitcast<{u}>(b) & {absmask}{s};
  if (ax < ay) {{ return a; }}
  if (ax == ay) {{ return zyx_copysign_{t}({zero}, a); }}
  var ex = i32(ax >> {mb}u); var ey = i32(ay >> {mb}u);
  var mx = ax & {mmask}{s}; var my = ay & {mmask}{s};
  if (ex == 0) {{ ex = 1; while ((mx & {hidden}{s}) == 0{s}) {{ mx = mx << 1u; ex = ex - 1; }} }} else {{ mx = mx | {hidden}{s}; }}
  if (ey == 0) {{ ey = 1; while ((my & {hidden}{s}) == 0{s}) {{ my = my << 1u; ey = ey - 1; }} }} else {{ my = my | {hidden}{s}; }}
  for (; ex > ey; ex--) {{
    if (mx >= my) {{ mx = mx - my; if (mx == 0{s}) {{ return zyx_copysign_{t}({zero}, a); }} }}
    mx = mx << 1u;
  }}
  if (mx >= my) {{ mx = mx - my; if (mx == 0{s}) {{ return zyx_copysign_{t}({zero}, a); }} }}
  while ((mx & {hidden}{s}) == 0{s}) {{ mx = mx << 1u; ex = ex - 1; }}
  var r: {u};
  if (ex > 0) {{ r = (mx & {mmask}{s}) | ({u}(ex) << {mb}u); }} else {{ r = mx >> u32(1 - ex); }}
  return zyx_copysign_{t}(bitcast<{t}>(r), a);
}}""",
        f"div0_{t}": f"""fn zyx_div0_{t}(a: {t}) -> {t} {{  // a / +0, spelled out so no compiler folds it
  if (a == {zero} || zyx_isnan_{t}(a)) {{ return zyx_nan_{t}(); }}
  return select(zyx_inf_{t}(), -zyx_inf_{t}(), zyx_signbit_{t}(a));
}}""",
        f"fdiv_{t}": f"""fn zyx_fdiv_{t}(a: {t}, b: {t}) -> {t} {{
  if (!zyx_isnan_{t}(b) && b == {zero}) {{
    let q = zyx_div0_{t}(a);
    if (zyx_signbit_{t}(b)) {{ return -q; }}
    return q;
  }}
  return a / b;
}}""",
        f"floordiv_{t}": f"""fn zyx_floordiv_{t}(a: {t}, b: {t}) -> {t} {{
  if (zyx_isnan_{t}(a) || zyx_isnan_{t}(b)) {{ return zyx_nan_{t}(); }}
  if (b == {zero}) {{  // a / 0 spelled out: a compiler that knows b == 0 may fold the division
    if (a == {zero}) {{ return zyx_nan_{t}(); }}
    return select(zyx_inf_{t}(), -zyx_inf_{t}(), zyx_signbit_{t}(a) != zyx_signbit_{t}(b));
  }}
  if (zyx_isinf_{t}(a)) {{ return zyx_nan_{t}(); }}
  let m = zyx_fmod_{t}(a, b);
  var d = (a - m) / b;
  if (m != {zero} && ((b < {zero}) != (m < {zero}))) {{ d = d - {one}; }}
  if (d != {zero}) {{ var f = floor(d); if (d - f > {half}) {{ f = f + {one}; }} return f; }}
  return zyx_copysign_{t}({zero}, a / b);
}}""",
        f"pymod_{t}": f"""fn zyx_pymod_{t}(a: {t}, b: {t}) -> {t} {{
  if (b == {zero} || zyx_isnan_{t}(a) || zyx_isnan_{t}(b) || zyx_isinf_{t}(a)) {{ return zyx_nan_{t}(); }}
  if (zyx_isinf_{t}(b)) {{
    if (a == {zero} || (a < {zero}) == (b < {zero})) {{ return select(a, zyx_copysign_{t}({zero}, b), a == {zero}); }}
    return b;
  }}
  var m = zyx_fmod_{t}(a, b);
  if (m != {zero}) {{ if ((b < {zero}) != (m < {zero})) {{ m = m + b; }} }} else {{ m = zyx_copysign_{t}({zero}, b); }}
  return m;
}}""",
    }


def _float_math(t: str) -> dict[str, str]:
    """Math functions not built into WGSL (pow, expm1, log1p, hypot, erf, nextafter)."""
    (u, s, absmask, expmask, sign, qnan, lit, one, zero, half, mb, mmask, hidden) = _float_consts(t)
    return {
        f"pow_{t}": f"""fn zyx_pow_{t}(x: {t}, y: {t}) -> {t} {{
  if (y == {zero} || x == {one}) {{ return {one}; }}
  if (zyx_isnan_{t}(x) || zyx_isnan_{t}(y)) {{ return zyx_nan_{t}(); }}
  if (zyx_isinf_{t}(x) && !zyx_isinf_{t}(y)) {{
    let yo = trunc(y) == y && zyx_fmod_{t}(abs(y), 2.0{lit}) == {one};
    let mag = select({zero}, zyx_inf_{t}(), y > {zero});
    return select(mag, zyx_copysign_{t}(mag, x), x < {zero} && yo);
  }}
  let yint = trunc(y) == y && !zyx_isinf_{t}(y);
  let yodd = yint && abs(y) < 9007199254740992.0{lit} && zyx_fmod_{t}(abs(y), 2.0{lit}) == {one};
  if (x == {zero}) {{
    if (y < {zero}) {{ return select(zyx_inf_{t}(), zyx_copysign_{t}(zyx_inf_{t}(), x), yodd); }}
    return select({zero}, x, yodd);
  }}
  if (zyx_isinf_{t}(y)) {{
    if (abs(x) == {one}) {{ return {one}; }}
    if ((abs(x) > {one}) == (y > {zero})) {{ return zyx_inf_{t}(); }}
    return {zero};
  }}
  if (x < {zero}) {{
    if (!yint) {{ return zyx_nan_{t}(); }}
    let r = exp(y * log(-x));
    return select(r, -r, yodd);
  }}
  return exp(y * log(x));
}}""",
        f"expm1_{t}": f"""fn zyx_expm1_{t}(x: {t}) -> {t} {{
  if (abs(x) < {half}) {{  // Taylor series: no cancellation (drivers may reassociate exp(x) - 1 tricks)
    var p = {one};
    for (var n = {18 if t == 'f64' else 10}; n >= 2; n--) {{ p = {one} + p * x / {t}(n); }}
    return x * p;
  }}
  return exp(x) - {one};
}}""",
        f"log1p_{t}": f"""fn zyx_log1p_{t}(x: {t}) -> {t} {{
  if (zyx_isnan_{t}(x) || x < -{one}) {{ return zyx_nan_{t}(); }}
  if (abs(x) < {half}) {{  // 2 atanh(x / (2 + x)) as a series: no cancellation
    let s = x / (2.0{lit} + x);
    let z = s * s;
    var p = {one};
    for (var n = {41 if t == 'f64' else 17}; n >= 3; n -= 2) {{ p = {one} + p * z * {t}(n - 2) / {t}(n); }}
    return 2.0{lit} * s * p;
  }}
  return log({one} + x);
}}""",
        f"hypot_{t}": f"""fn zyx_hypot_{t}(a: {t}, b: {t}) -> {t} {{
  if (zyx_isinf_{t}(a) || zyx_isinf_{t}(b)) {{ return zyx_inf_{t}(); }}
  let x = abs(a); let y = abs(b);
  let m = max(x, y);
  if (m == {zero} || zyx_isnan_{t}(a) || zyx_isnan_{t}(b)) {{ return a + b + m; }}
  let p = x / m; let q = y / m;
  return m * sqrt(p * p + q * q);
}}""",
        f"erf_{t}": f"""fn zyx_erf_{t}(x: {t}) -> {t} {{
  let ax = abs(x);
  if (zyx_isnan_{t}(x) || x == {zero}) {{ return x; }}
  // the alternating series cancels as x grows: in f32 it lost 2.4e-6 relative by x = 2.5,
  // where the continued fraction below is good to ~7e-8 from x = 1 on (f64: series to 2.5)
  if (ax < {'2.5' if t == 'f64' else '1.0'}{lit}) {{
    var term = x; var sum = x; let x2 = x * x;
    for (var n = 1; n < {40 if t == 'f64' else 24}; n++) {{
      term = -term * x2 / {t}(n);
      sum = sum + term / {t}(2 * n + 1);
    }}
    return sum * 1.1283791670955126{lit};
  }}
  if (ax > 6.0{lit}) {{ return zyx_copysign_{t}({one}, x); }}
  var f = ax;
  for (var n = 60; n >= 1; n--) {{ f = ax + ({t}(n) * {half}) / f; }}
  let erfc = exp(-ax * ax) / f * 0.5641895835477563{lit};
  return zyx_copysign_{t}({one} - erfc, x);
}}""",
        f"nextafter_{t}": f"""fn zyx_nextafter_{t}(a: {t}, b: {t}) -> {t} {{
  if (zyx_isnan_{t}(a) || zyx_isnan_{t}(b)) {{ return zyx_nan_{t}(); }}
  if (a == b) {{ return b; }}
  if (a == {zero}) {{ return zyx_copysign_{t}(bitcast<{t}>(1{s}), b); }}
  let bits = bitcast<{u}>(a);
  if ((a < b) == (a > {zero})) {{ return bitcast<{t}>(bits + 1{s}); }}
  return bitcast<{t}>(bits - 1{s});
}}""",
    }


def _complex_helpers(t: str) -> dict[str, str]:
    v = f"vec2<{t}>"
    lit = "" if t == "f32" else "lf"
    one, zero = f"1.0{lit}", f"0.0{lit}"
    return {
        f"cmul_{t}": f"fn zyx_cmul_{t}(a: {v}, b: {v}) -> {v} {{ return {v}(a.x * b.x - a.y * b.y, a.x * b.y + a.y * b.x); }}",
        f"cdiv_{t}": f"""fn zyx_cdiv_{t}(a: {v}, b: {v}) -> {v} {{
  if (abs(b.x) >= abs(b.y)) {{
    if (b.x == {zero} && b.y == {zero}) {{ return {v}(zyx_div0_{t}(a.x), zyx_div0_{t}(a.y)); }}
    let r = b.y / b.x; let d = b.x + b.y * r;
    return {v}((a.x + a.y * r) / d, (a.y - a.x * r) / d);
  }}
  let r = b.x / b.y; let d = b.x * r + b.y;
  return {v}((a.x * r + a.y) / d, (a.y * r - a.x) / d);
}}""",
        f"cabs_{t}": f"fn zyx_cabs_{t}(z: {v}) -> {t} {{ return zyx_hypot_{t}(z.x, z.y); }}",
        f"cexp_{t}": f"""fn zyx_cexp_{t}(z: {v}) -> {v} {{
  // C99 Annex G special values (NaN/inf tested on bit patterns: Mesa assumes fast math)
  let yfinite = !(zyx_isnan_{t}(z.y) || zyx_isinf_{t}(z.y));
  if (zyx_isinf_{t}(z.x)) {{
    if (z.x < {zero}) {{
      if (!yfinite) {{ return {v}({zero}, {zero}); }}
      return {v}(zyx_copysign_{t}({zero}, cos(z.y)), zyx_copysign_{t}({zero}, sin(z.y)));
    }}
    if (!yfinite) {{ return {v}(z.x, zyx_nan_{t}()); }}
    if (z.y == {zero}) {{ return z; }}
  }}
  if (zyx_isnan_{t}(z.x)) {{
    if (yfinite && z.y == {zero}) {{ return {v}(z.x, z.y); }}
    return {v}(zyx_nan_{t}(), zyx_nan_{t}());
  }}
  let e = exp(z.x);
  if (z.y == {zero}) {{ return {v}(e, z.y); }}
  return {v}(e * cos(z.y), e * sin(z.y));
}}""",
        f"clog_{t}": f"fn zyx_clog_{t}(z: {v}) -> {v} {{ return {v}(log(zyx_hypot_{t}(z.x, z.y)), atan2(z.y, z.x)); }}",
        f"csqrt_{t}": f"""fn zyx_csqrt_{t}(z: {v}) -> {v} {{
  if (z.x == {zero} && z.y == {zero}) {{ return {v}({zero}, z.y); }}
  if (zyx_isinf_{t}(z.y)) {{ return {v}(abs(z.y), z.y); }}
  let t = sqrt((abs(z.x) + zyx_hypot_{t}(z.x, z.y)) * 0.5{lit});
  if (z.x >= {zero}) {{ return {v}(t, z.y / (2.0{lit} * t)); }}
  return {v}(abs(z.y) / (2.0{lit} * t), zyx_copysign_{t}(t, z.y));
}}""",
        f"csinh_{t}": f"""fn zyx_csinh_{t}(z: {v}) -> {v} {{
  let yfinite = !(zyx_isnan_{t}(z.y) || zyx_isinf_{t}(z.y));
  if (yfinite && z.y == {zero}) {{ return {v}(sinh(z.x), z.y); }}
  if (!yfinite && !zyx_isnan_{t}(z.x) && z.x == {zero}) {{ return {v}(z.x, zyx_nan_{t}()); }}
  return {v}(sinh(z.x) * cos(z.y), cosh(z.x) * sin(z.y));
}}""",
        f"ccosh_{t}": f"""fn zyx_ccosh_{t}(z: {v}) -> {v} {{
  let yfinite = !(zyx_isnan_{t}(z.y) || zyx_isinf_{t}(z.y));
  if (yfinite && z.y == {zero}) {{
    if (zyx_isnan_{t}(z.x)) {{ return {v}(z.x, z.y); }}
    return {v}(cosh(z.x), zyx_copysign_{t}({zero}, z.x) * z.y);
  }}
  if (!yfinite && !zyx_isnan_{t}(z.x) && z.x == {zero}) {{ return {v}(zyx_nan_{t}(), z.x); }}
  return {v}(cosh(z.x) * cos(z.y), sinh(z.x) * sin(z.y));
}}""",
        f"ctanh_{t}": f"""fn zyx_ctanh_{t}(z: {v}) -> {v} {{
  if (!(zyx_isnan_{t}(z.y) || zyx_isinf_{t}(z.y)) && z.y == {zero}) {{ return {v}(tanh(z.x), z.y); }}
  if (abs(z.x) > 20.0{lit}) {{ return {v}(zyx_copysign_{t}({one}, z.x), 4.0{lit} * sin(z.y) * cos(z.y) * exp(-2.0{lit} * abs(z.x))); }}
  let d = cosh(2.0{lit} * z.x) + cos(2.0{lit} * z.y);
  return {v}(sinh(2.0{lit} * z.x) / d, sin(2.0{lit} * z.y) / d);
}}""",
        f"csin_{t}": f"fn zyx_csin_{t}(z: {v}) -> {v} {{ let w = zyx_csinh_{t}({v}(-z.y, z.x)); return {v}(w.y, -w.x); }}",
        f"ccos_{t}": f"fn zyx_ccos_{t}(z: {v}) -> {v} {{ return zyx_ccosh_{t}({v}(-z.y, z.x)); }}",
        f"ctan_{t}": f"fn zyx_ctan_{t}(z: {v}) -> {v} {{ let w = zyx_ctanh_{t}({v}(-z.y, z.x)); return {v}(w.y, -w.x); }}",
        f"casinh_{t}": f"""fn zyx_casinh_{t}(z: {v}) -> {v} {{
  let xfinite = !(zyx_isnan_{t}(z.x) || zyx_isinf_{t}(z.x));
  let yfinite = !(zyx_isnan_{t}(z.y) || zyx_isinf_{t}(z.y));
  if (yfinite && z.y == {zero}) {{ return {v}(asinh(z.x), z.y); }}
  if (xfinite && zyx_isinf_{t}(z.y)) {{
    return {v}(zyx_copysign_{t}(zyx_inf_{t}(), z.x), zyx_copysign_{t}(1.5707963267948966{lit}, z.y)); }}
  if (zyx_isinf_{t}(z.x) && yfinite) {{ return {v}(z.x, zyx_copysign_{t}({zero}, z.y)); }}
  return zyx_clog_{t}(z + zyx_csqrt_{t}(zyx_cmul_{t}(z, z) + {v}({one}, {zero})));
}}""",
        f"cacosh_{t}": f"""fn zyx_cacosh_{t}(z: {v}) -> {v} {{
  let xfinite = !(zyx_isnan_{t}(z.x) || zyx_isinf_{t}(z.x));
  let yfinite = !(zyx_isnan_{t}(z.y) || zyx_isinf_{t}(z.y));
  if (xfinite && zyx_isinf_{t}(z.y)) {{ return {v}(zyx_inf_{t}(), zyx_copysign_{t}(1.5707963267948966{lit}, z.y)); }}
  if (zyx_isinf_{t}(z.x) && yfinite) {{
    var im = {zero};
    if (z.x < {zero}) {{ im = 3.141592653589793{lit}; }}
    return {v}(zyx_inf_{t}(), zyx_copysign_{t}(im, z.y)); }}
  return zyx_clog_{t}(z + zyx_cmul_{t}(zyx_csqrt_{t}(z + {v}({one}, {zero})), zyx_csqrt_{t}(z - {v}({one}, {zero}))));
}}""",
        f"catanh_{t}": f"""fn zyx_catanh_{t}(z: {v}) -> {v} {{
  if (!zyx_isnan_{t}(z.x) && z.x == {zero} && zyx_isnan_{t}(z.y)) {{ return z; }}
  if ((zyx_isinf_{t}(z.x) && !zyx_isnan_{t}(z.y)) || (zyx_isinf_{t}(z.y) && !zyx_isnan_{t}(z.x))) {{
    return {v}(zyx_copysign_{t}({zero}, z.x), zyx_copysign_{t}(1.5707963267948966{lit}, z.y)); }}
  return 0.5{lit} * (zyx_clog_{t}({v}({one}, {zero}) + z) - zyx_clog_{t}({v}({one}, {zero}) - z));
}}""",
        f"casin_{t}": f"fn zyx_casin_{t}(z: {v}) -> {v} {{ let w = zyx_casinh_{t}({v}(-z.y, z.x)); return {v}(w.y, -w.x); }}",
        f"cacos_{t}": (f"fn zyx_cacos_{t}(z: {v}) -> {v} {{ let a = zyx_casin_{t}(z); "
                       f"return {v}(1.5707963267948966{lit} - a.x, -a.y); }}"),
        f"catan_{t}": f"fn zyx_catan_{t}(z: {v}) -> {v} {{ let w = zyx_catanh_{t}({v}(-z.y, z.x)); return {v}(w.y, -w.x); }}",
        f"cpow_{t}": f"""fn zyx_cpow_{t}(a: {v}, b: {v}) -> {v} {{
  if (b.x == {zero} && b.y == {zero}) {{ return {v}({one}, {zero}); }}
  if (a.x == {zero} && a.y == {zero}) {{  // NumPy: 0 when Re(b) > 0, else nan
    if (b.x > {zero}) {{ return {v}({zero}, {zero}); }}
    return {v}(zyx_nan_{t}(), zyx_nan_{t}());
  }}
  return zyx_cexp_{t}(zyx_cmul_{t}(b, zyx_clog_{t}(a)));
}}""",
        # expm1 and log1p without the cancellation of exp(z) - 1 and log(1 + z)
        f"cexpm1_{t}": f"""fn zyx_cexpm1_{t}(z: {v}) -> {v} {{
  if (!zyx_isnan_{t}(z.y) && z.y == {zero}) {{ return {v}(zyx_expm1_{t}(z.x), z.y); }}
  let h = sin(z.y * 0.5{lit});
  return {v}(zyx_expm1_{t}(z.x) * cos(z.y) - 2.0{lit} * h * h, exp(z.x) * sin(z.y));
}}""",
        f"clog1p_{t}": f"""fn zyx_clog1p_{t}(z: {v}) -> {v} {{
  if (abs(z.x) < 0.5{lit} && abs(z.y) < 0.5{lit}) {{
    return {v}(0.5{lit} * zyx_log1p_{t}(z.x * (2.0{lit} + z.x) + z.y * z.y), atan2(z.y, {one} + z.x));
  }}
  return zyx_clog_{t}(z + {v}({one}, {zero}));
}}""",
        f"cisnan_{t}": f"fn zyx_cisnan_{t}(z: {v}) -> bool {{ return zyx_isnan_{t}(z.x) || zyx_isnan_{t}(z.y); }}",
        f"cisinf_{t}": f"fn zyx_cisinf_{t}(z: {v}) -> bool {{ return zyx_isinf_{t}(z.x) || zyx_isinf_{t}(z.y); }}",
    }


def _int_helpers(t: str) -> dict[str, str]:
    sfx = {"i32": "i", "u32": "u", "i64": "li", "u64": "lu"}[t]
    signed = t[0] == "i"
    out = {}
    if signed:
        out[f"floordiv_{t}"] = f"""fn zyx_floordiv_{t}(a: {t}, b: {t}) -> {t} {{
  if (b == 0{sfx}) {{ return 0{sfx}; }}
  if (b == -1{sfx}) {{ return -a; }}
  var q = a / b;
  if ((a % b != 0{sfx}) && ((a < 0{sfx}) != (b < 0{sfx}))) {{ q = q - 1{sfx}; }}
  return q;
}}"""
        out[f"pymod_{t}"] = f"""fn zyx_pymod_{t}(a: {t}, b: {t}) -> {t} {{
  if (b == 0{sfx} || b == -1{sfx}) {{ return 0{sfx}; }}
  var r = a % b;
  if (r != 0{sfx} && ((r < 0{sfx}) != (b < 0{sfx}))) {{ r = r + b; }}
  return r;
}}"""
        out[f"ipow_{t}"] = f"""fn zyx_ipow_{t}(a: {t}, b0: {t}) -> {t} {{
  var b = b0;
  if (b < 0{sfx}) {{ if (a == 1{sfx}) {{ return 1{sfx}; }} if (a == -1{sfx}) {{ return select(1{sfx}, -1{sfx}, (b & 1{sfx}) != 0{sfx}); }} return 0{sfx}; }}
  var r = 1{sfx}; var x = a;
  while (b != 0{sfx}) {{ if ((b & 1{sfx}) != 0{sfx}) {{ r = r * x; }} x = x * x; b = b >> 1u; }}
  return r;
}}"""
    else:
        out[f"ipow_{t}"] = f"""fn zyx_ipow_{t}(a: {t}, b0: {t}) -> {t} {{
  var b = b0; var r = 1{sfx}; var x = a;
  while (b != 0{sfx}) {{ if ((b & 1{sfx}) != 0{sfx}) {{ r = r * x; }} x = x * x; b = b >> 1u; }}
  return r;
}}"""
    return out


_COMMON = {
    # A zero the shader compiler cannot see through: Mesa compiles SPIR-V with fast-math
    # assumptions and folds y - y to 0, y * 0 to 0, (y + y) - y to y and y + 0 to y, which
    # are wrong for inf, nan, -0 and overflow. A value or'ed with this zero is opaque to
    # those rules: no output is empty when a kernel runs, but the compiler cannot know it
    # (``length >> 31`` it did fold, from the 128 MiB binding limit). ``k`` shifts it so
    # that each use site's opaque value is distinct: one shared value let (y + Y) - Y fold.
    "opq": "fn zyx_opq(k: u32) -> u32 { return select(0u, 1u, arrayLength(&out0) == 0u) << k; }",
    "opq_f32": "fn zyx_opq_f32(x: f32, k: u32) -> f32 { return bitcast<f32>(bitcast<u32>(x) | zyx_opq(k)); }",
    "opq_f64": "fn zyx_opq_f64(x: f64, k: u32) -> f64 { return bitcast<f64>(bitcast<u64>(x) | u64(zyx_opq(k))); }",
    "opq_c64": ("fn zyx_opq_c64(x: vec2<f32>, k: u32) -> vec2<f32> { "
                "return bitcast<vec2<f32>>(bitcast<vec2<u32>>(x) | vec2<u32>(zyx_opq(k))); }"),
    "opq_c128": ("fn zyx_opq_c128(x: vec2<f64>, k: u32) -> vec2<f64> { "
                 "return vec2<f64>(zyx_opq_f64(x.x, k), zyx_opq_f64(x.y, k)); }"),
    "philox": """fn zyx_mulhilo(a: u32, b: u32) -> vec2<u32> {
  let a0 = a & 0xffffu; let a1 = a >> 16u; let b0 = b & 0xffffu; let b1 = b >> 16u;
  let p00 = a0 * b0; let p01 = a0 * b1; let p10 = a1 * b0; let p11 = a1 * b1;
  let mid = (p00 >> 16u) + (p01 & 0xffffu) + (p10 & 0xffffu);
  return vec2<u32>(p11 + (p01 >> 16u) + (p10 >> 16u) + (mid >> 16u), a * b);
}
/* Philox-2x32-10: counter-based random bits, identical on every backend */
fn zyx_philox(key0: u32, c00: u32, c10: u32) -> u32 {
  var key = key0; var c0 = c00; var c1 = c10;
  for (var i = 0; i < 10; i++) {
    let p = zyx_mulhilo(0xD256D193u, c0);
    c0 = p.x ^ key ^ c1; c1 = p.y; key = key + 0x9E3779B9u;
  }
  return c0 ^ c1;
}""",
    "f16": """fn zyx_f16_to_f32(h: u32) -> f32 {
  let s = (h & 0x8000u) << 16u; let e = (h >> 10u) & 0x1fu; let m = h & 0x3ffu;
  if (e == 0u) { return bitcast<f32>(s | bitcast<u32>(f32(m) * 5.9604644775390625e-8)); }
  if (e == 31u) { return bitcast<f32>(s | 0x7f800000u | (m << 13u)); }
  return bitcast<f32>(s | ((e + 112u) << 23u) | (m << 13u));
}
fn zyx_f32_to_f16(f: f32) -> u32 {
  let x = bitcast<u32>(f); let s = (x >> 16u) & 0x8000u; let a = x & 0x7fffffffu;
  if (a > 0x7f800000u) { return s | 0x7e00u | ((a >> 13u) & 0x3ffu); }
  if (a >= 0x477ff000u) { return s | 0x7c00u; }
  if (a < 0x38800000u) { return s | u32(round(bitcast<f32>(a) * 16777216.0)); }
  let r = a + 0xfffu + ((a >> 13u) & 1u);
  return s | ((r - 0x38000000u) >> 13u);
}""",
    "bf16": """fn zyx_f32_to_bf16(f: f32) -> u32 {
  let u = bitcast<u32>(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) { return (u >> 16u) | 0x40u; }
  return (u + 0x7fffu + ((u >> 16u) & 1u)) >> 16u;
}""",
}


def _two_over_pi_words(n: int) -> list[int]:
    """The first 32*n bits of 2/pi after the binary point, as big-endian u32 words."""
    bits = 32 * n + 64
    one = 1 << (bits + 64)

    def atan_inv(k: int) -> int:  # atan(1/k) in fixed point
        total = term = one // k
        j, sign = 1, -1
        while term:
            term //= k * k
            j += 2
            total += sign * (term // j)
            sign = -sign
        return total
    pi = (16 * atan_inv(5) - 4 * atan_inv(239)) >> 64  # pi * 2^bits
    frac = (1 << (2 * bits + 1)) // pi  # 2/pi * 2^bits
    return [(frac >> (bits - 32 * (i + 1))) & 0xFFFFFFFF for i in range(n)]


_TWO_OVER_PI = _two_over_pi_words(40)

_COMMON["ph_reduce"] = ("var<private> zyx_2opi: array<u32, 42> = array<u32, 42>("
                        + ", ".join(f"0x{w:08x}u" for w in _TWO_OVER_PI) + ", 0u, 0u);\n" + """
fn zyx_2opi_bits(start: i32) -> u32 {  // bits start .. start+31 of 2/pi (bit 1 follows the point)
  let w = (start - 1) / 32; let off = u32((start - 1) % 32);
  if (off == 0u) { return zyx_2opi[w]; }
  return (zyx_2opi[w] << off) | (zyx_2opi[w + 1] >> (32u - off));
}
fn zyx_p_bits(p: ptr<function, array<u32, 9>>, start: i32) -> u32 {  // 32 bits of p from bit `start` up
  let w = start / 32; let off = u32(start % 32);
  if (off == 0u) { return (*p)[w]; }
  return ((*p)[w] >> off) | ((*p)[w + 1] << (32u - off));
}
/* Payne-Hanek: for |x| = (m1 * 2^32 + m0) * 2^e, x * 2/pi mod 4 as (quadrant, top 64 fraction bits) */
fn zyx_ph_reduce(m0: u32, m1: u32, e: i32) -> vec3<u32> {
  let i0 = max(1, e - 1);
  var w: array<u32, 6>;
  for (var k = 0; k < 6; k++) { w[k] = zyx_2opi_bits(i0 + 160 - 32 * k); }
  var p: array<u32, 9>;
  let m = array<u32, 2>(m0, m1);
  for (var i = 0; i < 2; i++) {
    var carry = 0u;
    for (var j = 0; j < 6; j++) {
      let hl = zyx_mulhilo(m[i], w[j]);
      let s1 = p[i + j] + hl.y; let c1 = select(0u, 1u, s1 < hl.y);
      let s2 = s1 + carry; let c2 = select(0u, 1u, s2 < carry);
      p[i + j] = s2;
      carry = hl.x + c1 + c2;
    }
    p[i + 6] = p[i + 6] + carry;
  }
  let sh = i0 + 191 - e;
  return vec3<u32>(zyx_p_bits(&p, sh) & 3u, zyx_p_bits(&p, sh - 32), zyx_p_bits(&p, sh - 64));
}""")
_COMMON["mulhilo"], _COMMON["philox"] = _COMMON["philox"].split("/* Philox")
_COMMON["philox"] = "/* Philox" + _COMMON["philox"]


_SOFT_PARAMS = {
    # (literal suffix, bits type, bits, mantissa bits, bias, exp: ln2 hi, ln2 lo, Taylor terms, overflow, underflow,
    #  log: first odd denominator, smallest normal, subnormal scale exponent,
    #  pi/2 in three parts, sin/cos terms, atan first odd denominator, big-|x| thresholds for sinh/tanh/asinh,
    #  largest |x| for the three-part pi/2 reduction; beyond it sin/cos use Payne-Hanek)
    "f64": ("lf", "u64", 64, 52, 1023, "6.93147180369123816490e-01", "1.90821492927058770002e-10", 13,
            "709.782712893384", "-745.1332191019412", 23, "2.2250738585072014e-308", 54,
            ("1.57079632673412561417e+00", "6.07710050630396597660e-11", "2.02226624871116645580e-21"), 20, 47,
            ("20.0", "22.0", "1e8"), "1e5"),
    "f32": ("f", "u32", 32, 23, 127, "0.693145751953125", "1.428606765330187e-06", 8,
            "88.72283905206835", "-103.97207708399179", 13, "1.1754943508222875e-38", 25,
            ("1.5703125", "4.837512969970703125e-4", "7.54978995489188216e-8"), 12, 23,
            ("9.0", "9.1", "1e4"), "1e3"),
}


def _soft_math(t: str) -> dict[str, str]:
    """exp, log, sin, cos, atan... in software for one float type. Vulkan's 64-bit floats
    have no transcendental instructions at all, and 32-bit ones are only approximate
    (absolute error, no NaN handling) on some drivers, so both types use these."""
    return {**_soft_exp_trig(t), **_soft_inverse_hyperbolic(t)}


def _soft_consts(t: str) -> tuple:
    """The spellings the parts of ``_soft_math`` share."""
    (lit, u, bits, mb, bias, ln2hi, ln2lo, eterms, ovf, unf, lden, tiny, sub, pio2, sterms, aden,
     (sinh_big, tanh_big, asinh_big), trig_max) = _SOFT_PARAMS[t]
    one, zero, half = f"1.0{lit}", f"0.0{lit}", f"0.5{lit}"
    us = "u" if u == "u32" else "lu"
    mmask = f"0x{(1 << mb) - 1:x}{us}"
    onebits = f"0x{bias << mb:x}{us}"
    emask = f"0x{(1 << (bits - 1 - mb)) - 1:x}{us}"
    hidden = f"0x{1 << mb:x}{us}"
    m0, m1 = ("mant", "0u") if t == "f32" else ("u32(mant & 0xfffffffflu)", "u32(mant >> 32u)")
    ln2 = f"0.6931471805599453{lit}"
    return (lit, u, bits, mb, bias, ln2hi, ln2lo, eterms, ovf, unf, lden, tiny, sub, pio2, sterms, aden, trig_max,
            sinh_big, tanh_big, asinh_big, one, zero, half, us, mmask, onebits, emask, hidden, m0, m1, ln2)


def _soft_exp_trig(t: str) -> dict[str, str]:
    """exp, log and the circular functions in software."""
    (lit, u, bits, mb, bias, ln2hi, ln2lo, eterms, ovf, unf, lden, tiny, sub, pio2, sterms, aden, trig_max,
     sinh_big, tanh_big, asinh_big, one, zero, half, us, mmask, onebits, emask, hidden, m0, m1, ln2) = _soft_consts(t)
    return {
        f"exp_{t}": f"""fn zyx_exp_{t}(x: {t}) -> {t} {{
  if (zyx_isnan_{t}(x)) {{ return x; }}
  if (x > {ovf}{lit}) {{ return zyx_inf_{t}(); }}
  if (x < {unf}{lit}) {{ return {zero}; }}
  let k = round(x * 1.4426950408889634{lit});
  let r = (x - k * {ln2hi}{lit}) - k * {ln2lo}{lit};
  var p = {one};
  for (var n = {eterms}; n >= 1; n--) {{ p = {one} + p * r / {t}(n); }}
  return ldexp(p, i32(k));
}}""",
        f"log_{t}": f"""fn zyx_log_{t}(x0: {t}) -> {t} {{
  if (zyx_isnan_{t}(x0) || x0 < {zero}) {{ return zyx_nan_{t}(); }}
  if (x0 == {zero}) {{ return -zyx_inf_{t}(); }}
  if (zyx_isinf_{t}(x0)) {{ return x0; }}
  var x = x0; var e: i32 = 0;
  if (x < {tiny}{lit}) {{ x = x * {float(2 ** sub)!r}{lit}; e = -{sub}; }}
  let b = bitcast<{u}>(x);
  e = e + i32((b >> {mb}u) & {emask}) - {bias};
  var m = bitcast<{t}>((b & {mmask}) | {onebits});
  if (m > 1.4142135623730951{lit}) {{ m = m * {half}; e = e + 1; }}
  let s = (m - {one}) / (m + {one});
  let z = s * s;
  var p = {one} / {lden}.0{lit};
  for (var n = {lden - 2}; n >= 1; n -= 2) {{ p = p * z + {one} / {t}(n); }}
  let fe = {t}(e);
  return fe * {ln2hi}{lit} + (2.0{lit} * s * p + fe * {ln2lo}{lit});
}}""",
        f"sincos_{t}": f"""fn zyx_sincos_{t}(x: {t}) -> vec2<{t}> {{
  if (zyx_isnan_{t}(x) || zyx_isinf_{t}(x)) {{ let n = zyx_nan_{t}(); return vec2<{t}>(n, n); }}
  if (x == {zero}) {{ return vec2<{t}>(x, {one}); }}
  var r: {t}; var q: i32;
  if (abs(x) <= {trig_max}{lit}) {{
    let k = round(x * 0.6366197723675814{lit});
    r = ((x - k * {pio2[0]}{lit}) - k * {pio2[1]}{lit}) - k * {pio2[2]}{lit};
    q = i32(k - 4.0{lit} * floor(k * 0.25{lit}));
  }} else {{
    let b = bitcast<{u}>(abs(x));
    let mant = (b & {mmask}) | {hidden};
    let red = zyx_ph_reduce({m0}, {m1}, i32((b >> {mb}u) & {emask}) - {bias + mb});
    var hi = red.y; var lo = red.z;
    q = i32(red.x);
    let past_half = hi >= 0x80000000u;
    if (past_half) {{ lo = ~lo + 1u; hi = ~hi + select(0u, 1u, lo == 0u); q = q + 1; }}  // 1 - fraction, exactly
    let f = ({t}(hi) + {t}(lo) * 2.3283064365386963e-10{lit}) * 2.3283064365386963e-10{lit};
    r = select(f, -f, past_half) * 1.5707963267948966{lit};
    if (x < {zero}) {{ r = -r; q = -q; }}
    q = q & 3;
  }}
  let z = r * r;
  var s = {one}; var c = {one};
  for (var n = {sterms}; n >= 2; n -= 2) {{
    s = {one} - s * z / {t}(n * (n + 1));
    c = {one} - c * z / {t}((n - 1) * n);
  }}
  s = s * r;
  if (q == 0) {{ return vec2<{t}>(s, c); }}
  if (q == 1) {{ return vec2<{t}>(c, -s); }}
  if (q == 2) {{ return vec2<{t}>(-s, -c); }}
  return vec2<{t}>(-c, s);
}}""",
        f"sin_{t}": f"fn zyx_sin_{t}(x: {t}) -> {t} {{ return zyx_sincos_{t}(x).x; }}",
        f"cos_{t}": f"fn zyx_cos_{t}(x: {t}) -> {t} {{ return zyx_sincos_{t}(x).y; }}",
        f"tan_{t}": f"fn zyx_tan_{t}(x: {t}) -> {t} {{ let sc = zyx_sincos_{t}(x); if (x == {zero}) {{ return x; }} return sc.x / sc.y; }}",
        f"atan_{t}": f"""fn zyx_atan_{t}(x: {t}) -> {t} {{
  if (zyx_isnan_{t}(x) || x == {zero}) {{ return x; }}
  var a = abs(x); var off = {zero}; var inv = false;
  if (a > {one}) {{ a = {one} / a; inv = true; }}
  if (a > 0.41421356237309503{lit}) {{ a = (a - {one}) / (a + {one}); off = 0.7853981633974483{lit}; }}
  let z = a * a;
  var p = {one} / {aden}.0{lit};
  for (var n = {aden - 2}; n >= 1; n -= 2) {{ p = {one} / {t}(n) - p * z; }}
  var r = off + a * p;
  if (inv) {{ r = 1.5707963267948966{lit} - r; }}
  return zyx_copysign_{t}(r, x);
}}""",
        f"atan2_{t}": f"""fn zyx_atan2_{t}(y: {t}, x: {t}) -> {t} {{
  if (zyx_isnan_{t}(x) || zyx_isnan_{t}(y)) {{ return zyx_nan_{t}(); }}
  let pi = 3.141592653589793{lit};
  if (y == {zero}) {{
    if (zyx_signbit_{t}(x)) {{ return zyx_copysign_{t}(pi, y); }}
    return y;
  }}
  if (x == {zero}) {{ return zyx_copysign_{t}(pi * {half}, y); }}
  if (zyx_isinf_{t}(x)) {{
    if (zyx_isinf_{t}(y)) {{ return zyx_copysign_{t}(select(pi * 0.25{lit}, pi * 0.75{lit}, x < {zero}), y); }}
    return select(zyx_copysign_{t}({zero}, y), zyx_copysign_{t}(pi, y), x < {zero});
  }}
  if (zyx_isinf_{t}(y)) {{ return zyx_copysign_{t}(pi * {half}, y); }}
  let r = zyx_atan_{t}(y / x);
  if (x > {zero}) {{ return r; }}
  return r + zyx_copysign_{t}(pi, y);
}}""",
    }


def _soft_inverse_hyperbolic(t: str) -> dict[str, str]:
    """The inverse circular and the hyperbolic functions, exp2 and log2, in software."""
    (lit, u, bits, mb, bias, ln2hi, ln2lo, eterms, ovf, unf, lden, tiny, sub, pio2, sterms, aden, trig_max,
     sinh_big, tanh_big, asinh_big, one, zero, half, us, mmask, onebits, emask, hidden, m0, m1, ln2) = _soft_consts(t)
    return {
        f"asin_{t}": (f"fn zyx_asin_{t}(x: {t}) -> {t} {{ if (x == {zero}) {{ return x; }} "
                      f"return zyx_atan2_{t}(x, sqrt(({one} - x) * ({one} + x))); }}"),
        f"acos_{t}": f"fn zyx_acos_{t}(x: {t}) -> {t} {{ return zyx_atan2_{t}(sqrt(({one} - x) * ({one} + x)), x); }}",
        f"exp2_{t}": f"""fn zyx_exp2_{t}(x: {t}) -> {t} {{
  if (zyx_isnan_{t}(x)) {{ return x; }}
  if (x > {bias + 1}.0{lit}) {{ return zyx_inf_{t}(); }}
  if (x < -{bias + mb + 2}.0{lit}) {{ return {zero}; }}
  let k = round(x);
  return ldexp(zyx_exp_{t}((x - k) * {ln2}), i32(k));
}}""",
        f"log2_{t}": f"fn zyx_log2_{t}(x: {t}) -> {t} {{ return zyx_log_{t}(x) * 1.4426950408889634{lit}; }}",
        f"sinh_{t}": f"""fn zyx_sinh_{t}(x: {t}) -> {t} {{
  if (zyx_isnan_{t}(x) || x == {zero}) {{ return x; }}
  let a = abs(x);
  if (a > {sinh_big}{lit}) {{ return zyx_copysign_{t}(zyx_exp_{t}(a - {ln2}), x); }}
  let e = zyx_expm1_{t}(a);
  return zyx_copysign_{t}({half} * (e + e / (e + {one})), x);
}}""",
        f"cosh_{t}": f"""fn zyx_cosh_{t}(x: {t}) -> {t} {{
  let a = abs(x);
  if (a > {sinh_big}{lit}) {{ return zyx_exp_{t}(a - {ln2}); }}
  let e = zyx_exp_{t}(a);
  return {half} * (e + {one} / e);
}}""",
        f"tanh_{t}": f"""fn zyx_tanh_{t}(x: {t}) -> {t} {{
  if (zyx_isnan_{t}(x) || x == {zero}) {{ return x; }}
  let a = abs(x);
  if (a > {tanh_big}{lit}) {{ return zyx_copysign_{t}({one}, x); }}
  let e = zyx_expm1_{t}(2.0{lit} * a);
  return zyx_copysign_{t}(e / (e + 2.0{lit}), x);
}}""",
        f"asinh_{t}": f"""fn zyx_asinh_{t}(x: {t}) -> {t} {{
  if (zyx_isnan_{t}(x) || zyx_isinf_{t}(x) || x == {zero}) {{ return x; }}
  let a = abs(x);
  var r: {t};
  if (a > {asinh_big}{lit}) {{ r = zyx_log_{t}(a) + {ln2}; }}
  else {{ r = zyx_log1p_{t}(a + a * a / ({one} + sqrt({one} + a * a))); }}
  return zyx_copysign_{t}(r, x);
}}""",
        f"acosh_{t}": f"""fn zyx_acosh_{t}(x: {t}) -> {t} {{
  if (x < {one} || zyx_isnan_{t}(x)) {{ return zyx_nan_{t}(); }}
  if (x > {asinh_big}{lit}) {{ return zyx_log_{t}(x) + {ln2}; }}
  let t = x - {one};
  return zyx_log1p_{t}(t + sqrt(2.0{lit} * t + t * t));
}}""",
        f"atanh_{t}": f"""fn zyx_atanh_{t}(x: {t}) -> {t} {{
  if (zyx_isnan_{t}(x) || x == {zero}) {{ return x; }}
  let a = abs(x);
  if (a > {one}) {{ return zyx_nan_{t}(); }}
  return zyx_copysign_{t}({half} * zyx_log1p_{t}(2.0{lit} * a / ({one} - a)), x);
}}""",
    }


_TRANSCENDENTAL = ("exp", "log", "exp2", "log2", "sin", "cos", "tan", "sinh", "cosh", "tanh", "atan2", "atan",
                   "asin", "acos", "asinh", "acosh", "atanh")
_BUILTIN_CALL = re.compile(r"(?<![\w.])(" + "|".join(_TRANSCENDENTAL) + r")\(")


def _soft(src: str, t: str) -> str:
    """Route transcendental builtin calls in helper text to the software versions."""
    return _BUILTIN_CALL.sub(lambda m: f"zyx_{m.group(1)}_{t}(", src)


HELPERS: dict[str, str] = dict(_COMMON)
for _t in ("f32", "f64"):
    HELPERS.update({k: _soft(v, _t) for k, v in _float_helpers(_t).items()})
    HELPERS.update({k: _soft(v, _t) for k, v in _complex_helpers(_t).items()})
    HELPERS.update(_soft_math(_t))
for _t in ("i32", "u32", "i64", "u64"):
    HELPERS.update(_int_helpers(_t))

_CALL = re.compile(r"zyx_(\w+?)\(")
_DEPS = {k: [d for d in dict.fromkeys(_CALL.findall(src)) if d in HELPERS and d != k] for k, src in HELPERS.items()}


def deps(key: str) -> list[str]:
    """The helpers ``key`` calls directly."""
    return _DEPS.get(key, [])


def ordered(keys) -> list[str]:
    """Source of the helpers ``keys`` and everything they call, callees first."""
    seen: dict[str, None] = {}

    def visit(n: str) -> None:
        if n in seen:
            return
        seen[n] = None
        for d in deps(n):
            visit(d)
        # re-append after callees so the order is callees first
        del seen[n]
        seen[n] = None
    for k in keys:
        visit(k)
    return [HELPERS[n] for n in seen if HELPERS.get(n)]
