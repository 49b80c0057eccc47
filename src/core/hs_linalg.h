/*
** hs_linalg.h: dense linear algebra on small row-major matrices: BLAS-1/2/3 style
** kernels, the symmetric eigendecomposition (a Jacobi solver for small matrices,
** LAPACKE dsyevd otherwise), Cholesky, and symmetric factors of PSD matrices.
** All storage is flat row-major double; no function allocates unless it says so.
*/
#ifndef HS_LINALG_H
#define HS_LINALG_H

#include "hasme.h"

/* Matrices up to this order use the in-house solvers in hs_eig (cyclic Jacobi up to
** order 6, Householder tridiagonalisation + implicit QR above); larger ones LAPACK. */
#define HS_EIG_SMALL 16

/* x'y, summed in a fixed order (the same result on every call). */
double hs_dot(size_t n, const double *x, const double *y);
double hs_nrm2(size_t n, const double *x);          /* scaled: no overflow/underflow */

/* y = alpha * A x + beta * y, A m x n. y must not alias x. beta = 0 ignores y's input. */
void hs_gemv(size_t m, size_t n, double alpha, const double *A, const double *x,
             double beta, double *y);

/* Products and factors of order above this (products of more than its cube of
** multiply-adds) go to the BLAS and LAPACK loaded with LAPACKE, when present: their
** results are then rounded as those libraries round. Smaller ones are computed here,
** in a fixed order (the same bits on every machine). */
#define HS_BLAS_ORDER 64

/* C = A B with A m x k, B k x n, C m x n. C must not alias A or B. Below the BLAS
** threshold each entry is summed over the inner index in increasing order. */
void hs_gemm(size_t m, size_t k, size_t n, const double *A, const double *B, double *C);

/* C = A' B with A k x m, B k x n; as hs_gemm (same order of the sums). */
void hs_gemm_tn(size_t m, size_t k, size_t n, const double *A, const double *B, double *C);

/* C = A B' with A m x k, B n x k; as hs_gemm (same order of the sums). */
void hs_gemm_nt(size_t m, size_t k, size_t n, const double *A, const double *B, double *C);

/* Copy the strict lower triangle of A (n x n) onto its upper triangle. */
void hs_symmetrize_lower(size_t n, double *A);

/* Largest |A_ij - A_ji| relative to the largest |A_ij| (0 for a symmetric matrix).
** NaN when an entry of A is not finite. */
double hs_asymmetry(size_t n, const double *A);

/* hs_asymmetry, also reporting where: *row < *col index the pair with the largest
** |A_ij - A_ji| and *absdiff is that difference. When an entry is not finite the
** result and *absdiff are NaN and (*row, *col) is the first such entry in
** row-major order. Any of the three pointers may be NULL. */
double hs_asymmetry_at(size_t n, const double *A, size_t *row, size_t *col,
                       double *absdiff);

/* Index of the first entry of x[0 .. count-1] that is inf or NaN; count if none. */
size_t hs_firstnonfinite(size_t count, const double *x);

/* Workspace (in doubles) that hs_eig and hs_eig_jacobi need for order n. */
size_t hs_eig_worksize(size_t n);

/* Symmetric eigendecomposition A = V diag(w) V': w ascending, eigenvectors in the
** columns of V (n x n row-major). Only the lower triangle of A is read; A is not
** modified and may not alias V. work has hs_eig_worksize(n) doubles.
** n <= HS_EIG_SMALL: an in-house small-matrix solver (hs_eig_jacobi cold up to
** order 6, Householder tridiagonalisation + implicit QR above: whichever measured
** faster); else LAPACKE_dsyevd (HS_ELAPACK on info != 0), which
** also keeps integer workspace in work: pass allocated memory (malloc, userdata),
** not a declared double array, when n > HS_EIG_SMALL. LAPACKE's row-major
** interface allocates its own transposition buffers (HS_ENOMEM if that fails);
** the small path allocates nothing. HS_EINVAL when the lower triangle has an inf
** or NaN. Absolute accuracy: a few eps * ||A||_F; orthogonality of V: a few eps
** on the small path, a few eps for dsyevd's as well. */
hs_status hs_eig(size_t n, const double *A, double *w, double *V, double *work);

/* Cyclic Jacobi eigensolver, to full double precision. When warm is nonzero, V on
** entry holds an orthogonal matrix close to the eigenvectors (for example those of
** the previous step of a path) and the iteration starts from V'AV, which usually
** converges in one or two sweeps. HS_ENOCONV after max_sweeps (never seen in
** practice for symmetric input; reported rather than returned silently).
** Same output conventions as hs_eig (lower triangle of A read; HS_EINVAL on inf or
** NaN). A warm V is re-orthonormalised first, so chains of warm starts do not drift;
** one too far from orthogonal to repair is ignored (the solve starts cold). */
hs_status hs_eig_jacobi(size_t n, const double *A, double *w, double *V, double *work,
                        int warm);

/* LAPACKE_dsyevd with its own allocation (the general path, any n).
** HS_ENOMEM when allocation fails, HS_ESIZE when n does not fit LAPACK's integers. */
hs_status hs_eig_lapack(size_t n, const double *A, double *w, double *V);

