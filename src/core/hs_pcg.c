/*
** hs_pcg.c: PCG64 (XSL-RR 128/64) as NumPy has it: seeding through NumPy's
** SeedSequence, jump-ahead, bounded integers, blocks of raw draws, and the 128-bit
** text form used to save and restore a state.
*/
#include "hs_pcg.h"

#include <string.h>

/* {====================================================================
** Seeding: NumPy's SeedSequence followed by PCG's "setseq" initialisation
** ===================================================================== */

/*
** SeedSequence (NumPy's numpy.random.SeedSequence, after M. O'Neill's seed_seq) turns
** any amount of entropy into well-mixed words. The entropy is the seed written as
** 32-bit little-endian words (at least one word, so seed 0 is [0]). A pool of four
** 32-bit words absorbs it through a multiplicative hash whose constant itself evolves
** (hash_const below), then every pool word is mixed into every other one. Output
** words are the pool words hashed once more with a second evolving constant. All
** arithmetic is mod 2^32. The constants are NumPy's.
*/
#define SS_POOL      4
#define SS_INIT_A    0x43b0d7e5u
#define SS_MULT_A    0x931e8875u
#define SS_INIT_B    0x8b51f9ddu
#define SS_MULT_B    0x58f38dedu
#define SS_MIX_L     0xca01f9ddu
#define SS_MIX_R     0x4973f715u
#define SS_XSHIFT    16

/* One hash step; *hc is the running hash constant, advanced on every call. */
static uint32_t ss_hashmix(uint32_t value, uint32_t *hc) {
  value ^= *hc;
  *hc *= SS_MULT_A;
  value *= *hc;
  value ^= value >> SS_XSHIFT;
  return value;
}

static uint32_t ss_mix(uint32_t x, uint32_t y) {
  uint32_t r = SS_MIX_L * x - SS_MIX_R * y;
  r ^= r >> SS_XSHIFT;
  return r;
}

/* The pool of SeedSequence(seed) for a 64-bit seed (one or two entropy words). */
static void ss_pool(uint64_t seed, uint32_t pool[SS_POOL]) {
  uint32_t entropy[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
  size_t nent = (seed >> 32) != 0 ? 2 : 1;
  uint32_t hc = SS_INIT_A;
  for (size_t i = 0; i < SS_POOL; i++)
    pool[i] = ss_hashmix(i < nent ? entropy[i] : 0u, &hc);
  for (size_t src = 0; src < SS_POOL; src++)
    for (size_t dst = 0; dst < SS_POOL; dst++)
      if (src != dst) pool[dst] = ss_mix(pool[dst], ss_hashmix(pool[src], &hc));
  /* Entropy beyond the pool size would be mixed in here; a 64-bit seed has at most
  ** two words, so the pool already holds all of it. */
}

/* generate_state(n) as 32-bit words. */
static void ss_generate(const uint32_t pool[SS_POOL], uint32_t *out, size_t n) {
  uint32_t hc = SS_INIT_B;
  for (size_t i = 0; i < n; i++) {
    uint32_t v = pool[i % SS_POOL];
    v ^= hc;
    hc *= SS_MULT_B;
    v *= hc;
    v ^= v >> SS_XSHIFT;
    out[i] = v;
  }
}

void hs_pcg_set(hs_pcg *r, hs_u128 state, hs_u128 inc) {
  r->state = state;
  r->inc = inc;   /* odd by contract: the bindings check it */
}

static void step(hs_pcg *r) {
  r->state = r->state * HS_PCG_MULT + r->inc;
}

/*
** NumPy's PCG64(seed) asks SeedSequence for four 64-bit words (eight 32-bit words read
** little-endian in pairs): the first two are the initial state, the last two the
** stream selector, each with the first word as the high half. PCG's setseq
** initialisation then makes the increment odd from the selector and mixes the
** initial state through two steps, so nearby seeds do not start on nearby states.
*/
void hs_pcg_seed(hs_pcg *r, uint64_t seed, uint64_t stream) {
  uint32_t pool[SS_POOL], w32[8];
  uint64_t w[4];
  ss_pool(seed, pool);
  ss_generate(pool, w32, 8);
  for (size_t i = 0; i < 4; i++)
    w[i] = (uint64_t)w32[2 * i] | ((uint64_t)w32[2 * i + 1] << 32);
  hs_u128 initstate = ((hs_u128)w[0] << 64) | w[1];
  hs_u128 initseq = ((hs_u128)w[2] << 64) | w[3];
  r->state = 0;
  r->inc = (initseq << 1) | 1u;
  step(r);
  r->state += initstate;
  step(r);
  if (stream != 0) hs_pcg_advance(r, HS_PCG_JUMP * (hs_u128)stream);
}

/* }==================================================================== */

/* {====================================================================
** Jump-ahead
** ===================================================================== */

/*
** One draw is the affine map s -> M s + c (c = inc). Advancing by delta is its
** delta-th power, again affine: s -> A s + C. We build it from the binary expansion
** of delta, keeping the map for 2^j steps and squaring it (composing it with itself:
** (m, p) o (m, p) = (m^2, (m + 1) p)), and multiplying into the result the powers
** whose bit is set. This is the classic jump-ahead for LCGs (F. Brown, "Random number
** generation with arbitrary strides", Trans. Am. Nucl. Soc. 71, 1994): at most 128
** rounds, all mod 2^128, so "negative" deltas (2^128 - d) step back by d.
*/
hs_pcg_affine hs_pcg_affine_of(hs_u128 delta, hs_u128 inc) {
  hs_u128 acc_mult = 1, acc_plus = 0;
  hs_u128 cur_mult = HS_PCG_MULT, cur_plus = inc;
  while (delta != 0) {
    if (delta & 1u) {
      acc_mult *= cur_mult;
      acc_plus = acc_plus * cur_mult + cur_plus;
    }
    cur_plus *= cur_mult + 1u;
    cur_mult *= cur_mult;
    delta >>= 1;
  }
  hs_pcg_affine a = {acc_mult, acc_plus};
  return a;
}

void hs_pcg_advance(hs_pcg *r, hs_u128 delta) {
  hs_pcg_affine a = hs_pcg_affine_of(delta, r->inc);
  hs_pcg_apply(r, &a);
}

/* }==================================================================== */

/* {====================================================================
** Draws
** ===================================================================== */

static inline uint64_t xsl_rr(hs_u128 s) {
  uint64_t hi = (uint64_t)(s >> 64), lo = (uint64_t)s;
  uint64_t x = hi ^ lo;
  unsigned rot = (unsigned)(hi >> 58);
  return (x >> rot) | (x << ((64u - rot) & 63u));
}

/*
** A single stream is one long chain of dependent 128-bit multiplications, and the
** multiplication's latency, not its throughput, bounds the speed of hs_pcg_next.
** For a block we compute the next four states from the current one with the
** precomputed powers s_{t+j} = M^j s_t + c_j: the four products are independent, so
** they overlap, and only one multiplication per four draws is on the critical path.
** The outputs are exactly those of n calls of hs_pcg_next.
*/
void hs_pcg_fill(hs_pcg *r, uint64_t *out, size_t n) {
  hs_u128 m1 = HS_PCG_MULT, c1 = r->inc;
  hs_u128 m2 = m1 * m1, c2 = m1 * c1 + c1;
  hs_u128 m3 = m2 * m1, c3 = m1 * c2 + c1;
  hs_u128 m4 = m3 * m1, c4 = m1 * c3 + c1;
  hs_u128 s = r->state;
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    hs_u128 s1 = m1 * s + c1, s2 = m2 * s + c2, s3 = m3 * s + c3, s4 = m4 * s + c4;
    out[i] = xsl_rr(s1);
    out[i + 1] = xsl_rr(s2);
    out[i + 2] = xsl_rr(s3);
    out[i + 3] = xsl_rr(s4);
    s = s4;
  }
  r->state = s;
  for (; i < n; i++) out[i] = hs_pcg_next(r);
}

