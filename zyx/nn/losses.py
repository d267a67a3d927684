"""Loss functions (``mse_loss``...) and their modules (``MSELoss``...), with PyTorch's
conventions for arguments, reductions and edge cases."""
from __future__ import annotations

from .._math import where
from ..creation import arange
from ..tensor import Tensor
from .module import Buffer, Module

_REDUCTIONS = ("none", "mean", "sum")


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"reduction must be one of {_REDUCTIONS}, not {reduction!r}")


def _check_pair(input: Tensor, target: Tensor, name: str) -> tuple[Tensor, Tensor]:
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}: input must be a zyx.Tensor, not {type(input).__name__}")
    if not isinstance(target, Tensor):
        target = Tensor(target, dtype=input.dtype, device=input.device)
    if target.shape != input.shape:
        raise ValueError(f"{name}: target shape {target.shape} differs from input shape {input.shape}")
    if not input.dtype.is_float:
        raise TypeError(f"{name}: input must be floating point, got {input.dtype.name}")
    if target.dtype is not input.dtype:
        target = target.cast(input.dtype)
    return input, target


def mse_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    input, target = _check_pair(input, target, "mse_loss")
    d = input - target
    return _reduce(d * d, reduction)


def l1_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    input, target = _check_pair(input, target, "l1_loss")
    return _reduce((input - target).abs(), reduction)


def smooth_l1_loss(input: Tensor, target: Tensor, reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """``0.5 d^2 / beta`` where ``|d| < beta``, else ``|d| - 0.5 beta`` (beta=0: L1)."""
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be >= 0, got {beta}")
    input, target = _check_pair(input, target, "smooth_l1_loss")
    d = (input - target).abs()
    if beta == 0:
        return _reduce(d, reduction)
    return _reduce(where(d < beta, d * d * (0.5 / beta), d - 0.5 * beta), reduction)


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0) -> Tensor:
    """``0.5 d^2`` where ``|d| < delta``, else ``delta (|d| - 0.5 delta)``."""
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be > 0, got {delta}")
    input, target = _check_pair(input, target, "huber_loss")
    d = (input - target).abs()
    return _reduce(where(d < delta, d * d * 0.5, (d - 0.5 * delta) * delta), reduction)


def _class_shape(input: Tensor, weight: Tensor | None, name: str) -> tuple[int, int, tuple]:
    """(class axis, number of classes, shape that broadcasts a per-class vector)."""
    if input.ndim == 0:
        raise ValueError(f"{name}: input must have a class axis, got a 0-d tensor")
    axis = 0 if input.ndim == 1 else 1
    c = input.shape[axis]
    if weight is not None and weight.shape != (c,):
        raise ValueError(f"{name}: weight must have shape ({c},), got {weight.shape}")
    bshape = tuple(c if i == axis else 1 for i in range(input.ndim))
    return axis, c, bshape


