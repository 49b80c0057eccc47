/*
** hs_stats.c: statistics for comparing SGD with its SDE models (see hs_stats.h):
** moments, quantiles, histograms, normal / t / Kolmogorov distributions, two-sample
** and one-sample distances, Gaussian divergences, intervals and escape summaries.
*/
#include "hs_stats.h"

#include <float.h>
#include <math.h>
#include <string.h>

#include "hs_linalg.h"

#define PI        3.14159265358979323846264338327950288
#define SQRT1_2   0.70710678118654752440084436210484904   /* 1/sqrt(2) */
#define SQRT2PI   2.50662827463100050241576528481104525   /* sqrt(2 pi) */
#define LNSQRT2PI 0.91893853320467274178032973640561764   /* ln sqrt(2 pi) */
#define LN2       0.69314718055994530941723212145817657

/* Neumaier's compensated summation: s + c carries the sum to about one rounding
** whatever the number of terms (Neumaier, ZAMM 54 (1974) 39-51). */
static void sum_add(double *s, double *c, double x) {
  double t = *s + x;
  if (fabs(*s) >= fabs(x)) *c += (*s - t) + x;
  else *c += (x - t) + *s;
  *s = t;
}

/* {====================================================================
** Data checks, moments, covariance
** ===================================================================== */

size_t hs_stats_nonfinite(size_t n, const double *x) {
  for (size_t i = 0; i < n; i++)
    if (!isfinite(x[i])) return i;
  return n;
}

/* The corrected two-pass algorithm (Chan, Golub and LeVeque, "Algorithms for computing
** the sample variance", Amer. Statist. 37 (1983) 242-247): the second pass sums the
** deviations c = sum (x - m) as well, which is zero in exact arithmetic; m + c/n
** corrects the mean and ss - c^2/n the sum of squares. */
void hs_stats_meanvar(size_t n, const double *x, size_t stride, double *mean,
                      double *var) {
  double s = 0.0;
  for (size_t i = 0; i < n; i++) s += x[i * stride];
  double m = s / (double)n;
  double ss = 0.0, c = 0.0;
  for (size_t i = 0; i < n; i++) {
    double d = x[i * stride] - m;
    ss += d * d;
    c += d;
  }
  *mean = m + c / (double)n;
  if (n < 2) *var = 0.0;
  else {
    double v = (ss - c * c / (double)n) / (double)(n - 1);
    *var = v > 0.0 ? v : 0.0;
  }
}

void hs_stats_describe(size_t n, const double *x, hs_stats_moments *out) {
  double m, v;
  hs_stats_meanvar(n, x, 1, &m, &v);
  double s2 = 0.0, s3 = 0.0, s4 = 0.0;
  for (size_t i = 0; i < n; i++) {
    double d = x[i] - m, d2 = d * d;
    s2 += d2;
    s3 += d2 * d;
    s4 += d2 * d2;
  }
  double m2 = s2 / (double)n, m3 = s3 / (double)n, m4 = s4 / (double)n;
  double res = HS_STATS_RESOLUTION * m;
  out->mean = m;
  out->var = v;
  out->has_shape = m2 > res * res;
  out->skew = out->has_shape ? m3 / pow(m2, 1.5) : 0.0;
  out->kurt = out->has_shape ? m4 / (m2 * m2) - 3.0 : 0.0;
}

/* Three passes over the rows and no workspace: the means, their correction by the
** mean deviation (as in hs_stats_meanvar), then the cross products of deviations from
** the corrected means. Only the lower triangle is accumulated and then mirrored. */
void hs_stats_cov(size_t n, size_t d, const double *X, double *mean, double *C) {
  for (size_t j = 0; j < d; j++) mean[j] = 0.0;
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < d; j++) mean[j] += X[i * d + j];
  for (size_t j = 0; j < d; j++) mean[j] /= (double)n;
  for (size_t j = 0; j < d; j++) {
    double c = 0.0;
    for (size_t i = 0; i < n; i++) c += X[i * d + j] - mean[j];
    mean[j] += c / (double)n;
  }
  memset(C, 0, d * d * sizeof(double));
  for (size_t i = 0; i < n; i++) {
    const double *row = X + i * d;
    for (size_t j = 0; j < d; j++) {
      double dj = row[j] - mean[j];
      for (size_t k = 0; k <= j; k++) C[j * d + k] += dj * (row[k] - mean[k]);
    }
  }
  for (size_t j = 0; j < d; j++)
    for (size_t k = 0; k <= j; k++) {
      double v = C[j * d + k] / (double)(n - 1);
      C[j * d + k] = v;
      C[k * d + j] = v;
    }
}

