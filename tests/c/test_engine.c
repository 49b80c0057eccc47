/*
** test_engine.c: the ensemble engine (hs_sim) without Lua: golden paths of every
** method through every kernel (linear Euler and exact, general per path, the
** lane-batched scalar and HA-SME substeps, minibatch and state-dependent noise),
** compared bit for bit with tests/fixtures/engine_golden.txt; the error paths
** (configuration checks, a domain exit and a divergence named by path and step);
** determinism across thread counts; and the method table.
**
** The fixture holds every recorded state as a C99 hex float (%a), so the comparison
** is exact. HS_GOLDEN_WRITE=FILE writes a new fixture instead of comparing (only
** after a change that is meant to change the paths).
*/
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hs_escape.h"
#include "hs_exact.h"
#include "hs_isa.h"
#include "hs_linalg.h"
#include "hs_nn.h"
#include "hs_normal.h"
#include "hs_sim.h"
#include "tap.h"

#define FIXTURE "tests/fixtures/engine_golden.txt"
#define PATHS 9     /* two blocks of the engine, the second one partly filled */
#define STEPS 5

/* {====================================================================
** Fixtures: objectives and noises
** ===================================================================== */

static hs_objective *quad2, *wells1, *wells2, *wells3, *nnobj;
static hs_noise *none, *iso, *iso1, *cov2, *cov3, *state2, *batch;

/* A state-dependent covariance: Sigma(x) = diag(0.3 + x_1^2/10, 0.2) + 0.05 (1 1'). */
static hs_status statecov(void *ctx, const double *x, double *C) {
  (void)ctx;
  C[0] = 0.3 + 0.1 * x[0] * x[0] + 0.05;
  C[1] = C[2] = 0.05;
  C[3] = 0.2 + 0.05;
  return HS_OK;
}

static void fixtures(void) {
  static const double H2[] = {1.7, 0.4, 0.4, 0.6}, b2[] = {0.3, -0.2};
  static const double Q2[] = {0.3, 0.1, 0.1, -0.2}, t2[] = {0.05, -0.1};
  static const double Q3[] = {0.3, 0.1, 0.0, 0.1, 0.2, 0.05, 0.0, 0.05, 0.1};
  static const double t1[] = {0.07};
  static const double C2[] = {0.5, 0.2, 0.2, 0.3};
  static const double C3[] = {0.4, 0.1, 0.05, 0.1, 0.3, 0.02, 0.05, 0.02, 0.2};
  double X[12 * 2], y[12];
  for (int i = 0; i < 12; i++) {
    X[2 * i] = sin(1.3 * i), X[2 * i + 1] = cos(0.7 * i);
    y[i] = 0.5 * X[2 * i] - 0.25 * X[2 * i + 1] * X[2 * i + 1];
  }
  hs_status st;
  double minw;
  quad2 = hs_quadratic_alloc(2, H2, b2);
  wells1 = hs_wells_alloc(1, NULL, t1);
  wells2 = hs_wells_alloc(2, Q2, t2);
  wells3 = hs_wells_alloc(3, Q3, NULL);
  nnobj = hs_nn_alloc(12, 2, 2, X, y, 0.01);
  none = hs_noise_none_alloc();
  iso = hs_noise_iso_alloc(0.45);
  iso1 = hs_noise_iso_alloc(0.3);
  cov2 = hs_noise_const_alloc(2, C2, 1e-10, &st, &minw);
  cov3 = hs_noise_const_alloc(3, C3, 1e-10, &st, &minw);
  state2 = hs_noise_state_alloc(2, statecov, NULL, 1, NULL);
  batch = hs_noise_batch_alloc(4, 0, 0);
}

static void freefixtures(void) {
  hs_objective *o[] = {quad2, wells1, wells2, wells3, nnobj};
  hs_noise *n[] = {none, iso, iso1, cov2, cov3, state2, batch};
  for (size_t i = 0; i < sizeof o / sizeof o[0]; i++) hs_objective_free(o[i]);
  for (size_t i = 0; i < sizeof n / sizeof n[0]; i++) hs_noise_free(n[i]);
}

/* }==================================================================== */

/* {====================================================================
** Golden paths
** ===================================================================== */

typedef struct gcase {
  const char *name;
  const char *method;
  hs_objective **obj;
  hs_noise **noise;
  hs_integrator integ;
  size_t substeps;
  int coupled;
  double eta;
  const char *kernel;   /* the kernel that must run */
} gcase;

static const gcase cases[] = {
  /* the linear kernel: Euler-Maruyama and exact transitions, isotropic and full noise */
  {"linear sgd iso", "sgd", &quad2, &iso, HS_EULER, 1, 0, 0.2, "linear"},
  {"linear sme1 euler iso", "sme1", &quad2, &iso, HS_EULER, 3, 0, 0.2, "linear"},
  {"linear sme2 euler iso", "sme2", &quad2, &iso, HS_EULER, 3, 0, 0.2, "linear"},
  {"linear hasme euler iso", "hasme", &quad2, &iso, HS_EULER, 3, 0, 0.2, "linear"},
  {"linear sme1 exact iso", "sme1", &quad2, &iso, HS_EXACT, 1, 0, 0.2, "linear"},
  {"linear sme2 exact iso", "sme2", &quad2, &iso, HS_EXACT, 1, 0, 0.2, "linear"},
  {"linear hasme exact iso", "hasme", &quad2, &iso, HS_EXACT, 1, 0, 0.2, "linear"},
  {"linear sgd cov", "sgd", &quad2, &cov2, HS_EULER, 1, 0, 0.3, "linear"},
  {"linear sme1 euler cov", "sme1", &quad2, &cov2, HS_EULER, 2, 0, 0.3, "linear"},
  {"linear sme2 euler cov", "sme2", &quad2, &cov2, HS_EULER, 2, 0, 0.3, "linear"},
  {"linear hasme euler cov", "hasme", &quad2, &cov2, HS_EULER, 2, 0, 0.3, "linear"},
  {"linear sme1 exact cov", "sme1", &quad2, &cov2, HS_EXACT, 1, 0, 0.3, "linear"},
  {"linear sme2 exact cov", "sme2", &quad2, &cov2, HS_EXACT, 1, 0, 0.3, "linear"},
  {"linear hasme exact cov", "hasme", &quad2, &cov2, HS_EXACT, 1, 0, 0.3, "linear"},
  {"linear sgd coupled", "sgd", &quad2, &cov2, HS_EULER, 4, 1, 0.3, "linear"},
  {"linear hasme exact coupled", "hasme", &quad2, &cov2, HS_EXACT, 4, 1, 0.3, "linear"},
  {"linear hasme no noise", "hasme", &quad2, &none, HS_EULER, 2, 0, 0.3, "linear"},
  /* the general kernel, one path at a time through hs_model_eval */
  {"general sgd iso d2", "sgd", &wells2, &iso, HS_EULER, 1, 0, 0.2, "general"},
  {"general sme1 iso d2", "sme1", &wells2, &iso, HS_EULER, 3, 0, 0.2, "general"},
  {"general sme2 iso d2", "sme2", &wells2, &iso, HS_EULER, 3, 0, 0.2, "general"},
  {"general sgd cov d2", "sgd", &wells2, &cov2, HS_EULER, 1, 0, 0.2, "general"},
  {"general sme1 cov d2", "sme1", &wells2, &cov2, HS_EULER, 3, 0, 0.2, "general"},
  {"general sme2 cov d2", "sme2", &wells2, &cov2, HS_EULER, 3, 0, 0.2, "general"},
  {"general hasme cov d2", "hasme", &wells2, &cov2, HS_EULER, 3, 0, 0.2, "general"},
  {"general hasme cov d3", "hasme", &wells3, &cov3, HS_EULER, 2, 0, 0.2, "general"},
  {"general sgd state d2", "sgd", &wells2, &state2, HS_EULER, 1, 0, 0.2, "general"},
  {"general sme1 state d2", "sme1", &wells2, &state2, HS_EULER, 2, 0, 0.2, "general"},
  {"general sme2 state d2", "sme2", &wells2, &state2, HS_EULER, 2, 0, 0.2, "general"},
  {"general hasme state d2", "hasme", &wells2, &state2, HS_EULER, 2, 0, 0.2, "general"},
  {"general sgd coupled d2", "sgd", &wells2, &cov2, HS_EULER, 3, 1, 0.2, "general"},
  {"general sgd none d1", "sgd", &wells1, &none, HS_EULER, 1, 0, 0.2, "general"},
  {"general sgd iso d1", "sgd", &wells1, &iso1, HS_EULER, 1, 0, 0.2, "general"},
  {"general sgd minibatch", "sgd", &nnobj, &batch, HS_EULER, 1, 0, 0.2, "general"},
  {"general sme1 minibatch", "sme1", &nnobj, &batch, HS_EULER, 2, 0, 0.2, "general"},
  {"general hasme minibatch", "hasme", &nnobj, &batch, HS_EULER, 2, 0, 0.05, "general"},
  /* the lane-batched scalar substep (d = 1, isotropic or no noise) */
  {"scalar sme1 iso", "sme1", &wells1, &iso1, HS_EULER, 3, 0, 0.2, "general"},
  {"scalar sme2 iso", "sme2", &wells1, &iso1, HS_EULER, 3, 0, 0.2, "general"},
  {"scalar hasme iso", "hasme", &wells1, &iso1, HS_EULER, 3, 0, 0.2, "general"},
  {"scalar sme1 none", "sme1", &wells1, &none, HS_EULER, 2, 0, 0.2, "general"},
  {"scalar sme2 none", "sme2", &wells1, &none, HS_EULER, 2, 0, 0.2, "general"},
  {"scalar hasme none", "hasme", &wells1, &none, HS_EULER, 2, 0, 0.2, "general"},
  /* the lane-batched HA-SME substep (2 <= d <= 12, isotropic or no noise) */
  {"lanes hasme iso d2", "hasme", &wells2, &iso, HS_EULER, 3, 0, 0.2, "general"},
  {"lanes hasme iso d3", "hasme", &wells3, &iso, HS_EULER, 2, 0, 0.2, "general"},
  {"lanes hasme none d3", "hasme", &wells3, &none, HS_EULER, 2, 0, 0.2, "general"},
};
#define NCASES (sizeof cases / sizeof cases[0])

