"""zyx.nn against torch.nn: every layer's forward, and gradients with respect to its
inputs and parameters, with weights copied through ``load_state_dict`` (zyx modules use
PyTorch's parameter names). Plus module discovery, state dicts, safetensors files,
initializer distributions, losses and fusion of convolutions."""
from __future__ import annotations

import collections
import math

import numpy as np
import pytest

import zyx
import zyx.nn as nn
import zyx.nn.functional as F

torch = pytest.importorskip("torch")
tnn = torch.nn

RTOL, ATOL = 2e-4, 2e-5


def T(a) -> zyx.Tensor:
    return zyx.Tensor(np.asarray(a))


def rnd(*shape, seed=0, scale=1.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(np.float32)


def copy_weights(zmod: nn.Module, tmod) -> None:
    zmod.load_state_dict({k: v.detach().numpy() for k, v in tmod.state_dict().items()})


def _flat(out):
    if isinstance(out, (tuple, list)):
        res = []
        for o in out:
            res.extend(_flat(o))
        return res
    return [] if out is None else [out]


def check_module(zmod, tmod, inputs, *, grad=True, rtol=RTOL, atol=ATOL, call=None, int_inputs=(), seed=1):
    """Copy tmod's weights into zmod, run both on ``inputs`` (NumPy arrays), compare the
    outputs, then the gradients of sum(out * w) (w random) with respect to every float
    input and every parameter."""
    copy_weights(zmod, tmod)
    call = call or (lambda m, *xs: m(*xs))
    t_in = [torch.tensor(a, requires_grad=(i not in int_inputs and grad)) for i, a in enumerate(inputs)]
    t_out = _flat(call(tmod, *t_in))
    z_in = [T(a) for a in inputs]
    params = dict(zmod.named_parameters())
    with zyx.GradientTape() as tape:
        z_out = _flat(call(zmod, *z_in))
        assert len(z_out) == len(t_out)
        ws = [rnd(*o.shape, seed=seed + k) for k, o in enumerate(t_out)]
        total = None
        for o, w in zip(z_out, ws):
            s = (o * T(w)).sum()
            total = s if total is None else total + s
        srcs = [z_in[i] for i in range(len(inputs)) if i not in int_inputs] + list(params.values())
        z_grads = tape.gradient(total, srcs) if grad else None
    for zo, to in zip(z_out, t_out):
        np.testing.assert_allclose(zo.numpy(), to.detach().numpy(), rtol=rtol, atol=atol)
    if not grad:
        return
    t_total = sum((o * torch.tensor(w)).sum() for o, w in zip(t_out, ws))
    t_params = dict(tmod.named_parameters())
    assert set(t_params) == set(params), (sorted(t_params), sorted(params))
    t_srcs = [t_in[i] for i in range(len(inputs)) if i not in int_inputs] + [t_params[k] for k in params]
    t_grads = torch.autograd.grad(t_total, t_srcs, allow_unused=True)
    names = [f"input{i}" for i in range(len(inputs)) if i not in int_inputs] + list(params)
    for name, zg, tg in zip(names, z_grads, t_grads):
        if tg is None:
            assert zg is None or np.allclose(zg.numpy(), 0), name
            continue
        assert zg is not None, f"no gradient for {name}"
        np.testing.assert_allclose(zg.numpy(), tg.numpy(), rtol=rtol, atol=atol * 10, err_msg=name)


# ====================================================================== module discovery
class Inner(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = zyx.ones((2,))


class Holder(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = zyx.zeros((3,))
        self.layers = [nn.Linear(2, 2), Inner()]
        self.pair = (zyx.ones((1,)), {"x": zyx.zeros((2, 2)), "inner": Inner()})
        self.table = {"k": zyx.full((4,), 2.0)}
        self.steps = zyx.zeros((), dtype=zyx.int64)  # integer tensors are buffers
        self.stats = nn.Buffer(zyx.ones((3,)))
        self.scratch = nn.Buffer(zyx.ones((2,)), persistent=False)
        self.note = "text"
        self.child = Inner()


def test_discovery_names_and_order():
    m = Holder()
    names = [n for n, _ in m.named_parameters()]
    assert names == ["a", "layers.0.weight", "layers.0.bias", "layers.1.w", "pair.0", "pair.1.x", "pair.1.inner.w",
                     "table.k", "child.w"]
    assert len(m.parameters()) == len(names)
    assert [n for n, _ in m.named_buffers()] == ["steps", "stats", "scratch"]
    sd = m.state_dict()
    assert list(sd) == names[:8] + ["steps", "stats", "child.w"]
    assert "scratch" not in sd
    assert [n for n, _ in m.named_modules()] == ["", "layers.0", "layers.1", "pair.1.inner", "child"]


def test_register_buffer_and_tied_weights():
    m = nn.Module()
    m.register_buffer("running", zyx.zeros((2,)))
    m.w = zyx.ones((3,))
    m.also_w = m.w
    assert [n for n, _ in m.named_parameters()] == ["w"]
    assert list(m.state_dict()) == ["running", "w", "also_w"]
    assert m.buffers()[0] is m.running


@pytest.mark.parametrize("container", [
    lambda t: {t}, lambda t: frozenset([t]), lambda t: collections.deque([t]),
    lambda t: type("Box", (), {"__init__": lambda self: setattr(self, "t", t)})(),
    lambda t: [{"ok": [set([t])]}], lambda t: {1: t},
])
def test_unsupported_container_raises(container):
    m = nn.Module()
    m.good = zyx.ones((2,))
    m.hidden = container(zyx.ones((2,)))
    with pytest.raises(TypeError, match="hidden"):
        m.parameters()


def test_non_tensor_containers_are_fine():
    m = nn.Module()
    m.cfg = {"sizes": {1, 2}, "name": "x", 3: "int key"}
    m.fn = np.sin
    m.arr = np.zeros(3)
    m.w = zyx.ones((1,))
    assert [n for n, _ in m.named_parameters()] == ["w"]


def test_train_eval_propagate():
    m = nn.Sequential(nn.Linear(2, 2), nn.ModuleList([nn.Dropout(0.5)]), nn.ModuleDict({"bn": nn.BatchNorm1d(2)}))
    assert m.eval() is m
    assert all(not x.training for x in m.modules())
    m.train()
    assert all(x.training for x in m.modules())
    assert [n for n, _ in m.named_modules()] == ["", "0", "1", "1.0", "2", "2.bn"]


def test_containers_names_match_torch():
    torch.manual_seed(0)
    t = tnn.Sequential(tnn.Linear(3, 4), tnn.ModuleList([tnn.Linear(4, 4), tnn.LayerNorm(4)]),
                       tnn.ModuleDict({"out": tnn.Linear(4, 2)}))
    z = nn.Sequential(nn.Linear(3, 4), nn.ModuleList([nn.Linear(4, 4), nn.LayerNorm(4)]),
                      nn.ModuleDict({"out": nn.Linear(4, 2)}))
    assert list(z.state_dict()) == list(t.state_dict())
    assert len(z) == 3 and isinstance(z[1], nn.ModuleList) and isinstance(z[2]["out"], nn.Linear)


def test_realize_model_one_schedule():
    m = nn.Sequential(nn.Linear(8, 16), nn.Linear(16, 4), nn.BatchNorm1d(4))
    assert any(t._node.op != "BUFFER" for t in m._zyx_tensors())
    before = zyx.realize.stats.schedules
    zyx.realize(m)
    assert zyx.realize.stats.schedules == before + 1
    assert all(t._node.op == "BUFFER" for t in m._zyx_tensors())


def test_to_device_in_place():
    m = nn.Linear(3, 2)
    w = m.weight
    assert m.to("cpu") is m and m.weight is w and w.device == zyx.get_device("cpu")
    others = [d for d in zyx.available_devices() if d.type == "opencl"]
    if others:
        m.to(others[0])
        assert w.device == others[0] and m.bias.device == others[0]
        out = m(zyx.ones((1, 3), device=others[0]))
        assert out.device == others[0]


# ====================================================================== state dicts and files
def test_state_dict_round_trip_and_snapshot():
    a, b = nn.Linear(4, 3), nn.Linear(4, 3)
    sd = a.state_dict()
    b.load_state_dict(sd)
    for k in sd:
        np.testing.assert_array_equal(dict(b.state_dict())[k].numpy(), sd[k].numpy())
    old = sd["weight"].numpy().copy()
    a.weight._node = (a.weight + 1)._node  # an in-place update after the snapshot
    np.testing.assert_array_equal(sd["weight"].numpy(), old)


def test_load_state_dict_errors():
    m = nn.Linear(4, 3)
    good = {k: v.numpy() for k, v in m.state_dict().items()}
    before = m.weight.numpy().copy()
    with pytest.raises(ValueError, match="missing keys: bias"):
        m.load_state_dict({"weight": good["weight"]})
    with pytest.raises(ValueError, match="unexpected keys: extra"):
        m.load_state_dict({**good, "extra": good["bias"]})
    with pytest.raises(ValueError, match="shape"):
        m.load_state_dict({**good, "weight": np.zeros((3, 5), np.float32)})
    with pytest.raises(TypeError, match="dtype"):
        m.load_state_dict({**good, "weight": np.zeros((3, 4), np.float64), "bias": np.ones(3, np.float32)})
    np.testing.assert_array_equal(m.weight.numpy(), before)  # a failed load changes nothing
    with pytest.raises(TypeError):
        m.load_state_dict([1, 2])
    missing, unexpected = m.load_state_dict({"weight": np.ones((3, 4), np.float32), "zzz": 1}, strict=False)
    assert missing == ["bias"] and unexpected == ["zzz"]
    np.testing.assert_array_equal(m.weight.numpy(), 1.0)


def test_safetensors_save_load(tmp_path):
    safetensors = pytest.importorskip("safetensors.numpy")
    m = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    m(T(rnd(2, 1, 5, 5)))  # moves the running statistics
    path = tmp_path / "model.safetensors"
    m.save(path)
    raw = safetensors.load_file(str(path))
    assert set(raw) == set(m.state_dict())
    assert raw["1.num_batches_tracked"] == 1
    m2 = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2)).load(path)
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(m2.state_dict()[k].numpy(), v.numpy())
    nn.save_safetensors(m2, tmp_path / "b.safetensors")
    with pytest.raises(ValueError, match="unexpected keys:.*1.weight"):
        nn.load_safetensors(nn.Sequential(nn.Conv2d(1, 2, 3)), tmp_path / "b.safetensors")


# ====================================================================== initializers
@pytest.mark.parametrize("make,name,bound", [
    (lambda: nn.Linear(400, 300), "weight", 1 / math.sqrt(400)),
    (lambda: nn.Linear(400, 300), "bias", 1 / math.sqrt(400)),
    (lambda: nn.Conv2d(16, 32, 3), "weight", 1 / math.sqrt(16 * 9)),
    (lambda: nn.ConvTranspose2d(16, 32, 3), "weight", 1 / math.sqrt(32 * 9)),
    (lambda: nn.LSTM(10, 50), "weight_hh_l0", 1 / math.sqrt(50)),
    (lambda: nn.MultiheadAttention(64, 4), "in_proj_weight", math.sqrt(6 / (64 + 192))),
])
def test_default_init_uniform_bounds(make, name, bound):
    w = dict(make().named_parameters())[name].numpy()
    assert np.abs(w).max() <= bound * (1 + 1e-6)
    assert np.abs(w).max() > bound * 0.9
    np.testing.assert_allclose(w.std(), bound / math.sqrt(3), rtol=0.1)
    assert abs(w.mean()) < bound * 0.1


def test_init_functions():
    zyx.manual_seed(3)
    w = nn.init.kaiming_normal((256, 128), nonlinearity="relu").numpy()
    np.testing.assert_allclose(w.std(), math.sqrt(2 / 128), rtol=0.05)
    w = nn.init.xavier_normal((200, 100)).numpy()
    np.testing.assert_allclose(w.std(), math.sqrt(2 / 300), rtol=0.05)
    w = nn.init.xavier_uniform((200, 100), gain=2.0).numpy()
    assert np.abs(w).max() <= 2 * math.sqrt(6 / 300) + 1e-6
    t = zyx.zeros((50, 60))
    nn.init.kaiming_uniform_(t, a=math.sqrt(5))
    assert t._node.op == "BUFFER" and 0 < np.abs(t.numpy()).max() <= 1 / math.sqrt(60) + 1e-6
    nn.init.ones_(t)
    assert (t.numpy() == 1).all()
    e = nn.Embedding(1000, 64, padding_idx=3).weight.numpy()
    assert (e[3] == 0).all()
    np.testing.assert_allclose(e.std(), 1.0, rtol=0.05)
    assert nn.init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    with pytest.raises(ValueError):
        nn.init.calculate_gain("nope")


# ====================================================================== dense layers
def test_linear_and_bilinear():
    check_module(nn.Linear(5, 3), tnn.Linear(5, 3), [rnd(4, 5)])
    check_module(nn.Linear(5, 3, bias=False), tnn.Linear(5, 3, bias=False), [rnd(2, 4, 5)])
    check_module(nn.Bilinear(3, 4, 2), tnn.Bilinear(3, 4, 2), [rnd(5, 3), rnd(5, 4, seed=2)])


def test_embedding_padding_idx():
    t = tnn.Embedding(10, 4, padding_idx=2)
    idx = np.array([[1, 2, 3], [2, 9, 1]])
    check_module(nn.Embedding(10, 4, padding_idx=2), t, [idx], int_inputs=(0,))
    with pytest.raises(TypeError):
        nn.Embedding(10, 4)(T(np.zeros((2,), np.float32)))


@pytest.mark.parametrize("make", [
    lambda: (nn.ReLU(), tnn.ReLU()), lambda: (nn.GELU(), tnn.GELU()), lambda: (nn.GELU("tanh"), tnn.GELU("tanh")),
    lambda: (nn.SiLU(), tnn.SiLU()), lambda: (nn.Sigmoid(), tnn.Sigmoid()), lambda: (nn.Tanh(), tnn.Tanh()),
    lambda: (nn.Softmax(1), tnn.Softmax(1)), lambda: (nn.LogSoftmax(-1), tnn.LogSoftmax(-1)),
    lambda: (nn.LeakyReLU(0.2), tnn.LeakyReLU(0.2)), lambda: (nn.ELU(0.7), tnn.ELU(0.7)),
    lambda: (nn.Softplus(2.0), tnn.Softplus(2.0)),
])
def test_activation_modules(make):
    z, t = make()
    check_module(z, t, [rnd(3, 7, scale=2.0)])


def test_functional_activations():
    x = rnd(4, 6, scale=3.0)
    tx = torch.tensor(x)
    for zf, tf in [(F.relu, torch.relu), (F.silu, tnn.functional.silu), (F.sigmoid, torch.sigmoid),
                   (F.tanh, torch.tanh), (lambda a: F.softmax(a, 0), lambda a: torch.softmax(a, 0)),
                   (lambda a: F.log_softmax(a, 1), lambda a: torch.log_softmax(a, 1)),
                   (lambda a: F.leaky_relu(a, 0.1), lambda a: tnn.functional.leaky_relu(a, 0.1)),
                   (F.elu, tnn.functional.elu), (F.gelu, tnn.functional.gelu), (F.relu6, tnn.functional.relu6)]:
        np.testing.assert_allclose(zf(T(x)).numpy(), tf(tx).numpy(), rtol=1e-5, atol=1e-6)
    oh = F.one_hot(T(np.array([0, 2, 1])), 4).numpy()
    np.testing.assert_array_equal(oh, np.eye(4, dtype=np.int64)[[0, 2, 1]])


def test_dropout():
    zyx.manual_seed(7)
    d = nn.Dropout(0.3)
    x = zyx.ones((200, 100))
    with zyx.GradientTape() as tape:
        y = d(x)
        (g,) = tape.gradient(y, [x])
    y = y.numpy()
    kept = y != 0
    assert 0.66 < kept.mean() < 0.74
    np.testing.assert_allclose(y[kept], 1 / 0.7, rtol=1e-6)
    np.testing.assert_allclose(g.numpy(), y)  # the gradient uses the same mask
    y2 = d(x).numpy()
    assert (y2 != y).any()  # a new mask each call
    d.eval()
    assert d(x) is x
    assert (nn.Dropout(1.0)(x).numpy() == 0).all()
    with pytest.raises(ValueError):
        nn.Dropout(1.5)


# ====================================================================== convolution and pooling
@pytest.mark.parametrize("kw", [
    dict(), dict(stride=2, padding=1), dict(padding=2, dilation=2), dict(groups=2, stride=(1, 2)),
    dict(padding="same", dilation=(1, 2)), dict(padding=(1, 0), bias=False),
])
def test_conv2d(kw):
    torch.manual_seed(0)
    check_module(nn.Conv2d(4, 6, 3, **kw), tnn.Conv2d(4, 6, 3, **kw), [rnd(2, 4, 9, 8)], atol=5e-5)


def test_conv2d_rect_kernel_and_1x1():
    check_module(nn.Conv2d(3, 2, (2, 3), stride=(2, 1)), tnn.Conv2d(3, 2, (2, 3), stride=(2, 1)), [rnd(1, 3, 7, 6)])
    check_module(nn.Conv2d(3, 5, 1), tnn.Conv2d(3, 5, 1), [rnd(2, 3, 4, 4)])


@pytest.mark.parametrize("kw", [dict(), dict(stride=3, padding=2), dict(dilation=2, groups=3)])
def test_conv1d(kw):
    check_module(nn.Conv1d(3, 6, 3, **kw), tnn.Conv1d(3, 6, 3, **kw), [rnd(2, 3, 11)])


@pytest.mark.parametrize("kw", [
    dict(), dict(stride=2), dict(stride=2, padding=1, output_padding=1), dict(groups=2, dilation=2),
    dict(stride=(2, 3), padding=(0, 1), bias=False),
])
def test_conv_transpose2d(kw):
    check_module(nn.ConvTranspose2d(4, 6, 3, **kw), tnn.ConvTranspose2d(4, 6, 3, **kw), [rnd(2, 4, 5, 4)],
                 atol=5e-5)


def test_conv_transpose1d():
    check_module(nn.ConvTranspose1d(2, 3, 4, stride=2, padding=1), tnn.ConvTranspose1d(2, 3, 4, stride=2, padding=1),
                 [rnd(2, 2, 6)])


@pytest.mark.parametrize("kw", [dict(stride=2, padding=1), dict(dilation=2, groups=2), dict(padding="same"),
                                dict(stride=3, padding=2, dilation=(1, 2))])
def test_conv_backward_composite_second_order(kw):
    """The convolution is one recorded composite whose input gradient is a transposed
    convolution; it must agree with torch to second order (the gradient of a gradient)."""
    x64 = np.random.default_rng(1).standard_normal((2, 4, 9, 8))
    w64 = np.random.default_rng(2).standard_normal((6, 4 // kw.get("groups", 1), 3, 3))
    xt, wt = zyx.Tensor(x64), zyx.Tensor(w64)
    with zyx.GradientTape() as tape:
        y = F.conv2d(xt, wt, **kw)
        gx, gw = tape.gradient_persistent((y * y).sin().sum(), [xt, wt])
        gw2, gx2 = tape.gradient((gx * gx).sum() + (gw * gw).sum(), [wt, xt])
    tx, tw = torch.from_numpy(x64).requires_grad_(), torch.from_numpy(w64).requires_grad_()
    ty = torch.nn.functional.conv2d(tx, tw, **kw)
    tgx, tgw = torch.autograd.grad((ty * ty).sin().sum(), [tx, tw], create_graph=True)
    tgw2, tgx2 = torch.autograd.grad((tgx * tgx).sum() + (tgw * tgw).sum(), [tw, tx])
    for got, want in [(gx, tgx), (gw, tgw), (gw2, tgw2), (gx2, tgx2)]:
        w = want.detach().numpy()
        np.testing.assert_allclose(got.numpy(), w, rtol=1e-9, atol=1e-11 * np.abs(w).max())


def test_maxpool_windows_without_overlap_are_reshapes():
    """Pooling with stride = kernel reads its windows through a reshape: no expand, so
    its backward has no scatter (and the values match torch, ties included)."""
    x = np.random.default_rng(3).standard_normal((2, 3, 8, 12)).astype(np.float32)
    x[0, 0, :2, :2] = 1.5  # a window of ties
    xt = T(x)
    with zyx.GradientTape() as tape:
        y = F.max_pool2d(xt, 2)
        (g,) = tape.gradient((y * y).sum(), [xt])
    node_ops = set()
    stack = [y._node]
    while stack:
        n = stack.pop()
        node_ops.add(n.op)
        stack.extend(n.srcs)
    assert "EXPAND" not in node_ops
    np.testing.assert_allclose(y.numpy(), torch.nn.functional.max_pool2d(torch.from_numpy(x), 2).numpy())
    want = np.zeros_like(x)
    want[0, 0, :2, :2] = 2 * 1.5 / 4  # ties split the gradient evenly
    np.testing.assert_allclose(g.numpy()[0, 0, :2, :2], want[0, 0, :2, :2], rtol=1e-6)


def test_conv_fuses_into_one_kernel():
    conv = nn.Conv2d(3, 8, 3, padding=1)
    x = T(rnd(2, 3, 10, 10))
    zyx.realize(conv)
    before = zyx.realize.stats.launches
    conv(x).relu().realize()
    assert zyx.realize.stats.launches - before == 1  # windows, contraction, bias and relu in one kernel


@pytest.mark.parametrize("kw", [
    dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1), dict(kernel_size=3, stride=2, ceil_mode=True),
    dict(kernel_size=2, dilation=2, stride=1), dict(kernel_size=(3, 2), stride=(1, 2), padding=(1, 0)),
])
def test_max_pool2d(kw):
    check_module(nn.MaxPool2d(**kw), tnn.MaxPool2d(**kw), [rnd(2, 3, 9, 8)])


def test_max_pool1d():
    check_module(nn.MaxPool1d(3, 2, 1), tnn.MaxPool1d(3, 2, 1), [rnd(2, 3, 10)])


@pytest.mark.parametrize("kw", [
    dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=2, padding=1, count_include_pad=False),
    dict(kernel_size=3, stride=2, ceil_mode=True), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True,
                                                        count_include_pad=False),
    dict(kernel_size=2, divisor_override=3),
])
def test_avg_pool2d(kw):
    check_module(nn.AvgPool2d(**kw), tnn.AvgPool2d(**kw), [rnd(2, 3, 9, 8)])


