/*
** hs_objective.c: the objective dispatchers (with their fallbacks) and the built-in
** objectives quadratic, wells, saddle and Rosenbrock, each with an analytic gradient
** and Hessian. The neural-network loss lives in hs_nn.c.
**
** Conventions of every evaluator below: x has dim doubles and is only read; g (dim)
** and H (dim*dim, row-major, both triangles) are only written, so their previous
** contents never matter; outputs must not alias x or each other. The built-ins use
** no scratch (worksize 0, work may be NULL), allocate nothing and keep no state, so
** one objective may be evaluated from any number of threads at once.
*/
#include "hs_objective.h"

#include <stdlib.h>

#include "hs_util.h"

/* {====================================================================
** Dispatch
**
** The dispatchers are the only entry points the simulator uses; they add the
** fallbacks documented in hs_objective.h and turn a missing function into HS_EINVAL
** (types without analytic derivatives, such as Lua objectives, provide grad and hess
** through finite differences themselves, hs_fd.h). They do not validate x or the
** sizes of the caller's buffers: those were fixed when the objective was built.
** ===================================================================== */

hs_status hs_objective_value(const hs_objective *o, const double *x, double *f,
                             double *work) {
  if (o->type->value == NULL) return HS_EINVAL;
  return o->type->value(o, x, f, work);
}

hs_status hs_objective_grad(const hs_objective *o, const double *x, double *g,
                            double *work) {
  if (o->type->grad == NULL) return HS_EINVAL;
  return o->type->grad(o, x, g, work);
}

hs_status hs_objective_hess(const hs_objective *o, const double *x, double *H,
                            double *work) {
  if (o->type->hess == NULL) return HS_EINVAL;
  return o->type->hess(o, x, H, work);
}

/* Without a fused gradhess the two evaluations run one after the other, sharing the
** caller's scratch (neither needs it to survive the call). */
hs_status hs_objective_gradhess(const hs_objective *o, const double *x, double *g,
                                double *H, double *work) {
  const hs_objective_type *T = o->type;
  hs_status st;
  if (T->gradhess != NULL) return T->gradhess(o, x, g, H, work);
  if (T->grad == NULL || T->hess == NULL) return HS_EINVAL;
  st = T->grad(o, x, g, work);
  if (st != HS_OK) return st;
  return T->hess(o, x, H, work);
}

hs_status hs_objective_sample_grad(const hs_objective *o, const double *x, size_t i,
                                   double *g, double *work) {
  if (o->type->sample_grad == NULL || i >= o->nsamples) return HS_EINVAL;
  return o->type->sample_grad(o, x, i, g, work);
}

/* The minibatch gradient (1/B) sum_b grad f_{idx[b]}. The fallback accumulates the
** per-sample gradients in g, each computed into the dim doubles that follow the
** type's own scratch (hs_objective_worksize counts them). Indices are checked before
** anything is evaluated, so a bad batch leaves g untouched. */
hs_status hs_objective_batch_grad(const hs_objective *o, const double *x,
                                  const size_t *idx, size_t B, double *g, double *work) {
  const hs_objective_type *T = o->type;
  const size_t d = o->dim;
  double *gi, scale;
  if (B == 0 || o->nsamples == 0) return HS_EINVAL;
  for (size_t b = 0; b < B; b++)
    if (idx[b] >= o->nsamples) return HS_EINVAL;
  if (T->batch_grad != NULL) return T->batch_grad(o, x, idx, B, g, work);
  if (T->sample_grad == NULL) return HS_EINVAL;
  gi = work + o->worksize;
  for (size_t k = 0; k < d; k++) g[k] = 0.0;
  for (size_t b = 0; b < B; b++) {
    hs_status st = T->sample_grad(o, x, idx[b], gi, work);
    if (st != HS_OK) return st;
    for (size_t k = 0; k < d; k++) g[k] += gi[k];
  }
  scale = 1.0 / (double)B;
  for (size_t k = 0; k < d; k++) g[k] *= scale;
  return HS_OK;
}

/* Only the batch-gradient fallback needs room beyond the type's own scratch. */
size_t hs_objective_worksize(const hs_objective *o) {
  size_t extra = (o->type->batch_grad == NULL && o->type->sample_grad != NULL) ? o->dim : 0;
  return o->worksize + extra;
}

