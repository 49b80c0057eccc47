/*
** hs_escape.h: escape criteria, tested on a path at every recorded grid time k eta
** (docs/methods.md section 7: escape on the grid is what SGD sees). Built-in criteria
** run in C; a callback criterion runs user code on the thread that created it.
*/
#ifndef HS_ESCAPE_H
#define HS_ESCAPE_H

#include "hs_objective.h"

typedef enum hs_escape_kind {
  HS_ESC_HALFSPACE,  /* a'x > c */
  HS_ESC_BALL,       /* |x - center| > r */
  HS_ESC_BELOW,      /* f(x) < c */
  HS_ESC_ABOVE,      /* f(x) > c */
  HS_ESC_CALLBACK    /* fn(ctx, x, &escaped) */
} hs_escape_kind;

typedef hs_status (*hs_escape_fn)(void *ctx, const double *x, int *escaped);

typedef struct hs_escape {
  hs_escape_kind kind;
  size_t dim;         /* HALFSPACE, BALL: length of v; CALLBACK: 0 (any) */
  double *v;          /* HALFSPACE: a; BALL: center */
  double c;           /* HALFSPACE: c; BALL: r; BELOW/ABOVE: the level */
  hs_escape_fn fn;    /* CALLBACK */
  void *ctx;
  const char *(*errmsg)(void *ctx);
} hs_escape;

/* NULL when out of memory. v is copied (dim doubles); it may be NULL for BELOW/ABOVE. */
hs_escape *hs_escape_alloc(hs_escape_kind kind, size_t dim, const double *v, double c);
hs_escape *hs_escape_callback_alloc(hs_escape_fn fn, void *ctx,
                                    const char *(*errmsg)(void *ctx));
void hs_escape_free(hs_escape *e);

/* Whether x (dimension d) has escaped. BELOW/ABOVE evaluate the objective o (its
** scratch `work`, hs_objective_worksize(o) doubles). */
hs_status hs_escape_test(const hs_escape *e, const hs_objective *o, const double *x,
                         int *escaped, double *work);

#endif
