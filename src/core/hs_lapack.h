/*
** hs_lapack.h: LAPACKE and the BLAS beneath it, loaded at run time on first use.
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

/* LAPACKE_dpotrf_work, as above; HS_ELAPACK also when this LAPACKE lacks it. */
hs_status hs_lapack_dpotrf_work(int layout, char uplo, lapack_int n, double *a,
                                lapack_int lda, lapack_int *info);

/* Whether cblas_dgemm was found beside LAPACKE (loading it first if needed). */
int hs_blas_available(void);

/* C = op(A) op(B), row major, op(X) = X' when trans* is nonzero (cblas_dgemm with
** alpha = 1, beta = 0): C is m x n, the inner dimension k. HS_ELAPACK when there is
** no dgemm (hs_blas_available). The caller checks that the sizes fit an int. */
hs_status hs_blas_dgemm(int transa, int transb, int m, int n, int k, const double *A,
                        int lda, const double *B, int ldb, double *C, int ldc);

/* Why loading failed ("" when it did not, or was not tried). */
const char *hs_lapack_error(void);

#endif
