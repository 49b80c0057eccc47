/*
** hs_dist.c: the probability distributions behind the statistics of hs_stats.c (see
** hs_dist.h): the normal law, the incomplete beta function and Student's t, and the
** Kolmogorov-Smirnov distributions (the limit law, one-sided and two-sided for finite n).
*/
#include "hs_dist.h"

#include <float.h>
#include <math.h>

#define PI        3.14159265358979323846264338327950288
#define SQRT1_2   0.70710678118654752440084436210484904   /* 1/sqrt(2) */
#define SQRT2PI   2.50662827463100050241576528481104525   /* sqrt(2 pi) */
#define LNSQRT2PI 0.91893853320467274178032973640561764   /* ln sqrt(2 pi) */

/* Neumaier's compensated summation: s + c carries the sum to about one rounding
** whatever the number of terms (Neumaier, ZAMM 54 (1974) 39-51). */
static void sum_add(double *s, double *c, double x) {
  double t = *s + x;
  if (fabs(*s) >= fabs(x)) *c += (*s - t) + x;
  else *c += (x - t) + *s;
  *s = t;
}

/* {====================================================================
** Normal, incomplete beta and Student t distributions
** ===================================================================== */

/* Phi(x) from erf near the centre and erfc in the tails, so that neither tail loses
** relative accuracy (the split used by Cephes' ndtr). */
double hs_stats_normal_cdf(double x) {
  double z = x * SQRT1_2;
  if (fabs(z) < SQRT1_2) return 0.5 + 0.5 * erf(z);
  double y = 0.5 * erfc(fabs(z));
  return z > 0.0 ? 1.0 - y : y;
}

double hs_stats_normal_sf(double x) {
  return hs_stats_normal_cdf(-x);
}

double hs_dist_normal_pdf(double x) {
  return exp(-0.5 * x * x - LNSQRT2PI);
}

/* Evaluate c[0] + c[1] x + ... + c[7] x^7. */
static double poly8(const double c[8], double x) {
  double r = c[7];
  for (int i = 6; i >= 0; i--) r = r * x + c[i];
  return r;
}

/* M. J. Wichura, "Algorithm AS 241: The percentage points of the normal
** distribution", Applied Statistics 37(3) (1988) 477-484, routine PPND16: rational
** approximations of degree 7 in three regions, |q| <= 0.425 (q = p - 1/2) in
** r = 0.180625 - q^2, then r = sqrt(-ln min(p, 1-p)) in [1.6, 5] and beyond 5.
** Relative error about 1e-16. 1 - p is exact for p >= 1/2 (Sterbenz). */
static const double as241_a[8] = {
  3.3871328727963666080e0, 1.3314166789178437745e+2, 1.9715909503065514427e+3,
  1.3731693765509461125e+4, 4.5921953931549871457e+4, 6.7265770927008700853e+4,
  3.3430575583588128105e+4, 2.5090809287301226727e+3};
static const double as241_b[8] = {
  1.0, 4.2313330701600911252e+1, 6.8718700749205790830e+2, 5.3941960214247511077e+3,
  2.1213794301586595867e+4, 3.9307895800092710610e+4, 2.8729085735721942674e+4,
  5.2264952788528545610e+3};
static const double as241_c[8] = {
  1.42343711074968357734e0, 4.63033784615654529590e0, 5.76949722146069140550e0,
  3.64784832476320460504e0, 1.27045825245236838258e0, 2.41780725177450611770e-1,
  2.27238449892691845833e-2, 7.74545014278341407640e-4};
static const double as241_d[8] = {
  1.0, 2.05319162663775882187e0, 1.67638483018380384940e0, 6.89767334985100004550e-1,
  1.48103976427480074590e-1, 1.51986665636164571966e-2, 5.47593808499534494600e-4,
  1.05075007164441684324e-9};
static const double as241_e[8] = {
  6.65790464350110377720e0, 5.46378491116411436990e0, 1.78482653991729133580e0,
  2.96560571828504891230e-1, 2.65321895265761230930e-2, 1.24266094738807843860e-3,
  2.71155556874348757815e-5, 2.01033439929228813265e-7};
