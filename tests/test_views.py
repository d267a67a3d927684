"""The view rule (docs/array_api.md "Views"): every function that only rearranges
elements returns a view; writes through a view reach its base, writes to the base reach
its views, and views of one base see each other's writes - as NumPy (and
array_api_strict) do. Every case is checked against NumPy doing the same operations on
its own views. Functions that are not views return new arrays, never their input.
"""
from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest

import zyx
import zyx.array_api as xp
from zyx._views import is_view
from zyx.autograd import GradientTape
from zyx.realize import stats

SHAPE = (2, 3, 4)


def _np_diagonal(a, offset=0):
    """NumPy's diagonal is read-only; this is the same elements as a writable view."""
    m, n = a.shape[-2:]
    count, start = (min(m, n - offset), offset) if offset >= 0 else (min(m + offset, n), -offset * n)
    return a.reshape(a.shape[:-2] + (m * n,))[..., start::n + 1][..., :count]


# (name, zyx function, NumPy function producing the same elements as a view)
VIEWS = [
    ("x[1]", lambda x: x[1], lambda a: a[1]),
    ("x[1:, ::2, -1]", lambda x: x[1:, ::2, -1], lambda a: a[1:, ::2, -1]),
    ("x[::-1, None, 1:3]", lambda x: x[::-1, None, 1:3], lambda a: a[::-1, None, 1:3]),
    ("x[...]", lambda x: x[...], lambda a: a[...]),
    ("x[:]", lambda x: x[:], lambda a: a[:]),
    ("x.reshape", lambda x: x.reshape(6, 4), lambda a: a.reshape(6, 4)),
    ("x.view", lambda x: x.view(-1), lambda a: a.reshape(-1)),
    ("x.flatten", lambda x: x.flatten(1), lambda a: a.reshape(2, 12)),
    ("x.permute", lambda x: x.permute(2, 0, 1), lambda a: a.transpose(2, 0, 1)),
    ("x.swapaxes", lambda x: x.swapaxes(0, 2), lambda a: a.swapaxes(0, 2)),
    ("x.transpose", lambda x: x.transpose(), lambda a: a.swapaxes(-1, -2)),
    ("x.mT", lambda x: x.mT, lambda a: a.swapaxes(-1, -2)),
    ("x[0].T", lambda x: x[0].T, lambda a: a[0].T),
    ("x.unsqueeze", lambda x: x.unsqueeze(1), lambda a: a[:, None]),
    ("x[None].squeeze", lambda x: x[None].squeeze(), lambda a: a[None].squeeze()),
    ("x.flip", lambda x: x.flip(1), lambda a: np.flip(a, 1)),
    ("x.split", lambda x: x.split([1, 3], 2)[1], lambda a: np.split(a, [1], 2)[1]),
    ("x.chunk", lambda x: x.chunk(2, 2)[1], lambda a: np.split(a, 2, 2)[1]),
    ("x.shrink", lambda x: x.shrink(((0, 2, 1), (2, 2, -1), (1, 2, 2))), lambda a: a[:, 2::-1][:, :2, 1::2]),
    ("xp.reshape", lambda x: xp.reshape(x, (4, 6)), lambda a: a.reshape(4, 6)),
    ("xp.permute_dims", lambda x: xp.permute_dims(x, (1, 2, 0)), lambda a: a.transpose(1, 2, 0)),
    ("xp.matrix_transpose", xp.matrix_transpose, lambda a: a.swapaxes(-1, -2)),
    ("xp.linalg.matrix_transpose", xp.linalg.matrix_transpose, lambda a: a.swapaxes(-1, -2)),
    ("xp.moveaxis", lambda x: xp.moveaxis(x, 0, -1), lambda a: np.moveaxis(a, 0, -1)),
    ("xp.expand_dims", lambda x: xp.expand_dims(x, axis=(0, 3)), lambda a: np.expand_dims(a, (0, 3))),
    ("xp.squeeze", lambda x: xp.squeeze(x[:, :1], axis=1), lambda a: a[:, :1].squeeze(1)),
    ("xp.flip", lambda x: xp.flip(x, axis=(0, 2)), lambda a: np.flip(a, (0, 2))),
    ("xp.unstack", lambda x: xp.unstack(x, axis=1)[2], lambda a: tuple(np.moveaxis(a, 1, 0))[2]),
    ("xp.linalg.diagonal", lambda x: xp.linalg.diagonal(x, offset=1), lambda a: _np_diagonal(a, 1)),
    # the chain SciPy's oaconvolve mutates: swapaxes -> slice -> swapaxes
    ("swapaxes-slice-swapaxes", lambda x: x.swapaxes(0, 2)[1:3].swapaxes(0, 2),
     lambda a: a.swapaxes(0, 2)[1:3].swapaxes(0, 2)),
    ("reshape-T-slice", lambda x: x.reshape(6, 4).T[::2, 1:], lambda a: a.reshape(6, 4).T[::2, 1:]),
]


