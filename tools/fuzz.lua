-- tools/fuzz.lua: a fuzzer of hasme's Lua API. It walks every function of
-- `require "hasme"` (and of its subtables), every method and metamethod of every
-- userdata type, and calls each with generated arguments: nil, wrong types, empty and
-- ragged tables, NaN, inf, -0, 1e308, 2^53, math.maxinteger, negative and zero sizes,
-- non-square / non-symmetric / non-PSD matrices, long strings, tables whose
-- metamethods raise, callbacks that raise, yield, re-enter hasme or return the wrong
-- type or NaN, option tables with misspelt or mutated fields.
--
-- Call i of a campaign with seed S draws everything from its own generator,
-- hasme.rng(S, i), so any call is replayed alone with one command. A Lua error is
-- fine; a finding is a crash, an abort, a sanitizer report, a hang (a call running
-- over 10 s) or an error message that names neither the argument nor the function
-- (it must contain "bad argument", or name the function: "name: ...", "'name'", or,
-- for an operator, describe the operands; errors raised by the fuzzer's own
-- callbacks and metamethods, marked FUZZ-RAISED, may propagate unchanged).
--
--   hasme tools/fuzz.lua [--calls N] [--seed S] [--chunk K] [--hasme PATH]
--       runs calls 1..N in child processes of K calls each, under `timeout`,
--       and prints the findings with the command that replays each, then a summary
--   hasme tools/fuzz.lua --seed S --call I     replays call I alone, verbosely
--   hasme tools/fuzz.lua --list                lists the targets
-- docs/testing.md describes the campaigns and their figures.

local hasme = require "hasme"

local fmt, floor = string.format, math.floor
local MARK = "FUZZ-RAISED"     -- in every error the fuzzer raises itself
local HANG = 10                -- seconds a call may take before it counts as a hang

-- {==================================================================
-- Options
-- ===================================================================

local opts = { calls = 3000, seed = 1, chunk = 250, hasme = nil, child = false,
               from = nil, to = nil, call = nil, list = false, verbose = false }
do
  local i = 1
  while i <= #arg do
    local a = arg[i]
    local function val()
      i = i + 1
      if arg[i] == nil then error("fuzz: " .. a .. " needs a value", 0) end
      return arg[i]
    end
    if a == "--calls" then opts.calls = assert(math.tointeger(tonumber(val())), "--calls: integer")
    elseif a == "--seed" then opts.seed = assert(math.tointeger(tonumber(val())), "--seed: integer")
    elseif a == "--chunk" then opts.chunk = assert(math.tointeger(tonumber(val())), "--chunk: integer")
    elseif a == "--hasme" then opts.hasme = val()
    elseif a == "--child" then opts.child = true
    elseif a == "--from" then opts.from = assert(math.tointeger(tonumber(val())))
    elseif a == "--to" then opts.to = assert(math.tointeger(tonumber(val())))
    elseif a == "--call" then opts.call = assert(math.tointeger(tonumber(val())), "--call: integer")
    elseif a == "--list" then opts.list = true
    elseif a == "--verbose" then opts.verbose = true
    else error("fuzz: unknown option " .. a, 0) end
    i = i + 1
  end
end

-- }==================================================================

