-- tests/mpi/cmpfail.lua: compare, whose Lua escape predicate raises at path 290 only,
-- not caught: compare re-raises simulate's error under its own prefix, and the error
-- is still printed once (run by tests/mpi/run.sh).
local hasme = require "hasme"
local x0 = {}
for i = 1, 300 do x0[i] = { i == 290 and 200 or 0, 0.1 } end
hasme.compare { methods = { "sgd", "sme1" },
  objective = hasme.quadratic { H = { { 1, 0 }, { 0, 2 } } },
  noise = hasme.gaussian { sigma = 0.3 }, eta = 0.05, steps = 5, x0 = x0, paths = 300,
  seed = 1, threads = 1,
  escape = function(x) if x[1] > 100 then error("predicate refused") end return false end }
print("unreachable: compare returned")
