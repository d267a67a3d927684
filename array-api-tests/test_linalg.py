"""The linalg extension (plus the main-namespace linear algebra functions
tensordot and vecdot).  Results are compared with array_api_strict.linalg
and, where a decomposition is not unique, checked by reconstruction."""

from __future__ import annotations

import numpy as np
import pytest

from . import _common as C
from ._common import given, ref, xp
from ._strategies import arrays, draw_dtype, elements, shapes, st

if not hasattr(xp, "linalg"):
    pytest.skip(f"{xp.__name__} has no linalg extension", allow_module_level=True)

LA = xp.linalg


def _tol(dt, factor=1.0):
    eps = C.EPS[C.REAL_OF[dt]]
    t = (2e3 if C.REAL_OF[dt] == "float32" else 1e5) * eps * factor
    return {"rtol": t, "atol": t}


@st.composite
def square_batches(draw, min_n=1, max_n=4):
    n = draw(st.integers(min_n, max_n), label="n")
    batch = draw(st.sampled_from([(), (1,), (2,), (2, 1)]), label="batch")
    return batch + (n, n)


def _wellcond(data, dt, shape):
    """Diagonally dominant (hence invertible, well conditioned) matrices."""
    a = data.draw(arrays(dt, shape, elements(dt, -1, 1)), label="A")
    n = shape[-1]
    return (a + (n + 1) * np.eye(n, dtype=dt)).astype(dt)


def _spd(data, dt, shape):
    a = data.draw(arrays(dt, shape, elements(dt, -1, 1)), label="B")
    n = shape[-1]
    h = np.conj(np.swapaxes(a, -1, -2))
    return (a @ h + n * np.eye(n, dtype=dt)).astype(dt)


def _herm(data, dt, shape):
    a = data.draw(arrays(dt, shape, elements(dt, -2, 2)), label="B")
    return ((a + np.conj(np.swapaxes(a, -1, -2))) / 2).astype(dt)


def _call2(fname, a_np, dev, *args, **kw):
    res = getattr(LA, fname)(C.to_xp(a_np, dev), *args, **kw)
    exp = getattr(ref.linalg, fname)(C.to_ref(a_np), *args, **kw)
    return res, exp


@given(data=st.data())
def test_cholesky(dev, data):
    dt = draw_dtype(data, dev, C.FLOAT)
    a = _spd(data, dt, data.draw(square_batches()))
    upper = data.draw(st.sampled_from([None, False, True]), label="upper")
    kw = {} if upper is None else {"upper": upper}
    res, exp = _call2("cholesky", a, dev, **kw)
    C.check(res, exp, dev=dev, what=f"cholesky({kw})", **_tol(dt))


@given(data=st.data())
def test_cross(dev, data):
    dt = draw_dtype(data, dev, C.FLOAT + ("int32", "int64"))
    batch = data.draw(shapes(max_dims=2, max_side=3), label="batch")
    # the standard requires a negative axis ([-N, -1]) for cross and vecdot
    axis = data.draw(st.sampled_from([None, -1, -1 - len(batch)]), label="axis")
    shape = batch + (3,) if axis in (None, -1) else (3,) + batch
    a1 = data.draw(arrays(dt, shape, elements(dt, -10, 10)), label="x1")
    a2 = data.draw(arrays(dt, shape, elements(dt, -10, 10)), label="x2")
    kw = {} if axis is None else {"axis": axis}
    res = LA.cross(C.to_xp(a1, dev), C.to_xp(a2, dev), **kw)
    exp = ref.linalg.cross(C.to_ref(a1), C.to_ref(a2), **kw)
    C.check(res, exp, dev=dev, what=f"cross({kw})", **C.tol_for(dt, 64))


