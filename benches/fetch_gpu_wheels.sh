#!/usr/bin/env bash
# Download, here (where PyPI is reachable), the wheels that benches/gpu_check.sh installs on
# a lent GPU machine, which has Python 3.12, NumPy, PyTorch, CuPy, cuda-bindings, NVRTC,
# pytest(-xdist), scikit-learn, SciPy and ml_dtypes but cannot download anything.
#
#   bash benches/fetch_gpu_wheels.sh            # -> .whl/ (git-ignored), for CPython 3.12
#   PYVER=3.11 WHEELS=/tmp/w bash benches/fetch_gpu_wheels.sh   # same set for this machine
#
# What travels and why:
#   nvmath-python        cuSOLVER / cuFFT bindings for zyx's device linalg and FFT (zyx[cuda])
#   cuda-core, cuda-pathfinder   what nvmath imports (the image's cuda-bindings may come without them)
#   array-api-compat     scikit-learn's array_api_dispatch (zyx and torch rows of bench_gpu.py)
#   array-api-strict, hypothesis, sortedcontainers, ndindex   imported by zyx's test modules
#   pytest-json-report, pytest-metadata                       the conformance suite's plugins
# Versions are the ones the project is tested with; the total stays well under 60 MiB.
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=${WHEELS:-.whl}
PYVER=${PYVER:-3.12}
PY=${PYTHON:-python3}
mkdir -p "$DEST"
BINARY=(nvmath-python==1.0.1 cuda-core==1.2.2)
PURE=(cuda-pathfinder==1.9.1 array-api-compat==1.16.0 array-api-strict==2.6.1 hypothesis==6.170.27
      sortedcontainers==2.4.0 ndindex==1.10.1 pytest-json-report==1.5.0 pytest-metadata==3.1.1)
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version "$PYVER" --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d "$DEST" "${BINARY[@]}" "${PURE[@]}"
ls -la "$DEST"
total=$(du -sk "$DEST" | cut -f1)
echo "fetch_gpu_wheels: $(ls "$DEST"/*.whl | wc -l) wheels, $((total / 1024)) MiB in $DEST (for CPython $PYVER)"
if [ "$total" -gt $((60 * 1024)) ]; then
    echo "fetch_gpu_wheels: more than 60 MiB: too much to carry" >&2
    exit 1
fi