def test_avg_pool1d():
    check_module(nn.AvgPool1d(4, 2, 1), tnn.AvgPool1d(4, 2, 1), [rnd(2, 3, 11)])


@pytest.mark.parametrize("size", [(3, 4), 1, (5, 3), (None, 2)])
def test_adaptive_avg_pool2d(size):
    check_module(nn.AdaptiveAvgPool2d(size), tnn.AdaptiveAvgPool2d(size), [rnd(2, 3, 9, 8)])


def test_conv_and_pool_errors():
    with pytest.raises(ValueError, match="channels"):
        nn.Conv2d(3, 4, 3)(T(rnd(1, 2, 5, 5)))
    with pytest.raises(ValueError):
        nn.Conv2d(3, 4, 3)(T(rnd(3, 5, 5)))
    with pytest.raises(ValueError, match="groups"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError):
        nn.Conv2d(3, 4, 7)(T(rnd(1, 3, 5, 5)))
    with pytest.raises(ValueError):
        nn.MaxPool2d(2, padding=2)(T(rnd(1, 1, 6, 6)))


# ====================================================================== normalization
@pytest.mark.parametrize("make,shape", [
    (lambda m: m.BatchNorm1d(4), (6, 4)), (lambda m: m.BatchNorm1d(4, momentum=None), (5, 4, 3)),
    (lambda m: m.BatchNorm2d(3, affine=False), (4, 3, 5, 5)), (lambda m: m.BatchNorm2d(3, momentum=0.3), (2, 3, 4, 5)),
])
def test_batch_norm_train_and_eval(make, shape):
    z, t = make(nn), make(tnn)
    x1, x2 = rnd(*shape, scale=2.0), rnd(*shape, seed=5) + 1.0
    check_module(z, t, [x1], atol=5e-5)  # training: batch statistics, updates the running ones
    check_module(z, t, [x2], atol=5e-5)  # copies torch's updated statistics in, steps both again
    for k, v in t.state_dict().items():
        np.testing.assert_allclose(z.state_dict()[k].numpy(), v.numpy(), rtol=1e-5, atol=1e-6, err_msg=k)
    z.eval(), t.eval()
    check_module(z, t, [x1], atol=5e-5)


