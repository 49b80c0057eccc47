/*
** hs_kernel_general.c: the general kernel, for any objective and noise: per path and
** substep, hs_model_eval gives the method's drift and diffusion at the current point
** (SGD steps x + eta b + eta B z; SDE models take Euler-Maruyama substeps). Two
** lane-batched paths evaluate the method's formulas (hs_method.h) across the paths of
** a block instead: one-dimensional SDE models with isotropic or no noise
** (scalar_substep), and spectral methods in dimension 2 to HS_EIG_LANES_ENGINE
** (spectral_substep). Both give the paths of the per-path code: scalar_substep bit
** for bit, spectral_substep up to the rounding of its eigensolver. The block's
** HS_BLOCK lanes are refilled: a lane whose path stops takes the worker's next path
** (hs_kernel_general_run). Under minibatch or state-dependent noise in dimension 2
** to 12, general_substep replaces hs_model_eval: the same law with less work, up to
** rounding.
**
** The file is compiled for AVX2 and the x86-64 baseline, and the code path
** (hs_isa.h) chosen per worker (the AVX-512 path runs the AVX2 code); all compute the
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
#define hs_kernel_general_run HS_ISA_FN(hs_kernel_general_run)
#endif
#include "hs_kernel_general.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hs_eiglanes.h"
#include "hs_linalg.h"
#include "hs_normal.h"
#include "hs_phi.h"
#include "hs_util.h"
#include "hs_vmath.h"

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

static int general_noise(const hs_sim *s);

/* Per lane: H, C, V and M (d x d), g, w, b, y, u and m (d), then the lanes' work for
** hs_eig_multi or hs_sqrt_apply_multi. */
static size_t generalwork_size(const hs_run *R) {
  size_t d = R->s->model.dim, ew = hs_eig_worksize(d), sw = hs_sqrt_apply_worksize(d);
  if (!general_noise(R->s)) return 0;
  return HS_BLOCK * (4 * d * d + 6 * d + (ew > sw ? ew : sw));
}

size_t hs_kernel_general_worksize(const hs_run *R) {
  const hs_sim *s = R->s;
  size_t d = s->model.dim;
  return HS_BLOCK * d + zlen(s) + 3 * d + hs_model_worksize(&s->model) +
         hs_objective_worksize(s->model.obj) + lanework_size(R) + generalwork_size(R);
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
    /* lanes never solved hold zeros: the lane solver's vector operations read every
    ** lane (hs_eiglanes.h) */
    memset(g->lA, 0, 2 * d * d * K * sizeof(double));
    memset(g->lw, 0, 5 * d * K * sizeof(double));
  }
  g->gl = general_noise(s) ? g->ow + hs_objective_worksize(s->model.obj) : NULL;
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

/* The normal vector that drives a round of one path: G vectors drawn from r into
** g->z, and for G > 1 (a coupled run's share) their sum scaled by 1 / sqrt(G), in
** g->zc. */
static const double *draw_round(hs_pcg *r, hs_genwork *g, size_t G, size_t d) {
  hs_normal_fill(r, g->z, G * d);
  if (G == 1) return g->z;
  double inv = 1.0 / sqrt((double)G);
  for (size_t j = 0; j < d; j++) {
    double t = 0.0;
    for (size_t q = 0; q < G; q++) t += g->z[q * d + j];
    g->zc[j] = t * inv;
  }
  return g->zc;
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
    adddiffusion(d, bk, B, draw_round(r, g, G, d), hw, x);
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
    if (G == 1 && d == 1) g->z[0] = hs_normal(r);   /* the common case, inline */
    else z = draw_round(r, g, G, d);
  }
  for (size_t j = 0; j < d; j++) x[j] += dt * g->b[j];
  adddiffusion(d, bk, B, z, sq, x);
  return HS_OK;
}

