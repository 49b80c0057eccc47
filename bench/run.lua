-- bench/run.lua: `make bench`. Runs each workload of bench/README.md in hasme and in
-- the NumPy peer (bench/peer.py), checks that the two agree within Monte Carlo error,
-- and prints one table: workload, seconds in hasme and in NumPy, their ratio,
-- path-steps per second, threads. Then the scaling of W1 and W2 from 1 to 2 threads,
-- the RNG costs (bench/rng_bench), W1's peak memory, W4's slowdown against W2 and W5's
-- peak memory at 10^5 and 10^6 paths.
-- Everything is also written to results/bench/<date>-<time>.{csv,json}.
--
-- Options: --quick (smaller workloads, for a smoke test), --only W1,W3,...
local hasme = require "hasme"
local report = require "hasme.report"
local json = require "hasme.json"

local BUILD = os.getenv("BUILD") or "build"
local quick, only = false, nil
for i = 1, #arg do
  if arg[i] == "--quick" then quick = true end
  if arg[i] == "--only" then
    only = {}
    for w in (arg[i + 1] or ""):gmatch("[^,]+") do only[w] = true end
  end
end
local function wanted(w) return only == nil or only[w] end

local function sh(cmd)
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  local ok, _, code = p:close()
  return out, ok and 0 or code
end

-- The Python with NumPy: Debian's system interpreter, whatever python3 is on PATH.
local PYTHON = "/usr/bin/python3"

-- The code path hasme runs (HASME_ISA forces one) and the processor. The NumPy peer
-- is held to the same instruction set, so that forcing the AVX2 path on an AVX-512
-- machine compares the two as on an AVX2 machine: NumPy's own SIMD dispatch
-- (NPY_DISABLE_CPU_FEATURES) and OpenBLAS's kernels (OPENBLAS_CORETYPE). The peer
-- reports what it actually ran (numpy_simd, blas_core).
local ISA, CPU = hasme.isa()
local AVX512 = "AVX512F AVX512CD AVX512_SKX AVX512_CLX AVX512_CNL AVX512_ICL"
local PEER_ENV = {
  avx512 = "",
  avx2 = ("NPY_DISABLE_CPU_FEATURES='%s' OPENBLAS_CORETYPE=Haswell "):format(AVX512),
  baseline = ("NPY_DISABLE_CPU_FEATURES='SSSE3 SSE41 POPCNT SSE42 AVX F16C FMA3 AVX2 %s' "
              .. "OPENBLAS_CORETYPE=Prescott "):format(AVX512),
}
local peer_runtime

local function peer(w, paths)
  local out, code = sh(("%s%s bench/peer.py %s %d"):format(PEER_ENV[ISA] or "", PYTHON, w,
                                                           paths))
  if code ~= 0 then error("bench: the NumPy peer failed on " .. w .. ":\n" .. out) end
  local r = json.decode(out)
  peer_runtime = { numpy_simd = r.numpy_simd, blas_core = r.blas_core }
  return r
end

-- Wall seconds of f(); the processor seconds of every thread go to last_cpu. On a
-- machine shared with other work, wall time measures the load as much as the code;
-- processor time much less, so the table gives both.
local last_cpu = 0 / 0
local function timed(f)
  local t0, c0 = hasme.clock(), os.clock()
  local a, b = f()
  last_cpu = os.clock() - c0
  return hasme.clock() - t0, a, b
end

