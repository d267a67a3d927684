"""zyx.array_api: completeness, promotion, inspection, DLPack, in-place operators,
setitem, laziness (kernel counts) and errors. Values are checked against NumPy."""
from __future__ import annotations

import math

import numpy as np
import pytest

import zyx
import zyx.array_api as xp
from zyx.realize import stats

# ---------------------------------------------------------------- completeness
MAIN = """
arange asarray empty empty_like eye from_dlpack full full_like linspace meshgrid ones ones_like tril triu
zeros zeros_like astype can_cast finfo iinfo isdtype result_type abs acos acosh add asin asinh atan atan2
atanh bitwise_and bitwise_left_shift bitwise_invert bitwise_or bitwise_right_shift bitwise_xor ceil clip
conj copysign cos cosh divide equal exp expm1 floor floor_divide greater greater_equal hypot imag isfinite
isinf isnan less less_equal log log1p log2 log10 logaddexp logical_and logical_not logical_or logical_xor
maximum minimum multiply negative nextafter not_equal positive pow real reciprocal remainder round sign
signbit sin sinh square sqrt subtract tan tanh trunc take take_along_axis matmul matrix_transpose tensordot
vecdot broadcast_arrays broadcast_shapes broadcast_to concat expand_dims flip moveaxis permute_dims repeat
reshape roll squeeze stack tile unstack argmax argmin count_nonzero nonzero searchsorted where isin
unique_all unique_counts unique_inverse unique_values argsort sort cumulative_prod cumulative_sum max mean
min prod std sum var all any diff __array_namespace_info__
""".split()
LINALG = """cholesky cross det diagonal eig eigh eigvals eigvalsh inv matmul matrix_norm matrix_power matrix_rank
matrix_transpose outer pinv qr slogdet solve svd svdvals tensordot trace vecdot vector_norm""".split()
FFT = "fft ifft fftn ifftn rfft irfft rfftn irfftn hfft ihfft fftfreq rfftfreq fftshift ifftshift".split()
DTYPES = "bool int8 int16 int32 int64 uint8 uint16 uint32 uint64 float32 float64 complex64 complex128".split()


def test_every_standard_name_exists():
    missing = [n for n in MAIN if not callable(getattr(xp, n, None))]
    missing += [f"linalg.{n}" for n in LINALG if not callable(getattr(xp.linalg, n, None))]
    missing += [f"fft.{n}" for n in FFT if not callable(getattr(xp.fft, n, None))]
    assert not missing, missing
    assert xp.__array_api_version__ == "2025.12"
    info = xp.__array_namespace_info__()   # 2025.12 returns tuples where 2024.12 had lists
    x = xp.asarray([1.0, 2.0])
    assert isinstance(info.devices(), tuple) and type(xp.meshgrid(x, x)) is tuple
    # ... and code written for 2024.12's list still adds one (SciPy's tests do)
    devs = info.devices()
    assert devs + [None] == [*devs, None] and [None] + devs == [None, *devs]
    assert devs + (None,) == (*devs, None) and type(devs + (None,)) is tuple
    assert type(xp.broadcast_arrays(x, x)) is tuple
    assert (xp.e, xp.pi, xp.inf, xp.newaxis) == (math.e, math.pi, math.inf, None) and math.isnan(xp.nan)


def test_dtypes_are_zyx_singletons():
    for name in DTYPES:
        assert getattr(xp, name) is getattr(zyx, "bool_" if name == "bool" else name)
    assert xp.asarray([1.0]).dtype is xp.float32 and xp.asarray([True]).dtype is xp.bool


def test_array_api_compat_finds_the_namespace():
    array_api_compat = pytest.importorskip("array_api_compat")
    x = xp.ones((2,))
    assert array_api_compat.array_namespace(x) is xp
    assert array_api_compat.is_array_api_obj(x)
    assert x.__array_namespace__(api_version="2024.12") is xp
    with pytest.raises(ValueError):
        x.__array_namespace__(api_version="1999.01")


# ---------------------------------------------------------------- promotion
PROMOTIONS = [
    ("int8", "uint8", "int16"), ("uint8", "int16", "int16"), ("uint32", "int32", "int64"),
    ("int16", "int64", "int64"), ("uint16", "uint64", "uint64"), ("float32", "float64", "float64"),
    ("float32", "complex64", "complex64"), ("float64", "complex64", "complex128"), ("bool", "bool", "bool"),
    ("complex64", "complex128", "complex128"), ("uint8", "uint32", "uint32"), ("int8", "int32", "int32"),
]


