/*
** test_mpi.c: the MPI layer as one process (no launcher in the environment: rank 0,
** size 1, collectives acting on a world of one, no MPI call) and the exact sum
** behind its reductions, against Python's math.fsum (tests/fixtures/mpi_fsum.txt,
** from tests/tools/gen_fsum_fixtures.py). tests/mpi/run.sh runs the real thing.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hs_method.h"
#include "hs_mpi.h"
#include "hs_sim_mpi.h"
#include "hs_util.h"
#include "tap.h"

#define FIXTURE "tests/fixtures/mpi_fsum.txt"

/* Every case of the fixture, in the given order and reversed: the sum is correctly
** rounded, so the two orders must give the same bits. */
static void test_fsum_fixture(void) {
  FILE *f = fopen(FIXTURE, "r");
  if (!ok(f != NULL, "fixture %s opens (run from the project root)", FIXTURE)) return;
  char name[64], line[16];
  int cases = 0, bad = 0;
  size_t n;
  while (fscanf(f, "%63s", name) == 1) {
    if (name[0] == '#') {   /* a comment: skip to the end of the line */
      while (fgets(line, sizeof line, f) != NULL && strchr(line, '\n') == NULL) {}
      continue;
    }
    if (fscanf(f, "%zu", &n) != 1) break;
    double *x = malloc((n + 1) * sizeof *x), *rev = malloc((n + 1) * sizeof *rev), want;
    for (size_t i = 0; i < n; i++)
      if (fscanf(f, "%la", &x[i]) != 1) x[i] = NAN;
    if (fscanf(f, "%la", &want) != 1) want = NAN;
    for (size_t i = 0; i < n; i++) rev[i] = x[n - 1 - i];
    double got = hs_fsum(x, n, 1), got_rev = hs_fsum(rev, n, 1);
    if (!(got == want && got_rev == want)) {
      bad++;
      printf("#   %s: got %a (reversed %a), want %a\n", name, got, got_rev, want);
    }
    cases++;
    free(x);
    free(rev);
  }
  fclose(f);
  ok(cases >= 70 && bad == 0, "hs_fsum equals math.fsum in both orders (%d cases, %d wrong)",
     cases, bad);
}

/* The stride reads every stride-th value (the layout of gathered rank blocks). */
static void test_fsum_stride(void) {
  double x[] = {1e16, 7.0, 1.0, 7.0, -1e16, 7.0};
  ok(hs_fsum(x, 3, 2) == 1.0, "hs_fsum with stride 2 sums x[0], x[2], x[4]");
  ok(hs_fsum(x, 0, 1) == 0.0, "hs_fsum of no terms is 0");
  double neg[] = {-0.0, -0.0};
  ok(signbit(hs_fsum(neg, 2, 1)), "hs_fsum of negative zeros is -0 (as IEEE addition)");
}

/* Infinities and NaN give what IEEE addition in index order gives; so does a
** running sum that leaves the double range. */
static void test_fsum_special(void) {
  double a[] = {1.0, INFINITY, 2.0};
  ok(isinf(hs_fsum(a, 3, 1)) && hs_fsum(a, 3, 1) > 0, "hs_fsum with +inf is +inf");
  double b[] = {INFINITY, -INFINITY};
  ok(isnan(hs_fsum(b, 2, 1)), "hs_fsum of +inf and -inf is NaN");
  double c[] = {1.0, NAN};
  ok(isnan(hs_fsum(c, 2, 1)), "hs_fsum with NaN is NaN");
  double d[] = {1.7976931348623157e308, 1.7976931348623157e308};
  ok(isinf(hs_fsum(d, 2, 1)), "hs_fsum beyond the double range is inf");
}

