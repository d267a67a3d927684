"""scikit-learn on zyx arrays: with ``array_api_dispatch=True`` estimators and metrics
run through ``zyx.array_api`` and must match their NumPy results.

SciPy reads ``SCIPY_ARRAY_API`` when it is first imported, so this module sets it
before importing SciPy or scikit-learn. If another test module imported SciPy first
without it, the whole module reruns itself in a fresh subprocess instead.
"""
from __future__ import annotations

import os
import subprocess
import sys

os.environ["SCIPY_ARRAY_API"] = "1"

import numpy as np  # noqa: E402
import pytest  # noqa: E402

sklearn = pytest.importorskip("sklearn")
import scipy._lib._array_api as _scipy_xp  # noqa: E402

import zyx  # noqa: E402
import zyx.array_api as xp  # noqa: E402

IN_PROCESS = bool(_scipy_xp.SCIPY_ARRAY_API)
needs_scipy_array_api = pytest.mark.skipif(
    not IN_PROCESS, reason="SciPy was imported without SCIPY_ARRAY_API=1; covered by test_rerun_in_subprocess")


@pytest.mark.skipif(IN_PROCESS, reason="SciPy array API support is active in this process")
def test_rerun_in_subprocess():
    env = dict(os.environ, SCIPY_ARRAY_API="1")
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider", __file__],
                       env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]


from sklearn import config_context  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis  # noqa: E402
from sklearn.kernel_approximation import Nystroem  # noqa: E402
from sklearn.linear_model import LogisticRegression, Ridge, RidgeClassifierCV, RidgeCV  # noqa: E402
from sklearn.metrics import (accuracy_score, confusion_matrix, f1_score, mean_squared_error,  # noqa: E402
                             pairwise_distances, r2_score)
from sklearn.metrics.pairwise import (cosine_similarity, linear_kernel, polynomial_kernel,  # noqa: E402
                                      rbf_kernel, sigmoid_kernel)
from sklearn.mixture import GaussianMixture  # noqa: E402
from sklearn.naive_bayes import GaussianNB  # noqa: E402
from sklearn.preprocessing import (Binarizer, LabelEncoder, MaxAbsScaler, MinMaxScaler,  # noqa: E402
                                   Normalizer, PolynomialFeatures, StandardScaler)

DEVICES = [d.name for d in zyx.available_devices() if d.supports(zyx.float64)]

rng = np.random.default_rng(0)
X = rng.standard_normal((80, 6)) * np.array([1.0, 2.0, 0.5, 3.0, 1.0, 0.1]) + 0.3
Y_CLS = (X[:, 0] + 0.5 * X[:, 1] - 0.2 * X[:, 3] > 0.3).astype(np.int64)
Y_MULTI = np.digitize(X[:, 0] + X[:, 2], [-0.5, 0.8])
Y_REG = X @ rng.standard_normal(6) + 0.1 * rng.standard_normal(80)


def _np(a):
    return a.numpy() if isinstance(a, zyx.Tensor) else np.asarray(a)


def _run(make, method, X_, y=None, device="cpu", fit_kwargs=None):
    """Fit and apply an estimator on NumPy (dispatch off) and on zyx (dispatch on)."""
    with config_context(array_api_dispatch=False):
        est_np = make()
        est_np.fit(X_, y) if y is not None else est_np.fit(X_)
        ref = getattr(est_np, method)(X_)
    with config_context(array_api_dispatch=True):
        est = make()
        Xz = xp.asarray(X_, device=device)
        if y is not None:
            est.fit(Xz, xp.asarray(y, device=device))
        else:
            est.fit(Xz)
        out = getattr(est, method)(Xz)
    assert isinstance(out, zyx.Tensor), f"{type(est).__name__}.{method} did not return a zyx array"
    assert out.device == device
    return est_np, est, ref, _np(out)


ESTIMATORS = [
    ("PCA-full", lambda: PCA(3, svd_solver="full"), "transform", None),
    ("PCA-covariance_eigh", lambda: PCA(3, svd_solver="covariance_eigh"), "transform", None),
    ("PCA-randomized-QR", lambda: PCA(3, svd_solver="randomized", power_iteration_normalizer="QR",
                                      random_state=0), "transform", None),
    ("LDA", LinearDiscriminantAnalysis, "predict_proba", Y_MULTI),
    ("Ridge-svd", lambda: Ridge(alpha=0.5, solver="svd"), "predict", Y_REG),
    ("RidgeCV", lambda: RidgeCV(alphas=(0.1, 1.0, 10.0)), "predict", Y_REG),
    ("RidgeClassifierCV", lambda: RidgeClassifierCV(alphas=(0.1, 1.0, 10.0)), "decision_function", Y_MULTI),
    ("LogisticRegression-lbfgs", lambda: LogisticRegression(max_iter=200), "predict_proba", Y_CLS),
    ("GaussianNB", GaussianNB, "predict_proba", Y_MULTI),
    ("GaussianMixture", lambda: GaussianMixture(2, init_params="random_from_data", random_state=0),
     "predict_proba", None),
    ("Nystroem", lambda: Nystroem(n_components=12, random_state=0), "transform", None),
    ("StandardScaler", StandardScaler, "transform", None),
    ("MinMaxScaler", MinMaxScaler, "transform", None),
    ("MaxAbsScaler", MaxAbsScaler, "transform", None),
    ("Normalizer", Normalizer, "transform", None),
    ("Binarizer", lambda: Binarizer(threshold=0.2), "transform", None),
    ("PolynomialFeatures", lambda: PolynomialFeatures(2), "transform", None),
]
TOL = {"LogisticRegression-lbfgs": 1e-4, "GaussianMixture": 1e-6}


