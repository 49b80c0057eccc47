/*
** hs_sim.c: the ensemble engine. Paths are processed in blocks of HS_BLOCK; a block
** runs all its steps before the next one starts, so its state stays in cache and
** the independent random streams of its paths overlap in the CPU. Worker threads
** take blocks from a shared counter; the calling thread is worker 0 and reports
** progress between blocks.
**
** Two kernels:
**  - linear: quadratic objective with constant Gaussian (or no) noise. Every model is
**    then x' = A x + c + L z (hs_exact.h); the block is stored component-major
**    (X[j*K + s], K = HS_BLOCK lanes) so the update vectorises across paths.
**  - general: any objective and noise; per path and substep, hs_model_eval gives the
**    drift and diffusion at the current point.
*/
#include "hs_sim.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hs_eiglanes.h"
#include "hs_exact.h"
#include "hs_normal.h"
#include "hs_pcg.h"
#include "hs_util.h"

#define HS_BLOCK 8   /* paths per block: one AVX-512 vector of doubles */

/* The lane loops carry HS_VECTOR_CLONES (hasme.h): AVX-512, AVX2 and baseline
** versions, all computing the same bits. */

/* {====================================================================
** Configuration
** ===================================================================== */

/* The most workers the callbacks allow: any number when they are thread safe,
** otherwise the calling thread plus one per replica. */
static size_t maxworkers(const hs_sim *s) {
  const hs_model *m = &s->model;
  int safe = m->obj->thread_safe &&
             (m->noise->kind != HS_NOISE_STATE || m->noise->thread_safe) &&
             (s->escape == NULL || s->escape->kind != HS_ESC_CALLBACK);
  return safe ? SIZE_MAX : 1 + (s->replicas != NULL ? s->nreplicas : 0);
}

int hs_sim_linear(const hs_sim *s) {
  hs_noise_kind nk = s->model.noise->kind;
  return s->model.obj->type == &hs_quadratic_type &&
         (nk == HS_NOISE_NONE || nk == HS_NOISE_ISO || nk == HS_NOISE_CONST);
}

hs_status hs_sim_sizes(const hs_sim *s, size_t *nsnap, size_t *npaths) {
  size_t a;
  *npaths = s->paths;
  if (!hs_mulsize(s->nrecord, s->paths, &a) || !hs_mulsize(a, s->model.dim, nsnap))
    return HS_ESIZE;
  return HS_OK;
}

static hs_status seterr(hs_sim_error *err, hs_status st, const char *fmt, const char *arg) {
  err->status = st;
  snprintf(err->msg, sizeof err->msg, fmt, arg);
  return st;
}

hs_status hs_sim_check(const hs_sim *s, hs_sim_error *err) {
  const hs_model *m = &s->model;
  memset(err, 0, sizeof *err);
  if (m->dim == 0 || m->dim != m->obj->dim)
    return seterr(err, HS_EINVAL, "dimension mismatch%s", "");
  if (m->noise->dim != 0 && m->noise->dim != m->dim)
    return seterr(err, HS_EINVAL, "noise dimension does not match the objective%s", "");
  if (!(m->eta > 0.0) || !isfinite(m->eta))
    return seterr(err, HS_EINVAL, "eta must be positive and finite%s", "");
  if (s->substeps < 1) return seterr(err, HS_EINVAL, "substeps must be at least 1%s", "");
  for (size_t r = 0; r < s->nrecord; r++)
    if (s->record[r] > s->steps || (r > 0 && s->record[r] <= s->record[r - 1]))
      return seterr(err, HS_EINVAL, "record steps must be distinct, ascending, <= steps%s", "");
  if (m->noise->kind == HS_NOISE_BATCH) {
    if (m->obj->nsamples < 2 || m->obj->type->sample_grad == NULL)
      return seterr(err, HS_EINVAL,
                    "minibatch noise needs a finite-sum objective (such as hasme.nn)%s", "");
    if (m->noise->batch > m->obj->nsamples)
      return seterr(err, HS_EINVAL, "batch size exceeds the number of samples%s", "");
  }
  if (s->integrator == HS_EXACT && !hs_sim_linear(s))
    return seterr(err, HS_EINVAL,
                  "integrator 'exact' needs a quadratic objective with constant Gaussian "
                  "noise (or none)%s", "");
  if (s->escape != NULL && s->escape->dim != 0 && s->escape->dim != m->dim)
    return seterr(err, HS_EINVAL, "escape criterion dimension does not match%s", "");
  return HS_OK;
}

/* }==================================================================== */

/* {====================================================================
** Shared state of a run
** ===================================================================== */

typedef struct run {
  const hs_sim *s;
  hs_sim_out *out;
  int linear;
  hs_linear lin;
  hs_pcg base;               /* the stream of path 0 */
  hs_pcg_affine jump;        /* path i -> path i+1 */
  hs_pcg_affine blockjump[64];  /* path i -> path i + HS_BLOCK * 2^b */
  size_t nblocks;
  atomic_size_t next;        /* next block to take */
  atomic_size_t errpath;     /* smallest failing path so far (SIZE_MAX: none) */
  atomic_size_t done;        /* blocks finished */
  atomic_int cancel;
  pthread_mutex_t lock;      /* guards out->err and the counters */
  double tlast;              /* progress: time of the last report */
} run;

