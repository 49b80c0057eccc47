/*
** hs_method.c: the type tables of the four methods (hs_method.h).
**
** Reference: X. Li, Z. Shen, L. Zhang, N. He, "A Hessian-Aware Stochastic Differential
** Equation for Modelling SGD", arXiv:2405.18373; Z. Li, S. Malladi, S. Arora, "On the
** Validity of Modeling SGD with Stochastic Differential Equations (SDEs)", NeurIPS
** 2021 (SVAG). With z = eta*lambda:
**   SGD:     x' = x - eta g + eta xi                 (a discrete recursion)
**   SME-1:   b = -g                    D D' = Sigma   rate lambda
**   SME-2:   b = -(I + (eta/2) H) g    D D' = Sigma   rate lambda + (eta/2) lambda^2
**   HA-SME:  b = -phi1(eta H) g        D D' = V (S o Phi) V'
**            rate -log(1 - z)/eta = phi1(z) lambda, Phi_ij = phi1(z_i + z_j - z_i z_j)
**   SVAG:    l steps of eta/l per step, x' = x - (eta/l) (c1 g1 + c2 g2) with two
**            independent noise draws, c1,2 = (1 +- sqrt(2l - 1))/2 (a discrete
**            recursion whose law tends to SME-1's as l grows, with error O(1/l))
** Each formula is written once here, with the floating-point operations in the order
** the kernels have always evaluated them (the paths are bit-identical to earlier
** releases for the same seed).
*/
#include "hs_method.h"

#include <math.h>
#include <string.h>

#include "hs_phi.h"

/* {====================================================================
** SGD and SME-1: the gradient alone
** ===================================================================== */

static double rate_grad(double lambda, double eta) {
  (void)eta;
  return lambda;
}

static double offset_one(double z) {
  (void)z;
  return 1.0;
}

static const hs_method_type sgd_type = {
  "sgd", "SGD", HS_NEED_GRAD, 0, NULL, NULL, HUGE_VAL, NULL, rate_grad, offset_one,
  0, 1, NULL,
};

static const hs_method_type sme1_type = {
  "sme1", "SME-1", HS_NEED_GRAD, 1, NULL, NULL, HUGE_VAL, NULL, rate_grad, offset_one,
  0, 1, NULL,
};

/* }==================================================================== */

/* {====================================================================
** SME-2: the first correction in eta, b = -(g + (eta/2) H g)
** ===================================================================== */

static double sme2_coef(double eta) { return 0.5 * eta; }

static double sme2_rate(double lambda, double eta) {
  return lambda + 0.5 * eta * lambda * lambda;
}

static double sme2_offset(double z) { return 1.0 + 0.5 * z; }

static const hs_method_type sme2_type = {
  "sme2", "SME-2", HS_NEED_GRAD | HS_NEED_HESS, 1, sme2_coef, NULL, HUGE_VAL, NULL,
  sme2_rate, sme2_offset, 0, 1, NULL,
};

/* }==================================================================== */

/* {====================================================================
** HA-SME: phi1(eta H) in the drift, Phi in the diffusion; defined for eta*lambda < 1
** ===================================================================== */

/* phi1 and phi2 of each z from one logarithm (hs_phi12). libm's log1p, not the
** vector one of hs_vmath.h: at the 8 values of a block (W2) or the 64 of a block of
** 8 x 8 Hessians (W3) glibc's scalar log1p, eight independent chains in flight, was
** as fast or faster on AVX-512 and clearly faster on AVX2 (docs/performance.md). */
static void hasme_spectral(size_t n, const double *z, double *drift, double *diff) {
  for (size_t i = 0; i < n; i++) {
    double zi = z[i];
    hs_phi12(zi, log1p(-zi), &drift[i], &diff[i]);
  }
}

static double hasme_rate(double lambda, double eta) {
  return hs_phi1(eta * lambda) * lambda;   /* = -log(1 - z) / eta */
}

static const hs_method_type hasme_type = {
  "hasme", "HA-SME", HS_NEED_GRAD | HS_NEED_HESS | HS_NEED_EIG, 1, NULL, hasme_spectral,
  1.0, hs_phi_pair, hasme_rate, hs_phi1, 0, 1, NULL,
};

/* }==================================================================== */

/* {====================================================================
** SVAG: l steps of eta/l with c1 g1 + c2 g2 of two independent draws
** ===================================================================== */

/* c1 + c2 = 1 keeps the mean step (eta/l) g; c1^2 + c2^2 = l makes the noise of one
** step (eta^2/l) Sigma = eta dt Sigma with dt = eta/l, SME-1's over dt. */
static void svag_weights(size_t l, double *w) {
  double q = sqrt(2.0 * (double)l - 1.0);
  w[0] = 0.5 * (1.0 + q);
  w[1] = 0.5 * (1.0 - q);
}

static const hs_method_type svag_type = {
  "svag", "SVAG", HS_NEED_GRAD, 0, NULL, NULL, HUGE_VAL, NULL, rate_grad, offset_one,
  1, 2, svag_weights,
};

/* }==================================================================== */

const hs_method_type *const hs_method_sgd = &sgd_type;
const hs_method_type *const hs_method_sme1 = &sme1_type;
const hs_method_type *const hs_method_sme2 = &sme2_type;
const hs_method_type *const hs_method_hasme = &hasme_type;
const hs_method_type *const hs_method_svag = &svag_type;

const hs_method_type *const hs_methods[] = {&sgd_type, &sme1_type, &sme2_type, &hasme_type,
                                            &svag_type, NULL};

double hs_method_wnorm(const hs_method_type *t, size_t l) {
  double w[8], s = 0.0;
  if (t->weights == NULL) return 1.0;
  t->weights(l, w);
  for (size_t i = 0; i < t->draws; i++) s += w[i] * w[i];
  return sqrt(s);
}

const hs_method_type *hs_method_find(const char *name) {
  for (size_t i = 0; hs_methods[i] != NULL; i++)
    if (strcmp(hs_methods[i]->name, name) == 0) return hs_methods[i];
  return NULL;
}
