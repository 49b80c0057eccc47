/*
** lhs_observe.c: the `observe` option (parsing, Lua observables called from the core,
** their worker copies, error messages) and hasme.Observed, the figures a Result
** reads with r:observed, r:weak_error and r:observations.
*/
#include "lhs_observe.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hs_nn.h"

/* {====================================================================
** The set of observables
**
** One userdata holds the struct, then nobs hs_obs, nobs callbacks and the network
** inputs; user value 1 is the list of names, which keeps the strings the callbacks
** name in their messages alive, and observable o's callback keeps its Lua values in
** user values 2 + LHS_CB_NUV o onwards (lhs_callback.h).
** ===================================================================== */

typedef struct lobs {
  lhs_cb cb;           /* the Lua function of a CALLBACK observable */
  const char *name;
} lobs;

struct lhs_obsset {
  size_t nobs, ninput;
  int has_lua;
  hs_observe set;
  hs_obs *obs;
  lobs *cbs;
  double *inputs;
};

static lhs_obsset *newset(lua_State *L, size_t nobs, size_t ninput) {
  size_t bytes = sizeof(lhs_obsset) + nobs * (sizeof(hs_obs) + sizeof(lobs)) +
                 ninput * sizeof(double);
  lhs_obsset *s = (lhs_obsset *)lua_newuserdatauv(L, bytes, 1 + LHS_CB_NUV * (int)nobs);
  memset(s, 0, bytes);
  s->nobs = nobs;
  s->ninput = ninput;
  s->obs = (hs_obs *)(void *)(s + 1);
  s->cbs = (lobs *)(void *)(s->obs + nobs);
  s->inputs = (double *)(void *)(s->cbs + nobs);
  for (size_t o = 0; o < nobs; o++)
    lhs_cb_init(&s->cbs[o].cb, "observable", 2 + LHS_CB_NUV * (int)o);
  s->set.nobs = nobs;
  s->set.obs = s->obs;
  luaL_setmetatable(L, LHS_OBSSET);
  return s;
}

static int set_gc(lua_State *L) {
  lhs_obsset *s = (lhs_obsset *)luaL_checkudata(L, 1, LHS_OBSSET);
  for (size_t o = 0; o < s->nobs; o++) lhs_cb_release(L, &s->cbs[o].cb, 0);
  return 0;
}

/* The core's callback: the Lua function's result must be a number (the core itself
** rejects inf and NaN, naming the path and step). */
static hs_status luaobs(void *ctx, const double *x, size_t d, double *out) {
  lobs *c = ctx;
  (void)d;
  hs_status st = lhs_cb_call(&c->cb, x, 1);
  if (st != HS_OK) return st;
  lua_State *L = c->cb.L;
  if (lua_type(L, -1) != LUA_TNUMBER) {
    const char *tn = luaL_typename(L, -1);   /* a static string */
    lhs_cb_done(&c->cb);
    return lhs_cb_fail(&c->cb, "returned %s, expected a number", tn);
  }
  *out = (double)lua_tonumber(L, -1);
  lhs_cb_done(&c->cb);
  return HS_OK;
}

static const char *luaobs_errmsg(void *ctx) {
  return lhs_cb_errmsg(&((lobs *)ctx)->cb);
}

#define EXPECTED "expected 'value', 'dist2', 'x<i>', 'x<i>x<j>', {output = input} or " \
                 "a function of x"

/* A coordinate index written at s (digits); 0 when there are none or too many. */
static size_t readindex(const char **s) {
  size_t v = 0, n = 0;
  while (**s >= '0' && **s <= '9' && n < 9) v = v * 10 + (size_t)(*(*s)++ - '0'), n++;
  return n > 0 && !(**s >= '0' && **s <= '9') ? v : 0;
}

/* Parse a built-in name into g; 0 when it is not one. */
static int builtin(const char *s, hs_obs *g, size_t *i, size_t *j) {
  *i = *j = 0;
  if (strcmp(s, "value") == 0) return g->kind = HS_OBS_VALUE, 1;
  if (strcmp(s, "dist2") == 0) return g->kind = HS_OBS_DIST2, 1;
  if (*s++ != 'x') return 0;
  if ((*i = readindex(&s)) == 0) return 0;
  if (*s == '\0') return g->kind = HS_OBS_X, 1;
  if (*s++ != 'x') return 0;
  if ((*j = readindex(&s)) == 0 || *s != '\0') return 0;
  return g->kind = HS_OBS_XX, 1;
}

