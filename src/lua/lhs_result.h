/*
** lhs_result.h: hasme.Result (lhs_result.c), the userdata hasme.simulate returns
*/
#ifndef HS_LHS_RESULT_H
#define HS_LHS_RESULT_H

#include "lhs_aux.h"

#include "hs_sim.h"

/* User values of a result. */
#define LHS_RESULT_INFO 1        /* the info table (r.method, r.eta, r:info()) */
#define LHS_RESULT_STEPS 2       /* the recorded steps (a size_t array userdata) */
#define LHS_RESULT_OBJECTIVE 3   /* the objective, for r:values */
#define LHS_RESULT_OBSERVED 4    /* the observed figures (hasme.Observed), or nil */
#define LHS_RESULT_NUV 4

typedef struct lhs_result {
  size_t dim, paths, nrecord;
  const size_t *rec;             /* nrecord ascending steps (user value STEPS) */
  double *snap;                  /* nrecord x paths x dim; NULL: none kept (observe) */
  int64_t *esc, *div, *undef;    /* per-path steps, or NULL when not recorded */
  hs_sim_out out;                /* the run's outputs; out.mem is the block */
} lhs_result;

/* What became of path i (0-based) of a run with an escape criterion (r->esc set):
** "escaped", "censored" (still inside at the last step), "diverged" (inf or NaN,
** on_diverge = 'record') or "undefined" (the model left its domain, on_domain =
** 'record'). The categories exclude each other: a path stops at the first. */
const char *lhs_result_status(const lhs_result *r, size_t i);

/* Push a new, empty hasme.Result; fill r->out (hs_sim_out_alloc), then attach. */
lhs_result *lhs_result_new(lua_State *L);

/* Point the result at its outputs (r->out) and record steps. */
void lhs_result_attach(lhs_result *r, size_t dim, size_t paths, size_t nrecord,
                       const size_t *rec);

#endif
