-- tests/mpi/spin.lua: every rank says it is ready, then computes until it is stopped
-- (run by tests/mpi/run.sh, which sends SIGINT to mpirun). arg[1] is a token that
-- names the run's processes.
local hasme = require "hasme"
print("ready " .. hasme.mpi.rank())
io.stdout:flush()
local x = 0.0
while true do
  for i = 1, 1000000 do x = x + i * 1e-9 end
end
