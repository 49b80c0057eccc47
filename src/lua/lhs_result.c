/*
** lhs_result.c: hasme.Result, what hasme.simulate returns: the snapshots of every
** path at the recorded steps, the per-path escape, divergence and undefined-model
** steps, and a table describing the run.
**
** The outputs are one block allocated by the core (hs_sim_out_alloc). The userdata
** is created empty first and the block attached after, so an error at any point
** leaves a consistent object; __gc releases the block through one idempotent
** closer. Lua values (the info table, the recorded steps, the objective for
** r:values) are user values, traced by the collector.
*/
#include "lhs_result.h"
#include "lhs_init.h"
#include "lhs_objective.h"
#include "lhs_observe.h"
#include "lhs_vec.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* {====================================================================
** Life cycle
** ===================================================================== */

/* The closer of __gc and __close: releases the outputs once. */
static int res_gc(lua_State *L) {
  lhs_result *r = (lhs_result *)luaL_checkudata(L, 1, LHS_RESULT);
  hs_sim_out_free(&r->out);
  r->snap = NULL;
  r->esc = r->div = r->undef = NULL;
  return 0;
}

lhs_result *lhs_result_new(lua_State *L) {
  lhs_result *r = (lhs_result *)lua_newuserdatauv(L, sizeof(lhs_result), LHS_RESULT_NUV);
  memset(r, 0, sizeof *r);
  luaL_setmetatable(L, LHS_RESULT);
  return r;
}

void lhs_result_attach(lhs_result *r, size_t dim, size_t paths, size_t nrecord,
                       const size_t *rec) {
  r->dim = dim;
  r->paths = paths;
  r->nrecord = nrecord;
  r->rec = rec;
  r->snap = r->out.snap;
  r->esc = r->out.escape_step;
  r->div = r->out.diverge_step;
  r->undef = r->out.undefined_step;
}

/* }==================================================================== */

/* {====================================================================
** Methods
** ===================================================================== */

typedef lhs_result lresult;

static lresult *checkresult(lua_State *L) {
  lresult *r = (lresult *)luaL_checkudata(L, 1, LHS_RESULT);
  if (r->out.mem == NULL) luaL_error(L, "attempt to use a result that holds no run");
  return r;
}

/* A result whose snapshots method fname reads (a run with observe keeps them only
** when asked). */
static lresult *checksnap(lua_State *L, const char *fname) {
  lresult *r = checkresult(L);
  if (r->snap == NULL)
    luaL_error(L, "%s: the run kept no snapshots (pass snapshots = true to keep them "
               "with observe)", fname);
  return r;
}

/* Index of recorded step k (argument arg, default the last recorded step). */
static size_t recindex(lua_State *L, lresult *r, int arg) {
  if (r->nrecord == 0) luaL_error(L, "no step was recorded");
  if (lua_isnoneornil(L, arg)) return r->nrecord - 1;
  lua_Integer k = luaL_checkinteger(L, arg);
  size_t lo = 0, hi = r->nrecord;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if ((lua_Integer)r->rec[mid] < k) lo = mid + 1;
    else hi = mid;
  }
  if (lo < r->nrecord && (lua_Integer)r->rec[lo] == k) return lo;
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (size_t i = 0; i < r->nrecord && i < 12; i++) {
    if (i > 0) luaL_addstring(&b, ", ");
    lua_pushinteger(L, (lua_Integer)r->rec[i]);
    luaL_addvalue(&b);
  }
  if (r->nrecord > 12) luaL_addstring(&b, ", ...");
  luaL_pushresult(&b);
  luaL_argerror(L, arg, lua_pushfstring(L, "step %I was not recorded (recorded: %s)", k,
                                        lua_tostring(L, -1)));
  return 0;
}

/* Rows of snapshot ri that hold a state (diverged paths are NaN and left out). */
static const double *snaprow(const lresult *r, size_t ri, size_t i) {
  return r->snap + (ri * r->paths + i) * r->dim;
}

static int validrow(const lresult *r, size_t ri, size_t i) {
  return !isnan(snaprow(r, ri, i)[0]);
}

/* The mean over the valid rows of snapshot ri into mu (d doubles), returning their
** number. Sums are taken of x - x_first (shifted by the first valid row): exact when
** all rows agree, and free of the rounding of a large common offset. */
static size_t snapmean(const lresult *r, size_t ri, double *mu) {
  size_t d = r->dim, n = 0;
  const double *x0 = NULL;
  memset(mu, 0, d * sizeof(double));
  for (size_t i = 0; i < r->paths; i++) {
    if (!validrow(r, ri, i)) continue;
    const double *x = snaprow(r, ri, i);
    if (x0 == NULL) x0 = x;
    for (size_t j = 0; j < d; j++) mu[j] += x[j] - x0[j];
    n++;
  }
  for (size_t j = 0; j < d && n > 0; j++) mu[j] = x0[j] + mu[j] / (double)n;
  return n;
}

