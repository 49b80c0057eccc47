/*
** test_finsum.c: the finite-sum objectives (hs_finsum): values, gradients, Hessians,
** per-sample gradients and the minibatch covariance against NumPy
** (tests/fixtures/finsum.txt, from tests/tools/gen_finsum_fixtures.py), derivatives
** against central differences, the finite-sum structure, overflow-free logistic
** values, and the allocation limits.
*/
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hs_finsum.h"
#include "hs_noise.h"
#include "tap.h"
#include "fixture.h"

#define EPS DBL_EPSILON
#define FIXTURE "tests/fixtures/finsum.txt"

static double *alloc(size_t n) {
  double *p = malloc((n > 0 ? n : 1) * sizeof *p);
  if (p == NULL) exit(2);
  for (size_t k = 0; k < n; k++) p[k] = NAN;   /* no result may depend on it */
  return p;
}

/* max(m, e) that keeps a NaN: any NaN in an error makes a check fail. */
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
** Against NumPy
**
** hasme and NumPy evaluate the same formulas in different orders. A sum of m terms
** of magnitude at most T, each computed with a relative error of a few eps (a dot
** product of length p, one exp/log1p), differs by at most about (m + p + 4) eps T
** between two orders; the tolerances below are 4 times that, with T the largest
** term: |f_i| for the value, |grad f_i| entries for gradients, |l''| |a_i|_inf^2 for
** the Hessian and |g_i - g|^2 / B for the covariance.
** ===================================================================== */

static void against_numpy(const fixtures *fx, const char *name) {
  const fixture *kind = find(fx, "kind", name), *A = find(fx, "A", name),
                *y = find(fx, "y", name), *dc = find(fx, "decay", name),
                *bt = find(fx, "batch", name);
  if (!ok(kind && A && y && dc && bt, "%s: fixture has the data", name)) return;
  const size_t n = A->rows, p = A->cols;
  const double decay = dc->v[0];
  const int logistic = kind->v[0] != 0.0;
  hs_objective *o = logistic ? hs_logistic_alloc(n, p, A->v, y->v, decay)
                             : hs_least_squares_alloc(n, p, A->v, y->v, decay);
  if (!ok(o != NULL, "%s: allocates", name)) return;
  ok(o->dim == p && o->nsamples == n && o->thread_safe && o->worksize == 0,
     "%s: dim %zu, %zu samples, thread safe, no scratch", name, p, n);
  ok(strcmp(o->type->name, logistic ? "logistic" : "least_squares") == 0, "%s: type name", name);
  double *g = alloc(p), *H = alloc(p * p), *gi = alloc(p), *C = alloc(p * p);
  double *work = alloc(hs_objective_worksize(o) + 2 * p + 8);
  const double amax = fmax(1.0, maxabs(n * p, A->v)), m = (double)(n + p + 4);
  for (int k = 1; ; k++) {
    char kx[32], kv[32], kg[32], kh[32], ks[32], kc[32], kr[32];
    snprintf(kx, sizeof kx, "x%d", k);
    snprintf(kv, sizeof kv, "value%d", k);
    snprintf(kg, sizeof kg, "grad%d", k);
    snprintf(kh, sizeof kh, "hess%d", k);
    snprintf(ks, sizeof ks, "samples%d", k);
    snprintf(kc, sizeof kc, "cov%d", k);
    snprintf(kr, sizeof kr, "covr%d", k);
    const fixture *x = find(fx, kx, name);
    if (x == NULL) break;
    const fixture *fv = find(fx, kv, name), *fg = find(fx, kg, name), *fh = find(fx, kh, name),
                  *fs = find(fx, ks, name), *fc = find(fx, kc, name), *fr = find(fx, kr, name);
    const double smax = fmax(1.0, maxabs(n * p, fs->v));
    double f = NAN;
    ok(hs_objective_value(o, x->v, &f, work) == HS_OK, "%s x%d: value runs", name, k);
    /* The largest f_i is at most |value| n (all terms are >= 0). */
    is_near(f, fv->v[0], 4.0 * m * EPS * fmax(1.0, fabs(fv->v[0]) * (double)n),
            "%s x%d: value as NumPy", name, k);
    ok(hs_objective_grad(o, x->v, g, work) == HS_OK, "%s x%d: gradient runs", name, k);
    is_near(maxdiff(p, g, fg->v), 0.0, 4.0 * m * EPS * smax, "%s x%d: gradient as NumPy", name, k);
    ok(hs_objective_hess(o, x->v, H, work) == HS_OK, "%s x%d: Hessian runs", name, k);
    is_near(maxdiff(p * p, H, fh->v), 0.0, 4.0 * m * EPS * (amax * amax + decay),
            "%s x%d: Hessian as NumPy", name, k);
    double worst = 0.0;
    int failed = 0;
    for (size_t i = 0; i < n; i++) {
      if (hs_objective_sample_grad(o, x->v, i, gi, work) != HS_OK) failed = 1;
      else worst = worse(worst, maxdiff(p, gi, fs->v + i * p));
    }
    ok(!failed, "%s x%d: every sample gradient runs", name, k);
    is_near(worst, 0.0, 4.0 * (double)(p + 4) * EPS * smax,
            "%s x%d: every per-sample gradient as NumPy", name, k);
    for (int replace = 0; replace <= 1; replace++) {
      hs_noise *nz = hs_noise_batch_alloc((size_t)bt->v[0], replace, 0);
      double *w2 = alloc(hs_noise_worksize(nz, o));
      ok(hs_noise_cov(nz, o, x->v, C, w2) == HS_OK, "%s x%d: minibatch covariance runs", name, k);
      is_near(maxdiff(p * p, C, replace ? fr->v : fc->v), 0.0,
              4.0 * m * EPS * 4.0 * smax * smax / bt->v[0],
              "%s x%d: minibatch covariance (B = %g, %s replacement) as NumPy", name, k,
              bt->v[0], replace ? "with" : "without");
      free(w2);
      hs_noise_free(nz);
    }
  }
  free(g); free(H); free(gi); free(C); free(work);
  hs_objective_free(o);
}

