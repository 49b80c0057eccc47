/*
** lhs_sim.c: hasme.simulate, which turns an options table into an hs_sim and runs
** the engine, the hasme.Result it returns, and hasme.exact_moments.
*/
#include "lhs_init.h"
#include "lhs_alloc.h"
#include "lhs_noise.h"
#include "lhs_objective.h"
#include "lhs_vec.h"

#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "hs_exact.h"
#include "hs_sim.h"
#include "hs_util.h"

#define PSD_TOL_DEFAULT 1e-10
#define SUBSTEPS_DEFAULT 10

static const char *const method_names[] = {"sgd", "sme1", "sme2", "hasme", NULL};

/* The noise of a run without a `noise` option: exact gradients. */
static const hs_noise nonoise = {HS_NOISE_NONE, 0, 0.0, NULL, NULL, NULL, NULL, 1, NULL, 0, 0, 0};
static const char *const integrator_names[] = {"euler", "exact", NULL};

/* {====================================================================
** hasme.Result
**
** User values: 1 snapshots (doubles), 2 escape steps (int64, or nil), 3 divergence
** steps (int64, or nil), 4 the info table, 5 the recorded steps (size_t), 6 the
** objective (for r:values), 7 undefined-model steps (int64, or nil).
** ===================================================================== */

typedef struct lresult {
  size_t dim, paths, nrecord;
  double *snap;
  int64_t *esc, *div, *undef;
  size_t *rec;
} lresult;

static lresult *checkresult(lua_State *L) {
  return (lresult *)luaL_checkudata(L, 1, LHS_RESULT);
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
  lresult *r = checkresult(L);
  size_t ri = recindex(L, r, 2);
  lhs_vec *m = lhs_newvec(L, r->dim);
  if (snapmean(r, ri, m->data) == 0) return luaL_error(L, "mean: no path holds a state (every path diverged or left the model's domain)");
  return 1;
}

/* r:cov([k]): the unbiased sample covariance over paths (two passes). */
static int res_cov(lua_State *L) {
  lresult *r = checkresult(L);
  size_t ri = recindex(L, r, 2), d = r->dim;
  double *mu = (double *)lua_newuserdatauv(L, d * sizeof(double), 0);
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
  lresult *r = checkresult(L);
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
  lresult *r = checkresult(L);
  size_t ri = recindex(L, r, 2), d = r->dim;
  int usefn = !lua_isnoneornil(L, 3);
  if (usefn) luaL_checktype(L, 3, LUA_TFUNCTION);
  lua_getiuservalue(L, 1, 6);
  hs_objective *o = lhs_checkobjective(L, lua_gettop(L), 1, NULL);
  double *w = (double *)lua_newuserdatauv(L, (hs_objective_worksize(o) + 1) * sizeof(double), 0);
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
  lua_getiuservalue(L, 1, 4);
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
  lua_pushvalue(L, 2);
  lua_rawget(L, lua_upvalueindex(1));
  if (!lua_isnil(L, -1)) return 1;
  lua_getiuservalue(L, 1, 4);
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
  lua_getiuservalue(L, 1, 4);
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
                  "d = %I\n  seed %s, %s threads, %s kernel, %s\n  recorded steps:",
                  method, how, eta, steps, (lua_Integer)r->paths,
                  (lua_Integer)r->dim, seed, threads, kernel, elapsed);
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

/* {====================================================================
** hasme.simulate
** ===================================================================== */

/* A byte count: a number, or a string with a K, M, G or T suffix ("4G"). */
static size_t checkbytes(lua_State *L, int t, const char *name, size_t def) {
  int tp = lua_getfield(L, t, name);
  size_t v = def;
  if (tp == LUA_TNUMBER) {
    double x = (double)lua_tonumber(L, -1);
    if (!(x > 0.0) || x > 1e18) lhs_fielderror(L, 1, name, "must be a positive byte count");
    v = (size_t)x;
  }
  else if (tp == LUA_TSTRING) {
    const char *s = lua_tostring(L, -1);
    char *end;
    double x = strtod(s, &end);
    double mult = 1.0;
    switch (*end) {
      case 'K': case 'k': mult = 1024.0; end++; break;
      case 'M': case 'm': mult = 1024.0 * 1024.0; end++; break;
      case 'G': case 'g': mult = 1024.0 * 1024.0 * 1024.0; end++; break;
      case 'T': case 't': mult = 1024.0 * 1024.0 * 1024.0 * 1024.0; end++; break;
      default: break;
    }
    if (*end == 'B' || *end == 'b') end++;
    if (end == s || *end != '\0' || !(x > 0.0) || x * mult > 1e18)
      lhs_fielderror(L, 1, name, "byte count expected (such as 4e9 or \"4G\"), got '%s'", s);
    v = (size_t)(x * mult);
  }
  else if (tp != LUA_TNIL)
    lhs_fielderror(L, 1, name, "byte count expected, got %s", luaL_typename(L, -1));
  lua_pop(L, 1);
  return v;
}

