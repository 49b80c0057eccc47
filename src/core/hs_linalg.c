/*
** hs_linalg.c: dense kernels on small row-major matrices, the symmetric
** eigendecomposition (cyclic Jacobi and tridiagonal QR for small orders, LAPACK
** dsyevd for large ones), Cholesky, and square-root factors of PSD matrices.
*/
#include "hs_linalg.h"

#include <float.h>
#include <limits.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hs_lapack.h"
#include "hs_phi.h"
#include "hs_util.h"

/* {====================================================================
** BLAS-style kernels
** ===================================================================== */

/* Two accumulators break the add dependency chain (and let the compiler pair the
** products in SSE2 registers); the order of the sums is fixed, so the result is
** the same on every call and every thread. Inlined into the solvers below, where
** n is small and a call would cost as much as the loop. */
static inline double dot(size_t n, const double *x, const double *y) {
  double s0 = 0.0, s1 = 0.0;
  size_t i = 0;
  for (; i + 1 < n; i += 2) {
    s0 += x[i] * y[i];
    s1 += x[i + 1] * y[i + 1];
  }
  if (i < n) s0 += x[i] * y[i];
  return s0 + s1;
}

double hs_dot(size_t n, const double *x, const double *y) {
  return dot(n, x, y);
}

/*
** The plain sum of squares is exact enough whenever it neither overflows nor
** falls into the range where the squares of the largest elements lose bits
** (below 2^-900 the largest square may be subnormal once n is large). Only then
** is the vector rescaled, by a power of two so that the scaling itself is exact
** (Blue's idea without his three accumulators; see also LAPACK's dnrm2 notes).
*/
double hs_nrm2(size_t n, const double *x) {
  double s = 0.0;
  for (size_t i = 0; i < n; i++) s += x[i] * x[i];
  if (s >= 0x1p-900 && s <= DBL_MAX) return sqrt(s);
  if (isnan(s)) return s;
  double amax = 0.0;
  for (size_t i = 0; i < n; i++) amax = fmax(amax, fabs(x[i]));
  if (amax == 0.0 || isinf(amax)) return amax;
  int e;
  frexp(amax, &e);
  double t = 0.0;
  if (e >= -1000) {  /* 2^-e is representable (subnormal for e > 1022): exact */
    double scale = ldexp(1.0, -e);  /* amax * scale is in [1/2, 1) */
    for (size_t i = 0; i < n; i++) {
      double y = x[i] * scale;
      t += y * y;
    }
  }
  else  /* amax is (nearly) subnormal and 2^-e would overflow */
    for (size_t i = 0; i < n; i++) {
      double y = ldexp(x[i], -e);
      t += y * y;
    }
  return ldexp(sqrt(t), e);
}

void hs_gemv(size_t m, size_t n, double alpha, const double *A, const double *x,
             double beta, double *y) {
  for (size_t i = 0; i < m; i++) {
    double s = alpha * dot(n, A + i * n, x);
    y[i] = beta == 0.0 ? s : s + beta * y[i];  /* beta = 0: y may hold garbage */
  }
}

/*
** Products of more than HS_BLAS_ORDER^3 multiply-adds go to the BLAS's dgemm when
** one was loaded beside LAPACKE: blocked for the caches and vectorised, it runs
** tens of times faster than the loops below at orders in the hundreds, which is
** what makes the set-up of a large quadratic cost what its eigendecomposition
** costs. Its rounding is the BLAS's own (it may split and fuse the sums), so
** smaller products, all those of small models, stay with the loops, whose every
** entry is the sum over the inner index in increasing order from 0.0: the same
** bits on every call, thread and machine.
*/
static int useblas(size_t m, size_t k, size_t n) {
  const double big = (double)HS_BLAS_ORDER * HS_BLAS_ORDER * HS_BLAS_ORDER;
  if (m > INT_MAX || k > INT_MAX || n > INT_MAX) return 0;
  if ((double)m * (double)k * (double)n <= big) return 0;
  return hs_blas_available();
}

void hs_gemm(size_t m, size_t k, size_t n, const double *A, const double *B, double *C) {
  if (useblas(m, k, n) &&
      hs_blas_dgemm(0, 0, (int)m, (int)n, (int)k, A, (int)k, B, (int)n, C, (int)n) == HS_OK)
    return;
  /* i-l-j order: the inner loop runs along rows of B and C, contiguous in memory. */
  for (size_t i = 0; i < m; i++) {
    double *c = C + i * n;
    for (size_t j = 0; j < n; j++) c[j] = 0.0;
    for (size_t l = 0; l < k; l++) {
      double a = A[i * k + l];
      const double *b = B + l * n;
      for (size_t j = 0; j < n; j++) c[j] += a * b[j];
    }
  }
}

void hs_gemm_tn(size_t m, size_t k, size_t n, const double *A, const double *B, double *C) {
  if (useblas(m, k, n) &&
      hs_blas_dgemm(1, 0, (int)m, (int)n, (int)k, A, (int)m, B, (int)n, C, (int)n) == HS_OK)
    return;
  /* As hs_gemm, reading A down its columns: one strided load per row of B. */
  for (size_t i = 0; i < m; i++) {
    double *c = C + i * n;
    for (size_t j = 0; j < n; j++) c[j] = 0.0;
    for (size_t l = 0; l < k; l++) {
      double a = A[l * m + i];
      const double *b = B + l * n;
      for (size_t j = 0; j < n; j++) c[j] += a * b[j];
    }
  }
}

void hs_gemm_nt(size_t m, size_t k, size_t n, const double *A, const double *B, double *C) {
  if (useblas(m, k, n) &&
      hs_blas_dgemm(0, 1, (int)m, (int)n, (int)k, A, (int)k, B, (int)k, C, (int)n) == HS_OK)
    return;
  /* Each entry is a dot product of two rows, with one accumulator (the order of
  ** the sum is that of the other two products). */
  for (size_t i = 0; i < m; i++)
    for (size_t j = 0; j < n; j++) {
      const double *a = A + i * k, *b = B + j * k;
      double s = 0.0;
      for (size_t l = 0; l < k; l++) s += a[l] * b[l];
      C[i * n + j] = s;
    }
}

void hs_symmetrize_lower(size_t n, double *A) {
  for (size_t i = 1; i < n; i++)
    for (size_t j = 0; j < i; j++) A[j * n + i] = A[i * n + j];
}

