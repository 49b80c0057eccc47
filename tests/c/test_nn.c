/*
** test_nn.c: the two-layer network loss (hs_nn): derivatives against finite
** differences, the finite-sum structure (value, sample, batch and full gradients
** agree), the Hessian's residual term, workspace use, allocation limits.
*/
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hs_nn.h"
#include "hs_noise.h"
#include "tap.h"

#define EPS DBL_EPSILON

/* Scratch of exactly hs_objective_worksize(o) doubles, filled with NaN so that a
** result depending on its initial content, or a read past its end (valgrind,
** ASan), shows. */
static double *newwork(const hs_objective *o) {
  size_t n = hs_objective_worksize(o);
  double *w = malloc(n * sizeof *w);
  for (size_t k = 0; k < n; k++) w[k] = NAN;
  return w;
}

/* max(m, e) that keeps a NaN (fmax drops it): any NaN in an error makes the check fail. */
static double worse(double m, double e) { return (e > m || e != e) ? e : m; }

static double maxabs(size_t n, const double *v) {
  double m = 0.0;
  for (size_t i = 0; i < n; i++) m = worse(m, fabs(v[i]));
  return m;
}

static double maxdiff(size_t n, const double *a, const double *b) {
  double m = 0.0;
  for (size_t i = 0; i < n; i++) m = worse(m, fabs(a[i] - b[i]));
  return m;
}

/* {====================================================================
** Finite-difference checks (the derivation is the one in test_objective.c):
** a central difference with step h is within M h^2/6 + e/h of the derivative when
** |phi'''| <= M within the step and each evaluation is off by at most e; the step is
** h = (3e/M)^(1/3) and the tolerance twice the bound there.
**
** Bounds for the network. Along any coordinates, a partial derivative of order m of
** out = sum_j w2_j tanh(z_j) + b2 is nonzero only when all coordinates belong to one
** unit j; it is w2_j tanh^(m)(z_j) times m entries of xt = (x, 1), or, when one of
** them is w2_j, tanh^(m-1)(z_j) times m-1 entries. With t_m = max |tanh^(m)|
** (t_0 = 1, t_1 = 1, t_2 = 4/(3 sqrt 3) < 0.77, t_3 = 2, t_4 < 4.09),
** W = max(1, |w2|_inf + 1/2) and X = max(1, |x|_inf over the data):
**   |d^m out| <= C_m = W max(t_m, t_{m-1}) X^m
** (the 1/2 in W covers a step h <= 1/2 along w2). For f_i = r^2/2 (decay is
** quadratic and drops out of third and higher derivatives), Leibniz gives
**   |d^3 f_i| <= R C_3 + 3 C_1 C_2,   |d^4 f_i| <= R C_4 + 4 C_1 C_3 + 3 C_2^2
** with R >= |r_i| within the step: R = max_i |r_i| + C_1 / 2. The mean obeys the same.
**
** Rounding. out sums h + 1 terms of magnitude A_i = |b2| + sum_j |w2_j| + |y_i|, and
** each a_j = tanh(z_j) inherits z_j's error (tanh' <= 1): z_j sums p + 1 terms of size
** Z_ij = |b1_j| + sum_k |W1_jk x_k|. Hence
**   |dr_i| <= eps B_i,  B_i = (h + 4) A_i + (p + 2) sum_j |w2_j| Z_ij,
** f's data part errs by at most R max_i B_i eps plus (n + d + 4) eps times its size
** F = R^2/2 + decay/2 (|theta|_2 + 1/2)^2 for the sums. A gradient entry mean_i r_i J_ik
** errs by at most |dr| |J| + |r| |dJ| + (n + 4) eps |r J|, and |dJ| <= 2 (p + 8)
** (1 + max_j Z_ij) eps C_1 (J = w2 s x with s = 1 - a^2). Both are doubled for safety.
** ===================================================================== */

typedef struct bounds { double M3, M4, ef, eg, C1, C2, R; } bounds;

static double fd_step(double M, double e) { return M > 0.0 ? cbrt(3.0 * e / M) : 0.25; }
static double fd_tol(double M, double e, double h) { return 2.0 * (M * h * h / 6.0 + e / h); }

