/*
** test_observe.c: streaming observables (hs_observe.h): each built-in against its
** formula, callbacks and their failures, skipped divergent paths, the moments of the
** exact accumulators against two-pass formulas and against the known mean and spread
** of normal samples (5 standard errors), paired differences, and the independence of
** every figure from how the values are split and merged.
*/
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hs_nn.h"
#include "hs_normal.h"
#include "hs_observe.h"
#include "hs_pcg.h"
#include "tap.h"

static int samebits(double a, double b) {
  return memcmp(&a, &b, sizeof a) == 0;
}

/* g(x) = x1 - 2 x2, or a failure / NaN on request (ctx points to a mode). */
static hs_status userfn(void *ctx, const double *x, size_t d, double *out) {
  int mode = *(int *)ctx;
  (void)d;
  if (mode == 1) return HS_ECALLBACK;
  *out = mode == 2 && x[0] > 0.5 ? (double)NAN : x[0] - 2.0 * x[1];
  return HS_OK;
}

static const char *usermsg(void *ctx) {
  (void)ctx;
  return "user failure";
}

static void test_builtins(void) {
  const double H[4] = {2.0, 0.5, 0.5, 1.0}, b[2] = {0.25, -1.0};
  hs_objective *q = hs_quadratic_alloc(2, H, b);
  int mode = 0;
  hs_obs obs[5] = {
    {.kind = HS_OBS_VALUE}, {.kind = HS_OBS_DIST2}, {.kind = HS_OBS_X, .i = 1},
    {.kind = HS_OBS_XX, .i = 0, .j = 1},
    {.kind = HS_OBS_CALLBACK, .fn = userfn, .ctx = &mode, .errmsg = usermsg,
     .thread_safe = 1}};
  hs_observe ob = {5, obs};
  size_t bad = 99;
  ok(hs_observe_check(&ob, q, &bad) == HS_OK, "check accepts value, dist2, x2, x1x2, fn");
  ok(hs_observe_thread_safe(&ob), "a thread-safe callback keeps the set thread safe");
  /* three paths, the second diverged */
  const double X[6] = {0.3, -1.7, NAN, 1.0, 2.5, 0.125};
  const double x0[2] = {1.0, 1.0};
  double G[5 * 3], work[16];
  hs_obs_fail fail = {0, 0, 0.0};
  hs_status st = hs_observe_eval(&ob, q, 2, X, 2, x0, 0, 3, G, 3, work, &fail);
  ok(st == HS_OK, "eval of three paths succeeds");
  double f0 = 0.5 * (2.0 * 0.09 + 2.0 * 0.5 * 0.3 * -1.7 + 1.0 * 2.89) + 0.25 * 0.3 + 1.7;
  is_near(G[0], f0, 1e-15, "value at (0.3, -1.7)");
  is_near(G[3], 0.49 + 7.29, 1e-15, "dist2 at (0.3, -1.7) from (1, 1)");
  ok(G[6] == -1.7 && G[9] == 0.3 * -1.7 && G[12] == 0.3 + 3.4, "x2, x1x2 and fn");
  int allnan = 1;
  for (int o = 0; o < 5; o++) allnan = allnan && isnan(G[o * 3 + 1]);
  ok(allnan, "a diverged path gets NaN in every observable");
  ok(G[2] == 0.5 * (2.0 * 6.25 + 2.0 * 0.5 * 2.5 * 0.125 + 0.125 * 0.125) + 0.25 * 2.5 -
                 0.125,
     "value at the third path");
  /* per-path starts */
  const double x0s[6] = {0.0, 0.0, 0.0, 0.0, 2.5, 0.0};
  hs_observe_eval(&ob, q, 2, X, 2, x0s, 2, 3, G, 3, work, &fail);
  ok(G[3 + 2] == 0.125 * 0.125 && fabs(G[3] - 2.98) < 1e-15, "dist2 from each path's own start");
  /* failures name the path and the observable */
  mode = 1;
  st = hs_observe_eval(&ob, q, 2, X, 2, x0, 0, 3, G, 3, work, &fail);
  ok(st == HS_ECALLBACK && fail.path == 0 && fail.obs == 4, "a failing callback: path 0, obs 4");
  mode = 2;
  st = hs_observe_eval(&ob, q, 2, X, 2, x0, 0, 3, G, 3, work, &fail);
  ok(st == HS_EDOM && fail.path == 2 && fail.obs == 4 && isnan(fail.value),
     "a NaN from a finite state is an error: path 2, obs 4");
  /* checks */
  hs_obs badx = {.kind = HS_OBS_X, .i = 2};
  hs_observe ob2 = {1, &badx};
  ok(hs_observe_check(&ob2, q, &bad) == HS_EINVAL && bad == 0, "x3 in d = 2 is rejected");
  hs_obs badxx[2] = {{.kind = HS_OBS_VALUE}, {.kind = HS_OBS_XX, .i = 0, .j = 5}};
  hs_observe ob3 = {2, badxx};
  ok(hs_observe_check(&ob3, q, &bad) == HS_EINVAL && bad == 1, "x1x6 in d = 2 is rejected");
  const double in[1] = {0.5};
  hs_obs nno = {.kind = HS_OBS_NN_OUTPUT, .input = in};
  hs_observe ob4 = {1, &nno};
  ok(hs_observe_check(&ob4, q, &bad) == HS_EINVAL, "nn output on a quadratic is rejected");
  hs_obs cb = {.kind = HS_OBS_CALLBACK, .fn = userfn, .ctx = &mode, .thread_safe = 0};
  hs_observe ob5 = {1, &cb};
  ok(!hs_observe_thread_safe(&ob5), "a thread-bound callback makes the set thread bound");
  hs_objective_free(q);
}

