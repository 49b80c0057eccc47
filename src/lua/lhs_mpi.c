/*
** lhs_mpi.c: hasme.mpi, the ranks of an MPI job as Lua sees them: rank, size, and the
** few collectives that scripts and the runner need (barrier, broadcast and gather of
** strings, exact reductions). Without mpirun they act on a world of one process.
*/
#include "lhs_init.h"
#include "lhs_aux.h"
#include "lhs_vec.h"

#include <stdio.h>
#include <string.h>

#include "hs_mpi.h"

/* Raise for a failed collective, naming the function. */
static int mpierror(lua_State *L, hs_status s, const char *what) {
  if (s == HS_ENOMEM) return luaL_error(L, "%s: not enough memory", what);
  return luaL_error(L, "%s: %s", what, hs_mpi_error());
}

/* Raise an error that every rank raises alike (it follows from values all ranks
** share): marked so, only rank 0 reports it if it ends the program. */
static int sharederror(lua_State *L, const char *fmt, int a, int b) {
  const char *msg = lua_pushfstring(L, fmt, a, b);
  hs_mpi_share_error(msg);
  return lua_error(L);
}

/* Collectives are refused inside hasme.mpi.alone: the other ranks are not there. */
static void checknotalone(lua_State *L, const char *what) {
  if (hs_mpi_alone() > 0)
    luaL_error(L, "%s: a collective inside hasme.mpi.alone (the other ranks do not take part)",
               what);
}

/* hasme.mpi.rank(): this process's rank, 0..size-1 (0 without mpirun). */
static int mpi_rank(lua_State *L) {
  lua_pushinteger(L, hs_mpi_rank());
  return 1;
}

/* hasme.mpi.size(): the number of ranks (1 without mpirun). */
static int mpi_size(lua_State *L) {
  lua_pushinteger(L, hs_mpi_size());
  return 1;
}

/* hasme.mpi.barrier([timeout]): returns true when every rank has called it; with a
** timeout (seconds), returns false when they have not within it. The timed form runs
** apart from the other collectives, so it is safe where a rank may be stuck in
** another one (at the end of a run that failed on some rank). */
static int mpi_barrier(lua_State *L) {
  checknotalone(L, "barrier");
  hs_status s;
  int arrived = 1;
  if (lua_isnoneornil(L, 1)) s = hs_mpi_barrier();
  else {
    double t = (double)luaL_checknumber(L, 1);
    luaL_argcheck(L, t >= 0.0 && t <= 86400.0, 1, "seconds in [0, 86400] expected");
    s = hs_mpi_barrier_timeout(t, &arrived);
  }
  if (s != HS_OK) return mpierror(L, s, "barrier");
  lua_pushboolean(L, arrived);
  return 1;
}

/* The rank argument at arg (default def), checked against the world. */
static int checkroot(lua_State *L, int arg, lua_Integer def) {
  lua_Integer root = luaL_optinteger(L, arg, def);
  luaL_argcheck(L, root >= 0 && root < hs_mpi_size(), arg,
                lua_pushfstring(L, "rank in 0..%d expected, got %d", hs_mpi_size() - 1,
                                (int)root));
  return (int)root;
}

/* hasme.mpi.bcast(s [, root]): root's string s on every rank (s is ignored, and may
** be nil, on the other ranks). The length goes first, then the bytes. */
static int mpi_bcast(lua_State *L) {
  checknotalone(L, "bcast");
  int root = checkroot(L, 2, 0);
  int mine = root == hs_mpi_rank();
  size_t len = 0;
  const char *s = mine ? luaL_checklstring(L, 1, &len) : luaL_optlstring(L, 1, "", &len);
  uint64_t n = mine ? (uint64_t)len : 0;
  hs_status st = hs_mpi_bcast(&n, sizeof n, root);
  if (st != HS_OK) return mpierror(L, st, "bcast");
  if (mine) {
    lua_pushvalue(L, 1);
    if (n > 0 && (st = hs_mpi_bcast((void *)s, (size_t)n, root)) != HS_OK)
      return mpierror(L, st, "bcast");
    return 1;
  }
  luaL_Buffer b;
  char *buf = luaL_buffinitsize(L, &b, (size_t)n);
  if (n > 0 && (st = hs_mpi_bcast(buf, (size_t)n, root)) != HS_OK)
    return mpierror(L, st, "bcast");
  luaL_pushresultsize(&b, (size_t)n);
  return 1;
}