def test_batch_norm_running_stats_evolve_like_torch():
    z, t = nn.BatchNorm1d(3), tnn.BatchNorm1d(3)
    for i in range(3):
        x = rnd(8, 3, seed=i, scale=i + 1.0)
        z(T(x))
        t(torch.tensor(x))
    for k, v in t.state_dict().items():
        np.testing.assert_allclose(z.state_dict()[k].numpy(), v.numpy(), rtol=1e-5, atol=1e-6, err_msg=k)
    with pytest.raises(ValueError):
        z(T(rnd(8, 4)))


def test_layer_group_rms_norm():
    check_module(nn.LayerNorm(6), tnn.LayerNorm(6), [rnd(3, 4, 6, scale=3.0)])
    check_module(nn.LayerNorm((4, 6), elementwise_affine=False), tnn.LayerNorm((4, 6), elementwise_affine=False),
                 [rnd(3, 4, 6)])
    check_module(nn.LayerNorm(6, bias=False), tnn.LayerNorm(6, bias=False), [rnd(2, 6)])
    check_module(nn.GroupNorm(2, 6), tnn.GroupNorm(2, 6), [rnd(3, 6, 4, 2)])
    check_module(nn.GroupNorm(3, 3, affine=False), tnn.GroupNorm(3, 3, affine=False), [rnd(2, 3, 5)])
    check_module(nn.RMSNorm(6), tnn.RMSNorm(6), [rnd(3, 6)])
    check_module(nn.RMSNorm((2, 6), eps=1e-3), tnn.RMSNorm((2, 6), eps=1e-3), [rnd(3, 2, 6)])
    with pytest.raises(ValueError):
        nn.LayerNorm(5)(T(rnd(2, 6)))


