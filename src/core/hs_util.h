/*
** hs_util.h: small services of the core that belong to no numerical module:
** status strings, the number of cores, physical memory, a monotonic clock, and the
** allocation wrappers through which every block of the core is allocated.
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

/* {====================================================================
** Allocation
**
** Every block the core allocates comes from hs_malloc or hs_calloc, and goes back to
** free(). Without a hook they are malloc and calloc. A test installs a hook that
** refuses chosen allocations (the k-th of a call, or all from the k-th on): that is
** how tests/c/test_faults.c checks that each entry point, whichever of its
** allocations fails, returns HS_ENOMEM (or NULL) and releases what it took.
** ===================================================================== */

/* Asked before each allocation with its size in bytes; a nonzero return refuses it
** (the wrapper returns NULL without calling the C library). May be called from any
** thread that runs core code, so it must be thread safe. */
typedef int (*hs_alloc_hook)(void *ctx, size_t bytes);

/* Install fn with its ctx for every later allocation of the core (NULL: none). The
** hook is process-wide, the one global setting of the core: install and remove it
** only while no other thread runs core code. */
void hs_set_alloc_hook(hs_alloc_hook fn, void *ctx);

/* malloc(bytes) and calloc(n, size), unless the hook refuses them. */
void *hs_malloc(size_t bytes);
void *hs_calloc(size_t n, size_t size);

/* }==================================================================== */


#endif
