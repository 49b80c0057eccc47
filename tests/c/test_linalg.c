/*
** test_linalg.c: the dense kernels, the symmetric eigensolvers (in-house small
** solvers, warm-started Jacobi, LAPACK), Cholesky and PSD factors: known answers,
** invariants on seeded random matrices, and NumPy/SciPy references from
** tests/fixtures/linalg_{eig,matfun,chol}.txt. With HASME_BENCH=1 in the
** environment it also prints the time per eigendecomposition as TAP comments.
*/
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hs_lapack.h"
#include "hs_linalg.h"
#include "hs_phi.h"
#include "hs_util.h"
#include "tap.h"
#include "fixture.h"

#define EPS DBL_EPSILON

/* {====================================================================
** Helpers: a seeded generator, matrix builders and error measures
** ===================================================================== */

/* Knuth's MMIX LCG; the top 53 bits give a uniform double in [-1/2, 1/2). */
static unsigned long long lcg_state = 0x9E3779B97F4A7C15ULL;

static double lcg(void) {
  lcg_state = lcg_state * 6364136223846793005ULL + 1442695040888963407ULL;
  return (double)(lcg_state >> 11) * 0x1p-53 - 0.5;
}

static double *alloc(size_t count) {
  double *p = calloc(count > 0 ? count : 1, sizeof(double));
  if (p == NULL) {
    printf("Bail out! out of memory\n");
    exit(2);
  }
  return p;
}

static void random_symmetric(size_t n, double *A, double scale) {
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j <= i; j++) A[i * n + j] = A[j * n + i] = scale * lcg();
}

/* A = Q diag(w) Q' with Q = I - 2 v v' / v'v, a reflection from a random v. */
static void with_eigenvalues(size_t n, const double *w, double *A) {
  double *v = alloc(n), *Q = alloc(n * n), vv = 0.0;
  for (size_t i = 0; i < n; i++) {
    v[i] = lcg() + 0.1;
    vv += v[i] * v[i];
  }
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < n; j++) Q[i * n + j] = (i == j) - 2.0 * v[i] * v[j] / vv;
  hs_sym_from_eig(n, Q, w, A);
  free(v);
  free(Q);
}

static double maxabs(size_t count, const double *x) {
  double m = 0.0;
  for (size_t i = 0; i < count; i++) m = fabs(x[i]) > m ? fabs(x[i]) : m;
  return m;
}

static double maxdiff(size_t count, const double *x, const double *y) {
  double m = 0.0;
  for (size_t i = 0; i < count; i++) {
    double d = fabs(x[i] - y[i]);
    if (!(d <= m)) m = d;  /* NaN propagates */
  }
  return m;
}

/* ||A - V diag(w) V'||_F / ||A||_F (0 for A = 0 reproduced exactly). */
static double recon_error(size_t n, const double *A, const double *w, const double *V) {
  double *R = alloc(n * n);
  hs_sym_from_eig(n, V, w, R);
  for (size_t i = 0; i < n * n; i++) R[i] -= A[i];
  double e = hs_nrm2(n * n, R), a = hs_nrm2(n * n, A);
  free(R);
  return a > 0.0 ? e / a : e;
}

/* max |V'V - I|. */
static double orth_error(size_t n, const double *V) {
  double m = 0.0;
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < n; j++) {
      double s = 0.0;
      for (size_t k = 0; k < n; k++) s += V[k * n + i] * V[k * n + j];
      s = fabs(s - (i == j ? 1.0 : 0.0));
      if (!(s <= m)) m = s;
    }
  return m;
}

static int ascending(size_t n, const double *w) {
  for (size_t i = 1; i < n; i++)
    if (!(w[i - 1] <= w[i])) return 0;
  return 1;
}

/* }==================================================================== */

/* {====================================================================
** Kernels
** ===================================================================== */

