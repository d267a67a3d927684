"""CUDA backend tests.

Two parts:

* **compile checks** (run everywhere NVRTC is installed, no GPU needed): representative
  graphs are scheduled and lowered exactly as ``zyx.realize`` does, rendered as CUDA C,
  compiled by NVRTC for ``sm_90`` and assembled by ``ptxas`` - a real check that the
  generated code is valid for the hardware. ``ZYX_CUDA_COMPILE_CHECK=1`` makes the CPU
  backend run the same check on every kernel it builds, so any test file can be
  compile-checked for CUDA (``ZYX_CUDA_COMPILE_CHECK=1 pytest tests/...``).
* **GPU suite** (``pytest -m cuda``): differential checks against NumPy on a real GPU;
  skipped with a reason when there is none.
"""
from __future__ import annotations

import atexit
import ctypes
import math
import os
import shutil
import threading

import numpy as np
import pytest

import zyx
from zyx import dtypes as dt
from zyx.device import Backend
from zyx.kernels import schedule as sched
from zyx.kernels.lower import lower_kernel

cuda = pytest.importorskip("zyx.backends.cuda")
try:
    cuda.nvrtc_version()
    HAVE_NVRTC = True
except Exception:  # cuda-python or libnvrtc missing
    HAVE_NVRTC = False

needs_nvrtc = pytest.mark.skipif(not HAVE_NVRTC, reason="NVRTC (pip install 'zyx[cuda]') is not installed")


def kernels_of(*tensors):
    """The kernels realizing ``tensors`` would build, lowered but not compiled."""
    nodes = [t._node for t in tensors]
    order, _, pos = sched.walk(nodes)
    out = []
    for i, spec in enumerate(sched.plan(order, pos, nodes)):
        k = lower_kernel(order[spec.out], [order[j] for j in spec.inputs], "kernel",
                         [order[j] for j in spec.rand])
        k.name = f"k{i}_{'_'.join(map(str, order[spec.out].shape)) or 'scalar'}"
        out.append(k)
    return out


def check_compiles(*tensors) -> int:
    from concurrent.futures import ThreadPoolExecutor
    ks = kernels_of(*tensors)
    assert ks, "expected at least one kernel"
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as ex:  # NVRTC and ptxas run concurrently
        ptxs = list(ex.map(lambda k: cuda.compile_only(k)[0], ks))
    for k, ptx in zip(ks, ptxs):
        assert f".entry {k.name}" in ptx, f"kernel {k.name} missing from its PTX"
    return len(ks)


def cpu(a, dtype=None):
    a = np.asarray(a)
    return zyx.Tensor(a if dtype is None else a.astype(dtype.np), device="cpu")


RNG = np.random.default_rng(0)


def _data(d: dt.DType, shape=(7, 33)):
    if d.kind == "b":
        return RNG.random(shape) > 0.5
    if d.kind in "iu":
        lo, hi = (0, 100) if d.kind == "u" else (-50, 50)
        return RNG.integers(lo, hi, size=shape).astype(d.np)
    if d.kind == "c":
        return (RNG.standard_normal(shape) + 1j * RNG.standard_normal(shape)).astype(d.np)
    return RNG.standard_normal(shape).astype(d.np)


# ------------------------------------------------------------------ compile checks
@needs_nvrtc
@pytest.mark.parametrize("dtype", dt.ALL, ids=lambda d: d.name)
def test_elementwise_compiles_for_every_dtype(dtype):
    x = cpu(_data(dtype), None)
    y = cpu(_data(dtype), None)
    outs = [x + y, x * y, x == y, x != y]
    if dtype.kind == "b":
        outs += [x & y, x | y, x ^ y, ~x, zyx.where(x, y, x)]
    elif dtype.kind in "iu":
        outs += [x - y, x // (y + 1), x % (y + 1), x & y, x | y, x ^ y, ~x, x << 2, x >> 1, x.abs(),
                 x.maximum(y), x.minimum(y), x < y, x.cast(dt.float32), x.cast(dt.bool_), x ** 2]
    elif dtype.kind == "f":
        outs += [x - y, x / y, x // y, x % y, x.exp(), x.log(), x.sqrt(), x.sin(), x.tanh(), x.erf(),
                 x.maximum(y), x.minimum(y), x.floor(), x.round(), x.isnan(), x.isinf(), x.signbit(),
                 x ** y, x.atan2(y), x.cast(dt.int32), x.cast(dt.uint8), x.cast(dt.float16),
                 x.cast(dt.bfloat16), x.cast(dt.bool_), x.cast(dt.complex64), x.sigmoid()]
    else:
        outs += [x - y, x / y, x.exp(), x.log(), x.sqrt(), x.sin(), x.cos(), x.tan(), x.tanh(), x.abs(),
                 x.real, x.imag, x.conj(), x.angle(), x.isnan(), x ** y, x.asin(), x.acosh(), x.atanh(),
                 x.expm1(), x.log1p(), x.log2(), x.reciprocal(), x.cast(dt.complex128), x.cast(dt.complex64)]
    n = check_compiles(*outs)
    assert n == len({id(t._node) for t in outs if t._node.op != "BUFFER"})


@needs_nvrtc
@pytest.mark.parametrize("src,dst", [(dt.float32, dt.int32), (dt.int32, dt.float32), (dt.float16, dt.int16),
                                     (dt.bfloat16, dt.uint16), (dt.int64, dt.float64), (dt.uint8, dt.int8),
                                     (dt.bool_, dt.uint8)])
def test_bitcast_compiles(src, dst):
    check_compiles(cpu(_data(src)).bitcast(dst))


@needs_nvrtc
def test_complex_construction_compiles():
    re, im = cpu(_data(dt.float32)), cpu(_data(dt.float32))
    check_compiles(zyx._math.complex_(re, im), zyx._math.complex_(re.cast(dt.float64), im.cast(dt.float64)))


@needs_nvrtc
@pytest.mark.parametrize("dtype", [dt.float32, dt.float16, dt.bfloat16, dt.float64, dt.int64, dt.int32,
                                   dt.uint8, dt.bool_, dt.complex64, dt.complex128], ids=lambda d: d.name)
def test_reductions_compile(dtype):
    x = cpu(_data(dtype, (16, 300)))
    outs = [x.sum(), x.sum(axis=0), x.sum(axis=1), x.prod(axis=1)]
    if dtype.kind != "c":
        outs += [x.max(), x.min(axis=0), x.max(axis=1)]
    check_compiles(*outs)


@needs_nvrtc
def test_full_reduction_uses_block_reduce():
    from zyx.kernels.render_cuda import CUDARenderer, launch_config, uses_block_reduce
    x = cpu(_data(dt.float32, (1000, 300)))
    k = kernels_of((x * 2).exp().sum())[-1]  # the scheduler may split it; the last kernel is the full sum
    assert not k.global_dims and uses_block_reduce(k)
    assert launch_config(k) == (1, 256)
    src = CUDARenderer().render(k)
    assert "__shared__" in src and "__syncthreads" in src
    ptx, _ = cuda.compile_only(k)
    assert "bar.sync" in ptx
    (k2,) = kernels_of(x + 1)  # plain elementwise: 4 outputs per thread (float4), grid stride
    assert not uses_block_reduce(k2)
    assert launch_config(k2) == (math.ceil(300000 / 4 / 256), 256)
    y = cpu(_data(dt.float32, (1000, 301)))
    (k3,) = kernels_of(y + cpu(_data(dt.float32, (301,))))  # rows of 301 (a broadcast row): one output per thread
    assert launch_config(k3) == (math.ceil(301000 / 256), 256)
    (k4,) = kernels_of(y + 1)  # contiguous: the two loops fuse into one of 301000, float4 again
    assert launch_config(k4) == (math.ceil(301000 / 4 / 256), 256)


@needs_nvrtc
def test_softmax_layernorm_matmul_compile():
    x = cpu(_data(dt.float32, (64, 130)))
    w = cpu(_data(dt.float32, (130, 40)))
    mu = x.mean(axis=-1, keepdims=True)
    ln = (x - mu) / (x.var(axis=-1, keepdims=True) + 1e-5).sqrt()
    check_compiles(x.softmax(-1), ln, x @ w, (x @ w).relu().sum(), x.log_softmax(-1))


@needs_nvrtc
def test_movement_views_compile():
    x = cpu(_data(dt.float32, (6, 10, 12)))
    outs = [x.permute(2, 0, 1) + 1, x[1:5, ::3, ::-2] * 2, x.pad(((1, 2), (0, 0), (3, 1)), value=-1.0),
            x.reshape(60, 12).T.flip(0), x[:, 2:8].reshape(-1) + 1, x.roll(3, 1), zyx.cat([x, x * 2], axis=1),
            x.pad(((1, 1), (2, 2), (0, 0))).sum(axis=1)]
    check_compiles(*outs)


@needs_nvrtc
def test_gather_compiles():
    x = cpu(_data(dt.float32, (20, 30)))
    idx = cpu(RNG.integers(0, 30, size=(20, 5)).astype(np.int64))
    flat = cpu(RNG.integers(0, 20, size=(7,)).astype(np.int32))
    check_compiles(x.take_along_axis(idx, 1), x.take(flat, 0), x.sum(axis=1).take(flat, 0))


@needs_nvrtc
def test_random_numbers_compile():
    zyx.manual_seed(3)
    check_compiles(zyx.rand(100, device="cpu"), zyx.randn(10, 10, device="cpu"),
                   zyx.randint(0, 10, (50,), device="cpu"), zyx.rand(64, 64, device="cpu").sum())


@needs_nvrtc
def test_empty_and_scalar_kernels():
    from zyx.kernels.render_cuda import launch_config
    x = cpu(np.zeros((0, 4), np.float32))
    (k,) = kernels_of(x + 1)
    assert launch_config(k)[0] == 0
    cuda.compile_only(k)
    s = cpu(np.float32(2.0))
    (k2,) = kernels_of(s * 3)
    assert launch_config(k2) == (1, 1)
    cuda.compile_only(k2)


@needs_nvrtc
def test_compile_error_is_reported():
    with pytest.raises(cuda.CompileError, match="NVRTC failed"):
        cuda.nvrtc_compile('extern "C" __global__ void bad() { undefined_thing(); }', "compute_90", "bad")


def test_device_count_without_driver_is_zero_or_positive():
    n = cuda.device_count()
    assert isinstance(n, int) and n >= 0
    if n == 0:
        with pytest.raises(zyx.DeviceUnavailable, match="cuda"):
            zyx.get_device("cuda")


@needs_nvrtc
def test_cuda_compile_check_hook(monkeypatch):
    """ZYX_CUDA_COMPILE_CHECK=1: the CPU backend also compiles each new kernel for CUDA."""
    import zyx.realize
    monkeypatch.setenv("ZYX_CUDA_COMPILE_CHECK", "1")
    calls = []
    real = cuda.compile_only
    monkeypatch.setattr(cuda, "compile_only", lambda k, *a: calls.append(k.name) or real(k, *a))
    zyx.realize.clear_cache()
    x = cpu(_data(dt.float32, (5, 9)))
    y = ((x * 1.2345).sin() + 0.5).sum(axis=1)
    np.testing.assert_allclose(y.numpy(), (np.sin(x.numpy() * np.float32(1.2345)) + 0.5).sum(1), rtol=1e-5)
    zyx.realize.wait_compiles()  # (the host tier computed it first: its build is in the background)
    assert calls, "the CPU backend did not run the CUDA compile check"