@given(data=st.data())
def test_det_slogdet(dev, data):
    dt = draw_dtype(data, dev, C.FLOAT)
    a = _wellcond(data, dt, data.draw(square_batches()))
    res, exp = _call2("det", a, dev)
    C.check(res, exp, dev=dev, what="det", **_tol(dt))
    r = LA.slogdet(C.to_xp(a, dev))
    e = ref.linalg.slogdet(C.to_ref(a))
    assert hasattr(r, "sign") and hasattr(r, "logabsdet"), "slogdet must return a namedtuple (sign, logabsdet)"
    C.check(r.sign, e.sign, dev=dev, what="slogdet.sign", **_tol(dt))
    C.check(r.logabsdet, e.logabsdet, dev=dev, what="slogdet.logabsdet", **_tol(dt))


@given(data=st.data())
def test_diagonal(dev, data):
    dt = draw_dtype(data, dev, C.ALL_DTYPES)
    shape = data.draw(shapes(min_dims=2, max_dims=3, max_side=4), label="shape")
    a = data.draw(arrays(dt, shape), label="x")
    offset = data.draw(st.none() | st.integers(-4, 4), label="offset")
    kw = {} if offset is None else {"offset": offset}
    res = LA.diagonal(C.to_xp(a, dev), **kw)
    C.check(res, np.diagonal(a, offset=offset or 0, axis1=-2, axis2=-1), dev=dev, exact=True, what=f"diagonal({kw})")


@given(data=st.data())
def test_eigh_eigvalsh(dev, data):
    dt = draw_dtype(data, dev, C.FLOAT)
    a = _herm(data, dt, data.draw(square_batches()))
    w_ref = ref.linalg.eigvalsh(C.to_ref(a))
    C.check(LA.eigvalsh(C.to_xp(a, dev)), w_ref, dev=dev, what="eigvalsh (ascending)", **_tol(dt, 4))
    res = LA.eigh(C.to_xp(a, dev))
    assert hasattr(res, "eigenvalues") and hasattr(res, "eigenvectors"), "eigh must return (eigenvalues, eigenvectors)"
    w, v = res
    C.check(w, w_ref, dev=dev, what="eigh.eigenvalues", **_tol(dt, 4))
    C.assert_dtype(v, dt, "eigh.eigenvectors")
    wn, vn = C.to_np(w), C.to_np(v)
    C.assert_values(a @ vn, vn * wn[..., None, :], what="A @ V == V * w", **_tol(dt, 8))


@given(data=st.data())
def test_eig_eigvals(dev, data):
    """2025.12: eig/eigvals return complex results (also for real input)."""
    dt = draw_dtype(data, dev, C.FLOAT)
    shape = data.draw(square_batches(max_n=3))
    n = shape[-1]
    # well separated eigenvalues (Gershgorin discs are disjoint), so that
    # they are well conditioned; optionally a rotation block for a complex
    # conjugate pair
    e = data.draw(arrays(dt, shape, elements(dt, -0.4, 0.4)), label="E")
    a = e + np.diag(2.0 * np.arange(1, n + 1)).astype(dt)
    if n >= 2 and data.draw(st.booleans(), label="complex pair"):
        a[..., :2, :2] = np.asarray([[1.0, -2.0], [2.0, 1.0]], dtype=dt)
        a[..., 2:, :2] = 0
        a[..., :2, 2:] = 0
    a = a.astype(dt)
    cdt = C.COMPLEX_OF[dt]
    if cdt not in C.supported_dtypes(dev):
        pytest.skip(f"{cdt} unsupported")
    exp = np.linalg.eigvals(a.astype(np.complex128))

    def srt(w):
        """Order eigenvalues like the reference ones (nearest match), since
        the order of eig's results is unspecified."""
        w = np.asarray(w, dtype=np.complex128).reshape(-1, w.shape[-1])
        e = exp.reshape(-1, exp.shape[-1])
        out = np.empty_like(w)
        for b in range(w.shape[0]):
            left = list(w[b])
            for j, target in enumerate(e[b]):
                k = int(np.argmin([abs(v - target) for v in left]))
                out[b, j] = left.pop(k)
        return out.reshape(exp.shape)

    w = LA.eigvals(C.to_xp(a, dev))
    C.assert_dtype(w, cdt, "eigvals")
    C.assert_device(w, dev, "eigvals")
    C.assert_values(srt(C.to_np(w)), exp, what="eigvals (matched to the reference)", **_tol(dt, 8))
    res = LA.eig(C.to_xp(a, dev))
    assert hasattr(res, "eigenvalues") and hasattr(res, "eigenvectors")
    w2, v2 = res
    C.assert_dtype(w2, cdt, "eig.eigenvalues")
    C.assert_dtype(v2, cdt, "eig.eigenvectors")
    wn, vn = C.to_np(w2), C.to_np(v2)
    C.assert_values(srt(wn), exp, what="eig eigenvalues (matched to the reference)", **_tol(dt, 8))
    C.assert_values(a.astype(cdt) @ vn, vn * wn[..., None, :], what="A @ V == V * w", **_tol(dt, 16))


