/*
** hs_util.c: status strings, core count, physical memory, monotonic clock.
*/
#include "hs_util.h"

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
