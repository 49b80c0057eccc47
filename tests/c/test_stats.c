/*
** test_stats.c: the statistics kernels of hs_stats.c against answers derived by hand
** or in closed form (the agreement with NumPy and SciPy is checked in
** tests/spec/stats_spec.lua against tests/fixtures/stats_*.txt).
*/
#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "hs_dist.h"
#include "hs_linalg.h"
#include "hs_stats.h"
#include "tap.h"

#define PI 3.14159265358979323846

/* A small deterministic generator for test data (Knuth's MMIX LCG, top bits). */
static uint64_t lcg_state = 0x2385u;

static double lcg_uniform(void) {
  lcg_state = lcg_state * 6364136223846793005u + 1442695040888963407u;
  return ((double)(lcg_state >> 11) + 0.5) / 9007199254740992.0;
}

static int is_sorted(size_t n, const double *x) {
  for (size_t i = 1; i < n; i++)
    if (x[i - 1] > x[i]) return 0;
  return 1;
}

static void test_moments(void) {
  const double x[5] = {1.0, 2.0, 3.0, 4.0, 10.0};
  double mean, var;
  hs_stats_meanvar(5, x, 1, &mean, &var);
  is_near(mean, 4.0, 1e-15, "meanvar: mean of {1,2,3,4,10}");
  is_near(var, 12.5, 1e-14, "meanvar: unbiased variance of {1,2,3,4,10}");
  hs_stats_meanvar(1, x + 2, 1, &mean, &var);
  ok(mean == 3.0 && var == 0.0, "meanvar: one value has variance 0");
  /* deviations -3 -2 -1 0 6: m2 = 50/5, m3 = 180/5, m4 = 1394/5 */
  hs_stats_moments m;
  hs_stats_describe(5, x, &m);
  ok(m.mean == 4.0 && fabs(m.var - 12.5) < 1e-14 && m.has_shape, "describe: mean, var");
  is_near(m.skew, 36.0 / pow(10.0, 1.5), 1e-15, "describe: skew = m3 / m2^1.5");
  is_near(m.kurt, 278.8 / 100.0 - 3.0, 1e-14, "describe: excess kurtosis m4 / m2^2 - 3");
  const double flat[4] = {0.1, 0.1, 0.1, 0.1};
  hs_stats_describe(4, flat, &m);
  ok(!m.has_shape && m.var == 0.0, "describe: a constant sample has no skew or kurtosis");
  /* Strided access reads a matrix column. */
  const double X[8] = {1.0, 10.0, 2.0, 20.0, 3.0, 30.0, 4.0, 40.0};
  hs_stats_meanvar(4, X + 1, 2, &mean, &var);
  ok(mean == 25.0 && fabs(var - 500.0 / 3.0) < 1e-12, "meanvar: stride 2 reads column 2");
  /* A large offset does not destroy the variance (two-pass algorithm). */
  double y[4] = {1e9 + 1.0, 1e9 + 2.0, 1e9 + 3.0, 1e9 + 4.0};
  hs_stats_meanvar(4, y, 1, &mean, &var);
  is_near(var, 5.0 / 3.0, 1e-12, "meanvar: offset 1e9 keeps the variance");
}

static void test_cov(void) {
  /* Rows (1, 2), (2, 0), (3, 4): means (2, 2); C = [[1, 1], [1, 4]]. */
  const double X[6] = {1.0, 2.0, 2.0, 0.0, 3.0, 4.0};
  double mean[2], C[4], se[4];
  hs_stats_cov(3, 2, X, mean, C);
  ok(mean[0] == 2.0 && mean[1] == 2.0, "cov: column means");
  ok(C[0] == 1.0 && C[1] == 1.0 && C[2] == 1.0 && C[3] == 4.0, "cov: unbiased covariance");
  hs_stats_cov_se(3, 2, C, se);
  is_near(se[0], sqrt(2.0 / 2.0), 1e-15, "cov_se: diagonal sqrt(2 C_ii^2 / (n-1))");
  is_near(se[1], sqrt((1.0 * 4.0 + 1.0) / 2.0), 1e-15, "cov_se: off-diagonal");
  is_near(se[3], sqrt(32.0 / 2.0), 1e-14, "cov_se: second diagonal");
  hs_stats_cov_se(3, 2, C, C);
  ok(C[0] == se[0] && C[1] == se[1] && C[2] == se[2] && C[3] == se[3],
     "cov_se: in place (se aliasing C) gives the same result");
}