@pytest.mark.parametrize("name,f,g", VIEWS, ids=[v[0] for v in VIEWS])
def test_view_rule(name, f, g):
    a = np.arange(24, dtype=np.float32).reshape(SHAPE)
    x = xp.asarray(a.copy())
    v, nv = f(x), g(a)
    assert is_view(v) and v is not x
    assert v.shape == nv.shape
    first = (0,) * v.ndim
    v[first] = 100.0          # a write through the view reaches the base
    nv[first] = 100.0
    v += 1.0                  # an in-place operator through the view too
    nv += 1.0
    x[1] = x[1] * -2.0        # a write to the base reaches the view
    a[1] = a[1] * -2.0
    x *= 3.0
    a *= 3.0
    w, nw = f(x), g(a)        # a second view of the base: the views see each other's writes
    last = tuple(s - 1 for s in w.shape)
    w[last] = -5.0
    nw[last] = -5.0
    zyx.realize(x, v, w)
    np.testing.assert_array_equal(x.numpy(), a, err_msg=f"{name}: base")
    np.testing.assert_array_equal(v.numpy(), nv, err_msg=f"{name}: first view")
    np.testing.assert_array_equal(w.numpy(), nw, err_msg=f"{name}: second view")


def test_views_of_views_and_setitem_with_arrays(device):
    a = np.arange(24, dtype=np.float32).reshape(4, 6)
    x = xp.asarray(a.copy(), device=device)
    v, nv = x.T[1:5], a.T[1:5]            # a view of a view: its base is x
    row, nrow = v[2], nv[2]
    row[::2] = xp.asarray([7.0, 8.0], device=device)
    nrow[::2] = [7.0, 8.0]
    v[xp.asarray([0, 3], device=device), 1] = -1.0   # an advanced-index write through a view
    nv[[0, 3], 1] = -1.0
    v[v > 18.0] = 0.0                                # a boolean-mask write through a view
    nv[nv > 18.0] = 0.0
    np.testing.assert_array_equal(x.numpy(), a)
    np.testing.assert_array_equal(row.numpy(), nrow)
    np.testing.assert_array_equal(v.numpy(), nv)


def test_oaconvolve_overlap_add_pattern():
    """SciPy's oaconvolve adds overlapping blocks through swapaxes -> slice -> swapaxes
    views (``ret_overpart += overpart``); the additions must all land in the base."""
    rng = np.random.default_rng(0)
    blocks = rng.standard_normal((3, 5, 4)).astype(np.float32)
    ret, nret = xp.asarray(blocks.copy()), blocks.copy()
    for r, b in ((ret, xp.asarray(blocks)), (nret, blocks)):
        ret_over = r.swapaxes(0, 1)[1:, :].swapaxes(0, 1)[:, :, :2]
        over = b.swapaxes(0, 1)[:-1, :].swapaxes(0, 1)[:, :, 2:]
        ret_over += over
    np.testing.assert_allclose(ret.numpy(), nret, rtol=1e-6)


def test_write_through_a_view_fuses():
    """A write through a view is lazy graph: reading the base afterwards is one kernel."""
    x = xp.asarray(np.zeros((8, 8), np.float32))
    v = x.T[2:6]
    v += 1.0
    v[0] = 5.0
    stats.reset()
    got = x.numpy()
    assert stats.launches == 1
    want = np.zeros((8, 8), np.float32)
    want.T[2:6] += 1.0
    want.T[2] = 5.0
    np.testing.assert_array_equal(got, want)


