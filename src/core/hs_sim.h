/*
** hs_sim.h: the ensemble engine: many independent paths of SGD or of an SDE model,
** stepped in C over contiguous memory by worker threads, with snapshots at chosen
** steps, escape detection and precise error reports.
**
** A run goes: configuration (hs_sim, filled by the caller) -> hs_sim_check (every
** check of the configuration and its message, naming the option at fault) ->
** hs_sim_resolve (defaults) -> hs_sim_out_alloc (the outputs, against the memory
** budget) -> hs_sim_run (the run driver, hs_run.c, which starts the workers and runs
** a kernel per block of paths: hs_kernel_linear.c or hs_kernel_general.c) ->
** hs_sim_out_free. The files: hs_sim_config.c (this header's configuration part),
** hs_run.{h,c}, hs_kernel_linear.{h,c}, hs_kernel_general.{h,c}.
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
#include "hs_observe.h"

/* HS_INTEGRATOR_AUTO: exact where it applies to an SDE model (hs_sim_linear), else
** Euler-Maruyama. A discrete method (SGD) is its own recursion: no integrator applies. */
typedef enum hs_integrator { HS_EULER, HS_EXACT, HS_INTEGRATOR_AUTO } hs_integrator;

#define HS_SUBSTEPS_DEFAULT 10       /* Euler-Maruyama substeps of an SDE model */
#define HS_PSD_TOL_DEFAULT 1e-10     /* eigenvalues above -tol * max|eig| are rounding */
#define HS_PROGRESS_DEFAULT 0.2      /* seconds between progress reports */
#define HS_ESTIMATE_DEFAULT 60.0     /* runs estimated longer are announced (estimate) */
#define HS_PILOT_SECONDS 1.0         /* the rate over a run's first second estimates it */

/* Called at most once, on the calling thread, after the pilot (the run's first
** second, or its first block when that takes longer) when the rest of the run is
** estimated to take more than `estimate_after` seconds, with the path-steps of the
** whole run, the rate measured on the pilot (path-steps per second, all threads), the
** estimated seconds left and the pilot's duration. */
typedef void (*hs_estimate_fn)(void *ctx, double total, double rate, double seconds,
                               double pilot);

/* Called on the calling thread about every `progress_interval` seconds with the
** path-steps done so far and in all; a nonzero return cancels the run (HS_ECANCEL). */
typedef int (*hs_progress_fn)(void *ctx, double done, double total);

/* Thread-private copies of callbacks that may not be shared between threads (Lua
** functions, each copy living in its own interpreter state). */
typedef struct hs_replica {
  const hs_objective *obj;
  const hs_noise *noise;
  const hs_escape *escape;
  const hs_observe *observe;
} hs_replica;

/* Make replica i (0-based) of the run's thread-unsafe callbacks into *rep (a NULL
** member: use the original). Called by hs_sim_run on the calling thread before the
** workers start; returns 0, or nonzero with the reason in why (the run then uses the
** calling thread alone for them). The caller releases what it made after the run. */
typedef int (*hs_replicate_fn)(void *ctx, size_t i, hs_replica *rep, char *why,
                               size_t whyn);

typedef struct hs_sim {
  hs_model model;              /* method, dim, eta, objective, noise, PSD policy */
  hs_integrator integrator;
  size_t steps;                /* SGD steps, or SDE time steps*eta */
  size_t substeps;             /* Euler-Maruyama steps per SGD step; 0: the default
                                  (HS_SUBSTEPS_DEFAULT for SDEs, 1 for SGD) */
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
  int coupled;                 /* all methods draw the same normals per step: */
  size_t normals;              /* coupled: N normal vectors per step (0: substeps); a
                                  discrete step uses their normalised sum, each of the r
                                  rounds of a step (Euler substeps, SVAG steps) the
                                  normalised sum of N / r of them (r divides N) */
  size_t svag_l;               /* split methods (SVAG): steps of eta / l per step of eta */
  size_t memory_limit;         /* bytes the outputs may take; 0: half the physical memory */
  hs_progress_fn progress;
  void *progress_ctx;
  double progress_interval;
  /* Path i of the run draws from the stream of path path0 + i (a range of a larger
  ** ensemble: hs_ensemble.h); x0 rows and outputs are the run's own (0-based). */
  size_t path0;
  /* Observables evaluated at every recorded step into out->obsval (NULL: none), and
  ** whether snapshots are left out (out->snap NULL; then only observables are kept). */
  const hs_observe *observe;
  int no_snapshots;
  /* When the objective, noise or escape criterion is not thread safe, only worker 0
  ** uses them; workers 1..n use replicas made by this hook instead (n =
  ** hs_sim_replicas), so the run can use 1 + n threads. Replicas must compute exactly
  ** what the originals do. NULL: no replicas. */
  hs_replicate_fn replicate;
  void *replicate_ctx;
  /* When not NULL, polled at every step and between the phases of the set-up: a
  ** nonzero value stops the run with HS_ECANCEL (a signal handler of the caller's
  ** sets it, for Ctrl-C). */
  const volatile sig_atomic_t *interrupt;
  hs_estimate_fn estimate;     /* NULL: no announcement of long runs */
  void *estimate_ctx;
  double estimate_after;       /* seconds; 0: HS_ESTIMATE_DEFAULT */
} hs_sim;

