"""`python -m zyx`: list the devices found and run a small fused computation with
ZYX_DEBUG output (schedule, timings) so you can see what zyx does."""
from __future__ import annotations

import time

import numpy as np

import zyx
from zyx import debug


def main() -> None:
    print(f"zyx {zyx.__version__}")
    devices = zyx.available_devices()
    print("devices found:", ", ".join(f"{d.name} ({d.backend.description})" for d in devices))
    dev = zyx.default_device()
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