/* r:mean([k]): the sample mean over paths of x_k (diverged paths excluded). */
static int res_mean(lua_State *L) {
  lresult *r = checksnap(L, "mean");
  size_t ri = recindex(L, r, 2);
  lhs_vec *m = lhs_newvec(L, r->dim);
  if (snapmean(r, ri, m->data) == 0) return luaL_error(L, "mean: no path holds a state (every path diverged or left the model's domain)");
  return 1;
}

/* r:cov([k]): the unbiased sample covariance over paths (two passes). */
static int res_cov(lua_State *L) {
  lresult *r = checksnap(L, "cov");
  size_t ri = recindex(L, r, 2), d = r->dim;
  double *mu = lhs_scratch(L, d);
  size_t n = snapmean(r, ri, mu);
  if (n < 2) return luaL_error(L, "cov: fewer than 2 paths hold a state (the others diverged or left the model's domain)");
  lhs_mat *C = lhs_newmat(L, d, d);
  for (size_t i = 0; i < r->paths; i++) {
    if (!validrow(r, ri, i)) continue;
    const double *x = snaprow(r, ri, i);
    for (size_t a = 0; a < d; a++)
      for (size_t b = 0; b <= a; b++) C->data[a * d + b] += (x[a] - mu[a]) * (x[b] - mu[b]);
  }
  for (size_t a = 0; a < d; a++)
    for (size_t b = 0; b <= a; b++)
      C->data[a * d + b] = C->data[b * d + a] = C->data[a * d + b] / (double)(n - 1);
  return 1;
}

/* r:snapshot([k]): every path's x_k as a paths x d matrix. */
static int res_snapshot(lua_State *L) {
  lresult *r = checksnap(L, "snapshot");
  size_t ri = recindex(L, r, 2);
  lhs_pushmat(L, snaprow(r, ri, 0), r->paths, r->dim);
  return 1;
}

static int pushsteps(lua_State *L, const int64_t *s, size_t n) {
  lhs_vec *v = lhs_newvec(L, n);
  for (size_t i = 0; i < n; i++) v->data[i] = (double)s[i];
  return 1;
}

/* r:escape_steps(): per path the first step k >= 1 at which it had escaped, or -1. */
static int res_escape_steps(lua_State *L) {
  lresult *r = checkresult(L);
  if (r->esc == NULL) return luaL_error(L, "escape_steps: the run had no escape criterion");
  return pushsteps(L, r->esc, r->paths);
}

const char *lhs_result_status(const lhs_result *r, size_t i) {
  if (r->div != NULL && r->div[i] >= 0) return "diverged";
  if (r->undef != NULL && r->undef[i] >= 0) return "undefined";
  return r->esc[i] >= 0 ? "escaped" : "censored";
}

