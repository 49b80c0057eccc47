/*
** hs_sim_config.c: the engine's configuration: every check of an hs_sim and its
** message (once, here: the bindings pass them on), the defaults, the sizes and
** memory budget of the outputs and their allocation, and how many callback replicas
** a run can use.
*/
#include "hs_sim.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hs_run.h"
#include "hs_util.h"

/* Paths x steps x substeps below which replicas of Lua callbacks are not worth
** their start-up (each is an interpreter state: a few ms). */
#define REPLICA_MIN_WORK 20000.0

int hs_sim_linear(const hs_sim *s) {
  hs_noise_kind nk = s->model.noise->kind;
  return s->model.obj->type == &hs_quadratic_type &&
         (nk == HS_NOISE_NONE || nk == HS_NOISE_ISO || nk == HS_NOISE_CONST);
}

int hs_sim_thread_safe(const hs_sim *s) {
  const hs_model *m = &s->model;
  return m->obj->thread_safe && (m->noise->kind != HS_NOISE_STATE || m->noise->thread_safe) &&
         (s->escape == NULL || s->escape->kind != HS_ESC_CALLBACK) &&
         (s->observe == NULL || hs_observe_thread_safe(s->observe));
}

size_t hs_sim_replicas(const hs_sim *s) {
  size_t want = s->threads == 0 ? hs_ncores() : s->threads;
  size_t nblocks = s->paths / HS_BLOCK + (s->paths % HS_BLOCK != 0);
  size_t sub = s->substeps == 0 ? 1 : s->substeps;
  if (hs_sim_thread_safe(s) || want < 2 || nblocks < 2 ||
      (double)s->paths * (double)s->steps * (double)sub < REPLICA_MIN_WORK)
    return 0;
  return (want < nblocks ? want : nblocks) - 1;
}

size_t hs_sim_rounds(const hs_sim *s) {
  const hs_method_type *t = s->model.method;
  if (!t->is_sde) return t->split ? s->svag_l : 1;
  return s->integrator == HS_EXACT ? 1 : s->substeps;
}

size_t hs_sim_normals(const hs_sim *s) {
  if (!s->coupled) return 0;
  return s->normals > 0 ? s->normals : s->substeps;
}

void hs_sim_resolve(hs_sim *s) {
  int sde = s->model.method->is_sde;
  if (s->substeps == 0) s->substeps = sde ? HS_SUBSTEPS_DEFAULT : 1;
  if (!sde) s->integrator = HS_EULER;   /* its own recursion: no integrator applies */
  else if (s->integrator == HS_INTEGRATOR_AUTO)
    s->integrator = hs_sim_linear(s) ? HS_EXACT : HS_EULER;
  if (s->memory_limit == 0) s->memory_limit = hs_physmem() / 2;
}

hs_status hs_sim_sizes(const hs_sim *s, size_t *nsnap, size_t *npaths) {
  size_t a;
  *npaths = s->paths;
  if (!hs_mulsize(s->nrecord, s->paths, &a) || !hs_mulsize(a, s->model.dim, nsnap))
    return HS_ESIZE;
  if (s->no_snapshots) *nsnap = 0;
  return HS_OK;
}

/* The per-path step arrays the run fills (escape, divergence, undefined model). */
static size_t steparrays(const hs_sim *s) {
  return (size_t)(s->escape != NULL) + (size_t)(s->record_diverged != 0) +
         (size_t)(s->record_undefined != 0);
}

static void formatbytes(char *buf, size_t n, double bytes) {
  static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024.0 && u < 4) bytes /= 1024.0, u++;
  snprintf(buf, n, "%.1f %s", bytes, unit[u]);
}

/* The outputs' bytes (as a double: it may exceed SIZE_MAX) and what they hold. */
static double outbytes(const hs_sim *s, size_t nsnap, char *what, size_t n) {
  double need = 8.0 * ((double)nsnap + (double)steparrays(s) * (double)s->paths);
  char b[32];
  formatbytes(b, sizeof b, need);
  snprintf(what, n, "%s (%zu recorded steps x %zu paths x %zu dims)", b, s->nrecord, s->paths,
           s->model.dim);
  return need;
}

