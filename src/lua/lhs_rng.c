/*
** lhs_rng.c: hasme.Rng, a PCG64 generator as a Lua value (hasme.rng, hasme.pcg64):
** raw words, uniforms, normals, integers, jumps, and its state as hex strings.
*/
#include "lhs_init.h"
#include "lhs_vec.h"

#include <stdint.h>
#include <string.h>

#include "hs_normal.h"
#include "hs_pcg.h"

/* {====================================================================
** The userdata
** ===================================================================== */

/*
** hs_pcg holds 128-bit integers, which the compiler may load with instructions that
** need 16-byte alignment, while Lua promises userdata memory only the alignment of
** its own largest type (8 bytes on the usual ABIs). So the block is 15 bytes larger
** than the struct and the struct starts at the first 16-byte boundary inside it.
*/
static hs_pcg *aligned(void *p) {
  uintptr_t a = (uintptr_t)p;
  return (hs_pcg *)(void *)((a + 15u) & ~(uintptr_t)15u);
}

static hs_pcg *newrng(lua_State *L) {
  void *p = lua_newuserdatauv(L, sizeof(hs_pcg) + 15u, 0);
  luaL_setmetatable(L, LHS_RNG);
  return aligned(p);
}

static hs_pcg *checkrng(lua_State *L, int arg) {
  return aligned(luaL_checkudata(L, arg, LHS_RNG));
}

/* }==================================================================== */

/* {====================================================================
** Argument conversion
** ===================================================================== */

/* Push a short description of the value at idx for an error message: the number or
** the quoted string itself, or its type name. */
static const char *describe(lua_State *L, int idx) {
  switch (lua_type(L, idx)) {
    case LUA_TNUMBER: return luaL_tolstring(L, idx, NULL);
    case LUA_TSTRING: return lua_pushfstring(L, "'%s'", lua_tostring(L, idx));
    default: return lua_pushstring(L, luaL_typename(L, idx));
  }
}

/*
** A 64-bit unsigned argument (a seed, a stream, a number of jumps): a non-negative Lua
** integer, or a string of decimal or "0x" hex digits for values from 2^63 up to
** 2^64 - 1, which Lua integers cannot hold. Floats with an integral value count as
** integers, as everywhere in Lua.
*/
static uint64_t checku64(lua_State *L, int arg, const char *what) {
  if (lua_type(L, arg) == LUA_TSTRING) {
    hs_u128 v;
    if (hs_u128_parse(lua_tostring(L, arg), &v) && (v >> 64) == 0) return (uint64_t)v;
  }
  else if (lua_type(L, arg) == LUA_TNUMBER) {
    int isint;
    lua_Integer v = lua_tointegerx(L, arg, &isint);
    if (isint && v >= 0) return (uint64_t)v;
  }
  lhs_fielderror(L, arg, NULL, "%s must be a non-negative integer (got %s)", what,
                 describe(L, arg));
}

static uint64_t optu64(lua_State *L, int arg, const char *what, uint64_t def) {
  return lua_isnoneornil(L, arg) ? def : checku64(L, arg, what);
}

/*
** A 128-bit field of a state table (state, inc): a string parsed by hs_u128_parse
** ("0x" hex or decimal), or a non-negative integer.
*/
static hs_u128 u128field(lua_State *L, int t, int arg, const char *name) {
  hs_u128 v = 0;
  int tp = lua_getfield(L, t, name);
  if (tp == LUA_TSTRING) {
    if (!hs_u128_parse(lua_tostring(L, -1), &v))
      lhs_fielderror(L, arg, name, "not a 128-bit hex or decimal value (got '%s')",
                     lua_tostring(L, -1));
  }
  else if (tp == LUA_TNUMBER) {
    int isint;
    lua_Integer i = lua_tointegerx(L, -1, &isint);
    if (!isint || i < 0)
      lhs_fielderror(L, arg, name, "must be a non-negative integer (got %s)",
                     describe(L, -1));
    v = (hs_u128)(uint64_t)i;
  }
  else
    lhs_fielderror(L, arg, name, "hex string expected, got %s", luaL_typename(L, -1));
  lua_pop(L, 1);
  return v;
}

