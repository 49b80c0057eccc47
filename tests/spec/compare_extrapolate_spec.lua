-- compare_extrapolate_spec.lua: hasme.compare{..., observe = ..., integrator =
-- "extrapolate"}: every SDE method runs twice per chunk of paths, with dt = eta/m and
-- 2 dt on the same normals, and its streamed figures are those of the per-path
-- estimator 2 g(fine) - g(coarse) (Talay-Tubaro), so the weak error against the
-- reference and its standard error are exact paired figures, and r:dt_bias gives the
-- correction g(fine) - g(coarse) with its own standard error.
--
-- Oracles: the same figures from two plain compares (the fine run with m substeps and
-- the coarse one with m/2, both driven by the same m normal vectors per step) and
-- their snapshots, path by path. These are the runs of hasme.simulate{integrator =
-- "extrapolate"}, whose order in dt weak2_spec.lua measures.
local hasme = require "hasme"

local abs, sqrt = math.abs, math.sqrt

local mean_se = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./")
                      .. "sim_helpers.lua").mean_se

local W = hasme.wells { dim = 2 }
local function run(extra)
  local o = { methods = { "sgd", "sme1", "sme2", "hasme" }, objective = W,
              noise = hasme.gaussian { sigma = 0.5 }, eta = 0.1, steps = 6,
              x0 = { -0.8, 0.3 }, paths = 3000, seed = 21, record = { 3, 6 },
              observe = { loss = "value", d2 = "dist2" } }
  for k, v in pairs(extra) do o[k] = v end
  return hasme.compare(o)
end