/* A number as Lua prints a float ("%.14g", with ".0" when it looks like an integer),
** so that messages read the same as the rest of the Lua API's. */
static const char *fmtnum(char *buf, size_t n, double x) {
  snprintf(buf, n, "%.14g", x);
  if (strpbrk(buf, ".eEn") == NULL && strlen(buf) + 2 < n) strcat(buf, ".0");
  return buf;
}

__attribute__((format(printf, 4, 5)))
static hs_status seterr(hs_sim_error *err, hs_status st, const char *field, const char *fmt,
                        ...) {
  va_list ap;
  err->status = st;
  snprintf(err->field, sizeof err->field, "%s", field != NULL ? field : "");
  va_start(ap, fmt);
  vsnprintf(err->msg, sizeof err->msg, fmt, ap);
  va_end(ap);
  return st;
}

/* The checks of the model: objective, noise, method, eta, PSD tolerance. */
static hs_status checkmodel(const hs_sim *s, hs_sim_error *err) {
  const hs_model *m = &s->model;
  const hs_noise *nz = m->noise;
  if (m->method == NULL) return seterr(err, HS_EINVAL, "method", "no method given");
  if (m->dim == 0 || m->dim != m->obj->dim)
    return seterr(err, HS_EINVAL, "objective", "dimension %zu does not match the run's %zu",
                  m->obj->dim, m->dim);
  if (nz->dim != 0 && nz->dim != m->dim)
    return seterr(err, HS_EINVAL, "noise", "noise of dimension %zu used with dimension %zu",
                  nz->dim, m->dim);
  if (nz->kind == HS_NOISE_BATCH) {
    if (m->obj->nsamples < 2 || m->obj->type->sample_grad == NULL)
      return seterr(err, HS_EINVAL, "noise",
                    "minibatch noise needs a finite-sum objective (such as hasme.nn)");
    if (nz->batch > m->obj->nsamples)
      return seterr(err, HS_EINVAL, "noise", "batch size %zu exceeds the %zu samples of the "
                    "objective", nz->batch, m->obj->nsamples);
  }
  char num[40];
  if (!(m->eta > 0.0) || !isfinite(m->eta))
    return seterr(err, HS_EINVAL, "eta", "must be positive and finite (got %s)",
                  fmtnum(num, sizeof num, m->eta));
  if (!(m->psd_tol >= 0.0) || !isfinite(m->psd_tol))
    return seterr(err, HS_EINVAL, "psd_tol", "must be finite and non-negative");
  return HS_OK;
}