void hs_stats_cov_se(size_t n, size_t d, const double *C, double *se) {
  double f = 1.0 / (double)(n - 1);
  /* Off-diagonal entries first, so that se may alias C: they read the diagonal. */
  for (size_t i = 0; i < d; i++)
    for (size_t j = 0; j < d; j++) {
      if (i == j) continue;
      double cij = C[i * d + j];
      se[i * d + j] = sqrt((C[i * d + i] * C[j * d + j] + cij * cij) * f);
    }
  for (size_t i = 0; i < d; i++) se[i * d + i] = sqrt(2.0 * f) * fabs(C[i * d + i]);
}

/* }==================================================================== */

/* {====================================================================
** Sorting, quantiles, histograms
** ===================================================================== */

/* Introsort (Musser, "Introspective sorting and selection algorithms", Software:
** Practice and Experience 27 (1997) 983-993): quicksort with a median-of-three pivot
** and Hoare's partition, insertion sort for short runs, heapsort when the recursion
** depth passes 2 log2 n. Recursing into the smaller part bounds the stack. */
#define SORT_SHORT 24   /* runs this short are finished by insertion sort */

static void sort_insertion(double *a, size_t n) {
  for (size_t i = 1; i < n; i++) {
    double v = a[i];
    size_t j = i;
    while (j > 0 && a[j - 1] > v) {
      a[j] = a[j - 1];
      j--;
    }
    a[j] = v;
  }
}

static void sift_down(double *a, size_t root, size_t n) {
  double v = a[root];
  for (;;) {
    size_t child = 2 * root + 1;
    if (child >= n) break;
    if (child + 1 < n && a[child + 1] > a[child]) child++;
    if (a[child] <= v) break;
    a[root] = a[child];
    root = child;
  }
  a[root] = v;
}

static void sort_heap(double *a, size_t n) {
  for (size_t i = n / 2; i-- > 0;) sift_down(a, i, n);
  for (size_t end = n; end-- > 1;) {
    double t = a[0];
    a[0] = a[end];
    a[end] = t;
    sift_down(a, 0, end);
  }
}

static void swap2(double *a, size_t i, size_t j) {
  double t = a[i];
  a[i] = a[j];
  a[j] = t;
}

static void sort_intro(double *a, size_t n, unsigned depth) {
  while (n > SORT_SHORT) {
    if (depth == 0) {
      sort_heap(a, n);
      return;
    }
    depth--;
    size_t mid = n / 2;
    /* Median of three: afterwards a[0] <= a[mid] <= a[n-1], which serve as sentinels
    ** for the two scans below. */
    if (a[mid] < a[0]) swap2(a, mid, 0);
    if (a[n - 1] < a[mid]) {
      swap2(a, n - 1, mid);
      if (a[mid] < a[0]) swap2(a, mid, 0);
    }
    double pivot = a[mid];
    size_t i = 0, j = n - 1;
    for (;;) {
      do i++; while (a[i] < pivot);
      do j--; while (a[j] > pivot);
      if (i >= j) break;
      swap2(a, i, j);
    }
    /* a[0..j] <= pivot <= a[j+1..n-1], both parts non-empty. */
    size_t nl = j + 1, nr = n - nl;
    if (nl < nr) {
      sort_intro(a, nl, depth);
      a += nl;
      n = nr;
    }
    else {
      sort_intro(a + nl, nr, depth);
      n = nl;
    }
  }
  sort_insertion(a, n);
}

