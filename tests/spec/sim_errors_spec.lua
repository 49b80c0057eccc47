-- sim_errors_spec.lua: the errors of hasme.simulate (domain, PSD, divergence, Lua
-- callbacks, progress, options), Ctrl-C, and what a failing call leaves behind.
local H = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "sim_helpers.lua")
-- Callbacks that run on worker threads are copied with their upvalues; busted's test
-- environment (_ENV) cannot be, so callbacks meant for workers use only locals.
local hasme = H.hasme
local abs = H.abs
local max = H.max
local log = H.log
local error = H.error
local plain = H.plain
local zeros = H.zeros
local mmul = H.mmul
local transpose = H.transpose
local relerr = H.relerr
local ETA = H.ETA
local HMIN = H.HMIN
local BVEC = H.BVEC
local X0 = H.X0
local SCOV = H.SCOV
local ou_coefficients = H.ou_coefficients
local ou_moments = H.ou_moments
local assert_law = H.assert_law
local fmtf = H.fmtf

describe("hasme.simulate errors", function()
  local DOMAIN_TAIL = "; it needs eta*lambda < 1 for every Hessian eigenvalue"
  local PATH_TAIL = "; pass on_domain = 'record' to stop such paths and count them"

  -- A valid run whose options `changes` alter ("nil" removes one).
  local function opts(changes)
    local o = { objective = hasme.quadratic { H = HMIN, b = BVEC },
                noise = hasme.gaussian { cov = SCOV }, method = "hasme", eta = ETA,
                steps = 5, x0 = X0, paths = 100, seed = 7 }
    for k, v in pairs(changes or {}) do
      if v == "nil" then o[k] = nil else o[k] = v end
    end
    return o
  end
  local function sim(changes) return function() hasme.simulate(opts(changes)) end end

  describe("strict options", function()
    local PRE = "bad argument #1 to 'simulate' ("

    it("rejects numbers given as strings, naming the option", function()
      for _, f in ipairs { "eta", "psd_tol", "progress_interval" } do
        assert.has_error(sim { [f] = "0.1" }, PRE .. "field '" .. f .. "': number expected, got string)")
      end
      for _, f in ipairs { "steps", "paths", "seed", "threads", "substeps" } do
        assert.has_error(sim { [f] = "3" }, PRE .. "field '" .. f .. "': integer expected, got string)")
      end
    end)

    it("rejects substeps for SGD unless the run is coupled", function()
      assert.has_error(sim { method = "sgd", substeps = 4 },
        PRE .. "field 'substeps': sgd takes no substeps (it steps by eta); they apply to the "
        .. "SDE models and to coupled runs)")
      local r = hasme.simulate(opts { method = "sgd", substeps = 4, coupled = true })
      assert.are.equal(4, r.substeps)
      assert.are.equal(1, hasme.simulate(opts { method = "sgd" }).substeps)
      assert.are.equal(10, hasme.simulate(opts { method = "sme1", integrator = "euler" }).substeps)
    end)

    it("says what an impossible request needs and the limit", function()
      -- the default limit is half the physical memory (far below 128 GiB on a test machine)
      local _, msg = pcall(hasme.simulate, opts { paths = 2 ^ 33 })
      assert.matches("^simulate: the results need 128%.0 GiB %(1 recorded steps x 8589934592 "
        .. "paths x 2 dims%), more than memory_limit = [%d.]+ [KMGT]?i?B", msg)
      local _, msg2 = pcall(hasme.simulate, opts { paths = 2 ^ 33, memory_limit = "1K" })
      assert.are.equal("simulate: the results need 128.0 GiB (1 recorded steps x 8589934592 "
        .. "paths x 2 dims), more than memory_limit = 1.0 KiB; record fewer steps or raise "
        .. "memory_limit", msg2)
    end)
  end)

  describe("what a failing call leaves behind", function()
    -- Entries of the registry that hold a value (luaL_unref leaves integers behind in
    -- its free list, so those are not counted).
    local function live()
      local n = 0
      for _, v in pairs(debug.getregistry()) do
        if math.type(v) ~= "integer" then n = n + 1 end
      end
      return n
    end
    local function progress() return true end

    it("leaves no registry entry after 1000 calls failing after the progress option", function()
      local o = opts { progress = progress, memory_limit = 16 }
      collectgarbage()
      local before = live()
      for _ = 1, 1000 do assert.is_false((pcall(hasme.simulate, o))) end
      local o2 = opts { progress = progress, x0 = { 0 / 0, 1 } }
      for _ = 1, 1000 do assert.is_false((pcall(hasme.simulate, o2))) end
      collectgarbage()
      assert(live() <= before + 2, ("%d live registry entries before, %d after"):format(before, live()))
    end)

    it("leaves no registry entry after 1000 progress callbacks that raise", function()
      local o = opts { progress = function() error("disk full", 0) end, progress_interval = 0,
                       method = "sgd", paths = 16, threads = 1 }
      collectgarbage()
      local before = live()
      for _ = 1, 1000 do
        local ok, msg = pcall(hasme.simulate, o)
        assert(not ok and msg == "simulate: error in the progress callback: disk full", msg)
      end
      collectgarbage()
      assert(live() <= before + 2, ("%d live registry entries before, %d after"):format(before, live()))
    end)
  end)

  describe("HA-SME outside its domain", function()
    it("is reported at set-up for a quadratic with eta lambda_max >= 1", function()
      local w = hasme.eig(HMIN)
      local eta = 0.7493                      -- eta * 1.3455 = 1.008
      assert.has_error(sim { eta = eta },
        ("simulate: HA-SME is undefined: eta*lambda_max = %s >= 1 (lambda_max = %s, "
         .. "eta = %s)%s"):format(fmtf(eta * w[2]), fmtf(w[2]), fmtf(eta), DOMAIN_TAIL))
      -- SGD, SME-1 and SME-2 have no such restriction.
      for _, m in ipairs { "sgd", "sme1", "sme2" } do
        assert.has_no.errors(sim { eta = eta, method = m })
      end
    end)

    it("names the largest eigenvalue when several are out of the domain", function()
      -- H = diag(2.1, 3.7), eta = 0.6: both eta lambda exceed 1; lambda_max is 3.7.
      local q = hasme.quadratic { H = { { 2.1, 0 }, { 0, 3.7 } } }
      local want = "HA-SME is undefined%s: eta*lambda_max = 2.22 >= 1 (lambda_max = 3.7, eta = 0.6)"
      -- The general kernel (a diagonal quadratic as hasme.saddle) at its first step.
      assert.has_error(function()
        hasme.simulate { objective = hasme.saddle { lambda = { 2.1, 3.7 }, quartic = 0 },
                         method = "hasme", eta = 0.6, steps = 3, x0 = { 1, 1 }, paths = 8 }
      end, "simulate: " .. want:format(" at path 1, step 1") .. DOMAIN_TAIL .. PATH_TAIL)
      -- The linear kernel at set-up, exact and Euler.
      for _, integrator in ipairs { "exact", "euler" } do
        assert.has_error(function()
          hasme.simulate { objective = q, method = "hasme", integrator = integrator, eta = 0.6,
                           steps = 3, x0 = { 1, 1 }, paths = 8 }
        end, "simulate: " .. want:format("") .. DOMAIN_TAIL)
      end
      assert.has_error(function()
        hasme.exact_moments { objective = q, method = "hasme", eta = 0.6, step = 3, x0 = { 1, 1 } }
      end, "exact_moments: HA-SME is undefined: eta*lambda_max = 2.22 >= 1 (lambda_max = 3.7)")
    end)

    it("is reported on a path with the smallest failing path, its step and eigenvalue", function()
      -- f = -x^2/2 + x^4/4, eta = 0.6: the deterministic flow from x0 > 0 runs to the
      -- minimum at 1 where f'' = 2 and eta f'' = 1.2. Paths 1-3 sit at 0 (f'' = -1, a
      -- stationary point), path 4 starts at 0.05 and paths 5-16 at 0.2, which fail
      -- earlier: the error names path 4. Its step is found by iterating the HA-SME
      -- drift here, and the eigenvalue from the state the engine records just before.
      local E = 0.6
      local X = {}
      for i = 1, 16 do X[i] = { i <= 3 and 0 or (i == 4 and 0.05 or 0.2) } end
      local function run(steps, threads, on_domain)
        return hasme.simulate { objective = hasme.saddle { lambda = { -1 }, quartic = 1 },
                                method = "hasme", integrator = "euler", substeps = 1,
                                eta = E, steps = steps, x0 = X, paths = 16, record = "all",
                                threads = threads, on_domain = on_domain }
      end
      local x, k = 0.05, 1
      while E * (-1 + 3 * x * x) < 1 do
        local z = E * (-1 + 3 * x * x)
        x = x - E * (-log(1 - z) / z) * (x * (x * x - 1))
        k = k + 1
      end
      assert.are.equal(9, k)
      -- The state of path 4 after step k - 1 (the other paths stopped earlier).
      local before = run(k - 1, 1, "record"):snapshot(k - 1)[4][1]
      local lam = -1 + 3.0 * (1 * before * before)
      local want = ("simulate: HA-SME is undefined at path 4, step %d: eta*lambda_max = %s >= 1 "
                    .. "(lambda_max = %s, eta = 0.6)%s%s"):format(k, fmtf(E * lam), fmtf(lam),
                                                                DOMAIN_TAIL, PATH_TAIL)
      for _, threads in ipairs { 1, 2, 3 } do
        assert.has_error(function() run(40, threads) end, want)
      end
    end)
  end)

  describe("on_domain = 'record'", function()
    -- The deterministic flow of the previous test: paths leaving HA-SME's domain are
    -- stopped and counted instead of raising.
    local E = 0.6
    local X = {}
    for i = 1, 16 do X[i] = { i <= 3 and 0 or (i == 4 and 0.05 or 0.2) } end
    local function last_defined_step(x)
      local k = 1
      while E * (-1 + 3 * x * x) < 1 do
        local z = E * (-1 + 3 * x * x)
        x = x - E * (-log(1 - z) / z) * (x * (x * x - 1))
        k = k + 1
      end
      return k
    end

    it("stops and counts the paths on which the model becomes undefined", function()
      local k4, k5 = last_defined_step(0.05), last_defined_step(0.2)
      assert.are.equal(9, k4)
      assert(k5 < k4, k5)
      for _, threads in ipairs { 1, 2 } do
        local r = hasme.simulate { objective = hasme.saddle { lambda = { -1 }, quartic = 1 },
                                   method = "hasme", integrator = "euler", substeps = 1, eta = E,
                                   steps = 40, x0 = X, paths = 16, record = { 0, k5 - 1, 40 },
                                   on_domain = "record", threads = threads }
        assert.are.equal(13, r.undefined)
        assert.are.equal("record", r:info().on_domain)
        local u = r:undefined_steps()
        local S, before = r:snapshot(40), r:snapshot(k5 - 1)
        for i = 1, 16 do
          if i <= 3 then
            assert.are.equal(-1, u[i])
            assert.are.equal(0, S[i][1])
          else
            assert.are.equal(i == 4 and k4 or k5, u[i])
            assert.is_true(S[i][1] ~= S[i][1])         -- NaN once stopped
            assert.is_true(before[i][1] > 0.05)        -- a state before
          end
        end
        assert.are.equal(0, r:mean(40)[1])
        assert.are.equal(0, r:cov(40)[1][1])
        assert.is_truthy(tostring(r):find("\n  model undefined (eta*lambda_max >= 1) on: 13 paths", 1, true))
      end
    end)

    it("does not apply at set-up, and undefined_steps needs it", function()
      local w = hasme.eig(HMIN)
      assert.has_error(sim { eta = 0.7493, on_domain = "record" },
        ("simulate: HA-SME is undefined: eta*lambda_max = %s >= 1 (lambda_max = %s, "
         .. "eta = 0.7493)%s"):format(fmtf(0.7493 * w[2]), fmtf(w[2]), DOMAIN_TAIL))
      local r = hasme.simulate(opts {})
      assert.has_error(function() r:undefined_steps() end,
        "undefined_steps: the run did not record undefined paths (on_domain = 'record')")
      assert.has_error(sim { on_domain = "skip" },
        "bad argument #1 to 'simulate' (field 'on_domain': expected 'error' or 'record', got 'skip')")
    end)
  end)

  describe("a diffusion that is not positive semidefinite (docs/methods.md section 4 "
           .. "example)", function()
    -- eta = 0.25, H = diag(2, -2), Sigma with correlation 0.99.
    local H = { { 2, 0 }, { 0, -2 } }
    local COV = { { 1, 0.99 }, { 0.99, 1 } }
    -- The eigenvalue the message must show: the smallest of S o Phi, built here.
    local function min_eigenvalue()
      local w, V = hasme.eig(H)
      w, V = plain(w), plain(V)
      local S = mmul(mmul(transpose(V), COV), V)
      for i = 1, 2 do
        for j = 1, 2 do
          local zi, zj = 0.25 * w[i], 0.25 * w[j]
          S[i][j] = S[i][j] * hasme.phi1(zi + zj - zi * zj)
        end
      end
      return hasme.eig(S)[1]
    end
    local TAIL = ": no SDE of this form exists here; pass psd = 'project' to clip it to the "
                 .. "nearest PSD matrix"

    it("is an error at set-up (linear kernel) and on the first step (general kernel)", function()
      local ev = min_eigenvalue()
      assert(ev < -0.03 and ev > -0.05, ev)
      local head = "simulate: the HA-SME diffusion V (S o Phi) V' is not positive semidefinite"
      for _, integrator in ipairs { "exact", "euler" } do
        assert.has_error(function()
          hasme.simulate { objective = hasme.quadratic { H = H }, noise = hasme.gaussian { cov = COV },
                           method = "hasme", integrator = integrator, eta = 0.25, steps = 3,
                           x0 = { 0.3, -0.2 }, paths = 8 }
        end, ("%s (eigenvalue %s)%s"):format(head, fmtf(ev), TAIL))
      end
      assert.has_error(function()
        hasme.simulate { objective = hasme.saddle { lambda = { 2, -2 }, quartic = 0 },
                         noise = hasme.gaussian { cov = COV }, method = "hasme", eta = 0.25,
                         steps = 3, x0 = { 0.3, -0.2 }, paths = 8 }
      end, ("%s at path 1, step 1 (eigenvalue %s)%s"):format(head, fmtf(ev), TAIL))
      assert.has_error(function()
        hasme.exact_moments { objective = hasme.quadratic { H = H }, noise = hasme.gaussian { cov = COV },
                              method = "hasme", eta = 0.25, x0 = { 0.3, -0.2 }, step = 3 }
      end, ("exact_moments: the HA-SME diffusion is not positive semidefinite (eigenvalue %s); "
            .. "pass psd = 'project' to clip it"):format(fmtf(ev)))
      -- The other models never build S o Phi.
      for _, m in ipairs { "sgd", "sme1", "sme2" } do
        assert.has_no.errors(function()
          hasme.simulate { objective = hasme.quadratic { H = H }, noise = hasme.gaussian { cov = COV },
                           method = m, eta = 0.25, steps = 3, x0 = { 0.3, -0.2 }, paths = 8 }
        end)
      end
    end)

    it("is clipped with psd = 'project', counted in r.projected, with the clipped law", function()
      local q, nz = hasme.quadratic { H = H }, hasme.gaussian { cov = COV }
      local r = hasme.simulate { objective = q, noise = nz, method = "hasme", eta = 0.25,
                                 steps = 6, x0 = { 0.3, -0.2 }, paths = 100000, seed = 55,
                                 psd = "project", record = { 2, 6 } }
      assert.are.equal(1, r.projected)   -- one eigenvalue clipped, once, at set-up
      assert.is_truthy(tostring(r):find("\n  PSD projections: 1", 1, true))
      -- The clipped diffusion: S o Phi with its negative eigenvalue set to 0, built
      -- here; its OU moments (RK4) against exact_moments and the simulation.
      local w, V = hasme.eig(H)
      w, V = plain(w), plain(V)
      local P = mmul(mmul(transpose(V), COV), V)
      for i = 1, 2 do
        for j = 1, 2 do
          local zi, zj = 0.25 * w[i], 0.25 * w[j]
          P[i][j] = P[i][j] * hasme.phi1(zi + zj - zi * zj)
        end
      end
      local pw, PV = hasme.eig(P)
      local clipped = zeros(2)
      for l = 1, 2 do
        local lam = max(pw[l], 0)
        for i = 1, 2 do
          for j = 1, 2 do clipped[i][j] = clipped[i][j] + lam * PV[i][l] * PV[j][l] end
        end
      end
      local M, c0 = ou_coefficients("hasme", H, nil, COV, 0.25)
      local means, covs = ou_moments(M, c0, mmul(mmul(V, clipped), transpose(V)), 0.25,
                                     { 0.3, -0.2 }, 6)
      for _, k in ipairs { 2, 6 } do
        local m, C = hasme.exact_moments { objective = q, noise = nz, method = "hasme", eta = 0.25,
                                           x0 = { 0.3, -0.2 }, step = k, psd = "project" }
        assert(relerr(m, means[k]) < 1e-10 and relerr(C, covs[k]) < 1e-10, k)
        assert_law(r, k, m, C, "projected")
        -- The clipped model is no longer SGD's law.
        local _, Cs = hasme.exact_moments { objective = q, noise = nz, method = "sgd", eta = 0.25,
                                            x0 = { 0.3, -0.2 }, step = k }
        assert(relerr(C, Cs) > 0.01)
      end
      -- The general kernel clips at every substep: one eigenvalue per evaluation.
      local g = hasme.simulate { objective = hasme.saddle { lambda = { 2, -2 }, quartic = 0 },
                                 noise = nz, method = "hasme", eta = 0.25, steps = 3, substeps = 4,
                                 x0 = { 0.3, -0.2 }, paths = 8, psd = "project" }
      assert.are.equal(8 * 3 * 4, g.projected)
    end)
  end)

  describe("divergence", function()
    -- SGD with eta lambda = 2.5 multiplies x by -1.5 per step (no noise): |x| passes
    -- the largest double after a number of steps found here by the same arithmetic.
    local q = hasme.quadratic { H = { { 1 } } }
    local function overflow_step(x)
      local k = 0
      repeat
        x = (1 - 2.5 * 1) * x
        k = k + 1
      until x ~= x or abs(x) == math.huge
      return k
    end

    it("is an error naming the first diverging path and step", function()
      local X = { { 0 }, { 0 }, { 2.71 }, { 0.58 } }
      local k = overflow_step(2.71)
      assert(k > 1700 and k < 1760, k)
      assert.has_error(function()
        hasme.simulate { objective = q, method = "sgd", eta = 2.5, steps = 3000, x0 = X, paths = 4 }
      end, ("simulate: path 3 diverged (inf or NaN) at step %d; pass on_diverge = 'record' "
            .. "to stop such paths and count them"):format(k))
    end)

    it("is counted with on_diverge = 'record', and the NaN rows are left out of the moments",
      function()
        local X = hasme.mat(20, 1)
        for i = 1, 20 do X[i] = { i % 4 == 0 and 0 or 0.37 * i } end
        local r = hasme.simulate { objective = q, method = "sgd", eta = 2.5, steps = 3000, x0 = X,
                                   paths = 20, on_diverge = "record", record = { 0, 100, 3000 } }
        assert.are.equal(15, r.diverged)
        local ds = r:diverged_steps()
        local S = r:snapshot(3000)
        for i = 1, 20 do
          if i % 4 == 0 then
            assert.are.equal(-1, ds[i])
            assert.are.equal(0, S[i][1])
          else
            assert.are.equal(overflow_step(0.37 * i), ds[i])
            assert.is_true(S[i][1] ~= S[i][1])          -- NaN
          end
        end
        -- At step 3000 only the five paths at 0 hold a state.
        assert.are.equal(0, r:mean(3000)[1])
        assert.are.equal(0, r:cov(3000)[1][1])
        local v = r:values(3000)
        assert.is_true(v[1] ~= v[1])
        assert.are.equal(0, v[4])
        -- At step 100 every path holds a state: x_100 = (-1.5)^100 x0.
        local m = 0.0
        for i = 1, 20 do m = m + (i % 4 == 0 and 0 or 0.37 * i) end
        local mean100 = r:mean(100)[1]
        assert(abs(mean100 - 1.5 ^ 100 * m / 20) < 1e-12 * abs(mean100))
        assert.is_truthy(tostring(r):find("\n  diverged: 15 paths", 1, true))
      end)

    it("refuses moments when every path diverged", function()
      local r = hasme.simulate { objective = q, method = "sgd", eta = 2.5, steps = 2000, x0 = { 1 },
                                 paths = 3, on_diverge = "record" }
      assert.has_error(function() r:mean() end,
        "mean: no path holds a state (every path diverged or left the model's domain)")
      assert.has_error(function() r:cov() end,
        "cov: fewer than 2 paths hold a state (the others diverged or left the model's domain)")
    end)
  end)

  describe("errors in Lua callbacks", function()
    -- Deterministic runs without noise on f = -x^2/2 (x grows by 1.1 per step from
    -- 0.01): paths 1 and 2 stay at 0, path 3 passes |x| = 1 at step 49 (x_49 = 1.067).
    local X = { { 0 }, { 0 }, { 0.01 } }
    local SAD = hasme.quadratic { H = { { -1 } } }

    it("reports the objective's own message with path and step", function()
      local obj = hasme.objective { dim = 1, f = function(x)
        if abs(x[1]) > 1 then error("f left the trusted region", 0) end
        return -0.5 * x[1] * x[1]
      end }
      -- The gradient (by differences of f) is evaluated at x_49 during step 50.
      assert.has_error(function()
        hasme.simulate { objective = obj, eta = 0.1, steps = 60, x0 = X, paths = 3 }
      end, "simulate: error in the objective at path 3, step 50: f left the trusted region")
      -- The same from worker threads running copies of the callback (a run that stops
      -- before the failure shows that the copies are made).
      local XX = {}
      for i = 1, 3000 do XX[i] = { i == 3 and 0.01 or 0 } end
      local ok = hasme.simulate { objective = obj, eta = 0.1, steps = 45, x0 = XX, paths = 3000, threads = 2 }
      assert.are.equal(1, ok:info().worker_states)
      assert.has_error(function()
        hasme.simulate { objective = obj, eta = 0.1, steps = 60, x0 = XX, paths = 3000, threads = 2 }
      end, "simulate: error in the objective at path 3, step 50: f left the trusted region")
    end)

    it("reports errors of grad and hess callbacks, error objects and bad results", function()
      local function grad(x) return { -x[1] } end
      local cases = {
        { { grad = function(x)
            if abs(x[1]) > 1 then error(setmetatable({}, { __tostring = function() return "custom failure" end })) end
            return grad(x)
          end }, "sgd", "custom failure" },
        { { grad = grad, hess = function(x)
            if abs(x[1]) > 1 then error("hess undefined out here", 0) end
            return { { -1 } }
          end }, "hasme", "hess undefined out here" },
        { { grad = function(x) return abs(x[1]) > 1 and "steep" or grad(x) end }, "sgd",
          "grad returned string, expected a number or vector" },
        { { grad = function(x) return abs(x[1]) > 1 and { 1, 2 } or grad(x) end }, "sgd",
          "grad returned a table of length 2, expected 1" },
        { { grad = function(x) return abs(x[1]) > 1 and { math.huge } or grad(x) end }, "sgd",
          "grad returned a non-finite value (inf) at index 1" },
      }
      for _, c in ipairs(cases) do
        local spec = c[1]
        spec.dim = 1
        local obj = hasme.objective(spec)
        -- SGD multiplies x by 1.1 per step; HA-SME's Euler step (one substep) by
        -- 1 + eta phi1(-eta) = 1 + log(1.1). The callback fails in the step after the
        -- one that takes x past 1.
        local growth = c[2] == "sgd" and 1.1 or 1 + log(1.1)
        local x, k = 0.01, 1
        while x <= 1 do x, k = x * growth, k + 1 end
        assert.has_error(function()
          hasme.simulate { objective = obj, method = c[2], integrator = c[2] ~= "sgd" and "euler" or nil,
                           substeps = 1, eta = 0.1, steps = 60, x0 = X, paths = 3 }
        end, ("simulate: error in the objective at path 3, step %d: %s"):format(k, c[3]))
      end
    end)

    it("reports errors of a state-dependent noise and of an escape predicate", function()
      local nz = hasme.gaussian { cov = function(x)
        if abs(x[1]) > 1 then error("no covariance out here", 0) end
        return { { 0 } }
      end }
      assert.has_error(function()
        hasme.simulate { objective = SAD, noise = nz, eta = 0.1, steps = 60, x0 = X, paths = 3 }
      end, "simulate: error in the noise at path 3, step 50: no covariance out here")
      local bad = hasme.gaussian { cov = function() return { { 1, 2 }, { 2, 1 } } end }
      assert.has_error(function()
        hasme.simulate { objective = hasme.quadratic { H = HMIN }, noise = bad, eta = 0.1,
                         steps = 6, x0 = X0, paths = 3 }
      end, "simulate: the noise covariance is not positive semidefinite at path 1, step 1 "
           .. "(eigenvalue -1.0)")
      -- The predicate is tested on x_k after step k: x_49 is the first beyond 1.
      assert.has_error(function()
        hasme.simulate { objective = SAD, eta = 0.1, steps = 60, x0 = X, paths = 3,
                         escape = function(x)
                           if abs(x[1]) > 1 then error("predicate undefined", 0) end
                           return false
                         end }
      end, "simulate: error in the escape at path 3, step 49: predicate undefined")
    end)
  end)

  describe("progress", function()
    local function big(changes)
      local o = opts { paths = 20000, steps = 40, method = "sgd", progress_interval = 0 }
      for k, v in pairs(changes) do o[k] = v end
      return o
    end

    it("reports done and total, and cancels when the callback returns false", function()
      local calls, last, total = 0, -1, nil
      hasme.simulate(big { progress = function(done, tot)
        calls = calls + 1
        assert(done >= last and done <= tot)
        last, total = done, tot
      end, threads = 1 })
      assert(calls > 10, calls)
      assert.are.equal(20000 * 40, total)
      local n = 0
      assert.has_error(function()
        hasme.simulate(big { progress = function() n = n + 1; return n < 3 end })
      end, "simulate: cancelled")
      assert.are.equal(3, n)
    end)

    it("stops with the callback's error", function()
      assert.has_error(function()
        hasme.simulate(big { progress = function() error("disk full", 0) end })
      end, "simulate: error in the progress callback: disk full")
      assert.has_error(sim { progress = 42 },
        "bad argument #1 to 'simulate' (field 'progress': function expected, got number)")
    end)
  end)

  describe("options", function()
    local PRE = "bad argument #1 to 'simulate' ("
    local VALID = "'objective', 'noise', 'method', 'eta', 'steps', 'x0', 'paths', 'seed', "
      .. "'integrator', 'substeps', 'record', 'escape', 'threads', 'on_diverge', 'psd', "
      .. "'psd_tol', 'memory_limit', 'progress', 'progress_interval', 'coupled', 'on_domain', "
      .. "'svag_l', 'estimate_after', 'observe' or 'snapshots'"

    it("rejects unknown option names", function()
      assert.has_error(sim { step = 3 }, PRE .. "unknown option 'step' (valid: " .. VALID .. "))")
      assert.has_error(sim { Seed = 3 }, PRE .. "unknown option 'Seed' (valid: " .. VALID .. "))")
    end)

    it("rejects a key that is not a string, naming it", function()
      assert.has_error(function() hasme.simulate { 7 } end,
        PRE .. "unexpected key 1 in options table (valid: " .. VALID .. "))")
    end)

    it("rejects missing, mistyped and out-of-range fields", function()
      local cases = {
        { { objective = "nil" }, "field 'objective': hasme.Objective expected, got nil" },
        { { objective = {} }, "field 'objective': hasme.Objective expected, got table" },
        { { noise = 3 }, "field 'noise': hasme.Noise expected, got number" },
        { { method = "sme3" }, "field 'method': expected 'sgd', 'sme1', 'sme2', 'hasme' or 'svag', got 'sme3'" },
        { { method = 1 }, "field 'method': string expected, got number" },
        { { eta = "nil" }, "field 'eta': number expected, got nil" },
        { { eta = -0.25 }, "field 'eta': must be positive and finite (got -0.25)" },
        { { eta = math.huge }, "field 'eta': must be positive and finite (got inf)" },
        { { eta = "fast" }, "field 'eta': number expected, got string" },
        { { steps = "nil" }, "field 'steps': integer expected, got nil" },
        { { steps = 2.5 }, "field 'steps': integer expected, got 2.5" },
        { { steps = -2 }, "field 'steps': must be in [0, 1099511627776] (got -2)" },
        { { paths = 0 }, "field 'paths': must be in [1, 1099511627776] (got 0)" },
        { { seed = -1 }, "field 'seed': must be at least 0 (got -1)" },
        { { threads = 0 }, "field 'threads': must be in [1, 256] (got 0)" },
        { { substeps = 0 }, "field 'substeps': must be in [1, 1000000] (got 0)" },
        { { integrator = "rk4" }, "field 'integrator': expected 'euler' or 'exact', got 'rk4'" },
        { { on_diverge = "ignore" }, "field 'on_diverge': expected 'error' or 'record', got 'ignore'" },
        { { psd = "clip" }, "field 'psd': expected 'error' or 'project', got 'clip'" },
        { { psd_tol = -1e-9 }, "field 'psd_tol': must be finite and non-negative" },
        { { coupled = "yes" }, "field 'coupled': boolean or integer expected, got string" },
        { { coupled = 0 }, "field 'coupled': must be in [1, 1000000] (got 0)" },
        { { coupled = 2.5 }, "field 'coupled': integer expected, got 2.5" },
        { { x0 = "nil" }, "field 'x0': vector expected, got nil" },
        { { x0 = { 0 / 0, 1 } }, "field 'x0': non-finite entry at index 1" },
        { { escape = 3 }, "field 'escape': function or hasme.Escape expected, got number" },
        { { memory_limit = "lots" },
          "field 'memory_limit': byte count expected (such as 4e9 or \"4G\"), got 'lots'" },
        { { memory_limit = -5 }, "field 'memory_limit': must be a positive byte count" },
      }
      for _, c in ipairs(cases) do assert.has_error(sim(c[1]), PRE .. c[2] .. ")") end
      assert.has_error(function() hasme.simulate(3) end, PRE .. "table expected, got number)")
    end)

    it("rejects 'exact' for anything but a quadratic with constant Gaussian noise", function()
      local msg = PRE .. "field 'integrator': 'exact' needs a quadratic objective (hasme.quadratic) "
        .. "with constant Gaussian noise or none; use 'euler')"
      assert.has_error(sim { objective = hasme.wells { dim = 2 }, integrator = "exact" }, msg)
      assert.has_error(sim { noise = hasme.gaussian { cov = function() return { { 1, 0 }, { 0, 1 } } end },
                             integrator = "exact" }, msg)
      -- Without the option, such runs default to Euler.
      local r = hasme.simulate(opts { objective = hasme.wells { dim = 2 }, eta = 0.05,
                                      noise = hasme.gaussian { sigma = 0.1 } })
      assert.are.equal("euler", r.integrator)
      assert.are.equal(10, r.substeps)
    end)

    it("rejects wrong dimensions of x0, the noise and the escape criterion", function()
      assert.has_error(sim { x0 = { 1, 2, 3 } },
        PRE .. "field 'x0': vector of length 2 expected, got length 3)")
      assert.has_error(sim { x0 = hasme.mat(99, 2) },
        PRE .. "field 'x0': matrix of 100 x 2 (paths x dim) expected, got 99x2)")
      assert.has_error(sim { x0 = hasme.mat(100, 3) },
        PRE .. "field 'x0': matrix of 100 x 2 (paths x dim) expected, got 100x3)")
      assert.has_error(sim { noise = hasme.gaussian { cov = { { 1 } } } },
        PRE .. "field 'noise': noise of dimension 1 used with dimension 2)")
      assert.has_error(sim { escape = hasme.escape.ball_exit({ 0, 0, 0 }, 1) },
        PRE .. "field 'escape': criterion of dimension 3 used with dimension 2)")
      assert.has_error(sim { escape = hasme.escape.halfspace({ 1 }, 0.5) },
        PRE .. "field 'escape': criterion of dimension 1 used with dimension 2)")
    end)

    it("rejects record steps out of range or not integers", function()
      assert.has_error(sim { record = { 3, 9 } },
        PRE .. "field 'record': step 9 at index 2 is outside [0, 5])")
      assert.has_error(sim { record = { -1 } },
        PRE .. "field 'record': step -1 at index 1 is outside [0, 5])")
      assert.has_error(sim { record = { 1.5 } },
        PRE .. "field 'record': step 1.5 at index 1 is not an integer)")
      assert.has_error(sim { record = {} }, PRE .. "field 'record': no step given)")
      assert.has_error(sim { record = "some" },
        PRE .. "field 'record': vector expected (hasme.Vec or table of numbers), got string)")
    end)

    it("rejects a memory limit below what the results need", function()
      -- 6 recorded steps x 100 paths x 2 doubles = 9600 bytes = 9.4 KiB (no per-path
      -- step arrays: no escape criterion, divergence and domain exits are errors);
      -- with on_diverge = "record", 8 bytes more per path: 10400 bytes = 10.2 KiB.
      local tail = " (6 recorded steps x 100 paths x 2 dims), more than memory_limit = %s; "
        .. "record fewer steps or raise memory_limit"
      assert.has_error(sim { record = "all", memory_limit = 9599 },
        ("simulate: the results need 9.4 KiB" .. tail):format("9.4 KiB"))
      assert.has_error(sim { record = "all", memory_limit = "1K" },
        ("simulate: the results need 9.4 KiB" .. tail):format("1.0 KiB"))
      assert.has_error(sim { record = "all", memory_limit = 1000 },
        ("simulate: the results need 9.4 KiB" .. tail):format("1000.0 B"))
      assert.has_no.errors(sim { record = "all", memory_limit = 9600 })
      assert.has_error(sim { record = "all", memory_limit = 10399, on_diverge = "record" },
        ("simulate: the results need 10.2 KiB" .. tail):format("10.2 KiB"))
      assert.has_no.errors(sim { record = "all", memory_limit = "10400B", on_diverge = "record" })
    end)

    it("rejects minibatch noise on an objective that is not a finite sum", function()
      assert.has_error(sim { method = "sgd", noise = hasme.minibatch { batch = 2 } },
        PRE .. "field 'noise': minibatch noise needs a finite-sum objective (such as hasme.nn))")
    end)
  end)
end)