static void nn_bounds(const hs_objective *o, const double *th, bounds *bd) {
  const hs_nn_params *P = o->params;
  const size_t n = P->n, p = P->p, h = P->h, d = o->dim;
  const double *b1 = th + h * p, *w2 = b1 + h, b2 = w2[h];
  const double t[5] = {1.0, 1.0, 0.77, 2.0, 4.09};
  double W = fmax(1.0, maxabs(h, w2) + 0.5), X = fmax(1.0, maxabs(n * p, P->X));
  double C[5], rmax = 0.0, Bmax = 0.0, BZ = 0.0, F, tn = 0.0;
  for (int m = 1; m <= 4; m++) C[m] = W * fmax(t[m], t[m - 1]) * pow(X, m);
  for (size_t i = 0; i < n; i++) {
    const double *x = P->X + i * p;
    double out, A = fabs(b2) + fabs(P->y[i]), S = 0.0, Zmax = 0.0;
    hs_nn_predict(o, th, x, &out, NULL);
    rmax = worse(rmax, fabs(out - P->y[i]));
    for (size_t j = 0; j < h; j++) {
      double Z = fabs(b1[j]);
      for (size_t k = 0; k < p; k++) Z += fabs(th[j * p + k] * x[k]);
      A += fabs(w2[j]);
      S += fabs(w2[j]) * Z;
      Zmax = fmax(Zmax, Z);
    }
    Bmax = fmax(Bmax, (double)(h + 4) * A + (double)(p + 2) * S);
    BZ = fmax(BZ, (double)(h + 4) * A + (double)(p + 2) * S +
                  2.0 * (double)(p + 8) * (1.0 + Zmax) * (rmax + C[1]));
  }
  for (size_t k = 0; k < d; k++) tn += th[k] * th[k];
  bd->C1 = C[1];
  bd->C2 = C[2];
  bd->R = rmax + 0.5 * C[1];
  bd->M3 = bd->R * C[3] + 3.0 * C[1] * C[2];
  bd->M4 = bd->R * C[4] + 4.0 * C[1] * C[3] + 3.0 * C[2] * C[2];
  F = 0.5 * bd->R * bd->R + 0.5 * P->decay * (sqrt(tn) + 0.5) * (sqrt(tn) + 0.5);
  bd->ef = 2.0 * EPS * (bd->R * Bmax + (double)(n + d + 4) * F);
  bd->eg = 2.0 * EPS * (C[1] * BZ + (double)(n + 4) *
                        (C[1] * bd->R + P->decay * (maxabs(d, th) + 0.5)));
}

static double fd_grad_err(const hs_objective *o, const double *x, const bounds *bd,
                          double *tol) {
  const size_t d = o->dim;
  const double h = fd_step(bd->M3, bd->ef);
  double *g = malloc(d * sizeof *g), *y = malloc(d * sizeof *y), *w = newwork(o);
  double err = 0.0;
  hs_objective_grad(o, x, g, w);
  for (size_t k = 0; k < d; k++) {
    double fp, fm, xp, xm;
    memcpy(y, x, d * sizeof *y);
    y[k] = xp = x[k] + h;
    hs_objective_value(o, y, &fp, w);
    y[k] = xm = x[k] - h;
    hs_objective_value(o, y, &fm, w);
    err = worse(err, fabs((fp - fm) / (xp - xm) - g[k]));
  }
  *tol = fd_tol(bd->M3, bd->ef, h);
  free(g); free(y); free(w);
  return err;
}

static double fd_hess_err(const hs_objective *o, const double *x, const bounds *bd,
                          double *tol) {
  const size_t d = o->dim;
  const double h = fd_step(bd->M4, bd->eg);
  double *H = malloc(d * d * sizeof *H), *y = malloc(d * sizeof *y), *w = newwork(o);
  double *gp = malloc(d * sizeof *gp), *gm = malloc(d * sizeof *gm), err = 0.0;
  hs_objective_hess(o, x, H, w);
  for (size_t k = 0; k < d; k++) {
    double xp, xm;
    memcpy(y, x, d * sizeof *y);
    y[k] = xp = x[k] + h;
    hs_objective_grad(o, y, gp, w);
    y[k] = xm = x[k] - h;
    hs_objective_grad(o, y, gm, w);
    for (size_t j = 0; j < d; j++)
      err = worse(err, fabs((gp[j] - gm[j]) / (xp - xm) - H[j * d + k]));
  }
  *tol = fd_tol(bd->M4, bd->eg, h);
  free(H); free(y); free(gp); free(gm); free(w);
  return err;
}

