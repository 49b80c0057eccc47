/*
** hs_normal.h: standard normal variates by the ziggurat method (Marsaglia and Tsang,
** "The Ziggurat Method for Generating Random Variables", J. Stat. Softw. 5(8), 2000),
** 256 layers, one 64-bit draw per variate on the fast path (98.5% of variates).
** Exact: the output has the normal law up to the resolution of the draw (2^-52).
*/
#ifndef HS_NORMAL_H
#define HS_NORMAL_H

#include "hs_pcg.h"

/* Tables of the 256-layer ziggurat, generated at build time (tools/gen_zigtab.c).
** A draw u gives the 9-bit index j = u & 0x1ff (the layer i = j & 0xff and the sign,
** bit 8) and the 52-bit magnitude m = u >> 12. Layer i accepts m at once when
** m < hs_zig_k[j], and the variate is then m * hs_zig_w[j] (entries 256..511 repeat
** 0..255, with the sign flipped for w). hs_zig_f[i] = exp(-x_i^2 / 2) at the
** layer's edge x_i (hs_zig_f[256] = 1, the top). */
extern const uint64_t hs_zig_k[512];
extern const double hs_zig_w[512];
extern const double hs_zig_f[257];

/* The rare path: the wedge test or the tail, for a draw u that missed the fast test.
** Consumes further draws from r. Not for direct use. */
double hs_normal_slow(hs_pcg *r, uint64_t u);

/* The fast path for draw u: store the variate in *x and return 1, or return 0 when u
** missed the layer's inner rectangle and must go to hs_normal_slow. Folding the sign
** into the table avoids a branch that would mispredict half of the time, and m has
** 52 bits, so its conversion through int64_t (one instruction) is exact. */
static inline int hs_normal_try(uint64_t u, double *x) {
  unsigned j = (unsigned)(u & 0x1ffu);
  uint64_t m = u >> 12;
  *x = (double)(int64_t)m * hs_zig_w[j];
  return m < hs_zig_k[j];
}

/* One standard normal variate. */
static inline double hs_normal(hs_pcg *r) {
  uint64_t u = hs_pcg_next(r);
  double x;
  if (hs_normal_try(u, &x)) return x;
  return hs_normal_slow(r, u);
}

/* n standard normals from one stream into out[0..n-1]: the values of n calls of
** hs_normal, leaving r in the same state, but faster (raw words are drawn ahead). */
void hs_normal_fill(hs_pcg *r, double *out, size_t n);

/* n normals from each of k streams, interleaved so the k independent state updates
** overlap in the CPU: out[j*k + s] is the j-th variate of stream r[s]. Each stream
** yields exactly what n calls of hs_normal on it would, and ends in the same state.
** out must not overlap r. */
void hs_normal_block(hs_pcg *r, size_t k, size_t n, double *out);

#endif
