/*
** test_xsum.c: the exact accumulator against Python's math.fsum (exactly rounded) on
** adversarial data (tests/fixtures/xsum_fsum.txt), then the properties the engine
** relies on: the same bits whatever the order and the partition into merged
** accumulators, associative merging, a portable image, and correct handling of
** infinities, NaN and overflow. With HASME_BENCH=1 it also times additions.
*/
#include <float.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hs_xsum.h"
#include "tap.h"

/* A small deterministic generator (Knuth's MMIX LCG, top bits). */
static uint64_t lcg_state = 0x2385u;

static uint64_t lcg_next(void) {
  lcg_state = lcg_state * 6364136223846793005u + 1442695040888963407u;
  return lcg_state >> 11;
}

static int samebits(double a, double b) {
  return memcmp(&a, &b, sizeof a) == 0;
}

static double sumof(const double *x, size_t n) {
  hs_xsum a;
  hs_xsum_init(&a);
  hs_xsum_addv(&a, x, n, 1);
  return hs_xsum_round(&a);
}

/* Whether two accumulators hold the same sum, compared through their images. */
static int sameimage(hs_xsum *a, hs_xsum *b) {
  uint64_t ia[HS_XSUM_WORDS], ib[HS_XSUM_WORDS];
  hs_xsum_pack(a, ia);
  hs_xsum_pack(b, ib);
  return memcmp(ia, ib, sizeof ia) == 0;
}

/* {====================================================================
** Against math.fsum
** ===================================================================== */

typedef struct fcase {
  char name[64];
  size_t n;
  double want;
  double *x;
} fcase;

static size_t loadcases(const char *path, fcase *cs, size_t max) {
  FILE *f = fopen(path, "r");
  if (f == NULL) return 0;
  size_t nc = 0;
  static char line[1 << 20];
  while (nc < max && fgets(line, sizeof line, f) != NULL) {
    if (line[0] == '#') continue;
    char *p = line, *end;
    fcase *c = &cs[nc];
    int used = 0;
    if (sscanf(p, "%63s %zu%n", c->name, &c->n, &used) != 2) continue;
    p += used;
    c->want = strtod(p, &end);
    p = end;
    c->x = malloc((c->n + 1) * sizeof(double));
    for (size_t i = 0; i < c->n; i++) {
      c->x[i] = strtod(p, &end);
      p = end;
    }
    nc++;
  }
  fclose(f);
  return nc;
}

/* Shuffle in place (Fisher-Yates with the LCG). */
static void shuffle(double *x, size_t n) {
  for (size_t i = n; i > 1; i--) {
    size_t j = (size_t)(lcg_next() % i);
    double t = x[i - 1];
    x[i - 1] = x[j];
    x[j] = t;
  }
}

static void test_fsum(void) {
  fcase cs[64];
  size_t nc = loadcases("tests/fixtures/xsum_fsum.txt", cs, 64);
  ok(nc >= 18, "fixture tests/fixtures/xsum_fsum.txt read (%zu cases)", nc);
  for (size_t c = 0; c < nc; c++) {
    double got = sumof(cs[c].x, cs[c].n);
    if (!ok(samebits(got, cs[c].want), "fsum %s (%zu values): same bits", cs[c].name,
            cs[c].n))
      printf("#   got %a, want %a\n", got, cs[c].want);
    /* Reversed and shuffled orders, and a partition into 5 merged accumulators. */
    double *y = malloc((cs[c].n + 1) * sizeof(double));
    for (size_t i = 0; i < cs[c].n; i++) y[i] = cs[c].x[cs[c].n - 1 - i];
    int same = samebits(sumof(y, cs[c].n), cs[c].want);
    shuffle(y, cs[c].n);
    same = same && samebits(sumof(y, cs[c].n), cs[c].want);
    hs_xsum part[5], all;
    for (int k = 0; k < 5; k++) hs_xsum_init(&part[k]);
    for (size_t i = 0; i < cs[c].n; i++) hs_xsum_add(&part[lcg_next() % 5], y[i]);
    hs_xsum_init(&all);
    for (int k = 4; k >= 0; k--) hs_xsum_merge(&all, &part[k]);
    same = same && samebits(hs_xsum_round(&all), cs[c].want);
    ok(same, "fsum %s: reversed, shuffled and partitioned orders agree", cs[c].name);
    free(y);
    free(cs[c].x);
  }
}

