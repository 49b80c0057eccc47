/*
** lhs_objective.c: hasme.Objective: the built-in objectives (quadratic, wells, saddle,
** rosenbrock, nn), objectives written in Lua (hasme.objective), and the derivative
** utilities hasme.hessian, hasme.gradcheck and hasme.hvp.
*/
#include "lhs_objective.h"
#include "lhs_callback.h"
#include "lhs_init.h"
#include "lhs_vec.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hs_fd.h"
#include "hs_linalg.h"
#include "hs_nn.h"
#include "hs_objective.h"

/* A hasme.Objective. Built-ins own a core objective (freed by __gc); a Lua objective
** lives in `own` with its callbacks in `f`, `g`, `h`. */
typedef struct lobj {
  hs_objective *o;
  hs_objective own;
  lhs_cb f, g, h;
  lhs_cb *last;          /* the callback that failed last */
  double hrel1, hrel2;   /* finite-difference steps when a derivative is missing */
  int borrowed;          /* o belongs to another userdata (a worker state's copy) */
} lobj;

/* {====================================================================
** Lua objectives: the core sees a type whose functions call back into Lua
** ===================================================================== */

static lobj *luaparams(const hs_objective *o) { return (lobj *)o->params; }

/* Note which callback failed, for luaobj_errmsg. */
static hs_status noted(lobj *p, lhs_cb *c, hs_status st) {
  if (st == HS_ECALLBACK) p->last = c;
  return st;
}

static hs_status luaobj_value(const hs_objective *o, const double *x, double *f,
                              double *work) {
  (void)work;
  lobj *p = luaparams(o);
  if (!p->f.set)
    return noted(p, &p->g, lhs_cb_fail(&p->g, "objective has no f (value)"));
  hs_status st = lhs_cb_call(&p->f, x, 1);
  if (st != HS_OK) return noted(p, &p->f, st);
  if (lua_type(p->f.L, -1) != LUA_TNUMBER)
    st = lhs_cb_fail(&p->f, "f returned %s, expected a number", luaL_typename(p->f.L, -1));
  else st = lhs_cb_readvec(&p->f, -1, 1, f);
  lhs_cb_done(&p->f);
  return noted(p, &p->f, st);
}

static hs_status luaobj_grad(const hs_objective *o, const double *x, double *g,
                             double *work) {
  lobj *p = luaparams(o);
  if (!p->g.set) return hs_fd_grad(o, x, p->hrel1, g, work);
  hs_status st = lhs_cb_call(&p->g, x, 1);
  if (st != HS_OK) return noted(p, &p->g, st);
  st = lhs_cb_readvec(&p->g, -1, o->dim, g);
  lhs_cb_done(&p->g);
  return noted(p, &p->g, st);
}

static hs_status luaobj_hess(const hs_objective *o, const double *x, double *H,
                             double *work) {
  lobj *p = luaparams(o);
  if (!p->h.set) {
    if (!p->g.set) return hs_fd_hess_values(o, x, p->hrel2, H, work);
    return hs_fd_hess(o, x, p->hrel1, H, work);
  }
  hs_status st = lhs_cb_call(&p->h, x, 1);
  if (st != HS_OK) return noted(p, &p->h, st);
  st = lhs_cb_readmat(&p->h, -1, o->dim, H);
  lhs_cb_done(&p->h);
  return noted(p, &p->h, st);
}

static const char *luaobj_errmsg(const hs_objective *o) {
  lobj *p = luaparams(o);
  return p->last != NULL ? lhs_cb_errmsg(p->last) : "";
}

static const hs_objective_type luaobj_type = {
  .name = "lua",
  .value = luaobj_value,
  .grad = luaobj_grad,
  .hess = luaobj_hess,
  .errmsg = luaobj_errmsg,
};

/* Forget earlier failures so that errmsg reports the one about to happen. */
static void clearerrors(lua_State *L, lobj *p) {
  p->last = NULL;
  lhs_cb_bind(L, &p->f);
  lhs_cb_bind(L, &p->g);
  lhs_cb_bind(L, &p->h);
}

