-- Escape from a saddle: SGD and its SDE models started at the saddle point of
-- f(x) = 1/2 x'Hx, H = diag(-lambda, mu), leave the ball |x| <= radius; the escape
-- step distributions are compared across learning rates.
--
-- On a quadratic, HA-SME's path sampled every eta has SGD's law (docs/methods.md
-- section 6), so its escape-step distribution must coincide with SGD's: with the
-- coupled noise of hasme.compare the paths are the same up to rounding and so are the
-- escape steps. SME-1 and SME-2 grow along the unstable direction like exp(lambda t)
-- and exp((lambda - eta lambda^2 / 2) t) instead of SGD's (1 + eta lambda)^k, and
-- escape measurably earlier or later.
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
  name = "saddle_escape",
  description = "escape from a quadratic saddle: escape-step distributions of SGD and each model across eta",
  params = {
    etas = { 0.4, 0.2, 0.1, 0.05 },
    lambda = 1.0,     -- curvature of the unstable direction (eigenvalue -lambda)
    mu = 2.0,         -- curvature of the stable direction
    sigma = 0.3,      -- isotropic gradient-noise scale
    radius = 1.0,     -- escape when |x| > radius
    horizon = 30.0,   -- time horizon: steps = horizon / eta
    paths = 20000,
    substeps = 10,
    seed = 2,
  },
  run = function(p, ctx)
    local q = hasme.quadratic { H = { { -p.lambda, 0 }, { 0, p.mu } } }
    local noise = hasme.gaussian { sigma = p.sigma }
    local escape = hasme.escape.ball_exit({ 0, 0 }, p.radius)
    local rows = {}
    local curve = {}        -- mean escape time vs eta, per model
    local survival          -- survival curves at the largest eta
    for ei, eta in ipairs(p.etas) do
      local K = math.floor(p.horizon / eta + 0.5)
      local rs = ctx:compare {
        methods = METHODS, objective = q, noise = noise, eta = eta, steps = K,
        x0 = { 0, 0 }, paths = p.paths, seed = p.seed + ei, substeps = p.substeps,
        escape = escape, record = { K },
      }
      local sgd_steps = rs.sgd:escape_steps()
      local sgd = stats.escape_summary(sgd_steps, K)
      local sgd_esc = {}
      for i = 1, #sgd_steps do
        if sgd_steps[i] > 0 then sgd_esc[#sgd_esc + 1] = sgd_steps[i] end
      end
      for _, method in ipairs(METHODS) do
        local steps = rs[method]:escape_steps()
        local e = stats.escape_summary(steps, K)
        local esc = {}
        for i = 1, #steps do
          if steps[i] > 0 then esc[#esc + 1] = steps[i] end
        end
        -- Mean escape time with a 95% interval (escaped paths; censoring stated).
        local t, lo, hi = e.mean * eta, (e.mean - 1.96 * e.mean_se) * eta,
                          (e.mean + 1.96 * e.mean_se) * eta
        local D, pv = 0, 1
        if method ~= "sgd" then D, pv = stats.ks(esc, sgd_esc) end
        rows[#rows + 1] = { eta, NAMES[method], e.escaped, e.n, t, lo, hi,
                            e.mean / sgd.mean - 1, D, pv }
        curve[method] = curve[method] or { label = NAMES[method], x = {}, y = {}, lo = {}, hi = {} }
        local c = curve[method]
        c.x[#c.x + 1], c.y[#c.y + 1], c.lo[#c.lo + 1], c.hi[#c.hi + 1] = eta, t, lo, hi
        if ei == 1 then
          survival = survival or {}
          survival[#survival + 1] = { label = NAMES[method], steps = steps, horizon = K }
        end
      end
      ctx:log("eta = %g: done", eta)
    end
    ctx:table("escape", {
      title = "escape from the saddle: mean escape time (steps x eta) of the escaped paths, "
        .. "95% interval; relative difference and two-sample KS against SGD",
      columns = { "eta", "model", "escaped", "paths", "mean_time", "lo", "hi",
                  "rel_vs_sgd", "ks_D", "ks_p" },
      rows = rows,
      formats = { mean_time = "%.4g", lo = "%.4g", hi = "%.4g", rel_vs_sgd = "%+.3f",
                  ks_D = "%.4f", ks_p = "%.3g" },
    })
    local series = {}
    for _, m in ipairs(METHODS) do series[#series + 1] = curve[m] end
    ctx:figure("mean_escape_time", {
      kind = "lines", series = series, logx = true,
      title = "mean escape time from the saddle (HA-SME coincides with SGD)",
      xlabel = "learning rate eta", ylabel = "mean escape time (steps x eta)",
    })
    ctx:figure("survival", {
      kind = "survival", series = survival,
      title = ("P(not escaped by step k), eta = %g"):format(p.etas[1]),
      xlabel = "step k", ylabel = "survival",
    })
    local worst = 0
    for _, r in ipairs(rows) do
      if r[2] == "HA-SME" then worst = math.max(worst, r[9]) end
    end
    return { hasme_max_ks_D = worst }
  end,
}
