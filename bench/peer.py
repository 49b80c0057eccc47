"""The NumPy peer of hasme's benchmark workloads (bench/README.md has their exact
definitions). Each is written the way a careful researcher writes it today:
vectorised over paths, buffers preallocated where NumPy allows it, escaped paths
dropped from the arrays as they leave. Usage: peer.py WORKLOAD [paths]; prints one
JSON line {"workload", "value", "se", "seconds", "cpu_seconds", "paths", "numpy_simd",
"blas_core"}; seconds cover the simulation only (not the import of NumPy or the set-up
of constants), cpu_seconds the processor time of the workload's function.
"""
import json
import sys
import time

import numpy as np


def w1(paths):
    """SGD on a 4-d quadratic with correlated Gaussian noise; E|x_100|^2."""
    H = np.array([[2, 0.3, 0, 0], [0.3, 1, 0.2, 0], [0, 0.2, 0.5, 0.1], [0, 0, 0.1, -0.3]])
    C = np.diag([1, 0.5, 0.3, 0.2]) + 0.05
    eta, K = 0.05, 100
    At = (np.eye(4) - eta * H).T.copy()
    Lt = (eta * np.linalg.cholesky(C)).T.copy()
    rng = np.random.Generator(np.random.PCG64(1))
    t = time.perf_counter()
    x = np.full((paths, 4), 0.5)
    y, z, w = np.empty_like(x), np.empty_like(x), np.empty_like(x)
    for _ in range(K):
        rng.standard_normal(out=z)
        np.matmul(x, At, out=y)
        np.matmul(z, Lt, out=w)
        np.subtract(y, w, out=x)
    q = np.einsum("ij,ij->i", x, x)
    seconds = time.perf_counter() - t
    return q.mean(), q.std(ddof=1) / np.sqrt(paths), seconds


def w2(paths):
    """HA-SME (Euler, 4 substeps) on the 1-d double well, escape at x > 0.5; the mean
    escape step with non-escaped paths counted as 2000."""
    eta, sigma, m, K = 0.05, 2.2, 4, 2000
    dt = eta / m
    rng = np.random.Generator(np.random.PCG64(2))
    t = time.perf_counter()
    x = np.full(paths, -1.0)
    alive = np.arange(paths)
    esc = np.full(paths, K, dtype=np.int64)
    for k in range(1, K + 1):
        xa = x[alive]
        for _ in range(m):
            g = xa ** 3 - xa
            z = eta * (3 * xa ** 2 - 1)
            if np.any(z >= 1):
                raise SystemExit("HA-SME undefined: eta*lambda >= 1")
            l = np.log1p(-z)
            with np.errstate(invalid="ignore", divide="ignore"):
                phi1 = np.where(z != 0, -l / z, 1.0)
                phi2 = np.where(z != 0, -2 * l / (z * (2 - z)), 1.0)
            xa = xa - dt * phi1 * g + np.sqrt(eta * dt) * sigma * np.sqrt(phi2) * rng.standard_normal(xa.size)
        x[alive] = xa
        e = xa > 0.5
        esc[alive[e]] = k
        alive = alive[~e]
        if alive.size == 0:
            break
    seconds = time.perf_counter() - t
    return esc.mean(), esc.std(ddof=1) / np.sqrt(paths), seconds


def w3(paths):
    """HA-SME (Euler, 1 substep) on coupled wells in 8 dimensions, isotropic noise;
    mean f(x_200). One symmetric eigendecomposition per path per step (eigh over a
    stack of 8 x 8 Hessians)."""
    d, eta, sigma, K = 8, 0.05, 0.5, 200
    Q = 0.2 * np.eye(d) + 0.1 * (np.eye(d, k=1) + np.eye(d, k=-1))
    rng = np.random.Generator(np.random.PCG64(3))
    t = time.perf_counter()
    x = np.tile(np.linspace(-1, 1, d), (paths, 1))
    idx = np.arange(d)
    H = np.empty((paths, d, d))
    for _ in range(K):
        g = x ** 3 - x + x @ Q
        H[:] = Q
        H[:, idx, idx] += 3 * x ** 2 - 1
        lam, V = np.linalg.eigh(H)
        z = eta * lam
        if np.any(z >= 1):
            raise SystemExit("HA-SME undefined: eta*lambda >= 1")
        l = np.log1p(-z)
        with np.errstate(invalid="ignore", divide="ignore"):
            phi1 = np.where(z != 0, -l / z, 1.0)
            phi2 = np.where(z != 0, -2 * l / (z * (2 - z)), 1.0)
        gv = np.einsum("pji,pj->pi", V, g)                  # V' g
        drift = -np.einsum("pij,pj->pi", V, phi1 * gv)     # -V phi1 V' g
        zn = rng.standard_normal((paths, d))
        noise = np.einsum("pij,pj->pi", V, sigma * np.sqrt(phi2) * zn)
        x = x + eta * drift + eta * noise                  # sqrt(eta dt) = eta for dt = eta
    f = ((x ** 2 - 1) ** 2 / 4).sum(axis=1) + 0.5 * np.einsum("pi,ij,pj->p", x, Q, x)
    seconds = time.perf_counter() - t
    return f.mean(), f.std(ddof=1) / np.sqrt(paths), seconds


def rng_rates(n):
    """Normal and raw 64-bit draws per second of NumPy's Generator(PCG64)."""
    g = np.random.Generator(np.random.PCG64(4))
    out = np.empty(n)
    t = time.perf_counter()
    g.standard_normal(out=out)
    normal = n / (time.perf_counter() - t)
    bg = np.random.PCG64(4)
    t = time.perf_counter()
    bg.random_raw(n)
    raw = n / (time.perf_counter() - t)
    return normal, raw, 0.0


def runtime():
    """What NumPy and its BLAS actually run with: the widest SIMD extensions NumPy
    dispatches to (after NPY_DISABLE_CPU_FEATURES) and OpenBLAS's kernel set (after
    OPENBLAS_CORETYPE)."""
    from numpy.core._multiarray_umath import __cpu_features__ as feats
    simd = [f for f in ("AVX512F", "AVX2", "AVX", "SSE42", "SSE2") if feats.get(f)]
    core = "unknown"
    try:
        import ctypes
        for name in ("libopenblas.so.0", "libopenblasp-r0.3.21.so", "libblas.so.3"):
            try:
                lib = ctypes.CDLL(name)
                lib.openblas_get_corename.restype = ctypes.c_char_p
                core = lib.openblas_get_corename().decode()
                break
            except (OSError, AttributeError):
                continue
    except ImportError:
        pass
    return {"numpy_simd": simd[0] if simd else "none", "blas_core": core}


WORKLOADS = {"W1": (w1, 1_000_000), "W2": (w2, 100_000), "W3": (w3, 10_000),
             "RNG": (rng_rates, 50_000_000)}

if __name__ == "__main__":
    name = sys.argv[1]
    fn, default = WORKLOADS[name]
    paths = int(sys.argv[2]) if len(sys.argv) > 2 else default
    cpu0 = time.process_time()
    value, se, seconds = fn(paths)
    cpu = time.process_time() - cpu0
    out = {"workload": name, "value": float(value), "se": float(se),
           "seconds": float(seconds), "cpu_seconds": float(cpu), "paths": paths}
    out.update(runtime())
    print(json.dumps(out))
