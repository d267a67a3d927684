"""SciPy's array-API paths on zyx arrays with the float64 default (ZYX_DEFAULT_FLOAT=float64,
what scientific code written for NumPy expects), compared with SciPy on NumPy arrays.

SciPy reads SCIPY_ARRAY_API when it is first imported, so the calls run in one subprocess
that sets it first (other test modules import SciPy without it). Each case must return a
zyx array (SciPy stayed in the namespace) of the dtype NumPy gives, with NumPy's values.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("scipy")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SCRIPT = r'''
import json, os
import numpy as np
import zyx
import zyx.array_api as xp
import scipy.cluster.hierarchy as hc, scipy.cluster.vq as vq, scipy.fft as sf
import scipy.signal as sg, scipy.special as sp, scipy.stats as st

info = xp.__array_namespace_info__().default_dtypes()
print(json.dumps({"name": "default dtypes", "ok": info["real floating"] is xp.float64
                  and info["complex floating"] is xp.complex128 and xp.asarray([1.5]).dtype is xp.float64,
                  "detail": str(info)}), flush=True)

rng = np.random.default_rng(0)
a = rng.standard_normal((6, 5))
b = rng.standard_normal(7)
pos = rng.random((6, 5)) + 0.1
long = rng.standard_normal(1000)
short = rng.standard_normal(37)
rows, taps = rng.standard_normal((5, 400)), rng.standard_normal((5, 31))

CASES = {
    "special.logsumexp": lambda m, A: sp.logsumexp(A(a), axis=1),
    "special.softmax": lambda m, A: sp.softmax(A(a), axis=0),
    "special.log_softmax": lambda m, A: sp.log_softmax(A(a), axis=1),
    "special.expit": lambda m, A: sp.expit(A(a)),
    "special.logit": lambda m, A: sp.logit(A(pos / 2)),
    "special.erf": lambda m, A: sp.erf(A(a)),
    "special.ndtr": lambda m, A: sp.ndtr(A(a)),
    "special.gammaln": lambda m, A: sp.gammaln(A(pos)),
    "special.xlogy": lambda m, A: sp.xlogy(A(pos), A(pos)),
    "special.entr": lambda m, A: sp.entr(A(pos)),
    "special.rel_entr": lambda m, A: sp.rel_entr(A(pos), A(pos[::-1].copy())),
    "stats.zscore": lambda m, A: st.zscore(A(a), axis=0),
    "stats.moment": lambda m, A: st.moment(A(a), order=3, axis=0),
    "stats.skew": lambda m, A: st.skew(A(a), axis=1),
    "stats.kurtosis": lambda m, A: st.kurtosis(A(a), axis=1),
    "stats.variation": lambda m, A: st.variation(A(pos), axis=0),
    "stats.gmean": lambda m, A: st.gmean(A(pos), axis=0),
    "stats.hmean": lambda m, A: st.hmean(A(pos), axis=0),
    "stats.pmean": lambda m, A: st.pmean(A(pos), 2.5, axis=0),
    "stats.sem": lambda m, A: st.sem(A(a), axis=0),
    "stats.ttest_1samp": lambda m, A: st.ttest_1samp(A(a), 0.1, axis=0).pvalue,
    "stats.ttest_ind": lambda m, A: st.ttest_ind(A(a), A(pos), axis=0).statistic,
    "stats.pearsonr": lambda m, A: st.pearsonr(A(a[:, 0]), A(a[:, 1])).statistic,
    "stats.describe": lambda m, A: st.describe(A(a), axis=0).variance,
    "stats.entropy": lambda m, A: st.entropy(A(pos), axis=0),
    # overlap-add through swapaxes -> slice -> swapaxes views (issue 11, defect 3)
    "signal.oaconvolve": lambda m, A: sg.oaconvolve(A(long), A(short)),
    "signal.oaconvolve(axes=1)": lambda m, A: sg.oaconvolve(A(rows), A(taps), axes=1),
    "signal.fftconvolve": lambda m, A: sg.fftconvolve(A(b), A(b[:3].copy())),
    "signal.convolve": lambda m, A: sg.convolve(A(b), A(b[:3].copy())),
    "signal.correlate": lambda m, A: sg.correlate(A(b), A(b[:3].copy())),
    "signal.detrend": lambda m, A: sg.detrend(A(a), axis=0),
    "signal.get_window": lambda m, A: sg.get_window("hann", 8, **({} if m is np else {"xp": m})),
    "fft.fft": lambda m, A: sf.fft(A(a), axis=0),
    "fft.rfft": lambda m, A: sf.rfft(A(b)),
    "fft.irfft": lambda m, A: sf.irfft(A(b)),
    "fft.fftfreq": lambda m, A: sf.fftfreq(8, **({} if m is np else {"xp": m})),
    "fft.fftshift": lambda m, A: sf.fftshift(A(a)),
    "fft.dct": lambda m, A: sf.dct(A(b)),
    "cluster.whiten": lambda m, A: vq.whiten(A(a)),
    "cluster.vq": lambda m, A: vq.vq(A(a), A(a[:2].copy()))[0],
    "cluster.kmeans2": lambda m, A: vq.kmeans2(A(a), A(a[:2].copy()), minit="matrix", iter=3)[1],
    "cluster.hierarchy.linkage": lambda m, A: hc.linkage(A(a), "single"),
    "cluster.hierarchy.fcluster": lambda m, A: hc.fcluster(A(hc.linkage(a, "single")), 2, "maxclust"),
}

for name, f in CASES.items():
    try:
        want = np.asarray(f(np, np.asarray))
        got = f(xp, xp.asarray)   # no dtype given: Python-side defaults must be float64 here
        g = np.asarray(got)
        same_kind = g.dtype == want.dtype or (want.dtype.kind == g.dtype.kind == "i")
        ok = (isinstance(got, zyx.Tensor) and same_kind and g.shape == want.shape
              and np.allclose(g, want, rtol=1e-10, atol=1e-12, equal_nan=True))
        detail = "" if ok else f"{type(got).__name__} {g.dtype} {g.shape} vs {want.dtype} {want.shape}: " \
                               f"{g.ravel()[:3]} vs {want.ravel()[:3]}"
    except Exception as e:  # noqa: BLE001 - reported per case
        ok, detail = False, f"{type(e).__name__}: {e}"
    print(json.dumps({"name": name, "ok": bool(ok), "detail": detail}), flush=True)
'''

NAMES = ["default dtypes"] + [line.split('"')[1] for line in SCRIPT.splitlines()
                              if line.startswith('    "') and '": lambda' in line]


@pytest.fixture(scope="module")
def results():
    env = dict(os.environ, SCIPY_ARRAY_API="1", ZYX_DEFAULT_FLOAT="float64", ZYX_DEVICE="cpu",
               PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    return {d["name"]: d for d in map(json.loads, r.stdout.splitlines())}


@pytest.mark.parametrize("name", NAMES)
def test_scipy_on_zyx_with_the_float64_default(results, name):
    res = results[name]
    assert res["ok"], res["detail"]
