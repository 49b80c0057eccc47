/*
** rng_bench.c: nanoseconds per raw PCG64 draw and per standard normal, for `make
** bench`. Prints "name ns_per_draw" lines: raw (one stream, one at a time), raw_fill
** (hs_pcg_fill), normal (hs_normal), normal_fill, normal_block8 (8 interleaved
** streams, as the simulation kernels draw them), raw_avx2x8 (eight streams stepped
** in AVX2 registers, when the processor has AVX2: the experiment of docs/performance.md
** on vectorising the generator itself). Best of several repetitions.
*/
#include <stdio.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_AVX2_KERNEL 1
#else
#define HAVE_AVX2_KERNEL 0
#endif

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

#if HAVE_AVX2_KERNEL
/* {====================================================================
** Eight PCG64 streams in AVX2 registers
**
** Each 256-bit register holds one 64-bit half of four states, two registers of
** each kind make eight streams. AVX2 multiplies only 32 x 32 -> 64 bits
** (vpmuludq), so the 128-bit product state * M (mod 2^128) costs ten of them:
** four for the full 64 x 64 -> 128 product of the low halves and three for each
** of the two cross products, of which only the low 64 bits count.
** ===================================================================== */

typedef struct x4 { __m256i lo, hi; } x4;

__attribute__((target("avx2")))
static inline __m256i mul64lo(__m256i a, __m256i b0, __m256i b1) {
  /* low 64 bits of a * b, b = b1:b0 in 32-bit halves (broadcast) */
  __m256i a1 = _mm256_srli_epi64(a, 32);
  __m256i p00 = _mm256_mul_epu32(a, b0);
  __m256i cross = _mm256_add_epi64(_mm256_mul_epu32(a, b1), _mm256_mul_epu32(a1, b0));
  return _mm256_add_epi64(p00, _mm256_slli_epi64(cross, 32));
}

__attribute__((target("avx2")))
static inline x4 step4(x4 s, __m256i m0, __m256i m1, __m256i m2, __m256i m3, __m256i inclo,
                       __m256i inchi) {
  const __m256i lo32 = _mm256_set1_epi64x(0xffffffff);
  const __m256i sign = _mm256_set1_epi64x((long long)0x8000000000000000ULL);
  /* full product of the low halves: s.lo * mlo, mlo = m1:m0 */
  __m256i a1 = _mm256_srli_epi64(s.lo, 32);
  __m256i p00 = _mm256_mul_epu32(s.lo, m0), p01 = _mm256_mul_epu32(s.lo, m1);
  __m256i p10 = _mm256_mul_epu32(a1, m0), p11 = _mm256_mul_epu32(a1, m1);
  __m256i mid = _mm256_add_epi64(_mm256_add_epi64(_mm256_srli_epi64(p00, 32),
                                                  _mm256_and_si256(p01, lo32)),
                                 _mm256_and_si256(p10, lo32));
  __m256i hi = _mm256_add_epi64(_mm256_add_epi64(p11, _mm256_srli_epi64(p01, 32)),
                                _mm256_add_epi64(_mm256_srli_epi64(p10, 32),
                                                 _mm256_srli_epi64(mid, 32)));
  __m256i lo = _mm256_or_si256(_mm256_slli_epi64(mid, 32), _mm256_and_si256(p00, lo32));
  /* the cross products s.lo * mhi + s.hi * mlo, mhi = m3:m2 */
  hi = _mm256_add_epi64(hi, _mm256_add_epi64(mul64lo(s.lo, m2, m3), mul64lo(s.hi, m0, m1)));
  /* + inc with the carry out of the low half (unsigned compare by the sign flip) */
  __m256i nlo = _mm256_add_epi64(lo, inclo);
  __m256i carry = _mm256_cmpgt_epi64(_mm256_xor_si256(lo, sign), _mm256_xor_si256(nlo, sign));
  hi = _mm256_sub_epi64(_mm256_add_epi64(hi, inchi), carry);   /* carry is -1 */
  x4 r = {nlo, hi};
  return r;
}

__attribute__((target("avx2")))
static inline __m256i xslrr4(x4 s) {
  __m256i x = _mm256_xor_si256(s.hi, s.lo);
  __m256i rot = _mm256_srli_epi64(s.hi, 58);
  __m256i left = _mm256_and_si256(_mm256_sub_epi64(_mm256_set1_epi64x(64), rot),
                                  _mm256_set1_epi64x(63));
  return _mm256_or_si256(_mm256_srlv_epi64(x, rot), _mm256_sllv_epi64(x, left));
}