/* Observable o named `name` from the spec at stack index v. */
static void parsespec(lua_State *L, int arg, lhs_obsset *s, int si, size_t o,
                      const char *name, int v, const hs_objective *obj, size_t *inputpos) {
  hs_obs *g = &s->obs[o];
  size_t d = obj->dim;
  switch (lua_type(L, v)) {
    case LUA_TSTRING: {
      size_t i, j;
      const char *spec = lua_tostring(L, v);
      if (!builtin(spec, g, &i, &j))
        lhs_fielderror(L, arg, "observe", "unknown built-in '%s' for '%s' (" EXPECTED ")",
                       spec, name);
      if (i > d || j > d)
        lhs_fielderror(L, arg, "observe", "'%s' for '%s' names coordinate %I of a "
                       "%I-dimensional state", spec, name, (lua_Integer)(i > d ? i : j),
                       (lua_Integer)d);
      g->i = i > 0 ? i - 1 : 0;
      g->j = j > 0 ? j - 1 : 0;
      return;
    }
    case LUA_TFUNCTION:
      g->kind = HS_OBS_CALLBACK;
      s->cbs[o].name = name;
      lhs_cb_set(L, &s->cbs[o].cb, si, v, d);
      g->fn = luaobs;
      g->ctx = &s->cbs[o];
      g->errmsg = luaobs_errmsg;
      g->thread_safe = 0;
      s->has_lua = 1;
      return;
    case LUA_TTABLE: {
      if (lua_getfield(L, v, "output") == LUA_TNIL)
        lhs_fielderror(L, arg, "observe", "table for '%s' without 'output' (" EXPECTED ")",
                       name);
      if (obj->type != &hs_nn_type)
        lhs_fielderror(L, arg, "observe", "{output = ...} for '%s' needs a network "
                       "objective (hasme.nn)", name);
      const hs_nn_params *P = obj->params;
      lhs_vec *in = lhs_checkvec_at(L, lua_gettop(L), arg, "observe");
      if (in->n != P->p)
        lhs_fielderror(L, arg, "observe", "output input for '%s' has %I entries, the "
                       "network takes %I", name, (lua_Integer)in->n, (lua_Integer)P->p);
      for (size_t k = 0; k < in->n; k++)
        if (!isfinite(in->data[k]))
          lhs_fielderror(L, arg, "observe", "output input for '%s' has a non-finite "
                         "entry at index %I", name, (lua_Integer)k + 1);
      memcpy(s->inputs + *inputpos, in->data, in->n * sizeof(double));
      g->kind = HS_OBS_NN_OUTPUT;
      g->input = s->inputs + *inputpos;
      *inputpos += in->n;
      lua_settop(L, v);
      return;
    }
    default:
      lhs_fielderror(L, arg, "observe", "'%s' must be a built-in name, {output = input} or "
                     "a function, got %s", name, luaL_typename(L, v));
  }
}

/* Sort the names of the list at index t (1..n) in place (insertion sort: few). */
static void sortnames(lua_State *L, int t, lua_Integer from, lua_Integer n) {
  for (lua_Integer i = from + 1; i <= n; i++)
    for (lua_Integer j = i; j > from; j--) {
      lua_rawgeti(L, t, j - 1);
      lua_rawgeti(L, t, j);
      int less = strcmp(lua_tostring(L, -1), lua_tostring(L, -2)) < 0;
      if (less) {
        lua_rawseti(L, t, j - 1);
        lua_rawseti(L, t, j);
      }
      else {
        lua_pop(L, 2);
        break;
      }
    }
}