/* An objective is one malloc'd block that starts with its hs_objective struct; the
** type's free releases whatever else the params hold (Lua references, buffers). */
void hs_objective_free(hs_objective *o) {
  if (o == NULL) return;
  if (o->type->free != NULL) o->type->free(o);
  free(o);
}

/* Fill in the fields every built-in objective shares: not a finite sum, no scratch,
** safe to evaluate from several threads. */
static void objective_init(hs_objective *o, const hs_objective_type *T, size_t d,
                           void *params) {
  o->type = T;
  o->dim = d;
  o->nsamples = 0;
  o->worksize = 0;
  o->thread_safe = 1;
  o->params = params;
}

/* dst = src, or zeros when the optional input src is NULL. Storing explicit zeros
** (b, tilt) keeps the evaluation loops free of a per-element test. */
static void copy_or_zero(size_t n, const double *src, double *dst) {
  for (size_t i = 0; i < n; i++) dst[i] = (src != NULL) ? src[i] : 0.0;
}

/* }==================================================================== */

/* {====================================================================
** Quadratic: f = 1/2 x'Hx + b'x,  g = Hx + b,  Hessian H (constant).
** The value is evaluated as sum_i x_i ((Hx)_i / 2 + b_i): one pass over H.
** ===================================================================== */

/* The objective, its params and their arrays in one allocation: the struct comes
** first, so hs_objective_free's free(o) releases the whole block. */
typedef struct quadratic_block {
  hs_objective o;
  hs_quadratic_params p;
  double data[];            /* H (d*d) then b (d) */
} quadratic_block;

static hs_status quadratic_value(const hs_objective *o, const double *x, double *f,
                                 double *work) {
  const hs_quadratic_params *P = o->params;
  const size_t d = o->dim;
  double s = 0.0;
  (void)work;
  for (size_t i = 0; i < d; i++) {
    const double *Hi = P->H + i * d;
    double hx = 0.0;
    for (size_t j = 0; j < d; j++) hx += Hi[j] * x[j];
    s += x[i] * (0.5 * hx + P->b[i]);
  }
  *f = s;
  return HS_OK;
}

static hs_status quadratic_grad(const hs_objective *o, const double *x, double *g,
                                double *work) {
  const hs_quadratic_params *P = o->params;
  const size_t d = o->dim;
  (void)work;
  for (size_t i = 0; i < d; i++) {
    const double *Hi = P->H + i * d;
    double hx = P->b[i];
    for (size_t j = 0; j < d; j++) hx += Hi[j] * x[j];
    g[i] = hx;
  }
  return HS_OK;
}

/* Constant: a copy of the stored H (symmetric by the constructor's contract). */
static hs_status quadratic_hess(const hs_objective *o, const double *x, double *H,
                                double *work) {
  const hs_quadratic_params *P = o->params;
  const size_t dd = o->dim * o->dim;
  (void)x; (void)work;
  for (size_t k = 0; k < dd; k++) H[k] = P->H[k];
  return HS_OK;
}

/* One pass over H serves both outputs. */
static hs_status quadratic_gradhess(const hs_objective *o, const double *x, double *g,
                                    double *H, double *work) {
  const hs_quadratic_params *P = o->params;
  const size_t d = o->dim;
  (void)work;
  for (size_t i = 0; i < d; i++) {
    const double *Pi = P->H + i * d;
    double *Hi = H + i * d;
    double hx = P->b[i];
    for (size_t j = 0; j < d; j++) {
      hx += Pi[j] * x[j];
      Hi[j] = Pi[j];
    }
    g[i] = hx;
  }
  return HS_OK;
}

const hs_objective_type hs_quadratic_type = {
  .name = "quadratic",
  .value = quadratic_value,
  .grad = quadratic_grad,
  .hess = quadratic_hess,
  .gradhess = quadratic_gradhess,
};

/* d*d + d doubles after the header; both the product and the sum are checked
** against HS_MAXSIZE before malloc sees them. */
hs_objective *hs_quadratic_alloc(size_t d, const double *H, const double *b) {
  size_t dd, n;
  quadratic_block *q;
  if (!hs_mulsize(d, d, &dd) || dd > HS_MAXSIZE - d) return NULL;
  n = dd + d;
  q = hs_malloc(sizeof *q + n * sizeof(double));
  if (q == NULL) return NULL;
  q->p.H = q->data;
  q->p.b = q->data + dd;
  copy_or_zero(dd, H, q->p.H);
  copy_or_zero(d, b, q->p.b);
  objective_init(&q->o, &hs_quadratic_type, d, &q->p);
  return &q->o;
}

