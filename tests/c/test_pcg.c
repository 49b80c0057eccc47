/*
** test_pcg.c: PCG64 against NumPy's golden values (tests/fixtures/pcg64_*.txt, made by
** tests/tools/gen_pcg_fixtures.py): raw outputs, seeding and streams, advance,
** uniforms, bounded integers; and the 128-bit text form.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hs_pcg.h"
#include "tap.h"

/* {====================================================================
** Fixture files
** ===================================================================== */

static FILE *open_fixture(const char *name) {
  const char *dir = getenv("HASME_FIXTURES");
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", dir != NULL ? dir : "tests/fixtures", name);
  FILE *f = fopen(path, "r");
  if (f == NULL) printf("# cannot open %s (run from the project root)\n", path);
  return f;
}

/* The next non-comment line, without its newline, or NULL at the end. */
static char *next_line(FILE *f, char *buf, size_t size) {
  while (fgets(buf, (int)size, f) != NULL) {
    buf[strcspn(buf, "\r\n")] = '\0';
    if (buf[0] != '#' && buf[0] != '\0') return buf;
  }
  return NULL;
}

static hs_u128 u128_of(const char *s) {
  hs_u128 v = 0;
  if (!hs_u128_parse(s, &v)) printf("# bad 128-bit value in fixture: %s\n", s);
  return v;
}

/* A decimal value with an optional minus sign, mod 2^128 (as NumPy's advance). */
static hs_u128 signed_u128_of(const char *s) {
  if (s[0] == '-') return (hs_u128)0 - u128_of(s + 1);
  return u128_of(s);
}

static const char *fmt128(hs_u128 v, char buf[35]) {
  hs_u128_format(v, buf);
  return buf;
}

/* }==================================================================== */

/* The first 1000 raw outputs for several raw states, by hs_pcg_next and by hs_pcg_fill
** (whose four-way stepping must give the same words and the same final state). */
static void test_raw(void) {
  FILE *f = open_fixture("pcg64_raw.txt");
  ok(f != NULL, "pcg64_raw.txt opens");
  if (f == NULL) return;
  char line[256], st[64], in[64];
  int blocks = 0;
  while (next_line(f, line, sizeof line) != NULL) {
    int count = 0;
    if (sscanf(line, "gen %63s %63s %d", st, in, &count) != 3 || count <= 0 || count > 1000) {
      ok(0, "malformed fixture line '%s'", line);
      break;
    }
    hs_pcg r, q;
    hs_pcg_set(&r, u128_of(st), u128_of(in));
    q = r;
    uint64_t want[1000], got[1000];
    int bad = 0, first = -1;
    for (int i = 0; i < count; i++) {
      if (next_line(f, line, sizeof line) == NULL) {
        bad = 1;
        break;
      }
      want[i] = strtoull(line, NULL, 16);
      uint64_t g = hs_pcg_next(&r);
      if (g != want[i] && first < 0) first = i;
    }
    ok(!bad && first < 0, "raw outputs of state %s: %d draws equal NumPy's", st, count);
    if (first >= 0) printf("#   first difference at draw %d\n", first);
    /* hs_pcg_fill in pieces of awkward lengths (1, 2, 3, 5, ... ) must agree too. */
    size_t done = 0, piece = 1;
    while (done < (size_t)count) {
      size_t len = piece < (size_t)count - done ? piece : (size_t)count - done;
      hs_pcg_fill(&q, got + done, len);
      done += len;
      piece = piece * 2 + 1;
    }
    ok(memcmp(got, want, (size_t)count * sizeof got[0]) == 0 && q.state == r.state,
       "hs_pcg_fill of state %s gives the same words and the same final state", st);
    blocks++;
  }
  fclose(f);
  ok(blocks >= 4, "pcg64_raw.txt held %d generators", blocks);
}