static void test_sort_quantile(void) {
  enum { N = 20000 };
  double *a = malloc(N * sizeof(double)), *b = malloc(N * sizeof(double));
  double sum = 0.0, sorted_sum = 0.0;
  for (size_t i = 0; i < N; i++) sum += a[i] = lcg_uniform() - 0.5;
  hs_stats_sort(N, a);
  for (size_t i = 0; i < N; i++) sorted_sum += a[i];
  ok(is_sorted(N, a) && sum == sum && fabs(sum - sorted_sum) < 1e-9,
     "sort: 20000 uniforms sorted, same values");
  for (size_t i = 0; i < N; i++) b[i] = (double)(i % 7);   /* heavy ties */
  hs_stats_sort(N, b);
  ok(is_sorted(N, b) && b[0] == 0.0 && b[N - 1] == 6.0, "sort: 7 distinct values, many ties");
  for (size_t i = 0; i < N; i++) b[i] = (double)(N - i);   /* reversed */
  hs_stats_sort(N, b);
  int ident = 1;
  for (size_t i = 0; i < N; i++) ident &= b[i] == (double)(i + 1);
  ok(ident, "sort: reversed input");
  for (size_t i = 0; i < N; i++) b[i] = (double)(i / 2) * ((i % 2) ? 1.0 : -1.0);   /* organ pipe */
  hs_stats_sort(N, b);
  ok(is_sorted(N, b), "sort: alternating signs");
  double one = 2.385;
  hs_stats_sort(1, &one);
  hs_stats_sort(0, NULL);
  ok(one == 2.385, "sort: sizes 0 and 1");
  free(a);
  free(b);

  const double s[4] = {1.0, 2.0, 3.0, 4.0};
  is_near(hs_stats_quantile_sorted(4, s, 0.5), 2.5, 0.0, "quantile: median of 1..4");
  is_near(hs_stats_quantile_sorted(4, s, 0.9), 3.7, 1e-15, "quantile: h = 2.7");
  is_near(hs_stats_quantile_sorted(4, s, 1.0 / 3.0), 2.0, 1e-15, "quantile: h = 1");
  ok(hs_stats_quantile_sorted(4, s, 0.0) == 1.0 && hs_stats_quantile_sorted(4, s, 1.0) == 4.0,
     "quantile: p = 0 and 1 are the extremes");
  ok(hs_stats_quantile_sorted(1, s + 2, 0.7) == 3.0, "quantile: one value");
}

static void test_histogram(void) {
  const double x[9] = {0.0, 0.1, 0.25, 0.5, 0.5, 0.75, 0.99, 1.0, 1.5};
  double edges[5], counts[4];
  size_t t = hs_stats_hist_uniform(9, x, 0.0, 1.0, 4, edges, counts);
  ok(t == 8, "hist_uniform: 8 values inside [0, 1]");
  ok(edges[0] == 0.0 && edges[2] == 0.5 && edges[4] == 1.0, "hist_uniform: edges");
  ok(counts[0] == 2 && counts[1] == 1 && counts[2] == 2 && counts[3] == 3,
     "hist_uniform: half-open bins, last closed (2, 1, 2, 3)");
  const double e[4] = {-1.0, 0.2, 0.5, 1.0};
  t = hs_stats_hist_edges(9, x, 4, e, counts);
  ok(t == 8 && counts[0] == 2 && counts[1] == 1 && counts[2] == 5,
     "hist_edges: (2, 1, 5), 1.5 outside");
  hs_stats_hist_density(3, e, counts, t);
  ok(counts[0] == 2.0 / 1.2 / 8.0 && counts[2] == 5.0 / 0.5 / 8.0, "hist_density");
  double lo, hi;
  hs_stats_hist_range(9, x, &lo, &hi);
  ok(lo == 0.0 && hi == 1.5, "hist_range: min and max");
  hs_stats_hist_range(1, x + 3, &lo, &hi);
  ok(lo == 0.0 && hi == 1.0, "hist_range: one value widened by 1/2 each way");
}

