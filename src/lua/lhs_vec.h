/*
** lhs_vec.h: the vector and matrix userdata (hasme.Vec, hasme.Mat) as the other
** bindings see them: constructors, accessors and argument checkers
*/
#ifndef HS_LHS_VEC_H
#define HS_LHS_VEC_H

#include "lhs_aux.h"

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

#endif