/* Recorded step ri of lane l's path: its state into the snapshots (when kept) and its
** observables (when the run has them). */
static void lane_record(hs_run *R, const hs_view *v, size_t ri, size_t l, hs_genwork *g) {
  const hs_sim *s = R->s;
  size_t d = s->model.dim, p = g->path[l];
  const double *x = g->x + l * d;
  if (R->out->snap != NULL) memcpy(R->out->snap + (ri * s->paths + p) * d, x, d * sizeof(double));
  if (v->observe != NULL) hs_run_observe(R, v, ri, p, 1, x, g->ow);
}

/* The lanes running paths after p stop: p failed, so their outcome no longer
** matters. Returns how many there were. */
static size_t droplater(hs_genwork *g, int *act, size_t n, size_t p) {
  size_t c = 0;
  for (size_t l = 0; l < n; l++)
    if (act[l] && g->path[l] > p) act[l] = 0, g->failed[l] = 1, c++;
  return c;
}

/* Lane l (of n) failed at its step with status st: record it (a domain exit when the
** run records those) or report it, and deactivate it (and, on a failure, the lanes
** running later paths, which no longer matter). */
static void lanefail(hs_run *R, const hs_view *v, hs_genwork *g, size_t n, size_t l,
                     hs_status st, const hs_model_info *info, double *x, int *act,
                     size_t *nact, hs_counts *cnt) {
  const hs_sim *s = R->s;
  size_t d = s->model.dim, p = g->path[l], k = g->step[l];
  if (!act[l]) return;   /* dropped already, after an earlier path's failure */
  if (st == HS_EDOM && s->record_undefined) {
    /* The model stops being defined on this path: recorded like a divergence. */
    R->out->undefined_step[p] = (int64_t)k;
    cnt->undefined++;
    for (size_t j = 0; j < d; j++) x[j] = NAN;
    act[l] = 0, (*nact)--;
    return;
  }
  const char *part = info->part != NULL ? info->part : "step";
  hs_run_fail(R, st, p, k, info->value, part,
              st == HS_ECALLBACK ? hs_run_callbackmsg(v, part) : NULL);
  g->failed[l] = 1;
  act[l] = 0, (*nact)--;
  *nact -= droplater(g, act, n, p);
}

/* The lane-batched substep applies to one-dimensional SDE models with isotropic or
** no noise: the diffusion is then a number per lane. */
static int scalar_lanes(const hs_sim *s) {
  hs_noise_kind nk = s->model.noise->kind;
  return s->model.dim == 1 && s->model.method->is_sde && group(s) == 1 &&
         (nk == HS_NOISE_NONE || nk == HS_NOISE_ISO);
}

/* The gradient and Hessian of the one-dimensional wells, (x^2 - 1)^2/4 + q x^2/2 +
** tilt x, of every lane at once: wells_gradhess (hs_objective.c) for d = 1, operation
** for operation, in a loop that vectorises. Lanes not active hold whatever their x
** gives; their values are not used. */
static void wells1_lanes(const hs_objective *o, size_t n, const double *x, double *gr,
                         double *h) {
  const hs_wells_params *P = o->params;
  double tilt = P->tilt[0];
  if (P->Q == NULL)
    for (size_t l = 0; l < n; l++) {
      double x2 = x[l] * x[l];
      gr[l] = x[l] * (x2 - 1.0) + tilt;
      h[l] = 3.0 * x2 - 1.0;
    }
  else {
    double q = P->Q[0];
    for (size_t l = 0; l < n; l++) {
      double x2 = x[l] * x[l], t = x[l] * (x2 - 1.0) + tilt;
      gr[l] = t + q * x[l];
      h[l] = q + (3.0 * x2 - 1.0);
    }
  }
}

