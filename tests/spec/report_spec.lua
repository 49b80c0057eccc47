-- report_spec.lua: hasme.report: result tables as aligned text and CSV, the
-- whole-or-nothing writes every file of the runner goes through, and the check
-- that a figure file is complete.
local report = require "hasme.report"
local U = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "spec_util.lua")
local readfile, writefile, q = U.readfile, U.writefile, U.q

describe("hasme.report", function()
  local t = {
    title = "escape", columns = { "eta", "model", "mean", "ok" },
    rows = { { 0.1, "sgd", 1.23456789, true }, { 0.05, "hasme", 0 / 0 },
             { eta = 1, model = "x, \"y\"", mean = 12 } },
    formats = { mean = "%.3f" },
  }

  it("aligns text tables, numbers right and text left", function()
    assert.equal(table.concat({
      "escape",
      " eta  model     mean  ok",
      "----  ------  ------  ----",
      " 0.1  sgd      1.235  true",
      "0.05  hasme      nan  -",
      "   1  x, \"y\"  12.000  -",
    }, "\n") .. "\n", report.format(t))
  end)

  it("writes CSV in full precision with RFC 4180 quoting", function()
    assert.equal('eta,model,mean,ok\n0.1,sgd,1.23456789,true\n0.05,hasme,nan,\n1,"x, ""y""",12,\n',
      report.csv(t))
  end)

  it("rejects malformed tables, naming the field", function()
    assert.has_error(function() report.csv { columns = { "a" }, rows = { { 1, 2 } } } end,
      "bad argument #1 to 'csv' (field 'rows': row 1 has a cell at index 2 but there are 1 columns)")
    assert.has_error(function() report.format { columns = { "a", "a" }, rows = {} } end,
      "bad argument #1 to 'format' (field 'columns': column 'a' given twice)")
    assert.has_error(function() report.format { columns = { "a" }, rows = { { b = 1 } } } end,
      "bad argument #1 to 'format' (field 'rows': row 1 has an unknown column 'b')")
  end)
end)

describe("hasme.report files", function()
  local dir

  before_each(function()
    dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. q(dir)))
  end)

  after_each(function()
    os.execute("rm -rf " .. q(dir))
  end)

  it("writes whole files and leaves no temporary file", function()
    local path = dir .. "/t.csv"
    assert.equal(path, report.write(path, "a,b\n1,2\n"))
    assert.equal("a,b\n1,2\n", readfile(path))
    report.write(path, "c\n")
    assert.equal("c\n", readfile(path))
    local p = assert(io.popen("ls -A " .. q(dir)))
    assert.equal("t.csv\n", p:read("a"))
    p:close()
  end)

  it("names the file on failure and keeps the old one", function()
    local path = dir .. "/keep.json"
    report.write(path, "old")
    assert(os.execute("mkdir " .. q(path .. ".tmp")))   -- the temporary file cannot be made
    assert.has_error(function() report.write(path, "new") end, path .. ": Is a directory")
    assert.equal("old", readfile(path))
    assert.has_error(function() report.write(dir .. "/no/such/x", "y") end,
      dir .. "/no/such/x: No such file or directory")
  end)

  it("reports a write over the file-size limit as an error naming the file", function()
    local path = dir .. "/big.txt"
    -- SIGXFSZ would kill the process: hasme.sys.write ignores it while writing
    local build = os.getenv("HASME_BUILD") or "build"
    local cmd = ("ulimit -f 8; %s/hasme -e %s 2>&1"):format(q(build), q(
      ("local ok, e = pcall(require('hasme.report').write, %q, string.rep('x', 100000)) print(ok, e)"):format(path)))
    local p = assert(io.popen("sh -c " .. q(cmd)))
    local out = p:read("a")
    p:close()
    assert.equal("false\t" .. path .. ": File too large\n", out)
    local f = io.open(path, "rb")
    assert.is_nil(f)
    assert.is_nil(io.open(path .. ".tmp", "rb"))
  end)

  it("tells complete PNG and SVG files from truncated ones", function()
    local png = "\137PNG\r\n\26\n" .. ("\0"):rep(40) .. "\0\0\0\0IEND\174\66\96\130"
    writefile(dir .. "/a.png", png)
    assert.is_true(report.figure_complete(dir .. "/a.png"))
    writefile(dir .. "/b.png", png:sub(1, -3))
    assert.same({ nil, dir .. "/b.png: truncated PNG (no IEND chunk; disk full?)" },
      { report.figure_complete(dir .. "/b.png") })
    writefile(dir .. "/c.png", "")
    assert.same({ nil, dir .. "/c.png: empty file (disk full?)" }, { report.figure_complete(dir .. "/c.png") })
    writefile(dir .. "/a.svg", "<svg>\n</svg>\n")
    assert.is_true(report.figure_complete(dir .. "/a.svg"))
    writefile(dir .. "/b.svg", "<svg>\n<path d='M 1 2")
    assert.same({ nil, dir .. "/b.svg: truncated SVG (no </svg>; disk full?)" },
      { report.figure_complete(dir .. "/b.svg") })
    assert.same({ nil, dir .. "/none.svg: not written" }, { report.figure_complete(dir .. "/none.svg") })
  end)
end)
