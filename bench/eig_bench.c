/*
** eig_bench.c: nanoseconds per 8 x 8 eigendecomposition of the lane Jacobi solver
** (hs_eig_lanes_warm) on the Hessians W3 produces, on every code path this processor
** supports, for `make bench`. Prints "eig_<path> ns_per_matrix" lines; best of
** several repetitions, so that other load on the machine inflates the figure less.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hs_eiglanes.h"
#include "hs_isa.h"
#include "hs_normal.h"
#include "hs_util.h"

enum { K = HS_LANES, D = 8, STEPS = 200, BLOCKS = 8, TRIES = 7 };

/* W3's Hessians along approximate paths of its dynamics: x' = x - eta grad f(x)
** + eta sigma z with f the coupled wells (Q = 0.2 I + 0.1 on the first
** off-diagonals), x0 evenly spaced in [-1, 1]; H = diag(3 x^2 - 1) + Q. Stored as
** the solver takes them: BLOCKS x STEPS matrices of K lanes each, lane-interleaved. */
static double *hessians(void) {
  double *H = malloc((size_t)BLOCKS * STEPS * D * D * K * sizeof(double));
  if (H == NULL) abort();
  hs_pcg r;
  hs_pcg_seed(&r, 13, 0);
  for (size_t b = 0; b < BLOCKS; b++)
    for (size_t l = 0; l < K; l++) {
      double x[D];
      for (size_t i = 0; i < D; i++) x[i] = -1.0 + 2.0 * (double)i / (D - 1);
      for (size_t k = 0; k < STEPS; k++) {
        double *A = H + ((b * STEPS + k) * D * D) * K;
        for (size_t i = 0; i < D; i++)
          for (size_t j = 0; j < D; j++) {
            double q = (i == j ? 0.2 : 0.0) + ((i + 1 == j || j + 1 == i) ? 0.1 : 0.0);
            A[(i * D + j) * K + l] = q + (i == j ? 3.0 * x[i] * x[i] - 1.0 : 0.0);
          }
        double g[D];
        for (size_t i = 0; i < D; i++) {
          g[i] = x[i] * x[i] * x[i] - x[i] + 0.2 * x[i];
          if (i > 0) g[i] += 0.1 * x[i - 1];
          if (i + 1 < D) g[i] += 0.1 * x[i + 1];
        }
        for (size_t i = 0; i < D; i++) x[i] += -0.05 * g[i] + 0.05 * 0.5 * hs_normal(&r);
      }
    }
  return H;
}

/* Seconds for every block's chain of warm-started decompositions. */
static double run(const double *H, double *A, double *w, double *V, double *work) {
  int on[K], warm[K];
  for (size_t l = 0; l < K; l++) on[l] = 1;
  double t0 = hs_now();
  for (size_t b = 0; b < BLOCKS; b++) {
    for (size_t l = 0; l < K; l++) warm[l] = 0;
    for (size_t k = 0; k < STEPS; k++) {
      memcpy(A, H + ((b * STEPS + k) * D * D) * K, D * D * K * sizeof(double));
      if (hs_eig_lanes_warm(D, A, w, V, on, warm, work) != 0) {
        fprintf(stderr, "eig_bench: a lane did not converge\n");
        exit(1);
      }
      for (size_t l = 0; l < K; l++) warm[l] = 1;
    }
  }
  return hs_now() - t0;
}

/* Optional argument: the one code path to time (default: every supported one). */
int main(int argc, char **argv) {
  hs_isa only = HS_ISA_COUNT;
  if (argc > 1 && hs_isa_parse(argv[1], &only) != HS_OK) {
    fprintf(stderr, "eig_bench: unknown code path '%s'\n", argv[1]);
    return 2;
  }
  double *H = hessians();
  double *A = malloc(D * D * K * sizeof(double)), *V = malloc(D * D * K * sizeof(double));
  double *w = malloc(D * K * sizeof(double));
  double *work = malloc(hs_eig_lanes_worksize(D) * sizeof(double));
  if (A == NULL || V == NULL || w == NULL || work == NULL) return 1;
  for (int isa = 0; isa < HS_ISA_COUNT; isa++) {
    if ((only != HS_ISA_COUNT && isa != (int)only) || hs_isa_set((hs_isa)isa) != HS_OK) continue;
    double best = 1e30;
    for (int t = 0; t < TRIES; t++) best = fmin(best, run(H, A, w, V, work));
    printf("eig_%s %.1f\n", hs_isa_name((hs_isa)isa), best / (BLOCKS * STEPS * K) * 1e9);
  }
  free(H), free(A), free(V), free(w), free(work);
  return 0;
}
