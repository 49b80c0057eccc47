-- hasme.runner: `hasme run EXPERIMENT.lua [options]` and `hasme runs DIR`. Loads an
-- experiment (hasme.loader), applies the command line's overrides and sweeps
-- (hasme.sweep), and runs every point in a directory of its own through a ctx
-- (hasme.context), keeping its record (hasme.record) from the start to every way
-- out: success, an error, a signal, a time or memory limit. The contract is in
-- docs/experiments-howto.md; src/main.c calls main(args) or runs(args) and exits
-- with the status they return.
require "hasme.core"
local json = require "hasme.json"
local report = require "hasme.report"
local sweep = require "hasme.sweep"
local sys = require "hasme.sys"
local util = require "hasme.util"
local failure = require "hasme.failure"
local cli_args = require "hasme.cli_args"
local loader = require "hasme.loader"
local context = require "hasme.context"
local progress = require "hasme.progress"
local record = require "hasme.record"
local aggregate = require "hasme.aggregate"
local sandbox = require "hasme.sandbox"

local M = {}

local type, ipairs, pairs, tostring, tonumber = type, ipairs, pairs, tostring, tonumber
local concat, sort = table.concat, table.sort
local fmt = string.format
local usage, fail = failure.usage, failure.fail
local copy, text, now, iso8601, shq = util.copy, util.text, util.now, util.iso8601, util.shq

M.usage, M.help = cli_args.usage, cli_args.help
M.parse_args = cli_args.parse
M.param_type = loader.param_type
M.load = loader.load
M.text = text

--- The values that `--set name=value` gives a param whose default has type kind
-- (see param_type): a list of one value, or of several for a sweep. Raises a usage
-- error "bad value for param 'name': <type> expected, got '<text>'" on a bad value.
function M.parse_values(name, kind, value)
  local values, err = sweep.parse_values(name, kind, value)
  if not values then usage("%s", err) end
  return values
end

