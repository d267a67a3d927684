"""Movement, indexing and matmul against NumPy: reshape/permute/expand/squeeze/flip/roll/
pad, basic and advanced indexing, __setitem__, cat/stack/split/chunk/repeat/tile,
gather/take/take_along_axis, and matmul with 1-d and batched operands of every numeric
dtype. Movement ops are index arithmetic, so each result is also checked after being
consumed by a fused elementwise op."""
from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import zyx
from zyx import dtypes as dt

from _util import COMPLEX, FLOATS, INTS, T, assert_close, hyp, ids, require

A = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5) - 50


def _same(got, want, msg=""):
    assert_close(got, want, msg=msg)
    if want.size and want.dtype.kind == "f":  # the view feeds a fused kernel correctly too
        assert_close(got * 2 + 1, want * 2 + 1, msg=msg + " (fused)")


# ===================================================================== movement
@pytest.mark.parametrize("shape", [(120,), (6, -1), (-1, 5), (2, 3, 20), (1, 120, 1), (5, 4, 3, 2)], ids=str)
def test_reshape(device, shape):
    _same(T(A, device).reshape(shape), A.reshape(shape), f"reshape {shape}")
    _same(T(A, device).permute(2, 0, 3, 1).reshape(shape), A.transpose(2, 0, 3, 1).reshape(shape),
          "reshape of a permuted view")


def test_reshape_zero_d_and_empty(device):
    x = T(np.float32(3.5), device)
    assert_close(x.reshape(1, 1), np.full((1, 1), 3.5, np.float32))
    assert_close(x.reshape(()), np.float32(3.5))
    e = T(np.zeros((0, 3), np.float32), device)
    assert e.reshape(3, 0).shape == (3, 0)
    assert e.reshape(-1, 3).shape == (0, 3)
    with pytest.raises(ValueError):
        e.reshape(-1, 0)


@pytest.mark.parametrize("perm", [(0, 1, 2, 3), (3, 2, 1, 0), (1, 3, 0, 2), (-1, 0, -2, 1)], ids=str)
def test_permute(device, perm):
    _same(T(A, device).permute(*perm), A.transpose(perm), f"permute {perm}")
    _same(T(A, device).permute(perm), A.transpose(perm), f"permute tuple {perm}")


def test_transpose_swapaxes_T(device):
    x = T(A, device)
    _same(x.swapaxes(0, -1), A.swapaxes(0, -1), "swapaxes")
    _same(x.transpose(1, 2), A.swapaxes(1, 2), "transpose")
    _same(x.mT, np.swapaxes(A, -1, -2), "mT")
    _same(x[0, 0].T, A[0, 0].T, "T")
    with pytest.raises(ValueError):
        x.T


def test_expand_broadcast_to(device):
    a = A[:, :1, :, :1]
    x = T(a, device)
    _same(x.broadcast_to((2, 3, 4, 5)), np.broadcast_to(a, (2, 3, 4, 5)), "broadcast_to")
    _same(x.broadcast_to((7, 2, 3, 4, 5)), np.broadcast_to(a, (7, 2, 3, 4, 5)), "broadcast_to new dims")
    _same(x.expand(7, -1, 3, -1, 2), np.broadcast_to(a, (7, 2, 3, 4, 2)), "expand -1")
    _same(T(np.float32(2), device).broadcast_to((3, 0)), np.zeros((3, 0), np.float32), "0-d to empty")
    with pytest.raises(ValueError):
        x.broadcast_to((2, 3, 4))
    with pytest.raises(ValueError):
        x.broadcast_to((3, 3, 4, 5))


def test_squeeze_unsqueeze_flatten(device):
    a = A[:, :1, :, :1]
    x = T(a, device)
    _same(x.squeeze(), np.squeeze(a), "squeeze")
    _same(x.squeeze(-1), np.squeeze(a, -1), "squeeze -1")
    _same(x.squeeze((1, 3)), np.squeeze(a, (1, 3)), "squeeze tuple")
    with pytest.raises(ValueError):
        x.squeeze(0)
    for ax in (0, 2, -1, -5, 4):
        _same(x.unsqueeze(ax), np.expand_dims(a, ax), f"unsqueeze {ax}")
    with pytest.raises((IndexError, ValueError)):
        x.unsqueeze(6)
    y = T(A, device)
    _same(y.flatten(), A.ravel(), "flatten")
    _same(y.flatten(1, 2), A.reshape(2, 12, 5), "flatten 1..2")
    _same(y.flatten(-2), A.reshape(2, 3, 20), "flatten -2")
    assert T(np.float32(1), device).flatten().shape == (1,)