-- {==================================================================
-- Random choices (from the call's own generator)
-- ===================================================================

local G = hasme.rng(0, 0)   -- the generator of the current call (set per call)

local function int(n) return floor(G:uniform() * n) + 1 end   -- 1..n
local function chance(p) return G:uniform() < p end
local function pick(t) return t[int(#t)] end

-- }==================================================================

-- {==================================================================
-- Values
-- ===================================================================

local SPECIAL = { 0 / 0, 1 / 0, -1 / 0, -0.0, 1e308, -1e308, 2 ^ 53, math.maxinteger,
                  math.mininteger, 0, -1, -2, 1, 2, 3, 0.5, 1e-300, 2 ^ 40, 2 ^ 63, 4097 }
local SMALL = { 1, 2, 3, 0.37, -0.81, 1.5, 2.25, -3.1 }
local WORDS = { "", "x", "sgd", "sme1", "sme2", "hasme", "svag", "euler", "exact", "all",
                "value", "dist2", "x1", "x1x2", "record", "error", "project", "4G", "1e3",
                "nan", "0x10", "\0", "cov", "f" }
local LONG = string.rep("ab", 50000)

-- Instances of every userdata type, made fresh for each use.
local makers = {}

local function num()
  if chance(0.5) then return pick(SPECIAL) end
  return pick(SMALL)
end

local function numtable(n)
  local t = {}
  for i = 1, n do t[i] = chance(0.9) and pick(SMALL) or num() end
  return t
end

local function mattable(r, c)
  local t = {}
  for i = 1, r do t[i] = numtable(c) end
  return t
end

local function sym(n, psd)
  local t = mattable(n, n)
  for i = 1, n do
    for j = 1, i - 1 do t[i][j] = t[j][i] end
    t[i][i] = psd and (n + math.abs(t[i][i])) or t[i][i]
  end
  return t
end

-- A table whose metamethods raise, or lie about its length, or shrink as it is read.
local function hostile()
  local k = int(5)
  if k == 1 then
    return setmetatable({}, { __index = function() error(MARK .. " __index", 0) end,
                              __len = function() return 3 end })
  elseif k == 2 then
    return setmetatable({ 1, 2 }, { __len = function() error(MARK .. " __len", 0) end })
  elseif k == 3 then
    return setmetatable({}, { __len = function() return -1 end })
  elseif k == 4 then
    -- rows that are vectors of length 2, then of length 1 (read twice by hasme.mat)
    local n = 0
    return setmetatable({}, { __len = function() return 2 end,
      __index = function()
        n = n + 1
        return hasme.vec(n <= 2 and { 1, 2 } or { 1 })
      end })
  else
    return setmetatable({ 1, 2 }, { __tostring = function() error(MARK .. " __tostring", 0) end,
                                    __eq = function() error(MARK .. " __eq", 0) end })
  end
end

local value   -- forward

-- An error object whose __tostring raises.
local function badobject()
  return setmetatable({}, { __tostring = function() error(MARK .. " tostring of an error") end })
end

-- A callback: most return something plausible for x; others misbehave.
local function callback(dimhint)
  local k = int(12)
  if k == 1 then return function() error(MARK .. " callback") end
  elseif k == 2 then return function() error(badobject()) end
  elseif k == 3 then return function() coroutine.yield(1) end
  elseif k == 4 then return function() return 0 / 0 end
  elseif k == 5 then return function() return "text" end
  elseif k == 6 then return function() return nil end
  elseif k == 7 then return function(x) return x end
  elseif k == 8 then return function(x) return hasme.eye(type(x) == "number" and 1 or #x) end
  elseif k == 9 then   -- re-enters hasme with another dimension
    local nz = makers.noise_state()
    return function(x)
      if type(x) == "number" then x = { x } end   -- callbacks of scalars (matfun)
      nz:cov(hasme.vec(#x + 1)); return nz:cov(x)
    end
  elseif k == 10 then return function() return { 1, 2, { 3 } } end
  elseif k == 11 then return function(x)
      if type(x) == "number" then return x * x end
      local s = 0; for i = 1, #x do s = s + x[i] * x[i] end; return s
    end
  else return function(x)
      local n = type(x) == "number" and 1 or #x
      return hasme.mat(n, n + (dimhint or 1))
    end end
end

makers = {
  vec = function() return hasme.vec(numtable(int(4) - 1)) end,
  mat = function() return hasme.mat(mattable(int(3), int(3))) end,
  rng = function() return hasme.rng(int(100), int(5)) end,
  quadratic = function() return hasme.quadratic { H = sym(2, true), b = { 0.3, -0.2 } } end,
  objective = function()
    local o
    o = hasme.objective { dim = 2, f = function(x) return o and x[1] * x[1] + x[2] * x[2] or 0 end }
    return o
  end,
  badobjective = function() return hasme.objective { dim = 2, f = callback(), grad = callback() } end,
  noise_iso = function() return hasme.gaussian { sigma = 0.3 } end,
  noise_const = function() return hasme.gaussian { cov = sym(2, true) } end,
  noise_state = function() return hasme.gaussian { cov = function(x) return hasme.eye(#x) end } end,
  noise_bad = function() return hasme.gaussian { cov = callback() } end,
  minibatch = function() return hasme.minibatch { batch = 2 } end,
  halfspace = function() return hasme.escape.halfspace({ 1, 0 }, 0.5) end,
  ball = function() return hasme.escape.ball_exit({ 0, 0 }, 1) end,
  below = function() return hasme.escape.value_below(0.1) end,
  nn = function()
    return hasme.nn { X = { { 1, 0 }, { 0, 1 }, { 1, 1 } }, y = { 1, 0, 1 }, hidden = 2 }
  end,
  result = function()
    return hasme.simulate { objective = makers.quadratic(), noise = makers.noise_iso(),
                            eta = 0.1, steps = 3, x0 = { 0.5, -0.5 }, paths = 8, seed = 3 }
  end,
  released = function()
    local u = pick { makers.objective, makers.noise_state, makers.noise_iso, makers.halfspace,
                     makers.quadratic }()
    getmetatable(u).__gc(u)
    return u
  end,
}
local MAKERS = {}
for k in pairs(makers) do MAKERS[#MAKERS + 1] = k end
table.sort(MAKERS)

local function instance(name) return makers[name or pick(MAKERS)]() end

value = function(depth)
  depth = depth or 0
  local k = int(depth > 1 and 8 or 14)
  if k == 1 then return nil
  elseif k == 2 then return chance(0.5)
  elseif k == 3 or k == 4 then return num()
  elseif k == 5 then return chance(0.1) and LONG or pick(WORDS)
  elseif k == 6 then return numtable(int(5) - 1)
  elseif k == 7 then return instance()
  elseif k == 8 then return callback()
  elseif k == 9 then   -- matrices: square or not, symmetric or not, PSD or not, ragged
    local n = int(4) - 1
    local m = pick { function() return mattable(n, n) end, function() return sym(n, true) end,
                     function() return sym(n, false) end, function() return mattable(n, n + 1) end,
                     function() local t = mattable(2, 2); t[2] = { 1 }; return t end }()
    return chance(0.3) and hasme.mat(m) or m
  elseif k == 10 then return hostile()
  elseif k == 11 then return {}
  elseif k == 12 then return coroutine.create(function() end)
  elseif k == 13 then   -- a table of random values
    local t = {}
    for i = 1, int(4) - 1 do t[i] = value(depth + 1) end
    return t
  else return { [value(depth + 1) or 1] = value(depth + 1) } end
end

-- }==================================================================

-- {==================================================================
-- Option tables for the functions that take one: a valid template, then mutations
-- ===================================================================

-- Sizes that are never large enough to make a run long (a long run is work, not a bug).
local function runsize() return pick { -1, 0, 1, 2, 3, 5, 0.5, 0 / 0, 1 / 0, 2 ^ 53,
                                        math.maxinteger, "3", -0.0 } end

local templates = {
  quadratic = function() return { H = sym(2, true), b = numtable(2) } end,
  objective = function() return { dim = 2, f = callback(), grad = callback(), hess = callback() } end,
  wells = function() return { dim = 2, Q = sym(2, false), tilt = numtable(2) } end,
  saddle = function() return { lambda = numtable(2), quartic = num() } end,
  rosenbrock = function() return { dim = int(3), a = num(), b = num() } end,
  nn = function() return { X = mattable(3, 2), y = numtable(3), hidden = int(3), decay = 0.1 } end,
  gaussian = function()
    return pick { { sigma = num() }, { cov = sym(2, chance(0.5)) }, { cov = callback() },
                  { cov = callback(), dim = int(3) } }
  end,
  minibatch = function() return { batch = int(3), replace = chance(0.5) } end,
  simulate = function()
    local nn = chance(0.1)
    local t = { objective = nn and makers.nn() or pick { makers.quadratic, makers.objective,
                                                      makers.objective, makers.badobjective }(),
             noise = nn and makers.minibatch() or pick { makers.noise_iso, makers.noise_const,
                            makers.noise_state, makers.noise_state, makers.noise_bad }(),
             method = pick { "sgd", "sme1", "sme2", "hasme" },
             eta = pick { 0.1, 0.05, 0.2 }, steps = int(4),
             x0 = nn and numtable(9) or { 0.3, -0.4 },
             paths = pick { 8, 16, 17, 40 }, seed = int(9), threads = pick { 1, 2, 3 },
             escape = chance(0.3) and pick { makers.halfspace, callback }() or nil,
             record = chance(0.2) and "all" or nil,
             progress = chance(0.2) and callback() or nil }
    if chance(0.25) then   -- enough work (paths x steps x substeps) for worker states
      t.paths, t.steps, t.threads = 256, 8, pick { 2, 3 }
    end
    return t
  end,
  compare = function()
    return { methods = { "sgd", "hasme" }, objective = makers.quadratic(), noise = makers.noise_iso(),
             eta = 0.1, steps = int(3), x0 = { 0.1, 0.2 }, paths = 8, seed = 2 }
  end,
  exact_moments = function()
    return { objective = makers.quadratic(), noise = makers.noise_const(), eta = 0.1,
             steps = int(3), x0 = { 0.1, 0.2 }, method = pick { "sgd", "sme1", "hasme" } }
  end,
}
local SIZEFIELDS = { steps = true, paths = true, substeps = true, svag_l = true }

local function mutate(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  if chance(0.4) then return t end   -- valid as made: reaches the callbacks and the run
  for _ = 1, int(2) do
    local k = pick(keys)
    if SIZEFIELDS[k] then t[k] = runsize()
    else t[k] = value(1) end
  end
  if #keys > 0 and chance(0.15) then   -- a misspelt option
    local k = pick(keys)
    t[k .. "s"], t[k] = t[k], nil
  end
  if chance(0.05) then t[value(2) or "x"] = 1 end
  return t
end

-- }==================================================================

-- {==================================================================
-- Targets
-- ===================================================================

local targets = {}

-- Each target is called through a local of its own name, as a script would call it,
-- so that error messages can name it (a function called from pcall has no name).
local function add(name, fn, kind, self, short)
  local id = short:match("^[%a_][%w_]*$") and short or "f"
  local call = load(fmt("local %s = ...\nreturn function(...)\n  local r = table.pack(%s(...))\n"
                        .. "  return table.unpack(r, 1, r.n)\nend", id, id))(fn)
  targets[#targets + 1] = { name = name, fn = call, kind = kind, self = self, short = short }
end

-- File-writing and process-starting functions are left out (hasme.plot runs gnuplot).
-- hasme.mpi.abort ends the process by design; hasme.mpi.alone calls its argument
-- and passes its errors through unchanged, as pcall does.
local SKIP = { ["hasme.plot"] = true, ["hasme.clock"] = true, ["hasme.mpi.abort"] = true,
               ["hasme.mpi.alone"] = true }

local function walk(t, prefix)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do
    local v, name = t[k], prefix .. "." .. k
    if not SKIP[name] then
      if type(v) == "function" then add(name, v, "func", nil, k)
      elseif type(v) == "table" and prefix == "hasme" and k ~= "plot" then walk(v, name) end
    end
  end
end
walk(hasme, "hasme")

-- Methods and metamethods of each userdata type.
local TYPES = { vec = "vec", mat = "mat", rng = "rng", objective = "quadratic",
                noise = "noise_state", escape = "halfspace", result = "result" }
-- The instances a method is called on: every kind of its type, released ones too.
local SELVES = { objective = { "quadratic", "objective", "badobjective", "nn", "released" },
                 noise_state = { "noise_iso", "noise_const", "noise_state", "noise_bad",
                                 "minibatch", "released" },
                 halfspace = { "halfspace", "ball", "below", "released" } }
do
  local tnames = {}
  for k in pairs(TYPES) do tnames[#tnames + 1] = k end
  table.sort(tnames)
  for _, tn in ipairs(tnames) do
    local mk = TYPES[tn]
    local u = makers[mk]()
    local mt = getmetatable(u)
    local methods = mt.__index
    if type(methods) == "function" then
      local _, up = debug.getupvalue(methods, 1)
      methods = type(up) == "table" and up or {}
    end
    local names = {}
    for k in pairs(methods) do names[#names + 1] = k end
    table.sort(names)
    for _, k in ipairs(names) do add(mt.__name .. ":" .. k, methods[k], "method", mk, k) end
    local metas = {}
    for k, v in pairs(mt) do if type(v) == "function" then metas[#metas + 1] = k end end
    table.sort(metas)
    for _, k in ipairs(metas) do add(mt.__name .. "." .. k, mt[k], "meta", mk, k) end
  end
end

-- Known findings, left out of the campaigns until they are fixed: these metamethods
-- are called only on a value of their own type. hasme.Result's __index does not
-- check the type of self (a direct call on another userdata reads arbitrary memory).
local KNOWN = {}

-- The runs, which exercise callbacks on worker states, are drawn more often.
local HEAVY = { ["hasme.simulate"] = 12, ["hasme.compare"] = 2, ["hasme.objective"] = 3,
                ["hasme.gaussian"] = 2, ["hasme.hessian"] = 2 }
local WEIGHTED = {}
for _, t in ipairs(targets) do
  for _ = 1, HEAVY[t.name] or 1 do WEIGHTED[#WEIGHTED + 1] = t end
end

-- }==================================================================

-- {==================================================================
-- One call
-- ===================================================================

-- The arguments of a call to target t.
local function arguments(t)
  local args, n = {}, int(4) - 1
  if t.kind ~= "func" then
    args[1] = (chance(0.85) or KNOWN[t.name])
              and instance(SELVES[t.self] and pick(SELVES[t.self]) or t.self) or value()
    for i = 2, n + 1 do args[i] = value() end
    return args, math.max(n + 1, 1)
  end
  local tmpl = templates[t.short]
  if tmpl and chance(0.8) then
    args[1] = mutate(tmpl())
    for i = 2, n do args[i] = value() end
    return args, math.max(n, 1)
  end
  for i = 1, n do args[i] = value() end
  return args, n
end

-- Whether an error message names the argument or the function t.
local OPERATOR = { "shape mismatch", "attempt to", "cannot ", "index", "only division",
                   "hasme%.%a+ expected", "vector element", "row of length" }
local function named(t, msg)
  if type(msg) ~= "string" then return true end   -- an error object passed through
  if msg:find(MARK, 1, true) then return true end
  msg = msg:gsub("^[^\n:]*:%d+: ", "")
  if msg:find("bad argument", 1, true) then return true end
  -- lauxlib's form of a bad argument #1 of a method ("calling 'cov' on bad self ...")
  if msg:find("^calling '[%w_]+' on bad self") then return true end
  local short = t.short:gsub("^__", "")
  -- "name: ...", "hasme.name: ...", "json.name: ...", "hasme.stats.name: ..."
  if msg:find("^[%w_%.]*" .. short .. "[:%s]") or msg:find("'" .. short .. "'", 1, true) then
    return true
  end
  if t.kind == "meta" then
    for _, p in ipairs(OPERATOR) do if msg:find(p) then return true end end
  end
  return false
end

local function describe(v, depth)
  depth = depth or 0
  local tv = type(v)
  if tv == "string" then return #v > 40 and fmt("<string of %d bytes>", #v) or fmt("%q", v) end
  if tv ~= "table" or depth > 1 then
    local ok, s = pcall(tostring, v)
    return ok and s or "<" .. tv .. ">"
  end
  if getmetatable(v) then return "<table with metatable>" end
  local parts = {}
  for k, x in pairs(v) do
    parts[#parts + 1] = fmt("[%s]=%s", describe(k, depth + 1), describe(x, depth + 1))
    if #parts > 8 then parts[#parts + 1] = "..."; break end
  end
  return "{" .. table.concat(parts, ", ") .. "}"
end

-- Run call i: returns the target, and the error message when it is a finding.
local function runcall(seed, i, verbose)
  G = hasme.rng(seed, i)
  local t = pick(WEIGHTED)
  local ok, args, n = pcall(arguments, t)
  if not ok then return t, nil end   -- making an argument failed (a released maker...)
  if verbose then
    print(fmt("call %d: %s(%s)", i, t.name, (function()
      local s = {}
      for k = 1, n do s[k] = describe(args[k]) end
      return table.concat(s, ", ")
    end)()))
  end
  local start = os.clock()
  debug.sethook(function()
    if os.clock() - start > HANG then error("FUZZ-HANG: call ran over " .. HANG .. " s", 0) end
  end, "", 10000)
  local co = coroutine.create(function() return pcall(t.fn, table.unpack(args, 1, n)) end)
  local cok, pok, err = coroutine.resume(co)
  debug.sethook()
  if verbose then print("result:", cok, pok, type(err) == "string" and err:sub(1, 300) or describe(err)) end
  if not cok then return t, "error outside pcall: " .. tostring(pok) end
  if pok == false and type(err) == "string" and err:find("FUZZ-HANG", 1, true) then
    return t, err
  end
  if pok == false and not named(t, err) then return t, err end
  return t, nil
end

-- }==================================================================

if opts.list then
  for _, t in ipairs(targets) do print(t.kind, t.name) end
  print(#targets .. " targets")
  return
end

if opts.call then
  local t, bad = runcall(opts.seed, opts.call, true)
  print(bad and ("finding: " .. t.name .. ": " .. bad) or "no finding")
  collectgarbage()
  return
end

if opts.child then
  io.stdout:setvbuf("line")
  for i = opts.from, opts.to do
    io.stdout:write("@", i, "\n")
    local t, bad = runcall(opts.seed, i, false)
    if bad then io.stdout:write(fmt("!%d %s %s\n", i, t.name, (bad:gsub("\n", " ")))) end
    if i % 25 == 0 then collectgarbage() else collectgarbage("step") end
  end
  collectgarbage()
  io.stdout:write("#done\n")
  return
end

-- {==================================================================
-- The driver: chunks in child processes under a timeout
-- ===================================================================

local exe = opts.hasme or (os.getenv("HASME_BUILD") or "build") .. "/hasme"
local script = arg[0]
local CHUNK_TIMEOUT = 300   -- seconds; a call looping in C shows up as a killed chunk
local counts = { calls = 0, crashes = 0, sanitizer = 0, hangs = 0, messages = 0 }
local findings = {}

local function finding(kind, i, what)
  counts[kind] = counts[kind] + 1
  findings[#findings + 1] = fmt("%s at call %d: %s\n  replay: %s %s --seed %d --call %d",
                                kind, i, what, exe, script, opts.seed, i)
end

local t0 = os.time()
local i = 1
while i <= opts.calls do
  local last = math.min(opts.calls, i + opts.chunk - 1)
  local cmd = fmt("timeout -s KILL %d %s %s --child --seed %d --from %d --to %d </dev/null 2>&1",
                  CHUNK_TIMEOUT, exe, script, opts.seed, i, last)
  local p = assert(io.popen(cmd))
  local started, done, report = i - 1, false, {}
  for line in p:lines() do
    local at = line:match("^@(%d+)$")
    if at then started = tonumber(at)
    elseif line == "#done" then done = true
    elseif line:sub(1, 1) == "!" then
      local ci, name, msg = line:match("^!(%d+) (%S+) (.*)$")
      if msg and msg:find("FUZZ-HANG", 1, true) then finding("hangs", tonumber(ci), name)
      else finding("messages", tonumber(ci) or 0, fmt("%s: %s", name, msg)) end
    elseif line:find("Sanitizer") or line:find("runtime error:") or line:find("PANIC") then
      report[#report + 1] = line
    end
  end
  local _, how, code = p:close()
  counts.calls = counts.calls + (done and (last - i + 1) or (started - i + 1))
  local name = (function()
    G = hasme.rng(opts.seed, started)
    return pick(WEIGHTED).name
  end)()
  if #report > 0 then
    finding("sanitizer", started, name .. ": " .. report[1])
  elseif not done and how == "signal" or (not done and code == 137) then
    finding("hangs", started, name .. fmt(" (killed after %d s)", CHUNK_TIMEOUT))
  elseif not done then
    finding("crashes", started, fmt("%s (%s %s)", name, tostring(how), tostring(code)))
  end
  i = done and last + 1 or started + 1
end

for _, f in ipairs(findings) do print(f) end
print(fmt("fuzz: seed %d, %d calls over %d targets in %d s: %d crashes, %d sanitizer reports, "
          .. "%d hangs, %d unnamed messages", opts.seed, counts.calls, #targets,
          os.time() - t0, counts.crashes, counts.sanitizer, counts.hangs, counts.messages))
os.exit(#findings == 0 and 0 or 1)

-- }==================================================================