@given(data=st.data())
def test_inv(dev, data):
    dt = draw_dtype(data, dev, C.FLOAT)
    a = _wellcond(data, dt, data.draw(square_batches()))
    res, exp = _call2("inv", a, dev)
    C.check(res, exp, dev=dev, what="inv", **_tol(dt))


def test_linalg_matmul_and_transpose(dev):
    dt = C.dtypes_on(dev, ["float32", "float64"])[0]
    a = np.arange(6, dtype=dt).reshape(2, 3)
    b = np.arange(12, dtype=dt).reshape(3, 4)
    C.check(LA.matmul(C.to_xp(a, dev), C.to_xp(b, dev)), a @ b, dev=dev, what="linalg.matmul")
    C.check(LA.matrix_transpose(C.to_xp(a, dev)), a.T, dev=dev, what="linalg.matrix_transpose")


@given(data=st.data())
def test_matrix_norm(dev, data):
    dt = draw_dtype(data, dev, C.FLOAT)
    shape = data.draw(shapes(min_dims=2, max_dims=3, min_side=1, max_side=4), label="shape")
    a = data.draw(arrays(dt, shape, elements(dt, -10, 10)), label="x")
    ord_ = data.draw(st.sampled_from([None, "fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf]), label="ord")
    keepdims = data.draw(st.sampled_from([None, False, True]), label="keepdims")
    kw = {}
    if ord_ is not None:
        kw["ord"] = float(ord_) if isinstance(ord_, float) else ord_
    if keepdims is not None:
        kw["keepdims"] = keepdims
    res, exp = _call2("matrix_norm", a, dev, **kw)
    C.check(res, exp, dev=dev, what=f"matrix_norm({kw})", **_tol(dt, 4))


@given(data=st.data())
def test_matrix_power(dev, data):
    dt = draw_dtype(data, dev, C.FLOAT)
    a = _wellcond(data, dt, data.draw(square_batches()))
    a = (a / (a.shape[-1] + 1)).astype(dt)
    n = data.draw(st.integers(-2, 3), label="n")
    res, exp = _call2("matrix_power", a, dev, n)
    C.check(res, exp, dev=dev, what=f"matrix_power(n={n})", **_tol(dt, 4))


@given(data=st.data())
def test_matrix_rank(dev, data):
    dt = draw_dtype(data, dev, C.FLOAT)
    n = data.draw(st.integers(1, 4), label="n")
    r = data.draw(st.integers(0, n), label="rank")
    u = data.draw(arrays(dt, (n, r), elements(dt, -2, 2)), label="U")
    v = data.draw(arrays(dt, (r, n), elements(dt, -2, 2)), label="V")
    a = (u @ v).astype(dt)
    res, exp = _call2("matrix_rank", a, dev)
    C.check(res, exp, dev=dev, check_device=True, what="matrix_rank")


@given(data=st.data())
def test_outer(dev, data):
    dt = draw_dtype(data, dev, C.NUMERIC)
    a1 = data.draw(arrays(dt, (data.draw(st.integers(0, 4)),), elements(dt, -10, 10)), label="x1")
    a2 = data.draw(arrays(dt, (data.draw(st.integers(0, 4)),), elements(dt, -10, 10)), label="x2")
    res = LA.outer(C.to_xp(a1, dev), C.to_xp(a2, dev))
    tol = C.tol_for(dt, 4)
    if tol and a1.size and a2.size and str(dt).startswith("complex"):
        # a complex product's parts are differences of products (ar*br - ai*bi), whose
        # rounding - with or without a fused multiply-add, as NumPy's SIMD loops use - is
        # relative to the products, not to the difference: (9+6j)*(7.1300163+10j) has a real
        # part of ~4.17 from products of ~64 and ~60
        tol["atol"] = tol["atol"] * max(1.0, float(np.abs(a1).max()) * float(np.abs(a2).max()))
    C.check(res, ref.linalg.outer(C.to_ref(a1), C.to_ref(a2)), dev=dev, what="outer", **tol)


@given(data=st.data())
def test_pinv(dev, data):
    dt = draw_dtype(data, dev, C.FLOAT)
    shape = data.draw(st.sampled_from([(2, 2), (3, 2), (2, 3), (2, 3, 3), (1, 4)]), label="shape")
    a = data.draw(arrays(dt, shape, elements(dt, -2, 2)), label="x")
    a = (a + 3 * np.eye(shape[-2], shape[-1], dtype=dt)).astype(dt)
    res, exp = _call2("pinv", a, dev)
    C.check(res, exp, dev=dev, what="pinv", **_tol(dt, 8))


@given(data=st.data())
def test_qr(dev, data):
    dt = draw_dtype(data, dev, C.FLOAT)
    shape = data.draw(st.sampled_from([(3, 3), (4, 2), (2, 4), (2, 3, 2), (1, 1)]), label="shape")
    a = data.draw(arrays(dt, shape, elements(dt, -2, 2)), label="x")
    mode = data.draw(st.sampled_from([None, "reduced", "complete"]), label="mode")
    kw = {} if mode is None else {"mode": mode}
    res = LA.qr(C.to_xp(a, dev), **kw)
    assert hasattr(res, "Q") and hasattr(res, "R"), "qr must return a namedtuple (Q, R)"
    m, n = shape[-2:]
    k = min(m, n) if mode in (None, "reduced") else m
    C.assert_shape(res.Q, shape[:-2] + (m, k), "Q")
    C.assert_shape(res.R, shape[:-2] + (k, n), "R")
    q, r = C.to_np(res.Q), C.to_np(res.R)
    C.assert_values(q @ r, a, what="Q @ R == A", **_tol(dt, 4))
    qh = np.conj(np.swapaxes(q, -1, -2))
    C.assert_values(qh @ q, np.broadcast_to(np.eye(k, dtype=dt), qh.shape[:-2] + (k, k)), what="Q^H Q == I", **_tol(dt, 4))
    C.assert_values(np.tril(r, -1), np.zeros_like(r), what="R is upper triangular", **_tol(dt))


@given(data=st.data())
def test_solve(dev, data):
    dt = draw_dtype(data, dev, C.FLOAT)
    a = _wellcond(data, dt, data.draw(square_batches()))
    n = a.shape[-1]
    kind = data.draw(st.sampled_from(["matrix", "vector"]), label="x2 kind")
    bshape = a.shape[:-1] + (data.draw(st.integers(1, 3)),) if kind == "matrix" else (n,)
    b = data.draw(arrays(dt, bshape, elements(dt, -5, 5)), label="x2")
    res = LA.solve(C.to_xp(a, dev), C.to_xp(b, dev))
    exp = ref.linalg.solve(C.to_ref(a), C.to_ref(b))
    C.check(res, exp, dev=dev, what=f"solve ({kind} rhs)", **_tol(dt, 4))


@given(data=st.data())
def test_svd_svdvals(dev, data):
    dt = draw_dtype(data, dev, C.FLOAT)
    shape = data.draw(st.sampled_from([(3, 3), (4, 2), (2, 4), (2, 3, 2), (1, 1)]), label="shape")
    a = data.draw(arrays(dt, shape, elements(dt, -2, 2)), label="x")
    full = data.draw(st.sampled_from([None, True, False]), label="full_matrices")
    s_ref = ref.linalg.svdvals(C.to_ref(a))
    C.check(LA.svdvals(C.to_xp(a, dev)), s_ref, dev=dev, what="svdvals", **_tol(dt, 4))
    kw = {} if full is None else {"full_matrices": full}
    res = LA.svd(C.to_xp(a, dev), **kw)
    assert hasattr(res, "U") and hasattr(res, "S") and hasattr(res, "Vh"), "svd must return (U, S, Vh)"
    m, n = shape[-2:]
    k = min(m, n)
    fm = full is not False
    C.assert_shape(res.U, shape[:-2] + (m, m if fm else k), "U")
    C.assert_shape(res.S, shape[:-2] + (k,), "S")
    C.assert_shape(res.Vh, shape[:-2] + (n if fm else k, n), "Vh")
    C.check(res.S, s_ref, dev=dev, what="svd.S", **_tol(dt, 4))
    u, s, vh = C.to_np(res.U), C.to_np(res.S), C.to_np(res.Vh)
    C.assert_values((u[..., :, :k] * s[..., None, :]) @ vh[..., :k, :], a, what="U S Vh == A", **_tol(dt, 4))


@given(data=st.data())
def test_tensordot(dev, data):
    dt = draw_dtype(data, dev, C.NUMERIC)
    mode = data.draw(st.sampled_from(["int", "seq", "default"]), label="axes kind")
    s1 = data.draw(shapes(min_dims=0, max_dims=3, min_side=1, max_side=3), label="shape1")
    if mode in ("int", "default"):
        k = 2 if mode == "default" else data.draw(st.integers(0, len(s1)), label="axes")
        if k > len(s1):
            s1 = (2,) * k
        s2 = s1[len(s1) - k:] + data.draw(shapes(max_dims=2, min_side=1, max_side=3), label="rest")
        kw = {} if mode == "default" else {"axes": k}
    else:
        nd = len(s1)
        k = data.draw(st.integers(0, nd), label="k")
        ax1 = data.draw(st.lists(st.integers(0, nd - 1), min_size=k, max_size=k, unique=True), label="axes1") if nd else []
        rest = list(data.draw(shapes(max_dims=2, min_side=1, max_side=3), label="rest"))
        s2l = rest[:]
        ax2 = []
        for a_ in ax1:
            pos = data.draw(st.integers(0, len(s2l)))
            s2l.insert(pos, s1[a_])
            ax2 = [p + (1 if p >= pos else 0) for p in ax2] + [pos]
        s2 = tuple(s2l)
        neg = data.draw(st.booleans(), label="negative axes")
        ax1n = [a_ - nd if neg else a_ for a_ in ax1]
        kw = {"axes": (ax1n, ax2)}
    a1 = data.draw(arrays(dt, s1, elements(dt, -5, 5)), label="x1")
    a2 = data.draw(arrays(dt, s2, elements(dt, -5, 5)), label="x2")
    exp = ref.tensordot(C.to_ref(a1), C.to_ref(a2), **kw)
    C.check(xp.tensordot(C.to_xp(a1, dev), C.to_xp(a2, dev), **kw), exp, dev=dev, what=f"tensordot({kw})", **C.tol_for(dt, 64))
    C.check(LA.tensordot(C.to_xp(a1, dev), C.to_xp(a2, dev), **kw), exp, dev=dev, what="linalg.tensordot", **C.tol_for(dt, 64))


@given(data=st.data())
def test_trace(dev, data):
    dt = draw_dtype(data, dev, C.NUMERIC)
    shape = data.draw(shapes(min_dims=2, max_dims=3, max_side=4), label="shape")
    lo = 0 if dt in C.UINT else -5
    a = data.draw(arrays(dt, shape, elements(dt, lo, 5)), label="x")
    offset = data.draw(st.none() | st.integers(-3, 3), label="offset")
    kw = {} if offset is None else {"offset": offset}
    if data.draw(st.booleans(), label="explicit dtype") and dt in C.FLOAT:
        kw["dtype"] = C.xdtype(dt)
    res = LA.trace(C.to_xp(a, dev), **kw)
    rkw = dict(kw)
    if "dtype" in rkw:
        rkw["dtype"] = getattr(ref, dt)
    exp = ref.linalg.trace(C.to_ref(a), **rkw)
    want = C.dtype_name(exp.dtype, ref)
    if dt in C.INT and "dtype" not in kw:
        want = C.acc_dtype(dt, dev)
        if want not in C.supported_dtypes(dev):
            pytest.skip(f"{want} unsupported")
    C.check(res, C.to_np(exp).astype(want), dtype=want, dev=dev, what=f"trace({kw})", **C.tol_for(dt, 16))


@given(data=st.data())
def test_vecdot(dev, data):
    dt = draw_dtype(data, dev, C.NUMERIC)
    n = data.draw(st.integers(1, 4), label="n")
    batch1 = data.draw(shapes(max_dims=2, min_side=1, max_side=3), label="batch")
    axis = data.draw(st.sampled_from([None, -1, -1 - len(batch1)]), label="axis")
    s = batch1 + (n,) if axis in (None, -1) else (n,) + batch1
    lo = 0 if dt in C.UINT else -5
    a1 = data.draw(arrays(dt, s, elements(dt, lo, 5)), label="x1")
    a2 = data.draw(arrays(dt, s, elements(dt, lo, 5)), label="x2")
    kw = {} if axis is None else {"axis": axis}
    exp = ref.vecdot(C.to_ref(a1), C.to_ref(a2), **kw)  # conjugates x1 for complex
    C.check(xp.vecdot(C.to_xp(a1, dev), C.to_xp(a2, dev), **kw), exp, dev=dev, what=f"vecdot({kw})", **C.tol_for(dt, 16))
    C.check(LA.vecdot(C.to_xp(a1, dev), C.to_xp(a2, dev), **kw), exp, dev=dev, what="linalg.vecdot", **C.tol_for(dt, 16))


@given(data=st.data())
def test_vector_norm(dev, data):
    dt = draw_dtype(data, dev, C.FLOAT)
    shape = data.draw(shapes(min_dims=1, max_dims=3, min_side=1, max_side=4), label="shape")
    a = data.draw(arrays(dt, shape, elements(dt, -10, 10)), label="x")
    nd = a.ndim
    axis = data.draw(st.sampled_from(["omit", None]) | st.integers(-nd, nd - 1) | st.lists(st.integers(0, nd - 1), min_size=1, max_size=nd, unique=True).map(tuple), label="axis")
    ord_ = data.draw(st.sampled_from(["omit", 1, 2, 3, 0, -1, np.inf, -np.inf]), label="ord")
    keepdims = data.draw(st.sampled_from([None, False, True]), label="keepdims")
    kw = {}
    if axis != "omit":
        kw["axis"] = axis
    if ord_ != "omit":
        kw["ord"] = float(ord_) if isinstance(ord_, float) else ord_
    if keepdims is not None:
        kw["keepdims"] = keepdims
    res, exp = _call2("vector_norm", a, dev, **kw)
    C.check(res, exp, dev=dev, what=f"vector_norm({kw})", **_tol(dt))
