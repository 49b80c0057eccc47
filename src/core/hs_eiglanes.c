/*
** hs_eiglanes.c: cyclic Jacobi eigendecomposition of HS_LANES symmetric matrices at
** once, every operation running across the lanes.
**
** The method is the classical two-sided Jacobi iteration (G. H. Golub, C. F. Van
** Loan, Matrix Computations, 4th ed., section 8.5): each rotation J(p, q, theta)
** annihilates a_pq, with t = tan(theta) the smaller root of t^2 + 2 tau t - 1 = 0,
** tau = (a_qq - a_pp) / (2 a_pq) (their Algorithm 8.5.1), and a_pq is left alone when
** it is negligible, |a_pq| <= eps sqrt(|a_pp a_qq|), the criterion under which Jacobi
** computes eigenvalues to high relative accuracy (J. Demmel, K. Veselic, "Jacobi's
** method is more accurate than QR", SIAM J. Matrix Anal. Appl. 13(4), 1992). A lane
** has converged when a whole sweep finds nothing to rotate.
**
** The pairs are visited in round-robin ("tournament") order: the n/2 pairs of a round
** are disjoint, their rotations commute, and their parameters are computed from the
** same matrix, which gives the processor independent work between the long
** latencies of square roots and divisions. Each lane decides its own rotations, and a
** lane with nothing to rotate is left exactly as it was (a select, not an identity
** rotation), so further sweeps run for other lanes never change it: a lane's result
** does not depend on the rest of the block.
*/
#include "hs_eiglanes.h"

#include <float.h>
#include <math.h>
#include <string.h>

#include "hs_isa.h"
#include "hs_vmath.h"

enum { K = HS_LANES };

#define MAX_SWEEPS 50

/* The solver is compiled once per code path (hs_isa.h); the plain compilation of
** this file holds the dispatch at its end. */
#define EIG_DECL(tag)                                                                  \
  unsigned hs_eig_lanes_##tag(size_t n, double *A, double *w, double *V,               \
                              const int *active, double *work);                        \
  unsigned hs_eig_lanes_warm_##tag(size_t n, double *A, double *w, double *V,          \
                                   const int *active, const int *warm, double *work);
EIG_DECL(baseline)
EIG_DECL(avx2)
EIG_DECL(avx512)

#ifdef HS_ISA_TAG

/* The pairs (p < q) of round r of the tournament on m = n rounded up to even players:
** player m-1 stays, the others rotate (the circle method). Pairs with the dummy
** player n (n odd) are left out. Returns how many were written. */
static size_t round_pairs(size_t n, size_t r, size_t *P, size_t *Q) {
  size_t m = n + (n & 1), c = 0;
  for (size_t i = 0; i < m / 2; i++) {
    size_t a = i == 0 ? m - 1 : (r + i) % (m - 1);
    size_t b = i == 0 ? r : (r + m - 1 - i) % (m - 1);
    if (a >= n || b >= n) continue;
    P[c] = a < b ? a : b;
    Q[c] = a < b ? b : a;
    c++;
  }
  return c;
}

/* Rotation parameters of pair (p, q) for every lane: t = 0 where a_pq is negligible or
** the lane is off. The lane loop works on local copies and selects with arithmetic,
** the form the vectoriser takes. */
static void rotparams(size_t n, const double *restrict A, size_t p, size_t q,
                      const double *restrict on, double *restrict t, double *restrict c,
                      double *restrict s) {
  const double eps2 = DBL_EPSILON * DBL_EPSILON;
  double app[K], aqq[K], apq[K];
  memcpy(app, A + (p * n + p) * K, sizeof app);
  memcpy(aqq, A + (q * n + q) * K, sizeof aqq);
  memcpy(apq, A + (p * n + q) * K, sizeof apq);
  for (size_t l = 0; l < K; l++) {
    double a = apq[l];
    int go = (on[l] != 0.0) & (a * a > eps2 * fabs(app[l]) * fabs(aqq[l]));
    double tau = (aqq[l] - app[l]) / (2.0 * hs_vm_select(go, a, 1.0));
    double at = fabs(tau);
    /* for |tau| > 1e150, sqrt(1 + tau^2) would overflow: t = 1/(2 tau) to first order;
    ** one division serves both (1/(2|tau|) is 0.5/|tau| below 2^1023) */
    double den = hs_vm_select(at > 1e150, 2.0 * at, at + sqrt(1.0 + tau * tau));
    double tt = 1.0 / den;
    tt = hs_vm_select(tau < 0.0, -tt, tt);
    tt = hs_vm_select(go, tt, 0.0);
    double cc = 1.0 / sqrt(1.0 + tt * tt);
    t[l] = tt;
    c[l] = cc;
    s[l] = tt * cc;
  }
}