/* Without a launcher: no MPI, one rank, and collectives that act on a world of one. */
static void test_single_process(void) {
  ok(!hs_mpi_launched(), "no launcher variables in the test's environment");
  ok(hs_mpi_init() == HS_OK && hs_mpi_init() == HS_OK, "hs_mpi_init succeeds, twice");
  ok(!hs_mpi_active(), "MPI is not started without a launcher");
  is_int(hs_mpi_rank(), 0, "rank is 0");
  is_int(hs_mpi_size(), 1, "size is 1");
  double v[3] = {2.385, -1.5, 0.25}, g[3] = {0, 0, 0};
  ok(hs_mpi_allgather(v, sizeof v, g) == HS_OK && memcmp(v, g, sizeof v) == 0,
     "allgather copies the one block");
  size_t counts[1] = {2 * sizeof(double)};
  double h[2] = {0, 0};
  ok(hs_mpi_allgatherv(v, counts, h) == HS_OK && h[0] == v[0] && h[1] == v[1],
     "allgatherv copies the one block");
  ok(hs_mpi_allgatherv(NULL, counts, h) == HS_OK && h[0] == v[0] && h[1] == v[1],
     "allgatherv in place leaves the block");
  ok(hs_mpi_bcast(v, sizeof v, 0) == HS_OK && v[0] == 2.385, "bcast from rank 0 keeps the buffer");
  ok(hs_mpi_bcast(v, sizeof v, 1) == HS_EINVAL, "bcast from rank 1 is refused");
  ok(strstr(hs_mpi_error(), "root 1 is not a rank (0..0)") != NULL,
     "and the error names the root: %s", hs_mpi_error());
  ok(hs_mpi_allreduce(v, 3, HS_MPI_SUM) == HS_OK && v[1] == -1.5, "allreduce of one rank is x");
  int64_t k[2] = {INT64_MAX, -7};
  ok(hs_mpi_allreduce_int(k, 2, HS_MPI_SUM) == HS_OK && k[0] == INT64_MAX && k[1] == -7,
     "integer allreduce of one rank is x");
  ok(hs_mpi_barrier() == HS_OK, "barrier returns");
  ok(hs_mpi_bytes_sent() == 0, "no bytes sent without MPI");
  is_int(hs_mpi_local_size(), 1, "one rank on this machine");
  is_int(hs_mpi_threads(), hs_ncores(), "default threads: every core");
  ok(hs_mpi_quiet("anything") == 0, "errors are never quiet without MPI");
}

/* Shares cover 0..n-1 in rank order without gaps or overlaps, start on whole units
** (unless empty), and differ by at most one unit. */
static void test_share(void) {
  static const size_t ns[] = {0, 1, 7, 8, 9, 63, 64, 65, 1000, 100003};
  int bad = 0;
  for (size_t a = 0; a < sizeof ns / sizeof ns[0]; a++)
    for (size_t unit = 1; unit <= 8; unit *= 8)
      for (int size = 1; size <= 5; size++) {
        size_t next = 0, lo = (size_t)-1, hi = 0, first, count;
        for (int r = 0; r < size; r++) {
          hs_mpi_share(ns[a], unit, r, size, &first, &count);
          if (first != next || (count > 0 && first % unit != 0)) bad++;
          next = first + count;
          size_t units = count / unit + (count % unit != 0);
          if (units < lo) lo = units;
          if (units > hi) hi = units;
        }
        if (next != ns[a] || hi - lo > 1) bad++;
      }
  ok(bad == 0, "hs_mpi_share: contiguous, unit-aligned, balanced ranges (%d wrong)", bad);
  size_t first, count;
  hs_mpi_share(20, 8, 1, 2, &first, &count);
  ok(first == 16 && count == 4, "20 paths in blocks of 8 over 2 ranks: rank 1 has 16..19");
  hs_mpi_share(20, 8, 2, 3, &first, &count);
  ok(first == 16 && count == 4, "20 paths in blocks of 8 over 3 ranks: rank 2 has 16..19");
  hs_mpi_share(9, 8, 3, 4, &first, &count);
  ok(first == 9 && count == 0, "9 paths in blocks of 8 over 4 ranks: rank 3 has none");
  hs_mpi_share((size_t)1 << 40, 8, 4095, 4096, &first, &count);
  ok(first + count == (size_t)1 << 40 && count == ((size_t)1 << 40) / 4096,
     "2^40 paths over 4096 ranks: the last share ends at 2^40");
}