static void formatbytes(char *buf, size_t n, double bytes) {
  static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024.0 && u < 4) bytes /= 1024.0, u++;
  snprintf(buf, n, "%.1f %s", bytes, unit[u]);
}

/* The progress callback: a Lua function(done, total) whose false return cancels. */
typedef struct progress {
  lua_State *L;
  int ref;
  int failed;     /* the callback raised: its message is on the registry ref err */
  int err;
} progress;

static int callprogress(void *ctx, double done, double total) {
  progress *p = ctx;
  lua_State *L = p->L;
  lua_rawgeti(L, LUA_REGISTRYINDEX, p->ref);
  lua_pushnumber(L, (lua_Number)done);
  lua_pushnumber(L, (lua_Number)total);
  if (lua_pcall(L, 2, 1, 0) != LUA_OK) {
    p->failed = 1;
    p->err = luaL_ref(L, LUA_REGISTRYINDEX);
    return 1;
  }
  int cancel = lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1);
  lua_pop(L, 1);
  return cancel;
}

/* The record option: a list of steps (sorted, duplicates removed) or "all". Pushes
** the size_t array userdata and returns it. */
static size_t *checkrecord(lua_State *L, size_t steps, size_t *n) {
  int tp = lua_getfield(L, 1, "record");
  size_t *rec;
  if (tp == LUA_TNIL) {
    rec = (size_t *)lua_newuserdatauv(L, sizeof(size_t), 0);
    rec[0] = steps;
    *n = 1;
  }
  else if (tp == LUA_TSTRING && strcmp(lua_tostring(L, -1), "all") == 0) {
    rec = (size_t *)lua_newuserdatauv(L, (steps + 1) * sizeof(size_t), 0);
    for (size_t k = 0; k <= steps; k++) rec[k] = k;
    *n = steps + 1;
  }
  else {
    lhs_vec *v = lhs_checkvec_at(L, lua_gettop(L), 1, "record");
    if (v->n == 0) lhs_fielderror(L, 1, "record", "no step given");
    rec = (size_t *)lua_newuserdatauv(L, v->n * sizeof(size_t), 0);
    for (size_t i = 0; i < v->n; i++) {
      double k = v->data[i];
      if (k != floor(k))
        lhs_fielderror(L, 1, "record", "step %f at index %I is not an integer", (lua_Number)k,
                       (lua_Integer)i + 1);
      if (k < 0.0 || k > (double)steps)
        lhs_fielderror(L, 1, "record", "step %I at index %I is outside [0, %I]",
                       (lua_Integer)k, (lua_Integer)i + 1, (lua_Integer)steps);
      rec[i] = (size_t)k;
    }
    /* insertion sort (short lists) and de-duplication */
    for (size_t i = 1; i < v->n; i++)
      for (size_t j = i; j > 0 && rec[j - 1] > rec[j]; j--) {
        size_t t = rec[j]; rec[j] = rec[j - 1]; rec[j - 1] = t;
      }
    size_t m = 0;
    for (size_t i = 0; i < v->n; i++)
      if (m == 0 || rec[i] != rec[m - 1]) rec[m++] = rec[i];
    *n = m;
  }
  lua_remove(L, -2);
  return rec;
}

