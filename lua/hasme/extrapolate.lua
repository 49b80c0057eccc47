-- hasme.extrapolate: weak second-order integration of the SDE models by Talay-Tubaro
-- extrapolation (D. Talay, L. Tubaro, "Expansion of the global error for numerical
-- schemes solving stochastic differential equations", Stoch. Anal. Appl. 8, 1990).
--
-- Euler-Maruyama's weak error has an expansion E g(X^dt_T) = E g(X_T) + C dt + O(dt^2)
-- for smooth drift, diffusion and g. Two Euler runs, one with dt = eta/m (fine) and one
-- with 2 dt (coarse), give 2 E g(fine) - E g(coarse) = E g(X_T) + O(dt^2). hasme runs
-- both on the SAME Brownian path: the fine run's substeps use one normal vector each,
-- the coarse run's the normalised sum of each pair (the engine's coupled normals), so
-- the per-path estimator 2 g(X_fine) - g(X_coarse) has a small variance, and the
-- correction E g(fine) - E g(coarse), about minus the fine run's own bias, comes with
-- a paired standard error. The scheme needs nothing beyond what Euler evaluates
-- (gradient, Hessian, noise covariance), so it applies to every SDE model and noise.
local M = {}

local sqrt = math.sqrt

local Extrapolated = {}
Extrapolated.__index = Extrapolated
Extrapolated.__name = "hasme.Extrapolated"

