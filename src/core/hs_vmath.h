/*
** hs_vmath.h: log1p, and phi1/phi2 built on it, written so that a loop over the
** paths of a block vectorises: no branches, no tables, no calls. Every code path
** (baseline SSE2, AVX2, AVX-512; scalar or vector) computes the same bits, on any
** machine. The engine's HA-SME keeps libm's log1p for now: at its 8 or 64 values per
** call glibc's scalar log1p was as fast or faster (docs/performance.md).
*/
#ifndef HS_VMATH_H
#define HS_VMATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "hasme.h"

/* The lane functions must be inlined into the caller's loop to vectorise; gcc's
** inliner would keep a function this long out of line once it has two callers. */
#if defined(__GNUC__)
#define HS_VM_INLINE static inline __attribute__((always_inline))
#else
#define HS_VM_INLINE static inline
#endif

/* {====================================================================
** Lane functions: call them inside a loop over lanes; once inlined, the loop
** body is straight-line code the vectoriser takes whole.
** ===================================================================== */

HS_VM_INLINE uint64_t hs_vm_bits(double x) {
  uint64_t u;
  memcpy(&u, &x, sizeof u);
  return u;
}

HS_VM_INLINE double hs_vm_double(uint64_t u) {
  double x;
  memcpy(&x, &u, sizeof x);
  return x;
}

/* c ? a : b, in the form each instruction set vectorises. With AVX2 and AVX-512,
** bit masks: gcc does not if-convert a conditional whose arms it has sunk a
** division or square root into (they could trap) on AVX2, which has no masked
** arithmetic, but it takes masks. SSE2 cannot form a 64-bit mask from a comparison
** in gcc's vectoriser, so there the plain conditional, which predicts well in
** scalar code. Either way the value is a or b, bit for bit. */
HS_VM_INLINE double hs_vm_select(int c, double a, double b) {
#if defined(__AVX2__)
  uint64_t m = (uint64_t)0 - (uint64_t)(c != 0);
  return hs_vm_double((hs_vm_bits(a) & m) | (hs_vm_bits(b) & ~m));
#else
  return c ? a : b;
#endif
}

