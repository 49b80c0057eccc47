/*
** hs_mpi.c: hasme's thin layer over MPI (see hs_mpi.h).
**
** Why a shim loaded at run time rather than libmpi linked into hasme: hasme and
** core.so must run on machines without MPI (core.so must load into plain lua5.4),
** and MPI's handle types are implementation-defined (pointers to library globals in
** Open MPI, integers in MPICH), so calling libmpi through dlsym would tie hasme to
** one implementation's ABI. The shim is compiled against the mpi.h of whatever mpicc
** the build finds and exports a table of functions over plain C types; this file
** dlopens it only when a launcher started the process.
*/
#define _GNU_SOURCE   /* dladdr, on_exit, sched_getaffinity */
#include "hs_mpi.h"
#include "hs_mpishim.h"
#include "hs_util.h"

#include <dlfcn.h>
#include <limits.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The process's MPI state. MPI itself is process-wide, so this is too; it is written
** once by hs_mpi_init (from the thread that runs Lua) and read afterwards. */
static struct {
  int started;                 /* hs_mpi_init ran */
  hs_status status;            /* and returned this */
  const hs_mpishim *shim;      /* NULL without MPI */
  int rank, size;
  int local_size;              /* ranks on this machine */
  uint64_t sent;               /* payload bytes contributed, see hs_mpi_bytes_sent */
  int quiet_exit;              /* this rank left a shared error for rank 0 to report */
  int alone;                   /* depth of hs_mpi_alone_enter */
  char shared[512];            /* the last shared error ("" when none) */
  char err[512];
} mpi = {0, HS_OK, NULL, 0, 1, 1, 0, 0, 0, "", ""};

/* The variable that marks the processes a rank starts (gnuplot, a nested hasme):
** they inherit the launcher's environment but are not ranks. */
#define PIDVAR "HASME_MPI_PID"

int hs_mpi_launched(void) {
  const char *pid = getenv(PIDVAR);
  if (pid != NULL && strtol(pid, NULL, 10) != (long)getpid()) return 0;
  return getenv("OMPI_COMM_WORLD_SIZE") != NULL || getenv("PMI_SIZE") != NULL
      || getenv("PMIX_RANK") != NULL;
}

/* {====================================================================
** Finding and loading the shim
** ===================================================================== */

/* Append "dir/rel" (dir taken from path up to its last '/') to out. */
static void sibling(char *out, size_t size, const char *path, const char *rel) {
  const char *slash = strrchr(path, '/');
  if (slash == NULL) snprintf(out, size, "%s", rel);
  else snprintf(out, size, "%.*s/%s", (int)(slash - path), path, rel);
}

/* The shim is $HASME_MPI_SHIM when set; otherwise it is looked for, in order, beside
** the object that holds this code (core.so in lib/hasme/), in lib/hasme/ beside the
** executable (build/hasme) and under the installation prefix. RTLD_GLOBAL: Open
** MPI's own plugins resolve symbols of libmpi, which they cannot see when it is
** loaded privately. */
static void *open_shim(void) {
  static char where[3][PATH_MAX + 32];
  int n = 0;
  const char *env = getenv("HASME_MPI_SHIM");
  if (env != NULL && env[0] != '\0') {   /* the user's choice, and only it */
    void *h = dlopen(env, RTLD_NOW | RTLD_GLOBAL);
    if (h == NULL)
      snprintf(mpi.err, sizeof mpi.err, "the MPI shim HASME_MPI_SHIM=%.250s cannot be "
               "loaded (%.200s)", env, dlerror());
    return h;
  }
  Dl_info info;
  if (dladdr(&mpi, &info) != 0 && info.dli_fname != NULL)
    sibling(where[n++], sizeof where[0], info.dli_fname, "mpishim.so");
  char exe[PATH_MAX];
  ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (len > 0) {
    exe[len] = '\0';
    sibling(where[n++], sizeof where[0], exe, "lib/hasme/mpishim.so");
  }
  snprintf(where[n++], sizeof where[0], "%s/lib/lua/5.4/hasme/mpishim.so", HS_PREFIX);
  size_t used = 0;
  for (int i = 0; i < n; i++) {
    if (access(where[i], F_OK) != 0) {
      used += (size_t)snprintf(mpi.err + used, used < sizeof mpi.err ? sizeof mpi.err - used : 0,
                               "%s%s", i > 0 ? ", " : "", where[i]);
      if (used >= sizeof mpi.err) used = sizeof mpi.err - 1;
      continue;
    }
    void *h = dlopen(where[i], RTLD_NOW | RTLD_GLOBAL);
    if (h == NULL) {
      snprintf(mpi.err, sizeof mpi.err, "the MPI shim %.250s cannot be loaded (%.200s)",
               where[i], dlerror());
      return NULL;
    }
    return h;
  }
  char tried[sizeof mpi.err];
  memcpy(tried, mpi.err, sizeof tried);
  snprintf(mpi.err, sizeof mpi.err,
           "hasme was built without MPI support (no MPI shim at %.400s)", tried);
  return NULL;
}

