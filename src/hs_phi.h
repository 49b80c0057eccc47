/*
** hs_phi.h: the scalar functions of the HA-SME model (MATH.md section 2):
**   phi1(u) = -log(1 - u) / u          (phi1(0) = 1, defined for u < 1)
**   phi2(z) = -2 log(1 - z) / (z (2 - z)) = phi1(z (2 - z))   (phi2(0) = 1, z < 1)
**   Phi(zi, zj) = phi1(zi + zj - zi zj)                        (Phi(z, z) = phi2(z))
** each to a few ulps over the whole domain.
*/
#ifndef HS_PHI_H
#define HS_PHI_H

/* NaN for u >= 1 (and for NaN); callers check the domain first and report it. */
double hs_phi1(double u);
double hs_phi2(double z);
double hs_phi_pair(double zi, double zj);

#endif
