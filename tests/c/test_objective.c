/*
** test_objective.c: the dispatchers and the built-in objectives (quadratic, wells,
** saddle, Rosenbrock): derivatives against finite differences, known values,
** fallbacks, allocation limits.
*/
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hs_objective.h"
#include "tap.h"

#define EPS DBL_EPSILON

/* {====================================================================
** Finite-difference checks
**
** For phi(t) smooth, the central difference D = (phi(h) - phi(-h)) / (2h) satisfies
**   D - phi'(0) = h^2/6 phi'''(xi)   for some xi in [-h, h]     (Taylor, mean value)
** so the truncation error is at most M h^2 / 6 with M >= |phi'''| on [-h, h]. When
** each evaluation of phi is off by at most e (rounding), the difference quotient is
** off by at most 2e / (2h) = e / h more. The total bound M h^2/6 + e/h is smallest at
**   h = (3 e / M)^(1/3)
** which is the step used (h = 0.25 when M = 0: the difference is then exact up to
** rounding, and a long step makes that small). The tolerance is twice the bound at
** that h, the factor 2 covering the estimates of M and e below. (The step actually
** taken is (x+h) - (x-h) as computed, which is what the quotient divides by.)
**
** phi is f along e_k for the gradient check (M bounds d^3 f / dx_k^3) and g_j along
** e_k for the Hessian check (M bounds d^4 f / dx_j dx_k^3).
**
** The built-ins are polynomials of degree deg <= 4 whose expanded coefficients are at
** most m in magnitude. With X = |x|_inf + 1/2 (>= every |x_k| within a step, since
** h <= 1/2 is asserted), each monomial of f is at most m (1+X)^deg and each monomial
** of g_j at most deg m (1+X)^(deg-1). Summing N monomials in floating point costs at
** most (N + 2) eps times the sum of their magnitudes, so
**   e_f = (N_f + 2) eps N_f m (1+X)^deg,  e_g = (N_g + 2) eps N_g deg m (1+X)^(deg-1)
** with N_f, N_g the number of monomials in f and in any g_j.
** ===================================================================== */

typedef struct bounds {
  double M3;    /* >= |d^3 f / dx_k^3| within a step of the point */
  double M4;    /* >= |d^4 f / dx_j dx_k^3| within a step of the point */
  double ef;    /* rounding error of one evaluation of f */
  double eg;    /* rounding error of one evaluation of any g_j */
} bounds;

static double fd_step(double M, double e) { return M > 0.0 ? cbrt(3.0 * e / M) : 0.25; }
static double fd_tol(double M, double e, double h) {
  return 2.0 * (M * h * h / 6.0 + e / h);
}

/* max(m, e) that keeps a NaN (fmax drops it): any NaN in an error makes the check fail. */
static double worse(double m, double e) { return (e > m || e != e) ? e : m; }

static double maxabs(size_t n, const double *v) {
  double m = 0.0;
  for (size_t i = 0; i < n; i++) m = worse(m, fabs(v[i]));
  return m;
}

