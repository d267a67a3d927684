"""Parameter initializers, matching PyTorch's ``torch.nn.init`` in distribution.

Each initializer comes in two forms: ``kaiming_uniform(shape, ...)`` returns a new
tensor, and ``kaiming_uniform_(tensor, ...)`` overwrites a tensor in place (its graph
node is rebound, as every in-place operation in zyx does) and realizes it. Random
numbers come from zyx's generator (``zyx.manual_seed``), so values differ from PyTorch's
while the distributions agree.
"""
from __future__ import annotations

import math
from typing import Sequence

from .. import creation
from ..dtypes import DType
from ..tensor import Tensor

Shape = Sequence[int]


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity (PyTorch's table)."""
    linear = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
              "conv_transpose3d", "sigmoid")
    if nonlinearity in linear:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"unsupported nonlinearity {nonlinearity!r}")


def fan_in_and_fan_out(shape: Shape) -> tuple[int, int]:
    """PyTorch's fans: dim 1 (and dim 0) times the receptive field (dims 2+)."""
    shape = tuple(shape)
    if len(shape) < 2:
        raise ValueError(f"fan in and fan out need at least 2 dimensions, got shape {shape}")
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def _fan(shape: Shape, mode: str) -> int:
    fan_in, fan_out = fan_in_and_fan_out(shape)
    if mode == "fan_in":
        return fan_in
    if mode == "fan_out":
        return fan_out
    raise ValueError(f"mode must be 'fan_in' or 'fan_out', not {mode!r}")


# ---------------------------------------------------------------------- new tensors
def uniform(shape: Shape, a: float = 0.0, b: float = 1.0, dtype: DType | None = None, device=None) -> Tensor:
    return creation.uniform(tuple(shape), a, b, dtype=dtype, device=device)


def normal(shape: Shape, mean: float = 0.0, std: float = 1.0, dtype: DType | None = None, device=None) -> Tensor:
    return creation.normal(tuple(shape), mean, std, dtype=dtype, device=device)


def zeros(shape: Shape, dtype: DType | None = None, device=None) -> Tensor:
    return creation.zeros(tuple(shape), dtype=dtype, device=device)


def ones(shape: Shape, dtype: DType | None = None, device=None) -> Tensor:
    return creation.ones(tuple(shape), dtype=dtype, device=device)


def constant(shape: Shape, value: float, dtype: DType | None = None, device=None) -> Tensor:
    return creation.full(tuple(shape), float(value), dtype=dtype, device=device)


def xavier_uniform(shape: Shape, gain: float = 1.0, dtype: DType | None = None, device=None) -> Tensor:
    fan_in, fan_out = fan_in_and_fan_out(shape)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform(shape, -bound, bound, dtype, device)


def xavier_normal(shape: Shape, gain: float = 1.0, dtype: DType | None = None, device=None) -> Tensor:
    fan_in, fan_out = fan_in_and_fan_out(shape)
    return normal(shape, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), dtype, device)


def kaiming_uniform(shape: Shape, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                    dtype: DType | None = None, device=None) -> Tensor:
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(shape, mode))
    bound = math.sqrt(3.0) * std
    return uniform(shape, -bound, bound, dtype, device)


def kaiming_normal(shape: Shape, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                   dtype: DType | None = None, device=None) -> Tensor:
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(shape, mode))
    return normal(shape, 0.0, std, dtype, device)


def torch_default_weight(shape: Shape, dtype: DType | None = None, device=None) -> Tensor:
    """PyTorch's default for Linear and Conv weights: kaiming_uniform with a=sqrt(5),
    i.e. uniform(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    return kaiming_uniform(shape, a=math.sqrt(5), dtype=dtype, device=device)


def torch_default_bias(n: int, fan_in: int, dtype: DType | None = None, device=None) -> Tensor:
    """PyTorch's default bias: uniform(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
    return uniform((n,), -bound, bound, dtype, device)


# ---------------------------------------------------------------------- in place
def _assign(t: Tensor, new: Tensor) -> Tensor:
    if not isinstance(t, Tensor):
        raise TypeError(f"expected a zyx.Tensor, not {type(t).__name__}")
    t._node = new.cast(t.dtype)._node
    t.realize()
    return t


def uniform_(t: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    return _assign(t, uniform(t.shape, a, b, device=t.device))


def normal_(t: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    return _assign(t, normal(t.shape, mean, std, device=t.device))


def zeros_(t: Tensor) -> Tensor:
    return _assign(t, zeros(t.shape, device=t.device))


def ones_(t: Tensor) -> Tensor:
    return _assign(t, ones(t.shape, device=t.device))


def constant_(t: Tensor, value: float) -> Tensor:
    return _assign(t, constant(t.shape, value, device=t.device))


def xavier_uniform_(t: Tensor, gain: float = 1.0) -> Tensor:
    return _assign(t, xavier_uniform(t.shape, gain, device=t.device))


def xavier_normal_(t: Tensor, gain: float = 1.0) -> Tensor:
    return _assign(t, xavier_normal(t.shape, gain, device=t.device))


def kaiming_uniform_(t: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu") -> Tensor:
    return _assign(t, kaiming_uniform(t.shape, a, mode, nonlinearity, device=t.device))


def kaiming_normal_(t: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu") -> Tensor:
    return _assign(t, kaiming_normal(t.shape, a, mode, nonlinearity, device=t.device))
