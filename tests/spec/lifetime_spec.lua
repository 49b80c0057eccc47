-- lifetime_spec.lua: the lifetime of the userdata that hold Lua callbacks (Objective,
-- Noise, Escape): no registry reference survives them, cycles through closures are
-- collected, __gc and __close release once and leave a value every method reports as
-- released; and the fixes of the fuzzing findings in the bindings, each pinned here
-- (error objects whose __tostring raises, state noise changing dimension during a run,
-- metamethods called on the wrong type, unbounded work, messages naming nothing).
local hasme = require "hasme"

-- Registry entries under integer keys: luaL_ref's references.
local function nrefs()
  local n = 0
  for k in pairs(debug.getregistry()) do
    if math.type(k) == "integer" then n = n + 1 end
  end
  return n
end

local function settle()
  collectgarbage()
  collectgarbage()
end

-- The first callback of a state creates the (one) registry entry that lists the
-- owners of callbacks: make it exist before counting.
hasme.objective { dim = 1, f = function(x) return x[1] end }:value { 1 }

-- The message of a failing call, without the position prefix Lua adds.
local function errof(f, ...)
  local ok, err = pcall(f, ...)
  assert(not ok, "expected an error")
  return (tostring(err):gsub("^[^\n:]*:%d+: ", ""))
end

local H2 = { { 1.7, 0.2 }, { 0.2, 0.9 } }

