-- noise_spec.lua: the noise models (hasme.gaussian, hasme.minibatch) with the
-- covariance Sigma(x) the SDE models use (docs/methods.md section 1), and the escape
-- criteria (hasme.escape.*) with their :test semantics; every error message matched
-- exactly.
local hasme = require "hasme"

local abs, max = math.abs, math.max

-- max |x - y| / max |y| over the entries of two matrices (plain or hasme).
local function relerr(x, y)
  x = type(x) == "table" and x or x:totable()
  y = type(y) == "table" and y or y:totable()
  local d, s = 0.0, 0.0
  for i = 1, #y do
    for j = 1, #y[i] do
      d = max(d, abs(x[i][j] - y[i][j]))
      s = max(s, abs(y[i][j]))
    end
  end
  return s > 0 and d / s or d
end

local SCOV = { { 0.613, 0.287, -0.094 }, { 0.287, 0.468, 0.052 }, { -0.094, 0.052, 0.371 } }

describe("hasme.gaussian", function()
  it("with sigma is isotropic: Sigma(x) = sigma^2 I in the dimension of x", function()
    local n = hasme.gaussian { sigma = 0.83 }
    assert.are.equal("isotropic", n:kind())
    assert.are.equal("hasme.Noise(gaussian, sigma=0.83)", tostring(n))
    local s2 = 0.83 * 0.83
    assert.are.same({ { s2, 0, 0 }, { 0, s2, 0 }, { 0, 0, s2 } }, n:cov({ 1.7, -2.2, 0.4 }):totable())
    assert.are.same({ { s2 } }, n:cov({ 3.1 }):totable())
    -- sigma = 0 is allowed (no noise).
    assert.are.same({ { 0, 0 }, { 0, 0 } }, hasme.gaussian({ sigma = 0 }):cov({ 1, 2 }):totable())
  end)

  it("with a matrix is constant: Sigma(x) is that matrix", function()
    local n = hasme.gaussian { cov = SCOV }
    assert.are.equal("constant", n:kind())
    assert.are.equal("hasme.Noise(gaussian, constant 3x3 covariance)", tostring(n))
    assert.are.same(SCOV, n:cov({ 0.3, 0.1, -0.7 }):totable())
    assert.are.same(SCOV, n:cov({ -5.2, 8.4, 1.9 }):totable())
    -- dim may repeat the size; a hasme.Mat is accepted.
    assert.are.same(SCOV, hasme.gaussian({ cov = hasme.mat(SCOV), dim = 3 }):cov({ 0, 0, 0 }):totable())
  end)

  it("accepts a singular (rank-deficient) covariance", function()
    -- Perfectly correlated noise of variance 0.49: positive semidefinite, rank 1.
    local n = hasme.gaussian { cov = { { 0.49, 0.49 }, { 0.49, 0.49 } } }
    assert.are.same({ { 0.49, 0.49 }, { 0.49, 0.49 } }, n:cov({ 1, 1 }):totable())
    -- It drives a simulation: x1 - x2 never moves (SGD on f = |x|^2 / 2 with eta = 1/2).
    local r = hasme.simulate { objective = hasme.quadratic { H = { { 1, 0 }, { 0, 1 } } }, noise = n,
                               eta = 0.5, steps = 4, x0 = { 0.8, -0.8 }, paths = 50, seed = 3 }
    local S = r:snapshot()
    for i = 1, 50 do assert(abs((S[i][1] - S[i][2]) - 1.6 * 0.5 ^ 4) < 1e-14) end
  end)

  it("with a function is state-dependent: Sigma(x) is what it returns at x", function()
    local n = hasme.gaussian { cov = function(x)
      return { { x[1] ^ 2 + 0.1, 0.05 * x[2] }, { 0.05 * x[2], 0.3 } }
    end }
    assert.are.equal("state", n:kind())
    assert.are.equal("hasme.Noise(gaussian, state-dependent covariance)", tostring(n))
    assert.are.same({ { 1.7 ^ 2 + 0.1, 0.05 * -2.4 }, { 0.05 * -2.4, 0.3 } },
      n:cov({ 1.7, -2.4 }):totable())
    -- A hasme.Mat result, and dim fixing the dimension.
    local m = hasme.gaussian { cov = function(x) return hasme.mat { { x[1] } } end, dim = 1 }
    assert.are.same({ { 0.25 } }, m:cov({ 0.25 }):totable())
  end)

  it("reports errors of a covariance function", function()
    local n = hasme.gaussian { cov = function() error("covariance unavailable", 0) end }
    assert.has_error(function() n:cov { 1, 2 } end, "cov: covariance unavailable")
    local two = hasme.gaussian { cov = function() return { { 1, 0 }, { 0, 1 } } end }
    assert.has_error(function() two:cov { 3 } end, "cov: cov returned 2 rows, expected 1")
    local bad = hasme.gaussian { cov = function() return { { 1, 0 }, { 0, 0 / 0 } } end }
    local ok, msg = pcall(bad.cov, bad, { 1, 2 })
    assert.is_false(ok)
    assert.is_truthy(msg:match("^cov: cov returned a non%-finite value %(%-?nan%) at index 4$"), msg)
    local str = hasme.gaussian { cov = function() return "diag" end }
    assert.has_error(function() str:cov { 1, 2 } end, "cov: cov returned string, expected a matrix")
    local fixed = hasme.gaussian { cov = function() return { { 1 } } end, dim = 2 }
    assert.has_error(function() fixed:cov { 3 } end,
      "calling 'cov' on bad self (noise of dimension 2 used with dimension 1)")
    assert.has_error(function() fixed:cov { 3, 4 } end, "cov: cov returned 1 rows, expected 2")
  end)

  it("rejects bad options", function()
    local P = "bad argument #1 to 'gaussian' ("
    assert.has_error(function() hasme.gaussian { sigma = 1, cov = { { 1 } } } end,
      P .. "give exactly one of 'sigma' and 'cov')")
    assert.has_error(function() hasme.gaussian {} end, P .. "give exactly one of 'sigma' and 'cov')")
    assert.has_error(function() hasme.gaussian(1) end, P .. "table expected, got number)")
    assert.has_error(function() hasme.gaussian { sigma = -0.5 } end,
      P .. "field 'sigma': must be finite and non-negative (got -0.5))")
    assert.has_error(function() hasme.gaussian { sigma = math.huge } end,
      P .. "field 'sigma': must be finite and non-negative (got inf))")
    assert.has_error(function() hasme.gaussian { sigma = "a" } end,
      P .. "field 'sigma': number expected, got string)")
    assert.has_error(function() hasme.gaussian { cov = { { 1, 2 }, { 2, 1 } } } end,
      P .. "field 'cov': covariance is not positive semidefinite (eigenvalue -1.0))")
    assert.has_error(function() hasme.gaussian { cov = { { 1, 0.5 }, { 0.4, 1 } } } end,
      P .. "field 'cov': covariance is not symmetric at [1][2])")
    assert.has_error(function() hasme.gaussian { cov = { { 1, 0.5 } } } end,
      P .. "field 'cov': square matrix expected, got 1x2)")
    assert.has_error(function() hasme.gaussian { cov = {} } end, P .. "field 'cov': empty matrix)")
    assert.has_error(function() hasme.gaussian { cov = { { 1, 0 }, { 0, 0 / 0 } } } end,
      P .. "field 'cov': non-finite entry at [2][2])")
    assert.has_error(function() hasme.gaussian { cov = { { 1, 0 }, { 0, 1 } }, dim = 3 } end,
      P .. "field 'dim': is 3 but 'cov' is 2x2)")
    assert.has_error(function() hasme.gaussian { cov = 3 } end,
      P .. "field 'cov': matrix expected (hasme.Mat or table of rows), got number)")
    assert.has_error(function() hasme.gaussian { sigma = 1, mean = 0 } end,
      P .. "unknown option 'mean' (valid: 'sigma', 'cov' or 'dim'))")
    assert.has_error(function() hasme.gaussian { cov = function() end, dim = 0 } end,
      P .. "field 'dim': must be in [1, 1000000] (got 0))")
  end)

  it("rejects a point of the wrong dimension", function()
    local n = hasme.gaussian { cov = SCOV }
    assert.has_error(function() n:cov { 1, 2 } end,
      "calling 'cov' on bad self (noise of dimension 3 used with dimension 2)")
    assert.has_error(function() n:cov "x" end,
      "bad argument #1 to 'cov' (vector expected (hasme.Vec or table of numbers), got string)")
  end)
end)