-- Per-path values of g at recorded step k in a run (fn: a Lua function of x, or nil
-- for the objective's value), as a plain list.
local function pathvalues(r, k, fn)
  local v = r:values(k, fn)
  local out = {}
  for i = 1, #v do out[i] = v[i] end
  return out
end

--- r:mean([k]): 2 mean(fine) - mean(coarse), the extrapolated mean of x_k.
function Extrapolated:mean(k)
  local f, c = self.fine:mean(k), self.coarse:mean(k)
  local t = {}
  for j = 1, #f do t[j] = 2 * f[j] - c[j] end
  return self._vec(t)
end

--- r:cov([k]): 2 cov(fine) - cov(coarse), the extrapolated covariance of x_k (a
-- combination of two estimates: symmetric, but not guaranteed PSD when the paths are
-- few or the correction large).
function Extrapolated:cov(k)
  local f, c = self.fine:cov(k):totable(), self.coarse:cov(k):totable()
  for i = 1, #f do
    for j = 1, #f do f[i][j] = 2 * f[i][j] - c[i][j] end
  end
  return self._mat(f)
end

--- r:values([k [, fn]]): per path the extrapolated estimator 2 g(x_fine) - g(x_coarse)
-- with g = fn or the objective's value; its mean estimates E g(X_{k eta}) to O(dt^2).
function Extrapolated:values(k, fn)
  local f, c = pathvalues(self.fine, k, fn), pathvalues(self.coarse, k, fn)
  local t = {}
  for i = 1, #f do t[i] = 2 * f[i] - c[i] end
  return self._vec(t)
end

--- r:dt_bias([k [, fn]]) -> mean, se: E g(fine) - E g(coarse) over the paths and its
-- standard error (paired), g = fn or the objective's value. It is the correction the
-- extrapolation applied: the fine Euler run's own bias is about minus this, and what
-- remains in the extrapolated estimate is of order dt^2 (a fraction of it of order dt).
function Extrapolated:dt_bias(k, fn)
  local f, c = pathvalues(self.fine, k, fn), pathvalues(self.coarse, k, fn)
  local n, s = 0, 0.0
  for i = 1, #f do
    if f[i] == f[i] and c[i] == c[i] then n, s = n + 1, s + (f[i] - c[i]) end
  end
  if n < 2 then error("dt_bias: fewer than 2 paths hold a state", 2) end
  local m, ss = s / n, 0.0
  for i = 1, #f do
    if f[i] == f[i] and c[i] == c[i] then ss = ss + (f[i] - c[i] - m) ^ 2 end
  end
  return m, sqrt(ss / (n - 1) / n)
end

--- r:snapshot([k [, which]]): the fine run's snapshot, or the coarse run's with
-- which = "coarse" (an extrapolated path does not exist: only moments do).
function Extrapolated:snapshot(k, which)
  if which == nil or which == "fine" then return self.fine:snapshot(k) end
  if which == "coarse" then return self.coarse:snapshot(k) end
  error(("bad argument #2 to 'snapshot' ('fine' or 'coarse' expected, got %s)"):format(tostring(which)), 2)
end

--- r:observed(name [, k]) -> mean, se: for runs with streaming observables, the
-- extrapolated mean 2 m_fine - m_coarse of an observable. The two runs' observables
-- are reduced separately, so the per-path pairing is lost: se is the bound
-- 2 se_fine + se_coarse (the exact paired se needs the per-path estimator, which
-- r:values gives from snapshots).
function Extrapolated:observed(name, k)
  local mf, sf = self.fine:observed(name, k)
  local mc, sc = self.coarse:observed(name, k)
  return 2 * mf - mc, 2 * sf + sc
end

function Extrapolated:record_steps() return self.fine:record_steps() end

function Extrapolated:diverged_steps() return self.fine:diverged_steps() end

function Extrapolated:undefined_steps() return self.fine:undefined_steps() end

function Extrapolated:escape_steps()
  error("escape_steps: escape is not available with integrator 'extrapolate'", 2)
end

--- r:info(): the fine run's info with integrator = "extrapolate", the coarse run's
-- substeps and the two runs' total time.
function Extrapolated:info()
  local t = self.fine:info()
  t.integrator = "extrapolate"
  t.coarse_substeps = self.coarse.substeps
  t.elapsed = self.fine.elapsed + self.coarse.elapsed
  t.projected = self.fine.projected + self.coarse.projected
  return t
end

function Extrapolated.__tostring(self)
  return ("hasme.Extrapolated: %s, eta = %s, %d steps, %d paths, d = %d\n"
    .. "  Talay-Tubaro extrapolation of Euler with %d and %d substeps on the same Brownian paths")
    :format(self.fine.method, tostring(self.fine.eta), self.fine.steps, self.fine.paths,
      self.fine.dim, self.fine.substeps, self.coarse.substeps)
end

-- Fields not found among the methods come from the info table (r.method, r.eta, ...).
local function index(self, key)
  local m = Extrapolated[key]
  if m ~= nil then return m end
  if key == "integrator" then return "extrapolate" end
  if key == "elapsed" or key == "projected" or key == "coarse_substeps" then return self:info()[key] end
  return self.fine[key]
end

local meta = { __index = index, __tostring = Extrapolated.__tostring, __name = "hasme.Extrapolated" }

local SDE = { sme1 = true, sme2 = true, hasme = true }

--- Run opts (the options of hasme.simulate, with integrator = "extrapolate") through
-- simulate (hasme.core.simulate) twice; vec and mat build hasme values.
-- SGD and SVAG are recursions of their own: the integrator does not apply to them, and
-- they run once, as with any other integrator.
function M.simulate(simulate, opts, vec, mat)
  local function fail(field, msg)
    error(("bad argument #1 to 'simulate' (field '%s': %s)"):format(field, msg), 3)
  end
  local o = {}
  for k, v in pairs(opts) do o[k] = v end
  o.integrator = "euler"
  if not SDE[o.method] then
    o.integrator = nil
    return simulate(o)
  end
  local m = o.substeps or 10
  if math.type(m) ~= "integer" or m < 2 or m % 2 ~= 0 then
    fail("substeps", ("integrator 'extrapolate' needs an even number of substeps, at least 2 (got %s)")
      :format(tostring(m)))
  end
  if o.escape ~= nil then
    fail("escape", "not available with integrator 'extrapolate' (extrapolation applies to "
      .. "expectations at fixed times, not to escape times)")
  end
  -- Both runs draw the same N normal vectors per step from each path's stream.
  local N = m
  if math.type(o.coupled) == "integer" then N = o.coupled end
  if N % m ~= 0 then
    fail("coupled", ("%d normal vectors per step cannot drive %d substeps"):format(N, m))
  end
  o.coupled = N
  local fine = simulate(o)
  o.substeps = m // 2
  local coarse = simulate(o)
  return setmetatable({ fine = fine, coarse = coarse, _vec = vec, _mat = mat }, meta)
end

return M