static void test_kernels(void) {
  double x[] = {2.385, -1.25, 0.5, 3.75, -0.125};
  double y[] = {1.5, 0.875, -2.625, 0.3125, 4.0625};
  is_near(hs_dot(5, x, y), 1.8353124999999997, 4 * EPS * 1.84, "dot of 5 known values");
  is_near(hs_dot(0, x, y), 0.0, 0.0, "dot of empty vectors is 0");
  is_near(hs_dot(1, x, y), 2.385 * 1.5, 0.0, "dot of one element");

  double v[] = {3.0, 4.0};
  is_near(hs_nrm2(2, v), 5.0, 0.0, "nrm2 {3, 4} = 5");
  double big[] = {3e200, -4e200}, small[] = {3e-200, 4e-200}, sub[] = {3e-320, 4e-320};
  is_near(hs_nrm2(2, big), 5e200, 2 * EPS * 5e200, "nrm2 {3e200, -4e200} = 5e200 (no overflow)");
  is_near(hs_nrm2(2, small), 5e-200, 2 * EPS * 5e-200,
          "nrm2 {3e-200, 4e-200} = 5e-200 (no underflow)");
  is_near(hs_nrm2(2, sub), 5e-320, 2e-323, "nrm2 of subnormals = 5e-320");
  double mixed[] = {1e300, 2.385, -1e300};
  is_near(hs_nrm2(3, mixed), sqrt(2.0) * 1e300, 2 * EPS * 1.5e300, "nrm2 {1e300, 2.385, -1e300}");
  double withinf[] = {1.0, -INFINITY, 2.0}, withnan[] = {1.0, NAN, 1e300};
  ok(isinf(hs_nrm2(3, withinf)), "nrm2 with an infinite entry is inf");
  ok(isnan(hs_nrm2(3, withnan)), "nrm2 with a NaN entry is NaN");
  is_near(hs_nrm2(0, v), 0.0, 0.0, "nrm2 of an empty vector is 0");

  double A[] = {2.385, -1.25, 0.5, 0.75, 3.125, -2.0};
  double xv[] = {1.5, -0.875, 2.25}, yv[] = {0.625, -1.75};
  hs_gemv(2, 3, 2.5, A, xv, -0.75, yv);
  is_near(yv[0], 14.021875, 4 * EPS * 14.0, "gemv y[0] = 2.5 (A x)[0] - 0.75 y[0]");
  is_near(yv[1], -13.9609375, 4 * EPS * 14.0, "gemv y[1]");
  double ygarbage[] = {NAN, INFINITY};
  hs_gemv(2, 3, 1.0, A, xv, 0.0, ygarbage);
  ok(isfinite(ygarbage[0]) && isfinite(ygarbage[1]), "gemv with beta = 0 ignores y's input");
  is_near(ygarbage[0], 2.385 * 1.5 + 1.25 * 0.875 + 0.5 * 2.25, 4 * EPS * 5.0,
          "gemv with beta = 0 gives A x");

  double B[] = {1.25, -0.5, 2.0, 0.375, -1.5, 3.0}, C[4];
  double Cwant[] = {-0.26875000000000027, -0.1612499999999999, 10.1875, -5.203125};
  hs_gemm(2, 3, 2, A, B, C);
  ok(maxdiff(4, C, Cwant) <= 8 * EPS * 10.0, "gemm 2x3 times 3x2 (off by %.3g)",
     maxdiff(4, C, Cwant));

  double S[] = {2.385, 1.5, -0.25, 1.5, 0.75, 3.0, -0.25, 3.0, -4.125};
  size_t r = 9, c = 9;
  double d = -1.0;
  is_near(hs_asymmetry(3, S), 0.0, 0.0, "asymmetry of a symmetric matrix is 0");
  S[5] = 3.5;  /* S[1][2] = 3.5, S[2][1] = 3.0 */
  is_near(hs_asymmetry_at(3, S, &r, &c, &d), 0.5 / 4.125, 2 * EPS, "asymmetry is relative");
  ok(r == 1 && c == 2 && d == 0.5, "asymmetry located at [1][2] with |difference| 0.5");
  S[7] = NAN;
  ok(isnan(hs_asymmetry_at(3, S, &r, &c, &d)) && r == 2 && c == 1 && isnan(d),
     "asymmetry with a NaN entry is NaN, located at the entry");
  double Z[4] = {0.0, 0.0, 0.0, 0.0};
  is_near(hs_asymmetry(2, Z), 0.0, 0.0, "asymmetry of the zero matrix is 0");

  double F[] = {1.0, 2.0, INFINITY, NAN};
  is_int(hs_firstnonfinite(4, F), 2, "firstnonfinite finds inf at index 2");
  is_int(hs_firstnonfinite(2, F), 2, "firstnonfinite returns count when all are finite");

  double Vr[] = {0.6, -0.8, 0.8, 0.6}, dr[] = {2.385, -1.25}, out[4];
  double want[] = {0.0586, 1.7448, 1.7448, 1.0764};
  hs_sym_from_eig(2, Vr, dr, out);
  ok(maxdiff(4, out, want) <= 8 * EPS * 2.0, "sym_from_eig of a 2x2 rotation (off by %.3g)",
     maxdiff(4, out, want));
  ok(out[1] == out[2], "sym_from_eig is exactly symmetric");
}

static void test_chol(void) {
  double A[] = {2.25, 0.75, -1.875, 0.75, 5.3125, 1.0625, -1.875, 1.0625, 3.390625};
  double Lwant[] = {1.5, 0, 0, 0.5, 2.25, 0, -1.25, 0.75, 1.125}, L[9];
  size_t col = 99;
  memset(L, 0xff, sizeof L);  /* garbage in the upper part must be zeroed */
  is_int(hs_chol(3, A, L, &col), HS_OK, "chol of a 3x3 positive definite matrix");
  ok(maxdiff(9, L, Lwant) <= 4 * EPS * 2.25, "chol gives the known factor (off by %.3g)",
     maxdiff(9, L, Lwant));
  double Al[9];
  memcpy(Al, A, sizeof A);
  is_int(hs_chol(3, Al, Al, &col), HS_OK, "chol in place (L aliases A)");
  ok(maxdiff(9, Al, Lwant) <= 4 * EPS * 2.25, "chol in place gives the same factor");

  double N[] = {2.25, 3.0, 3.0, 1.0};  /* pivot 2 is 1 - (3/1.5)^2 = -3 */
  is_int(hs_chol(2, N, L, &col), HS_ENOTPSD, "chol of an indefinite matrix fails");
  is_int(col, 1, "the failing column is 1 (0-based)");
  is_near(L[3], -3.0, 4 * EPS * 4.0, "the failed pivot -3 is left in L[1][1]");
  double S[] = {4.0, 2.0, 2.0, 1.0};  /* singular: pivot 2 is exactly 0 */
  is_int(hs_chol(2, S, L, &col), HS_ENOTPSD, "chol of a singular matrix fails");
  ok(col == 1 && L[3] == 0.0, "singular: column 1, pivot 0");
  double Nn[] = {NAN, 0.0, 0.0, 1.0};
  ok(hs_chol(2, Nn, L, &col) == HS_ENOTPSD && col == 0 && isnan(L[0]),
     "chol of a matrix with NaN on the diagonal fails at column 0 with a NaN pivot");
  is_int(hs_chol(0, A, L, &col), HS_OK, "chol of an empty matrix succeeds");
}

