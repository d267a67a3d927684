"""zyx.optim against torch.optim: every optimizer over 20 steps on identical parameters
and gradients, the learning-rate schedules, state dicts, and a training loop whose
steps after the first schedule and compile nothing and whose memory stays flat."""
from __future__ import annotations

import gc
import importlib
import math

import numpy as np
import pytest

import zyx
import zyx.nn as nn
import zyx.nn.functional as F
import zyx.optim as optim

torch = pytest.importorskip("torch")

SHAPES = [(3, 4), (5,), ()]


def params_np(seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(np.float32) for s in SHAPES]


def grads_np(steps, seed=1):
    rng = np.random.default_rng(seed)
    return [[rng.standard_normal(s).astype(np.float32) for s in SHAPES] for _ in range(steps)]


CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.3, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, maximize=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.1, amsgrad=True)),
    ("Adam", dict(lr=0.02, eps=1e-6, maximize=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1, amsgrad=True, betas=(0.5, 0.9))),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.9, weight_decay=0.01)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, momentum=0.5, maximize=True)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.05, initial_accumulator_value=0.1)),
]


def run_both(name, kw, steps=20, schedule=None):
    ps = params_np()
    zp = [zyx.Tensor(p) for p in ps]
    tp = [torch.tensor(p, requires_grad=True) for p in ps]
    zo = getattr(optim, name)(zp, **kw)
    to = getattr(torch.optim, name)(tp, **kw)
    zs = ts = None
    if schedule is not None:
        zs, ts = schedule(zo, optim), schedule(to, torch.optim.lr_scheduler)
    for k, gs in enumerate(grads_np(steps)):
        zo.step([zyx.Tensor(g) for g in gs])
        for p, g in zip(tp, gs):
            p.grad = torch.tensor(g)
        to.step()
        if zs is not None:
            zs.step(), ts.step()
        if k in (0, 1, steps - 1):
            for a, b in zip(zp, tp):
                np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-5, atol=1e-6,
                                           err_msg=f"{name} {kw} step {k + 1}")
    return zo, to, zp, tp


@pytest.mark.parametrize("name,kw", CONFIGS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CONFIGS)])
def test_optimizer_matches_torch(name, kw):
    zo, to, zp, tp = run_both(name, kw)
    assert zo.steps == 20
    # the state matches torch's too
    for i, st in enumerate(zo.state):
        for k, v in st.items():
            np.testing.assert_allclose(v.numpy(), to.state[tp[i]][k].numpy(), rtol=1e-5, atol=1e-6, err_msg=k)


def test_optimizer_with_changing_lr_matches_torch():
    run_both("Adam", dict(lr=0.05), schedule=lambda o, m: m.CosineAnnealingLR(o, T_max=7))
    run_both("SGD", dict(lr=0.05, momentum=0.9), schedule=lambda o, m: m.OneCycleLR(o, max_lr=0.2, total_steps=25))


def test_param_groups_and_none_gradients():
    ps = params_np()
    zp = [zyx.Tensor(p) for p in ps]
    opt = optim.SGD([{"params": zp[:1], "lr": 1.0}, {"params": zp[1:]}], lr=0.5)
    g = [zyx.Tensor(np.ones_like(p)) for p in ps]
    opt.step([g[0], None, g[2]])
    np.testing.assert_allclose(zp[0].numpy(), ps[0] - 1.0)
    np.testing.assert_array_equal(zp[1].numpy(), ps[1])  # None: unchanged
    np.testing.assert_allclose(zp[2].numpy(), ps[2] - 0.5)
    opt.lr = 0.25
    assert [gr["lr"] for gr in opt.param_groups] == [0.25, 0.25]


def test_module_parameters_are_updated_in_place():
    m = nn.Linear(3, 2)
    w = m.weight
    before = w.numpy().copy()
    opt = optim.SGD(m, lr=0.1)  # a Module is accepted for its parameters
    opt.step([zyx.ones((2, 3)), zyx.zeros((2,))])
    assert m.weight is w
    np.testing.assert_allclose(m.weight.numpy(), before - 0.1, rtol=1e-6)


