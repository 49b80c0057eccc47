/*
** lhs_noise.c: hasme.Noise (hasme.gaussian, hasme.minibatch) and hasme.Escape (the
** built-in criteria under hasme.escape, and Lua predicates wrapped for the engine).
*/
#include "lhs_noise.h"
#include "lhs_callback.h"
#include "lhs_init.h"
#include "lhs_objective.h"
#include "lhs_vec.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "hs_escape.h"
#include "hs_linalg.h"
#include "hs_noise.h"

/* Default tolerance for "positive semidefinite": eigenvalues above -tol * max|eig|
** are rounding, not indefiniteness. */
#define PSD_TOL 1e-10

/* {====================================================================
** Noise
** ===================================================================== */

typedef struct lnoise {
  hs_noise *n;
  lhs_cb cov;       /* state-dependent covariance */
  size_t dim;       /* of the callback's argument vector */
  int pinned;       /* dim is fixed: given, or set by the first use */
} lnoise;

static hs_status luacov(void *ctx, const double *x, double *C) {
  lnoise *p = ctx;
  hs_status st = lhs_cb_call(&p->cov, x, 1);
  if (st != HS_OK) return st;
  st = lhs_cb_readmat(&p->cov, -1, p->dim, C);
  lhs_cb_done(&p->cov);
  return st;
}

static const char *luacov_errmsg(void *ctx) {
  return lhs_cb_errmsg(&((lnoise *)ctx)->cov);
}

/* A new, empty noise: created before anything is acquired (liolib's order). Its user
** values hold the Lua values of the covariance callback. */
static lnoise *newnoise(lua_State *L) {
  lnoise *p = (lnoise *)lua_newuserdatauv(L, sizeof(lnoise), LHS_CB_NUV);
  memset(p, 0, sizeof *p);
  lhs_cb_init(&p->cov, "cov", 1);
  luaL_setmetatable(L, LHS_NOISE);
  return p;
}

hs_noise *lhs_checknoise(lua_State *L, int idx, int arg, const char *field, size_t dim) {
  idx = lua_absindex(L, idx);
  lnoise *p = (lnoise *)luaL_testudata(L, idx, LHS_NOISE);
  if (p == NULL)
    lhs_fielderror(L, arg, field, "hasme.Noise expected, got %s", lhs_typename(L, idx));
  if (p->n == NULL) lhs_fielderror(L, arg, field, "noise has been released (closed)");
  if (p->n->kind == HS_NOISE_STATE) {
    /* A noise built without `dim` takes the dimension of its first use and keeps it:
    ** a run in progress reads covariances of that size, so a later use at another
    ** dimension (from a callback, or a side run started by one) must not resize
    ** what the run is using. */
    if (p->dim != dim) {
      if (p->pinned)
        lhs_fielderror(L, arg, field, "noise of dimension %I used with dimension %I%s",
                       (lua_Integer)p->dim, (lua_Integer)dim,
                       p->n->dim == 0 ? " (a noise without 'dim' keeps the dimension of "
                                        "its first use)" : "");
      lhs_cb_setdim(L, &p->cov, idx, dim);
      p->dim = dim;
    }
    p->pinned = 1;
    lhs_cb_bind(L, &p->cov);
  }
  else if (p->n->dim != 0 && p->n->dim != dim)
    lhs_fielderror(L, arg, field, "noise of dimension %I used with dimension %I",
                   (lua_Integer)p->n->dim, (lua_Integer)dim);
  return p->n;
}

/* The one closer of __gc and __close (idempotent). */
static int noise_close(lua_State *L) {
  lnoise *p = (lnoise *)luaL_checkudata(L, 1, LHS_NOISE);
  hs_noise_free(p->n);
  p->n = NULL;
  lhs_cb_release(L, &p->cov, 1);
  return 0;
}

/* Argument 1 as a live noise. */
static lnoise *checknoise(lua_State *L) {
  lnoise *p = (lnoise *)luaL_checkudata(L, 1, LHS_NOISE);
  luaL_argcheck(L, p->n != NULL, 1, "noise has been released (closed)");
  return p;
}