describe("hasme.simulate and Ctrl-C", function()
  -- SIGINT in the middle of a long run stops it with an error the script can catch
  -- (the interpreter's own handler only acts inside Lua code); the handler in place
  -- before the run is restored after it.
  local bin = (os.getenv("HASME_BUILD") or "build") .. "/hasme"
  local script = [[
    local h = require "hasme"
    local function run(steps)
      return pcall(h.simulate, { objective = h.wells { dim = 1 }, noise = h.gaussian { sigma = 1 },
                                 method = "hasme", eta = 0.01, steps = steps, x0 = { -1 },
                                 paths = 64, threads = 2 })
    end
    io.write("ready\n"); io.flush()
    local ok, err = run(100000000)
    print(ok, err)
    print(run(10))
  ]]

  it("stops a run with 'simulate: interrupted' and the script goes on", function()
    local f = os.tmpname()
    local h = assert(io.open(f, "w"))
    h:write(script)
    h:close()
    local p = assert(io.popen(("%s %s & pid=$!; sleep 0.4; kill -INT $pid; wait $pid; echo status $?")
      :format(bin, f)))
    local out = p:read("a")
    p:close()
    os.remove(f)
    assert.matches("ready\nfalse\tsimulate: interrupted\ntrue\thasme.Result", out, 1, true)
    assert.matches("status 0", out, 1, true)
  end)
end)
