"""Normalization layers: BatchNorm1d/2d, LayerNorm, GroupNorm, RMSNorm."""
from __future__ import annotations

from .. import dtypes as dt
from ..creation import full, ones, zeros
from ..device import get_device
from ..tensor import Tensor
from . import functional as F
from .module import Buffer, Module


class _BatchNorm(Module):
    _ranks: tuple[int, ...] = ()

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device=None, dtype=None):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        d = dtype or dt.default_float
        self.weight = ones((num_features,), dtype=d, device=device) if affine else None
        self.bias = zeros((num_features,), dtype=d, device=device) if affine else None
        if track_running_stats:
            dev = get_device(device)
            count_dtype = dt.int64 if dev.supports(dt.int64) else dt.int32
            self.running_mean = Buffer(zeros((num_features,), dtype=d, device=device))
            self.running_var = Buffer(ones((num_features,), dtype=d, device=device))
            self.num_batches_tracked = Buffer(full((), 0, dtype=count_dtype, device=device))
        else:
            self.running_mean = Buffer(None)
            self.running_var = Buffer(None)
            self.num_batches_tracked = Buffer(None)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim not in self._ranks:
            raise ValueError(f"{type(self).__name__} expects a {' or '.join(map(str, self._ranks))}-d input, "
                             f"got shape {x.shape}")
        if x.shape[1] != self.num_features:
            raise ValueError(f"{type(self).__name__}({self.num_features}) got an input with {x.shape[1]} channels")
        use_batch = self.training or not self.track_running_stats
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                            training=use_batch, momentum=self.momentum, eps=self.eps,
                            num_batches_tracked=self.num_batches_tracked if self.training else None)

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}"


class BatchNorm1d(_BatchNorm):
    """Batch normalization of (N, C) or (N, C, L) inputs; batch statistics in training
    (updating the running mean and unbiased running variance with PyTorch's momentum),
    running statistics in eval."""
    _ranks = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalization of (N, C, H, W) inputs (see BatchNorm1d)."""
    _ranks = (4,)


class LayerNorm(Module):
    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True, bias: bool = True,
                 device=None, dtype=None):
        super().__init__()
        ns = (int(normalized_shape),) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.normalized_shape, self.eps = ns, eps
        self.weight = ones(ns, dtype=dtype, device=device) if elementwise_affine else None
        self.bias = zeros(ns, dtype=dtype, device=device) if elementwise_affine and bias else None

    def forward(self, x: Tensor) -> Tensor:
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}"


class GroupNorm(Module):
    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True,
                 device=None, dtype=None):
        super().__init__()
        if num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_groups ({num_groups}) must divide num_channels ({num_channels})")
        self.num_groups, self.num_channels, self.eps = num_groups, num_channels, eps
        self.weight = ones((num_channels,), dtype=dtype, device=device) if affine else None
        self.bias = zeros((num_channels,), dtype=dtype, device=device) if affine else None

    def forward(self, x: Tensor) -> Tensor:
        return F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}"


class RMSNorm(Module):
    def __init__(self, normalized_shape, eps: float | None = None, elementwise_affine: bool = True,
                 device=None, dtype=None):
        super().__init__()
        ns = (int(normalized_shape),) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.normalized_shape, self.eps = ns, eps
        self.weight = ones(ns, dtype=dtype, device=device) if elementwise_affine else None

    def forward(self, x: Tensor) -> Tensor:
        return F.rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}"
