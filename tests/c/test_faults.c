/*
** test_faults.c: allocation failure in the core. An allocation hook
** (hs_set_alloc_hook) refuses the k-th allocation of a call, or every allocation
** from the k-th on, for each k up to the number the call makes; every entry point
** that allocates (noise models, objectives, escape criteria, the outputs of a run,
** hs_sim_run through each kernel and with several threads and callback replicas,
** the linear transition, the closed-form moments, the LAPACK eigensolver) must then
** return HS_ENOMEM or NULL, or degrade to a correct result, and release what it
** took. The statistics functions must not allocate at all.
**
** Leaks: under glibc the bytes in use (mallinfo2) are compared before and after each
** call; `make valgrind` and the sanitizer build (LeakSanitizer) check the same
** independently.
*/
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "hs_escape.h"
#include "hs_exact.h"
#include "hs_finsum.h"
#include "hs_linalg.h"
#include "hs_nn.h"
#include "hs_sim.h"
#include "hs_stats.h"
#include "hs_util.h"
#include "tap.h"

/* {====================================================================
** The hook and the driver
** ===================================================================== */

/* Allocation k (1-based, counted from arm()) is refused when k == at, or k >= at
** when persist is set; at = 0 refuses nothing. Worker threads may allocate, hence
** the atomics. */
static struct {
  atomic_size_t calls, refused;
  size_t at;
  int persist;
} fault;

static int refuse(void *ctx, size_t bytes) {
  (void)ctx;
  (void)bytes;
  size_t k = atomic_fetch_add(&fault.calls, 1) + 1;
  int no = fault.at != 0 && (k == fault.at || (fault.persist && k > fault.at));
  if (no) atomic_fetch_add(&fault.refused, 1);
  return no;
}

static void arm(size_t at, int persist) {
  atomic_store(&fault.calls, 0);
  atomic_store(&fault.refused, 0);
  fault.at = at;
  fault.persist = persist;
  hs_set_alloc_hook(refuse, NULL);
}

static void disarm(void) { hs_set_alloc_hook(NULL, NULL); }

/* Bytes the C library has handed out and not taken back, when they can be counted
** exactly (0 otherwise: the leak check then rests on valgrind and LeakSanitizer).
** glibc keeps freed small blocks in per-thread caches that mallinfo2 counts as in
** use; the count is exact only with those caches off, which takes a tunable read at
** start-up: main re-executes the test with it (not under valgrind or ASan, which
** replace malloc and check leaks themselves). */
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 33) && \
    !defined(__SANITIZE_ADDRESS__)
#define COUNTED 1
#else
#define COUNTED 0
#endif

static int counted = 0;

static void counting(char **argv) {
#if COUNTED
  const char *t = getenv("GLIBC_TUNABLES"), *pre = getenv("LD_PRELOAD");
  if (t != NULL && strstr(t, "glibc.malloc.tcache_count=0") != NULL) {
    counted = 1;
    return;
  }
  if (pre != NULL && strstr(pre, "vgpreload") != NULL) return;   /* under valgrind */
  char tun[512];
  snprintf(tun, sizeof tun, "%s%sglibc.malloc.tcache_count=0", t != NULL ? t : "",
           t != NULL && *t != '\0' ? ":" : "");
  setenv("GLIBC_TUNABLES", tun, 1);
  execv("/proc/self/exe", argv);   /* returns only on failure: then no count */
#else
  (void)argv;
#endif
}

static size_t inuse(void) {
#if COUNTED
  if (counted) {
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
  }
#endif
  return 0;
}

/* What one call of a case did. A case makes its call, checks what came back against
** the reference taken without a fault and releases it: RUN_OK (a correct result,
** possibly by a path that needs less memory), RUN_NOMEM (HS_ENOMEM or NULL, as its
** contract says), or RUN_WRONG with the reason in why. */
typedef enum { RUN_OK, RUN_NOMEM, RUN_WRONG } outcome;
typedef outcome (*case_fn)(const void *arg, char *why, size_t n);