/* }==================================================================== */

/* {====================================================================
** Wells: f = sum_i (x_i^2 - 1)^2 / 4 + 1/2 x'Qx + t'x
**        g_i = x_i^3 - x_i + (Qx)_i + t_i
**        H   = diag(3 x_i^2 - 1) + Q
** With Q = 0 everything is separable and costs O(d) (O(d^2) only to write H); the
** choice between the two code paths is made once per call, outside the loops.
** ===================================================================== */

typedef struct wells_block {
  hs_objective o;
  hs_wells_params p;
  double data[];            /* tilt (d) then Q (d*d, when given) */
} wells_block;

/* With u_i = x_i^2 - 1 the well term is u_i^2 / 4; the coupling is folded into the
** same pass as x_i ((Qx)_i / 2 + t_i), reading Q once. */
static hs_status wells_value(const hs_objective *o, const double *x, double *f,
                             double *work) {
  const hs_wells_params *P = o->params;
  const size_t d = o->dim;
  double s = 0.0;
  (void)work;
  if (P->Q == NULL) {
    for (size_t i = 0; i < d; i++) {
      double u = x[i] * x[i] - 1.0;
      s += 0.25 * u * u + P->tilt[i] * x[i];
    }
  } else {
    for (size_t i = 0; i < d; i++) {
      const double *Qi = P->Q + i * d;
      double u = x[i] * x[i] - 1.0, qx = 0.0;
      for (size_t j = 0; j < d; j++) qx += Qi[j] * x[j];
      s += 0.25 * u * u + x[i] * (0.5 * qx + P->tilt[i]);
    }
  }
  *f = s;
  return HS_OK;
}

static hs_status wells_grad(const hs_objective *o, const double *x, double *g,
                            double *work) {
  const hs_wells_params *P = o->params;
  const size_t d = o->dim;
  (void)work;
  if (P->Q == NULL) {
    for (size_t i = 0; i < d; i++)
      g[i] = x[i] * (x[i] * x[i] - 1.0) + P->tilt[i];
  } else {
    for (size_t i = 0; i < d; i++) {
      const double *Qi = P->Q + i * d;
      double s = x[i] * (x[i] * x[i] - 1.0) + P->tilt[i];
      for (size_t j = 0; j < d; j++) s += Qi[j] * x[j];
      g[i] = s;
    }
  }
  return HS_OK;
}

/* Q (or zeros) everywhere, then the separable curvature 3 x_i^2 - 1 on the diagonal. */
static hs_status wells_hess(const hs_objective *o, const double *x, double *H,
                            double *work) {
  const hs_wells_params *P = o->params;
  const size_t d = o->dim, dd = d * d;
  (void)work;
  if (P->Q == NULL)
    for (size_t k = 0; k < dd; k++) H[k] = 0.0;
  else
    for (size_t k = 0; k < dd; k++) H[k] = P->Q[k];
  for (size_t i = 0; i < d; i++) H[i * d + i] += 3.0 * x[i] * x[i] - 1.0;
  return HS_OK;
}

/* Copying row i of Q into H and forming (Qx)_i share the same loads. */
static hs_status wells_gradhess(const hs_objective *o, const double *x, double *g,
                                double *H, double *work) {
  const hs_wells_params *P = o->params;
  const size_t d = o->dim;
  (void)work;
  if (P->Q == NULL) {
    const size_t dd = d * d;
    for (size_t k = 0; k < dd; k++) H[k] = 0.0;
    for (size_t i = 0; i < d; i++) {
      double x2 = x[i] * x[i];
      g[i] = x[i] * (x2 - 1.0) + P->tilt[i];
      H[i * d + i] = 3.0 * x2 - 1.0;
    }
  } else {
    for (size_t i = 0; i < d; i++) {
      const double *Qi = P->Q + i * d;
      double *Hi = H + i * d;
      double x2 = x[i] * x[i], s = x[i] * (x2 - 1.0) + P->tilt[i];
      for (size_t j = 0; j < d; j++) {
        s += Qi[j] * x[j];
        Hi[j] = Qi[j];
      }
      g[i] = s;
      Hi[i] += 3.0 * x2 - 1.0;
    }
  }
  return HS_OK;
}