/* Read {state = ..., inc = ...} at argument arg into r, rejecting unknown keys and
** an even increment (which would not be a full-period PCG stream). */
static void checkstate(lua_State *L, int arg, hs_pcg *r) {
  static const char *const known[] = {"state", "inc", NULL};
  luaL_checktype(L, arg, LUA_TTABLE);
  lhs_checkfields(L, arg, arg, known);
  hs_u128 state = u128field(L, arg, arg, "state");
  hs_u128 inc = u128field(L, arg, arg, "inc");
  if ((inc & 1u) == 0) {
    char buf[35];
    hs_u128_format(inc, buf);
    lhs_fielderror(L, arg, "inc", "must be odd (got %s)", buf);
  }
  hs_pcg_set(r, state, inc);
}

/*
** An advance: a Lua integer (negative steps back), or a string of decimal or "0x" hex
** digits, optionally after a minus sign, for deltas beyond 64 bits. The result is
** taken mod 2^128 as the generator's period is 2^128.
*/
static hs_u128 checkdelta(lua_State *L, int arg) {
  if (lua_type(L, arg) == LUA_TSTRING) {
    const char *s = lua_tostring(L, arg);
    int neg = s[0] == '-';
    hs_u128 v;
    if (hs_u128_parse(s + neg, &v)) return neg ? (hs_u128)0 - v : v;
  }
  else if (lua_type(L, arg) == LUA_TNUMBER) {
    int isint;
    lua_Integer v = lua_tointegerx(L, arg, &isint);
    __extension__ typedef __int128 s128;
    if (isint) return (hs_u128)(s128)v;   /* sign-extended: -1 is 2^128 - 1 */
  }
  lhs_fielderror(L, arg, NULL, "delta must be an integer or a decimal or hex string (got %s)",
                 describe(L, arg));
}

/* The optional mu, sigma of normal and normals, at arguments arg and arg + 1. */
static void checkmusigma(lua_State *L, int arg, double *mu, double *sigma) {
  *mu = (double)luaL_optnumber(L, arg, 0.0);
  *sigma = (double)luaL_optnumber(L, arg + 1, 1.0);
  if (!(*sigma >= 0.0))
    lhs_fielderror(L, arg + 1, NULL, "sigma must be non-negative (got %s)",
                   describe(L, arg + 1));
}

static void pushu128(lua_State *L, hs_u128 v) {
  char buf[35];
  hs_u128_format(v, buf);
  lua_pushstring(L, buf);
}

/* }==================================================================== */

/* {====================================================================
** Constructors
** ===================================================================== */

/* hasme.rng(seed [, stream]): np.random.PCG64(seed).jumped(stream). */
static int rng_new(lua_State *L) {
  uint64_t seed = checku64(L, 1, "seed");
  uint64_t stream = optu64(L, 2, "stream", 0);
  hs_pcg *r = newrng(L);
  hs_pcg_seed(r, seed, stream);
  return 1;
}

/* hasme.pcg64{state = "0x...", inc = "0x..."}: a generator at a raw state. */
static int rng_pcg64(lua_State *L) {
  hs_pcg tmp;
  checkstate(L, 1, &tmp);
  *newrng(L) = tmp;
  return 1;
}

/* }==================================================================== */

/* {====================================================================
** Methods
** ===================================================================== */

/* g:next64(): the next raw word as a Lua integer (two's complement, so that
** string.format("%016x", w) is NumPy's random_raw() in hex). */
static int rng_next64(lua_State *L) {
  hs_pcg *r = checkrng(L, 1);
  lua_pushinteger(L, (lua_Integer)hs_pcg_next(r));
  return 1;
}

/* g:uniform(): a double in [0, 1), NumPy's Generator.random(). */
static int rng_uniform(lua_State *L) {
  hs_pcg *r = checkrng(L, 1);
  lua_pushnumber(L, (lua_Number)hs_pcg_uniform(r));
  return 1;
}

/* g:uniforms(n): a hasme.Vec of n uniforms. */
static int rng_uniforms(lua_State *L) {
  hs_pcg *r = checkrng(L, 1);
  size_t n = lhs_checksize(L, 2);
  lhs_vec *v = lhs_newvec(L, n);
  hs_pcg_uniform_fill(r, v->data, n);
  return 1;
}

/* g:normal([mu, sigma]): one normal variate, mu + sigma z. */
static int rng_normal(lua_State *L) {
  hs_pcg *r = checkrng(L, 1);
  double mu, sigma;
  checkmusigma(L, 2, &mu, &sigma);
  lua_pushnumber(L, (lua_Number)(mu + sigma * hs_normal(r)));
  return 1;
}