/* Run fn with no fault (it must succeed; this also counts its allocations, n), then
** with allocation k refused for k = 1..n, then with every allocation from k on
** refused. Each must give RUN_OK or RUN_NOMEM and leave the bytes in use as they
** were. must_fail: a refused allocation cannot be survived (no fallback exists),
** so every faulty call must give RUN_NOMEM. */
static void inject(const char *name, case_fn fn, const void *arg, int must_fail) {
  char why[256] = "";
  arm(0, 0);
  outcome o = fn(arg, why, sizeof why);   /* warms up what is loaded once (LAPACK) */
  arm(0, 0);
  o = fn(arg, why, sizeof why);
  size_t n = atomic_load(&fault.calls);
  disarm();
  if (!ok(o == RUN_OK && n > 0, "%s: succeeds without a fault, making %zu allocations", name,
          n)) {
    printf("#   %s\n", why);
    return;
  }
  for (int persist = 0; persist <= 1; persist++) {
    size_t nomem = 0, survived = 0, wrong = 0, leaks = 0, leaked = 0, kwrong = 0;
    char first[256] = "";
    for (size_t k = 1; k <= n; k++) {
      size_t before = inuse();
      arm(k, persist);
      why[0] = '\0';
      o = fn(arg, why, sizeof why);
      size_t refused = atomic_load(&fault.refused);
      disarm();
      size_t after = inuse();
      if (after != before) leaks++, leaked += after - before;
      if (o == RUN_NOMEM) nomem++;
      else if (o == RUN_OK && !must_fail) survived++;
      else if (o == RUN_OK && refused == 0) survived++;   /* the fault was not reached */
      else {
        if (wrong++ == 0) {
          kwrong = k;
          snprintf(first, sizeof first, "%s", o == RUN_OK ? "succeeded despite the fault" : why);
        }
      }
    }
    if (!ok(wrong == 0 && leaks == 0 && nomem > 0,
            "%s: allocation k refused%s, k = 1..%zu: %zu give HS_ENOMEM, %zu recover, "
            "no leak", name, persist ? " and all after it" : "", n, nomem, survived)) {
      if (wrong > 0) printf("#   %zu wrong outcomes; the first at k = %zu: %s\n", wrong, kwrong,
                            first);
      if (leaks > 0) printf("#   %zu calls leaked %zu bytes in all\n", leaks, leaked);
      if (nomem == 0) printf("#   no call reported the refused allocation\n");
    }
  }
}

static outcome wrong(char *why, size_t n, const char *fmt, const char *what) {
  snprintf(why, n, fmt, what);
  return RUN_WRONG;
}

static int same(const double *a, const double *b, size_t n) {
  return n == 0 || memcmp(a, b, n * sizeof(double)) == 0;
}

/* }==================================================================== */

/* {====================================================================
** Noise models, objectives, escape criteria
** ===================================================================== */

typedef struct noisecase {
  int kind;          /* 0 none, 1 iso, 2 const, 3 state, 4 batch */
  size_t d;
  const double *cov;
} noisecase;

static hs_status zerocov(void *ctx, const double *x, double *C) {
  (void)ctx;
  C[0] = 0.3 + 0.1 * x[0] * x[0];
  C[1] = C[2] = 0.05;
  C[3] = 0.25;
  return HS_OK;
}

static outcome run_noise(const void *arg, char *why, size_t n) {
  const noisecase *c = arg;
  hs_status st = HS_OK;
  double minw = 0.0;
  hs_noise *nz = NULL;
  switch (c->kind) {
    case 0: nz = hs_noise_none_alloc(); break;
    case 1: nz = hs_noise_iso_alloc(0.37); break;
    case 2: nz = hs_noise_const_alloc(c->d, c->cov, 1e-10, &st, &minw); break;
    case 3: nz = hs_noise_state_alloc(2, zerocov, NULL, 1, NULL); break;
    default: nz = hs_noise_batch_alloc(5, 1, 0); break;
  }
  if (nz == NULL)
    return st == HS_ENOMEM || c->kind != 2 ? RUN_NOMEM
                                           : wrong(why, n, "NULL with status %s",
                                                   hs_strstatus(st));
  outcome o = RUN_OK;
  if (c->kind == 2) {
    /* the factor F must satisfy F F' = cov, and cov must be a copy */
    size_t d = c->d;
    double err = 0.0;
    for (size_t i = 0; i < d; i++)
      for (size_t j = 0; j < d; j++) {
        double s = 0.0;
        for (size_t k = 0; k < d; k++) s += nz->factor[i * d + k] * nz->factor[j * d + k];
        err = fmax(err, fabs(s - c->cov[i * d + j]));
      }
    if (st != HS_OK || err > 1e-12 || !same(nz->cov, c->cov, d * d))
      o = wrong(why, n, "a wrong constant noise (%s)", hs_strstatus(st));
  }
  hs_noise_free(nz);
  return o;
}