static const double as241_f[8] = {
  1.0, 5.99832206555887937690e-1, 1.36929880922735805310e-1, 1.48753612908506148525e-2,
  7.86869131145613259100e-4, 1.84631831751005468180e-5, 1.42151175831644588870e-7,
  2.04426310338993978564e-15};

double hs_stats_normal_quantile(double p) {
  if (!(p >= 0.0 && p <= 1.0)) return NAN;
  if (p == 0.0) return -INFINITY;
  if (p == 1.0) return INFINITY;
  double q = p - 0.5;
  if (fabs(q) <= 0.425) {
    double r = 0.180625 - q * q;
    return q * poly8(as241_a, r) / poly8(as241_b, r);
  }
  double r = sqrt(-log(q < 0.0 ? p : 1.0 - p)), x;
  if (r <= 5.0) {
    r -= 1.6;
    x = poly8(as241_c, r) / poly8(as241_d, r);
  }
  else {
    r -= 5.0;
    x = poly8(as241_e, r) / poly8(as241_f, r);
  }
  return q < 0.0 ? -x : x;
}

/* The remainder of Stirling's series, delta(z) = ln Gamma(z) - ((z - 1/2) ln z - z +
** ln sqrt(2 pi)) = sum_k B_2k / (2k (2k-1) z^(2k-1)), for z >= 10 (eight terms: the
** next is below 1e-17 there). */
static double stirling_rem(double z) {
  double r = 1.0 / z, r2 = r * r;
  return r * (1.0 / 12 + r2 * (-1.0 / 360 + r2 * (1.0 / 1260 + r2 * (-1.0 / 1680 +
         r2 * (1.0 / 1188 + r2 * (-691.0 / 360360 + r2 * (1.0 / 156 +
         r2 * (-3617.0 / 122400))))))));
}

/* ln Gamma(x) for x > 0: Stirling's series after shifting x up to 10 or beyond with
** Gamma(x) = Gamma(x + k) / (x (x+1) ... (x+k-1)). Used instead of lgamma, which
** writes the global signgam and so is not thread-safe. Absolute error ~1e-15. */
static double lngamma(double x) {
  double prod = 1.0;
  while (x < 10.0) {
    prod *= x;
    x += 1.0;
  }
  return (x - 0.5) * log(x) - x + LNSQRT2PI + stirling_rem(x) - log(prod);
}

/* ln B(a, b) without the cancellation of ln Gamma differences at large arguments
** (the decomposition of DiDonato and Morris, ACM TOMS 18 (1992) 360-373, Algorithm
** 708, function betaln): with p = min, q = max,
**   q >= 10 > p:  ln Gamma(p) - (q - 1/2) ln(1 + p/q) - p ln(p + q) + p
**                 + delta(q) - delta(p + q)
**   p >= 10:      ln sqrt(2 pi) - ln(q)/2 + (p - 1/2) ln(p / (p + q)) - q ln(1 + p/q)
**                 + delta(p) + delta(q) - delta(p + q)
** in which every large term has the same sign. */
static double lbeta(double a, double b) {
  double p = a < b ? a : b, q = a < b ? b : a;
  if (q < 10.0) return lngamma(p) + lngamma(q) - lngamma(p + q);
  double corr = stirling_rem(q) - stirling_rem(p + q);
  if (p < 10.0)
    return lngamma(p) + corr - (q - 0.5) * log1p(p / q) - p * log(p + q) + p;
  return LNSQRT2PI - 0.5 * log(q) + stirling_rem(p) + corr +
         (p - 0.5) * log(p / (p + q)) - q * log1p(p / q);
}

