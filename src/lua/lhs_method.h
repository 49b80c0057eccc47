/*
** lhs_method.h: the `method` option shared by simulate, compare and exact_moments.
*/
#ifndef HS_LHS_METHOD_H
#define HS_LHS_METHOD_H

#include "lhs_aux.h"
#include "hs_method.h"

/* The method named by field `method` of the options table at index 1 (default
** "sgd"), from the core's list hs_methods; raises naming the valid names. */
const hs_method_type *lhs_checkmethod(lua_State *L);

#endif
