/*
** hs_nn.c: the two-layer tanh network loss over a dataset (hs_nn.h): value,
** gradient, exact Hessian, per-sample and minibatch gradients.
*/
#include "hs_nn.h"

#include <math.h>
#include <stdlib.h>

#include "hs_util.h"

/*
** Notation for one sample (x, y), x in R^p, and parameters
**   theta = (W1 [h x p], b1 [h], w2 [h], b2),  d = h p + 2 h + 1.
** Forward pass:
**   z_j = W1_j . x + b1_j,  a_j = tanh(z_j),  s_j = tanh'(z_j) = 1 - a_j^2,
**   out = w2 . a + b2,      r = out - y,
**   f_i = r^2 / 2 + (decay/2) |theta|^2.
**
** Gradient: grad f_i = r J + decay theta, with J = d out / d theta:
**   J[W1_jk] = w2_j s_j x_k,  J[b1_j] = w2_j s_j,  J[w2_j] = a_j,  J[b2] = 1.
**
** Hessian: d^2 (r^2/2) = J J' + r d^2 out, so
**   Hess f_i = J J' + r K + decay I,
** where K = d^2 out / d theta^2 is sparse. Write u_j = (W1_j, b1_j) for the weights
** into unit j and xt = (x, 1), so that z_j = u_j . xt. Using ds_j/dz_j = -2 a_j s_j,
**   K[u_j, u_j]  = -2 w2_j a_j s_j xt xt'    ((p+1) x (p+1) block per unit)
**   K[u_j, w2_j] = K[w2_j, u_j]' = s_j xt    (only the unit's own w2_j)
** and every other entry of K is 0 (distinct units do not interact; w2 and b2 enter
** linearly). The full Hessian is the mean over samples of J J' + r K, plus decay I.
** J J' is a dense rank-1 term: the Hessian costs O(N d^2), dominated by it.
**
** Index layout in theta: W1_jk at j p + k, b1_j at h p + j, w2_j at h p + h + j,
** b2 at h p + 2 h. Within u_j the indices increase (W1_j0 .. W1_j,p-1, then b1_j)
** and w2_j lies above all of them, so the K entries listed above land in the upper
** triangle; the Hessian is accumulated there and mirrored once at the end.
*/

typedef struct nn_block {
  hs_objective o;
  hs_nn_params p;
  double data[];            /* X (n*p) then y (n) */
} nn_block;

/* One forward pass: a_j into a (h doubles) when a is not NULL, returns out. */
static double forward(const hs_nn_params *P, const double *th, const double *x,
                      double *a) {
  const size_t p = P->p, h = P->h;
  const double *b1 = th + h * p, *w2 = b1 + h;
  double out = w2[h];                       /* b2 */
  for (size_t j = 0; j < h; j++) {
    const double *Wj = th + j * p;
    double z = b1[j], aj;
    for (size_t k = 0; k < p; k++) z += Wj[k] * x[k];
    aj = tanh(z);
    if (a != NULL) a[j] = aj;
    out += w2[j] * aj;
  }
  return out;
}

/* g += c * grad_theta (out) for the sample x whose activations are a; c is the
** residual times the weight of the sample in the mean. */
static void add_grad(const hs_nn_params *P, const double *th, const double *x,
                     const double *a, double c, double *g) {
  const size_t p = P->p, h = P->h;
  const double *w2 = th + h * p + h;
  double *gb1 = g + h * p, *gw2 = gb1 + h;
  for (size_t j = 0; j < h; j++) {
    double delta = c * w2[j] * (1.0 - a[j] * a[j]);
    double *gWj = g + j * p;
    for (size_t k = 0; k < p; k++) gWj[k] += delta * x[k];
    gb1[j] += delta;
    gw2[j] += c * a[j];
  }
  gw2[h] += c;                              /* b2 */
}

