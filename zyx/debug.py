"""``ZYX_DEBUG`` bit mask.

  1  devices found and opened
  2  per-kernel time, with GB/s and GFLOP/s
  4  the schedule: which ops fused into which kernel
  8  the kernel IR
 16  the generated source
 32  launches and memory transfers

Set it in the environment (``ZYX_DEBUG=6 python prog.py``) or at run time with
``zyx.debug.set_level(6)``.
"""
from __future__ import annotations

import os
import sys

level = int(os.environ.get("ZYX_DEBUG", "0") or 0)


def set_level(n: int) -> None:
    global level
    level = int(n)


def log(msg: str) -> None:
    print(f"[zyx] {msg}", file=sys.stderr, flush=True)
