/*
** main.c: the hasme executable, a Lua 5.4 interpreter with the hasme module
** preloaded. It runs scripts the way lua5.4 does, opens a REPL with GNU readline
** line editing, and hands `hasme run ...` to the experiment runner (hasme.runner).
*/
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <readline/readline.h>
#include <readline/history.h>

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

#include "hasme.h"
#include "hs_mpi.h"
#include "lhs_alloc.h"
#include "lhs_init.h"

#define PROGNAME     "hasme"
#define VERSION_LINE PROGNAME " " HS_VERSION " (" LUA_RELEASE ")"
#define PROMPT       "hasme> "
#define PROMPT2      ">> "
#define HISTORY_MAX  1000   /* entries kept in the history file */

static const char usage_text[] =
  "usage: " PROGNAME " [options] [script [args]]\n"
  "       " PROGNAME " run EXPERIMENT.lua [--set name=value ...] [--out DIR]\n"
  "Options:\n"
  "  -e chunk   execute string 'chunk'\n"
  "  -i         enter interactive mode after executing 'script'\n"
  "  -l mod     require library 'mod' into global 'mod'\n"
  "  -l g=mod   require library 'mod' into global 'g'\n"
  "  -v         show version information (also --version)\n"
  "  -E         ignore environment variables (LUA_INIT, LUA_PATH, LUA_CPATH)\n"
  "  -W         turn warnings on\n"
  "  --help     show this help and exit\n"
  "  --         stop handling options\n"
  "  -          stop handling options and execute stdin\n"
  "Subcommands:\n"
  "  run EXPERIMENT.lua [options]\n"
  "             run an experiment through the runner (module hasme.runner)\n"
  "  runs [DIR...]  list the runs under DIR (default results) from their records\n"
  "With no script, " PROGNAME " opens a REPL when stdin is a terminal and runs\n"
  "stdin as a script otherwise. The history of the REPL is kept in\n"
  "~/.hasme_history (HASME_HISTORY names another file; empty disables it).\n";

/* {====================================================================
** Command line
**
** The options are parsed once, before the interpreter exists, so that a usage
** error or --help costs nothing; -e and -l are executed later, in the order
** given, by run_options.
** ===================================================================== */

enum {
  OPT_EXEC = 1 << 0,        /* -e: some chunk was given */
  OPT_INTERACTIVE = 1 << 1, /* -i */
  OPT_VERSION = 1 << 2,     /* -v, --version */
  OPT_NOENV = 1 << 3,       /* -E */
  OPT_WARN = 1 << 4         /* -W */
};

typedef struct cmdline {
  int argc;
  char **argv;
  int script;         /* argv index of the script (or of "run"); argc when none */
  int optend;         /* argv index where the options end */
  int from_stdin;     /* the script is "-": read it from stdin */
  int run;            /* `hasme run ...` */
  int flags;          /* OPT_* */
} cmdline;

enum { PARSE_OK, PARSE_HELP, PARSE_ERROR };

static void print_message(const char *prefix, const char *msg) {
  if (hs_mpi_quiet(msg)) return;   /* under mpirun: rank 0 reports what all ranks raised */
  fflush(stdout);  /* keep the order of what was printed before */
  if (prefix != NULL) fprintf(stderr, "%s%s: %s\n", prefix, hs_mpi_tag(msg), msg);
  else fprintf(stderr, "%s\n", msg);   /* one write: under mpirun, lines are not split */
  fflush(stderr);
}

static int usage_error(const char *what, const char *opt) {
  fflush(stdout);
  fprintf(stderr, PROGNAME ": %s '%s'\n%s", what, opt, usage_text);
  fflush(stderr);
  return PARSE_ERROR;
}

