-- Quadratic exactness: SGD against SME-1, SME-2 and HA-SME on quadratics with a
-- minimum and with a saddle, under commuting (isotropic) and non-commuting
-- (correlated) Gaussian noise, across learning rates.
--
-- On f(x) = 1/2 x'Hx with constant Gaussian noise, SGD after k steps is Gaussian
-- with closed-form moments (docs/methods.md section 6); HA-SME at time k*eta has exactly
-- that law, while SME-1 and SME-2 are off by O(eta). For each case and eta the
-- experiment simulates all four methods with common random numbers, compares the
-- sample moments with SGD's exact law, and prints each model's closed-form error
-- next to the simulated one. Distances: the relative error of the mean and of the
-- covariance, and the Wasserstein-2 distance between Gaussians with the moments.
local hasme = require "hasme"
local stats = hasme.stats

-- Every method the engine simulates (the core's list) and its display name, but
-- those with a parameter of their own (SVAG's svag_l), which this experiment leaves out.
local METHODS, NAMES = {}, {}
for _, m in ipairs(hasme.methods()) do
  if m.param == nil then
    METHODS[#METHODS + 1] = m.name
    NAMES[m.name] = m.label
  end
end

-- A rotation by angle a, so that H and the noise are not axis-aligned.
local function rotation(a)
  local c, s = math.cos(a), math.sin(a)
  return hasme.mat { { c, -s }, { s, c } }
end

-- The four problems: H = R diag(h) R', noise isotropic or with a correlated
-- covariance that does not commute with H.
local function cases(p)
  local R = rotation(0.6)
  local Hmin = R * hasme.diag { p.lambda_small, p.lambda_large } * R:t()
  local Hsad = R * hasme.diag { -p.lambda_small, p.lambda_large } * R:t()
  local s2 = p.sigma * p.sigma
  local corr = hasme.mat { { s2, p.rho * s2 }, { p.rho * s2, s2 * 0.5 } }
  local iso = hasme.gaussian { sigma = p.sigma }
  local cov = hasme.gaussian { cov = corr }
  return {
    { name = "minimum, commuting", H = Hmin, noise = iso },
    { name = "minimum, non-commuting", H = Hmin, noise = cov },
    { name = "saddle, commuting", H = Hsad, noise = iso },
    { name = "saddle, non-commuting", H = Hsad, noise = cov },
  }
end

local function relerr_mat(A, B)
  return (A - B):norm() / B:norm()
end

return {
  name = "quadratic_exactness",
  description = "SGD vs SME-1, SME-2, HA-SME on quadratics: moments and W2 against the closed forms",
  params = {
    etas = { 0.2, 0.1, 0.05 },  -- learning rates
    time = 2.0,                 -- compare at step k = time / eta
    lambda_small = 1.0,         -- |eigenvalue| of the soft (or unstable) direction
    lambda_large = 3.0,         -- eigenvalue of the stiff direction
    sigma = 0.8,                -- noise scale
    rho = 0.6,                  -- correlation of the non-commuting noise
    paths = 100000,
    substeps = 10,              -- coupling substeps of compare (exact integrators)
    seed = 1,
  },
  run = function(p, ctx)
    local x0 = { 1.0, -0.5 }
    local rows, w2rows = {}, {}
    local fig = {}          -- closed-form covariance error vs eta, per model and case
    local hist              -- the largest-eta saddle non-commuting samples
    local worst_hasme_exact = 0
    for ci, case in ipairs(cases(p)) do
      local q = hasme.quadratic { H = case.H }
      for ei, eta in ipairs(p.etas) do
        local k = math.floor(p.time / eta + 0.5)
        local rs = ctx:compare {
          methods = METHODS, objective = q, noise = case.noise, eta = eta, steps = k,
          x0 = x0, paths = p.paths, seed = p.seed + 100 * ci + ei, substeps = p.substeps,
        }
        local m0, C0 = hasme.exact_moments { objective = q, noise = case.noise, method = "sgd",
                                             eta = eta, x0 = x0, step = k }
        local scale = math.sqrt(C0:trace())   -- typical spread of SGD's law
        for _, method in ipairs(METHODS) do
          local r = rs[method]
          local me, Ce = hasme.exact_moments { objective = q, noise = case.noise,
                                               method = method, eta = eta, x0 = x0, step = k }
          local ms, Cs = r:mean(k), r:cov(k)
          local n = r.paths
          -- Monte Carlo standard errors: of the mean error (per unit of scale) and of
          -- the covariance error (Gaussian data: Var C_ij = (C_ii C_jj + C_ij^2)/(n-1)).
          local se_mean = scale / math.sqrt(n) / scale
          local cse = 0
          for i = 1, 2 do
            for j = 1, 2 do
              cse = cse + (C0[i][i] * C0[j][j] + C0[i][j] ^ 2) / (n - 1)
            end
          end
          cse = math.sqrt(cse) / C0:norm()
          rows[#rows + 1] = {
            case.name, eta, NAMES[method],
            (ms - m0):norm() / scale, (me - m0):norm() / scale, se_mean,
            relerr_mat(Cs, C0), relerr_mat(Ce, C0), cse,
            stats.gauss_w2(ms, Cs, m0, C0), stats.gauss_w2(me, Ce, m0, C0),
          }
          if method == "hasme" then
            worst_hasme_exact = math.max(worst_hasme_exact, relerr_mat(Ce, C0))
          end
          if method ~= "sgd" then
            local key = NAMES[method] .. ", " .. case.name:gsub(",.*", "")
              .. (case.name:find("non") and ", corr." or ", iso.")
            fig[key] = fig[key] or { label = key, x = {}, y = {}, method = method, case = ci }
            local e = relerr_mat(Ce, C0)
            if e > 0 then
              table.insert(fig[key].x, eta)
              table.insert(fig[key].y, e)
            end
          end
        end
        if ci == 4 and ei == 1 then
          hist = { eta = eta, k = k, m0 = m0, C0 = C0 }
          for _, method in ipairs(METHODS) do
            local S = rs[method]:snapshot(k)
            hist[method] = S:col(1)
          end
        end
        ctx:log("%s, eta = %g: done", case.name, eta)
      end
    end
    ctx:table("moments", {
      title = "error of each model against SGD's exact law at time " .. p.time
        .. " (relative to SGD's spread; 'exact' = closed form of the model, 'sim' = simulated)",
      columns = { "case", "eta", "model", "mean_err_sim", "mean_err_exact", "mean_se",
                  "cov_relerr_sim", "cov_relerr_exact", "cov_se", "w2_sim", "w2_exact" },
      rows = rows,
      formats = { mean_err_sim = "%.3g", mean_err_exact = "%.3g", mean_se = "%.2g",
                  cov_relerr_sim = "%.3g", cov_relerr_exact = "%.3g", cov_se = "%.2g",
                  w2_sim = "%.3g", w2_exact = "%.3g" },
    })
    -- The closed-form covariance error against eta: O(eta) for SME-1, smaller for
    -- SME-2, zero (to rounding) for HA-SME, which is therefore not on the log axes.
    local series = {}
    for _, method in ipairs { "sme1", "sme2" } do
      for ci = 1, 4, 3 do
        for _, s in pairs(fig) do
          if s.method == method and s.case == ci and #s.x >= 2 then
            series[#series + 1] = { label = s.label, x = s.x, y = s.y }
          end
        end
      end
    end
    ctx:figure("cov_error", {
      kind = "loglog", series = series, fit = true,
      title = "covariance error vs SGD (closed forms; HA-SME is exact)",
      xlabel = "learning rate eta", ylabel = "relative covariance error",
    })
    local sd = math.sqrt(hist.C0[1][1])
    local series_h = {}
    for _, method in ipairs(METHODS) do
      series_h[#series_h + 1] = { label = NAMES[method], values = hist[method] }
    end
    ctx:figure("saddle_marginal", {
      kind = "histograms", series = series_h, bins = 80, density = true,
      range = { hist.m0[1] - 4.5 * sd, hist.m0[1] + 4.5 * sd },
      curves = { { label = "SGD exact law", fn = function(x)
        return math.exp(-0.5 * ((x - hist.m0[1]) / sd) ^ 2) / (sd * math.sqrt(2 * math.pi))
      end } },
      title = ("saddle, correlated noise, eta = %g, step %d: HA-SME paths coincide with SGD's")
        :format(hist.eta, hist.k),
      xlabel = "x_1", ylabel = "density",
    })
    return { worst_hasme_closed_form_cov_error = worst_hasme_exact }
  end,
}