static void test_psd_factor(void) {
  size_t n = 4;
  double *A = alloc(n * n), *D = alloc(n * n), *R = alloc(n * n);
  double *work = alloc(hs_eig_worksize(n) + n * n + n), minw = 0.0;
  size_t clipped = 99;
  double w[] = {2.385, 0.5, 1.25, 0.0625};
  with_eigenvalues(n, w, A);
  is_int(hs_psd_factor(n, A, D, 1e-12, 0, &minw, &clipped, work), HS_OK,
         "psd_factor of a positive definite matrix");
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < n; j++) R[i * n + j] = hs_dot(n, D + i * n, D + j * n);
  ok(maxdiff(n * n, R, A) <= 16 * EPS * 2.385, "D D' = A (off by %.3g)", maxdiff(n * n, R, A));
  ok(fabs(minw - 0.0625) <= 16 * EPS && clipped == 0, "minw is the smallest eigenvalue, none clipped");

  double w1[] = {2.385, 0.0, 0.0, 0.0};  /* rank one: v v' */
  with_eigenvalues(n, w1, A);
  is_int(hs_psd_factor(n, A, D, 1e-12, 0, &minw, &clipped, work), HS_OK,
         "psd_factor of a singular PSD matrix (rounding below 0 is tolerated)");
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < n; j++) R[i * n + j] = hs_dot(n, D + i * n, D + j * n);
  ok(maxdiff(n * n, R, A) <= 16 * EPS * 2.385 && clipped == 0,
     "singular PSD: D D' = A, nothing counted as clipped");

  double w2[] = {2.385, -1.5, 0.75, 0.25};
  with_eigenvalues(n, w2, A);
  minw = 0.0;
  is_int(hs_psd_factor(n, A, D, 1e-12, 0, &minw, &clipped, work), HS_ENOTPSD,
         "psd_factor of an indefinite matrix without clip fails");
  is_near(minw, -1.5, 16 * EPS * 2.385, "and reports the most negative eigenvalue");
  is_int(hs_psd_factor(n, A, D, 1e-12, 1, &minw, &clipped, work), HS_OK,
         "with clip it succeeds");
  is_int(clipped, 1, "one eigenvalue clipped");
  /* D D' must be A with the negative eigenvalue replaced by 0: check its spectrum. */
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < n; j++) R[i * n + j] = hs_dot(n, D + i * n, D + j * n);
  double ev[4], V[16], *ew = alloc(hs_eig_worksize(n));
  hs_eig(n, R, ev, V, ew);
  double want[] = {0.0, 0.25, 0.75, 2.385};
  ok(maxdiff(n, ev, want) <= 32 * EPS * 2.385, "clipped: D D' has spectrum {0, 0.25, 0.75, 2.385}");
  is_int(hs_psd_factor(n, A, D, 1e-12, 1, NULL, NULL, work), HS_OK,
         "minw and clipped may be NULL");
  free(A), free(D), free(R), free(work), free(ew);
}

static void test_eigmap(void) {
  double w[] = {-0.5, 0.25, 0.75}, bad = 0.0, y[3];
  memcpy(y, w, sizeof w);
  ok(hs_eigmap(HS_FN_EXP, 3, y, 0.0, &bad) == HS_OK && y[0] == exp(-0.5) && y[2] == exp(0.75),
     "eigmap exp");
  memcpy(y, w, sizeof w);
  ok(hs_eigmap(HS_FN_PHI1, 3, y, 0.0, &bad) == HS_OK && y[0] == hs_phi1(-0.5) &&
     y[2] == hs_phi1(0.75), "eigmap phi1");
  memcpy(y, w, sizeof w);
  ok(hs_eigmap(HS_FN_PHI2, 3, y, 0.0, &bad) == HS_OK && y[1] == hs_phi2(0.25), "eigmap phi2");
  memcpy(y, w, sizeof w);
  ok(hs_eigmap(HS_FN_LOG, 3, y, 0.0, &bad) == HS_EDOM && bad == -0.5 && y[0] == -0.5,
     "eigmap log of a negative eigenvalue: HS_EDOM, reported, w unchanged");
  ok(hs_eigmap(HS_FN_SQRT, 3, y, 1e-12, &bad) == HS_EDOM && bad == -0.5,
     "eigmap sqrt of -0.5: HS_EDOM");
  double r[] = {-1e-13, 2.385};
  ok(hs_eigmap(HS_FN_SQRT, 2, r, 1e-12, &bad) == HS_OK && r[0] == 0.0 && r[1] == sqrt(2.385),
     "eigmap sqrt maps rounding-size negatives (within tol max|w|) to 0");
  double h[] = {0.5, 1.0};
  ok(hs_eigmap(HS_FN_PHI1, 2, h, 0.0, &bad) == HS_EDOM && bad == 1.0 && h[0] == 0.5,
     "eigmap phi1 at eigenvalue 1: HS_EDOM naming the largest");
  ok(hs_eigmap(HS_FN_PHI2, 2, h, 0.0, &bad) == HS_EDOM && bad == 1.0, "eigmap phi2 at 1");
  double big[] = {1.0, 710.0};
  ok(hs_eigmap(HS_FN_EXP, 2, big, 0.0, &bad) == HS_EDOM && bad == 710.0,
     "eigmap exp overflow is HS_EDOM");
  double z[] = {0.0};
  ok(hs_eigmap(HS_FN_LOG, 1, z, 0.0, &bad) == HS_EDOM && bad == 0.0, "eigmap log(0) is HS_EDOM");
  ok(hs_eigmap(HS_FN_LOG, 0, z, 0.0, &bad) == HS_OK, "eigmap of nothing succeeds");
}

/* }==================================================================== */

/* {====================================================================
** Eigensolvers
** ===================================================================== */

enum { SOLVER_EIG, SOLVER_JACOBI, SOLVER_LAPACK, NSOLVERS };
static const char *const solver_name[] = {"hs_eig", "hs_eig_jacobi", "hs_eig_lapack"};

static hs_status solve(int which, size_t n, const double *A, double *w, double *V,
                       double *work) {
  if (which == SOLVER_EIG) return hs_eig(n, A, w, V, work);
  if (which == SOLVER_JACOBI) return hs_eig_jacobi(n, A, w, V, work, 0);
  return hs_eig_lapack(n, A, w, V);
}

/* The tolerance for reconstruction and orthogonality: 1e-14 for every solver (the
** in-house ones measured below 7e-15 up to order 20; LAPACK's dsyevd, the large
** path, at about 4e-15 up to order 30). */
static double tolerance(int which, size_t n) {
  (void)which;
  (void)n;
  return 1e-14;
}

