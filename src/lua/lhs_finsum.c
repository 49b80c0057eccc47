/*
** lhs_finsum.c: hasme.least_squares and hasme.logistic, the finite-sum objectives of
** a data matrix (hs_finsum.h); they are hasme.Objective values like the others.
*/
#include "lhs_init.h"
#include "lhs_objective.h"
#include "lhs_vec.h"

#include <math.h>

#include "hs_finsum.h"

/* The fields A (n x p, finite), y (n, finite) and decay (>= 0, finite) of the options
** table at 1, checked in this order; A and y stay on the stack. labels: y must hold
** only -1 and 1. */
static void checkdata(lua_State *L, int labels, lhs_mat **A, lhs_vec **y, double *decay) {
  static const char *const known[] = {"A", "y", "decay", NULL};
  luaL_checktype(L, 1, LUA_TTABLE);
  lhs_checkfields(L, 1, 1, known);
  if (lua_getfield(L, 1, "A") == LUA_TNIL) lhs_fielderror(L, 1, "A", "matrix expected, got nil");
  lhs_mat *a = lhs_checkmat_at(L, lua_gettop(L), 1, "A");
  if (a->rows < 1 || a->cols < 1) lhs_fielderror(L, 1, "A", "empty data matrix");
  for (size_t i = 0; i < a->rows * a->cols; i++)
    if (!isfinite(a->data[i]))
      lhs_fielderror(L, 1, "A", "non-finite entry at [%I][%I]", (lua_Integer)(i / a->cols) + 1,
                     (lua_Integer)(i % a->cols) + 1);
  if (lua_getfield(L, 1, "y") == LUA_TNIL) lhs_fielderror(L, 1, "y", "vector expected, got nil");
  lhs_vec *v = lhs_checkvec_at(L, lua_gettop(L), 1, "y");
  if (v->n != a->rows)
    lhs_fielderror(L, 1, "y", "has %I entries but A has %I rows", (lua_Integer)v->n,
                   (lua_Integer)a->rows);
  for (size_t i = 0; i < v->n; i++) {
    if (!isfinite(v->data[i]))
      lhs_fielderror(L, 1, "y", "non-finite entry at index %I", (lua_Integer)i + 1);
    if (labels && v->data[i] != 1.0 && v->data[i] != -1.0)
      lhs_fielderror(L, 1, "y", "labels must be -1 or 1 (got %f at index %I)",
                     (lua_Number)v->data[i], (lua_Integer)i + 1);
  }
  double dc = lhs_optnumfield(L, 1, 1, "decay", 0.0);
  if (!(dc >= 0.0) || !isfinite(dc))
    lhs_fielderror(L, 1, "decay", "must be finite and non-negative (got %f)", (lua_Number)dc);
  *A = a;
  *y = v;
  *decay = dc;
}

/* hasme.least_squares{A = m (n x p), y = v (n), decay = 0}:
** f = (1/n) sum_i [ (a_i'x - y_i)^2 / 2 + decay/2 |x|^2 ]. */
static int finsum_least_squares(lua_State *L) {
  lhs_mat *A;
  lhs_vec *y;
  double decay;
  checkdata(L, 0, &A, &y, &decay);
  return lhs_objective_push(L, hs_least_squares_alloc(A->rows, A->cols, A->data, y->data, decay));
}

/* hasme.logistic{A = m (n x p), y = v (n, entries -1 or 1), decay = 0}:
** f = (1/n) sum_i [ log(1 + exp(-y_i a_i'x)) + decay/2 |x|^2 ]. */
static int finsum_logistic(lua_State *L) {
  lhs_mat *A;
  lhs_vec *y;
  double decay;
  checkdata(L, 1, &A, &y, &decay);
  return lhs_objective_push(L, hs_logistic_alloc(A->rows, A->cols, A->data, y->data, decay));
}

static const luaL_Reg finsum_funcs[] = {
  {"least_squares", finsum_least_squares},
  {"logistic", finsum_logistic},
  {NULL, NULL}
};

void lhs_open_finsum(lua_State *L) {
  luaL_setfuncs(L, finsum_funcs, 0);
}