/* One process: agree_first returns this rank when it has a key, and -1 otherwise. */
static void test_agree_single(void) {
  char rec[8] = "abcdefg";
  int w = 7;
  ok(hs_mpi_agree_first(UINT64_MAX, rec, sizeof rec, &w) == HS_OK && w == -1,
     "agree_first without a failure: winner -1");
  ok(hs_mpi_agree_first(41, rec, sizeof rec, &w) == HS_OK && w == 0 && rec[0] == 'a',
     "agree_first with one: winner 0, record kept");
}

/* {====================================================================
** Several ranks: `mpirun -n N test_mpi --ranks` (tests/mpi/run.sh, with
** HASME_MPI_SHIM naming the shim). Every rank runs every check; a check passes when
** it passed on every rank, and rank 0 prints the verdicts.
** ===================================================================== */

static int nchecks = 0;
static int64_t failed[48];
static const char *names[48];

static void check(int cond, const char *name) {
  if (nchecks < 48) {
    failed[nchecks] = !cond;
    names[nchecks++] = name;
  }
}

/* Values of 1000 "paths" spread over the ranks in uneven contiguous pieces, reduced
** with hs_obs_stats_allreduce, against one accumulator that saw them all. */
static int test_stats_reduce(int rank, int size) {
  enum { N = 1000, NOBS = 2, NREC = 3 };
  hs_obs_stats *part = hs_obs_stats_alloc(NOBS, NREC, 1), *all = hs_obs_stats_alloc(NOBS, NREC, 1);
  if (part == NULL || all == NULL) return 0;
  double g[NOBS * N], gref[NOBS * N];
  for (size_t l = 0; l < N; l++)
    for (size_t o = 0; o < NOBS; o++) {
      double u = (double)(l * 7919 % 1009) / 1009.0;
      g[o * N + l] = (double)(o + 1) * 1e8 + u * (l % 3 == 0 ? 1e-3 : 17.0);
      gref[o * N + l] = g[o * N + l] - u * 0.25;
    }
  size_t first = (size_t)rank * N / (size_t)size * 2 / 3;   /* uneven shares */
  size_t end = rank == size - 1 ? N : ((size_t)rank + 1) * N / (size_t)size * 2 / 3;
  for (size_t r = 0; r < NREC; r++) {
    hs_obs_stats_add(part, r, g + first, gref + first, N, end - first);
    hs_obs_stats_add(all, r, g, gref, N, N);
  }
  int good = hs_obs_stats_allreduce(part) == HS_OK;
  for (size_t k = 0; good && k < NOBS * NREC; k++) {
    double m1, s1, d1, m2, s2, d2;
    hs_obs_acc_moments(&part->val[k], &m1, &s1, &d1);
    hs_obs_acc_moments(&all->val[k], &m2, &s2, &d2);
    good = part->val[k].n == N && m1 == m2 && s1 == s2 && d1 == d2;
    hs_obs_acc_moments(&part->diff[k], &m1, &s1, &d1);
    hs_obs_acc_moments(&all->diff[k], &m2, &s2, &d2);
    good = good && m1 == m2 && s1 == s2 && d1 == d2;
  }
  hs_obs_stats_free(part);
  hs_obs_stats_free(all);
  return good;
}

/* {====================================================================
** Runs over the ranks against the same run alone (hs_mpi_alone: one process's
** result on every rank), bit for bit
** ===================================================================== */

