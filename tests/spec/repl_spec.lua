-- repl_spec.lua: the helpers of the interactive prompt (hasme.repl): completion,
-- printing of tables, "did you mean" hints and help from the docs, called directly.
-- cli_spec.lua drives the same features through a terminal.
local hasme = require "hasme"
local repl = require "hasme.repl"

describe("hasme.repl", function()
  describe("complete", function()
    local saved
    before_each(function()
      saved = rawget(_G, "hasme")
      rawset(_G, "hasme", hasme)
    end)
    after_each(function() rawset(_G, "hasme", saved) end)

    it("completes the fields of hasme and of its sub-tables", function()
      assert.same({ "hasme.simulate" }, repl.complete("hasme.simul"))
      assert.same({ "hasme.saddle", "hasme.simulate", "hasme.stats" }, repl.complete("hasme.s"))
      assert.same({ "hasme.stats.escape_summary" }, repl.complete("hasme.stats.escape_s"))
    end)

    it("completes the methods of userdata through their metatable", function()
      rawset(_G, "zz_v", hasme.vec{ 1, 2 })
      rawset(_G, "zz_g", hasme.rng(3))
      local v, g = repl.complete("zz_v:to"), repl.complete("zz_g:nex")
      rawset(_G, "zz_v", nil)
      rawset(_G, "zz_g", nil)
      assert.same({ "zz_v:totable" }, v)
      assert.same({ "zz_g:next64" }, g)
    end)

    it("completes globals and keywords, and string methods", function()
      assert.same({ "print" }, repl.complete("prin"))
      assert.same({ "function" }, repl.complete("functio"))
      assert.same({ "repeat", "require", "return" }, repl.complete("re"))
      rawset(_G, "zz_s", "abc")
      local s = repl.complete("zz_s:up")
      rawset(_G, "zz_s", nil)
      assert.same({ "zz_s:upper" }, s)
    end)

    it("returns nothing for unknown prefixes and never calls an __index function", function()
      assert.same({}, repl.complete("nosuchname.x"))
      local called = false
      rawset(_G, "zz_t", setmetatable({}, { __index = function() called = true end }))
      local r = repl.complete("zz_t.a.b")
      rawset(_G, "zz_t", nil)
      assert.same({}, r)
      assert.is_false(called)
    end)
  end)

  describe("show", function()
    it("prints nested tables with the array part first and sorted keys", function()
      assert.equal('{ 3, "a\\nb", { b = { c = 2.5 }, z = 1 }, k = true, ["x y"] = 0 }',
        repl.show({ 3, "a\nb", { z = 1, b = { c = 2.5 } }, k = true, ["x y"] = 0 }))
      assert.equal("{}", repl.show({}))
      assert.equal("{ [-1] = 2, [1.5] = 1 }", repl.show({ [1.5] = 1, [-1] = 2 }))
    end)

    it("marks cycles and bounds depth, width and the number of entries", function()
      local t = { name = "t" }
      t.self = t
      assert.equal('{ name = "t", self = <cycle> }', repl.show(t))
      assert.equal("{ { { { {...} } } } }", repl.show({ { { { { { 1 } } } } } }))
      local big = {}
      for i = 1, 100 do big[i] = i end
      local s = repl.show(big)
      assert.matches("... (60 more)", s, 1, true)
      for line in s:gmatch("[^\n]+") do assert.is_true(#line <= 78) end
    end)

    it("leaves userdata and tables with __tostring to tostring", function()
      assert.equal("vec{1, 2}", repl.show(hasme.vec{ 1, 2 }))
      local t = setmetatable({}, { __tostring = function() return "custom" end })
      assert.equal("custom", repl.show(t))
      assert.equal("{ vec{1} }", repl.show({ hasme.vec{ 1 } }))
    end)

    it("prints special floats readably", function()
      assert.equal("{ inf, -inf, nan, 0.1, 3 }", repl.show({ math.huge, -math.huge, 0 / 0, 0.1, 3 }))
    end)
  end)

  describe("hints", function()
    local saved
    before_each(function()
      saved = rawget(_G, "hasme")
      rawset(_G, "hasme", hasme)
    end)
    after_each(function() rawset(_G, "hasme", saved) end)

    it("suggests the nearest field of hasme by edit distance", function()
      assert.equal("hasme has no field 'simulte' (did you mean 'simulate'?)",
        repl.hints("local r = hasme.simulte{ eta = 0.1 }"))
      assert.equal("hasme.stats has no field 'wilsn' (did you mean 'wilson'?)",
        repl.hints("hasme.stats.wilsn(3, 10)"))
      assert.equal("hasme has no field 'zzzzzzz'", repl.hints("hasme.zzzzzzz"))
    end)

    it("says nothing when every field exists, or for other tables", function()
      assert.is_nil(repl.hints("hasme.simulate, hasme.stats.wilson"))
      assert.is_nil(repl.hints("myhasme.simulte, x.hasme2"))
    end)

    it("measures the Levenshtein distance", function()
      assert.equal(0, repl.distance("eig", "eig"))
      assert.equal(1, repl.distance("simulte", "simulate"))
      assert.equal(3, repl.distance("kitten", "sitting"))
      assert.equal(5, repl.distance("", "chol2"))
    end)
  end)

  describe("help", function()
    it("finds the entry of a function from its value or its name", function()
      local a = assert(repl.help_text(hasme.simulate, hasme))
      assert.matches("^### `hasme.simulate%(opts%)` %-> Result\n", a)
      assert.equal(a, repl.help_text("simulate", hasme))
      assert.matches("^### `stats.wilson%(k, n", repl.help_text(hasme.stats.wilson, hasme))
      assert.matches("^## quadratic\n", repl.help_text("quadratic", hasme))
    end)

    it("finds the methods of a userdata from its type", function()
      assert.matches("^### Vec methods\n", repl.help_text(hasme.vec{ 1 }, hasme))
    end)

    it("lists the topics and the functions without an argument", function()
      local t = repl.help_text(nil, hasme)
      assert.matches("\n  Noise\n", t, 1, true)
      assert.matches(" simulate ", t, 1, true)
    end)

    it("says what is missing, for unknown names and values", function()
      assert.same({ nil, "no help entry for 'frobnicate' (help() lists the topics)" },
        { repl.help_text("frobnicate", hasme) })
      assert.same({ nil, "no help for this function: it is not part of hasme" },
        { repl.help_text(print, hasme) })
      assert.same({ nil, "no help for a number value" }, { repl.help_text(3, hasme) })
    end)

    it("finds the installed docs under PREFIX/share/doc/hasme", function()
      local root = os.tmpname()
      os.remove(root)
      assert(os.execute(("mkdir -p %s/share/lua/5.4/hasme %s/share/doc/hasme"):format(root, root)))
      assert(io.open(root .. "/share/lua/5.4/hasme/init.lua", "w")):close()
      local f = assert(io.open(root .. "/share/doc/hasme/api.md", "w"))
      f:write("# x\n")
      f:close()
      local path = package.path
      package.path = root .. "/share/lua/5.4/?.lua;" .. root .. "/share/lua/5.4/?/init.lua;" .. path
      local dir = repl.docs_dir()
      package.path = path
      os.execute("rm -rf " .. root)
      assert.equal(root .. "/share/lua/5.4/../../../share/doc/hasme", dir)
    end)
  end)
end)
