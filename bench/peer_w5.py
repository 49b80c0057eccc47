"""The NumPy peer of hasme's benchmark workload W5: a coupled comparison of SGD with
Gaussian-surrogate minibatch noise, SME-2 and HA-SME on a small tanh network, with
two observables and their paired weak errors.

The problem (the network of experiments/nn_weak_error.lua, with closed-form data so
that both sides build the same loss without sharing a random generator):
  N = 16 samples x_i = -2 + 4 (i - 1/2) / N, y_i = sin(1.5 x_i) + 0.1 cos(7 x_i);
  f(theta) = (1/N) sum_i 1/2 (w2 . tanh(W1 x_i + b1) + b2 - y_i)^2, 3 hidden units,
  theta = (W1, b1, w2, b2), d = 10, theta0_k = 0.5 sin(1.3 k + 0.4), k = 1..d;
  noise: the covariance of a minibatch of B = 4 drawn without replacement,
  Sigma(x) = (N - B) / (B (N - 1)) * (1/N) sum_i (g_i - g)(g_i - g)';
  eta = 0.1, T = 1 (10 steps); the SDEs take 5 Euler-Maruyama substeps per step;
  SGD: x <- x - eta g + eta L z, L L' = Sigma(x), z the normalised sum of the step's
  5 substep normals (the coupling hasme uses);
  SME-2: dX = -(I + eta/2 H) g dt + sqrt(eta) L dW;
  HA-SME: dX = -V phi1(eta Lambda) V' g dt + sqrt(eta) D dW, D D' = V (S o Phi) V',
  S = V' Sigma V, Phi_ij = phi1(z_i + z_j - z_i z_j), negative eigenvalues of S o Phi
  clipped to 0 (hasme's psd = "project");
  observables at T: the loss f(x_T) and |x_T - x0|^2; weak errors E g(model) -
  E g(SGD) from the paired per-path differences.

Written the way a careful researcher writes it: vectorised over paths (in chunks of
CHUNK paths so that the per-sample arrays stay within memory), per-sample Jacobians
by broadcasting, the Hessians and covariances by einsum, one batched np.linalg.eigh
per HA-SME substep for H and one for S o Phi, batched Cholesky for Sigma.

Usage: peer_w5.py [paths]; prints one JSON line with "value" and "se" (HA-SME's weak
error on the loss and its paired standard error), every mean and weak error, and
"seconds" (the simulation only, not NumPy's import or the set-up of constants).
"""
import json
import sys
import time

import numpy as np

N, P, HID, B = 16, 1, 3, 4
D = HID * P + 2 * HID + 1
ETA, STEPS, SUB = 0.1, 10, 5
CHUNK = 20000

X = (-2.0 + 4.0 * (np.arange(1, N + 1) - 0.5) / N).reshape(N, P)
Y = np.sin(1.5 * X[:, 0]) + 0.1 * np.cos(7.0 * X[:, 0])
THETA0 = 0.5 * np.sin(1.3 * np.arange(1, D + 1) + 0.4)
SCALE = (N - B) / (B * (N - 1.0)) / N
XT = np.concatenate([X, np.ones((N, 1))], axis=1)              # xt = (x, 1): (N, P+1)
XTXT = np.einsum("sa,sb->sab", XT, XT).reshape(N, -1)          # xt xt' per sample

# index layout of theta: W1_jk at j P + k, b1_j at H P + j, w2_j at H P + H + j, b2 last
IW1 = np.arange(HID * P).reshape(HID, P)
IB1 = HID * P + np.arange(HID)
IW2 = HID * P + HID + np.arange(HID)


def unpack(th):
    W1 = th[:, :HID * P].reshape(-1, HID, P)
    return W1, th[:, IB1], th[:, IW2], th[:, D - 1]


def per_sample(th):
    """Activations a (n, N, H), s = 1 - a^2, residuals r (n, N), Jacobians J (n, N, D)."""
    W1, b1, w2, b2 = unpack(th)
    z = np.einsum("nhp,sp->nsh", W1, X) + b1[:, None, :]
    a = np.tanh(z)
    s = 1.0 - a * a
    r = np.einsum("nsh,nh->ns", a, w2) + b2[:, None] - Y[None, :]
    n = th.shape[0]
    J = np.empty((n, N, D))
    ws = w2[:, None, :] * s                                   # (n, N, H)
    J[:, :, :HID * P] = (ws[:, :, :, None] * X[None, :, None, :]).reshape(n, N, HID * P)
    J[:, :, IB1] = ws
    J[:, :, IW2] = a
    J[:, :, D - 1] = 1.0
    return a, s, r, J


