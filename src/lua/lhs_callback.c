/*
** lhs_callback.c: calling user Lua functions from the core without ever raising
** through it (errors become HS_ECALLBACK plus a stored message).
*/
#include "lhs_callback.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>

/* The owners are kept in a weak-valued array (an owner that is collected leaves a
** hole that a later owner fills). The array itself is a registry reference, found
** through the key anchorkey; both are integers so that the lookups on every call are
** array accesses (lua_rawgeti), not hashed ones. */
static const char anchorkey = 'a';

/* The registry index of the array of owners, creating it on first use. */
static int anchorsref(lua_State *L) {
  int ref;
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &anchorkey) == LUA_TNUMBER) {
    ref = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    return ref;
  }
  lua_pop(L, 1);
  lua_newtable(L);
  lua_createtable(L, 0, 1);
  lua_pushliteral(L, "v");
  lua_setfield(L, -2, "__mode");
  lua_setmetatable(L, -2);
  ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pushinteger(L, ref);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &anchorkey);
  return ref;
}

/* Note the userdata at owner as the holder of c's values (once per owner). */
static void anchor(lua_State *L, lhs_cb *c, int owner) {
  owner = lua_absindex(L, owner);
  void *p = lua_touserdata(L, owner);
  if (c->owner == p) return;
  c->owner = p;
  c->aref = anchorsref(L);
  lua_rawgeti(L, LUA_REGISTRYINDEX, c->aref);
  lua_pushvalue(L, owner);
  /* luaL_ref takes the border after the last entry: a free slot even with holes
  ** (never unref'd, so its free list stays empty and no slot is handed out twice). */
  c->slot = luaL_ref(L, -2);
  lua_pop(L, 1);
}

/* Push c's owner onto c->L; 0 (nothing pushed) when it is gone. */
static int pushowner(lhs_cb *c) {
  lua_State *L = c->L;
  if (c->owner == NULL) return 0;
  lua_rawgeti(L, LUA_REGISTRYINDEX, c->aref);
  if (lua_rawgeti(L, -1, c->slot) != LUA_TUSERDATA || lua_touserdata(L, -1) != c->owner) {
    lua_pop(L, 2);
    return 0;
  }
  lua_remove(L, -2);
  return 1;
}

void lhs_cb_init(lhs_cb *c, const char *name, int uv) {
  c->L = NULL;
  c->owner = NULL;
  c->aref = c->slot = 0;
  c->uv = uv;
  c->set = 0;
  c->haserr = 0;
  c->xv = NULL;
  c->name = name;
}

void lhs_cb_setdim(lua_State *L, lhs_cb *c, int owner, size_t dim) {
  owner = lua_absindex(L, owner);
  c->xv = lhs_newvec(L, dim);
  lua_setiuservalue(L, owner, c->uv + 1);
  anchor(L, c, owner);
}

void lhs_cb_set(lua_State *L, lhs_cb *c, int owner, int fn, size_t dim) {
  owner = lua_absindex(L, owner);
  lua_pushvalue(L, fn);
  lua_setiuservalue(L, owner, c->uv);
  lhs_cb_setdim(L, c, owner, dim);
  c->set = 1;
  c->L = L;
}

void lhs_cb_release(lua_State *L, lhs_cb *c, int owner) {
  if (owner != 0 && lua_type(L, owner) == LUA_TUSERDATA)
    for (int i = 0; i < LHS_CB_NUV; i++) {
      lua_pushnil(L);
      lua_setiuservalue(L, owner, c->uv + i);
    }
  c->set = 0;
  c->haserr = 0;
  c->xv = NULL;
}

void lhs_cb_bind(lua_State *L, lhs_cb *c) {
  c->L = L;
  if (c->haserr && pushowner(c)) {
    lua_pushnil(L);
    lua_setiuservalue(L, -2, c->uv + 2);
    lua_pop(L, 1);
  }
  c->haserr = 0;
}

