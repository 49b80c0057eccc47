/*
** test_eiglanes.c: the lane-interleaved Jacobi solver against hs_eig, lane
** independence, special matrices, and its cost per matrix (HASME_BENCH=1).
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hs_eiglanes.h"
#include "hs_linalg.h"
#include "hs_util.h"
#include "tap.h"

enum { K = HS_LANES };

/* A small deterministic generator for test matrices (not the library's PCG). */
static uint64_t lcg = 0x9e3779b97f4a7c15ULL;
static double unif(void) {
  lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
  return (double)(lcg >> 11) * 0x1.0p-53 * 2.0 - 1.0;
}

static void randsym(size_t n, double *M, double scale) {
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j <= i; j++) M[i * n + j] = M[j * n + i] = scale * unif();
}

static void tolanes(size_t n, const double *M, size_t l, double *A) {
  for (size_t i = 0; i < n * n; i++) A[i * K + l] = M[i];
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Check lane l's decomposition of M: eigenvalues against hs_eig, V orthonormal and
** V diag(w) V' = M, all relative to the Frobenius norm of M. */
static void check(size_t n, const double *M, const double *w, const double *V, size_t l,
                  const char *what) {
  double *wr = malloc(n * sizeof(double)), *Vr = malloc(n * n * sizeof(double));
  double *work = malloc(hs_eig_worksize(n) * sizeof(double)), *wl = malloc(n * sizeof(double));
  hs_eig(n, M, wr, Vr, work);
  for (size_t i = 0; i < n; i++) wl[i] = w[i * K + l];
  qsort(wl, n, sizeof(double), cmp);
  double norm = 0, ew = 0, eo = 0, er = 0;
  for (size_t i = 0; i < n * n; i++) norm += M[i] * M[i];
  norm = sqrt(norm) > 0 ? sqrt(norm) : 1;
  for (size_t i = 0; i < n; i++) ew = fmax(ew, fabs(wl[i] - wr[i]) / norm);
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < n; j++) {
      double o = 0, r = 0;
      for (size_t k = 0; k < n; k++) {
        o += V[(k * n + i) * K + l] * V[(k * n + j) * K + l];
        r += V[(i * n + k) * K + l] * w[k * K + l] * V[(j * n + k) * K + l];
      }
      eo = fmax(eo, fabs(o - (i == j)));
      er = fmax(er, fabs(r - M[i * n + j]) / norm);
    }
  ok(ew <= 1e-14 && eo <= 1e-14 && er <= 1e-14,
     "%s, n = %zu, lane %zu: eigenvalues %.1e, orthogonality %.1e, reconstruction %.1e",
     what, n, l, ew, eo, er);
  free(wr), free(Vr), free(work), free(wl);
}

static void random_blocks(void) {
  for (size_t n = 1; n <= 20; n++) {
    double *M = malloc(K * n * n * sizeof(double)), *A = malloc(K * n * n * sizeof(double));
    double *V = malloc(K * n * n * sizeof(double)), *w = malloc(K * n * sizeof(double));
    double *work = malloc(hs_eig_lanes_worksize(n) * sizeof(double));
    int act[K];
    for (size_t l = 0; l < K; l++) {
      randsym(n, M + l * n * n, l == 5 ? 1e6 : l == 6 ? 1e-6 : 2.385);
      tolanes(n, M + l * n * n, l, A);
      act[l] = 1;
    }
    unsigned bad = hs_eig_lanes(n, A, w, V, act, work);
    is_int(bad, 0, "n = %zu: every lane converges", n);
    for (size_t l = 0; l < K; l += (n > 10 ? 3 : 1)) check(n, M + l * n * n, w, V, l, "random");
    free(M), free(A), free(V), free(w), free(work);
  }
}

