/*
** hs_ensemble.c: observed ensembles (hs_ensemble.h): the chunk loop over paths, the
** methods run in turn on each chunk, and the reduction of the chunk's observable
** values into exact accumulators, paired against the reference method.
*/
#include "hs_ensemble.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hs_util.h"

#define BUDGET ((size_t)2 << 20)   /* bytes of observable buffers a chunk aims at */
#define CHUNK_MIN 512
#define CHUNK_ALIGN 64             /* a multiple of every engine block size */

size_t hs_ensemble_chunk(const hs_ensemble *e) {
  const hs_sim *s = &e->sims[0];
  size_t paths = s->paths, c = e->chunk;
  if (c == 0) {
    size_t per = e->nmethods * s->nrecord * (e->observe != NULL ? e->observe->nobs : 0) *
                 sizeof(double);
    c = per > 0 ? BUDGET / per : paths;
    c -= c % CHUNK_ALIGN;
    if (c < CHUNK_MIN) c = CHUNK_MIN;
  }
  if (c > paths) c = paths;
  return c > 0 ? c : 1;
}

/* Doubles of one method's observable buffer and of one method's snapshot buffer. */
static void bufsizes(const hs_ensemble *e, size_t chunk, size_t *nobsval, size_t *nsnap) {
  const hs_sim *s = &e->sims[0];
  size_t nobs = e->observe != NULL ? e->observe->nobs : 0;
  *nobsval = s->nrecord * nobs * chunk;
  *nsnap = s->nrecord * chunk * s->model.dim;
}

int hs_ensemble_extrapolated(const hs_ensemble *e, size_t m) {
  return e->coarse != NULL && e->coarse[m].model.method != NULL;
}

/* Whether any method is extrapolated: the run then keeps one more observable buffer,
** the coarse run's. */
static int anycoarse(const hs_ensemble *e) {
  for (size_t m = 0; m < e->nmethods; m++)
    if (hs_ensemble_extrapolated(e, m)) return 1;
  return 0;
}

size_t hs_ensemble_bytes(const hs_ensemble *e) {
  size_t a, b, chunk = hs_ensemble_chunk(e), coarse = (size_t)anycoarse(e);
  bufsizes(e, chunk, &a, &b);
  return ((e->nmethods + coarse) * a + b) * sizeof(double) +
         coarse * 2 * chunk * sizeof(int64_t);
}

/* Progress of a chunk's run, reported against the whole run. */
typedef struct chunkprogress {
  const hs_sim *s;
  double before, total;
} chunkprogress;

static int onprogress(void *ctx, double done, double total) {
  chunkprogress *p = ctx;
  (void)total;
  return p->s->progress(p->s->progress_ctx, p->before + done, p->total);
}

static int samerun(const hs_sim *a, const hs_sim *b) {
  if (a->paths != b->paths || a->steps != b->steps || a->seed != b->seed ||
      a->nrecord != b->nrecord || a->model.dim != b->model.dim)
    return 0;
  for (size_t r = 0; r < a->nrecord; r++)
    if (a->record[r] != b->record[r]) return 0;
  return 1;
}

/* The chunk's per-path outputs into the run's arrays: the step arrays are written in
** place (out pointers offset by c0); snapshots are copied record by record. */
static void placesnap(const hs_sim *s, double *all, const double *chunk, size_t c0,
                      size_t n) {
  size_t d = s->model.dim;
  for (size_t r = 0; r < s->nrecord; r++)
    memcpy(all + (r * s->paths + c0) * d, chunk + r * n * d, n * d * sizeof(double));
}

static void addcounts(hs_sim_out *to, const hs_sim_out *from) {
  to->projected += from->projected;
  to->escaped += from->escaped;
  to->diverged += from->diverged;
  to->undefined += from->undefined;
  to->elapsed += from->elapsed;
  if (from->threads_used > to->threads_used) to->threads_used = from->threads_used;
  to->kernel = from->kernel;
}