/* I_x(a, b) by the continued fraction (DLMF 8.17.22)
**   I_x(a, b) = x^a (1-x)^b / (a B(a, b)) * 1 / (1 + d1 / (1 + d2 / (1 + ...))),
**   d_2m+1 = -(a + m)(a + b + m) x / ((a + 2m)(a + 2m + 1)),
**   d_2m   = m (b - m) x / ((a + 2m - 1)(a + 2m)),
** evaluated by the modified Lentz method (Thompson and Barnett, J. Comput. Phys. 64
** (1986) 490-509). It converges quickly for x < (a + 1)/(a + b + 2); the caller passes
** ln x and ln(1 - x), which it can often compute more accurately than from x. */
#define LENTZ_TINY 1e-300   /* replaces a zero denominator (part of the method) */
#define BETA_MAXITER 100000

static double betainc_cf(double a, double b, double x, double lx, double l1x) {
  double front = exp(a * lx + b * l1x - lbeta(a, b)) / a;
  if (front == 0.0) return 0.0;
  /* g = 1 + d1 / (1 + d2 / (1 + ...)): Lentz with f0 = C0 = 1, D0 = 0. */
  double g = 1.0, C = 1.0, D = 0.0;
  for (int j = 1; j <= BETA_MAXITER; j++) {
    double m = (double)(j / 2), dj;
    if (j % 2 == 1) dj = -(a + m) * (a + b + m) * x / ((a + 2.0 * m) * (a + 2.0 * m + 1.0));
    else dj = m * (b - m) * x / ((a + 2.0 * m - 1.0) * (a + 2.0 * m));
    D = 1.0 + dj * D;
    if (fabs(D) < LENTZ_TINY) D = LENTZ_TINY;
    C = 1.0 + dj / C;
    if (fabs(C) < LENTZ_TINY) C = LENTZ_TINY;
    D = 1.0 / D;
    double delta = C * D;
    g *= delta;
    if (fabs(delta - 1.0) <= DBL_EPSILON) break;
  }
  return front / g;
}

double hs_stats_betainc(double a, double b, double x) {
  if (!(a > 0.0 && b > 0.0 && x >= 0.0 && x <= 1.0)) return NAN;
  if (x == 0.0) return 0.0;
  if (x == 1.0) return 1.0;
  if (x < (a + 1.0) / (a + b + 2.0)) return betainc_cf(a, b, x, log(x), log1p(-x));
  return 1.0 - betainc_cf(b, a, 1.0 - x, log1p(-x), log(x));
}

/* The upper tail P(T > t) of Student's t with nu degrees of freedom, t >= 0:
**   P(T > t) = I_x(nu/2, 1/2) / 2,   x = nu / (nu + t^2)   (DLMF 8.17.1, Abramowitz
** and Stegun 26.7.1), with ln x = -ln(1 + u) and ln(1 - x) = ln u - ln(1 + u) for
** u = t^2/nu taken directly (or through logarithms when t^2 would overflow). Near
** t = 0 (x near 1) the complement I_x = 1 - I_1-x(1/2, nu/2) keeps full accuracy. */
#define T_HUGE 1e150   /* beyond this |t|, t^2 is formed through its logarithm */

static double t_tail(double t, double nu) {
  if (t == 0.0) return 0.5;
  if (isinf(t)) return 0.0;
  double a = 0.5 * nu, b = 0.5, x, y, lx, l1x;
  if (t < T_HUGE) {
    double u = t * t / nu;
    lx = -log1p(u);
    l1x = log(u) + lx;
    x = 1.0 / (1.0 + u);
    y = u / (1.0 + u);
  }
  else {
    double lu = 2.0 * log(t) - log(nu);
    lx = -(lu + log1p(exp(-lu)));
    l1x = -log1p(exp(-lu));
    x = exp(lx);
    y = exp(l1x);
  }
  if (x < (a + 1.0) / (a + b + 2.0)) return 0.5 * betainc_cf(a, b, x, lx, l1x);
  return 0.5 * (1.0 - betainc_cf(b, a, y, l1x, lx));
}

static double t_pdf(double t, double nu) {
  double u = fabs(t) < T_HUGE ? log1p(t * t / nu) : 2.0 * log(fabs(t)) - log(nu);
  return exp(-lbeta(0.5 * nu, 0.5) - 0.5 * log(nu) - 0.5 * (nu + 1.0) * u);
}

