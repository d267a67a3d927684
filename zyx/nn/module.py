"""``zyx.nn.Module``: a container of tensors that finds them by itself.

A module's *parameters* are the floating-point ``zyx.Tensor`` values in its attributes -
directly, inside lists, tuples and dicts (nested to any depth), and inside child modules.
There is no ``Parameter`` class and no ``requires_grad``: every tensor is differentiable,
and a ``GradientTape`` takes gradients with respect to any of them.

*Buffers* are tensors that belong to the module's state but are not trained (BatchNorm's
running statistics). Mark them by assigning ``zyx.nn.Buffer(tensor)`` or calling
``register_buffer(name, tensor)``; integer and boolean tensors are always buffers. Both
appear in ``state_dict()``; only parameters appear in ``parameters()``.

Discovery never skips a container silently: a tensor inside a container type the walk
does not understand (a ``set``, a ``deque``, an arbitrary object) raises ``TypeError``
naming the attribute, so a forgotten parameter cannot go untrained.

Names are dotted like PyTorch's (``layers.0.weight``), so a PyTorch ``state_dict`` (as
NumPy arrays) loads into the equivalent zyx module.
"""
from __future__ import annotations

import collections
import types
from collections.abc import Iterator, Mapping
from typing import Any, Callable

import numpy as np

from ..device import Device, get_device
from ..tensor import Tensor

# attributes that hold the module's own bookkeeping, never searched for tensors
_INTERNAL = frozenset({"training", "_buffer_names", "_zyx_ready"})


class Buffer:
    """Marks a tensor assigned to a module attribute as a buffer (state, not a parameter)::

        self.running_mean = zyx.nn.Buffer(zyx.zeros(n))

    The attribute then holds the plain tensor. ``persistent=False`` keeps it out of
    ``state_dict()``."""

    __slots__ = ("tensor", "persistent")

    def __init__(self, tensor: Any, persistent: bool = True):
        self.tensor = tensor if isinstance(tensor, Tensor) or tensor is None else Tensor(tensor)
        self.persistent = bool(persistent)


