-- coupling_spec.lua: one factorisation convention for every method's noise, so that
-- compare{} couples them. Every model's diffusion factor is the symmetric positive
-- semidefinite square root of its own diffusion matrix: Sigma(x)^(1/2) for SGD, SME-1
-- and SME-2, (V (S o Phi) V')^(1/2) for HA-SME. It is continuous in the state, does not
-- depend on how an eigensolver orders or signs eigenvectors, and tends to Sigma^(1/2)
-- as eta -> 0, so the same normals drive the same directions in every model.
-- Checks: the factor itself, path by path against normals drawn here from each path's
-- stream; the paired spread against the unpaired one on non-quadratic objectives in
-- d = 2 and d = 8 and on a network with the Gaussian minibatch surrogate.
local hasme = require "hasme"

local abs, sqrt, max = math.abs, math.sqrt, math.max

-- {====================================================================
-- Helpers on plain tables
-- ====================================================================

local function plain(x) return type(x) == "table" and x or x:totable() end

local function matvec(A, x)
  A, x = plain(A), plain(x)
  local y = {}
  for i = 1, #A do
    local s = 0.0
    for j = 1, #x do s = s + A[i][j] * x[j] end
    y[i] = s
  end
  return y
end

-- The HA-SME diffusion matrix V (S o Phi) V' / the plain covariance, for H and Sigma.
local function hasme_diffusion(H, Sigma, eta)
  local w, V = hasme.eig(H)
  w, V = plain(w), plain(V)
  local d = #w
  local S = {}
  for i = 1, d do
    S[i] = {}
    for j = 1, d do
      local s = 0.0
      for a = 1, d do
        for b = 1, d do s = s + V[a][i] * Sigma[a][b] * V[b][j] end
      end
      local zi, zj = eta * w[i], eta * w[j]
      S[i][j] = s * hasme.phi1(zi + zj - zi * zj)
    end
  end
  local M = {}
  for a = 1, d do
    M[a] = {}
    for b = 1, d do
      local s = 0.0
      for i = 1, d do
        for j = 1, d do s = s + V[a][i] * S[i][j] * V[b][j] end
      end
      M[a][b] = s
    end
  end
  for a = 1, d do for b = 1, a - 1 do M[a][b] = 0.5 * (M[a][b] + M[b][a]); M[b][a] = M[a][b] end end
  return M
end

local function sqrtm(M) return plain(hasme.matfun(M, function(l) return sqrt(max(l, 0)) end)) end

local function sd(v)
  local n, m = #v, 0.0
  for i = 1, n do m = m + v[i] end
  m = m / n
  local s = 0.0
  for i = 1, n do s = s + (v[i] - m) ^ 2 end
  return sqrt(s / (n - 1))
end

-- The largest, over coordinates j, of sd(x_j(m) - x_j(ref)) / sqrt(var x_j(m) + var x_j(ref))
-- at the last recorded step: 1 for independent runs, small for well coupled ones.
local function spread_ratio(A, B)
  local worst = 0.0
  for j = 1, A:cols() do
    local dv, a, b = {}, {}, {}
    for p = 1, A:rows() do
      a[p], b[p] = A[p][j], B[p][j]
      dv[p] = b[p] - a[p]
    end
    worst = max(worst, sd(dv) / sqrt(sd(a) ^ 2 + sd(b) ^ 2))
  end
  return worst
end

-- }====================================================================

describe("the diffusion factor of every method", function()
  local H = { { 1.37, 0.41, -0.22 }, { 0.41, 0.93, 0.17 }, { -0.22, 0.17, 2.06 } }
  local BV = { 0.13, -0.29, 0.07 }
  local SIG = { { 0.52, 0.31, -0.08 }, { 0.31, 0.44, 0.05 }, { -0.08, 0.05, 0.29 } }
  local X0 = { 0.71, -0.38, 0.54 }
  local ETA = 0.213
  local SEED = 41

  -- The same quadratic as a built-in (linear kernel) and as a Lua objective (general kernel).
  local function objectives()
    local lua = hasme.objective {
      dim = 3,
      f = function(x)
        local s = 0.0
        for i = 1, 3 do
          for j = 1, 3 do s = s + 0.5 * x[i] * H[i][j] * x[j] end
          s = s + BV[i] * x[i]
        end
        return s
      end,
      grad = function(x)
        local g = {}
        for i = 1, 3 do
          local s = BV[i]
          for j = 1, 3 do s = s + H[i][j] * x[j] end
          g[i] = s
        end
        return g
      end,
      hess = function() return H end,
    }
    return { { "linear", hasme.quadratic { H = H, b = BV } }, { "general", lua } }
  end

  local function drift(method, g)
    if method == "sgd" or method == "sme1" then
      return { -g[1], -g[2], -g[3] }
    elseif method == "sme2" then
      local hg = matvec(H, g)
      return { -(g[1] + 0.5 * ETA * hg[1]), -(g[2] + 0.5 * ETA * hg[2]), -(g[3] + 0.5 * ETA * hg[3]) }
    end
    local P = plain(hasme.matfun(H, function(l) return hasme.phi1(ETA * l) end))
    local t = matvec(P, g)
    return { -t[1], -t[2], -t[3] }
  end

  for _, nz in ipairs { { "correlated", { cov = SIG } }, { "isotropic", { sigma = 0.47 } } } do
    local Sigma = nz[2].cov or { { 0.47 ^ 2, 0, 0 }, { 0, 0.47 ^ 2, 0 }, { 0, 0, 0.47 ^ 2 } }
    for _, method in ipairs { "sgd", "sme1", "sme2", "hasme" } do
      it(("is the symmetric square root of its diffusion matrix: %s, %s noise"):format(method, nz[1]),
        function()
          local M = method == "hasme" and hasme_diffusion(H, Sigma, ETA) or Sigma
          local R = sqrtm(M)
          local q = hasme.quadratic { H = H, b = BV }
          local b = drift(method, plain(q:grad(X0)))
          for _, o in ipairs(objectives()) do
            -- One step of one Euler substep: x1 = x0 + eta b + eta M^(1/2) z, z the
            -- first d normals of the path's stream.
            local r = hasme.simulate { objective = o[2], noise = hasme.gaussian(nz[2]), method = method,
                                       integrator = method ~= "sgd" and "euler" or nil,
                                       substeps = method ~= "sgd" and 1 or nil, eta = ETA, steps = 1,
                                       x0 = X0, paths = 17, seed = SEED }
            assert.are.equal(o[1], r.kernel)
            local S = r:snapshot(1)
            for p = 1, 17 do
              local z = plain(hasme.rng(SEED, p - 1):normals(3))
              local n = matvec(R, z)
              for i = 1, 3 do
                local want = X0[i] + ETA * b[i] + ETA * n[i]
                assert(abs(S[p][i] - want) < 1e-12,
                  ("%s kernel, path %d, x[%d] = %.17g, want %.17g"):format(o[1], p, i, S[p][i], want))
              end
            end
          end
        end)
    end
  end

  it("of HA-SME tends to SGD's as eta -> 0: one coupled step differs by O(eta^2)", function()
    -- In one Euler substep the two states differ by eta (b_h - b_s) + eta (D_h - D_s) z
    -- with both differences O(eta): the largest gap over paths divided by eta^2 stays put
    -- while eta halves (a factor 2 would mean O(eta), a factor 4 that it does not converge).
    local gaps = {}
    for k, eta in ipairs { 0.08, 0.04, 0.02 } do
      local res = hasme.compare { objective = hasme.quadratic { H = H, b = BV },
                                  noise = hasme.gaussian { cov = SIG }, methods = { "sgd", "hasme" },
                                  integrator = "euler", substeps = 1, eta = eta, steps = 1, x0 = X0,
                                  paths = 200, seed = SEED }
      local A, B, g = res.sgd:snapshot(), res.hasme:snapshot(), 0.0
      for p = 1, 200 do for i = 1, 3 do g = max(g, abs(A[p][i] - B[p][i])) end end
      gaps[k] = g / eta ^ 2
    end
    for k = 2, 3 do
      local q = gaps[k] / gaps[k - 1]
      assert(q > 0.8 and q < 1.25, ("gap / eta^2 changed by %.3f when eta halved"):format(q))
    end
  end)
end)

describe("compare{} couples every method with SGD", function()
  -- Non-quadratic objectives: coupled double wells sum (x_i^2 - 1)^2/4 + x'Qx/2 + tilt'x.
  local function wells(d)
    local Q, tilt, x0, C = {}, {}, {}, {}
    for i = 1, d do
      Q[i], C[i] = {}, {}
      for j = 1, d do
        Q[i][j] = i == j and 0.31 or 0.14
        C[i][j] = i == j and 0.33 or 0.12
      end
      tilt[i] = 0.05 * i
      x0[i] = 0.3 * (-1) ^ i
    end
    return hasme.wells { dim = d, Q = Q, tilt = tilt }, x0, C
  end

  for _, d in ipairs { 2, 8 } do
    for _, kind in ipairs { "isotropic", "correlated" } do
      it(("on coupled double wells in d = %d, %s noise, eta = 0.05: HA-SME as well as SME-2"):format(d, kind),
        function()
          local obj, x0, C = wells(d)
          local noise = kind == "isotropic" and hasme.gaussian { sigma = 0.5 } or hasme.gaussian { cov = C }
          local res = hasme.compare { objective = obj, noise = noise, methods = { "sgd", "sme1", "sme2", "hasme" },
                                      eta = 0.05, steps = 20, x0 = x0, paths = 2000, seed = 17, substeps = 10 }
          local A, ratio = res.sgd:snapshot(), {}
          for _, m in ipairs { "sme1", "sme2", "hasme" } do
            ratio[m] = spread_ratio(A, res[m]:snapshot())
            -- Independent runs give 1; each model is an O(eta) perturbation of SGD.
            assert(ratio[m] < 0.05, ("%s: paired/unpaired spread %.4f"):format(m, ratio[m]))
          end
          -- The relative SE of a ratio of spreads at 2000 paths is about 2%.
          assert(ratio.hasme <= 1.1 * ratio.sme2,
            ("HA-SME %.4f above SME-2 %.4f"):format(ratio.hasme, ratio.sme2))
        end)
    end
  end

  it("on a network with the Gaussian minibatch surrogate (ill-conditioned, state-dependent noise)", function()
    local N = 16
    local X, Y = {}, {}
    for i = 1, N do
      X[i] = { -2 + 4 * (i - 0.5) / N }
      Y[i] = math.sin(1.5 * X[i][1]) + 0.1 * math.sin(7 * i)
    end
    local net = hasme.nn { X = X, y = Y, hidden = 3 }
    local th = {}
    for k = 1, net:dim() do th[k] = 0.5 * math.sin(0.9 * k + 0.2) end
    local res = hasme.compare { objective = net, noise = hasme.minibatch { batch = 4, gaussian = true },
                                methods = { "sgd", "sme1", "sme2", "hasme" }, eta = 0.1, steps = 10,
                                x0 = th, paths = 1000, seed = 3, substeps = 10, psd = "project" }
    local A, ratio = res.sgd:snapshot(), {}
    for _, m in ipairs { "sme1", "sme2", "hasme" } do
      ratio[m] = spread_ratio(A, res[m]:snapshot())
      assert(ratio[m] < 0.15, ("%s: paired/unpaired spread %.4f"):format(m, ratio[m]))
    end
    assert(ratio.hasme <= 1.1 * ratio.sme2, ("HA-SME %.4f above SME-2 %.4f"):format(ratio.hasme, ratio.sme2))
  end)
end)
