/*
** hs_phi.h: the scalar functions of the HA-SME model (docs/methods.md section 3):
**   phi1(u) = -log(1 - u) / u          (phi1(0) = 1, defined for u < 1)
**   phi2(z) = -2 log(1 - z) / (z (2 - z)) = phi1(z (2 - z))   (phi2(0) = 1, z < 1)
**   Phi(zi, zj) = phi1(zi + zj - zi zj)                        (Phi(z, z) = phi2(z))
** each to a few ulps over the whole domain.
*/
#ifndef HS_PHI_H
#define HS_PHI_H

#include <math.h>

/* NaN for u >= 1 (and for NaN); callers check the domain first and report it.
** phi1(-inf) = 0 (the limit). Within 2 ulps of the exact value (measured against a
** 50-digit reference over (-1e300, 1), subnormals and 1 - 2^-53 included). */
double hs_phi1(double u);

/* NaN for z >= 1 (and for NaN); phi2(-inf) = 0. Within 3 ulps. */
double hs_phi2(double z);

/* Phi(zi, zj) for zi < 1 and zj < 1 (NaN otherwise, and for NaN), with u formed
** without cancellation, so it stays accurate where u is the small difference of
** large terms or close to 1. Symmetric in its arguments; within 3 ulps. */
double hs_phi_pair(double zi, double zj);

/* phi1(z) and phi2(z) given l = log1p(-z), with one division: the form the engine's
** hot loops use, one logarithm serving both (each within a few ulps wherever log1p
** is). For |z| > 1e150, where z (2 - z) would overflow, hs_phi1 and hs_phi2. */
static inline void hs_phi12(double z, double l, double *phi1, double *phi2) {
  if (fabs(z) > 1e150) {
    *phi1 = hs_phi1(z);
    *phi2 = hs_phi2(z);
  }
  else if (z != 0.0) {
    double q = -l / (z * (2.0 - z));
    *phi1 = q * (2.0 - z);
    *phi2 = 2.0 * q;
  }
  else *phi1 = *phi2 = 1.0;
}

#endif
