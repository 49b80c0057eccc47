/*
** hs_stats.h: the statistics that compare SGD with its SDE models: sample moments and
** covariances, quantiles and histograms, Kolmogorov-Smirnov statistics, Wasserstein
** distances and Gaussian divergences, Wilson intervals, escape-time summaries and
** weak-error estimates (docs/methods.md sections 7 and 8). The distributions they use
** (normal, Student t, Kolmogorov) are in hs_dist.h. No function allocates or keeps
** state: sorting and matrix work happen in memory the caller passes, so every function
** is thread-safe.
*/
#ifndef HS_STATS_H
#define HS_STATS_H

#include "hasme.h"

/* {====================================================================
** Data checks, moments, covariance
** ===================================================================== */

/* Index of the first element of x[0..n-1] that is inf or NaN, or n when all are
** finite. Every function below assumes finite input; the bindings check first. */
size_t hs_stats_nonfinite(size_t n, const double *x);

/* Mean and unbiased variance (divisor n - 1) of x[0], x[stride], ..., x[(n-1)*stride]
** by the corrected two-pass algorithm. n >= 1; *var is 0 when n == 1. */
void hs_stats_meanvar(size_t n, const double *x, size_t stride, double *mean,
                      double *var);

/* Summary of a sample: mean, unbiased variance (divisor n - 1), skewness m3 / m2^1.5 and
** excess kurtosis m4 / m2^2 - 3 from the central moments m_k with divisor n (the
** definitions of scipy.stats.skew and kurtosis by default). A sample whose m2 is not
** above (HS_STATS_RESOLUTION * mean)^2 counts as constant: skew and kurt are undefined
** there and has_shape is 0. n >= 2. */
#define HS_STATS_RESOLUTION 1e-15   /* numpy.finfo(float).resolution, as SciPy uses */

typedef struct hs_stats_moments {
  double mean, var, skew, kurt;
  int has_shape;
} hs_stats_moments;

void hs_stats_describe(size_t n, const double *x, hs_stats_moments *out);

/* Column means (d) and the unbiased covariance (d x d, divisor n - 1) of the n x d
** row-major matrix X, one observation per row. n >= 2. */
void hs_stats_cov(size_t n, size_t d, const double *X, double *mean, double *C);

/* Standard errors of the entries of a sample covariance C (d x d) from n Gaussian
** observations: se_ij = sqrt((C_ii C_jj + C_ij^2) / (n - 1)). se may alias C. n >= 2. */
void hs_stats_cov_se(size_t n, size_t d, const double *C, double *se);

/* }==================================================================== */

/* {====================================================================
** Sorting, quantiles, histograms
** ===================================================================== */

/* Sort x[0..n-1] ascending in place (introsort: O(n log n) worst case). Finite input. */
void hs_stats_sort(size_t n, double *x);

/* The p-quantile (0 <= p <= 1) of the sorted s[0..n-1], n >= 1, by linear
** interpolation between order statistics at h = (n - 1) p: NumPy's default
** ("linear", Hyndman and Fan type 7), with NumPy's interpolation formula. */
double hs_stats_quantile_sorted(size_t n, const double *s, double p);

/* Histogram of x[0..n-1] over nbins >= 1 equal-width bins spanning [lo, hi] (lo < hi):
** edges (nbins + 1 values) are lo + i (hi - lo) / nbins with the last exactly hi, bins
** are [e_i, e_i+1) except the last, which is closed; values outside [lo, hi] are not
** counted. Bin assignment follows numpy.histogram. Returns the number counted. */
size_t hs_stats_hist_uniform(size_t n, const double *x, double lo, double hi,
                             size_t nbins, double *edges, double *counts);

/* The same with explicit, strictly increasing edges (nedges >= 2, nedges - 1 bins). */
size_t hs_stats_hist_edges(size_t n, const double *x, size_t nedges,
                           const double *edges, double *counts);

/* The default range of a histogram, numpy's: the sample's minimum and maximum, widened
** by 1/2 on each side when they are equal. n >= 1. */
void hs_stats_hist_range(size_t n, const double *x, double *lo, double *hi);

/* Counts to a density in place: counts_i / (e_i+1 - e_i) / total (total > 0). */
void hs_stats_hist_density(size_t nbins, const double *edges, double *counts,
                           size_t total);

/* }==================================================================== */

/* {====================================================================
** Two-sample and one-sample comparisons of distributions
** ===================================================================== */

/* Two-sample Kolmogorov-Smirnov statistic sup_t |F1(t) - F2(t)| of the sorted samples
** x[0..n1-1], y[0..n2-1] (n1, n2 >= 1); ties are handled (both ECDFs jump first). */
double hs_stats_ks2_stat(size_t n1, const double *x, size_t n2, const double *y);

/* The p-value of hs_stats_ks2_stat as scipy.stats.ks_2samp(method='asymp') computes it:
** P(D_m >= d) with m = round(n1 n2 / (n1 + n2)) (ties to even). work as for
** hs_stats_kolmogn_sf(m, d); hs_stats_ks2_worksize gives its size. */
size_t hs_stats_ks2_worksize(size_t n1, size_t n2, double d);
double hs_stats_ks2_pvalue(size_t n1, size_t n2, double d, double *work);

/* One-sample statistic sup_t |F_n(t) - Phi((t - mu) / sigma)| of the sorted x[0..n-1],
** n >= 1, sigma > 0. Its asymptotic p-value is hs_stats_kolmogorov_sf(sqrt(n) D). */
double hs_stats_ks_normal_stat(size_t n, const double *x, double mu, double sigma);

/* Wasserstein-1 distance between the empirical laws of the sorted x[0..n1-1] and
** y[0..n2-1]: the integral of |F1 - F2| (exact, compensated summation). */
double hs_stats_w1_sorted(size_t n1, const double *x, size_t n2, const double *y);

