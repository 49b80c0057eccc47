/*
** test_vmath.c: hs_log1p (the branch-free log1p of hs_vmath.h) against libm and a
** long double reference over dense grids and the edges, its vector forms on every
** code path this processor supports (bit for bit equal to the scalar form), and
** phi1/phi2 built on it against the 50-digit references of test_phi.c.
*/
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hs_isa.h"
#include "hs_pcg.h"
#include "hs_phi.h"
#include "hs_vmath.h"
#include "tap.h"

#define FIXTURE "tests/fixtures/linalg_phi.txt"

/* The spacing of doubles at |x|; 2^-1074 below DBL_MIN. */
static double ulp_of(double x) {
  x = fabs(x);
  if (x < DBL_MIN) return 0x1p-1074;
  int e;
  frexp(x, &e);
  return ldexp(1.0, e - 53);
}

static int same_bits(double a, double b) {
  return memcmp(&a, &b, sizeof a) == 0;
}

/* {====================================================================
** The grid: the edges listed by hand, then dense sweeps
** ===================================================================== */

typedef struct grid {
  double *x;
  size_t n, cap;
} grid;

static void add(grid *g, double x) {
  if (g->n == g->cap) {
    g->cap = g->cap ? 2 * g->cap : 1024;
    g->x = realloc(g->x, g->cap * sizeof *g->x);
    if (g->x == NULL) abort();
  }
  g->x[g->n++] = x;
}

/* Arguments of log1p in (-1, inf): every binade of both signs at several
** mantissas, neighbours of the places where the reduction switches (1 + x at
** sqrt(2)/2 and sqrt(2), k = 2 and k = 54), -1 + 2^-j, 2^-j around the cut to
** x itself, subnormals, and 400,000 random doubles of random magnitude. */
static void fill(grid *g) {
  static const double mant[] = {1.0, 1.0 + 0x1p-52, 1.1, 1.25, 1.4142135623730951,
                                1.5, 1.75, 1.9999999999999998};
  for (int e = -1074; e <= 1023; e++)
    for (size_t m = 0; m < sizeof mant / sizeof mant[0]; m++) {
      double v = ldexp(mant[m], e);
      if (isfinite(v)) add(g, v);
      if (v < 1.0) add(g, -v);
    }
  static const double cuts[] = {0x1.6a09e667f3bcdp-1 - 1.0, 0x1.6a09e667f3bcdp+0 - 1.0,
                                -0x1.2bec4ffffffffp-2, 0x1.a827a00000000p-2,
                                3.0, 2.0 * 1.4142135623730951 - 1.0, 0x1p54, 0x1p53,
                                0x1.6a09e667f3bcdp+53, 0x1p-53, 0x1p-29, 1.0, -0.5};
  for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
    double v = cuts[c];
    for (int s = 0; s < 40; s++) {
      add(g, v);
      v = nextafter(v, -INFINITY);
    }
    v = cuts[c];
    for (int s = 0; s < 40; s++) add(g, v = nextafter(v, INFINITY));
  }
  for (int j = 1; j <= 53; j++) {
    add(g, -1.0 + ldexp(1.0, -j));
    add(g, nextafter(-1.0 + ldexp(1.0, -j), 0.0));
  }
  add(g, nextafter(-1.0, 0.0));
  add(g, DBL_MAX);
  add(g, DBL_MIN);
  add(g, -DBL_MIN);
  add(g, 0x1p-1074);
  add(g, -0x1p-1074);
  hs_pcg r;
  hs_pcg_seed(&r, 2385, 7);
  for (int i = 0; i < 200000; i++) {
    /* a random mantissa at a random binade in [2^-80, 2^80], both signs (the
    ** negatives folded into (-1, 0)) */
    double m = 1.0 + hs_pcg_uniform(&r);
    double v = ldexp(m, (int)hs_pcg_bounded(&r, 161) - 80);
    add(g, v);
    add(g, -fmod(v, 1.0));
  }
  for (int i = 0; i < 200000; i++) add(g, -1.0 + 2.0 * hs_pcg_uniform(&r));
}

/* }==================================================================== */

