/*
** hs_lapack.c: the run-time loading of LAPACKE and of the BLAS beneath it (see
** hs_lapack.h).
*/
#include "hs_lapack.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

typedef lapack_int (*dsyevd_work_fn)(int, char, char, lapack_int, double *, lapack_int,
                                     double *, double *, lapack_int, lapack_int *,
                                     lapack_int);
typedef lapack_int (*dpotrf_work_fn)(int, char, lapack_int, double *, lapack_int);
/* cblas_dgemm with its enumerations as int: CBLAS fixes their values (row major 101,
** no transpose 111, transpose 112), and an enum is passed as an int. */
typedef void (*dgemm_fn)(int, int, int, int, int, int, double, const double *, int,
                         const double *, int, double, double *, int);
enum { CBLAS_ROW_MAJOR = 101, CBLAS_NO_TRANS = 111, CBLAS_TRANS = 112 };

/* The library handle and the functions hasme calls, set once by load(). dsyevd is
** required; dpotrf and dgemm are used when found (every LAPACKE brings a BLAS with
** cblas_dgemm, but a minimal one might not). */
static pthread_once_t once = PTHREAD_ONCE_INIT;
static dsyevd_work_fn dsyevd_work;
static dpotrf_work_fn dpotrf_work;
static dgemm_fn dgemm;
static char loaderror[256];

void hs_lapack_prepare(void) {
  if (getenv("OPENBLAS_NUM_THREADS") == NULL) setenv("OPENBLAS_NUM_THREADS", "1", 0);
}

static void load(void) {
  static const char *const names[] = {"liblapacke.so.3", "liblapacke.so"};
  void *h = NULL;
  for (size_t i = 0; i < 2 && h == NULL; i++) h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
  if (h == NULL) {
    snprintf(loaderror, sizeof loaderror, "LAPACKE could not be loaded (%s)", dlerror());
    return;
  }
  /* ISO C has no conversion from object to function pointers; POSIX guarantees
  ** dlsym's result converts, and going through a union keeps -pedantic quiet. dlsym
  ** on the handle also searches the libraries LAPACKE depends on (the BLAS). */
  union { void *obj; dsyevd_work_fn fn; } f;
  f.obj = dlsym(h, "LAPACKE_dsyevd_work");
  if (f.obj == NULL) {
    snprintf(loaderror, sizeof loaderror, "LAPACKE_dsyevd_work not found in LAPACKE");
    return;
  }
  union { void *obj; dpotrf_work_fn fn; } p;
  p.obj = dlsym(h, "LAPACKE_dpotrf_work");
  union { void *obj; dgemm_fn fn; } g;
  g.obj = dlsym(h, "cblas_dgemm");
  /* When OPENBLAS_NUM_THREADS was set before, OpenBLAS started no pool; otherwise
  ** (a program that did not call hs_lapack_prepare) ask it for one thread now. */
  union { void *obj; void (*fn)(int); } set;
  set.obj = dlsym(RTLD_DEFAULT, "openblas_set_num_threads");
  if (set.obj != NULL && getenv("OPENBLAS_NUM_THREADS") == NULL) set.fn(1);
  dpotrf_work = p.fn;
  dgemm = g.fn;
  dsyevd_work = f.fn;
}

hs_status hs_lapack_dsyevd_work(int layout, char jobz, char uplo, lapack_int n,
                                double *a, lapack_int lda, double *w, double *work,
                                lapack_int lwork, lapack_int *iwork, lapack_int liwork,
                                lapack_int *info) {
  pthread_once(&once, load);
  if (dsyevd_work == NULL) return HS_ELAPACK;
  *info = dsyevd_work(layout, jobz, uplo, n, a, lda, w, work, lwork, iwork, liwork);
  return HS_OK;
}

hs_status hs_lapack_dpotrf_work(int layout, char uplo, lapack_int n, double *a,
                                lapack_int lda, lapack_int *info) {
  pthread_once(&once, load);
  if (dpotrf_work == NULL) return HS_ELAPACK;
  *info = dpotrf_work(layout, uplo, n, a, lda);
  return HS_OK;
}

int hs_blas_available(void) {
  pthread_once(&once, load);
  return dgemm != NULL;
}

hs_status hs_blas_dgemm(int transa, int transb, int m, int n, int k, const double *A,
                        int lda, const double *B, int ldb, double *C, int ldc) {
  pthread_once(&once, load);
  if (dgemm == NULL) return HS_ELAPACK;
  dgemm(CBLAS_ROW_MAJOR, transa ? CBLAS_TRANS : CBLAS_NO_TRANS,
        transb ? CBLAS_TRANS : CBLAS_NO_TRANS, m, n, k, 1.0, A, lda, B, ldb, 0.0, C, ldc);
  return HS_OK;
}

const char *hs_lapack_error(void) {
  pthread_once(&once, load);
  return loaderror;
}