/* The rotations below work on the K lanes of a row as NV vectors of the path's
** native width (GNU C vectors: two AVX2 or four SSE2 registers, one AVX-512
** register), each element computed as the scalar expression would be (ISO C mode
** does not contract into FMAs). Written out this way, not left to the vectoriser,
** because the AVX2 loops it made over 8 lanes kept their loop control and checks for
** overlapping arrays, which cost more than the arithmetic. */
#if defined(__AVX512F__)
#define VW 8
#elif defined(__AVX__)
#define VW 4
#else
#define VW 2
#endif
enum { NV = K / VW };
typedef double vd __attribute__((vector_size(VW * sizeof(double))));
typedef long long vm __attribute__((vector_size(VW * sizeof(double))));

static inline vd vload(const double *p) {
  vd v;
  memcpy(&v, p, sizeof v);
  return v;
}

static inline void vstore(double *p, vd v) {
  memcpy(p, &v, sizeof v);
}

/* m ? a : b element by element; m from a comparison (all ones or all zeros). */
static inline vd vselect(vm m, vd a, vd b) {
  return (vd)(((vm)a & m) | ((vm)b & ~m));
}

/* Rotate two rows x, y of K lanes each: x' = c x - s y, y' = s x + c y on the lanes
** where m is set; other lanes keep their values exactly. */
static inline void rot2(double *x, double *y, const vm *m, const vd *c, const vd *s) {
  for (size_t v = 0; v < NV; v++) {
    vd a = vload(x + v * VW), b = vload(y + v * VW);
    vstore(x + v * VW, vselect(m[v], c[v] * a - s[v] * b, a));
    vstore(y + v * VW, vselect(m[v], s[v] * a + c[v] * b, b));
  }
}

/* The same when every lane rotates: no select (the values are those of rot2). */
static inline void rot2all(double *x, double *y, const vd *c, const vd *s) {
  for (size_t v = 0; v < NV; v++) {
    vd a = vload(x + v * VW), b = vload(y + v * VW);
    vstore(x + v * VW, c[v] * a - s[v] * b);
    vstore(y + v * VW, s[v] * a + c[v] * b);
  }
}

/* Element (i, j) of the upper triangle, i != j, in either order. */
static inline double *upper(double *A, size_t n, size_t i, size_t j) {
  return i < j ? A + (i * n + j) * K : A + (j * n + i) * K;
}

/*
** Apply rotation (p, q), p < q, with per-lane parameters to A and V. Only the upper
** triangle of A is kept up to date (the rotation reads nothing else): entry (r, p)
** of the symmetric matrix is read and written where the upper triangle holds it, so
** the rows need no mirror copies. all says that every lane rotates.
*/
static void rotapply(size_t n, double *restrict A, double *restrict V, size_t p, size_t q,
                     const double *restrict t, const double *restrict c,
                     const double *restrict s, int all) {
  double *app = A + (p * n + p) * K, *aqq = A + (q * n + q) * K;
  double *apq = A + (p * n + q) * K;
  vd cv[NV], sv[NV];
  vm m[NV];
  for (size_t v = 0; v < NV; v++) {
    vd tv = vload(t + v * VW), a = vload(apq + v * VW), zero = tv * 0.0;
    vd pp = vload(app + v * VW), qq = vload(aqq + v * VW);
    cv[v] = vload(c + v * VW);
    sv[v] = vload(s + v * VW);
    m[v] = tv != zero;
    vstore(app + v * VW, vselect(m[v], pp - tv * a, pp));
    vstore(aqq + v * VW, vselect(m[v], qq + tv * a, qq));
    vstore(apq + v * VW, vselect(m[v], zero, a));
  }
  if (all) {
    for (size_t r = 0; r < n; r++)
      if (r != p && r != q) rot2all(upper(A, n, r, p), upper(A, n, r, q), cv, sv);
    for (size_t r = 0; r < n; r++) rot2all(V + (r * n + p) * K, V + (r * n + q) * K, cv, sv);
  }
  else {
    for (size_t r = 0; r < n; r++)
      if (r != p && r != q) rot2(upper(A, n, r, p), upper(A, n, r, q), m, cv, sv);
    for (size_t r = 0; r < n; r++) rot2(V + (r * n + p) * K, V + (r * n + q) * K, m, cv, sv);
  }
}