/* The case of that name (the tests name only cases of the table). */
static const gcase *findcase(const char *name) {
  for (size_t i = 0; i < NCASES; i++)
    if (strcmp(cases[i].name, name) == 0) return &cases[i];
  return NULL;
}

static const hs_method_type *method_named(const char *name) {
  return hs_method_find(name);
}

/* A configuration over the case's model: PATHS paths from a per-path start, every
** step recorded. */
static void setup(hs_sim *s, const gcase *c, double *x0, size_t *rec) {
  size_t d = (*c->obj)->dim;
  memset(s, 0, sizeof *s);
  s->model.method = method_named(c->method);
  s->model.dim = d;
  s->model.eta = c->eta;
  s->model.obj = *c->obj;
  s->model.noise = *c->noise;
  s->model.psd_project = 1;
  s->model.psd_tol = 1e-10;
  s->integrator = c->integ;
  s->steps = STEPS;
  s->substeps = c->substeps;
  s->paths = PATHS;
  s->coupled = c->coupled;
  s->seed = 20260;
  s->threads = 1;
  for (size_t i = 0; i < PATHS * d; i++) x0[i] = 0.1 * sin(1.0 + 0.37 * (double)i);
  s->x0 = x0;
  s->x0_per_path = 1;
  for (size_t k = 0; k <= STEPS; k++) rec[k] = k;
  s->record = rec;
  s->nrecord = STEPS + 1;
}

/* Run a case; its states as lines "name k path j hexfloat" appended to buf. */
static hs_status runcase(const gcase *c, char **buf, size_t *len, size_t *cap,
                         const char **kernel) {
  hs_sim s;
  double x0[PATHS * 32];
  size_t rec[STEPS + 1];
  setup(&s, c, x0, rec);
  size_t d = s.model.dim;
  double *snap = calloc((STEPS + 1) * PATHS * d, sizeof(double));
  hs_sim_out out;
  memset(&out, 0, sizeof out);
  out.snap = snap;
  hs_status st = hs_sim_run(&s, &out);
  *kernel = out.kernel;
  for (size_t k = 0; k <= STEPS && st == HS_OK; k++)
    for (size_t p = 0; p < PATHS; p++)
      for (size_t j = 0; j < d; j++) {
        if (*cap - *len < 256) {
          *cap *= 2;
          *buf = realloc(*buf, *cap);
        }
        *len += (size_t)snprintf(*buf + *len, *cap - *len, "%s %zu %zu %zu %a\n", c->name, k,
                                 p, j, snap[(k * PATHS + p) * d + j]);
      }
  free(snap);
  return st;
}

static char *readfile(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) return NULL;
  fseek(f, 0, SEEK_END);
  long sz = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = malloc((size_t)sz + 1);
  *n = fread(b, 1, (size_t)sz, f);
  b[*n] = '\0';
  fclose(f);
  return b;
}

/* The lines of text starting with "name " (the case's block). */
static const char *caseblock(const char *text, const char *name, size_t *n) {
  size_t nl = strlen(name);
  const char *p = text, *start = NULL, *end = NULL;
  while (*p) {
    const char *e = strchr(p, '\n');
    if (e == NULL) e = p + strlen(p);
    int mine = strncmp(p, name, nl) == 0 && p[nl] == ' ' && p[nl + 1] >= '0' &&
               p[nl + 1] <= '9';
    if (mine && start == NULL) start = p;
    if (mine) end = *e ? e + 1 : e;
    p = *e ? e + 1 : e;
  }
  *n = start != NULL ? (size_t)(end - start) : 0;
  return start;
}

static void test_golden(void) {
  const char *write = getenv("HS_GOLDEN_WRITE");
  size_t flen = 0;
  char *fixture = write == NULL ? readfile(FIXTURE, &flen) : NULL;
  if (write == NULL && !ok(fixture != NULL, "golden fixture %s is readable", FIXTURE)) return;
  size_t cap = 1 << 16, len = 0;
  char *all = malloc(cap);
  all[0] = '\0';
  for (size_t i = 0; i < NCASES; i++) {
    const gcase *c = &cases[i];
    size_t cap1 = 1 << 12, len1 = 0;
    char *mine = malloc(cap1);
    mine[0] = '\0';
    const char *kernel = NULL;
    hs_status st = runcase(c, &mine, &len1, &cap1, &kernel);
    if (write != NULL) {
      while (cap - len < len1 + 1) cap *= 2, all = realloc(all, cap);
      memcpy(all + len, mine, len1 + 1);
      len += len1;
      ok(st == HS_OK, "%s: runs (%s)", c->name, hs_strstatus(st));
    }
    else {
      ok(st == HS_OK && kernel != NULL && strcmp(kernel, c->kernel) == 0,
         "%s: runs on the %s kernel", c->name, c->kernel);
      size_t n;
      const char *want = caseblock(fixture, c->name, &n);
      int same = want != NULL && n == len1 && memcmp(want, mine, n) == 0;
      if (!ok(same, "%s: %d x %d paths bit-identical to the golden fixture", c->name,
              PATHS, STEPS) && want != NULL) {
        /* the first line that differs */
        size_t q = 0;
        while (q < n && q < len1 && want[q] == mine[q]) q++;
        while (q > 0 && mine[q - 1] != '\n') q--;
        printf("#   first difference: got %.*s", (int)strcspn(mine + q, "\n") + 1, mine + q);
      }
    }
    free(mine);
  }
  if (write != NULL) {
    FILE *f = fopen(write, "wb");
    ok(f != NULL && fwrite(all, 1, len, f) == len && fclose(f) == 0, "fixture written to %s",
       write);
  }
  free(all);
  free(fixture);
}