void hs_stats_sort(size_t n, double *x) {
  unsigned depth = 0;
  for (size_t m = n; m > 1; m >>= 1) depth += 2;
  sort_intro(x, n, depth);
}

/* NumPy's "linear" method: h = (n - 1) p, i = floor(h), t = h - i, and the value
** a + (b - a) t, evaluated as b - (b - a)(1 - t) when t >= 1/2 (numpy's _lerp), which
** keeps the result monotone in p and exact at both ends. */
double hs_stats_quantile_sorted(size_t n, const double *s, double p) {
  double h = (double)(n - 1) * p;
  if (!(h > 0.0)) return s[0];
  if (h >= (double)(n - 1)) return s[n - 1];
  double fl = floor(h), t = h - fl;
  size_t i = (size_t)fl;
  double a = s[i], b = s[i + 1], diff = b - a;
  return t >= 0.5 ? b - diff * (1.0 - t) : a + diff * t;
}

/* The bin of v is first guessed from (v - lo) * nbins / (hi - lo) and then moved by
** one when rounding put it on the wrong side of an edge, so that the counts agree with
** the edges exactly (the procedure of numpy.histogram for equal bins). */
size_t hs_stats_hist_uniform(size_t n, const double *x, double lo, double hi,
                             size_t nbins, double *edges, double *counts) {
  double step = (hi - lo) / (double)nbins;
  for (size_t i = 0; i < nbins; i++) edges[i] = (double)i * step + lo;
  edges[nbins] = hi;
  double norm = (double)nbins / (hi - lo);
  memset(counts, 0, nbins * sizeof(double));
  size_t total = 0;
  for (size_t i = 0; i < n; i++) {
    double v = x[i];
    if (v < lo || v > hi) continue;
    size_t b = (size_t)((v - lo) * norm);
    if (b >= nbins) b = nbins - 1;
    if (v < edges[b]) b--;
    else if (b != nbins - 1 && v >= edges[b + 1]) b++;
    counts[b] += 1.0;
    total++;
  }
  return total;
}

size_t hs_stats_hist_edges(size_t n, const double *x, size_t nedges,
                           const double *edges, double *counts) {
  size_t nbins = nedges - 1, total = 0;
  memset(counts, 0, nbins * sizeof(double));
  for (size_t i = 0; i < n; i++) {
    double v = x[i];
    if (v < edges[0] || v > edges[nbins]) continue;
    /* The last edge e_k <= v (binary search), the closed last bin taking v = e_nbins. */
    size_t lo = 0, hi = nbins;
    while (hi - lo > 1) {
      size_t mid = lo + (hi - lo) / 2;
      if (edges[mid] <= v) lo = mid;
      else hi = mid;
    }
    counts[lo] += 1.0;
    total++;
  }
  return total;
}

void hs_stats_hist_range(size_t n, const double *x, double *lo, double *hi) {
  double a = x[0], b = x[0];
  for (size_t i = 1; i < n; i++) {
    if (x[i] < a) a = x[i];
    if (x[i] > b) b = x[i];
  }
  if (a == b) a -= 0.5, b += 0.5;
  *lo = a;
  *hi = b;
}

void hs_stats_hist_density(size_t nbins, const double *edges, double *counts,
                           size_t total) {
  for (size_t i = 0; i < nbins; i++)
    counts[i] = counts[i] / (edges[i + 1] - edges[i]) / (double)total;
}

/* }==================================================================== */

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

static double normal_pdf(double x) {
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
** where na = nd + j and n(1-a) = (n - j) - nd are formed directly and j - na = -nd. */
double hs_stats_smirnov_sf(size_t n, double d) {
  if (isnan(d)) return NAN;
  if (d <= 0.0) return 1.0;
  if (d >= 1.0) return 0.0;
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
      for (size_t i = 1; i <= n; i++) cdf *= (double)i * (1.0 / nn) * f;
      return clip01(1.0 - cdf);
    }
    case KS_RUBEN_HIGH: return clip01(2.0 * pow(1.0 - d, nn));
    case KS_SMIRNOV: return clip01(2.0 * hs_stats_smirnov_sf(n, d));
    case KS_DURBIN: return clip01(1.0 - kolmogn_durbin(n, d, work));
    default: return clip01(1.0 - kolmogn_pelzgood(n, d));
  }
}