/* }==================================================================== */

/* {====================================================================
** Order, partition, merging, image
** ===================================================================== */

/* Values over the whole exponent range, of both signs, with exact opposites. */
static void wide_data(double *x, size_t n) {
  for (size_t i = 0; i < n; i++) {
    uint64_t u = lcg_next();
    double m = 1.0 + (double)(u & 0xfffffffffffu) / 17592186044416.0;
    int e = (int)((u >> 44) % 2000) - 1000;
    x[i] = ldexp(m, e) * ((u >> 43) & 1 ? -1.0 : 1.0);
    if (i % 7 == 3) x[i] = -x[i - 1];
  }
}

static void test_order(void) {
  enum { N = 20000 };
  double *x = malloc(N * sizeof(double));
  wide_data(x, N);
  hs_xsum ref, a;
  hs_xsum_init(&ref);
  hs_xsum_addv(&ref, x, N, 1);
  int same = 1;
  for (int trial = 0; trial < 5; trial++) {
    shuffle(x, N);
    hs_xsum_init(&a);
    hs_xsum_addv(&a, x, N, 1);
    same = same && sameimage(&a, &ref);
  }
  ok(same, "permutations of 20000 wide values leave the carried image identical");
  /* Partitions into 1..9 accumulators, merged in random order. */
  same = 1;
  for (int parts = 1; parts <= 9; parts++) {
    hs_xsum p[9], m;
    for (int k = 0; k < parts; k++) hs_xsum_init(&p[k]);
    for (size_t i = 0; i < N; i++) hs_xsum_add(&p[lcg_next() % (uint64_t)parts], x[i]);
    hs_xsum_init(&m);
    int start = (int)(lcg_next() % (uint64_t)parts);
    for (int k = 0; k < parts; k++) hs_xsum_merge(&m, &p[(start + k) % parts]);
    same = same && sameimage(&m, &ref);
  }
  ok(same, "partitions into 1..9 merged accumulators give the same image");
  /* (a + b) + c == a + (b + c), and merging leaves the merged-in value unchanged. */
  hs_xsum A, B, C, L, R, Bc;
  hs_xsum_init(&A), hs_xsum_init(&B), hs_xsum_init(&C);
  hs_xsum_addv(&A, x, N / 3, 1);
  hs_xsum_addv(&B, x + N / 3, N / 3, 1);
  hs_xsum_addv(&C, x + 2 * (N / 3), N - 2 * (N / 3), 1);
  L = A;
  hs_xsum_merge(&L, &B);
  hs_xsum_merge(&L, &C);
  R = B;
  Bc = C;
  hs_xsum_merge(&R, &Bc);
  hs_xsum Ac = A;
  hs_xsum_merge(&Ac, &R);
  ok(sameimage(&L, &Ac) && sameimage(&L, &ref), "merging is associative and exact");
  /* The image round-trips. */
  uint64_t img[HS_XSUM_WORDS];
  hs_xsum_pack(&ref, img);
  hs_xsum back;
  hs_xsum_unpack(&back, img);
  ok(sameimage(&back, &ref) && samebits(hs_xsum_round(&back), hs_xsum_round(&ref)),
     "pack/unpack keeps the sum");
  hs_xsum_add(&back, 1.0);
  hs_xsum_add(&ref, 1.0);
  ok(sameimage(&back, &ref), "an unpacked accumulator accepts further additions");
  free(x);
}

