"""Train an MLP and a small CNN on scikit-learn's bundled digits (8x8 images, no download).

    python examples/train_digits.py            # both models on the default device
    python examples/train_digits.py --plot     # also save a loss plot (needs matplotlib)
    python examples/train_digits.py --device opencl --epochs 20

Each training step records the forward pass on a GradientTape, takes the gradients of the
loss with respect to the model's parameters, and lets the optimizer update them in place;
``zyx.realize(loss, model, opt)`` then runs the whole step - forward, backward and update -
as one schedule. The first step compiles its kernels; every later step of the same shape
reuses them.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from tqdm import tqdm

import zyx
import zyx.nn as nn
import zyx.nn.functional as F


def mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Dropout(0.1), nn.Linear(128, 64), nn.ReLU(),
                         nn.Linear(64, 10))


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(32 * 2 * 2, 10)

    def forward(self, x: zyx.Tensor) -> zyx.Tensor:
        x = x.reshape(x.shape[0], 1, 8, 8)
        x = self.pool(self.bn1(self.conv1(x)).relu())  # 16 x 4 x 4
        x = self.pool(self.conv2(x).relu())  # 32 x 2 x 2
        return self.fc(x.reshape(x.shape[0], -1))


def train(name: str, model: nn.Module, data, epochs: int, batch: int, lr: float, device) -> tuple[float, list]:
    x_train, y_train, x_test, y_test = data
    model.to(device)
    opt = zyx.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    steps_per_epoch = len(x_train) // batch
    sched = zyx.optim.OneCycleLR(opt, max_lr=lr, total_steps=epochs * steps_per_epoch)
    rng = np.random.default_rng(0)
    losses = []
    t0 = time.perf_counter()
    bar = tqdm(range(epochs), desc=f"{name:>4}", unit="epoch")
    for _ in bar:
        model.train()
        order = rng.permutation(len(x_train))
        epoch_loss = []
        for s in range(steps_per_epoch):  # drop the last partial batch: every step has one shape
            idx = order[s * batch:(s + 1) * batch]
            xb = zyx.Tensor(x_train[idx], device=device)
            yb = zyx.Tensor(y_train[idx], device=device)
            with zyx.GradientTape() as tape:
                loss = F.cross_entropy(model(xb), yb)
                grads = tape.gradient(loss, model.parameters())
            opt.step(grads, realize=False)
            zyx.realize(loss, model, opt)  # forward, backward and update: one schedule
            sched.step()
            epoch_loss.append(loss.item())
        losses.append(float(np.mean(epoch_loss)))
        bar.set_postfix(loss=f"{losses[-1]:.4f}")
    model.eval()
    logits = model(zyx.Tensor(x_test, device=device))
    acc = float((logits.argmax(1).numpy() == y_test).mean())
    print(f"{name}: test accuracy {acc * 100:.2f}% after {epochs} epochs in {time.perf_counter() - t0:.1f} s")
    return acc, losses


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default=None, help="zyx device (default: zyx's default device)")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--plot", action="store_true", help="save the training losses to digits_loss.png")
    args = ap.parse_args()
    device = zyx.get_device(args.device)
    print(f"device: {device}")
    zyx.manual_seed(0)

    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=0, stratify=y)
    data = (x_train, y_train, x_test, y_test)

    results = {
        "MLP": train("MLP", mlp(), data, args.epochs, args.batch, 3e-3, device),
        "CNN": train("CNN", SmallCNN(), data, args.epochs, args.batch, 1e-2, device),
    }
    if args.plot:
        try:
            import matplotlib
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            print("--plot: matplotlib is not installed; skipping the plot")
        else:
            for name, (_, losses) in results.items():
                plt.plot(range(1, len(losses) + 1), losses, label=name)
            plt.xlabel("epoch")
            plt.ylabel("training loss")
            plt.yscale("log")
            plt.legend()
            plt.savefig("digits_loss.png", dpi=120)
            print("saved digits_loss.png")


if __name__ == "__main__":
    main()
