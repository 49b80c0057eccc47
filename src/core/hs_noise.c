/*
** hs_noise.c: construction of the noise models and Sigma(x) for the SDE models.
*/
#include "hs_noise.h"

#include <stdlib.h>
#include <string.h>

#include "hs_linalg.h"
#include "hs_util.h"

static hs_noise *newnoise(hs_noise_kind kind) {
  hs_noise *n = hs_calloc(1, sizeof *n);
  if (n != NULL) n->kind = kind;
  return n;
}

hs_noise *hs_noise_none_alloc(void) { return newnoise(HS_NOISE_NONE); }

hs_noise *hs_noise_iso_alloc(double sigma) {
  hs_noise *n = newnoise(HS_NOISE_ISO);
  if (n != NULL) n->sigma = sigma;
  return n;
}

/* The factor of a constant covariance is computed once, by hs_factor: its symmetric
** square root, which also covers singular (rank-deficient) noise. */
hs_noise *hs_noise_const_alloc(size_t d, const double *cov, double tol, hs_status *st,
                               double *minw) {
  size_t dd;
  *st = HS_ENOMEM;
  if (!hs_mulsize(d, d, &dd)) { *st = HS_ESIZE; return NULL; }
  hs_noise *n = newnoise(HS_NOISE_CONST);
  double *work = hs_malloc(hs_factor_worksize(d) * sizeof(double));
  if (n == NULL || work == NULL) goto fail;
  n->dim = d;
  n->cov = hs_malloc(dd * sizeof(double));
  n->factor = hs_malloc(dd * sizeof(double));
  if (n->cov == NULL || n->factor == NULL) goto fail;
  memcpy(n->cov, cov, dd * sizeof(double));
  size_t clipped;
  *st = hs_factor(d, cov, n->factor, tol, 0, minw, &clipped, work);
  if (*st != HS_OK) goto fail;
  free(work);
  *st = HS_OK;
  return n;
fail:
  free(work);
  hs_noise_free(n);
  return NULL;
}

hs_noise *hs_noise_state_alloc(size_t d, hs_cov_fn fn, void *ctx, int thread_safe,
                               const char *(*errmsg)(void *ctx)) {
  hs_noise *n = newnoise(HS_NOISE_STATE);
  if (n == NULL) return NULL;
  n->dim = d;
  n->cov_fn = fn;
  n->ctx = ctx;
  n->thread_safe = thread_safe;
  n->errmsg = errmsg;
  return n;
}

/* The Gaussian surrogate keeps the kind BATCH: everything that needs Sigma(x) (the
** SDE models, noise:cov) computes it the same way; only SGD's step differs, drawing
** N(0, Sigma(x)) through the diffusion factor instead of a batch of samples. */
hs_noise *hs_noise_batch_alloc(size_t B, int replace, int gaussian) {
  hs_noise *n = newnoise(HS_NOISE_BATCH);
  if (n == NULL) return NULL;
  n->batch = B;
  n->replace = replace;
  n->gaussian = gaussian;
  return n;
}

void hs_noise_free(hs_noise *n) {
  if (n == NULL) return;
  free(n->cov);
  free(n->factor);
  free(n);
}

/* The samples' gradients are kept from the first pass of batchcov to the second
** when they take at most this many doubles (512 KiB); above, they are computed again,
** so that the scratch stays small for large datasets. */
#define KEEP_MAX ((size_t)1 << 16)

static int keeps(const hs_objective *o) {
  size_t N = o->nsamples, d = o->dim;
  return N <= KEEP_MAX && d <= KEEP_MAX && N * d <= KEEP_MAX;
}

/* mean (d), gi (d), the objective's scratch, then the N x d gradients when kept. */
size_t hs_noise_worksize(const hs_noise *n, const hs_objective *o) {
  if (n->kind != HS_NOISE_BATCH) return 0;
  return 2 * o->dim + hs_objective_worksize(o) + (keeps(o) ? o->nsamples * o->dim : 0);
}

static hs_status batchcheck(const hs_noise *n, const hs_objective *o) {
  size_t N = o->nsamples;
  return N < 2 || n->batch < 1 || n->batch > N ? HS_EINVAL : HS_OK;
}

