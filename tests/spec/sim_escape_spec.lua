-- sim_escape_spec.lua: escape from a quadratic saddle against the exact law, and the
-- escape criteria of hasme.simulate.
local H = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "sim_helpers.lua")
-- Callbacks that run on worker threads are copied with their upvalues; busted's test
-- environment (_ENV) cannot be, so callbacks meant for workers use only locals.
local hasme = H.hasme
local abs = H.abs
local sqrt = H.sqrt
local max = H.max
local error = H.error
local escape_array = H.escape_array
local ks2 = H.ks2
local mean_var = H.mean_var
local samevec = H.samevec

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

  it("rejects a predicate that returns anything but a boolean, naming path and step", function()
    local PRE = "simulate: error in the escape at path 1, step 1: "
    assert.has_error(function() saddle_run(function() return 0 end) end,
      PRE .. "escape predicate must return a boolean, got number")
    assert.has_error(function() saddle_run(function() end) end,
      PRE .. "escape predicate must return a boolean, got nil")
    assert.has_error(function() saddle_run(function() return "yes" end) end,
      PRE .. "escape predicate must return a boolean, got string")
    -- The first path whose predicate misbehaves is the one named.
    local ok, msg = pcall(saddle_run, function(x) return x[1] > 0.2 and 1 or false end)
    assert.is_false(ok)
    assert.truthy(msg:find("escape predicate must return a boolean, got number", 1, true), msg)
  end)

  it("names the missing value function of value_below and value_above", function()
    local g = function(x) return { x[1] } end
    local nof = hasme.objective { dim = 1, grad = g }
    local opts = { objective = nof, eta = 0.1, steps = 3, x0 = { 1 }, paths = 2 }
    opts.escape = hasme.escape.value_below(0.1)
    assert.has_error(function() hasme.simulate(opts) end,
      "bad argument #1 to 'simulate' (field 'escape': value_below needs the objective's "
      .. "value, and the objective has no f)")
    opts.escape = hasme.escape.value_above(0.1)
    assert.has_error(function() hasme.simulate(opts) end,
      "bad argument #1 to 'simulate' (field 'escape': value_above needs the objective's "
      .. "value, and the objective has no f)")
    -- An f that fails gives its own message as the cause.
    opts.objective = hasme.objective { dim = 1, grad = g, f = function() error("no f here", 0) end }
    assert.has_error(function() hasme.simulate(opts) end,
      "simulate: error in the escape at path 1, step 1: no f here")
  end)

  it("keeps escaped, censored, diverged and undefined paths apart", function()
    -- HA-SME on a double well with eta = 0.15: paths that reach curvature 1/eta leave
    -- the model's domain (on_domain = 'record'); a few escape first, the rest stay.
    local r = hasme.simulate { objective = hasme.wells { dim = 1 },
                               noise = hasme.gaussian { sigma = 1.2 }, method = "hasme",
                               eta = 0.15, steps = 40, x0 = { -1 }, paths = 3001, seed = 77,
                               escape = hasme.escape.halfspace({ 1 }, 0.5), on_domain = "record" }
    local status, steps, undef = r:escape_status(), r:escape_steps(), r:undefined_steps()
    assert.are.equal(3001, #status)
    local count = { escaped = 0, censored = 0, diverged = 0, undefined = 0 }
    for i = 1, #status do
      count[status[i]] = count[status[i]] + 1
      if status[i] == "escaped" then assert(steps[i] >= 1 and undef[i] == -1)
      elseif status[i] == "undefined" then assert(steps[i] == -1 and undef[i] >= 1)
      else assert(steps[i] == -1 and undef[i] == -1) end
    end
    assert(count.escaped > 0 and count.censored > 0 and count.undefined > 0,
           ("%d %d %d"):format(count.escaped, count.censored, count.undefined))
    assert.are.same({ r.escaped, r.censored, r.diverged, r.undefined },
                    { count.escaped, count.censored, 0, count.undefined })
    assert.are.equal(3001, r.escaped + r.censored + r.undefined)
    -- Diverged paths, recorded, are their own category.
    local d = hasme.simulate { objective = hasme.quadratic { H = { { 30 } } }, eta = 0.1,
                               steps = 2000, x0 = { 1 }, paths = 3, escape = function() return false end,
                               on_diverge = "record" }
    assert.are.same({ "diverged", "diverged", "diverged" }, d:escape_status())
    assert.are.same({ 0, 0, 3 }, { d.escaped, d.censored, d.diverged })
    assert.has_error(function() hasme.simulate { objective = hasme.quadratic { H = { { 1 } } },
      eta = 0.1, steps = 1, x0 = { 0 }, paths = 1 }:escape_status() end,
      "escape_status: the run had no escape criterion")
  end)
end)

-- A number as lua_pushfstring's %f writes it ("%.14g", with ".0" on integers).
