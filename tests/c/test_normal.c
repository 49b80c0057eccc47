/*
** test_normal.c: the ziggurat normal sampler: its tables, its law (moments, a
** Kolmogorov-Smirnov test, a chi-square over fine bins, tail frequencies, the tail
** sampler alone) and the bulk samplers against the scalar one, draw for draw.
** Every tolerance is derived from the sample size; every seed is fixed.
*/
#include <stdlib.h>
#include <string.h>

#include "hs_normal.h"
#include "tap.h"

#define TWO52 4503599627370496.0

/* Phi(x), the standard normal CDF, accurate in both tails. */
static double ncdf(double x) { return 0.5 * erfc(-x / sqrt(2.0)); }

/* P(|X| > a) for X standard normal. */
static double twotail(double a) { return erfc(a / sqrt(2.0)); }

static int cmpdouble(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* The 0.999 quantile of chi-square with df degrees of freedom, by the Wilson-Hilferty
** approximation (accurate to a fraction of a percent for df >= 30):
** df (1 - 2/(9 df) + z sqrt(2/(9 df)))^3 with z = 3.0902, the 0.999 normal quantile. */
static double chi2_crit999(double df) {
  double a = 2.0 / (9.0 * df);
  double c = 1.0 - a + 3.0902 * sqrt(a);
  return df * c * c * c;
}

/* {====================================================================
** The tables
** ===================================================================== */

/* The tables must describe 256 layers of equal area v = r f(r) + int_r^inf f. */
static void test_tables(void) {
  double r = hs_zig_w[1] * TWO52;   /* x_1 = r */
  double v = r * exp(-0.5 * r * r) + sqrt(acos(-1.0) / 2) * erfc(r / sqrt(2.0));
  is_near(r, 3.6541528853610088, 1e-15, "tail start r = 3.6541528853610088");
  ok(hs_zig_k[255] == 0 && hs_zig_f[256] == 1.0, "the top layer has no inner rectangle");
  /* Layer i (1..255): width x_i, from height f(x_i) to f(x_{i+1}). */
  double worst = 0;
  for (int i = 1; i < 256; i++) {
    double area = hs_zig_w[i] * TWO52 * (hs_zig_f[i + 1] - hs_zig_f[i]);
    double e = fabs(area / v - 1.0);
    if (e > worst) worst = e;
  }
  ok(worst < 1e-12, "the 255 upper layers have area v (worst relative error %.2g)", worst);
  is_near(hs_zig_w[0] * TWO52 * exp(-0.5 * r * r), v, 1e-15, "the base layer has area v");
  int sym = 1, mono = 1;
  for (int i = 0; i < 256; i++) {
    sym &= hs_zig_w[i + 256] == -hs_zig_w[i] && hs_zig_k[i + 256] == hs_zig_k[i];
    if (i >= 1) mono &= hs_zig_w[i] < hs_zig_w[i - 1] && hs_zig_f[i] > hs_zig_f[i - 1];
  }
  ok(sym, "entries 256..511 are the negated / repeated layers");
  ok(mono, "layer widths decrease and edge heights increase upwards");
  /* k_i/2^52 is the chance that a draw in layer i is accepted at once. */
  double fast = 0;
  for (int i = 0; i < 256; i++) {
    double ratio = (i < 255 ? hs_zig_w[i + 1] : 0.0) / hs_zig_w[i];
    if (i == 0) ratio = r / (hs_zig_w[0] * TWO52);
    fast += (double)hs_zig_k[i] / TWO52;
    if (fabs((double)hs_zig_k[i] / TWO52 - ratio) > 1e-15) mono = 0;
  }
  ok(mono, "k_i / 2^52 = x_{i+1} / x_i");
  printf("# fast path takes %.4f of the draws\n", fast / 256);
}

/* }==================================================================== */

/* {====================================================================
** The law
** ===================================================================== */

enum { NMOM = 10000000, NKS = 1000000 };

/*
** Moments of n = 10^7 variates, each within 5 standard errors. For a normal sample the
** standard errors are, to first order: mean 1/sqrt(n); sample variance sqrt(2/n)
** (Var(x^2) = 2); skewness sqrt(6/n); excess kurtosis sqrt(24/n).
*/
static void test_moments(const double *x, size_t n) {
  double s1 = 0, s2 = 0, s3 = 0, s4 = 0;
  for (size_t i = 0; i < n; i++) s1 += x[i];
  double mean = s1 / (double)n;
  for (size_t i = 0; i < n; i++) {
    double d = x[i] - mean, d2 = d * d;
    s2 += d2;
    s3 += d2 * d;
    s4 += d2 * d2;
  }
  double dn = (double)n, var = s2 / dn;
  double skew = (s3 / dn) / pow(var, 1.5), kurt = (s4 / dn) / (var * var) - 3.0;
  is_near(mean, 0.0, 5.0 / sqrt(dn), "mean of 10^7 normals is 0 within 5 SE");
  is_near(var, 1.0, 5.0 * sqrt(2.0 / dn), "variance is 1 within 5 SE");
  is_near(skew, 0.0, 5.0 * sqrt(6.0 / dn), "skewness is 0 within 5 SE");
  is_near(kurt, 0.0, 5.0 * sqrt(24.0 / dn), "excess kurtosis is 0 within 5 SE");
}

/* Frequencies of |x| > a against the exact erfc(a / sqrt 2), within 5 binomial SE. The
** thresholds cover the body, the ziggurat's tail start r and the far tail. */
static void test_tails(const double *x, size_t n) {
  const double r = hs_zig_w[1] * TWO52;
  const double as[] = {1.0, 2.0, 3.0, r, 4.0, 4.5};
  for (size_t j = 0; j < sizeof as / sizeof as[0]; j++) {
    size_t c = 0;
    for (size_t i = 0; i < n; i++) c += fabs(x[i]) > as[j];
    double p = twotail(as[j]), se = sqrt(p * (1 - p) / (double)n);
    is_near((double)c / (double)n, p, 5.0 * se, "P(|x| > %.4f) = %.4g within 5 SE", as[j], p);
  }
  size_t pos = 0;
  for (size_t i = 0; i < n; i++) pos += x[i] > r;
  double p = 0.5 * twotail(r), se = sqrt(p * (1 - p) / (double)n);
  is_near((double)pos / (double)n, p, 5.0 * se, "P(x > r) (the positive tail) within 5 SE");
}

/*
** A chi-square over 180 bins of width 0.05 on [-4.5, 4.5] plus the two tails (181 df,
** every expected count above 9): narrow enough to see a wrong wedge or a wrong layer
** edge, which the moments would average away. Critical value at alpha = 0.001.
*/
static void test_histogram(const double *x, size_t n) {
  enum { NB = 180 };
  const double lo = -4.5, width = 0.05;
  static double cnt[NB + 2];
  memset(cnt, 0, sizeof cnt);
  for (size_t i = 0; i < n; i++) {
    double b = floor((x[i] - lo) / width);
    size_t bin = b < 0 ? 0 : b >= NB ? NB + 1 : (size_t)b + 1;
    cnt[bin] += 1.0;
  }
  double chi2 = 0, emin = 1e300;
  for (size_t bin = 0; bin < NB + 2; bin++) {
    double pa = bin == 0 ? 0.0 : ncdf(lo + width * (double)(bin - 1));
    double pb = bin == NB + 1 ? 1.0 : ncdf(lo + width * (double)bin);
    double e = (double)n * (pb - pa);
    if (e < emin) emin = e;
    chi2 += (cnt[bin] - e) * (cnt[bin] - e) / e;
  }
  double crit = chi2_crit999(NB + 1);
  ok(chi2 < crit, "chi-square over 182 bins: %.1f < %.1f (181 df, alpha 0.001)", chi2, crit);
  ok(emin > 5, "every bin expects more than 5 counts (least %.1f)", emin);
}

/*
** Kolmogorov-Smirnov against Phi with n = 10^6. The asymptotic critical value of
** sqrt(n) D_n at alpha = 0.001 is 1.9495 (the Kolmogorov distribution's 0.999 quantile),
** so D_n must stay below 1.9495e-3.
*/
static double ks_stat(double *x, size_t n, double (*cdf)(double)) {
  qsort(x, n, sizeof x[0], cmpdouble);
  double d = 0;
  for (size_t i = 0; i < n; i++) {
    double f = cdf(x[i]);
    double up = (double)(i + 1) / (double)n - f, down = f - (double)i / (double)n;
    if (up > d) d = up;
    if (down > d) d = down;
  }
  return d;
}

static void test_ks(double *x, size_t n) {
  double d = ks_stat(x, n, ncdf), crit = 1.9495 / sqrt((double)n);
  ok(d < crit, "Kolmogorov-Smirnov on 10^6 normals: D = %.3g < %.3g (alpha 0.001)", d, crit);
}

/* The tail sampler alone, against the law of X given X > r. Fed a draw in the base
** layer beyond r (layer 0, largest magnitude), hs_normal_slow must return r + a with
** P(X <= x | X > r) = 1 - erfc(x / sqrt 2) / erfc(r / sqrt 2); the sign bit flips it. */
static double tail_r;
static double tailcdf(double x) { return 1.0 - erfc(x / sqrt(2.0)) / erfc(tail_r / sqrt(2.0)); }

static void test_tail_sampler(void) {
  enum { NT = 200000 };
  double *t = malloc(NT * sizeof *t);
  if (t == NULL) {
    ok(0, "allocation of the tail sample");
    return;
  }
  tail_r = hs_zig_w[1] * TWO52;
  hs_pcg r;
  hs_pcg_seed(&r, 1618033988u, 11);
  const uint64_t base = ~(uint64_t)0x1ff;   /* layer 0, sign +, magnitude 2^52 - 1 */
  int below = 0;
  for (size_t i = 0; i < NT; i++) {
    t[i] = hs_normal_slow(&r, base);
    below += t[i] <= tail_r;
  }
  ok(below == 0, "tail samples all exceed r");
  double neg = hs_normal_slow(&r, base | 0x100);
  ok(neg < -tail_r, "the sign bit gives a negative tail sample (%g)", neg);
  double d = ks_stat(t, NT, tailcdf), crit = 1.9495 / sqrt((double)NT);
  ok(d < crit, "tail sampler: KS D = %.3g < %.3g against N(0,1) given x > r (alpha 0.001)",
     d, crit);
  free(t);
}

/* }==================================================================== */

/* {====================================================================
** Bulk samplers against the scalar one
** ===================================================================== */

/* hs_normal_fill, called in pieces of awkward sizes, gives the scalar sequence and
** leaves the generator where the scalar calls do (slow paths cross buffer edges). */
static void test_fill(void) {
  enum { N = 300000 };
  double *a = malloc(N * sizeof *a), *b = malloc(N * sizeof *b);
  if (a == NULL || b == NULL) {
    ok(0, "allocation for the fill test");
    free(a);
    free(b);
    return;
  }
  hs_pcg r, q;
  hs_pcg_seed(&r, 42, 7);
  q = r;
  for (size_t i = 0; i < N; i++) a[i] = hs_normal(&r);
  const size_t pieces[] = {0, 1, 2, 255, 256, 257, 1000, 4097, 1, 511};
  size_t done = 0, j = 0;
  while (done < N) {
    size_t len = pieces[j++ % (sizeof pieces / sizeof pieces[0])];
    if (len > N - done) len = N - done;
    hs_normal_fill(&q, b + done, len);
    done += len;
  }
  ok(memcmp(a, b, N * sizeof *a) == 0, "hs_normal_fill in pieces equals %d scalar calls", N);
  ok(q.state == r.state, "hs_normal_fill leaves the stream where the scalar calls do");
  free(a);
  free(b);
}

/* hs_normal_block for several k (below, at and above the unrolling and the local group
** of 16) and n: stream s yields its scalar sequence in column s, and ends where it would. */
static void test_block(void) {
  const size_t ks[] = {1, 3, 4, 5, 8, 16, 17, 33};
  const size_t ns[] = {0, 1, 7, 2000};
  int all = 1;
  for (size_t a = 0; a < sizeof ks / sizeof ks[0]; a++)
    for (size_t b = 0; b < sizeof ns / sizeof ns[0]; b++) {
      size_t k = ks[a], n = ns[b];
      hs_pcg blk[33], sca[33];
      for (size_t s = 0; s < k; s++) {
        hs_pcg_seed(&blk[s], 2024, s);
        sca[s] = blk[s];
      }
      double *out = malloc((n * k + 1) * sizeof *out);
      if (out == NULL) {
        all = 0;
        continue;
      }
      hs_normal_block(blk, k, n, out);
      int same = 1;
      for (size_t s = 0; s < k; s++) {
        for (size_t j = 0; j < n; j++) same &= out[j * k + s] == hs_normal(&sca[s]);
        same &= blk[s].state == sca[s].state && blk[s].inc == sca[s].inc;
      }
      if (!same) printf("#   k = %zu, n = %zu differs\n", k, n);
      all &= same;
      free(out);
    }
  ok(all, "hs_normal_block equals per-stream scalar calls for k in 1..33, n in 0..2000");

  /* Streams with different increments (raw states) in one block. */
  hs_pcg blk[5], sca[5];
  for (size_t s = 0; s < 5; s++) {
    hs_pcg_set(&blk[s], ((hs_u128)(s + 1) << 70) ^ 0x9e3779b97f4a7c15ULL,
               ((hs_u128)0xda3e39cb94b95bdbULL << 64) | (2 * s + 1));
    sca[s] = blk[s];
  }
  double out[5 * 300];
  hs_normal_block(blk, 5, 300, out);
  int same = 1;
  for (size_t j = 0; j < 300; j++)
    for (size_t s = 0; s < 5; s++) same &= out[j * 5 + s] == hs_normal(&sca[s]);
  ok(same, "hs_normal_block with distinct increments equals scalar calls");
}

/* }==================================================================== */

int main(void) {
  test_tables();
  double *x = malloc(NMOM * sizeof *x);
  if (x == NULL) {
    ok(0, "allocation of 10^7 doubles");
    return tap_done();
  }
  hs_pcg r;
  hs_pcg_seed(&r, 20240607u, 1);
  hs_normal_fill(&r, x, NMOM);
  test_moments(x, NMOM);
  test_tails(x, NMOM);
  test_histogram(x, NMOM);
  test_ks(x, NKS);   /* sorts the first 10^6 in place: after the other tests */
  free(x);
  test_tail_sampler();
  test_fill();
  test_block();
  return tap_done();
}