static void test_random(void) {
  size_t nmax = 20;
  double *A = alloc(nmax * nmax), *V = alloc(nmax * nmax), *w = alloc(nmax);
  double *wref = alloc(nmax), *work = alloc(hs_eig_worksize(nmax));
  for (int which = 0; which < NSOLVERS; which++) {
    /* worst errors, kept apart for the orders LAPACK handles (index 1) */
    double worst_r[2] = {0.0, 0.0}, worst_o[2] = {0.0, 0.0}, worst_w = 0.0;
    int fails = 0, unsorted = 0;
    lcg_state = 20240521;
    for (size_t n = 1; n <= nmax; n++)
      for (int rep = 0; rep < 8; rep++) {
        random_symmetric(n, A, 4.77);
        hs_status s = solve(which, n, A, w, V, work);
        if (s != HS_OK) {
          fails++;
          continue;
        }
        double tol = tolerance(which, n);
        int lp = tol > 1e-14;
        double re = recon_error(n, A, w, V), oe = orth_error(n, V);
        if (!(re <= tol) || !(oe <= tol)) {
          fails++;
          printf("#   %s n=%zu: reconstruction %.3g, orthogonality %.3g\n",
                 solver_name[which], n, re, oe);
        }
        unsorted += !ascending(n, w);
        worst_r[lp] = re > worst_r[lp] ? re : worst_r[lp];
        worst_o[lp] = oe > worst_o[lp] ? oe : worst_o[lp];
        /* eigenvalues agree with LAPACK's to 1e-14 of the spectral radius */
        hs_eig_lapack(n, A, wref, V);
        double dw = maxdiff(n, w, wref) / maxabs(n, wref);
        worst_w = dw > worst_w ? dw : worst_w;
      }
    ok(fails == 0, "%s: 160 random symmetric matrices of order 1..20 reconstructed and "
       "orthogonal (worst %.3g, %.3g in-house; %.3g, %.3g LAPACK)", solver_name[which],
       worst_r[0], worst_o[0], worst_r[1], worst_o[1]);
    is_int(unsorted, 0, "%s: eigenvalues ascending", solver_name[which]);
    ok(worst_w <= 1e-14, "%s: eigenvalues agree with LAPACK's (worst %.3g relative)",
       solver_name[which], worst_w);
  }
  free(A), free(V), free(w), free(wref), free(work);
}

static void test_special_spectra(void) {
  size_t n = 7;
  double *A = alloc(20 * 20), *V = alloc(20 * 20), *w = alloc(20);
  double *work = alloc(hs_eig_worksize(20));
  double rep[] = {2.385, -1.25, 2.385, 2.385, 0.5, -1.25, 2.385};
  double repsorted[] = {-1.25, -1.25, 0.5, 2.385, 2.385, 2.385, 2.385};
  double clus[] = {1.0, 1.0 + 1e-12, 1.0 + 2e-12, -3.5, 1.0 - 1e-12, 4.25, 1.0 + 3e-12};
  for (int which = 0; which < NSOLVERS; which++) {
    const char *nm = solver_name[which];
    with_eigenvalues(n, rep, A);
    ok(solve(which, n, A, w, V, work) == HS_OK && maxdiff(n, w, repsorted) <= 16 * EPS * 2.385 &&
       recon_error(n, A, w, V) <= 1e-14 && orth_error(n, V) <= 1e-14,
       "%s: repeated eigenvalues (2.385 x4, -1.25 x2)", nm);
    with_eigenvalues(n, clus, A);
    ok(solve(which, n, A, w, V, work) == HS_OK && recon_error(n, A, w, V) <= 1e-14 &&
       orth_error(n, V) <= 1e-14 && fabs(w[1] - (1.0 - 1e-12)) <= 16 * EPS * 4.25,
       "%s: a cluster of 5 eigenvalues 1e-12 apart", nm);

    /* diagonal input: exact eigenvalues, V a permutation */
    double dg[] = {2.385, -1.25, 0.0625, 7.5, -3.875};
    memset(A, 0, 25 * sizeof(double));
    for (size_t i = 0; i < 5; i++) A[i * 5 + i] = dg[i];
    double dsorted[] = {-3.875, -1.25, 0.0625, 2.385, 7.5};
    ok(solve(which, 5, A, w, V, work) == HS_OK && maxdiff(5, w, dsorted) == 0.0,
       "%s: diagonal input gives its diagonal, sorted, exactly", nm);
    ok(fabs(fabs(V[0 * 5 + 3]) - 1.0) <= 4 * EPS && fabs(fabs(V[3 * 5 + 4]) - 1.0) <= 4 * EPS,
       "%s: diagonal input gives unit eigenvectors", nm);

    memset(A, 0, 16 * sizeof(double));
    ok(solve(which, 4, A, w, V, work) == HS_OK && maxabs(4, w) == 0.0 &&
       orth_error(4, V) <= 4 * EPS, "%s: zero matrix: eigenvalues 0, V orthogonal", nm);

    A[0] = -2.385;
    ok(solve(which, 1, A, w, V, work) == HS_OK && w[0] == -2.385 && fabs(V[0]) == 1.0,
       "%s: 1x1", nm);
    ok(solve(which, 0, A, w, V, work) == HS_OK, "%s: 0x0 succeeds", nm);

    /* large and tiny scales: no overflow or underflow inside the rotations */
    for (int k = 0; k < 2; k++) {
      double sc = k == 0 ? 3.7e300 : 2.1e-300;
      lcg_state = 77;
      random_symmetric(9, A, sc);
      hs_status s = solve(which, 9, A, w, V, work);
      ok(s == HS_OK && recon_error(9, A, w, V) <= tolerance(which, 9) &&
         orth_error(9, V) <= tolerance(which, 9),
         "%s: entries of size %g", nm, sc);
    }

    /* non-finite input */
    random_symmetric(6, A, 1.0);
    A[4 * 6 + 2] = NAN;
    is_int(solve(which, 6, A, w, V, work), HS_EINVAL, "%s: NaN in the lower triangle", nm);
    A[4 * 6 + 2] = -INFINITY;
    is_int(solve(which, 6, A, w, V, work), HS_EINVAL, "%s: -inf in the lower triangle", nm);
    random_symmetric(18, A, 1.0);
    A[17 * 18 + 0] = INFINITY;
    is_int(solve(which, 18, A, w, V, work), HS_EINVAL, "%s: inf at order 18", nm);
  }

  /* only the lower triangle is read, by every path */
  size_t orders[] = {2, 9, 18};
  double *Ag = alloc(18 * 18), *wg = alloc(18);
  for (size_t t = 0; t < 3; t++) {
    size_t m = orders[t];
    lcg_state = 99 + t;
    random_symmetric(m, A, 2.385);
    memcpy(Ag, A, m * m * sizeof(double));
    for (size_t i = 0; i < m; i++)
      for (size_t j = i + 1; j < m; j++) Ag[i * m + j] = j == m - 1 ? HUGE_VAL : 99.0;
    for (int which = 0; which < NSOLVERS; which++) {
      hs_status s1 = solve(which, m, A, w, V, work), s2 = solve(which, m, Ag, wg, V, work);
      ok(s1 == HS_OK && s2 == HS_OK && maxdiff(m, w, wg) == 0.0,
         "%s reads only the lower triangle (order %zu, inf and junk above)",
         solver_name[which], m);
    }
  }
  free(Ag), free(wg);
  is_int(hs_eig_worksize(8) >= 2 * 64, 1, "hs_eig_worksize(8) covers the small solvers");
  ok(hs_eig_worksize(40) >= 40 * 40, "hs_eig_worksize(40) covers LAPACK's copy");
  free(A), free(V), free(w), free(work);
}

