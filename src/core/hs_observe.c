/*
** hs_observe.c: evaluation of streaming observables on a block of paths and their
** exact per-(recorded step, observable) accumulators (hs_observe.h).
*/
#include "hs_observe.h"

#include <math.h>
#include <stdlib.h>

#include "hs_nn.h"

hs_status hs_observe_check(const hs_observe *ob, const hs_objective *obj, size_t *bad) {
  size_t d = obj->dim;
  for (size_t o = 0; o < ob->nobs; o++) {
    const hs_obs *g = &ob->obs[o];
    int okay = 1;
    switch (g->kind) {
      case HS_OBS_X: okay = g->i < d; break;
      case HS_OBS_XX: okay = g->i < d && g->j < d; break;
      case HS_OBS_NN_OUTPUT: okay = obj->type == &hs_nn_type && g->input != NULL; break;
      case HS_OBS_CALLBACK: okay = g->fn != NULL; break;
      case HS_OBS_VALUE: case HS_OBS_DIST2: break;
    }
    if (!okay) {
      *bad = o;
      return HS_EINVAL;
    }
  }
  return HS_OK;
}

int hs_observe_thread_safe(const hs_observe *ob) {
  for (size_t o = 0; o < ob->nobs; o++)
    if (ob->obs[o].kind == HS_OBS_CALLBACK && !ob->obs[o].thread_safe) return 0;
  return 1;
}

size_t hs_observe_worksize(const hs_observe *ob, const hs_objective *obj) {
  for (size_t o = 0; o < ob->nobs; o++)
    if (ob->obs[o].kind == HS_OBS_VALUE) return hs_objective_worksize(obj);
  return 0;
}

static int allfinite(const double *x, size_t d) {
  double s = 0.0;
  for (size_t j = 0; j < d; j++) s += x[j] * 0.0;   /* NaN iff some x_j is inf or NaN */
  return s == 0.0;
}

/* One observable at one finite state. */
static hs_status evalone(const hs_obs *g, const hs_objective *obj, size_t d,
                         const double *x, const double *x0, double *v, double *work) {
  switch (g->kind) {
    case HS_OBS_VALUE:
      return hs_objective_value(obj, x, v, work);
    case HS_OBS_DIST2: {
      double s = 0.0;
      for (size_t j = 0; j < d; j++) s += (x[j] - x0[j]) * (x[j] - x0[j]);
      *v = s;
      return HS_OK;
    }
    case HS_OBS_X:
      *v = x[g->i];
      return HS_OK;
    case HS_OBS_XX:
      *v = x[g->i] * x[g->j];
      return HS_OK;
    case HS_OBS_NN_OUTPUT:
      return hs_nn_predict(obj, x, g->input, v, work);
    case HS_OBS_CALLBACK:
      return g->fn(g->ctx, x, d, v);
  }
  return HS_EINVAL;
}

hs_status hs_observe_eval(const hs_observe *ob, const hs_objective *obj, size_t d,
                          const double *X, size_t xstride, const double *X0,
                          size_t x0stride, size_t n, double *G, size_t gstride,
                          double *work, hs_obs_fail *fail) {
  for (size_t l = 0; l < n; l++) {
    const double *x = X + l * xstride, *x0 = X0 + l * x0stride;
    if (!allfinite(x, d)) {
      for (size_t o = 0; o < ob->nobs; o++) G[o * gstride + l] = NAN;
      continue;
    }
    for (size_t o = 0; o < ob->nobs; o++) {
      double v = 0.0;
      hs_status st = evalone(&ob->obs[o], obj, d, x, x0, &v, work);
      if (st == HS_OK && !isfinite(v)) st = HS_EDOM;
      if (st != HS_OK) {
        fail->path = l;
        fail->obs = o;
        fail->value = st == HS_EDOM ? v : 0.0;
        return st;
      }
      G[o * gstride + l] = v;
    }
  }
  return HS_OK;
}

/* {====================================================================
** Accumulators
** ===================================================================== */

void hs_obs_acc_init(hs_obs_acc *a) {
  a->n = 0;
  hs_xsum_init(&a->s1);
  hs_xsum_init(&a->s2);
}

void hs_obs_acc_merge(hs_obs_acc *a, hs_obs_acc *b) {
  a->n += b->n;
  hs_xsum_merge(&a->s1, &b->s1);
  hs_xsum_merge(&a->s2, &b->s2);
}

/* With S1 = h1 + l1 and S2 = h2 + l2 to about 106 bits, the mean is split as
** mh + ml (mh = h1/N, the remainder of that division exact through fma) and
**   S2 - S1 * mean = (h2 - h1 mh) + (l2 - err(h1 mh) - h1 ml - l1 mh),
** where h1 mh and its rounding error come from fma: the leading difference is exact
** when it cancels (Sterbenz), so the spread survives a mean 10^8 times larger. */
void hs_obs_acc_moments(hs_obs_acc *a, double *mean, double *se, double *sd) {
  *mean = *se = *sd = NAN;
  if (a->n == 0) return;
  double N = (double)a->n, h1, l1, h2, l2;
  hs_xsum_round2(&a->s1, &h1, &l1);
  hs_xsum_round2(&a->s2, &h2, &l2);
  double mh = h1 / N;
  double ml = (fma(-mh, N, h1) + l1) / N;
  *mean = mh + ml;
  if (a->n < 2) return;
  double p = h1 * mh, pe = fma(h1, mh, -p);
  double num = (h2 - p) + (((l2 - pe) - h1 * ml) - l1 * mh);
  if (!(num > 0.0)) num = num == num ? 0.0 : num;   /* rounding below zero: no spread */
  double var = num / (N - 1.0);
  *sd = sqrt(var);
  *se = sqrt(var / N);
}

