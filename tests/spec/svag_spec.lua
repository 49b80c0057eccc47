-- svag_spec.lua: SVAG (Z. Li, S. Malladi, S. Arora, "On the validity of modeling SGD
-- with stochastic differential equations (SDEs)", NeurIPS 2021), method = "svag" with
-- svag_l = l: l steps of eta/l per SGD step, each with the gradient
-- c1 g1 + c2 g2, c1,2 = (1 +- sqrt(2l - 1))/2, of two independent noise draws. Its
-- weak error against SME-1 is O(1/l) (O(eta/l) at fixed eta).
--
-- Oracles: on a quadratic with Gaussian noise SVAG is a linear Gaussian recursion: the
-- SGD recursion with learning rate eta/l and noise covariance l Sigma (c1 + c2 = 1,
-- c1^2 + c2^2 = l), so its law at step k is hasme.exact_moments{method = "sgd"} at step
-- k l with those parameters; SME-1's is exact too. With real minibatches, SVAG's path
-- is recomputed here from each path's stream (hasme.rng(seed, path - 1)).
-- Monte Carlo checks use fixed seeds and 5 standard errors.
local hasme = require "hasme"

local abs, sqrt, max, log = math.abs, math.sqrt, math.max, math.log

local mean_se = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./")
                      .. "sim_helpers.lua").mean_se

-- Least-squares slope of log|e| against log h.
local function slope(h, e)
  local n, sx, sy, sxx, sxy = #h, 0.0, 0.0, 0.0, 0.0
  for i = 1, n do
    local x, y = log(h[i]), log(abs(e[i]))
    sx, sy, sxx, sxy = sx + x, sy + y, sxx + x * x, sxy + x * y
  end
  return (n * sxy - sx * sy) / (n * sxx - sx * sx)
end

local H = { { 1.137, 0.383 }, { 0.383, 0.642 } }
local BV = { 0.21, -0.13 }
local SIG = { { 0.613, 0.287 }, { 0.287, 0.468 } }
local X0 = { 0.83, -0.57 }
local ETA, STEPS = 0.2973, 6

-- E|x|^2 = tr C + |m|^2 of a law (mean, cov).
local function second(mean, cov)
  local m, C = mean:totable(), cov:totable()
  return C[1][1] + C[2][2] + m[1] ^ 2 + m[2] ^ 2
end

local function svag_law(l, k)
  local S = {}
  for i = 1, 2 do S[i] = { l * SIG[i][1], l * SIG[i][2] } end
  return hasme.exact_moments { objective = hasme.quadratic { H = H, b = BV }, noise = hasme.gaussian { cov = S },
                               method = "sgd", eta = ETA / l, x0 = X0, step = k * l }
end

local function sme1_law(k)
  return hasme.exact_moments { objective = hasme.quadratic { H = H, b = BV }, noise = hasme.gaussian { cov = SIG },
                               method = "sme1", eta = ETA, x0 = X0, step = k }
end

