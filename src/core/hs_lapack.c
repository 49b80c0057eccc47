/*
** hs_lapack.c: the run-time loading of LAPACKE (see hs_lapack.h).
*/
#include "hs_lapack.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

typedef lapack_int (*dsyevd_work_fn)(int, char, char, lapack_int, double *, lapack_int,
                                     double *, double *, lapack_int, lapack_int *,
                                     lapack_int);

/* The library handle and the one function hasme calls, set once by load(). */
static pthread_once_t once = PTHREAD_ONCE_INIT;
static dsyevd_work_fn dsyevd_work;
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
  /* ISO C has no conversion from object to function pointers; POSIX guarantees dlsym's
  ** result converts, and going through a union keeps -pedantic quiet. */
  union { void *obj; dsyevd_work_fn fn; } f;
  f.obj = dlsym(h, "LAPACKE_dsyevd_work");
  if (f.obj == NULL) {
    snprintf(loaderror, sizeof loaderror, "LAPACKE_dsyevd_work not found in LAPACKE");
    return;
  }
  /* When OPENBLAS_NUM_THREADS was set before, OpenBLAS started no pool; otherwise
  ** (a program that did not call hs_lapack_prepare) ask it for one thread now. */
  union { void *obj; void (*fn)(int); } set;
  set.obj = dlsym(RTLD_DEFAULT, "openblas_set_num_threads");
  if (set.obj != NULL && getenv("OPENBLAS_NUM_THREADS") == NULL) set.fn(1);
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

const char *hs_lapack_error(void) {
  pthread_once(&once, load);
  return loaderror;
}
