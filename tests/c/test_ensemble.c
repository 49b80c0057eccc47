/*
** test_ensemble.c: observed ensembles (hs_ensemble.h) without Lua. The figures the
** workers reduce on the fly are the very sums of the observables computed from the
** snapshots of a plain run (same bits); they do not depend on the chunk size, the
** number of threads, or a split of the paths into ranges merged afterwards (what a
** run over several processes does); paired differences are the differences of the
** methods' values on each path; a failing observable is named by its global path and
** step; snapshots kept beside the observables are those of a plain run.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hs_ensemble.h"
#include "hs_method.h"
#include "tap.h"

static hs_objective *quad2, *wells2;
static hs_noise *cov2, *iso;

static void fixtures(void) {
  static const double H2[] = {1.7, 0.4, 0.4, 0.6}, b2[] = {0.3, -0.2};
  static const double Q2[] = {0.3, 0.1, 0.1, -0.2}, t2[] = {0.05, -0.1};
  static const double C2[] = {0.5, 0.2, 0.2, 0.3};
  hs_status st;
  double minw;
  quad2 = hs_quadratic_alloc(2, H2, b2);
  wells2 = hs_wells_alloc(2, Q2, t2);
  cov2 = hs_noise_const_alloc(2, C2, 1e-10, &st, &minw);
  iso = hs_noise_iso_alloc(0.45);
}

static const double X0[2] = {-0.6, 0.45};
static const size_t REC[2] = {2, 5};

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
  s.steps = 5;
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

static const hs_obs OBS[4] = {{.kind = HS_OBS_VALUE}, {.kind = HS_OBS_DIST2},
                              {.kind = HS_OBS_X, .i = 1}, {.kind = HS_OBS_XX, .i = 0, .j = 1}};
static const hs_observe SET = {4, OBS};

/* The accumulators' image, for exact comparisons. */
static uint64_t *image(hs_obs_stats *s, size_t *n) {
  *n = hs_obs_stats_words(s);
  uint64_t *w = malloc(*n * sizeof(uint64_t));
  hs_obs_stats_pack(s, w);
  return w;
}

static int sameimage(hs_obs_stats *a, hs_obs_stats *b) {
  size_t na, nb;
  uint64_t *ia = image(a, &na), *ib = image(b, &nb);
  int same = na == nb && memcmp(ia, ib, na * sizeof(uint64_t)) == 0;
  free(ia);
  free(ib);
  return same;
}

/* Run one or two methods as an ensemble; returns the status, fills stats. */
static hs_status ensemble(hs_sim *sims, size_t nm, size_t ref, size_t path0, size_t chunk,
                          hs_obs_stats **stats, hs_sim_out *outs, const hs_observe *set) {
  hs_ensemble e = {sims, nm, ref, set, path0, chunk, NULL};
  hs_ensemble_out out = {outs, stats, 0, 0, NULL, NULL, 0};
  return hs_ensemble_run(&e, &out);
}

/* The observables' sums from the snapshots of a plain run of s. */
static hs_obs_stats *fromsnapshots(const hs_sim *s) {
  size_t d = 2, n = s->paths;
  double *snap = calloc(2 * n * d, sizeof(double)), *G = malloc(4 * n * sizeof(double));
  hs_sim_out out;
  memset(&out, 0, sizeof out);
  out.snap = snap;
  hs_status st = hs_sim_run(s, &out);
  hs_obs_stats *acc = hs_obs_stats_alloc(4, 2, 0);
  double work[64];
  hs_obs_fail fail;
  for (size_t r = 0; r < 2 && st == HS_OK; r++) {
    hs_observe_eval(&SET, s->model.obj, d, snap + r * n * d, d, X0, 0, n, G, n, work, &fail);
    hs_obs_stats_add(acc, r, G, NULL, n, n);
  }
  free(snap);
  free(G);
  return acc;
}

