"""DLPack exchange (zyx/_dlpack.py): zyx's own legacy and versioned capsules, bfloat16,
zero-copy sharing and its lifetimes, the standard's copy / device / stream semantics, and
errors that leave the process usable.

Without a GPU the kDLCUDA protocol runs against ``FakeCUDA``, a device registered as
``cuda:97`` whose memory is host memory and which records the stream fences it is asked
for. The GPU tests (``-m cuda``) exchange with PyTorch and CuPy on a real device.
"""
from __future__ import annotations

import ctypes
import gc
import sys
import weakref

import numpy as np
import pytest

import zyx
import zyx.array_api as xp
from zyx import _dlpack
from zyx import dtypes as dt

torch = pytest.importorskip("torch")

_is_valid = ctypes.pythonapi.PyCapsule_IsValid
_is_valid.restype, _is_valid.argtypes = ctypes.c_int, [ctypes.py_object, ctypes.c_char_p]


def capsule_kind(cap) -> str:
    for name in ("dltensor", "dltensor_versioned", "used_dltensor", "used_dltensor_versioned"):
        if _is_valid(cap, name.encode()):
            return name
    return "?"


def buffer_ref(t):
    t.realize()
    return weakref.ref(t._node.buffer)


class Producer:
    """A DLPack producer that records how zyx called it and what it returned."""

    def __init__(self, inner, device=(1, 0), legacy=False, stream=False):
        self.inner, self.device, self.legacy, self.calls, self.kinds = inner, device, legacy, [], []
        self.stream = stream  # pass the stream on (to a producer that takes it)

    def __dlpack_device__(self):
        return self.device

    def __dlpack__(self, **kw):
        self.calls.append(kw)
        if self.legacy and set(kw) - {"stream"}:
            raise TypeError("__dlpack__() got an unexpected keyword argument")
        if self.legacy:
            cap = self.inner.__dlpack__()
        else:
            kw = {k: v for k, v in kw.items() if k != "stream" or self.stream}
            cap = self.inner.__dlpack__(**kw)
        self.kinds.append(capsule_kind(cap))
        return cap


# ------------------------------------------------------------------ capsules and dtypes
def test_export_legacy_and_versioned_capsules():
    x = xp.reshape(xp.arange(6, dtype=xp.float32), (2, 3)) + 1
    legacy, versioned = x.__dlpack__(), x.__dlpack__(max_version=(1, 0))
    assert capsule_kind(legacy) == "dltensor" and capsule_kind(versioned) == "dltensor_versioned"
    assert capsule_kind(x.__dlpack__(max_version=(0, 8))) == "dltensor"
    m = _dlpack.DLManagedTensorVersioned.from_address(ctypes.pythonapi.PyCapsule_GetPointer(
        ctypes.py_object(versioned), b"dltensor_versioned"))
    assert (m.version.major, m.version.minor) == (1, 0) and m.flags == 0
    assert [m.dl_tensor.strides[i] for i in range(2)] == [3, 1] and m.dl_tensor.device.device_type == 1
    for cap in (legacy, versioned):
        t = torch.from_dlpack(cap)
        assert t.tolist() == [[1, 2, 3], [4, 5, 6]]
        assert capsule_kind(cap).startswith("used_")
    copied = x.__dlpack__(max_version=(1, 0), copy=True)
    m = _dlpack.DLManagedTensorVersioned.from_address(ctypes.pythonapi.PyCapsule_GetPointer(
        ctypes.py_object(copied), b"dltensor_versioned"))
    assert m.flags & _dlpack.FLAG_IS_COPIED
    assert m.dl_tensor.data != x._node.buffer.handle.ctypes.data


@pytest.mark.parametrize("dtype", [d for d in dt.ALL], ids=lambda d: d.name)
def test_every_dtype_round_trips_through_torch(dtype):
    tdt = getattr(torch, {"bool": "bool"}.get(dtype.name, dtype.name), None)
    if tdt is None:
        pytest.skip(f"torch has no {dtype.name}")
    x = xp.astype(xp.reshape(xp.arange(12, dtype=xp.int64), (3, 4)), dtype)
    t = torch.from_dlpack(x)
    assert t.dtype == tdt and t.shape == (3, 4)
    back = xp.from_dlpack(t)
    assert back.dtype is dtype
    np.testing.assert_array_equal(back.numpy(), x.numpy())