def test_broadcast_results_are_new_arrays():
    """A broadcast repeats base elements, so there is no write that could go back: zyx
    returns a new array (NumPy makes broadcast views read-only)."""
    x = xp.asarray([1.0, 2.0, 3.0])
    for b in (xp.broadcast_to(x, (2, 3)), xp.broadcast_arrays(x, xp.ones((2, 3)))[0], x.expand(2, 3),
              xp.broadcast_to(x, (3,)), xp.meshgrid(x)[0]):
        assert not is_view(b) and b is not x
        b[...] = 0.0
        assert x.tolist() == [1.0, 2.0, 3.0]
    b = xp.broadcast_to(x, (2, 3))
    x[0] = 9.0
    assert b.tolist() == [[1.0, 2.0, 3.0]] * 2


def test_results_are_never_the_input_object():
    """With mutable arrays, ``p = f(y); y[0] = 100`` must not change ``p`` unless ``p`` is
    a view of ``y``: the functions that have nothing to do return new arrays."""
    y = xp.asarray([1.0, 2.0, 3.0])
    i = xp.asarray([1, 2, 3])
    fresh = {
        "positive": xp.positive(y), "+y": +y, "concat([y])": xp.concat([y]), "sum(axis=())": xp.sum(y, axis=()),
        "prod(axis=())": xp.prod(y, axis=()), "max(axis=())": xp.max(y, axis=()),
        "min(axis=())": xp.min(y, axis=()), "clip": xp.clip(y), "real": xp.real(y), "conj": xp.conj(y),
        "broadcast_to": xp.broadcast_to(y, (3,)), "astype(copy=True)": xp.astype(y, xp.float32),
        "asarray(copy=True)": xp.asarray(y, copy=True), "reshape(copy=True)": xp.reshape(y, (3,), copy=True),
        "tile": xp.tile(y, (1,)), "repeat": xp.repeat(y, 1), "roll": xp.roll(y, 0), "diff(n=0)": xp.diff(y, n=0),
        "fftshift(axes=())": xp.fft.fftshift(y, axes=()), "cumulative_sum": xp.cumulative_sum(y[:1]),
        "Tensor.sum(axis=())": y.sum(axis=()), "Tensor.pad": y.pad([(0, 0)]),
    }
    ints = {"round": xp.round(i), "floor": xp.floor(i), "ceil": xp.ceil(i), "trunc": xp.trunc(i),
            "all(axis=())": xp.all(i, axis=()), "any(axis=())": xp.any(i, axis=())}
    views = {"flip(axis=())": xp.flip(y, axis=()), "squeeze(axis=())": xp.squeeze(y, axis=()), "y[:]": y[:],
             "y[...]": y[...], "reshape": xp.reshape(y, (3,)), "permute_dims": xp.permute_dims(y, (0,))}
    for name, p in {**fresh, **ints, **views}.items():
        assert p is not y and p is not i, name
    want_y = [1.0, 2.0, 3.0]
    y[0] = 100.0
    i[0] = 100
    for name, p in fresh.items():
        assert not is_view(p), name
        got = p.tolist()
        assert got == (want_y[:1] if name == "cumulative_sum" else want_y), f"{name} changed with its input: {got}"
    for name, p in ints.items():
        assert p.tolist() in ([1, 2, 3], [True] * 3), f"{name} changed with its input"
    for name, p in views.items():
        assert is_view(p) and p.tolist() == [100.0, 2.0, 3.0], f"{name}: a view sees its base"


def test_gradients_through_writes_to_views():
    base, w, c = (xp.asarray(np.arange(6.0).reshape(2, 3)), xp.asarray([10.0, 20.0, 30.0]),
                  xp.asarray(np.arange(1.0, 7.0).reshape(2, 3)))
    with GradientTape() as tape:
        y = base * 1.0
        v = y.T                 # (3, 2)
        v[:, 0] = w * 2.0       # y[0, :] = 2w
        s = y[1]
        s *= 3.0                # y[1, :] = 3 base[1, :]
        loss = (y * c).sum() + (v * v).sum()   # v (refreshed) reads y's new values
        gb, gw = tape.gradient(loss, [base, w])
    yv = np.stack([2 * w.numpy(), 3 * base.numpy()[1]])
    cn = c.numpy()
    want_b = np.zeros((2, 3))
    want_b[1] = 3 * (cn[1] + 2 * yv[1])
    want_w = 2 * (cn[0] + 2 * yv[0])
    np.testing.assert_allclose(gb.numpy(), want_b)
    np.testing.assert_allclose(gw.numpy(), want_w)


