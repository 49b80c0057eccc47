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

#include "hs_mpi.h"
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

int main(void) {
  /* A launcher in the environment that runs the tests must not make this a rank. */
  unsetenv("OMPI_COMM_WORLD_SIZE");
  unsetenv("PMI_SIZE");
  unsetenv("PMIX_RANK");
  test_fsum_fixture();
  test_fsum_stride();
  test_fsum_special();
  test_single_process();
  return tap_done();
}
