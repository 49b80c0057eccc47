/*
** lhs_linalg.c: hasme.eig, hasme.chol, hasme.matfun, hasme.phi1 and hasme.phi2:
** argument checks and conversions around hs_linalg and hs_phi. Scratch memory is
** Lua userdata, so an error raised half-way (a bad matrix, a failing user
** function inside matfun) leaks nothing.
*/
#include "lhs_init.h"
#include "lhs_vec.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hs_lapack.h"
#include "hs_linalg.h"
#include "hs_phi.h"

/* A matrix passed where a symmetric one is required may differ from its transpose
** by rounding: |A_ij - A_ji| up to SYM_TOL * max |A_ij| is accepted, and the
** binding works on the symmetric part (A + A') / 2. */
#define SYM_TOL 1e-12

/* Eigenvalues in [-SQRT_TOL * max |lambda|, 0) are rounding noise of a positive
** semidefinite matrix: matfun(m, "sqrt") maps them to 0 instead of failing. */
#define SQRT_TOL 1e-12

/* {====================================================================
** Helpers
** ===================================================================== */

/*
** Push the shortest "%.{15,16,17}g" form of x that reads back as x, so messages
** show 0.1 as "0.1" and still distinguish 1 from 1 + 2^-52; "nan", "inf", "-inf"
** whatever the C library would print for them.
*/
static const char *pushnum(lua_State *L, double x) {
  if (isnan(x)) return lua_pushliteral(L, "nan");
  if (isinf(x)) return x > 0 ? lua_pushliteral(L, "inf") : lua_pushliteral(L, "-inf");
  char buf[40];
  for (int prec = 15; prec <= 17; prec++) {
    snprintf(buf, sizeof buf, "%.*g", prec, x);
    if (strtod(buf, NULL) == x) break;
  }
  return lua_pushstring(L, buf);
}

/*
** Argument arg as a finite, symmetric square matrix (a hasme.Mat or a table of
** rows; the checkers report type, shape and ragged rows). Pushes a scratch copy
** holding its symmetric part and returns it; *n receives the order.
*/
static double *checksym(lua_State *L, int arg, size_t *n) {
  lhs_mat *m = lhs_checksquare_at(L, arg, arg, NULL, 0);
  size_t k = m->rows, count = k * k;
  size_t bad = hs_firstnonfinite(count, m->data);
  if (bad < count)
    lhs_fielderror(L, arg, NULL, "matrix entry [%I][%I] is not finite (got %s)",
                   (lua_Integer)(bad / k + 1), (lua_Integer)(bad % k + 1),
                   pushnum(L, m->data[bad]));
  size_t i = 0, j = 0;
  double diff = 0.0;
  if (hs_asymmetry_at(k, m->data, &i, &j, &diff) > SYM_TOL)
    lhs_fielderror(L, arg, NULL,
                   "matrix is not symmetric: |A[i][j] - A[j][i]| = %s at [%I][%I], "
                   "more than 1e-12 * max|A|", pushnum(L, diff), (lua_Integer)(i + 1),
                   (lua_Integer)(j + 1));
  double *s = lhs_scratch(L, count);
  /* a + (b - a) / 2 rather than (a + b) / 2: no overflow near DBL_MAX, and an
  ** exactly symmetric input is copied exactly. */
  for (i = 0; i < k; i++) {
    s[i * k + i] = m->data[i * k + i];
    for (j = 0; j < i; j++) {
      double a = m->data[i * k + j], b = m->data[j * k + i];
      s[i * k + j] = s[j * k + i] = a + 0.5 * (b - a);
    }
  }
  *n = k;
  return s;
}

/* Raise for a failed eigendecomposition (not seen for finite symmetric input). */
static int eigerror(lua_State *L, hs_status s) {
  if (s == HS_ELAPACK)
    return luaL_error(L, "eig: %s", hs_lapack_error()[0] != '\0' ? hs_lapack_error()
                                                                 : "LAPACK dsyevd failed");
  return lhs_statuserror(L, s, "eig", NULL);
}

/* Push w (vector) and V (matrix) for the symmetric matrix a of order n. */
static void pusheig(lua_State *L, size_t n, const double *a, lhs_vec **w, lhs_mat **V) {
  *w = lhs_newvec(L, n);
  *V = lhs_newmat(L, n, n);
  double *work = lhs_scratch(L, hs_eig_worksize(n));
  hs_status s = hs_eig(n, a, (*w)->data, (*V)->data, work);
  if (s != HS_OK) eigerror(L, s);
  lua_pop(L, 1);  /* the workspace */
}

/* }==================================================================== */

/* {====================================================================
** Matrix functions
** ===================================================================== */

/* hasme.eig(m) -> values (hasme.Vec, ascending), vectors (hasme.Mat, in columns). */
static int linalg_eig(lua_State *L) {
  size_t n = 0;
  const double *a = checksym(L, 1, &n);
  lhs_vec *w;
  lhs_mat *V;
  pusheig(L, n, a, &w, &V);
  return 2;
}

