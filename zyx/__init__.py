"""zyx: lazy, fused, differentiable arrays for any accelerator.

    import zyx
    x = zyx.Tensor.randn((1024, 1024))
    y = ((x * 2 + 1).exp() * x).sum()   # builds a graph; nothing has run yet
    print(float(y))                      # schedules, fuses, compiles, runs

See README.md and docs/ARCHITECTURE.md.
"""
from __future__ import annotations

import typing as _typing

# zyx.tensor first: it imports the modules of Tensor's bases (_math, _reduce, _movement,
# creation) before it defines the class, and hands them the class after
from .tensor import AxisError, Tensor, TensorLike, broadcast_shapes
from . import _math, _movement, _reduce, creation
from . import debug
from .creation import (arange, empty, empty_like, eye, from_numpy, full, full_like, linspace,
                       manual_seed, ones, ones_like, rand, randint, randn, uniform, zeros, zeros_like,
                       normal)
from .device import (Device, DeviceUnavailable, available_devices, get_device, memory_stats, set_default_device,
                     default_device)
from .dtypes import (DType, bfloat16, bool_, complex64, complex128, float16, float32, float64, int8, int16,
                     int32, int64, uint8, uint16, uint32, uint64, get_default_float, set_default_float)
from . import realize as _engine  # the module; the public name zyx.realize is the function below
from .tensor import realize as _realize


class _RealizeFunction(_typing.Protocol):
    """The type of ``zyx.realize``: the function, with the engine's controls on it."""
    stats: _typing.Any
    clear_cache: _typing.Callable[..., _typing.Any]
    specialization: _typing.Callable[..., _typing.Any]
    set_specialization: _typing.Callable[..., _typing.Any]
    wait_compiles: _typing.Callable[..., _typing.Any]

    def __call__(self, *items: _typing.Any) -> None: ...


realize = _typing.cast(_RealizeFunction, _realize)

# `zyx.realize(...)` realizes tensors; `zyx.realize.stats`, `zyx.realize.clear_cache()` and the
# specialization policy reach the engine's counters, schedule cache and compile policy (also importable as `from zyx.realize import
# stats`, since the module keeps its name in sys.modules).
realize.stats = _engine.stats
realize.clear_cache = _engine.clear_cache
realize.specialization = _engine.specialization  # with zyx.realize.specialization("always"): ...
realize.set_specialization = _engine.set_specialization
realize.wait_compiles = _engine.wait_compiles

from .autograd import GradientTape, no_grad  # noqa: E402 - builds on Tensor
from . import nn, optim  # noqa: E402 - zyx.nn / zyx.optim build on the above

bool = bool_  # noqa: A001 - the dtype, as in NumPy's namespace
cat = _movement.cat
stack = _movement.stack
where = _math.where


def realize_all() -> None:
    """Realize every unrealized tensor that is still referenced."""
    from .realize import realize_all as _ra
    _ra()


def __getattr__(name: str):
    # `xp = zyx.array_api` right after `import zyx`: the namespace is imported on first use
    if name == "array_api":
        import importlib
        return importlib.import_module(".array_api", __name__)
    raise AttributeError(f"module 'zyx' has no attribute {name!r}")


__version__ = "0.1.0"

__all__ = [
    "Tensor", "TensorLike", "DType", "Device", "realize", "realize_all", "manual_seed", "zeros", "ones", "full", "empty",
    "arange", "linspace", "eye", "zeros_like", "ones_like", "full_like", "empty_like", "rand", "randn",
    "uniform", "randint", "normal", "from_numpy", "cat", "stack", "where", "get_device", "available_devices",
    "set_default_device", "default_device", "bool_", "int8", "int16", "int32", "int64", "uint8", "uint16",
    "uint32", "uint64", "float16", "bfloat16", "float32", "float64", "complex64", "complex128",
    "broadcast_shapes", "AxisError", "DeviceUnavailable", "debug", "GradientTape", "no_grad", "memory_stats",
    "set_default_float", "get_default_float",
]