typedef struct objcase {
  int kind;          /* 0 quadratic, 1 wells, 2 saddle, 3 rosenbrock, 4 least squares,
                        5 logistic, 6 network */
} objcase;

static hs_objective *makeobj(int kind) {
  static const double H[] = {2.3, 0.4, 0.1, 0.4, 1.7, -0.2, 0.1, -0.2, 0.9};
  static const double b[] = {0.3, -0.7, 0.2}, lam[] = {1.5, -0.8, 0.4};
  static const double A[] = {0.3, -1.1, 0.8, 0.5, 1.4, -0.2, -0.6, 0.9, 0.1, 1.2, -0.4, 0.7};
  static const double y[] = {0.5, -1.0, 1.0, -1.0}, ylab[] = {1.0, -1.0, 1.0, -1.0};
  switch (kind) {
    case 0: return hs_quadratic_alloc(3, H, b);
    case 1: return hs_wells_alloc(3, H, b);
    case 2: return hs_saddle_alloc(3, lam, 0.25);
    case 3: return hs_rosenbrock_alloc(3, 1.0, 100.0);
    case 4: return hs_least_squares_alloc(4, 3, A, y, 0.01);
    case 5: return hs_logistic_alloc(4, 3, A, ylab, 0.01);
    default: return hs_nn_alloc(4, 3, 2, A, y, 0.01);
  }
}

/* f and its gradient at a fixed point, with the objective's own workspace. */
static hs_status evalobj(const hs_objective *o, double *f, double *g) {
  double x[16], work[256];
  for (size_t i = 0; i < o->dim; i++) x[i] = 0.3 - 0.17 * (double)i;
  if (o->worksize > sizeof work / sizeof work[0]) return HS_ESIZE;
  hs_status st = hs_objective_value(o, x, f, work);
  return st != HS_OK ? st : hs_objective_grad(o, x, g, work);
}

static outcome run_objective(const void *arg, char *why, size_t n) {
  const objcase *c = arg;
  disarm();
  hs_objective *ref = makeobj(c->kind);   /* the reference, made without the hook */
  double f0, g0[16], f, g[16];
  hs_status st0 = evalobj(ref, &f0, g0);
  size_t k = fault.at;
  int persist = fault.persist;
  arm(k, persist);
  hs_objective *o = makeobj(c->kind);
  outcome res = RUN_NOMEM;
  if (o != NULL) {
    hs_status st = evalobj(o, &f, g);
    res = st0 == HS_OK && st == HS_OK && f == f0 && same(g, g0, o->dim)
              ? RUN_OK
              : wrong(why, n, "a wrong objective (%s)", hs_strstatus(st));
  }
  hs_objective_free(o);
  hs_set_alloc_hook(NULL, NULL);
  hs_objective_free(ref);
  hs_set_alloc_hook(refuse, NULL);
  return res;
}

static hs_status never(void *ctx, const double *x, int *escaped) {
  (void)ctx;
  *escaped = x[0] > 1e300;
  return HS_OK;
}

static outcome run_escape(const void *arg, char *why, size_t n) {
  static const double v[] = {0.6, -0.8};
  int kind = *(const int *)arg;
  hs_escape *e = kind == 0   ? hs_escape_alloc(HS_ESC_HALFSPACE, 2, v, 0.5)
                 : kind == 1 ? hs_escape_alloc(HS_ESC_BALL, 2, v, 2.0)
                             : hs_escape_callback_alloc(never, NULL, NULL);
  if (e == NULL) return RUN_NOMEM;
  outcome o = RUN_OK;
  if (kind < 2 && (e->v == NULL || !same(e->v, v, 2))) o = wrong(why, n, "%s", "v not copied");
  if (kind == 2 && e->fn != never) o = wrong(why, n, "%s", "callback not kept");
  hs_escape_free(e);
  return o;
}

