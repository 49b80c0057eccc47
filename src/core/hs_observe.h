/*
** hs_observe.h: streaming observables. A set of functions g(x) (built-in or a user
** callback) evaluated on each path at the recorded steps and reduced on the fly into
** exact accumulators (hs_xsum.h) of the count, sum g and sum g^2, and, under a joint
** run of several methods, of the paired differences g - g_ref against a reference
** method. Memory depends on the number of observables and recorded steps only, never
** on the number of paths, and the figures are the same bits however the paths were
** split between threads or processes.
*/
#ifndef HS_OBSERVE_H
#define HS_OBSERVE_H

#include <math.h>

#include "hs_objective.h"
#include "hs_xsum.h"

typedef enum hs_obs_kind {
  HS_OBS_VALUE,      /* f(x), the objective's value */
  HS_OBS_DIST2,      /* |x - x0|^2, x0 the path's start */
  HS_OBS_X,          /* x_i */
  HS_OBS_XX,         /* x_i x_j */
  HS_OBS_NN_OUTPUT,  /* the network's output at a given input (hs_nn objectives) */
  HS_OBS_CALLBACK    /* fn(ctx, x, d, &g): user code */
} hs_obs_kind;

/* A user observable: writes g(x) into *out. HS_ECALLBACK when the user code failed
** (the caller's errmsg(ctx) then says why). */
typedef hs_status (*hs_obs_fn)(void *ctx, const double *x, size_t d, double *out);

typedef struct hs_obs {
  hs_obs_kind kind;
  size_t i, j;              /* X: i; XX: i and j (0-based, < dim) */
  const double *input;      /* NN_OUTPUT: the network's input (p doubles), not copied */
  hs_obs_fn fn;             /* CALLBACK */
  void *ctx;
  const char *(*errmsg)(void *ctx);
  int thread_safe;          /* CALLBACK: 0 when fn may run only on its own thread */
} hs_obs;

/* A set of observables. The caller owns obs; nothing here is copied. */
typedef struct hs_observe {
  size_t nobs;
  const hs_obs *obs;
} hs_observe;

/* Check the set against an objective of dimension d: coordinates below d and
** NN_OUTPUT only on an hs_nn objective. HS_EINVAL with *bad the first bad index. */
hs_status hs_observe_check(const hs_observe *ob, const hs_objective *obj, size_t *bad);

/* Whether every observable may be evaluated on any thread. */
int hs_observe_thread_safe(const hs_observe *ob);

/* Scratch doubles hs_observe_eval needs. */
size_t hs_observe_worksize(const hs_observe *ob, const hs_objective *obj);

/* What failed in an evaluation. */
typedef struct hs_obs_fail {
  size_t path;     /* index of the path within the call (0 .. n-1) */
  size_t obs;      /* which observable */
  double value;    /* the non-finite value it returned (0 for a failed callback) */
} hs_obs_fail;

/* Evaluate every observable on n paths: path l has state X + l*xstride (d doubles)
** and start X0 + l*x0stride (x0stride 0: one start for all). G[o*gstride + l]
** receives observable o of path l. A path whose state is not finite (a recorded
** divergence) gets NaN in every observable, which the accumulators skip; a finite
** state whose observable comes out inf or NaN is an error: HS_EDOM (or the callback's
** HS_ECALLBACK, or the objective's status) with *fail naming the path and observable.
** obj is the objective to evaluate (a worker's replica when it has one); work holds
** hs_observe_worksize doubles. */
hs_status hs_observe_eval(const hs_observe *ob, const hs_objective *obj, size_t d,
                          const double *X, size_t xstride, const double *X0,
                          size_t x0stride, size_t n, double *G, size_t gstride,
                          double *work, hs_obs_fail *fail);

/* {====================================================================
** Accumulators
** ===================================================================== */

/* Count, sum and sum of squares of one observable at one recorded step. */
typedef struct hs_obs_acc {
  uint64_t n;
  hs_xsum s1, s2;
} hs_obs_acc;

void hs_obs_acc_init(hs_obs_acc *a);

/* Add one value (NaN: skipped, the path has no value). The square goes in exactly,
** as its rounded value plus the rounding error fma recovers, so S2 is the exact sum
** of squares and a mean far larger than the spread does not blur the variance. */
static inline void hs_obs_acc_add(hs_obs_acc *a, double g) {
  if (g != g) return;
  a->n++;
  hs_xsum_add(&a->s1, g);
  double p = g * g;
  hs_xsum_add(&a->s2, p);
  hs_xsum_add(&a->s2, fma(g, g, -p));
}

/* a += b exactly (b's representation may change, not its value). */
void hs_obs_acc_merge(hs_obs_acc *a, hs_obs_acc *b);

/* The sample mean, the standard error of the mean sqrt(var / n) and the sample
** standard deviation (divisor n - 1) from the exact sums: the variance is formed as
** (S2 - S1^2 / n) / (n - 1) in about 106-bit arithmetic, so a mean large against the
** spread does not cancel it away. n = 0: all NaN; n = 1: se and sd NaN. */
void hs_obs_acc_moments(hs_obs_acc *a, double *mean, double *se, double *sd);

/* The accumulators of a run: for each recorded step r and observable o, the values
** val[r*nobs + o] and, when paired, the differences diff[r*nobs + o] against the
** reference method's value on the same path. */
typedef struct hs_obs_stats {
  size_t nobs, nrec;
  int paired;
  hs_obs_acc *val;
  hs_obs_acc *diff;   /* NULL unless paired */
} hs_obs_stats;

/* NULL when out of memory or when the sizes overflow. */
hs_obs_stats *hs_obs_stats_alloc(size_t nobs, size_t nrec, int paired);
void hs_obs_stats_free(hs_obs_stats *s);

/* Bytes of one hs_obs_stats_alloc, for memory budgets. */
size_t hs_obs_stats_bytes(size_t nobs, size_t nrec, int paired);

/* Reset every accumulator to empty. */
void hs_obs_stats_clear(hs_obs_stats *s);

/* Add the values of n paths at recorded step r: G[o*gstride + l] as hs_observe_eval
** wrote them. When s is paired and Gref is not NULL, also the differences
** G - Gref (same layout); a pair with either value NaN is skipped. */
void hs_obs_stats_add(hs_obs_stats *s, size_t r, const double *G, const double *Gref,
                      size_t gstride, size_t n);

/* a += b, exactly; the shapes must agree (HS_EINVAL otherwise). */
hs_status hs_obs_stats_merge(hs_obs_stats *a, hs_obs_stats *b);

/* A fixed-size image of the accumulators, for sending between processes:
** hs_obs_stats_words 64-bit words (per accumulator its count and the two sums'
** images). Unpacking into stats of the same shape restores the same sums. */
size_t hs_obs_stats_words(const hs_obs_stats *s);
void hs_obs_stats_pack(hs_obs_stats *s, uint64_t *out);
void hs_obs_stats_unpack(hs_obs_stats *s, const uint64_t *in);

/* }==================================================================== */

#endif