describe("hasme.minibatch", function()
  -- N = 9 samples in R^2, 2 hidden units: d = 2*2 + 2*2 + 1 = 9 parameters.
  local X, Y = {}, {}
  for i = 1, 9 do
    X[i] = { math.cos(2.1 * i + 0.3), math.sin(0.9 * i - 1.2) }
    Y[i] = 0.45 * math.sin(1.9 * i) + 0.11
  end
  local TH = {}
  for k = 1, 9 do TH[k] = 0.6 * math.cos(1.13 * k + 0.4) end
  local function net() return hasme.nn { X = X, y = Y, hidden = 2, decay = 0.021 } end

  -- The population covariance of the per-sample gradients: (1/N) sum (g_i - gbar)(g_i - gbar)'.
  local function population_cov(obj, th)
    local N, d = obj:nsamples(), obj:dim()
    local G, mean = {}, {}
    for j = 1, d do mean[j] = 0.0 end
    for i = 1, N do
      G[i] = obj:sample_grad(th, i):totable()
      for j = 1, d do mean[j] = mean[j] + G[i][j] / N end
    end
    -- The per-sample gradients average to the full gradient.
    local g = obj:grad(th)
    for j = 1, d do assert(abs(mean[j] - g[j]) < 1e-14 * max(1, abs(g[j]))) end
    local C = {}
    for a = 1, d do
      C[a] = {}
      for b = 1, d do
        local s = 0.0
        for i = 1, N do s = s + (G[i][a] - mean[a]) * (G[i][b] - mean[b]) end
        C[a][b] = s / N
      end
    end
    return C
  end

  it("describes itself", function()
    local n = hasme.minibatch { batch = 3 }
    assert.are.equal("minibatch", n:kind())
    assert.are.equal("hasme.Noise(minibatch, batch=3, without replacement)", tostring(n))
    assert.are.equal("hasme.Noise(minibatch, batch=2, with replacement)",
      tostring(hasme.minibatch { batch = 2, replace = true }))
  end)

  it("gives the per-sample covariance / B, times (N - B)/(N - 1) without replacement", function()
    local obj = net()
    local S = population_cov(obj, TH)
    for _, B in ipairs { 1, 2, 4, 8, 9 } do
      local with = hasme.minibatch({ batch = B, replace = true }):cov(TH, obj):totable()
      local without = hasme.minibatch({ batch = B }):cov(TH, obj):totable()
      local fw, fo = {}, {}
      for a = 1, 9 do
        fw[a], fo[a] = {}, {}
        for b = 1, 9 do
          fw[a][b] = S[a][b] / B
          fo[a][b] = S[a][b] / B * (9 - B) / 8
        end
      end
      assert(relerr(with, fw) < 1e-12, ("B = %d with replacement"):format(B))
      if B < 9 then
        assert(relerr(without, fo) < 1e-12, ("B = %d without replacement"):format(B))
      else
        -- The whole dataset every time: no noise at all.
        for a = 1, 9 do for b = 1, 9 do assert.are.equal(0, without[a][b]) end end
      end
    end
    -- B = 1: the two samplings coincide.
    assert(relerr(hasme.minibatch({ batch = 1 }):cov(TH, obj), hasme.minibatch({ batch = 1, replace = true }):cov(TH, obj)) < 1e-15)
  end)

  it("needs a finite-sum objective with enough samples", function()
    local n = hasme.minibatch { batch = 3 }
    assert.has_error(function() n:cov { 1, 2 } end, "bad argument #2 to 'cov' (minibatch noise needs the objective)")
    assert.has_error(function() n:cov({ 1, 2 }, hasme.quadratic { H = { { 1, 0 }, { 0, 1 } } }) end,
      "bad argument #2 to 'cov' (minibatch noise needs a finite-sum objective (such as hasme.nn))")
    local small = hasme.nn { X = { { 1, 2 }, { 3, 4 } }, y = { 1, 2 }, hidden = 1 }
    assert.has_error(function() n:cov({ 1, 2, 3, 4, 5 }, small) end,
      "bad argument #2 to 'cov' (batch size 3 exceeds the 2 samples of the objective)")
    assert.has_error(function() n:cov({ 1, 2, 3 }, small) end,
      "bad argument #1 to 'cov' (vector of length 5 expected, got length 3)")
    assert.has_error(function() n:cov({ 1, 2, 3 }, 3) end,
      "bad argument #2 to 'cov' (hasme.Objective expected, got number)")
    assert.has_error(function()
      hasme.simulate { objective = small, noise = n, eta = 0.1, steps = 2, x0 = { 1, 2, 3, 4, 5 } }
    end, "bad argument #1 to 'simulate' (field 'noise': batch size 3 exceeds the 2 samples of the objective)")
  end)

  it("rejects bad options", function()
    local P = "bad argument #1 to 'minibatch' ("
    assert.has_error(function() hasme.minibatch { batch = 0 } end,
      P .. "field 'batch': must be in [1, 1099511627776] (got 0))")
    assert.has_error(function() hasme.minibatch { batch = -2 } end,
      P .. "field 'batch': must be in [1, 1099511627776] (got -2))")
    assert.has_error(function() hasme.minibatch {} end, P .. "field 'batch': positive integer expected, got nil)")
    assert.has_error(function() hasme.minibatch { batch = 2.5 } end, P .. "field 'batch': integer expected, got 2.5)")
    assert.has_error(function() hasme.minibatch { batch = 2, replace = "yes" } end,
      P .. "field 'replace': boolean expected, got string)")
    assert.has_error(function() hasme.minibatch { batch = 2, size = 3 } end,
      P .. "unknown option 'size' (valid: 'batch', 'replace' or 'gaussian'))")
    assert.has_error(function() hasme.minibatch(4) end, P .. "table expected, got number)")
  end)
end)

