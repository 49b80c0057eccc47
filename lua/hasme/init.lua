-- hasme: the public Lua API. The C runtime (hasme.core) provides the numerical
-- functions; this module re-exports them and adds the parts written in Lua.
local core = require "hasme.core"

local M = {}
for k, v in pairs(core) do M[k] = v end

M.stats = require "hasme.stats"
M.plot = require "hasme.plot"
M.json = require "hasme.json"
local extrapolate = require "hasme.extrapolate"

-- core.simulate run under pcall, so that its messages carry no position of this file
-- and name it 'simulate' in argument errors, as a direct call does.
local function simulate_core(o)
  local ok, r = pcall(core.simulate, o)
  if ok then return r end
  error((tostring(r):gsub("^(bad argument #%d+ to )'[^']*'", "%1'simulate'", 1)), 0)
end

--- hasme.simulate: the engine's, plus integrator = "extrapolate" (Talay-Tubaro
-- extrapolation of two coupled Euler runs, lua/hasme/extrapolate.lua). Errors are
-- raised at the caller's level, as the engine's own are.
function M.simulate(opts)
  local ok, r
  if type(opts) == "table" and opts.integrator == "extrapolate" then
    ok, r = pcall(extrapolate.simulate, simulate_core, opts, core.vec, core.mat)
  else
    ok, r = pcall(simulate_core, opts)
  end
  if not ok then error(r, 2) end
  return r
end

-- The method names the engine knows (hasme.methods(), from the core's table), as a
-- set and as the list an error message quotes.
local METHODS, QUOTED = {}, {}
for i, m in ipairs(core.methods()) do
  METHODS[m.name] = true
  QUOTED[i] = "'" .. m.name .. "'"
end
local EXPECTED = table.concat(QUOTED, ", ", 1, #QUOTED - 1) .. " or " .. QUOTED[#QUOTED]

--- Run several methods on the same problem with common random numbers.
-- opts: the options of hasme.simulate, with `methods` (a list of method names)
-- instead of `method`. Every method draws substeps*d normals per step from path i's
-- stream, so the SDE's Brownian increment over [k eta, (k+1) eta] is what drives
-- SGD's step k (minibatch SGD draws batches instead, and is not coupled).
-- Returns a table with one result per method, both as results[i] (in the order
-- given) and results[name].
function M.compare(opts)
  if type(opts) ~= "table" then
    error("bad argument #1 to 'compare' (table expected, got " .. type(opts) .. ")", 2)
  end
  local methods = opts.methods
  if type(methods) ~= "table" or #methods == 0 then
    error("bad argument #1 to 'compare' (field 'methods': non-empty list of method names expected)", 2)
  end
  if opts.method ~= nil then
    error("bad argument #1 to 'compare' (use 'methods', not 'method')", 2)
  end
  local seen = {}
  for i, m in ipairs(methods) do
    if not METHODS[m] then
      error(("bad argument #1 to 'compare' (field 'methods': unknown method '%s' at index %d; "
        .. "expected %s)"):format(tostring(m), i, EXPECTED), 2)
    end
    if seen[m] then
      error(("bad argument #1 to 'compare' (field 'methods': '%s' given twice)"):format(m), 2)
    end
    seen[m] = true
  end
  if opts.observe ~= nil then
    -- Streaming observables: one joint run in C, chunk by chunk of paths, every
    -- method's observables reduced with their paired differences against the
    -- reference method (opts.reference, default the first).
    local ok, r = pcall(core.compare, opts)
    if not ok then
      local msg = tostring(r)
      if msg:find("^bad argument") then msg = msg:gsub("to '[%w%.]*compare'", "to 'compare'", 1) end
      error(msg, 2)
    end
    return r
  end
  if opts.reference ~= nil then
    error("bad argument #1 to 'compare' (field 'reference': paired differences need observe)", 2)
  end
  local results = {}
  for i, m in ipairs(methods) do
    local o = {}
    for k, v in pairs(opts) do
      if k ~= "methods" then o[k] = v end
    end
    o.method = m
    o.coupled = true
    -- The substeps that couple the methods must be the same for all of them.
    o.substeps = opts.substeps or 10
    local ok, r = pcall(M.simulate, o)
    if not ok then
      -- Name compare in argument errors, and the method in the others.
      local msg = tostring(r)
      if msg:find("^bad argument") then
        msg = msg:gsub("to '[%w%.]*simulate'", "to 'compare'", 1)
      else
        msg = ("compare: method '%s': %s"):format(m, (msg:gsub("^simulate: ", "")))
      end
      error(msg, 2)
    end
    results[i] = r
    results[m] = r
  end
  return results
end

return M