/* }==================================================================== */

/* {====================================================================
** Determinism across thread counts
** ===================================================================== */

static void test_threads(void) {
  static const char *const which[] = {"linear hasme exact cov", "general hasme cov d2",
                                      "lanes hasme iso d3", "scalar hasme iso",
                                      "general sgd minibatch"};
  for (size_t w = 0; w < sizeof which / sizeof which[0]; w++) {
    const gcase *c = findcase(which[w]);
    hs_sim s;
    double x0[PATHS * 32];
    size_t rec[STEPS + 1];
    setup(&s, c, x0, rec);
    size_t d = s.model.dim, n = 100;
    s.paths = n;
    s.x0_per_path = 0;
    double *a = calloc((STEPS + 1) * n * d, sizeof(double));
    double *b = calloc((STEPS + 1) * n * d, sizeof(double));
    hs_sim_out oa, ob;
    memset(&oa, 0, sizeof oa);
    memset(&ob, 0, sizeof ob);
    oa.snap = a;
    ob.snap = b;
    hs_status sa = hs_sim_run(&s, &oa);
    s.threads = 3;
    hs_status sb = hs_sim_run(&s, &ob);
    ok(sa == HS_OK && sb == HS_OK && ob.threads_used == 3 &&
           memcmp(a, b, (STEPS + 1) * n * d * sizeof(double)) == 0,
       "%s: 100 paths bit-identical with 1 and 3 threads", c->name);
    free(a);
    free(b);
  }
}

/* Lane refill: with an escape criterion the paths stop at different steps, and the
** general kernel's lanes take the next paths as they free up. Every path's recorded
** states and escape step must be those of the same path run alone (path0 = i, one
** path), whichever lane ran it and beside whichever paths. */
static void test_refill(void) {
  static const char *const which[] = {"scalar hasme iso", "scalar sme2 iso",
                                      "scalar sme1 iso", "lanes hasme iso d3",
                                      "general sme1 iso d2", "general sgd minibatch"};
  static const double radius[] = {1.2, 1.2, 1.2, 1.8, 1.5, 0.8};   /* some escape */
  enum { N = 37, NREC = 5 };
  size_t rec[NREC] = {0, 1, 7, 30, 60};
  for (size_t w = 0; w < sizeof which / sizeof which[0]; w++) {
    const gcase *c = findcase(which[w]);
    hs_sim s;
    double x0[PATHS * 32];
    size_t rec0[STEPS + 1];
    setup(&s, c, x0, rec0);
    size_t d = s.model.dim;
    hs_escape *esc = hs_escape_alloc(HS_ESC_BALL, d, x0, radius[w]);
    s.steps = 60;
    s.record = rec;
    s.nrecord = NREC;
    s.paths = N;
    s.x0_per_path = 0;
    s.escape = esc;
    double *all = calloc(NREC * N * d, sizeof(double)), one[NREC * 32];
    int64_t estep[N], e1;
    hs_sim_out out;
    memset(&out, 0, sizeof out);
    out.snap = all;
    out.escape_step = estep;
    hs_status st = hs_sim_run(&s, &out);
    size_t same = 0, escaped = out.escaped;
    for (size_t i = 0; i < N && st == HS_OK; i++) {
      hs_sim s1 = s;
      s1.paths = 1;
      s1.path0 = i;
      hs_sim_out o1;
      memset(&o1, 0, sizeof o1);
      o1.snap = one;
      o1.escape_step = &e1;
      if (hs_sim_run(&s1, &o1) != HS_OK || e1 != estep[i]) continue;
      int eq = 1;
      for (size_t r = 0; r < NREC; r++)
        eq &= memcmp(one + r * d, all + (r * N + i) * d, d * sizeof(double)) == 0;
      same += (size_t)eq;
    }
    ok(st == HS_OK && escaped > 4 && escaped < N - 4 && same == N,
       "%s: %zu of %d paths escaped, each path's states and escape step as run alone "
       "(%zu of %d)", c->name, escaped, N, same, N);
    free(all);
    hs_escape_free(esc);
  }
}

/* A failure among refilled lanes: HA-SME leaves its domain on some paths at various
** steps. The error names the smallest such path and its step (those that a run
** recording domain exits gives), with 1 and with 3 threads. */
static void test_refill_failure(void) {
  enum { N = 61 };
  const gcase *c = NULL;
  for (size_t i = 0; i < NCASES; i++)
    if (strcmp(cases[i].name, "scalar hasme iso") == 0) c = &cases[i];
  hs_sim s;
  double x0[PATHS * 32];
  size_t rec[STEPS + 1];
  setup(&s, c, x0, rec);
  s.model.eta = 0.3;
  s.steps = 40;
  s.paths = N;
  s.x0_per_path = 0;
  int64_t und[N];
  hs_sim_out out;
  memset(&out, 0, sizeof out);
  s.record_undefined = 1;
  out.undefined_step = und;
  hs_status st = hs_sim_run(&s, &out);
  size_t first = N;
  for (size_t i = N; i-- > 0;)
    if (und[i] >= 0) first = i;
  ok(st == HS_OK && out.undefined > 2 && first > 0 && first < N,
     "scalar hasme: %zu of %d paths leave the domain, the first is path %zu", out.undefined, N,
     first);
  s.record_undefined = 0;
  for (size_t t = 1; t <= 3 && first < N; t += 2) {
    memset(&out, 0, sizeof out);
    s.threads = t;
    st = hs_sim_run(&s, &out);
    ok(st == HS_EDOM && out.err.path == first && out.err.step == (size_t)und[first],
       "the error names path %zu at step %lld with %zu threads (got path %zu step %zu)",
       first, (long long)und[first], t, out.err.path, out.err.step);
  }
}

/* A callback criterion (not thread safe as far as the engine knows): x_1 > 0.3. */
static hs_status esc_fn(void *ctx, const double *x, int *escaped) {
  (void)ctx;
  *escaped = x[0] > 0.3;
  return HS_OK;
}

static hs_escape *replica_escape[8];
static size_t replicate_calls;

static int replicate(void *ctx, size_t i, hs_replica *rep, char *why, size_t whyn) {
  replicate_calls++;
  if (ctx != NULL && i == 1) {
    snprintf(why, whyn, "replica %zu refused", i);
    return 1;
  }
  rep->escape = replica_escape[i];
  return 0;
}

