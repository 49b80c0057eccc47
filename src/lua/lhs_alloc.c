/*
** lhs_alloc.c: the memory allocator of the interpreter states hasme creates (the
** executable's own state and the worker states of lhs_worker.c).
**
** Lua callbacks called millions of times per run create and drop small tables and
** vectors; with the C library's malloc these allocations are a large share of the
** cost of a callback. Small blocks (up to SMALL_MAX bytes) here come from free lists,
** one per 16-byte size class, carved out of 64 KiB chunks; Lua tells the size of
** every block it frees, so no header is needed. Larger blocks go to malloc. A pool
** belongs to one state, and a state runs on one thread at a time, so nothing locks.
*/
#include "lhs_alloc.h"

#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SMALL_MAX 256
#define NCLASS (SMALL_MAX / 16)
#define CHUNK (64 * 1024)

typedef struct chunk {
  struct chunk *next;
  double pad;          /* keeps the blocks after the header 16-byte aligned */
} chunk;

typedef struct pool {
  void *freelist[NCLASS + 1];   /* class c holds blocks of c*16 bytes */
  char *bump, *end;             /* unused part of the newest chunk */
  chunk *chunks;
  int warn_on, warn_cont;       /* lua_setwarnf state */
} pool;

/* The lua_Alloc function: osize is the old block's size when ptr is not NULL (when
** it is NULL, osize tells the kind of object and is ignored). In the sanitizer build
** (LHS_SYSTEM_ALLOC, set by make SAN=1) every block goes to the C library, whose
** allocations AddressSanitizer instruments: inside a pool chunk an overflow from one
** small Lua object into its neighbour, or a use after free, would go unseen. */
#ifdef LHS_SYSTEM_ALLOC
static void *poolalloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  (void)ud;
  (void)osize;
  if (nsize == 0) {
    free(ptr);
    return NULL;
  }
  return realloc(ptr, nsize);
}
#else
static size_t sizeclass(size_t n) { return (n + 15) / 16; }

static void *smallget(pool *p, size_t c) {
  void *b = p->freelist[c];
  if (b != NULL) {
    p->freelist[c] = *(void **)b;
    return b;
  }
  size_t bytes = c * 16;
  if (p->bump == NULL || (size_t)(p->end - p->bump) < bytes) {
    chunk *k = malloc(CHUNK);
    if (k == NULL) return NULL;
    k->next = p->chunks;
    p->chunks = k;
    p->bump = (char *)(k + 1);
    p->end = (char *)k + CHUNK;
  }
  b = p->bump;
  p->bump += bytes;
  return b;
}

static void smallput(pool *p, void *b, size_t c) {
  *(void **)b = p->freelist[c];
  p->freelist[c] = b;
}

static void *poolalloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  pool *p = ud;
  if (ptr == NULL) osize = 0;
  int oldsmall = osize > 0 && osize <= SMALL_MAX, newsmall = nsize > 0 && nsize <= SMALL_MAX;
  if (nsize == 0) {
    if (ptr != NULL) {
      if (oldsmall) smallput(p, ptr, sizeclass(osize));
      else free(ptr);
    }
    return NULL;
  }
  if (ptr == NULL) return newsmall ? smallget(p, sizeclass(nsize)) : malloc(nsize);
  if (oldsmall && newsmall && sizeclass(osize) == sizeclass(nsize)) return ptr;
  if (!oldsmall && !newsmall) return realloc(ptr, nsize);
  void *q = newsmall ? smallget(p, sizeclass(nsize)) : malloc(nsize);
  if (q == NULL) return NULL;   /* Lua keeps the old block on failure */
  memcpy(q, ptr, osize < nsize ? osize : nsize);
  if (oldsmall) smallput(p, ptr, sizeclass(osize));
  else free(ptr);
  return q;
}
#endif   /* LHS_SYSTEM_ALLOC */

static int panic(lua_State *L) {
  const char *msg = lua_tostring(L, -1);
  fprintf(stderr, "PANIC: unprotected error in call to Lua API (%s)\n",
          msg != NULL ? msg : "error object is not a string");
  fflush(stderr);
  return 0;   /* Lua then aborts */
}

/* Warnings as lua5.4 shows them: off until "@on", pieces joined until the last. */
static void warnf(void *ud, const char *msg, int tocont) {
  pool *p = ud;
  if (!p->warn_cont && msg[0] == '@') {
    if (strcmp(msg, "@on") == 0) p->warn_on = 1;
    else if (strcmp(msg, "@off") == 0) p->warn_on = 0;
    return;
  }
  if (p->warn_on) {
    if (!p->warn_cont) fputs("Lua warning: ", stderr);
    fputs(msg, stderr);
    if (!tocont) fputc('\n', stderr), fflush(stderr);
  }
  p->warn_cont = tocont;
}

lua_State *lhs_newstate(void) {
  pool *p = calloc(1, sizeof *p);
  if (p == NULL) return NULL;
  lua_State *L = lua_newstate(poolalloc, p);
  if (L == NULL) {
    free(p);
    return NULL;
  }
  lua_atpanic(L, panic);
  lua_setwarnf(L, warnf, p);
  return L;
}

void lhs_closestate(lua_State *L) {
  void *ud;
  lua_Alloc f = lua_getallocf(L, &ud);
  lua_close(L);
  if (f == poolalloc) {
    pool *p = ud;
    while (p->chunks != NULL) {
      chunk *k = p->chunks;
      p->chunks = k->next;
      free(k);
    }
    free(p);
  }
}