/* }==================================================================== */

/* {====================================================================
** Comparisons of distributions: Kolmogorov-Smirnov, Wasserstein, Gaussians
** ===================================================================== */

/* Walk the merged order statistics one distinct value at a time, taking every copy
** of a tied value in both samples before comparing: the ECDFs are right-continuous,
** so the supremum is attained just at or after a jump. The differences are formed as
** i/n1 - j/n2, as scipy.stats.ks_2samp forms them. */
double hs_stats_ks2_stat(size_t n1, const double *x, size_t n2, const double *y) {
  size_t i = 0, j = 0;
  double d = 0.0;
  while (i < n1 && j < n2) {
    double v = x[i] <= y[j] ? x[i] : y[j];
    while (i < n1 && x[i] == v) i++;
    while (j < n2 && y[j] == v) j++;
    double diff = fabs((double)i / (double)n1 - (double)j / (double)n2);
    if (diff > d) d = diff;
  }
  return d;
}

/* Smirnov's effective size n1 n2 / (n1 + n2), rounded half to even as numpy.round
** does; 1 at least (scipy returns NaN for two samples of size 1). */
static size_t ks2_size(size_t n1, size_t n2) {
  double a = (double)n1, b = (double)n2;
  double r = nearbyint(a * b / (a + b));
  return r < 1.0 ? 1 : (size_t)r;
}

size_t hs_stats_ks2_worksize(size_t n1, size_t n2, double d) {
  return hs_stats_kolmogn_worksize(ks2_size(n1, n2), d);
}

double hs_stats_ks2_pvalue(size_t n1, size_t n2, double d, double *work) {
  return hs_stats_kolmogn_sf(ks2_size(n1, n2), d, work);
}

/* D = max(D+, D-) with D+ = max_i (i/n - F(x_(i))) and D- = max_i (F(x_(i)) - (i-1)/n),
** the ECDF's jumps being where the supremum can be attained. */
double hs_stats_ks_normal_stat(size_t n, const double *x, double mu, double sigma) {
  double dp = -INFINITY, dm = -INFINITY, nn = (double)n;
  for (size_t i = 0; i < n; i++) {
    double f = hs_stats_normal_cdf((x[i] - mu) / sigma);
    double a = (double)(i + 1) / nn - f, b = f - (double)i / nn;
    if (a > dp) dp = a;
    if (b > dm) dm = b;
  }
  return dp > dm ? dp : dm;
}

/* W1 = integral |F1 - F2| dt: between consecutive distinct values of the merged
** samples both ECDFs are constant, so the integral is a finite sum (as in
** scipy.stats.wasserstein_distance), added with compensation. */
double hs_stats_w1_sorted(size_t n1, const double *x, size_t n2, const double *y) {
  size_t i = 0, j = 0;
  double s = 0.0, c = 0.0, prev = x[0] <= y[0] ? x[0] : y[0];
  while (i < n1 || j < n2) {
    double v;
    if (j >= n2 || (i < n1 && x[i] <= y[j])) v = x[i];
    else v = y[j];
    double gap = fabs((double)i / (double)n1 - (double)j / (double)n2);
    if (v > prev) sum_add(&s, &c, gap * (v - prev));
    while (i < n1 && x[i] == v) i++;
    while (j < n2 && y[j] == v) j++;
    prev = v;
  }
  return s + c;
}

/* G(z) = integral_-inf^z Phi(u) du = z Phi(z) + phi(z), given P = Phi(z). */
static double gint(double z, double P) {
  return z * P + normal_pdf(z);
}

