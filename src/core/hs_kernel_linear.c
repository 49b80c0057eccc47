/*
** hs_kernel_linear.c: the linear kernel. On a quadratic objective with constant
** Gaussian (or no) noise every method is a linear Gaussian recursion
** x' = A x + c + L z (hs_exact.h, built from the method's table), Euler-Maruyama or
** exact. A block of HS_BLOCK paths is stored component-major (X[j*K + s], K lanes),
** so each transition vectorises across the paths. Between two recorded steps the
** block runs without interruption (lin_run): for d <= 8 with its state in vector
** registers, and with each transition's normals drawn just before it, so that the
** sampler's integer work overlaps the transition's floating-point additions.
**
** The file is compiled for AVX-512, AVX2 and the x86-64 baseline and the active
** code path (hs_isa.h) chosen per block; all compute the same bits.
*/
/* Compiled once per code path (the Makefile's ISA_WIDE): the plain compilation is
** the baseline and dispatches to the others; a compilation with -DHS_ISA_TAG=avx2 or
** avx512 (and that path's -march) renames the file's external functions with the
** path's suffix, so the three coexist. */
#include "hs_isa.h"
#ifdef HS_ISA_TAG
#define hs_kernel_linear_worksize HS_ISA_FN(hs_kernel_linear_worksize)
#define hs_kernel_linear_block HS_ISA_FN(hs_kernel_linear_block)
#endif
#include "hs_kernel_linear.h"

#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "hs_normal.h"

/* Coupled draws (several normal vectors per transition, lin_draw) are drawn for
** several steps at once: one call of hs_normal_block per NORMAL_BUF doubles instead
** of one per transition (each call loads and stores the block's eight generator
** states). Single draws come from the inline sampler instead (lin_normals). Each
** stream still yields its variates in order, so the paths do not depend on how many
** are drawn at a time. */
#define NORMAL_BUF 2048

typedef struct linwork {
  double *X, *Y, *Zc, *xs, *ow;
  double *Z;          /* buffered normals: per transition d*draws per lane (or one
                         transition's inline draws, lin_run_mem) */
  size_t zlen, zpos;  /* doubles buffered, and used so far */
} linwork;

/* Doubles of buffered normals: a whole number of transitions, at least one. */
static size_t linbuf(const hs_run *R) {
  size_t per = R->s->model.dim * R->lin.draws * HS_BLOCK;
  size_t n = NORMAL_BUF / per;
  return (n > 0 ? n : 1) * per;
}

size_t hs_kernel_linear_worksize(const hs_run *R) {
  size_t d = R->s->model.dim, K = HS_BLOCK;
  return 3 * d * K + linbuf(R) + d + hs_objective_worksize(R->s->model.obj);
}

static void linwork_layout(const hs_run *R, double *w, linwork *lw) {
  size_t d = R->s->model.dim, K = HS_BLOCK;
  lw->X = w;
  lw->Y = lw->X + d * K;
  lw->Zc = lw->Y + d * K;
  lw->Z = lw->Zc + d * K;
  lw->xs = lw->Z + linbuf(R);
  lw->ow = lw->xs + d;
  lw->zlen = linbuf(R);
  lw->zpos = lw->zlen;   /* empty: the first draw refills */
}

/* One transition for all K lanes: X = A X + c + L Z on active lanes; returns whether
** every new value is finite.
**
** Each new component is c_i + sum_j A_ij x_j + sum_j L_ij z_j, summed in that order.
** The loops run over j outside and i inside so that the d chains of additions go
** side by side; the sums, and so the results, are the same bit for bit as row by
** row. Structural zeros of a triangular L are skipped (adding 0 * z changes
** nothing). The innermost loops run across lanes and vectorise; for d up to
** LIN_UNROLL the dimension is a constant of an inlined copy, so the accumulators
** stay in vector registers. */
#define LIN_UNROLL 8
#define LIN_SMALL 16

