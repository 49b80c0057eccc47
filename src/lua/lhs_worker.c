/*
** lhs_worker.c: interpreter states for worker threads, and the copying of Lua values
** (callbacks with their upvalues, tables, vectors) from the user's state into them.
**
** A lua_State is not thread safe, so a Lua objective or predicate cannot be called
** from two threads. To run such callbacks on every core, each extra worker gets its
** own state with the standard libraries and hasme loaded, and a copy of the
** callback: the function's bytecode (lua_dump / load) with each upvalue copied in
** turn. Library values (math.sin, the hasme module, _ENV) are not copied but looked
** up again by name in the new state; upvalues shared between closures stay shared
** (lua_upvaluejoin); tables keep their sharing and cycles. The user's own globals
** are copied too; one that cannot be (a coroutine, an open file) is replaced by an
** error raised only if a callback actually reads it.
*/
#include "lhs_worker.h"
#include "lhs_alloc.h"

#include <lualib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XFER_DEPTH 200   /* nesting of tables/functions copied before giving up */

/* Record why a copy failed (the first reason is kept) and return 0. */
static int failx(lhs_xfer *x, const char *fmt, const char *arg) {
  if (x->why[0] == '\0') snprintf(x->why, sizeof x->why, fmt, arg);
  return 0;
}

