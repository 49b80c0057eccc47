-- weak2_spec.lua: weak second-order integration of the SDE models, integrator =
-- "extrapolate" (Talay-Tubaro: 2 E g(Euler, dt) - E g(Euler, 2 dt) on the same
-- Brownian paths, dt = eta / substeps).
--
-- Oracles: an Ornstein-Uhlenbeck process (SME-1 on a quadratic), whose law and whose
-- Euler laws are Gaussian with moments in closed form, and the Benes SDE
-- dX = c tanh(X/c) dt + c dW (SME-1 on f(x) = -c^2 log cosh(x/c) with sigma = c /
-- sqrt(eta)), a non-linear SDE with a closed-form transition density (V. Benes,
-- "Exact finite-dimensional filters for certain diffusions with nonlinear drift",
-- Stochastics 5, 1981): with Y = X/c, Z ~ N(y0, t),
--   E g(X_t) = e^{-t/2} E[g(c Z) cosh Z] / cosh(y0), so
--   E X_t^2  = c^2 [e^{y0} ((y0 + t)^2 + t) + e^{-y0} ((y0 - t)^2 + t)] / (2 cosh y0).
-- The order of the bias in dt is measured on coupled runs: every level draws the same
-- N normal vectors per step (coupled = N) and is compared path by path with a fine
-- reference level, so the Monte Carlo error of a bias estimate shrinks like dt (Euler
-- with additive noise converges strongly with order 1) while the bias shrinks like
-- dt^2. Path counts are chosen so that the smallest bias is more than 10 standard
-- errors from zero; Monte Carlo checks otherwise use 5 standard errors.
local hasme = require "hasme"

local abs, sqrt, exp, log, max = math.abs, math.sqrt, math.exp, math.log, math.max

local function sq(x) return x[1] * x[1] end

local mean_se = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./")
                      .. "sim_helpers.lua").mean_se

-- Per path a - b of two hasme.Vec of values.
local function diff(a, b)
  local t = {}
  for i = 1, #a do t[i] = a[i] - b[i] end
  return t
end

-- The order p of D(h) = C (h^p - href^p), fitted by weighted least squares (weights
-- 1/se^2, C solved in closed form for each p on a grid of step 0.001): the biases
-- D are measured against a reference at step href, whose own bias this model removes.
local function fit_order(h, D, se, href)
  local best, bp = math.huge, nil
  for p = 0.5, 4.0, 0.001 do
    local suu, sud = 0.0, 0.0
    for i = 1, #h do
      local u, w = h[i] ^ p - href ^ p, 1 / se[i] ^ 2
      suu, sud = suu + w * u * u, sud + w * u * D[i]
    end
    local C, sse = sud / suu, 0.0
    for i = 1, #h do
      local u = h[i] ^ p - href ^ p
      sse = sse + (D[i] - C * u) ^ 2 / se[i] ^ 2
    end
    if sse < best then best, bp = sse, p end
  end
  return bp
end