/* Clears on[l] for the lanes whose every off-diagonal pair is negligible (the test
** of rotparams, without its square root and divisions); returns whether any lane is
** left. A sweep that starts there would rotate nothing, since nothing changes until
** a rotation happens, so this is the convergence test "a whole sweep found nothing
** to rotate" without that last sweep. */
static int pending(size_t n, const double *restrict A, double *restrict on) {
  const double eps2 = DBL_EPSILON * DBL_EPSILON;
  int go[K] = {0};
  for (size_t p = 0; p + 1 < n; p++)
    for (size_t q = p + 1; q < n; q++) {
      const double *app = A + (p * n + p) * K, *aqq = A + (q * n + q) * K,
                   *apq = A + (p * n + q) * K;
      for (size_t l = 0; l < K; l++)
        go[l] |= apq[l] * apq[l] > eps2 * fabs(app[l]) * fabs(aqq[l]);
    }
  int any = 0;
  for (size_t l = 0; l < K; l++) {
    on[l] = go[l] && on[l] != 0.0 ? 1.0 : 0.0;
    any |= on[l] != 0.0;
  }
  return any;
}

/* The sweeps on A (already V'AV for warm lanes), accumulating into V; on[l] says
** which lanes take part, and is cleared as lanes converge. A pair that no lane
** rotates is not applied (for every lane it would be the identity). */
static unsigned sweeps(size_t n, double *A, double *V, double *on, double *work) {
  size_t half = n / 2 + 1;
  double *T = work, *C = T + half * K, *S = C + half * K;
  size_t P[HS_EIG_LANES_MAX / 2], Q[HS_EIG_LANES_MAX / 2];   /* the pairs of a round */
  size_t m = n + (n & 1);
  for (int sweep = 0; sweep < MAX_SWEEPS; sweep++) {
    if (!pending(n, A, on)) return 0;
    for (size_t r = 0; r + 1 < m; r++) {
      size_t np = round_pairs(n, r, P, Q);
      int any[HS_EIG_LANES_MAX / 2], all[HS_EIG_LANES_MAX / 2];
      for (size_t k = 0; k < np; k++) {
        rotparams(n, A, P[k], Q[k], on, T + k * K, C + k * K, S + k * K);
        int a = 0, b = 1;
        for (size_t l = 0; l < K; l++) a |= T[k * K + l] != 0.0, b &= T[k * K + l] != 0.0;
        any[k] = a, all[k] = b;
      }
      for (size_t k = 0; k < np; k++)
        if (any[k]) rotapply(n, A, V, P[k], Q[k], T + k * K, C + k * K, S + k * K, all[k]);
    }
  }
  /* lanes that still rotated in the last sweep allowed */
  pending(n, A, on);
  unsigned bad = 0;
  for (size_t l = 0; l < K; l++)
    if (on[l] != 0.0) bad |= 1u << l;
  return bad;
}

/* Which lanes run: active ones with a finite matrix (the others are reported). */
static unsigned lanes_on(size_t n, const double *A, const int *active, double *on) {
  int fin[K];   /* x - x is 0 for finite x, NaN for inf and NaN: a test across lanes */
  for (size_t l = 0; l < K; l++) fin[l] = 1;
  for (size_t i = 0; i < n * n; i++)
    for (size_t l = 0; l < K; l++) fin[l] &= A[i * K + l] - A[i * K + l] == 0.0;
  unsigned bad = 0;
  for (size_t l = 0; l < K; l++) {
    int ok = active[l] != 0 && fin[l];
    if (active[l] && !ok) bad |= 1u << l;
    on[l] = ok ? 1.0 : 0.0;
  }
  return bad;
}

static void eigenvalues(size_t n, const double *A, double *w, const int *active) {
  for (size_t i = 0; i < n; i++)
    for (size_t l = 0; l < K; l++)
      if (active[l]) w[i * K + l] = A[(i * n + i) * K + l];
}

unsigned HS_ISA_FN(hs_eig_lanes)(size_t n, double *A, double *w, double *V, const int *active,
                      double *work) {
  if (n > HS_EIG_LANES_MAX) return (1u << K) - 1;
  double *on = work + 3 * (n / 2 + 1) * K;
  unsigned bad = lanes_on(n, A, active, on);
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < n; j++)
      for (size_t l = 0; l < K; l++)
        if (on[l] != 0.0) V[(i * n + j) * K + l] = i == j ? 1.0 : 0.0;
  bad |= sweeps(n, A, V, on, work);
  eigenvalues(n, A, w, active);
  return bad;
}