# ====================================================================== attention and transformers
def _mha_call(mask_kind, need_weights=True, average=True):
    def call(m, q, k, v):
        is_torch = isinstance(q, torch.Tensor)
        conv = torch.tensor if is_torch else T
        kw = dict(need_weights=need_weights, average_attn_weights=average)
        L, S = (q.shape[0], k.shape[0]) if not m.batch_first else (q.shape[1], k.shape[1])
        n = q.shape[1] if not m.batch_first else q.shape[0]
        if mask_kind == "bool":
            kw["attn_mask"] = conv(np.triu(np.ones((L, S), bool), 1))
        elif mask_kind == "float":
            kw["attn_mask"] = conv(rnd(L, S, seed=9))
        elif mask_kind == "padding":
            pm = np.zeros((n, S), bool)
            pm[0, -2:] = True
            kw["key_padding_mask"] = conv(pm)
        return m(q, k, v, **kw)
    return call


@pytest.mark.parametrize("batch_first,mask,need,avg", [
    (False, None, True, True), (True, "bool", True, False), (False, "float", False, True),
    (True, "padding", True, True),
])
def test_multihead_attention(batch_first, mask, need, avg):
    torch.manual_seed(0)
    z = nn.MultiheadAttention(8, 2, batch_first=batch_first)
    t = tnn.MultiheadAttention(8, 2, batch_first=batch_first)
    shape_q, shape_kv = ((2, 4, 8), (2, 5, 8)) if batch_first else ((4, 2, 8), (5, 2, 8))
    check_module(z, t, [rnd(*shape_q), rnd(*shape_kv, seed=2), rnd(*shape_kv, seed=3)],
                 call=_mha_call(mask, need, avg), atol=5e-5)


