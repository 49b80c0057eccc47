/*
** hs_kernel_general.h: the engine's general kernel (any objective and noise): a
** worker's paths, HS_BLOCK lanes at a time, through every step, through hs_model_eval
** per path or the lane-batched substeps. Internal to the engine (hs_run.c calls it).
*/
#ifndef HS_KERNEL_GENERAL_H
#define HS_KERNEL_GENERAL_H

#include "hs_run.h"

/* A worker's scratch for the general kernel, laid out over one allocation. */
typedef struct hs_genwork {
  double *x;        /* K x d, one row per lane */
  double *z, *zc, *b, *u, *mw, *ow;
  hs_model_ws ws;   /* the model's scratch, laid out over mw */
  /* The lane-batched HA-SME substep (hasme_lanes): lane-interleaved arrays, the
  ** eigenvectors each path keeps from step to step, and whether it has them yet. */
  double *lg, *lh, *lA, *lV, *lw, *lt, *lp, *lu, *lz, *le;
  int warm[HS_BLOCK];
  /* Each lane's path, the step it has reached, its next recorded step (index into
  ** the run's record) and whether it failed (or was dropped after a failure). */
  size_t path[HS_BLOCK], step[HS_BLOCK], ri[HS_BLOCK];
  int failed[HS_BLOCK];
  /* The general-noise substep (general_substep): each lane's matrix to take the
  ** square root of, eigenvectors, drift and vectors, then hs_sqrt_apply_multi's work. */
  double *gl;
  size_t *idx;      /* minibatch indices */
  uint32_t *stamp;  /* minibatch without replacement: membership marks */
  uint32_t gen;
} hs_genwork;

/* Scratch doubles a worker needs for the general kernel. */
size_t hs_kernel_general_worksize(const hs_run *R);

/* Lay out g over work (hs_kernel_general_worksize(R) doubles) for the worker's view
** v, and allocate the minibatch arrays; HS_ENOMEM when they cannot be had. */
hs_status hs_kernel_general_init(const hs_run *R, const hs_view *v, double *work,
                                 hs_genwork *g);
void hs_kernel_general_free(hs_genwork *g);

/* Worker id's share of the run: blocks of paths taken with hs_run_take until none is
** left, each path through every step (or until it stops). */
void hs_kernel_general_run(hs_run *R, const hs_view *v, size_t id, hs_genwork *g,
                           hs_counts *cnt);

#endif