/* out = V diag(d) V' (n x n), the matrix function assembled from an eigensystem.
** out must not alias V. The result is exactly symmetric. */
void hs_sym_from_eig(size_t n, const double *V, const double *d, double *out);

/* hs_sym_from_eig with n*n doubles of work, through the BLAS above HS_BLAS_ORDER
** (then the entries j <= i are computed and mirrored: exactly symmetric too). */
void hs_sym_from_eig_work(size_t n, const double *V, const double *d, double *out,
                          double *work);

/* The scalar functions hs_eigmap applies to eigenvalues (hasme.matfun's names). */
typedef enum hs_eigfn { HS_FN_EXP, HS_FN_LOG, HS_FN_PHI1, HS_FN_PHI2, HS_FN_SQRT } hs_eigfn;

/* w[k] <- f(w[k]) for ascending eigenvalues w[0 .. n-1], the diagonal of a matrix
** function V diag(f(w)) V'. Domains: log needs w > 0; sqrt w >= -tol max|w| (values
** in [-tol max|w|, 0) are rounding of a PSD matrix and map to 0); phi1 and phi2
** w < 1; exp a finite result. Otherwise HS_EDOM, w unchanged and *bad set to the
** offending eigenvalue (the smallest for log and sqrt, the largest for the rest). */
hs_status hs_eigmap(hs_eigfn f, size_t n, double *w, double tol, double *bad);

/* Cholesky A = L L' (L lower, n x n, upper part zeroed). Returns HS_ENOTPSD when a
** pivot is not positive and then sets *col to its 0-based column. L may alias A.
** Only the lower triangle of A is read. On failure L[col][col] holds the failed
** pivot A_kk - sum_{j<k} L_kj^2 (k = col; NaN when A has NaN) and rows below col
** are unspecified. */
hs_status hs_chol(size_t n, const double *A, double *L, size_t *col);

/* A square-root factor D of a symmetric PSD matrix A (D D' = A) from its eigen-
** decomposition: D = V diag(sqrt(max(w, 0))). Eigenvalues below -tol * max(|w|) make
** it return HS_ENOTPSD with *minw set to the most negative eigenvalue; with clip
** nonzero they are set to zero instead and *clipped counts them. work has
** hs_eig_worksize(n) + n*n + n doubles.
** *minw is set to the smallest eigenvalue on every successful eigensolve; eigenvalues
** in [-tol * max(|w|), 0) are zeroed without being counted. D may alias A but not
** work; minw and clipped may be NULL. Errors of hs_eig are passed on. */
hs_status hs_psd_factor(size_t n, const double *A, double *D, double tol, int clip,
                        double *minw, size_t *clipped, double *work);

/* The symmetric square root D = A^(1/2) = V diag(sqrt(max(w, 0))) V' (n x n, D = D',
** D D' = A), the factor of every diffusion in the engine. Eigenvalues below
** -tol * max(|w|) make it return HS_ENOTPSD (with clip nonzero they are set to zero
** and *clipped counts them); *minw as hs_psd_factor (minw may be NULL). D may not
** alias A. work: hs_factor_worksize(n) doubles. */
hs_status hs_factor(size_t n, const double *A, double *D, double tol, int clip,
                    double *minw, size_t *clipped, double *work);
size_t hs_factor_worksize(size_t n);

/* y = A^(1/2) z, hs_factor's symmetric square root of the symmetric n x n matrix A
** (lower triangle read) applied to the vector z, from the tridiagonal QR iteration
** without forming eigenvectors or the factor: for one vector a few times cheaper
** than hs_eig. w receives the eigenvalues (n doubles, in no particular order).
** Eigenvalues below -tol * max(|w|) return HS_ENOTPSD (y not written) or, with clip
** nonzero, are set to zero and counted in *clipped (else 0). HS_EINVAL when A has
** an inf or NaN, HS_ENOCONV when the iteration does not converge. y may alias z.
** work: hs_sqrt_apply_worksize(n) doubles (O(n^2)). */
hs_status hs_sqrt_apply(size_t n, const double *A, const double *z, double *y, double tol,
                        int clip, double *w, size_t *clipped, double *work);
size_t hs_sqrt_apply_worksize(size_t n);

/* Most problems hs_sqrt_apply_multi takes at once. */
#define HS_SQRT_MULTI 8

/* hs_sqrt_apply for m <= HS_SQRT_MULTI problems of order n (A[i], z[i], y[i], w[i],
** clipped[i], status st[i]), whose iterations are interleaved: faster than one call
** each, and each result bit for bit what hs_sqrt_apply gives for it alone. work:
** m * hs_sqrt_apply_worksize(n) doubles. */
void hs_sqrt_apply_multi(size_t n, size_t m, const double *const *A, const double *const *z,
                         double *const *y, double tol, int clip, double *const *w,
                         size_t *clipped, hs_status *st, double *work);

/* hs_eig for m <= HS_SQRT_MULTI symmetric matrices of order n (A[i] into w[i], V[i],
** status st[i]), bit for bit hs_eig's results; for 6 < n <= HS_EIG_SMALL, where
** hs_eig's QR iteration runs, the matrices' iterations are interleaved as in
** hs_sqrt_apply_multi. work: m * hs_eig_worksize(n) doubles. */
void hs_eig_multi(size_t n, size_t m, const double *const *A, double *const *w,
                  double *const *V, hs_status *st, double *work);

#endif