/* }==================================================================== */

/* d out / d theta at one input, written out independently of hs_nn.c (the test's
** reference for the Gauss-Newton part J J'). */
static void jac_out(const hs_nn_params *P, const double *th, const double *x, double *J) {
  const size_t p = P->p, h = P->h;
  const double *b1 = th + h * p, *w2 = b1 + h;
  for (size_t j = 0; j < h; j++) {
    double z = b1[j], a, s;
    for (size_t k = 0; k < p; k++) z += th[j * p + k] * x[k];
    a = tanh(z);
    s = 1.0 - a * a;
    for (size_t k = 0; k < p; k++) J[j * p + k] = w2[j] * s * x[k];
    J[h * p + j] = w2[j] * s;
    J[h * p + h + j] = a;
  }
  J[h * p + 2 * h] = 1.0;
}

/* Gauss-Newton matrix mean_i J_i J_i' + decay I. */
static void gauss_newton(const hs_objective *o, const double *th, double *G) {
  const hs_nn_params *P = o->params;
  const size_t d = o->dim;
  double *J = malloc(d * sizeof *J);
  for (size_t k = 0; k < d * d; k++) G[k] = 0.0;
  for (size_t i = 0; i < P->n; i++) {
    jac_out(P, th, P->X + i * P->p, J);
    for (size_t u = 0; u < d; u++)
      for (size_t v = 0; v < d; v++) G[u * d + v] += J[u] * J[v] / (double)P->n;
  }
  for (size_t u = 0; u < d; u++) G[u * d + u] += P->decay;
  free(J);
}

/* A deterministic, high-entropy dataset and network: smooth functions of the index
** with incommensurate frequencies, so no two samples or parameters coincide and
** the targets are not a function the network reproduces (residuals stay nonzero). */
static void make_data(size_t n, size_t p, double *X, double *y) {
  for (size_t i = 0; i < n; i++) {
    double s = 0.0;
    for (size_t k = 0; k < p; k++) {
      X[i * p + k] = 1.3 * sin(0.7919 * (double)(i * (k + 1)) + 0.3817 * (double)k + 0.1234);
      s += X[i * p + k] * (0.6 - 0.45 * (double)k);
    }
    y[i] = sin(1.7 * s + 0.2) + 0.31 * cos(2.1 * (double)i);
  }
}

static void make_theta(size_t d, int q, double *th) {
  for (size_t k = 0; k < d; k++)
    th[k] = 0.9 * sin(1.2043 * (double)k + 0.3817 + 0.5772 * q);
}

typedef struct config { size_t n, p, h; double decay; } config;

