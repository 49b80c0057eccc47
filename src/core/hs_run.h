/*
** hs_run.h: what the run driver (hs_run.c) shares with the kernels
** (hs_kernel_linear.c, hs_kernel_general.c): the state of a run, a worker's view of
** the model, the per-path checks after a step and the streams of a block of paths.
** Internal to the engine; users include hs_sim.h.
**
** Paths are handed out in blocks of HS_BLOCK and run HS_BLOCK at a time, so that the
** state stays in cache and the independent random streams of the paths overlap in the
** CPU: the linear kernel runs a block through all its steps; the general kernel
** gives a lane whose path has stopped the next path at once.
*/
#ifndef HS_RUN_H
#define HS_RUN_H

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>

#include "hs_exact.h"
#include "hs_pcg.h"
#include "hs_sim.h"

#define HS_BLOCK 8   /* paths per block: one AVX-512 vector of doubles */

typedef struct hs_run {
  const hs_sim *s;
  hs_sim_out *out;
  int linear;
  hs_linear lin;
  hs_pcg base;               /* the stream of path 0 */
  hs_pcg_affine jump;        /* path i -> path i+1 */
  hs_pcg_affine blockjump[64];  /* path i -> path i + HS_BLOCK * 2^b */
  size_t nblocks;
  atomic_size_t next;        /* next block to take */
  atomic_size_t errpath;     /* smallest failing path so far (SIZE_MAX: none) */
  atomic_size_t done;        /* paths finished (or dropped after a failure) */
  atomic_int cancel;
  pthread_mutex_t lock;      /* guards out->err and the counters */
  double tlast;              /* progress: time of the last report */
  double tstart;             /* when the workers started (the pilot's clock) */
  int piloted;               /* the estimate was made (or needs no making) */
} hs_run;

/* Per-thread counters, merged under the lock at the end. */
typedef struct hs_counts {
  size_t projected, escaped, diverged, undefined;
} hs_counts;

/* What one worker evaluates: the model and escape criterion of the run, with the
** worker's replicas of thread-unsafe callbacks in place of the originals. */
typedef struct hs_view {
  hs_model model;
  const hs_escape *escape;
  const hs_observe *observe;
} hs_view;


/* Worker id has finished `finished` more paths: counts them and, on worker 0, makes
** the pilot's estimate and reports progress when due; then takes the next block of
** paths not yet taken, p0 .. p0+n-1 (n <= HS_BLOCK), skipping those after a path that
** failed. Returns 0 when none is left or the run was cancelled. */
int hs_run_take(hs_run *R, size_t id, size_t finished, size_t *p0, size_t *n);

/* Whether every callback of the run may be called from any thread. */
int hs_sim_thread_safe(const hs_sim *s);

/* Record a failure of path p at step k unless a smaller path already failed. */
void hs_run_fail(hs_run *R, hs_status st, size_t p, size_t k, double value,
                 const char *what, const char *msg);

/* The message a callback left, for errors from user code ("objective", "noise",
** "escape"), or NULL. */
const char *hs_run_callbackmsg(const hs_view *v, const char *what);

/* The streams of paths p0 .. p0+n-1 (n <= HS_BLOCK); lanes past n repeat the last. */
void hs_run_streams(const hs_run *R, size_t p0, size_t n, hs_pcg *r);

/* What hs_run_checkpath found. */
enum { PATH_GOES_ON = 0, PATH_STOPS = 1, PATH_FAILED = -1 };

/* Whether x (d doubles) is finite: x_j * 0 is NaN exactly for inf and NaN. */
static inline int hs_run_allfinite(const double *x, size_t d) {
  double s = 0.0;
  for (size_t j = 0; j < d; j++) s += x[j] * 0.0;   /* NaN iff some x_j is inf or NaN */
  return s == 0.0;
}

/* After step k of path p with state x: a non-finite state is an error or, when
** recorded, ends the path (state set to NaN); then the escape criterion. ow: the
** objective's scratch. Inline: the kernels call it for every path and step. */
static inline int hs_run_checkpath(hs_run *R, const hs_view *v, size_t p, size_t k,
                                   double *x, double *ow, hs_counts *cnt) {
  const hs_sim *s = R->s;
  size_t d = s->model.dim;
  if (!hs_run_allfinite(x, d)) {
    if (!s->record_diverged) {
      hs_run_fail(R, HS_EDIVERGE, p, k, 0.0, "path", NULL);
      return PATH_FAILED;
    }
    R->out->diverge_step[p] = (int64_t)k;
    cnt->diverged++;
    for (size_t j = 0; j < d; j++) x[j] = NAN;
    return PATH_STOPS;
  }
  if (v->escape != NULL && v->escape->kind == HS_ESC_HALFSPACE) {
    /* hs_escape_test's half-space a'x > c inline: the common criterion, tested at
    ** every step of every path */
    const double *a = v->escape->v;
    double t = 0.0;
    for (size_t j = 0; j < d; j++) t += a[j] * x[j];
    if (!(t > v->escape->c)) return PATH_GOES_ON;
    R->out->escape_step[p] = (int64_t)k;
    cnt->escaped++;
    return PATH_STOPS;
  }
  if (v->escape != NULL) {
    int esc = 0;
    hs_status st = hs_escape_test(v->escape, v->model.obj, x, &esc, ow);
    if (st != HS_OK) {
      hs_run_fail(R, st, p, k, 0.0, "escape", hs_run_callbackmsg(v, "escape"));
      return PATH_FAILED;
    }
    if (esc) {
      R->out->escape_step[p] = (int64_t)k;
      cnt->escaped++;
      return PATH_STOPS;
    }
  }
  return PATH_GOES_ON;
}

/* Lanes from..n-1 stop: a path with a smaller index failed, so their outcome no
** longer matters. Returns how many were still active. */
size_t hs_run_droplanes(int *act, size_t from, size_t n);

/* At recorded step ri: the view's observables of paths p0 .. p0+n-1, whose states are
** the rows of X (n x d), into R->out->obsval; a failing observable is reported as the
** failure of its path (what "observable", err.obs its index). work: the objective's
** scratch (hs_objective_worksize doubles). */
void hs_run_observe(hs_run *R, const hs_view *v, size_t ri, size_t p0, size_t n,
                    const double *X, double *work);

#endif
