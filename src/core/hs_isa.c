/*
** hs_isa.c: processor detection and the choice of code path (hs_isa.h). The active
** path is process-wide state, like the resolver of an ifunc: one atomic integer,
** written at start-up (or by a test) and read by every kernel call.
*/
#include "hs_isa.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#define HS_X86 1
#else
#define HS_X86 0
#endif

static const char *const names[HS_ISA_COUNT] = {"baseline", "avx2", "avx512"};

/* -1 until chosen; then an hs_isa. */
static atomic_int active = -1;

const char *hs_isa_name(hs_isa isa) {
  return (unsigned)isa < HS_ISA_COUNT ? names[isa] : "?";
}

hs_status hs_isa_parse(const char *name, hs_isa *isa) {
  for (int i = 0; i < HS_ISA_COUNT; i++)
    if (strcmp(name, names[i]) == 0) {
      *isa = (hs_isa)i;
      return HS_OK;
    }
  return HS_EINVAL;
}

/*
** __builtin_cpu_supports checks the CPUID feature bits and, for AVX and AVX-512,
** that the operating system saves the wide registers (XGETBV), so a path it accepts
** cannot fault. The ISA-level names match the -march each path is compiled with.
*/
int hs_isa_supported(hs_isa isa) {
  switch (isa) {
    case HS_ISA_BASELINE: return 1;
#if HS_X86
    case HS_ISA_AVX2:
      __builtin_cpu_init();
      return __builtin_cpu_supports("x86-64-v3") != 0;
    case HS_ISA_AVX512:
      __builtin_cpu_init();
      return __builtin_cpu_supports("x86-64-v4") != 0;
#endif
    default: return 0;
  }
}

hs_isa hs_isa_best(void) {
  if (hs_isa_supported(HS_ISA_AVX512)) return HS_ISA_AVX512;
  if (hs_isa_supported(HS_ISA_AVX2)) return HS_ISA_AVX2;
  return HS_ISA_BASELINE;
}

hs_isa hs_isa_active(void) {
  int a = atomic_load_explicit(&active, memory_order_relaxed);
  if (a >= 0) return (hs_isa)a;
  /* Nobody chose: the environment if it names a supported path, else the widest. */
  char msg[8];
  hs_isa_init(msg, sizeof msg);
  return (hs_isa)atomic_load_explicit(&active, memory_order_relaxed);
}

hs_status hs_isa_set(hs_isa isa) {
  if ((unsigned)isa >= HS_ISA_COUNT || !hs_isa_supported(isa)) return HS_EINVAL;
  atomic_store(&active, (int)isa);
  return HS_OK;
}

hs_status hs_isa_init(char *msg, size_t msglen) {
  const char *env = getenv("HASME_ISA");
  hs_isa best = hs_isa_best(), want;
  if (msglen > 0) msg[0] = '\0';
  atomic_store(&active, (int)best);
  if (env == NULL || env[0] == '\0') return HS_OK;
  if (hs_isa_parse(env, &want) != HS_OK) {
    snprintf(msg, msglen, "HASME_ISA: unknown code path '%s' (expected baseline, avx2 "
             "or avx512)", env);
    return HS_EINVAL;
  }
  if (!hs_isa_supported(want)) {
    char cpu[64];
    snprintf(msg, msglen, "HASME_ISA=%s: this processor (%s) does not support that code "
             "path (the widest it supports is %s)", env, hs_cpu_model(cpu, sizeof cpu),
             hs_isa_name(best));
    return HS_EINVAL;
  }
  atomic_store(&active, (int)want);
  return HS_OK;
}

/* The brand string is 48 bytes in CPUID leaves 0x80000002..4, padded with spaces
** (sometimes in front) and NUL. */
const char *hs_cpu_model(char *buf, size_t len) {
  if (len == 0) return buf;
  snprintf(buf, len, "unknown");
#if HS_X86
  unsigned r[12];
  if (__get_cpuid_max(0x80000000u, NULL) < 0x80000004u) return buf;
  for (unsigned i = 0; i < 3; i++)
    __get_cpuid(0x80000002u + i, &r[4 * i], &r[4 * i + 1], &r[4 * i + 2], &r[4 * i + 3]);
  char s[49];
  memcpy(s, r, 48);
  s[48] = '\0';
  char *p = s;
  while (*p == ' ') p++;
  size_t n = strlen(p);
  while (n > 0 && p[n - 1] == ' ') p[--n] = '\0';
  if (n > 0) snprintf(buf, len, "%s", p);
#endif
  return buf;
}
