/*
** hs_objective.h: objectives f: R^d -> R with gradient and Hessian, as a type table
** (GSL style) plus the built-in objectives implemented in C: quadratic, wells,
** saddle, Rosenbrock (this file's .c) and a two-layer network loss (hs_nn.h).
*/
#ifndef HS_OBJECTIVE_H
#define HS_OBJECTIVE_H

#include "hasme.h"

typedef struct hs_objective hs_objective;

/* What an objective evaluates. Every function reads x (dim doubles), writes its
** output and returns a status; `work` is scratch of o->worksize doubles owned by the
** caller (one per thread), so evaluations on different threads never share memory.
** Outputs: g has dim doubles, H dim*dim row-major (symmetric, fully written).
** gradhess (optional, may be NULL) computes both at once when that shares work.
** sample_grad (finite sums only, else NULL): the gradient of f_i, 0 <= i < nsamples.
** batch_grad (optional): the mean of sample_grad over idx[0..B-1]. */
typedef struct hs_objective_type {
  const char *name;
  hs_status (*value)(const hs_objective *o, const double *x, double *f, double *work);
  hs_status (*grad)(const hs_objective *o, const double *x, double *g, double *work);
  hs_status (*hess)(const hs_objective *o, const double *x, double *H, double *work);
  hs_status (*gradhess)(const hs_objective *o, const double *x, double *g, double *H,
                        double *work);
  hs_status (*sample_grad)(const hs_objective *o, const double *x, size_t i, double *g,
                           double *work);
  hs_status (*batch_grad)(const hs_objective *o, const double *x, const size_t *idx,
                          size_t B, double *g, double *work);
  void (*free)(hs_objective *o);   /* releases params; NULL when there is nothing to free */
  /* For types that call user code: the message of the last HS_ECALLBACK (NULL when
  ** the type never fails that way). Built-in types leave it NULL. */
  const char *(*errmsg)(const hs_objective *o);
  /* Optional (finite sums): the gradient into g, the Hessian into H unless H is NULL,
  ** and the gradient of every f_i into row i of Gs (nsamples x dim), in one pass over
  ** the samples; each bit for bit what grad, gradhess and sample_grad give. */
  hs_status (*grad_samples)(const hs_objective *o, const double *x, double *g, double *H,
                            double *Gs, double *work);
} hs_objective_type;

struct hs_objective {
  const hs_objective_type *type;
  size_t dim;
  size_t nsamples;     /* N > 0 when f = (1/N) sum_i f_i (finite sum); 0 otherwise */
  size_t worksize;     /* doubles of scratch an evaluation needs */
  int thread_safe;     /* 0: evaluate only on the thread that created it (Lua callbacks) */
  void *params;        /* the type's parameters */
};

/* Evaluate through the type table. gradhess falls back to grad then hess. batch_grad
** falls back to averaging sample_grad (its scratch then needs dim extra doubles:
** callers size work with hs_objective_worksize). */
hs_status hs_objective_value(const hs_objective *o, const double *x, double *f,
                             double *work);
hs_status hs_objective_grad(const hs_objective *o, const double *x, double *g,
                            double *work);
hs_status hs_objective_hess(const hs_objective *o, const double *x, double *H,
                            double *work);
hs_status hs_objective_gradhess(const hs_objective *o, const double *x, double *g,
                                double *H, double *work);
hs_status hs_objective_batch_grad(const hs_objective *o, const double *x,
                                  const size_t *idx, size_t B, double *g, double *work);

/* The gradient of f_i (g: dim doubles). HS_EINVAL when o is not a finite sum (no
** sample_grad) or i >= o->nsamples. Other calls above return HS_EINVAL when the type
** lacks the function and no fallback applies (grad or hess NULL); batch_grad also
** returns HS_EINVAL for B = 0 or an index >= o->nsamples. */
hs_status hs_objective_sample_grad(const hs_objective *o, const double *x, size_t i,
                                   double *g, double *work);

/* Scratch doubles every hs_objective_* call above needs (o->worksize plus room for
** the fallbacks). */
size_t hs_objective_worksize(const hs_objective *o);

/* Release an objective created by any *_alloc below (NULL is fine). */
void hs_objective_free(hs_objective *o);

/* {====================================================================
** Built-in objectives. Each *_alloc copies its inputs and returns NULL when out of
** memory or when a size overflows; inputs are validated by the caller.
** ===================================================================== */

/* Each built-in objective is one malloc'd block holding the struct, its params and
** their arrays (params points inside it), so its type's free is NULL and
** hs_objective_free releases everything. All are thread_safe with worksize 0. */

/* f(x) = 1/2 x'Hx + b'x (b NULL: zero). H symmetric d x d. */
hs_objective *hs_quadratic_alloc(size_t d, const double *H, const double *b);
extern const hs_objective_type hs_quadratic_type;
typedef struct hs_quadratic_params {
  double *H;   /* d x d */
  double *b;   /* d */
} hs_quadratic_params;

/* f(x) = sum_i (x_i^2 - 1)^2 / 4 + 1/2 x'Qx + tilt'x (Q, tilt NULL: zero).
** One double well per coordinate (minima at +-1, barrier 1/4 at 0 when Q = 0,
** tilt = 0), coupled through Q (symmetric d x d). */
hs_objective *hs_wells_alloc(size_t d, const double *Q, const double *tilt);
extern const hs_objective_type hs_wells_type;
typedef struct hs_wells_params {
  double *Q;      /* d x d, or NULL when the wells are uncoupled (no d*d work then) */
  double *tilt;   /* d (zeros when none was given) */
} hs_wells_params;

/* f(x) = sum_i ( lambda_i x_i^2 / 2 + c x_i^4 / 4 ): a critical point at 0 with
** Hessian diag(lambda) (a saddle when some lambda_i < 0), and, for c > 0, minima at
** x_i = +-sqrt(-lambda_i / c) along the negative directions. c >= 0. */
hs_objective *hs_saddle_alloc(size_t d, const double *lambda, double c);
extern const hs_objective_type hs_saddle_type;
typedef struct hs_saddle_params {
  double *lambda;   /* d: the Hessian at 0 is diag(lambda) */
  double c;         /* quartic coefficient */
} hs_saddle_params;

/* f(x) = sum_{i<d-1} [ b (x_{i+1} - x_i^2)^2 + (a - x_i)^2 ]: minimum 0 at (a, a^2)
** for d = 2 and at (1, ..., 1) for a = 1; for d > 2 and other a, f = 0 is reachable
** only at the origin when a = 0. The binding requires d >= 2. */
hs_objective *hs_rosenbrock_alloc(size_t d, double a, double b);
extern const hs_objective_type hs_rosenbrock_type;
typedef struct hs_rosenbrock_params {
  double a, b;
} hs_rosenbrock_params;

/* }==================================================================== */

#endif
