-- Weak error on a small neural-network loss, decided with coupled paths.
--
-- The loss is a two-layer tanh network with squared loss over a fixed dataset
-- (hasme.nn). SGD's noise is the Gaussian surrogate of its minibatch noise (batch B
-- drawn without replacement): N(0, Sigma(x)) with Sigma(x) the minibatch covariance,
-- which the SDE models use too. So SGD, SME-1, SME-2, HA-SME and SVAG can run under
-- hasme.compare on common random numbers, and each model's weak error
-- E g(model at T) - E g(SGD at T) is estimated from paired per-path differences of
-- streaming observables (no snapshots), whose standard error is a small fraction of
-- the spread of g itself. A pilot run per learning rate measures that spread and
-- chooses the number of paths so that each interval excludes zero with room to spare,
-- up to max_paths; a model whose interval still contains zero is reported with an
-- upper bound on its error instead (|diff| + 1.96 se).
--
-- Around that:
--  - real minibatch SGD (batches drawn) against the Gaussian surrogate: the effect of
--    the noise's shape, a separate line with its own (unpaired) interval;
--  - the SDEs are integrated by Euler-Maruyama with step dt and again with 2 dt on
--    the same Brownian paths (compare's integrator = "extrapolate"); the table reports
--    the Euler value, its own dt bias (coarse - fine) and the extrapolated weak error
--    2 fine - coarse (Talay-Tubaro: second order in dt), reduced per path, so its
--    standard error is the exact paired one; the intervals and orders use it;
--  - what the extrapolation leaves (dt_check): the extrapolated error again with 2 dt
--    on independent paths; the difference over 3 estimates its remaining O(dt^2) bias;
--  - orders in eta, fitted on the resolved points with 95% intervals, and a log-log
--    figure per observable;
--  - a smoothness sweep: an L2 term (decay/2)|theta|^2 raises every Hessian
--    eigenvalue by `decay` and leaves the minibatch noise unchanged, so the largest
--    eigenvalue L along the path grows by a factor of 16 and more over the sweep (the
--    network's own curvature saturates: scaling its inputs moves L by less than 2x);
--    at a fixed eta each model's error constant |weak error| / eta^q (q its nominal
--    order: 1 for SME-1 and SVAG, 2 for SME-2 and HA-SME) is plotted against L. The
--    paper's claim is that HA-SME's grows more slowly than SME-2's. The added
--    curvature is quadratic, where HA-SME is exact: the sweep tests the claim where it
--    should hold best, not where the sharpness comes from the network itself.
--
-- `--set legacy=true` runs the previous version of this experiment (real minibatch SGD
-- against independent runs of the SDE models, 10,000 paths, dt = 0.005): its tables
-- are those that could not separate SME-2 from HA-SME.
local hasme = require "hasme"
local stats = hasme.stats

-- The models compared with SGD, and every method's display name (the core's list).
local MODELS = { "sme1", "sme2", "hasme", "svag" }
local NAMES = { minibatch = "minibatch SGD" }
for _, m in ipairs(hasme.methods()) do NAMES[m.name] = m.label end
local NOMINAL = { sme1 = 1, sme2 = 2, hasme = 2, svag = 1 }
local Z95 = 1.959963984540054

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

-- {==================================================================
-- The previous version (--set legacy=true)
-- ===================================================================

local LEGACY = { etas = { 0.4, 0.2, 0.1, 0.05 }, dt = 0.005 }

local function legacy_run(p, ctx)
  -- the previous version's body, unchanged but for its constants (LEGACY)
  local METHODS = { "sgd", "sme1", "sme2", "hasme" }
  p = setmetatable({ etas = LEGACY.etas, dt = LEGACY.dt }, { __index = p })
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
    for _, method in ipairs { "sme1", "sme2", "hasme" } do
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
      kind = "loglog", series = figseries[ti], fit = false, key = "below",
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
end

-- }==================================================================