/*
** The scan looks at each pair once (i < j). A non-finite entry makes the measure
** NaN and is reported at its own position, so a caller can name it.
*/
double hs_asymmetry_at(size_t n, const double *A, size_t *row, size_t *col,
                       double *absdiff) {
  double dmax = 0.0, amax = 0.0;
  size_t bi = 0, bj = 0;
  size_t bad = hs_firstnonfinite(n * n, A);
  if (bad < n * n) {
    dmax = NAN;
    bi = bad / n, bj = bad % n;
  }
  else
    for (size_t i = 0; i < n; i++) {
      amax = fmax(amax, fabs(A[i * n + i]));
      for (size_t j = i + 1; j < n; j++) {
        double a = A[i * n + j], b = A[j * n + i], d = fabs(a - b);
        if (d > dmax) dmax = d, bi = i, bj = j;
        amax = fmax(amax, fmax(fabs(a), fabs(b)));
      }
    }
  if (row != NULL) *row = bi;
  if (col != NULL) *col = bj;
  if (absdiff != NULL) *absdiff = dmax;
  return dmax > 0.0 ? dmax / amax : dmax;  /* 0 stays 0 (also for A = 0), NaN stays */
}

double hs_asymmetry(size_t n, const double *A) {
  return hs_asymmetry_at(n, A, NULL, NULL, NULL);
}

size_t hs_firstnonfinite(size_t count, const double *x) {
  for (size_t i = 0; i < count; i++)
    if (!isfinite(x[i])) return i;
  return count;
}

/* }==================================================================== */

/* {====================================================================
** Small symmetric eigenproblems: shared pieces
**
** Both small solvers keep the eigenvectors transposed while they work (zt: row i
** is eigenvector i), because every rotation then updates two contiguous rows.
** The caller's V receives the transpose at the end.
** ===================================================================== */

#define MAX_SWEEPS 60   /* Jacobi sweeps; quadratic convergence needs < 10 */
#define MAX_QR_ITER 40  /* implicit QR steps per eigenvalue; about 2 are typical */

/* Fill the full symmetric n x n matrix a from the lower triangle of A. */
static void symcopy(size_t n, const double *A, double *a) {
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j <= i; j++) a[i * n + j] = a[j * n + i] = A[i * n + j];
}

static void setidentity(size_t n, double *x) {
  memset(x, 0, n * n * sizeof(double));
  for (size_t i = 0; i < n; i++) x[i * n + i] = 1.0;
}

/*
** Sort the eigenvalues ascending and store the eigenvectors (the rows of zt) in
** the columns of V in the same order. For small n a stable insertion sort on an
** index array decides the order and V is gathered in one pass; beyond that,
** selection sort exchanges rows of zt. Equal values keep their order in both,
** so the result is a deterministic function of the input.
*/
static void sort_and_finish(size_t n, double *w, double *zt, double *V) {
  if (n <= HS_EIG_SMALL) {
    size_t perm[HS_EIG_SMALL];
    double ws[HS_EIG_SMALL];
    for (size_t i = 0; i < n; i++) {
      size_t j = i;
      for (; j > 0 && ws[j - 1] > w[i]; j--) {
        ws[j] = ws[j - 1];
        perm[j] = perm[j - 1];
      }
      ws[j] = w[i];
      perm[j] = i;
    }
    for (size_t i = 0; i < n; i++) {
      w[i] = ws[i];
      for (size_t j = 0; j < n; j++) V[i * n + j] = zt[perm[j] * n + i];
    }
    return;
  }
  for (size_t i = 0; i + 1 < n; i++) {
    size_t k = i;
    for (size_t j = i + 1; j < n; j++)
      if (w[j] < w[k]) k = j;
    if (k == i) continue;
    double t = w[i];
    w[i] = w[k];
    w[k] = t;
    for (size_t j = 0; j < n; j++) {
      t = zt[i * n + j];
      zt[i * n + j] = zt[k * n + j];
      zt[k * n + j] = t;
    }
  }
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < n; j++) V[i * n + j] = zt[j * n + i];
}

/*
** Apply the plane rotation (c, s) to two rows of length n:
** xp <- c xp - s xq, xq <- s xp + c xq. The body handles two columns at a time,
** which lets the compiler use packed SSE2 arithmetic at -O2; the rows are
** distinct (never aliased).
*/
static inline void rotrows(size_t n, double *xp, double *xq, double c, double s) {
  size_t k = 0;
  for (; k + 2 <= n; k += 2) {
    double a0 = xp[k], b0 = xq[k], a1 = xp[k + 1], b1 = xq[k + 1];
    xp[k] = c * a0 - s * b0;
    xp[k + 1] = c * a1 - s * b1;
    xq[k] = s * a0 + c * b0;
    xq[k + 1] = s * a1 + c * b1;
  }
  if (k < n) {
    double a0 = xp[k], b0 = xq[k];
    xp[k] = c * a0 - s * b0;
    xq[k] = s * a0 + c * b0;
  }
}

/* }==================================================================== */

/* {====================================================================
** Cyclic Jacobi
** ===================================================================== */

/*
** Scale factor for the working copy of a matrix of Frobenius norm `norm`: a power
** of two (exact) that brings a norm outside [2^-400, 2^400] to about 1, so that
** the squares and products formed by the rotations below can neither overflow
** nor lose the entries that matter to underflow. 0 when no scaling is needed.
*/
static int scale_exponent(double norm) {
  if (norm == 0.0 || (norm > 0x1p-400 && norm < 0x1p400)) return 0;
  int e;
  frexp(norm, &e);
  return e;
}

static void scale(size_t count, double *x, int e) {
  for (size_t i = 0; i < count; i++) x[i] = ldexp(x[i], e);
}