describe("method = 'svag'", function()
  local function quad() return hasme.quadratic { H = H, b = BV } end

  it("describes itself and needs svag_l", function()
    local r = hasme.simulate { objective = quad(), noise = hasme.gaussian { cov = SIG }, method = "svag",
                               svag_l = 4, eta = ETA, steps = 2, x0 = X0, paths = 10, seed = 1 }
    assert.are.equal("svag", r.method)
    assert.are.equal(4, r.svag_l)
    assert.are.equal("discrete", r.integrator)
    assert.has_error(function()
      hasme.simulate { objective = quad(), method = "svag", eta = ETA, steps = 2, x0 = X0 }
    end, "bad argument #1 to 'simulate' (field 'svag_l': must be given for method 'svag' (its steps of "
      .. "eta / svag_l per step))")
    assert.has_error(function()
      hasme.simulate { objective = quad(), method = "svag", svag_l = 0, eta = ETA, steps = 2, x0 = X0 }
    end, "bad argument #1 to 'simulate' (field 'svag_l': must be in [1, 1000000] (got 0))")
    assert.has_error(function()
      hasme.compare { objective = quad(), noise = hasme.gaussian { cov = SIG }, methods = { "sgd", "svag" },
                      svag_l = 3, substeps = 10, eta = ETA, steps = 2, x0 = X0 }
    end, "compare: method 'svag': coupled runs draw 10 normal vectors per step, which 3 SVAG steps cannot share")
  end)

  it("has its closed form in hasme.exact_moments (SGD's recursion with eta/l, l Sigma, k l)", function()
    for _, l in ipairs { 1, 3 } do
      local m, C = hasme.exact_moments { objective = quad(), noise = hasme.gaussian { cov = SIG }, method = "svag",
                                         svag_l = l, eta = ETA, x0 = X0, step = 4 }
      local m2, C2 = svag_law(l, 4)
      -- c1^2 + c2^2 is l up to rounding
      for i = 1, 2 do
        assert(abs(m[i] - m2[i]) < 1e-14, "mean")
        for j = 1, 2 do assert(abs(C[i][j] - C2[i][j]) < 1e-13 * C2[i][i], "cov") end
      end
    end
    assert.has_error(function()
      hasme.exact_moments { objective = quad(), method = "svag", eta = ETA, x0 = X0, step = 4 }
    end, "bad argument #1 to 'exact_moments' (field 'svag_l': must be given for method 'svag' (its steps of "
      .. "eta / svag_l per step))")
  end)

  it("with l = 1 is SGD", function()
    for _, o in ipairs { quad(), hasme.wells { dim = 2, Q = H } } do
      local a = hasme.simulate { objective = o, noise = hasme.gaussian { cov = SIG }, method = "svag", svag_l = 1,
                                 eta = ETA, steps = STEPS, x0 = X0, paths = 50, seed = 2 }
      local b = hasme.simulate { objective = o, noise = hasme.gaussian { cov = SIG }, method = "sgd",
                                 eta = ETA, steps = STEPS, x0 = X0, paths = 50, seed = 2 }
      local A, B = a:snapshot(), b:snapshot()
      for p = 1, 50 do
        for j = 1, 2 do assert(abs(A[p][j] - B[p][j]) < 1e-13, ("path %d"):format(p)) end
      end
    end
  end)

  for _, l in ipairs { 2, 5 } do
    it(("has the law of its linear recursion on a quadratic (l = %d, 5 SE)"):format(l), function()
      local paths = 40000
      local r = hasme.simulate { objective = quad(), noise = hasme.gaussian { cov = SIG }, method = "svag",
                                 svag_l = l, eta = ETA, steps = STEPS, x0 = X0, paths = paths, seed = 3 + l,
                                 record = { 1, STEPS } }
      for _, k in ipairs { 1, STEPS } do
        local mean, cov = svag_law(l, k)
        local m, C, S = r:mean(k), r:cov(k), cov:totable()
        for i = 1, 2 do
          assert(abs(m[i] - mean[i]) < 5 * sqrt(S[i][i] / paths), ("k = %d mean[%d]"):format(k, i))
          for j = 1, 2 do
            -- SE of a Gaussian sample covariance entry: sqrt((S_ii S_jj + S_ij^2) / n)
            local se = sqrt((S[i][i] * S[j][j] + S[i][j] ^ 2) / paths)
            assert(abs(C[i][j] - S[i][j]) < 5 * se, ("k = %d cov[%d][%d]"):format(k, i, j))
          end
        end
      end
      -- The general kernel (a Lua copy of the quadratic) gives the same paths.
      local lua = hasme.objective { dim = 2,
        f = function(x) return 0.5 * (H[1][1] * x[1] ^ 2 + 2 * H[1][2] * x[1] * x[2] + H[2][2] * x[2] ^ 2)
          + BV[1] * x[1] + BV[2] * x[2] end,
        grad = function(x) return { H[1][1] * x[1] + H[1][2] * x[2] + BV[1], H[2][1] * x[1] + H[2][2] * x[2] + BV[2] } end }
      local g = hasme.simulate { objective = lua, noise = hasme.gaussian { cov = SIG }, method = "svag", svag_l = l,
                                 eta = ETA, steps = STEPS, x0 = X0, paths = 30, seed = 3 + l }
      local A, B = g:snapshot(), r:snapshot(STEPS)
      for p = 1, 30 do
        for j = 1, 2 do assert(abs(A[p][j] - B[p][j]) < 1e-12, ("path %d"):format(p)) end
      end
    end)
  end

  it("has a weak error against SME-1 of order 1/l on a quadratic (closed forms and coupled runs)", function()
    -- The paired spread shrinks like 1/sqrt(l) and the error like 1/l: 80000 paths
    -- put the error at l = 16 about 14 standard errors from zero.
    local N, paths = 32, 80000
    local hs, e, emc = {}, {}, {}
    for i, l in ipairs { 2, 4, 8, 16 } do
      local res = hasme.compare { objective = quad(), noise = hasme.gaussian { cov = SIG }, methods = { "sme1", "svag" },
                                  svag_l = l, substeps = N, eta = ETA, steps = STEPS, x0 = X0, paths = paths,
                                  seed = 40 }
      assert.are.equal("exact", res.sme1.integrator)
      local f = function(x) return x[1] ^ 2 + x[2] ^ 2 end
      local a, b = res.sme1:values(STEPS, f), res.svag:values(STEPS, f)
      local d = {}
      for p = 1, paths do d[p] = b[p] - a[p] end
      local m, se = mean_se(d)
      hs[i] = 1 / l
      e[i] = second(svag_law(l, STEPS)) - second(sme1_law(STEPS))
      emc[i] = m
      assert(abs(m - e[i]) < 5 * se, ("l = %d: weak error %.5g, closed form %.5g, se %.2g"):format(l, m, e[i], se))
      assert(abs(m) > 10 * se, ("l = %d: not resolved (%.3g, se %.3g)"):format(l, m, se))
    end
    assert(abs(slope(hs, e) - 1) < 0.1, ("closed-form order %.3f"):format(slope(hs, e)))
    assert(abs(slope(hs, emc) - 1) < 0.2, ("Monte Carlo order %.3f"):format(slope(hs, emc)))
  end)

  it("has a weak error against SME-1 of order 1/l on coupled double wells", function()
    -- The reference is SME-1 extrapolated (O(dt^2)) with 64 substeps; every run draws
    -- the same 64 normal vectors per step, so differences are paired.
    local N, paths, steps = 64, 20000, 5
    local w = hasme.wells { dim = 2, Q = { { 0.31, 0.14 }, { 0.14, 0.22 } }, tilt = { 0.05, -0.1 } }
    local base = { objective = w, noise = hasme.gaussian { sigma = 0.6 }, eta = 0.25, steps = steps,
                   x0 = { 0.4, -0.3 }, paths = paths, seed = 41, coupled = N }
    local function run(t)
      local o = {}
      for k, v in pairs(base) do o[k] = v end
      for k, v in pairs(t) do o[k] = v end
      return hasme.simulate(o)
    end
    local ref = run { method = "sme1", integrator = "extrapolate", substeps = N }:values(steps)
    local hs, e = {}, {}
    for i, l in ipairs { 2, 4, 8, 16 } do
      local v = run { method = "svag", svag_l = l }:values(steps)
      local d = {}
      for p = 1, paths do d[p] = v[p] - ref[p] end
      local m, se = mean_se(d)
      hs[i], e[i] = 1 / l, m
      assert(abs(m) > 10 * se, ("l = %d: not resolved (%.3g, se %.3g)"):format(l, m, se))
    end
    assert(abs(slope(hs, e) - 1) < 0.2, ("order %.3f (errors %.4g %.4g %.4g %.4g)")
      :format(slope(hs, e), e[1], e[2], e[3], e[4]))
  end)

  it("with real minibatches takes c1 g1 + c2 g2 of two independent batches (path by path)", function()
    -- N = 9 samples, 2 hidden units: d = 9; batches of 3 with replacement.
    local X, Y = {}, {}
    for i = 1, 9 do
      X[i] = { math.cos(2.1 * i + 0.3), math.sin(0.9 * i - 1.2) }
      Y[i] = 0.45 * math.sin(1.9 * i) + 0.11
    end
    local net = hasme.nn { X = X, y = Y, hidden = 2, decay = 0.021 }
    local th = {}
    for k = 1, 9 do th[k] = 0.6 * math.cos(1.13 * k + 0.4) end
    local l, B, eta, steps, paths, seed = 3, 3, 0.137, 2, 12, 43
    local r = hasme.simulate { objective = net, noise = hasme.minibatch { batch = B, replace = true },
                               method = "svag", svag_l = l, eta = eta, steps = steps, x0 = th,
                               paths = paths, seed = seed }
    local q = sqrt(2 * l - 1)
    local c1, c2 = (1 + q) / 2, (1 - q) / 2
    local S = r:snapshot()
    for p = 1, paths do
      local g = hasme.rng(seed, p - 1)
      local x = {}
      for k = 1, 9 do x[k] = th[k] end
      local function batchgrad()
        local s = {}
        for k = 1, 9 do s[k] = 0.0 end
        for _ = 1, B do
          local gi = net:sample_grad(x, g:integer(9))
          for k = 1, 9 do s[k] = s[k] + gi[k] end
        end
        for k = 1, 9 do s[k] = s[k] / B end
        return s
      end
      for _ = 1, steps * l do
        local g1 = batchgrad()
        local g2 = batchgrad()
        for k = 1, 9 do x[k] = x[k] - (eta / l) * (c1 * g1[k] + c2 * g2[k]) end
      end
      for k = 1, 9 do
        assert(abs(S[p][k] - x[k]) < 1e-12 * max(1, abs(x[k])), ("path %d, entry %d"):format(p, k))
      end
    end
    -- Batches draw no normals: under compare, l need not divide the step's normals.
    local res = hasme.compare { objective = net, noise = hasme.minibatch { batch = B, replace = true },
                                methods = { "sgd", "svag" }, svag_l = l, substeps = 10, eta = eta,
                                steps = steps, x0 = th, paths = paths, seed = seed }
    assert.are.equal(l, res.svag.svag_l)
  end)

  it("couples with SGD and the SDE models under the Gaussian minibatch surrogate", function()
    local N = 12
    local X, Y = {}, {}
    for i = 1, N do
      X[i] = { math.sin(1.7 * i + 0.3), math.cos(2.3 * i - 0.1) }
      Y[i] = 0.8 * math.sin(1.3 * i) + 0.05 * i
    end
    local th = {}
    for k = 1, 13 do th[k] = 0.4 * math.sin(0.9 * k + 0.2) end
    local res = hasme.compare { objective = hasme.nn { X = X, y = Y, hidden = 3, decay = 0.013 },
                                noise = hasme.minibatch { batch = 4, gaussian = true },
                                methods = { "sme1", "svag" }, svag_l = 4, substeps = 8, eta = 0.1,
                                steps = 4, x0 = th, paths = 1000, seed = 44 }
    local a, b = res.sme1:values(), res.svag:values()
    local d = {}
    for p = 1, 1000 do d[p] = b[p] - a[p] end
    local _, se = mean_se(d)
    local _, sa = mean_se(a)
    assert(se < 0.2 * sa, ("paired se %.3g, one run's se %.3g"):format(se, sa))
  end)
end)