/* Build the error message for a failed run and raise it. */
static int simerror(lua_State *L, const hs_sim *s, const hs_sim_out *out, progress *pg) {
  const hs_sim_error *e = &out->err;
  lua_Integer path = (lua_Integer)e->path + 1, step = (lua_Integer)e->step;
  double eta = s->model.eta;
  const char *where = e->step == 0 ? lua_pushliteral(L, "")
                                   : lua_pushfstring(L, " at path %I, step %I", path, step);
  switch (e->status) {
    case HS_EDOM:
      return luaL_error(L, "simulate: HA-SME is undefined%s: eta*lambda_max = %f >= 1 "
                        "(lambda_max = %f, eta = %f); it needs eta*lambda < 1 for every "
                        "Hessian eigenvalue%s", where, (lua_Number)(eta * e->value),
                        (lua_Number)e->value, (lua_Number)eta,
                        e->step == 0 ? "" : "; pass on_domain = 'record' to stop such paths "
                                            "and count them");
    case HS_ENOTPSD:
      if (strcmp(e->what, "diffusion") == 0)
        return luaL_error(L, "simulate: the HA-SME diffusion V (S o Phi) V' is not positive "
                          "semidefinite%s (eigenvalue %f): no SDE of this form exists here; "
                          "pass psd = 'project' to clip it to the nearest PSD matrix", where,
                          (lua_Number)e->value);
      return luaL_error(L, "simulate: the noise covariance is not positive semidefinite%s "
                        "(eigenvalue %f)", where, (lua_Number)e->value);
    case HS_EDIVERGE:
      return luaL_error(L, "simulate: path %I diverged (inf or NaN) at step %I; pass "
                        "on_diverge = 'record' to stop such paths and count them", path, step);
    case HS_ECALLBACK:
      return luaL_error(L, "simulate: error in the %s%s: %s", e->what, where, e->msg);
    case HS_ECANCEL:
      if (strcmp(e->what, "interrupt") == 0) return luaL_error(L, "simulate: interrupted");
      if (pg != NULL && pg->failed) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, pg->err);
        return luaL_error(L, "simulate: error in the progress callback: %s",
                          luaL_tolstring(L, -1, NULL));
      }
      return luaL_error(L, "simulate: cancelled");
    case HS_ELAPACK:
    case HS_ENOCONV:
      return luaL_error(L, "simulate: the eigendecomposition of the Hessian failed%s (%s)",
                        where, hs_strstatus(e->status));
    case HS_EINVAL:
      return luaL_error(L, "simulate: %s", e->msg);
    default:
      return luaL_error(L, "simulate: %s%s", hs_strstatus(e->status), where);
  }
}

static void setinfo_s(lua_State *L, const char *k, const char *v) {
  lua_pushstring(L, v);
  lua_setfield(L, -2, k);
}

static void setinfo_i(lua_State *L, const char *k, lua_Integer v) {
  lua_pushinteger(L, v);
  lua_setfield(L, -2, k);
}

static void setinfo_n(lua_State *L, const char *k, double v) {
  lua_pushnumber(L, (lua_Number)v);
  lua_setfield(L, -2, k);
}

/* {====================================================================
** Worker states for Lua callbacks (lhs_worker.c)
** ===================================================================== */

#define LHS_WORKERS "hasme.Workers"

/* Worker states below the run's stack frame, closed by __gc if an error unwinds. */
typedef struct workers {
  size_t n;
  lua_State *L[];
} workers;

static int workers_close(lua_State *L) {
  workers *w = (workers *)luaL_checkudata(L, 1, LHS_WORKERS);
  for (size_t i = 0; i < w->n; i++)
    if (w->L[i] != NULL) lhs_closestate(w->L[i]), w->L[i] = NULL;
  return 0;
}

/* Paths x steps below which worker states are not worth their start-up (a few ms). */
#define WORKER_MIN_WORK 20000.0

