/*
** lhs_objective.h: hasme.Objective as the engine's binding and the worker copier see it
*/
#ifndef HS_LHS_OBJECTIVE_H
#define HS_LHS_OBJECTIVE_H

#include "hs_objective.h"
#include "lhs_worker.h"

/* The core objective behind a hasme.Objective at idx (raises when not one). Its Lua
** callbacks, if any, are bound to L. */
hs_objective *lhs_checkobjective(lua_State *L, int idx, int arg, const char *field);
/* Whether the objective can give its value f(x): every built-in can, a Lua objective
** only when it was given f. */
int lhs_objective_hasvalue(const hs_objective *o);
/* For lhs_xfer_value: push onto x->to a hasme.Objective sharing the thread-safe
** built-in objective at idx of x->from; 0 when it is not one. */
int lhs_objective_share(lhs_xfer *x, int idx);
/* A replica of a thread-unsafe objective in the worker state x->to, anchored in its
** registry: 1 on success (*out NULL when none is needed), 0 with x->why set. */
int lhs_objective_replica(lhs_xfer *x, int idx, hs_objective **out);

#endif