/* g = (1/m) g + decay theta: turns a sum over m samples into the mean gradient. */
static void finish_grad(size_t d, size_t m, double decay, const double *th, double *g) {
  const double inv = 1.0 / (double)m;
  for (size_t k = 0; k < d; k++) g[k] = g[k] * inv + decay * th[k];
}

/* The gradient of the sample x whose activations are a and residual r into gi (d
** doubles), as nn_sample_grad computes it. */
static void sample_grad_from(const hs_nn_params *P, const double *th, const double *x,
                             const double *a, double r, size_t d, double *gi) {
  for (size_t k = 0; k < d; k++) gi[k] = 0.0;
  add_grad(P, th, x, a, r, gi);
  finish_grad(d, 1, P->decay, th, gi);
}

static hs_status nn_value(const hs_objective *o, const double *th, double *f,
                          double *work) {
  const hs_nn_params *P = o->params;
  const size_t n = P->n, p = P->p, d = o->dim;
  double s = 0.0, t2 = 0.0;
  (void)work;
  for (size_t i = 0; i < n; i++) {
    double r = forward(P, th, P->X + i * p, NULL) - P->y[i];
    s += r * r;
  }
  for (size_t k = 0; k < d; k++) t2 += th[k] * th[k];
  *f = 0.5 * s / (double)n + 0.5 * P->decay * t2;
  return HS_OK;
}

static hs_status nn_grad(const hs_objective *o, const double *th, double *g,
                         double *work) {
  const hs_nn_params *P = o->params;
  const size_t n = P->n, p = P->p, d = o->dim;
  for (size_t k = 0; k < d; k++) g[k] = 0.0;
  for (size_t i = 0; i < n; i++) {
    const double *x = P->X + i * p;
    double r = forward(P, th, x, work) - P->y[i];
    add_grad(P, th, x, work, r, g);
  }
  finish_grad(d, n, P->decay, th, g);
  return HS_OK;
}

static hs_status nn_sample_grad(const hs_objective *o, const double *th, size_t i,
                                double *g, double *work) {
  const hs_nn_params *P = o->params;
  const size_t d = o->dim;
  const double *x;
  double r;
  if (i >= P->n) return HS_EINVAL;
  x = P->X + i * P->p;
  for (size_t k = 0; k < d; k++) g[k] = 0.0;
  r = forward(P, th, x, work) - P->y[i];
  add_grad(P, th, x, work, r, g);
  finish_grad(d, 1, P->decay, th, g);
  return HS_OK;
}

/* The mean over the batch accumulates the data terms and adds decay theta once
** (every f_i carries the same decay term, so its mean is itself). */
static hs_status nn_batch_grad(const hs_objective *o, const double *th,
                               const size_t *idx, size_t B, double *g, double *work) {
  const hs_nn_params *P = o->params;
  const size_t p = P->p, d = o->dim;
  if (B == 0) return HS_EINVAL;
  for (size_t b = 0; b < B; b++)
    if (idx[b] >= P->n) return HS_EINVAL;
  for (size_t k = 0; k < d; k++) g[k] = 0.0;
  for (size_t b = 0; b < B; b++) {
    const double *x = P->X + idx[b] * p;
    double r = forward(P, th, x, work) - P->y[idx[b]];
    add_grad(P, th, x, work, r, g);
  }
  finish_grad(d, B, P->decay, th, g);
  return HS_OK;
}

/* Samples per pass over H in the Gauss-Newton update: H += sum_b J_b J_b' for NB
** samples at once does NB multiply-adds per load and store of an entry of H, which
** is what limits a rank-1 update. The workspace holds the NB Jacobians (the update
** in hess_pass is written out for NB = 4). */
#define NB 4

