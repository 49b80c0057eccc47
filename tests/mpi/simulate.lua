-- tests/mpi/simulate.lua: runs of simulate and compare whose every output is written,
-- bit for bit (hexadecimal floats), to the file arg[1] by rank 0; arg[2] is the
-- number of threads per rank. tests/mpi/run.sh runs it without mpirun and under
-- mpirun -n 1, 2 and 3 with 1 and 2 threads, and compares the files byte for byte.
-- The runs cover both kernels, Lua callbacks on worker states, per-path starts,
-- escape and divergence records, coupled methods, and errors at a given path.
local hasme = require "hasme"
local out_path, threads = assert(arg[1]), tonumber(arg[2] or "1")
local rank = hasme.mpi.rank()
local lines = {}
local function put(...) lines[#lines + 1] = table.concat({ ... }, " ") end

local function hex(v) return ("%a"):format(v) end
local function mat(m)
  local t = {}
  for i = 1, m:rows() do
    local row = m[i]
    for j = 1, m:cols() do t[#t + 1] = hex(row[j]) end
  end
  return table.concat(t, " ")
end
local function vec(v)
  local t = {}
  for i = 1, #v do t[i] = hex(v[i]) end
  return table.concat(t, " ")
end

-- Everything a result holds that does not depend on time or threads.
local function dump(name, r, record)
  if r.ranks ~= hasme.mpi.size() then error(("r.ranks is %s on %d ranks"):format(r.ranks, hasme.mpi.size())) end
  put(name, r.method, r.kernel, r.paths, r.escaped, r.diverged, r.undefined, r.projected)
  for _, k in ipairs(record) do
    put("snapshot", k, mat(r:snapshot(k)))
    put("mean", k, vec(r:mean(k)))
    if r.paths - r.diverged - r.undefined >= 2 then put("cov", k, mat(r:cov(k))) end
  end
  if r.escaped > 0 or name:find("escape") then put("escape", vec(r:escape_steps())) end
  if name:find("diverge") then put("diverged", vec(r:diverged_steps())) end
end

local function try(name, f)
  local ok, err = pcall(f)
  if not ok then put(name, "error", tostring(err)) end
end

local Q = hasme.quadratic { H = { { 1.3, 0.2 }, { 0.2, -0.4 } }, b = { 0.1, -0.05 } }
local noise = hasme.gaussian { sigma = 0.37 }

-- 1. linear kernel, SGD, 1003 paths (not a multiple of the block), escape built-in
try("linear-escape", function()
  local rec = { 0, 5, 20 }
  local r = hasme.simulate { objective = Q, noise = noise, method = "sgd", eta = 0.05,
    steps = 20, x0 = { 0.2, -0.1 }, paths = 1003, seed = 7, record = rec, threads = threads,
    escape = hasme.escape.halfspace({ 1, 0 }, 0.25) }
  dump("linear-escape", r, rec)
end)

-- 2. linear kernel, exact HA-SME integrator
try("linear-exact", function()
  local P = hasme.quadratic { H = { { 1.1, 0.3 }, { 0.3, 0.7 } } }
  local r = hasme.simulate { objective = P, noise = hasme.gaussian { cov = { { 0.2, 0.05 }, { 0.05, 0.1 } } },
    method = "hasme", eta = 0.1, steps = 12, x0 = { 1, -1 }, paths = 517, seed = 11,
    record = { 3, 12 }, threads = threads }
  dump("linear-exact", r, { 3, 12 })
end)

-- 3. general kernel: wells, HA-SME by Euler, a Lua escape predicate (worker states)
try("general-escape", function()
  local w = hasme.wells { dim = 2, tilt = { 0.05, 0 } }
  local r = hasme.simulate { objective = w, noise = hasme.gaussian { sigma = 5 },
    method = "hasme", eta = 0.05, steps = 30, x0 = { -1, 0.2 }, paths = 203, seed = 3,
    record = { 10, 30 }, substeps = 4, threads = threads, on_domain = "record",
    escape = function(x) return x[1] > 0 end }
  dump("general-escape", r, { 10, 30 })
end)

-- 4. a Lua objective, per-path starts (a matrix x0)
try("lua-objective", function()
  local obj = hasme.objective { dim = 2,
    f = function(x) return 0.5 * (x[1] ^ 2 + 2 * x[2] ^ 2) + 0.1 * x[1] ^ 4 end,
    grad = function(x) return { x[1] + 0.4 * x[1] ^ 3, 2 * x[2] } end }
  local x0 = {}
  for i = 1, 77 do x0[i] = { math.sin(i), math.cos(i) } end
  local r = hasme.simulate { objective = obj, noise = noise, method = "sme2", eta = 0.02,
    steps = 15, x0 = x0, paths = 77, seed = 5, record = { 1, 15 }, threads = threads,
    substeps = 3 }
  dump("lua-objective", r, { 1, 15 })
end)

-- A start for each path: `base` everywhere, `far` at the paths listed.
local function starts(n, base, far, at)
  local x0 = {}
  for i = 1, n do x0[i] = { base, 0.1 } end
  for _, i in ipairs(at) do x0[i] = { far, 0.1 } end
  return x0
end
local W = hasme.wells { dim = 2 }

-- 5. divergence recorded on some paths (those started far out)
try("diverge", function()
  local r = hasme.simulate { objective = W, noise = hasme.gaussian { sigma = 0.3 },
    method = "sgd", eta = 0.1, steps = 40, x0 = starts(301, -1, 60, { 17, 150, 290 }),
    paths = 301, seed = 2, on_diverge = "record", record = { 1, 40 }, threads = threads }
  dump("diverge", r, { 1, 40 })
end)

-- 6. compare: coupled methods
try("compare", function()
  local res = hasme.compare { methods = { "sgd", "sme2", "hasme" }, objective = Q,
    noise = noise, eta = 0.05, steps = 8, x0 = { 0.3, 0.3 }, paths = 150, seed = 9,
    record = { 8 }, threads = threads }
  for _, m in ipairs({ "sgd", "sme2", "hasme" }) do dump("compare-" .. m, res[m], { 8 }) end
end)

-- 8. streamed observables without snapshots (built-ins and a Lua function), and a
-- paired compare: every figure of r:observations(), bit for bit
local function observations(name, r)
  for _, row in ipairs(r:observations()) do
    local t = {}
    for _, v in ipairs(row) do t[#t + 1] = type(v) == "number" and hex(v) or tostring(v) end
    local keys = {}
    for k in pairs(row) do if type(k) == "string" then keys[#keys + 1] = k end end
    table.sort(keys)
    for _, k in ipairs(keys) do
      local v = row[k]
      t[#t + 1] = k .. "=" .. (type(v) == "number" and hex(v) or tostring(v))
    end
    put(name, "obs", table.concat(t, " "))
  end
end
try("observe", function()
  local r = hasme.simulate { objective = W, noise = hasme.gaussian { sigma = 0.4 },
    method = "hasme", eta = 0.05, steps = 20, x0 = { -1, 0.2 }, paths = 3001, seed = 5,
    record = { 10, 20 }, threads = threads, snapshots = false,
    observe = { loss = "value", x1 = "x1", g = function(x) return x[1] * x[2] end } }
  put("observe", r.paths, r.kernel)
  observations("observe", r)
end)
try("compare-observe", function()
  local res = hasme.compare { methods = { "sgd", "sme2", "hasme" }, objective = W,
    noise = hasme.gaussian { sigma = 0.4 }, eta = 0.05, steps = 12, x0 = { -1, 0.2 },
    paths = 2500, seed = 8, record = { 12 }, threads = threads,
    observe = { loss = "value", d2 = "dist2" } }
  for _, m in ipairs({ "sgd", "sme2", "hasme" }) do observations("compare-observe-" .. m, res[m]) end
end)
try("compare-extrapolate", function()
  local res = hasme.compare { methods = { "sgd", "sme1", "hasme" }, objective = W,
    noise = hasme.gaussian { sigma = 0.4 }, eta = 0.05, steps = 12, x0 = { -1, 0.2 },
    paths = 2500, seed = 9, record = { 6, 12 }, threads = threads, substeps = 4,
    integrator = "extrapolate", observe = { loss = "value", d2 = "dist2" } }
  for _, m in ipairs({ "sgd", "sme1", "hasme" }) do
    observations("compare-extrapolate-" .. m, res[m])
    local i = res[m]:info()
    put("compare-extrapolate-" .. m, i.integrator, tostring(i.coarse_substeps),
        tostring(i.coarse_undefined), tostring(i.coarse_projected))
  end
end)

-- 7. errors at given paths (the paths started far out), the first of which lies in
-- the last rank's share or in the first: the message (path and step) must be the one
-- a single process reports.
for _, at in ipairs({ { 150, 260 }, { 290 }, { 5, 299 } }) do
  local tag = table.concat(at, ",")
  try("callback-error " .. tag, function()
    hasme.simulate { objective = Q, noise = noise, method = "sgd", eta = 0.05, steps = 5,
      x0 = starts(300, 0, 200, at), paths = 300, seed = 1, threads = threads,
      escape = function(x) if x[1] > 100 then error("predicate refused") end return false end }
  end)
  try("diverge-error " .. tag, function()
    hasme.simulate { objective = W, noise = hasme.gaussian { sigma = 0.3 }, method = "sgd",
      eta = 0.1, steps = 40, x0 = starts(300, -1, 60, at), paths = 300, seed = 2,
      threads = threads }
  end)
  try("undefined-error " .. tag, function()
    hasme.simulate { objective = W, noise = hasme.gaussian { sigma = 0.3 }, method = "hasme",
      eta = 0.1, steps = 5, x0 = starts(300, -1, 3, at), paths = 300, seed = 4,
      threads = threads }
  end)
end

if rank == 0 then
  local f = assert(io.open(out_path, "w"))
  f:write(table.concat(lines, "\n"), "\n")
  f:close()
end