/* Parse argv into c. The options follow lua5.4: they end at the first argument
** that does not start with '-' (the script), at "-" (the script is stdin) or after
** "--". `run` is recognised as the first argument only, so a script named run
** is still reachable as ./run. */
static int parse_args(cmdline *c) {
  int i;
  if (c->argc > 1 && (strcmp(c->argv[1], "run") == 0 || strcmp(c->argv[1], "runs") == 0)) {
    c->run = c->argv[1][3] == 's' ? 2 : 1;   /* runs: hasme.runner.runs */
    c->script = c->optend = 1;
    return PARSE_OK;
  }
  for (i = 1; i < c->argc; i++) {
    const char *a = c->argv[i];
    if (a[0] != '-') break;                      /* the script */
    if (a[1] == '\0') {                          /* "-": stdin */
      c->from_stdin = 1;
      break;
    }
    if (a[1] == '-') {
      if (strcmp(a, "--help") == 0) return PARSE_HELP;
      if (strcmp(a, "--version") == 0) {
        c->flags |= OPT_VERSION;
        continue;
      }
      if (a[2] != '\0') return usage_error("unrecognized option", a);
      c->optend = i++;                           /* "--": what follows is the script */
      c->script = i;
      return PARSE_OK;
    }
    switch (a[1]) {
      case 'e': case 'l':
        if (a[2] == '\0' && ++i >= c->argc) return usage_error("missing argument to", a);
        if (a[1] == 'e') c->flags |= OPT_EXEC;
        break;
      case 'i': case 'v': case 'E': case 'W':
        if (a[2] != '\0') return usage_error("unrecognized option", a);
        c->flags |= a[1] == 'i' ? OPT_INTERACTIVE : a[1] == 'v' ? OPT_VERSION
                  : a[1] == 'E' ? OPT_NOENV : OPT_WARN;
        break;
      default:
        return usage_error("unrecognized option", a);
    }
  }
  c->script = c->optend = i;
  return PARSE_OK;
}

/* }==================================================================== */

/* {====================================================================
** Running chunks: error reports and Ctrl-C
** ===================================================================== */

/* The state a SIGINT interrupts. A signal handler receives no context, so this
** pointer is the program's one piece of static interpreter state. */
static lua_State *volatile interrupt_target = NULL;

/* The hook installed by a SIGINT: it fires at the next call, return or
** instruction of the running Lua code and raises there, where raising is safe. */
static void stop_hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  lua_sethook(L, NULL, 0, 0);
  luaL_error(L, "interrupted!");
}

/* Ctrl-C while Lua code runs. lua_sethook may be called from a signal handler;
** raising here may not. The default action is restored first, so that a second
** Ctrl-C ends a program stuck in C code that never reaches the hook. */
static void on_sigint_running(int sig) {
  signal(sig, SIG_DFL);
  lua_sethook(interrupt_target, stop_hook,
              LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

/* Install handler for sig, saving the previous action in old (may be NULL). No
** SA_RESTART: a blocked read must return EINTR so that the REPL sees Ctrl-C. */
static void set_signal(int sig, void (*handler)(int), struct sigaction *old) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = handler;
  sigemptyset(&sa.sa_mask);
  sigaction(sig, &sa, old);
}

/* Message handler: the error message, or the text of a non-string error object,
** followed by a traceback of the point where it was raised. */
static int msghandler(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (msg == NULL) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
      msg = lua_tostring(L, -1);
    else
      msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  }
  luaL_traceback(L, L, msg, 1);
  return 1;
}

/* Call the function below the narg arguments on top, in protected mode with the
** message handler and with Ctrl-C turned into an "interrupted!" error. */
static int docall(lua_State *L, int narg, int nres) {
  int base = lua_gettop(L) - narg;
  struct sigaction old;
  lua_pushcfunction(L, msghandler);
  lua_insert(L, base);
  interrupt_target = L;
  set_signal(SIGINT, on_sigint_running, &old);
  int status = lua_pcall(L, narg, nres, base);
  sigaction(SIGINT, &old, NULL);
  /* A Ctrl-C that arrived after the code finished must not hit the next chunk. */
  if (lua_gethook(L) == stop_hook) lua_sethook(L, NULL, 0, 0);
  lua_remove(L, base);
  return status;
}

/* Print and pop the error on top when status is not LUA_OK. */
static int report(lua_State *L, int status, const char *prefix) {
  if (status != LUA_OK) {
    int top = lua_gettop(L);
    const char *msg = lua_tostring(L, -1);
    if (msg == NULL)
      msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, -1));
    print_message(prefix, msg);
    lua_settop(L, top - 1);
  }
  return status;
}

/* Run a chunk that luaL_load* left on the stack (or the error it left there). */
static int dochunk(lua_State *L, int status) {
  if (status == LUA_OK) status = docall(L, 0, 0);
  return report(L, status, PROGNAME);
}

static int dostring(lua_State *L, const char *s, const char *name) {
  return dochunk(L, luaL_loadbuffer(L, s, strlen(s), name));
}

