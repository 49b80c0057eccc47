-- faults_spec.lua: allocation failure seen from Lua. A child process runs hasme calls
-- while its interpreter's allocator refuses to grow (hasme.sys.memlimit, what `hasme
-- run --memory-limit` uses), at every limit from "nothing more" up to what the call
-- needs; another runs under `ulimit -v` just above the interpreter's own need, so that
-- the big blocks (results, vectors, the core's copies of a noise) cannot be had. Every
-- call must fail with a "not enough memory" error (naming the function when the block
-- is the engine's or a large one) or succeed with the right result; no crash. Under
-- the sanitizer build the children run with LeakSanitizer, so a leak fails them too.
local U = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "spec_util.lua")
local writefile, q, BUILD = U.writefile, U.q, U.BUILD

-- Run a shell command; its output (stdout and stderr) and exit status.
local function run(cmd)
  local p = assert(io.popen(cmd .. " 2>&1; echo \"[exit $?]\""))
  local out = p:read("a")
  p:close()
  local status = tonumber(out:match("%[exit (%d+)%]%s*$"))
  return out:gsub("%[exit %d+%]%s*$", ""), status
end

local tmp = os.tmpname()
os.remove(tmp)
assert(os.execute("mkdir -p " .. q(tmp)))

-- The child of the memory-limit sweep. For each case, the limit is the state's bytes
-- in use plus `extra`, raised until the call succeeds (by 16 bytes, then by 1/16 of
-- extra); each failure's message is checked. Prints one line per case and "done".
local SWEEP = [=[
local hasme = require "hasme"
local sys = require "hasme.sys"
local H = {{2, 0.3}, {0.3, 1}}
local cases = {
  {"vec and mat", function() return hasme.vec{1, 2} + hasme.mat(H)[1] end},
  {"quadratic", function() return hasme.quadratic{H = H, b = {0.1, 0.2}} end},
  {"wells", function() return hasme.wells{dim = 2, Q = H, tilt = {0.1, 0}} end},
  {"objective with callbacks", function()
    local o = hasme.objective{dim = 2, f = function(x) return x[1]^2 + x[2]^2 end}
    return o:grad{0.3, -0.2}
  end},
  {"gaussian", function() return hasme.gaussian{cov = H} end},
  {"state noise", function()
    return hasme.gaussian{dim = 2, cov = function(x) return {{1 + x[1]^2, 0}, {0, 1}} end}
  end},
  {"minibatch", function() return hasme.minibatch{batch = 3} end},
  {"escape", function() return hasme.escape.halfspace({1, 0}, 2) end},
  {"eig and matfun", function()
    local w, V = hasme.eig(H)
    return hasme.matfun(H, function(l) return l^2 end), w, V
  end},
  {"exact_moments", function()
    return hasme.exact_moments{objective = hasme.quadratic{H = H}, noise = hasme.gaussian{
      sigma = 0.2}, method = "hasme", eta = 0.1, x0 = {1, 1}, step = 4}
  end},
  {"simulate, linear, 2 threads", function()
    local r = hasme.simulate{objective = hasme.quadratic{H = H}, noise = hasme.gaussian{
      sigma = 0.1}, method = "hasme", eta = 0.1, steps = 5, x0 = {1, 1}, paths = 64,
      seed = 3, threads = 2, record = "all"}
    return r:mean(5), r:cov(5)
  end},
  {"simulate, Lua callbacks on worker states", function()
    local o = hasme.objective{dim = 2, f = function(x) return x[1]^2 + x[2]^2 end,
                              grad = function(x) return {2 * x[1], 2 * x[2]} end}
    local nz = hasme.gaussian{dim = 2, cov = function(x) return {{1, 0}, {0, 1}} end}
    local r = hasme.simulate{objective = o, noise = nz, method = "sme1", eta = 0.1,
      steps = 3, x0 = {1, 1}, paths = 256, seed = 3, threads = 2, substeps = 40,
      escape = function(x) return x[1] > 3 end, progress = function() end}
    return r:mean(3), r:escape_steps()
  end},
  {"compare", function()
    local res = hasme.compare{methods = {"sgd", "hasme"}, objective = hasme.quadratic{H = H},
      noise = hasme.gaussian{sigma = 0.1}, eta = 0.1, steps = 4, x0 = {1, 1}, paths = 32,
      seed = 5}
    return res.hasme:mean(4), res.sgd:cov(4)
  end},
  {"stats", function()
    local x = {}
    for i = 1, 50 do x[i] = math.sin(i) end
    return hasme.stats.moments(x), hasme.stats.ks(x, hasme.vec(x) * 2)
  end},
}
local bad = 0
for _, c in ipairs(cases) do
  local name, f = c[1], c[2]
  local tries, fails, extra, named = 0, 0, 0, 0
  while true do
    collectgarbage()
    collectgarbage()
    sys.memlimit(math.floor(collectgarbage("count") * 1024) + extra)
    local ok, e = pcall(f)
    sys.memlimit(nil)
    tries = tries + 1
    if ok then break end
    fails = fails + 1
    e = tostring(e)
    if not e:find("not enough memory", 1, true) then
      bad = bad + 1
      print(("BAD %s (extra %d): %s"):format(name, extra, e))
    elseif e ~= "not enough memory" then
      named = named + 1
    end
    if tries > 2000 then print("BAD " .. name .. ": never succeeds") break end
    extra = extra + math.max(16, extra // 16)
  end
  print(("case %s: %d limits, %d refused (%d with a message of hasme's)"):format(name, tries,
    fails, named))
end
collectgarbage()
print(bad == 0 and "done" or "failed")
]=]

describe("allocation failure", function()
  it("gives every hasme call under a failing interpreter allocator a 'not enough memory' "
     .. "error or its result, never a crash", function()
    local script = tmp .. "/sweep.lua"
    writefile(script, SWEEP)
    local out, status = run(("%s %s"):format(q(BUILD .. "/hasme"), q(script)))
    assert.is_nil(out:match("BAD [^\n]*"))
    assert.are.equal(0, status, out)
    assert.truthy(out:find("\ndone\n", 1, true), out)
    -- every case met at least one refusal before it succeeded
    local n = 0
    for name, refused in out:gmatch("case ([^\n]-): %d+ limits, (%d+) refused") do
      n = n + 1
      assert.is_true(tonumber(refused) > 0, name .. " was never refused")
    end
    assert.are.equal(14, n)
  end)

  -- ulimit -v cannot be combined with the sanitizers, which reserve terabytes of
  -- address space for their shadow memory.
  local sanitized = BUILD:find("san") ~= nil
  local UL = [=[
local hasme = require "hasme"
local function try(name, f)
  local ok, e = pcall(f)
  print(("%s: %s"):format(name, ok and "ok" or tostring(e)))
end
local I4 = {{2, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}}
-- the results of a run (122 MiB): the engine's block
try("results", function()
  return hasme.simulate{objective = hasme.quadratic{H = I4}, method = "sgd", eta = 0.1,
    steps = 2, x0 = {1, 1, 1, 1}, paths = 4000000, seed = 1, threads = 1}
end)
-- a vector of 256 MiB: the interpreter's block
try("vec", function() return hasme.vec(2^25) end)
-- a covariance of 17 MiB whose copies and factor (the core's) do not fit
try("noise", function()
  local m = hasme.mat(1500, 1500)
  for i = 1, 1500 do m[i][i] = 1 end
  return hasme.gaussian{cov = m}
end)
-- a small run on two threads fits, and gives the numbers it gives without a limit
try("small", function()
  local r = hasme.simulate{objective = hasme.wells{dim = 2}, noise = hasme.gaussian{
    sigma = 0.3}, method = "sme1", eta = 0.1, steps = 20, x0 = {0.5, -0.5}, paths = 4000,
    seed = 9, threads = 2}
  print(("mean %.17g %.17g"):format(r:mean()[1], r:mean()[2]))
end)
print("done")
]=]

  local pend_or_it = sanitized and pending or it
  pend_or_it("names the function and the block when the address space (ulimit -v) runs "
             .. "out, and a run that fits gives the same numbers", function()
    local script = tmp .. "/ulimit.lua"
    writefile(script, UL)
    local hasme = q(BUILD .. "/hasme")
    local base = tonumber((run(hasme .. [[ -e 'require "hasme"; for l in ]]
      .. [[io.lines("/proc/self/status") do local v = l:match("^VmSize:%s+(%d+)") ]]
      .. [[if v then print(v) end end']])):match("%d+"))
    assert.is_number(base)
    -- 40 MiB above what the interpreter with hasme loaded maps
    local out, status = run(("timeout 120 sh -c %s"):format(q(("ulimit -v %d; exec %s %s")
      :format(base + 40000, hasme, q(script)))))
    assert.are.equal(0, status, out)
    assert.truthy(out:find("\ndone\n", 1, true), out)
    assert.truthy(out:find("simulate: the results need 122.1 MiB (1 recorded steps "
      .. "x 4000000 paths x 4 dims) and the system could not provide them", 1, true), out)
    assert.truthy(out:find("vec: cannot allocate 33554432 doubles (256 MiB): not enough "
      .. "memory", 1, true), out)
    assert.truthy(out:find("gaussian: not enough memory for the noise model", 1, true),
                  out)
    assert.truthy(out:find("small: ok", 1, true), out)
    local free = run(("%s %s"):format(hasme, q(script)))
    assert.are.equal(free:match("mean [^\n]*"), out:match("mean [^\n]*"))
  end)

  it("names simulate and what was requested for record = 'all' with huge steps", function()
    local hasme = require "hasme"
    local opts = {objective = hasme.quadratic{H = {{1, 0}, {0, 2}}}, noise = hasme.gaussian{
      sigma = 0.1}, method = "sgd", eta = 0.01, x0 = {1, 1}, paths = 10, seed = 1,
      record = "all"}
    -- the message of the core's own check, given before the list of steps is built
    for _, c in ipairs{{2^40, "160.0 TiB (1099511627777 recorded steps x 10 paths x 2 dims)"},
                       {10^9, "149.0 GiB (1000000001 recorded steps x 10 paths x 2 dims)"}} do
      opts.steps = math.tointeger(c[1])
      opts.memory_limit = "4G"
      local ok, e = pcall(hasme.simulate, opts)
      assert.is_false(ok)
      assert.truthy(tostring(e):find("simulate: the results need " .. c[2] .. ", more than "
        .. "memory_limit = 4.0 GiB; record fewer steps or raise memory_limit", 1, true),
        tostring(e))
    end
    -- within the limit, the run is made (and every step kept)
    opts.steps, opts.memory_limit = 1000, nil
    local r = hasme.simulate(opts)
    assert.are.equal(1001, #r:record_steps())
  end)

  teardown(function() os.execute("rm -rf " .. q(tmp)) end)
end)

