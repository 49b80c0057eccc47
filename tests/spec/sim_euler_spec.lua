-- sim_euler_spec.lua: Euler-Maruyama paths: HA-SME's Euler law, the general kernel
-- against the linear kernel, minibatch SGD on hasme.nn.
local H = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "sim_helpers.lua")
-- Callbacks that run on worker threads are copied with their upvalues; busted's test
-- environment (_ENV) cannot be, so callbacks meant for workers use only locals.
local hasme = H.hasme
local abs = H.abs
local sqrt = H.sqrt
local max = H.max
local error = H.error
local lincomb = H.lincomb
local flat = H.flat
local ETA = H.ETA
local HMIN = H.HMIN
local HSAD = H.HSAD
local BVEC = H.BVEC
local X0 = H.X0
local SIGMA = H.SIGMA
local SCOV = H.SCOV
local sigma_matrix = H.sigma_matrix
local objective_of = H.objective_of
local noise_of = H.noise_of
local sgd_recursion = H.sgd_recursion
local ou_coefficients = H.ou_coefficients
local euler_moments = H.euler_moments
local assert_law = H.assert_law

describe("Euler-Maruyama for HA-SME", function()
  -- The Euler law is computed by the moment recursion of one substep; the simulation
  -- must match it for every m (5 SE), and the law must approach SGD's like 1/m.
  local PROBLEMS = {
    { "1-d", { { 1.383 } }, { 0.317 }, { sigma = 0.742 }, { 1.471 }, 0.2893, 510 },
    { "2-d, non-commuting noise", HMIN, BVEC, { cov = SCOV }, X0, ETA, 520 },
  }
  local K = 10
  for _, p in ipairs(PROBLEMS) do
    local case = { H = p[2], b = p[3], noise = p[4] }
    local x0, eta = p[5], p[6]
    local Sigma = sigma_matrix(case.noise, #case.H)
    local M, c0, DD = ou_coefficients("hasme", case.H, case.b, Sigma, eta)

    it(("matches the exact Euler law for m = 1, 2, 4, 8, 16 substeps (%s)"):format(p[1]),
      function()
        for m = 0, 4 do
          local substeps = 1 << m
          local means, covs = euler_moments(M, c0, DD, eta, x0, K, substeps)
          local r = hasme.simulate { objective = objective_of(case), noise = noise_of(case),
                                     method = "hasme", integrator = "euler",
                                     substeps = substeps, eta = eta, steps = K, x0 = x0,
                                     paths = 100000, seed = p[7] + m, record = { 3, K } }
          assert.are.equal("euler", r.integrator)
          assert.are.equal(substeps, r.substeps)
          assert_law(r, 3, means[3], covs[3], ("m = %d"):format(substeps))
          assert_law(r, K, means[K], covs[K], ("m = %d"):format(substeps))
        end
      end)

    it(("approaches SGD's covariance like 1/m (%s)"):format(p[1]), function()
      local _, sgd_covs = sgd_recursion(case.H, case.b, Sigma, eta, x0, K)
      local errs = {}
      for m = 0, 5 do
        local _, covs = euler_moments(M, c0, DD, eta, x0, K, 1 << m)
        local d = 0.0
        for _, e in ipairs(flat(lincomb(1, covs[K], -1, sgd_covs[K]))) do d = d + e * e end
        errs[m] = sqrt(d)
      end
      for m = 1, 5 do
        local ratio = errs[m - 1] / errs[m]
        assert(ratio > 1.6 and ratio < 2.4,
          ("error ratio %.3f from m = %d to m = %d"):format(ratio, 1 << (m - 1), 1 << m))
      end
    end)
  end
end)

describe("the general kernel against the linear kernel", function()
  -- f = 1/2 x'Hx + b'x written in Lua: run through the general kernel (per path,
  -- per substep, callbacks), it must reproduce the linear kernel's paths to rounding.
  local function lua_quadratic(H, b)
    local d = #H
    return hasme.objective {
      dim = d,
      f = function(x)
        local s = 0.0
        for i = 1, d do
          local hx = 0.0
          for j = 1, d do hx = hx + H[i][j] * x[j] end
          s = s + x[i] * (0.5 * hx + (b and b[i] or 0))
        end
        return s
      end,
      grad = function(x)
        local g = {}
        for i = 1, d do
          local s = b and b[i] or 0
          for j = 1, d do s = s + H[i][j] * x[j] end
          g[i] = s
        end
        return g
      end,
      hess = function() return H end,
    }
  end

  -- max over paths and coordinates of |a - b| / max(1, |b|) at step k.
  local function pathdiff(a, b, k)
    local A, B = a:snapshot(k), b:snapshot(k)
    local worst = 0.0
    for i = 1, A:rows() do
      local ra, rb = A[i], B[i]
      for j = 1, A:cols() do worst = max(worst, abs(ra[j] - rb[j]) / max(1, abs(rb[j]))) end
    end
    return worst
  end

  local CASES6 = {
    { "sgd, 2-d, correlated noise", "sgd", HMIN, BVEC, { cov = SCOV }, X0 },
    { "sme1, 2-d, correlated noise", "sme1", HMIN, BVEC, { cov = SCOV }, X0 },
    { "sme2, 2-d, correlated noise", "sme2", HSAD, BVEC, { cov = SCOV }, X0 },
    { "hasme, 1-d", "hasme", { { 1.383 } }, { 0.317 }, { sigma = 0.742 }, { 1.471 } },
    { "hasme, 2-d, isotropic noise", "hasme", HMIN, nil, { sigma = SIGMA }, X0 },
    { "hasme, 2-d saddle, correlated noise", "hasme", HSAD, BVEC, { cov = SCOV }, X0 },
    { "hasme, 2-d saddle without noise", "hasme", HSAD, BVEC, nil, X0 },
  }
  for _, c in ipairs(CASES6) do
    it(("reproduces the built-in quadratic path by path to 1e-12 (%s)"):format(c[1]), function()
      local function run(obj)
        return hasme.simulate { objective = obj, noise = c[5] and hasme.gaussian(c[5]),
                                method = c[2], integrator = "euler",
                                substeps = c[2] ~= "sgd" and 5 or nil,
                                eta = c[2] == "hasme" and 0.2893 or ETA, steps = 20,
                                x0 = c[6], paths = 203, seed = 777, record = { 1, 20 } }
      end
      local rl, rg = run(hasme.quadratic { H = c[3], b = c[4] }), run(lua_quadratic(c[3], c[4]))
      assert.are.equal("linear", rl.kernel)
      assert.are.equal("general", rg.kernel)
      for _, k in ipairs { 1, 20 } do
        local e = pathdiff(rg, rl, k)
        assert(e < 1e-12, ("step %d: relative difference %.3g"):format(k, e))
      end
    end)
  end

  it("reproduces the built-in quadratic with 1, 2 and 3 threads (callbacks copied to workers)",
    function()
      -- Enough work for worker interpreter states: each runs its own copy of the
      -- callbacks (with their upvalues H and b), and the paths must not change.
      local function run(obj, threads)
        return hasme.simulate { objective = obj, noise = hasme.gaussian { cov = SCOV },
                                method = "hasme", integrator = "euler", substeps = 5,
                                eta = ETA, steps = 25, x0 = X0, paths = 1003, seed = 4321,
                                threads = threads, record = { 25 } }
      end
      local rl = run(hasme.quadratic { H = HSAD, b = BVEC }, 1)
      local lq = lua_quadratic(HSAD, BVEC)
      for _, t in ipairs { 1, 2, 3 } do
        local rg = run(lq, t)
        assert.are.equal(t, rg.threads)
        assert.are.equal(t - 1, rg:info().worker_states)
        local e = pathdiff(rg, rl, 25)
        assert(e < 1e-12, ("%d threads: relative difference %.3g"):format(t, e))
      end
    end)

  it("treats a state-dependent noise returning a constant like the constant noise", function()
    -- Sigma(x) given as a Lua function goes through the general kernel and is
    -- factored at every step; it must give the paths of the constant noise.
    local cov = hasme.gaussian { cov = function() return SCOV end }
    for _, method in ipairs { "sgd", "sme1", "hasme" } do
      local function run(noise)
        return hasme.simulate { objective = hasme.quadratic { H = HMIN, b = BVEC }, noise = noise,
                                method = method, integrator = method ~= "sgd" and "euler" or nil,
                                substeps = method ~= "sgd" and 5 or nil, eta = ETA, steps = 20,
                                x0 = X0, paths = 1003,
                                seed = 55, threads = 2 }
      end
      local rc, rs = run(hasme.gaussian { cov = SCOV }), run(cov)
      assert.are.equal("linear", rc.kernel)
      assert.are.equal("general", rs.kernel)
      assert.are.equal(1, rs:info().worker_states)
      local e = pathdiff(rs, rc, 20)
      assert(e < 1e-12, ("%s: relative difference %.3g"):format(method, e))
    end
  end)

  -- The same model through the general kernel in law: hasme.saddle{quartic = 0} is
  -- the quadratic diag(lambda) but goes through the general kernel (built-in,
  -- threaded), with the diffusion built at every substep.
  for i, nz in ipairs { { "correlated", { cov = SCOV } }, { "isotropic", { sigma = SIGMA } } } do
    it(("matches the Euler law for HA-SME on a diagonal quadratic, %s noise (5 SE)"):format(nz[1]),
      function()
        local lam = { 1.3455, -0.4335 }
        local H = { { lam[1], 0 }, { 0, lam[2] } }
        local M, c0, DD = ou_coefficients("hasme", H, nil, sigma_matrix(nz[2], 2), ETA)
        local means, covs = euler_moments(M, c0, DD, ETA, X0, 12, 3)
        local r = hasme.simulate { objective = hasme.saddle { lambda = lam, quartic = 0 },
                                   noise = hasme.gaussian(nz[2]), method = "hasme",
                                   integrator = "euler", substeps = 3, eta = ETA, steps = 12,
                                   x0 = X0, paths = 60000, seed = 8080 + i, record = { 4, 12 } }
        assert.are.equal("general", r.kernel)
        assert_law(r, 4, means[4], covs[4], "general kernel")
        assert_law(r, 12, means[12], covs[12], "general kernel")
      end)
  end
end)

describe("minibatch SGD on hasme.nn", function()
  -- A fixed dataset of N = 12 points in R^2, a 3-unit network: d = 13 parameters.
  local N = 12
  local X, Y = {}, {}
  for i = 1, N do
    X[i] = { math.sin(1.7 * i + 0.3), math.cos(2.3 * i - 0.1) }
    Y[i] = 0.8 * math.sin(1.3 * i) + 0.05 * i
  end
  local THETA = {}
  for k = 1, 13 do THETA[k] = 0.4 * math.sin(0.9 * k + 0.2) end
  local E = 0.173
  local PATHS = 40000

  local function net() return hasme.nn { X = X, y = Y, hidden = 3, decay = 0.013 } end

  -- One step from THETA with `paths` paths.
  local function step(noise, seed, method)
    return hasme.simulate { objective = net(), noise = noise, method = method or "sgd",
                            integrator = method and "euler" or nil,
                            substeps = method and 1 or nil, eta = E, steps = 1,
                            x0 = THETA, paths = PATHS, seed = seed }
  end

  -- The mean and covariance of x_1 against theta0 - eta grad and eta^2 Sigma: SE of a
  -- mean component sqrt(C_ii / n); the data are not Gaussian, so the SE of a
  -- covariance entry is estimated from the sample: sqrt(var((x_i - m_i)(x_j - m_j)) / n).
  local function check_step(r, Sigma, label)
    local obj = net()
    local g = obj:grad(THETA)
    local d = 13
    local C = {}
    for i = 1, d do
      C[i] = {}
      for j = 1, d do C[i][j] = E * E * Sigma[i][j] end
    end
    local S = r:snapshot(1)
    local n = S:rows()
    local m = r:mean(1)
    for i = 1, d do
      local want = THETA[i] - E * g[i]
      local z = abs(m[i] - want) / sqrt(C[i][i] / n)
      assert(z < 5, ("%s: mean[%d] %.3f SE off"):format(label, i, z))
    end
    -- Centred rows, then per entry the mean and variance of the products.
    local rows = {}
    for p = 1, n do
      local row, src = {}, S[p]
      for i = 1, d do row[i] = src[i] - m[i] end
      rows[p] = row
    end
    local worst = 0.0
    for i = 1, d do
      for j = 1, i do
        local s, s2 = 0.0, 0.0
        for p = 1, n do
          local v = rows[p][i] * rows[p][j]
          s, s2 = s + v, s2 + v * v
        end
        local mu = s / n
        local se = sqrt(max(s2 / n - mu * mu, 0) / n)
        local z = abs(mu * n / (n - 1) - C[i][j]) / se
        worst = max(worst, z)
        assert(z < 5, ("%s: cov[%d][%d] %.3f SE off"):format(label, i, j, z))
      end
    end
    return worst
  end

  for _, replace in ipairs { true, false } do
    it(("gives x_1 the mean theta0 - eta grad and covariance eta^2 Sigma (replace = %s)")
      :format(tostring(replace)), function()
        local nz = hasme.minibatch { batch = 4, replace = replace }
        local r = step(nz, replace and 71 or 72)
        assert.are.equal("general", r.kernel)
        check_step(r, nz:cov(THETA, net()):totable(), "batch 4")
      end)
  end

  it("needs the finite-population factor: without replacement at B = 11 of 12", function()
    local with = hasme.minibatch { batch = 11, replace = true }
    local without = hasme.minibatch { batch = 11, replace = false }
    local rw, ro = step(with, 73), step(without, 74)
    check_step(rw, with:cov(THETA, net()):totable(), "with replacement")
    check_step(ro, without:cov(THETA, net()):totable(), "without replacement")
    -- (N - B) / (N - 1) = 1/11: the sample variances differ by that factor.
    local tw, to = rw:cov(1):trace(), ro:cov(1):trace()
    assert(to / tw > 0.07 and to / tw < 0.115, ("variance ratio %.4f"):format(to / tw))
  end)

  it("takes the full gradient step on every path when B = N without replacement", function()
    local r = step(hasme.minibatch { batch = N }, 75)
    local g = net():grad(THETA)
    local S = r:snapshot(1)
    for p = 1, PATHS, 997 do
      for i = 1, 13 do
        local want = THETA[i] - E * g[i]
        assert(abs(S[p][i] - want) < 1e-14, ("path %d, entry %d"):format(p, i))
      end
    end
    assert(r:cov(1):norm() < 1e-26, r:cov(1):norm())
  end)

  it("gives SME-1 with one Euler substep Gaussian noise of the minibatch covariance", function()
    -- docs/methods.md section 5: one Euler step per eta of SME-1 is Gaussian-noise SGD.
    local nz = hasme.minibatch { batch = 5 }
    local r = step(nz, 76, "sme1")
    check_step(r, nz:cov(THETA, net()):totable(), "sme1")
  end)
end)
