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
** latencies of square roots and divisions (two square roots and one division per
** rotation, none of either for the tiny rotations of the last sweeps: rotparams). Each lane decides its own rotations, and a
** lane with nothing to rotate is left exactly as it was (a select, not an identity
** rotation), so further sweeps run for other lanes never change it: a lane's result
** does not depend on the rest of the block.
*/
#include "hs_eiglanes.h"

#include <float.h>
#include <limits.h>
#include <math.h>
#include <string.h>

#include "hs_isa.h"
#include "hs_vmath.h"

#ifdef HS_ISA_TAG
#include <immintrin.h>
#endif

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

/* The solver works on the K lanes of an element as NV vectors of the path's native
** width (GNU C vectors: two AVX2 or four SSE2 registers, one AVX-512 register), each
** element computed as the scalar expression would be (ISO C mode does not contract
** into FMAs). Written out this way, not left to the vectoriser, because the loops it
** made over 8 lanes kept their loop control, checks for overlapping arrays and
** accumulators in memory, which cost more than the arithmetic. */
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

static inline vd vabs(vd a) {
  const vm sign = (vm){0} + LLONG_MIN;
  return (vd)((vm)a & ~sign);
}

/* Square roots element by element: the processor's correctly rounded square root,
** the same bits on every path. */
static inline vd vsqrt(vd a) {
#if defined(__AVX512F__)
  return (vd)_mm512_sqrt_pd((__m512d)a);
#elif defined(__AVX__)
  return (vd)_mm256_sqrt_pd((__m256d)a);
#else
  return (vd)_mm_sqrt_pd((__m128d)a);
#endif
}

/* The elements of m that are set, one bit each. */
static inline unsigned vbits(vm m) {
#if defined(__AVX512F__)
  return (unsigned)_mm512_test_epi64_mask((__m512i)m, (__m512i)m);
#elif defined(__AVX__)
  return (unsigned)_mm256_movemask_pd((__m256d)m);
#else
  return (unsigned)_mm_movemask_pd((__m128d)m);
#endif
}

static inline int vall(vm m) {
  return vbits(m) == (1u << VW) - 1;
}

static inline int vany(vm m) {
  return vbits(m) != 0;
}

/* A rotation of every lane: t = tan(theta), c = cos(theta), s = sin(theta), m the
** lanes that rotate (t != 0); all when every lane does. */
typedef struct {
  vd t[NV], c[NV], s[NV];
  vm m[NV];
  int any, all;
} rotation;