/*
** One rotation of the Jacobi method (Golub & Van Loan, Matrix Computations, 4th
** ed., Algorithms 8.5.1-8.5.3; Rutishauser's formulation). The rotation J in the
** (p, q) plane with J'AJ zero at (p, q) has t = tan(angle) the smaller root of
**     t^2 + 2 theta t - 1 = 0,   theta = (a_qq - a_pp) / (2 a_pq),
** so |angle| <= pi/4, and the new diagonal is a_pp - t a_pq, a_qq + t a_pq (no
** subtraction of nearly equal terms). With d = a_qq - a_pp, b = 2 a_pq,
** r = sqrt(d^2 + b^2) and u = r + |d| this is
**     t = sign(d) b / u,   c = u h,   s = sign(d) b h,   h = 1 / sqrt(2 r u),
** (because 1 + t^2 = 2 r u / u^2), which needs two square roots and one division
** on the path to c and s instead of the textbook's two and three. a holds the
** full symmetric matrix, scaled so that d^2 + b^2 cannot overflow: rows p and q
** are rotated (contiguous), the same values are copied into columns p and q, and
** the 2x2 block is set analytically.
*/
static void jacobi_rotate(size_t n, double *a, double *zt, size_t p, size_t q) {
  double apq = a[p * n + q], app = a[p * n + p], aqq = a[q * n + q];
  double d = aqq - app, b = 2.0 * apq;
  double r = sqrt(d * d + b * b), u = r + fabs(d);
  double sb = d < 0.0 ? -b : b;  /* sign(d) b, with sign(0) = +1 */
  double h = 1.0 / sqrt(2.0 * r * u), t = sb / u;
  double c = u * h, s = sb * h;
  double *rp = a + p * n, *rq = a + q * n;
  rotrows(n, rp, rq, c, s);
  for (size_t k = 0; k < n; k++) {
    a[k * n + p] = rp[k];
    a[k * n + q] = rq[k];
  }
  rp[p] = app - t * apq;
  rq[q] = aqq + t * apq;
  rp[q] = rq[p] = 0.0;
  rotrows(n, zt + p * n, zt + q * n, c, s);
}

/*
** A sweep visits every pair once in round-robin ("chess tournament") order: n - 1
** rounds (n rounded up to even) of disjoint pairs, player 0 fixed and the others
** moving one seat per round (Brent & Luk 1985; the ordering of parallel Jacobi).
** Consecutive rotations then touch disjoint rows, so the processor overlaps the
** square roots and divisions of one rotation with the updates of the previous,
** where the row-cyclic order (0,1), (0,2), ... makes each wait for the last. It
** converges quadratically like the cyclic order.
**
** Entries at or below tau = eps ||A||_F / n are skipped; sweeps stop when one
** finds nothing above tau. The skipped entries then sum to at most eps ||A||_F in
** the Frobenius norm, so by Weyl's theorem the diagonal is within eps ||A||_F of
** the eigenvalues and V diag(w) V' reproduces A to that level: full double
** precision relative to the norm of A. The final sweep costs only comparisons.
*/
static hs_status jacobi_sweeps(size_t n, double *a, double *zt, double *w, double *V) {
  double norm = hs_nrm2(n * n, a);
  if (!isfinite(norm)) return HS_EINVAL;
  int e = scale_exponent(norm);
  if (e != 0) {
    scale(n * n, a, -e);
    norm = ldexp(norm, -e);
  }
  double tau = DBL_EPSILON * norm / (double)n;
  size_t m = n + (n & 1), seats = m - 1;  /* players, with a bye when n is odd */
  for (int sweep = 0; sweep < MAX_SWEEPS; sweep++) {
    size_t rotations = 0;
    for (size_t round = 0; round < seats; round++)
      for (size_t i = 0; i < m / 2; i++) {
        /* seats i and m-1-i play; seat 0 always holds player 0 */
        size_t p = i + round, q = m - 2 - i + round;
        p = i == 0 ? 0 : (p > seats ? p - seats : p);
        q = q >= seats ? q - seats + 1 : q + 1;
        if (p > q) {
          size_t x = p;
          p = q;
          q = x;
        }
        if (q >= n) continue;  /* the bye */
        if (fabs(a[p * n + q]) > tau) {
          jacobi_rotate(n, a, zt, p, q);
          rotations++;
        }
      }
    if (rotations == 0) {
      for (size_t i = 0; i < n; i++) w[i] = a[i * n + i];
      if (e != 0) scale(n, w, e);
      sort_and_finish(n, w, zt, V);
      return HS_OK;
    }
  }
  return HS_ENOCONV;
}

/*
** Make the rows of zt orthonormal by modified Gram-Schmidt (Golub & Van Loan,
** Algorithm 5.2.6). A warm start is a V from an earlier call; rotations keep
** orthogonality only as well as the input had it, so without this step the
** error would grow over a long chain of warm starts. Returns 0 when some row
** loses more than half its length to the projections: the input was not close
** to orthogonal and the caller starts cold instead.
*/
static int orthonormalize_rows(size_t n, double *zt) {
  for (size_t i = 0; i < n; i++) {
    double *zi = zt + i * n;
    for (size_t j = 0; j < i; j++) {
      const double *zj = zt + j * n;
      double r = dot(n, zi, zj);
      for (size_t k = 0; k < n; k++) zi[k] -= r * zj[k];
    }
    double len = hs_nrm2(n, zi);
    if (!(len > 0.5)) return 0;
    for (size_t k = 0; k < n; k++) zi[k] /= len;
  }
  return 1;
}

hs_status hs_eig_jacobi(size_t n, const double *A, double *w, double *V, double *work,
                        int warm) {
  if (n == 0) return HS_OK;
  double *a = work, *zt = work + n * n;
  if (warm) {
    /* Start from B = Z A Z' with Z = V' (rows = the previous eigenvectors): if
    ** B = U D U' then A = (Z'U) D (Z'U)', so the rotations that diagonalise B are
    ** accumulated straight into the rows of Z. V is free once Z is copied out. */
    for (size_t i = 0; i < n; i++)
      for (size_t j = 0; j < n; j++) zt[i * n + j] = V[j * n + i];
    if (orthonormalize_rows(n, zt)) {
      symcopy(n, A, a);
      hs_gemm(n, n, n, zt, a, V);         /* V = Z A */
      for (size_t i = 0; i < n; i++)      /* a = (Z A) Z', lower half mirrored: */
        for (size_t j = 0; j <= i; j++)   /* exactly symmetric, as Jacobi assumes */
          a[i * n + j] = a[j * n + i] = dot(n, V + i * n, zt + j * n);
      return jacobi_sweeps(n, a, zt, w, V);
    }
  }
  symcopy(n, A, a);
  setidentity(n, zt);
  return jacobi_sweeps(n, a, zt, w, V);
}

