"""The scheduler's walk: a post-order of the unrealized graph (every source before its
users, each node once), at any depth, with a key that tells structures apart."""
from __future__ import annotations

import random

import numpy as np
import pytest

import zyx
from zyx.graph import Node
from zyx.kernels import schedule as sched


def test_random_dags_walk_in_post_order():
    rng = random.Random(5)
    dev = zyx.Tensor(np.ones(3, np.float32)).device
    for _ in range(300):
        leaves = [zyx.Tensor(np.ones(3, np.float32))._node for _ in range(rng.randint(1, 4))]
        leaves.append(Node("CONST", (), 1.5, (3,), zyx.float32, dev))
        nodes = list(leaves)
        for _ in range(rng.randint(1, 40)):
            srcs = tuple(rng.choice(nodes) for _ in range(rng.choice((1, 2, 2, 3))))
            nodes.append(Node(rng.choice(("ADD", "MUL", "WHERE", "NEG")), srcs, None, (3,), zyx.float32, dev))
        inner = nodes[len(leaves):]
        targets = rng.sample(inner, min(len(inner), rng.randint(1, 3))) + rng.sample(leaves, rng.randint(0, 1))
        order, key, pos = sched.walk(targets)
        assert len(set(map(id, order))) == len(order) == len(pos)
        assert all(pos[s] < pos[n] for n in order for s in n.srcs)
        assert all(t in pos for t in targets)
        assert len(key) == len(order) + 1


def test_the_key_tells_sharing_apart():
    """x * y with one leaf used twice and with two distinct leaves of the same shape are
    different structures (the kernel reads one buffer or two)."""
    a, b = zyx.Tensor(np.ones(3, np.float32)), zyx.Tensor(np.ones(3, np.float32))
    assert sched.walk([(a * a)._node])[1] != sched.walk([(a * b)._node])[1]
    assert sched.walk([(a * b)._node])[1] == sched.walk([(b * a)._node])[1]


def test_a_deep_chain_walks_and_runs():
    x = zyx.Tensor(np.ones(4, np.float32))
    y = x
    for _ in range(5000):
        y = y + 1.0
    order, _, _ = sched.walk([y._node])
    assert len(order) == 1 + 2 * 5000
    np.testing.assert_array_equal(y.numpy(), np.full(4, 5001.0, np.float32))


# ---------------------------------------------------------------------- the C walk
def _native():
    """The C walk's module, built here if this process has not settled it yet."""
    import time

    from zyx.kernels import _walk_native
    if _walk_native._include() is None:
        pytest.skip("no Python headers here: zyx keeps the Python walk")
    deadline = time.monotonic() + 120
    while _walk_native._state == "building" and time.monotonic() < deadline:  # (a background build)
        time.sleep(0.05)
    mod = _walk_native.module(background=False)
    assert mod is not None, "Python's headers and a compiler are here: the C walk must build"
    return mod


def _same_walk(targets):
    order, key, pos = sched.python_walk(targets)
    n_order, n_key, n_pos = _native().walk(targets)
    assert [id(n) for n in n_order] == [id(n) for n in order]
    assert n_key == key and repr(n_key) == repr(key)  # (stored plans are keyed by the repr)
    assert n_pos == pos and list(n_pos) == list(pos)
    k_order, k_key = _native().walk_key(targets)  # (what a realize asks: no positions)
    assert [id(n) for n in k_order] == [id(n) for n in order] and k_key == key


def test_the_c_walk_gives_the_python_walks_order_key_and_positions():
    """Graphs of every kind the fuzzer builds (every op, dtype, movement, reduction,
    indexing, realized and unrealized values), walked from one, several and all of their
    values at once."""
    import sys as _sys
    from pathlib import Path
    _sys.path.insert(0, str(Path(__file__).parent))
    import fuzzgraph as fg
    mod = _native()
    sched._install(mod)  # (this process's walk is the C one from here on, as once built)
    assert sched.walk is mod.walk
    dts = fg.device_dtypes("cpu")
    rng = random.Random(11)
    walked = 0
    for seed in range(150):
        prog = fg.generate(900_000 + seed, "cpu", dts)
        env = fg._zyx_env(prog, "cpu")
        for s in prog.stmts:
            try:
                exec(s.text, env)
            except Exception:  # noqa: BLE001 - a program zyx refuses: walk what was built
                break
        nodes = [v._node for v in env.values() if isinstance(v, zyx.Tensor)]
        if not nodes:
            continue
        _same_walk(nodes)
        _same_walk([nodes[-1]])
        _same_walk(rng.sample(nodes, min(len(nodes), 3)) + [nodes[0]])  # (a repeated target)
        walked += 1
    assert walked > 100
    # what the fuzzer's programs lack: random bits, a bitcast, boolean constants, a leaf target
    r = zyx.Tensor.randn((4, 3), dtype=zyx.float32)
    v = (r.view(zyx.int32) & 7) + (r > 0).astype(zyx.int32)
    w = zyx.array_api.where(r > 0, True, False)
    _same_walk([v._node, w._node, r._node])
    _same_walk([zyx.Tensor.randn((5,))._node])


def test_the_c_walk_refuses_what_is_not_a_graph():
    mod = _native()
    x = zyx.Tensor(np.ones(3, np.float32))
    with pytest.raises(TypeError):
        mod.walk([x])  # a Tensor, not its node
    with pytest.raises(TypeError):
        mod.walk((x._node,))  # a tuple, not a list
    bad = Node("ADD", (x._node, "not a node"), None, (3,), zyx.float32, x.device)
    with pytest.raises(TypeError):
        mod.walk([bad])
    assert mod.walk([]) == ([], ((),), {})
