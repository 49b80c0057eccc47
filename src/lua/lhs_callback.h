/*
** lhs_callback.h: Lua functions called from the core (objectives, noise, escape
** predicates): storage, protected calls and result readers
*/
#ifndef HS_LHS_CALLBACK_H
#define HS_LHS_CALLBACK_H

#include "lhs_vec.h"

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

#endif