/* -l spec: require the module and store it in a global; spec is "mod" (global
** mod) or "g=mod" (global g). */
static int dolibrary(lua_State *L, const char *spec) {
  const char *eq = strchr(spec, '=');
  lua_getglobal(L, "require");
  lua_pushstring(L, eq != NULL ? eq + 1 : spec);
  int status = docall(L, 1, 1);
  if (status == LUA_OK) {
    const char *g = lua_pushlstring(L, spec, eq != NULL ? (size_t)(eq - spec) : strlen(spec));
    lua_pushvalue(L, -2);
    lua_setglobal(L, g);
    lua_pop(L, 2);  /* the name and the module */
  }
  return report(L, status, PROGNAME);
}

/* }==================================================================== */

/* {====================================================================
** Setting up the state
** ===================================================================== */

/* Push the absolute path of the running executable, or nothing (returns 0) when
** /proc is unavailable. The buffer grows until the whole link target fits. */
static int push_exe_path(lua_State *L) {
  for (size_t size = 256; size <= ((size_t)1 << 20); size *= 2) {
    char *buf = lua_newuserdatauv(L, size, 0);   /* scratch, freed by the GC */
    ssize_t n = readlink("/proc/self/exe", buf, size);
    if (n < 0) {
      lua_pop(L, 1);
      return 0;
    }
    if ((size_t)n < size) {
      lua_pushlstring(L, buf, (size_t)n);
      lua_remove(L, -2);
      return 1;
    }
    lua_pop(L, 1);
  }
  return 0;
}

/* Length of the directory part of the absolute path s[0..len), without its
** final slash: 0 for the root. */
static size_t dir_length(const char *s, size_t len) {
  while (len > 0 && s[len - 1] != '/') len--;
  return len > 0 ? len - 1 : 0;
}

/* Push "dir/?.lua;dir/?/init.lua;" for dir = base[0..len) "/" sub and return 1
** when dir holds the hasme library (dir/hasme/init.lua); else push nothing. A
** directory whose name contains package.path's own marks cannot be listed. */
static int push_lua_dir(lua_State *L, const char *base, size_t len, const char *sub) {
  struct stat st;
  int top = lua_gettop(L);
  lua_pushlstring(L, base, len);
  const char *dir = lua_pushfstring(L, "%s/%s", lua_tostring(L, -1), sub);
  const char *init = lua_pushfstring(L, "%s/hasme/init.lua", dir);
  int found = strpbrk(dir, ";?") == NULL && stat(init, &st) == 0 && S_ISREG(st.st_mode);
  if (found) {
    lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;", dir, dir);
    lua_replace(L, top + 1);
  }
  lua_settop(L, top + found);
  return found;
}

/* Make require "hasme" work from any directory: hasme.core is preloaded, and
** package.path starts with the Lua directories found next to the executable:
** PREFIX/lua when it runs from the source tree (PREFIX/build/hasme),
** PREFIX/share/lua/5.4 when installed (PREFIX/bin/hasme), and, failing both,
** the source tree one level further up, for build variants (build/san/hasme). */
static void setup_hasme(lua_State *L) {
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, luaopen_hasme_core);
  lua_setfield(L, -2, "hasme.core");
  lua_pop(L, 1);
  if (!push_exe_path(L)) return;
  size_t len;
  const char *exe = lua_tolstring(L, -1, &len);
  size_t prefix = dir_length(exe, dir_length(exe, len));
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  lua_getfield(L, -1, LUA_LOADLIBNAME);
  int package = lua_gettop(L);
  int n = push_lua_dir(L, exe, prefix, "lua");
  n += push_lua_dir(L, exe, prefix, "share/lua/" LUA_VERSION_MAJOR "." LUA_VERSION_MINOR);
  if (n == 0) n = push_lua_dir(L, exe, dir_length(exe, prefix), "lua");
  lua_getfield(L, package, "path");
  lua_concat(L, n + 1);
  lua_setfield(L, package, "path");
  lua_pop(L, 3);  /* package, the loaded table and the executable's path */
}

/* The global arg: arg[0] is the script, negative indices the interpreter and its
** options, positive ones the script's arguments. With no script, arg[0] is the
** interpreter, as in lua5.4. */
static void create_arg_table(lua_State *L, const cmdline *c) {
  int script = c->script < c->argc ? c->script : 0;
  lua_createtable(L, c->argc - script - 1, script + 1);
  for (int i = 0; i < c->argc; i++) {
    lua_pushstring(L, c->argv[i]);
    lua_rawseti(L, -2, i - script);
  }
  lua_setglobal(L, "arg");
}

