/*
** hs_dist.h: the probability distributions the statistics of hs_stats.h need: the
** standard normal CDF, density and quantile, the regularised incomplete beta function,
** Student's t CDF and quantile, and the Kolmogorov-Smirnov null distributions
** (Kolmogorov's limit law, one-sided Smirnov and two-sided finite-n). The functions
** keep the hs_stats_ names they had before this module was split out of hs_stats.
** None allocates or keeps state; every function is thread-safe.
*/
#ifndef HS_DIST_H
#define HS_DIST_H

#include <stddef.h>

/* {====================================================================
** Distributions: normal, Student t, incomplete beta, Kolmogorov
** ===================================================================== */

/* Standard normal CDF and upper tail, to a few ulps relative over the whole line. */
double hs_stats_normal_cdf(double x);
double hs_stats_normal_sf(double x);

/* Standard normal density exp(-x^2/2) / sqrt(2 pi), for any x (0 beyond |x| ~ 38.6). */
double hs_dist_normal_pdf(double x);

/* Inverse standard normal CDF (Wichura's AS 241, PPND16): about 1e-16 relative.
** p = 0 gives -inf, p = 1 gives +inf; p outside [0, 1] or NaN gives NaN. */
double hs_stats_normal_quantile(double p);

/* Regularised incomplete beta I_x(a, b), a, b > 0, 0 <= x <= 1, by its continued
** fraction (about 1e-14 relative; NaN outside the domain). */
double hs_stats_betainc(double a, double b, double x);

/* Student t with dof > 0 degrees of freedom: CDF and quantile (0 <= p <= 1; the
** quantile is about 1e-13 relative, -inf / +inf at p = 0 / 1, NaN outside). */
double hs_stats_t_cdf(double t, double dof);
double hs_stats_t_quantile(double p, double dof);

/* Kolmogorov's limiting distribution: P(K > x), K = lim sqrt(n) D_n
** (scipy.special.kolmogorov). */
double hs_stats_kolmogorov_sf(double x);

/* One-sided: P(D_n^+ >= d) for a sample of size n >= 1, by the Birnbaum-Tingey sum
** (exact up to rounding; O(n) terms). */
double hs_stats_smirnov_sf(size_t n, double d);

/* Two-sided: P(D_n >= d) for a sample of size n >= 1, by the method selection of
** Simard and L'Ecuyer (2011) (scipy.stats.kstwo.sf). work has
** hs_stats_kolmogn_worksize(n, d) doubles (0 for most (n, d); at most 3 * 117^2). */
size_t hs_stats_kolmogn_worksize(size_t n, double d);
double hs_stats_kolmogn_sf(size_t n, double d, double *work);

/* }==================================================================== */

#endif
