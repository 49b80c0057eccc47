-- cli_spec.lua: the hasme executable run as a program: scripts and `arg`, exit
-- statuses and error reports, the options, the environment, and the REPL (driven
-- through a pseudo-terminal by tests/tools/pty_session.py).

local U = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "spec_util.lua")
local readfile, writefile, q, pwd, ROOT, BUILD, BIN = U.readfile, U.writefile, U.q, U.pwd, U.ROOT, U.BUILD, U.BIN
local PTY = ROOT .. "/tests/tools/pty_session.py"

-- Single-quote s for /bin/sh.

-- The command line that runs hasme with args (a list of strings), after the
-- environment assignments env (a list of "NAME=value", may be empty). LUA_INIT is
-- cleared unless given, so that the caller's environment cannot change results.
local function cmd(args, env)
  local parts = { "env -u LUA_INIT -u LUA_INIT_5_4" }
  for _, e in ipairs(env or {}) do parts[#parts + 1] = q(e) end
  parts[#parts + 1] = q(BIN)
  for _, a in ipairs(args) do parts[#parts + 1] = q(a) end
  return table.concat(parts, " ")
end

-- Run a shell command line with stdin from the string input (or /dev/null).
-- Returns the exit status, stdout and stderr.
local function sh(cmdline, input)
  local out, err, inp = os.tmpname(), os.tmpname(), os.tmpname()
  writefile(inp, input or "")
  local _, _, status = os.execute(("%s < %s > %s 2> %s"):format(cmdline, q(inp), q(out), q(err)))
  local stdout, stderr = readfile(out), readfile(err)
  os.remove(out); os.remove(err); os.remove(inp)
  return status, stdout, stderr
end

local function hasme(args, opts)
  opts = opts or {}
  return sh(cmd(args, opts.env), opts.input)
end

-- A temporary Lua script holding src; returns its name.
local function script(src)
  local name = os.tmpname()
  writefile(name, src)
  return name
end

-- Run a REPL session: steps is a list in the language of pty_session.py.
-- Returns the transcript of the terminal, ending with "[exit N]".
local function session(steps, args, env)
  local stepfile = script(table.concat(steps, "\n") .. "\n")
  local p = assert(io.popen(("env HASME_HISTORY= %s /usr/bin/python3 %s %s %s"):format(
    table.concat(env or {}, " "), q(PTY), q(stepfile), cmd(args or {}))))
  local out = p:read("a")
  p:close()
  os.remove(stepfile)
  return out
end

describe("hasme executable", function()
  describe("running a script", function()
    it("sets arg as lua5.4 does and passes the arguments as ...", function()
      local s = script([[
        print(arg[-1], arg[0], #arg, arg[1], arg[2])
        print(select("#", ...), ...)
      ]])
      local status, out, err = hasme({ s, "2.385", "two words" })
      os.remove(s)
      assert.equal(0, status)
      assert.equal("", err)
      assert.equal(("%s\t%s\t2\t2.385\ttwo words\n2\t2.385\ttwo words\n"):format(BIN, s), out)
    end)

    it("skips a #! first line", function()
      local s = script("#!/usr/bin/env hasme\nprint('ran')\n")
      local status, out = hasme({ s })
      os.remove(s)
      assert.equal(0, status)
      assert.equal("ran\n", out)
    end)

    it("reports an uncaught error with a traceback on stderr and exits 1", function()
      local s = script("local x = 1\nerror('boom')\n")
      local status, out, err = hasme({ s })
      os.remove(s)
      assert.equal(1, status)
      assert.equal("", out)
      assert.matches("hasme: " .. s .. ":2: boom\nstack traceback:\n", err, 1, true)
      assert.matches(s .. ":2: in main chunk", err, 1, true)
    end)

    it("reports a non-string error object through __tostring or by its type", function()
      local status, _, err = hasme({ "-e",
        "error(setmetatable({}, {__tostring = function() return 'custom' end}))" })
      assert.equal(1, status)
      assert.matches("^hasme: custom\nstack traceback:\n", err)
      status, _, err = hasme({ "-e", "error({})" })
      assert.equal(1, status)
      assert.matches("^hasme: %(error object is a table value%)\nstack traceback:\n", err)
    end)

    it("exits with the status given to os.exit", function()
      assert.equal(3, (hasme({ "-e", "os.exit(3)" })))
      assert.equal(0, (hasme({ "-e", "os.exit(true)" })))
    end)

    it("reports a script that cannot be opened", function()
      local status, _, err = hasme({ "/nonexistent/x.lua" })
      assert.equal(1, status)
      assert.equal("hasme: cannot open /nonexistent/x.lua: No such file or directory\n", err)
    end)

    it("reports a syntax error without running anything", function()
      local s = script("print('no')\nlocal = 1\n")
      local status, out, err = hasme({ s })
      os.remove(s)
      assert.equal(1, status)
      assert.equal("", out)
      assert.equal(("hasme: %s:2: <name> expected near '='\n"):format(s), err)
    end)

    it("runs the script given as - from stdin, with its arguments", function()
      local status, out = hasme({ "-", "a", "b" }, { input = "print(arg[0], ...)" })
      assert.equal(0, status)
      assert.equal("-\ta\tb\n", out)
    end)

    it("runs stdin as a script when there is no script and stdin is not a terminal", function()
      local status, out = hasme({}, { input = "print(6 * 7)\n" })
      assert.equal(0, status)
      assert.equal("42\n", out)
    end)

    it("finds the hasme library from any working directory", function()
      local status, out, err = sh("cd /tmp && " ..
        cmd({ "-e", "print(require('hasme').vec{1, 2})" }))
      assert.equal("", err)
      assert.equal(0, status)
      assert.equal("vec{1, 2}\n", out)
    end)
  end)

  describe("options", function()
    it("runs several -e chunks in order", function()
      local status, out = hasme({ "-e", "x = 1", "-e", "x = x * 10", "-eprint(x + 1)" })
      assert.equal(0, status)
      assert.equal("11\n", out)
    end)

    it("reports an error in -e and stops", function()
      local status, out, err = hasme({ "-e", "error('first')", "-e", "print('second')" })
      assert.equal(1, status)
      assert.equal("", out)
      assert.matches("^hasme: %(command line%):1: first\n", err)
    end)

    it("requires a module into a global with -l", function()
      local status, out = hasme({ "-l", "hasme", "-e", "print(hasme.vec{1, 2})" })
      assert.equal(0, status)
      assert.equal("vec{1, 2}\n", out)
      status, out = hasme({ "-l", "h=hasme", "-e", "print(h.vec{3})" })
      assert.equal(0, status)
      assert.equal("vec{3}\n", out)
    end)

    it("fails when -l names a missing module", function()
      local status, _, err = hasme({ "-l", "no_such_module_2385" })
      assert.equal(1, status)
      assert.matches("^hasme: module 'no_such_module_2385' not found", err)
    end)

    it("prints the version with -v and --version", function()
      local version = readfile(ROOT .. "/src/core/hasme.h"):match('#define HS_VERSION "([^"]+)"')
      for _, opt in ipairs({ "-v", "--version" }) do
        local status, out = hasme({ opt })
        assert.equal(0, status)
        assert.matches("^hasme " .. version:gsub("%.", "%%.") .. " %(Lua 5%.4%.%d+%)\n$", out)
      end
    end)

    it("lists the options and the run subcommand with --help", function()
      local status, out, err = hasme({ "--help" })
      assert.equal(0, status)
      assert.equal("", err)
      assert.matches("^usage: hasme %[options%] %[script %[args%]%]\n", out)
      for _, opt in ipairs({ "-e chunk", "-i ", "-l mod", "-v ", "-E ", "--help", "-- ",
                             "run EXPERIMENT.lua" }) do
        assert.matches("\n  " .. opt, out, 1, true)
      end
    end)

    it("rejects an unknown option with a usage message and status 1", function()
      local status, out, err = hasme({ "-x", "-e", "print('ran')" })
      assert.equal(1, status)
      assert.equal("", out)
      assert.matches("^hasme: unrecognized option '%-x'\nusage: hasme", err)
      status, _, err = hasme({ "--nope" })
      assert.equal(1, status)
      assert.matches("^hasme: unrecognized option '%-%-nope'\n", err)
    end)

    it("rejects -e without its argument", function()
      local status, _, err = hasme({ "-e" })
      assert.equal(1, status)
      assert.matches("^hasme: missing argument to '%-e'\n", err)
    end)

    it("ends the options at --", function()
      local s = script("print(...)")
      local status, out = hasme({ "--", s, "-v", "-e" })
      os.remove(s)
      assert.equal(0, status)
      assert.equal("-v\t-e\n", out)
    end)

    it("enters the REPL on stdin after the chunks with -i", function()
      local status, out = hasme({ "-i", "-e", "x = 41" }, { input = "x + 1\n" })
      assert.equal(0, status)
      assert.matches("hasme> 42\nhasme> \n$", out)
    end)

    it("turns warnings on with -W", function()
      local status, _, err = hasme({ "-W", "-e", "warn('careful')" })
      assert.equal(0, status)
      assert.equal("Lua warning: careful\n", err)
    end)
  end)

  describe("LUA_INIT", function()
    it("runs LUA_INIT before the script", function()
      local status, out = hasme({ "-e", "print(x)" }, { env = { "LUA_INIT=x = 2.385" } })
      assert.equal(0, status)
      assert.equal("2.385\n", out)
    end)

    it("prefers LUA_INIT_5_4 and runs @file", function()
      local s = script("x = 'from file'")
      local status, out = hasme({ "-e", "print(x)" },
        { env = { "LUA_INIT=x = 1", "LUA_INIT_5_4=@" .. s } })
      os.remove(s)
      assert.equal(0, status)
      assert.equal("from file\n", out)
    end)

    it("stops at an error in LUA_INIT", function()
      local status, out, err = hasme({ "-e", "print('ran')" }, { env = { "LUA_INIT=error('init')" } })
      assert.equal(1, status)
      assert.equal("", out)
      assert.matches("^hasme: LUA_INIT:1: init\n", err)
    end)

    it("does not run LUA_INIT under `hasme run`", function()
      local dir = os.tmpname()
      os.remove(dir)
      local exp = script("return { name = 'x', description = 'd', run = function() print('ran', rawget(_G, 'x')) end }")
      local status, out, err = hasme({ "run", exp, "--out", dir },
        { env = { "LUA_INIT=x = 2.385; print('init ran')", "LUA_INIT_5_4=x = 1; print('init ran')" } })
      os.remove(exp)
      os.execute("rm -rf " .. q(dir))
      assert.equal(0, status, err)
      assert.not_matches("init ran", out, 1, true)
      assert.matches("ran\tnil", out, 1, true)
    end)

    it("ignores LUA_INIT with -E", function()
      local status, out = hasme({ "-E", "-e", "print(x)" }, { env = { "LUA_INIT=x = 1" } })
      assert.equal(0, status)
      assert.equal("nil\n", out)
    end)
  end)

  describe("REPL", function()
    it("prints the banner once and the values of expressions", function()
      local out = session({ "> 1 + 1", "> 2.385, 'a', nil", "> require('hasme').vec{1, 2}",
                            "> local y = 1", "^D" })
      local _, banners = out:gsub("type os%.exit%(%) or Ctrl%-D to leave", "")
      assert.equal(1, banners)
      assert.matches("^hasme %S+ %(Lua 5%.4%.%d+%), type os%.exit%(%) or Ctrl%-D to leave\n", out)
      assert.matches("1 + 1\n2\n", out, 1, true)
      assert.matches("\n2.385\ta\tnil\n", out, 1, true)
      assert.matches("\nvec{1, 2}\n", out, 1, true)
      assert.matches("local y = 1\nhasme> ", out, 1, true)
      assert.matches("%[exit 0%]\n$", out)
    end)

    it("survives an error", function()
      local out = session({ "> error('oops')", "> 6 * 7", "^D" })
      assert.matches("\nstdin:1: oops\nstack traceback:\n", out, 1, true)
      assert.matches("6 * 7\n42\n", out, 1, true)
      assert.matches("%[exit 0%]\n$", out)
    end)

    it("reads a multi-line function definition", function()
      local out = session({ "> function f(a)", ">   return a * 3", "> end", "> f(7)", "^D" })
      assert.matches("hasme> function f(a)\n>>   return a * 3\n>> end\nhasme> f(7)\n21\n", out, 1, true)
    end)

    it("interrupts a running computation with Ctrl-C", function()
      local out = session({ "! while true do end", "^C", "> 'alive'", "^D" })
      assert.matches("interrupted!\nstack traceback:\n", out, 1, true)
      assert.matches("\nalive\n", out, 1, true)
      assert.matches("%[exit 0%]\n$", out)
    end)

    it("discards the pending input on Ctrl-C at the prompt", function()
      local out = session({ "> local t = {", "^C", "> 40 + 2", "^D" })
      assert.matches("\n42\n", out, 1, true)
      assert.matches("%[exit 0%]\n$", out)
    end)

    it("exits with status 0 on Ctrl-D, and with os.exit's status", function()
      assert.matches("%[exit 0%]\n$", session({ "^D" }))
      assert.matches("%[exit 5%]\n$", session({ "> os.exit(5)" }))
    end)

    it("binds the global hasme at the prompt only, not in scripts", function()
      local out = session({ "> hasme.version == require('hasme').version", "^D" })
      assert.matches("\ntrue\n", out, 1, true)
      local status, stdout = hasme({ "-e", "print(hasme, help)" })
      assert.equal(0, status)
      assert.equal("nil\tnil\n", stdout)
    end)

    it("prints help topics and the API reference's entry of a function", function()
      local out = session({ "> help()", "> help(hasme.simulate)", "> help('eig')",
                            "> help(hasme.stats.survival)", "^D" })
      assert.matches("Topics (help(\"topic\")", out, 1, true)
      assert.matches("\n  Noise\n", out, 1, true)
      assert.matches("\n### `hasme.simulate(opts)` -> Result\n", out, 1, true)
      assert.matches("| `eta` | number > 0, finite |", out, 1, true)
      assert.matches("\n### `hasme.eig(m)` -> values", out, 1, true)
      assert.matches("`stats.survival(steps, horizon)`", out, 1, true)
    end)

    it("completes globals, keywords, fields of hasme and methods of userdata with Tab", function()
      local out = session({
        "> type(hasme.simul\t)",
        "> r = hasme.simulate{ objective = hasme.quadratic{ H = {{1}} }, eta = 0.1, steps = 2, x0 = {1}, paths = 3 }",
        "> r:record_st\t()",
        "> hasme.stats.escape_su\t ~= nil",
        "> pri\t('x' .. 1)",
        "> local functio\t f() return 7 end",
        "> #io.open(\"Makefil\t):read('a') > 100",
        "> hasme.s\t\t",
        "^C", "^D" })
      assert.matches("hasme> type(hasme.simulate)\nfunction\n", out, 1, true)
      assert.matches("hasme> r:record_steps()\n{ 2 }\n", out, 1, true)
      assert.matches("hasme> hasme.stats.escape_summary ~= nil\ntrue\n", out, 1, true)
      assert.matches("hasme> print('x' .. 1)\nx1\n", out, 1, true)
      assert.matches("hasme> local function f() return 7 end\n", out, 1, true)
      -- Inside a string, Tab completes file names (and closes the string).
      assert.matches("hasme> #io.open(\"Makefile\" ):read('a') > 100\ntrue\n", out, 1, true)
      -- Two Tabs on an ambiguous word list the candidates.
      assert.matches("hasme.saddle%s+hasme.simulate%s+hasme.stats", out)
    end)

    it("prints plain tables nested with sorted keys and results as tables", function()
      local out = session({ "> { 3, 'a', { z = 1, b = { c = 2.5 } }, k = true }",
                            "> t = {}; t.me = t", "> t",
                            "> hasme.stats.escape_summary({ 3, 5, -1 }, 10)", "^D" })
      assert.matches('\n{ 3, "a", { b = { c = 2.5 }, z = 1 }, k = true }\n', out, 1, true)
      assert.matches("\n{ me = <cycle> }\n", out, 1, true)
      assert.matches("\n  censored = 1,\n", out, 1, true)
      assert.not_matches("table: 0x", out)
    end)

    it("suggests the field of hasme a misspelt name was meant to be", function()
      local out = session({ "> hasme.simulte{}", "> hasme.stats.survivl", "> hasme.qqqqqqqq", "^D" })
      assert.matches("attempt to call a nil value (field 'simulte')", out, 1, true)
      assert.matches("hasme has no field 'simulte' (did you mean 'simulate'?)\n", out, 1, true)
      assert.matches("hasme.stats has no field 'survivl' (did you mean 'survival'?)\n", out, 1, true)
      assert.matches("hasme has no field 'qqqqqqqq'\n", out, 1, true)
    end)

    it("keeps the history in HASME_HISTORY, a multi-line chunk as one entry", function()
      local hist = os.tmpname()
      os.remove(hist)
      session({ "> function f(a)", ">   return a * 3", "> end", "^D" }, {},
              { "HASME_HISTORY=" .. q(hist) })
      assert.matches("function f(a)\n  return a * 3\nend\n", readfile(hist), 1, true)
      -- The Up arrow recalls the whole definition.
      local out = session({ "> \\x1b[A", "> f(5)", "^D" }, {}, { "HASME_HISTORY=" .. q(hist) })
      os.remove(hist)
      assert.matches("\n15\n", out, 1, true)
    end)
  end)
end)
