-- hasme.runs: `hasme runs [DIR...]`, the list of the runs under the given
-- directories (default: results), read from their records alone: config.json for
-- the experiment, status, start, command-line params and points, results.json (a
-- single point) or summary.json (a sweep) for the headline figures.
require "hasme.core"
local json = require "hasme.json"
local report = require "hasme.report"
local sys = require "hasme.sys"
local util = require "hasme.util"

local M = {}

local type, ipairs, tostring = type, ipairs, tostring
local concat, sort = table.concat, table.sort

local MAXDEPTH = 6        -- how deep under DIR runs are looked for
local HEADLINE = 3        -- figures of the summary shown per run

local function readjson(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  local ok, v = pcall(json.decode, s or "")
  return ok and type(v) == "table" and v or nil
end

-- The record in dir, when it is the record of a whole run (not of a point of a
-- sweep, which its sweep's record lists).
local function runrecord(dir)
  local c = readjson(dir .. "/config.json")
  if c and c.hasme_version ~= nil and c.experiment ~= nil and c.point == nil then return c end
  return nil
end

-- Find the runs under dir (depth-first, names sorted), appending {dir, record}.
local function find(dir, depth, out)
  local c = runrecord(dir)
  if c then
    out[#out + 1] = { dir = dir, rec = c }
    return
  end
  if depth >= MAXDEPTH then return end
  local names = sys.dir(dir)
  if not names then return end
  for _, n in ipairs(names) do
    local p = dir .. "/" .. n
    if n:sub(1, 1) ~= "." and sys.kind(p) == "directory" then find(p, depth + 1, out) end
  end
end

-- The --set options of a recorded command, as "name=value" texts.
local function sets(rec)
  local out = {}
  local cmd = type(rec.command) == "table" and rec.command or {}
  local i = 1
  while i <= #cmd do
    local a = cmd[i]
    if a == "--set" and cmd[i + 1] then
      out[#out + 1] = cmd[i + 1]
      i = i + 1
    elseif type(a) == "string" and a:match("^%-%-set=") then
      out[#out + 1] = a:sub(7)
    elseif a == "--seeds" and cmd[i + 1] then
      out[#out + 1] = "seeds=" .. cmd[i + 1]
      i = i + 1
    end
    i = i + 1
  end
  return concat(out, " ")
end

-- The first HEADLINE figures of a summary, as "k=v" texts (keys sorted).
local function headline(summary)
  if type(summary) ~= "table" then return "" end
  local keys = util.sorted_keys(summary)
  local out = {}
  for _, k in ipairs(keys) do
    local v = summary[k]
    if type(v) == "number" or type(v) == "string" or type(v) == "boolean" then
      out[#out + 1] = tostring(k) .. "=" .. (math.type(v) == "float" and ("%.4g"):format(v) or tostring(v))
      if #out == HEADLINE then break end
    end
  end
  if #keys > #out then out[#out + 1] = "..." end
  return concat(out, " ")
end

--- What a record that says "running" means: "running" when its process is alive on
-- this host, "killed" when it is gone (SIGKILL, a crash, a power cut: the record
-- could not be updated), "running or killed" when it ran on another host.
function M.alive(rec)
  local record = require "hasme.record"
  if rec.host ~= record.host() or math.type(rec.pid) ~= "integer" then return "running or killed" end
  local f = io.open("/proc/" .. rec.pid .. "/cmdline", "rb")
  local cmd = f and f:read("a") or ""
  if f then f:close() end
  return cmd:find("hasme", 1, true) and "running" or "killed"
end

--- The runs under dir: a list of {dir, experiment, status, started, elapsed, points,
-- params, headline}, sorted by start time.
function M.list(dir)
  local found = {}
  find(dir, 0, found)
  local rows = {}
  for _, f in ipairs(found) do
    local rec = f.rec
    local points, head
    if rec.sweep ~= nil then
      points = ("%s/%s"):format(tostring(rec.completed or "?"), tostring(rec.points or "?"))
      local s = readjson(f.dir .. "/summary.json")
      local first = s and type(s.points) == "table" and s.points[1]
      head = first and ("point 1: " .. headline(first.summary)) or ""
    else
      points = rec.status == "ok" and "1/1" or "0/1"
      local r = readjson(f.dir .. "/results.json")
      head = r and headline(r.summary) or ""
    end
    local status = tostring(rec.status or "?")
    if rec.status == "interrupted" and rec.signal then status = status .. " (" .. rec.signal .. ")" end
    if rec.status == "running" then status = M.alive(rec) end
    rows[#rows + 1] = {
      dir = f.dir, experiment = tostring(rec.experiment), status = status,
      started = type(rec.started) == "string" and rec.started or "",
      elapsed = type(rec.elapsed) == "number" and rec.elapsed or json.null,
      points = points, params = sets(rec), headline = head,
      error = type(rec.error) == "string" and rec.error or nil,
    }
  end
  sort(rows, function(a, b)
    if a.started ~= b.started then return a.started < b.started end
    return a.dir < b.dir
  end)
  return rows
end

--- `hasme runs [DIR...]`: print the table of runs; returns the exit status (2 when a
-- DIR is not a directory).
function M.main(args)
  if type(args) ~= "table" then
    error("bad argument #1 to 'main' (table expected, got " .. type(args) .. ")", 2)
  end
  local dirs = {}
  for _, a in ipairs(args) do
    if a == "--help" or a == "-h" then
      io.stdout:write("usage: hasme runs [DIR...]\nList the runs under each DIR (default "
        .. "results): status, params set on the command line and headline figures,\n"
        .. "read from their records (config.json, results.json, summary.json).\n")
      return 0
    end
    if a:sub(1, 1) == "-" then
      io.stderr:write("hasme runs: unknown option '", a, "'\nusage: hasme runs [DIR...]\n")
      return 2
    end
    dirs[#dirs + 1] = (a:gsub("/+$", ""))
  end
  if #dirs == 0 then dirs[1] = "results" end
  local rows = {}
  for _, d in ipairs(dirs) do
    if sys.kind(d) ~= "directory" then
      io.stderr:write("hasme runs: ", d, ": not a directory\nusage: hasme runs [DIR...]\n")
      return 2
    end
    for _, r in ipairs(M.list(d)) do rows[#rows + 1] = r end
  end
  if #rows == 0 then
    io.stdout:write("no runs under ", concat(dirs, ", "), "\n")
    return 0
  end
  local t = { title = ("%d run%s under %s"):format(#rows, #rows == 1 and "" or "s", concat(dirs, ", ")),
              columns = { "run", "experiment", "status", "started", "elapsed", "points",
                          "params", "headline" }, rows = {} }
  for i, r in ipairs(rows) do
    t.rows[i] = { r.dir, r.experiment, r.status, r.started, r.elapsed, r.points, r.params, r.headline }
  end
  io.stdout:write(report.format(t), "\n")
  for _, r in ipairs(rows) do
    if r.error then io.stdout:write(r.dir, ": ", (r.error:match("^[^\n]*")), "\n") end
  end
  return 0
end

return M