def _nll_parts(logp: Tensor, target: Tensor, weight: Tensor | None, ignore_index: int, name: str):
    """Per-element ``-w[t] * logp[t]`` and ``w[t]`` (0 where ignored), plus the one-hot mask."""
    axis, c, bshape = _class_shape(logp, weight, name)
    expected = logp.shape[:axis] + logp.shape[axis + 1:]
    if target.shape != expected:
        raise ValueError(f"{name}: target shape {target.shape} does not match input shape {logp.shape} "
                         f"(expected {expected})")
    classes = arange(c, dtype=target.dtype, device=logp.device).reshape(bshape)
    hit = target.unsqueeze(axis) == classes  # one-hot; all False for ignore_index
    valid = target != ignore_index
    hit = hit.logical_and(valid.unsqueeze(axis))
    wl = logp if weight is None else logp * weight.reshape(bshape)
    loss = -where(hit, wl, 0.0).sum(axis=axis)
    if weight is None:
        w = valid.cast(logp.dtype)
    else:
        w = where(hit, weight.reshape(bshape).cast(logp.dtype), 0.0).sum(axis=axis)
    return loss, w, valid, axis, c, bshape


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, ignore_index: int = -100,
             reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of class indices ``target`` under log-probabilities
    ``input`` (classes on axis 1, or 0 for a 1-d input). ``mean`` divides by the summed
    weights of the non-ignored targets, as PyTorch."""
    if not isinstance(target, Tensor) or target.dtype.kind not in "iu":
        raise TypeError("nll_loss: target must be an integer tensor of class indices")
    loss, w, _, _, _, _ = _nll_parts(input, target, weight, ignore_index, "nll_loss")
    if reduction == "mean":
        return loss.sum() / w.sum()
    return _reduce(loss, reduction)


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None, ignore_index: int = -100,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Cross entropy of logits ``input`` (classes on axis 1, or 0 for a 1-d input) with
    ``target`` given as class indices (integer tensor) or as class probabilities (float
    tensor of the input's shape), with PyTorch's ``weight``, ``ignore_index``,
    ``label_smoothing`` and ``reduction``."""
    if not isinstance(input, Tensor):
        raise TypeError(f"cross_entropy: input must be a zyx.Tensor, not {type(input).__name__}")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, not {reduction!r}")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing}")
    if not isinstance(target, Tensor):
        target = Tensor(target, device=input.device)
    axis, c, bshape = _class_shape(input, weight, "cross_entropy")
    logp = input.log_softmax(axis)
    if target.dtype.is_float:  # class probabilities
        if target.shape != input.shape:
            raise ValueError(f"cross_entropy: probability targets need the input's shape {input.shape}, "
                             f"got {target.shape}")
        t = target.cast(logp.dtype)
        if label_smoothing > 0:
            t = t * (1 - label_smoothing) + label_smoothing / c
        wl = logp if weight is None else logp * weight.reshape(bshape)
        loss = -(wl * t).sum(axis=axis)
        if reduction == "mean":
            return loss.sum() / (input.size // c)
        return _reduce(loss, reduction)
    if target.dtype.kind not in "iu":
        raise TypeError(f"cross_entropy: target must hold class indices (integers) or probabilities (floats), "
                        f"not {target.dtype.name}")
    loss, w, valid, axis, c, bshape = _nll_parts(logp, target, weight, ignore_index, "cross_entropy")
    if label_smoothing > 0:
        wl = logp if weight is None else logp * weight.reshape(bshape)
        smooth = where(valid, -wl.sum(axis=axis), 0.0)
        if reduction == "mean":
            denom = w.sum()
            return (loss.sum() * (1 - label_smoothing) + smooth.sum() * (label_smoothing / c)) / denom
        return _reduce(loss * (1 - label_smoothing) + smooth * (label_smoothing / c), reduction)
    if reduction == "mean":
        return loss.sum() / w.sum()
    return _reduce(loss, reduction)


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                         reduction: str = "mean") -> Tensor:
    """BCE of probabilities; each log is clamped at -100 as in PyTorch, so 0 and 1 give
    finite losses."""
    input, target = _check_pair(input, target, "binary_cross_entropy")
    log_p = input.log().clip(min=-100.0)
    log_q = (1 - input).log().clip(min=-100.0)
    loss = -(target * log_p + (1 - target) * log_q)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                     reduction: str = "mean", pos_weight: Tensor | None = None) -> Tensor:
    """BCE of ``sigmoid(input)`` computed from the logits without overflow:
    ``(1 - t) x + (1 + (pw - 1) t) (log1p(exp(-|x|)) + max(-x, 0))``."""
    input, target = _check_pair(input, target, "binary_cross_entropy_with_logits")
    softplus_neg = (-input.abs()).exp().log1p() + (-input).relu()  # log(1 + exp(-x))
    if pos_weight is None:
        loss = (1 - target) * input + softplus_neg
    else:
        loss = (1 - target) * input + (1 + (pos_weight - 1) * target) * softplus_neg
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def kl_div(input: Tensor, target: Tensor, reduction: str = "mean", log_target: bool = False) -> Tensor:
    """KL divergence with ``input`` as log-probabilities; ``target`` as probabilities (or
    log-probabilities with ``log_target``). ``reduction='batchmean'`` divides the sum by
    the batch size (the mathematically correct KL); 'mean' averages over elements."""
    input, target = _check_pair(input, target, "kl_div")
    if log_target:
        loss = target.exp() * (target - input)
    else:
        loss = where(target > 0, target * where(target > 0, target, 1.0).log(), 0.0) - target * input
    if reduction == "batchmean":
        return loss.sum() / (input.shape[0] if input.ndim else 1)
    return _reduce(loss, reduction)


