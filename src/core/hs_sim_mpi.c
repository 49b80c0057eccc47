/*
** hs_sim_mpi.c: the ensemble engine over MPI ranks (see hs_sim_mpi.h).
**
** Why results are identical to one process: path i draws only from its own stream
** whatever rank computes it, so every snapshot and per-path value is the same bits;
** gathering them in path order rebuilds the arrays of a one-process run, and the
** statistics computed from them (means, covariances) then follow the same
** operations. Counts are integers. Observables are reduced in exact accumulators,
** whose sum does not depend on how the paths were split; the ranges of an observed
** run are whole chunks of the one-process run, so that even which failure is
** reported first is the same.
**
** What crosses the network per run: a key per rank to agree on errors (and the error
** record from the rank that reports it), four counts per method, the elapsed time
** and the thread count, and the fixed-size images of the observable accumulators:
** independent of the number of paths. Snapshots and per-path arrays are gathered
** only when the run keeps them; every rank receives them, as every rank returns the
** whole Result.
*/
#include "hs_sim_mpi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hs_mpi.h"
#include "hs_run.h"

/* {====================================================================
** Pieces shared by both runs
** ===================================================================== */

/* An error record as bytes with a fixed layout (status, path, step, value, obs as
** 64-bit words, then the texts), so that it does not depend on the struct's padding;
** the run's failing method goes along. */
#define ERRTEXT (sizeof(((hs_sim_error *)0)->what) + sizeof(((hs_sim_error *)0)->field) + \
                 sizeof(((hs_sim_error *)0)->msg))
#define ERRREC (6 * 8 + ERRTEXT)

static void pack_error(const hs_sim_error *e, size_t method, unsigned char *p) {
  int64_t w[5] = {(int64_t)e->status, (int64_t)e->path, (int64_t)e->step, (int64_t)e->obs,
                  (int64_t)method};
  memcpy(p, w, sizeof w);
  memcpy(p + 40, &e->value, 8);
  memcpy(p + 48, e->what, sizeof e->what);
  memcpy(p + 48 + sizeof e->what, e->field, sizeof e->field);
  memcpy(p + 48 + sizeof e->what + sizeof e->field, e->msg, sizeof e->msg);
}

static void unpack_error(const unsigned char *p, hs_sim_error *e, size_t *method) {
  int64_t w[5];
  memcpy(w, p, sizeof w);
  e->status = (hs_status)w[0];
  e->path = (size_t)w[1];
  e->step = (size_t)w[2];
  e->obs = (size_t)w[3];
  *method = (size_t)w[4];
  memcpy(&e->value, p + 40, 8);
  memcpy(e->what, p + 48, sizeof e->what);
  memcpy(e->field, p + 48 + sizeof e->what, sizeof e->field);
  memcpy(e->msg, p + 48 + sizeof e->what + sizeof e->field, sizeof e->msg);
  e->what[sizeof e->what - 1] = e->field[sizeof e->field - 1] = '\0';
  e->msg[sizeof e->msg - 1] = '\0';
}

/* Agree on the first failure: key orders the failures as one process meets them
** (UINT64_MAX: none here). On a failure anywhere, *err and *method become the
** winner's on every rank and *failed is 1. */
static hs_status agree(uint64_t key, hs_sim_error *err, size_t *method, int *failed) {
  unsigned char rec[ERRREC];
  int winner;
  pack_error(err, *method, rec);
  hs_status st = hs_mpi_agree_first(key, rec, sizeof rec, &winner);
  *failed = winner >= 0;
  if (st == HS_OK && winner >= 0) unpack_error(rec, err, method);
  return st;
}