class Module:
    """Base class of layers and models. Subclasses set tensors and submodules as
    attributes in ``__init__`` and define ``forward``; calling the module runs
    ``forward``. See the module docstring for how tensors are found."""

    training: bool = True

    def __init__(self) -> None:
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_buffer_names", {})
        object.__setattr__(self, "_zyx_ready", False)

    # ------------------------------------------------------------------ attributes
    def __setattr__(self, name: str, value: Any) -> None:
        if "_buffer_names" not in self.__dict__:
            object.__setattr__(self, "_buffer_names", {})
        if isinstance(value, Buffer):
            self._buffer_names[name] = value.persistent
            value = value.tensor
        if isinstance(value, (Tensor, Module, list, tuple, dict)):
            object.__setattr__(self, "_zyx_ready", False)
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        self.__dict__.get("_buffer_names", {}).pop(name, None)
        object.__delattr__(self, name)

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Set attribute ``name`` to ``tensor`` as a buffer (see ``Buffer``)."""
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"register_buffer: {name!r} is not a valid attribute name")
        setattr(self, name, Buffer(tensor, persistent))

    # ------------------------------------------------------------------ calling
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args, **kwargs):
        if not self.__dict__.get("_zyx_ready", False):
            # realize freshly initialized tensors once, in one schedule, so that every
            # forward pass reads buffers instead of recomputing the initializers
            from ..tensor import realize
            realize(self)
            object.__setattr__(self, "_zyx_ready", True)
        return self.forward(*args, **kwargs)

    # ------------------------------------------------------------------ discovery
    def _walk(self, prefix: str = "", seen_modules: set | None = None) -> Iterator[tuple[str, Tensor, str]]:
        """Yield ``(dotted name, tensor, kind)`` for every tensor of this module and its
        children; kind is "param", "buffer" or "buffer-np" (non-persistent buffer)."""
        seen_modules = set() if seen_modules is None else seen_modules
        if id(self) in seen_modules:
            return
        seen_modules.add(id(self))
        buffers = self.__dict__.get("_buffer_names", {})
        for name, value in list(self.__dict__.items()):
            if name in _INTERNAL:
                continue
            if name in buffers:
                if isinstance(value, Tensor):
                    yield prefix + name, value, "buffer" if buffers[name] else "buffer-np"
                continue
            yield from _walk_value(value, prefix + name, name, seen_modules)

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, "Module"]]:
        """This module (name ``prefix``) and every submodule, depth first, each once."""
        seen: set[int] = set()

        def visit(m: Module, p: str):
            if id(m) in seen:
                return
            seen.add(id(m))
            yield p, m
            for name, sub in m.named_children():
                yield from visit(sub, (p + "." if p else "") + name)
        yield from visit(self, prefix)

    def modules(self) -> Iterator["Module"]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, "Module"]]:
        """Direct submodules (inside attributes, lists, tuples and dicts)."""
        for name, value in self.__dict__.items():
            if name not in _INTERNAL:
                yield from _submodules(value, name)

    def children(self) -> Iterator["Module"]:
        for _, m in self.named_children():
            yield m

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Tensor]]:
        """``(dotted name, tensor)`` for each parameter; a tensor reachable under several
        names (tied weights) is listed once, under the first."""
        seen: set[int] = set()
        base = prefix + "." if prefix else ""
        for name, t, kind in self._walk(base):
            if kind == "param" and id(t) not in seen:
                seen.add(id(t))
                yield name, t

    def parameters(self) -> list[Tensor]:
        """The parameter tensors (each once), in a stable order: the order optimizers
        and ``opt.step(grads)`` use."""
        return [t for _, t in self.named_parameters()]

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, Tensor]]:
        seen: set[int] = set()
        base = prefix + "." if prefix else ""
        for name, t, kind in self._walk(base):
            if kind != "param" and id(t) not in seen:
                seen.add(id(t))
                yield name, t

    def buffers(self) -> list[Tensor]:
        return [t for _, t in self.named_buffers()]

    def num_parameters(self) -> int:
        """Total number of parameter elements."""
        return sum(t.size for t in self.parameters())

    def _zyx_tensors(self) -> list[Tensor]:
        """Every parameter and buffer: ``zyx.realize(model)`` realizes them in one schedule."""
        return [t for _, t, _ in self._walk()]

    # ------------------------------------------------------------------ modes and devices
    def train(self, mode: bool = True) -> "Module":
        """Training mode (dropout active, batch statistics) for this module and every
        submodule; returns self."""
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self) -> "Module":
        """Evaluation mode: ``train(False)``."""
        return self.train(False)

    def to(self, device: Device | str) -> "Module":
        """Move every parameter and buffer to ``device``, in place (the tensor objects an
        optimizer holds follow); returns self."""
        dev = get_device(device)
        for _, t, _ in self._walk():
            if t.device != dev:
                t._node = t.to(dev)._node
        return self

    def apply(self, fn: Callable[["Module"], None]) -> "Module":
        """Call ``fn`` on every submodule, then on self (as PyTorch); returns self."""
        for m in reversed(list(self.modules())):
            fn(m)
        return self

    # ------------------------------------------------------------------ state
    def state_dict(self) -> "collections.OrderedDict[str, Tensor]":
        """Every parameter and persistent buffer by dotted name. The values are
        snapshots: later updates (an optimizer step) do not change them."""
        out: collections.OrderedDict[str, Tensor] = collections.OrderedDict()
        for name, t, kind in self._walk():
            if kind != "buffer-np":
                out[name] = Tensor._wrap(t._node)
        return out

    def load_state_dict(self, state: Mapping[str, Any], strict: bool = True) -> tuple[list[str], list[str]]:
        """Copy values into this module's tensors, in place.

        ``state`` maps dotted names to zyx tensors or array-likes (NumPy arrays, or
        anything ``np.asarray`` takes, e.g. a PyTorch tensor). Each value must have the
        target's shape (ValueError) and dtype (TypeError; cast it first if you mean to).
        With ``strict`` (default) missing or unexpected keys raise ValueError listing
        them; otherwise they are skipped. Returns ``(missing, unexpected)``."""
        if not isinstance(state, Mapping):
            raise TypeError(f"load_state_dict expects a mapping of names to tensors, not {type(state).__name__}")
        own = collections.OrderedDict((n, t) for n, t, k in self._walk() if k != "buffer-np")
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        if strict and (missing or unexpected):
            parts = []
            if missing:
                parts.append(f"missing keys: {', '.join(missing)}")
            if unexpected:
                parts.append(f"unexpected keys: {', '.join(map(str, unexpected))}")
            raise ValueError(f"load_state_dict for {type(self).__name__}: " + "; ".join(parts))
        updates = []
        for name, target in own.items():
            if name not in state:
                continue
            value = _as_tensor(state[name], target, name)
            updates.append((target, value))
        for target, value in updates:  # all checked first: a failed load changes nothing
            target._node = value._node
        from ..tensor import realize
        realize(*[t for t, _ in updates])
        return missing, unexpected

    def save(self, path: str) -> None:
        """Write the state dict to a safetensors file (``save_safetensors``)."""
        save_safetensors(self, path)

    def load(self, path: str, strict: bool = True) -> "Module":
        """Load a safetensors file written by ``save`` (``load_safetensors``); returns self."""
        load_safetensors(self, path, strict=strict)
        return self

    # ------------------------------------------------------------------ printing
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = [f"({name}): " + repr(m).replace("\n", "\n  ") for name, m in self.named_children()]
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not lines:
            return head + ")"
        return head + "\n  " + "\n  ".join(lines) + "\n)"


# ---------------------------------------------------------------------- discovery helpers
_LEAF_TYPES = (str, bytes, int, float, complex, bool, type(None), np.ndarray, np.generic, Device, type,
               types.ModuleType, types.FunctionType, types.BuiltinFunctionType)


def _walk_value(value: Any, name: str, attr: str, seen_modules: set) -> Iterator[tuple[str, Tensor, str]]:
    if isinstance(value, Tensor):
        yield name, value, "param" if value.dtype.is_inexact else "buffer"
    elif isinstance(value, Module):
        yield from value._walk(name + ".", seen_modules)
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from _walk_value(v, f"{name}.{i}", attr, seen_modules)
    elif isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                if _holds_tensor(v):
                    raise TypeError(f"zyx.nn.Module: attribute {attr!r} is a dict with a non-string key {k!r} "
                                    "holding tensors; use string keys so parameters get names")
                continue
            yield from _walk_value(v, f"{name}.{k}", attr, seen_modules)
    elif _holds_tensor(value):
        raise TypeError(f"zyx.nn.Module: attribute {attr!r} holds tensors inside a {type(value).__name__}, "
                        "which parameter discovery does not search; use a list, tuple, dict or Module "
                        "(e.g. zyx.nn.ModuleList) so the tensors are found")


def _holds_tensor(value: Any, depth: int = 0) -> bool:
    """Whether tensors or modules hide inside a value the walk does not descend into."""
    if depth > 4 or isinstance(value, _LEAF_TYPES):
        return False
    if isinstance(value, (Tensor, Module)):
        return True
    if isinstance(value, Mapping):
        return any(_holds_tensor(v, depth + 1) for v in list(value.values())[:10000])
    if isinstance(value, (list, tuple, set, frozenset, collections.deque)):
        return any(_holds_tensor(v, depth + 1) for v in list(value)[:10000])
    d = getattr(value, "__dict__", None)
    if isinstance(d, dict) and not isinstance(value, type):
        return any(_holds_tensor(v, depth + 1) for v in list(d.values()))
    slots = getattr(type(value), "__slots__", ())
    if isinstance(slots, str):
        slots = (slots,)
    return any(_holds_tensor(getattr(value, s, None), depth + 1) for s in slots if s != "__weakref__")


def _submodules(value: Any, name: str) -> Iterator[tuple[str, Module]]:
    if isinstance(value, Module):
        yield name, value
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from _submodules(v, f"{name}.{i}")
    elif isinstance(value, dict):
        for k, v in value.items():
            if isinstance(k, str):
                yield from _submodules(v, f"{name}.{k}")


def _as_tensor(value: Any, target: Tensor, name: str) -> Tensor:
    if isinstance(value, Tensor):
        t = value if value.device == target.device else value.to(target.device)
    else:
        try:
            arr = np.asarray(value.detach().cpu().numpy() if hasattr(value, "detach") else value)
        except Exception as e:
            raise TypeError(f"load_state_dict: the value for {name!r} ({type(value).__name__}) is not an array") from e
        if arr.dtype != target.dtype.np:
            raise TypeError(f"load_state_dict: {name!r} has dtype {arr.dtype}, the module's tensor has "
                            f"{target.dtype.name}; cast it first")
        t = Tensor(arr, device=target.device)
    if t.shape != target.shape:
        raise ValueError(f"load_state_dict: {name!r} has shape {t.shape}, the module's tensor has shape "
                         f"{target.shape}")
    if t.dtype is not target.dtype:
        raise TypeError(f"load_state_dict: {name!r} has dtype {t.dtype.name}, the module's tensor has "
                        f"{target.dtype.name}; cast it first")
    return Tensor._wrap(t._node)


# ---------------------------------------------------------------------- safetensors
def save_safetensors(module: Module, path: str) -> None:
    """Save ``module.state_dict()`` to ``path`` in the safetensors format (through the
    ``safetensors`` package's NumPy API; tensors are realized and copied to the host)."""
    from safetensors.numpy import save_file
    state = module.state_dict()
    from ..tensor import realize
    realize(list(state.values()))
    save_file({k: np.array(v.numpy(), order="C") for k, v in state.items()}, str(path))


def load_safetensors(module: Module, path: str, strict: bool = True) -> tuple[list[str], list[str]]:
    """Load a safetensors file into ``module`` (``load_state_dict`` with its checks)."""
    from safetensors.numpy import load_file
    return module.load_state_dict(load_file(str(path)), strict=strict)
