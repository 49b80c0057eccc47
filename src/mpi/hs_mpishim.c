/*
** hs_mpishim.c: the only file of hasme that includes mpi.h. It is compiled with mpicc
** into lib/hasme/mpishim.so, which hs_mpi.c loads at run time when hasme was started
** by mpirun or srun; neither the hasme executable nor core.so links libmpi.
*/
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mpi.h>

#include "hasme.h"
#include "hs_mpishim.h"

/* MPI counts are ints: longer buffers go in pieces of at most this many bytes. */
#define CHUNK ((size_t)1 << 30)

/* Format an MPI error code and the call that returned it into err; returns -1. */
static int fail(const char *call, int code, char *err, size_t err_size) {
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(code, text, &len) != MPI_SUCCESS) snprintf(text, sizeof text, "code %d", code);
  snprintf(err, err_size, "%s: %s", call, text);
  return -1;
}

/* A duplicate of MPI_COMM_WORLD for the timed barrier (see hs_mpishim.h). */
static MPI_Comm control = MPI_COMM_NULL;

static int shim_init(int *rank, int *size, int *local_size, char *err, size_t err_size) {
  int provided = 0, rc;
  /* Worker threads never call MPI: only the thread that runs Lua does. */
  rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
  if (rc != MPI_SUCCESS) return fail("MPI_Init_thread", rc, err, err_size);
  /* Errors come back as codes, so that hasme can report them and abort the job. */
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  if ((rc = MPI_Comm_rank(MPI_COMM_WORLD, rank)) != MPI_SUCCESS)
    return fail("MPI_Comm_rank", rc, err, err_size);
  if ((rc = MPI_Comm_size(MPI_COMM_WORLD, size)) != MPI_SUCCESS)
    return fail("MPI_Comm_size", rc, err, err_size);
  if ((rc = MPI_Comm_dup(MPI_COMM_WORLD, &control)) != MPI_SUCCESS)
    return fail("MPI_Comm_dup", rc, err, err_size);
  MPI_Comm node;
  rc = MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
  if (rc != MPI_SUCCESS) return fail("MPI_Comm_split_type", rc, err, err_size);
  rc = MPI_Comm_size(node, local_size);
  MPI_Comm_free(&node);
  if (rc != MPI_SUCCESS) return fail("MPI_Comm_size", rc, err, err_size);
  return 0;
}

static int shim_bcast(void *buf, size_t n, int root, char *err, size_t err_size) {
  char *p = buf;
  for (size_t off = 0; off < n; off += CHUNK) {
    size_t len = n - off < CHUNK ? n - off : CHUNK;
    int rc = MPI_Bcast(p + off, (int)len, MPI_BYTE, root, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) return fail("MPI_Bcast", rc, err, err_size);
  }
  return 0;
}

/* One MPI_Allgatherv when every count and the total fit an int (the usual case:
** reductions of a few kilobytes); otherwise each rank broadcasts its block in turn,
** in pieces. Both leave the blocks in rank order. */
static int shim_allgatherv(const void *send, const size_t *counts, void *recv,
                           char *err, size_t err_size) {
  int rank, size, rc;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  size_t total = 0;
  for (int r = 0; r < size; r++) total += counts[r];
  char *out = recv;
  if (total <= (size_t)INT_MAX) {
    int *cnt = malloc(2 * (size_t)size * sizeof *cnt);
    if (cnt == NULL) {
      snprintf(err, err_size, "MPI_Allgatherv: not enough memory for %d counts", size);
      return -1;
    }
    int *displ = cnt + size;
    size_t off = 0;
    for (int r = 0; r < size; r++) {
      cnt[r] = (int)counts[r];
      displ[r] = (int)off;
      off += counts[r];
    }
    if (send == NULL)
      rc = MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, out, cnt, displ, MPI_BYTE,
                          MPI_COMM_WORLD);
    else
      rc = MPI_Allgatherv(send, cnt[rank], MPI_BYTE, out, cnt, displ, MPI_BYTE,
                          MPI_COMM_WORLD);
    free(cnt);
    return rc == MPI_SUCCESS ? 0 : fail("MPI_Allgatherv", rc, err, err_size);
  }
  size_t off = 0;
  for (int r = 0; r < size; r++) {
    if (r == rank && counts[r] > 0 && send != NULL) memcpy(out + off, send, counts[r]);
    if (shim_bcast(out + off, counts[r], r, err, err_size) != 0) return -1;
    off += counts[r];
  }
  return 0;
}

static int shim_barrier(char *err, size_t err_size) {
  int rc = MPI_Barrier(MPI_COMM_WORLD);
  return rc == MPI_SUCCESS ? 0 : fail("MPI_Barrier", rc, err, err_size);
}

static int shim_barrier_timeout(double seconds, char *err, size_t err_size) {
  MPI_Request req;
  int rc = MPI_Ibarrier(control, &req), done = 0;
  if (rc != MPI_SUCCESS) return fail("MPI_Ibarrier", rc, err, err_size);
  double t0 = MPI_Wtime();
  struct timespec ms = {0, 1000000};
  while (!done) {
    if ((rc = MPI_Test(&req, &done, MPI_STATUS_IGNORE)) != MPI_SUCCESS)
      return fail("MPI_Test", rc, err, err_size);
    if (done) break;
    if (MPI_Wtime() - t0 > seconds) return 1;   /* the request stays pending */
    nanosleep(&ms, NULL);
  }
  return 0;
}

static void shim_abort(int code) {
  MPI_Abort(MPI_COMM_WORLD, code);
}

static int shim_finalize(char *err, size_t err_size) {
  int rc = MPI_Finalize();
  return rc == MPI_SUCCESS ? 0 : fail("MPI_Finalize", rc, err, err_size);
}

HS_EXPORT const hs_mpishim hs_mpishim_table = {
  HS_MPISHIM_VERSION, shim_init, shim_bcast, shim_allgatherv, shim_barrier,
  shim_barrier_timeout, shim_abort, shim_finalize
};
