-- plot_spec.lua: hasme.plot (the four figures: their files, the PNG's size, the
-- standalone .gp script, awkward labels, gnuplot missing). hasme.json and hasme.report,
-- which the figures and the runner write through, have specs of their own.
local hasme = require "hasme"
local plot = require "hasme.plot"
local U = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "spec_util.lua")
local readfile, exists, q, pwd, ROOT, BUILD, BIN = U.readfile, U.exists, U.q, U.pwd, U.ROOT, U.BUILD, U.BIN

local function tmpdir()
  local name = os.tmpname()
  os.remove(name)
  assert(os.execute("mkdir -p " .. q(name)))
  return name
end

-- Width and height from the IHDR chunk of a PNG file, after checking its signature.
local function pngsize(name)
  local s = readfile(name)
  assert.equal("\137PNG\r\n\26\n", s:sub(1, 8))
  assert.equal("IHDR", s:sub(13, 16))
  return string.unpack(">I4I4", s, 17)
end

-- The .dat rows of gnuplot index idx (0-based) as lists of numbers.
local function datblock(name, idx)
  local blocks, cur, blank = {}, nil, 0
  for line in io.lines(name) do
    if line == "" then
      blank = blank + 1
    elseif line:sub(1, 1) ~= "#" then
      if cur == nil or blank >= 2 then
        cur = {}
        blocks[#blocks + 1] = cur
      end
      blank = 0
      local row = {}
      for w in line:gmatch("%S+") do row[#row + 1] = tonumber(w) end
      cur[#cur + 1] = row
    end
  end
  return blocks[idx + 1]
end

describe("hasme.plot", function()
  local dir

  before_each(function()
    dir = tmpdir()
  end)

  after_each(function()
    os.execute("rm -rf " .. q(dir))
  end)

  local function writes_four(files, base)
    assert.same({ base .. ".dat", base .. ".gp", base .. ".png", base .. ".svg" }, files)
    for _, f in ipairs(files) do assert.is_true(exists(f), f) end
    local w, h = pngsize(base .. ".png")
    assert.equal(1000, w)
    assert.equal(650, h)
    assert.matches('^<%?xml.-<svg.-width="1000".-height="650"', readfile(base .. ".svg"))
    for _, ext in ipairs { ".png.tmp", ".svg.tmp", ".dat.tmp", ".gp.tmp" } do
      assert.is_false(exists(base .. ext))
    end
  end

  it("draws histograms with counts or densities and exact curves", function()
    local base = dir .. "/hist"
    local files = plot.histograms {
      file = base, title = "two samples", bins = 2, range = { 0, 2 },
      series = { { label = "a", values = { 0, 0.5, 1, 1, 2 } },
                 { label = "b", values = hasme.vec { 0.25, 1.75, 3.5 } } },
      curves = { { label = "flat", fn = function() return 0.5 end } },
    }
    writes_four(files, base)
    -- a: [0, 1) holds 2 of 5 values, [1, 2] holds 3; b: 3.5 is out of range
    assert.same({ { 0, 1, 0.5, 2, 0.4 }, { 1, 2, 1.5, 3, 0.6 } }, datblock(base .. ".dat", 0))
    assert.same({ { 0, 1, 0.5, 1, 1 / 3 }, { 1, 2, 1.5, 1, 1 / 3 } }, datblock(base .. ".dat", 1))
    local curve = datblock(base .. ".dat", 2)
    assert.equal(401, #curve)
    assert.same({ 2, 0.5 }, curve[401])
    local gp = readfile(base .. ".gp")
    assert.matches("with histeps ls 1 title 'a'", gp, 1, true)
    assert.matches("using 3:5 with histeps", gp, 1, true)
    -- density = false plots the counts (column 4); the default range covers the data
    files = plot.histograms { file = base .. "2", density = false,
      series = { { values = { 1, 2, 3, 4 } } } }
    assert.matches("using 3:4 with histeps ls 1 title 'series 1'", readfile(base .. "2.gp"), 1, true)
    local rows = datblock(base .. "2.dat", 0)
    assert.equal(60, #rows)
    assert.equal(1, rows[1][1])
    assert.equal(4, rows[60][2])
  end)

  it("draws survival curves P(tau > k) as step functions", function()
    local base = dir .. "/surv"
    local files = plot.survival {
      file = base, title = "escape",
      series = { { label = "sgd", steps = hasme.vec { 1, 3, -1, 3 }, horizon = 5 },
                 { label = "none", steps = { -1, -1 } } },
    }
    writes_four(files, base)
    -- k, survival, paths not escaped, and the 95% Wilson interval of the survival
    local rows = datblock(base .. ".dat", 0)
    local want = { { 0, 1, 4 }, { 1, 0.75, 3 }, { 3, 0.25, 1 }, { 5, 0.25, 1 } }
    for j, w in ipairs(want) do
      assert.same(w, { rows[j][1], rows[j][2], rows[j][3] })
      local lo, hi = 1, 1
      if j > 1 then lo, hi = hasme.stats.wilson(w[3], 4, 0.95) end
      assert.near(lo, rows[j][4], 1e-12)
      assert.near(hi, rows[j][5], 1e-12)
    end
    local none = datblock(base .. ".dat", 1)
    assert.same({ { 0, 1, 2, 1, 1 }, { 1, 1, 2 } }, { none[1], { none[2][1], none[2][2], none[2][3] } })
    assert.near((hasme.stats.wilson(2, 2, 0.95)), none[2][4], 1e-12)
    local gp = readfile(base .. ".gp")
    assert.matches("using 1:2 with steps ls 2 title 'none'", gp, 1, true)
    -- the bands (indices 2 and 3, step polygons of lo and hi) are drawn first
    local band = datblock(base .. ".dat", 2)
    assert.same({ 1, 0.75 }, { band[3][1], rows[2][2] })
    assert.near(rows[2][4], band[3][2], 1e-12)
    assert.near(rows[2][4], band[4][2], 1e-12)
    assert.equal(3, band[4][1])
    assert.matches("plot 'surv.dat' index 2 using 1:2:3 with filledcurves fc rgb '#000000'", gp, 1, true)
    plot.survival { file = base .. "nob", bands = false, series = { { steps = { 2, 4, 4 } } } }
    assert.is_nil(readfile(base .. "nob.gp"):find("filledcurves", 1, true))
    plot.survival { file = base .. "log", logy = true, series = { { steps = { 2, 4, 4, -1 } } } }
    gp = readfile(base .. "log.gp")
    assert.matches("\nset logscale y\n", gp, 1, true)
    -- both ends of the log axis are labelled: the band's lowest value is 0.046, so
    -- the axis runs from 0.02 to 1 (survival never exceeds 1)
    assert.matches("\nset yrange [0.02:1]\nset ytics ('0.02' 0.02, '0.05' 0.05, '0.1' 0.1, '0.2' 0.2, '0.5' 0.5, '1' 1)\n",
      gp, 1, true)
  end)

  it("draws log-log points with error bars and fitted lines with their slopes", function()
    local base = dir .. "/ll"
    local x = { 0.4, 0.2, 0.1, 0.05 }
    local y, lo, hi = {}, {}, {}
    for i, v in ipairs(x) do
      y[i] = 2.385 * v ^ 2
      lo[i], hi[i] = 0.9 * y[i], 1.1 * y[i]
    end
    local files, fits = plot.loglog {
      file = base, title = "weak error", xlabel = "eta", ylabel = "error",
      series = { { label = "hasme", x = x, y = y, lo = lo, hi = hi },
                 { label = "sme1", x = hasme.vec(x), y = { 0.4, 0.2, 0.1, 0.05 } } },
    }
    writes_four(files, base)
    assert.near(2, fits[1].slope, 1e-12)
    assert.near(math.log(2.385), fits[1].intercept, 1e-12)
    assert.near(1, fits[2].slope, 1e-12)
    local gp = readfile(base .. ".gp")
    -- SME-1 is drawn before HA-SME whatever the order given: index 0 is sme1
    assert.matches("index 1 using 1:2:3:4 with yerrorbars ls 2 title 'hasme (slope 2.00", gp, 1, true)
    assert.matches("index 0 using 1:2 with points ls 1 title 'sme1 (slope 1.00", gp, 1, true)
    assert.matches("index 3 using 1:2 with lines ls 102 notitle", gp, 1, true)
    local line = datblock(base .. ".dat", 3)
    assert.near(0.05, line[1][1], 1e-15)
    assert.near(2.385 * 0.05 ^ 2, line[1][2], 1e-12)
    -- without the fit
    local _, none = plot.loglog { file = base .. "2", fit = false, series = { { x = { 1 }, y = { 2 } } } }
    assert.is_nil(none)
    assert.is_nil(readfile(base .. "2.gp"):find("with lines", 1, true))
    -- measured x values are labelled with three significant digits, more where three
    -- would print two alike
    plot.loglog { file = base .. "3", fit = false,
                  series = { { x = { 1.68518, 7.62842, 31.6 }, y = { 1, 2, 3 } } } }
    assert.matches("set xtics ('1.69' 1.68518, '7.63' 7.62842, '31.6' 31.6)",
                   readfile(base .. "3.gp"), 1, true)
    plot.loglog { file = base .. "4", fit = false,
                  series = { { x = { 1.0001, 1.0002, 2 }, y = { 1, 2, 3 } } } }
    assert.matches("set xtics ('1.0001' 1.0001, '1.0002' 1.0002, '2' 2)",
                   readfile(base .. "4.gp"), 1, true)
  end)

  it("draws lines with optional error bars and log axes", function()
    local base = dir .. "/lines"
    local files = plot.lines {
      file = base, title = "mean escape step", xlabel = "eta", ylabel = "E tau", logx = true,
      series = { { label = "sgd", x = { 0.4, 0.2, 0.1 }, y = { 10, 22, 45 },
                   lo = { 9, 20, 41 }, hi = { 11, 24, 49 } },
                 { label = "sme1", x = { 0.4, 0.2, 0.1 }, y = { 14, 25, 47 } } },
    }
    writes_four(files, base)
    assert.same({ { 0.4, 10, 9, 11 }, { 0.2, 22, 20, 24 }, { 0.1, 45, 41, 49 } },
      datblock(base .. ".dat", 0))
    local gp = readfile(base .. ".gp")
    assert.matches("using 1:2:3:4 with yerrorlines ls 1 title 'sgd'", gp, 1, true)
    assert.matches("using 1:2 with linespoints ls 2 title 'sme1'", gp, 1, true)
    assert.matches("\nset logscale x\n", gp, 1, true)
    assert.is_nil(gp:find("set logscale y", 1, true))
  end)

  it("gives each model one colour, dash and point type whatever the order of the series", function()
    local function styles(series)
      local base = dir .. "/sty"
      plot.lines { file = base, series = series }
      local gp = readfile(base .. ".gp")
      local st, titles = {}, {}
      for n, def in gp:gmatch("\nset style line (%d+) (lc rgb [^\n]*)") do
        if tonumber(n) < 100 then st[tonumber(n)] = def end
      end
      for n, t in gp:gmatch("with linespoints ls (%d+) title '([^']*)'") do titles[t] = st[tonumber(n)] end
      return titles, gp
    end
    local x, y = { 1, 2 }, { 1, 2 }
    local a, gpa = styles { { label = "HA-SME", x = x, y = y }, { label = "sgd", x = x, y = y },
                            { label = "SME-1 (order 1)", x = x, y = y }, { label = "other", x = x, y = y } }
    local b = styles { { label = "SME-1 (order 1)", x = x, y = y }, { label = "other", x = x, y = y },
                       { label = "x", x = x, y = y, model = "hasme" }, { label = "SGD", x = x, y = y } }
    assert.equal(a["HA-SME"], b["x"])
    assert.equal(a["sgd"], b["SGD"])
    assert.equal(a["SME-1 (order 1)"], b["SME-1 (order 1)"])
    assert.equal(a["other"], b["other"])
    assert.equal("lc rgb '#000000' lw 4.5 dt solid pt 7 ps 1.3", a["sgd"])
    assert.equal("lc rgb '#0072B2' lw 2 dt (10,6) pt 5 ps 1.3", a["SME-1 (order 1)"])
    assert.equal("lc rgb '#D55E00' lw 2 dt solid pt 13 ps 1.3", a["HA-SME"])
    -- SGD is drawn first (underneath), then the models in their order, then the rest
    local order = {}
    for t in gpa:gmatch("title '([^']*)'") do order[#order + 1] = t end
    assert.same({ "sgd", "SME-1 (order 1)", "HA-SME", "other" }, order)
    -- a second series of the same model keeps its colour with another point type
    local c = styles { { label = "SME-1, minimum", x = x, y = y }, { label = "SME-1, saddle", x = x, y = y } }
    assert.equal("lc rgb '#0072B2' lw 2 dt (10,6) pt 4 ps 1.3", c["SME-1, saddle"])
    assert.has_error(function() plot.lines { file = dir .. "/m", series = { { x = x, y = y, model = "sme3" } } } end,
      "bad argument #1 to 'lines' (field 'series[1].model': 'sgd', 'sme1', 'sme2', 'hasme' or 'svag' expected, got 'sme3')")
  end)

  it("puts the key below the plot in every figure unless asked otherwise", function()
    local x, y = { 1, 2 }, { 1, 2 }
    plot.lines { file = dir .. "/k1", series = { { x = x, y = y } } }
    plot.survival { file = dir .. "/k2", series = { { steps = { 1, 2 } } } }
    plot.loglog { file = dir .. "/k3", series = { { x = x, y = y } } }
    plot.histograms { file = dir .. "/k4", series = { { values = x } } }
    for k = 1, 4 do
      assert.matches("\nset key at screen 0.5, screen 0.012 center bottom horizontal", readfile(dir .. "/k" .. k .. ".gp"), 1, true)
    end
    plot.lines { file = dir .. "/k5", key = "top left", series = { { x = x, y = y } } }
    assert.matches("\nset key inside left top", readfile(dir .. "/k5.gp"), 1, true)
  end)

  it("labels both ends of a log y axis", function()
    local gp
    plot.loglog { file = dir .. "/ly", fit = false,
                  series = { { x = { 0.1, 0.2 }, y = { 3e-4, 0.04 }, lo = { 2e-6, 0.03 }, hi = { 6e-4, 0.05 } } } }
    gp = readfile(dir .. "/ly.gp")
    -- the lowest error bar end is 2e-6 and the highest 0.05: four decades, tics at
    -- the powers of ten and at both ends
    assert.matches("\nset yrange [2e-06:0.05]\nset ytics ('2e-06' 2e-06, '1e-05' 1e-05, '0.0001' 0.0001, "
      .. "'0.001' 0.001, '0.01' 0.01, '0.05' 0.05)\n", gp, 1, true)
    plot.lines { file = dir .. "/ly2", logy = true, series = { { x = { 1, 2 }, y = { 0.13, 0.37 } } } }
    assert.matches("\nset yrange [0.1:0.5]\nset ytics ('0.1' 0.1, '0.2' 0.2, '0.5' 0.5)\n",
      readfile(dir .. "/ly2.gp"), 1, true)
  end)

  it("dodges error bars that share an x, leaving the data as they are", function()
    local base = dir .. "/dodge"
    local x = { 0.1, 0.2, 0.4 }
    local bar = function(v) return { v[1] - 1, v[2] - 1, v[3] - 1 }, { v[1] + 1, v[2] + 1, v[3] + 1 } end
    local lo1, hi1 = bar { 5, 6, 7 }
    local lo2, hi2 = bar { 5.5, 6.5, 7.5 }
    plot.lines { file = base, logx = true, series = {
      { label = "sgd", x = x, y = { 5, 6, 7 }, lo = lo1, hi = hi1 },
      { label = "sme1", x = x, y = { 5.5, 6.5, 7.5 }, lo = lo2, hi = hi2 },
      { label = "sme2", x = x, y = { 6, 7, 8 } } } }
    local gp = readfile(base .. ".gp")
    -- two series with bars: shifted by -1/2 and +1/2 steps of 1.2% of log10(4)
    local f = 10 ^ (0.5 * 0.012 * math.log(4, 10))
    local a, b = gp:match("index 0 using %(%$1%*([%d%.e%-]+)%):2:3:4"), gp:match("index 1 using %(%$1%*([%d%.e%-]+)%):2:3:4")
    assert.near(1 / f, tonumber(a), 1e-12)
    assert.near(f, tonumber(b), 1e-12)
    assert.matches("index 2 using 1:2 with linespoints", gp, 1, true)
    assert.same({ 0.1, 5, 4, 6 }, datblock(base .. ".dat", 0)[1])
    -- on a linear axis the shift is additive
    plot.lines { file = base .. "2", series = {
      { label = "a", x = { 1, 3 }, y = { 1, 2 }, lo = { 0, 1 }, hi = { 2, 3 } },
      { label = "b", x = { 1, 3 }, y = { 1, 2 }, lo = { 0, 1 }, hi = { 2, 3 } } } }
    assert.matches("index 0 using ($1+-0.012):2:3:4", readfile(base .. "2.gp"), 1, true)
  end)

  it("writes a .gp script that runs again standalone and gives the same figure", function()
    local base = dir .. "/again"
    plot.lines { file = base, series = { { x = { 1, 2, 3 }, y = { 2, 4, 3 } } } }
    local png, svg = readfile(base .. ".png"), readfile(base .. ".svg")
    os.remove(base .. ".png")
    os.remove(base .. ".svg")
    assert.is_true(os.execute("cd " .. q(dir) .. " && gnuplot again.gp 2>/dev/null"))
    assert.equal(png, readfile(base .. ".png"))
    assert.equal(svg, readfile(base .. ".svg"))
  end)

  it("shows awkward labels and titles literally", function()
    local base = dir .. "/awk"
    local label = "it's \"a_b\" & <c> 50% \\n @x^2 {y}"
    plot.lines { file = base, title = "title_with_underscores 'q'", xlabel = "x_1", ylabel = "E[f(x_k)]",
      series = { { label = label .. "\nsecond line", x = { 1, 2 }, y = { 1, 2 } } } }
    local gp = readfile(base .. ".gp")
    assert.matches("title 'it''s \"a_b\" & <c> 50% \\n @x^2 {y} second line'", gp, 1, true)
    assert.matches("set label 1 'title_with_underscores ''q''' at screen 0.5", gp, 1, true)
    assert.matches("noenhanced", gp, 1, true)
    local svg = readfile(base .. ".svg")
    assert.matches("it's \"a_b\" &amp; &lt;c> 50% \\n @x^2 {y} second line", svg, 1, true)
    assert.matches("title_with_underscores 'q'", svg, 1, true)
    assert.equal("'a''b'", plot.quote("a'b"))
  end)

  it("rejects bad specs, naming the field", function()
    local cases = {
      { "lines", { series = { { x = { 1 }, y = { 1 } } } },
        "bad argument #1 to 'lines' (field 'file': output path without extension expected)" },
      { "lines", { file = dir .. "/x", series = {} },
        "bad argument #1 to 'lines' (field 'series': non-empty list expected)" },
      { "lines", { file = dir .. "/x", series = { { x = { 1, 2 }, y = { 1 } } } },
        "bad argument #1 to 'lines' (field 'series[1].y': length 1 does not match length 2 of x)" },
      { "lines", { file = dir .. "/x", series = { { x = { 1 }, y = { 0 / 0 } } } },
        "bad argument #1 to 'lines' (field 'series[1].y': non-finite value at index 1)" },
      { "lines", { file = dir .. "/x", series = { { x = { 1 }, y = { 1 }, lo = { 0 } } } },
        "bad argument #1 to 'lines' (field 'series[1].lo': lo and hi go together (error bar bounds))" },
      { "lines", { file = dir .. "/x", series = { { x = "1", y = { 1 } } } },
        "bad argument #1 to 'lines' (field 'series[1].x': vector expected (hasme.Vec or list of numbers), got string)" },
      { "loglog", { file = dir .. "/x", series = { { x = { 1, 2 }, y = { 1, -2 } } } },
        "bad argument #1 to 'loglog' (field 'series[1].y': positive value expected at index 2 (log axes), got -2)" },
      { "loglog", { file = dir .. "/x", series = { { x = { 1 }, y = { 1 } } } },
        "bad argument #1 to 'loglog' (field 'series[1].x': a fit needs at least 2 points)" },
      { "histograms", { file = dir .. "/x", bins = 0, series = { { values = { 1 } } } },
        "bad argument #1 to 'histograms' (field 'bins': positive integer expected)" },
      { "histograms", { file = dir .. "/x", series = { { values = {} } } },
        "bad argument #1 to 'histograms' (field 'series[1].values': no values)" },
      { "histograms", { file = dir .. "/x", range = { 1, 1 }, series = { { values = { 1 } } } },
        "bad argument #1 to 'histograms' (field 'range': {lo, hi} with finite lo < hi expected)" },
      { "survival", { file = dir .. "/x", series = { { steps = { 1, 0 } } } },
        "bad argument #1 to 'survival' (field 'series[1].steps': escape step expected at index 2 "
          .. "(a positive integer or -1), got 0)" },
      { "survival", { file = dir .. "/x", series = { { steps = { 1 }, horizon = 0 } } },
        "bad argument #1 to 'survival' (field 'series[1].horizon': positive integer expected)" },
    }
    for _, c in ipairs(cases) do
      local ok, err = pcall(plot[c[1]], c[2])
      assert.is_false(ok)
      assert.equal(c[3], err)
    end
    assert.has_error(function() plot.figure { kind = "pie" } end,
      "bad argument #1 to 'figure' (field 'kind': 'histograms', 'survival', 'loglog' or 'lines' expected, got 'pie')")
    local ok, err = pcall(plot.histograms, { file = dir .. "/x", series = { { values = { 1 } } },
      curves = { { fn = function() return "high" end } } })
    assert.is_false(ok)
    assert.equal("plot: curves[1].fn returned a string at x = 0.5, not a number", err)
    assert.is_false(exists(dir .. "/x.dat"))
  end)

  it("dispatches on kind in figure", function()
    local files = plot.figure { kind = "lines", file = dir .. "/k", series = { { x = { 1 }, y = { 1 } } } }
    assert.equal(dir .. "/k.png", files[3])
  end)

  it("says how to install gnuplot when it is missing, and writes nothing", function()
    local empty = dir .. "/empty"
    os.execute("mkdir -p " .. q(empty))
    local chunk = ("local ok, err = pcall(require('hasme.plot').lines, {file = %q, "
      .. "series = {{x = {1}, y = {1}}}}) print(err) print(io.open(%q) == nil)")
      :format(dir .. "/none", dir .. "/none.dat")
    local p = assert(io.popen(("env -u LUA_INIT PATH=%s %s -e %s 2>&1"):format(q(empty), q(BIN), q(chunk))))
    local out = p:read("a")
    p:close()
    assert.equal("plot: gnuplot not found (install the Debian package gnuplot-nox)\ntrue\n", out)
  end)
end)