static void test_same_as_snapshots(void) {
  struct { const char *name, *method; hs_objective **o; hs_noise **n; } cases[] = {
    {"linear kernel (sgd, quadratic)", "sgd", &quad2, &cov2},
    {"general kernel (sme2, wells)", "sme2", &wells2, &iso},
    {"HA-SME lanes (wells)", "hasme", &wells2, &iso},
  };
  for (size_t c = 0; c < 3; c++) {
    hs_sim s = config(cases[c].method, *cases[c].o, *cases[c].n, 1001);
    hs_obs_stats *want = fromsnapshots(&s);
    hs_obs_stats *got = hs_obs_stats_alloc(4, 2, 0);
    hs_sim_out o;
    memset(&o, 0, sizeof o);
    hs_status st = ensemble(&s, 1, SIZE_MAX, 0, 128, &got, &o, &SET);
    ok(st == HS_OK && sameimage(got, want), "%s: in-run observables = sums over snapshots",
       cases[c].name);
    /* chunk size, threads */
    hs_obs_stats *a = hs_obs_stats_alloc(4, 2, 0), *b = hs_obs_stats_alloc(4, 2, 0);
    s.threads = 1;
    ensemble(&s, 1, SIZE_MAX, 0, 64, &a, &o, &SET);
    s.threads = 3;
    ensemble(&s, 1, SIZE_MAX, 0, 0, &b, &o, &SET);
    ok(sameimage(a, want) && sameimage(b, want),
       "%s: chunks of 64 on 1 thread, automatic chunks on 3: same bits", cases[c].name);
    /* paths [0, 437) and [437, 1001) run apart, then merged */
    hs_obs_stats *p1 = hs_obs_stats_alloc(4, 2, 0), *p2 = hs_obs_stats_alloc(4, 2, 0);
    hs_sim s1 = s, s2 = s;
    s1.paths = 437;
    s2.paths = 1001 - 437;
    ensemble(&s1, 1, SIZE_MAX, 0, 0, &p1, &o, &SET);
    ensemble(&s2, 1, SIZE_MAX, 437, 100, &p2, &o, &SET);
    hs_obs_stats_merge(p1, p2);
    ok(sameimage(p1, want), "%s: two path ranges merged = the whole run", cases[c].name);
    hs_obs_stats_free(want), hs_obs_stats_free(got), hs_obs_stats_free(a);
    hs_obs_stats_free(b), hs_obs_stats_free(p1), hs_obs_stats_free(p2);
  }
}

static void test_paired(void) {
  hs_sim s[2] = {config("sgd", wells2, iso, 2000), config("sme1", wells2, iso, 2000)};
  hs_obs_stats *st[2] = {hs_obs_stats_alloc(4, 2, 1), hs_obs_stats_alloc(4, 2, 1)};
  hs_sim_out o[2];
  memset(o, 0, sizeof o);
  ok(ensemble(s, 2, 0, 0, 256, st, o, &SET) == HS_OK, "paired sgd / sme1 run");
  double m0, m1, dm, se0, se1, dse, sd;
  int fine = 1;
  for (size_t i = 0; i < 8; i++) {
    hs_obs_acc_moments(&st[0]->val[i], &m0, &se0, &sd);
    hs_obs_acc_moments(&st[1]->val[i], &m1, &se1, &sd);
    hs_obs_acc_moments(&st[1]->diff[i], &dm, &dse, &sd);
    fine = fine && fabs(dm - (m1 - m0)) <= 1e-12 * (1.0 + fabs(m0)) &&
           dse < 0.5 * sqrt(se0 * se0 + se1 * se1) && st[1]->diff[i].n == 2000;
  }
  ok(fine, "differences: mean = difference of means, paired se below half the unpaired");
  ok(st[0]->diff[0].n == 0, "the reference has no differences of its own");
  /* the same methods run alone give the same values */
  hs_obs_stats *alone = hs_obs_stats_alloc(4, 2, 0);
  hs_sim_out oa;
  memset(&oa, 0, sizeof oa);
  ensemble(&s[1], 1, SIZE_MAX, 0, 0, &alone, &oa, &SET);
  hs_obs_acc_moments(&alone->val[5], &m0, &se0, &sd);
  hs_obs_acc_moments(&st[1]->val[5], &m1, &se1, &sd);
  ok(m0 == m1 && se0 == se1, "a method's values do not depend on its partners");
  hs_obs_stats_free(st[0]), hs_obs_stats_free(st[1]), hs_obs_stats_free(alone);
}