def test_bfloat16_both_ways_zero_copy_on_cpu():
    import ml_dtypes
    t = torch.arange(8, dtype=torch.bfloat16).reshape(2, 4) / 4
    z = xp.from_dlpack(t)
    assert z.dtype is dt.bfloat16 and z.device == "cpu"
    assert z._node.buffer.handle.ctypes.data == t.data_ptr()  # shared, not copied
    t[0, 0] = 7.5
    assert float(z[0, 0]) == 7.5
    y = z * 2
    ty = torch.from_dlpack(y)
    assert ty.dtype == torch.bfloat16 and ty.data_ptr() == y._node.buffer.handle.ctypes.data
    assert torch.equal(ty, t * 2)
    a = np.arange(5, dtype=ml_dtypes.bfloat16)
    w = xp.asarray(a)
    assert w.dtype is dt.bfloat16 and w.tolist() == [0, 1, 2, 3, 4]


def test_import_asks_for_versioned_capsules_and_reads_legacy_ones():
    a = np.arange(6.0)
    p = Producer(a)
    z = xp.from_dlpack(p)
    assert p.calls[0]["max_version"] == (1, 0) and p.kinds == ["dltensor_versioned"]
    q = Producer(a, legacy=True)
    z2 = xp.from_dlpack(q)
    assert q.kinds == ["dltensor"] and len(q.calls) == 2
    np.testing.assert_array_equal(z.numpy(), a)
    np.testing.assert_array_equal(z2.numpy(), a)
    a[0] = 9.0
    assert float(z[0]) == 9.0 and float(z2[0]) == 9.0  # both shared


# ------------------------------------------------------------------ copy and layout semantics
def test_copy_semantics():
    t = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    shared, copied = xp.from_dlpack(t), xp.from_dlpack(t, copy=True)
    p = Producer(np.arange(3.0))
    xp.from_dlpack(p, copy=True)
    assert p.calls[0]["copy"] is True  # the producer is asked to copy (and then zyx shares its copy)
    q = Producer(np.arange(3.0), legacy=True)
    c = xp.from_dlpack(q, copy=True)  # a producer that cannot copy: zyx copies
    q.inner[0] = 5.0
    assert float(c[0]) == 0.0
    t[0, 0] = -1
    assert float(shared[0, 0]) == -1 and float(copied[0, 0]) == 0
    x = xp.asarray([1.0, 2.0])
    tc = torch.from_dlpack(x.__dlpack__(copy=True))
    tc[0] = 10
    assert x.tolist() == [1.0, 2.0]
    with pytest.raises(ValueError, match="copy must be"):
        xp.from_dlpack(t, copy="yes")


@pytest.mark.parametrize("view", ["T", "slice", "column", "expand", "unsqueeze", "neg", "neg2", "neg_T", "0d"])
def test_strided_producers_are_lazy_views_of_their_memory(view):
    base = np.arange(48, dtype=np.int16).reshape(6, 8)
    tb = torch.from_numpy(base)
    src = {"T": tb.T, "slice": tb[1:, ::3], "column": tb[:, 5], "expand": torch.arange(3).expand(4, 3),
           "unsqueeze": tb.unsqueeze(1)[:, :, 2:], "neg": base[::-1], "neg2": base[::-2, 1::3],
           "neg_T": base.T[::-1, 2:], "0d": tb[2, 3]}[view]
    ref = src.numpy() if isinstance(src, torch.Tensor) else src
    z = xp.from_dlpack(src, copy=False)  # every one of these is readable in place
    assert z._node.op != "BUFFER" or view == "0d" or z.shape == ref.shape
    np.testing.assert_array_equal(z.numpy(), ref)
    if view != "expand":
        base[...] += 100  # the view reads the producer's memory when realized
        z2 = xp.from_dlpack(src, copy=False) * 1
        np.testing.assert_array_equal(z2.numpy(), src.numpy() if isinstance(src, torch.Tensor) else src)


