-- hasme.runner: `hasme run EXPERIMENT.lua [options]`. Loads an experiment (a Lua file
-- returning {name, description, params, run}), applies the command line's overrides
-- and sweeps, runs every point in a directory of its own and writes config.json,
-- results.json, the tables, the figures and log.txt there. The contract is in
-- docs/experiments-howto.md; src/main.c calls main(args) and exits with its result.
local hasme = require "hasme"
local json = require "hasme.json"
local report = require "hasme.report"
local sweep = require "hasme.sweep"

local M = {}

local type, ipairs, pairs, tostring, tonumber = type, ipairs, pairs, tostring, tonumber
local concat, sort = table.concat, table.sort
local fmt, mtype, floor = string.format, math.type, math.floor
local huge = math.huge

M.usage = "usage: hasme run EXPERIMENT.lua [--set name=value]... [--seeds N] [--out DIR] "
  .. "[--threads N] [--quiet] [--list] [--help]"

M.help = M.usage .. [[


Run an experiment: a Lua file that returns {name =, description =, params =, run =}.
Options:
  --set name=value  override the param `name`; the value is read as the type of its
                    default. Several values sweep over them (every combination of
                    the swept params is a point):
                      a,b,c        a list of values
                      lo:hi:step   lo, lo+step, ..., hi (inclusive)
                      lo:hi:*f     lo, lo*f, lo*f^2, ..., hi (inclusive)
                    A list param takes one list per value, elements separated by
                    ',': methods=sgd,hasme; several lists separated by ';' sweep:
                    'methods=sgd,hasme;sgd,sme1'. A backslash keeps a ',' or ';'.
  --seeds N         repeat every point with the seeds seed, seed+1, ..., seed+N-1
  --out DIR         the output directory (default results/<name>/<YYYYmmdd-HHMMSS>)
  --threads N       simulation threads (default: every core; results do not depend
                    on it)
  --quiet           no progress bar and no log lines on stderr
  --list            print the description and the params (types and defaults)
  --help            print this help
Exit status: 0 on success, 1 on an error in the experiment, 2 on a usage error.
Guide: docs/experiments-howto.md]]