/* Against libm's log1p (within 2 ulps) and log1pl (within 1 ulp), and the exact
** special values. */
static void test_accuracy(const grid *g) {
  double worst_libm = 0.0, worst_ref = 0.0, at_libm = 0.0, at_ref = 0.0;
  size_t bad = 0, checked = 0;
  volatile long double one = 1.0L, tiny = 0x1p-60L;
  int extended = one + tiny != one;   /* long double wider than double */
  for (size_t i = 0; i < g->n; i++) {
    double x = g->x[i], y = hs_log1p(x), want = log1p(x);
    long double ref = log1pl((long double)x);
    double u = ulp_of(want);
    double e_libm = fabs(y - want) / u;
    double e_ref = (double)(fabsl((long double)y - ref) / (long double)ulp_of((double)ref));
    checked++;
    if (!(e_libm <= 2.0) || (extended && !(e_ref <= 1.0))) {
      if (++bad <= 5)
        printf("#   log1p(%a): got %a, libm %a (%.3g ulps), ref %.3g ulps\n", x, y, want,
               e_libm, e_ref);
    }
    if (e_libm > worst_libm) worst_libm = e_libm, at_libm = x;
    if (e_ref > worst_ref) worst_ref = e_ref, at_ref = x;
  }
  if (!extended)   /* valgrind, for one, computes long double in double precision */
    printf("# long double is not wider than double here: log1pl is no reference\n");
  printf("# %zu arguments: max %.3f ulps from libm (at %a), %.3f from log1pl (at %a)\n",
         checked, worst_libm, at_libm, worst_ref, at_ref);
  ok(checked > 400000 && bad == 0,
     "hs_log1p within 2 ulps of libm and 1 ulp of log1pl at all %zu arguments", checked);
}

static void test_special(void) {
  ok(same_bits(hs_log1p(0.0), 0.0), "log1p(0) = +0");
  ok(same_bits(hs_log1p(-0.0), -0.0), "log1p(-0) = -0");
  ok(same_bits(hs_log1p(0x1p-1074), 0x1p-1074), "log1p(smallest subnormal) is itself");
  ok(same_bits(hs_log1p(-0x1p-1074), -0x1p-1074), "log1p(-smallest subnormal) is itself");
  ok(same_bits(hs_log1p(0x1.8p-1030), 0x1.8p-1030), "log1p(subnormal) is itself");
  ok(same_bits(hs_log1p(0x1p-60), 0x1p-60), "log1p(2^-60) = 2^-60");
  ok(hs_log1p(-1.0) == -HUGE_VAL, "log1p(-1) = -inf");
  ok(isnan(hs_log1p(-1.5)), "log1p(-1.5) is NaN");
  ok(isnan(hs_log1p(-HUGE_VAL)), "log1p(-inf) is NaN");
  ok(isnan(hs_log1p(nextafter(-1.0, -2.0))), "log1p(just below -1) is NaN");
  ok(hs_log1p(HUGE_VAL) == HUGE_VAL, "log1p(inf) = inf");
  ok(isnan(hs_log1p((double)NAN)), "log1p(NaN) is NaN");
  is_near(hs_log1p(DBL_MAX), log1p(DBL_MAX), ulp_of(709.78), "log1p(DBL_MAX) = 709.78...");
  is_near(hs_log1p(1.0), log(2.0), ulp_of(0.69), "log1p(1) = log 2");
  ok(isfinite(hs_log1p(nextafter(-1.0, 0.0))), "log1p(-1 + 2^-53) is finite (%.17g)",
     hs_log1p(nextafter(-1.0, 0.0)));
}