/* }==================================================================== */

/* {====================================================================
** Householder tridiagonalisation and implicit symmetric QR
** ===================================================================== */

/*
** Reduce the full symmetric matrix a to tridiagonal form T = Q'AQ (Golub & Van
** Loan, Algorithm 8.3.1): for k = 0 .. n-3, a Householder reflection H_k = I -
** beta v v' zeroes column k below the subdiagonal, and the trailing block is
** updated as A22 - v q' - q v' with p = beta A22 v, q = p - (beta p'v / 2) v.
** Row k of a keeps v (it is no longer needed), bet[k] keeps beta; d and e receive
** the diagonal and subdiagonal. tmp has n doubles.
*/
static void tridiagonalize(size_t n, double *a, double *d, double *e, double *bet,
                           double *tmp) {
  for (size_t k = 0; k + 2 < n; k++) {
    double *v = a + k * n + k + 1;  /* row k right of the diagonal = column k below */
    size_t m = n - k - 1;
    double sigma = hs_nrm2(m, v), x0 = v[0];
    d[k] = a[k * n + k];
    bet[k] = 0.0;
    if (sigma == 0.0) {  /* column already zero: H_k = I */
      e[k] = 0.0;
      continue;
    }
    double alpha = x0 >= 0.0 ? -sigma : sigma;
    v[0] = x0 - alpha;  /* x0 and alpha have opposite signs: no cancellation */
    double beta = 1.0 / (sigma * (sigma + fabs(x0)));  /* 2 / v'v */
    bet[k] = beta;
    e[k] = alpha;
    double *a22 = a + (k + 1) * n + (k + 1);
    for (size_t i = 0; i < m; i++) tmp[i] = beta * dot(m, a22 + i * n, v);
    double K = 0.5 * beta * dot(m, tmp, v);
    for (size_t i = 0; i < m; i++) tmp[i] -= K * v[i];
    for (size_t i = 0; i < m; i++) {
      double *row = a22 + i * n, vi = v[i], ti = tmp[i];
      for (size_t j = 0; j < m; j++) row[j] -= vi * tmp[j] + ti * v[j];
    }
  }
  if (n >= 2) {
    d[n - 2] = a[(n - 2) * n + n - 2];
    e[n - 2] = a[(n - 2) * n + n - 1];
  }
  d[n - 1] = a[(n - 1) * n + n - 1];
}

/*
** zt = Q' = H_{n-3} ... H_0, accumulated backwards (zt <- zt H_k for k = n-3 .. 0)
** so that each reflection only touches the trailing block that is still identity
** elsewhere (Golub & Van Loan, section 5.1.6).
*/
static void accumulate_q(size_t n, const double *a, const double *bet, double *zt) {
  setidentity(n, zt);
  for (size_t k = n >= 3 ? n - 2 : 0; k-- > 0;) {
    if (bet[k] == 0.0) continue;
    const double *v = a + k * n + k + 1;
    size_t m = n - k - 1;
    for (size_t i = k + 1; i < n; i++) {
      double *zi = zt + i * n + k + 1;
      double s = bet[k] * dot(m, zi, v);
      for (size_t j = 0; j < m; j++) zi[j] -= s * v[j];
    }
  }
}

/* sqrt(x^2 + z^2) without overflow: the plain formula when it is safe (the hot
** case), hypot otherwise. */
static double pythag(double x, double z) {
  double ax = fabs(x), az = fabs(z), m = ax > az ? ax : az;
  if (m > 0x1p-500 && m < 0x1p500) return sqrt(x * x + z * z);
  return hypot(x, z);
}

/*
** One implicit symmetric QR step with Wilkinson shift on the unreduced block
** lo..hi of the tridiagonal (d, e) (Golub & Van Loan, Algorithm 8.3.2). The shift
** is the eigenvalue of the trailing 2x2 block closer to d[hi]; the first rotation
** is chosen from the first column of T - mu I and the bulge it creates at
** (k, k+2) is chased down by the following ones. Each rotation G acts on rows
** k, k+1 (row k <- c row k + s row k+1) and T <- G T G', zt <- G zt. The step is
** split into its start (qr_start: the first column, into x and z) and its
** rotations (qr_rot, k = lo .. hi-1), so that hs_sqrt_apply_multi can interleave
** the steps of several matrices.
*/
static void qr_start(const double *d, const double *e, size_t lo, size_t hi, double *x,
                     double *z) {
  double g = 0.5 * (d[hi - 1] - d[hi]), f = e[hi - 1];
  double den = g + copysign(pythag(g, f), g);
  double mu = d[hi] - f * (f / den);  /* |f / den| <= 1: no overflow */
  *x = d[lo] - mu;
  *z = e[lo];
}

/* Rotation k of the step on lo..hi: on zt's rows or, with zt NULL, on the vector y
** (y <- G y), appending (c, s) to the log at *nlog. */
static inline __attribute__((always_inline)) void qr_rot(size_t n, double *d, double *e, double *zt, size_t lo, size_t hi,
                          size_t k, double *x, double *z, double *y, double *log,
                          size_t *nlog) {
  double r = pythag(*x, *z), c = 1.0, s = 0.0;
  if (r > 0.0) {
    double rinv = 1.0 / r;
    c = *x * rinv;
    s = *z * rinv;
  }
  if (k > lo) e[k - 1] = r;
  double a = d[k], b = e[k], dd = d[k + 1];
  double cs2b = 2.0 * c * s * b;
  d[k] = c * c * a + cs2b + s * s * dd;
  d[k + 1] = s * s * a - cs2b + c * c * dd;
  e[k] = c * s * (dd - a) + (c * c - s * s) * b;
  if (k + 1 < hi) {
    *z = s * e[k + 1];  /* the bulge at (k, k+2) */
    e[k + 1] *= c;
    *x = e[k];
  }
  if (zt != NULL) rotrows(n, zt + k * n, zt + (k + 1) * n, c, -s);
  else {
    double yk = y[k], yk1 = y[k + 1];
    y[k] = c * yk + s * yk1;
    y[k + 1] = -s * yk + c * yk1;
    log[(*nlog)++] = c;
    log[(*nlog)++] = s;
  }
}