def test_overlapping_layout_is_copied_or_refused():
    t = torch.arange(24, dtype=torch.float64)
    w = t.as_strided((5, 4), (2, 1))  # overlapping windows: not a view of a dense block
    np.testing.assert_array_equal(xp.from_dlpack(w).numpy(), w.numpy())
    with pytest.raises(BufferError, match="not a view"):
        xp.from_dlpack(w, copy=False)


def test_asarray_and_from_dlpack_keep_the_producers_device():
    t = torch.ones(3)
    assert xp.from_dlpack(t).device == "cpu" and xp.asarray(t).device == "cpu"
    others = [d for d in zyx.available_devices() if d.type != "cpu"]
    if others:
        dev = others[0]
        moved = xp.from_dlpack(t, device=dev)
        assert moved.device == dev and moved.tolist() == [1.0, 1.0, 1.0]
        with pytest.raises(ValueError, match="needs a copy"):
            xp.from_dlpack(t, device=dev, copy=False)
        x = xp.asarray([1.0, 2.0], device=dev)
        assert x.__dlpack_device__() == (1, 0)
        np.testing.assert_array_equal(np.from_dlpack(x), [1.0, 2.0])  # a host copy
        with pytest.raises(BufferError, match="host copy"):
            x.__dlpack__(copy=False)


# ------------------------------------------------------------------ lifetimes and leaks
def test_exported_buffer_outlives_its_array():
    x = xp.reshape(xp.arange(40_000, dtype=xp.float32), (200, 200)) * 3  # 160 KB: a pooled buffer
    ref = buffer_ref(x)
    pool = zyx.get_device("cpu").backend.pool
    t = torch.from_dlpack(x)
    del x
    gc.collect()
    assert ref() is not None  # the capsule's owner keeps the buffer
    assert float(t[199, 199]) == 39_999 * 3
    cached = pool.cached
    del t
    gc.collect()
    assert ref() is None  # released with the consumer's tensor ...
    assert pool.cached > cached  # ... and back in the pool, not leaked


def test_unconsumed_capsule_releases_its_buffer():
    x = xp.arange(10) + 1
    ref = buffer_ref(x)
    caps = [x.__dlpack__(), x.__dlpack__(max_version=(1, 0))]
    del x
    gc.collect()
    assert ref() is not None
    del caps
    gc.collect()
    assert ref() is None


def test_imported_memory_is_released_with_the_zyx_array():
    a = np.arange(10.0)
    before = sys.getrefcount(a)
    z = xp.from_dlpack(a) * 1  # a lazy graph over the shared buffer
    assert sys.getrefcount(a) > before  # NumPy's capsule holds the array
    del z
    gc.collect()
    assert sys.getrefcount(a) == before
    t = torch.arange(5.0)
    z = xp.from_dlpack(t)
    del t
    gc.collect()
    assert z.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]  # the producer's memory stays alive with zyx's array


def test_rejected_capsule_keeps_the_consumers_error_and_frees_the_buffer():
    """NumPy cannot read bfloat16: it raises while holding zyx's capsule, which is then
    destroyed with the error pending. zyx's release callback must not replace that error
    (a Python callback there turns it into a SystemError) and must free the buffer."""
    x = xp.astype(xp.arange(4), xp.float32).cast(dt.bfloat16)
    ref = buffer_ref(x)
    with pytest.raises((BufferError, RuntimeError, TypeError)) as info:
        np.from_dlpack(x)
    assert not isinstance(info.value, SystemError)
    del x, info
    gc.collect()
    assert ref() is None
    assert (xp.arange(3) * 2).tolist() == [0, 2, 4]  # the process is fine


def test_ctypes_fallback_callbacks_round_trip(monkeypatch):
    monkeypatch.setenv("ZYX_DLPACK_NATIVE", "0")
    monkeypatch.setattr(_dlpack, "_callbacks", None)
    assert _dlpack.callbacks()["kind"] == "ctypes"
    x = xp.arange(5) * 2
    ref = buffer_ref(x)
    t = torch.from_dlpack(x.__dlpack__(max_version=(1, 0)))
    assert t.tolist() == [0, 2, 4, 6, 8]
    del x, t
    gc.collect()
    assert ref() is None
    monkeypatch.setattr(_dlpack, "_callbacks", None)


