/*
** lhs_aux.c: the argument and option helpers every binding shares (the bindings'
** lauxlib). It knows no hasme type and calls no other binding file.
*/
#include "lhs_aux.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "hs_util.h"

/* {====================================================================
** Argument helpers
** ===================================================================== */

size_t lhs_checksize(lua_State *L, int arg) {
  lua_Integer n = luaL_checkinteger(L, arg);
  luaL_argcheck(L, n >= 0, arg, "size must be non-negative");
  luaL_argcheck(L, (lua_Unsigned)n <= (lua_Unsigned)HS_MAXSIZE, arg, "size too large");
  return (size_t)n;
}

void lhs_fielderror(lua_State *L, int arg, const char *field, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  const char *msg = lua_pushvfstring(L, fmt, ap);
  va_end(ap);
  if (field != NULL) msg = lua_pushfstring(L, "field '%s': %s", field, msg);
  luaL_argerror(L, arg, msg);
  abort();  /* not reached: luaL_argerror raises */
}

/* Push the name under which the function of ar is found in a loaded module
** ("hasme.vec", "hasme.stats.ks_sf"), looking in hasme and its subtables; 0 (nothing
** pushed) when it is not found, as for a method. */
static int pushfuncname(lua_State *L, lua_Debug *ar) {
  lua_getinfo(L, "f", ar);
  int fn = lua_gettop(L);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  int found = 0;
  if (lua_getfield(L, -1, "hasme") == LUA_TTABLE) {
    int mod = lua_gettop(L);
    lua_pushnil(L);
    while (!found && lua_next(L, mod) != 0) {
      if (lua_type(L, -2) == LUA_TSTRING) {
        if (lua_rawequal(L, -1, fn))
          found = lua_pushfstring(L, "hasme.%s", lua_tostring(L, -2)) != NULL;
        else if (lua_type(L, -1) == LUA_TTABLE) {
          int sub = lua_gettop(L);
          lua_pushnil(L);
          while (!found && lua_next(L, sub) != 0) {
            if (lua_type(L, -2) == LUA_TSTRING && lua_rawequal(L, -1, fn)) {
              found = lua_pushfstring(L, "hasme.%s.%s", lua_tostring(L, sub - 1),
                                      lua_tostring(L, -2)) != NULL;
              lua_replace(L, fn);
              lua_settop(L, fn);
              return 1;
            }
            lua_pop(L, 1);
          }
        }
      }
      if (found) {
        lua_replace(L, fn);
        lua_settop(L, fn);
        return 1;
      }
      lua_pop(L, 1);
    }
  }
  lua_settop(L, fn - 1);
  return 0;
}

void lhs_error(lua_State *L, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  const char *msg = lua_pushvfstring(L, fmt, ap);
  va_end(ap);
  lua_Debug ar;
  if (lua_getstack(L, 0, &ar) && lua_getinfo(L, "n", &ar) && ar.name != NULL)
    lua_pushfstring(L, "%s: %s", ar.name, msg);
  else if (lua_getstack(L, 0, &ar) && pushfuncname(L, &ar))
    lua_pushfstring(L, "%s: %s", lua_tostring(L, -1), msg);
  lua_error(L);
  abort();   /* not reached: lua_error raises */
}

const char *lhs_typename(lua_State *L, int idx) {
  const char *name = luaL_typename(L, idx);
  if (luaL_getmetafield(L, idx, "__name") == LUA_TSTRING) name = lua_tostring(L, -1);
  else if (lua_type(L, -1) != LUA_TNIL) lua_pop(L, 1);
  return name;   /* a __name stays on the stack, so the pointer stays valid */
}

int lhs_getfield(lua_State *L, int t, const char *name) {
  return lua_getfield(L, t, name);
}

double lhs_optnumfield(lua_State *L, int t, int arg, const char *name, double def) {
  double v = def;
  int tp = lua_getfield(L, t, name);
  if (tp != LUA_TNIL) {
    int isnum;
    v = (double)lua_tonumberx(L, -1, &isnum);
    if (!isnum)
      lhs_fielderror(L, arg, name, "number expected, got %s", luaL_typename(L, -1));
  }
  lua_pop(L, 1);
  return v;
}

lua_Integer lhs_optintfield(lua_State *L, int t, int arg, const char *name,
                            lua_Integer def, lua_Integer lo, lua_Integer hi) {
  lua_Integer v = def;
  int tp = lua_getfield(L, t, name);
  if (tp != LUA_TNIL) {
    int isint;
    v = lua_tointegerx(L, -1, &isint);
    if (!isint) {
      if (lua_type(L, -1) == LUA_TNUMBER)
        lhs_fielderror(L, arg, name, "integer expected, got %s", lua_tostring(L, -1));
      lhs_fielderror(L, arg, name, "integer expected, got %s", luaL_typename(L, -1));
    }
    if (v < lo || v > hi) {
      if (hi == LUA_MAXINTEGER)
        lhs_fielderror(L, arg, name, "must be at least %I (got %I)", lo, v);
      lhs_fielderror(L, arg, name, "must be in [%I, %I] (got %I)", lo, hi, v);
    }
  }
  lua_pop(L, 1);
  return v;
}