@pytest.mark.parametrize("axis", [None, 0, -1, (1, 3), (0, 1, 2, 3)], ids=str)
def test_flip(device, axis):
    _same(T(A, device).flip(axis), np.flip(A, axis), f"flip {axis}")


@pytest.mark.parametrize("shift,axis", [(1, None), (-3, None), (2, 1), ((1, -2), (0, 3)), (17, -1), (0, 0),
                                        (-121, None)], ids=str)
def test_roll(device, shift, axis):
    _same(T(A, device).roll(shift, axis), np.roll(A, shift, axis), f"roll {shift} {axis}")


@pytest.mark.parametrize("pads", [[(1, 2), (0, 0), (2, 0), (0, 3)], [(0, 0), (1, 1), (-1, 2), (-2, -1)],
                                  [(-1, 0), (0, -2), (0, 0), (3, -3)], [(0, 0)] * 4], ids=str)
@pytest.mark.parametrize("value", [0.0, -7.5])
def test_pad(device, pads, value):
    """Constant padding; negative amounts crop."""
    pos = [(max(a, 0), max(b, 0)) for a, b in pads]
    want = np.pad(A, pos, constant_values=value)
    crop = tuple(slice(max(-a, 0), want.shape[i] - max(-b, 0)) for i, (a, b) in enumerate(pads))
    _same(T(A, device).pad(pads, value), want[crop], f"pad {pads}")


def test_pad_int_and_bool(device):
    a = np.arange(6, dtype=np.int16).reshape(2, 3)
    assert_close(T(a, device).pad([(1, 0), (0, 2)], 9), np.pad(a, [(1, 0), (0, 2)], constant_values=9), dtype=dt.int16)
    b = a > 2
    assert_close(T(b, device).pad([(0, 1), (1, 0)], True), np.pad(b, [(0, 1), (1, 0)], constant_values=True))


# ===================================================================== indexing
GET_KEYS = [
    0, -1, slice(None, None, -1), (slice(1, None), 2), (Ellipsis, 1), (None, 0, Ellipsis, None),
    (slice(None, None, 2), slice(None, None, -2)), (1, slice(3, 0, -2), None, slice(-1, -6, -3)),
    (slice(5, 10),), (slice(None), slice(None), slice(10, 2)), (np.int64(1),), (Ellipsis, None), (0, 0, 0, 0),
    (-2, -3, -4, -5), (slice(-100, 100, 3),), (slice(None, None, -3), Ellipsis, slice(4, None, -1)),
    # advanced
    ([0, 1, 0],), (slice(None), [2, 0, -1]), ([1, 0], [2, 1]), (Ellipsis, [1, 3], [0, 2]),
    (0, [1, 2], slice(None), [3, 4]), (slice(None), [[0], [2]], [[1, 2]]), ([],),
    (slice(None), np.array([True, False, True])), ([True, False],), (slice(None), None, [0, 2], None, 1),
    (1, slice(None), [0, 3]), (np.array([[1, 0], [0, 1]]), slice(None, None, -1)), (Ellipsis, np.array(2)),
    # masks and scalar booleans
    (A[:, :, :, 0] > -20,), (A > 10,), (1, A[1, :, :, 0] > 30), (True,), (False,), (Ellipsis, True),
]


@pytest.mark.parametrize("key", GET_KEYS, ids=[f"k{i}" for i in range(len(GET_KEYS))])
def test_getitem(device, key):
    _same(T(A, device)[key], A[key], f"getitem {key!r}"[:100])


def test_getitem_with_tensor_indices(device):
    x = T(A, device)
    idx = T(np.array([2, 0]), device)
    _same(x[:, idx], A[:, [2, 0]], "tensor index")
    _same(x[T(np.int64(1), device)], A[1], "0-d tensor index")
    mask = T(A[0, 0] > -45, device)
    _same(x[0, 0][mask], A[0, 0][A[0, 0] > -45], "tensor mask")


