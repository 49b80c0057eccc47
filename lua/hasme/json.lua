-- hasme.json: a small JSON encoder and decoder for the files the experiment runner
-- writes (config.json, results.json, tables, summaries). The encoder is stable: the
-- keys of an object are sorted, so that the same value always gives the same bytes.
local M = {}

local type, pairs, ipairs, tostring, tonumber = type, pairs, ipairs, tostring, tonumber
local concat, sort = table.concat, table.sort
local mtype, huge = math.type, math.huge
local byte, fmt = string.byte, string.format

-- The value JSON's null decodes to (nil cannot be stored in a Lua table). It encodes
-- back as null.
M.null = setmetatable({}, { __name = "hasme.json.null", __tostring = function() return "null" end })

-- Marks for tables whose kind cannot be seen from their keys: an empty table encodes
-- as [] unless it carries the object mark. decode() marks every object and array it
-- returns, so that a decoded {} encodes as {} again.
local ARRAY = { __jsontype = "array" }
local OBJECT = { __jsontype = "object" }

--- Mark t (a table) as a JSON array and return it.
function M.array(t)
  t = t or {}
  if type(t) ~= "table" then
    error("bad argument #1 to 'array' (table expected, got " .. type(t) .. ")", 2)
  end
  return setmetatable(t, ARRAY)
end

--- Mark t (a table) as a JSON object and return it.
function M.object(t)
  t = t or {}
  if type(t) ~= "table" then
    error("bad argument #1 to 'object' (table expected, got " .. type(t) .. ")", 2)
  end
  return setmetatable(t, OBJECT)
end