/* hasme.mpi.allgather(s): a list of every rank's string s, in rank order (element
** r + 1 from rank r). */
static int mpi_allgather(lua_State *L) {
  checknotalone(L, "allgather");
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  size_t size = (size_t)hs_mpi_size();
  size_t *counts = lua_newuserdatauv(L, size * sizeof *counts, 0);  /* freed by the GC */
  uint64_t mine = len, *lens = lua_newuserdatauv(L, size * sizeof *lens, 0);
  hs_status st = hs_mpi_allgather(&mine, sizeof mine, lens);
  if (st != HS_OK) return mpierror(L, st, "allgather");
  size_t total = 0;
  for (size_t r = 0; r < size; r++) {
    counts[r] = (size_t)lens[r];
    total += counts[r];
  }
  char *all = lua_newuserdatauv(L, total > 0 ? total : 1, 0);
  if ((st = hs_mpi_allgatherv(s, counts, all)) != HS_OK) return mpierror(L, st, "allgather");
  lua_createtable(L, (int)size, 0);
  size_t off = 0;
  for (size_t r = 0; r < size; r++) {
    lua_pushlstring(L, all + off, counts[r]);
    lua_rawseti(L, -2, (lua_Integer)r + 1);
    off += counts[r];
  }
  return 1;
}

/* hasme.mpi.allreduce(x [, op]): x reduced over ranks with op "sum" (default), "min"
** or "max". x is a number, or a vector or list of numbers of the same length on every
** rank (a vector comes back). A sum of floats is the correctly rounded sum of the
** ranks' values, the same whatever the number or order of ranks; a sum of integers
** (every rank passing an integer) is exact, and an error when it overflows. */
static int mpi_allreduce(lua_State *L) {
  checknotalone(L, "allreduce");
  static const char *const ops[] = {"sum", "min", "max", NULL};
  static const hs_mpi_op opcode[] = {HS_MPI_SUM, HS_MPI_MIN, HS_MPI_MAX};
  hs_mpi_op op = opcode[luaL_checkoption(L, 2, "sum", ops)];
  hs_status st;
  if (lua_type(L, 1) == LUA_TNUMBER) {
    /* Whether every rank passed an integer is itself agreed on first. */
    int64_t isint = lua_isinteger(L, 1);
    if ((st = hs_mpi_allreduce_int(&isint, 1, HS_MPI_MIN)) != HS_OK)
      return mpierror(L, st, "allreduce");
    if (isint) {
      int64_t v = (int64_t)lua_tointeger(L, 1);
      if ((st = hs_mpi_allreduce_int(&v, 1, op)) == HS_ESIZE)
      return sharederror(L, "allreduce: integer sum over ranks overflows", 0, 0);
    if (st != HS_OK) return mpierror(L, st, "allreduce");
      lua_pushinteger(L, (lua_Integer)v);
    } else {
      double v = (double)lua_tonumber(L, 1);
      if ((st = hs_mpi_allreduce(&v, 1, op)) != HS_OK) return mpierror(L, st, "allreduce");
      lua_pushnumber(L, (lua_Number)v);
    }
    return 1;
  }
  lhs_vec *x = lhs_checkvec(L, 1);
  /* Every rank must send the same number of values: check it before the reduction. */
  int64_t n[2] = {(int64_t)x->n, -(int64_t)x->n};
  if ((st = hs_mpi_allreduce_int(n, 2, HS_MPI_MAX)) != HS_OK) return mpierror(L, st, "allreduce");
  if (n[0] != -n[1])
    return sharederror(L, "allreduce: vectors of different lengths on different ranks "
                       "(%d to %d)", (int)-n[1], (int)n[0]);
  lhs_vec *out = lhs_pushvec(L, x->data, x->n);
  if ((st = hs_mpi_allreduce(out->data, out->n, op)) != HS_OK)
    return mpierror(L, st, "allreduce");
  return 1;
}