/* What went wrong, for the message the binding builds. */
typedef struct hs_sim_error {
  hs_status status;
  size_t path;                 /* 0-based */
  size_t step;                 /* the step being computed (1-based; 0 = set-up) */
  double value;                /* eigenvalue for HS_EDOM / HS_ENOTPSD */
  char what[32];               /* which part failed: "objective", "noise", "escape", ... */
  size_t obs;                  /* what = "observable": which one (0-based) */
  char field[32];              /* HS_EINVAL: the option at fault ("eta"), or "" */
  char msg[1024];              /* detail, such as a callback's message (may be cut) */
} hs_sim_error;

/* Outputs: allocated by hs_sim_out_alloc (or by the caller with the sizes
** hs_sim_sizes gives; arrays the run does not use may be NULL). */
typedef struct hs_sim_out {
  double *snap;                /* nrecord x paths x d: snap[(r*paths + i)*d + j] */
  double *obsval;              /* with observe: nrecord x nobs x paths values,
                                  obsval[(r*nobs + o)*paths + i] (NaN: no state);
                                  the caller's (hs_sim_out_alloc leaves it NULL) */
  int64_t *escape_step;        /* paths, when escape != NULL: first k with escape, or -1 */
  int64_t *diverge_step;       /* paths, when record_diverged: step of divergence, or -1 */
  int64_t *undefined_step;     /* paths, when record_undefined: step at which the model
                                  became undefined (eta*lambda_max >= 1), or -1 */
  size_t projected;            /* eigenvalues clipped to keep diffusions PSD */
  size_t escaped, diverged, undefined;
  size_t threads_used;
  size_t replicas;             /* replicas of thread-unsafe callbacks the run used */
  char note[256];              /* why replicas were wanted but not made, or "" */
  const char *kernel;          /* "linear" or "general": which loop ran */
  double elapsed;              /* seconds */
  hs_sim_error err;
  void *mem;                   /* the block of hs_sim_out_alloc (NULL otherwise) */
} hs_sim_out;

/* Element counts of the outputs (snapshots; each per-path array); HS_ESIZE on
** overflow. */
hs_status hs_sim_sizes(const hs_sim *s, size_t *nsnap, size_t *npaths);

/* Check the configuration, unresolved or resolved: HS_EINVAL with err->field naming
** the option at fault and err->msg what is wrong with it ("must be positive and
** finite (got -0.5)"), or HS_ESIZE when the outputs exceed the memory limit or cannot
** be counted (err->msg says what was requested and the limit). */
hs_status hs_sim_check(const hs_sim *s, hs_sim_error *err);

/* Fill in the defaults (substeps, integrator, memory limit, estimate threshold). */
void hs_sim_resolve(hs_sim *s);

/* Rounds per step of a resolved configuration: Euler substeps of an SDE model (1 under
** the exact integrator), svag_l for a split discrete method (SVAG), else 1. */
size_t hs_sim_rounds(const hs_sim *s);

/* Normal vectors per step of a coupled run (0 when not coupled). */
size_t hs_sim_normals(const hs_sim *s);

/* Whether the fast linear kernel applies: a quadratic objective with no noise,
** isotropic or constant Gaussian noise. The exact integrator requires it. */
int hs_sim_linear(const hs_sim *s);

/* The number of callback replicas that would let the run use more threads (0 when
** the callbacks are thread safe, or the run is too small to repay them). */
size_t hs_sim_replicas(const hs_sim *s);

/* Allocate the outputs of a resolved, checked configuration in one block (arrays
** the run does not use are NULL): HS_ENOMEM with err->msg saying how much was
** requested. Release with hs_sim_out_free. */
hs_status hs_sim_out_alloc(const hs_sim *s, hs_sim_out *out, hs_sim_error *err);
void hs_sim_out_free(hs_sim_out *out);

/* Run (checking and resolving a copy of s first). On error the outputs are partial
** and out->err describes the failure. */
hs_status hs_sim_run(const hs_sim *s, hs_sim_out *out);

#endif
