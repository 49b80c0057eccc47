/*
** hs_sim.h: the ensemble engine: many independent paths of SGD or of an SDE model,
** stepped in C over contiguous memory by worker threads, with snapshots at chosen
** steps, escape detection and precise error reports.
**
** Determinism: path i draws only from its own PCG64 stream, np.random.PCG64(seed)
** .jumped(i), and no result depends on another path, so every output is
** bit-identical whatever the number of threads. Errors too: when several paths fail
** the one reported is the failing path with the smallest index.
*/
#ifndef HS_SIM_H
#define HS_SIM_H

#include <signal.h>

#include "hs_escape.h"
#include "hs_model.h"

typedef enum hs_integrator { HS_EULER, HS_EXACT } hs_integrator;

/* Called on the calling thread about every `progress_interval` seconds with the
** path-steps done so far and in all; a nonzero return cancels the run (HS_ECANCEL). */
typedef int (*hs_progress_fn)(void *ctx, double done, double total);

/* Thread-private copies of callbacks that may not be shared between threads (Lua
** functions, each copy living in its own interpreter state). */
typedef struct hs_replica {
  const hs_objective *obj;
  const hs_noise *noise;
  const hs_escape *escape;
} hs_replica;

typedef struct hs_sim {
  hs_model model;              /* method, dim, eta, objective, noise, PSD policy */
  hs_integrator integrator;
  size_t steps;                /* SGD steps, or SDE time steps*eta */
  size_t substeps;             /* Euler-Maruyama steps per SGD step (>= 1) */
  size_t paths;
  const double *x0;            /* d doubles, or paths x d when x0_per_path */
  int x0_per_path;
  uint64_t seed;
  size_t threads;              /* 0: one per core */
  const size_t *record;        /* nrecord distinct ascending steps in [0, steps] */
  size_t nrecord;
  const hs_escape *escape;     /* NULL: no escape criterion */
  int record_diverged;         /* 0: a non-finite state is an error; 1: recorded */
  int record_undefined;        /* 0: HA-SME leaving its domain is an error; 1: recorded */
  int coupled;                 /* all methods draw substeps*d normals per step */
  hs_progress_fn progress;
  void *progress_ctx;
  double progress_interval;
  /* When the objective, noise or escape criterion is not thread safe, only worker 0
  ** uses them; workers 1..nreplicas use replicas[w - 1] instead, so the run can use
  ** 1 + nreplicas threads. The replicas must compute exactly what the originals do. */
  const hs_replica *replicas;
  size_t nreplicas;
  /* When not NULL, polled at every step: a nonzero value stops the run with
  ** HS_ECANCEL (a signal handler of the caller's sets it, for Ctrl-C). */
  const volatile sig_atomic_t *interrupt;
} hs_sim;

/* What went wrong, for the message the binding builds. */
typedef struct hs_sim_error {
  hs_status status;
  size_t path;                 /* 0-based */
  size_t step;                 /* the step being computed (1-based; 0 = set-up) */
  double value;                /* eigenvalue for HS_EDOM / HS_ENOTPSD */
  char what[32];               /* which part failed: "objective", "noise", "escape", ... */
  char msg[1024];              /* detail, such as a callback's message (may be cut) */
} hs_sim_error;

/* Outputs, allocated by the caller with the sizes hs_sim_sizes gives. */
typedef struct hs_sim_out {
  double *snap;                /* nrecord x paths x d: snap[(r*paths + i)*d + j] */
  int64_t *escape_step;        /* paths, when escape != NULL: first k with escape, or -1 */
  int64_t *diverge_step;       /* paths, when record_diverged: step of divergence, or -1 */
  int64_t *undefined_step;     /* paths, when record_undefined: step at which the model
                                  became undefined (eta*lambda_max >= 1), or -1 */
  size_t projected;            /* eigenvalues clipped to keep diffusions PSD */
  size_t escaped, diverged, undefined;
  size_t threads_used;
  const char *kernel;          /* "linear" or "general": which loop ran */
  double elapsed;              /* seconds */
  hs_sim_error err;
} hs_sim_out;

/* Element counts of the caller-allocated outputs; HS_ESIZE on overflow. */
hs_status hs_sim_sizes(const hs_sim *s, size_t *nsnap, size_t *npaths);

/* Check the configuration (HS_EINVAL with err->msg naming the problem). */
hs_status hs_sim_check(const hs_sim *s, hs_sim_error *err);

/* Whether the fast linear kernel applies: a quadratic objective with no noise,
** isotropic or constant Gaussian noise. The exact integrator requires it. */
int hs_sim_linear(const hs_sim *s);

/* Run. On error the outputs are partial and out->err describes the failure. */
hs_status hs_sim_run(const hs_sim *s, hs_sim_out *out);

#endif
