"""Convolution and pooling modules (the computations are in ``functional``)."""
from __future__ import annotations

import math

from ..tensor import Tensor
from . import functional as F
from . import init
from .module import Module


class _ConvBase(Module):
    """What a convolution and a transposed one share: argument checks, the tuples, and a
    weight of PyTorch's layout and initialization (``(out, in / groups, *k)`` for a
    convolution, ``(in, out / groups, *k)`` for a transposed one)."""
    _n = 2
    _repr_tail: tuple[str, ...] = ()  # the attributes repr shows after the padding
    padding: tuple[int, ...] | str  # set by the subclass ("same" / "valid" for a convolution)

    def _setup(self, in_channels: int, out_channels: int, groups: int, padding_mode: str, kernel_size, stride,
               dilation, bias: bool, transposed: bool, device, dtype) -> None:
        n = self._n
        if padding_mode != "zeros":
            raise ValueError(f"padding_mode {padding_mode!r} is not supported (only 'zeros')")
        if groups < 1 or in_channels % groups or out_channels % groups:
            raise ValueError(f"groups={groups} must divide in_channels ({in_channels}) and out_channels "
                             f"({out_channels})")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = F._tuple(kernel_size, n, "kernel_size")
        self.stride = F._tuple(stride, n, "stride")
        self.dilation = F._tuple(dilation, n, "dilation")
        lead, grouped = (in_channels, out_channels) if transposed else (out_channels, in_channels)
        self.weight = init.torch_default_weight((lead, grouped // groups) + self.kernel_size, dtype, device)
        fan_in = grouped // groups * math.prod(self.kernel_size)  # PyTorch's fan of this weight layout
        self.bias = init.torch_default_bias(out_channels, fan_in, dtype, device) if bias else None

    def extra_repr(self) -> str:
        tail = "".join(f", {name}={getattr(self, name)}" for name in self._repr_tail)
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}{tail}")


class _ConvNd(_ConvBase):
    _repr_tail = ("dilation", "groups")

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", device=None, dtype=None):
        super().__init__()
        self._setup(in_channels, out_channels, groups, padding_mode, kernel_size, stride, dilation, bias, False,
                    device, dtype)
        self.padding = padding if isinstance(padding, str) else F._tuple(padding, self._n, "padding")

    def forward(self, x: Tensor) -> Tensor:
        return F.conv(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


class Conv1d(_ConvNd):
    _n = 1


class Conv2d(_ConvNd):
    _n = 2


class _ConvTransposeNd(_ConvBase):
    _repr_tail = ("output_padding",)
    padding: tuple[int, ...]

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 output_padding=0, groups: int = 1, bias: bool = True, dilation=1, padding_mode: str = "zeros",
                 device=None, dtype=None):
        super().__init__()
        self._setup(in_channels, out_channels, groups, padding_mode, kernel_size, stride, dilation, bias, True,
                    device, dtype)
        self.padding = F._tuple(padding, self._n, "padding")
        self.output_padding = F._tuple(output_padding, self._n, "output_padding")

    def forward(self, x: Tensor) -> Tensor:
        return F.conv_transpose(x, self.weight, self.bias, self.stride, self.padding, self.output_padding,
                                self.groups, self.dilation)


class ConvTranspose1d(_ConvTransposeNd):
    _n = 1


class ConvTranspose2d(_ConvTransposeNd):
    _n = 2


class _PoolNd(Module):
    """A pooling window's size, stride and padding, shown by ``repr``."""
    _n = 2

    def __init__(self, kernel_size, stride, padding):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class _MaxPoolNd(_PoolNd):
    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices: bool = False,
                 ceil_mode: bool = False):
        if return_indices:
            raise NotImplementedError("max pooling with return_indices is not supported by zyx")
        super().__init__(kernel_size, stride, padding)
        self.dilation, self.ceil_mode = dilation, ceil_mode

    def forward(self, x: Tensor) -> Tensor:
        return F._max_pool(x, self._n, self.kernel_size, self.stride, self.padding, self.dilation,
                           self.ceil_mode, False)


class MaxPool1d(_MaxPoolNd):
    _n = 1


class MaxPool2d(_MaxPoolNd):
    _n = 2


class _AvgPoolNd(_PoolNd):
    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override: int | None = None):
        super().__init__(kernel_size, stride, padding)
        self.ceil_mode, self.count_include_pad, self.divisor_override = ceil_mode, count_include_pad, divisor_override

    def forward(self, x: Tensor) -> Tensor:
        return F._avg_pool(x, self._n, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                           self.count_include_pad, self.divisor_override)


class AvgPool1d(_AvgPoolNd):
    _n = 1


class AvgPool2d(_AvgPoolNd):
    _n = 2


class AdaptiveAvgPool2d(Module):
    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, x: Tensor) -> Tensor:
        return F.adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"
