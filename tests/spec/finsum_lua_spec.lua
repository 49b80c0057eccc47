-- finsum_lua_spec.lua: finite sums written in Lua, hasme.objective{dim, n, f_i, grad_i,
-- hess_i}: the same value, derivatives, minibatch covariance and simulated paths as the
-- built-in hasme.least_squares on the same data (to the last bit, because the sums run
-- in the same order), the derivatives a missing callback gets by finite differences,
-- identical runs on one and two threads, errors naming the callback, the sample, the
-- path and the step, and no registry growth.
local hasme = require "hasme"

local A = { { 1.5, -0.25 }, { 0.5, 2.0 }, { -1.0, 0.75 }, { 2.385, 0.1 }, { -0.6, -1.3 },
            { 0.2, 0.9 }, { -1.7, 0.4 } }
local y = { 0.3, -1.2, 0.8, 2.0, -0.4, 0.15, -0.9 }
local lab = { 1, -1, 1, 1, -1, -1, 1 }
local N = #y

-- a_i'x, summed in the order of the C code (hs_finsum.c), so that the per-sample
-- gradients below are bit-identical to the built-in ones.
local function margin(i, x)
  local a, s = A[i], 0
  for k = 1, #a do s = s + a[k] * x[k] end
  return s
end

local function ls_f(i, x)
  local r = margin(i, x) - y[i]
  return 0.5 * r * r
end

local function ls_grad(i, x)
  local c = margin(i, x) - y[i]
  return { c * A[i][1], c * A[i][2] }
end

local function ls_hess(i)
  local a = A[i]
  return { { a[1] * a[1], a[1] * a[2] }, { a[2] * a[1], a[2] * a[2] } }
end

-- The least-squares problem of hasme.least_squares{A = A, y = y} written in Lua; the
-- callbacks given are those named in `which` (default: all three).
local function lua_ls(which)
  which = which or { f_i = true, grad_i = true, hess_i = true }
  return hasme.objective { dim = 2, n = N,
                           f_i = which.f_i and ls_f or nil,
                           grad_i = which.grad_i and ls_grad or nil,
                           hess_i = which.hess_i and ls_hess or nil }
end

-- The message of a failing call, without the position prefix Lua adds and with the
-- function named as in the docs ('simulate', not 'hasme.core.simulate').
local function errof(f, ...)
  local ok, err = pcall(f, ...)
  assert(not ok, "expected an error")
  return (tostring(err):gsub("^[^\n:]*:%d+: ", ""):gsub("to '[%w_%.]+%.", "to '"))
end

local function maxdiff(a, b)
  local m = 0
  for i = 1, #a do
    if type(a[i]) == "table" then m = math.max(m, maxdiff(a[i], b[i]))
    else m = math.max(m, math.abs(a[i] - b[i])) end
  end
  return m
end

local X0 = { 0.37, -1.21 }

