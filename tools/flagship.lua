-- The flagship run behind `make run`: the four shipped experiments with parameters
-- cut down to finish in about a minute on two cores. Each goes through the
-- experiment runner exactly as `hasme run` would, so its tables are printed and its
-- files (configuration, results, tables, figures) land in results/flagship/<name>/.
-- Run an experiment at full size with `build/hasme run experiments/<name>.lua`.
local runner = require "hasme.runner"

local here = arg and arg[0] and arg[0]:match("^(.*)/tools/[^/]*$") or "."
local RUNS = {
  { "quadratic_exactness", { "paths=100000" } },
  { "saddle_escape", { "paths=20000" } },
  { "double_well_escape", { "paths=10000", "etas=0.1,0.05" } },
  { "nn_weak_error", { "pilot=2000", "min_paths=5000", "max_paths=5000", "etas=0.4,0.2,0.1",
                       "dt=0.025", "decays=0,30", "sweep_paths=5000" } },
}

local t0 = os.time()
local failed = 0
for i, run in ipairs(RUNS) do
  local name, sets = run[1], run[2]
  io.write(("\n== [%d/%d] %s (%s)\n\n"):format(i, #RUNS, name, table.concat(sets, " ")))
  io.flush()
  local args = { here .. "/experiments/" .. name .. ".lua", "--out", "results/flagship/" .. name,
                 "--force" }   -- the previous flagship run of this experiment is replaced
  for _, s in ipairs(sets) do
    args[#args + 1] = "--set"
    args[#args + 1] = s
  end
  local status = runner.main(args)
  if status >= 128 then os.exit(status) end   -- interrupted: stop here, as a shell would
  if status ~= 0 then failed = failed + 1 end
end
io.write(("\nflagship: %d experiments, %d failed, %d s; figures and tables under results/flagship/\n")
  :format(#RUNS, failed, os.time() - t0))
os.exit(failed == 0 and 0 or 1)
