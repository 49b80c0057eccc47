/*
** hs_pcg.h: the PCG64 generator (PCG XSL-RR 128/64), bit for bit NumPy's PCG64 bit
** generator: the same state transition, output function, seeding and jumps.
** State is a plain value; there is no global generator.
*/
#ifndef HS_PCG_H
#define HS_PCG_H

#include "hasme.h"

__extension__ typedef unsigned __int128 hs_u128;

/* The 128-bit LCG multiplier and NumPy's jump, floor(2^128 (sqrt(5)-1)/2) rounded to
** odd: jumped(i) advances by i * HS_PCG_JUMP draws. */
#define HS_PCG_MULT (((hs_u128)0x2360ED051FC65DA4ULL << 64) | 0x4385DF649FCCF645ULL)
#define HS_PCG_JUMP (((hs_u128)0x9e3779b97f4a7c15ULL << 64) | 0xf39cc0605cedc835ULL)

typedef struct hs_pcg {
  hs_u128 state;
  hs_u128 inc;   /* odd */
} hs_pcg;

/* Set a raw state, as NumPy's bit_generator.state = {state, inc} does (inc must be odd). */
void hs_pcg_set(hs_pcg *r, hs_u128 state, hs_u128 inc);

/* Seed as NumPy's PCG64(seed) (SeedSequence(seed) -> 4 uint64 words -> PCG "setseq"
** initialisation), then jump `stream` times: the result equals
** np.random.PCG64(seed).jumped(stream). Distinct streams of one seed start
** about 2^128 / (number of streams) draws apart on one period-2^128 sequence. */
void hs_pcg_seed(hs_pcg *r, uint64_t seed, uint64_t stream);

/* Advance as if delta draws had been made (delta mod 2^128, so "negative" deltas step
** back). O(log delta). */
void hs_pcg_advance(hs_pcg *r, hs_u128 delta);

/* An affine map of the state, s -> mult*s + plus (mod 2^128): advancing by a fixed
** delta is such a map. Precompute it once to step many generators by the same delta
** in O(1) each (consecutive path streams differ by one jump). */
typedef struct hs_pcg_affine {
  hs_u128 mult, plus;
} hs_pcg_affine;

/* The map that advances a generator with increment inc by delta draws. */
hs_pcg_affine hs_pcg_affine_of(hs_u128 delta, hs_u128 inc);

/* Apply a precomputed map: the same as hs_pcg_advance(r, delta) when r->inc is the
** increment the map was made for. */
static inline void hs_pcg_apply(hs_pcg *r, const hs_pcg_affine *a) {
  r->state = a->mult * r->state + a->plus;
}

/* The next 64-bit output: advance, then XSL-RR of the new state (as NumPy). */
static inline uint64_t hs_pcg_next(hs_pcg *r) {
  r->state = r->state * HS_PCG_MULT + r->inc;
  uint64_t hi = (uint64_t)(r->state >> 64), lo = (uint64_t)r->state;
  uint64_t x = hi ^ lo;
  unsigned rot = (unsigned)(hi >> 58);
  return (x >> rot) | (x << ((64u - rot) & 63u));
}

/* A double in [0, 1) from the top 53 bits of one draw: NumPy's Generator.random().
** (53 bits fit a signed integer, whose conversion is one instruction.) */
static inline double hs_pcg_uniform(hs_pcg *r) {
  return (double)(int64_t)(hs_pcg_next(r) >> 11) * 0x1.0p-53;
}

/* n raw draws into out[0..n-1], exactly what n calls of hs_pcg_next would return (and
** r ends in the same state), computed four states at a time to hide the latency. */
void hs_pcg_fill(hs_pcg *r, uint64_t *out, size_t n);

/* n doubles of hs_pcg_uniform into out[0..n-1], the same values as n calls. */
void hs_pcg_uniform_fill(hs_pcg *r, double *out, size_t n);

/* An integer uniform on [0, n), unbiased (Lemire's multiply with rejection on the low
** range; the same as NumPy's Generator.integers(0, n) for n > 2^32). n = 0 stands for
** 2^64: one raw draw. */
uint64_t hs_pcg_bounded(hs_pcg *r, uint64_t n);

/* Parse / format a 128-bit value as "0x" followed by up to 32 hex digits (decimal
** digits are accepted by the parser too; no sign or spaces). parse returns 0 on
** malformed input or overflow, leaving *out alone; format writes lowercase digits
** without leading zeros ("0x0" for zero), at most 35 bytes including the terminator. */
int hs_u128_parse(const char *s, hs_u128 *out);
void hs_u128_format(hs_u128 v, char out[35]);

#endif
