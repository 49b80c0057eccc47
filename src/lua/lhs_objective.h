/*
** lhs_objective.h: hasme.Objective as the engine's binding sees it (the worker copier
** reaches it only through the copier its metatable registers, lhs_xfer_settype)
*/
#ifndef HS_LHS_OBJECTIVE_H
#define HS_LHS_OBJECTIVE_H

#include "hs_objective.h"
#include "lhs_worker.h"

/* The core objective behind a hasme.Objective at idx (raises when not one). Its Lua
** callbacks, if any, are bound to L. */
hs_objective *lhs_checkobjective(lua_State *L, int idx, int arg, const char *field);
/* Push a new hasme.Objective owning the built-in core objective o (freed by its
** __gc); raises "<function>: not enough memory for the objective" when o is NULL,
** and frees o when the userdata cannot be made. Returns 1. */
int lhs_objective_push(lua_State *L, hs_objective *o);
/* A replica of a thread-unsafe objective in the worker state x->to, anchored in its
** registry: 1 on success (*out NULL when none is needed), 0 with x->why set. */
int lhs_objective_replica(lhs_xfer *x, int idx, hs_objective **out);

#endif