/* }==================================================================== */

/* {====================================================================
** The userdata
** ===================================================================== */

/* A new, empty objective (created before anything is acquired, so that an error at
** any later point leaves a consistent userdata for the collector). Its user values
** hold the Lua values of the three callbacks. */
static lobj *newlobj(lua_State *L) {
  lobj *p = (lobj *)lua_newuserdatauv(L, sizeof(lobj), 3 * LHS_CB_NUV);
  memset(p, 0, sizeof *p);
  lhs_cb_init(&p->f, "f", 1);
  lhs_cb_init(&p->g, "grad", 1 + LHS_CB_NUV);
  lhs_cb_init(&p->h, "hess", 1 + 2 * LHS_CB_NUV);
  p->hrel1 = HS_FD_H1;
  p->hrel2 = HS_FD_H2;
  luaL_setmetatable(L, LHS_OBJ);
  return p;
}

/* Make p a Lua objective of dimension dim: the core sees luaobj_type, whose
** functions call p's callbacks (set by the caller). */
static hs_objective *initluaobj(lobj *p, size_t dim) {
  p->own.type = &luaobj_type;
  p->own.dim = dim;
  p->own.worksize = 6 * dim;   /* two nested levels of finite differences */
  p->own.thread_safe = 0;
  p->own.params = p;
  p->o = &p->own;
  return p->o;
}

static lobj *checklobj(lua_State *L, int idx) {
  return (lobj *)luaL_checkudata(L, idx, LHS_OBJ);
}

hs_objective *lhs_checkobjective(lua_State *L, int idx, int arg, const char *field) {
  lobj *p = (lobj *)luaL_testudata(L, idx, LHS_OBJ);
  if (p == NULL)
    lhs_fielderror(L, arg, field, "hasme.Objective expected, got %s", lhs_typename(L, idx));
  if (p->o == NULL) lhs_fielderror(L, arg, field, "objective has been released (closed)");
  if (p->o == &p->own) clearerrors(L, p);
  return p->o;
}

/* The one closer of __gc and __close: idempotent, so a direct call of either
** leaves a released objective that every method reports as such. */
static int obj_close(lua_State *L) {
  lobj *p = checklobj(L, 1);
  if (p->o != NULL && p->o != &p->own && !p->borrowed) hs_objective_free(p->o);
  p->o = NULL;
  lhs_cb_release(L, &p->f, 1);
  lhs_cb_release(L, &p->g, 1);
  lhs_cb_release(L, &p->h, 1);
  return 0;
}

/* Raise for a failed evaluation: the callback's own message for Lua objectives. */
static int evalerror(lua_State *L, hs_objective *o, hs_status st, const char *what) {
  if (st == HS_ECALLBACK && o->type->errmsg != NULL)
    return luaL_error(L, "%s: %s", what, o->type->errmsg(o));
  return lhs_statuserror(L, st, what, NULL);
}

static hs_objective *checkself(lua_State *L) {
  lobj *p = checklobj(L, 1);
  luaL_argcheck(L, p->o != NULL, 1, "objective has been released (closed)");
  if (p->o == &p->own) clearerrors(L, p);
  return p->o;
}

static int obj_value(lua_State *L) {
  hs_objective *o = checkself(L);
  lhs_vec *x = lhs_checkvecn_at(L, 2, 2, NULL, o->dim);
  double *w = lhs_scratch(L, hs_objective_worksize(o)), f;
  hs_status st = hs_objective_value(o, x->data, &f, w);
  if (st != HS_OK) return evalerror(L, o, st, "value");
  lua_pushnumber(L, (lua_Number)f);
  return 1;
}

static int obj_grad(lua_State *L) {
  hs_objective *o = checkself(L);
  lhs_vec *x = lhs_checkvecn_at(L, 2, 2, NULL, o->dim);
  double *w = lhs_scratch(L, hs_objective_worksize(o));
  lhs_vec *g = lhs_newvec(L, o->dim);
  hs_status st = hs_objective_grad(o, x->data, g->data, w);
  if (st != HS_OK) return evalerror(L, o, st, "grad");
  return 1;
}