void hs_pcg_uniform_fill(hs_pcg *r, double *out, size_t n) {
  uint64_t buf[256];   /* raw words of one block, drawn four at a time */
  while (n > 0) {
    size_t m = n < 256 ? n : 256;
    hs_pcg_fill(r, buf, m);
    for (size_t i = 0; i < m; i++) out[i] = (double)(int64_t)(buf[i] >> 11) * 0x1.0p-53;
    out += m;
    n -= m;
  }
}

/*
** Lemire's method ("Fast random integer generation in an interval", ACM TOMACS 29(1),
** 2019): the high word of the 128-bit product x * n is uniform on [0, n) except for a
** bias carried by the products whose low word falls below 2^64 mod n; those are
** rejected. The division computing that threshold happens only when the low word is
** below n, which is rare for n far below 2^64. NumPy's Generator.integers uses the
** same method for ranges wider than 2^32, so the results agree there.
*/
uint64_t hs_pcg_bounded(hs_pcg *r, uint64_t n) {
  if (n == 0) return hs_pcg_next(r);   /* n = 0 stands for 2^64: every word is fine */
  hs_u128 m = (hs_u128)hs_pcg_next(r) * n;
  uint64_t low = (uint64_t)m;
  if (low < n) {
    uint64_t threshold = (0 - n) % n;   /* 2^64 mod n */
    while (low < threshold) {
      m = (hs_u128)hs_pcg_next(r) * n;
      low = (uint64_t)m;
    }
  }
  return (uint64_t)(m >> 64);
}

/* }==================================================================== */

/* {====================================================================
** Text form of 128-bit values
** ===================================================================== */

static int hexdigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/*
** Digits only: no sign, no spaces, no underscores, at least one digit. Leading zeros
** are allowed; overflow is judged on the value, before each shift or multiply.
*/
int hs_u128_parse(const char *s, hs_u128 *out) {
  const hs_u128 max = ~(hs_u128)0;
  hs_u128 v = 0;
  if (s == NULL || s[0] == '\0') return 0;
  if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    s += 2;
    if (*s == '\0') return 0;
    for (; *s != '\0'; s++) {
      int d = hexdigit(*s);
      if (d < 0 || (v >> 124) != 0) return 0;
      v = (v << 4) | (unsigned)d;
    }
  }
  else {
    for (; *s != '\0'; s++) {
      if (*s < '0' || *s > '9') return 0;
      unsigned d = (unsigned)(*s - '0');
      if (v > (max - d) / 10u) return 0;
      v = v * 10u + d;
    }
  }
  *out = v;
  return 1;
}

void hs_u128_format(hs_u128 v, char out[35]) {
  static const char digits[] = "0123456789abcdef";
  char tmp[32];
  size_t n = 0;
  do {
    tmp[n++] = digits[(unsigned)(v & 0xfu)];
    v >>= 4;
  } while (v != 0);
  out[0] = '0';
  out[1] = 'x';
  for (size_t i = 0; i < n; i++) out[2 + i] = tmp[n - 1 - i];
  out[2 + n] = '\0';
}

/* }==================================================================== */
