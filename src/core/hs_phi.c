/*
** hs_phi.c: phi1, phi2 and the pairwise Phi of the HA-SME model (docs/methods.md
** section 3), accurate to a few ulps for every double argument.
*/
#include "hs_phi.h"

#include <math.h>

/*
** phi1(u) = -log(1 - u) / u = 1 + u/2 + u^2/3 + ...
**
** log1p(-u) is the logarithm of 1 - u without forming 1 - u, so no digits are lost
** for small |u| (glibc's log1p is within 1 ulp), and -u is exact; one rounded
** division follows, so the result is within about 2 ulps everywhere:
**   |u| below 2^-54 (subnormals included): log1p returns -u itself and phi1 = 1,
**     which is the correctly rounded value of 1 + u/2;
**   u close to 1: 1 - u is exact there (Sterbenz), log1p sees it without error;
**   large negative u: log1p(|u|) / |u| has no cancellation and no overflow, the
**     quotient underflows gracefully; u = -inf gives the limit 0 (inf/inf would
**     be NaN).
** u >= 1 and NaN give NaN: the function is undefined there and callers check the
** domain themselves so that they can name the offending value.
*/
double hs_phi1(double u) {
  if (!(u < 1.0)) return NAN;
  if (u == 0.0) return 1.0;
  if (isinf(u)) return 0.0;
  return -log1p(-u) / u;
}

/*
** phi2(z) = -2 log(1 - z) / (z (2 - z)) = phi1(z) * 2 / (2 - z).
**
** The factored form avoids forming z (2 - z), which overflows for |z| above about
** 1e154 although phi2 itself is still a normal number there; it costs one more
** rounding (2 - z) than phi1, so about 3 ulps at worst. z >= 1 is outside the
** domain (1 - z <= 0): NaN.
*/
double hs_phi2(double z) {
  if (!(z < 1.0)) return NAN;
  return 2.0 * hs_phi1(z) / (2.0 - z);
}

/* s + t = a + b exactly (Knuth's TwoSum, no ordering assumption). */
static void two_sum(double a, double b, double *s, double *t) {
  double x = a + b, bv = x - a, av = x - bv;
  *s = x;
  *t = (a - av) + (b - bv);
}

/*
** Phi(zi, zj) = phi1(u), u = zi + zj - zi zj = 1 - (1 - zi)(1 - zj).
**
** Rounding u in the obvious way can be catastrophic: zi = -1000, zj = 0.999 gives
** u = -0.001 as the difference of numbers near 1000, so u would keep only 7 of its
** 16 digits. u is therefore formed in double-double arithmetic: the sum zi + zj by
** TwoSum and the product zi zj by a fused multiply-add (Dekker/Knuth error-free
** transformations; Muller et al., Handbook of Floating-Point Arithmetic, ch. 4),
** and the four parts are combined so that only a rounding of the small tails is
** left: uh + ul equals u to about eps^2 max(|zi|, |zj|, |zi zj|).
**
**   u <= 1/2: phi1(uh) directly; its sensitivity to u is below 1 in magnitude
**     there, so rounding u to uh costs at most half an ulp.
**   u > 1/2: phi1(u) = -log(1 - u) / u with 1 - u = (1 - uh) - ul: 1 - uh is exact
**     (uh is in [1/2, 1]) and the tail restores what rounding u to uh lost, so
**     1 - u keeps its accuracy all the way to u -> 1, where the formula in terms
**     of a rounded u would lose every digit. This is -log((1 - zi)(1 - zj)) / u.
**   (1 - zi)(1 - zj) beyond 2^947 (when |zi|, |zj| or |zi zj| exceeds 2^1000, so
**     the double-double product could overflow): then u - 1 and u agree to far
**     below an ulp and phi1(u) = (log(1 - zi) + log(1 - zj)) / (1 - zi) / (1 - zj),
**     never forming the product.
** Phi(z, z) = phi2(z) up to the rounding of each, and Phi(zi, zj) = Phi(zj, zi) bit
** for bit (the arguments are put in order first). Both arguments must be below 1
** (the HA-SME domain eta lambda < 1): otherwise, or for NaN, the result is NaN.
*/
double hs_phi_pair(double zi, double zj) {
  if (!(zi < 1.0) || !(zj < 1.0)) return NAN;
  if (isinf(zi) || isinf(zj)) return 0.0;  /* u = -inf: the limit of phi1 is 0 */
  if (zi > zj) {  /* one order of operations for (zi, zj) and (zj, zi): symmetric */
    double t = zi;
    zi = zj;
    zj = t;
  }
  double big = 0x1p1000;
  if (fabs(zi) > big || fabs(zj) > big || fabs(zi * zj) > big) {
    double ai = 1.0 - zi, aj = 1.0 - zj;
    return (log(ai) + log(aj)) / ai / aj;
  }
  double sh, sl, ph = zi * zj;
  double pl = fma(zi, zj, -ph);  /* ph + pl = zi zj exactly */
  two_sum(zi, zj, &sh, &sl);     /* sh + sl = zi + zj exactly */
  double uh, ul;
  two_sum(sh, -ph, &uh, &ul);    /* uh + ul = sh - ph exactly */
  ul += sl - pl;                 /* the only rounding: of the small tails */
  two_sum(uh, ul, &uh, &ul);     /* renormalise: uh = u rounded, |ul| <= ulp/2 */
  if (uh <= 0.5) return hs_phi1(uh);
  double x = (1.0 - uh) - ul;    /* 1 - u = (1 - zi)(1 - zj) > 0 */
  return -log(x) / uh;
}