static int obj_hess(lua_State *L) {
  hs_objective *o = checkself(L);
  lhs_vec *x = lhs_checkvecn_at(L, 2, 2, NULL, o->dim);
  double *w = lhs_scratch(L, hs_objective_worksize(o));
  lhs_mat *H = lhs_newmat(L, o->dim, o->dim);
  hs_status st = hs_objective_hess(o, x->data, H->data, w);
  if (st != HS_OK) return evalerror(L, o, st, "hess");
  return 1;
}

/* obj:sample_grad(x, i): gradient of the i-th term of a finite-sum objective. */
static int obj_sample_grad(lua_State *L) {
  hs_objective *o = checkself(L);
  lhs_vec *x = lhs_checkvecn_at(L, 2, 2, NULL, o->dim);
  luaL_argcheck(L, o->type->sample_grad != NULL, 1, "not a finite-sum objective");
  lua_Integer i = luaL_checkinteger(L, 3);
  luaL_argcheck(L, i >= 1 && (lua_Unsigned)i <= (lua_Unsigned)o->nsamples, 3,
                lua_pushfstring(L, "sample index must be in [1, %I]", (lua_Integer)o->nsamples));
  double *w = lhs_scratch(L, hs_objective_worksize(o));
  lhs_vec *g = lhs_newvec(L, o->dim);
  hs_status st = o->type->sample_grad(o, x->data, (size_t)(i - 1), g->data, w);
  if (st != HS_OK) return evalerror(L, o, st, "sample_grad");
  return 1;
}

static int obj_dim(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)checkself(L)->dim);
  return 1;
}

static int obj_nsamples(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)checkself(L)->nsamples);
  return 1;
}

static int obj_kind(lua_State *L) {
  lua_pushstring(L, checkself(L)->type->name);
  return 1;
}

static int obj_tostring(lua_State *L) {
  lobj *p = checklobj(L, 1);
  if (p->o == NULL) lua_pushliteral(L, "hasme.Objective(released)");
  else if (p->o->nsamples > 0)
    lua_pushfstring(L, "hasme.Objective(%s, dim=%I, samples=%I)", p->o->type->name,
                    (lua_Integer)p->o->dim, (lua_Integer)p->o->nsamples);
  else
    lua_pushfstring(L, "hasme.Objective(%s, dim=%I)", p->o->type->name,
                    (lua_Integer)p->o->dim);
  return 1;
}

/* }==================================================================== */

/* {====================================================================
** Constructors
** ===================================================================== */

/* Raise unless the square matrix m is symmetric to rounding. */
static void checksymmetric(lua_State *L, const lhs_mat *m, int arg, const char *field) {
  size_t n = m->rows;
  double amax = 0.0;
  for (size_t i = 0; i < n * n; i++) amax = fmax(amax, fabs(m->data[i]));
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < i; j++) {
      double a = m->data[i * n + j], b = m->data[j * n + i];
      if (!isfinite(a) || !isfinite(b))
        lhs_fielderror(L, arg, field, "non-finite entry at [%I][%I]", (lua_Integer)i + 1,
                       (lua_Integer)j + 1);
      if (fabs(a - b) > 1e-12 * amax)
        lhs_fielderror(L, arg, field, "matrix is not symmetric: [%I][%I] = %f but [%I][%I] = %f",
                       (lua_Integer)i + 1, (lua_Integer)j + 1, (lua_Number)a,
                       (lua_Integer)j + 1, (lua_Integer)i + 1, (lua_Number)b);
    }
}

static void checkfinitevec(lua_State *L, const lhs_vec *v, int arg, const char *field) {
  for (size_t i = 0; i < v->n; i++)
    if (!isfinite(v->data[i]))
      lhs_fielderror(L, arg, field, "non-finite entry at index %I", (lua_Integer)i + 1);
}

/* Field `name` of the options table at 1 as a vector of length n (0: any), or NULL
** when absent. The converted value stays on the stack. */
static lhs_vec *optvecfield(lua_State *L, const char *name, size_t n) {
  if (lua_getfield(L, 1, name) == LUA_TNIL) return NULL;
  lhs_vec *v = lhs_checkvecn_at(L, lua_gettop(L), 1, name, n);
  checkfinitevec(L, v, 1, name);
  return v;
}