/* Per-thread counters, merged under the lock at the end. */
typedef struct counts {
  size_t projected, escaped, diverged, undefined;
} counts;

/* What one worker evaluates: the model and escape criterion of the run, with the
** worker's replicas of thread-unsafe callbacks in place of the originals. */
typedef struct view {
  hs_model model;
  const hs_escape *escape;
} view;

/* Record a failure of path p at step k unless a smaller path already failed. */
static void fail(run *R, hs_status st, size_t p, size_t k, double value, const char *what,
                 const char *msg) {
  pthread_mutex_lock(&R->lock);
  hs_sim_error *e = &R->out->err;
  if (e->status == HS_OK || p < e->path) {
    e->status = st;
    e->path = p;
    e->step = k;
    e->value = value;
    snprintf(e->what, sizeof e->what, "%s", what);
    snprintf(e->msg, sizeof e->msg, "%s", msg != NULL ? msg : "");
    atomic_store(&R->errpath, p);
  }
  pthread_mutex_unlock(&R->lock);
}

/* The message a callback left, for errors from user code. */
static const char *callbackmsg(const view *v, const char *what) {
  if (strcmp(what, "objective") == 0 && v->model.obj->type->errmsg != NULL)
    return v->model.obj->type->errmsg(v->model.obj);
  if (strcmp(what, "noise") == 0 && v->model.noise->errmsg != NULL)
    return v->model.noise->errmsg(v->model.noise->ctx);
  if (strcmp(what, "escape") == 0 && v->escape->errmsg != NULL)
    return v->escape->errmsg(v->escape->ctx);
  return NULL;
}

/* The streams of paths p0 .. p0+n-1 (n <= HS_BLOCK); lanes past n repeat the last. */
static void blockstreams(const run *R, size_t p0, size_t n, hs_pcg *r) {
  /* The first path's stream: path 0's advanced by p0 jumps, composed from the
  ** precomputed maps of HS_BLOCK * 2^b jumps for the bits b of the block number (a few
  ** multiplications instead of hs_pcg_advance's 128 doublings). */
  r[0] = R->base;
  size_t b = p0 / HS_BLOCK;
  for (int bit = 0; b != 0; bit++, b >>= 1)
    if (b & 1) hs_pcg_apply(&r[0], &R->blockjump[bit]);
  for (size_t s = 1; s < HS_BLOCK; s++) {
    r[s] = r[s - 1];
    if (s < n) hs_pcg_apply(&r[s], &R->jump);
  }
}

static int allfinite(const double *x, size_t d) {
  double s = 0.0;
  for (size_t j = 0; j < d; j++) s += x[j] * 0.0;   /* NaN iff some x_j is inf or NaN */
  return s == 0.0;
}

/* }==================================================================== */

/* {====================================================================
** Per-path checks after a step, shared by both kernels
** ===================================================================== */

enum { PATH_GOES_ON = 0, PATH_STOPS = 1, PATH_FAILED = -1 };

/* After step k of path p with state x: a non-finite state is an error or, when
** recorded, ends the path (state set to NaN); then the escape criterion. */
static int checkpath(run *R, const view *v, size_t p, size_t k, double *x, double *ow,
                     counts *cnt) {
  const hs_sim *s = R->s;
  size_t d = s->model.dim;
  if (!allfinite(x, d)) {
    if (!s->record_diverged) {
      fail(R, HS_EDIVERGE, p, k, 0.0, "path", NULL);
      return PATH_FAILED;
    }
    R->out->diverge_step[p] = (int64_t)k;
    cnt->diverged++;
    for (size_t j = 0; j < d; j++) x[j] = NAN;
    return PATH_STOPS;
  }
  if (v->escape != NULL) {
    int esc = 0;
    hs_status st = hs_escape_test(v->escape, v->model.obj, x, &esc, ow);
    if (st != HS_OK) {
      fail(R, st, p, k, 0.0, "escape", callbackmsg(v, "escape"));
      return PATH_FAILED;
    }
    if (esc) {
      R->out->escape_step[p] = (int64_t)k;
      cnt->escaped++;
      return PATH_STOPS;
    }
  }
  return PATH_GOES_ON;
}

/* Lanes l and above stop: a path with a smaller index failed, so their outcome no
** longer matters. Returns how many were still active. */
static size_t droplanes(int *act, size_t from, size_t n) {
  size_t c = 0;
  for (size_t q = from; q < n; q++) if (act[q]) act[q] = 0, c++;
  return c;
}

/* }==================================================================== */

/* {====================================================================
** Linear kernel
** ===================================================================== */

/* Normals are drawn for several steps at once: one call of hs_normal_block per
** NORMAL_BUF doubles instead of one per transition (each call loads and stores the
** block's eight generator states). Each stream still yields its variates in order,
** so the paths do not depend on how many are drawn at a time. */
#define NORMAL_BUF 2048

