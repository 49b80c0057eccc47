-- hasme.sandbox: the environment a shared experiment runs in with `hasme run
-- --sandbox` (or HASME_SANDBOX=1), and for `--list`. A language sandbox, not a
-- process jail: the script sees no io, no os.execute/remove/rename/exit/getenv/
-- tmpname, no package.loadlib, no debug, no loadfile/dofile, and load compiles text
-- only, into the sandbox unless given another environment. require finds hasme's
-- own modules (with their file-writing functions blocked: the runner writes the
-- results, through ctx) and Lua files under the experiment's directory. What the
-- sandbox does and does not protect against: docs/sandbox.md.
local M = {}

local type, pairs, rawget, setmetatable, tostring = type, pairs, rawget, setmetatable, tostring
local fmt = string.format

--- The message of a blocked call: it names the function and says why.
function M.blocked_message(name)
  return fmt("%s is blocked: the script runs sandboxed (hasme run --sandbox)", name)
end

local function blocker(name)
  return function() error(M.blocked_message(name), 2) end
end

-- A shallow copy of a library table, so the script cannot change the one hasme uses.
local function libcopy(t, blocked, prefix)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  for _, k in ipairs(blocked or {}) do c[k] = blocker(prefix .. "." .. k) end
  return c
end

-- A table every field of which is a blocker naming prefix.field.
local function blocked_lib(prefix)
  return setmetatable({}, {
    __index = function(_, k) return blocker(prefix .. "." .. tostring(k)) end,
    __newindex = function() error(M.blocked_message(prefix), 2) end,
    __metatable = false,
  })
end

-- hasme's modules as the sandbox sees them: the real module, copied, with what
-- writes or reads files blocked.
local HASME_MODULES = {
  ["hasme"] = {},
  ["hasme.stats"] = {},
  ["hasme.json"] = { "read" },
  ["hasme.report"] = { "write", "write_json" },
  ["hasme.plot"] = { "figure", "histograms", "survival", "loglog", "lines" },
  ["hasme.sweep"] = {},
}

local function filtered(name, loaded)
  local real = require(name)
  local c = libcopy(real, HASME_MODULES[name], name == "hasme" and "hasme" or name:gsub("^hasme%.", ""))
  if name == "hasme" then
    for sub, modname in pairs { stats = "hasme.stats", json = "hasme.json", plot = "hasme.plot" } do
      c[sub] = loaded[modname] or filtered(modname, loaded)
      loaded[modname] = c[sub]
    end
  end
  return c
end

--- A new sandbox environment for the experiment file at path: env, to be the
-- chunk's _ENV. Modules required from it are cached in the sandbox itself.
function M.env(path)
  local dir = path:match("^(.*)/[^/]*$") or "."
  local env = {}
  local loaded = {}
  for _, k in ipairs { "assert", "error", "ipairs", "next", "pairs", "pcall", "print",
                       "rawequal", "rawget", "rawlen", "rawset", "select", "setmetatable",
                       "tonumber", "tostring", "type", "xpcall", "_VERSION" } do
    env[k] = _G[k]
  end
  env.string = libcopy(string)
  env.table = libcopy(table)
  env.math = libcopy(math)
  env.utf8 = libcopy(utf8)
  env.coroutine = libcopy(coroutine)
  env.os = libcopy({ clock = os.clock, date = os.date, difftime = os.difftime, time = os.time },
    { "execute", "remove", "rename", "exit", "getenv", "tmpname", "setlocale" }, "os")
  env.io = blocked_lib("io")
  env.debug = blocked_lib("debug")
  env.loadfile = blocker("loadfile")
  env.dofile = blocker("dofile")
  env._G = env
  -- The string metatable is shared by every string of the process: the script gets
  -- a copy whose __index is its own string table.
  local strmeta = { __index = env.string }
  function env.getmetatable(v)
    if type(v) == "string" then return strmeta end
    return getmetatable(v)
  end
  function env.collectgarbage(opt, ...)
    if opt == nil or opt == "collect" or opt == "count" or opt == "step" or opt == "isrunning" then
      return collectgarbage(opt, ...)
    end
    error(M.blocked_message("collectgarbage('" .. tostring(opt) .. "')"), 2)
  end
  function env.load(chunk, name, mode, e)
    if mode ~= nil and mode ~= "t" then
      error(M.blocked_message("load with mode '" .. tostring(mode) .. "' (binary chunks)"), 2)
    end
    if type(chunk) == "string" and chunk:byte(1) == 27 then
      return nil, M.blocked_message("load of a binary chunk")
    end
    return load(chunk, name, "t", e == nil and env or e)
  end
  env.package = {
    loadlib = blocker("package.loadlib"),
    searchpath = blocker("package.searchpath"),
    loaded = loaded,
    path = dir .. "/?.lua",
    cpath = "",
  }
  function env.require(name)
    if type(name) ~= "string" then
      error("bad argument #1 to 'require' (string expected, got " .. type(name) .. ")", 2)
    end
    if loaded[name] ~= nil then return loaded[name] end
    if HASME_MODULES[name] then
      loaded[name] = filtered(name, loaded)
      return loaded[name]
    end
    if name:match("^hasme") or not name:match("^[%w_]+[%w_%.]*$") or name:find("..", 1, true) then
      error(M.blocked_message("require '" .. name .. "'") .. "; it finds hasme, hasme.stats, "
        .. "hasme.json, hasme.report, hasme.plot, hasme.sweep and Lua files under " .. dir, 2)
    end
    local file = dir .. "/" .. name:gsub("%.", "/") .. ".lua"
    local f = io.open(file, "rb")
    if not f then
      error(("module '%s' not found (the sandbox looks only in %s/)"):format(name, dir), 2)
    end
    local src = f:read("a")
    f:close()
    local fn, err = load(src, "@" .. file, "t", env)
    if not fn then error(err, 2) end
    local v = fn(name, file)
    if v == nil then v = true end
    loaded[name] = v
    return v
  end
  return env
end

--- Load the text of the experiment file at path as a chunk: into the sandbox when
-- sandboxed (binary chunks refused), else into the global environment. Returns
-- the function, or nil and the message.
function M.loadfile(path, sandboxed)
  if not sandboxed then return loadfile(path, "t") end
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local src = f:read("a")
  f:close()
  src = src:gsub("^#[^\n]*", "")   -- a #! line, as loadfile skips it
  return load(src, "@" .. path, "t", M.env(path))
end

--- Whether HASME_SANDBOX asks for the sandbox (1, true, yes, on).
function M.requested_by_env()
  local v = os.getenv("HASME_SANDBOX")
  return v ~= nil and (v == "1" or v:lower() == "true" or v:lower() == "yes" or v:lower() == "on")
end


return M