/* LUA_INIT_5_4, or else LUA_INIT: "@file" runs a file, anything else is a chunk. */
static int run_init(lua_State *L) {
  const char *name = "=LUA_INIT" LUA_VERSUFFIX;
  const char *init = getenv(name + 1);
  if (init == NULL) {
    name = "=LUA_INIT";
    init = getenv(name + 1);
  }
  if (init == NULL) return LUA_OK;
  if (init[0] == '@') return dochunk(L, luaL_loadfile(L, init + 1));
  return dostring(L, init, name);
}

/* -e and -l, in the order given. Returns 0 at the first failure. */
static int run_options(lua_State *L, const cmdline *c) {
  for (int i = 1; i < c->optend; i++) {
    const char *a = c->argv[i];
    if (a[0] != '-' || (a[1] != 'e' && a[1] != 'l')) continue;
    const char *value = a[2] != '\0' ? a + 2 : c->argv[++i];
    int status = a[1] == 'e' ? dostring(L, value, "=(command line)") : dolibrary(L, value);
    if (status != LUA_OK) return 0;
  }
  return 1;
}

/* Run the script with its arguments as the chunk's `...`. */
static int run_script(lua_State *L, const cmdline *c) {
  int status = luaL_loadfile(L, c->from_stdin ? NULL : c->argv[c->script]);
  if (status == LUA_OK) {
    int n = c->argc - c->script - 1;
    luaL_checkstack(L, n + 3, "too many arguments to script");
    for (int i = c->script + 1; i < c->argc; i++) lua_pushstring(L, c->argv[i]);
    status = docall(L, n, 1);
    if (status == LUA_OK) {
      /* An experiment file run as a script would do nothing: say how to run it. */
      int t = lua_gettop(L);
      int exp = lua_istable(L, t) && lua_getfield(L, t, "run") == LUA_TFUNCTION
                && lua_getfield(L, t, "name") == LUA_TSTRING;
      lua_settop(L, t - 1);
      if (exp) {
        const char *f = c->from_stdin ? "EXPERIMENT.lua" : c->argv[c->script];
        print_message(PROGNAME, lua_pushfstring(L, "%s is an experiment (it returns {name, "
            "run, ...}): run it with `" PROGNAME " run %s`", f, f));
        lua_pop(L, 1);
        return LUA_ERRRUN;
      }
    }
  }
  return report(L, status, PROGNAME);
}

/* `hasme run EXPERIMENT.lua ...`: require "hasme.runner" and call its main with
** {EXPERIMENT.lua, ...}. Returns the exit status: main's integer result, 0 for
** nothing or true, 1 for false; statuses outside 0..255 become 1, since the shell
** would only see their low byte. */
static int run_experiment(lua_State *L, const cmdline *c) {
  lua_getglobal(L, "require");
  lua_pushliteral(L, "hasme.runner");
  if (report(L, docall(L, 1, 1), PROGNAME) != LUA_OK) return EXIT_FAILURE;
  const char *entry = c->run == 2 ? "runs" : "main";
  if (!lua_istable(L, -1) || lua_getfield(L, -1, entry) != LUA_TFUNCTION) {
    print_message(PROGNAME, lua_pushfstring(L, "module 'hasme.runner' has no function '%s'", entry));
    return EXIT_FAILURE;
  }
  lua_createtable(L, c->argc - 2, 0);
  for (int i = 2; i < c->argc; i++) {
    lua_pushstring(L, c->argv[i]);
    lua_rawseti(L, -2, i - 1);
  }
  if (report(L, docall(L, 1, 1), PROGNAME) != LUA_OK) return EXIT_FAILURE;
  int isint = 0;
  lua_Integer st = 0;
  switch (lua_type(L, -1)) {
    case LUA_TNIL: return EXIT_SUCCESS;
    case LUA_TBOOLEAN: return lua_toboolean(L, -1) ? EXIT_SUCCESS : EXIT_FAILURE;
    case LUA_TNUMBER: st = lua_tointegerx(L, -1, &isint); break;
    default: break;
  }
  if (!isint) {
    print_message(PROGNAME, lua_pushfstring(L,
        "hasme.runner.main returned a %s value (expected an exit status)",
        luaL_typename(L, -1)));
    return EXIT_FAILURE;
  }
  return st >= 0 && st <= 255 ? (int)st : EXIT_FAILURE;
}

/* }==================================================================== */

/* {====================================================================
** The REPL
**
** Lines are read with GNU readline on a terminal and with getline otherwise.
** Readline runs in its callback mode, so that the REPL's own select() is what
** waits for input: a Ctrl-C at the prompt then interrupts that wait (no
** SA_RESTART) and discards the line, including a pending incomplete chunk,
** instead of killing the process.
** ===================================================================== */