const hs_objective_type hs_wells_type = {
  .name = "wells",
  .value = wells_value,
  .grad = wells_grad,
  .hess = wells_hess,
  .gradhess = wells_gradhess,
};

/* Without Q only d doubles are stored and d*d is never formed, so an uncoupled
** problem may be far larger than one whose Hessian fits in memory. */
hs_objective *hs_wells_alloc(size_t d, const double *Q, const double *tilt) {
  size_t dd = 0, n;
  wells_block *w;
  if (d > HS_MAXSIZE) return NULL;
  if (Q != NULL && (!hs_mulsize(d, d, &dd) || dd > HS_MAXSIZE - d)) return NULL;
  n = d + dd;
  w = hs_malloc(sizeof *w + n * sizeof(double));
  if (w == NULL) return NULL;
  w->p.tilt = w->data;
  w->p.Q = (Q != NULL) ? w->data + d : NULL;
  copy_or_zero(d, tilt, w->p.tilt);
  if (Q != NULL) copy_or_zero(dd, Q, w->p.Q);
  objective_init(&w->o, &hs_wells_type, d, &w->p);
  return &w->o;
}

/* }==================================================================== */

/* {====================================================================
** Saddle: f = sum_i ( lambda_i x_i^2 / 2 + c x_i^4 / 4 )
**         g_i = lambda_i x_i + c x_i^3
**         H   = diag(lambda_i + 3 c x_i^2)
** ===================================================================== */

typedef struct saddle_block {
  hs_objective o;
  hs_saddle_params p;
  double data[];            /* lambda (d) */
} saddle_block;

/* Each term as x_i^2 (lambda_i / 2 + (c/4) x_i^2): one square per coordinate. */
static hs_status saddle_value(const hs_objective *o, const double *x, double *f,
                              double *work) {
  const hs_saddle_params *P = o->params;
  const size_t d = o->dim;
  const double c4 = 0.25 * P->c;
  double s = 0.0;
  (void)work;
  for (size_t i = 0; i < d; i++) {
    double x2 = x[i] * x[i];
    s += x2 * (0.5 * P->lambda[i] + c4 * x2);
  }
  *f = s;
  return HS_OK;
}

static hs_status saddle_grad(const hs_objective *o, const double *x, double *g,
                             double *work) {
  const hs_saddle_params *P = o->params;
  const size_t d = o->dim;
  const double c = P->c;
  (void)work;
  for (size_t i = 0; i < d; i++) g[i] = x[i] * (P->lambda[i] + c * x[i] * x[i]);
  return HS_OK;
}

static hs_status saddle_hess(const hs_objective *o, const double *x, double *H,
                             double *work) {
  const hs_saddle_params *P = o->params;
  const size_t d = o->dim, dd = d * d;
  const double c3 = 3.0 * P->c;
  (void)work;
  for (size_t k = 0; k < dd; k++) H[k] = 0.0;
  for (size_t i = 0; i < d; i++) H[i * d + i] = P->lambda[i] + c3 * x[i] * x[i];
  return HS_OK;
}

static hs_status saddle_gradhess(const hs_objective *o, const double *x, double *g,
                                 double *H, double *work) {
  const hs_saddle_params *P = o->params;
  const size_t d = o->dim, dd = d * d;
  const double c = P->c;
  (void)work;
  for (size_t k = 0; k < dd; k++) H[k] = 0.0;
  for (size_t i = 0; i < d; i++) {
    double cx2 = c * x[i] * x[i];
    g[i] = x[i] * (P->lambda[i] + cx2);
    H[i * d + i] = P->lambda[i] + 3.0 * cx2;
  }
  return HS_OK;
}

const hs_objective_type hs_saddle_type = {
  .name = "saddle",
  .value = saddle_value,
  .grad = saddle_grad,
  .hess = saddle_hess,
  .gradhess = saddle_gradhess,
};

/* Stores lambda (d doubles) and c; c >= 0 is the caller's to check. */
hs_objective *hs_saddle_alloc(size_t d, const double *lambda, double c) {
  saddle_block *s;
  if (d > HS_MAXSIZE) return NULL;
  s = hs_malloc(sizeof *s + d * sizeof(double));
  if (s == NULL) return NULL;
  s->p.lambda = s->data;
  s->p.c = c;
  copy_or_zero(d, lambda, s->p.lambda);
  objective_init(&s->o, &hs_saddle_type, d, &s->p);
  return &s->o;
}