static void qr_step(size_t n, double *d, double *e, double *zt, size_t lo, size_t hi) {
  double x, z;
  qr_start(d, e, lo, hi, &x, &z);
  for (size_t k = lo; k < hi; k++) qr_rot(n, d, e, zt, lo, hi, k, &x, &z, NULL, NULL, NULL);
}

/* Is the subdiagonal entry e negligible next to its diagonal neighbours a, b? */
static int negligible(double e, double a, double b) {
  return fabs(e) <= 0.5 * DBL_EPSILON * (fabs(a) + fabs(b));
}

/*
** Eigen-decomposition through tridiagonal form: reduce, accumulate Q, then
** iterate QR steps on the lowest unreduced block, deflating each subdiagonal
** entry once it is negligible, until the tridiagonal is diagonal.
** work has 2 n*n + 3n doubles.
*/
static hs_status eig_tridiag_qr(size_t n, const double *A, double *w, double *V,
                                double *work) {
  double *a = work, *zt = a + n * n, *e = zt + n * n, *bet = e + n, *tmp = bet + n;
  symcopy(n, A, a);
  double norm = hs_nrm2(n * n, a);
  if (!isfinite(norm)) return HS_EINVAL;
  int ex = scale_exponent(norm);
  if (ex != 0) scale(n * n, a, -ex);
  tridiagonalize(n, a, w, e, bet, tmp);
  accumulate_q(n, a, bet, zt);
  size_t hi = n - 1, iter = 0;
  while (hi > 0) {
    if (negligible(e[hi - 1], w[hi - 1], w[hi])) {
      e[hi - 1] = 0.0;
      hi--;
      continue;
    }
    size_t lo = hi - 1;
    while (lo > 0 && !negligible(e[lo - 1], w[lo - 1], w[lo])) lo--;
    if (lo > 0) e[lo - 1] = 0.0;
    if (++iter > MAX_QR_ITER * n) return HS_ENOCONV;
    qr_step(n, w, e, zt, lo, hi);
  }
  if (ex != 0) scale(n, w, ex);
  sort_and_finish(n, w, zt, V);
  return HS_OK;
}

/*
** The symmetric square root applied to a vector without the eigenvectors: with
** A = Q T Q' (Householder, T tridiagonal) and T = G' diag(w) G (G the product of the
** implicit QR steps' rotations), A^(1/2) z = Q G' diag(sqrt(w+)) G Q' z. The
** reflections and rotations act on the vector alone, O(n) each instead of O(n) per
** row of the eigenvector matrix, so that after the reduction (4n^3/3 multiply-adds)
** the rest costs O(n^2): a few times less than hs_eig, whose QR phase accumulating
** eigenvectors costs about 6 n^3. The eigenvalues are hs_eig's for n > 6 (the same
** reduction and QR steps). The rotations are logged on the way in and applied
** transposed, in reverse, on the way back; each QR step's (lo, hi) goes to a second
** log, so that the way back knows which rows each rotation acted on.
**
** What remains is a chain: each rotation of a QR step needs the previous one's
** result, through a square root and a division, so one matrix leaves the processor
** mostly waiting. hs_sqrt_apply_multi advances several matrices' iterations by one
** rotation each in turn, independent chains that overlap; every matrix's
** arithmetic is the same as alone.
*/
static size_t sqrt_apply_maxsteps(size_t n) { return MAX_QR_ITER * n + 1; }

size_t hs_sqrt_apply_worksize(size_t n) {
  size_t steps = sqrt_apply_maxsteps(n);
  return n * n + 4 * n + 2 * steps * (n > 0 ? n - 1 : 0) + 2 * steps;
}

/* One problem's state through the QR phase. */
typedef struct sqrt_state {
  double *a, *e, *bet, *u, *rot, *steps, *w;
  double *zt;   /* hs_eig_multi: the eigenvectors' rows, rotated; NULL: u is */
  size_t hi, lo, k, iter, nrot, nstep;
  double x, z;
  int ex, instep, done;
  hs_status st;
} sqrt_state;

/* Reduce, scale and start: u = Q' z. Returns 0 when the problem is finished already
** (n < 2 or an error in st). */
static int sqrt_begin(size_t n, const double *A, const double *z, double *w, double *work,
                      sqrt_state *S) {
  S->a = work, S->e = S->a + n * n, S->bet = S->e + n;
  double *tmp = S->bet + n;
  S->u = tmp + n;
  S->rot = S->u + n;
  S->steps = S->rot + 2 * sqrt_apply_maxsteps(n) * (n - 1);
  S->w = w;
  S->zt = NULL;
  S->st = HS_OK;
  S->hi = n - 1, S->iter = 0, S->nrot = 0, S->nstep = 0, S->instep = 0, S->done = 0;
  symcopy(n, A, S->a);
  double norm = hs_nrm2(n * n, S->a);
  if (!isfinite(norm)) {
    S->st = HS_EINVAL;
    return 0;
  }
  S->ex = scale_exponent(norm);
  if (S->ex != 0) scale(n * n, S->a, -S->ex);
  tridiagonalize(n, S->a, w, S->e, S->bet, tmp);
  memcpy(S->u, z, n * sizeof(double));
  for (size_t k = 0; k + 2 < n; k++) {
    if (S->bet[k] == 0.0) continue;
    const double *v = S->a + k * n + k + 1;
    size_t m = n - k - 1;
    double t = S->bet[k] * dot(m, S->u + k + 1, v);
    for (size_t j = 0; j < m; j++) S->u[k + 1 + j] -= t * v[j];
  }
  return 1;
}

/* One move of the QR phase: deflate and start the next step, or one rotation.
** Returns 0 when the problem has left the phase (converged, or HS_ENOCONV). */
static inline __attribute__((always_inline)) int sqrt_advance(size_t n, sqrt_state *S) {
  double *w = S->w, *e = S->e;
  if (S->instep) {
    qr_rot(n, w, e, S->zt, S->lo, S->hi, S->k, &S->x, &S->z, S->u, S->rot, &S->nrot);
    if (++S->k == S->hi) S->instep = 0;
    return 1;
  }
  while (S->hi > 0 && negligible(e[S->hi - 1], w[S->hi - 1], w[S->hi])) {
    e[S->hi - 1] = 0.0;
    S->hi--;
  }
  if (S->hi == 0) return 0;
  size_t lo = S->hi - 1;
  while (lo > 0 && !negligible(e[lo - 1], w[lo - 1], w[lo])) lo--;
  if (lo > 0) e[lo - 1] = 0.0;
  if (++S->iter > MAX_QR_ITER * n) {
    S->st = HS_ENOCONV;
    return 0;
  }
  if (S->zt == NULL) {
    S->steps[S->nstep++] = (double)lo;
    S->steps[S->nstep++] = (double)S->hi;
  }
  S->lo = lo, S->k = lo, S->instep = 1;
  qr_start(w, e, lo, S->hi, &S->x, &S->z);
  return 1;
}

