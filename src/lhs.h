/*
** lhs.h: helpers shared by the Lua bindings (lhs_*.c) and nothing else: type names,
** the vector/matrix userdata, argument and table-field checkers, and the open
** functions that luaopen_hasme_core calls in order.
*/
#ifndef HS_LHS_H
#define HS_LHS_H

#include <lua.h>
#include <lauxlib.h>

#include "hasme.h"
#include "hs_escape.h"
#include "hs_noise.h"
#include "hs_objective.h"

/* Metatable names (registered with luaL_newmetatable, so type errors read
** "hasme.Vec expected, got table"). */
#define LHS_VEC  "hasme.Vec"
#define LHS_MAT  "hasme.Mat"
#define LHS_RNG  "hasme.Rng"
#define LHS_OBJ  "hasme.Objective"
#define LHS_NOISE "hasme.Noise"
#define LHS_ESCAPE "hasme.Escape"
#define LHS_RESULT "hasme.Result"

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

/* {====================================================================
** Argument helpers
** ===================================================================== */

/* A non-negative integer size no larger than HS_MAXSIZE. */
size_t lhs_checksize(lua_State *L, int arg);

/* Raise "bad argument #arg to 'f' (field 'name': <formatted message>)", or without
** the field part when field is NULL. Never returns. */
__attribute__((noreturn))
void lhs_fielderror(lua_State *L, int arg, const char *field, const char *fmt, ...);

/* Push t[name] (t an absolute index) and return its type. */
int lhs_getfield(lua_State *L, int t, const char *name);

/* Optional fields of an options table at absolute index t, checked by type and range.
** Each pops what it pushed. */
double lhs_optnumfield(lua_State *L, int t, int arg, const char *name, double def);
lua_Integer lhs_optintfield(lua_State *L, int t, int arg, const char *name,
                            lua_Integer def, lua_Integer lo, lua_Integer hi);
int lhs_optboolfield(lua_State *L, int t, int arg, const char *name, int def);
/* An option given as a string out of lst (NULL-terminated); returns its index. */
int lhs_optchoicefield(lua_State *L, int t, int arg, const char *name,
                       const char *def, const char *const lst[]);

/* Reject any key of the options table at t that is not in known (NULL-terminated):
** a misspelt option must not be silently ignored. */
void lhs_checkfields(lua_State *L, int t, int arg, const char *const known[]);

/* Raise a Lua error for a core status, prefixed with what failed ("eig: ..."). */
int lhs_statuserror(lua_State *L, hs_status s, const char *what, const char *detail);

/* }==================================================================== */

/* {====================================================================
** Lua callbacks called from the core (objectives, noise, escape predicates)
**
** A callback keeps its function and a reusable argument vector in the registry. It
** runs on c->L, which the binding sets to the running state before any use, and
** never raises into the core: an error is stored and HS_ECALLBACK returned.
** ===================================================================== */

typedef struct lhs_cb {
  lua_State *L;
  int ref;          /* the function, or LUA_NOREF */
  int ref_x;        /* the argument vector (reused between calls) */
  lhs_vec *xv;
  int ref_err;      /* the message of the last failure */
  const char *name; /* for messages: "grad", "cov", ... */
} lhs_cb;

/* Empty callback (no function). */
void lhs_cb_init(lhs_cb *c, const char *name);
/* Take the function at stack index fn and an argument vector of length dim. */
void lhs_cb_set(lua_State *L, lhs_cb *c, int fn, size_t dim);
/* A fresh argument vector of length dim (when the dimension becomes known later). */
void lhs_cb_setdim(lua_State *L, lhs_cb *c, size_t dim);
void lhs_cb_release(lua_State *L, lhs_cb *c);
/* Call the function with x (copied into the argument vector); on success nres
** results are on the stack; on failure nothing is and HS_ECALLBACK is returned. */
hs_status lhs_cb_call(lhs_cb *c, const double *x, int nres);
/* Store a failure message for c and return HS_ECALLBACK. */
hs_status lhs_cb_fail(lhs_cb *c, const char *fmt, ...);
/* The stored message ("" when none). */
const char *lhs_cb_errmsg(lhs_cb *c);
/* Read a callback result at idx into out: a number (n = 1), hasme.Vec or table of n
** finite numbers; hasme.Mat or table of rows for n x n. HS_ECALLBACK with a message
** naming the callback otherwise. */
hs_status lhs_cb_readvec(lhs_cb *c, int idx, size_t n, double *out);
hs_status lhs_cb_readmat(lhs_cb *c, int idx, size_t n, double *out);