/* }==================================================================== */

/* Sleep up to `seconds` (another rank's abort ends the process meanwhile). */
static void wait_seconds(double seconds) {
  struct timespec ts = {0, 100000000};
  for (double t = 0.0; t < seconds; t += 0.1) nanosleep(&ts, NULL);
}

/* Exit with the status main returned or exit() was given: a clean exit finalizes
** MPI; any other aborts the job, so that ranks blocked in a collective waiting for
** this one do not hang. A rank leaving a shared error to rank 0 first gives rank 0
** time to print it (rank 0's abort ends this process during the wait). */
static void on_process_exit(int status, void *arg) {
  (void)arg;
  if (mpi.shim == NULL) return;
  const hs_mpishim *shim = mpi.shim;
  mpi.shim = NULL;
  if (status != 0) {
    if (mpi.quiet_exit && mpi.rank != 0) wait_seconds(10.0);
    shim->abort((status & 0xff) != 0 ? status & 0xff : 1);
  }
  char err[256];
  if (shim->finalize(err, sizeof err) != 0) fprintf(stderr, "hasme: %s\n", err);
}

/* The work of hs_mpi_init, done once. */
static hs_status start(void) {
  if (!hs_mpi_launched()) return HS_OK;
  void *h = open_shim();
  if (h == NULL) return HS_EINVAL;
  const hs_mpishim *shim = dlsym(h, HS_MPISHIM_SYMBOL);
  if (shim == NULL || shim->version != HS_MPISHIM_VERSION) {
    snprintf(mpi.err, sizeof mpi.err, "the MPI shim is %s (rebuild hasme)",
             shim == NULL ? "missing its table" : "of another version");
    return HS_EINVAL;
  }
  if (shim->init(&mpi.rank, &mpi.size, &mpi.local_size, mpi.err, sizeof mpi.err) != 0)
    return HS_EINVAL;
  /* Processes this rank starts inherit the launcher's variables; this one tells
  ** them apart (hs_mpi_launched). */
  char pid[32];
  snprintf(pid, sizeof pid, "%ld", (long)getpid());
  setenv(PIDVAR, pid, 1);
  mpi.shim = shim;
  mpi.err[0] = '\0';
  on_exit(on_process_exit, NULL);
  return HS_OK;
}

hs_status hs_mpi_init(void) {
  if (!mpi.started) {
    mpi.started = 1;
    mpi.status = start();
  }
  return mpi.status;
}

int hs_mpi_active(void) { return mpi.shim != NULL; }
void hs_mpi_alone_enter(void) { mpi.alone++; }
void hs_mpi_alone_leave(void) { if (mpi.alone > 0) mpi.alone--; }
int hs_mpi_alone(void) { return mpi.alone; }
int hs_mpi_local_size(void) { return mpi.local_size; }

size_t hs_mpi_threads(void) {
  size_t cores = hs_ncores();
  if (mpi.shim == NULL) return cores;
  cpu_set_t set;
  CPU_ZERO(&set);
  size_t mine = sched_getaffinity(0, sizeof set, &set) == 0 ? (size_t)CPU_COUNT(&set) : cores;
  if (mine == 0) mine = cores;
  if (mine < cores) return mine;              /* the launcher bound this rank */
  size_t share = mine / (size_t)mpi.local_size;
  return share > 0 ? share : 1;
}

int hs_mpi_rank(void) { return mpi.rank; }
int hs_mpi_size(void) { return mpi.size; }
const char *hs_mpi_error(void) { return mpi.err; }
uint64_t hs_mpi_bytes_sent(void) { return mpi.sent; }

hs_status hs_mpi_bcast(void *buf, size_t n, int root) {
  if (root < 0 || root >= mpi.size) {
    snprintf(mpi.err, sizeof mpi.err, "root %d is not a rank (0..%d)", root, mpi.size - 1);
    return HS_EINVAL;
  }
  if (mpi.shim == NULL) return HS_OK;
  if (root == mpi.rank) mpi.sent += n;
  return mpi.shim->bcast(buf, n, root, mpi.err, sizeof mpi.err) == 0 ? HS_OK : HS_EINVAL;
}