double hs_stats_t_cdf(double t, double dof) {
  if (isnan(t) || !(dof > 0.0)) return NAN;
  return t > 0.0 ? 1.0 - t_tail(t, dof) : t_tail(-t, dof);
}

/* Solve P(T > t) = q (q = min(p, 1-p), exact since 1 - p is exact for p >= 1/2) by
** Newton's method on ln P(T > t), whose step (ln S - ln q) S / f behaves well in both
** tails, kept inside a bracket [lo, hi] that every evaluation narrows; a step that
** leaves the bracket is replaced by doubling (no upper end yet) or bisection. The
** start is the Cornish-Fisher expansion around the normal quantile (Abramowitz and
** Stegun 26.7.5). Stops when a step changes t by at most 4 ulps. */
#define T_MAXITER 2000

double hs_stats_t_quantile(double p, double dof) {
  if (!(p >= 0.0 && p <= 1.0) || !(dof > 0.0)) return NAN;
  if (p == 0.0) return -INFINITY;
  if (p == 1.0) return INFINITY;
  if (p == 0.5) return 0.0;
  double q = p < 0.5 ? p : 1.0 - p, nu = dof;
  double z = -hs_stats_normal_quantile(q), z2 = z * z;
  double t = z + z * (z2 + 1.0) / (4.0 * nu) +
             z * ((5.0 * z2 + 16.0) * z2 + 3.0) / (96.0 * nu * nu);
  if (!(t > 0.0) || !isfinite(t)) t = 1.0;
  double lo = 0.0, hi = INFINITY, lq = log(q);
  for (int it = 0; it < T_MAXITER; it++) {
    double s = t_tail(t, nu);
    if (s == q) break;
    if (s > q) lo = t;
    else hi = t;
    double f = t_pdf(t, nu), tn;
    tn = f > 0.0 ? t + (log(s) - lq) * s / f : (double)NAN;
    if (!(tn > lo && tn < hi)) tn = isinf(hi) ? 2.0 * t : 0.5 * (lo + hi);
    if (fabs(tn - t) <= 4.0 * DBL_EPSILON * tn ||
        (isfinite(hi) && hi - lo <= 4.0 * DBL_EPSILON * hi)) {
      t = tn;
      break;
    }
    t = tn;
  }
  return p < 0.5 ? -t : t;
}

/* }==================================================================== */

/* {====================================================================
** Kolmogorov-Smirnov distributions
** ===================================================================== */

/* Kolmogorov's limit law (Kolmogorov 1933):
**   P(K > x) = 2 sum_k>=1 (-1)^(k-1) exp(-2 k^2 x^2),
** fast for large x; for x <= 0.82 its Jacobi-theta transform
**   P(K <= x) = sqrt(2 pi) / x sum_k>=1 exp(-(2k-1)^2 pi^2 / (8 x^2))
** converges in a few terms instead (the cut of scipy.special.kolmogorov). */
double hs_stats_kolmogorov_sf(double x) {
  if (isnan(x)) return NAN;
  if (x <= 0.0) return 1.0;
  if (x <= 0.82) {
    double w = -PI * PI / (8.0 * x * x);   /* ln u, u = exp(-pi^2 / 8x^2) */
    if (w < -745.0) return 1.0;            /* u underflows: P(K <= x) = 0 */
    double u = exp(w), u8 = exp(8.0 * w), sum = 0.0, term = 1.0;
    /* sum = 1 + u^8 + u^24 + u^48 + ... (exponents 4k(k-1)) */
    double ratio = u8;
    for (int k = 1; k < 50 && term > DBL_EPSILON * sum; k++) {
      sum += term;
      term *= ratio;
      ratio *= u8;
    }
    double cdf = SQRT2PI / x * u * sum;
    return cdf >= 1.0 ? 0.0 : 1.0 - cdf;
  }
  double sum = 0.0, sign = 1.0;
  for (int k = 1; k < 100; k++) {
    double term = exp(-2.0 * x * x * (double)k * (double)k);
    sum += sign * term;
    if (term <= DBL_EPSILON * sum) break;
    sign = -sign;
  }
  double sf = 2.0 * sum;
  return sf < 0.0 ? 0.0 : (sf > 1.0 ? 1.0 : sf);
}

