/*
** test_phi.c: phi1, phi2 and Phi(zi, zj) against 50-digit references
** (tests/fixtures/linalg_phi.txt, from tests/tools/gen_linalg_fixtures.py), errors
** measured in ulps of the reference, plus the special values and the domain.
*/
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hs_phi.h"
#include "tap.h"

#define FIXTURE "tests/fixtures/linalg_phi.txt"
#define MAX_ULPS 4.0  /* the accuracy the module promises, with a margin */

/* The spacing of doubles at |x| (the ulp of the reference); 2^-1074 below DBL_MIN. */
static double ulp_of(double x) {
  x = fabs(x);
  if (x < DBL_MIN) return 0x1p-1074;
  int e;
  frexp(x, &e);
  return ldexp(1.0, e - 53);
}

/*
** Error of got against the reference hi + lo, in ulps of hi. got - hi is exact
** whenever got is within a factor of two of hi (Sterbenz), so the measure resolves
** fractions of an ulp. NaN when got is NaN.
*/
static double ulps(double got, double hi, double lo) {
  if (isnan(got)) return NAN;
  if (got == hi && lo == 0.0) return 0.0;
  return fabs((got - hi) - lo) / ulp_of(hi);
}

/* Worst error of one function over the fixture, with the argument(s) where it occurs. */
typedef struct worst {
  double err, a, b;
  size_t count, bad;  /* lines read, lines above MAX_ULPS or NaN */
} worst;

static void record(worst *w, double err, double a, double b) {
  w->count++;
  if (!(err <= MAX_ULPS)) {
    w->bad++;
    if (w->bad <= 5) printf("#   error %.3g ulps at (%a, %a)\n", err, a, b);
  }
  if (!(err <= w->err)) {
    if (isnan(w->err)) return;
    w->err = err, w->a = a, w->b = b;
  }
}

static void test_fixture(void) {
  FILE *f = fopen(FIXTURE, "r");
  if (!ok(f != NULL, "fixture %s opens (run from the project root)", FIXTURE)) return;
  worst w1 = {0, 0, 0, 0, 0}, w2 = w1, wp = w1, wdiag = w1, harness = w1;
  size_t asym = 0, nonmono = 0;
  double prev_u = -INFINITY, prev_v = 0.0;
  char line[512], kind[16];
  while (fgets(line, sizeof line, f) != NULL) {
    if (line[0] == '#' || line[0] == '\n') continue;
    char *p = line, *end;
    if (sscanf(p, "%15s", kind) != 1) continue;
    p += strlen(kind);
    double a = strtod(p, &end), b = 0.0;
    p = end;
    if (strcmp(kind, "pair") == 0) {
      b = strtod(p, &end);
      p = end;
    }
    double hi = strtod(p, &end);
    p = end;
    double lo = strtod(p, &end);
    if (strcmp(kind, "phi1") == 0) {
      double got = hs_phi1(a);
      record(&w1, ulps(got, hi, lo), a, 0.0);
      /* the harness itself: one ulp off must measure as about one ulp */
      if (hi != 0.0 && got == hi)
        record(&harness, fabs(ulps(nextafter(got, INFINITY), hi, lo) - 1.0), a, 0.0);
      /* phi1 increases on (-inf, 1); allow the rounding of two close points */
      if (a > prev_u && got < prev_v - MAX_ULPS * ulp_of(prev_v)) nonmono++;
      prev_u = a, prev_v = got;
    }
    else if (strcmp(kind, "phi2") == 0)
      record(&w2, ulps(hs_phi2(a), hi, lo), a, 0.0);
    else if (strcmp(kind, "pair") == 0) {
      double got = hs_phi_pair(a, b);
      record(&wp, ulps(got, hi, lo), a, b);
      if (got != hs_phi_pair(b, a)) asym++;
      if (a == b) {
        /* Phi(z, z) = phi2(z): compare in ulps of the reference for both */
        double e2 = fabs(got - hs_phi2(a)) / ulp_of(hi);
        record(&wdiag, e2, a, b);
      }
    }
  }
  fclose(f);
  printf("# phi1: %zu points, max %.3f ulps at u = %a\n", w1.count, w1.err, w1.a);
  printf("# phi2: %zu points, max %.3f ulps at z = %a\n", w2.count, w2.err, w2.a);
  printf("# Phi:  %zu pairs, max %.3f ulps at (%a, %a)\n", wp.count, wp.err, wp.a, wp.b);
  printf("# Phi(z, z) - phi2(z): %zu points, max %.3f ulps at z = %a\n", wdiag.count,
         wdiag.err, wdiag.a);
  ok(w1.count > 1000 && w1.bad == 0, "phi1 within %g ulps at all %zu points (max %.3f)",
     MAX_ULPS, w1.count, w1.err);
  ok(w2.count > 500 && w2.bad == 0, "phi2 within %g ulps at all %zu points (max %.3f)",
     MAX_ULPS, w2.count, w2.err);
  ok(wp.count > 500 && wp.bad == 0, "Phi within %g ulps at all %zu pairs (max %.3f)",
     MAX_ULPS, wp.count, wp.err);
  ok(wdiag.count > 100 && wdiag.bad == 0, "Phi(z, z) agrees with phi2(z) to %g ulps (max %.3f)",
     MAX_ULPS, wdiag.err);
  ok(harness.count > 1000 && harness.err <= 0.5,
     "the ulp measure sees a one-ulp change as 1 +- 0.5 ulp (worst deviation %.3f)",
     harness.err);
  is_int(asym, 0, "Phi(zi, zj) == Phi(zj, zi) bit for bit");
  is_int(nonmono, 0, "phi1 is non-decreasing along the sorted grid (to %g ulps)", MAX_ULPS);
}