def test_optimizer_errors():
    p = zyx.Tensor(np.zeros((2, 2), np.float32))
    opt = optim.Adam([p])
    with pytest.raises(ValueError, match="gradients"):
        opt.step([])
    with pytest.raises(ValueError, match="shape"):
        opt.step([zyx.zeros((3,))])
    with pytest.raises(TypeError):
        opt.step([np.zeros((2, 2))])
    with pytest.raises(ValueError):
        optim.Adam([])
    with pytest.raises(ValueError):
        optim.SGD([p, p])
    with pytest.raises(ValueError):
        optim.SGD([p], lr=-1.0)
    with pytest.raises(ValueError):
        optim.Adam([p], betas=(1.0, 0.9))
    with pytest.raises(TypeError):
        optim.SGD([zyx.zeros((2,), dtype=zyx.int32)])
    with pytest.raises(ValueError):
        optim.SGD([p], nesterov=True)


# ====================================================================== state dicts
@pytest.mark.parametrize("name,kw", [("Adam", dict(lr=0.01, amsgrad=True)), ("SGD", dict(lr=0.1, momentum=0.9)),
                                     ("RMSprop", dict(centered=True, momentum=0.5)), ("Adagrad", dict())])
def test_state_dict_round_trip(name, kw):
    gs = grads_np(10)
    a = [zyx.Tensor(p) for p in params_np()]
    oa = getattr(optim, name)(a, **kw)
    for g in gs[:5]:
        oa.step([zyx.Tensor(x) for x in g])
    sd = oa.state_dict()
    b = [zyx.Tensor(p.numpy()) for p in a]
    ob = getattr(optim, name)(b, **kw)
    ob.load_state_dict(sd)
    assert ob.steps == 5
    for g in gs[5:]:
        oa.step([zyx.Tensor(x) for x in g])
        ob.step([zyx.Tensor(x) for x in g])
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.numpy(), y.numpy())
    # the saved snapshot did not move with the later steps
    assert int(sd["state"][0]["step"].numpy()) == 5


@pytest.mark.parametrize("name,kw", [("Adam", dict(lr=0.01)), ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.5)),
                                     ("RMSprop", dict(lr=0.01, centered=True))])
def test_load_torch_optimizer_state(name, kw):
    gs = grads_np(10)
    ps = params_np()
    tp = [torch.tensor(p, requires_grad=True) for p in ps]
    to = getattr(torch.optim, name)(tp, **kw)
    for g in gs[:5]:
        for p, x in zip(tp, g):
            p.grad = torch.tensor(x)
        to.step()
    zp = [zyx.Tensor(p.detach().numpy().copy()) for p in tp]
    zo = getattr(optim, name)(zp, **kw)
    zo.load_state_dict(to.state_dict())
    for g in gs[5:]:
        zo.step([zyx.Tensor(x) for x in g])
        for p, x in zip(tp, g):
            p.grad = torch.tensor(x)
        to.step()
    for a, b in zip(zp, tp):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_load_state_dict_errors():
    opt = optim.Adam([zyx.Tensor(p) for p in params_np()])
    sd = opt.state_dict()
    other = optim.Adam([zyx.zeros((3, 4))])
    with pytest.raises(ValueError, match="parameters"):
        other.load_state_dict(sd)
    bad = optim.Adam([zyx.zeros((4, 3)), zyx.zeros((5,)), zyx.zeros(())])
    with pytest.raises(ValueError, match="shape"):
        bad.load_state_dict(sd)
    with pytest.raises(ValueError):
        opt.load_state_dict({"state": {}})


