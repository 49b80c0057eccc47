-- fuzz_spec.lua: a short, deterministic fuzzing campaign of the whole Lua API
-- (tools/fuzz.lua) on the build under test, plain or sanitized: no crash, no
-- sanitizer report, no hang, no error message that names neither the argument nor
-- the function. `make fuzz N=100000` runs a long campaign (docs/testing.md).
local build = os.getenv("HASME_BUILD") or "build"

-- Run the fuzzer; returns its output and whether it exited successfully.
local function fuzz(args)
  local p = assert(io.popen(string.format("%s/hasme tools/fuzz.lua --hasme %s/hasme %s 2>&1",
                                          build, build, args)))
  local out = p:read("a")
  local ok = p:close()
  return out, ok
end

describe("the fuzzer", function()
  it("finds nothing in 5,000 calls with seed 1", function()
    local out, ok = fuzz("--calls 5000 --seed 1")
    assert.matches("5000 calls over %d+ targets in %d+ s: 0 crashes, 0 sanitizer reports, 0 hangs, "
                   .. "0 unnamed messages", out)
    assert.is_true(ok, out)
  end)

  it("replays one call alone and reproduces its draw", function()
    local a = fuzz("--seed 5 --call 17")
    local b = fuzz("--seed 5 --call 17")
    assert.matches("^call 17: ", a)
    assert.are.equal(a, b)
  end)

  it("walks every function and every method and metamethod of every type", function()
    local out = fuzz("--list")
    for _, name in ipairs { "hasme.simulate", "hasme.stats.ks_sf", "hasme.escape.halfspace",
                            "hasme.json.encode", "hasme.Vec:dot", "hasme.Mat.__unm",
                            "hasme.Rng:normals", "hasme.Objective.__gc", "hasme.Noise:cov",
                            "hasme.Escape.__close", "hasme.Result.__index" } do
      assert.matches("\t" .. name:gsub("%p", "%%%0") .. "\n", out)
    end
  end)
end)