/* An observable that fails on path 150 (counted by calls on one thread). */
static hs_status badobs(void *ctx, const double *x, size_t d, double *out) {
  (void)d;
  const double *bad = ctx;
  *out = x[0] == bad[0] && x[1] == bad[1] ? (double)NAN : x[0];
  return HS_OK;
}

static void test_errors_and_snapshots(void) {
  hs_sim s = config("sme1", wells2, iso, 300);
  s.threads = 1;
  size_t d = 2;
  double *snap = calloc(2 * 300 * d, sizeof(double));
  hs_sim_out plain;
  memset(&plain, 0, sizeof plain);
  plain.snap = snap;
  hs_sim_run(&s, &plain);
  /* a failure at path 150, step 5: the state path 150 holds there */
  double bad[2] = {snap[(300 + 150) * d], snap[(300 + 150) * d + 1]};
  hs_obs o = {.kind = HS_OBS_CALLBACK, .fn = badobs, .ctx = bad, .thread_safe = 1};
  hs_observe set = {1, &o};
  hs_obs_stats *st = hs_obs_stats_alloc(1, 2, 0);
  hs_sim_out out;
  memset(&out, 0, sizeof out);
  hs_status rc = ensemble(&s, 1, SIZE_MAX, 0, 64, &st, &out, &set);
  ok(rc == HS_EDOM && out.err.path == 150 && out.err.step == 5 &&
         strcmp(out.err.what, "observable") == 0 && out.err.obs == 0,
     "a NaN observable: status %d, path %zu, step %zu, what %s", (int)rc, out.err.path,
     out.err.step, out.err.what);
  /* snapshots kept beside the observables */
  double *kept = calloc(2 * 300 * d, sizeof(double));
  hs_obs_stats_clear(st);
  hs_obs x1 = {.kind = HS_OBS_X, .i = 0};
  hs_observe one = {1, &x1};
  memset(&out, 0, sizeof out);
  out.snap = kept;
  rc = ensemble(&s, 1, SIZE_MAX, 0, 64, &st, &out, &one);
  ok(rc == HS_OK && memcmp(kept, snap, 2 * 300 * d * sizeof(double)) == 0,
     "snapshots kept with observables are those of a plain run");
  free(snap);
  free(kept);
  hs_obs_stats_free(st);
}

