/*
** hs_run.c: the run driver. hs_sim_run checks and resolves the configuration, builds
** the linear transition when the linear kernel applies, makes the callback replicas,
** seeds the streams and starts the workers. Worker threads take blocks of HS_BLOCK
** paths from a shared counter (hs_run_take) and run a kernel on them
** (hs_kernel_linear.c block by block, hs_kernel_general.c path by path as its lanes
** free up); the calling thread is worker 0 and reports progress when it takes a
** block. Also here: what the kernels share (failures, streams, the per-path checks
** after a step).
*/
#include "hs_run.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hs_kernel_general.h"
#include "hs_kernel_linear.h"
#include "hs_util.h"

/* {====================================================================
** What the kernels share
** ===================================================================== */

/* Record a failure of path p at step k unless a smaller path already failed. */
void hs_run_fail(hs_run *R, hs_status st, size_t p, size_t k, double value, const char *what,
                 const char *msg) {
  pthread_mutex_lock(&R->lock);
  hs_sim_error *e = &R->out->err;
  if (e->status == HS_OK || p < e->path) {
    e->status = st;
    e->path = p;
    e->step = k;
    e->value = value;
    snprintf(e->what, sizeof e->what, "%s", what);
    snprintf(e->msg, sizeof e->msg, "%s", msg != NULL ? msg : "");
    atomic_store(&R->errpath, p);
  }
  pthread_mutex_unlock(&R->lock);
}

/* The message a callback left, for errors from user code. */
const char *hs_run_callbackmsg(const hs_view *v, const char *what) {
  if (strcmp(what, "objective") == 0 && v->model.obj->type->errmsg != NULL)
    return v->model.obj->type->errmsg(v->model.obj);
  if (strcmp(what, "noise") == 0 && v->model.noise->errmsg != NULL)
    return v->model.noise->errmsg(v->model.noise->ctx);
  if (strcmp(what, "escape") == 0 && v->escape->errmsg != NULL)
    return v->escape->errmsg(v->escape->ctx);
  /* value_below/value_above evaluate the objective: its message is the cause */
  if (strcmp(what, "escape") == 0 && v->model.obj->type->errmsg != NULL)
    return v->model.obj->type->errmsg(v->model.obj);
  return NULL;
}

/* The streams of paths p0 .. p0+n-1 (n <= HS_BLOCK); lanes past n repeat the last. */
void hs_run_streams(const hs_run *R, size_t p0, size_t n, hs_pcg *r) {
  /* The first path's stream: path 0's advanced by p0 jumps, composed from the
  ** precomputed maps of HS_BLOCK * 2^b jumps for the bits b of the block number (a few
  ** multiplications instead of hs_pcg_advance's 128 doublings). */
  r[0] = R->base;
  size_t b = p0 / HS_BLOCK;
  for (int bit = 0; b != 0; bit++, b >>= 1)
    if (b & 1) hs_pcg_apply(&r[0], &R->blockjump[bit]);
  for (size_t s = 1; s < HS_BLOCK; s++) {
    r[s] = r[s - 1];
    if (s < n) hs_pcg_apply(&r[s], &R->jump);
  }
}

/* Lanes l and above stop: a path with a smaller index failed, so their outcome no
** longer matters. Returns how many were still active. */
size_t hs_run_droplanes(int *act, size_t from, size_t n) {
  size_t c = 0;
  for (size_t q = from; q < n; q++) if (act[q]) act[q] = 0, c++;
  return c;
}

