-- sim_helpers.lua: what the sim_*_spec files share (not a spec itself): small dense
-- linear algebra on plain Lua tables, independent of hasme.Mat; the test problems;
-- and the oracles, recomputed here independently of the engine: SGD's moments by the
-- moment recursion of the linear map, the SDE models' moments by integrating their
-- moment ODEs with RK4, Euler-Maruyama laws by the moment recursion of one substep.
-- The mathematics is in docs/methods.md.
--
-- Monte Carlo checks use fixed seeds (so every run is the same) and tolerances of 5
-- standard errors of the estimate, stated at each check: a correct engine fails one
-- such check with probability below 1e-6.
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
-- quadratic (docs/methods.md sections 2 and 5): dX = -(M X + c0) dt + sqrt(eta) D dW.
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

-- The mean of a list and its standard error sqrt(var / n).
local function mean_se(x)
  local mu, var = mean_var(x)
  return mu, sqrt(var / #x)
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


-- A float as Lua prints it (messages quote numbers that way).
local function fmtf(x)
  local s = ("%.14g"):format(x)
  if s:match("^%-?%d+$") then s = s .. ".0" end
  return s
end

return {
  fmtf = fmtf,
  hasme = hasme,
  abs = abs,
  sqrt = sqrt,
  max = max,
  min = min,
  log = log,
  error = error,
  plain = plain,
  zeros = zeros,
  eye = eye,
  mmul = mmul,
  mvec = mvec,
  transpose = transpose,
  lincomb = lincomb,
  flat = flat,
  relerr = relerr,
  ETA = ETA,
  HMIN = HMIN,
  HSAD = HSAD,
  BVEC = BVEC,
  X0 = X0,
  SIGMA = SIGMA,
  SCOV = SCOV,
  sigma_matrix = sigma_matrix,
  CASES = CASES,
  objective_of = objective_of,
  noise_of = noise_of,
  sgd_recursion = sgd_recursion,
  ou_coefficients = ou_coefficients,
  ou_moments = ou_moments,
  euler_moments = euler_moments,
  oracle = oracle,
  deviation = deviation,
  assert_law = assert_law,
  array = array,
  escape_array = escape_array,
  ks2 = ks2,
  mean_var = mean_var,
  mean_se = mean_se,
  firstdiff = firstdiff,
  samevec = samevec,
}