hs_status hs_ensemble_run(const hs_ensemble *e, hs_ensemble_out *out) {
  const hs_sim *s0 = &e->sims[0];
  size_t nm = e->nmethods, nobs = e->observe != NULL ? e->observe->nobs : 0;
  size_t paths = s0->paths, d = s0->model.dim;
  out->failed = 0;
  out->failed_coarse = 0;
  for (size_t m = 0; m < nm; m++) {
    hs_sim_out *o = &out->outs[m];
    o->projected = o->escaped = o->diverged = o->undefined = 0;
    o->threads_used = 0;
    o->elapsed = 0.0;
    o->kernel = NULL;
    memset(&o->err, 0, sizeof o->err);
    if (m > 0 && !samerun(s0, &e->sims[m])) {
      out->failed = m;
      o->err.status = HS_EINVAL;
      snprintf(o->err.msg, sizeof o->err.msg,
               "the methods of a paired run must share paths, steps, seed and record");
      return HS_EINVAL;
    }
    if (hs_ensemble_extrapolated(e, m) &&
        (!samerun(s0, &e->coarse[m]) || e->observe == NULL || out->bias == NULL ||
         out->bias[m] == NULL)) {
      out->failed = m;
      o->err.status = HS_EINVAL;
      snprintf(o->err.msg, sizeof o->err.msg,
               "an extrapolated method's coarse run must share paths, steps, seed and "
               "record, with observables and a bias accumulator");
      return HS_EINVAL;
    }
    if (out->coarse_outs != NULL) memset(&out->coarse_outs[m], 0, sizeof out->coarse_outs[m]);
  }
  size_t chunk = out->chunk = hs_ensemble_chunk(e), nval, nsnap;
  bufsizes(e, chunk, &nval, &nsnap);
  int snaps = 0;
  for (size_t m = 0; m < nm; m++) snaps |= out->outs[m].snap != NULL;
  int coarse = anycoarse(e);
  double *val = hs_malloc(((nm + (size_t)coarse) * nval + 1) * sizeof(double));
  /* the coarse runs' per-path step records (divergences, domain exits), chunk-sized
  ** scratch: only their counts are kept */
  int64_t *csteps = coarse ? hs_malloc(2 * chunk * sizeof(int64_t)) : NULL;
  double *snap = snaps ? hs_malloc((nsnap + 1) * sizeof(double)) : NULL;
  if (val == NULL || (snaps && snap == NULL) || (coarse && csteps == NULL)) {
    free(val);
    free(snap);
    free(csteps);
    out->outs[0].err.status = HS_ENOMEM;
    snprintf(out->outs[0].err.what, sizeof out->outs[0].err.what, "set-up");
    return HS_ENOMEM;
  }
  double *cval = coarse ? val + nm * nval : NULL;   /* the coarse run's observables */
  hs_status st = HS_OK;
  /* runs per chunk (an extrapolated method runs twice), for the progress */
  size_t runs = nm;
  for (size_t m = 0; m < nm; m++) runs += (size_t)hs_ensemble_extrapolated(e, m);
  double total = (double)paths * (double)s0->steps * (double)runs;
  for (size_t c0 = 0; c0 < paths && st == HS_OK; c0 += chunk) {
    size_t n = paths - c0 < chunk ? paths - c0 : chunk, run = 0;
    for (size_t m = 0; m < nm && st == HS_OK; m++) {
      int twice = hs_ensemble_extrapolated(e, m);
      for (int pass = 0; pass <= twice && st == HS_OK; pass++, run++) {
        /* pass 0: the method (an extrapolated method's fine run); pass 1: its coarse
        ** run, whose observables go to cval and nowhere else */
        const hs_sim *sm = pass == 0 ? &e->sims[m] : &e->coarse[m];
        hs_sim_out *om = &out->outs[m];
        hs_sim sc = *sm;
        sc.path0 = e->path0 + c0;
        sc.paths = n;
        if (sm->x0_per_path) sc.x0 = sm->x0 + c0 * d;
        sc.observe = e->observe;
        chunkprogress cp = {sm, ((double)c0 * (double)runs + (double)run * (double)n) *
                                    (double)sm->steps, total};
        if (sm->progress != NULL) {
          sc.progress = onprogress;
          sc.progress_ctx = &cp;
        }
        hs_sim_out oc;
        memset(&oc, 0, sizeof oc);
        if (pass == 0) {
          oc.snap = om->snap != NULL ? snap : NULL;
          oc.escape_step = om->escape_step != NULL ? om->escape_step + c0 : NULL;
          oc.diverge_step = om->diverge_step != NULL ? om->diverge_step + c0 : NULL;
          oc.undefined_step = om->undefined_step != NULL ? om->undefined_step + c0 : NULL;
        } else {
          oc.diverge_step = om->diverge_step != NULL ? csteps : NULL;
          oc.undefined_step = om->undefined_step != NULL ? csteps + chunk : NULL;
        }
        oc.obsval = nobs > 0 ? (pass == 0 ? val + m * nval : cval) : NULL;
        st = hs_sim_run(&sc, &oc);
        if (pass == 0) addcounts(om, &oc);
        else if (out->coarse_outs != NULL) addcounts(&out->coarse_outs[m], &oc);
        if (st != HS_OK) {
          om->err = oc.err;
          om->err.path += e->path0 + c0;   /* the engine counts from the chunk's start */
          out->failed = m;
          out->failed_coarse = pass;
          break;
        }
        if (pass == 0 && oc.snap != NULL) placesnap(sm, om->snap, snap, c0, n);
      }
      if (st != HS_OK || !twice || nobs == 0) continue;
      /* per path: the correction g(fine) - g(coarse) into the bias accumulators (cval
      ** holds it afterwards), and the estimator 2 g(fine) - g(coarse) in place of
      ** g(fine); a NaN of either run (a divergence, a domain exit) gives NaN, which the
      ** accumulators skip */
      double *f = val + m * nval;
      for (size_t i = 0; i < nval; i++) {
        double fi = f[i], ci = cval[i];
        f[i] = 2.0 * fi - ci;
        cval[i] = fi - ci;
      }
      for (size_t r = 0; r < s0->nrecord; r++)
        hs_obs_stats_add(out->bias[m], r, cval + r * nobs * n, NULL, n, n);
    }
    if (st != HS_OK || nobs == 0) continue;
    /* reduce the chunk: values, and differences against the reference's values */
    for (size_t m = 0; m < nm; m++) {
      const double *ref = e->ref < nm && m != e->ref ? val + e->ref * nval : NULL;
      for (size_t r = 0; r < s0->nrecord; r++)
        hs_obs_stats_add(out->stats[m], r, val + m * nval + r * nobs * n,
                         ref != NULL ? ref + r * nobs * n : NULL, n, n);
    }
  }
  free(val);
  free(snap);
  free(csteps);
  return st;
}
