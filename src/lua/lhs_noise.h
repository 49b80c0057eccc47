/*
** lhs_noise.h: hasme.Noise and hasme.Escape as the engine's binding and the worker
** copier see them
*/
#ifndef HS_LHS_NOISE_H
#define HS_LHS_NOISE_H

#include "hs_escape.h"
#include "hs_noise.h"
#include "lhs_worker.h"

hs_noise *lhs_checknoise(lua_State *L, int idx, int arg, const char *field, size_t dim);
/* The criterion at idx, field 'escape' of the options (argument 1): a hasme.Escape,
** or a Lua predicate wrapped in one (pushed). NULL when it is neither; raises, naming
** the field, for a released criterion. */
hs_escape *lhs_toescape(lua_State *L, int idx, size_t dim);
/* Replicas of thread-unsafe noise and escape criteria in the worker state x->to,
** anchored in its registry: 1 on success (*out NULL when none is needed), 0 with
** x->why set. */
int lhs_noise_replica(lhs_xfer *x, int idx, size_t dim, hs_noise **out);
int lhs_escape_replica(lhs_xfer *x, int idx, size_t dim, hs_escape **out);

#endif
