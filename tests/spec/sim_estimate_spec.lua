-- sim_estimate_spec.lua: the announcement of long runs on stderr (estimate_after), from
-- the rate over a run's first second, checked on a child process so that its stderr
-- can be read. The run lasts a few seconds: the pilot is its first second.

-- Run a simulate call of `steps` steps (default 2e6, a few seconds) with the extra
-- option text opt in a child; its stderr alone.
local U = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "spec_util.lua")
local pwd, ROOT, BUILD, BIN = U.pwd, U.ROOT, U.BUILD, U.BIN
local function stderr_of(opt, steps)
  local script = ([[
local hasme = require "hasme"
hasme.simulate { objective = hasme.quadratic { H = { { 1.3, 0.2 }, { 0.2, 0.7 } } },
                 noise = hasme.gaussian { sigma = 0.4 }, method = "sme1", integrator = "euler",
                 substeps = 1, eta = 0.05, steps = STEPS, x0 = { 1, -1 }, paths = 64, seed = 9,
                 threads = 1 OPT }
]]):gsub("STEPS", tostring(steps or 2000000)):gsub("OPT", opt)
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write(script)
  f:close()
  local p = assert(io.popen(("env -u LUA_INIT -u LUA_INIT_5_4 %s %s 2>&1 >/dev/null"):format(BIN, path)))
  local out = p:read("a")
  p:close()
  os.remove(path)
  return out
end

describe("hasme.simulate estimate_after", function()
  it("announces a run estimated to last longer, with its size and measured rate", function()
    -- 3.84e8 path-steps: about 3 s on an idle machine, so the run outlasts its pilot
    local err = stderr_of(", estimate_after = 1e-6", 6000000)
    assert.truthy(err:match("^simulate: about [%d.]+ %a+ more %(3%.8e8 path%-steps at [%d.e]+/s, "
      .. "measured over the first [%d.]+ s%); Ctrl%-C stops it\n$"), err)
  end)

  it("stays silent below the threshold, with false, and unset when stderr is no terminal", function()
    assert.are.equal("", stderr_of("", 20000))
    assert.are.equal("", stderr_of(", estimate_after = false", 20000))
    assert.are.equal("", stderr_of(", estimate_after = 3600"))
  end)

  it("checks the option", function()
    local hasme = require "hasme"
    local function sim(v)
      return function()
        hasme.simulate { objective = hasme.quadratic { H = { { 1 } } }, eta = 0.1, steps = 1,
                         x0 = { 0 }, estimate_after = v }
      end
    end
    local PRE = "bad argument #1 to 'simulate' (field 'estimate_after': "
    assert.has_error(sim(0), PRE .. "must be a positive number of seconds (got 0))")
    assert.has_error(sim(-2.5), PRE .. "must be a positive number of seconds (got -2.5))")
    assert.has_error(sim(math.huge), PRE .. "must be a positive number of seconds (got inf))")
    assert.has_error(sim("60"), PRE .. "number of seconds or false expected, got string)")
    assert.has_error(sim(true), PRE .. "number of seconds or false expected, got boolean)")
  end)
end)