def test_multihead_attention_kdim_vdim():
    torch.manual_seed(0)
    z, t = nn.MultiheadAttention(8, 4, kdim=3, vdim=5), tnn.MultiheadAttention(8, 4, kdim=3, vdim=5)
    check_module(z, t, [rnd(4, 2, 8), rnd(6, 2, 3, seed=2), rnd(6, 2, 5, seed=3)])


def test_scaled_dot_product_attention():
    q, k, v = rnd(2, 3, 4, 8), rnd(2, 3, 6, 8, seed=1), rnd(2, 3, 6, 8, seed=2)
    mask = np.random.default_rng(0).random((4, 6)) > 0.3
    mask[:, 0] = True
    ref = tnn.functional.scaled_dot_product_attention(torch.tensor(q), torch.tensor(k), torch.tensor(v),
                                                      attn_mask=torch.tensor(mask))
    out = F.scaled_dot_product_attention(T(q), T(k), T(v), attn_mask=T(mask))
    np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=1e-4, atol=1e-5)
    ref = tnn.functional.scaled_dot_product_attention(torch.tensor(q), torch.tensor(k[:, :, :4]),
                                                      torch.tensor(v[:, :, :4]), is_causal=True)
    out = F.scaled_dot_product_attention(T(q), T(k[:, :, :4]), T(v[:, :, :4]), is_causal=True)
    np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kw", [dict(), dict(norm_first=True, activation="gelu", batch_first=True)])
