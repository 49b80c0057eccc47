/*
** hs_util.h: small services of the core that belong to no numerical module:
** status strings, the number of cores, a monotonic clock, BLAS threading.
*/
#ifndef HS_UTIL_H
#define HS_UTIL_H

#include "hasme.h"

/* Number of online processors (at least 1). */
size_t hs_ncores(void);

/* Bytes of physical memory (0 when unknown). */
size_t hs_physmem(void);

/* Seconds on a monotonic clock, for elapsed-time measurements. */
double hs_now(void);

/* Ask the BLAS behind LAPACKE to use one thread, when it is OpenBLAS (looked up at run
** time, so any LAPACK provider works). hasme runs its own worker threads; two thread
** pools on the same cores fight. Safe to call more than once. */
void hs_blas_single_thread(void);

#endif