static inline __attribute__((always_inline))
int lin_step(const hs_linear *lin, size_t d, const double *keep, double *X,
             const double *Z) {
  enum { K = HS_BLOCK };
  double acc[LIN_SMALL * K];
#pragma GCC unroll 8
  for (size_t i = 0; i < d; i++)
    for (size_t s = 0; s < K; s++) acc[i * K + s] = lin->c[i];
#pragma GCC unroll 8
  for (size_t j = 0; j < d; j++) {
    const double *Xj = X + j * K;
#pragma GCC unroll 8
    for (size_t i = 0; i < d; i++) {
      double a = lin->A[i * d + j];
      for (size_t s = 0; s < K; s++) acc[i * K + s] += a * Xj[s];
    }
  }
  if (Z != NULL && lin->lower) {
#pragma GCC unroll 8
    for (size_t j = 0; j < d; j++) {
      const double *Zj = Z + j * K;
#pragma GCC unroll 8
      for (size_t i = j; i < d; i++) {
        double l = lin->L[i * d + j];
        for (size_t s = 0; s < K; s++) acc[i * K + s] += l * Zj[s];
      }
    }
  }
  else if (Z != NULL) {
#pragma GCC unroll 8
    for (size_t j = 0; j < d; j++) {
      const double *Zj = Z + j * K;
#pragma GCC unroll 8
      for (size_t i = 0; i < d; i++) {
        double l = lin->L[i * d + j];
        for (size_t s = 0; s < K; s++) acc[i * K + s] += l * Zj[s];
      }
    }
  }
  /* The store and finiteness check are written out here and in lin_step_rows rather
  ** than shared: as a shared inline helper they cost W1 a third more time (the
  ** accumulators left the vector registers). */
  unsigned bad = 0;   /* an integer OR: unlike a floating-point sum, it vectorises */
#pragma GCC unroll 8
  for (size_t i = 0; i < d; i++)
    for (size_t s = 0; s < K; s++) {
      double x = keep[s] != 0.0 ? acc[i * K + s] : X[i * K + s];
      X[i * K + s] = x;
      bad |= !(x - x == 0.0);   /* x - x is NaN exactly for inf and NaN */
    }
  return !bad;
}

/* Larger dimensions: row by row, through Y. */
static int lin_step_rows(const hs_linear *lin, size_t d, const double *keep, double *X,
                         double *Y, const double *Z) {
  enum { K = HS_BLOCK };
  for (size_t i = 0; i < d; i++) {
    double acc[K];
    for (size_t s = 0; s < K; s++) acc[s] = lin->c[i];
    const double *Ai = lin->A + i * d;
    for (size_t j = 0; j < d; j++) {
      double a = Ai[j];
      const double *Xj = X + j * K;
      for (size_t s = 0; s < K; s++) acc[s] += a * Xj[s];
    }
    if (Z != NULL) {
      const double *Li = lin->L + i * d;
      for (size_t j = 0; j < (lin->lower ? i + 1 : d); j++) {
        double l = Li[j];
        const double *Zj = Z + j * K;
        for (size_t s = 0; s < K; s++) acc[s] += l * Zj[s];
      }
    }
    for (size_t s = 0; s < K; s++) Y[i * K + s] = acc[s];
  }
  unsigned bad = 0;
  for (size_t j = 0; j < d; j++)
    for (size_t s = 0; s < K; s++) {
      double x = keep[s] != 0.0 ? Y[j * K + s] : X[j * K + s];
      X[j * K + s] = x;
      bad |= !(x - x == 0.0);
    }
  return !bad;
}

static int lin_transition(const hs_linear *lin, size_t d, const int *act, double *X,
                          double *Y, const double *Z) {
  enum { K = HS_BLOCK };
  double keep[K];   /* 1 on active lanes: a branch-free select that vectorises */
  for (size_t s = 0; s < K; s++) keep[s] = act[s] ? 1.0 : 0.0;
  switch (d) {
    case 1: return lin_step(lin, 1, keep, X, Z);
    case 2: return lin_step(lin, 2, keep, X, Z);
    case 3: return lin_step(lin, 3, keep, X, Z);
    case 4: return lin_step(lin, 4, keep, X, Z);
    case 5: return lin_step(lin, 5, keep, X, Z);
    case 6: return lin_step(lin, 6, keep, X, Z);
    case 7: return lin_step(lin, 7, keep, X, Z);
    case 8: return lin_step(lin, 8, keep, X, Z);
    default:
      if (d <= LIN_SMALL) return lin_step(lin, d, keep, X, Z);
      return lin_step_rows(lin, d, keep, X, Y, Z);
  }
}


/* Normals for one transition of every lane (the normalised sum of `draws` vectors
** per lane when several substeps are coupled into one transition). Returns a pointer
** to d*K values, component-major like the state. */
static const double *lin_draw(const hs_linear *lin, size_t d, hs_pcg *r, linwork *w) {
  enum { K = HS_BLOCK };
  size_t per = d * lin->draws * K;
  if (w->zpos == w->zlen) {
    /* hs_normal_block lays out out[j*K + s] = j-th variate of stream s, which is
    ** what consecutive transitions need in turn. */
    hs_normal_block(r, K, w->zlen / K, w->Z);
    w->zpos = 0;
  }
  const double *Z = w->Z + w->zpos;
  w->zpos += per;
  if (lin->draws == 1) return Z;
  double inv = 1.0 / sqrt((double)lin->draws);
  for (size_t i = 0; i < d * K; i++) {
    double z = 0.0;
    for (size_t q = 0; q < lin->draws; q++) z += Z[q * d * K + i];
    w->Zc[i] = z * inv;
  }
  return w->Zc;
}