def test_transformer_encoder_layer(kw):
    torch.manual_seed(0)
    z = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, **kw)
    t = tnn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, **kw)
    mask = np.triu(np.full((5, 5), -np.inf, np.float32), 1)

    def call(m, x):
        conv = torch.tensor if isinstance(x, torch.Tensor) else T
        return m(x, src_mask=conv(mask))
    check_module(z, t, [rnd(5, 3, 8) if not kw else rnd(3, 5, 8)], call=call, atol=5e-5)


def test_transformer_decoder_layer():
    torch.manual_seed(0)
    z = nn.TransformerDecoderLayer(8, 2, dim_feedforward=16, dropout=0.0)
    t = tnn.TransformerDecoderLayer(8, 2, dim_feedforward=16, dropout=0.0)
    check_module(z, t, [rnd(4, 2, 8), rnd(6, 2, 8, seed=4)], atol=5e-5)


def test_transformer_dropout_only_in_training():
    z = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.5)
    x = T(rnd(5, 2, 8))
    z.eval()
    a, b = z(x).numpy(), z(x).numpy()
    np.testing.assert_array_equal(a, b)
    z.train()
    assert not np.allclose(z(x).numpy(), a)


# ====================================================================== recurrent layers
@pytest.mark.parametrize("name", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cells(name):
    torch.manual_seed(0)
    z, t = getattr(nn, name)(4, 5), getattr(tnn, name)(4, 5)
    check_module(z, t, [rnd(3, 4)])
    if name == "LSTMCell":
        check_module(z, t, [rnd(3, 4), rnd(3, 5, seed=2), rnd(3, 5, seed=3)],
                     call=lambda m, x, h, c: m(x, (h, c)))
    else:
        check_module(z, t, [rnd(4), rnd(5, seed=2)])  # unbatched, with a state


@pytest.mark.parametrize("name,kw", [
    ("RNN", dict()), ("RNN", dict(nonlinearity="relu", num_layers=2, batch_first=True)),
    ("LSTM", dict()), ("LSTM", dict(num_layers=2, bidirectional=True)),
    ("GRU", dict(batch_first=True)), ("GRU", dict(num_layers=2, bidirectional=True, bias=False)),
])
def test_recurrent_layers(name, kw):
    torch.manual_seed(0)
    z, t = getattr(nn, name)(3, 4, **kw), getattr(tnn, name)(3, 4, **kw)
    assert list(dict(z.named_parameters())) == list(dict(t.named_parameters()))
    x = rnd(2, 5, 3) if kw.get("batch_first") else rnd(5, 2, 3)
    check_module(z, t, [x], atol=5e-5)


def test_recurrent_initial_state_and_unbatched():
    torch.manual_seed(0)
    z, t = nn.LSTM(3, 4, num_layers=2), tnn.LSTM(3, 4, num_layers=2)
    check_module(z, t, [rnd(5, 2, 3), rnd(2, 2, 4, seed=1), rnd(2, 2, 4, seed=2)],
                 call=lambda m, x, h, c: m(x, (h, c)), atol=5e-5)
    z, t = nn.GRU(3, 4), tnn.GRU(3, 4)
    check_module(z, t, [rnd(5, 3), rnd(1, 4, seed=1)], atol=5e-5)
    with pytest.raises(ValueError):
        z(T(rnd(5, 2, 3)), T(rnd(2, 2, 4)))


# ====================================================================== losses
def _loss_pair(zf, tf, inputs, grad_index=(0,), rtol=1e-5, atol=1e-6):
    z_in = [T(a) for a in inputs]
    t_in = [torch.tensor(a, requires_grad=i in grad_index) for i, a in enumerate(inputs)]
    with zyx.GradientTape() as tape:
        zl = zf(*z_in)
        w = rnd(*zl.shape, seed=11)
        zg = tape.gradient(zl, [z_in[i] for i in grad_index], output_gradient=T(w))
    tl = tf(*t_in)
    np.testing.assert_allclose(zl.numpy(), tl.detach().numpy(), rtol=rtol, atol=atol)
    tg = torch.autograd.grad(tl, [t_in[i] for i in grad_index], torch.tensor(w))
    for a, b in zip(zg, tg):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=rtol * 10, atol=atol * 10)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_regression_losses(reduction):
    x, y = rnd(4, 5, scale=2.0), rnd(4, 5, seed=1)
    tf = tnn.functional
    _loss_pair(lambda a, b: F.mse_loss(a, b, reduction), lambda a, b: tf.mse_loss(a, b, reduction=reduction), [x, y])
    _loss_pair(lambda a, b: F.l1_loss(a, b, reduction), lambda a, b: tf.l1_loss(a, b, reduction=reduction), [x, y])
    for beta in (1.0, 0.5, 0.0):
        _loss_pair(lambda a, b: F.smooth_l1_loss(a, b, reduction, beta),
                   lambda a, b: tf.smooth_l1_loss(a, b, reduction=reduction, beta=beta), [x, y])
    _loss_pair(lambda a, b: F.huber_loss(a, b, reduction, 0.7),
               lambda a, b: tf.huber_loss(a, b, reduction=reduction, delta=0.7), [x, y])


