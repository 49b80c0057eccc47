-- minibatch_gaussian_spec.lua: the Gaussian surrogate of minibatch noise,
-- hasme.minibatch{batch = B, gaussian = true}: SGD's gradient noise is N(0, Sigma(x))
-- with Sigma(x) the minibatch covariance (per-sample gradient covariance / B, with the
-- finite-population factor without replacement), drawn from normals, so that compare
-- couples it with the SDE models. Monte Carlo checks use fixed seeds and 5 standard
-- errors of the estimate (a correct engine fails one with probability below 1e-6).
local hasme = require "hasme"

local abs, sqrt, max = math.abs, math.sqrt, math.max

-- A fixed dataset of N = 12 points in R^2 and a 3-unit network: d = 13 parameters.
local N = 12
local X, Y = {}, {}
for i = 1, N do
  X[i] = { math.sin(1.7 * i + 0.3), math.cos(2.3 * i - 0.1) }
  Y[i] = 0.8 * math.sin(1.3 * i) + 0.05 * i
end
local THETA = {}
for k = 1, 13 do THETA[k] = 0.4 * math.sin(0.9 * k + 0.2) end
local D = 13
local E = 0.173

local function net() return hasme.nn { X = X, y = Y, hidden = 3, decay = 0.013 } end

-- Mean, variance and (excess) kurtosis of a list.
local function moments(v)
  local n, m = #v, 0.0
  for i = 1, n do m = m + v[i] end
  m = m / n
  local s2, s4 = 0.0, 0.0
  for i = 1, n do
    local c = (v[i] - m) ^ 2
    s2, s4 = s2 + c, s4 + c * c
  end
  s2, s4 = s2 / n, s4 / n
  return m, s2, s4 / (s2 * s2) - 3
end