const hs_observe *lhs_observe_check(lua_State *L, int idx, int arg,
                                    const hs_objective *obj) {
  idx = lua_absindex(L, idx);
  if (lua_type(L, idx) != LUA_TTABLE)
    lhs_fielderror(L, arg, "observe", "table of observables expected, got %s",
                   luaL_typename(L, idx));
  lua_newtable(L);                         /* names, in order */
  int names = lua_gettop(L);
  lua_newtable(L);                         /* name -> spec */
  int specs = lua_gettop(L);
  lua_Integer n = 0, len = (lua_Integer)lua_rawlen(L, idx);
  for (lua_Integer i = 1; i <= len; i++) {
    lua_rawgeti(L, idx, i);
    if (lua_type(L, -1) != LUA_TSTRING)
      lhs_fielderror(L, arg, "observe", "%s at index %I needs a name (name = spec)",
                     luaL_typename(L, -1), i);
    lua_pushvalue(L, -1);
    if (lua_rawget(L, specs) != LUA_TNIL)
      lhs_fielderror(L, arg, "observe", "name '%s' used twice", lua_tostring(L, -2));
    lua_pop(L, 1);
    lua_pushvalue(L, -1);
    lua_pushvalue(L, -2);
    lua_rawset(L, specs);
    lua_rawseti(L, names, ++n);
  }
  lua_Integer listed = n;
  lua_pushnil(L);
  while (lua_next(L, idx) != 0) {
    if (lua_isinteger(L, -2)) {
      lua_Integer k = lua_tointeger(L, -2);
      if (k >= 1 && k <= len) { lua_pop(L, 1); continue; }
    }
    if (lua_type(L, -2) != LUA_TSTRING)
      lhs_fielderror(L, arg, "observe", "key of type %s, expected a name (string)",
                     luaL_typename(L, -2));
    lua_pushvalue(L, -2);
    if (lua_rawget(L, specs) != LUA_TNIL)
      lhs_fielderror(L, arg, "observe", "name '%s' used twice", lua_tostring(L, -3));
    lua_pop(L, 1);
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_rawset(L, specs);                  /* specs[name] = spec; the key stays */
    lua_pushvalue(L, -1);
    lua_rawseti(L, names, ++n);
  }
  if (n == 0) lhs_fielderror(L, arg, "observe", "no observable given");
  sortnames(L, names, listed + 1, n);
  size_t ninput = 0;
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, names, i);
    lua_rawget(L, specs);
    if (lua_type(L, -1) == LUA_TTABLE && obj->type == &hs_nn_type)
      ninput += ((const hs_nn_params *)obj->params)->p;
    lua_pop(L, 1);
  }
  lhs_obsset *s = newset(L, (size_t)n, ninput);
  int si = lua_gettop(L);
  lua_pushvalue(L, names);
  lua_setiuservalue(L, si, 1);
  size_t pos = 0;
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, names, i);
    const char *name = lua_tostring(L, -1);   /* held by the names list */
    lua_pushvalue(L, -1);
    lua_rawget(L, specs);
    parsespec(L, arg, s, si, (size_t)i - 1, name, lua_gettop(L), obj, &pos);
    s->cbs[i - 1].name = name;
    lua_settop(L, si);
  }
  size_t bad;
  if (hs_observe_check(&s->set, obj, &bad) != HS_OK)   /* parsespec checked it all */
    lhs_fielderror(L, arg, "observe", "invalid observable '%s'", s->cbs[bad].name);
  lua_replace(L, names);                   /* leave only the set */
  lua_settop(L, names);
  return &s->set;
}

const char *lhs_observe_name(lua_State *L, int idx, size_t o) {
  lhs_obsset *s = (lhs_obsset *)luaL_checkudata(L, idx, LHS_OBSSET);
  return o < s->nobs ? s->cbs[o].name : "?";
}

int lhs_observe_replica(lhs_xfer *x, int idx, const hs_observe **out) {
  lhs_obsset *p = (lhs_obsset *)luaL_checkudata(x->from, idx, LHS_OBSSET);
  *out = NULL;
  if (!p->has_lua) return 1;
  lua_State *T = x->to;
  lhs_obsset *q = newset(T, p->nobs, p->ninput);
  int qi = lua_gettop(T);
  memcpy(q->inputs, p->inputs, p->ninput * sizeof(double));
  q->has_lua = 1;
  for (size_t o = 0; o < p->nobs; o++) {
    q->obs[o] = p->obs[o];
    q->cbs[o].name = p->cbs[o].name;   /* the original's names outlive the run */
    if (p->obs[o].kind == HS_OBS_NN_OUTPUT)
      q->obs[o].input = q->inputs + (p->obs[o].input - p->inputs);
    if (p->obs[o].kind != HS_OBS_CALLBACK) continue;
    if (!lhs_cb_replicate(x, lua_absindex(x->from, idx), &p->cbs[o].cb, qi, &q->cbs[o].cb,
                          p->cbs[o].cb.xv->n)) {
      lua_settop(T, qi - 1);
      return 0;
    }
    q->obs[o].ctx = &q->cbs[o];
  }
  *out = &q->set;
  luaL_ref(T, LUA_REGISTRYINDEX);   /* lives as long as the worker state */
  return 1;
}