/* hasme.gaussian{sigma = s} | {cov = m} | {cov = function(x) ... end, dim = d} */
static int noise_gaussian(lua_State *L) {
  static const char *const known[] = {"sigma", "cov", "dim", NULL};
  luaL_checktype(L, 1, LUA_TTABLE);
  lhs_checkfields(L, 1, 1, known);
  int ts = lua_getfield(L, 1, "sigma"), tc = lua_getfield(L, 1, "cov");
  int top = lua_gettop(L);
  if ((ts == LUA_TNIL) == (tc == LUA_TNIL))
    return luaL_argerror(L, 1, "give exactly one of 'sigma' and 'cov'");
  lnoise *p = newnoise(L);
  int self = lua_gettop(L);
  if (ts != LUA_TNIL) {
    double s = lhs_optnumfield(L, 1, 1, "sigma", 0.0);
    if (!(s >= 0.0) || !isfinite(s))
      lhs_fielderror(L, 1, "sigma", "must be finite and non-negative (got %f)", (lua_Number)s);
    p->n = hs_noise_iso_alloc(s);
  }
  else if (tc == LUA_TFUNCTION) {
    lua_Integer d = lhs_optintfield(L, 1, 1, "dim", 0, 1, 1000000);
    lhs_cb_set(L, &p->cov, self, top, (size_t)(d > 0 ? d : 1));
    p->dim = (size_t)(d > 0 ? d : 1);
    p->pinned = d > 0;
    p->n = hs_noise_state_alloc((size_t)d, luacov, p, 0, luacov_errmsg);
  }
  else {
    lhs_mat *C = lhs_checksquare_at(L, top, 1, "cov", 0);
    size_t d = C->rows;
    if (d == 0) lhs_fielderror(L, 1, "cov", "empty matrix");
    lua_Integer dd = lhs_optintfield(L, 1, 1, "dim", (lua_Integer)d, 1, 1000000);
    if ((size_t)dd != d)
      lhs_fielderror(L, 1, "dim", "is %I but 'cov' is %Ix%I", dd, (lua_Integer)d, (lua_Integer)d);
    double amax = 0.0;
    for (size_t i = 0; i < d * d; i++) amax = fmax(amax, fabs(C->data[i]));
    for (size_t i = 0; i < d; i++)
      for (size_t j = 0; j < d; j++) {
        double a = C->data[i * d + j], b = C->data[j * d + i];
        if (!isfinite(a))
          lhs_fielderror(L, 1, "cov", "non-finite entry at [%I][%I]", (lua_Integer)i + 1,
                         (lua_Integer)j + 1);
        if (fabs(a - b) > 1e-12 * amax)
          lhs_fielderror(L, 1, "cov", "covariance is not symmetric at [%I][%I]",
                         (lua_Integer)i + 1, (lua_Integer)j + 1);
      }
    hs_status st = HS_OK;
    double minw = 0.0;
    p->n = hs_noise_const_alloc(d, C->data, PSD_TOL, &st, &minw);
    if (p->n == NULL && st == HS_ENOTPSD)
      lhs_fielderror(L, 1, "cov", "covariance is not positive semidefinite (eigenvalue %f)",
                     (lua_Number)minw);
  }
  if (p->n == NULL) lhs_error(L, "not enough memory for the noise model");
  return 1;
}

/* hasme.minibatch{batch = B, replace = false, gaussian = false}: SGD averages the
** gradients of B samples of a finite-sum objective; the SDE models use the matching
** covariance. With gaussian = true SGD's noise is N(0, Sigma(x)) with that same
** covariance (the Gaussian surrogate), drawn from normals that compare can share. */
static int noise_minibatch(lua_State *L) {
  static const char *const known[] = {"batch", "replace", "gaussian", NULL};
  luaL_checktype(L, 1, LUA_TTABLE);
  lhs_checkfields(L, 1, 1, known);
  lua_Integer B = lhs_optintfield(L, 1, 1, "batch", 0, 1, (lua_Integer)HS_MAXSIZE);
  if (B == 0) lhs_fielderror(L, 1, "batch", "positive integer expected, got nil");
  int replace = lhs_optboolfield(L, 1, 1, "replace", 0);
  int gaussian = lhs_optboolfield(L, 1, 1, "gaussian", 0);
  lnoise *p = newnoise(L);
  p->n = hs_noise_batch_alloc((size_t)B, replace, gaussian);
  if (p->n == NULL) lhs_error(L, "not enough memory for the noise model");
  return 1;
}