/* Thread-unsafe callbacks: one thread without replicas, more with them, the same
** escape steps either way; a replica that fails leaves the run on one thread. */
static void test_replicas(void) {
  double x0[PATHS * 32];
  size_t rec[STEPS + 1];
  hs_sim s;
  setup(&s, &cases[18], x0, rec);   /* general sme1 iso d2 */
  s.paths = 4000;
  s.steps = 3;
  s.x0_per_path = 0;
  s.nrecord = 0;
  s.threads = 3;
  hs_escape *esc = hs_escape_callback_alloc(esc_fn, NULL, NULL);
  for (int i = 0; i < 8; i++) replica_escape[i] = hs_escape_callback_alloc(esc_fn, NULL, NULL);
  s.escape = esc;
  is_int(hs_sim_replicas(&s), 2, "replicas: 3 threads asked, 2 replicas wanted");
  int64_t *a = calloc(s.paths, sizeof *a), *b = calloc(s.paths, sizeof *b),
          *c = calloc(s.paths, sizeof *c);
  hs_sim_out oa, ob, oc;
  memset(&oa, 0, sizeof oa), memset(&ob, 0, sizeof ob), memset(&oc, 0, sizeof oc);
  oa.escape_step = a, ob.escape_step = b, oc.escape_step = c;
  hs_status sa = hs_sim_run(&s, &oa);
  s.replicate = replicate;
  hs_status sb = hs_sim_run(&s, &ob);
  s.replicate_ctx = &s;   /* refuse replica 2 */
  hs_status sc = hs_sim_run(&s, &oc);
  ok(sa == HS_OK && oa.threads_used == 1 && oa.replicas == 0,
     "replicas: without a hook the run keeps to the calling thread");
  ok(sb == HS_OK && ob.threads_used == 3 && ob.replicas == 2 && replicate_calls >= 2,
     "replicas: with the hook, 2 replicas and 3 threads");
  ok(sc == HS_OK && oc.threads_used == 1 && oc.replicas == 0 &&
         strcmp(oc.note, "replica 1 refused") == 0,
     "replicas: a refused replica leaves one thread and says why");
  ok(oa.escaped > 0 && memcmp(a, b, s.paths * sizeof *a) == 0 &&
         memcmp(a, c, s.paths * sizeof *a) == 0,
     "replicas: the escape steps do not depend on them (%zu escaped)", oa.escaped);
  free(a), free(b), free(c);
  hs_escape_free(esc);
  for (int i = 0; i < 8; i++) hs_escape_free(replica_escape[i]);
}

/* }==================================================================== */

/* {====================================================================
** hs_factor, the factor every constant noise and PSD check goes through
** ===================================================================== */

static double maxresidual(size_t n, const double *A, const double *D) {
  double worst = 0.0;
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < n; j++) {
      double s = 0.0;
      for (size_t k = 0; k < n; k++) s += D[i * n + k] * D[j * n + k];
      worst = fmax(worst, fabs(s - A[i * n + j]));
    }
  return worst;
}

static void test_factor(void) {
  static const double pd[] = {0.5, 0.2, 0.2, 0.3};          /* positive definite */
  static const double sing[] = {1.0, 2.0, 2.0, 4.0};        /* rank 1: eigenvalues 0, 5 */
  static const double indef[] = {1.0, 2.0, 2.0, 1.0};       /* eigenvalues -1, 3 */
  double D[4], work[64], minw = 0.0;
  size_t clipped = 7;
  ok(hs_factor_worksize(2) <= 64, "factor: work for d = 2 fits the test's buffer");
  ok(hs_factor(2, pd, D, 1e-10, 0, &minw, &clipped, work) == HS_OK && clipped == 0 &&
         D[1] == D[2] && maxresidual(2, pd, D) < 1e-15,
     "factor: the symmetric square root of a positive definite matrix");
  /* sing = v v' with |v|^2 = 5, v = (1, 2): its square root is v v' / sqrt(5) */
  ok(hs_factor(2, sing, D, 1e-10, 0, &minw, &clipped, work) == HS_OK && clipped == 0 &&
         maxresidual(2, sing, D) < 1e-14 && fabs(D[0] - 1.0 / sqrt(5.0)) < 1e-15 &&
         fabs(D[1] - 2.0 / sqrt(5.0)) < 1e-15 && fabs(D[3] - 4.0 / sqrt(5.0)) < 1e-15,
     "factor: the symmetric square root of a singular PSD matrix");
  /* a near-singular perturbation of sing: the square root moves by O(sqrt(eps)),
  ** where a Cholesky factor's off-diagonal entry would jump */
  static const double near[] = {1.0 + 1e-12, 2.0, 2.0, 4.0 + 1e-12};
  double Dn[4];
  ok(hs_factor(2, near, Dn, 1e-10, 0, &minw, &clipped, work) == HS_OK &&
         fabs(Dn[0] - D[0]) + fabs(Dn[1] - D[1]) + fabs(Dn[3] - D[3]) < 1e-5,
     "factor: continuous at a singular matrix");
  double one = 0.49, d1;
  ok(hs_factor(1, &one, &d1, 1e-10, 0, &minw, &clipped, work) == HS_OK && d1 == 0.7,
     "factor: the square root of a number");
  ok(hs_factor(2, indef, D, 1e-10, 0, &minw, &clipped, work) == HS_ENOTPSD &&
         fabs(minw + 1.0) < 1e-14,
     "factor: not PSD, with the most negative eigenvalue");
  static const double clippedA[] = {1.5, 1.5, 1.5, 1.5};    /* 3 v v', v = (1, 1)/sqrt 2 */
  ok(hs_factor(2, indef, D, 1e-10, 1, &minw, &clipped, work) == HS_OK && clipped == 1 &&
         maxresidual(2, clippedA, D) < 1e-14,
     "factor: clipped to the nearest PSD matrix when asked, counting the eigenvalue");
}

/* }==================================================================== */

/* {====================================================================
** The method table
** ===================================================================== */

static void test_methods(void) {
  static const char *const names[] = {"sgd", "sme1", "sme2", "hasme", "svag"};
  size_t n = 0;
  while (hs_methods[n] != NULL) n++;
  is_int(n, 5, "methods: five methods in the list");
  for (size_t i = 0; i < n && i < 5; i++)
    ok(strcmp(hs_methods[i]->name, names[i]) == 0 && hs_method_find(names[i]) == hs_methods[i],
       "methods: %s at position %zu, found by name", names[i], i + 1);
  ok(hs_method_find("svag ") == NULL && hs_method_find("") == NULL,
     "methods: an unknown name finds nothing");
  ok(!hs_method_sgd->is_sde && hs_method_sme1->is_sde && hs_method_hasme->is_sde &&
         !hs_method_svag->is_sde,
     "methods: SGD and SVAG are discrete recursions, the others SDEs");
  /* SVAG: c1 + c2 = 1 and c1^2 + c2^2 = l, so |w| = sqrt(l); SGD's single weight is 1 */
  double w[2];
  hs_method_svag->weights(5, w);
  ok(hs_method_svag->split && hs_method_svag->draws == 2 && fabs(w[0] + w[1] - 1.0) < 1e-15 &&
         fabs(w[0] * w[0] + w[1] * w[1] - 5.0) < 1e-14 &&
         fabs(hs_method_wnorm(hs_method_svag, 5) - sqrt(5.0)) < 1e-15 &&
         hs_method_wnorm(hs_method_sgd, 5) == 1.0 && !hs_method_sgd->split,
     "methods: SVAG splits a step into l with weights summing to 1, squares to l");
  ok(hs_method_sme2->needs == (HS_NEED_GRAD | HS_NEED_HESS) &&
         (hs_method_hasme->needs & HS_NEED_EIG) && hs_method_sme1->needs == HS_NEED_GRAD,
     "methods: what each needs at a point");
  /* the formulas at a few points against their closed forms */
  double z = 0.37, eta = 0.1, lam = z / eta, a, b;
  hs_method_hasme->spectral(1, &z, &a, &b);
  is_near(a, -log1p(-z) / z, 4e-16, "methods: HA-SME drift multiplier is phi1(z)");
  is_near(b, -2 * log1p(-z) / (z * (2 - z)), 4e-16, "methods: HA-SME diffusion multiplier is phi2(z)");
  is_near(hs_method_hasme->rate(lam, eta), -log1p(-z) / eta, 1e-14,
          "methods: HA-SME's OU rate is -log(1 - z)/eta");
  is_near(hs_method_sme2->rate(lam, eta), lam * (1 + z / 2), 1e-14,
          "methods: SME-2's OU rate is lambda (1 + z/2)");
  is_near(hs_method_sme2->hess_coef(eta), eta / 2, 0, "methods: SME-2 adds (eta/2) H g");
  ok(hs_method_outside(hs_method_hasme, 1.0) && !hs_method_outside(hs_method_hasme, 0.999) &&
         hs_method_outside(hs_method_hasme, NAN) && !hs_method_outside(hs_method_sme1, 1e300),
     "methods: HA-SME is defined for z < 1 only, SME-1 everywhere");
}

