-- general_noise_spec.lua: the engine's substep under minibatch noise in dimension 2 to
-- 12 (general_substep in src/core/hs_kernel_general.c), which applies the symmetric
-- square root of each method's diffusion matrix to the step's normals without forming
-- it (hs_sqrt_apply) and takes the gradient, Hessian and minibatch covariance from one
-- pass over the samples. The law must be the per-path code's: one SGD step's mean and
-- covariance, SGD = SME-1 with one Euler substep, and HA-SME's psd clips and errors as
-- the per-path solver counted and reported them. Monte Carlo checks use fixed seeds
-- and 5 standard errors (a correct engine fails one with probability below 1e-6).
local hasme = require "hasme"

local abs, sqrt, max = math.abs, math.sqrt, math.max

-- The network of bench/run.lua's W5: 16 points, 3 hidden units, d = 10.
local function w5net()
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

describe("minibatch noise in dimension 2 to 12", function()
  it("gives one SGD step the mean theta0 - eta grad and covariance eta^2 Sigma", function()
    local net, th = w5net()
    local d, eta, paths = net:dim(), 0.3, 40000
    local nz = hasme.minibatch { batch = 4, gaussian = true }
    local r = hasme.simulate { objective = net, noise = nz, eta = eta, steps = 1, x0 = th,
                               paths = paths, seed = 91 }
    local g, Sigma, S = net:grad(th), nz:cov(th, net):totable(), r:snapshot(1)
    local mean = {}
    for i = 1, d do
      local m = 0.0
      for p = 1, paths do m = m + S[p][i] end
      mean[i] = m / paths
      local want = eta * eta * Sigma[i][i]
      assert(abs(mean[i] - (th[i] - eta * g[i])) < 5 * sqrt(want / paths), ("mean[%d]"):format(i))
    end
    -- every covariance entry: the sample covariance of a Gaussian pair has standard
    -- error sqrt((C_ii C_jj + C_ij^2) / n)
    for i = 1, d do
      for j = 1, i do
        local c = 0.0
        for p = 1, paths do c = c + (S[p][i] - mean[i]) * (S[p][j] - mean[j]) end
        c = c / (paths - 1)
        local cii, cjj = eta * eta * Sigma[i][i], eta * eta * Sigma[j][j]
        local cij = eta * eta * Sigma[i][j]
        local se = sqrt((cii * cjj + cij * cij) / paths)
        assert(abs(c - cij) < 5 * se, ("cov[%d][%d] %g vs %g (se %g)"):format(i, j, c, cij, se))
      end
    end
  end)

  it("gives SGD and SME-1 with one Euler substep the same paths under compare", function()
    local net, th = w5net()
    local res = hasme.compare { objective = net, noise = hasme.minibatch { batch = 5, gaussian = true },
                                methods = { "sgd", "sme1" }, integrator = "euler", substeps = 1,
                                eta = 0.2, steps = 6, x0 = th, paths = 300, seed = 92 }
    local A, B = res.sgd:snapshot(), res.sme1:snapshot()
    local worst = 0.0
    for p = 1, 300 do
      for i = 1, net:dim() do worst = max(worst, abs(A[p][i] - B[p][i]) / max(1, abs(A[p][i]))) end
    end
    assert(worst < 1e-12, ("paths differ by %g"):format(worst))
  end)

  it("clips HA-SME's diffusion as often as the per-path solver did, and reports it alike", function()
    -- The counts and the eigenvalue are those of the engine's former per-path code
    -- (hs_model_eval, hs_factor's eigendecomposition) on this configuration.
    local net, th = w5net()
    local res = hasme.compare { methods = { "sgd", "sme2", "hasme" }, objective = net,
                                noise = hasme.minibatch { batch = 4, gaussian = true }, eta = 0.1,
                                steps = 10, substeps = 5, x0 = th, paths = 2000, seed = 15,
                                threads = 1, psd = "project" }
    assert.are.equal(300026, res.hasme.projected)
    assert.are.equal(0, res.sme2.projected)
    local ok, err = pcall(hasme.simulate, { method = "hasme", objective = net,
                                            noise = hasme.minibatch { batch = 4 }, eta = 0.1,
                                            steps = 10, substeps = 5, x0 = th, paths = 200,
                                            seed = 15, threads = 1, psd = "error" })
    assert.is_false(ok)
    assert.matches("not positive semidefinite at path 1, step 1", err, 1, true)
    local ev = tonumber(err:match("eigenvalue (%S+)%)"))
    assert(ev ~= nil and abs(ev - -9.6809544647142e-06) < 1e-9 * 9.68e-6, err)
  end)
end)
