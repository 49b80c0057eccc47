-- isa_spec.lua: the code paths (baseline, AVX2, AVX-512) the kernels are compiled
-- for: hasme.isa(), HASME_ISA forcing a path or refusing one, and the same
-- simulations giving the same bits on every path this processor supports (each run
-- in a child process, since the path is chosen when hasme loads).

local hasme = require "hasme"
local U = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "spec_util.lua")
local readfile, BIN = U.readfile, U.BIN
local PATHS = { "baseline", "avx2", "avx512" }

-- Run hasme on the Lua source code with HASME_ISA=isa (nil: unset); returns the
-- exit status, stdout and stderr.
local function run(isa, code)
  local src, out, err = os.tmpname(), os.tmpname(), os.tmpname()
  local f = assert(io.open(src, "wb"))
  f:write(code)
  f:close()
  local env = isa and ("HASME_ISA='" .. isa .. "'") or "-u HASME_ISA"
  local _, _, status = os.execute(("env -u LUA_INIT -u LUA_INIT_5_4 %s '%s' '%s' > '%s' 2> '%s'")
    :format(env, BIN, src, out, err))
  local stdout, stderr = readfile(out), readfile(err)
  os.remove(src); os.remove(out); os.remove(err)
  return status, stdout, stderr
end

-- Simulations whose hot loops run on the dispatched kernels: HA-SME in 8 dimensions
-- (the lane Jacobi solver, phi1/phi2 per eigenvalue), in one dimension with
-- substeps (the lane-batched scalar substep), SME-2 in 3 dimensions (the general
-- kernel per path) and SGD on a quadratic (the linear kernel). Every state of every
-- recorded step is printed in hexadecimal, so equal output means equal bits.
local PROBE = [[
local hasme = require "hasme"
local function emit(r)
  for _, k in ipairs(r:record_steps()) do
    local s = r:snapshot(k)
    for i = 1, s:rows() do
      for j = 1, s:cols() do io.write(("%a "):format(s[i][j])) end
      io.write("\n")
    end
  end
end
local d = 8
local Q = {}
for i = 1, d do
  Q[i] = {}
  for j = 1, d do Q[i][j] = (i == j and 0.2 or 0) + (math.abs(i - j) == 1 and 0.1 or 0) end
end
emit(hasme.simulate { objective = hasme.wells { dim = d, Q = Q },
  noise = hasme.gaussian { sigma = 0.5 }, method = "hasme", integrator = "euler",
  eta = 0.05, steps = 25, x0 = hasme.linspace(-1, 1, d), paths = 13, seed = 13,
  record = { 1, 7, 25 } })
emit(hasme.simulate { objective = hasme.wells { dim = 1 }, noise = hasme.gaussian { sigma = 2.2 },
  method = "hasme", integrator = "euler", eta = 0.05, substeps = 4, steps = 40, x0 = { -1 },
  paths = 19, seed = 12, record = { 3, 40 } })
emit(hasme.simulate { objective = hasme.rosenbrock(), noise = hasme.gaussian { sigma = 0.3 },
  method = "sme2", integrator = "euler", eta = 0.01, steps = 30, x0 = { -0.5, 0.7 },
  paths = 11, seed = 5 })
emit(hasme.simulate { objective = hasme.quadratic { H = { { 2, 0.3 }, { 0.3, -0.4 } } },
  noise = hasme.gaussian { sigma = 0.7 }, method = "sgd", eta = 0.05, steps = 30,
  x0 = { 0.5, 0.5 }, paths = 21, seed = 11 })
]]

describe("code paths", function()
  it("hasme.isa() names the active path and the processor", function()
    local isa, cpu = hasme.isa()
    assert.is_truthy(isa == "baseline" or isa == "avx2" or isa == "avx512")
    assert.is_string(cpu)
    assert.is_true(#cpu > 0)
  end)

  it("HASME_ISA with an unknown name stops hasme with a message", function()
    local status, _, err = run("sse9", "require 'hasme'")
    assert.are_not.equal(0, status)
    assert.is_truthy(err:find("HASME_ISA: unknown code path 'sse9' (expected baseline, avx2 or avx512)",
                              1, true))
  end)

  it("HASME_ISA selects each path the processor supports and refuses the others", function()
    local supported = 0
    for _, p in ipairs(PATHS) do
      local status, out, err = run(p, "print((require 'hasme').isa())")
      if status == 0 then
        supported = supported + 1
        assert.are.equal(p, out:match("^(%S+)"))
      else
        assert.is_truthy(err:find("HASME_ISA=" .. p .. ": this processor (", 1, true))
        assert.is_truthy(err:find("does not support that code path", 1, true))
      end
    end
    assert.is_true(supported >= 1)
    local status = run("baseline", "print((require 'hasme').isa())")
    assert.are.equal(0, status)   -- the baseline runs everywhere
  end)

  it("gives the same bits on every path this processor supports", function()
    local ref, ran = nil, {}
    for _, p in ipairs(PATHS) do
      local status, out, err = run(p, PROBE)
      if status == 0 then
        assert.is_true(#out > 5000, "the probe printed the snapshots")
        if ref == nil then ref = out
        else assert.are.equal(ref, out, p .. " differs from " .. ran[1]) end
        ran[#ran + 1] = p
      else
        assert.is_truthy(err:find("does not support", 1, true), err)
      end
    end
    assert.is_true(#ran >= 1)
    local default_status, default_out = run(nil, PROBE)
    assert.are.equal(0, default_status)
    assert.are.equal(ref, default_out)
  end)
end)