/* {====================================================================
** Small dimensions in vector registers
** ===================================================================== */

/* For d <= LIN_REG the block's state is held in local vectors from one recorded step
** to the next (GNU C vectors of the path's native width: two AVX2 or four SSE2
** registers per component, one AVX-512 register), which the compiler keeps in
** registers as far as they go (all of them up to d = 4 on AVX2, d = 8 on AVX-512),
** instead of going through X in memory at every transition. Every element is computed
** as lin_step computes it (the same sums in the same order), so the results are the
** same bits.
**
** The normals are drawn here too, one transition's worth just before it, straight
** from the inline sampler (hs_normal), not from the buffer lin_draw fills. Each stream
** still yields its variates in order into the same lanes and components, so the paths
** are unchanged; but the sampler's integer work (the generator's multiplications, the
** ziggurat's tests) now runs while the transition's chain of dependent floating-point
** additions waits on its latency, where a large buffer ran the two one after the
** other. W1 (d = 4) on AVX2 went from about 13.6 to 9.9 ns per path-step (16.0 with
** neither change); SGD in d = 6 and 8 from 26 and 37 to 19 and 30 (AVX2), 23 and 32 to
** 16 and 22 (AVX-512). */
#define LIN_REG 8

#if defined(__AVX512F__)
#define VW 8
#elif defined(__AVX__)
#define VW 4
#else
#define VW 2
#endif
enum { NV = HS_BLOCK / VW };
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

static inline vd vbroadcast(double a) {
  vd v;
  for (size_t e = 0; e < VW; e++) v[e] = a;
  return v;
}

/* Nonzero when every element of m is set. */
static inline int vall(vm m) {
#if defined(__AVX512F__)
  return _mm512_test_epi64_mask((__m512i)m, (__m512i)m) == 0xff;
#elif defined(__AVX__)
  return _mm256_movemask_pd((__m256d)m) == 0xf;
#else
  return _mm_movemask_pd((__m128d)m) == 0x3;
#endif
}

/* One transition's normals for every lane straight from the inline sampler: the next
** d variates of each of the block's streams (local copies, so the compiler knows that
** no store into Z changes them), laid out as hs_normal_block lays them out. */
static inline __attribute__((always_inline))
void lin_normals(size_t d, hs_pcg *loc, double *Z) {
  enum { K = HS_BLOCK };
#pragma GCC unroll 4
  for (size_t j = 0; j < d; j++)
#pragma GCC unroll 8
    for (size_t s = 0; s < K; s++) Z[j * K + s] = hs_normal(&loc[s]);
}

/* Why lin_run stopped before its last step. */
enum { RUN_DONE, RUN_NONFINITE, RUN_INTERRUPT };

