"""Module containers: ``Sequential``, ``ModuleList``, ``ModuleDict``."""
from __future__ import annotations

from collections import OrderedDict
from typing import Iterable, Iterator, Mapping

from .module import Module


class Sequential(Module):
    """Calls its modules in order, each on the previous one's output. Accepts modules
    as arguments or one ``OrderedDict`` of named modules; children are named ``0, 1, ...``
    (or by the dict's keys), as PyTorch names them."""

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], (OrderedDict, dict)):
            items = list(modules[0].items())
        else:
            items = [(str(i), m) for i, m in enumerate(modules)]
        for name, m in items:
            if not isinstance(m, Module):
                raise TypeError(f"Sequential: element {name!r} is a {type(m).__name__}, not a zyx.nn.Module")
            setattr(self, name, m)
        self._order = [name for name, _ in items]

    def forward(self, x):
        for name in self._order:
            x = getattr(self, name)(x)
        return x

    def __getitem__(self, i):
        if isinstance(i, slice):
            return Sequential(OrderedDict((n, getattr(self, n)) for n in self._order[i]))
        return getattr(self, self._order[i])

    def __len__(self) -> int:
        return len(self._order)

    def __iter__(self) -> Iterator[Module]:
        return (getattr(self, n) for n in self._order)

    def append(self, m: Module) -> "Sequential":
        if not isinstance(m, Module):
            raise TypeError(f"Sequential.append: {type(m).__name__} is not a zyx.nn.Module")
        name = str(len(self._order))
        setattr(self, name, m)
        self._order = self._order + [name]
        return self


class ModuleList(Module):
    """A list of modules whose tensors are found (names ``0.weight``, ``1.weight``...)."""

    def __init__(self, modules: Iterable[Module] = ()):
        super().__init__()
        self.items = []
        for m in modules:
            self.append(m)

    def _walk(self, prefix: str = "", seen_modules=None):
        # the list's elements are named by index directly under this module, as in PyTorch
        seen_modules = set() if seen_modules is None else seen_modules
        if id(self) in seen_modules:
            return
        seen_modules.add(id(self))
        for i, m in enumerate(self.items):
            yield from m._walk(f"{prefix}{i}.", seen_modules)

    def named_children(self):
        for i, m in enumerate(self.items):
            yield str(i), m

    def append(self, m: Module) -> "ModuleList":
        if not isinstance(m, Module):
            raise TypeError(f"ModuleList: {type(m).__name__} is not a zyx.nn.Module")
        self.items.append(m)
        object.__setattr__(self, "_zyx_ready", False)
        return self

    def extend(self, ms: Iterable[Module]) -> "ModuleList":
        for m in ms:
            self.append(m)
        return self

    def __getitem__(self, i):
        if isinstance(i, slice):
            return ModuleList(self.items[i])
        return self.items[i]

    def __setitem__(self, i: int, m: Module) -> None:
        if not isinstance(m, Module):
            raise TypeError(f"ModuleList: {type(m).__name__} is not a zyx.nn.Module")
        self.items[i] = m

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[Module]:
        return iter(self.items)

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleList is a container; call its modules")


class ModuleDict(Module):
    """A dict of modules by string key (names ``key.weight``)."""

    def __init__(self, modules: Mapping[str, Module] | None = None):
        super().__init__()
        self.items_ = {}
        for k, m in (modules or {}).items():
            self[k] = m

    def _walk(self, prefix: str = "", seen_modules=None):
        seen_modules = set() if seen_modules is None else seen_modules
        if id(self) in seen_modules:
            return
        seen_modules.add(id(self))
        for k, m in self.items_.items():
            yield from m._walk(f"{prefix}{k}.", seen_modules)

    def named_children(self):
        yield from self.items_.items()

    def __setitem__(self, key: str, m: Module) -> None:
        if not isinstance(key, str):
            raise TypeError(f"ModuleDict keys are strings, not {type(key).__name__}")
        if not isinstance(m, Module):
            raise TypeError(f"ModuleDict: {type(m).__name__} is not a zyx.nn.Module")
        self.items_[key] = m
        object.__setattr__(self, "_zyx_ready", False)

    def __getitem__(self, key: str) -> Module:
        return self.items_[key]

    def __contains__(self, key: str) -> bool:
        return key in self.items_

    def __len__(self) -> int:
        return len(self.items_)

    def __iter__(self):
        return iter(self.items_)

    def keys(self):
        return self.items_.keys()

    def values(self):
        return self.items_.values()

    def items(self):
        return self.items_.items()

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleDict is a container; call its modules")