static void test_normal(void) {
  ok(hs_stats_normal_cdf(0.0) == 0.5, "normal_cdf(0) = 1/2");
  is_near(hs_stats_normal_cdf(1.959963984540054), 0.975, 1e-15, "normal_cdf(1.96) = 0.975");
  is_near(hs_stats_normal_cdf(-1.0) + hs_stats_normal_cdf(1.0), 1.0, 1e-16,
          "normal_cdf symmetry");
  /* Mills ratio: Phi(-x) ~ phi(x)/x (1 - 1/x^2 + 3/x^4) for x = 30 */
  double x = 30.0, tail = exp(-0.5 * x * x) / sqrt(2.0 * PI) / x * (1 - 1 / (x * x) + 3 / pow(x, 4));
  is_near(hs_stats_normal_cdf(-x) / tail, 1.0, 2e-7, "normal_cdf(-30): relative accuracy in the tail");
  is_near(hs_stats_normal_sf(30.0), hs_stats_normal_cdf(-30.0), 0.0, "normal_sf(x) = cdf(-x)");
  is_near(hs_stats_normal_quantile(0.975), 1.959963984540054, 1e-15, "normal_quantile(0.975)");
  ok(hs_stats_normal_quantile(0.5) == 0.0, "normal_quantile(1/2) = 0");
  ok(isinf(hs_stats_normal_quantile(0.0)) && hs_stats_normal_quantile(0.0) < 0 &&
     isinf(hs_stats_normal_quantile(1.0)), "normal_quantile(0), (1) = -inf, +inf");
  ok(isnan(hs_stats_normal_quantile(1.5)) && isnan(hs_stats_normal_quantile(-0.1)),
     "normal_quantile outside [0, 1] is NaN");
  double worst = 0.0;
  for (int i = 1; i < 1000; i++) {
    double p = i / 1000.0, r = hs_stats_normal_cdf(hs_stats_normal_quantile(p));
    worst = fmax(worst, fabs(r - p) / p);
  }
  ok(worst < 4e-15, "normal round trip cdf(quantile(p)) = p (worst %.2g)", worst);
  double lo = hs_stats_normal_quantile(1e-300);
  /* |d ln Phi / dx| = 37 there: one ulp of x is 3e-13 of p */
  is_near(hs_stats_normal_cdf(lo) / 1e-300, 1.0, 1e-12, "normal_quantile(1e-300) round trip");
}

static void test_beta_t(void) {
  is_near(hs_stats_betainc(2.0, 3.0, 0.4), 0.5248, 4e-15, "betainc(2, 3, 0.4) = 0.5248");
  is_near(hs_stats_betainc(2.5, 1.0, 0.3), pow(0.3, 2.5), 1e-16, "betainc(a, 1, x) = x^a");
  is_near(hs_stats_betainc(1.0, 7.5, 0.2), 1.0 - pow(0.8, 7.5), 1e-15,
          "betainc(1, b, x) = 1 - (1-x)^b");
  is_near(hs_stats_betainc(300.0, 400.0, 300.0 / 700.0) +
          hs_stats_betainc(400.0, 300.0, 400.0 / 700.0), 1.0, 1e-13,
          "betainc symmetry I_x(a,b) + I_1-x(b,a) = 1 at large a, b");
  ok(isnan(hs_stats_betainc(-1.0, 1.0, 0.5)), "betainc outside its domain is NaN");
  /* dof 1 (Cauchy) and 2 have closed forms. */
  for (int i = 0; i < 5; i++) {
    double p = (double[]){1e-10, 0.025, 0.3, 0.7, 0.999}[i];
    /* tan(pi (p - 1/2)) = -1/tan(pi p), taken on the side where it is well conditioned */
    double t1 = p < 0.5 ? -1.0 / tan(PI * p) : 1.0 / tan(PI * (1.0 - p));
    is_near(hs_stats_t_quantile(p, 1.0) / t1, 1.0, 1e-13, "t_quantile(%g, 1) = tan(pi (p - 1/2))", p);
    double t2 = (2.0 * p - 1.0) / sqrt(2.0 * p * (1.0 - p));
    is_near(hs_stats_t_quantile(p, 2.0) / t2, 1.0, 1e-13, "t_quantile(%g, 2) closed form", p);
  }
  is_near(hs_stats_t_cdf(1.0, 1.0), 0.75, 4e-15, "t_cdf(1, 1) = 3/4");
  is_near(hs_stats_t_cdf(-2.0, 2.0), 0.5 - 1.0 / sqrt(6.0), 4e-15, "t_cdf(-2, 2)");
  is_near(hs_stats_t_quantile(0.975, 1e7), 1.959963984540054, 1e-6, "t_quantile at huge dof -> normal");
  is_near(hs_stats_t_quantile(0.975, 3.0), 3.182446305284263, 1e-12, "t_quantile(0.975, 3)");
  ok(hs_stats_t_quantile(0.5, 4.0) == 0.0 && isinf(hs_stats_t_quantile(1.0, 4.0)),
     "t_quantile(1/2) = 0, t_quantile(1) = inf");
  is_near(hs_stats_t_cdf(hs_stats_t_quantile(1e-200, 3.0), 3.0) / 1e-200, 1.0, 1e-12,
          "t_quantile(1e-200, 3) round trip");
}