enum { LINE_OK, LINE_EOF, LINE_INTERRUPTED };
enum { CHUNK_EOF = -1, CHUNK_CANCELLED = -2 };   /* besides the LUA_* statuses */

typedef struct repl {
  int edit;              /* readline (stdin is a terminal) or plain getline */
  const char *history;   /* the history file, or NULL; a string on the Lua stack */
  int helpers;           /* stack index of the hasme.repl module, or 0 without it */
  struct sigaction old_int, old_winch;
} repl;

/* Registry key of the source of the chunk being run, for the hints. */
#define SOURCE_KEY "hasme.repl.source"

/* Set by the signal handlers of the prompt, read by the REPL loop. */
static volatile sig_atomic_t got_sigint = 0, got_sigwinch = 0;

/* Where readline's line handler, which takes no context, leaves its line. */
static char *edit_line = NULL;
static int edit_finished = 0;

static void on_sigint_prompt(int sig) {
  (void)sig;
  got_sigint = 1;
}

static void on_sigwinch(int sig) {
  (void)sig;
  got_sigwinch = 1;
}

static void on_line(char *line) {
  edit_line = line;
  edit_finished = 1;
  rl_callback_handler_remove();
}

/* Read a line with readline; *line is malloc'd, owned by the caller. */
static int read_edit(const char *prompt, char **line) {
  int fd = fileno(rl_instream != NULL ? rl_instream : stdin);
  edit_line = NULL;
  edit_finished = 0;
  rl_callback_handler_install(prompt, on_line);
  while (!edit_finished) {
    if (got_sigint) {
      got_sigint = 0;
      rl_free_line_state();
      rl_callback_sigcleanup();
      rl_cleanup_after_signal();
      rl_callback_handler_remove();
      fputs("^C\n", stdout);
      fflush(stdout);
      return LINE_INTERRUPTED;
    }
    if (got_sigwinch) {
      got_sigwinch = 0;
      rl_resize_terminal();
    }
    fd_set fds;
    FD_ZERO(&fds);
    FD_SET(fd, &fds);
    if (select(fd + 1, &fds, NULL, NULL, NULL) < 0) {
      if (errno == EINTR) continue;
      rl_callback_handler_remove();
      return LINE_EOF;
    }
    rl_callback_read_char();
  }
  *line = edit_line;
  return edit_line != NULL ? LINE_OK : LINE_EOF;
}

/* Read a line without editing; the prompt goes to stdout as in lua5.4. */
static int read_plain(const char *prompt, char **line) {
  size_t cap = 0;
  fputs(prompt, stdout);
  fflush(stdout);
  *line = NULL;
  ssize_t n = getline(line, &cap, stdin);
  if (n < 0) {
    free(*line);
    *line = NULL;
    if (got_sigint && errno == EINTR) {
      got_sigint = 0;
      clearerr(stdin);
      fputc('\n', stdout);
      return LINE_INTERRUPTED;
    }
    return LINE_EOF;
  }
  if (n > 0 && (*line)[n - 1] == '\n') (*line)[n - 1] = '\0';
  return LINE_OK;
}

/* Read a line and push it (LINE_OK), or push nothing. */
static int push_line(lua_State *L, repl *r, const char *prompt) {
  char *line;
  int rc = r->edit ? read_edit(prompt, &line) : read_plain(prompt, &line);
  if (rc == LINE_OK) {
    lua_pushstring(L, line);
    free(line);
  }
  return rc;
}

/* Keep a chunk in the history (consecutive duplicates once) and append it to
** the history file at once, so that os.exit() loses nothing. Best effort. */
static void save_history(const repl *r, const char *chunk) {
  if (!r->edit || chunk[0] == '\0') return;
  HIST_ENTRY *last = history_get(history_base + history_length - 1);
  if (last != NULL && strcmp(last->line, chunk) == 0) return;
  add_history(chunk);
  if (r->history != NULL) append_history(1, r->history);
}

/* A syntax error at the end of the input: the chunk is incomplete. */
static int incomplete(lua_State *L, int status) {
  static const char mark[] = "<eof>";
  size_t len;
  const char *msg = lua_tolstring(L, -1, &len);
  return status == LUA_ERRSYNTAX && len >= sizeof mark - 1
      && strcmp(msg + len - (sizeof mark - 1), mark) == 0;
}