describe("integrator = 'extrapolate' on an Ornstein-Uhlenbeck process", function()
  -- SME-1 on f = lambda x^2 / 2 with sigma: dX = -lambda X dt + sqrt(eta) sigma dW.
  local LAM, SIG, ETA, X0, STEPS = 1.0, 0.5, 0.5, 1.5, 4
  local T = ETA * STEPS
  local q = hasme.quadratic { H = { { LAM } } }
  local noise = hasme.gaussian { sigma = SIG }

  -- E X_T^2: exact, and of Euler with step h (a linear Gaussian recursion).
  local exact = X0 ^ 2 * exp(-2 * LAM * T) + ETA * SIG ^ 2 * (1 - exp(-2 * LAM * T)) / (2 * LAM)
  local function euler(h)
    local a, n = 1 - LAM * h, math.floor(T / h + 0.5)
    return a ^ (2 * n) * X0 ^ 2 + ETA * h * SIG ^ 2 * (1 - a ^ (2 * n)) / (1 - a * a)
  end
  local function extrap(m) return 2 * euler(ETA / m) - euler(2 * ETA / m) end

  local function run(m, paths, coupled)
    return hasme.simulate { objective = q, noise = noise, method = "sme1", integrator = "extrapolate",
                            substeps = m, coupled = coupled, eta = ETA, steps = STEPS, x0 = { X0 },
                            paths = paths, seed = 23 }
  end

  it("estimates 2 E_{dt/2} - E_{dt} and reports E_{dt/2} - E_{dt} (closed forms, 5 SE)", function()
    local r = run(4, 100000)
    assert.are.equal("extrapolate", r.integrator)
    assert.are.equal(4, r.substeps)
    assert.are.equal(2, r.coarse_substeps)
    assert.are.equal("linear", r.kernel)
    local m, se = mean_se(r:values(STEPS, sq))
    assert(abs(m - extrap(4)) < 5 * se, ("E X^2 %.6g, closed form %.6g, se %.3g"):format(m, extrap(4), se))
    local b, bse = r:dt_bias(STEPS, sq)
    local want = euler(ETA / 4) - euler(ETA / 2)
    assert(abs(b - want) < 5 * bse, ("dt_bias %.6g, closed form %.6g, se %.3g"):format(b, want, bse))
    -- The extrapolated mean is 2 mean(fine) - mean(coarse), the mean of the per-path
    -- estimator; Euler's mean is (1 - lambda h)^n x0.
    local mu = r:mean(STEPS)[1]
    local xm, xse = mean_se(r:values(STEPS, function(x) return x[1] end))
    assert(abs(mu - xm) < 1e-12)
    local a4, a2 = (1 - LAM * ETA / 4) ^ (4 * STEPS), (1 - LAM * ETA / 2) ^ (2 * STEPS)
    assert(abs(mu - (2 * a4 - a2) * X0) < 5 * xse, ("mean %.6g, closed form %.6g"):format(mu, (2 * a4 - a2) * X0))
    -- Snapshots exist for each run, not for the extrapolation.
    local fine, coarse = r:snapshot(STEPS), r:snapshot(STEPS, "coarse")
    assert.are.equal(100000, fine:rows())
    assert.are.equal(100000, coarse:rows())
    assert.are.equal(r.fine:snapshot(STEPS)[7][1], fine[7][1])
    assert.are.equal(r.coarse:snapshot(STEPS)[7][1], coarse[7][1])
  end)

  it("has a bias of order 2 in dt (fitted within 0.2), Euler alone of order 1 #slow", function()
    local N, paths = 64, 200000
    local ref = run(N, paths, N)
    local reff = ref.fine:values(STEPS, sq)
    local refx = ref:values(STEPS, sq)
    local h, D, se, De, see = {}, {}, {}, {}, {}
    for i, m in ipairs { 4, 8, 16 } do
      local r = run(m, paths, N)
      h[i] = ETA / m
      -- extrapolated: bias against the reference, plus the reference's own (closed form)
      D[i], se[i] = mean_se(diff(r:values(STEPS, sq), refx))
      local want = extrap(m) - extrap(N)
      assert(abs(D[i] - want) < 5 * se[i], ("m = %d: %.4g vs %.4g (se %.2g)"):format(m, D[i], want, se[i]))
      assert(abs(D[i]) > 10 * se[i], ("m = %d: bias not resolved (%.3g, se %.3g)"):format(m, D[i], se[i]))
      -- Euler alone (the fine run)
      De[i], see[i] = mean_se(diff(r.fine:values(STEPS, sq), reff))
    end
    local p = fit_order(h, D, se, ETA / N)
    assert(abs(p - 2) < 0.2, ("extrapolated order %.3f"):format(p))
    local pe = fit_order(h, De, see, ETA / N)
    assert(abs(pe - 1) < 0.2, ("Euler order %.3f"):format(pe))
    -- The closed forms agree: the extrapolated bias against the exact law is O(dt^2).
    assert(abs(extrap(16) - exact) < 0.3 * (ETA / 16) ^ 2, extrap(16) - exact)
  end)
end)