@pytest.mark.parametrize("a,b,want", PROMOTIONS)
def test_array_promotion(a, b, want):
    da, db = getattr(xp, a), getattr(xp, b)
    assert xp.result_type(da, db) is getattr(xp, want)
    x, y = xp.ones((2,), dtype=da), xp.ones((2,), dtype=db)
    if want != "bool":
        assert xp.add(x, y).dtype is getattr(xp, want)
        assert (x * y).dtype is getattr(xp, want)
    assert xp.equal(x, y).dtype is xp.bool


@pytest.mark.parametrize("dtype,scalar,want", [
    ("int8", 1, "int8"), ("uint16", 7, "uint16"), ("float32", 1, "float32"), ("float32", 2.5, "float32"),
    ("float64", 1.5, "float64"), ("float32", 1j, "complex64"), ("float64", 1j, "complex128"),
    ("complex64", 2.0, "complex64"), ("bool", True, "bool"),
])
def test_python_scalar_promotion(dtype, scalar, want):
    d = getattr(xp, dtype)
    x = xp.ones((3,), dtype=d)
    assert xp.result_type(x, scalar) is getattr(xp, want)
    op = xp.logical_and if dtype == "bool" else xp.add
    assert op(x, scalar).dtype is getattr(xp, want)
    assert op(scalar, x).dtype is getattr(xp, want)


def test_scalar_out_of_range_and_mixed_errors():
    with pytest.raises(OverflowError):
        xp.add(xp.ones((2,), dtype=xp.int8), 1000)
    with pytest.raises(TypeError):
        xp.add(1, 2)
    with pytest.raises(ValueError):
        xp.result_type(1, 2.0)
    with pytest.raises(TypeError):
        xp.bitwise_and(xp.ones((2,)), xp.ones((2,)))


def test_can_cast_isdtype_finfo_iinfo():
    assert xp.can_cast(xp.int8, xp.int16) and not xp.can_cast(xp.int16, xp.int8)
    assert xp.can_cast(xp.float32, xp.complex64) and not xp.can_cast(xp.int32, xp.float64)
    assert not xp.can_cast(xp.bool, xp.int8) and xp.can_cast(xp.uint8, xp.int16)
    assert xp.isdtype(xp.float32, "real floating") and xp.isdtype(xp.uint8, ("bool", "integral"))
    assert not xp.isdtype(xp.complex64, "real floating") and xp.isdtype(xp.int8, xp.int8)
    fi = xp.finfo(xp.complex64)
    assert fi.dtype is xp.float32 and fi.bits == 32 and fi.eps == float(np.finfo(np.float32).eps)
    ii = xp.iinfo(xp.asarray([1], dtype=xp.uint16))
    assert (ii.min, ii.max, ii.bits, ii.dtype) == (0, 65535, 16, xp.uint16)
    with pytest.raises(ValueError):
        xp.isdtype(xp.int8, "floating")


# ---------------------------------------------------------------- inspection
def test_inspection_api():
    info = xp.__array_namespace_info__()
    caps = info.capabilities()
    assert caps["boolean indexing"] is True and caps["data-dependent shapes"] is True
    assert "max dimensions" in caps
    devs = info.devices()
    assert [d.name for d in devs] == [d.name for d in zyx.available_devices()]
    assert info.default_device() == zyx.default_device()
    for dev in devs:
        all_dt = info.dtypes(device=dev)
        assert all(dev.supports(d) for d in all_dt.values())
        assert set(all_dt) <= set(DTYPES)
        assert set(info.dtypes(device=dev, kind="real floating")) <= {"float32", "float64"}
        assert set(info.dtypes(device=dev, kind=("bool", "complex floating"))) <= {"bool", "complex64",
                                                                                   "complex128"}
        defaults = info.default_dtypes(device=dev)
        assert set(defaults) == {"real floating", "complex floating", "integral", "indexing"}
        assert all(dev.supports(d) for d in defaults.values())
    assert xp.ones((2,)).dtype is info.default_dtypes()["real floating"]
    assert xp.arange(3).dtype is info.default_dtypes()["integral"]
    with pytest.raises(ValueError):
        info.dtypes(kind="strings")