/* hasme.chol(m) -> L, lower triangular with L L' = m. */
static int linalg_chol(lua_State *L) {
  size_t n = 0, col = 0;
  const double *a = checksym(L, 1, &n);
  lhs_mat *l = lhs_newmat(L, n, n);
  if (hs_chol(n, a, l->data, &col) != HS_OK)
    lhs_fielderror(L, 1, NULL, "matrix is not positive definite: pivot %I is %s",
                   (lua_Integer)(col + 1), pushnum(L, l->data[col * n + col]));
  return 1;
}

/* The functions matfun knows by name, in the order of hs_eigfn, and how each
** states its domain in an error message. */
static const char *const fnames[] = {"exp", "log", "phi1", "phi2", "sqrt", NULL};
static const char *const fdomains[] = {NULL, "> 0", "< 1", "< 1", ">= 0"};
#define F_LUA (-1)

/* Argument 2 of matfun: a function (F_LUA) or the hs_eigfn of a name in fnames. */
static int checkfn(lua_State *L) {
  if (lua_type(L, 2) == LUA_TFUNCTION) return F_LUA;
  if (lua_type(L, 2) != LUA_TSTRING) luaL_typeerror(L, 2, "function or function name");
  const char *s = lua_tostring(L, 2);
  for (int i = 0; fnames[i] != NULL; i++)
    if (strcmp(s, fnames[i]) == 0) return i;
  return luaL_argerror(L, 2, lua_pushfstring(L, "unknown function '%s' (expected 'exp', "
                                                "'log', 'phi1', 'phi2' or 'sqrt')", s));
}

/* A named function through hs_eigmap; a domain error names function and eigenvalue:
** "bad argument #1 to 'matfun' (log needs eigenvalues > 0, got eigenvalue -0.5)". */
static void apply_builtin(lua_State *L, int fn, size_t n, double *w) {
  double bad = 0.0;
  if (hs_eigmap((hs_eigfn)fn, n, w, SQRT_TOL, &bad) == HS_OK) return;
  if (fn == HS_FN_EXP)
    lhs_fielderror(L, 1, NULL, "exp overflows at eigenvalue %s", pushnum(L, bad));
  lhs_fielderror(L, 1, NULL, "%s needs eigenvalues %s, got eigenvalue %s", fnames[fn],
                 fdomains[fn], pushnum(L, bad));
}

/*
** The user's function, called once per eigenvalue in ascending order. Its errors
** propagate unchanged; a result that is not a finite number is an error naming the
** eigenvalue, since it would otherwise turn the whole matrix into NaN.
*/
static void apply_lua(lua_State *L, size_t n, double *w) {
  for (size_t k = 0; k < n; k++) {
    lua_pushvalue(L, 2);
    lua_pushnumber(L, (lua_Number)w[k]);
    lua_call(L, 1, 1);
    int isnum = 0;
    double y = (double)lua_tonumberx(L, -1, &isnum);
    if (!isnum || !isfinite(y)) {
      const char *got = isnum ? pushnum(L, y) : luaL_typename(L, -1);
      lhs_fielderror(L, 2, NULL, "function returned %s for eigenvalue %s "
                     "(a finite number is required)", got, pushnum(L, w[k]));
    }
    w[k] = y;
    lua_pop(L, 1);
  }
}

/* hasme.matfun(m, fn) -> V diag(fn(lambda)) V' for symmetric m. */
static int linalg_matfun(lua_State *L) {
  int fn = checkfn(L);
  size_t n = 0;
  const double *a = checksym(L, 1, &n);
  lhs_vec *w;
  lhs_mat *V;
  pusheig(L, n, a, &w, &V);
  if (fn == F_LUA) apply_lua(L, n, w->data);
  else apply_builtin(L, fn, n, w->data);
  lhs_mat *out = lhs_newmat(L, n, n);
  hs_sym_from_eig(n, V->data, w->data, out->data);
  return 1;
}

/* }==================================================================== */

/* {====================================================================
** Scalar functions
** ===================================================================== */

/* hasme.phi1(u) = -log(1 - u) / u for u < 1 (1 at u = 0). */
static int linalg_phi1(lua_State *L) {
  double u = (double)luaL_checknumber(L, 1);
  if (!(u < 1.0))
    lhs_fielderror(L, 1, NULL, "phi1 is defined for u < 1, got %s", pushnum(L, u));
  lua_pushnumber(L, (lua_Number)hs_phi1(u));
  return 1;
}

/* hasme.phi2(z) = -2 log(1 - z) / (z (2 - z)) for z < 1 (1 at z = 0). */
static int linalg_phi2(lua_State *L) {
  double z = (double)luaL_checknumber(L, 1);
  if (!(z < 1.0))
    lhs_fielderror(L, 1, NULL, "phi2 is defined for z < 1, got %s", pushnum(L, z));
  lua_pushnumber(L, (lua_Number)hs_phi2(z));
  return 1;
}

/* }==================================================================== */

static const luaL_Reg linalg_funcs[] = {
  {"chol", linalg_chol},
  {"eig", linalg_eig},
  {"matfun", linalg_matfun},
  {"phi1", linalg_phi1},
  {"phi2", linalg_phi2},
  {NULL, NULL}
};

void lhs_open_linalg(lua_State *L) {
  luaL_setfuncs(L, linalg_funcs, 0);
}