/* Everything at one parameter point of one network. */
static void check_point(const char *name, const hs_objective *o, const double *th) {
  const hs_nn_params *P = o->params;
  const size_t n = P->n, d = o->dim;
  bounds bd;
  double tg, th_, eg, eh, f, fs = 0.0, asym = 0.0, gmax, hmax, tolg, tolh;
  double *g = malloc(d * sizeof *g), *H = malloc(d * d * sizeof *H);
  double *g2 = malloc(d * sizeof *g2), *H2 = malloc(d * d * sizeof *H2);
  double *gs = malloc(d * sizeof *gs), *gi = malloc(d * sizeof *gi), *w = newwork(o);
  size_t *idx = malloc((n + 3) * sizeof *idx);

  nn_bounds(o, th, &bd);
  eg = fd_grad_err(o, th, &bd, &tg);
  eh = fd_hess_err(o, th, &bd, &th_);
  ok(fd_step(bd.M3, bd.ef) <= 0.5 && fd_step(bd.M4, bd.eg) <= 0.5,
     "%s: finite-difference steps within the bounds' range", name);
  ok(eg <= tg, "%s: gradient matches central differences (err %.3g, tol %.3g)", name, eg, tg);
  ok(eh <= th_, "%s: Hessian matches central differences of the gradient (err %.3g, tol %.3g)",
     name, eh, th_);

  hs_objective_grad(o, th, g, w);
  hs_objective_hess(o, th, H, w);
  gmax = maxabs(d, g);
  hmax = maxabs(d * d, H);
  ok(tg <= 1e-5 * (1.0 + gmax) && th_ <= 1e-5 * (1.0 + hmax),
     "%s: checks resolve relative errors of 1e-5 (tol %.3g vs |g| %.3g, %.3g vs |H| %.3g)",
     name, tg, gmax, th_, hmax);
  for (size_t i = 0; i < d; i++)
    for (size_t j = 0; j < i; j++) asym = worse(asym, fabs(H[i * d + j] - H[j * d + i]));
  ok(asym == 0.0, "%s: Hessian exactly symmetric", name);

  /* gradhess against grad and hess: the same sums in another order, so they agree
  ** to the rounding of a mean of n terms of size C_1 R (gradient) and C_1^2 + R C_2
  ** (Hessian). */
  tolg = 4.0 * EPS * (double)(n + d) * bd.C1 * bd.R;
  tolh = 4.0 * EPS * (double)(n + d) * (bd.C1 * bd.C1 + bd.R * bd.C2);
  for (size_t k = 0; k < d * d; k++) H2[k] = NAN;
  ok(hs_objective_gradhess(o, th, g2, H2, w) == HS_OK, "%s: gradhess returns HS_OK", name);
  ok(maxdiff(d, g, g2) <= tolg && maxdiff(d * d, H, H2) <= tolh,
     "%s: gradhess equals grad and hess (%.3g <= %.3g, %.3g <= %.3g)", name,
     maxdiff(d, g, g2), tolg, maxdiff(d * d, H, H2), tolh);

  /* f is the mean of the per-sample losses, computed here from predictions. */
  hs_objective_value(o, th, &f, w);
  for (size_t i = 0; i < n; i++) {
    double out, r, tn = 0.0;
    hs_nn_predict(o, th, P->X + i * P->p, &out, NULL);
    r = out - P->y[i];
    for (size_t k = 0; k < d; k++) tn += th[k] * th[k];
    fs += 0.5 * r * r + 0.5 * P->decay * tn;
  }
  fs /= (double)n;
  is_near(f, fs, bd.ef, "%s: f is the mean of the per-sample losses", name);

  /* grad = mean of sample_grad = batch_grad over every index. */
  for (size_t k = 0; k < d; k++) gs[k] = 0.0;
  for (size_t i = 0; i < n; i++) {
    hs_objective_sample_grad(o, th, i, gi, w);
    for (size_t k = 0; k < d; k++) gs[k] += gi[k] / (double)n;
    idx[i] = n - 1 - i;                     /* every index, in reverse */
  }
  ok(maxdiff(d, g, gs) <= tolg, "%s: grad is the mean of sample_grad (%.3g)", name,
     maxdiff(d, g, gs));
  ok(hs_objective_batch_grad(o, th, idx, n, g2, w) == HS_OK &&
     maxdiff(d, g, g2) <= tolg, "%s: batch_grad over every index equals grad (%.3g)", name,
     maxdiff(d, g, g2));

  /* A subset with repeats: idx = {2, 0, 2, n-1} (mod n). Sampling with replacement
  ** produces repeats, and each occurrence counts. */
  {
    const size_t sub[4] = {2 % n, 0, 2 % n, n - 1};
    hs_objective_type T = *o->type;
    hs_objective copy = *o;
    double *g3 = malloc(d * sizeof *g3), *w2;
    for (size_t k = 0; k < d; k++) gs[k] = 0.0;
    for (size_t b = 0; b < 4; b++) {
      hs_objective_sample_grad(o, th, sub[b], gi, w);
      for (size_t k = 0; k < d; k++) gs[k] += gi[k] / 4.0;
    }
    hs_objective_batch_grad(o, th, sub, 4, g2, w);
    ok(maxdiff(d, g2, gs) <= tolg, "%s: batch_grad over a subset with repeats is the "
       "mean of its sample_grads (%.3g)", name, maxdiff(d, g2, gs));
    /* The same through the dispatcher's fallback (a copy of the type without
    ** batch_grad), with its larger workspace. */
    T.batch_grad = NULL;
    copy.type = &T;
    w2 = newwork(&copy);
    ok(hs_objective_worksize(&copy) == 4 * d + d &&
       hs_objective_batch_grad(&copy, th, sub, 4, g3, w2) == HS_OK &&
       maxdiff(d, g2, g3) <= tolg, "%s: batch_grad agrees with the generic fallback", name);
    free(g3);
    free(w2);
  }
  free(g); free(H); free(g2); free(H2); free(gs); free(gi); free(w); free(idx);
}