/* HA-SME's drift -phi1(z) g and diffusion sigma sqrt(phi2(z)) at z = eta h, lane by
** lane: hasme_spectral (hs_method.c) with hs_phi12, whose divisions and square roots
** go into vector instructions here, the logarithm staying libm's. Lanes with
** |z| > 1e150 (a state near 1e75) take hs_phi12's other branch afterwards. */
static void hasme1_lanes(size_t n, const double *t, const double *gr, double sigma,
                         double *b, double *B) {
  enum { K = HS_BLOCK };
  double lg[K];
  int far = 0;
  for (size_t l = 0; l < n; l++) lg[l] = log1p(-t[l]);
  for (size_t l = 0; l < n; l++) {
    double z = t[l], q = -lg[l] / (z * (2.0 - z));
    double p1 = q * (2.0 - z), p2 = 2.0 * q;
    p1 = hs_vm_select(z != 0.0, p1, 1.0);
    p2 = hs_vm_select(z != 0.0, p2, 1.0);
    b[l] = -p1 * gr[l];
    B[l] = sigma * sqrt(p2);
    far |= fabs(z) > 1e150;
  }
  if (far)
    for (size_t l = 0; l < n; l++) {
      if (!(fabs(t[l]) > 1e150)) continue;
      double p1, p2;
      hs_phi12(t[l], lg[l], &p1, &p2);
      b[l] = -p1 * gr[l];
      B[l] = sigma * sqrt(p2);
    }
}

