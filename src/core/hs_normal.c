/*
** hs_normal.c: the ziggurat's slow path (wedges and tail) and the bulk samplers, one
** stream into a buffer or many streams interleaved. The fast path is inline in
** hs_normal.h; the tables come from tools/gen_zigtab.c at build time.
*/
#include "hs_normal.h"

#include <math.h>

#include "hs_zigtab.h"   /* hs_zig_k, hs_zig_w, hs_zig_f, HS_ZIG_R, HS_ZIG_INV_R */

/*
** Where the slow path takes its further draws from. hs_normal_fill draws raw words
** ahead into a buffer; a variate that needs more than one word must take them from
** that buffer, in order, before asking the generator (which already stands after the
** buffer's last word). With an empty buffer this is simply the generator.
*/
typedef struct source {
  hs_pcg *r;
  const uint64_t *buf;
  size_t pos, len;
} source;

static inline uint64_t src_next(source *s) {
  return s->pos < s->len ? s->buf[s->pos++] : hs_pcg_next(s->r);
}

/* A uniform on [0, 1) from the top 53 bits, as hs_pcg_uniform. */
static inline double unit(uint64_t w) {
  return (double)(int64_t)(w >> 11) * 0x1.0p-53;
}

/* A uniform on the open interval (0, 1): (j + 1/2) / 2^52 for the top 52 bits j. It is
** never 0, so its logarithm is finite, and the grid is symmetric about 1/2. */
static inline double open_unit(uint64_t w) {
  return ((double)(int64_t)(w >> 12) + 0.5) * 0x1.0p-52;
}

/*
** The draw u landed in layer i at x = m w_i but outside the layer's inner rectangle
** (x >= x_{i+1}). Three cases:
**
** - base layer (i = 0), x >= r: the point stands for the tail x > r, whose mass is
**   exactly the base rectangle's part beyond r. Sample the tail by Marsaglia's
**   method (Marsaglia 1964; Marsaglia and Tsang 2000, section 3): a = -ln(U1)/r is
**   exponential with rate r, accepted when -2 ln(U2) > a^2, i.e. with probability
**   exp(-a^2/2); then r + a has density proportional to exp(-(r+a)^2/2) on a > 0.
**   The uniforms exclude 0 so the logarithms are finite.
** - layer i >= 1, x in the wedge [x_{i+1}, x_i): draw a height y uniform between the
**   layer's bottom f(x_i) and top f(x_{i+1}) and accept x when y < exp(-x^2/2), the
**   exact density; the exp runs only here (about 1.5% of variates).
** - rejected: start over with a fresh draw (fast test included).
**
** Every test compares against the exact density or an exact integer threshold, so
** the output law is the normal one up to the grid of the draw (52 bits per layer).
*/
static double slow_path(source *src, uint64_t u) {
  for (;;) {
    double x;
    if (hs_normal_try(u, &x)) return x;   /* a fresh draw that fits */
    unsigned idx = (unsigned)(u & 0xffu);
    if (idx == 0) {
      for (;;) {
        double a = -log(open_unit(src_next(src))) * HS_ZIG_INV_R;
        double b = -log(open_unit(src_next(src)));
        if (b + b > a * a) return (u & 0x100u) ? -(HS_ZIG_R + a) : HS_ZIG_R + a;
      }
    }
    double fb = hs_zig_f[idx], ft = hs_zig_f[idx + 1];   /* bottom, top of the layer */
    if (fb + unit(src_next(src)) * (ft - fb) < exp(-0.5 * x * x)) return x;
    u = src_next(src);
  }
}

double hs_normal_slow(hs_pcg *r, uint64_t u) {
  source src = {r, NULL, 0, 0};
  return slow_path(&src, u);
}

/* {====================================================================
** Bulk sampling
** ===================================================================== */

#define FILL_BUF 256   /* raw words drawn ahead by hs_normal_fill (2 KiB of stack) */

/*
** One stream: draw raw words ahead with hs_pcg_fill, which overlaps four state
** updates, then turn them into variates. Never more words are drawn ahead than
** variates are still missing (each variate takes at least one word), so the stream
** ends exactly where n calls of hs_normal would leave it.
*/
void hs_normal_fill(hs_pcg *r, double *out, size_t n) {
  uint64_t buf[FILL_BUF];
  while (n > 0) {
    size_t len = n < FILL_BUF ? n : FILL_BUF;
    hs_pcg_fill(r, buf, len);
    /* The position in buf stays in a register; it goes through memory only on the
    ** slow path, which may consume words of buf. */
    size_t i = 0;
    while (i < len) {
      uint64_t u = buf[i++];
      double x;
      if (!hs_normal_try(u, &x)) {
        source src = {r, buf, i, len};
        x = slow_path(&src, u);
        i = src.pos;
      }
      *out++ = x;
      n--;
    }
  }
}

#define BLOCK_MAX 16   /* streams held locally at a time; the output rows are k wide */

/* Fewer than four streams do not fill the pipeline: each stream on its own through
** hs_normal_fill (four states per step) is faster, scattered into column s of out. */
static void block_narrow(hs_pcg *r, size_t k, size_t g, size_t n, double *out) {
  double buf[FILL_BUF];
  if (k == 1) {   /* one column: out is contiguous */
    hs_normal_fill(r, out, n);
    return;
  }
  for (size_t s = 0; s < g; s++)
    for (size_t j0 = 0; j0 < n; j0 += FILL_BUF) {
      size_t len = n - j0 < FILL_BUF ? n - j0 : FILL_BUF;
      hs_normal_fill(&r[s], buf, len);
      for (size_t j = 0; j < len; j++) out[(j0 + j) * k + s] = buf[j];
    }
}

/*
** Many streams: the k state updates of one round do not depend on each other, so
** with the streams in the innermost loop the CPU runs them in parallel, and the
** multiplication's latency is paid once per round instead of once per variate. The
** states live in a local array, not behind the caller's pointer, so the compiler
** knows that the writes to out cannot change them and keeps no reloads; the round
** is unrolled by four, which cuts the loop overhead (measured: about 20% faster than
** a plain loop; unrolling by eight gains nothing more). Streams beyond BLOCK_MAX are
** done in further groups of columns.
*/
void hs_normal_block(hs_pcg *r, size_t k, size_t n, double *out) {
  hs_pcg loc[BLOCK_MAX];
  for (size_t s0 = 0; s0 < k; s0 += BLOCK_MAX) {
    size_t g = k - s0 < BLOCK_MAX ? k - s0 : BLOCK_MAX;
    if (g < 4) {
      block_narrow(r + s0, k, g, n, out + s0);
      continue;
    }
    for (size_t s = 0; s < g; s++) loc[s] = r[s0 + s];
    for (size_t j = 0; j < n; j++) {
      double *row = out + j * k + s0;
      size_t s = 0;
      for (; s + 4 <= g; s += 4) {
        row[s] = hs_normal(&loc[s]);
        row[s + 1] = hs_normal(&loc[s + 1]);
        row[s + 2] = hs_normal(&loc[s + 2]);
        row[s + 3] = hs_normal(&loc[s + 3]);
      }
      for (; s < g; s++) row[s] = hs_normal(&loc[s]);
    }
    for (size_t s = 0; s < g; s++) r[s0 + s] = loc[s];
  }
}

/* }==================================================================== */