/* hs_pcg_seed(seed, stream) equals np.random.PCG64(seed).jumped(stream). */
static void test_seed(void) {
  FILE *f = open_fixture("pcg64_seed.txt");
  ok(f != NULL, "pcg64_seed.txt opens");
  if (f == NULL) return;
  char line[256], sd[32], sm[32], st[64], in[64], b1[35], b2[35];
  int rows = 0, bad = 0;
  while (next_line(f, line, sizeof line) != NULL) {
    if (sscanf(line, "%31s %31s %63s %63s", sd, sm, st, in) != 4) {
      bad++;
      continue;
    }
    uint64_t seed = strtoull(sd, NULL, 10), stream = strtoull(sm, NULL, 10);
    hs_pcg r;
    hs_pcg_seed(&r, seed, stream);
    if (r.state != u128_of(st) || r.inc != u128_of(in)) {
      bad++;
      printf("#   seed %s stream %s: got state %s inc %s\n", sd, sm, fmt128(r.state, b1),
             fmt128(r.inc, b2));
    }
    rows++;
  }
  fclose(f);
  ok(rows >= 100 && bad == 0,
     "hs_pcg_seed equals PCG64(seed).jumped(stream) on %d seed/stream pairs", rows);
}

/* advance(delta) equals NumPy's advance, including deltas above 2^64 and negative ones. */
static void test_advance(void) {
  FILE *f = open_fixture("pcg64_advance.txt");
  ok(f != NULL, "pcg64_advance.txt opens");
  if (f == NULL) return;
  char line[512], st[64], in[64], dl[64], res[64], b1[35];
  int rows = 0, bad = 0, big = 0, neg = 0;
  while (next_line(f, line, sizeof line) != NULL) {
    if (sscanf(line, "%63s %63s %63s %63s", st, in, dl, res) != 4) {
      bad++;
      continue;
    }
    hs_u128 delta = signed_u128_of(dl);
    hs_pcg r;
    hs_pcg_set(&r, u128_of(st), u128_of(in));
    hs_pcg_advance(&r, delta);
    if (r.state != u128_of(res)) {
      bad++;
      printf("#   state %s delta %s: got %s\n", st, dl, fmt128(r.state, b1));
    }
    if (dl[0] == '-') neg++;
    if ((delta >> 64) != 0 && dl[0] != '-') big++;
    rows++;
  }
  fclose(f);
  ok(rows >= 40 && bad == 0, "advance equals NumPy's on %d (state, delta) pairs", rows);
  ok(big >= 3 && neg >= 3, "the advance fixture has deltas above 2^64 (%d) and negative (%d)",
     big, neg);
}

/* Jump-ahead against plain stepping, forward and back, and the affine maps. */
static void test_advance_props(void) {
  hs_pcg a, b;
  hs_pcg_seed(&a, 2718281828u, 3);
  b = a;
  for (int i = 0; i < 1237; i++) hs_pcg_next(&a);
  hs_pcg_advance(&b, 1237);
  ok(a.state == b.state, "advance(1237) equals 1237 draws");
  hs_pcg_advance(&b, (hs_u128)0 - 1237);
  hs_pcg c;
  hs_pcg_seed(&c, 2718281828u, 3);
  ok(b.state == c.state, "advance(-1237) steps back to the start");

  hs_u128 d1 = ((hs_u128)0x0123456789abcdefULL << 64) | 0xfedcba9876543210ULL;
  hs_u128 d2 = ((hs_u128)0x1111111111111111ULL << 64) | 0x2222222222222223ULL;
  hs_pcg_affine m1 = hs_pcg_affine_of(d1, c.inc), m2 = hs_pcg_affine_of(d2, c.inc);
  hs_pcg x = c, y = c;
  hs_pcg_apply(&x, &m1);
  hs_pcg_apply(&x, &m2);
  hs_pcg_advance(&y, d1 + d2);
  ok(x.state == y.state, "affine maps compose: advance(d1) then advance(d2) = advance(d1+d2)");
  hs_pcg_affine id = hs_pcg_affine_of(0, c.inc);
  ok(id.mult == 1 && id.plus == 0, "the map of delta 0 is the identity");
  hs_pcg_affine one = hs_pcg_affine_of(1, c.inc);
  ok(one.mult == HS_PCG_MULT && one.plus == c.inc, "the map of delta 1 is one LCG step");

  /* Streams of one seed are one jump apart: stream 5 advanced by a jump is stream 6. */
  hs_pcg s5, s6;
  hs_pcg_seed(&s5, 99, 5);
  hs_pcg_seed(&s6, 99, 6);
  hs_pcg_advance(&s5, HS_PCG_JUMP);
  ok(s5.state == s6.state && s5.inc == s6.inc, "stream 5 jumped once is stream 6");
}

