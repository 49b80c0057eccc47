/*
** lhs_observe.h: streaming observables in Lua: the `observe` option of simulate and
** compare (built-in names, network outputs and Lua functions of x), worker copies of
** Lua observables, the messages of failed evaluations, and the observed figures a
** Result carries (r:observed, r:weak_error, r:observations).
*/
#ifndef HS_LHS_OBSERVE_H
#define HS_LHS_OBSERVE_H

#include "lhs_worker.h"

#include "hs_observe.h"

#define LHS_OBSSET "hasme.ObserveSet"
#define LHS_OBSERVED "hasme.Observed"

/* A parsed `observe` option: the core's set plus what keeps it alive. */
typedef struct lhs_obsset lhs_obsset;

/* Parse the observe option at stack index idx (a table) for objective obj, in a call
** whose options table is argument arg (for "bad argument #arg ... (field 'observe':
** ...)" messages). Pushes the set's userdata and returns the core's view of it.
** Observables are ordered: the list entries first, in list order (named by their
** built-in name), then the named entries sorted by name. */
const hs_observe *lhs_observe_check(lua_State *L, int idx, int arg,
                                    const hs_objective *obj);

/* The name of observable o of the set at stack index idx. */
const char *lhs_observe_name(lua_State *L, int idx, size_t o);

/* Give the worker state x->to a copy of the set at from's index idx whose Lua
** observables run there; *out is NULL when the set has no Lua function (the
** original is thread safe). 1 on success, 0 with x->why set. */
int lhs_observe_replica(lhs_xfer *x, int idx, const hs_observe **out);

/* The message of a failed evaluation of observable o at path (1-based) and step,
** pushed onto L: "observable 'g' returned nan at path 3, step 10", or the callback's
** message. */
const char *lhs_observe_pusherror(lua_State *L, int setidx, size_t o, hs_status st,
                                  double value, const char *cbmsg, lua_Integer path,
                                  lua_Integer step);

/* {====================================================================
** Observed figures
** ===================================================================== */

/* Push a new hasme.Observed holding nmethods empty accumulator sets (nobs x nrec,
** paired when ref < nmethods) for the methods named in the list at stack index
** names, the set at setidx and the recorded steps rec. Returns the accumulators'
** array (nmethods pointers), owned by the userdata. Raises on out of memory. */
hs_obs_stats **lhs_observed_new(lua_State *L, int setidx, int names, size_t nmethods,
                                size_t ref, const size_t *rec, size_t nrec);

/* Result methods over the Observed at stack index obs, for the method named m:
**   observed(name [, k]) -> mean, se          (k: a recorded step, default the last)
**   weak_error(name [, k]) -> diff, se        (paired, against the reference)
**   observations() -> list of rows {name, step, n, mean, se, sd, [weak_error, ...]}
** Each takes its arguments from position 2 on and pushes its results. */
/* Accumulators of the extrapolation's correction g(fine) - g(coarse) for the methods
** with which[m] set (NULL entries elsewhere), owned by the figures at index obs. */
hs_obs_stats **lhs_observed_bias(lua_State *L, int obs, const int *which);

int lhs_observed_mean(lua_State *L, int obs, const char *m);
/* r:dt_bias(name [, k]) of method m: mean and se of g(fine) - g(coarse) */
int lhs_observed_dtbias(lua_State *L, int obs, const char *m);
int lhs_observed_weak(lua_State *L, int obs, const char *m);
int lhs_observed_rows(lua_State *L, int obs, const char *m);

/* }==================================================================== */

/* Metatables (called by the simulate binding's opener). */
void lhs_open_observe(lua_State *L);

#endif