/* }==================================================================== */

/* {====================================================================
** Errors
** ===================================================================== */

static hs_sim base(double *x0, size_t *rec) {
  hs_sim s;
  setup(&s, &cases[1], x0, rec);
  s.x0_per_path = 0;
  return s;
}

static void checkmsg(hs_sim *s, hs_status want_st, const char *field, const char *want,
                     const char *what) {
  hs_sim_error err;
  hs_status st = hs_sim_check(s, &err);
  int good = st == want_st && strcmp(err.field, field) == 0 && strstr(err.msg, want) != NULL;
  ok(good, "check: %s is rejected, naming '%s'", what, field[0] ? field : "the request");
  if (!good) printf("#   got field '%s', message '%s'\n", err.field, err.msg);
}

static void test_check(void) {
  double x0[64];
  size_t rec[STEPS + 1];
  hs_sim s = base(x0, rec);
  hs_sim_error err;
  ok(hs_sim_check(&s, &err) == HS_OK, "check: a valid configuration passes");
  s = base(x0, rec), s.model.eta = -0.1;
  checkmsg(&s, HS_EINVAL, "eta", "must be positive and finite (got -0.1)", "a negative eta");
  s = base(x0, rec), s.model.eta = INFINITY;
  checkmsg(&s, HS_EINVAL, "eta", "must be positive and finite (got inf)", "an infinite eta");
  s = base(x0, rec), s.model.psd_tol = NAN;
  checkmsg(&s, HS_EINVAL, "psd_tol", "must be finite and non-negative", "a NaN psd_tol");
  s = base(x0, rec), s.model.method = hs_method_sgd, s.substeps = 3;
  checkmsg(&s, HS_EINVAL, "substeps", "sgd takes no substeps", "substeps given to SGD");
  s.coupled = 1;
  ok(hs_sim_check(&s, &err) == HS_OK, "check: substeps are accepted for coupled SGD");
  s = base(x0, rec), s.model.noise = cov3;
  checkmsg(&s, HS_EINVAL, "noise", "noise of dimension 3 used with dimension 2",
           "a noise of another dimension");
  size_t bad[] = {3, 2};
  s = base(x0, rec), s.record = bad, s.nrecord = 2;
  checkmsg(&s, HS_EINVAL, "record", "distinct, ascending", "descending record steps");
  s = base(x0, rec), s.model.obj = wells2, s.integrator = HS_EXACT;
  checkmsg(&s, HS_EINVAL, "integrator", "'exact' needs a quadratic", "exact on a non-quadratic");
  s = base(x0, rec), s.model.noise = batch;
  checkmsg(&s, HS_EINVAL, "noise", "minibatch noise needs a finite-sum objective",
           "minibatch noise on a quadratic");
  s = base(x0, rec), x0[1] = NAN;
  checkmsg(&s, HS_EINVAL, "x0", "non-finite entry at index 2", "a NaN start");
  x0[1] = 0.0;
  s = base(x0, rec), s.progress_interval = -1;
  checkmsg(&s, HS_EINVAL, "progress_interval", "non-negative", "a negative progress interval");
  /* 6 records x 9 paths x 2 dims = 864 bytes */
  s = base(x0, rec), s.memory_limit = 863;
  checkmsg(&s, HS_ESIZE, "", "the results need 864.0 B (6 recorded steps x 9 paths x 2 dims), "
           "more than memory_limit = 863.0 B", "outputs over the memory limit");
  s.memory_limit = 864;
  ok(hs_sim_check(&s, &err) == HS_OK, "check: outputs at the memory limit pass");
  s = base(x0, rec), s.paths = SIZE_MAX / 2;
  checkmsg(&s, HS_ESIZE, "", "too large to count", "outputs too large to count");

  /* defaults and outputs */
  s = base(x0, rec), s.substeps = 0, s.integrator = HS_INTEGRATOR_AUTO;
  hs_sim_resolve(&s);
  ok(s.substeps == HS_SUBSTEPS_DEFAULT && s.integrator == HS_EXACT && s.memory_limit > 0,
     "resolve: an SDE on a quadratic defaults to 10 substeps and the exact integrator");
  s = base(x0, rec), s.model.method = hs_method_sgd, s.substeps = 0;
  s.integrator = HS_INTEGRATOR_AUTO;
  hs_sim_resolve(&s);
  ok(s.substeps == 1 && s.integrator == HS_EULER, "resolve: SGD takes one substep");
  int64_t *e = NULL;
  hs_sim_out out;
  static const double a[] = {1.0, 0.0};
  hs_escape *esc = hs_escape_alloc(HS_ESC_HALFSPACE, 2, a, 0.5);
  s = base(x0, rec), s.escape = esc, s.record_undefined = 1;
  ok(hs_sim_out_alloc(&s, &out, &err) == HS_OK && out.snap != NULL &&
         (e = out.escape_step) != NULL && out.diverge_step == NULL &&
         out.undefined_step == e + PATHS,
     "outputs: one block holding the snapshots and the arrays the run fills");
  ok(hs_sim_run(&s, &out) == HS_OK && e[0] >= -1, "outputs: a run fills them");
  hs_sim_out_free(&out);
  hs_sim_out_free(&out);   /* idempotent */
  ok(out.snap == NULL && out.mem == NULL, "outputs: freed (twice, harmlessly)");
  hs_escape_free(esc);
  s = base(x0, rec);
  is_int(hs_sim_replicas(&s), 0, "replicas: none for thread-safe callbacks");
}

