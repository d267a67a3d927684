"""A device's per-kernel buffer limit (``backend.max_buffers``, output included): the
scheduler splits kernels that would bind more, every kernel it renders fits, and the
values equal those of the unsplit schedule.

A stored sub-expression is computed by the same ops in the same order as when it was
inlined, so results built from correctly rounded ops (+ - * / sqrt, max, casts) are
bitwise equal. Two things of the CPU renderer are not bitwise stable when code moves
between kernels - with or without the split, a value inlined into two kernels can
differ the same way: transcendentals inside ``omp simd`` loops are glibc's libmvec
vector variants (``-DZYX_MVEC``), which round differently from the scalar libm call
used where a loop is not vectorized, and float sums are reductions the compiler (and
the register tiling) may reorder into vector lanes depending on the loop body. Outputs
that pass through those are compared to a few ulps (rtol 1e-5).

The limit is set on the CPU backend for each test (and removed after); the schedule
cache is cleared around each run so that no schedule cut for another limit is reused."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

import zyx
import zyx.nn as nn
import zyx.optim as optim
import zyx.realize as zr
from zyx import GradientTape

LIMITS = [3, 4, 8]


@pytest.fixture
def cpu(monkeypatch):
    """The CPU backend, with every rendered kernel's buffer count recorded in ``.seen``."""
    be = zyx.get_device("cpu").backend
    seen: list[tuple[str, int]] = []
    render = be.render

    def recording_render(kernel):
        seen.append((kernel.name, len(kernel.params)))
        return render(kernel)

    monkeypatch.setattr(be, "render", recording_render)
    zr.clear_cache()
    yield SimpleNamespace(backend=be, seen=seen)
    zr.clear_cache()


def _run(cpu, monkeypatch, limit, build):
    """Realize ``build()`` (a list of tensors) under ``limit`` (None: unlimited); returns
    the host values and the buffer counts of the kernels rendered."""
    zr.clear_cache()
    zr.wait_compiles()  # (other tests' background builds render too: not counted here)
    cpu.seen.clear()
    if limit is None:
        monkeypatch.delattr(cpu.backend, "max_buffers", raising=False)
    else:
        monkeypatch.setattr(cpu.backend, "max_buffers", limit, raising=False)
    outs = build()
    zyx.realize(*outs)
    zr.wait_compiles()  # (a kernel the host tier computed first is rendered in the background)
    counts = [n for _, n in cpu.seen]
    return [o.numpy() for o in outs], counts


def _check(cpu, monkeypatch, build, limits=LIMITS, exact="all"):
    """Every kernel fits each limit and the values equal the unlimited run's: bitwise for
    the outputs in ``exact`` ("all" or a set of output positions), to rtol 1e-5 for the
    others (see the module docstring)."""
    base, base_counts = _run(cpu, monkeypatch, None, build)
    assert max(base_counts) > min(limits), base_counts  # the expression really needs a split
    # a limit every kernel already meets changes nothing
    _, counts = _run(cpu, monkeypatch, max(base_counts), build)
    # (the same kernels; the order they are rendered in follows the background builds)
    assert sorted(counts) == sorted(base_counts)
    for limit in limits:
        got, counts = _run(cpu, monkeypatch, limit, build)
        assert counts and max(counts) <= limit, (limit, counts)
        if max(base_counts) > limit:
            assert len(counts) > len(base_counts), (limit, counts, base_counts)
        for k, (a, b) in enumerate(zip(got, base)):
            assert a.dtype == b.dtype and a.shape == b.shape
            if exact == "all" or k in exact:
                assert a.tobytes() == b.tobytes(), \
                    f"limit {limit}, output {k}: max diff {np.max(np.abs(a.astype(np.float64) - b))}"
            else:
                np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7, err_msg=f"limit {limit}, output {k}")


rng = np.random.default_rng(0)


def _arrays(n, shape):
    return [rng.standard_normal(shape).astype(np.float32) for _ in range(n)]


