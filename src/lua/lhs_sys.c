/*
** lhs_sys.c: the module hasme.sys, the operating-system services the experiment
** runner needs and plain Lua lacks: signals turned into clean Lua errors, a wall-clock
** and a memory limit, whole-or-nothing file writes, directory listings and SHA-256.
** It is an internal module (preloaded by luaopen_hasme_core, not part of the hasme
** table) and keeps the only process-wide state of the bindings besides main.c's.
*/
#include "lhs_sys.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lualib.h>

/* {====================================================================
** Signals
**
** While the runner runs (between trap and untrap), SIGINT, SIGTERM, SIGHUP and
** SIGALRM (the wall-clock limit) only record which signal came first. Lua code
** that runs under sys.pcall is then stopped by a hook that raises at its next
** instruction; the runner's own code, outside sys.pcall, is never interrupted in the
** middle of a write: it asks sys.caught() between steps. A simulation in C installs
** its own SIGINT handler for its duration, so a SIGTERM, SIGHUP or SIGALRM is also
** forwarded as a SIGINT to stop it. A second signal of the same kind takes the
** default action, which ends a program stuck in C code that reaches no hook.
** SIGXFSZ is ignored, so that a write over `ulimit -f` fails with EFBIG (and is
** reported, naming the file) instead of killing the process without a word.
** ===================================================================== */

static const int trapped[] = {SIGINT, SIGTERM, SIGHUP, SIGALRM, SIGXFSZ};
#define NTRAPPED (sizeof trapped / sizeof trapped[0])

static struct sigaction saved[NTRAPPED];
static int traps_on = 0;
static volatile sig_atomic_t caught = 0;      /* the first signal, or 0 */
static volatile sig_atomic_t counts[NTRAPPED];
static volatile sig_atomic_t forwarding = 0;  /* the SIGINT we raise ourselves */
static volatile sig_atomic_t armed = 0;       /* a sys.pcall is running */
static lua_State *volatile target = NULL;     /* the thread that sys.pcall runs */

static void sys_hook(lua_State *L, lua_Debug *ar);

static void onsignal(int sig) {
  if (sig == SIGINT && forwarding) return;
  for (size_t i = 0; i < NTRAPPED; i++) {
    if (trapped[i] != sig) continue;
    if (++counts[i] > 1) {                   /* the second one: the default action */
      signal(sig, SIG_DFL);
      raise(sig);
      return;
    }
  }
  if (caught == 0) caught = sig;
  if (armed && target != NULL)
    lua_sethook(target, sys_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
  if (sig != SIGINT) {                       /* stop a simulation's C loop too */
    forwarding = 1;
    raise(SIGINT);
    forwarding = 0;
  }
}

static const char *signame(int sig) {
  switch (sig) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    case SIGHUP: return "SIGHUP";
    case SIGALRM: return "timeout";
    default: return "signal";
  }
}

/* The hook of sys.pcall: it checks the flag every 1000 instructions (coroutines
** created by the script inherit it), and a signal sets it to fire at once. It keeps
** raising, so a script that catches the error with pcall is stopped again. */
static void sys_hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  if (caught == 0) return;
  if (caught == SIGALRM) luaL_error(L, "time limit exceeded");
  luaL_error(L, "interrupted by %s", signame(caught));
}

/* sys.trap(): install the handlers; true, or false when they already are. */
static int sys_trap(lua_State *L) {
  if (traps_on) {
    lua_pushboolean(L, 0);
    return 1;
  }
  lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
  target = lua_tothread(L, -1);
  lua_pop(L, 1);
  caught = 0;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sigemptyset(&sa.sa_mask);
  for (size_t i = 0; i < NTRAPPED; i++) {
    counts[i] = 0;
    sa.sa_handler = trapped[i] == SIGXFSZ ? SIG_IGN : onsignal;
    sigaction(trapped[i], &sa, &saved[i]);
  }
  traps_on = 1;
  lua_pushboolean(L, 1);
  return 1;
}

