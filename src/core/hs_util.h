/*
** hs_util.h: small services of the core that belong to no numerical module:
** status strings, the number of cores, physical memory, a monotonic clock.
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


#endif