def test_sum_of_twelve_tensors(cpu, monkeypatch):
    arrs = _arrays(12, (6, 33))

    def build():
        ts = [zyx.Tensor(a) for a in arrs]
        out = ts[0]
        for k, t in enumerate(ts[1:]):
            out = out + t * (k + 0.5)
        return [(out * out + 1).sqrt() / out]

    _check(cpu, monkeypatch, build)
    # and the value is right, not just stable
    got, _ = _run(cpu, monkeypatch, 3, build)
    ref = arrs[0].astype(np.float64)
    for k, a in enumerate(arrs[1:]):
        ref = ref + a * (k + 0.5)
    np.testing.assert_allclose(got[0], np.sqrt(ref * ref + 1) / ref, rtol=1e-4, atol=1e-4)


def test_reduction_with_many_inputs(cpu, monkeypatch):
    arrs = _arrays(10, (7, 50))
    bias = rng.standard_normal((7, 1)).astype(np.float32)

    def build():
        ts = [zyx.Tensor(a) for a in arrs]
        root = (ts[6] - ts[7]).abs().sqrt()
        prod = ts[0] * ts[1] + ts[2] * ts[3] - ts[4] * ts[5] + root * ts[8] / (ts[9] * ts[9] + 1)
        return [prod.max(0), prod.min(1), prod.sum(1, keepdims=True) * zyx.Tensor(bias)]

    _check(cpu, monkeypatch, build, exact={0, 1})  # max/min are exact; a float sum may be reordered

    # with a transcendental in the fused body too
    def build_exp():
        ts = [zyx.Tensor(a) for a in arrs]
        return [((ts[0] - ts[1]).exp() * ts[2] + ts[3] * ts[4] - ts[5] / (ts[6] * ts[6] + 1) + ts[7] * ts[8]
                 - ts[9]).sum(0)]

    _check(cpu, monkeypatch, build_exp, exact=())


def test_softmax_backward(cpu, monkeypatch):
    xs = _arrays(4, (5, 9))
    w = rng.standard_normal((5, 9)).astype(np.float32)

    def build():
        a, b, c, d = [zyx.Tensor(x) for x in xs]
        with GradientTape() as tape:
            y = (a * b + c / (d * d + 1)).softmax(-1)
            gs = tape.gradient(y, [a, b, c, d], output_gradient=zyx.Tensor(w))
        return [y] + list(gs)

    _check(cpu, monkeypatch, build, exact=())  # exp, and float sums


def test_adam_step_on_a_small_model(cpu, monkeypatch):
    x = rng.standard_normal((8, 5)).astype(np.float32)
    target = rng.standard_normal((8, 3)).astype(np.float32)

    def build():
        zyx.manual_seed(3)
        model = nn.Sequential(nn.Linear(5, 6), nn.Tanh(), nn.Linear(6, 3))
        params = list(model.parameters())
        opt = optim.Adam(params, lr=0.01, weight_decay=0.1, amsgrad=True)
        outs = []
        for _ in range(3):
            with GradientTape() as tape:
                loss = ((model(zyx.Tensor(x)) - zyx.Tensor(target)) ** 2).mean()
                grads = tape.gradient(loss, params)
            opt.step(grads, realize=False)
            zyx.realize(loss, *params, opt)
            outs.append(loss)
        return outs + params + [t for st in opt.state for t in st.values()]

    _check(cpu, monkeypatch, build, exact=())  # tanh, matmul sums


def test_random_numbers_still_work(cpu, monkeypatch):
    arrs = _arrays(9, (4, 16))

    def build():
        zyx.manual_seed(11)
        ts = [zyx.Tensor(a) for a in arrs]
        noise = zyx.rand(4, 16)
        out = noise
        for t in ts:
            out = out * t + zyx.randn(4, 16) * 0.1
        return [out, noise]

    # rand is exact; randn's Box-Muller uses log and cos (libmvec in vectorized loops)
    _check(cpu, monkeypatch, build, exact={1})