/* }==================================================================== */

/* A new state that allocates from its own pool of small blocks (lhs_alloc.c), with a
** panic function and lua5.4's warning behaviour; close it with lhs_closestate.
** NULL when out of memory. */
lua_State *lhs_newstate(void);
void lhs_closestate(lua_State *L);

/* {====================================================================
** Worker states (lhs_worker.c): one interpreter per extra worker thread, holding
** copies of the user's Lua callbacks
** ===================================================================== */

typedef struct lhs_xfer {
  lua_State *from, *to;
  int cache_from, upvals, libnames;   /* tables on from's stack */
  int cache_to;                       /* table on to's stack */
  int nslots;
  char why[256];                      /* why the last copy failed */
} lhs_xfer;

/* A new state with the standard libraries and hasme loaded, and from's package
** paths. NULL (with a reason in why) on failure. */
lua_State *lhs_worker_new(lua_State *from, char *why, size_t n);
/* Start / end a copying session (pushes / pops bookkeeping tables on both stacks). */
void lhs_xfer_begin(lhs_xfer *x, lua_State *from, lua_State *to);
void lhs_xfer_end(lhs_xfer *x);
/* Copy the value at idx of `from` onto the top of `to`; 0 (reason in x->why) when
** something in it cannot be copied. */
int lhs_xfer_value(lhs_xfer *x, int idx);
/* Copy from's user globals into to's globals (see lhs_worker.c). */
void lhs_worker_globals(lhs_xfer *x);
/* Give dst, a callback of the worker state x->to, a copy of src's function (nothing
** when src has none) and an argument vector of length dim: 1, or 0 with x->why set. */
int lhs_cb_replicate(lhs_xfer *x, const lhs_cb *src, lhs_cb *dst, size_t dim);
/* For lhs_xfer_value: push onto x->to a hasme.Objective sharing the thread-safe
** built-in objective at idx of x->from; 0 when it is not one. */
int lhs_objective_share(lhs_xfer *x, int idx);
/* Replicas of thread-unsafe callbacks in the worker state x->to, anchored in its
** registry: 1 on success (*out NULL when none is needed), 0 with x->why set. */
int lhs_objective_replica(lhs_xfer *x, int idx, hs_objective **out);
int lhs_noise_replica(lhs_xfer *x, int idx, size_t dim, hs_noise **out);
int lhs_escape_replica(lhs_xfer *x, int idx, size_t dim, hs_escape **out);

/* }==================================================================== */

/* {====================================================================
** Objectives, noise and escape criteria as seen by the engine's binding
** ===================================================================== */

/* The core objective behind a hasme.Objective at idx (raises when not one). Its Lua
** callbacks, if any, are bound to L. */
hs_objective *lhs_checkobjective(lua_State *L, int idx, int arg, const char *field);
hs_noise *lhs_checknoise(lua_State *L, int idx, int arg, const char *field,
                                size_t dim);
hs_escape *lhs_toescape(lua_State *L, int idx, size_t dim);

/* }==================================================================== */

/* Module parts, called in this order by luaopen_hasme_core with the module table on
** top of the stack; each adds its functions and metatables. */
void lhs_open_vec(lua_State *L);       /* lhs_vec.c: vec, mat, eye, diag, linspace */
void lhs_open_rng(lua_State *L);       /* lhs_rng.c: rng, pcg64 */
void lhs_open_linalg(lua_State *L);    /* lhs_linalg.c: eig, chol, matfun, phi1, phi2 */
void lhs_open_stats(lua_State *L);     /* lhs_stats.c: the stats subtable */
void lhs_open_objective(lua_State *L); /* lhs_objective.c: objectives, hessian, gradcheck */
void lhs_open_noise(lua_State *L);     /* lhs_noise.c: gaussian, minibatch, escape */
void lhs_open_sim(lua_State *L);       /* lhs_sim.c: simulate, exact_moments */

HS_EXPORT int luaopen_hasme_core(lua_State *L);

#endif