/* A lane's result is the same bits whatever the other lanes hold. */
static void independence(void) {
  size_t n = 8;
  double M[K][64], A[K * 64], A1[K * 64], V[K * 64], V1[K * 64], w[K * 8], w1[K * 8];
  double work[256];
  int act[K], one[K] = {0};
  for (size_t l = 0; l < K; l++) {
    randsym(n, M[l], 1.0 + (double)l);
    tolanes(n, M[l], l, A);
    act[l] = 1;
  }
  /* lane 3 alone: the others inactive and filled with another matrix */
  memcpy(A1, A, sizeof A);
  for (size_t l = 0; l < K; l++) if (l != 3) tolanes(n, M[0], l, A1);
  one[3] = 1;
  hs_eig_lanes(n, A, w, V, act, work);
  hs_eig_lanes(n, A1, w1, V1, one, work);
  int same = 1;
  for (size_t i = 0; i < n * n; i++) same &= memcmp(&V[i * K + 3], &V1[i * K + 3], sizeof(double)) == 0;
  for (size_t i = 0; i < n; i++) same &= memcmp(&w[i * K + 3], &w1[i * K + 3], sizeof(double)) == 0;
  ok(same, "a lane's eigensystem does not depend on the other lanes");
}

/* The same with warm starts whose lanes are at different stages: lanes whose start is
** off by 1e-13 rotate only by tiny angles, for which the solver skips the square roots
** when every lane allows it. Alone, such a lane takes that short cut; in a block with
** lanes far from converged it takes the full formula; both must give the same bits. */
static void independence_warm(void) {
  size_t n = 8;
  double M[K][64], A[K * 64], A1[K * 64], V[K * 64], V1[K * 64], V0[K * 64], w[K * 8],
      w1[K * 8], work[1200];
  int act[K], one[K] = {0}, wm[K];
  for (size_t l = 0; l < K; l++) {
    randsym(n, M[l], 1.0 + (double)l);
    tolanes(n, M[l], l, A);
    act[l] = 1;
    wm[l] = 1;
  }
  hs_eig_lanes(n, A, w, V0, act, work);
  for (size_t l = 0; l < K; l++) {
    double e = l == 3 ? 1e-13 : 1e-2;
    for (size_t i = 0; i < n; i++)
      for (size_t j = 0; j <= i; j++) {
        double u = e * unif();
        M[l][i * n + j] += u;
        if (i != j) M[l][j * n + i] += u;
      }
    tolanes(n, M[l], l, A);
  }
  memcpy(A1, A, sizeof A);
  memcpy(V, V0, sizeof V);
  memcpy(V1, V0, sizeof V1);
  one[3] = 1;
  is_int(hs_eig_lanes_warm(n, A, w, V, act, wm, work), 0, "mixed warm block converges");
  is_int(hs_eig_lanes_warm(n, A1, w1, V1, one, wm, work), 0, "nearly converged lane alone converges");
  int same = 1;
  for (size_t i = 0; i < n * n; i++) same &= memcmp(&V[i * K + 3], &V1[i * K + 3], sizeof(double)) == 0;
  for (size_t i = 0; i < n; i++) same &= memcmp(&w[i * K + 3], &w1[i * K + 3], sizeof(double)) == 0;
  ok(same, "a nearly converged lane gives the same bits alone and next to lanes far from it");
  check(n, M[3], w1, V1, 3, "nearly converged lane");
}

