/*
** lhs_sim.c: hasme.simulate, hasme.exact_moments and hasme.methods. simulate reads
** its options into the core's configuration (hs_sim), lets the core check it (every
** check and its message live in hs_sim_config.c), allocate the outputs into a
** hasme.Result (lhs_result.c) and run, and pushes the result. What stays here is
** what only a binding can do: turning Lua values into C ones, copies of Lua callbacks
** for worker threads (a hook the core calls), Ctrl-C, and the Lua error messages.
**
** Nothing a call holds can leak when it raises: Lua values stay on the stack (the
** progress function and its error in fixed slots), the outputs belong to the Result
** userdata from the moment they exist, and worker states to a box with __gc.
*/
#include "lhs_init.h"
#include "lhs_method.h"
#include "lhs_alloc.h"
#include "lhs_noise.h"
#include "lhs_objective.h"
#include "lhs_observe.h"
#include "lhs_result.h"
#include "lhs_vec.h"
#include "lhs_worker.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hs_ensemble.h"
#include "hs_exact.h"
#include "hs_mpi.h"
#include "hs_sim.h"
#include "hs_sim_mpi.h"
#include "hs_util.h"

/* The noise of a run without a `noise` option: exact gradients. */
static const hs_noise nonoise = {HS_NOISE_NONE, 0, 0.0, NULL, NULL, NULL, NULL, 1, NULL, 0, 0, 0};
static const char *const integrator_names[] = {"euler", "exact", NULL};
static const char *const choice_names[] = {"error", "record", NULL};
static const char *const psd_names[] = {"error", "project", NULL};


/* {====================================================================
** Options: strict numbers (a string such as "0.1" is not a number here)
** ===================================================================== */

static void checknumber(lua_State *L, const char *name, int required, const char *what) {
  int tp = lua_getfield(L, 1, name);
  if ((tp == LUA_TNIL && required) || (tp != LUA_TNIL && tp != LUA_TNUMBER))
    lhs_fielderror(L, 1, name, "%s expected, got %s", what, luaL_typename(L, -1));
  lua_pop(L, 1);
}

static double numfield(lua_State *L, const char *name, int required, double def) {
  checknumber(L, name, required, "number");
  return lhs_optnumfield(L, 1, 1, name, def);
}

static lua_Integer intfield(lua_State *L, const char *name, int required, lua_Integer def,
                            lua_Integer lo, lua_Integer hi) {
  checknumber(L, name, required, "integer");
  return lhs_optintfield(L, 1, 1, name, def, lo, hi);
}

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

/* "12.3 GiB", as the core writes sizes in its messages */
static const char *fmtbytes(char *buf, size_t n, double bytes) {
  static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024.0 && u < 4) bytes /= 1024.0, u++;
  snprintf(buf, n, "%.1f %s", bytes, unit[u]);
  return buf;
}

static int allocrecord(lua_State *L) {
  lua_newuserdatauv(L, (size_t)(uintptr_t)lua_touserdata(L, 1), 0);
  return 1;
}

/* The list 0, 1, ..., steps of record = "all". The outputs of its steps + 1
** snapshots are weighed against the memory limit before the list is built, with the
** core's sum and message (hs_sim_check): with a huge `steps` the list alone may not
** fit in memory, or fit and take minutes to fill, before the core could say what was
** asked. A list that the memory cannot hold is reported with its size, not as a bare
** "not enough memory". */
static size_t *recordall(lua_State *L, const hs_sim *s) {
  char need[32], lim[32];
  double nrec = (double)s->steps + 1.0;
  int esc = lua_getfield(L, 1, "escape") != LUA_TNIL;
  lua_pop(L, 1);
  double arrays = (double)(esc + s->record_diverged + s->record_undefined);
  double bytes = 8.0 * (nrec * (double)s->paths * (double)s->model.dim +
                        arrays * (double)s->paths);
  size_t limit = s->memory_limit != 0 ? s->memory_limit : hs_physmem() / 2;
  if (limit > 0 && bytes > (double)limit)
    luaL_error(L, "simulate: the results need %s (%I recorded steps x %I paths x %I dims), "
               "more than memory_limit = %s; record fewer steps or raise memory_limit",
               fmtbytes(need, sizeof need, bytes), (lua_Integer)s->steps + 1,
               (lua_Integer)s->paths, (lua_Integer)s->model.dim,
               fmtbytes(lim, sizeof lim, (double)limit));
  size_t size = (s->steps + 1) * sizeof(size_t);
  lua_pushcfunction(L, allocrecord);
  lua_pushlightuserdata(L, (void *)(uintptr_t)size);
  int st = lua_pcall(L, 1, 1, 0);
  if (st == LUA_ERRMEM)
    luaL_error(L, "simulate: record = 'all' needs the list of its %I steps (%s): not enough "
               "memory", (lua_Integer)s->steps + 1, fmtbytes(need, sizeof need, (double)size));
  if (st != LUA_OK) lua_error(L);
  size_t *rec = (size_t *)lua_touserdata(L, -1);
  for (size_t k = 0; k <= s->steps; k++) rec[k] = k;
  return rec;
}

