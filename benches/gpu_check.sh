#!/usr/bin/env bash
# One command for a lent GPU machine: install the wheels carried in .whl/, then run zyx's
# GPU tests (pytest -m cuda) and benches/bench_gpu.py (zyx beside PyTorch and CuPy),
# writing every log to $OUT (default ./gpu-out). About 8 minutes at most; each step has
# its own time limit so that logs come back even when one runs long.
#
#   bash benches/fetch_gpu_wheels.sh     # here, before: downloads .whl/ for CPython 3.12
#   bash benches/gpu_check.sh            # there, from the repository root
#
# Environment: OUT (log folder), PYTHON (python3), WHEELS (.whl), TEST_TIMEOUT (240 s),
# BENCH_TIMEOUT (240 s), WORKERS (pytest-xdist workers, 8), TESTS (tests/), BENCH_ARGS
# (extra bench_gpu.py arguments, e.g. "--rows sklearn,train"). Without a GPU it checks
# the imports, says so and exits 0.
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-./gpu-out}
PY=${PYTHON:-python3}
WHEELS=${WHEELS:-.whl}
SITE=${SITE:-/tmp/zyx-gpu-site}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
START=$(date +%s)
log() { echo "[gpu_check $(( $(date +%s) - START ))s] $*" | tee -a "$OUT/summary.txt"; }
: > "$OUT/summary.txt"
log "start $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"