/* }==================================================================== */

/* {====================================================================
** Runs
** ===================================================================== */

#define STEPS 4

typedef struct runcase {
  const char *method;
  hs_objective **obj;
  hs_noise **noise;
  hs_integrator integ;
  size_t paths, threads, substeps;
  int escape;            /* a built-in criterion and on_diverge = record */
  int replicas;          /* the noise is not thread safe: replicas of it */
  double eta;
  double *ref;           /* the snapshots of the run without a fault */
  int64_t *refesc;
} runcase;

static hs_objective *quad3, *wells2, *nn;
static hs_noise *cov3, *iso, *state2, *batch;
static hs_escape *ball;

/* A state-dependent covariance (thread safe in itself; runs may declare it not, to
** get replicas). */
static hs_status statecov(void *ctx, const double *x, double *C) {
  (void)ctx;
  C[0] = 0.3 + 0.1 * x[0] * x[0] + 0.05;
  C[1] = C[2] = 0.05;
  C[3] = 0.2 + 0.05;
  return HS_OK;
}

/* The replicate hook: a copy of the state noise, made with the core's allocator (so
** its allocation may be refused too: the run then goes on without replicas). */
static int replicate(void *ctx, size_t i, hs_replica *rep, char *why, size_t whyn) {
  (void)ctx;
  (void)i;
  hs_noise *nz = hs_noise_state_alloc(2, statecov, NULL, 0, NULL);
  if (nz == NULL) {
    snprintf(why, whyn, "not enough memory for replica %zu", i + 1);
    return 1;
  }
  rep->obj = NULL;
  rep->noise = nz;
  rep->escape = NULL;
  return 0;
}

static hs_noise *replicas[8];
static size_t nreplicas;

static int replicate_kept(void *ctx, size_t i, hs_replica *rep, char *why, size_t whyn) {
  int r = replicate(ctx, i, rep, why, whyn);
  if (r == 0) replicas[nreplicas++] = (hs_noise *)(uintptr_t)rep->noise;
  return r;
}

static void freereplicas(void) {
  for (size_t i = 0; i < nreplicas; i++) hs_noise_free(replicas[i]);
  nreplicas = 0;
}

static void setup(hs_sim *s, const runcase *c, double *x0, size_t *rec) {
  size_t d = (*c->obj)->dim;
  memset(s, 0, sizeof *s);
  s->model.method = hs_method_find(c->method);
  s->model.dim = d;
  s->model.eta = c->eta;
  s->model.obj = *c->obj;
  s->model.noise = *c->noise;
  s->model.psd_project = 1;
  s->model.psd_tol = 1e-10;
  s->integrator = c->integ;
  s->steps = STEPS;
  s->substeps = c->substeps;
  s->paths = c->paths;
  s->seed = 4711;
  s->threads = c->threads;
  for (size_t i = 0; i < d; i++) x0[i] = 0.2 - 0.13 * (double)i;
  s->x0 = x0;
  for (size_t k = 0; k <= STEPS; k++) rec[k] = k;
  s->record = rec;
  s->nrecord = STEPS + 1;
  if (c->escape) {
    s->escape = ball;
    s->record_diverged = 1;
  }
  if (c->replicas) {
    s->replicate = replicate_kept;
    s->memory_limit = 0;
  }
}