size_t hs_obs_stats_bytes(size_t nobs, size_t nrec, int paired) {
  size_t n, b;
  if (!hs_mulsize(nobs, nrec, &n) || !hs_mulsize(n, paired ? 2 : 1, &n) ||
      !hs_mulsize(n, sizeof(hs_obs_acc), &b))
    return SIZE_MAX;
  return b + sizeof(hs_obs_stats);
}

hs_obs_stats *hs_obs_stats_alloc(size_t nobs, size_t nrec, int paired) {
  size_t n;
  if (hs_obs_stats_bytes(nobs, nrec, paired) == SIZE_MAX) return NULL;
  n = nobs * nrec;
  hs_obs_stats *s = malloc(sizeof *s);
  if (s == NULL) return NULL;
  s->nobs = nobs;
  s->nrec = nrec;
  s->paired = paired;
  s->val = malloc((n > 0 ? n : 1) * sizeof(hs_obs_acc));
  s->diff = paired ? malloc((n > 0 ? n : 1) * sizeof(hs_obs_acc)) : NULL;
  if (s->val == NULL || (paired && s->diff == NULL)) {
    hs_obs_stats_free(s);
    return NULL;
  }
  hs_obs_stats_clear(s);
  return s;
}

void hs_obs_stats_free(hs_obs_stats *s) {
  if (s == NULL) return;
  free(s->val);
  free(s->diff);
  free(s);
}

void hs_obs_stats_clear(hs_obs_stats *s) {
  size_t n = s->nobs * s->nrec;
  for (size_t i = 0; i < n; i++) {
    hs_obs_acc_init(&s->val[i]);
    if (s->diff != NULL) hs_obs_acc_init(&s->diff[i]);
  }
}

void hs_obs_stats_add(hs_obs_stats *s, size_t r, const double *G, const double *Gref,
                      size_t gstride, size_t n) {
  for (size_t o = 0; o < s->nobs; o++) {
    hs_obs_acc *a = &s->val[r * s->nobs + o];
    const double *g = G + o * gstride;
    for (size_t l = 0; l < n; l++) hs_obs_acc_add(a, g[l]);
    if (s->diff == NULL || Gref == NULL) continue;
    hs_obs_acc *dacc = &s->diff[r * s->nobs + o];
    const double *gr = Gref + o * gstride;
    for (size_t l = 0; l < n; l++) hs_obs_acc_add(dacc, g[l] - gr[l]);  /* NaN: skipped */
  }
}

hs_status hs_obs_stats_merge(hs_obs_stats *a, hs_obs_stats *b) {
  if (a->nobs != b->nobs || a->nrec != b->nrec || a->paired != b->paired)
    return HS_EINVAL;
  size_t n = a->nobs * a->nrec;
  for (size_t i = 0; i < n; i++) {
    hs_obs_acc_merge(&a->val[i], &b->val[i]);
    if (a->paired) hs_obs_acc_merge(&a->diff[i], &b->diff[i]);
  }
  return HS_OK;
}

/* {======== images */

#define ACC_WORDS (1 + 2 * HS_XSUM_WORDS)

size_t hs_obs_stats_words(const hs_obs_stats *s) {
  return s->nobs * s->nrec * (s->paired ? 2 : 1) * ACC_WORDS;
}

static void packacc(hs_obs_acc *a, uint64_t *out) {
  out[0] = a->n;
  hs_xsum_pack(&a->s1, out + 1);
  hs_xsum_pack(&a->s2, out + 1 + HS_XSUM_WORDS);
}

static void unpackacc(hs_obs_acc *a, const uint64_t *in) {
  a->n = in[0];
  hs_xsum_unpack(&a->s1, in + 1);
  hs_xsum_unpack(&a->s2, in + 1 + HS_XSUM_WORDS);
}

void hs_obs_stats_pack(hs_obs_stats *s, uint64_t *out) {
  size_t n = s->nobs * s->nrec;
  for (size_t i = 0; i < n; i++) packacc(&s->val[i], out + i * ACC_WORDS);
  if (s->paired)
    for (size_t i = 0; i < n; i++) packacc(&s->diff[i], out + (n + i) * ACC_WORDS);
}

void hs_obs_stats_unpack(hs_obs_stats *s, const uint64_t *in) {
  size_t n = s->nobs * s->nrec;
  for (size_t i = 0; i < n; i++) unpackacc(&s->val[i], in + i * ACC_WORDS);
  if (s->paired)
    for (size_t i = 0; i < n; i++) unpackacc(&s->diff[i], in + (n + i) * ACC_WORDS);
}

/* }======== */

/* }==================================================================== */
