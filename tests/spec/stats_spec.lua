-- stats_spec.lua: hasme.stats, against NumPy / SciPy reference values
-- (tests/fixtures/stats_*.txt, written by tests/tools/gen_stats_fixtures.py), known
-- answers and statistical sanity checks, with every error message matched exactly.
local hasme = require "hasme"
local stats = hasme.stats

local here = debug.getinfo(1, "S").source:match("^@(.*)[/\\][^/\\]*$") or "."
local FIXTURES = here .. "/../fixtures/"

local NAN, INF = 0 / 0, math.huge

-- The cases of a fixture file: a list of {name = ..., key = {numbers...}}.
local function load(file)
  local cases, cur = {}, nil
  for line in io.lines(FIXTURES .. file) do
    if line ~= "" and line:sub(1, 1) ~= "#" then
      local key, rest = line:match("^(%S+)%s*(.*)$")
      if key == "case" then
        cur = { name = rest }
        cases[#cases + 1] = cur
      else
        local v = {}
        for w in rest:gmatch("%S+") do
          v[#v + 1] = (w == "nan" and NAN) or (w == "inf" and INF) or (w == "-inf" and -INF)
            or assert(tonumber(w), w)
        end
        cur[key] = v
      end
    end
  end
  return cases
end

-- The cases whose name matches pattern (at least one).
local function cases(file, pattern)
  local out = {}
  for _, c in ipairs(load(file)) do
    if c.name:match(pattern) then out[#out + 1] = c end
  end
  assert(#out > 0, "no case " .. pattern .. " in " .. file)
  return out
end

-- |got - want| <= max(rel * |want|, abs), or both equal (infinities).
local function near(got, want, rel, abs, what)
  local ok = got == want or math.abs(got - want) <= math.max(rel * math.abs(want), abs or 0)
  assert(ok, ("%s: got %.17g, want %.17g (rel %.3g, abs %.3g)"):format(what or "value",
    got, want, rel, abs or 0))
end

local function near_all(got, want, rel, abs, what)
  assert.are.equal(#want, #got, (what or "") .. ": length")
  for i = 1, #want do near(got[i], want[i], rel, abs, ("%s[%d]"):format(what or "value", i)) end
end

-- A row-major list of values as a table of rows.
local function rows(v, r, c)
  local m = {}
  for i = 1, r do
    m[i] = {}
    for j = 1, c do m[i][j] = v[(i - 1) * c + j] end
  end
  return m
end

local function flat(m)
  local t = {}
  for i = 1, m:rows() do
    for j = 1, m:cols() do t[#t + 1] = m[i][j] end
  end
  return t
end

describe("hasme.stats", function()
  it("holds the C functions of hasme.core.stats and the Lua ones", function()
    local core = require "hasme.core"
    for k, f in pairs(core.stats) do assert.are.equal(f, stats[k], k) end
    for _, k in ipairs{ "cov", "escape_summary", "gauss_kl", "gauss_w2", "histogram", "ks",
      "ks_normal", "ks_sf", "loglog_fit", "mean", "median", "moments", "normal_cdf",
      "normal_quantile", "quantile", "survival", "t_cdf", "t_quantile", "var", "w1",
      "w1_normal", "weak_error", "wilson" } do
      assert.are.equal("function", type(stats[k]), k)
    end
    assert.are.equal(stats, require "hasme.stats")
  end)

  describe("sample checks shared by every function", function()
    it("accepts a hasme.Vec or a table", function()
      local a, se = stats.mean(hasme.vec{ 1, 2, 3, 4 })
      local b, se2 = stats.mean{ 1, 2, 3, 4 }
      assert.are.equal(2.5, a)
      assert.are.equal(a, b)
      assert.are.equal(se, se2)
    end)

    it("rejects what is not a sample", function()
      assert.has_error(function() stats.mean("x") end,
        "bad argument #1 to 'mean' (vector expected (hasme.Vec or table of numbers), got string)")
      assert.has_error(function() stats.median{ 1, "a" } end,
        "bad argument #1 to 'median' (number expected at index 2, got string)")
      assert.has_error(function() stats.mean{} end, "bad argument #1 to 'mean' (sample is empty)")
      assert.has_error(function() stats.ks({ 1 }, {}) end,
        "bad argument #2 to 'ks' (sample is empty)")
      assert.has_error(function() stats.var{ 2.385 } end,
        "bad argument #1 to 'var' (at least 2 values needed (got 1))")
    end)

    it("names the index of a non-finite value", function()
      assert.has_error(function() stats.quantile({ 1, 2, INF }, 0.5) end,
        "bad argument #1 to 'quantile' (non-finite value at index 3 (got inf))")
      assert.has_error(function() stats.w1({ 1 }, { -INF, 2 }) end,
        "bad argument #2 to 'w1' (non-finite value at index 1 (got -inf))")
      assert.has_error(function() stats.moments{ 1, NAN } end,
        "bad argument #1 to 'moments' (non-finite value at index 2 (got nan))")
      assert.has_error(function() stats.mean{ { 1, 2 }, { 3, NAN } } end,
        "bad argument #1 to 'mean' (non-finite value at [2][2] (got nan))")
    end)
  end)

  describe("mean, var, moments", function()
    it("gives the mean and its standard error", function()
      local m, se = stats.mean{ 1, 2, 3, 4, 10 }
      assert.are.equal(4, m)
      near(se, math.sqrt(12.5 / 5), 1e-15)
      local one, none = stats.mean{ 2.385 }
      assert.are.equal(2.385, one)
      assert.is_nil(none)
    end)

    it("gives column means and standard errors of a matrix", function()
      local m, se = stats.mean{ { 1, 10 }, { 2, 20 }, { 3, 60 } }
      assert.are.same({ 2, 30 }, m:totable())
      near(se[1], math.sqrt(1 / 3), 1e-15)
      near(se[2], math.sqrt(700 / 3), 1e-15)
      local v = stats.var(hasme.mat{ { 1, 10 }, { 2, 20 }, { 3, 60 } })
      assert.are.same({ 1, 700 }, v:totable())
      local m1, se1 = stats.mean{ { 1, 2 } }
      assert.are.same({ 1, 2 }, m1:totable())
      assert.is_nil(se1)
    end)

    it("rejects degenerate matrices", function()
      assert.has_error(function() stats.mean(hasme.mat(0, 2)) end,
        "bad argument #1 to 'mean' (sample is empty)")
      assert.has_error(function() stats.mean{ {} } end,
        "bad argument #1 to 'mean' (matrix has no columns)")
      assert.has_error(function() stats.var{ { 1, 2 } } end,
        "bad argument #1 to 'var' (at least 2 rows (observations) needed (got 1))")
      assert.has_error(function() stats.mean{ { 1, 2 }, { 3 } } end,
        "bad argument #1 to 'mean' (ragged matrix: row 2 has 1 entries, row 1 has 2)")
    end)

    it("agrees with numpy.var and scipy.stats.skew / kurtosis", function()
      for _, c in ipairs(cases("stats_sample.txt", "^moments_")) do
        local m = stats.moments(c.x)
        assert.are.equal(#c.x, m.n)
        near(m.mean, c.mean[1], 1e-14, 0, c.name .. " mean")
        near(m.var, c.var[1], 1e-14, 0, c.name .. " var")
        near(m.sd, math.sqrt(c.var[1]), 1e-14, 0, c.name .. " sd")
        near(m.se, math.sqrt(c.var[1] / #c.x), 1e-14, 0, c.name .. " se")
        near(m.skew, c.skew[1], 1e-12, 0, c.name .. " skew")
        near(m.kurt, c.kurt[1], 1e-12, 0, c.name .. " kurt")
        near(stats.var(c.x), c.var[1], 1e-14, 0, c.name .. " var()")
      end
    end)

    it("leaves skew and kurt out for a constant sample", function()
      local m = stats.moments{ 0.1, 0.1, 0.1, 0.1 }
      assert.are.equal(0, m.var)
      assert.is_nil(m.skew)
      assert.is_nil(m.kurt)
    end)
  end)

  describe("cov", function()
    it("agrees with numpy.cov and the Gaussian standard errors", function()
      for _, c in ipairs(cases("stats_sample.txt", "^cov_")) do
        local n, d = c.n[1], c.d[1]
        local mu, C, se = stats.cov(rows(c.X, n, d))
        near_all(mu:totable(), c.mean, 1e-13, 1e-15, c.name .. " mean")
        near_all(flat(C), c.C, 1e-13, 1e-15, c.name .. " C")
        near_all(flat(se), c.se, 1e-13, 1e-15, c.name .. " se")
      end
    end)

    it("returns an exactly symmetric matrix", function()
      local _, C = stats.cov{ { 1.5, 2, 0.3 }, { 2.2, 0.1, 4 }, { 3.7, 4.4, -1 }, { 0, 1, 2 } }
      for i = 1, 3 do
        for j = 1, 3 do assert.are.equal(C[i][j], C[j][i]) end
      end
    end)

    it("needs a matrix with two rows", function()
      assert.has_error(function() stats.cov{ 1, 2, 3 } end,
        "bad argument #1 to 'cov' (row 1: table or hasme.Vec expected, got number)")
      assert.has_error(function() stats.cov{ { 1, 2 } } end,
        "bad argument #1 to 'cov' (at least 2 rows (observations) needed (got 1))")
      assert.has_error(function() stats.cov{ { 1, INF }, { 1, 2 } } end,
        "bad argument #1 to 'cov' (non-finite value at [1][2] (got inf))")
    end)
  end)

  describe("quantile and median", function()
    it("agree with numpy.quantile (method 'linear') and numpy.median", function()
      for _, c in ipairs(cases("stats_sample.txt", "^quantile_")) do
        local q = stats.quantile(c.x, c.p)
        near_all(q:totable(), c.q, 1e-15, 0, c.name)
        for i, p in ipairs(c.p) do near(stats.quantile(c.x, p), c.q[i], 1e-15, 0, c.name) end
        near(stats.median(c.x), c.median[1], 1e-15, 0, c.name .. " median")
      end
    end)

    it("is monotone in p and exact at the ends", function()
      local x = { 3.1, -2, 7.25, 0, 0, 5 }
      local q = stats.quantile(x, hasme.linspace(0, 1, 101))
      for i = 2, #q do assert.is_true(q[i] >= q[i - 1]) end
      assert.are.equal(-2, q[1])
      assert.are.equal(7.25, q[101])
    end)

    it("checks p", function()
      assert.has_error(function() stats.quantile({ 1, 2 }, 1.5) end,
        "bad argument #2 to 'quantile' (p must be in [0, 1] (got 1.5))")
      assert.has_error(function() stats.quantile({ 1, 2 }, NAN) end,
        "bad argument #2 to 'quantile' (p must be in [0, 1] (got nan))")
      assert.has_error(function() stats.quantile({ 1, 2 }, { 0.5, -0.25 }) end,
        "bad argument #2 to 'quantile' (p[2] must be in [0, 1] (got -0.25))")
      assert.has_error(function() stats.quantile({ 1, 2 }, "half") end,
        "bad argument #2 to 'quantile' (vector expected (hasme.Vec or table of numbers), got string)")
    end)
  end)

  describe("histogram", function()
    it("agrees with numpy.histogram (counts, density, range, explicit edges)", function()
      for _, c in ipairs(cases("stats_sample.txt", "^hist_")) do
        local e, k
        if c.name:match("^hist_edges") then
          e, k = stats.histogram(c.x, { bins = c.edges,
            density = c.name:match("density") ~= nil })
        else
          local o = { bins = c.bins[1], density = c.density ~= nil and c.density[1] == 1 }
          if c.range[1] ~= c.range[2] then o.range = c.range end
          e, k = stats.histogram(c.x, o)
        end
        near_all(e:totable(), c.edges, 1e-15, 0, c.name .. " edges")
        near_all(k:totable(), c.counts, 1e-14, 0, c.name .. " counts")
      end
    end)

    it("takes the number of bins directly and defaults to 10", function()
      local x = { 0, 0.1, 0.25, 0.5, 0.5, 0.75, 0.99, 1 }
      local e, k = stats.histogram(x, 4)
      assert.are.same({ 0, 0.25, 0.5, 0.75, 1 }, e:totable())
      assert.are.same({ 2, 1, 2, 3 }, k:totable())
      local e10 = stats.histogram(x)
      assert.are.equal(11, #e10)
      local ec, kc = stats.histogram{ 2, 2, 2 }
      assert.are.equal(1.5, ec[1])
      assert.are.equal(2.5, ec[11])
      assert.are.equal(3, kc[6])
    end)

    it("integrates its density to 1", function()
      local x = { -1.2, 0.3, 0.31, 2.2, 5, 5.5, -0.7 }
      local e, d = stats.histogram(x, { bins = 6, density = true })
      local s = 0
      for i = 1, #d do s = s + d[i] * (e[i + 1] - e[i]) end
      near(s, 1, 1e-15)
    end)

    it("checks its options", function()
      local x = { 1, 2, 3 }
      assert.has_error(function() stats.histogram(x, "ten") end,
        "bad argument #2 to 'histogram' (table expected, got string)")
      assert.has_error(function() stats.histogram(x, 0) end,
        "bad argument #2 to 'histogram' (number of bins must be at least 1 (got 0))")
      assert.has_error(function() stats.histogram(x, 2.5) end,
        "bad argument #2 to 'histogram' (number of bins must be an integer (got 2.5))")
      assert.has_error(function() stats.histogram(x, { bin = 3 }) end,
        "bad argument #2 to 'histogram' (unknown option 'bin' (valid: 'bins', 'density' or 'range'))")
      assert.has_error(function() stats.histogram(x, { bins = 0 }) end,
        "bad argument #2 to 'histogram' (field 'bins': must be at least 1 (got 0))")
      assert.has_error(function() stats.histogram(x, { bins = 1.5 }) end,
        "bad argument #2 to 'histogram' (field 'bins': integer expected, got 1.5)")
      assert.has_error(function() stats.histogram(x, { bins = { 1 } }) end,
        "bad argument #2 to 'histogram' (field 'bins': at least 2 edges needed (got 1))")
      assert.has_error(function() stats.histogram(x, { bins = { 0, 1, 1 } }) end,
        "bad argument #2 to 'histogram' (field 'bins': edges must increase strictly (edge 2 is 1, edge 3 is 1))")
      assert.has_error(function() stats.histogram(x, { bins = { 0, INF } }) end,
        "bad argument #2 to 'histogram' (field 'bins': non-finite value at index 2 (got inf))")
      assert.has_error(function() stats.histogram(x, { bins = "auto" }) end,
        "bad argument #2 to 'histogram' (field 'bins': vector expected (hasme.Vec or table of numbers), got string)")
      assert.has_error(function() stats.histogram(x, { range = { 1 } }) end,
        "bad argument #2 to 'histogram' (field 'range': {lo, hi} expected (got 1 values))")
      assert.has_error(function() stats.histogram(x, { range = { 2, 1 } }) end,
        "bad argument #2 to 'histogram' (field 'range': lo must be less than hi (got 2 and 1))")
      assert.has_error(function() stats.histogram(x, { range = { 0, NAN } }) end,
        "bad argument #2 to 'histogram' (field 'range': non-finite value at index 2 (got nan))")
      assert.has_error(function() stats.histogram(x, { bins = { 0, 1 }, range = { 0, 1 } }) end,
        "bad argument #2 to 'histogram' (field 'range': cannot be combined with explicit edges in 'bins')")
      assert.has_error(function() stats.histogram(x, { density = 1 }) end,
        "bad argument #2 to 'histogram' (field 'density': boolean expected, got number)")
      assert.has_error(function() stats.histogram(x, { range = { 5, 6 }, density = true }) end,
        "bad argument #2 to 'histogram' (field 'density': no value of the sample falls inside the bins)")
    end)
  end)

  describe("normal and t distributions", function()
    it("normal_quantile agrees with scipy.special.ndtri to 1e-15", function()
      local c = cases("stats_dist.txt", "^normal_quantile$")[1]
      near_all(stats.normal_quantile(c.p):totable(), c.x, 1e-15, 0, "normal_quantile")
      for i, p in ipairs(c.p) do near(stats.normal_quantile(p), c.x[i], 1e-15, 0, "p " .. p) end
    end)

    it("normal_cdf agrees with scipy.special.ndtr", function()
      local c = cases("stats_dist.txt", "^normal_cdf$")[1]
      -- ndtr underflows to 0 at -38, where Phi is the subnormal 2.9e-316
      near_all(stats.normal_cdf(c.x):totable(), c.p, 1e-13, 1e-300, "normal_cdf")
      assert.are.equal(1, stats.normal_cdf(INF))
      assert.are.equal(0, stats.normal_cdf(-INF))
    end)

    it("normal_quantile is -inf and inf at 0 and 1", function()
      assert.are.equal(-INF, stats.normal_quantile(0))
      assert.are.equal(INF, stats.normal_quantile(1))
      assert.are.equal(0, stats.normal_quantile(0.5))
    end)

    it("t_quantile agrees with the root of scipy's t.cdf to 1e-12 and t.ppf to 1e-8", function()
      for _, c in ipairs(cases("stats_dist.txt", "^t_quantile$")) do
        for i, p in ipairs(c.p) do
          local t = stats.t_quantile(p, c.dof[1])
          local what = ("dof %g p %g"):format(c.dof[1], p)
          near(t, c.xr[i], 1e-12, 0, what)
          -- SciPy 1.10's t.ppf (stdtrit) is itself only good to a few 1e-9
          near(t, c.x[i], 1e-8, 0, what .. " (t.ppf)")
        end
      end
    end)

    it("t_cdf agrees with scipy's t.cdf", function()
      for _, c in ipairs(cases("stats_dist.txt", "^t_cdf$")) do
        for i, t in ipairs(c.t) do
          near(stats.t_cdf(t, c.dof[1]), c.p[i], 1e-12, 0, ("dof %g t %g"):format(c.dof[1], t))
        end
      end
    end)

    it("check their arguments", function()
      assert.has_error(function() stats.normal_quantile(2) end,
        "bad argument #1 to 'normal_quantile' (p must be in [0, 1] (got 2))")
      assert.has_error(function() stats.normal_quantile{ 0.5, -1 } end,
        "bad argument #1 to 'normal_quantile' (p[2] must be in [0, 1] (got -1))")
      assert.has_error(function() stats.normal_cdf(NAN) end,
        "bad argument #1 to 'normal_cdf' (x must not be nan)")
      assert.has_error(function() stats.normal_cdf{ 1, 2, NAN } end,
        "bad argument #1 to 'normal_cdf' (x[3] must not be nan)")
      assert.has_error(function() stats.t_quantile(-0.1, 3) end,
        "bad argument #1 to 't_quantile' (p must be in [0, 1] (got -0.1))")
      assert.has_error(function() stats.t_quantile(0.5, 0) end,
        "bad argument #2 to 't_quantile' (dof must be positive (got 0))")
      assert.has_error(function() stats.t_quantile(0.5, INF) end,
        "bad argument #2 to 't_quantile' (dof must be finite (got inf))")
      assert.has_error(function() stats.t_quantile(0.5) end,
        "bad argument #2 to 't_quantile' (number expected, got no value)")
      assert.has_error(function() stats.t_cdf(NAN, 3) end,
        "bad argument #1 to 't_cdf' (t must not be nan)")
    end)
  end)

  describe("Kolmogorov distributions (ks_sf)", function()
    it("ks_sf(x) agrees with scipy's kstwobign.sf", function()
      local c = cases("stats_kolmogorov.txt", "^limit$")[1]
      for i, x in ipairs(c.x) do near(stats.ks_sf(x), c.sf[i], 1e-14, 1e-16, "x " .. x) end
    end)

    it("ks_sf(d, n) agrees with scipy's kstwo.sf for every method and n up to 4e5", function()
      for _, c in ipairs(cases("stats_kolmogorov.txt", "^finite$")) do
        for i, d in ipairs(c.d) do
          near(stats.ks_sf(d, c.n[1]), c.sf[i], 1e-12, 1e-13, ("n %d d %.6g"):format(c.n[1], d))
        end
      end
    end)

    it("is 1 at d <= 0 and 0 at d >= 1", function()
      assert.are.equal(1, stats.ks_sf(0, 10))
      assert.are.equal(1, stats.ks_sf(-3))
      assert.are.equal(0, stats.ks_sf(1, 10))
    end)

    it("checks its arguments", function()
      assert.has_error(function() stats.ks_sf(NAN) end,
        "bad argument #1 to 'ks_sf' (d must not be nan)")
      assert.has_error(function() stats.ks_sf(0.1, 0) end,
        "bad argument #2 to 'ks_sf' (n must be at least 1 (got 0))")
      assert.has_error(function() stats.ks_sf(0.1, 2.5) end,
        "bad argument #2 to 'ks_sf' (n must be an integer (got 2.5))")
      assert.has_error(function() stats.ks_sf(0.1, "ten") end,
        "bad argument #2 to 'ks_sf' (integer expected, got string)")
    end)
  end)

  describe("ks and ks_normal", function()
    it("ks agrees with scipy.stats.ks_2samp(method='asymp'), ties included", function()
      for _, c in ipairs(cases("stats_ks.txt", "^ks2_")) do
        local D, p = stats.ks(c.x, c.y)
        near(D, c.D[1], 1e-15, 0, c.name .. " D")
        if c.name ~= "ks2_one_each" then  -- SciPy returns NaN for two samples of size 1
          near(p, c.p[1], 1e-9, 1e-12, c.name .. " p")
        end
      end
    end)

    it("ks_normal agrees with scipy.stats.kstest(x, 'norm', method='asymp')", function()
      for _, c in ipairs(cases("stats_ks.txt", "^ks1_")) do
        local D, p = stats.ks_normal(c.x, c.mu[1], c.sigma[1])
        near(D, c.D[1], 1e-14, 0, c.name .. " D")
        near(p, c.p[1], 1e-12, 1e-14, c.name .. " p")
      end
    end)

    it("does not reject two fixed samples from the same law, and rejects different ones", function()
      local same = cases("stats_ks.txt", "^ks2_equal_size$")[1]   -- both N(0, 1), n = 100
      local _, p = stats.ks(same.x, same.y)
      assert.is_true(p > 0.05, "p = " .. p)
      local far = cases("stats_ks.txt", "^ks2_separated$")[1]     -- U(0,1) and U(2,3)
      local D, q = stats.ks(far.x, far.y)
      assert.are.equal(1, D)
      assert.is_true(q < 1e-12)
      local std = cases("stats_ks.txt", "^ks1_std$")[1]           -- N(0, 1), n = 50
      local _, p1 = stats.ks_normal(std.x)
      assert.is_true(p1 > 0.05, "p = " .. p1)
      local shifted = cases("stats_ks.txt", "^ks1_shifted$")[1]   -- N(0.4, 1) vs N(0, 1)
      local _, p2 = stats.ks_normal(shifted.x)
      assert.is_true(p2 < 1e-6, "p = " .. p2)
    end)

    it("gives D = 0 and p = 1 for the same sample in another order", function()
      local D, p = stats.ks({ 1, 2, 2, 3.5 }, hasme.vec{ 3.5, 2, 1, 2 })
      assert.are.equal(0, D)
      assert.are.equal(1, p)
    end)

    it("ks_normal defaults to N(0, 1) and checks mu and sigma", function()
      local x = { -0.4, 1.1, 0.25 }
      assert.are.same({ stats.ks_normal(x, 0, 1) }, { stats.ks_normal(x) })
      assert.has_error(function() stats.ks_normal(x, 0, 0) end,
        "bad argument #3 to 'ks_normal' (sigma must be positive (got 0))")
      assert.has_error(function() stats.ks_normal(x, 0, -2) end,
        "bad argument #3 to 'ks_normal' (sigma must be positive (got -2))")
      assert.has_error(function() stats.ks_normal(x, 0, INF) end,
        "bad argument #3 to 'ks_normal' (sigma must be finite (got inf))")
      assert.has_error(function() stats.ks_normal(x, NAN) end,
        "bad argument #2 to 'ks_normal' (mu must be finite (got nan))")
      assert.has_error(function() stats.ks_normal(x, "zero") end,
        "bad argument #2 to 'ks_normal' (number expected, got string)")
    end)
  end)

  describe("w1 and w1_normal", function()
    it("w1 agrees with scipy.stats.wasserstein_distance to 1e-12", function()
      for _, c in ipairs(cases("stats_ks.txt", "^ks2_")) do
        near(stats.w1(c.x, c.y), c.w1[1], 1e-12, 0, c.name)
      end
    end)

    it("w1_normal agrees with adaptive quadrature of |F_n - Phi|", function()
      for _, c in ipairs(cases("stats_ks.txt", "^ks1_")) do
        near(stats.w1_normal(c.x, c.mu[1], c.sigma[1]), c.w1[1], 1e-11, 0, c.name)
      end
    end)

    it("has the known values of simple cases", function()
      assert.are.equal(1, stats.w1({ 0, 2 }, { 1 }))
      assert.are.equal(0, stats.w1({ 3, 1, 2 }, { 1, 2, 3 }))
      near(stats.w1({ 0.5, 1.5 }, { 2.5, 3.5, 3, 2 }), 1.75, 1e-15)
      near(stats.w1_normal{ 0 }, math.sqrt(2 / math.pi), 1e-15)
      near(stats.w1_normal({ 5 }, 5, 2), 2 * math.sqrt(2 / math.pi), 1e-15)
    end)

    it("is symmetric and at least the difference of the means", function()
      local c = cases("stats_ks.txt", "^ks2_unequal$")[1]
      local w = stats.w1(c.x, c.y)
      assert.are.equal(w, stats.w1(c.y, c.x))
      assert.is_true(w >= math.abs(stats.mean(c.x) - stats.mean(c.y)))
    end)

    it("checks mu and sigma", function()
      assert.has_error(function() stats.w1_normal({ 1 }, 0, 0) end,
        "bad argument #3 to 'w1_normal' (sigma must be positive (got 0))")
      assert.has_error(function() stats.w1_normal({ 1 }, -INF) end,
        "bad argument #2 to 'w1_normal' (mu must be finite (got -inf))")
    end)
  end)

  describe("gauss_w2 and gauss_kl", function()
    local function gauss(c)
      local d = c.d[1]
      return c.m1, rows(c.C1, d, d), c.m2, rows(c.C2, d, d)
    end

    it("agree with scipy.linalg.sqrtm and the direct KL formula (d = 1 .. 20)", function()
      for _, c in ipairs(cases("stats_gauss.txt", "^gauss_d")) do
        near(stats.gauss_w2(gauss(c)), c.w2[1], 1e-12, 0, c.name .. " w2")
        near(stats.gauss_kl(gauss(c)), c.kl[1], 1e-12, 0, c.name .. " kl")
      end
    end)

    it("handle a singular C1: W2 to about sqrt(eps), KL infinite", function()
      local c = cases("stats_gauss.txt", "^gauss_singular$")[1]
      near(stats.gauss_w2(gauss(c)), c.w2[1], 1e-6, 0, "w2")
      assert.are.equal(INF, stats.gauss_kl(gauss(c)))
    end)

    it("take numbers (mean, variance) in one dimension", function()
      near(stats.gauss_w2(0, 1, 3, 4), math.sqrt(9 + 1), 1e-15)
      near(stats.gauss_kl(0, 1, 1, 2), math.log(math.sqrt(2)), 1e-15)
      near(stats.gauss_kl(0.5, 2, 0.5, 2), 0, 0, 1e-30)
    end)

    it("are zero between a law and itself, and W2 is symmetric", function()
      local m, C = { 1, -2 }, { { 2, 0.3 }, { 0.3, 0.5 } }
      assert.is_true(stats.gauss_w2(m, C, m, C) < 1e-7)
      assert.is_true(stats.gauss_kl(m, C, m, C) < 1e-30)
      local m2, C2 = { 0, 0 }, { { 1, -0.2 }, { -0.2, 3 } }
      near(stats.gauss_w2(m, C, m2, C2), stats.gauss_w2(m2, C2, m, C), 1e-14)
    end)

    it("keep KL accurate for nearby laws", function()
      -- KL(N(0, 1 + e) || N(0, 1)) = (e - log(1 + e)) / 2 = e^2/4 - e^3/6 + ...
      local e = 1e-6
      near(stats.gauss_kl({ 0 }, { { 1 + e } }, { 0 }, { { 1 } }), e * e / 4 - e ^ 3 / 6, 1e-9)
    end)

    it("check their arguments", function()
      local I = { { 1, 0 }, { 0, 1 } }
      assert.has_error(function() stats.gauss_w2({}, {}, {}, {}) end,
        "bad argument #1 to 'gauss_w2' (m1 is empty)")
      assert.has_error(function() stats.gauss_w2({ 0, 0 }, { { 1 } }, { 0, 0 }, I) end,
        "bad argument #2 to 'gauss_w2' (C1 must be 2x2 to match m1 (got 1x1))")
      assert.has_error(function() stats.gauss_kl({ 0, 0 }, I, { 0, 0, 0 }, I) end,
        "bad argument #4 to 'gauss_kl' (C2 must be 3x3 to match m2 (got 2x2))")
      assert.has_error(function() stats.gauss_w2({ 0, 0 }, I, { 0 }, { { 1 } }) end,
        "bad argument #3 to 'gauss_w2' (m2 has dimension 1 but m1 has dimension 2)")
      assert.has_error(function() stats.gauss_w2({ 0, 0 }, { { 1, 0.5 }, { 0, 1 } }, { 0, 0 }, I) end,
        "bad argument #2 to 'gauss_w2' (C1 must be symmetric ([1][2] and [2][1] differ by 0.5))")
      assert.has_error(function() stats.gauss_w2({ 0, NAN }, I, { 0, 0 }, I) end,
        "bad argument #1 to 'gauss_w2' (non-finite value at index 2 (got nan))")
      assert.has_error(function() stats.gauss_w2({ 0, 0 }, I, { 0, 0 }, { { 1, 0 }, { 0, INF } }) end,
        "bad argument #4 to 'gauss_w2' (non-finite value at [2][2] (got inf))")
      assert.has_error(function() stats.gauss_w2({ 0, 0 }, { { 1, 2 }, { 2, 1 } }, { 0, 0 }, I) end,
        "bad argument #2 to 'gauss_w2' (C1 must be positive semidefinite (eigenvalues from -1 to 3))")
      assert.has_error(function() stats.gauss_w2({ 0, 0 }, I, { 0, 0 }, { { -2, 0 }, { 0, 1 } }) end,
        "bad argument #4 to 'gauss_w2' (C2 must be positive semidefinite (eigenvalues from -2 to 1))")
      assert.has_error(function() stats.gauss_kl({ 0, 0 }, I, { 0, 0 }, { { 1, 0 }, { 0, 0 } }) end,
        "bad argument #4 to 'gauss_kl' (C2 must be positive definite (eigenvalues from 0 to 1))")
      assert.has_error(function() stats.gauss_kl({ 0, 0 }, { { -1, 0 }, { 0, 1 } }, { 0, 0 }, I) end,
        "bad argument #2 to 'gauss_kl' (C1 must be positive semidefinite (eigenvalues from -1 to 1))")
      assert.has_error(function() stats.gauss_kl(0, -1, 0, 1) end,
        "bad argument #2 to 'gauss_kl' (C1 must be positive semidefinite (eigenvalues from -1 to -1))")
      assert.has_error(function() stats.gauss_w2(NAN, 1, 0, 1) end,
        "bad argument #1 to 'gauss_w2' (m1 must be finite (got nan))")
      assert.has_error(function() stats.gauss_w2(0, 1, 0, INF) end,
        "bad argument #4 to 'gauss_w2' (C2 must be finite (got inf))")
    end)
  end)

  describe("wilson", function()
    it("agrees with statsmodels' Wilson interval", function()
      for _, c in ipairs(cases("stats_intervals.txt", "^wilson$")) do
        local lo, hi = stats.wilson(c.k[1], c.n[1], c.conf[1])
        local what = ("k %d n %d"):format(c.k[1], c.n[1])
        near(lo, c.lo[1], 1e-13, 1e-15, what .. " lo")
        near(hi, c.hi[1], 1e-13, 1e-15, what .. " hi")
      end
    end)

    it("defaults to 95%, contains k/n and is exact at the ends", function()
      local lo, hi = stats.wilson(3, 7)
      assert.are.same({ lo, hi }, { stats.wilson(3, 7, 0.95) })
      assert.is_true(lo < 3 / 7 and 3 / 7 < hi)
      assert.are.equal(0, (stats.wilson(0, 12)))
      assert.are.equal(1, select(2, stats.wilson(12, 12)))
    end)

    it("checks its arguments", function()
      assert.has_error(function() stats.wilson(5, 3) end,
        "bad argument #1 to 'wilson' (k must not exceed n (got k = 5, n = 3))")
      assert.has_error(function() stats.wilson(-1, 3) end,
        "bad argument #1 to 'wilson' (k must be at least 0 (got -1))")
      assert.has_error(function() stats.wilson(1.5, 3) end,
        "bad argument #1 to 'wilson' (k must be an integer (got 1.5))")
      assert.has_error(function() stats.wilson(0, 0) end,
        "bad argument #2 to 'wilson' (n must be at least 1 (got 0))")
      assert.has_error(function() stats.wilson(1, 3, 1) end,
        "bad argument #3 to 'wilson' (confidence level must be in (0, 1) (got 1))")
      assert.has_error(function() stats.wilson(1, 3, NAN) end,
        "bad argument #3 to 'wilson' (confidence level must be in (0, 1) (got nan))")
      assert.has_error(function() stats.wilson("one", 3) end,
        "bad argument #1 to 'wilson' (integer expected, got string)")
    end)
  end)

  describe("survival and escape_summary", function()
    it("agree with the reference computation (binomial order statistics from SciPy)", function()
      for _, c in ipairs(cases("stats_intervals.txt", "^escape_")) do
        local h, conf = c.horizon[1], c.conf[1]
        local k, S = stats.survival(c.steps, h)
        assert.are.equal(h + 1, #k)
        assert.are.equal(0, k[1])
        assert.are.equal(h, k[h + 1])
        near_all(S:totable(), c.S, 1e-15, 0, c.name .. " S")
        local e = stats.escape_summary(c.steps, h, conf)
        assert.are.equal(c.n[1], e.n)
        assert.are.equal(c.escaped[1], e.escaped)
        assert.are.equal(c.n[1] - c.escaped[1], e.censored)
        assert.are.equal(h, e.horizon)
        assert.are.equal(conf, e.conf)
        for _, f in ipairs{ "prob", "prob_lo", "prob_hi", "mean", "mean_se", "mean_censored",
          "median", "median_lo", "median_hi", "median_coverage" } do
          if c[f] then near(e[f], c[f][1], 1e-12, 1e-15, c.name .. " " .. f)
          else assert.is_nil(e[f], c.name .. " " .. f) end
        end
        near(e.prob, 1 - S[h + 1], 1e-15, 0, c.name .. " prob = 1 - S(horizon)")
      end
    end)

    it("explains missing fields", function()
      local e = stats.escape_summary({ -1, -1, 4 }, 10)
      assert.are.equal(4, e.mean)
      assert.is_nil(e.mean_se)
      assert.are.equal("one path escaped: no standard error", e.mean_note)
      assert.is_nil(e.median)
      assert.are.equal("at most half of the paths escaped by the horizon: the median escape "
        .. "step is beyond it", e.median_note)
      local none = stats.escape_summary({ -1, -1 }, 5)
      assert.are.equal(0, none.escaped)
      assert.are.equal(5, none.mean_censored)
      assert.is_nil(none.mean)
      assert.are.equal("no path escaped by the horizon", none.mean_note)
      local few = stats.escape_summary({ 1, 2, 3 }, 5)
      assert.are.equal(2, few.median)
      assert.is_nil(few.median_lo)
      assert.are.equal("too few paths for a distribution-free interval at this confidence "
        .. "level", few.median_note)
      local cens = stats.escape_summary({ 3, -1, 1, 3, 7, -1, 2, 12 }, 10)
      assert.are.equal(5, cens.median)
      assert.are.equal(1, cens.median_lo)
      assert.is_nil(cens.median_hi)
      assert.are.equal("the upper confidence limit of the median is beyond the horizon",
        cens.median_note)
    end)

    it("counts steps beyond the horizon as not escaped by it", function()
      local _, S = stats.survival({ 2, 9, -1, 4 }, 5)
      assert.are.same({ 1, 1, 0.75, 0.75, 0.5, 0.5 }, S:totable())
      assert.are.equal(2, stats.escape_summary({ 2, 9, -1, 4 }, 5).escaped)
    end)

    it("summarise a result over the paths with an escape outcome, counting the others", function()
      local hasme = require "hasme"
      local r = hasme.simulate { objective = hasme.wells { dim = 1 },
                                 noise = hasme.gaussian { sigma = 1.2 }, method = "hasme",
                                 eta = 0.15, steps = 40, x0 = { -1 }, paths = 3001, seed = 77,
                                 escape = hasme.escape.halfspace({ 1 }, 0.5), on_domain = "record" }
      local status, all, kept = r:escape_status(), r:escape_steps(), {}
      for i = 1, #all do
        if status[i] ~= "undefined" then kept[#kept + 1] = all[i] end
      end
      assert(#kept < 3001 and r.undefined > 0)
      local e, ref = stats.escape_summary(r, 30, 0.9), stats.escape_summary(kept, 30, 0.9)
      for k, v in pairs(ref) do assert.are.equal(v, e[k], k) end
      assert.are.same({ 3001, 0, r.undefined, #kept }, { e.paths, e.diverged, e.undefined, e.n })
      -- The plain steps count undefined paths as censored: a smaller probability.
      local plain = stats.escape_summary(all, 30, 0.9)
      assert.are.equal(e.escaped, plain.escaped)
      assert.are.equal(3001, plain.n)
      assert(plain.prob < e.prob)
      assert.is_nil(plain.undefined)
      local _, S = stats.survival(r, 30)
      local _, Sref = stats.survival(kept, 30)
      assert.are.same(Sref:totable(), S:totable())
      local none = hasme.simulate { objective = hasme.quadratic { H = { { 1 } } }, eta = 0.1,
                                    steps = 1, x0 = { 0 }, paths = 1 }
      assert.has_error(function() stats.escape_summary(none, 1) end,
        "escape_summary: the run had no escape criterion")
      local dead = hasme.simulate { objective = hasme.quadratic { H = { { 30 } } }, eta = 0.1,
                                    steps = 2000, x0 = { 1 }, paths = 2, on_diverge = "record",
                                    escape = function() return false end }
      assert.has_error(function() stats.survival(dead, 5) end,
        "survival: no path has an escape outcome (2 diverged, 0 undefined)")
    end)

    it("check their arguments", function()
      assert.has_error(function() stats.survival({ 1, 0, 2 }, 5) end,
        "bad argument #1 to 'survival' (escape step at index 2 must be -1 or a positive integer (got 0))")
      assert.has_error(function() stats.escape_summary({ 2.5 }, 5) end,
        "bad argument #1 to 'escape_summary' (escape step at index 1 must be -1 or a positive integer (got 2.5))")
      assert.has_error(function() stats.survival({ 1, -2 }, 5) end,
        "bad argument #1 to 'survival' (escape step at index 2 must be -1 or a positive integer (got -2))")
      assert.has_error(function() stats.survival({ 1 }, 0) end,
        "bad argument #2 to 'survival' (horizon must be at least 1 (got 0))")
      assert.has_error(function() stats.survival({ 1 }) end,
        "bad argument #2 to 'survival' (integer expected, got no value)")
      assert.has_error(function() stats.escape_summary({ 1 }, 5, 0) end,
        "bad argument #3 to 'escape_summary' (confidence level must be in (0, 1) (got 0))")
      assert.has_error(function() stats.escape_summary({}, 5) end,
        "bad argument #1 to 'escape_summary' (sample is empty)")
    end)
  end)

  describe("weak_error", function()
    it("agrees with the Welch and paired t intervals", function()
      for _, c in ipairs(cases("stats_intervals.txt", "^weak_")) do
        local paired = c.paired[1] == 1
        local w = stats.weak_error(c.a, c.b, { paired = paired, conf = c.conf[1] })
        for _, f in ipairs{ "diff", "se", "dof", "lo", "hi" } do
          near(w[f], c[f][1], 1e-11, 1e-15, c.name .. " " .. f)
        end
        assert.are.equal(math.abs(w.diff), w.abs)
        assert.are.equal(math.max(math.abs(w.lo), math.abs(w.hi)), w.abs_hi)
        assert.are.equal(paired, w.paired)
        assert.are.equal(#c.a, w.na)
        assert.are.equal(#c.b, w.nb)
        assert.are.equal(paired and #c.a or #c.a + #c.b, w.n)
        assert.are.equal(c.conf[1], w.conf)
      end
    end)

    it("takes the confidence level as a number, 95% by default", function()
      local a, b = { 1, 2, 3, 4.5 }, { 0.5, 2, 2.25 }
      assert.are.same(stats.weak_error(a, b), stats.weak_error(a, b, 0.95))
      local w90 = stats.weak_error(a, b, 0.9)
      assert.is_true(w90.hi - w90.lo < stats.weak_error(a, b).hi - stats.weak_error(a, b).lo)
      assert.is_true(w90.lo < w90.diff and w90.diff < w90.hi)
    end)

    it("gives the point 0 for identical coupled samples", function()
      local w = stats.weak_error({ 1, 2, 3 }, hasme.vec{ 1, 2, 3 }, { paired = true })
      assert.are.equal(0, w.diff)
      assert.are.equal(0, w.se)
      assert.are.equal(INF, w.dof)
      assert.are.equal(0, w.lo)
      assert.are.equal(0, w.hi)
    end)

    it("checks its arguments", function()
      assert.has_error(function() stats.weak_error({ 1 }, { 1, 2 }) end,
        "bad argument #1 to 'weak_error' (at least 2 values needed (got 1))")
      assert.has_error(function() stats.weak_error({ 1, 2, 3 }, { 1, 2 }, { paired = true }) end,
        "bad argument #2 to 'weak_error' (paired samples must have equal lengths (got 3 and 2))")
      assert.has_error(function() stats.weak_error({ 1, 2 }, { 1, 2 }, { pair = true }) end,
        "bad argument #3 to 'weak_error' (unknown option 'pair' (valid: 'conf' or 'paired'))")
      assert.has_error(function() stats.weak_error({ 1, 2 }, { 1, 2 }, { paired = 1 }) end,
        "bad argument #3 to 'weak_error' (field 'paired': boolean expected, got number)")
      assert.has_error(function() stats.weak_error({ 1, 2 }, { 1, 2 }, { conf = 2 }) end,
        "bad argument #3 to 'weak_error' (field 'conf': confidence level must be in (0, 1) (got 2))")
      assert.has_error(function() stats.weak_error({ 1, 2 }, { 1, 2 }, 1.5) end,
        "bad argument #3 to 'weak_error' (confidence level must be in (0, 1) (got 1.5))")
      assert.has_error(function() stats.weak_error({ 1, 2 }, { 1, INF }) end,
        "bad argument #2 to 'weak_error' (non-finite value at index 2 (got inf))")
    end)
  end)

  describe("loglog_fit", function()
    it("agrees with weighted least squares in numpy and the t quantile", function()
      for _, c in ipairs(cases("stats_intervals.txt", "^loglog_")) do
        local f = stats.loglog_fit(c.x, c.y, c.se_y)
        for _, k in ipairs{ "slope", "intercept", "slope_se", "intercept_se", "slope_lo",
          "slope_hi", "r2" } do
          near(f[k], c[k][1], 1e-12, 1e-15, c.name .. " " .. k)
        end
        assert.are.equal(#c.x, f.n)
        assert.are.equal(#c.x - 2, f.dof)
      end
    end)

    it("recovers an exact power law and takes hasme.Vec", function()
      local x = hasme.vec{ 0.1, 0.05, 0.025, 0.0125 }
      local y = {}
      for i = 1, #x do y[i] = 3 * x[i] ^ 1.5 end
      local f = stats.loglog_fit(x, hasme.vec(y))
      near(f.slope, 1.5, 1e-13)
      near(f.intercept, math.log(3), 1e-13)
      near(f.r2, 1, 1e-14)
      assert.is_true(f.slope_se < 1e-12)
    end)

    it("fits two points exactly, without error estimates", function()
      local f = stats.loglog_fit({ 1, 10 }, { 2, 200 })
      near(f.slope, 2, 1e-15)
      near(f.intercept, math.log(2), 1e-15)
      assert.are.equal(0, f.dof)
      assert.is_nil(f.slope_se)
      assert.is_nil(f.slope_lo)
    end)

    it("checks its arguments", function()
      assert.has_error(function() stats.loglog_fit({ 1, 2, 3 }, { 1, 0, 2 }) end,
        "bad argument #2 to 'loglog_fit' (value at index 2 must be positive (got 0))")
      assert.has_error(function() stats.loglog_fit({ 1, -2, 3 }, { 1, 1, 2 }) end,
        "bad argument #1 to 'loglog_fit' (value at index 2 must be positive (got -2))")
      assert.has_error(function() stats.loglog_fit({ 1, 2, 3 }, { 1, 2 }) end,
        "bad argument #2 to 'loglog_fit' (length 2 does not match length 3 of x)")
      assert.has_error(function() stats.loglog_fit({ 1, 2 }, { 1, 2 }, { 1 }) end,
        "bad argument #3 to 'loglog_fit' (length 1 does not match length 2 of x)")
      assert.has_error(function() stats.loglog_fit({ 1 }, { 1 }) end,
        "bad argument #1 to 'loglog_fit' (at least 2 points needed (got 1))")
      assert.has_error(function() stats.loglog_fit({ 2, 2, 2 }, { 1, 2, 3 }) end,
        "bad argument #1 to 'loglog_fit' (all x values are equal: no slope to fit)")
      assert.has_error(function() stats.loglog_fit({ 1, 2 }, { 1, NAN }) end,
        "bad argument #2 to 'loglog_fit' (non-finite value at index 2 (got nan))")
      assert.has_error(function() stats.loglog_fit({ 1, 2 }, { 1, 2 }, { 1, 0 }) end,
        "bad argument #3 to 'loglog_fit' (value at index 2 must be positive (got 0))")
      assert.has_error(function() stats.loglog_fit("x", { 1 }) end,
        "bad argument #1 to 'loglog_fit' (vector expected (hasme.Vec or table of numbers), got string)")
      assert.has_error(function() stats.loglog_fit({}, { 1 }) end,
        "bad argument #1 to 'loglog_fit' (sample is empty)")
      assert.has_error(function() stats.loglog_fit({ 1, "a" }, { 1, 2 }) end,
        "bad argument #1 to 'loglog_fit' (number expected at index 2, got string)")
      assert.has_error(function() stats.loglog_fit(hasme.mat{ { 1 } }, { 1 }) end,
        "bad argument #1 to 'loglog_fit' (vector expected (hasme.Vec or table of numbers), got hasme.Mat)")
    end)
  end)
end)