/* Keep the string on the stack top as the failure message (pops it). */
static hs_status keepmsg(lhs_cb *c) {
  lua_State *L = c->L;
  if (pushowner(c)) {
    lua_insert(L, -2);
    lua_setiuservalue(L, -2, c->uv + 2);
    c->haserr = 1;
  }
  lua_pop(L, 1);
  return HS_ECALLBACK;
}

/* A message to format in protection: lua_pushvfstring allocates, and a memory error
** (under a memory limit) must not be raised through the core either. */
typedef struct fmtargs {
  const char *fmt;
  va_list ap;
} fmtargs;

static int pushformatted(lua_State *L) {
  fmtargs *f = (fmtargs *)lua_touserdata(L, 1);
  lua_pushvfstring(L, f->fmt, f->ap);
  return 1;
}

hs_status lhs_cb_fail(lhs_cb *c, const char *fmt, ...) {
  lua_State *L = c->L;
  fmtargs f;
  f.fmt = fmt;
  va_start(f.ap, fmt);
  lua_pushcfunction(L, pushformatted);
  lua_pushlightuserdata(L, &f);
  lua_pcall(L, 1, 1, 0);   /* the message, or the memory error's own message */
  va_end(f.ap);
  return keepmsg(c);
}

const char *lhs_cb_errmsg(lhs_cb *c) {
  if (c->L == NULL || !c->haserr || !pushowner(c)) return "";
  lua_getiuservalue(c->L, -1, c->uv + 2);
  const char *s = lua_tostring(c->L, -1);   /* stays valid: the owner holds it */
  lua_pop(c->L, 2);
  return s != NULL ? s : "";
}

/* luaL_tolstring of argument 1, called in protection: an error object's __tostring
** may itself raise, and nothing may raise through the core. */
static int tostr(lua_State *L) {
  luaL_tolstring(L, 1, NULL);
  return 1;
}

hs_status lhs_cb_call(lhs_cb *c, const double *x, int nres) {
  lua_State *L = c->L;
  if (!lua_checkstack(L, nres + 6)) return HS_ENOMEM;
  int base = lua_gettop(L);
  if (!c->set || c->owner == NULL) return lhs_cb_fail(c, "%s has been released", c->name);
  /* The anchors table and the owner stay below the results until lhs_cb_done: one
  ** lua_settop then, instead of removing them here (this runs once per callback). */
  if (lua_rawgeti(L, LUA_REGISTRYINDEX, c->aref) != LUA_TTABLE ||
      lua_rawgeti(L, base + 1, c->slot) != LUA_TUSERDATA) {
    lua_settop(L, base);
    return lhs_cb_fail(c, "%s has been released", c->name);
  }
  lua_getiuservalue(L, base + 2, c->uv);
  memcpy(c->xv->data, x, c->xv->n * sizeof(double));
  lua_getiuservalue(L, base + 2, c->uv + 1);
  if (lua_pcall(L, 1, nres, 0) != LUA_OK) {
    if (lua_type(L, -1) != LUA_TSTRING) {
      int e = lua_gettop(L);
      lua_pushcfunction(L, tostr);
      lua_pushvalue(L, e);
      if (lua_pcall(L, 1, 1, 0) != LUA_OK || lua_type(L, -1) != LUA_TSTRING) {
        const char *tname = luaL_typename(L, e);   /* a static string */
        lua_settop(L, base);
        return lhs_cb_fail(c, "(error object is a %s value)", tname);
      }
      lua_replace(L, e);
    }
    keepmsg(c);
    lua_settop(L, base);
    return HS_ECALLBACK;
  }
  c->top = base;
  return HS_OK;
}

void lhs_cb_done(lhs_cb *c) {
  lua_settop(c->L, c->top);
}

static hs_status badvalue(lhs_cb *c, int idx, const char *expected) {
  return lhs_cb_fail(c, "%s returned %s, expected %s", c->name, luaL_typename(c->L, idx),
                     expected);
}

static hs_status checkfinite(lhs_cb *c, const double *v, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!isfinite(v[i]))
      return lhs_cb_fail(c, "%s returned a non-finite value (%s) at index %I", c->name,
                         isnan(v[i]) ? "nan" : v[i] > 0 ? "inf" : "-inf", (lua_Integer)i + 1);
  return HS_OK;
}

