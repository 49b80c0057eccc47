-- observe_spec.lua: streaming observables (the observe option of simulate and compare),
-- r:observed, r:weak_error and r:observations.
--
-- Oracles: hasme.exact_moments (closed forms of every model on a quadratic with
-- Gaussian noise) for E f(x_k), E x_i x_j and E |x_k - x_0|^2, within 5 standard errors
-- of the estimate; a Lua function of x against the same built-in (identical bits); the
-- figures of 1, 2 and 3 threads (identical bits); the paired standard error of coupled
-- methods against the unpaired one; peak memory of 10^5 and 10^6 paths in a child
-- process. Every run has a fixed seed.
local hasme = require "hasme"

local abs, sqrt = math.abs, math.sqrt

local H = { { 1.3, 0.4 }, { 0.4, 0.7 } }
local b = { 0.25, -0.5 }
local C = { { 0.5, 0.1 }, { 0.1, 0.3 } }
local x0 = { 1.5, -0.75 }

local function quad() return hasme.quadratic { H = H, b = b } end
local function gauss() return hasme.gaussian { cov = C } end

-- E f(x), E x_i x_j and E |x - x0|^2 under N(m, S), f(x) = 1/2 x'Hx + b'x.
local function closed(m, S)
  local m1, m2 = m[1], m[2]
  local S11, S12, S22 = S[1][1], S[1][2], S[2][2]
  local ef = 0.5 * (H[1][1] * (S11 + m1 * m1) + 2 * H[1][2] * (S12 + m1 * m2)
    + H[2][2] * (S22 + m2 * m2)) + b[1] * m1 + b[2] * m2
  return {
    value = ef,
    x1 = m1,
    x1x2 = S12 + m1 * m2,
    x2x2 = S22 + m2 * m2,
    dist2 = S11 + S22 + (m1 - x0[1]) ^ 2 + (m2 - x0[2]) ^ 2,
  }
end

describe("observe: means and standard errors", function()
  for _, method in ipairs { "sgd", "sme1", "sme2", "hasme" } do
    it("match the closed forms of " .. method .. " within 5 SE #slow", function()
      local eta, k = 0.2, 6
      local r = hasme.simulate {
        objective = quad(), noise = gauss(), method = method, eta = eta, steps = 2 * k,
        x0 = x0, paths = 40000, seed = 31, record = { k, 2 * k },
        observe = { "value", "x1", "x1x2", "x2x2", "dist2" },
      }
      for _, step in ipairs { k, 2 * k } do
        local m, S = hasme.exact_moments { objective = quad(), noise = gauss(),
          method = method, eta = eta, x0 = x0, step = step }
        local want = closed(m:totable(), S:totable())
        for name, w in pairs(want) do
          local mean, se = r:observed(name, step)
          assert.is_true(se > 0, name)
          assert.is_true(abs(mean - w) <= 5 * se,
            ("%s %s step %d: %.6g vs %.6g (se %.3g)"):format(method, name, step, mean, w, se))
        end
      end
    end)
  end

  it("gives the standard error of the sample mean", function()
    local r = hasme.simulate { objective = quad(), noise = gauss(), eta = 0.1, steps = 5,
      x0 = x0, paths = 2000, seed = 5, observe = { "x1" }, snapshots = true }
    local v = r:values(5, function(x) return x[1] end)
    local n, s = #v, 0
    for i = 1, n do s = s + v[i] end
    local m, q = s / n, 0
    for i = 1, n do q = q + (v[i] - m) ^ 2 end
    local mean, se = r:observed("x1")
    assert.is_true(abs(mean - m) <= 1e-13)
    assert.is_true(abs(se - sqrt(q / (n - 1) / n)) <= 1e-12 * se)
  end)
end)

