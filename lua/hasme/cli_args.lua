-- hasme.cli_args: the command line of `hasme run` (and `hasme runs`): the usage and
-- help texts and the parser, which raises hasme.failure usage errors.
local failure = require "hasme.failure"

local M = {}

local usage = failure.usage
local tonumber = tonumber

M.usage = "usage: hasme run EXPERIMENT.lua [--set name=value]... [--seeds N] [--out DIR] "
  .. "[--threads N] [--quiet] [--list] [--help]"

M.help = M.usage .. [[


Run an experiment: a Lua file that returns {name =, description =, params =, run =}.
Options:
  --set name=value  override the param `name`; the value is read as the type of its
                    default. Several values sweep over them (every combination of
                    the swept params is a point):
                      a,b,c        a list of values
                      lo:hi:step   lo, lo+step, ..., hi (inclusive)
                      lo:hi:*f     lo, lo*f, lo*f^2, ..., hi (inclusive)
                    A list param takes one list per value, elements separated by
                    ',': methods=sgd,hasme; several lists separated by ';' sweep:
                    'methods=sgd,hasme;sgd,sme1'. A backslash keeps a ',' or ';'.
  --seeds N         repeat every point with the seeds seed, seed+1, ..., seed+N-1;
                    an aggregate table gives each point's mean and 95% confidence
                    interval across the seeds
  --out DIR         the output directory (default results/<name>/<YYYYmmdd-HHMMSS>);
                    a directory that holds another run is refused
  --force           with --out: replace the run found in DIR (its files are removed)
  --resume          with --out: complete the interrupted run in DIR, skipping the
                    points whose results are complete
  --threads N       simulation threads (default: every core; results do not depend
                    on it)
  --sandbox         run the experiment sandboxed: no io, os.execute, os.remove,
                    os.rename, os.exit, os.getenv, package.loadlib, debug, binary
                    chunks; require limited to hasme and files beside the experiment
                    (also HASME_SANDBOX=1)
  --time-limit S    end the run after S seconds of wall-clock time
  --memory-limit MB end the run when the interpreter holds more than MB megabytes
  --split paths|points
                    under mpirun: split every simulation's paths over the ranks
                    (paths, the default), or give each rank whole sweep points of
                    its own (points: for sweeps of many small points); the files
                    are the same either way (docs/distributed.md)
  --quiet           no progress bar and no log lines on stderr
  --list            print the description and the params (types and defaults); the
                    file's top-level code runs sandboxed, its run function not at all
  --help            print this help
Exit status: 0 on success, 1 on an error in the experiment, 2 on a usage error,
130, 143 or 129 when interrupted by SIGINT, SIGTERM or SIGHUP.
List past runs: hasme runs DIR. Guide: docs/experiments-howto.md]]

local FLAGS = { quiet = true, list = true, help = true, force = true, resume = true, sandbox = true }
local VALUED = { set = true, seeds = true, out = true, threads = true, split = true,
                 ["time-limit"] = true, ["memory-limit"] = true }

-- A positive integer option value.
local function posint(opt, s, max)
  local v = math.tointeger(tonumber(s))
  if v == nil or v < 1 or v > max then
    usage("option --%s: integer in 1..%d expected, got '%s'", opt, max, s)
  end
  return v
end

-- A positive number option value.
local function posnum(opt, s, max)
  local v = tonumber(s)
  if v == nil or not (v > 0 and v <= max) then
    usage("option --%s: number in (0, %g] expected, got '%s'", opt, max, s)
  end
  return v
end

--- Parse the arguments of `hasme run` (a list of strings) into {file, sets = {{name,
-- value}, ...}, seeds, out, threads, quiet, list, help, force, resume, sandbox,
-- time_limit, memory_limit}. Raises a usage error.
function M.parse(args)
  local o = { sets = {} }
  local i = 1
  local given = {}
  while i <= #args do
    local a = args[i]
    if a == "--" then
      for j = i + 1, #args do
        if o.file then usage("unexpected argument '%s'", args[j]) end
        o.file = args[j]
      end
      break
    elseif a == "-h" then
      o.help = true
    elseif a:sub(1, 2) == "--" then
      local name, value = a:match("^%-%-([%w-]+)=(.*)$")
      name = name or a:sub(3)
      if FLAGS[name] then
        if value then usage("option --%s takes no value", name) end
        o[name] = true
      elseif VALUED[name] then
        if not value then
          i = i + 1
          value = args[i]
          if value == nil then usage("option --%s needs a value", name) end
        end
        if name == "set" then
          local pname, pvalue = value:match("^([%a_][%w_]*)=(.*)$")
          if not pname then usage("option --set: name=value expected, got '%s'", value) end
          o.sets[#o.sets + 1] = { pname, pvalue }
        else
          if given[name] then usage("option --%s given twice", name) end
          given[name] = true
          if name == "seeds" then o.seeds = posint(name, value, 1000000)
          elseif name == "threads" then o.threads = posint(name, value, 256)
          elseif name == "split" then
            if value ~= "paths" and value ~= "points" then
              usage("option --split: 'paths' or 'points' expected, got '%s'", value)
            end
            o.split = value
          elseif name == "time-limit" then o.time_limit = posnum(name, value, 1e9)
          elseif name == "memory-limit" then o.memory_limit = posnum(name, value, 2 ^ 40)
          else
            if value == "" then usage("option --out: directory expected") end
            o.out = value
          end
        end
      else
        usage("unknown option '%s'", a)
      end
    elseif a:sub(1, 1) == "-" and a ~= "-" then
      usage("unknown option '%s'", a)
    else
      if o.file then usage("unexpected argument '%s' (one experiment file at a time)", a) end
      o.file = a
    end
    i = i + 1
  end
  if not o.help and not o.file then usage("no experiment file given") end
  if (o.force or o.resume) and not o.out then
    usage("option --%s needs --out DIR (the run to %s)", o.force and "force" or "resume",
      o.force and "replace" or "complete")
  end
  if o.force and o.resume then usage("options --force and --resume exclude each other") end
  return o
end

return M
