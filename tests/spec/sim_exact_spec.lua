-- sim_exact_spec.lua: hasme.exact_moments against the oracles, and hasme.simulate
-- against the closed-form laws of every method on quadratics.
local H = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "sim_helpers.lua")
-- Callbacks that run on worker threads are copied with their upvalues; busted's test
-- environment (_ENV) cannot be, so callbacks meant for workers use only locals.
local hasme = H.hasme
local abs = H.abs
local error = H.error
local relerr = H.relerr
local ETA = H.ETA
local HMIN = H.HMIN
local HSAD = H.HSAD
local BVEC = H.BVEC
local X0 = H.X0
local SIGMA = H.SIGMA
local SCOV = H.SCOV
local CASES = H.CASES
local objective_of = H.objective_of
local noise_of = H.noise_of
local oracle = H.oracle
local deviation = H.deviation
local assert_law = H.assert_law

describe("hasme.exact_moments", function()
  local STEPS = { 1, 5, 20, 60 }
  for _, case in ipairs(CASES) do
    describe(case.name, function()
      for _, method in ipairs { "sgd", "sme1", "sme2", "hasme" } do
        it(("%s matches the independently computed moments to 1e-10"):format(method), function()
          local q, nz = objective_of(case), noise_of(case)
          local means, covs = oracle(method, case, ETA, X0, 60)
          for _, k in ipairs(STEPS) do
            local m, C = hasme.exact_moments { objective = q, noise = nz, method = method,
                                               eta = ETA, x0 = X0, step = k }
            local em, ec = relerr(m, means[k]), relerr(C, covs[k])
            assert(em < 1e-10, ("%s mean at step %d: relative error %.3g"):format(method, k, em))
            assert(ec < 1e-10, ("%s cov at step %d: relative error %.3g"):format(method, k, ec))
          end
        end)
      end

      it("gives HA-SME the law of SGD at every step to 1e-12 (docs/methods.md section 6)",
         function()
        local q, nz = objective_of(case), noise_of(case)
        for _, k in ipairs { 0, 1, 2, 7, 20, 60 } do
          local opts = { objective = q, noise = nz, eta = ETA, x0 = X0, step = k }
          opts.method = "sgd"
          local ms, cs = hasme.exact_moments(opts)
          opts.method = "hasme"
          local mh, ch = hasme.exact_moments(opts)
          assert(relerr(mh, ms) < 1e-12, ("mean at step %d: %.3g"):format(k, relerr(mh, ms)))
          if k > 0 then
            assert(relerr(ch, cs) < 1e-12, ("cov at step %d: %.3g"):format(k, relerr(ch, cs)))
          end
        end
      end)
    end)
  end

  it("gives x0 (to rounding) and a zero covariance at step 0 for every method", function()
    local q = hasme.quadratic { H = HMIN, b = BVEC }
    for _, method in ipairs { "sgd", "sme1", "sme2", "hasme" } do
      local m, C = hasme.exact_moments { objective = q, noise = hasme.gaussian { cov = SCOV },
                                         method = method, eta = ETA, x0 = X0, step = 0 }
      assert(relerr(m, X0) < 1e-15, method)
      assert.are.same({ { 0, 0 }, { 0, 0 } }, C:totable())
    end
  end)

  it("gives the noiseless flow, with zero covariance, when there is no noise", function()
    -- Without noise every model is a deterministic linear flow: covariance 0.
    local q = hasme.quadratic { H = HSAD, b = BVEC }
    local case = { H = HSAD, b = BVEC, noise = { sigma = 0 } }
    for _, method in ipairs { "sgd", "sme1", "sme2", "hasme" } do
      local m, C = hasme.exact_moments { objective = q, method = method, eta = ETA, x0 = X0,
                                         step = 13 }
      local means = oracle(method, case, ETA, X0, 13)
      assert(relerr(m, means[13]) < 1e-10, method)
      assert.are.equal(0, C:norm())
    end
  end)

  it("gives the stationary variances of docs/methods.md section 6 (SME-1 and SME-2 are "
     .. "not exact)",
    function()
      -- Along the eigenvector v of lambda = 1.3455 (z = eta lambda = 0.4) with
      -- Sigma = s^2 I the stationary variances are SGD's eta s^2 / (lambda (2 - z)),
      -- SME-1's eta s^2 / (2 lambda) and SME-2's eta s^2 / (lambda (2 + z)). At step 200
      -- every transient is below 1e-30 of them.
      local q, nz = hasme.quadratic { H = HMIN }, hasme.gaussian { sigma = SIGMA }
      local w, V = hasme.eig(HMIN)
      local lam, v = w[2], V:col(2)
      local z = ETA * lam
      local want = {
        sgd = ETA * SIGMA ^ 2 / (lam * (2 - z)),
        hasme = ETA * SIGMA ^ 2 / (lam * (2 - z)),
        sme1 = ETA * SIGMA ^ 2 / (2 * lam),
        sme2 = ETA * SIGMA ^ 2 / (lam * (2 + z)),
      }
      for method, var in pairs(want) do
        local _, C = hasme.exact_moments { objective = q, noise = nz, method = method,
                                           eta = ETA, x0 = X0, step = 200 }
        local got = v:dot(C * v)
        assert(abs(got - var) < 1e-12 * var, ("%s: %.17g vs %.17g"):format(method, got, var))
      end
      assert(want.sme1 / want.sgd < 0.81 and want.sme2 / want.sgd < 0.67)
    end)
end)