/* Read a chunk and push its function (LUA_OK) or its syntax error (status), or
** return CHUNK_EOF / CHUNK_CANCELLED with nothing pushed. A line is first tried
** as an expression ("return <line>;") so that its values get printed; otherwise
** lines are read until the chunk is no longer incomplete. */
static int read_chunk(lua_State *L, repl *r) {
  int rc = push_line(L, r, PROMPT);
  if (rc != LINE_OK) return rc == LINE_EOF ? CHUNK_EOF : CHUNK_CANCELLED;
  const char *line = lua_tostring(L, -1);
  if (line[0] == '=') {          /* "=expr", the Lua 5.1 shorthand */
    lua_pushfstring(L, "return %s", line + 1);
    lua_remove(L, -2);
    line = lua_tostring(L, -1);
  }
  const char *ret = lua_pushfstring(L, "return %s;", line);
  if (luaL_loadbuffer(L, ret, strlen(ret), "=stdin") == LUA_OK) {
    save_history(r, line);
    lua_pushvalue(L, -3);
    lua_setfield(L, LUA_REGISTRYINDEX, SOURCE_KEY);
    lua_replace(L, -3);  /* the function replaces the line */
    lua_pop(L, 1);
    return LUA_OK;
  }
  lua_pop(L, 2);  /* the error and the "return" line */
  int status;
  for (;;) {
    size_t len;
    const char *chunk = lua_tolstring(L, -1, &len);
    status = luaL_loadbuffer(L, chunk, len, "=stdin");
    if (!incomplete(L, status)) break;
    rc = push_line(L, r, PROMPT2);
    if (rc == LINE_EOF) break;          /* report the incomplete chunk */
    if (rc == LINE_INTERRUPTED) {
      lua_pop(L, 2);
      return CHUNK_CANCELLED;
    }
    lua_remove(L, -2);                   /* the "<eof>" error */
    lua_pushliteral(L, "\n");
    lua_insert(L, -2);
    lua_concat(L, 3);
  }
  save_history(r, lua_tostring(L, -2));
  lua_pushvalue(L, -2);
  lua_setfield(L, LUA_REGISTRYINDEX, SOURCE_KEY);
  lua_remove(L, -2);
  return status;
}

/* Print the values above base with hasme.repl's print (plain tables shown
** field by field), or with the global print, as lua5.4's REPL does. */
static void print_results(lua_State *L, const repl *r, int base) {
  int n = lua_gettop(L) - base;
  if (n <= 0) return;
  luaL_checkstack(L, LUA_MINSTACK, "too many results to print");
  if (r->helpers == 0 || lua_getfield(L, r->helpers, "print") != LUA_TFUNCTION) {
    if (r->helpers != 0) lua_pop(L, 1);
    lua_getglobal(L, "print");
  }
  lua_insert(L, base + 1);
  if (lua_pcall(L, n, 0, 0) != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    if (msg == NULL) msg = luaL_typename(L, -1);
    print_message(NULL, lua_pushfstring(L, "error calling 'print' (%s)", msg));
  }
}

/* Tab completion. Readline's hooks take no context, so the state and the stack
** index of hasme.repl are kept here for the session. hasme.repl.complete(word)
** returns the whole words that complete word; '.' and ':' are not word breaks, so
** that the word is a path such as hasme.sim or r:me. */
#define WORD_BREAKS " \t\n\"\\'`@$><=;|&{(,+-*/%^~#[]}"
static lua_State *complete_state = NULL;
static int complete_module = 0;
#define MATCHES_KEY "hasme.repl.matches"

/* The generator of rl_completion_matches: the state-th word of the list that
** complete_hook stored in the registry, malloc'd as readline wants. */
static char *complete_next(const char *text, int state) {
  lua_State *L = complete_state;
  (void)text;
  char *word = NULL;
  int top = lua_gettop(L);
  lua_getfield(L, LUA_REGISTRYINDEX, MATCHES_KEY);
  if (lua_istable(L, -1) && lua_rawgeti(L, -1, (lua_Integer)state + 1) == LUA_TSTRING) {
    size_t len;
    const char *s = lua_tolstring(L, -1, &len);
    word = malloc(len + 1);
    if (word != NULL) memcpy(word, s, len + 1);
  }
  lua_settop(L, top);
  return word;
}