static const double X0[2] = {-0.6, 0.45};
static const size_t REC[2] = {3, 6};
static const hs_obs OBS[3] = {{.kind = HS_OBS_VALUE}, {.kind = HS_OBS_X, .i = 1},
                              {.kind = HS_OBS_XX, .i = 0, .j = 1}};
static const hs_observe SET = {3, OBS};

static hs_sim config(const char *method, hs_objective *o, hs_noise *n, size_t paths) {
  hs_sim s;
  memset(&s, 0, sizeof s);
  s.model.method = hs_method_find(method);
  s.model.dim = 2;
  s.model.eta = 0.1;
  s.model.obj = o;
  s.model.noise = n;
  s.model.psd_project = 1;
  s.model.psd_tol = 1e-10;
  s.integrator = HS_EULER;
  s.steps = 6;
  s.substeps = 2;
  s.paths = paths;
  s.coupled = 1;
  s.seed = 2385;
  s.threads = 2;
  s.x0 = X0;
  s.record = REC;
  s.nrecord = 2;
  return s;
}

/* Outputs with snapshots and divergence steps for `paths` paths. */
static void outputs(hs_sim_out *o, size_t paths) {
  memset(o, 0, sizeof *o);
  o->snap = calloc(2 * paths * 2, sizeof(double));
  o->diverge_step = calloc(paths, sizeof(int64_t));
  o->undefined_step = calloc(paths, sizeof(int64_t));
}

static void freeout(hs_sim_out *o) {
  free(o->snap);
  free(o->diverge_step);
  free(o->undefined_step);
}

/* The same outputs; after an error (partial outputs) the same error. */
static int sameout(const hs_sim_out *a, const hs_sim_out *b, size_t paths) {
  if (a->err.status != HS_OK || b->err.status != HS_OK)
    return a->err.status == b->err.status && a->err.path == b->err.path &&
           a->err.step == b->err.step && strcmp(a->err.what, b->err.what) == 0;
  int same[5] = {memcmp(a->snap, b->snap, 2 * paths * 2 * sizeof(double)) == 0,
    memcmp(a->diverge_step, b->diverge_step, paths * sizeof(int64_t)) == 0,
    a->diverged == b->diverged, a->escaped == b->escaped, a->projected == b->projected};
  for (int k = 0; k < 5; k++)
    if (!same[k]) return 0;
  return 1;
}

static int samestats(hs_obs_stats *a, hs_obs_stats *b) {
  size_t n = hs_obs_stats_words(a);
  uint64_t *ia = malloc(n * sizeof *ia), *ib = malloc(n * sizeof *ib);
  hs_obs_stats_pack(a, ia);
  hs_obs_stats_pack(b, ib);
  int same = n == hs_obs_stats_words(b) && memcmp(ia, ib, n * sizeof *ia) == 0;
  free(ia);
  free(ib);
  return same;
}

