/*
** hs_lapack.h: LAPACKE, loaded at run time on first use.
**
** Linking LAPACKE at build time loads OpenBLAS when the program starts, and its
** thread pool starts then too, spinning on the cores hasme's own workers need.
** Loaded lazily, after OPENBLAS_NUM_THREADS has been set (hs_lapack_prepare), no
** pool is ever started; programs that never need a large eigenproblem never load
** LAPACK at all.
*/
#ifndef HS_LAPACK_H
#define HS_LAPACK_H

#include <lapacke.h>

#include "hasme.h"

/* Call once on the main thread before any worker starts (luaopen_hasme_core does):
** sets OPENBLAS_NUM_THREADS=1 unless the user set it. */
void hs_lapack_prepare(void);

/* LAPACKE_dsyevd_work, loading LAPACKE first if needed (thread safe). When the
** library cannot be loaded it returns HS_ELAPACK without calling anything. */
hs_status hs_lapack_dsyevd_work(int layout, char jobz, char uplo, lapack_int n,
                                double *a, lapack_int lda, double *w, double *work,
                                lapack_int lwork, lapack_int *iwork, lapack_int liwork,
                                lapack_int *info);

/* Why loading failed ("" when it did not, or was not tried). */
const char *hs_lapack_error(void);

#endif
