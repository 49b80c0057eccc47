/*
** hs_method.h: the methods hasme simulates, one const type table each (in the style
** of GSL's gsl_rng_type): SGD, its three SDE models SME-1, SME-2 and HA-SME, and SVAG
** (SGD with the variance amplified, which simulates SME-1 with SGD's own noise).
**
** A table says what the method needs at a point (gradient, Hessian, the Hessian's
** eigensystem) and gives its formulas as scalar functions of z = eta * lambda, for
** lambda an eigenvalue of the Hessian. Every kernel takes its arithmetic from here:
** the model at a point (hs_model_eval), the lane-batched substeps of the engine, the
** linear transitions and the closed-form laws on quadratics (hs_exact). Adding a
** method is one new table (hs_method.c) and its entry in hs_methods[].
**
** With g = grad f, H = Hess f = V diag(lambda) V' and Sigma the noise covariance at x:
**   drift       b = -(g + c H g)                    c = hess_coef(eta) (0 when NULL)
**            or b = -V diag(drift(z)) V' g          spectral methods (HS_NEED_EIG)
**   diffusion   D D' = Sigma                        pair == NULL
**            or D D' = V (S o Phi) V',  S = V' Sigma V,  Phi_ij = pair(z_i, z_j)
** where for isotropic noise Sigma = sigma^2 I the spectral diffusion reduces to
** sigma V diag(sqrt(diff(z))) V'. An SDE model steps x + dt b + sqrt(eta dt) D dW. A
** discrete method (is_sde = 0) takes r steps of h = eta / r per step of eta (r = 1, or
** the run's svag_l when `split`), each with the gradient estimate sum_i w_i g_i of
** `draws` independent noise draws g_i (weights w from `weights`; one draw of weight 1
** when NULL): x - h sum_i w_i g_i, which for Gaussian noise is x + h b + h |w| D z.
*/
#ifndef HS_METHOD_H
#define HS_METHOD_H

#include <math.h>

#include "hasme.h"

/* What a method evaluates at a point, besides the objective's value. */
#define HS_NEED_GRAD 1u   /* the gradient g */
#define HS_NEED_HESS 2u   /* the Hessian H */
#define HS_NEED_EIG  4u   /* H's eigensystem (spectral drift and diffusion) */

typedef struct hs_method_type {
  const char *name;     /* what users pass as method = ("hasme") */
  const char *label;    /* how tables and figures name it ("HA-SME") */
  unsigned needs;       /* HS_NEED_* */
  int is_sde;           /* 0: a discrete recursion with step eta (SGD) */
  /* Polynomial drift b = -(g + c H g) with c = hess_coef(eta); NULL: b = -g. */
  double (*hess_coef)(double eta);
  /* Spectral methods: the drift multiplier drift(z_i) and the variance multiplier
  ** diff(z_i) of isotropic noise at n values z_i = eta*lambda_i, defined for
  ** z < zmax (HUGE_VAL: everywhere). One call for many values (the eigenvalues of a
  ** Hessian, or the lanes of a block), so that the two may share work and the
  ** loop over values is the method's to vectorise. z may be the same array as drift;
  ** a value outside the domain gives NaN or inf in its own outputs only. */
  void (*spectral)(size_t n, const double *z, double *drift, double *diff);
  double zmax;
  /* The diffusion's multiplier Phi_ij = pair(z_i, z_j) of the noise covariance in
  ** the Hessian's eigenbasis; NULL: the diffusion is the noise covariance itself. */
  double (*pair)(double zi, double zj);
  /* On a quadratic f = 1/2 x'Hx + b'x an SDE model is the Ornstein-Uhlenbeck process
  ** dX = -(M X + c0) dt + ..., M = V diag(m) V'. rate(lambda, eta) is M's eigenvalue
  ** m for H's eigenvalue lambda, and offset(z) the multiplier that turns V'b into
  ** V'c0 (the exact transition and the closed-form laws are built from them).
  ** A discrete method's recursion is x' = x - eta (M x + c0) with these. */
  double (*rate)(double lambda, double eta);
  double (*offset)(double z);
  /* Discrete methods: whether each step of eta is split into svag_l steps of eta /
  ** svag_l, the number of independent noise draws combined per step, and their
  ** weights for a split into l steps (NULL: one draw of weight 1). */
  int split;
  size_t draws;                /* at most 8 */
  void (*weights)(size_t l, double *w);
} hs_method_type;

extern const hs_method_type *const hs_method_sgd;
extern const hs_method_type *const hs_method_sme1;
extern const hs_method_type *const hs_method_sme2;
extern const hs_method_type *const hs_method_hasme;
extern const hs_method_type *const hs_method_svag;

/* Every method, in the order users see them, ending with NULL. */
extern const hs_method_type *const hs_methods[];

/* The method called name, or NULL. */
const hs_method_type *hs_method_find(const char *name);

/* The norm |w| of a discrete method's weights for l steps (1 without weights): sum_i
** w_i z_i of independent standard normals is |w| z in law. */
double hs_method_wnorm(const hs_method_type *t, size_t l);

/* Whether the method's model is undefined at z = eta*lambda (outside its domain). */
static inline int hs_method_outside(const hs_method_type *t, double z) {
  return t->zmax < HUGE_VAL && !(z < t->zmax);
}

#endif