static void test_kolmogorov(void) {
  is_near(hs_stats_kolmogorov_sf(1.3580986393225505), 0.05, 1e-15, "kolmogorov_sf(1.358) = 0.05");
  is_near(hs_stats_kolmogorov_sf(1.0), 0.26999967167735456, 1e-15, "kolmogorov_sf(1)");
  is_near(hs_stats_kolmogorov_sf(0.82 - 1e-15), hs_stats_kolmogorov_sf(0.82 + 1e-15), 1e-14,
          "kolmogorov_sf continuous where its two series meet");
  ok(hs_stats_kolmogorov_sf(0.0) == 1.0 && hs_stats_kolmogorov_sf(0.02) == 1.0 &&
     hs_stats_kolmogorov_sf(40.0) == 0.0, "kolmogorov_sf at its ends");
  /* D_1+ = 1 - U; D_2+: (1-d)^2 + 2d(1/2 - d) for d <= 1/2. */
  is_near(hs_stats_smirnov_sf(1, 0.3), 0.7, 1e-15, "smirnov_sf(1, d) = 1 - d");
  is_near(hs_stats_smirnov_sf(2, 0.3), 1.0 - 0.3 - 0.09, 1e-15, "smirnov_sf(2, 0.3)");
  is_near(hs_stats_smirnov_sf(2, 0.7), 0.09, 1e-15, "smirnov_sf(2, 0.7) = (1-d)^2");
  /* D_1 = max(U, 1 - U): P(D_1 >= d) = 1 for d <= 1/2, 2(1 - d) above. */
  ok(hs_stats_kolmogn_sf(1, 0.4, NULL) == 1.0, "kolmogn_sf(1, 0.4) = 1");
  is_near(hs_stats_kolmogn_sf(1, 0.8, NULL), 0.4, 1e-15, "kolmogn_sf(1, 0.8) = 0.4");
  /* The limit: sqrt(n) D_n -> K. */
  size_t n = 400000;
  double d = 1.2 / sqrt((double)n);
  double *work = malloc((hs_stats_kolmogn_worksize(n, d) + 1) * sizeof(double));
  is_near(hs_stats_kolmogn_sf(n, d, work), hs_stats_kolmogorov_sf(1.2), 2e-3,
          "kolmogn_sf(n, K/sqrt n) -> Kolmogorov's limit");
  free(work);
  /* Continuity across the method boundaries (the CDF is continuous in d). */
  struct { size_t n; double d; } cuts[] = {
    {10, 0.5}, {100, sqrt(0.754693 / 100.0)}, {100, 0.2}, {200, sqrt(2.2 / 200.0)},
    {5000, pow(1.4 / 5000.0, 2.0 / 3.0)}, {100000, pow(1.4 / 100000.0, 2.0 / 3.0)}};
  for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
    size_t m = cuts[i].n;
    double dl = cuts[i].d * (1 - 1e-9), dr = cuts[i].d * (1 + 1e-9);
    size_t ws = hs_stats_kolmogn_worksize(m, dl) + hs_stats_kolmogn_worksize(m, dr) + 1;
    double *w = malloc(ws * sizeof(double));
    double pl = hs_stats_kolmogn_sf(m, dl, w), pr = hs_stats_kolmogn_sf(m, dr, w);
    ok(fabs(pl - pr) < 1e-6 && pl >= pr, "kolmogn_sf continuous and decreasing at n = %zu, "
       "d = %.6g (%.12g vs %.12g)", m, cuts[i].d, pl, pr);
    free(w);
  }
  ok(hs_stats_kolmogn_worksize(10, 0.7) == 0, "kolmogn_worksize: 0 where no matrix is needed");
  ok(hs_stats_kolmogn_worksize(100, 0.05) == 3 * 9 * 9, "kolmogn_worksize: 3 m^2, m = 2k - 1");
}