/* The vector forms on every supported path give the scalar form's bits, also for
** lengths that leave a tail, and leave the other elements of the output alone. */
static void test_paths(const grid *g) {
  size_t n = g->n;
  double *y = malloc(n * sizeof *y), *p1 = malloc(n * sizeof *p1),
         *p2 = malloc(n * sizeof *p2), *z = malloc(n * sizeof *z);
  if (y == NULL || p1 == NULL || p2 == NULL || z == NULL) abort();
  for (size_t i = 0; i < n; i++) z[i] = -g->x[i];  /* phi's argument: z = -x < 1 */
  hs_isa saved = hs_isa_active();
  int paths = 0;
  for (int isa = 0; isa < HS_ISA_COUNT; isa++) {
    if (!hs_isa_supported((hs_isa)isa)) {
      printf("# code path %s: not supported by this processor, skipped\n",
             hs_isa_name((hs_isa)isa));
      continue;
    }
    paths++;
    ok(hs_isa_set((hs_isa)isa) == HS_OK && hs_isa_active() == (hs_isa)isa,
       "code path %s selected", hs_isa_name((hs_isa)isa));
    size_t diff = 0, pdiff = 0;
    for (size_t len = n - 13; len <= n; len += 13) {  /* a tail of 5, then none */
      y[n - 1] = 12.5;
      hs_vlog1p(len, g->x, y);
      for (size_t i = 0; i < len; i++) diff += !same_bits(y[i], hs_log1p(g->x[i]));
      if (len < n) diff += y[n - 1] != 12.5;
    }
    hs_vphi12(n, z, p1, p2);
    for (size_t i = 0; i < n; i++) {
      double a, b;
      hs_phi12_lane(z[i], &a, &b);
      pdiff += !same_bits(p1[i], a) || !same_bits(p2[i], b);
    }
    /* in place: the output is the input array */
    memcpy(y, z, n * sizeof *y);
    hs_vphi12(n, y, y, p2);
    for (size_t i = 0; i < n; i++) pdiff += !same_bits(y[i], p1[i]);
    memcpy(y, g->x, n * sizeof *y);
    hs_vlog1p(n, y, y);
    for (size_t i = 0; i < n; i++) diff += !same_bits(y[i], hs_log1p(g->x[i]));
    is_int(diff, 0, "%s: hs_vlog1p equals hs_log1p bit for bit (also in place)",
           hs_isa_name((hs_isa)isa));
    is_int(pdiff, 0, "%s: hs_vphi12 equals the scalar phi1/phi2 bit for bit (also in place)",
           hs_isa_name((hs_isa)isa));
  }
  hs_isa_set(saved);
  ok(paths >= 1, "at least the baseline path ran (%d paths)", paths);
  free(y), free(p1), free(p2), free(z);
}

/* phi1 and phi2 from hs_phi12_lane against the 50-digit references (within the 4
** ulps test_phi.c allows hs_phi1 and hs_phi2), and the special values. */
static void test_phi(void) {
  FILE *f = fopen(FIXTURE, "r");
  if (!ok(f != NULL, "fixture %s opens (run from the project root)", FIXTURE)) return;
  char line[512], kind[16];
  size_t n1 = 0, n2 = 0, bad = 0;
  double w1 = 0.0, w2 = 0.0;
  while (fgets(line, sizeof line, f) != NULL) {
    if (line[0] == '#' || sscanf(line, "%15s", kind) != 1) continue;
    int which = strcmp(kind, "phi1") == 0 ? 1 : strcmp(kind, "phi2") == 0 ? 2 : 0;
    if (which == 0) continue;
    char *p = line + strlen(kind), *end;
    double a = strtod(p, &end), hi = strtod(end, &p), lo = strtod(p, &end);
    double phi1, phi2;
    hs_phi12_lane(a, &phi1, &phi2);
    double got = which == 1 ? phi1 : phi2;
    double err = (got == hi && lo == 0.0) ? 0.0 : fabs((got - hi) - lo) / ulp_of(hi);
    if (!(err <= 4.0) && ++bad <= 5)
      printf("#   phi%d(%a): %.3g ulps\n", which, a, err);
    if (which == 1) n1++, w1 = fmax(w1, err);
    else n2++, w2 = fmax(w2, err);
  }
  fclose(f);
  printf("# phi1: %zu points, max %.3f ulps; phi2: %zu points, max %.3f ulps\n", n1, w1,
         n2, w2);
  ok(n1 > 1000 && n2 > 500 && bad == 0,
     "phi1 and phi2 on hs_log1p within 4 ulps of the references at all %zu points",
     n1 + n2);
  double a, b;
  hs_phi12_lane(0.0, &a, &b);
  ok(a == 1.0 && b == 1.0, "phi1(0) = phi2(0) = 1");
  hs_phi12_lane(-0.0, &a, &b);
  ok(a == 1.0 && b == 1.0, "phi1(-0) = phi2(-0) = 1");
  hs_phi12_lane(0x1p-1074, &a, &b);
  ok(a == 1.0 && b == 1.0, "phi1 = phi2 = 1 at the smallest subnormal");
  hs_phi12_lane(-HUGE_VAL, &a, &b);
  ok(a == 0.0 && b == 0.0, "phi1(-inf) = phi2(-inf) = 0");
  hs_phi12_lane(-1e300, &a, &b);
  is_near(a, hs_phi1(-1e300), 4.0 * ulp_of(a), "phi1(-1e300) as hs_phi1");
  is_near(b, hs_phi2(-1e300), 4.0 * ulp_of(b), "phi2(-1e300) as hs_phi2");
  hs_phi12_lane(1.0 - 0x1p-53, &a, &b);
  is_near(a, hs_phi1(1.0 - 0x1p-53), 2.0 * ulp_of(a), "phi1(1 - 2^-53) as hs_phi1 (%.17g)", a);
  static const double outside[] = {1.0, 1.5, HUGE_VAL, NAN};
  for (size_t i = 0; i < 4; i++) {
    hs_phi12_lane(outside[i], &a, &b);
    ok(isnan(a) && isnan(b), "phi1(%g) and phi2(%g) are NaN", outside[i], outside[i]);
  }
  /* against the engine's form: hs_phi12 with libm's log1p, a few ulps apart */
  double worst = 0.0;
  for (double z = -50.0; z < 1.0; z += 0.0137) {
    double c1, c2;
    hs_phi12(z, log1p(-z), &c1, &c2);
    hs_phi12_lane(z, &a, &b);
    worst = fmax(worst, fmax(fabs(a - c1) / ulp_of(c1), fabs(b - c2) / ulp_of(c2)));
  }
  ok(worst <= 2.0, "within 2 ulps of hs_phi12 with libm's log1p over [-50, 1) (max %.2f)",
     worst);
}