/* One Euler-Maruyama substep of every active lane of a one-dimensional SDE model,
** each formula evaluated across the lanes in turn: the divisions and square roots of
** eight paths then go into vector instructions, and their log1p calls overlap,
** instead of each path waiting on its own chain of long-latency operations. The
** formulas are the method's (hs_method.h), in the arithmetic of hs_model_eval and
** sde_substep for d = 1, operation for operation, so the paths are the same bit for
** bit. Inactive lanes go through the vector loops with the others (their Hessian
** taken as 0), their results unused. */
static void scalar_substep(hs_run *R, const hs_view *v, size_t n, hs_genwork *g, hs_pcg *r,
                           int *act, size_t *nact, hs_counts *cnt) {
  enum { K = HS_BLOCK };
  const hs_model *m = &v->model;
  double eta = m->eta, dt = eta / (double)R->s->substeps, sq = sqrt(eta * dt);
  int noisy = m->noise->kind == HS_NOISE_ISO;
  double sigma = noisy ? m->noise->sigma : 0.0;
  const hs_method_type *mt = m->method;
  double gr[K], h[K], b[K], B[K];
  int need_h = (mt->needs & HS_NEED_HESS) != 0, spectral = (mt->needs & HS_NEED_EIG) != 0;
  if (m->obj->type == &hs_wells_type) {
    wells1_lanes(m->obj, n, g->x, gr, h);
    for (size_t l = 0; l < n; l++) h[l] = hs_vm_select(act[l], h[l], 0.0);
  }
  else
    for (size_t l = 0; l < n; l++) {
      gr[l] = h[l] = 0.0;
      if (!act[l]) continue;
      hs_status st = need_h ? hs_objective_gradhess(m->obj, g->x + l, &gr[l], &h[l], g->ow)
                            : hs_objective_grad(m->obj, g->x + l, &gr[l], g->ow);
      if (st != HS_OK) {
        hs_model_info info = {0.0, 0, "objective"};
        lanefail(R, v, g, n, l, st, &info, g->x + l, act, nact, cnt);
        h[l] = 0.0;
      }
    }
  if (spectral) {   /* the 1 x 1 Hessian is its own eigenvalue */
    double t[K], p2[K];   /* every lane's multipliers, used on the active ones */
    int out = 0;          /* some lane may be outside the domain: look lane by lane */
    for (size_t l = 0; l < n; l++) {
      t[l] = eta * h[l];
      out |= !(t[l] < mt->zmax);
    }
    if (out)
      for (size_t l = 0; l < n; l++) {
        if (!act[l]) continue;
        if (hs_method_outside(mt, eta * h[l])) {
          hs_model_info info = {h[l], 0, "domain"};
          lanefail(R, v, g, n, l, HS_EDOM, &info, g->x + l, act, nact, cnt);
        }
      }
    if (mt == hs_method_hasme) hasme1_lanes(n, t, gr, sigma, b, B);
    else {
      mt->spectral(n, t, t, p2);
      for (size_t l = 0; l < n; l++) {
        b[l] = -t[l] * gr[l];
        B[l] = sigma * sqrt(p2[l]);
      }
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
static void spectral_substep(hs_run *R, const hs_view *v, size_t n, hs_genwork *g,
                             hs_pcg *r, int *act, size_t *nact, hs_counts *cnt) {
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
      lanefail(R, v, g, n, l, st, &info, g->x + l * d, act, nact, cnt);
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
      lanefail(R, v, g, n, l, HS_ENOCONV, &info, g->x + l * d, act, nact, cnt);
      on[l] = 0;
      continue;
    }
    g->warm[l] = 1;
    /* fmax on finite values, inline (the eigenvalues of a lane that converged are) */
    double wmax = w[l];
    for (size_t i = 1; i < d; i++) wmax = wmax >= w[i * K + l] ? wmax : w[i * K + l];
    if (hs_method_outside(m->method, eta * wmax)) {
      hs_model_info info = {wmax, 0, "domain"};
      lanefail(R, v, g, n, l, HS_EDOM, &info, g->x + l * d, act, nact, cnt);
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

/* The step under general noise in dimension 2 to LANE_EIG_MAX: minibatch noise (for
** a discrete method only its Gaussian surrogate; a real batch is drawn by
** discrete_step) or state-dependent noise, any method. */
static int general_noise(const hs_sim *s) {
  const hs_noise *nz = s->model.noise;
  size_t d = s->model.dim;
  if (d < 2 || d > LANE_EIG_MAX) return 0;
  if (nz->kind == HS_NOISE_STATE) return 1;
  return nz->kind == HS_NOISE_BATCH && (s->model.method->is_sde || nz->gaussian);
}

/* A lane's arrays in general_substep (laid out over g->gl by general_lanes). */
typedef struct glane {
  double *H, *C, *V, *M;   /* d x d */
  double *g, *w, *b, *y, *u, *m;   /* d */
} glane;

static void general_lanes(size_t d, double *gl, glane *L, double **work) {
  size_t dd = d * d;
  for (size_t l = 0; l < HS_BLOCK; l++) {
    double *q = gl + l * (4 * dd + 6 * d);
    L[l].H = q, L[l].C = q + dd, L[l].V = q + 2 * dd, L[l].M = q + 3 * dd;
    q += 4 * dd;
    L[l].g = q, L[l].w = q + d, L[l].b = q + 2 * d, L[l].y = q + 3 * d, L[l].u = q + 4 * d;
    L[l].m = q + 5 * d;
  }
  *work = gl + HS_BLOCK * (4 * dd + 6 * d);
}

/* The gradient, the Hessian if the method needs it and, for minibatch noise on an
** objective that can (hs_noise_shares), Sigma(x) from the same pass over the
** samples, into the lane's arrays. */
static hs_status general_eval(const hs_model *m, const double *x, int shared, hs_genwork *g,
                              glane *L) {
  int need_h = (m->method->needs & (HS_NEED_HESS | HS_NEED_EIG)) != 0;
  if (shared)
    return hs_noise_gradcov(m->noise, m->obj, x, L->g, need_h ? L->H : NULL, L->C,
                            g->ws.noisework);
  return need_h ? hs_objective_gradhess(m->obj, x, L->g, L->H, g->ws.objwork)
                : hs_objective_grad(m->obj, x, L->g, g->ws.objwork);
}

/* The rest of a lane's first half, the Hessian's eigensystem (w, V) at hand for a
** spectral method: the drift into b, the matrix whose square root the diffusion
** factor is into M, and the vector that factor applies to into y (the step's normal
** vector z, or V'z for a method with a pair multiplier). */
static hs_status general_prepare(const hs_model *m, hs_pcg *r, const double *x, size_t G,
                                 int shared, hs_genwork *g, glane *L, hs_model_info *info) {
  const hs_method_type *mt = m->method;
  size_t d = m->dim;
  int spectral = (mt->needs & HS_NEED_EIG) != 0, pair = mt->pair != NULL;
  double eta = m->eta, *t = g->ws.t, *p2 = g->ws.p2, *T = g->ws.T;
  double *gr = L->g, *w = L->w, *V = L->V, *b = L->b, *C = L->C, *y = L->y;
  hs_status st;
  /* The drift, as hs_model_eval: -V diag(drift(eta w)) V' g, -(g + c H g) or -g. */
  if (spectral) {
    if (hs_method_outside(mt, eta * w[d - 1])) {
      info->value = w[d - 1];
      info->part = "domain";
      return HS_EDOM;
    }
    for (size_t i = 0; i < d; i++) t[i] = eta * w[i];
    mt->spectral(d, t, t, p2);
    for (size_t i = 0; i < d; i++) {
      double s = 0.0;
      for (size_t k = 0; k < d; k++) s += V[k * d + i] * gr[k];
      t[i] *= s;
    }
    hs_gemv(d, d, -1.0, V, t, 0.0, b);
  }
  else if (mt->hess_coef != NULL) {
    hs_gemv(d, d, mt->hess_coef(eta), L->H, gr, 0.0, t);
    for (size_t i = 0; i < d; i++) b[i] = -(gr[i] + t[i]);
  }
  else
    for (size_t i = 0; i < d; i++) b[i] = -gr[i];

  /* Sigma(x), and M: Sigma, or (V' Sigma V) o Phi. */
  if (!shared && (st = hs_noise_cov(m->noise, m->obj, x, C, g->ws.noisework)) != HS_OK) {
    /* minibatch covariance fails only through the objective's sample gradients */
    info->part = m->noise->kind == HS_NOISE_STATE ? "noise" : "objective";
    return st;
  }
  if (pair) {
    hs_gemm(d, d, d, C, V, T);   /* T = Sigma V, then M = V' T, times Phi */
    for (size_t i = 0; i < d; i++)
      for (size_t j = 0; j <= i; j++) {
        double s = 0.0;
        for (size_t k = 0; k < d; k++) s += V[k * d + i] * T[k * d + j];
        L->M[i * d + j] = L->M[j * d + i] = s * mt->pair(eta * w[i], eta * w[j]);
      }
  }
  else memcpy(L->M, C, d * d * sizeof(double));

  /* The normal vector, as discrete_step and sde_substep draw it (a path that fails
  ** below has drawn it in vain: its stream is not used again). */
  const double *z = draw_round(r, g, G, d);
  if (pair)   /* into the Hessian's eigenbasis */
    for (size_t i = 0; i < d; i++) {
      double s = 0.0;
      for (size_t k = 0; k < d; k++) s += V[k * d + i] * z[k];
      y[i] = s;
    }
  else memcpy(y, z, d * sizeof(double));
  return HS_OK;
}

/* One step of a discrete method (x + h b + scale B z, scale = h |w|) or one
** Euler-Maruyama substep of an SDE model (dt = h, scale = sqrt(eta h)) of every
** active lane under general noise (general_noise), driven by the normalised sum of
** G normal vectors. The law of hs_model_eval with discrete_step or sde_substep,
** computed with less work: the gradient, Hessian and minibatch covariance from one
** pass over the samples when the objective can (hs_noise_gradcov, the same
** numbers); the Hessians' eigensystems by hs_eig_multi (hs_eig's results), the
** drift as hs_model_eval's; and B z, with B the symmetric square root of the
** method's diffusion matrix (hs_factor's convention), by hs_sqrt_apply_multi, which
** applies the square root to z without forming eigenvectors or B:
**   B z = Sigma^(1/2) z                       (pair == NULL)
**   B z = V (S o Phi)^(1/2) V' z              S = V' Sigma V, H = V diag(w) V'
** since (V (S o Phi) V')^(1/2) = V (S o Phi)^(1/2) V' for orthogonal V. Both
** solvers interleave the lanes' iterations, whose chains of square roots and
** divisions would leave the processor waiting one lane at a time. The eigenvalues
** of S o Phi (those of V (S o Phi) V') below -psd_tol max|m| fail the path
** (HS_ENOTPSD, info->value the most negative) or, with psd_project, are clipped and
** counted, as in hs_factor. The paths differ from the per-path code's in rounding
** only. A lane may fail after later lanes have been evaluated; the run reports the
** failure of the lowest path (hs_run_fail), the one the per-path order reports. */
static void general_substep(hs_run *R, const hs_view *v, size_t n, hs_genwork *g,
                            hs_pcg *r, int *act, size_t *nact, hs_counts *cnt) {
  enum { K = HS_BLOCK };
  const hs_sim *s = R->s;
  const hs_model *m = &v->model;
  const hs_method_type *mt = m->method;
  size_t d = m->dim, G = group(s);
  int pair = mt->pair != NULL, spectral = (mt->needs & HS_NEED_EIG) != 0;
  int shared = hs_noise_shares(m->noise, m->obj);
  double h = m->eta / (double)hs_sim_rounds(s);
  double scale = mt->is_sde ? sqrt(m->eta * h) : h * hs_method_wnorm(mt, s->svag_l);
  glane L[K];
  double *work;
  general_lanes(d, g->gl, L, &work);
  const double *Ap[K], *zp[K];
  double *yp[K], *wp[K], *Vp[K];
  size_t lane[K], clipped[K], q = 0;
  hs_status st[K];
  for (size_t l = 0; l < n; l++) {
    if (!act[l]) continue;
    hs_status sl = general_eval(m, g->x + l * d, shared, g, &L[l]);
    if (sl != HS_OK) {
      hs_model_info info = {0.0, 0, "objective"};
      lanefail(R, v, g, n, l, sl, &info, g->x + l * d, act, nact, cnt);
      continue;
    }
    lane[q++] = l;
  }
  if (spectral) {
    for (size_t i = 0; i < q; i++)
      Ap[i] = L[lane[i]].H, wp[i] = L[lane[i]].w, Vp[i] = L[lane[i]].V;
    hs_eig_multi(d, q, Ap, wp, Vp, st, work);
  }
  size_t q2 = 0;
  for (size_t i = 0; i < q; i++) {
    size_t l = lane[i];
    if (!act[l]) continue;   /* dropped by an earlier lane's failure */
    hs_model_info info = {0.0, 0, "hessian"};
    hs_status sl = spectral ? st[i] : HS_OK;
    if (sl == HS_OK) sl = general_prepare(m, &r[l], g->x + l * d, G, shared, g, &L[l], &info);
    if (sl != HS_OK) {
      lanefail(R, v, g, n, l, sl, &info, g->x + l * d, act, nact, cnt);
      continue;
    }
    lane[q2++] = l;
  }
  for (size_t i = 0; i < q2; i++)
    Ap[i] = L[lane[i]].M, zp[i] = L[lane[i]].y, yp[i] = L[lane[i]].u, wp[i] = L[lane[i]].m;
  hs_sqrt_apply_multi(d, q2, Ap, zp, yp, m->psd_tol, m->psd_project, wp, clipped, st, work);
  for (size_t i = 0; i < q2; i++) {
    size_t l = lane[i];
    if (!act[l]) continue;
    double *x = g->x + l * d, nz[LANE_EIG_MAX];
    if (st[i] != HS_OK) {
      hs_model_info info = {0.0, 0, pair ? "diffusion" : "noise"};
      if (st[i] == HS_ENOTPSD) {
        info.value = L[l].m[0];
        for (size_t j = 1; j < d; j++) info.value = fmin(info.value, L[l].m[j]);
      }
      lanefail(R, v, g, n, l, st[i], &info, x, act, nact, cnt);
      continue;
    }
    cnt->projected += clipped[i];
    if (pair) hs_gemv(d, d, 1.0, L[l].V, L[l].u, 0.0, nz);   /* back from the eigenbasis */
    else memcpy(nz, L[l].u, d * sizeof(double));
    const double *b = L[l].b;
    for (size_t j = 0; j < d; j++) x[j] += h * b[j];
    for (size_t j = 0; j < d; j++) x[j] += scale * nz[j];
  }
}

/* Advance every active lane by one SGD step or one SDE substep. Lanes are visited
** in turn for each substep (not each lane through all its substeps), so that the
** long dependency chain of one path's update overlaps with the next path's. */
static void gen_advance(hs_run *R, const hs_view *v, size_t n, hs_genwork *g, hs_pcg *r,
                        int *act, size_t *nact, hs_counts *cnt) {
  const hs_sim *s = R->s;
  size_t d = s->model.dim;
  int discrete = !s->model.method->is_sde;
  size_t rounds = hs_sim_rounds(s), G = group(s);
  double h = s->model.eta / (double)rounds;
  /* a discrete step's noise scale h |w| (SGD: eta exactly) */
  double hw = discrete ? h * hs_method_wnorm(s->model.method, s->svag_l) : 0.0;
  if (scalar_lanes(s)) {
    for (size_t t = 0; t < rounds && *nact > 0; t++)
      scalar_substep(R, v, n, g, r, act, nact, cnt);
    return;
  }
  if (spectral_lanes(s)) {
    for (size_t t = 0; t < rounds && *nact > 0; t++)
      spectral_substep(R, v, n, g, r, act, nact, cnt);
    return;
  }
  if (general_noise(s)) {
    for (size_t t = 0; t < rounds && *nact > 0; t++)
      general_substep(R, v, n, g, r, act, nact, cnt);
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
      if (st != HS_OK) lanefail(R, v, g, n, l, st, &info, x, act, nact, cnt);
    }
}

/* The paths a worker hands to its lanes: the block it took last (hs_run_take), with
** the streams of its paths, and the paths finished since the worker last counted. */
typedef struct feed {
  hs_pcg r[HS_BLOCK];
  size_t p0, n, i, fin, id;
  int more;   /* blocks may be left */
} feed;

/* Lane l takes the next path of the worker's share (none after a path that failed) and
** records its step 0; a path of 0 steps ends there and the lane takes another. Leaves
** the lane idle when no path is left. */
static void refill(hs_run *R, const hs_view *v, feed *f, size_t l, hs_genwork *g, hs_pcg *r,
                   int *act) {
  const hs_sim *s = R->s;
  size_t d = s->model.dim;
  while (f->more) {
    if (f->i == f->n) {
      f->i = f->n = 0;
      if (!hs_run_take(R, f->id, f->fin, &f->p0, &f->n)) {
        f->more = 0;
        f->fin = 0;
        return;
      }
      f->fin = 0;
      hs_run_streams(R, f->p0, f->n, f->r);
    }
    size_t p = f->p0 + f->i;
    if (p > atomic_load(&R->errpath)) {   /* this path and the block's later ones go */
      f->fin += f->n - f->i;
      f->i = f->n;
      continue;
    }
    r[l] = f->r[f->i++];
    memcpy(g->x + l * d, s->x0 + (s->x0_per_path ? p * d : 0), d * sizeof(double));
    g->path[l] = p;
    g->step[l] = 0;
    g->ri[l] = 0;
    g->failed[l] = 0;
    g->warm[l] = 0;   /* a new path: no eigenvectors yet */
    if (s->nrecord > 0 && s->record[0] == 0) lane_record(R, v, g->ri[l]++, l, g);
    if (s->steps > 0) {
      act[l] = 1;
      return;
    }
    while (g->ri[l] < s->nrecord) lane_record(R, v, g->ri[l]++, l, g);
    f->fin++;
  }
}

#ifndef HS_ISA_TAG
void hs_kernel_general_run_avx2(hs_run *R, const hs_view *v, size_t id, hs_genwork *g,
                                hs_counts *cnt);
#endif

/*
** The worker's paths, HS_BLOCK lanes at a time. A lane whose path stops (escaped,
** diverged, undefined, done) takes the next path at once, so the lanes stay full
** however unequal the paths' lengths: a block run until its last path stopped would
** keep stepping a vector of mostly finished lanes (with escape times spread like an
** exponential, the longest of 8 is about 2.5 times the mean). Each path draws only
** from its own stream and its state never mixes with the other lanes', so its result
** does not depend on which lane runs it or beside which paths. A failure (or a
** path's) stops the lanes running later paths, and those are no longer taken
** (hs_run_take); earlier paths run on, so that the smallest failing path is reported
** whatever the threads.
*/
void hs_kernel_general_run(hs_run *R, const hs_view *v, size_t id, hs_genwork *g,
                           hs_counts *cnt) {
#ifndef HS_ISA_TAG
  /* The wider paths (same bits, hs_isa.h). AVX-512 runs the AVX2 code: the per-lane
  ** loops gain nothing from it, and the libm calls they make ran at half speed from
  ** AVX-512 code. */
  if (hs_isa_active() != HS_ISA_BASELINE) {
    hs_kernel_general_run_avx2(R, v, id, g, cnt);
    return;
  }
#endif
  enum { K = HS_BLOCK };
  const hs_sim *s = R->s;
  size_t d = s->model.dim;
  hs_pcg r[K];
  int act[K] = {0}, was[K];
  size_t nact = 0;
  feed f;
  f.p0 = f.n = f.i = f.fin = 0;
  f.id = id;
  f.more = 1;
  for (;;) {
    nact = 0;
    for (size_t l = 0; l < K; l++) {
      if (!act[l]) refill(R, v, &f, l, g, r, act);
      nact += (size_t)act[l];
    }
    if (nact == 0) break;
    for (size_t l = 0; l < K; l++) {
      was[l] = act[l];
      if (act[l]) g->step[l]++;
    }
    gen_advance(R, v, K, g, r, act, &nact, cnt);
    for (size_t l = 0; l < K; l++) {
      if (!act[l]) continue;
      size_t k = g->step[l];
      int c = hs_run_checkpath(R, v, g->path[l], k, g->x + l * d, g->ow, cnt);
      if (c == PATH_GOES_ON && k < s->steps) {
        if (g->ri[l] < s->nrecord && s->record[g->ri[l]] == k) lane_record(R, v, g->ri[l]++, l, g);
        continue;
      }
      act[l] = 0, nact--;
      if (c == PATH_FAILED) {
        g->failed[l] = 1;
        nact -= droplater(g, act, K, g->path[l]);
      }
    }
    /* the paths that ended at this step: their remaining recorded steps hold their
    ** last state (failed ones are not recorded: the run reports the failure) */
    for (size_t l = 0; l < K; l++) {
      if (!was[l] || act[l]) continue;
      if (!g->failed[l])
        while (g->ri[l] < s->nrecord) lane_record(R, v, g->ri[l]++, l, g);
      f.fin++;
    }
    if (atomic_load(&R->cancel)) break;
    if (s->interrupt != NULL && *s->interrupt) {
      atomic_store(&R->cancel, 1);
      break;
    }
  }
  if (f.fin > 0) atomic_fetch_add(&R->done, f.fin);
}