# ====================================================================== schedules
def _sched_pair(make, opt_name="SGD", opt_kw=None, steps=30, check_momentum=False):
    opt_kw = opt_kw or dict(lr=0.1, momentum=0.9)
    zp = [zyx.zeros((2,)), zyx.zeros((3,))]
    tp = [torch.zeros(2, requires_grad=True), torch.zeros(3, requires_grad=True)]
    zo = getattr(optim, opt_name)([{"params": zp[:1]}, {"params": zp[1:], "lr": opt_kw["lr"] / 2}], **opt_kw)
    to = getattr(torch.optim, opt_name)([{"params": tp[:1]}, {"params": tp[1:], "lr": opt_kw["lr"] / 2}], **opt_kw)
    zs, ts = make(zo, optim), make(to, torch.optim.lr_scheduler)
    for k in range(steps):
        zl = [g["lr"] for g in zo.param_groups]
        tl = [g["lr"] for g in to.param_groups]
        np.testing.assert_allclose(zl, tl, rtol=1e-9, atol=1e-15, err_msg=f"step {k}")
        np.testing.assert_allclose(zs.get_last_lr(), ts.get_last_lr(), rtol=1e-9, atol=1e-15)
        if check_momentum:
            key = "betas" if "betas" in to.param_groups[0] else "momentum"
            for a, b in zip(zo.param_groups, to.param_groups):
                np.testing.assert_allclose(np.ravel(a[key]), np.ravel(b[key]), rtol=1e-9, err_msg=key)
        to.step()
        zs.step(), ts.step()


@pytest.mark.parametrize("make", [
    lambda o, m: m.StepLR(o, step_size=4, gamma=0.5),
    lambda o, m: m.MultiStepLR(o, milestones=[3, 7, 20], gamma=0.3),
    lambda o, m: m.ExponentialLR(o, gamma=0.9),
    lambda o, m: m.CosineAnnealingLR(o, T_max=10, eta_min=0.001),
    lambda o, m: m.LinearLR(o, start_factor=0.1, end_factor=0.9, total_iters=12),
    lambda o, m: m.LinearLR(o),
], ids=["step", "multistep", "exponential", "cosine", "linear", "linear-default"])
def test_schedules_match_torch(make):
    _sched_pair(make)


@pytest.mark.parametrize("opt_name,kw", [
    ("SGD", dict(max_lr=1.0, total_steps=30)),
    ("SGD", dict(max_lr=[1.0, 0.5], total_steps=30, anneal_strategy="linear", three_phase=True)),
    ("Adam", dict(max_lr=0.01, epochs=3, steps_per_epoch=10, pct_start=0.2, div_factor=10, final_div_factor=100)),
    ("Adam", dict(max_lr=0.01, total_steps=30, cycle_momentum=False)),
])
def test_one_cycle_matches_torch(opt_name, kw):
    opt_kw = dict(lr=0.1, momentum=0.9) if opt_name == "SGD" else dict(lr=0.01)
    _sched_pair(lambda o, m: m.OneCycleLR(o, **kw), opt_name, opt_kw, steps=30, check_momentum=True)


def test_linear_warmup_matches_lambda_lr():
    _sched_pair(lambda o, m: m.LinearWarmup(o, 5) if m is optim else
                m.LambdaLR(o, lambda e: min(1.0, (e + 1) / 5)))


def test_schedule_errors():
    opt = optim.SGD([zyx.zeros((2,))], lr=0.1)
    with pytest.raises(ValueError):
        optim.OneCycleLR(opt, max_lr=1.0)
    with pytest.raises(ValueError):
        optim.OneCycleLR(optim.Adagrad([zyx.zeros((2,))]), max_lr=1.0, total_steps=10)
    s = optim.OneCycleLR(opt, max_lr=1.0, total_steps=2)
    s.step(), s.step()
    with pytest.raises(ValueError):
        s.step()
    with pytest.raises(TypeError):
        optim.StepLR(object(), 3)


# ====================================================================== training loops
def _mlp():
    zyx.manual_seed(0)
    return nn.Sequential(nn.Linear(16, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.1), nn.Linear(32, 4))