local function sd(v)
  local _, s2 = moments(v)
  return sqrt(s2 * #v / (#v - 1))
end

describe("hasme.minibatch{gaussian = true}", function()
  it("describes itself and has the covariance of the minibatch", function()
    local g = hasme.minibatch { batch = 4, gaussian = true }
    assert.are.equal("gaussian_minibatch", g:kind())
    assert.are.equal("hasme.Noise(gaussian minibatch, batch=4, without replacement)", tostring(g))
    assert.are.equal("hasme.Noise(gaussian minibatch, batch=3, with replacement)",
      tostring(hasme.minibatch { batch = 3, replace = true, gaussian = true }))
    -- gaussian = false is the real minibatch.
    assert.are.equal("minibatch", hasme.minibatch({ batch = 4, gaussian = false }):kind())
    for _, replace in ipairs { true, false } do
      local a = hasme.minibatch({ batch = 4, replace = replace, gaussian = true }):cov(THETA, net())
      local b = hasme.minibatch({ batch = 4, replace = replace }):cov(THETA, net())
      assert.are.same(b:totable(), a:totable())
    end
  end)

  it("rejects a gaussian option that is not a boolean", function()
    assert.has_error(function() hasme.minibatch { batch = 2, gaussian = "yes" } end,
      "bad argument #1 to 'minibatch' (field 'gaussian': boolean expected, got string)")
    assert.has_error(function() hasme.minibatch { batch = 2, gaussian = 1 } end,
      "bad argument #1 to 'minibatch' (field 'gaussian': boolean expected, got number)")
  end)

  it("needs a finite-sum objective, as the real minibatch does", function()
    local q = hasme.quadratic { H = { { 1, 0 }, { 0, 2 } } }
    assert.has_error(function()
      hasme.simulate { objective = q, noise = hasme.minibatch { batch = 2, gaussian = true },
                       eta = 0.1, steps = 2, x0 = { 1, 2 } }
    end, "bad argument #1 to 'simulate' (field 'noise': minibatch noise needs a finite-sum "
      .. "objective (such as hasme.nn))")
  end)

  it("gives one SGD step the mean theta0 - eta grad, covariance eta^2 Sigma and Gaussian tails", function()
    local nz = hasme.minibatch { batch = 4, gaussian = true }
    local paths = 40000
    local r = hasme.simulate { objective = net(), noise = nz, eta = E, steps = 1, x0 = THETA,
                               paths = paths, seed = 81 }
    local g = net():grad(THETA)
    local Sigma = nz:cov(THETA, net()):totable()
    local S = r:snapshot(1)
    for i = 1, D do
      local col = {}
      for p = 1, paths do col[p] = S[p][i] end
      local m, v, k = moments(col)
      local want = E * E * Sigma[i][i]
      -- mean: SE sqrt(C_ii / n); variance of a Gaussian sample: SE C_ii sqrt(2 / n);
      -- excess kurtosis of a Gaussian sample: SE sqrt(24 / n).
      assert(abs(m - (THETA[i] - E * g[i])) < 5 * sqrt(want / paths), ("mean[%d]"):format(i))
      assert(abs(v - want) < 5 * want * sqrt(2 / paths), ("var[%d] %g vs %g"):format(i, v, want))
      assert(abs(k) < 5 * sqrt(24 / paths), ("kurtosis[%d] %g"):format(i, k))
    end
    -- The real minibatch (four of twelve samples) is visibly not Gaussian along some
    -- coordinate: this is what the surrogate changes.
    local rr = hasme.simulate { objective = net(), noise = hasme.minibatch { batch = 4 }, eta = E,
                                steps = 1, x0 = THETA, paths = paths, seed = 81 }
    local R, worst = rr:snapshot(1), 0.0
    for i = 1, D do
      local col = {}
      for p = 1, paths do col[p] = R[p][i] end
      local _, _, k = moments(col)
      worst = max(worst, abs(k))
    end
    assert(worst > 10 * sqrt(24 / paths), ("largest |excess kurtosis| of the real minibatch %g"):format(worst))
  end)

  it("gives SGD and SME-1 with one Euler substep the same paths under compare", function()
    -- One Euler step per eta of SME-1 is Gaussian SGD with the same covariance
    -- (docs/methods.md section 5): coupled, every path agrees to rounding.
    local res = hasme.compare { objective = net(), noise = hasme.minibatch { batch = 5, gaussian = true },
                                methods = { "sgd", "sme1" }, integrator = "euler", substeps = 1,
                                eta = E, steps = 6, x0 = THETA, paths = 300, seed = 82 }
    local A, B = res.sgd:snapshot(), res.sme1:snapshot()
    local worst = 0.0
    for p = 1, 300 do
      for i = 1, D do worst = max(worst, abs(A[p][i] - B[p][i]) / max(1, abs(A[p][i]))) end
    end
    assert(worst < 1e-12, ("paths differ by %g"):format(worst))
  end)

  it("couples SGD with the SDE models: paired differences spread far less than unpaired ones", function()
    local paths = 1500
    local res = hasme.compare { objective = net(), noise = hasme.minibatch { batch = 4, gaussian = true },
                                methods = { "sgd", "sme1", "sme2" }, substeps = 8, eta = 0.1,
                                steps = 5, x0 = THETA, paths = paths, seed = 83 }
    local fs = res.sgd:values()
    for _, m in ipairs { "sme1", "sme2" } do
      local fm = res[m]:values()
      local diff, a, b = {}, {}, {}
      for p = 1, paths do diff[p], a[p], b[p] = fm[p] - fs[p], fs[p], fm[p] end
      local ratio = sd(diff) / sqrt(sd(a) ^ 2 + sd(b) ^ 2)
      assert(ratio < 0.2, ("%s: paired/unpaired spread of the loss %.3f"):format(m, ratio))
    end
  end)

  it("gives the same results with 1, 2 and 3 threads", function()
    local function run(t)
      return hasme.simulate { objective = net(), noise = hasme.minibatch { batch = 3, gaussian = true },
                              eta = E, steps = 4, x0 = THETA, paths = 37, seed = 84, threads = t }
        :snapshot():totable()
    end
    local one = run(1)
    assert.are.same(one, run(2))
    assert.are.same(one, run(3))
  end)
end)
