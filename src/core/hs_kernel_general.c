/*
** hs_kernel_general.c: the general kernel, for any objective and noise: per path and
** substep, hs_model_eval gives the method's drift and diffusion at the current point
** (SGD steps x + eta b + eta B z; SDE models take Euler-Maruyama substeps). Two
** lane-batched paths evaluate the method's formulas (hs_method.h) across the paths of
** a block instead: one-dimensional SDE models with isotropic or no noise
** (scalar_substep), and spectral methods in dimension 2 to HS_EIG_LANES_ENGINE
** (spectral_substep). Both give the paths of the per-path code: scalar_substep bit
** for bit, spectral_substep up to the rounding of its eigensolver.
**
** The file is compiled for AVX2 and the x86-64 baseline, and the code path
** (hs_isa.h) chosen per block (the AVX-512 path runs the AVX2 code); all compute the
** same bits.
*/
/* Compiled once per code path (the Makefile's ISA_AVX2): the plain compilation is
** the baseline and dispatches to the other; the compilation with -DHS_ISA_TAG=avx2
** (and -march=x86-64-v3) renames the file's external functions with the suffix, so
** the two coexist. */
#include "hs_isa.h"
#ifdef HS_ISA_TAG
#define hs_kernel_general_worksize HS_ISA_FN(hs_kernel_general_worksize)
#define hs_kernel_general_init HS_ISA_FN(hs_kernel_general_init)
#define hs_kernel_general_free HS_ISA_FN(hs_kernel_general_free)
#define hs_kernel_general_block HS_ISA_FN(hs_kernel_general_block)
#endif
#include "hs_kernel_general.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hs_eiglanes.h"
#include "hs_normal.h"
#include "hs_util.h"

/* The lane-batched substep of a spectral method (HA-SME): for 2 <= d <=
** HS_EIG_LANES_ENGINE with isotropic or no noise (hs_model_eig_lanes), where the
** Jacobi solver over the block's lanes, warm-started from each path's previous
** eigenvectors, is faster than one solver call per path. */
#define LANE_EIG_MAX HS_EIG_LANES_ENGINE

/* Normal vectors summed into the one that drives a round (an Euler substep, a SVAG
** step) of a coupled run: N / rounds; 1 when not coupled. The lane-batched substeps
** draw one vector per round and run only then. */
static size_t group(const hs_sim *s) {
  size_t n = hs_sim_normals(s);
  return n > 0 ? n / hs_sim_rounds(s) : 1;
}

/* The doubles of normals a path draws at once: a coupled step's N vectors, or
** `substeps` of them. */
static size_t zlen(const hs_sim *s) {
  size_t n = hs_sim_normals(s);
  return (n > s->substeps ? n : s->substeps) * s->model.dim;
}

static int spectral_lanes(const hs_sim *s) {
  return hs_model_eig_lanes(&s->model) && group(s) == 1;
}

static size_t lanework_size(const hs_run *R) {
  size_t d = R->s->model.dim, K = HS_BLOCK;
  if (!spectral_lanes(R->s)) return 0;
  return K * d + d * d + 2 * d * d * K + 5 * d * K + hs_eig_lanes_worksize(d);
}

size_t hs_kernel_general_worksize(const hs_run *R) {
  const hs_sim *s = R->s;
  size_t d = s->model.dim;
  return HS_BLOCK * d + zlen(s) + 3 * d + hs_model_worksize(&s->model) +
         hs_objective_worksize(s->model.obj) + lanework_size(R);
}

static void genwork_layout(const hs_run *R, double *w, hs_genwork *g) {
  const hs_sim *s = R->s;
  size_t d = s->model.dim;
  g->x = w;
  g->z = g->x + HS_BLOCK * d;
  g->zc = g->z + zlen(s);
  g->b = g->zc + d;
  g->u = g->b + d;
  g->mw = g->u + d;
  g->ow = g->mw + hs_model_worksize(&s->model);
  if (spectral_lanes(s)) {
    size_t K = HS_BLOCK;
    g->lg = g->ow + hs_objective_worksize(s->model.obj);
    g->lh = g->lg + K * d;
    g->lA = g->lh + d * d;
    g->lV = g->lA + d * d * K;
    g->lw = g->lV + d * d * K;
    g->lt = g->lw + d * K;
    g->lp = g->lt + d * K;
    g->lu = g->lp + d * K;
    g->lz = g->lu + d * K;
    g->le = g->lz + d * K;
    memset(g->lV, 0, d * d * K * sizeof(double));
    memset(g->lw, 0, 5 * d * K * sizeof(double));   /* lanes never solved hold zeros */
  }
}