/*
** Up to m steps of lin->count transitions with the state in registers, D (<= LIN_REG)
** a constant of each inlined copy, as are whether there is noise and whether L is
** lower triangular (whose structural zeros lin_step skips, so they must be skipped
** here too: adding 0 * z would turn an accumulated -0 into +0). The interrupt flag is
** polled before each step, as the caller does. Returns the steps taken; *why says
** whether the last one left a non-finite value (checked, as lin_transition's result,
** once per step) or the interrupt stopped the run. The streams r advance by the
** variates drawn; w's buffer of normals is not used.
*/
static inline __attribute__((always_inline))
size_t lin_run_reg(const hs_linear *lin, size_t D, int noise, int lower, const int *act,
                   linwork *w, hs_pcg *r, size_t m, const volatile sig_atomic_t *intr,
                   int *why) {
  enum { K = HS_BLOCK };
  vd x[LIN_REG][NV];
  vm keep[NV];   /* all ones on active lanes */
  double kd[K];
#pragma GCC unroll 8
  for (size_t s = 0; s < K; s++) kd[s] = act[s] ? 1.0 : 0.0;
#pragma GCC unroll 8
  for (size_t v = 0; v < NV; v++) keep[v] = vload(kd + v * VW) != 0.0;
#pragma GCC unroll 8
  for (size_t j = 0; j < D; j++)
#pragma GCC unroll 8
    for (size_t v = 0; v < NV; v++) x[j][v] = vload(w->X + j * K + v * VW);
  size_t done = 0;
  *why = RUN_DONE;
  hs_pcg loc[K];
  for (size_t s = 0; s < K; s++) loc[s] = r[s];
  while (done < m) {
    if (intr != NULL && *intr) {
      *why = RUN_INTERRUPT;
      break;
    }
    done++;
    vm ok[NV];   /* all ones while every value is finite */
#pragma GCC unroll 8
    for (size_t v = 0; v < NV; v++) ok[v] = ~(vm){0};
    for (size_t t = 0; t < lin->count; t++) {
      vd acc[LIN_REG][NV];
#pragma GCC unroll 8
      for (size_t i = 0; i < D; i++)
#pragma GCC unroll 8
        for (size_t v = 0; v < NV; v++) acc[i][v] = vbroadcast(lin->c[i]);
#pragma GCC unroll 8
      for (size_t j = 0; j < D; j++)
#pragma GCC unroll 8
        for (size_t i = 0; i < D; i++)
#pragma GCC unroll 8
          for (size_t v = 0; v < NV; v++) acc[i][v] += lin->A[i * D + j] * x[j][v];
      if (noise) {
        double Z[LIN_REG * K];
        lin_normals(D, loc, Z);
#pragma GCC unroll 8
        for (size_t j = 0; j < D; j++)
#pragma GCC unroll 8
          for (size_t i = lower ? j : 0; i < D; i++)
#pragma GCC unroll 8
            for (size_t v = 0; v < NV; v++)
              acc[i][v] += lin->L[i * D + j] * vload(Z + j * K + v * VW);
      }
#pragma GCC unroll 8
      for (size_t i = 0; i < D; i++)
#pragma GCC unroll 8
        for (size_t v = 0; v < NV; v++) {
          x[i][v] = vselect(keep[v], acc[i][v], x[i][v]);
          ok[v] &= x[i][v] - x[i][v] == 0.0;   /* NaN exactly for inf and NaN */
        }
    }
    vm all = ok[0];
#pragma GCC unroll 8
    for (size_t v = 1; v < NV; v++) all &= ok[v];
    if (!vall(all)) {
      *why = RUN_NONFINITE;
      break;
    }
  }
#pragma GCC unroll 8
  for (size_t j = 0; j < D; j++)
#pragma GCC unroll 8
    for (size_t v = 0; v < NV; v++) vstore(w->X + j * K + v * VW, x[j][v]);
  for (size_t s = 0; s < K; s++) r[s] = loc[s];
  return done;
}

/* One copy of lin_run_reg per dimension and kind of noise. */
#define LIN_RUN_REG(D)                                                                  \
  (lin->L == NULL ? lin_run_reg(lin, D, 0, 0, act, w, r, m, intr, why)                  \
   : lin->lower   ? lin_run_reg(lin, D, 1, 1, act, w, r, m, intr, why)                  \
                  : lin_run_reg(lin, D, 1, 0, act, w, r, m, intr, why))

/* }==================================================================== */

/* Any dimension: transition by transition through X in memory. Single draws come
** from the inline sampler, one transition's worth at a time (as in lin_run_reg, so
** that the sampler overlaps the arithmetic: SGD in d = 9 and 12 about 11% faster); the
** scaled sums of coupled draws from lin_draw's buffer. */
static size_t lin_run_mem(const hs_linear *lin, size_t d, const int *act, linwork *w,
                          hs_pcg *r, size_t m, const volatile sig_atomic_t *intr, int *why) {
  int inl = lin->L != NULL && lin->draws == 1;
  hs_pcg loc[HS_BLOCK];
  if (inl)
    for (size_t s = 0; s < HS_BLOCK; s++) loc[s] = r[s];
  size_t done = 0;
  *why = RUN_DONE;
  while (done < m) {
    if (intr != NULL && *intr) {
      *why = RUN_INTERRUPT;
      break;
    }
    done++;
    int finite = 1;
    for (size_t t = 0; t < lin->count; t++) {
      const double *Z = NULL;
      if (inl) lin_normals(d, loc, w->Z), Z = w->Z;
      else if (lin->L != NULL) Z = lin_draw(lin, d, r, w);
      finite &= lin_transition(lin, d, act, w->X, w->Y, Z);
    }
    if (!finite) {
      *why = RUN_NONFINITE;
      break;
    }
  }
  if (inl)
    for (size_t s = 0; s < HS_BLOCK; s++) r[s] = loc[s];
  return done;
}

