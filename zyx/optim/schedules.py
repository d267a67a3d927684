"""Learning-rate schedules: StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR, LinearLR,
LinearWarmup, OneCycleLR - PyTorch's formulas (in closed form).

A schedule writes ``group["lr"]`` (and, for OneCycleLR, the momentum or Adam's beta1)
into the optimizer's parameter groups; the optimizer uploads the new value into its
0-d hyperparameter tensor, so a schedule never causes a recompilation. Call
``scheduler.step()`` after ``optimizer.step(...)``, as in PyTorch."""
from __future__ import annotations

import math
from typing import Sequence

from .optimizers import Optimizer


class LRScheduler:
    """Base class. Subclasses define ``lr_at(base_lr, step)``; ``step()`` advances
    ``last_epoch`` and writes the new learning rates."""

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__} needs a zyx.optim optimizer, not {type(optimizer).__name__}")
        self.optimizer = optimizer
        for g in optimizer.param_groups:
            if last_epoch == -1:
                g.setdefault("initial_lr", g["lr"])
            elif "initial_lr" not in g:
                raise KeyError("resuming a schedule (last_epoch != -1) needs 'initial_lr' in every param group")
        self.base_lrs = [g["initial_lr"] for g in optimizer.param_groups]
        self.last_epoch = last_epoch
        self.step()

    def lr_at(self, base_lr: float, step: int) -> float:
        raise NotImplementedError

    def get_lr(self) -> list[float]:
        return [self.lr_at(b, self.last_epoch) for b in self.base_lrs]

    def step(self) -> None:
        self.last_epoch += 1
        lrs = self.get_lr()
        for g, lr in zip(self.optimizer.param_groups, lrs):
            g["lr"] = lr
        self._last_lr = list(lrs)

    def get_last_lr(self) -> list[float]:
        return list(self._last_lr)

    def state_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state: dict) -> None:
        self.__dict__.update(state)


def _at_least_one(name: str, value: int) -> int:
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return value


class _DecayLR(LRScheduler):
    """``lr = base_lr * gamma ** decays(step)``: subclasses say how many decays a step has seen."""
    gamma: float

    def decays(self, step: int) -> int:
        raise NotImplementedError

    def lr_at(self, base_lr, step):
        return base_lr * self.gamma ** self.decays(step)


