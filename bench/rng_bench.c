/*
** rng_bench.c: nanoseconds per raw PCG64 draw and per standard normal, for `make
** bench`. Prints "name ns_per_draw" lines: raw (one stream, one at a time), raw_fill
** (hs_pcg_fill), normal (hs_normal), normal_fill, normal_block8 (8 interleaved
** streams, as the simulation kernels draw them). Best of several repetitions.
*/
#include <stdio.h>

#include "hs_normal.h"
#include "hs_pcg.h"
#include "hs_util.h"

#define N 4096
#define REPS 2000
#define TRIES 5

static double sink;   /* keeps the compiler from discarding the draws */

static double best(double (*f)(hs_pcg *r, double *buf), hs_pcg *r, double *buf) {
  double b = 1e30;
  for (int t = 0; t < TRIES; t++) {
    double t0 = hs_now();
    double s = f(r, buf);
    double dt = hs_now() - t0;
    sink += s;
    if (dt < b) b = dt;
  }
  return b / ((double)N * REPS) * 1e9;
}

static double raw(hs_pcg *r, double *buf) {
  (void)buf;
  uint64_t x = 0;
  for (int k = 0; k < REPS; k++)
    for (int i = 0; i < N; i++) x += hs_pcg_next(r);
  return (double)(x & 1);
}

static double raw_fill(hs_pcg *r, double *buf) {
  uint64_t *u = (uint64_t *)buf, x = 0;
  for (int k = 0; k < REPS; k++) {
    hs_pcg_fill(r, u, N);
    x += u[k % N];
  }
  return (double)(x & 1);
}

static double normal(hs_pcg *r, double *buf) {
  (void)buf;
  double s = 0.0;
  for (int k = 0; k < REPS; k++)
    for (int i = 0; i < N; i++) s += hs_normal(r);
  return s;
}

static double normal_fill(hs_pcg *r, double *buf) {
  double s = 0.0;
  for (int k = 0; k < REPS; k++) {
    hs_normal_fill(r, buf, N);
    s += buf[k % N];
  }
  return s;
}

static double normal_block8(hs_pcg *r, double *buf) {
  double s = 0.0;
  for (int k = 0; k < REPS; k++) {
    hs_normal_block(r, 8, N / 8, buf);
    s += buf[k % N];
  }
  return s;
}

int main(void) {
  static double buf[N];
  hs_pcg r[8];
  for (uint64_t s = 0; s < 8; s++) hs_pcg_seed(&r[s], 1, s);
  printf("raw %.3f\n", best(raw, r, buf));
  printf("raw_fill %.3f\n", best(raw_fill, r, buf));
  printf("normal %.3f\n", best(normal, r, buf));
  printf("normal_fill %.3f\n", best(normal_fill, r, buf));
  printf("normal_block8 %.3f\n", best(normal_block8, r, buf));
  return sink == 12345.678 ? 1 : 0;
}