# ---------------------------------------------------------------- creation, asarray, DLPack
def test_asarray_copy_semantics(device):
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    shared = xp.asarray(a, device="cpu")
    copied = xp.asarray(a, copy=True, device="cpu")
    a[0, 0] = 100.0
    assert shared.numpy()[0, 0] == 100.0 and copied.numpy()[0, 0] == 0.0
    t = xp.asarray([1, 2, 3], device=device)
    assert xp.asarray(t) is t and xp.asarray(t, copy=True) is not t
    assert xp.asarray(t, dtype=xp.float32).dtype is xp.float32
    with pytest.raises(ValueError):
        xp.asarray(t, dtype=xp.float32, copy=False)
    with pytest.raises(ValueError):
        xp.asarray([1, 2], copy=False)
    assert xp.asarray([[1, 2], [3, 4]], device=device).dtype is xp.int64
    assert xp.asarray(2.5).dtype is xp.float32 and xp.asarray(True).dtype is xp.bool
    nested = xp.asarray([xp.asarray(1.0), 2.0])
    np.testing.assert_array_equal(nested.numpy(), [1.0, 2.0])


def test_dlpack_numpy_round_trip(device):
    x = xp.reshape(xp.arange(12, dtype=xp.float32, device=device), (3, 4)) * 2
    a = np.from_dlpack(x)
    np.testing.assert_array_equal(a, np.arange(12, dtype=np.float32).reshape(3, 4) * 2)
    assert x.__dlpack_device__() == (1, 0)
    if device == "cpu":  # zero-copy both ways on the CPU
        assert np.shares_memory(a, x._node.buffer.handle)
        b = np.arange(5.0)
        y = xp.from_dlpack(b)
        assert np.shares_memory(y._node.buffer.handle, b)
        b[0] = 42.0
        assert float(y[0]) == 42.0
    c = np.from_dlpack(x, copy=True)
    c[0, 0] = -1
    assert float(x[0, 0]) == 0.0
    z = xp.from_dlpack(np.arange(4, dtype=np.int16), device=device, copy=True)
    assert z.dtype is xp.int16 and z.device == device
    with pytest.raises(BufferError):
        x.__dlpack__(dl_device=(2, 0))
    if x.__dlpack__(max_version=(1, 0)) is None:
        pytest.fail("no capsule")


def test_dlpack_torch_round_trip(device):
    torch = pytest.importorskip("torch")
    t = torch.arange(6, dtype=torch.float64).reshape(2, 3)
    x = xp.from_dlpack(t, device=device)
    np.testing.assert_array_equal(x.numpy(), t.numpy())
    assert x.dtype is xp.float64
    back = torch.from_dlpack(xp.multiply(x, 3.0))
    assert torch.equal(back, t * 3)
    xt = xp.from_dlpack(t.T)  # strided: copied
    np.testing.assert_array_equal(xt.numpy(), t.T.numpy())
    b = xp.from_dlpack(torch.tensor([True, False]))
    assert b.dtype is xp.bool and b.tolist() == [True, False]


def test_creation_functions(device):
    np.testing.assert_allclose(xp.linspace(0, 1, 5, device=device).numpy(), np.linspace(0, 1, 5), rtol=1e-6)
    np.testing.assert_array_equal(xp.eye(3, 4, k=1, device=device).numpy(), np.eye(3, 4, k=1))
    a = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    x = xp.asarray(a, device=device)
    np.testing.assert_array_equal(xp.tril(x, k=-1).numpy(), np.tril(a, k=-1))
    np.testing.assert_array_equal(xp.triu(x, k=1).numpy(), np.triu(a, k=1))
    g = xp.meshgrid(xp.arange(3, device=device), xp.arange(2, device=device))
    ng = np.meshgrid(np.arange(3), np.arange(2))
    assert isinstance(g, tuple)
    for u, v in zip(g, ng):
        np.testing.assert_array_equal(u.numpy(), v)
    f = xp.full((2, 2), 7, device=device)
    assert f.dtype is xp.int64 and f.numpy().tolist() == [[7, 7], [7, 7]]
    assert xp.full_like(x, 1.5).dtype is xp.float32 and xp.zeros_like(x).shape == (2, 3, 4)


# ---------------------------------------------------------------- in-place operators and setitem
INPLACE = [("__iadd__", np.add), ("__isub__", np.subtract), ("__imul__", np.multiply),
           ("__itruediv__", np.true_divide), ("__ifloordiv__", np.floor_divide), ("__imod__", np.mod),
           ("__ipow__", np.power)]


@pytest.mark.parametrize("name,ref", INPLACE)
def test_inplace_arithmetic(name, ref, device):
    a = np.array([[1.5, 2.0, 3.0], [4.0, 5.0, 6.5]], dtype=np.float32)
    x = xp.asarray(a, device=device)
    alias = x
    out = getattr(x, name)(xp.asarray([2.0, 3.0, 0.5], device=device))
    assert out is x and alias is x
    np.testing.assert_allclose(x.numpy(), ref(a, np.array([2.0, 3.0, 0.5], np.float32)), rtol=1e-6)
    assert x.dtype is xp.float32 and x.shape == (2, 3)