/* The observables of lanes 0..n-1 (rows of X) at recorded step ri go to their column
** of out->obsval; a failure is reported like any other, at the path and step. */
void hs_run_observe(hs_run *R, const hs_view *v, size_t ri, size_t p0, size_t n,
                    const double *X, double *work) {
  const hs_sim *s = R->s;
  const hs_observe *ob = v->observe;
  size_t d = s->model.dim, paths = s->paths;
  const double *X0 = s->x0 + (s->x0_per_path ? p0 * d : 0);
  double *G = R->out->obsval + ri * ob->nobs * paths + p0;
  hs_obs_fail f = {0, 0, 0.0};
  hs_status st = hs_observe_eval(ob, v->model.obj, d, X, d, X0, s->x0_per_path ? d : 0, n,
                                 G, paths, work, &f);
  if (st == HS_OK) return;
  const hs_obs *g = &ob->obs[f.obs];
  const char *msg = NULL;
  if (st == HS_ECALLBACK && g->kind == HS_OBS_CALLBACK && g->errmsg != NULL)
    msg = g->errmsg(g->ctx);
  else if (st == HS_ECALLBACK) msg = hs_run_callbackmsg(v, "objective");
  pthread_mutex_lock(&R->lock);
  int first = R->out->err.status == HS_OK || p0 + f.path < R->out->err.path;
  pthread_mutex_unlock(&R->lock);
  if (!first) return;
  hs_run_fail(R, st, p0 + f.path, s->record[ri], f.value, "observable", msg);
  pthread_mutex_lock(&R->lock);
  if (R->out->err.path == p0 + f.path) R->out->err.obs = f.obs;
  pthread_mutex_unlock(&R->lock);
}

/* }==================================================================== */

/* {====================================================================
** Threads and the run
** ===================================================================== */

typedef struct worker {
  hs_run *R;
  size_t id;
  hs_view v;
  double *work;
  void *workmem;   /* work's allocation; work starts at its first 64-byte boundary */
  hs_genwork g;
  hs_counts cnt;
} worker;

static void progress(hs_run *R) {
  const hs_sim *s = R->s;
  double now = hs_now();
  if (now - R->tlast < s->progress_interval) return;
  R->tlast = now;
  double done = (double)atomic_load(&R->done) * (double)s->steps;
  double total = (double)s->paths * (double)s->steps;
  if (s->progress(s->progress_ctx, done < total ? done : total, total))
    atomic_store(&R->cancel, 1);
}

/*
** The pilot: the first HS_PILOT_SECONDS of the run (or its first block, when a block
** takes longer). Its rate, the path-steps of the blocks all workers finished over the
** time it took, estimates the rest of the run; a run that would take longer than
** estimate_after is announced (hs_sim.estimate) while stopping it costs little. A
** single short block would not do: its time is mostly start-up (threads, caches,
** first touches of memory) and overstates the run tenfold.
*/
static void pilot(hs_run *R, double elapsed) {
  const hs_sim *s = R->s;
  R->piloted = 1;
  if (s->estimate == NULL || !(elapsed > 0.0) || atomic_load(&R->cancel)) return;
  double total = (double)s->paths * (double)s->steps;
  double done = (double)atomic_load(&R->done) * (double)s->steps;
  double rate = done / elapsed, left = total - done;
  if (rate > 0.0 && left > 0.0 && left / rate > s->estimate_after)
    s->estimate(s->estimate_ctx, total, rate, left / rate, elapsed);
}

/* What a worker does between blocks, then the next block: see hs_run.h. */
int hs_run_take(hs_run *R, size_t id, size_t finished, size_t *p0, size_t *n) {
  const hs_sim *s = R->s;
  if (finished > 0) atomic_fetch_add(&R->done, finished);
  if (id == 0 && !R->piloted && atomic_load(&R->done) > 0) {
    double elapsed = hs_now() - R->tstart;
    if (elapsed >= HS_PILOT_SECONDS) pilot(R, elapsed);
  }
  if (id == 0 && s->progress != NULL) progress(R);
  for (;;) {
    if (atomic_load(&R->cancel)) return 0;
    size_t b = atomic_fetch_add(&R->next, 1);
    if (b >= R->nblocks) return 0;
    *p0 = b * HS_BLOCK;
    if (*p0 > atomic_load(&R->errpath)) continue;  /* a smaller path already failed */
    *n = s->paths - *p0 < HS_BLOCK ? s->paths - *p0 : HS_BLOCK;
    return 1;
  }
}

