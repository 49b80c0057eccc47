-- spec_util.lua: what the specs that work with files and child processes share (not a
-- spec itself): whole-file reads and writes, shell quoting, the project root and the
-- hasme executable under test (HASME_BUILD, default build).
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

-- s single-quoted for /bin/sh.
function M.q(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

function M.pwd()
  local p = assert(io.popen("pwd"))
  local dir = p:read("l")
  p:close()
  return dir
end

-- The specs run from the project root (tests/run.sh).
M.ROOT = M.pwd()
M.BUILD = os.getenv("HASME_BUILD") or "build"
M.BIN = (M.BUILD:sub(1, 1) == "/" and M.BUILD or M.ROOT .. "/" .. M.BUILD) .. "/hasme"

return M
