/*
** hs_xsum.c: carries, merging, correct rounding and the portable image of the exact
** accumulator (the addition itself is inline in hs_xsum.h).
*/
#include "hs_xsum.h"

#include <math.h>

#define TWO32 4294967296.0

void hs_xsum_init(hs_xsum *a) {
  memset(a, 0, sizeof *a);
  a->special = 0.0;
  a->room = HS_XSUM_CARRY;
}

/* Floor-divide each chunk by 2^32 and pass the quotient up. The quotient is computed
** as (c - low) / 2^32, an exact division, so no right shift of a negative number
** (implementation-defined in C) is involved. */
void hs_xsum_carry(hs_xsum *a) {
  for (size_t i = 0; i + 1 < HS_XSUM_CHUNKS; i++) {
    int64_t c = a->chunk[i];
    int64_t low = (int64_t)((uint64_t)c & 0xffffffffu);
    a->chunk[i] = low;
    a->chunk[i + 1] += (c - low) / (int64_t)TWO32;
  }
  a->room = HS_XSUM_CARRY;
}

void hs_xsum_addv(hs_xsum *a, const double *x, size_t n, size_t stride) {
  for (size_t i = 0; i < n; i++) hs_xsum_add(a, x[i * stride]);
}

/* After both are carried every chunk but the top is below 2^32, so their sum is below
** 2^33: less than one addition's worth of the spare bits, hence room - 1. */
void hs_xsum_merge(hs_xsum *a, hs_xsum *b) {
  hs_xsum_carry(a);
  hs_xsum_carry(b);
  for (size_t i = 0; i < HS_XSUM_CHUNKS; i++) a->chunk[i] += b->chunk[i];
  a->special += b->special;
  a->room = HS_XSUM_CARRY - 1;
}

/* {====================================================================
** Rounding
** ===================================================================== */

/* Bit q of the magnitude held in 32-bit words. */
static unsigned bitat(const uint32_t *w, size_t q) {
  return (unsigned)(w[q >> 5] >> (q & 31u)) & 1u;
}

/* The magnitude of the carried sum as 32-bit words and its sign (1: negative). The
** top chunk carries the sign; a negative sum is negated chunk by chunk and carried
** again, which leaves every chunk, the top one included, in [0, 2^32). */
static int magnitude(hs_xsum *a, uint32_t *w) {
  hs_xsum_carry(a);
  int neg = a->chunk[HS_XSUM_CHUNKS - 1] < 0;
  hs_xsum t = *a;
  if (neg) {
    for (size_t i = 0; i < HS_XSUM_CHUNKS; i++) t.chunk[i] = -t.chunk[i];
    hs_xsum_carry(&t);
  }
  for (size_t i = 0; i < HS_XSUM_CHUNKS; i++) w[i] = (uint32_t)t.chunk[i];
  return neg;
}

/* Round the integer W (units of 2^-1074) to a double: the 53 bits below the leading
** one, then round half to even with the next bit and a sticky bit for everything
** below it. ldexp of a 53-bit integer is exact here (the result is normal or, for
** small W, the integer itself times 2^-1074, which every double can represent). */
static double roundmag(const uint32_t *w) {
  size_t top = HS_XSUM_CHUNKS;
  while (top > 0 && w[top - 1] == 0) top--;
  if (top == 0) return 0.0;
  size_t P = 32 * (top - 1) + 31;
  while (!bitat(w, P)) P--;
  if (P <= 52) {
    uint64_t v = (uint64_t)w[0] | ((uint64_t)w[1] << 32);
    return ldexp((double)v, -1074);
  }
  uint64_t m = 0;
  for (size_t q = P - 52; q <= P; q++) m |= (uint64_t)bitat(w, q) << (q - (P - 52));
  size_t r = P - 53;
  unsigned half = bitat(w, r), sticky = 0;
  for (size_t i = 0; i < (r >> 5) && !sticky; i++) sticky = w[i] != 0;
  if ((w[r >> 5] & ((1u << (r & 31u)) - 1u)) != 0) sticky = 1;
  if (half && (sticky || (m & 1u))) m++;   /* 2^53 after a carry is still exact */
  return ldexp((double)m, (int)P - 52 - 1074);
}

double hs_xsum_round(hs_xsum *a) {
  if (a->special != 0.0 || isnan(a->special)) return a->special;
  uint32_t w[HS_XSUM_CHUNKS];
  int neg = magnitude(a, w);
  double v = roundmag(w);
  return neg ? -v : v;
}

void hs_xsum_round2(hs_xsum *a, double *hi, double *lo) {
  *hi = hs_xsum_round(a);
  *lo = 0.0;
  if (!isfinite(*hi)) return;
  hs_xsum t = *a;
  hs_xsum_add(&t, -*hi);
  *lo = hs_xsum_round(&t);
}

/* }==================================================================== */

void hs_xsum_pack(hs_xsum *a, uint64_t out[HS_XSUM_WORDS]) {
  hs_xsum_carry(a);
  for (size_t i = 0; i < HS_XSUM_CHUNKS; i++) out[i] = (uint64_t)a->chunk[i];
  memcpy(&out[HS_XSUM_CHUNKS], &a->special, sizeof(double));
}

void hs_xsum_unpack(hs_xsum *a, const uint64_t in[HS_XSUM_WORDS]) {
  hs_xsum_init(a);
  for (size_t i = 0; i < HS_XSUM_CHUNKS; i++) {
    uint64_t u = in[i];
    int64_t v;
    memcpy(&v, &u, sizeof v);   /* two's complement image back to the signed chunk */
    a->chunk[i] = v;
  }
  memcpy(&a->special, &in[HS_XSUM_CHUNKS], sizeof(double));
  a->room = HS_XSUM_CARRY - 1;   /* chunks of a foreign image are trusted to < 2^33 */
}
