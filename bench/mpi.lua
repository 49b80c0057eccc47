-- bench/mpi.lua: the MPI part of `make bench`. W1 and W2 (the workloads of
-- bench/run.lua, defined the same way here) timed on 1 rank x 1 thread, 2 ranks x 1
-- thread and 1 rank x 2 threads, the speedup of 2 ranks (target >= 1.8x on two free
-- cores), the CPU seconds of the busiest rank (work_split: how evenly the work is
-- shared, whatever else the machine runs), and the bytes each rank hands to MPI per
-- simulate for two path counts.
-- Written to results/bench/<date>-<time>-mpi.{csv,json}.
--
--   build/hasme bench/mpi.lua [--quick]        the driver: starts the runs below
--   mpirun -n R build/hasme bench/mpi.lua --run W PATHS THREADS [observe]
--                                              one timed run, a JSON line from rank 0
local hasme = require "hasme"
local report = require "hasme.report"
local json = require "hasme.json"

local BUILD = os.getenv("BUILD") or "build"
local mpi = hasme.mpi

-- {==================================================================
-- The workloads (as bench/run.lua)
-- ===================================================================

local W1_H = { { 2, 0.3, 0, 0 }, { 0.3, 1, 0.2, 0 }, { 0, 0.2, 0.5, 0.1 }, { 0, 0, 0.1, -0.3 } }
local W1_C = {}
for i = 1, 4 do
  W1_C[i] = {}
  for j = 1, 4 do W1_C[i][j] = 0.05 + (i == j and ({ 1, 0.5, 0.3, 0.2 })[i] or 0) end
end

local function options(w, paths, threads)
  if w == "W1" then
    return { objective = hasme.quadratic { H = W1_H }, noise = hasme.gaussian { cov = W1_C },
             method = "sgd", eta = 0.05, steps = 100, x0 = { 0.5, 0.5, 0.5, 0.5 },
             paths = paths, seed = 11, threads = threads }
  end
  return { objective = hasme.wells { dim = 1 }, noise = hasme.gaussian { sigma = 2.2 },
           method = "hasme", integrator = "euler", eta = 0.05, substeps = 4, steps = 2000,
           x0 = { -1 }, paths = paths, seed = 12, threads = threads,
           escape = hasme.escape.halfspace({ 1 }, 0.5) }
end

-- }==================================================================

-- One run on every rank: rank 0 prints {seconds, bytes, ranks, threads} as JSON. The
-- time is the slowest rank's, from the start of simulate to the end of its
-- reductions; `observe` streams an observable instead of keeping snapshots.
local function one_run(w, paths, threads, observe)
  local o = options(w, paths, threads)
  if observe == "observe" then
    o.observe = { loss = "value" }
    o.snapshots = false
  end
  mpi.barrier()
  local b0, t0, c0 = mpi.bytes_sent(), hasme.clock(), os.clock()
  local r = hasme.simulate(o)
  local t, cpu = hasme.clock() - t0, os.clock() - c0
  local bytes = mpi.bytes_sent() - b0
  t = mpi.allreduce(t, "max")
  local cpumax = mpi.allreduce(cpu, "max")
  local bmax = mpi.allreduce(bytes, "max")
  if mpi.rank() == 0 then
    io.write(json.encode { seconds = t, cpu_max = cpumax, bytes = bytes, bytes_max = bmax,
                           ranks = mpi.size(), threads = r.threads, paths = paths }, "\n")
  end
end

if arg[1] == "--run" then
  one_run(arg[2], tonumber(arg[3]), tonumber(arg[4]), arg[5])
  return
end