/* noise:cov(x [, objective]): Sigma(x) as the SDE models see it. */
static int noise_cov(lua_State *L) {
  lnoise *p = checknoise(L);
  hs_objective *o = NULL;
  size_t d;
  if (!lua_isnoneornil(L, 3)) {
    o = lhs_checkobjective(L, 3, 3, NULL);
    d = o->dim;
  }
  else {
    if (p->n->kind == HS_NOISE_BATCH)
      return luaL_argerror(L, 3, "minibatch noise needs the objective");
    d = lhs_checkvec(L, 2)->n;
  }
  hs_noise *n = lhs_checknoise(L, 1, 1, NULL, d);
  lhs_vec *x = lhs_checkvecn_at(L, 2, 2, NULL, d);
  if (n->kind == HS_NOISE_BATCH) {
    if (o->nsamples < 2 || o->type->sample_grad == NULL)
      return luaL_argerror(L, 3, "minibatch noise needs a finite-sum objective (such as hasme.nn)");
    if (n->batch > o->nsamples)
      return luaL_argerror(L, 3, lua_pushfstring(L, "batch size %I exceeds the %I samples of "
                                                    "the objective", (lua_Integer)n->batch,
                                                 (lua_Integer)o->nsamples));
  }
  hs_objective dummy = {NULL, d, 0, 0, 1, NULL};
  if (o == NULL) o = &dummy;
  double *w = lhs_scratch(L, hs_noise_worksize(n, o));
  lhs_mat *C = lhs_newmat(L, d, d);
  hs_status st = hs_noise_cov(n, o, x->data, C->data, w);
  if (st == HS_ECALLBACK) return luaL_error(L, "cov: %s", lhs_cb_errmsg(&p->cov));
  if (st != HS_OK) return lhs_statuserror(L, st, "cov", NULL);
  return 1;
}

static int noise_kind(lua_State *L) {
  lnoise *p = checknoise(L);
  static const char *const names[] = {"none", "isotropic", "constant", "state", "minibatch"};
  if (p->n->kind == HS_NOISE_BATCH && p->n->gaussian) lua_pushliteral(L, "gaussian_minibatch");
  else lua_pushstring(L, names[p->n->kind]);
  return 1;
}

static int noise_tostring(lua_State *L) {
  lnoise *p = (lnoise *)luaL_checkudata(L, 1, LHS_NOISE);
  const hs_noise *n = p->n;
  if (n == NULL) {
    lua_pushliteral(L, "hasme.Noise(released)");
    return 1;
  }
  switch (n->kind) {
    case HS_NOISE_ISO:
      lua_pushfstring(L, "hasme.Noise(gaussian, sigma=%f)", (lua_Number)n->sigma); break;
    case HS_NOISE_CONST:
      lua_pushfstring(L, "hasme.Noise(gaussian, constant %Ix%I covariance)",
                      (lua_Integer)n->dim, (lua_Integer)n->dim); break;
    case HS_NOISE_STATE:
      lua_pushliteral(L, "hasme.Noise(gaussian, state-dependent covariance)"); break;
    case HS_NOISE_BATCH:
      lua_pushfstring(L, "hasme.Noise(%sminibatch, batch=%I, %s replacement)",
                      n->gaussian ? "gaussian " : "", (lua_Integer)n->batch,
                      n->replace ? "with" : "without"); break;
    default:
      lua_pushliteral(L, "hasme.Noise(none)");
  }
  return 1;
}

/* }==================================================================== */

/* {====================================================================
** Escape criteria
** ===================================================================== */

typedef struct lesc {
  hs_escape *e;
  lhs_cb pred;     /* Lua predicates */
} lesc;

static hs_status luapred(void *ctx, const double *x, int *escaped) {
  lesc *p = ctx;
  hs_status st = lhs_cb_call(&p->pred, x, 1);
  if (st != HS_OK) return st;
  *escaped = lua_toboolean(p->pred.L, -1);
  lhs_cb_done(&p->pred);
  return HS_OK;
}

static const char *luapred_errmsg(void *ctx) {
  return lhs_cb_errmsg(&((lesc *)ctx)->pred);
}

static lesc *newesc(lua_State *L) {
  lesc *p = (lesc *)lua_newuserdatauv(L, sizeof(lesc), LHS_CB_NUV);
  memset(p, 0, sizeof *p);
  lhs_cb_init(&p->pred, "escape predicate", 1);
  luaL_setmetatable(L, LHS_ESCAPE);
  return p;
}

static int pushescape(lua_State *L, lesc *p) {
  if (p->e == NULL) lhs_error(L, "not enough memory for the escape criterion");
  return 1;
}