static lhs_mat *optsymfield(lua_State *L, const char *name, size_t n) {
  if (lua_getfield(L, 1, name) == LUA_TNIL) return NULL;
  lhs_mat *m = lhs_checksquare_at(L, lua_gettop(L), 1, name, n);
  checksymmetric(L, m, 1, name);
  return m;
}

static int newlobj_p(lua_State *L) {
  newlobj(L);
  return 1;
}

/* o was allocated before its userdata (it is the constructors' argument), so no
** __gc owns it yet: the userdata is made in protected mode, and a memory error frees
** o before it propagates. */
static int pushbuiltin(lua_State *L, hs_objective *o) {
  if (o == NULL) lhs_error(L, "not enough memory for the objective");
  lua_pushcfunction(L, newlobj_p);
  if (lua_pcall(L, 0, 1, 0) != LUA_OK) {
    hs_objective_free(o);
    lua_error(L);
  }
  ((lobj *)lua_touserdata(L, -1))->o = o;
  return 1;
}

int lhs_objective_push(lua_State *L, hs_objective *o) { return pushbuiltin(L, o); }

/* hasme.quadratic{H = m, b = v}: f(x) = 1/2 x'Hx + b'x. */
static int obj_quadratic(lua_State *L) {
  static const char *const known[] = {"H", "b", NULL};
  luaL_checktype(L, 1, LUA_TTABLE);
  lhs_checkfields(L, 1, 1, known);
  lhs_mat *H = optsymfield(L, "H", 0);
  if (H == NULL) lhs_fielderror(L, 1, "H", "matrix expected, got nil");
  luaL_argcheck(L, H->rows > 0, 1, "field 'H': empty matrix");
  lhs_vec *b = optvecfield(L, "b", H->rows);
  return pushbuiltin(L, hs_quadratic_alloc(H->rows, H->data, b != NULL ? b->data : NULL));
}

/* The dimension of wells/saddle-like objectives: `dim`, or the size of a matrix or
** vector field, all consistent. */
static size_t dimfield(lua_State *L, size_t inferred) {
  lua_Integer d = lhs_optintfield(L, 1, 1, "dim", 0, 1, (lua_Integer)HS_MAXSIZE);
  if (inferred > 0 && d > 0 && (size_t)d != inferred)
    lhs_fielderror(L, 1, "dim", "is %I but the other fields have dimension %I", d,
                   (lua_Integer)inferred);
  if (d == 0 && inferred == 0) lhs_fielderror(L, 1, "dim", "positive integer expected, got nil");
  return d > 0 ? (size_t)d : inferred;
}

/* hasme.wells{dim = d, Q = m, tilt = v}. */
static int obj_wells(lua_State *L) {
  static const char *const known[] = {"dim", "Q", "tilt", NULL};
  luaL_checktype(L, 1, LUA_TTABLE);
  lhs_checkfields(L, 1, 1, known);
  lhs_mat *Q = optsymfield(L, "Q", 0);
  if (Q != NULL && Q->rows == 0) lhs_fielderror(L, 1, "Q", "empty matrix");
  lhs_vec *tilt = optvecfield(L, "tilt", Q != NULL ? Q->rows : 0);
  if (tilt != NULL && tilt->n == 0) lhs_fielderror(L, 1, "tilt", "empty vector");
  size_t d = dimfield(L, Q != NULL ? Q->rows : tilt != NULL ? tilt->n : 0);
  return pushbuiltin(L, hs_wells_alloc(d, Q != NULL ? Q->data : NULL,
                                       tilt != NULL ? tilt->data : NULL));
}

