-- sim_spec.lua: hasme.simulate, hasme.compare and hasme.exact_moments.
--
-- The oracles are MATH.md sections 2, 3 and 5, recomputed here independently of the
-- engine: SGD's moments by the moment recursion of the linear map, the SDE models'
-- moments by integrating their moment ODEs with RK4, Euler-Maruyama laws by the
-- moment recursion of one substep. Monte Carlo checks use fixed seeds (so every run
-- is the same) and tolerances of 5 standard errors of the estimate, stated at each
-- check: a correct engine fails one such check with probability below 1e-6.
local hasme = require "hasme"

local abs, sqrt, max, min, log = math.abs, math.sqrt, math.max, math.min, math.log
-- Callbacks that run on worker threads are copied with their upvalues; busted's test
-- environment (_ENV) cannot be, so callbacks meant for workers use only locals.
local error = error

-- {====================================================================
-- Small dense linear algebra on plain Lua tables (rows), independent of hasme.Mat
-- ====================================================================

-- A hasme.Vec / hasme.Mat / table as a plain table (a copy).
local function plain(x)
  if type(x) == "table" then
    local t = {}
    for i, v in ipairs(x) do t[i] = type(v) == "table" and plain(v) or v end
    return t
  end
  return x:totable()
end

local function zeros(n, m)
  local A = {}
  for i = 1, n do
    A[i] = {}
    for j = 1, m or n do A[i][j] = 0.0 end
  end
  return A
end

local function eye(n)
  local A = zeros(n)
  for i = 1, n do A[i][i] = 1.0 end
  return A
end

local function mmul(A, B)
  local n, k, m = #A, #B, #B[1]
  local C = zeros(n, m)
  for i = 1, n do
    for j = 1, m do
      local s = 0.0
      for l = 1, k do s = s + A[i][l] * B[l][j] end
      C[i][j] = s
    end
  end
  return C
end

local function mvec(A, x)
  local y = {}
  for i = 1, #A do
    local s = 0.0
    for j = 1, #x do s = s + A[i][j] * x[j] end
    y[i] = s
  end
  return y
end

local function transpose(A)
  local T = zeros(#A[1], #A)
  for i = 1, #A do for j = 1, #A[1] do T[j][i] = A[i][j] end end
  return T
end

-- a A + b B (matrices) or a x + b y (vectors).
local function lincomb(a, A, b, B)
  local C = {}
  for i = 1, #A do
    if type(A[i]) == "table" then
      C[i] = {}
      for j = 1, #A[i] do C[i][j] = a * A[i][j] + b * B[i][j] end
    else
      C[i] = a * A[i] + b * B[i]
    end
  end
  return C
end

-- The entries of a vector or matrix (plain or hasme) as one flat list.
local function flat(x)
  local out = {}
  for _, v in ipairs(plain(x)) do
    if type(v) == "table" then
      for _, w in ipairs(v) do out[#out + 1] = w end
    else
      out[#out + 1] = v
    end
  end
  return out
end

-- max |x - y| / max |y| over the entries (absolute where y is all zero).
local function relerr(x, y)
  local a, b = flat(x), flat(y)
  assert(#a == #b, "shapes differ")
  local d, s = 0.0, 0.0
  for i = 1, #a do
    d = max(d, abs(a[i] - b[i]))
    s = max(s, abs(b[i]))
  end
  return s > 0 and d / s or d
end

-- }====================================================================

-- {====================================================================
-- The problems (high-entropy values; eta * lambda_max = 0.4 on the minimum)
-- ====================================================================

local ETA = 0.2973
local HMIN = { { 1.137, 0.383 }, { 0.383, 0.642 } }    -- eigenvalues 0.4335, 1.3455
local HSAD = { { 0.912, 0.571 }, { 0.571, -0.453 } }   -- eigenvalues -0.6604, 1.1194
local BVEC = { 0.241, -0.187 }
local X0 = { 0.734, -1.219 }
local SIGMA = 0.831                                      -- commutes with every H
local SCOV = { { 0.613, 0.287 }, { 0.287, 0.468 } }      -- correlated: does not commute

-- The noise covariance (d x d) as a plain matrix, for the oracles.
local function sigma_matrix(noise, d)
  if noise.sigma then
    local S = eye(d)
    for i = 1, d do S[i][i] = noise.sigma ^ 2 end
    return S
  end
  return plain(noise.cov)
end

-- Each case: a quadratic (H, b) and a noise model; built fresh when needed.
local CASES = {}
for _, c in ipairs {
  { "minimum", HMIN }, { "saddle", HSAD },
} do
  for _, nz in ipairs {
    { "isotropic noise", { sigma = SIGMA } }, { "correlated noise", { cov = SCOV } },
  } do
    for _, lin in ipairs { { "b = 0", nil }, { "b != 0", BVEC } } do
      CASES[#CASES + 1] = {
        name = ("%s, %s, %s"):format(c[1], nz[1], lin[1]),
        H = c[2], b = lin[2], noise = nz[2],
      }
    end
  end
end

local function objective_of(case)
  return hasme.quadratic { H = case.H, b = case.b }
end

local function noise_of(case)
  return hasme.gaussian(case.noise)
end

-- }====================================================================

-- {====================================================================
-- Oracles
-- ====================================================================

-- SGD: x' = (I - eta H) x - eta b - eta xi: m' = A m - eta b, C' = A C A' + eta^2 Sigma.
-- Returns the moments at every step in `steps` (a set), as tables mean[k], cov[k].
local function sgd_recursion(H, b, Sigma, eta, x0, kmax)
  local d = #H
  local A = lincomb(1.0, eye(d), -eta, H)
  local At = transpose(A)
  local m, C = plain(x0), zeros(d)
  local means, covs = { [0] = m }, { [0] = C }
  for k = 1, kmax do
    m = mvec(A, m)
    if b then for i = 1, d do m[i] = m[i] - eta * b[i] end end
    C = lincomb(1.0, mmul(mmul(A, C), At), eta * eta, Sigma)
    means[k], covs[k] = m, C
  end
  return means, covs
end

-- The drift matrix M, drift offset c0 and diffusion D D' of an SDE model on the
-- quadratic (MATH.md sections 2 and 3): dX = -(M X + c0) dt + sqrt(eta) D dW.
local function ou_coefficients(method, H, b, Sigma, eta)
  local d = #H
  local zero = {}
  for i = 1, d do zero[i] = 0.0 end
  b = b or zero
  if method == "sme1" then
    return H, b, Sigma
  elseif method == "sme2" then
    local P = lincomb(1.0, eye(d), eta / 2, H)    -- I + (eta/2) H
    return mmul(P, H), mvec(P, b), Sigma
  elseif method == "hasme" then
    local etaH = {}
    for i = 1, d do
      etaH[i] = {}
      for j = 1, d do etaH[i][j] = eta * H[i][j] end
    end
    local P = plain(hasme.matfun(etaH, "phi1"))   -- phi1(eta H)
    -- D D' = V (S o Phi) V', S = V' Sigma V, Phi_ij = phi1(z_i + z_j - z_i z_j).
    local w, V = hasme.eig(H)
    w, V = plain(w), plain(V)
    local S = mmul(mmul(transpose(V), Sigma), V)
    for i = 1, d do
      for j = 1, d do
        local zi, zj = eta * w[i], eta * w[j]
        S[i][j] = S[i][j] * hasme.phi1(zi + zj - zi * zj)
      end
    end
    return mmul(P, H), mvec(P, b), mmul(mmul(V, S), transpose(V))
  end
  error("no OU coefficients for " .. method)
end

-- The moment ODEs dm/dt = -(M m + c0), dC/dt = -M C - C M' + eta D D', integrated by
-- the classical RK4 method with h = eta / 2^10; the moments at t = k eta, k = 0..kmax.
-- The system is affine with constant coefficients, so one RK4 step is an affine map
-- y -> R y + s of the state y = (m, C); it is found by stepping the basis vectors,
-- and 2^10 steps are composed by squaring the map ten times (the same numbers as
-- stepping 2^10 times, up to rounding, at a fraction of the cost).
local function ou_moments(M, c0, DD, eta, x0, kmax)
  local d = #M
  local n = d + d * d
  -- y = (m_1..m_d, C_11, C_12, .., C_dd); F(y) = dy/dt.
  local function F(y)
    local f = {}
    for i = 1, d do
      local s = c0[i]
      for j = 1, d do s = s + M[i][j] * y[j] end
      f[i] = -s
    end
    for i = 1, d do
      for j = 1, d do
        local s = eta * DD[i][j]
        for l = 1, d do
          s = s - M[i][l] * y[d + (l - 1) * d + j] - y[d + (i - 1) * d + l] * M[j][l]
        end
        f[d + (i - 1) * d + j] = s
      end
    end
    return f
  end
  local h = eta / 1024
  local function rk4(y)
    local function ax(a, u, v)
      local w = {}
      for i = 1, n do w[i] = u[i] + a * v[i] end
      return w
    end
    local k1 = F(y)
    local k2 = F(ax(h / 2, y, k1))
    local k3 = F(ax(h / 2, y, k2))
    local k4 = F(ax(h, y, k3))
    local out = {}
    for i = 1, n do out[i] = y[i] + h / 6 * (k1[i] + 2 * k2[i] + 2 * k3[i] + k4[i]) end
    return out
  end
  local z = {}
  for i = 1, n do z[i] = 0.0 end
  local s = rk4(z)
  local R = zeros(n)
  for j = 1, n do
    local e = { table.unpack(z) }
    e[j] = 1.0
    local col = rk4(e)
    for i = 1, n do R[i][j] = col[i] - s[i] end
  end
  for _ = 1, 10 do   -- (R, s) o (R, s) = (R R, R s + s)
    s = lincomb(1.0, mvec(R, s), 1.0, s)
    R = mmul(R, R)
  end
  local y = {}
  for i = 1, d do y[i] = x0[i] end
  for i = d + 1, n do y[i] = 0.0 end
  local function split(v)
    local m, C = {}, zeros(d)
    for i = 1, d do
      m[i] = v[i]
      for j = 1, d do C[i][j] = v[d + (i - 1) * d + j] end
    end
    return m, C
  end
  local means, covs = {}, {}
  means[0], covs[0] = split(y)
  for k = 1, kmax do
    y = lincomb(1.0, mvec(R, y), 1.0, s)
    means[k], covs[k] = split(y)
  end
  return means, covs
end

-- Euler-Maruyama with dt = eta/m for the OU model (M, c0, D D'): per substep
-- x' = (I - dt M) x - dt c0 + sqrt(eta dt) D z, so m' = A m - dt c0 and
-- C' = A C A' + eta dt D D'. Moments after k whole steps, k = 0..kmax.
local function euler_moments(M, c0, DD, eta, x0, kmax, substeps)
  local d = #M
  local dt = eta / substeps
  local A = lincomb(1.0, eye(d), -dt, M)
  local At = transpose(A)
  local m, C = plain(x0), zeros(d)
  local means, covs = { [0] = m }, { [0] = C }
  for k = 1, kmax do
    for _ = 1, substeps do
      m = lincomb(1.0, mvec(A, m), -dt, c0)
      C = lincomb(1.0, mmul(mmul(A, C), At), eta * dt, DD)
    end
    means[k], covs[k] = m, C
  end
  return means, covs
end

-- The oracle moments of `method` on a case, k = 0..kmax.
local function oracle(method, case, eta, x0, kmax)
  local Sigma = sigma_matrix(case.noise, #case.H)
  if method == "sgd" then return sgd_recursion(case.H, case.b, Sigma, eta, x0, kmax) end
  local M, c0, DD = ou_coefficients(method, case.H, case.b, Sigma, eta)
  return ou_moments(M, c0, DD, eta, x0, kmax)
end

-- }====================================================================

-- {====================================================================
-- Monte Carlo checks
-- ====================================================================

-- The largest deviation, in standard errors, of the sample mean and covariance of
-- r at step k from the law (m, C). SE of mean component i: sqrt(C_ii / n); SE of
-- covariance entry ij for Gaussian data: sqrt((C_ii C_jj + C_ij^2) / (n - 1)).
local function deviation(r, k, m, C)
  m, C = plain(m), plain(C)
  local n, d = r.paths, #m
  local mh, Ch = r:mean(k), r:cov(k)
  local worst, where = 0.0, ""
  for i = 1, d do
    local z = abs(mh[i] - m[i]) / sqrt(C[i][i] / n)
    if z > worst then worst, where = z, ("mean[%d]"):format(i) end
    for j = 1, i do
      local se = sqrt((C[i][i] * C[j][j] + C[i][j] ^ 2) / (n - 1))
      z = abs(Ch[i][j] - C[i][j]) / se
      if z > worst then worst, where = z, ("cov[%d][%d]"):format(i, j) end
    end
  end
  return worst, where
end

-- Assert that r matches the law (m, C) at step k within 5 standard errors.
local function assert_law(r, k, m, C, label)
  local z, where = deviation(r, k, m, C)
  assert(z < 5, ("%s, step %d: %s is %.2f standard errors off"):format(label, k, where, z))
end

-- A Lua array of the values of a hasme.Vec.
local function array(v)
  local t = {}
  for i = 1, #v do t[i] = v[i] end
  return t
end

-- Escape steps as numbers with "not escaped" (-1) mapped past the horizon.
local function escape_array(r)
  local e = array(r:escape_steps())
  for i = 1, #e do if e[i] < 0 then e[i] = r.steps + 1 end end
  return e
end

-- Two-sample Kolmogorov-Smirnov statistic sup |F1 - F2|, exact with ties (the
-- empirical distribution functions are compared after every distinct value).
local function ks2(x, y)
  x, y = { table.unpack(x) }, { table.unpack(y) }
  table.sort(x)
  table.sort(y)
  local n1, n2, i, j, d = #x, #y, 1, 1, 0.0
  while i <= n1 and j <= n2 do
    local v = min(x[i], y[j])
    while i <= n1 and x[i] == v do i = i + 1 end
    while j <= n2 and y[j] == v do j = j + 1 end
    d = max(d, abs((i - 1) / n1 - (j - 1) / n2))
  end
  return d
end

local function mean_var(x)
  local s, s2 = 0.0, 0.0
  for i = 1, #x do s = s + x[i] end
  local mu = s / #x
  for i = 1, #x do s2 = s2 + (x[i] - mu) ^ 2 end
  return mu, s2 / (#x - 1)
end

-- Exact equality of two matrices (snapshots): the first differing entry, or nil.
local function firstdiff(A, B)
  if A:rows() ~= B:rows() or A:cols() ~= B:cols() then return "shape" end
  for i = 1, A:rows() do
    local a, b = A[i], B[i]
    for j = 1, A:cols() do
      if a[j] ~= b[j] then return ("[%d][%d]: %.17g vs %.17g"):format(i, j, a[j], b[j]) end
    end
  end
  return nil
end

local function samevec(a, b)
  if #a ~= #b then return false end
  for i = 1, #a do if a[i] ~= b[i] then return false end end
  return true
end

-- }====================================================================

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

      it("gives HA-SME the law of SGD at every step to 1e-12 (MATH.md section 3)", function()
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

  it("gives the stationary variances of MATH.md section 5 (SME-1 and SME-2 are not exact)",
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
      P .. "field 'method': expected 'sgd', 'sme1', 'sme2' or 'hasme', got 'adam')")
    assert.has_error(em { paths = 3 }, P .. "unknown option 'paths' (valid: 'objective', 'noise', "
      .. "'method', 'eta', 'x0', 'step', 'psd' or 'psd_tol'))")
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

describe("escape from a quadratic saddle", function()
  -- f = -lambda x^2 / 2 in 1-d, x0 = 0, escape when |x| > 1; eta lambda = 0.4.
  local LAMBDA, E, S, N = 1.6, 0.25, 0.37, 50000
  local function run(method, seed, extra)
    local o = { objective = hasme.quadratic { H = { { -LAMBDA } } },
                noise = hasme.gaussian { sigma = S }, method = method, eta = E, steps = 200,
                x0 = { 0 }, paths = N, seed = seed,
                escape = hasme.escape.ball_exit({ 0 }, 1) }
    for k, v in pairs(extra or {}) do o[k] = v end
    return hasme.simulate(o)
  end
  -- The 0.1% critical value of the two-sample KS statistic (conservative with ties).
  local CRIT = 1.95 * sqrt((N + N) / (N * N))

  it("gives HA-SME (exact) SGD's escape-step distribution, and SME-1 a different one", function()
    local sgd, ha, s1 = run("sgd", 611), run("hasme", 612), run("sme1", 613)
    assert.are.equal(N, sgd.escaped)
    assert.are.equal(N, ha.escaped)
    assert.are.equal(N, s1.escaped)
    local es, eh, e1 = escape_array(sgd), escape_array(ha), escape_array(s1)
    local ms, vs = mean_var(es)
    local mh, vh = mean_var(eh)
    -- Means: SE of the difference sqrt(vs/n + vh/n).
    local se = sqrt(vs / N + vh / N)
    assert(abs(ms - mh) < 5 * se, ("mean escape step %.4f vs %.4f"):format(ms, mh))
    local d = ks2(es, eh)
    assert(d < CRIT, ("KS statistic %.4f above %.4f"):format(d, CRIT))
    -- SME-1 grows like exp(eta lambda) per step instead of 1 + eta lambda: it escapes
    -- earlier, and the KS statistic is many times the critical value.
    local m1 = mean_var(e1)
    assert(ms - m1 > 20 * se, ("SME-1 mean %.4f vs SGD %.4f"):format(m1, ms))
    local d1 = ks2(es, e1)
    assert(d1 > 10 * CRIT, ("SME-1 KS statistic only %.4f"):format(d1))
  end)

  it("gives SGD and HA-SME the same escape step path by path under compare{}", function()
    local res = hasme.compare { methods = { "sgd", "hasme", "sme1" },
                                objective = hasme.quadratic { H = { { -LAMBDA } } },
                                noise = hasme.gaussian { sigma = S }, eta = E, steps = 200,
                                x0 = { 0 }, paths = N, seed = 614,
                                escape = hasme.escape.ball_exit({ 0 }, 1) }
    assert.are.equal(res[1], res.sgd)
    assert.are.equal(res[2], res.hasme)
    assert.are.equal(res[3], res.sme1)
    assert.is_true(res.sgd.coupled and res.hasme.coupled)
    assert.are.equal(10, res.hasme.substeps)
    local es, eh, e1 = res.sgd:escape_steps(), res.hasme:escape_steps(), res.sme1:escape_steps()
    -- The two are the same linear recursion up to rounding: a path may differ only
    -- when it lands within rounding of the boundary (none is expected in 50000).
    local differ, differ1 = 0, 0
    for i = 1, N do
      if es[i] ~= eh[i] then differ = differ + 1 end
      if es[i] ~= e1[i] then differ1 = differ1 + 1 end
    end
    assert(differ <= 5, ("%d paths escape at a different step"):format(differ))
    -- SME-1 driven by the same noise still escapes at other steps on many paths.
    assert(differ1 > N / 10, ("only %d SME-1 paths differ"):format(differ1))
    -- The states agree to rounding at the final snapshot (every path frozen at escape,
    -- where |x| is of order 1; cancellation on the way makes the error absolute).
    local xs, xh = res.sgd:snapshot(), res.hasme:snapshot()
    local worst = 0.0
    for i = 1, N do
      if es[i] == eh[i] then worst = max(worst, abs(xs[i][1] - xh[i][1])) end
    end
    assert(worst < 1e-9, ("state difference %.3g"):format(worst))
  end)
end)

describe("determinism", function()
  local PATHS = 1003   -- not a multiple of the engine's block of 8 paths
  local WELLS = { dim = 2, Q = { { 0.31, 0.12 }, { 0.12, 0.23 } }, tilt = { 0.05, -0.1 } }
  local WCOV = { { 2.9, 0.7 }, { 0.7, 1.6 } }

  -- One x0 row per path, all different.
  local function x0_rows(a, b)
    local X = hasme.mat(PATHS, 2)
    for i = 1, PATHS do X[i] = { a + 0.00137 * i, b - 0.00071 * i } end
    return X
  end

  local PROBLEMS = {
    { "linear kernel: SGD on a quadratic", "linear", false, function(threads, seed, x0)
        return hasme.simulate { objective = hasme.quadratic { H = HSAD, b = BVEC },
                                noise = hasme.gaussian { cov = SCOV }, method = "sgd",
                                eta = ETA, steps = 25, x0 = x0 or X0, paths = PATHS,
                                seed = seed, threads = threads, record = { 0, 7, 25 } }
      end, { 0.734, -1.219 } },
    { "linear kernel: HA-SME (exact) with escape", "linear", true, function(threads, seed, x0)
        return hasme.simulate { objective = hasme.quadratic { H = HSAD, b = BVEC },
                                noise = hasme.gaussian { cov = SCOV }, method = "hasme",
                                eta = ETA, steps = 25, x0 = x0 or X0, paths = PATHS,
                                seed = seed, threads = threads, record = { 0, 7, 25 },
                                escape = hasme.escape.ball_exit({ 0.5, -0.5 }, 60) }
      end, { 0.734, -1.219 } },
    { "general kernel: HA-SME (euler) on wells with escape", "general", true,
      function(threads, seed, x0)
        return hasme.simulate { objective = hasme.wells(WELLS),
                                noise = hasme.gaussian { cov = WCOV }, method = "hasme",
                                integrator = "euler", substeps = 4, eta = 0.05, steps = 200,
                                x0 = x0 or { -1.1, 0.9 }, paths = PATHS, seed = seed,
                                threads = threads, record = { 0, 40, 200 },
                                escape = hasme.escape.halfspace({ 1, 0 }, 0.2) }
      end, { -1.1, 0.9 } },
  }

  -- Assert that two results are identical: every snapshot, escape steps, counters.
  local function assert_identical(a, b, label, escape)
    for _, k in ipairs(a:record_steps()) do
      local diff = firstdiff(a:snapshot(k), b:snapshot(k))
      assert(diff == nil, ("%s, step %d: %s"):format(label, k, tostring(diff)))
    end
    if escape then
      assert(samevec(a:escape_steps(), b:escape_steps()), label .. ": escape steps differ")
    end
    assert.are.equal(a.escaped, b.escaped)
  end

  for _, p in ipairs(PROBLEMS) do
    local name, kernel, escape, run, x0 = p[1], p[2], p[3], p[4], p[5]
    describe(name, function()
      it("gives identical results with 1, 2 and 3 threads", function()
        local r1 = run(1, 2718)
        assert.are.equal(kernel, r1.kernel)
        -- Some paths escape and some do not, so the criterion matters.
        if escape then assert(r1.escaped > 0 and r1.escaped < PATHS, r1.escaped) end
        assert.are.equal(1, r1.threads)
        for _, t in ipairs { 2, 3 } do
          local r = run(t, 2718)
          assert.are.equal(t, r.threads)
          assert_identical(r1, r, ("%d threads"):format(t), escape)
        end
      end)

      it("gives identical results with 1, 2 and 3 threads for x0 given per path", function()
        local X = x0_rows(x0[1], x0[2])
        local r1 = run(1, 3141, X)
        -- Each path starts from its own row.
        local S0 = r1:snapshot(0)
        assert.is_nil(firstdiff(S0, X))
        for _, t in ipairs { 2, 3 } do
          assert_identical(r1, run(t, 3141, X), ("%d threads"):format(t), escape)
        end
      end)

      it("repeats itself with the same seed and changes with another", function()
        local a, b, c = run(2, 1618), run(2, 1618), run(2, 1619)
        assert_identical(a, b, "same seed", escape)
        -- With another seed no path repeats a path of the first.
        local steps = a:record_steps()
        local A, C = a:snapshot(steps[#steps]), c:snapshot(steps[#steps])
        for i = 1, PATHS do
          assert(A[i][1] ~= C[i][1] or A[i][2] ~= C[i][2], ("path %d repeats"):format(i))
        end
        if escape then assert.is_false(samevec(a:escape_steps(), c:escape_steps())) end
      end)
    end)
  end

  it("gives Lua callbacks the same results on worker states as on one thread", function()
    -- A Lua objective whose upvalues are a hasme.Mat and a hasme.Vec, and a Lua
    -- predicate reading a table: copied into a worker state for the second thread.
    local H, b = hasme.mat(HMIN), hasme.vec(BVEC)
    local obj = hasme.objective { dim = 2, f = function(x) return 0.5 * x:dot(H * x) + b:dot(x) end,
                                  grad = function(x) return H * x + b end,
                                  hess = function() return H end }
    local limit = { r = 1.9 }
    local function pred(x) return x:norm() > limit.r end
    local function run(threads, o, e)
      return hasme.simulate { objective = o, noise = hasme.gaussian { sigma = SIGMA }, method = "hasme",
                              integrator = "euler", substeps = 4, eta = ETA, steps = 30, x0 = X0,
                              paths = 2003, seed = 11, threads = threads, escape = e }
    end
    local r1, r2 = run(1, obj, pred), run(2, obj, pred)
    assert.are.equal(1, r1.threads)
    assert.are.equal(2, r2.threads)
    assert.are.equal(1, r2:info().worker_states)
    assert.is_nil(firstdiff(r1:snapshot(), r2:snapshot()))
    assert.is_true(samevec(r1:escape_steps(), r2:escape_steps()))
    assert(r1.escaped > 20 and r1.escaped < 2003, r1.escaped)
    -- And the built-in equivalents give the same escape steps.
    local rb = run(2, hasme.quadratic { H = HMIN, b = BVEC }, hasme.escape.ball_exit({ 0, 0 }, 1.9))
    assert.is_true(samevec(r1:escape_steps(), rb:escape_steps()))
  end)

  it("runs on one thread, with a note, when a callback cannot be copied", function()
    local co = coroutine.create(function() end)
    local obj = hasme.objective { dim = 2, grad = function(x)
      return co and { x[1], x[2] }
    end }
    local r = hasme.simulate { objective = obj, noise = hasme.gaussian { sigma = SIGMA }, eta = ETA,
                               steps = 30, x0 = X0, paths = 2003, seed = 11, threads = 2 }
    assert.are.equal(1, r.threads)
    assert.are.equal(0, r:info().worker_states)
    assert.are.equal("upvalue 'co': a thread cannot be copied to a worker state", r:info().threads_note)
  end)

  it("gives path i the same stream whatever the number of paths", function()
    -- The stream of a path depends on the seed and its index only.
    local function run(paths)
      return hasme.simulate { objective = hasme.quadratic { H = HMIN },
                              noise = hasme.gaussian { sigma = SIGMA }, eta = ETA, steps = 9,
                              x0 = X0, paths = paths, seed = 4242 }
    end
    local small, big = run(13), run(1003)
    assert.is_nil(firstdiff(small:snapshot(), hasme.mat { table.unpack(big:snapshot():totable(), 1, 13) }))
  end)
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
                                method = c[2], integrator = "euler", substeps = 5,
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
                                substeps = 5, eta = ETA, steps = 20, x0 = X0, paths = 203,
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
    -- MATH.md section 5: one Euler step per eta of SME-1 is Gaussian-noise SGD.
    local nz = hasme.minibatch { batch = 5 }
    local r = step(nz, 76, "sme1")
    check_step(r, nz:cov(THETA, net()):totable(), "sme1")
  end)
end)

describe("escape criteria in hasme.simulate", function()
  local LAMBDA, E, S = 1.6, 0.25, 0.37
  local function saddle_run(escape, extra)
    local o = { objective = hasme.quadratic { H = { { -LAMBDA } } },
                noise = hasme.gaussian { sigma = S }, method = "sgd", eta = E, steps = 30,
                x0 = { 0 }, paths = 4001, seed = 1234, escape = escape, record = "all" }
    for k, v in pairs(extra or {}) do o[k] = v end
    return hasme.simulate(o)
  end

  it("freezes an escaped path at its escape state and escapes at the first grid step",
    function()
      for _, extra in ipairs { {}, { method = "hasme", integrator = "euler", substeps = 7 } } do
        local r = saddle_run(hasme.escape.ball_exit({ 0 }, 1), extra)
        local e = r:escape_steps()
        local snaps = {}
        for k = 0, 30 do snaps[k] = r:snapshot(k) end
        local escaped = 0
        for p = 1, 4001 do
          local k = e[p]
          if k > 0 then
            escaped = escaped + 1
            assert(k >= 1 and k <= 30 and k == math.floor(k))
            assert(abs(snaps[k][p][1]) > 1, ("path %d: not outside at step %d"):format(p, k))
            for j = 1, k - 1 do
              assert(abs(snaps[j][p][1]) <= 1, ("path %d outside at step %d < %d"):format(p, j, k))
            end
            for j = k + 1, 30 do
              assert(snaps[j][p][1] == snaps[k][p][1], ("path %d moved after escape"):format(p))
            end
          else
            assert.are.equal(-1, k)
            for j = 1, 30 do assert(abs(snaps[j][p][1]) <= 1) end
          end
        end
        assert.are.equal(escaped, r.escaped)
        assert(escaped > 3000, escaped)
      end
    end)

  it("never reports step 0: a path that starts outside escapes at step 1", function()
    local r = saddle_run(hasme.escape.ball_exit({ 0 }, 1), { x0 = { 5.3 } })
    local e = r:escape_steps()
    for p = 1, 4001 do assert.are.equal(1, e[p]) end
    assert.are.equal(4001, r.escaped)
    -- Snapshot 0 is x0, snapshots from 1 on the state after the first step.
    assert.are.equal(5.3, r:snapshot(0)[17][1])
    assert.are.equal(r:snapshot(1)[17][1], r:snapshot(30)[17][1])
  end)

  it("tests the criterion only at grid times, not at substeps", function()
    -- A predicate that counts its calls: one call per path and whole step until the
    -- path escapes, whatever the number of substeps.
    local calls = 0
    local function pred(x)
      calls = calls + 1
      return abs(x[1]) > 1
    end
    -- One thread: worker threads would call copies of the predicate, whose counts
    -- stay in their own interpreter states.
    local r = hasme.simulate { objective = hasme.quadratic { H = { { -LAMBDA } } },
                               noise = hasme.gaussian { sigma = S }, method = "sme1",
                               integrator = "euler", substeps = 13, eta = E, steps = 8,
                               x0 = { 0 }, paths = 501, seed = 99, escape = pred,
                               threads = 1 }
    local e, expected = r:escape_steps(), 0
    for p = 1, 501 do expected = expected + (e[p] > 0 and e[p] or 8) end
    assert.are.equal(expected, calls)
    assert(r.escaped > 100 and r.escaped < 400, r.escaped)
  end)

  it("gives a Lua predicate the escape steps of the equal built-in criterion", function()
    local a = saddle_run(hasme.escape.ball_exit({ 0 }, 1))
    local b = saddle_run(function(x) return abs(x[1]) > 1 end)
    assert.is_true(samevec(a:escape_steps(), b:escape_steps()))
    -- And halfspace: a'x > c for a = (-1) is x < -c.
    local c = saddle_run(hasme.escape.halfspace({ -1 }, 0.8))
    local d = saddle_run(function(x) return x[1] < -0.8 end)
    assert.is_true(samevec(c:escape_steps(), d:escape_steps()))
    assert(c.escaped > 1000 and c.escaped < 3000, c.escaped)
  end)

  it("evaluates value_below and value_above on the run's objective", function()
    -- f = -lambda x^2 / 2 < -c  <=>  |x| > sqrt(2 c / lambda).
    local c = 0.7
    local r = sqrt(2 * c / LAMBDA)
    local a = saddle_run(hasme.escape.value_below(-c))
    local b = saddle_run(hasme.escape.ball_exit({ 0 }, r))
    assert.is_true(samevec(a:escape_steps(), b:escape_steps()))
    assert(a.escaped > 3000, a.escaped)
    -- f = lambda |x|^2 / 2 on a 2-d bowl: value_above(c) is leaving the same ball.
    local function bowl(escape)
      return hasme.simulate { objective = hasme.quadratic { H = { { 1.9, 0 }, { 0, 1.9 } } },
                              noise = hasme.gaussian { sigma = 1.3 }, eta = 0.21, steps = 40,
                              x0 = { 0.1, -0.2 }, paths = 3001, seed = 31, escape = escape }
    end
    local u, v = bowl(hasme.escape.value_above(0.9)), bowl(hasme.escape.ball_exit({ 0, 0 }, sqrt(2 * 0.9 / 1.9)))
    assert.is_true(samevec(u:escape_steps(), v:escape_steps()))
    assert(u.escaped > 300 and u.escaped < 2700, u.escaped)
  end)
end)

-- A number as lua_pushfstring's %f writes it ("%.14g", with ".0" on integers).
local function fmtf(x)
  local s = ("%.14g"):format(x)
  if s:match("^%-?%d+$") then s = s .. ".0" end
  return s
end

describe("hasme.simulate errors", function()
  local DOMAIN_TAIL = "; it needs eta*lambda < 1 for every Hessian eigenvalue"
  local PATH_TAIL = "; pass on_domain = 'record' to stop such paths and count them"

  -- A valid run whose options `changes` alter ("nil" removes one).
  local function opts(changes)
    local o = { objective = hasme.quadratic { H = HMIN, b = BVEC },
                noise = hasme.gaussian { cov = SCOV }, method = "hasme", eta = ETA,
                steps = 5, x0 = X0, paths = 100, seed = 7 }
    for k, v in pairs(changes or {}) do
      if v == "nil" then o[k] = nil else o[k] = v end
    end
    return o
  end
  local function sim(changes) return function() hasme.simulate(opts(changes)) end end

  describe("HA-SME outside its domain", function()
    it("is reported at set-up for a quadratic with eta lambda_max >= 1", function()
      local w = hasme.eig(HMIN)
      local eta = 0.7493                      -- eta * 1.3455 = 1.008
      assert.has_error(sim { eta = eta },
        ("simulate: HA-SME is undefined: eta*lambda_max = %s >= 1 (lambda_max = %s, "
         .. "eta = %s)%s"):format(fmtf(eta * w[2]), fmtf(w[2]), fmtf(eta), DOMAIN_TAIL))
      -- SGD, SME-1 and SME-2 have no such restriction.
      for _, m in ipairs { "sgd", "sme1", "sme2" } do
        assert.has_no.errors(sim { eta = eta, method = m })
      end
    end)

    it("names the largest eigenvalue when several are out of the domain", function()
      -- H = diag(2.1, 3.7), eta = 0.6: both eta lambda exceed 1; lambda_max is 3.7.
      local q = hasme.quadratic { H = { { 2.1, 0 }, { 0, 3.7 } } }
      local want = "HA-SME is undefined%s: eta*lambda_max = 2.22 >= 1 (lambda_max = 3.7, eta = 0.6)"
      -- The general kernel (a diagonal quadratic as hasme.saddle) at its first step.
      assert.has_error(function()
        hasme.simulate { objective = hasme.saddle { lambda = { 2.1, 3.7 }, quartic = 0 },
                         method = "hasme", eta = 0.6, steps = 3, x0 = { 1, 1 }, paths = 8 }
      end, "simulate: " .. want:format(" at path 1, step 1") .. DOMAIN_TAIL .. PATH_TAIL)
      -- The linear kernel at set-up, exact and Euler.
      for _, integrator in ipairs { "exact", "euler" } do
        assert.has_error(function()
          hasme.simulate { objective = q, method = "hasme", integrator = integrator, eta = 0.6,
                           steps = 3, x0 = { 1, 1 }, paths = 8 }
        end, "simulate: " .. want:format("") .. DOMAIN_TAIL)
      end
      assert.has_error(function()
        hasme.exact_moments { objective = q, method = "hasme", eta = 0.6, step = 3, x0 = { 1, 1 } }
      end, "exact_moments: HA-SME is undefined: eta*lambda_max = 2.22 >= 1 (lambda_max = 3.7)")
    end)

    it("is reported on a path with the smallest failing path, its step and eigenvalue", function()
      -- f = -x^2/2 + x^4/4, eta = 0.6: the deterministic flow from x0 > 0 runs to the
      -- minimum at 1 where f'' = 2 and eta f'' = 1.2. Paths 1-3 sit at 0 (f'' = -1, a
      -- stationary point), path 4 starts at 0.05 and paths 5-16 at 0.2, which fail
      -- earlier: the error names path 4. Its step is found by iterating the HA-SME
      -- drift here, and the eigenvalue from the state the engine records just before.
      local E = 0.6
      local X = {}
      for i = 1, 16 do X[i] = { i <= 3 and 0 or (i == 4 and 0.05 or 0.2) } end
      local function run(steps, threads, on_domain)
        return hasme.simulate { objective = hasme.saddle { lambda = { -1 }, quartic = 1 },
                                method = "hasme", integrator = "euler", substeps = 1,
                                eta = E, steps = steps, x0 = X, paths = 16, record = "all",
                                threads = threads, on_domain = on_domain }
      end
      local x, k = 0.05, 1
      while E * (-1 + 3 * x * x) < 1 do
        local z = E * (-1 + 3 * x * x)
        x = x - E * (-log(1 - z) / z) * (x * (x * x - 1))
        k = k + 1
      end
      assert.are.equal(9, k)
      -- The state of path 4 after step k - 1 (the other paths stopped earlier).
      local before = run(k - 1, 1, "record"):snapshot(k - 1)[4][1]
      local lam = -1 + 3.0 * (1 * before * before)
      local want = ("simulate: HA-SME is undefined at path 4, step %d: eta*lambda_max = %s >= 1 "
                    .. "(lambda_max = %s, eta = 0.6)%s%s"):format(k, fmtf(E * lam), fmtf(lam),
                                                                DOMAIN_TAIL, PATH_TAIL)
      for _, threads in ipairs { 1, 2, 3 } do
        assert.has_error(function() run(40, threads) end, want)
      end
    end)
  end)

  describe("on_domain = 'record'", function()
    -- The deterministic flow of the previous test: paths leaving HA-SME's domain are
    -- stopped and counted instead of raising.
    local E = 0.6
    local X = {}
    for i = 1, 16 do X[i] = { i <= 3 and 0 or (i == 4 and 0.05 or 0.2) } end
    local function last_defined_step(x)
      local k = 1
      while E * (-1 + 3 * x * x) < 1 do
        local z = E * (-1 + 3 * x * x)
        x = x - E * (-log(1 - z) / z) * (x * (x * x - 1))
        k = k + 1
      end
      return k
    end

    it("stops and counts the paths on which the model becomes undefined", function()
      local k4, k5 = last_defined_step(0.05), last_defined_step(0.2)
      assert.are.equal(9, k4)
      assert(k5 < k4, k5)
      for _, threads in ipairs { 1, 2 } do
        local r = hasme.simulate { objective = hasme.saddle { lambda = { -1 }, quartic = 1 },
                                   method = "hasme", integrator = "euler", substeps = 1, eta = E,
                                   steps = 40, x0 = X, paths = 16, record = { 0, k5 - 1, 40 },
                                   on_domain = "record", threads = threads }
        assert.are.equal(13, r.undefined)
        assert.are.equal("record", r:info().on_domain)
        local u = r:undefined_steps()
        local S, before = r:snapshot(40), r:snapshot(k5 - 1)
        for i = 1, 16 do
          if i <= 3 then
            assert.are.equal(-1, u[i])
            assert.are.equal(0, S[i][1])
          else
            assert.are.equal(i == 4 and k4 or k5, u[i])
            assert.is_true(S[i][1] ~= S[i][1])         -- NaN once stopped
            assert.is_true(before[i][1] > 0.05)        -- a state before
          end
        end
        assert.are.equal(0, r:mean(40)[1])
        assert.are.equal(0, r:cov(40)[1][1])
        assert.is_truthy(tostring(r):find("\n  model undefined (eta*lambda_max >= 1) on: 13 paths", 1, true))
      end
    end)

    it("does not apply at set-up, and undefined_steps needs it", function()
      local w = hasme.eig(HMIN)
      assert.has_error(sim { eta = 0.7493, on_domain = "record" },
        ("simulate: HA-SME is undefined: eta*lambda_max = %s >= 1 (lambda_max = %s, "
         .. "eta = 0.7493)%s"):format(fmtf(0.7493 * w[2]), fmtf(w[2]), DOMAIN_TAIL))
      local r = hasme.simulate(opts {})
      assert.has_error(function() r:undefined_steps() end,
        "undefined_steps: the run did not record undefined paths (on_domain = 'record')")
      assert.has_error(sim { on_domain = "skip" },
        "bad argument #1 to 'simulate' (field 'on_domain': expected 'error' or 'record', got 'skip')")
    end)
  end)

  describe("a diffusion that is not positive semidefinite (MATH.md section 2 example)", function()
    -- eta = 0.25, H = diag(2, -2), Sigma with correlation 0.99.
    local H = { { 2, 0 }, { 0, -2 } }
    local COV = { { 1, 0.99 }, { 0.99, 1 } }
    -- The eigenvalue the message must show: the smallest of S o Phi, built here.
    local function min_eigenvalue()
      local w, V = hasme.eig(H)
      w, V = plain(w), plain(V)
      local S = mmul(mmul(transpose(V), COV), V)
      for i = 1, 2 do
        for j = 1, 2 do
          local zi, zj = 0.25 * w[i], 0.25 * w[j]
          S[i][j] = S[i][j] * hasme.phi1(zi + zj - zi * zj)
        end
      end
      return hasme.eig(S)[1]
    end
    local TAIL = ": no SDE of this form exists here; pass psd = 'project' to clip it to the "
                 .. "nearest PSD matrix"

    it("is an error at set-up (linear kernel) and on the first step (general kernel)", function()
      local ev = min_eigenvalue()
      assert(ev < -0.03 and ev > -0.05, ev)
      local head = "simulate: the HA-SME diffusion V (S o Phi) V' is not positive semidefinite"
      for _, integrator in ipairs { "exact", "euler" } do
        assert.has_error(function()
          hasme.simulate { objective = hasme.quadratic { H = H }, noise = hasme.gaussian { cov = COV },
                           method = "hasme", integrator = integrator, eta = 0.25, steps = 3,
                           x0 = { 0.3, -0.2 }, paths = 8 }
        end, ("%s (eigenvalue %s)%s"):format(head, fmtf(ev), TAIL))
      end
      assert.has_error(function()
        hasme.simulate { objective = hasme.saddle { lambda = { 2, -2 }, quartic = 0 },
                         noise = hasme.gaussian { cov = COV }, method = "hasme", eta = 0.25,
                         steps = 3, x0 = { 0.3, -0.2 }, paths = 8 }
      end, ("%s at path 1, step 1 (eigenvalue %s)%s"):format(head, fmtf(ev), TAIL))
      assert.has_error(function()
        hasme.exact_moments { objective = hasme.quadratic { H = H }, noise = hasme.gaussian { cov = COV },
                              method = "hasme", eta = 0.25, x0 = { 0.3, -0.2 }, step = 3 }
      end, ("exact_moments: the HA-SME diffusion is not positive semidefinite (eigenvalue %s); "
            .. "pass psd = 'project' to clip it"):format(fmtf(ev)))
      -- The other models never build S o Phi.
      for _, m in ipairs { "sgd", "sme1", "sme2" } do
        assert.has_no.errors(function()
          hasme.simulate { objective = hasme.quadratic { H = H }, noise = hasme.gaussian { cov = COV },
                           method = m, eta = 0.25, steps = 3, x0 = { 0.3, -0.2 }, paths = 8 }
        end)
      end
    end)

    it("is clipped with psd = 'project', counted in r.projected, with the clipped law", function()
      local q, nz = hasme.quadratic { H = H }, hasme.gaussian { cov = COV }
      local r = hasme.simulate { objective = q, noise = nz, method = "hasme", eta = 0.25,
                                 steps = 6, x0 = { 0.3, -0.2 }, paths = 100000, seed = 55,
                                 psd = "project", record = { 2, 6 } }
      assert.are.equal(1, r.projected)   -- one eigenvalue clipped, once, at set-up
      assert.is_truthy(tostring(r):find("\n  PSD projections: 1", 1, true))
      -- The clipped diffusion: S o Phi with its negative eigenvalue set to 0, built
      -- here; its OU moments (RK4) against exact_moments and the simulation.
      local w, V = hasme.eig(H)
      w, V = plain(w), plain(V)
      local P = mmul(mmul(transpose(V), COV), V)
      for i = 1, 2 do
        for j = 1, 2 do
          local zi, zj = 0.25 * w[i], 0.25 * w[j]
          P[i][j] = P[i][j] * hasme.phi1(zi + zj - zi * zj)
        end
      end
      local pw, PV = hasme.eig(P)
      local clipped = zeros(2)
      for l = 1, 2 do
        local lam = max(pw[l], 0)
        for i = 1, 2 do
          for j = 1, 2 do clipped[i][j] = clipped[i][j] + lam * PV[i][l] * PV[j][l] end
        end
      end
      local M, c0 = ou_coefficients("hasme", H, nil, COV, 0.25)
      local means, covs = ou_moments(M, c0, mmul(mmul(V, clipped), transpose(V)), 0.25,
                                     { 0.3, -0.2 }, 6)
      for _, k in ipairs { 2, 6 } do
        local m, C = hasme.exact_moments { objective = q, noise = nz, method = "hasme", eta = 0.25,
                                           x0 = { 0.3, -0.2 }, step = k, psd = "project" }
        assert(relerr(m, means[k]) < 1e-10 and relerr(C, covs[k]) < 1e-10, k)
        assert_law(r, k, m, C, "projected")
        -- The clipped model is no longer SGD's law.
        local _, Cs = hasme.exact_moments { objective = q, noise = nz, method = "sgd", eta = 0.25,
                                            x0 = { 0.3, -0.2 }, step = k }
        assert(relerr(C, Cs) > 0.01)
      end
      -- The general kernel clips at every substep: one eigenvalue per evaluation.
      local g = hasme.simulate { objective = hasme.saddle { lambda = { 2, -2 }, quartic = 0 },
                                 noise = nz, method = "hasme", eta = 0.25, steps = 3, substeps = 4,
                                 x0 = { 0.3, -0.2 }, paths = 8, psd = "project" }
      assert.are.equal(8 * 3 * 4, g.projected)
    end)
  end)

  describe("divergence", function()
    -- SGD with eta lambda = 2.5 multiplies x by -1.5 per step (no noise): |x| passes
    -- the largest double after a number of steps found here by the same arithmetic.
    local q = hasme.quadratic { H = { { 1 } } }
    local function overflow_step(x)
      local k = 0
      repeat
        x = (1 - 2.5 * 1) * x
        k = k + 1
      until x ~= x or abs(x) == math.huge
      return k
    end

    it("is an error naming the first diverging path and step", function()
      local X = { { 0 }, { 0 }, { 2.71 }, { 0.58 } }
      local k = overflow_step(2.71)
      assert(k > 1700 and k < 1760, k)
      assert.has_error(function()
        hasme.simulate { objective = q, method = "sgd", eta = 2.5, steps = 3000, x0 = X, paths = 4 }
      end, ("simulate: path 3 diverged (inf or NaN) at step %d; pass on_diverge = 'record' "
            .. "to stop such paths and count them"):format(k))
    end)

    it("is counted with on_diverge = 'record', and the NaN rows are left out of the moments",
      function()
        local X = hasme.mat(20, 1)
        for i = 1, 20 do X[i] = { i % 4 == 0 and 0 or 0.37 * i } end
        local r = hasme.simulate { objective = q, method = "sgd", eta = 2.5, steps = 3000, x0 = X,
                                   paths = 20, on_diverge = "record", record = { 0, 100, 3000 } }
        assert.are.equal(15, r.diverged)
        local ds = r:diverged_steps()
        local S = r:snapshot(3000)
        for i = 1, 20 do
          if i % 4 == 0 then
            assert.are.equal(-1, ds[i])
            assert.are.equal(0, S[i][1])
          else
            assert.are.equal(overflow_step(0.37 * i), ds[i])
            assert.is_true(S[i][1] ~= S[i][1])          -- NaN
          end
        end
        -- At step 3000 only the five paths at 0 hold a state.
        assert.are.equal(0, r:mean(3000)[1])
        assert.are.equal(0, r:cov(3000)[1][1])
        local v = r:values(3000)
        assert.is_true(v[1] ~= v[1])
        assert.are.equal(0, v[4])
        -- At step 100 every path holds a state: x_100 = (-1.5)^100 x0.
        local m = 0.0
        for i = 1, 20 do m = m + (i % 4 == 0 and 0 or 0.37 * i) end
        local mean100 = r:mean(100)[1]
        assert(abs(mean100 - 1.5 ^ 100 * m / 20) < 1e-12 * abs(mean100))
        assert.is_truthy(tostring(r):find("\n  diverged: 15 paths", 1, true))
      end)

    it("refuses moments when every path diverged", function()
      local r = hasme.simulate { objective = q, method = "sgd", eta = 2.5, steps = 2000, x0 = { 1 },
                                 paths = 3, on_diverge = "record" }
      assert.has_error(function() r:mean() end,
        "mean: no path holds a state (every path diverged or left the model's domain)")
      assert.has_error(function() r:cov() end,
        "cov: fewer than 2 paths hold a state (the others diverged or left the model's domain)")
    end)
  end)

  describe("errors in Lua callbacks", function()
    -- Deterministic runs without noise on f = -x^2/2 (x grows by 1.1 per step from
    -- 0.01): paths 1 and 2 stay at 0, path 3 passes |x| = 1 at step 49 (x_49 = 1.067).
    local X = { { 0 }, { 0 }, { 0.01 } }
    local SAD = hasme.quadratic { H = { { -1 } } }

    it("reports the objective's own message with path and step", function()
      local obj = hasme.objective { dim = 1, f = function(x)
        if abs(x[1]) > 1 then error("f left the trusted region", 0) end
        return -0.5 * x[1] * x[1]
      end }
      -- The gradient (by differences of f) is evaluated at x_49 during step 50.
      assert.has_error(function()
        hasme.simulate { objective = obj, eta = 0.1, steps = 60, x0 = X, paths = 3 }
      end, "simulate: error in the objective at path 3, step 50: f left the trusted region")
      -- The same from worker threads running copies of the callback (a run that stops
      -- before the failure shows that the copies are made).
      local XX = {}
      for i = 1, 3000 do XX[i] = { i == 3 and 0.01 or 0 } end
      local ok = hasme.simulate { objective = obj, eta = 0.1, steps = 45, x0 = XX, paths = 3000, threads = 2 }
      assert.are.equal(1, ok:info().worker_states)
      assert.has_error(function()
        hasme.simulate { objective = obj, eta = 0.1, steps = 60, x0 = XX, paths = 3000, threads = 2 }
      end, "simulate: error in the objective at path 3, step 50: f left the trusted region")
    end)

    it("reports errors of grad and hess callbacks, error objects and bad results", function()
      local function grad(x) return { -x[1] } end
      local cases = {
        { { grad = function(x)
            if abs(x[1]) > 1 then error(setmetatable({}, { __tostring = function() return "custom failure" end })) end
            return grad(x)
          end }, "sgd", "custom failure" },
        { { grad = grad, hess = function(x)
            if abs(x[1]) > 1 then error("hess undefined out here", 0) end
            return { { -1 } }
          end }, "hasme", "hess undefined out here" },
        { { grad = function(x) return abs(x[1]) > 1 and "steep" or grad(x) end }, "sgd",
          "grad returned string, expected a number or vector" },
        { { grad = function(x) return abs(x[1]) > 1 and { 1, 2 } or grad(x) end }, "sgd",
          "grad returned a table of length 2, expected 1" },
        { { grad = function(x) return abs(x[1]) > 1 and { math.huge } or grad(x) end }, "sgd",
          "grad returned a non-finite value (inf) at index 1" },
      }
      for _, c in ipairs(cases) do
        local spec = c[1]
        spec.dim = 1
        local obj = hasme.objective(spec)
        -- SGD multiplies x by 1.1 per step; HA-SME's Euler step (one substep) by
        -- 1 + eta phi1(-eta) = 1 + log(1.1). The callback fails in the step after the
        -- one that takes x past 1.
        local growth = c[2] == "sgd" and 1.1 or 1 + log(1.1)
        local x, k = 0.01, 1
        while x <= 1 do x, k = x * growth, k + 1 end
        assert.has_error(function()
          hasme.simulate { objective = obj, method = c[2], integrator = c[2] ~= "sgd" and "euler" or nil,
                           substeps = 1, eta = 0.1, steps = 60, x0 = X, paths = 3 }
        end, ("simulate: error in the objective at path 3, step %d: %s"):format(k, c[3]))
      end
    end)

    it("reports errors of a state-dependent noise and of an escape predicate", function()
      local nz = hasme.gaussian { cov = function(x)
        if abs(x[1]) > 1 then error("no covariance out here", 0) end
        return { { 0 } }
      end }
      assert.has_error(function()
        hasme.simulate { objective = SAD, noise = nz, eta = 0.1, steps = 60, x0 = X, paths = 3 }
      end, "simulate: error in the noise at path 3, step 50: no covariance out here")
      local bad = hasme.gaussian { cov = function() return { { 1, 2 }, { 2, 1 } } end }
      assert.has_error(function()
        hasme.simulate { objective = hasme.quadratic { H = HMIN }, noise = bad, eta = 0.1,
                         steps = 6, x0 = X0, paths = 3 }
      end, "simulate: the noise covariance is not positive semidefinite at path 1, step 1 "
           .. "(eigenvalue -1.0)")
      -- The predicate is tested on x_k after step k: x_49 is the first beyond 1.
      assert.has_error(function()
        hasme.simulate { objective = SAD, eta = 0.1, steps = 60, x0 = X, paths = 3,
                         escape = function(x)
                           if abs(x[1]) > 1 then error("predicate undefined", 0) end
                           return false
                         end }
      end, "simulate: error in the escape at path 3, step 49: predicate undefined")
    end)
  end)

  describe("progress", function()
    local function big(changes)
      local o = opts { paths = 20000, steps = 40, method = "sgd", progress_interval = 0 }
      for k, v in pairs(changes) do o[k] = v end
      return o
    end

    it("reports done and total, and cancels when the callback returns false", function()
      local calls, last, total = 0, -1, nil
      hasme.simulate(big { progress = function(done, tot)
        calls = calls + 1
        assert(done >= last and done <= tot)
        last, total = done, tot
      end, threads = 1 })
      assert(calls > 10, calls)
      assert.are.equal(20000 * 40, total)
      local n = 0
      assert.has_error(function()
        hasme.simulate(big { progress = function() n = n + 1; return n < 3 end })
      end, "simulate: cancelled")
      assert.are.equal(3, n)
    end)

    it("stops with the callback's error", function()
      assert.has_error(function()
        hasme.simulate(big { progress = function() error("disk full", 0) end })
      end, "simulate: error in the progress callback: disk full")
      assert.has_error(sim { progress = 42 },
        "bad argument #1 to 'simulate' (field 'progress': function expected, got number)")
    end)
  end)

  describe("options", function()
    local PRE = "bad argument #1 to 'simulate' ("
    local VALID = "'objective', 'noise', 'method', 'eta', 'steps', 'x0', 'paths', 'seed', "
      .. "'integrator', 'substeps', 'record', 'escape', 'threads', 'on_diverge', 'psd', "
      .. "'psd_tol', 'memory_limit', 'progress', 'progress_interval', 'coupled' or 'on_domain'"

    it("rejects unknown option names", function()
      assert.has_error(sim { step = 3 }, PRE .. "unknown option 'step' (valid: " .. VALID .. "))")
      assert.has_error(sim { Seed = 3 }, PRE .. "unknown option 'Seed' (valid: " .. VALID .. "))")
    end)

    it("rejects a key that is not a string, naming it", function()
      assert.has_error(function() hasme.simulate { 7 } end,
        PRE .. "unexpected key 1 in options table (valid: " .. VALID .. "))")
    end)

    it("rejects missing, mistyped and out-of-range fields", function()
      local cases = {
        { { objective = "nil" }, "field 'objective': hasme.Objective expected, got nil" },
        { { objective = {} }, "field 'objective': hasme.Objective expected, got table" },
        { { noise = 3 }, "field 'noise': hasme.Noise expected, got number" },
        { { method = "sme3" }, "field 'method': expected 'sgd', 'sme1', 'sme2' or 'hasme', got 'sme3'" },
        { { method = 1 }, "field 'method': string expected, got number" },
        { { eta = "nil" }, "field 'eta': number expected, got nil" },
        { { eta = -0.25 }, "field 'eta': must be positive and finite (got -0.25)" },
        { { eta = math.huge }, "field 'eta': must be positive and finite (got inf)" },
        { { eta = "fast" }, "field 'eta': number expected, got string" },
        { { steps = "nil" }, "field 'steps': integer expected, got nil" },
        { { steps = 2.5 }, "field 'steps': integer expected, got 2.5" },
        { { steps = -2 }, "field 'steps': must be in [0, 1099511627776] (got -2)" },
        { { paths = 0 }, "field 'paths': must be in [1, 1099511627776] (got 0)" },
        { { seed = -1 }, "field 'seed': must be at least 0 (got -1)" },
        { { threads = 0 }, "field 'threads': must be in [1, 256] (got 0)" },
        { { substeps = 0 }, "field 'substeps': must be in [1, 1000000] (got 0)" },
        { { integrator = "rk4" }, "field 'integrator': expected 'euler' or 'exact', got 'rk4'" },
        { { on_diverge = "ignore" }, "field 'on_diverge': expected 'error' or 'record', got 'ignore'" },
        { { psd = "clip" }, "field 'psd': expected 'error' or 'project', got 'clip'" },
        { { psd_tol = -1e-9 }, "field 'psd_tol': must be finite and non-negative" },
        { { coupled = 1 }, "field 'coupled': boolean expected, got number" },
        { { x0 = "nil" }, "field 'x0': vector expected, got nil" },
        { { x0 = { 0 / 0, 1 } }, "field 'x0': non-finite entry at index 1" },
        { { escape = 3 }, "field 'escape': function or hasme.Escape expected, got number" },
        { { memory_limit = "lots" },
          "field 'memory_limit': byte count expected (such as 4e9 or \"4G\"), got 'lots'" },
        { { memory_limit = -5 }, "field 'memory_limit': must be a positive byte count" },
      }
      for _, c in ipairs(cases) do assert.has_error(sim(c[1]), PRE .. c[2] .. ")") end
      assert.has_error(function() hasme.simulate(3) end, PRE .. "table expected, got number)")
    end)

    it("rejects 'exact' for anything but a quadratic with constant Gaussian noise", function()
      local msg = PRE .. "field 'integrator': 'exact' needs a quadratic objective (hasme.quadratic) "
        .. "with constant Gaussian noise or none; use 'euler')"
      assert.has_error(sim { objective = hasme.wells { dim = 2 }, integrator = "exact" }, msg)
      assert.has_error(sim { noise = hasme.gaussian { cov = function() return { { 1, 0 }, { 0, 1 } } end },
                             integrator = "exact" }, msg)
      -- Without the option, such runs default to Euler.
      local r = hasme.simulate(opts { objective = hasme.wells { dim = 2 }, eta = 0.05,
                                      noise = hasme.gaussian { sigma = 0.1 } })
      assert.are.equal("euler", r.integrator)
      assert.are.equal(10, r.substeps)
    end)

    it("rejects wrong dimensions of x0, the noise and the escape criterion", function()
      assert.has_error(sim { x0 = { 1, 2, 3 } },
        PRE .. "field 'x0': vector of length 2 expected, got length 3)")
      assert.has_error(sim { x0 = hasme.mat(99, 2) },
        PRE .. "field 'x0': matrix of 100 x 2 (paths x dim) expected, got 99x2)")
      assert.has_error(sim { x0 = hasme.mat(100, 3) },
        PRE .. "field 'x0': matrix of 100 x 2 (paths x dim) expected, got 100x3)")
      assert.has_error(sim { noise = hasme.gaussian { cov = { { 1 } } } },
        PRE .. "field 'noise': noise of dimension 1 used with dimension 2)")
      assert.has_error(sim { escape = hasme.escape.ball_exit({ 0, 0, 0 }, 1) },
        PRE .. "field 'escape': criterion of dimension 3 used with dimension 2)")
      assert.has_error(sim { escape = hasme.escape.halfspace({ 1 }, 0.5) },
        PRE .. "field 'escape': criterion of dimension 1 used with dimension 2)")
    end)

    it("rejects record steps out of range or not integers", function()
      assert.has_error(sim { record = { 3, 9 } },
        PRE .. "field 'record': step 9 at index 2 is outside [0, 5])")
      assert.has_error(sim { record = { -1 } },
        PRE .. "field 'record': step -1 at index 1 is outside [0, 5])")
      assert.has_error(sim { record = { 1.5 } },
        PRE .. "field 'record': step 1.5 at index 1 is not an integer)")
      assert.has_error(sim { record = {} }, PRE .. "field 'record': no step given)")
      assert.has_error(sim { record = "some" },
        PRE .. "field 'record': vector expected (hasme.Vec or table of numbers), got string)")
    end)

    it("rejects a memory limit below what the results need", function()
      -- 6 recorded steps x 100 paths x 2 doubles = 9600 bytes = 9.4 KiB (no per-path
      -- step arrays: no escape criterion, divergence and domain exits are errors);
      -- with on_diverge = "record", 8 bytes more per path: 10400 bytes = 10.2 KiB.
      local tail = " (6 recorded steps x 100 paths x 2 dims), more than memory_limit = %s; "
        .. "record fewer steps or raise memory_limit"
      assert.has_error(sim { record = "all", memory_limit = 9599 },
        ("simulate: the results need 9.4 KiB" .. tail):format("9.4 KiB"))
      assert.has_error(sim { record = "all", memory_limit = "1K" },
        ("simulate: the results need 9.4 KiB" .. tail):format("1.0 KiB"))
      assert.has_error(sim { record = "all", memory_limit = 1000 },
        ("simulate: the results need 9.4 KiB" .. tail):format("1000.0 B"))
      assert.has_no.errors(sim { record = "all", memory_limit = 9600 })
      assert.has_error(sim { record = "all", memory_limit = 10399, on_diverge = "record" },
        ("simulate: the results need 10.2 KiB" .. tail):format("10.2 KiB"))
      assert.has_no.errors(sim { record = "all", memory_limit = "10400B", on_diverge = "record" })
    end)

    it("rejects minibatch noise on an objective that is not a finite sum", function()
      assert.has_error(sim { method = "sgd", noise = hasme.minibatch { batch = 2 } },
        PRE .. "field 'noise': minibatch noise needs a finite-sum objective (such as hasme.nn))")
    end)
  end)
end)

describe("hasme.Result", function()
  local function run(changes)
    local o = { objective = hasme.quadratic { H = HMIN, b = BVEC },
                noise = hasme.gaussian { cov = SCOV }, method = "sme2", eta = ETA, steps = 12,
                x0 = X0, paths = 37, seed = 2024, threads = 2 }
    for k, v in pairs(changes or {}) do o[k] = v end
    return hasme.simulate(o)
  end

  it("records the last step by default, any list of steps, or all of them", function()
    assert.are.same({ 12 }, run():record_steps())
    -- Sorted and de-duplicated.
    assert.are.same({ 0, 3, 12 }, run { record = { 12, 3, 0, 3 } }:record_steps())
    local all = run { record = "all" }
    local steps = all:record_steps()
    assert.are.equal(13, #steps)
    for k = 0, 12 do assert.are.equal(k, steps[k + 1]) end
    -- The same paths whatever is recorded.
    assert.is_nil(firstdiff(all:snapshot(12), run():snapshot(12)))
    assert.is_nil(firstdiff(all:snapshot(3), run { record = { 3, 12 } }:snapshot(3)))
    -- Step 0 is x0 on every path.
    local S0 = all:snapshot(0)
    for i = 1, 37 do assert.are.same(X0, S0[i]:totable()) end
    -- steps = 0: nothing moves.
    local z = run { steps = 0 }
    assert.are.same({ 0 }, z:record_steps())
    assert.are.same(X0, z:snapshot()[37]:totable())
  end)

  it("computes mean, cov and values from the snapshot", function()
    local r = run { record = { 4, 12 } }
    local S = r:snapshot(4)
    assert.are.equal(37, S:rows())
    assert.are.equal(2, S:cols())
    local rows = S:totable()
    local m, C = { 0, 0 }, zeros(2)
    for i = 1, 37 do for j = 1, 2 do m[j] = m[j] + rows[i][j] / 37 end end
    for i = 1, 37 do
      for a = 1, 2 do
        for b = 1, 2 do C[a][b] = C[a][b] + (rows[i][a] - m[a]) * (rows[i][b] - m[b]) / 36 end
      end
    end
    assert(relerr(r:mean(4), m) < 1e-14)
    assert(relerr(r:cov(4), C) < 1e-13)
    -- r:mean() and r:cov() without a step use the last recorded one.
    assert.are.equal(r:mean(12), r:mean())
    assert.are.equal(r:cov(12), r:cov())
    -- values: f(x_k) per path, or any function of x_k.
    local q = hasme.quadratic { H = HMIN, b = BVEC }
    local v = r:values(4)
    local u = r:values(4, function(x) return x[1] - 2 * x[2] end)
    assert.are.equal(37, #v)
    for i = 1, 37 do
      assert.are.equal(q:value(rows[i]), v[i])
      assert.are.equal(rows[i][1] - 2 * rows[i][2], u[i])
    end
  end)

  it("describes itself in fields, info() and tostring", function()
    local r = run { record = { 4, 12 }, substeps = 6 }
    assert.are.equal("sme2", r.method)
    assert.are.equal("exact", r.integrator)
    assert.are.equal(ETA, r.eta)
    assert.are.equal(12, r.steps)
    assert.are.equal(37, r.paths)
    assert.are.equal(2024, r.seed)
    assert.are.equal(6, r.substeps)
    assert.are.equal(2, r.threads)
    assert.are.equal("linear", r.kernel)
    assert.are.equal(0, r.escaped)
    assert.are.equal(0, r.diverged)
    assert.are.equal(0, r.projected)
    assert.is_true(r.elapsed >= 0 and r.elapsed < 5)
    local info = r:info()
    assert.are.equal("quadratic", info.objective)
    assert.are.equal("constant", info.noise)
    assert.are.equal("error", info.on_diverge)
    assert.are.equal("error", info.psd)
    assert.is_false(info.coupled)
    assert.are.equal(2, info.dim)
    -- info() is a copy.
    info.method = "changed"
    assert.are.equal("sme2", r.method)
    -- SGD is a discrete recursion.
    assert.are.equal("discrete", run { method = "sgd" }.integrator)
    local s = tostring(r)
    -- The exact integrator makes one transition per step: substeps are not shown.
    local head = ("hasme.Result: sme2 (exact), eta = %s, 12 steps, 37 paths, d = 2\n"
                  .. "  seed 2024, 2 threads, linear kernel, "):format(fmtf(ETA))
    assert.are.equal(head, s:sub(1, #head))
    assert.is_truthy(s:match("^%d+%.%d%d%d s\n  recorded steps: 4 12$", #head + 1))
  end)

  it("raises for steps that were not recorded and for absent outputs", function()
    local r = run { record = { 4, 12 } }
    local list = "(recorded: 4, 12))"
    assert.has_error(function() r:mean(7) end, "bad argument #1 to 'mean' (step 7 was not recorded " .. list)
    assert.has_error(function() r:cov(0) end, "bad argument #1 to 'cov' (step 0 was not recorded " .. list)
    assert.has_error(function() r:snapshot(13) end,
      "bad argument #1 to 'snapshot' (step 13 was not recorded " .. list)
    assert.has_error(function() r:values(5) end, "bad argument #1 to 'values' (step 5 was not recorded " .. list)
    assert.has_error(function() r:mean("last") end, "bad argument #1 to 'mean' (number expected, got string)")
    assert.has_error(function() r:escape_steps() end, "escape_steps: the run had no escape criterion")
    assert.has_error(function() r:diverged_steps() end,
      "diverged_steps: the run did not record divergence (on_diverge = 'record')")
    assert.has_error(function() r:values(4, function() return "x" end) end,
      "values: fn returned string for path 1, expected a number")
    assert.has_error(function() r:values(4, 3) end, "bad argument #2 to 'values' (function expected, got number)")
    local many = run { record = "all" }
    assert.has_error(function() many:mean(30) end, "bad argument #1 to 'mean' (step 30 was not recorded "
      .. "(recorded: 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, ...))")
    assert.has_error(function() run { paths = 1 }:cov() end,
      "cov: fewer than 2 paths hold a state (the others diverged or left the model's domain)")
  end)
end)

describe("hasme.compare", function()
  local function base()
    return { objective = hasme.quadratic { H = HMIN, b = BVEC }, noise = hasme.gaussian { cov = SCOV },
             eta = ETA, steps = 15, x0 = X0, paths = 2001, seed = 99 }
  end

  it("runs every method with common random numbers, each with its own law", function()
    local o = base()
    o.methods = { "hasme", "sgd", "sme1", "sme2" }
    o.substeps = 4
    local res = hasme.compare(o)
    for i, m in ipairs(o.methods) do
      assert.are.equal(res[m], res[i])
      assert.are.equal(m, res[i].method)
      assert.is_true(res[i].coupled)
      assert.are.equal(4, res[i].substeps)
      assert.are.equal(99, res[i].seed)
    end
    -- Coupling sums the substeps' normals into one standard normal per step: the
    -- laws are unchanged (5 SE at 2001 paths).
    local case = { H = HMIN, b = BVEC, noise = { cov = SCOV } }
    for _, m in ipairs(o.methods) do
      local means, covs = oracle(m == "hasme" and "sgd" or m, case, ETA, X0, 15)
      assert_law(res[m], 15, means[15], covs[15], "coupled " .. m)
    end
  end)

  it("gives SGD and SME-1 with one Euler substep the same paths (MATH.md section 5)", function()
    -- One Euler step per eta of SME-1 is Gaussian SGD: coupled, the paths coincide.
    local o = base()
    o.methods = { "sgd", "sme1" }
    o.integrator = "euler"
    o.substeps = 1
    local res = hasme.compare(o)
    local A, B = res.sgd:snapshot(), res.sme1:snapshot()
    for i = 1, 2001 do
      for j = 1, 2 do
        assert(abs(A[i][j] - B[i][j]) < 1e-12 * max(1, abs(A[i][j])), ("path %d"):format(i))
      end
    end
    -- Uncoupled (simulate without coupled), another stream layout: other paths.
    local u = base()
    u.method, u.integrator, u.substeps = "sme1", "euler", 1
    local C = hasme.simulate(u):snapshot()
    assert.is_not_nil(firstdiff(A, C))
  end)

  it("gives SGD and HA-SME (exact) the same paths to rounding in 2-d, as in 1-d", function()
    -- HA-SME's exact transition is SGD's recursion (MATH.md section 3), and compare{}
    -- drives both with the same normals: every path must agree to rounding, with
    -- isotropic and with correlated noise.
    for _, nz in ipairs { { cov = SCOV }, { sigma = SIGMA } } do
      local o = base()
      o.noise = hasme.gaussian(nz)
      o.methods = { "sgd", "hasme" }
      local res = hasme.compare(o)
      local A, B = res.sgd:snapshot(), res.hasme:snapshot()
      local worst = 0.0
      for i = 1, 2001 do
        for j = 1, 2 do worst = max(worst, abs(A[i][j] - B[i][j]) / max(1, abs(A[i][j]))) end
      end
      assert(worst < 1e-12, ("%s noise: paths differ by up to %.3g"):format(nz.sigma and "isotropic" or "correlated", worst))
    end
  end)

  it("checks its own options and passes the others to simulate", function()
    local PRE = "bad argument #1 to 'compare' ("
    assert.has_error(function() hasme.compare(3) end, PRE .. "table expected, got number)")
    assert.has_error(function() hasme.compare {} end,
      PRE .. "field 'methods': non-empty list of method names expected)")
    assert.has_error(function() hasme.compare { methods = {} } end,
      PRE .. "field 'methods': non-empty list of method names expected)")
    assert.has_error(function() hasme.compare { methods = { "sgd" }, method = "sgd" } end,
      PRE .. "use 'methods', not 'method')")
    assert.has_error(function() hasme.compare { methods = { "sgd", "adam" } } end,
      PRE .. "field 'methods': unknown method 'adam' at index 2; expected 'sgd', 'sme1', 'sme2' or 'hasme')")
    assert.has_error(function() hasme.compare { methods = { "sme1", "sme1" } } end,
      PRE .. "field 'methods': 'sme1' given twice)")
    local o = base()
    o.methods = { "sgd" }
    o.x0 = { 1, 2, 3 }
    assert.has_error(function() hasme.compare(o) end,
      "bad argument #1 to 'compare' (field 'x0': vector of length 2 expected, got length 3)")
    -- Errors of a run name the method.
    local o2 = base()
    o2.methods = { "sgd", "hasme" }
    o2.objective = hasme.quadratic { H = { { 30, 0 }, { 0, 1 } } }
    o2.eta = 0.05
    assert.has_error(function() hasme.compare(o2) end,
      "compare: method 'hasme': HA-SME is undefined: eta*lambda_max = 1.5 >= 1 (lambda_max = 30.0, "
        .. "eta = 0.05); it needs eta*lambda < 1 for every Hessian eigenvalue")
  end)
end)

describe("hasme.simulate and Ctrl-C", function()
  -- SIGINT in the middle of a long run stops it with an error the script can catch
  -- (the interpreter's own handler only acts inside Lua code); the handler in place
  -- before the run is restored after it.
  local bin = (os.getenv("HASME_BUILD") or "build") .. "/hasme"
  local script = [[
    local h = require "hasme"
    local function run(steps)
      return pcall(h.simulate, { objective = h.wells { dim = 1 }, noise = h.gaussian { sigma = 1 },
                                 method = "hasme", eta = 0.01, steps = steps, x0 = { -1 },
                                 paths = 64, threads = 2 })
    end
    io.write("ready\n"); io.flush()
    local ok, err = run(100000000)
    print(ok, err)
    print(run(10))
  ]]

  it("stops a run with 'simulate: interrupted' and the script goes on", function()
    local f = os.tmpname()
    local h = assert(io.open(f, "w"))
    h:write(script)
    h:close()
    local p = assert(io.popen(("%s %s & pid=$!; sleep 0.4; kill -INT $pid; wait $pid; echo status $?")
      :format(bin, f)))
    local out = p:read("a")
    p:close()
    os.remove(f)
    assert.matches("ready\nfalse\tsimulate: interrupted\ntrue\thasme.Result", out, 1, true)
    assert.matches("status 0", out, 1, true)
  end)
end)
