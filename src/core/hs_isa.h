/*
** hs_isa.h: the code paths (instruction sets) hasme's hot kernels are compiled for,
** which one this processor supports, and which one runs (HASME_ISA forces one).
*/
#ifndef HS_ISA_H
#define HS_ISA_H

#include "hasme.h"

/* The code paths, narrowest first. Every kernel compiled per path computes the same
** bits on each (no FMA contraction, no reassociation: ISO C mode), so the choice
** changes speed only. */
typedef enum hs_isa {
  HS_ISA_BASELINE = 0,  /* x86-64 with SSE2 (any x86-64 processor) */
  HS_ISA_AVX2 = 1,      /* x86-64-v3: AVX2, FMA, BMI2 (Haswell, Zen 1 and later) */
  HS_ISA_AVX512 = 2,    /* x86-64-v4: AVX-512 F, DQ, VL, BW, CD (Skylake-X, Zen 4) */
  HS_ISA_COUNT = 3
} hs_isa;

/* "baseline", "avx2", "avx512"; "?" for a value out of range. */
const char *hs_isa_name(hs_isa isa);

/* The path named by name (the spellings of hs_isa_name), or HS_EINVAL. */
hs_status hs_isa_parse(const char *name, hs_isa *isa);

/* Nonzero when this processor (and its operating system) can run the path. */
int hs_isa_supported(hs_isa isa);

/* The widest path this processor supports. */
hs_isa hs_isa_best(void);

/* The path the kernels take: the one hs_isa_init or hs_isa_set chose, otherwise
** the widest supported one. Cheap enough to call per kernel call (one atomic load
** once initialised). */
hs_isa hs_isa_active(void);

/* Make isa the active path for the whole process; HS_EINVAL (and no change) when
** the processor lacks it. For tests and benchmarks: set it while no kernel runs. */
hs_status hs_isa_set(hs_isa isa);

/* Choose the active path from the environment variable HASME_ISA (baseline, avx2 or
** avx512; unset or empty: the widest supported). An unknown name or a path the
** processor lacks returns HS_EINVAL with an explanation in msg (msglen bytes) and
** leaves the widest supported path active. */
hs_status hs_isa_init(char *msg, size_t msglen);

/* The processor's model name (the CPUID brand string, "unknown" when there is none)
** into buf (len bytes); returns buf. */
const char *hs_cpu_model(char *buf, size_t len);

/*
** Kernels compiled once per path. A source file listed in the Makefile's ISA_KERNELS
** is compiled four times: once plain (HS_ISA_TAG undefined: the file's dispatching
** part) and once per path with -DHS_ISA_TAG=baseline|avx2|avx512 and that path's
** -march (the kernels). HS_ISA_FN(name) is name suffixed with the path's tag, so the
** three compilations define distinct symbols; the dispatching part calls
** HS_ISA_PICK(name)[hs_isa_active()].
*/
#define HS_ISA_CAT2(a, b) a##_##b
#define HS_ISA_CAT(a, b) HS_ISA_CAT2(a, b)
#ifdef HS_ISA_TAG
#define HS_ISA_FN(name) HS_ISA_CAT(name, HS_ISA_TAG)
#endif

#endif