/* g:normals(n [, mu, sigma]): a hasme.Vec of n normal variates, the same values as n
** calls of g:normal(mu, sigma). */
static int rng_normals(lua_State *L) {
  hs_pcg *r = checkrng(L, 1);
  size_t n = lhs_checksize(L, 2);
  double mu, sigma;
  checkmusigma(L, 3, &mu, &sigma);
  lhs_vec *v = lhs_newvec(L, n);
  hs_normal_fill(r, v->data, n);
  if (mu != 0.0 || sigma != 1.0)
    for (size_t i = 0; i < n; i++) v->data[i] = mu + sigma * v->data[i];
  return 1;
}

/* g:integer(n): an integer uniform on 1..n, without bias. */
static int rng_integer(lua_State *L) {
  hs_pcg *r = checkrng(L, 1);
  int isint;
  lua_Integer n = lua_tointegerx(L, 2, &isint);
  if (!isint || n < 1)
    lhs_fielderror(L, 2, NULL, "n must be a positive integer (got %s)", describe(L, 2));
  lua_pushinteger(L, (lua_Integer)hs_pcg_bounded(r, (uint64_t)n) + 1);
  return 1;
}

/* g:advance(delta): as if delta draws had been made (negative: step back); O(log). */
static int rng_advance(lua_State *L) {
  hs_pcg *r = checkrng(L, 1);
  hs_pcg_advance(r, checkdelta(L, 2));
  lua_settop(L, 1);
  return 1;
}

/* g:jumped([jumps]): a new generator jumps * 0x9e37...c835 draws ahead, as NumPy's
** jumped(); hasme.rng(seed, s):jumped(k) is hasme.rng(seed, s + k). */
static int rng_jumped(lua_State *L) {
  hs_pcg *r = checkrng(L, 1);
  uint64_t jumps = optu64(L, 2, "jumps", 1);
  hs_pcg *q = newrng(L);
  *q = *r;
  hs_pcg_advance(q, HS_PCG_JUMP * (hs_u128)jumps);
  return 1;
}

/* g:state(): {state = "0x...", inc = "0x..."}, for hasme.pcg64 and g:setstate. */
static int rng_state(lua_State *L) {
  hs_pcg *r = checkrng(L, 1);
  lua_createtable(L, 0, 2);
  pushu128(L, r->state);
  lua_setfield(L, -2, "state");
  pushu128(L, r->inc);
  lua_setfield(L, -2, "inc");
  return 1;
}

/* g:setstate(t): restore a state saved by g:state(); returns g. */
static int rng_setstate(lua_State *L) {
  hs_pcg *r = checkrng(L, 1);
  hs_pcg tmp;
  checkstate(L, 2, &tmp);
  *r = tmp;
  lua_settop(L, 1);
  return 1;
}

/* g:clone(): an independent copy that continues with the same draws. */
static int rng_clone(lua_State *L) {
  hs_pcg *r = checkrng(L, 1);
  hs_pcg *q = newrng(L);
  *q = *r;
  return 1;
}

static int rng_tostring(lua_State *L) {
  hs_pcg *r = checkrng(L, 1);
  char st[35], inc[35];
  hs_u128_format(r->state, st);
  hs_u128_format(r->inc, inc);
  lua_pushfstring(L, "%s(state=%s, inc=%s)", LHS_RNG, st, inc);
  return 1;
}

/* Two generators are equal when they will produce the same draws forever. */
static int rng_eq(lua_State *L) {
  hs_pcg *a = checkrng(L, 1), *b = checkrng(L, 2);
  lua_pushboolean(L, a->state == b->state && a->inc == b->inc);
  return 1;
}

/* }==================================================================== */

static const luaL_Reg rng_methods[] = {
  {"advance", rng_advance},
  {"clone", rng_clone},
  {"integer", rng_integer},
  {"jumped", rng_jumped},
  {"next64", rng_next64},
  {"normal", rng_normal},
  {"normals", rng_normals},
  {"setstate", rng_setstate},
  {"state", rng_state},
  {"uniform", rng_uniform},
  {"uniforms", rng_uniforms},
  {NULL, NULL}
};

static const luaL_Reg rng_meta[] = {
  {"__eq", rng_eq},
  {"__tostring", rng_tostring},
  {NULL, NULL}
};

static const luaL_Reg rng_funcs[] = {
  {"pcg64", rng_pcg64},
  {"rng", rng_new},
  {NULL, NULL}
};

void lhs_open_rng(lua_State *L) {
  lhs_newclass(L, LHS_RNG, rng_methods, rng_meta);
  luaL_setfuncs(L, rng_funcs, 0);
}
