-- hasme.failure: the three ways a run ends early, as error objects the runner's
-- modules raise and hasme.runner.main turns into an exit status: a usage error (exit
-- 2, with the usage line), a failure of the experiment (exit 1, with a traceback when
-- it has one) and an interruption by a signal (exit 128 + the signal's number: 130
-- for SIGINT, 143 for SIGTERM, 129 for SIGHUP, without a traceback).
local M = {}

local fmt, concat, tostring = string.format, table.concat, tostring

M.Usage, M.Failure, M.Interrupted = {}, {}, {}

--- Raise a usage error with the formatted message.
function M.usage(msg, ...)
  error(setmetatable({ msg = fmt(msg, ...) }, M.Usage), 0)
end

--- Raise a failure with message msg and an optional traceback.
function M.fail(msg, trace)
  error(setmetatable({ msg = msg, trace = trace }, M.Failure), 0)
end

M.EXIT = { SIGINT = 130, SIGTERM = 143, SIGHUP = 129 }

--- Raise an interruption by the signal named sig ("SIGINT", "SIGTERM", "SIGHUP").
function M.interrupted(sig, where)
  error(setmetatable({ msg = "interrupted by " .. sig .. (where and " " .. where or ""),
                       signal = sig }, M.Interrupted), 0)
end

--- The kind of an error object: "usage", "failure", "interrupted" or nil.
function M.kind(e)
  local mt = getmetatable(e)
  return mt == M.Usage and "usage" or mt == M.Failure and "failure"
    or mt == M.Interrupted and "interrupted" or nil
end

--- The message of any error value.
function M.message(e)
  if type(e) == "table" and e.msg then return e.msg end
  return tostring(e)
end

-- The runner's own modules, whose frames end the traceback shown.
local RUNNER = { runner = true, context = true, loader = true, sandbox = true, record = true }

--- The traceback of an error in the experiment, without the runner's own frames
-- below the experiment's (they say nothing to its author). Returns the message and
-- the traceback text.
function M.traceback(msg)
  local tb = debug.traceback("", 3)   -- above this function and the message handler
  local lines, user = {}, false
  for line in tb:gmatch("[^\n]+") do
    local runner = RUNNER[line:match("hasme/([%w_]+)%.lua:") or ""]
      or line:find("[C]: in function 'xpcall'", 1, true) or line:find("pcall'", 1, true)
    if user and runner then break end
    if line:match("^%s") and not runner and not line:find("^%s*%[C%]") then user = true end
    lines[#lines + 1] = line
  end
  return tostring(msg), concat(lines, "\n")
end

return M