/* Sum the counters of n outputs over the ranks. With setup_once, the linear kernel's
** projections are counted at set-up, alike on every rank that ran (once per run):
** the largest count is the run's; otherwise (an observed run sets up once per chunk)
** the counts add up. elapsed becomes the slowest rank's; info gets the threads. */
static hs_status reduce_counts(hs_sim_out *o, size_t n, int setup_once, hs_sim_mpi_info *info) {
  size_t k = 5 * n + 2;
  int64_t *c = malloc(k * sizeof *c);
  if (c == NULL) return HS_ENOMEM;
  size_t threads = 0;
  double elapsed = 0.0;
  for (size_t m = 0; m < n; m++) {
    c[4 * m] = (int64_t)o[m].projected;
    c[4 * m + 1] = (int64_t)o[m].escaped;
    c[4 * m + 2] = (int64_t)o[m].diverged;
    c[4 * m + 3] = (int64_t)o[m].undefined;
    if (o[m].threads_used > threads) threads = o[m].threads_used;
    if (o[m].elapsed > elapsed) elapsed = o[m].elapsed;
  }
  c[4 * n] = (int64_t)threads;
  c[4 * n + 1] = -(int64_t)threads;
  for (size_t m = 0; m < n; m++) c[4 * n + 2 + m] = (int64_t)o[m].projected;
  hs_status st = hs_mpi_allreduce_int(c, 4 * n, HS_MPI_SUM);
  if (st == HS_OK) st = hs_mpi_allreduce_int(c + 4 * n, 2 + n, HS_MPI_MAX);
  if (st == HS_OK) st = hs_mpi_allreduce(&elapsed, 1, HS_MPI_MAX);
  for (size_t m = 0; st == HS_OK && m < n; m++) {
    int linear = setup_once && o[m].kernel != NULL && strcmp(o[m].kernel, "linear") == 0;
    o[m].projected = (size_t)(linear ? c[4 * n + 2 + m] : c[4 * m]);
    o[m].escaped = (size_t)c[4 * m + 1];
    o[m].diverged = (size_t)c[4 * m + 2];
    o[m].undefined = (size_t)c[4 * m + 3];
    o[m].elapsed = elapsed;
  }
  if (st == HS_OK) {
    info->threads_max = (size_t)c[4 * n];
    info->threads_min = (size_t)-c[4 * n + 1];
  }
  free(c);
  return st;
}

/* The items of every rank's share: counts[r] = share of rank r (times `times`). */
static void share_counts(size_t paths, size_t unit, size_t times, size_t *counts) {
  int size = hs_mpi_size();
  for (int r = 0; r < size; r++) {
    size_t f, c;
    hs_mpi_share(paths, unit, r, size, &f, &c);
    counts[r] = c * times;
  }
}

/* Gather the outputs of one configuration s into o: snapshots from this rank's
** buffer (nrecord rows of count x d), per-path arrays in place. */
static hs_status gather_out(const hs_sim *s, hs_sim_out *o, const double *snap, size_t unit) {
  int size = hs_mpi_size();
  size_t *bytes = malloc((size_t)size * sizeof *bytes);
  if (bytes == NULL) return HS_ENOMEM;
  size_t d = s->model.dim;
  hs_status st = HS_OK;
  if (o->snap != NULL) {
    share_counts(s->paths, unit, d * sizeof(double), bytes);
    size_t mine = bytes[hs_mpi_rank()] / sizeof(double);
    for (size_t r = 0; st == HS_OK && r < s->nrecord; r++)
      st = hs_mpi_allgatherv(snap + r * mine, bytes, o->snap + r * s->paths * d);
  }
  share_counts(s->paths, unit, sizeof(int64_t), bytes);
  int64_t *perpath[3] = {o->escape_step, o->diverge_step, o->undefined_step};
  for (int a = 0; a < 3 && st == HS_OK; a++)
    if (perpath[a] != NULL) st = hs_mpi_allgatherv(NULL, bytes, perpath[a]);
  free(bytes);
  return st;
}

/* A snapshot buffer for count paths of s (NULL when none is kept or count is 0). */
static hs_status snapbuf(const hs_sim *s, const hs_sim_out *o, size_t count, double **buf) {
  size_t a, n;
  *buf = NULL;
  if (o->snap == NULL || count == 0) return HS_OK;
  if (!hs_mulsize(s->nrecord, count, &a) || !hs_mulsize(a, s->model.dim, &n)) return HS_ESIZE;
  *buf = malloc(n * sizeof **buf);
  return *buf == NULL ? HS_ENOMEM : HS_OK;
}

/* This rank's share of s, as a configuration of its own. */
static void local_sim(const hs_sim *s, size_t first, size_t count, hs_sim *local) {
  *local = *s;
  local->path0 = s->path0 + first;
  local->paths = count;
  if (s->x0_per_path) local->x0 = s->x0 + first * s->model.dim;
  if (local->threads == 0) local->threads = hs_mpi_threads();
}

/* This rank's outputs for its share: per-path arrays offset into the whole run's. */
static void local_out(const hs_sim_out *o, size_t first, double *snap, hs_sim_out *lo) {
  memset(lo, 0, sizeof *lo);
  lo->snap = snap;
  lo->escape_step = o->escape_step != NULL ? o->escape_step + first : NULL;
  lo->diverge_step = o->diverge_step != NULL ? o->diverge_step + first : NULL;
  lo->undefined_step = o->undefined_step != NULL ? o->undefined_step + first : NULL;
  lo->obsval = NULL;
}

