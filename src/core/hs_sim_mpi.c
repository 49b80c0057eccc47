/*
** hs_sim_mpi.c: the ensemble engine over MPI ranks (see hs_sim_mpi.h).
**
** Why results are identical to one process: path i draws only from its own stream
** whatever rank computes it, so every snapshot and per-path value is the same bits;
** gathering them in path order rebuilds the arrays of a one-process run, and the
** statistics computed from them (means, covariances) then follow the same
** operations. Counts are integers. The one reduction of floating-point values
** (observables) uses exact accumulators, whose sum does not depend on the partition.
**
** What crosses the network per run: a key per rank to agree on errors (and the error
** record from the rank that reports it), four counts, the elapsed time and the thread
** count: under 100 bytes per rank whatever the number of paths; plus the snapshots
** and per-path arrays when they were asked for, which the caller receives anyway.
*/
#include "hs_sim_mpi.h"

#include <stdlib.h>
#include <string.h>

#include "hs_mpi.h"
#include "hs_run.h"

/* An error record as bytes with a fixed layout (status, path, step, value as 64-bit
** words, then the texts), so that it does not depend on the struct's padding. */
#define ERRTEXT (sizeof(((hs_sim_error *)0)->what) + sizeof(((hs_sim_error *)0)->field) + \
                 sizeof(((hs_sim_error *)0)->msg))
#define ERRREC (4 * 8 + ERRTEXT)

static void pack_error(const hs_sim_error *e, unsigned char *p) {
  int64_t w[3] = {(int64_t)e->status, (int64_t)e->path, (int64_t)e->step};
  memcpy(p, w, sizeof w);
  memcpy(p + 24, &e->value, 8);
  memcpy(p + 32, e->what, sizeof e->what);
  memcpy(p + 32 + sizeof e->what, e->field, sizeof e->field);
  memcpy(p + 32 + sizeof e->what + sizeof e->field, e->msg, sizeof e->msg);
}

static void unpack_error(const unsigned char *p, hs_sim_error *e) {
  int64_t w[3];
  memcpy(w, p, sizeof w);
  e->status = (hs_status)w[0];
  e->path = (size_t)w[1];
  e->step = (size_t)w[2];
  memcpy(&e->value, p + 24, 8);
  memcpy(e->what, p + 32, sizeof e->what);
  memcpy(e->field, p + 32 + sizeof e->what, sizeof e->field);
  memcpy(e->msg, p + 32 + sizeof e->what + sizeof e->field, sizeof e->msg);
  e->what[sizeof e->what - 1] = e->field[sizeof e->field - 1] = '\0';
  e->msg[sizeof e->msg - 1] = '\0';
}

/* Gather the per-rank ranges of an array of `rows` rows of n items (each `item`
** bytes), laid out row after row: rank r holds items [first_r, first_r + count_r)
** of each row, in place. */
static hs_status gather_rows(void *base, size_t rows, size_t n, size_t item,
                             const size_t *counts_items, size_t *counts_bytes) {
  int size = hs_mpi_size();
  for (int r = 0; r < size; r++) counts_bytes[r] = counts_items[r] * item;
  for (size_t row = 0; row < rows; row++) {
    hs_status st = hs_mpi_allgatherv(NULL, counts_bytes, (char *)base + row * n * item);
    if (st != HS_OK) return st;
  }
  return HS_OK;
}

hs_status hs_sim_run_ranks(const hs_sim *s, hs_sim_out *out, hs_sim_mpi_info *info) {
  int rank = hs_mpi_rank(), size = hs_mpi_size();
  uint64_t sent0 = hs_mpi_bytes_sent();
  memset(info, 0, sizeof *info);
  info->ranks = 1;
  info->count = s->paths;
  if (size == 1 || !hs_mpi_active() || hs_mpi_alone()) {
    hs_status st = hs_sim_run(s, out);
    info->threads_min = info->threads_max = out->threads_used;
    return st;
  }
  info->ranks = size;
  hs_sim local = *s;
  hs_mpi_share(s->paths, HS_BLOCK, rank, size, &info->first, &info->count);
  local.from = info->first;
  local.to = info->first + info->count;
  if (local.threads == 0) local.threads = hs_mpi_threads();
  hs_status st = hs_sim_run(&local, out);

  /* The first error over the ranks: the smallest failing path, as one process
  ** reports it. A set-up error (the same on every rank) comes from rank 0. */
  int winner;
  uint64_t key = st == HS_OK ? UINT64_MAX : (uint64_t)out->err.path;
  unsigned char rec[ERRREC];
  pack_error(&out->err, rec);
  hs_status mst = hs_mpi_agree_first(key, rec, sizeof rec, &winner);
  if (mst != HS_OK) return mst;
  if (winner >= 0) {
    unpack_error(rec, &out->err);
    return out->err.status;
  }

  /* Counts, time and threads. The linear kernel's projections are counted once, at
  ** set-up, by every rank alike; the general kernel's per path. */
  int64_t c[4] = {(int64_t)out->projected, (int64_t)out->escaped, (int64_t)out->diverged,
                  (int64_t)out->undefined};
  int linear = out->kernel != NULL && strcmp(out->kernel, "linear") == 0;
  int64_t setup_projected = c[0];
  if ((mst = hs_mpi_allreduce_int(c, 4, HS_MPI_SUM)) != HS_OK) return mst;
  out->projected = linear ? (size_t)setup_projected : (size_t)c[0];
  out->escaped = (size_t)c[1];
  out->diverged = (size_t)c[2];
  out->undefined = (size_t)c[3];
  int64_t t[2] = {(int64_t)out->threads_used, -(int64_t)out->threads_used};
  if ((mst = hs_mpi_allreduce_int(t, 2, HS_MPI_MAX)) != HS_OK) return mst;
  info->threads_max = (size_t)t[0];
  info->threads_min = (size_t)-t[1];
  if ((mst = hs_mpi_allreduce(&out->elapsed, 1, HS_MPI_MAX)) != HS_OK) return mst;

  /* Snapshots (nrecord rows of paths x d doubles) and per-path arrays, in place. */
  size_t *items = malloc(2 * (size_t)size * sizeof *items), *bytes = items + size;
  if (items == NULL) return HS_ENOMEM;
  for (int r = 0; r < size; r++) {
    size_t f;
    hs_mpi_share(s->paths, HS_BLOCK, r, size, &f, &items[r]);
  }
  size_t d = s->model.dim;
  if (out->snap != NULL && s->nrecord > 0) {
    for (int r = 0; r < size; r++) items[r] *= d;
    mst = gather_rows(out->snap, s->nrecord, s->paths * d, sizeof(double), items, bytes);
    for (int r = 0; r < size; r++) items[r] /= d;
  }
  int64_t *perpath[3] = {out->escape_step, out->diverge_step, out->undefined_step};
  for (int a = 0; a < 3 && mst == HS_OK; a++)
    if (perpath[a] != NULL)
      mst = gather_rows(perpath[a], 1, s->paths, sizeof(int64_t), items, bytes);
  free(items);
  if (mst != HS_OK) return mst;
  info->bytes_sent = hs_mpi_bytes_sent() - sent0;
  return HS_OK;
}