static void test_ks_w1(void) {
  const double x[3] = {1.0, 2.0, 3.0}, y[4] = {1.5, 2.5, 3.5, 4.5};
  /* After 3: F1 = 1, F2 = 1/2 -> D = 1/2 */
  is_near(hs_stats_ks2_stat(3, x, 4, y), 0.5, 0.0, "ks2_stat of two interleaved samples");
  const double a[3] = {1.0, 1.0, 2.0}, b[3] = {1.0, 2.0, 2.0};
  is_near(hs_stats_ks2_stat(3, a, 3, b), 1.0 / 3.0, 1e-16, "ks2_stat with ties");
  ok(hs_stats_ks2_stat(3, a, 3, a) == 0.0, "ks2_stat of a sample with itself is 0");
  const double z[1] = {0.0};
  is_near(hs_stats_ks_normal_stat(1, z, 0.0, 1.0), 0.5, 0.0, "ks_normal_stat of {mu} is 1/2");
  /* W1 */
  const double u[2] = {0.0, 2.0}, v[1] = {1.0};
  is_near(hs_stats_w1_sorted(2, u, 1, v), 1.0, 1e-16, "w1({0, 2}, {1}) = 1");
  is_near(hs_stats_w1_sorted(3, x, 3, x), 0.0, 0.0, "w1 of a sample with itself is 0");
  is_near(hs_stats_w1_sorted(3, x, 4, y), fabs(2.0 - 3.0), 1e-15,
          "w1 of a shifted sample = shift in means when the laws are ordered");
  /* W1(delta_c, N(0, 1)) = E|Z - c| = 2 phi(c) + c (2 Phi(c) - 1). */
  is_near(hs_stats_w1_normal_sorted(1, z, 0.0, 1.0), sqrt(2.0 / PI), 1e-15,
          "w1_normal({0}) = sqrt(2/pi)");
  double c = 0.7, want = 2.0 * exp(-0.5 * c * c) / sqrt(2.0 * PI) +
                        c * (2.0 * hs_stats_normal_cdf(c) - 1.0);
  const double cc[1] = {2.0 + 3.0 * 0.7};
  is_near(hs_stats_w1_normal_sorted(1, cc, 2.0, 3.0), 3.0 * want, 1e-14,
          "w1_normal({mu + sigma c}, mu, sigma) = sigma E|Z - c|");
  /* x = {-h, h}: by symmetry W1 = 2 (G(-h) + int_-h^0 (1/2 - Phi)) = 4 G(-h) + h - 2 phi(0),
  ** with G(z) = z Phi(z) + phi(z) the antiderivative of Phi. */
  double h = 0.6744897501960817, phi0 = 1.0 / sqrt(2.0 * PI);
  double G = -h * hs_stats_normal_cdf(-h) + exp(-0.5 * h * h) * phi0;
  const double pm[2] = {-h, h};
  is_near(hs_stats_w1_normal_sorted(2, pm, 0.0, 1.0), 4.0 * G + h - 2.0 * phi0, 1e-15,
          "w1_normal({-h, h}) in closed form");
  /* Midpoint quantiles of N(0, 1): the distance shrinks as n grows. */
  double *q = malloc(4000 * sizeof(double)), w[2];
  for (int k = 0; k < 2; k++) {
    int m = k == 0 ? 500 : 4000;
    for (int i = 0; i < m; i++) q[i] = hs_stats_normal_quantile((i + 0.5) / m);
    w[k] = hs_stats_w1_normal_sorted((size_t)m, q, 0.0, 1.0);
  }
  ok(w[1] > 0.0 && w[1] < w[0] / 4.0, "w1_normal of N(0,1)'s midpoint quantiles: %.3g (n = "
     "500) -> %.3g (n = 4000)", w[0], w[1]);
  free(q);
}

