/*
** tests/c/fixture.h: reference values written by the generators in tests/tools, one
** case a line: "<kind> <case> <rows> <cols> <values...>" (lines starting with '#'
** are comments). Shared by the C tests that compare against NumPy and SciPy; include
** after tap.h.
*/
#ifndef HS_TEST_FIXTURE_H
#define HS_TEST_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* {====================================================================
** Fixtures: "<kind> <case> <rows> <cols> <values...>" per line
** ===================================================================== */

typedef struct fixture {
  char kind[16], name[32];
  size_t rows, cols;
  double *v;
} fixture;

typedef struct fixtures {
  fixture *f;
  size_t count;
} fixtures;

static fixtures load(const char *path) {
  fixtures fx = {NULL, 0};
  FILE *f = fopen(path, "r");
  if (!ok(f != NULL, "fixture %s opens (run from the project root)", path)) return fx;
  char *line = NULL;
  size_t cap = 0;
  while (getline(&line, &cap, f) > 0) {
    if (line[0] == '#' || line[0] == '\n') continue;
    fixture x;
    int used = 0;
    if (sscanf(line, "%15s %31s %zu %zu%n", x.kind, x.name, &x.rows, &x.cols, &used) != 4)
      continue;
    x.v = malloc((x.rows * x.cols > 0 ? x.rows * x.cols : 1) * sizeof(double));
    if (x.v == NULL) exit(2);
    char *p = line + used, *end;
    for (size_t i = 0; i < x.rows * x.cols; i++, p = end) x.v[i] = strtod(p, &end);
    fixture *grown = realloc(fx.f, (fx.count + 1) * sizeof(fixture));
    if (grown == NULL) exit(2);
    fx.f = grown;
    fx.f[fx.count++] = x;
  }
  free(line);
  fclose(f);
  return fx;
}

static const fixture *find(const fixtures *fx, const char *kind, const char *name) {
  for (size_t i = 0; i < fx->count; i++)
    if (strcmp(fx->f[i].kind, kind) == 0 && strcmp(fx->f[i].name, name) == 0)
      return &fx->f[i];
  return NULL;
}

static void unload(fixtures *fx) {
  for (size_t i = 0; i < fx->count; i++) free(fx->f[i].v);
  free(fx->f);
}

/* }==================================================================== */

#endif
