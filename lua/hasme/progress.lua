-- hasme.progress: the progress bar the runner draws on stderr (a terminal only)
-- during each simulation: path-steps done, the rate and the time left.
local util = require "hasme.util"

local M = {}

local fmt, floor, huge = string.format, math.floor, math.huge
local now = util.now

-- Short SI text of a count: 1.2k, 3.4M.
local function si(x)
  local units = { "", "k", "M", "G", "T", "P" }
  local u = 1
  while x >= 1000 and u < #units do x, u = x / 1000, u + 1 end
  return (u == 1 and fmt("%d", floor(x + 0.5)) or fmt("%.3g%s", x, units[u]))
end

local function clock(s)
  if not s or s ~= s or s == huge then return "--:--" end
  s = floor(s + 0.5)
  if s >= 3600 then return fmt("%d:%02d:%02d", s // 3600, s % 3600 // 60, s % 60) end
  return fmt("%d:%02d", s // 60, s % 60)
end

-- Whether a bar is on the terminal's last line: the runner erases it on errors.
local shown_any = false

--- A progress bar for one simulation labelled label: bar.update(done, total) is the
-- progress callback of hasme.simulate (path-steps), bar.finish() erases the line.
function M.bar(label)
  local t0 = now()
  local shown = false
  local bar = {}
  function bar.update(done, total)
    local el = now() - t0
    local frac = total > 0 and done / total or 0
    local rate = el > 0 and done / el or 0
    local eta = rate > 0 and (total - done) / rate or nil
    local width = 24
    local fill = floor(frac * width + 0.5)
    io.stderr:write(("\r%s [%s%s] %3d%%  %s/%s path-steps  %s/s  ETA %s\27[K"):format(
      label, ("#"):rep(fill), ("."):rep(width - fill), floor(frac * 100 + 0.5), si(done),
      si(total), si(rate), clock(eta)))
    io.stderr:flush()
    shown, shown_any = true, true
  end
  function bar.finish()
    if shown then
      io.stderr:write("\r\27[K")
      io.stderr:flush()
      shown, shown_any = false, false
    end
  end
  return bar
end

--- Erase a bar left on the terminal by a simulation that did not return.
function M.erase()
  if shown_any then
    io.stderr:write("\r\27[K")
    shown_any = false
  end
end

return M
