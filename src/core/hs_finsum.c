/*
** hs_finsum.c: least squares and logistic regression as finite-sum objectives
** (hs_finsum.h): value, gradient, Hessian, per-sample and minibatch gradients.
*/
#include "hs_finsum.h"

#include <math.h>
#include <stdlib.h>

#include "hs_util.h"

/*
** Both losses are generalised linear: f_i(x) = l(a_i'x; y_i) + (decay/2)|x|^2 with a
** scalar loss l of the margin t = a_i'x. Then
**   grad f_i = l'(t) a_i + decay x,    Hess f_i = l''(t) a_i a_i' + decay I,
** so every evaluator is one pass over the rows of A: a dot product for t, then an
** axpy (gradient) or a rank-1 update (Hessian). For least squares
** l = (t - y)^2 / 2, l' = t - y, l'' = 1; for the logistic loss with y in {-1, 1},
** m = y t, l = log(1 + e^-m), l' = -y s(-m), l'' = s(m) s(-m) (y^2 = 1).
** The decay belongs to every f_i, so means over samples or batches add it once.
*/

typedef struct finsum_block {
  hs_objective o;
  hs_finsum_params p;
  double data[];            /* A (n p), y (n), then A'A / n (p p) when precomputed */
} finsum_block;

static double dot(size_t p, const double *a, const double *x) {
  double s = 0.0;
  for (size_t k = 0; k < p; k++) s += a[k] * x[k];
  return s;
}

/* |x|^2, for the decay term of the value. */
static double norm2(size_t p, const double *x) { return dot(p, x, x); }

/* g = g / m + decay x: a sum over m samples becomes their mean gradient. */
static void finish_grad(size_t p, size_t m, double decay, const double *x, double *g) {
  const double inv = 1.0 / (double)m;
  for (size_t k = 0; k < p; k++) g[k] = g[k] * inv + decay * x[k];
}

/* {====================================================================
** The scalar losses
** ===================================================================== */

/* log(1 + e^-m) for any m: log1p(e^-m) for m >= 0, else -m + log1p(e^m), so that
** neither exp overflows and no precision is lost for large |m|. */
static double logistic_loss(double m) {
  return m >= 0.0 ? log1p(exp(-m)) : -m + log1p(exp(m));
}

/* s(-m) = 1 / (1 + e^m), the weight of a sample in the logistic gradient. */
static double sigmoid_neg(double m) {
  if (m >= 0.0) {
    double e = exp(-m);
    return e / (1.0 + e);
  }
  return 1.0 / (1.0 + exp(m));
}

/* s(m) s(-m) = e / (1 + e)^2 with e = e^-|m| (symmetric in m). */
static double sigmoid_curv(double m) {
  double e = exp(-fabs(m));
  return e / ((1.0 + e) * (1.0 + e));
}

/* l'(t) of sample i at t = a_i'x. */
static double dloss(const hs_objective *o, size_t i, double t) {
  const hs_finsum_params *P = o->params;
  if (o->type == &hs_least_squares_type) return t - P->y[i];
  return -P->y[i] * sigmoid_neg(P->y[i] * t);
}

/* l''(t) of sample i at t = a_i'x. */
static double d2loss(const hs_objective *o, size_t i, double t) {
  const hs_finsum_params *P = o->params;
  if (o->type == &hs_least_squares_type) return 1.0;
  return sigmoid_curv(P->y[i] * t);
}

/* }==================================================================== */

/* {====================================================================
** Evaluators shared by both types
** ===================================================================== */

static hs_status fs_value(const hs_objective *o, const double *x, double *f,
                          double *work) {
  const hs_finsum_params *P = o->params;
  const size_t n = P->n, p = P->p;
  const int ls = o->type == &hs_least_squares_type;
  double s = 0.0;
  (void)work;
  for (size_t i = 0; i < n; i++) {
    double t = dot(p, P->A + i * p, x);
    if (ls) {
      double r = t - P->y[i];
      s += 0.5 * r * r;
    } else {
      s += logistic_loss(P->y[i] * t);
    }
  }
  *f = s / (double)n + 0.5 * P->decay * norm2(p, x);
  return HS_OK;
}

/* g = mean over idx[0..m-1] (every sample when idx is NULL) of grad f_i. */
static void mean_grad(const hs_objective *o, const double *x, const size_t *idx,
                      size_t m, double *g) {
  const hs_finsum_params *P = o->params;
  const size_t p = P->p;
  for (size_t k = 0; k < p; k++) g[k] = 0.0;
  for (size_t b = 0; b < m; b++) {
    const size_t i = idx != NULL ? idx[b] : b;
    const double *a = P->A + i * p;
    const double c = dloss(o, i, dot(p, a, x));
    for (size_t k = 0; k < p; k++) g[k] += c * a[k];
  }
  finish_grad(p, m, P->decay, x, g);
}

static hs_status fs_grad(const hs_objective *o, const double *x, double *g,
                         double *work) {
  (void)work;
  mean_grad(o, x, NULL, ((const hs_finsum_params *)o->params)->n, g);
  return HS_OK;
}

