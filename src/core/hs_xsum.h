/*
** hs_xsum.h: an exact accumulator of doubles (a fixed-point "superaccumulator"). The
** sum of any multiset of finite doubles comes out as the same bits whatever the
** order of the additions and however the values were split between accumulators that
** are merged afterwards; merging is exact and associative.
**
** Why exact rather than compensated: the engine reduces per-path observables over
** worker threads (and, across machines, over MPI ranks) that finish their blocks of
** paths in an order nobody controls. Per-block partials combined in block order with
** compensated summation would be reproducible only for a fixed partition of the paths
** into blocks and would need every block's partial kept until its turn; an exact sum
** has no order to fix. Its state is a fixed 560 bytes whatever the number of values,
** so a rank sends the same bytes for 10^3 or 10^9 paths.
**
** Representation (R. M. Neal, "Fast exact summation using small and large
** superaccumulators", arXiv:1505.05571, the "small" accumulator): every finite double
** is an integer multiple of 2^-1074, at most 2^2098 of those units. The units are
** held in HS_XSUM_CHUNKS signed 64-bit chunks of 32 bits of significance each; an
** addition splits the 53-bit significand over two adjacent chunks, and the 31 spare
** bits of every chunk absorb HS_XSUM_CARRY additions before the carries have to be
** propagated. Infinities and NaN are kept apart (their IEEE sum is order-independent
** too).
*/
#ifndef HS_XSUM_H
#define HS_XSUM_H

#include <stdint.h>
#include <string.h>

#include "hasme.h"

#define HS_XSUM_CHUNKS 68     /* bits 0 .. 2175 of the sum in units of 2^-1074 */
#define HS_XSUM_CARRY 2047    /* additions between two carry propagations */

typedef struct hs_xsum {
  int64_t chunk[HS_XSUM_CHUNKS];  /* the sum is sum_i chunk[i] 2^(32 i - 1074) */
  double special;                 /* IEEE sum of the infinities and NaNs added (or 0) */
  int32_t room;                   /* additions left before carries must propagate */
  int32_t pad;
} hs_xsum;

/* An empty accumulator (sum 0). */
void hs_xsum_init(hs_xsum *a);

/* Propagate the carries: every chunk but the top one ends in [0, 2^32). The sum is
** unchanged and this canonical form is unique for a given exact sum. */
void hs_xsum_carry(hs_xsum *a);

/* Add one double. Inline: this is the hot path (a few integer operations). */
static inline void hs_xsum_add(hs_xsum *a, double x) {
  uint64_t u;
  memcpy(&u, &x, sizeof u);
  unsigned e = (unsigned)(u >> 52) & 0x7ffu;
  uint64_t m = u & 0xfffffffffffffu;
  if (e == 0x7ffu) {            /* inf or NaN: kept apart */
    a->special += x;
    return;
  }
  if (a->room <= 0) hs_xsum_carry(a);
  a->room--;
  if (e != 0) m |= (uint64_t)1 << 52;   /* the implicit bit of a normal number */
  else e = 1;                           /* subnormals share the smallest exponent */
  unsigned s = e - 1, i = s >> 5, low = s & 31u;
  /* m 2^s spread over chunks i (32 bits) and i+1 (the rest, < 2^52) */
  int64_t lo = (int64_t)((m << low) & 0xffffffffu);
  int64_t hi = (int64_t)(m >> (32u - low));
  int64_t neg = -(int64_t)(u >> 63);   /* 0 or -1: (v ^ neg) - neg negates on -1 */
  a->chunk[i] += (lo ^ neg) - neg;
  a->chunk[i + 1] += (hi ^ neg) - neg;
}

/* Add n doubles x[0], x[stride], ... */
void hs_xsum_addv(hs_xsum *a, const double *x, size_t n, size_t stride);

/* a += b, exactly (b is carried first and so may change representation, not value). */
void hs_xsum_merge(hs_xsum *a, hs_xsum *b);

/* The sum rounded to the nearest double (ties to even); +-inf beyond the range, the
** IEEE sum of the special values when any was added. */
double hs_xsum_round(hs_xsum *a);

/* The sum as hi + lo: hi the rounded sum, lo the rounded remainder sum - hi (0 when
** hi is exact or not finite). Gives about 106 bits for cancellation-prone formulas. */
void hs_xsum_round2(hs_xsum *a, double *hi, double *lo);

/* A fixed-size, architecture-neutral image of the accumulator for sending between
** processes: HS_XSUM_WORDS 64-bit words (the carried chunks, then the special value's
** bits). hs_xsum_unpack restores an accumulator with the same sum. */
#define HS_XSUM_WORDS (HS_XSUM_CHUNKS + 1)
void hs_xsum_pack(hs_xsum *a, uint64_t out[HS_XSUM_WORDS]);
void hs_xsum_unpack(hs_xsum *a, const uint64_t in[HS_XSUM_WORDS]);

#endif