/* When the run's callbacks are Lua functions, give each extra thread its own state
** with copies of them. Pushes the workers box (and the replica array) and returns
** the number of replicas; 0 when they are not needed or could not be made, with
** the reason in why. obj at index 2, noise at 3, escape at escidx. */
static size_t makeworkers(lua_State *L, hs_sim *s, int escidx, char *why, size_t whyn) {
  const hs_model *m = &s->model;
  int unsafe = !m->obj->thread_safe ||
               (m->noise->kind == HS_NOISE_STATE && !m->noise->thread_safe) ||
               (s->escape != NULL && s->escape->kind == HS_ESC_CALLBACK);
  size_t want = s->threads == 0 ? hs_ncores() : s->threads;
  size_t nblocks = (s->paths + 7) / 8;
  why[0] = '\0';
  if (!unsafe || want < 2 || nblocks < 2 ||
      (double)s->paths * (double)s->steps * (double)s->substeps < WORKER_MIN_WORK)
    return 0;
  size_t nrep = (want < nblocks ? want : nblocks) - 1;
  workers *w = (workers *)lua_newuserdatauv(L, sizeof(workers) + nrep * sizeof(lua_State *), 1);
  w->n = 0;
  luaL_setmetatable(L, LHS_WORKERS);
  hs_replica *rep = (hs_replica *)lua_newuserdatauv(L, nrep * sizeof(hs_replica), 0);
  memset(rep, 0, nrep * sizeof(hs_replica));
  lua_setiuservalue(L, -2, 1);   /* the box keeps the replica array alive */
  for (size_t i = 0; i < nrep; i++) {
    lua_State *T = lhs_worker_new(L, why, whyn);
    if (T == NULL) break;
    w->L[i] = T;
    w->n = i + 1;
    lhs_xfer x;
    lhs_xfer_begin(&x, L, T);
    hs_objective *ro = NULL;
    hs_noise *rn = NULL;
    hs_escape *re = NULL;
    int ok = lhs_objective_replica(&x, 2, &ro);
    if (ok && lua_type(L, 3) == LUA_TUSERDATA) ok = lhs_noise_replica(&x, 3, m->dim, &rn);
    if (ok && s->escape != NULL) ok = lhs_escape_replica(&x, escidx, m->dim, &re);
    rep[i].obj = ro;
    rep[i].noise = rn;
    rep[i].escape = re;
    if (ok) lhs_worker_globals(&x);
    else snprintf(why, whyn, "%s", x.why);
    lhs_xfer_end(&x);
    if (!ok) break;
  }
  if (why[0] != '\0') {
    lua_pushcfunction(L, workers_close);
    lua_pushvalue(L, -2);
    lua_call(L, 1, 0);
    return 0;
  }
  s->replicas = rep;
  s->nreplicas = nrep;
  return nrep;
}

/* }==================================================================== */

/* {====================================================================
** Ctrl-C during a run
**
** The interpreter's own SIGINT handling (lua5.4's and the REPL's) sets a hook that
** only fires in Lua code, never inside a long simulation. For the duration of a run,
** simulate installs a handler that sets this flag, which the engine polls at every
** step; the previous handler comes back afterwards, and the run ends with
** "simulate: interrupted". The flag is the binding's: the core has no statics.
** ===================================================================== */

static volatile sig_atomic_t interrupted = 0;

static void oninterrupt(int sig) {
  (void)sig;
  interrupted = 1;
}

/* }==================================================================== */