def _data(n=64):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 16)).astype(np.float32)
    y = (x[:, :4].argmax(1)).astype(np.int64)
    return zyx.Tensor(x), zyx.Tensor(y)


def _train_step(model, opt, sched, x, y):
    with zyx.GradientTape() as tape:
        loss = F.cross_entropy(model(x), y, label_smoothing=0.05)
        grads = tape.gradient(loss, model.parameters())
    opt.step(grads, realize=False)
    zyx.realize(loss, model, opt)
    if sched is not None:
        sched.step()
    return loss


def test_training_steps_after_the_first_compile_nothing():
    model, (x, y) = _mlp(), _data()
    opt = optim.AdamW(model.parameters(), lr=1e-2)
    sched = optim.OneCycleLR(opt, max_lr=0.05, total_steps=100)  # lr and beta1 change every step
    backend = zyx.get_device("cpu").backend
    first = _train_step(model, opt, sched, x, y).item()
    # the warm-up: versions specialised on the step's sizes, and the -O3 builds of kernels
    # first built quickly, build in the background (realize._upgrade: from a kernel's
    # _LOOP_HITS-th cache hit)
    for _ in range(importlib.import_module("zyx.realize")._LOOP_HITS + 1):
        _train_step(model, opt, sched, x, y)
    zyx.realize.wait_compiles()
    stats = zyx.realize.stats
    schedules, compiles, specialised = stats.schedules, backend.compiles, stats.specialized
    launches = stats.launches
    for _ in range(30):
        loss = _train_step(model, opt, sched, x, y)
    per_step = (stats.launches - launches) / 30
    assert stats.schedules == schedules
    # nothing compiles but a kernel's version specialised on arguments that keep coming back
    # (a scalar of the schedule that repeats: realize._wants_special), in the background
    assert backend.compiles - compiles <= stats.specialized - specialised
    assert loss.item() < first * 0.7
    assert per_step < 80  # one schedule per step: kernels launched, not graphs built


def test_update_realizes_model_and_optimizer_in_one_schedule():
    model, (x, y) = _mlp(), _data()
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for _ in range(2):
        with zyx.GradientTape() as tape:
            loss = F.cross_entropy(model(x), y)
            grads = tape.gradient(loss, model.parameters())
        stats = zyx.realize.stats
        before = stats.schedules + stats.cache_hits  # every realization is a new schedule or a cache hit
        opt.update(model, grads)
        assert stats.schedules + stats.cache_hits == before + 1
        assert all(t._node.op == "BUFFER" for t in model._zyx_tensors() + opt._zyx_tensors())
    assert int(model[1].num_batches_tracked.item()) == 2


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


@pytest.fixture
def one_thread():
    """Run the CPU kernels on one OpenMP thread: this test measures memory, and on a
    busy shared machine the thread barriers of ~50 tiny kernels per step dominate time."""
    import ctypes
    try:
        gomp = ctypes.CDLL("libgomp.so.1")
    except OSError:
        yield
        return
    n = gomp.omp_get_max_threads()
    gomp.omp_set_num_threads(1)
    yield
    gomp.omp_set_num_threads(n)


def test_memory_stays_flat_over_1000_steps(one_thread):
    model, (x, y) = _mlp(), _data()
    opt = optim.Adam(model.parameters(), lr=1e-3)
    sched = optim.CosineAnnealingLR(opt, T_max=1000)
    for _ in range(100):
        _train_step(model, opt, sched, x, y)
    zyx.realize.wait_compiles()  # the warm-up ends when its background compiles (and earlier tests') are in
    gc.collect()
    rss0, objs0 = _rss_mb(), len(gc.get_objects())
    for _ in range(900):
        _train_step(model, opt, sched, x, y)
    gc.collect()
    rss1, objs1 = _rss_mb(), len(gc.get_objects())
    assert rss1 - rss0 < 16, f"RSS grew from {rss0:.1f} MB to {rss1:.1f} MB"
    assert objs1 - objs0 < 500, f"live objects grew from {objs0} to {objs1}"
