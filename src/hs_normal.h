/*
** hs_normal.h: standard normal variates by the ziggurat method (Marsaglia and Tsang,
** "The Ziggurat Method for Generating Random Variables", J. Stat. Softw. 5(8), 2000),
** 256 layers, one 64-bit draw per variate on the fast path (about 99% of draws).
** Exact: the output has the normal law up to the resolution of the draw (2^-52).
*/
#ifndef HS_NORMAL_H
#define HS_NORMAL_H

#include "hs_pcg.h"

/* Tables of the 256-layer ziggurat, generated at build time (tools/gen_zigtab.c):
** layer i accepts the draw's 52-bit magnitude m when m < hs_zig_k[i]; the value is
** then m * hs_zig_w[i]. hs_zig_f[i] = exp(-x_i^2 / 2) at the layer's edge x_i. */
extern const uint64_t hs_zig_k[256];
extern const double hs_zig_w[256];
extern const double hs_zig_f[256];

/* The rare path: the wedge test or the tail, for a draw that missed the fast test.
** Consumes further draws from r. Not for direct use. */
double hs_normal_slow(hs_pcg *r, uint64_t draw);

/* One standard normal variate. */
static inline double hs_normal(hs_pcg *r) {
  uint64_t u = hs_pcg_next(r);
  unsigned idx = (unsigned)(u & 0xff);
  uint64_t m = (u >> 9) & 0x000fffffffffffffULL;   /* 52-bit magnitude */
  if (m < hs_zig_k[idx]) {
    double x = (double)m * hs_zig_w[idx];
    return (u & 0x100) ? -x : x;
  }
  return hs_normal_slow(r, u);
}

/* n standard normals from one stream into out[0..n-1]. */
void hs_normal_fill(hs_pcg *r, double *out, size_t n);

/* n normals from each of k streams, interleaved so the k independent state updates
** overlap in the CPU: out[j*k + s] is the j-th variate of stream r[s]. Each stream
** yields exactly what n calls of hs_normal on it would. */
void hs_normal_block(hs_pcg *r, size_t k, size_t n, double *out);

#endif
