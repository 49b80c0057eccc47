-- hasme.plot: figures drawn by gnuplot. Each function writes <file>.dat (the data,
-- whitespace-separated, commented), <file>.gp (a standalone gnuplot script that reads
-- the .dat, so that a figure can be restyled by editing it) and runs gnuplot on the
-- script to produce <file>.png (1000x650) and <file>.svg. Every file is written
-- completely or not at all. Reference: docs/experiments-howto.md.
local report = require "hasme.report"

local M = {}

local type, ipairs, pairs, tostring = type, ipairs, pairs, tostring
local concat, fmt, mtype = table.concat, string.format, math.type
local floor, log, exp, huge = math.floor, math.log, math.exp, math.huge

--- The models' styles. Each model has one colour (from the Okabe-Ito palette, which
-- stays distinguishable with the common forms of colour blindness), one dash and
-- one point type in every figure, whatever the order of the series. A series is a
-- model's when its field `model` names it, or else when the first word of its label
-- does ("SME-1", "sme1", "HA-SME (not resolved)"). SGD, the reference, is thick and
-- black and drawn first, underneath: a model that coincides with it (HA-SME on a
-- quadratic) shows as a thin line inside the thick one instead of hiding it.
M.models = {
  { key = "sgd",   name = "SGD",    color = "#000000", dash = "solid",        lw = 4.5, pt = 7 },
  { key = "sme1",  name = "SME-1",  color = "#0072B2", dash = "(10,6)",       lw = 2, pt = 5 },
  { key = "sme2",  name = "SME-2",  color = "#009E73", dash = "(14,5,3,5)",   lw = 2, pt = 9 },
  { key = "hasme", name = "HA-SME", color = "#D55E00", dash = "solid",        lw = 2, pt = 13 },
  { key = "svag",  name = "SVAG",   color = "#CC79A7", dash = "(3,4)",        lw = 2.5, pt = 11 },
}
local MODEL = {}
for rank, m in ipairs(M.models) do
  m.rank = rank
  MODEL[m.key] = m
end

--- The colours of the series that are not models, in order (the rest of the
-- Okabe-Ito palette; yellow comes last: it is faint on white).
M.palette = { "#56B4E9", "#E69F00", "#7F7F7F", "#882255", "#F0E442" }

-- Point types for the second, third, ... series of one model (open versions and
-- other shapes), so that variants of a model stay apart while keeping its colour.
local VARIANT_PT = { 4, 6, 8, 12, 10 }

M.width, M.height = 1000, 650

local FONT = "Sans,13"