static void test_network(const config *c) {
  const size_t d = hs_nn_dim(c->p, c->h);
  double *X = malloc((c->n * c->p + 1) * sizeof *X), *y = malloc(c->n * sizeof *y);
  double *th = malloc(d * sizeof *th), f0, f1;
  char name[64];
  hs_objective *o;
  make_data(c->n, c->p, X, y);
  o = hs_nn_alloc(c->n, c->p, c->h, X, y, c->decay);
  snprintf(name, sizeof name, "nn n=%zu p=%zu h=%zu", c->n, c->p, c->h);
  ok(o != NULL && o->dim == d && o->nsamples == c->n && o->worksize == 4 * d &&
     o->thread_safe && hs_objective_worksize(o) == 4 * d && strcmp(o->type->name, "nn") == 0,
     "%s: alloc and fields (dim %zu, nsamples, worksize, thread_safe)", name, d);
  for (int q = 0; q < 3; q++) {
    make_theta(d, q, th);
    check_point(name, o, th);
  }
  /* The objective owns copies of X and y. */
  hs_objective_value(o, th, &f0, NULL);
  for (size_t k = 0; k < c->n * c->p; k++) X[k] = 7.0;
  for (size_t i = 0; i < c->n; i++) y[i] = -3.0;
  hs_objective_value(o, th, &f1, NULL);
  ok(f0 == f1, "%s: X and y are copied at alloc", name);
  hs_objective_free(o);
  free(X); free(y); free(th);
}

/* At a perfect fit (y_i = the network's output) every residual is 0: the gradient is
** decay theta and the Hessian is the Gauss-Newton matrix. Away from it the residual
** term r K makes them differ (a Gauss-Newton-only Hessian would fail here and in the
** finite-difference checks). */
static void test_residual_term(void) {
  enum { N = 9, P = 2, HU = 3 };
  const size_t d = hs_nn_dim(P, HU);
  double X[N * P], y[N], yfit[N], th[32], g[32], H[32 * 32], G[32 * 32], J[32], Jfd[32];
  double jerr = 0.0;
  hs_objective *o;
  double *w;
  make_data(N, P, X, y);
  make_theta(d, 1, th);
  o = hs_nn_alloc(N, P, HU, X, y, 0.0371);
  /* The test's own Jacobian against differences of the prediction. */
  jac_out(o->params, th, X + 4 * P, J);
  for (size_t k = 0; k < d; k++) {
    double t = th[k], hh = 1e-5, op, om;
    th[k] = t + hh;
    hs_nn_predict(o, th, X + 4 * P, &op, NULL);
    th[k] = t - hh;
    hs_nn_predict(o, th, X + 4 * P, &om, NULL);
    th[k] = t;
    Jfd[k] = (op - om) / (2 * hh);
    jerr = worse(jerr, fabs(Jfd[k] - J[k]));
  }
  ok(jerr < 1e-8, "nn: reference Jacobian of the output matches differences (%.3g)", jerr);
  for (size_t i = 0; i < N; i++) hs_nn_predict(o, th, X + i * P, yfit + i, NULL);
  hs_objective_free(o);

  o = hs_nn_alloc(N, P, HU, X, yfit, 0.0371);
  w = newwork(o);
  hs_objective_gradhess(o, th, g, H, w);
  {
    int eq = 1;
    for (size_t k = 0; k < d; k++) eq &= g[k] == 0.0371 * th[k];
    ok(eq, "nn: at a perfect fit the gradient is exactly decay theta");
  }
  gauss_newton(o, th, G);
  ok(maxdiff(d * d, H, G) <= 64 * EPS * (1 + maxabs(d * d, G)),
     "nn: at a perfect fit the Hessian is Gauss-Newton (%.3g)", maxdiff(d * d, H, G));
  hs_objective_free(o);
  free(w);

  o = hs_nn_alloc(N, P, HU, X, y, 0.0371);   /* y from make_data: residuals nonzero */
  w = newwork(o);
  hs_objective_hess(o, th, H, w);
  gauss_newton(o, th, G);
  ok(maxdiff(d * d, H, G) > 1e-2, "nn: away from a fit the residual term counts (%.3g)",
     maxdiff(d * d, H, G));
  hs_objective_free(o);
  free(w);
}