/* simulate and a paired ensemble of two methods, alone and over the ranks, with a
** start for each path: far out at three paths, which diverge (recorded, or the first
** of them an error). */
static void test_runs_over_ranks(int size, const size_t *far, size_t nfar, size_t first) {
  static const double Q2[] = {0.3, 0.1, 0.1, -0.2}, t2[] = {0.05, -0.1};
  hs_objective *wells = hs_wells_alloc(2, Q2, t2);
  hs_noise *iso = hs_noise_iso_alloc(0.45);
  enum { N = 2999 };
  static double x0[N * 2];
  for (size_t i = 0; i < N; i++) x0[2 * i] = -0.6, x0[2 * i + 1] = 0.45;
  for (size_t k = 0; k < nfar; k++) x0[2 * far[k]] = 1e30;   /* inf by step 3 */
  hs_sim_mpi_info info;
  for (int recorded = 1; recorded >= 0; recorded--) {
    hs_sim s = config("sme2", wells, iso, N);
    s.x0 = x0;
    s.x0_per_path = 1;
    s.record_diverged = recorded;
    hs_sim_out a, b;
    outputs(&a, N);
    outputs(&b, N);
    hs_mpi_alone_enter();
    hs_status sa = hs_sim_run_ranks(&s, &a, &info);
    hs_mpi_alone_leave();
    hs_status sb = hs_sim_run_ranks(&s, &b, &info);
    check(sa == sb && sameout(&a, &b, N) && info.ranks == size && (recorded || a.err.path == first),
          recorded ? "simulate over the ranks: snapshots, divergence steps, counts as alone"
                   : "simulate over the ranks: the first diverging path as alone");
    freeout(&a);
    freeout(&b);
    /* a paired ensemble of sgd and hasme, in chunks of 512 */
    hs_sim sims[2] = {config("sgd", wells, iso, N), config("hasme", wells, iso, N)};
    for (int m = 0; m < 2; m++) {
      sims[m].x0 = x0;
      sims[m].x0_per_path = 1;
      sims[m].record_diverged = recorded;
      sims[m].record_undefined = 1;
    }
    hs_sim_out oa[2], ob[2];
    hs_obs_stats *ta[2], *tb[2];
    for (int m = 0; m < 2; m++) {
      outputs(&oa[m], N);
      outputs(&ob[m], N);
      ta[m] = hs_obs_stats_alloc(3, 2, 1);
      tb[m] = hs_obs_stats_alloc(3, 2, 1);
    }
    hs_ensemble e = {sims, 2, 0, &SET, 0, 512, NULL};
    hs_ensemble_out ea = {oa, ta, 0, 0, NULL, NULL, 0}, eb = {ob, tb, 0, 0, NULL, NULL, 0};
    hs_mpi_alone_enter();
    sa = hs_ensemble_run_ranks(&e, &ea, &info);
    hs_mpi_alone_leave();
    sb = hs_ensemble_run_ranks(&e, &eb, &info);
    int good = sa == sb && ea.failed == eb.failed;
    for (int m = 0; m < 2; m++)
      if (sa == HS_OK || (size_t)m == ea.failed)   /* after a failure, only its error */
        good = good && sameout(&oa[m], &ob[m], N) && (sa != HS_OK || samestats(ta[m], tb[m]));
    check(good, recorded ? "a paired ensemble over the ranks: observables, snapshots, counts "
                           "as alone" : "a paired ensemble over the ranks: the first failure "
                           "(chunk, method, path) as alone");
    for (int m = 0; m < 2; m++) {
      freeout(&oa[m]);
      freeout(&ob[m]);
      hs_obs_stats_free(ta[m]);
      hs_obs_stats_free(tb[m]);
    }
  }
  hs_objective_free(wells);
  hs_noise_free(iso);
}

/* }==================================================================== */

