/*
** hs_eiglanes.h: symmetric eigendecompositions of the Hessians of a block of paths at
** once: a cyclic Jacobi solver whose every operation runs across the HS_LANES matrices
** of the block, so that it vectorises, for the engine's per-path, per-step Hessians.
*/
#ifndef HS_EIGLANES_H
#define HS_EIGLANES_H

#include "hasme.h"

#define HS_LANES 8            /* matrices per call: the engine's block of paths */
#define HS_EIG_LANES_MAX 64   /* largest order hs_eig_lanes accepts */
/* Orders up to which the engine uses this solver for HA-SME's Hessians. Warm-started,
** the lane solver takes about a third of the time of one hs_eig call per path at
** order 8 and half at order 16 (AVX2, test_eiglanes with HASME_BENCH=1); raising the
** limit would change which solver, and so which bits, models of orders 13 to 16 get. */
#define HS_EIG_LANES_ENGINE 12

/* Doubles of work hs_eig_lanes and hs_eig_lanes_warm need for order n. */
size_t hs_eig_lanes_worksize(size_t n);

/* Eigendecompositions of the symmetric n x n matrices of the lanes l with active[l]
** nonzero, stored lane-interleaved: element (i, j) of lane l at A[(i*n + j)*HS_LANES + l].
** On return w[i*HS_LANES + l] holds lane l's eigenvalues (in no particular order) and
** V[(i*n + j)*HS_LANES + l] its eigenvectors, in columns (orthonormal). A is destroyed;
** inactive lanes are left alone, but their entries of A and V are read (the solver's
** vector operations run across all lanes), so they must hold initialised values,
** whatever they are. Every lane's result is what the same solver gives
** that matrix alone: a lane never depends on the other lanes of the block. Returns
** the lanes (bit l) that did not converge within 50 sweeps (0 in practice), or whose
** matrix has an inf or NaN; every lane when n > HS_EIG_LANES_MAX. */
unsigned hs_eig_lanes(size_t n, double *A, double *w, double *V, const int *active,
                      double *work);

/* The same, starting from an orthogonal V given on entry (lane-interleaved like A),
** typically the eigenvectors of the lane's previous matrix: the iteration then starts
** from V'AV, nearly diagonal when A changed little, and converges in a sweep or two.
** V is orthonormalised first (modified Gram-Schmidt), so that rounding does not
** accumulate over a long chain of warm starts. Lanes with warm[l] == 0 start cold:
** their V on entry is not read. */
unsigned hs_eig_lanes_warm(size_t n, double *A, double *w, double *V, const int *active,
                           const int *warm, double *work);

#endif
