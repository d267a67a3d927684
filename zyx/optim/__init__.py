"""``zyx.optim``: optimizers that update parameter tensors in place, and learning-rate
schedules. See ``optimizers.py`` for why training steps after the first compile nothing."""
from __future__ import annotations

from .optimizers import SGD, Adagrad, Adam, AdamW, Optimizer, RMSprop
from .schedules import (CosineAnnealingLR, ExponentialLR, LinearLR, LinearWarmup, LRScheduler, MultiStepLR,
                        OneCycleLR, StepLR)

from . import schedules as lr_scheduler  # noqa: E402 - PyTorch's module name

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "LRScheduler", "StepLR", "MultiStepLR",
           "ExponentialLR", "CosineAnnealingLR", "LinearLR", "LinearWarmup", "OneCycleLR", "lr_scheduler"]