hs_status hs_sim_check(const hs_sim *s, hs_sim_error *err) {
  const hs_model *m = &s->model;
  size_t d = m->dim;
  memset(err, 0, sizeof *err);
  hs_status st = checkmodel(s, err);
  if (st != HS_OK) return st;
  if (m->method->split && s->svag_l == 0)
    return seterr(err, HS_EINVAL, "svag_l", "must be given for method '%s' (its steps of "
                  "eta / svag_l per step)", m->method->name);
  if (!m->method->is_sde && !s->coupled && s->substeps > 1)
    return seterr(err, HS_EINVAL, "substeps", "%s takes no substeps (it steps by eta); they "
                  "apply to the SDE models and to coupled runs", m->method->name);
  if (m->method->is_sde && s->integrator == HS_EXACT && !hs_sim_linear(s))
    return seterr(err, HS_EINVAL, "integrator", "'exact' needs a quadratic objective "
                  "(hasme.quadratic) with constant Gaussian noise or none; use 'euler'");
  /* Every round of a coupled step sums the same number of the step's normal vectors
  ** (discrete methods with real minibatches draw batches, no normals). */
  int batches = !m->method->is_sde && m->noise->kind == HS_NOISE_BATCH && !m->noise->gaussian;
  if (s->coupled && !batches) {
    hs_sim r = *s;
    hs_sim_resolve(&r);
    size_t n = hs_sim_normals(&r), k = hs_sim_rounds(&r);
    if (k > 0 && n % k != 0)
      return seterr(err, HS_EINVAL, NULL, "coupled runs draw %zu normal vectors per step, "
                    "which %zu %s cannot share", n, k, m->method->split ? "SVAG steps"
                                                                         : "substeps");
  }
  if (s->paths == 0) return seterr(err, HS_EINVAL, "paths", "must be at least 1 (got 0)");
  if (s->x0 == NULL) return seterr(err, HS_EINVAL, "x0", "no start given");
  size_t nx0 = s->x0_per_path ? s->paths * d : d;   /* x0 exists, so this fits */
  for (size_t i = 0; i < nx0; i++)
    if (!isfinite(s->x0[i]))
      return seterr(err, HS_EINVAL, "x0", "non-finite entry at index %zu", i + 1);
  for (size_t r = 0; r < s->nrecord; r++)
    if (s->record[r] > s->steps || (r > 0 && s->record[r] <= s->record[r - 1]))
      return seterr(err, HS_EINVAL, "record", "steps must be distinct, ascending and in "
                    "[0, %zu]", s->steps);
  size_t bad;
  if (s->observe != NULL && hs_observe_check(s->observe, s->model.obj, &bad) != HS_OK)
    return seterr(err, HS_EINVAL, "observe", "observable %zu does not apply to this "
                  "objective", bad + 1);
  if (s->escape != NULL && s->escape->dim != 0 && s->escape->dim != d)
    return seterr(err, HS_EINVAL, "escape", "criterion of dimension %zu used with dimension "
                  "%zu", s->escape->dim, d);
  char num[40];
  if (!(s->progress_interval >= 0.0) || !isfinite(s->progress_interval))
    return seterr(err, HS_EINVAL, "progress_interval", "must be a non-negative number of "
                  "seconds (got %s)", fmtnum(num, sizeof num, s->progress_interval));

  /* The memory the outputs need, against the limit, before anything is allocated. */
  size_t nsnap, npaths;
  if (hs_sim_sizes(s, &nsnap, &npaths) != HS_OK)
    return seterr(err, HS_ESIZE, NULL, "the snapshots (%zu steps x %zu paths x %zu dims) are "
                  "too large to count", s->nrecord, s->paths, d);
  size_t limit = s->memory_limit != 0 ? s->memory_limit : hs_physmem() / 2;
  char what[128], lim[32];
  double need = outbytes(s, nsnap, what, sizeof what);
  if (limit > 0 && need > (double)limit) {
    formatbytes(lim, sizeof lim, (double)limit);
    return seterr(err, HS_ESIZE, NULL, "the results need %s, more than memory_limit = %s; "
                  "record fewer steps or raise memory_limit", what, lim);
  }
  return HS_OK;
}

hs_status hs_sim_out_alloc(const hs_sim *s, hs_sim_out *out, hs_sim_error *err) {
  size_t nsnap, npaths, bytes;
  memset(out, 0, sizeof *out);
  memset(err, 0, sizeof *err);
  char what[128];
  if (hs_sim_sizes(s, &nsnap, &npaths) != HS_OK || nsnap > HS_MAXSIZE ||
      !hs_mulsize(nsnap + steparrays(s) * npaths, 8, &bytes))
    return seterr(err, HS_ESIZE, NULL, "the results (%zu recorded steps x %zu paths x %zu "
                  "dims) are too large to count", s->nrecord, s->paths, s->model.dim);
  /* One block: the snapshots, then the per-path step arrays (int64, as aligned as
  ** doubles). At least one byte, so that an empty result is still a block. */
  char *mem = hs_malloc(bytes > 0 ? bytes : 1);
  if (mem == NULL) {
    char lim[32];
    outbytes(s, nsnap, what, sizeof what);
    formatbytes(lim, sizeof lim, (double)(s->memory_limit != 0 ? s->memory_limit
                                                              : hs_physmem() / 2));
    return seterr(err, HS_ENOMEM, NULL, "the results need %s and the system could not "
                  "provide them (memory_limit = %s); record fewer steps or paths", what, lim);
  }
  out->mem = mem;
  out->snap = s->no_snapshots ? NULL : (double *)(void *)mem;
  int64_t *next = (int64_t *)(void *)(mem + nsnap * sizeof(double));
  if (s->escape != NULL) out->escape_step = next, next += npaths;
  if (s->record_diverged) out->diverge_step = next, next += npaths;
  if (s->record_undefined) out->undefined_step = next;
  return HS_OK;
}

void hs_sim_out_free(hs_sim_out *out) {
  free(out->mem);
  out->mem = NULL;
  out->snap = NULL;
  out->escape_step = out->diverge_step = out->undefined_step = NULL;
}
