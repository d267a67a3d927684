"""Several threads on one device: realizing shares one lock (realizing mutates the graph),
building graphs needs none. Shared lazy graphs, separate graphs and element reads from four
threads at once must all give NumPy's answers, on every device."""
from __future__ import annotations

import threading

import numpy as np

import zyx

xp = zyx.array_api


def _run_threads(fn, n=4):
    errors, results = [], [None] * n

    def body(i):
        try:
            results[i] = fn(i)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)
    ts = [threading.Thread(target=body, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in ts), "a thread hung"
    if errors:
        raise errors[0]
    return results


def test_threads_share_a_lazy_graph(device):
    a_np = np.arange(3000, dtype=np.float32) / 1000
    a = xp.asarray(a_np, device=device)
    shared = xp.exp(a * 0.5) + a  # lazy: every thread realizes the same nodes
    want = np.exp(a_np * np.float32(0.5)) + a_np

    def work(i):
        out = []
        for k in range(5):
            out.append(float(xp.sum(shared * (i + k))))
            np.testing.assert_allclose(shared.numpy(), want, rtol=1e-6)
        return out
    res = _run_threads(work)
    for i, r in enumerate(res):
        np.testing.assert_allclose(r, [float(np.sum(want * np.float32(i + k))) for k in range(5)], rtol=1e-4)


def test_threads_with_their_own_graphs(device):
    def work(i):
        rng = np.random.default_rng(i)
        x_np = rng.random((64, 33), dtype=np.float32)
        x = xp.asarray(x_np, device=device)
        for k in range(4):
            y = xp.sum(x[:, k:] * (k + 1), axis=1)
            np.testing.assert_allclose(y.numpy(), (x_np[:, k:] * np.float32(k + 1)).sum(1), rtol=1e-5)
            assert float(x[i, k]) == float(x_np[i, k])
        return True
    assert all(_run_threads(work))