const char *lhs_observe_pusherror(lua_State *L, int setidx, size_t o, hs_status st,
                                  double value, const char *cbmsg, lua_Integer path,
                                  lua_Integer step) {
  const char *name = lhs_observe_name(L, setidx, o);
  if (st == HS_EDOM) {
    char v[32];
    snprintf(v, sizeof v, "%g", value);
    return lua_pushfstring(L, "observable '%s' returned %s at path %I, step %I", name, v,
                           path, step);
  }
  if (st == HS_ECALLBACK)
    return lua_pushfstring(L, "error in observable '%s' at path %I, step %I: %s", name,
                           path, step, cbmsg != NULL ? cbmsg : "");
  return lua_pushfstring(L, "observable '%s' failed at path %I, step %I (%s)", name, path,
                         step, hs_strstatus(st));
}

/* }==================================================================== */

/* {====================================================================
** hasme.Observed: user value 1 the set, 2 the list of method names
** ===================================================================== */

typedef struct lobserved {
  size_t nmethods, nobs, nrec, ref;
  hs_obs_stats **stats;
  hs_obs_stats **bias;   /* NULL, or per method the extrapolation's correction */
  size_t *rec;
} lobserved;

static int observed_gc(lua_State *L) {
  lobserved *r = (lobserved *)luaL_checkudata(L, 1, LHS_OBSERVED);
  if (r->stats != NULL)
    for (size_t m = 0; m < r->nmethods; m++) hs_obs_stats_free(r->stats[m]);
  free(r->stats);
  if (r->bias != NULL)
    for (size_t m = 0; m < r->nmethods; m++) hs_obs_stats_free(r->bias[m]);
  free(r->bias);
  r->bias = NULL;
  free(r->rec);
  r->stats = NULL;
  r->rec = NULL;
  return 0;
}

hs_obs_stats **lhs_observed_new(lua_State *L, int setidx, int names, size_t nmethods,
                                size_t ref, const size_t *rec, size_t nrec) {
  setidx = lua_absindex(L, setidx);
  names = lua_absindex(L, names);
  lhs_obsset *set = (lhs_obsset *)luaL_checkudata(L, setidx, LHS_OBSSET);
  lobserved *r = (lobserved *)lua_newuserdatauv(L, sizeof(lobserved), 2);
  memset(r, 0, sizeof *r);
  luaL_setmetatable(L, LHS_OBSERVED);
  r->nmethods = nmethods;
  r->nobs = set->nobs;
  r->nrec = nrec;
  r->ref = ref;
  r->stats = calloc(nmethods > 0 ? nmethods : 1, sizeof(hs_obs_stats *));
  r->rec = malloc((nrec > 0 ? nrec : 1) * sizeof(size_t));
  if (r->stats == NULL || r->rec == NULL) luaL_error(L, "not enough memory");
  memcpy(r->rec, rec, nrec * sizeof(size_t));
  for (size_t m = 0; m < nmethods; m++) {
    r->stats[m] = hs_obs_stats_alloc(set->nobs, nrec, ref < nmethods);
    if (r->stats[m] == NULL) luaL_error(L, "not enough memory");
  }
  lua_pushvalue(L, setidx);
  lua_setiuservalue(L, -2, 1);
  lua_pushvalue(L, names);
  lua_setiuservalue(L, -2, 2);
  return r->stats;
}

static lobserved *toobserved(lua_State *L, int obs) {
  return (lobserved *)luaL_checkudata(L, obs, LHS_OBSERVED);
}

hs_obs_stats **lhs_observed_bias(lua_State *L, int obs, const int *which) {
  lobserved *r = toobserved(L, obs);
  r->bias = calloc(r->nmethods > 0 ? r->nmethods : 1, sizeof(hs_obs_stats *));
  if (r->bias == NULL) luaL_error(L, "not enough memory");
  for (size_t m = 0; m < r->nmethods; m++)
    if (which[m]) {
      r->bias[m] = hs_obs_stats_alloc(r->nobs, r->nrec, 0);
      if (r->bias[m] == NULL) luaL_error(L, "not enough memory");
    }
  return r->bias;
}

