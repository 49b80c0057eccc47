/*
** hasme.h: what every core module shares: status codes, sizes, the version and
** the export macro. Includes no Lua header; the core never sees the interpreter.
*/
#ifndef HS_HASME_H
#define HS_HASME_H

#include <stddef.h>
#include <stdint.h>

#define HS_VERSION "0.1.0"

#define HS_EXPORT __attribute__((visibility("default")))

/* Every core function that can fail returns one of these. The core never raises,
** prints or exits; the bindings turn a status (and any detail the caller's error
** record holds) into a Lua error. */
typedef enum hs_status {
  HS_OK = 0,
  HS_EINVAL,     /* an argument is outside what the function accepts */
  HS_EDOM,       /* a mathematical domain error (phi1(u) for u >= 1, eta*lambda >= 1) */
  HS_ENOMEM,     /* allocation failed */
  HS_ESIZE,      /* a size computation overflowed or exceeded a limit */
  HS_ELAPACK,    /* LAPACK returned info != 0 */
  HS_ENOCONV,    /* an iteration did not converge */
  HS_ENOTPSD,    /* a matrix that must be positive semidefinite is not */
  HS_EDIVERGE,   /* a path produced inf or NaN */
  HS_ECALLBACK,  /* a user callback failed (its message is kept by the caller) */
  HS_ECANCEL     /* the run was stopped on request */
} hs_status;

/* A short lowercase description of a status ("domain error"). Never NULL. */
const char *hs_strstatus(hs_status s);

/* Largest element count hasme allocates in one block (2^40 doubles, 8 TiB): sizes
** above it are reported as HS_ESIZE before any allocation is attempted. */
#define HS_MAXSIZE ((size_t)1 << 40)

/* a*b without overflow: stores the product and returns 1, or returns 0 when it
** would exceed HS_MAXSIZE. Used for every size computed from user input. */
static inline int hs_mulsize(size_t a, size_t b, size_t *out) {
  if (a != 0 && b > HS_MAXSIZE / a) return 0;
  *out = a * b;
  return 1;
}

#endif