/* hs_pcg_uniform equals Generator(PCG64(seed).jumped(stream)).random() bit for bit. */
static void test_uniform(void) {
  FILE *f = open_fixture("pcg64_uniform.txt");
  ok(f != NULL, "pcg64_uniform.txt opens");
  if (f == NULL) return;
  char line[256];
  unsigned long long seed, stream;
  int count, gens = 0;
  while (next_line(f, line, sizeof line) != NULL) {
    if (sscanf(line, "gen %llu %llu %d", &seed, &stream, &count) != 3 || count > 100) {
      ok(0, "malformed fixture line '%s'", line);
      break;
    }
    hs_pcg r, q;
    hs_pcg_seed(&r, seed, stream);
    q = r;
    double bulk[100];
    hs_pcg_uniform_fill(&q, bulk, (size_t)count);
    int bad = 0;
    for (int i = 0; i < count && next_line(f, line, sizeof line) != NULL; i++) {
      double want = strtod(line, NULL), got = hs_pcg_uniform(&r);
      if (got != want || bulk[i] != want) {
        if (bad++ == 0) printf("#   draw %d: got %.17g / %.17g, want %.17g\n", i, got, bulk[i], want);
      }
    }
    ok(bad == 0 && q.state == r.state,
       "uniform and uniform_fill of seed %llu stream %llu equal NumPy's random()", seed, stream);
    gens++;
  }
  fclose(f);
  ok(gens >= 3, "pcg64_uniform.txt held %d generators", gens);
}

/* hs_pcg_bounded equals Generator.integers(0, n) for n > 2^32 (Lemire on 64 bits). */
static void test_bounded_fixture(void) {
  FILE *f = open_fixture("pcg64_bounded.txt");
  ok(f != NULL, "pcg64_bounded.txt opens");
  if (f == NULL) return;
  char line[256];
  unsigned long long seed, n;
  int count;
  while (next_line(f, line, sizeof line) != NULL) {
    if (sscanf(line, "gen %llu %llu %d", &seed, &n, &count) != 3) {
      ok(0, "malformed fixture line '%s'", line);
      break;
    }
    hs_pcg r;
    hs_pcg_seed(&r, seed, 0);
    int bad = 0;
    for (int i = 0; i < count && next_line(f, line, sizeof line) != NULL; i++)
      if (hs_pcg_bounded(&r, n) != strtoull(line, NULL, 10)) bad++;
    ok(bad == 0, "bounded(%llu) of seed %llu equals NumPy's integers (%d differ)", n, seed, bad);
  }
  fclose(f);
}