CE_CASES = [
    dict(), dict(reduction="sum"), dict(reduction="none"), dict(label_smoothing=0.1),
    dict(weight=True), dict(weight=True, label_smoothing=0.2), dict(ignore_index=1),
    dict(ignore_index=1, weight=True, label_smoothing=0.3), dict(ignore_index=2, reduction="none", label_smoothing=0.1),
]


@pytest.mark.parametrize("kw", CE_CASES)
def test_cross_entropy_indices(kw):
    kw = dict(kw)
    w = rnd(5, seed=4) ** 2 + 0.1 if kw.pop("weight", False) else None
    logits, target = rnd(6, 5, scale=2.0), np.array([0, 1, 4, 2, 1, 3])
    zw, tw = (T(w), torch.tensor(w)) if w is not None else (None, None)
    _loss_pair(lambda a, b: F.cross_entropy(a, b, weight=zw, **kw),
               lambda a, b: tnn.functional.cross_entropy(a, b, weight=tw, **kw), [logits, target])
    m = nn.CrossEntropyLoss(weight=zw, **kw)
    np.testing.assert_allclose(m(T(logits), T(target)).numpy(),
                               tnn.CrossEntropyLoss(weight=tw, **kw)(torch.tensor(logits), torch.tensor(target)),
                               rtol=1e-5)


def test_cross_entropy_spatial_and_probabilities():
    logits, target = rnd(2, 4, 3, 3), np.random.default_rng(0).integers(0, 4, (2, 3, 3))
    _loss_pair(lambda a, b: F.cross_entropy(a, b), lambda a, b: tnn.functional.cross_entropy(a, b), [logits, target])
    probs = np.random.default_rng(1).random((5, 4)).astype(np.float32)
    probs /= probs.sum(1, keepdims=True)
    w = rnd(4, seed=3) ** 2 + 0.5
    for kw in (dict(), dict(label_smoothing=0.2), dict(reduction="sum"), dict(reduction="none")):
        _loss_pair(lambda a, b: F.cross_entropy(a, b, weight=T(w), **kw),
                   lambda a, b: tnn.functional.cross_entropy(a, b, weight=torch.tensor(w), **kw),
                   [rnd(5, 4), probs], grad_index=(0, 1))
    _loss_pair(lambda a, b: F.cross_entropy(a, b), lambda a, b: tnn.functional.cross_entropy(a, b),
               [rnd(4), np.array(2)])
    with pytest.raises(ValueError):
        F.cross_entropy(T(rnd(5, 4)), T(np.zeros(4, np.int64)))
    with pytest.raises(TypeError):
        F.cross_entropy(T(rnd(5, 4)), T(np.zeros(5, bool)))


def test_nll_loss():
    logp = torch.log_softmax(torch.tensor(rnd(6, 3)), 1).numpy()
    target = np.array([0, 2, 1, 1, 0, 2])
    w = np.array([0.5, 2.0, 1.0], np.float32)
    for kw in (dict(), dict(reduction="sum"), dict(ignore_index=2)):
        _loss_pair(lambda a, b: F.nll_loss(a, b, weight=T(w), **kw),
                   lambda a, b: tnn.functional.nll_loss(a, b, weight=torch.tensor(w), **kw), [logp, target])
    np.testing.assert_allclose(nn.NLLLoss()(T(logp), T(target)).numpy(),
                               tnn.NLLLoss()(torch.tensor(logp), torch.tensor(target)).numpy(), rtol=1e-6)


def test_binary_cross_entropy():
    p = np.random.default_rng(0).random((4, 3)).astype(np.float32)
    p[0, 0], p[1, 1] = 0.0, 1.0  # clamped logs: finite losses
    y = (np.random.default_rng(1).random((4, 3)) > 0.5).astype(np.float32)
    y[0, 0], y[1, 1] = 1.0, 0.0
    w = rnd(4, 3, seed=2) ** 2
    for kw in (dict(), dict(reduction="sum"), dict(reduction="none")):
        zl = F.binary_cross_entropy(T(p), T(y), weight=T(w), **kw).numpy()
        tl = tnn.functional.binary_cross_entropy(torch.tensor(p), torch.tensor(y), weight=torch.tensor(w), **kw)
        np.testing.assert_allclose(zl, tl.numpy(), rtol=1e-5)
    _loss_pair(F.binary_cross_entropy, tnn.functional.binary_cross_entropy, [p * 0.9 + 0.05, y])
    np.testing.assert_allclose(nn.BCELoss()(T(p), T(y)).numpy(), tnn.BCELoss()(torch.tensor(p), torch.tensor(y)),
                               rtol=1e-5)