-- {==================================================================
-- Directories
-- ===================================================================

-- Create the directories in paths (a list), with their parents, in one command.
local function mkdir(paths)
  local todo = {}
  for _, p in ipairs(paths) do
    if sys.kind(p) ~= "directory" then todo[#todo + 1] = shq(p) end
  end
  if #todo == 0 then return end
  if not os.execute("mkdir -p " .. concat(todo, " ") .. " 2>/dev/null") then
    for _, p in ipairs(paths) do
      if sys.kind(p) ~= "directory" then fail("cannot create the directory " .. p) end
    end
  end
end

-- The default output directory: results/<name>/<local time>, made unique.
local function default_out(name)
  local dir = ("results/%s/%s"):format(name, os.date("%Y%m%d-%H%M%S"))
  local d, k = dir, 1
  while sys.kind(d) do
    k = k + 1
    d = dir .. "-" .. k
  end
  return d
end

-- Check --out against --force and --resume: a directory that holds a run is
-- replaced only with --force and completed only with --resume; any other non-empty
-- directory is refused, since clearing it could destroy what is not a run.
local function prepare_out(o, exp)
  local out = o.out
  local kind = record.classify(out)
  if kind == "other" then
    usage("--out %s: not an empty directory and holds no hasme run (refusing to %s it); "
      .. "choose another directory", out, o.force and "clear" or "write into")
  end
  if o.resume then
    if kind ~= "run" then usage("--resume: %s holds no run to complete", out) end
    local rec = record.read(out)
    if rec.experiment ~= exp.name then
      usage("--resume: %s holds a run of '%s', not of '%s'", out, tostring(rec.experiment), exp.name)
    end
    if rec.file_sha256 ~= nil and rec.file_sha256 ~= sys.sha256(exp.source) then
      usage("--resume: the experiment file changed since the run in %s (its SHA-256 differs); "
        .. "start a new run", out)
    end
    return rec
  end
  if kind == "run" then
    if not o.force then
      local rec = record.read(out)
      usage("--out %s holds another run (of '%s', status %s); use --force to replace it, "
        .. "--resume to complete it, or another directory", out, tostring(rec.experiment),
        tostring(rec.status))
    end
    local ok, err = pcall(record.clear, out)
    if not ok then fail(err) end
  end
  return nil
end

-- --resume completes the same run: the same points (params, sweep, seeds), or the
-- directories of the old points would mix with the new ones.
local function check_resume(rec, exp, pts, base, sweeps, seeds, out)
  local same
  if #pts == 1 then
    same = rec.sweep == nil and rec.point_hash == record.point_hash(exp, pts[1])
  elseif rec.sweep ~= nil then
    local params = copy(base)
    local sw = {}
    for _, s in ipairs(sweeps) do
      params[s[1]] = nil
      sw[s[1]] = s[2]
    end
    local function key(p, w, sd) return json.encode { params = p, sweep = w, seeds = sd } end
    same = key(params, sw, seeds) == key(rec.params, rec.sweep, rec.seeds)
  end
  if not same then
    usage("--resume: the params, sweep or seeds differ from those of the run in %s; "
      .. "give the options of that run (its command is in %s/config.json)", out, out)
  end
end

-- }==================================================================

-- {==================================================================
-- Several ranks (mpirun -n N hasme run ...)
-- ===================================================================

-- Every rank runs the experiment: its simulations split their paths over the ranks
-- and give every rank the same results (docs/distributed.md). Only rank 0 prints
-- and writes the run's files. The other ranks work in a private copy of the output
-- directory, taken before rank 0 writes anything and removed at the end, so that
-- they take the same decisions (--force, --resume) from the same files; their
-- standard output is muted and their errors are left to rank 0 to report.
local mpi = require("hasme").mpi
local scratch   -- the private directory of a rank other than 0

local function rank_out(o, out)
  if mpi.size() == 1 then return out end
  out = mpi.bcast(mpi.rank() == 0 and out or nil)
  if mpi.rank() ~= 0 then
    mpi.mute()
    local p = io.popen('mktemp -d "${TMPDIR:-/tmp}/hasme-rank' .. mpi.rank() .. '.XXXXXX"')
    scratch = p and p:read("l")
    if p then p:close() end
    local ok = scratch and os.execute(("[ ! -d %s ] || cp -a %s/. %s/")
      :format(shq(out), shq(out), shq(scratch)))
    if not ok then fail(("cannot copy %s into a private directory (%s)"):format(out, tostring(scratch))) end
    if o.out then o.out = scratch end
    o.quiet = true   -- no progress lines either
    out = scratch
  end
  mpi.barrier()   -- every copy is taken before rank 0 writes
  return out
end

-- With --split points, each rank runs whole sweep points of its own (point i on rank
-- (i - 1) % size, alone: its simulations do not split their paths), and the ranks
-- then gather what they did: each point's summary, log line and files (its
-- directory, read back), and the first failure. Rank 0 writes the points the others
-- ran, keeps nothing past the first failing point (a single process stops there), and
-- goes on as after a single-process sweep, so the files are the same.

-- Lua source that rebuilds v (strings and numbers exactly, through %q).
local function serialize(v)
  local t = type(v)
  if t == "table" then
    local parts = {}
    for k, x in pairs(v) do parts[#parts + 1] = "[" .. serialize(k) .. "]=" .. serialize(x) end
    return "{" .. concat(parts, ",") .. "}"
  elseif t == "string" or t == "number" then
    return fmt("%q", v)
  elseif t == "boolean" then
    return tostring(v)
  end
  return "nil"
end

local function deserialize(text)
  return assert(load("return " .. text, "=(gathered points)", "t", {}))()
end

-- The files under dir (recursively), as {relative name = contents}.
local function read_tree(dir, prefix, into)
  into = into or {}
  for _, name in ipairs(sys.dir(dir) or {}) do
    local path, rel = dir .. "/" .. name, (prefix and prefix .. "/" or "") .. name
    if sys.kind(path) == "directory" then
      read_tree(path, rel, into)
    else
      local f = io.open(path, "rb")
      if f then
        into[rel] = f:read("a")
        f:close()
      end
    end
  end
  return into
end

-- Gather the points the ranks ran. mine = {[i] = {summary =, log =, figures =, dir =}}
-- for this rank's points; failed_at, failed: this rank's first failure. Returns the
-- summaries, the figure lists and log lines of every point before the first failure
-- over all ranks, that failure's index and the failure (both nil when none).
local function gather_points(out, pts, mine, failed_at, failed)
  for i, m in pairs(mine) do
    if mpi.rank() ~= 0 then m.files = read_tree(out .. "/" .. pts[i].dir) end
  end
  local fail_rec = failed and { kind = failure.kind(failed), msg = failed.msg,
                                trace = failed.trace, signal = failed.signal }
  local all = mpi.allgather(serialize({ points = mine, failed_at = failed_at, failed = fail_rec }))
  local first, first_fail
  for r = 1, #all do
    local g = deserialize(all[r])
    all[r] = g
    if g.failed_at and (not first or g.failed_at < first) then
      first, first_fail = g.failed_at, g.failed
    end
  end
  local summaries, figures, logs = {}, {}, {}
  for r = 1, #all do
    for i, m in pairs(all[r].points) do
      if not first or i <= first then
        if not m.failed then summaries[i], figures[i], logs[i] = m.summary, m.figures, m.log end
        if r > 1 and mpi.rank() == 0 and (not m.failed or i == first) then
          for rel, data in pairs(m.files or {}) do   -- rank 0 writes what the others ran
            local ok, err = sys.write(out .. "/" .. pts[i].dir .. "/" .. rel, data)
            if not ok then fail(err) end
          end
        end
      elseif mpi.rank() == 0 then
        os.execute("rm -rf " .. shq(out .. "/" .. pts[i].dir))   -- past the first failure
      end
    end
  end
  if first then
    for j = first + 1, #pts do os.remove(out .. "/" .. pts[j].dir) end
    local mt = first_fail.kind == "interrupted" and failure.Interrupted or failure.Failure
    first_fail = setmetatable({ msg = first_fail.msg, trace = first_fail.trace,
                                signal = first_fail.signal }, mt)
  end
  return summaries, figures, logs, first, first_fail
end

-- }==================================================================

-- {==================================================================
-- Points of a sweep
-- ===================================================================

-- Resolve the --set options against the experiment's params: returns the base
-- params (defaults with single-valued overrides), the swept params in command-line
-- order ({name, values}), and the list of seeds.
local function resolve(exp, o)
  local base = copy(exp.params)
  local sweeps, seen = {}, {}
  for _, s in ipairs(o.sets) do
    local name, value = s[1], s[2]
    if exp.params[name] == nil then
      local names = util.sorted_keys(exp.params)
      usage("unknown param '%s' (valid params: %s)", name,
        #names > 0 and concat(names, ", ") or "none")
    end
    if seen[name] then usage("param '%s' set twice", name) end
    seen[name] = true
    local kind = exp.types[name]
    if not kind then
      usage("param '%s' cannot be set from the command line (its default is a table "
        .. "that is not a list of strings or numbers)", name)
    end
    local values = M.parse_values(name, kind, value)
    if name == "seed" then
      for _, v in ipairs(values) do
        if v < 0 then usage("bad value for param 'seed': non-negative integer expected, got '%d'", v) end
      end
    end
    if #values == 1 then
      base[name] = values[1]
    else
      sweeps[#sweeps + 1] = { name, values }
    end
  end
  local nseeds = o.seeds or 1
  local first = base.seed or 1
  if nseeds > 1 then
    for _, s in ipairs(sweeps) do
      if s[1] == "seed" then usage("--seeds cannot be combined with a sweep over the param seed") end
    end
  end
  local seeds = {}
  for j = 0, nseeds - 1 do seeds[#seeds + 1] = first + j end
  return base, sweeps, seeds
end

-- The directory name of point i of n: "<i>-<name=value,...>".
local function point_dir(i, n, pt, seeded)
  local parts = {}
  for _, c in ipairs(pt.swept) do
    parts[#parts + 1] = c[1] .. "=" .. text(c[2], "+")
  end
  if seeded then parts[#parts + 1] = "seed=" .. pt.seed end
  local label = concat(parts, ","):gsub("[^%w%._%-+=,]", "_")
  if #label > 120 then label = label:sub(1, 120) end
  local width = #tostring(n)
  return ("%0" .. width .. "d"):format(i) .. (label ~= "" and "-" .. label or "")
end

-- }==================================================================

-- {==================================================================
-- Running a point
-- ===================================================================

-- The summary returned by run, checked: a table of scalars (or nothing).
local function check_summary(s)
  if s == nil then return json.object() end
  if type(s) ~= "table" then
    return nil, ("run must return a table of scalars or nothing, got %s"):format(type(s))
  end
  local out = json.object()
  for k, v in pairs(s) do
    if type(k) ~= "string" then
      return nil, ("run's summary: keys must be strings, got %s"):format(type(k))
    end
    local tv = type(v)
    if tv ~= "number" and tv ~= "string" and tv ~= "boolean" then
      return nil, ("run's summary: field '%s' is a %s, not a number, string or boolean"):format(k, tv)
    end
    out[k] = v
  end
  return out
end

-- How a run that did not succeed ended: "interrupted" (with the signal), or
-- "error" with the message (a time or memory limit reads as such).
local function outcome(run, ok, err, refused)
  local sig = sys.caught()
  if sig == "timeout" then
    return "error", ("time limit of %g s exceeded (--time-limit)"):format(run.time_limit or 0)
  elseif sig then
    return "interrupted", "interrupted by " .. sig, sig
  elseif not ok and refused and tostring(err):find("not enough memory", 1, true) then
    return "error", ("memory limit of %g MB exceeded (--memory-limit)"):format(run.memory_limit)
  elseif not ok then
    return "error", tostring(err)
  end
  return "ok"
end

-- Run point pt in directory out; returns the checked summary and the point's state.
-- Its record is written first (status "running") and last; on an error, a signal
-- or a limit, the files written so far are kept (each is whole) and the record says
-- why the point ended; then a failure or an interruption is raised.
local function run_point(exp, run, pt, out, index, npoints)
  mkdir { out }
  if run.resume and record.classify(out) ~= "empty" then
    local ok, err = pcall(record.clear, out)
    if not ok then fail(err) end
  end
  local state = { out = out, seed = pt.seed, threads = run.threads, quiet = run.quiet,
                  bars = run.bars, t0 = now() }
  local ctx = context.new(state)
  local params = copy(pt.params)
  local config = record.base(exp, run)
  config.params = params
  config.seed = pt.seed
  config.seeds = json.array { pt.seed }
  config.substeps = type(params.substeps) == "number" and params.substeps or json.null
  config.point_hash = record.point_hash(exp, pt)
  if npoints > 1 then
    config.point = index
    config.points = npoints
    local swept = json.object()
    for _, c in ipairs(pt.swept) do swept[c[1]] = c[2] end
    config.swept = swept
  end
  config.started = iso8601()
  config.status = "running"
  local wok, werr = record.write(out, config)
  if not wok then fail("cannot write the record of the run: " .. tostring(werr)) end

  if run.memory_limit then sys.memlimit(math.floor(run.memory_limit * 2 ^ 20)) end
  local ok, summary, trace = sys.pcall(exp.run, function(m)
    if sys.caught() then return { tostring(m) } end   -- no traceback for a signal
    return { failure.traceback(m) }
  end, copy(pt.params), ctx)
  local refused = run.memory_limit and sys.memlimit(nil)
  progress.erase()
  local err
  if ok then
    trace = nil   -- (a second value returned by run, not a traceback)
    summary, err = check_summary(summary)
    if not summary then
      ok = false
      err = exp.file .. ": " .. err
    end
  elseif type(summary) == "table" then
    err, trace = summary[1], summary[2]
  else
    err = tostring(summary)   -- a memory error, or an error in the message handler
  end
  local status, msg, sig = outcome(run, ok, err, refused)
  if status ~= "ok" then trace = status == "error" and msg == err and trace or nil end
  local elapsed = now() - state.t0
  -- The first error is kept: a later one (log.txt on a full disk) does not hide it.
  local first
  if status == "ok" then
    local figures = {}
    for _, name in ipairs(state.figures) do
      for _, f in ipairs(state.figures[name]) do figures[#figures + 1] = f:match("[^/]+$") end
    end
    local rok, rerr = pcall(report.write_json, out .. "/results.json", {
      experiment = exp.name,
      params = params,
      seed = pt.seed,
      summary = summary,
      tables = json.array(copy(state.tables)),
      figures = json.array(figures),
      saved = json.array(copy(state.saved)),
    })
    if not rok then status, msg, first = "error", tostring(rerr), true end
  end
  if status ~= "ok" then state.log[#state.log + 1] = fmt("[%7.2f s] %s: %s", elapsed, status, msg) end
  local lok, lerr = pcall(report.write, out .. "/log.txt",
    #state.log > 0 and concat(state.log, "\n") .. "\n" or "")
  if not lok and status == "ok" then status, msg = "error", tostring(lerr) end
  if #state.substeps > 0 and config.substeps == json.null then
    config.substeps = #state.substeps == 1 and state.substeps[1] or json.array(state.substeps)
  end
  config.finished = iso8601()
  config.elapsed = tonumber(fmt("%.2f", elapsed))
  config.status = status
  if status == "error" then config.error = msg end
  if status == "interrupted" then config.signal = sig end
  local cok, cerr = record.write(out, config)
  if not cok and status == "ok" then status, msg = "error", tostring(cerr) end
  if status == "interrupted" then failure.interrupted(sig) end
  if status ~= "ok" then fail(msg, not first and trace or nil) end
  return summary, state
end

-- }==================================================================

-- {==================================================================
-- Running an experiment
-- ===================================================================

-- The summary table of a sweep.
local function summary_table(pts, summaries, sweeps, nseeds)
  local columns = { "point" }
  for _, s in ipairs(sweeps) do columns[#columns + 1] = s[1] end
  local swept = {}
  for _, c in ipairs(columns) do swept[c] = true end
  local seedcol = not swept.seed
  if seedcol then columns[#columns + 1] = "seed" end
  local keys, seen = {}, {}
  for i = 1, #pts do
    for k in pairs(summaries[i] or {}) do
      if not seen[k] then seen[k] = true; keys[#keys + 1] = k end
    end
  end
  sort(keys)
  local used = {}
  for _, c in ipairs(columns) do used[c] = true end
  local colname = {}
  for _, k in ipairs(keys) do
    colname[k] = used[k] and k .. " (run)" or k
    columns[#columns + 1] = colname[k]
  end
  local rows, n = {}, 0
  for i = 1, #pts do
    local s = summaries[i]
    if s then
      local pt = pts[i]
      local row = { point = i }
      for _, c in ipairs(pt.swept) do
        row[c[1]] = type(c[2]) == "table" and text(c[2]) or c[2]
      end
      if seedcol then row.seed = pt.seed end
      for k, v in pairs(s) do row[colname[k]] = v end
      rows[#rows + 1] = row
      n = n + 1
    end
  end
  return { title = ("summary: %d points%s"):format(n,
    nseeds > 1 and (", %d seeds each"):format(nseeds) or ""), columns = columns, rows = rows }
end

-- The PNG and SVG files of a point's figures.
local function figure_files(state)
  if state.files then return state.files end   -- gathered from another rank
  local figs = {}
  for _, name in ipairs(state.figures) do
    for _, f in ipairs(state.figures[name]) do
      if f:match("%.png$") or f:match("%.svg$") then figs[#figs + 1] = f end
    end
  end
  return figs
end

-- Print the tables of a point and the figure files on stdout.
local function print_point(state)
  for _, name in ipairs(state.tables) do
    local t = state.tabledata[name]
    local tt = {}
    for k, v in pairs(t) do tt[k] = v end
    if not tt.title then tt.title = name end
    io.stdout:write(report.format(tt), "\n")
  end
  local figs = figure_files(state)
  if #figs > 0 then
    io.stdout:write("figures:\n")
    for _, f in ipairs(figs) do io.stdout:write("  ", f, "\n") end
  end
end

-- Stop between steps of the runner when a signal came while it was writing.
local function checkpoint(run)
  local sig = sys.caught()
  if sig == "timeout" then fail(("time limit of %g s exceeded (--time-limit)"):format(run.time_limit or 0)) end
  if sig then failure.interrupted(sig) end
end

local function run_single(exp, run, pt, out)
  if run.resume and record.complete(out, record.point_hash(exp, pt)) then
    io.stdout:write("complete already: nothing to resume\nresults in ", out, "\n")
    return 0
  end
  local _, state = run_point(exp, run, pt, out, 1, 1)
  print_point(state)
  io.stdout:write("results in ", out, "\n")
  return 0
end

local function run_sweep(exp, run, pts, out, base, sweeps, seeds)
  local t0, started = now(), iso8601()
  local toplog, summaries, states, failed = {}, {}, {}, nil
  local dirs = { out }
  for i, pt in ipairs(pts) do
    pt.dir = point_dir(i, #pts, pt, #seeds > 1)
    dirs[#dirs + 1] = out .. "/" .. pt.dir
  end
  mkdir(dirs)
  local config = record.base(exp, run)
  config.params = copy(base)
  for _, s in ipairs(sweeps) do config.params[s[1]] = nil end   -- they are in config.sweep
  config.seeds = json.array(seeds)
  config.substeps = type(base.substeps) == "number" and base.substeps or json.null
  local sw, order = json.object(), {}
  for _, s in ipairs(sweeps) do
    sw[s[1]] = json.array(copy(s[2]))
    order[#order + 1] = s[1]
  end
  config.sweep = sw
  config.sweep_order = json.array(order)
  config.points = #pts
  config.completed = 0
  config.started = started
  config.status = "running"
  local wok, werr = record.write(out, config)
  if not wok then fail("cannot write the record of the run: " .. tostring(werr)) end
  local skipped = 0
  local split = run.split == "points" and mpi.size() > 1
  local mine, failed_at = {}, nil   -- with --split points: this rank's points
  for i, pt in ipairs(pts) do
    if split and (i - 1) % mpi.size() ~= mpi.rank() then goto next_point end
    do
    local dir = out .. "/" .. pt.dir
    local parts = {}
    for _, c in ipairs(pt.swept) do parts[#parts + 1] = c[1] .. "=" .. text(c[2]) end
    parts[#parts + 1] = "seed=" .. pt.seed
    local line = ("point %d/%d: %s"):format(i, #pts, concat(parts, " "))
    local ok, s, state
    if run.resume and record.complete(dir, record.point_hash(exp, pt)) then
      local res = record.results(dir)
      ok, s = res ~= nil, res and res.summary
      skipped = skipped + 1
      toplog[#toplog + 1] = fmt("[%7.2f s] %s: complete already", now() - t0, line)
      if not run.quiet then io.stderr:write(line, ": complete already\n") end
    else
      if not run.quiet then io.stderr:write(line, "\n") end
      local tp = now()
      ok, s, state = pcall(function()
        checkpoint(run)
        if split then return mpi.alone(run_point, exp, run, pt, dir, i, #pts) end
        return run_point(exp, run, pt, dir, i, #pts)
      end)
      toplog[#toplog + 1] = fmt("[%7.2f s] %s: %s in %.2f s", now() - t0, line,
        ok and "done" or failure.kind(s) == "interrupted" and "interrupted" or "failed", now() - tp)
    end
    if not ok then
      failed = failure.kind(s) and s or setmetatable({ msg = tostring(s) }, failure.Failure)
      if split then
        failed_at = i
        mine[i] = { failed = true }   -- its files (the record of the failure) go along
        break
      end
      for j = i + 1, #pts do os.remove(out .. "/" .. pts[j].dir) end   -- empty: not run
      break
    end
    summaries[i], states[i] = s, state
    if split then
      local figs = {}
      for _, f in ipairs(state and figure_files(state) or {}) do
        figs[#figs + 1] = f:sub(#out + 2)   -- relative to out: other ranks' out differs
      end
      mine[i] = { summary = s, log = toplog[#toplog], figures = figs }
    else
      config.completed = config.completed + 1
      record.write(out, config)   -- progress; a failure here shows in the final write
    end
    end
    ::next_point::
  end
  if split then
    local figs, logs
    summaries, figs, logs, failed_at, failed = gather_points(out, pts, mine, failed_at, failed)
    toplog, states = {}, {}
    for i = 1, #pts do
      if logs[i] then toplog[#toplog + 1] = logs[i] end
      if figs[i] then
        local full = {}
        for k, f in ipairs(figs[i]) do full[k] = out .. "/" .. f end
        states[i] = { files = full }
      end
      if summaries[i] then config.completed = config.completed + 1 end
    end
  end
  if not failed then
    local ok, e = pcall(checkpoint, run)
    if not ok then failed = e end
  end
  local st = summary_table(pts, summaries, sweeps, #seeds)
  local sj = report.tojson(st)
  local plist = {}
  for i = 1, #pts do
    if summaries[i] then
      local swept = json.object()
      for _, c in ipairs(pts[i].swept) do swept[c[1]] = c[2] end
      plist[#plist + 1] = { point = i, dir = pts[i].dir, swept = swept, seed = pts[i].seed,
                            summary = summaries[i] }
    end
  end
  sj.points = json.array(plist)
  local agg
  if #seeds > 1 then agg = aggregate.table(pts, summaries, sweeps) end
  -- Write the summaries, the log and the record; the first error is the one kept.
  local werror
  local function try(f, ...)
    local ok, e = pcall(f, ...)
    if not ok and not werror then werror = tostring(e) end
  end
  try(report.write, out .. "/summary.csv", report.csv(st))
  try(report.write_json, out .. "/summary.json", sj)
  if agg then
    try(report.write, out .. "/aggregate.csv", report.csv(agg))
    try(report.write_json, out .. "/aggregate.json", report.tojson(agg))
  end
  try(report.write, out .. "/log.txt", concat(toplog, "\n") .. "\n")
  local kind = failed and failure.kind(failed)
  config.finished = iso8601()
  config.elapsed = tonumber(fmt("%.2f", now() - t0))
  if skipped > 0 then config.resumed = skipped end
  if kind == "interrupted" then
    config.status, config.signal = "interrupted", failed.signal
  elseif failed or werror then
    config.status, config.error = "error", failed and failed.msg or werror
  else
    config.status = "ok"
  end
  local cok, cerr = record.write(out, config)
  if not cok and not werror then werror = tostring(cerr) end
  if failed then error(failed, 0) end
  if werror then fail(werror) end
  io.stdout:write(report.format(st), "\n")
  if agg then io.stdout:write(report.format(agg), "\n") end
  local figs = {}
  for i = 1, #pts do
    if states[i] then
      for _, f in ipairs(figure_files(states[i])) do figs[#figs + 1] = f end
    end
  end
  if #figs > 0 then io.stdout:write("figures:\n  ", concat(figs, "\n  "), "\n") end
  io.stdout:write("results in ", out, "\n")
  return 0
end

local function run_experiment(o, args)
  local sandboxed = o.sandbox or sandbox.requested_by_env()
  if o.time_limit then sys.alarm(o.time_limit) end
  if o.list then
    -- The file's top-level code runs in the sandbox (it may declare, not act), with
    -- a time limit of its own unless one was given; run is never called.
    if not o.time_limit then sys.alarm(10) end
    local ok, exp = pcall(loader.load, o.file, { sandbox = true })
    if not ok then
      if failure.kind(exp) == "failure" and exp.msg:find("the script runs sandboxed", 1, true) then
        exp.msg = exp.msg .. "\n(--list loads the file in the sandbox: do what its top level "
          .. "reads or writes inside run)"
      end
      error(exp, 0)
    end
    io.stdout:write(loader.listing(exp))
    return 0
  end
  local exp = loader.load(o.file, { sandbox = sandboxed })
  local base, sweeps, seeds = resolve(exp, o)
  local pts = sweep.points(exp, base, sweeps, seeds)
  local out = rank_out(o, o.out or default_out(exp.name))
  local rec = o.out and prepare_out(o, exp)
  if rec then check_resume(rec, exp, pts, base, sweeps, seeds, out) end
  local run = {
    args = args, threads = o.threads, quiet = o.quiet or false, split = o.split,
    bars = not o.quiet and os.execute("test -t 2") == true,
    resume = o.resume or false, time_limit = o.time_limit, memory_limit = o.memory_limit,
    git_commit = record.git_commit(exp.file),
  }
  M.last_out = out
  if #pts == 1 then
    mkdir { out }
    return run_single(exp, run, pts[1], out)
  end
  return run_sweep(exp, run, pts, out, base, sweeps, seeds)
end

-- Report the error e of `hasme run` on stderr and return the exit status and the
-- report. Under MPI only rank 0 prints it (the others return it).
local function report_error(e)
  io.stdout:flush()
  progress.erase()
  local kind, text, status = failure.kind(e), nil, 1
  if kind == "usage" then
    text, status = "hasme run: " .. e.msg .. "\n" .. M.usage .. "\n", 2
  elseif kind == "interrupted" then
    local where = M.last_out and (("; the record is in %s/config.json (--out %s --resume "
      .. "completes the run)"):format(M.last_out, M.last_out)) or ""
    text, status = "hasme run: " .. e.msg .. where .. "\n", failure.EXIT[e.signal] or 130
  else
    text = "hasme run: " .. failure.message(e) .. "\n"
    if type(e) == "table" and e.trace then text = text .. e.trace .. "\n" end
  end
  if mpi.rank() == 0 then io.stderr:write(text) end
  return status, text
end

--- The entry point of `hasme run`: args = {EXPERIMENT.lua, options...}. Returns the
-- exit status: 0 on success, 1 on an error in the experiment, 2 on a usage error,
-- 128 + the signal's number when interrupted (130 SIGINT, 143 SIGTERM, 129 SIGHUP).
function M.main(args)
  if type(args) ~= "table" then
    error("bad argument #1 to 'main' (table expected, got " .. type(args) .. ")", 2)
  end
  M.last_out = nil
  local trapped = sys.trap()
  local ok, res = xpcall(function()
    local o = M.parse_args(args)
    if o.help then
      io.stdout:write(M.help, "\n")
      return 0
    end
    return run_experiment(o, args)
  end, function(e)
    if failure.kind(e) then return e end
    local msg, trace = failure.traceback(e)
    return setmetatable({ msg = msg, trace = trace }, failure.Failure)
  end)
  if trapped then sys.untrap() end
  sys.clear()
  io.stdout:flush()
  local status, text = res, nil
  if not ok then status, text = report_error(res) end
  if scratch then
    os.execute("rm -rf " .. shq(scratch))
    scratch = nil
  end
  -- Under MPI, every rank waits for the others to finish (and clean up) before one
  -- that failed ends the job; a rank stuck elsewhere is given up on after 10 s.
  if mpi.size() > 1 then mpi.barrier(10) end
  -- A rank other than 0 that failed leaves the report and the end of the job to rank
  -- 0 (which fails alike), unless rank 0 has not ended it within 10 s.
  if status ~= 0 and mpi.rank() ~= 0 then
    mpi.abort(status, 10, text and ("hasme run (rank %d of %d): %s"):format(mpi.rank(),
      mpi.size(), (text:gsub("^hasme run: ", ""):gsub("\n$", ""))))
  end
  return status
end

--- The entry point of `hasme runs DIR...`: list the runs under each DIR (default
-- results) from their records. Returns the exit status.
function M.runs(args)
  return require("hasme.runs").main(args)
end

-- }==================================================================

return M