/*
** Rotation parameters of pair (p, q) for every lane: t = 0, c = 1, s = 0 where a_pq is
** negligible or the lane is off.
**
** With h = |a_qq - a_pp|, g = 2 |a_pq| and r = sqrt(h^2 + g^2), the smaller root is
** |t| = g / (h + r) (Golub and Van Loan's t = sgn(tau) / (|tau| + sqrt(1 + tau^2)),
** multiplied through by h), and 1 + t^2 = 2 r / (h + r), so that with
** q = sqrt(2 r (h + r)):
**
**   c = (h + r) / q,   |s| = g / q,   |t| = |s| c^-1 = g 2 r / q^2,
**
** the signs those of tau = (a_qq - a_pp) / (2 a_pq). Two square roots and one
** division, against two and three for the tau form: the divider is the bottleneck of
** the solver. h and g are first scaled by the power of two that brings the larger
** into [1, 2) (exact, and the ratios are unchanged), so that the squares neither
** overflow nor underflow.
**
** Once g <= 2^-27 h (the late sweeps, where every rotation is tiny), r = h and q = 2h
** exactly: g^2 is below half an ulp of h^2, and sqrt(fl(x^2)) = |x| in binary floating
** point (S. Boldo, "Stupid is as stupid does: taking the square root of the square
** of a floating-point number", 2015), and 2 r (h + r) = 4 h^2. When that holds in
** every lane that rotates, both square roots are skipped; the bits are those of the
** full formula, so a lane's result still does not depend on its neighbours.
*/
static void rotparams(size_t n, const double *restrict A, size_t p, size_t q,
                      const double *restrict on, rotation *R) {
  const double eps2 = DBL_EPSILON * DBL_EPSILON;
  const double *app = A + (p * n + p) * K, *aqq = A + (q * n + q) * K, *apq = A + (p * n + q) * K;
  const vm sign = (vm){0} + LLONG_MIN, expo = (vm){0} + 0x7ff0000000000000LL;
  const vm top = (vm){0} + 0x7fe0000000000000LL, least = (vm){0} + 0x0010000000000000LL;
  vd h[NV], g[NV];
  vm go[NV], neg[NV];
  int tiny = 1;
  for (size_t v = 0; v < NV; v++) {
    vd a = vload(apq + v * VW), pp = vload(app + v * VW), qq = vload(aqq + v * VW);
    vd d = qq - pp;
    vd hv = vabs(d), gv = 2.0 * vabs(a);
    /* h or g beyond DBL_MAX (entries near the overflow threshold): no rotation, and
    ** the lane is reported as not converging, as the tau form did */
    go[v] = (vload(on + v * VW) != a * 0.0) & (a * a > eps2 * vabs(pp) * vabs(qq)) &
            (hv <= DBL_MAX) & (gv <= DBL_MAX);
    neg[v] = ((vm)d ^ (vm)a) & sign;
    /* 2^-e for the larger of h and g in [2^e, 2^(e+1)): exponent field 2046 - E,
    ** 2^-1022 from 2^1023 up (eb is 2^e; compared as a double, since the baseline
    ** has no 64-bit integer comparison) */
    vd eb = (vd)((vm)vselect(hv > gv, hv, gv) & expo);
    vd scale = vselect(eb >= 0x1p1023, (vd)least, (vd)(top - (vm)eb));
    h[v] = hv * scale;
    g[v] = gv * scale;
    tiny &= !vany(go[v] & (g[v] > 0x1p-27 * h[v]));
  }
  int any = 0, all = 1;
  for (size_t v = 0; v < NV; v++) {
    vd zero = h[v] * 0.0, one = zero + 1.0, r, qv;
    if (tiny) r = h[v], qv = h[v] + h[v];
    else {
      r = vsqrt(h[v] * h[v] + g[v] * g[v]);
      qv = vsqrt((r + r) * (h[v] + r));
    }
    vd iq = 1.0 / qv;
    vd cc = (h[v] + r) * iq;
    vd ss = (vd)((vm)(g[v] * iq) ^ neg[v]);
    vd tt = ss * ((r + r) * iq);
    R->t[v] = vselect(go[v], tt, zero);
    R->c[v] = vselect(go[v], cc, one);
    R->s[v] = vselect(go[v], ss, zero);
    R->m[v] = R->t[v] != zero;
    any |= vany(R->m[v]);
    all &= vall(R->m[v]);
  }
  R->any = any, R->all = all;
}

/* Rotate two rows x, y of K lanes each: x' = c x - s y, y' = s x + c y on the lanes
** of R->m (every lane when all); other lanes keep their values exactly. all is a
** constant where this is inlined. */
static inline void rot2(double *x, double *y, const rotation *R, int all) {
  for (size_t v = 0; v < NV; v++) {
    vd a = vload(x + v * VW), b = vload(y + v * VW), s = R->s[v], c = R->c[v];
    vd x1 = c * a - s * b;
    vd y1 = s * a + c * b;
    vstore(x + v * VW, all ? x1 : vselect(R->m[v], x1, a));
    vstore(y + v * VW, all ? y1 : vselect(R->m[v], y1, b));
  }
}

/* Element (i, j) of the upper triangle, i != j, in either order. */
static inline double *upper(double *A, size_t n, size_t i, size_t j) {
  return i < j ? A + (i * n + j) * K : A + (j * n + i) * K;
}

/* The rows r != p, q of A and every row of V under rotation (p, q). */
static inline void rotrows(size_t n, double *restrict A, double *restrict V, size_t p, size_t q,
                           const rotation *R, int all) {
  for (size_t r = 0; r < n; r++)
    if (r != p && r != q) rot2(upper(A, n, r, p), upper(A, n, r, q), R, all);
  for (size_t r = 0; r < n; r++) rot2(V + (r * n + p) * K, V + (r * n + q) * K, R, all);
}

