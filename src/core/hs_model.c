/*
** hs_model.c: the drift and diffusion of a method at a point, from the formulas of
** its type table (hs_method.h): with g = grad f, H = Hess f = V diag(lambda) V' and
** Sigma the gradient-noise covariance at x, z_i = eta lambda_i,
**   b = -(g + c H g)  or, spectral,  b = -V diag(drift(z)) V' g
**   D D' = Sigma      or, with pair, D D' = V (S o Phi) V',  S = V' Sigma V.
*/
#include "hs_model.h"

#include <math.h>
#include <string.h>

#include "hs_eiglanes.h"
#include "hs_linalg.h"

hs_status hs_model_factor(size_t d, const double *C, double *D, double tol, int clip,
                          double *work, hs_model_info *info) {
  size_t clipped = 0;
  double minw = 0.0;
  hs_status st = hs_factor(d, C, D, tol, clip, &minw, &clipped, work);
  if (st == HS_ENOTPSD) info->value = minw;
  info->projected += clipped;
  return st;
}

int hs_model_eig_lanes(const hs_model *m) {
  hs_noise_kind nk = m->noise->kind;
  return (m->method->needs & HS_NEED_EIG) && m->dim >= 2 && m->dim <= HS_EIG_LANES_ENGINE &&
         (nk == HS_NOISE_NONE || nk == HS_NOISE_ISO);
}

static size_t eigfactorwork(size_t d) {
  size_t fw = hs_factor_worksize(d), ew = hs_eig_worksize(d);
  return fw > ew ? fw : ew;
}

size_t hs_model_worksize(const hs_model *m) {
  size_t d = m->dim;
  return 4 * d + 6 * d * d + eigfactorwork(d) + hs_objective_worksize(m->obj) +
         hs_noise_worksize(m->noise, m->obj);
}

void hs_model_ws_init(const hs_model *m, double *work, hs_model_ws *ws) {
  size_t d = m->dim, dd = d * d;
  double **vecs[4] = {&ws->g, &ws->t, &ws->w, &ws->p2};
  double **mats[6] = {&ws->H, &ws->V, &ws->C, &ws->S, &ws->F, &ws->T};
  double *q = work;
  for (int i = 0; i < 4; i++) *vecs[i] = q, q += d;
  for (int i = 0; i < 6; i++) *mats[i] = q, q += dd;
  ws->rest = q;
  ws->objwork = q + eigfactorwork(d);
  ws->noisework = ws->objwork + hs_objective_worksize(m->obj);
}

/* The HA-SME diffusion factor for a covariance C given the Hessian's eigensystem
** (w, V): S = (V' C V) o Phi and B = (V S V')^(1/2), the symmetric square root of
** the model's own diffusion matrix (clipped when allowed), the factor every method
** uses (hs_factor). S, F, T are d x d scratch; B receives the factor. */
static hs_status hasme_diffusion(const hs_model *m, const double *w, const double *V,
                                 const double *C, double *S, double *F, double *T,
                                 double *B, double *fwork, hs_model_info *info) {
  size_t d = m->dim;
  hs_gemm(d, d, d, C, V, T);  /* T = C V, then S = V' T */
  for (size_t i = 0; i < d; i++)
    for (size_t j = 0; j <= i; j++) {
      double s = 0.0;
      for (size_t k = 0; k < d; k++) s += V[k * d + i] * T[k * d + j];
      S[i * d + j] = S[j * d + i] = s * m->method->pair(m->eta * w[i], m->eta * w[j]);
    }
  hs_gemm(d, d, d, V, S, F);  /* F = V S, then T = F V' = V S V' */
  for (size_t i = 0; i < d; i++)
    for (size_t j = 0; j <= i; j++) {
      double s = 0.0;
      for (size_t k = 0; k < d; k++) s += F[i * d + k] * V[j * d + k];
      T[i * d + j] = T[j * d + i] = s;
    }
  hs_status st = hs_model_factor(d, T, B, m->psd_tol, m->psd_project, fwork, info);
  if (st != HS_OK) info->part = "diffusion";
  return st;
}

