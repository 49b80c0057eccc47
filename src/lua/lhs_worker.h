/*
** lhs_worker.h: worker interpreter states and the copier that gives them the user's
** Lua callbacks
*/
#ifndef HS_LHS_WORKER_H
#define HS_LHS_WORKER_H

#include "lhs_callback.h"

/* {====================================================================
** Worker states (lhs_worker.c): one interpreter per extra worker thread, holding
** copies of the user's Lua callbacks
** ===================================================================== */

/* The most threads a run may ask for. Each extra thread of a run with Lua callbacks
** gets its own interpreter (a few hundred KiB and a few ms to start), so a count far
** beyond any machine's cores is a mistake to report, not work to attempt. */
#define LHS_MAXTHREADS 256

typedef struct lhs_xfer {
  lua_State *from, *to;
  int cache_from, upvals, libnames;   /* tables on from's stack */
  int cache_to;                       /* table on to's stack */
  int nslots;
  char why[256];                      /* why the last copy failed */
} lhs_xfer;

/* How the userdata of one type are copied: a binding puts a pointer to its (static)
** lhs_xfer_type in its metatable with lhs_xfer_settype, so this copier needs to know
** no concrete type beyond vectors and matrices. copy pushes onto x->to a value
** standing for the userdata at idx of x->from and returns 1, or returns 0 (pushing
** nothing) when that one cannot be copied. */
typedef struct lhs_xfer_type {
  int (*copy)(lhs_xfer *x, int idx);
} lhs_xfer_type;

/* Set t as the copier of the type whose metatable is on top of the stack. */
void lhs_xfer_settype(lua_State *L, const lhs_xfer_type *t);

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
/* Give dst, a callback of the userdata at dstowner in the worker state x->to, a copy
** of the function of src (held by the userdata at srcowner of x->from; nothing when
** src has none) and an argument vector of length dim: 1, or 0 with x->why set. */
int lhs_cb_replicate(lhs_xfer *x, int srcowner, const lhs_cb *src, int dstowner,
                     lhs_cb *dst, size_t dim);

/* }==================================================================== */

#endif