/* stirlerr(k) = ln k! - ((k + 1/2) ln k - k + ln sqrt(2 pi)), the error of Stirling's
** formula, for integer k >= 1: Stirling's series from 10 on (it is delta(k) above),
** the direct difference, which is small and accurate in absolute terms, below. */
static double stirlerr(double k) {
  if (k >= 10.0) return stirling_rem(k);
  return lngamma(k + 1.0) - (k + 0.5) * log(k) + k - LNSQRT2PI;
}

/* bd0(x, M) = x ln(x / M) + M - x >= 0, given diff = x - M computed accurately by the
** caller; near x = M by the series of Loader ("Fast and accurate computation of
** binomial probabilities", 2000) in v = (x - M)/(x + M), which avoids cancellation. */
static double bd0(double x, double M, double diff) {
  if (fabs(diff) < 0.1 * (x + M)) {
    double v = diff / (x + M), s = diff * v, ej = 2.0 * x * v, v2 = v * v;
    for (int j = 1; j < 1000; j++) {
      ej *= v2;
      double s1 = s + ej / (double)(2 * j + 1);
      if (s1 == s) return s1;
      s = s1;
    }
    return s;
  }
  return x * log(x / M) + M - x;
}

/* One-sided: the Birnbaum-Tingey formula (Smirnov 1944; Birnbaum and Tingey, Ann. Math.
** Statist. 22 (1951) 592-596)
**   P(D_n^+ >= d) = sum_{j=0}^{floor(n(1-d))} C(n, j) d (d + j/n)^(j-1) (1 - d - j/n)^(n-j),
** a sum of positive terms. With a = d + j/n, term j is (d/a) P(B = j) for B ~
** Binomial(n, a), which Loader's saddle-point form gives to a few ulps without the
** huge cancelling logarithms of C(n, j) and the powers:
**   ln P(B = j) = stirlerr(n) - stirlerr(j) - stirlerr(n-j) - bd0(j, na) - bd0(n-j, n(1-a))
**                 - ln(2 pi j (n-j)/n) / 2,
** where na = nd + j and n(1-a) = (n - j) - nd are formed directly and j - na = -nd.
** The sum has about n(1-d) terms, none negligible, so beyond SMIRNOV_NMAX (the cut of
** scipy.special.smirnov, whose value this matches) the work is bounded by Maag and
** Dicaire's approximation ("On Kolmogorov-Smirnov type one-sample statistics",
** Biometrika 58 (1971) 653-656), P(D_n^+ >= d) ~ exp(-(6nd + 1)^2 / (18n)), whose
** relative error there is below 1e-6 for the p-values that matter. */
#define SMIRNOV_NMAX 1013904

double hs_stats_smirnov_sf(size_t n, double d) {
  if (isnan(d)) return NAN;
  if (d <= 0.0) return 1.0;
  if (d >= 1.0) return 0.0;
  if (n > SMIRNOV_NMAX) {
    double t = 6.0 * (double)n * d + 1.0;
    return exp(-t * t / (18.0 * (double)n));
  }
  double nn = (double)n, nd = nn * d, jmax = floor(nn - nd);
  double s = 0.0, c = 0.0;
  sum_add(&s, &c, exp(nn * log1p(-d)));   /* j = 0: (1 - d)^n */
  double sn = stirlerr(nn), lnd = log(nd);
  for (size_t j = 1; (double)j <= jmax; j++) {
    double jj = (double)j, rest = (nn - jj) - nd;   /* n (1 - a) */
    if (rest <= 0.0) break;
    double na = nd + jj;
    double lb = sn - stirlerr(jj) - stirlerr(nn - jj) - bd0(jj, na, -nd) -
                bd0(nn - jj, rest, nd) - 0.5 * (log(2.0 * PI * jj) + log1p(-jj / nn));
    sum_add(&s, &c, exp(lnd - log(na) + lb));
  }
  double p = s + c;
  return p > 1.0 ? 1.0 : p;
}