-- {==================================================================
-- Errors
-- ===================================================================

-- The two kinds of failure main reports: a usage error (exit 2, with the usage
-- line) and a failure of the experiment (exit 1, with a traceback when it has one).
local Usage, Failure = {}, {}

local function usage(msg, ...)
  error(setmetatable({ msg = fmt(msg, ...) }, Usage), 0)
end

local function fail(msg, trace)
  error(setmetatable({ msg = msg, trace = trace }, Failure), 0)
end

-- The traceback of an error in the experiment, without the runner's own frames
-- below the experiment's (they say nothing to its author).
local function traceback(msg)
  local tb = debug.traceback("", 3)   -- above this function and the message handler
  local lines, user = {}, false
  for line in tb:gmatch("[^\n]+") do
    local runner = line:find("hasme/runner.lua", 1, true) or line:find("[C]: in function 'xpcall'", 1, true)
    if user and runner then break end
    if line:match("^%s") and not runner and not line:find("^%s*%[C%]") then user = true end
    lines[#lines + 1] = line
  end
  return tostring(msg), concat(lines, "\n")
end

-- }==================================================================

-- {==================================================================
-- Small helpers: shell, files, clock
-- ===================================================================

local function shq(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

local function exists(path)
  return os.rename(path, path) ~= nil
end

-- Create the directories in paths (a list), with their parents, in one command.
local function mkdir(paths)
  local todo = {}
  for _, p in ipairs(paths) do
    if not exists(p) then todo[#todo + 1] = shq(p) end
  end
  if #todo == 0 then return end
  if not os.execute("mkdir -p " .. concat(todo, " ") .. " 2>/dev/null") then
    for _, p in ipairs(paths) do
      if not exists(p) then fail("cannot create the directory " .. p) end
    end
  end
end

-- Wall-clock seconds with centisecond resolution where /proc is there.
local function now()
  local f = io.open("/proc/uptime", "r")
  if f then
    local t = f:read("n")
    f:close()
    if t then return t end
  end
  return os.time()
end

local function iso8601()
  return os.date("!%Y-%m-%dT%H:%M:%SZ")
end

local platform_text
local function platform()
  if not platform_text then
    local p = io.popen("uname -srm 2>/dev/null")
    platform_text = p and p:read("l") or "unknown"
    if p then p:close() end
  end
  return platform_text
end

-- A deep copy of plain tables (userdata such as hasme.Vec, and json.null, are shared).
local function copy(v)
  if type(v) ~= "table" or v == json.null then return v end
  local t = {}
  for k, x in pairs(v) do t[k] = copy(x) end
  return setmetatable(t, getmetatable(v))
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  return keys
end

-- }==================================================================

-- {==================================================================
-- Params: their types (hasme.sweep parses --set values)
-- ===================================================================

local function islist(t)
  if type(t) ~= "table" or getmetatable(t) ~= nil and getmetatable(t).__jsontype ~= "array" then
    return false
  end
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n == #t
end

--- The type of a param's default, which decides how --set values are read:
-- "integer", "number", "boolean", "string", "list of integers", "list of numbers",
-- "list of strings" (an empty default list too), or nil (a fixed param: any other
-- table or a hasme.Vec/Mat, which --set cannot change).
function M.param_type(v)
  local tv = type(v)
  if tv == "number" then return mtype(v) == "integer" and "integer" or "number" end
  if tv == "boolean" or tv == "string" then return tv end
  if islist(v) then
    local ints, nums, strs = true, true, true
    for _, x in ipairs(v) do
      if mtype(x) ~= "integer" then ints = false end
      if type(x) ~= "number" then nums = false end
      if type(x) ~= "string" then strs = false end
    end
    if #v == 0 or strs then return "list of strings" end
    if ints then return "list of integers" end
    if nums then return "list of numbers" end
  end
  return nil
end

-- A value as short text: lists joined with sep (default ",").
local function text(v, sep)
  if type(v) == "table" and islist(v) then
    local t = {}
    for i, x in ipairs(v) do t[i] = text(x) end
    return concat(t, sep or ",")
  elseif type(v) == "number" then
    return report.value(v)
  elseif type(v) == "table" or type(v) == "userdata" then
    local ok, s = pcall(json.encode, v)
    return ok and s or tostring(v)
  end
  return tostring(v)
end
M.text = text

--- The values that `--set name=value` gives a param whose default has type kind
-- (see param_type): a list of one value, or of several for a sweep. Raises
-- "bad value for param 'name': <type> expected, got '<text>'" on a bad value.
-- hasme.sweep parses; this raises its message as a usage error.
function M.parse_values(name, kind, value)
  local values, err = sweep.parse_values(name, kind, value)
  if not values then usage("%s", err) end
  return values
end

-- }==================================================================

-- {==================================================================
-- The command line
-- ===================================================================

local FLAGS = { quiet = true, list = true, help = true }
local VALUED = { set = true, seeds = true, out = true, threads = true }

-- A positive integer option value.
local function posint(opt, s, max)
  local v = math.tointeger(tonumber(s))
  if v == nil or v < 1 or v > max then
    usage("option --%s: integer in 1..%d expected, got '%s'", opt, max, s)
  end
  return v
end

--- Parse the arguments of `hasme run` (a list of strings) into {file, sets = {{name,
-- value}, ...}, seeds, out, threads, quiet, list, help}. Raises a usage error.
function M.parse_args(args)
  local o = { sets = {} }
  local i = 1
  local given = {}
  while i <= #args do
    local a = args[i]
    if a == "--" then
      for j = i + 1, #args do
        if o.file then usage("unexpected argument '%s'", args[j]) end
        o.file = args[j]
      end
      break
    elseif a == "-h" then
      o.help = true
    elseif a:sub(1, 2) == "--" then
      local name, value = a:match("^%-%-([%w-]+)=(.*)$")
      name = name or a:sub(3)
      if FLAGS[name] then
        if value then usage("option --%s takes no value", name) end
        o[name] = true
      elseif VALUED[name] then
        if not value then
          i = i + 1
          value = args[i]
          if value == nil then usage("option --%s needs a value", name) end
        end
        if name == "set" then
          local pname, pvalue = value:match("^([%a_][%w_]*)=(.*)$")
          if not pname then usage("option --set: name=value expected, got '%s'", value) end
          o.sets[#o.sets + 1] = { pname, pvalue }
        else
          if given[name] then usage("option --%s given twice", name) end
          given[name] = true
          if name == "seeds" then o.seeds = posint(name, value, 1000000)
          elseif name == "threads" then o.threads = posint(name, value, 4096)
          else
            if value == "" then usage("option --out: directory expected") end
            o.out = value
          end
        end
      else
        usage("unknown option '%s'", a)
      end
    elseif a:sub(1, 1) == "-" and a ~= "-" then
      usage("unknown option '%s'", a)
    else
      if o.file then usage("unexpected argument '%s' (one experiment file at a time)", a) end
      o.file = a
    end
    i = i + 1
  end
  if not o.help and not o.file then usage("no experiment file given") end
  return o
end

-- }==================================================================

-- {==================================================================
-- Loading an experiment
-- ===================================================================

local FIELDS = { name = true, description = true, params = true, run = true }

--- Load and check the experiment file path. Returns the experiment table; raises a
-- failure naming the file and the field otherwise.
function M.load(path)
  local f = io.open(path, "r")
  if not f then usage("cannot open experiment file '%s'", path) end
  f:close()
  local chunk, err = loadfile(path, "t")
  if not chunk then fail(err) end
  local ok, e = xpcall(chunk, function(m) return { traceback(m) } end)
  if not ok then fail(e[1], e[2]) end
  local function bad(msg, ...) fail(path .. ": " .. fmt(msg, ...)) end
  if type(e) ~= "table" then bad("the file must return the experiment table, got %s", type(e)) end
  for k in pairs(e) do
    if not FIELDS[k] then
      bad("unknown field '%s' (an experiment has name, description, params and run)", tostring(k))
    end
  end
  if type(e.name) ~= "string" or not e.name:match("^[a-z0-9_]+$") then
    bad("field 'name' must be a string of [a-z0-9_] (got %s)",
      type(e.name) == "string" and "'" .. e.name .. "'" or type(e.name))
  end
  if type(e.description) ~= "string" or e.description == "" then
    bad("field 'description': one-line string expected, got %s", type(e.description))
  end
  if type(e.run) ~= "function" then bad("field 'run': function expected, got %s", type(e.run)) end
  local params = e.params or {}
  if type(params) ~= "table" then bad("field 'params': table expected, got %s", type(params)) end
  local types = {}
  for k, v in pairs(params) do
    if type(k) ~= "string" or not k:match("^[%a_][%w_]*$") then
      bad("params: names must be identifiers (got %s)", tostring(k))
    end
    local tv = type(v)
    local mt = tv == "userdata" and getmetatable(v)
    local vname = type(mt) == "table" and mt.__name
    if tv == "function" or tv == "thread" or (tv == "userdata" and vname ~= "hasme.Vec" and vname ~= "hasme.Mat") then
      bad("params.%s: number, string, boolean, list or table expected, got %s", k, vname or tv)
    end
    if tv == "table" then
      local ok2, jerr = pcall(json.encode, v)
      if not ok2 then bad("params.%s: %s", k, jerr) end
    end
    types[k] = M.param_type(v)
    if tv == "table" and islist(v) and not types[k] then
      bad("params.%s: a list must hold only strings or only numbers", k)
    end
  end
  if params.seed ~= nil and (mtype(params.seed) ~= "integer" or params.seed < 0) then
    bad("params.seed: non-negative integer expected, got %s", tostring(params.seed))
  end
  return { name = e.name, description = e.description, params = params, run = e.run,
           types = types, file = path }
end

-- The text of --list.
local function listing(exp)
  local rows = {}
  for _, k in ipairs(sorted_keys(exp.params)) do
    local v = exp.params[k]
    local fixed = type(v) == "userdata" and getmetatable(v).__name or "table"
    rows[#rows + 1] = { k, exp.types[k] or fixed .. " (fixed)", text(v) }
  end
  local out = { ("%s: %s"):format(exp.name, exp.description), ("file: %s"):format(exp.file), "" }
  if #rows == 0 then
    out[#out + 1] = "no params\n"
  else
    out[#out + 1] = report.format { columns = { "param", "type", "default" }, rows = rows }
  end
  return concat(out, "\n")
end

-- }==================================================================

-- {==================================================================
-- Points of a sweep
-- ===================================================================

-- Resolve the --set options against the experiment's params: returns the base
-- params (defaults with single-valued overrides), the swept params in command-line
-- order ({name, values}), and the list of seeds.
local function resolve(exp, o)
  local base = copy(exp.params)
  local sweeps, seen = {}, {}
  for _, s in ipairs(o.sets) do
    local name, value = s[1], s[2]
    if exp.params[name] == nil then
      local names = sorted_keys(exp.params)
      usage("unknown param '%s' (valid params: %s)", name,
        #names > 0 and concat(names, ", ") or "none")
    end
    if seen[name] then usage("param '%s' set twice", name) end
    seen[name] = true
    local kind = exp.types[name]
    if not kind then
      usage("param '%s' cannot be set from the command line (its default is a table "
        .. "that is not a list of strings or numbers)", name)
    end
    local values = M.parse_values(name, kind, value)
    if name == "seed" then
      for _, v in ipairs(values) do
        if v < 0 then usage("bad value for param 'seed': non-negative integer expected, got '%d'", v) end
      end
    end
    if #values == 1 then
      base[name] = values[1]
    else
      sweeps[#sweeps + 1] = { name, values }
    end
  end
  local nseeds = o.seeds or 1
  local first = base.seed or 1
  if nseeds > 1 then
    for _, s in ipairs(sweeps) do
      if s[1] == "seed" then usage("--seeds cannot be combined with a sweep over the param seed") end
    end
  end
  local seeds = {}
  for j = 0, nseeds - 1 do seeds[#seeds + 1] = first + j end
  return base, sweeps, seeds
end

-- The directory name of point i of n: "<i>-<name=value,...>".
local function point_dir(i, n, pt, seeded)
  local parts = {}
  for _, c in ipairs(pt.swept) do
    parts[#parts + 1] = c[1] .. "=" .. text(c[2], "+")
  end
  if seeded then parts[#parts + 1] = "seed=" .. pt.seed end
  local label = concat(parts, ","):gsub("[^%w%._%-+=,]", "_")
  if #label > 120 then label = label:sub(1, 120) end
  local width = #tostring(n)
  return ("%0" .. width .. "d"):format(i) .. (label ~= "" and "-" .. label or "")
end

-- }==================================================================

-- {==================================================================
-- The context of a point
-- ===================================================================

local Ctx = {}
Ctx.__index = Ctx

local RESERVED = { config = true, results = true, log = true }

local function checkself(self, method)
  if getmetatable(self) ~= Ctx then
    error(("ctx:%s: call it as a method (ctx:%s(...))"):format(method, method), 3)
  end
end

local function checkname(method, name, kind)
  if type(name) ~= "string" or not name:match("^[%w_][%w_%-%.]*$") or name:match("%.tmp$") then
    error(("bad argument #1 to '%s' (name of letters, digits, '_', '-' and '.' expected, got %s)")
      :format(method, type(name) == "string" and "'" .. name .. "'" or type(name)), 3)
  end
  if kind ~= "figure" and RESERVED[name] then
    error(("bad argument #1 to '%s' (name '%s' is reserved for the runner's files)")
      :format(method, name), 3)
  end
end

-- Short SI text of a count: 1.2k, 3.4M.
local function si(x)
  local units = { "", "k", "M", "G", "T", "P" }
  local u = 1
  while x >= 1000 and u < #units do x, u = x / 1000, u + 1 end
  return (u == 1 and fmt("%d", floor(x + 0.5)) or fmt("%.3g%s", x, units[u]))
end

local function clock(s)
  if not s or s ~= s or s == huge then return "--:--" end
  s = floor(s + 0.5)
  if s >= 3600 then return fmt("%d:%02d:%02d", s // 3600, s % 3600 // 60, s % 60) end
  return fmt("%d:%02d", s // 60, s % 60)
end

-- A progress bar on stderr for one simulation: update(done, total) is the progress
-- callback of hasme.simulate (path-steps), finish() erases the line.
local bar_shown = false   -- a bar is on the terminal's last line: main erases it on errors

local function progress_bar(label)
  local t0 = now()
  local shown = false
  local bar = {}
  function bar.update(done, total)
    local el = now() - t0
    local frac = total > 0 and done / total or 0
    local rate = el > 0 and done / el or 0
    local eta = rate > 0 and (total - done) / rate or nil
    local width = 24
    local fill = floor(frac * width + 0.5)
    io.stderr:write(("\r%s [%s%s] %3d%%  %s/%s path-steps  %s/s  ETA %s\27[K"):format(
      label, ("#"):rep(fill), ("."):rep(width - fill), floor(frac * 100 + 0.5), si(done),
      si(total), si(rate), clock(eta)))
    io.stderr:flush()
    shown, bar_shown = true, true
  end
  function bar.finish()
    if shown then
      io.stderr:write("\r\27[K")
      io.stderr:flush()
      shown, bar_shown = false, false
    end
  end
  return bar
end

-- Keep a log line (in log.txt, with the seconds since the point began) and show it
-- on stderr unless quiet.
local function logline(state, line)
  state.log[#state.log + 1] = fmt("[%7.2f s] %s", now() - state.t0, line)
  if not state.quiet then
    io.stderr:write(line, "\n")
    io.stderr:flush()
  end
end

-- The provenance of a simulation result r, for the run log.
local function provenance(state, what, r)
  local info = r:info()
  state.log[#state.log + 1] = fmt("[%7.2f s] %s: method=%s eta=%s paths=%s steps=%s elapsed=%.3f s "
    .. "kernel=%s threads=%s", now() - state.t0, what, tostring(info.method), text(info.eta),
    tostring(info.paths), tostring(info.steps), tonumber(info.elapsed) or 0,
    tostring(info.kernel), tostring(info.threads))
end

-- The options of a simulation with threads and a progress callback injected.
local function inject(self, opts, method, label)
  if type(opts) ~= "table" then
    error(("bad argument #1 to '%s' (table expected, got %s)"):format(method, type(opts)), 3)
  end
  local o = {}
  for k, v in pairs(opts) do o[k] = v end
  if o.threads == nil then o.threads = self.threads end
  local bar
  if o.progress == nil and self._state.bars then
    bar = progress_bar(label)
    o.progress = bar.update
  end
  return o, bar
end

--- ctx:simulate(opts): hasme.simulate with threads (--threads) and a progress bar
-- added when opts does not set them, and a provenance line in the run log.
function Ctx:simulate(opts)
  checkself(self, "simulate")
  local o, bar = inject(self, opts, "simulate", tostring(opts and opts.method or "sgd"))
  local ok, r = pcall(hasme.simulate, o)
  if bar then bar.finish() end
  if not ok then error(r, 2) end
  provenance(self._state, "simulate", r)
  return r
end

--- ctx:compare(opts): hasme.compare, with the same additions as ctx:simulate.
function Ctx:compare(opts)
  checkself(self, "compare")
  local o, bar = inject(self, opts, "compare", "compare")
  local ok, rs = pcall(hasme.compare, o)
  if bar then bar.finish() end
  if not ok then error(rs, 2) end
  for _, r in ipairs(rs) do provenance(self._state, "compare", r) end
  return rs
end

--- ctx:table(name, t): save the table t as <out>/<name>.csv and <name>.json; it is
-- printed at the end. Returns the two file names.
function Ctx:table(name, t)
  checkself(self, "table")
  checkname("table", name)
  local state = self._state
  local ok, err = report.check(t)
  if not ok then error(("bad argument #2 to 'table' (%s)"):format(err), 2) end
  if state.jsons[name] and state.jsons[name] ~= "table" then
    error(("bad argument #1 to 'table' ('%s.json' was already written by ctx:%s)")
      :format(name, state.jsons[name]), 2)
  end
  local base = self.out .. "/" .. name
  local wok, werr = pcall(function()
    report.write(base .. ".csv", report.csv(t))
    report.write_json(base .. ".json", report.tojson(t))
  end)
  if not wok then error(werr, 2) end
  if not state.jsons[name] then state.tables[#state.tables + 1] = name end
  state.jsons[name] = "table"
  state.tabledata[name] = copy(t)
  return { base .. ".csv", base .. ".json" }
end

--- ctx:figure(name, spec): hasme.plot's figure spec.kind with file = <out>/<name>.
-- Returns the list of files written.
function Ctx:figure(name, spec)
  checkself(self, "figure")
  checkname("figure", name, "figure")
  if type(spec) ~= "table" then
    error(("bad argument #2 to 'figure' (table expected, got %s)"):format(type(spec)), 2)
  end
  local plot = hasme.plot or require "hasme.plot"
  local s = {}
  for k, v in pairs(spec) do s[k] = v end
  s.file = self.out .. "/" .. name
  local ok, files = pcall(plot.figure, s)
  if not ok then error(files, 2) end
  local state = self._state
  if not state.figures[name] then state.figures[#state.figures + 1] = name end
  state.figures[name] = files
  return files
end

--- ctx:log(fmt, ...): a line on stderr (unless quiet), kept in <out>/log.txt.
function Ctx:log(f, ...)
  checkself(self, "log")
  local line
  if select("#", ...) > 0 then
    if type(f) ~= "string" then
      error(("bad argument #1 to 'log' (format string expected, got %s)"):format(type(f)), 2)
    end
    local ok, s = pcall(fmt, f, ...)
    if not ok then error("ctx:log: " .. s, 2) end
    line = s
  else
    line = tostring(f)
  end
  logline(self._state, line)
end

--- ctx:save(name, value): any JSON-serialisable value to <out>/<name>.json.
function Ctx:save(name, value)
  checkself(self, "save")
  checkname("save", name)
  local state = self._state
  if state.jsons[name] and state.jsons[name] ~= "save" then
    error(("bad argument #1 to 'save' ('%s.json' was already written by ctx:%s)")
      :format(name, state.jsons[name]), 2)
  end
  local path = self.out .. "/" .. name .. ".json"
  local ok, err = pcall(report.write_json, path, value)
  if not ok then error(err, 2) end
  if not state.jsons[name] then state.saved[#state.saved + 1] = name end
  state.jsons[name] = "save"
  return path
end

-- }==================================================================

-- {==================================================================
-- Running
-- ===================================================================

-- The summary returned by run, checked: a table of scalars (or nothing).
local function check_summary(s)
  if s == nil then return json.object() end
  if type(s) ~= "table" then
    return nil, ("run must return a table of scalars or nothing, got %s"):format(type(s))
  end
  local out = json.object()
  for k, v in pairs(s) do
    if type(k) ~= "string" then
      return nil, ("run's summary: keys must be strings, got %s"):format(type(k))
    end
    local tv = type(v)
    if tv ~= "number" and tv ~= "string" and tv ~= "boolean" then
      return nil, ("run's summary: field '%s' is a %s, not a number, string or boolean"):format(k, tv)
    end
    out[k] = v
  end
  return out
end

-- The parts of config.json every run directory shares.
local function config_base(exp, run)
  local cmd = { "hasme", "run" }
  for _, a in ipairs(run.args) do cmd[#cmd + 1] = a end
  return {
    experiment = exp.name,
    description = exp.description,
    file = exp.file,
    command = cmd,
    hasme_version = hasme.version,
    lua_version = _VERSION,
    platform = platform(),
    threads = run.threads or json.null,
  }
end

-- Run point pt in directory out; returns the checked summary. On an error in the
-- experiment the point's files are still written, then a failure is raised.
local function run_point(exp, run, pt, out, index, npoints)
  mkdir { out }
  local state = {
    t0 = now(), log = {}, quiet = run.quiet, bars = run.bars,
    tables = {}, tabledata = {}, figures = {}, jsons = {}, saved = {},
  }
  local ctx = setmetatable({ out = out, seed = pt.seed, threads = run.threads,
                             quiet = run.quiet, _state = state }, Ctx)
  local started = iso8601()
  local params = copy(pt.params)
  local ok, summary, trace = xpcall(exp.run, function(m) return { traceback(m) } end,
    copy(pt.params), ctx)
  local err
  if ok then
    summary, err = check_summary(summary)
    if not summary then
      ok = false
      err = exp.file .. ": " .. err
    end
  else
    err, trace = summary[1], summary[2]
  end
  local elapsed = now() - state.t0
  local figures = {}
  for _, name in ipairs(state.figures) do
    for _, f in ipairs(state.figures[name]) do figures[#figures + 1] = f:match("[^/]+$") end
  end
  if ok then
    report.write_json(out .. "/results.json", {
      experiment = exp.name,
      params = params,
      seed = pt.seed,
      summary = summary,
      tables = json.array(copy(state.tables)),
      figures = json.array(figures),
      saved = json.array(copy(state.saved)),
    })
  end
  if not ok then state.log[#state.log + 1] = fmt("[%7.2f s] error: %s", elapsed, err) end
  report.write(out .. "/log.txt", #state.log > 0 and concat(state.log, "\n") .. "\n" or "")
  local config = config_base(exp, run)
  config.params = params
  config.seed = pt.seed
  config.seeds = json.array { pt.seed }
  if npoints > 1 then
    config.point = index
    config.points = npoints
    local swept = json.object()
    for _, c in ipairs(pt.swept) do swept[c[1]] = c[2] end
    config.swept = swept
  end
  config.started = started
  config.finished = iso8601()
  config.elapsed = tonumber(fmt("%.2f", elapsed))
  config.status = ok and "ok" or "error"
  if not ok then config.error = err end
  report.write_json(out .. "/config.json", config)
  if not ok then fail(err, trace) end
  return summary, state
end

-- The default output directory: results/<name>/<local time>, made unique.
local function default_out(name)
  local dir = ("results/%s/%s"):format(name, os.date("%Y%m%d-%H%M%S"))
  local d, k = dir, 1
  while exists(d) do
    k = k + 1
    d = dir .. "-" .. k
  end
  return d
end

-- The summary table of a sweep.
local function summary_table(pts, summaries, sweeps, nseeds)
  local columns = { "point" }
  for _, s in ipairs(sweeps) do columns[#columns + 1] = s[1] end
  local swept = {}
  for _, c in ipairs(columns) do swept[c] = true end
  local seedcol = not swept.seed
  if seedcol then columns[#columns + 1] = "seed" end
  local keys, seen = {}, {}
  for _, s in ipairs(summaries) do
    for k in pairs(s) do
      if not seen[k] then seen[k] = true; keys[#keys + 1] = k end
    end
  end
  sort(keys)
  local used = {}
  for _, c in ipairs(columns) do used[c] = true end
  local colname = {}
  for _, k in ipairs(keys) do
    colname[k] = used[k] and k .. " (run)" or k
    columns[#columns + 1] = colname[k]
  end
  local rows = {}
  for i, s in ipairs(summaries) do
    local pt = pts[i]
    local row = { point = i }
    for _, c in ipairs(pt.swept) do
      row[c[1]] = type(c[2]) == "table" and text(c[2]) or c[2]
    end
    if seedcol then row.seed = pt.seed end
    for k, v in pairs(s) do row[colname[k]] = v end
    rows[i] = row
  end
  return { title = ("summary: %d points%s"):format(#summaries,
    nseeds > 1 and (", %d seeds each"):format(nseeds) or ""), columns = columns, rows = rows }
end

-- Print the tables of a point and the figure files on stdout.
local function print_point(state)
  for _, name in ipairs(state.tables) do
    local t = state.tabledata[name]
    local tt = {}
    for k, v in pairs(t) do tt[k] = v end
    if not tt.title then tt.title = name end
    io.stdout:write(report.format(tt), "\n")
  end
  local figs = {}
  for _, name in ipairs(state.figures) do
    for _, f in ipairs(state.figures[name]) do
      if f:match("%.png$") or f:match("%.svg$") then figs[#figs + 1] = f end
    end
  end
  if #figs > 0 then
    io.stdout:write("figures:\n")
    for _, f in ipairs(figs) do io.stdout:write("  ", f, "\n") end
  end
  return figs
end

local function run_experiment(o, args)
  local exp = M.load(o.file)
  if o.list then
    io.stdout:write(listing(exp))
    return 0
  end
  local base, sweeps, seeds = resolve(exp, o)
  local pts = sweep.points(exp, base, sweeps, seeds)
  local out = o.out or default_out(exp.name)
  local run = {
    args = args, threads = o.threads, quiet = o.quiet or false,
    bars = not o.quiet and os.execute("test -t 2") == true,
  }
  if #pts == 1 then
    mkdir { out }
    local _, state = run_point(exp, run, pts[1], out, 1, 1)
    print_point(state)
    io.stdout:write("results in ", out, "\n")
    return 0
  end
  -- a sweep: one directory per point, and a summary
  local t0, started = now(), iso8601()
  local toplog, summaries, states, failure = {}, {}, {}, nil
  local dirs = { out }
  for i, pt in ipairs(pts) do
    pt.dir = point_dir(i, #pts, pt, #seeds > 1)
    dirs[#dirs + 1] = out .. "/" .. pt.dir
  end
  mkdir(dirs)
  for i, pt in ipairs(pts) do
    local dir = pt.dir
    local parts = {}
    for _, c in ipairs(pt.swept) do parts[#parts + 1] = c[1] .. "=" .. text(c[2]) end
    parts[#parts + 1] = "seed=" .. pt.seed
    local line = ("point %d/%d: %s"):format(i, #pts, concat(parts, " "))
    if not run.quiet then io.stderr:write(line, "\n") end
    local tp = now()
    local ok, s, state = pcall(run_point, exp, run, pt, out .. "/" .. dir, i, #pts)
    toplog[#toplog + 1] = fmt("[%7.2f s] %s: %s in %.2f s", now() - t0, line,
      ok and "done" or "failed", now() - tp)
    if not ok then
      failure = getmetatable(s) == Failure and s
        or setmetatable({ msg = tostring(s) }, Failure)
      for j = i + 1, #pts do os.remove(out .. "/" .. pts[j].dir) end   -- empty: not run
      break
    end
    summaries[i], states[i] = s, state
  end
  local st = summary_table(pts, summaries, sweeps, #seeds)
  local sj = report.tojson(st)
  local plist = {}
  for i, s in ipairs(summaries) do
    local swept = json.object()
    for _, c in ipairs(pts[i].swept) do swept[c[1]] = c[2] end
    plist[i] = { point = i, dir = pts[i].dir, swept = swept, seed = pts[i].seed, summary = s }
  end
  sj.points = json.array(plist)
  report.write(out .. "/summary.csv", report.csv(st))
  report.write_json(out .. "/summary.json", sj)
  report.write(out .. "/log.txt", concat(toplog, "\n") .. "\n")
  local config = config_base(exp, run)
  config.params = base
  for _, s in ipairs(sweeps) do base[s[1]] = nil end   -- they are in config.sweep
  config.seeds = json.array(seeds)
  local sw = json.object()
  local order = {}
  for _, s in ipairs(sweeps) do
    sw[s[1]] = json.array(copy(s[2]))
    order[#order + 1] = s[1]
  end
  config.sweep = sw
  config.sweep_order = json.array(order)
  config.points = #pts
  config.completed = #summaries
  config.started = started
  config.finished = iso8601()
  config.elapsed = tonumber(fmt("%.2f", now() - t0))
  config.status = failure and "error" or "ok"
  if failure then config.error = failure.msg end
  report.write_json(out .. "/config.json", config)
  if failure then error(failure, 0) end
  io.stdout:write(report.format(st), "\n")
  local figs = {}
  for _, state in ipairs(states) do
    for _, name in ipairs(state.figures) do
      for _, f in ipairs(state.figures[name]) do
        if f:match("%.png$") or f:match("%.svg$") then figs[#figs + 1] = f end
      end
    end
  end
  if #figs > 0 then io.stdout:write("figures:\n  ", concat(figs, "\n  "), "\n") end
  io.stdout:write("results in ", out, "\n")
  return 0
end

--- The entry point of `hasme run`: args = {EXPERIMENT.lua, options...}. Returns the
-- exit status: 0 on success, 1 on an error in the experiment, 2 on a usage error.
function M.main(args)
  if type(args) ~= "table" then
    error("bad argument #1 to 'main' (table expected, got " .. type(args) .. ")", 2)
  end
  local ok, res = xpcall(function()
    local o = M.parse_args(args)
    if o.help then
      io.stdout:write(M.help, "\n")
      return 0
    end
    return run_experiment(o, args)
  end, function(e)
    local mt = getmetatable(e)
    if mt == Usage or mt == Failure then return e end
    local msg, trace = traceback(e)
    return setmetatable({ msg = msg, trace = trace }, Failure)
  end)
  io.stdout:flush()
  if ok then return res end
  if bar_shown then io.stderr:write("\r\27[K") end   -- interrupted inside a simulation
  if getmetatable(res) == Usage then
    io.stderr:write("hasme run: ", res.msg, "\n", M.usage, "\n")
    return 2
  end
  io.stderr:write("hasme run: ", res.msg, "\n")
  if res.trace then io.stderr:write(res.trace, "\n") end
  return 1
end

-- }==================================================================

return M