# ------------------------------------------------------------------ GPU suite
def _gpu_device():
    if cuda.device_count() == 0:
        pytest.skip("no CUDA GPU (device_count() == 0)")
    name = os.environ.get("ZYX_DEVICE", "cuda")
    return name if name.startswith("cuda") else "cuda"


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", dt.ALL, ids=lambda d: d.name)
def test_gpu_elementwise_matches_numpy(dtype):
    dev = _gpu_device()
    a, b = _data(dtype, (37, 129)), _data(dtype, (37, 129))
    x, y = zyx.Tensor(a, device=dev), zyx.Tensor(b, device=dev)
    np.testing.assert_array_equal((x + y).numpy(), a + b)
    np.testing.assert_array_equal((x == y).numpy(), a == b)
    if dtype.kind in "fc":
        rtol = {2: 1e-2, 4: 1e-5, 8: 1e-12, 16: 1e-12}[dtype.itemsize] if dtype.kind == "f" else 1e-5
        np.testing.assert_allclose((x * y).exp().numpy().astype(np.complex128 if dtype.kind == "c" else np.float64),
                                   np.exp((a * b).astype(np.complex128 if dtype.kind == "c" else np.float64)),
                                   rtol=max(rtol, 1e-5) if dtype.itemsize > 2 else 2e-2)
    if dtype.kind in "iu":
        np.testing.assert_array_equal((x // (y | 1)).numpy(), a // (b | 1))
        np.testing.assert_array_equal((x % (y | 1)).numpy(), a % (b | 1))


@pytest.mark.cuda
def test_gpu_special_values_and_floor_semantics():
    dev = _gpu_device()
    a = np.array([-7.5, -0.0, 0.0, np.inf, -np.inf, np.nan, 3.0, 5.5], np.float32)
    b = np.array([2.0, 3.0, -3.0, 2.0, 2.0, 1.0, 0.0, -2.0], np.float32)
    x, y = zyx.Tensor(a, device=dev), zyx.Tensor(b, device=dev)
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal((x // y).numpy(), a // b)
        np.testing.assert_array_equal((x % y).numpy(), a % b)
        np.testing.assert_array_equal(x.maximum(y).numpy(), np.maximum(a, b))


@pytest.mark.cuda
@pytest.mark.parametrize("shape,axis", [((1_000_003,), None), ((64, 5000), 1), ((5000, 64), 0), ((3, 7), None),
                                        ((300, 300), 1)])
def test_gpu_reductions(shape, axis):
    dev = _gpu_device()
    a = RNG.standard_normal(shape).astype(np.float32)
    x = zyx.Tensor(a, device=dev)
    np.testing.assert_allclose(x.sum(axis=axis).numpy(), a.astype(np.float64).sum(axis=axis), rtol=1e-4, atol=1e-2)
    np.testing.assert_array_equal(x.max(axis=axis).numpy(), a.max(axis=axis))
    ai = RNG.integers(-1000, 1000, size=shape)
    np.testing.assert_array_equal(zyx.Tensor(ai, device=dev).sum(axis=axis).numpy(), ai.sum(axis=axis))


@pytest.mark.cuda
def test_gpu_matmul_softmax_gather_views():
    dev = _gpu_device()
    a, w = RNG.standard_normal((65, 130)).astype(np.float32), RNG.standard_normal((130, 33)).astype(np.float32)
    x, wt = zyx.Tensor(a, device=dev), zyx.Tensor(w, device=dev)
    np.testing.assert_allclose((x @ wt).numpy(), a @ w, rtol=1e-4, atol=1e-4)
    e = np.exp(a - a.max(-1, keepdims=True))
    np.testing.assert_allclose(x.softmax(-1).numpy(), e / e.sum(-1, keepdims=True), rtol=1e-5, atol=1e-7)
    idx = RNG.integers(0, 130, size=(65, 4))
    np.testing.assert_array_equal(x.take_along_axis(zyx.Tensor(idx, device=dev), 1).numpy(),
                                  np.take_along_axis(a, idx, 1))
    np.testing.assert_array_equal(x[3:60:4, ::-3].numpy(), a[3:60:4, ::-3])
    np.testing.assert_array_equal(x.pad(((1, 2), (3, 0)), value=7.0).numpy(),
                                  np.pad(a, ((1, 2), (3, 0)), constant_values=7.0))


@pytest.mark.cuda
def test_gpu_random_bits_identical_to_cpu():
    dev = _gpu_device()
    zyx.manual_seed(1234)
    g = zyx.rand(10_000, device=dev).numpy()
    zyx.manual_seed(1234)
    c = zyx.rand(10_000, device="cpu").numpy()
    np.testing.assert_array_equal(g, c)
    zyx.manual_seed(7)
    gi = zyx.randint(0, 1000, (4096,), device=dev).numpy()
    zyx.manual_seed(7)
    np.testing.assert_array_equal(gi, zyx.randint(0, 1000, (4096,), device="cpu").numpy())


@pytest.mark.cuda
def test_gpu_transfers_between_devices_and_memory_pool():
    dev = _gpu_device()
    a = RNG.standard_normal((1 << 20,)).astype(np.float32)
    x = zyx.Tensor(a, device=dev)
    back = x.to("cpu")
    np.testing.assert_array_equal(back.numpy(), a)
    np.testing.assert_array_equal(back.to(dev).numpy(), a)
    be = zyx.get_device(dev).backend
    for _ in range(5):  # freed blocks are reused, not reallocated
        (x * 2).numpy()
    assert sum(len(v) for v in be._free.values()) >= 1
    with pytest.raises(MemoryError):
        be.alloc(1 << 60, dt.uint8)


# ------------------------------------------------------------------ host emulation
# Without a GPU, the CUDA renderer's output is still *run*: the generated source is
# compiled as host C++ against a small shim (blocks run one after another, the threads
# of a block are real threads meeting at a barrier for __syncthreads, shared memory is
# static). Grids are cut to a few blocks so the grid-stride loops are exercised. This
# checks the renderer's semantics (index splitting, block reductions, dtype handling)
# against NumPy; the driver-API backend itself needs the GPU suite above.
_SHIM = r"""
#include <cmath>
#include <cstring>
#include <cstdint>
#include <barrier>
#include <thread>
#include <vector>
using std::isinf; using std::isnan; using std::isfinite; using std::signbit;
using std::sin; using std::cos; using std::tan; using std::exp; using std::log; using std::sqrt;
using std::sinh; using std::cosh; using std::tanh; using std::asinh; using std::atan2; using std::hypot;
using std::expm1; using std::log1p; using std::atan; using std::copysign; using std::fabs; using std::fmax;
using std::rint;
struct zyx_dim3 { unsigned x, y, z; };
thread_local zyx_dim3 threadIdx, blockIdx;
static zyx_dim3 blockDim, gridDim;
static std::barrier<>* zyx_bar;
static inline void __syncthreads() { zyx_bar->arrive_and_wait(); }
#define __global__
#define __device__
#define __forceinline__ inline
#define __launch_bounds__(n)
#define __restrict__
#define __shared__ static
#define __align__(n) __attribute__((aligned(n)))
static inline float __int_as_float(int i) { float f; memcpy(&f, &i, 4); return f; }
static inline double __longlong_as_double(long long i) { double f; memcpy(&f, &i, 8); return f; }
struct __half { _Float16 v; };
static inline float __half2float(__half h) { return (float)h.v; }
static inline __half __float2half_rn(float f) { return __half{(_Float16)f}; }
static inline __half __double2half(double f) { return __half{(_Float16)f}; }
struct __nv_bfloat16 { unsigned short v; };
static inline float __bfloat162float(__nv_bfloat16 b) {
  unsigned u = ((unsigned)b.v) << 16; float f; memcpy(&f, &u, 4); return f; }
static inline __nv_bfloat16 __float2bfloat16_rn(float f) { unsigned u; memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return __nv_bfloat16{(unsigned short)((u >> 16) | 0x40u)};
  u += 0x7fffu + ((u >> 16) & 1u); return __nv_bfloat16{(unsigned short)(u >> 16)}; }
static inline __nv_bfloat16 __double2bfloat16(double d) { return __float2bfloat16_rn((float)d); }
struct alignas(16) float4 { float x, y, z, w; };
struct alignas(16) int4 { int x, y, z, w; };
struct alignas(16) uint4 { unsigned x, y, z, w; };
static inline float4 make_float4(float x, float y, float z, float w) { return float4{x, y, z, w}; }
/* The tensor-core helpers (cuda_mma.MMA_HELPERS), with the semantics of the PTX ISA:
   cp.async copies at once (the pipeline's waits become no-ops); ldmatrix and mma.sync are
   warp-collective - every thread of the block reaches them together, so a warp's lanes
   publish their operands in per-warp slots between two block barriers and each lane
   takes its own fragment elements (PTX ISA "Matrix Fragments for mma.m16n8k16" / k8). */
#define ZYX_HOST_EMULATION 1
struct zyx_warp_slots { const void* addr[32]; uint32_t a[32][4]; uint32_t b[32][2]; };
static zyx_warp_slots zyx_ws[32];
static inline void zyx_cp_async16(void* s, const void* g, int n) {
  memcpy(s, g, n); memset((char*)s + n, 0, 16 - n); }
static inline void zyx_cp_async_commit() {}
template <int N> static inline void zyx_cp_async_wait() {}
static inline void zyx_ldmatrix(uint32_t* d, const void* p, bool trans) {
  unsigned lane = threadIdx.x % 32, w = threadIdx.x / 32;
  zyx_ws[w].addr[lane] = p;
  __syncthreads();
  for (int i = 0; i < 4; i++) {  /* matrix i: rows from lanes 8i..8i+7 */
    const uint16_t* const* rows = (const uint16_t* const*)&zyx_ws[w].addr[8 * i];
    uint16_t lo = trans ? rows[2 * (lane % 4)][lane / 4] : rows[lane / 4][2 * (lane % 4)];
    uint16_t hi = trans ? rows[2 * (lane % 4) + 1][lane / 4] : rows[lane / 4][2 * (lane % 4) + 1];
    d[i] = lo | ((uint32_t)hi << 16);
  }
  __syncthreads();
}
static inline void zyx_ldmatrix_x4(uint32_t* d, const void* p) { zyx_ldmatrix(d, p, false); }
static inline void zyx_ldmatrix_x4_trans(uint32_t* d, const void* p) { zyx_ldmatrix(d, p, true); }
static inline float zyx_emu_f16(uint32_t h) { uint16_t b = h; _Float16 x; memcpy(&x, &b, 2); return (float)x; }
static inline float zyx_emu_bf16(uint32_t h) { uint32_t u = h << 16; float f; memcpy(&f, &u, 4); return f; }
static inline float zyx_emu_bits(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
/* KIND 0: f16 m16n8k16, 1: bf16 m16n8k16, 2: tf32 m16n8k8; D = A B + C on one warp */
template <int KIND> static inline void zyx_mma(float* c, const uint32_t* a, const uint32_t* b) {
  unsigned lane = threadIdx.x % 32, w = threadIdx.x / 32;
  for (int i = 0; i < 4; i++) zyx_ws[w].a[lane][i] = a[i];
  zyx_ws[w].b[lane][0] = b[0]; zyx_ws[w].b[lane][1] = b[1];
  __syncthreads();
  const int K = KIND == 2 ? 8 : 16, g = lane / 4, t = lane % 4;
  for (int e = 0; e < 4; e++) {
    const int row = g + 8 * (e / 2), col = 2 * t + e % 2;
    float s = c[e];
    for (int k = 0; k < K; k++) {
      float x, y;
      if (KIND == 2) {  /* a0 (g, t) a1 (g+8, t) a2 (g, t+4) a3 (g+8, t+4); b0 (t, g) b1 (t+4, g) */
        x = zyx_emu_bits(zyx_ws[w].a[(row % 8) * 4 + k % 4][(row >= 8) + 2 * (k >= 4)]);
        y = zyx_emu_bits(zyx_ws[w].b[col * 4 + k % 4][k >= 4]);
      } else {  /* a: {(g, 2t..2t+1), (g+8, ..), (g, 2t+8..), (g+8, 2t+8..)}; b: {(2t..2t+1, g), (2t+8.., g)} */
        uint32_t va = zyx_ws[w].a[(row % 8) * 4 + (k % 8) / 2][(row >= 8) + 2 * (k >= 8)];
        uint32_t vb = zyx_ws[w].b[col * 4 + (k % 8) / 2][k >= 8];
        uint32_t ha = (k % 2) ? va >> 16 : va & 0xffffu, hb = (k % 2) ? vb >> 16 : vb & 0xffffu;
        x = KIND == 0 ? zyx_emu_f16(ha) : zyx_emu_bf16(ha);
        y = KIND == 0 ? zyx_emu_f16(hb) : zyx_emu_bf16(hb);
      }
      s += x * y;
    }
    c[e] = s;
  }
  __syncthreads();
}
static inline void zyx_mma_f16(float* c, const uint32_t* a, const uint32_t* b) { zyx_mma<0>(c, a, b); }
static inline void zyx_mma_bf16(float* c, const uint32_t* a, const uint32_t* b) { zyx_mma<1>(c, a, b); }
static inline void zyx_mma_tf32(float* c, const uint32_t* a, const uint32_t* b) { zyx_mma<2>(c, a, b); }
static inline uint32_t zyx_tf32(uint32_t u) {  /* round to 10 mantissa bits, ties away */
  return ((u & 0x7f800000u) == 0x7f800000u) ? u : ((u + 0x1000u) & 0xffffe000u); }
"""
EMU_MAX_GRID = 3
_EMU_HEADERS: dict = {}
_EMU_HEADERS_LOCK = threading.Lock()


def _emu_header(text: str, gxx: list) -> str:
    """A header file with the shim and a renderer's preamble, precompiled once per process
    (g++ then reads the standard headers and the helpers once, not once per kernel: a kernel
    builds in ~0.2 s instead of ~0.8 s). Without a usable .gch g++ reads the text itself."""
    k = (text, tuple(gxx))
    with _EMU_HEADERS_LOCK:  # kernels build on several threads (compile_many)
        return _emu_header_locked(k, text, gxx)


def _emu_header_locked(k, text, gxx) -> str:
    import hashlib
    import subprocess
    import tempfile
    from pathlib import Path

    from zyx import cache
    if k not in _EMU_HEADERS:
        # (~50 MB with its precompiled header: removed when the process ends, and inside the
        # kernel cache, which the test session removes - an xdist worker may end without atexit)
        d = Path(tempfile.mkdtemp(prefix="cudaemu-", dir=cache.cache_dir()))
        atexit.register(shutil.rmtree, d, True)
        h = d / f"emu-{hashlib.sha256(repr(k).encode()).hexdigest()[:16]}.h"
        h.write_text(text)
        subprocess.run([*gxx, "-x", "c++-header", str(h), "-o", f"{h}.gch"], capture_output=True)
        _EMU_HEADERS[k] = str(h)
    return _EMU_HEADERS[k]


class EmulatedCUDA(Backend):
    """A zyx backend whose kernels are the CUDA renderer's source run on the host (it
    declares the backend interface, as every backend does: ``zyx.device.Backend``)."""

    description = "CUDA C emulated on the host (tests only)"

    def __init__(self, flags: tuple[str, ...] = (), cc: int = 0):
        from zyx.backends.cpu import open_device
        from zyx.kernels.render_cuda import CUDARenderer
        self.flags = list(flags)  # extra g++ flags (a sanitizer)
        self.cc = cc  # the compute capability rendered for (90: the tensor-core shapes; no WMMA here)
        self.host = open_device(0)
        self.renderer = CUDARenderer(cc)
        self.dtypes = frozenset(dt.ALL)
        self.launches: list[tuple[str, int, int]] = []

    def alloc(self, size, dtype):
        return self.host.alloc(size, dtype)

    def free(self, h):
        pass

    def copy_in(self, h, arr):
        self.host.copy_in(h, arr)

    def copy_out(self, h, size, dtype):
        return self.host.copy_out(h, size, dtype)

    def synchronize(self):
        pass

    def render(self, kernel):
        return self.renderer.render(kernel)

    def compile(self, kernel, source):
        import ctypes
        import subprocess
        import tempfile
        from pathlib import Path

        from zyx import cache
        from zyx.kernels.render_cuda import launch_config
        body = source.replace("#include <cuda_fp16.h>", "").replace("#include <cuda_bf16.h>", "")
        body = "\n".join(ln for ln in body.splitlines() if not ln.startswith(("typedef signed char", "typedef unsigned")))
        sig = [f"({self.renderer.storage_type(p.dtype)}*)b[{i}]" for i, p in enumerate(kernel.params)]
        sig += [f"s[{j}]" for j in range(len(kernel.scalars))]
        sig += [f"a[{j}]" for j in range(kernel.nargs)]
        runner = f"""
extern "C" void zyx_run(unsigned grid, unsigned block, void** b, const unsigned* s, const long long* a) {{
  blockDim = {{block, 1, 1}}; gridDim = {{grid, 1, 1}};
  std::barrier<> bar(block); zyx_bar = &bar;
  std::vector<std::thread> ts;
  for (unsigned t = 0; t < block; t++) ts.emplace_back([=, &bar] {{
    threadIdx = {{t, 0, 0}};
    for (unsigned g = 0; g < grid; g++) {{ blockIdx = {{g, 0, 0}}; {kernel.name}({", ".join(sig)}); bar.arrive_and_wait(); }}
  }});
  for (auto& t : ts) t.join();
}}
"""
        from zyx.backends.base import PREAMBLE_END
        pre, cut, kern = body.partition(PREAMBLE_END)
        if not cut:
            pre, kern = "", body
        header = _SHIM + pre + cut  # the same for every kernel of one renderer: a precompiled header
        key = cache.key_of(header + kern + runner, "cudaemu-v1", *self.flags)
        path = cache.read("cudaemu", key, ".so")
        if path is None:
            gxx = ["g++", "-std=c++20", "-O1", "-fPIC", "-pthread", "-w", *self.flags]
            h = _emu_header(header, gxx)
            with tempfile.TemporaryDirectory() as d:
                (Path(d) / "k.cpp").write_text(f'#include "{h}"\n' + kern + runner)
                r = subprocess.run([*gxx, "-shared", str(Path(d) / "k.cpp"), "-o", str(Path(d) / "k.so")],
                                   capture_output=True, text=True)
                assert r.returncode == 0, f"host build of CUDA source failed:\n{r.stderr[:3000]}\n{body[-3000:]}"
                lib = cache.open_loadable(cache.write_loadable("cudaemu", key, ".so", (Path(d) / "k.so").read_bytes()),
                                          ctypes.CDLL)
                return lib.zyx_run, kernel.name, kernel
        lib = ctypes.CDLL(str(path))
        return lib.zyx_run, kernel.name, kernel

    def compile_many(self, items):
        """A schedule's kernels built by concurrent g++ runs (as the CPU backend's batches are)."""
        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as ex:
            return list(ex.map(lambda item: self.compile(*item), items))

    def read(self, h, start, count, dtype):
        return self.host.read(h, start, count, dtype)

    def launch(self, prog, buffers, scalars, args=()):
        import ctypes

        from zyx.kernels.render_cuda import launch_config
        fn, name, kernel = prog
        grid, block = launch_config(kernel, self.cc, args)
        grid = min(grid, EMU_MAX_GRID)
        self.launches.append((name, grid, block))
        if grid == 0:
            return
        ptrs = (ctypes.c_void_p * max(len(buffers), 1))(*[b.ctypes.data for b in buffers])
        sc = (ctypes.c_uint32 * max(len(scalars), 1))(*[int(s) & 0xFFFFFFFF for s in scalars])
        ar = (ctypes.c_int64 * max(len(args), 1))(*args)
        fn(ctypes.c_uint(grid), ctypes.c_uint(block), ptrs, sc, ar)


@pytest.fixture(scope="module")
def emu():
    import shutil

    from zyx import device as zdev
    if shutil.which("g++") is None:
        pytest.skip("g++ is needed to run CUDA source on the host")
    dev = zdev.Device("cuda", 99, EmulatedCUDA())
    zdev._devices[("cuda", 99)] = dev
    # these tests check the specialised CUDA forms (vector loads, block reductions, tiles);
    # test_emulated_generic_kernels runs the generic ones
    with zyx.realize.specialization("always"):
        yield dev
    zdev._devices.pop(("cuda", 99), None)


def on(dev, a):
    return zyx.Tensor(np.asarray(a), device=dev)


@pytest.mark.parametrize("dtype", [dt.float32, dt.float64, dt.float16, dt.bfloat16, dt.int8, dt.int32, dt.int64,
                                   dt.uint8, dt.uint64, dt.bool_, dt.complex64, dt.complex128],
                         ids=lambda d: d.name)
def test_emulated_elementwise(emu, dtype):
    a, b = _data(dtype, (5, 301)), _data(dtype, (5, 301))
    x, y = on(emu, a), on(emu, b)
    exact = [(x + y, a + b), (x == y, a == b)]  # (zyx, NumPy): equal bit for bit
    close = []  # (zyx, NumPy, rtol)
    if dtype.kind in "iu":
        exact += [(x // (y | 1), a // (b | 1)), (x % (y | 1), a % (b | 1)), (x.maximum(y), np.maximum(a, b))]
    if dtype.kind == "f" and dtype.itemsize >= 4:
        with np.errstate(all="ignore"):
            exact += [(x // y, a // b), (x % y, a % b)]
        close.append((x.exp(), np.exp(a), 1e-6))
    if dtype.kind == "c":
        wide = np.complex128
        close += [(got, want, 2e-4 if dtype is dt.complex64 else 1e-9) for got, want in [
            (x * y, a.astype(wide) * b), (x / y, a.astype(wide) / b), (x.exp(), np.exp(a.astype(wide))),
            (x.sqrt(), np.sqrt(a.astype(wide))), (x.log(), np.log(a.astype(wide))),
            (x.sin(), np.sin(a.astype(wide))), (x.tanh(), np.tanh(a.astype(wide))),
            (x.asin(), np.arcsin(a.astype(wide))),
            (x.atan(), np.arctan(a.astype(wide))), (x.acosh(), np.arccosh(a.astype(wide))),
            (x ** y, a.astype(wide) ** b)]]
        close.append((x.abs(), np.abs(a), 1e-6))
        exact.append((x.real, a.real))
    zyx.realize(*[t for t, *_ in exact + close])  # one schedule: its kernels build at once
    for got, want in exact:
        np.testing.assert_array_equal(got.numpy(), want)
    for got, want, rtol in close:
        np.testing.assert_allclose(got.numpy(), want, rtol=rtol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: np.dtype(d).name)
def test_emulated_elementwise_logaddexp(emu, dtype):
    """The LOGADDEXP primitive's CUDA spelling: specials (equal infinities give themselves) and
    the small term's digits."""
    v = np.array([0.0, -0.0, 1.0, -40.0, 40.0, 88.0, -1e30, -np.inf, np.inf, np.nan], dtype)
    a, b = np.meshgrid(v, v)
    got = on(emu, a).logaddexp(on(emu, b)).numpy()
    with np.errstate(all="ignore"):
        want = np.logaddexp(a, b)
    np.testing.assert_allclose(got, want, rtol=4e-7 if dtype == np.float32 else 1e-15, atol=0)
    assert got[3, 0] > 0 and np.isposinf(got[8, 8]) and np.isneginf(got[7, 7])


@pytest.mark.slow  # many emulated kernels (gcc): run by `pytest -m slow`, as in .ci/run
def test_emulated_reductions_block_and_thread(emu):
    from zyx.kernels.render_cuda import uses_block_reduce
    a = RNG.standard_normal((37, 2000)).astype(np.float32)
    x = on(emu, a)
    emu.backend.launches.clear()
    np.testing.assert_allclose(x.sum().numpy(), a.astype(np.float64).sum(), rtol=1e-4)
    np.testing.assert_allclose(x.sum(axis=1).numpy(), a.astype(np.float64).sum(1), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(x.sum(axis=0).numpy(), a.astype(np.float64).sum(0), rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(x.max(axis=1).numpy(), a.max(1))
    np.testing.assert_array_equal(x.min().numpy(), a.min())
    assert any(b == 256 for _, _, b in emu.backend.launches)
    an = a.copy()
    an[3, 7] = np.nan
    np.testing.assert_array_equal(on(emu, an).max(axis=1).numpy(), an.max(1))
    ai = RNG.integers(-(2 ** 40), 2 ** 40, size=(3, 5000))
    np.testing.assert_array_equal(on(emu, ai).sum(axis=1).numpy(), ai.sum(1))
    np.testing.assert_array_equal(on(emu, ai).max().numpy(), ai.max())
    ac = (RNG.standard_normal((2, 3000)) + 1j * RNG.standard_normal((2, 3000))).astype(np.complex64)
    np.testing.assert_allclose(on(emu, ac).sum(axis=1).numpy(), ac.astype(np.complex128).sum(1), rtol=1e-4)
    assert uses_block_reduce(kernels_of(on(emu, a).sum())[-1])


@pytest.mark.slow  # many emulated kernels (gcc): run by `pytest -m slow`, as in .ci/run
def test_emulated_softmax_matmul_views_gather(emu):
    a = RNG.standard_normal((33, 130)).astype(np.float32)
    w = RNG.standard_normal((130, 17)).astype(np.float32)
    x, wt = on(emu, a), on(emu, w)
    e = np.exp(a - a.max(-1, keepdims=True))
    np.testing.assert_allclose(x.softmax(-1).numpy(), e / e.sum(-1, keepdims=True), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose((x @ wt).numpy(), a @ w, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(x[3:30:4, ::-3].numpy(), a[3:30:4, ::-3])
    np.testing.assert_array_equal(x.pad(((1, 2), (3, 0)), value=7.0).numpy(),
                                  np.pad(a, ((1, 2), (3, 0)), constant_values=7.0))
    idx = RNG.integers(0, 130, size=(33, 4))
    np.testing.assert_array_equal(x.take_along_axis(on(emu, idx), 1).numpy(), np.take_along_axis(a, idx, 1))
    v = RNG.standard_normal((4, 3, 5)).astype(np.float64)
    np.testing.assert_allclose(on(emu, v).permute(2, 0, 1).sum(axis=(1, 2)).numpy(),
                               v.transpose(2, 0, 1).sum(axis=(1, 2)), rtol=1e-12)


def test_emulated_generic_kernels(emu):
    """Generic kernels (sizes, offsets and scalars as arguments, 32-bit indices) on the host
    emulation, against NumPy; one program serves every size."""
    with zyx.realize.specialization("never"):
        for n in (7, 300):
            a = RNG.standard_normal((3, n)).astype(np.float32)
            x = on(emu, a)
            np.testing.assert_allclose((x * 2.5 + 1).exp().numpy(), np.exp(a * np.float32(2.5) + 1), rtol=1e-6)
            np.testing.assert_allclose(x.sum(axis=1).numpy(), a.astype(np.float64).sum(1), rtol=1e-5, atol=1e-4)
            np.testing.assert_array_equal(x[1:, 2:n - 1:2].numpy(), a[1:, 2:n - 1:2])
            np.testing.assert_array_equal(x.T.reshape(-1).numpy(), a.T.reshape(-1))
            np.testing.assert_array_equal(x.pad(((1, 0), (0, 2)), value=-3.0).numpy(),
                                          np.pad(a, ((1, 0), (0, 2)), constant_values=-3.0))
            idx = RNG.integers(-n, n, size=(3, 4))
            np.testing.assert_array_equal(x.take_along_axis(on(emu, idx), 1).numpy(),
                                          np.take_along_axis(a, idx % n, 1))
            c = (a + 1j * a).astype(np.complex128)
            np.testing.assert_allclose((on(emu, c) * (0.5 - 2j)).numpy(), c * (0.5 - 2j), rtol=1e-12)
            i = RNG.integers(-50, 50, size=(n,)).astype(np.int64)
            np.testing.assert_array_equal((on(emu, i) // 7 + (2 ** 40)).numpy(), i // 7 + 2 ** 40)


def test_emulated_random_bits_identical_to_cpu(emu):
    zyx.manual_seed(99)
    g = zyx.rand(5000, device=emu).numpy()
    gi = zyx.randint(-5, 1000, (777,), device=emu).numpy()
    zyx.manual_seed(99)
    np.testing.assert_array_equal(g, zyx.rand(5000, device="cpu").numpy())
    np.testing.assert_array_equal(gi, zyx.randint(-5, 1000, (777,), device="cpu").numpy())


@pytest.mark.slow  # many emulated kernels (gcc): run by `pytest -m slow`, as in .ci/run
def test_emulated_half_types_and_bitcast(emu):
    a = RNG.standard_normal((3, 100)).astype(np.float16)
    x = on(emu, a)
    h = zyx.Tensor(a, device="cpu")
    np.testing.assert_array_equal((x * x + 1).numpy(), (h * h + 1).numpy())
    np.testing.assert_array_equal(x.bitcast(dt.int16).numpy(), a.view(np.int16))
    np.testing.assert_array_equal(x.cast(dt.bfloat16).numpy(), h.cast(dt.bfloat16).numpy())
    np.testing.assert_array_equal(x.sum(axis=1).numpy(), h.sum(axis=1).numpy())
    np.testing.assert_array_equal(on(emu, a.view(np.int16)).bitcast(dt.float16).numpy(), a)


# ------------------------------------------------------------------ column reductions
# A reduction across rows whose loads run along the outputs (mean(axis=0)) takes the
# column-strip shape: a block owns 32 consecutive outputs, its row lanes stride down the
# rows, the lanes' partials meet in shared memory.
@needs_nvrtc
def test_column_reduction_plan_and_ptx():
    from zyx.kernels.render_cuda import column_plan, launch_config, uses_block_reduce
    x = cpu(_data(dt.float32, (1024, 2048)))
    k = kernels_of(x.mean(axis=0))[-1]
    cp = column_plan(k)
    assert cp is not None and uses_block_reduce(k)  # it used to take one block per column
    assert (cp.groups, cp.lanes) == (64, 32) and launch_config(k, 90) == (64, 1024)
    ptx, _ = cuda.compile_only(k)
    assert "bar.sync" in ptx and ".shared" in ptx
    # loads contiguous along the reduction keep the block per output; few rows stay per thread
    assert column_plan(kernels_of(x.sum(axis=1))[-1]) is None
    assert column_plan(kernels_of(cpu(_data(dt.float32, (40, 4096))).sum(axis=0))[-1]) is None
    wide = kernels_of(cpu(_data(dt.float32, (300, 1 << 17))).sum(axis=0))[-1]
    assert column_plan(wide) is None  # 131072 outputs: a thread each fills the GPU


@needs_nvrtc
def test_block_reduce_reads_16_byte_vectors():
    """A block per output whose loads run along the reduction reads float4s, 4 steps per
    thread; lengths not divisible by 4, misaligned views and other dtypes stay scalar."""
    from zyx.kernels.render_cuda import CUDARenderer, uses_block_reduce
    x = cpu(_data(dt.float32, (64, 4096)))
    k = kernels_of(x.sum(axis=1))[-1]
    assert uses_block_reduce(k) and "reinterpret_cast<const float4*>" in CUDARenderer(90).render(k)
    ptx, _ = cuda.compile_only(k)
    assert any("ld.global" in ln and ".v4.f32" in ln for ln in ptx.splitlines())
    for scalar in (cpu(_data(dt.float32, (64, 4097))).sum(axis=1), x[:, 1:4093].sum(axis=1),
                   cpu(_data(dt.float64, (64, 4096))).sum(axis=1)):
        assert "float4" not in CUDARenderer(90).render(kernels_of(scalar)[-1])


def test_emulated_vector_block_reductions(emu):
    a = RNG.standard_normal((5, 4096)).astype(np.float32)
    x = on(emu, a)
    np.testing.assert_allclose(x.sum(axis=1).numpy(), a.astype(np.float64).sum(1), rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(x.softmax(-1).numpy(), np.exp(a - a.max(1, keepdims=True)) /
                               np.exp(a - a.max(1, keepdims=True)).sum(1, keepdims=True), rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(x[:, 1:4093].sum(axis=1).numpy(), a[:, 1:4093].astype(np.float64).sum(1), rtol=1e-5,
                               atol=1e-3)
    ai = RNG.integers(-1000, 1000, size=(3, 2048)).astype(np.int32)
    np.testing.assert_array_equal(on(emu, ai).max(axis=1).numpy(), ai.max(1))


def test_emulated_column_reductions(emu):
    emu.backend.launches.clear()
    a = RNG.standard_normal((300, 100)).astype(np.float32)  # 4 strips of 32, the last partial
    x = on(emu, a)
    np.testing.assert_allclose(x.sum(axis=0).numpy(), a.astype(np.float64).sum(0), rtol=1e-5, atol=1e-4)
    assert any(block == 512 for _, _, block in emu.backend.launches)  # 16 row lanes x 32 columns
    an = RNG.standard_normal((256, 70)).astype(np.float32)
    an[100, 5] = np.nan
    np.testing.assert_array_equal(on(emu, an).max(axis=0).numpy(), an.max(0))
    ai = RNG.integers(-(2 ** 40), 2 ** 40, size=(257, 40))
    np.testing.assert_array_equal(on(emu, ai).sum(axis=0).numpy(), ai.sum(0))
    b = RNG.standard_normal((2, 130, 33))
    np.testing.assert_allclose(on(emu, b).sum(axis=1).numpy(), b.sum(1), rtol=1e-12)
    c = (RNG.standard_normal((96, 50)) + 1j * RNG.standard_normal((96, 50))).astype(np.complex64)
    np.testing.assert_allclose(on(emu, c).sum(axis=0).numpy(), c.astype(np.complex128).sum(0), rtol=1e-4)
    tall = RNG.standard_normal((20000, 40)).astype(np.float32)  # two-stage: chunks x 40 partials first
    np.testing.assert_allclose(on(emu, tall).sum(axis=0).numpy(), tall.astype(np.float64).sum(0), rtol=1e-4,
                               atol=1e-3)


# ------------------------------------------------------------------ correctness of spellings
# Constants are converted to their dtype before they are printed (NVRTC rejects a float
# literal out of the type's range) and printed exactly; signed integer arithmetic that
# may wrap is done in unsigned types (signed overflow is undefined behaviour in CUDA C,
# which a compiler may exploit); the complex helpers follow C99 Annex G.
@needs_nvrtc
def test_constants_out_of_range_compile_and_round():
    from zyx.kernels.render_cuda import CUDARenderer
    x = cpu(np.array([1.5, -2.0], np.float32))
    z = zyx.full((), complex(0, 3.34e-213), dtype=dt.complex64, device="cpu")
    v = cpu(np.array([3, -5, 2 ** 62], np.int64))
    outs = [x + 1e-300, x * 1e300, z, (-v) + (-9223372036854775808), x.cast(dt.float64) + 1e-300]
    for t in outs:
        for k in kernels_of(t):
            src = CUDARenderer(90).render(k)
            assert "e-300" not in src and "e-213" not in src and "e+300f" not in src
            cuda.compile_only(k)  # NVRTC: "floating constant is out of range" before
    np.testing.assert_array_equal((x + 1e-300).numpy(), np.array([1.5, -2.0], np.float32))
    assert np.isposinf((x * 1e300).numpy()[0])
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(((-v) + (-9223372036854775808)).numpy(),
                                      -v.numpy() + np.int64(-9223372036854775808))


def test_emulated_constants_are_exact(emu):
    """Every float constant reaches the kernel bit for bit (hex literals where the short
    decimal is not the exact value), and integer constants at the types' limits."""
    vals = RNG.standard_normal(6) * 10.0 ** RNG.integers(-40, 40, 6)
    for d in (np.float64, np.float32):
        c = [float(np.asarray(v, d)) for v in vals] + [0.1, -0.0, 5e-324 if d == np.float64 else 1e-45,
                                                       np.finfo(d).max, 1 / 3]
        one = on(emu, np.ones(1, d))
        got = zyx.stack([one * ci for ci in c]).numpy().ravel()
        np.testing.assert_array_equal(got.view(np.uint64 if d == np.float64 else np.uint32),
                                      np.asarray(c, d).view(np.uint64 if d == np.float64 else np.uint32))
    i64 = on(emu, np.zeros(1, np.int64))
    lims = [-(2 ** 63), 2 ** 63 - 1, -(2 ** 31), 2 ** 31 - 1]
    np.testing.assert_array_equal(zyx.stack([i64 + c for c in lims]).numpy().ravel(), np.array(lims, np.int64))
    u64 = on(emu, np.zeros(1, np.uint64))
    np.testing.assert_array_equal((u64 + (2 ** 64 - 1)).numpy(), [np.uint64(2 ** 64 - 1)])


@pytest.fixture(scope="module")
def emu_ubsan():
    """The emulator with kernels built under UBSan's signed-overflow and shift checks."""
    import shutil

    from zyx import device as zdev
    if shutil.which("g++") is None:
        pytest.skip("g++ is needed to run CUDA source on the host")
    dev = zdev.Device("cuda", 98, EmulatedCUDA(("-fsanitize=signed-integer-overflow,shift",)))
    zdev._devices[("cuda", 98)] = dev
    yield dev
    zdev._devices.pop(("cuda", 98), None)


@pytest.mark.parametrize("dtype", [dt.int32, dt.int64, dt.int16], ids=lambda d: d.name)
def test_emulated_integer_arithmetic_wraps_without_undefined_behaviour(emu_ubsan, dtype, capfd):
    """NumPy's wrap-around for + - * negate abs sum prod, with no signed overflow in the
    generated code (UBSan reports it on stderr; int16 overflows in its int64 product
    accumulator). uint16 products are spelled through uint32 too (65535 * 65535 overflows
    a promoted int), but gcc's UBSan does not report that case, so it is not listed."""
    info = np.iinfo(dtype.np)
    a = np.array([info.max, info.min, info.max - 1, info.min + 3, 7, -3 if info.min else 3], dtype.np)
    b = np.array([info.max, -1 if info.min else 1, 2, info.min, info.max, info.max], dtype.np)
    x, y = on(emu_ubsan, a), on(emu_ubsan, b)
    with np.errstate(over="ignore"):
        want = np.stack([a + b, a - b, a * b, -a, np.abs(a)])
        np.testing.assert_array_equal(zyx.stack([x + y, x - y, x * y, -x, x.abs()]).numpy(), want)
        red = dtype if dtype.itemsize >= 4 else None
        np.testing.assert_array_equal(x.sum(dtype=red).numpy(), a.sum(dtype=red and red.np))
        np.testing.assert_array_equal(x.prod(dtype=red).numpy(), a.prod(dtype=red and red.np))
    err = capfd.readouterr().err
    assert "runtime error" not in err, err


FLOAT_SPECIAL = [0.0, -0.0, 0.5, -2.0, 1.0, 30.0, 1e30, math.inf, -math.inf, math.nan]
COMPLEX_FUNCS = ["exp", "expm1", "log", "log1p", "sqrt", "sin", "cos", "tan", "sinh", "cosh", "tanh", "asin",
                 "acos", "atan", "asinh", "acosh", "atanh"]


@pytest.mark.parametrize("dtype", [dt.complex64, dt.complex128], ids=lambda d: d.name)
def test_emulated_complex_special_values_match_cpu(emu, dtype):
    """The CUDA complex helpers, run on the host, against the CPU device (C99 Annex G, as
    glibc implements it) on every pair of special and ordinary components: infinities,
    NaNs and zeros must agree exactly (sign included, also where the standard leaves a
    sign unspecified), finite values to the type's precision."""
    re = np.repeat(FLOAT_SPECIAL, len(FLOAT_SPECIAL))
    im = np.tile(FLOAT_SPECIAL, len(FLOAT_SPECIAL))
    z = np.empty(re.shape, dtype.np)
    z.real, z.imag = re, im

    def table(dev):
        t = zyx.Tensor(z, device=dev)
        return zyx.stack([getattr(t, f)() for f in COMPLEX_FUNCS]).numpy()
    want, got = table("cpu"), table(emu)
    rtol = 1e-5 if dtype is dt.complex64 else 1e-12
    bad = []
    for i, f in enumerate(COMPLEX_FUNCS):
        for j in range(z.size):
            for part in ("real", "imag"):
                w, g = getattr(want[i, j], part), getattr(got[i, j], part)
                if np.isnan(w) and np.isnan(g):
                    continue
                if np.isfinite(w) and w != 0 and abs(g - w) <= rtol * abs(w):
                    continue
                if w == g and np.signbit(w) == np.signbit(g):
                    continue
                bad.append(f"{f}({z[j]}).{part}: cpu {want[i, j]}, cuda {got[i, j]}")
    assert not bad, f"{len(bad)} differences:\n" + "\n".join(bad[:40])


# ------------------------------------------------------------------ tiled matmul
# Contractions (tile_c.plan's shape: one SUM over a product of an A-side value and a
# B-side value) render as a shared-memory tiled matmul. The SIMT path is compiled for
# sm_90 *and* run under the host emulation above (threads of a block are OS threads
# meeting at a std::barrier for __syncthreads). The tensor-core (WMMA) path cannot run
# on the host: it is compile-checked only (NVRTC + ptxas for sm_90).
def _mm_cases(dev):
    f32, f64, i32 = np.float32, np.float64, np.int32

    def t(shape, d=f32):
        if np.dtype(d).kind == "i":
            return RNG.integers(-9, 9, size=shape).astype(d)
        return RNG.standard_normal(shape).astype(d)

    def pair(a, b):
        return (zyx.Tensor(a, device=dev), zyx.Tensor(b, device=dev)), (a, b)

    cases = {}
    (x, w), (a, b) = pair(t((64, 64)), t((64, 64)))
    cases["nn_divisible"] = (x @ w, a @ b)
    (x, w), (a, b) = pair(t((65, 130)), t((130, 33)))
    cases["nn_ragged"] = (x @ w, a @ b)
    (x, w), (a, b) = pair(t((70, 45)), t((50, 45)))
    cases["nt"] = (x @ w.T, a @ b.T)
    (x, w), (a, b) = pair(t((37, 70)), t((37, 20)))
    cases["tn"] = (x.T @ w, a.T @ b)
    (x, w), (a, b) = pair(t((3, 20, 30)), t((3, 30, 40)))
    cases["batched"] = (x @ w, a @ b)
    (x, w), (a, b) = pair(t((40, 50)), t((50, 100)))
    bias = t((100,))
    cases["epilogue_bias_relu"] = ((x @ w + zyx.Tensor(bias, device=dev)).relu(), np.maximum(a @ b + bias, 0))
    cases["prologue_relu"] = (x.relu() @ w, np.maximum(a, 0) @ b)
    (x, w), (a, b) = pair(t((33, 47), i32), t((47, 18), i32))
    cases["int32"] = (x @ w, a @ b)
    (x, w), (a, b) = pair(t((50, 70), f64), t((70, 90), f64))
    cases["float64"] = (x @ w, a @ b)
    return cases


MM_CASES = ["nn_divisible", "nn_ragged", "nt", "tn", "batched", "epilogue_bias_relu", "prologue_relu", "int32",
            "float64"]


@needs_nvrtc
@pytest.mark.parametrize("case", MM_CASES)
def test_tiled_matmul_compiles(case):
    from zyx.kernels.render_cuda import CUDARenderer, launch_config, matmul_plan
    got, _ = _mm_cases("cpu")[case]
    k = kernels_of(got)[-1]
    mm = matmul_plan(k, 90)
    assert mm is not None and mm.wmma is None, f"{case}: expected the tiled matmul path"
    assert launch_config(k, 90) == (mm.tiles, 256)
    src = CUDARenderer(90).render(k)
    assert "__shared__" in src and "__syncthreads();" in src and "mma.h" not in src
    ptx, _ = cuda.compile_only(k, 90)
    assert "bar.sync" in ptx and ".shared" in ptx


@pytest.mark.parametrize("case", MM_CASES)
def test_emulated_tiled_matmul(emu, case):
    from zyx.kernels.render_cuda import matmul_plan
    got, want = _mm_cases(emu)[case]
    assert matmul_plan(kernels_of(got)[-1]) is not None, f"{case}: expected the tiled matmul path"
    emu.backend.launches.clear()
    res = got.numpy()
    if want.dtype.kind == "i":
        np.testing.assert_array_equal(res, want)
    else:
        np.testing.assert_allclose(res, want, rtol=1e-4 if want.dtype == np.float32 else 1e-12, atol=1e-4)
    assert emu.backend.launches[-1][2] == 256


def test_emulated_half_matmul_without_tensor_cores(emu):
    """float16 / bfloat16 on a device without tensor cores (the emulator: cc 0) takes the
    SIMT tile, with float32 accumulation."""
    from zyx.kernels.render_cuda import matmul_plan
    a, b = RNG.standard_normal((40, 64)).astype(np.float16), RNG.standard_normal((64, 72)).astype(np.float16)
    x, w = on(emu, a), on(emu, b)
    mm = matmul_plan(kernels_of(x @ w)[-1])
    assert mm is not None and mm.wmma is None
    want = (a.astype(np.float32) @ b.astype(np.float32)).astype(np.float16)
    np.testing.assert_allclose((x @ w).numpy().astype(np.float32), want.astype(np.float32), rtol=2e-3, atol=2e-3)


def test_non_contractions_keep_plain_rendering():
    from zyx.kernels.render_cuda import matmul_plan
    x = cpu(_data(dt.float32, (40, 50)))
    w = cpu(_data(dt.float32, (50, 60)))
    assert matmul_plan(kernels_of(x.sum(axis=1))[-1], 90) is None
    assert matmul_plan(kernels_of((x.reshape(40, 50, 1) * w.reshape(1, 50, 60)).max(axis=1))[-1], 90) is None
    assert matmul_plan(kernels_of(x + 1)[-1], 90) is None
    small = cpu(_data(dt.float32, (8, 50)))
    assert matmul_plan(kernels_of(small @ w)[-1], 90) is None  # 8 rows: thread per output


@needs_nvrtc
@pytest.mark.parametrize("dtype", [dt.float16, dt.bfloat16], ids=lambda d: d.name)
@pytest.mark.parametrize("shape", [(70, 40, 90), (2, 33, 50, 17)])
def test_tensor_core_matmul_compiles(dtype, shape):
    """WMMA 16x16x16 fragments for half inputs with float32 accumulation, where the
    operands do not read in aligned 16-byte chunks (90 columns, 50-element rows) for the
    mma.sync pipeline: compile-checked for sm_90 only (WMMA is not emulated on the host)."""
    from zyx.kernels.render_cuda import CUDARenderer, launch_config, matmul_plan
    *batch, m, kk, n = shape
    x = cpu(_data(dt.float32, (*batch, m, kk)), dtype)
    w = cpu(_data(dt.float32, (*batch, kk, n)), dtype)
    k = kernels_of(x @ w)[-1]
    mm = matmul_plan(k, 90)
    assert mm is not None and mm.kind == "wmma" and mm.wmma is dtype
    assert launch_config(k, 90) == (mm.tiles, 128)
    src = CUDARenderer(90).render(k)
    assert "#include <mma.h>" in src and "mma_sync" in src
    ptx, _ = cuda.compile_only(k, 90)
    assert "wmma.mma.sync" in ptx and "bar.sync" in ptx
    # no tensor cores before sm_70, no bfloat16 ones before sm_80: the SIMT tile instead
    assert matmul_plan(k, 0).wmma is None
    assert (matmul_plan(k, 75).wmma is None) == (dtype is dt.bfloat16)
    assert "mma.h" not in CUDARenderer(0).render(k)


@needs_nvrtc
def test_tensor_core_matmul_with_fused_epilogue_compiles():
    from zyx.kernels.render_cuda import matmul_plan
    x = cpu(_data(dt.float32, (100, 48)), dt.float16)
    w = cpu(_data(dt.float32, (48, 80)), dt.float16)
    bias = cpu(_data(dt.float32, (80,)), dt.float16)
    k = kernels_of((x @ w + bias).relu())[-1]
    assert matmul_plan(k, 75).wmma is dt.float16
    ptx, _ = cuda.compile_only(k, 75)
    assert "wmma.store" in ptx or "wmma.mma.sync" in ptx


@needs_nvrtc
def test_tensor_core_path_needs_plain_half_loads():
    """A fused float32 prologue (a scale) is not exact in half: it stays on the SIMT tile."""
    from zyx.kernels.render_cuda import matmul_plan
    x = cpu(_data(dt.float32, (64, 64)), dt.float16)
    w = cpu(_data(dt.float32, (64, 64)), dt.float16)
    k = kernels_of((x.cast(dt.float32) * 1.5) @ w.cast(dt.float32))[-1]
    mm = matmul_plan(k, 90)
    assert mm is not None and mm.wmma is None
    cuda.compile_only(k, 90)


# ------------------------------------------------------------------ tensor-core and register-blocked matmuls
# 128 x 128 tiles: mma.sync m16n8k16 (float16 / bfloat16) or m16n8k8 (TF32, opt-in) fed by
# ldmatrix from swizzled shared memory through a 3-stage cp.async pipeline, and a
# register-blocked FFMA kernel for float32. The host emulation implements ldmatrix,
# mma.sync and cp.async (see _SHIM), so the fragment indexing, swizzles, pipeline and edge
# tiles are run against NumPy here; NVRTC + ptxas check the real instructions.
def _big_mm_cases(dev, dtype, names=("nn", "tn", "nt_bias_relu", "batched")):
    """(name, lazy product, float64 reference): ragged tiles, a K spanning more k-tiles
    than pipeline stages (nn) or ending in a partial one (K = 40), every operand layout, a
    fused epilogue, a batch."""
    a, b = RNG.standard_normal((136, 160)), RNG.standard_normal((160, 200))
    a2, b2 = a[:, :40], b[:40]
    bias = RNG.standard_normal(200)
    a3, b3 = RNG.standard_normal((2, 130, 40)), RNG.standard_normal((2, 40, 136))

    def t(v):
        return zyx.Tensor(np.ascontiguousarray(v).astype(dtype.np), device=dev)

    def r(v):
        return v.astype(dtype.np).astype(np.float64)
    cases = {"nn": lambda: (t(a) @ t(b), r(a) @ r(b)),
             "tn": lambda: (t(a2.T).T @ t(b2), r(a2) @ r(b2)),
             "nt_bias_relu": lambda: ((t(a2) @ t(b2.T).T + t(bias)).relu(), np.maximum(r(a2) @ r(b2) + r(bias), 0)),
             "batched": lambda: (t(a3) @ t(b3), r(a3) @ r(b3))}
    return [(name, *cases[name]()) for name in names]


@pytest.fixture(scope="module")
def emu90():
    """The emulator rendering for sm_90: the mma.sync / TF32 / FFMA shapes."""
    import shutil

    from zyx import device as zdev
    if shutil.which("g++") is None:
        pytest.skip("g++ is needed to run CUDA source on the host")
    dev = zdev.Device("cuda", 97, EmulatedCUDA(cc=90))
    zdev._devices[("cuda", 97)] = dev
    yield dev
    zdev._devices.pop(("cuda", 97), None)


@pytest.fixture
def tf32_allowed():
    cuda.set_allow_tf32(True)
    yield
    cuda.set_allow_tf32(False)


@pytest.mark.slow  # many emulated kernels (gcc): run by `pytest -m slow`, as in .ci/run
@pytest.mark.parametrize("dtype,kind,names", [(dt.float16, "mma", ("nn", "tn", "nt_bias_relu", "batched")),
                                              (dt.bfloat16, "mma", ("nt_bias_relu",)),
                                              (dt.float32, "ffma", ("tn", "nt_bias_relu"))],
                         ids=["float16", "bfloat16", "float32"])
def test_emulated_big_matmuls(emu90, dtype, kind, names):
    """Every case for float16; the others share its code but for the mma instruction
    (bfloat16) or are a different kernel (FFMA: its two operand layouts)."""
    from zyx.kernels.render_cuda import matmul_plan
    from zyx.realize import specialization
    tol = {"float16": 2e-3, "bfloat16": 1e-2, "float32": 1e-5}[dtype.name]
    for name, got, want in _big_mm_cases(emu90, dtype, names):
        mm = matmul_plan(kernels_of(got)[-1], 90)
        assert mm is not None and mm.kind == kind, f"{name}: {mm and mm.kind}"
        with specialization("always"):  # the specialised kernel, not the generic one, computes it
            res = got.numpy().astype(np.float64)
        np.testing.assert_allclose(res, want, rtol=tol, atol=tol * np.abs(want).max(), err_msg=name)


def test_emulated_tf32_matmul(emu90, tf32_allowed):
    from zyx.kernels.render_cuda import matmul_plan
    from zyx.realize import specialization
    for name, got, want in _big_mm_cases(emu90, dt.float32, ("tn", "nt_bias_relu")):
        assert matmul_plan(kernels_of(got)[-1], 90).kind == "tf32", name
        with specialization("always"):  # (the generic kernel computes in plain float32)
            err = np.abs(got.numpy() - want).max() / np.abs(want).max()
        assert 1e-5 < err < 2e-3, f"{name}: relative error {err} is not TF32's"


def test_tf32_permission_is_part_of_stored_kernels(emu90, tmp_path, monkeypatch):
    """A specialised version built while TF32 was allowed is stored on disk; with TF32
    forbidden again the same product must not load it (the permission is in the stored plans'
    and specialised versions' keys: ``Backend.plan_identity``)."""
    from zyx.realize import specialization
    monkeypatch.setenv("ZYX_CACHE_DIR", str(tmp_path))
    with specialization("always"):
        cuda.set_allow_tf32(True)
        try:
            (_, got, want), = _big_mm_cases(emu90, dt.float32, ("tn",))
            err = np.abs(got.numpy() - want).max() / np.abs(want).max()
            assert 1e-5 < err < 2e-3, f"relative error {err} is not TF32's"
        finally:
            cuda.set_allow_tf32(False)  # (drops the in-memory schedules: the next come from disk)
        (_, got, want), = _big_mm_cases(emu90, dt.float32, ("tn",))
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, atol=1e-5 * np.abs(want).max())


@needs_nvrtc
@pytest.mark.parametrize("dtype", [dt.float16, dt.bfloat16, dt.float32], ids=lambda d: d.name)
def test_big_matmul_ptx(dtype, tf32_allowed):
    """The real instructions: mma.sync m16n8k16 / m16n8k8 (TF32) with ldmatrix (.trans for
    operands contiguous along the output) and cp.async, 48 KiB of static shared memory."""
    from zyx.kernels.render_cuda import CUDARenderer, launch_config, matmul_plan
    for name, got, _ in _big_mm_cases("cpu", dtype):
        k = kernels_of(got)[-1]
        mm = matmul_plan(k, 90)
        assert mm.kind == ("tf32" if dtype is dt.float32 else "mma") and launch_config(k, 90) == (mm.tiles, 256)
        ptx, _ = cuda.compile_only(k, 90)
        shape = "m16n8k8" if dtype is dt.float32 else "m16n8k16"
        assert f"mma.sync.aligned.{shape}.row.col.f32" in ptx and "cp.async.cg.shared.global" in ptx, name
        # .trans for an operand contiguous along its output axis (B in nn, both in tn); TF32
        # reads such operands with scalar loads (ldmatrix transposes 16-bit elements)
        mn_major = name != "nt_bias_relu"
        assert ("ldmatrix.sync.aligned.m8n8.x4.trans" in ptx) == (mn_major and dtype is not dt.float32), name
        if dtype is dt.float32:
            assert "cvt.rna.tf32.f32" in ptx
        assert "mma.h" not in CUDARenderer(90).render(k)


@needs_nvrtc
def test_ffma_matmul_ptx():
    from zyx.kernels.render_cuda import matmul_plan
    for name, got, _ in _big_mm_cases("cpu", dt.float32):
        k = kernels_of(got)[-1]
        assert matmul_plan(k, 90).kind == "ffma", name
        ptx, _ = cuda.compile_only(k, 90)
        assert "fma.rn.f32" in ptx and "ld.shared.v4.f32" in ptx, name


def test_big_matmul_switches(monkeypatch):
    """ZYX_CUDA_MMA=0 / ZYX_CUDA_FFMA=0 fall back to WMMA / the SIMT tile; unaligned
    operands (a 1-element offset view) and small outputs never take the new shapes."""
    from zyx.kernels.render_cuda import matmul_plan
    x, w = cpu(_data(dt.float32, (256, 64)), dt.float16), cpu(_data(dt.float32, (64, 256)), dt.float16)
    k = kernels_of(x @ w)[-1]
    assert matmul_plan(k, 90).kind == "mma" and matmul_plan(k, 75).kind == "wmma"
    monkeypatch.setenv("ZYX_CUDA_MMA", "0")
    assert matmul_plan(k, 90).kind == "wmma"
    monkeypatch.delenv("ZYX_CUDA_MMA")
    assert matmul_plan(kernels_of(x[:, 1:] @ w[1:])[-1], 90).kind == "wmma"
    xf, wf = x.cast(dt.float32).realize(), w.cast(dt.float32).realize()
    kf = kernels_of(xf @ wf)[-1]
    assert matmul_plan(kf, 90).kind == "ffma" and matmul_plan(kf, 0).kind == "ffma"
    monkeypatch.setenv("ZYX_CUDA_FFMA", "off")
    assert matmul_plan(kf, 90).kind == "simt"
    monkeypatch.delenv("ZYX_CUDA_FFMA")
    assert matmul_plan(kernels_of(xf[:100] @ wf)[-1], 90).kind == "simt"  # 100 rows: under one 128 tile
    assert matmul_plan(kernels_of(xf.relu() @ wf)[-1], 90).kind == "simt"  # a prologue: staged values
    assert not cuda.allow_tf32()


# ------------------------------------------------------------------ pinned transfers
class _FakeDriver:
    """Just enough of the driver API for the staging logic. Async copies run only when
    the stream is synchronized, as a real DMA engine may: a staging half overwritten
    before its copy has run shows up as wrong data."""

    def __init__(self):
        from cuda.bindings import driver
        self.CUresult = driver.CUresult
        self.CUevent_flags = driver.CUevent_flags
        self.pending, self.buffers, self.freed, self.allocs, self.direct = [], {}, [], [], []
        self.fail = None
        self.events_created, self.events_destroyed, self.event_flags, self.records = [], [], [], 0
        self.stream_syncs = 0

    def _ret(self, name, *vals):
        if self.fail == name:
            return (self.CUresult.CUDA_ERROR_INVALID_VALUE, *([0] * len(vals)))
        return (0, *vals)

    def cuMemHostAlloc(self, n, flags):
        buf = ctypes.create_string_buffer(n)
        self.buffers[ctypes.addressof(buf)] = buf
        self.allocs.append(n)
        return self._ret("cuMemHostAlloc", ctypes.addressof(buf))

    def cuMemFreeHost(self, p):
        self.freed.append(self.buffers.pop(p) and p)
        return self._ret("cuMemFreeHost")

    def _copy(self, name, dst, src, n):
        self.direct.append(src)
        self.pending.append(lambda: ctypes.memmove(dst, src, n))
        return self._ret(name)

    def _run_until(self, stop):
        """Run queued work in order up to and including ``stop`` (None: everything)."""
        while self.pending:
            op = self.pending.pop(0)
            if callable(op):
                op()
            if op is stop:
                return

    def cuEventCreate(self, flags):
        ev = object()
        self.events_created.append(ev)
        self.event_flags.append(flags)
        return self._ret("cuEventCreate", ev)

    def cuEventRecord(self, ev, stream):
        assert ev in self.events_created and ev not in self.events_destroyed
        self.records += 1
        # a re-recorded event now marks this later point in the stream
        self.pending = [op for op in self.pending if not (isinstance(op, tuple) and op[1] is ev)]
        self.pending.append(("event", ev))
        return self._ret("cuEventRecord")

    def cuEventSynchronize(self, ev):
        mark = next((op for op in self.pending if isinstance(op, tuple) and op[1] is ev), None)
        if mark is not None:
            self._run_until(mark)
        return self._ret("cuEventSynchronize")

    def cuEventDestroy(self, ev):
        self.events_destroyed.append(ev)
        return self._ret("cuEventDestroy")

    def cuMemFree(self, p):  # the "device memory" of these tests is NumPy's
        return self._ret("cuMemFree")

    def cuMemcpyDtoH(self, dst, src, n):  # synchronous, not ordered with the stream
        ctypes.memmove(dst, src, n)
        return self._ret("cuMemcpyDtoH")

    def cuLaunchKernel(self, func, gx, gy, gz, bx, by, bz, shared, stream, params, extra):
        """``func(pointers)`` runs when the stream gets to it; the parameters are read now."""
        n = func.nbuf
        slots = (ctypes.c_uint64 * n).from_address(params)
        ptrs = [ctypes.c_uint64.from_address(a).value for a in slots]
        self.pending.append(lambda: func(ptrs))
        return self._ret("cuLaunchKernel")

    def cuMemcpyHtoDAsync(self, dst, src, n, stream):
        return self._copy("cuMemcpyHtoDAsync", dst, src, n)

    def cuMemcpyDtoHAsync(self, dst, src, n, stream):
        return self._copy("cuMemcpyDtoHAsync", dst, src, n)

    def cuStreamSynchronize(self, stream):
        self.stream_syncs += 1
        self._run_until(None)
        return self._ret("cuStreamSynchronize")

    def cuCtxSetCurrent(self, ctx):
        return (0,)


def _fake_backend(chunk=None):
    drv = _FakeDriver()
    be = object.__new__(cuda.CUDABackend)
    be.drv, be.ctx, be.stream = drv, None, None
    be.staging = cuda.PinnedStaging(drv, **({"chunk": chunk} if chunk else {}))
    be.events = cuda.EventPool(drv)
    be._lock, be._free = threading.Lock(), {}
    return be, drv


@pytest.mark.parametrize("nbytes", [(1 << 20), 3 * (1 << 20) + 12345, 20 * (1 << 20) + 7])
def test_pinned_staging_round_trip(nbytes):
    be, drv = _fake_backend(chunk=1 << 20)  # small chunks: many double-buffered rounds
    host = RNG.integers(0, 256, size=nbytes, dtype=np.uint8)
    device = np.zeros(nbytes + 256, np.uint8)
    h = cuda.CUDABuffer(device.ctypes.data, device.nbytes)
    be.copy_in(h, host)
    assert not drv.pending
    np.testing.assert_array_equal(device[:nbytes], host)
    assert drv.allocs and all(s not in drv.direct for s in [host.ctypes.data])  # went through staging
    back = be.copy_out(h, nbytes, dt.uint8)
    np.testing.assert_array_equal(back, host)
    assert len(drv.allocs) == 1, "the staging buffer is reused, not reallocated"
    f = RNG.standard_normal(nbytes // 8 + 1)  # any dtype: bytes are bytes
    device2 = np.zeros(f.nbytes + 256, np.uint8)
    h2 = cuda.CUDABuffer(device2.ctypes.data, device2.nbytes)
    be.copy_in(h2, f)
    np.testing.assert_array_equal(be.copy_out(h2, f.size, dt.float64), f)
    be.staging.release()
    assert len(drv.freed) == len(drv.allocs) and not drv.buffers


def test_small_transfers_skip_staging_and_errors_name_the_call():
    be, drv = _fake_backend()
    small = RNG.standard_normal(1000).astype(np.float32)
    device = np.zeros(small.nbytes, np.uint8)
    h = cuda.CUDABuffer(device.ctypes.data, device.nbytes)
    be.copy_in(h, small)
    assert drv.direct == [small.ctypes.data] and not drv.allocs
    np.testing.assert_array_equal(be.copy_out(h, 1000, dt.float32), small)
    big = np.ones(1 << 20, np.uint8)
    dev_big = np.zeros(big.nbytes, np.uint8)
    hb = cuda.CUDABuffer(dev_big.ctypes.data, dev_big.nbytes)
    drv.fail = "cuMemcpyHtoDAsync"
    with pytest.raises(cuda.CUDAError, match="cuMemcpyHtoDAsync failed: CUDA_ERROR_INVALID_VALUE"):
        be.copy_in(hb, big)
    drv.fail = "cuMemHostAlloc"
    be.staging.release()
    with pytest.raises(cuda.CUDAError, match=r"cuMemHostAlloc\(\d+ bytes\) failed"):
        be.copy_in(hb, big)


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", [dt.float32, dt.float16, dt.bfloat16, dt.float64, dt.int32], ids=lambda d: d.name)
def test_gpu_tiled_matmul(dtype):
    """The tiled matmul (tensor cores for float16 / bfloat16 where the GPU has them)."""
    dev = _gpu_device()
    for m, kk, n in [(64, 64, 64), (130, 70, 33), (257, 300, 129)]:
        a, b = _data(dt.float32, (m, kk)), _data(dt.float32, (kk, n))
        if dtype.kind == "i":
            a, b = np.round(a * 4), np.round(b * 4)
        # realized inputs, so the loads are plain dtype loads (the tensor-core condition)
        x = zyx.Tensor(a, device=dev).cast(dtype).realize()
        w = zyx.Tensor(b, device=dev).cast(dtype).realize()
        wt = zyx.Tensor(np.ascontiguousarray(b.T), device=dev).cast(dtype).realize()
        a64, b64 = x.to("cpu").cast(dt.float64).numpy(), w.to("cpu").cast(dt.float64).numpy()
        tol = {2: 1e-2, 4: 1e-4, 8: 1e-12}[dtype.itemsize]
        np.testing.assert_allclose((x @ w).cast(dt.float64).numpy(), a64 @ b64, rtol=tol, atol=tol * 10)
        np.testing.assert_allclose((x @ wt.T + 1).cast(dt.float64).numpy(), a64 @ b64 + 1, rtol=tol, atol=tol * 10)


@pytest.mark.cuda
def test_gpu_large_transfers_use_pinned_staging():
    dev = _gpu_device()
    a = RNG.standard_normal((3 << 20) + 5).astype(np.float32)  # 12 MiB: several staging chunks
    x = zyx.Tensor(a, device=dev)
    np.testing.assert_array_equal(x.numpy(), a)
    assert zyx.get_device(dev).backend.staging.size > 0


# ------------------------------------------------------------------ GPU checks of the issue 15 kernels
@pytest.mark.cuda
@pytest.mark.parametrize("dtype,tf32", [(dt.float16, False), (dt.bfloat16, False), (dt.float32, False),
                                        (dt.float32, True)], ids=["float16", "bfloat16", "float32", "tf32"])
def test_gpu_big_matmuls(dtype, tf32):
    """mma.sync (float16 / bfloat16 / TF32) and the FFMA kernel on the GPU, every operand
    layout, ragged tiles, a fused bias + relu epilogue; the kernel shape is asserted."""
    from zyx.kernels.render_cuda import matmul_plan
    dev = _gpu_device()
    be = zyx.get_device(dev).backend
    kind = "ffma" if dtype is dt.float32 and not tf32 else ("tf32" if tf32 else "mma")
    if kind != "ffma" and be.target_cc < 80:
        pytest.skip(f"{be.name} has no sm_80 tensor cores")
    cuda.set_allow_tf32(tf32)
    try:
        tol = {"float16": 2e-3, "bfloat16": 1e-2, "float32": 3e-3 if tf32 else 1e-5}[dtype.name]
        a, b = (RNG.standard_normal(s).astype(dtype.np) for s in ((1000, 520), (520, 776)))
        large = zyx.Tensor(a, device=dev) @ zyx.Tensor(b, device=dev)
        cases = _big_mm_cases(dev, dtype) + [("large", large, a.astype(np.float64) @ b.astype(np.float64))]
        for name, got, want in cases:
            assert matmul_plan(kernels_of(got)[-1], be.target_cc).kind == kind, name
            res = got.numpy().astype(np.float64)
            np.testing.assert_allclose(res, want, rtol=tol, atol=tol * np.abs(want).max(), err_msg=name)
    finally:
        cuda.set_allow_tf32(False)


@pytest.mark.cuda
def test_gpu_column_reductions():
    dev = _gpu_device()
    a = RNG.standard_normal((3000, 2000)).astype(np.float32)
    x = zyx.Tensor(a, device=dev)
    np.testing.assert_allclose(x.mean(axis=0).numpy(), a.astype(np.float64).mean(0), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(x.var(axis=0).numpy(), a.astype(np.float64).var(0), rtol=1e-4)
    np.testing.assert_array_equal(x.max(axis=0).numpy(), a.max(0))
    ai = RNG.integers(-(2 ** 40), 2 ** 40, size=(700, 300))
    np.testing.assert_array_equal(zyx.Tensor(ai, device=dev).sum(axis=0).numpy(), ai.sum(0))


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", [dt.complex64, dt.complex128], ids=lambda d: d.name)
def test_gpu_complex_special_values_match_cpu(dtype):
    """The Annex G table of test_emulated_complex_special_values_match_cpu on the GPU."""
    dev = _gpu_device()
    re = np.repeat(FLOAT_SPECIAL, len(FLOAT_SPECIAL))
    im = np.tile(FLOAT_SPECIAL, len(FLOAT_SPECIAL))
    z = np.empty(re.shape, dtype.np)
    z.real, z.imag = re, im
    want, got = ((lambda t: zyx.stack([getattr(t, f)() for f in COMPLEX_FUNCS]).numpy())(zyx.Tensor(z, device=d))
                 for d in ("cpu", dev))
    rtol = 1e-5 if dtype is dt.complex64 else 1e-12
    bad = [f"{f}({z[j]}).{part}" for i, f in enumerate(COMPLEX_FUNCS) for j in range(z.size)
           for part in ("real", "imag")
           for w, g in [(getattr(want[i, j], part), getattr(got[i, j], part))]
           if not ((np.isnan(w) and np.isnan(g)) or (np.isfinite(w) and w != 0 and abs(g - w) <= rtol * abs(w))
                   or (w == g and np.signbit(w) == np.signbit(g)))]
    assert not bad, f"{len(bad)} differences: {bad[:20]}"


@pytest.mark.cuda
def test_gpu_constants_and_integer_wraparound():
    dev = _gpu_device()
    x = zyx.Tensor(np.array([1.5, -2.0], np.float32), device=dev)
    np.testing.assert_array_equal((x + 1e-300).numpy(), [1.5, -2.0])
    z = zyx.full((), complex(0, 3.34e-213), dtype=dt.complex64, device=dev)
    assert z.numpy() == 0
    v = zyx.Tensor(np.array([3, -5, 2 ** 62], np.int64), device=dev)
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(((-v) + (-9223372036854775808)).numpy(),
                                      -v.numpy() + np.int64(-9223372036854775808))
        a = np.array([2 ** 31 - 1, -2 ** 31, 12345, -7], np.int32)
        b = np.array([2 ** 31 - 1, -1, 2 ** 20, 2 ** 31 - 1], np.int32)
        xa, xb = zyx.Tensor(a, device=dev), zyx.Tensor(b, device=dev)
        got = ((xa * xb + xa) ^ 2147483647) // ((xa - xb) | 1)  # one fused kernel that wraps
        np.testing.assert_array_equal(got.numpy(), ((a * b + a) ^ 2147483647) // ((a - b) | 1))


# ------------------------------------------------------------------ vectorized elementwise
# Plain elementwise kernels whose innermost output extent is a multiple of 4 (float32 /
# int32 / uint32 outputs) compute 4 outputs per thread; aligned unit-stride loads and the
# store become one 16-byte vector access, everything else stays scalar.
def _vector_accesses(k):
    from zyx.kernels.render_cuda import CUDARenderer
    src = CUDARenderer(90).render(k)
    return src.count("reinterpret_cast<const "), src.count("*reinterpret_cast<float4*>") \
        + src.count("*reinterpret_cast<int4*>") + src.count("*reinterpret_cast<uint4*>")


@needs_nvrtc
@pytest.mark.parametrize("dtype,ptx_type", [(dt.float32, "f32"), (dt.int32, "u32"), (dt.uint32, "u32")],
                         ids=lambda v: getattr(v, "name", v))
def test_vectorized_elementwise_ptx(dtype, ptx_type):
    from zyx.kernels.render_cuda import launch_config, vector_width
    x, y = cpu(_data(dtype, (16, 64))), cpu(_data(dtype, (16, 64)))
    out = (x * 3 + y) * x if dtype.kind != "f" else ((x * 2.5).exp() + y).sin()
    (k,) = kernels_of(out)
    assert vector_width(k) == 4
    assert launch_config(k, 90) == (1, 256)  # 1024 outputs, 256 threads of 4
    assert _vector_accesses(k) == (2, 1)
    ptx, _ = cuda.compile_only(k)
    lines = ptx.splitlines()
    assert any("ld.global" in ln and f".v4.{ptx_type}" in ln for ln in lines), "no 16-byte vector load"
    assert any("st.global" in ln and ".v4." in ln for ln in lines), "no 16-byte vector store"


@needs_nvrtc
def test_unaligned_view_loads_stay_scalar():
    from zyx.kernels.render_cuda import CUDARenderer, vector_width
    a, b = _data(dt.float32, (13,)), _data(dt.float32, (13,))
    (k,) = kernels_of(cpu(a)[1:] + cpu(b)[:-1])
    assert vector_width(k) == 4
    src = CUDARenderer(90).render(k)
    assert src.count("reinterpret_cast<const float4*>") == 1  # b[:-1] starts aligned, a[1:] does not
    shifted = [ln for ln in src.splitlines() if "+ 1)]" in ln]
    assert len(shifted) == 4 and not any("reinterpret_cast" in ln for ln in shifted)
    ptx, _ = cuda.compile_only(k)
    assert any("ld.global" in ln and ".v4.f32" in ln for ln in ptx.splitlines())
    assert any("ld.global" in ln and ".v4" not in ln and ".f32" in ln for ln in ptx.splitlines())


@needs_nvrtc
def test_other_kernels_do_not_vectorize():
    from zyx.kernels.render_cuda import vector_width
    x = cpu(_data(dt.float32, (8, 30)))
    assert vector_width(kernels_of(x + cpu(_data(dt.float32, (30,))))[-1]) == 1  # rows of 30 (a broadcast row)
    assert vector_width(kernels_of(x + 1)[-1]) == 4  # contiguous: one fused loop of 240
    assert vector_width(kernels_of(x.cast(dt.float64) + 1)[-1]) == 1  # 8-byte outputs
    w = cpu(_data(dt.float32, (8, 32)))
    assert vector_width(kernels_of(w.sum(axis=0))[-1]) == 1  # a reduction loop
    assert vector_width(kernels_of(w.cast(dt.float16))[-1]) == 1
    pad = kernels_of(cpu(_data(dt.float32, (3, 12))).pad(((0, 0), (2, 2))))[-1]
    assert vector_width(pad) == 4 and _vector_accesses(pad) == (0, 1)  # gated loads stay scalar
    cuda.compile_only(pad)


def _vec_cases(dev):
    f32, i32, u32 = np.float32, np.int32, np.uint32

    def t(shape, d=f32):
        if np.dtype(d).kind in "iu":
            return RNG.integers(0 if np.dtype(d).kind == "u" else -1000, 1000, size=shape).astype(d)
        return RNG.standard_normal(shape).astype(d)

    def on_(a):
        return zyx.Tensor(a, device=dev)

    a, b = t((64, 128)), t((64, 128))  # 8192 outputs: the grid-stride loop runs too
    cases = {"chain": ((on_(a) * 2.5 + on_(b)).exp() - 1, np.exp(a * np.float32(2.5) + b) - 1, 2)}
    c = t((3, 10))
    cases["ragged"] = (on_(c) * 2 + 1, c * 2 + 1, 0)
    row, col = t((32,)), t((6, 1))
    m = t((6, 32))
    cases["broadcast"] = (on_(m) + on_(row) * on_(col), m + row * col, 2)
    p = t((32, 8))
    cases["permuted"] = (on_(p).permute(1, 0) * 2, p.T * 2, 0)
    s = t((4, 64))
    cases["strided"] = (on_(s)[:, ::2] + 1, s[:, ::2] + 1, 0)
    o = t((3, 40))
    cases["offset_by_4"] = (on_(o)[:, 4:36] - on_(o)[:, 1:33], o[:, 4:36] - o[:, 1:33], 1)
    u, v = t((13,)), t((13,))
    cases["shifted_1d"] = (on_(u)[1:] + on_(v)[:-1], u[1:] + v[:-1], 1)
    q = t((3, 12))
    cases["padded"] = (on_(q).pad(((0, 0), (2, 2)), value=-1.0), np.pad(q, ((0, 0), (2, 2)), constant_values=-1), 0)
    ia, ib = t((5, 36), i32), t((5, 36), i32)
    cases["int32"] = (on_(ia) * 3 - on_(ib), ia * 3 - ib, 2)
    ua, ub = t((7, 16), u32), t((7, 16), u32)
    cases["uint32"] = ((on_(ua) ^ on_(ub)) + 7, (ua ^ ub) + np.uint32(7), 2)
    return cases


VEC_CASES = ["chain", "ragged", "broadcast", "permuted", "strided", "offset_by_4", "shifted_1d", "padded", "int32",
             "uint32"]


@pytest.mark.parametrize("case", VEC_CASES)
def test_emulated_vectorized_elementwise(emu, case):
    """The 4-outputs-per-thread path run on the host, against NumPy; ``nvec`` is how many
    loads of the case are 16-byte vector loads."""
    from zyx.kernels.render_cuda import vector_width
    got, want, nvec = _vec_cases(emu)[case]
    k = kernels_of(got)[-1]
    assert vector_width(k) == (1 if case == "ragged" else 4)
    assert _vector_accesses(k)[0] == nvec
    res = got.numpy()
    if want.dtype.kind == "f":
        np.testing.assert_allclose(res, want, rtol=1e-5, atol=1e-6)
    else:
        np.testing.assert_array_equal(res, want)


# ------------------------------------------------------------------ completion events
class _FakeKernel:
    """A "kernel" for the fake driver: ``fn(pointers)`` writes host memory standing in
    for device memory when the stream reaches it."""

    def __init__(self, nbuf, fn):
        self.nbuf, self.fn = nbuf, fn

    def __call__(self, ptrs):
        self.fn(ptrs)


def _fill_kernel(value):
    """Writes ``value`` to the 16 float32 of buffer 0."""
    def fn(ptrs):
        np.ctypeslib.as_array((ctypes.c_float * 16).from_address(ptrs[0]))[:] = value
    return cuda.CUDAProgram(None, _FakeKernel(1, fn), f"fill{value}", 1, 16, 1, 0, (0,))


def _device_buffers(n):
    mem = [np.zeros(16, np.float32) for _ in range(n)]
    return mem, [cuda.CUDABuffer(m.ctypes.data, m.nbytes) for m in mem]


def test_copy_out_waits_only_for_the_producing_kernel():
    be, drv = _fake_backend()
    mem, (a, b) = _device_buffers(2)
    be.launch(_fill_kernel(1.0), [a], [])
    be.launch(_fill_kernel(2.0), [b], [])
    assert not mem[0].any() and not mem[1].any()  # nothing has run yet
    np.testing.assert_array_equal(be.copy_out(a, 16, dt.float32), np.full(16, 1.0, np.float32))
    assert not mem[1].any(), "copy_out waited for a later, unrelated kernel"
    assert drv.stream_syncs == 0
    np.testing.assert_array_equal(be.copy_out(b, 16, dt.float32), np.full(16, 2.0, np.float32))
    assert drv.event_flags == [drv.CUevent_flags.CU_EVENT_DISABLE_TIMING] * 2
    # the latest writer counts
    be.launch(_fill_kernel(5.0), [a], [])
    np.testing.assert_array_equal(be.copy_out(a, 16, dt.float32), np.full(16, 5.0, np.float32))
    # a buffer no recorded launch wrote is ordered on the stream instead
    be.launch(_fill_kernel(7.0), [b], [])
    mem2, (c,) = _device_buffers(1)
    be.copy_out(c, 16, dt.float32)
    assert drv.stream_syncs == 1 and mem[1][0] == 7.0 and not be.events.writer


def test_events_are_a_reused_ring_and_destroyed():
    be, drv = _fake_backend()
    be.events = cuda.EventPool(drv, size=3)
    mem, bufs = _device_buffers(5)
    for i in range(5):
        be.launch(_fill_kernel(float(i + 1)), [bufs[i]], [])
    assert len(drv.events_created) == 3 and drv.records == 5
    # buffer 0's event was re-recorded after launch 3: waiting on it waits longer, never too short
    np.testing.assert_array_equal(be.copy_out(bufs[0], 16, dt.float32), np.full(16, 1.0, np.float32))
    for i in range(1, 5):
        np.testing.assert_array_equal(be.copy_out(bufs[i], 16, dt.float32), np.full(16, i + 1.0, np.float32))
    be.free(bufs[4])
    assert bufs[4].ptr == 0 and mem[4].ctypes.data not in be.events.writer
    be.empty_cache()
    assert drv.events_destroyed == drv.events_created and not be.events.events
    be.launch(_fill_kernel(9.0), [bufs[0]], [])  # a fresh ring after teardown
    assert len(drv.events_created) == 4


@pytest.mark.parametrize("call", ["cuEventCreate", "cuEventRecord", "cuEventSynchronize", "cuMemcpyDtoH"])
def test_event_errors_name_the_call(call):
    be, drv = _fake_backend()
    mem, (a,) = _device_buffers(1)
    drv.fail = call
    with pytest.raises(cuda.CUDAError, match=f"{call} failed: CUDA_ERROR_INVALID_VALUE"):
        be.launch(_fill_kernel(1.0), [a], [])
        be.copy_out(a, 16, dt.float32)


# ------------------------------------------------------------------ parallel compiles
def test_compile_many_runs_nvrtc_in_parallel(monkeypatch, tmp_path):
    """A schedule's new kernels go through NVRTC at once on a thread pool; kernels
    already on disk are not recompiled, and each result reaches ``compile``."""
    import time
    import types
    monkeypatch.setenv("ZYX_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(cuda, "COMPILE_THREADS", 4)
    monkeypatch.setattr(cuda, "nvrtc_version", lambda: (13, 0))
    be = object.__new__(cuda.CUDABackend)
    be.arch, be.cc, be.compiles = "sm_90", 90, 0
    be._lock, be._programs, be._prebuilt = threading.Lock(), {}, {}
    lock, running, peak, names = threading.Lock(), [0], [0], []

    def fake_nvrtc(src, arch, name):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
            names.append(name)
        time.sleep(0.2)
        with lock:
            running[0] -= 1
        return b"image of " + src.encode(), ""
    monkeypatch.setattr(cuda, "nvrtc_compile", fake_nvrtc)
    monkeypatch.setattr(cuda.CUDABackend, "compile",
                        lambda self, k, src: self._prebuilt.pop(self._program_key(src), None) or b"from disk")
    from zyx import cache
    cache.write("cuda", be._program_key("src3"), ".cubin", b"old")  # compiled by an earlier process
    items = [(types.SimpleNamespace(name=f"k{i}"), f"src{i}") for i in range(4)] + [(types.SimpleNamespace(name="k0"),
                                                                                     "src0")]
    got = be.compile_many(items)
    assert got[:3] == [b"image of src0", b"image of src1", b"image of src2"] and got[3] == b"from disk"
    assert sorted(names) == ["k0", "k1", "k2"] and be.compiles == 3  # src0 once, src3 from disk
    assert peak[0] >= 2, "NVRTC calls did not overlap"


@needs_nvrtc
def test_nvrtc_compiles_concurrently():
    """Real NVRTC from several threads at once (one program each) gives the same CUBINs."""
    from concurrent.futures import ThreadPoolExecutor

    from zyx.kernels.render_cuda import CUDARenderer
    x = cpu(_data(dt.float32, (8, 16)))
    srcs = [CUDARenderer(90).render(k) for k in (kernels_of((x * 3).exp())[0], kernels_of(x.sum(axis=1))[0],
                                                   kernels_of(x.cast(dt.float16) + 1)[0])]
    alone = [cuda.nvrtc_compile(s, "sm_90")[0] for s in srcs]
    with ThreadPoolExecutor(3) as pool:
        together = list(pool.map(lambda s: cuda.nvrtc_compile(s, "sm_90")[0], srcs))
    assert together == alone and all(img[:4] == b"\x7fELF" for img in together)
    assert "cuda_fp16.h" in srcs[2] and "cuda_fp16.h" not in srcs[0] and "cuda_bf16.h" not in srcs[2]