def test_inplace_bitwise_and_matmul(device):
    a = np.array([5, 6, 12], dtype=np.int32)
    x = xp.asarray(a, device=device)
    x &= 4
    x |= 1
    x ^= 3
    x <<= 2
    x >>= 1
    np.testing.assert_array_equal(x.numpy(), ((((a & 4) | 1) ^ 3) << 2) >> 1)
    assert x.dtype is xp.int32
    m = xp.asarray(np.eye(3, dtype=np.float32) * 2, device=device)
    m @= xp.ones((3, 3), device=device)
    np.testing.assert_array_equal(m.numpy(), np.full((3, 3), 2.0))


def test_inplace_dtype_and_shape_rules(device):
    x = xp.asarray([1, 2, 3], dtype=xp.int32, device=device)
    x += xp.asarray([1, 1, 1], dtype=xp.int64, device=device)  # same kind: cast back
    assert x.dtype is xp.int32 and x.tolist() == [2, 3, 4]
    with pytest.raises(TypeError, match="cannot cast the float.* result to the tensor's dtype int32"):
        x /= 2  # (NumPy's and PyTorch's words, cast and dtype: array-api-extra's tests match them)
    with pytest.raises(ValueError):
        x += xp.ones((2, 3), dtype=xp.int32, device=device)
    assert x.tolist() == [2, 3, 4]


def test_setitem_patterns(device):
    a = np.arange(20, dtype=np.float64).reshape(4, 5)
    x = xp.asarray(a, device=device)
    alias = x
    x[x > 10] = 0.0           # sklearn's _handle_zeros_in_scale
    a[a > 10] = 0.0
    x[:, 1] = -1.0            # column assignment
    a[:, 1] = -1.0
    for i in range(3):        # sklearn's _fill_diagonal loop
        x[i, i] = 9.0 + i
        a[i, i] = 9.0 + i
    x[xp.asarray([True, False, True, False], device=device)] = xp.asarray([7.0, 7.5, 8.0, 8.5, 9.0],
                                                                          device=device)
    a[np.array([True, False, True, False])] = [7.0, 7.5, 8.0, 8.5, 9.0]
    x[xp.asarray([3, 0], device=device), 4] = xp.asarray([100.0, 200.0], device=device)  # advanced: host
    a[[3, 0], 4] = [100.0, 200.0]
    x[1:3, ::2] = xp.asarray([[1.0], [2.0]], device=device)
    a[1:3, ::2] = [[1.0], [2.0]]
    assert alias is x
    np.testing.assert_array_equal(x.numpy(), a)
    mask = xp.asarray(a > 5, device=device)
    x[mask] = xp.asarray([0.5], device=device)  # one value for all selected elements
    a[a > 5] = 0.5
    np.testing.assert_array_equal(x.numpy(), a)


def test_boolean_mask_setitem_is_a_single_kernel(device):
    x = xp.asarray(np.arange(8.0), device=device)
    x.realize()
    before = stats.launches
    x[x > 3.0] = 3.0
    x.realize()
    assert stats.launches - before == 1
    assert x.tolist() == [0.0, 1.0, 2.0, 3.0, 3.0, 3.0, 3.0, 3.0]


# ---------------------------------------------------------------- laziness
def _standardize_softmax_xp(x):
    mu = xp.mean(x, axis=0, keepdims=True)
    sd = xp.std(x, axis=0, keepdims=True)
    z = (x - mu) / (sd + 1e-6)
    e = xp.exp(z - xp.max(z, axis=1, keepdims=True))
    return e / xp.sum(e, axis=1, keepdims=True)


def _standardize_softmax_tensor(x):
    mu = x.mean(axis=0, keepdims=True)
    sd = x.std(axis=0, keepdims=True)
    z = (x - mu) / (sd + 1e-6)
    e = (z - z.max(axis=1, keepdims=True)).exp()
    return e / e.sum(axis=1, keepdims=True)


def test_xp_chain_launches_as_many_kernels_as_tensor_chain(device):
    data = np.random.default_rng(0).standard_normal((64, 16)).astype(np.float32)
    counts, results = [], []
    for fn in (_standardize_softmax_tensor, _standardize_softmax_xp):
        x = xp.asarray(data, device=device)
        x.realize()
        before = stats.launches
        y = fn(x)
        assert stats.launches == before  # nothing runs while the graph is built
        y.realize()
        counts.append(stats.launches - before)
        results.append(y.numpy())
    assert counts[0] == counts[1] and counts[0] >= 1
    np.testing.assert_allclose(results[0], results[1], rtol=1e-6)