def grad_cov(th, need_hess):
    a, s, r, J = per_sample(th)
    gi = r[:, :, None] * J                                    # per-sample gradients
    g = gi.mean(axis=1)
    c = gi - g[:, None, :]
    Sigma = np.matmul(c.transpose(0, 2, 1), c) * SCALE
    if not need_hess:
        return g, Sigma, None
    H = np.matmul(J.transpose(0, 2, 1), J) / N
    # r K: K[u_j, u_j] = -2 w2_j a_j s_j xt xt', K[u_j, w2_j] = s_j xt, xt = (x, 1)
    _, _, w2, _ = unpack(th)
    for j in range(HID):
        u = np.concatenate([IW1[j], [IB1[j]]])
        cu = (r * a[:, :, j] * s[:, :, j]) @ XTXT                 # (n, (P+1)^2)
        cu = cu.reshape(-1, P + 1, P + 1) * ((-2.0 / N) * w2[:, j, None, None])
        H[:, u[:, None], u[None, :]] += cu
        cw = ((r * s[:, :, j]) @ XT) / N
        H[:, u, IW2[j]] += cw
        H[:, IW2[j], u] += cw
    return g, Sigma, H


def matvec(A, v):
    return np.matmul(A, v[:, :, None])[:, :, 0]


def phi1(z):
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(z != 0, -np.log1p(-z) / z, 1.0)


def chol(S):
    try:
        return np.linalg.cholesky(S)
    except np.linalg.LinAlgError:                             # singular: eigen-factor
        w, U = np.linalg.eigh(S)
        return U * np.sqrt(np.clip(w, 0.0, None))[:, None, :]


def loss(th):
    _, _, r, _ = per_sample(th)
    return 0.5 * (r * r).mean(axis=1)


def run_chunk(n, rng, counts):
    """Per-path observables (loss, dist2) at T for each method, from shared normals."""
    x = {m: np.tile(THETA0, (n, 1)) for m in ("sgd", "sme2", "hasme")}
    dt = ETA / SUB
    sq = np.sqrt(ETA * dt)
    for _ in range(STEPS):
        Z = rng.standard_normal((SUB, n, D))
        # SGD: one step with the normalised sum of the substep normals
        g, Sigma, _ = grad_cov(x["sgd"], False)
        z = Z.sum(axis=0) / np.sqrt(SUB)
        x["sgd"] = x["sgd"] - ETA * g + ETA * matvec(chol(Sigma), z)
        for k in range(SUB):
            # SME-2
            g, Sigma, H = grad_cov(x["sme2"], True)
            drift = -(g + 0.5 * ETA * matvec(H, g))
            x["sme2"] = x["sme2"] + dt * drift + sq * matvec(chol(Sigma), Z[k])
            # HA-SME
            g, Sigma, H = grad_cov(x["hasme"], True)
            lam, V = np.linalg.eigh(H)
            zz = ETA * lam
            if np.any(zz >= 1.0):
                raise SystemExit("HA-SME undefined: eta * lambda >= 1")
            p1 = phi1(zz)
            drift = -matvec(V, p1 * matvec(V.transpose(0, 2, 1), g))
            S = V.transpose(0, 2, 1) @ Sigma @ V
            Phi = phi1(zz[:, :, None] + zz[:, None, :] - zz[:, :, None] * zz[:, None, :])
            w, U = np.linalg.eigh(S * Phi)
            counts["projected"] += int((w < 0).sum())
            F = V @ (U * np.sqrt(np.clip(w, 0.0, None))[:, None, :])
            x["hasme"] = x["hasme"] + dt * drift + sq * matvec(F, Z[k])
    out = {}
    for m, th in x.items():
        out[m] = np.stack([loss(th), ((th - THETA0) ** 2).sum(axis=1)])
    return out


def w5(paths):
    rng = np.random.Generator(np.random.PCG64(5))
    counts = {"projected": 0}
    sums = {}
    t = time.perf_counter()
    done = 0
    while done < paths:
        n = min(CHUNK, paths - done)
        vals = run_chunk(n, rng, counts)
        for m, v in vals.items():
            d = v - vals["sgd"]
            acc = sums.setdefault(m, np.zeros((4, 2)))
            acc += np.stack([v.sum(axis=1), (v * v).sum(axis=1), d.sum(axis=1),
                             (d * d).sum(axis=1)])
        done += n
    seconds = time.perf_counter() - t
    res = {}
    for m, s in sums.items():
        mean, dm = s[0] / paths, s[2] / paths
        se = np.sqrt((s[1] / paths - mean ** 2) / (paths - 1))
        dse = np.sqrt(np.maximum(s[3] / paths - dm ** 2, 0.0) / (paths - 1))
        res[m] = {"mean": mean.tolist(), "se": se.tolist(), "weak_error": dm.tolist(),
                  "weak_error_se": dse.tolist()}
    return res, seconds, counts["projected"]


if __name__ == "__main__":
    paths = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
    res, seconds, projected = w5(paths)
    print(json.dumps({"workload": "W5", "value": res["hasme"]["weak_error"][0],
                      "se": res["hasme"]["weak_error_se"][0], "seconds": seconds,
                      "paths": paths, "projected": projected, "methods": res}))