/* Warm starts: same answers as cold, from near, exact or useless starting V. */
static void test_warm(void) {
  size_t nmax = 16;
  double *A = alloc(nmax * nmax), *B = alloc(nmax * nmax), *V = alloc(nmax * nmax);
  double *Vc = alloc(nmax * nmax), *w = alloc(nmax), *wc = alloc(nmax);
  double *work = alloc(hs_eig_worksize(nmax));
  double worst = 0.0, worst_ro = 0.0;
  int fails = 0;
  lcg_state = 4242;
  for (size_t n = 1; n <= nmax; n++)
    for (int rep = 0; rep < 4; rep++) {
      random_symmetric(n, A, 2.385);
      for (size_t i = 0; i < n; i++)  /* B = A perturbed by about 1e-3 */
        for (size_t j = 0; j <= i; j++) B[i * n + j] = B[j * n + i] = A[i * n + j] + 1e-3 * lcg();
      hs_eig(n, A, w, V, work);             /* V: eigenvectors of A */
      fails += hs_eig_jacobi(n, B, w, V, work, 1) != HS_OK;  /* warm from them */
      fails += hs_eig(n, B, wc, Vc, work) != HS_OK;          /* cold */
      double dw = maxdiff(n, w, wc) / maxabs(n, wc);
      double ro = fmax(recon_error(n, B, w, V), orth_error(n, V));
      worst = dw > worst ? dw : worst;
      worst_ro = ro > worst_ro ? ro : worst_ro;
    }
  ok(fails == 0 && worst <= 1e-14, "warm start gives the cold eigenvalues (worst %.3g)", worst);
  ok(worst_ro <= 1e-14, "warm start: reconstruction and orthogonality (worst %.3g)", worst_ro);

  /* Exact eigenvectors in: no rotation needed, same values. */
  size_t n = 8;
  random_symmetric(n, A, 2.385);
  hs_eig(n, A, wc, V, work);
  hs_eig_jacobi(n, A, w, V, work, 1);
  ok(maxdiff(n, w, wc) <= 8 * EPS * maxabs(n, wc) && recon_error(n, A, w, V) <= 1e-14,
     "warm start from the exact eigenvectors");

  /* Useless V (zero): the solver starts cold and still succeeds. */
  memset(V, 0, n * n * sizeof(double));
  ok(hs_eig_jacobi(n, A, w, V, work, 1) == HS_OK && maxdiff(n, w, wc) <= 1e-14 * maxabs(n, wc) &&
     orth_error(n, V) <= 1e-14, "warm start from a zero V falls back to a cold start");

  /* A long chain of warm starts along a slowly rotating matrix: no drift. */
  random_symmetric(n, A, 2.385);
  hs_eig(n, A, w, V, work);
  double drift = 0.0;
  for (int step = 0; step < 2000; step++) {
    for (size_t i = 0; i < n; i++)
      for (size_t j = 0; j <= i; j++) A[i * n + j] = A[j * n + i] = A[i * n + j] + 1e-4 * lcg();
    if (hs_eig_jacobi(n, A, w, V, work, 1) != HS_OK) drift = INFINITY;
    double e = fmax(orth_error(n, V), recon_error(n, A, w, V));
    drift = e > drift ? e : drift;
  }
  ok(drift <= 1e-14, "2000 chained warm starts stay orthogonal and accurate (worst %.3g)", drift);

  /* Warm start with a V that is orthogonal only to 1e-9: repaired, full accuracy. */
  random_symmetric(n, A, 2.385);
  hs_eig(n, A, wc, V, work);
  for (size_t i = 0; i < n * n; i++) V[i] += 1e-9 * lcg();
  ok(hs_eig_jacobi(n, A, w, V, work, 1) == HS_OK && orth_error(n, V) <= 1e-14 &&
     maxdiff(n, w, wc) <= 1e-14 * maxabs(n, wc),
     "warm start from a V orthogonal only to 1e-9 is re-orthonormalised");
  free(A), free(B), free(V), free(Vc), free(w), free(wc), free(work);
}

/* }==================================================================== */

/* {====================================================================
** NumPy / SciPy references
** ===================================================================== */

static void test_fixture_eig(void) {
  fixtures fx = load("tests/fixtures/linalg_eig.txt");
  size_t cases = 0, bad = 0;
  double worst = 0.0;
  for (size_t i = 0; i < fx.count; i++) {
    const fixture *a = &fx.f[i];
    if (strcmp(a->kind, "A") != 0) continue;
    const fixture *ref = find(&fx, "eigvals", a->name);
    if (ref == NULL) continue;
    size_t n = a->rows;
    double *w = alloc(n), *V = alloc(n * n), *work = alloc(hs_eig_worksize(n));
    for (int which = 0; which < NSOLVERS; which++) {
      cases++;
      double scale = maxabs(n, ref->v);
      hs_status s = solve(which, n, a->v, w, V, work);
      double dw = s != HS_OK ? HUGE_VAL : maxdiff(n, w, ref->v) / (scale > 0 ? scale : 1.0);
      double ro = s != HS_OK ? HUGE_VAL : fmax(recon_error(n, a->v, w, V), orth_error(n, V));
      if (!(dw <= 1e-12) || !(ro <= tolerance(which, n))) {
        bad++;
        printf("#   %s %s: eigenvalues off by %.3g, reconstruction/orthogonality %.3g\n",
               solver_name[which], a->name, dw, ro);
      }
      worst = dw > worst ? dw : worst;
    }
    free(w), free(V), free(work);
  }
  ok(cases >= 3 * 25 && bad == 0,
     "eigenvalues of %zu fixture cases agree with numpy.linalg.eigh to 1e-12 (worst %.3g)",
     cases, worst);
  unload(&fx);
}

/* f applied to the eigenvalues; returns 0 outside the function's domain. */
static int apply(const char *fn, double x, double *y) {
  if (strcmp(fn, "log") == 0) *y = log(x);
  else if (strcmp(fn, "exp") == 0) *y = exp(x);
  else if (strcmp(fn, "sqrt") == 0) *y = sqrt(x);
  else if (strcmp(fn, "phi1") == 0) *y = hs_phi1(x);
  else if (strcmp(fn, "phi2") == 0) *y = hs_phi2(x);
  else return 0;
  return isfinite(*y);
}