/* integral_a^b |Phi(z) - c| dz for a < b and 0 < c < 1, with Pa = Phi(a), Pb = Phi(b):
** c (b - a) - (G(b) - G(a)) where Phi stays below c, the opposite where it stays
** above, and the two pieces split at z* = Phi^-1(c) where it crosses. */
static double w1_piece(double a, double b, double Pa, double Pb, double c) {
  if (Pb <= c) return c * (b - a) - (gint(b, Pb) - gint(a, Pa));
  if (Pa >= c) return (gint(b, Pb) - gint(a, Pa)) - c * (b - a);
  double zc = hs_stats_normal_quantile(c);
  if (zc < a) zc = a;
  if (zc > b) zc = b;
  double Gc = gint(zc, c);
  return (c * (zc - a) - (Gc - gint(a, Pa))) + ((gint(b, Pb) - Gc) - c * (b - zc));
}

/* W1(F_n, N(mu, sigma^2)) = sigma * integral |F_n(mu + sigma z) - Phi(z)| dz over the
** standardised order statistics z_1 <= ... <= z_n: G(z_1) on the left tail (where
** F_n = 0), w1_piece(z_i, z_i+1, i/n) between them, and integral_z_n^inf (1 - Phi) =
** G(-z_n) on the right. Exact up to rounding; no sampling or quadrature. */
double hs_stats_w1_normal_sorted(size_t n, const double *x, double mu, double sigma) {
  double s = 0.0, c = 0.0, nn = (double)n;
  double za = (x[0] - mu) / sigma, Pa = hs_stats_normal_cdf(za);
  sum_add(&s, &c, gint(za, Pa));
  for (size_t i = 1; i < n; i++) {
    double zb = (x[i] - mu) / sigma;
    if (zb > za) {
      double Pb = hs_stats_normal_cdf(zb);
      sum_add(&s, &c, w1_piece(za, zb, Pa, Pb, (double)i / nn));
      za = zb;
      Pa = Pb;
    }
  }
  sum_add(&s, &c, gint(-za, hs_stats_normal_sf(za)));
  return sigma * (s + c);
}

size_t hs_stats_gauss_worksize(size_t d) {
  return 4 * d * d + 2 * d + hs_eig_worksize(d);
}

/* Smallest and largest eigenvalue of a symmetric matrix and whether it is PSD within
** tol (ascending eigenvalues w of order d). */
static int psd_ok(size_t d, const double *w, double tol) {
  double big = fabs(w[0]) > fabs(w[d - 1]) ? fabs(w[0]) : fabs(w[d - 1]);
  return w[0] >= -tol * big;
}

static void symmetrize(size_t d, double *A) {
  for (size_t i = 0; i < d; i++)
    for (size_t j = 0; j < i; j++) {
      double v = 0.5 * (A[i * d + j] + A[j * d + i]);
      A[i * d + j] = v;
      A[j * d + i] = v;
    }
}

/* M = F' A F for d x d matrices (T scratch, d x d). */
static void congruence(size_t d, const double *F, const double *A, double *T, double *M) {
  hs_gemm(d, d, d, A, F, T);                 /* T = A F */
  for (size_t i = 0; i < d; i++)
    for (size_t j = 0; j < d; j++) {
      double s = 0.0;
      for (size_t k = 0; k < d; k++) s += F[k * d + i] * T[k * d + j];
      M[i * d + j] = s;
    }
  symmetrize(d, M);
}

