/*
** hs_mpi.h: hasme's thin layer over MPI. Under mpirun or srun it loads the MPI shim
** (lib/hasme/mpishim.so, compiled with mpicc) and starts MPI; otherwise it makes no
** MPI call at all and hasme is one process of rank 0 in a world of size 1.
*/
#ifndef HS_MPI_H
#define HS_MPI_H

#include <stddef.h>
#include <stdint.h>

#include "hasme.h"

/* 1 when the environment shows a launcher that started this process as one rank of
** a job (OMPI_COMM_WORLD_SIZE, PMI_SIZE or PMIX_RANK set, and not inherited from a
** parent hasme rank), 0 otherwise. */
int hs_mpi_launched(void);

/* Start MPI when hs_mpi_launched(); does nothing otherwise. Idempotent; the first
** call must come from the thread that will make every later MPI call (the thread
** that runs Lua). Returns HS_OK, or HS_EINVAL with the reason in hs_mpi_error():
** launched but the shim or libmpi cannot be loaded, or MPI_Init_thread failed.
** Once started, MPI is finalized when the process exits with status 0, and the whole
** job is aborted (MPI_Abort) when it exits with any other status. */
hs_status hs_mpi_init(void);

/* 1 when MPI was started, so that collectives communicate; 0 otherwise. */
int hs_mpi_active(void);

/* Working alone: between enter and leave (nested calls count), this rank runs work
** of its own (a sweep point of its own), so the ensemble runs do not split their
** paths over the ranks. hs_mpi_alone() is the nesting depth (0: with the others). */
void hs_mpi_alone_enter(void);
void hs_mpi_alone_leave(void);
int hs_mpi_alone(void);

/* This process's rank in 0..size-1 and the number of ranks (0 and 1 without MPI), and
** the number of ranks on this machine (1 without MPI). */
int hs_mpi_rank(void);
int hs_mpi_size(void);
int hs_mpi_local_size(void);

/* The default number of worker threads of this rank: without MPI, every online core
** (hs_ncores); under MPI, the cores the launcher bound this rank to, or, when it is
** not bound, an equal share of the machine's cores among its ranks (at least 1). */
size_t hs_mpi_threads(void);

/* Collectives over all ranks; every rank must call them in the same order. Without
** MPI they act as on a world of one (bcast and barrier do nothing, allgather copies).
** Failures return HS_EINVAL with the MPI message in hs_mpi_error(). */
/* n bytes of buf from rank root to every rank. */
hs_status hs_mpi_bcast(void *buf, size_t n, int root);
/* n bytes from every rank into recv (size * n bytes) in rank order. */
hs_status hs_mpi_allgather(const void *send, size_t n, void *recv);
/* counts[rank] bytes from every rank into recv (sum of counts bytes) in rank order;
** counts must be the same on every rank. send NULL: this rank's block is already in
** its place in recv (in place, no copy). */
hs_status hs_mpi_allgatherv(const void *send, const size_t *counts, void *recv);

/* Agree on the first failure over the ranks: each rank passes key (UINT64_MAX when
** it has nothing to report, else for example the index of its first failing path)
** and a record of n bytes (n the same on every rank). *winner is the rank with the
** smallest key (the lowest such rank on ties), whose record is then copied into
** record on every rank, or -1 when every key is UINT64_MAX (record unchanged).
** Sends 8 bytes per rank, plus n bytes from the winner. */
hs_status hs_mpi_agree_first(uint64_t key, void *record, size_t n, int *winner);

/* The share of rank `rank` out of `size` of n items split into contiguous ranges of
** whole units of `unit` items (the last unit may be short), in rank order and as
** equal as whole units allow: items [*first, *first + *count). */
void hs_mpi_share(size_t n, size_t unit, int rank, int size, size_t *first, size_t *count);
hs_status hs_mpi_barrier(void);
/* A barrier that gives up after `seconds` (*arrived 0 then), on a communicator of
** its own: safe to call where another rank may be stuck in a different collective. */
hs_status hs_mpi_barrier_timeout(double seconds, int *arrived);

/* Reductions: x (n values) is replaced on every rank by the reduction over ranks of
** each element. HS_MPI_SUM of doubles is the correctly rounded sum of the ranks' values
** (hs_fsum), so it does not depend on the order or grouping of the ranks; of integers
** it is exact, and HS_ESIZE when it overflows int64. MIN and MAX propagate NaN and
** order -0 before +0. Workspace: size * n values allocated and freed here. */
typedef enum hs_mpi_op { HS_MPI_SUM, HS_MPI_MIN, HS_MPI_MAX } hs_mpi_op;
hs_status hs_mpi_allreduce(double *x, size_t n, hs_mpi_op op);
hs_status hs_mpi_allreduce_int(int64_t *x, size_t n, hs_mpi_op op);

/* The correctly rounded sum of x[0], x[stride], ..., x[(n-1)*stride]: the exact sum
** rounded once to nearest (Shewchuk's non-overlapping partials, as Python's
** math.fsum). An infinite or NaN term, or an exact sum beyond the double range, gives
** the IEEE sum in index order (an infinity or NaN). */
double hs_fsum(const double *x, size_t n, size_t stride);

/* End every rank of the job with exit status code (1 when code is 0). Without MPI,
** exits this process. */
_Noreturn void hs_mpi_abort(int code);

/* hs_mpi_abort after waiting up to `wait` seconds for another rank to end the job
** first (rank 0, finishing its report and files): for the other ranks of a run that
** failed everywhere. msg (may be NULL) is printed on stderr, with a newline, when the
** wait runs out. */
_Noreturn void hs_mpi_abort_after(int code, double wait, const char *msg);

/* The reason of the last failure ("" when none). */
const char *hs_mpi_error(void);

/* Payload bytes this rank has contributed to collectives since start: its block of
** each allgather, and the buffer of each bcast it was root of. What the network
** carries depends on MPI's algorithms; this counts what hasme asks it to move. */
uint64_t hs_mpi_bytes_sent(void);

/* Shared errors: an error raised identically on every rank (after a reduction that
** shares the first failure) is recorded with hs_mpi_share_error(msg). When it ends
** the program, only rank 0 reports it: hs_mpi_quiet(report) returns 1 on the other
** ranks for a report that quotes msg (hs_mpi_is_shared), and those ranks then leave the abort to
** rank 0 (waiting a few seconds for it) so that the report is printed once. */
void hs_mpi_share_error(const char *msg);
int hs_mpi_quiet(const char *report);

/* Whether report quotes the last shared error, whole or after its first "name: "
** (0 when there is none). */
int hs_mpi_is_shared(const char *report);

/* What a report of this rank's own error adds after the program name: " (rank R of
** N)" under MPI with several ranks, "" without MPI or for a shared error. */
const char *hs_mpi_tag(const char *report);

#endif