typedef struct linwork {
  double *X, *Y, *Zc, *xs, *ow;
  double *Z;          /* buffered normals: per transition d*draws per lane */
  size_t zlen, zpos;  /* doubles buffered, and used so far */
} linwork;

/* Doubles of buffered normals: a whole number of transitions, at least one. */
static size_t linbuf(const run *R) {
  size_t per = R->s->model.dim * R->lin.draws * HS_BLOCK;
  size_t n = NORMAL_BUF / per;
  return (n > 0 ? n : 1) * per;
}

static size_t linwork_size(const run *R) {
  size_t d = R->s->model.dim, K = HS_BLOCK;
  return 3 * d * K + linbuf(R) + d + hs_objective_worksize(R->s->model.obj);
}

static void linwork_layout(const run *R, double *w, linwork *lw) {
  size_t d = R->s->model.dim, K = HS_BLOCK;
  lw->X = w;
  lw->Y = lw->X + d * K;
  lw->Zc = lw->Y + d * K;
  lw->Z = lw->Zc + d * K;
  lw->xs = lw->Z + linbuf(R);
  lw->ow = lw->xs + d;
  lw->zlen = linbuf(R);
  lw->zpos = lw->zlen;   /* empty: the first draw refills */
}

/* One transition for all K lanes: X = A X + c + L Z on active lanes; returns whether
** every new value is finite.
**
** Each new component is c_i + sum_j A_ij x_j + sum_j L_ij z_j, summed in that order.
** The loops run over j outside and i inside so that the d chains of additions go
** side by side; the sums, and so the results, are the same bit for bit as row by
** row. Structural zeros of a triangular L are skipped (adding 0 * z changes
** nothing). The innermost loops run across lanes and vectorise; for d up to
** LIN_UNROLL the dimension is a constant of an inlined copy, so the accumulators
** stay in vector registers. */
#define LIN_UNROLL 8
#define LIN_SMALL 16

static inline __attribute__((always_inline))
int lin_step(const hs_linear *lin, size_t d, const double *keep, double *X,
             const double *Z) {
  enum { K = HS_BLOCK };
  double acc[LIN_SMALL * K];
#pragma GCC unroll 8
  for (size_t i = 0; i < d; i++)
    for (size_t s = 0; s < K; s++) acc[i * K + s] = lin->c[i];
#pragma GCC unroll 8
  for (size_t j = 0; j < d; j++) {
    const double *Xj = X + j * K;
#pragma GCC unroll 8
    for (size_t i = 0; i < d; i++) {
      double a = lin->A[i * d + j];
      for (size_t s = 0; s < K; s++) acc[i * K + s] += a * Xj[s];
    }
  }
  if (Z != NULL && lin->lower) {
#pragma GCC unroll 8
    for (size_t j = 0; j < d; j++) {
      const double *Zj = Z + j * K;
#pragma GCC unroll 8
      for (size_t i = j; i < d; i++) {
        double l = lin->L[i * d + j];
        for (size_t s = 0; s < K; s++) acc[i * K + s] += l * Zj[s];
      }
    }
  }
  else if (Z != NULL) {
#pragma GCC unroll 8
    for (size_t j = 0; j < d; j++) {
      const double *Zj = Z + j * K;
#pragma GCC unroll 8
      for (size_t i = 0; i < d; i++) {
        double l = lin->L[i * d + j];
        for (size_t s = 0; s < K; s++) acc[i * K + s] += l * Zj[s];
      }
    }
  }
  /* The store and finiteness check are written out here and in lin_step_rows rather
  ** than shared: as a shared inline helper they cost W1 a third more time (the
  ** accumulators left the vector registers). */
  unsigned bad = 0;   /* an integer OR: unlike a floating-point sum, it vectorises */
#pragma GCC unroll 8
  for (size_t i = 0; i < d; i++)
    for (size_t s = 0; s < K; s++) {
      double x = keep[s] != 0.0 ? acc[i * K + s] : X[i * K + s];
      X[i * K + s] = x;
      bad |= !(x - x == 0.0);   /* x - x is NaN exactly for inf and NaN */
    }
  return !bad;
}

/* Larger dimensions: row by row, through Y. */
static int lin_step_rows(const hs_linear *lin, size_t d, const double *keep, double *X,
                         double *Y, const double *Z) {
  enum { K = HS_BLOCK };
  for (size_t i = 0; i < d; i++) {
    double acc[K];
    for (size_t s = 0; s < K; s++) acc[s] = lin->c[i];
    const double *Ai = lin->A + i * d;
    for (size_t j = 0; j < d; j++) {
      double a = Ai[j];
      const double *Xj = X + j * K;
      for (size_t s = 0; s < K; s++) acc[s] += a * Xj[s];
    }
    if (Z != NULL) {
      const double *Li = lin->L + i * d;
      for (size_t j = 0; j < (lin->lower ? i + 1 : d); j++) {
        double l = Li[j];
        const double *Zj = Z + j * K;
        for (size_t s = 0; s < K; s++) acc[s] += l * Zj[s];
      }
    }
    for (size_t s = 0; s < K; s++) Y[i * K + s] = acc[s];
  }
  unsigned bad = 0;
  for (size_t j = 0; j < d; j++)
    for (size_t s = 0; s < K; s++) {
      double x = keep[s] != 0.0 ? Y[j * K + s] : X[j * K + s];
      X[j * K + s] = x;
      bad |= !(x - x == 0.0);
    }
  return !bad;
}

