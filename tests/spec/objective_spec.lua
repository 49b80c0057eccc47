-- objective_spec.lua: the built-in objectives (quadratic, wells, saddle, rosenbrock,
-- nn) against values computed here from their formulas (docs/objectives.md), Lua
-- objectives (hasme.objective) and their finite-difference fallbacks, the derivative
-- utilities hasme.hessian, hasme.hvp and hasme.gradcheck, and every constructor error.
local hasme = require "hasme"

local abs, max, sqrt, tanh = math.abs, math.max, math.sqrt, math.tanh

-- The entries of a number, vector or matrix (plain or hasme) as one flat list.
local function flat(x)
  if type(x) == "number" then return { x } end
  if type(x) ~= "table" then x = x:totable() end
  local out = {}
  for _, v in ipairs(x) do
    if type(v) == "table" then
      for _, w in ipairs(v) do out[#out + 1] = w end
    else
      out[#out + 1] = v
    end
  end
  return out
end

-- max |x - y| / max(max |y|, floor) over the entries.
local function relerr(x, y, floor)
  local a, b = flat(x), flat(y)
  assert(#a == #b, ("%d entries against %d"):format(#a, #b))
  local d, s = 0.0, floor or 0.0
  for i = 1, #a do
    d = max(d, abs(a[i] - b[i]))
    s = max(s, abs(b[i]))
  end
  return s > 0 and d / s or d
end

local function assert_close(got, want, tol, label)
  local e = relerr(got, want)
  assert(e <= tol, ("%s: relative error %.3g above %.3g"):format(label or "value", e, tol))
end

-- Central differences of a Lua function of a plain vector: the gradient of a scalar
-- function, or the Jacobian (rows = outputs) of a vector function, with step h.
local function fd_grad(fn, x, h)
  local g = {}
  for i = 1, #x do
    local xp, xm = { table.unpack(x) }, { table.unpack(x) }
    xp[i], xm[i] = x[i] + h, x[i] - h
    g[i] = (fn(xp) - fn(xm)) / (2 * h)
  end
  return g
end

local function fd_jacobian(fn, x, h)
  local J = {}
  for i = 1, #x do
    local xp, xm = { table.unpack(x) }, { table.unpack(x) }
    xp[i], xm[i] = x[i] + h, x[i] - h
    local gp, gm = fn(xp), fn(xm)
    for j = 1, #gp do
      J[j] = J[j] or {}
      J[j][i] = (gp[j] - gm[j]) / (2 * h)
    end
  end
  return J
end

-- {====================================================================
-- The formulas, written out independently of the C code
-- ====================================================================

local function quad_f(H, b, x)
  local s = 0.0
  for i = 1, #x do
    for j = 1, #x do s = s + 0.5 * x[i] * H[i][j] * x[j] end
    s = s + b[i] * x[i]
  end
  return s
end

local function quad_g(H, b, x)
  local g = {}
  for i = 1, #x do
    g[i] = b[i]
    for j = 1, #x do g[i] = g[i] + H[i][j] * x[j] end
  end
  return g
end

local function wells_f(Q, t, x)
  local s = 0.0
  for i = 1, #x do
    s = s + (x[i] ^ 2 - 1) ^ 2 / 4 + t[i] * x[i]
    for j = 1, #x do s = s + 0.5 * x[i] * Q[i][j] * x[j] end
  end
  return s
end

local function wells_g(Q, t, x)
  local g = {}
  for i = 1, #x do
    g[i] = x[i] ^ 3 - x[i] + t[i]
    for j = 1, #x do g[i] = g[i] + Q[i][j] * x[j] end
  end
  return g
end

local function wells_h(Q, x)
  local H = {}
  for i = 1, #x do
    H[i] = {}
    for j = 1, #x do H[i][j] = Q[i][j] + (i == j and 3 * x[i] ^ 2 - 1 or 0) end
  end
  return H
end

local function saddle_f(l, c, x)
  local s = 0.0
  for i = 1, #x do s = s + l[i] * x[i] ^ 2 / 2 + c * x[i] ^ 4 / 4 end
  return s
end

local function rosen_f(a, b, x)
  local s = 0.0
  for i = 1, #x - 1 do s = s + b * (x[i + 1] - x[i] ^ 2) ^ 2 + (a - x[i]) ^ 2 end
  return s
end

local function rosen_g(a, b, x)
  local d, g = #x, {}
  for i = 1, d do
    g[i] = 0.0
    if i < d then
      local r = x[i + 1] - x[i] ^ 2
      g[i] = g[i] - 4 * b * x[i] * r - 2 * (a - x[i])
    end
    if i > 1 then g[i] = g[i] + 2 * b * (x[i] - x[i - 1] ^ 2) end
  end
  return g
end

local function rosen_h(b, x)
  local d, H = #x, {}
  for i = 1, d do
    H[i] = {}
    for j = 1, d do H[i][j] = 0.0 end
  end
  for i = 1, d - 1 do
    H[i][i] = H[i][i] + 12 * b * x[i] ^ 2 - 4 * b * x[i + 1] + 2
    H[i][i + 1] = -4 * b * x[i]
    H[i + 1][i] = -4 * b * x[i]
    H[i + 1][i + 1] = H[i + 1][i + 1] + 2 * b
  end
  return H
end

-- The network: theta = (W1 [h x p] row-major, b1 [h], w2 [h], b2).
local function nn_parts(p, h, th)
  local W, b1, w2 = {}, {}, {}
  for j = 1, h do
    W[j] = {}
    for k = 1, p do W[j][k] = th[(j - 1) * p + k] end
    b1[j] = th[h * p + j]
    w2[j] = th[h * p + h + j]
  end
  return W, b1, w2, th[h * p + 2 * h + 1]
end

-- f_i and grad f_i for sample (x, y), decay included.
local function nn_sample(p, h, decay, th, x, y)
  local W, b1, w2, b2 = nn_parts(p, h, th)
  local a, out = {}, b2
  for j = 1, h do
    local z = b1[j]
    for k = 1, p do z = z + W[j][k] * x[k] end
    a[j] = tanh(z)
    out = out + w2[j] * a[j]
  end
  local r = out - y
  local t2 = 0.0
  for k = 1, #th do t2 = t2 + th[k] ^ 2 end
  local g = {}
  for j = 1, h do
    local s = 1 - a[j] ^ 2
    for k = 1, p do g[(j - 1) * p + k] = r * w2[j] * s * x[k] end
    g[h * p + j] = r * w2[j] * s
    g[h * p + h + j] = r * a[j]
  end
  g[h * p + 2 * h + 1] = r
  for k = 1, #th do g[k] = g[k] + decay * th[k] end
  return 0.5 * r * r + 0.5 * decay * t2, g
end

local function nn_f(X, Y, h, decay, th)
  local s = 0.0
  for i = 1, #Y do s = s + nn_sample(#X[1], h, decay, th, X[i], Y[i]) / #Y end
  return s
end

local function nn_g(X, Y, h, decay, th)
  local g = {}
  for k = 1, #th do g[k] = 0.0 end
  for i = 1, #Y do
    local _, gi = nn_sample(#X[1], h, decay, th, X[i], Y[i])
    for k = 1, #th do g[k] = g[k] + gi[k] / #Y end
  end
  return g
end

-- }====================================================================

-- High-entropy points and parameters.
local HQ = { { 2.385, -0.731, 0.412 }, { -0.731, 1.947, 0.268 }, { 0.412, 0.268, 3.116 } }
local BQ = { 0.527, -1.283, 0.094 }
local XQ = { 0.813, -1.172, 0.356 }
local QW = { { 0.231, 0.087, -0.052 }, { 0.087, 0.164, 0.113 }, { -0.052, 0.113, 0.298 } }
local TW = { 0.061, -0.137, 0.029 }
local XW = { -1.083, 0.274, 0.917 }

-- The dataset of the network tests: N = 7 points in R^3, 2 hidden units (d = 11).
local NX, NY = {}, {}
for i = 1, 7 do
  NX[i] = { math.sin(1.3 * i + 0.2), math.cos(0.7 * i - 0.4), 0.3 * math.sin(2.9 * i) }
  NY[i] = 0.6 * math.cos(1.1 * i) - 0.17
end
local NTH = {}
for k = 1, 11 do NTH[k] = 0.55 * math.sin(1.37 * k - 0.61) end
local NDECAY = 0.0173

describe("built-in objectives", function()
  describe("hasme.quadratic", function()
    local q = hasme.quadratic { H = HQ, b = BQ }

    it("has the value, gradient and Hessian of 1/2 x'Hx + b'x", function()
      assert_close(q:value(XQ), quad_f(HQ, BQ, XQ), 1e-15, "value")
      assert_close(q:grad(XQ), quad_g(HQ, BQ, XQ), 1e-15, "grad")
      assert.are.same(HQ, q:hess(XQ):totable())
      assert.are.equal(3, q:dim())
      assert.are.equal("quadratic", q:kind())
      assert.are.equal(0, q:nsamples())
      assert.are.equal("hasme.Objective(quadratic, dim=3)", tostring(q))
    end)

    it("takes b = 0 when b is left out, and accepts hasme.Mat and hasme.Vec", function()
      local q0 = hasme.quadratic { H = hasme.mat(HQ) }
      assert_close(q0:value(hasme.vec(XQ)), quad_f(HQ, { 0, 0, 0 }, XQ), 1e-15)
      assert_close(q0:grad(XQ), quad_g(HQ, { 0, 0, 0 }, XQ), 1e-15)
      -- 1-d: f = 2.41 x^2 / 2 - 0.77 x at x = -1.3.
      local q1 = hasme.quadratic { H = { { 2.41 } }, b = { -0.77 } }
      assert_close(q1:value { -1.3 }, 2.41 * 1.69 / 2 + 0.77 * 1.3, 1e-15)
      assert_close(q1:grad { -1.3 }, { -2.41 * 1.3 - 0.77 }, 1e-15)
    end)
  end)

  describe("hasme.wells", function()
    it("has the value, gradient and Hessian of the coupled, tilted wells", function()
      local w = hasme.wells { Q = QW, tilt = TW }
      assert.are.equal(3, w:dim())
      assert.are.equal("wells", w:kind())
      assert_close(w:value(XW), wells_f(QW, TW, XW), 1e-14, "value")
      assert_close(w:grad(XW), wells_g(QW, TW, XW), 1e-14, "grad")
      assert_close(w:hess(XW), wells_h(QW, XW), 1e-15, "hess")
    end)

    it("is separable without Q (zero coupling) and untilted without tilt", function()
      local Z = { { 0, 0, 0 }, { 0, 0, 0 }, { 0, 0, 0 } }
      local w = hasme.wells { dim = 3, tilt = TW }
      assert_close(w:value(XW), wells_f(Z, TW, XW), 1e-14, "value")
      assert_close(w:grad(XW), wells_g(Z, TW, XW), 1e-14, "grad")
      assert_close(w:hess(XW), wells_h(Z, XW), 1e-15, "hess")
      local w0 = hasme.wells { dim = 3 }
      assert_close(w0:grad(XW), wells_g(Z, { 0, 0, 0 }, XW), 1e-14, "grad")
      -- The minima +-1: f = 0, g = 0, H = 2 I; the saddle (0, 1, -1): f = 1/4.
      assert.are.equal(0, w0:value { 1, -1, 1 })
      assert.are.same({ 0, 0, 0 }, w0:grad({ 1, -1, 1 }):totable())
      assert.are.same({ { 2, 0, 0 }, { 0, 2, 0 }, { 0, 0, 2 } }, w0:hess({ -1, -1, 1 }):totable())
      assert.are.equal(0.25, w0:value { 0, 1, -1 })
      assert.are.same({ { -1, 0, 0 }, { 0, 2, 0 }, { 0, 0, 2 } }, w0:hess({ 0, 1, -1 }):totable())
    end)
  end)

  describe("hasme.saddle", function()
    local L, C = { 1.7, -0.9, 0.35 }, 0.62

    it("has the value, gradient and Hessian of sum lambda x^2/2 + c x^4/4", function()
      local s = hasme.saddle { lambda = L, quartic = C }
      local x = { 0.471, -1.318, 2.046 }
      assert_close(s:value(x), saddle_f(L, C, x), 1e-15, "value")
      local g, H = {}, {}
      for i = 1, 3 do
        g[i] = L[i] * x[i] + C * x[i] ^ 3
        H[i] = { 0, 0, 0 }
        H[i][i] = L[i] + 3 * C * x[i] ^ 2
      end
      assert_close(s:grad(x), g, 1e-15, "grad")
      assert_close(s:hess(x), H, 1e-15, "hess")
      -- At the origin: H = diag(lambda), g = 0.
      assert.are.same({ { 1.7, 0, 0 }, { 0, -0.9, 0 }, { 0, 0, 0.35 } }, s:hess({ 0, 0, 0 }):totable())
      -- The minima along the negative direction: x_2 = +-sqrt(0.9 / 0.62), curvature 1.8.
      local m = sqrt(0.9 / 0.62)
      assert(abs(s:grad({ 0, m, 0 })[2]) < 1e-15)
      assert(abs(s:hess({ 0, -m, 0 })[2][2] - 1.8) < 1e-14)
    end)

    it("defaults to quartic = 1", function()
      local s = hasme.saddle { lambda = { -0.83 } }
      assert_close(s:value { 1.21 }, -0.83 * 1.21 ^ 2 / 2 + 1.21 ^ 4 / 4, 1e-15)
    end)
  end)

  describe("hasme.rosenbrock", function()
    it("has the value, gradient and Hessian of the chained Rosenbrock function", function()
      local a, b = 1.3, 87.5
      local r = hasme.rosenbrock { dim = 4, a = a, b = b }
      local x = { 0.732, -0.418, 1.263, 0.587 }
      assert.are.equal(4, r:dim())
      assert.are.equal("rosenbrock", r:kind())
      assert_close(r:value(x), rosen_f(a, b, x), 1e-14, "value")
      assert_close(r:grad(x), rosen_g(a, b, x), 1e-14, "grad")
      assert_close(r:hess(x), rosen_h(b, x), 1e-14, "hess")
      -- The formulas used here agree with differences of the function itself.
      assert_close(fd_grad(function(y) return rosen_f(a, b, y) end, x, 1e-5), rosen_g(a, b, x), 1e-8)
      assert_close(fd_jacobian(function(y) return rosen_g(a, b, y) end, x, 1e-5), rosen_h(b, x), 1e-8)
    end)

    it("has its minimum at (1, 1) with the known Hessian (defaults a = 1, b = 100)", function()
      local r = hasme.rosenbrock { dim = 2 }
      assert.are.equal(0, r:value { 1, 1 })
      assert.are.same({ 0, 0 }, r:grad({ 1, 1 }):totable())
      assert.are.same({ { 802, -400 }, { -400, 200 } }, r:hess({ 1, 1 }):totable())
      local w = hasme.eig(r:hess { 1, 1 })
      assert(abs(w[1] - 0.39936) < 1e-5 and abs(w[2] - 1001.6) < 1e-3)
      -- d = 2, any a: the minimum is at (a, a^2).
      local r2 = hasme.rosenbrock { a = -0.75 }
      assert.are.equal(0, r2:value { -0.75, 0.5625 })
    end)

    it("can be built with no argument at all (all defaults)", function()
      local r = hasme.rosenbrock()
      assert.are.equal(2, r:dim())
      assert.are.equal(0, r:value { 1, 1 })
    end)
  end)

  describe("hasme.nn", function()
    local function net() return hasme.nn { X = NX, y = NY, hidden = 2, decay = NDECAY } end

    it("has the value and gradient of the mean squared error of a tanh network", function()
      local o = net()
      assert.are.equal(11, o:dim())
      assert.are.equal(7, o:nsamples())
      assert.are.equal("nn", o:kind())
      assert.are.equal("hasme.Objective(nn, dim=11, samples=7)", tostring(o))
      assert_close(o:value(NTH), nn_f(NX, NY, 2, NDECAY, NTH), 1e-14, "value")
      assert_close(o:grad(NTH), nn_g(NX, NY, 2, NDECAY, NTH), 1e-13, "grad")
    end)

    it("has per-sample gradients whose mean is the gradient", function()
      local o = net()
      for i = 1, 7 do
        local _, gi = nn_sample(3, 2, NDECAY, NTH, NX[i], NY[i])
        assert_close(o:sample_grad(NTH, i), gi, 1e-14, "sample " .. i)
      end
    end)

    it("has the exact Hessian (not Gauss-Newton): differences of the gradient", function()
      local o = net()
      local H = o:hess(NTH)
      -- Symmetric, and the Jacobian of the gradient formula written here (central
      -- differences, h = 1e-5: truncation and rounding both about 1e-10).
      local Ht = H:t()
      assert.are.equal(0, (H - Ht):norm())
      local J = fd_jacobian(function(t) return nn_g(NX, NY, 2, NDECAY, t) end, NTH, 1e-5)
      assert_close(H, J, 1e-8, "hess")
      -- The residual term matters here: the Gauss-Newton matrix differs by far more.
      local GN = {}
      for u = 1, 11 do
        GN[u] = {}
        for v = 1, 11 do GN[u][v] = (u == v) and NDECAY or 0.0 end
      end
      local W, b1, w2, b2 = nn_parts(3, 2, NTH)
      for i = 1, 7 do
        local Jo = {}
        local a = {}
        for j = 1, 2 do
          local z = b1[j]
          for k = 1, 3 do z = z + W[j][k] * NX[i][k] end
          a[j] = tanh(z)
          local s = 1 - a[j] ^ 2
          for k = 1, 3 do Jo[(j - 1) * 3 + k] = w2[j] * s * NX[i][k] end
          Jo[6 + j] = w2[j] * s
          Jo[8 + j] = a[j]
        end
        Jo[11] = 1
        for u = 1, 11 do for v = 1, 11 do GN[u][v] = GN[u][v] + Jo[u] * Jo[v] / 7 end end
      end
      assert(b2 ~= nil and relerr(H, GN) > 1e-3)
    end)

    it("is critical at the dead network W1 = b1 = w2 = 0, b2 = mean(y) / (1 + decay)", function()
      local o = net()
      local th = {}
      for k = 1, 10 do th[k] = 0 end
      local ybar = 0.0
      for i = 1, 7 do ybar = ybar + NY[i] / 7 end
      th[11] = ybar / (1 + NDECAY)
      local g = o:grad(th)
      for k = 1, 11 do assert(abs(g[k]) < 1e-15, ("g[%d] = %g"):format(k, g[k])) end
    end)
  end)
end)

describe("Lua objectives (hasme.objective)", function()
  -- The Rosenbrock function as Lua callbacks, fully or partly specified.
  local A, B = 0.9, 23.7
  local X = { 0.613, -0.287, 1.044 }
  local function f(x) return rosen_f(A, B, { x[1], x[2], x[3] }) end
  local function g(x) return rosen_g(A, B, { x[1], x[2], x[3] }) end
  local function h(x) return rosen_h(B, { x[1], x[2], x[3] }) end

  it("calls the given f, grad and hess", function()
    local o = hasme.objective { dim = 3, f = f, grad = g, hess = h }
    assert.are.equal(3, o:dim())
    assert.are.equal("lua", o:kind())
    assert.are.equal(0, o:nsamples())
    assert.are.equal("hasme.Objective(lua, dim=3)", tostring(o))
    assert.are.equal(f(X), o:value(X))
    assert.are.same(g(X), o:grad(X):totable())
    assert.are.same(h(X), o:hess(X):totable())
  end)

  it("accepts numbers, vectors, matrices and tables as derivatives", function()
    local o = hasme.objective { dim = 1, f = function(x) return 3 * x[1] end,
                                grad = function() return 2.5 end, hess = function() return 1.25 end }
    assert.are.equal(3 * 0.7, o:value { 0.7 })
    assert.are.same({ 2.5 }, o:grad({ 0.7 }):totable())
    assert.are.same({ { 1.25 } }, o:hess({ 0.7 }):totable())
    local o2 = hasme.objective { dim = 2, grad = function(x) return hasme.vec { x[2], x[1] } end,
                                 hess = function() return hasme.mat { { 0, 1 }, { 1, 0 } } end }
    assert.are.same({ -2, 1 }, o2:grad({ 1, -2 }):totable())
    assert.are.same({ { 0, 1 }, { 1, 0 } }, o2:hess({ 1, -2 }):totable())
  end)

  it("falls back to differences of f for the gradient and the Hessian", function()
    local o = hasme.objective { dim = 3, f = f }
    -- Central differences with h = cbrt(eps) (gradient) and eps^(1/4) (Hessian from
    -- values): errors of order h^2 f''' and eps f / h^2.
    assert_close(o:grad(X), g(X), 1e-8, "grad")
    assert_close(o:hess(X), h(X), 1e-5, "hess")
  end)

  it("falls back to differences of grad for the Hessian", function()
    local o = hasme.objective { dim = 3, f = f, grad = g }
    assert_close(o:hess(X), h(X), 1e-8, "hess")
    local og = hasme.objective { dim = 3, grad = g }
    assert_close(og:hess(X), h(X), 1e-8, "hess from grad only")
    assert.has_error(function() og:value(X) end, "value: objective has no f (value)")
  end)

  it("uses the step h when given", function()
    -- A cubic: central differences of values are exact up to rounding for the
    -- gradient of a quadratic part and off by h^2 for the cubic term x^3 (f''' = 6).
    local o = hasme.objective { dim = 1, f = function(x) return x[1] ^ 3 end, h = 1e-2 }
    assert.are.near(3 * 0.5 ^ 2 + 1e-4, o:grad({ 0.5 })[1], 1e-12)
  end)

  it("reports errors and bad results of its callbacks", function()
    local boom = hasme.objective { dim = 2, f = function() error("boom", 0) end }
    assert.has_error(function() boom:value { 1, 2 } end, "value: boom")
    assert.has_error(function() boom:grad { 1, 2 } end, "grad: boom")
    local obj = hasme.objective { dim = 2, f = function() error({}) end }
    local ok, msg = pcall(obj.value, obj, { 1, 2 })
    assert.is_false(ok)
    assert.is_truthy(msg:match("^value: table: "))
    local cases = {
      { { f = function() return "a" end }, "value", "value: f returned string, expected a number" },
      { { grad = function() return { 1 } end }, "grad", "grad: grad returned a table of length 1, expected 2" },
      { { grad = function() return hasme.vec(3) end }, "grad",
        "grad: grad returned a vector of length 3, expected 2" },
      { { grad = function() return true end }, "grad", "grad: grad returned boolean, expected a vector" },
      { { grad = function() return { 1, "x" } end }, "grad", "grad: grad returned a non-number at index 2" },
      { { grad = function() return { 1, -math.huge } end }, "grad",
        "grad: grad returned a non-finite value (-inf) at index 2" },
      { { f = f, hess = function() return { { 1, 2 } } end }, "hess", "hess: hess returned 1 rows, expected 2" },
      { { f = f, hess = function() return { { 1, 2 }, { 3 } } end }, "hess",
        "hess: hess returned a row 2 of length 1, expected 2" },
      { { f = f, hess = function() return hasme.mat(3, 3) end }, "hess",
        "hess: hess returned a 3x3 matrix, expected 2x2" },
      { { f = f, hess = function() return 5 end }, "hess", "hess: hess returned number, expected a matrix" },
      { { f = f, hess = function() return { { 1, "a" }, { 1, 1 } } end }, "hess",
        "hess: hess returned a non-number at index 2" },
      { { f = f, hess = function() return { 3, 4 } end }, "hess",
        "hess: hess returned a row 1 that is not a table of 2 numbers" },
    }
    for _, c in ipairs(cases) do
      local spec = c[1]
      spec.dim = 2
      local o = hasme.objective(spec)
      assert.has_error(function() o[c[2]](o, { 0.5, -0.5 }) end, c[3])
    end
  end)
end)

describe("derivative utilities", function()
  local A, B = 0.9, 23.7
  local X = { 0.613, -0.287, 1.044 }
  local function f(x) return rosen_f(A, B, { x[1], x[2], x[3] }) end

  describe("hasme.hessian", function()
    it("differentiates a Lua function of x twice (values only)", function()
      -- Errors of order eps^(1/2) |f| relative: about 1e-6 here.
      assert_close(hasme.hessian(f, X), rosen_h(B, X), 1e-6)
    end)

    it("takes the step from an options table", function()
      assert_close(hasme.hessian(f, X, { h = 1e-4 }), rosen_h(B, X), 1e-6)
    end)

    it("differentiates the gradient of an objective that has one", function()
      local r = hasme.rosenbrock { dim = 3, a = A, b = B }
      assert_close(hasme.hessian(r, X), rosen_h(B, X), 1e-8)
      local w = hasme.wells { Q = QW, tilt = TW }
      assert_close(hasme.hessian(w, XW), wells_h(QW, XW), 1e-9)
    end)

    it("rejects bad arguments", function()
      local q = hasme.quadratic { H = HQ }
      assert.has_error(function() hasme.hessian(f, {}) end, "bad argument #2 to 'hessian' (empty vector)")
      assert.has_error(function() hasme.hessian(3, { 1 }) end,
        "bad argument #1 to 'hessian' (hasme.Objective expected, got number)")
      assert.has_error(function() hasme.hessian(q, { 1, 2 }) end,
        "bad argument #2 to 'hessian' (vector of length 3 expected, got length 2)")
      assert.has_error(function() hasme.hessian(q, XQ, { h = -1 }) end,
        "bad argument #3 to 'hessian' (field 'h': must be positive (got -1.0))")
      assert.has_error(function() hasme.hessian(q, XQ, { step = 1 }) end,
        "bad argument #3 to 'hessian' (unknown option 'step' (valid: 'h'))")
      assert.has_error(function() hasme.hessian(function() error("no", 0) end, { 1 }, { h = 1e-3 }) end,
        "hessian: no")
    end)
  end)

  describe("hasme.hvp", function()
    it("gives H v for quadratics and for the network", function()
      local q = hasme.quadratic { H = HQ, b = BQ }
      local v = { -0.374, 0.891, 0.225 }
      local Hv = {}
      for i = 1, 3 do
        Hv[i] = 0.0
        for j = 1, 3 do Hv[i] = Hv[i] + HQ[i][j] * v[j] end
      end
      -- The gradient is linear: the difference is exact up to rounding.
      assert_close(hasme.hvp(q, XQ, v), Hv, 1e-9)
      local o = hasme.nn { X = NX, y = NY, hidden = 2, decay = NDECAY }
      local u = {}
      for k = 1, 11 do u[k] = math.cos(0.83 * k) end
      local H = o:hess(NTH)
      assert_close(hasme.hvp(o, NTH, u), H * hasme.vec(u), 1e-8)
      assert.are.same({ 0, 0, 0 }, hasme.hvp(q, XQ, { 0, 0, 0 }):totable())
    end)

    it("rejects bad arguments", function()
      local q = hasme.quadratic { H = HQ }
      assert.has_error(function() hasme.hvp(q, XQ, { 1 }) end,
        "bad argument #3 to 'hvp' (vector of length 3 expected, got length 1)")
      assert.has_error(function() hasme.hvp(function() return 0 end, XQ, XQ) end,
        "bad argument #1 to 'hvp' (hasme.Objective expected, got function)")
      assert.has_error(function() hasme.hvp(q, XQ, XQ, { h = 0 }) end,
        "bad argument #4 to 'hvp' (field 'h': must be positive (got 0.0))")
    end)
  end)

  describe("hasme.gradcheck", function()
    it("passes every built-in objective at high-entropy points", function()
      local cases = {
        { hasme.quadratic { H = HQ, b = BQ }, XQ },
        { hasme.wells { Q = QW, tilt = TW }, XW },
        { hasme.saddle { lambda = { 1.7, -0.9, 0.35 }, quartic = 0.62 }, { 0.471, -1.318, 0.846 } },
        { hasme.rosenbrock { dim = 3, a = A, b = B }, X },
        { hasme.nn { X = NX, y = NY, hidden = 2, decay = NDECAY }, NTH },
      }
      for i, c in ipairs(cases) do
        local r = hasme.gradcheck(c[1], c[2])
        assert(r.ok, ("case %d: grad_rel %g, hess_rel %g"):format(i, r.grad_rel, r.hess_rel))
        assert(r.grad_rel < 1e-7 and r.hess_rel < 1e-7, i)
        assert.are.equal(1e-6, r.tol)
      end
    end)

    it("passes a correct Lua objective and fails one with a wrong gradient or Hessian", function()
      local function g(x) return rosen_g(A, B, { x[1], x[2], x[3] }) end
      local function h(x) return rosen_h(B, { x[1], x[2], x[3] }) end
      local good = hasme.gradcheck(hasme.objective { dim = 3, f = f, grad = g, hess = h }, X)
      assert.is_true(good.ok)
      -- A gradient with one entry off by 1%.
      local bad = hasme.gradcheck(hasme.objective { dim = 3, f = f, grad = function(x)
        local v = g(x)
        v[2] = v[2] * 1.01
        return v
      end }, X)
      assert.is_false(bad.ok)
      assert.are.equal(2, bad.grad_index)
      assert(bad.grad_rel > 1e-3)
      -- A Hessian with a wrong off-diagonal pair.
      local badh = hasme.gradcheck(hasme.objective { dim = 3, f = f, grad = g, hess = function(x)
        local H = h(x)
        H[2][3], H[3][2] = H[2][3] + 0.5, H[3][2] + 0.5
        return H
      end }, X)
      assert.is_false(badh.ok)
      assert.is_true((badh.hess_index[1] == 2 and badh.hess_index[2] == 3)
                     or (badh.hess_index[1] == 3 and badh.hess_index[2] == 2))
      -- The tolerance is an option.
      assert.is_true(hasme.gradcheck(hasme.objective { dim = 3, f = f, grad = function(x)
        local v = g(x)
        v[2] = v[2] * 1.01
        return v
      end }, X, { tol = 1 }).ok)
    end)

    it("rejects bad options", function()
      local q = hasme.quadratic { H = HQ }
      assert.has_error(function() hasme.gradcheck(q, XQ, { tol = "x" }) end,
        "bad argument #3 to 'gradcheck' (field 'tol': number expected, got string)")
      assert.has_error(function() hasme.gradcheck(q, XQ, { h = 1 }) end,
        "bad argument #3 to 'gradcheck' (unknown option 'h' (valid: 'tol'))")
      assert.has_error(function() hasme.gradcheck(q, { 1 }) end,
        "bad argument #2 to 'gradcheck' (vector of length 3 expected, got length 1)")
    end)
  end)
end)

describe("objective errors", function()
  it("rejects bad quadratics", function()
    local P = "bad argument #1 to 'quadratic' ("
    assert.has_error(function() hasme.quadratic(3) end, P .. "table expected, got number)")
    assert.has_error(function() hasme.quadratic {} end, P .. "field 'H': matrix expected, got nil)")
    assert.has_error(function() hasme.quadratic { H = { { 1 } }, c = 2 } end,
      P .. "unknown option 'c' (valid: 'H' or 'b'))")
    assert.has_error(function() hasme.quadratic { H = { { 1, 2 }, { 2.5, 1 } } } end,
      P .. "field 'H': matrix is not symmetric: [2][1] = 2.5 but [1][2] = 2.0)")
    assert.has_error(function() hasme.quadratic { H = { { 1, 2 } } } end,
      P .. "field 'H': square matrix expected, got 1x2)")
    assert.has_error(function() hasme.quadratic { H = {} } end, P .. "field 'H': empty matrix)")
    assert.has_error(function() hasme.quadratic { H = { { 1, 0 }, { 0, 1 } }, b = { 1 } } end,
      P .. "field 'b': vector of length 2 expected, got length 1)")
    assert.has_error(function() hasme.quadratic { H = { { 1, 0 }, { 0, 1 } }, b = { 1, 0 / 0 } } end,
      P .. "field 'b': non-finite entry at index 2)")
    assert.has_error(function() hasme.quadratic { H = { { 1, math.huge }, { math.huge, 1 } } } end,
      P .. "field 'H': non-finite entry at [2][1])")
    assert.has_error(function() hasme.quadratic { H = "x" } end,
      P .. "field 'H': matrix expected (hasme.Mat or table of rows), got string)")
  end)

  it("rejects bad wells, saddles and Rosenbrock functions", function()
    local W = "bad argument #1 to 'wells' ("
    assert.has_error(function() hasme.wells {} end, W .. "field 'dim': positive integer expected, got nil)")
    assert.has_error(function() hasme.wells { dim = 3, tilt = { 1, 2 } } end,
      W .. "field 'dim': is 3 but the other fields have dimension 2)")
    assert.has_error(function() hasme.wells { Q = { { 1, 2 }, { 0, 1 } } } end,
      W .. "field 'Q': matrix is not symmetric: [2][1] = 0.0 but [1][2] = 2.0)")
    assert.has_error(function() hasme.wells { Q = { { 1, 0 }, { 0, 1 } }, tilt = { 1, 2, 3 } } end,
      W .. "field 'tilt': vector of length 2 expected, got length 3)")
    assert.has_error(function() hasme.wells { dim = 0 } end,
      W .. "field 'dim': must be in [1, 1099511627776] (got 0))")
    assert.has_error(function() hasme.wells { dim = 1.5 } end, W .. "field 'dim': integer expected, got 1.5)")
    assert.has_error(function() hasme.wells { dim = 2, Q = { { 1 } } } end,
      W .. "field 'dim': is 2 but the other fields have dimension 1)")
    local S = "bad argument #1 to 'saddle' ("
    assert.has_error(function() hasme.saddle {} end, S .. "field 'lambda': vector expected, got nil)")
    assert.has_error(function() hasme.saddle { lambda = {} } end, S .. "field 'lambda': empty vector)")
    assert.has_error(function() hasme.saddle { lambda = { 1 }, quartic = -1 } end,
      S .. "field 'quartic': must be finite and non-negative (got -1.0))")
    assert.has_error(function() hasme.saddle { lambda = { 1 }, quartic = math.huge } end,
      S .. "field 'quartic': must be finite and non-negative (got inf))")
    assert.has_error(function() hasme.saddle { lambda = { 1, 0 / 0 } } end,
      S .. "field 'lambda': non-finite entry at index 2)")
    local R = "bad argument #1 to 'rosenbrock' ("
    assert.has_error(function() hasme.rosenbrock { dim = 1 } end,
      R .. "field 'dim': must be in [2, 1099511627776] (got 1))")
    assert.has_error(function() hasme.rosenbrock { a = math.huge } end, R .. "field 'a': must be finite)")
    assert.has_error(function() hasme.rosenbrock { b = 0 / 0 } end, R .. "field 'b': must be finite)")
    assert.has_error(function() hasme.rosenbrock { c = 1 } end,
      R .. "unknown option 'c' (valid: 'dim', 'a' or 'b'))")
    assert.has_error(function() hasme.rosenbrock(5) end, R .. "table expected, got number)")
  end)

  it("rejects bad networks", function()
    local N = "bad argument #1 to 'nn' ("
    assert.has_error(function() hasme.nn {} end, N .. "field 'X': matrix expected, got nil)")
    assert.has_error(function() hasme.nn { X = {}, y = {}, hidden = 2 } end, N .. "field 'X': empty data matrix)")
    assert.has_error(function() hasme.nn { X = { { 1, 0 / 0 } }, y = { 1 }, hidden = 2 } end,
      N .. "field 'X': non-finite entry at [1][2])")
    assert.has_error(function() hasme.nn { X = { { 1, 2 } }, hidden = 2 } end,
      N .. "field 'y': vector expected, got nil)")
    assert.has_error(function() hasme.nn { X = { { 1, 2 }, { 3, 4 } }, y = { 1 }, hidden = 2 } end,
      N .. "field 'y': has 1 entries but X has 2 rows)")
    assert.has_error(function() hasme.nn { X = { { 1, 2 } }, y = { 1 } } end,
      N .. "field 'hidden': positive integer expected, got nil)")
    assert.has_error(function() hasme.nn { X = { { 1, 2 } }, y = { 1 }, hidden = 0 } end,
      N .. "field 'hidden': must be in [1, 100000] (got 0))")
    assert.has_error(function() hasme.nn { X = { { 1, 2 } }, y = { 1 }, hidden = 1, decay = -1 } end,
      N .. "field 'decay': must be finite and non-negative (got -1.0))")
    assert.has_error(function() hasme.nn { X = { { 1, 2 }, { 3 } }, y = { 1, 2 }, hidden = 1 } end,
      N .. "field 'X': ragged matrix: row 2 has 1 entries, row 1 has 2)")
    assert.has_error(function() hasme.nn { X = { { 1 } }, y = { 1 }, hidden = 1, width = 2 } end,
      N .. "unknown option 'width' (valid: 'X', 'y', 'hidden' or 'decay'))")
  end)

  it("rejects bad Lua objectives", function()
    local O = "bad argument #1 to 'objective' ("
    local f = function() return 0 end
    assert.has_error(function() hasme.objective { f = f } end,
      O .. "field 'dim': positive integer expected, got nil)")
    assert.has_error(function() hasme.objective { dim = 0, f = f } end,
      O .. "field 'dim': must be in [1, 1000000] (got 0))")
    assert.has_error(function() hasme.objective { dim = 2 } end, O .. "an objective needs at least 'f' or 'grad')")
    assert.has_error(function() hasme.objective { dim = 2, hess = f } end,
      O .. "an objective needs at least 'f' or 'grad')")
    assert.has_error(function() hasme.objective { dim = 2, f = 3 } end,
      O .. "field 'f': function expected, got number)")
    assert.has_error(function() hasme.objective { dim = 2, grad = "g" } end,
      O .. "field 'grad': function expected, got string)")
    assert.has_error(function() hasme.objective { dim = 2, f = f, hess = {} } end,
      O .. "field 'hess': function expected, got table)")
    assert.has_error(function() hasme.objective { dim = 2, f = f, h = -1 } end,
      O .. "field 'h': must be a positive step (got -1.0))")
    assert.has_error(function() hasme.objective { dim = 2, f = f, hessian = 1 } end,
      O .. "unknown option 'hessian' (valid: 'dim', 'f', 'grad', 'hess', 'h', 'n', 'f_i', 'grad_i' or 'hess_i'))")
  end)

  it("rejects bad arguments to the methods", function()
    local q = hasme.quadratic { H = HQ }
    assert.has_error(function() q:value { 1, 2 } end,
      "bad argument #1 to 'value' (vector of length 3 expected, got length 2)")
    assert.has_error(function() q:value "x" end,
      "bad argument #1 to 'value' (vector expected (hasme.Vec or table of numbers), got string)")
    assert.has_error(function() q:grad { 1 } end, "bad argument #1 to 'grad' (vector of length 3 expected, got length 1)")
    assert.has_error(function() q:hess { 1 } end, "bad argument #1 to 'hess' (vector of length 3 expected, got length 1)")
    assert.has_error(function() q:sample_grad(XQ, 1) end,
      "calling 'sample_grad' on bad self (not a finite-sum objective)")
    assert.has_error(function() q.value(3, XQ) end, "bad argument #1 to 'value' (hasme.Objective expected, got number)")
    local o = hasme.nn { X = NX, y = NY, hidden = 2 }
    assert.has_error(function() o:sample_grad(NTH, 8) end,
      "bad argument #2 to 'sample_grad' (sample index must be in [1, 7])")
    assert.has_error(function() o:sample_grad(NTH, 0) end,
      "bad argument #2 to 'sample_grad' (sample index must be in [1, 7])")
    assert.has_error(function() o:sample_grad(NTH) end,
      "bad argument #2 to 'sample_grad' (number expected, got no value)")
  end)
end)