/* Values that must be exact, and the domain edges. */
static void test_special(void) {
  is_near(hs_phi1(0.0), 1.0, 0.0, "phi1(0) = 1");
  is_near(hs_phi1(-0.0), 1.0, 0.0, "phi1(-0) = 1");
  is_near(hs_phi1(0x1p-1074), 1.0, 0.0, "phi1(smallest subnormal) = 1");
  is_near(hs_phi1(-0x1p-1074), 1.0, 0.0, "phi1(-smallest subnormal) = 1");
  is_near(hs_phi1(-INFINITY), 0.0, 0.0, "phi1(-inf) = 0 (the limit)");
  is_near(hs_phi1(0.5), 2.0 * log(2.0), 2.0 * ulp_of(1.386), "phi1(1/2) = 2 log 2");
  is_near(hs_phi1(-1.0), log(2.0), ulp_of(0.693), "phi1(-1) = log 2");
  ok(hs_phi1(1.0 - 0x1p-53) > 36.7 && isfinite(hs_phi1(1.0 - 0x1p-53)),
     "phi1(1 - 2^-53) is finite, about 36.7");
  ok(isnan(hs_phi1(1.0)), "phi1(1) is NaN");
  ok(isnan(hs_phi1(1.5)), "phi1(1.5) is NaN");
  ok(isnan(hs_phi1(INFINITY)), "phi1(inf) is NaN");
  ok(isnan(hs_phi1(NAN)), "phi1(NaN) is NaN");
  is_near(hs_phi2(0.0), 1.0, 0.0, "phi2(0) = 1");
  is_near(hs_phi2(-INFINITY), 0.0, 0.0, "phi2(-inf) = 0");
  is_near(hs_phi2(0.5), 8.0 / 3.0 * log(2.0), 2.0 * ulp_of(1.85), "phi2(1/2) = 8/3 log 2");
  ok(isnan(hs_phi2(1.0)), "phi2(1) is NaN");
  ok(isnan(hs_phi2(3.0)), "phi2(3) is NaN (z (2 - z) < 1 there, but 1 - z < 0)");
  ok(isnan(hs_phi2(NAN)), "phi2(NaN) is NaN");
  is_near(hs_phi_pair(0.0, 0.0), 1.0, 0.0, "Phi(0, 0) = 1");
  is_near(hs_phi_pair(-INFINITY, 0.25), 0.0, 0.0, "Phi(-inf, 0.25) = 0");
  is_near(hs_phi_pair(0.5, 0.0), hs_phi1(0.5), 0.0, "Phi(z, 0) = phi1(z)");
  ok(isnan(hs_phi_pair(1.0, 0.5)), "Phi(1, 0.5) is NaN");
  ok(isnan(hs_phi_pair(0.5, 1.0)), "Phi(0.5, 1) is NaN");
  ok(isnan(hs_phi_pair(2.0, 2.0)), "Phi(2, 2) is NaN although u = 0");
  ok(isnan(hs_phi_pair(NAN, 0.0)), "Phi(NaN, 0) is NaN");
  ok(isnan(hs_phi_pair(0.0, NAN)), "Phi(0, NaN) is NaN");
  /* The case that motivates the double-double u: naive u = -0.001 with 7 digits. */
  double zi = -1000.0, zj = 0.999;
  double naive = hs_phi1(zi + zj - zi * zj), good = hs_phi_pair(zi, zj);
  ok(fabs(naive - good) > 10.0 * ulp_of(good),
     "Phi(-1000, 0.999) differs from the naive phi1(zi + zj - zi zj) (by %.3g ulps)",
     fabs(naive - good) / ulp_of(good));
}

int main(void) {
  test_special();
  test_fixture();
  return tap_done();
}