hs_status hs_kernel_general_init(const hs_run *R, const hs_view *v, double *work,
                                 hs_genwork *g) {
  const hs_sim *s = R->s;
  genwork_layout(R, work, g);
  hs_model_ws_init(&v->model, g->mw, &g->ws);
  if (s->model.noise->kind == HS_NOISE_BATCH && !s->model.noise->gaussian) {
    g->idx = hs_malloc(s->model.noise->batch * sizeof(size_t));
    g->stamp = hs_calloc(s->model.obj->nsamples, sizeof(uint32_t));
    if (g->idx == NULL || g->stamp == NULL) return HS_ENOMEM;
  }
  return HS_OK;
}

void hs_kernel_general_free(hs_genwork *g) {
  free(g->idx);
  free(g->stamp);
  g->idx = NULL;
  g->stamp = NULL;
}

/* A minibatch of B indices out of N into g->idx: with replacement, or a uniformly
** random subset by Floyd's algorithm (R. Floyd, J. Bentley, "Programming Pearls: A
** sample of brilliance", CACM 30(9), 1987), O(B) with generation-stamped marks. */
static void drawbatch(const hs_noise *nz, size_t N, hs_pcg *r, hs_genwork *g) {
  size_t B = nz->batch;
  if (nz->replace) {
    for (size_t i = 0; i < B; i++) g->idx[i] = (size_t)hs_pcg_bounded(r, N);
    return;
  }
  if (++g->gen == 0) {  /* the stamps wrapped: clear them once in 2^32 draws */
    memset(g->stamp, 0, N * sizeof(uint32_t));
    g->gen = 1;
  }
  size_t c = 0;
  for (size_t j = N - B; j < N; j++) {
    size_t t = (size_t)hs_pcg_bounded(r, (uint64_t)j + 1);
    if (g->stamp[t] == g->gen) t = j;
    g->stamp[t] = g->gen;
    g->idx[c++] = t;
  }
}

/* x += scale * B z for the diffusion factor kind. */
static void adddiffusion(size_t d, hs_bkind bk, const double *B, const double *z,
                         double scale, double *x) {
  if (bk == HS_B_SCALAR) {
    for (size_t j = 0; j < d; j++) x[j] += scale * B[0] * z[j];
  }
  else if (bk == HS_B_FULL) {
    for (size_t i = 0; i < d; i++) {
      double s = 0.0;
      for (size_t j = 0; j < d; j++) s += B[i * d + j] * z[j];
      x[i] += scale * s;
    }
  }
}

/* One step of h = eta / rounds of a discrete method (SGD: h = eta) of one path:
** x - h sum_i w_i g_i over the method's draws. Real minibatches draw a batch per draw
** (SVAG: two independent batches; Z. Li, S. Malladi, S. Arora, NeurIPS 2021, with
** c1 + c2 = 1 and c1^2 + c2^2 = l); Gaussian noise, its Gaussian surrogate included, is
** drawn as |w| z, which has the law of sum_i w_i z_i (for SGD |w| = 1), from G
** normal vectors (G > 1: the normalised sum of a coupled run's share). */
static hs_status discrete_step(const hs_run *R, const hs_view *v, hs_pcg *r, double *x,
                               double h, double hw, size_t G, hs_genwork *g,
                               hs_model_info *info) {
  const hs_model *m = &v->model;
  const hs_method_type *mt = m->method;
  size_t d = m->dim;
  const double *B = NULL;
  hs_bkind bk = HS_B_ZERO;
  hs_status st;
  if (m->noise->kind == HS_NOISE_BATCH && !m->noise->gaussian) {
    double w[8] = {1.0};
    if (mt->weights != NULL) mt->weights(R->s->svag_l, w);
    for (size_t i = 0; i < mt->draws; i++) {
      /* one draw (SGD) straight into g->b; several accumulate w_i g_i there */
      double *gi = mt->draws == 1 ? g->b : g->u;
      drawbatch(m->noise, m->obj->nsamples, r, g);
      st = hs_objective_batch_grad(m->obj, x, g->idx, m->noise->batch, gi, g->ow);
      if (st != HS_OK) {
        info->part = "objective";
        return st;
      }
      if (mt->draws > 1)
        for (size_t j = 0; j < d; j++) g->b[j] = (i == 0 ? 0.0 : g->b[j]) + w[i] * gi[j];
    }
    for (size_t j = 0; j < d; j++) x[j] -= h * g->b[j];
    return HS_OK;
  }
  st = hs_model_eval(m, x, g->b, &B, &bk, &g->ws, info);
  if (st != HS_OK) return st;
  for (size_t j = 0; j < d; j++) x[j] += h * g->b[j];
  if (bk != HS_B_ZERO) {
    size_t nd = G;
    hs_normal_fill(r, g->z, nd * d);
    const double *z = g->z;
    if (nd > 1) {
      double inv = 1.0 / sqrt((double)nd);
      for (size_t j = 0; j < d; j++) {
        double t = 0.0;
        for (size_t q = 0; q < nd; q++) t += g->z[q * d + j];
        g->zc[j] = t * inv;
      }
      z = g->zc;
    }
    adddiffusion(d, bk, B, z, hw, x);
  }
  return HS_OK;
}