/* hasme.saddle{lambda = v, quartic = c}. */
static int obj_saddle(lua_State *L) {
  static const char *const known[] = {"lambda", "quartic", NULL};
  luaL_checktype(L, 1, LUA_TTABLE);
  lhs_checkfields(L, 1, 1, known);
  lhs_vec *lam = optvecfield(L, "lambda", 0);
  if (lam == NULL) lhs_fielderror(L, 1, "lambda", "vector expected, got nil");
  luaL_argcheck(L, lam->n > 0, 1, "field 'lambda': empty vector");
  double c = lhs_optnumfield(L, 1, 1, "quartic", 1.0);
  if (!(c >= 0.0) || !isfinite(c))
    lhs_fielderror(L, 1, "quartic", "must be finite and non-negative (got %f)", (lua_Number)c);
  return pushbuiltin(L, hs_saddle_alloc(lam->n, lam->data, c));
}

/* hasme.rosenbrock{dim = 2, a = 1, b = 100}. */
static int obj_rosenbrock(lua_State *L) {
  static const char *const known[] = {"dim", "a", "b", NULL};
  lua_settop(L, 1);
  if (lua_isnil(L, 1)) {
    lua_newtable(L);
    lua_replace(L, 1);
  }
  luaL_checktype(L, 1, LUA_TTABLE);
  lhs_checkfields(L, 1, 1, known);
  lua_Integer d = lhs_optintfield(L, 1, 1, "dim", 2, 2, (lua_Integer)HS_MAXSIZE);
  double a = lhs_optnumfield(L, 1, 1, "a", 1.0), b = lhs_optnumfield(L, 1, 1, "b", 100.0);
  if (!isfinite(a)) lhs_fielderror(L, 1, "a", "must be finite");
  if (!isfinite(b)) lhs_fielderror(L, 1, "b", "must be finite");
  return pushbuiltin(L, hs_rosenbrock_alloc((size_t)d, a, b));
}

/* hasme.nn{X = m (n x p), y = v (n), hidden = h, decay = 0}. */
static int obj_nn(lua_State *L) {
  static const char *const known[] = {"X", "y", "hidden", "decay", NULL};
  luaL_checktype(L, 1, LUA_TTABLE);
  lhs_checkfields(L, 1, 1, known);
  if (lua_getfield(L, 1, "X") == LUA_TNIL) lhs_fielderror(L, 1, "X", "matrix expected, got nil");
  lhs_mat *X = lhs_checkmat_at(L, lua_gettop(L), 1, "X");
  if (X->rows < 1 || X->cols < 1) lhs_fielderror(L, 1, "X", "empty data matrix");
  for (size_t i = 0; i < X->rows * X->cols; i++)
    if (!isfinite(X->data[i]))
      lhs_fielderror(L, 1, "X", "non-finite entry at [%I][%I]", (lua_Integer)(i / X->cols) + 1,
                     (lua_Integer)(i % X->cols) + 1);
  lhs_vec *y = optvecfield(L, "y", 0);
  if (y == NULL) lhs_fielderror(L, 1, "y", "vector expected, got nil");
  if (y->n != X->rows)
    lhs_fielderror(L, 1, "y", "has %I entries but X has %I rows", (lua_Integer)y->n,
                   (lua_Integer)X->rows);
  lua_Integer h = lhs_optintfield(L, 1, 1, "hidden", 0, 1, 100000);
  if (h == 0) lhs_fielderror(L, 1, "hidden", "positive integer expected, got nil");
  double decay = lhs_optnumfield(L, 1, 1, "decay", 0.0);
  if (!(decay >= 0.0) || !isfinite(decay))
    lhs_fielderror(L, 1, "decay", "must be finite and non-negative (got %f)", (lua_Number)decay);
  return pushbuiltin(L, hs_nn_alloc(X->rows, X->cols, (size_t)h, X->data, y->data, decay));
}

