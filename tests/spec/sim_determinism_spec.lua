-- sim_determinism_spec.lua: results that do not depend on the number of threads,
-- that repeat with a seed, and Lua callbacks on worker states.
local H = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "sim_helpers.lua")
-- Callbacks that run on worker threads are copied with their upvalues; busted's test
-- environment (_ENV) cannot be, so callbacks meant for workers use only locals.
local hasme = H.hasme
local ETA = H.ETA
local HMIN = H.HMIN
local HSAD = H.HSAD
local BVEC = H.BVEC
local X0 = H.X0
local SIGMA = H.SIGMA
local SCOV = H.SCOV
local firstdiff = H.firstdiff
local samevec = H.samevec

describe("determinism", function()
  local PATHS = 1003   -- not a multiple of the engine's block of 8 paths
  local WELLS = { dim = 2, Q = { { 0.31, 0.12 }, { 0.12, 0.23 } }, tilt = { 0.05, -0.1 } }
  local WCOV = { { 2.9, 0.7 }, { 0.7, 1.6 } }

  -- One x0 row per path, all different.
  local function x0_rows(a, b)
    local X = hasme.mat(PATHS, 2)
    for i = 1, PATHS do X[i] = { a + 0.00137 * i, b - 0.00071 * i } end
    return X
  end

  local PROBLEMS = {
    { "linear kernel: SGD on a quadratic", "linear", false, function(threads, seed, x0)
        return hasme.simulate { objective = hasme.quadratic { H = HSAD, b = BVEC },
                                noise = hasme.gaussian { cov = SCOV }, method = "sgd",
                                eta = ETA, steps = 25, x0 = x0 or X0, paths = PATHS,
                                seed = seed, threads = threads, record = { 0, 7, 25 } }
      end, { 0.734, -1.219 } },
    { "linear kernel: HA-SME (exact) with escape", "linear", true, function(threads, seed, x0)
        return hasme.simulate { objective = hasme.quadratic { H = HSAD, b = BVEC },
                                noise = hasme.gaussian { cov = SCOV }, method = "hasme",
                                eta = ETA, steps = 25, x0 = x0 or X0, paths = PATHS,
                                seed = seed, threads = threads, record = { 0, 7, 25 },
                                escape = hasme.escape.ball_exit({ 0.5, -0.5 }, 60) }
      end, { 0.734, -1.219 } },
    { "general kernel: HA-SME (euler) on wells with escape", "general", true,
      function(threads, seed, x0)
        return hasme.simulate { objective = hasme.wells(WELLS),
                                noise = hasme.gaussian { cov = WCOV }, method = "hasme",
                                integrator = "euler", substeps = 4, eta = 0.05, steps = 200,
                                x0 = x0 or { -1.1, 0.9 }, paths = PATHS, seed = seed,
                                threads = threads, record = { 0, 40, 200 },
                                escape = hasme.escape.halfspace({ 1, 0 }, 0.2) }
      end, { -1.1, 0.9 } },
  }

  -- Assert that two results are identical: every snapshot, escape steps, counters.
  local function assert_identical(a, b, label, escape)
    for _, k in ipairs(a:record_steps()) do
      local diff = firstdiff(a:snapshot(k), b:snapshot(k))
      assert(diff == nil, ("%s, step %d: %s"):format(label, k, tostring(diff)))
    end
    if escape then
      assert(samevec(a:escape_steps(), b:escape_steps()), label .. ": escape steps differ")
    end
    assert.are.equal(a.escaped, b.escaped)
  end

  for _, p in ipairs(PROBLEMS) do
    local name, kernel, escape, run, x0 = p[1], p[2], p[3], p[4], p[5]
    describe(name, function()
      it("gives identical results with 1, 2 and 3 threads", function()
        local r1 = run(1, 2718)
        assert.are.equal(kernel, r1.kernel)
        -- Some paths escape and some do not, so the criterion matters.
        if escape then assert(r1.escaped > 0 and r1.escaped < PATHS, r1.escaped) end
        assert.are.equal(1, r1.threads)
        for _, t in ipairs { 2, 3 } do
          local r = run(t, 2718)
          assert.are.equal(t, r.threads)
          assert_identical(r1, r, ("%d threads"):format(t), escape)
        end
      end)

      it("gives identical results with 1, 2 and 3 threads for x0 given per path", function()
        local X = x0_rows(x0[1], x0[2])
        local r1 = run(1, 3141, X)
        -- Each path starts from its own row.
        local S0 = r1:snapshot(0)
        assert.is_nil(firstdiff(S0, X))
        for _, t in ipairs { 2, 3 } do
          assert_identical(r1, run(t, 3141, X), ("%d threads"):format(t), escape)
        end
      end)

      it("repeats itself with the same seed and changes with another", function()
        local a, b, c = run(2, 1618), run(2, 1618), run(2, 1619)
        assert_identical(a, b, "same seed", escape)
        -- With another seed no path repeats a path of the first.
        local steps = a:record_steps()
        local A, C = a:snapshot(steps[#steps]), c:snapshot(steps[#steps])
        for i = 1, PATHS do
          assert(A[i][1] ~= C[i][1] or A[i][2] ~= C[i][2], ("path %d repeats"):format(i))
        end
        if escape then assert.is_false(samevec(a:escape_steps(), c:escape_steps())) end
      end)
    end)
  end

  it("gives Lua callbacks the same results on worker states as on one thread", function()
    -- A Lua objective whose upvalues are a hasme.Mat and a hasme.Vec, and a Lua
    -- predicate reading a table: copied into a worker state for the second thread.
    local H, b = hasme.mat(HMIN), hasme.vec(BVEC)
    local obj = hasme.objective { dim = 2, f = function(x) return 0.5 * x:dot(H * x) + b:dot(x) end,
                                  grad = function(x) return H * x + b end,
                                  hess = function() return H end }
    local limit = { r = 1.9 }
    local function pred(x) return x:norm() > limit.r end
    local function run(threads, o, e)
      return hasme.simulate { objective = o, noise = hasme.gaussian { sigma = SIGMA }, method = "hasme",
                              integrator = "euler", substeps = 4, eta = ETA, steps = 30, x0 = X0,
                              paths = 2003, seed = 11, threads = threads, escape = e }
    end
    local r1, r2 = run(1, obj, pred), run(2, obj, pred)
    assert.are.equal(1, r1.threads)
    assert.are.equal(2, r2.threads)
    assert.are.equal(1, r2:info().worker_states)
    assert.is_nil(firstdiff(r1:snapshot(), r2:snapshot()))
    assert.is_true(samevec(r1:escape_steps(), r2:escape_steps()))
    assert(r1.escaped > 20 and r1.escaped < 2003, r1.escaped)
    -- And the built-in equivalents give the same escape steps.
    local rb = run(2, hasme.quadratic { H = HMIN, b = BVEC }, hasme.escape.ball_exit({ 0, 0 }, 1.9))
    assert.is_true(samevec(r1:escape_steps(), rb:escape_steps()))
  end)

  it("runs on one thread, with a note, when a callback cannot be copied", function()
    local co = coroutine.create(function() end)
    local obj = hasme.objective { dim = 2, grad = function(x)
      return co and { x[1], x[2] }
    end }
    local r = hasme.simulate { objective = obj, noise = hasme.gaussian { sigma = SIGMA }, eta = ETA,
                               steps = 30, x0 = X0, paths = 2003, seed = 11, threads = 2 }
    assert.are.equal(1, r.threads)
    assert.are.equal(0, r:info().worker_states)
    assert.are.equal("upvalue 'co': a thread cannot be copied to a worker state", r:info().threads_note)
  end)

  it("gives path i the same stream whatever the number of paths", function()
    -- The stream of a path depends on the seed and its index only.
    local function run(paths)
      return hasme.simulate { objective = hasme.quadratic { H = HMIN },
                              noise = hasme.gaussian { sigma = SIGMA }, eta = ETA, steps = 9,
                              x0 = X0, paths = paths, seed = 4242 }
    end
    local small, big = run(13), run(1003)
    assert.is_nil(firstdiff(small:snapshot(), hasme.mat { table.unpack(big:snapshot():totable(), 1, 13) }))
  end)

  it("steps the one-dimensional wells across lanes as any objective, bit for bit", function()
    -- The engine evaluates hasme.wells in dimension 1 across its lanes; a Lua objective
    -- with the same arithmetic goes lane by lane. With an escape criterion the lanes
    -- take new paths as theirs stop.
    local q, tilt = 0.3, 0.07
    local lua = hasme.objective { dim = 1, f = function() return 0 end,
      grad = function(x) local t = x[1] * (x[1] * x[1] - 1.0) + tilt; return t + q * x[1] end,
      hess = function(x) return q + (3.0 * (x[1] * x[1]) - 1.0) end }
    local function run(obj, m)
      return hasme.simulate { objective = obj, noise = hasme.gaussian { sigma = 1.1 }, method = m,
                              eta = 0.1, substeps = 3, steps = 200, x0 = { -1 }, paths = 203,
                              seed = 5, record = { 50, 200 }, threads = 1,
                              escape = hasme.escape.halfspace({ 1 }, 0.6) }
    end
    for _, m in ipairs { "sme1", "sme2", "hasme" } do
      local a = run(hasme.wells { dim = 1, Q = { { q } }, tilt = { tilt } }, m)
      local b = run(lua, m)
      assert.is_true(a:info().escaped > 10 and a:info().escaped < 190, m)
      local ea, eb = a:escape_steps(), b:escape_steps()
      for i = 1, 203 do assert.are.equal(ea[i], eb[i], m .. " path " .. i) end
      for _, k in ipairs { 50, 200 } do assert.is_nil(firstdiff(a:snapshot(k), b:snapshot(k)), m) end
    end
  end)
end)