def test_views_keep_no_garbage():
    """A view keeps its base alive (as in NumPy), but a base does not keep dead views:
    its list of views is pruned, so a long-lived tensor viewed in a loop stays small."""
    x = xp.asarray(np.zeros((4, 4), np.float32))
    for _ in range(1000):
        v = x.T[1]
    assert len(x._dependents) < 64
    ref = weakref.ref(v)
    del v
    gc.collect()
    assert ref() is None
    base = xp.asarray(np.ones(3, np.float32))
    view = base[1:]
    bref = weakref.ref(base)
    del base
    gc.collect()
    assert bref() is not None and view.tolist() == [1.0, 1.0]   # the view keeps its base
    del view
    gc.collect()
    assert bref() is None


def test_no_namespace_function_returns_its_input():
    """A sweep over every function of the namespace (and linalg, fft) with the arguments
    that tend to make a function a no-op: none returns an input array object."""
    x = xp.asarray(np.array([[2.0, 1.0], [1.0, 3.0]], np.float32))
    arrays = (x, xp.asarray(np.array([[2, 1], [1, 3]])), xp.asarray(np.array([[True, False], [True, True]])))
    calls = [lambda f, a: f(a), lambda f, a: f(a, a), lambda f, a: f(a, 1), lambda f, a: f(a, 0),
             lambda f, a: f(a, (1, 1)), lambda f, a: f(a, (2, 2)), lambda f, a: f([a])]
    calls += [lambda f, a, kw=kw: f(a, **kw) for kw in ({"axis": ()}, {"axes": ()}, {"n": 0}, {"n": 1}, {"axis": 0})]
    returned_input = []
    for prefix, ns in (("", xp), ("linalg.", xp.linalg), ("fft.", xp.fft)):
        for name in ns.__all__:
            f = getattr(ns, name)
            if not callable(f) or isinstance(f, type) or name in ("asarray", "astype", "from_dlpack"):
                continue  # asarray/astype may return their input, as the standard allows
            for a in arrays:
                for call in calls:
                    try:
                        out = call(f, a)
                    except Exception:  # noqa: BLE001 - argument combinations a function refuses
                        continue
                    if any(o is a for o in (out if isinstance(out, (tuple, list)) else (out,))):
                        returned_input.append(prefix + name)
    assert not returned_input, sorted(set(returned_input))


def test_a_written_view_does_not_hold_its_history():
    """After writes through a view and a realize of its base, the view's graph is a
    movement of the base's buffer, not the chain of its past values."""
    x = xp.asarray(np.zeros((4, 4), np.float32))
    v = x.T[1]
    for _ in range(20):
        v += 1.0
    x.realize()
    n = v._node
    while n.op != "BUFFER":   # movements only, down to the base's buffer
        assert n.op in ("RESHAPE", "PERMUTE", "SHRINK"), n
        n = n.srcs[0]
    assert n is x._node
    want = np.zeros((4, 4), np.float32)
    want[:, 1] = 20.0
    np.testing.assert_array_equal(x.numpy(), want)
    np.testing.assert_array_equal(v.numpy(), want[:, 1])


