-- hasme.report: result tables as aligned text (for the terminal) and as CSV and JSON
-- (for files), and the atomic file writes every output of the runner goes through.
--
-- A table is { columns = {"eta", "model", "mean"}, rows = { {0.1, "sgd", 1.23}, ... },
-- title = "optional", formats = { mean = "%.4g" } (optional) }. A row is a list of
-- cells in column order, or a table keyed by column name; a cell is a number, a
-- string, a boolean or nothing (nil or json.null: an empty cell).
require "hasme.core"
local json = require "hasme.json"
local sys = require "hasme.sys"

local M = {}

local type, ipairs, pairs, tostring = type, ipairs, pairs, tostring
local concat, fmt, mtype = table.concat, string.format, math.type
local huge = math.huge

-- {==================================================================
-- Files
-- ===================================================================

--- Write text to path completely or not at all: the text goes to "<path>.tmp", is
-- flushed to the disk and renamed over path (hasme.sys.write), so that a full disk,
-- a file-size limit or a signal never leaves a truncated file under the name path.
-- Returns path; raises "<path>: <reason>" on failure.
function M.write(path, text)
  if type(path) ~= "string" or path == "" then
    error("bad argument #1 to 'write' (non-empty string expected, got " .. type(path) .. ")", 2)
  end
  if type(text) ~= "string" then
    error("bad argument #2 to 'write' (string expected, got " .. type(text) .. ")", 2)
  end
  local ok, err = sys.write(path, text)
  if not ok then error(err, 2) end
  return path
end

--- Whether the figure file at path is complete: a PNG ends with its IEND chunk, an
-- SVG with </svg>. gnuplot exits 0 even when a full disk truncated its output.
-- Returns true, or nil and "<path>: reason".
function M.figure_complete(path)
  local f = io.open(path, "rb")
  if not f then return nil, path .. ": not written" end
  local size = f:seek("end")
  local tail = ""
  if size and size > 0 then
    f:seek("set", math.max(0, size - 64))
    tail = f:read("a") or ""
  end
  f:close()
  if not size or size == 0 then return nil, path .. ": empty file (disk full?)" end
  if path:match("%.png[^/]*$") then
    if tail:sub(-12) ~= "\0\0\0\0IEND\174\66\96\130" then
      return nil, path .. ": truncated PNG (no IEND chunk; disk full?)"
    end
  elseif path:match("%.svg[^/]*$") then
    if not tail:match("</svg>%s*$") then
      return nil, path .. ": truncated SVG (no </svg>; disk full?)"
    end
  end
  return true
end

--- Write the JSON text of value (pretty-printed, keys sorted, final newline) to path,
-- atomically.
function M.write_json(path, value)
  local ok, text = pcall(json.encode, value, { indent = 2 })
  if not ok then error(path .. ": " .. text, 2) end
  local wok, err = pcall(M.write, path, text .. "\n")
  if not wok then error(err, 2) end
  return path
end

-- }==================================================================

-- {==================================================================
-- Values
-- ===================================================================

local function nonfinite(x)
  if x ~= x then return "nan" end
  if x == huge then return "inf" end
  if x == -huge then return "-inf" end
end

--- The text of a cell for files: numbers in full precision (the shortest decimal that
-- reads back exactly; integers as integers; "nan", "inf", "-inf"), booleans as
-- true/false, nothing as "".
function M.value(v)
  local tv = type(v)
  if tv == "number" then
    if mtype(v) == "integer" then return fmt("%d", v) end
    local s = nonfinite(v)
    if s then return s end
    s = json.number(v)
    return (s:gsub("%.0$", ""))
  elseif tv == "nil" or v == json.null then
    return ""
  end
  return tostring(v)
end

-- The text of a cell for the terminal: numbers through the column's format (default
-- "%d" for integers, "%.6g" for floats).
local function display(v, format)
  local tv = type(v)
  if tv == "number" then
    local s = nonfinite(v)
    if s then return s end
    if format then
      local ok, text = pcall(fmt, format, v)   -- "%d" on 2.5 falls back to the default
      if ok then return text end
    end
    if mtype(v) == "integer" then return fmt("%d", v) end
    return fmt("%.6g", v)
  elseif tv == "nil" or v == json.null then
    return "-"
  end
  return tostring(v)
end

-- }==================================================================