/* One Euler-Maruyama substep of length dt of one path of an SDE model, driven by
** the normalised sum of G normal vectors (G > 1: the Brownian increment over dt made
** of G finer ones, in a coupled run whose step has more normals than substeps). */
static hs_status sde_substep(const hs_view *v, hs_pcg *r, double *x, double dt, size_t G,
                             hs_genwork *g, hs_model_info *info) {
  const hs_model *m = &v->model;
  size_t d = m->dim;
  double sq = sqrt(m->eta * dt);
  const double *B = NULL, *z = g->z;
  hs_bkind bk = HS_B_ZERO;
  hs_status st = hs_model_eval(m, x, g->b, &B, &bk, &g->ws, info);
  if (st != HS_OK) return st;
  if (bk != HS_B_ZERO) {
    if (G > 1) {
      hs_normal_fill(r, g->z, G * d);
      double inv = 1.0 / sqrt((double)G);
      for (size_t j = 0; j < d; j++) {
        double t = 0.0;
        for (size_t q = 0; q < G; q++) t += g->z[q * d + j];
        g->zc[j] = t * inv;
      }
      z = g->zc;
    }
    else if (d == 1) g->z[0] = hs_normal(r);
    else hs_normal_fill(r, g->z, d);
  }
  for (size_t j = 0; j < d; j++) x[j] += dt * g->b[j];
  adddiffusion(d, bk, B, z, sq, x);
  return HS_OK;
}

/* Recorded step ri: the block's states into the snapshots (when kept) and its
** observables (when the run has them). */
static void gen_record(hs_run *R, const hs_view *v, size_t ri, size_t p0, size_t n,
                       hs_genwork *g) {
  size_t d = R->s->model.dim;
  if (R->out->snap != NULL)
    memcpy(R->out->snap + (ri * R->s->paths + p0) * d, g->x, n * d * sizeof(double));
  if (v->observe != NULL) hs_run_observe(R, v, ri, p0, n, g->x, g->ow);
}

/* Lane l of the block failed at step k with status st: record it (a domain exit when
** the run records those) or report it, and deactivate it (and, on a failure, the lanes
** after it, which no longer matter). */
static void lanefail(hs_run *R, const hs_view *v, size_t p0, size_t n, size_t l, size_t k,
                     hs_status st, const hs_model_info *info, double *x, int *act,
                     size_t *nact, hs_counts *cnt) {
  const hs_sim *s = R->s;
  size_t d = s->model.dim;
  if (st == HS_EDOM && s->record_undefined) {
    /* The model stops being defined on this path: recorded like a divergence. */
    R->out->undefined_step[p0 + l] = (int64_t)k;
    cnt->undefined++;
    for (size_t j = 0; j < d; j++) x[j] = NAN;
    act[l] = 0, (*nact)--;
    return;
  }
  const char *part = info->part != NULL ? info->part : "step";
  hs_run_fail(R, st, p0 + l, k, info->value, part,
              st == HS_ECALLBACK ? hs_run_callbackmsg(v, part) : NULL);
  act[l] = 0, (*nact)--;
  *nact -= hs_run_droplanes(act, l + 1, n);
}

/* The lane-batched substep applies to one-dimensional SDE models with isotropic or
** no noise: the diffusion is then a number per lane. */
static int scalar_lanes(const hs_sim *s) {
  hs_noise_kind nk = s->model.noise->kind;
  return s->model.dim == 1 && s->model.method->is_sde && group(s) == 1 &&
         (nk == HS_NOISE_NONE || nk == HS_NOISE_ISO);
}