def test_point_writes_through_views(device):
    """``a[i, j] = v`` (one element) through views of views - permuted, strided, reshaped
    - as scikit-learn's ``_add_to_diagonal`` writes a covariance's diagonal; every view of
    the base sees the writes, values that are lazy 0-d results included."""
    rng = np.random.default_rng(3)
    a = rng.standard_normal((4, 6, 6)).astype(np.float32)
    z = xp.asarray(a.copy(), device=device)
    r = a.copy()
    zv, rv = z[2, :, :], r[2, :, :]
    zt, rt = xp.permute_dims(z[1], (1, 0)), r[1].T
    zs, rs = z[:, ::2, 1:], r[:, ::2, 1:]
    zflat, rflat = xp.reshape(z[3], (36,)), r[3].reshape(36)
    vals = xp.linalg.diagonal(zv) + 0.5  # lazy, as scikit-learn's
    rvals = np.diagonal(rv) + 0.5
    for i in range(6):
        zv[i, i] = vals[i]
        rv[i, i] = rvals[i]
        zt[i, -1 - i] = float(i)
        rt[i, -1 - i] = float(i)
    zs[1, 2, 3] = -7.0
    rs[1, 2, 3] = -7.0
    zflat[-1] = xp.asarray(9.0, device=device)
    rflat[-1] = 9.0
    np.testing.assert_array_equal(z.numpy(), r)
    for got, want in ((zv, rv), (zt, rt), (zs, rs), (zflat, rflat)):
        np.testing.assert_array_equal(got.numpy(), want)


def test_point_writes_share_one_structure():
    """The written position is a kernel argument: writes at other positions (and other
    values) schedule nothing new, and each write adds a handful of nodes, not a slice's
    pads at every level of the view chain."""
    def run(positions, value):
        z = xp.asarray(np.zeros((3, 8, 8), np.float32))
        v = z[1]
        for i, j in positions:
            v[i, j] = value
        return z
    zyx.realize(run([(0, 0), (1, 1), (2, 2)], 1.0))
    before = stats.schedules
    out = run([(7, 7), (3, 5), (0, 6)], 2.5)
    nodes = len(zyx.graph.post_order(out._node, lambda n: n.srcs))
    want = np.zeros((3, 8, 8), np.float32)
    want[1, 7, 7] = want[1, 3, 5] = want[1, 0, 6] = 2.5
    np.testing.assert_array_equal(out.numpy(), want)
    assert stats.schedules == before
    assert nodes <= 3 * 6 + 4, nodes


def test_in_place_ops_on_one_element_views(device):
    """``a[i, j] += x`` (scikit-learn's ``_add_to_diagonal``), and ``e = a[i, j]; e *= 2``:
    the in-place op on the one-element view is a point write through to the base, and
    ``a[i, j] = <that view>`` is then a no-op - while writing another element's view, or
    another array's, still writes. Against NumPy doing the same on its own views."""
    rng = np.random.default_rng(8)
    a = rng.standard_normal((5, 5)).astype(np.float32)
    z = xp.asarray(a.copy(), device=device)
    r = a.copy()
    zt, rt = xp.permute_dims(z, (1, 0)), r.T
    d = xp.asarray(np.arange(5, dtype=np.float32), device=device)
    for i in range(5):
        z[i, i] += d[i]
        r[i, i] += np.float32(i)
    e, re_ = z[1, 3], r[1, 3:4].reshape(())
    e *= 2.0
    re_ *= 2.0
    zt[0, 2] -= 1.5  # through a permuted view: z[2, 0]
    rt[0, 2] -= 1.5
    z[4, 0] = z[0, 4]  # another element's view: a real write
    r[4, 0] = r[0, 4]
    z[2, 2] = zt[2, 2]  # the same element through another view: nothing changes
    np.testing.assert_array_equal(z.numpy(), r)
    np.testing.assert_array_equal(zt.numpy(), rt)
    np.testing.assert_array_equal(e.numpy(), r[1, 3])


def test_in_place_add_on_an_element_builds_one_point_write():
    """``a[i, i] += v`` adds one point write's few nodes per element (the in-place add writes
    through; the assignment back is recognised as the same element), not pads per level."""
    z = xp.asarray(np.zeros((6, 6), np.float32))
    w = z[:, :]  # a view: writes go through a chain
    for i in range(6):
        w[i, i] += 1.0
    nodes = len(zyx.graph.post_order(z._node, lambda n: n.srcs))
    np.testing.assert_array_equal(z.numpy(), np.eye(6, dtype=np.float32))
    assert nodes <= 6 * 12 + 4, nodes  # (the read of the old value included; 109 before)