/* hasme.objective{dim = d, f = fn, grad = fn, hess = fn, h = step}: callbacks take a
** hasme.Vec x, valid only during the call (it is reused), and return a number, a
** vector (or table), a matrix (or table of rows). */
static int obj_lua(lua_State *L) {
  static const char *const known[] = {"dim", "f", "grad", "hess", "h", NULL};
  luaL_checktype(L, 1, LUA_TTABLE);
  lhs_checkfields(L, 1, 1, known);
  lua_Integer d = lhs_optintfield(L, 1, 1, "dim", 0, 1, 1000000);
  if (d == 0) lhs_fielderror(L, 1, "dim", "positive integer expected, got nil");
  int tf = lua_getfield(L, 1, "f"), tg = lua_getfield(L, 1, "grad"),
      th = lua_getfield(L, 1, "hess");
  int top = lua_gettop(L);
  const char *names[3] = {"f", "grad", "hess"};
  int types[3] = {tf, tg, th};
  for (int i = 0; i < 3; i++)
    if (types[i] != LUA_TNIL && types[i] != LUA_TFUNCTION)
      lhs_fielderror(L, 1, names[i], "function expected, got %s", lua_typename(L, types[i]));
  if (tf == LUA_TNIL && tg == LUA_TNIL)
    luaL_argerror(L, 1, "an objective needs at least 'f' or 'grad'");
  double h = lhs_optnumfield(L, 1, 1, "h", 0.0);
  lua_getfield(L, 1, "h");
  int hgiven = !lua_isnil(L, -1);
  lua_pop(L, 1);
  if (hgiven && (!(h > 0.0) || !isfinite(h)))
    lhs_fielderror(L, 1, "h", "must be a positive step (got %f)", (lua_Number)h);
  lobj *p = newlobj(L);
  int self = lua_gettop(L);
  size_t n = (size_t)d;
  if (tf != LUA_TNIL) lhs_cb_set(L, &p->f, self, top - 2, n);
  if (tg != LUA_TNIL) lhs_cb_set(L, &p->g, self, top - 1, n);
  if (th != LUA_TNIL) lhs_cb_set(L, &p->h, self, top, n);
  if (h > 0.0) p->hrel1 = p->hrel2 = h;
  initluaobj(p, n);
  return 1;
}

/* }==================================================================== */

/* {====================================================================
** Copies for worker states (see lhs_worker.c)
** ===================================================================== */

/* The copier of hasme.Objective for lhs_xfer_value: a thread-safe built-in is shared
** (the copy borrows the core objective); anything else cannot be copied. */
static int objective_share(lhs_xfer *x, int idx) {
  lobj *p = (lobj *)luaL_testudata(x->from, idx, LHS_OBJ);
  if (p == NULL || p->o == NULL || p->o == &p->own || !p->o->thread_safe) return 0;
  lobj *q = newlobj(x->to);
  q->o = p->o;
  q->borrowed = 1;
  return 1;
}

int lhs_objective_replica(lhs_xfer *x, int idx, hs_objective **out) {
  lobj *p = (lobj *)luaL_testudata(x->from, idx, LHS_OBJ);
  *out = NULL;
  if (p == NULL || p->o == NULL) return 0;
  if (p->o != &p->own) return 1;   /* built-ins are thread safe: shared */
  lua_State *T = x->to;
  lobj *q = newlobj(T);
  int qi = lua_gettop(T);
  lhs_cb *src[3] = {&p->f, &p->g, &p->h}, *dst[3] = {&q->f, &q->g, &q->h};
  idx = lua_absindex(x->from, idx);
  for (int i = 0; i < 3; i++)
    if (!lhs_cb_replicate(x, idx, src[i], qi, dst[i], p->own.dim)) {
      lua_settop(T, qi - 1);
      return 0;
    }
  q->own = p->own;
  q->own.params = q;
  q->hrel1 = p->hrel1;
  q->hrel2 = p->hrel2;
  q->o = &q->own;
  *out = q->o;
  luaL_ref(T, LUA_REGISTRYINDEX);   /* keeps q alive as long as the worker state */
  return 1;
}

/* }==================================================================== */

/* {====================================================================
** Derivative utilities
** ===================================================================== */

/* The objective for argument 1: a hasme.Objective, or a Lua function f(x) -> number
** wrapped in a temporary objective of dimension dim (left on the stack). */
static hs_objective *objorfn(lua_State *L, size_t dim) {
  if (lua_type(L, 1) == LUA_TFUNCTION) {
    lobj *p = newlobj(L);
    lhs_cb_set(L, &p->f, -1, 1, dim);
    return initluaobj(p, dim);
  }
  return lhs_checkobjective(L, 1, 1, NULL);
}

