/*
** lhs_aux.h: the helper library of the Lua bindings (in the manner of lauxlib):
** metatable names, size, option-field and status checks shared by every binding
*/
#ifndef HS_LHS_AUX_H
#define HS_LHS_AUX_H

#include <lua.h>
#include <lauxlib.h>
#include "hasme.h"

/* Metatable names (registered with luaL_newmetatable, so type errors read
** "hasme.Vec expected, got table"). */
#define LHS_VEC  "hasme.Vec"
#define LHS_MAT  "hasme.Mat"
#define LHS_RNG  "hasme.Rng"
#define LHS_OBJ  "hasme.Objective"
#define LHS_NOISE "hasme.Noise"
#define LHS_ESCAPE "hasme.Escape"
#define LHS_RESULT "hasme.Result"

/* Registry field holding luaopen_hasme_core, so that worker states can be given
** hasme without a link-time call back into the opener registry. */
#define LHS_OPENER "hasme.core.open"

/* {====================================================================
** Argument helpers
** ===================================================================== */

/* A non-negative integer size no larger than HS_MAXSIZE. */
size_t lhs_checksize(lua_State *L, int arg);

/* Raise "bad argument #arg to 'f' (field 'name': <formatted message>)", or without
** the field part when field is NULL. Never returns. */
__attribute__((noreturn))
void lhs_fielderror(lua_State *L, int arg, const char *field, const char *fmt, ...);

/* The type of the value at idx for messages: its metatable's __name (hasme.Vec)
** when it has one, else the basic type name. */
const char *lhs_typename(lua_State *L, int idx);

/* Push t[name] (t an absolute index) and return its type. */
int lhs_getfield(lua_State *L, int t, const char *name);

/* Optional fields of an options table at absolute index t, checked by type and range.
** Each pops what it pushed. */
double lhs_optnumfield(lua_State *L, int t, int arg, const char *name, double def);
lua_Integer lhs_optintfield(lua_State *L, int t, int arg, const char *name,
                            lua_Integer def, lua_Integer lo, lua_Integer hi);
int lhs_optboolfield(lua_State *L, int t, int arg, const char *name, int def);
/* An option given as a string out of lst (NULL-terminated); returns its index. */
int lhs_optchoicefield(lua_State *L, int t, int arg, const char *name,
                       const char *def, const char *const lst[]);

/* Reject any key of the options table at t that is not in known (NULL-terminated):
** a misspelt option must not be silently ignored. */
void lhs_checkfields(lua_State *L, int t, int arg, const char *const known[]);

/* Raise "name: <formatted message>", name being the function running (as
** luaL_argerror finds it), for errors that belong to no single argument, such as a
** size the memory cannot hold. Never returns. */
__attribute__((noreturn))
void lhs_error(lua_State *L, const char *fmt, ...);

/* Raise a Lua error for a core status, prefixed with what failed ("eig: ..."). */
int lhs_statuserror(lua_State *L, hs_status s, const char *what, const char *detail);

/* }==================================================================== */

/* {====================================================================
** Types and scratch memory
** ===================================================================== */

/* Register the metatable tname (luaL_newmetatable, so __name is set) with the
** metamethods of meta and the methods of methods (either may be NULL). Each
** metamethod is a closure whose upvalue 1 is the metatable (for lhs_checkself). The
** methods become __index; when meta itself has an "__index" function (a type that is
** also indexed by number), that function is installed as a closure whose upvalue 1
** is the method table and upvalue 2 the metatable. Leaves the stack as it was. */
void lhs_newclass(lua_State *L, const char *tname, const luaL_Reg *methods,
                  const luaL_Reg *meta);

/* Argument 1 of a metamethod installed by lhs_newclass, checked to be a tname: the
** metatable is compared with upvalue uv (1, or 2 in __index), which is much cheaper
** than luaL_checkudata on paths as hot as v[i]. Raises like luaL_checkudata. It
** leaves one value (the metatable) on the stack: callers return results from the
** top, so nothing needs popping. */
void *lhs_checkself(lua_State *L, int uv, const char *tname);

/* Scratch memory for n doubles (at least one), owned by a userdata pushed on the
** stack: an error that unwinds the stack reclaims it. Raises, naming the count, when
** n doubles exceed HS_MAXSIZE bytes. */
double *lhs_scratch(lua_State *L, size_t n);

/* }==================================================================== */

#endif