/* Map every library value of `from` to its name: package.loaded[m] -> {m} and
** package.loaded[m][k] -> {m, k} for string keys k (functions and tables only). */
static void buildlibnames(lua_State *F) {
  lua_newtable(F);
  int names = lua_gettop(F);
  luaL_getsubtable(F, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  int loaded = lua_gettop(F);
  lua_pushnil(F);
  while (lua_next(F, loaded) != 0) {
    if (lua_type(F, -2) == LUA_TSTRING) {
      int mod = lua_gettop(F);
      lua_pushvalue(F, mod);
      lua_createtable(F, 1, 0);
      lua_pushvalue(F, mod - 1);
      lua_rawseti(F, -2, 1);
      lua_rawset(F, names);
      if (lua_type(F, mod) == LUA_TTABLE) {
        lua_pushnil(F);
        while (lua_next(F, mod) != 0) {
          int tv = lua_type(F, -1);
          if (lua_type(F, -2) == LUA_TSTRING && (tv == LUA_TFUNCTION || tv == LUA_TTABLE)) {
            lua_pushvalue(F, -1);
            lua_rawget(F, names);
            int known = !lua_isnil(F, -1);
            lua_pop(F, 1);
            if (!known) {
              lua_pushvalue(F, -1);
              lua_createtable(F, 2, 0);
              lua_pushvalue(F, mod - 1);
              lua_rawseti(F, -2, 1);
              lua_pushvalue(F, -4);
              lua_rawseti(F, -2, 2);
              lua_rawset(F, names);
            }
          }
          lua_pop(F, 1);
        }
      }
    }
    lua_pop(F, 1);
  }
  lua_pop(F, 1);  /* loaded */
  (void)names;
}

void lhs_xfer_begin(lhs_xfer *x, lua_State *from, lua_State *to) {
  x->from = from;
  x->to = to;
  x->why[0] = '\0';
  x->nslots = 0;
  lua_newtable(from);                  /* source value -> slot */
  x->cache_from = lua_gettop(from);
  lua_newtable(from);                  /* upvalue id -> {slot, index} */
  x->upvals = lua_gettop(from);
  buildlibnames(from);
  x->libnames = lua_gettop(from);
  lua_newtable(to);                    /* slot -> copied value */
  x->cache_to = lua_gettop(to);
}

void lhs_xfer_end(lhs_xfer *x) {
  lua_settop(x->from, x->cache_from - 1);
  lua_settop(x->to, x->cache_to - 1);
}

/* Remember that the value at idx of `from` was copied to the top of `to`. */
static int remember(lhs_xfer *x, int idx) {
  int slot = ++x->nslots;
  lua_pushvalue(x->from, idx);
  lua_pushinteger(x->from, slot);
  lua_rawset(x->from, x->cache_from);
  lua_pushvalue(x->to, -1);
  lua_rawseti(x->to, x->cache_to, slot);
  return slot;
}

/* Push onto `to` the library value named by the table at the top of `from`
** ({module} or {module, field}), requiring the module there if needed. Leaves
** from's stack as it found it. */
static int resolvelib(lhs_xfer *x) {
  lua_State *F = x->from, *T = x->to;
  lua_rawgeti(F, -1, 1);
  const char *mod = lua_tostring(F, -1);
  lua_rawgeti(F, -2, 2);
  const char *field = lua_tostring(F, -1);
  luaL_getsubtable(T, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  if (lua_getfield(T, -1, mod) == LUA_TNIL) {
    lua_pop(T, 1);
    lua_getglobal(T, "require");
    lua_pushstring(T, mod);
    if (lua_pcall(T, 1, 1, 0) != LUA_OK) {
      lua_pop(T, 2);
      int r = failx(x, "module '%s' cannot be loaded in a worker state", mod);
      lua_pop(F, 2);
      return r;
    }
  }
  lua_remove(T, -2);
  if (field != NULL) {
    lua_getfield(T, -1, field);
    lua_remove(T, -2);
    if (lua_isnil(T, -1)) {
      lua_pop(T, 1);
      char name[160];
      snprintf(name, sizeof name, "%s.%s", mod, field);
      lua_pop(F, 2);
      return failx(x, "library value %s is missing in a worker state", name);
    }
  }
  lua_pop(F, 2);
  return 1;
}

static int xfer(lhs_xfer *x, int idx, int depth);

/* lua_dump's writer. The buffer starts inside the first call, so that its stack
** slot sits above the function being dumped, as luaL_Buffer requires. */
typedef struct dumpstate {
  luaL_Buffer b;
  int init;
} dumpstate;

static int chunkwriter(lua_State *L, const void *p, size_t sz, void *ud) {
  dumpstate *d = ud;
  if (!d->init) {
    d->init = 1;
    luaL_buffinit(L, &d->b);
  }
  luaL_addlstring(&d->b, (const char *)p, sz);
  return 0;
}

/* Copy the Lua function at idx: its bytecode, then its upvalues. */
static int xferfunction(lhs_xfer *x, int idx, int depth) {
  lua_State *F = x->from, *T = x->to;
  if (lua_iscfunction(F, idx))
    return failx(x, "%s", "a C function that is not part of a loaded library cannot be "
                          "copied to a worker state");
  dumpstate ds;
  ds.init = 0;
  lua_pushvalue(F, idx);   /* lua_dump dumps the function on top */
  lua_dump(F, chunkwriter, &ds, 0);
  if (!ds.init) lua_pushliteral(F, "");
  else luaL_pushresult(&ds.b);
  size_t len;
  const char *code = lua_tolstring(F, -1, &len);
  lua_Debug ar;
  lua_pushvalue(F, idx);
  lua_getinfo(F, ">S", &ar);
  int st = luaL_loadbufferx(T, code, len, ar.source, "b");
  lua_pop(F, 2);   /* code, function */
  if (st != LUA_OK) {
    lua_pop(T, 1);
    return failx(x, "bytecode of a callback could not be reloaded (%s)", "load");
  }
  int fn = lua_gettop(T);
  int slot = remember(x, idx);
  for (int i = 1;; i++) {
    const char *name = lua_getupvalue(F, idx, i);
    if (name == NULL) break;
    /* An upvalue shared with a closure copied earlier is joined, not copied. */
    void *id = lua_upvalueid(F, idx, i);
    lua_pushlightuserdata(F, id);
    if (lua_rawget(F, x->upvals) == LUA_TTABLE) {
      lua_rawgeti(F, -1, 1);
      lua_rawgeti(F, -2, 2);
      int oslot = (int)lua_tointeger(F, -2), oi = (int)lua_tointeger(F, -1);
      lua_pop(F, 4);
      lua_rawgeti(T, x->cache_to, oslot);
      lua_upvaluejoin(T, fn, i, lua_gettop(T), oi);
      lua_pop(T, 1);
      continue;
    }
    lua_pop(F, 1);
    lua_pushlightuserdata(F, id);
    lua_createtable(F, 2, 0);
    lua_pushinteger(F, slot);
    lua_rawseti(F, -2, 1);
    lua_pushinteger(F, i);
    lua_rawseti(F, -2, 2);
    lua_rawset(F, x->upvals);
    if (!xfer(x, lua_gettop(F), depth + 1)) {
      char buf[2 * sizeof x->why];
      snprintf(buf, sizeof buf, "upvalue '%s': %s", name, x->why);
      size_t cut = strlen(buf);   /* cut to fit, on purpose */
      if (cut >= sizeof x->why) cut = sizeof x->why - 1;
      memcpy(x->why, buf, cut);
      x->why[cut] = 0;
      lua_pop(F, 1);
      lua_settop(T, fn - 1);
      return 0;
    }
    lua_setupvalue(T, fn, i);
    lua_pop(F, 1);
  }
  return 1;
}

static int xfertable(lhs_xfer *x, int idx, int depth) {
  lua_State *F = x->from, *T = x->to;
  lua_newtable(T);
  int t = lua_gettop(T);
  remember(x, idx);
  lua_pushnil(F);
  while (lua_next(F, idx) != 0) {
    if (!xfer(x, lua_gettop(F) - 1, depth + 1)) { lua_pop(F, 2); lua_settop(T, t - 1); return 0; }
    if (!xfer(x, lua_gettop(F), depth + 1)) { lua_pop(F, 2); lua_settop(T, t - 1); return 0; }
    lua_rawset(T, t);
    lua_pop(F, 1);
  }
  if (lua_getmetatable(F, idx)) {
    int ok = xfer(x, lua_gettop(F), depth + 1);
    lua_pop(F, 1);
    if (!ok) { lua_settop(T, t - 1); return 0; }
    lua_setmetatable(T, t);
  }
  return 1;
}

#define XFER_FIELD "__hasme_xfer"   /* metatable field: the type's lhs_xfer_type */

void lhs_xfer_settype(lua_State *L, const lhs_xfer_type *t) {
  lua_pushlightuserdata(L, (void *)(uintptr_t)t);
  lua_setfield(L, -2, XFER_FIELD);
}

/* Copy a userdata through the copier its type registered; 0 when it has none. */
static int copyudata(lhs_xfer *x, int idx) {
  lua_State *F = x->from;
  const lhs_xfer_type *t = NULL;
  if (luaL_getmetafield(F, idx, XFER_FIELD) != LUA_TNIL) {
    t = (const lhs_xfer_type *)lua_touserdata(F, -1);
    lua_pop(F, 1);
  }
  return t != NULL && t->copy(x, idx);
}

static int xfer(lhs_xfer *x, int idx, int depth) {
  lua_State *F = x->from, *T = x->to;
  idx = lua_absindex(F, idx);
  if (depth > XFER_DEPTH) return failx(x, "%s", "callback data nested too deeply to copy");
  if (!lua_checkstack(T, 8) || !lua_checkstack(F, 8))
    return failx(x, "%s", "stack overflow while copying callback data");
  switch (lua_type(F, idx)) {
    case LUA_TNIL: lua_pushnil(T); return 1;
    case LUA_TBOOLEAN: lua_pushboolean(T, lua_toboolean(F, idx)); return 1;
    case LUA_TNUMBER:
      if (lua_isinteger(F, idx)) lua_pushinteger(T, lua_tointeger(F, idx));
      else lua_pushnumber(T, lua_tonumber(F, idx));
      return 1;
    case LUA_TSTRING: {
      size_t n;
      const char *s = lua_tolstring(F, idx, &n);
      lua_pushlstring(T, s, n);
      return 1;
    }
    default: break;
  }
  lua_pushvalue(F, idx);
  if (lua_rawget(F, x->cache_from) == LUA_TNUMBER) {
    lua_rawgeti(T, x->cache_to, lua_tointeger(F, -1));
    lua_pop(F, 1);
    return 1;
  }
  lua_pop(F, 1);
  lua_pushvalue(F, idx);
  if (lua_rawget(F, x->libnames) == LUA_TTABLE) {
    /* A library value is looked up by name in the worker state; one that the worker
    ** does not have (a field the user added to a library table, a module that cannot
    ** be loaded there) is copied like any other value instead. */
    int ok = resolvelib(x);
    lua_pop(F, 1);   /* the name table */
    if (ok) {
      remember(x, idx);
      return 1;
    }
    x->why[0] = '\0';
  }
  else lua_pop(F, 1);
  switch (lua_type(F, idx)) {
    case LUA_TTABLE: return xfertable(x, idx, depth);
    case LUA_TFUNCTION: return xferfunction(x, idx, depth);
    case LUA_TUSERDATA: {
      lhs_vec *v = lhs_tovec(F, idx);
      lhs_mat *m = lhs_tomat(F, idx);
      if (v != NULL) lhs_pushvec(T, v->data, v->n);
      else if (m != NULL) lhs_pushmat(T, m->data, m->rows, m->cols);
      else if (!copyudata(x, idx))
        return failx(x, "%s cannot be copied to a worker state", luaL_typename(F, idx));
      remember(x, idx);
      return 1;
    }
    default:
      return failx(x, "a %s cannot be copied to a worker state", luaL_typename(F, idx));
  }
}

int lhs_xfer_value(lhs_xfer *x, int idx) {
  return xfer(x, lua_absindex(x->from, idx), 0);
}

/* Copy the user's globals (those a fresh state does not have) into the worker's
** globals. A global that cannot be copied becomes an error raised on first use. */
static void xferglobals(lhs_xfer *x) {
  lua_State *F = x->from, *T = x->to;
  lua_pushglobaltable(F);
  int gf = lua_gettop(F);
  lua_pushglobaltable(T);
  int gt = lua_gettop(T);
  lua_newtable(T);   /* name -> reason, for globals that could not be copied */
  int poison = gt + 1;
  int npoison = 0;
  lua_pushnil(F);
  while (lua_next(F, gf) != 0) {
    if (lua_type(F, -2) == LUA_TSTRING) {
      const char *k = lua_tostring(F, -2);
      if (lua_getfield(T, gt, k) == LUA_TNIL) {
        lua_pop(T, 1);
        x->why[0] = '\0';
        if (xfer(x, lua_gettop(F), 0)) lua_setfield(T, gt, k);
        else {
          lua_pushstring(T, x->why);
          lua_setfield(T, poison, k);
          npoison++;
        }
      }
      else lua_pop(T, 1);
    }
    lua_pop(F, 1);
  }
  x->why[0] = '\0';
  if (npoison > 0) {
    static const char guard[] =
        "local poison = ...\n"
        "return function(_, k)\n"
        "  local why = poison[k]\n"
        "  if why then\n"
        "    error(\"global '\" .. tostring(k) .. \"' is not available in worker threads (\""
        "          .. why .. \"); run with threads = 1\", 2)\n"
        "  end\n"
        "end\n";
    luaL_loadstring(T, guard);
    lua_pushvalue(T, poison);
    lua_call(T, 1, 1);
    lua_newtable(T);
    lua_insert(T, -2);
    lua_setfield(T, -2, "__index");
    lua_setmetatable(T, gt);
  }
  lua_settop(T, gt - 1);
  lua_settop(F, gf - 1);
}

/* Copy package.path and package.cpath of F into T. */
static void copypaths(lua_State *F, lua_State *T) {
  static const char *const keys[] = {"path", "cpath"};
  int tf = lua_getglobal(F, "package");
  int tt = lua_getglobal(T, "package");
  if (tf == LUA_TTABLE && tt == LUA_TTABLE)
    for (int i = 0; i < 2; i++) {
      if (lua_getfield(F, -1, keys[i]) == LUA_TSTRING) {
        lua_pushstring(T, lua_tostring(F, -1));
        lua_setfield(T, -2, keys[i]);
      }
      lua_pop(F, 1);
    }
  lua_pop(T, 1);
  lua_pop(F, 1);
}

lua_State *lhs_worker_new(lua_State *F, char *why, size_t n) {
  lua_State *T = lhs_newstate();
  if (T == NULL) {
    snprintf(why, n, "not enough memory for a worker state");
    return NULL;
  }
  luaL_openlibs(T);
  /* The opener is found in from's registry (luaopen_hasme_core leaves it there), so
  ** this file does not call back into the registry of binding parts. */
  lua_getfield(F, LUA_REGISTRYINDEX, LHS_OPENER);
  lua_CFunction open = lua_tocfunction(F, -1);
  lua_pop(F, 1);
  if (open == NULL) {
    snprintf(why, n, "hasme.core is not loaded in the calling state");
    lhs_closestate(T);
    return NULL;
  }
  luaL_getsubtable(T, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(T, open);
  lua_setfield(T, -2, "hasme.core");
  lua_pop(T, 1);
  copypaths(F, T);
  lua_getglobal(T, "require");
  lua_pushliteral(T, "hasme");
  if (lua_pcall(T, 1, 1, 0) != LUA_OK) {
    snprintf(why, n, "hasme cannot be loaded in a worker state: %s", lua_tostring(T, -1));
    lhs_closestate(T);
    return NULL;
  }
  lua_pop(T, 1);
  return T;
}

void lhs_worker_globals(lhs_xfer *x) {
  xferglobals(x);
}

int lhs_cb_replicate(lhs_xfer *x, int srcowner, const lhs_cb *src, int dstowner,
                     lhs_cb *dst, size_t dim) {
  if (!src->set) return 1;
  dstowner = lua_absindex(x->to, dstowner);
  lua_getiuservalue(x->from, srcowner, src->uv);
  int ok = lhs_xfer_value(x, -1);
  lua_pop(x->from, 1);
  if (!ok) return 0;
  lhs_cb_set(x->to, dst, dstowner, lua_gettop(x->to), dim);
  lua_pop(x->to, 1);
  return 1;
}