static hs_status fs_sample_grad(const hs_objective *o, const double *x, size_t i,
                                double *g, double *work) {
  (void)work;
  if (i >= ((const hs_finsum_params *)o->params)->n) return HS_EINVAL;
  mean_grad(o, x, &i, 1, g);
  return HS_OK;
}

static hs_status fs_batch_grad(const hs_objective *o, const double *x,
                               const size_t *idx, size_t B, double *g, double *work) {
  const size_t n = ((const hs_finsum_params *)o->params)->n;
  (void)work;
  if (B == 0) return HS_EINVAL;
  for (size_t b = 0; b < B; b++)
    if (idx[b] >= n) return HS_EINVAL;
  mean_grad(o, x, idx, B, g);
  return HS_OK;
}

/* H = (1/n) sum_i w_i a_i a_i' + decay I with w_i = l''(a_i'x) (x may be NULL for
** least squares, whose weights are all 1). The upper triangle is accumulated and
** mirrored at the end. */
static void form_hess(const hs_objective *o, const double *x, double *H) {
  const hs_finsum_params *P = o->params;
  const size_t n = P->n, p = P->p;
  const double inv = 1.0 / (double)n;
  for (size_t k = 0; k < p * p; k++) H[k] = 0.0;
  for (size_t i = 0; i < n; i++) {
    const double *a = P->A + i * p;
    const double w = x != NULL ? d2loss(o, i, dot(p, a, x)) : 1.0;
    for (size_t u = 0; u < p; u++) {
      const double wa = w * a[u];
      double *Hu = H + u * p;
      for (size_t v = u; v < p; v++) Hu[v] += wa * a[v];
    }
  }
  for (size_t u = 0; u < p; u++) {
    double *Hu = H + u * p;
    Hu[u] = Hu[u] * inv + P->decay;
    for (size_t v = u + 1; v < p; v++) {
      Hu[v] *= inv;
      H[v * p + u] = Hu[v];
    }
  }
}

static hs_status fs_hess(const hs_objective *o, const double *x, double *H,
                         double *work) {
  const hs_finsum_params *P = o->params;
  (void)work;
  if (P->AtA != NULL) {
    const size_t p = P->p;
    for (size_t k = 0; k < p * p; k++) H[k] = P->AtA[k];
    for (size_t u = 0; u < p; u++) H[u * p + u] += P->decay;
    return HS_OK;
  }
  form_hess(o, o->type == &hs_least_squares_type ? NULL : x, H);
  return HS_OK;
}

/* }==================================================================== */

const hs_objective_type hs_least_squares_type = {
  .name = "least_squares",
  .value = fs_value,
  .grad = fs_grad,
  .hess = fs_hess,
  .sample_grad = fs_sample_grad,
  .batch_grad = fs_batch_grad,
};

const hs_objective_type hs_logistic_type = {
  .name = "logistic",
  .value = fs_value,
  .grad = fs_grad,
  .hess = fs_hess,
  .sample_grad = fs_sample_grad,
  .batch_grad = fs_batch_grad,
};

/* One block: the struct, then A, y and (least squares, when small enough) A'A / n.
** With n p <= HS_MAXSIZE and n <= HS_MAXSIZE the sizes below stay under 2^42
** doubles, so they cannot wrap before they are compared with the limit. */
static hs_objective *finsum_alloc(const hs_objective_type *T, size_t n, size_t p,
                                  const double *A, const double *y, double decay) {
  size_t np, pp = 0;
  finsum_block *b;
  if (n == 0 || p == 0 || n > HS_MAXSIZE) return NULL;
  if (!hs_mulsize(n, p, &np) || np > HS_MAXSIZE - n) return NULL;
  int gram = T == &hs_least_squares_type && hs_mulsize(p, p, &pp)
             && (p <= n || pp <= ((size_t)1 << 20));
  if (!gram) pp = 0;
  b = hs_malloc(sizeof *b + (np + n + pp) * sizeof(double));
  if (b == NULL) return NULL;
  b->p.n = n;
  b->p.p = p;
  b->p.decay = decay;
  b->p.A = b->data;
  b->p.y = b->data + np;
  b->p.AtA = NULL;
  for (size_t k = 0; k < np; k++) b->p.A[k] = A[k];
  for (size_t i = 0; i < n; i++) b->p.y[i] = y[i];
  b->o.type = T;
  b->o.dim = p;
  b->o.nsamples = n;
  b->o.worksize = 0;
  b->o.thread_safe = 1;
  b->o.params = &b->p;
  if (gram) {
    double *G = b->data + np + n;
    b->p.decay = 0.0;                /* the stored matrix is (1/n) A'A alone */
    form_hess(&b->o, NULL, G);
    b->p.decay = decay;
    b->p.AtA = G;
  }
  return &b->o;
}

hs_objective *hs_least_squares_alloc(size_t n, size_t p, const double *A,
                                     const double *y, double decay) {
  return finsum_alloc(&hs_least_squares_type, n, p, A, y, decay);
}

hs_objective *hs_logistic_alloc(size_t n, size_t p, const double *A, const double *y,
                                double decay) {
  return finsum_alloc(&hs_logistic_type, n, p, A, y, decay);
}