hs_escape *lhs_toescape(lua_State *L, int idx, size_t dim) {
  if (lua_type(L, idx) == LUA_TFUNCTION) {
    lesc *p = newesc(L);   /* stays on the stack for the duration of the call */
    lhs_cb_set(L, &p->pred, -1, idx, dim);
    p->e = hs_escape_callback_alloc(luapred, p, luapred_errmsg);
    if (p->e == NULL) lhs_error(L, "not enough memory for the escape criterion");
    return p->e;
  }
  lesc *p = (lesc *)luaL_testudata(L, idx, LHS_ESCAPE);
  if (p == NULL) return NULL;
  if (p->e == NULL) lhs_fielderror(L, 1, "escape", "escape criterion has been released (closed)");
  if (p->e->kind == HS_ESC_CALLBACK) {
    lhs_cb_setdim(L, &p->pred, idx, dim);
    lhs_cb_bind(L, &p->pred);
  }
  return p->e;
}

/* The one closer of __gc and __close (idempotent). */
static int esc_close(lua_State *L) {
  lesc *p = (lesc *)luaL_checkudata(L, 1, LHS_ESCAPE);
  hs_escape_free(p->e);
  p->e = NULL;
  lhs_cb_release(L, &p->pred, 1);
  return 0;
}

/* Argument 1 as a live escape criterion. */
static lesc *checkesc(lua_State *L) {
  lesc *p = (lesc *)luaL_checkudata(L, 1, LHS_ESCAPE);
  luaL_argcheck(L, p->e != NULL, 1, "escape criterion has been released (closed)");
  return p;
}

static double checkfinite(lua_State *L, int arg) {
  double c = (double)luaL_checknumber(L, arg);
  luaL_argcheck(L, isfinite(c), arg, "must be finite");
  return c;
}

/* hasme.escape.halfspace(a, c): escaped when a'x > c. */
static int esc_halfspace(lua_State *L) {
  lhs_vec *a = lhs_checkvec(L, 1);
  luaL_argcheck(L, a->n > 0, 1, "empty vector");
  double c = checkfinite(L, 2);
  lesc *p = newesc(L);
  p->e = hs_escape_alloc(HS_ESC_HALFSPACE, a->n, a->data, c);
  return pushescape(L, p);
}

/* hasme.escape.ball_exit(center, r): escaped when |x - center| > r. */
static int esc_ball(lua_State *L) {
  lhs_vec *c = lhs_checkvec(L, 1);
  luaL_argcheck(L, c->n > 0, 1, "empty vector");
  double r = checkfinite(L, 2);
  luaL_argcheck(L, r >= 0.0, 2, "radius must be non-negative");
  lesc *p = newesc(L);
  p->e = hs_escape_alloc(HS_ESC_BALL, c->n, c->data, r);
  return pushescape(L, p);
}

static int esc_level(lua_State *L, hs_escape_kind kind) {
  double c = checkfinite(L, 1);
  lesc *p = newesc(L);
  p->e = hs_escape_alloc(kind, 0, NULL, c);
  return pushescape(L, p);
}

/* hasme.escape.value_below(c) / value_above(c): f(x) < c / f(x) > c. */
static int esc_below(lua_State *L) { return esc_level(L, HS_ESC_BELOW); }
static int esc_above(lua_State *L) { return esc_level(L, HS_ESC_ABOVE); }

/* criterion:test(x [, objective]): whether x counts as escaped. */
static int esc_test(lua_State *L) {
  lesc *p = checkesc(L);
  lhs_vec *x = lhs_checkvec(L, 2);
  hs_objective *o = NULL;
  if (p->e->kind == HS_ESC_BELOW || p->e->kind == HS_ESC_ABOVE)
    o = lhs_checkobjective(L, 3, 3, NULL);
  if (p->e->dim != 0 && p->e->dim != x->n)
    return luaL_argerror(L, 2, lua_pushfstring(L, "vector of length %I expected, got length %I",
                                               (lua_Integer)p->e->dim, (lua_Integer)x->n));
  hs_objective dummy = {NULL, x->n, 0, 0, 1, NULL};
  size_t wn = 1;
  if (o == NULL) o = &dummy;
  else {
    luaL_argcheck(L, o->dim == x->n, 3, "objective dimension does not match x");
    wn += hs_objective_worksize(o);
  }
  double *w = lhs_scratch(L, wn);
  int esc = 0;
  hs_status st = hs_escape_test(p->e, o, x->data, &esc, w);
  if (st == HS_ECALLBACK && o->type != NULL && o->type->errmsg != NULL)
    return luaL_error(L, "test: %s", o->type->errmsg(o));
  if (st != HS_OK) return lhs_statuserror(L, st, "test", NULL);
  lua_pushboolean(L, esc);
  return 1;
}