/* The linear kernel runs block by block; the general kernel takes its blocks itself,
** as its lanes free up (hs_kernel_general_run). */
static void *workloop(void *arg) {
  worker *W = arg;
  hs_run *R = W->R;
  if (!R->linear) {
    hs_kernel_general_run(R, &W->v, W->id, &W->g, &W->cnt);
    return NULL;
  }
  size_t p0 = 0, n = 0, fin = 0;
  while (hs_run_take(R, W->id, fin, &p0, &n)) {
    hs_kernel_linear_block(R, &W->v, p0, n, W->work, &W->cnt);
    fin = n;
  }
  return NULL;
}

static void worker_free(worker *W) {
  free(W->workmem);
  hs_kernel_general_free(&W->g);
}

/* Worker id's view (replica id-1 of the callbacks for id >= 1) and scratch. */
static hs_status worker_init(worker *W, hs_run *R, size_t id, const hs_replica *rep) {
  const hs_sim *s = R->s;
  memset(W, 0, sizeof *W);
  W->R = R;
  W->id = id;
  W->v.model = s->model;
  W->v.escape = s->escape;
  W->v.observe = s->observe;
  if (rep != NULL) {
    if (rep->obj != NULL) W->v.model.obj = rep->obj;
    if (rep->noise != NULL) W->v.model.noise = rep->noise;
    if (rep->escape != NULL) W->v.escape = rep->escape;
    if (rep->observe != NULL) W->v.observe = rep->observe;
  }
  size_t n = R->linear ? hs_kernel_linear_worksize(R) : hs_kernel_general_worksize(R);
  W->workmem = hs_malloc((n + 8) * sizeof(double));
  if (W->workmem == NULL) return HS_ENOMEM;
  /* On a cache line: the kernels' lane-interleaved arrays in work are read as whole
  ** vectors, and where malloc happened to place them (16-byte aligned) moved W3's
  ** lane eigensolver by 10% on AVX-512 from one build to the next. */
  W->work = (double *)((char *)W->workmem + (64 - (uintptr_t)W->workmem % 64) % 64);
  if (R->linear) return HS_OK;
  return hs_kernel_general_init(R, &W->v, W->work, &W->g);
}

/* The replicas of thread-unsafe callbacks the run can use, made by the caller's hook
** into rep (n of them); returns how many were made: all or, when one fails (its
** reason in out->note), none. */
static size_t makereplicas(const hs_sim *s, hs_replica *rep, size_t n, hs_sim_out *out) {
  for (size_t i = 0; i < n; i++)
    if (s->replicate(s->replicate_ctx, i, &rep[i], out->note, sizeof out->note) != 0) {
      if (out->note[0] == '\0')
        snprintf(out->note, sizeof out->note, "replica %zu failed", i + 1);
      return 0;
    }
  return n;
}

static void seterr(hs_sim_out *out, hs_status st, const char *what) {
  out->err.status = st;
  snprintf(out->err.what, sizeof out->err.what, "%s", what);
}

