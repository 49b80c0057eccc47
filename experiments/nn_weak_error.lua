-- Weak error on a small neural-network loss with real minibatch noise.
--
-- The loss is a two-layer tanh network with squared loss over a fixed dataset
-- (hasme.nn), a finite sum, so SGD draws real minibatches (without replacement); the
-- SDE models use the matching state-dependent covariance (per-sample gradient
-- covariance / B times (N - B)/(N - 1)). For test functions phi the weak error of a
-- model at time T is |E phi(x_{T/eta}) - E phi(X_T)| (MATH.md section 4), estimated
-- from independent Monte Carlo samples with a 95% interval; its order in eta is the
-- slope of a log-log fit. The SDEs are integrated with Euler-Maruyama at a fixed time
-- step dt, finer than every eta, so that discretisation stays below the model error
-- being measured (first order in dt).
--
-- The minibatch covariance of a network is ill-conditioned, and HA-SME's diffusion
-- V (S o Phi) V' then need not be positive semidefinite (MATH.md section 2): no
-- HA-SME exists at such points. The experiment clips it to the nearest PSD matrix
-- (psd = "project") and reports the fraction of substeps that needed it.
--
-- Minibatch SGD cannot share noise with a Brownian motion, so there is no coupling
-- here: intervals are wide where a model's error is small. An order is fitted (weighted
-- by the intervals) only on the points whose interval excludes zero; with fewer than
-- two such points the error is not resolved at this number of paths, and the table
-- says so instead of printing a slope fitted to noise.
local hasme = require "hasme"
local stats = hasme.stats