static int esc_tostring(lua_State *L) {
  lesc *p = (lesc *)luaL_checkudata(L, 1, LHS_ESCAPE);
  static const char *const names[] = {"halfspace", "ball_exit", "value_below", "value_above",
                                      "predicate"};
  if (p->e == NULL) {
    lua_pushliteral(L, "hasme.Escape(released)");
    return 1;
  }
  lua_pushfstring(L, "hasme.Escape(%s, %f)", names[p->e->kind], (lua_Number)p->e->c);
  return 1;
}

/* }==================================================================== */

/* {====================================================================
** Copies for worker states (see lhs_worker.c)
** ===================================================================== */

int lhs_noise_replica(lhs_xfer *x, int idx, size_t dim, hs_noise **out) {
  lnoise *p = (lnoise *)luaL_testudata(x->from, idx, LHS_NOISE);
  *out = NULL;
  if (p == NULL || p->n == NULL || p->n->kind != HS_NOISE_STATE) return 1;
  lua_State *T = x->to;
  lnoise *q = newnoise(T);
  int qi = lua_gettop(T);
  if (!lhs_cb_replicate(x, lua_absindex(x->from, idx), &p->cov, qi, &q->cov, dim)) {
    lua_settop(T, qi - 1);
    return 0;
  }
  q->dim = dim;
  q->pinned = 1;
  q->n = hs_noise_state_alloc(p->n->dim, luacov, q, 0, luacov_errmsg);
  if (q->n == NULL) {
    lua_settop(T, qi - 1);
    snprintf(x->why, sizeof x->why, "not enough memory");
    return 0;
  }
  *out = q->n;
  luaL_ref(T, LUA_REGISTRYINDEX);
  return 1;
}

int lhs_escape_replica(lhs_xfer *x, int idx, size_t dim, hs_escape **out) {
  lesc *p = (lesc *)luaL_testudata(x->from, idx, LHS_ESCAPE);
  *out = NULL;
  if (p == NULL || p->e == NULL || p->e->kind != HS_ESC_CALLBACK) return 1;
  lua_State *T = x->to;
  lesc *q = newesc(T);
  int qi = lua_gettop(T);
  if (!lhs_cb_replicate(x, lua_absindex(x->from, idx), &p->pred, qi, &q->pred, dim)) {
    lua_settop(T, qi - 1);
    return 0;
  }
  q->e = hs_escape_callback_alloc(luapred, q, luapred_errmsg);
  if (q->e == NULL) {
    lua_settop(T, qi - 1);
    snprintf(x->why, sizeof x->why, "not enough memory");
    return 0;
  }
  *out = q->e;
  luaL_ref(T, LUA_REGISTRYINDEX);
  return 1;
}

/* }==================================================================== */

static const luaL_Reg noise_methods[] = {
  {"cov", noise_cov},
  {"kind", noise_kind},
  {NULL, NULL}
};

static const luaL_Reg esc_funcs[] = {
  {"ball_exit", esc_ball},
  {"halfspace", esc_halfspace},
  {"value_above", esc_above},
  {"value_below", esc_below},
  {NULL, NULL}
};

static const luaL_Reg noise_meta[] = {
  {"__close", noise_close},
  {"__gc", noise_close},
  {"__tostring", noise_tostring},
  {NULL, NULL}
};

static const luaL_Reg esc_meta[] = {
  {"__close", esc_close},
  {"__gc", esc_close},
  {"__tostring", esc_tostring},
  {NULL, NULL}
};

void lhs_open_noise(lua_State *L) {
  static const luaL_Reg esc_methods[] = {{"test", esc_test}, {NULL, NULL}};
  lhs_newclass(L, LHS_NOISE, noise_methods, noise_meta);
  lhs_newclass(L, LHS_ESCAPE, esc_methods, esc_meta);
  lua_pushcfunction(L, noise_gaussian);
  lua_setfield(L, -2, "gaussian");
  lua_pushcfunction(L, noise_minibatch);
  lua_setfield(L, -2, "minibatch");
  lua_newtable(L);
  luaL_setfuncs(L, esc_funcs, 0);
  lua_setfield(L, -2, "escape");
}