/* J (d doubles) for the sample (x, yi), whose forward pass leaves the activations
** in J's w2 slots (J[w2_j] = a_j); adds r K to the upper triangle of H and returns
** the residual r. */
static double sample_jacobian(const hs_nn_params *P, const double *th, const double *x,
                              double yi, size_t d, double *J, double *H) {
  const size_t p = P->p, h = P->h, ib1 = h * p, iw2 = ib1 + h;
  const double *w2 = th + iw2;
  double *a = J + iw2;                       /* J[w2_j] = a_j */
  const double r = forward(P, th, x, a) - yi;
  for (size_t j = 0; j < h; j++) {
    const double sj = 1.0 - a[j] * a[j], v = w2[j] * sj;
    const double cuu = -2.0 * r * v * a[j], cuw = r * sj;
    const size_t jb = ib1 + j, jw = iw2 + j;
    double *Jj = J + j * p;
    /* J on u_j = (W1_j, b1_j): v xt. */
    for (size_t k = 0; k < p; k++) Jj[k] = v * x[k];
    J[jb] = v;
    /* r K: the (p+1) x (p+1) block cuu xt xt' on u_j and the column cuw xt to w2_j. */
    for (size_t k = 0; k < p; k++) {
      double *Hk = H + (j * p + k) * d;
      const double ck = cuu * x[k];
      for (size_t l = k; l < p; l++) Hk[j * p + l] += ck * x[l];
      Hk[jb] += ck;                          /* xt_k xt_p with xt_p = 1 */
      Hk[jw] += cuw * x[k];
    }
    H[jb * d + jb] += cuu;
    H[jb * d + jw] += cuw;
  }
  J[d - 1] = 1.0;                            /* J[b2] */
  return r;
}

/* The mean over samples of J J' + r K, plus decay I, into H (and the gradient, the
** mean of r J plus decay theta, into g when g is not NULL). Samples go NB at a time;
** a last, partial group is padded with zero Jacobians. The upper triangle is
** accumulated and mirrored at the end. work holds NB * d doubles. */
static void hess_pass(const hs_objective *o, const double *th, double *g, double *H,
                      double *Gs, double *work) {
  const hs_nn_params *P = o->params;
  const size_t n = P->n, p = P->p, d = o->dim;
  const double inv = 1.0 / (double)n;
  const size_t iw2 = P->h * p + P->h;
  double *J0 = work, *J1 = work + d, *J2 = work + 2 * d, *J3 = work + 3 * d;
  for (size_t k = 0; k < d * d; k++) H[k] = 0.0;
  if (g != NULL)
    for (size_t k = 0; k < d; k++) g[k] = 0.0;
  for (size_t i0 = 0; i0 < n; i0 += NB) {
    for (size_t b = 0; b < NB; b++) {
      double *J = work + b * d;
      if (i0 + b < n) {
        const size_t i = i0 + b;
        const double r = sample_jacobian(P, th, P->X + i * p, P->y[i], d, J, H);
        if (g != NULL)
          for (size_t k = 0; k < d; k++) g[k] += r * J[k];
        if (Gs != NULL)   /* nn_sample_grad's arithmetic on the activations in J */
          sample_grad_from(P, th, P->X + i * p, J + iw2, r, d, Gs + i * d);
      } else {
        for (size_t k = 0; k < d; k++) J[k] = 0.0;
      }
    }
    /* Upper triangle of J0 J0' + J1 J1' + J2 J2' + J3 J3'. */
    for (size_t u = 0; u < d; u++) {
      const double j0 = J0[u], j1 = J1[u], j2 = J2[u], j3 = J3[u];
      double *Hu = H + u * d;
      for (size_t v = u; v < d; v++)
        Hu[v] += j0 * J0[v] + j1 * J1[v] + j2 * J2[v] + j3 * J3[v];
    }
  }
  /* Mean, decay on the diagonal, mirror the upper triangle. */
  for (size_t u = 0; u < d; u++) {
    double *Hu = H + u * d;
    Hu[u] = Hu[u] * inv + P->decay;
    for (size_t v = u + 1; v < d; v++) {
      Hu[v] *= inv;
      H[v * d + u] = Hu[v];
    }
  }
  if (g != NULL) finish_grad(d, n, P->decay, th, g);
}