/* Read a table of n numbers at idx into out. */
static hs_status readtable(lhs_cb *c, int idx, size_t n, double *out, lua_Integer row) {
  lua_State *L = c->L;
  lua_Integer len = (lua_Integer)lua_rawlen(L, idx);
  if (len != (lua_Integer)n) {
    if (row > 0)
      return lhs_cb_fail(c, "%s returned a row %I of length %I, expected %I", c->name, row,
                         len, (lua_Integer)n);
    return lhs_cb_fail(c, "%s returned a table of length %I, expected %I", c->name, len,
                       (lua_Integer)n);
  }
  for (size_t i = 0; i < n; i++) {
    int isnum;
    lua_rawgeti(L, idx, (lua_Integer)i + 1);
    out[i] = (double)lua_tonumberx(L, -1, &isnum);
    lua_pop(L, 1);
    if (!isnum)
      return lhs_cb_fail(c, "%s returned a non-number at index %I", c->name,
                         (lua_Integer)i + 1);
  }
  return HS_OK;
}

hs_status lhs_cb_readvec(lhs_cb *c, int idx, size_t n, double *out) {
  lua_State *L = c->L;
  hs_status st;
  idx = lua_absindex(L, idx);
  if (lua_type(L, idx) == LUA_TNUMBER && n == 1) out[0] = (double)lua_tonumber(L, idx);
  else if (lhs_tovec(L, idx) != NULL) {
    lhs_vec *v = lhs_tovec(L, idx);
    if (v->n != n)
      return lhs_cb_fail(c, "%s returned a vector of length %I, expected %I", c->name,
                         (lua_Integer)v->n, (lua_Integer)n);
    memcpy(out, v->data, n * sizeof(double));
  }
  else if (lua_type(L, idx) == LUA_TTABLE) {
    if ((st = readtable(c, idx, n, out, 0)) != HS_OK) return st;
  }
  else return badvalue(c, idx, n == 1 ? "a number or vector" : "a vector");
  return checkfinite(c, out, n);
}

hs_status lhs_cb_readmat(lhs_cb *c, int idx, size_t n, double *out) {
  lua_State *L = c->L;
  hs_status st;
  idx = lua_absindex(L, idx);
  lhs_mat *m = lhs_tomat(L, idx);
  if (lua_type(L, idx) == LUA_TNUMBER && n == 1) out[0] = (double)lua_tonumber(L, idx);
  else if (m != NULL) {
    if (m->rows != n || m->cols != n)
      return lhs_cb_fail(c, "%s returned a %Ix%I matrix, expected %Ix%I", c->name,
                         (lua_Integer)m->rows, (lua_Integer)m->cols, (lua_Integer)n,
                         (lua_Integer)n);
    memcpy(out, m->data, n * n * sizeof(double));
  }
  else if (lua_type(L, idx) == LUA_TTABLE) {
    lua_Integer rows = (lua_Integer)lua_rawlen(L, idx);
    if (rows != (lua_Integer)n)
      return lhs_cb_fail(c, "%s returned %I rows, expected %I", c->name, rows,
                         (lua_Integer)n);
    for (size_t i = 0; i < n; i++) {
      lua_rawgeti(L, idx, (lua_Integer)i + 1);
      lhs_vec *rv = lhs_tovec(L, -1);
      st = HS_OK;
      if (rv != NULL && rv->n == n) memcpy(out + i * n, rv->data, n * sizeof(double));
      else if (rv == NULL && lua_type(L, -1) == LUA_TTABLE)
        st = readtable(c, lua_gettop(L), n, out + i * n, (lua_Integer)i + 1);
      else st = lhs_cb_fail(c, "%s returned a row %I that is not a table of %I numbers",
                            c->name, (lua_Integer)i + 1, (lua_Integer)n);
      lua_pop(L, 1);
      if (st != HS_OK) return st;
    }
  }
  else return badvalue(c, idx, "a matrix");
  return checkfinite(c, out, n * n);
}
