/*
** tap.h: a minimal TAP producer for the C unit tests. Each check prints "ok N - name"
** or "not ok N - name" (with the location and detail); tap_done() prints the plan and
** returns the exit status. tests/run.sh counts the lines.
*/
#ifndef HS_TAP_H
#define HS_TAP_H

#include <math.h>
#include <stdarg.h>
#include <stdio.h>

static int tap_count = 0, tap_failed = 0;

__attribute__((format(printf, 4, 5)))
static int tap_ok(int cond, const char *file, int line, const char *fmt, ...) {
  va_list ap;
  tap_count++;
  if (!cond) tap_failed++;
  printf("%s %d - ", cond ? "ok" : "not ok", tap_count);
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  printf("\n");
  if (!cond) printf("#   failed at %s:%d\n", file, line);
  fflush(stdout);
  return cond;
}

/* ok(cond, "name %d", ...) */
#define ok(cond, ...) tap_ok((cond) ? 1 : 0, __FILE__, __LINE__, __VA_ARGS__)

/* |got - want| <= tol, printing both on failure. */
#define is_near(got, want, tol, ...)                                              \
  do {                                                                            \
    double g_ = (got), w_ = (want), t_ = (tol);                                   \
    if (!tap_ok(fabs(g_ - w_) <= t_ || (g_ == w_), __FILE__, __LINE__, __VA_ARGS__)) \
      printf("#   got %.17g, want %.17g (tolerance %.3g, off by %.3g)\n", g_, w_, t_, \
             fabs(g_ - w_));                                                      \
  } while (0)

/* Equal integers, printing both on failure. */
#define is_int(got, want, ...)                                                    \
  do {                                                                            \
    long long g_ = (long long)(got), w_ = (long long)(want);                      \
    if (!tap_ok(g_ == w_, __FILE__, __LINE__, __VA_ARGS__))                       \
      printf("#   got %lld, want %lld\n", g_, w_);                                \
  } while (0)

static int tap_done(void) {
  printf("1..%d\n", tap_count);
  return tap_failed > 0 ? 1 : 0;
}

#endif