def test_bce_with_logits_is_stable():
    x = rnd(4, 3, scale=5.0)
    x[0, :] = [200.0, -200.0, 90.0]
    y = (np.random.default_rng(1).random((4, 3)) > 0.5).astype(np.float32)
    pw = np.array([1.0, 2.0, 0.5], np.float32)
    _loss_pair(F.binary_cross_entropy_with_logits, tnn.functional.binary_cross_entropy_with_logits, [x, y])
    _loss_pair(lambda a, b: F.binary_cross_entropy_with_logits(a, b, pos_weight=T(pw), reduction="none"),
               lambda a, b: tnn.functional.binary_cross_entropy_with_logits(a, b, pos_weight=torch.tensor(pw),
                                                                            reduction="none"), [x, y])
    m = nn.BCEWithLogitsLoss(pos_weight=T(pw))
    assert np.isfinite(m(T(x), T(y)).numpy())


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides")
@pytest.mark.parametrize("reduction", ["mean", "batchmean", "sum", "none"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div(reduction, log_target):
    inp = torch.log_softmax(torch.tensor(rnd(3, 4)), 1).numpy()
    tgt = torch.softmax(torch.tensor(rnd(3, 4, seed=2)), 1).numpy()
    tgt[0, 1] = 0.0  # 0 * log 0 = 0
    if log_target:
        tgt = np.log(tgt + 1e-3).astype(np.float32)
    zf = lambda a, b: F.kl_div(a, b, reduction, log_target)  # noqa: E731
    tf = lambda a, b: tnn.functional.kl_div(a, b, reduction=reduction, log_target=log_target)  # noqa: E731
    # at a zero target PyTorch's target gradient is nan (log 0); zyx's is finite: compare it elsewhere
    _loss_pair(zf, tf, [inp, tgt], grad_index=(0, 1) if log_target else (0,))
    if not log_target:
        _loss_pair(zf, tf, [inp, tgt + 0.05], grad_index=(0, 1))


@pytest.mark.parametrize("margin", [0.0, 0.3])
def test_cosine_embedding_loss(margin):
    a, b = rnd(5, 4), rnd(5, 4, seed=1)
    y = np.array([1, -1, 1, -1, -1])
    for reduction in ("mean", "none"):
        _loss_pair(lambda p, q, r: F.cosine_embedding_loss(p, q, r, margin, reduction),
                   lambda p, q, r: tnn.functional.cosine_embedding_loss(p, q, r, margin=margin, reduction=reduction),
                   [a, b, y], grad_index=(0, 1))


def test_loss_errors():
    with pytest.raises(ValueError, match="shape"):
        F.mse_loss(T(rnd(3)), T(rnd(4)))
    with pytest.raises(ValueError, match="reduction"):
        F.l1_loss(T(rnd(3)), T(rnd(3)), reduction="avg")
    with pytest.raises(ValueError):
        nn.MSELoss(reduction="nope")


# ====================================================================== a small model end to end
def small_cnn(m):
    class SmallCNN(m.Module):
        def __init__(self):
            super().__init__()
            self.conv = m.Conv2d(1, 4, 3, padding=1)
            self.bn = m.BatchNorm2d(4)
            self.pool = m.MaxPool2d(2)
            self.fc = m.Linear(4 * 4 * 4, 3)

        def forward(self, x):
            x = self.pool(self.bn(self.conv(x)).relu())
            return self.fc(x.reshape(x.shape[0], -1))
    return SmallCNN()


def test_small_cnn_matches_torch():
    torch.manual_seed(0)
    z, t = small_cnn(nn), small_cnn(tnn)
    check_module(z, t, [rnd(3, 1, 8, 8)], atol=5e-5)


@pytest.mark.parametrize("dev", [d for d in zyx.available_devices() if d.type != "cpu"][:1], ids=str)
def test_linear_on_other_device(dev):
    m = nn.Sequential(nn.Linear(4, 3), nn.Tanh()).to(dev)
    x = T(rnd(2, 4)).to(dev)
    with zyx.GradientTape() as tape:
        y = m(x).sum()
        gw, = tape.gradient(y, [m[0].weight])
    m_cpu = nn.Sequential(nn.Linear(4, 3), nn.Tanh())
    m_cpu.load_state_dict({k: v.numpy() for k, v in m.state_dict().items()})
    with zyx.GradientTape() as tape:
        y2 = m_cpu(T(rnd(2, 4))).sum()
        gw2, = tape.gradient(y2, [m_cpu[0].weight])
    np.testing.assert_allclose(y.numpy(), y2.numpy(), rtol=1e-5)
    np.testing.assert_allclose(gw.numpy(), gw2.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shape,kw", [((2, 3, 9, 8), dict(kernel_size=2)), ((1, 2, 7, 7), dict(kernel_size=3)),
                                      ((2, 2, 8, 8), dict(kernel_size=2, stride=3))])
def test_maxpool_backward_is_one_kernel_and_differentiates_twice(shape, kw):
    """Non-overlapping max pooling records one op whose gradient is a single elementwise
    kernel (the tie count summed from the window's views, not a reduction of its own), and
    that gradient is itself differentiable, as torch's."""
    x = np.random.default_rng(4).standard_normal(shape)
    xt = T(x)
    with zyx.GradientTape() as tape:
        y = F.max_pool2d(xt, **kw)
        (g,) = tape.gradient_persistent((y * y).sum(), [xt])
        (g2,) = tape.gradient((g * g).sum(), [xt])
    xt.realize()
    before = zyx.realize.stats.launches
    zyx.realize(y, g)
    assert zyx.realize.stats.launches - before == 2  # the pooling, its whole gradient
    tx = torch.from_numpy(x).requires_grad_(True)
    ty = torch.nn.functional.max_pool2d(tx, **kw)
    (tg,) = torch.autograd.grad((ty * ty).sum(), [tx], create_graph=True)
    (tg2,) = torch.autograd.grad((tg * tg).sum(), [tx])
    np.testing.assert_allclose(g.numpy(), tg.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(g2.numpy(), tg2.numpy(), rtol=1e-12)
