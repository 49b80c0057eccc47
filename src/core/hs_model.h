/*
** hs_model.h: a method (hs_method.h) at a point x: SGD's update or an SDE model's
** drift and diffusion, for any objective and noise model. The ensemble engine steps
** paths with what this computes.
*/
#ifndef HS_MODEL_H
#define HS_MODEL_H

#include "hs_method.h"
#include "hs_noise.h"
#include "hs_objective.h"

typedef struct hs_model {
  const hs_method_type *method;
  size_t dim;
  double eta;                  /* learning rate; SDE time t corresponds to step t/eta */
  const hs_objective *obj;
  const hs_noise *noise;
  int psd_project;             /* non-PSD HA-SME diffusion: 0 error, 1 clip to PSD */
  double psd_tol;              /* eigenvalues above -psd_tol * max|eig| count as rounding */
} hs_model;

/* Detail of a failure or of an event, filled by hs_model_eval and hs_linear_build. */
typedef struct hs_model_info {
  double value;      /* HS_EDOM: the eigenvalue lambda with eta*lambda >= 1;
                        HS_ENOTPSD: the most negative eigenvalue */
  size_t projected;  /* eigenvalues clipped to make a diffusion PSD (psd_project) */
  const char *part;  /* on failure, what failed: "objective", "noise", "hessian",
                        "domain" or "diffusion" */
} hs_model_info;

/* How the diffusion factor B came out: zero (no noise), a multiple of the identity
** (the multiple in B[0]), or a full d x d matrix. */
typedef enum hs_bkind { HS_B_ZERO, HS_B_SCALAR, HS_B_FULL } hs_bkind;

/* Scratch doubles hs_model_eval needs. */
size_t hs_model_worksize(const hs_model *m);

/* The scratch of one evaluating thread, laid out once (hs_model_ws_init) so that
** an evaluation does no bookkeeping. */
typedef struct hs_model_ws {
  double *g, *t, *w, *p2;               /* d each */
  double *H, *V, *C, *S, *F, *T;        /* d x d each */
  double *rest, *objwork, *noisework;   /* eigen/factor, objective and noise work */
} hs_model_ws;

/* Lay out hs_model_worksize(m) doubles at work. */
void hs_model_ws_init(const hs_model *m, double *work, hs_model_ws *ws);

/* At x: the drift b (d doubles) and the diffusion factor B (d x d): the symmetric
** square root of the method's own diffusion matrix (Sigma(x), or V (S o Phi) V' for
** a method with a pair multiplier; hs_factor), such that
**   SDE methods, one Euler-Maruyama step:  x + dt b + sqrt(eta dt) B z
**   SGD, one step:                         x + eta b + eta B z     (b = -g, B B' = Sigma)
** with z ~ N(0, I). HA-SME: HS_EDOM when eta * lambda_max(H(x)) >= 1 (info->value is
** lambda_max), HS_ENOTPSD when the diffusion V (S o Phi) V' is not PSD and
** psd_project is 0 (info->value is its most negative eigenvalue); with psd_project
** it is clipped and info->projected counts clipped eigenvalues.
** For SGD with minibatch noise b is not computed here (the engine draws the batch).
** B may be set to point at the noise's own constant factor instead of being copied;
** *B is otherwise work memory. */
hs_status hs_model_eval(const hs_model *m, const double *x, double *b, const double **B,
                        hs_bkind *bkind, hs_model_ws *ws, hs_model_info *info);

/* hs_factor (hs_linalg.h) reporting through info: HS_ENOTPSD sets info->value to the
** most negative eigenvalue; clipped eigenvalues add to info->projected. */
hs_status hs_model_factor(size_t d, const double *C, double *D, double tol, int clip,
                          double *work, hs_model_info *info);

/* Whether the model's Hessian eigensystems come from the lane Jacobi solver
** (hs_eiglanes.h) rather than hs_eig: a spectral method with isotropic or no noise in
** dimension 2 to HS_EIG_LANES_ENGINE, where the engine's lane-batched substep runs.
** The linear kernel asks too, so that both kernels use the same eigenvectors. */
int hs_model_eig_lanes(const hs_model *m);

#endif