static void test_nn_output(void) {
  /* p = 2 inputs, h = 3 hidden units: d = 6 + 6 + 1 = 13 */
  const double Xd[4] = {0.1, -0.4, 0.7, 0.2}, y[2] = {0.3, -0.5};
  hs_objective *nn = hs_nn_alloc(2, 2, 3, Xd, y, 0.0);
  double th[13];
  for (int k = 0; k < 13; k++) th[k] = 0.1 * (k + 1) * (k % 2 ? -1.0 : 1.0);
  const double in[2] = {0.35, -1.25};
  hs_obs o = {.kind = HS_OBS_NN_OUTPUT, .input = in};
  hs_observe ob = {1, &o};
  size_t bad;
  ok(hs_observe_check(&ob, nn, &bad) == HS_OK, "nn output accepted on an hs_nn objective");
  double G, work[64], want = th[12];
  for (int j = 0; j < 3; j++)
    want += th[9 + j] * tanh(th[2 * j] * in[0] + th[2 * j + 1] * in[1] + th[6 + j]);
  hs_obs_fail fail;
  ok(hs_observe_eval(&ob, nn, 13, th, 13, th, 0, 1, &G, 1, work, &fail) == HS_OK,
     "nn output evaluates");
  is_near(G, want, 1e-15, "nn output = w2 . tanh(W1 x + b1) + b2");
  hs_objective_free(nn);
}