/* Unscale, test, take the square roots, and go back: y = Q G' diag(sqrt(w+)) u. */
static hs_status sqrt_finish(size_t n, double tol, int clip, double *y, size_t *clipped,
                             sqrt_state *S) {
  double *w = S->w, *u = S->u;
  *clipped = 0;
  if (S->st != HS_OK) return S->st;
  if (S->ex != 0) scale(n, w, S->ex);
  /* hs_psd_factor's test on the extreme eigenvalues */
  double lo = w[0], hi = w[0];
  for (size_t k = 1; k < n; k++) lo = fmin(lo, w[k]), hi = fmax(hi, w[k]);
  double cut = -tol * fmax(fabs(lo), fabs(hi));
  size_t count = 0;
  for (size_t k = 0; k < n; k++) count += w[k] < cut;
  if (count > 0 && !clip) return HS_ENOTPSD;
  *clipped = count;
  for (size_t k = 0; k < n; k++) u[k] *= w[k] > 0.0 ? sqrt(w[k]) : 0.0;
  size_t nrot = S->nrot, nstep = S->nstep;
  while (nstep > 0) {
    size_t shi = (size_t)S->steps[--nstep], slo = (size_t)S->steps[--nstep];
    for (size_t k = shi; k-- > slo;) {
      double s = S->rot[--nrot], c = S->rot[--nrot];
      double uk = u[k], uk1 = u[k + 1];
      u[k] = c * uk - s * uk1;
      u[k + 1] = s * uk + c * uk1;
    }
  }
  for (size_t k = n >= 3 ? n - 2 : 0; k-- > 0;) {
    if (S->bet[k] == 0.0) continue;
    const double *v = S->a + k * n + k + 1;
    size_t m = n - k - 1;
    double t = S->bet[k] * dot(m, u + k + 1, v);
    for (size_t j = 0; j < m; j++) u[k + 1 + j] -= t * v[j];
  }
  memcpy(y, u, n * sizeof(double));
  return HS_OK;
}

void hs_sqrt_apply_multi(size_t n, size_t m, const double *const *A, const double *const *z,
                         double *const *y, double tol, int clip, double *const *w,
                         size_t *clipped, hs_status *st, double *work) {
  sqrt_state S[HS_SQRT_MULTI];
  size_t ws = hs_sqrt_apply_worksize(n), left = 0;
  if (m > HS_SQRT_MULTI) m = HS_SQRT_MULTI;
  if (n == 1) {   /* no reduction: the number itself */
    for (size_t i = 0; i < m; i++) {
      double a = A[i][0];
      w[i][0] = a;
      clipped[i] = 0;
      st[i] = isfinite(a) ? HS_OK : HS_EINVAL;
      if (st[i] != HS_OK) continue;
      double cut = -tol * fabs(a);
      if (a < cut && !clip) {
        st[i] = HS_ENOTPSD;
        continue;
      }
      clipped[i] = a < cut;
      y[i][0] = (a > 0.0 ? sqrt(a) : 0.0) * z[i][0];
    }
    return;
  }
  for (size_t i = 0; i < m; i++) {
    if (n == 0) {
      st[i] = HS_OK, clipped[i] = 0;
      S[i].done = 1;
      continue;
    }
    S[i].done = !sqrt_begin(n, A[i], z[i], w[i], work + i * ws, &S[i]);
    left += !S[i].done;
  }
  while (left > 0)
    for (size_t i = 0; i < m; i++)
      if (!S[i].done && !sqrt_advance(n, &S[i])) S[i].done = 1, left--;
  if (n == 0) return;
  for (size_t i = 0; i < m; i++) st[i] = sqrt_finish(n, tol, clip, y[i], &clipped[i], &S[i]);
}

hs_status hs_sqrt_apply(size_t n, const double *A, const double *z, double *y, double tol,
                        int clip, double *w, size_t *clipped, double *work) {
  hs_status st;
  hs_sqrt_apply_multi(n, 1, &A, &z, &y, tol, clip, &w, clipped, &st, work);
  return st;
}


/* }==================================================================== */

/* {====================================================================
** LAPACK and the dispatcher
** ===================================================================== */

/* dsyevd's workspace with eigenvectors: 1 + 6n + 2n^2 doubles, 3 + 5n integers. */
#define LWORK(n) (1 + 6 * (n) + 2 * (n) * (n))
#define LIWORK(n) (3 + 5 * (n))

/* Doubles needed to hold the integer workspace. */
static size_t iwork_doubles(size_t n) {
  size_t bytes = LIWORK(n) * sizeof(lapack_int);
  return (bytes + sizeof(double) - 1) / sizeof(double);
}

static size_t lapack_worksize(size_t n) {
  return LWORK(n) + iwork_doubles(n);
}

static size_t small_worksize(size_t n) {
  return 2 * n * n + 3 * n;  /* tridiagonal QR; Jacobi needs 2 n*n */
}

size_t hs_eig_worksize(size_t n) {
  size_t s = small_worksize(n);
  if (n > HS_EIG_SMALL) {
    size_t l = lapack_worksize(n);
    if (l > s) s = l;
  }
  return s;
}

/* Convert a size for LAPACK; 0 when it does not fit in lapack_int. */
static int tolapack(size_t x, lapack_int *out) {
  lapack_int v = (lapack_int)x;
  if (v < 0 || (size_t)v != x) return 0;
  *out = v;
  return 1;
}