-- {==================================================================
-- Encoding
-- ===================================================================

local ESCAPES = {
  ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f",
  ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t",
}

local function quote(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    return ESCAPES[c] or fmt("\\u%04x", byte(c))
  end) .. '"'
end

--- The shortest decimal text of the float x that reads back as exactly x (at most 17
-- significant digits). Floats with an integral value keep a ".0" so that they read
-- back as floats. Infinities and NaN give nil: JSON has no text for them.
function M.number(x)
  if type(x) ~= "number" then
    error("bad argument #1 to 'number' (number expected, got " .. type(x) .. ")", 2)
  end
  if mtype(x) == "integer" then return fmt("%d", x) end
  if x ~= x or x == huge or x == -huge then return nil end
  local s
  for digits = 15, 17 do
    s = fmt("%." .. digits .. "g", x)
    if tonumber(s) == x then break end
  end
  if not s:find("[%.eEn]") then s = s .. ".0" end
  return s
end

-- The kind of a table: "array" (keys 1..n, or marked), "object" (string keys, or
-- marked) or nil and a message.
local function kind(t, path)
  local mt = getmetatable(t)
  local n = 0
  for k in pairs(t) do
    n = n + 1
    if mtype(k) ~= "integer" then
      if type(k) ~= "string" then
        return nil, fmt("cannot encode a table key of type %s at %s", type(k), path)
      end
      return "object", n
    end
  end
  if n == 0 then return mt == OBJECT and "object" or "array", 0 end
  for i = 1, n do
    if t[i] == nil then
      return nil, fmt("cannot encode a table with numeric keys that are not 1..%d at %s", n, path)
    end
  end
  return "array", n
end

local encode_value

local function encode_table(t, path, indent, depth, seen, out)
  if seen[t] then error(fmt("cannot encode a cycle at %s", path), 0) end
  seen[t] = true
  local k, n = kind(t, path)
  if not k then error(n, 0) end
  local nl, pad, pad1 = "", "", ""
  if indent then
    nl = "\n"
    pad = (" "):rep(indent * depth)
    pad1 = (" "):rep(indent * (depth + 1))
  end
  if k == "array" then
    local flat = true   -- pretty-printed arrays of scalars stay on one line
    for i = 1, n do
      local tv = type(t[i])
      if tv == "table" and t[i] ~= M.null or tv == "userdata" then flat = false end
    end
    if n == 0 then
      out[#out + 1] = "[]"
    elseif flat then
      out[#out + 1] = "["
      for i = 1, n do
        encode_value(t[i], path .. "[" .. i .. "]", indent, depth + 1, seen, out)
        if i < n then out[#out + 1] = indent and ", " or "," end
      end
      out[#out + 1] = "]"
    else
      out[#out + 1] = "[" .. nl
      for i = 1, n do
        out[#out + 1] = pad1
        encode_value(t[i], path .. "[" .. i .. "]", indent, depth + 1, seen, out)
        out[#out + 1] = (i < n and "," or "") .. nl
      end
      out[#out + 1] = pad .. "]"
    end
  else
    local keys = {}
    for key in pairs(t) do
      if type(key) ~= "string" then
        error(fmt("cannot encode an object with a key of type %s at %s", type(key), path), 0)
      end
      keys[#keys + 1] = key
    end
    sort(keys)
    if #keys == 0 then
      out[#out + 1] = "{}"
    else
      local colon = indent and ": " or ":"
      out[#out + 1] = "{" .. nl
      for i, key in ipairs(keys) do
        out[#out + 1] = pad1 .. quote(key) .. colon
        encode_value(t[key], path .. "." .. key, indent, depth + 1, seen, out)
        out[#out + 1] = (i < #keys and "," or "") .. nl
      end
      out[#out + 1] = pad .. "}"
    end
  end
  seen[t] = nil
end

function encode_value(v, path, indent, depth, seen, out)
  local tv = type(v)
  if tv == "string" then
    out[#out + 1] = quote(v)
  elseif tv == "number" then
    out[#out + 1] = M.number(v) or "null"
  elseif tv == "boolean" then
    out[#out + 1] = tostring(v)
  elseif tv == "nil" or v == M.null then
    out[#out + 1] = "null"
  elseif tv == "table" then
    encode_table(v, path, indent, depth, seen, out)
  else
    local mt = getmetatable(v)
    local name = type(mt) == "table" and mt.__name
    if tv == "userdata" and (name == "hasme.Vec" or name == "hasme.Mat") then
      encode_table(v:totable(), path, indent, depth, seen, out)
    else
      error(fmt("cannot encode a %s at %s", name or tv, path), 0)
    end
  end
end

--- JSON text of v. opts.indent (an integer) pretty-prints with that many spaces per
-- level; the default is compact. Objects have their keys sorted; NaN and infinities
-- become null; a hasme.Vec or hasme.Mat becomes an array (of arrays).
function M.encode(v, opts)
  local indent
  if opts ~= nil then
    if type(opts) ~= "table" then
      error("bad argument #2 to 'encode' (table expected, got " .. type(opts) .. ")", 2)
    end
    indent = opts.indent
    if indent ~= nil and (mtype(indent) ~= "integer" or indent < 0) then
      error("bad argument #2 to 'encode' (field 'indent': non-negative integer expected)", 2)
    end
  end
  local out = {}
  local ok, err = pcall(encode_value, v, "$", indent, 0, {}, out)
  if not ok then error("json.encode: " .. tostring(err), 2) end
  return concat(out)
end

-- }==================================================================

-- {==================================================================
-- Decoding
-- ===================================================================

-- Raise a decoding error at byte position pos of s, with its line and column.
local function fail(s, pos, msg)
  local line, col = 1, 1
  for i = 1, pos - 1 do
    if byte(s, i) == 10 then line, col = line + 1, 1 else col = col + 1 end
  end
  error(fmt("json.decode: %s at line %d, column %d (byte %d)", msg, line, col, pos), 0)
end

local function skip(s, pos)
  return s:find("[^ \t\r\n]", pos) or #s + 1
end

local decode_value

local function decode_string(s, pos)
  local parts, i = {}, pos + 1
  while true do
    local j = s:find('["\\%c]', i)
    if not j then fail(s, pos, "unterminated string") end
    parts[#parts + 1] = s:sub(i, j - 1)
    local c = s:sub(j, j)
    if c == '"' then return concat(parts), j + 1 end
    if c ~= "\\" then fail(s, j, "control character in string") end
    local e = s:sub(j + 1, j + 1)
    local simple = ({ ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f",
                      n = "\n", r = "\r", t = "\t" })[e]
    if simple then
      parts[#parts + 1] = simple
      i = j + 2
    elseif e == "u" then
      local hex = s:match("^%x%x%x%x", j + 2)
      if not hex then fail(s, j, "bad \\u escape") end
      local cp = tonumber(hex, 16)
      i = j + 6
      if cp >= 0xD800 and cp <= 0xDBFF then   -- a surrogate pair
        local lo = s:match("^\\u(%x%x%x%x)", i)
        local lcp = lo and tonumber(lo, 16)
        if not lcp or lcp < 0xDC00 or lcp > 0xDFFF then fail(s, j, "unpaired surrogate") end
        cp = 0x10000 + (cp - 0xD800) * 0x400 + (lcp - 0xDC00)
        i = i + 6
      end
      parts[#parts + 1] = utf8.char(cp)
    else
      fail(s, j, "bad escape '\\" .. e .. "'")
    end
  end
end

local function decode_number(s, pos)
  local int = s:match("^-?%d+", pos)
  if not int then fail(s, pos, "bad number") end
  if int:match("^-?0%d") then fail(s, pos, "bad number (leading zero)") end
  local i = pos + #int
  local frac = s:match("^%.%d+", i) or ""
  if frac == "" and s:sub(i, i) == "." then fail(s, i, "bad number (no digit after '.')") end
  i = i + #frac
  local exp = s:match("^[eE][-+]?%d+", i) or ""
  if exp == "" and s:match("^[eE]", i) then fail(s, i, "bad number (no digit in exponent)") end
  local text = int .. frac .. exp
  local v
  if frac == "" and exp == "" then
    v = math.tointeger(tonumber(text)) or tonumber(text .. ".0")
  else
    v = tonumber(text)
  end
  return v, i + #exp
end

function decode_value(s, pos, depth)
  if depth > 200 then fail(s, pos, "nesting too deep") end
  pos = skip(s, pos)
  local c = s:sub(pos, pos)
  if c == "{" then
    local t = setmetatable({}, OBJECT)
    pos = skip(s, pos + 1)
    if s:sub(pos, pos) == "}" then return t, pos + 1 end
    while true do
      pos = skip(s, pos)
      if s:sub(pos, pos) ~= '"' then fail(s, pos, "expected a string key") end
      local key
      key, pos = decode_string(s, pos)
      pos = skip(s, pos)
      if s:sub(pos, pos) ~= ":" then fail(s, pos, "expected ':'") end
      local v
      v, pos = decode_value(s, pos + 1, depth + 1)
      t[key] = v
      pos = skip(s, pos)
      c = s:sub(pos, pos)
      if c == "}" then return t, pos + 1 end
      if c ~= "," then fail(s, pos, "expected ',' or '}'") end
      pos = pos + 1
    end
  elseif c == "[" then
    local t = setmetatable({}, ARRAY)
    pos = skip(s, pos + 1)
    if s:sub(pos, pos) == "]" then return t, pos + 1 end
    while true do
      local v
      v, pos = decode_value(s, pos, depth + 1)
      t[#t + 1] = v
      pos = skip(s, pos)
      c = s:sub(pos, pos)
      if c == "]" then return t, pos + 1 end
      if c ~= "," then fail(s, pos, "expected ',' or ']'") end
      pos = pos + 1
    end
  elseif c == '"' then
    return decode_string(s, pos)
  elseif c == "-" or c:match("%d") then
    return decode_number(s, pos)
  elseif s:sub(pos, pos + 3) == "true" then
    return true, pos + 4
  elseif s:sub(pos, pos + 4) == "false" then
    return false, pos + 5
  elseif s:sub(pos, pos + 3) == "null" then
    return M.null, pos + 4
  elseif c == "" then
    fail(s, pos, "unexpected end of input")
  end
  fail(s, pos, "unexpected character '" .. c .. "'")
end

--- The Lua value of the JSON text s. null becomes json.null (also inside arrays, so
-- that they keep their length); objects and arrays are marked (json.object/json.array)
-- so that they encode back to the same kind. Raises "json.decode: <what> at line L,
-- column C (byte B)" on malformed input.
function M.decode(s)
  if type(s) ~= "string" then
    error("bad argument #1 to 'decode' (string expected, got " .. type(s) .. ")", 2)
  end
  local ok, v = pcall(function()
    local value, pos = decode_value(s, 1, 0)
    pos = skip(s, pos)
    if pos <= #s then fail(s, pos, "trailing characters") end
    return value
  end)
  if not ok then error(v, 2) end
  return v
end

--- Read and decode the JSON file at path.
function M.read(path)
  if type(path) ~= "string" then
    error("bad argument #1 to 'read' (string expected, got " .. type(path) .. ")", 2)
  end
  local f, err = io.open(path, "rb")
  if not f then error("json.read: " .. err, 2) end
  local s = f:read("a")
  f:close()
  local ok, v = pcall(M.decode, s)
  if not ok then error(path .. ": " .. v, 2) end
  return v
end

-- }==================================================================

return M