/* hs_sim_out_alloc then hs_sim_run, the way the bindings drive a run. */
static outcome run_sim(const void *arg, char *why, size_t n) {
  runcase *c = (runcase *)(uintptr_t)arg;
  hs_sim s;
  double x0[64];
  size_t rec[STEPS + 1];
  setup(&s, c, x0, rec);
  hs_sim_error err;
  hs_sim_out out;
  if (hs_sim_check(&s, &err) != HS_OK) return wrong(why, n, "check: %s", err.msg);
  hs_sim_resolve(&s);
  hs_status st = hs_sim_out_alloc(&s, &out, &err);
  if (st == HS_ENOMEM) {
    if (out.mem != NULL || strstr(err.msg, "could not provide") == NULL)
      return wrong(why, n, "hs_sim_out_alloc: %s", "ENOMEM without its message");
    return RUN_NOMEM;
  }
  if (st != HS_OK) return wrong(why, n, "hs_sim_out_alloc: %s", hs_strstatus(st));
  st = hs_sim_run(&s, &out);
  freereplicas();
  size_t nsnap = (STEPS + 1) * s.paths * s.model.dim;
  outcome o = RUN_OK;
  if (st == HS_ENOMEM) o = RUN_NOMEM;
  else if (st != HS_OK) o = wrong(why, n, "hs_sim_run: %s", hs_strstatus(st));
  else if (c->ref == NULL) {
    /* the first run: keep its outputs as the reference (outside the hook) */
    c->ref = malloc(nsnap * sizeof(double));
    memcpy(c->ref, out.snap, nsnap * sizeof(double));
    if (c->escape) {
      c->refesc = malloc(s.paths * sizeof(int64_t));
      memcpy(c->refesc, out.escape_step, s.paths * sizeof(int64_t));
    }
  }
  else if (!same(out.snap, c->ref, nsnap) ||
           (c->escape && memcmp(out.escape_step, c->refesc, s.paths * sizeof(int64_t)) != 0))
    o = wrong(why, n, "%s", "results differ from the run without a fault");
  hs_sim_out_free(&out);
  return o;
}

/* hs_linear_build, and hs_exact_moments on the same model. */
static outcome run_linear(const void *arg, char *why, size_t n) {
  const char *method = arg;
  hs_model m = {hs_method_find(method), 3, 0.1, quad3, cov3, 0, 1e-10};
  const hs_quadratic_params *q = quad3->params;
  hs_linear lin;
  hs_model_info info = {0.0, 0, NULL};
  hs_status st = hs_linear_build(&lin, &m, q->H, q->b, 1, 1, 0, &info);
  if (st == HS_ENOMEM) {
    if (lin.A != NULL) return wrong(why, n, "%s", "hs_linear_build kept its block");
    return RUN_NOMEM;
  }
  if (st != HS_OK) return wrong(why, n, "hs_linear_build: %s", hs_strstatus(st));
  hs_linear_free(&lin);
  static const double x0[] = {0.4, -0.3, 0.2};
  double mean[3], cov[9];
  st = hs_exact_moments(&m, q->H, q->b, cov3->cov, x0, 7, mean, cov, &info);
  if (st == HS_ENOMEM) return RUN_NOMEM;
  if (st != HS_OK) return wrong(why, n, "hs_exact_moments: %s", hs_strstatus(st));
  return RUN_OK;
}

/* The LAPACK path of the eigensolver, which allocates its workspace. */
static outcome run_eig(const void *arg, char *why, size_t n) {
  (void)arg;
  enum { N = 24 };
  double A[N * N], w[N], V[N * N];
  for (size_t i = 0; i < N; i++)
    for (size_t j = 0; j <= i; j++)
      A[i * N + j] = A[j * N + i] = i == j ? 2.0 + (double)i : 0.3 / (1.0 + (double)(i + j));
  hs_status st = hs_eig_lapack(N, A, w, V);
  if (st == HS_ENOMEM) return RUN_NOMEM;
  if (st != HS_OK) return wrong(why, n, "hs_eig_lapack: %s", hs_strstatus(st));
  double tr = 0.0, sw = 0.0;
  for (size_t i = 0; i < N; i++) tr += A[i * N + i], sw += w[i];
  return fabs(tr - sw) < 1e-10 * tr ? RUN_OK : wrong(why, n, "%s", "wrong eigenvalues");
}

/* }==================================================================== */

/* {====================================================================
** The statistics allocate nothing
** ===================================================================== */