/*
** The one LAPACK call of hasme's eigensolver: all eigenvalues and eigenvectors by
** divide and conquer (dsyevd), whose eigenvectors are orthogonal to a few eps even
** for clustered eigenvalues (dsyevr's MRRR vectors lose two orders of magnitude
** there). On entry V holds A (row-major, lower triangle read); on exit the
** eigenvectors, in columns. LAPACKE transposes row-major arguments through
** temporaries of its own; its memory errors become HS_ENOMEM.
*/
static hs_status syevd(size_t n, double *V, double *w, double *work, lapack_int *iw) {
  lapack_int ln, lwork, liwork;
  if (!tolapack(n, &ln) || !tolapack(LWORK(n), &lwork) || !tolapack(LIWORK(n), &liwork))
    return HS_ESIZE;
  lapack_int info = 0;
  hs_status st = hs_lapack_dsyevd_work(LAPACK_ROW_MAJOR, 'V', 'L', ln, V, ln, w, work,
                                       lwork, iw, liwork, &info);
  if (st != HS_OK) return st;
  if (info == LAPACK_TRANSPOSE_MEMORY_ERROR || info == LAPACK_WORK_MEMORY_ERROR)
    return HS_ENOMEM;
  return info == 0 ? HS_OK : HS_ELAPACK;
}

/* The lower triangle of A is all that LAPACK reads; it must be finite (LAPACK's
** behaviour on inf or NaN is unspecified). */
static int lower_finite(size_t n, const double *A) {
  for (size_t i = 0; i < n; i++)
    if (hs_firstnonfinite(i + 1, A + i * n) <= i) return 0;
  return 1;
}

static hs_status eig_lapack_work(size_t n, const double *A, double *w, double *V,
                                 double *work) {
  if (!lower_finite(n, A)) return HS_EINVAL;
  memcpy(V, A, n * n * sizeof(double));
  return syevd(n, V, w, work, (lapack_int *)(work + LWORK(n)));
}

hs_status hs_eig_lapack(size_t n, const double *A, double *w, double *V) {
  if (n == 0) return HS_OK;
  size_t count = 0;
  if (!hs_mulsize(n, n, &count) || count > HS_MAXSIZE) return HS_ESIZE;
  double *work = hs_malloc(lapack_worksize(n) * sizeof(double));
  if (work == NULL) return HS_ENOMEM;
  hs_status s = eig_lapack_work(n, A, w, V, work);
  free(work);
  return s;
}

/*
** Which solver: timed on random symmetric matrices (-O2, one core; rerun with
** HASME_BENCH=1 build/tests/test_linalg), cold Jacobi is as fast as the
** tridiagonal QR up to order 6 (0.05 us at n = 2, 1.3 us at n = 6) and slower
** from 7 on (3.1 us against 2.4 us at n = 8, 29 us against 10 us at n = 16).
** LAPACKE_dsyevr took 8.5 us at n = 8 and 27 us at n = 16, much of it in
** workspace setup and the row-major transposition, so it takes over only above
** HS_EIG_SMALL.
*/
#define JACOBI_MAX 6

hs_status hs_eig(size_t n, const double *A, double *w, double *V, double *work) {
  if (n == 0) return HS_OK;
  if (n > HS_EIG_SMALL) return eig_lapack_work(n, A, w, V, work);
  if (n <= JACOBI_MAX) return hs_eig_jacobi(n, A, w, V, work, 0);
  return eig_tridiag_qr(n, A, w, V, work);
}

/* hs_eig's tridiagonal QR (eig_tridiag_qr) for several matrices, their QR phases
** interleaved as in hs_sqrt_apply_multi, the eigenvector rows rotated along. */
void hs_eig_multi(size_t n, size_t m, const double *const *A, double *const *w,
                  double *const *V, hs_status *st, double *work) {
  sqrt_state S[HS_SQRT_MULTI];
  size_t ws = hs_eig_worksize(n), left = 0;
  if (m > HS_SQRT_MULTI) m = HS_SQRT_MULTI;
  if (n <= JACOBI_MAX || n > HS_EIG_SMALL) {   /* no QR phase to interleave */
    for (size_t i = 0; i < m; i++) st[i] = hs_eig(n, A[i], w[i], V[i], work + i * ws);
    return;
  }
  for (size_t i = 0; i < m; i++) {
    sqrt_state *P = &S[i];
    double *a = work + i * ws, *zt = a + n * n, *e = zt + n * n, *bet = e + n, *tmp = bet + n;
    P->a = a, P->zt = zt, P->e = e, P->bet = bet, P->w = w[i], P->u = NULL;
    P->rot = P->steps = NULL;
    P->hi = n - 1, P->iter = 0, P->nrot = 0, P->nstep = 0, P->instep = 0, P->done = 0;
    P->st = HS_OK;
    symcopy(n, A[i], a);
    double norm = hs_nrm2(n * n, a);
    if (!isfinite(norm)) {
      P->st = HS_EINVAL;
      P->done = 1;
      continue;
    }
    P->ex = scale_exponent(norm);
    if (P->ex != 0) scale(n * n, a, -P->ex);
    tridiagonalize(n, a, w[i], e, bet, tmp);
    accumulate_q(n, a, bet, zt);
    left++;
  }
  while (left > 0)
    for (size_t i = 0; i < m; i++)
      if (!S[i].done && !sqrt_advance(n, &S[i])) S[i].done = 1, left--;
  for (size_t i = 0; i < m; i++) {
    st[i] = S[i].st;
    if (st[i] != HS_OK) continue;
    if (S[i].ex != 0) scale(n, w[i], S[i].ex);
    sort_and_finish(n, w[i], S[i].zt, V[i]);
  }
}

/* }==================================================================== */

/* {====================================================================
** Matrices assembled from eigensystems, Cholesky, PSD factors
** ===================================================================== */

/* out_ij = sum_k V_ik d_k V_jk: rows of V are contiguous, so each entry is a dot
** product of two rows; only j <= i is computed and mirrored, which also makes the
** result exactly symmetric. */
void hs_sym_from_eig(size_t n, const double *V, const double *d, double *out) {
  for (size_t i = 0; i < n; i++) {
    const double *vi = V + i * n;
    for (size_t j = 0; j <= i; j++) {
      const double *vj = V + j * n;
      double s0 = 0.0, s1 = 0.0;
      size_t k = 0;
      for (; k + 1 < n; k += 2) {
        s0 += vi[k] * d[k] * vj[k];
        s1 += vi[k + 1] * d[k + 1] * vj[k + 1];
      }
      if (k < n) s0 += vi[k] * d[k] * vj[k];
      out[i * n + j] = out[j * n + i] = s0 + s1;
    }
  }
}