describe("integrator = 'extrapolate' on the Benes SDE (non-linear drift)", function()
  local C, ETA = 1.0, 1.0
  local SIG = C / sqrt(ETA)
  local lcosh, tanh = function(u) return abs(u) + log((1 + exp(-2 * abs(u))) / 2) end, math.tanh
  -- Callbacks run on worker states: locals only.
  local function benes()
    local c, lc, th = C, lcosh, tanh
    return hasme.objective { dim = 1,
      f = function(x) return -c * c * lc(x[1] / c) end,
      grad = function(x) return { -c * th(x[1] / c) } end }
  end
  local function exact2(x0, t)
    local y0 = x0 / C
    return C ^ 2 * (exp(y0) * ((y0 + t) ^ 2 + t) + exp(-y0) * ((y0 - t) ^ 2 + t)) / (2 * math.cosh(y0))
  end
  local function run(m, paths, coupled, x0)
    return hasme.simulate { objective = benes(), noise = hasme.gaussian { sigma = SIG }, method = "sme1",
                            integrator = "extrapolate", substeps = m, coupled = coupled, eta = ETA,
                            steps = 1, x0 = { x0 }, paths = paths, seed = 29 }
  end

  it("gives the closed-form second moment (5 SE)", function()
    for _, x0 in ipairs { 0.0, 0.7 } do
      local r = run(16, 40000, nil, x0)
      assert.are.equal("general", r.kernel)
      local m, se = mean_se(r:values(1, sq))
      assert(abs(m - exact2(x0, ETA)) < 5 * se,
        ("x0 = %g: E X^2 %.5g, closed form %.5g, se %.3g"):format(x0, m, exact2(x0, ETA), se))
    end
  end)

  it("has a bias of order 2 in dt (fitted within 0.2) #slow", function()
    local N, paths = 32, 200000
    local refx = run(N, paths, N, 0.0):values(1, sq)
    local h, D, se = {}, {}, {}
    for i, m in ipairs { 2, 4, 8 } do
      h[i] = ETA / m
      D[i], se[i] = mean_se(diff(run(m, paths, N, 0.0):values(1, sq), refx))
      assert(abs(D[i]) > 10 * se[i], ("m = %d: bias not resolved (%.3g, se %.3g)"):format(m, D[i], se[i]))
    end
    local p = fit_order(h, D, se, ETA / N)
    assert(abs(p - 2) < 0.2, ("extrapolated order %.3f (biases %.4g %.4g %.4g)"):format(p, D[1], D[2], D[3]))
  end)
end)

describe("integrator = 'extrapolate' with the other methods and options", function()
  local w = hasme.wells { dim = 2, Q = { { 0.3, 0.1 }, { 0.1, 0.2 } } }
  local base = { objective = w, noise = hasme.gaussian { sigma = 0.4 }, eta = 0.1, steps = 5,
                 x0 = { 0.4, -0.3 }, paths = 200, seed = 31 }
  local function opts(t)
    local o = {}
    for k, v in pairs(base) do o[k] = v end
    for k, v in pairs(t) do o[k] = v end
    return o
  end

  it("applies to SME-2 and HA-SME, and leaves SGD and SVAG (recursions) alone", function()
    for _, m in ipairs { "sme2", "hasme" } do
      local r = hasme.simulate(opts { method = m, integrator = "extrapolate", substeps = 6 })
      assert.are.equal("extrapolate", r.integrator)
      assert.are.equal(3, r.coarse_substeps)
      -- the fine run is Euler with 6 substeps, path by path
      local e = hasme.simulate(opts { method = m, integrator = "euler", substeps = 6 })
      assert.are.same(e:snapshot():totable(), r:snapshot():totable())
    end
    local s = hasme.simulate(opts { method = "sgd", integrator = "extrapolate" })
    assert.are.equal("discrete", s.integrator)
  end)

  it("couples under compare: SGD and the extrapolated models share the Brownian increments", function()
    local res = hasme.compare(opts { methods = { "sgd", "sme1" }, integrator = "extrapolate", substeps = 8,
                                     paths = 2000 })
    local a, b = res.sgd:values(), res.sme1:values()
    local dm, dse = mean_se(diff(b, a))
    local _, sa = mean_se(a)
    assert(dse < 0.1 * sa * sqrt(2), ("paired se %.3g, unpaired about %.3g"):format(dse, sa * sqrt(2)))
    assert(dm == dm)
  end)

  it("rejects an odd number of substeps, escape criteria and bad coupling", function()
    local P = "bad argument #1 to 'simulate' ("
    assert.has_error(function() hasme.simulate(opts { method = "sme1", integrator = "extrapolate", substeps = 5 }) end,
      P .. "field 'substeps': integrator 'extrapolate' needs an even number of substeps, at least 2 (got 5))")
    assert.has_error(function()
      hasme.simulate(opts { method = "sme1", integrator = "extrapolate", escape = hasme.escape.ball_exit({ 0, 0 }, 3) })
    end, P .. "field 'escape': not available with integrator 'extrapolate' (extrapolation applies to "
      .. "expectations at fixed times, not to escape times))")
    assert.has_error(function()
      hasme.simulate(opts { method = "sme1", integrator = "extrapolate", substeps = 4, coupled = 6 })
    end, P .. "field 'coupled': 6 normal vectors per step cannot drive 4 substeps)")
  end)
end)