def test_point_writes_from_one_source_form_one_batch(device):
    """A loop ``a[i, i] = v[i]`` (scikit-learn's ``_add_to_diagonal`` / ``_fill_diagonal``)
    is one point batch: the root's graph stays a fixed handful of nodes however many
    elements are written, 8 writes and 48 writes schedule the same kernel, and a reader
    built between writes keeps the values of its moment."""
    from zyx import _views

    def run(n_writes, a):
        z = xp.asarray(a.copy(), device=device)
        view = z[1, :, :]
        vals = xp.linalg.diagonal(view) + 0.25
        fill = xp.asarray(5.0, device=device)
        for i in range(n_writes):
            view[i, i] = vals[i]
        early = z * 1.0
        for i in range(n_writes):
            z[2, i, (i + 1) % 48] = fill
        return z, early

    rng = np.random.default_rng(4)
    a = rng.standard_normal((3, 48, 48)).astype(np.float32)
    for n_writes in (8, 48):
        z, early = run(n_writes, a)
        assert isinstance(_views._batches.get(z._node), _views._PointBatch)
        nodes = len(zyx.graph.post_order(z._node, lambda n: n.srcs))
        assert nodes <= 30, nodes
        r = a.copy()
        idx = np.arange(n_writes)
        r[1, idx, idx] += 0.25
        e = r.copy()
        r[2, idx, (idx + 1) % 48] = 5.0
        np.testing.assert_array_equal(early.numpy(), e)
        np.testing.assert_array_equal(z.numpy(), r)
        if n_writes == 8:
            before = stats.schedules
    assert stats.schedules == before


def test_in_place_updates_of_elements_form_one_batch(device):
    """``a[i, i] op= s`` loops (a constant, a 0-d array or elements of another array; every
    in-place arithmetic op; ints and floats) are point update batches: the root's graph
    stays a handful of nodes, 8 and 40 updates schedule the same kernel, a position updated
    twice takes both updates, a reader built between updates keeps its moment, and the
    results are NumPy's."""
    from zyx import _views
    rng = np.random.default_rng(7)
    base = rng.standard_normal((2, 40, 40)).astype(np.float32)
    ibase = rng.integers(-50, 50, (40, 40)).astype(np.int32)

    def run(n, dtype_ints=False):
        a = ibase if dtype_ints else base
        z = xp.asarray(a.copy(), device=device)
        r = a.copy()
        view, rview = (z, r) if dtype_ints else (z[1, :, :], r[1])
        s = xp.asarray(3 if dtype_ints else 0.5, dtype=z.dtype, device=device)
        vals = xp.asarray(np.arange(n, dtype=a.dtype) + 1, device=device)
        for i in range(n):
            view[i, i] += s
            rview[i, i] += (3 if dtype_ints else np.float32(0.5))
        early, rearly = z * 1, r * 1
        for i in range(n):
            view[i, (i + 1) % 40] *= vals[i]
            rview[i, (i + 1) % 40] *= np.arange(n, dtype=a.dtype)[i] + 1
        for i in range(n):
            view[(i + 2) % 40, i] -= 2
            rview[(i + 2) % 40, i] -= 2
        view[0, 0] -= 2  # a position the last batch has: a new batch over it
        rview[0, 0] -= 2
        if not dtype_ints:
            for i in range(n):
                view[i, 3] /= 4.0
                rview[i, 3] /= np.float32(4.0)
        assert isinstance(_views._batches.get(z._node), _views._PointBatch)
        assert len(zyx.graph.post_order(z._node, lambda nd: nd.srcs)) <= 80
        return z, r, early, rearly

    for n in (8, 40):
        z, r, early, rearly = run(n)
        np.testing.assert_allclose(early.numpy(), rearly, rtol=1e-6)
        np.testing.assert_allclose(z.numpy(), r, rtol=1e-6)
        if n == 8:
            before = stats.schedules
    assert stats.schedules == before
    z, r, early, rearly = run(12, dtype_ints=True)
    np.testing.assert_array_equal(early.numpy(), rearly)
    np.testing.assert_array_equal(z.numpy(), r)