def test_getitem_zero_d_and_empty(device):
    s = T(np.float32(2.5), device)
    assert_close(s[()], np.float32(2.5))
    assert_close(s[None], np.array([2.5], np.float32))
    assert_close(s[...], np.float32(2.5))
    e = T(np.zeros((0, 3), np.float32), device)
    assert e[:, 1].shape == (0,)
    assert e[1:].shape == (0, 3)


@pytest.mark.parametrize("key", [(3,), (0, 5), (-3,), (0, 0, 0, 0, 0), (Ellipsis, Ellipsis), ([0, 2],),
                                 (slice(None), [3]), (slice(None), np.array([True, False]))], ids=str)
def test_getitem_out_of_range(device, key):
    with pytest.raises(IndexError):
        T(A, device)[key]


def test_getitem_bad_index_type(device):
    x = T(A, device)
    for key in (1.5, "a", (slice(None), 2.0), [0.5]):
        with pytest.raises(IndexError):
            x[key]


@hyp(25)
@given(data=st.data())
def test_getitem_slices_hypothesis(device, data):
    """Random basic slices (steps, negative steps and indices) on a fixed tensor."""
    shape = (4, 5, 3)
    a = np.arange(60, dtype=np.int32).reshape(shape)
    key = []
    for n in shape:
        kind = data.draw(st.sampled_from(["slice", "int", "none", "full"]))
        if kind == "slice":
            st_ = data.draw(st.one_of(st.none(), st.integers(-n - 2, n + 2)))
            sp = data.draw(st.one_of(st.none(), st.integers(-n - 2, n + 2)))
            step = data.draw(st.one_of(st.none(), st.integers(-3, 3).filter(lambda v: v != 0)))
            key.append(slice(st_, sp, step))
        elif kind == "int":
            key.append(data.draw(st.integers(-n, n - 1)))
        elif kind == "none":
            key.append(None)
            key.append(slice(None))
        else:
            key.append(slice(None))
    key = tuple(key)
    assert_close(T(a, device)[key], a[key], msg=f"{key}")


SET_KEYS = [0, (slice(None, None, 2),), (slice(None), 1, slice(3, 0, -2)), (Ellipsis, -1), (A > 50,),
            ([0, 1], [2, 0]), (1, slice(None), [0, 3]), (slice(None, None, -1), slice(1, 3)), (-1, -1, -1, -1),
            (slice(None), None, 2)]


@pytest.mark.parametrize("key", SET_KEYS, ids=[f"k{i}" for i in range(len(SET_KEYS))])
def test_setitem(device, key):
    want = A.copy()
    x = T(A, device)
    want[key] = -7
    x[key] = -7.0
    assert_close(x, want, msg=f"setitem scalar {key!r}")
    sub = A[key]
    vals = np.arange(sub.size, dtype=np.float32).reshape(sub.shape) + 1000
    want[key] = vals
    x[key] = T(vals, device)
    assert_close(x, want, msg=f"setitem tensor {key!r}")
    if sub.ndim:  # a broadcast value
        row = np.arange(sub.shape[-1], dtype=np.float32) + 5000
        want[key] = row
        x[key] = T(row, device)
        assert_close(x, want, msg=f"setitem broadcast {key!r}")


def test_setitem_keeps_other_references(device):
    x = T(np.zeros((3, 3), np.float32), device)
    y = x * 1
    view = x[0]
    x[0, 0] = 5
    x[1] = 2
    assert_close(x, np.array([[5, 0, 0], [2, 2, 2], [0, 0, 0]], np.float32))
    assert_close(y, np.zeros((3, 3), np.float32), msg="an earlier result is not changed")
    # NumPy's view rule: a view sees later writes to its base (x[0, 0]), not writes elsewhere
    assert_close(view, np.array([5, 0, 0], np.float32), msg="a view taken before sees the write")
    x[:, 2] = x[:, 0] + 1  # the value reads the tensor being assigned
    assert_close(x, np.array([[5, 0, 6], [2, 2, 3], [0, 0, 1]], np.float32))


