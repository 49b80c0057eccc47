-- hasme.sweep: the values of `hasme run --set name=value` and the points of a sweep.
-- A value is read as the type of the param's default (hasme.loader.param_type): a
-- number, a list a,b,c, a range lo:hi:step or lo:hi:*f, a boolean, a string, or for
-- a list param lists separated by ';'. Several values sweep, and the points are the
-- cartesian product of the sweeps times the seeds. A bad value is returned as the
-- message of a usage error, which hasme.runner raises. Contract: docs/experiments-howto.md.
local report = require "hasme.report"
local util = require "hasme.util"

local M = {}

local type, ipairs, pairs, tonumber = type, ipairs, pairs, tonumber
local concat = table.concat
local fmt, mtype, floor, log = string.format, math.type, math.floor, math.log
local huge = math.huge
local copy = util.copy   -- every point gets params of its own

local MAXVALUES = 10000   -- the most values a range may give

-- {==================================================================
-- Parsing --set values
-- ===================================================================

-- Split s at the unescaped occurrences of the character sep; "\<c>" gives <c>.
local function split(s, sep)
  local items, cur, i = {}, {}, 1
  while i <= #s do
    local c = s:sub(i, i)
    if c == "\\" and i < #s then
      cur[#cur + 1] = s:sub(i + 1, i + 1)
      i = i + 2
    else
      if c == sep then
        items[#items + 1] = concat(cur)
        cur = {}
      else
        cur[#cur + 1] = c
      end
      i = i + 1
    end
  end
  items[#items + 1] = concat(cur)
  return items
end

-- Whether s holds an unescaped sep.
local function has(s, sep)
  return s:gsub("\\.", ""):find(sep, 1, true) ~= nil
end

-- Round a float to 12 significant digits, so that ranges give 0.3, not
-- 0.30000000000000004.
local function round12(x)
  return tonumber(fmt("%.12g", x)) * 1.0
end

-- One number of kind "integer" or "number" from text, or nil and the reason.
local function number(s, kind)
  local v = tonumber(s)
  if v == nil then return nil, kind .. " expected" end
  if v ~= v or v == huge or v == -huge then
    return nil, "finite " .. kind .. " expected"
  end
  if kind == "integer" then
    local i = math.tointeger(v)
    if i == nil then return nil, "integer expected" end
    return i
  end
  return v * 1.0
end

-- The values of a range "lo:hi:step" or "lo:hi:*f" for kind "integer" or "number",
-- or nil and the reason.
local function range(s, kind)
  local a, b, c = s:match("^([^:]*):([^:]*):([^:]*)$")
  if not a then return nil, "range lo:hi:step or lo:hi:*f expected" end
  local geometric = c:sub(1, 1) == "*"
  if geometric then c = c:sub(2) end
  local lo, hi, step = tonumber(a), tonumber(b), tonumber(c)
  local parts = { lo, hi, step }
  for i = 1, 3 do   -- not ipairs: it would stop at the first missing (nil) number
    local x = parts[i]
    if x == nil or x ~= x or x == huge or x == -huge then
      return nil, "range lo:hi:step or lo:hi:*f of finite numbers expected"
    end
  end
  local n, at
  if geometric then
    if not (step > 0) or step == 1 then return nil, "range factor must be positive and not 1" end
    if lo == 0 or hi == 0 or (lo > 0) ~= (hi > 0) then
      return nil, "a geometric range needs lo and hi of the same sign, not zero"
    end
    local q = log(hi / lo) / log(step)
    if q < -1e-9 then return nil, "range never reaches its end (wrong factor?)" end
    n = floor(q + 1e-9) + 1
    at = function(i) return lo * step ^ i end
  else
    if step == 0 then return nil, "range step must not be zero" end
    local q = (hi - lo) / step
    if q < -1e-9 then return nil, "range never reaches its end (wrong sign of step?)" end
    n = floor(q + 1e-9) + 1
    if kind == "integer" then
      lo, hi, step = math.tointeger(lo), math.tointeger(hi), math.tointeger(step)
      if not (lo and hi and step) then return nil, "integer expected (in range)" end
    end
    at = function(i) return lo + i * step end
  end
  if n > MAXVALUES then return nil, ("range gives more than %d values"):format(MAXVALUES) end
  local out = {}
  for i = 0, n - 1 do
    local v = at(i)
    if kind == "number" or mtype(v) ~= "integer" then
      v = round12(v)
      if kind == "integer" then
        local iv = math.tointeger(v)
        if iv == nil then return nil, ("integer expected (range gives %s)"):format(report.value(v)) end
        v = iv
      end
    end
    out[#out + 1] = v
  end
  return out
end

-- The values (one, or several for a sweep) of an item of kind: ranges expand.
local function scalar_values(item, kind)
  if (kind == "integer" or kind == "number") and has(item, ":") then
    return range(item, kind)
  end
  if kind == "integer" or kind == "number" then
    local v, err = number(item, kind)
    if v == nil then return nil, err end
    return { v }
  elseif kind == "boolean" then
    if item == "true" then return { true } end
    if item == "false" then return { false } end
    return nil, "boolean expected (true or false)"
  end
  return { item }
end

--- The values that `--set name=value` gives a param whose default has type kind
-- (see hasme.loader.param_type): a list of one value, or of several for a sweep.
-- Returns nil and the message of the usage error on a bad value: "bad value for param
-- 'name': <type> expected, got '<text>'", or "param 'name': more than N values".
function M.parse_values(name, kind, value)
  local function bad(item, reason)
    return fmt("bad value for param '%s': %s, got '%s'", name, reason or (kind .. " expected"), item)
  end
  local out = {}
  if kind:match("^list") then
    local elem = kind:match("^list of (%a+)s$")
    for _, alt in ipairs(split(value, ";")) do
      local list = {}
      if alt ~= "" then
        for _, item in ipairs(split(alt, ",")) do
          local vs, err = scalar_values(item, elem)
          if not vs then return nil, bad(item, (err:gsub("^%a+ expected", kind .. " expected"))) end
          for _, v in ipairs(vs) do list[#list + 1] = v end
        end
      end
      out[#out + 1] = list
    end
  else
    for _, item in ipairs(split(value, ",")) do
      local vs, err = scalar_values(item, kind)
      if not vs then return nil, bad(item, err) end
      for _, v in ipairs(vs) do out[#out + 1] = v end
    end
  end
  if #out > MAXVALUES then
    return nil, fmt("param '%s': more than %d values", name, MAXVALUES)
  end
  return out
end

-- }==================================================================

-- {==================================================================
-- Points of a sweep
-- ===================================================================

--- The points: the cartesian product of the sweeps (the first swept param varies
-- slowest) times the seeds (fastest). Each point is {params, seed, swept = {{name,
-- value}, ...}}. exp is the loaded experiment (only exp.params.seed is read), base
-- the params every point starts from (copied, never changed), sweeps the swept
-- params in command-line order ({name, values}) and seeds a non-empty list.
function M.points(exp, base, sweeps, seeds)
  local out = {}
  local function rec(level, chosen)
    if level > #sweeps then
      for _, seed in ipairs(seeds) do
        local p = copy(base)
        local swept = {}
        for i, c in ipairs(chosen) do
          p[c[1]] = copy(c[2])
          swept[i] = c
        end
        local s = seed
        if p.seed ~= nil and #seeds == 1 then s = p.seed end
        if exp.params.seed ~= nil then p.seed = s end
        out[#out + 1] = { params = p, seed = s, swept = swept }
      end
      return
    end
    local name, values = sweeps[level][1], sweeps[level][2]
    for _, v in ipairs(values) do
      chosen[level] = { name, v }
      rec(level + 1, chosen)
    end
    chosen[level] = nil
  end
  rec(1, {})
  return out
end

-- }==================================================================

return M