/* Largest |g_k - D_k| over k, the central differences D_k of f, and the tolerance. */
static double fd_grad_err(const hs_objective *o, const double *x, const bounds *bd,
                          double *tol) {
  const size_t d = o->dim;
  const double h = fd_step(bd->M3, bd->ef);
  double *g = malloc(d * sizeof *g), *y = malloc(d * sizeof *y), err = 0.0;
  double *w = malloc((hs_objective_worksize(o) + 1) * sizeof *w);
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

/* Largest |H_jk - D_jk|, D_jk the central difference of g_j along e_k. */
static double fd_hess_err(const hs_objective *o, const double *x, const bounds *bd,
                          double *tol) {
  const size_t d = o->dim;
  const double h = fd_step(bd->M4, bd->eg);
  double *H = malloc(d * d * sizeof *H), *y = malloc(d * sizeof *y);
  double *gp = malloc(d * sizeof *gp), *gm = malloc(d * sizeof *gm), err = 0.0;
  double *w = malloc((hs_objective_worksize(o) + 1) * sizeof *w);
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

/* Rounding bounds of a polynomial objective (see the block comment above). */
static void poly_bounds(bounds *bd, double X, double m, int deg, double Nf, double Ng) {
  const double base = 1.0 + X;
  bd->ef = (Nf + 2.0) * EPS * Nf * m * pow(base, deg);
  bd->eg = (Ng + 2.0) * EPS * Ng * deg * m * pow(base, deg - 1);
}

/* The full battery at one point: gradient and Hessian against finite differences,
** exact symmetry, gradhess equal to grad and hess, and a tolerance fine enough that a
** relative error of 1e-5 in any derivative would be caught. */
static void check_point(const char *name, const hs_objective *o, const double *x,
                        const bounds *bd) {
  const size_t d = o->dim;
  double tg, th, eg, eh, asym = 0.0, dg = 0.0, dh = 0.0, gmax, hmax;
  double *g = malloc(d * sizeof *g), *H = malloc(d * d * sizeof *H);
  double *g2 = malloc(d * sizeof *g2), *H2 = malloc(d * d * sizeof *H2);
  double *w = malloc((hs_objective_worksize(o) + 1) * sizeof *w);
  eg = fd_grad_err(o, x, bd, &tg);
  eh = fd_hess_err(o, x, bd, &th);
  ok(fd_step(bd->M3, bd->ef) <= 0.5 && fd_step(bd->M4, bd->eg) <= 0.5,
     "%s: finite-difference steps within the bounds' range", name);
  ok(eg <= tg, "%s: gradient matches central differences (err %.3g, tol %.3g)", name, eg, tg);
  ok(eh <= th, "%s: Hessian matches central differences of the gradient (err %.3g, tol %.3g)",
     name, eh, th);
  hs_objective_grad(o, x, g, w);
  hs_objective_hess(o, x, H, w);
  for (size_t i = 0; i < d; i++)
    for (size_t j = 0; j < i; j++) asym = worse(asym, fabs(H[i * d + j] - H[j * d + i]));
  ok(asym == 0.0, "%s: Hessian exactly symmetric (max |H_ij - H_ji| = %.3g)", name, asym);
  /* gradhess through the dispatcher, outputs pre-filled with NaN: every entry must
  ** be written. The built-ins do the same arithmetic in gradhess as in grad and
  ** hess, so the bound (a few eps per accumulated term) is generous. */
  for (size_t k = 0; k < d; k++) g2[k] = NAN;
  for (size_t k = 0; k < d * d; k++) H2[k] = NAN;
  ok(hs_objective_gradhess(o, x, g2, H2, w) == HS_OK, "%s: gradhess returns HS_OK", name);
  for (size_t k = 0; k < d; k++) dg = worse(dg, fabs(g2[k] - g[k]));
  for (size_t k = 0; k < d * d; k++) dh = worse(dh, fabs(H2[k] - H[k]));
  gmax = maxabs(d, g);
  hmax = maxabs(d * d, H);
  ok(dg <= 4 * EPS * (1 + gmax) * (double)d && dh <= 4 * EPS * (1 + hmax) * (double)d,
     "%s: gradhess equals grad and hess (%.3g, %.3g)", name, dg, dh);
  ok(tg <= 1e-5 * (1.0 + gmax) && th <= 1e-5 * (1.0 + hmax),
     "%s: checks resolve relative errors of 1e-5 (tol %.3g vs |g| %.3g, %.3g vs |H| %.3g)",
     name, tg, gmax, th, hmax);
  free(g); free(H); free(g2); free(H2); free(w);
}

/* }==================================================================== */

/* High-entropy test points (|x_k| <= 1.4): no coordinate sits at a critical value
** (0, +-1) where a wrong term could vanish by accident. Objectives of dimension d use
** the first d entries. */
static const double PTS[3][8] = {
  {0.3817, -1.2043, 0.7719, -0.0581, 1.3377, -0.6172, 0.2213, -0.9461},
  {-0.8853, 0.4406, -0.2871, 1.0973, -1.3309, 0.1628, 0.9135, -0.5524},
  {1.1192, 0.0734, -0.9987, 0.6541, -0.3218, -1.1206, 0.5397, 0.8065},
};

static void test_quadratic(void) {
  /* Known values: H, b, x dyadic, so every result below is exact. */
  const double H[4] = {2.5, -0.75, -0.75, 1.25}, b[2] = {0.5, -1.5}, x[2] = {1.25, -0.5};
  double f, g[2], Hx[4];
  hs_objective *q = hs_quadratic_alloc(2, H, b), *q0 = hs_quadratic_alloc(2, H, NULL);
  const hs_quadratic_params *P;
  ok(q != NULL && q0 != NULL, "quadratic: alloc");
  ok(strcmp(q->type->name, "quadratic") == 0 && q->dim == 2 && q->nsamples == 0 &&
     q->worksize == 0 && q->thread_safe && hs_objective_worksize(q) == 0,
     "quadratic: fields (name, dim, nsamples, worksize, thread_safe)");
  hs_objective_value(q, x, &f, NULL);
  is_near(f, 3.953125, 0.0, "quadratic: f = 1/2 x'Hx + b'x exactly");
  hs_objective_value(q0, x, &f, NULL);
  is_near(f, 2.578125, 0.0, "quadratic: b NULL means b = 0");
  hs_objective_grad(q, x, g, NULL);
  ok(g[0] == 4.0 && g[1] == -3.0625, "quadratic: g = Hx + b exactly");
  hs_objective_hess(q, x, Hx, NULL);
  ok(memcmp(Hx, H, sizeof H) == 0, "quadratic: Hessian is H");
  P = q0->params;
  ok(P->b[0] == 0.0 && P->b[1] == 0.0 && P->H[1] == -0.75, "quadratic: params hold H and b = 0");
  hs_objective_free(q);
  hs_objective_free(q0);

  /* Finite differences on a dense 5 x 5 symmetric H (f quadratic: M = 0). */
  {
    enum { D = 5 };
    double A[D * D], bb[D];
    bounds bd = {0.0, 0.0, 0.0, 0.0};
    for (size_t i = 0; i < D; i++) {
      bb[i] = 0.37 * (double)i - 0.8123;
      for (size_t j = 0; j <= i; j++)
        A[i * D + j] = A[j * D + i] = (i == j) ? 2.1 + 0.3 * (double)i
                                               : 0.413 * sin(1.7 * (double)(i + 3 * j));
    }
    q = hs_quadratic_alloc(D, A, bb);
    for (int p = 0; p < 3; p++) {
      poly_bounds(&bd, maxabs(D, PTS[p]) + 0.5, 3.3, 2, D * D + D, D + 1);
      check_point("quadratic d=5", q, PTS[p], &bd);
    }
    hs_objective_free(q);
  }
}

static void test_wells(void) {
  /* Q = 0, tilt = 0: minima at every sign pattern of +-1, barrier d/4 at 0. At
  ** x_i = +-1 every term is exactly representable, so the checks are exact. */
  enum { D = 3 };
  const double Q[D * D] = {0.62, -0.21, 0.13, -0.21, 0.47, 0.08, 0.13, 0.08, 0.55};
  const double tilt[D] = {0.173, -0.091, 0.044};
  double f, g[D], H[D * D], x[D];
  int fmin_ok = 1;
  hs_objective *w = hs_wells_alloc(D, NULL, NULL);
  const hs_wells_params *P = w->params;
  ok(P->Q == NULL && P->tilt[2] == 0.0, "wells: uncoupled, untilted params");
  for (int s = 0; s < 1 << D; s++) {
    for (int i = 0; i < D; i++) x[i] = ((s >> i) & 1) ? 1.0 : -1.0;
    hs_objective_gradhess(w, x, g, H, NULL);
    hs_objective_value(w, x, &f, NULL);
    fmin_ok &= f == 0.0 && g[0] == 0.0 && g[1] == 0.0 && g[2] == 0.0;
    for (int i = 0; i < D; i++)
      for (int j = 0; j < D; j++) fmin_ok &= H[i * D + j] == (i == j ? 2.0 : 0.0);
  }
  ok(fmin_ok, "wells: f = 0, g = 0, H = 2I at all 8 minima (+-1, +-1, +-1)");
  x[0] = x[1] = x[2] = 0.0;
  hs_objective_value(w, x, &f, NULL);
  hs_objective_gradhess(w, x, g, H, NULL);
  ok(f == 0.75 && g[0] == 0.0 && g[1] == 0.0 && g[2] == 0.0 && H[0] == -1.0 &&
     H[4] == -1.0 && H[8] == -1.0 && H[1] == 0.0, "wells: barrier f(0) = d/4, g(0) = 0, H(0) = -I");
  hs_objective_free(w);

  /* With Q and tilt: g(0) = tilt, H(0) = Q - I, f(0) = d/4. */
  w = hs_wells_alloc(D, Q, tilt);
  hs_objective_value(w, x, &f, NULL);
  hs_objective_gradhess(w, x, g, H, NULL);
  {
    int eq = f == 0.75 && memcmp(g, tilt, sizeof g) == 0;
    for (int k = 0; k < D * D; k++) eq &= H[k] == Q[k] - (k % (D + 1) == 0 ? 1.0 : 0.0);
    ok(eq, "wells: with Q and tilt, f(0) = d/4, g(0) = tilt, H(0) = Q - I");
  }
  /* f at a point by hand: x = (0.5, -1.5, 0.25). */
  x[0] = 0.5; x[1] = -1.5; x[2] = 0.25;
  hs_objective_value(w, x, &f, NULL);
  {
    double want = 0.0, qx;
    for (int i = 0; i < D; i++) {
      qx = 0.0;
      for (int j = 0; j < D; j++) qx += Q[i * D + j] * x[j];
      want += (x[i] * x[i] - 1) * (x[i] * x[i] - 1) / 4 + 0.5 * x[i] * qx + tilt[i] * x[i];
    }
    is_near(f, want, 8 * EPS * 2.0, "wells: f matches the formula at (0.5, -1.5, 0.25)");
  }
  hs_objective_free(w);

  /* Finite differences: d = 1 uncoupled, d = 5 and d = 8 coupled. */
  {
    const size_t dims[3] = {1, 5, 8};
    double A[64], t[8];
    for (int c = 0; c < 3; c++) {
      const size_t d = dims[c];
      char name[32];
      for (size_t i = 0; i < d; i++) {
        t[i] = 0.21 * cos(2.3 * (double)i + 0.4);
        for (size_t j = 0; j <= i; j++)
          A[i * d + j] = A[j * d + i] = 0.35 * sin(0.9 * (double)(i * 7 + j) + 0.3);
      }
      w = (c == 0) ? hs_wells_alloc(d, NULL, t) : hs_wells_alloc(d, A, t);
      snprintf(name, sizeof name, "wells d=%zu%s", d, c == 0 ? "" : " Q");
      for (int p = 0; p < 3; p++) {
        /* d^3 f / dx_k^3 = 6 x_k (Q and tilt are at most quadratic); d^4 f = 6 on the
        ** diagonal. Monomials: 4 per coordinate plus d^2 from Q; g_j has 3 + d. */
        const double X = maxabs(d, PTS[p]) + 0.5;
        bounds bd = {6.0 * X, 6.0, 0, 0};
        poly_bounds(&bd, X, 1.0, 4, (double)(4 * d + d * d), (double)(3 + d));
        check_point(name, w, PTS[p], &bd);
      }
      hs_objective_free(w);
    }
  }
}

static void test_saddle(void) {
  enum { D = 4 };
  const double lam[D] = {1.7, -0.45, 0.3, -2.2};
  double x[D] = {0, 0, 0, 0}, f, g[D], H[D * D];
  int eq = 1;
  hs_objective *s = hs_saddle_alloc(D, lam, 0.83);
  hs_objective_value(s, x, &f, NULL);
  hs_objective_gradhess(s, x, g, H, NULL);
  for (int i = 0; i < D; i++)
    for (int j = 0; j < D; j++) eq &= H[i * D + j] == (i == j ? lam[i] : 0.0);
  ok(eq && f == 0.0 && g[0] == 0.0 && g[3] == 0.0, "saddle: f(0) = 0, g(0) = 0, H(0) = diag(lambda)");
  /* Minima along the negative directions: x_i = +-sqrt(-lambda_i / c), where
  ** f = -lambda_i^2 / (4c) and the curvature is -2 lambda_i. The square roots are
  ** rounded, so g vanishes only to within a few eps times lambda_i |x_i|. */
  x[1] = sqrt(0.45 / 0.83);
  x[3] = -sqrt(2.2 / 0.83);
  hs_objective_value(s, x, &f, NULL);
  hs_objective_gradhess(s, x, g, H, NULL);
  is_near(f, -(0.45 * 0.45 + 2.2 * 2.2) / (4 * 0.83), 16 * EPS * 2.0,
          "saddle: f at the minimum = -sum lambda_i^2 / 4c");
  ok(maxabs(D, g) <= 16 * EPS * 10, "saddle: g = 0 at the minimum (|g| = %.3g)", maxabs(D, g));
  is_near(H[1 * D + 1], 0.9, 16 * EPS, "saddle: curvature -2 lambda_1 at its minimum");
  is_near(H[3 * D + 3], 4.4, 16 * EPS * 4, "saddle: curvature -2 lambda_3 at its minimum");
  hs_objective_free(s);

  for (int c = 0; c < 2; c++) {
    const double cq = c == 0 ? 0.83 : 0.0;
    s = hs_saddle_alloc(D, lam, cq);
    for (int p = 0; p < 3; p++) {
      /* d^3 f / dx_k^3 = 6 c x_k, d^4 f = 6 c on the diagonal; 2 monomials per coordinate. */
      const double X = maxabs(D, PTS[p]) + 0.5;
      bounds bd = {6.0 * cq * X, 6.0 * cq, 0, 0};
      poly_bounds(&bd, X, 2.2, 4, 2.0 * D, 2.0);
      check_point(c == 0 ? "saddle c=0.83" : "saddle c=0", s, PTS[p], &bd);
    }
    hs_objective_free(s);
  }
}

static void test_rosenbrock(void) {
  enum { D = 6 };
  const double ones[D] = {1, 1, 1, 1, 1, 1};
  const double bq = 3.75;
  double f, g[D], H[D * D];
  int eq = 1;
  hs_objective *r = hs_rosenbrock_alloc(D, 1.0, bq);
  hs_objective_value(r, ones, &f, NULL);
  hs_objective_gradhess(r, ones, g, H, NULL);
  ok(f == 0.0 && maxabs(D, g) == 0.0, "rosenbrock: f = 0 and g = 0 at (1, ..., 1)");
  /* At the ones: H_ii = 8b + 2 (first), 10b + 2 (interior), 2b (last); H_{i,i+1} = -4b. */
  for (int i = 0; i < D; i++)
    for (int j = 0; j < D; j++) {
      double want = 0.0;
      if (i == j) want = i == 0 ? 8 * bq + 2 : i == D - 1 ? 2 * bq : 10 * bq + 2;
      else if (abs(i - j) == 1) want = -4 * bq;
      eq &= H[i * D + j] == want;
    }
  ok(eq, "rosenbrock: tridiagonal Hessian at the minimum");
  hs_objective_free(r);
  {
    const double a = 0.7, xm[2] = {0.7, 0.49};
    r = hs_rosenbrock_alloc(2, a, 100.0);
    hs_objective_value(r, xm, &f, NULL);
    hs_objective_grad(r, xm, g, NULL);
    ok(f <= 1e3 * EPS * EPS && maxabs(2, g) <= 400 * EPS,
       "rosenbrock d=2: minimum 0 at (a, a^2) (f = %.3g, |g| = %.3g)", f, maxabs(2, g));
    hs_objective_free(r);
  }
  r = hs_rosenbrock_alloc(1, 1.0, 100.0);
  hs_objective_value(r, ones, &f, NULL);
  hs_objective_gradhess(r, ones, g, H, NULL);
  ok(f == 0.0 && g[0] == 0.0 && H[0] == 0.0, "rosenbrock d=1: the empty sum (f, g, H = 0)");
  hs_objective_free(r);

  for (int c = 0; c < 2; c++) {
    const size_t d = c == 0 ? 2 : 8;
    const double a = c == 0 ? 1.0 : 0.7, b = c == 0 ? 100.0 : 3.1;
    r = hs_rosenbrock_alloc(d, a, b);
    for (int p = 0; p < 3; p++) {
      /* d^3 f / dx_k^3 = 24 b x_k, d^4 f = 24 b on the diagonal. Six monomials per term
      ** (b x_{i+1}^2, -2b x_{i+1} x_i^2, b x_i^4, a^2, -2a x_i, x_i^2), at most 8 in g_j;
      ** coefficients at most max(2b, a^2, 2a). */
      const double X = maxabs(d, PTS[p]) + 0.5;
      bounds bd = {24.0 * b * X, 24.0 * b, 0, 0};
      poly_bounds(&bd, X, fmax(2 * b, 2 * a), 4, 6.0 * (double)(d - 1), 8.0);
      check_point(c == 0 ? "rosenbrock d=2" : "rosenbrock d=8", r, PTS[p], &bd);
    }
    hs_objective_free(r);
  }
}

/* {====================================================================
** Dispatcher fallbacks, with a finite-sum test type that has only sample_grad:
** f_i(x) = 1/2 |x - c_i|^2, so grad f_i = x - c_i. Its worksize is 2 and it writes
** NaN over all of that scratch after its output, so a fallback that placed the
** per-sample gradient inside the type's scratch would show.
** ===================================================================== */

typedef struct toy {
  const double *c;    /* nsamples x dim centres */
  int *freed;
} toy;

static hs_status toy_value(const hs_objective *o, const double *x, double *f, double *w) {
  const toy *t = o->params;
  double s = 0.0;
  w[0] = w[1] = NAN;
  for (size_t i = 0; i < o->nsamples; i++)
    for (size_t k = 0; k < o->dim; k++) {
      double u = x[k] - t->c[i * o->dim + k];
      s += 0.5 * u * u;
    }
  *f = s / (double)o->nsamples;
  return HS_OK;
}

static hs_status toy_grad(const hs_objective *o, const double *x, double *g, double *w) {
  const toy *t = o->params;
  w[0] = w[1] = NAN;
  for (size_t k = 0; k < o->dim; k++) {
    double s = 0.0;
    for (size_t i = 0; i < o->nsamples; i++) s += x[k] - t->c[i * o->dim + k];
    g[k] = s / (double)o->nsamples;
  }
  return HS_OK;
}

static hs_status toy_hess(const hs_objective *o, const double *x, double *H, double *w) {
  (void)x;
  w[0] = w[1] = NAN;
  for (size_t i = 0; i < o->dim; i++)
    for (size_t j = 0; j < o->dim; j++) H[i * o->dim + j] = i == j ? 1.0 : 0.0;
  return HS_OK;
}

static hs_status toy_sample_grad(const hs_objective *o, const double *x, size_t i,
                                 double *g, double *w) {
  const toy *t = o->params;
  for (size_t k = 0; k < o->dim; k++) g[k] = x[k] - t->c[i * o->dim + k];
  w[0] = w[1] = NAN;                   /* after g: shows if g overlaps the scratch */
  return HS_OK;
}

static void toy_free(hs_objective *o) {
  toy *t = o->params;
  (*t->freed)++;
}

static const hs_objective_type toy_type = {
  .name = "toy", .value = toy_value, .grad = toy_grad, .hess = toy_hess,
  .sample_grad = toy_sample_grad, .free = toy_free,
};
static const hs_objective_type bare_type = {.name = "bare", .value = toy_value};

static void test_dispatch(void) {
  enum { D = 3, N = 4 };
  const double c[N * D] = {0.25, -1.5, 0.75, 1.125, 0.5, -0.25,
                           -0.875, 2.0, 0.0625, 0.375, -0.625, 1.75};
  const double x[D] = {0.3817, -1.2043, 0.7719};
  const size_t idx[5] = {3, 0, 3, 2, 1}, bad[2] = {1, N};
  int freed = 0;
  toy t = {c, &freed};
  hs_objective *o = malloc(sizeof *o);
  double g[D], gb[D], H[D * D], H2[D * D], *w;
  size_t ws;
  *o = (hs_objective){.type = &toy_type, .dim = D, .nsamples = N, .worksize = 2,
                      .thread_safe = 1, .params = &t};
  ws = hs_objective_worksize(o);
  is_int(ws, 2 + D, "dispatch: worksize adds dim for the batch_grad fallback");
  w = malloc(ws * sizeof *w);

  ok(hs_objective_gradhess(o, x, g, H, w) == HS_OK, "dispatch: gradhess falls back");
  hs_objective_hess(o, x, H2, w);
  {
    double gg[D];
    hs_objective_grad(o, x, gg, w);
    ok(memcmp(gg, g, sizeof g) == 0 && memcmp(H, H2, sizeof H) == 0,
       "dispatch: fallback gradhess = grad then hess");
  }
  ok(hs_objective_batch_grad(o, x, idx, 5, gb, w) == HS_OK, "dispatch: batch_grad falls back");
  {
    double err = 0.0;
    for (size_t k = 0; k < D; k++) {
      double want = 0.0;
      for (size_t b = 0; b < 5; b++) want += x[k] - c[idx[b] * D + k];
      err = worse(err, fabs(gb[k] - want / 5));
    }
    ok(err <= 8 * EPS * 4, "dispatch: fallback batch_grad is the mean of sample_grad (err %.3g)", err);
  }
  {
    double all = 0.0;
    const size_t every[N] = {0, 1, 2, 3};
    hs_objective_batch_grad(o, x, every, N, gb, w);
    for (size_t k = 0; k < D; k++) all = worse(all, fabs(gb[k] - g[k]));
    ok(all <= 8 * EPS * 4, "dispatch: batch over every sample = grad (err %.3g)", all);
  }
  gb[0] = 0.6931;
  is_int(hs_objective_batch_grad(o, x, bad, 2, gb, w), HS_EINVAL,
         "dispatch: batch_grad rejects an index >= nsamples");
  ok(gb[0] == 0.6931, "dispatch: a rejected batch leaves g untouched");
  is_int(hs_objective_batch_grad(o, x, idx, 0, gb, w), HS_EINVAL,
         "dispatch: batch_grad rejects B = 0");
  is_int(hs_objective_sample_grad(o, x, N, gb, w), HS_EINVAL,
         "dispatch: sample_grad rejects i >= nsamples");
  ok(hs_objective_sample_grad(o, x, 2, gb, w) == HS_OK && gb[1] == x[1] - c[2 * D + 1],
     "dispatch: sample_grad");
  hs_objective_free(o);
  is_int(freed, 1, "dispatch: hs_objective_free calls the type's free once");
  hs_objective_free(NULL);
  ok(1, "dispatch: hs_objective_free(NULL) is a no-op");

  /* A type with only value and no samples: every derivative call is rejected
  ** rather than run through a NULL pointer, and no fallback room is requested. */
  {
    hs_objective b = {.type = &bare_type, .dim = D, .worksize = 2, .thread_safe = 1,
                      .params = &t};
    is_int(hs_objective_grad(&b, x, g, w), HS_EINVAL, "dispatch: no grad gives HS_EINVAL");
    is_int(hs_objective_hess(&b, x, H, w), HS_EINVAL, "dispatch: no hess gives HS_EINVAL");
    is_int(hs_objective_gradhess(&b, x, g, H, w), HS_EINVAL,
           "dispatch: no gradhess fallback without grad and hess");
    is_int(hs_objective_batch_grad(&b, x, idx, 2, g, w), HS_EINVAL,
           "dispatch: batch_grad of a non-finite-sum gives HS_EINVAL");
    is_int(hs_objective_sample_grad(&b, x, 0, g, w), HS_EINVAL,
           "dispatch: sample_grad of a non-finite-sum gives HS_EINVAL");
    is_int(hs_objective_worksize(&b), 2, "dispatch: no fallback room when not a finite sum");
  }
  free(w);

  /* The built-ins carry no scratch and no fallback need. */
  {
    hs_objective *q = hs_quadratic_alloc(2, c, NULL);
    ok(q->type->batch_grad == NULL && q->type->sample_grad == NULL &&
       hs_objective_batch_grad(q, x, idx, 1, g, NULL) == HS_EINVAL,
       "dispatch: a built-in that is not a finite sum rejects batch_grad");
    hs_objective_free(q);
  }
}

/* }==================================================================== */

/* Sizes that overflow size_t or exceed HS_MAXSIZE are refused before malloc: the
** dummy arrays are never read, because nothing is allocated to copy them into. */
static void test_sizes(void) {
  const double dummy[4] = {0};
  const size_t half = (size_t)1 << (sizeof(size_t) * 4);
  ok(hs_quadratic_alloc(half, dummy, NULL) == NULL, "sizes: quadratic d*d overflowing size_t");
  ok(hs_quadratic_alloc((size_t)1 << 21, dummy, NULL) == NULL,
     "sizes: quadratic d*d above HS_MAXSIZE");
  ok(hs_wells_alloc((size_t)1 << 21, dummy, NULL) == NULL, "sizes: wells with Q, d*d too large");
  ok(hs_wells_alloc(HS_MAXSIZE + 1, NULL, NULL) == NULL, "sizes: wells d above HS_MAXSIZE");
  ok(hs_saddle_alloc(SIZE_MAX, dummy, 1.0) == NULL, "sizes: saddle d = SIZE_MAX");
  {
    /* Sizes just under the limits allocate (small enough to be cheap here). */
    hs_objective *w = hs_wells_alloc(100000, NULL, NULL);
    ok(w != NULL && w->dim == 100000, "sizes: uncoupled wells with d = 1e5 need only O(d)");
    hs_objective_free(w);
  }
}

int main(void) {
  test_quadratic();
  test_wells();
  test_saddle();
  test_rosenbrock();
  test_dispatch();
  test_sizes();
  return tap_done();
}
