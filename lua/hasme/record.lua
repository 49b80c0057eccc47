-- hasme.record: the record of a run, config.json. It is written when the run starts,
-- with status "running", and rewritten on every way out: "ok", "error" (with the
-- first error) or "interrupted" (with the signal). It holds what is needed to rerun
-- and to trust the run: the command, the params, the seeds, substeps, threads, the
-- hasme version, the git commit of the experiment's repository and the SHA-256 of
-- the experiment file. Also here: which directories hold a run, and the hash of a
-- point's resolved configuration that --resume compares.
require "hasme.core"
local hasme = require "hasme"
local json = require "hasme.json"
local report = require "hasme.report"
local sys = require "hasme.sys"
local util = require "hasme.util"

local M = {}

local type, ipairs, pairs, tostring = type, ipairs, pairs, tostring
local shq = util.shq

-- The first line of a command's output, once per process.
local cache = {}
local function firstline(cmd)
  if cache[cmd] == nil then
    local p = io.popen(cmd .. " 2>/dev/null")
    cache[cmd] = p and p:read("l") or "unknown"
    if p then p:close() end
  end
  return cache[cmd]
end

local function platform() return firstline("uname -srm") end

--- The name of this host (uname -n).
function M.host() return firstline("uname -n") end

--- The git commit (40 hex digits) of the repository holding file, with "+dirty"
-- appended when the file differs from that commit; nil when git is absent or the
-- file is in no repository.
function M.git_commit(file)
  local dir = file:match("^(.*)/[^/]*$") or "."
  local p = io.popen("cd " .. shq(dir) .. " 2>/dev/null && git rev-parse HEAD 2>/dev/null")
  if not p then return nil end
  local head = p:read("l")
  p:close()
  if not head or not head:match("^%x+$") or #head < 40 then return nil end
  local name = file:match("[^/]+$")
  local d = io.popen("cd " .. shq(dir) .. " && git status --porcelain -- " .. shq(name) .. " 2>/dev/null")
  local dirty = d and d:read("l")
  if d then d:close() end
  return dirty and dirty ~= "" and head .. "+dirty" or head
end

--- The part of config.json every record of a run shares.
function M.base(exp, run)
  local cmd = { "hasme", "run" }
  for _, a in ipairs(run.args) do cmd[#cmd + 1] = a end
  return {
    experiment = exp.name,
    description = exp.description,
    file = exp.file,
    file_sha256 = sys.sha256(exp.source),
    git_commit = run.git_commit or json.null,
    command = cmd,
    hasme_version = hasme.version,
    lua_version = _VERSION,
    platform = platform(),
    threads = run.threads or json.null,
    cores = hasme.cores(),
    ranks = hasme.mpi.size(),   -- MPI ranks (1 without mpirun); threads is per rank
    sandbox = exp.sandboxed or false,
    host = M.host(),
    pid = sys.pid,
  }
end

--- The hash identifying a point: SHA-256 of the canonical JSON (sorted keys) of
-- its resolved params and seed, with the experiment file's hash, so that a changed
-- experiment is never taken for complete.
function M.point_hash(exp, pt)
  local text = json.encode({ params = pt.params, seed = pt.seed, experiment = exp.name,
                             file_sha256 = sys.sha256(exp.source) })
  return sys.sha256(text)
end

--- Write config (a table) as dir/config.json. Returns true, or nil and the message.
function M.write(dir, config)
  return pcall(report.write_json, dir .. "/config.json", config)
end

--- The record in dir/config.json, or nil when there is none (or it is unreadable).
function M.read(dir)
  local f = io.open(dir .. "/config.json", "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  local ok, v = pcall(json.decode, s or "")
  if ok and type(v) == "table" and v.hasme_version ~= nil and v.experiment ~= nil then return v end
  return nil
end

--- What dir is: "absent", "empty", "run" (it holds a hasme run: config.json with a
-- record) or "other" (a file, or a directory with other files).
function M.classify(dir)
  local kind = sys.kind(dir)
  if kind == nil then return "absent" end
  if kind ~= "directory" then return "other" end
  local names = sys.dir(dir)
  if not names then return "other" end
  if #names == 0 then return "empty" end
  return M.read(dir) and "run" or "other"
end

--- Remove everything inside dir (not dir itself). Raises on failure.
function M.clear(dir)
  local names = assert(sys.dir(dir))
  if #names == 0 then return end
  local args = {}
  for _, n in ipairs(names) do args[#args + 1] = shq(dir .. "/" .. n) end
  local ok = os.execute("rm -rf -- " .. table.concat(args, " ") .. " 2>/dev/null")
  if not ok or #assert(sys.dir(dir)) > 0 then error("cannot clear the directory " .. dir, 0) end
end

--- Whether the point in dir is complete: its record says "ok" with this hash and
-- its results.json is there.
function M.complete(dir, hash)
  local c = M.read(dir)
  return c ~= nil and c.status == "ok" and c.point_hash == hash
    and sys.kind(dir .. "/results.json") == "file"
end

--- The summary in dir/results.json, or nil.
function M.results(dir)
  local f = io.open(dir .. "/results.json", "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  local ok, v = pcall(json.decode, s or "")
  return ok and type(v) == "table" and v or nil
end

M.platform = platform

return M