/* The trace of (C1^1/2 C2 C1^1/2)^1/2 needs only eigenvalues: with C1 = V diag(w) V'
** and F = V diag(sqrt(w)), C1^1/2 C2 C1^1/2 = V (F' C2 F) V' is similar to F' C2 F,
** so tr (...)^1/2 = sum sqrt(mu_i) over the eigenvalues mu_i of F' C2 F (Dowson and
** Landau, J. Multivariate Anal. 12 (1982) 450-455; Givens and Shortt, Michigan Math.
** J. 31 (1984) 231-240). The traces of C1 and C2 are taken from their diagonals.
** Rounding leaves an absolute error of a few eps (tr C1 + tr C2) in W2^2, so W2 itself
** is resolved down to about sqrt(eps (tr C1 + tr C2)); a negative W2^2 from rounding
** is returned as 0. */
hs_status hs_stats_gauss_w2(size_t d, const double *m1, const double *C1,
                            const double *m2, const double *C2, double tol,
                            double *w2, double *work, hs_stats_gauss_info *info) {
  double *V = work, *F = V + d * d, *M = F + d * d, *T = M + d * d;
  double *w = T + d * d, *mu = w + d, *ework = mu + d;
  hs_status st = hs_eig(d, C1, w, V, ework);
  if (st != HS_OK) return st;
  if (!psd_ok(d, w, tol)) {
    info->which = 1, info->minw = w[0], info->maxw = w[d - 1];
    return HS_ENOTPSD;
  }
  st = hs_eig(d, C2, mu, M, ework);
  if (st != HS_OK) return st;
  if (!psd_ok(d, mu, tol)) {
    info->which = 2, info->minw = mu[0], info->maxw = mu[d - 1];
    return HS_ENOTPSD;
  }
  for (size_t i = 0; i < d; i++)
    for (size_t j = 0; j < d; j++) F[i * d + j] = V[i * d + j] * sqrt(w[j] > 0.0 ? w[j] : 0.0);
  /* C2 is read through its lower triangle only, like the eigensolver does. */
  for (size_t i = 0; i < d; i++)
    for (size_t j = 0; j < d; j++) V[i * d + j] = j <= i ? C2[i * d + j] : C2[j * d + i];
  congruence(d, F, V, T, M);
  st = hs_eig(d, M, mu, T, ework);
  if (st != HS_OK) return st;
  double s = 0.0, c = 0.0;
  for (size_t i = 0; i < d; i++) {
    double dm = m1[i] - m2[i];
    sum_add(&s, &c, dm * dm);
    sum_add(&s, &c, C1[i * d + i]);
    sum_add(&s, &c, C2[i * d + i]);
    sum_add(&s, &c, -2.0 * sqrt(mu[i] > 0.0 ? mu[i] : 0.0));
  }
  double r = s + c;
  *w2 = r > 0.0 ? sqrt(r) : 0.0;
  return HS_OK;
}

/* x - ln(1 + x) for x > -1, by its series x^2/2 - x^3/3 + ... near 0, where the
** direct formula cancels. */
static double xmlog1p(double x) {
  if (fabs(x) >= 0.1) return x - log1p(x);
  double s = 0.0, p = x * x;
  for (int k = 2; k < 40; k++) {
    double t = p / k;
    s += (k % 2 == 0) ? t : -t;
    if (fabs(t) <= DBL_EPSILON * fabs(s)) break;
    p *= x;
  }
  return s;
}

/* KL through the whitened C1: with C2 = U diag(v) U' and B = U diag(v^-1/2), the
** eigenvalues mu_i of B' C1 B are those of C2^-1 C1, so tr(C2^-1 C1) - d - ln det(C2^-1 C1)
** = sum (mu_i - 1 - ln mu_i), each term non-negative and computed without cancellation,
** and (m2-m1)' C2^-1 (m2-m1) = |B'(m2 - m1)|^2. */
hs_status hs_stats_gauss_kl(size_t d, const double *m1, const double *C1,
                            const double *m2, const double *C2, double tol,
                            double *kl, double *work, hs_stats_gauss_info *info) {
  double *U = work, *B = U + d * d, *M = B + d * d, *T = M + d * d;
  double *v = T + d * d, *mu = v + d, *ework = mu + d;
  hs_status st = hs_eig(d, C2, v, U, ework);
  if (st != HS_OK) return st;
  if (!(v[0] > tol * fabs(v[d - 1])) || !(v[d - 1] > 0.0)) {
    info->which = 2, info->minw = v[0], info->maxw = v[d - 1];
    return HS_ENOTPSD;
  }
  for (size_t i = 0; i < d; i++)
    for (size_t j = 0; j < d; j++) B[i * d + j] = U[i * d + j] / sqrt(v[j]);
  for (size_t i = 0; i < d; i++)
    for (size_t j = 0; j < d; j++) U[i * d + j] = j <= i ? C1[i * d + j] : C1[j * d + i];
  congruence(d, B, U, T, M);
  st = hs_eig(d, M, mu, T, ework);
  if (st != HS_OK) return st;
  if (!psd_ok(d, mu, tol)) {
    /* Report C1's own eigenvalues, not the whitened ones. */
    st = hs_eig(d, C1, mu, T, ework);
    if (st != HS_OK) return st;
    info->which = 1, info->minw = mu[0], info->maxw = mu[d - 1];
    return HS_ENOTPSD;
  }
  if (!(mu[0] > tol * mu[d - 1])) {   /* C1 singular: N1 is not absolutely continuous */
    *kl = INFINITY;
    return HS_OK;
  }
  double s = 0.0, c = 0.0;
  for (size_t i = 0; i < d; i++) sum_add(&s, &c, xmlog1p(mu[i] - 1.0));
  for (size_t j = 0; j < d; j++) {
    double y = 0.0;
    for (size_t i = 0; i < d; i++) y += B[i * d + j] * (m2[i] - m1[i]);
    sum_add(&s, &c, y * y);
  }
  *kl = 0.5 * (s + c);
  return HS_OK;
}