/* Up to m steps of the block from its state in w->X (left there), polling the
** interrupt flag before each; stops after a step that left a non-finite value.
** Returns the steps taken, and in *why why it stopped early (RUN_DONE otherwise). */
static size_t lin_run(const hs_linear *lin, size_t d, const int *act, linwork *w, hs_pcg *r,
                      size_t m, const volatile sig_atomic_t *intr, int *why) {
  if (lin->L == NULL || lin->draws == 1)
    switch (d) {
      case 1: return LIN_RUN_REG(1);
      case 2: return LIN_RUN_REG(2);
      case 3: return LIN_RUN_REG(3);
      case 4: return LIN_RUN_REG(4);
      case 5: return LIN_RUN_REG(5);
      case 6: return LIN_RUN_REG(6);
      case 7: return LIN_RUN_REG(7);
      case 8: return LIN_RUN_REG(8);
      default: break;
    }
  return lin_run_mem(lin, d, act, w, r, m, intr, why);
}

/* Recorded step ri: the block's states, one row per lane, into the snapshots (or,
** when they are not kept, into the scratch Y), then its observables from those rows. */
static void lin_record(hs_run *R, const hs_view *v, const linwork *w, size_t ri, size_t p0,
                       size_t n) {
  enum { K = HS_BLOCK };
  size_t d = R->s->model.dim;
  double *dst = R->out->snap != NULL ? R->out->snap + (ri * R->s->paths + p0) * d : w->Y;
  if (R->out->snap == NULL && v->observe == NULL) return;
  for (size_t l = 0; l < n; l++)
    for (size_t j = 0; j < d; j++) dst[l * d + j] = w->X[j * K + l];
  if (v->observe != NULL) hs_run_observe(R, v, ri, p0, n, dst, w->ow);
}

#ifndef HS_ISA_TAG
void hs_kernel_linear_block_avx2(hs_run *R, const hs_view *v, size_t p0, size_t n, double *work,
                            hs_counts *cnt);
void hs_kernel_linear_block_avx512(hs_run *R, const hs_view *v, size_t p0, size_t n, double *work,
                            hs_counts *cnt);
#endif

void hs_kernel_linear_block(hs_run *R, const hs_view *v, size_t p0, size_t n, double *work,
                            hs_counts *cnt) {
#ifndef HS_ISA_TAG
  switch (hs_isa_active()) {   /* the wider paths (same bits, hs_isa.h) */
    case HS_ISA_AVX512: hs_kernel_linear_block_avx512(R, v, p0, n, work, cnt); return;
    case HS_ISA_AVX2: hs_kernel_linear_block_avx2(R, v, p0, n, work, cnt); return;
    default: break;
  }
#endif
  enum { K = HS_BLOCK };
  const hs_sim *s = R->s;
  const hs_linear *lin = &R->lin;
  size_t d = s->model.dim;
  linwork w;
  linwork_layout(R, work, &w);
  hs_pcg r[K];
  int act[K];
  hs_run_streams(R, p0, n, r);
  for (size_t l = 0; l < K; l++) {
    act[l] = l < n;
    const double *x0 = s->x0 + (s->x0_per_path ? (p0 + (l < n ? l : 0)) * d : 0);
    for (size_t j = 0; j < d; j++) w.X[j * K + l] = x0[j];
  }
  size_t ri = 0, nact = n, k = 0;
  for (;;) {
    if (ri < s->nrecord && s->record[ri] == k) lin_record(R, v, &w, ri++, p0, n);
    if (k == s->steps || nact == 0) break;
    /* The steps up to the next recorded one run without leaving lin_run, unless an
    ** escape criterion needs the per-path checks after every step. */
    size_t end = ri < s->nrecord ? s->record[ri] : s->steps;
    if (v->escape != NULL) end = k + 1;
    int why;
    k += lin_run(lin, d, act, &w, r, end - k, s->interrupt, &why);
    if (why == RUN_INTERRUPT) {
      atomic_store(&R->cancel, 1);
      break;
    }
    /* The per-path checks find nothing to do while the block is finite and there is
    ** no escape criterion: skip them then (the common case of plain moments). */
    if (v->escape == NULL && why == RUN_DONE) continue;
    for (size_t l = 0; l < n; l++) {
      if (!act[l]) continue;
      for (size_t j = 0; j < d; j++) w.xs[j] = w.X[j * K + l];
      int c = hs_run_checkpath(R, v, p0 + l, k, w.xs, w.ow, cnt);
      if (c == PATH_GOES_ON) continue;
      for (size_t j = 0; j < d; j++) w.X[j * K + l] = w.xs[j];  /* NaN when diverged */
      act[l] = 0, nact--;
      if (c == PATH_FAILED) nact -= hs_run_droplanes(act, l + 1, n);
    }
  }
  /* Stopped paths keep their last state in the remaining snapshots. */
  while (ri < s->nrecord) lin_record(R, v, &w, ri++, p0, n);
}
