-- runner_spec.lua: `hasme run` (hasme.runner) run as a program on the tiny experiments
-- of tests/fixtures/experiments: --set parsing and its errors, sweeps, --seeds, the
-- output layout, config.json, reproducible result files, atomic writes, --list,
-- --help and the exit statuses.
local hasme = require "hasme"
local h = require "tests.spec.runner_helpers"

local readfile, writefile, exists, q = h.readfile, h.writefile, h.exists, h.q
local BIN, FIX = h.BIN, h.FIX
local QUAD = FIX .. "quad.lua"
local USAGE = "usage: hasme run EXPERIMENT.lua [--set name=value]... [--seeds N] [--out DIR] "
  .. "[--threads N] [--quiet] [--list] [--help]\n"
local tmpdir, rmtree, run, files, subdirs, readjson = h.tmpdir, h.rmtree, h.run, h.files,
  h.subdirs, h.readjson

describe("hasme run", function()
  local dir

  before_each(function()
    dir = tmpdir()
  end)

  after_each(function()
    rmtree(dir)
  end)

  describe("a single point", function()
    it("writes config, results, tables, saved values and the log into --out", function()
      local out = dir .. "/one"
      local status, stdout, stderr = run({ QUAD, "--out", out })
      assert.equal("ran 2 methods with seed 7\n", stderr)
      assert.equal(0, status)
      assert.same({ "config.json", "log.txt", "moments.csv", "moments.json",
                    "params_seen.json", "results.json" }, files(out))
      local res = readjson(out .. "/results.json")
      assert.equal("quad", res.experiment)
      assert.equal(7, res.seed)
      assert.same({ "moments" }, res.tables)
      assert.same({ "params_seen" }, res.saved)
      assert.equal("plain", res.summary.label)
      assert.equal(true, res.summary.noisy)
      assert.equal(2, res.summary.nrecord)
      assert.equal("float", math.type(res.summary.scale_sum))
      assert.equal(2.0, res.summary.scale_sum)
      assert.is_true(res.summary.mean > 0.2 and res.summary.mean < 0.5)
      local csv = readfile(out .. "/moments.csv")
      assert.matches("^method,eta,paths,mean,var\nsgd,0.05,200,", csv)
      local mj = readjson(out .. "/moments.json")
      assert.same({ "method", "eta", "paths", "mean", "var" }, mj.columns)
      assert.equal("moments of x_1 at the last step", mj.title)
      assert.equal(2, #mj.rows)
      -- stdout: the aligned table (mean through its format), then where the files are
      assert.matches("moments of x_1 at the last step\nmethod   eta  paths     mean", stdout, 1, true)
      assert.matches("\nsgd     0.05    200  0%.%d%d%d%d%d  ", stdout)
      assert.equal("results in " .. out .. "\n", stdout:sub(-#out - 12))
      assert.matches("^%[%s*[%d.]+ s%] simulate: method=sgd eta=0.05 paths=200 steps=20 "
        .. "elapsed=[%d.]+ s kernel=%S+ threads=%d+\n", readfile(out .. "/log.txt"))
      assert.matches("%] ran 2 methods with seed 7\n$", readfile(out .. "/log.txt"))
    end)

    it("records the run in config.json", function()
      local out = dir .. "/cfg"
      local args = { QUAD, "--out", out, "--threads", "1", "--quiet" }
      assert.equal(0, (run(args)))
      local c = readjson(out .. "/config.json")
      assert.equal("quad", c.experiment)
      assert.equal(QUAD, c.file)
      assert.equal("sgd on a small quadratic: the mean and variance of x_1 at the last step",
        c.description)
      assert.same({ "hasme", "run", QUAD, "--out", out, "--threads", "1", "--quiet" }, c.command)
      assert.equal(hasme.version, c.hasme_version)
      assert.equal(_VERSION, c.lua_version)
      local p = io.popen("uname -srm")
      assert.equal(p:read("l"), c.platform)
      p:close()
      assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ$", c.started)
      assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ$", c.finished)
      assert.is_true(c.finished >= c.started)
      assert.equal("number", type(c.elapsed))
      assert.is_true(c.elapsed >= 0)
      assert.equal(7, c.seed)
      assert.same({ 7 }, c.seeds)
      assert.equal(1, c.threads)
      assert.equal("ok", c.status)
      assert.same({ eta = 0.05, paths = 200, steps = 20, seed = 7, noisy = true,
                    label = "plain", methods = { "sgd", "sme1" }, record = { 5, 10 },
                    scales = { 0.5, 1.5 }, center = { x = 0.25 } }, c.params)
    end)

    it("puts results under results/<name>/<YYYYmmdd-HHMMSS> by default", function()
      local status, stdout = run({ QUAD, "--quiet" }, dir)
      assert.equal(0, status)
      local stamp = subdirs(dir .. "/results/quad")
      assert.equal(1, #stamp)
      assert.matches("^%d%d%d%d%d%d%d%d%-%d%d%d%d%d%d$", stamp[1])
      assert.equal("results in results/quad/" .. stamp[1] .. "\n", stdout:match("results in .*$"))
      assert.is_true(exists(dir .. "/results/quad/" .. stamp[1] .. "/config.json"))
    end)

    it("is quiet on stderr with --quiet and draws no progress bar off a terminal", function()
      local status, _, stderr = run({ QUAD, "--out", dir .. "/q", "--quiet" })
      assert.equal(0, status)
      assert.equal("", stderr)
      status, _, stderr = run({ QUAD, "--out", dir .. "/nq", "--set", "paths=5000" })
      assert.equal(0, status)
      assert.is_nil(stderr:find("\r", 1, true))
    end)

    it("draws a progress bar when stderr is a terminal", function()
      if not os.execute("command -v script >/dev/null 2>&1") then
        pending("script(1) is not installed")
        return
      end
      local cmd = ("env -u LUA_INIT %s run %s --out %s --set paths=3000 --set methods=sgd")
        :format(q(BIN), q(QUAD), q(dir .. "/tty"))
      local p = assert(io.popen("script -qec " .. q(cmd) .. " /dev/null 2>&1"))
      local out = p:read("a")
      p:close()
      assert.matches("\rsgd %[[#.]+%] +%d+%%  [%d.]+k?/60k path%-steps  [%d.]+[kMG]?/s  ETA ", out)
      assert.matches("\r\27%[K", out)   -- erased at the end
      assert.matches("results in " .. dir .. "/tty", out, 1, true)
    end)

    it("gives the seed 1 to an experiment without a seed param", function()
      assert.equal(0, (run({ FIX .. "noseed.lua", "--out", dir .. "/ns" })))
      local res = readjson(dir .. "/ns/results.json")
      assert.same({ seed = 1, has_seed_param = false, scale = 2.385 }, res.summary)
      assert.same({ scale = 2.385 }, res.params)
    end)
  end)

  describe("--set", function()
    it("reads each value as the type of the param's default", function()
      local out = dir .. "/set"
      local status, _, err = run({ QUAD, "--out", out, "--quiet",
        "--set", "eta=1", "--set", "paths=2e2", "--set", "steps=0x0c", "--set", "noisy=false",
        "--set", "label=a\\,b c", "--set", "methods=sme1", "--set", "record=3:9:3,12",
        "--set", "scales=2.5", "--set=seed=42" })
      assert.equal("", err)
      assert.equal(0, status)
      local p = readjson(out .. "/params_seen.json").params
      assert.equal(1.0, p.eta)
      assert.equal("float", math.type(p.eta))
      assert.equal(200, p.paths)
      assert.equal("integer", math.type(p.paths))
      assert.equal(12, p.steps)
      assert.equal(false, p.noisy)
      assert.equal("a,b c", p.label)
      assert.same({ "sme1" }, p.methods)
      assert.same({ 3, 6, 9, 12 }, p.record)
      assert.same({ 2.5 }, p.scales)
      assert.equal(42, p.seed)
      assert.equal(42, readjson(out .. "/results.json").seed)
    end)

    it("takes an empty list and an empty string", function()
      local out = dir .. "/empty"
      local status = run({ QUAD, "--out", out, "--quiet", "--set", "record=", "--set", "label=" })
      assert.equal(0, status)
      local p = readjson(out .. "/params_seen.json").params
      assert.same({}, p.record)
      assert.equal("", p.label)
    end)

    local cases = {
      { { "--set", "etaa=1" }, "unknown param 'etaa' (valid params: center, eta, label, "
        .. "methods, noisy, paths, record, scales, seed, steps)" },
      { { "--set", "eta=abc" }, "bad value for param 'eta': number expected, got 'abc'" },
      { { "--set", "eta=1e999" }, "bad value for param 'eta': finite number expected, got '1e999'" },
      { { "--set", "eta=0.1,x" }, "bad value for param 'eta': number expected, got 'x'" },
      { { "--set", "paths=1.5" }, "bad value for param 'paths': integer expected, got '1.5'" },
      { { "--set", "noisy=yes" },
        "bad value for param 'noisy': boolean expected (true or false), got 'yes'" },
      { { "--set", "record=1,x" }, "bad value for param 'record': list of integers expected, got 'x'" },
      { { "--set", "record=1.5" },
        "bad value for param 'record': list of integers expected, got '1.5'" },
      { { "--set", "scales=1,b" }, "bad value for param 'scales': list of numbers expected, got 'b'" },
      { { "--set", "eta=1:2:0" }, "bad value for param 'eta': range step must not be zero, got '1:2:0'" },
      { { "--set", "eta=2:1:0.5" }, "bad value for param 'eta': range never reaches its end "
        .. "(wrong sign of step?), got '2:1:0.5'" },
      { { "--set", "eta=1:2:*0.5" }, "bad value for param 'eta': range never reaches its end "
        .. "(wrong factor?), got '1:2:*0.5'" },
      { { "--set", "eta=1:2:*1" }, "bad value for param 'eta': range factor must be positive "
        .. "and not 1, got '1:2:*1'" },
      { { "--set", "eta=-1:2:*2" }, "bad value for param 'eta': a geometric range needs lo and "
        .. "hi of the same sign, not zero, got '-1:2:*2'" },
      { { "--set", "eta=1:2" }, "bad value for param 'eta': range lo:hi:step or lo:hi:*f "
        .. "expected, got '1:2'" },
      { { "--set", "eta=1:a:2" }, "bad value for param 'eta': range lo:hi:step or lo:hi:*f "
        .. "of finite numbers expected, got '1:a:2'" },
      { { "--set", "eta=1:3:x" }, "bad value for param 'eta': range lo:hi:step or lo:hi:*f "
        .. "of finite numbers expected, got '1:3:x'" },
      { { "--set", "paths=10:20:2.5" },
        "bad value for param 'paths': integer expected (in range), got '10:20:2.5'" },
      { { "--set", "paths=100:1000:*1.5" },
        "bad value for param 'paths': integer expected (range gives 337.5), got '100:1000:*1.5'" },
      { { "--set", "eta=0:1e6:1e-3" },
        "bad value for param 'eta': range gives more than 10000 values, got '0:1e6:1e-3'" },
      { { "--set", "center=1" }, "param 'center' cannot be set from the command line (its "
        .. "default is a table that is not a list of strings or numbers)" },
      { { "--set", "eta=1", "--set", "eta=2" }, "param 'eta' set twice" },
      { { "--set", "seed=-1" },
        "bad value for param 'seed': non-negative integer expected, got '-1'" },
      { { "--set", "seed=1,2", "--seeds", "2" },
        "--seeds cannot be combined with a sweep over the param seed" },
      { { "--set", "eta" }, "option --set: name=value expected, got 'eta'" },
      { { "--set", "2x=1" }, "option --set: name=value expected, got '2x=1'" },
      { { "--set" }, "option --set needs a value" },
      { { "--seeds", "0" }, "option --seeds: integer in 1..1000000 expected, got '0'" },
      { { "--threads", "two" }, "option --threads: integer in 1..256 expected, got 'two'" },
      { { "--out", "a", "--out", "b" }, "option --out given twice" },
      { { "--quiet=yes" }, "option --quiet takes no value" },
      { { "--bogus" }, "unknown option '--bogus'" },
      { { "-x" }, "unknown option '-x'" },
      { { "second.lua" }, "unexpected argument 'second.lua' (one experiment file at a time)" },
    }
    for _, case in ipairs(cases) do
      it("rejects " .. table.concat(case[1], " ") .. " with exit status 2", function()
        local args = { QUAD, "--out", dir .. "/bad" }
        for _, a in ipairs(case[1]) do args[#args + 1] = a end
        local status, stdout, stderr = run(args)
        assert.equal("hasme run: " .. case[2] .. "\n" .. USAGE, stderr)
        assert.equal("", stdout)
        assert.equal(2, status)
        assert.is_false(exists(dir .. "/bad/config.json"))
      end)
    end
  end)

  describe("sweeps", function()
    -- The values of the columns of summary.json, by column name.
    local function column(summary, name)
      local j
      for i, c in ipairs(summary.columns) do if c == name then j = i end end
      local vals = {}
      for i, r in ipairs(summary.rows) do vals[i] = r[j] end
      return vals
    end

    it("sweeps over a list of values, one directory per point, with a summary", function()
      local out = dir .. "/list"
      local status, stdout = run({ QUAD, "--out", out, "--quiet", "--set", "eta=0.1,0.2" })
      assert.equal(0, status)
      assert.same({ "1-eta=0.1", "2-eta=0.2" }, subdirs(out))
      for _, d in ipairs(subdirs(out)) do
        assert.same({ "config.json", "log.txt", "moments.csv", "moments.json",
                      "params_seen.json", "results.json" }, files(out .. "/" .. d))
      end
      local s = readjson(out .. "/summary.json")
      assert.same({ "point", "eta", "seed", "label", "mean", "noisy", "nrecord", "scale_sum",
                    "var" }, s.columns)
      assert.same({ 0.1, 0.2 }, column(s, "eta"))
      assert.same({ 7, 7 }, column(s, "seed"))
      assert.equal("1-eta=0.1", s.points[1].dir)
      assert.same({ eta = 0.1 }, s.points[1].swept)
      assert.equal(readjson(out .. "/1-eta=0.1/results.json").summary.mean, s.points[1].summary.mean)
      assert.matches("^point,eta,seed,label,mean,noisy,nrecord,scale_sum,var\n1,0.1,7,plain,",
        readfile(out .. "/summary.csv"))
      assert.matches("summary: 2 points\npoint  eta  seed  label", stdout, 1, true)
      local c = readjson(out .. "/config.json")
      assert.same({ eta = { 0.1, 0.2 } }, c.sweep)
      assert.same({ "eta" }, c.sweep_order)
      assert.equal(2, c.points)
      assert.equal(2, c.completed)
      assert.is_nil(c.params.eta)
      assert.equal(200, c.params.paths)
      local p2 = readjson(out .. "/2-eta=0.2/config.json")
      assert.equal(2, p2.point)
      assert.same({ eta = 0.2 }, p2.swept)
      assert.equal(0.2, p2.params.eta)
    end)

    it("expands arithmetic and geometric ranges, inclusive", function()
      local out = dir .. "/ranges"
      local status = run({ QUAD, "--out", out, "--quiet", "--set", "paths=100:300:100",
        "--set", "eta=0.1:0.0125:*0.5", "--set", "methods=sgd", "--set", "steps=3" })
      assert.equal(0, status)
      local s = readjson(out .. "/summary.json")
      assert.same({ 100, 100, 100, 100, 200, 200, 200, 200, 300, 300, 300, 300 }, column(s, "paths"))
      assert.same({ 0.1, 0.05, 0.025, 0.0125, 0.1, 0.05, 0.025, 0.0125, 0.1, 0.05, 0.025, 0.0125 },
        column(s, "eta"))
      assert.equal("01-paths=100,eta=0.1", subdirs(out)[1])
      assert.equal("12-paths=300,eta=0.0125", subdirs(out)[12])
      -- a decreasing arithmetic range, rounded to 12 digits
      out = dir .. "/down"
      assert.equal(0, (run({ QUAD, "--out", out, "--quiet", "--set", "eta=0.3:0.1:-0.1",
        "--set", "steps=2", "--set", "methods=sgd" })))
      assert.same({ 0.3, 0.2, 0.1 }, column(readjson(out .. "/summary.json"), "eta"))
    end)

    it("takes the cartesian product in the order of the --set options", function()
      local out = dir .. "/product"
      local status = run({ QUAD, "--out", out, "--quiet", "--set", "noisy=true,false",
        "--set", "label=x,y", "--set", "steps=2", "--set", "methods=sgd" })
      assert.equal(0, status)
      assert.same({ "1-noisy=true,label=x", "2-noisy=true,label=y", "3-noisy=false,label=x",
                    "4-noisy=false,label=y" }, subdirs(out))
      local s = readjson(out .. "/summary.json")
      assert.same({ true, true, false, false }, column(s, "noisy"))
      assert.same({ "x", "y", "x", "y" }, column(s, "label"))
    end)

    it("sweeps a list param over lists separated by ';'", function()
      local out = dir .. "/lists"
      local status = run({ QUAD, "--out", out, "--quiet", "--set", "methods=sgd;sme1,sgd",
        "--set", "steps=2" })
      assert.equal(0, status)
      assert.same({ "1-methods=sgd", "2-methods=sme1+sgd" }, subdirs(out))
      assert.same({ "sme1", "sgd" }, readjson(out .. "/2-methods=sme1+sgd/params_seen.json").params.methods)
      assert.same({ "sgd", "sme1,sgd" }, column(readjson(out .. "/summary.json"), "methods"))
    end)

    it("repeats every point with --seeds N", function()
      local out = dir .. "/seeds"
      local status = run({ QUAD, "--out", out, "--quiet", "--seeds", "3", "--set", "eta=0.1,0.2",
        "--set", "steps=2", "--set", "methods=sgd" })
      assert.equal(0, status)
      assert.same({ "1-eta=0.1,seed=7", "2-eta=0.1,seed=8", "3-eta=0.1,seed=9",
                    "4-eta=0.2,seed=7", "5-eta=0.2,seed=8", "6-eta=0.2,seed=9" }, subdirs(out))
      local s = readjson(out .. "/summary.json")
      assert.same({ 7, 8, 9, 7, 8, 9 }, column(s, "seed"))
      assert.same({ 7, 8, 9 }, readjson(out .. "/config.json").seeds)
      assert.equal(8, readjson(out .. "/5-eta=0.2,seed=8/params_seen.json").params.seed)
      assert.equal(8, readjson(out .. "/5-eta=0.2,seed=8/params_seen.json").seed)
      assert.same({ 8 }, readjson(out .. "/5-eta=0.2,seed=8/config.json").seeds)
      -- different seeds give different paths
      local m = column(s, "mean")
      assert.is_true(m[1] ~= m[2] and m[2] ~= m[3])
      -- from the --set seed, and with the default seed 1 when there is no seed param
      out = dir .. "/seeds2"
      assert.equal(0, (run({ FIX .. "noseed.lua", "--out", out, "--quiet", "--seeds", "2" })))
      assert.same({ "1-seed=1", "2-seed=2" }, subdirs(out))
      assert.same({ 1, 2 }, column(readjson(out .. "/summary.json"), "seed"))
      out = dir .. "/seeds3"
      assert.equal(0, (run({ QUAD, "--out", out, "--quiet", "--seeds", "2", "--set", "seed=40",
        "--set", "steps=2" })))
      assert.same({ "1-seed=40", "2-seed=41" }, subdirs(out))
    end)

    it("sweeps over the seed param itself", function()
      local out = dir .. "/seedsweep"
      assert.equal(0, (run({ QUAD, "--out", out, "--quiet", "--set", "seed=5,9", "--set", "steps=2" })))
      assert.same({ "1-seed=5", "2-seed=9" }, subdirs(out))
      assert.same({ "point", "seed", "label", "mean", "noisy", "nrecord", "scale_sum", "var" },
        readjson(out .. "/summary.json").columns)
      assert.equal(9, readjson(out .. "/2-seed=9/results.json").seed)
    end)
  end)

  describe("result files", function()
    it("are identical when the same command runs again (config times apart), and whole", function()
      local a, b = dir .. "/a", dir .. "/b"
      local args = { "--quiet", "--set", "eta=0.1,0.05", "--set", "steps=10" }
      local function go(out, threads)
        local t = { QUAD, "--out", out, "--threads", threads }
        for _, x in ipairs(args) do t[#t + 1] = x end
        assert.equal(0, (run(t)))
      end
      go(a, "1")
      go(b, "2")
      local fa, fb = files(a), files(b)
      assert.same(fa, fb)
      for _, f in ipairs(fa) do
        if not f:match("config%.json$") and not f:match("log%.txt$") then
          assert.equal(readfile(a .. "/" .. f), readfile(b .. "/" .. f), f)
        end
      end
      for _, f in ipairs { "config.json", "1-eta=0.1/config.json" } do
        local ca, cb = readjson(a .. "/" .. f), readjson(b .. "/" .. f)
        for _, k in ipairs { "started", "finished", "elapsed", "command", "threads", "pid" } do
          ca[k], cb[k] = nil, nil
        end
        assert.same(ca, cb)
      end
      -- figures too; the runner lists them at the end
      for _, out in ipairs { dir .. "/fa", dir .. "/fb" } do
        local status, stdout = run({ FIX .. "figure.lua", "--out", out, "--quiet" })
        assert.equal(0, status)
        assert.matches("figures:\n  " .. out .. "/power.png\n  " .. out .. "/power.svg\n",
          stdout, 1, true)
      end
      assert.same({ "config.json", "log.txt", "points.csv", "points.json", "power.dat",
                    "power.gp", "power.png", "power.svg", "results.json" }, files(dir .. "/fa"))
      assert.same({ "power.dat", "power.gp", "power.png", "power.svg" },
        readjson(dir .. "/fa/results.json").figures)
      for _, f in ipairs { "power.dat", "power.gp", "power.png", "power.svg", "results.json",
                           "points.csv", "points.json" } do
        assert.equal(readfile(dir .. "/fa/" .. f), readfile(dir .. "/fb/" .. f), f)
      end
      -- every file was written whole and renamed into place: no .tmp is left
      local all = files(dir)
      assert.is_true(#all > 30)
      for _, f in ipairs(all) do assert.is_nil(f:find("%.tmp")) end
    end)
  end)

  describe("--list and --help", function()
    it("lists the params with their types and defaults", function()
      local status, stdout, stderr = run({ QUAD, "--list" })
      assert.equal(0, status)
      assert.equal("", stderr)
      assert.equal(table.concat({
        "quad: sgd on a small quadratic: the mean and variance of x_1 at the last step",
        "file: " .. QUAD,
        "",
        "param    type              default",
        "-------  ----------------  ----------",
        "center   table (fixed)     {\"x\":0.25}",
        "eta      number            0.05",
        "label    string            plain",
        "methods  list of strings   sgd,sme1",
        "noisy    boolean           true",
        "paths    integer           200",
        "record   list of integers  5,10",
        "scales   list of numbers   0.5,1.5",
        "seed     integer           7",
        "steps    integer           20",
        "" }, "\n"), stdout)
    end)

    it("prints the help on stdout and exits 0", function()
      for _, opt in ipairs { "--help", "-h" } do
        local status, stdout, stderr = run({ opt })
        assert.equal(0, status)
        assert.equal("", stderr)
        assert.equal(USAGE, stdout:sub(1, #USAGE))
        assert.matches("lo:hi:*f", stdout, 1, true)
      end
    end)
  end)

  describe("errors", function()
    it("exits 1 with the message and a traceback when run fails", function()
      local out = dir .. "/fail"
      local status, stdout, stderr = run({ FIX .. "fail.lua", "--out", out, "--quiet" })
      assert.equal(1, status)
      assert.equal("", stdout)
      local file = FIX .. "fail.lua"
      assert.equal(("hasme run: %s:4: boom at seed 3\nstack traceback:\n"):format(file),
        stderr:sub(1, #file + 50):match("^.-traceback:\n"))
      assert.matches(file .. ":4: in upvalue 'explode'", stderr, 1, true)
      assert.matches(file .. ":14: in function", stderr, 1, true)
      assert.is_nil(stderr:find("runner.lua", 1, true))
      -- the point's files are still there, with the error
      assert.same({ "config.json", "log.txt", "partial.csv", "partial.json" }, files(out))
      local c = readjson(out .. "/config.json")
      assert.equal("error", c.status)
      assert.equal(file .. ":4: boom at seed 3", c.error)
      assert.matches("%] point with when = always\n%[.-%] error: .-boom at seed 3\n$",
        readfile(out .. "/log.txt"))
    end)

    it("stops a sweep at the first failing point and keeps the summary so far", function()
      local out = dir .. "/sweepfail"
      local status, _, stderr = run({ FIX .. "fail.lua", "--out", out, "--set",
        "when=never,always,never" })
      assert.equal(1, status)
      assert.matches("^point 1/3: when=never seed=3\npoint with when = never\n"
        .. "point 2/3: when=always seed=3\npoint with when = always\nhasme run: ", stderr)
      assert.same({ "1-when=never", "2-when=always" }, subdirs(out))
      assert.equal("point,when,seed,ok\n1,never,3,true\n", readfile(out .. "/summary.csv"))
      local c = readjson(out .. "/config.json")
      assert.equal("error", c.status)
      assert.equal(1, c.completed)
      assert.equal(3, c.points)
      assert.matches("point 2/3: when=always seed=3: failed in", readfile(out .. "/log.txt"), 1, true)
    end)

    it("exits 1 on an invalid experiment and 2 on a missing one", function()
      local status, _, stderr = run({ FIX .. "invalid.lua" })
      assert.equal(1, status)
      assert.equal(("hasme run: %sinvalid.lua: field 'name' must be a string of [a-z0-9_] "
        .. "(got 'Bad Name')\n"):format(FIX), stderr)
      status, _, stderr = run({ dir .. "/nothere.lua" })
      assert.equal(2, status)
      assert.equal(("hasme run: cannot open experiment file '%s/nothere.lua'\n%s"):format(dir, USAGE),
        stderr)
      status, _, stderr = run({})
      assert.equal(2, status)
      assert.equal("hasme run: no experiment file given\n" .. USAGE, stderr)
    end)

    it("reports what is wrong with an experiment file", function()
      local cases = {
        { "return 42", "the file must return the experiment table, got number" },
        { "return {name = 'x', description = 'd', run = print, parms = {}}",
          "unknown field 'parms' (an experiment has name, description, params and run)" },
        { "return {name = 'x', run = print}", "field 'description': one-line string expected, got nil" },
        { "return {name = 'x', description = 'd'}", "field 'run': function expected, got nil" },
        { "return {name = 'x', description = 'd', run = print, params = {f = print}}",
          "params.f: number, string, boolean, list or table expected, got function" },
        { "return {name = 'x', description = 'd', run = print, params = {l = {1, 'a'}}}",
          "params.l: a list must hold only strings or only numbers" },
        { "return {name = 'x', description = 'd', run = print, params = {seed = 1.5}}",
          "params.seed: non-negative integer expected, got 1.5" },
      }
      for _, case in ipairs(cases) do
        local file = dir .. "/exp.lua"
        writefile(file, case[1])
        local status, _, stderr = run({ file })
        assert.equal(1, status)
        assert.equal("hasme run: " .. file .. ": " .. case[2] .. "\n", stderr)
      end
      local file = dir .. "/syntax.lua"
      writefile(file, "return {\n")
      local status, _, stderr = run({ file })
      assert.equal(1, status)
      assert.matches("^hasme run: " .. file:gsub("%p", "%%%0") .. ":2: unexpected symbol near <eof>\n$", stderr)
    end)

    local misuse = {
      table_columns = { 4, "bad argument #2 to 'table' (field 'columns': non-empty list of column names expected)" },
      table_name = { 5, "bad argument #1 to 'table' (name of letters, digits, '_', '-' and '.' expected, got 'a/b')" },
      reserved = { 6, "bad argument #1 to 'save' (name 'config' is reserved for the runner's files)" },
      save_function = { 7, "%s/s.json: json.encode: cannot encode a function at $.f" },
      log_dot = { 8, "ctx:log: call it as a method (ctx:log(...))" },
      figure_kind = { 10, "bad argument #1 to 'figure' (field 'kind': 'histograms', 'survival', "
        .. "'loglog' or 'lines' expected, got 'pie')" },
      simulate_opts = { 11, "bad argument #1 to 'simulate' (table expected, got string)" },
      simulate_eta = { 14, "bad argument #1 to '*simulate' (field 'eta': must be "
        .. "positive and finite (got -1.0))" },
    }
    for case, want in pairs(misuse) do
      it("blames the experiment's line for ctx misuse: " .. case, function()
        local out = dir .. "/m"
        local status, _, stderr = run({ FIX .. "misuse.lua", "--out", out, "--quiet", "--set", "case=" .. case })
        assert.equal(1, status)
        local msg = want[2]:gsub("%%s", out)
        local line = stderr:match("^[^\n]*\n")
        if msg:find("'*", 1, true) then   -- the name lauxlib finds for a C function varies
          line = line:gsub("'[%w_.]*simulate'", "'*simulate'")
        end
        assert.equal(("hasme run: %smisuse.lua:%d: %s\n"):format(FIX, want[1], msg), line)
      end)
    end

    it("checks the summary that run returns", function()
      for case, msg in pairs {
        summary_nested = "run's summary: field 'nested' is a table, not a number, string or boolean",
        summary_type = "run must return a table of scalars or nothing, got number",
      } do
        local status, _, stderr = run({ FIX .. "misuse.lua", "--out", dir .. "/s-" .. case, "--quiet",
          "--set", "case=" .. case })
        assert.equal(1, status)
        assert.equal(("hasme run: %smisuse.lua: %s\n"):format(FIX, msg), stderr)
      end
      assert.equal(0, (run({ FIX .. "misuse.lua", "--out", dir .. "/ok", "--quiet" })))
      assert.same({}, readjson(dir .. "/ok/results.json").summary)
    end)
  end)
end)
