-- hasme.context: ctx, the object an experiment's run(params, ctx) receives. It runs
-- simulations with the command line's threads and a progress bar, and writes tables,
-- figures and saved values into the point's directory, the only place it writes.
-- The point's state (its directory, log, files) is private to this module, so that a
-- script cannot redirect the writes by changing a field of ctx.
require "hasme.core"
local hasme = require "hasme"
local report = require "hasme.report"
local progress = require "hasme.progress"
local sys = require "hasme.sys"
local util = require "hasme.util"

local M = {}

local type, pairs, tostring, tonumber, select = type, pairs, tostring, tonumber, select
local fmt = string.format
local now, copy, text = util.now, util.copy, util.text

local Ctx = {}
Ctx.__index = Ctx
Ctx.__metatable = "hasme.Context"

local states = setmetatable({}, { __mode = "k" })   -- ctx -> its point's state

local RESERVED = { config = true, results = true, log = true }

local function state_of(self, method)
  local s = states[self]
  if not s then
    error(("ctx:%s: call it as a method (ctx:%s(...))"):format(method, method), 3)
  end
  return s
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

--- A new context for a point: state = {out, seed, threads, quiet, bars, t0, ...}
-- (see hasme.runner). Returns ctx.
function M.new(state)
  state.log, state.tables, state.tabledata = {}, {}, {}
  state.figures, state.jsons, state.saved, state.substeps = {}, {}, {}, {}
  state.substeps_seen = {}
  local ctx = setmetatable({ out = state.out, seed = state.seed, threads = state.threads,
                             quiet = state.quiet }, Ctx)
  states[ctx] = state
  return ctx
end

--- The state of ctx (for the runner).
function M.state(ctx)
  return states[ctx]
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
M.logline = logline

-- The provenance of a simulation result r, for the run log and the record.
local function provenance(state, what, r)
  local info = r:info()
  state.log[#state.log + 1] = fmt("[%7.2f s] %s: method=%s eta=%s paths=%s steps=%s elapsed=%.3f s "
    .. "kernel=%s threads=%s", now() - state.t0, what, tostring(info.method), text(info.eta),
    tostring(info.paths), tostring(info.steps), tonumber(info.elapsed) or 0,
    tostring(info.kernel), tostring(info.threads))
  local sub = tonumber(info.substeps)
  if sub and not state.substeps_seen[sub] then
    state.substeps_seen[sub] = true
    state.substeps[#state.substeps + 1] = sub
  end
end

-- The options of a simulation with threads and a progress callback injected.
local function inject(state, opts, method, label)
  if type(opts) ~= "table" then
    error(("bad argument #1 to '%s' (table expected, got %s)"):format(method, type(opts)), 3)
  end
  local o = {}
  for k, v in pairs(opts) do o[k] = v end
  if o.threads == nil then o.threads = state.threads end
  local bar
  if o.progress == nil and state.bars then
    bar = progress.bar(label)
    o.progress = bar.update
  end
  return o, bar
end

-- A simulation stopped by Ctrl-C: its own handler took the SIGINT (for its C loop),
-- so the runner learns of it from the message.
local function interrupted(err)
  if not sys.caught() and tostring(err):match("^[%w%s:'_]-interrupted$") then sys.notify("SIGINT") end
end

--- ctx:simulate(opts): hasme.simulate with threads (--threads) and a progress bar
-- added when opts does not set them, and a provenance line in the run log.
function Ctx:simulate(opts)
  local state = state_of(self, "simulate")
  local o, bar = inject(state, opts, "simulate", tostring(opts and opts.method or "sgd"))
  local ok, r = pcall(hasme.simulate, o)
  if bar then bar.finish() end
  if not ok then
    interrupted(r)
    error(r, 2)
  end
  provenance(state, "simulate", r)
  return r
end

--- ctx:compare(opts): hasme.compare, with the same additions as ctx:simulate.
function Ctx:compare(opts)
  local state = state_of(self, "compare")
  local o, bar = inject(state, opts, "compare", "compare")
  local ok, rs = pcall(hasme.compare, o)
  if bar then bar.finish() end
  if not ok then
    interrupted(rs)
    error(rs, 2)
  end
  for _, r in ipairs(rs) do provenance(state, "compare", r) end
  return rs
end

--- ctx:table(name, t): save the table t as <out>/<name>.csv and <name>.json; it is
-- printed at the end. Returns the two file names.
function Ctx:table(name, t)
  local state = state_of(self, "table")
  checkname("table", name)
  local ok, err = report.check(t)
  if not ok then error(("bad argument #2 to 'table' (%s)"):format(err), 2) end
  if state.jsons[name] and state.jsons[name] ~= "table" then
    error(("bad argument #1 to 'table' ('%s.json' was already written by ctx:%s)")
      :format(name, state.jsons[name]), 2)
  end
  local base = state.out .. "/" .. name
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

local SIGNALS = { [2] = "SIGINT", [15] = "SIGTERM", [1] = "SIGHUP" }

--- ctx:figure(name, spec): hasme.plot's figure spec.kind with file = <out>/<name>.
-- Returns the list of files written.
function Ctx:figure(name, spec)
  local state = state_of(self, "figure")
  checkname("figure", name, "figure")
  if type(spec) ~= "table" then
    error(("bad argument #2 to 'figure' (table expected, got %s)"):format(type(spec)), 2)
  end
  local plot = require "hasme.plot"
  local s = {}
  for k, v in pairs(spec) do s[k] = v end
  s.file = state.out .. "/" .. name
  local ok, files = pcall(plot.figure, s)
  if not ok then
    -- gnuplot killed by the terminal's Ctrl-C (which the runner, waiting, ignores):
    -- the run is interrupted, not failed
    local sig = SIGNALS[tonumber(tostring(files):match("stopped by signal (%d+)"))]
    if sig then sys.notify(sig) end
    error(files, 2)
  end
  if not state.figures[name] then state.figures[#state.figures + 1] = name end
  state.figures[name] = files
  return files
end

--- ctx:log(fmt, ...): a line on stderr (unless quiet), kept in <out>/log.txt.
function Ctx:log(f, ...)
  local state = state_of(self, "log")
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
  logline(state, line)
end

--- ctx:save(name, value): any JSON-serialisable value to <out>/<name>.json.
function Ctx:save(name, value)
  local state = state_of(self, "save")
  checkname("save", name)
  if state.jsons[name] and state.jsons[name] ~= "save" then
    error(("bad argument #1 to 'save' ('%s.json' was already written by ctx:%s)")
      :format(name, state.jsons[name]), 2)
  end
  local path = state.out .. "/" .. name .. ".json"
  local ok, err = pcall(report.write_json, path, value)
  if not ok then error(err, 2) end
  if not state.jsons[name] then state.saved[#state.saved + 1] = name end
  state.jsons[name] = "save"
  return path
end

return M