# ---------------------------------------------------------------- functions vs NumPy
def test_sorting_stable_and_descending(device):
    a = np.array([[3, 1, 2, 1, 3], [0, 0, 5, -1, 5]], dtype=np.int32)
    x = xp.asarray(a, device=device)
    np.testing.assert_array_equal(xp.sort(x).numpy(), np.sort(a))
    np.testing.assert_array_equal(xp.sort(x, descending=True).numpy(), -np.sort(-a))
    np.testing.assert_array_equal(xp.argsort(x).numpy(), np.argsort(a, kind="stable"))
    desc = xp.argsort(x, descending=True).numpy()
    np.testing.assert_array_equal(desc, np.argsort(-a, kind="stable"))  # ties keep their order
    f = xp.asarray([2.0, np.nan, 1.0], device=device)
    assert np.isnan(xp.sort(f).numpy()[-1])


def test_sets_and_searching(device):
    a = np.array([3, 1, 2, 3, 1, 1], dtype=np.int64)
    x = xp.asarray(a, device=device)
    r = xp.unique_all(x)
    v, i, inv, c = np.unique(a, return_index=True, return_inverse=True, return_counts=True)
    for got, want in zip(r, (v, i, inv, c)):
        np.testing.assert_array_equal(got.numpy(), want)
    assert r.inverse_indices.shape == x.shape
    np.testing.assert_array_equal(xp.unique_values(x).numpy(), v)
    np.testing.assert_array_equal(xp.isin(x, xp.asarray([1, 2], device=device)).numpy(), np.isin(a, [1, 2]))
    np.testing.assert_array_equal(xp.isin(x, 3, invert=True).numpy(), ~np.isin(a, 3))
    s = np.array([1.0, 2.0, 2.0, 5.0, np.nan])
    q = np.array([[0.0, 2.0], [5.0, np.nan]])
    for side in ("left", "right"):
        got = xp.searchsorted(xp.asarray(s, device=device), xp.asarray(q, device=device), side=side)
        np.testing.assert_array_equal(got.numpy(), np.searchsorted(s, q, side=side))
    assert xp.searchsorted(xp.asarray(s, device=device), 2.0).dtype is xp.int64
    nz = xp.nonzero(xp.asarray([[0, 1], [2, 0]], device=device))
    assert [t.tolist() for t in nz] == [[0, 1], [1, 0]]
    assert int(xp.count_nonzero(x == 1)) == 3
    with pytest.raises(ValueError):
        xp.nonzero(xp.asarray(1))