-- {==================================================================
-- The workloads in hasme (exact definitions in bench/README.md)
-- ===================================================================

local W1_H = { { 2, 0.3, 0, 0 }, { 0.3, 1, 0.2, 0 }, { 0, 0.2, 0.5, 0.1 }, { 0, 0, 0.1, -0.3 } }
local W1_C = {}
for i = 1, 4 do
  W1_C[i] = {}
  for j = 1, 4 do W1_C[i][j] = 0.05 + (i == j and ({ 1, 0.5, 0.3, 0.2 })[i] or 0) end
end

local function mean_se(v)
  local n, s = #v, 0
  for i = 1, n do s = s + v[i] end
  local m, q = s / n, 0
  for i = 1, n do q = q + (v[i] - m) ^ 2 end
  return m, math.sqrt(q / (n - 1) / n)
end

-- Returns seconds, value, se, path-steps.
local function w1(paths, threads)
  local r
  local t = timed(function()
    r = hasme.simulate { objective = hasme.quadratic { H = W1_H },
                         noise = hasme.gaussian { cov = W1_C }, method = "sgd", eta = 0.05,
                         steps = 100, x0 = { 0.5, 0.5, 0.5, 0.5 }, paths = paths, seed = 11,
                         threads = threads }
  end)
  local m, se = mean_se(r:values(100, function(x) return x:dot(x) end))
  return t, m, se, paths * 100, r.threads
end

local function escape_stats(r, K)
  local e = r:escape_steps()
  local v, total = {}, 0
  for i = 1, #e do
    v[i] = e[i] > 0 and e[i] or K
    total = total + v[i]
  end
  local m, se = mean_se(v)
  return m, se, total
end

local W2 = { sigma = 2.2, eta = 0.05, substeps = 4, steps = 2000, threshold = 0.5 }

local function w2(paths, threads, objective)
  local r
  local t = timed(function()
    r = hasme.simulate { objective = objective or hasme.wells { dim = 1 },
                         noise = hasme.gaussian { sigma = W2.sigma }, method = "hasme",
                         integrator = "euler", eta = W2.eta, substeps = W2.substeps,
                         steps = W2.steps, x0 = { -1 }, paths = paths, seed = 12,
                         threads = threads,
                         escape = hasme.escape.halfspace({ 1 }, W2.threshold) }
  end)
  local m, se, total = escape_stats(r, W2.steps)
  return t, m, se, total, r.threads, r
end

local function w3(paths, threads)
  local d = 8
  local Q = {}
  for i = 1, d do
    Q[i] = {}
    for j = 1, d do Q[i][j] = (i == j and 0.2 or 0) + (math.abs(i - j) == 1 and 0.1 or 0) end
  end
  local r
  local t = timed(function()
    r = hasme.simulate { objective = hasme.wells { dim = d, Q = Q },
                         noise = hasme.gaussian { sigma = 0.5 }, method = "hasme",
                         integrator = "euler", eta = 0.05, substeps = 1, steps = 200,
                         x0 = hasme.linspace(-1, 1, d), paths = paths, seed = 13,
                         threads = threads }
  end)
  local m, se = mean_se(r:values(200))
  return t, m, se, paths * 200, r.threads
end

-- W5 (bench/peer_w5.py has the definition): coupled SGD with the Gaussian surrogate
-- of minibatch noise, SME-2 and HA-SME on the tanh network of
-- experiments/nn_weak_error.lua, with closed-form data so that the NumPy peer builds
-- the same loss; two streaming observables and their paired weak errors.
local function w5_problem()
  local N, X, y = 16, {}, {}
  for i = 1, N do
    local x = -2 + 4 * (i - 0.5) / N
    X[i] = { x }
    y[i] = math.sin(1.5 * x) + 0.1 * math.cos(7 * x)
  end
  local net = hasme.nn { X = X, y = y, hidden = 3 }
  local th = {}
  for k = 1, net:dim() do th[k] = 0.5 * math.sin(1.3 * k + 0.4) end
  return net, th
end

local W5 = { eta = 0.1, steps = 10, substeps = 5, batch = 4 }

-- Returns seconds, HA-SME's weak error on the loss, its paired se, path-steps, threads,
-- and the compare result.
local function w5(paths, threads, steps)
  local net, th = w5_problem()
  local res
  local t = timed(function()
    res = hasme.compare { methods = { "sgd", "sme2", "hasme" }, objective = net,
                          noise = hasme.minibatch { batch = W5.batch, gaussian = true },
                          eta = W5.eta, steps = steps or W5.steps, substeps = W5.substeps,
                          x0 = th, paths = paths, seed = 15, threads = threads,
                          psd = "project", observe = { loss = "value", dist2 = "dist2" } }
  end)
  local d, se = res.hasme:weak_error("loss")
  return t, d, se, paths * (steps or W5.steps) * 3, res.hasme.threads, res
end

-- The double well written in Lua (W4): f, grad and hess return numbers (d = 1).
local function lua_well()
  return hasme.objective {
    dim = 1,
    f = function(x) local v = x[1]; return (v * v - 1) ^ 2 / 4 end,
    grad = function(x) local v = x[1]; return v * v * v - v end,
    hess = function(x) local v = x[1]; return 3 * v * v - 1 end,
  }
end

-- }==================================================================