static void test_domain(void) {
  double x0[64];
  size_t rec[STEPS + 1];
  /* HA-SME on a double well at x = 0.9: f'' = 3 x^2 - 1 + tilt... = 1.43, eta = 0.8
  ** puts eta*lambda above 1 from the first step on the paths that start there. */
  static const gcase c = {"domain", "hasme", &wells1, &none, HS_EULER, 1, 0, 0.8, "general"};
  hs_sim s;
  setup(&s, &c, x0, rec);
  s.steps = 1;   /* the paths from 0 stay in the domain for this one step */
  s.nrecord = 2;
  for (size_t i = 0; i < PATHS; i++) x0[i] = i >= 5 ? 0.9 : 0.0;
  double snap[2 * PATHS];
  hs_sim_out out;
  memset(&out, 0, sizeof out);
  out.snap = snap;
  hs_status st = hs_sim_run(&s, &out);
  ok(st == HS_EDOM && out.err.path == 5 && out.err.step == 1 &&
         strcmp(out.err.what, "domain") == 0,
     "domain: HA-SME leaving its domain is reported at the first such path and step");
  is_near(out.err.value, 3 * 0.81 - 1, 1e-12, "domain: the eigenvalue is reported");
  int64_t und[PATHS];
  s.record_undefined = 1;
  out.undefined_step = und;
  st = hs_sim_run(&s, &out);
  ok(st == HS_OK && out.undefined == 4 && und[5] == 1 && und[4] == -1 && isnan(snap[PATHS + 5]),
     "domain: recorded when asked (4 paths undefined at step 1, state NaN)");
}

static void test_diverge(void) {
  double x0[64];
  size_t rec[STEPS + 1];
  /* SGD on a quadratic with eta * lambda_max = 2.55 > 2: every path diverges, the
  ** first non-finite state reported at path 1 */
  static const gcase c = {"diverge", "sgd", &quad2, &none, HS_EULER, 1, 0, 1.5, "linear"};
  hs_sim s;
  setup(&s, &c, x0, rec);
  s.steps = 2000;
  s.nrecord = 0;
  s.x0_per_path = 0;
  hs_sim_out out;
  memset(&out, 0, sizeof out);
  hs_status st = hs_sim_run(&s, &out);
  ok(st == HS_EDIVERGE && out.err.path == 0 && out.err.step > 10 &&
         strcmp(out.err.what, "path") == 0,
     "diverge: a non-finite state is an error naming path 1 and its step (%zu)",
     out.err.step);
  int64_t div[PATHS];
  s.record_diverged = 1;
  out.diverge_step = div;
  st = hs_sim_run(&s, &out);
  ok(st == HS_OK && out.diverged == PATHS && div[0] > 10 && div[0] == div[PATHS - 1],
     "diverge: recorded when asked, at the same step for identical noiseless paths");
}

/* }==================================================================== */

/* {====================================================================
** SVAG and shared normals
** ===================================================================== */

/* The last recorded states of a run over a case's model, with its method, substeps,
** SVAG's l and coupled normals replaced; NULL when the run fails (status in *st). */
static double *runwith(const gcase *c, const char *method, size_t substeps, size_t l,
                       size_t normals, hs_status *st) {
  hs_sim s;
  static double x0[PATHS * 32];
  static size_t rec[STEPS + 1];
  setup(&s, c, x0, rec);
  s.model.method = hs_method_find(method);
  s.substeps = substeps;
  s.svag_l = l;
  s.coupled = normals > 0;
  s.normals = normals;
  double *snap = calloc((STEPS + 1) * PATHS * s.model.dim, sizeof(double));
  hs_sim_out out;
  memset(&out, 0, sizeof out);
  out.snap = snap;
  *st = hs_sim_run(&s, &out);
  if (*st != HS_OK) {
    free(snap);
    return NULL;
  }
  return snap;
}

static double maxdiff(const double *a, const double *b, size_t n) {
  double w = 0.0;
  for (size_t i = 0; i < n; i++) w = fmax(w, fabs(a[i] - b[i]));
  return w;
}

static void test_models(void) {
  const gcase lin = {"lin", "sme1", &quad2, &cov2, HS_EULER, 1, 0, 0.3, "linear"};
  const gcase gen = {"gen", "sme1", &wells2, &cov2, HS_EULER, 1, 0, 0.2, "general"};
  const gcase *both[] = {&lin, &gen};
  size_t n = (STEPS + 1) * PATHS * 2;
  hs_status st1, st2;
  for (int i = 0; i < 2; i++) {
    /* With Gaussian noise c1 z1 + c2 z2 ~ sqrt(l) z: a SVAG step is an Euler step of
    ** SME-1 with dt = eta/l (to rounding: h |w| against sqrt(eta dt)). */
    double *a = runwith(both[i], "svag", 1, 4, 0, &st1);
    double *b = runwith(both[i], "sme1", 4, 0, 0, &st2);
    ok(a != NULL && b != NULL && maxdiff(a, b, n) < 1e-14,
       "svag: with Gaussian noise, l = 4 is SME-1's Euler scheme with 4 substeps (%s)",
       both[i]->name);
    free(a), free(b);
    /* Shared normals: 8 per step make 4 substeps of pairs, as the normalised sum the
    ** coarse run of an extrapolation uses; with 4 per step and 4 substeps a run is the
    ** uncoupled one. */
    a = runwith(both[i], "sme1", 4, 0, 4, &st1);
    b = runwith(both[i], "sme1", 4, 0, 0, &st2);
    ok(a != NULL && b != NULL && maxdiff(a, b, n) == 0.0,
       "coupled: one normal vector per substep is the uncoupled Euler run (%s)", both[i]->name);
    free(a), free(b);
    a = runwith(both[i], "sme1", 4, 0, 8, &st1);
    b = runwith(both[i], "sme1", 8, 0, 8, &st2);
    ok(a != NULL && b != NULL && maxdiff(a, b, n) > 0.0 && maxdiff(a, b, n) < 0.05,
       "coupled: 4 and 8 substeps on the same 8 normals per step stay close (%s)",
       both[i]->name);
    free(a), free(b);
  }
  /* l must divide the step's normals; svag_l is required */
  double *a = runwith(&gen, "svag", 1, 3, 8, &st1);
  ok(a == NULL && st1 == HS_EINVAL, "coupled: 3 SVAG steps cannot share 8 normals");
  a = runwith(&gen, "svag", 1, 0, 0, &st1);
  ok(a == NULL && st1 == HS_EINVAL, "svag: svag_l is required");
  /* l = 1 is SGD, bit for bit (|w| = 1 and one round of eta) */
  a = runwith(&gen, "svag", 1, 1, 0, &st1);
  double *b = runwith(&gen, "sgd", 1, 0, 0, &st2);
  ok(a != NULL && b != NULL && maxdiff(a, b, n) < 1e-15, "svag: l = 1 is SGD");
  free(a), free(b);
}

/* }==================================================================== */

/* {====================================================================
** Large quadratics: the set-up through the BLAS, its interruption, the estimate
** ===================================================================== */

/* A dense SPD matrix of order d with spectrum in [0.5, 1.5] and off-diagonal
** coupling: D + u u' / (4 d) with a deterministic u, symmetrised exactly. */
static void bigspd(size_t d, double *A, double scale) {
  for (size_t i = 0; i < d; i++)
    for (size_t j = 0; j <= i; j++) {
      double v = sin(0.7 * (double)i + 0.3) * sin(0.7 * (double)j + 0.3) / (4.0 * (double)d);
      if (i == j) v += scale * (0.5 + (double)i / (double)d);
      A[i * d + j] = A[j * d + i] = v;
    }
}

typedef struct estimate_seen {
  int calls;
  double total, rate, seconds, pilot;
} estimate_seen;

static void on_estimate(void *ctx, double total, double rate, double seconds, double pilot) {
  estimate_seen *e = ctx;
  e->calls++;
  e->total = total, e->rate = rate, e->seconds = seconds, e->pilot = pilot;
}

