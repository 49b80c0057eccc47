/*
** hs_nn.h: a two-layer tanh network with scalar output and squared loss over a
** dataset, as a finite-sum objective (so minibatch SGD noise is the real thing).
*/
#ifndef HS_NN_H
#define HS_NN_H

#include "hs_objective.h"

/* f(theta) = (1/N) sum_i f_i(theta), with
**   f_i = 1/2 (w2 . tanh(W1 x_i + b1) + b2 - y_i)^2 + (decay/2) |theta|^2
** theta = (W1 (h x p, row-major), b1 (h), w2 (h), b2): d = h p + 2 h + 1.
** The type provides value, grad, hess (exact, not Gauss-Newton), gradhess,
** sample_grad (grad f_i, decay included) and batch_grad; nsamples = n. */
extern const hs_objective_type hs_nn_type;

typedef struct hs_nn_params {
  size_t n, p, h;   /* samples, inputs, hidden units */
  double decay;     /* weight decay (L2) coefficient */
  double *X;        /* n x p row-major: sample i is X + i p */
  double *y;        /* n targets */
} hs_nn_params;

/* The parameter count h p + 2 h + 1, or 0 when it would exceed HS_MAXSIZE. */
size_t hs_nn_dim(size_t p, size_t h);

/* A network loss over n samples X (n x p row-major) with targets y (n), both copied.
** NULL when n = 0, when a size overflows (n p, h p, the dimension) or out of memory.
** worksize is 4 dim doubles; thread_safe. Release with hs_objective_free. */
hs_objective *hs_nn_alloc(size_t n, size_t p, size_t h, const double *X,
                          const double *y, double decay);

/* The network's output w2 . tanh(W1 x + b1) + b2 for one input x (p doubles) into
** *out. work is accepted for symmetry with the evaluators and is not used (it may be
** NULL). HS_EINVAL when o is not an hs_nn_type objective. */
hs_status hs_nn_predict(const hs_objective *o, const double *theta, const double *x,
                        double *out, double *work);

#endif