# ------------------------------------------------------------------ errors
def test_export_errors():
    x = xp.arange(3)
    with pytest.raises(BufferError, match="move it first"):
        x.__dlpack__(dl_device=(2, 0))
    with pytest.raises(ValueError, match="stream"):
        x.__dlpack__(stream=5)
    with pytest.raises(TypeError, match="stream"):
        x.__dlpack__(stream="s")
    with pytest.raises(ValueError, match="copy"):
        x.__dlpack__(copy=1)
    assert torch.from_dlpack(x.__dlpack__(dl_device=(1, 0), stream=None)).tolist() == [0, 1, 2]


def test_import_errors_leave_the_process_usable():
    a = np.arange(4.0)
    with pytest.raises(BufferError, match="kDLROCM"):
        xp.from_dlpack(Producer(a, device=(10, 0)))
    with pytest.raises(BufferError, match="cuda:7"):  # a GPU this process has no zyx device for
        xp.from_dlpack(Producer(a, device=(2, 7)))
    with pytest.raises(TypeError, match="__dlpack__"):
        xp.from_dlpack([1, 2])

    class Bad:
        def __dlpack_device__(self):
            return (1, 0)

        def __dlpack__(self, **kw):
            return "not a capsule"
    with pytest.raises((BufferError, TypeError)):
        xp.from_dlpack(Bad())
    assert (xp.from_dlpack(a) + 1).tolist() == [1.0, 2.0, 3.0, 4.0]


# ------------------------------------------------------------------ the kDLCUDA protocol without a GPU
class FakeCUDA:
    """A ``cuda`` device on host memory: CPU kernels, the CUDA backend's DLPack methods."""

    description = "fake CUDA device for DLPack tests (host memory)"

    def __init__(self):
        from zyx.backends.cpu import open_device
        self.host = open_device(0)
        self.dtypes, self.fences, self.after, self.shared = self.host.dtypes, [], [], []

    def __getattr__(self, name):  # render / compile / launch / synchronize: the CPU's
        return getattr(self.host, name)

    def alloc(self, size, dtype):
        raw = np.empty(max(size, 1) * dtype.itemsize + 256, np.uint8)
        off = -raw.ctypes.data % 256  # device allocations are 256-byte aligned
        return raw[off: off + max(size, 1) * dtype.itemsize].view(dtype.np)

    def free(self, handle):
        pass

    def copy_out(self, handle, size, dtype):
        return handle.view(np.uint8)[: size * dtype.itemsize].view(dtype.np).copy()

    def pointer(self, handle):
        return handle.ctypes.data

    def stream_ptr(self):
        return 0xABC0

    def share_memory(self, ptr, nbytes, owner, data=None):
        assert ptr % 256 == 0, "shared device memory must start aligned"
        self.shared.append(ptr)
        return np.asarray(_dlpack._HostSpan(ptr, nbytes, False, owner))

    def copy_device(self, dst, src, nbytes):
        ctypes.memmove(dst.ctypes.data, src.ctypes.data, nbytes)

    def read_device(self, out, ptr):
        ctypes.memmove(out.ctypes.data, ptr, out.nbytes)

    def fence_for_consumer(self, stream):
        self.fences.append(stream)

    def fence_after_consumer(self, stream):
        self.after.append(stream)


@pytest.fixture
def fake_cuda():
    from zyx import device as zdev
    be = FakeCUDA()
    dev = zdev.Device("cuda", 97, be)
    zdev._devices[("cuda", 97)] = dev
    yield dev
    zdev._devices.pop(("cuda", 97), None)


