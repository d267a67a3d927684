"""Constants: e, inf, nan, newaxis, pi."""

from __future__ import annotations

import math

import numpy as np

from . import _common as C
from ._common import xp


def test_e():
    assert isinstance(xp.e, float) and xp.e == math.e


def test_pi():
    assert isinstance(xp.pi, float) and xp.pi == math.pi


def test_inf():
    assert isinstance(xp.inf, float) and xp.inf == math.inf and xp.inf > 0


def test_nan():
    assert isinstance(xp.nan, float) and math.isnan(xp.nan)


def test_newaxis(dev):
    assert xp.newaxis is None
    x = C.to_xp(np.asarray([1, 2, 3], dtype="int32"), dev)
    C.check(x[xp.newaxis, ...], np.asarray([[1, 2, 3]], dtype="int32"), dev=dev, what="x[newaxis, ...]")


def test_constants_in_arrays(dev):
    dt = C.dtypes_on(dev, ["float64", "float32"])[0]
    x = xp.asarray([xp.e, xp.pi, xp.inf, xp.nan], dtype=C.xdtype(dt), **C.devkw(dev))
    C.check(x, np.asarray([math.e, math.pi, math.inf, math.nan], dtype=dt), dev=dev, what="constants as array")