/* }==================================================================== */

/* {====================================================================
** Finite differences
**
** A central difference with step h is within M h^2/6 + e/h of the derivative when
** |phi'''| <= M within the step and each evaluation errs by at most e; with
** h = (3e/M)^(1/3) the tolerance is twice that bound (h = 2^-10 when M = 0).
** Along coordinate k, d^3 f / dx_k^3 = mean_i l'''(t_i) a_ik^3 and the fourth
** derivative mean_i l''''(t_i) a_ik^4: l''' = 0 for least squares; for the logistic
** loss |l'''| <= 1/(6 sqrt 3) < 0.0963 and |l''''| <= 1/8. For a Hessian entry
** (u, k) from differences of grad_u along k the third derivative involves
** a_iu a_ik^2, bounded by amax^3 (and amax^4 for the logistic fourth).
** ===================================================================== */

static double fd_step(double M, double e) { return M > 0.0 ? cbrt(3.0 * e / M) : 0x1p-10; }
static double fd_tol(double M, double e, double h) { return 2.0 * (M * h * h / 6.0 + e / h); }

static void finite_differences(const char *what, hs_objective *o, const double *x0) {
  const hs_finsum_params *P = o->params;
  const size_t n = P->n, p = P->p;
  const int logistic = o->type == &hs_logistic_type;
  double *x = alloc(p), *g = alloc(p), *gp = alloc(p), *gm = alloc(p), *H = alloc(p * p);
  double amax = fmax(1.0, maxabs(n * p, P->A)), xmax = fmax(1.0, maxabs(p, x0));
  double f0, worst_g = 0.0, worst_h = 0.0, tol_g = 0.0, tol_h = 0.0;
  memcpy(x, x0, p * sizeof *x);
  hs_objective_value(o, x, &f0, NULL);
  hs_objective_grad(o, x, g, NULL);
  hs_objective_hess(o, x, H, NULL);
  /* Rounding of one evaluation: the value is a mean of terms each below
  ** |f| n + decay |x|^2, the gradient entries below (|t| + |y|) amax + decay |x|. */
  double ymax = maxabs(n, P->y), tmax = (double)p * amax * (xmax + 1.0);
  double e_f = 8.0 * (double)(n + p + 4) * EPS * (fabs(f0) * (double)n + 1.0 + P->decay * xmax * xmax * (double)p);
  double e_g = 8.0 * (double)(n + p + 4) * EPS * ((tmax + ymax) * amax + P->decay * (xmax + 1.0));
  double M3 = logistic ? 0.0963 * amax * amax * amax : 0.0;
  double M4 = logistic ? 0.125 * amax * amax * amax * amax : 0.0;
  double hg = fd_step(M3, e_f), hh = fd_step(M4, e_g);
  tol_g = fd_tol(M3, e_f, hg);
  tol_h = fd_tol(M4, e_g, hh);
  for (size_t k = 0; k < p; k++) {
    double fp, fm;
    x[k] = x0[k] + hg;
    hs_objective_value(o, x, &fp, NULL);
    x[k] = x0[k] - hg;
    hs_objective_value(o, x, &fm, NULL);
    worst_g = worse(worst_g, fabs((fp - fm) / (2.0 * hg) - g[k]));
    x[k] = x0[k] + hh;
    hs_objective_grad(o, x, gp, NULL);
    x[k] = x0[k] - hh;
    hs_objective_grad(o, x, gm, NULL);
    x[k] = x0[k];
    for (size_t u = 0; u < p; u++)
      worst_h = worse(worst_h, fabs((gp[u] - gm[u]) / (2.0 * hh) - H[u * p + k]));
  }
  is_near(worst_g, 0.0, tol_g, "%s: gradient matches central differences of the value", what);
  is_near(worst_h, 0.0, tol_h, "%s: Hessian matches central differences of the gradient", what);
  free(x); free(g); free(gp); free(gm); free(H);
}

