-- tests/mpi/simfail.lua: a simulate whose Lua escape predicate raises at path 290
-- only (in the last rank's share on 2 or 3 ranks), not caught: every rank exits
-- non-zero, and the error is printed once, as one process prints it (run by
-- tests/mpi/run.sh).
local hasme = require "hasme"
local x0 = {}
for i = 1, 300 do x0[i] = { i == 290 and 200 or 0, 0.1 } end
hasme.simulate { objective = hasme.quadratic { H = { { 1, 0 }, { 0, 2 } } },
  noise = hasme.gaussian { sigma = 0.3 }, method = "sgd", eta = 0.05, steps = 5, x0 = x0,
  paths = 300, seed = 1, threads = 1,
  escape = function(x) if x[1] > 100 then error("predicate refused") end return false end }
print("unreachable: simulate returned")