describe("finite sums written in Lua", function()
  describe("construction", function()
    it("builds an objective of dimension dim over n samples", function()
      local o = lua_ls()
      assert.equal("hasme.Objective(lua, dim=2, samples=7)", tostring(o))
      assert.same({ 2, 7, "lua" }, { o:dim(), o:nsamples(), o:kind() })
      assert.equal(0, hasme.objective { dim = 2, f = function() return 0 end }:nsamples())
    end)

    it("names the field and what was expected in its errors", function()
      local fn = function() return 0 end
      local cases = {
        { { dim = 2, f_i = fn }, "field 'n': positive integer expected, got nil" },
        { { dim = 2, n = 0, f_i = fn }, "field 'n': must be at least 1 (got 0)" },
        { { dim = 2, n = 2.5, f_i = fn }, "field 'n': integer expected, got 2.5" },
        { { dim = 2, n = true, f_i = fn }, "field 'n': integer expected, got boolean" },
        { { dim = 2, n = 2^50, f_i = fn }, "field 'n': too many samples (got 1125899906842624, at most 1099511627776)" },
        { { dim = 2, n = 3, f_i = 1 }, "field 'f_i': function expected, got number" },
        { { dim = 2, n = 3, f_i = fn, grad_i = {} }, "field 'grad_i': function expected, got table" },
        { { dim = 2, n = 3, f_i = fn, hess_i = "h" }, "field 'hess_i': function expected, got string" },
        { { dim = 2, n = 3 }, "a finite-sum objective needs at least 'f_i' or 'grad_i'" },
        { { dim = 2, n = 3, hess_i = fn }, "a finite-sum objective needs at least 'f_i' or 'grad_i'" },
        { { dim = 2, n = 3, f = fn, f_i = fn },
          "field 'f_i': cannot be mixed with 'f' (give either f, grad, hess or the per-sample f_i, grad_i, hess_i with n)" },
        { { dim = 2, grad = fn, hess_i = fn },
          "field 'hess_i': cannot be mixed with 'grad' (give either f, grad, hess or the per-sample f_i, grad_i, hess_i with n)" },
        { { dim = 2, n = 3, f = fn },
          "field 'n': a finite sum takes per-sample callbacks (f_i, grad_i, hess_i), not 'f'" },
        { { n = 3, f_i = fn }, "field 'dim': positive integer expected, got nil" },
        { { dim = 2, n = 3, f_i = fn, h = 0 }, "field 'h': must be a positive step (got 0.0)" },
        { { dim = 2, n = 3, fi = fn },
          "unknown option 'fi' (valid: 'dim', 'f', 'grad', 'hess', 'h', 'n', 'f_i', 'grad_i' or 'hess_i')" },
      }
      for _, c in ipairs(cases) do
        local ok, err = pcall(hasme.objective, c[1])
        assert.is_false(ok)
        assert.equal("bad argument #1 to 'objective' (" .. c[2] .. ")",
                     (tostring(err):gsub("to '[%w_%.]+%.", "to '")))
      end
    end)
  end)

  describe("against hasme.least_squares", function()
    local ls = hasme.least_squares { A = A, y = y }
    local points = { X0, { 0, 0 }, { -2.385, 0.61 }, { 14.2, -3.3 } }

    it("gives the same value, gradient, Hessian and sample gradients to the last bit", function()
      local o = lua_ls()
      for _, x in ipairs(points) do
        assert.equal(ls:value(x), o:value(x))
        assert.same(ls:grad(x):totable(), o:grad(x):totable())
        assert.same(ls:hess(x):totable(), o:hess(x):totable())
        for i = 1, N do assert.same(ls:sample_grad(x, i):totable(), o:sample_grad(x, i):totable()) end
      end
    end)

    it("agrees to rounding with a decay term carried by every f_i", function()
      local decay = 0.3
      local ld = hasme.least_squares { A = A, y = y, decay = decay }
      local o = hasme.objective { dim = 2, n = N,
        f_i = function(i, x) return ls_f(i, x) + 0.5 * decay * (x[1] * x[1] + x[2] * x[2]) end,
        grad_i = function(i, x)
          local g = ls_grad(i, x)
          return { g[1] + decay * x[1], g[2] + decay * x[2] }
        end,
        hess_i = function(i)
          local H = ls_hess(i)
          H[1][1], H[2][2] = H[1][1] + decay, H[2][2] + decay
          return H
        end }
      for _, x in ipairs(points) do
        -- sums of N terms of size at most s: rounding below 4 N eps s
        local s = 1 + math.abs(ld:value(x)) + math.abs(x[1]) + math.abs(x[2])
        local tol = 4 * N * 2^-52 * s * s
        assert.near(ld:value(x), o:value(x), tol)
        assert.is_true(maxdiff(ld:grad(x):totable(), o:grad(x):totable()) <= tol)
        assert.is_true(maxdiff(ld:hess(x):totable(), o:hess(x):totable()) <= tol)
      end
    end)

    it("differentiates f_i when grad_i and hess_i are missing", function()
      -- Central differences are exact on quadratics up to rounding: eps f / h for
      -- gradients (h = 6e-6 relative), eps f / h^2 for values' Hessians (h = 1.2e-4).
      local fo, go = lua_ls { f_i = true }, lua_ls { grad_i = true }
      for _, x in ipairs(points) do
        local scale = 1 + math.abs(ls:value(x)) + math.abs(x[1]) + math.abs(x[2])
        assert.is_true(maxdiff(ls:grad(x):totable(), fo:grad(x):totable()) <= 1e-9 * scale)
        for i = 1, N do
          assert.is_true(maxdiff(ls:sample_grad(x, i):totable(), fo:sample_grad(x, i):totable())
                         <= 1e-9 * scale)
        end
        assert.is_true(maxdiff(ls:hess(x):totable(), fo:hess(x):totable()) <= 1e-6 * scale)
        assert.same(ls:grad(x):totable(), go:grad(x):totable())
        assert.is_true(maxdiff(ls:hess(x):totable(), go:hess(x):totable()) <= 1e-9 * scale)
      end
      assert.equal("value: objective has no f_i (value)", errof(go.value, go, X0))
    end)

    it("differentiates a loss of its own by central differences of f_i", function()
      -- f_i = log cosh(a_i'x - y_i): grad f_i = tanh(r) a_i, Hess f = mean sech^2(r) a a'.
      local o = hasme.objective { dim = 2, n = N, f_i = function(i, x)
        return math.log(math.cosh(margin(i, x) - y[i])) end }
      local x = { 0.41, -0.66 }
      local g, H = { 0, 0 }, { { 0, 0 }, { 0, 0 } }
      for i = 1, N do
        local r, a = margin(i, x) - y[i], A[i]
        local t, s2 = math.tanh(r), 1 / math.cosh(r)^2
        local gi = o:sample_grad(x, i)
        for k = 1, 2 do
          -- truncation h^2 |f'''| / 6 with |f'''| <= 1 and |a| <= 2.4, plus rounding
          assert.near(t * a[k], gi[k], 1e-9)
          g[k] = g[k] + t * a[k] / N
          for l = 1, 2 do H[k][l] = H[k][l] + s2 * a[k] * a[l] / N end
        end
      end
      assert.is_true(maxdiff(g, o:grad(x):totable()) <= 1e-9)
      assert.is_true(maxdiff(H, o:hess(x):totable()) <= 1e-6)
    end)

    it("gives the minibatch noise the same covariance", function()
      local o, fo = lua_ls(), lua_ls { f_i = true }
      for _, replace in ipairs({ false, true }) do
        for _, B in ipairs({ 1, 3, N }) do
          local nz = hasme.minibatch { batch = B, replace = replace }
          for _, x in ipairs(points) do
            local want = nz:cov(x, ls):totable()
            assert.same(want, nz:cov(x, o):totable())
            assert.is_true(maxdiff(want, nz:cov(x, fo):totable()) <= 1e-8 * (1 + maxdiff(want, { { 0, 0 }, { 0, 0 } })))
          end
        end
      end
    end)

    it("agrees with hasme.logistic to rounding", function()
      local decay = 0.05
      local lg = hasme.logistic { A = A, y = lab, decay = decay }
      local o = hasme.objective { dim = 2, n = N,
        f_i = function(i, x)
          local m = lab[i] * margin(i, x)
          return math.log(1 + math.exp(-m)) + 0.5 * decay * (x[1] * x[1] + x[2] * x[2])
        end,
        grad_i = function(i, x)
          local m = lab[i] * margin(i, x)
          local c = -lab[i] / (1 + math.exp(m))
          return { c * A[i][1] + decay * x[1], c * A[i][2] + decay * x[2] }
        end }
      for _, x in ipairs({ X0, { 0, 0 }, { -1.3, 0.61 } }) do
        assert.near(lg:value(x), o:value(x), 1e-14)
        assert.is_true(maxdiff(lg:grad(x):totable(), o:grad(x):totable()) <= 1e-14)
        assert.is_true(maxdiff(lg:hess(x):totable(), o:hess(x):totable()) <= 1e-9)
        local nz = hasme.minibatch { batch = 2 }
        assert.is_true(maxdiff(nz:cov(x, lg):totable(), nz:cov(x, o):totable()) <= 1e-14)
      end
    end)
  end)

  describe("in simulate", function()
    local ls = hasme.least_squares { A = A, y = y }

    -- Snapshots at the last step of a run of method m on objective obj.
    local function run(obj, m, replace, threads, paths)
      local r = hasme.simulate { objective = obj, noise = hasme.minibatch { batch = 3, replace = replace },
                                 method = m, eta = 0.1, steps = 50, x0 = { 1, -1 }, paths = paths,
                                 seed = 2385, substeps = m ~= "sgd" and 4 or nil, threads = threads }
      return r:snapshot(50):totable(), r.threads
    end

    it("gives the built-in's paths, bit for bit, with minibatch SGD on 1 and 2 threads #tsan", function()
      -- The batch draws depend only on the path's stream and N: the same indices,
      -- hence the same per-sample gradients, summed in the same order.
      local o = lua_ls()
      for _, replace in ipairs({ false, true }) do
        local want = run(ls, "sgd", replace, 1, 400)
        local one, t1 = run(o, "sgd", replace, 1, 400)
        local two, t2 = run(o, "sgd", replace, 2, 400)
        assert.same({ 1, 2 }, { t1, t2 })
        assert.same(want, one)
        assert.same(want, two)
      end
    end)

    it("gives the built-in's paths for the SDE models, whose covariance comes from grad_i", function()
      local o = lua_ls()
      for _, m in ipairs({ "sme1", "sme2", "hasme" }) do
        local want = run(ls, m, false, 1, 100)
        local one = run(o, m, false, 1, 100)
        local two, t2 = run(o, m, false, 2, 100)
        assert.equal(2, t2)
        assert.same(want, one)
        assert.same(want, two)
      end
    end)

    it("names the callback, the sample, the path and the step of a failure", function()
      -- Gradient descent without noise: every path follows the same iterates, so the
      -- step at which x[1] first exceeds 0.4 (x* = (0.4571, -0.2138)) is computed here
      -- by the same recursion; the gradient at x_k is evaluated in step k + 1.
      local o = hasme.objective { dim = 2, n = N, grad_i = function(i, x)
        if i == 5 and x[1] > 0.4 then error("past the line", 0) end
        return ls_grad(i, x)
      end }
      local x, k = { 0, 0 }, 0
      while x[1] <= 0.4 and k < 100 do
        local g = ls:grad(x)
        x = { x[1] - 0.1 * g[1], x[2] - 0.1 * g[2] }
        k = k + 1
      end
      local opts = { objective = o, eta = 0.1, steps = 200, x0 = { 0, 0 }, paths = 200, threads = 2 }
      assert.equal(("simulate: error in the objective at path 1, step %d: grad_i(5): past the line"):format(k + 1),
                   errof(hasme.simulate, opts))
      -- With minibatch noise the failing path and step depend on the draws: the same
      -- on one and two threads.
      local msgs = {}
      for t = 1, 2 do
        opts.noise, opts.threads, opts.seed, opts.paths = hasme.minibatch { batch = 2 }, t, 7, 400
        msgs[t] = errof(hasme.simulate, opts)
      end
      assert.matches("^simulate: error in the objective at path %d+, step %d+: grad_i%(5%): past the line$", msgs[1])
      assert.equal(msgs[1], msgs[2])
      -- An SDE model needs every sample gradient (the covariance) at step 1.
      local bad = hasme.objective { dim = 2, n = N, grad_i = function(i, x)
        if i == 4 then return { x[1] } end
        return ls_grad(i, x)
      end }
      assert.equal("simulate: error in the objective at path 1, step 1: grad_i(4) returned a table of length 1, expected 2",
                   errof(hasme.simulate, { objective = bad, noise = hasme.minibatch { batch = 2 }, method = "sme1",
                                           eta = 0.1, steps = 10, x0 = { 0, 0 }, paths = 10 }))
    end)

    it("refuses minibatch noise on a finite sum of one sample or fewer than batch", function()
      local one = hasme.objective { dim = 1, n = 1, f_i = function(_, x) return x[1]^2 end }
      assert.equal("bad argument #1 to 'simulate' (field 'noise': minibatch noise needs a finite-sum objective (such as hasme.nn))",
                   errof(hasme.simulate, { objective = one, noise = hasme.minibatch { batch = 1 }, eta = 0.1,
                                           steps = 1, x0 = { 1 } }))
      assert.equal("bad argument #1 to 'simulate' (field 'noise': batch size 9 exceeds the 7 samples of the objective)",
                   errof(hasme.simulate, { objective = lua_ls(), noise = hasme.minibatch { batch = 9 }, eta = 0.1,
                                           steps = 1, x0 = { 1, 1 } }))
    end)
  end)

  describe("errors in the callbacks", function()
    it("name the callback and the sample", function()
      local o = hasme.objective { dim = 2, n = N,
        f_i = function(i, x) if i == 3 then error("no f here", 0) end return ls_f(i, x) end,
        grad_i = function(i, x) if i == 6 then return "g" end return ls_grad(i, x) end,
        hess_i = function(i) if i == 2 then return { { 1, 0 } } end return ls_hess(i) end }
      assert.equal("value: f_i(3): no f here", errof(o.value, o, X0))
      assert.equal("grad: grad_i(6) returned string, expected a vector", errof(o.grad, o, X0))
      assert.equal("sample_grad: grad_i(6) returned string, expected a vector", errof(o.sample_grad, o, X0, 6))
      assert.same(ls_grad(5, X0), o:sample_grad(X0, 5):totable())
      assert.equal("hess: hess_i(2) returned 1 rows, expected 2", errof(o.hess, o, X0))
      local nan = hasme.objective { dim = 2, n = N, f_i = function(i, x) return i == 7 and 0 / 0 or ls_f(i, x) end }
      assert.equal("value: f_i(7) returned a non-finite value (nan) at index 1", errof(nan.value, nan, X0))
      -- differences of f_i: the failure is f_i's
      assert.equal("grad: f_i(7) returned a non-finite value (nan) at index 1", errof(nan.grad, nan, X0))
      local str = hasme.objective { dim = 2, n = N, f_i = function() return "1" end }
      assert.equal("value: f_i(1) returned string, expected a number", errof(str.value, str, X0))
    end)

    it("pass the index as an integer from 1 to n, and x as a vector", function()
      local seen = {}
      local o = hasme.objective { dim = 2, n = N, f_i = function(i, x)
        seen[#seen + 1] = math.type(i) .. ":" .. i .. ":" .. #x
        return 0
      end }
      o:value(X0)
      assert.same({ "integer:1:2", "integer:2:2", "integer:3:2", "integer:4:2", "integer:5:2",
                    "integer:6:2", "integer:7:2" }, seen)
    end)
  end)

  describe("lifetime", function()
    local function nrefs()
      local n = 0
      for k in pairs(debug.getregistry()) do
        if math.type(k) == "integer" then n = n + 1 end
      end
      return n
    end

    it("1,000 finite sums capturing themselves leave no registry entry and are collected", function()
      lua_ls():value(X0)   -- the list of callback owners exists before counting
      collectgarbage()
      collectgarbage()
      local before = nrefs()
      local alive = setmetatable({}, { __mode = "k" })
      for i = 1, 1000 do
        local obj
        obj = hasme.objective { dim = 2, n = N, f_i = function(j, x) return obj:dim() * ls_f(j, x) end,
                                grad_i = ls_grad }
        alive[obj] = true
        if i % 100 == 0 then assert.equal(2 * lua_ls():value(X0), obj:value(X0)) end
      end
      hasme.simulate { objective = lua_ls(), noise = hasme.minibatch { batch = 2 }, eta = 0.1, steps = 50,
                       x0 = { 0, 0 }, paths = 400, threads = 2 }
      collectgarbage()
      collectgarbage()
      assert.equal(before, nrefs())
      assert.is_nil(next(alive))
    end)
  end)
end)