/* n draws from each of the 8 streams r[0..7] (which must share one increment, as
** the streams of one seed do), out[j*8 + s] = j-th draw of stream s, as
** hs_normal_block lays out its normals. */
__attribute__((target("avx2")))
static void pcg_avx2x8(hs_pcg *r, size_t n, uint64_t *out) {
  uint64_t lo[8], hi[8];
  for (int s = 0; s < 8; s++) lo[s] = (uint64_t)r[s].state, hi[s] = (uint64_t)(r[s].state >> 64);
  x4 a = {_mm256_loadu_si256((const __m256i *)lo), _mm256_loadu_si256((const __m256i *)hi)};
  x4 b = {_mm256_loadu_si256((const __m256i *)(lo + 4)),
          _mm256_loadu_si256((const __m256i *)(hi + 4))};
  uint64_t mlo = (uint64_t)HS_PCG_MULT, mhi = (uint64_t)(HS_PCG_MULT >> 64);
  __m256i m0 = _mm256_set1_epi64x((long long)(mlo & 0xffffffff));
  __m256i m1 = _mm256_set1_epi64x((long long)(mlo >> 32));
  __m256i m2 = _mm256_set1_epi64x((long long)(mhi & 0xffffffff));
  __m256i m3 = _mm256_set1_epi64x((long long)(mhi >> 32));
  __m256i il = _mm256_set1_epi64x((long long)(uint64_t)r[0].inc);
  __m256i ih = _mm256_set1_epi64x((long long)(uint64_t)(r[0].inc >> 64));
  for (size_t j = 0; j < n; j++) {
    a = step4(a, m0, m1, m2, m3, il, ih);
    b = step4(b, m0, m1, m2, m3, il, ih);
    _mm256_storeu_si256((__m256i *)(out + 8 * j), xslrr4(a));
    _mm256_storeu_si256((__m256i *)(out + 8 * j + 4), xslrr4(b));
  }
  _mm256_storeu_si256((__m256i *)lo, a.lo);
  _mm256_storeu_si256((__m256i *)hi, a.hi);
  _mm256_storeu_si256((__m256i *)(lo + 4), b.lo);
  _mm256_storeu_si256((__m256i *)(hi + 4), b.hi);
  for (int s = 0; s < 8; s++) r[s].state = ((hs_u128)hi[s] << 64) | lo[s];
}

static double raw_avx2x8(hs_pcg *r, double *buf) {
  uint64_t *u = (uint64_t *)buf, x = 0;
  for (int k = 0; k < REPS; k++) {
    pcg_avx2x8(r, N / 8, u);
    x += u[k % N];
  }
  return (double)(x & 1);
}

/* The same 8 x N/8 draws by eight scalar streams, four states in flight each
** (hs_pcg_fill), in the same layout: the fair comparison for the kernel above. */
static double raw_fill8(hs_pcg *r, double *buf) {
  uint64_t *u = (uint64_t *)buf, x = 0, tmp[N / 8];
  for (int k = 0; k < REPS; k++) {
    for (int s = 0; s < 8; s++) {
      hs_pcg_fill(&r[s], tmp, N / 8);
      for (size_t j = 0; j < N / 8; j++) u[j * 8 + (size_t)s] = tmp[j];
    }
    x += u[k % N];
  }
  return (double)(x & 1);
}

/* Whether the AVX2 kernel reproduces hs_pcg_next on each stream. */
static int avx2x8_agrees(void) {
  hs_pcg a[8], b[8];
  static uint64_t out[8 * 1000];
  for (uint64_t s = 0; s < 8; s++) hs_pcg_seed(&a[s], 2385, s), b[s] = a[s];
  pcg_avx2x8(a, 1000, out);
  for (size_t j = 0; j < 1000; j++)
    for (int s = 0; s < 8; s++)
      if (out[j * 8 + (size_t)s] != hs_pcg_next(&b[s])) return 0;
  for (int s = 0; s < 8; s++)
    if (a[s].state != b[s].state) return 0;
  return 1;
}
/* }==================================================================== */
#endif

int main(void) {
  static double buf[N];
  hs_pcg r[8];
  for (uint64_t s = 0; s < 8; s++) hs_pcg_seed(&r[s], 1, s);
  printf("raw %.3f\n", best(raw, r, buf));
  printf("raw_fill %.3f\n", best(raw_fill, r, buf));
  printf("normal %.3f\n", best(normal, r, buf));
  printf("normal_fill %.3f\n", best(normal_fill, r, buf));
  printf("normal_block8 %.3f\n", best(normal_block8, r, buf));
#if HAVE_AVX2_KERNEL
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2")) {
    if (!avx2x8_agrees()) {
      fprintf(stderr, "rng_bench: the AVX2 kernel disagrees with hs_pcg_next\n");
      return 1;
    }
    printf("raw_fill8 %.3f\n", best(raw_fill8, r, buf));
    printf("raw_avx2x8 %.3f\n", best(raw_avx2x8, r, buf));
  }
#endif
  return sink == 12345.678 ? 1 : 0;
}
