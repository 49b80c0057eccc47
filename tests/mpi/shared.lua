-- tests/mpi/shared.lua: an error that every rank raises alike (vectors of different
-- lengths in allreduce) ends the job with one report, from rank 0 (run by
-- tests/mpi/run.sh).
local mpi = require("hasme").mpi
mpi.allreduce(mpi.rank() == 0 and { 1, 2 } or { 1, 2, 3 })
print("unreachable: allreduce returned")