def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                          reduction: str = "mean") -> Tensor:
    """``1 - cos(x1, x2)`` where target is 1, ``max(0, cos - margin)`` where it is -1."""
    input1, input2 = _check_pair(input1, input2, "cosine_embedding_loss")
    if input1.ndim not in (1, 2):
        raise ValueError(f"cosine_embedding_loss expects 1-d or 2-d inputs, got {input1.shape}")
    if not isinstance(target, Tensor):
        target = Tensor(target, device=input1.device)
    if target.shape != input1.shape[:-1]:
        raise ValueError(f"cosine_embedding_loss: target shape {target.shape} must be {input1.shape[:-1]}")
    eps = 1e-12
    prod = (input1 * input2).sum(-1)
    m1 = (input1 * input1).sum(-1) + eps
    m2 = (input2 * input2).sum(-1) + eps
    cos = prod / (m1 * m2).sqrt()
    loss = where(target == 1, 1 - cos, 0.0) + where(target == -1, (cos - margin).relu(), 0.0)
    return _reduce(loss, reduction)


# ---------------------------------------------------------------------- modules
class _Loss(Module):
    def __init__(self, reduction: str = "mean"):
        super().__init__()
        if reduction not in _REDUCTIONS + ("batchmean",):
            raise ValueError(f"reduction must be one of {_REDUCTIONS}, not {reduction!r}")
        self.reduction = reduction

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class MSELoss(_Loss):
    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return mse_loss(input, target, self.reduction)


class L1Loss(_Loss):
    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return l1_loss(input, target, self.reduction)


class SmoothL1Loss(_Loss):
    def __init__(self, reduction: str = "mean", beta: float = 1.0):
        super().__init__(reduction)
        self.beta = beta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return smooth_l1_loss(input, target, self.reduction, self.beta)


class HuberLoss(_Loss):
    def __init__(self, reduction: str = "mean", delta: float = 1.0):
        super().__init__(reduction)
        self.delta = delta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return huber_loss(input, target, self.reduction, self.delta)


class _WeightedLoss(_Loss):
    def __init__(self, weight: Tensor | None = None, reduction: str = "mean"):
        super().__init__(reduction)
        self.weight = Buffer(weight)


class CrossEntropyLoss(_WeightedLoss):
    def __init__(self, weight: Tensor | None = None, ignore_index: int = -100, reduction: str = "mean",
                 label_smoothing: float = 0.0):
        super().__init__(weight, reduction)
        self.ignore_index, self.label_smoothing = ignore_index, label_smoothing

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return cross_entropy(input, target, self.weight, self.ignore_index, self.reduction, self.label_smoothing)


class NLLLoss(_WeightedLoss):
    def __init__(self, weight: Tensor | None = None, ignore_index: int = -100, reduction: str = "mean"):
        super().__init__(weight, reduction)
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return nll_loss(input, target, self.weight, self.ignore_index, self.reduction)


class BCELoss(_WeightedLoss):
    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return binary_cross_entropy(input, target, self.weight, self.reduction)


class BCEWithLogitsLoss(_WeightedLoss):
    def __init__(self, weight: Tensor | None = None, reduction: str = "mean", pos_weight: Tensor | None = None):
        super().__init__(weight, reduction)
        self.pos_weight = Buffer(pos_weight)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return binary_cross_entropy_with_logits(input, target, self.weight, self.reduction, self.pos_weight)


class KLDivLoss(_Loss):
    def __init__(self, reduction: str = "mean", log_target: bool = False):
        super().__init__(reduction)
        self.log_target = log_target

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return kl_div(input, target, self.reduction, self.log_target)


class CosineEmbeddingLoss(_Loss):
    def __init__(self, margin: float = 0.0, reduction: str = "mean"):
        super().__init__(reduction)
        self.margin = margin

    def forward(self, input1: Tensor, input2: Tensor, target: Tensor) -> Tensor:
        return cosine_embedding_loss(input1, input2, target, self.margin, self.reduction)