/* Two-sided, exact, by Durbin's matrix (Durbin, "Distribution theory for tests based
** on the sample distribution function", SIAM 1973) as Marsaglia, Tsang and Wang
** evaluate it ("Evaluating Kolmogorov's distribution", J. Stat. Softw. 8(18), 2003):
** with n d = k - h (k integer, 0 <= h < 1) and m = 2k - 1, the m x m matrix
**   H_ij = 1/(i - j + 1)! for i - j + 1 >= 0 (0 otherwise), except the first column
**   H_i0 = (1 - h^(i+1)) / (i+1)!, the last row H_m-1,j = (1 - h^(m-j)) / (m-j)!, and
**   H_m-1,0 = (1 - 2 h^m + max(0, 2h - 1)^m) / m!,
** gives P(D_n < d) = n!/n^n (H^n)_k-1,k-1. All entries are non-negative, so the power
** has no cancellation; binary powering with power-of-two rescaling (exact) keeps the
** numbers in range, and n!/n^n is applied factor by factor with the same rescaling.
** work: 3 m^2 doubles. Returns the CDF. */
#define SCALE_EXP 128
#define SCALE_BIG 3.4028236692093846e38     /* 2^128 */
#define SCALE_SMALL 2.9387358770557188e-39  /* 2^-128 */

static void matmul_sq(size_t m, const double *A, const double *B, double *C) {
  for (size_t i = 0; i < m; i++) {
    double *ci = C + i * m;
    for (size_t j = 0; j < m; j++) ci[j] = 0.0;
    for (size_t l = 0; l < m; l++) {
      double a = A[i * m + l];
      if (a == 0.0) continue;
      const double *bl = B + l * m;
      for (size_t j = 0; j < m; j++) ci[j] += a * bl[j];
    }
  }
}

static size_t durbin_order(size_t n, double d) {
  double k = ceil((double)n * d);
  return (size_t)(2.0 * k - 1.0);
}

static double kolmogn_durbin(size_t n, double d, double *work) {
  double nd = (double)n * d, kk = ceil(nd), h = kk - nd;
  size_t k = (size_t)kk, m = 2 * k - 1, c = (k - 1) * m + (k - 1);
  double *H = work, *P = work + m * m, *T = work + 2 * m * m;
  /* Row i of the Toeplitz part: 1/(i - j + 1)!; then the borders. */
  for (size_t i = 0; i < m; i++)
    for (size_t j = 0; j < m; j++) {
      double v = 0.0;
      if (j <= i + 1) {
        v = 1.0;
        for (size_t f = 2; f <= i - j + 1; f++) v /= (double)f;
      }
      H[i * m + j] = v;
    }
  double fact = 1.0;   /* 1/(i+1)! */
  for (size_t i = 0; i < m; i++) {
    fact /= (double)(i + 1);
    double hp = pow(h, (double)(i + 1));
    H[i * m] = (1.0 - hp) * fact;                       /* first column */
    H[(m - 1) * m + (m - 1 - i)] = (1.0 - hp) * fact;   /* last row, j = m-1-i */
  }
  double corner = 1.0 - 2.0 * pow(h, (double)m);
  if (2.0 * h - 1.0 > 0.0) corner += pow(2.0 * h - 1.0, (double)m);
  H[(m - 1) * m] = corner * fact;                        /* fact = 1/m! */
  /* P = H^n by binary powering; eP, eH are the binary exponents scaled out. */
  for (size_t i = 0; i < m * m; i++) P[i] = 0.0;
  for (size_t i = 0; i < m; i++) P[i * m + i] = 1.0;
  long eP = 0, eH = 0;
  for (size_t nn = n;;) {
    if (nn & 1u) {
      matmul_sq(m, P, H, T);
      double *t = P; P = T; T = t;
      eP += eH;
      if (fabs(P[c]) > SCALE_BIG) {
        for (size_t i = 0; i < m * m; i++) P[i] *= SCALE_SMALL;
        eP += SCALE_EXP;
      }
    }
    nn >>= 1;
    if (nn == 0) break;
    matmul_sq(m, H, H, T);
    double *t = H; H = T; T = t;
    eH *= 2;
    if (fabs(H[c]) > SCALE_BIG) {
      for (size_t i = 0; i < m * m; i++) H[i] *= SCALE_SMALL;
      eH += SCALE_EXP;
    }
  }
  double p = P[c];
  for (size_t i = 1; i <= n; i++) {
    p = (double)i * p / (double)n;
    if (p != 0.0 && fabs(p) < SCALE_SMALL) {
      p *= SCALE_BIG;
      eP -= SCALE_EXP;
    }
  }
  return ldexp(p, (int)eP);   /* |eP| stays below ~1.5 n: it fits an int */
}

