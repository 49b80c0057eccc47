/*
** hs_noise.h: models of the gradient noise xi_k of SGD (docs/methods.md section 1) and the
** covariance Sigma(x) the SDE models use: isotropic, constant, state dependent
** (a callback), and finite-sum minibatch noise computed from the objective's data,
** either drawn as real minibatches or as its Gaussian surrogate N(0, Sigma(x)).
*/
#ifndef HS_NOISE_H
#define HS_NOISE_H

#include "hs_objective.h"

typedef enum hs_noise_kind {
  HS_NOISE_NONE,    /* exact gradients: gradient descent / gradient flow */
  HS_NOISE_ISO,     /* Sigma = sigma^2 I */
  HS_NOISE_CONST,   /* Sigma constant */
  HS_NOISE_STATE,   /* Sigma(x) from a callback */
  HS_NOISE_BATCH    /* minibatch of a finite-sum objective */
} hs_noise_kind;

/* A state-dependent covariance: write Sigma(x) (d x d, symmetric PSD) into C. */
typedef hs_status (*hs_cov_fn)(void *ctx, const double *x, double *C);

typedef struct hs_noise {
  hs_noise_kind kind;
  size_t dim;          /* CONST and STATE: the dimension; 0 for the others */
  double sigma;        /* ISO */
  double *cov;         /* CONST: Sigma, d x d */
  double *factor;      /* CONST: Sigma^(1/2), symmetric (hs_factor) */
  hs_cov_fn cov_fn;    /* STATE */
  void *ctx;           /* STATE: the callback's context */
  int thread_safe;     /* STATE: 0 when cov_fn must run on the creating thread */
  const char *(*errmsg)(void *ctx);  /* STATE: message of the last HS_ECALLBACK */
  size_t batch;        /* BATCH: B */
  int replace;         /* BATCH: drawn with replacement (1) or without (0) */
  int gaussian;        /* BATCH: SGD's noise is N(0, Sigma(x)), the Gaussian surrogate
                          of the minibatch (no batch is drawn), so it can be coupled */
} hs_noise;

/* Constructors: NULL when out of memory. hs_noise_const_alloc factors cov and
** returns NULL with *st = HS_ENOTPSD (and *minw = its most negative eigenvalue) when
** cov is not PSD within tol (relative to its largest eigenvalue). */
hs_noise *hs_noise_none_alloc(void);
hs_noise *hs_noise_iso_alloc(double sigma);
hs_noise *hs_noise_const_alloc(size_t d, const double *cov, double tol, hs_status *st,
                               double *minw);
hs_noise *hs_noise_state_alloc(size_t d, hs_cov_fn fn, void *ctx, int thread_safe,
                               const char *(*errmsg)(void *ctx));
hs_noise *hs_noise_batch_alloc(size_t B, int replace, int gaussian);
void hs_noise_free(hs_noise *n);

/* Scratch doubles hs_noise_cov needs for an objective of dimension d. */
size_t hs_noise_worksize(const hs_noise *n, const hs_objective *o);

/* Sigma(x), the covariance of one stochastic gradient at x, d x d into C.
** BATCH: the per-sample gradient covariance (1/N) sum_i (g_i - g)(g_i - g)' divided
** by B, times (N - B)/(N - 1) when drawn without replacement (the finite-population
** correction). NONE: zeros. ISO: sigma^2 I. */
hs_status hs_noise_cov(const hs_noise *n, const hs_objective *o, const double *x,
                       double *C, double *work);

/* Whether hs_noise_gradcov can serve: minibatch noise on an objective that computes
** its samples' gradients in one pass with the gradient (grad_samples), few enough
** of them for hs_noise_worksize's scratch to hold. */
int hs_noise_shares(const hs_noise *n, const hs_objective *o);

/* The gradient into g, the Hessian into H unless H is NULL, and Sigma(x) into C,
** from one pass over the samples (when hs_noise_shares): the numbers of
** hs_objective_grad (or hs_objective_gradhess) then hs_noise_cov, bit for bit. On
** failure (an objective's, or HS_EINVAL for a batch larger than the dataset) the
** outputs are unspecified. work: hs_noise_worksize doubles. */
hs_status hs_noise_gradcov(const hs_noise *n, const hs_objective *o, const double *x,
                           double *g, double *H, double *C, double *work);

#endif