/* One Euler-Maruyama substep of every active lane of a one-dimensional SDE model,
** each formula evaluated across the lanes in turn: the divisions and square roots of
** eight paths then go into vector instructions, and their log1p calls overlap,
** instead of each path waiting on its own chain of long-latency operations. The
** formulas are the method's (hs_method.h), in the arithmetic of hs_model_eval and
** sde_substep for d = 1, operation for operation, so the paths are the same bit for
** bit. */
static void scalar_substep(hs_run *R, const hs_view *v, size_t p0, size_t n, size_t k,
                           hs_genwork *g, hs_pcg *r, int *act, size_t *nact, hs_counts *cnt) {
  enum { K = HS_BLOCK };
  const hs_model *m = &v->model;
  double eta = m->eta, dt = eta / (double)R->s->substeps, sq = sqrt(eta * dt);
  int noisy = m->noise->kind == HS_NOISE_ISO;
  double sigma = noisy ? m->noise->sigma : 0.0;
  const hs_method_type *mt = m->method;
  double gr[K] = {0}, h[K] = {0}, b[K] = {0}, B[K] = {0};
  int need_h = (mt->needs & HS_NEED_HESS) != 0, spectral = (mt->needs & HS_NEED_EIG) != 0;
  for (size_t l = 0; l < n; l++) {
    if (!act[l]) continue;
    hs_status st = need_h ? hs_objective_gradhess(m->obj, g->x + l, &gr[l], &h[l], g->ow)
                          : hs_objective_grad(m->obj, g->x + l, &gr[l], g->ow);
    if (st != HS_OK) {
      hs_model_info info = {0.0, 0, "objective"};
      lanefail(R, v, p0, n, l, k, st, &info, g->x + l, act, nact, cnt);
    }
  }
  if (spectral) {   /* the 1 x 1 Hessian is its own eigenvalue */
    for (size_t l = 0; l < n; l++) {
      if (!act[l]) continue;
      if (hs_method_outside(mt, eta * h[l])) {
        hs_model_info info = {h[l], 0, "domain"};
        lanefail(R, v, p0, n, l, k, HS_EDOM, &info, g->x + l, act, nact, cnt);
      }
    }
    double t[K], p2[K];   /* every lane's multipliers, used on the active ones */
    for (size_t l = 0; l < n; l++) t[l] = eta * h[l];
    mt->spectral(n, t, t, p2);
    for (size_t l = 0; l < n; l++) {
      if (!act[l]) continue;
      b[l] = -t[l] * gr[l];
      B[l] = sigma * sqrt(p2[l]);
    }
  }
  else if (mt->hess_coef != NULL) {
    double c = mt->hess_coef(eta);
    for (size_t l = 0; l < n; l++) {
      double t = c * (h[l] * gr[l]);
      b[l] = -(gr[l] + t);
      B[l] = sigma;
    }
  }
  else
    for (size_t l = 0; l < n; l++) b[l] = -gr[l], B[l] = sigma;
  for (size_t l = 0; l < n; l++) {
    if (!act[l]) continue;
    double *x = g->x + l;
    double z = noisy ? hs_normal(&r[l]) : 0.0;
    x[0] += dt * b[l];
    if (!noisy) continue;
    /* as adddiffusion: a scalar factor multiplies first, a 1 x 1 one sums from 0 */
    if (spectral) x[0] += sq * (0.0 + B[l] * z);
    else x[0] += sq * B[l] * z;
  }
}