/* The record option: a list of steps (sorted, duplicates removed) or "all". Pushes
** the size_t array userdata and returns it. */
static size_t *checkrecord(lua_State *L, const hs_sim *s, size_t *n) {
  size_t steps = s->steps;
  int tp = lua_getfield(L, 1, "record");
  size_t *rec;
  if (tp == LUA_TNIL) {
    rec = (size_t *)lua_newuserdatauv(L, sizeof(size_t), 0);
    rec[0] = steps;
    *n = 1;
  }
  else if (tp == LUA_TSTRING && strcmp(lua_tostring(L, -1), "all") == 0) {
    rec = recordall(L, s);
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

/* }==================================================================== */

/* {====================================================================
** The progress callback: a Lua function(done, total) whose false return cancels.
** The function and, when it raises, its error stay in stack slots of the call.
** ===================================================================== */

typedef struct progress {
  lua_State *L;
  int fn;         /* stack index of the function */
  int errslot;    /* stack index that receives its error */
  int failed;
} progress;

static int callprogress(void *ctx, double done, double total) {
  progress *p = ctx;
  lua_State *L = p->L;
  lua_pushvalue(L, p->fn);
  lua_pushnumber(L, (lua_Number)done);
  lua_pushnumber(L, (lua_Number)total);
  if (lua_pcall(L, 2, 1, 0) != LUA_OK) {
    p->failed = 1;
    lua_replace(L, p->errslot);
    return 1;
  }
  int cancel = lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1);
  lua_pop(L, 1);
  return cancel;
}

/* }==================================================================== */

/* {====================================================================
** Worker states for Lua callbacks (lhs_worker.c)
**
** When the run's callbacks are Lua functions, each extra thread gets its own state
** with copies of them. The core says how many help (hs_sim_replicas) and asks for
** each through the hook below, on this thread, before its workers start. The states
** live in a box below the run's stack frame, closed after the run or by __gc if an
** error unwinds.
** ===================================================================== */

#define LHS_WORKERS "hasme.Workers"

typedef struct workers {
  size_t n, cap;
  size_t made;        /* replicas complete in rep: a run in chunks reuses them */
  hs_replica *rep;    /* cap entries, after the states in the same block */
  lua_State *L[];
} workers;

/* A box for cap worker states and replicas (S_WORKERS). */
static workers *newworkers(lua_State *L, size_t cap) {
  size_t bytes = sizeof(workers) + cap * (sizeof(lua_State *) + sizeof(hs_replica));
  workers *w = (workers *)lua_newuserdatauv(L, bytes, 0);
  w->n = w->made = 0;
  w->cap = cap;
  w->rep = (hs_replica *)(void *)(w->L + cap);
  luaL_setmetatable(L, LHS_WORKERS);
  return w;
}

static int workers_close(lua_State *L) {
  workers *w = (workers *)luaL_checkudata(L, 1, LHS_WORKERS);
  for (size_t i = 0; i < w->n; i++)
    if (w->L[i] != NULL) lhs_closestate(w->L[i]), w->L[i] = NULL;
  w->n = 0;
  return 0;
}

/* What the hook needs: the run's state, the box, and the stack slots (in
** simulate's frame) of the objective, noise and escape criterion. */
typedef struct replctx {
  lua_State *L;
  workers *box;
  int obj, noise, esc, obs;   /* obs: the observe set's slot, or 0 */
  const hs_sim *s;
  size_t i;           /* the replica being made */
  hs_replica *rep;
  char *why;
  size_t whyn;
} replctx;

/* Make replica c->i (run under lua_pcall: an error here must not cross the core).
** Arguments: the context, the objective, the noise and the escape criterion. */
static int makereplica(lua_State *L) {
  replctx *c = (replctx *)lua_touserdata(L, 1);
  workers *w = c->box;
  if (c->i < w->made) {   /* made for an earlier chunk of the same call */
    *c->rep = w->rep[c->i];
    lua_pushboolean(L, 1);
    return 1;
  }
  lua_State *T = lhs_worker_new(L, c->why, c->whyn);
  if (T == NULL || w->n >= w->cap) {
    if (T != NULL) lhs_closestate(T);
    lua_pushboolean(L, 0);
    return 1;
  }
  w->L[w->n++] = T;
  lhs_xfer x;
  lhs_xfer_begin(&x, L, T);
  hs_objective *ro = NULL;
  hs_noise *rn = NULL;
  hs_escape *re = NULL;
  int ok = lhs_objective_replica(&x, 2, &ro);
  if (ok && lua_type(L, 3) == LUA_TUSERDATA)
    ok = lhs_noise_replica(&x, 3, c->s->model.dim, &rn);
  if (ok && c->s->escape != NULL) ok = lhs_escape_replica(&x, 4, c->s->model.dim, &re);
  const hs_observe *rob = NULL;
  if (ok && c->obs != 0) ok = lhs_observe_replica(&x, 5, &rob);
  c->rep->obj = ro;
  c->rep->noise = rn;
  c->rep->escape = re;
  c->rep->observe = rob;
  if (ok && c->i == w->made && w->made < w->cap) w->rep[w->made++] = *c->rep;
  if (ok) lhs_worker_globals(&x);
  else snprintf(c->why, c->whyn, "%s", x.why);
  lhs_xfer_end(&x);
  lua_pushboolean(L, ok);
  return 1;
}

static int replicate(void *ctx, size_t i, hs_replica *rep, char *why, size_t whyn) {
  replctx *c = ctx;
  lua_State *L = c->L;
  c->i = i;
  c->rep = rep;
  c->why = why;
  c->whyn = whyn;
  lua_pushcfunction(L, makereplica);
  lua_pushlightuserdata(L, c);
  lua_pushvalue(L, c->obj);
  lua_pushvalue(L, c->noise);
  lua_pushvalue(L, c->esc);
  if (c->obs != 0) lua_pushvalue(L, c->obs);
  else lua_pushnil(L);
  if (lua_pcall(L, 5, 1, 0) != LUA_OK) {
    snprintf(why, whyn, "%s", lua_isstring(L, -1) ? lua_tostring(L, -1) : "error");
    lua_pop(L, 1);
    return 1;
  }
  int ok = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return !ok;
}

/* {====================================================================
** Long runs: the announcement on stderr
** ===================================================================== */

/* A count as the message shows it: plain below 10^5, else "1.2e9". */
static void fmtcount(char *buf, size_t n, double x) {
  if (x < 1e5) {
    snprintf(buf, n, "%.0f", x);
    return;
  }
  int e = (int)floor(log10(x));
  double m = x / pow(10.0, e);
  if (m >= 9.95) m /= 10.0, e++;   /* 9.96e8 would print as 10.0e8 */
  snprintf(buf, n, "%.1fe%d", m, e);
}

/* A duration in the unit a person would use for it. */
static void fmtduration(char *buf, size_t n, double sec) {
  if (sec < 10.0) snprintf(buf, n, "%.2g s", sec);
  else if (sec < 90.0) snprintf(buf, n, "%.0f s", sec);
  else if (sec < 90.0 * 60.0) snprintf(buf, n, "%.0f min", sec / 60.0);
  else if (sec < 48.0 * 3600.0) snprintf(buf, n, "%.1f h", sec / 3600.0);
  else snprintf(buf, n, "%.1f days", sec / 86400.0);
}

/* The core calls this after the pilot when the run will take longer than
** estimate_after seconds: the user learns it while stopping costs little. */
static void announce(void *ctx, double total, double rate, double seconds, double pilot) {
  (void)ctx;
  char when[32], count[32], speed[32];
  fmtduration(when, sizeof when, seconds);
  fmtcount(count, sizeof count, total);
  fmtcount(speed, sizeof speed, rate);
  fprintf(stderr, "simulate: about %s more (%s path-steps at %s/s, measured over the first "
          "%.1f s); Ctrl-C stops it\n", when, count, speed, pilot);
  fflush(stderr);
}

/* }==================================================================== */

/* {====================================================================
** Ctrl-C during a run
**
** The interpreter's own SIGINT handling (lua5.4's and the REPL's) sets a hook that
** only fires in Lua code, never inside a long simulation. For the duration of a run,
** runinterruptible installs a handler that sets this flag, which the engine polls at
** every step, and puts the previous handler back: nothing between the two can raise
** (the callbacks run under lua_pcall), so the handler never outlives the run. The run
** then ends with "simulate: interrupted". The flag is the binding's: the core has no
** statics.
** ===================================================================== */

static volatile sig_atomic_t interrupted = 0;

static void oninterrupt(int sig) {
  (void)sig;
  interrupted = 1;
}

/* Run s (out), or, when e is not NULL, the ensemble e over the nsims configurations
** s[0..nsims-1] (eo). */
static hs_status runinterruptible(hs_sim *s, size_t nsims, hs_sim_out *out,
                                  const hs_ensemble *e, hs_ensemble_out *eo,
                                  hs_sim_mpi_info *mi) {
  struct sigaction sa, old;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = oninterrupt;
  sigemptyset(&sa.sa_mask);
  interrupted = 0;
  for (size_t i = 0; i < nsims; i++) s[i].interrupt = &interrupted;
  int handled = sigaction(SIGINT, &sa, &old) == 0;
  /* over the MPI ranks when there are several; hs_ensemble_run or hs_sim_run otherwise */
  hs_status st = e != NULL ? hs_ensemble_run_ranks(e, eo, mi) : hs_sim_run_ranks(s, out, mi);
  if (handled) sigaction(SIGINT, &old, NULL);
  return st;
}

/* }==================================================================== */

/* {====================================================================
** hasme.simulate
** ===================================================================== */

/* Raise the core's verdict on the configuration: a field error naming the option,
** or "simulate: ..." for what concerns the whole request (its size). */
static int checkerror(lua_State *L, const hs_sim_error *err) {
  if (err->field[0] != '\0') lhs_fielderror(L, 1, err->field, "%s", err->msg);
  return luaL_error(L, "simulate: %s", err->msg);
}

/* Build the error message for a failed run and raise it. */
static int simerror(lua_State *L, const hs_sim *s, const hs_sim_out *out, const progress *pg,
                    const char *pre, int obsset) {
  const hs_sim_error *e = &out->err;
  if (strcmp(e->what, "observable") == 0 && obsset != 0) {
    lhs_observe_pusherror(L, obsset, e->obs, e->status, e->value, e->msg,
                          (lua_Integer)e->path + 1, (lua_Integer)e->step);
    return luaL_error(L, "%s: %s", pre, lua_tostring(L, -1));
  }
  const char *label = s->model.method->label;
  lua_Integer path = (lua_Integer)e->path + 1, step = (lua_Integer)e->step;
  double eta = s->model.eta;
  char zmax[32];
  snprintf(zmax, sizeof zmax, "%.14g", s->model.method->zmax);
  const char *where = e->step == 0 ? lua_pushliteral(L, "")
                                   : lua_pushfstring(L, " at path %I, step %I", path, step);
  switch (e->status) {
    case HS_EDOM:
      return luaL_error(L, "%s: %s is undefined%s: eta*lambda_max = %f >= %s "
                        "(lambda_max = %f, eta = %f); it needs eta*lambda < %s for every "
                        "Hessian eigenvalue%s", pre, label, where, (lua_Number)(eta * e->value),
                        zmax, (lua_Number)e->value, (lua_Number)eta, zmax,
                        e->step == 0 ? "" : "; pass on_domain = 'record' to stop such paths "
                                            "and count them");
    case HS_ENOTPSD:
      if (strcmp(e->what, "diffusion") == 0)
        return luaL_error(L, "%s: the %s diffusion V (S o Phi) V' is not positive "
                          "semidefinite%s (eigenvalue %f): no SDE of this form exists here; "
                          "pass psd = 'project' to clip it to the nearest PSD matrix", pre, label,
                          where, (lua_Number)e->value);
      return luaL_error(L, "%s: the noise covariance is not positive semidefinite%s "
                        "(eigenvalue %f)", pre, where, (lua_Number)e->value);
    case HS_EDIVERGE:
      return luaL_error(L, "%s: path %I diverged (inf or NaN) at step %I; pass "
                        "on_diverge = 'record' to stop such paths and count them", pre, path, step);
    case HS_ECALLBACK:
      return luaL_error(L, "%s: error in the %s%s: %s", pre, e->what, where, e->msg);
    case HS_ECANCEL:
      if (strcmp(e->what, "interrupt") == 0) return luaL_error(L, "%s: interrupted", pre);
      if (pg->failed)
        return luaL_error(L, "%s: error in the progress callback: %s", pre,
                          luaL_tolstring(L, pg->errslot, NULL));
      return luaL_error(L, "%s: cancelled", pre);
    case HS_ELAPACK:
    case HS_ENOCONV:
      return luaL_error(L, "%s: the eigendecomposition of the Hessian failed%s (%s)", pre,
                        where, hs_strstatus(e->status));
    case HS_EINVAL:
    case HS_ESIZE:
      return checkerror(L, e);
    case HS_ENOMEM:
      /* at set-up: the linear transition or the workers' scratch space (the outputs
      ** were allocated before, by hs_sim_out_alloc, with their own message) */
      if (e->step == 0)
        return luaL_error(L, "simulate: not enough memory for the working space of the run "
                          "(dimension %I, up to %I threads); try fewer threads",
                          (lua_Integer)s->model.dim,
                          (lua_Integer)(s->threads != 0 ? s->threads : hs_ncores()));
      return luaL_error(L, "simulate: not enough memory in the %s%s", e->what, where);
    default:
      return luaL_error(L, "%s: %s%s", pre, hs_strstatus(e->status), where);
  }
}

/* simerror in protected mode (the progress callback's error and the observable set
** passed along as arguments 2 and 3), so that the message can be marked before it is
** raised: under MPI the ranks agreed on the failure and raise the same message, which
** is then reported once, by rank 0, if it ends the program. */
typedef struct simerrctx {
  const hs_sim *s;
  const hs_sim_out *out;
  const progress *pg;
  const char *pre;
} simerrctx;

static int simerror_call(lua_State *L) {
  simerrctx *c = lua_touserdata(L, 1);
  progress pg = *c->pg;
  pg.errslot = 2;
  return simerror(L, c->s, c->out, &pg, c->pre, 3);
}

static int raiserun(lua_State *L, const hs_sim *s, const hs_sim_out *out, const progress *pg,
                    const char *pre, int obsset, int ranks) {
  simerrctx c = {s, out, pg, pre};
  lua_pushcfunction(L, simerror_call);
  lua_pushlightuserdata(L, &c);
  lua_pushvalue(L, pg->errslot);
  lua_pushvalue(L, obsset);
  lua_pcall(L, 3, 0, 0);
  if (ranks > 1) hs_mpi_share_error(lua_tostring(L, -1));
  return lua_error(L);
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

/* The info table of a finished run (user value LHS_RESULT_INFO of the result). */
static void pushinfo(lua_State *L, const hs_sim *s, const hs_sim_out *out) {
  static const char *const noise_names[] = {"none", "isotropic", "constant", "state",
                                            "minibatch"};
  lua_createtable(L, 0, 24);
  setinfo_s(L, "method", s->model.method->name);
  setinfo_s(L, "integrator",
            s->model.method->is_sde ? integrator_names[s->integrator] : "discrete");
  setinfo_n(L, "eta", s->model.eta);
  setinfo_i(L, "steps", (lua_Integer)s->steps);
  setinfo_i(L, "substeps", (lua_Integer)s->substeps);
  setinfo_i(L, "paths", (lua_Integer)s->paths);
  setinfo_i(L, "dim", (lua_Integer)s->model.dim);
  setinfo_i(L, "seed", (lua_Integer)s->seed);
  setinfo_i(L, "threads", (lua_Integer)out->threads_used);
  setinfo_n(L, "elapsed", out->elapsed);
  setinfo_s(L, "kernel", out->kernel);
  setinfo_i(L, "escaped", (lua_Integer)out->escaped);
  if (s->escape != NULL)   /* neither escaped nor stopped by the last step */
    setinfo_i(L, "censored", (lua_Integer)(s->paths - out->escaped - out->diverged -
                                           out->undefined));
  setinfo_i(L, "diverged", (lua_Integer)out->diverged);
  setinfo_i(L, "undefined", (lua_Integer)out->undefined);
  setinfo_s(L, "on_domain", choice_names[s->record_undefined]);
  setinfo_i(L, "projected", (lua_Integer)out->projected);
  lua_pushboolean(L, s->coupled);
  lua_setfield(L, -2, "coupled");
  if (s->coupled) setinfo_i(L, "normals", (lua_Integer)hs_sim_normals(s));
  if (s->model.method->split) setinfo_i(L, "svag_l", (lua_Integer)s->svag_l);
  setinfo_s(L, "objective", s->model.obj->type->name);
  setinfo_s(L, "noise", noise_names[s->model.noise->kind]);
  setinfo_s(L, "on_diverge", choice_names[s->record_diverged]);
  setinfo_s(L, "psd", psd_names[s->model.psd_project]);
  setinfo_i(L, "worker_states", (lua_Integer)out->replicas);
  if (out->note[0] != '\0') setinfo_s(L, "threads_note", out->note);
}

/* Stack slots of simulate and compare. */
enum { S_OPTS = 1, S_OBJ, S_NOISE, S_X0, S_RECORD, S_ESC, S_ESCWRAP, S_PROGRESS, S_PERR,
       S_OBSSET, S_RESULT, S_WORKERS };

/* Read the options into s (objective, noise, x0, record and escape into their
** slots). Parsing only: what a value means for the run is the core's to check. */
static void readoptions(lua_State *L, hs_sim *s, progress *pg) {
  memset(s, 0, sizeof *s);
  if (lua_getfield(L, S_OPTS, "objective") == LUA_TNIL)
    lhs_fielderror(L, 1, "objective", "hasme.Objective expected, got nil");
  hs_objective *obj = lhs_checkobjective(L, S_OBJ, 1, "objective");
  size_t d = obj->dim;
  const hs_noise *nz = &nonoise;
  if (lua_getfield(L, S_OPTS, "noise") != LUA_TNIL) nz = lhs_checknoise(L, S_NOISE, 1, "noise", d);
  s->model.method = lhs_checkmethod(L);
  s->model.dim = d;
  s->model.obj = obj;
  s->model.noise = nz;
  s->model.eta = numfield(L, "eta", 1, 0.0);
  s->model.psd_project = lhs_optchoicefield(L, 1, 1, "psd", "error", psd_names);
  s->model.psd_tol = numfield(L, "psd_tol", 0, HS_PSD_TOL_DEFAULT);

  s->steps = (size_t)intfield(L, "steps", 1, 0, 0, (lua_Integer)HS_MAXSIZE);
  s->paths = (size_t)intfield(L, "paths", 0, 1000, 1, (lua_Integer)HS_MAXSIZE);
  s->seed = (uint64_t)intfield(L, "seed", 0, 0, 0, LUA_MAXINTEGER);
  s->threads = (size_t)intfield(L, "threads", 0, 0, 1, LHS_MAXTHREADS);
  s->record_diverged = lhs_optchoicefield(L, 1, 1, "on_diverge", "error", choice_names);
  s->record_undefined = lhs_optchoicefield(L, 1, 1, "on_domain", "error", choice_names);
  /* coupled: true (substeps normal vectors per step), or their number N */
  int tc = lua_getfield(L, S_OPTS, "coupled");
  if (tc == LUA_TNUMBER) {
    s->normals = (size_t)intfield(L, "coupled", 0, 1, 1, 1000000);
    s->coupled = 1;
  }
  else if (tc == LUA_TBOOLEAN || tc == LUA_TNIL) s->coupled = lua_toboolean(L, -1);
  else lhs_fielderror(L, 1, "coupled", "boolean or integer expected, got %s", luaL_typename(L, -1));
  lua_pop(L, 1);
  s->svag_l = (size_t)intfield(L, "svag_l", 0, 0, 1, 1000000);   /* 0: not given */
  s->substeps = (size_t)intfield(L, "substeps", 0, 0, 1, 1000000);   /* 0: the default */
  s->integrator = HS_INTEGRATOR_AUTO;
  if (lhs_getfield(L, S_OPTS, "integrator") != LUA_TNIL)
    s->integrator = (hs_integrator)lhs_optchoicefield(L, 1, 1, "integrator", "euler",
                                                      integrator_names);
  lua_pop(L, 1);
  lua_settop(L, S_NOISE);

  /* x0: a vector, or a matrix with one row per path */
  if (lua_getfield(L, S_OPTS, "x0") == LUA_TNIL)
    lhs_fielderror(L, 1, "x0", "vector expected, got nil");
  int permat = lhs_tomat(L, S_X0) != NULL;
  if (!permat && lua_type(L, S_X0) == LUA_TTABLE) {
    int t1 = lua_geti(L, S_X0, 1);
    permat = t1 == LUA_TTABLE || lhs_tovec(L, -1) != NULL;
    lua_pop(L, 1);
  }
  if (permat) {
    lhs_mat *X0 = lhs_checkmat_at(L, S_X0, 1, "x0");
    if (X0->rows != s->paths || X0->cols != d)
      lhs_fielderror(L, 1, "x0", "matrix of %I x %I (paths x dim) expected, got %Ix%I",
                     (lua_Integer)s->paths, (lua_Integer)d, (lua_Integer)X0->rows,
                     (lua_Integer)X0->cols);
    s->x0 = X0->data;
    s->x0_per_path = 1;
  }
  else s->x0 = lhs_checkvecn_at(L, S_X0, 1, "x0", d)->data;

  /* before record, whose "all" is weighed against it */
  s->memory_limit = checkbytes(L, 1, "memory_limit", 0);
  s->record = checkrecord(L, s, &s->nrecord);   /* slot S_RECORD */

  /* escape (slot S_ESC; S_ESCWRAP holds the wrapper of a Lua predicate) */
  if (lua_getfield(L, S_OPTS, "escape") != LUA_TNIL) {
    s->escape = lhs_toescape(L, S_ESC, d);
    if (s->escape == NULL)
      lhs_fielderror(L, 1, "escape", "function or hasme.Escape expected, got %s",
                     luaL_typename(L, S_ESC));
    int level = s->escape->kind == HS_ESC_BELOW || s->escape->kind == HS_ESC_ABOVE;
    if (level && !lhs_objective_hasvalue(obj))
      lhs_fielderror(L, 1, "escape", "%s needs the objective's value, and the objective "
                     "has no f", s->escape->kind == HS_ESC_BELOW ? "value_below" : "value_above");
  }
  lua_settop(L, S_ESCWRAP);

  /* progress (slot S_PROGRESS; its error, if any, goes to S_PERR) */
  if (lua_getfield(L, S_OPTS, "progress") != LUA_TNIL) {
    if (lua_type(L, S_PROGRESS) != LUA_TFUNCTION)
      lhs_fielderror(L, 1, "progress", "function expected, got %s",
                     luaL_typename(L, S_PROGRESS));
    s->progress = callprogress;
    s->progress_ctx = pg;
  }
  lua_pushnil(L);   /* S_PERR */
  s->progress_interval = numfield(L, "progress_interval", 0, HS_PROGRESS_DEFAULT);
  /* estimate_after: seconds, or false for silence; 0 would mean the default to the
  ** core, so it is refused here. Unset, long runs are announced on a terminal only:
  ** a timing-dependent line must not enter captured output, which reruns reproduce
  ** byte for byte. */
  int tp = lua_getfield(L, S_OPTS, "estimate_after");
  if (tp != LUA_TBOOLEAN || lua_toboolean(L, -1)) {
    if (tp != LUA_TNIL && tp != LUA_TNUMBER)
      lhs_fielderror(L, 1, "estimate_after", "number of seconds or false expected, got %s",
                     luaL_typename(L, -1));
    if (tp == LUA_TNUMBER || isatty(STDERR_FILENO)) s->estimate = announce;
    s->estimate_after = numfield(L, "estimate_after", 0, HS_ESTIMATE_DEFAULT);
    if (s->estimate_after == 0.0)
      lhs_fielderror(L, 1, "estimate_after", "must be a positive number of seconds (got %s)",
                     luaL_tolstring(L, -1, NULL));
  }
  lua_pop(L, 1);
}

/* The observe option into slot S_OBSSET (nil without it); snapshots then only when
** snapshots = true. */
static const hs_observe *readobserve(lua_State *L, hs_sim *s) {
  const hs_observe *ob = NULL;
  if (lua_getfield(L, S_OPTS, "observe") != LUA_TNIL) {
    ob = lhs_observe_check(L, -1, 1, s->model.obj);   /* pushes the set */
    lua_replace(L, S_OBSSET);
  }
  lua_settop(L, S_OBSSET);
  int keep = lhs_optboolfield(L, S_OPTS, 1, "snapshots", ob == NULL);
  s->observe = ob;
  s->no_snapshots = ob != NULL && !keep;
  return ob;
}

/* Worker states for Lua callbacks, as many as the core can use (slot S_WORKERS). */
static void setreplicas(lua_State *L, hs_sim *s, size_t nsims, replctx *rc) {
  size_t nrep = hs_sim_replicas(&s[0]);
  /* a Lua predicate's replica is made from its wrapper (lhs_toescape) */
  int esc = lua_type(L, S_ESC) == LUA_TFUNCTION ? S_ESCWRAP : S_ESC;
  workers *w = newworkers(L, nrep);   /* S_WORKERS */
  *rc = (replctx){L, w, S_OBJ, S_NOISE, esc, s[0].observe != NULL ? S_OBSSET : 0, &s[0], 0,
                  NULL, NULL, 0};
  for (size_t i = 0; i < nsims && nrep > 0; i++) {
    s[i].replicate = replicate;
    s[i].replicate_ctx = rc;
  }
}

static void closeworkers(lua_State *L) {
  lua_pushcfunction(L, workers_close);
  lua_pushvalue(L, S_WORKERS);
  lua_call(L, 1, 0);
}

static const char *const sim_known[] = {
  "objective", "noise", "method", "eta", "steps", "x0", "paths", "seed", "integrator",
  "substeps", "record", "escape", "threads", "on_diverge", "psd", "psd_tol",
  "memory_limit", "progress", "progress_interval", "coupled", "on_domain", "svag_l",
  "estimate_after", "observe", "snapshots", NULL};

static int sim_simulate(lua_State *L) {
  luaL_checktype(L, S_OPTS, LUA_TTABLE);
  lhs_checkfields(L, S_OPTS, 1, sim_known);
  lua_settop(L, S_OPTS);
  hs_sim s;
  progress pg = {L, S_PROGRESS, S_PERR, 0};
  readoptions(L, &s, &pg);
  lua_settop(L, S_PERR);
  lua_pushnil(L);   /* S_OBSSET */
  const hs_observe *ob = readobserve(L, &s);

  hs_sim_error err;
  if (hs_sim_check(&s, &err) != HS_OK) return checkerror(L, &err);
  hs_sim_resolve(&s);

  /* The result, empty, then its outputs (owned by it from here on). */
  lhs_result *r = lhs_result_new(L);   /* S_RESULT */
  if (hs_sim_out_alloc(&s, &r->out, &err) != HS_OK) return checkerror(L, &err);
  lhs_result_attach(r, s.model.dim, s.paths, s.nrecord, s.record);
  lua_pushvalue(L, S_RECORD);
  lua_setiuservalue(L, S_RESULT, LHS_RESULT_STEPS);
  lua_pushvalue(L, S_OBJ);
  lua_setiuservalue(L, S_RESULT, LHS_RESULT_OBJECTIVE);
  hs_obs_stats **stats = NULL;
  if (ob != NULL) {
    lua_createtable(L, 1, 0);
    lua_pushstring(L, s.model.method->name);
    lua_rawseti(L, -2, 1);
    stats = lhs_observed_new(L, S_OBSSET, -1, 1, SIZE_MAX, s.record, s.nrecord);
    lua_setiuservalue(L, S_RESULT, LHS_RESULT_OBSERVED);
    lua_pop(L, 1);
  }

  replctx rc;
  setreplicas(L, &s, 1, &rc);
  hs_ensemble e = {&s, 1, SIZE_MAX, ob, 0, 0, NULL};
  hs_ensemble_out eo = {&r->out, stats, 0, 0, NULL, NULL, 0};
  hs_sim_mpi_info mi;
  hs_status st = runinterruptible(&s, 1, &r->out, ob != NULL ? &e : NULL, &eo, &mi);
  closeworkers(L);
  if (st != HS_OK) return raiserun(L, &s, &r->out, &pg, "simulate", S_OBSSET, mi.ranks);

  pushinfo(L, &s, &r->out);
  setinfo_i(L, "ranks", (lua_Integer)mi.ranks);
  lua_setiuservalue(L, S_RESULT, LHS_RESULT_INFO);
  lua_settop(L, S_RESULT);
  return 1;
}

/* integrator = "extrapolate" of compare: each SDE method's coarse configuration (its
** substeps halved, on the same N normal vectors per step, so that each coarse
** increment is the sum of two fine ones) into coarse[m], twice[m] set; the discrete
** methods run once. */
static void setcoarse(lua_State *L, const hs_sim *base, hs_sim *sims, size_t nm,
                      hs_sim *coarse, int *twice) {
  size_t msub = base->substeps != 0 ? base->substeps : HS_SUBSTEPS_DEFAULT;
  if (msub < 2 || msub % 2 != 0)
    lhs_fielderror(L, 1, "substeps", "integrator 'extrapolate' needs an even number of "
                   "substeps, at least 2 (got %I)", (lua_Integer)msub);
  if (base->escape != NULL)
    lhs_fielderror(L, 1, "escape", "not available with integrator 'extrapolate' "
                   "(extrapolation applies to expectations at fixed times, not to escape "
                   "times)");
  size_t N = base->normals != 0 ? base->normals : msub;
  if (N % msub != 0)
    lhs_fielderror(L, 1, "coupled", "%I normal vectors per step cannot drive %I substeps",
                   (lua_Integer)N, (lua_Integer)msub);
  for (size_t m = 0; m < nm; m++) {
    sims[m].substeps = msub;
    sims[m].normals = N;
    coarse[m] = sims[m];
    twice[m] = sims[m].model.method->is_sde;
    if (twice[m]) coarse[m].substeps = msub / 2;
    else coarse[m].model.method = NULL;
  }
}

/* core.compare(opts): the joint, paired run of several methods with observables
** behind hasme.compare{..., observe = ...} (lua/hasme/init.lua checks the method list
** and calls this). opts are simulate's with methods (a list of names) and reference
** (a name among them; default the first) instead of method. Every method runs
** coupled with the same substeps (default 10); returns a table of results, by
** position and by name, sharing one set of observed figures. */
#define COMPARE_MAX 16

static int sim_compare(lua_State *L) {
  static const char *extra[] = {"methods", "reference", NULL};
  const char *known[sizeof sim_known / sizeof sim_known[0] + 2];
  size_t nk = 0;
  for (size_t i = 0; sim_known[i] != NULL; i++)
    if (strcmp(sim_known[i], "method") != 0) known[nk++] = sim_known[i];
  for (size_t i = 0; extra[i] != NULL; i++) known[nk++] = extra[i];
  known[nk] = NULL;
  luaL_checktype(L, S_OPTS, LUA_TTABLE);
  lhs_checkfields(L, S_OPTS, 1, known);
  /* integrator = "extrapolate": every SDE method also runs with half the substeps on
  ** the same normals (Talay-Tubaro); the options, copied, are read with "euler" */
  int extrap = 0;
  if (lua_getfield(L, S_OPTS, "integrator") == LUA_TSTRING &&
      strcmp(lua_tostring(L, -1), "extrapolate") == 0) {
    extrap = 1;
    lua_newtable(L);
    lua_pushnil(L);
    while (lua_next(L, S_OPTS)) {
      lua_pushvalue(L, -2);
      lua_insert(L, -2);
      lua_rawset(L, -4);
    }
    lua_pushliteral(L, "euler");
    lua_setfield(L, -2, "integrator");
    lua_replace(L, S_OPTS);
  }
  lua_settop(L, S_OPTS);
  hs_sim base;
  progress pg = {L, S_PROGRESS, S_PERR, 0};
  readoptions(L, &base, &pg);
  lua_settop(L, S_PERR);
  lua_pushnil(L);   /* S_OBSSET */
  const hs_observe *ob = readobserve(L, &base);
  if (ob == NULL) lhs_fielderror(L, 1, "observe", "table of observables expected, got nil");

  /* methods and the reference */
  hs_sim sims[COMPARE_MAX];
  size_t nm = 0, ref = 0;
  if (lua_getfield(L, S_OPTS, "methods") != LUA_TTABLE)
    lhs_fielderror(L, 1, "methods", "non-empty list of method names expected");
  lua_Integer len = (lua_Integer)lua_rawlen(L, -1);
  if (len < 1 || len > COMPARE_MAX)
    lhs_fielderror(L, 1, "methods", "1 to %d method names expected, got %I", COMPARE_MAX, len);
  const char *refname = NULL;
  if (lua_getfield(L, S_OPTS, "reference") != LUA_TNIL) {
    if (lua_type(L, -1) != LUA_TSTRING)
      lhs_fielderror(L, 1, "reference", "method name expected, got %s", luaL_typename(L, -1));
    refname = lua_tostring(L, -1);
  }
  int refslot = lua_gettop(L), listslot = refslot - 1;
  int found = refname == NULL;
  for (lua_Integer i = 1; i <= len; i++) {
    lua_rawgeti(L, listslot, i);
    const char *name = lua_tostring(L, -1);
    const hs_method_type *t = name != NULL ? hs_method_find(name) : NULL;
    if (t == NULL)
      lhs_fielderror(L, 1, "methods", "unknown method '%s' at index %I",
                     name != NULL ? name : luaL_typename(L, -1), i);
    if (refname != NULL && strcmp(refname, name) == 0) ref = nm, found = 1;
    lua_pop(L, 1);
    sims[nm] = base;
    sims[nm].model.method = t;
    sims[nm].coupled = 1;
    if (sims[nm].substeps == 0) sims[nm].substeps = HS_SUBSTEPS_DEFAULT;
    nm++;
  }
  if (!found)
    lhs_fielderror(L, 1, "reference", "'%s' is not one of the methods", refname);
  hs_sim coarse[COMPARE_MAX];
  int twice[COMPARE_MAX] = {0};
  if (extrap) setcoarse(L, &base, sims, nm, coarse, twice);
  hs_sim_error err;
  for (size_t m = 0; m < nm; m++) {
    if (hs_sim_check(&sims[m], &err) != HS_OK) return checkerror(L, &err);
    hs_sim_resolve(&sims[m]);
    if (!twice[m]) continue;
    if (hs_sim_check(&coarse[m], &err) != HS_OK) return checkerror(L, &err);
    hs_sim_resolve(&coarse[m]);
  }
  lua_settop(L, S_OBSSET);

  /* the results (a table at S_RESULT), their outputs, the shared figures */
  lua_createtable(L, (int)nm, (int)nm);   /* S_RESULT */
  hs_sim_out outs[COMPARE_MAX];
  lhs_result *res[COMPARE_MAX];
  for (size_t m = 0; m < nm; m++) {
    res[m] = lhs_result_new(L);
    if (hs_sim_out_alloc(&sims[m], &res[m]->out, &err) != HS_OK) return checkerror(L, &err);
    lhs_result_attach(res[m], sims[m].model.dim, sims[m].paths, sims[m].nrecord,
                      sims[m].record);
    lua_pushvalue(L, S_RECORD);
    lua_setiuservalue(L, -2, LHS_RESULT_STEPS);
    lua_pushvalue(L, S_OBJ);
    lua_setiuservalue(L, -2, LHS_RESULT_OBJECTIVE);
    lua_rawseti(L, S_RESULT, (lua_Integer)m + 1);
  }
  lua_createtable(L, (int)nm, 0);
  for (size_t m = 0; m < nm; m++) {
    lua_pushstring(L, sims[m].model.method->name);
    lua_rawseti(L, -2, (lua_Integer)m + 1);
  }
  hs_obs_stats **stats = lhs_observed_new(L, S_OBSSET, -1, nm, ref, base.record,
                                          base.nrecord);
  int obsslot = lua_gettop(L);
  hs_obs_stats **bias = extrap ? lhs_observed_bias(L, obsslot, twice) : NULL;
  for (size_t m = 0; m < nm; m++) {
    lua_rawgeti(L, S_RESULT, (lua_Integer)m + 1);
    lua_pushvalue(L, obsslot);
    lua_setiuservalue(L, -2, LHS_RESULT_OBSERVED);
    lua_pop(L, 1);
  }
  lua_settop(L, S_RESULT);

  replctx rc;
  setreplicas(L, sims, nm, &rc);
  for (size_t m = 0; m < nm; m++) {
    outs[m] = res[m]->out;
    coarse[m].replicate = sims[m].replicate;   /* the coarse runs share the workers */
    coarse[m].replicate_ctx = sims[m].replicate_ctx;
    coarse[m].interrupt = &interrupted;
  }
  hs_sim_out couts[COMPARE_MAX];
  hs_ensemble e = {sims, nm, ref, ob, 0, 0, extrap ? coarse : NULL};
  hs_ensemble_out eo = {outs, stats, 0, 0, bias, extrap ? couts : NULL, 0};
  hs_sim_mpi_info mi;
  hs_status st = runinterruptible(sims, nm, NULL, &e, &eo, &mi);
  for (size_t m = 0; m < nm; m++) {
    void *mem = res[m]->out.mem;
    res[m]->out = outs[m];   /* the counters and any error; the block stays the result's */
    res[m]->out.mem = mem;
  }
  closeworkers(L);
  if (st != HS_OK) {
    size_t f = eo.failed;
    const char *pre = lua_pushfstring(L, "compare: method '%s'%s", sims[f].model.method->name,
                                      eo.failed_coarse ? " (coarse run of the extrapolation)"
                                                       : "");
    return raiserun(L, eo.failed_coarse ? &coarse[f] : &sims[f], &outs[f], &pg, pre,
                    S_OBSSET, mi.ranks);
  }
  for (size_t m = 0; m < nm; m++) {
    lua_rawgeti(L, S_RESULT, (lua_Integer)m + 1);
    pushinfo(L, &sims[m], &outs[m]);
    setinfo_i(L, "ranks", (lua_Integer)mi.ranks);
    if (twice[m]) {
      setinfo_s(L, "integrator", "extrapolate");
      setinfo_i(L, "coarse_substeps", (lua_Integer)coarse[m].substeps);
      setinfo_i(L, "coarse_projected", (lua_Integer)couts[m].projected);
      setinfo_i(L, "coarse_diverged", (lua_Integer)couts[m].diverged);
      setinfo_i(L, "coarse_undefined", (lua_Integer)couts[m].undefined);
    }
    lua_setiuservalue(L, -2, LHS_RESULT_INFO);
    lua_setfield(L, S_RESULT, sims[m].model.method->name);
  }
  lua_settop(L, S_RESULT);
  return 1;
}

/* }==================================================================== */

void lhs_open_sim(lua_State *L) {
  static const luaL_Reg workers_meta[] = {{"__gc", workers_close}, {NULL, NULL}};
  lhs_newclass(L, LHS_WORKERS, NULL, workers_meta);
  lua_pushcfunction(L, sim_simulate);
  lua_setfield(L, -2, "simulate");
  lua_pushcfunction(L, sim_compare);
  lua_setfield(L, -2, "compare");
}
