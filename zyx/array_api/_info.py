"""The inspection API (standard section "Inspection"): ``__array_namespace_info__()``.

``dtypes()`` and ``default_dtypes()`` answer for one device: not every device has
float64, int64 or complex numbers (WGPU on llvmpipe has no float64, for one).
"""
from __future__ import annotations

from .. import dtypes as dt
from ..device import Device, available_devices, default_device, get_device
from ._data_type_functions import _KINDS, _STANDARD

__all__ = ["__array_namespace_info__"]


class _Devices(tuple):
    """``devices()``'s tuple. 2024.12 returned a list, and code written for it adds one
    (SciPy's tests: ``info.devices() + [None]``): joined with a list, this gives a list."""

    __slots__ = ()

    def __add__(self, other):
        if isinstance(other, list):
            return list(self) + other
        return tuple.__add__(self, other)

    def __radd__(self, other):
        if isinstance(other, list):
            return other + list(self)
        return NotImplemented


class Info:
    """What ``zyx.array_api.__array_namespace_info__()`` returns."""

    __module__ = "zyx.array_api"

    def capabilities(self) -> dict:
        """Optional features: boolean indexing and data-dependent shapes are supported
        (they realize their input); there is no limit on the number of dimensions."""
        return {"boolean indexing": True, "data-dependent shapes": True, "max dimensions": None}

    def default_device(self) -> Device:
        return default_device()

    def devices(self) -> tuple[Device, ...]:
        """Every device zyx finds on this machine (``zyx.available_devices()``): a tuple
        (2025.12) that also joins a list as 2024.12's list did (``_Devices``)."""
        return _Devices(available_devices())

    def _device(self, device) -> Device:
        return default_device() if device is None else get_device(device)

    def default_dtypes(self, *, device=None) -> dict:
        """Default dtypes on ``device``: float32 and complex64 (float64 and complex128 after
        ``zyx.set_default_float(float64)`` or with ZYX_DEFAULT_FLOAT=float64, on devices with
        float64), and int64 (int32 where a device has no int64)."""
        dev = self._device(device)
        integral = dt.default_int if dev.supports(dt.default_int) else dt.int32
        return {"real floating": dev.default_float, "complex floating": dev.default_complex,
                "integral": integral, "indexing": integral}

    def dtypes(self, *, device=None, kind=None) -> dict:
        """The standard's dtypes that ``device`` supports, by name, optionally only those of
        ``kind`` (a kind name or a tuple of them, as in ``isdtype``)."""
        dev = self._device(device)
        supported = [d for d in _STANDARD if dev.supports(d)]
        if kind is None:
            return {d.name: d for d in supported}
        kinds = kind if isinstance(kind, tuple) else (kind,)
        for k in kinds:
            if k not in _KINDS:
                raise ValueError(f"dtypes: unknown kind {k!r}; use one of {', '.join(_KINDS)}")
        return {d.name: d for d in supported if any(_KINDS[k](d) for k in kinds)}


_INFO = Info()


def __array_namespace_info__() -> Info:
    """The namespace's inspection object (capabilities, devices, dtypes per device)."""
    return _INFO