/* }==================================================================== */

/* High-entropy data of n x p (a fixed linear congruential sequence). */
static void fill(size_t n, double *v, double scale, unsigned seed) {
  unsigned s = seed;
  for (size_t i = 0; i < n; i++) {
    s = s * 1103515245u + 12345u;
    v[i] = scale * ((double)((s >> 8) & 0xffff) / 65536.0 - 0.5);
  }
}

static void test_structure(void) {
  const size_t n = 13, p = 4;
  double A[13 * 4], y[13], lab[13], x[4] = {0.61, -1.25, 2.385, 0.07};
  fill(n * p, A, 3.0, 7u);
  fill(n, y, 2.0, 11u);
  for (size_t i = 0; i < n; i++) lab[i] = y[i] > 0.0 ? 1.0 : -1.0;
  hs_objective *ls = hs_least_squares_alloc(n, p, A, y, 0.0);
  hs_objective *lsd = hs_least_squares_alloc(n, p, A, y, 0.3);
  hs_objective *lg = hs_logistic_alloc(n, p, A, lab, 0.0);
  hs_objective *lgd = hs_logistic_alloc(n, p, A, lab, 0.3);
  finite_differences("least squares", ls, x);
  finite_differences("least squares with decay", lsd, x);
  finite_differences("logistic", lg, x);
  finite_differences("logistic with decay", lgd, x);
  /* The batch of every index, in any order, is the full gradient; a batch of one
  ** index is that sample's gradient. */
  size_t idx[13];
  for (size_t i = 0; i < n; i++) idx[i] = (7 * i + 3) % n;
  hs_objective *all[4] = {ls, lsd, lg, lgd};
  for (int t = 0; t < 4; t++) {
    double g[4], gb[4], gi[4];
    hs_objective_grad(all[t], x, g, NULL);
    ok(hs_objective_batch_grad(all[t], x, idx, n, gb, NULL) == HS_OK, "batch over all samples runs");
    is_near(maxdiff(p, g, gb), 0.0, 64.0 * (double)n * EPS * fmax(1.0, maxabs(p, g)) * 10.0,
            "%s: the batch of all samples is the gradient", all[t]->type->name);
    size_t five = 5;
    hs_objective_sample_grad(all[t], x, five, gi, NULL);
    hs_objective_batch_grad(all[t], x, &five, 1, gb, NULL);
    ok(maxdiff(p, gi, gb) == 0.0, "%s: a batch of one sample is its gradient", all[t]->type->name);
    ok(hs_objective_sample_grad(all[t], x, n, gi, NULL) == HS_EINVAL,
       "%s: sample index n is rejected", all[t]->type->name);
    size_t bad[2] = {0, n};
    ok(hs_objective_batch_grad(all[t], x, bad, 2, gb, NULL) == HS_EINVAL,
       "%s: a batch index n is rejected", all[t]->type->name);
    ok(hs_objective_batch_grad(all[t], x, bad, 0, gb, NULL) == HS_EINVAL,
       "%s: an empty batch is rejected", all[t]->type->name);
  }
  /* Least squares: the Hessian does not depend on x and decay adds to the diagonal. */
  double H1[16], H2[16], Hd[16], z[4] = {-3.0, 0.5, 9.0, 1.0};
  hs_objective_hess(ls, x, H1, NULL);
  hs_objective_hess(ls, z, H2, NULL);
  hs_objective_hess(lsd, z, Hd, NULL);
  ok(maxdiff(16, H1, H2) == 0.0, "least squares: the Hessian is constant");
  for (size_t u = 0; u < p; u++) H1[u * p + u] += 0.3;
  ok(maxdiff(16, H1, Hd) == 0.0, "least squares: decay adds decay I to the Hessian");
  for (int t = 0; t < 4; t++) hs_objective_free(all[t]);
}