describe("observe: reproducibility", function()
  local wells = function() return hasme.wells { dim = 2, Q = { { 0.2, 0.1 }, { 0.1, 0.3 } } } end
  local function run(threads, fn)
    return hasme.simulate { objective = wells(), noise = hasme.gaussian { sigma = 0.6 },
      method = "hasme", eta = 0.05, steps = 20, substeps = 2, x0 = { -1, 0.5 },
      paths = 3001, seed = 77, threads = threads, record = { 10, 20 },
      observe = { "value", "x1x2", g = fn } }
  end
  local g = function(x) return x[1] * x[2] end

  it("gives the same bits with 1, 2 and 3 threads", function()
    local a, b2, c = run(1, g), run(2, g), run(3, g)
    for _, name in ipairs { "value", "x1x2", "g" } do
      for _, k in ipairs { 10, 20 } do
        local m1, s1 = a:observed(name, k)
        local m2, s2 = b2:observed(name, k)
        local m3, s3 = c:observed(name, k)
        assert.are.equal(m1, m2)
        assert.are.equal(m1, m3)
        assert.are.equal(s1, s2)
        assert.are.equal(s1, s3)
      end
    end
  end)

  it("gives a Lua function of x the same bits as the built-in", function()
    local r = run(2, g)
    local m1, s1 = r:observed("x1x2")
    local m2, s2 = r:observed("g")
    assert.are.equal(m1, m2)
    assert.are.equal(s1, s2)
  end)

  it("computes the network's output at an input", function()
    local X, y = {}, {}
    for i = 1, 8 do X[i] = { -1 + 2 * (i - 0.5) / 8 }; y[i] = math.sin(X[i][1]) end
    local net = hasme.nn { X = X, y = y, hidden = 2 }
    local d = net:dim()
    local th = {}
    for i = 1, d do th[i] = 0.3 * math.cos(i) end
    local xin = 0.35
    -- theta = (W1 (2 x 1), b1 (2), w2 (2), b2)
    local out = function(t)
      return t[5] * math.tanh(t[1] * xin + t[3]) + t[6] * math.tanh(t[2] * xin + t[4]) + t[7]
    end
    local r = hasme.simulate { objective = net, noise = hasme.gaussian { sigma = 0.1 },
      eta = 0.1, steps = 3, x0 = th, paths = 500, seed = 3,
      observe = { out = { output = { xin } }, lua = out } }
    local m1, s1 = r:observed("out")
    local m2, s2 = r:observed("lua")
    assert.is_true(abs(m1 - m2) <= 1e-14 and abs(s1 - s2) <= 1e-14)
  end)
end)

