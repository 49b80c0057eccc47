-- hasme.util: small helpers the runner's modules share: a deep copy of plain tables,
-- sorted keys, list tests, short text of values, shell quoting and the clock.
local json = require "hasme.json"

local M = {}

local type, pairs, ipairs, tostring = type, pairs, ipairs, tostring
local concat, sort = table.concat, table.sort

--- A deep copy of plain tables; userdata (hasme.Vec, hasme.Mat) and json.null are
-- shared, and metatables (json.array, json.object marks) are kept.
function M.copy(v)
  if type(v) ~= "table" or v == json.null then return v end
  local t = {}
  for k, x in pairs(v) do t[k] = M.copy(x) end
  return setmetatable(t, getmetatable(v))
end

--- The keys of t, sorted by their text.
function M.sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  return keys
end

--- Whether t is a list: a table (plain or marked as a JSON array) whose keys are
-- exactly 1..#t.
function M.islist(t)
  if type(t) ~= "table" or getmetatable(t) ~= nil and getmetatable(t).__jsontype ~= "array" then
    return false
  end
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n == #t
end

--- A value as short text: lists joined with sep (default ","), numbers as the
-- report module writes them, other tables as JSON.
function M.text(v, sep)
  local report = require "hasme.report"
  if type(v) == "table" and M.islist(v) then
    local t = {}
    for i, x in ipairs(v) do t[i] = M.text(x) end
    return concat(t, sep or ",")
  elseif type(v) == "number" then
    return report.value(v)
  elseif type(v) == "table" or type(v) == "userdata" then
    local ok, s = pcall(json.encode, v)
    return ok and s or tostring(v)
  end
  return tostring(v)
end

--- s single-quoted for /bin/sh.
function M.shq(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

--- Wall-clock seconds with centisecond resolution where /proc is there.
function M.now()
  local f = io.open("/proc/uptime", "r")
  if f then
    local t = f:read("n")
    f:close()
    if t then return t end
  end
  return os.time()
end

--- The UTC time as 2026-12-04T16:35:24Z.
function M.iso8601()
  return os.date("!%Y-%m-%dT%H:%M:%SZ")
end

return M