/* Many additions to one chunk pair force carries; the sum stays exact. */
static void test_carries(void) {
  hs_xsum a;
  hs_xsum_init(&a);
  double big = ldexp(1.0, 52) - 1.0;   /* a full significand in one position */
  for (int i = 0; i < 100000; i++) hs_xsum_add(&a, big);
  ok(hs_xsum_round(&a) == 100000.0 * big, "1e5 additions of 2^52 - 1 (carries) are exact");
  for (int i = 0; i < 100000; i++) hs_xsum_add(&a, -big);
  ok(hs_xsum_round(&a) == 0.0, "and subtracting them back gives 0");
  hs_xsum_init(&a);
  hs_xsum_add(&a, DBL_MAX);
  hs_xsum_add(&a, DBL_MAX);
  for (int i = 0; i < 5000; i++) hs_xsum_add(&a, -DBL_MAX / 4096.0);
  ok(samebits(hs_xsum_round(&a), (DBL_MAX / 4096.0) * 3192.0),
     "intermediate sums beyond DBL_MAX do not overflow (%a)", hs_xsum_round(&a));
}

static void test_special(void) {
  hs_xsum a;
  hs_xsum_init(&a);
  ok(samebits(hs_xsum_round(&a), 0.0), "empty sum is +0");
  hs_xsum_add(&a, DBL_MAX);
  hs_xsum_add(&a, DBL_MAX);
  ok(hs_xsum_round(&a) == (double)INFINITY, "DBL_MAX + DBL_MAX rounds to +inf");
  hs_xsum_init(&a);
  hs_xsum_add(&a, -DBL_MAX);
  hs_xsum_add(&a, -ldexp(1.0, 970));   /* half an ulp of DBL_MAX: a tie, odd -> away */
  ok(hs_xsum_round(&a) == -(double)INFINITY, "-DBL_MAX - ulp/2 rounds to -inf (ties to even)");
  hs_xsum_init(&a);
  hs_xsum_add(&a, DBL_MAX);
  hs_xsum_add(&a, ldexp(1.0, 969));
  ok(hs_xsum_round(&a) == DBL_MAX, "DBL_MAX + ulp/4 rounds to DBL_MAX");
  hs_xsum_init(&a);
  hs_xsum_add(&a, 1.0);
  hs_xsum_add(&a, (double)INFINITY);
  ok(hs_xsum_round(&a) == (double)INFINITY, "1 + inf = inf");
  hs_xsum_add(&a, -(double)INFINITY);
  ok(isnan(hs_xsum_round(&a)), "inf + -inf = NaN");
  hs_xsum_init(&a);
  hs_xsum_add(&a, (double)NAN);
  hs_xsum_add(&a, 2.0);
  ok(isnan(hs_xsum_round(&a)), "a NaN makes the sum NaN");
  /* round2: hi + lo carries the remainder. */
  hs_xsum_init(&a);
  hs_xsum_add(&a, 1.0);
  hs_xsum_add(&a, ldexp(1.0, -80));
  hs_xsum_add(&a, ldexp(3.0, -130));
  double hi, lo;
  hs_xsum_round2(&a, &hi, &lo);
  ok(hi == 1.0 && lo == ldexp(1.0, -80) + ldexp(3.0, -130), "round2 gives hi = 1, lo = 2^-80 + 3 2^-130");
  hs_xsum_init(&a);
  hs_xsum_add(&a, 3.5);
  hs_xsum_round2(&a, &hi, &lo);
  ok(hi == 3.5 && samebits(lo, 0.0), "round2 of an exact double has lo = +0");
}

/* }==================================================================== */

/* Additions per second into one accumulator (reported, not checked). */
static void bench(void) {
  enum { N = 1 << 20, REP = 50 };
  double *x = malloc(N * sizeof(double));
  for (size_t i = 0; i < N; i++) x[i] = (double)(lcg_next() % 1000003) / 977.0 - 500.0;
  hs_xsum a;
  hs_xsum_init(&a);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int r = 0; r < REP; r++) hs_xsum_addv(&a, x, N, 1);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
  printf("# hs_xsum_add: %.3g additions/s (%.2f ns each; sum %g)\n",
         (double)N * REP / s, 1e9 * s / ((double)N * REP), hs_xsum_round(&a));
  free(x);
}

int main(void) {
  test_fsum();
  test_order();
  test_carries();
  test_special();
  const char *b = getenv("HASME_BENCH");
  if (b != NULL && strcmp(b, "1") == 0) bench();
  return tap_done();
}