static void test_stats(void) {
  enum { N = 200, D = 3 };
  static double x[N], y[N], X[N * D], steps[N], work[4096], sorted[N];
  for (size_t i = 0; i < N; i++) {
    x[i] = sin(0.37 * (double)i) + 0.01 * (double)i;
    y[i] = cos(0.53 * (double)i);
    for (size_t j = 0; j < D; j++) X[i * D + j] = sin(0.1 * (double)(i * (j + 2)) + (double)j);
    steps[i] = i % 3 == 0 ? -1.0 : (double)(1 + i % 17);
  }
  double res[2][16];
  for (int pass = 0; pass < 2; pass++) {
    if (pass == 1) arm(1, 1);   /* every allocation refused */
    double *r = res[pass];
    hs_stats_moments mo;
    hs_stats_describe(N, x, &mo);
    r[0] = mo.var;
    double mean[D], C[D * D], C2[D * D];
    hs_stats_cov(N, D, X, mean, C);
    r[1] = C[1];
    memcpy(sorted, x, sizeof x);
    hs_stats_sort(N, sorted);
    r[2] = hs_stats_quantile_sorted(N, sorted, 0.3);
    r[3] = hs_stats_ks2_stat(N, x, N, y);
    r[4] = hs_stats_ks2_worksize(N, N, r[3]) <= 4096 ? hs_stats_ks2_pvalue(N, N, r[3], work)
                                                      : -1.0;
    for (size_t i = 0; i < D * D; i++) C2[i] = C[i] + (i % (D + 1) == 0 ? 0.1 : 0.0);
    hs_stats_gauss_info info;
    r[5] = hs_stats_gauss_w2(D, mean, C, mean, C2, 1e-10, &r[6], work, &info);
    r[7] = hs_stats_gauss_kl(D, mean, C, mean, C2, 1e-10, &r[8], work, &info);
    hs_stats_escape es;
    hs_stats_escape_summary(N, steps, 20, 0.95, 1.959964, work, &es);
    r[9] = es.prob;
    r[10] = es.median;
    hs_stats_weak ws;
    hs_stats_weak_error(N, x, N, y, 1, 0.95, &ws);
    r[11] = ws.se;
  }
  size_t asked = atomic_load(&fault.calls);
  disarm();
  ok(asked == 0 && memcmp(res[0], res[1], 12 * sizeof(double)) == 0,
     "statistics (describe, cov, quantile, ks2, gauss_w2, gauss_kl, escape summary, weak "
     "error) allocate nothing (%zu allocations asked for)", asked);
}

/* }==================================================================== */