static void test_fixture_matfun(void) {
  fixtures fx = load("tests/fixtures/linalg_matfun.txt");
  size_t cases = 0, bad = 0;
  double worst = 0.0;
  for (size_t i = 0; i < fx.count; i++) {
    const fixture *ref = &fx.f[i];
    if (strcmp(ref->kind, "A") == 0) continue;
    const fixture *a = find(&fx, "A", ref->name);
    if (a == NULL) continue;
    size_t n = a->rows;
    double *w = alloc(n), *V = alloc(n * n), *F = alloc(n * n);
    double *work = alloc(hs_eig_worksize(n));
    int good = hs_eig(n, a->v, w, V, work) == HS_OK;
    for (size_t k = 0; k < n && good; k++) good = apply(ref->kind, w[k], &w[k]);
    hs_sym_from_eig(n, V, w, F);
    double err = good ? maxdiff(n * n, F, ref->v) / maxabs(n * n, ref->v) : HUGE_VAL;
    cases++;
    if (!(err <= 1e-12)) {
      bad++;
      printf("#   %s(%s): off by %.3g relative\n", ref->kind, ref->name, err);
    }
    worst = err > worst ? err : worst;
    free(w), free(V), free(F), free(work);
  }
  ok(cases >= 40 && bad == 0,
     "log/exp/sqrt/phi1/phi2 of %zu fixture matrices agree with SciPy to 1e-12 (worst %.3g)",
     cases, worst);
  unload(&fx);
}

static void test_fixture_chol(void) {
  fixtures fx = load("tests/fixtures/linalg_chol.txt");
  size_t cases = 0, bad = 0;
  double worst = 0.0;
  for (size_t i = 0; i < fx.count; i++) {
    const fixture *a = &fx.f[i];
    if (strcmp(a->kind, "A") != 0) continue;
    const fixture *ref = find(&fx, "L", a->name);
    if (ref == NULL) continue;
    size_t n = a->rows, col = 0;
    double *L = alloc(n * n);
    hs_status s = hs_chol(n, a->v, L, &col);
    double err = s != HS_OK ? HUGE_VAL : maxdiff(n * n, L, ref->v) / maxabs(n * n, ref->v);
    cases++;
    bad += !(err <= 1e-12);
    worst = err > worst ? err : worst;
    free(L);
  }
  ok(cases >= 6 && bad == 0, "chol of %zu fixture matrices agrees with numpy to 1e-12 "
     "(worst %.3g)", cases, worst);
  unload(&fx);
}

/* }==================================================================== */

/* {====================================================================
** Timing (HASME_BENCH=1): ns per call, best of 7 runs
** ===================================================================== */

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#define NMAT 64

static double time_eig(size_t n, int mode, double pert) {
  size_t nn = n * n;
  double *A = alloc(NMAT * nn), *B = alloc(NMAT * nn), *V0 = alloc(NMAT * nn);
  double *V = alloc(nn), *w = alloc(n), *work = alloc(hs_eig_worksize(n)), best = INFINITY;
  for (size_t m = 0; m < NMAT; m++) {
    random_symmetric(n, A + m * nn, 1.0);
    for (size_t i = 0; i < n; i++)
      for (size_t j = 0; j <= i; j++)
        B[m * nn + i * n + j] = B[m * nn + j * n + i] = A[m * nn + i * n + j] + pert * lcg();
    hs_eig(n, A + m * nn, w, V0 + m * nn, work);
  }
  long reps = (long)(2e6 / (double)(nn * n)) + 2000;
  for (int trial = 0; trial < 7; trial++) {
    double t0 = now();
    for (long r = 0; r < reps; r++) {
      size_t m = (size_t)r % NMAT;
      if (mode == 0) hs_eig(n, A + m * nn, w, V, work);
      else if (mode == 1) hs_eig_jacobi(n, A + m * nn, w, V, work, 0);
      else if (mode == 2) {
        memcpy(V, V0 + m * nn, nn * sizeof(double));
        hs_eig_jacobi(n, B + m * nn, w, V, work, 1);
      }
      else hs_eig_lapack(n, A + m * nn, w, V);
    }
    double t = (now() - t0) / (double)reps * 1e9;
    best = t < best ? t : best;
  }
  free(A), free(B), free(V0), free(V), free(w), free(work);
  return best;
}

static void bench(void) {
  hs_lapack_prepare();  /* as the bindings do: OpenBLAS's pool costs microseconds */
  printf("# ns per call (best of 7): order, hs_eig, Jacobi cold, Jacobi warm (V of a\n"
         "# matrix 1e-3 away), LAPACKE_dsyevd\n");
  size_t orders[] = {2, 3, 4, 6, 8, 12, 16};
  for (size_t i = 0; i < sizeof orders / sizeof orders[0]; i++) {
    size_t n = orders[i];
    printf("# %4zu %8.0f %8.0f %8.0f %8.0f\n", n, time_eig(n, 0, 0), time_eig(n, 1, 0),
           time_eig(n, 2, 1e-3), time_eig(n, 3, 0));
  }
  printf("# Jacobi warm at n = 8 against the size of the perturbation:\n");
  double p[] = {1e-1, 1e-2, 1e-4, 1e-6, 1e-8};
  for (size_t i = 0; i < 5; i++) printf("#   %g: %.0f ns\n", p[i], time_eig(8, 2, p[i]));
}

/* }==================================================================== */

/* The products: below HS_BLAS_ORDER every entry is the sum over the inner index in
** increasing order from 0.0 (bit for bit: the engine's results for small models
** depend on it); above, the BLAS's dgemm, checked against that sum to rounding. The
** large Cholesky (dpotrf) and the assembled matrix function likewise. */
static void naive(int ta, int tb, size_t m, size_t k, size_t n, const double *A,
                  const double *B, double *C) {
  for (size_t i = 0; i < m; i++)
    for (size_t j = 0; j < n; j++) {
      double s = 0.0;
      for (size_t l = 0; l < k; l++)
        s += (ta ? A[l * m + i] : A[i * k + l]) * (tb ? B[j * k + l] : B[l * n + j]);
      C[i * n + j] = s;
    }
}

