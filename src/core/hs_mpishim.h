/*
** hs_mpishim.h: the table of functions that the MPI shim (src/mpi/hs_mpishim.c, a
** small shared object compiled with mpicc) hands to hs_mpi.c. Only plain C types
** cross this boundary, so the core never sees mpi.h and never links libmpi.
*/
#ifndef HS_MPISHIM_H
#define HS_MPISHIM_H

#include <stddef.h>

/* Bumped whenever the table changes, so that a stale shim is refused. */
#define HS_MPISHIM_VERSION 3

/* The symbol the shim exports, looked up by dlsym. */
#define HS_MPISHIM_SYMBOL "hs_mpishim_table"

/* Every function except abort returns 0 on success, or -1 with a message in err
** (err_size bytes, always NUL-terminated). All are collective over MPI_COMM_WORLD
** except abort, and all are called from the thread that called init. */
typedef struct hs_mpishim {
  int version;                                   /* HS_MPISHIM_VERSION */
  /* MPI_Init_thread (funneled), the rank and size of MPI_COMM_WORLD, and the number
  ** of ranks on this machine (sharing its memory). */
  int (*init)(int *rank, int *size, int *local_size, char *err, size_t err_size);
  /* n bytes of buf from rank root to every rank (n may exceed INT_MAX). */
  int (*bcast)(void *buf, size_t n, int root, char *err, size_t err_size);
  /* Every rank sends counts[rank] bytes from send; recv receives the blocks of
  ** all ranks one after the other in rank order (sum of counts bytes). counts is
  ** the same on every rank. send may not alias recv; send NULL means that this
  ** rank's block is already in its place in recv. */
  int (*allgatherv)(const void *send, const size_t *counts, void *recv, char *err,
                    size_t err_size);
  int (*barrier)(char *err, size_t err_size);
  /* A barrier that gives up after `seconds`: 0 when every rank arrived, 1 on timeout.
  ** It runs on a communicator of its own, so that it cannot be confused with the
  ** collectives of ranks that never arrive. */
  int (*barrier_timeout)(double seconds, char *err, size_t err_size);
  /* MPI_Abort on MPI_COMM_WORLD: every rank of the job exits with code. */
  void (*abort)(int code);
  int (*finalize)(char *err, size_t err_size);
} hs_mpishim;

#endif
