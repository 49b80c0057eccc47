-- runner_helpers.lua: what the runner specs share (not a spec itself): files,
-- temporary directories, and running `hasme run`/`hasme runs` as a child process,
-- in the foreground or in the background to send it a signal.
local json = require "hasme.json"
local U = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "spec_util.lua")

local M = {}

-- Files, quoting and the executable: spec_util.lua's.
M.readfile, M.writefile, M.exists, M.q = U.readfile, U.writefile, U.exists, U.q
M.ROOT, M.BIN = U.ROOT, U.BIN
local q = M.q

M.FIX = M.ROOT .. "/tests/fixtures/experiments/"

-- A fresh temporary directory (removed by rmtree).
function M.tmpdir()
  local name = os.tmpname()
  os.remove(name)
  assert(os.execute("mkdir -p " .. q(name)))
  return name
end

function M.rmtree(dir)
  os.execute("rm -rf " .. q(dir))
end

-- The shell command of `hasme <sub> args...`.
local function command(sub, args, prefix)
  local parts = { "env -u LUA_INIT -u LUA_INIT_5_4 -u HASME_SANDBOX", prefix or "", q(M.BIN), sub }
  for _, a in ipairs(args) do parts[#parts + 1] = q(a) end
  return table.concat(parts, " ")
end

-- Run `hasme run args...` (in directory cwd when given; after the shell commands
-- in opts.prefix, e.g. a ulimit). Returns the exit status, stdout and stderr.
function M.run(args, cwd, opts)
  opts = opts or {}
  local out, err = os.tmpname(), os.tmpname()
  local cmd = command(opts.sub or "run", args, opts.env)
  if cwd then cmd = "cd " .. q(cwd) .. " && " .. cmd end
  if opts.prefix then cmd = "sh -c " .. q(opts.prefix .. "; " .. cmd) end
  local _, _, status = os.execute(("%s < /dev/null > %s 2> %s"):format(cmd, q(out), q(err)))
  local stdout, stderr = M.readfile(out), M.readfile(err)
  os.remove(out)
  os.remove(err)
  return status, stdout, stderr
end

-- Start `hasme run args...` in the background, wait until the file `ready` exists
-- (or `delay` seconds), send it signal sig, and wait for it. Returns the exit
-- status and stderr.
function M.run_signalled(args, sig, ready, delay)
  local err, rc = os.tmpname(), os.tmpname()
  local script = table.concat({
    command("run", args) .. " > /dev/null 2> " .. q(err) .. " < /dev/null & pid=$!",
    "i=0; while [ ! -e " .. q(ready) .. " ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done",
    "sleep " .. (delay or 0.3),
    "kill -" .. sig .. " $pid",
    "wait $pid; echo $? > " .. q(rc),
  }, "\n")
  os.execute("sh -c " .. q(script))
  local status = tonumber(M.readfile(rc):match("%d+"))
  local stderr = M.readfile(err)
  os.remove(err)
  os.remove(rc)
  return status, stderr
end

-- The files under dir (relative names, sorted).
function M.files(dir)
  local p = assert(io.popen("cd " .. q(dir) .. " && find . -type f | sort"))
  local list = {}
  for line in p:lines() do list[#list + 1] = line:sub(3) end
  p:close()
  return list
end

function M.subdirs(dir)
  local p = assert(io.popen("cd " .. q(dir) .. " && find . -mindepth 1 -maxdepth 1 -type d | sort"))
  local list = {}
  for line in p:lines() do list[#list + 1] = line:sub(3) end
  p:close()
  return list
end

function M.readjson(name)
  return json.decode(M.readfile(name))
end

return M