static double optstep(lua_State *L, int arg, double def) {
  if (lua_isnoneornil(L, arg)) return def;
  luaL_checktype(L, arg, LUA_TTABLE);
  static const char *const known[] = {"h", NULL};
  lhs_checkfields(L, arg, arg, known);
  double h = lhs_optnumfield(L, arg, arg, "h", def);
  if (!(h > 0.0) || !isfinite(h)) lhs_fielderror(L, arg, "h", "must be positive (got %f)", (lua_Number)h);
  return h;
}

/* hasme.hessian(obj_or_fn, x [, {h = step}]): central finite differences, of the
** gradient when the objective has one (step HS_FD_H1), of values otherwise (HS_FD_H2). */
static int fd_hessian(lua_State *L) {
  lua_settop(L, 3);   /* the options (or nil) stay in slot 3; temporaries go above */
  lhs_vec *x = lhs_checkvec(L, 2);
  luaL_argcheck(L, x->n > 0, 2, "empty vector");
  hs_objective *o = objorfn(L, x->n);
  int values = lua_type(L, 1) == LUA_TFUNCTION ||
               (o->type == &luaobj_type && !luaparams(o)->g.set);
  if (o->dim != x->n)
    return luaL_argerror(L, 2, lua_pushfstring(L, "vector of length %I expected, got length %I",
                                               (lua_Integer)o->dim, (lua_Integer)x->n));
  double h = optstep(L, 3, values ? HS_FD_H2 : HS_FD_H1);
  double *w = lhs_scratch(L, hs_fd_worksize(o));
  lhs_mat *H = lhs_newmat(L, o->dim, o->dim);
  hs_status st = values ? hs_fd_hess_values(o, x->data, h, H->data, w)
                        : hs_fd_hess(o, x->data, h, H->data, w);
  if (st != HS_OK) return evalerror(L, o, st, "hessian");
  return 1;
}

/* hasme.hvp(obj, x, v [, {h = step}]): Hessian-vector product by differences of
** gradients. */
static int fd_hvp(lua_State *L) {
  hs_objective *o = lhs_checkobjective(L, 1, 1, NULL);
  lhs_vec *x = lhs_checkvecn_at(L, 2, 2, NULL, o->dim);
  lhs_vec *v = lhs_checkvecn_at(L, 3, 3, NULL, o->dim);
  double h = optstep(L, 4, HS_FD_H1);
  double *w = lhs_scratch(L, hs_fd_worksize(o));
  lhs_vec *out = lhs_newvec(L, o->dim);
  hs_status st = hs_fd_hvp(o, x->data, v->data, h, out->data, w);
  if (st != HS_OK) return evalerror(L, o, st, "hvp");
  return 1;
}

/* Largest discrepancy between a and b: absolute, mixed relative |a-b|/max(1,|a|,|b|),
** and the index where the relative one occurs. */
static void discrepancy(const double *a, const double *b, size_t n, double *abserr,
                        double *relerr, size_t *at) {
  *abserr = *relerr = 0.0;
  *at = 0;
  for (size_t i = 0; i < n; i++) {
    double e = fabs(a[i] - b[i]);
    double r = e / fmax(1.0, fmax(fabs(a[i]), fabs(b[i])));
    if (e > *abserr) *abserr = e;
    if (r > *relerr) *relerr = r, *at = i;
  }
}