HS_VECTOR_CLONES
static int lin_transition(const hs_linear *lin, size_t d, const int *act, double *X,
                          double *Y, const double *Z) {
  enum { K = HS_BLOCK };
  double keep[K];   /* 1 on active lanes: a branch-free select that vectorises */
  for (size_t s = 0; s < K; s++) keep[s] = act[s] ? 1.0 : 0.0;
  switch (d) {
    case 1: return lin_step(lin, 1, keep, X, Z);
    case 2: return lin_step(lin, 2, keep, X, Z);
    case 3: return lin_step(lin, 3, keep, X, Z);
    case 4: return lin_step(lin, 4, keep, X, Z);
    case 5: return lin_step(lin, 5, keep, X, Z);
    case 6: return lin_step(lin, 6, keep, X, Z);
    case 7: return lin_step(lin, 7, keep, X, Z);
    case 8: return lin_step(lin, 8, keep, X, Z);
    default:
      if (d <= LIN_SMALL) return lin_step(lin, d, keep, X, Z);
      return lin_step_rows(lin, d, keep, X, Y, Z);
  }
}


/* Normals for one transition of every lane (the normalised sum of `draws` vectors
** per lane when several substeps are coupled into one transition). Returns a pointer
** to d*K values, component-major like the state. */
static const double *lin_draw(const hs_linear *lin, size_t d, hs_pcg *r, linwork *w) {
  enum { K = HS_BLOCK };
  size_t per = d * lin->draws * K;
  if (w->zpos == w->zlen) {
    /* hs_normal_block lays out out[j*K + s] = j-th variate of stream s, which is
    ** what consecutive transitions need in turn. */
    hs_normal_block(r, K, w->zlen / K, w->Z);
    w->zpos = 0;
  }
  const double *Z = w->Z + w->zpos;
  w->zpos += per;
  if (lin->draws == 1) return Z;
  double inv = 1.0 / sqrt((double)lin->draws);
  for (size_t i = 0; i < d * K; i++) {
    double z = 0.0;
    for (size_t q = 0; q < lin->draws; q++) z += Z[q * d * K + i];
    w->Zc[i] = z * inv;
  }
  return w->Zc;
}

static void lin_record(const run *R, size_t ri, size_t p0, size_t n, const double *X) {
  enum { K = HS_BLOCK };
  size_t d = R->s->model.dim;
  double *dst = R->out->snap + (ri * R->s->paths + p0) * d;
  for (size_t l = 0; l < n; l++)
    for (size_t j = 0; j < d; j++) dst[l * d + j] = X[j * K + l];
}

static void lin_block(run *R, const view *v, size_t p0, size_t n, double *work,
                      counts *cnt) {
  enum { K = HS_BLOCK };
  const hs_sim *s = R->s;
  const hs_linear *lin = &R->lin;
  size_t d = s->model.dim;
  linwork w;
  linwork_layout(R, work, &w);
  hs_pcg r[K];
  int act[K];
  blockstreams(R, p0, n, r);
  for (size_t l = 0; l < K; l++) {
    act[l] = l < n;
    const double *x0 = s->x0 + (s->x0_per_path ? (p0 + (l < n ? l : 0)) * d : 0);
    for (size_t j = 0; j < d; j++) w.X[j * K + l] = x0[j];
  }
  size_t ri = 0, nact = n, k = 0;
  for (;;) {
    if (ri < s->nrecord && s->record[ri] == k) lin_record(R, ri++, p0, n, w.X);
    if (k == s->steps || nact == 0) break;
    if (s->interrupt != NULL && *s->interrupt) {
      atomic_store(&R->cancel, 1);
      break;
    }
    k++;
    int finite = 1;
    for (size_t t = 0; t < lin->count; t++) {
      const double *Z = lin->L != NULL ? lin_draw(lin, d, r, &w) : NULL;
      finite &= lin_transition(lin, d, act, w.X, w.Y, Z);
    }
    /* The per-path checks find nothing to do while the block is finite and there is
    ** no escape criterion: skip them then (the common case of plain moments). */
    if (v->escape == NULL && finite) continue;
    for (size_t l = 0; l < n; l++) {
      if (!act[l]) continue;
      for (size_t j = 0; j < d; j++) w.xs[j] = w.X[j * K + l];
      int c = checkpath(R, v, p0 + l, k, w.xs, w.ow, cnt);
      if (c == PATH_GOES_ON) continue;
      for (size_t j = 0; j < d; j++) w.X[j * K + l] = w.xs[j];  /* NaN when diverged */
      act[l] = 0, nact--;
      if (c == PATH_FAILED) nact -= droplanes(act, l + 1, n);
    }
  }
  /* Stopped paths keep their last state in the remaining snapshots. */
  while (ri < s->nrecord) lin_record(R, ri++, p0, n, w.X);
}

