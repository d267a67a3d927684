"""`python -m zyx`: list the devices found and run a small fused computation with
ZYX_DEBUG output (schedule, timings) so you can see what zyx does.

When the default device cannot start (``ZYX_DEVICE`` names a device this machine lacks,
``CC`` names no compiler) it prints one line that says what to do and exits with 1."""
from __future__ import annotations

import os
import sys
import time

import numpy as np

import zyx
from zyx import debug


def _start() -> zyx.Device:
    """The default device, or SystemExit(1) after one line on stderr saying what to do."""
    try:
        dev = zyx.default_device()
    except (zyx.DeviceUnavailable, RuntimeError, ValueError, TypeError) as e:
        msg = " ".join(str(e).split()).rstrip(".") + "."
        env = os.environ.get("ZYX_DEVICE")
        if env:
            found = ", ".join(d.name for d in zyx.available_devices()) or "none"
            msg = f"ZYX_DEVICE={env}: {msg} Unset ZYX_DEVICE or choose one of the devices found: {found}."
        else:
            msg = f"the default device (cpu) cannot start: {msg}"
        print(f"zyx: {msg}", file=sys.stderr)
        raise SystemExit(1) from None
    print(f"zyx {zyx.__version__}")
    print("devices found:", ", ".join(f"{d.name} ({d.backend.description})" for d in zyx.available_devices()))
    return dev


def main() -> None:
    dev = _start()
    print(f"default device: {dev.name}  (choose another with ZYX_DEVICE=opencl, cuda, wgpu, ...)\n")

    zyx.manual_seed(0)
    n = 1 << 20
    x, y, z = (zyx.Tensor.randn((n,)).realize() for _ in range(3))
    print("computing ((x*2 + y).exp() * z).sum() over 1M float32 elements")
    print("with ZYX_DEBUG=6: bit 4 prints the schedule (ops fused per kernel), bit 2 kernel timings\n")
    old = debug.level
    debug.set_level(old | 6)
    t0 = time.perf_counter()
    out = ((x * 2 + y).exp() * z).sum()
    value = float(out)
    t1 = time.perf_counter()
    debug.set_level(old)
    ref = (np.exp(x.numpy().astype(np.float64) * 2 + y.numpy()) * z.numpy()).sum()
    print(f"\nresult {value:.6g} (NumPy float64 reference {ref:.6g}), first run {1e3 * (t1 - t0):.1f} ms "
          "including compilation")
    t0 = time.perf_counter()
    float(((x * 2 + y).exp() * z).sum())
    print(f"second run (same graph structure: cached schedule and program) {1e3 * (time.perf_counter() - t0):.2f} ms")

    print("\nthe seed example: gradients of a gelu layer, to second order")
    xb = zyx.Tensor.randn((8, 64, 64))
    b = zyx.zeros((64,))
    if hasattr(zyx, "GradientTape"):
        with zyx.GradientTape() as tape:
            zz = (xb @ xb + b).gelu()
            (gb,) = tape.gradient_persistent(zz, [b])
            (gbb,) = tape.gradient(gb, [b])
        print("d sum(z)/db[:4] =", np.round(gb.numpy()[:4], 4), " d2/db2[:4] =", np.round(gbb.numpy()[:4], 4))
    else:
        print("(autograd not available in this build)")


if __name__ == "__main__":
    main()