-- Every method the engine simulates (the core's list) and its display name.
local METHODS, NAMES, SDES = {}, {}, {}
for _, m in ipairs(hasme.methods()) do
  METHODS[#METHODS + 1] = m.name
  NAMES[m.name] = m.label
  if m.sde then SDES[#SDES + 1] = m.name end
end

-- A fixed regression problem: y = sin(1.5 x) + noise on [-2, 2], from its own stream.
local function dataset(n, seed)
  local r = hasme.rng(seed, 999)
  local X, y = {}, {}
  for i = 1, n do
    local x = -2 + 4 * (i - 0.5) / n
    X[i] = { x }
    y[i] = math.sin(1.5 * x) + 0.1 * r:normal()
  end
  return X, y
end

local function theta0(d, seed)
  local r = hasme.rng(seed, 998)
  local t = {}
  for i = 1, d do t[i] = 0.5 * r:normal() end
  return t
end

return {
  name = "nn_weak_error",
  description = "weak error of SME-1, SME-2, HA-SME against minibatch SGD on a small tanh network, and its order in eta",
  params = {
    etas = { 0.4, 0.2, 0.1, 0.05 },
    time = 1.0,       -- compare at T = time (k = time / eta steps)
    samples = 16,     -- dataset size N
    hidden = 3,       -- hidden units (d = 3 hidden + 1 = 10 parameters)
    batch = 4,        -- minibatch size B (without replacement)
    dt = 0.005,       -- Euler-Maruyama step of the SDE models
    paths = 10000,
    seed = 4,
  },
  run = function(p, ctx)
    local X, y = dataset(p.samples, p.seed)
    local net = hasme.nn { X = X, y = y, hidden = p.hidden }
    local d = net:dim()
    local x0 = theta0(d, p.seed)
    local noise = hasme.minibatch { batch = p.batch }
    local tests = {
      { name = "loss f(theta_T)", fn = nil },
      { name = "|theta_T - theta_0|^2", fn = function(t)
        local s = 0
        for i = 1, d do s = s + (t[i] - x0[i]) ^ 2 end
        return s
      end },
      { name = "output bias b2", fn = function(t) return t[d] end },
    }
    local rows, pts = {}, {}
    for ei, eta in ipairs(p.etas) do
      local k = math.floor(p.time / eta + 0.5)
      local sub = math.max(1, math.floor(eta / p.dt + 0.5))
      local vals = {}
      for mi, method in ipairs(METHODS) do
        local r = ctx:simulate {
          objective = net, noise = noise, method = method, eta = eta, steps = k,
          substeps = method == "sgd" and 1 or sub, x0 = x0, paths = p.paths,
          seed = p.seed + 10 * ei + mi, on_domain = "record", psd = "project",
        }
        vals[method] = {}
        for ti, t in ipairs(tests) do vals[method][ti] = r:values(k, t.fn) end
        vals[method].undefined = r.undefined
        vals[method].projected = r.projected / (r.paths * k * sub)
      end
      for ti, t in ipairs(tests) do
        for _, method in ipairs(METHODS) do
          if method ~= "sgd" then
            local a, b = vals.sgd[ti], vals[method][ti]
            if vals[method].undefined > 0 then   -- drop paths that left the domain
              local kept = {}
              for i = 1, #b do if b[i] == b[i] then kept[#kept + 1] = b[i] end end
              b = kept
            end
            local w = stats.weak_error(a, b)
            local resolved = w.lo > 0 or w.hi < 0
            rows[#rows + 1] = { t.name, eta, NAMES[method], w.diff, w.lo, w.hi, w.abs,
                                resolved and "yes" or "no", vals[method].undefined,
                                vals[method].projected }
            local key = t.name .. "|" .. method
            pts[key] = pts[key] or { test = ti, method = method, x = {}, y = {}, se = {} }
            local s = pts[key]
            s.x[#s.x + 1], s.y[#s.y + 1], s.se[#s.se + 1] = eta, math.abs(w.diff), w.se
            s.resolved = s.resolved or {}
            s.resolved[#s.x] = resolved
          end
        end
      end
      ctx:log("eta = %g: %d steps, %d substeps per step", eta, k, sub)
    end
    ctx:table("weak_error", {
      title = ("weak error against minibatch SGD at T = %g (E phi_SGD - E phi_model, 95%% "
        .. "interval; 'resolved' when the interval excludes 0; psd_clips: clipped "
        .. "eigenvalues per substep)"):format(p.time),
      columns = { "test_function", "eta", "model", "diff", "lo", "hi", "abs", "resolved",
                  "undefined", "psd_clips" },
      rows = rows,
      formats = { diff = "%+.3e", lo = "%+.3e", hi = "%+.3e", abs = "%.3e",
                  psd_clips = "%.3g" },
    })
    -- Orders: weighted log-log fits of |diff| against eta, per test function and model.
    local orders, figseries = {}, {}
    for ti, t in ipairs(tests) do
      for _, method in ipairs(SDES) do
        local s = pts[t.name .. "|" .. method]
        local fx, fy, fse = {}, {}, {}
        for i = 1, #s.x do
          if s.resolved[i] then fx[#fx + 1], fy[#fy + 1], fse[#fse + 1] = s.x[i], s.y[i], s.se[i] end
        end
        local label = NAMES[method] .. " (not resolved)"
        if #fx >= 2 then
          local fit = stats.loglog_fit(fx, fy, fse)
          orders[#orders + 1] = { t.name, NAMES[method], #fx, fit.slope, fit.slope_lo,
                                  fit.slope_hi, "" }
          label = ("%s (order %.2f over %d resolved points)"):format(NAMES[method], fit.slope, #fx)
        else
          orders[#orders + 1] = { t.name, NAMES[method], #fx, 0 / 0, 0 / 0, 0 / 0,
                                  "not resolved: error below the Monte Carlo interval" }
        end
        if ti <= 2 then
          local lo, hi = {}, {}
          for i = 1, #s.x do
            lo[i] = math.max(s.y[i] - 1.96 * s.se[i], s.y[i] * 0.05)
            hi[i] = s.y[i] + 1.96 * s.se[i]
          end
          figseries[ti] = figseries[ti] or {}
          table.insert(figseries[ti], { label = label, x = s.x, y = s.y, lo = lo, hi = hi })
        end
      end
    end
    ctx:table("orders", {
      title = "fitted order in eta of the weak error (slope of log|diff| on log eta over the "
        .. "resolved points, 95% interval)",
      columns = { "test_function", "model", "points", "order", "lo", "hi", "note" },
      rows = orders,
      formats = { order = "%.2f", lo = "%.2f", hi = "%.2f" },
    })
    for ti = 1, 2 do
      ctx:figure("weak_error_" .. ti, {
        kind = "loglog", series = figseries[ti], fit = false,
        title = ("weak error vs minibatch SGD, phi = %s, T = %g"):format(tests[ti].name, p.time),
        xlabel = "learning rate eta", ylabel = "|E phi(SGD) - E phi(model)|",
      })
    end
    local summary = {}
    for _, o in ipairs(orders) do
      if o[4] == o[4] then
        summary["order_" .. o[2]:lower():gsub("%-", "") .. "_" .. o[1]:gsub("%W+", "_")] = o[4]
      end
    end
    return summary
  end,
}
