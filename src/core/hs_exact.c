/*
** hs_exact.c: linear Gaussian transitions and closed-form laws on quadratics.
**
** Everything happens in the eigenbasis of H = V diag(lambda) V' (z_i = eta lambda_i,
** y = V'x, beta = V'b, S = V' Sigma V). Each SDE model is an Ornstein-Uhlenbeck
** process dX = -(M X + c0) dt + sqrt(eta) D dW whose drift matrix M shares V, with
** the eigenvalues and offset of the method's type table (hs_method.h):
**   m_i = rate(lambda_i, eta),  V'c0 = offset(z_i) beta_i
** (SME-1: lambda_i and 1; SME-2: lambda_i + (eta/2) lambda_i^2 and 1 + z_i/2;
** HA-SME: -log(1 - z_i)/eta and phi1(z_i)), and diffusion eta * Smod in the eigenbasis
** with Smod = S, or S o Phi for a method with a pair function (HA-SME). HA-SME's
** exact transition equals SGD's recursion (docs/methods.md).
*/
#include "hs_exact.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hs_eiglanes.h"
#include "hs_linalg.h"
#include "hs_util.h"

/* (1 - e^{-a t}) / a, continuous at a = 0 (value t); accurate for small |a t|. */
static double expint(double a, double t) {
  double at = a * t;
  if (at == 0.0) return t;
  return -expm1(-at) / a;
}

/* sum_{j<k} r^j with r = 1 - u, accurate when r is close to 1 (u small): u is
** passed rather than r because 1 - r would cancel. */
static double geomsum(double u, size_t k) {
  if (u == 0.0) return (double)k;
  double r = 1.0 - u;
  if (r > 0.0) return -expm1((double)k * log1p(-u)) / u;
  return (1.0 - pow(r, (double)k)) / u;
}

/* The eigen-quantities every construction starts from. */
typedef struct eigsys {
  size_t d;
  double *w, *V;     /* eigenvalues (ascending) and vectors of H */
  double *m;         /* drift eigenvalues of the model */
  double *gamma;     /* V' c0 */
  double *beta;      /* V' b */
  double *Smod;      /* model diffusion / eta in the eigenbasis, PSD-checked */
  double *buf;       /* one allocation behind all of the above + scratch */
  double *scratch;
} eigsys;

static void eigsys_free(eigsys *e) { free(e->buf); }

/* The eigensystem of H (eigenvalues in no particular order), by the solver the
** general kernel uses for the same model, so that both kernels build the diffusion
** from the same eigenvectors: HA-SME with isotropic or no noise in dimension 2 to
** HS_EIG_LANES_ENGINE takes the lane Jacobi solver (one lane of it: a lane's result
** does not depend on the others), everything else hs_eig. */
static hs_status symeig(const hs_model *md, size_t d, const double *H, double *w, double *V,
                        double *scratch) {
  if (!hs_model_eig_lanes(md)) return hs_eig(d, H, w, V, scratch);
  enum { K = HS_LANES };
  double *A = scratch, *VL = A + d * d * K, *wl = VL + d * d * K, *work = wl + d * K;
  int on[K] = {1};
  memset(A, 0, 2 * d * d * K * sizeof(double));   /* the other lanes: read, not used */
  for (size_t i = 0; i < d * d; i++) A[i * K] = H[i];
  if (hs_eig_lanes(d, A, wl, VL, on, work) != 0) return HS_ENOCONV;
  for (size_t i = 0; i < d * d; i++) V[i] = VL[i * K];
  for (size_t i = 0; i < d; i++) w[i] = wl[i * K];
  return HS_OK;
}

/* y = V' x for a d x d V (0 for x = NULL), read along V's rows: each entry is still
** summed over k in increasing order. */
static void tmv(size_t d, const double *V, const double *x, double *y) {
  for (size_t i = 0; i < d; i++) y[i] = 0.0;
  if (x == NULL) return;
  for (size_t k = 0; k < d; k++) {
    const double *v = V + k * d;
    double xk = x[k];
    for (size_t i = 0; i < d; i++) y[i] += v[i] * xk;
  }
}

/*
** Set-up of a large model takes seconds (the eigendecomposition and a few products
** of order d, O(d^3) each): between them it looks at the caller's interrupt flag
** and stops with HS_ECANCEL, info->part "interrupt".
*/
static int stopped(const volatile sig_atomic_t *stop) {
  return stop != NULL && *stop;
}