static void special(void) {
  size_t n = 6;
  double A[K * 36], V[K * 36], w[K * 6], work[128], M[K][36];
  int act[K];
  for (size_t l = 0; l < K; l++) {
    memset(M[l], 0, sizeof M[l]);
    act[l] = 1;
  }
  for (size_t i = 0; i < n; i++) M[1][i * n + i] = (double)i - 2.5;           /* diagonal */
  for (size_t i = 0; i < n * n; i++) M[2][i] = 1.0;                            /* rank one */
  for (size_t i = 0; i < n; i++) M[3][i * n + i] = 3.7;                        /* multiple of I */
  randsym(n, M[4], 1.0);
  for (size_t i = 0; i < n; i++) M[4][i * n + i] = M[4][0];                    /* clustered */
  M[5][1] = M[5][n] = 1e-300;                                                  /* tiny */
  for (size_t i = 0; i < n; i++) M[6][i * n + i] = 1.0, M[6][i * n + (n - 1 - i)] = 1.0;
  randsym(n, M[7], 1.0);
  for (size_t l = 0; l < K; l++) tolanes(n, M[l], l, A);
  is_int(hs_eig_lanes(n, A, w, V, act, work), 0, "special matrices converge");
  const char *names[K] = {"zero", "diagonal", "rank one", "multiple of I", "clustered",
                          "tiny", "cross", "random"};
  for (size_t l = 0; l < K; l++) check(n, M[l], w, V, l, names[l]);
  /* inf and NaN are reported, and do not disturb other lanes */
  tolanes(n, M[7], 0, A);
  for (size_t l = 1; l < K; l++) tolanes(n, M[l], l, A);
  A[(1 * n + 2) * K + 2] = NAN;
  A[(0 * n + 0) * K + 4] = INFINITY;
  unsigned bad = hs_eig_lanes(n, A, w, V, act, work);
  is_int(bad, (1u << 2) | (1u << 4), "lanes with NaN and inf are reported");
  check(n, M[7], w, V, 0, "next to bad lanes");
  /* entries near the overflow threshold: reported as not converging, never a NaN
  ** passed on as an eigenvalue */
  tolanes(n, M[7], 0, A);
  for (size_t l = 1; l < K; l++) tolanes(n, M[l], l, A);
  A[(1 * n + 2) * K + 3] = A[(2 * n + 1) * K + 3] = 1.5e308;
  bad = hs_eig_lanes(n, A, w, V, act, work);
  is_int(bad, 1u << 3, "a lane with entries near the overflow threshold is reported");
  check(n, M[7], w, V, 0, "next to a lane near overflow");
  is_int(hs_eig_lanes(HS_EIG_LANES_MAX + 1, A, w, V, act, work), (1u << K) - 1,
         "orders above HS_EIG_LANES_MAX are refused");
}

/* Warm starts: from the eigenvectors of a nearby matrix, from a basis that is not
** orthonormal (it is repaired), and lanes that are told to start cold. */
static void warm(void) {
  size_t n = 8;
  double M[K][64], A[K * 64], V[K * 64], w[K * 8], work[1200];
  int act[K], wm[K];
  for (size_t l = 0; l < K; l++) {
    randsym(n, M[l], 1.5);
    tolanes(n, M[l], l, A);
    act[l] = 1;
    wm[l] = l != 2;
  }
  hs_eig_lanes(n, A, w, V, act, work);           /* V: eigenvectors of M */
  for (size_t l = 0; l < K; l++) {
    for (size_t i = 0; i < n; i++)
      for (size_t j = 0; j <= i; j++) {
        double e = 1e-3 * unif();
        M[l][i * n + j] += e;
        if (i != j) M[l][j * n + i] += e;
      }
    tolanes(n, M[l], l, A);
  }
  for (size_t i = 0; i < n * n; i++) V[i * K + 5] *= 1.0 + 1e-6 * (double)(i % 7);  /* skewed */
  for (size_t i = 0; i < n * n; i++) V[i * K + 6] = 0.0;                          /* useless */
  is_int(hs_eig_lanes_warm(n, A, w, V, act, wm, work), 0, "warm starts converge");
  for (size_t l = 0; l < K; l++)
    check(n, M[l], w, V, l, l == 2 ? "cold lane" : l == 5 ? "skewed basis" : l == 6 ? "zero basis" : "warm");
}

