/*
** lhs_init.c: luaopen_hasme_core, which builds the module table from the binding
** parts in order (the bindings' linit). No binding file calls back into this one.
*/
#include "lhs_init.h"

#include "lhs_aux.h"
#include "lhs_sys.h"

#include "hs_isa.h"
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

/* hasme.isa(): the code path the kernels take ("baseline", "avx2", "avx512") and the
** processor's model name. */
static int core_isa(lua_State *L) {
  char cpu[64];
  lua_pushstring(L, hs_isa_name(hs_isa_active()));
  lua_pushstring(L, hs_cpu_model(cpu, sizeof cpu));
  return 2;
}

HS_EXPORT int luaopen_hasme_core(lua_State *L) {
  luaL_checkversion(L);
  char msg[256];
  if (hs_isa_init(msg, sizeof msg) != HS_OK)  /* HASME_ISA names a path this CPU lacks */
    return luaL_error(L, "%s", msg);
  lua_pushcfunction(L, luaopen_hasme_core);  /* for worker states (lhs_worker.c) */
  lua_setfield(L, LUA_REGISTRYINDEX, LHS_OPENER);
  hs_lapack_prepare();
  lua_newtable(L);
  lhs_open_mpi(L);
  lhs_open_vec(L);
  lhs_open_rng(L);
  lhs_open_linalg(L);
  lhs_open_stats(L);
  lhs_open_objective(L);
  lhs_open_finsum(L);
  lhs_open_noise(L);
  lhs_open_result(L);
  lhs_open_sim(L);
  lhs_open_method(L);
  lhs_open_sys(L);   /* preloads hasme.sys, the runner's internal module */
  lua_pushliteral(L, HS_VERSION);
  lua_setfield(L, -2, "version");
  lua_pushcfunction(L, core_clock);
  lua_setfield(L, -2, "clock");
  lua_pushcfunction(L, core_cores);
  lua_setfield(L, -2, "cores");
  lua_pushcfunction(L, core_isa);
  lua_setfield(L, -2, "isa");
  return 1;
}
