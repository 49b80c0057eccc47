/*
** hs_fd.h: finite-difference derivatives of an objective, for objectives that give
** no analytic gradient or Hessian and for checking the ones that do.
** Steps are relative: h_i = hrel * max(|x_i|, 1).
*/
#ifndef HS_FD_H
#define HS_FD_H

#include "hs_objective.h"

/* Default relative steps. Central differences have truncation error O(h^2) and
** rounding error O(eps/h); the sum is smallest at h ~ eps^(1/3) for first
** derivatives of values (or of gradients) and h ~ eps^(1/4) for second derivatives
** of values, giving about 10 and 8 correct digits respectively. */
#define HS_FD_H1 6.0554544523933395e-06   /* cbrt(DBL_EPSILON) */
#define HS_FD_H2 1.2207031250000000e-04   /* DBL_EPSILON^(1/4) */

/* Scratch doubles the functions below need (beyond o's own work). */
size_t hs_fd_worksize(const hs_objective *o);

/* g_i = (f(x + h e_i) - f(x - h e_i)) / (2 h), from values only. */
hs_status hs_fd_grad(const hs_objective *o, const double *x, double hrel, double *g,
                     double *work);

/* H_ij = (g_j(x + h e_i) - g_j(x - h e_i)) / (2 h), symmetrised, where g is the
** objective's gradient (analytic when it has one). */
hs_status hs_fd_hess(const hs_objective *o, const double *x, double hrel, double *H,
                     double *work);

/* The Hessian from values only:
**   H_ii = (f(x + 2h e_i) - 2 f(x) + f(x - 2h e_i)) / (4 h^2)
**   H_ij = (f(x+h e_i+h e_j) - f(x+h e_i-h e_j) - f(x-h e_i+h e_j) + f(x-h e_i-h e_j)) / (4 h h')
** hrel defaults to HS_FD_H2. */
hs_status hs_fd_hess_values(const hs_objective *o, const double *x, double hrel,
                            double *H, double *work);

/* Hessian-vector product by a central difference of gradients along v:
** (g(x + t v) - g(x - t v)) / (2 t), t = hrel * max(|x|, 1) / |v|. */
hs_status hs_fd_hvp(const hs_objective *o, const double *x, const double *v,
                    double hrel, double *out, double *work);

#endif