/* Per-sample gradient covariance by one pass of Welford-style updates would need the
** mean first for stability; with N small (datasets of tens to thousands of points)
** two passes are cheap and exact up to rounding: mean, then centred outer products.
** Gs (N x d) holds the gradients (centred in place by the second pass), or is NULL:
** both passes then compute them into gi.
** work: mean (d), gi (d), then the objective's scratch. */
static hs_status batchsums(const hs_noise *n, const hs_objective *o, const double *x,
                           double *Gs, double *C, double *work) {
  size_t d = o->dim, N = o->nsamples;
  double *mean = work, *gi = work + d, *ow = work + 2 * d;
  memset(mean, 0, d * sizeof(double));
  memset(C, 0, d * d * sizeof(double));
  for (size_t i = 0; i < N; i++) {
    const double *row = Gs != NULL ? Gs + i * d : gi;
    if (Gs == NULL) {
      hs_status st = o->type->sample_grad(o, x, i, gi, ow);
      if (st != HS_OK) return st;
    }
    for (size_t j = 0; j < d; j++) mean[j] += row[j];
  }
  for (size_t j = 0; j < d; j++) mean[j] /= (double)N;
  size_t i = 0;
  if (Gs != NULL)   /* four samples per pass over C, each entry's sum still in order */
    for (; i + 4 <= N; i += 4) {
      double *r0 = Gs + i * d, *r1 = r0 + d, *r2 = r1 + d, *r3 = r2 + d;
      for (size_t j = 0; j < d; j++) {
        r0[j] -= mean[j];
        r1[j] -= mean[j];
        r2[j] -= mean[j];
        r3[j] -= mean[j];
      }
      for (size_t a = 0; a < d; a++) {
        double *Ca = C + a * d;
        const double g0 = r0[a], g1 = r1[a], g2 = r2[a], g3 = r3[a];
        for (size_t b = 0; b <= a; b++)
          Ca[b] = Ca[b] + g0 * r0[b] + g1 * r1[b] + g2 * r2[b] + g3 * r3[b];
      }
    }
  for (; i < N; i++) {
    if (Gs != NULL) memcpy(gi, Gs + i * d, d * sizeof(double));
    else {
      hs_status st = o->type->sample_grad(o, x, i, gi, ow);
      if (st != HS_OK) return st;
    }
    for (size_t j = 0; j < d; j++) gi[j] -= mean[j];
    for (size_t a = 0; a < d; a++)
      for (size_t b = 0; b <= a; b++) C[a * d + b] += gi[a] * gi[b];
  }
  double B = (double)n->batch, scale = 1.0 / ((double)N * B);
  if (!n->replace) scale *= ((double)N - B) / ((double)N - 1.0);
  for (size_t a = 0; a < d; a++)
    for (size_t b = 0; b <= a; b++) C[a * d + b] = C[b * d + a] = C[a * d + b] * scale;
  return HS_OK;
}

static hs_status batchcov(const hs_noise *n, const hs_objective *o, const double *x,
                          double *C, double *work) {
  size_t d = o->dim, N = o->nsamples;
  hs_status st = batchcheck(n, o);
  if (st != HS_OK) return st;
  if (!keeps(o)) return batchsums(n, o, x, NULL, C, work);
  double *ow = work + 2 * d, *Gs = ow + hs_objective_worksize(o);
  for (size_t i = 0; i < N; i++)
    if ((st = o->type->sample_grad(o, x, i, Gs + i * d, ow)) != HS_OK) return st;
  return batchsums(n, o, x, Gs, C, work);
}

int hs_noise_shares(const hs_noise *n, const hs_objective *o) {
  return n->kind == HS_NOISE_BATCH && o->type->grad_samples != NULL && keeps(o);
}

hs_status hs_noise_gradcov(const hs_noise *n, const hs_objective *o, const double *x,
                           double *g, double *H, double *C, double *work) {
  size_t d = o->dim;
  hs_status st = batchcheck(n, o);
  if (st != HS_OK) return st;
  double *ow = work + 2 * d, *Gs = ow + hs_objective_worksize(o);
  if ((st = o->type->grad_samples(o, x, g, H, Gs, ow)) != HS_OK) return st;
  return batchsums(n, o, x, Gs, C, work);
}

hs_status hs_noise_cov(const hs_noise *n, const hs_objective *o, const double *x,
                       double *C, double *work) {
  size_t d = o->dim;
  switch (n->kind) {
    case HS_NOISE_NONE:
      memset(C, 0, d * d * sizeof(double));
      return HS_OK;
    case HS_NOISE_ISO:
      memset(C, 0, d * d * sizeof(double));
      for (size_t i = 0; i < d; i++) C[i * d + i] = n->sigma * n->sigma;
      return HS_OK;
    case HS_NOISE_CONST:
      memcpy(C, n->cov, d * d * sizeof(double));
      return HS_OK;
    case HS_NOISE_STATE:
      return n->cov_fn(n->ctx, x, C);
    case HS_NOISE_BATCH:
      return batchcov(n, o, x, C, work);
  }
  return HS_EINVAL;
}