/* r:escape_status(): per path "escaped", "censored", "diverged" or "undefined".
** escape_steps() says -1 for the last three alike (its contract); this keeps them
** apart, so that a summary does not count a broken path as one still inside. */
static int res_escape_status(lua_State *L) {
  lresult *r = checkresult(L);
  if (r->esc == NULL) return luaL_error(L, "escape_status: the run had no escape criterion");
  lua_createtable(L, (int)(r->paths < INT_MAX ? r->paths : 0), 0);
  for (size_t i = 0; i < r->paths; i++) {
    lua_pushstring(L, lhs_result_status(r, i));
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  return 1;
}

/* r:diverged_steps(): per path the step at which it diverged, or -1. */
static int res_diverged_steps(lua_State *L) {
  lresult *r = checkresult(L);
  if (r->div == NULL)
    return luaL_error(L, "diverged_steps: the run did not record divergence "
                         "(on_diverge = 'record')");
  return pushsteps(L, r->div, r->paths);
}

/* r:undefined_steps(): per path the step at which HA-SME became undefined, or -1. */
static int res_undefined_steps(lua_State *L) {
  lresult *r = checkresult(L);
  if (r->undef == NULL)
    return luaL_error(L, "undefined_steps: the run did not record undefined paths "
                         "(on_domain = 'record')");
  return pushsteps(L, r->undef, r->paths);
}

/* r:values([k [, fn]]): per path f(x_k) for the run's objective, or fn(x_k) for a Lua
** function fn (called once per path; NaN for diverged paths). */
static int res_values(lua_State *L) {
  lresult *r = checksnap(L, "values");
  size_t ri = recindex(L, r, 2), d = r->dim;
  int usefn = !lua_isnoneornil(L, 3);
  if (usefn) luaL_checktype(L, 3, LUA_TFUNCTION);
  lua_getiuservalue(L, 1, LHS_RESULT_OBJECTIVE);
  hs_objective *o = lhs_checkobjective(L, lua_gettop(L), 1, NULL);
  double *w = lhs_scratch(L, hs_objective_worksize(o) + 1);
  lhs_vec *xv = usefn ? lhs_newvec(L, d) : NULL;
  int xi = lua_gettop(L);
  lhs_vec *out = lhs_newvec(L, r->paths);
  for (size_t i = 0; i < r->paths; i++) {
    const double *x = snaprow(r, ri, i);
    if (!validrow(r, ri, i)) { out->data[i] = NAN; continue; }
    if (usefn) {
      memcpy(xv->data, x, d * sizeof(double));
      lua_pushvalue(L, 3);
      lua_pushvalue(L, xi);
      lua_call(L, 1, 1);
      int isnum;
      out->data[i] = (double)lua_tonumberx(L, -1, &isnum);
      if (!isnum)
        return luaL_error(L, "values: fn returned %s for path %I, expected a number",
                          luaL_typename(L, -1), (lua_Integer)i + 1);
      lua_pop(L, 1);
    }
    else {
      hs_status st = hs_objective_value(o, x, &out->data[i], w);
      if (st == HS_ECALLBACK && o->type->errmsg != NULL)
        return luaL_error(L, "values: %s", o->type->errmsg(o));
      if (st != HS_OK) return lhs_statuserror(L, st, "values", NULL);
    }
  }
  return 1;
}

/* r:record_steps(): the recorded steps, ascending. */
static int res_record_steps(lua_State *L) {
  lresult *r = checkresult(L);
  lua_createtable(L, (int)r->nrecord, 0);
  for (size_t i = 0; i < r->nrecord; i++) {
    lua_pushinteger(L, (lua_Integer)r->rec[i]);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  return 1;
}

/* r:info(): a copy of what produced the result. */
static int res_info(lua_State *L) {
  checkresult(L);
  lua_getiuservalue(L, 1, LHS_RESULT_INFO);
  lua_newtable(L);
  lua_pushnil(L);
  while (lua_next(L, -3) != 0) {
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_settable(L, -4);
  }
  return 1;
}

/* Fields: methods first, then the info table (r.method, r.eta, r.elapsed, ...). */
static int res_index(lua_State *L) {
  luaL_checkudata(L, 1, LHS_RESULT);  /* a direct call may pass another userdata */
  lua_pushvalue(L, 2);
  lua_rawget(L, lua_upvalueindex(1));
  if (!lua_isnil(L, -1)) return 1;
  lua_getiuservalue(L, 1, LHS_RESULT_INFO);
  lua_pushvalue(L, 2);
  lua_rawget(L, -2);
  return 1;
}

/* Field k of the info table at index t, formatted into buf. */
static const char *infostr(lua_State *L, int t, const char *k, char *buf, size_t n) {
  lua_getfield(L, t, k);
  snprintf(buf, n, "%s", lua_isnil(L, -1) ? "-" : luaL_tolstring(L, -1, NULL));
  lua_settop(L, t);
  return buf;
}

static int res_tostring(lua_State *L) {
  lresult *r = checkresult(L);
  lua_settop(L, 1);
  lua_getiuservalue(L, 1, LHS_RESULT_INFO);
  char method[16], integ[16], eta[32], steps[32], seed[32], threads[16], kernel[16],
      substeps[16], elapsed[32], escaped[32], diverged[32], projected[32], undefined[32];
  infostr(L, 2, "method", method, sizeof method);
  infostr(L, 2, "integrator", integ, sizeof integ);
  infostr(L, 2, "eta", eta, sizeof eta);
  infostr(L, 2, "steps", steps, sizeof steps);
  infostr(L, 2, "seed", seed, sizeof seed);
  infostr(L, 2, "threads", threads, sizeof threads);
  infostr(L, 2, "kernel", kernel, sizeof kernel);
  infostr(L, 2, "substeps", substeps, sizeof substeps);
  infostr(L, 2, "escaped", escaped, sizeof escaped);
  infostr(L, 2, "diverged", diverged, sizeof diverged);
  infostr(L, 2, "projected", projected, sizeof projected);
  infostr(L, 2, "undefined", undefined, sizeof undefined);
  lua_getfield(L, 2, "elapsed");
  snprintf(elapsed, sizeof elapsed, "%.3f s", (double)lua_tonumber(L, -1));
  lua_settop(L, 2);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  lua_getfield(L, 2, "coupled");
  int coupled = lua_toboolean(L, -1);
  lua_pop(L, 1);
  /* Substeps matter to Euler steps, and to coupled runs (normals drawn per step). */
  const char *how = strcmp(integ, "euler") == 0 || coupled
                        ? lua_pushfstring(L, "%s, %s substeps", integ, substeps)
                        : lua_pushstring(L, integ);
  lua_pushfstring(L, "hasme.Result: %s (%s), eta = %s, %s steps, %I paths, "
                  "d = %I\n  seed %s, %s thread%s, %s kernel, %s\n  recorded steps:",
                  method, how, eta, steps, (lua_Integer)r->paths,
                  (lua_Integer)r->dim, seed, threads, strcmp(threads, "1") == 0 ? "" : "s",
                  kernel, elapsed);
  lua_remove(L, -2);
  luaL_addvalue(&b);
  for (size_t i = 0; i < r->nrecord && i < 12; i++) {
    lua_pushfstring(L, " %I", (lua_Integer)r->rec[i]);
    luaL_addvalue(&b);
  }
  if (r->nrecord > 12) luaL_addstring(&b, " ...");
  if (r->esc != NULL) {
    lua_pushfstring(L, "\n  escaped: %s of %I paths", escaped, (lua_Integer)r->paths);
    luaL_addvalue(&b);
  }
  if (r->div != NULL) {
    lua_pushfstring(L, "\n  diverged: %s paths", diverged);
    luaL_addvalue(&b);
  }
  if (r->undef != NULL) {
    lua_pushfstring(L, "\n  model undefined (eta*lambda_max >= 1) on: %s paths", undefined);
    luaL_addvalue(&b);
  }
  if (strcmp(projected, "0") != 0) {
    lua_pushfstring(L, "\n  PSD projections: %s", projected);
    luaL_addvalue(&b);
  }
  luaL_pushresult(&b);
  return 1;
}

/* }==================================================================== */

/* }==================================================================== */

/* {====================================================================
** Observed figures (lhs_observe.c): user value LHS_RESULT_OBSERVED, shared by the
** results of one compare; each result reads its own method's figures.
** ===================================================================== */

/* Push the observed figures and the method name; fname names the caller's errors. */
static const char *observed(lua_State *L, const char *fname) {
  checkresult(L);
  if (lua_getiuservalue(L, 1, LHS_RESULT_OBSERVED) == LUA_TNIL)
    luaL_error(L, "%s: the run had no observe option", fname);
  lua_getiuservalue(L, 1, LHS_RESULT_INFO);
  lua_getfield(L, -1, "method");
  const char *m = lua_tostring(L, -1);
  lua_replace(L, -2);   /* the name stays on the stack above the figures */
  return m;
}

/* r:observed(name [, k]) -> mean, se */
static int res_observed(lua_State *L) {
  lua_settop(L, 3);
  const char *m = observed(L, "observed");
  return lhs_observed_mean(L, 4, m);
}

/* r:weak_error(name [, k]) -> diff, se: paired, against the reference method */
static int res_weak_error(lua_State *L) {
  lua_settop(L, 3);
  const char *m = observed(L, "weak_error");
  return lhs_observed_weak(L, 4, m);
}

/* r:dt_bias(name [, k]) -> mean, se: an extrapolated method's g(fine) - g(coarse) */
static int res_dt_bias(lua_State *L) {
  lua_settop(L, 3);
  const char *m = observed(L, "dt_bias");
  return lhs_observed_dtbias(L, 4, m);
}

/* r:observations() -> rows */
static int res_observations(lua_State *L) {
  lua_settop(L, 1);
  const char *m = observed(L, "observations");
  return lhs_observed_rows(L, 2, m);
}

/* }==================================================================== */

static const luaL_Reg res_methods[] = {
  {"observations", res_observations},
  {"observed", res_observed},
  {"weak_error", res_weak_error},
  {"dt_bias", res_dt_bias},
  {"cov", res_cov},
  {"diverged_steps", res_diverged_steps},
  {"escape_status", res_escape_status},
  {"escape_steps", res_escape_steps},
  {"info", res_info},
  {"mean", res_mean},
  {"record_steps", res_record_steps},
  {"snapshot", res_snapshot},
  {"undefined_steps", res_undefined_steps},
  {"values", res_values},
  {NULL, NULL}
};

/* __index looks up the methods (its upvalue 1, set by lhs_newclass), then the info. */
static const luaL_Reg res_meta[] = {
  {"__index", res_index},
  {"__tostring", res_tostring},
  {"__gc", res_gc},
  {"__close", res_gc},
  {NULL, NULL}
};

void lhs_open_result(lua_State *L) {
  lhs_open_observe(L);
  lhs_newclass(L, LHS_RESULT, res_methods, res_meta);
}