/* Small ranges: in range, n = 1 and n = 0, and a chi-square test of uniformity. */
static void test_bounded_props(void) {
  hs_pcg r, q;
  hs_pcg_seed(&r, 31415, 2);
  int inrange = 1;
  const uint64_t ns[] = {1, 2, 3, 7, 10, 1000003, (uint64_t)1 << 63, ~(uint64_t)0};
  for (size_t j = 0; j < sizeof ns / sizeof ns[0]; j++)
    for (int i = 0; i < 1000; i++) inrange &= hs_pcg_bounded(&r, ns[j]) < ns[j];
  ok(inrange, "bounded(n) < n for n from 1 to 2^64-1");
  q = r;
  ok(hs_pcg_bounded(&r, 0) == hs_pcg_next(&q), "bounded(0) is one raw draw (n = 2^64)");

  /* 6 cells, 600000 draws: chi-square with 5 degrees of freedom; the 0.999 quantile
  ** is 20.515, so a fair generator fails this fixed-seed check with probability 0.001. */
  enum { CELLS = 6 };
  double cnt[CELLS] = {0};
  const int n = 600000;
  for (int i = 0; i < n; i++) cnt[hs_pcg_bounded(&r, CELLS)] += 1.0;
  double chi2 = 0, e = (double)n / CELLS;
  for (int c = 0; c < CELLS; c++) chi2 += (cnt[c] - e) * (cnt[c] - e) / e;
  ok(chi2 < 20.515, "bounded(6) is uniform: chi-square %.2f < 20.515 (5 df, alpha 0.001)", chi2);

  /* A range just above 2^63 rejects almost half of the draws: the result must still be
  ** below n and the top half [2^63, n) must appear with its tiny probability only. */
  uint64_t big = ((uint64_t)1 << 63) + 3;
  int above = 0;
  for (int i = 0; i < 100000; i++) above += hs_pcg_bounded(&r, big) >= ((uint64_t)1 << 63);
  ok(above <= 1, "bounded(2^63+3) lands in [2^63, n) rarely (%d of 100000)", above);
}

/* hs_u128_parse / hs_u128_format. */
static void test_text(void) {
  char buf[35];
  const hs_u128 max = ~(hs_u128)0;
  const hs_u128 vals[] = {0, 1, 15, 16, (hs_u128)1 << 64, max, max - 1,
                          ((hs_u128)0x2360ed051fc65da4ULL << 64) | 0x4385df649fcc0645ULL};
  int rt = 1;
  for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
    hs_u128 back = 7;
    hs_u128_format(vals[i], buf);
    rt &= hs_u128_parse(buf, &back) && back == vals[i] && strlen(buf) <= 34;
  }
  ok(rt, "format then parse round-trips 0, 1, 2^64, 2^128-1 and others");
  hs_u128_format(0, buf);
  ok(strcmp(buf, "0x0") == 0, "zero formats as 0x0 (got %s)", buf);
  hs_u128_format(max, buf);
  ok(strcmp(buf, "0xffffffffffffffffffffffffffffffff") == 0, "2^128-1 formats with 32 digits");
  hs_u128_format((hs_u128)0xabcdef0123ULL, buf);
  ok(strcmp(buf, "0xabcdef0123") == 0, "lowercase, no leading zeros (got %s)", buf);

  hs_u128 v = 0;
  ok(hs_u128_parse("340282366920938463463374607431768211455", &v) && v == max,
     "decimal 2^128-1 parses");
  ok(hs_u128_parse("18446744073709551616", &v) && v == (hs_u128)1 << 64, "decimal 2^64 parses");
  ok(hs_u128_parse("0X1F", &v) && v == 31, "0X prefix and uppercase digits parse");
  ok(hs_u128_parse("0x00000000000000000000000000000000000000ff", &v) && v == 255,
     "leading zeros beyond 32 digits are fine");
  ok(hs_u128_parse("007", &v) && v == 7, "decimal with leading zeros parses");

  const char *bad[] = {"", "0x", "x12", "0x12g", " 1", "1 ", "-1", "+1", "1e3", "12abc",
                       "0x1_0", "0xx1", "340282366920938463463374607431768211456",
                       "999999999999999999999999999999999999999999",
                       "0x100000000000000000000000000000000", "0x-1", "1.0"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    hs_u128 keep = 42;
    ok(!hs_u128_parse(bad[i], &keep) && keep == 42, "rejects \"%s\" and leaves the output", bad[i]);
  }
  ok(!hs_u128_parse(NULL, &v), "rejects NULL");
}

int main(void) {
  test_raw();
  test_seed();
  test_advance();
  test_advance_props();
  test_uniform();
  test_bounded_fixture();
  test_bounded_props();
  test_text();
  return tap_done();
}