# ---------------------------------------------------------------- wheels
if ls "$WHEELS"/*.whl >/dev/null 2>&1; then
    if "$PY" -m pip install -q --no-index --no-deps --no-compile --target "$SITE" "$WHEELS"/*.whl \
            > "$OUT/pip.txt" 2>&1; then
        log "installed $(ls "$WHEELS"/*.whl | wc -l) wheels into $SITE"
    else
        log "pip could not install the wheels in $WHEELS (see pip.txt); going on without them"
    fi
else
    log "no wheels in $WHEELS (run benches/fetch_gpu_wheels.sh where PyPI is reachable)"
fi
export PYTHONPATH="$SITE:$PWD${PYTHONPATH:+:$PYTHONPATH}"
export SCIPY_ARRAY_API=1  # scikit-learn's array_api_dispatch needs it before SciPy loads
export PYTHONDONTWRITEBYTECODE=1
export PYTHONUNBUFFERED=1  # a step cut by its timeout still leaves every line it printed

# ---------------------------------------------------------------- environment and imports
{
    nvidia-smi 2>&1 | head -20
    "$PY" - <<'PYEOF'
import importlib, sys
print("python", sys.version.split()[0])
for name in ("numpy", "ml_dtypes", "torch", "cupy", "cuda.bindings", "cuda.core", "nvmath", "scipy", "sklearn",
             "array_api_compat", "array_api_strict", "hypothesis", "ndindex", "xdist"):
    try:
        m = importlib.import_module(name)
        print(f"{name:18} {getattr(m, '__version__', 'ok')}  {getattr(m, '__file__', '')}")
    except Exception as e:
        print(f"{name:18} MISSING ({type(e).__name__}: {e})")
import zyx
from zyx.backends import cuda
print("zyx", zyx.__file__, "| cuda devices:", cuda.device_count())
try:
    print("nvrtc", cuda.nvrtc_version())
except Exception as e:
    print("nvrtc MISSING", e)
from zyx.array_api import _cuda_linalg
print("device linalg/fft:", _cuda_linalg.why_unavailable() or "available")
PYEOF
} > "$OUT/env.txt" 2>&1
log "environment: $(grep -E '^(python|zyx|device linalg)' "$OUT/env.txt" | tr '\n' ';')"

if ! "$PY" -c "import sys; from zyx.backends import cuda; sys.exit(0 if cuda.device_count() else 3)" 2>>"$OUT/env.txt"; then
    "$PY" -m pytest ${TESTS:-tests/} -m cuda --collect-only -q -p no:cacheprovider > "$OUT/collect.txt" 2>&1
    log "no CUDA GPU here (cuda.device_count() == 0): the GPU tests collect ($(tail -1 "$OUT/collect.txt")); exiting 0"
    exit 0
fi

# ---------------------------------------------------------------- GPU tests
XDIST=()
if "$PY" -c "import xdist" 2>/dev/null; then XDIST=(-n "${WORKERS:-8}" --dist loadfile); fi
export ZYX_CACHE_DIR
ZYX_CACHE_DIR=$(mktemp -d /tmp/zyx-gpu-tests-cache.XXXX)  # shared by the xdist workers
timeout -k 10 "${TEST_TIMEOUT:-240}" "$PY" -m pytest ${TESTS:-tests/} -m cuda -q -rfEs -p no:cacheprovider \
    "${XDIST[@]}" --junitxml="$OUT/cuda-tests.xml" > "$OUT/cuda-tests.txt" 2>&1
rc=$?
log "pytest -m cuda: exit $rc ($( [ $rc = 124 ] && echo 'TIMED OUT' || tail -1 "$OUT/cuda-tests.txt"))"

# ---------------------------------------------------------------- the device-parametrized tests on cuda:0
if [ -n "${DEVICE_TESTS:-tests/test_compile_once.py tests/test_elementwise.py tests/test_reduce.py tests/test_movement.py}" ]; then
    timeout -k 10 "${DEVICE_TEST_TIMEOUT:-150}" "$PY" -m pytest ${DEVICE_TESTS:-tests/test_compile_once.py tests/test_elementwise.py tests/test_reduce.py tests/test_movement.py} \
        -k "cuda" -q -rfE -p no:cacheprovider "${XDIST[@]}" > "$OUT/cuda-device-tests.txt" 2>&1
    rc=$?
    log "device tests on cuda:0: exit $rc ($( [ $rc = 124 ] && echo 'TIMED OUT' || tail -1 "$OUT/cuda-device-tests.txt"))"
fi

# ---------------------------------------------------------------- benchmarks (empty kernel cache)
ZYX_CACHE_DIR=$(mktemp -d /tmp/zyx-gpu-bench-cache.XXXX)
timeout -k 10 "${BENCH_TIMEOUT:-240}" "$PY" benches/bench_gpu.py --device cuda:0 ${BENCH_ARGS:-} \
    > "$OUT/bench_gpu.txt" 2>&1
rc=$?
log "bench_gpu.py: exit $rc$( [ $rc = 124 ] && echo ' (TIMED OUT: the rows printed so far are in bench_gpu.txt)')"
grep -E "torch/zyx|ratio|geomean" "$OUT/bench_gpu.txt" | head -60 >> "$OUT/summary.txt"

# ---------------------------------------------------------------- the other backends on this GPU
# WGPU through NVIDIA's Vulkan driver (the loader travels as .gl/*.deb, the wgpu wheel in .whl),
# OpenCL through NVIDIA's OpenCL library when the driver mount has it (an ICD file made here).
if [ "${OTHER_BACKENDS:-1}" = 1 ]; then
    for f in .gl/*.deb; do [ -f "$f" ] && dpkg -x "$f" / ; done; ldconfig 2>/dev/null
    export VK_DRIVER_FILES=${VK_DRIVER_FILES:-/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json}
    ocl=$(ls /usr/local/nvidia/lib64/libnvidia-opencl.so* /usr/lib/x86_64-linux-gnu/libnvidia-opencl.so* 2>/dev/null | head -1)
    if [ -n "$ocl" ]; then mkdir -p /etc/OpenCL/vendors && echo "$ocl" > /etc/OpenCL/vendors/nvidia.icd; fi
    for dev in wgpu:0 opencl:0; do
        kind=${dev%%:*}
        "$PY" -c "import zyx; print(zyx.get_device('$dev').backend.description)" > "$OUT/$kind-env.txt" 2>&1
        log "$dev: $(tail -1 "$OUT/$kind-env.txt")"
        if grep -q "Error\|Traceback" "$OUT/$kind-env.txt"; then continue; fi
        timeout -k 5 "${OTHER_TIMEOUT:-60}" "$PY" -m pytest tests/test_compile_once.py tests/test_$kind.py -q -x \
            -p no:cacheprovider -k "$kind" > "$OUT/$kind-tests.txt" 2>&1
        log "$dev tests: exit $? ($(tail -1 "$OUT/$kind-tests.txt"))"
        timeout -k 5 "${OTHER_TIMEOUT:-60}" "$PY" benches/bench_gpu.py --device $dev --skip train,sklearn \
            > "$OUT/$kind-bench.txt" 2>&1
        log "$dev bench: exit $?"
        grep -E "GB/s|TFLOP" "$OUT/$kind-bench.txt" | head -12 >> "$OUT/summary.txt"
    done
fi
log "done; logs in $OUT: $(cd "$OUT" && ls | tr '\n' ' ')"
exit 0