void hs_sym_from_eig_work(size_t n, const double *V, const double *d, double *out,
                          double *work) {
  if (!useblas(n, n, n)) {
    hs_sym_from_eig(n, V, d, out);
    return;
  }
  for (size_t i = 0; i < n; i++)
    for (size_t k = 0; k < n; k++) work[i * n + k] = V[i * n + k] * d[k];
  hs_gemm_nt(n, n, n, work, V, out);
  hs_symmetrize_lower(n, out);
}

/*
** The domain of each function is checked once, on the extreme eigenvalue that
** could violate it (w is ascending), before anything is written.
*/
hs_status hs_eigmap(hs_eigfn f, size_t n, double *w, double tol, double *bad) {
  if (n == 0) return HS_OK;
  double lo = w[0], hi = w[n - 1];
  switch (f) {
    case HS_FN_LOG:
      if (!(lo > 0.0)) return *bad = lo, HS_EDOM;
      for (size_t k = 0; k < n; k++) w[k] = log(w[k]);
      break;
    case HS_FN_SQRT:
      if (lo < -tol * fmax(fabs(lo), fabs(hi))) return *bad = lo, HS_EDOM;
      for (size_t k = 0; k < n; k++) w[k] = w[k] > 0.0 ? sqrt(w[k]) : 0.0;
      break;
    case HS_FN_EXP:
      if (!isfinite(exp(hi))) return *bad = hi, HS_EDOM;
      for (size_t k = 0; k < n; k++) w[k] = exp(w[k]);
      break;
    case HS_FN_PHI1:
    case HS_FN_PHI2:
      if (!(hi < 1.0)) return *bad = hi, HS_EDOM;
      for (size_t k = 0; k < n; k++) w[k] = f == HS_FN_PHI1 ? hs_phi1(w[k]) : hs_phi2(w[k]);
      break;
    default:
      return HS_EINVAL;
  }
  return HS_OK;
}

/*
** Row-by-row Cholesky (the Cholesky-Banachiewicz order; Golub & Van Loan,
** section 4.2.5): L_ij = (A_ij - sum_{k<j} L_ik L_jk) / L_jj for j < i, then the
** pivot A_ii - sum_{k<i} L_ik^2, whose square root is L_ii. Every dot product
** runs along two rows. Entry (i, j) of A is read just before L_ij is written, so
** L may alias A. A failed pivot (not > 0, NaN included) is left in L_ii.
*/
hs_status hs_chol(size_t n, const double *A, double *L, size_t *col) {
  for (size_t i = 0; i < n; i++) {
    double *li = L + i * n;
    for (size_t j = 0; j <= i; j++) {
      const double *lj = L + j * n;
      double s = A[i * n + j] - dot(j, li, lj);
      if (j < i) {
        li[j] = s / lj[j];
        continue;
      }
      if (!(s > 0.0)) {
        li[i] = s;
        if (col != NULL) *col = i;
        return HS_ENOTPSD;
      }
      li[i] = sqrt(s);
    }
    for (size_t j = i + 1; j < n; j++) li[j] = 0.0;
  }
  return HS_OK;
}

/*
** D = V diag(sqrt(max(w, 0))): D D' = V diag(max(w, 0)) V', which is A when A is
** PSD and otherwise the nearest PSD matrix in the Frobenius norm (Higham 1988:
** clipping the negative eigenvalues). Eigenvalues in [-tol max|w|, 0) are
** rounding noise and are zeroed silently; below that the matrix is indefinite.
*/
hs_status hs_psd_factor(size_t n, const double *A, double *D, double tol, int clip,
                        double *minw, size_t *clipped, double *work) {
  double *V = work, *w = work + n * n, *ew = w + n;
  if (clipped != NULL) *clipped = 0;
  if (n == 0) {
    if (minw != NULL) *minw = 0.0;
    return HS_OK;
  }
  hs_status s = hs_eig(n, A, w, V, ew);
  if (s != HS_OK) return s;
  if (minw != NULL) *minw = w[0];  /* ascending: w[0] is the smallest */
  double cut = -tol * fmax(fabs(w[0]), fabs(w[n - 1]));
  size_t count = 0;
  for (size_t k = 0; k < n; k++)
    if (w[k] < cut) count++;
  if (count > 0 && !clip) return HS_ENOTPSD;
  if (clipped != NULL) *clipped = count;
  for (size_t k = 0; k < n; k++) w[k] = w[k] > 0.0 ? sqrt(w[k]) : 0.0;
  for (size_t i = 0; i < n; i++)
    for (size_t k = 0; k < n; k++) D[i * n + k] = V[i * n + k] * w[k];
  return HS_OK;
}

size_t hs_factor_worksize(size_t n) {
  return hs_eig_worksize(n) + 2 * n * n + n;
}

/* The symmetric square root rather than a Cholesky factor: it is unique, continuous
** in A on the whole PSD cone (singular matrices included, such as minibatch
** covariances with fewer samples than parameters), and does not depend on how an
** eigensolver orders or signs eigenvectors. Every method of the engine factors its
** own diffusion matrix this way, so coupled runs drive the same directions with the
** same normals (docs/methods.md section 10). */
hs_status hs_factor(size_t n, const double *A, double *D, double tol, int clip,
                    double *minw, size_t *clipped, double *work) {
  *clipped = 0;
  if (n == 1) {   /* no eigensolver for a number */
    if (minw != NULL) *minw = A[0];
    if (A[0] < 0.0 && !clip) return HS_ENOTPSD;
    if (A[0] < 0.0) *clipped = 1;
    D[0] = A[0] > 0.0 ? sqrt(A[0]) : 0.0;
    return HS_OK;
  }
  hs_status st = hs_psd_factor(n, A, D, tol, clip, minw, clipped, work);
  if (st != HS_OK) return st;
  /* hs_psd_factor leaves D = V diag(sqrt(w)) and V at the start of work: D V'. */
  const double *V = work;
  double *T = work + hs_eig_worksize(n) + n * n + n;
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j <= i; j++) {
      double s = 0.0;
      for (size_t k = 0; k < n; k++) s += D[i * n + k] * V[j * n + k];
      T[i * n + j] = T[j * n + i] = s;
    }
  memcpy(D, T, n * n * sizeof(double));
  return HS_OK;
}

/* }==================================================================== */