class StepLR(_DecayLR):
    """``lr = base_lr * gamma ** (step // step_size)``."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1):
        self.step_size, self.gamma = _at_least_one("step_size", step_size), gamma
        super().__init__(optimizer, last_epoch)

    def decays(self, step: int) -> int:
        return step // self.step_size


class MultiStepLR(_DecayLR):
    """``lr = base_lr * gamma ** (number of milestones <= step)``."""

    def __init__(self, optimizer: Optimizer, milestones: Sequence[int], gamma: float = 0.1, last_epoch: int = -1):
        self.milestones, self.gamma = sorted(milestones), gamma
        super().__init__(optimizer, last_epoch)

    def decays(self, step: int) -> int:
        return sum(1 for m in self.milestones if m <= step)


class ExponentialLR(_DecayLR):
    """``lr = base_lr * gamma ** step``."""

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1):
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def decays(self, step: int) -> int:
        return step


class CosineAnnealingLR(LRScheduler):
    """``lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * step / T_max)) / 2``."""

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1):
        self.T_max, self.eta_min = _at_least_one("T_max", T_max), eta_min
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr, step):
        return self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * step / self.T_max)) / 2


class LinearLR(LRScheduler):
    """Scale the learning rate linearly from ``start_factor`` to ``end_factor`` over
    ``total_iters`` steps, then keep ``end_factor``."""

    def __init__(self, optimizer: Optimizer, start_factor: float = 1.0 / 3, end_factor: float = 1.0,
                 total_iters: int = 5, last_epoch: int = -1):
        if not 0 < start_factor <= 1 or not 0 <= end_factor <= 1:
            raise ValueError("start_factor must be in (0, 1] and end_factor in [0, 1]")
        self.start_factor, self.end_factor, self.total_iters = start_factor, end_factor, total_iters
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr, step):
        if self.total_iters <= 0:
            return base_lr * self.end_factor
        frac = min(step, self.total_iters) / self.total_iters
        return base_lr * (self.start_factor + (self.end_factor - self.start_factor) * frac)


class LinearWarmup(LRScheduler):
    """Warm up linearly: ``lr = base_lr * min(1, (step + 1) / warmup_steps)`` - the first
    step trains at ``base_lr / warmup_steps``, step ``warmup_steps - 1`` and later at
    ``base_lr``."""

    def __init__(self, optimizer: Optimizer, warmup_steps: int, last_epoch: int = -1):
        _at_least_one("warmup_steps", warmup_steps)
        self.warmup_steps = warmup_steps
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr, step):
        return base_lr * min(1.0, (step + 1) / self.warmup_steps)


class OneCycleLR(LRScheduler):
    """The 1cycle policy as ``torch.optim.lr_scheduler.OneCycleLR``: the learning rate
    rises from ``max_lr / div_factor`` to ``max_lr`` over ``pct_start`` of the steps, then
    anneals to ``initial_lr / final_div_factor`` (``three_phase``: back to the initial
    rate first); momentum (or Adam's beta1) cycles inversely between ``max_momentum``
    and ``base_momentum``."""

    def __init__(self, optimizer: Optimizer, max_lr: float | Sequence[float], total_steps: int | None = None,
                 epochs: int | None = None, steps_per_epoch: int | None = None, pct_start: float = 0.3,
                 anneal_strategy: str = "cos", cycle_momentum: bool = True, base_momentum: float = 0.85,
                 max_momentum: float = 0.95, div_factor: float = 25.0, final_div_factor: float = 1e4,
                 three_phase: bool = False, last_epoch: int = -1):
        if total_steps is None:
            if epochs is None or steps_per_epoch is None:
                raise ValueError("OneCycleLR needs total_steps, or epochs and steps_per_epoch")
            total_steps = epochs * steps_per_epoch
        if total_steps <= 0:
            raise ValueError(f"total_steps must be positive, got {total_steps}")
        if not 0 <= pct_start <= 1:
            raise ValueError(f"pct_start must be in [0, 1], got {pct_start}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"anneal_strategy must be 'cos' or 'linear', not {anneal_strategy!r}")
        self.total_steps, self.anneal_strategy, self.cycle_momentum = total_steps, anneal_strategy, cycle_momentum
        groups = optimizer.param_groups
        max_lrs = list(max_lr) if isinstance(max_lr, (list, tuple)) else [max_lr] * len(groups)
        if len(max_lrs) != len(groups):
            raise ValueError(f"expected {len(groups)} max_lr values, got {len(max_lrs)}")
        if three_phase:
            self._phases = [
                (float(pct_start * total_steps) - 1, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                (float(2 * pct_start * total_steps) - 2, "max_lr", "initial_lr", "base_momentum", "max_momentum"),
                (total_steps - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum")]
        else:
            self._phases = [
                (float(pct_start * total_steps) - 1, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                (total_steps - 1, "max_lr", "min_lr", "base_momentum", "max_momentum")]
        self._use_betas = "betas" in optimizer.defaults
        if cycle_momentum and not self._use_betas and "momentum" not in optimizer.defaults:
            raise ValueError("cycle_momentum needs an optimizer with 'momentum' or 'betas'")
        if last_epoch == -1:
            for g, m in zip(groups, max_lrs):
                g["initial_lr"] = m / div_factor
                g["max_lr"] = m
                g["min_lr"] = g["initial_lr"] / final_div_factor
                if cycle_momentum:
                    g["max_momentum"], g["base_momentum"] = max_momentum, base_momentum
                    self._set_momentum(g, max_momentum)
        super().__init__(optimizer, last_epoch)

    def _set_momentum(self, g: dict, m: float) -> None:
        if self._use_betas:
            g["betas"] = (m, g["betas"][1])
        else:
            g["momentum"] = m

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def step(self) -> None:
        self.last_epoch += 1
        t = self.last_epoch
        if t > self.total_steps:
            raise ValueError(f"OneCycleLR stepped {t} times, more than total_steps={self.total_steps}")
        lrs = []
        for g in self.optimizer.param_groups:
            start = 0.0
            for i, (end, lr0, lr1, m0, m1) in enumerate(self._phases):
                if t <= end or i == len(self._phases) - 1:
                    pct = (t - start) / (end - start)
                    lr = self._anneal(g[lr0], g[lr1], pct)
                    if self.cycle_momentum:
                        self._set_momentum(g, self._anneal(g[m0], g[m1], pct))
                    break
                start = end
            g["lr"] = lr
            lrs.append(lr)
        self._last_lr = lrs


__all__ = ["LRScheduler", "StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR", "LinearLR", "LinearWarmup",
           "OneCycleLR"]
