/*
** lhs_init.c: luaopen_hasme_core, which builds the module table from the binding
** parts in order (the bindings' linit). No binding file calls back into this one.
*/
#include "lhs_init.h"

#include "lhs_aux.h"
#include "lhs_sys.h"

#include "hs_lapack.h"
#include "hs_util.h"

/* hasme.clock(): seconds on a monotonic clock, for timing (differences only). */
static int core_clock(lua_State *L) {
  lua_pushnumber(L, (lua_Number)hs_now());
  return 1;
}

/* hasme.cores(): the number of online processors (the default of threads). */
static int core_cores(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)hs_ncores());
  return 1;
}

HS_EXPORT int luaopen_hasme_core(lua_State *L) {
  luaL_checkversion(L);
  lua_pushcfunction(L, luaopen_hasme_core);  /* for worker states (lhs_worker.c) */
  lua_setfield(L, LUA_REGISTRYINDEX, LHS_OPENER);
  hs_lapack_prepare();
  lua_newtable(L);
  lhs_open_vec(L);
  lhs_open_rng(L);
  lhs_open_linalg(L);
  lhs_open_stats(L);
  lhs_open_objective(L);
  lhs_open_finsum(L);
  lhs_open_noise(L);
  lhs_open_result(L);
  lhs_open_sim(L);
  lhs_open_sys(L);   /* preloads hasme.sys, the runner's internal module */
  lua_pushliteral(L, HS_VERSION);
  lua_setfield(L, -2, "version");
  lua_pushcfunction(L, core_clock);
  lua_setfield(L, -2, "clock");
  lua_pushcfunction(L, core_cores);
  lua_setfield(L, -2, "cores");
  return 1;
}
