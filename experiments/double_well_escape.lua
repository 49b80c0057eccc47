-- Escape from one well of a double well: f(x) = (x^2 - 1)^2 / 4 (hasme.wells, d = 1),
-- started at the left minimum x = -1, escaped when x > threshold past the barrier at
-- 0. The learning rate shrinks at a fixed temperature eps = eta sigma^2 / 2, so every
-- SDE model tends to the same diffusion dX = -f'(X) dt + sqrt(2 eps) dW and the
-- question is how fast each model's mean escape time approaches SGD's.
--
-- Beyond quadratics nothing guarantees which model is closest (docs/methods.md
-- section 7): this experiment reports what it measures, whichever model wins. For
-- reference it prints the Eyring-Kramers small-noise law for the diffusion,
--   E[tau] ~ 2 pi / |lambda_s| sqrt(|H_s| / H_m) exp(Delta f / eps) = 2 pi / sqrt 2 e^{1/(4 eps)},
-- an asymptotic statement about reaching the saddle, not an exact value at this eps.
-- HA-SME needs eta f''(x) < 1 along each path; paths that leave that domain are
-- stopped and counted (on_domain = "record") rather than silently continued.
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

return {
  name = "double_well_escape",
  description = "escape over the barrier of a 1-d double well at fixed eta*sigma^2: mean escape time of each model vs SGD",
  params = {
    etas = { 0.1, 0.05, 0.025 },
    eps = 0.1,          -- temperature eta sigma^2 / 2, held fixed
    threshold = 0.5,    -- escaped when x > threshold
    horizon = 400.0,    -- time horizon (steps = horizon / eta)
    paths = 20000,
    substeps = 8,       -- Euler-Maruyama steps per SGD step for the SDE models
    seed = 3,
  },
  run = function(p, ctx)
    local well = hasme.wells { dim = 1 }
    local escape = hasme.escape.halfspace({ 1 }, p.threshold)
    local kramers = 2 * math.pi / math.sqrt(2) * math.exp(0.25 / p.eps)
    local rows, curve, survival = {}, {}, nil
    for ei, eta in ipairs(p.etas) do
      local sigma = math.sqrt(2 * p.eps / eta)
      local K = math.floor(p.horizon / eta + 0.5)
      local rs = ctx:compare {
        methods = METHODS, objective = well, noise = hasme.gaussian { sigma = sigma },
        eta = eta, steps = K, x0 = { -1 }, paths = p.paths, seed = p.seed + ei,
        substeps = p.substeps, escape = escape, on_domain = "record",
      }
      local base
      for _, method in ipairs(METHODS) do
        local r = rs[method]
        local steps = r:escape_steps()
        -- Paths on which HA-SME became undefined are neither escaped nor censored:
        -- they are left out of the escape statistics and counted.
        local kept = {}
        if r.undefined > 0 then
          local u = r:undefined_steps()
          for i = 1, #steps do
            if u[i] < 0 then kept[#kept + 1] = steps[i] end
          end
          steps = kept
        end
        local e = stats.escape_summary(steps, K)
        local t, se = e.mean * eta, e.mean_se * eta
        if method == "sgd" then base = { t = t, se = se } end
        -- Relative error against SGD with a 95% interval by the delta method,
        -- treating the two means as independent (coupling makes this conservative).
        local rel = t / base.t - 1
        local rse = (t / base.t) * math.sqrt((se / t) ^ 2 + (base.se / base.t) ^ 2)
        if method == "sgd" then rse = 0 end
        rows[#rows + 1] = { eta, sigma, NAMES[method], e.n, e.escaped, e.censored, r.undefined,
                            t, t - 1.96 * se, t + 1.96 * se, rel, rel - 1.96 * rse,
                            rel + 1.96 * rse }
        curve[method] = curve[method] or { label = NAMES[method], x = {}, y = {}, lo = {}, hi = {} }
        local c = curve[method]
        c.x[#c.x + 1], c.y[#c.y + 1] = eta, t
        c.lo[#c.lo + 1], c.hi[#c.hi + 1] = t - 1.96 * se, t + 1.96 * se
        if ei == 1 then
          survival = survival or {}
          survival[#survival + 1] = { label = NAMES[method], steps = steps, horizon = K }
        end
      end
      ctx:log("eta = %g (sigma = %.4g): done", eta, sigma)
    end
    ctx:table("escape", {
      title = ("mean escape time (steps x eta, escaped paths) at temperature eps = %g; "
        .. "Eyring-Kramers reference %.4g"):format(p.eps, kramers),
      columns = { "eta", "sigma", "model", "paths", "escaped", "censored", "undefined",
                  "mean_time", "lo", "hi", "rel_vs_sgd", "rel_lo", "rel_hi" },
      rows = rows,
      formats = { sigma = "%.4g", mean_time = "%.4g", lo = "%.4g", hi = "%.4g",
                  rel_vs_sgd = "%+.4f", rel_lo = "%+.4f", rel_hi = "%+.4f" },
    })
    local series = {}
    for _, m in ipairs(METHODS) do series[#series + 1] = curve[m] end
    ctx:figure("mean_escape_time", {
      kind = "lines", series = series, logx = true,
      title = ("double well at eps = %g: mean escape time, 95%% intervals (Kramers: %.1f)")
        :format(p.eps, kramers),
      xlabel = "learning rate eta", ylabel = "mean escape time (steps x eta)",
    })
    ctx:figure("survival", {
      kind = "survival", series = survival, logy = true,
      title = ("P(not escaped by step k), eta = %g (log scale: straight = exponential law)")
        :format(p.etas[1]),
      xlabel = "step k", ylabel = "survival",
    })
    local summary = { kramers = kramers }
    for _, r in ipairs(rows) do
      if r[1] == p.etas[1] and r[3] ~= "SGD" then
        summary["rel_" .. r[3]:lower():gsub("%-", "") .. "_eta_" .. r[1]] = r[11]
      end
    end
    return summary
  end,
}
