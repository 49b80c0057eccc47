/*
** hs_finsum.h: finite-sum objectives of a data matrix A (n x p) and targets y (n):
** least squares and logistic regression, with exact gradients, Hessians and
** per-sample gradients, so that minibatch noise is the real thing (as for hs_nn).
*/
#ifndef HS_FINSUM_H
#define HS_FINSUM_H

#include "hs_objective.h"

/* The parameters of both types: the data, the L2 decay, and A'A / n when it was
** precomputed (the least-squares Hessian; NULL otherwise). */
typedef struct hs_finsum_params {
  size_t n, p;      /* samples, features (the dimension d = p) */
  double decay;     /* L2 coefficient: f_i carries (decay/2) |x|^2 */
  double *A;        /* n x p row-major: sample i is A + i p */
  double *y;        /* n targets */
  double *AtA;      /* p x p: (1/n) A'A, or NULL (then formed on each Hessian call) */
} hs_finsum_params;

/* Least squares: f(x) = (1/n) sum_i f_i(x),
**   f_i(x) = 1/2 (a_i'x - y_i)^2 + (decay/2) |x|^2,
**   grad f_i = (a_i'x - y_i) a_i + decay x,   Hess f = (1/n) A'A + decay I.
** The Hessian does not depend on x: it is formed once at allocation when p p
** doubles cost no more than the data (p <= n) or 2^20 doubles, else on each call. */
extern const hs_objective_type hs_least_squares_type;
hs_objective *hs_least_squares_alloc(size_t n, size_t p, const double *A,
                                     const double *y, double decay);

/* Logistic regression with labels y_i in {-1, 1}: with m_i = y_i a_i'x,
**   f_i(x) = log(1 + exp(-m_i)) + (decay/2) |x|^2,
**   grad f_i = -y_i s(-m_i) a_i + decay x,          s(t) = 1 / (1 + exp(-t)),
**   Hess f_i = s(m_i) s(-m_i) a_i a_i' + decay I.
** The value is computed without overflow for any m_i (log1p of exp(-|m_i|)). */
extern const hs_objective_type hs_logistic_type;
hs_objective *hs_logistic_alloc(size_t n, size_t p, const double *A, const double *y,
                                double decay);

/* Both allocators copy A and y into one block with the objective (released by
** hs_objective_free) and return NULL when n = 0, p = 0, a size overflows or memory
** runs out. The values are validated by the caller (finite; labels +-1 for the
** logistic loss; decay >= 0). nsamples = n, worksize 0, thread_safe. */

#endif
