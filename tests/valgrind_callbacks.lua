-- valgrind_callbacks.lua: a script for `make valgrind-lua` (memcheck of build/hasme):
-- Lua objectives, state-dependent noise and escape predicates copied to worker
-- states (threads = 2), callbacks that fail (with an error object whose __tostring
-- raises), released objects and a progress callback. Memcheck must report no error
-- and no definite leak; the script itself checks that the runs agree.
local hasme = require "hasme"

local function run(threads, grad)
  local obj = hasme.objective { dim = 2, f = function(x) return 0.5 * (x[1] ^ 2 + 2 * x[2] ^ 2) end,
                                grad = grad or function(x) return { x[1], 2 * x[2] } end }
  local nz = hasme.gaussian { cov = function(x) return { { 0.1 + 0.01 * x[1] ^ 2, 0 }, { 0, 0.1 } } end }
  return hasme.simulate { objective = obj, noise = nz, method = "sme1", eta = 0.05, steps = 10,
                          x0 = { 0.4, -0.3 }, paths = 256, seed = 5, threads = threads,
                          escape = function(x) return x[1] > 0.9 end,
                          progress = function() end, progress_interval = 0 }
end

local a, b = run(1), run(2)
assert(a:mean(10) == b:mean(10), "threads changed the result")

local bad = setmetatable({}, { __tostring = function() error("no") end })
for _, threads in ipairs { 1, 2 } do
  local ok, err = pcall(run, threads, function(x) if x[1] > 0.3 then error(bad) end; return { x[1], x[2] } end)
  assert(not ok and err:find("error object is a table value", 1, true), err)
end

do
  local o <close> = hasme.objective { dim = 1, f = function(x) return x[1] end }
  assert(o:value { 2 } == 2)
end
local nz = hasme.gaussian { cov = function(x) return hasme.eye(#x) end }
getmetatable(nz).__gc(nz)
assert(not pcall(nz.cov, nz, { 1 }))
collectgarbage()
collectgarbage()
print("valgrind_callbacks: ok")