static void test_gauss(void) {
  size_t d = 2;
  double *work = malloc(hs_stats_gauss_worksize(d) * sizeof(double));
  hs_stats_gauss_info info;
  const double m1[2] = {0.0, 0.0}, m2[2] = {1.0, 0.0};
  const double C1[4] = {1.0, 0.0, 0.0, 4.0}, C2[4] = {4.0, 0.0, 0.0, 1.0};
  double r;
  ok(hs_stats_gauss_w2(d, m1, C1, m2, C2, HS_STATS_PSD_TOL, &r, work, &info) == HS_OK &&
     fabs(r - sqrt(3.0)) < 1e-15, "gauss_w2 commuting: sqrt(1 + (1-2)^2 + (2-1)^2)");
  ok(hs_stats_gauss_w2(d, m1, C1, m1, C1, HS_STATS_PSD_TOL, &r, work, &info) == HS_OK &&
     r < 1e-7, "gauss_w2 of a law with itself is 0 (%.2g)", r);
  /* KL of diagonal Gaussians: sum (s1/s2 - 1 - ln(s1/s2))/2 + dm^2/(2 s2). */
  double want = 0.5 * ((0.25 - 1 - log(0.25)) + (4.0 - 1 - log(4.0)) + 1.0 / 4.0);
  ok(hs_stats_gauss_kl(d, m1, C1, m2, C2, HS_STATS_PSD_TOL, &r, work, &info) == HS_OK &&
     fabs(r - want) < 1e-15, "gauss_kl of diagonal Gaussians (%.17g vs %.17g)", r, want);
  const double C3[4] = {1.0, 1e-6, 1e-6, 1.0}, I2[4] = {1.0, 0.0, 0.0, 1.0};
  ok(hs_stats_gauss_kl(d, m1, C3, m1, I2, HS_STATS_PSD_TOL, &r, work, &info) == HS_OK &&
     fabs(r / (0.5 * 1e-12) - 1.0) < 1e-6, "gauss_kl stays accurate near 0 (%.6g)", r);
  const double bad[4] = {1.0, 2.0, 2.0, 1.0};   /* eigenvalues -1, 3 */
  ok(hs_stats_gauss_w2(d, m1, bad, m2, C2, HS_STATS_PSD_TOL, &r, work, &info) == HS_ENOTPSD &&
     info.which == 1 && fabs(info.minw + 1.0) < 1e-14,
     "gauss_w2: C1 not PSD reported with its smallest eigenvalue");
  const double sing[4] = {1.0, 1.0, 1.0, 1.0};
  ok(hs_stats_gauss_kl(d, m1, C1, m2, sing, HS_STATS_PSD_TOL, &r, work, &info) == HS_ENOTPSD &&
     info.which == 2, "gauss_kl: singular C2 refused");
  ok(hs_stats_gauss_kl(d, m1, sing, m2, C2, HS_STATS_PSD_TOL, &r, work, &info) == HS_OK &&
     isinf(r), "gauss_kl: singular C1 gives +inf");
  free(work);
}

static void test_intervals(void) {
  double lo, hi;
  /* statsmodels' proportion_confint(5, 10, method="wilson") */
  hs_stats_wilson(5, 10, hs_stats_normal_quantile(0.975), &lo, &hi);
  is_near(lo, 0.23659309051256403, 1e-15, "wilson(5, 10) lower");
  is_near(hi, 0.76340690948743597, 1e-15, "wilson(5, 10) upper");
  hs_stats_wilson(0, 20, 1.96, &lo, &hi);
  ok(lo == 0.0 && hi > 0.0 && hi < 0.2, "wilson(0, n): lower end exactly 0");
  hs_stats_wilson(20, 20, 1.96, &lo, &hi);
  ok(hi == 1.0 && lo > 0.8, "wilson(n, n): upper end exactly 1");
  size_t l, u;
  double cov;
  ok(!hs_stats_median_ranks(5, 0.95, &l, &u, &cov), "median_ranks: n = 5 too small for 95%%");
  ok(hs_stats_median_ranks(6, 0.95, &l, &u, &cov) && l == 1 && u == 6 &&
     fabs(cov - (1.0 - 2.0 / 64.0)) < 1e-15, "median_ranks(6): ranks 1, 6, coverage 31/32");
  ok(hs_stats_median_ranks(10, 0.95, &l, &u, &cov) && l == 2 && u == 9 &&
     fabs(cov - (1.0 - 22.0 / 1024.0)) < 1e-15, "median_ranks(10): ranks 2, 9");
  ok(hs_stats_median_ranks(1000000, 0.95, &l, &u, &cov) && cov >= 0.95 && cov < 0.951 &&
     l + u == 1000001, "median_ranks(1e6): coverage just above 95%% (%.6f)", cov);
}