static hs_status nn_hess(const hs_objective *o, const double *th, double *H,
                         double *work) {
  hess_pass(o, th, NULL, H, NULL, work);
  return HS_OK;
}

static hs_status nn_gradhess(const hs_objective *o, const double *th, double *g,
                             double *H, double *work) {
  hess_pass(o, th, g, H, NULL, work);
  return HS_OK;
}

/* The gradient (with H, the Hessian: hess_pass) and every sample's gradient from one
** forward pass per sample. Without H the gradient is nn_grad's: its sum over the
** samples adds each sample's terms r J into g as add_grad does, and a sample's own
** gradient is those terms added to zeros (then finish_grad), which are the same
** numbers; so g accumulates the raw rows before they are finished. */
static hs_status nn_grad_samples(const hs_objective *o, const double *th, double *g,
                                 double *H, double *Gs, double *work) {
  const hs_nn_params *P = o->params;
  const size_t n = P->n, p = P->p, d = o->dim;
  if (H != NULL) {
    hess_pass(o, th, g, H, Gs, work);
    return HS_OK;
  }
  for (size_t k = 0; k < d; k++) g[k] = 0.0;
  for (size_t i = 0; i < n; i++) {
    const double *x = P->X + i * p;
    double *gi = Gs + i * d;
    double r = forward(P, th, x, work) - P->y[i];
    for (size_t k = 0; k < d; k++) gi[k] = 0.0;
    add_grad(P, th, x, work, r, gi);
    for (size_t k = 0; k < d; k++) g[k] += gi[k];
    finish_grad(d, 1, P->decay, th, gi);
  }
  finish_grad(d, n, P->decay, th, g);
  return HS_OK;
}

const hs_objective_type hs_nn_type = {
  .name = "nn",
  .value = nn_value,
  .grad = nn_grad,
  .hess = nn_hess,
  .gradhess = nn_gradhess,
  .sample_grad = nn_sample_grad,
  .batch_grad = nn_batch_grad,
  .grad_samples = nn_grad_samples,
};

/* With h p and h at most HS_MAXSIZE = 2^40 the sum is below 2^42: it cannot wrap,
** so it is formed first and compared with the limit after. */
size_t hs_nn_dim(size_t p, size_t h) {
  size_t hp, d;
  if (h > HS_MAXSIZE || !hs_mulsize(h, p, &hp)) return 0;
  d = hp + 2 * h + 1;
  return d <= HS_MAXSIZE ? d : 0;
}

hs_objective *hs_nn_alloc(size_t n, size_t p, size_t h, const double *X,
                          const double *y, double decay) {
  const size_t d = hs_nn_dim(p, h);
  size_t np;
  nn_block *b;
  if (n == 0 || d == 0 || d > HS_MAXSIZE / NB) return NULL;
  if (!hs_mulsize(n, p, &np) || np > HS_MAXSIZE - n) return NULL;
  b = hs_malloc(sizeof *b + (np + n) * sizeof(double));
  if (b == NULL) return NULL;
  b->p.n = n;
  b->p.p = p;
  b->p.h = h;
  b->p.decay = decay;
  b->p.X = b->data;
  b->p.y = b->data + np;
  for (size_t k = 0; k < np; k++) b->p.X[k] = X[k];
  for (size_t i = 0; i < n; i++) b->p.y[i] = y[i];
  b->o.type = &hs_nn_type;
  b->o.dim = d;
  b->o.nsamples = n;
  b->o.worksize = NB * d;
  b->o.thread_safe = 1;
  b->o.params = &b->p;
  return &b->o;
}

hs_status hs_nn_predict(const hs_objective *o, const double *theta, const double *x,
                        double *out, double *work) {
  (void)work;
  if (o->type != &hs_nn_type) return HS_EINVAL;
  *out = forward(o->params, theta, x, NULL);
  return HS_OK;
}
