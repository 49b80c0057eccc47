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
** A callback lives inside the userdata that owns it (a hasme.Objective, Noise or
** Escape). Its Lua values (the function, a reusable argument vector and the message
** of the last failure) are user values uv, uv+1 and uv+2 of that userdata, so the
** collector traces them: a function that captures its own objective forms a cycle
** that is collected like any other (registry references would keep it forever).
** To reach those values from the core, where only the C struct is at hand, each
** owner is listed in a weak-valued array of the registry (lhs_callback.c).
** A callback runs on c->L, which the binding sets (lhs_cb_bind) to the running
** state before any use, and never raises into the core: an error (whatever the error
** object, even one whose __tostring raises) is stored and HS_ECALLBACK returned.
** ===================================================================== */

#define LHS_CB_NUV 3   /* user values each callback takes in its owner */

typedef struct lhs_cb {
  lua_State *L;
  void *owner;      /* the userdata block holding the Lua values (NULL: none yet) */
  int aref, slot;   /* where the owner is listed: registry[aref][slot] */
  int uv;           /* first of its user values in the owner */
  int set;          /* a function was given */
  int haserr;       /* a failure message is stored (user value uv+2) */
  int top;          /* the stack top before the last successful call */
  lhs_vec *xv;      /* the argument vector (user value uv+1) */
  const char *name; /* for messages: "grad", "cov", ... */
} lhs_cb;

/* Empty callback (no function) whose values will be user values uv.. of its owner. */
void lhs_cb_init(lhs_cb *c, const char *name, int uv);
/* Take the function at stack index fn and an argument vector of length dim; owner is
** the stack index of the userdata that holds c. */
void lhs_cb_set(lua_State *L, lhs_cb *c, int owner, int fn, size_t dim);
/* A fresh argument vector of length dim (when the dimension becomes known later). */
void lhs_cb_setdim(lua_State *L, lhs_cb *c, int owner, size_t dim);
/* Forget the function (idempotent). owner: the stack index of the owner, whose user
** values are cleared, or 0 when it is being collected. */
void lhs_cb_release(lua_State *L, lhs_cb *c, int owner);
/* Run c on L from now on, and forget its last failure. */
void lhs_cb_bind(lua_State *L, lhs_cb *c);
/* Call the function with x (copied into the argument vector); on success nres
** results are on the top of the stack until lhs_cb_done, which the caller must call
** once it has read them; on failure nothing is left and HS_ECALLBACK is returned. */
hs_status lhs_cb_call(lhs_cb *c, const double *x, int nres);
void lhs_cb_done(lhs_cb *c);
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
