/*
** lhs_init.h: the registry of the binding parts (in the manner of linit): the open
** function of each part and luaopen_hasme_core, which calls them in order
*/
#ifndef HS_LHS_INIT_H
#define HS_LHS_INIT_H

#include <lua.h>
#include "hasme.h"

/* Module parts, called in this order by luaopen_hasme_core with the module table on
** top of the stack; each adds its functions and metatables. */
void lhs_open_mpi(lua_State *L);       /* lhs_mpi.c: the mpi subtable (starts MPI) */
void lhs_open_vec(lua_State *L);       /* lhs_vec.c: vec, mat, eye, diag, linspace */
void lhs_open_rng(lua_State *L);       /* lhs_rng.c: rng, pcg64 */
void lhs_open_linalg(lua_State *L);    /* lhs_linalg.c: eig, chol, matfun, phi1, phi2 */
void lhs_open_stats(lua_State *L);     /* lhs_stats.c: the stats subtable */
void lhs_open_objective(lua_State *L); /* lhs_objective.c: objectives, hessian, gradcheck */
void lhs_open_finsum(lua_State *L);    /* lhs_finsum.c: least_squares, logistic */
void lhs_open_noise(lua_State *L);     /* lhs_noise.c: gaussian, minibatch, escape */
void lhs_open_result(lua_State *L);    /* lhs_result.c: the hasme.Result type */
void lhs_open_sim(lua_State *L);       /* lhs_sim.c: simulate, compare */
void lhs_open_method(lua_State *L);    /* lhs_method.c: methods, exact_moments */

HS_EXPORT int luaopen_hasme_core(lua_State *L);

#endif