/* Pelz and Good's approximation ("Approximating the lower tail-areas of the
** Kolmogorov-Smirnov one-sample statistic", JRSS B 38 (1976) 152-156): the Li-Chien /
** Korolyuk expansion P(D_n <= x) ~ K0(z) + K1(z)/sqrt(n) + K2(z)/n + K3(z)/n^1.5,
** z = x sqrt(n), with each K_i rewritten by the Jacobi theta transform into sums over
** exp(-(2k-1)^2 pi^2 / (8 z^2)) and exp(-k^2 pi^2 / (2 z^2)) that converge for small z
** (the form given by Simard and L'Ecuyer 2011, section 2.2). Returns the CDF. */
static double kolmogn_pelzgood(size_t n, double x) {
  double z = sqrt((double)n) * x;
  double z2 = z * z, z3 = z2 * z, z4 = z2 * z2, z6 = z4 * z2;
  double pi2 = PI * PI, pi4 = pi2 * pi2, pi6 = pi4 * pi2;
  double lq = -pi2 / (8.0 * z2);
  if (lq < -708.0) return 0.0;
  double q = exp(lq);
  double k1a = -z2, k1b = pi2 / 4.0;
  double k2a = 6.0 * z6 + 2.0 * z4, k2b = (2.0 * z4 - 5.0 * z2) * pi2 / 4.0,
         k2c = pi4 * (1.0 - 2.0 * z2) / 16.0;
  double k3a = -30.0 * z6 - 90.0 * z6 * z2, k3b = pi2 * (135.0 * z4 - 96.0 * z6) / 4.0,
         k3c = pi4 * (-60.0 * z2 + 212.0 * z4) / 16.0, k3d = pi6 * (5.0 - 30.0 * z2) / 64.0;
  /* Sums over odd m = 2k-1 of c(m) q^(m^2), by Horner's rule in the ratios q^(8k). */
  int kmax = (int)ceil(16.0 * z / PI);
  double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
  for (int k = kmax; k >= 1; k--) {
    double mo = 2.0 * k - 1.0, mo2 = mo * mo, mo4 = mo2 * mo2, mo6 = mo4 * mo2;
    double r = pow(q, 8.0 * k);
    s0 = s0 * r + 1.0;
    s1 = s1 * r + (k1a + k1b * mo2);
    s2 = s2 * r + (k2a + k2b * mo2 + k2c * mo4);
    s3 = s3 * r + (k3a + k3b * mo2 + k3c * mo4 + k3d * mo6);
  }
  double K0 = SQRT2PI * q * s0 / z;
  double K1 = SQRT2PI * q * s1 / (6.0 * z4);
  double K2 = SQRT2PI * q * s2 / (72.0 * z6 * z);
  double K3 = SQRT2PI * q * s3 / (6480.0 * z6 * z4);
  /* The sums over all k of exp(-k^2 pi^2 / (2 z^2)) in K2 and K3. */
  double qq = exp(-pi2 / (2.0 * z2)), e2 = 0.0, e3 = 0.0, r3 = sqrt(3.0) * z;
  for (int k = kmax; k >= 1; k--) {
    double kk = (double)k * (double)k, w = pow(qq, kk), kp = PI * k;
    e2 += kk * w;
    e3 += (r3 + kp) * (r3 - kp) * kk * w;
  }
  K2 += e2 * pi2 * SQRT2PI / (-36.0 * z3);
  K3 += e3 * pi2 * SQRT2PI / (216.0 * z6);
  double sn = sqrt((double)n);
  return K0 + K1 / sn + K2 / (double)n + K3 / ((double)n * sn);
}