/* sys.untrap(): restore the handlers found by trap, and cancel the alarm. */
static int sys_untrap(lua_State *L) {
  (void)L;
  if (!traps_on) return 0;
  alarm(0);
  for (size_t i = 0; i < NTRAPPED; i++) sigaction(trapped[i], &saved[i], NULL);
  traps_on = 0;
  return 0;
}

/* sys.caught() -> name, number: the first signal since trap or clear ("SIGINT",
** "SIGTERM", "SIGHUP", or "timeout" for the alarm), or nothing. */
static int sys_caught(lua_State *L) {
  int sig = caught;
  if (sig == 0) return 0;
  lua_pushstring(L, signame(sig));
  lua_pushinteger(L, sig);
  return 2;
}

/* sys.clear(): forget the signal caught (tests; a REPL that goes on). */
static int sys_clear(lua_State *L) {
  (void)L;
  caught = 0;
  for (size_t i = 0; i < NTRAPPED; i++) counts[i] = 0;
  return 0;
}

/* sys.notify(name): record an interruption that arrived elsewhere, such as a child
** process (gnuplot) killed by SIGINT while the parent ignored it. */
static int sys_notify(lua_State *L) {
  static const char *const names[] = {"SIGINT", "SIGTERM", "SIGHUP", NULL};
  static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
  int i = luaL_checkoption(L, 1, NULL, names);
  if (caught == 0) caught = sigs[i];
  if (armed && target != NULL)
    lua_sethook(target, sys_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
  return 0;
}

/* sys.alarm(seconds): end the script after this many seconds of wall-clock time
** (rounded up to whole seconds); 0 cancels. Needs trap. */
static int sys_alarm(lua_State *L) {
  lua_Number s = luaL_checknumber(L, 1);
  luaL_argcheck(L, s >= 0 && s <= 1e9, 1, "seconds in [0, 1e9] expected");
  unsigned n = (unsigned)s;
  if ((lua_Number)n < s) n++;
  alarm(n);
  return 0;
}

/* The end of sys.pcall: put back the hook found at its start. */
typedef struct hookstate {
  lua_Hook hook;
  int mask, count;
  lua_State *target;
} hookstate;

static int finishpcall(lua_State *L, int status, lua_KContext ctx) {
  (void)ctx;
  hookstate *h = lua_touserdata(L, 1);
  armed = 0;
  target = h->target;
  lua_sethook(L, h->hook, h->mask, h->count);
  lua_pushboolean(L, status == LUA_OK || status == LUA_YIELD);
  lua_replace(L, 1);
  lua_remove(L, 2);             /* the message handler */
  return lua_gettop(L);
}

/* sys.pcall(f, msgh, ...) -> xpcall's results: call f with the arguments in
** protected mode, stoppable by the signals trap handles. */
static int sys_pcall(lua_State *L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  hookstate *h = lua_newuserdatauv(L, sizeof *h, 0);
  h->hook = lua_gethook(L);
  h->mask = lua_gethookmask(L);
  h->count = lua_gethookcount(L);
  h->target = target;
  lua_rotate(L, 1, 1);          /* state, f, msgh, args... */
  lua_pushvalue(L, 2);
  lua_pushvalue(L, 3);
  lua_replace(L, 2);            /* state, msgh, msgh, args... */
  lua_replace(L, 3);            /* state, msgh, f, args... */
  target = L;
  armed = 1;
  lua_sethook(L, sys_hook, LUA_MASKCOUNT, 1000);
  if (caught != 0) lua_sethook(L, sys_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
  int status = lua_pcallk(L, lua_gettop(L) - 3, LUA_MULTRET, 2, 0, finishpcall);
  return finishpcall(L, status, 0);
}

/* }==================================================================== */

/* {====================================================================
** A memory limit on the interpreter's allocator
**
** sys.memlimit(bytes) wraps the state's allocator with one that counts the bytes in
** use and refuses to grow past the limit: Lua then collects garbage and, if that is
** not enough, raises "not enough memory". The count covers every Lua value and every
** hasme vector, matrix and result (they are Lua userdata); it does not cover worker
** states or the engine's own buffers, which simulate's memory_limit bounds.
** ===================================================================== */

static struct {
  lua_Alloc f;
  void *ud;
  size_t used, limit;
  int on, refused;
} mem;

static void *limalloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  (void)ud;
  size_t old = ptr != NULL ? osize : 0;
  if (nsize > old && mem.used - old + nsize > mem.limit) {
    mem.refused = 1;
    return NULL;
  }
  void *p = mem.f(mem.ud, ptr, osize, nsize);
  if (p != NULL || nsize == 0) mem.used = mem.used - old + nsize;
  return p;
}

/* sys.memlimit(bytes): limit the state's memory; nil removes the limit. Returns
** whether an allocation was refused since the limit was set. */
static int sys_memlimit(lua_State *L) {
  int refused = mem.refused;
  if (lua_isnoneornil(L, 1)) {
    if (mem.on) lua_setallocf(L, mem.f, mem.ud);
    mem.on = 0;
  }
  else {
    lua_Integer n = luaL_checkinteger(L, 1);
    luaL_argcheck(L, n > 0, 1, "positive number of bytes expected");
    if (!mem.on) {
      mem.f = lua_getallocf(L, &mem.ud);
      mem.used = (size_t)lua_gc(L, LUA_GCCOUNT, 0) * 1024 + (size_t)lua_gc(L, LUA_GCCOUNTB, 0);
      lua_setallocf(L, limalloc, NULL);
      mem.on = 1;
    }
    mem.limit = (size_t)n;
    mem.refused = 0;
  }
  lua_pushboolean(L, refused);
  return 1;
}

/* }==================================================================== */

/* {====================================================================
** Files
** ===================================================================== */

/* Push "path: strerror(err)" and nil before it; return 2. */
static int fileerror(lua_State *L, const char *path, int err) {
  lua_pushnil(L);
  lua_pushfstring(L, "%s: %s", path, strerror(err));
  return 2;
}

/* Write all of s to fd; 0 or an errno value. */
static int writeall(int fd, const char *s, size_t n) {
  while (n > 0) {
    ssize_t k = write(fd, s, n);
    if (k < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (k == 0) return EIO;
    s += k;
    n -= (size_t)k;
  }
  return 0;
}

/* sys.write(path, data) -> true, or nil and "file: reason": write data to
** "<path>.tmp", flush it to the disk, and rename it over path; a failure at any
** stage (a full disk, a file-size limit) removes the temporary file, so path is
** either the old file or the whole new one. */
static int sys_write(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  size_t n;
  const char *s = luaL_checklstring(L, 2, &n);
  const char *tmp = lua_pushfstring(L, "%s.tmp", path);
  struct sigaction ign, old;
  memset(&ign, 0, sizeof ign);
  ign.sa_handler = SIG_IGN;
  sigemptyset(&ign.sa_mask);
  sigaction(SIGXFSZ, &ign, &old);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0666);
  int err = fd < 0 ? errno : writeall(fd, s, n);
  if (fd >= 0 && err == 0 && fsync(fd) != 0 && errno != EINVAL) err = errno;
  if (fd >= 0 && close(fd) != 0 && err == 0) err = errno;
  sigaction(SIGXFSZ, &old, NULL);
  if (err != 0) {
    if (fd >= 0) unlink(tmp);
    return fileerror(L, path, err);
  }
  if (rename(tmp, path) != 0) {
    err = errno;
    unlink(tmp);
    return fileerror(L, path, err);
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* sys.dir(path) -> the sorted names in directory path (without . and ..), or nil
** and "path: reason". */
static int sys_dir(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  DIR *d = opendir(path);
  if (d == NULL) return fileerror(L, path, errno);
  lua_newtable(L);
  lua_Integer n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    lua_pushstring(L, e->d_name);
    lua_rawseti(L, -2, ++n);
  }
  closedir(d);
  lua_getglobal(L, "table");   /* sort with table.sort when it is there */
  if (lua_istable(L, -1) && lua_getfield(L, -1, "sort") == LUA_TFUNCTION) {
    lua_pushvalue(L, -3);
    lua_call(L, 1, 0);
    lua_pop(L, 1);
  }
  else lua_pop(L, 2);
  return 1;
}

/* sys.kind(path) -> "file", "directory" or "other", and the size in bytes; nothing
** when path does not exist. */
static int sys_kind(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  struct stat st;
  if (stat(path, &st) != 0) return 0;
  lua_pushstring(L, S_ISREG(st.st_mode) ? "file" : S_ISDIR(st.st_mode) ? "directory" : "other");
  lua_pushinteger(L, (lua_Integer)st.st_size);
  return 2;
}

/* }==================================================================== */

/* {====================================================================
** SHA-256 (FIPS 180-4), for the hash of an experiment file and of a resolved
** configuration; small enough that no external program is needed.
** ===================================================================== */

static const uint32_t K256[64] = {
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
  0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
  0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
  0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
  0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
  0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
  0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
  0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
  0xc67178f2};

static uint32_t ror(uint32_t x, unsigned n) { return (x >> n) | (x << (32 - n)); }

static void sha256_block(uint32_t h[8], const unsigned char *p) {
  uint32_t w[64];
  for (int i = 0; i < 16; i++)
    w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16
         | (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
  for (int i = 16; i < 64; i++) {
    uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
    uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
  for (int i = 0; i < 64; i++) {
    uint32_t t1 = k + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) + K256[i] + w[i];
    uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
    k = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
  }
  h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += k;
}

/* sys.sha256(s) -> the digest of the string s, as 64 lowercase hex digits. */
static int sys_sha256(lua_State *L) {
  size_t n;
  const unsigned char *s = (const unsigned char *)luaL_checklstring(L, 1, &n);
  uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  size_t i = 0;
  for (; i + 64 <= n; i += 64) sha256_block(h, s + i);
  unsigned char last[128];
  size_t rest = n - i;
  memset(last, 0, sizeof last);
  if (rest > 0) memcpy(last, s + i, rest);
  last[rest] = 0x80;
  size_t total = rest + 1 + 8 <= 64 ? 64 : 128;
  uint64_t bits = (uint64_t)n * 8;
  for (int j = 0; j < 8; j++) last[total - 1 - (size_t)j] = (unsigned char)(bits >> (8 * j));
  sha256_block(h, last);
  if (total == 128) sha256_block(h, last + 64);
  char hex[65];
  for (int j = 0; j < 8; j++) snprintf(hex + 8 * j, 9, "%08x", (unsigned)h[j]);
  lua_pushlstring(L, hex, 64);
  return 1;
}

/* }==================================================================== */

static const luaL_Reg sys_funcs[] = {
  {"alarm", sys_alarm},
  {"caught", sys_caught},
  {"clear", sys_clear},
  {"dir", sys_dir},
  {"kind", sys_kind},
  {"memlimit", sys_memlimit},
  {"notify", sys_notify},
  {"pcall", sys_pcall},
  {"sha256", sys_sha256},
  {"trap", sys_trap},
  {"untrap", sys_untrap},
  {"write", sys_write},
  {NULL, NULL}
};

static int luaopen_hasme_sys(lua_State *L) {
  luaL_newlib(L, sys_funcs);
  lua_pushinteger(L, (lua_Integer)getpid());
  lua_setfield(L, -2, "pid");
  return 1;
}

void lhs_open_sys(lua_State *L) {
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, luaopen_hasme_sys);
  lua_setfield(L, -2, "hasme.sys");
  lua_pop(L, 1);
}