/* }==================================================================== */

/* {====================================================================
** Intervals, escape statistics, weak error
** ===================================================================== */

/* E. B. Wilson, "Probable inference, the law of succession, and statistical
** inference", JASA 22 (1927) 209-212; the formula as statsmodels' proportion_confint
** (method "wilson") writes it. The ends are exact at k = 0 and k = n. */
void hs_stats_wilson(size_t k, size_t n, double z, double *lo, double *hi) {
  double nn = (double)n, p = (double)k / nn, z2 = z * z;
  double denom = 1.0 + z2 / nn;
  double center = (p + z2 / (2.0 * nn)) / denom;
  double half = z * sqrt(p * (1.0 - p) / nn + z2 / (4.0 * nn * nn)) / denom;
  *lo = k == 0 ? 0.0 : clip01(center - half);
  *hi = k == n ? 1.0 : clip01(center + half);
}

/* For a continuous law with median M, #{X_i < M} ~ Binomial(n, 1/2), so
** P(X_(r) <= M <= X_(n+1-r)) = 1 - 2 P(B <= r - 1) (Thompson 1936; David and Nagaraja,
** "Order Statistics", 3rd ed., section 7.1). r is the largest rank with
** P(B <= r - 1) <= (1 - conf)/2. The binomial probabilities are accumulated from
** ln P(B = 0) = -n ln 2 by their ratios, so no term overflows. */
int hs_stats_median_ranks(size_t n, double conf, size_t *lo, size_t *hi,
                          double *coverage) {
  double half_alpha = 0.5 * (1.0 - conf), nn = (double)n;
  double lp = -nn * LN2, cum = 0.0;   /* ln P(B = r), P(B <= r - 1) */
  size_t r = 0, rmax = (n + 1) / 2;
  while (r < rmax) {
    double next = cum + exp(lp);      /* P(B <= r) */
    if (next > half_alpha) break;
    cum = next;
    r++;
    lp += log((nn - (double)r + 1.0) / (double)r);
  }
  if (r == 0) return 0;
  *lo = r;
  *hi = n + 1 - r;
  *coverage = 1.0 - 2.0 * cum;
  return 1;
}

hs_status hs_stats_check_steps(size_t n, const double *steps, size_t *bad) {
  for (size_t i = 0; i < n; i++) {
    double s = steps[i];
    if (s == -1.0 || (s >= 1.0 && s == floor(s) && isfinite(s))) continue;
    *bad = i;
    return HS_EINVAL;
  }
  return HS_OK;
}

void hs_stats_survival(size_t n, const double *steps, size_t horizon, double *S) {
  memset(S, 0, (horizon + 1) * sizeof(double));
  for (size_t i = 0; i < n; i++)
    if (steps[i] >= 1.0 && steps[i] <= (double)horizon) S[(size_t)steps[i]] += 1.0;
  double escaped = 0.0, nn = (double)n;
  for (size_t k = 0; k <= horizon; k++) {
    escaped += S[k];
    S[k] = (nn - escaped) / nn;
  }
}