/* The counters and error of lo back into o (whose arrays and memory block stay). */
static void take_out(hs_sim_out *o, const hs_sim_out *lo) {
  o->projected = lo->projected;
  o->escaped = lo->escaped;
  o->diverged = lo->diverged;
  o->undefined = lo->undefined;
  o->threads_used = lo->threads_used;
  o->replicas = lo->replicas;
  memcpy(o->note, lo->note, sizeof o->note);
  o->kernel = lo->kernel;
  o->elapsed = lo->elapsed;
  o->err = lo->err;
}

static int spread(void) {
  return hs_mpi_size() > 1 && hs_mpi_active() && !hs_mpi_alone();
}

/* }==================================================================== */

hs_status hs_obs_stats_allreduce(hs_obs_stats *s) {
  if (!hs_mpi_active() || hs_mpi_size() == 1) return HS_OK;
  size_t words = hs_obs_stats_words(s), size = (size_t)hs_mpi_size(), total;
  if (!hs_mulsize(words, size + 1, &total)) return HS_ESIZE;
  uint64_t *img = malloc(total * sizeof *img);
  hs_obs_stats *t = hs_obs_stats_alloc(s->nobs, s->nrec, s->paired);
  hs_status st = img == NULL || t == NULL ? HS_ENOMEM : HS_OK;
  if (st == HS_OK) {
    uint64_t *all = img + words;
    hs_obs_stats_pack(s, img);
    st = hs_mpi_allgather(img, words * sizeof *img, all);
    /* The merge is exact, so the order of the ranks does not matter; rank order
    ** anyway. */
    if (st == HS_OK) hs_obs_stats_clear(s);
    for (size_t r = 0; st == HS_OK && r < size; r++) {
      hs_obs_stats_unpack(t, all + r * words);
      st = hs_obs_stats_merge(s, t);
    }
  }
  free(img);
  hs_obs_stats_free(t);
  return st;
}

hs_status hs_sim_run_ranks(const hs_sim *s, hs_sim_out *out, hs_sim_mpi_info *info) {
  uint64_t sent0 = hs_mpi_bytes_sent();
  memset(info, 0, sizeof *info);
  info->ranks = 1;
  info->count = s->paths;
  if (!spread()) {
    hs_status st = hs_sim_run(s, out);
    info->threads_min = info->threads_max = out->threads_used;
    return st;
  }
  info->ranks = hs_mpi_size();
  hs_mpi_share(s->paths, HS_BLOCK, hs_mpi_rank(), hs_mpi_size(), &info->first, &info->count);
  hs_sim local;
  local_sim(s, info->first, info->count, &local);
  double *snap;
  hs_status st = snapbuf(s, out, info->count, &snap);
  hs_sim_out lo;
  local_out(out, info->first, snap, &lo);
  if (st != HS_OK) {
    lo.err.status = st;
    snprintf(lo.err.what, sizeof lo.err.what, "set-up");
  } else if (info->count > 0) {
    st = hs_sim_run(&local, &lo);
    if (st != HS_OK) lo.err.path += info->first;   /* the engine counts from path0 */
  } else lo.kernel = hs_sim_linear(s) ? "linear" : "general";
  take_out(out, &lo);

  /* The first error over the ranks: the smallest failing path, as one process
  ** reports it. A set-up error (the same on every rank) comes from rank 0. */
  size_t method = 0;
  int failed;
  hs_status mst = agree(st == HS_OK ? UINT64_MAX : (uint64_t)out->err.path, &out->err,
                        &method, &failed);
  if (mst == HS_OK && !failed) mst = reduce_counts(out, 1, 1, info);
  if (mst == HS_OK && !failed) mst = gather_out(s, out, snap, HS_BLOCK);
  free(snap);
  info->bytes_sent = hs_mpi_bytes_sent() - sent0;
  if (mst != HS_OK) return mst;
  return failed ? out->err.status : HS_OK;
}