@needs_scipy_array_api
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name,make,method,y", ESTIMATORS, ids=[e[0] for e in ESTIMATORS])
def test_estimator_matches_numpy(name, make, method, y, device):
    _, est, ref, out = _run(make, method, X, y, device)
    tol = TOL.get(name, 1e-8)
    np.testing.assert_allclose(out, ref, rtol=tol, atol=tol)
    if hasattr(est, "predict") and method != "predict":
        with config_context(array_api_dispatch=True):
            pred = est.predict(xp.asarray(X, device=device))
        assert isinstance(pred, zyx.Tensor)
    for attr in ("components_", "coef_", "mean_", "scale_", "means_", "theta_"):
        if hasattr(est, attr) and not isinstance(getattr(est, attr), (int, float, type(None))):
            assert isinstance(getattr(est, attr), zyx.Tensor), f"{name}.{attr} is not a zyx array"


@needs_scipy_array_api
@pytest.mark.parametrize("solver", ["full", "covariance_eigh"])
def test_pca_transform_and_inverse_on_12_features(solver):
    """Issue 11, defect 1: with 12 features and 4 components the transform's kernel is
    register-tiled and reads svd_flip's gathered signs (it failed to compile)."""
    x = np.random.default_rng(1).standard_normal((300, 12))
    with config_context(array_api_dispatch=True):
        est = PCA(n_components=4, svd_solver=solver).fit(xp.asarray(x))
        t = est.transform(xp.asarray(x))
        back = est.inverse_transform(t)
    ref = PCA(n_components=4, svd_solver=solver).fit(x)
    np.testing.assert_allclose(np.abs(_np(t)), np.abs(ref.transform(x)), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(_np(back), ref.inverse_transform(ref.transform(x)), rtol=1e-8, atol=1e-10)


@needs_scipy_array_api
@pytest.mark.parametrize("device", DEVICES)
def test_label_encoder(device):
    labels = np.array([3, 1, 7, 1, 3, 3])
    with config_context(array_api_dispatch=True):
        enc = LabelEncoder().fit(xp.asarray(labels, device=device))
        codes = enc.transform(xp.asarray(labels, device=device))
        back = enc.inverse_transform(codes)
    assert isinstance(codes, zyx.Tensor)
    np.testing.assert_array_equal(_np(codes), LabelEncoder().fit_transform(labels))
    np.testing.assert_array_equal(_np(back), labels)


@needs_scipy_array_api
@pytest.mark.parametrize("device", DEVICES)
def test_classification_and_regression_metrics(device):
    y_true = Y_MULTI
    y_pred = np.roll(Y_MULTI, 3)
    yt, yp = xp.asarray(y_true, device=device), xp.asarray(y_pred, device=device)
    rt, rp = xp.asarray(Y_REG, device=device), xp.asarray(Y_REG * 0.9 + 0.1, device=device)
    with config_context(array_api_dispatch=True):
        got = {
            "accuracy": accuracy_score(yt, yp),
            "f1": f1_score(yt, yp, average="macro"),
            "r2": r2_score(rt, rp),
            "mse": mean_squared_error(rt, rp),
            "confusion": confusion_matrix(yt, yp),
        }
    want = {
        "accuracy": accuracy_score(y_true, y_pred),
        "f1": f1_score(y_true, y_pred, average="macro"),
        "r2": r2_score(Y_REG, Y_REG * 0.9 + 0.1),
        "mse": mean_squared_error(Y_REG, Y_REG * 0.9 + 0.1),
        "confusion": confusion_matrix(y_true, y_pred),
    }
    for k in want:
        # label metrics average booleans in the namespace's default float (float32 for
        # zyx, as for PyTorch); the regression metrics stay in the data's float64
        tol = 1e-10 if k in ("r2", "mse", "confusion") else 1e-6
        np.testing.assert_allclose(_np(got[k]), want[k], rtol=tol, err_msg=k)


KERNELS = [
    ("euclidean", lambda A, B: pairwise_distances(A, B, metric="euclidean")),
    ("manhattan", lambda A, B: pairwise_distances(A, B, metric="manhattan")),
    ("cosine-distance", lambda A, B: pairwise_distances(A, B, metric="cosine")),
    ("rbf", lambda A, B: rbf_kernel(A, B, gamma=0.3)),
    ("linear", linear_kernel),
    ("polynomial", lambda A, B: polynomial_kernel(A, B, degree=2)),
    ("sigmoid", lambda A, B: sigmoid_kernel(A, B)),
    ("cosine-similarity", cosine_similarity),
]


@needs_scipy_array_api
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name,fn", KERNELS, ids=[k[0] for k in KERNELS])
def test_pairwise_matches_numpy(name, fn, device):
    A, B = X[:30], X[30:55]
    want = fn(A, B)
    with config_context(array_api_dispatch=True):
        got = fn(xp.asarray(A, device=device), xp.asarray(B, device=device))
    assert isinstance(got, zyx.Tensor)
    np.testing.assert_allclose(_np(got), want, rtol=1e-9, atol=1e-9)
