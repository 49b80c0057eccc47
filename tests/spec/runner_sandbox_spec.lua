-- runner_sandbox_spec.lua: `hasme run --sandbox` (and HASME_SANDBOX=1) on the fixture
-- tests/fixtures/experiments/sandbox/escape.lua, which tries one way out per value
-- of its param `how`: every blocked path raises an error that names the function and
-- says that the script runs sandboxed, including escapes through the string
-- metatable, load with and without an environment, hasme's own modules and Lua
-- callbacks on worker states; what is allowed still works; the wall-clock limit
-- stops a runaway script.
local h = require "tests.spec.runner_helpers"

local ESCAPE = h.FIX .. "sandbox/escape.lua"
local SANDBOXED = ": the script runs sandboxed (hasme run --sandbox)"

describe("hasme run --sandbox", function()
  local dir

  before_each(function() dir = h.tmpdir() end)
  after_each(function() h.rmtree(dir) end)

  local function attempt(how, extra)
    local args = { ESCAPE, "--sandbox", "--out", dir .. "/" .. how, "--quiet", "--set", "how=" .. how }
    for _, a in ipairs(extra or {}) do args[#args + 1] = a end
    return h.run(args)
  end

  it("runs what the sandbox allows: hasme, a module beside the experiment, workers", function()
    local status, stdout, stderr = attempt("none")
    assert.equal(0, status)
    assert.equal("", stderr)
    assert.matches("results in ", stdout, 1, true)
    local res = h.readjson(dir .. "/none/results.json")
    assert.same({ how = "none", square = 9 }, res.summary)
    assert.is_true(h.readjson(dir .. "/none/config.json").sandbox)
  end)

  for how, name in pairs {
    io_open = "io.open", io_write = "io.write", os_execute = "os.execute",
    os_remove = "os.remove", os_rename = "os.rename", os_exit = "os.exit",
    os_getenv = "os.getenv", loadlib = "package.loadlib", debug = "debug.getregistry",
    loadfile = "loadfile", dofile = "dofile", binary_mode = "load with mode 'b' (binary chunks)",
    load_env = "io.open", load_given_env = "io.open", require_sys = "require 'hasme.sys'",
    require_runner = "require 'hasme.runner'", require_up = "require '..secret'",
    report_write = "report.write", json_read = "json.read", plot = "plot.lines",
    collectgarbage = "collectgarbage('stop')",
  } do
    it("blocks " .. name .. " (" .. how .. ")", function()
      local status, _, stderr = attempt(how)
      assert.equal(1, status)
      assert.matches(name .. " is blocked" .. SANDBOXED, stderr, 1, true)
      local c = h.readjson(dir .. "/" .. how .. "/config.json")
      assert.equal("error", c.status)
      assert.matches(name .. " is blocked", c.error, 1, true)
    end)
  end

  it("finds no C module and no standard library through require", function()
    for _, how in ipairs { "require_c", "require_io" } do
      local status, _, stderr = attempt(how)
      assert.equal(1, status)
      assert.matches("not found (the sandbox looks only in " .. h.FIX .. "sandbox/)", stderr, 1, true)
    end
  end)

  it("compiles no binary chunk, even one made by string.dump", function()
    assert.equal(0, (attempt("binary")))
    assert.same({ how = "binary", result = "nil" }, h.readjson(dir .. "/binary/attempt.json"))
  end)

  it("gives the string metatable's __index without io, and no way to change it", function()
    local status, _, stderr = attempt("string_meta")
    assert.equal(1, status)
    assert.matches("attempt to call a nil value (field 'open')", stderr, 1, true)
    assert.equal(0, (attempt("string_meta_tamper")))
  end)

  it("writes through ctx into the run directory only, whatever ctx.out says", function()
    assert.equal(0, (attempt("ctx_out")))
    assert.is_true(h.exists(dir .. "/ctx_out/moved.json"))
  end)

  it("sandboxes Lua callbacks on worker states too", function()
    local status, _, stderr = attempt("worker")
    assert.equal(1, status)
    assert.matches("io.open is blocked" .. SANDBOXED, stderr, 1, true)
    status = attempt("worker_probe")
    assert.equal(0, status)
    local res = h.readjson(dir .. "/worker_probe/attempt.json")
    assert.is_true(tonumber(res.result) >= 1)   -- worker states ran the probe, which found no way out
  end)

  it("is what HASME_SANDBOX=1 asks for", function()
    local status, _, stderr = h.run({ ESCAPE, "--out", dir .. "/env", "--quiet", "--set",
      "how=os_execute" }, nil, { env = "HASME_SANDBOX=1" })
    assert.equal(1, status)
    assert.matches("os.execute is blocked" .. SANDBOXED, stderr, 1, true)
    -- without it, the same file may use os.execute
    status = h.run({ ESCAPE, "--out", dir .. "/plain", "--quiet", "--set", "how=ctx_out" })
    assert.equal(1, status)   -- not sandboxed: require "helper" does not look beside the file
  end)

  it("ends a runaway script at the time limit, even one that catches errors", function()
    for _, how in ipairs { "spin", "spin_catch", "spin_coroutine" } do
      local status, _, stderr = attempt(how, { "--time-limit", "1" })
      assert.equal(1, status)
      assert.equal("hasme run: time limit of 1 s exceeded (--time-limit)\n", stderr)
    end
  end)
end)