/* Simard and L'Ecuyer, "Computing the two-sided Kolmogorov-Smirnov distribution",
** J. Stat. Softw. 39(11) (2011): which method computes P(D_n >= d) for (n, d). The
** exact ends of Ruben and Gambino (1982) cover n d <= 1 and n d >= n - 1; d >= 1/2
** is exactly twice the one-sided tail; the middle uses Durbin's matrix for small
** n d^2 (S&L use Pomeranz's recursion for n <= 140 and 0.754693 < n d^2 <= 4, which
** is exact too: Durbin's matrix replaces it here), twice the one-sided tail for large
** n d^2 (error below 5e-8 there), and Pelz-Good otherwise. The cut points are theirs
** and those of scipy.stats.kstwo. */
enum { KS_ONE, KS_ZERO, KS_RUBEN_LOW, KS_RUBEN_HIGH, KS_SMIRNOV, KS_DURBIN, KS_PELZGOOD };

static int kolmogn_method(size_t n, double d) {
  if (!(d > 0.0)) return KS_ONE;
  if (d >= 1.0) return KS_ZERO;
  double nn = (double)n, t = nn * d;
  if (t <= 1.0) return t <= 0.5 ? KS_ONE : KS_RUBEN_LOW;
  if (t >= nn - 1.0) return KS_RUBEN_HIGH;
  if (d >= 0.5) return KS_SMIRNOV;
  double nxx = t * d;
  if (n <= 140) return nxx <= 4.0 ? KS_DURBIN : KS_SMIRNOV;
  if (nxx >= 370.0) return KS_ZERO;
  if (nxx >= 2.2) return KS_SMIRNOV;
  if (n <= 100000 && nn * pow(d, 1.5) <= 1.4) return KS_DURBIN;
  return KS_PELZGOOD;
}

size_t hs_stats_kolmogn_worksize(size_t n, double d) {
  if (n == 0 || kolmogn_method(n, d) != KS_DURBIN) return 0;
  size_t m = durbin_order(n, d);
  return 3 * m * m;
}

static double clip01(double p) {
  return p < 0.0 ? 0.0 : (p > 1.0 ? 1.0 : p);
}

double hs_stats_kolmogn_sf(size_t n, double d, double *work) {
  if (isnan(d) || n == 0) return NAN;
  double nn = (double)n;
  switch (kolmogn_method(n, d)) {
    case KS_ONE: return 1.0;
    case KS_ZERO: return 0.0;
    case KS_RUBEN_LOW: {   /* P(D_n < d) = n!/n^n (2nd - 1)^n for 1/2 < nd <= 1 */
      double cdf = 1.0, f = 2.0 * nn * d - 1.0;
      /* Every factor is below 1, so once the product underflows it stays 0: stop
      ** there (after a few hundred factors) instead of running through all n. */
      for (size_t i = 1; i <= n && cdf > 0.0; i++) cdf *= (double)i * (1.0 / nn) * f;
      return clip01(1.0 - cdf);
    }
    case KS_RUBEN_HIGH: return clip01(2.0 * pow(1.0 - d, nn));
    case KS_SMIRNOV: return clip01(2.0 * hs_stats_smirnov_sf(n, d));
    case KS_DURBIN: return clip01(1.0 - kolmogn_durbin(n, d, work));
    default: return clip01(1.0 - kolmogn_pelzgood(n, d));
  }
}

/* }==================================================================== */