hs_status hs_mpi_allgatherv(const void *send, const size_t *counts, void *recv) {
  if (mpi.shim == NULL) {
    if (counts[0] > 0 && send != NULL) memcpy(recv, send, counts[0]);
    return HS_OK;
  }
  mpi.sent += counts[mpi.rank];
  return mpi.shim->allgatherv(send, counts, recv, mpi.err, sizeof mpi.err) == 0
             ? HS_OK : HS_EINVAL;
}

hs_status hs_mpi_allgather(const void *send, size_t n, void *recv) {
  if (mpi.shim == NULL) {
    if (n > 0) memcpy(recv, send, n);
    return HS_OK;
  }
  size_t *counts = malloc((size_t)mpi.size * sizeof *counts);
  if (counts == NULL) return HS_ENOMEM;
  for (int r = 0; r < mpi.size; r++) counts[r] = n;
  hs_status st = hs_mpi_allgatherv(send, counts, recv);
  free(counts);
  return st;
}

hs_status hs_mpi_barrier_timeout(double seconds, int *arrived) {
  *arrived = 1;
  if (mpi.shim == NULL) return HS_OK;
  int rc = mpi.shim->barrier_timeout(seconds, mpi.err, sizeof mpi.err);
  if (rc < 0) return HS_EINVAL;
  *arrived = rc == 0;
  return HS_OK;
}

hs_status hs_mpi_agree_first(uint64_t key, void *record, size_t n, int *winner) {
  *winner = key == UINT64_MAX ? -1 : 0;
  if (mpi.shim == NULL) return HS_OK;
  uint64_t *keys = malloc((size_t)mpi.size * sizeof *keys);
  if (keys == NULL) return HS_ENOMEM;
  hs_status st = hs_mpi_allgather(&key, sizeof key, keys);
  int w = -1;
  for (int r = 0; st == HS_OK && r < mpi.size; r++)
    if (keys[r] != UINT64_MAX && (w < 0 || keys[r] < keys[w])) w = r;
  free(keys);
  if (st == HS_OK && w >= 0 && n > 0) st = hs_mpi_bcast(record, n, w);
  *winner = w;
  return st;
}

void hs_mpi_share(size_t n, size_t unit, int rank, int size, size_t *first, size_t *count) {
  size_t units = unit > 0 ? n / unit + (n % unit != 0) : 0;
  size_t r = (size_t)rank, p = (size_t)size, q = units / p, extra = units % p;
  /* The first `extra` ranks take q + 1 units, the others q. */
  size_t u0 = r * q + (r < extra ? r : extra), u1 = u0 + q + (r < extra);
  size_t a = u0 * unit, b = u1 * unit;
  if (a > n) a = n;
  if (b > n) b = n;
  *first = a;
  *count = b - a;
}

hs_status hs_mpi_barrier(void) {
  if (mpi.shim == NULL) return HS_OK;
  return mpi.shim->barrier(mpi.err, sizeof mpi.err) == 0 ? HS_OK : HS_EINVAL;
}

/* {====================================================================
** Reductions
** ===================================================================== */

/* Shewchuk, "Adaptive precision floating-point arithmetic and fast robust geometric
** predicates" (1997): the running sum is kept as non-overlapping partials whose exact
** sum is the exact sum of the terms seen so far; the final rounding follows Python's
** math.fsum (round-half-even through the sign of the next partial). */
double hs_fsum(const double *x, size_t n, size_t stride) {
  /* Non-overlapping partials hold distinct bits of 2^-1074..2^1023, so there are at
  ** most 2098 of them (a few in practice). */
  double naive = 0.0, part[2112];
  size_t np = 0;
  int special = 0;
  for (size_t k = 0; k < n; k++) {
    double v = x[k * stride];
    naive += v;
    if (!isfinite(v)) { special = 1; continue; }
    size_t i = 0;
    for (size_t j = 0; j < np; j++) {
      double y = part[j];
      if (fabs(v) < fabs(y)) { double t = v; v = y; y = t; }
      double hi = v + y, lo = y - (hi - v);
      if (lo != 0.0) part[i++] = lo;
      v = hi;
    }
    if (!isfinite(v)) { special = 1; np = 0; continue; }   /* beyond the double range */
    part[i++] = v;
    np = i;
  }
  if (special) return naive;
  if (np == 0) return 0.0 * naive;   /* keeps -0 for a sum of negative zeros */
  size_t j = np - 1;
  double hi = part[j], lo = 0.0;
  while (j > 0) {
    double v = hi, y = part[--j];
    hi = v + y;
    lo = y - (hi - v);
    if (lo != 0.0) break;
  }
  if (j > 0 && ((lo < 0.0 && part[j - 1] < 0.0) || (lo > 0.0 && part[j - 1] > 0.0))) {
    double y = lo * 2.0, v = hi + y;
    if (y == v - hi) hi = v;
  }
  return hi;
}

