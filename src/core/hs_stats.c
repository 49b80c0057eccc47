/*
** hs_stats.c: statistics for comparing SGD with its SDE models (see hs_stats.h):
** moments, quantiles, histograms, two-sample and one-sample distances, Gaussian
** divergences, intervals and escape summaries. The normal / t / Kolmogorov
** distributions they use are in hs_dist.c.
*/
#include "hs_stats.h"

#include <float.h>
#include <math.h>
#include <string.h>

#include "hs_dist.h"
#include "hs_linalg.h"

#define LN2 0.69314718055994530941723212145817657

/* Neumaier's compensated summation: s + c carries the sum to about one rounding
** whatever the number of terms (Neumaier, ZAMM 54 (1974) 39-51). */
static void sum_add(double *s, double *c, double x) {
  double t = *s + x;
  if (fabs(*s) >= fabs(x)) *c += (*s - t) + x;
  else *c += (x - t) + *s;
  *s = t;
}

static double clip01(double p) {
  return p < 0.0 ? 0.0 : (p > 1.0 ? 1.0 : p);
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
  return z * P + hs_dist_normal_pdf(z);
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