/* The index of method m in the Observed's list. */
static size_t methodindex(lua_State *L, int obs, const lobserved *r, const char *m) {
  lua_getiuservalue(L, obs, 2);
  for (size_t i = 0; i < r->nmethods; i++) {
    lua_rawgeti(L, -1, (lua_Integer)i + 1);
    int same = strcmp(lua_tostring(L, -1), m) == 0;
    lua_pop(L, 1);
    if (same) {
      lua_pop(L, 1);
      return i;
    }
  }
  lua_pop(L, 1);
  return luaL_error(L, "observed figures hold no method '%s'", m), 0;
}

/* The observable named by argument 2 (a string). */
static size_t obsindex(lua_State *L, int obs, const lobserved *r) {
  const char *name = luaL_checkstring(L, 2);
  lua_getiuservalue(L, obs, 1);
  int set = lua_gettop(L);
  for (size_t o = 0; o < r->nobs; o++)
    if (strcmp(lhs_observe_name(L, set, o), name) == 0) {
      lua_pop(L, 1);
      return o;
    }
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (size_t o = 0; o < r->nobs; o++) {
    if (o > 0) luaL_addstring(&b, ", ");
    luaL_addstring(&b, lhs_observe_name(L, set, o));
  }
  luaL_pushresult(&b);
  luaL_argerror(L, 2, lua_pushfstring(L, "no observable named '%s' (observed: %s)", name,
                                      lua_tostring(L, -1)));
  return 0;
}

/* The index of the recorded step given as argument 3 (default the last). */
static size_t stepindex(lua_State *L, const lobserved *r) {
  if (lua_isnoneornil(L, 3)) return r->nrec - 1;
  lua_Integer k = luaL_checkinteger(L, 3);
  for (size_t i = 0; i < r->nrec; i++)
    if ((lua_Integer)r->rec[i] == k) return i;
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (size_t i = 0; i < r->nrec && i < 12; i++) {
    if (i > 0) luaL_addstring(&b, ", ");
    lua_pushinteger(L, (lua_Integer)r->rec[i]);
    luaL_addvalue(&b);
  }
  if (r->nrec > 12) luaL_addstring(&b, ", ...");
  luaL_pushresult(&b);
  luaL_argerror(L, 3, lua_pushfstring(L, "step %I was not recorded (recorded: %s)", k,
                                      lua_tostring(L, -1)));
  return 0;
}

int lhs_observed_mean(lua_State *L, int obs, const char *m) {
  obs = lua_absindex(L, obs);
  lobserved *r = toobserved(L, obs);
  size_t mi = methodindex(L, obs, r, m), o = obsindex(L, obs, r),
         ri = stepindex(L, r);
  hs_obs_acc *a = &r->stats[mi]->val[ri * r->nobs + o];
  double mean, se, sd;
  hs_obs_acc_moments(a, &mean, &se, &sd);
  if (a->n == 0)
    return luaL_error(L, "observed: no path holds a state at step %I (every path diverged "
                      "or left the model's domain)", (lua_Integer)r->rec[ri]);
  lua_pushnumber(L, (lua_Number)mean);
  lua_pushnumber(L, (lua_Number)se);
  return 2;
}

int lhs_observed_weak(lua_State *L, int obs, const char *m) {
  obs = lua_absindex(L, obs);
  lobserved *r = toobserved(L, obs);
  size_t mi = methodindex(L, obs, r, m), o = obsindex(L, obs, r),
         ri = stepindex(L, r);
  if (r->ref >= r->nmethods)
    return luaL_error(L, "weak_error: the run has no reference method (paired differences "
                      "come from hasme.compare with observe)");
  if (mi == r->ref) {
    lua_pushnumber(L, 0.0);
    lua_pushnumber(L, 0.0);
    return 2;
  }
  hs_obs_acc *a = &r->stats[mi]->diff[ri * r->nobs + o];
  double mean, se, sd;
  hs_obs_acc_moments(a, &mean, &se, &sd);
  if (a->n < 2)
    return luaL_error(L, "weak_error: fewer than 2 paths hold a state in both methods at "
                      "step %I", (lua_Integer)r->rec[ri]);
  lua_pushnumber(L, (lua_Number)mean);
  lua_pushnumber(L, (lua_Number)se);
  return 2;
}

