/*
** hs_vmath.c: the array forms of hs_vmath.h's lane functions, compiled once per code
** path (the Makefile's ISA_KERNELS) and dispatched on hs_isa_active().
*/
#include "hs_vmath.h"

#include "hs_isa.h"

#define VM_DECL(tag)                                                             \
  void hs_vlog1p_##tag(size_t n, const double *x, double *y);                    \
  void hs_vphi12_##tag(size_t n, const double *z, double *phi1, double *phi2);
VM_DECL(baseline)
VM_DECL(avx2)
VM_DECL(avx512)

#ifdef HS_ISA_TAG

/* {====================================================================
** The kernels (one compilation per code path)
** ===================================================================== */

enum { CHUNK = 8 };

/* Whole chunks of 8 go through fixed-length loops, which the vectoriser turns into
** one AVX-512, two AVX2 or four SSE2 operations per step; the rest one by one (the
** same bits either way). */
void HS_ISA_FN(hs_vlog1p)(size_t n, const double *x, double *y) {
  size_t i = 0;
  for (; i + CHUNK <= n; i += CHUNK) {
    double a[CHUNK], b[CHUNK];
    for (size_t l = 0; l < CHUNK; l++) a[l] = x[i + l];   /* y may be x */
    for (size_t l = 0; l < CHUNK; l++) b[l] = hs_log1p_lane(a[l]);
    for (size_t l = 0; l < CHUNK; l++) y[i + l] = b[l];
  }
  for (; i < n; i++) y[i] = hs_log1p_lane(x[i]);
}

void HS_ISA_FN(hs_vphi12)(size_t n, const double *z, double *phi1, double *phi2) {
  size_t i = 0;
  for (; i + CHUNK <= n; i += CHUNK) {
    double a[CHUNK], p[CHUNK], q[CHUNK];
    for (size_t l = 0; l < CHUNK; l++) a[l] = z[i + l];   /* phi1 or phi2 may be z */
    for (size_t l = 0; l < CHUNK; l++) hs_phi12_lane(a[l], &p[l], &q[l]);
    for (size_t l = 0; l < CHUNK; l++) phi1[i + l] = p[l];
    for (size_t l = 0; l < CHUNK; l++) phi2[i + l] = q[l];
  }
  for (; i < n; i++) {
    double p, q;
    hs_phi12_lane(z[i], &p, &q);
    phi1[i] = p;
    phi2[i] = q;
  }
}

/* }==================================================================== */

#else

/* {====================================================================
** Dispatch (the plain compilation)
** ===================================================================== */

double hs_log1p(double x) {
  return hs_log1p_lane(x);
}

static void (*const vlog1p[HS_ISA_COUNT])(size_t, const double *, double *) = {
  hs_vlog1p_baseline, hs_vlog1p_avx2, hs_vlog1p_avx512};
static void (*const vphi12[HS_ISA_COUNT])(size_t, const double *, double *, double *) = {
  hs_vphi12_baseline, hs_vphi12_avx2, hs_vphi12_avx512};

void hs_vlog1p(size_t n, const double *x, double *y) {
  vlog1p[hs_isa_active()](n, x, y);
}

void hs_vphi12(size_t n, const double *z, double *phi1, double *phi2) {
  vphi12[hs_isa_active()](n, z, phi1, phi2);
}

/* }==================================================================== */

#endif