static int sim_simulate(lua_State *L) {
  static const char *const known[] = {
    "objective", "noise", "method", "eta", "steps", "x0", "paths", "seed", "integrator",
    "substeps", "record", "escape", "threads", "on_diverge", "psd", "psd_tol",
    "memory_limit", "progress", "progress_interval", "coupled", "on_domain", NULL};
  static const char *const diverge_names[] = {"error", "record", NULL};
  static const char *const psd_names[] = {"error", "project", NULL};
  luaL_checktype(L, 1, LUA_TTABLE);
  lhs_checkfields(L, 1, 1, known);
  hs_sim s;
  memset(&s, 0, sizeof s);

  /* objective (slot 2), noise (slot 3) */
  if (lua_getfield(L, 1, "objective") == LUA_TNIL)
    lhs_fielderror(L, 1, "objective", "hasme.Objective expected, got nil");
  hs_objective *obj = lhs_checkobjective(L, 2, 1, "objective");
  size_t d = obj->dim;
  const hs_noise *nz = &nonoise;
  if (lua_getfield(L, 1, "noise") != LUA_TNIL) nz = lhs_checknoise(L, 3, 1, "noise", d);

  if (nz->kind == HS_NOISE_BATCH) {
    if (obj->nsamples < 2 || obj->type->sample_grad == NULL)
      lhs_fielderror(L, 1, "noise", "minibatch noise needs a finite-sum objective (such as "
                     "hasme.nn)");
    if (nz->batch > obj->nsamples)
      lhs_fielderror(L, 1, "noise", "batch size %I exceeds the %I samples of the objective",
                     (lua_Integer)nz->batch, (lua_Integer)obj->nsamples);
  }
  s.model.method = (hs_method)lhs_optchoicefield(L, 1, 1, "method", "sgd", method_names);
  s.model.dim = d;
  s.model.obj = obj;
  s.model.noise = nz;
  if (lua_getfield(L, 1, "eta") == LUA_TNIL) lhs_fielderror(L, 1, "eta", "number expected, got nil");
  lua_pop(L, 1);
  s.model.eta = lhs_optnumfield(L, 1, 1, "eta", 0.0);
  if (!(s.model.eta > 0.0) || !isfinite(s.model.eta))
    lhs_fielderror(L, 1, "eta", "must be positive and finite (got %f)", (lua_Number)s.model.eta);
  s.model.psd_project = lhs_optchoicefield(L, 1, 1, "psd", "error", psd_names);
  s.model.psd_tol = lhs_optnumfield(L, 1, 1, "psd_tol", PSD_TOL_DEFAULT);
  if (!(s.model.psd_tol >= 0.0) || !isfinite(s.model.psd_tol))
    lhs_fielderror(L, 1, "psd_tol", "must be finite and non-negative");

  if (lua_getfield(L, 1, "steps") == LUA_TNIL)
    lhs_fielderror(L, 1, "steps", "integer expected, got nil");
  lua_pop(L, 1);
  s.steps = (size_t)lhs_optintfield(L, 1, 1, "steps", 0, 0, (lua_Integer)HS_MAXSIZE);
  s.paths = (size_t)lhs_optintfield(L, 1, 1, "paths", 1000, 1, (lua_Integer)HS_MAXSIZE);
  s.seed = (uint64_t)lhs_optintfield(L, 1, 1, "seed", 0, 0, LUA_MAXINTEGER);
  s.threads = (size_t)lhs_optintfield(L, 1, 1, "threads", 0, 1, 4096);
  s.record_diverged = lhs_optchoicefield(L, 1, 1, "on_diverge", "error", diverge_names);
  s.record_undefined = lhs_optchoicefield(L, 1, 1, "on_domain", "error", diverge_names);
  s.coupled = lhs_optboolfield(L, 1, 1, "coupled", 0);
  int sde = s.model.method != HS_SGD;
  s.substeps = (size_t)lhs_optintfield(L, 1, 1, "substeps", sde ? SUBSTEPS_DEFAULT : 1, 1,
                                       1000000);
  s.integrator = (hs_integrator)lhs_optchoicefield(
      L, 1, 1, "integrator", sde && hs_sim_linear(&s) ? "exact" : "euler", integrator_names);
  if (!sde) s.integrator = HS_EULER;   /* SGD is its own recursion: no integrator applies */
  if (s.integrator == HS_EXACT && !hs_sim_linear(&s))
    lhs_fielderror(L, 1, "integrator", "'exact' needs a quadratic objective (hasme.quadratic) "
                   "with constant Gaussian noise or none; use 'euler'");

  /* x0 (slot 4): a vector, or a matrix with one row per path */
  if (lua_getfield(L, 1, "x0") == LUA_TNIL) lhs_fielderror(L, 1, "x0", "vector expected, got nil");
  int permat = lhs_tomat(L, 4) != NULL;
  if (!permat && lua_type(L, 4) == LUA_TTABLE) {
    int t1 = lua_geti(L, 4, 1);
    permat = t1 == LUA_TTABLE || lhs_tovec(L, -1) != NULL;
    lua_pop(L, 1);
  }
  if (permat) {
    lhs_mat *X0 = lhs_checkmat_at(L, 4, 1, "x0");
    if (X0->rows != s.paths || X0->cols != d)
      lhs_fielderror(L, 1, "x0", "matrix of %I x %I (paths x dim) expected, got %Ix%I",
                     (lua_Integer)s.paths, (lua_Integer)d, (lua_Integer)X0->rows,
                     (lua_Integer)X0->cols);
    s.x0 = X0->data;
    s.x0_per_path = 1;
  }
  else s.x0 = lhs_checkvecn_at(L, 4, 1, "x0", d)->data;
  for (size_t i = 0; i < (s.x0_per_path ? s.paths : 1) * d; i++)
    if (!isfinite(s.x0[i])) lhs_fielderror(L, 1, "x0", "non-finite entry at index %I", (lua_Integer)i + 1);

  /* record (slot 5) */
  s.record = checkrecord(L, s.steps, &s.nrecord);

  /* escape (slot 6; slot 7 holds the wrapper of a Lua predicate) */
  int escidx = 6;
  if (lua_getfield(L, 1, "escape") != LUA_TNIL) {
    if (lua_type(L, 6) == LUA_TFUNCTION) escidx = 7;
    int idx = lua_gettop(L);
    s.escape = lhs_toescape(L, idx, d);
    if (s.escape == NULL)
      lhs_fielderror(L, 1, "escape", "function or hasme.Escape expected, got %s",
                     luaL_typename(L, idx));
    if (s.escape->dim != 0 && s.escape->dim != d)
      lhs_fielderror(L, 1, "escape", "criterion of dimension %I used with dimension %I",
                     (lua_Integer)s.escape->dim, (lua_Integer)d);
  }
  lua_settop(L, 7);

  /* progress (slot 7 holds nothing; the ref keeps the function) */
  progress pg = {L, LUA_NOREF, 0, LUA_NOREF};
  if (lua_getfield(L, 1, "progress") != LUA_TNIL) {
    if (lua_type(L, -1) != LUA_TFUNCTION)
      lhs_fielderror(L, 1, "progress", "function expected, got %s", luaL_typename(L, -1));
    lua_pushvalue(L, -1);
    pg.ref = luaL_ref(L, LUA_REGISTRYINDEX);
    s.progress = callprogress;
    s.progress_ctx = &pg;
  }
  s.progress_interval = lhs_optnumfield(L, 1, 1, "progress_interval", 0.2);
  if (!(s.progress_interval >= 0.0) || !isfinite(s.progress_interval))
    lhs_fielderror(L, 1, "progress_interval", "must be a non-negative number of seconds "
                   "(got %f)", (lua_Number)s.progress_interval);
  lua_settop(L, 7);

  /* The memory the outputs need, against the limit, before allocating anything. */
  size_t nsnap, npaths;
  size_t limit = checkbytes(L, 1, "memory_limit", hs_physmem() / 2);
  if (hs_sim_sizes(&s, &nsnap, &npaths) != HS_OK)
    return luaL_error(L, "simulate: the snapshots (%I steps x %I paths x %I dims) are too "
                      "large to count", (lua_Integer)s.nrecord, (lua_Integer)s.paths,
                      (lua_Integer)d);
  double arrays = (s.escape != NULL) + s.record_diverged + s.record_undefined;
  double need = 8.0 * ((double)nsnap + arrays * (double)npaths);
  if (limit > 0 && need > (double)limit) {
    char a[32], b[32];
    formatbytes(a, sizeof a, need);
    formatbytes(b, sizeof b, (double)limit);
    return luaL_error(L, "simulate: the results need %s (%I recorded steps x %I paths x %I "
                      "dims), more than memory_limit = %s; record fewer steps or raise "
                      "memory_limit", a, (lua_Integer)s.nrecord, (lua_Integer)s.paths,
                      (lua_Integer)d, b);
  }

  /* The result and its storage (all garbage-collected). */
  lresult *r = (lresult *)lua_newuserdatauv(L, sizeof(lresult), 7);   /* slot 8 */
  memset(r, 0, sizeof *r);
  luaL_setmetatable(L, LHS_RESULT);
  r->dim = d;
  r->paths = s.paths;
  r->nrecord = s.nrecord;
  hs_sim_out out;
  memset(&out, 0, sizeof out);
  r->snap = out.snap = (double *)lua_newuserdatauv(L, (nsnap > 0 ? nsnap : 1) * sizeof(double), 0);
  lua_setiuservalue(L, 8, 1);
  if (s.escape != NULL) {
    r->esc = out.escape_step = (int64_t *)lua_newuserdatauv(L, npaths * sizeof(int64_t), 0);
    lua_setiuservalue(L, 8, 2);
  }
  if (s.record_diverged) {
    r->div = out.diverge_step = (int64_t *)lua_newuserdatauv(L, npaths * sizeof(int64_t), 0);
    lua_setiuservalue(L, 8, 3);
  }
  if (s.record_undefined) {
    r->undef = out.undefined_step = (int64_t *)lua_newuserdatauv(L, npaths * sizeof(int64_t), 0);
    lua_setiuservalue(L, 8, 7);
  }
  lua_pushvalue(L, 5);
  r->rec = (size_t *)lua_touserdata(L, 5);
  lua_setiuservalue(L, 8, 5);
  lua_pushvalue(L, 2);
  lua_setiuservalue(L, 8, 6);

  /* slot 9: worker states for Lua callbacks, when they help */
  char whynot[256];
  size_t nworkers = makeworkers(L, &s, escidx, whynot, sizeof whynot);
  lua_settop(L, 9);
  struct sigaction sa, old;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = oninterrupt;
  sigemptyset(&sa.sa_mask);
  interrupted = 0;
  s.interrupt = &interrupted;
  int handled = sigaction(SIGINT, &sa, &old) == 0;
  hs_status st = hs_sim_run(&s, &out);
  if (handled) sigaction(SIGINT, &old, NULL);
  if (pg.ref != LUA_NOREF) luaL_unref(L, LUA_REGISTRYINDEX, pg.ref);
  if (nworkers > 0) {
    lua_pushcfunction(L, workers_close);
    lua_pushvalue(L, 9);
    lua_call(L, 1, 0);
  }
  if (st != HS_OK) return simerror(L, &s, &out, &pg);

  lua_createtable(L, 0, 20);
  setinfo_s(L, "method", method_names[s.model.method]);
  setinfo_s(L, "integrator", sde ? integrator_names[s.integrator] : "discrete");
  setinfo_n(L, "eta", s.model.eta);
  setinfo_i(L, "steps", (lua_Integer)s.steps);
  setinfo_i(L, "substeps", (lua_Integer)s.substeps);
  setinfo_i(L, "paths", (lua_Integer)s.paths);
  setinfo_i(L, "dim", (lua_Integer)d);
  setinfo_i(L, "seed", (lua_Integer)s.seed);
  setinfo_i(L, "threads", (lua_Integer)out.threads_used);
  setinfo_n(L, "elapsed", out.elapsed);
  setinfo_s(L, "kernel", out.kernel);
  setinfo_i(L, "escaped", (lua_Integer)out.escaped);
  setinfo_i(L, "diverged", (lua_Integer)out.diverged);
  setinfo_i(L, "undefined", (lua_Integer)out.undefined);
  setinfo_s(L, "on_domain", diverge_names[s.record_undefined]);
  setinfo_i(L, "projected", (lua_Integer)out.projected);
  lua_pushboolean(L, s.coupled);
  lua_setfield(L, -2, "coupled");
  setinfo_s(L, "objective", obj->type->name);
  static const char *const noise_names[] = {"none", "isotropic", "constant", "state",
                                            "minibatch"};
  setinfo_s(L, "noise", noise_names[nz->kind]);
  setinfo_s(L, "on_diverge", diverge_names[s.record_diverged]);
  setinfo_s(L, "psd", psd_names[s.model.psd_project]);
  setinfo_i(L, "worker_states", (lua_Integer)nworkers);
  if (whynot[0] != '\0') setinfo_s(L, "threads_note", whynot);
  lua_setiuservalue(L, 8, 4);
  lua_settop(L, 8);
  return 1;
}