static void test_products(void) {
  enum { S = 13, L = 150 };
  double *A = malloc(5 * L * L * sizeof(double));
  double *B = A + L * L, *C = B + L * L, *R = C + L * L, *W = R + L * L;
  for (size_t i = 0; i < L * L; i++) {
    A[i] = sin(0.37 * (double)i + 0.1);
    B[i] = cos(0.91 * (double)i - 0.4);
  }
  void (*fn[3])(size_t, size_t, size_t, const double *, const double *, double *) = {
      hs_gemm, hs_gemm_tn, hs_gemm_nt};
  static const char *const names[] = {"hs_gemm", "hs_gemm_tn", "hs_gemm_nt"};
  for (int v = 0; v < 3; v++) {
    int ta = v == 1, tb = v == 2;
    fn[v](S, S + 2, S - 3, A, B, C);
    naive(ta, tb, S, S + 2, S - 3, A, B, R);
    ok(memcmp(C, R, S * (S - 3) * sizeof(double)) == 0,
       "%s: a small product is the in-order sum, bit for bit", names[v]);
    fn[v](L, L - 7, L, A, B, C);
    naive(ta, tb, L, L - 7, L, A, B, R);
    double e = 0.0;
    for (size_t i = 0; i < L * L; i++) e = fmax(e, fabs(C[i] - R[i]));
    ok(e < 1e-12, "%s: a large product agrees with the in-order sum (off by %.2g)", names[v], e);
  }
  ok(hs_blas_available(), "cblas_dgemm is found beside LAPACKE");
  /* A large SPD matrix: A A' / L + I. Its factor is the symmetric square root. */
  hs_gemm_nt(L, L, L, A, A, C);
  for (size_t i = 0; i < L; i++)
    for (size_t j = 0; j < L; j++) C[i * L + j] = C[i * L + j] / L + (i == j);
  hs_symmetrize_lower(L, C);
  double *work = malloc(hs_factor_worksize(L) * sizeof(double));
  size_t clipped = 9;
  hs_status st = hs_factor(L, C, R, 1e-10, 0, NULL, &clipped, work);
  int issym = 1;
  for (size_t i = 0; i < L; i++)
    for (size_t j = i + 1; j < L; j++) issym &= R[i * L + j] == R[j * L + i];
  hs_gemm_nt(L, L, L, R, R, B);
  double e = 0.0;
  for (size_t i = 0; i < L * L; i++) e = fmax(e, fabs(B[i] - C[i]));
  ok(st == HS_OK && issym && clipped == 0 && e < 1e-12,
     "hs_factor: a large SPD matrix gets its symmetric square root (D D' off by %.2g)", e);
  /* Singular PSD (rank 3): the square root exists and reproduces it. */
  hs_gemm_nt(L, 3, L, A, A, C);
  hs_symmetrize_lower(L, C);
  st = hs_factor(L, C, R, 1e-10, 1, NULL, &clipped, work);
  hs_gemm_nt(L, L, L, R, R, B);
  e = 0.0;
  for (size_t i = 0; i < L * L; i++) e = fmax(e, fabs(B[i] - C[i]));
  ok(st == HS_OK && e < 1e-11, "hs_factor: a large singular PSD matrix (D D' off by %.2g)", e);
  /* V diag(d) V' through the BLAS equals the row-by-row assembly, exactly symmetric. */
  double w[L];
  for (size_t i = 0; i < L; i++) w[i] = 0.5 + sin((double)i);
  hs_sym_from_eig(L, A, w, R);
  hs_sym_from_eig_work(L, A, w, C, W);
  e = 0.0;
  int sym = 1;
  for (size_t i = 0; i < L; i++)
    for (size_t j = 0; j < L; j++) {
      e = fmax(e, fabs(C[i * L + j] - R[i * L + j]));
      sym &= C[i * L + j] == C[j * L + i];
    }
  ok(e < 1e-12 && sym, "hs_sym_from_eig_work: large, symmetric, as hs_sym_from_eig (%.2g)", e);
  hs_sym_from_eig_work(S, A, w, C, W);
  hs_sym_from_eig(S, A, w, R);
  ok(memcmp(C, R, S * S * sizeof(double)) == 0, "hs_sym_from_eig_work: small, bit for bit");
  free(work);
  free(A);
}