def test_element_writes_short_road_keeps_the_rules(device):
    """Element writes ``a[i, j] = v`` of a 0-d array take a short road (the position from
    the view's remembered layout): negative indices count from the end, an index out of
    bounds raises IndexError and changes nothing, a value of another dtype is cast, a
    value of shape (1,) into one element raises, and views of the root see every write."""
    a = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    z = xp.asarray(a.copy(), device=device)
    r = a.copy()
    view, rview = z[:, 1:, ::-1], r[:, 1:, ::-1]
    other = z[1]  # another view of the root: refreshed by every write
    v = xp.asarray(np.array([7.5, -1.0], np.float32), device=device)
    view[-1, -2, 0] = v[0]
    rview[-1, -2, 0] = 7.5
    view[0, 1, -1] = v[1]
    rview[0, 1, -1] = -1.0
    with pytest.raises(IndexError):
        view[0, 2, 0] = v[0]
    with pytest.raises(IndexError):
        view[0, 0, -5] = v[0]
    view[1, 0, 1] = xp.asarray(3, dtype=xp.int32, device=device)  # cast to float32
    rview[1, 0, 1] = 3
    with pytest.raises(ValueError):
        view[0, 0, 0] = xp.asarray(np.array([1.0], np.float32), device=device)
    np.testing.assert_array_equal(z.numpy(), r)
    np.testing.assert_array_equal(other.numpy(), r[1])
    np.testing.assert_array_equal(view.numpy(), rview)


def test_point_batches_keep_every_dtype_and_sign(device):
    for name in ("bool", "int32", "float32"):
        if not zyx.device.get_device(device).supports(getattr(zyx, name)):
            continue
        src = np.array([1, 0, 1, 1], dtype=name)
        z = xp.asarray(np.zeros(4, dtype=name), device=device)
        s = xp.asarray(src, device=device)
        for i in range(4):
            z[i] = s[3 - i]
        np.testing.assert_array_equal(z.numpy(), src[::-1])
    z = xp.asarray(np.ones(3, np.float32), device=device)
    s = xp.asarray(np.array([-0.0, 2.0], np.float32), device=device)
    z[1] = s[0]
    z[2] = s[1]
    assert np.signbit(z.numpy()).tolist() == [False, True, False]


def test_point_writes_under_a_tape_keep_their_gradients():
    """With a tape open the writes are selects (the tape records them), and the gradient
    reaches both the written array and the source of the values."""
    a = zyx.Tensor(np.ones((3, 3), np.float32))
    v = zyx.Tensor(np.array([2.0, 3.0, 4.0], np.float32))
    with zyx.GradientTape() as tape:
        b = a * 1.0
        for i in range(3):
            b[i, i] = v[i] * 2.0
        loss = (b * b).sum()
        ga, gv = tape.gradient(loss, [a, v])
    want_a = 2 * np.ones((3, 3), np.float32)
    np.fill_diagonal(want_a, 0.0)
    np.testing.assert_allclose(ga.numpy(), want_a)
    np.testing.assert_allclose(gv.numpy(), 8 * np.array([2.0, 3.0, 4.0], np.float32))


def test_flat_position_of_an_element_through_any_view_chain():
    """The flat position of the one element a chain of slices, permutes and reshapes leaves
    (point writes ask it for the written element and the value's), against NumPy's views -
    strided and permuted chains whose reshapes strides cannot express included."""
    import random

    from zyx import _views

    class Root:  # (it reads the shape only)
        def __init__(self, shape):
            self.shape = shape

    rng = random.Random(3)
    for _ in range(1500):
        shape = tuple(rng.randint(1, 5) for _ in range(rng.randint(1, 4)))
        cur, chain = list(shape), []
        for _ in range(rng.randint(1, 4)):
            kind = rng.choice(["SHRINK", "PERMUTE", "RESHAPE"])
            if kind == "SHRINK":
                b = []
                for sz in cur:
                    step = rng.choice([1, 1, 2, 3])
                    start = rng.randrange(sz)
                    b.append((start, rng.randint(1, len(range(start, sz, step))), step))
                chain.append(("SHRINK", tuple(b)))
                cur = [x[1] for x in b]
            elif kind == "PERMUTE":
                p = list(range(len(cur)))
                rng.shuffle(p)
                chain.append(("PERMUTE", tuple(p)))
                cur = [cur[i] for i in p]
            else:
                n, dims = int(np.prod(cur)), []
                while n > 1:
                    f = next(f for f in range(2, n + 1) if n % f == 0)
                    dims.append(f)
                    n //= f
                rng.shuffle(dims)
                chain.append(("RESHAPE", tuple(dims)))
                cur = dims
        chain += [("SHRINK", tuple((rng.randrange(sz), 1, 1) for sz in cur)), ("RESHAPE", ())]
        v = np.arange(int(np.prod(shape))).reshape(shape)
        for op, arg in chain:
            if op == "SHRINK":
                v = v[tuple(slice(s, s + z * st, st) for s, z, st in arg)]
            elif op == "PERMUTE":
                v = v.transpose(arg)
            else:
                v = v.reshape(arg)
        assert _views._flat_position(Root(shape), tuple(chain)) == int(v), (shape, chain)