-- {==================================================================
-- The decided experiment
-- ===================================================================

-- The observables: the loss, the squared distance travelled, the network's output at
-- the input 0.5.
local OBS_NAMES = { "loss", "dist2", "output" }
local OBS_LABEL = { loss = "loss f(theta_T)", dist2 = "|theta_T - theta_0|^2",
                    output = "output at x = 0.5" }

local function observables()
  return { loss = "value", dist2 = "dist2", output = { output = { 0.5 } } }
end

local function ci(d, se)
  return d - Z95 * se, d + Z95 * se
end

-- The largest eigenvalue of the Hessian at theta.
local function lmax(net, theta)
  local w = hasme.eig(net:hess(theta))
  return w[#w]
end

-- Paths for one learning rate from a pilot compare: enough that the 95% half-width of
-- every model's paired loss difference is at most half its size, within
-- [min_paths, max_paths] and rounded up to a thousand.
local function choose_paths(p, pilot, k)
  local need, why = p.min_paths, "min_paths"
  for _, m in ipairs(MODELS) do
    local d, se = pilot[m]:weak_error("loss", k)
    local sd = se * math.sqrt(p.pilot)
    local n = d ~= 0 and (2 * Z95 * sd / math.abs(d)) ^ 2 or math.huge
    if n > need then need, why = n, m end
  end
  local capped = need > p.max_paths
  if capped then need = p.max_paths end
  return math.ceil(need / 1000) * 1000, why, capped
end

local function decided_run(p, ctx)
  local X, y = dataset(p.samples, p.seed)
  local net = hasme.nn { X = X, y = y, hidden = p.hidden }
  local d = net:dim()
  local x0 = theta0(d, p.seed)
  local gauss = hasme.minibatch { batch = p.batch, gaussian = true }
  local real = hasme.minibatch { batch = p.batch }
  local methods = { "sgd" }
  for _, m in ipairs(MODELS) do methods[#methods + 1] = m end
  -- Every method draws N = lcm(substeps, svag_l) normal vectors per step: an Euler
  -- substep sums N / substeps of them, a SVAG step N / svag_l, an SGD step all N.
  local function gcd(a, b) while b ~= 0 do a, b = b, a % b end return a end
  -- The SDE models run twice on the same paths, with dt and 2 dt (the same N normal
  -- vectors per step, each coarse increment the sum of two fine ones), and their
  -- figures are those of 2 g(fine) - g(coarse) per path (Talay-Tubaro).
  local function compare(eta, k, sub, paths, seed, obs, N, record, objective)
    return ctx:compare {
      methods = methods, objective = objective or net, noise = gauss, eta = eta,
      steps = k, substeps = sub, svag_l = p.svag_l, coupled = N, x0 = x0, paths = paths,
      seed = seed, on_domain = "record", psd = "project", observe = obs,
      record = record or { k }, integrator = "extrapolate",
    }
  end

  local rows, shape, pts, choice, dtrows = {}, {}, {}, {}, {}
  for ei, eta in ipairs(p.etas) do
    local k = math.floor(p.time / eta + 0.5)
    local sub = math.max(2, math.floor(eta / p.dt + 0.5))
    sub = sub + sub % 2   -- even, so that the doubled dt of the coarse run divides it
    local N = sub // gcd(sub, p.svag_l) * p.svag_l
    local pilot = compare(eta, k, sub, p.pilot, p.seed + 1000 * ei, { loss = "value" }, N)
    local n, why, capped = choose_paths(p, pilot, k)
    choice[#choice + 1] = { eta, k, sub, p.pilot, n, NAMES[why] or why, capped and "yes" or "no" }
    ctx:log("eta = %g: %d steps, %d substeps; pilot chose %d paths (%s)", eta, k, sub, n,
      NAMES[why] or why)
    local seed = p.seed + 1000 * ei + 1
    local res = compare(eta, k, sub, n, seed, observables(), N)
    -- What the extrapolation leaves: with X(h) = E + c h^2 + ..., the extrapolated
    -- weak errors at dt and 2 dt (independent runs) differ by 3 c dt^2, the remaining
    -- bias of X(dt). Needs an even number of substeps at 2 dt.
    if p.dt_check and sub % 4 == 0 then
      local sub2 = sub // 2
      local N2 = sub2 // gcd(sub2, p.svag_l) * p.svag_l
      local res2 = compare(eta, k, sub2, n, p.seed + 1000 * ei + 5, observables(), N2)
      for _, g in ipairs(OBS_NAMES) do
        for _, m in ipairs(MODELS) do
          if res[m]:info().integrator == "extrapolate" then
            local x1, s1 = res[m]:weak_error(g, k)
            local x2, s2 = res2[m]:weak_error(g, k)
            local rem, rse = (x2 - x1) / 3, math.sqrt(s1 * s1 + s2 * s2) / 3
            local lo, hi = ci(rem, rse)
            dtrows[#dtrows + 1] = { OBS_LABEL[g], eta, NAMES[m], n, x1, x2, rem, rse,
                                    (lo > 0 or hi < 0) and "yes" or "no",
                                    math.abs(rem) + Z95 * rse }
          end
        end
      end
    end
    local mb = ctx:simulate { objective = net, noise = real, method = "sgd", eta = eta,
      steps = k, x0 = x0, paths = n, seed = p.seed + 1000 * ei + 3,
      observe = observables(), record = { k } }
    for _, g in ipairs(OBS_NAMES) do
      for _, m in ipairs(MODELS) do
        -- the extrapolated weak error and its paired se; the correction fine - coarse
        -- (SVAG is a recursion of its own, not integrated: no correction)
        local diff, se = res[m]:weak_error(g, k)
        local info = res[m]:info()
        local corr, corr_se = 0, 0 / 0
        if info.integrator == "extrapolate" then corr, corr_se = res[m]:dt_bias(g, k) end
        local lo, hi = ci(diff, se)
        local resolved = lo > 0 or hi < 0
        rows[#rows + 1] = { OBS_LABEL[g], eta, NAMES[m], n, diff - corr, -corr, corr_se, diff,
                            se, lo, hi, resolved and "yes" or "no",
                            resolved and 0 / 0 or math.abs(diff) + Z95 * se,
                            info.undefined + (info.coarse_undefined or 0),
                            info.projected / (n * k * sub) }
        local key = g .. "|" .. m
        pts[key] = pts[key] or { x = {}, y = {}, se = {}, resolved = {}, lo = {}, hi = {} }
        local s = pts[key]
        local i = #s.x + 1
        s.x[i], s.y[i], s.se[i], s.resolved[i] = eta, math.abs(diff), se, resolved
        s.lo[i], s.hi[i] = math.max(math.abs(diff) - Z95 * se, math.abs(diff) * 0.05),
          math.abs(diff) + Z95 * se
      end
      local a, sa = mb:observed(g, k)
      local b, sb = res.sgd:observed(g, k)
      local sdiff = math.sqrt(sa * sa + sb * sb)
      local lo, hi = ci(a - b, sdiff)
      shape[#shape + 1] = { OBS_LABEL[g], eta, n, a - b, sdiff, lo, hi,
                            (lo > 0 or hi < 0) and "yes" or "no" }
    end
  end

  ctx:table("paths", {
    title = "paths per learning rate, chosen from the pilot's paired spread of the loss "
      .. "difference (the model that needed most; capped: max_paths reached)",
    columns = { "eta", "steps", "substeps", "pilot", "paths", "decided_by", "capped" },
    rows = choice,
  })
  ctx:table("weak_error", {
    title = ("weak error E g(model) - E g(SGD) at T = %g, SGD with Gaussian-surrogate "
      .. "minibatch noise, paired over coupled paths. euler: with the Euler step dt; "
      .. "dt_bias: coarse - fine, the Euler value's own O(dt) bias, and its paired se; "
      .. "diff = 2 fine - coarse (Talay-Tubaro) per path, se: its paired standard error; "
      .. "95%% interval; resolved: it excludes 0; bound: |diff| + 1.96 se where it does "
      .. "not; undefined: paths that left HA-SME's domain in either run; psd_clips: "
      .. "clipped eigenvalues per substep"):format(p.time),
    columns = { "observable", "eta", "model", "paths", "euler", "dt_bias", "dt_bias_se", "diff",
                "se", "lo", "hi", "resolved", "bound", "undefined", "psd_clips" },
    rows = rows,
    formats = { euler = "%+.3e", dt_bias = "%+.2e", dt_bias_se = "%.1e", diff = "%+.3e",
                se = "%.1e", lo = "%+.3e", hi = "%+.3e", bound = "%.2e", psd_clips = "%.3g" },
  })
  if #dtrows > 0 then
    ctx:table("dt_check", {
      title = ("what the extrapolation leaves: the extrapolated weak error with Euler step "
        .. "dt = %g (diff_dt, as in weak_error) and with 2 dt (diff_2dt, independent "
        .. "paths); remaining = (diff_2dt - diff_dt) / 3, the O(dt^2) bias left in "
        .. "diff_dt, with its se; resolved: its 95%% interval excludes 0; bound: "
        .. "|remaining| + 1.96 se"):format(p.dt),
      columns = { "observable", "eta", "model", "paths", "diff_dt", "diff_2dt", "remaining",
                  "se", "resolved", "bound" },
      rows = dtrows,
      formats = { diff_dt = "%+.3e", diff_2dt = "%+.3e", remaining = "%+.2e", se = "%.1e",
                  bound = "%.2e" },
    })
  end
  ctx:table("noise_shape", {
    title = "real minibatch SGD minus Gaussian-surrogate SGD (the effect of the noise's "
      .. "shape; independent runs, 95% interval)",
    columns = { "observable", "eta", "paths", "diff", "se", "lo", "hi", "resolved" },
    rows = shape,
    formats = { diff = "%+.3e", se = "%.2e", lo = "%+.3e", hi = "%+.3e" },
  })

  -- Orders in eta over the resolved points (weighted by their relative precision).
  local orders, summary = {}, {}
  for _, g in ipairs(OBS_NAMES) do
    local series = {}
    for _, m in ipairs(MODELS) do
      local s = pts[g .. "|" .. m]
      local fx, fy, fse, flo, fhi = {}, {}, {}, {}, {}
      for i = 1, #s.x do
        if s.resolved[i] then
          local j = #fx + 1
          fx[j], fy[j], fse[j], flo[j], fhi[j] = s.x[i], s.y[i], s.se[i], s.lo[i], s.hi[i]
        end
      end
      if #fx >= 2 then
        local fit = stats.loglog_fit(fx, fy, fse)
        orders[#orders + 1] = { OBS_LABEL[g], NAMES[m], #fx, fit.slope,
                                fit.slope_lo or 0 / 0, fit.slope_hi or 0 / 0,
                                #fx == 2 and "two points: no interval" or "" }
        summary["order_" .. m .. "_" .. g] = fit.slope
        series[#series + 1] = { label = NAMES[m], x = fx, y = fy, lo = flo, hi = fhi }
      else
        orders[#orders + 1] = { OBS_LABEL[g], NAMES[m], #fx, 0 / 0, 0 / 0, 0 / 0,
                                "fewer than 2 resolved points" }
      end
    end
    if #series > 0 then
      ctx:figure("weak_error_" .. g, {
        kind = "loglog", series = series, fit = true, key = "below",
        title = ("|E g(model) - E g(SGD)|, g = %s, T = %g (resolved points, 95%% bars)")
          :format(OBS_LABEL[g], p.time),
        xlabel = "learning rate eta", ylabel = "|weak error|",
      })
    end
  end
  ctx:table("orders", {
    title = "order in eta of the weak error: weighted slope of log|diff| on log eta over "
      .. "the resolved points, 95% interval (the figures' lines are unweighted fits)",
    columns = { "observable", "model", "points", "order", "lo", "hi", "note" },
    rows = orders,
    formats = { order = "%.2f", lo = "%.2f", hi = "%.2f" },
  })

  -- Smoothness sweep: an L2 term decay/2 |theta|^2; L = the largest Hessian eigenvalue
  -- along the mean SGD path (at theta_0 and at the mean of theta at k/2 and k).
  local srows, cseries = {}, {}
  local eta = p.sweep_eta
  local k = math.floor(p.time / eta + 0.5)
  local sub = math.max(2, math.floor(eta / p.dt + 0.5))
  sub = sub + sub % 2
  local Ls, consts = {}, {}
  for si, decay in ipairs(p.decays) do
    local nets = hasme.nn { X = X, y = y, hidden = p.hidden, decay = decay }
    local obs = observables()
    for i = 1, d do obs["x" .. i] = "x" .. i end
    local half = math.max(1, k // 2)
    local N = sub // gcd(sub, p.svag_l) * p.svag_l
    local res = compare(eta, k, sub, p.sweep_paths, p.seed + 50000 + si, obs, N, { half, k },
      nets)
    local L = lmax(nets, x0)
    for _, step in ipairs { half, k } do
      local th = {}
      for i = 1, d do th[i] = res.sgd:observed("x" .. i, step) end
      L = math.max(L, lmax(nets, th))
    end
    Ls[si] = L
    for _, m in ipairs(MODELS) do
      local diff, se = res[m]:weak_error("loss", k)   -- extrapolated, as in the main table
      local c = math.abs(diff) / eta ^ NOMINAL[m]
      local cse = se / eta ^ NOMINAL[m]
      local lo, hi = ci(diff, se)
      consts[m] = consts[m] or { x = {}, y = {}, lo = {}, hi = {}, se = {}, ok = {} }
      local t = consts[m]
      local i = #t.x + 1
      t.x[i], t.y[i], t.se[i], t.ok[i] = L, c, cse, lo > 0 or hi < 0
      t.lo[i], t.hi[i] = math.max(c - Z95 * cse, c * 0.05), c + Z95 * cse
      srows[#srows + 1] = { decay, L, eta * L, NAMES[m], p.sweep_paths, diff, se,
                            (lo > 0 or hi < 0) and "yes" or "no", c, cse, res[m].undefined }
    end
    ctx:log("sweep: decay %g, L = %.3g (eta L = %.3g)", decay, L, eta * L)
  end
  ctx:table("smoothness", {
    title = ("smoothness sweep at eta = %g: L2 coefficient decay, L = largest Hessian eigenvalue "
      .. "along the mean SGD path, each model's extrapolated loss weak error (paired "
      .. "se) and its constant |diff| / eta^q (q = 1 for SME-1 and SVAG, 2 for SME-2 "
      .. "and HA-SME)"):format(eta),
    columns = { "decay", "L", "eta_L", "model", "paths", "diff", "se", "resolved",
                "constant", "constant_se", "undefined" },
    rows = srows,
    formats = { L = "%.3g", eta_L = "%.3g", diff = "%+.3e", se = "%.2e", constant = "%.3e",
                constant_se = "%.2e" },
  })
  local growth = {}
  for _, m in ipairs(MODELS) do
    local t = consts[m]
    local fx, fy, fse, flo, fhi = {}, {}, {}, {}, {}
    for i = 1, #t.x do
      if t.ok[i] then
        local j = #fx + 1
        fx[j], fy[j], fse[j], flo[j], fhi[j] = t.x[i], t.y[i], t.se[i], t.lo[i], t.hi[i]
      end
    end
    if #fx >= 2 then
      local fit = stats.loglog_fit(fx, fy, fse)
      growth[#growth + 1] = { NAMES[m], #fx, fit.slope, fit.slope_lo or 0 / 0,
                              fit.slope_hi or 0 / 0 }
      summary["growth_" .. m] = fit.slope
      cseries[#cseries + 1] = { label = NAMES[m], x = fx, y = fy, lo = flo, hi = fhi }
    else
      growth[#growth + 1] = { NAMES[m], #fx, 0 / 0, 0 / 0, 0 / 0 }
    end
  end
  ctx:table("growth", {
    title = "growth of each model's error constant with L: slope of log constant on log L "
      .. "over the resolved sweep points, 95% interval",
    columns = { "model", "points", "slope", "lo", "hi" },
    rows = growth,
    formats = { slope = "%.2f", lo = "%.2f", hi = "%.2f" },
  })
  if #cseries > 0 then
    ctx:figure("constant_vs_L", {
      kind = "loglog", series = cseries, fit = true, key = "below",
      title = ("error constant |weak error| / eta^q against sharpness L (eta = %g)"):format(eta),
      xlabel = "L (largest Hessian eigenvalue along the path)", ylabel = "|diff| / eta^q",
    })
  end
  return summary
end

-- }==================================================================

return {
  name = "nn_weak_error",
  description = "weak error of SME-1, SME-2, HA-SME and SVAG against SGD on a small tanh "
    .. "network, decided with coupled paths: orders in eta and the dependence on sharpness",
  params = {
    etas = { 0.4, 0.2, 0.1, 0.05, 0.025 },
    time = 1.0,           -- compare at T = time (k = time / eta steps)
    samples = 16,         -- dataset size N
    hidden = 3,           -- hidden units (d = 3 hidden + 1 = 10 parameters)
    batch = 4,            -- minibatch size B (without replacement)
    dt = 0.0125,          -- Euler-Maruyama step of the SDE models (substeps = eta / dt, even)
    dt_check = true,      -- also run the SDE models at 2 dt (etas with 4k substeps): the
                          -- bias the extrapolation leaves (table dt_check)
    svag_l = 8,           -- SVAG's l: steps of eta / l per SGD step
    pilot = 20000,        -- paths of the pilot run per learning rate
    min_paths = 100000,   -- paths per point: at least
    max_paths = 1000000,  -- and at most
    decays = { 0, 2, 6, 14, 30 },  -- L2 coefficients of the smoothness sweep
    sweep_eta = 0.025,
    sweep_paths = 200000,
    legacy = false,       -- true: the previous version (see the header)
    paths = 10000,        -- paths of the previous version
    seed = 4,
  },
  run = function(p, ctx)
    if p.legacy then return legacy_run(p, ctx) end
    return decided_run(p, ctx)
  end,
}