/* Moments of the exact sums against a two-pass computation in long double. */
static void test_moments(void) {
  hs_obs_acc a;
  hs_obs_acc_init(&a);
  double mean, se, sd;
  hs_obs_acc_moments(&a, &mean, &se, &sd);
  ok(isnan(mean) && isnan(se), "no value: NaN mean and se");
  hs_obs_acc_add(&a, 2.5);
  hs_obs_acc_moments(&a, &mean, &se, &sd);
  ok(mean == 2.5 && isnan(se) && isnan(sd), "one value: its mean, NaN se");
  hs_obs_acc_add(&a, NAN);
  ok(a.n == 1, "NaN values are skipped");
  /* a mean 1e8 times the spread: naive S2/n - mean^2 would lose every digit */
  hs_obs_acc_init(&a);
  const double x[5] = {1e9 + 1.0, 1e9 + 2.0, 1e9 + 3.0, 1e9 + 4.0, 1e9 + 10.0};
  for (int i = 0; i < 5; i++) hs_obs_acc_add(&a, x[i]);
  hs_obs_acc_moments(&a, &mean, &se, &sd);
  ok(mean == 1e9 + 4.0, "mean of 1e9 + {1,2,3,4,10}");
  is_near(sd * sd, 12.5, 1e-12, "variance 12.5 survives the offset 1e9");
  is_near(se, sqrt(12.5 / 5.0), 1e-13, "se = sd / sqrt(n)");
  /* normal samples: mean and sd within 5 standard errors of the truth */
  hs_pcg r;
  hs_pcg_seed(&r, 2385, 7);
  hs_obs_acc_init(&a);
  enum { N = 200000 };
  const double mu = 3.75, s = 0.6;
  long double s1 = 0.0L;
  double *v = malloc(N * sizeof(double));
  for (int i = 0; i < N; i++) {
    v[i] = mu + s * hs_normal(&r);
    s1 += v[i];
    hs_obs_acc_add(&a, v[i]);
  }
  long double m = s1 / N, s2 = 0.0L;
  for (int i = 0; i < N; i++) s2 += (v[i] - m) * (v[i] - m);
  hs_obs_acc_moments(&a, &mean, &se, &sd);
  /* Where long double is no wider than double (valgrind computes it in double
  ** precision), the two-pass reference itself is only good to about 1e-13. */
  volatile long double one = 1.0L, tiny = 0x1p-60L;
  double tol = one + tiny != one ? 1e-14 : 1e-12;
  is_near(mean, (double)m, tol, "mean agrees with a long-double two-pass mean");
  is_near(sd, sqrt((double)(s2 / (N - 1))), 1e-12, "sd agrees with a two-pass sd");
  is_near(mean, mu, 5.0 * s / sqrt((double)N), "mean within 5 SE of mu");
  /* var of the sample variance is about 2 s^4 / n for a normal sample */
  is_near(sd * sd, s * s, 5.0 * s * s * sqrt(2.0 / N), "variance within 5 SE of s^2");
  is_near(se, s / sqrt((double)N), 1e-3 * s / sqrt((double)N) * 10.0, "se near s/sqrt(n)");
  free(v);
}