/*
** Apply rotation (p, q), p < q, with per-lane parameters to A and V. Only the upper
** triangle of A is kept up to date (the rotation reads nothing else): entry (r, p)
** of the symmetric matrix is read and written where the upper triangle holds it, so
** the rows need no mirror copies.
*/
static void rotapply(size_t n, double *restrict A, double *restrict V, size_t p, size_t q,
                     const rotation *R) {
  double *app = A + (p * n + p) * K, *aqq = A + (q * n + q) * K;
  double *apq = A + (p * n + q) * K;
  for (size_t v = 0; v < NV; v++) {
    vd tv = R->t[v], a = vload(apq + v * VW), zero = tv * 0.0;
    vd pp = vload(app + v * VW), qq = vload(aqq + v * VW);
    vstore(app + v * VW, vselect(R->m[v], pp - tv * a, pp));
    vstore(aqq + v * VW, vselect(R->m[v], qq + tv * a, qq));
    vstore(apq + v * VW, vselect(R->m[v], zero, a));
  }
  if (R->all) rotrows(n, A, V, p, q, R, 1);
  else rotrows(n, A, V, p, q, R, 0);
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
** rotates is not applied (for every lane it would be the identity). The pairs of a
** round are disjoint, so a pair's parameters do not depend on the rotations of the
** others: the parameters of the next pair (square roots and divisions, long
** latencies) are computed before the current pair is applied, so that the two
** overlap in the processor. */
static unsigned sweeps(size_t n, double *A, double *V, double *on) {
  size_t P[HS_EIG_LANES_MAX / 2], Q[HS_EIG_LANES_MAX / 2];   /* the pairs of a round */
  rotation R[2];
  size_t m = n + (n & 1);
  for (int sweep = 0; sweep < MAX_SWEEPS; sweep++) {
    if (!pending(n, A, on)) return 0;
    for (size_t r = 0; r + 1 < m; r++) {
      size_t np = round_pairs(n, r, P, Q);
      if (np == 0) continue;
      rotparams(n, A, P[0], Q[0], on, &R[0]);
      for (size_t k = 0; k < np; k++) {
        if (k + 1 < np) rotparams(n, A, P[k + 1], Q[k + 1], on, &R[(k + 1) & 1]);
        if (R[k & 1].any) rotapply(n, A, V, P[k], Q[k], &R[k & 1]);
      }
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
  (void)work;
  if (n > HS_EIG_LANES_MAX) return (1u << K) - 1;
  double on[K];
  unsigned bad = lanes_on(n, A, active, on);
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < n; j++)
      for (size_t l = 0; l < K; l++)
        if (on[l] != 0.0) V[(i * n + j) * K + l] = i == j ? 1.0 : 0.0;
  bad |= sweeps(n, A, V, on);
  eigenvalues(n, A, w, active);
  return bad;
}

/* Modified Gram-Schmidt on the columns of V, lane by lane in vector form. A column
** that has lost its length (a lane whose V is not a basis) restarts the lane cold. */
static void orthonormalise(size_t n, double *V, double *cold) {
  for (size_t j = 0; j < n; j++) {
    for (size_t i = 0; i < j; i++) {
      vd dot[NV];
      for (size_t v = 0; v < NV; v++) dot[v] = (vd){0};
      for (size_t r = 0; r < n; r++)
        for (size_t v = 0; v < NV; v++)
          dot[v] += vload(V + (r * n + i) * K + v * VW) * vload(V + (r * n + j) * K + v * VW);
      for (size_t r = 0; r < n; r++)
        for (size_t v = 0; v < NV; v++) {
          double *x = V + (r * n + j) * K + v * VW;
          vstore(x, vload(x) - dot[v] * vload(V + (r * n + i) * K + v * VW));
        }
    }
    vd nv[NV];
    for (size_t v = 0; v < NV; v++) nv[v] = (vd){0};
    for (size_t r = 0; r < n; r++)
      for (size_t v = 0; v < NV; v++) {
        vd x = vload(V + (r * n + j) * K + v * VW);
        nv[v] += x * x;
      }
    double nrm[K];
    for (size_t v = 0; v < NV; v++) vstore(nrm + v * VW, nv[v]);
    for (size_t l = 0; l < K; l++) {
      if (!(nrm[l] > 0.25)) cold[l] = 1.0;   /* far from orthonormal: start afresh */
      nrm[l] = 1.0 / sqrt(nrm[l] > 0.0 ? nrm[l] : 1.0);
    }
    for (size_t v = 0; v < NV; v++) nv[v] = vload(nrm + v * VW);
    for (size_t r = 0; r < n; r++)
      for (size_t v = 0; v < NV; v++) {
        double *x = V + (r * n + j) * K + v * VW;
        vstore(x, vload(x) * nv[v]);
      }
  }
}

/* C(i, j) = sum over k of X(i, k) Y(k, j), for every lane, with X(i, k) at
** X[(i si + k sk) K] (si = n, sk = 1: X itself; si = 1, sk = n: X transposed), the
** sum in the order of k (the bits of the plain loop). prodblock does the JB columns
** j0 .. j0 + JB - 1 at once, with its JB x NV accumulators in registers. */
#define JB VW
static void prodblock(size_t n, const double *X, size_t si, size_t sk, const double *Y,
                      double *C, size_t i, size_t j0) {
  vd acc[JB][NV];
  for (size_t jj = 0; jj < JB; jj++)
    for (size_t v = 0; v < NV; v++) acc[jj][v] = (vd){0};
  for (size_t k = 0; k < n; k++) {
    const double *x = X + (i * si + k * sk) * K, *y = Y + (k * n + j0) * K;
    vd a[NV];
    unsigned nz = 0;
    for (size_t v = 0; v < NV; v++) a[v] = vload(x + v * VW), nz |= vbits(a[v] != a[v] * 0.0);
    if (nz == 0) continue;   /* see congruence: zeros skipped */
#pragma GCC unroll 8
    for (size_t jj = 0; jj < JB; jj++)
#pragma GCC unroll 8
      for (size_t v = 0; v < NV; v++) acc[jj][v] += a[v] * vload(y + jj * K + v * VW);
  }
  for (size_t jj = 0; jj < JB; jj++)
    for (size_t v = 0; v < NV; v++) vstore(C + (i * n + j0 + jj) * K + v * VW, acc[jj][v]);
}

static void prodone(size_t n, const double *X, size_t si, size_t sk, const double *Y,
                    double *C, size_t i, size_t j) {
  vd acc[NV];
  for (size_t v = 0; v < NV; v++) acc[v] = (vd){0};
  for (size_t k = 0; k < n; k++) {
    const double *x = X + (i * si + k * sk) * K, *y = Y + (k * n + j) * K;
    for (size_t v = 0; v < NV; v++) acc[v] += vload(x + v * VW) * vload(y + v * VW);
  }
  for (size_t v = 0; v < NV; v++) vstore(C + (i * n + j) * K + v * VW, acc[v]);
}

/* Row i of C over the columns j < jend. */
static void prodrows(size_t n, const double *X, size_t si, size_t sk, const double *Y,
                     double *C, size_t i, size_t jend) {
  size_t j = 0;
  for (; j + JB <= jend; j += JB) prodblock(n, X, si, sk, Y, C, i, j);
  for (; j < jend; j++) prodone(n, X, si, sk, Y, C, i, j);
}

/* B = V'AV for every lane (A and B lane-interleaved, B symmetric by construction from
** its lower triangle). T is n x n x K scratch. Terms of A V whose A entry is zero in
** every lane of a vector are skipped (Hessians are often sparse: a chain of coupled
** coordinates is tridiagonal): with finite V such a term is +-0, and adding it
** changes nothing, since a sum that starts from +0 is never -0. */
static void congruence(size_t n, const double *A, const double *V, double *B, double *T) {
  for (size_t i = 0; i < n; i++) prodrows(n, A, n, 1, V, T, i, n);       /* T = A V */
  for (size_t i = 0; i < n; i++) {                                        /* B = V' T */
    prodrows(n, V, 1, n, T, B, i, i + 1);
    for (size_t j = 0; j < i; j++) memcpy(B + (j * n + i) * K, B + (i * n + j) * K, K * sizeof(double));
  }
}

unsigned HS_ISA_FN(hs_eig_lanes_warm)(size_t n, double *A, double *w, double *V, const int *active,
                                      const int *warm, double *work) {
  if (n > HS_EIG_LANES_MAX) return (1u << K) - 1;
  double on[K], *B = work, *T = B + n * n * K;
  unsigned bad = lanes_on(n, A, active, on);
  double cold[K];
  for (size_t l = 0; l < K; l++) cold[l] = warm[l] ? 0.0 : 1.0;
  /* cold lanes start from the identity (their V on entry may be anything) */
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < n; j++)
      for (size_t l = 0; l < K; l++)
        if (on[l] != 0.0 && cold[l] != 0.0) V[(i * n + j) * K + l] = i == j ? 1.0 : 0.0;
  orthonormalise(n, V, cold);
  congruence(n, A, V, B, T);
  /* warm lanes start from B, cold ones from the identity; lanes off are left alone */
  vm useb[NV], usei[NV];
  for (size_t v = 0; v < NV; v++) {
    vd o = vload(on + v * VW), cl = vload(cold + v * VW), zero = o * 0.0;
    useb[v] = (o != zero) & (cl == zero);
    usei[v] = (o != zero) & (cl != zero);
  }
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < n; j++)
      for (size_t v = 0; v < NV; v++) {
        double *a = A + (i * n + j) * K + v * VW, *x = V + (i * n + j) * K + v * VW;
        vd id = vload(on + v * VW) * 0.0 + (i == j ? 1.0 : 0.0);
        vstore(a, vselect(useb[v], vload(B + (i * n + j) * K + v * VW), vload(a)));
        vstore(x, vselect(usei[v], id, vload(x)));
      }
  bad |= sweeps(n, A, V, on);
  eigenvalues(n, A, w, active);
  return bad;
}

#else

/* {====================================================================
** Dispatch (the plain compilation)
** ===================================================================== */

size_t hs_eig_lanes_worksize(size_t n) {
  return 2 * n * n * K;
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
