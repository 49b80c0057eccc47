-- sim_result_spec.lua: hasme.Result (snapshots, moments, steps, values, info) and
-- hasme.compare.
local H = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "sim_helpers.lua")
-- Callbacks that run on worker threads are copied with their upvalues; busted's test
-- environment (_ENV) cannot be, so callbacks meant for workers use only locals.
local hasme = H.hasme
local abs = H.abs
local max = H.max
local error = H.error
local zeros = H.zeros
local relerr = H.relerr
local ETA = H.ETA
local HMIN = H.HMIN
local BVEC = H.BVEC
local X0 = H.X0
local SIGMA = H.SIGMA
local SCOV = H.SCOV
local oracle = H.oracle
local assert_law = H.assert_law
local firstdiff = H.firstdiff
local fmtf = H.fmtf

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

  it("gives SGD and SME-1 with one Euler substep the same paths (docs/methods.md "
     .. "section 5)", function()
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
    -- HA-SME's exact transition is SGD's recursion (docs/methods.md section 6), and
    -- compare{} drives both with the same normals: every path must agree to rounding,
    -- with isotropic and with correlated noise.
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
      PRE .. "field 'methods': unknown method 'adam' at index 2; expected 'sgd', 'sme1', 'sme2', 'hasme' or 'svag')")
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

describe("hasme.methods", function()
  it("lists the engine's methods in order, with display names", function()
    local m = hasme.methods()
    local names, labels = {}, {}
    for i, x in ipairs(m) do names[i], labels[i] = x.name, x.label end
    assert.are.same({ "sgd", "sme1", "sme2", "hasme", "svag" }, names)
    assert.are.same({ "SGD", "SME-1", "SME-2", "HA-SME", "SVAG" }, labels)
    assert.is_false(m[1].sde)
    assert.is_true(m[4].sde)
    assert.is_false(m[5].sde)
    -- SVAG needs its own parameter, the others none
    assert.are.equal("svag_l", m[5].param)
    for i = 1, 4 do assert.is_nil(m[i].param) end
    -- a fresh table each time: changing it changes nothing
    m[1].name = "x"
    assert.are.equal("sgd", hasme.methods()[1].name)
  end)

  it("is the list simulate and compare accept", function()
    for _, x in ipairs(hasme.methods()) do
      local r = hasme.simulate { objective = hasme.quadratic { H = HMIN }, method = x.name,
                                 svag_l = 2, eta = 0.1, steps = 2, x0 = X0, paths = 8 }
      assert.are.equal(x.name, r.method)
    end
    assert.has_error(function() hasme.simulate { objective = hasme.quadratic { H = HMIN },
      method = "adam", eta = 0.1, steps = 2, x0 = X0 } end,
      "bad argument #1 to 'simulate' (field 'method': expected 'sgd', 'sme1', 'sme2', "
      .. "'hasme' or 'svag', got 'adam')")
  end)
end)