hs_status hs_sim_run(const hs_sim *cfg, hs_sim_out *out) {
  double t0 = hs_now();
  out->projected = out->escaped = out->diverged = out->undefined = 0;
  out->threads_used = out->replicas = 0;
  out->note[0] = '\0';
  hs_status st = hs_sim_check(cfg, &out->err);
  if (st != HS_OK) return st;
  hs_sim conf = *cfg, *s = &conf;
  hs_sim_resolve(s);
  for (size_t i = 0; i < s->paths; i++) {
    if (out->escape_step != NULL) out->escape_step[i] = -1;
    if (out->diverge_step != NULL) out->diverge_step[i] = -1;
    if (out->undefined_step != NULL) out->undefined_step[i] = -1;
  }

  hs_run R;
  memset(&R, 0, sizeof R);
  R.s = s;
  R.out = out;
  R.linear = hs_sim_linear(s);
  out->kernel = R.linear ? "linear" : "general";
  if (R.linear) {
    const hs_quadratic_params *q = s->model.obj->params;
    hs_model_info info = {0.0, 0, NULL};
    st = hs_linear_build(&R.lin, &s->model, q->H, q->b, s->integrator == HS_EXACT,
                         hs_sim_rounds(s), hs_sim_normals(s), s->interrupt, &info);
    out->projected = info.projected;
    if (st != HS_OK) {
      out->err.value = info.value;
      seterr(out, st, info.part != NULL ? info.part : "set-up");
      return st;
    }
  }
  hs_pcg_seed(&R.base, s->seed, 0);
  if (s->path0 > 0) hs_pcg_advance(&R.base, (hs_u128)s->path0 * HS_PCG_JUMP);
  R.jump = hs_pcg_affine_of(HS_PCG_JUMP, R.base.inc);
  for (int bit = 0; bit < 64; bit++)
    R.blockjump[bit] = hs_pcg_affine_of(((hs_u128)HS_BLOCK << bit) * HS_PCG_JUMP, R.base.inc);
  R.nblocks = s->paths / HS_BLOCK + (s->paths % HS_BLOCK != 0);
  atomic_init(&R.next, 0);
  atomic_init(&R.errpath, SIZE_MAX);
  atomic_init(&R.done, 0);
  atomic_init(&R.cancel, 0);
  pthread_mutex_init(&R.lock, NULL);
  R.tlast = t0;

  /* Threads: as asked (all cores by default), no more than blocks, and with
  ** thread-unsafe callbacks the calling thread plus one per replica. */
  size_t nrep = s->replicate != NULL ? hs_sim_replicas(s) : 0;
  hs_replica *rep = nrep > 0 ? hs_calloc(nrep, sizeof *rep) : NULL;
  if (rep != NULL) out->replicas = nrep = makereplicas(s, rep, nrep, out);
  size_t T = s->threads == 0 ? hs_ncores() : s->threads;
  if (!hs_sim_thread_safe(s) && T > 1 + out->replicas) T = 1 + out->replicas;
  if (T > R.nblocks) T = R.nblocks > 0 ? R.nblocks : 1;
  worker *W = hs_calloc(T, sizeof *W);
  pthread_t *tid = hs_calloc(T, sizeof *tid);
  st = W == NULL || tid == NULL ? HS_ENOMEM : HS_OK;
  size_t ready = 0;
  while (st == HS_OK && ready < T) {
    st = worker_init(&W[ready], &R, ready, ready > 0 && rep != NULL ? &rep[ready - 1] : NULL);
    ready++;   /* a worker that failed half-way is freed with the others */
  }
  R.tstart = hs_now();
  if (st == HS_OK) {
    /* Start workers 1..T-1; if the system refuses a thread, run with fewer. */
    size_t started = 1;
    for (; started < T; started++)
      if (pthread_create(&tid[started], NULL, workloop, &W[started]) != 0) break;
    workloop(&W[0]);
    for (size_t i = 1; i < started; i++) pthread_join(tid[i], NULL);
    out->threads_used = started;
    for (size_t i = 0; i < started; i++) {
      out->projected += W[i].cnt.projected;
      out->escaped += W[i].cnt.escaped;
      out->diverged += W[i].cnt.diverged;
      out->undefined += W[i].cnt.undefined;
    }
    if (out->err.status == HS_OK && atomic_load(&R.cancel))
      seterr(out, HS_ECANCEL, s->interrupt != NULL && *s->interrupt ? "interrupt" : "run");
  }
  else seterr(out, st, "set-up");
  for (size_t i = 0; i < ready && W != NULL; i++) worker_free(&W[i]);
  free(W);
  free(tid);
  free(rep);
  pthread_mutex_destroy(&R.lock);
  hs_linear_free(&R.lin);
  out->elapsed = hs_now() - t0;
  return out->err.status;
}

/* }==================================================================== */