/* }==================================================================== */

/* {====================================================================
** Rosenbrock (the chained form): with r_i = x_{i+1} - x_i^2, i = 0..d-2,
**   f = sum_i [ b r_i^2 + (a - x_i)^2 ]
**   g_i = -4 b x_i r_i - 2 (a - x_i)   [term i, when i <= d-2]
**         + 2 b r_{i-1}                [term i-1, when i >= 1]
**   H is tridiagonal; term i adds
**     H_{i,i}     += 12 b x_i^2 - 4 b x_{i+1} + 2
**     H_{i,i+1}    = H_{i+1,i} = -4 b x_i
**     H_{i+1,i+1} += 2 b
** The loops run over i + 1 < d, so d = 0 or 1 give f = 0 instead of wrapping.
** ===================================================================== */

typedef struct rosenbrock_block {
  hs_objective o;
  hs_rosenbrock_params p;
} rosenbrock_block;

static hs_status rosenbrock_value(const hs_objective *o, const double *x, double *f,
                                  double *work) {
  const hs_rosenbrock_params *P = o->params;
  const size_t d = o->dim;
  const double a = P->a, b = P->b;
  double s = 0.0;
  (void)work;
  for (size_t i = 0; i + 1 < d; i++) {
    double r = x[i + 1] - x[i] * x[i], m = a - x[i];
    s += b * r * r + m * m;
  }
  *f = s;
  return HS_OK;
}

/* One sweep: term i adds its x_i part to g_i (already holding 2 b r_{i-1} from the
** previous term) and starts g_{i+1} with 2 b r_i, so no entry is read before it is
** written and there is no branch for the ends. */
static hs_status rosenbrock_grad(const hs_objective *o, const double *x, double *g,
                                 double *work) {
  const hs_rosenbrock_params *P = o->params;
  const size_t d = o->dim;
  const double a = P->a, b = P->b;
  (void)work;
  if (d == 0) return HS_OK;
  g[0] = 0.0;
  for (size_t i = 0; i + 1 < d; i++) {
    double r = x[i + 1] - x[i] * x[i];
    g[i] += -4.0 * b * x[i] * r - 2.0 * (a - x[i]);
    g[i + 1] = 2.0 * b * r;           /* completed by the next term (or the last) */
  }
  return HS_OK;
}

/* Writes the tridiagonal band after zeroing H; shared by hess and gradhess. */
static void rosenbrock_band(const hs_rosenbrock_params *P, size_t d, const double *x,
                            double *H) {
  const double b = P->b;
  const size_t n = d * d;
  for (size_t k = 0; k < n; k++) H[k] = 0.0;
  for (size_t i = 0; i + 1 < d; i++) {
    double *Hi = H + i * d;
    Hi[i] += 12.0 * b * x[i] * x[i] - 4.0 * b * x[i + 1] + 2.0;
    Hi[i + 1] = -4.0 * b * x[i];
    Hi[d + i] = -4.0 * b * x[i];      /* H_{i+1,i} */
    Hi[d + i + 1] = 2.0 * b;          /* H_{i+1,i+1} before term i+1 adds to it */
  }
}

static hs_status rosenbrock_hess(const hs_objective *o, const double *x, double *H,
                                 double *work) {
  (void)work;
  rosenbrock_band(o->params, o->dim, x, H);
  return HS_OK;
}

static hs_status rosenbrock_gradhess(const hs_objective *o, const double *x, double *g,
                                     double *H, double *work) {
  rosenbrock_grad(o, x, g, work);
  rosenbrock_band(o->params, o->dim, x, H);
  return HS_OK;
}

const hs_objective_type hs_rosenbrock_type = {
  .name = "rosenbrock",
  .value = rosenbrock_value,
  .grad = rosenbrock_grad,
  .hess = rosenbrock_hess,
  .gradhess = rosenbrock_gradhess,
};

/* Only the two coefficients are stored: no size depends on d. */
hs_objective *hs_rosenbrock_alloc(size_t d, double a, double b) {
  rosenbrock_block *r = hs_malloc(sizeof *r);
  if (r == NULL) return NULL;
  r->p.a = a;
  r->p.b = b;
  objective_init(&r->o, &hs_rosenbrock_type, d, &r->p);
  return &r->o;
}

/* }==================================================================== */
