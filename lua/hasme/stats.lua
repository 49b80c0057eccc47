-- hasme.stats: statistics for comparing SGD with its SDE models. The functions that
-- touch samples (moments, quantiles, tests, distances, escape and weak-error summaries)
-- are written in C (hasme.core.stats, src/lua/lhs_stats.c); this module re-exports them and
-- adds the small fits written in Lua. Reference: docs/stats.md.
local core = require "hasme.core"

local t_quantile = core.stats.t_quantile
local log, sqrt = math.log, math.sqrt
local huge = math.huge

local M = {}
for k, v in pairs(core.stats) do M[k] = v end

-- "bad argument #arg to 'fname' (msg)", the message lauxlib's argument errors have.
local function badarg(arg, fname, msg)
  return ("bad argument #%d to '%s' (%s)"):format(arg, fname, msg)
end

-- The values of a hasme.Vec or a table of numbers as a fresh Lua array: at least one,
-- all finite (and positive when positive is set). Returns nil and the error message
-- for argument arg of fname otherwise, which the API function raises at level 2.
local function numbers(v, arg, fname, positive)
  local tv = type(v)
  local mt = tv == "userdata" and getmetatable(v) or nil
  local name = type(mt) == "table" and mt.__name or tv
  if tv ~= "table" and name ~= "hasme.Vec" then
    return nil, badarg(arg, fname,
      ("vector expected (hasme.Vec or table of numbers), got %s"):format(name))
  end
  local n, out = #v, {}
  if n == 0 then return nil, badarg(arg, fname, "sample is empty") end
  for i = 1, n do
    local x = v[i]
    if type(x) ~= "number" then
      return nil, badarg(arg, fname, ("number expected at index %d, got %s"):format(i, type(x)))
    end
    if x ~= x or x == huge or x == -huge then
      return nil, badarg(arg, fname, ("non-finite value at index %d (got %s)")
        :format(i, x ~= x and "nan" or (x > 0 and "inf" or "-inf")))
    end
    if positive and x <= 0 then
      return nil, badarg(arg, fname, ("value at index %d must be positive (got %.14g)")
        :format(i, x))
    end
    out[i] = x
  end
  return out
end

--- Least-squares fit of log y = intercept + slope * log x: the order of a weak error
-- against the step size. With se_y, point i has weight (y_i / se_i)^2 (the inverse
-- variance of log y_i to first order). Standard errors are scaled by the residual
-- variance with n - 2 degrees of freedom, and the 95% interval of the slope uses
-- Student's t with n - 2 dof.
-- Returns {slope, intercept, slope_se, intercept_se, slope_lo, slope_hi, r2, n, dof,
-- rss}; with two points the fit is exact and the error fields are nil.
function M.loglog_fit(x, y, se_y)
  local fname = "loglog_fit"
  local xs, err = numbers(x, 1, fname, true)
  if not xs then error(err, 2) end
  local ys
  ys, err = numbers(y, 2, fname, true)
  if not ys then error(err, 2) end
  local n = #xs
  if #ys ~= n then
    error(badarg(2, fname, ("length %d does not match length %d of x"):format(#ys, n)), 2)
  end
  if n < 2 then error(badarg(1, fname, ("at least 2 points needed (got %d)"):format(n)), 2) end
  local w = {}
  if se_y ~= nil then
    local se
    se, err = numbers(se_y, 3, fname, true)
    if not se then error(err, 2) end
    if #se ~= n then
      error(badarg(3, fname, ("length %d does not match length %d of x"):format(#se, n)), 2)
    end
    for i = 1, n do w[i] = (ys[i] / se[i]) ^ 2 end
  else
    for i = 1, n do w[i] = 1.0 end
  end
  local lx, ly = {}, {}
  local sw, sx, sy = 0.0, 0.0, 0.0
  for i = 1, n do
    lx[i], ly[i] = log(xs[i]), log(ys[i])
    sw = sw + w[i]
    sx = sx + w[i] * lx[i]
    sy = sy + w[i] * ly[i]
  end
  local mx, my = sx / sw, sy / sw
  local sxx, sxy, syy = 0.0, 0.0, 0.0
  for i = 1, n do
    local dx, dy = lx[i] - mx, ly[i] - my
    sxx = sxx + w[i] * dx * dx
    sxy = sxy + w[i] * dx * dy
    syy = syy + w[i] * dy * dy
  end
  if sxx == 0 then error(badarg(1, fname, "all x values are equal: no slope to fit"), 2) end
  local slope = sxy / sxx
  local intercept = my - slope * mx
  local rss = 0.0
  for i = 1, n do
    local r = ly[i] - intercept - slope * lx[i]
    rss = rss + w[i] * r * r
  end
  local fit = {
    slope = slope, intercept = intercept, n = n, dof = n - 2, rss = rss,
    r2 = syy > 0 and 1 - rss / syy or 1.0,
  }
  if n > 2 then
    local s2 = rss / (n - 2)
    fit.slope_se = sqrt(s2 / sxx)
    fit.intercept_se = sqrt(s2 * (1 / sw + mx * mx / sxx))
    local t = t_quantile(0.975, n - 2)
    fit.slope_lo = slope - t * fit.slope_se
    fit.slope_hi = slope + t * fit.slope_se
  end
  return fit
end

return M