static void test_escape_weak(void) {
  const double steps[8] = {3.0, -1.0, 1.0, 3.0, 7.0, -1.0, 2.0, 12.0};
  size_t bad = 99;
  ok(hs_stats_check_steps(8, steps, &bad) == HS_OK, "check_steps accepts -1 and k >= 1");
  const double wrong[3] = {1.0, 0.0, 2.0}, frac[2] = {1.5, 2.0};
  ok(hs_stats_check_steps(3, wrong, &bad) == HS_EINVAL && bad == 1, "check_steps: 0 refused");
  ok(hs_stats_check_steps(2, frac, &bad) == HS_EINVAL && bad == 0, "check_steps: 1.5 refused");
  double S[11];
  hs_stats_survival(8, steps, 10, S);
  ok(S[0] == 1.0 && S[1] == 7.0 / 8 && S[2] == 6.0 / 8 && S[3] == 4.0 / 8 &&
     S[6] == 4.0 / 8 && S[7] == 3.0 / 8 && S[10] == 3.0 / 8,
     "survival: step 12 beyond the horizon counts as not escaped");
  double work[8];
  hs_stats_escape e;
  hs_stats_escape_summary(8, steps, 10, 0.95, 1.959963984540054, work, &e);
  ok(e.n == 8 && e.escaped == 5 && e.censored == 3 && e.prob == 5.0 / 8,
     "escape_summary: counts");
  is_near(e.mean, 16.0 / 5, 1e-15, "escape_summary: mean over escaped paths");
  is_near(e.mean_censored, (16.0 + 30.0) / 8, 1e-15, "escape_summary: censored at the horizon");
  /* sorted: 1 2 3 3 7, then +inf x 3; n = 8 even: median (3 + 7)/2. 95% ranks 1 and 8
  ** (P(B <= 0) = 1/256, P(B <= 1) = 9/256): the upper one is censored. */
  ok(e.has_median && e.median == 5.0, "escape_summary: median 5");
  ok(e.has_median_lo && e.median_lo == 1.0 && !e.has_median_hi &&
     e.median_coverage == 1.0 - 2.0 / 256.0, "escape_summary: median interval [1, beyond)");
  const double none[3] = {-1.0, -1.0, -1.0};
  double w3[3];
  hs_stats_escape_summary(3, none, 5, 0.95, 1.96, w3, &e);
  ok(e.escaped == 0 && !e.has_mean && !e.has_median && e.mean_censored == 5.0,
     "escape_summary: nothing escaped");

  const double a[4] = {1.0, 2.0, 3.0, 4.0}, b[4] = {2.0, 3.0, 4.0, 5.5};
  hs_stats_weak w;
  hs_stats_weak_error(4, a, 4, b, 0, 0.95, &w);
  double ua = (5.0 / 3.0) / 4.0, vb = 0.0;
  double mb, varb;
  hs_stats_meanvar(4, b, 1, &mb, &varb);
  vb = varb / 4.0;
  is_near(w.diff, 2.5 - 3.625, 1e-15, "weak_error: difference of means");
  is_near(w.se, sqrt(ua + vb), 1e-15, "weak_error: se^2 = va/na + vb/nb");
  is_near(w.dof, (ua + vb) * (ua + vb) / (ua * ua / 3 + vb * vb / 3), 1e-12,
          "weak_error: Welch-Satterthwaite dof");
  hs_stats_weak_error(4, a, 4, b, 1, 0.95, &w);
  /* a - b = -1 -1 -1 -1.5: mean -1.125, var 0.0625, dof 3 */
  is_near(w.diff, -1.125, 1e-15, "weak_error paired: mean difference");
  is_near(w.se, sqrt(0.0625 / 4.0), 1e-15, "weak_error paired: se from var(a - b)");
  is_near(w.hi - w.diff, hs_stats_t_quantile(0.975, 3.0) * w.se, 1e-15,
          "weak_error paired: t interval with n - 1 dof");
  hs_stats_weak_error(4, a, 4, a, 1, 0.95, &w);
  ok(w.se == 0.0 && isinf(w.dof) && w.lo == 0.0 && w.hi == 0.0,
     "weak_error: identical coupled samples give the point 0");
}

int main(void) {
  test_moments();
  test_cov();
  test_sort_quantile();
  test_histogram();
  test_normal();
  test_beta_t();
  test_kolmogorov();
  test_ks_w1();
  test_gauss();
  test_intervals();
  test_escape_weak();
  return tap_done();
}