/* Wasserstein-1 distance between the empirical law of the sorted x[0..n-1] and
** N(mu, sigma^2): the integral of |F_n(t) - Phi((t - mu) / sigma)| in closed form on
** each interval between order statistics. n >= 1, sigma > 0. */
double hs_stats_w1_normal_sorted(size_t n, const double *x, double mu, double sigma);

/* Eigenvalues above -HS_STATS_PSD_TOL * max|eigenvalue| count as zero when a
** covariance must be positive semidefinite; more negative ones are an error. */
#define HS_STATS_PSD_TOL 1e-10

/* What made a Gaussian comparison fail: which covariance (1 or 2) and its smallest and
** largest eigenvalues. */
typedef struct hs_stats_gauss_info {
  int which;
  double minw, maxw;
} hs_stats_gauss_info;

/* Workspace (doubles) of hs_stats_gauss_w2 and hs_stats_gauss_kl for dimension d. */
size_t hs_stats_gauss_worksize(size_t d);

/* 2-Wasserstein distance between N(m1, C1) and N(m2, C2), d >= 1, C1 and C2 symmetric
** PSD (lower triangles read):
**   W2^2 = |m1 - m2|^2 + tr C1 + tr C2 - 2 tr (C1^1/2 C2 C1^1/2)^1/2.
** HS_ENOTPSD with *info filled when an eigenvalue is below -tol * max|w|;
** HS_ENOCONV / HS_ELAPACK from the eigensolver. */
hs_status hs_stats_gauss_w2(size_t d, const double *m1, const double *C1,
                            const double *m2, const double *C2, double tol,
                            double *w2, double *work, hs_stats_gauss_info *info);

/* KL(N(m1, C1) || N(m2, C2)) = (tr(C2^-1 C1) + (m2-m1)' C2^-1 (m2-m1) - d
** + ln det C2 - ln det C1) / 2, computed from the eigenvalues mu_i of C2^-1/2 C1 C2^-1/2
** as (sum (mu_i - 1 - ln mu_i) + Mahalanobis term) / 2 so that it stays accurate when
** the two laws are close. C2 must be positive definite: HS_ENOTPSD (info->which = 2)
** when its smallest eigenvalue is <= tol * its largest. C1 must be PSD (which = 1
** otherwise); a singular C1 gives +inf. */
hs_status hs_stats_gauss_kl(size_t d, const double *m1, const double *C1,
                            const double *m2, const double *C2, double tol,
                            double *kl, double *work, hs_stats_gauss_info *info);

/* }==================================================================== */

/* {====================================================================
** Intervals, escape statistics, weak error
** ===================================================================== */

/* Wilson score interval for k successes in n >= 1 trials (k <= n) at the normal
** quantile z (1.959964 for 95%): (p + z^2/2n -+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n)
** with p = k/n; clipped to [0, 1]. */
void hs_stats_wilson(size_t k, size_t n, double z, double *lo, double *hi);

/* Ranks (1-based) of the order statistics X_(lo) <= median <= X_(hi), hi = n + 1 - lo,
** that cover the median of a continuous law with probability at least conf
** (distribution-free; binomial(n, 1/2) tails). Returns 0 when n is too small for conf
** (no such lo >= 1); *coverage gets the exact coverage 1 - 2 P(B <= lo - 1). */
int hs_stats_median_ranks(size_t n, double conf, size_t *lo, size_t *hi,
                          double *coverage);

/* First escape steps (hasme's convention: an integer k >= 1, or -1 for a path that did
** not escape). HS_EINVAL with *bad = its index when an entry is anything else. */
hs_status hs_stats_check_steps(size_t n, const double *steps, size_t *bad);

/* Survival curve S(k) = #{paths not escaped by step k} / n for k = 0..horizon
** (horizon + 1 values). A step beyond horizon counts as not escaped by it. */
void hs_stats_survival(size_t n, const double *steps, size_t horizon, double *S);

typedef struct hs_stats_escape {
  size_t n, escaped, censored;      /* escaped: 1 <= step <= horizon */
  double prob, prob_lo, prob_hi;    /* escaped / n and its Wilson interval */
  double mean, mean_se;             /* over escaped paths (need 1 and 2 of them) */
  double mean_censored;             /* censored paths counted as the horizon */
  double median, median_lo, median_hi, median_coverage;
  int has_mean, has_mean_se, has_median, has_median_lo, has_median_hi;
} hs_stats_escape;

/* Summary of checked escape steps up to horizon >= 1 at confidence conf (z its normal
** quantile). The median is that of all n paths with censored ones at +inf (defined
** when more than half escaped); its interval uses hs_stats_median_ranks, and an end
** whose order statistic is censored is reported missing. work: n doubles. */
void hs_stats_escape_summary(size_t n, const double *steps, size_t horizon,
                             double conf, double z, double *work,
                             hs_stats_escape *out);

typedef struct hs_stats_weak {
  double diff, se, dof, lo, hi;
} hs_stats_weak;

/* Weak-error estimate mean(a) - mean(b), its standard error, and the Student t
** interval diff -+ t_dof se at confidence conf. Independent samples (paired = 0):
** se^2 = var a / na + var b / nb with the Welch-Satterthwaite dof, na, nb >= 2.
** Coupled samples (paired != 0, na == nb >= 2): se^2 = var(a - b) / na, dof = na - 1.
** When se = 0 the dof is +inf and the interval is the point diff. */
void hs_stats_weak_error(size_t na, const double *a, size_t nb, const double *b,
                         int paired, double conf, hs_stats_weak *out);

/* }==================================================================== */

#endif
