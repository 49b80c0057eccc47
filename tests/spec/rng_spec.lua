-- rng_spec.lua: hasme.rng / hasme.pcg64 and the hasme.Rng methods, against NumPy's
-- golden values (tests/fixtures/pcg64_*.txt) and with every error message matched.
local hasme = require "hasme"

local here = debug.getinfo(1, "S").source:match("^@(.*)[/\\][^/\\]*$") or "."
local FIXTURES = here .. "/../fixtures/"

-- The non-comment lines of a fixture file, as a list.
local function fixture(name)
  local f = assert(io.open(FIXTURES .. name, "r"))
  local out = {}
  for line in f:lines() do
    if line ~= "" and line:sub(1, 1) ~= "#" then out[#out + 1] = line end
  end
  f:close()
  return out
end

-- Split a line on spaces.
local function fields(line)
  local t = {}
  for w in line:gmatch("%S+") do t[#t + 1] = w end
  return t
end

-- A decimal string as a Lua integer when it fits, else the string itself (hasme
-- accepts both; values of 2^63 and above only as strings).
local function intorstring(s)
  local n = tonumber(s)
  if math.type(n) == "integer" then return n end
  return s
end

-- k raw words of g as 16-digit hex strings.
local function words(g, k)
  local t = {}
  for i = 1, k do t[i] = string.format("%016x", g:next64()) end
  return t
end

describe("hasme.rng", function()
  it("equals NumPy's PCG64(seed).jumped(stream) for every fixture pair", function()
    local rows = fixture("pcg64_seed.txt")
    assert.is_true(#rows >= 100)
    for _, line in ipairs(rows) do
      local f = fields(line)
      local g = hasme.rng(intorstring(f[1]), intorstring(f[2]))
      local s = g:state()
      assert.are.same({ state = f[3], inc = f[4] }, s, "seed " .. f[1] .. " stream " .. f[2])
    end
  end)

  it("takes seeds and streams as decimal or hex strings too", function()
    assert.are.equal(hasme.rng(42, 3), hasme.rng("42", "3"))
    assert.are.equal(hasme.rng(255), hasme.rng("0xff"))
    assert.are.equal(hasme.rng(7.0, 2.0), hasme.rng(7, 2))
  end)

  it("uses stream 0 by default", function()
    assert.are.equal(hasme.rng(2024, 0), hasme.rng(2024))
    assert.are.equal(hasme.rng(2024, 0), hasme.rng(2024, nil))
  end)

  it("gives distinct streams for distinct stream numbers", function()
    assert.are_not.equal(hasme.rng(9, 1), hasme.rng(9, 2))
    assert.are_not.equal(hasme.rng(9, 1), hasme.rng(10, 1))
  end)

  it("rejects a bad seed or stream naming the argument", function()
    local cases = {
      { function() hasme.rng() end, "#1", "seed", "no value" },
      { function() hasme.rng(-1) end, "#1", "seed", "-1" },
      { function() hasme.rng(1.5) end, "#1", "seed", "1.5" },
      { function() hasme.rng("abc") end, "#1", "seed", "'abc'" },
      { function() hasme.rng("18446744073709551616") end, "#1", "seed",
        "'18446744073709551616'" },
      { function() hasme.rng({}) end, "#1", "seed", "table" },
      { function() hasme.rng(1, -2) end, "#2", "stream", "-2" },
      { function() hasme.rng(1, "-2") end, "#2", "stream", "'-2'" },
      { function() hasme.rng(1, true) end, "#2", "stream", "boolean" },
    }
    for _, c in ipairs(cases) do
      assert.has_error(c[1], string.format(
        "bad argument %s to 'rng' (%s must be a non-negative integer (got %s))",
        c[2], c[3], c[4]))
    end
  end)
end)

describe("hasme.pcg64", function()
  it("reproduces NumPy's random_raw() from raw states, 1000 words each", function()
    local rows = fixture("pcg64_raw.txt")
    local i, gens = 1, 0
    while i <= #rows do
      local f = fields(rows[i])
      assert.are.equal("gen", f[1])
      local n = tonumber(f[4])
      local g = hasme.pcg64 { state = f[2], inc = f[3] }
      local want = {}
      for j = 1, n do want[j] = rows[i + j] end
      assert.are.same(want, words(g, n), "state " .. f[2])
      i = i + n + 1
      gens = gens + 1
    end
    assert.is_true(gens >= 4)
  end)

  it("accepts non-negative integers and uppercase hex", function()
    local a = hasme.pcg64 { state = 0, inc = 1 }
    local b = hasme.pcg64 { state = "0x0", inc = "0X1" }
    assert.are.equal(a, b)
    assert.are.same({ state = "0x0", inc = "0x1" }, a:state())
    assert.are.equal(hasme.pcg64 { state = "1000", inc = "0x3" },
                     hasme.pcg64 { state = "0x3e8", inc = 3 })
  end)

  it("rejects malformed state tables with exact messages", function()
    local function msg(m) return "bad argument #1 to 'pcg64' (" .. m .. ")" end
    assert.has_error(function() hasme.pcg64("0x1") end,
                     msg("table expected, got string"))
    assert.has_error(function() hasme.pcg64() end, msg("table expected, got no value"))
    assert.has_error(function() hasme.pcg64 { state = "0x1", inc = "0x1", seed = 1 } end,
                     msg("unknown option 'seed' (valid: 'state' or 'inc')"))
    assert.has_error(function() hasme.pcg64 { inc = "0x1" } end,
                     msg("field 'state': hex string expected, got nil"))
    assert.has_error(function() hasme.pcg64 { state = "0x1" } end,
                     msg("field 'inc': hex string expected, got nil"))
    assert.has_error(function() hasme.pcg64 { state = true, inc = "0x1" } end,
                     msg("field 'state': hex string expected, got boolean"))
    assert.has_error(function() hasme.pcg64 { state = "0xzz", inc = "0x1" } end,
                     msg("field 'state': not a 128-bit hex or decimal value (got '0xzz')"))
    assert.has_error(function()
      hasme.pcg64 { state = "0x100000000000000000000000000000000", inc = "0x1" }
    end, msg("field 'state': not a 128-bit hex or decimal value " ..
             "(got '0x100000000000000000000000000000000')"))
    assert.has_error(function() hasme.pcg64 { state = "0x1", inc = -3 } end,
                     msg("field 'inc': must be a non-negative integer (got -3)"))
    assert.has_error(function() hasme.pcg64 { state = 2.5, inc = 1 } end,
                     msg("field 'state': must be a non-negative integer (got 2.5)"))
    assert.has_error(function() hasme.pcg64 { state = "0x1", inc = "0x2" } end,
                     msg("field 'inc': must be odd (got 0x2)"))
    assert.has_error(function() hasme.pcg64 { state = "0x1", inc = 0 } end,
                     msg("field 'inc': must be odd (got 0x0)"))
  end)
end)

describe("hasme.Rng", function()
  local g
  before_each(function() g = hasme.rng(20240607, 5) end)

  describe(":next64", function()
    it("returns two's complement integers (the top bit set gives a negative)", function()
      local neg, pos = false, false
      for _ = 1, 200 do
        local w = g:next64()
        assert.are.equal("integer", math.type(w))
        if w < 0 then neg = true else pos = true end
      end
      assert.is_true(neg and pos)
    end)

    it("equals the fixture words after seeding", function()
      local rows = fixture("pcg64_raw.txt")
      local f = fields(rows[1])   -- the first generator is PCG64(42)
      assert.are.equal(hasme.rng(42), hasme.pcg64 { state = f[2], inc = f[3] })
      local g42 = hasme.rng(42)
      for j = 1, 10 do assert.are.equal(rows[1 + j], string.format("%016x", g42:next64())) end
    end)
  end)

  describe(":uniform and :uniforms", function()
    it("equal NumPy's Generator.random() bit for bit", function()
      local rows = fixture("pcg64_uniform.txt")
      local i = 1
      while i <= #rows do
        local f = fields(rows[i])
        local n = tonumber(f[4])
        local a = hasme.rng(intorstring(f[2]), intorstring(f[3]))
        local b = a:clone()
        local v = b:uniforms(n)
        for j = 1, n do
          local want = tonumber(rows[i + j])
          assert.are.equal(want, a:uniform())
          assert.are.equal(want, v[j])
        end
        assert.are.equal(a, b)
        i = i + n + 1
      end
    end)

    it("returns a hasme.Vec of the requested length", function()
      local v = g:uniforms(17)
      assert.are.equal(17, #v)
      assert.are.equal("hasme.Vec", getmetatable(v).__name)
      for j = 1, 17 do assert.is_true(v[j] >= 0 and v[j] < 1) end
      assert.are.equal(0, #g:uniforms(0))
    end)

    it("rejects a bad length", function()
      assert.has_error(function() g:uniforms(-1) end,
                       "bad argument #1 to 'uniforms' (size must be non-negative)")
      assert.has_error(function() g:uniforms("x") end,
                       "bad argument #1 to 'uniforms' (number expected, got string)")
      assert.has_error(function() g:uniforms(2.5) end,
                       "bad argument #1 to 'uniforms' (number has no integer representation)")
    end)
  end)

  describe(":normal and :normals", function()
    it("scale and shift the same standard variate", function()
      local a, b = g:clone(), g:clone()
      for _ = 1, 50 do
        local z = a:normal()
        assert.are.equal(2.5 + 0.75 * z, b:normal(2.5, 0.75))
      end
    end)

    it(":normals(n) equals n calls of :normal and leaves the same state", function()
      local a, b = g:clone(), g:clone()
      local v = a:normals(3000)
      assert.are.equal(3000, #v)
      for j = 1, 3000 do assert.are.equal(b:normal(), v[j]) end
      assert.are.equal(a, b)
      local w = a:normals(100, -1, 3)
      for j = 1, 100 do assert.are.equal(-1 + 3 * b:normal(), w[j]) end
      assert.are.equal(0, #a:normals(0))
    end)

    it("has mean 0 and variance 1 (within 5 standard errors of 10^5 draws)", function()
      local n = 100000
      local v = hasme.rng(77, 1):normals(n)
      local s1, s2 = 0, 0
      for j = 1, n do s1 = s1 + v[j]; s2 = s2 + v[j] * v[j] end
      local mean = s1 / n
      local var = s2 / n - mean * mean
      assert.is_true(math.abs(mean) < 5 / math.sqrt(n))
      assert.is_true(math.abs(var - 1) < 5 * math.sqrt(2 / n))
    end)

    it("sigma = 0 gives mu", function()
      assert.are.equal(4.25, g:normal(4.25, 0))
    end)

    it("rejects a negative sigma or non-numbers", function()
      assert.has_error(function() g:normal(0, -1) end,
                       "bad argument #2 to 'normal' (sigma must be non-negative (got -1))")
      assert.has_error(function() g:normal(0, -0.5) end,
                       "bad argument #2 to 'normal' (sigma must be non-negative (got -0.5))")
      assert.has_error(function() g:normal(0, 0 / 0) end,
                       "bad argument #2 to 'normal' (sigma must be non-negative (got " ..
                       tostring(0 / 0) .. "))")
      assert.has_error(function() g:normal("a") end,
                       "bad argument #1 to 'normal' (number expected, got string)")
      assert.has_error(function() g:normals(3, 0, -2) end,
                       "bad argument #3 to 'normals' (sigma must be non-negative (got -2))")
      assert.has_error(function() g:normals(-3) end,
                       "bad argument #1 to 'normals' (size must be non-negative)")
    end)
  end)

  describe(":integer", function()
    it("covers 1..n and nothing else", function()
      local seen = {}
      for _ = 1, 600 do
        local k = g:integer(6)
        assert.is_true(math.type(k) == "integer" and k >= 1 and k <= 6)
        seen[k] = true
      end
      for k = 1, 6 do assert.is_true(seen[k]) end
      assert.are.equal(1, g:integer(1))
      local big = g:integer(math.maxinteger)
      assert.is_true(big >= 1)
    end)

    it("equals NumPy's integers(0, n) + 1 for ranges above 2^32", function()
      local rows = fixture("pcg64_bounded.txt")
      local i, checked = 1, 0
      while i <= #rows do
        local f = fields(rows[i])
        local n, count = tonumber(f[3]), tonumber(f[4])
        if math.type(n) == "integer" then
          local a = hasme.rng(intorstring(f[2]))
          for j = 1, count do assert.are.equal(tonumber(rows[i + j]) + 1, a:integer(n)) end
          checked = checked + 1
        end
        i = i + count + 1
      end
      assert.is_true(checked >= 2)
    end)

    it("rejects n < 1 and non-integers", function()
      local function msg(got)
        return "bad argument #1 to 'integer' (n must be a positive integer (got " .. got .. "))"
      end
      assert.has_error(function() g:integer(0) end, msg("0"))
      assert.has_error(function() g:integer(-4) end, msg("-4"))
      assert.has_error(function() g:integer(2.5) end, msg("2.5"))
      assert.has_error(function() g:integer() end, msg("no value"))
      assert.has_error(function() g:integer({}) end, msg("table"))
    end)
  end)

  describe(":advance", function()
    it("equals NumPy's advance, with deltas as integers or strings", function()
      local rows = fixture("pcg64_advance.txt")
      assert.is_true(#rows >= 40)
      for _, line in ipairs(rows) do
        local f = fields(line)
        local a = hasme.pcg64 { state = f[1], inc = f[2] }
        local b = a:clone()
        a:advance(intorstring(f[3]))
        assert.are.equal(f[4], a:state().state, "delta " .. f[3])
        b:advance(f[3])   -- always as a (possibly signed) decimal string
        assert.are.equal(a, b)
      end
    end)

    it("forward then back returns the same outputs", function()
      local a = g:clone()
      local first = words(a, 25)
      a:advance(-25)
      assert.are.same(first, words(a, 25))
      a:advance("0x10000000000000000")     -- 2^64 ahead ...
      a:advance("-18446744073709551616")   -- ... and back
      a:advance(-25)
      assert.are.same(first, words(a, 25))
    end)

    it("by k equals k draws, and returns the generator itself", function()
      local a, b = g:clone(), g:clone()
      for _ = 1, 1000 do a:next64() end
      assert.are.equal(b, b:advance(1000))
      assert.are.equal(a, b)
      assert.is_true(rawequal(b, b:advance(0)))
    end)

    it("rejects deltas that are not integers", function()
      local function msg(got)
        return "bad argument #1 to 'advance' (delta must be an integer or a decimal or " ..
               "hex string (got " .. got .. "))"
      end
      assert.has_error(function() g:advance() end, msg("no value"))
      assert.has_error(function() g:advance(1.5) end, msg("1.5"))
      assert.has_error(function() g:advance("12x") end, msg("'12x'"))
      assert.has_error(function() g:advance("--1") end, msg("'--1'"))
      assert.has_error(function() g:advance({}) end, msg("table"))
    end)
  end)

  describe(":jumped", function()
    it("gives the next streams of the same seed and leaves self alone", function()
      local a = hasme.rng(31, 2)
      local before = a:state()
      assert.are.equal(hasme.rng(31, 3), a:jumped())
      assert.are.equal(hasme.rng(31, 9), a:jumped(7))
      assert.are.equal(a, a:jumped(0))
      assert.are.same(before, a:state())
      assert.are.equal(hasme.rng(31, "18446744073709551615"),
                       hasme.rng(31):jumped("18446744073709551615"))
    end)

    it("rejects a negative number of jumps", function()
      assert.has_error(function() g:jumped(-1) end,
        "bad argument #1 to 'jumped' (jumps must be a non-negative integer (got -1))")
      assert.has_error(function() g:jumped("x") end,
        "bad argument #1 to 'jumped' (jumps must be a non-negative integer (got 'x'))")
    end)
  end)

  describe(":state, :setstate and :clone", function()
    it("round-trip through hex strings", function()
      local s = g:state()
      assert.are.equal("string", type(s.state))
      assert.is_truthy(s.state:match("^0x[0-9a-f]+$"))
      assert.is_truthy(s.inc:match("^0x[0-9a-f]+$"))
      local first = words(g, 40)
      assert.is_true(rawequal(g, g:setstate(s)))
      assert.are.same(first, words(g, 40))
      assert.are.equal(g, hasme.pcg64(g:state()))
    end)

    it("clone continues independently with the same draws", function()
      local c = g:clone()
      assert.are.equal(g, c)
      assert.is_false(rawequal(g, c))
      local a = words(g, 10)
      assert.are_not.equal(g, c)
      assert.are.same(a, words(c, 10))
    end)

    it("setstate rejects malformed tables", function()
      assert.has_error(function() g:setstate() end,
                       "bad argument #1 to 'setstate' (table expected, got no value)")
      assert.has_error(function() g:setstate { state = "0x1", inc = "0x2" } end,
                       "bad argument #1 to 'setstate' (field 'inc': must be odd (got 0x2))")
      assert.has_error(function() g:setstate { state = "0x1", inc = "0x1", x = 1 } end,
                       "bad argument #1 to 'setstate' (unknown option 'x' " ..
                       "(valid: 'state' or 'inc'))")
      local before = g:state()
      pcall(g.setstate, g, { state = "0x5", inc = "0x4" })
      assert.are.same(before, g:state())   -- a failed setstate changes nothing
    end)
  end)

  describe("metamethods", function()
    it("__tostring shows the state and increment in hex", function()
      assert.are.equal("hasme.Rng(state=0x1f, inc=0x3)",
                       tostring(hasme.pcg64 { state = "0x1f", inc = "0x3" }))
    end)

    it("__eq compares state and increment", function()
      assert.are.equal(hasme.pcg64 { state = 5, inc = 7 }, hasme.pcg64 { state = 5, inc = 7 })
      assert.are_not.equal(hasme.pcg64 { state = 5, inc = 7 },
                           hasme.pcg64 { state = 5, inc = 9 })
    end)

    it("methods check their receiver", function()
      assert.has_error(function() g.next64(nil) end,
                       "bad argument #1 to 'next64' (hasme.Rng expected, got nil)")
      assert.has_error(function() g.state({}) end,
                       "bad argument #1 to 'state' (hasme.Rng expected, got table)")
    end)
  end)
end)