/* a before b in the order of MIN: NaN first (it propagates), -0 before +0. */
static int before(double a, double b) {
  if (isnan(a)) return 1;
  if (isnan(b)) return 0;
  return a < b || (a == b && signbit(a) && !signbit(b));
}

hs_status hs_mpi_allreduce(double *x, size_t n, hs_mpi_op op) {
  if (mpi.shim == NULL || n == 0) return HS_OK;
  size_t size = (size_t)mpi.size, total;
  if (!hs_mulsize(size, n, &total)) return HS_ESIZE;
  double *all = malloc(total * sizeof *all);
  if (all == NULL) return HS_ENOMEM;
  hs_status st = hs_mpi_allgather(x, n * sizeof *x, all);
  for (size_t i = 0; st == HS_OK && i < n; i++) {
    if (op == HS_MPI_SUM) {
      x[i] = hs_fsum(all + i, size, n);
      continue;
    }
    double best = all[i];
    for (size_t r = 1; r < size; r++) {
      double v = all[r * n + i];
      if (op == HS_MPI_MIN ? before(v, best) : (isnan(v) || (!isnan(best) && before(best, v))))
        best = v;
    }
    x[i] = best;
  }
  free(all);
  return st;
}

hs_status hs_mpi_allreduce_int(int64_t *x, size_t n, hs_mpi_op op) {
  if (mpi.shim == NULL || n == 0) return HS_OK;
  size_t size = (size_t)mpi.size, total;
  if (!hs_mulsize(size, n, &total)) return HS_ESIZE;
  int64_t *all = malloc(total * sizeof *all);
  if (all == NULL) return HS_ENOMEM;
  hs_status st = hs_mpi_allgather(x, n * sizeof *x, all);
  for (size_t i = 0; st == HS_OK && i < n; i++) {
    int64_t acc = all[i];
    for (size_t r = 1; r < size; r++) {
      int64_t v = all[r * n + i];
      if (op == HS_MPI_MIN) acc = v < acc ? v : acc;
      else if (op == HS_MPI_MAX) acc = v > acc ? v : acc;
      else if ((v > 0 && acc > INT64_MAX - v) || (v < 0 && acc < INT64_MIN - v)) {
        snprintf(mpi.err, sizeof mpi.err, "integer sum over ranks overflows");
        st = HS_ESIZE;
        break;
      } else acc += v;
    }
    x[i] = acc;
  }
  free(all);
  return st;
}

/* }==================================================================== */

_Noreturn void hs_mpi_abort(int code) {
  fflush(stdout);
  fflush(stderr);
  if (code == 0) code = 1;
  if (mpi.shim != NULL) mpi.shim->abort(code);
  _exit(code);
}

_Noreturn void hs_mpi_abort_after(int code, double wait, const char *msg) {
  fflush(stdout);
  fflush(stderr);
  if (mpi.shim != NULL) wait_seconds(wait);
  if (msg != NULL) fprintf(stderr, "%s\n", msg);
  hs_mpi_abort(code);
}

void hs_mpi_share_error(const char *msg) {
  snprintf(mpi.shared, sizeof mpi.shared, "%s", msg);
}

/* A report is of the shared error when it quotes it: whole, or without its first
** "name: " (hasme.compare re-raises simulate's errors under a prefix of its own, and
** error() may put a position in front). */
int hs_mpi_is_shared(const char *report) {
  if (mpi.shared[0] == '\0') return 0;
  if (strstr(report, mpi.shared) != NULL) return 1;
  const char *rest = strstr(mpi.shared, ": ");
  return rest != NULL && strlen(rest + 2) >= 16 && strstr(report, rest + 2) != NULL;
}

int hs_mpi_quiet(const char *report) {
  if (mpi.shim == NULL || mpi.rank == 0 || !hs_mpi_is_shared(report)) return 0;
  mpi.quiet_exit = 1;
  return 1;
}

const char *hs_mpi_tag(const char *report) {
  static char tag[48];
  if (mpi.shim == NULL || mpi.size == 1 || hs_mpi_is_shared(report)) return "";
  snprintf(tag, sizeof tag, " (rank %d of %d)", mpi.rank, mpi.size);
  return tag;
}