/* Modified Gram-Schmidt on the columns of V, lane by lane in vector form. A column
** that has lost its length (a lane whose V is not a basis) restarts the lane cold. */
static void orthonormalise(size_t n, double *V, double *cold) {
  for (size_t j = 0; j < n; j++) {
    for (size_t i = 0; i < j; i++) {
      double dot[K] = {0};
      for (size_t r = 0; r < n; r++)
        for (size_t l = 0; l < K; l++) dot[l] += V[(r * n + i) * K + l] * V[(r * n + j) * K + l];
      for (size_t r = 0; r < n; r++)
        for (size_t l = 0; l < K; l++) V[(r * n + j) * K + l] -= dot[l] * V[(r * n + i) * K + l];
    }
    double nrm[K] = {0};
    for (size_t r = 0; r < n; r++)
      for (size_t l = 0; l < K; l++) nrm[l] += V[(r * n + j) * K + l] * V[(r * n + j) * K + l];
    for (size_t l = 0; l < K; l++) {
      if (!(nrm[l] > 0.25)) cold[l] = 1.0;   /* far from orthonormal: start afresh */
      nrm[l] = 1.0 / sqrt(nrm[l] > 0.0 ? nrm[l] : 1.0);
    }
    for (size_t r = 0; r < n; r++)
      for (size_t l = 0; l < K; l++) V[(r * n + j) * K + l] *= nrm[l];
  }
}

/* B = V'AV for every lane (A and B lane-interleaved, B symmetric by construction from
** its lower triangle). T is n x n x K scratch. */
static void congruence(size_t n, const double *A, const double *V, double *B, double *T) {
  for (size_t i = 0; i < n; i++)          /* T = A V */
    for (size_t j = 0; j < n; j++) {
      double acc[K] = {0};
      for (size_t k = 0; k < n; k++)
        for (size_t l = 0; l < K; l++) acc[l] += A[(i * n + k) * K + l] * V[(k * n + j) * K + l];
      memcpy(T + (i * n + j) * K, acc, sizeof acc);
    }
  for (size_t i = 0; i < n; i++)          /* B = V' T */
    for (size_t j = 0; j <= i; j++) {
      double acc[K] = {0};
      for (size_t k = 0; k < n; k++)
        for (size_t l = 0; l < K; l++) acc[l] += V[(k * n + i) * K + l] * T[(k * n + j) * K + l];
      memcpy(B + (i * n + j) * K, acc, sizeof acc);
      memcpy(B + (j * n + i) * K, acc, sizeof acc);
    }
}

unsigned HS_ISA_FN(hs_eig_lanes_warm)(size_t n, double *A, double *w, double *V, const int *active,
                           const int *warm, double *work) {
  if (n > HS_EIG_LANES_MAX) return (1u << K) - 1;
  double *on = work + 3 * (n / 2 + 1) * K, *B = on + K, *T = B + n * n * K;
  unsigned bad = lanes_on(n, A, active, on);
  double cold[K];
  for (size_t l = 0; l < K; l++) cold[l] = warm[l] ? 0.0 : 1.0;
  orthonormalise(n, V, cold);
  congruence(n, A, V, B, T);
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < n; j++)
      for (size_t l = 0; l < K; l++) {
        if (on[l] == 0.0) continue;
        if (cold[l] != 0.0) V[(i * n + j) * K + l] = i == j ? 1.0 : 0.0;
        else A[(i * n + j) * K + l] = B[(i * n + j) * K + l];
      }
  bad |= sweeps(n, A, V, on, work);
  eigenvalues(n, A, w, active);
  return bad;
}

#else

/* {====================================================================
** Dispatch (the plain compilation)
** ===================================================================== */

size_t hs_eig_lanes_worksize(size_t n) {
  return (3 * (n / 2 + 1) + 1) * K + 2 * n * n * K;
}

typedef unsigned (*cold_fn)(size_t, double *, double *, double *, const int *, double *);
typedef unsigned (*warm_fn)(size_t, double *, double *, double *, const int *, const int *,
                            double *);
static const cold_fn cold_path[HS_ISA_COUNT] = {
  hs_eig_lanes_baseline, hs_eig_lanes_avx2, hs_eig_lanes_avx512};
static const warm_fn warm_path[HS_ISA_COUNT] = {
  hs_eig_lanes_warm_baseline, hs_eig_lanes_warm_avx2, hs_eig_lanes_warm_avx512};

unsigned hs_eig_lanes(size_t n, double *A, double *w, double *V, const int *active,
                      double *work) {
  return cold_path[hs_isa_active()](n, A, w, V, active, work);
}

unsigned hs_eig_lanes_warm(size_t n, double *A, double *w, double *V, const int *active,
                           const int *warm, double *work) {
  return warm_path[hs_isa_active()](n, A, w, V, active, warm, work);
}

/* }==================================================================== */

#endif