hs_status hs_model_eval(const hs_model *m, const double *x, double *b, const double **B,
                        hs_bkind *bkind, hs_model_ws *ws, hs_model_info *info) {
  size_t d = m->dim;
  double *g = ws->g, *t = ws->t, *w = ws->w, *p2 = ws->p2, *H = ws->H, *V = ws->V,
         *C = ws->C, *S = ws->S, *F = ws->F, *T = ws->T, *rest = ws->rest;
  double *objwork = ws->objwork, *noisework = ws->noisework;
  const hs_noise *nz = m->noise;
  hs_status st;

  /* The drift. */
  const hs_method_type *mt = m->method;
  if (mt->needs & HS_NEED_HESS)
    st = hs_objective_gradhess(m->obj, x, g, H, objwork);
  else
    st = hs_objective_grad(m->obj, x, g, objwork);
  if (st != HS_OK) {
    info->part = "objective";
    return st;
  }
  if (mt->needs & HS_NEED_EIG) {  /* b = -V diag(drift(eta lambda)) V' g */
    if (d == 1) {   /* the 1 x 1 eigenproblem needs no solver */
      w[0] = H[0];
      V[0] = 1.0;
    }
    else if ((st = hs_eig(d, H, w, V, rest)) != HS_OK) {
      info->part = "hessian";
      return st;
    }
    if (hs_method_outside(mt, m->eta * w[d - 1])) {
      info->value = w[d - 1];
      info->part = "domain";
      return HS_EDOM;
    }
    /* the drift and isotropic-diffusion multipliers of z = eta lambda */
    for (size_t i = 0; i < d; i++) t[i] = m->eta * w[i];
    mt->spectral(d, t, t, p2);
    if (d == 1) b[0] = -t[0] * g[0];
    else {
      for (size_t i = 0; i < d; i++) {
        double s = 0.0;
        for (size_t k = 0; k < d; k++) s += V[k * d + i] * g[k];
        t[i] *= s;
      }
      hs_gemv(d, d, -1.0, V, t, 0.0, b);
    }
  }
  else if (mt->hess_coef != NULL) {  /* b = -(g + c H g) */
    hs_gemv(d, d, mt->hess_coef(m->eta), H, g, 0.0, t);
    for (size_t i = 0; i < d; i++) b[i] = -(g[i] + t[i]);
  }
  else
    for (size_t i = 0; i < d; i++) b[i] = -g[i];

  /* The diffusion factor. */
  switch (nz->kind) {
    case HS_NOISE_NONE:
      *bkind = HS_B_ZERO;
      return HS_OK;
    case HS_NOISE_ISO:
      if (!(mt->needs & HS_NEED_EIG)) {
        F[0] = nz->sigma;
        *B = F;
        *bkind = HS_B_SCALAR;
        return HS_OK;
      }
      /* Sigma = sigma^2 I commutes with H: the diffusion is sigma^2 V diag(diff(z)) V',
      ** whose square root is B = sigma V diag(sqrt(diff(z))) V'. */
      for (size_t i = 0; i < d; i++) t[i] = nz->sigma * sqrt(p2[i]);
      hs_sym_from_eig(d, V, t, F);
      *B = F;
      *bkind = HS_B_FULL;
      return HS_OK;
    case HS_NOISE_CONST:
      *bkind = HS_B_FULL;
      if (mt->pair == NULL) {
        *B = nz->factor;
        return HS_OK;
      }
      *B = F;
      return hasme_diffusion(m, w, V, nz->cov, S, C, T, F, rest, info);
    case HS_NOISE_STATE:
    case HS_NOISE_BATCH:
      st = hs_noise_cov(nz, m->obj, x, C, noisework);
      if (st != HS_OK) {
        /* minibatch covariance fails only through the objective's sample gradients */
        info->part = nz->kind == HS_NOISE_STATE ? "noise" : "objective";
        return st;
      }
      *bkind = HS_B_FULL;
      *B = F;
      if (mt->pair == NULL) {
        st = hs_model_factor(d, C, F, m->psd_tol, m->psd_project, rest, info);
        if (st != HS_OK) info->part = "noise";
        return st;
      }
      return hasme_diffusion(m, w, V, C, S, H, T, F, rest, info);
  }
  return HS_EINVAL;
}