static hs_status cancel(hs_model_info *info) {
  info->part = "interrupt";
  return HS_ECANCEL;
}

/* Diagonalise H, form m, gamma and Smod for the model. Sigma may be NULL (no noise). */
static hs_status eigsys_build(eigsys *e, const hs_model *md, const double *H,
                              const double *b, const double *Sigma,
                              const volatile sig_atomic_t *stop, hs_model_info *info) {
  size_t d = md->dim, dd = d * d;
  /* Scratch for the callers too: up to two vectors, three d x d matrices and the
  ** factor and eigen work (that of the lane solver: two lane-interleaved matrices, the
  ** eigenvalues and its own work). */
  size_t lanes = 2 * dd * HS_LANES + d * HS_LANES + hs_eig_lanes_worksize(d);
  size_t ew = hs_eig_worksize(d) > lanes ? hs_eig_worksize(d) : lanes;
  size_t nscratch = 2 * d + 3 * dd + hs_factor_worksize(d) + ew;
  memset(e, 0, sizeof *e);
  e->d = d;
  e->buf = hs_malloc((4 * d + 2 * dd + nscratch) * sizeof(double));
  if (e->buf == NULL) return HS_ENOMEM;
  e->w = e->buf;
  e->m = e->w + d;
  e->gamma = e->m + d;
  e->beta = e->gamma + d;
  e->V = e->beta + d;
  e->Smod = e->V + dd;
  e->scratch = e->Smod + dd;
  if (stopped(stop)) return cancel(info);
  hs_status st = symeig(md, d, H, e->w, e->V, e->scratch);
  if (st != HS_OK) {
    info->part = "hessian";
    return st;
  }
  if (stopped(stop)) return cancel(info);
  double eta = md->eta;
  const hs_method_type *mt = md->method;
  double wmax = e->w[0];
  for (size_t i = 1; i < d; i++) wmax = fmax(wmax, e->w[i]);
  if (hs_method_outside(mt, eta * wmax)) {   /* report lambda_max */
    info->value = wmax;
    info->part = "domain";
    return HS_EDOM;
  }
  tmv(d, e->V, b, e->beta);
  for (size_t i = 0; i < d; i++) {
    double lam = e->w[i], z = eta * lam;
    if (hs_method_outside(mt, z)) {
      info->value = lam;
      info->part = "domain";
      return HS_EDOM;
    }
    e->m[i] = mt->rate(lam, eta);
    e->gamma[i] = mt->offset(z) * e->beta[i];
  }
  if (Sigma == NULL) {
    memset(e->Smod, 0, dd * sizeof(double));
    return HS_OK;
  }
  /* Smod = V' Sigma V (o Phi for HA-SME), its lower triangle mirrored. */
  double *T = e->scratch;
  hs_gemm(d, d, d, Sigma, e->V, T);
  if (stopped(stop)) return cancel(info);
  hs_gemm_tn(d, d, d, e->V, T, e->Smod);
  if (stopped(stop)) return cancel(info);
  for (size_t i = 0; i < d; i++)
    for (size_t j = 0; j <= i; j++) {
      double s = e->Smod[i * d + j];
      if (mt->pair != NULL) s *= mt->pair(eta * e->w[i], eta * e->w[j]);
      e->Smod[i * d + j] = e->Smod[j * d + i] = s;
    }
  if (mt->pair == NULL) return HS_OK;
  /* S o Phi must be PSD for the SDE to exist (docs/methods.md): check it, and with
  ** psd_project replace it by its clipped version F F'. */
  double *F = T + dd, *fw = F + dd;
  st = hs_model_factor(d, e->Smod, F, md->psd_tol, md->psd_project, fw, info);
  if (st != HS_OK) {
    info->part = "diffusion";
    return st;
  }
  if (info->projected > 0) {
    if (stopped(stop)) return cancel(info);
    if (d > HS_BLAS_ORDER) {   /* F F' as one product (the BLAS's) */
      hs_gemm_nt(d, d, d, F, F, e->Smod);
      hs_symmetrize_lower(d, e->Smod);
    }
    else
      for (size_t i = 0; i < d; i++)
        for (size_t j = 0; j < d; j++) e->Smod[i * d + j] = hs_dot(d, F + i * d, F + j * d);
  }
  return HS_OK;
}