/* }==================================================================== */

/* {====================================================================
** General kernel
** ===================================================================== */

typedef struct genwork {
  double *x;        /* K x d, one row per lane */
  double *z, *zc, *b, *u, *mw, *ow;
  hs_model_ws ws;   /* the model's scratch, laid out over mw */
  /* The lane-batched HA-SME substep (hasme_lanes): lane-interleaved arrays, the
  ** eigenvectors each path keeps from step to step, and whether it has them yet. */
  double *lg, *lh, *lA, *lV, *lw, *lt, *lp, *lu, *lz, *le;
  int warm[HS_BLOCK];
  size_t *idx;      /* minibatch indices */
  uint32_t *stamp;  /* minibatch without replacement: membership marks */
  uint32_t gen;
} genwork;

/* The lane-batched HA-SME substep: for 2 <= d <= HS_EIG_LANES_ENGINE with isotropic
** or no noise, where the Jacobi solver over the block's lanes, warm-started from each
** path's previous eigenvectors, is faster than one solver call per path. */
#define LANE_EIG_MAX HS_EIG_LANES_ENGINE

static int hasme_lanes(const hs_sim *s) {
  return hs_model_eig_lanes(&s->model);
}

static size_t lanework_size(const run *R) {
  size_t d = R->s->model.dim, K = HS_BLOCK;
  if (!hasme_lanes(R->s)) return 0;
  return K * d + d * d + 2 * d * d * K + 5 * d * K + hs_eig_lanes_worksize(d);
}

static size_t genwork_size(const run *R) {
  const hs_sim *s = R->s;
  size_t d = s->model.dim;
  return HS_BLOCK * d + s->substeps * d + 3 * d + hs_model_worksize(&s->model) +
         hs_objective_worksize(s->model.obj) + lanework_size(R);
}

static void genwork_layout(const run *R, double *w, genwork *g) {
  const hs_sim *s = R->s;
  size_t d = s->model.dim;
  g->x = w;
  g->z = g->x + HS_BLOCK * d;
  g->zc = g->z + s->substeps * d;
  g->b = g->zc + d;
  g->u = g->b + d;
  g->mw = g->u + d;
  g->ow = g->mw + hs_model_worksize(&s->model);
  if (hasme_lanes(s)) {
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
  }
}