/* hasme.gradcheck(obj, x [, {tol = 1e-6}]): compares the analytic gradient with
** differences of values and the analytic Hessian with differences of gradients. */
static int fd_gradcheck(lua_State *L) {
  hs_objective *o = lhs_checkobjective(L, 1, 1, NULL);
  lhs_vec *x = lhs_checkvecn_at(L, 2, 2, NULL, o->dim);
  double tol = 1e-6;
  if (!lua_isnoneornil(L, 3)) {
    luaL_checktype(L, 3, LUA_TTABLE);
    static const char *const known[] = {"tol", NULL};
    lhs_checkfields(L, 3, 3, known);
    tol = lhs_optnumfield(L, 3, 3, "tol", tol);
  }
  size_t d = o->dim;
  int isluaobj = o->type == &luaobj_type;
  int hasgrad = !isluaobj || luaparams(o)->g.set;
  int hashess = !isluaobj || luaparams(o)->h.set;
  int hasvalue = !isluaobj || luaparams(o)->f.set;
  double *w = lhs_scratch(L, hs_fd_worksize(o) + 2 * d + 2 * d * d);
  double *ga = w + hs_fd_worksize(o), *gf = ga + d, *Ha = gf + d, *Hf = Ha + d * d;
  hs_status st;
  lua_createtable(L, 0, 8);
  int ok = 1;
  double ea, er;
  size_t at;
  if (hasgrad && hasvalue) {
    if ((st = hs_objective_grad(o, x->data, ga, w)) != HS_OK) return evalerror(L, o, st, "grad");
    if ((st = hs_fd_grad(o, x->data, HS_FD_H1, gf, w)) != HS_OK) return evalerror(L, o, st, "f");
    discrepancy(ga, gf, d, &ea, &er, &at);
    lua_pushnumber(L, (lua_Number)ea); lua_setfield(L, -2, "grad_abs");
    lua_pushnumber(L, (lua_Number)er); lua_setfield(L, -2, "grad_rel");
    lua_pushinteger(L, (lua_Integer)at + 1); lua_setfield(L, -2, "grad_index");
    ok = ok && er <= tol;
  }
  if (hashess) {
    if ((st = hs_objective_hess(o, x->data, Ha, w)) != HS_OK) return evalerror(L, o, st, "hess");
    if ((st = hs_fd_hess(o, x->data, HS_FD_H1, Hf, w)) != HS_OK) return evalerror(L, o, st, "grad");
    discrepancy(Ha, Hf, d * d, &ea, &er, &at);
    lua_pushnumber(L, (lua_Number)ea); lua_setfield(L, -2, "hess_abs");
    lua_pushnumber(L, (lua_Number)er); lua_setfield(L, -2, "hess_rel");
    lua_createtable(L, 2, 0);
    lua_pushinteger(L, (lua_Integer)(at / d) + 1); lua_rawseti(L, -2, 1);
    lua_pushinteger(L, (lua_Integer)(at % d) + 1); lua_rawseti(L, -2, 2);
    lua_setfield(L, -2, "hess_index");
    ok = ok && er <= tol;
  }
  lua_pushboolean(L, ok);
  lua_setfield(L, -2, "ok");
  lua_pushnumber(L, (lua_Number)tol);
  lua_setfield(L, -2, "tol");
  return 1;
}

/* }==================================================================== */

static const luaL_Reg obj_methods[] = {
  {"dim", obj_dim},
  {"grad", obj_grad},
  {"hess", obj_hess},
  {"kind", obj_kind},
  {"nsamples", obj_nsamples},
  {"sample_grad", obj_sample_grad},
  {"value", obj_value},
  {NULL, NULL}
};

static const luaL_Reg obj_funcs[] = {
  {"gradcheck", fd_gradcheck},
  {"hessian", fd_hessian},
  {"hvp", fd_hvp},
  {"nn", obj_nn},
  {"objective", obj_lua},
  {"quadratic", obj_quadratic},
  {"rosenbrock", obj_rosenbrock},
  {"saddle", obj_saddle},
  {"wells", obj_wells},
  {NULL, NULL}
};

static const luaL_Reg obj_meta[] = {
  {"__close", obj_close},
  {"__gc", obj_close},
  {"__tostring", obj_tostring},
  {NULL, NULL}
};

static const lhs_xfer_type obj_xfer = {objective_share};

void lhs_open_objective(lua_State *L) {
  lhs_newclass(L, LHS_OBJ, obj_methods, obj_meta);
  luaL_getmetatable(L, LHS_OBJ);
  lhs_xfer_settype(L, &obj_xfer);
  lua_pop(L, 1);
  luaL_setfuncs(L, obj_funcs, 0);
}