def test_setitem_dtype_and_errors(device):
    x = T(np.zeros(4, np.int32), device)
    x[1] = 7
    x[2:] = T(np.array([1.9, -1.9], np.float32), device)  # cast to the tensor's dtype, like NumPy
    assert_close(x, np.array([0, 7, 1, -1], np.int32), dtype=dt.int32)
    with pytest.raises(IndexError):
        x[4] = 1
    with pytest.raises(ValueError):
        x[:2] = T(np.ones(3, np.int32), device)


# ===================================================================== joining and splitting
def test_cat_stack(device):
    x = T(A, device)
    _same(zyx.cat([x, x * 2, x[:, :1]], 1), np.concatenate([A, A * 2, A[:, :1]], 1), "cat")
    _same(zyx.cat([x, x], -1), np.concatenate([A, A], -1), "cat -1")
    _same(zyx.cat([x]), A, "cat one")
    _same(zyx.cat([x[:, :0], x], 1), A, "cat with an empty part")
    _same(zyx.stack([x, x + 1], 2), np.stack([A, A + 1], 2), "stack")
    _same(zyx.stack([x, x + 1], -1), np.stack([A, A + 1], -1), "stack -1")
    s = [T(np.float32(i), device) for i in range(3)]
    _same(zyx.stack(s), np.arange(3, dtype=np.float32), "stack 0-d")
    mixed = zyx.cat([T(np.array([1, 2], np.int8), device), T(np.array([0.5], np.float32), device)])
    assert_close(mixed, np.array([1, 2, 0.5], np.float32), dtype=dt.float32)
    with pytest.raises(ValueError):
        zyx.cat([x, x[:, :, :1]], 1)
    with pytest.raises(ValueError):
        zyx.cat([])
    with pytest.raises(ValueError):
        zyx.stack([x, x[0]])


def test_split_chunk(device):
    x = T(A, device)
    for g, w in zip(x.split([1, 2], 1), np.split(A, [1], 1)):
        _same(g, w, "split list")
    for g, w in zip(x.split(2, 3), np.split(A, [2, 4], 3)):
        _same(g, w, "split int")
    for g, w in zip(x.chunk(2, 2), np.array_split(A, 2, 2)):
        _same(g, w, "chunk")
    parts = x.chunk(4, 3)
    assert [p.shape[3] for p in parts] == [2, 2, 1]
    with pytest.raises(ValueError):
        x.split([1, 1], 1)


def test_repeat_tile(device):
    x = T(A, device)
    _same(x.repeat(2, 1), np.repeat(A, 2, 1), "repeat")
    _same(x.repeat(3), np.repeat(A, 3), "repeat flat")
    _same(x.repeat([1, 0, 2], 1), np.repeat(A, [1, 0, 2], 1), "repeat list")
    _same(x.repeat(0, 2), np.repeat(A, 0, 2), "repeat 0")
    for reps in ((2, 1, 1, 3), 2, (2, 1, 1, 1, 1), (1, 2)):
        _same(x.tile(reps), np.tile(A, reps), f"tile {reps}")


# ===================================================================== gather
def test_gather_take(device):
    x = T(A, device)
    idx = np.broadcast_to(np.array([[[[0, 4, -1]]]]), (2, 3, 4, 3)).copy()
    _same(x.gather(3, idx), np.take_along_axis(A, idx % 5, 3), "gather")
    _same(x.take(np.array([[0, -1], [2, 1]]), 1), np.take(A, [[0, -1], [2, 1]], 1), "take")
    _same(x.take(np.array([5, 0, 119])), np.take(A, [5, 0, 119]), "take flat")
    _same(x.take(np.array(1), 0), np.take(A, 1, 0), "take 0-d index")
    ia = np.argsort(A * np.cos(A), axis=1)
    _same(x.take_along_axis(ia, 1), np.take_along_axis(A, ia, 1), "take_along_axis")
    _same(x.take_along_axis(ia[:, :, :1], 1), np.take_along_axis(A, ia[:, :, :1], 1), "take_along_axis broadcast")
    u = T(np.array([3, 1], np.uint8), device)
    _same(x.take(u, 2), np.take(A, [3, 1], 2), "uint8 indices")
    with pytest.raises(IndexError):
        x.take(np.array([0.5]), 0)