/* A minibatch of B indices out of N into g->idx: with replacement, or a uniformly
** random subset by Floyd's algorithm (R. Floyd, J. Bentley, "Programming Pearls: A
** sample of brilliance", CACM 30(9), 1987), O(B) with generation-stamped marks. */
static void drawbatch(const hs_noise *nz, size_t N, hs_pcg *r, genwork *g) {
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

/* One SGD step of one path. */
static hs_status sgd_step(const run *R, const view *v, hs_pcg *r, double *x, genwork *g,
                          hs_model_info *info) {
  const hs_sim *s = R->s;
  const hs_model *m = &v->model;
  size_t d = m->dim;
  double eta = m->eta;
  const double *B = NULL;
  hs_bkind bk = HS_B_ZERO;
  hs_status st;
  if (m->noise->kind == HS_NOISE_BATCH) {
    drawbatch(m->noise, m->obj->nsamples, r, g);
    st = hs_objective_batch_grad(m->obj, x, g->idx, m->noise->batch, g->b, g->ow);
    if (st != HS_OK) {
      info->part = "objective";
      return st;
    }
    for (size_t j = 0; j < d; j++) x[j] -= eta * g->b[j];
    return HS_OK;
  }
  st = hs_model_eval(m, x, g->b, &B, &bk, &g->ws, info);
  if (st != HS_OK) return st;
  for (size_t j = 0; j < d; j++) x[j] += eta * g->b[j];
  if (bk != HS_B_ZERO) {
    size_t nd = s->coupled ? s->substeps : 1;
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
    adddiffusion(d, bk, B, z, eta, x);
  }
  return HS_OK;
}

/* One Euler-Maruyama substep (dt = eta/substeps) of one path of an SDE model. */
static hs_status sde_substep(const run *R, const view *v, hs_pcg *r, double *x,
                             genwork *g, hs_model_info *info) {
  const hs_sim *s = R->s;
  const hs_model *m = &v->model;
  size_t d = m->dim;
  double dt = m->eta / (double)s->substeps, sq = sqrt(m->eta * dt);
  const double *B = NULL;
  hs_bkind bk = HS_B_ZERO;
  hs_status st = hs_model_eval(m, x, g->b, &B, &bk, &g->ws, info);
  if (st != HS_OK) return st;
  if (bk != HS_B_ZERO) {
    if (d == 1) g->z[0] = hs_normal(r);
    else hs_normal_fill(r, g->z, d);
  }
  for (size_t j = 0; j < d; j++) x[j] += dt * g->b[j];
  adddiffusion(d, bk, B, g->z, sq, x);
  return HS_OK;
}

static void gen_record(const run *R, size_t ri, size_t p0, size_t n, const double *x) {
  size_t d = R->s->model.dim;
  memcpy(R->out->snap + (ri * R->s->paths + p0) * d, x, n * d * sizeof(double));
}

/* Lane l of the block failed at step k with status st: record it (a domain exit when
** the run records those) or report it, and deactivate it (and, on a failure, the lanes
** after it, which no longer matter). */
static void lanefail(run *R, const view *v, size_t p0, size_t n, size_t l, size_t k,
                     hs_status st, const hs_model_info *info, double *x, int *act,
                     size_t *nact, counts *cnt) {
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
  fail(R, st, p0 + l, k, info->value, part, st == HS_ECALLBACK ? callbackmsg(v, part) : NULL);
  act[l] = 0, (*nact)--;
  *nact -= droplanes(act, l + 1, n);
}

/* The lane-batched substep applies to one-dimensional SDE models with isotropic or
** no noise: the diffusion is then a number per lane. */
static int scalar_lanes(const hs_sim *s) {
  hs_noise_kind nk = s->model.noise->kind;
  return s->model.dim == 1 && s->model.method->is_sde &&
         (nk == HS_NOISE_NONE || nk == HS_NOISE_ISO);
}

/* One Euler-Maruyama substep of every active lane of a one-dimensional SDE model,
** each formula evaluated across the lanes in turn: the divisions and square roots of
** eight paths then go into vector instructions, and their log1p calls overlap,
** instead of each path waiting on its own chain of long-latency operations. The
** formulas are the method's (hs_method.h), in the arithmetic of hs_model_eval and
** sde_substep for d = 1, operation for operation, so the paths are the same bit for
** bit. */
static void scalar_substep(run *R, const view *v, size_t p0, size_t n, size_t k,
                           genwork *g, hs_pcg *r, int *act, size_t *nact, counts *cnt) {
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
    for (size_t l = 0; l < n; l++) {
      double t, p2;
      if (!act[l]) continue;
      mt->spectral(eta * h[l], &t, &p2);
      b[l] = -t * gr[l];
      B[l] = sigma * sqrt(p2);
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

/* One Euler-Maruyama substep of HA-SME with isotropic (or no) noise for every active
** lane, dimension 2 to LANE_EIG_MAX: the lanes' Hessians go through one Jacobi solver
** call (hs_eig_lanes_warm, warm-started from each path's previous eigenvectors), and
** the drift -V diag(phi1(eta w)) V'g and diffusion sigma V diag(sqrt(phi2(eta w))) z are
** formed lane by lane in vector loops. The law is that of hs_model_eval; the paths
** differ from it in rounding only, by the choice of eigensolver. */
HS_VECTOR_CLONES
static void hasme_substep(run *R, const view *v, size_t p0, size_t n, size_t k,
                          genwork *g, hs_pcg *r, int *act, size_t *nact, counts *cnt) {
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
    double wmax = w[l];
    for (size_t i = 1; i < d; i++) wmax = fmax(wmax, w[i * K + l]);
    if (hs_method_outside(m->method, eta * wmax)) {
      hs_model_info info = {wmax, 0, "domain"};
      lanefail(R, v, p0, n, l, k, HS_EDOM, &info, g->x + l * d, act, nact, cnt);
      on[l] = 0;
    }
  }
  /* drift(z) and sigma sqrt(diff(z)) of z = eta w (as hs_model_eval) */
  for (size_t i = 0; i < d * K; i++) {
    size_t l = i % K;
    if (!on[l]) continue;
    double t, p2;
    m->method->spectral(eta * w[i], &t, &p2);
    T[i] = t;
    P[i] = sigma * sqrt(p2);
  }
  /* U = phi1 o (V'g), then the drift -V U into T's place per component */
  for (size_t i = 0; i < d; i++) {
    double acc[K] = {0};
    for (size_t j = 0; j < d; j++)
      for (size_t l = 0; l < K; l++) acc[l] += V[(j * d + i) * K + l] * G[l * d + j];
    for (size_t l = 0; l < K; l++) U[i * K + l] = acc[l] * T[i * K + l];
  }
  if (noisy)
    for (size_t l = 0; l < n; l++) {
      if (!on[l]) continue;
      double z[LANE_EIG_MAX];
      hs_normal_fill(&r[l], z, d);
      for (size_t i = 0; i < d; i++) Z[i * K + l] = P[i * K + l] * z[i];
    }
  for (size_t j = 0; j < d; j++) {
    double b[K] = {0}, nz[K] = {0};
    for (size_t i = 0; i < d; i++)
      for (size_t l = 0; l < K; l++) {
        b[l] -= V[(j * d + i) * K + l] * U[i * K + l];
        nz[l] += V[(j * d + i) * K + l] * (noisy ? Z[i * K + l] : 0.0);
      }
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
static void gen_advance(run *R, const view *v, size_t p0, size_t n, size_t k, genwork *g,
                        hs_pcg *r, int *act, size_t *nact, counts *cnt) {
  const hs_sim *s = R->s;
  size_t d = s->model.dim;
  int sgd = !s->model.method->is_sde;
  size_t rounds = sgd ? 1 : s->substeps;
  if (scalar_lanes(s)) {
    for (size_t t = 0; t < rounds && *nact > 0; t++)
      scalar_substep(R, v, p0, n, k, g, r, act, nact, cnt);
    return;
  }
  if (hasme_lanes(s)) {
    for (size_t t = 0; t < rounds && *nact > 0; t++)
      hasme_substep(R, v, p0, n, k, g, r, act, nact, cnt);
    return;
  }
  for (size_t t = 0; t < rounds; t++)
    for (size_t l = 0; l < n; l++) {
      if (!act[l]) continue;
      hs_model_info info = {0.0, 0, NULL};
      double *x = g->x + l * d;
      hs_status st = sgd ? sgd_step(R, v, &r[l], x, g, &info)
                         : sde_substep(R, v, &r[l], x, g, &info);
      cnt->projected += info.projected;
      if (st != HS_OK) lanefail(R, v, p0, n, l, k, st, &info, x, act, nact, cnt);
    }
}

static void gen_block(run *R, const view *v, size_t p0, size_t n, genwork *g,
                      counts *cnt) {
  enum { K = HS_BLOCK };
  const hs_sim *s = R->s;
  size_t d = s->model.dim;
  hs_pcg r[K];
  int act[K];
  blockstreams(R, p0, n, r);
  for (size_t l = 0; l < n; l++) {
    act[l] = 1;
    memcpy(g->x + l * d, s->x0 + (s->x0_per_path ? (p0 + l) * d : 0), d * sizeof(double));
  }
  for (size_t l = 0; l < K; l++) g->warm[l] = 0;   /* new paths: no eigenvectors yet */
  size_t ri = 0, nact = n, k = 0;
  for (;;) {
    if (ri < s->nrecord && s->record[ri] == k) gen_record(R, ri++, p0, n, g->x);
    if (k == s->steps || nact == 0) break;
    k++;
    gen_advance(R, v, p0, n, k, g, r, act, &nact, cnt);
    for (size_t l = 0; l < n; l++) {
      if (!act[l]) continue;
      int c = checkpath(R, v, p0 + l, k, g->x + l * d, g->ow, cnt);
      if (c == PATH_GOES_ON) continue;
      act[l] = 0, nact--;
      if (c == PATH_FAILED) nact -= droplanes(act, l + 1, n);
    }
    if (atomic_load(&R->cancel)) break;
    if (s->interrupt != NULL && *s->interrupt) {
      atomic_store(&R->cancel, 1);
      break;
    }
  }
  while (ri < s->nrecord) gen_record(R, ri++, p0, n, g->x);
}

/* }==================================================================== */

/* {====================================================================
** Threads and the run
** ===================================================================== */

typedef struct worker {
  run *R;
  size_t id;
  view v;
  double *work;
  genwork g;
  counts cnt;
} worker;

static void progress(run *R) {
  const hs_sim *s = R->s;
  double now = hs_now();
  if (now - R->tlast < s->progress_interval) return;
  R->tlast = now;
  double per = (double)HS_BLOCK * (double)s->steps;
  double done = (double)atomic_load(&R->done) * per;
  double total = (double)s->paths * (double)s->steps;
  if (s->progress(s->progress_ctx, done < total ? done : total, total))
    atomic_store(&R->cancel, 1);
}

static void *workloop(void *arg) {
  worker *W = arg;
  run *R = W->R;
  const hs_sim *s = R->s;
  for (;;) {
    if (atomic_load(&R->cancel)) break;
    size_t b = atomic_fetch_add(&R->next, 1);
    if (b >= R->nblocks) break;
    size_t p0 = b * HS_BLOCK;
    if (p0 > atomic_load(&R->errpath)) continue;  /* a smaller path already failed */
    size_t n = s->paths - p0 < HS_BLOCK ? s->paths - p0 : HS_BLOCK;
    if (R->linear) lin_block(R, &W->v, p0, n, W->work, &W->cnt);
    else gen_block(R, &W->v, p0, n, &W->g, &W->cnt);
    atomic_fetch_add(&R->done, 1);
    if (W->id == 0 && s->progress != NULL) progress(R);
  }
  return NULL;
}

static void worker_free(worker *W) {
  free(W->work);
  free(W->g.idx);
  free(W->g.stamp);
}

static hs_status worker_init(worker *W, run *R, size_t id) {
  const hs_sim *s = R->s;
  memset(W, 0, sizeof *W);
  W->R = R;
  W->id = id;
  W->v.model = s->model;
  W->v.escape = s->escape;
  if (id > 0 && s->replicas != NULL && id <= s->nreplicas) {
    const hs_replica *rep = &s->replicas[id - 1];
    if (rep->obj != NULL) W->v.model.obj = rep->obj;
    if (rep->noise != NULL) W->v.model.noise = rep->noise;
    if (rep->escape != NULL) W->v.escape = rep->escape;
  }
  size_t n = R->linear ? linwork_size(R) : genwork_size(R);
  W->work = malloc(n * sizeof(double));
  if (W->work == NULL) return HS_ENOMEM;
  if (R->linear) return HS_OK;
  genwork_layout(R, W->work, &W->g);
  hs_model_ws_init(&W->v.model, W->g.mw, &W->g.ws);
  if (s->model.noise->kind == HS_NOISE_BATCH) {
    W->g.idx = malloc(s->model.noise->batch * sizeof(size_t));
    W->g.stamp = calloc(s->model.obj->nsamples, sizeof(uint32_t));
    if (W->g.idx == NULL || W->g.stamp == NULL) return HS_ENOMEM;
  }
  return HS_OK;
}

hs_status hs_sim_run(const hs_sim *s, hs_sim_out *out) {
  double t0 = hs_now();
  out->projected = out->escaped = out->diverged = out->undefined = 0;
  out->threads_used = 0;
  hs_status st = hs_sim_check(s, &out->err);
  if (st != HS_OK) return st;
  for (size_t i = 0; i < s->paths; i++) {
    if (out->escape_step != NULL) out->escape_step[i] = -1;
    if (out->diverge_step != NULL) out->diverge_step[i] = -1;
    if (out->undefined_step != NULL) out->undefined_step[i] = -1;
  }

  run R;
  memset(&R, 0, sizeof R);
  R.s = s;
  R.out = out;
  R.linear = hs_sim_linear(s);
  out->kernel = R.linear ? "linear" : "general";
  if (R.linear) {
    const hs_quadratic_params *q = s->model.obj->params;
    hs_model_info info = {0.0, 0, NULL};
    st = hs_linear_build(&R.lin, &s->model, q->H, q->b, s->integrator == HS_EXACT,
                         s->substeps, s->coupled, &info);
    out->projected = info.projected;
    if (st != HS_OK) {
      out->err.status = st;
      out->err.value = info.value;
      snprintf(out->err.what, sizeof out->err.what, "%s",
               info.part != NULL ? info.part : "set-up");
      return st;
    }
  }
  hs_pcg_seed(&R.base, s->seed, 0);
  R.jump = hs_pcg_affine_of(HS_PCG_JUMP, R.base.inc);
  for (int bit = 0; bit < 64; bit++)
    R.blockjump[bit] = hs_pcg_affine_of(((hs_u128)HS_BLOCK << bit) * HS_PCG_JUMP, R.base.inc);
  R.nblocks = (s->paths + HS_BLOCK - 1) / HS_BLOCK;
  atomic_init(&R.next, 0);
  atomic_init(&R.errpath, SIZE_MAX);
  atomic_init(&R.done, 0);
  atomic_init(&R.cancel, 0);
  pthread_mutex_init(&R.lock, NULL);
  R.tlast = t0;

  size_t T = s->threads == 0 ? hs_ncores() : s->threads;
  if (T > maxworkers(s)) T = maxworkers(s);
  if (T > R.nblocks) T = R.nblocks > 0 ? R.nblocks : 1;
  worker *W = calloc(T, sizeof *W);
  pthread_t *tid = calloc(T, sizeof *tid);
  st = W == NULL || tid == NULL ? HS_ENOMEM : HS_OK;
  size_t ready = 0;
  while (st == HS_OK && ready < T) {
    st = worker_init(&W[ready], &R, ready);
    ready++;   /* a worker that failed half-way is freed with the others */
  }
  if (st == HS_OK) {
    /* Start workers 1..T-1; if the system refuses a thread, run with fewer. */
    size_t started = 1;
    for (; started < T; started++)
      if (pthread_create(&tid[started], NULL, workloop, &W[started]) != 0) break;
    workloop(&W[0]);
    for (size_t i = 1; i < started; i++) pthread_join(tid[i], NULL);
    out->threads_used = started;
    for (size_t i = 0; i < started; i++) {
      out->projected += W[i].cnt.projected;
      out->escaped += W[i].cnt.escaped;
      out->diverged += W[i].cnt.diverged;
      out->undefined += W[i].cnt.undefined;
    }
    if (out->err.status == HS_OK && atomic_load(&R.cancel)) {
      out->err.status = HS_ECANCEL;
      snprintf(out->err.what, sizeof out->err.what, "%s",
               s->interrupt != NULL && *s->interrupt ? "interrupt" : "run");
    }
  }
  else {
    out->err.status = st;
    snprintf(out->err.what, sizeof out->err.what, "set-up");
  }
  for (size_t i = 0; i < ready && W != NULL; i++) worker_free(&W[i]);
  free(W);
  free(tid);
  pthread_mutex_destroy(&R.lock);
  hs_linear_free(&R.lin);
  out->elapsed = hs_now() - t0;
  return out->err.status;
}

/* }==================================================================== */