-- The curves of histograms (exact densities): grey, dashed (SGD's black is taken).
local CURVES = { { "#777777", "(6,4)" }, { "#AAAAAA", "(2,3)" }, { "#444444", "(12,4,2,4)" } }

-- The model of series s (a table of M.models) or nil.
local function model_of(s)
  if s.model ~= nil then return MODEL[s.model] end
  local word = type(s.label) == "string" and s.label:match("^%s*([%w_%-]+)")
  return word and MODEL[word:lower():gsub("[%-_]", "")] or nil
end

-- The series of spec in drawing order (the models in the order of M.models, SGD
-- first; other series after them, in their order), each with its style: a list of
-- {s = series, i = index in spec.series, style = {color, dash, lw, pt}}.
local function arrange(spec)
  local list = {}
  for i, s in ipairs(spec.series) do list[i] = { s = s, i = i, m = model_of(s) } end
  table.sort(list, function(a, b)
    local ra, rb = a.m and a.m.rank or 100, b.m and b.m.rank or 100
    if ra ~= rb then return ra < rb end
    return a.i < b.i
  end)
  local seen, other = {}, 0
  for _, e in ipairs(list) do
    if e.m then
      local v = (seen[e.m.key] or 0) + 1
      seen[e.m.key] = v
      e.style = { color = e.m.color, dash = e.m.dash, lw = e.m.lw,
                  pt = v == 1 and e.m.pt or VARIANT_PT[(v - 2) % #VARIANT_PT + 1] }
    else
      other = other + 1
      e.style = { color = M.palette[(other - 1) % #M.palette + 1], dash = "solid", lw = 2,
                  pt = VARIANT_PT[(other - 1) % #VARIANT_PT + 1] }
    end
  end
  return list
end

-- {==================================================================
-- Checking the specs
-- ===================================================================

-- Raise "bad argument #1 to 'fname' (msg)". The public functions re-raise every
-- error at their caller (see public below), so the message carries no position here.
local function badarg(fname, msg)
  error(("bad argument #1 to '%s' (%s)"):format(fname, msg), 0)
end

-- The numbers of a hasme.Vec or a Lua list as a fresh list: at least one, all
-- finite (or -1 and positive integers when steps is set).
local function numbers(fname, field, v)
  local tv = type(v)
  local mt = tv == "userdata" and getmetatable(v) or nil
  local name = type(mt) == "table" and mt.__name or tv
  if name == "hasme.Vec" then
    v = v:totable()
  elseif tv ~= "table" then
    badarg(fname, ("field '%s': vector expected (hasme.Vec or list of numbers), got %s")
      :format(field, name))
  end
  local n = #v
  if n == 0 then badarg(fname, ("field '%s': no values"):format(field)) end
  local out = {}
  for i = 1, n do
    local x = v[i]
    if type(x) ~= "number" then
      badarg(fname, ("field '%s': number expected at index %d, got %s"):format(field, i, type(x)))
    end
    if x ~= x or x == huge or x == -huge then
      badarg(fname, ("field '%s': non-finite value at index %d"):format(field, i))
    end
    out[i] = x
  end
  return out
end

local function optstring(fname, spec, field)
  local v = spec[field]
  if v ~= nil and type(v) ~= "string" then
    badarg(fname, ("field '%s': string expected, got %s"):format(field, type(v)))
  end
  return v
end

local function optrange(fname, spec, field)
  local r = spec[field]
  if r == nil then return nil end
  if type(r) ~= "table" or type(r[1]) ~= "number" or type(r[2]) ~= "number"
      or not (r[1] < r[2]) or r[1] == -huge or r[2] == huge then
    badarg(fname, ("field '%s': {lo, hi} with finite lo < hi expected"):format(field))
  end
  return { r[1], r[2] }
end

-- Where the key goes (spec.key): below the plot by default, in every figure, so it
-- never hides data and long labels (fits, notes) have room; inside a corner or
-- outside on the right on request.
local KEYS = {
  ["outside"] = "set key outside right top vertical Left reverse samplen 3 spacing 1.3 width 1",
  ["top left"] = "set key inside left top vertical Left reverse samplen 3 spacing 1.2 opaque box lc rgb '#cccccc'",
  ["top right"] = "set key inside right top vertical Left reverse samplen 3 spacing 1.2 opaque box lc rgb '#cccccc'",
  ["bottom left"] = "set key inside left bottom vertical Left reverse samplen 3 spacing 1.2 opaque box lc rgb '#cccccc'",
  ["bottom right"] = "set key inside right bottom vertical Left reverse samplen 3 spacing 1.2 opaque box lc rgb '#cccccc'",
  -- "below" is placed by render, which leaves room for it under the x label.
  ["below"] = "set key at screen 0.5, screen 0.012 center bottom horizontal Left reverse samplen 3 spacing 1.15",
}

-- The checks every spec shares: file, title, labels, series (a non-empty list).
local function common(fname, spec)
  if type(spec) ~= "table" then badarg(fname, "table expected, got " .. type(spec)) end
  if type(spec.file) ~= "string" or spec.file == "" or spec.file:sub(-1) == "/" then
    badarg(fname, "field 'file': output path without extension expected")
  end
  optstring(fname, spec, "title")
  optstring(fname, spec, "xlabel")
  optstring(fname, spec, "ylabel")
  if spec.key ~= nil and not KEYS[spec.key] then
    badarg(fname, ("field 'key': 'outside', 'top left', 'top right', 'bottom left', "
      .. "'bottom right' or 'below' expected, got %s"):format(
        type(spec.key) == "string" and "'" .. spec.key .. "'" or type(spec.key)))
  end
  if type(spec.series) ~= "table" or #spec.series == 0 then
    badarg(fname, "field 'series': non-empty list expected")
  end
  for i, s in ipairs(spec.series) do
    if type(s) ~= "table" then
      badarg(fname, ("field 'series': table expected at index %d, got %s"):format(i, type(s)))
    end
    if s.label ~= nil and type(s.label) ~= "string" then
      badarg(fname, ("field 'series[%d].label': string expected, got %s"):format(i, type(s.label)))
    end
    if s.model ~= nil and not MODEL[s.model] then
      badarg(fname, ("field 'series[%d].model': 'sgd', 'sme1', 'sme2', 'hasme' or 'svag' "
        .. "expected, got %s"):format(i, type(s.model) == "string" and "'" .. s.model .. "'"
        or type(s.model)))
    end
  end
end

-- x, y and the optional error bar bounds lo, hi of series i, checked.
local function xyseries(fname, s, i, positive)
  local f = "series[" .. i .. "]."
  local x = numbers(fname, f .. "x", s.x)
  local y = numbers(fname, f .. "y", s.y)
  if #y ~= #x then
    badarg(fname, ("field '%sy': length %d does not match length %d of x"):format(f, #y, #x))
  end
  local lo, hi
  if (s.lo == nil) ~= (s.hi == nil) then
    badarg(fname, ("field '%slo': lo and hi go together (error bar bounds)"):format(f))
  end
  if s.lo ~= nil then
    lo = numbers(fname, f .. "lo", s.lo)
    hi = numbers(fname, f .. "hi", s.hi)
    if #lo ~= #x or #hi ~= #x then
      badarg(fname, ("field '%slo': lo and hi need the length %d of x"):format(f, #x))
    end
  end
  if positive then
    for _, p in ipairs { { "x", x }, { "y", y } } do
      for j, v in ipairs(p[2]) do
        if v <= 0 then
          badarg(fname, ("field '%s%s': positive value expected at index %d (log axes), got %.14g")
            :format(f, p[1], j, v))
        end
      end
    end
  end
  return x, y, lo, hi
end

-- }==================================================================

-- {==================================================================
-- Writing the files and running gnuplot
-- ===================================================================

-- Text of a number in the .dat: full precision.
local function num(x)
  if x ~= x or x == huge or x == -huge then return "NaN" end
  return report.value(x)
end

-- A gnuplot single-quoted string: quotes doubled, line breaks turned into spaces.
-- Backslashes and enhanced-text marks (_ ^ @ & { }) stay literal: the terminals
-- are set noenhanced.
function M.quote(s)
  s = tostring(s):gsub("[\r\n]+", " "):gsub("'", "''")
  return "'" .. s .. "'"
end
local gq = M.quote

local function shq(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

-- The PNG terminal: pngcairo when this gnuplot has it, else png (libgd).
local png_terminal
local function pngterm()
  if png_terminal == nil then
    local p = io.popen("gnuplot -e 'set terminal' 2>&1")
    local s = p and p:read("a") or ""
    if p then p:close() end
    png_terminal = s:find("pngcairo", 1, true) and "pngcairo" or "png"
  end
  return png_terminal
end

local function have_gnuplot()
  return os.execute("command -v gnuplot >/dev/null 2>&1") == true
end

-- A .dat block: comment lines, then rows (lists of numbers).
local function block(out, comments, rows)
  if #out > 0 then out[#out + 1] = "\n" end   -- two blank lines separate gnuplot indices
  for _, c in ipairs(comments) do out[#out + 1] = "# " .. c:gsub("[\r\n]+", " ") .. "\n" end
  for _, r in ipairs(rows) do
    local t = {}
    for j, v in ipairs(r) do t[j] = num(v) end
    out[#out + 1] = concat(t, " ") .. "\n"
  end
  out[#out + 1] = "\n"
end

local function basename(path)
  return path:match("([^/]+)$")
end

-- Write <base>.dat and <base>.gp, run gnuplot, and return the four file names.
-- settings: gnuplot lines before the plot command; plots: the plot clauses, each
-- taking the data file as "DATA".
local function render(kind, spec, dat, settings, plots, styles)
  if not have_gnuplot() then
    error("plot: gnuplot not found (install the Debian package gnuplot-nox)", 0)
  end
  local base = spec.file
  local name = basename(base)
  local dir = base:sub(1, #base - #name)
  if dir == "" then dir = "." end
  local datname = name .. ".dat"
  local term = pngterm()
  local gp = {
    ("# %s.gp: a figure written by hasme.plot.%s. It reads %s and writes %s.png"):format(
      name, kind, datname, name),
    ("# (%dx%d) and %s.svg. Run it from its directory (gnuplot %s.gp) after editing"):format(
      M.width, M.height, name, name),
    "# the style below to restyle the figure.",
    "if (!exists(\"suffix\")) suffix = ''   # hasme.plot sets '.tmp' to write atomically",
    "",
    "set encoding utf8",
    "set datafile missing 'NaN'",
  }
  -- Line style i is the i-th series drawn (its model's colour, dash and point),
  -- 100 + i its fitted line, 200 + j the j-th reference curve.
  for i, st in ipairs(styles) do
    gp[#gp + 1] = ("set style line %d lc rgb '%s' lw %s dt %s pt %d ps 1.3"):format(
      i, st.color, fmt("%g", st.lw), st.dash, st.pt)
    gp[#gp + 1] = ("set style line %d lc rgb '%s' lw 2 dt %s"):format(
      100 + i, st.color, st.dash == "solid" and "(6,4)" or st.dash)
  end
  for i, c in ipairs(CURVES) do
    gp[#gp + 1] = ("set style line %d lc rgb '%s' lw 2.5 dt %s"):format(200 + i, c[1], c[2])
  end
  for _, line in ipairs {
    "set style line 90 lc rgb '#dadada' lw 1 dt solid",
    "set grid xtics ytics back ls 90",
    "set border 3 lc rgb '#555555' lw 1",
    "set tics nomirror out scale 0.6",
    -- Error bars are solid whatever the series' dash.
    "set errorbars dt solid",
  } do gp[#gp + 1] = line end
  local key = spec.key or "below"
  gp[#gp + 1] = KEYS[key]
  if key == "below" then
    -- gnuplot's own "outside bottom" key overlaps the x label; the key goes at the
    -- bottom of the canvas instead, in as many columns of equal width as fit, and
    -- the bottom margin is sized for its rows.
    local n, longest = 0, 0
    for _, p in ipairs(plots) do
      local t = p:match(" title '(.-)'$")
      if t then
        n = n + 1
        longest = math.max(longest, utf8.len(t) or #t)
      end
    end
    local cols = math.max(1, math.min(n, floor((M.width - 80) / (10 * longest + 120))))
    local rows = math.max(1, math.ceil(n / cols))
    gp[#gp + 1] = ("set key maxcols %d maxrows %d"):format(cols, rows)
    gp[#gp + 1] = ("set bmargin at screen %.3f"):format(0.135 + 0.036 * rows)
  end
  -- The title is centred on the canvas, not over the plot area: with the key outside
  -- on the right the plot area is narrow, and a long title would run off its left.
  if spec.title then
    gp[#gp + 1] = "set label 1 " .. gq(spec.title) .. " at screen 0.5, screen 0.965 center font ',15'"
    gp[#gp + 1] = "set tmargin at screen 0.90"
  end
  if spec.xlabel then gp[#gp + 1] = "set xlabel " .. gq(spec.xlabel) end
  if spec.ylabel then gp[#gp + 1] = "set ylabel " .. gq(spec.ylabel) .. " rotate by 90" end
  for _, line in ipairs(settings) do gp[#gp + 1] = line end
  local clauses = {}
  for i, p in ipairs(plots) do
    clauses[i] = p:gsub("DATA", function() return gq(datname) end)
  end
  gp[#gp + 1] = ""
  gp[#gp + 1] = ("set terminal %s size %d,%d noenhanced font '%s'%s"):format(
    term, M.width, M.height, FONT, term == "pngcairo" and " background rgb 'white'" or "")
  gp[#gp + 1] = ("set output '%s.png'.suffix"):format(name:gsub("'", "''"))
  gp[#gp + 1] = "plot " .. concat(clauses, ", \\\n     ")
  gp[#gp + 1] = ""
  gp[#gp + 1] = ("set terminal svg size %d,%d noenhanced font '%s' background rgb 'white'")
    :format(M.width, M.height, FONT)
  gp[#gp + 1] = ("set output '%s.svg'.suffix"):format(name:gsub("'", "''"))
  gp[#gp + 1] = "replot"
  gp[#gp + 1] = "unset output"

  local ok, err = pcall(report.write, base .. ".dat", concat(dat))
  if ok then ok, err = pcall(report.write, base .. ".gp", concat(gp, "\n") .. "\n") end
  if not ok then error("plot: " .. err, 0) end
  local errfile = os.tmpname()
  local cmd = ("cd %s && gnuplot -e %s %s >%s 2>&1"):format(shq(dir), shq("suffix='.tmp'"),
    shq(name .. ".gp"), shq(errfile))
  local done, how, code = os.execute(cmd)
  local f = io.open(errfile, "rb")
  local msg = f and f:read("a") or ""
  if f then f:close() end
  os.remove(errfile)
  local png, svg = base .. ".png", base .. ".svg"
  -- gnuplot exits 0 on a full disk: only whole files are renamed into place
  local incomplete
  if done then
    local pok, perr = report.figure_complete(png .. ".tmp")
    local sok, serr = report.figure_complete(svg .. ".tmp")
    incomplete = not pok and perr or not sok and serr or nil
    if incomplete then msg, done = (incomplete:gsub("%.tmp:", ":", 1)), false end
  end
  if done then
    done = os.rename(png .. ".tmp", png) and os.rename(svg .. ".tmp", svg)
  end
  if not done then
    os.remove(png .. ".tmp")
    os.remove(svg .. ".tmp")
    -- killed by a signal (the shell between may report it as the status 128 + n)
    local sig = how == "signal" and code or how == "exit" and (code == 129 or code == 130
      or code == 143) and code - 128
    if sig then error(("plot: gnuplot was stopped by signal %d on %s.gp"):format(sig, base), 0) end
    msg = msg:gsub("%s+$", "")
    error(("plot: gnuplot failed on %s.gp%s"):format(base, msg ~= "" and ":\n" .. msg or ""), 0)
  end
  return { base .. ".dat", base .. ".gp", png, svg }
end

-- The title of series i in the key.
local function label(s, i)
  return s.label or ("series " .. i)
end

-- }==================================================================

-- {==================================================================
-- The figures
-- ===================================================================

local IMPL = {}
local logyaxis   -- defined below, used by survival, loglog and lines

-- A log axis spanning a decade or two gets few labels: with a handful of distinct x
-- (step sizes, say) over all the series xs (a list of lists), label exactly those,
-- with three significant digits (more only where three would print two alike): a
-- measured x such as 1.68518 reads 1.69.
local function logxtics(settings, xs)
  local seen, vals = {}, {}
  for _, x in ipairs(xs) do
    for _, v in ipairs(x) do
      if not seen[v] then seen[v] = true; vals[#vals + 1] = v end
    end
  end
  if #vals > 10 then return end
  table.sort(vals)
  local digits = 3
  while digits < 17 do
    local labels, clash = {}, false
    for _, v in ipairs(vals) do
      local l = fmt("%." .. digits .. "g", v)
      clash = clash or labels[l]
      labels[l] = true
    end
    if not clash then break end
    digits = digits + 1
  end
  for j, v in ipairs(vals) do
    vals[j] = ("'%s' %s"):format(fmt("%." .. digits .. "g", v), num(v))
  end
  settings[#settings + 1] = "set xtics (" .. concat(vals, ", ") .. ")"
end

-- A "nice" number at or below (down) or at or above (up) v > 0: 1, 2 or 5 times a
-- power of ten.
local function nice(v, up)
  local e = floor(math.log(v, 10))
  local best
  for d = e - 1, e + 1 do
    for _, m in ipairs { 1, 2, 5 } do
      local c = m * 10 ^ d
      if up and c >= v * (1 - 1e-12) and (not best or c < best) then best = c end
      if not up and c <= v * (1 + 1e-12) and (not best or c > best) then best = c end
    end
  end
  return best
end

-- A log y axis over the positive values of ys (a list of lists) whose two ends are
-- labelled: the range runs from the nice number below the smallest value to the one
-- above the largest (at most cap), and the tics are at 1, 2 and 5 times the powers
-- of ten within it when it spans less than three decades, else at the powers of
-- ten, the two ends always among them.
logyaxis = function(settings, ys, cap)
  local lo, hi = huge, 0
  for _, y in ipairs(ys) do
    for _, v in ipairs(y) do
      if v > 0 and v < huge then lo, hi = math.min(lo, v), math.max(hi, v) end
    end
  end
  if hi <= 0 then return end
  local a, b = nice(lo, false), nice(hi, true)
  if cap and b > cap then b = cap end
  if a >= b then a, b = a / 2, b * 2 end
  local vals, seen = {}, {}
  local function add(v)
    local key = fmt("%.12g", v)
    if not seen[key] then
      seen[key] = true
      vals[#vals + 1] = v
    end
  end
  add(a)
  local mults = b / a < 1e3 and { 1, 2, 5 } or { 1 }
  for e = floor(math.log(a, 10)) - 1, math.ceil(math.log(b, 10)) + 1 do
    for _, m in ipairs(mults) do
      local v = m * 10 ^ e
      if v > a * (1 + 1e-9) and v < b * (1 - 1e-9) then add(v) end
    end
  end
  add(b)
  table.sort(vals)
  for j, v in ipairs(vals) do vals[j] = ("'%s' %s"):format(fmt("%g", v), num(v)) end
  settings[#settings + 1] = ("set yrange [%s:%s]"):format(num(a), num(b))
  settings[#settings + 1] = "set ytics (" .. concat(vals, ", ") .. ")"
end

--- Overlaid histograms (step outlines, one colour per series), densities by default.
-- spec: file, title, xlabel, ylabel, series = { {label =, values = vec|list}, ... },
-- bins = 60, range = {lo, hi} (default: the range of all the values), density = true,
-- curves = { {label =, fn = function(x) return y end}, ... } drawn as dashed lines
-- (exact densities, for instance). Values outside range are not counted, but a
-- density still divides by the size of the whole sample.
function IMPL.histograms(spec)
  local fname = "histograms"
  common(fname, spec)
  local bins = spec.bins or 60
  if mtype(bins) ~= "integer" or bins < 1 then
    badarg(fname, "field 'bins': positive integer expected")
  end
  local density = spec.density
  if density == nil then density = true end
  if type(density) ~= "boolean" then badarg(fname, "field 'density': boolean expected") end
  local samples = {}
  local lo, hi = huge, -huge
  for i, s in ipairs(spec.series) do
    samples[i] = numbers(fname, "series[" .. i .. "].values", s.values)
    for _, x in ipairs(samples[i]) do
      if x < lo then lo = x end
      if x > hi then hi = x end
    end
  end
  local range = optrange(fname, spec, "range")
  if range then
    lo, hi = range[1], range[2]
  elseif lo == hi then
    lo, hi = lo - 0.5, hi + 0.5
  end
  local curves = spec.curves or {}
  if type(curves) ~= "table" then badarg(fname, "field 'curves': list expected") end
  for i, c in ipairs(curves) do
    if type(c) ~= "table" or type(c.fn) ~= "function" then
      badarg(fname, ("field 'curves[%d].fn': function expected"):format(i))
    end
    if c.label ~= nil and type(c.label) ~= "string" then
      badarg(fname, ("field 'curves[%d].label': string expected"):format(i))
    end
  end
  local width = (hi - lo) / bins
  local dat, plots, styles = {}, {}, {}
  for i, e in ipairs(arrange(spec)) do
    local s = e.s
    styles[i] = e.style
    local count = {}
    for b = 1, bins do count[b] = 0 end
    local n = #samples[e.i]
    for _, x in ipairs(samples[e.i]) do
      if x >= lo and x <= hi then
        local b = floor((x - lo) / width) + 1
        if b > bins then b = bins end
        count[b] = count[b] + 1
      end
    end
    local rows = {}
    for b = 1, bins do
      local blo = lo + (b - 1) * width
      local bhi = b == bins and hi or lo + b * width
      rows[b] = { blo, bhi, (blo + bhi) / 2, count[b], count[b] / (n * width) }
    end
    block(dat, {
      ("index %d: series %d, %s (%d values)"):format(i - 1, e.i, gq(label(s, e.i)), n),
      "bin_lo bin_hi center count density",
    }, rows)
    plots[#plots + 1] = ("DATA index %d using 3:%d with histeps ls %d title %s")
      :format(i - 1, density and 5 or 4, i, gq(label(s, e.i)))
  end
  local npts = 401
  for j, c in ipairs(curves) do
    local rows = {}
    for k = 0, npts - 1 do
      local x = lo + (hi - lo) * k / (npts - 1)
      local ok, y = pcall(c.fn, x)
      if not ok then error(("plot: error in curves[%d].fn: %s"):format(j, tostring(y)), 0) end
      if type(y) ~= "number" then
        error(("plot: curves[%d].fn returned a %s at x = %.14g, not a number")
          :format(j, type(y), x), 0)
      end
      rows[#rows + 1] = { x, y }
    end
    local idx = #spec.series + j - 1
    local clabel = c.label or ("curve " .. j)
    block(dat, { ("index %d: curve %d, %s"):format(idx, j, gq(clabel)), "x y" }, rows)
    plots[#plots + 1] = ("DATA index %d using 1:2 with lines ls %d title %s")
      :format(idx, 200 + (j - 1) % #CURVES + 1, gq(clabel))
  end
  table.insert(dat, 1, ("# hasme.plot.histograms: %d bins over [%s, %s], %s\n"):format(
    bins, num(lo), num(hi), density and "densities (count / (n * bin width))" or "counts"))
  local settings = {
    ("set xrange [%s:%s]"):format(num(lo), num(hi)),
    "set yrange [0:*]",
    "set xlabel " .. gq(spec.xlabel or "x"),
    "set ylabel " .. gq(spec.ylabel or (density and "density" or "count")) .. " rotate by 90",
  }
  return render(fname, spec, dat, settings, plots, styles)
end

-- The Wilson score interval for k successes in n trials at 95% (as
-- hasme.stats.wilson; written out so that figures need only Lua).
local Z95 = 1.959963984540054
local function wilson(k, n)
  local p, z2 = k / n, Z95 * Z95
  local den = 1 + z2 / n
  local centre = (p + z2 / (2 * n)) / den
  local half = Z95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / den
  return k == 0 and 0 or math.max(0, centre - half), k == n and 1 or math.min(1, centre + half)
end

--- Survival curves P(tau > k) against k, as step functions: one per series, each
-- with its pointwise 95% confidence band (Wilson intervals for the binomial fraction
-- of paths not escaped by k; every path is observed up to the horizon, so there is no
-- censoring before it). spec: file, title, xlabel, ylabel, logy = false, bands =
-- true, series = { {label =, steps = vec (escape steps, -1 for a path that did not
-- escape), horizon = K}, ... }. The horizon defaults to the largest escape step (at
-- least 1); a step beyond it counts as not escaped by K.
function IMPL.survival(spec)
  local fname = "survival"
  common(fname, spec)
  local logy = spec.logy or false
  if type(logy) ~= "boolean" then badarg(fname, "field 'logy': boolean expected") end
  local bands = spec.bands
  if bands == nil then bands = true end
  if type(bands) ~= "boolean" then badarg(fname, "field 'bands': boolean expected") end
  local dat, lines, fills, styles, ally = {}, {}, {}, {}, {}
  local kmax = 1
  local order = arrange(spec)
  for i, e in ipairs(order) do
    local s, si = e.s, e.i
    styles[i] = e.style
    local steps = numbers(fname, "series[" .. si .. "].steps", s.steps)
    local horizon = s.horizon
    local last = 1
    for j, t in ipairs(steps) do
      if t ~= -1 and (t < 1 or t ~= floor(t)) then
        badarg(fname, ("field 'series[%d].steps': escape step expected at index %d "
          .. "(a positive integer or -1), got %.14g"):format(si, j, t))
      end
      if t > last then last = t end
    end
    if horizon == nil then
      horizon = floor(last)
    elseif type(horizon) ~= "number" or horizon ~= floor(horizon) or horizon < 1
        or horizon == huge then
      badarg(fname, ("field 'series[%d].horizon': positive integer expected"):format(si))
    end
    horizon = floor(horizon)
    -- The x axis ends where the last curve does: at the horizon when some path of the
    -- series never escaped, else at its last escape.
    local censored = false
    for _, t in ipairs(steps) do
      if t == -1 or t > horizon then censored = true; break end
    end
    local shown = censored and horizon or math.min(floor(last), horizon)
    if shown > kmax then kmax = shown end
    -- escapes per step up to the horizon
    local n, at = #steps, {}
    for _, t in ipairs(steps) do
      if t ~= -1 and t <= horizon then at[t] = (at[t] or 0) + 1 end
    end
    local ks = {}
    for k in pairs(at) do ks[#ks + 1] = k end
    table.sort(ks)
    local alive = n
    local rows = { { 0, 1.0, n, 1.0, 1.0 } }
    for _, k in ipairs(ks) do
      alive = alive - at[k]
      local lo, hi = wilson(alive, n)
      rows[#rows + 1] = { floor(k), alive / n, alive, lo, hi }
    end
    if rows[#rows][1] ~= horizon then
      local lo, hi = wilson(alive, n)
      rows[#rows + 1] = { horizon, alive / n, alive, lo, hi }
    end
    local yv = {}
    for j, r in ipairs(rows) do yv[j] = r[2] end
    ally[#ally + 1] = yv
    if bands then
      local bl = {}
      for j, r in ipairs(rows) do bl[j] = r[4] end
      ally[#ally + 1] = bl
    end
    block(dat, {
      ("index %d: series %d, %s (%d paths, horizon %d, %d escaped)"):format(
        i - 1, si, gq(label(s, si)), n, horizon, n - alive),
      "k survival not_escaped lo hi (lo, hi: 95% Wilson interval of survival)",
    }, rows)
    lines[#lines + 1] = ("DATA index %d using 1:2 with steps ls %d title %s")
      :format(i - 1, i, gq(label(s, si)))
    if bands then
      -- The band as a step polygon: each value holds until the next step.
      local poly = {}
      for j, r in ipairs(rows) do
        local knext = rows[j + 1] and rows[j + 1][1] or r[1]
        poly[#poly + 1] = { r[1], r[4], r[5] }
        poly[#poly + 1] = { knext, r[4], r[5] }
      end
      fills[#fills + 1] = { i, poly }
    end
  end
  -- The bands come after the curves in the .dat (indices #series ...) and are drawn
  -- first, under every curve.
  local plots = {}
  for j, f in ipairs(fills) do
    local idx = #order + j - 1
    block(dat, { ("index %d: 95%% band of series %d"):format(idx, order[f[1]].i), "k lo hi" }, f[2])
    plots[#plots + 1] = ("DATA index %d using 1:2:3 with filledcurves fc rgb '%s' "
      .. "fs transparent solid 0.15 noborder notitle"):format(idx, styles[f[1]].color)
  end
  for _, l in ipairs(lines) do plots[#plots + 1] = l end
  table.insert(dat, 1, "# hasme.plot.survival: P(tau > k), the fraction of paths not escaped by step k\n")
  local settings = {
    ("set xrange [0:%d]"):format(kmax),
    "set xlabel " .. gq(spec.xlabel or "step k"),
    "set ylabel " .. gq(spec.ylabel or "P(tau > k)") .. " rotate by 90",
  }
  if logy then
    settings[#settings + 1] = "set logscale y"
    settings[#settings + 1] = "set format y '%g'"
    logyaxis(settings, ally, 1)
  else
    settings[#settings + 1] = "set yrange [0:1.05]"
  end
  if bands then
    settings[#settings + 1] = ("set label 2 '%s' at graph 0.99, graph 0.97 right font ',11' tc rgb '#555555'")
      :format("shaded: 95% confidence bands")
  end
  return render(fname, spec, dat, settings, plots, styles)
end

-- Least squares of log y on log x: hasme.stats.loglog_fit when it is there.
local function fitloglog(x, y)
  local ok, stats = pcall(require, "hasme.stats")
  if ok and type(stats) == "table" and type(stats.loglog_fit) == "function" then
    local fok, f = pcall(stats.loglog_fit, x, y)
    if fok and type(f) == "table" and f.slope then return f end
  end
  local n = #x
  local mx, my = 0, 0
  for i = 1, n do mx, my = mx + log(x[i]), my + log(y[i]) end
  mx, my = mx / n, my / n
  local sxx, sxy = 0, 0
  for i = 1, n do
    local dx = log(x[i]) - mx
    sxx = sxx + dx * dx
    sxy = sxy + dx * (log(y[i]) - my)
  end
  local slope = sxy / sxx
  return { slope = slope, intercept = my - slope * mx, n = n }
end

-- The .dat block and plot clause of an x-y series (lines and loglog): the i-th
-- drawn, spec.series[si]. xcol is the x column of the plot ("1", or an expression
-- that shifts it when error bars are dodged).
local function xyblock(dat, i, si, s, x, y, lo, hi, style, xcol)
  local rows = {}
  for j = 1, #x do rows[j] = lo and { x[j], y[j], lo[j], hi[j] } or { x[j], y[j] } end
  block(dat, {
    ("index %d: series %d, %s (%d points)"):format(i - 1, si, gq(label(s, si)), #x),
    lo and "x y lo hi" or "x y",
  }, rows)
  if lo then
    return ("DATA index %d using %s:2:3:4 with %s ls %d"):format(i - 1, xcol, style[2], i)
  end
  return ("DATA index %d using %s:2 with %s ls %d"):format(i - 1, xcol, style[1], i)
end

-- Error bars of several series at the same x would hide each other: the x columns
-- that spread them. xs[k], bars[k]: the x values of the k-th drawn series and
-- whether it has error bars. The m series with bars that share an x with another
-- are shifted by (j - (m + 1)/2) steps of 1.2% of the x range (of its logarithm on a
-- log axis); the .dat keeps the true x.
local function dodge(xs, bars, logx)
  local cols, shared = {}, {}
  local count = {}
  for k, x in ipairs(xs) do
    if bars[k] then
      for _, v in ipairs(x) do count[v] = (count[v] or 0) + 1 end
    end
  end
  local m = 0
  for k, x in ipairs(xs) do
    cols[k] = "1"
    if bars[k] then
      for _, v in ipairs(x) do
        if count[v] > 1 then shared[k] = true; break end
      end
      if shared[k] then m = m + 1 end
    end
  end
  if m < 2 then return cols end
  local lo, hi = huge, -huge
  for _, x in ipairs(xs) do
    for _, v in ipairs(x) do
      local t = logx and log(v) / log(10) or v
      lo, hi = math.min(lo, t), math.max(hi, t)
    end
  end
  local span = hi > lo and hi - lo or (logx and 1 or math.max(math.abs(hi), 1))
  local step = 0.012 * span
  local j = 0
  for k in ipairs(xs) do
    if shared[k] then
      j = j + 1
      local d = (j - (m + 1) / 2) * step
      if logx then
        cols[k] = ("($1*%s)"):format(num(10 ^ d))
      else
        cols[k] = ("($1+%s)"):format(num(d))
      end
    end
  end
  return cols
end

-- The x, y, lo, hi of every series of spec in drawing order, checked.
local function xyall(fname, spec, positive)
  local order = arrange(spec)
  local data, xs, bars = {}, {}, {}
  for k, e in ipairs(order) do
    local x, y, lo, hi = xyseries(fname, e.s, e.i, positive)
    data[k] = { x = x, y = y, lo = lo, hi = hi }
    xs[k], bars[k] = x, lo ~= nil
  end
  return order, data, xs, bars
end

--- Points with optional error bars on log-log axes, and with fit = true (the
-- default) a least-squares line of log y on log x per series, whose slope is shown
-- in the key. spec: file, title, xlabel, ylabel, fit, series = { {label =, x =, y =,
-- lo =, hi =}, ... } (lo and hi: the ends of the error bars). Returns the files and
-- the fits (one table per series of spec.series, with slope and intercept; nil
-- without fit).
function IMPL.loglog(spec)
  local fname = "loglog"
  common(fname, spec)
  local fit = spec.fit
  if fit == nil then fit = true end
  if type(fit) ~= "boolean" then badarg(fname, "field 'fit': boolean expected") end
  local order, data, xs, bars = xyall(fname, spec, true)
  local cols = dodge(xs, bars, true)
  local dat, plots, fits, lines, ally, styles = {}, {}, {}, {}, {}, {}
  local nseries = #order
  for i, e in ipairs(order) do
    local s, d = e.s, data[i]
    styles[i] = e.style
    ally[#ally + 1] = d.y
    if d.lo then ally[#ally + 1] = d.lo; ally[#ally + 1] = d.hi end
    local clause = xyblock(dat, i, e.i, s, d.x, d.y, d.lo, d.hi, { "points", "yerrorbars" }, cols[i])
    local title = label(s, e.i)
    if fit then
      if #d.x < 2 then
        badarg(fname, ("field 'series[%d].x': a fit needs at least 2 points"):format(e.i))
      end
      local f = fitloglog(d.x, d.y)
      fits[e.i] = f
      local x0, x1 = huge, -huge
      for _, v in ipairs(d.x) do
        if v < x0 then x0 = v end
        if v > x1 then x1 = v end
      end
      local slope = fmt("%.2f", f.slope)
      if f.slope_se then slope = slope .. fmt(" ± %.2f", f.slope_se) end
      title = ("%s (slope %s)"):format(title, slope)
      lines[#lines + 1] = { i, f, x0, x1 }
    end
    plots[#plots + 1] = clause .. " title " .. gq(title)
  end
  for j, l in ipairs(lines) do
    local i, f, x0, x1 = table.unpack(l)
    local function at(xv) return exp(f.intercept + f.slope * log(xv)) end
    block(dat, {
      ("index %d: fit of series %d, log y = %s + %s log x"):format(
        nseries + j - 1, order[i].i, num(f.intercept), num(f.slope)),
      "x y",
    }, { { x0, at(x0) }, { x1, at(x1) } })
    plots[#plots + 1] = ("DATA index %d using 1:2 with lines ls %d notitle"):format(nseries + j - 1, 100 + i)
  end
  table.insert(dat, 1, "# hasme.plot.loglog\n")
  local settings = { "set logscale xy", "set autoscale xfix", "set format x '%g'",
    "set format y '%g'", "set offsets graph 0.05, graph 0.05, 0, 0" }
  logxtics(settings, xs)
  logyaxis(settings, ally)
  local xr, yr = optrange(fname, spec, "xrange"), optrange(fname, spec, "yrange")
  if xr then settings[#settings + 1] = ("set xrange [%s:%s]"):format(num(xr[1]), num(xr[2])) end
  if yr then settings[#settings + 1] = ("set yrange [%s:%s]"):format(num(yr[1]), num(yr[2])) end
  return render(fname, spec, dat, settings, plots, styles), fit and fits or nil
end

--- Lines through points, with optional error bars. spec: file, title, xlabel,
-- ylabel, logx = false, logy = false, series = { {label =, x =, y =, lo =, hi =}, ... }.
function IMPL.lines(spec)
  local fname = "lines"
  common(fname, spec)
  for _, f in ipairs { "logx", "logy" } do
    if spec[f] ~= nil and type(spec[f]) ~= "boolean" then
      badarg(fname, ("field '%s': boolean expected"):format(f))
    end
  end
  local order, data, xs, bars = xyall(fname, spec, false)
  local cols = dodge(xs, bars, spec.logx)
  local dat, plots, ally, styles = {}, {}, {}, {}
  for i, e in ipairs(order) do
    local d = data[i]
    styles[i] = e.style
    ally[#ally + 1] = d.y
    if d.lo then ally[#ally + 1] = d.lo; ally[#ally + 1] = d.hi end
    local title = gq(label(e.s, e.i))
    if cols[i] == "1" then
      local clause = xyblock(dat, i, e.i, e.s, d.x, d.y, d.lo, d.hi, { "linespoints", "yerrorlines" }, "1")
      plots[#plots + 1] = clause .. " title " .. title
    else
      -- Dodged: the line stays at the true x (so that coinciding curves still
      -- overlay, the thin one inside the thick one), the points and their bars move;
      -- the key shows the line with its point.
      local bars = xyblock(dat, i, e.i, e.s, d.x, d.y, d.lo, d.hi, { "points", "yerrorbars" }, cols[i])
      plots[#plots + 1] = ("DATA index %d using 1:2 with lines ls %d notitle"):format(i - 1, i)
      plots[#plots + 1] = bars .. " notitle"
      plots[#plots + 1] = ("keyentry with linespoints ls %d title %s"):format(i, title)
    end
  end
  table.insert(dat, 1, "# hasme.plot.lines\n")
  local settings = { "set autoscale fix",
    "set offsets graph 0.05, graph 0.05, graph 0.05, graph 0.05" }
  if spec.logx then
    settings[#settings + 1] = "set logscale x"
    logxtics(settings, xs)
  end
  if spec.logy then
    settings[#settings + 1] = "set logscale y"
    settings[#settings + 1] = "set format y '%g'"
    logyaxis(settings, ally)
  end
  local xr, yr = optrange(fname, spec, "xrange"), optrange(fname, spec, "yrange")
  if xr then settings[#settings + 1] = ("set xrange [%s:%s]"):format(num(xr[1]), num(xr[2])) end
  if yr then settings[#settings + 1] = ("set yrange [%s:%s]"):format(num(yr[1]), num(yr[2])) end
  return render(fname, spec, dat, settings, plots, styles)
end

-- The public functions: the checks and the gnuplot run raise at level 0, and this
-- re-raises at the caller of the plot function.
for kind, impl in pairs(IMPL) do
  M[kind] = function(spec)
    local ok, files, extra = pcall(impl, spec)
    if not ok then error(files, 2) end
    return files, extra
  end
end

--- Draw the figure spec.kind ("histograms", "survival", "loglog" or "lines") with
-- the rest of spec: the entry point of ctx:figure in experiments.
function M.figure(spec)
  if type(spec) ~= "table" then
    error("bad argument #1 to 'figure' (table expected, got " .. type(spec) .. ")", 2)
  end
  local impl = IMPL[spec.kind]
  if not impl then
    error(("bad argument #1 to 'figure' (field 'kind': 'histograms', 'survival', 'loglog' "
      .. "or 'lines' expected, got %s)"):format(type(spec.kind) == "string"
      and "'" .. spec.kind .. "'" or type(spec.kind)), 2)
  end
  local s = {}
  for k, v in pairs(spec) do if k ~= "kind" then s[k] = v end end
  local ok, files, extra = pcall(impl, s)
  if not ok then error(files, 2) end
  return files, extra
end

-- }==================================================================

return M