describe("observe: paired weak errors under compare", function()
  local function cmp(methods, paths)
    return hasme.compare {
      methods = methods, objective = hasme.wells { dim = 2 },
      noise = hasme.gaussian { sigma = 0.5 }, eta = 0.05, steps = 20, substeps = 4,
      x0 = { -0.8, 0.6 }, paths = paths or 4000, seed = 11,
      observe = { "value", "x1" },
    }
  end

  it("pairs each method with the first: diff is the difference of means", function()
    local res = cmp { "sgd", "sme1", "sme2" }
    for _, m in ipairs { "sme1", "sme2" } do
      local d, se = res[m]:weak_error("value")
      local a = res[m]:observed("value")
      local r0 = res.sgd:observed("value")
      assert.is_true(abs(d - (a - r0)) <= 1e-12)
      assert.is_true(se > 0)
    end
    local d0, s0 = res.sgd:weak_error("x1")
    assert.are.equal(0, d0)
    assert.are.equal(0, s0)
  end)

  it("runs each method as simulate does with coupled = true (same bits)", function()
    local res = cmp({ "sgd", "sme2" }, 700)
    for _, m in ipairs { "sgd", "sme2" } do
      local r = hasme.simulate { method = m, objective = hasme.wells { dim = 2 },
        noise = hasme.gaussian { sigma = 0.5 }, eta = 0.05, steps = 20, substeps = 4,
        x0 = { -0.8, 0.6 }, paths = 700, seed = 11, coupled = true,
        observe = { "value", "x1" } }
      local a, sa = res[m]:observed("value")
      local b, sb = r:observed("value")
      assert.are.equal(a, b)
      assert.are.equal(sa, sb)
    end
  end)

  it("has a paired se much smaller than the unpaired one for coupled methods", function()
    local res = cmp { "sgd", "sme1" }
    local _, se_paired = res.sme1:weak_error("x1")
    local _, sa = res.sgd:observed("x1")
    local _, sb = res.sme1:observed("x1")
    local unpaired = sqrt(sa * sa + sb * sb)
    assert.is_true(se_paired < 0.2 * unpaired,
      ("paired %.3g vs unpaired %.3g"):format(se_paired, unpaired))
  end)

  it("takes the reference from the reference option", function()
    local res = hasme.compare { methods = { "sgd", "sme1", "sme2" },
      objective = hasme.wells { dim = 2 }, noise = hasme.gaussian { sigma = 0.5 },
      eta = 0.05, steps = 10, substeps = 2, x0 = { -0.8, 0.6 }, paths = 800, seed = 2,
      observe = { "x1" }, reference = "sme1" }
    local d = res.sgd:weak_error("x1")
    assert.is_true(abs(d - (res.sgd:observed("x1") - res.sme1:observed("x1"))) <= 1e-12)
    assert.are.equal(0, (res.sme1:weak_error("x1")))
  end)

  it("gives the same bits with 1 and 3 threads", function()
    local a = hasme.compare { methods = { "sgd", "hasme" }, objective = hasme.wells { dim = 2 },
      noise = hasme.gaussian { sigma = 0.5 }, eta = 0.05, steps = 8, substeps = 2,
      x0 = { -0.8, 0.6 }, paths = 1500, seed = 8, threads = 1, observe = { "value" } }
    local b = hasme.compare { methods = { "sgd", "hasme" }, objective = hasme.wells { dim = 2 },
      noise = hasme.gaussian { sigma = 0.5 }, eta = 0.05, steps = 8, substeps = 2,
      x0 = { -0.8, 0.6 }, paths = 1500, seed = 8, threads = 3, observe = { "value" } }
    local d1, s1 = a.hasme:weak_error("value")
    local d2, s2 = b.hasme:weak_error("value")
    assert.are.equal(d1, d2)
    assert.are.equal(s1, s2)
    assert.are.equal(3, b.hasme.threads)
  end)

  it("rejects a reference that is not one of the methods, and one without observe", function()
    local o = { methods = { "sgd", "sme1" }, objective = hasme.wells { dim = 2 },
      noise = hasme.gaussian { sigma = 0.5 }, eta = 0.05, steps = 2, x0 = { 0, 0 },
      paths = 10, observe = { "x1" }, reference = "hasme" }
    assert.has_error(function() hasme.compare(o) end,
      "bad argument #1 to 'compare' (field 'reference': 'hasme' is not one of the methods)")
    o.observe, o.reference = nil, "sgd"
    assert.has_error(function() hasme.compare(o) end,
      "bad argument #1 to 'compare' (field 'reference': paired differences need observe)")
  end)

  it("names the method whose run failed", function()
    local ok, msg = pcall(hasme.compare, { methods = { "sgd", "hasme" },
      objective = hasme.quadratic { H = { { 12 } } }, eta = 0.1, steps = 3, x0 = { 1 },
      paths = 20, observe = { "x1" }, integrator = "euler" })
    assert.is_false(ok)
    assert.is_truthy(msg:find("compare: method 'hasme': HA-SME is undefined", 1, true), msg)
  end)

  it("lists every figure with observations()", function()
    local res = cmp({ "sgd", "sme2" }, 500)
    local rows = res.sme2:observations()
    assert.are.equal(2, #rows)
    assert.are.equal("value", rows[1].name)
    assert.are.equal("x1", rows[2].name)
    assert.are.equal(20, rows[1].step)
    assert.are.equal(500, rows[1].n)
    assert.are.equal("sgd", rows[1].reference)
    local d, se = res.sme2:weak_error("x1")
    assert.are.equal(d, rows[2].weak_error)
    assert.are.equal(se, rows[2].weak_error_se)
  end)
end)

describe("observe: snapshots and memory", function()
  it("keeps no snapshots unless asked", function()
    local r = hasme.simulate { objective = quad(), noise = gauss(), eta = 0.1, steps = 5,
      x0 = x0, paths = 100, seed = 1, observe = { "x1" } }
    assert.has_error(function() r:mean() end,
      "mean: the run kept no snapshots (pass snapshots = true to keep them with observe)")
    local s = hasme.simulate { objective = quad(), noise = gauss(), eta = 0.1, steps = 5,
      x0 = x0, paths = 100, seed = 1, observe = { "x1" }, snapshots = true }
    assert.is_true(abs(s:mean()[1] - s:observed("x1")) <= 1e-14)
  end)

  it("needs no memory per path (peak RSS of 10^5 and 10^6 paths) #slow", function()
    local exe = (os.getenv("HASME_BUILD") or "build") .. "/hasme"
    local code = [[
      local hasme = require "hasme"
      local n = tonumber(arg[1])
      local r = hasme.simulate { objective = hasme.wells { dim = 10 },
        noise = hasme.gaussian { sigma = 0.3 }, method = "sgd", eta = 0.05, steps = 4,
        x0 = hasme.linspace(-1, 1, 10), paths = n, seed = 9, threads = 2,
        observe = { "value", "dist2" } }
      for line in io.lines("/proc/self/status") do
        local kb = line:match("^VmHWM:%s*(%d+)")
        if kb then print(kb) end
      end]]
    local tmp = os.tmpname()
    local f = assert(io.open(tmp, "w"))
    f:write(code)
    f:close()
    local function peak(n)
      local p = assert(io.popen(exe .. " " .. tmp .. " " .. n))
      local out = p:read("a")
      p:close()
      return assert(tonumber(out:match("(%d+)"))) * 1024
    end
    local a, c = peak(100000), peak(1000000)
    os.remove(tmp)
    -- the snapshots alone would be 80 MB at 10^6 paths in d = 10
    assert.is_true(c - a < 4e6, ("peak %.1f MB vs %.1f MB"):format(a / 1e6, c / 1e6))
  end)
end)

describe("observe: errors", function()
  local base = function(extra)
    local o = { objective = quad(), noise = gauss(), eta = 0.1, steps = 5, x0 = x0,
                paths = 50, seed = 1 }
    for k, v in pairs(extra) do o[k] = v end
    return o
  end

  it("rejects an unknown built-in", function()
    assert.has_error(function() hasme.simulate(base { observe = { loss = "values" } }) end,
      "bad argument #1 to 'simulate' (field 'observe': unknown built-in 'values' for 'loss' "
      .. "(expected 'value', 'dist2', 'x<i>', 'x<i>x<j>', {output = input} or a function of x))")
  end)

  it("rejects a coordinate beyond the dimension", function()
    assert.has_error(function() hasme.simulate(base { observe = { "x1x3" } }) end,
      "bad argument #1 to 'simulate' (field 'observe': 'x1x3' for 'x1x3' names coordinate 3 "
      .. "of a 2-dimensional state)")
  end)

  it("rejects a name used twice", function()
    assert.has_error(function() hasme.simulate(base { observe = { "value", value = "dist2" } }) end,
      "bad argument #1 to 'simulate' (field 'observe': name 'value' used twice)")
    assert.has_error(function() hasme.simulate(base { observe = { "x1", "x1" } }) end,
      "bad argument #1 to 'simulate' (field 'observe': name 'x1' used twice)")
  end)

  it("rejects an output observable on an objective that is not a network", function()
    assert.has_error(function() hasme.simulate(base { observe = { o = { output = { 1 } } } }) end,
      "bad argument #1 to 'simulate' (field 'observe': {output = ...} for 'o' needs a "
      .. "network objective (hasme.nn))")
  end)

  it("names the path and step of a function returning a non-number", function()
    local g = function(x) if x[1] > 0 then return "big" end return x[1] end
    assert.has_error(function() hasme.simulate(base { observe = { g = g }, threads = 1 }) end)
    local ok, msg = pcall(hasme.simulate, base { observe = { g = g }, threads = 1 })
    assert.is_false(ok)
    assert.is_truthy(msg:find("simulate: error in observable 'g' at path %d+, step 5: "
      .. "returned string, expected a number"))
  end)

  it("names the path and step of a function that raises", function()
    local g = function(x) if x[1] > 0 then error("no positive x1", 0) end return x[1] end
    local ok, msg = pcall(hasme.simulate, base { observe = { g = g }, threads = 1 })
    assert.is_false(ok)
    assert.is_truthy(msg:find("simulate: error in observable 'g' at path %d+, step 5: no positive x1$"),
      msg)
  end)

  it("names the path and step of a function returning NaN", function()
    local g = function(x) if x[2] > -0.7 then return 0 / 0 end return x[2] end
    local ok, msg = pcall(hasme.simulate, base { observe = { g = g }, threads = 1 })
    assert.is_false(ok)
    assert.is_truthy(msg:find("simulate: observable 'g' returned [-]?nan at path %d+, step 5"), msg)
  end)

  it("rejects a step that was not recorded and an unknown name", function()
    local r = hasme.simulate(base { observe = { "x1" }, record = { 2, 5 } })
    assert.has_error(function() r:observed("x1", 3) end,
      "bad argument #2 to 'observed' (step 3 was not recorded (recorded: 2, 5))")
    assert.has_error(function() r:observed("x2") end,
      "bad argument #1 to 'observed' (no observable named 'x2' (observed: x1))")
  end)

  it("has no weak error outside compare", function()
    local r = hasme.simulate(base { observe = { "x1" } })
    assert.has_error(function() r:weak_error("x1") end,
      "weak_error: the run has no reference method (paired differences come from "
      .. "hasme.compare with observe)")
  end)

  it("has no observed figures without observe", function()
    local r = hasme.simulate(base {})
    assert.has_error(function() r:observed("x1") end,
      "observed: the run had no observe option")
  end)
end)