int lhs_optboolfield(lua_State *L, int t, int arg, const char *name, int def) {
  int v = def;
  int tp = lua_getfield(L, t, name);
  if (tp != LUA_TNIL) {
    if (tp != LUA_TBOOLEAN)
      lhs_fielderror(L, arg, name, "boolean expected, got %s", luaL_typename(L, -1));
    v = lua_toboolean(L, -1);
  }
  lua_pop(L, 1);
  return v;
}

/* Join lst as "'a', 'b' or 'c'" on the stack, for error messages. */
static const char *pushchoices(lua_State *L, const char *const lst[]) {
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (size_t i = 0; lst[i] != NULL; i++) {
    if (i > 0) luaL_addstring(&b, lst[i + 1] == NULL ? " or " : ", ");
    luaL_addchar(&b, '\'');
    luaL_addstring(&b, lst[i]);
    luaL_addchar(&b, '\'');
  }
  luaL_pushresult(&b);
  return lua_tostring(L, -1);
}

int lhs_optchoicefield(lua_State *L, int t, int arg, const char *name,
                       const char *def, const char *const lst[]) {
  const char *s = def;
  int tp = lua_getfield(L, t, name);
  if (tp != LUA_TNIL) {
    if (tp != LUA_TSTRING)
      lhs_fielderror(L, arg, name, "string expected, got %s", luaL_typename(L, -1));
    s = lua_tostring(L, -1);
  }
  for (int i = 0; lst[i] != NULL; i++)
    if (strcmp(lst[i], s) == 0) {
      lua_pop(L, 1);
      return i;
    }
  lhs_fielderror(L, arg, name, "expected %s, got '%s'", pushchoices(L, lst), s);
}

void lhs_checkfields(lua_State *L, int t, int arg, const char *const known[]) {
  lua_pushnil(L);
  while (lua_next(L, t) != 0) {
    lua_pop(L, 1);  /* value */
    int ok = 0;
    if (lua_type(L, -1) == LUA_TSTRING) {
      const char *k = lua_tostring(L, -1);
      for (size_t i = 0; known[i] != NULL && !ok; i++) ok = strcmp(known[i], k) == 0;
      if (!ok)
        lhs_fielderror(L, arg, NULL, "unknown option '%s' (valid: %s)", k,
                       pushchoices(L, known));
    }
    else {
      const char *k = luaL_tolstring(L, -1, NULL);
      const char *valid = pushchoices(L, known);
      lhs_fielderror(L, arg, NULL, "unexpected key %s in options table (valid: %s)", k, valid);
    }
  }
}

int lhs_statuserror(lua_State *L, hs_status s, const char *what, const char *detail) {
  if (detail != NULL && detail[0] != '\0')
    return luaL_error(L, "%s: %s", what, detail);
  return luaL_error(L, "%s: %s", what, hs_strstatus(s));
}

/* }==================================================================== */

/* {====================================================================
** Types and scratch memory
** ===================================================================== */

void lhs_newclass(lua_State *L, const char *tname, const luaL_Reg *methods,
                  const luaL_Reg *meta) {
  lua_CFunction index = NULL;
  luaL_newmetatable(L, tname);
  int mt = lua_gettop(L);
  for (const luaL_Reg *r = meta; r != NULL && r->name != NULL; r++) {
    if (strcmp(r->name, "__index") == 0) index = r->func;
    else {
      lua_pushvalue(L, mt);
      lua_pushcclosure(L, r->func, 1);
      lua_setfield(L, mt, r->name);
    }
  }
  if (methods != NULL || index != NULL) {
    lua_newtable(L);
    if (methods != NULL) luaL_setfuncs(L, methods, 0);
    if (index != NULL) {
      lua_pushvalue(L, mt);
      lua_pushcclosure(L, index, 2);
    }
    lua_setfield(L, mt, "__index");
  }
  lua_pop(L, 1);
}

void *lhs_checkself(lua_State *L, int uv, const char *tname) {
  if (lua_getmetatable(L, 1) && lua_rawequal(L, -1, lua_upvalueindex(uv)))
    return lua_touserdata(L, 1);   /* the metatable stays: no lua_pop on this path */
  return luaL_checkudata(L, 1, tname);   /* raises: not a tname */
}

static int allocscratch(lua_State *L) {
  lua_newuserdatauv(L, (size_t)(uintptr_t)lua_touserdata(L, 1), 0);
  return 1;
}

/* A workspace the memory cannot hold is reported with its size and the function that
** asked for it, not as a bare "not enough memory"; small ones (under 64 MiB) are
** allocated directly, with no protected call. */
double *lhs_scratch(lua_State *L, size_t n) {
  size_t bytes = 0;
  if (!hs_mulsize(n > 0 ? n : 1, sizeof(double), &bytes))
    lhs_error(L, "cannot allocate a workspace of %I doubles (at most %I)", (lua_Integer)n,
              (lua_Integer)(HS_MAXSIZE / sizeof(double)));
  if (bytes < ((size_t)1 << 26)) return (double *)lua_newuserdatauv(L, bytes, 0);
  lua_pushcfunction(L, allocscratch);
  lua_pushlightuserdata(L, (void *)(uintptr_t)bytes);
  int st = lua_pcall(L, 1, 1, 0);
  if (st == LUA_ERRMEM)
    lhs_error(L, "cannot allocate a workspace of %I doubles (%I MiB): not enough memory",
              (lua_Integer)n, (lua_Integer)(bytes >> 20));
  if (st != LUA_OK) lua_error(L);
  return (double *)lua_touserdata(L, -1);
}

/* }==================================================================== */