@pytest.mark.slow  # ~25 s of new structures: run by `pytest -m slow`, as in .ci/run
def test_random_element_writes_and_updates_match_numpy():
    """Random loops of element writes and in-place updates (a 0-d array, an element of
    another array, Python scalars; = += -= *= /=) through random views (slices, reversed,
    transposed, an int-indexed row), of every kind of dtype, with readers taken between
    writes: the array, the view and every reader equal NumPy doing the same on its views."""
    import random
    rng = random.Random(11)
    for case in range(100):
        dtype = rng.choice([np.float32, np.int32, np.float64, np.int64, np.bool_])
        shape = tuple(rng.randint(1, 6) for _ in range(rng.randint(1, 3)))
        a = (np.arange(int(np.prod(shape))).reshape(shape) * 3 % 7 - 2).astype(dtype)
        z, r = xp.asarray(a.copy()), a.copy()
        kind = rng.choice(["id", "slice", "T", "int"])
        vz, vr = z, r
        if kind == "slice":
            d = rng.randrange(z.ndim)
            s = rng.choice([slice(rng.randrange(z.shape[d]), None, rng.choice([1, 2])), slice(None, None, -1)])
            key = tuple([slice(None)] * d + [s])
            vz, vr = z[key], r[key]
        elif kind == "T" and z.ndim >= 2:
            perm = tuple(reversed(range(z.ndim)))
            vz, vr = xp.permute_dims(z, perm), r.transpose(perm)
        elif kind == "int" and z.ndim >= 2:
            i = rng.randrange(z.shape[0])
            vz, vr = z[i], r[i]
        src_np = (np.arange(10) * 5 % 11 - 3).astype(dtype)
        src, two = xp.asarray(src_np), xp.asarray(np.array(2, dtype=dtype))
        readers = []
        for _ in range(rng.randint(1, 30)):
            idx = tuple(rng.randrange(-n, n) for n in vz.shape)
            op = rng.choice(["src", "two", "py", "add", "sub", "mul", "div", "read"])
            if dtype == np.bool_ and op in ("add", "sub", "mul", "div"):
                op = "src"
            if op == "div" and np.dtype(dtype).kind != "f":
                op = "mul"
            q = rng.randrange(10)
            if op == "src":
                vz[idx] = src[q]
                vr[idx] = src_np[q]
            elif op == "two":
                vz[idx] = two
                vr[idx] = dtype(2)
            elif op == "py":
                vz[idx] = 1
                vr[idx] = 1
            elif op == "add":
                vz[idx] += src[q]
                vr[idx] += src_np[q]
            elif op == "sub":
                vz[idx] -= 3
                vr[idx] -= 3
            elif op == "mul":
                vz[idx] *= two
                vr[idx] *= dtype(2)
            elif op == "div":
                vz[idx] /= 4.0
                vr[idx] /= dtype(4.0)
            else:
                readers.append((xp.asarray(z, copy=True), r.copy()))
        np.testing.assert_array_equal(z.numpy(), r, err_msg=f"case {case}")
        np.testing.assert_array_equal(vz.numpy(), vr, err_msg=f"case {case}")
        for t, ref in readers:
            np.testing.assert_array_equal(t.numpy(), ref, err_msg=f"case {case}: a reader")
