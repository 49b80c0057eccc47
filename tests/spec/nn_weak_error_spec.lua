-- The shipped experiment nn_weak_error at a tiny size, through `hasme run`: its tables
-- are there and agree with one another (the extrapolated value is the Euler value
-- minus its dt bias; the dt_check table repeats the main table's values and takes the
-- remaining bias from them; resolved means the interval excludes zero; the sweep
-- raises L by the L2 coefficient).
local H = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "runner_helpers.lua")
local json = require "hasme.json"

local function table_of(dir, name)
  local t = json.decode(H.readfile(dir .. "/" .. name .. ".json"))
  local col = {}
  for i, c in ipairs(t.columns) do col[c] = i end
  local rows = {}
  for _, r in ipairs(t.rows) do
    local row = {}
    for c, i in pairs(col) do row[c] = r[i] end
    rows[#rows + 1] = row
  end
  return rows
end

local function close(a, b, rel)
  return math.abs(a - b) <= rel * math.max(math.abs(a), math.abs(b), 1e-300)
end

describe("nn_weak_error at a tiny size", function()
  local dir, status, stderr
  setup(function()
    dir = H.tmpdir()
    status, _, stderr = H.run({ H.ROOT .. "/experiments/nn_weak_error.lua", "--quiet",
      "--out", dir .. "/out", "--set", "pilot=300", "--set", "min_paths=1000",
      "--set", "max_paths=1000", "--set", "etas=0.4,0.2", "--set", "dt=0.05",
      "--set", "decays=0,30", "--set", "sweep_paths=300" })
    dir = dir .. "/out"
  end)
  teardown(function() H.rmtree(dir:gsub("/out$", "")) end)

  it("runs and writes every table", function()
    assert.are.equal(0, status, stderr)
    for _, name in ipairs { "paths", "weak_error", "dt_check", "noise_shape", "orders",
                            "smoothness", "growth" } do
      assert.is_true(H.exists(dir .. "/" .. name .. ".json"), name)
    end
  end)

  it("weak_error: euler - dt_bias = diff, the interval and 'resolved' agree", function()
    local rows = table_of(dir, "weak_error")
    assert.are.equal(3 * 2 * 4, #rows)   -- observables x etas x models
    for _, r in ipairs(rows) do
      assert.are.equal(1000, r.paths)   -- min_paths = max_paths
      assert.is_true(r.lo <= r.diff and r.diff <= r.hi, r.model)
      assert.is_true(close(r.hi - r.diff, 1.959963984540054 * r.se, 1e-9))
      assert.are.equal((r.lo > 0 or r.hi < 0) and "yes" or "no", r.resolved)
      if r.model == "SVAG" then
        assert.are.equal(0, r.dt_bias)   -- a recursion, not integrated: no correction
      else
        assert.is_true(close(r.euler - r.dt_bias, r.diff, 1e-9), r.model)
        assert.is_true(r.dt_bias_se > 0)
      end
    end
  end)

  it("dt_check repeats the main table's values and takes the remaining bias from them",
     function()
    local main = {}
    for _, r in ipairs(table_of(dir, "weak_error")) do
      main[r.observable .. "|" .. r.eta .. "|" .. r.model] = r
    end
    local rows = table_of(dir, "dt_check")
    assert.are.equal(3 * 2 * 3, #rows)   -- SVAG has no dt
    for _, r in ipairs(rows) do
      local m = main[r.observable .. "|" .. r.eta .. "|" .. r.model]
      assert.is_truthy(m)
      assert.are.equal(m.diff, r.diff_dt)
      assert.is_true(close(r.remaining, (r.diff_2dt - r.diff_dt) / 3, 1e-12))
      assert.is_true(r.se >= m.se / 3)   -- includes the fine run's se
      assert.is_true(close(r.bound, math.abs(r.remaining) + 1.959963984540054 * r.se, 1e-9))
    end
  end)

  it("the sweep raises L by about the L2 coefficient", function()
    local L = {}
    for _, r in ipairs(table_of(dir, "smoothness")) do L[r.decay] = r.L end
    assert.is_true(L[30] > L[0] + 25 and L[30] < L[0] + 35, ("%g %g"):format(L[0], L[30]))
  end)
end)