static int test_ranks(void) {
  if (hs_mpi_init() != HS_OK) {
    printf("not ok 1 - hs_mpi_init under mpirun: %s\n1..1\n", hs_mpi_error());
    return 1;
  }
  int rank = hs_mpi_rank(), size = hs_mpi_size();
  const char *env = getenv("OMPI_COMM_WORLD_SIZE");
  check(hs_mpi_active() && env != NULL && atoi(env) == size, "MPI started, size from the launcher");
  /* In place: every rank writes its block (rank + 1 doubles) where it belongs. */
  size_t counts[16], total = 0;
  for (int r = 0; r < size && r < 16; r++) {
    counts[r] = (size_t)(r + 1) * sizeof(double);
    total += (size_t)(r + 1);
  }
  double all[136];
  size_t off = 0;
  for (int r = 0; r < rank; r++) off += (size_t)(r + 1);
  for (int j = 0; j <= rank; j++) all[off + (size_t)j] = 100.0 * rank + j;
  int good = hs_mpi_allgatherv(NULL, counts, all) == HS_OK;
  off = 0;
  for (int r = 0; r < size; r++)
    for (int j = 0; j <= r; j++) good = good && all[off++] == 100.0 * r + j;
  check(good && off == total, "allgatherv in place: every block in rank order");
  /* Blocks of zero bytes on some ranks. */
  for (int r = 0; r < size; r++) counts[r] = r % 2 == 0 ? 0 : sizeof(double);
  double mine = 2.385 * rank, got[16];
  good = hs_mpi_allgatherv(&mine, counts, got) == HS_OK;
  for (int r = 1, k = 0; r < size; r += 2) good = good && got[k++] == 2.385 * r;
  check(good, "allgatherv with empty blocks on even ranks");
  /* The first failure: ranks 1 and 2 fail, rank 2 at the smaller key. */
  char rec[32];
  snprintf(rec, sizeof rec, "record of rank %d", rank);
  int w;
  uint64_t key = rank == 1 ? 99 : rank == 2 ? 98 : UINT64_MAX;
  good = hs_mpi_agree_first(key, rec, sizeof rec, &w) == HS_OK;
  int want = size >= 3 ? 2 : size == 2 ? 1 : -1;
  char wantrec[32];
  snprintf(wantrec, sizeof wantrec, "record of rank %d", want >= 0 ? want : rank);
  check(good && w == want && strcmp(rec, wantrec) == 0, "agree_first: the smallest key wins");
  snprintf(rec, sizeof rec, "tie of rank %d", rank);
  good = hs_mpi_agree_first(5, rec, sizeof rec, &w) == HS_OK && w == 0;
  check(good && strcmp(rec, "tie of rank 0") == 0, "agree_first: a tie goes to the lowest rank");
  good = hs_mpi_agree_first(UINT64_MAX, rec, sizeof rec, &w) == HS_OK && w == -1;
  check(good, "agree_first: no failure anywhere gives -1");
  /* Exact sums: 1e16 + 1 - 1e16 on three ranks, whatever MPI's order. */
  double terms[3] = {1e16, 1.0, -1e16}, x = rank < 3 ? terms[rank] : 0.0;
  good = hs_mpi_allreduce(&x, 1, HS_MPI_SUM) == HS_OK;
  check(good && x == (size >= 3 ? 1.0 : size == 2 ? 1e16 : 1e16), "allreduce: exact sum");
  int64_t big = INT64_MAX / 2 + 1;
  check(size == 1 || hs_mpi_allreduce_int(&big, 1, HS_MPI_SUM) == HS_ESIZE,
        "allreduce_int: overflow is HS_ESIZE on every rank");
  check(hs_mpi_bytes_sent() > 0, "bytes_sent counts this rank's payload");
  check(test_stats_reduce(rank, size), "observable accumulators reduced over the ranks "
        "equal one accumulator of every value");
  static const size_t far1[] = {1700, 2900, 77}, far2[] = {2900, 1700};
  test_runs_over_ranks(size, far1, 3, 77);    /* the first failure on rank 0 */
  test_runs_over_ranks(size, far2, 2, 1700);  /* on a later rank only */
  /* The verdicts, reduced over the ranks. */
  int n = nchecks;
  if (hs_mpi_allreduce_int(failed, (size_t)n, HS_MPI_MAX) != HS_OK) return 1;
  if (rank == 0) {
    for (int i = 0; i < n; i++)
      printf("%s %d - %d ranks: %s\n", failed[i] ? "not ok" : "ok", i + 1, size, names[i]);
    printf("1..%d\n", n);
  }
  int bad = 0;
  for (int i = 0; i < n; i++) bad |= failed[i] != 0;
  return bad;
}

/* }==================================================================== */

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "--ranks") == 0) return test_ranks();
  /* A launcher in the environment that runs the tests must not make this a rank. */
  unsetenv("OMPI_COMM_WORLD_SIZE");
  unsetenv("PMI_SIZE");
  unsetenv("PMIX_RANK");
  test_fsum_fixture();
  test_fsum_stride();
  test_fsum_special();
  test_single_process();
  test_share();
  test_agree_single();
  return tap_done();
}