io.stderr:write(("bench: code path %s on %s\n"):format(ISA, CPU))
local rows, extra = {}, {}
local SIZES = quick and { W1 = 100000, W2 = 5000, W3 = 1000, W5 = 5000 }
                     or { W1 = 1000000, W2 = 100000, W3 = 10000, W5 = 100000 }
local threads = hasme.cores()

local function agree(a, sa, b, sb)
  return math.abs(a - b) <= 5 * math.sqrt(sa * sa + sb * sb)
end

local function add(name, t, v, se, steps, th, p)
  local pc = p and p.cpu_seconds or 0 / 0
  rows[#rows + 1] = {
    name, t, p and p.seconds or 0 / 0, p and p.seconds / t or 0 / 0, steps / t, th,
    v, se, p and p.value or 0 / 0, p and p.se or 0 / 0,
    p and (agree(v, se, p.value, p.se) and "yes" or "NO") or "-",
    last_cpu, pc, pc / last_cpu,
  }
  io.stderr:write(("bench: %s done (%.3f s)\n"):format(name, t))
end

local w2res
for _, w in ipairs { "W1", "W2", "W3" } do
  if wanted(w) then
    local n = SIZES[w]
    local f = ({ W1 = w1, W2 = w2, W3 = w3 })[w]
    local t, v, se, steps, th = f(n)
    if w == "W2" then w2res = { t = t, v = v, se = se } end
    add(w, t, v, se, steps, th, peer(w, n))
  end
end

if wanted("W4") then
  local n = SIZES.W2
  local t, v, se, steps, th, r = w2(n, nil, lua_well())
  add("W4", t, v, se, steps, th, nil)
  if not w2res then
    local t2, v2, se2 = w2(n)
    w2res = { t = t2, v = v2, se = se2 }
  end
  extra.w4 = { seconds = t, w2_seconds = w2res.t, slowdown = t / w2res.t,
               worker_states = r.worker_states, agrees_with_w2 = agree(v, se, w2res.v, w2res.se) }
end

if wanted("W5") then
  local n = SIZES.W5
  local t, v, se, steps, th = w5(n)
  local out, code = sh(("%s bench/peer_w5.py %d"):format(PYTHON, n))
  if code ~= 0 then error("bench: the NumPy peer failed on W5:\n" .. out) end
  add("W5", t, v, se, steps, th, json.decode(out))
end