/* Paired differences and stats images. */
static void test_stats(void) {
  enum { N = 50000, NOBS = 2, NREC = 3 };
  hs_obs_stats *s = hs_obs_stats_alloc(NOBS, NREC, 1);
  ok(s != NULL, "stats alloc");
  ok(hs_obs_stats_alloc(SIZE_MAX / 2, 4, 1) == NULL, "an overflowing shape is refused");
  /* G: a common part u plus small independent parts: the paired difference has a
  ** spread of 0.01 sqrt(2), the values a spread near 1 */
  hs_pcg r;
  hs_pcg_seed(&r, 99, 1);
  double *G = malloc(NOBS * N * sizeof(double)), *Gr = malloc(NOBS * N * sizeof(double));
  for (int o = 0; o < NOBS; o++)
    for (int l = 0; l < N; l++) {
      double u = hs_normal(&r);
      G[o * N + l] = u + 0.01 * hs_normal(&r) + 0.02;
      Gr[o * N + l] = u + 0.01 * hs_normal(&r);
    }
  G[3] = NAN;   /* a diverged path of the method: counted out of both */
  for (size_t rr = 0; rr < NREC; rr++) hs_obs_stats_add(s, rr, G, Gr, N, N);
  double mean, se, sd, dm, dse, dsd;
  hs_obs_acc_moments(&s->val[1 * NOBS + 0], &mean, &se, &sd);
  hs_obs_acc_moments(&s->diff[1 * NOBS + 0], &dm, &dse, &dsd);
  ok(s->val[NOBS].n == N - 1 && s->diff[NOBS].n == N - 1, "a NaN value is skipped in both");
  is_near(dm, 0.02, 5.0 * dse, "paired difference 0.02 within 5 SE (se %.3g)", dse);
  ok(dse < se / 50.0, "paired se (%.3g) far below the unpaired (%.3g)", dse, se);
  is_near(dsd, 0.01 * sqrt(2.0), 0.01 * sqrt(2.0) * 5.0 * sqrt(0.5 / N), "paired sd");
  /* the same values split into 3 parts and merged in another order: same bits */
  hs_obs_stats *p[3];
  for (int k = 0; k < 3; k++) p[k] = hs_obs_stats_alloc(NOBS, NREC, 1);
  size_t cut[4] = {0, 1237, 30011, N};
  double *Gs = malloc(NOBS * N * sizeof(double)), *Grs = malloc(NOBS * N * sizeof(double));
  for (int k = 0; k < 3; k++) {
    size_t n = cut[k + 1] - cut[k];
    for (size_t o = 0; o < NOBS; o++) {
      memcpy(Gs + o * n, G + o * N + cut[k], n * sizeof(double));
      memcpy(Grs + o * n, Gr + o * N + cut[k], n * sizeof(double));
    }
    for (size_t rr = 0; rr < NREC; rr++) hs_obs_stats_add(p[k], rr, Gs, Grs, n, n);
  }
  hs_obs_stats *m = hs_obs_stats_alloc(NOBS, NREC, 1);
  ok(hs_obs_stats_merge(m, p[2]) == HS_OK && hs_obs_stats_merge(m, p[0]) == HS_OK &&
     hs_obs_stats_merge(m, p[1]) == HS_OK, "merge of three parts");
  /* through an image, as between processes */
  size_t words = hs_obs_stats_words(m);
  ok(words == (size_t)NOBS * NREC * 2 * (1 + 2 * HS_XSUM_WORDS), "image words %zu", words);
  uint64_t *img = malloc(words * sizeof(uint64_t));
  hs_obs_stats_pack(m, img);
  hs_obs_stats *back = hs_obs_stats_alloc(NOBS, NREC, 1);
  hs_obs_stats_unpack(back, img);
  double m2, se2, sd2, dm2, dse2, dsd2;
  hs_obs_acc_moments(&back->val[1 * NOBS + 0], &m2, &se2, &sd2);
  hs_obs_acc_moments(&back->diff[1 * NOBS + 0], &dm2, &dse2, &dsd2);
  ok(samebits(mean, m2) && samebits(se, se2) && samebits(sd, sd2) && samebits(dm, dm2) &&
     samebits(dse, dse2) && samebits(dsd, dsd2),
     "split, merged and sent through an image: the same bits");
  hs_obs_stats *other = hs_obs_stats_alloc(NOBS + 1, NREC, 1);
  ok(hs_obs_stats_merge(m, other) == HS_EINVAL, "merging different shapes is refused");
  ok(hs_obs_stats_bytes(2, 3, 1) < 16384, "stats of 2 observables x 3 steps: %zu bytes",
     hs_obs_stats_bytes(2, 3, 1));
  for (int k = 0; k < 3; k++) hs_obs_stats_free(p[k]);
  hs_obs_stats_free(m);
  hs_obs_stats_free(back);
  hs_obs_stats_free(other);
  hs_obs_stats_free(s);
  free(G), free(Gr), free(Gs), free(Grs), free(img);
}

/* Values per second through one accumulator (count, sum, exact sum of squares). */
static void bench(void) {
  enum { N = 1 << 20, REP = 20 };
  hs_pcg r;
  hs_pcg_seed(&r, 5, 5);
  double *v = malloc(N * sizeof(double));
  for (int i = 0; i < N; i++) v[i] = hs_normal(&r);
  hs_obs_stats *st = hs_obs_stats_alloc(1, 1, 0);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int k = 0; k < REP; k++) hs_obs_stats_add(st, 0, v, NULL, N, N);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  hs_obs_acc a = st->val[0];
  hs_obs_stats_free(st);
  double s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
  double mean, se, sd;
  hs_obs_acc_moments(&a, &mean, &se, &sd);
  printf("# hs_obs_stats_add: %.3g values/s (%.2f ns each; mean %g)\n",
         (double)N * REP / s, 1e9 * s / ((double)N * REP), mean);
  free(v);
}

int main(void) {
  test_builtins();
  test_nn_output();
  test_moments();
  test_stats();
  const char *b = getenv("HASME_BENCH");
  if (b != NULL && strcmp(b, "1") == 0) bench();
  return tap_done();
}