/* }==================================================================== */

/* {====================================================================
** hasme.exact_moments
** ===================================================================== */

/* hasme.exact_moments{objective = q, noise = n, method = m, eta = e, x0 = v, step = k,
** psd = 'error'}: the closed-form mean and covariance of x_k (MATH.md section 3). */
static int sim_exact_moments(lua_State *L) {
  static const char *const known[] = {"objective", "noise", "method", "eta", "x0", "step",
                                      "psd", "psd_tol", NULL};
  static const char *const psd_names[] = {"error", "project", NULL};
  luaL_checktype(L, 1, LUA_TTABLE);
  lhs_checkfields(L, 1, 1, known);
  if (lua_getfield(L, 1, "objective") == LUA_TNIL)
    lhs_fielderror(L, 1, "objective", "hasme.Objective expected, got nil");
  hs_objective *o = lhs_checkobjective(L, 2, 1, "objective");
  if (o->type != &hs_quadratic_type)
    lhs_fielderror(L, 1, "objective", "closed forms exist for quadratics (hasme.quadratic) only");
  size_t d = o->dim;
  const hs_noise *nz = &nonoise;
  if (lua_getfield(L, 1, "noise") != LUA_TNIL) nz = lhs_checknoise(L, 3, 1, "noise", d);
  if (nz->kind != HS_NOISE_NONE && nz->kind != HS_NOISE_ISO && nz->kind != HS_NOISE_CONST)
    lhs_fielderror(L, 1, "noise", "closed forms need constant Gaussian noise");
  if (lua_getfield(L, 1, "eta") == LUA_TNIL) lhs_fielderror(L, 1, "eta", "number expected, got nil");
  lua_pop(L, 1);
  hs_model m = {(hs_method)lhs_optchoicefield(L, 1, 1, "method", "sgd", method_names), d,
                lhs_optnumfield(L, 1, 1, "eta", 0.0), o, nz,
                lhs_optchoicefield(L, 1, 1, "psd", "error", psd_names),
                lhs_optnumfield(L, 1, 1, "psd_tol", PSD_TOL_DEFAULT)};
  if (!(m.eta > 0.0) || !isfinite(m.eta))
    lhs_fielderror(L, 1, "eta", "must be positive and finite (got %f)", (lua_Number)m.eta);
  if (lua_getfield(L, 1, "x0") == LUA_TNIL) lhs_fielderror(L, 1, "x0", "vector expected, got nil");
  lhs_vec *x0 = lhs_checkvecn_at(L, 4, 1, "x0", d);
  lua_Integer k = lhs_optintfield(L, 1, 1, "step", -1, 0, LUA_MAXINTEGER);
  if (k < 0) lhs_fielderror(L, 1, "step", "integer expected, got nil");
  double *Sigma = NULL;
  if (nz->kind != HS_NOISE_NONE) {
    Sigma = (double *)lua_newuserdatauv(L, d * d * sizeof(double), 0);
    hs_objective dummy = {NULL, d, 0, 0, 1, NULL};
    hs_noise_cov(nz, &dummy, x0->data, Sigma, NULL);
  }
  const hs_quadratic_params *q = o->params;
  lhs_vec *mean = lhs_newvec(L, d);
  lhs_mat *cov = lhs_newmat(L, d, d);
  hs_model_info info = {0.0, 0, NULL};
  hs_status st = hs_exact_moments(&m, q->H, q->b, Sigma, x0->data, (size_t)k, mean->data,
                                  cov->data, &info);
  if (st == HS_EDOM)
    return luaL_error(L, "exact_moments: HA-SME is undefined: eta*lambda_max = %f >= 1 "
                      "(lambda_max = %f)", (lua_Number)(m.eta * info.value), (lua_Number)info.value);
  if (st == HS_ENOTPSD)
    return luaL_error(L, "exact_moments: the HA-SME diffusion is not positive semidefinite "
                      "(eigenvalue %f); pass psd = 'project' to clip it", (lua_Number)info.value);
  if (st != HS_OK) return lhs_statuserror(L, st, "exact_moments", NULL);
  return 2;
}

/* }==================================================================== */

static const luaL_Reg res_methods[] = {
  {"cov", res_cov},
  {"diverged_steps", res_diverged_steps},
  {"undefined_steps", res_undefined_steps},
  {"escape_steps", res_escape_steps},
  {"info", res_info},
  {"mean", res_mean},
  {"record_steps", res_record_steps},
  {"snapshot", res_snapshot},
  {"values", res_values},
  {NULL, NULL}
};

void lhs_open_sim(lua_State *L) {
  luaL_newmetatable(L, LHS_RESULT);
  lua_newtable(L);
  luaL_setfuncs(L, res_methods, 0);
  lua_pushcclosure(L, res_index, 1);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, res_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pop(L, 1);
  luaL_newmetatable(L, LHS_WORKERS);
  lua_pushcfunction(L, workers_close);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
  lua_pushcfunction(L, sim_simulate);
  lua_setfield(L, -2, "simulate");
  lua_pushcfunction(L, sim_exact_moments);
  lua_setfield(L, -2, "exact_moments");
}
