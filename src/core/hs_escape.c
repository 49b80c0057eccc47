/*
** hs_escape.c: the built-in escape criteria.
*/
#include "hs_escape.h"

#include <stdlib.h>
#include <string.h>

#include "hs_util.h"

hs_escape *hs_escape_alloc(hs_escape_kind kind, size_t dim, const double *v, double c) {
  hs_escape *e = hs_calloc(1, sizeof *e);
  if (e == NULL) return NULL;
  e->kind = kind;
  e->dim = dim;
  e->c = c;
  if (v != NULL && dim > 0) {
    e->v = hs_malloc(dim * sizeof(double));
    if (e->v == NULL) { free(e); return NULL; }
    memcpy(e->v, v, dim * sizeof(double));
  }
  return e;
}

hs_escape *hs_escape_callback_alloc(hs_escape_fn fn, void *ctx,
                                    const char *(*errmsg)(void *ctx)) {
  hs_escape *e = hs_escape_alloc(HS_ESC_CALLBACK, 0, NULL, 0.0);
  if (e == NULL) return NULL;
  e->fn = fn;
  e->ctx = ctx;
  e->errmsg = errmsg;
  return e;
}

void hs_escape_free(hs_escape *e) {
  if (e == NULL) return;
  free(e->v);
  free(e);
}

hs_status hs_escape_test(const hs_escape *e, const hs_objective *o, const double *x,
                         int *escaped, double *work) {
  size_t d = o->dim;
  double s = 0.0, f;
  hs_status st;
  switch (e->kind) {
    case HS_ESC_HALFSPACE:
      for (size_t i = 0; i < d; i++) s += e->v[i] * x[i];
      *escaped = s > e->c;
      return HS_OK;
    case HS_ESC_BALL:
      for (size_t i = 0; i < d; i++) s += (x[i] - e->v[i]) * (x[i] - e->v[i]);
      *escaped = s > e->c * e->c;
      return HS_OK;
    case HS_ESC_BELOW:
    case HS_ESC_ABOVE:
      st = hs_objective_value(o, x, &f, work);
      if (st != HS_OK) return st;
      *escaped = e->kind == HS_ESC_BELOW ? f < e->c : f > e->c;
      return HS_OK;
    case HS_ESC_CALLBACK:
      return e->fn(e->ctx, x, escaped);
  }
  return HS_EINVAL;
}