describe("hasme.escape", function()
  it("halfspace(a, c) is a'x > c, strictly", function()
    local e = hasme.escape.halfspace({ 1.25, -2.5 }, 0.5)
    assert.are.equal("hasme.Escape(halfspace, 0.5)", tostring(e))
    assert.is_false(e:test { 1.2, 0.4 })          -- a'x = 0.5: on the plane
    assert.is_true(e:test { 1.2 + 1e-9, 0.4 })
    assert.is_false(e:test { -3.1, 0.2 })
    assert.is_true(e:test(hasme.vec { 4.4, 1.7 }))
  end)

  it("ball_exit(center, r) is |x - center| > r, strictly", function()
    local e = hasme.escape.ball_exit({ 0.5, -0.5 }, 1.25)
    assert.are.equal("hasme.Escape(ball_exit, 1.25)", tostring(e))
    assert.is_false(e:test { 1.25, 0.5 })         -- |(0.75, 1)| = 1.25 exactly
    assert.is_true(e:test { 1.25, 0.5 + 1e-9 })
    assert.is_false(e:test { 0.5, -0.5 })
    assert.is_true(e:test { -0.8, -0.5 })
    -- r = 0: every point but the centre has escaped.
    local z = hasme.escape.ball_exit({ 0.3 }, 0)
    assert.is_false(z:test { 0.3 })
    assert.is_true(z:test { 0.3 + 1e-12 })
  end)

  it("value_below(c) and value_above(c) compare f(x) with c for the given objective", function()
    -- A quadratic, and c = f(x) exactly at the point tested: the boundary itself
    -- counts as neither below nor above.
    local q = hasme.quadratic { H = { { 2, 0.5 }, { 0.5, 1 } }, b = { 0.25, -0.75 } }
    local x = { 0.6, -0.2 }
    local f = q:value(x)
    local below, above = hasme.escape.value_below(f), hasme.escape.value_above(f)
    assert.are.equal(("hasme.Escape(value_below, %.14g)"):format(f), tostring(below))
    assert.are.equal("hasme.Escape(value_above, 2.0)", tostring(hasme.escape.value_above(2)))
    assert.is_false(below:test(x, q))             -- f(x) = c: neither
    assert.is_false(above:test(x, q))
    assert.is_true(hasme.escape.value_below(f + 1e-9):test(x, q))
    assert.is_true(hasme.escape.value_above(f - 1e-9):test(x, q))
    -- The objective decides: the same point under another objective.
    local w = hasme.wells { dim = 2 }
    assert.is_true(hasme.escape.value_below(0.3):test(x, w) == (w:value(x) < 0.3))
    assert.is_true(hasme.escape.value_above(0.3):test(x, w) == (w:value(x) > 0.3))
  end)

  it("rejects bad arguments", function()
    assert.has_error(function() hasme.escape.halfspace({}, 1) end, "bad argument #1 to 'halfspace' (empty vector)")
    assert.has_error(function() hasme.escape.halfspace({ 1 }, 0 / 0) end, "bad argument #2 to 'halfspace' (must be finite)")
    assert.has_error(function() hasme.escape.halfspace { 1 } end,
      "bad argument #2 to 'halfspace' (number expected, got no value)")
    assert.has_error(function() hasme.escape.halfspace(3, 1) end,
      "bad argument #1 to 'halfspace' (vector expected (hasme.Vec or table of numbers), got number)")
    assert.has_error(function() hasme.escape.ball_exit({ 0 }, -1) end,
      "bad argument #2 to 'ball_exit' (radius must be non-negative)")
    assert.has_error(function() hasme.escape.ball_exit({ 0 }, math.huge) end,
      "bad argument #2 to 'ball_exit' (must be finite)")
    assert.has_error(function() hasme.escape.ball_exit({}, 1) end, "bad argument #1 to 'ball_exit' (empty vector)")
    assert.has_error(function() hasme.escape.value_below(0 / 0) end, "bad argument #1 to 'value_below' (must be finite)")
    assert.has_error(function() hasme.escape.value_above "x" end,
      "bad argument #1 to 'value_above' (number expected, got string)")
  end)

  it("rejects bad arguments to test", function()
    local h = hasme.escape.halfspace({ 1, -2 }, 0.5)
    assert.has_error(function() h:test { 1 } end, "bad argument #1 to 'test' (vector of length 2 expected, got length 1)")
    assert.has_error(function() h:test "x" end,
      "bad argument #1 to 'test' (vector expected (hasme.Vec or table of numbers), got string)")
    local v = hasme.escape.value_below(-0.3)
    assert.has_error(function() v:test { 1, 2 } end, "bad argument #2 to 'test' (hasme.Objective expected, got no value)")
    assert.has_error(function() v:test({ 1, 2 }, hasme.quadratic { H = { { 1 } } }) end,
      "bad argument #2 to 'test' (objective dimension does not match x)")
    assert.has_error(function() v:test({ 1, 2 }, 3) end, "bad argument #2 to 'test' (hasme.Objective expected, got number)")
  end)

  it("passes on the message of a Lua objective that fails in test", function()
    local lobj = hasme.objective { dim = 2, f = function() error("no value here", 0) end }
    assert.has_error(function() hasme.escape.value_below(-0.3):test({ 1, 2 }, lobj) end, "test: no value here")
  end)
end)
