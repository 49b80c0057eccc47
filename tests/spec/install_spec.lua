-- install_spec.lua: installing hasme. The rockspec (hasme-*.rockspec) installs into a
-- temporary LuaRocks tree and a stock lua5.4 requires the module from it, with the
-- paths `luarocks path` gives; `make install` into a temporary prefix puts the docs
-- where the REPL's help finds them. Without luarocks the rockspec test is skipped,
-- with a message.

local U = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "spec_util.lua")
local q = U.q
local function sh(cmd)
  local p = assert(io.popen(cmd .. " 2>&1; echo \"[exit $?]\""))
  local out = p:read("a")
  p:close()
  local status = tonumber(out:match("%[exit (%d+)%]\n$"))
  return status, (out:gsub("%[exit %d+%]\n$", ""))
end

local function tmpdir()
  local d = os.tmpname()
  os.remove(d)
  return d
end

local function rockspec()
  local p = assert(io.popen("ls hasme-*.rockspec"))
  local name = p:read("l")
  p:close()
  return name
end

describe("installation", function()
  it("installs with luarocks make into a tree that a stock lua5.4 requires hasme from", function()
    if sh("command -v luarocks >/dev/null") ~= 0 then
      print("# luarocks is not installed (make deps installs it): rockspec test skipped")
      pending("luarocks is not installed")
      return
    end
    local spec = assert(rockspec(), "no hasme-*.rockspec at the top level")
    local tree = tmpdir()
    -- The rock is the plain build, even when the suite runs in the sanitizer build
    -- (whose SAN and BUILD make would otherwise take from the environment and from
    -- the MAKEFLAGS of the make that runs the suite).
    local status, out = sh(("env -u SAN -u BUILD -u MAKEFLAGS -u MFLAGS -u MAKELEVEL luarocks --lua-version 5.4 --tree %s make %s")
      :format(q(tree), q(spec)))
    assert.equal(0, status, out)
    assert.matches("hasme %S+ is now installed in", out)
    status, out = sh(("eval \"$(luarocks --lua-version 5.4 --tree %s path)\" && cd / && "
      .. "lua5.4 -e 'local h = require \"hasme\"; print(h.version, type(h.simulate), "
      .. "package.searchpath(\"hasme.core\", package.cpath):find(%s, 1, true) == 1, "
      .. "require(\"hasme.repl\").docs_dir() ~= nil); "
      .. "local r = h.simulate{ objective = h.quadratic{ H = {{1}} }, eta = 0.5, steps = 2, x0 = {1}, paths = 2 }; "
      .. "print(r:mean()[1])'"):format(q(tree), "\"" .. tree .. "\""))
    os.execute("rm -rf " .. q(tree))
    assert.equal(0, status, out)
    assert.equal(require("hasme").version .. "\tfunction\ttrue\ttrue\n0.25\n", out)
  end)

  it("installs the docs with make install where help finds them", function()
    local prefix = tmpdir()
    local build = os.getenv("HASME_BUILD") or "build"
    local status, out = sh(("make --no-print-directory install PREFIX=%s BUILD=%s SAN=%s >/dev/null && "
      .. "%s/bin/hasme -e 'print(require(\"hasme.repl\").docs_dir())'"):format(
        q(prefix), q(build), build:find("san", 1, true) and "1" or "0", q(prefix)))
    local listing = select(2, sh("ls " .. q(prefix .. "/share/doc/hasme")))
    os.execute("rm -rf " .. q(prefix))
    assert.equal(0, status, out)
    assert.equal(prefix .. "/share/lua/5.4/../../../share/doc/hasme\n", out)
    assert.matches("api.md", listing, 1, true)
    assert.matches("README.md", listing, 1, true)
  end)
end)