-- {==================================================================
-- Scaling, RNG, memory
-- ===================================================================

local scaling = {}
if wanted("scaling") then
  for _, w in ipairs { "W1", "W2" } do
    local f, n = (w == "W1") and w1 or w2, SIZES[w]
    local t1 = f(n, 1)
    local t2 = f(n, 2)
    scaling[#scaling + 1] = { w, t1, t2, t1 / t2 }
    io.stderr:write(("bench: scaling %s done\n"):format(w))
  end
end

local rng = {}
if wanted("RNG") then
  local out = sh(BUILD .. "/bench/rng_bench")
  for name, ns in out:gmatch("(%S+) (%S+)\n") do rng[name] = tonumber(ns) end
  local p = peer("RNG", 20000000)
  rng.numpy_normal_per_s, rng.numpy_raw_per_s = p.value, p.se
end

-- The lane Jacobi solver alone on W3's Hessians, on every code path the processor
-- supports (bench/eig_bench.c): nanoseconds per 8 x 8 eigendecomposition.
local eig = {}
if wanted("EIG") then
  local out = sh(BUILD .. "/bench/eig_bench")
  for path, ns in out:gmatch("eig_(%S+) (%S+)\n") do eig[#eig + 1] = { path, tonumber(ns) } end
end

local memory
if wanted("memory") then
  -- W1 alone in a fresh process: its peak resident memory against what the
  -- recorded snapshots need (1,000,000 paths x 4 doubles).
  local n = SIZES.W1
  local code = ([[
    local hasme = require "hasme"
    local H = %s
    local C = %s
    local r = hasme.simulate { objective = hasme.quadratic { H = H },
      noise = hasme.gaussian { cov = C }, method = "sgd", eta = 0.05, steps = 100,
      x0 = { 0.5, 0.5, 0.5, 0.5 }, paths = %d, seed = 11 }
    for line in io.lines("/proc/self/status") do
      local kb = line:match("^VmHWM:%%s*(%%d+)")
      if kb then print(kb) end
    end]]):format(json.encode(W1_H):gsub("%[", "{"):gsub("%]", "}"),
                  json.encode(W1_C):gsub("%[", "{"):gsub("%]", "}"), n)
  local tmp = os.tmpname()
  local g = assert(io.open(tmp, "w"))
  g:write(code)
  g:close()
  local out = sh(BUILD .. "/hasme " .. tmp)
  os.remove(tmp)
  local peak = tonumber(out:match("(%d+)")) * 1024
  local snap = n * 4 * 8
  memory = { peak_bytes = peak, snapshot_bytes = snap, limit_bytes = 1.5 * snap + 50e6 }
end

-- W5's peak resident memory in a fresh process for 10^5 and 10^6 paths (10^4 and 10^5
-- with --quick), at T = eta (the memory of a run with observables does not depend on
-- the horizon): flat in the number of paths, since no snapshot is kept.
local memory5
if wanted("memory5") or wanted("W5") then
  local code = [[
    local hasme = require "hasme"
    local n = tonumber(arg[1])
    local N, X, y = 16, {}, {}
    for i = 1, N do
      local x = -2 + 4 * (i - 0.5) / N
      X[i] = { x }
      y[i] = math.sin(1.5 * x) + 0.1 * math.cos(7 * x)
    end
    local net = hasme.nn { X = X, y = y, hidden = 3 }
    local th = {}
    for k = 1, net:dim() do th[k] = 0.5 * math.sin(1.3 * k + 0.4) end
    hasme.compare { methods = { "sgd", "sme2", "hasme" }, objective = net,
      noise = hasme.minibatch { batch = 4, gaussian = true }, eta = 0.1, steps = 1,
      substeps = 5, x0 = th, paths = n, seed = 15, psd = "project",
      observe = { loss = "value", dist2 = "dist2" } }
    for line in io.lines("/proc/self/status") do
      local kb = line:match("^VmHWM:%s*(%d+)")
      if kb then print(kb) end
    end]]
  local tmp = os.tmpname()
  local g = assert(io.open(tmp, "w"))
  g:write(code)
  g:close()
  memory5 = {}
  for _, n in ipairs(quick and { 10000, 100000 } or { 100000, 1000000 }) do
    local out = sh(BUILD .. "/hasme " .. tmp .. " " .. n)
    memory5[#memory5 + 1] = { paths = n, peak_bytes = tonumber(out:match("(%d+)")) * 1024 }
  end
  os.remove(tmp)
  io.stderr:write("bench: W5 memory done\n")
end

-- }==================================================================

-- {==================================================================
-- Report
-- ===================================================================

local peer_desc = peer_runtime and (", NumPy %s, OpenBLAS %s"):format(peer_runtime.numpy_simd,
                                                                     peer_runtime.blas_core) or ""
local main = {
  title = ("hasme against NumPy (%s), %d cores; code path %s%s; %s"):format(
    quick and "quick sizes" or "full sizes", threads, ISA, peer_desc, CPU),
  columns = { "workload", "hasme_s", "numpy_s", "ratio", "path_steps_per_s", "threads",
              "hasme_value", "hasme_se", "numpy_value", "numpy_se", "agree",
              "hasme_cpu_s", "numpy_cpu_s", "cpu_ratio" },
  rows = rows,
  formats = { hasme_s = "%.3f", numpy_s = "%.2f", ratio = "%.1f", path_steps_per_s = "%.3g",
              hasme_value = "%.5g", hasme_se = "%.2g", numpy_value = "%.5g", numpy_se = "%.2g",
              hasme_cpu_s = "%.3f", numpy_cpu_s = "%.2f", cpu_ratio = "%.1f" },
}
print(report.format(main))
if #scaling > 0 then
  print(report.format {
    title = "scaling: seconds with 1 and 2 threads",
    columns = { "workload", "threads_1_s", "threads_2_s", "speedup" },
    rows = scaling,
    formats = { threads_1_s = "%.3f", threads_2_s = "%.3f", speedup = "%.2f" },
  })
end
if rng.normal then
  print(report.format {
    title = "random numbers: nanoseconds per draw (one core)",
    columns = { "draw", "ns", "vs_raw" },
    rows = {
      { "raw PCG64 (one at a time)", rng.raw, 1.0 },
      { "raw PCG64 (hs_pcg_fill)", rng.raw_fill, rng.raw_fill / rng.raw },
      { "normal (hs_normal)", rng.normal, rng.normal / rng.raw },
      { "normal (hs_normal_fill)", rng.normal_fill, rng.normal_fill / rng.raw },
      { "normal (8 interleaved streams)", rng.normal_block8, rng.normal_block8 / rng.raw },
      { "raw PCG64, 8 scalar streams (hs_pcg_fill each)", rng.raw_fill8 or 0 / 0,
        (rng.raw_fill8 or 0 / 0) / rng.raw },
      { "raw PCG64, 8 streams in AVX2 registers", rng.raw_avx2x8 or 0 / 0,
        (rng.raw_avx2x8 or 0 / 0) / rng.raw },
      { "NumPy standard_normal", 1e9 / rng.numpy_normal_per_s, 1e9 / rng.numpy_normal_per_s / rng.raw },
      { "NumPy random_raw", 1e9 / rng.numpy_raw_per_s, 1e9 / rng.numpy_raw_per_s / rng.raw },
    },
    formats = { ns = "%.2f", vs_raw = "%.2f" },
  })
end
if #eig > 0 then
  print(report.format {
    title = "8 x 8 eigendecompositions of W3's Hessians (lane Jacobi, warm-started, one core)",
    columns = { "code_path", "ns_per_matrix" },
    rows = eig,
    formats = { ns_per_matrix = "%.0f" },
  })
end
if memory then
  print(("W1 peak memory: %.1f MB (snapshots %.1f MB; target <= 1.5 x snapshots + 50 MB = %.1f MB)\n")
    :format(memory.peak_bytes / 1e6, memory.snapshot_bytes / 1e6, memory.limit_bytes / 1e6))
end
if memory5 then
  print(("W5 peak memory: %.1f MB at %d paths, %.1f MB at %d paths (no snapshots kept; "
    .. "the snapshots would take %.1f MB at %d paths)\n"):format(
    memory5[1].peak_bytes / 1e6, memory5[1].paths, memory5[2].peak_bytes / 1e6,
    memory5[2].paths, memory5[2].paths * 10 * 8 * 3 / 1e6, memory5[2].paths))
end
if extra.w4 then
  print(("W4 (double well as a Lua objective) %.2f s against W2 %.2f s: %.1fx slower "
    .. "(worker states: %d; mean escape step agrees with W2: %s)\n"):format(
    extra.w4.seconds, extra.w4.w2_seconds, extra.w4.slowdown, extra.w4.worker_states,
    tostring(extra.w4.agrees_with_w2)))
end

local stamp = os.date("!%Y%m%d-%H%M%S")
os.execute("mkdir -p results/bench")
local base = "results/bench/" .. stamp
-- The CSV carries the code path and the processor on every row, so that files from
-- several machines and paths can be concatenated.
local csvt = { columns = {}, rows = {} }
for j, c in ipairs(main.columns) do csvt.columns[j] = c end
csvt.columns[#csvt.columns + 1] = "code_path"
csvt.columns[#csvt.columns + 1] = "numpy_simd"
csvt.columns[#csvt.columns + 1] = "cpu"
for i, r in ipairs(rows) do
  local row = {}
  for j = 1, #main.columns do row[j] = r[j] end
  row[#row + 1] = ISA
  row[#row + 1] = peer_runtime and peer_runtime.numpy_simd or ""
  row[#row + 1] = CPU
  csvt.rows[i] = row
end
report.write(base .. ".csv", report.csv(csvt))
report.write_json(base .. ".json", { table = main, scaling = scaling, rng = rng, memory = memory,
                                     memory_w5 = memory5,
                                     w4 = extra.w4, quick = quick, version = hasme.version,
                                     code_path = ISA, cpu = CPU, peer_runtime = peer_runtime,
                                     eig_ns_per_matrix = eig,
                                     platform = (sh("uname -srm"):gsub("%s+$", "")) })
print("written " .. base .. ".csv and .json")
