/*
** lhs.h: helpers shared by the Lua bindings (lhs_*.c) and nothing else: type names,
** the vector/matrix userdata, argument and table-field checkers, and the open
** functions that luaopen_hasme_core calls in order.
*/
#ifndef HS_LHS_H
#define HS_LHS_H

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

/* {====================================================================
** Vectors and matrices
**
** A vector or matrix is one userdata block: this header followed by the doubles
** (row-major for matrices), so the garbage collector frees it and no __gc is
** needed. A row view (m[i]) has no storage of its own: data points into the
** parent matrix, which user value 1 pins.
** ===================================================================== */

typedef struct lhs_vec {
  size_t n;
  double *data;     /* own, or the parent's storage for a view */
  double own[];
} lhs_vec;

typedef struct lhs_mat {
  size_t rows, cols;
  double *data;     /* own: rows*cols doubles, row-major */
  double own[];
} lhs_mat;

/* Push a new zero-filled vector / matrix. Raises on a size above HS_MAXSIZE. */
lhs_vec *lhs_newvec(lua_State *L, size_t n);
lhs_mat *lhs_newmat(lua_State *L, size_t rows, size_t cols);

/* Push a copy of n doubles as a new vector, or of a rows x cols block as a matrix. */
lhs_vec *lhs_pushvec(lua_State *L, const double *x, size_t n);
lhs_mat *lhs_pushmat(lua_State *L, const double *a, size_t rows, size_t cols);

/* The vector / matrix at idx, or NULL when the value is not one. */
lhs_vec *lhs_tovec(lua_State *L, int idx);
lhs_mat *lhs_tomat(lua_State *L, int idx);

/* Argument checkers. A plain Lua table ({1, 2} or {{1, 0}, {0, 1}}) is accepted and
** converted: the converted userdata replaces the table in its stack slot, so the
** returned pointer stays valid while that slot is alive. Errors name the argument. */
lhs_vec *lhs_checkvec(lua_State *L, int arg);
lhs_mat *lhs_checkmat(lua_State *L, int arg);

/* The same for the value at stack index idx when it is table field `field` of
** argument `arg`: errors read "bad argument #arg to 'f' (field 'H': ...)".
** idx must be absolute. field may be NULL for a positional argument. */
lhs_vec *lhs_checkvec_at(lua_State *L, int idx, int arg, const char *field);
lhs_mat *lhs_checkmat_at(lua_State *L, int idx, int arg, const char *field);

/* A vector of exactly n elements / a square n x n matrix (n = 0: any size). */
lhs_vec *lhs_checkvecn_at(lua_State *L, int idx, int arg, const char *field, size_t n);
lhs_mat *lhs_checksquare_at(lua_State *L, int idx, int arg, const char *field, size_t n);

/* }==================================================================== */

/* {====================================================================
** Argument helpers
** ===================================================================== */

/* A non-negative integer size no larger than HS_MAXSIZE. */
size_t lhs_checksize(lua_State *L, int arg);

/* Raise "bad argument #arg to 'f' (field 'name': <formatted message>)", or without
** the field part when field is NULL. Never returns. */
__attribute__((noreturn))
void lhs_fielderror(lua_State *L, int arg, const char *field, const char *fmt, ...);

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

/* Raise a Lua error for a core status, prefixed with what failed ("eig: ..."). */
int lhs_statuserror(lua_State *L, hs_status s, const char *what, const char *detail);

/* }==================================================================== */

/* Module parts, called in this order by luaopen_hasme_core with the module table on
** top of the stack; each adds its functions and metatables. */
void lhs_open_vec(lua_State *L);
void lhs_open_rng(lua_State *L);
void lhs_open_linalg(lua_State *L);

HS_EXPORT int luaopen_hasme_core(lua_State *L);

#endif