def test_manipulation_and_statistics(device):
    rng = np.random.default_rng(1)
    a = rng.standard_normal((3, 4, 2)).astype(np.float32)
    x = xp.asarray(a, device=device)
    np.testing.assert_array_equal(xp.moveaxis(x, 0, -1).numpy(), np.moveaxis(a, 0, -1))
    # axes as lists too, as NumPy takes them (SciPy's hilbert2 passes a user's list on)
    np.testing.assert_array_equal(xp.moveaxis(x, [0, 1], [-2, -1]).numpy(), np.moveaxis(a, [0, 1], [-2, -1]))
    assert xp.expand_dims(x, axis=[0]).shape == (1, 3, 4, 2) and xp.squeeze(x[:1, :1], axis=[0, 1]).shape == (2,)
    np.testing.assert_array_equal(xp.expand_dims(x, axis=(0, -1)).shape, (1, 3, 4, 2, 1))
    assert [u.shape for u in xp.unstack(x, axis=1)] == [(3, 2)] * 4
    np.testing.assert_array_equal(xp.concat([x, x], axis=None).numpy(), np.concatenate([a.ravel()] * 2))
    np.testing.assert_array_equal(xp.repeat(x, xp.asarray([1, 0, 2], device=device), axis=0).numpy(),
                                  np.repeat(a, [1, 0, 2], axis=0))
    np.testing.assert_array_equal(xp.tile(x, (2, 1, 1)).numpy(), np.tile(a, (2, 1, 1)))
    np.testing.assert_array_equal(xp.roll(x, (1, -1), axis=(0, 2)).numpy(), np.roll(a, (1, -1), axis=(0, 2)))
    np.testing.assert_allclose(xp.cumulative_sum(x, axis=1, include_initial=True).numpy(),
                               np.concatenate([np.zeros((3, 1, 2), np.float32), np.cumsum(a, 1)], 1), rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(xp.cumulative_prod(x, axis=2).numpy(), np.cumprod(a, 2), rtol=1e-5)
    np.testing.assert_allclose(xp.diff(x, axis=1, n=2, prepend=x[:, :1]).numpy(),
                               np.diff(a, axis=1, n=2, prepend=a[:, :1]), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(xp.var(x, axis=(0, 2), correction=1).numpy(), a.var(axis=(0, 2), ddof=1),
                               rtol=1e-5)
    np.testing.assert_array_equal(xp.take(x, xp.asarray([2, 0], device=device), axis=1).numpy(),
                                  np.take(a, [2, 0], axis=1))
    idx = np.argsort(a, axis=1)
    np.testing.assert_array_equal(xp.take_along_axis(x, xp.asarray(idx, device=device), axis=1).numpy(),
                                  np.take_along_axis(a, idx, axis=1))
    np.testing.assert_allclose(xp.tensordot(x, x, axes=([0, 2], [0, 2])).numpy(),
                               np.tensordot(a, a, axes=([0, 2], [0, 2])), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(xp.vecdot(x, x, axis=1).numpy(), np.sum(a * a, axis=1), rtol=1e-5)
    assert xp.broadcast_shapes((2, 1), (3,)) == (2, 3)
    assert isinstance(xp.broadcast_arrays(x, x), tuple)


def test_linalg_against_numpy(device):
    rng = np.random.default_rng(2)
    a = rng.standard_normal((2, 4, 4))
    spd = a @ np.swapaxes(a, -1, -2) + 4 * np.eye(4)
    x, s = xp.asarray(a, device=device), xp.asarray(spd, device=device)
    L = xp.linalg.cholesky(s)
    np.testing.assert_allclose(L.numpy(), np.linalg.cholesky(spd), rtol=1e-10)
    np.testing.assert_allclose(xp.linalg.cholesky(s, upper=True).numpy(),
                               np.swapaxes(np.linalg.cholesky(spd), -1, -2), rtol=1e-10)
    np.testing.assert_allclose(xp.linalg.det(x).numpy(), np.linalg.det(a), rtol=1e-10)
    np.testing.assert_allclose(xp.linalg.inv(x).numpy(), np.linalg.inv(a), rtol=1e-8)
    b = rng.standard_normal(4)
    np.testing.assert_allclose(xp.linalg.solve(x[0], xp.asarray(b, device=device)).numpy(),
                               np.linalg.solve(a[0], b), rtol=1e-8)
    w, v = xp.linalg.eigh(s)
    np.testing.assert_allclose(w.numpy(), np.linalg.eigvalsh(spd), rtol=1e-10)
    np.testing.assert_allclose((v @ xp.linalg.matrix_transpose(v)).numpy(), np.broadcast_to(np.eye(4), (2, 4, 4)),
                               atol=1e-10)
    u, sv, vh = xp.linalg.svd(x, full_matrices=False)
    np.testing.assert_allclose((u * sv[..., None, :] @ vh).numpy(), a, atol=1e-10)
    q, r = xp.linalg.qr(x)
    np.testing.assert_allclose((q @ r).numpy(), a, atol=1e-10)
    sign, logdet = xp.linalg.slogdet(x)
    np.testing.assert_allclose((sign * xp.exp(logdet)).numpy(), np.linalg.det(a), rtol=1e-10)
    np.testing.assert_allclose(xp.linalg.pinv(x).numpy(), np.linalg.pinv(a), rtol=1e-7, atol=1e-9)
    assert xp.linalg.matrix_rank(x).tolist() == [4, 4]
    np.testing.assert_allclose(xp.linalg.matrix_power(x, 3).numpy(), np.linalg.matrix_power(a, 3), rtol=1e-10)
    np.testing.assert_allclose(xp.linalg.matrix_power(x, -2).numpy(), np.linalg.matrix_power(a, -2), rtol=1e-8)
    np.testing.assert_allclose(xp.linalg.diagonal(x, offset=1).numpy(), np.diagonal(a, 1, -2, -1))
    np.testing.assert_allclose(xp.linalg.diagonal(x, offset=-2).numpy(), np.diagonal(a, -2, -2, -1))
    np.testing.assert_allclose(xp.linalg.trace(x, offset=-1).numpy(), np.trace(a, -1, -2, -1), rtol=1e-12)
    for o in ("fro", 1, -1, 2, -2, "nuc", math.inf, -math.inf):
        np.testing.assert_allclose(xp.linalg.matrix_norm(x, ord=o).numpy(), np.linalg.norm(a, ord=o, axis=(-2, -1)),
                                   rtol=1e-10, err_msg=str(o))
    for o in (2, 1, 3, math.inf, -math.inf, 0):
        np.testing.assert_allclose(xp.linalg.vector_norm(x, axis=-1, ord=o).numpy(),
                                   np.linalg.norm(a, ord=o, axis=-1), rtol=1e-10, err_msg=str(o))
    c1, c2 = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    np.testing.assert_allclose(xp.linalg.cross(xp.asarray(c1, device=device), xp.asarray(c2, device=device)).numpy(),
                               np.cross(c1, c2), rtol=1e-12)
    np.testing.assert_allclose(xp.linalg.outer(x[0, 0], x[0, 1]).numpy(), np.outer(a[0, 0], a[0, 1]))
    ev = xp.linalg.eigvals(x)
    assert ev.dtype is xp.complex128
    with pytest.raises(TypeError):
        xp.linalg.inv(xp.asarray([[1, 2], [3, 4]], device=device))
    with pytest.raises(ValueError):
        xp.linalg.det(xp.ones((2, 3), device=device))


def test_fft_against_numpy(device):
    rng = np.random.default_rng(3)
    a = rng.standard_normal((4, 6)).astype(np.float32)
    x = xp.asarray(a, device=device)
    c = xp.fft.fft(xp.astype(x, xp.complex64), n=8, norm="ortho")
    assert c.dtype is xp.complex64
    np.testing.assert_allclose(c.numpy(), np.fft.fft(a, n=8, norm="ortho"), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(xp.fft.irfft(xp.fft.rfft(x)).numpy(), a, atol=1e-5)
    np.testing.assert_allclose(xp.fft.rfftn(x, s=(4, 4)).numpy(), np.fft.rfftn(a, s=(4, 4), axes=(0, 1)), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(xp.fft.hfft(xp.astype(x, xp.complex64)).numpy(), np.fft.hfft(a), rtol=1e-4,
                               atol=1e-4)
    np.testing.assert_allclose(xp.fft.fftfreq(7, d=0.5, device=device).numpy(), np.fft.fftfreq(7, 0.5), rtol=1e-6)
    np.testing.assert_allclose(xp.fft.rfftfreq(8, device=device).numpy(), np.fft.rfftfreq(8), rtol=1e-6)
    np.testing.assert_array_equal(xp.fft.fftshift(x).numpy(), np.fft.fftshift(a))
    np.testing.assert_array_equal(xp.fft.ifftshift(x, axes=1).numpy(), np.fft.ifftshift(a, axes=1))
    with pytest.raises(ValueError):
        xp.fft.fft(xp.astype(x, xp.complex64), norm="sideways")


# ---------------------------------------------------------------- errors
def test_errors_have_the_standard_types(device):
    x = xp.ones((2, 3), device=device)
    with pytest.raises(TypeError):
        xp.sum([1, 2, 3])
    with pytest.raises(ValueError):
        xp.reshape(x, (4, 2))
    with pytest.raises(ValueError):
        xp.matmul(x, x)
    with pytest.raises(ValueError):
        xp.squeeze(x, axis=0)
    with pytest.raises(IndexError):
        x[5]
    with pytest.raises(IndexError):
        xp.sum(x, axis=3)
    with pytest.raises(ValueError):
        xp.concat([])
    with pytest.raises(TypeError):
        xp.sort(xp.astype(x, xp.complex64))
    with pytest.raises(ValueError):
        xp.max(xp.ones((0,), device=device))
    with pytest.raises(TypeError):
        xp.take(x, xp.asarray([0.5], device=device), axis=0)


@pytest.mark.skipif(len(zyx.available_devices()) < 2, reason="needs two devices")
def test_device_mismatch_is_a_value_error():
    d0, d1 = zyx.available_devices()[:2]
    a, b = xp.ones((2,), device=d0), xp.ones((2,), device=d1)
    for call in (lambda: xp.add(a, b), lambda: a + b, lambda: xp.concat([a, b]), lambda: xp.where(a > 0, a, b)):
        with pytest.raises(ValueError):
            call()
    assert xp.add(a, b.to_device(d0)).device == d0


def test_mutating_a_basic_index_view_writes_back(device):
    """scikit-learn mutates views (``_add_to_diagonal(cov[k, :, :], ...)``) and expects
    the base to change, as with NumPy and PyTorch."""
    c = xp.zeros((2, 3, 3), device=device)
    ref = np.zeros((2, 3, 3))
    v, rv = c[1, :, :], ref[1, :, :]
    for i in range(3):
        v[i, i] = 5.0 + i
        rv[i, i] = 5.0 + i
    v += 1.0
    rv += 1.0
    row = c[0][1]   # a view of a view
    row[2] = 7.0
    ref[0][1][2] = 7.0
    np.testing.assert_array_equal(c.numpy(), ref)
    t = xp.asarray([1.0, 2.0], device=device)
    fancy = t[xp.asarray([0], device=device)]  # advanced indexing copies: no write-back
    fancy[0] = 9.0
    assert t.tolist() == [1.0, 2.0]


def test_namespace_reachable_as_attribute_after_import_zyx():
    code = "import zyx; xp = zyx.array_api; print(xp.__array_api_version__, xp.asarray([1, 2]).shape)"
    import subprocess
    import sys
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[0] == "2025.12"


def test_what_array_code_takes_beyond_the_standard(device):
    """Behaviour the standard leaves open that NumPy, PyTorch and CuPy share and array code
    relies on (found running SciPy's own array-API tests on zyx): sums, products and max/min
    of booleans; arange bounds given as 0-d arrays; ``view(dtype)`` and ``ravel``."""
    mask = xp.asarray([[True, False, True], [False, False, True]], device=device)
    m = np.array([[True, False, True], [False, False, True]])
    s = xp.sum(mask, axis=-1)
    assert s.dtype is xp.int64 and s.numpy().tolist() == m.sum(-1).tolist()
    assert int(xp.sum(mask)) == 3 and xp.prod(mask, axis=0).numpy().tolist() == [0, 0, 1]
    assert xp.cumulative_sum(mask, axis=1).numpy().tolist() == np.cumsum(m, 1).tolist()
    assert xp.max(mask).dtype is xp.bool and bool(xp.max(mask)) and not bool(xp.min(mask))
    with pytest.raises(TypeError):
        xp.mean(mask)  # (the standard's floating-point rule stays)
    n = xp.asarray(4, device=device)
    assert xp.arange(1, n + 1, dtype=n.dtype, device=device).numpy().tolist() == [1, 2, 3, 4]
    # NumPy scalars where Python scalars go (SciPy passes np.log(eps) to where)
    v = xp.asarray([1.0, 2.0], device=device)
    assert xp.where(v > 1, np.float64(-3.0), v).numpy().tolist() == [1.0, -3.0]
    assert xp.maximum(v, np.float32(1.5)).numpy().tolist() == [1.5, 2.0]
    # integer linspace (floored, as NumPy), diag both ways
    got = xp.linspace(-1, 2.5, 6, dtype=xp.int32, device=device).numpy()
    assert got.dtype == np.int32 and got.tolist() == np.linspace(-1, 2.5, 6, dtype=np.int32).tolist()
    d = np.array([1.0, np.inf, -2.0], np.float32)
    for k in (0, 2, -1):
        np.testing.assert_array_equal(xp.diag(xp.asarray(d, device=device), k).numpy(), np.diag(d, k))
    grid = np.arange(12.0, dtype=np.float32).reshape(3, 4)
    np.testing.assert_array_equal(xp.diag(xp.asarray(grid, device=device), 1).numpy(), np.diag(grid, 1))
    for bad in (xp.asarray([1, 2]), xp.asarray(True), xp.asarray(1j)):
        with pytest.raises(TypeError):
            xp.arange(bad)
    if device == "wgpu:0":
        return  # (no float64 or complex there)
    c = np.array([[1 + 2j, 3 - 4j], [5j, -1]])
    z = xp.asarray(c, device=device)
    np.testing.assert_array_equal(z.view(float).numpy(), c.view(float))   # NumPy's meaning: float64
    np.testing.assert_array_equal(z.view(float).view(complex).numpy(), c)
    np.testing.assert_array_equal(z.view(xp.int64).numpy(), c.view(np.int64).reshape(2, 4))
    f = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(xp.asarray(f, device=device).view(np.int32).numpy(), f.view(np.int32))
    assert xp.asarray(f, device=device).view(3, 2).shape == (3, 2) and xp.asarray(f).ravel().shape == (6,)
    with pytest.raises(ValueError):
        xp.asarray(f, device=device).view(xp.float64)   # float32 pairs are not float64
    with pytest.raises(ValueError):
        xp.asarray(f, device=device).view(xp.complex64)  # an odd last axis cannot pair up
