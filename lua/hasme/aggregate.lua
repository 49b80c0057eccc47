-- hasme.aggregate: the table a `--seeds N` sweep adds: for every point (the swept
-- values) and every numeric figure of run's summary, the mean over the N seeds and
-- its 95% confidence interval, mean -+ t(0.975, n-1) s / sqrt(n), with s the sample
-- standard deviation and t Student's quantile (to about 1e-9 relative, computed
-- here from the regularized incomplete beta function).
local util = require "hasme.util"

local M = {}

local abs, exp, log, sqrt, huge = math.abs, math.exp, math.log, math.sqrt, math.huge
local type, ipairs, pairs = type, ipairs, pairs

-- log Gamma(x) for x > 0 (Lanczos, g = 7, n = 9: relative error below 1e-14).
local LANCZOS = { 0.99999999999980993, 676.5203681218851, -1259.1392167224028,
  771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012,
  9.9843695780195716e-6, 1.5056327351493116e-7 }
local function lgamma(x)
  if x < 0.5 then return log(math.pi / abs(math.sin(math.pi * x))) - lgamma(1 - x) end
  x = x - 1
  local a = LANCZOS[1]
  local t = x + 7.5
  for i = 2, 9 do a = a + LANCZOS[i] / (x + i - 1) end
  return 0.5 * log(2 * math.pi) + (x + 0.5) * log(t) - t + log(a)
end

-- The continued fraction of the incomplete beta function (modified Lentz).
local function betacf(a, b, x)
  local tiny = 1e-300
  local qab, qap, qam = a + b, a + 1, a - 1
  local c, d = 1, 1 - qab * x / qap
  if abs(d) < tiny then d = tiny end
  d = 1 / d
  local h = d
  for m = 1, 10000 do
    local m2 = 2 * m
    local aa = m * (b - m) * x / ((qam + m2) * (a + m2))
    d = 1 + aa * d; if abs(d) < tiny then d = tiny end
    c = 1 + aa / c; if abs(c) < tiny then c = tiny end
    d = 1 / d
    h = h * d * c
    aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
    d = 1 + aa * d; if abs(d) < tiny then d = tiny end
    c = 1 + aa / c; if abs(c) < tiny then c = tiny end
    d = 1 / d
    local del = d * c
    h = h * del
    if abs(del - 1) < 1e-15 then break end
  end
  return h
end

-- The regularized incomplete beta function I_x(a, b).
local function ibeta(x, a, b)
  if x <= 0 then return 0 end
  if x >= 1 then return 1 end
  local bt = exp(lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log(1 - x))
  if x < (a + 1) / (a + b + 2) then return bt * betacf(a, b, x) / a end
  return 1 - bt * betacf(b, a, 1 - x) / b
end

--- P(T <= t) for Student's t with df degrees of freedom.
function M.t_cdf(t, df)
  local x = df / (df + t * t)
  local tail = 0.5 * ibeta(x, df / 2, 0.5)
  return t >= 0 and 1 - tail or tail
end

--- The p-quantile of Student's t with df > 0 degrees of freedom (0 < p < 1).
function M.t_quantile(p, df)
  if not (p > 0 and p < 1) or not (df > 0) then
    error(("bad argument to 't_quantile' (0 < p < 1 and df > 0 expected, got p = %s, df = %s)")
      :format(tostring(p), tostring(df)), 2)
  end
  if p == 0.5 then return 0 end
  if df == 1 then return math.tan(math.pi * (p - 0.5)) end
  if df == 2 then return (2 * p - 1) / sqrt(2 * p * (1 - p)) end
  local lo, hi = -1, 1
  while M.t_cdf(lo, df) > p do lo = lo * 2 end
  while M.t_cdf(hi, df) < p do hi = hi * 2 end
  for _ = 1, 200 do
    local mid = 0.5 * (lo + hi)
    if M.t_cdf(mid, df) < p then lo = mid else hi = mid end
    if hi - lo <= 1e-13 * abs(mid) then break end
  end
  return 0.5 * (lo + hi)
end

--- Mean and 95% interval of the numbers xs: mean, lo, hi, n (lo and hi nil for n < 2).
function M.interval(xs)
  local n = #xs
  if n == 0 then return nil, nil, nil, 0 end
  local s = 0
  for _, x in ipairs(xs) do s = s + x end
  local mean = s / n
  if n < 2 then return mean, nil, nil, n end
  local ss = 0
  for _, x in ipairs(xs) do ss = ss + (x - mean) ^ 2 end
  local half = M.t_quantile(0.975, n - 1) * sqrt(ss / (n - 1)) / sqrt(n)
  return mean, mean - half, mean + half, n
end

--- The aggregate table of a --seeds sweep. pts are the points (with .swept and
-- .seed), summaries the summaries of those that completed (summaries[i] for
-- pts[i]), sweeps the swept params in order. One row per point, in the order of the
-- sweep: the swept values, the number of seeds, and for every numeric figure of
-- the summaries its mean, 95% lower and upper bound (columns "<k>", "<k> lo",
-- "<k> hi"). Non-finite values are left out of a figure's mean.
function M.table(pts, summaries, sweeps)
  local groups, order = {}, {}
  for i, pt in ipairs(pts) do
    local key = {}
    for _, c in ipairs(pt.swept) do key[#key + 1] = c[1] .. "=" .. util.text(c[2]) end
    key = table.concat(key, " ")
    if not groups[key] then
      groups[key] = { swept = pt.swept, rows = {} }
      order[#order + 1] = key
    end
    if summaries[i] then groups[key].rows[#groups[key].rows + 1] = summaries[i] end
  end
  local keys, seen = {}, {}
  for _, s in pairs(summaries) do
    for k, v in pairs(s) do
      if type(v) == "number" and not seen[k] then seen[k] = true; keys[#keys + 1] = k end
    end
  end
  table.sort(keys)
  local columns = {}
  for _, s in ipairs(sweeps) do columns[#columns + 1] = s[1] end
  columns[#columns + 1] = "seeds"
  local used = {}
  for _, c in ipairs(columns) do used[c] = true end
  for _, k in ipairs(keys) do
    local name = used[k] and k .. " (run)" or k
    for _, c in ipairs { name, name .. " lo", name .. " hi" } do columns[#columns + 1] = c end
  end
  local rows = {}
  for _, key in ipairs(order) do
    local g = groups[key]
    local row = {}
    for _, c in ipairs(g.swept) do row[c[1]] = type(c[2]) == "table" and util.text(c[2]) or c[2] end
    row.seeds = #g.rows
    for _, k in ipairs(keys) do
      local xs = {}
      for _, s in ipairs(g.rows) do
        local v = s[k]
        if type(v) == "number" and v == v and v ~= huge and v ~= -huge then xs[#xs + 1] = v end
      end
      local name = used[k] and k .. " (run)" or k
      local mean, lo, hi = M.interval(xs)
      row[name], row[name .. " lo"], row[name .. " hi"] = mean, lo, hi
    end
    rows[#rows + 1] = row
  end
  return { title = ("aggregate over seeds: mean and 95%% confidence interval (t quantile), "
    .. "%d point%s"):format(#rows, #rows == 1 and "" or "s"), columns = columns, rows = rows }
end

return M