/* The dead-network point theta_s = (W1 = 0, b1 = 0, w2 = 0, b2 = c), c = ybar / (1 +
** decay), is always critical. There a = 0, s = 1, r_i = c - y_i, J = e_b2, and
** K[u_j, w2_j] = xt; so the Hessian is decay I plus 1 at (b2, b2) plus, for each unit,
** m = mean_i r_i xt_i between u_j and w2_j (docs/objectives.md). */
static void test_dead_network(void) {
  enum { N = 11, P = 2, HU = 3 };
  const double decay = 0.0419;
  const size_t d = hs_nn_dim(P, HU), ib1 = HU * P, iw2 = ib1 + HU;
  double X[N * P], y[N], th[16] = {0}, g[16], H[16 * 16], m[P + 1] = {0}, ybar = 0.0;
  double herr = 0.0, *w;
  int zero = 1;
  hs_objective *o;
  make_data(N, P, X, y);
  for (size_t i = 0; i < N; i++) ybar += y[i] / N;
  th[d - 1] = ybar / (1.0 + decay);
  for (size_t i = 0; i < N; i++) {
    const double r = th[d - 1] - y[i];
    for (size_t k = 0; k < P; k++) m[k] += r * X[i * P + k] / N;
    m[P] += r / N;
  }
  o = hs_nn_alloc(N, P, HU, X, y, decay);
  w = newwork(o);
  hs_objective_gradhess(o, th, g, H, w);
  for (size_t k = 0; k + 1 < d; k++) zero &= g[k] == 0.0;
  ok(zero && fabs(g[d - 1]) <= 8.0 * N * EPS * (1.0 + maxabs(N, y)),
     "nn: the dead-network point is critical (g_b2 = %.3g)", g[d - 1]);
  for (size_t u = 0; u < d; u++)
    for (size_t v = 0; v < d; v++) {
      double want = u == v ? decay : 0.0;
      if (u == d - 1 && v == d - 1) want += 1.0;
      for (size_t j = 0; j < HU; j++)
        for (size_t k = 0; k <= P; k++) {
          const size_t uk = k < P ? j * P + k : ib1 + j;
          if ((u == uk && v == iw2 + j) || (v == uk && u == iw2 + j)) want = m[k];
        }
      herr = worse(herr, fabs(H[u * d + v] - want));
    }
  ok(herr <= 8.0 * N * EPS * (1.0 + maxabs(N, y)) * maxabs(N * P, X),
     "nn: Hessian at the dead-network point: decay I, 1 at b2, mean r xt between u_j "
     "and w2_j (err %.3g)", herr);
  hs_objective_free(o);
  free(w);
}

