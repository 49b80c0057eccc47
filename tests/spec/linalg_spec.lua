-- linalg_spec.lua: hasme.eig, hasme.chol, hasme.matfun, hasme.phi1 and hasme.phi2:
-- known answers, invariants, NumPy/SciPy references (tests/fixtures/linalg_*.txt,
-- from tests/tools/gen_linalg_fixtures.py) and every error message matched exactly.
local hasme = require "hasme"

local here = debug.getinfo(1, "S").source:match("^@(.*)[/\\][^/\\]*$") or "."
local FIXTURES = here .. "/../fixtures/"

-- Arrays of a matrix fixture file, as fx[kind][case] = {rows, cols, values}.
local function load_arrays(name)
  local fx = {}
  for line in io.lines(FIXTURES .. name) do
    if line ~= "" and line:sub(1, 1) ~= "#" then
      local it = line:gmatch("%S+")
      local kind, case = it(), it()
      local rows, cols = tonumber(it()), tonumber(it())
      local v = {}
      for s in it do v[#v + 1] = tonumber(s) end
      assert(#v == rows * cols, name .. ": short line for " .. kind .. " " .. case)
      fx[kind] = fx[kind] or {}
      fx[kind][case] = { rows = rows, cols = cols, v = v }
    end
  end
  return fx
end

-- A fixture array as a table of rows (what users pass).
local function rows_of(a)
  local t = {}
  for i = 1, a.rows do
    local r = {}
    for j = 1, a.cols do r[j] = a.v[(i - 1) * a.cols + j] end
    t[i] = r
  end
  return t
end

-- The sorted case names of one kind, so that the order of the checks is fixed.
local function cases(fx, kind)
  local out = {}
  for case in pairs(fx[kind] or {}) do out[#out + 1] = case end
  table.sort(out)
  return out
end

-- max |x_k - y_k| / max |y_k| over the flat values of a vector or matrix x and a
-- list y (1 when y is all zero, so that the measure is absolute there).
local function relerr(x, y)
  local flat = {}
  if type(x) == "table" then flat = x
  elseif x.cols then
    for i = 1, x:rows() do for j = 1, x:cols() do flat[#flat + 1] = x[i][j] end end
  else
    for i = 1, #x do flat[i] = x[i] end
  end
  assert(#flat == #y, "length " .. #flat .. " against " .. #y)
  local d, s = 0, 0
  for k = 1, #y do
    d = math.max(d, math.abs(flat[k] - y[k]))
    s = math.max(s, math.abs(y[k]))
  end
  return d / (s > 0 and s or 1)
end

local function frob(m) return m:norm() end

describe("hasme.eig", function()
  local A = { { 2.385, 1.5, -0.25 }, { 1.5, -0.75, 3.0 }, { -0.25, 3.0, 4.125 } }

  it("returns ascending eigenvalues as a hasme.Vec and eigenvectors as a hasme.Mat", function()
    local w, V = hasme.eig(A)
    assert.are.equal("hasme.Vec", getmetatable(w).__name)
    assert.are.equal("hasme.Mat", getmetatable(V).__name)
    assert.are.equal(3, #w)
    assert.are.equal(3, V:rows())
    assert.are.equal(3, V:cols())
    assert.is_true(w[1] <= w[2] and w[2] <= w[3])
  end)

  it("solves a 2x2 problem in closed form", function()
    local a, b, d = 2.385, 1.5, -0.75
    local mid, rad = (a + d) / 2, math.sqrt(((a - d) / 2) ^ 2 + b ^ 2)
    local w = hasme.eig { { a, b }, { b, d } }
    assert.is_true(math.abs(w[1] - (mid - rad)) <= 1e-15 * rad)
    assert.is_true(math.abs(w[2] - (mid + rad)) <= 1e-15 * rad)
  end)

  it("puts the eigenvectors in the columns: A V = V diag(w), V'V = I", function()
    local m = hasme.mat(A)
    local w, V = hasme.eig(m)
    assert.is_true(frob(m * V - V * hasme.diag(w)) <= 1e-14 * frob(m))
    assert.is_true(frob(V:t() * V - hasme.eye(3)) <= 1e-14)
    assert.is_true(frob(V * hasme.diag(w) * V:t() - m) <= 1e-14 * frob(m))
  end)

  it("accepts a hasme.Mat and a table of rows alike, and leaves its argument alone", function()
    local m = hasme.mat(A)
    local w1, V1 = hasme.eig(m)
    local w2, V2 = hasme.eig(A)
    assert.is_true(w1 == w2)
    assert.is_true(V1 == V2)
    assert.is_true(m == hasme.mat(A))
  end)

  it("gives the diagonal of a diagonal matrix exactly, sorted", function()
    local w = hasme.eig { { 2.385, 0, 0 }, { 0, -1.25, 0 }, { 0, 0, 0.0625 } }
    assert.are.same({ -1.25, 0.0625, 2.385 }, w:totable())
  end)

  it("handles the empty, 1x1 and zero matrices", function()
    local w, V = hasme.eig {}
    assert.are.equal(0, #w)
    assert.are.equal(0, V:rows())
    w, V = hasme.eig { { -2.385 } }
    assert.are.same({ -2.385 }, w:totable())
    assert.are.equal(1, math.abs(V[1][1]))
    w = hasme.eig(hasme.mat(4, 4))
    assert.are.same({ 0, 0, 0, 0 }, w:totable())
  end)

  it("accepts an asymmetry of rounding size (1e-12 relative) and uses the symmetric part", function()
    local w = hasme.eig { { 2.385, 1.5 + 1e-13 }, { 1.5, -0.75 } }
    local ws = hasme.eig { { 2.385, 1.5 + 5e-14 }, { 1.5 + 5e-14, -0.75 } }
    assert.is_true(relerr(w, ws:totable()) <= 1e-15)
  end)

  it("agrees with numpy.linalg.eigh on the fixture matrices to 1e-12", function()
    local fx = load_arrays("linalg_eig.txt")
    local n = 0
    for _, case in ipairs(cases(fx, "A")) do
      local w, V = hasme.eig(rows_of(fx.A[case]))
      local err = relerr(w, fx.eigvals[case].v)
      assert(err <= 1e-12, case .. ": eigenvalues off by " .. err)
      local m = hasme.mat(rows_of(fx.A[case]))
      local scale = math.max(frob(m), 1e-300)
      if frob(m) > 0 then
        assert(frob(V * hasme.diag(w) * V:t() - m) <= 5e-13 * scale, case .. ": reconstruction")
      end
      n = n + 1
    end
    assert.is_true(n >= 25)
  end)

  describe("errors", function()
    it("rejects a matrix that is not symmetric, naming the worst pair", function()
      assert.has_error(function() hasme.eig { { 1, 2.5, 0 }, { 2, 1, 3 }, { 0, 3.75, 1 } } end,
        "bad argument #1 to 'eig' (matrix is not symmetric: |A[i][j] - A[j][i]| = 0.75 at [2][3], "
        .. "more than 1e-12 * max|A|)")
    end)

    it("rejects an asymmetry just above the tolerance", function()
      assert.has_error(function() hasme.eig { { 2, 1 + 1e-11 }, { 1, 2 } } end,
        "bad argument #1 to 'eig' (matrix is not symmetric: |A[i][j] - A[j][i]| = "
        .. "1.000000082740371e-11 at [1][2], more than 1e-12 * max|A|)")
    end)

    it("rejects non-finite entries, naming the entry", function()
      assert.has_error(function() hasme.eig { { 1, 2 }, { 2, 0 / 0 } } end,
        "bad argument #1 to 'eig' (matrix entry [2][2] is not finite (got nan))")
      assert.has_error(function() hasme.eig { { 1, -math.huge }, { 2, 1 } } end,
        "bad argument #1 to 'eig' (matrix entry [1][2] is not finite (got -inf))")
      assert.has_error(function() hasme.eig(hasme.mat { { math.huge } }) end,
        "bad argument #1 to 'eig' (matrix entry [1][1] is not finite (got inf))")
    end)

    it("rejects non-square and ragged matrices and other types", function()
      assert.has_error(function() hasme.eig { { 1, 2, 3 }, { 2, 1, 1 } } end,
        "bad argument #1 to 'eig' (square matrix expected, got 2x3)")
      assert.has_error(function() hasme.eig { { 1, 2 }, { 2 } } end,
        "bad argument #1 to 'eig' (ragged matrix: row 2 has 1 entries, row 1 has 2)")
      assert.has_error(function() hasme.eig { { 1, 2 }, { 2, "x" } } end,
        "bad argument #1 to 'eig' (number expected at [2][2], got string)")
      assert.has_error(function() hasme.eig("A") end,
        "bad argument #1 to 'eig' (matrix expected (hasme.Mat or table of rows), got string)")
      assert.has_error(function() hasme.eig() end,
        "bad argument #1 to 'eig' (matrix expected (hasme.Mat or table of rows), got no value)")
    end)
  end)
end)

describe("hasme.chol", function()
  local A = { { 2.25, 0.75, -1.875 }, { 0.75, 5.3125, 1.0625 }, { -1.875, 1.0625, 3.390625 } }

  it("returns the lower factor L with L L' = A", function()
    local L = hasme.chol(A)
    assert.are.equal("hasme.Mat", getmetatable(L).__name)
    local want = { 1.5, 0, 0, 0.5, 2.25, 0, -1.25, 0.75, 1.125 }
    assert.is_true(relerr(L, want) <= 4e-16)
    assert.are.equal(0, L[1][2])
    assert.are.equal(0, L[2][3])
    assert.is_true(frob(L * L:t() - hasme.mat(A)) <= 1e-15 * frob(hasme.mat(A)))
  end)

  it("accepts a hasme.Mat", function()
    assert.is_true(hasme.chol(hasme.mat(A)) == hasme.chol(A))
  end)

  it("agrees with numpy.linalg.cholesky on the fixture matrices to 1e-12", function()
    local fx = load_arrays("linalg_chol.txt")
    local n = 0
    for _, case in ipairs(cases(fx, "A")) do
      local err = relerr(hasme.chol(rows_of(fx.A[case])), fx.L[case].v)
      assert(err <= 1e-12, case .. ": off by " .. err)
      n = n + 1
    end
    assert.are.equal(6, n)
  end)

  it("rejects indefinite and singular matrices, naming the pivot", function()
    assert.has_error(function() hasme.chol { { 2.25, 3 }, { 3, 1 } } end,
      "bad argument #1 to 'chol' (matrix is not positive definite: pivot 2 is -3)")
    assert.has_error(function() hasme.chol { { 4, 2 }, { 2, 1 } } end,
      "bad argument #1 to 'chol' (matrix is not positive definite: pivot 2 is 0)")
    assert.has_error(function() hasme.chol { { -0.5 } } end,
      "bad argument #1 to 'chol' (matrix is not positive definite: pivot 1 is -0.5)")
  end)

  it("rejects non-symmetric, non-finite and non-square input", function()
    assert.has_error(function() hasme.chol { { 4, 1 }, { 2, 4 } } end,
      "bad argument #1 to 'chol' (matrix is not symmetric: |A[i][j] - A[j][i]| = 1 at [1][2], "
      .. "more than 1e-12 * max|A|)")
    assert.has_error(function() hasme.chol { { 4, 1 }, { 1, 0 / 0 } } end,
      "bad argument #1 to 'chol' (matrix entry [2][2] is not finite (got nan))")
    assert.has_error(function() hasme.chol { { 4, 1 } } end,
      "bad argument #1 to 'chol' (square matrix expected, got 1x2)")
  end)
end)

describe("hasme.matfun", function()
  local fx = load_arrays("linalg_matfun.txt")

  for _, fn in ipairs { "log", "exp", "sqrt", "phi1", "phi2" } do
    it("computes " .. fn .. " like SciPy / NumPy to 1e-12 on the fixture matrices", function()
      local n = 0
      for _, case in ipairs(cases(fx, fn)) do
        local got = hasme.matfun(rows_of(fx.A[case]), fn)
        local err = relerr(got, fx[fn][case].v)
        assert(err <= 1e-12, fn .. "(" .. case .. "): off by " .. err)
        n = n + 1
      end
      assert.is_true(n >= 7)
    end)
  end

  it("takes a Lua function, called once per eigenvalue in ascending order", function()
    local m = hasme.mat { { 2.385, 1.5 }, { 1.5, -0.75 } }
    local seen = {}
    local sq = hasme.matfun(m, function(x)
      seen[#seen + 1] = x
      return x * x
    end)
    assert.are.equal(2, #seen)
    assert.is_true(seen[1] < seen[2])
    local w = hasme.eig(m)
    assert.are.same(w:totable(), seen)
    assert.is_true(frob(sq - m * m) <= 1e-14 * frob(m * m))
  end)

  it("reproduces the matrix for the identity function and the inverse for 1/x", function()
    local m = hasme.mat { { 2.385, 0.5, 0 }, { 0.5, 1.25, -0.375 }, { 0, -0.375, 3 } }
    assert.is_true(frob(hasme.matfun(m, function(x) return x end) - m) <= 1e-14 * frob(m))
    local inv = hasme.matfun(m, function(x) return 1 / x end)
    assert.is_true(frob(inv * m - hasme.eye(3)) <= 1e-14)
  end)

  it("accepts integer results from the function", function()
    local r = hasme.matfun({ { 2, 0 }, { 0, 3 } }, function() return 1 end)
    assert.are.same({ { 1, 0 }, { 0, 1 } }, r:totable())
  end)

  it("returns sqrt(m)^2 = m and exp(log(m)) = m", function()
    local m = hasme.mat { { 2.385, 0.5 }, { 0.5, 1.25 } }
    local s = hasme.matfun(m, "sqrt")
    assert.is_true(frob(s * s - m) <= 1e-14 * frob(m))
    assert.is_true(frob(hasme.matfun(hasme.matfun(m, "log"), "exp") - m) <= 1e-14 * frob(m))
  end)

  it("maps phi1 of a diagonal matrix to phi1 of its entries", function()
    local r = hasme.matfun({ { 0.5, 0 }, { 0, -2.385 } }, "phi1")
    assert.are.equal(hasme.phi1(0.5), r[1][1])
    assert.are.equal(hasme.phi1(-2.385), r[2][2])
    assert.are.equal(0, r[1][2])
  end)

  it("treats eigenvalues of rounding size below zero as zero in sqrt", function()
    -- {{1, 1}, {1, 1}} has eigenvalues 0 and 2; rounding may make the 0 slightly negative
    local m = hasme.mat { { 2.385, 2.385 }, { 2.385, 2.385 } }
    local s = hasme.matfun(m, "sqrt")
    assert.is_true(frob(s * s - m) <= 1e-14 * frob(m))
  end)

  describe("errors", function()
    local D = { { 1.5, 0 }, { 0, -0.5 } }

    it("names the function and the eigenvalue outside its domain", function()
      assert.has_error(function() hasme.matfun(D, "log") end,
        "bad argument #1 to 'matfun' (log needs eigenvalues > 0, got eigenvalue -0.5)")
      assert.has_error(function() hasme.matfun({ { 0, 0 }, { 0, 1 } }, "log") end,
        "bad argument #1 to 'matfun' (log needs eigenvalues > 0, got eigenvalue 0)")
      assert.has_error(function() hasme.matfun(D, "sqrt") end,
        "bad argument #1 to 'matfun' (sqrt needs eigenvalues >= 0, got eigenvalue -0.5)")
      assert.has_error(function() hasme.matfun(D, "phi1") end,
        "bad argument #1 to 'matfun' (phi1 needs eigenvalues < 1, got eigenvalue 1.5)")
      assert.has_error(function() hasme.matfun({ { 1, 0 }, { 0, 0.25 } }, "phi2") end,
        "bad argument #1 to 'matfun' (phi2 needs eigenvalues < 1, got eigenvalue 1)")
      assert.has_error(function() hasme.matfun({ { 800, 0 }, { 0, 1 } }, "exp") end,
        "bad argument #1 to 'matfun' (exp overflows at eigenvalue 800)")
    end)

    it("lists the valid names for an unknown one", function()
      assert.has_error(function() hasme.matfun(D, "cos") end,
        "bad argument #2 to 'matfun' (unknown function 'cos' (expected 'exp', 'log', "
        .. "'phi1', 'phi2' or 'sqrt'))")
    end)

    it("rejects a second argument that is neither a function nor a name", function()
      assert.has_error(function() hasme.matfun(D) end,
        "bad argument #2 to 'matfun' (function or function name expected, got no value)")
      assert.has_error(function() hasme.matfun(D, 2) end,
        "bad argument #2 to 'matfun' (function or function name expected, got number)")
    end)

    it("checks the function name before the matrix", function()
      assert.has_error(function() hasme.matfun({ { 1, 2 }, { 3, 4 } }, "cos") end,
        "bad argument #2 to 'matfun' (unknown function 'cos' (expected 'exp', 'log', "
        .. "'phi1', 'phi2' or 'sqrt'))")
    end)

    it("rejects a function result that is not a finite number, naming the eigenvalue", function()
      assert.has_error(function() hasme.matfun(D, function(x) return x > 0 end) end,
        "bad argument #2 to 'matfun' (function returned boolean for eigenvalue -0.5 "
        .. "(a finite number is required))")
      assert.has_error(function() hasme.matfun(D, function(x) if x > 0 then return nil end return x end) end,
        "bad argument #2 to 'matfun' (function returned nil for eigenvalue 1.5 "
        .. "(a finite number is required))")
      assert.has_error(function() hasme.matfun(D, function(x) return math.log(x) end) end,
        "bad argument #2 to 'matfun' (function returned nan for eigenvalue -0.5 "
        .. "(a finite number is required))")
      assert.has_error(function() hasme.matfun(D, function(x) return x / 0 end) end,
        "bad argument #2 to 'matfun' (function returned -inf for eigenvalue -0.5 "
        .. "(a finite number is required))")
    end)

    it("lets an error raised by the function propagate unchanged", function()
      assert.has_error(function() hasme.matfun(D, function() error("my function failed", 0) end) end,
        "my function failed")
      local t = {}
      local ok, e = pcall(hasme.matfun, D, function() error(t) end)
      assert.is_false(ok)
      assert.are.equal(t, e)
    end)

    it("checks the matrix like hasme.eig", function()
      assert.has_error(function() hasme.matfun({ { 1, 2 }, { 3, 4 } }, "exp") end,
        "bad argument #1 to 'matfun' (matrix is not symmetric: |A[i][j] - A[j][i]| = 1 at [1][2], "
        .. "more than 1e-12 * max|A|)")
      assert.has_error(function() hasme.matfun({ { 1, 2 } }, "exp") end,
        "bad argument #1 to 'matfun' (square matrix expected, got 1x2)")
      assert.has_error(function() hasme.matfun({ { 0 / 0 } }, "exp") end,
        "bad argument #1 to 'matfun' (matrix entry [1][1] is not finite (got nan))")
    end)
  end)
end)

-- The phi references: "phi1 u hi lo", "phi2 z hi lo", "pair zi zj hi lo" (hex floats).
local function load_phi()
  local out = { phi1 = {}, phi2 = {} }
  for line in io.lines(FIXTURES .. "linalg_phi.txt") do
    local kind, a, hi, lo = line:match("^(phi%d) (%S+) (%S+) (%S+)$")
    if kind then
      local list = out[kind]
      list[#list + 1] = { tonumber(a), tonumber(hi), tonumber(lo) }
    end
  end
  return out
end

-- The error of got against hi + lo in ulps of hi (an upper bound: at a power of two
-- the rounded log2 may pick the larger of the two spacings).
local function ulps(got, hi, lo)
  if got ~= got then return math.huge end
  if got == hi and lo == 0 then return 0 end
  local a = math.abs(hi)
  local ulp = a < 2.2250738585072014e-308 and 2 ^ -1074 or 2 ^ (math.floor(math.log(a, 2)) - 52)
  return math.abs((got - hi) - lo) / ulp
end

describe("hasme.phi1 and hasme.phi2", function()
  local ref = load_phi()

  it("match the 50-digit references within 4 ulps over (-1e300, 1)", function()
    assert.is_true(#ref.phi1 > 1000 and #ref.phi2 > 500)
    for _, kind in ipairs { "phi1", "phi2" } do
      local f, worst = hasme[kind], 0
      for _, r in ipairs(ref[kind]) do
        local e = ulps(f(r[1]), r[2], r[3])
        assert(e <= 4, string.format("%s(%a): %.3g ulps", kind, r[1], e))
        worst = math.max(worst, e)
      end
      assert.is_true(worst <= 4)
    end
  end)

  it("have the known values and limits", function()
    assert.are.equal(1, hasme.phi1(0))
    assert.are.equal(1, hasme.phi1(1e-300))
    assert.are.equal(1, hasme.phi1(-5e-324))
    assert.are.equal(0, hasme.phi1(-math.huge))
    assert.is_true(math.abs(hasme.phi1(0.5) - 2 * math.log(2)) <= 4.5e-16)
    assert.is_true(math.abs(hasme.phi1(-1) - math.log(2)) <= 2.3e-16)
    assert.are.equal(1, hasme.phi2(0))
    assert.are.equal(0, hasme.phi2(-math.huge))
    assert.is_true(math.abs(hasme.phi2(0.5) - 8 / 3 * math.log(2)) <= 4.5e-16)
    assert.is_true(hasme.phi1(1 - 2 ^ -53) > 36.7)
  end)

  it("accept integers", function()
    assert.are.equal(hasme.phi1(-2.0), hasme.phi1(-2))
    assert.are.equal(hasme.phi2(-3.0), hasme.phi2(-3))
  end)

  it("reject arguments outside the domain, naming them", function()
    assert.has_error(function() hasme.phi1(1.5) end,
      "bad argument #1 to 'phi1' (phi1 is defined for u < 1, got 1.5)")
    assert.has_error(function() hasme.phi1(1) end,
      "bad argument #1 to 'phi1' (phi1 is defined for u < 1, got 1)")
    assert.has_error(function() hasme.phi1(0 / 0) end,
      "bad argument #1 to 'phi1' (phi1 is defined for u < 1, got nan)")
    assert.has_error(function() hasme.phi1(math.huge) end,
      "bad argument #1 to 'phi1' (phi1 is defined for u < 1, got inf)")
    assert.has_error(function() hasme.phi2(1) end,
      "bad argument #1 to 'phi2' (phi2 is defined for z < 1, got 1)")
    assert.has_error(function() hasme.phi2(2.385) end,
      "bad argument #1 to 'phi2' (phi2 is defined for z < 1, got 2.385)")
    assert.has_error(function() hasme.phi2(0 / 0) end,
      "bad argument #1 to 'phi2' (phi2 is defined for z < 1, got nan)")
  end)

  it("reject non-numbers", function()
    assert.has_error(function() hasme.phi1("x") end,
      "bad argument #1 to 'phi1' (number expected, got string)")
    assert.has_error(function() hasme.phi2() end,
      "bad argument #1 to 'phi2' (number expected, got no value)")
    assert.has_error(function() hasme.phi1({ 0.5 }) end,
      "bad argument #1 to 'phi1' (number expected, got table)")
  end)
end)
