-- tests/mpi/fail.lua: the last rank raises while the others wait for it in a
-- collective that it never reaches (run by tests/mpi/run.sh): every rank must exit,
-- non-zero, within seconds, and the error must be reported once.
local mpi = require("hasme").mpi
if mpi.rank() == mpi.size() - 1 then error("deliberate failure on the last rank") end
mpi.barrier()
print("unreachable: the barrier returned")