def test_cuda_export_is_kdlcuda_with_stream_fences(fake_cuda):
    be = fake_cuda.backend
    x = xp.reshape(xp.arange(12, dtype=xp.float32, device=fake_cuda), (3, 4)) * 2
    assert x.__dlpack_device__() == (2, 97)
    with pytest.raises(ValueError, match="ambiguous"):
        x.__dlpack__(stream=0)
    with pytest.raises(ValueError, match=">= -1"):
        x.__dlpack__(stream=-5)
    ref = buffer_ref(x)
    cap = x.__dlpack__(stream=None, max_version=(1, 0))
    m = _dlpack.DLManagedTensorVersioned.from_address(ctypes.pythonapi.PyCapsule_GetPointer(
        ctypes.py_object(cap), b"dltensor_versioned"))
    assert (m.dl_tensor.device.device_type, m.dl_tensor.device.device_id) == (2, 97)
    assert m.dl_tensor.data == x._node.buffer.handle.ctypes.data  # zero-copy
    assert be.fences == [None]
    x.__dlpack__(stream=-1)  # no synchronization asked
    assert be.fences == [None]
    x.__dlpack__(stream=0x5000)
    assert be.fences == [None, 0x5000]
    del x, cap, m
    gc.collect()
    assert ref() is None
    assert sorted(be.after, key=str) == [0x5000, None]  # zyx's stream ordered after each consumer
    y = xp.ones(3, device=fake_cuda)
    host = torch.from_dlpack(y.__dlpack__(dl_device=(1, 0), max_version=(1, 0)))
    assert host.tolist() == [1, 1, 1]
    with pytest.raises(BufferError, match="copy=False"):
        y.__dlpack__(dl_device=(1, 0), copy=False)


def test_cuda_import_shares_aligned_memory_and_reads_offsets(fake_cuda):
    be = fake_cuda.backend
    src = xp.reshape(xp.arange(40, dtype=xp.float32, device=fake_cuda), (5, 8)) + 0
    z = xp.from_dlpack(Producer(src, device=(2, 97), stream=True))  # zyx itself produces, on the "GPU"
    assert z.device == fake_cuda and be.fences == [0xABC0]  # zyx passed its own stream
    np.testing.assert_array_equal(z.numpy(), np.arange(40).reshape(5, 8))

    class Sliced:  # a view starting 3 elements into the allocation (misaligned for vector loads)
        def __init__(self, t, lo):
            self.t, self.lo = t, lo
            self.shape = (t.shape[0] - lo,)

        def __dlpack_device__(self):
            return self.t.__dlpack_device__()

        def __dlpack__(self, **kw):
            cap = self.t.__dlpack__(**kw)
            name = b"dltensor_versioned" if kw.get("max_version") else b"dltensor"
            m = (_dlpack.DLManagedTensorVersioned if kw.get("max_version") else _dlpack.DLManagedTensor).from_address(
                ctypes.pythonapi.PyCapsule_GetPointer(ctypes.py_object(cap), name))
            m.dl_tensor.byte_offset = self.lo * 4
            m.dl_tensor.shape[0] = self.shape[0]
            return cap
    flat = xp.arange(64, dtype=xp.float32, device=fake_cuda) + 0
    w = xp.from_dlpack(Sliced(flat, 3))
    assert be.shared[-1] % 256 == 0 and w._node.op != "BUFFER"  # aligned base, offset as a view
    np.testing.assert_array_equal(w.numpy(), np.arange(3, 64))
    p = Producer(src, device=(2, 97), stream=True)
    c = xp.from_dlpack(p, copy=True)
    assert c._node.op == "BUFFER" and c._node.buffer.handle.ctypes.data != src._node.buffer.handle.ctypes.data
    assert p.calls[-1]["copy"] is True and c.tolist() == z.tolist()
    h = xp.from_dlpack(p, device="cpu")
    assert h.device == "cpu" and h.tolist() == z.tolist()
    with pytest.raises(ValueError, match="needs a copy"):
        xp.from_dlpack(p, device="cpu", copy=False)


# ------------------------------------------------------------------ on a real GPU (-m cuda)
def _gpu():
    from zyx.backends import cuda
    if cuda.device_count() == 0:
        pytest.skip("no CUDA GPU")
    return "cuda:0"


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "float16", "int64", "bool", "complex64"])
def test_gpu_torch_round_trip_zero_copy(dtype):
    dev = _gpu()
    if not torch.cuda.is_available():
        pytest.skip("torch has no CUDA")
    x = xp.astype(xp.reshape(xp.arange(4096 * 3, device=dev), (4096, 3)) % 7, getattr(dt, dtype if dtype != "bool" else "bool_"))
    t = torch.from_dlpack(x)
    assert t.device == torch.device("cuda", 0) and t.data_ptr() == x._node.buffer.handle.ptr
    np.testing.assert_array_equal(t.cpu().numpy() if dtype != "bfloat16" else t.float().cpu().numpy(),
                                  x.numpy() if dtype != "bfloat16" else x.astype(dt.float32).numpy())
    back = xp.from_dlpack(t)
    assert back.device == dev and back._node.buffer.handle.ptr == t.data_ptr()
    tt = torch.arange(2 * 1031, device="cuda", dtype=torch.float32).reshape(2, 1031)
    for v in (tt.T, tt[:, 1:], tt[1, 5:], tt[:, ::3]):  # strided and misaligned: lazy views
        np.testing.assert_array_equal(xp.from_dlpack(v).numpy(), v.cpu().numpy())