describe("hasme.exact_moments errors", function()
  local P = "bad argument #1 to 'exact_moments' ("
  local function em(changes)
    return function()
      local o = { objective = hasme.quadratic { H = HMIN, b = BVEC }, noise = hasme.gaussian { cov = SCOV },
                  method = "sgd", eta = ETA, x0 = X0, step = 3 }
      for k, v in pairs(changes) do
        if v == "nil" then o[k] = nil else o[k] = v end
      end
      return hasme.exact_moments(o)
    end
  end

  it("rejects what has no closed form", function()
    assert.has_error(em { objective = hasme.wells { dim = 2 } },
      P .. "field 'objective': closed forms exist for quadratics (hasme.quadratic) only)")
    assert.has_error(em { noise = hasme.gaussian { cov = function() return SCOV end } },
      P .. "field 'noise': closed forms need constant Gaussian noise)")
    assert.has_error(em { noise = hasme.minibatch { batch = 2 } },
      P .. "field 'noise': closed forms need constant Gaussian noise)")
  end)

  it("rejects missing and bad options", function()
    assert.has_error(em { objective = "nil" }, P .. "field 'objective': hasme.Objective expected, got nil)")
    assert.has_error(em { step = "nil" }, P .. "field 'step': integer expected, got nil)")
    assert.has_error(em { step = -1 }, P .. "field 'step': must be at least 0 (got -1))")
    assert.has_error(em { eta = -0.5 }, P .. "field 'eta': must be positive and finite (got -0.5))")
    assert.has_error(em { x0 = "nil" }, P .. "field 'x0': vector expected, got nil)")
    assert.has_error(em { x0 = { 1 } }, P .. "field 'x0': vector of length 2 expected, got length 1)")
    assert.has_error(em { noise = hasme.gaussian { cov = { { 1 } } } },
      P .. "field 'noise': noise of dimension 1 used with dimension 2)")
    assert.has_error(em { method = "adam" },
      P .. "field 'method': expected 'sgd', 'sme1', 'sme2', 'hasme' or 'svag', got 'adam')")
    assert.has_error(em { paths = 3 }, P .. "unknown option 'paths' (valid: 'objective', 'noise', "
      .. "'method', 'eta', 'x0', 'step', 'psd', 'psd_tol' or 'svag_l'))")
  end)

  it("says that eta is missing as simulate does", function()
    -- A missing eta is not a given eta of 0.
    assert.has_error(em { eta = "nil" }, P .. "field 'eta': number expected, got nil)")
  end)
end)

describe("hasme.simulate against the closed forms", function()
  local PATHS = 100000
  local RECORD = { 5, 20, 60 }
  local MC = {
    { "minimum, isotropic noise, b = 0", HMIN, nil, { sigma = SIGMA }, 101 },
    { "minimum, correlated noise, b != 0", HMIN, BVEC, { cov = SCOV }, 202 },
    { "saddle, isotropic noise, b != 0", HSAD, BVEC, { sigma = SIGMA }, 303 },
    { "saddle, correlated noise, b = 0", HSAD, nil, { cov = SCOV }, 404 },
  }
  for _, mc in ipairs(MC) do
    local case = { H = mc[2], b = mc[3], noise = mc[4] }
    describe(mc[1], function()
      local sgd_means, sgd_covs = oracle("sgd", case, ETA, X0, 60)

      local function run(method, seed)
        return hasme.simulate { objective = objective_of(case), noise = noise_of(case),
                                method = method, eta = ETA, steps = 60, x0 = X0,
                                paths = PATHS, seed = seed, record = RECORD }
      end

      it("SGD has the law of the moment recursion at steps 5, 20, 60 (5 SE)", function()
        local r = run("sgd", mc[5])
        assert.are.equal("linear", r.kernel)
        for _, k in ipairs(RECORD) do assert_law(r, k, sgd_means[k], sgd_covs[k], "sgd") end
      end)

      it("HA-SME with the exact integrator has SGD's law (5 SE)", function()
        local r = run("hasme", mc[5] + 1)
        assert.are.equal("exact", r.integrator)
        for _, k in ipairs(RECORD) do assert_law(r, k, sgd_means[k], sgd_covs[k], "hasme") end
      end)

      for i, method in ipairs { "sme1", "sme2" } do
        it(("%s (exact) has its own law, more than 20 SE away from SGD's"):format(method),
          function()
            local means, covs = oracle(method, case, ETA, X0, 60)
            local r = run(method, mc[5] + 1 + i)
            assert.are.equal("exact", r.integrator)
            for _, k in ipairs(RECORD) do assert_law(r, k, means[k], covs[k], method) end
            -- The same sample measured against SGD's law at step 60.
            local z = deviation(r, 60, sgd_means[60], sgd_covs[60])
            assert(z > 20, ("%s is only %.1f SE from SGD"):format(method, z))
          end)
      end
    end)
  end
end)
