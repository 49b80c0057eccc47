/*
** hs_sim_mpi.h: a run of the ensemble engine over the ranks of an MPI job, giving
** every rank the outputs that hs_sim_run gives in one process, bit for bit.
*/
#ifndef HS_SIM_MPI_H
#define HS_SIM_MPI_H

#include <stdint.h>

#include "hs_ensemble.h"
#include "hs_sim.h"

/* How the run was spread: ranks, this rank's share of the paths, threads, and the
** payload bytes this rank handed to MPI for the run. */
typedef struct hs_sim_mpi_info {
  int ranks;
  size_t first, count;       /* this rank's paths: [first, first + count) */
  size_t threads_min, threads_max;   /* threads used, over the ranks */
  uint64_t bytes_sent;
} hs_sim_mpi_info;

/* Run s over every rank of the job (every rank calls this with the same s, as the
** same script does): rank r computes its contiguous share of the paths in whole
** blocks (hs_mpi_share, in path order) as a range of the run (s->path0), with
** s->threads threads or, when 0, the rank's default (hs_mpi_threads). The ranks then agree on the first error (the
** smallest failing path, as in one process) and, when there is none, gather the
** snapshots and per-path arrays in path order into out (allocated for the whole run
** on every rank) and sum the counts, so that out is the same on every rank and equal
** to one process's. elapsed is the slowest rank's. Without MPI, or alone
** (hs_mpi_alone), it is hs_sim_run.
** On error every rank returns the same status and out->err. */
hs_status hs_sim_run_ranks(const hs_sim *s, hs_sim_out *out, hs_sim_mpi_info *info);

/* hs_ensemble_run over every rank: rank r runs its contiguous share of whole chunks
** (the chunks of the one-process run, hs_ensemble_chunk), as a range (path0); the
** ranks agree on the first failure as one process meets it (chunk by chunk, method by
** method), reduce the observable accumulators exactly (hs_obs_stats_allreduce), sum
** the counts and gather the kept snapshots and per-path arrays: eo is then the same
** on every rank and equal to one process's. Without MPI, or alone, it is
** hs_ensemble_run. */
hs_status hs_ensemble_run_ranks(const hs_ensemble *e, hs_ensemble_out *eo,
                                hs_sim_mpi_info *info);

/* Replace the accumulators s on every rank by their exact sum over the ranks (the
** same shape on every rank): a fixed-size image per rank, whatever the number of
** paths behind it. Without MPI nothing changes. */
hs_status hs_obs_stats_allreduce(hs_obs_stats *s);

#endif
