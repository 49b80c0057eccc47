/*
** hs_ensemble.h: observed ensembles. One or several methods run on the same paths
** (the same seed, streams and starts), chunk by chunk of paths; at the recorded steps
** the workers evaluate the observables (hs_observe.h) into a chunk-sized buffer, and
** the chunk is then reduced into exact accumulators: each method's values and, for
** a paired comparison, its differences against a reference method on the same path.
**
** Memory is that of the accumulators and of one chunk's buffers, whatever the number
** of paths; snapshots and per-path step arrays are kept only when the caller asks
** for them. Because the accumulators are exact, the figures are the same bits for any
** chunk size, number of threads, or split of the paths into ranges run elsewhere
** and merged (hs_obs_stats_merge): a process running paths [path0, path0 + paths)
** computes exactly its share.
*/
#ifndef HS_ENSEMBLE_H
#define HS_ENSEMBLE_H

#include "hs_observe.h"
#include "hs_sim.h"

typedef struct hs_ensemble {
  const hs_sim *sims;          /* nmethods configurations: the same paths, seed, x0,
                                  record and coupling; their own path0 is ignored */
  size_t nmethods;
  size_t ref;                  /* paired reference method, or SIZE_MAX: no pairing */
  const hs_observe *observe;   /* evaluated at every recorded step */
  size_t path0;                /* the first path of the range: path i draws from the
                                  stream of path path0 + i (x0 rows are the range's) */
  size_t chunk;                /* paths per chunk; 0: chosen from the buffer budget */
  const hs_sim *coarse;        /* NULL, or nmethods configurations for Talay-Tubaro
                                  extrapolation: where coarse[m].model.method is not
                                  NULL, method m also runs as coarse[m] (half the
                                  substeps on the same normals) and its figures are
                                  those of 2 g(fine) - g(coarse) per path */
} hs_ensemble;

typedef struct hs_ensemble_out {
  hs_sim_out *outs;            /* nmethods: per-path arrays for all the range's paths
                                  (NULL members: not kept; snap: paths x d per record),
                                  counters summed over chunks, err of a failure */
  hs_obs_stats **stats;        /* nmethods accumulators, paired when ref is set; the
                                  run adds to them (clear them first for a fresh run) */
  size_t failed;               /* the method whose run failed, when one did */
  size_t chunk;                /* the chunk size used */
  hs_obs_stats **bias;         /* with coarse runs: nmethods accumulators (NULL where
                                  not extrapolated, unpaired) of g(fine) - g(coarse) per
                                  path, the correction the extrapolation applies */
  hs_sim_out *coarse_outs;     /* with coarse runs: nmethods counters of the coarse runs
                                  (projected, diverged, undefined; per-path arrays not
                                  kept); may be NULL */
  int failed_coarse;           /* 1 when the failed method's coarse run failed */
} hs_ensemble_out;

/* Paths per chunk for a run: the given chunk, or as many as keep the observable
** buffers (nmethods x nrecord x nobs doubles per path) near 2 MiB, a multiple of 64
** and at least 512, never more than the paths. */
size_t hs_ensemble_chunk(const hs_ensemble *e);

/* Bytes the run allocates besides its outputs (the chunk buffers). */
size_t hs_ensemble_bytes(const hs_ensemble *e);

/* Whether method m of e is extrapolated (e->coarse[m] runs too). */
int hs_ensemble_extrapolated(const hs_ensemble *e, size_t m);

/* Run every chunk through every method in turn (an extrapolated method's fine run,
** then its coarse run), then reduce it. On failure the run
** stops at the first chunk where a method failed; outs[failed].err describes it with
** the global path index (path0 + i). HS_EINVAL when the methods'
** configurations disagree on what pairing needs (paths, steps, record, seed). */
hs_status hs_ensemble_run(const hs_ensemble *e, hs_ensemble_out *out);

#endif