/* out = V diag(s) V' for a diagonal given in the eigenbasis (T scratch d x d). */
static void fromdiag(const eigsys *e, const double *s, double *T, double *out) {
  hs_sym_from_eig_work(e->d, e->V, s, out, T);
}

/* out = V y (back from the eigenbasis). */
static void frombasis(const eigsys *e, const double *y, double *out) {
  hs_gemv(e->d, e->d, 1.0, e->V, y, 0.0, out);
}

/* out = V Q V' for a full symmetric Q in the eigenbasis (T scratch d x d); out may
** be Q. */
static void congruence(const eigsys *e, const double *Q, double *T, double *out) {
  size_t d = e->d;
  hs_gemm(d, d, d, e->V, Q, T);
  hs_gemm_nt(d, d, d, T, e->V, out);
  hs_symmetrize_lower(d, out);
}

void hs_linear_free(hs_linear *lin) {
  if (lin == NULL) return;
  free(lin->A);
  lin->A = lin->c = lin->L = NULL;
}

hs_status hs_linear_build(hs_linear *lin, const hs_model *md, const double *H,
                          const double *b, int exact, size_t rounds, size_t normals,
                          const volatile sig_atomic_t *stop, hs_model_info *info) {
  size_t d = md->dim, dd = d * d;
  double eta = md->eta;
  const hs_noise *nz = md->noise;
  memset(lin, 0, sizeof *lin);
  if (rounds < 1) return HS_EINVAL;
  if (nz->kind != HS_NOISE_NONE && nz->kind != HS_NOISE_ISO && nz->kind != HS_NOISE_CONST)
    return HS_EINVAL;
  lin->dim = d;
  lin->A = hs_malloc((2 * dd + d) * sizeof(double));
  if (lin->A == NULL) return HS_ENOMEM;
  lin->c = lin->A + dd;
  lin->L = nz->kind == HS_NOISE_NONE ? NULL : lin->c + d;

  /* Sigma as a matrix (ISO included), so that every model is built the same way.
  ** The eigenbasis diffusion (two products of order d) is needed by the exact
  ** transitions of the SDEs and by HA-SME; SGD and the Euler steps of SME-1/2 take
  ** the noise's own factor below, so their set-up skips it. */
  int needS = md->method->pair != NULL || (exact && md->method->is_sde);
  double *Sigma = NULL;
  if (nz->kind != HS_NOISE_NONE && needS) {
    Sigma = hs_malloc(dd * sizeof(double));
    if (Sigma == NULL) { hs_linear_free(lin); return HS_ENOMEM; }
    if (nz->kind == HS_NOISE_CONST) memcpy(Sigma, nz->cov, dd * sizeof(double));
    else {
      memset(Sigma, 0, dd * sizeof(double));
      for (size_t i = 0; i < d; i++) Sigma[i * d + i] = nz->sigma * nz->sigma;
    }
  }
  eigsys e;
  hs_status st = eigsys_build(&e, md, H, b, Sigma, stop, info);
  free(Sigma);
  if (st != HS_OK) goto done;

  double *diag = e.scratch, *y = diag + d, *Q = y + d, *T = Q + dd, *fw = T + dd;
  int discrete = !md->method->is_sde;
  lin->count = discrete ? (md->method->split ? rounds : 1) : exact ? 1 : rounds;
  lin->draws = normals > 0 ? normals / lin->count : 1;
  double scale = 0.0;   /* L = scale * (a factor of the noise in Q) */

  if (discrete) {
    /* x' = (I - h M) x - h b + h |w| D z with h = eta / count: the recursion itself
    ** (M = H for SGD and SVAG; SGD: h = eta and |w| = 1). */
    double h = eta / (double)lin->count;
    for (size_t i = 0; i < d; i++) diag[i] = 1.0 - h * e.m[i];
    fromdiag(&e, diag, T, lin->A);
    for (size_t i = 0; i < d; i++) lin->c[i] = b != NULL ? -h * b[i] : 0.0;
    memcpy(Q, e.Smod, dd * sizeof(double));
    scale = h * hs_method_wnorm(md->method, lin->count);
  }
  else if (!exact) {
    /* Euler-Maruyama with dt = eta/rounds: x' = (I - dt M) x - dt c0 + sqrt(eta dt) D z */
    double dt = eta / (double)rounds;
    for (size_t i = 0; i < d; i++) diag[i] = 1.0 - dt * e.m[i];
    fromdiag(&e, diag, T, lin->A);
    for (size_t i = 0; i < d; i++) y[i] = -dt * e.gamma[i];
    frombasis(&e, y, lin->c);
    memcpy(Q, e.Smod, dd * sizeof(double));
    scale = sqrt(eta * dt);
  }
  else {
    /* Exact OU transition over time eta. */
    for (size_t i = 0; i < d; i++) diag[i] = exp(-e.m[i] * eta);
    fromdiag(&e, diag, T, lin->A);
    for (size_t i = 0; i < d; i++) y[i] = -expint(e.m[i], eta) * e.gamma[i];
    frombasis(&e, y, lin->c);
    for (size_t i = 0; i < d; i++)
      for (size_t j = 0; j < d; j++)
        Q[i * d + j] = eta * e.Smod[i * d + j] * expint(e.m[i] + e.m[j], eta);
    scale = 1.0;
  }
  /* The noise factor L. Euler steps use the diffusion factor the general kernel
  ** computes: the symmetric square root of the method's diffusion matrix (the noise's
  ** own factor Sigma^(1/2), or (V Smod V')^(1/2) with a pair multiplier), so both
  ** kernels give the same paths for the same draws. Exact transitions take the square
  ** root of their covariance in the original coordinates: HA-SME's is eta^2 Sigma, so
  ** its coupled paths coincide with SGD's, whose factor is eta Sigma^(1/2). */
  if (lin->L != NULL) {
    hs_model_info finfo = {0.0, 0, NULL};
    if (stopped(stop)) { st = cancel(info); goto done; }
    if (md->method->pair == NULL && (discrete || !exact)) {
      if (nz->kind == HS_NOISE_ISO) {
        memset(lin->L, 0, dd * sizeof(double));
        for (size_t i = 0; i < d; i++) lin->L[i * d + i] = nz->sigma;
      }
      else memcpy(lin->L, nz->factor, dd * sizeof(double));
    }
    else if (exact) {
      congruence(&e, Q, T, Q);
      if (stopped(stop)) { st = cancel(info); goto done; }
      /* Q is PSD by construction (the model diffusion was checked); clip rounding. */
      st = hs_model_factor(d, Q, lin->L, md->psd_tol, 1, fw, &finfo);
      if (st != HS_OK) goto done;
    }
    else {
      congruence(&e, Q, T, Q);
      st = hs_model_factor(d, Q, lin->L, md->psd_tol, 1, fw, &finfo);
      if (st != HS_OK) goto done;
    }
    for (size_t i = 0; i < dd; i++) lin->L[i] *= scale;
    lin->lower = 1;
    for (size_t i = 0; i < d && lin->lower; i++)
      for (size_t j = i + 1; j < d; j++)
        if (lin->L[i * d + j] != 0.0) { lin->lower = 0; break; }
  }
done:
  eigsys_free(&e);
  if (st != HS_OK) hs_linear_free(lin);
  return st;
}