hs_status hs_ensemble_run_ranks(const hs_ensemble *e, hs_ensemble_out *eo,
                                hs_sim_mpi_info *info) {
  uint64_t sent0 = hs_mpi_bytes_sent();
  memset(info, 0, sizeof *info);
  info->ranks = 1;
  info->count = e->sims[0].paths;
  if (!spread()) {
    hs_status st = hs_ensemble_run(e, eo);
    info->threads_min = info->threads_max = eo->outs[0].threads_used;
    return st;
  }
  size_t nm = e->nmethods, paths = e->sims[0].paths;
  info->ranks = hs_mpi_size();
  /* Whole chunks of the one-process run, so that the chunks, and which failure comes
  ** first, are the same. When there are fewer chunks than ranks (an automatic chunk
  ** holds tens of thousands of paths), smaller chunks give every rank its share: the
  ** figures do not depend on the chunk size; only which of several failures inside
  ** one chunk is met first may. */
  size_t chunk = hs_ensemble_chunk(e), size = (size_t)hs_mpi_size();
  if (e->chunk == 0 && paths / chunk + (paths % chunk != 0) < size) {
    size_t per = paths / size + (paths % size != 0);
    chunk = (per + 63) / 64 * 64;
  }
  hs_mpi_share(paths, chunk, hs_mpi_rank(), hs_mpi_size(), &info->first, &info->count);
  hs_sim *loc = calloc(nm, sizeof *loc);
  hs_sim_out *lo = calloc(nm, sizeof *lo);
  double **snaps = calloc(nm, sizeof *snaps);
  hs_status st = loc == NULL || lo == NULL || snaps == NULL ? HS_ENOMEM : HS_OK;
  for (size_t m = 0; st == HS_OK && m < nm; m++) {
    local_sim(&e->sims[m], info->first, info->count, &loc[m]);
    st = snapbuf(&e->sims[m], &eo->outs[m], info->count, &snaps[m]);
    local_out(&eo->outs[m], info->first, snaps[m], &lo[m]);
  }
  /* an extrapolated method's coarse run covers the same share */
  hs_sim *lco = e->coarse != NULL && st == HS_OK ? calloc(nm, sizeof *lco) : NULL;
  if (e->coarse != NULL && lco == NULL) st = HS_ENOMEM;
  for (size_t m = 0; lco != NULL && m < nm; m++)
    if (hs_ensemble_extrapolated(e, m))
      local_sim(&e->coarse[m], info->first, info->count, &lco[m]);
  hs_ensemble le = *e;
  le.sims = loc;
  le.coarse = lco;
  le.path0 = e->path0 + info->first;
  le.chunk = chunk;
  hs_ensemble_out leo = {lo, eo->stats, 0, chunk, eo->bias, NULL, 0};
  hs_sim_out *clo = NULL;   /* the coarse runs' counters, when asked for */
  if (eo->coarse_outs != NULL) {
    clo = calloc(nm, sizeof *clo);
    if (clo == NULL) st = HS_ENOMEM;
    leo.coarse_outs = clo;
  }
  size_t fm = 0;
  if (st == HS_OK && info->count > 0) {
    st = hs_ensemble_run(&le, &leo);
    fm = leo.failed;
    eo->failed_coarse = leo.failed_coarse;
  } else if (st != HS_OK && lo != NULL) {
    lo[0].err.status = st;
    snprintf(lo[0].err.what, sizeof lo[0].err.what, "set-up");
  }
  for (size_t m = 0; lo != NULL && m < nm; m++) {
    if (info->count == 0) lo[m].kernel = hs_sim_linear(&e->sims[m]) ? "linear" : "general";
    take_out(&eo->outs[m], &lo[m]);
  }
  eo->chunk = chunk;

  /* The first failure as one process meets it: chunk by chunk, method by method. */
  hs_sim_error err;
  memset(&err, 0, sizeof err);
  uint64_t key = UINT64_MAX;
  if (st != HS_OK && lo != NULL) {
    err = lo[fm].err;   /* the path is already global (hs_ensemble_run adds path0) */
    key = (uint64_t)(err.path / chunk) * nm + fm;
  }
  int failed;
  hs_status mst = agree(key, &err, &fm, &failed);
  if (mst == HS_OK && failed) {
    eo->failed = fm;
    eo->outs[fm].err = err;
  }
  if (mst == HS_OK && !failed) mst = reduce_counts(eo->outs, nm, 0, info);
  if (mst == HS_OK && !failed && clo != NULL) {
    hs_sim_mpi_info ci;
    mst = reduce_counts(clo, nm, 0, &ci);
    for (size_t m = 0; m < nm; m++) eo->coarse_outs[m] = clo[m];
  }
  for (size_t m = 0; mst == HS_OK && !failed && m < nm; m++) {
    if (eo->stats != NULL && eo->stats[m] != NULL) mst = hs_obs_stats_allreduce(eo->stats[m]);
    if (mst == HS_OK && eo->bias != NULL && eo->bias[m] != NULL)
      mst = hs_obs_stats_allreduce(eo->bias[m]);
    if (mst == HS_OK) mst = gather_out(&e->sims[m], &eo->outs[m], snaps[m], chunk);
  }
  for (size_t m = 0; snaps != NULL && m < nm; m++) free(snaps[m]);
  free(snaps);
  free(clo);
  free(lco);
  free(lo);
  free(loc);
  info->bytes_sent = hs_mpi_bytes_sent() - sent0;
  if (mst != HS_OK) return mst;
  return failed ? eo->outs[fm].err.status : HS_OK;
}