static char **complete_hook(const char *text, int start, int end) {
  lua_State *L = complete_state;
  (void)start; (void)end;
  /* Inside a string literal ("data/x.c<Tab>") complete file names, as readline
  ** does by default; elsewhere Lua names only, never file names. */
  if (rl_completion_quote_character != 0) return NULL;
  rl_attempted_completion_over = 1;
  rl_completion_append_character = '\0';
  if (L == NULL) return NULL;
  int top = lua_gettop(L);
  lua_getfield(L, complete_module, "complete");
  lua_pushstring(L, text);
  if (lua_pcall(L, 1, 1, 0) != LUA_OK || !lua_istable(L, -1)) {
    lua_settop(L, top);
    return NULL;
  }
  lua_setfield(L, LUA_REGISTRYINDEX, MATCHES_KEY);
  lua_settop(L, top);
  char **matches = rl_completion_matches(text, complete_next);
  lua_pushnil(L);
  lua_setfield(L, LUA_REGISTRYINDEX, MATCHES_KEY);
  return matches;
}

/* Find the history file and load it. The path is pushed (kept on the stack for
** the whole session) or r->history is NULL. */
static void open_history(lua_State *L, repl *r) {
  const char *path = getenv("HASME_HISTORY");
  r->history = NULL;
  using_history();
  stifle_history(HISTORY_MAX);
  /* A chunk of several lines is one entry: each entry is written after a
  ** "#<time>" line, and the lines up to the next one are read back together. */
  history_comment_char = '#';
  history_write_timestamps = 1;
  history_multiline_entries = 1;
  if (path == NULL) {
    const char *home = getenv("HOME");
    if (home == NULL || home[0] == '\0') return;
    path = lua_pushfstring(L, "%s/.hasme_history", home);
  }
  else if (path[0] == '\0')
    return;                                /* disabled */
  else
    path = lua_pushstring(L, path);
  if (read_history(path) == ENOENT) write_history(path);  /* append needs the file */
  history_truncate_file(path, HISTORY_MAX);
  r->history = path;
}

/* Load hasme.repl and run its start() (the globals hasme and help). The module
** stays on the stack for the session; without it (a broken installation) the
** prompt still works, as a plain Lua prompt. */
static void open_helpers(lua_State *L, repl *r) {
  r->helpers = 0;
  lua_getglobal(L, "require");
  lua_pushliteral(L, "hasme.repl");
  if (lua_pcall(L, 1, 1, 0) != LUA_OK || !lua_istable(L, -1)) {
    print_message(PROGNAME, lua_isstring(L, -1) ? lua_tostring(L, -1)
                  : "module 'hasme.repl' is not a table: no help or completion");
    lua_pop(L, 1);
    return;
  }
  r->helpers = lua_gettop(L);
  if (lua_getfield(L, r->helpers, "start") == LUA_TFUNCTION) {
    if (lua_pcall(L, 0, 0, 0) != LUA_OK) {
      print_message(PROGNAME, lua_tostring(L, -1));
      lua_pop(L, 1);
    }
  }
  else
    lua_pop(L, 1);
}

static void open_repl(lua_State *L, repl *r) {
  r->edit = isatty(STDIN_FILENO);
  r->history = NULL;
  open_helpers(L, r);
  if (r->edit) {
    rl_readline_name = PROGNAME;          /* for $if hasme in ~/.inputrc */
    rl_change_environment = 0;            /* leave LINES and COLUMNS alone */
    open_history(L, r);
    if (r->helpers != 0) {
      complete_state = L;
      complete_module = r->helpers;
      rl_attempted_completion_function = complete_hook;
      rl_basic_word_break_characters = (char *)WORD_BREAKS;
      rl_completer_word_break_characters = (char *)WORD_BREAKS;
      rl_completer_quote_characters = "\"'";
    }
  }
  got_sigint = got_sigwinch = 0;
  set_signal(SIGINT, on_sigint_prompt, &r->old_int);
  /* Only readline cares about the terminal's size; without it, the signal
  ** would just interrupt getline. */
  if (r->edit) set_signal(SIGWINCH, on_sigwinch, &r->old_winch);
}

static void close_repl(repl *r) {
  rl_attempted_completion_function = NULL;
  complete_state = NULL;
  sigaction(SIGINT, &r->old_int, NULL);
  if (r->edit) {
    sigaction(SIGWINCH, &r->old_winch, NULL);
    clear_history();
  }
}

/* After a chunk, print hasme.repl's hints about its source (a misspelt field of
** hasme) on stderr. Errors of the hint function itself are ignored. */
static void print_hints(lua_State *L, const repl *r) {
  int top = lua_gettop(L);
  if (r->helpers != 0 && lua_getfield(L, r->helpers, "hints") == LUA_TFUNCTION) {
    lua_getfield(L, LUA_REGISTRYINDEX, SOURCE_KEY);
    if (lua_pcall(L, 1, 1, 0) == LUA_OK && lua_type(L, -1) == LUA_TSTRING)
      print_message(NULL, lua_tostring(L, -1));
  }
  lua_settop(L, top);
}