def test_gather_of_computed_values(device):
    """A reduction feeding a gather is stored first; an elementwise source is fused."""
    x = T(A, device)
    idx = np.array([[1, 0, 2]])
    _same(x.sum(3).gather(1, np.broadcast_to(idx[:, :, None], (2, 3, 4)).copy()),
          np.take_along_axis(A.sum(3), np.broadcast_to(idx[:, :, None], (2, 3, 4)), 1), "gather of a sum")
    _same((x * 3).exp2().take(np.array([0, 3]), 2), np.take(np.exp2(A * 3), [0, 3], 2), "take of elementwise")


# ===================================================================== matmul
MM_SHAPES = [((3,), (3,)), ((3,), (3, 4)), ((2, 3), (3,)), ((2, 3), (3, 4)), ((5, 1, 2, 3), (4, 3, 2)),
             ((2, 0), (0, 3)), ((0, 3), (3, 2)), ((8, 16), (16, 32)), ((1, 3), (2, 3, 1)), ((3, 40, 9), (9, 64)),
             ((2, 1, 5), (5,))]
MM_DTYPES = INTS + FLOATS + COMPLEX


@pytest.mark.parametrize("d", MM_DTYPES, ids=ids(MM_DTYPES))
def test_matmul(device, d):
    require(device, d)
    rng = np.random.default_rng(5)
    outs, wants = [], []
    for sa, sb in MM_SHAPES:
        if d.kind in "iu":
            a = rng.integers(0 if d.kind == "u" else -100, 100, sa).astype(d.np)
            b = rng.integers(0 if d.kind == "u" else -100, 100, sb).astype(d.np)
            with np.errstate(over="ignore"):
                want = np.matmul(a, b)  # wraps like NumPy
        else:
            a = rng.standard_normal(sa).astype(d.np)
            b = rng.standard_normal(sb).astype(d.np)
            if d.kind == "c":
                a = (a + 1j * rng.standard_normal(sa)).astype(d.np)
            want = np.matmul(a.astype(np.complex128 if d.kind == "c" else np.float64),
                             b.astype(np.complex128 if d.kind == "c" else np.float64))
        outs.append(T(a, device) @ T(b, device))
        wants.append((want, np.abs(a).astype(np.float64) @ np.abs(b).astype(np.float64) if a.size and b.size
                      else np.zeros(want.shape)))
    zyx.realize(*outs)
    for (sa, sb), got, (want, mag) in zip(MM_SHAPES, outs, wants):
        if d.kind in "iu":
            assert_close(got, want, dtype=d, msg=f"{sa} @ {sb}")
        else:
            eps = {"float16": 1e-3, "bfloat16": 8e-3}.get(d.name, 1e-6 if d in (dt.float32, dt.complex64) else 1e-14)
            assert_close(got, want.astype(d.np), rtol=eps, atol=np.asarray(mag) * eps * 4, dtype=d,
                         msg=f"{d.name} {sa} @ {sb}")


def test_matmul_python_operands_and_errors(device):
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    x = T(a, device)
    assert_close(x @ [1.0, 2.0, 3.0], a @ np.array([1, 2, 3], np.float32), msg="@ list")
    assert_close(np.array([[1.0, 2.0]], np.float32) @ x, np.array([[1, 2]], np.float32) @ a, msg="ndarray @")
    assert_close(x.dot(x.T), a @ a.T, msg="dot")
    with pytest.raises(ValueError):
        x @ x
    with pytest.raises(ValueError):
        x @ T(np.float32(2), device)
    with pytest.raises(ValueError):
        T(np.ones((2, 2, 3), np.float32), device) @ T(np.ones((3, 3, 2), np.float32), device)


def test_bfloat16_movement(device):
    require(device, dt.bfloat16)
    a = (np.arange(24).reshape(2, 3, 4) / 8).astype(ml_dtypes.bfloat16)
    x = T(a, device)
    assert_close(x.permute(2, 0, 1)[::-1, 1:], a.transpose(2, 0, 1)[::-1, 1:], dtype=dt.bfloat16)
    assert_close(zyx.cat([x, x], 1), np.concatenate([a, a], 1), dtype=dt.bfloat16)