/* One Euler-Maruyama substep of a spectral method (HA-SME) with isotropic (or no)
** noise for every active lane, dimension 2 to LANE_EIG_MAX: the lanes' Hessians go
** through one Jacobi solver call (hs_eig_lanes_warm, warm-started from each path's
** previous eigenvectors), and the drift -V diag(drift(eta w)) V'g and diffusion
** sigma V diag(sqrt(diff(eta w))) z are formed lane by lane in vector loops. The
** law is that of hs_model_eval; the paths differ from it in rounding only, by the
** choice of eigensolver. */
static void spectral_substep(hs_run *R, const hs_view *v, size_t p0, size_t n, size_t k,
                             hs_genwork *g, hs_pcg *r, int *act, size_t *nact,
                             hs_counts *cnt) {
  enum { K = HS_BLOCK };
  const hs_model *m = &v->model;
  size_t d = m->dim;
  double eta = m->eta, dt = eta / (double)R->s->substeps, sq = sqrt(eta * dt);
  int noisy = m->noise->kind == HS_NOISE_ISO;
  double sigma = noisy ? m->noise->sigma : 0.0;
  double *G = g->lg, *A = g->lA, *V = g->lV, *w = g->lw, *T = g->lt, *P = g->lp,
         *U = g->lu, *Z = g->lz;
  int on[K] = {0};
  for (size_t l = 0; l < n; l++) {
    if (!act[l]) continue;
    hs_status st = hs_objective_gradhess(m->obj, g->x + l * d, G + l * d, g->lh, g->ow);
    if (st != HS_OK) {
      hs_model_info info = {0.0, 0, "objective"};
      lanefail(R, v, p0, n, l, k, st, &info, g->x + l * d, act, nact, cnt);
      continue;
    }
    for (size_t i = 0; i < d * d; i++) A[i * K + l] = g->lh[i];
    on[l] = 1;
  }
  unsigned bad = hs_eig_lanes_warm(d, A, w, V, on, g->warm, g->le);
  for (size_t l = 0; l < K; l++) {
    if (!on[l]) continue;
    if (bad & (1u << l)) {
      hs_model_info info = {0.0, 0, "hessian"};
      lanefail(R, v, p0, n, l, k, HS_ENOCONV, &info, g->x + l * d, act, nact, cnt);
      on[l] = 0;
      continue;
    }
    g->warm[l] = 1;
    /* fmax on finite values, inline (the eigenvalues of a lane that converged are) */
    double wmax = w[l];
    for (size_t i = 1; i < d; i++) wmax = wmax >= w[i * K + l] ? wmax : w[i * K + l];
    if (hs_method_outside(m->method, eta * wmax)) {
      hs_model_info info = {wmax, 0, "domain"};
      lanefail(R, v, p0, n, l, k, HS_EDOM, &info, g->x + l * d, act, nact, cnt);
      on[l] = 0;
    }
  }
  /* drift(z) and sigma sqrt(diff(z)) of z = eta w (as hs_model_eval), over every
  ** lane; those not on are not used */
  for (size_t i = 0; i < d * K; i++) T[i] = eta * w[i];
  m->method->spectral(d * K, T, T, P);
  for (size_t i = 0; i < d * K; i++) P[i] = sigma * sqrt(P[i]);
  /* The products below run across the lanes, on lane-interleaved copies of the
  ** gradients and the normals (lanes not on hold zeros): g in Z's place until U is
  ** made, then z in T's once T has served. Each sum runs in the order of j, as one
  ** path's would. U = phi1 o (V'g): */
  for (size_t j = 0; j < d; j++)
    for (size_t l = 0; l < K; l++) Z[j * K + l] = on[l] ? G[l * d + j] : 0.0;
  for (size_t i = 0; i < d; i++) {
    double acc[K] = {0};
    for (size_t j = 0; j < d; j++)
      for (size_t l = 0; l < K; l++) acc[l] += V[(j * d + i) * K + l] * Z[j * K + l];
    for (size_t l = 0; l < K; l++) U[i * K + l] = acc[l] * T[i * K + l];
  }
  /* The diffusion factor is the symmetric square root sigma V diag(sqrt(diff)) V' (the
  ** convention of every method, hs_factor): Z = sigma sqrt(diff) o (V' z) per lane. */
  if (noisy) {
    for (size_t l = 0; l < K; l++) {
      double z[LANE_EIG_MAX];
      if (l < n && on[l]) hs_normal_fill(&r[l], z, d);
      for (size_t j = 0; j < d; j++) T[j * K + l] = l < n && on[l] ? z[j] : 0.0;
    }
    for (size_t i = 0; i < d; i++) {
      double acc[K] = {0};
      for (size_t j = 0; j < d; j++)
        for (size_t l = 0; l < K; l++) acc[l] += V[(j * d + i) * K + l] * T[j * K + l];
      for (size_t l = 0; l < K; l++) Z[i * K + l] = P[i * K + l] * acc[l];
    }
  }
  /* x += dt (-V U) + sqrt(eta dt) V Z */
  for (size_t j = 0; j < d; j++) {
    double b[K] = {0}, nz[K] = {0};
    for (size_t i = 0; i < d; i++)
      for (size_t l = 0; l < K; l++) b[l] -= V[(j * d + i) * K + l] * U[i * K + l];
    if (noisy)
      for (size_t i = 0; i < d; i++)
        for (size_t l = 0; l < K; l++) nz[l] += V[(j * d + i) * K + l] * Z[i * K + l];
    for (size_t l = 0; l < n; l++) {
      if (!on[l]) continue;
      double *x = g->x + l * d;
      x[j] += dt * b[l];
      if (noisy) x[j] += sq * nz[l];
    }
  }
}