int lhs_observed_dtbias(lua_State *L, int obs, const char *m) {
  obs = lua_absindex(L, obs);
  lobserved *r = toobserved(L, obs);
  size_t mi = methodindex(L, obs, r, m), o = obsindex(L, obs, r),
         ri = stepindex(L, r);
  if (r->bias == NULL || r->bias[mi] == NULL)
    return luaL_error(L, "dt_bias: method '%s' was not extrapolated (integrator = "
                      "'extrapolate' of hasme.compare applies to the SDE models)", m);
  hs_obs_acc *a = &r->bias[mi]->val[ri * r->nobs + o];
  double mean, se, sd;
  hs_obs_acc_moments(a, &mean, &se, &sd);
  if (a->n < 2)
    return luaL_error(L, "dt_bias: fewer than 2 paths hold a state in both runs at step %I",
                      (lua_Integer)r->rec[ri]);
  lua_pushnumber(L, (lua_Number)mean);
  lua_pushnumber(L, (lua_Number)se);
  return 2;
}

static void setnum(lua_State *L, const char *k, double v) {
  lua_pushnumber(L, (lua_Number)v);
  lua_setfield(L, -2, k);
}

int lhs_observed_rows(lua_State *L, int obs, const char *m) {
  obs = lua_absindex(L, obs);
  lobserved *r = toobserved(L, obs);
  size_t mi = methodindex(L, obs, r, m);
  lua_getiuservalue(L, obs, 1);
  int set = lua_gettop(L);
  const char *refname = NULL;
  if (r->ref < r->nmethods) {
    lua_getiuservalue(L, obs, 2);
    lua_rawgeti(L, -1, (lua_Integer)r->ref + 1);
    lua_replace(L, -2);
    refname = lua_tostring(L, -1);   /* kept on the stack below the rows */
  }
  lua_createtable(L, (int)(r->nrec * r->nobs), 0);
  lua_Integer row = 0;
  for (size_t ri = 0; ri < r->nrec; ri++)
    for (size_t o = 0; o < r->nobs; o++) {
      hs_obs_acc *a = &r->stats[mi]->val[ri * r->nobs + o];
      double mean, se, sd;
      hs_obs_acc_moments(a, &mean, &se, &sd);
      lua_createtable(L, 0, 10);
      lua_pushstring(L, lhs_observe_name(L, set, o));
      lua_setfield(L, -2, "name");
      lua_pushinteger(L, (lua_Integer)r->rec[ri]);
      lua_setfield(L, -2, "step");
      lua_pushstring(L, m);
      lua_setfield(L, -2, "method");
      lua_pushinteger(L, (lua_Integer)a->n);
      lua_setfield(L, -2, "n");
      setnum(L, "mean", mean);
      setnum(L, "se", se);
      setnum(L, "sd", sd);
      if (refname != NULL) {
        double dm = 0.0, dse = 0.0, dsd = 0.0;
        if (mi != r->ref) hs_obs_acc_moments(&r->stats[mi]->diff[ri * r->nobs + o], &dm, &dse, &dsd);
        lua_pushstring(L, refname);
        lua_setfield(L, -2, "reference");
        setnum(L, "weak_error", dm);
        setnum(L, "weak_error_se", dse);
        setnum(L, "weak_error_sd", dsd);
      }
      if (r->bias != NULL && r->bias[mi] != NULL) {
        double bm, bse, bsd;
        hs_obs_acc_moments(&r->bias[mi]->val[ri * r->nobs + o], &bm, &bse, &bsd);
        setnum(L, "dt_bias", bm);
        setnum(L, "dt_bias_se", bse);
      }
      lua_rawseti(L, -2, ++row);
    }
  return 1;
}

/* }==================================================================== */

void lhs_open_observe(lua_State *L) {
  static const luaL_Reg set_meta[] = {{"__gc", set_gc}, {NULL, NULL}};
  static const luaL_Reg observed_meta[] = {{"__gc", observed_gc}, {NULL, NULL}};
  lhs_newclass(L, LHS_OBSSET, NULL, set_meta);
  lhs_newclass(L, LHS_OBSERVED, NULL, observed_meta);
}