@pytest.mark.cuda
def test_gpu_torch_streams_and_lifetimes():
    dev = _gpu()
    if not torch.cuda.is_available():
        pytest.skip("torch has no CUDA")
    be = zyx.get_device(dev).backend
    a = xp.reshape(xp.arange(1 << 22, dtype=xp.float32, device=dev), (1024, 4096))
    s = torch.cuda.Stream()
    for _ in range(3):
        x = xp.sum(xp.exp(a * 1e-7) * 2, axis=1)  # work still running when exported
        with torch.cuda.stream(s):
            t = torch.from_dlpack(x)  # torch passes its stream: zyx makes it wait
            got = t.sum().item()
        np.testing.assert_allclose(got, float(xp.sum(x)), rtol=1e-5)
    t = torch.full((1 << 20,), 3.0, device="cuda")
    alloc = torch.cuda.memory_allocated()
    z = xp.from_dlpack(t)
    del t
    torch.cuda.synchronize()
    assert float(xp.sum(z)) == 3.0 * (1 << 20)  # zyx keeps torch's memory alive
    del z
    gc.collect()
    assert torch.cuda.memory_allocated() <= alloc - (4 << 20)  # and releases it
    pooled = sum(len(v) for v in be._free.values())
    for _ in range(20):
        u = torch.from_dlpack(xp.ones(1 << 16, device=dev) * 2)
        assert float(u[7]) == 2.0
        del u
    gc.collect()
    assert sum(len(v) for v in be._free.values()) <= pooled + 2  # exported buffers come back, no growth
    with pytest.raises(ValueError, match="ambiguous"):
        xp.ones(2, device=dev).__dlpack__(stream=0)
    with pytest.raises(ValueError, match="needs a copy"):
        xp.from_dlpack(torch.ones(2, device="cuda"), device="cpu", copy=False)
    host = xp.from_dlpack(torch.arange(3.0, device="cuda"), device="cpu")
    assert host.device == "cpu" and host.tolist() == [0.0, 1.0, 2.0]
    assert (xp.ones(2, device=dev) + 1).tolist() == [2.0, 2.0]


@pytest.mark.cuda
def test_gpu_cupy_round_trip():
    dev = _gpu()
    cp = pytest.importorskip("cupy")
    x = xp.reshape(xp.arange(600, dtype=xp.float64, device=dev), (20, 30)) / 3
    c = cp.from_dlpack(x)
    assert c.data.ptr == x._node.buffer.handle.ptr
    np.testing.assert_allclose(cp.asnumpy(c), x.numpy())
    src = cp.arange(1000, dtype=cp.float32).reshape(10, 100)
    z = xp.from_dlpack(src)
    assert z.device == dev and z._node.buffer.handle.ptr == src.data.ptr
    np.testing.assert_array_equal(z.numpy(), cp.asnumpy(src))
    np.testing.assert_array_equal(xp.from_dlpack(src[:, 3::2]).numpy(), cp.asnumpy(src[:, 3::2]))