/* hasme.mpi.bytes_sent(): payload bytes this rank has given to collectives so far
** (its block of each gather and reduction, and each broadcast it was root of). */
static int mpi_bytes_sent(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)hs_mpi_bytes_sent());
  return 1;
}

/* hasme.mpi.threads(): the default number of worker threads of this rank: every core
** without MPI; under MPI, the cores the launcher bound the rank to, or an equal share
** of the machine's cores among the ranks on it. */
static int mpi_threads(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)hs_mpi_threads());
  return 1;
}

/* hasme.mpi.mute(): this rank's standard output goes to /dev/null from here on (so
** that only the ranks that did not call it print); standard error is kept, for
** errors. Does nothing without MPI. Returns whether the output was muted. */
static int mpi_mute(lua_State *L) {
  int muted = 0;
  if (hs_mpi_size() > 1) {
    fflush(stdout);
    muted = freopen("/dev/null", "w", stdout) != NULL;
  }
  lua_pushboolean(L, muted);
  return 1;
}

/* hasme.mpi.shared(msg): whether the error message msg was raised alike on every
** rank (an error the ranks agreed on, such as a failing path in simulate), so that
** one rank may report it for all. Always false without MPI. */
static int mpi_shared(lua_State *L) {
  const char *msg = luaL_checkstring(L, 1);
  lua_pushboolean(L, hs_mpi_size() > 1 && hs_mpi_is_shared(msg));
  return 1;
}

/* hasme.mpi.abort([code [, wait [, msg]]]): end every rank of the job with exit
** status code (default 1), after waiting up to `wait` seconds (default 0) for another
** rank to end it first (rank 0 finishing its report); msg, when given, is printed on
** standard error if the wait runs out, so that an error no other rank reports is not
** lost. Without MPI, exits this process. Never returns. */
static int mpi_abort(lua_State *L) {
  lua_Integer code = luaL_optinteger(L, 1, 1);
  double wait = (double)luaL_optnumber(L, 2, 0.0);
  const char *msg = luaL_optstring(L, 3, NULL);
  luaL_argcheck(L, code >= 0 && code <= 255, 1, "exit status in 0..255 expected");
  luaL_argcheck(L, wait >= 0.0 && wait <= 3600.0, 2, "seconds in [0, 3600] expected");
  hs_mpi_abort_after((int)code, wait, msg);
}

/* hasme.mpi.alone(fn, ...): fn(...) with this rank working on its own: simulate and
** compare inside do not split their paths over the ranks (each rank may run other
** work, such as sweep points of its own), and collectives raise. Returns fn's
** results; an error in fn propagates. */
static int mpi_alone(lua_State *L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  hs_mpi_alone_enter();
  int st = lua_pcall(L, lua_gettop(L) - 1, LUA_MULTRET, 0);
  hs_mpi_alone_leave();
  if (st != LUA_OK) return lua_error(L);
  return lua_gettop(L);
}

static const luaL_Reg mpi_funcs[] = {
  {"abort", mpi_abort},
  {"allgather", mpi_allgather},
  {"alone", mpi_alone},
  {"allreduce", mpi_allreduce},
  {"barrier", mpi_barrier},
  {"bcast", mpi_bcast},
  {"bytes_sent", mpi_bytes_sent},
  {"mute", mpi_mute},
  {"rank", mpi_rank},
  {"shared", mpi_shared},
  {"size", mpi_size},
  {"threads", mpi_threads},
  {NULL, NULL}
};

/* MPI starts here, when the first state opens hasme (on the thread that runs the
** script; worker states find it started). Launched by mpirun but unable to start
** MPI, hasme refuses to run rather than run the whole job on every rank. */
void lhs_open_mpi(lua_State *L) {
  hs_status s = hs_mpi_init();
  if (s != HS_OK) luaL_error(L, "cannot start MPI: %s", hs_mpi_error());
  luaL_newlib(L, mpi_funcs);
  lua_setfield(L, -2, "mpi");
}