static void test_large(void) {
  enum { D = 150 };   /* above HS_BLAS_ORDER: products, Cholesky through the libraries */
  double *H = malloc(5 * D * D * sizeof(double));
  double *C = H + D * D, *M = C + D * D, *x0 = M + D * D;
  bigspd(D, H, 1.0);
  bigspd(D, C, 0.3);
  hs_objective *q = hs_quadratic_alloc(D, H, NULL);
  hs_status st;
  double minw;
  hs_noise *cov = hs_noise_const_alloc(D, C, 1e-10, &st, &minw);
  ok(q != NULL && cov != NULL && st == HS_OK, "large: a d = %d quadratic and covariance", D);
  hs_model md = {method_named("sgd"), D, 0.3, q, cov, 1, 1e-10};
  hs_model_info info = {0.0, 0, NULL};
  hs_linear lin;

  /* SGD: A = I - eta H, L = eta chol(Sigma), so L L' = eta^2 Sigma. */
  st = hs_linear_build(&lin, &md, H, NULL, 0, 1, 0, NULL, &info);
  double ea = 0.0, el = 0.0;
  for (size_t i = 0; i < D; i++)
    for (size_t j = 0; j < D; j++) {
      ea = fmax(ea, fabs(lin.A[i * D + j] - ((i == j) - 0.3 * H[i * D + j])));
      double s = 0.0;
      for (size_t k = 0; k < D; k++) s += lin.L[i * D + k] * lin.L[j * D + k];
      el = fmax(el, fabs(s - 0.09 * C[i * D + j]));
    }
  ok(st == HS_OK && ea < 1e-13 && el < 1e-14,
     "large: SGD's transition from the BLAS set-up (A off by %.2g, L L' by %.2g)", ea, el);
  hs_linear_free(&lin);

  /* HA-SME exact: its transition is SGD's (A = I - eta H, L L' = eta^2 Sigma), built
  ** through the eigenbasis products, the Hadamard product and the congruence. */
  md.method = method_named("hasme");
  st = hs_linear_build(&lin, &md, H, NULL, 1, 1, 0, NULL, &info);
  ea = el = 0.0;
  for (size_t i = 0; i < D; i++)
    for (size_t j = 0; j < D; j++) {
      ea = fmax(ea, fabs(lin.A[i * D + j] - ((i == j) - 0.3 * H[i * D + j])));
      double s = 0.0;
      for (size_t k = 0; k < D; k++) s += lin.L[i * D + k] * lin.L[j * D + k];
      el = fmax(el, fabs(s - 0.09 * C[i * D + j]));
    }
  ok(st == HS_OK && ea < 1e-12 && el < 1e-12,
     "large: HA-SME's exact transition equals SGD's (A off by %.2g, L L' by %.2g)", ea, el);
  hs_linear_free(&lin);

  /* The closed-form covariance at step 1 is eta^2 Sigma for SGD and HA-SME alike. */
  for (size_t i = 0; i < D; i++) x0[i] = 0.01 * (double)i;
  double *mean = malloc(D * sizeof(double));
  st = hs_exact_moments(&md, H, NULL, C, x0, 1, mean, M, &info);
  el = 0.0;
  for (size_t i = 0; i < D * D; i++) el = fmax(el, fabs(M[i] - 0.09 * C[i]));
  ok(st == HS_OK && el < 1e-12, "large: exact_moments of HA-SME at step 1 (off by %.2g)", el);
  free(mean);

  /* The interrupt flag, already set, stops the set-up before any work. */
  volatile sig_atomic_t flag = 1;
  info.part = NULL;
  st = hs_linear_build(&lin, &md, H, NULL, 1, 1, 0, &flag, &info);
  ok(st == HS_ECANCEL && info.part != NULL && strcmp(info.part, "interrupt") == 0,
     "large: the set-up answers the interrupt flag (HS_ECANCEL, part 'interrupt')");

  /* Through the driver: the run reports the interrupt, and with the flag clear the
  ** estimate hook sees the pilot block. */
  hs_sim sim;
  memset(&sim, 0, sizeof sim);
  sim.model = md;
  sim.model.method = method_named("sme1");
  sim.integrator = HS_EULER;
  sim.steps = 40;
  sim.substeps = 2;
  sim.paths = 37;
  sim.x0 = x0;
  sim.seed = 5;
  sim.threads = 1;
  sim.interrupt = &flag;
  hs_sim_out out;
  memset(&out, 0, sizeof out);
  st = hs_sim_run(&sim, &out);
  ok(st == HS_ECANCEL && strcmp(out.err.what, "interrupt") == 0 && out.err.step == 0,
     "large: an interrupt during the set-up ends the run as interrupted");
  flag = 0;
  /* A run shorter than the pilot is never announced. */
  estimate_seen seen = {0, 0.0, 0.0, 0.0, 0.0};
  sim.estimate = on_estimate;
  sim.estimate_ctx = &seen;
  sim.estimate_after = 1e-12;
  memset(&out, 0, sizeof out);
  st = hs_sim_run(&sim, &out);
  /* (on a slow machine, or under valgrind, the run may outlast its pilot: then it may
  ** be announced) */
  ok(st == HS_OK && (seen.calls == 0 || out.elapsed > HS_PILOT_SECONDS),
     "large: a run shorter than its pilot is not announced (%.2f s run)", out.elapsed);
  seen.calls = 0;
  /* A run of a few seconds (d = 2, 64 paths x 2e6 steps): the estimate comes once,
  ** after at least HS_PILOT_SECONDS, and adds up with the rate. */
  static const gcase lc = {"long", "sme1", &quad2, &iso, HS_EULER, 1, 0, 0.01, "linear"};
  hs_sim ls;
  double lx0[64 * 2];
  size_t lrec[STEPS + 1];
  setup(&ls, &lc, lx0, lrec);
  ls.paths = 64;
  for (size_t i = 0; i < 64 * 2; i++) lx0[i] = 0.1 * sin(1.0 + 0.37 * (double)i);   /* every path's start */
  ls.steps = 2000000;
  ls.nrecord = 0;
  ls.estimate = on_estimate;
  ls.estimate_ctx = &seen;
  ls.estimate_after = 1e-12;
  memset(&out, 0, sizeof out);
  st = hs_sim_run(&ls, &out);
  double total = 64.0 * 2000000.0;
  int fired = out.elapsed > 1.5 * HS_PILOT_SECONDS ? seen.calls == 1 : seen.calls <= 1;
  ok(st == HS_OK && fired && (seen.calls == 0 ||
         (seen.total == total && seen.pilot >= HS_PILOT_SECONDS && seen.rate > 0.0 &&
          seen.seconds > 0.0 && seen.seconds * seen.rate < total)),
     "large: a long run is announced once after its pilot (%d calls, %.2f s run, pilot "
     "%.2f s, estimate %.2f s)", seen.calls, out.elapsed, seen.pilot, seen.seconds);
  seen.calls = 0;
  ls.estimate_after = 1e9;
  memset(&out, 0, sizeof out);
  st = hs_sim_run(&ls, &out);
  ok(st == HS_OK && seen.calls == 0, "large: a run shorter than estimate_after is not announced");
  sim.estimate_after = -1.0;
  hs_sim_error err;
  ok(hs_sim_check(&sim, &err) == HS_EINVAL && strcmp(err.field, "estimate_after") == 0,
     "large: a negative estimate_after is refused, naming the field");
  hs_noise_free(cov);
  hs_objective_free(q);
  free(H);
}

/* }==================================================================== */

/* {====================================================================
** The linear kernel against its recursion written out
** ===================================================================== */

