-- runner_helpers.lua: what the runner specs share (not a spec itself): files,
-- temporary directories, and running `hasme run`/`hasme runs` as a child process,
-- in the foreground or in the background to send it a signal.
local json = require "hasme.json"

local M = {}

function M.readfile(name)
  local f = assert(io.open(name, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

function M.writefile(name, s)
  local f = assert(io.open(name, "wb"))
  f:write(s)
  f:close()
end

function M.exists(name)
  local f = io.open(name, "rb")
  if f then f:close() end
  return f ~= nil
end

-- Single-quote s for /bin/sh.
function M.q(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end
local q = M.q

local function pwd()
  local p = assert(io.popen("pwd"))
  local dir = p:read("l")
  p:close()
  return dir
end

M.ROOT = pwd()
local BUILD = os.getenv("HASME_BUILD") or "build"
M.BIN = (BUILD:sub(1, 1) == "/" and BUILD or M.ROOT .. "/" .. BUILD) .. "/hasme"
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