/* Extrapolation: a run with coarse configurations gives, per path, the estimator
** 2 g(fine) - g(coarse) and the correction g(fine) - g(coarse): the same sums as
** the two runs' snapshots combined path by path; the same bits for any chunk and
** thread count; and the discrete reference runs once, unchanged. */
static void test_extrapolated(void) {
  size_t n = 700, d = 2;
  hs_sim fine[2] = {config("sgd", wells2, iso, n), config("hasme", wells2, iso, n)};
  for (size_t m = 0; m < 2; m++) fine[m].substeps = 4, fine[m].normals = 4;
  hs_sim coarse[2];
  memset(&coarse[0], 0, sizeof coarse[0]);   /* sgd: not extrapolated */
  coarse[1] = fine[1];
  coarse[1].substeps = 2;
  /* the oracle: snapshots of the fine and the coarse run, combined per path */
  double *sf = calloc(2 * n * d, sizeof(double)), *sc = calloc(2 * n * d, sizeof(double));
  double *gf = malloc(4 * n * sizeof(double)), *gc = malloc(4 * n * sizeof(double));
  double *ge = malloc(4 * n * sizeof(double));
  hs_sim_out of, oc;
  memset(&of, 0, sizeof of), memset(&oc, 0, sizeof oc);
  of.snap = sf, oc.snap = sc;
  hs_sim_run(&fine[1], &of);
  hs_sim_run(&coarse[1], &oc);
  hs_obs_stats *want = hs_obs_stats_alloc(4, 2, 0), *wbias = hs_obs_stats_alloc(4, 2, 0);
  double work[64];
  hs_obs_fail fail;
  for (size_t r = 0; r < 2; r++) {
    hs_observe_eval(&SET, wells2, d, sf + r * n * d, d, X0, 0, n, gf, n, work, &fail);
    hs_observe_eval(&SET, wells2, d, sc + r * n * d, d, X0, 0, n, gc, n, work, &fail);
    for (size_t i = 0; i < 4 * n; i++) ge[i] = 2.0 * gf[i] - gc[i], gc[i] = gf[i] - gc[i];
    hs_obs_stats_add(want, r, ge, NULL, n, n);
    hs_obs_stats_add(wbias, r, gc, NULL, n, n);
  }
  hs_obs_stats *ref = fromsnapshots(&fine[0]);
  int same = 1;
  for (int pass = 0; pass < 2; pass++) {
    size_t chunk = pass == 0 ? 64 : 0;
    for (size_t m = 0; m < 2; m++) fine[m].threads = coarse[m].threads = pass == 0 ? 1 : 3;
    hs_obs_stats *st[2] = {hs_obs_stats_alloc(4, 2, 1), hs_obs_stats_alloc(4, 2, 1)};
    hs_obs_stats *bias[2] = {NULL, hs_obs_stats_alloc(4, 2, 0)};
    hs_sim_out outs[2], couts[2];
    memset(outs, 0, sizeof outs);
    hs_ensemble e = {fine, 2, 0, &SET, 0, chunk, coarse};
    hs_ensemble_out eo = {outs, st, 0, 0, bias, couts, 0};
    hs_status rc = hs_ensemble_run(&e, &eo);
    ok(rc == HS_OK && hs_ensemble_extrapolated(&e, 1) && !hs_ensemble_extrapolated(&e, 0),
       "extrapolated run (chunk %zu): status %d", chunk, (int)rc);
    /* the estimator's sums (the paired differences' reference, SGD, is unchanged) */
    hs_obs_stats *val1 = hs_obs_stats_alloc(4, 2, 0), *val0 = hs_obs_stats_alloc(4, 2, 0);
    memcpy(val1->val, st[1]->val, 8 * sizeof(hs_obs_acc));
    memcpy(val0->val, st[0]->val, 8 * sizeof(hs_obs_acc));
    same = same && sameimage(val1, want) && sameimage(bias[1], wbias) && sameimage(val0, ref);
    hs_obs_stats_free(val1), hs_obs_stats_free(val0);
    hs_obs_stats_free(st[0]), hs_obs_stats_free(st[1]), hs_obs_stats_free(bias[1]);
  }
  ok(same, "2 fine - coarse and fine - coarse per path: the snapshots' sums, on 1 and 3 "
     "threads, chunks of 64 and automatic; SGD's figures unchanged");
  /* a coarse run that does not share the paths is refused */
  coarse[1].paths = n - 1;
  hs_obs_stats *st[2] = {hs_obs_stats_alloc(4, 2, 1), hs_obs_stats_alloc(4, 2, 1)};
  hs_obs_stats *bias[2] = {NULL, hs_obs_stats_alloc(4, 2, 0)};
  hs_sim_out outs[2];
  memset(outs, 0, sizeof outs);
  hs_ensemble e = {fine, 2, 0, &SET, 0, 0, coarse};
  hs_ensemble_out eo = {outs, st, 0, 0, bias, NULL, 0};
  ok(hs_ensemble_run(&e, &eo) == HS_EINVAL && eo.failed == 1,
     "a coarse run on other paths: HS_EINVAL naming the method");
  hs_obs_stats_free(st[0]), hs_obs_stats_free(st[1]), hs_obs_stats_free(bias[1]);
  hs_obs_stats_free(want), hs_obs_stats_free(wbias), hs_obs_stats_free(ref);
  free(sf), free(sc), free(gf), free(gc), free(ge);
}

int main(void) {
  fixtures();
  test_same_as_snapshots();
  test_paired();
  test_extrapolated();
  test_errors_and_snapshots();
  hs_objective_free(quad2);
  hs_objective_free(wells2);
  hs_noise_free(cov2);
  hs_noise_free(iso);
  return tap_done();
}
