-- runner_record_spec.lua: the record of a run (config.json from the start to every
-- way out), signals during a run and a sweep (exit 130, 143, 129, no traceback, no
-- partial file), --out reuse (--force, --resume), the aggregate of --seeds sweeps,
-- `hasme runs`, time and memory limits, write errors (ulimit -f, truncated figures,
-- the first error kept), --list without side effects, and an experiment file run
-- as a plain script.
require "hasme.core"
local sys = require "hasme.sys"
local h = require "tests.spec.runner_helpers"
local aggregate = require "hasme.aggregate"

local run, readjson, readfile, files, q = h.run, h.readjson, h.readfile, h.files, h.q
local FIX = h.FIX
local SLOW, QUAD = FIX .. "slow.lua", FIX .. "quad.lua"

-- No file left half-written: no .tmp anywhere under dir.
local function no_tmp(dir)
  for _, f in ipairs(files(dir)) do assert.is_nil(f:find("%.tmp"), f) end
end

describe("hasme run records", function()
  local dir

  before_each(function() dir = h.tmpdir() end)
  after_each(function() h.rmtree(dir) end)

  describe("config.json", function()
    it("is written at the start with status running, then updated", function()
      local out = dir .. "/r"
      local script = ("%s run %s --out %s --quiet --set seconds=1.5 > /dev/null 2>&1 & pid=$!\n"
        .. "i=0; while [ ! -e %s ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done\n"
        .. "cat %s; wait $pid"):format(q(h.BIN), q(SLOW), q(out), q(out .. "/before.csv"),
        q(out .. "/config.json"))
      local p = assert(io.popen("sh -c " .. q(script)))
      local during = require("hasme.json").decode(p:read("a"))
      p:close()
      assert.equal("running", during.status)
      assert.is_nil(during.finished)
      local after = readjson(out .. "/config.json")
      assert.equal("ok", after.status)
      assert.equal(during.started, after.started)
      assert.equal(during.point_hash, after.point_hash)
    end)

    it("records the commit, the file's SHA-256, the seed, substeps, threads and version", function()
      local out = dir .. "/p"
      assert.equal(0, (run({ QUAD, "--out", out, "--threads", "1", "--quiet" })))
      local c = readjson(out .. "/config.json")
      local p = io.popen("sha256sum " .. q(QUAD))
      assert.equal(p:read("l"):match("^%x+"), c.file_sha256)
      p:close()
      p = io.popen("cd " .. q(FIX) .. " && git rev-parse HEAD 2>/dev/null")
      local head = p:read("l")
      p:close()
      if head then
        assert.matches("^" .. head .. "(%+?d?i?r?t?y?)$", c.git_commit)
      else
        assert.equal(require("hasme.json").null, c.git_commit)
      end
      assert.equal(7, c.seed)
      assert.same({ 1, 10 }, c.substeps)   -- sgd takes one substep, sme1 ten
      assert.equal(1, c.threads)
      assert.equal(require("hasme").version, c.hasme_version)
      assert.matches("^%x+$", c.point_hash)
      assert.equal(64, #c.point_hash)
    end)

    it("skips the commit quietly outside a git repository", function()
      local exp = dir .. "/q.lua"
      h.writefile(exp, readfile(QUAD))
      assert.equal(0, (run({ exp, "--out", dir .. "/o", "--quiet" }, nil,
        { env = "GIT_CEILING_DIRECTORIES=" .. q(dir) })))
      assert.equal(require("hasme.json").null, readjson(dir .. "/o/config.json").git_commit)
    end)
  end)

  describe("signals", function()
    for _, case in ipairs {
      { "TERM", 143, "SIGTERM", "lua" }, { "INT", 130, "SIGINT", "lua" },
      { "HUP", 129, "SIGHUP", "lua" }, { "TERM", 143, "SIGTERM", "sim" },
      { "INT", 130, "SIGINT", "sim" },
    } do
      local sig, code, name, mode = case[1], case[2], case[3], case[4]
      it(("SIG%s in %s code: exit %d, the record says interrupted, no traceback"):format(sig,
        mode == "lua" and "Lua" or "a simulation's C", code), function()
        local out = dir .. "/s"
        local status, stderr = h.run_signalled({ SLOW, "--out", out, "--quiet", "--set",
          "seconds=30", "--set", "mode=" .. mode }, sig, out .. "/before.csv")
        assert.equal(code, status)
        assert.equal(("hasme run: interrupted by %s; the record is in %s/config.json "
          .. "(--out %s --resume completes the run)\n"):format(name, out, out), stderr)
        local c = readjson(out .. "/config.json")
        assert.equal("interrupted", c.status)
        assert.equal(name, c.signal)
        assert.is_string(c.finished)
        assert.is_false(h.exists(out .. "/results.json"))   -- the point is not complete
        assert.equal("k\n1\n", readfile(out .. "/before.csv"))
        assert.matches("interrupted: interrupted by " .. name .. "\n$", readfile(out .. "/log.txt"))
        no_tmp(out)
      end)
    end

    it("reports gnuplot killed by Ctrl-C as an interruption, not a failure", function()
      -- a gnuplot that dies of SIGINT, as the real one does when Ctrl-C reaches the
      -- terminal's process group while the runner waits for it
      local bin = dir .. "/bin"
      os.execute("mkdir -p " .. q(bin))
      h.writefile(bin .. "/gnuplot", "#!/bin/sh\ncase \"$*\" in *'set terminal'*) echo pngcairo; "
        .. "exit 0;; esac\nkill -INT $$\n")
      os.execute("chmod +x " .. q(bin .. "/gnuplot"))
      local out = dir .. "/g"
      local status, _, stderr = run({ FIX .. "figure.lua", "--out", out, "--quiet" }, nil,
        { env = "PATH=" .. q(bin) .. ":\"$PATH\"" })
      assert.equal(130, status)
      assert.equal(("hasme run: interrupted by SIGINT; the record is in %s/config.json "
        .. "(--out %s --resume completes the run)\n"):format(out, out), stderr)
      local c = readjson(out .. "/config.json")
      assert.equal("interrupted", c.status)
      assert.equal("SIGINT", c.signal)
      assert.is_false(h.exists(out .. "/power.png"))
      no_tmp(out)
    end)

    it("stops a script that catches the interruption with pcall", function()
      local out = dir .. "/c"
      local status = h.run_signalled({ SLOW, "--out", out, "--quiet", "--set", "seconds=30",
        "--set", "catch=true" }, "TERM", out .. "/before.csv")
      assert.equal(143, status)
      assert.equal("interrupted", readjson(out .. "/config.json").status)
    end)

    it("interrupts a sweep, which --resume completes with the same results", function()
      local out, ref = dir .. "/w", dir .. "/ref"
      local args = { "--quiet", "--set", "k=1,2,3", "--set", "seconds=0.4", "--seeds", "2" }
      local function with(o, ...)
        local t = { SLOW, "--out", o }
        for _, a in ipairs(args) do t[#t + 1] = a end
        for _, a in ipairs { ... } do t[#t + 1] = a end
        return t
      end
      local status = h.run_signalled(with(out), "TERM", out .. "/3-k=2,seed=5/before.csv", 0.1)
      assert.equal(143, status)
      local c = readjson(out .. "/config.json")
      assert.equal("interrupted", c.status)
      assert.equal(2, c.completed)
      assert.equal(6, c.points)
      assert.equal("ok", readjson(out .. "/1-k=1,seed=5/config.json").status)
      assert.equal("interrupted", readjson(out .. "/3-k=2,seed=5/config.json").status)
      assert.is_false(h.exists(out .. "/4-k=2,seed=6"))   -- not started: removed
      no_tmp(out)
      -- resume: the complete points are skipped, the others run
      local st, _, stderr = run(with(out, "--resume"))
      assert.equal(0, st)
      assert.equal("", stderr)
      c = readjson(out .. "/config.json")
      assert.equal("ok", c.status)
      assert.equal(6, c.completed)
      assert.equal(2, c.resumed)
      assert.matches("point 1/6: k=1 seed=5: complete already", readfile(out .. "/log.txt"), 1, true)
      assert.equal(0, (run(with(ref))))
      for _, f in ipairs { "summary.csv", "summary.json", "aggregate.csv", "aggregate.json",
                           "2-k=1,seed=6/results.json", "6-k=3,seed=6/results.json" } do
        assert.equal(readfile(ref .. "/" .. f), readfile(out .. "/" .. f), f)
      end
      -- nothing left to do
      st = run(with(out, "--resume"))
      assert.equal(0, st)
      -- another sweep is not a resumption of this one
      st, _, stderr = run({ SLOW, "--out", out, "--quiet", "--set", "k=1,2", "--set",
        "seconds=0.4", "--seeds", "2", "--resume" })
      assert.equal(2, st)
      assert.matches("--resume: the params, sweep or seeds differ from those of the run in "
        .. out, stderr, 1, true)
    end)
  end)

  describe("--out", function()
    it("refuses a directory that holds another run, unless --force", function()
      local out = dir .. "/o"
      assert.equal(0, (run({ FIX .. "figure.lua", "--out", out, "--quiet" })))
      local status, _, stderr = run({ QUAD, "--out", out, "--quiet" })
      assert.equal(2, status)
      assert.matches("^hasme run: %-%-out " .. out:gsub("%p", "%%%0") .. " holds another run %(of "
        .. "'figure', status ok%); use %-%-force to replace it, %-%-resume to complete it, or "
        .. "another directory\nusage: ", stderr)
      assert.equal("figure", readjson(out .. "/config.json").experiment)
      assert.equal(0, (run({ QUAD, "--out", out, "--quiet", "--force" })))
      assert.same({ "config.json", "log.txt", "moments.csv", "moments.json", "params_seen.json",
                    "results.json" }, files(out))   -- the figure's files are gone
    end)

    it("never clears a directory that holds no run, even with --force", function()
      local out = dir .. "/mine"
      os.execute("mkdir -p " .. q(out))
      h.writefile(out .. "/notes.txt", "precious")
      for _, extra in ipairs { {}, { "--force" } } do
        local args = { QUAD, "--out", out, "--quiet" }
        for _, a in ipairs(extra) do args[#args + 1] = a end
        local status, _, stderr = run(args)
        assert.equal(2, status)
        assert.matches("holds no hasme run", stderr, 1, true)
      end
      assert.equal("precious", readfile(out .. "/notes.txt"))
      local status, _, stderr = run({ QUAD, "--resume", "--quiet" })
      assert.equal(2, status)
      assert.matches("option --resume needs --out DIR", stderr, 1, true)
    end)

    it("resumes only a run of the same, unchanged experiment", function()
      local out = dir .. "/r"
      local exp = dir .. "/quad.lua"
      h.writefile(exp, readfile(QUAD))
      assert.equal(0, (run({ exp, "--out", out, "--quiet" })))
      local status, stdout = run({ exp, "--out", out, "--quiet", "--resume" })
      assert.equal(0, status)
      assert.equal("complete already: nothing to resume\nresults in " .. out .. "\n", stdout)
      local _, _, stderr
      status, _, stderr = run({ exp, "--out", out, "--set", "eta=0.07", "--resume" })
      assert.equal(2, status)
      assert.matches("--resume: the params, sweep or seeds differ", stderr, 1, true)
      status, _, stderr = run({ FIX .. "figure.lua", "--out", out, "--resume" })
      assert.equal(2, status)
      assert.matches("holds a run of 'quad', not of 'figure'", stderr, 1, true)
      h.writefile(exp, readfile(QUAD) .. "\n-- changed\n")
      status, _, stderr = run({ exp, "--out", out, "--resume" })
      assert.equal(2, status)
      assert.matches("the experiment file changed since the run in " .. out, stderr, 1, true)
      status, _, stderr = run({ exp, "--out", dir .. "/none", "--resume" })
      assert.equal(2, status)
      assert.matches("holds no run to complete", stderr, 1, true)
    end)
  end)

  describe("--seeds", function()
    it("adds an aggregate table: mean and 95% t interval across seeds per point", function()
      local out = dir .. "/a"
      local status, stdout = run({ SLOW, "--out", out, "--quiet", "--set", "k=1,4", "--seeds", "3" })
      assert.equal(0, status)
      assert.matches("aggregate over seeds: mean and 95% confidence interval", stdout, 1, true)
      local a = readjson(out .. "/aggregate.json")
      assert.same({ "k", "seeds", "k (run)", "k (run) lo", "k (run) hi", "seed", "seed lo",
                    "seed hi", "value", "value lo", "value hi" }, a.columns)
      assert.equal(2, #a.rows)
      local t975 = 4.302652729911275        -- scipy.stats.t.ppf(0.975, 2)
      for i, k in ipairs { 1, 4 } do
        local row = a.rows[i]
        local xs = { k * 1.5 + 0.05, k * 1.5 + 0.06, k * 1.5 + 0.07 }
        local mean = (xs[1] + xs[2] + xs[3]) / 3
        local sd = math.sqrt(((xs[1] - mean) ^ 2 + (xs[2] - mean) ^ 2 + (xs[3] - mean) ^ 2) / 2)
        assert.equal(k, row[1])
        assert.equal(3, row[2])
        assert.near(mean, row[9], 1e-12)
        assert.near(mean - t975 * sd / math.sqrt(3), row[10], 1e-9)
        assert.near(mean + t975 * sd / math.sqrt(3), row[11], 1e-9)
      end
      assert.is_true(h.exists(out .. "/aggregate.csv"))
    end)

    it("computes Student's t quantiles as SciPy does", function()
      -- scipy.stats.t.ppf(p, df)
      for _, c in ipairs {
        { 0.975, 1, 12.706204736174698 }, { 0.975, 2, 4.302652729911275 },
        { 0.975, 3, 3.182446305284263 }, { 0.975, 5, 2.570581835636314 },
        { 0.975, 10, 2.2281388519649385 }, { 0.975, 30, 2.0422724563012373 },
        { 0.975, 1000, 1.9623390808264078 }, { 0.9, 7, 1.4149239276505073 },
        { 0.025, 4, -2.7764451051977987 },
      } do
        assert.near(c[3], aggregate.t_quantile(c[1], c[2]), 1e-8 * math.abs(c[3]))
      end
      local m, lo, hi, n = aggregate.interval { 2.385 }
      assert.same({ 2.385, nil, nil, 1 }, { m, lo, hi, n })
    end)
  end)

  describe("hasme runs", function()
    it("lists past runs with status, params and headline figures", function()
      assert.equal(0, (run({ QUAD, "--out", dir .. "/a/one", "--quiet", "--set", "eta=0.04" })))
      assert.equal(0, (run({ SLOW, "--out", dir .. "/b", "--quiet", "--set", "k=1,2" })))
      assert.equal(1, (run({ FIX .. "fail.lua", "--out", dir .. "/c", "--quiet" })))
      local status, stdout, stderr = run({ dir }, nil, { sub = "runs" })
      assert.equal(0, status)
      assert.equal("", stderr)
      assert.matches("^3 runs under " .. dir:gsub("%p", "%%%0") .. "\n", stdout)
      assert.matches(dir .. "/a/one  quad ", stdout, 1, true)
      assert.matches("eta=0.04", stdout, 1, true)
      assert.matches("label=plain mean=0%.%d+ noisy=true %.%.%.", stdout)
      assert.matches(dir .. "/b      slow", stdout, 1, true)
      assert.matches("2/2  *k=1,2 *point 1: k=1 seed=5 value=1%.55", stdout)
      assert.matches("error  .*0/1", stdout)
      assert.matches(dir .. "/c: .*boom at seed 3", stdout)
      status, stdout = run({ dir .. "/a/one" }, nil, { sub = "runs" })
      assert.equal(0, status)
      assert.matches("^1 run under", stdout)
    end)

    it("tells a run still going from one that was killed before it could say so", function()
      local out = dir .. "/k"
      local script = ("%s run %s --out %s --quiet --set seconds=30 > /dev/null 2>&1 & pid=$!\n"
        .. "i=0; while [ ! -e %s ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done\n"
        .. "%s runs %s; kill -KILL $pid; wait $pid; %s runs %s"):format(q(h.BIN), q(SLOW), q(out),
        q(out .. "/before.csv"), q(h.BIN), q(dir), q(h.BIN), q(dir))
      local p = assert(io.popen("sh -c " .. q(script) .. " 2>/dev/null"))
      local text = p:read("a")
      p:close()
      local before, after = text:match("^(.-\n)(1 run under.*)$")
      assert.matches(out .. "  slow        running ", before, 1, true)
      assert.matches(out .. "  slow        killed ", after, 1, true)
      local c = readjson(out .. "/config.json")
      assert.equal("running", c.status)   -- SIGKILL leaves no chance to update it
      assert.equal(require("hasme.record").host(), c.host)
      assert.equal("number", type(c.pid))
    end)

    it("says when there is nothing, and rejects what is not a directory", function()
      local status, stdout = run({ dir }, nil, { sub = "runs" })
      assert.equal(0, status)
      assert.equal("no runs under " .. dir .. "\n", stdout)
      local _, stderr
      status, _, stderr = run({ dir .. "/nope" }, nil, { sub = "runs" })
      assert.equal(2, status)
      assert.equal("hasme runs: " .. dir .. "/nope: not a directory\nusage: hasme runs [DIR...]\n", stderr)
    end)
  end)

  describe("limits", function()
    it("ends a run over --time-limit, naming the limit", function()
      local out = dir .. "/t"
      local status, _, stderr = run({ SLOW, "--out", out, "--quiet", "--set", "seconds=30",
        "--set", "catch=true", "--time-limit", "1" })
      assert.equal(1, status)
      assert.equal("hasme run: time limit of 1 s exceeded (--time-limit)\n", stderr)
      local c = readjson(out .. "/config.json")
      assert.equal("error", c.status)
      assert.equal("time limit of 1 s exceeded (--time-limit)", c.error)
      assert.is_true(c.elapsed < 10)
    end)

    it("ends a run over --memory-limit, naming the limit", function()
      local out = dir .. "/m"
      local status, _, stderr = run({ FIX .. "sandbox/escape.lua", "--out", out, "--quiet", "--sandbox",
        "--set", "how=hog", "--memory-limit", "48" })
      assert.equal(1, status)
      assert.equal("hasme run: memory limit of 48 MB exceeded (--memory-limit)\n", stderr)
      assert.equal("error", readjson(out .. "/config.json").status)
    end)

    it("rejects bad limits as usage errors", function()
      for _, a in ipairs { { "--time-limit", "0" }, { "--memory-limit", "-3" }, { "--time-limit", "x" } } do
        local status, _, stderr = run({ QUAD, a[1], a[2] })
        assert.equal(2, status)
        assert.matches("^hasme run: option " .. a[1]:gsub("%-", "%%-") .. ": number in %(0, ", stderr)
      end
    end)
  end)

  describe("write errors", function()
    it("report a file over the size limit by name, with status error and no partial file", function()
      local out = dir .. "/big"
      local status, _, stderr = run({ FIX .. "bigsave.lua", "--out", out, "--quiet", "--set",
        "size=100000" }, nil, { prefix = "ulimit -f 100" })
      assert.equal(1, status)
      assert.matches("^hasme run: " .. FIX:gsub("%p", "%%%0") .. "bigsave.lua:9: " .. out:gsub("%p", "%%%0")
        .. "/big.json: File too large\n", stderr)
      local c = readjson(out .. "/config.json")
      assert.equal("error", c.status)
      assert.matches("big.json: File too large", c.error, 1, true)
      assert.same({ "config.json", "log.txt", "small.json" }, files(out))
    end)

    it("never present a truncated figure as complete", function()
      local out = dir .. "/fig"
      local status, _, stderr = run({ FIX .. "figure.lua", "--out", out, "--quiet" }, nil,
        { prefix = "ulimit -f 30" })
      assert.equal(1, status)
      assert.matches(out .. "/power.png: truncated PNG (no IEND chunk; disk full?)", stderr, 1, true)
      assert.equal("error", readjson(out .. "/config.json").status)
      assert.is_false(h.exists(out .. "/power.png"))
      assert.is_false(h.exists(out .. "/power.svg"))
      assert.is_false(h.exists(out .. "/results.json"))
      no_tmp(out)
    end)

    it("keep the first error in the record, not a later one", function()
      local out = dir .. "/b"
      local status, _, stderr = run({ FIX .. "blocked.lua", "--out", out, "--quiet" })
      assert.equal(1, status)
      assert.equal("hasme run: " .. out .. "/results.json: Is a directory\n", stderr)
      local c = readjson(out .. "/config.json")
      assert.equal("error", c.status)
      assert.equal(out .. "/results.json: Is a directory", c.error)
    end)
  end)

  describe("loading", function()
    it("--list runs no top-level side effect and never calls run", function()
      local status, stdout, stderr = run({ FIX .. "sideeffect.lua", "--list" }, dir)
      assert.equal(1, status)
      assert.equal("", stdout)
      assert.matches("io.open is blocked: the script runs sandboxed", stderr, 1, true)
      assert.matches("(--list loads the file in the sandbox: do what its top level reads or "
        .. "writes inside run)", stderr, 1, true)
      assert.is_false(h.exists(dir .. "/sideeffect.marker"))
      assert.equal(0, (run({ FIX .. "sideeffect.lua", "--out", dir .. "/o", "--quiet" }, dir)))
      assert.is_true(h.exists(dir .. "/sideeffect.marker"))   -- a real run does run it
      os.remove(dir .. "/sideeffect.marker")
      h.rmtree(dir .. "/o")
      status, stdout = run({ QUAD, "--list" }, dir)
      assert.equal(0, status)
      assert.matches("^quad: ", stdout)
      assert.same({}, files(dir))
    end)

    it("tells a user who runs an experiment file as a plain script to use hasme run", function()
      local out, err = os.tmpname(), os.tmpname()
      local _, _, status = os.execute(("%s %s > %s 2> %s"):format(q(h.BIN), q(QUAD), q(out), q(err)))
      assert.equal(1, status)
      assert.equal("", readfile(out))
      assert.equal(("hasme: %s is an experiment (it returns {name, run, ...}): run it with "
        .. "`hasme run %s`\n"):format(QUAD, QUAD), readfile(err))
      os.remove(out)
      os.remove(err)
    end)
  end)
end)

describe("hasme.sys", function()
  it("hashes with SHA-256", function()
    assert.equal("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", sys.sha256(""))
    assert.equal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", sys.sha256("abc"))
    assert.equal("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
      sys.sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))
    assert.equal("b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a",
      sys.sha256(("a"):rep(56)))   -- padding spills into a second block
  end)

  it("calls through pcall with a message handler and passes results", function()
    assert.same({ true, 3, "x" }, { sys.pcall(function(a, b) return a + b, "x" end, print, 1, 2) })
    assert.same({ false, "H: boom" }, { sys.pcall(function() error("boom", 0) end,
      function(m) return "H: " .. m end) })
  end)

  it("refuses memory over the limit and says so", function()
    collectgarbage()
    sys.memlimit(math.floor(collectgarbage("count") * 1024) + 16 * 2 ^ 20)
    local ok, err = pcall(function() local t = {} for i = 1, 1e8 do t[i] = i end end)
    local refused = sys.memlimit(nil)
    assert.is_false(ok)
    assert.equal("not enough memory", err)
    assert.is_true(refused)
    local t = {}
    for i = 1, 1e6 do t[i] = i end   -- no limit any more
    assert.equal(1e6, #t)
  end)
end)