describe("compare with integrator = 'extrapolate'", function()
  local ex = run { substeps = 4, integrator = "extrapolate" }
  local fine = run { substeps = 4, coupled = 4, snapshots = true }
  local coarse = run { substeps = 2, coupled = 4, snapshots = true }

  it("gives SGD's figures unchanged and says which methods were extrapolated", function()
    local a, sa = ex.sgd:observed("loss", 6)
    local b, sb = fine.sgd:observed("loss", 6)
    assert.are.equal(b, a)
    assert.are.equal(sb, sa)
    assert.are.equal("discrete", ex.sgd.integrator)
    for _, m in ipairs { "sme1", "sme2", "hasme" } do
      local i = ex[m]:info()
      assert.are.equal("extrapolate", i.integrator)
      assert.are.equal(4, i.substeps)
      assert.are.equal(2, i.coarse_substeps)
      assert.are.equal(0, i.coarse_undefined)
    end
  end)

  it("equals 2 fine - coarse of two plain runs, with the paired standard errors of "
     .. "the per-path estimator", function()
    for _, m in ipairs { "sme1", "sme2", "hasme" } do
      for _, k in ipairs { 3, 6 } do
        local vs = fine.sgd:values(k)
        local vf, vc = fine[m]:values(k), coarse[m]:values(k)
        local est, dif, cor = {}, {}, {}
        for i = 1, #vf do
          est[i] = 2 * vf[i] - vc[i]
          dif[i] = est[i] - vs[i]
          cor[i] = vf[i] - vc[i]
        end
        local m1, s1 = mean_se(est)
        local m2, s2 = mean_se(dif)
        local m3, s3 = mean_se(cor)
        local o, so = ex[m]:observed("loss", k)
        local w, sw = ex[m]:weak_error("loss", k)
        local b, sb = ex[m]:dt_bias("loss", k)
        -- the same sums, formed in another order: agreement to rounding
        assert.is_true(abs(o - m1) <= 1e-12 * abs(m1), m .. " mean")
        assert.is_true(abs(so - s1) <= 1e-9 * s1, m .. " se")
        assert.is_true(abs(w - m2) <= 1e-12 * abs(m1), m .. " weak error")
        assert.is_true(abs(sw - s2) <= 1e-9 * s2, m .. " weak error se")
        assert.is_true(abs(b - m3) <= 1e-12 * abs(m1), m .. " dt_bias")
        assert.is_true(abs(sb - s3) <= 1e-9 * s3, m .. " dt_bias se")
        -- and the plain runs' streamed figures combine to the same means
        local mf = fine[m]:observed("loss", k)
        local mc = coarse[m]:observed("loss", k)
        assert.is_true(abs(o - (2 * mf - mc)) <= 1e-12 * abs(m1), m .. " 2 mf - mc")
        -- the pairing pays: the exact se is far below the bound 2 se_f + se_c
        local _, sf = fine[m]:weak_error("loss", k)
        local _, sc = coarse[m]:weak_error("loss", k)
        assert.is_true(sw < 2 * sf + sc, m .. " se below the bound")
      end
    end
  end)

  it("lists dt_bias in r:observations() of the extrapolated methods only", function()
    local rows = ex.hasme:observations()
    assert.are.equal(4, #rows)
    for _, row in ipairs(rows) do
      local b, sb = ex.hasme:dt_bias(row.name, row.step)
      assert.are.equal(b, row.dt_bias)
      assert.are.equal(sb, row.dt_bias_se)
    end
    for _, row in ipairs(ex.sgd:observations()) do assert.is_nil(row.dt_bias) end
  end)

  it("refuses what it cannot do, naming the option", function()
    local base = { methods = { "sgd", "sme1" }, objective = hasme.quadratic { H = { { 1 } } },
                   eta = 0.1, steps = 2, x0 = { 1 }, observe = { x = "x1" },
                   integrator = "extrapolate" }
    local function with(k, v)
      local o = {}
      for a, b in pairs(base) do o[a] = b end
      o[k] = v
      return o
    end
    local ok, err = pcall(hasme.compare, with("substeps", 3))
    assert.is_false(ok)
    assert.matches("field 'substeps': integrator 'extrapolate' needs an even number", err)
    ok, err = pcall(hasme.compare, with("escape", hasme.escape.halfspace({ 1 }, 2)))
    assert.is_false(ok)
    assert.matches("field 'escape': not available with integrator 'extrapolate'", err)
    ok, err = pcall(hasme.compare, with("coupled", 6))
    assert.is_false(ok)
    assert.matches("field 'coupled': 6 normal vectors per step cannot drive 10 substeps", err)
    local res = hasme.compare(base)
    ok, err = pcall(res.sgd.dt_bias, res.sgd, "x")
    assert.is_false(ok)
    assert.matches("dt_bias: method 'sgd' was not extrapolated", err)
    -- a plain compare has no dt_bias either
    base.integrator = nil
    res = hasme.compare(base)
    ok, err = pcall(res.sme1.dt_bias, res.sme1, "x")
    assert.is_false(ok)
    assert.matches("dt_bias: method 'sme1' was not extrapolated", err)
  end)

  it("counts the coarse runs' domain exits and names the coarse run when it fails", function()
    -- HA-SME leaves its domain (eta lambda >= 1) on the well's walls. With this seed
    -- one path of the coarse run (2 substeps of 0.05) leaves it and none of the fine
    -- run (4 of 0.025): recorded, the pair is dropped; as an error, the coarse run
    -- is named.
    local o = { methods = { "sgd", "hasme" }, objective = hasme.wells { dim = 1 },
                noise = hasme.gaussian { sigma = 2.5 }, eta = 0.1, steps = 10, x0 = { 0 },
                paths = 50, seed = 9, observe = { x = "x1x1" }, substeps = 2,
                integrator = "extrapolate", on_domain = "record" }
    local res = hasme.compare(o)
    local i = res.hasme:info()
    assert.are.equal(0, i.undefined)
    assert.are.equal(1, i.coarse_undefined)
    assert.are.equal(49, res.hasme:observations()[1].n)
    o.on_domain = nil
    local ok, err = pcall(hasme.compare, o)
    assert.is_false(ok)
    assert.matches("compare: method 'hasme' %(coarse run of the extrapolation%)", err)
  end)
end)