/* A 1-1-1 network on two samples, small enough to write f out by hand, and the
** error paths of the finite-sum entry points (through the dispatcher and directly
** through the type table, which must not trust its caller either). */
static void test_small_values(void) {
  /* p = 1, h = 1: out = w2 tanh(W1 x + b1) + b2. */
  const double X[2] = {1.5, -0.75}, y[2] = {0.625, -1.25};
  const double th[4] = {0.5, -0.25, 2.0, 0.125};   /* W1, b1, w2, b2 */
  double out, f, want, r0, r1, g[4], w[4];
  size_t i3 = 2;
  hs_objective *o = hs_nn_alloc(2, 1, 1, X, y, 0.3);
  hs_objective *q = hs_saddle_alloc(1, X, 0.5);
  ok(hs_nn_predict(o, th, X, &out, NULL) == HS_OK, "nn: predict returns HS_OK");
  is_near(out, 2.0 * tanh(0.5) + 0.125, 2 * EPS * 2.5, "nn: predict = w2 tanh(W1 x + b1) + b2");
  is_int(hs_nn_predict(q, th, X, &out, NULL), HS_EINVAL, "nn: predict on another type");
  r0 = 2.0 * tanh(0.5 * 1.5 - 0.25) + 0.125 - 0.625;
  r1 = 2.0 * tanh(0.5 * -0.75 - 0.25) + 0.125 + 1.25;
  want = 0.25 * (r0 * r0 + r1 * r1) + 0.15 * (0.25 + 0.0625 + 4.0 + 0.015625);
  hs_objective_value(o, th, &f, w);
  is_near(f, want, 16 * EPS * want, "nn: f by hand for a 1-1-1 network on two samples");
  is_int(hs_objective_sample_grad(o, th, 2, g, w), HS_EINVAL, "nn: sample_grad rejects i = n");
  is_int(o->type->sample_grad(o, th, 2, g, w), HS_EINVAL,
         "nn: the type's sample_grad rejects i = n too");
  is_int(hs_objective_batch_grad(o, th, &i3, 1, g, w), HS_EINVAL,
         "nn: batch_grad rejects an index >= n");
  is_int(o->type->batch_grad(o, th, &i3, 1, g, w), HS_EINVAL,
         "nn: the type's batch_grad rejects an index >= n too");
  is_int(o->type->batch_grad(o, th, &i3, 0, g, w), HS_EINVAL, "nn: batch_grad rejects B = 0");
  hs_objective_free(o);
  hs_objective_free(q);
}

/* Dimension arithmetic and the allocation limits; the dummy arrays are never read
** because every failing size is refused before anything is copied. */
static void test_sizes(void) {
  const double dummy[2] = {0.0, 0.0};
  const size_t big = (size_t)1 << 33;
  is_int(hs_nn_dim(2, 8), 33, "nn: dim(p=2, h=8) = 33");
  is_int(hs_nn_dim(0, 3), 7, "nn: dim(p=0, h=3) = 7");
  is_int(hs_nn_dim(5, 0), 1, "nn: dim(p=5, h=0) = 1");
  is_int(hs_nn_dim(big, big), 0, "nn: dim with h p overflowing size_t is 0");
  is_int(hs_nn_dim(1, HS_MAXSIZE / 2), 0, "nn: dim above HS_MAXSIZE is 0");
  is_int(hs_nn_dim(SIZE_MAX, 1), 0, "nn: dim with p = SIZE_MAX is 0");
  ok(hs_nn_alloc(0, 2, 3, dummy, dummy, 0.1) == NULL, "nn: alloc with n = 0 is NULL");
  ok(hs_nn_alloc(big, big, 1, dummy, dummy, 0.1) == NULL, "nn: alloc with n p overflowing");
  ok(hs_nn_alloc(HS_MAXSIZE, 1, 1, dummy, dummy, 0.1) == NULL,
     "nn: alloc with n p + n above HS_MAXSIZE");
  ok(hs_nn_alloc(2, big, big, dummy, dummy, 0.1) == NULL, "nn: alloc with h p overflowing");
}