-- {==================================================================
-- Tables
-- ===================================================================

local function isscalar(v)
  local tv = type(v)
  return tv == "number" or tv == "string" or tv == "boolean" or v == json.null
end

--- Check the table t and return it normalised: { title, columns, formats, rows },
-- where every row is a list indexed by column number (nil for an empty cell).
-- Returns nil and a message naming the offending field otherwise.
function M.check(t)
  if type(t) ~= "table" then return nil, "table expected, got " .. type(t) end
  local cols = t.columns
  if type(cols) ~= "table" or #cols == 0 then
    return nil, "field 'columns': non-empty list of column names expected"
  end
  local index, columns = {}, {}
  for i, c in ipairs(cols) do
    if type(c) ~= "string" or c == "" then
      return nil, ("field 'columns': name expected at index %d, got %s"):format(i, type(c))
    end
    if index[c] then return nil, ("field 'columns': column '%s' given twice"):format(c) end
    index[c] = i
    columns[i] = c
  end
  local ncol = #columns
  if t.title ~= nil and type(t.title) ~= "string" then
    return nil, "field 'title': string expected, got " .. type(t.title)
  end
  local formats = {}
  if t.formats ~= nil then
    if type(t.formats) ~= "table" then
      return nil, "field 'formats': table expected, got " .. type(t.formats)
    end
    for k, f in pairs(t.formats) do
      if not index[k] then
        return nil, ("field 'formats': unknown column '%s'"):format(tostring(k))
      end
      if type(f) ~= "string" or not pcall(fmt, f, 2.385) then
        return nil, ("field 'formats': bad format for column '%s' (a string.format "
          .. "pattern for one number expected, such as \"%%.4g\")"):format(k)
      end
      formats[k] = f
    end
  end
  if type(t.rows) ~= "table" then
    return nil, "field 'rows': list of rows expected, got " .. type(t.rows)
  end
  local rows = {}
  for i, row in ipairs(t.rows) do
    if type(row) ~= "table" then
      return nil, ("field 'rows': row %d is a %s, not a table"):format(i, type(row))
    end
    local out = {}
    for k, v in pairs(row) do
      local j = index[k]
      if type(k) == "number" then
        if mtype(k) ~= "integer" or k < 1 or k > ncol then
          return nil, ("field 'rows': row %d has a cell at index %s but there are %d columns")
            :format(i, tostring(k), ncol)
        end
        j = k
      elseif not j then
        return nil, ("field 'rows': row %d has an unknown column '%s'"):format(i, tostring(k))
      end
      if out[j] ~= nil then
        return nil, ("field 'rows': row %d gives column '%s' twice"):format(i, columns[j])
      end
      if not isscalar(v) then
        return nil, ("field 'rows': row %d, column '%s': number, string or boolean expected, got %s")
          :format(i, columns[j], type(v))
      end
      if v ~= json.null then out[j] = v end
    end
    rows[i] = out
  end
  return { title = t.title, columns = columns, formats = formats, rows = rows }
end

local function checked(t, fname)
  local n, err = M.check(t)
  if not n then error(("bad argument #1 to '%s' (%s)"):format(fname, err), 3) end
  return n
end

-- Whether every filled cell of column j is a number (an empty column counts too).
local function numeric(rows, j)
  for _, r in ipairs(rows) do
    if r[j] ~= nil and type(r[j]) ~= "number" then return false end
  end
  return true
end

--- The table t as aligned text: the title, the header, a rule and one line per row;
-- numeric columns right-aligned, the others left-aligned, two spaces between columns.
-- Ends with a newline.
function M.format(t)
  t = checked(t, "format")
  local ncol = #t.columns
  local cells, width, right = {}, {}, {}
  for j, c in ipairs(t.columns) do
    width[j] = #c
    right[j] = numeric(t.rows, j)
  end
  for i, r in ipairs(t.rows) do
    local line = {}
    for j = 1, ncol do
      local s = display(r[j], t.formats[t.columns[j]])
      line[j] = s
      if utf8.len(s) and utf8.len(s) > width[j] then width[j] = utf8.len(s) end
    end
    cells[i] = line
  end
  local function pad(s, j)
    local n = width[j] - (utf8.len(s) or #s)
    if right[j] then return (" "):rep(n) .. s end
    return j == ncol and s or s .. (" "):rep(n)
  end
  local out = {}
  if t.title then out[#out + 1] = t.title end
  local head, rule = {}, {}
  for j, c in ipairs(t.columns) do
    head[j] = pad(c, j)
    rule[j] = ("-"):rep(width[j])
  end
  out[#out + 1] = concat(head, "  ")
  out[#out + 1] = concat(rule, "  ")
  for _, line in ipairs(cells) do
    for j = 1, ncol do line[j] = pad(line[j], j) end
    out[#out + 1] = concat(line, "  ")
  end
  return concat(out, "\n") .. "\n"
end

-- A CSV field: quoted when it holds a comma, a quote, a line break or edge blanks.
local function csvfield(s)
  if s:find('[,"\r\n]') or s:find("^%s") or s:find("%s$") then
    return '"' .. s:gsub('"', '""') .. '"'
  end
  return s
end

--- The table t as CSV (RFC 4180 quoting, "\n" line ends): a header line with the
-- column names, then one line per row, numbers in full precision (formats are for
-- the terminal only). The title is not part of the CSV.
function M.csv(t)
  t = checked(t, "csv")
  local out, ncol = {}, #t.columns
  local line = {}
  for j, c in ipairs(t.columns) do line[j] = csvfield(c) end
  out[1] = concat(line, ",")
  for _, r in ipairs(t.rows) do
    line = {}
    for j = 1, ncol do line[j] = csvfield(M.value(r[j])) end
    out[#out + 1] = concat(line, ",")
  end
  return concat(out, "\n") .. "\n"
end

--- The table t as a JSON-ready value: { title =, columns = {...}, rows = {{...}, ...} }
-- with json.null for the empty cells.
function M.tojson(t)
  t = checked(t, "tojson")
  local rows = {}
  for i, r in ipairs(t.rows) do
    local row = {}
    for j = 1, #t.columns do
      local v = r[j]
      if v == nil then row[j] = json.null else row[j] = v end
    end
    rows[i] = json.array(row)
  end
  return { title = t.title, columns = json.array({ table.unpack(t.columns) }),
           rows = json.array(rows) }
end

-- }==================================================================

return M
