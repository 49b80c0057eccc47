/*
** hs_fd.c: central finite differences through an objective's type table.
*/
#include "hs_fd.h"

#include <math.h>
#include <string.h>

size_t hs_fd_worksize(const hs_objective *o) {
  return 3 * o->dim + hs_objective_worksize(o);
}

/* The step for coordinate value xi: relative to |xi|, never below hrel itself, and
** made exactly representable so that (xi + h) - xi == h. */
static double step(double xi, double hrel) {
  double h = hrel * fmax(fabs(xi), 1.0);
  volatile double t = xi + h;
  return t - xi;
}

hs_status hs_fd_grad(const hs_objective *o, const double *x, double hrel, double *g,
                     double *work) {
  size_t d = o->dim;
  double *xp = work, *ow = work + 3 * d;
  memcpy(xp, x, d * sizeof(double));
  for (size_t i = 0; i < d; i++) {
    double h = step(x[i], hrel), fp, fm;
    xp[i] = x[i] + h;
    hs_status st = o->type->value(o, xp, &fp, ow);
    if (st != HS_OK) return st;
    xp[i] = x[i] - h;
    st = o->type->value(o, xp, &fm, ow);
    if (st != HS_OK) return st;
    xp[i] = x[i];
    g[i] = (fp - fm) / (2.0 * h);
  }
  return HS_OK;
}

hs_status hs_fd_hess(const hs_objective *o, const double *x, double hrel, double *H,
                     double *work) {
  size_t d = o->dim;
  double *xp = work, *gp = work + d, *gm = work + 2 * d, *ow = work + 3 * d;
  memcpy(xp, x, d * sizeof(double));
  for (size_t i = 0; i < d; i++) {
    double h = step(x[i], hrel);
    xp[i] = x[i] + h;
    hs_status st = hs_objective_grad(o, xp, gp, ow);
    if (st != HS_OK) return st;
    xp[i] = x[i] - h;
    st = hs_objective_grad(o, xp, gm, ow);
    if (st != HS_OK) return st;
    xp[i] = x[i];
    for (size_t j = 0; j < d; j++) H[i * d + j] = (gp[j] - gm[j]) / (2.0 * h);
  }
  for (size_t i = 0; i < d; i++)
    for (size_t j = 0; j < i; j++)
      H[i * d + j] = H[j * d + i] = 0.5 * (H[i * d + j] + H[j * d + i]);
  return HS_OK;
}

hs_status hs_fd_hess_values(const hs_objective *o, const double *x, double hrel,
                            double *H, double *work) {
  size_t d = o->dim;
  double *xp = work, *ow = work + 3 * d, f0, f[4];
  hs_status st = o->type->value(o, x, &f0, ow);
  if (st != HS_OK) return st;
  memcpy(xp, x, d * sizeof(double));
  for (size_t i = 0; i < d; i++) {
    double hi = step(x[i], hrel);
    for (size_t j = 0; j <= i; j++) {
      double hj = step(x[j], hrel);
      if (i == j) {
        xp[i] = x[i] + 2.0 * hi;
        if ((st = o->type->value(o, xp, &f[0], ow)) != HS_OK) return st;
        xp[i] = x[i] - 2.0 * hi;
        if ((st = o->type->value(o, xp, &f[1], ow)) != HS_OK) return st;
        xp[i] = x[i];
        H[i * d + i] = (f[0] - 2.0 * f0 + f[1]) / (4.0 * hi * hi);
        continue;
      }
      static const double si[4] = {1, 1, -1, -1}, sj[4] = {1, -1, 1, -1};
      for (int c = 0; c < 4; c++) {
        xp[i] = x[i] + si[c] * hi;
        xp[j] = x[j] + sj[c] * hj;
        if ((st = o->type->value(o, xp, &f[c], ow)) != HS_OK) return st;
      }
      xp[i] = x[i];
      xp[j] = x[j];
      H[i * d + j] = H[j * d + i] = (f[0] - f[1] - f[2] + f[3]) / (4.0 * hi * hj);
    }
  }
  return HS_OK;
}

hs_status hs_fd_hvp(const hs_objective *o, const double *x, const double *v,
                    double hrel, double *out, double *work) {
  size_t d = o->dim;
  double *xp = work, *gp = work + d, *gm = work + 2 * d, *ow = work + 3 * d;
  double nx = 0.0, nv = 0.0;
  for (size_t i = 0; i < d; i++) nx += x[i] * x[i], nv += v[i] * v[i];
  if (nv == 0.0) {
    memset(out, 0, d * sizeof(double));
    return HS_OK;
  }
  double t = hrel * fmax(sqrt(nx), 1.0) / sqrt(nv);
  for (size_t i = 0; i < d; i++) xp[i] = x[i] + t * v[i];
  hs_status st = hs_objective_grad(o, xp, gp, ow);
  if (st != HS_OK) return st;
  for (size_t i = 0; i < d; i++) xp[i] = x[i] - t * v[i];
  st = hs_objective_grad(o, xp, gm, ow);
  if (st != HS_OK) return st;
  for (size_t i = 0; i < d; i++) out[i] = (gp[i] - gm[i]) / (2.0 * t);
  return HS_OK;
}