/* grad_samples gives, bit for bit, grad (H NULL) or gradhess, and sample_grad per
** row; hs_noise_gradcov gives gradhess's g and H and hs_noise_cov's Sigma, with and
** without replacement. The engine counts on it: its paths must not change with the
** way they are computed. */
static void test_grad_samples(const config *c) {
  const size_t d = hs_nn_dim(c->p, c->h), n = c->n;
  double *X = malloc((n * c->p + 1) * sizeof *X), *y = malloc(n * sizeof *y);
  double *th = malloc(d * sizeof *th), *g = malloc(d * sizeof *g), *g2 = malloc(d * sizeof *g2);
  double *H = malloc(d * d * sizeof *H), *H2 = malloc(d * d * sizeof *H2);
  double *Gs = malloc(n * d * sizeof *Gs), *gi = malloc(d * sizeof *gi);
  double *C = malloc(d * d * sizeof *C), *C2 = malloc(d * d * sizeof *C2);
  char name[64];
  make_data(n, c->p, X, y);
  hs_objective *o = hs_nn_alloc(n, c->p, c->h, X, y, c->decay);
  double *w = newwork(o);
  snprintf(name, sizeof name, "nn n=%zu p=%zu h=%zu", n, c->p, c->h);
  int same = 1, rows = 1, cov = 1;
  for (int q = 0; q < 3; q++) {
    make_theta(d, q, th);
    for (int withh = 0; withh < 2; withh++) {
      hs_status st = o->type->grad_samples(o, th, g, withh ? H : NULL, Gs, w);
      if (withh) hs_objective_gradhess(o, th, g2, H2, w);
      else hs_objective_grad(o, th, g2, w);
      same &= st == HS_OK && memcmp(g, g2, d * sizeof *g) == 0 &&
              (!withh || memcmp(H, H2, d * d * sizeof *H) == 0);
      for (size_t i = 0; i < n; i++) {
        hs_objective_sample_grad(o, th, i, gi, w);
        rows &= memcmp(gi, Gs + i * d, d * sizeof *gi) == 0;
      }
    }
    if (n < 2) continue;
    for (int replace = 0; replace < 2; replace++) {
      hs_noise *nz = hs_noise_batch_alloc(n > 2 ? 2 : 1, replace, 1);
      double *nw = malloc(hs_noise_worksize(nz, o) * sizeof *nw);
      cov &= hs_noise_shares(nz, o);
      cov &= hs_noise_gradcov(nz, o, th, g, H, C, nw) == HS_OK &&
             hs_noise_cov(nz, o, th, C2, nw) == HS_OK &&
             hs_objective_gradhess(o, th, g2, H2, w) == HS_OK &&
             memcmp(g, g2, d * sizeof *g) == 0 && memcmp(H, H2, d * d * sizeof *H) == 0 &&
             memcmp(C, C2, d * d * sizeof *C) == 0;
      cov &= hs_noise_gradcov(nz, o, th, g, NULL, C, nw) == HS_OK &&
             hs_objective_grad(o, th, g2, w) == HS_OK && memcmp(g, g2, d * sizeof *g) == 0 &&
             memcmp(C, C2, d * d * sizeof *C) == 0;
      free(nw);
      hs_noise_free(nz);
    }
  }
  ok(same, "%s: grad_samples's gradient (and Hessian) are grad's (gradhess's) bit for bit",
     name);
  ok(rows, "%s: grad_samples's rows are sample_grad's bit for bit", name);
  if (n >= 2)
    ok(cov, "%s: hs_noise_gradcov is gradhess (grad) and hs_noise_cov bit for bit", name);
  hs_objective_free(o);
  free(X); free(y); free(th); free(g); free(g2); free(H); free(H2); free(Gs); free(gi);
  free(C); free(C2); free(w);
}

int main(void) {
  /* A generic small net, the benchmark size (p = 2, h = 8: d = 33), a 1-1-1 net
  ** without decay, and p = 0 (biases only). n = 64 fills the Hessian's 4-sample
  ** blocks exactly; n = 7, 5 and 3 leave a last block of 3, 1 and 3 samples. */
  const config cfg[4] = {
    {7, 3, 4, 0.0137}, {64, 2, 8, 0.01}, {5, 1, 1, 0.0}, {3, 0, 2, 0.2},
  };
  test_sizes();
  test_small_values();
  for (int c = 0; c < 4; c++) test_network(&cfg[c]);
  for (int c = 0; c < 4; c++) test_grad_samples(&cfg[c]);
  test_residual_term();
  test_dead_network();
  return tap_done();
}