/*
** log(1 + x), within 1 ulp of the exact value (and so within 2 ulps of any libm
** that is within 1), for every double: -1 gives -inf, below -1 and NaN give NaN,
** +inf gives +inf, and |x| < 2^-53 (zeros of either sign, subnormals) gives x.
**
** The reduction of fdlibm's s_log1p.c (Sun Microsystems, 1993; as in musl): with
** u = 1 + x rounded, 1 + x = 2^k (1 + f) (1 + c), where 2^k (1 + f) = u, 1 + f in
** [sqrt(2)/2, sqrt(2)) is taken from u's bits and c = (1 + x - u) / u corrects
** the rounding of u (exact: 1 - (u - x) for k >= 2, x - (u - 1) otherwise, both
** without error; 0 from k = 54 on, where it is below half an ulp of the result).
** Where 1 + x itself lies in [sqrt(2)/2, sqrt(2)), f = x and k = c = 0, so x is
** used without rounding. Then log(1 + f) = f - f^2/2 + s (f^2/2 + R(s^2)) with
** s = f / (2 + f) and fdlibm's minimax polynomial R (error below 2^-58.45), and
** log(1 + x) = k ln2_hi + (f - (f^2/2 - (s (f^2/2 + R) + (k ln2_lo + c)))), ln2_hi
** having 32 significant bits so that k ln2_hi is exact.
**
** fdlibm branches on the cases; here every case is computed and the result
** selected, so eight lanes share each instruction. The exponent k is read from the
** bits of u with 64-bit integer operations (which SSE2 has), and turned into a
** double by the 2^52 trick (no int64-to-double conversion, which AVX2 lacks).
** No operation can contract into an FMA under ISO C's -ffp-contract=off, so the
** result has the same bits on every code path.
*/
HS_VM_INLINE double hs_log1p_lane(double x) {
  const double ln2_hi = 6.93147180369123816490e-01; /* 0x3fe62e42fee00000 */
  const double ln2_lo = 1.90821492927058770002e-10; /* 0x3dea39ef35793c76 */
  const double Lg1 = 6.666666666666735130e-01, Lg2 = 3.999999999940941908e-01,
               Lg3 = 2.857142874366239149e-01, Lg4 = 2.222219843214978396e-01,
               Lg5 = 1.818357216161805012e-01, Lg6 = 1.531383769920937332e-01,
               Lg7 = 1.479819860511658591e-01;
  /* u = 1 + x; its high word shifted so that the exponent field holds k + 1023,
  ** k the power of two that brings u into [sqrt(2)/2, sqrt(2)) */
  double u = 1.0 + x;
  uint64_t ub = hs_vm_bits(u);
  uint64_t hu = (ub >> 32) + (0x3ff00000u - 0x3fe6a09eu);
  uint64_t kb = (hu >> 20) & 0xfff;       /* k + 1023 for u > 0 */
  double dk = hs_vm_double(0x4330000000000000u | kb) - (0x1p52 + 1023.0);
  double c1 = 1.0 - (u - x), c0 = x - (u - 1.0);
  double cn = hs_vm_select(dk >= 2.0, c1, c0);
  /* 1 + f = u / 2^k, in [sqrt(2)/2, sqrt(2)) */
  uint64_t mb = (((hu & 0x000fffffu) + 0x3fe6a09eu) << 32) | (ub & 0xffffffffu);
  double f = hs_vm_double(mb) - 1.0;
  /* 1 + x in [sqrt(2)/2, sqrt(2)): f = x exactly, k = c = 0 */
  int near = (x >= -0x1.2bec4ffffffffp-2) & (x < 0x1.a827a00000000p-2);
  int corr = (dk < 54.0) & !near;   /* the lanes whose correction c counts */
  f = hs_vm_select(near, x, f);
  dk = hs_vm_select(near, 0.0, dk);
  /* s = f / (2 + f) and c = cn / u from one division (divisions are what the
  ** function's throughput is bound by): r = 1 / ((2 + f) u), with u replaced by 1
  ** where c does not count, so that the product cannot overflow. The extra
  ** roundings of s and c move the result by well under a tenth of an ulp: s enters
  ** only the term s (f^2/2 + R) of relative size below f^2/4, c is below an ulp of
  ** the result. */
  double ue = hs_vm_select(corr, u, 1.0), tf = 2.0 + f;
  double rd = 1.0 / (tf * ue);
  double s = f * (ue * rd);
  double c = hs_vm_select(corr, cn * (tf * rd), 0.0);
  double hfsq = 0.5 * f * f;
  double z = s * s, w = z * z;
  double t1 = w * (Lg2 + w * (Lg4 + w * Lg6));
  double t2 = z * (Lg1 + w * (Lg3 + w * (Lg5 + w * Lg7)));
  double R = t2 + t1;
  double r = s * (hfsq + R) + (dk * ln2_lo + c) - hfsq + f + dk * ln2_hi;
  /* the special values, in increasing priority */
  r = hs_vm_select(fabs(x) < 0x1p-53, x, r);  /* zeros keep their sign, subnormals exact */
  r = hs_vm_select(x == HUGE_VAL, x, r);
  r = hs_vm_select(x == -1.0, -HUGE_VAL, r);
  r = hs_vm_select(x < -1.0, (double)NAN, r);
  r = hs_vm_select(x != x, x, r);             /* NaN stays NaN */
  return r;
}

/*
** phi1(z) = -log(1 - z) / z and phi2(z) = -2 log(1 - z) / (z (2 - z)) (the HA-SME
** factors, docs/methods.md), from one logarithm: phi1 = -log1p(-z) / z and
** phi2 = 2 phi1 / (2 - z), the formulas of hs_phi1 and hs_phi2 (so within their
** few ulps, and without forming z (2 - z), which overflows beyond 1e154). z = 0 gives
** 1 and 1, z = -inf the limits 0 and 0; z >= 1 and NaN give NaN.
*/
HS_VM_INLINE void hs_phi12_lane(double z, double *phi1, double *phi2) {
  double l = hs_log1p_lane(-z);
  double p1 = hs_vm_select(z == -HUGE_VAL, 0.0, -l / z);
  p1 = hs_vm_select(z == 0.0, 1.0, p1);
  double p2 = 2.0 * p1 / (2.0 - z);
  p1 = hs_vm_select(z < 1.0, p1, (double)NAN);
  p2 = hs_vm_select(z < 1.0, p2, (double)NAN);
  *phi1 = p1;
  *phi2 = p2;
}

/* }==================================================================== */

/* log1p(x) for one argument: hs_log1p_lane out of line (the same bits). */
double hs_log1p(double x);

/* y[i] = hs_log1p(x[i]) for i < n, on the active code path (hs_isa.h); y may be x. */
void hs_vlog1p(size_t n, const double *x, double *y);

/* phi1[i], phi2[i] = hs_phi12_lane(z[i]) for i < n, on the active code path; the
** outputs may alias z but not each other. */
void hs_vphi12(size_t n, const double *z, double *phi1, double *phi2);

#endif