int main(int argc, char **argv) {
  (void)argc;
  counting(argv);
  printf("# leaks counted %s\n", counted ? "by bytes in use (mallinfo2, no thread caches)"
                                          : "by valgrind or LeakSanitizer only");
  static const double C2[] = {0.5, 0.2, 0.2, 0.3};
  static const double C3[] = {0.4, 0.1, 0.05, 0.1, 0.3, 0.02, 0.05, 0.02, 0.2};
  static const double S3[] = {1.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.5};  /* singular */
  static const double H3[] = {1.7, 0.4, 0.1, 0.4, 0.6, 0.05, 0.1, 0.05, 0.9};
  static const double b3[] = {0.3, -0.2, 0.1};
  static const double Q2[] = {0.3, 0.1, 0.1, -0.2}, t2[] = {0.05, -0.1};
  static double Cbig[40 * 40];
  for (size_t i = 0; i < 40; i++)
    for (size_t j = 0; j < 40; j++)
      Cbig[i * 40 + j] = (i == j ? 1.0 : 0.0) + 0.5 / (1.0 + (double)(i > j ? i - j : j - i));

  /* noise models */
  static const noisecase nc[] = {{0, 0, NULL}, {1, 0, NULL}, {2, 2, C2}, {2, 3, S3},
                                 {2, 40, Cbig}, {3, 2, NULL}, {4, 0, NULL}};
  static const char *const ncname[] = {"hs_noise_none_alloc", "hs_noise_iso_alloc",
                                       "hs_noise_const_alloc (d = 2, Cholesky)",
                                       "hs_noise_const_alloc (d = 3, singular)",
                                       "hs_noise_const_alloc (d = 40)", "hs_noise_state_alloc",
                                       "hs_noise_batch_alloc"};
  for (size_t i = 0; i < sizeof nc / sizeof nc[0]; i++) inject(ncname[i], run_noise, &nc[i], 1);

  /* objectives */
  static const objcase oc[] = {{0}, {1}, {2}, {3}, {4}, {5}, {6}};
  static const char *const ocname[] = {"hs_quadratic_alloc", "hs_wells_alloc",
                                       "hs_saddle_alloc", "hs_rosenbrock_alloc",
                                       "hs_least_squares_alloc", "hs_logistic_alloc",
                                       "hs_nn_alloc"};
  for (size_t i = 0; i < sizeof oc / sizeof oc[0]; i++)
    inject(ocname[i], run_objective, &oc[i], 1);

  /* escape criteria */
  static const int ec[] = {0, 1, 2};
  inject("hs_escape_alloc (halfspace)", run_escape, &ec[0], 1);
  inject("hs_escape_alloc (ball)", run_escape, &ec[1], 1);
  inject("hs_escape_callback_alloc", run_escape, &ec[2], 1);

  /* runs: fixtures made without the hook */
  double X[12 * 2], y[12];
  for (int i = 0; i < 12; i++) {
    X[2 * i] = sin(1.3 * i), X[2 * i + 1] = cos(0.7 * i);
    y[i] = 0.5 * X[2 * i] - 0.25 * X[2 * i + 1] * X[2 * i + 1];
  }
  hs_status st;
  double minw;
  static const double center[] = {0.0, 0.0};
  quad3 = hs_quadratic_alloc(3, H3, b3);
  wells2 = hs_wells_alloc(2, Q2, t2);
  nn = hs_nn_alloc(12, 2, 2, X, y, 0.01);
  cov3 = hs_noise_const_alloc(3, C3, 1e-10, &st, &minw);
  iso = hs_noise_iso_alloc(0.45);
  state2 = hs_noise_state_alloc(2, statecov, NULL, 0, NULL);   /* not thread safe */
  batch = hs_noise_batch_alloc(4, 0, 0);
  ball = hs_escape_alloc(HS_ESC_BALL, 2, center, 0.9);

  static runcase rc[] = {
    {"hasme", &quad3, &cov3, HS_EXACT, 9, 1, 1, 0, 0, 0.2, NULL, NULL},
    {"sme2", &quad3, &cov3, HS_EULER, 40, 3, 3, 0, 0, 0.2, NULL, NULL},
    {"sgd", &quad3, &iso, HS_EULER, 30, 2, 1, 0, 0, 0.2, NULL, NULL},
    {"hasme", &wells2, &iso, HS_EULER, 20, 2, 2, 1, 0, 0.2, NULL, NULL},
    {"sme1", &wells2, &state2, HS_EULER, 2000, 3, 4, 0, 1, 0.1, NULL, NULL},
    {"sgd", &nn, &batch, HS_EULER, 17, 2, 1, 0, 0, 0.2, NULL, NULL},
    {"hasme", &nn, &batch, HS_EULER, 9, 1, 2, 0, 0, 0.05, NULL, NULL},
  };
  static const char *const rcname[] = {
      "hs_sim_run (linear, exact, 1 thread)", "hs_sim_run (linear, Euler, 3 threads)",
      "hs_sim_run (linear, SGD, 2 threads)",
      "hs_sim_run (general, lanes, escape and on_diverge, 2 threads)",
      "hs_sim_run (general, state noise with replicas, 3 threads)",
      "hs_sim_run (general, minibatch, 2 threads)",
      "hs_sim_run (general, HA-SME minibatch, 1 thread)"};
  for (size_t i = 0; i < sizeof rc / sizeof rc[0]; i++) {
    inject(rcname[i], run_sim, &rc[i], 0);
    free(rc[i].ref);
    free(rc[i].refesc);
  }
  inject("hs_linear_build and hs_exact_moments (HA-SME)", run_linear, "hasme", 1);
  inject("hs_linear_build and hs_exact_moments (SME-2)", run_linear, "sme2", 1);
  inject("hs_eig_lapack (n = 24)", run_eig, NULL, 1);
  test_stats();

  hs_objective_free(quad3);
  hs_objective_free(wells2);
  hs_objective_free(nn);
  hs_noise_free(cov3);
  hs_noise_free(iso);
  hs_noise_free(state2);
  hs_noise_free(batch);
  hs_escape_free(ball);
  return tap_done();
}