hs_status hs_exact_moments(const hs_model *md, const double *H, const double *b,
                           const double *Sigma, const double *x0, size_t k,
                           double *mean, double *cov, hs_model_info *info) {
  size_t d = md->dim, dd = d * d;
  double eta = md->eta, t = (double)k * eta;
  eigsys e;
  hs_status st = eigsys_build(&e, md, H, b, Sigma, NULL, info);
  if (st != HS_OK) { eigsys_free(&e); return st; }
  double *y = e.scratch, *Q = y + d, *T = Q + dd;
  tmv(d, e.V, x0, y);
  for (size_t i = 0; i < d; i++) {
    double y0 = y[i];
    if (!md->method->is_sde) {
      double z = eta * e.m[i];
      y[i] = pow(1.0 - z, (double)k) * y0 - eta * e.beta[i] * geomsum(z, k);
    }
    else
      y[i] = exp(-e.m[i] * t) * y0 - expint(e.m[i], t) * e.gamma[i];
  }
  frombasis(&e, y, mean);
  for (size_t i = 0; i < d; i++)
    for (size_t j = 0; j < d; j++) {
      double q;
      if (!md->method->is_sde) {
        double zi = eta * e.m[i], zj = eta * e.m[j];
        q = eta * eta * geomsum(zi + zj - zi * zj, k);
      }
      else
        q = eta * expint(e.m[i] + e.m[j], t);
      Q[i * d + j] = e.Smod[i * d + j] * q;
    }
  congruence(&e, Q, T, cov);
  eigsys_free(&e);
  return HS_OK;
}
