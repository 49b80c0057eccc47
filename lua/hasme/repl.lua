-- hasme.repl: what the interactive prompt of the hasme executable adds to a plain
-- Lua prompt: help() from the API reference, Tab completion of names, fields and
-- methods, readable printing of plain tables, and "did you mean" hints for a
-- misspelt field of hasme. src/main.c calls these functions; nothing here runs
-- when a script is executed.
local M = {}

local KEYWORDS = {
  "and", "break", "do", "else", "elseif", "end", "false", "for", "function", "goto",
  "if", "in", "local", "nil", "not", "or", "repeat", "return", "then", "true",
  "until", "while",
}

-- {=====================================================================
-- Locating the documentation
--
-- The docs are found from where the Lua library was found, as the executable
-- finds the library: ROOT/lua/hasme/init.lua in a source tree has its docs in
-- ROOT/docs; PREFIX/share/lua/5.4/hasme/init.lua (make install) has them in
-- PREFIX/share/doc/hasme; a LuaRocks tree has them beside the Lua files, in
-- hasme/doc. HASME_DOCS names another directory.
-- =====================================================================

local function readable(path)
  local f = io.open(path, "r")
  if f then f:close() end
  return f ~= nil
end

--- The directory holding api.md, or nil and the places that were tried.
function M.docs_dir()
  local tried = {}
  local env = os.getenv("HASME_DOCS")
  if env and env ~= "" then
    tried[#tried + 1] = env
    if readable(env .. "/api.md") then return env end
  end
  local init = package.searchpath("hasme", package.path)
  if init then
    local lib = init:match("^(.*)/hasme/init%.lua$") or "."
    local candidates = {
      lib .. "/../docs",                            -- source tree: ROOT/lua
      lib .. "/../../../share/doc/hasme",           -- PREFIX/share/lua/5.4
      lib .. "/hasme/doc",                          -- a LuaRocks tree
    }
    for _, dir in ipairs(candidates) do
      tried[#tried + 1] = dir
      if readable(dir .. "/api.md") then return dir end
    end
  end
  return nil, tried
end

-- }=====================================================================

-- {=====================================================================
-- help
-- =====================================================================

local api_cache

-- The pages help searches, in this order.
local PAGES = { "api.md", "stats.md", "objectives.md", "experiments-howto.md", "cli.md" }

-- The sections of the pages: a list of {level, title, first, stop, lines} (the
-- lines of its page, first..stop the section's range). A section ends where the
-- next one of the same or a higher level starts. Headings inside code blocks are
-- not headings.
local function api_sections()
  if api_cache then return api_cache end
  local dir, tried = M.docs_dir()
  if not dir then
    return nil, "cannot find the documentation (api.md); looked in " .. table.concat(tried, ", ")
      .. "; set HASME_DOCS to the docs directory"
  end
  local all = {}
  for _, page in ipairs(PAGES) do
    local f = io.open(dir .. "/" .. page, "r")
    if f then
      local lines = {}
      for line in f:lines() do lines[#lines + 1] = line end
      f:close()
      local sections, fence = {}, false
      for i, line in ipairs(lines) do
        if line:match("^```") then fence = not fence end
        local hashes, title = line:match("^(#+)%s+(.*)$")
        if hashes and not fence then
          sections[#sections + 1] = { level = #hashes, title = title, first = i,
                                      lines = lines, page = page }
        end
      end
      for i, sec in ipairs(sections) do
        for j = i + 1, #sections do
          if sections[j].level <= sec.level then
            sec.stop = sections[j].first - 1
            break
          end
        end
        sec.stop = sec.stop or #lines
        all[#all + 1] = sec
      end
    end
  end
  api_cache = { sections = all }
  return api_cache
end

-- The dotted name under which v is reachable from the module table, searching
-- hasme and its sub-tables (hasme.stats, hasme.escape, ...), or nil.
local function name_of(v, hasme)
  for k, x in pairs(hasme) do
    if x == v and type(k) == "string" then return "hasme." .. k end
  end
  for k, sub in pairs(hasme) do
    if type(sub) == "table" and type(k) == "string" then
      for k2, x in pairs(sub) do
        if x == v and type(k2) == "string" then return "hasme." .. k .. "." .. k2 end
      end
    end
  end
  return nil
end

local function escape(s)
  return (s:gsub("[%^%$%(%)%%%.%[%]%*%+%-%?]", "%%%0"))
end

-- The section a query names, best first: a heading naming the function in code
-- (`hasme.x(`, `stats.x(` ...), a heading that is the name (objectives.md's
-- "## quadratic"), a heading containing the words; else the row of a table or the
-- innermost section whose text mentions the name in code. Returns the section, or
-- a table {lines, first, stop} of the lines to print.
local function find_section(api, query)
  local short = query:gsub("^hasme%.", "")
  local e = escape(short)
  local patterns = {
    "`hasme%." .. e .. "[%({%s`]",
    "`[%w_%.]*%.?" .. e .. "[%({%s`]",
    "^hasme%." .. e .. "$",
    "^" .. e .. "$",
    "^" .. e .. "[:%s]",
  }
  for _, pat in ipairs(patterns) do
    for _, sec in ipairs(api.sections) do
      if sec.title:find(pat) then return sec end
    end
  end
  local q = query:lower()
  for _, sec in ipairs(api.sections) do
    if sec.title:lower():find(q, 1, true) then return sec end
  end
  -- A mention in code: the row of a table (with the table's header), or the
  -- innermost section around it.
  local mention = "`" .. e .. "[%({%s`]"
  local tail = short:match("([%w_]+%.[%w_]+)$")
  for _, sec in ipairs(api.sections) do
    for i = sec.first, sec.stop do
      local line = sec.lines[i]
      if sec.title ~= "Contents" and (line:find("`hasme%." .. e .. "[%({%s`]")
          or line:find(mention) or (tail and line:find("`" .. escape(tail) .. "[%({%s`]"))) then
        local best = sec
        for _, inner in ipairs(api.sections) do
          if inner.lines == sec.lines and inner.first <= i and i <= inner.stop
              and inner.level > best.level then
            best = inner
          end
        end
        if best.title == "Contents" then goto next_line end
        if not line:match("^|") then return best end
        local top = i
        while top > best.first and sec.lines[top - 1]:match("^|") do top = top - 1 end
        local first, stop = i, i
        if top + 1 < i then first, stop = top, top + 1 end
        return { lines = sec.lines, first = first, stop = stop, row = first < i and i or nil,
                 title = best.title, page = best.page }
      end
      ::next_line::
    end
  end
  return nil
end

-- The text of the help for what (a function, a userdata, a table of the module, or
-- a name), or nil and an error message.
function M.help_text(what, hasme)
  local api, err = api_sections()
  if not api then return nil, err end
  if what == nil then
    local out = { "Topics (help(\"topic\") or help(hasme.name) prints an entry):" }
    for _, sec in ipairs(api.sections) do
      if sec.page == "api.md" and sec.level == 2 and sec.title ~= "Contents" then
        out[#out + 1] = "  " .. sec.title
      end
    end
    local names = {}
    for k, v in pairs(hasme) do
      if type(k) == "string" and type(v) == "function" then names[#names + 1] = k end
    end
    table.sort(names)
    out[#out + 1] = "Functions of hasme:"
    local line = " "
    for _, n in ipairs(names) do
      if #line + #n + 1 > 78 then
        out[#out + 1] = line
        line = " "
      end
      line = line .. " " .. n
    end
    out[#out + 1] = line
    out[#out + 1] = "Type a name and Tab to complete it; r:<Tab> lists the methods of r."
    return table.concat(out, "\n")
  end
  local query
  if type(what) == "string" then
    query = what
  elseif type(what) == "function" or type(what) == "table" then
    query = name_of(what, hasme)
    if not query then return nil, "no help for this " .. type(what) .. ": it is not part of hasme" end
  elseif type(what) == "userdata" then
    local mt = getmetatable(what)
    local tname = type(mt) == "table" and rawget(mt, "__name")
    if type(tname) ~= "string" then return nil, "no help for this userdata" end
    local noun = tname:gsub("^hasme%.", "")
    for _, sec in ipairs(api.sections) do
      if sec.title:find(noun .. " methods", 1, true)
          or sec.title:find("The " .. noun .. " object", 1, true) then
        query = sec.title
        break
      end
    end
    query = query or noun
  else
    return nil, "no help for a " .. type(what) .. " value"
  end
  local sec = find_section(api, query)
  if not sec then return nil, ("no help entry for '%s' (help() lists the topics)"):format(query) end
  local out = {}
  for i = sec.first, sec.stop do out[#out + 1] = sec.lines[i] end
  if sec.row then out[#out + 1] = sec.lines[sec.row] end
  if sec.row or sec.stop == sec.first then
    out[#out + 1] = ("(from the table in \"%s\", %s)"):format(sec.title, sec.page)
  end
  while #out > 0 and out[#out] == "" do out[#out] = nil end
  return table.concat(out, "\n")
end

--- help([what]): print the API reference's entry for what, or the list of topics.
function M.help(what)
  local text, err = M.help_text(what, require "hasme")
  print(text or err)
end

-- }=====================================================================

-- {=====================================================================
-- Printing values
-- =====================================================================

local IDENT = "^[%a_][%w_]*$"
local MAX_DEPTH, MAX_ITEMS, MAX_WIDTH = 4, 40, 78

local function is_plain(t)
  local mt = getmetatable(t)
  return mt == nil or (type(mt) == "table" and rawget(mt, "__tostring") == nil)
end

local function key_order(a, b)
  local ta, tb = type(a), type(b)
  if ta ~= tb then
    if ta == "number" then return true end
    if tb == "number" then return false end
    return ta < tb
  end
  if ta == "number" or ta == "string" then return a < b end
  return tostring(a) < tostring(b)
end

local function scalar(v)
  if type(v) == "string" then return ("%q"):format(v):gsub("\\\n", "\\n") end
  if math.type(v) == "float" then
    if v ~= v then return "nan" end
    if v == math.huge then return "inf" end
    if v == -math.huge then return "-inf" end
    return ("%.14g"):format(v)
  end
  return tostring(v)
end

-- Format a plain table: nested, keys sorted (the array part first, in order),
-- MAX_DEPTH levels and MAX_ITEMS entries per table at most, a table that contains
-- itself marked <cycle>. A table short enough is written on one line.
local function format(v, indent, seen, depth)
  if type(v) ~= "table" or not is_plain(v) then
    if type(v) == "table" or type(v) == "userdata" then return tostring(v) end
    return scalar(v)
  end
  if seen[v] then return "<cycle>" end
  if depth >= MAX_DEPTH then return "{...}" end
  seen[v] = true
  local n = #v
  local keys = {}
  for k in pairs(v) do
    if not (math.type(k) == "integer" and k >= 1 and k <= n) then keys[#keys + 1] = k end
  end
  table.sort(keys, key_order)
  local items, count, total = {}, 0, n + #keys
  local pad = indent .. "  "
  for i = 1, n do
    count = count + 1
    if count > MAX_ITEMS then break end
    items[#items + 1] = format(v[i], pad, seen, depth + 1)
  end
  for _, k in ipairs(keys) do
    count = count + 1
    if count > MAX_ITEMS then break end
    local ks = type(k) == "string" and k:match(IDENT) and k or "[" .. scalar(k) .. "]"
    items[#items + 1] = ks .. " = " .. format(v[k], pad, seen, depth + 1)
  end
  if total > MAX_ITEMS then items[#items + 1] = ("... (%d more)"):format(total - MAX_ITEMS) end
  seen[v] = nil
  if #items == 0 then return "{}" end
  local one = "{ " .. table.concat(items, ", ") .. " }"
  if #one + #indent <= MAX_WIDTH and not one:find("\n") then return one end
  return "{\n" .. pad .. table.concat(items, ",\n" .. pad) .. "\n" .. indent .. "}"
end

--- The text the prompt prints for a value: plain tables pretty-printed, anything
-- else as tostring does.
function M.show(v)
  if type(v) == "table" and is_plain(v) then return format(v, "", {}, 0) end
  return tostring(v)
end

--- Print the results of an expression, separated by tabs, as lua5.4 does.
function M.print(...)
  local n = select("#", ...)
  local out = {}
  for i = 1, n do out[i] = M.show((select(i, ...))) end
  io.stdout:write(table.concat(out, "\t"), "\n")
end

-- }=====================================================================

-- {=====================================================================
-- Completion
-- =====================================================================

-- The fields a value offers after "." (tables) or ":" (methods of tables and
-- userdata, found through the metatable's __index table, or the table a C
-- __index function keeps as its first upvalue).
local function fields(v, methods_only)
  local out, seen = {}, {}
  local function add(t, want_functions)
    if type(t) ~= "table" then return end
    for k, x in pairs(t) do
      if type(k) == "string" and k:match(IDENT) and not seen[k]
          and (not want_functions or type(x) == "function") then
        seen[k] = true
        out[#out + 1] = k
      end
    end
  end
  if type(v) == "table" then add(v, methods_only) end
  local mt = getmetatable(v)
  local guard = 0
  while type(mt) == "table" and guard < 8 do
    guard = guard + 1
    local index = rawget(mt, "__index")
    if type(index) == "function" then
      local _, up = debug.getupvalue(index, 1)
      add(up, true)
      break
    elseif type(index) == "table" then
      add(index, methods_only)
      mt = getmetatable(index)
    else
      break
    end
  end
  if type(v) == "string" then add(string, true) end
  return out
end

-- The value a dotted path ("hasme.stats") names in the globals, or nil. Only
-- plain field reads are made (no __index function is called), so completing
-- cannot run user code.
local function resolve(path)
  local v = _G
  for name in path:gmatch("[^%.:]+") do
    if type(v) ~= "table" then return nil end
    local x = rawget(v, name)
    if x == nil then
      local mt = getmetatable(v)
      local index = type(mt) == "table" and rawget(mt, "__index")
      if type(index) == "table" then x = rawget(index, name) end
    end
    v = x
  end
  return v
end

--- Completions of word (the identifier, with its dots and colons, before the
-- cursor): a sorted list of whole words.
function M.complete(word)
  local prefix, sep, partial = word:match("^(.-)([%.:])([%w_]*)$")
  local out = {}
  if prefix and prefix ~= "" and prefix:match("^[%a_][%w_%.]*$") then
    local v = resolve(prefix)
    if v == nil then return out end
    for _, k in ipairs(fields(v, sep == ":")) do
      if k:sub(1, #partial) == partial then out[#out + 1] = prefix .. sep .. k end
    end
  elseif word:match("^[%a_]?[%w_]*$") then
    local seen = {}
    for _, k in ipairs(fields(_G)) do
      if k:sub(1, #word) == word then
        out[#out + 1] = k
        seen[k] = true
      end
    end
    for _, k in ipairs(KEYWORDS) do
      if k:sub(1, #word) == word and not seen[k] then out[#out + 1] = k end
    end
  end
  table.sort(out)
  return out
end

-- }=====================================================================

-- {=====================================================================
-- Did you mean
-- =====================================================================

--- Levenshtein distance between two short strings.
function M.distance(a, b)
  local prev = {}
  for j = 0, #b do prev[j] = j end
  for i = 1, #a do
    local cur = { [0] = i }
    for j = 1, #b do
      local cost = a:byte(i) == b:byte(j) and 0 or 1
      cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
    end
    prev = cur
  end
  return prev[#b]
end

-- The closest field names of t to name, within a distance that grows with the
-- length of name (a third of it, at least 1, at most 3); none for names shorter
-- than 3 characters, which are close to too much.
local function closest(t, name)
  if #name < 3 then return {} end
  local limit = math.max(1, math.min(3, #name // 3))
  local best, bestd = {}, limit + 1
  for _, k in ipairs(fields(t)) do
    local d = M.distance(name:lower(), k:lower())
    if d < bestd then
      best, bestd = { k }, d
    elseif d == bestd then
      best[#best + 1] = k
    end
  end
  table.sort(best)
  return best
end

--- Hints for the chunk src: for each `hasme.a.b` it reads whose last field does
-- not exist, "hasme has no field 'simulte' (did you mean 'simulate'?)". Returns
-- the hints as one string, or nil.
function M.hints(src)
  local hasme = rawget(_G, "hasme")
  if type(hasme) ~= "table" or type(src) ~= "string" then return nil end
  local out, done = {}, {}
  for path in src:gmatch("%f[%w_%.]hasme%.([%a_][%w_%.]*)") do
    local owner, where = hasme, "hasme"
    for name in path:gmatch("[^%.]+") do
      if type(owner) ~= "table" then break end
      local v = owner[name]
      if v == nil then
        local key = where .. "." .. name
        if not done[key] then
          done[key] = true
          local near = closest(owner, name)
          local msg = ("%s has no field '%s'"):format(where, name)
          if #near > 0 then
            msg = msg .. " (did you mean '" .. table.concat(near, "' or '") .. "'?)"
          end
          out[#out + 1] = msg
        end
        break
      end
      owner, where = v, where .. "." .. name
    end
  end
  return #out > 0 and table.concat(out, "\n") or nil
end

-- }=====================================================================

--- Set up the globals of an interactive session: hasme and help.
function M.start()
  local hasme = require "hasme"
  if rawget(_G, "hasme") == nil then rawset(_G, "hasme", hasme) end
  if rawget(_G, "help") == nil then rawset(_G, "help", M.help) end
end

return M
