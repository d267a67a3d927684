"""One training step, zyx beside PyTorch on the CPU, in one process.

    python benches/bench_train.py [--steps 20] [--threads N]

Models: an MLP 784-512-512-10 (batch 256) and a small CNN (28x28 inputs, batch 64:
conv 1->16 3x3, relu, maxpool 2, conv 16->32 3x3, relu, maxpool 2, linear 1568->10), each
trained with Adam and cross entropy. A step is forward, backward and the optimizer
update, realized (zyx) / finished (torch). Prints the median step time of each and the
ratio zyx/torch (< 1: zyx is faster). Both libraries start from the same weights and
see the same batches, and the losses after the timed steps are printed to show that
they trained alike.
"""
from __future__ import annotations

import argparse
import importlib
import statistics
import time

import numpy as np

import zyx
import zyx.nn as nn
import zyx.nn.functional as F


def mlp(m):
    return m.Sequential(m.Linear(784, 512), m.ReLU(), m.Linear(512, 512), m.ReLU(), m.Linear(512, 10))


def cnn(m):
    return m.Sequential(m.Conv2d(1, 16, 3, padding=1), m.ReLU(), m.MaxPool2d(2), m.Conv2d(16, 32, 3, padding=1),
                        m.ReLU(), m.MaxPool2d(2), m.Flatten(), m.Linear(32 * 7 * 7, 10))


WARM = importlib.import_module("zyx.realize")._LOOP_HITS + 1  # untimed steps (see bench_zyx)


def bench_zyx(model, xs, ys, steps):
    opt = zyx.optim.Adam(model.parameters(), lr=1e-3)
    times, loss = [], None
    # warm-up steps: the first compiles; the second starts the versions specialised on the
    # step's sizes, a later one those of small kernels met again and again (realize._LOOP_HITS):
    # the background builds finish before the timed steps
    for i in range(steps + WARM):
        x, y = zyx.Tensor(xs[i % len(xs)]), zyx.Tensor(ys[i % len(ys)])
        t0 = time.perf_counter()
        with zyx.GradientTape() as tape:
            loss = F.cross_entropy(model(x), y)
            grads = tape.gradient(loss, model.parameters())
        opt.step(grads, realize=False)
        zyx.realize(loss, model, opt)
        if i >= WARM:
            times.append(time.perf_counter() - t0)
        elif i == 1 or i == WARM - 1:
            zyx.realize.wait_compiles()
    return statistics.median(times), float(loss.detach() if hasattr(loss, "requires_grad") else loss)


def bench_torch(torch, model, xs, ys, steps):
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    times, loss = [], None
    for i in range(steps + WARM):  # (the same steps and batches as zyx)
        x, y = torch.from_numpy(xs[i % len(xs)]), torch.from_numpy(ys[i % len(ys)])
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        if i >= WARM:
            times.append(time.perf_counter() - t0)
    return statistics.median(times), float(loss.detach() if hasattr(loss, "requires_grad") else loss)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = ap.parse_args()
    import torch
    if args.threads:
        torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    cases = [
        ("MLP 784-512-512-10, batch 256", mlp, [rng.random((256, 784), dtype=np.float32) for _ in range(4)], 256),
        ("CNN 28x28, batch 64", cnn, [rng.random((64, 1, 28, 28), dtype=np.float32) for _ in range(4)], 64),
    ]
    print(f"zyx device: {zyx.default_device()} | torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"{'training step (Adam)':<32} {'zyx ms':>9} {'torch ms':>9} {'zyx/torch':>10}   final losses")
    for name, make, xs, n in cases:
        ys = [rng.integers(0, 10, n) for _ in xs]
        torch.manual_seed(0)
        tm = make(torch.nn)
        zm = make(nn)
        zm.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
        tz, lz = bench_zyx(zm, xs, ys, args.steps)
        tt, lt = bench_torch(torch, tm, xs, ys, args.steps)
        print(f"{name:<32} {tz * 1e3:9.2f} {tt * 1e3:9.2f} {tz / tt:10.2f}   {lz:.4f} / {lt:.4f}")


if __name__ == "__main__":
    main()
