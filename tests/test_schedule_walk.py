"""The scheduler's walk: a post-order of the unrealized graph (every source before its
users, each node once), at any depth, with a key that tells structures apart."""
from __future__ import annotations

import random

import numpy as np

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