describe("callback lifetime", function()
  it("1,000 Lua objectives whose f captures the objective leave no registry entry and are collected", function()
    settle()
    local before = nrefs()
    local alive = setmetatable({}, { __mode = "k" })
    for i = 1, 1000 do
      local obj
      obj = hasme.objective { dim = 2, f = function(x) return obj:dim() * x[1] end,
                              grad = function(x) return obj:grad(x) end }
      alive[obj] = true
      if i % 100 == 0 then assert.are.equal(2 * 0.5, obj:value { 0.5, 0.25 }) end
    end
    settle()
    assert.are.equal(before, nrefs())
    assert.is_nil(next(alive))
  end)

  it("1,000 state noises and escape predicates capturing themselves are collected too", function()
    settle()
    local before = nrefs()
    local alive = setmetatable({}, { __mode = "k" })
    for _ = 1, 1000 do
      local nz
      nz = hasme.gaussian { cov = function(x) return nz and hasme.eye(#x) end }
      nz:cov { 0.3, 0.1 }
      alive[nz] = true
    end
    local q = hasme.quadratic { H = H2 }
    for _ = 1, 200 do
      local pred
      pred = function(x) return pred ~= nil and x[1] > 10 end
      hasme.simulate { objective = q, eta = 0.1, steps = 2, x0 = { 0, 0 }, paths = 3, escape = pred }
    end
    settle()
    assert.are.equal(before, nrefs())
    assert.is_nil(next(alive))
  end)

  it("a failing callback's message lives with its objective (no reference left behind)", function()
    settle()
    local before = nrefs()
    for _ = 1, 300 do
      local obj = hasme.objective { dim = 1, f = function() error("nope", 0) end }
      assert.are.equal("value: nope", errof(obj.value, obj, { 1 }))
    end
    settle()
    assert.are.equal(before, nrefs())
  end)

  it("__close releases an objective at the end of its block, once", function()
    local obj
    do
      local o <close> = hasme.objective { dim = 1, f = function(x) return x[1] end }
      obj = o
      assert.are.equal(3, o:value { 3 })
    end
    assert.are.equal("hasme.Objective(released)", tostring(obj))
    assert.are.equal("calling 'value' on bad self (objective has been released (closed))",
                     errof(function() local v = obj:value { 1 }; return v end))
    getmetatable(obj).__gc(obj)   -- again: nothing happens
    assert.are.equal("hasme.Objective(released)", tostring(obj))
  end)

  it("a noise or escape criterion released by a direct __gc call is reported as released", function()
    local nz = hasme.gaussian { cov = function(x) return hasme.eye(#x) end }
    getmetatable(nz).__gc(nz)
    getmetatable(nz).__close(nz)
    assert.are.equal("hasme.Noise(released)", tostring(nz))
    assert.are.equal("calling 'cov' on bad self (noise has been released (closed))",
                     errof(function() local c = nz:cov { 1, 2 }; return c end))
    assert.are.equal("calling 'kind' on bad self (noise has been released (closed))",
                     errof(function() local k = nz:kind(); return k end))
    local q = hasme.quadratic { H = H2 }
    assert.are.equal("bad argument #1 to 'simulate' (field 'noise': noise has been released (closed))",
                     errof(function() local r = hasme.simulate({ objective = q, noise = nz, eta = 0.1, steps = 1,
                                             x0 = { 0, 0 }, paths = 2 }); return r end))
    local e = hasme.escape.halfspace({ 1, 0 }, 0.5)
    getmetatable(e).__gc(e)
    assert.are.equal("hasme.Escape(released)", tostring(e))
    assert.are.equal("calling 'test' on bad self (escape criterion has been released (closed))",
                     errof(function() local t = e:test { 1, 0 }; return t end))
    assert.are.equal("bad argument #1 to 'simulate' (field 'escape': escape criterion has been released (closed))",
                   errof(function() local r = hasme.simulate({ objective = q, eta = 0.1, steps = 1, x0 = { 0, 0 },
                                           paths = 2, escape = e }); return r end))
  end)

  it("an argument of the wrong type is named by its type name", function()
    local q = hasme.quadratic { H = H2 }
    assert.are.equal("bad argument #1 to 'simulate' (field 'noise': hasme.Noise expected, got hasme.Vec)",
                     errof(function() local r = hasme.simulate({ objective = q, noise = hasme.vec { 1 }, eta = 0.1,
                                             steps = 1, x0 = { 0, 0 }, paths = 2 }); return r end))
  end)
end)

describe("callbacks that raise odd error objects", function()
  local bad = setmetatable({}, { __tostring = function() error("tostring fails") end })

  it("an error object whose __tostring raises becomes a message, in a method call", function()
    local obj = hasme.objective { dim = 2, f = function() error(bad) end }
    assert.are.equal("value: (error object is a table value)", errof(obj.value, obj, { 1, 2 }))
    local obj2 = hasme.objective { dim = 2, f = function() error(setmetatable({}, {
      __tostring = function() return "custom object" end })) end }
    assert.are.equal("value: custom object", errof(obj2.value, obj2, { 1, 2 }))
  end)

  it("on the calling thread of a run, the run ends cleanly and the next run works", function()
    local obj = hasme.objective { dim = 2, f = function(x) return x[1] end,
                                  grad = function() error(bad) end }
    assert.are.equal("simulate: error in the objective at path 1, step 1: (error object is a table value)",
                     errof(function() local r = hasme.simulate({ objective = obj, eta = 0.1, steps = 3, x0 = { 0, 0 },
                                             paths = 4, threads = 1 }); return r end))
    local r = hasme.simulate { objective = hasme.quadratic { H = H2 }, eta = 0.1, steps = 3,
                               x0 = { 1, 1 }, paths = 4, threads = 1 }
    assert.are.equal(2, #r:mean(3))
  end)

  it("on worker states (threads = 2) as well #tsan", function()
    local obj = hasme.objective { dim = 2, f = function(x) return x[1] end,
                                  grad = function(x)
                                    if x[1] > 0.2 then error(bad) end
                                    return { x[1], x[2] }
                                  end }
    local msg = errof(hasme.simulate, { objective = obj, method = "sme1", eta = 0.1, steps = 10,
                                        x0 = { 0.5, 0 }, paths = 400, seed = 3, threads = 2 })
    assert.matches("%(error object is a table value%)$", msg)
  end)
end)

describe("Lua callbacks on worker states", function()
  it("give the same paths with threads = 2 as with threads = 1 #tsan", function()
    local function run(threads)
      local obj = hasme.objective { dim = 2, f = function(x) return 0.5 * (x[1] ^ 2 + 2 * x[2] ^ 2) end,
                                    grad = function(x) return { x[1], 2 * x[2] } end }
      local nz = hasme.gaussian { cov = function(x) return { { 0.1 + 0.01 * x[1] ^ 2, 0 }, { 0, 0.1 } } end }
      local r = hasme.simulate { objective = obj, noise = nz, method = "sme1", eta = 0.05,
                                 steps = 12, x0 = { 0.4, -0.3 }, paths = 300, seed = 21,
                                 threads = threads, escape = function(x) return x[1] > 0.9 end }
      return r:snapshot(12):totable(), r:escape_steps():totable()
    end
    local s1, e1 = run(1)
    local s2, e2 = run(2)
    assert.are.same(s1, s2)
    assert.are.same(e1, e2)
  end)
end)

describe("state-dependent noise without dim", function()
  it("keeps the dimension of its first use", function()
    local nz = hasme.gaussian { cov = function(x) return hasme.eye(#x) end }
    assert.are.same({ { 1, 0 }, { 0, 1 } }, nz:cov { 0.5, 0.5 }:totable())
    assert.are.equal("calling 'cov' on bad self (noise of dimension 2 used with dimension 3 "
                     .. "(a noise without 'dim' keeps the dimension of its first use))",
                     errof(function() local c = nz:cov { 1, 2, 3 }; return c end))
  end)

  it("cannot be resized by a callback during a run (a heap overflow before)", function()
    local nz
    nz = hasme.gaussian { cov = function(x)
      nz:cov(hasme.vec(#x + 1))   -- another dimension: refused
      return hasme.eye(#x)
    end }
    local q = hasme.quadratic { H = H2 }
    local msg = errof(hasme.simulate, { objective = q, noise = nz, method = "sme1", eta = 0.1,
                                        steps = 2, x0 = { 0, 0 }, paths = 3, threads = 1 })
    assert.matches("noise of dimension 2 used with dimension 3", msg, 1, true)
  end)

  it("cannot be resized by a side run started from the progress callback", function()
    local nz = hasme.gaussian { cov = function(x) return hasme.eye(#x) end }
    local q2, q3 = hasme.quadratic { H = H2 }, hasme.quadratic { H = { { 1, 0, 0 }, { 0, 1, 0 }, { 0, 0, 1 } } }
    local side
    local r = hasme.simulate { objective = q2, noise = nz, method = "sme1", eta = 0.1, steps = 50,
                               x0 = { 0, 0 }, paths = 50, threads = 1, progress_interval = 0,
                               progress = function()
                                 side = side or select(2, pcall(hasme.simulate, {
                                   objective = q3, noise = nz, method = "sme1", eta = 0.1,
                                   steps = 1, x0 = { 0, 0, 0 }, paths = 2 }))
                               end }
    assert.are.equal(2, #r:mean(50))
    assert.matches("noise of dimension 2 used with dimension 3", side, 1, true)
  end)
end)

describe("metamethods called directly", function()
  it("check the type of self", function()
    local vmt, mmt = getmetatable(hasme.vec { 1 }), getmetatable(hasme.mat { { 1 } })
    local g = hasme.rng(1)
    assert.are.equal("bad argument #1 to '?' (hasme.Vec expected, got hasme.Rng)",
                     errof(vmt.__index, g, 1))
    assert.are.equal("bad argument #1 to '?' (hasme.Vec expected, got hasme.Rng)",
                     errof(vmt.__newindex, g, 1, 2))
    assert.are.equal("bad argument #1 to '?' (hasme.Vec expected, got hasme.Rng)",
                     errof(vmt.__len, g))
    assert.are.equal("bad argument #1 to '?' (hasme.Mat expected, got hasme.Rng)",
                     errof(mmt.__index, g, 1))
    assert.are.equal("bad argument #1 to '?' (hasme.Mat expected, got hasme.Vec)",
                     errof(mmt.__newindex, hasme.vec { 1 }, 1, { 1 }))
    assert.are.equal("bad argument #1 to '?' (hasme.Mat expected, got table)",
                     errof(mmt.__len, {}))
    assert.are.equal("attempt to negate a userdata value as a vector or matrix",
                     errof(vmt.__unm, g))
    assert.are.equal("attempt to multiply two numbers as vectors or matrices",
                     errof(vmt.__mul, 2, 3))
  end)
end)

describe("tables read as vectors and matrices", function()
  it("a __len of -1 is refused", function()
    local t = setmetatable({}, { __len = function() return -1 end })
    assert.are.equal("bad argument #1 to 'mat' (table has an invalid length -1)", errof(function() local m = hasme.mat(t); return m end))
    assert.are.equal("bad argument #1 to 'vec' (table has an invalid length -1)", errof(function() local v = hasme.vec(t); return v end))
  end)

  it("a row served by a metamethod that shrinks between the passes is refused", function()
    local n = 0
    local t = setmetatable({}, { __len = function() return 2 end, __index = function()
      n = n + 1
      return hasme.vec(n <= 2 and { 1, 2 } or { 1 })
    end })
    assert.are.equal("bad argument #1 to 'mat' (row 1 changed length while being read (2, then 1))",
                     errof(function() local m = hasme.mat(t); return m end))
  end)
end)

describe("bounded work", function()
  it("stats.ks_sf is fast for n up to 2^40 and matches scipy.stats.kstwo", function()
    local t0 = os.clock()
    -- scipy.stats.kstwo.sf(d, n) for n = 1013905 and 10^7 (above the direct sum's range)
    local cases = { { 1013905, 2, 0.000670037395381346 }, { 1013905, 4, 2.5261340986752346e-14 },
                    { 10000000, 1.5, 0.02221096811755695 }, { 10000000, 2, 0.0006706424247822417 } }
    for _, c in ipairs(cases) do
      local p = hasme.stats.ks_sf(c[2] / math.sqrt(c[1]), c[1])
      assert(math.abs(p - c[3]) <= 1e-10 * c[3], string.format("n = %d: %.17g vs %.17g", c[1], p, c[3]))
    end
    assert.are.equal(0, hasme.stats.ks_sf(0.6, 2 ^ 40))
    assert.are.equal(1, hasme.stats.ks_sf(1e-13, 2 ^ 40))
    assert.is_true(hasme.stats.ks_sf(2 / math.sqrt(2 ^ 40), 2 ^ 40) > 0)
    assert.is_true(os.clock() - t0 < 2)
  end)

  it("an empty matrix with 2^40 rows prints, transposes and negates at once", function()
    local t0 = os.clock()
    local m = hasme.mat(2 ^ 40, 0)
    assert.are.equal("mat 1099511627776x0", tostring(m))
    assert.are.equal(0, m:t():rows())
    assert.are.equal(2 ^ 40, (-m):rows())
    assert.are.equal("calling 'totable' on bad self (matrix has too many rows for a Lua table (at most 2^31 - 1))",
                     errof(function() local t = m:totable(); return t end))
    assert.is_true(os.clock() - t0 < 1)
  end)

  it("refuses absurd thread counts by name", function()
    local q = hasme.quadratic { H = H2 }
    assert.are.equal("bad argument #1 to 'simulate' (field 'threads': must be in [1, 256] (got 4096))",
                     errof(function() local r = hasme.simulate({ objective = q, eta = 0.1, steps = 1, x0 = { 0, 0 },
                                             paths = 2, threads = 4096 }); return r end))
  end)
end)

describe("messages", function()
  it("size limits state the real limit, the unit and the function", function()
    assert.are.equal("hasme.vec: cannot allocate 1099511627776 doubles: a vector or matrix holds "
                     .. "at most 2^37 = 137438953472 elements (1 TiB)", errof(hasme.vec, 2 ^ 40))
  end)

  it("an allocation the memory cannot hold names the function and the size", function()
    -- In a child under a 1 GB address-space limit (not with the sanitizers, whose
    -- shadow memory needs more than that).
    local build = os.getenv("HASME_BUILD") or "build"
    if build:find("san") then return end
    local p = io.popen("ulimit -v 1000000; " .. build .. "/hasme -e 'local vec = require(\"hasme\").vec; "
                       .. "print(select(2, pcall(function() local v = vec(2^28); return v end)))' 2>&1")
    local out = p:read("a")
    p:close()
    assert.are.equal("vec: cannot allocate 268435456 doubles (2048 MiB): not enough memory\n", out)
  end)

  it("json.number names itself and its argument", function()
    assert.are.equal("bad argument #1 to 'number' (number expected, got string)",
                     errof(hasme.json.number, "x"))
  end)

  it("hasme.wells refuses an empty Q or tilt (read past their end before)", function()
    assert.are.equal("bad argument #1 to 'wells' (field 'Q': empty matrix)",
                     errof(function() local w = hasme.wells { Q = {}, dim = 2, tilt = { 1, 2 } }; return w end))
    assert.are.equal("bad argument #1 to 'wells' (field 'tilt': empty vector)",
                     errof(function() local w = hasme.wells { dim = 2, tilt = {} }; return w end))
  end)
end)