def test_half_precision_values_are_not_rounded_by_the_split(cpu, monkeypatch):
    """Half values are computed in float32 inside a kernel and rounded only when stored;
    the split stores float32 sub-expressions (or explicit casts, which round anyway)
    while that suffices, so the result is bitwise unchanged."""
    arrs = [a.astype(np.float16) for a in _arrays(8, (3, 40))]
    scale = _arrays(1, (3, 40))[0]

    def build():
        ts = [zyx.Tensor(a) for a in arrs]
        f = [t.cast(zyx.float32) * zyx.Tensor(scale) for t in ts]
        out = f[0]
        for t in f[1:]:
            out = out * 0.75 + t
        return [out.cast(zyx.float16) * ts[0] + ts[1]]

    _check(cpu, monkeypatch, build, limits=[4, 8])
    # with 3 buffers, ``h * ts[0] + ts[1]`` (three distinct half buffers) cannot be one
    # kernel: the half product is stored, i.e. rounded to float16 once more
    base, _ = _run(cpu, monkeypatch, None, build)
    got, counts = _run(cpu, monkeypatch, 3, build)
    assert max(counts) <= 3
    np.testing.assert_allclose(got[0].astype(np.float32), base[0].astype(np.float32), rtol=2e-3, atol=1e-3)


def test_one_primitive_over_the_limit_raises(cpu, monkeypatch):
    c, a, b = (zyx.Tensor(v) for v in (rng.standard_normal(10) > 0, *_arrays(2, (10,))))
    monkeypatch.setattr(cpu.backend, "max_buffers", 3, raising=False)
    with pytest.raises(RuntimeError, match="max_buffers"):
        zyx.where(c, a, b).numpy()


def test_cache_is_per_device(cpu, monkeypatch):
    """A schedule cut for the CPU's limit is not reused on a device without one."""
    names = [d.name for d in zyx.available_devices()]
    if "opencl:0" not in names:
        pytest.skip("needs a second device (opencl:0)")
    other = zyx.get_device("opencl:0").backend
    if getattr(other, "max_buffers", None) is not None:
        pytest.skip("opencl:0 has a buffer limit of its own")
    arrs = _arrays(8, (16,))

    def expr(device):
        ts = [zyx.Tensor(a, device=device) for a in arrs]
        out = ts[0]
        for t in ts[1:]:
            out = out * 0.5 + t
        return out

    monkeypatch.setattr(cpu.backend, "max_buffers", 3, raising=False)
    zr.stats.reset()
    expr("cpu").numpy()
    assert zr.stats.launches == 7
    zr.stats.reset()
    expr("opencl:0").numpy()
    assert zr.stats.launches == 1  # same structure, other device: its own (unsplit) schedule
    zr.stats.reset()
    expr("cpu").numpy()
    assert zr.stats.launches == 7 and zr.stats.cache_hits == 1


def test_wgpu_splits_instead_of_raising(monkeypatch):
    names = [d.name for d in zyx.available_devices()]
    if "wgpu:0" not in names:
        pytest.skip("wgpu:0 is not available")
    be = zyx.get_device("wgpu:0").backend
    monkeypatch.setattr(be, "max_buffers", 4)
    seen: list[int] = []
    render = be.render

    def recording_render(kernel):
        seen.append(len(kernel.params))
        return render(kernel)

    monkeypatch.setattr(be, "render", recording_render)
    arrs = _arrays(9, (3, 17))
    zr.clear_cache()
    try:
        ts = [zyx.Tensor(a, device="wgpu:0") for a in arrs]
        out = ts[0]
        for t in ts[1:]:
            out = out * 0.5 + t
        got = out.numpy()
    finally:
        zr.clear_cache()
    assert seen and max(seen) <= 4 and len(seen) > 1, seen
    ref = arrs[0]
    for a in arrs[1:]:
        ref = ref * np.float32(0.5) + a
    np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-6)