/* A long chain of warm starts, as along a path of the engine (order 10 as well as
** 8): each matrix a small random step from the last, each decomposition started from
** the last eigenvectors. Rounding must not accumulate: the last decomposition is
** checked as tightly as a cold one. */
static void warm_chain(size_t n) {
  enum { NMAX = 10, STEPS = 2000 };
  double M[K][NMAX * NMAX], A[K * NMAX * NMAX], V[K * NMAX * NMAX], w[K * NMAX],
      work[2 * NMAX * NMAX * K];
  int act[K], wm[K], fine = 1;
  for (size_t l = 0; l < K; l++) {
    randsym(n, M[l], 1.0);
    act[l] = 1;
    wm[l] = 0;
  }
  for (int k = 0; k < STEPS; k++) {
    for (size_t l = 0; l < K; l++) {
      for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j <= i; j++) {
          double e = 0.01 * unif();
          M[l][i * n + j] += e;
          if (i != j) M[l][j * n + i] += e;
        }
      tolanes(n, M[l], l, A);
    }
    fine &= hs_eig_lanes_warm(n, A, w, V, act, wm, work) == 0;
    for (size_t l = 0; l < K; l++) wm[l] = 1;
  }
  ok(fine, "n = %zu: %d warm starts in a row converge", n, (int)STEPS);
  for (size_t l = 0; l < K; l++) check(n, M[l], w, V, l, "end of a warm chain");
}

static void bench(void) {
  size_t orders[] = {2, 4, 8, 16};
  for (size_t o = 0; o < 4; o++) {
    size_t n = orders[o];
    double *M = malloc(K * n * n * sizeof(double)), *A = malloc(K * n * n * sizeof(double));
    double *V = malloc(K * n * n * sizeof(double)), *w = malloc(K * n * sizeof(double));
    double *work = malloc((hs_eig_lanes_worksize(n) + hs_eig_worksize(n)) * sizeof(double));
    int act[K];
    for (size_t l = 0; l < K; l++) randsym(n, M + l * n * n, 1.0), act[l] = 1;
    int reps = 20000 / (int)n;
    double best = 1e30, bestref = 1e30;
    for (int t = 0; t < 5; t++) {
      double t0 = hs_now();
      for (int r = 0; r < reps; r++) {
        for (size_t l = 0; l < K; l++) tolanes(n, M + l * n * n, l, A);
        hs_eig_lanes(n, A, w, V, act, work);
      }
      best = fmin(best, (hs_now() - t0) / (reps * K) * 1e9);
      t0 = hs_now();
      for (int r = 0; r < reps; r++)
        for (size_t l = 0; l < K; l++) hs_eig(n, M + l * n * n, w, V, work);
      bestref = fmin(bestref, (hs_now() - t0) / (reps * K) * 1e9);
    }
    /* warm: eigenvectors of the same matrices perturbed by 1e-3 (a step of a path) */
    double *V0 = malloc(K * n * n * sizeof(double)), bestw = 1e30;
    int wm[K];
    for (size_t l = 0; l < K; l++) tolanes(n, M + l * n * n, l, A), wm[l] = 1;
    hs_eig_lanes(n, A, w, V0, act, work);
    for (size_t i = 0; i < K * n * n; i++) M[i] += 1e-3 * unif();
    for (size_t l = 0; l < K; l++)
      for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < i; j++) M[l * n * n + i * n + j] = M[l * n * n + j * n + i];
    for (int t = 0; t < 5; t++) {
      double t0 = hs_now();
      for (int r = 0; r < reps; r++) {
        for (size_t l = 0; l < K; l++) tolanes(n, M + l * n * n, l, A);
        memcpy(V, V0, K * n * n * sizeof(double));
        hs_eig_lanes_warm(n, A, w, V, act, wm, work);
      }
      bestw = fmin(bestw, (hs_now() - t0) / (reps * K) * 1e9);
    }
    free(V0);
    printf("# n = %2zu: hs_eig_lanes %7.0f ns per matrix, warm %7.0f ns, hs_eig %7.0f ns\n",
           n, best, bestw, bestref);
    free(M), free(A), free(V), free(w), free(work);
  }
}

int main(void) {
  random_blocks();
  independence();
  independence_warm();
  special();
  warm();
  warm_chain(8);
  warm_chain(10);
  if (getenv("HASME_BENCH") != NULL) bench();
  return tap_done();
}