/* hs_sqrt_apply against hs_factor's D z (D the symmetric square root, from the full
** eigendecomposition): random spectra in orders 1 to 16, positive definite, singular
** (rank n/2, the shape of a minibatch covariance with few samples), indefinite with
** and without clip, and norms near 2^+-600 (the scaled path). The two differ by
** rounding only: eigenvectors to O(eps |A| / gap) but the square root applied to z
** to O(sqrt(eps |A|)) at worst, where an eigenvalue near 0 meets rounding. */
static void test_sqrt_apply(void) {
  int good = 1, counts = 1, alias = 1, scaled = 1;
  double worst = 0.0;
  for (size_t n = 1; n <= 16; n++) {
    size_t ws = hs_sqrt_apply_worksize(n);
    double *A = alloc(n * n), *D = alloc(n * n), *w = alloc(n), *ev = alloc(n);
    double *z = alloc(n), *y = alloc(n), *y2 = alloc(n), *fw = alloc(hs_factor_worksize(n));
    double *work = alloc(ws);
    /* kinds: positive definite, singular, indefinite with clip, the same without,
    ** positive definite with norm 2^-600 */
    for (int kind = 0; kind < 5; kind++) {
      for (size_t i = 0; i < n; i++) {
        double u = lcg() + 0.5;   /* in [0, 1) */
        w[i] = kind == 0 || kind == 4 ? 0.1 + u : kind == 1 ? (i < n / 2 ? 0.0 : u) : u - 0.3;
      }
      if (kind == 2 || kind == 3) w[0] = -0.5;   /* at least one clearly negative */
      with_eigenvalues(n, w, A);
      double s = kind == 4 ? 0x1p-600 : 1.0;
      for (size_t i = 0; i < n * n; i++) A[i] *= s;
      for (size_t i = 0; i < n; i++) z[i] = lcg();
      size_t cl = 99, cf = 99;
      double minw;
      int clip = kind == 2;
      hs_status st = hs_sqrt_apply(n, A, z, y, 1e-12, clip, ev, &cl, work);
      hs_status sf = hs_factor(n, A, D, 1e-12, clip, &minw, &cf, fw);
      if (st != sf || cl != cf) {
        counts = 0;
        printf("# n=%zu kind %d: status %d/%d clipped %zu/%zu\n", n, kind, st, sf, cl, cf);
        continue;
      }
      if ((kind == 2 && !(cl >= 1)) || (kind == 3 && st != HS_ENOTPSD)) counts = 0;
      if (st != HS_OK) continue;
      hs_gemv(n, n, 1.0, D, z, 0.0, y2);
      /* |A| is about 1.6 s here: allow 1e-6 sqrt(s) (sqrt(eps) is 1.5e-8) */
      double e = maxdiff(n, y, y2) / sqrt(s);
      if (!(e <= 1e-6)) good = 0;
      if ((kind == 0 || kind == 4) && !(e <= 1e-12)) good = 0;   /* away from 0: tight */
      if (e > worst) worst = e;
      if (kind == 4 && !(maxabs(n, y) > 0.0)) scaled = 0;
      /* eigenvalues: those of A, in any order */
      double ws2 = 0.0, wa = 0.0;
      for (size_t i = 0; i < n; i++) ws2 += ev[i], wa += w[i] * s;
      if (!(fabs(ws2 - wa) <= 64 * EPS * 2.0 * (double)n * s)) good = 0;
      memcpy(y2, z, n * sizeof(double));
      hs_sqrt_apply(n, A, y2, y2, 1e-12, clip, ev, &cl, work);
      if (memcmp(y2, y, n * sizeof(double)) != 0) alias = 0;
    }
    free(A), free(D), free(w), free(ev), free(z), free(y), free(y2), free(fw), free(work);
  }
  ok(good, "sqrt_apply: A^(1/2) z agrees with hs_factor's D z, orders 1-16 (worst %.3g)",
     worst);
  ok(counts, "sqrt_apply: the status and clipped count of hs_factor (indefinite with and "
             "without clip included)");
  ok(alias, "sqrt_apply: y may alias z");
  ok(scaled, "sqrt_apply: norms near 2^-600 go through the scaled path");
  double A[4] = {1.0, NAN, NAN, 1.0}, z[2] = {1.0, 1.0}, y[2], ev[2];
  double *work = alloc(hs_sqrt_apply_worksize(2));
  size_t cl;
  is_int(hs_sqrt_apply(2, A, z, y, 1e-12, 1, ev, &cl, work), HS_EINVAL,
         "sqrt_apply: a NaN in the lower triangle is HS_EINVAL");
  free(work);
}

/* hs_sqrt_apply_multi and hs_eig_multi give each problem, bit for bit, what
** hs_sqrt_apply and hs_eig give it alone, whatever the others are: 8 problems of
** mixed kinds (positive definite, indefinite, a NaN, zero) in orders 2, 5 and 10
** (hs_eig's Jacobi and QR paths), and fewer problems than 8. */
static void test_multi(void) {
  enum { M = HS_SQRT_MULTI };
  int same_sqrt = 1, same_eig = 1;
  const size_t orders[] = {2, 5, 10};
  for (size_t oi = 0; oi < 3; oi++) {
    size_t n = orders[oi], sw = hs_sqrt_apply_worksize(n), ew = hs_eig_worksize(n);
    double *A[M], *z[M], *y[M], *w[M], *V[M], *y1 = alloc(n), *w1 = alloc(n);
    double *V1 = alloc(n * n), *work = alloc(M * (sw > ew ? sw : ew));
    for (size_t i = 0; i < M; i++) {
      A[i] = alloc(n * n), z[i] = alloc(n), y[i] = alloc(n), w[i] = alloc(n);
      V[i] = alloc(n * n);
      double *ev = alloc(n);
      for (size_t k = 0; k < n; k++) ev[k] = (i % 3 == 1 ? lcg() : lcg() + 0.6);
      with_eigenvalues(n, ev, A[i]);
      free(ev);
      for (size_t k = 0; k < n; k++) z[i][k] = lcg();
    }
    A[3][n] = NAN;                                  /* lower triangle: (1, 0) */
    memset(A[5], 0, n * n * sizeof(double));        /* zero */
    for (size_t m = 1; m <= M; m += M - 1) {
      for (int clip = 0; clip < 2; clip++) {
        size_t cl[M];
        hs_status st[M];
        hs_sqrt_apply_multi(n, m, (const double *const *)A, (const double *const *)z, y,
                            1e-12, clip, w, cl, st, work);
        for (size_t i = 0; i < m; i++) {
          size_t c1;
          hs_status s1 = hs_sqrt_apply(n, A[i], z[i], y1, 1e-12, clip, w1, &c1, work);
          if (s1 != st[i] || c1 != cl[i] ||
              (s1 == HS_OK && (memcmp(y1, y[i], n * sizeof(double)) != 0 ||
                               memcmp(w1, w[i], n * sizeof(double)) != 0)))
            same_sqrt = 0;
        }
      }
      hs_status st[M];
      hs_eig_multi(n, m, (const double *const *)A, w, V, st, work);
      for (size_t i = 0; i < m; i++) {
        hs_status s1 = hs_eig(n, A[i], w1, V1, work);
        if (s1 != st[i] || (s1 == HS_OK && (memcmp(w1, w[i], n * sizeof(double)) != 0 ||
                                            memcmp(V1, V[i], n * n * sizeof(double)) != 0)))
          same_eig = 0;
      }
    }
    for (size_t i = 0; i < M; i++) free(A[i]), free(z[i]), free(y[i]), free(w[i]), free(V[i]);
    free(y1), free(w1), free(V1), free(work);
  }
  ok(same_sqrt, "sqrt_apply_multi: every problem as hs_sqrt_apply alone, bit for bit");
  ok(same_eig, "eig_multi: every matrix as hs_eig alone, bit for bit");
}

int main(void) {
  test_kernels();
  test_products();
  test_chol();
  test_psd_factor();
  test_sqrt_apply();
  test_multi();
  test_eigmap();
  test_random();
  test_special_spectra();
  test_warm();
  test_fixture_eig();
  test_fixture_matfun();
  test_fixture_chol();
  const char *b = getenv("HASME_BENCH");
  if (b != NULL && b[0] != '\0' && b[0] != '0') bench();
  return tap_done();
}