/* hs_isa: names, the supported set, HASME_ISA. */
static void test_isa(void) {
  hs_isa isa;
  ok(hs_isa_parse("avx2", &isa) == HS_OK && isa == HS_ISA_AVX2, "parse avx2");
  ok(hs_isa_parse("AVX2", &isa) == HS_EINVAL, "names are lowercase");
  ok(strcmp(hs_isa_name(HS_ISA_AVX512), "avx512") == 0, "name of avx512");
  ok(strcmp(hs_isa_name((hs_isa)7), "?") == 0, "name out of range");
  ok(hs_isa_supported(HS_ISA_BASELINE), "the baseline is always supported");
  ok(hs_isa_supported(hs_isa_best()), "the best path is supported");
  ok(!hs_isa_supported(HS_ISA_AVX512) || hs_isa_supported(HS_ISA_AVX2),
     "AVX-512 implies AVX2");
  ok(hs_isa_set((hs_isa)3) == HS_EINVAL, "hs_isa_set refuses a path out of range");
  char cpu[128], msg[256];
  printf("# processor: %s; best path %s\n", hs_cpu_model(cpu, sizeof cpu),
         hs_isa_name(hs_isa_best()));
  ok(strlen(cpu) > 0, "the processor has a model name (%s)", cpu);
  setenv("HASME_ISA", "sse9", 1);
  ok(hs_isa_init(msg, sizeof msg) == HS_EINVAL && hs_isa_active() == hs_isa_best(),
     "HASME_ISA=sse9 is refused, the best path stays active");
  ok(strcmp(msg, "HASME_ISA: unknown code path 'sse9' (expected baseline, avx2 or "
             "avx512)") == 0, "message: %s", msg);
  setenv("HASME_ISA", "baseline", 1);
  ok(hs_isa_init(msg, sizeof msg) == HS_OK && hs_isa_active() == HS_ISA_BASELINE,
     "HASME_ISA=baseline selects the baseline");
  for (int i = 1; i < HS_ISA_COUNT; i++) {
    setenv("HASME_ISA", hs_isa_name((hs_isa)i), 1);
    hs_status st = hs_isa_init(msg, sizeof msg);
    if (hs_isa_supported((hs_isa)i))
      ok(st == HS_OK && hs_isa_active() == (hs_isa)i, "HASME_ISA=%s selects it",
         hs_isa_name((hs_isa)i));
    else
      ok(st == HS_EINVAL && strstr(msg, "does not support") != NULL &&
         hs_isa_active() == hs_isa_best(), "HASME_ISA=%s refused: %s",
         hs_isa_name((hs_isa)i), msg);
  }
  unsetenv("HASME_ISA");
  ok(hs_isa_init(msg, sizeof msg) == HS_OK && hs_isa_active() == hs_isa_best(),
     "no HASME_ISA: the best path");
}

int main(void) {
  grid g = {NULL, 0, 0};
  fill(&g);
  test_isa();
  test_special();
  test_accuracy(&g);
  test_paths(&g);
  test_phi();
  free(g.x);
  return tap_done();
}