/* Advance every active lane by one SGD step or one SDE substep. Lanes are visited
** in turn for each substep (not each lane through all its substeps), so that the
** long dependency chain of one path's update overlaps with the next path's. */
static void gen_advance(hs_run *R, const hs_view *v, size_t p0, size_t n, size_t k,
                        hs_genwork *g, hs_pcg *r, int *act, size_t *nact, hs_counts *cnt) {
  const hs_sim *s = R->s;
  size_t d = s->model.dim;
  int discrete = !s->model.method->is_sde;
  size_t rounds = hs_sim_rounds(s), G = group(s);
  double h = s->model.eta / (double)rounds;
  /* a discrete step's noise scale h |w| (SGD: eta exactly) */
  double hw = discrete ? h * hs_method_wnorm(s->model.method, s->svag_l) : 0.0;
  if (scalar_lanes(s)) {
    for (size_t t = 0; t < rounds && *nact > 0; t++)
      scalar_substep(R, v, p0, n, k, g, r, act, nact, cnt);
    return;
  }
  if (spectral_lanes(s)) {
    for (size_t t = 0; t < rounds && *nact > 0; t++)
      spectral_substep(R, v, p0, n, k, g, r, act, nact, cnt);
    return;
  }
  for (size_t t = 0; t < rounds; t++)
    for (size_t l = 0; l < n; l++) {
      if (!act[l]) continue;
      hs_model_info info = {0.0, 0, NULL};
      double *x = g->x + l * d;
      hs_status st = discrete ? discrete_step(R, v, &r[l], x, h, hw, G, g, &info)
                              : sde_substep(v, &r[l], x, h, G, g, &info);
      cnt->projected += info.projected;
      if (st != HS_OK) lanefail(R, v, p0, n, l, k, st, &info, x, act, nact, cnt);
    }
}

#ifndef HS_ISA_TAG
void hs_kernel_general_block_avx2(hs_run *R, const hs_view *v, size_t p0, size_t n,
                                  hs_genwork *g, hs_counts *cnt);
#endif

void hs_kernel_general_block(hs_run *R, const hs_view *v, size_t p0, size_t n, hs_genwork *g,
                             hs_counts *cnt) {
#ifndef HS_ISA_TAG
  /* The wider paths (same bits, hs_isa.h). AVX-512 runs the AVX2 code: the per-lane
  ** loops gain nothing from it, and the libm calls they make ran at half speed from
  ** AVX-512 code. */
  if (hs_isa_active() != HS_ISA_BASELINE) {
    hs_kernel_general_block_avx2(R, v, p0, n, g, cnt);
    return;
  }
#endif
  enum { K = HS_BLOCK };
  const hs_sim *s = R->s;
  size_t d = s->model.dim;
  hs_pcg r[K];
  int act[K];
  hs_run_streams(R, p0, n, r);
  for (size_t l = 0; l < n; l++) {
    act[l] = 1;
    memcpy(g->x + l * d, s->x0 + (s->x0_per_path ? (p0 + l) * d : 0), d * sizeof(double));
  }
  for (size_t l = 0; l < K; l++) g->warm[l] = 0;   /* new paths: no eigenvectors yet */
  size_t ri = 0, nact = n, k = 0;
  for (;;) {
    if (ri < s->nrecord && s->record[ri] == k) gen_record(R, v, ri++, p0, n, g);
    if (k == s->steps || nact == 0) break;
    k++;
    gen_advance(R, v, p0, n, k, g, r, act, &nact, cnt);
    for (size_t l = 0; l < n; l++) {
      if (!act[l]) continue;
      int c = hs_run_checkpath(R, v, p0 + l, k, g->x + l * d, g->ow, cnt);
      if (c == PATH_GOES_ON) continue;
      act[l] = 0, nact--;
      if (c == PATH_FAILED) nact -= hs_run_droplanes(act, l + 1, n);
    }
    if (atomic_load(&R->cancel)) break;
    if (s->interrupt != NULL && *s->interrupt) {
      atomic_store(&R->cancel, 1);
      break;
    }
  }
  while (ri < s->nrecord) gen_record(R, v, ri++, p0, n, g);
}
