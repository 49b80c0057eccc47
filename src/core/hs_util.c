/*
** hs_util.c: status strings, core count, physical memory, monotonic clock, the
** allocation wrappers.
*/
#include "hs_util.h"

#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

const char *hs_strstatus(hs_status s) {
  switch (s) {
    case HS_OK:        return "no error";
    case HS_EINVAL:    return "invalid argument";
    case HS_EDOM:      return "domain error";
    case HS_ENOMEM:    return "not enough memory";
    case HS_ESIZE:     return "size too large";
    case HS_ELAPACK:   return "LAPACK failure";
    case HS_ENOCONV:   return "iteration did not converge";
    case HS_ENOTPSD:   return "matrix not positive semidefinite";
    case HS_EDIVERGE:  return "path diverged";
    case HS_ECALLBACK: return "error in callback";
    case HS_ECANCEL:   return "cancelled";
  }
  return "unknown status";
}

size_t hs_ncores(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (size_t)n : 1;
}

size_t hs_physmem(void) {
  long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || size <= 0) return 0;
  return (size_t)pages * (size_t)size;
}

double hs_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* {====================================================================
** Allocation
** ===================================================================== */

/* The fault-injection hook (hs_util.h). A test writes it before it starts any
** thread that runs core code and clears it after they have ended, so the workers'
** reads never race with a write. */
static struct {
  hs_alloc_hook fn;
  void *ctx;
} hook;

void hs_set_alloc_hook(hs_alloc_hook fn, void *ctx) {
  hook.fn = fn;
  hook.ctx = ctx;
}

void *hs_malloc(size_t bytes) {
  if (hook.fn != NULL && hook.fn(hook.ctx, bytes)) return NULL;
  return malloc(bytes);
}

/* The hook is asked for the whole block; a count whose product overflows is left to
** calloc, which refuses it. */
void *hs_calloc(size_t n, size_t size) {
  if (hook.fn != NULL && hook.fn(hook.ctx, size != 0 && n > SIZE_MAX / size ? SIZE_MAX
                                                                              : n * size))
    return NULL;
  return calloc(n, size);
}

/* }==================================================================== */