/* Read, evaluate, print until end of input. Errors are reported without the
** program name, as in lua5.4, and the session goes on. */
static void do_repl(lua_State *L) {
  repl r;
  open_repl(L, &r);
  int base = lua_gettop(L);
  for (;;) {
    lua_pushnil(L);
    lua_setfield(L, LUA_REGISTRYINDEX, SOURCE_KEY);
    int status = read_chunk(L, &r);
    if (status == CHUNK_EOF) break;
    if (status == CHUNK_CANCELLED) continue;
    if (status == LUA_OK) status = docall(L, 0, LUA_MULTRET);
    if (status == LUA_OK) print_results(L, &r, base);
    else report(L, status, NULL);
    if (status != LUA_ERRSYNTAX) print_hints(L, &r);
    lua_settop(L, base);
  }
  fputc('\n', stdout);
  fflush(stdout);
  close_repl(&r);
  lua_settop(L, base);
}

/* }==================================================================== */

/* The body of the program, run in protected mode so that any error (memory
** included) is reported. Returns the exit status as an integer. */
static int pmain(lua_State *L) {
  const cmdline *c = lua_touserdata(L, 1);
  int has_script = c->script < c->argc;
  int interactive = (c->flags & OPT_INTERACTIVE)
          || (!has_script && !c->run && !(c->flags & (OPT_EXEC | OPT_VERSION))
              && isatty(STDIN_FILENO));
  luaL_checkversion(L);
  if (c->flags & OPT_NOENV) {    /* the package library reads this flag */
    lua_pushboolean(L, 1);
    lua_setfield(L, LUA_REGISTRYINDEX, "LUA_NOENV");
  }
  luaL_openlibs(L);
  setup_hasme(L);
  create_arg_table(L, c);
  if (c->flags & OPT_WARN) lua_warning(L, "@on", 0);
  lua_gc(L, LUA_GCGEN, 0, 0);    /* lua5.4's choice for a standalone interpreter */
  if (interactive)
    puts(VERSION_LINE ", type os.exit() or Ctrl-D to leave");
  else if (c->flags & OPT_VERSION)
    puts(VERSION_LINE);
  fflush(stdout);
  /* `hasme run` never runs LUA_INIT: an experiment shared with a colleague must
  ** give the same numbers whatever the colleague's environment holds. */
  int ok = ((c->flags & OPT_NOENV) || c->run || run_init(L) == LUA_OK)
           && run_options(L, c);
  if (ok && c->run) {
    lua_pushinteger(L, run_experiment(L, c));
    return 1;
  }
  if (ok && has_script) ok = run_script(L, c) == LUA_OK;
  if (ok && interactive)
    do_repl(L);
  else if (ok && !has_script && !(c->flags & (OPT_EXEC | OPT_VERSION | OPT_INTERACTIVE)))
    ok = dochunk(L, luaL_loadfile(L, NULL)) == LUA_OK;   /* stdin is not a terminal */
  lua_pushinteger(L, ok ? EXIT_SUCCESS : EXIT_FAILURE);
  return 1;
}

/* The allocator's state of the interpreter. os.exit(code, true) closes the Lua state
** and exits without returning to main, so lhs_closestate never runs: keeping the
** block reachable from here lets the leak checker of the sanitizer build tell that
** apart from a real leak (the process is ending; the memory goes with it). */
static void *state_allocator = NULL;

int main(int argc, char **argv) {
  cmdline c = { .argc = argc, .argv = argv, .script = argc, .optend = argc };
  switch (parse_args(&c)) {
    case PARSE_HELP:
      fputs(usage_text, stdout);
      return EXIT_SUCCESS;
    case PARSE_ERROR:
      return EXIT_FAILURE;
    default:
      break;
  }
  lua_State *L = lhs_newstate();
  if (L == NULL) {
    print_message(PROGNAME, "cannot create state: not enough memory");
    return EXIT_FAILURE;
  }
  lua_getallocf(L, &state_allocator);
  lua_pushcfunction(L, pmain);
  lua_pushlightuserdata(L, &c);
  int status = lua_pcall(L, 1, 1, 0);
  int code = status == LUA_OK ? (int)lua_tointeger(L, -1) : EXIT_FAILURE;
  report(L, status, PROGNAME);
  lhs_closestate(L);
  return code;
}