/* Large margins: log(1 + e^-m) must keep its digits for m = 40 (about 4.2e-18) and
** be about |m| for m = -800, where e^800 overflows. */
static void test_logistic_extremes(void) {
  double A[2] = {1.0, -1.0}, y[2] = {1.0, 1.0}, f, g, H;
  hs_objective *o = hs_logistic_alloc(2, 1, A, y, 0.0);
  double x = 40.0;
  hs_objective_value(o, &x, &f, NULL);
  /* f = (log1p(e^-40) + 40 + log1p(e^-40)) / 2 */
  is_near(f, 0.5 * (40.0 + 2.0 * exp(-40.0)), 4.0 * EPS * 20.0, "logistic: value at margins +-40");
  x = 800.0;
  hs_objective_value(o, &x, &f, NULL);
  hs_objective_grad(o, &x, &g, NULL);
  hs_objective_hess(o, &x, &H, NULL);
  is_near(f, 400.0, 4.0 * EPS * 400.0, "logistic: value at margins +-800 (no overflow)");
  is_near(g, 0.5, 4.0 * EPS, "logistic: gradient at margins +-800 is 1/2");
  ok(H == 0.0 || (H > 0.0 && H < 1e-300), "logistic: Hessian at margins +-800 underflows to ~0 (got %g)", H);
  hs_objective_free(o);
}

/* The least-squares Hessian formed on each call (no Gram matrix kept when p > n
** and p p > 2^20) equals the sum of outer products. */
static void test_wide(void) {
  const size_t n = 3, p = 1100;
  double *A = alloc(n * p), y[3] = {0.5, -1.5, 2.0}, *x = alloc(p), *H = alloc(p * p);
  fill(n * p, A, 2.0, 5u);
  fill(p, x, 1.0, 9u);
  hs_objective *o = hs_least_squares_alloc(n, p, A, y, 0.25);
  const hs_finsum_params *P = o->params;
  ok(P->AtA == NULL, "wide least squares keeps no p x p Gram matrix");
  hs_objective_hess(o, x, H, NULL);
  double worst = 0.0;
  for (size_t u = 0; u < p; u += 37)
    for (size_t v = 0; v < p; v += 41) {
      double s = 0.0;
      for (size_t i = 0; i < n; i++) s += A[i * p + u] * A[i * p + v];
      s = s / 3.0 + (u == v ? 0.25 : 0.0);
      worst = worse(worst, fabs(H[u * p + v] - s));
    }
  is_near(worst, 0.0, 16.0 * EPS, "wide least squares: Hessian entries are (1/n) A'A + decay I");
  hs_objective_free(o);
  free(A); free(x); free(H);
}

static void test_alloc_limits(void) {
  double A[1] = {1.0}, y[1] = {1.0};
  ok(hs_least_squares_alloc(0, 1, A, y, 0.0) == NULL, "no samples: NULL");
  ok(hs_logistic_alloc(1, 0, A, y, 0.0) == NULL, "no features: NULL");
  ok(hs_least_squares_alloc(HS_MAXSIZE, 2, A, y, 0.0) == NULL, "n p above HS_MAXSIZE: NULL");
  ok(hs_logistic_alloc((size_t)1 << 30, (size_t)1 << 30, A, y, 0.0) == NULL,
     "n p overflowing the limit: NULL");
}

int main(void) {
  fixtures fx = load(FIXTURE);
  const char *cases[] = {"ls9x3", "ls5x4decay", "lg11x3", "lg6x2decay"};
  for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) against_numpy(&fx, cases[c]);
  unload(&fx);
  test_structure();
  test_logistic_extremes();
  test_wide();
  test_alloc_limits();
  return tap_done();
}
