/* hs_linalg.c: placeholder kernels until the linear algebra module lands (replaced whole). */
#include "hs_linalg.h"
#include <math.h>
double hs_dot(size_t n, const double *x, const double *y) {
  double s = 0.0;
  for (size_t i = 0; i < n; i++) s += x[i] * y[i];
  return s;
}
double hs_nrm2(size_t n, const double *x) { return sqrt(hs_dot(n, x, x)); }
void hs_gemv(size_t m, size_t n, double alpha, const double *A, const double *x,
             double beta, double *y) {
  for (size_t i = 0; i < m; i++) {
    double s = 0.0;
    for (size_t j = 0; j < n; j++) s += A[i * n + j] * x[j];
    y[i] = alpha * s + (beta == 0.0 ? 0.0 : beta * y[i]);
  }
}
void hs_gemm(size_t m, size_t k, size_t n, const double *A, const double *B, double *C) {
  for (size_t i = 0; i < m; i++)
    for (size_t j = 0; j < n; j++) {
      double s = 0.0;
      for (size_t l = 0; l < k; l++) s += A[i * k + l] * B[l * n + j];
      C[i * n + j] = s;
    }
}