-- {==================================================================
-- The driver
-- ===================================================================

local quick = arg[1] == "--quick"
local function sh(cmd)
  local p = assert(io.popen(cmd .. " 2>&1"))
  local out = p:read("a")
  local ok, _, code = p:close()
  return out, ok and 0 or code
end

if sh("command -v mpirun") == "" then
  print("bench/mpi.lua: mpirun not found: the MPI scaling table is skipped")
  return
end
-- Open MPI refuses root without these; set here for the benchmark only.
local root = sh("id -u"):match("^0") ~= nil
local envs = root and "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 " or ""

-- ranks x threads; one rank runs without mpirun, as a user would.
local function run(w, paths, ranks, threads, observe)
  local cmd
  if ranks == 1 then
    cmd = ("env -u OMPI_COMM_WORLD_SIZE -u PMI_SIZE -u PMIX_RANK %s/hasme bench/mpi.lua --run %s %d %d %s")
      :format(BUILD, w, paths, threads, observe or "")
  else
    cmd = ("%smpirun --oversubscribe --bind-to none -n %d %s/hasme bench/mpi.lua --run %s %d %d %s")
      :format(envs, ranks, BUILD, w, paths, threads, observe or "")
  end
  local out, code = sh(cmd)
  local line = out:match("(%b{})")
  if code ~= 0 or line == nil then error("bench/mpi.lua: " .. cmd .. " failed:\n" .. out) end
  return json.decode(line)
end

local SIZES = quick and { W1 = 200000, W2 = 10000 } or { W1 = 2000000, W2 = 100000 }
local rows = {}
for _, w in ipairs { "W1", "W2" } do
  local n = SIZES[w]
  local a = run(w, n, 1, 1)
  local b = run(w, n, 2, 1)
  local c = run(w, n, 1, 2)
  rows[#rows + 1] = { w, n, a.seconds, b.seconds, c.seconds, a.seconds / b.seconds,
                      a.seconds / c.seconds, b.seconds / c.seconds, a.cpu_max, b.cpu_max,
                      a.cpu_max / b.cpu_max }
  io.stderr:write(("bench/mpi.lua: %s done\n"):format(w))
end
local scaling = {
  title = "MPI scaling: seconds of simulate on ranks x threads (target: 2x1 speedup >= 1.8)",
  columns = { "workload", "paths", "1x1_s", "2x1_s", "1x2_s", "speedup_2x1", "speedup_1x2",
              "2x1_vs_1x2", "cpu_1x1_s", "cpu_2x1_max_s", "work_split" },
  rows = rows,
  formats = { ["1x1_s"] = "%.3f", ["2x1_s"] = "%.3f", ["1x2_s"] = "%.3f",
              speedup_2x1 = "%.2f", speedup_1x2 = "%.2f", ["2x1_vs_1x2"] = "%.2f",
              cpu_1x1_s = "%.3f", cpu_2x1_max_s = "%.3f", work_split = "%.2f" },
}

-- Bytes per simulate on 2 ranks for two path counts: with an observable and no
-- snapshots when simulate streams observables, and with W1's snapshots (gathered,
-- so they grow with the paths) for comparison.
local probe = pcall(hasme.simulate, { objective = hasme.quadratic { H = { { 1 } } },
  eta = 0.1, steps = 1, x0 = { 0 }, paths = 8, threads = 1, observe = { v = "value" },
  snapshots = false })
local brows = {}
for _, n in ipairs { 10000, 100000 } do
  if probe then
    local o = run("W1", n, 2, 1, "observe")
    brows[#brows + 1] = { "W1, observe, no snapshots", n, o.bytes, o.bytes_max }
  end
  local s = run("W1", n, 2, 1)
  brows[#brows + 1] = { "W1, snapshots gathered", n, s.bytes, s.bytes_max }
end
local bytes = {
  title = "bytes each rank hands to MPI per simulate (2 ranks)",
  columns = { "run", "paths", "rank0_bytes", "max_bytes" },
  rows = brows,
}

print(report.format(scaling))
print(report.format(bytes))
local stamp = os.date("!%Y%m%d-%H%M%S")
os.execute("mkdir -p results/bench")
local base = "results/bench/" .. stamp .. "-mpi"
report.write(base .. ".csv", report.csv(scaling))
report.write_json(base .. ".json", { scaling = scaling, bytes = bytes, quick = quick,
                                     cores = hasme.cores(), version = hasme.version })
print("written " .. base .. ".csv and .json")

-- }==================================================================
