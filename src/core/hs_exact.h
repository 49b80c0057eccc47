/*
** hs_exact.h: quadratics with constant Gaussian noise, where every model is a linear
** Gaussian recursion: the one-step transitions (Euler-Maruyama or exact) that the
** engine's fast kernel applies, and the closed-form law at step k (docs/methods.md
** section 6) that serves as the test oracle and as hasme.exact_moments.
*/
#ifndef HS_EXACT_H
#define HS_EXACT_H

#include "hs_model.h"

/* x' = A x + c + L z with z ~ N(0, I_d), applied `count` times per SGD step. When
** `draws` > 1 each transition consumes draws*d normals and uses their normalised sum
** (z_1 + ... + z_draws) / sqrt(draws): the Brownian increment over a step made of
** `draws` substeps, which couples SGD and exact transitions to Euler paths. */
typedef struct hs_linear {
  size_t dim;
  size_t count;      /* transitions per step: Euler substeps, or 1 */
  size_t draws;      /* normal vectors per transition */
  double *A, *c, *L; /* d x d, d, d x d (L NULL when there is no noise) */
  int lower;         /* L is lower triangular (entries above the diagonal are 0) */
} hs_linear;

/* Build the transition of `method` on f = 1/2 x'Hx + b'x (b may be NULL) with the
** noise (NONE, ISO or CONST) for one step of learning rate eta:
**   exact = 0: `rounds` Euler-Maruyama transitions of dt = eta/rounds (SDEs);
**   exact = 1: one exact transition of the SDE over time eta.
** A discrete method is its own recursion with either flag: one transition (SGD), or
** `rounds` of eta/rounds for a split method (SVAG, rounds = svag_l). normals: 0, or
** the N normal vectors per step of a coupled run, each transition using N / count of
** them (draws). HS_EDOM for HA-SME with eta*lambda >= 1 (info->value = lambda);
** HS_ENOTPSD / projection as hs_model_eval. */
hs_status hs_linear_build(hs_linear *lin, const hs_model *m, const double *H,
                          const double *b, int exact, size_t rounds, size_t normals,
                          hs_model_info *info);
void hs_linear_free(hs_linear *lin);

/* The law of x_k (SGD) or X(k eta) (SDE models) started from x0, on the same
** quadratic with covariance Sigma (d x d; NULL = no noise): Gaussian with mean
** (d) and covariance cov (d x d). Closed forms in H's eigenbasis (p = 1 - eta lambda):
**   SGD:  mean_i = p_i^k y0_i - eta beta_i sum_{j<k} p_i^j,
**         C_ij = eta^2 S_ij sum_{j<k} (p_i p_j)^j
**   SDEs: an OU process dX = -(M X + c0) dt + B dW with drift eigenvalues m_i:
**         mean_i = e^{-m_i t} y0_i - gamma_i (1 - e^{-m_i t}) / m_i,
**         C_ij = (V'BB'V)_ij (1 - e^{-(m_i + m_j) t}) / (m_i + m_j),  t = k eta.
** HA-SME diffusion non-PSD: as hs_linear_build. */
hs_status hs_exact_moments(const hs_model *m, const double *H, const double *b,
                           const double *Sigma, const double *x0, size_t k,
                           double *mean, double *cov, hs_model_info *info);

#endif
