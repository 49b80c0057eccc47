-- hasme.loader: loading an experiment file (a Lua file returning {name, description,
-- params, run}) and checking it; the types of its params, which decide how --set
-- values are read; the text of --list. The file's top-level code runs through
-- hasme.sys.pcall, so that a signal stops it, and in the sandbox when asked (always
-- for --list, which must not let a shared file do anything but declare itself).
require "hasme.core"
local json = require "hasme.json"
local report = require "hasme.report"
local sandbox = require "hasme.sandbox"
local sys = require "hasme.sys"
local util = require "hasme.util"
local failure = require "hasme.failure"

local M = {}

local type, ipairs, pairs, tostring = type, ipairs, pairs, tostring
local concat, fmt, mtype = table.concat, string.format, math.type
local usage, fail, islist = failure.usage, failure.fail, util.islist

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

--- Whether v has the shape of an experiment table (what `hasme FILE` checks to tell
-- the user that the file is meant for `hasme run`).
function M.is_experiment(v)
  return type(v) == "table" and type(rawget(v, "run")) == "function"
    and type(rawget(v, "name")) == "string"
end

local FIELDS = { name = true, description = true, params = true, run = true }

-- Run the chunk of the experiment file; raises a failure (or an interruption).
local function execute(chunk)
  local ok, e = sys.pcall(chunk, function(m) return { failure.traceback(m) } end)
  local sig = sys.caught()
  if sig and sig ~= "timeout" then failure.interrupted(sig, "while loading the experiment") end
  if sig == "timeout" then fail("time limit exceeded while loading the experiment") end
  if not ok then
    if type(e) ~= "table" then fail(tostring(e)) end
    fail(e[1], e[2])
  end
  return e
end

--- Load and check the experiment file path; opts.sandbox runs its top-level code
-- in the sandbox. Returns the experiment {name, description, params, run, types,
-- file, source}; raises a failure naming the file and the field otherwise.
function M.load(path, opts)
  opts = opts or {}
  local f = io.open(path, "rb")
  if not f then usage("cannot open experiment file '%s'", path) end
  local source = f:read("a")
  f:close()
  if not source then usage("cannot read experiment file '%s'", path) end
  local chunk, err = sandbox.loadfile(path, opts.sandbox)
  if not chunk then fail(err) end
  local e = execute(chunk)
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
           types = types, file = path, source = source, sandboxed = opts.sandbox or false }
end

--- The text of --list.
function M.listing(exp)
  local rows = {}
  for _, k in ipairs(util.sorted_keys(exp.params)) do
    local v = exp.params[k]
    local fixed = type(v) == "userdata" and getmetatable(v).__name or "table"
    rows[#rows + 1] = { k, exp.types[k] or fixed .. " (fixed)", util.text(v) }
  end
  local out = { ("%s: %s"):format(exp.name, exp.description), ("file: %s"):format(exp.file), "" }
  if #rows == 0 then
    out[#out + 1] = "no params\n"
  else
    out[#out + 1] = report.format { columns = { "param", "type", "default" }, rows = rows }
  end
  return concat(out, "\n")
end

return M