def test_cuda_backend_fences_and_shared_buffers_against_a_recording_driver():
    """The CUDA backend's DLPack methods, call by call, on a driver that records them."""
    cuda = pytest.importorskip("zyx.backends.cuda")
    from cuda.bindings import driver

    class Driver:
        CUevent_flags, CUpointer_attribute, CUresult = driver.CUevent_flags, driver.CUpointer_attribute, driver.CUresult

        def __init__(self):
            self.log, self.n = [], 0

        def CUstream(self, v):
            return ("stream", int(v))

        def cuCtxSetCurrent(self, ctx):
            return (0,)

        def cuEventCreate(self, flags):
            self.n += 1
            self.log.append(("create", self.n))
            return (0, ("event", self.n))

        def cuEventRecord(self, ev, stream):
            self.log.append(("record", ev[1], stream))
            return (0,)

        def cuStreamWaitEvent(self, stream, ev, flags):
            self.log.append(("wait", stream, ev[1]))
            return (0,)

        def cuEventDestroy(self, ev):
            self.log.append(("destroy", ev[1]))
            return (0,)

        def cuCtxSynchronize(self):
            self.log.append(("ctxsync",))
            return (0,)

        def cuStreamSynchronize(self, stream):
            self.log.append(("streamsync", stream))
            return (0,)

        def cuPointerGetAttribute(self, attr, ptr):
            if ptr < 0x1000:
                return (self.CUresult.CUDA_ERROR_INVALID_VALUE, 0)
            return (0, 1 if ptr >= 0x100000 else 0)

    drv = Driver()
    be = object.__new__(cuda.CUDABackend)
    be.drv, be.ctx, be.stream, be.index = drv, None, ("stream", 0x5000), 0
    be.events = cuda.EventPool(drv)
    be.fence_for_consumer(None)  # legacy default stream waits for zyx's stream
    assert drv.log == [("create", 1), ("record", 1, ("stream", 0x5000)), ("wait", ("stream", 1), 1), ("destroy", 1)]
    drv.log.clear()
    be.fence_for_consumer(-1)
    assert drv.log == []
    be.fence_for_consumer(0x7777)
    assert drv.log[2] == ("wait", ("stream", 0x7777), 2)
    drv.log.clear()
    be.fence_after_consumer(1)  # zyx's stream waits for the legacy stream
    assert drv.log[1:3] == [("record", 3, ("stream", 1)), ("wait", ("stream", 0x5000), 3)]
    drv.log.clear()
    be.fence_after_consumer(0x7777)  # a stream that may be gone: synchronize the context
    assert drv.log == [("ctxsync",)]
    owner = type("Owner", (), {})()
    ref = weakref.ref(owner)
    h = be.share_memory(0x2000, 4096, owner)
    assert isinstance(h, cuda.SharedCUDABuffer) and h.ptr == 0x2000
    with pytest.raises(BufferError, match="belongs to cuda:1"):
        be.share_memory(0x200000, 4096, owner)
    with pytest.raises(BufferError, match="not CUDA memory"):
        be.share_memory(0x2000, 4096, owner, data=0x10)
    del owner
    be.events.writer[0x9999] = ("event", 0)  # a launch may still be reading: drain before release
    drv.log.clear()
    be.free(h)
    assert ("streamsync", ("stream", 0x5000)) in drv.log and h.ptr == 0 and ref() is None
    be.free(h)  # twice is harmless


def test_a_cold_process_builds_the_native_callbacks_in_the_background(tmp_path):
    """Opening the cpu device starts building the native release callbacks where the disk
    cache lacks them (a compiler run a cold process's first export waited for); a process
    that finds them on disk starts nothing; both export with the native callbacks."""
    import os
    import subprocess
    code = (
        "import threading, numpy as np, zyx\n"
        "from zyx import _dlpack\n"
        "a = zyx.array_api.asarray(np.arange(4, dtype=np.float32))\n"
        "names = [t.name for t in threading.enumerate()]\n"
        "for t in threading.enumerate():\n"
        "    if t.name == 'zyx-dlpack-callbacks': t.join()\n"
        "print('building' if 'zyx-dlpack-callbacks' in names else 'idle', _dlpack.callbacks()['kind'],\n"
        "      np.from_dlpack(a).tolist())\n")
    env = dict(os.environ, ZYX_CACHE_DIR=str(tmp_path), ZYX_DEVICE="cpu")
    env.pop("ZYX_DLPACK_NATIVE", None)
    outs = [subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
            for _ in range(2)]
    for r in outs:
        assert r.returncode == 0, r.stderr
    assert outs[0].stdout.split()[:2] == ["building", "native"], outs[0].stdout
    assert outs[1].stdout.split()[:2] == ["idle", "native"], outs[1].stdout
    assert "[0.0, 1.0, 2.0, 3.0]" in outs[1].stdout