void hs_stats_escape_summary(size_t n, const double *steps, size_t horizon,
                             double conf, double z, double *work,
                             hs_stats_escape *out) {
  size_t e = 0;
  for (size_t i = 0; i < n; i++)
    if (steps[i] >= 1.0 && steps[i] <= (double)horizon) work[e++] = steps[i];
  memset(out, 0, sizeof *out);
  out->n = n;
  out->escaped = e;
  out->censored = n - e;
  out->prob = (double)e / (double)n;
  hs_stats_wilson(e, n, z, &out->prob_lo, &out->prob_hi);
  double sum = 0.0;
  for (size_t i = 0; i < e; i++) sum += work[i];   /* integers: exact below 2^53 */
  out->mean_censored = (sum + (double)(n - e) * (double)horizon) / (double)n;
  if (e >= 1) {
    double var;
    hs_stats_meanvar(e, work, 1, &out->mean, &var);
    out->has_mean = 1;
    if (e >= 2) {
      out->mean_se = sqrt(var / (double)e);
      out->has_mean_se = 1;
    }
  }
  if (2 * e > n) {
    /* All censored paths sort after every escaped one, so the order statistics up to
    ** rank e are those of the escaped steps. */
    hs_stats_sort(e, work);
    out->median = n % 2 == 1 ? work[n / 2] : 0.5 * (work[n / 2 - 1] + work[n / 2]);
    out->has_median = 1;
    size_t lo, hi;
    if (hs_stats_median_ranks(n, conf, &lo, &hi, &out->median_coverage)) {
      out->median_lo = work[lo - 1];
      out->has_median_lo = 1;
      if (hi <= e) {
        out->median_hi = work[hi - 1];
        out->has_median_hi = 1;
      }
    }
  }
}

/* Mean of the differences and their variance in two passes, without storing them. */
static void meanvar_diff(size_t n, const double *a, const double *b, double *mean,
                         double *var) {
  double s = 0.0;
  for (size_t i = 0; i < n; i++) s += a[i] - b[i];
  double m = s / (double)n, ss = 0.0, c = 0.0;
  for (size_t i = 0; i < n; i++) {
    double d = (a[i] - b[i]) - m;
    ss += d * d;
    c += d;
  }
  *mean = m + c / (double)n;
  double v = (ss - c * c / (double)n) / (double)(n - 1);
  *var = v > 0.0 ? v : 0.0;
}

/* Welch, "The generalization of 'Student's' problem when several different population
** variances are involved", Biometrika 34 (1947) 28-35: the dof of
** va/na + vb/nb is (va/na + vb/nb)^2 / ((va/na)^2/(na-1) + (vb/nb)^2/(nb-1)). */
void hs_stats_weak_error(size_t na, const double *a, size_t nb, const double *b,
                         int paired, double conf, hs_stats_weak *out) {
  if (paired) {
    double m, v;
    meanvar_diff(na, a, b, &m, &v);
    out->diff = m;
    out->se = sqrt(v / (double)na);
    out->dof = (double)(na - 1);
  }
  else {
    double ma, va, mb, vb;
    hs_stats_meanvar(na, a, 1, &ma, &va);
    hs_stats_meanvar(nb, b, 1, &mb, &vb);
    double ua = va / (double)na, ub = vb / (double)nb;
    out->diff = ma - mb;
    out->se = sqrt(ua + ub);
    double den = ua * ua / (double)(na - 1) + ub * ub / (double)(nb - 1);
    out->dof = den > 0.0 ? (ua + ub) * (ua + ub) / den : (double)INFINITY;
  }
  if (out->se == 0.0) out->dof = INFINITY;
  double p = 1.0 - 0.5 * (1.0 - conf);
  double q = isinf(out->dof) ? hs_stats_normal_quantile(p) : hs_stats_t_quantile(p, out->dof);
  out->lo = out->diff - q * out->se;
  out->hi = out->diff + q * out->se;
}

/* }==================================================================== */