/* One path of the linear recursion x' = A x + c + L z, each sum in the kernel's
** order, z the next d variates of the path's stream (or, coupled, the scaled sum of
** the next `draws` vectors of d); its state at every step into xs ((steps + 1) x d). */
static void linear_path(const hs_linear *lin, uint64_t seed, size_t path, const double *x0,
                        size_t steps, double *xs) {
  size_t d = lin->dim;
  double z[17], y[17];   /* d <= 17 */
  hs_pcg r;
  hs_pcg_seed(&r, seed, path);
  memcpy(xs, x0, d * sizeof *xs);
  for (size_t k = 1; k <= steps; k++) {
    const double *x = xs + (k - 1) * d;
    double *xn = xs + k * d;
    memcpy(xn, x, d * sizeof *xn);
    for (size_t t = 0; t < lin->count; t++) {
      /* draws vectors of d variates, summed and scaled as the kernel does */
      double inv = 1.0 / sqrt((double)lin->draws);
      for (size_t j = 0; j < d && lin->L != NULL && lin->draws == 1; j++) z[j] = hs_normal(&r);
      for (size_t j = 0; j < d && lin->draws > 1; j++) z[j] = 0.0;
      for (size_t q = 0; q < lin->draws && lin->L != NULL && lin->draws > 1; q++)
        for (size_t j = 0; j < d; j++) z[j] += hs_normal(&r);
      for (size_t j = 0; j < d && lin->draws > 1; j++) z[j] *= inv;
      for (size_t i = 0; i < d; i++) {
        double acc = lin->c[i];
        for (size_t j = 0; j < d; j++) acc += lin->A[i * d + j] * xn[j];
        for (size_t j = 0; lin->L != NULL && j < (lin->lower ? i + 1 : d); j++)
          acc += lin->L[i * d + j] * z[j];
        y[i] = acc;
      }
      memcpy(xn, y, d * sizeof *xn);
    }
  }
}

enum { LP = 19, LS = 40 };   /* three blocks, the last partly filled */

/* Runs s (a linear model over the quadratic H, b) and compares every path's recorded
** states with its recursion. Returns 1 when they are equal; *lower says whether the
** transition's L is lower triangular. */
static int linear_case(hs_sim *s, const double *H, const double *b, int *lower) {
  size_t d = s->model.dim, nr = s->nrecord;
  double *snap = calloc(nr * LP * d, sizeof *snap), *ref = malloc((LS + 1) * d * sizeof *ref);
  hs_sim_out out;
  memset(&out, 0, sizeof out);
  out.snap = snap;
  hs_linear lin;
  hs_model_info info = {0.0, 0, NULL};
  int same = snap != NULL && ref != NULL && hs_sim_run(s, &out) == HS_OK &&
             strcmp(out.kernel, "linear") == 0;
  if (same && hs_linear_build(&lin, &s->model, H, b, s->integrator == HS_EXACT,
                              hs_sim_rounds(s), hs_sim_normals(s), NULL, &info) == HS_OK) {
    for (size_t p = 0; p < LP; p++) {
      linear_path(&lin, s->seed, p, s->x0 + p * d, LS, ref);
      for (size_t k = 0; k < nr; k++)
        same &= memcmp(snap + (k * LP + p) * d, ref + s->record[k] * d, d * sizeof *ref) == 0;
    }
    *lower = lin.lower;
    hs_linear_free(&lin);
  }
  else same = 0;
  free(snap);
  free(ref);
  return same;
}

/* The linear kernel keeps a small block's state in vector registers between recorded
** steps and draws its normals inline (d <= 8); larger ones go through memory and a
** buffer of normals (transition by transition, and row by row above d = 16). On
** every code path, whatever the dimension, the noise, the number of transitions per
** step and the recorded steps (a few, or the last), every path must be its recursion
** bit for bit. */
static void test_linear_reference(void) {
  const char *methods[] = {"sgd", "sme1", "hasme", "sgd", "hasme"};
  const hs_integrator integs[] = {HS_EULER, HS_EULER, HS_EXACT, HS_EULER, HS_EXACT};
  const size_t subs[] = {1, 3, 1, 4, 4};
  const int coupled[] = {0, 0, 0, 1, 1};   /* 4 normal vectors per step */
  static const size_t recs[][4] = {{0, 7, 8, LS}, {LS, 0, 0, 0}};
  const size_t nrecs[] = {4, 1};
  static const size_t dims[] = {1, 2, 3, 4, 6, 8, 9, 17};
  int all = 1, runs = 0, lowers = 0;
  for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++) {
    size_t d = dims[di];
    double H[17 * 17], b[17], C[17 * 17], x0[LP * 17];
    for (size_t i = 0; i < d; i++)
      for (size_t j = 0; j < d; j++) {
        H[i * d + j] = i == j ? 1.1 + 0.3 * (double)i : 0.15 / (double)(1 + i + j);
        C[i * d + j] = (i == j ? 0.4 + 0.1 * (double)i : 0.0) + 0.05;
      }
    for (size_t i = 0; i < d; i++) b[i] = 0.2 - 0.07 * (double)i;
    for (size_t i = 0; i < LP * d; i++) x0[i] = 0.3 * sin(0.7 + 0.91 * (double)i);
    hs_status st;
    double minw;
    hs_objective *q = hs_quadratic_alloc(d, H, b);
    hs_noise *noises[] = {hs_noise_none_alloc(), hs_noise_iso_alloc(0.35),
                          hs_noise_const_alloc(d, C, 1e-10, &st, &minw)};
    for (int isa = 0; isa < HS_ISA_COUNT; isa++) {
      if (hs_isa_set((hs_isa)isa) != HS_OK) continue;   /* a path this processor lacks */
      for (size_t c = 0; c < 3 * 5 * 2; c++) {
        size_t ni = c / 10, mi = c / 2 % 5, ri = c % 2;
        hs_sim s;
        memset(&s, 0, sizeof s);
        s.model = (hs_model){.method = hs_method_find(methods[mi]), .dim = d, .eta = 0.1,
                             .obj = q, .noise = noises[ni], .psd_project = 1,
                             .psd_tol = 1e-10};
        s.integrator = integs[mi], s.substeps = subs[mi], s.coupled = coupled[mi];
        s.steps = LS, s.paths = LP, s.seed = 4711 + d, s.threads = 1;
        s.x0 = x0, s.x0_per_path = 1, s.record = recs[ri], s.nrecord = nrecs[ri];
        int lower = 0, same = linear_case(&s, H, b, &lower);
        if (!same)
          printf("#   %s: d = %zu, noise %zu, %s, records %zu differ\n",
                 hs_isa_name((hs_isa)isa), d, ni, methods[mi], ri);
        all &= same;
        lowers += lower;
        runs++;
      }
    }
    for (size_t ni = 0; ni < 3; ni++) hs_noise_free(noises[ni]);
    hs_objective_free(q);
  }
  hs_isa_set(hs_isa_best());
  printf("# %d of the runs with a lower triangular L\n", lowers);
  ok(all, "linear kernel: %d runs (every code path, d = 1 to 17, three noises, Euler with 1 "
     "and 3 transitions, exact, coupled, records sparse and last) equal the recursion bit "
     "for bit", runs);
}

/* }==================================================================== */

int main(void) {
  fixtures();
  test_golden();
  if (getenv("HS_GOLDEN_WRITE") == NULL) {
    test_linear_reference();
    test_threads();
    test_refill();
    test_refill_failure();
    test_methods();
    test_replicas();
    test_factor();
    test_check();
    test_domain();
    test_diverge();
    test_models();
    test_large();
  }
  freefixtures();
  return tap_done();
}
