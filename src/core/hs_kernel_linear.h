/*
** hs_kernel_linear.h: the engine's linear kernel (quadratic objective, constant
** Gaussian or no noise): one block of paths through every step with the run's
** linear transition (hs_exact.h). Internal to the engine (hs_run.c calls it).
*/
#ifndef HS_KERNEL_LINEAR_H
#define HS_KERNEL_LINEAR_H

#include "hs_run.h"

/* Scratch doubles a worker needs for the linear kernel. */
size_t hs_kernel_linear_worksize(const hs_run *R);

/* Run paths p0 .. p0+n-1 (n <= HS_BLOCK) through every step, recording snapshots,
** escapes and divergences into R->out; work has hs_kernel_linear_worksize(R) doubles. */
void hs_kernel_linear_block(hs_run *R, const hs_view *v, size_t p0, size_t n, double *work,
                            hs_counts *cnt);

#endif
