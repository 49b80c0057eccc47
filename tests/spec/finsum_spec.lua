-- finsum_spec.lua: the built-in finite sums hasme.least_squares and hasme.logistic:
-- construction and its errors, values and derivatives against the NumPy fixture
-- (tests/fixtures/finsum.txt), and minibatch noise on them: the covariance the SDE
-- models use against the closed form, and one minibatch SGD step by Monte Carlo.
local hasme = require "hasme"

-- The arrays of tests/fixtures/finsum.txt: fx[case][kind] = rows (a table of rows).
local function fixture()
  local fx = {}
  for line in io.lines("tests/fixtures/finsum.txt") do
    if not line:match("^#") then
      local kind, case, r, c, rest = line:match("^(%S+) (%S+) (%d+) (%d+) (.*)$")
      local v = {}
      for x in rest:gmatch("%S+") do v[#v + 1] = tonumber(x) end
      local rows = {}
      for i = 1, tonumber(r) do
        rows[i] = table.move(v, (i - 1) * c + 1, i * c, 1, {})
      end
      fx[case] = fx[case] or {}
      fx[case][kind] = rows
    end
  end
  return fx
end

local function maxdiff(a, b)
  local m = 0
  for i = 1, #a do m = math.max(m, math.abs(a[i] - b[i])) end
  return m
end

describe("finite sums", function()
  local A = { { 1.5, -0.25 }, { 0.5, 2.0 }, { -1.0, 0.75 }, { 2.385, 0.1 }, { -0.6, -1.3 } }
  local y = { 0.3, -1.2, 0.8, 2.0, -0.4 }
  local lab = { 1, -1, 1, 1, -1 }

  describe("construction", function()
    it("builds objectives of dimension p over n samples", function()
      local ls = hasme.least_squares{ A = A, y = y }
      local lg = hasme.logistic{ A = hasme.mat(A), y = hasme.vec(lab), decay = 0.1 }
      assert.equal("hasme.Objective(least_squares, dim=2, samples=5)", tostring(ls))
      assert.equal("hasme.Objective(logistic, dim=2, samples=5)", tostring(lg))
      assert.same({ 2, 5, 2, 5 }, { ls:dim(), ls:nsamples(), lg:dim(), lg:nsamples() })
    end)

    it("names the field and what was expected in its errors", function()
      local cases = {
        { hasme.least_squares, { y = y }, "bad argument #1 to 'least_squares' (field 'A': matrix expected, got nil)" },
        { hasme.least_squares, { A = A }, "bad argument #1 to 'least_squares' (field 'y': vector expected, got nil)" },
        { hasme.least_squares, { A = A, y = { 1, 2 } }, "bad argument #1 to 'least_squares' (field 'y': has 2 entries but A has 5 rows)" },
        { hasme.least_squares, { A = { { 1, 0 / 0 } }, y = { 1 } }, "bad argument #1 to 'least_squares' (field 'A': non-finite entry at [1][2])" },
        { hasme.least_squares, { A = A, y = { 1, 2, 3, math.huge, 5 } }, "bad argument #1 to 'least_squares' (field 'y': non-finite entry at index 4)" },
        { hasme.least_squares, { A = A, y = y, decay = -1 }, "bad argument #1 to 'least_squares' (field 'decay': must be finite and non-negative (got -1.0))" },
        { hasme.least_squares, { A = A, y = y, b = 1 }, "bad argument #1 to 'least_squares' (unknown option 'b' (valid: 'A', 'y' or 'decay'))" },
        { hasme.logistic, { A = A, y = { 1, -1, 0, 1, 1 } }, "bad argument #1 to 'logistic' (field 'y': labels must be -1 or 1 (got 0.0 at index 3))" },
        { hasme.logistic, { A = A, y = lab, decay = math.huge }, "bad argument #1 to 'logistic' (field 'decay': must be finite and non-negative (got inf))" },
        { hasme.logistic, "A", "bad argument #1 to 'logistic' (table expected, got string)" },
      }
      for _, c in ipairs(cases) do
        local ok, err = pcall(c[1], c[2])
        assert.is_false(ok)
        assert.equal(c[3], (tostring(err):gsub("to '[%w_%.]+%.", "to '")))
      end
    end)
  end)

  describe("against NumPy", function()
    local fx = fixture()
    for _, case in ipairs({ "ls9x3", "ls5x4decay", "lg11x3", "lg6x2decay" }) do
      it("gives the value, gradient, Hessian and sample gradients of " .. case, function()
        local F = fx[case]
        local ctor = F.kind[1][1] == 0 and hasme.least_squares or hasme.logistic
        local Y = {}
        for i, v in ipairs(F.y[1]) do Y[i] = v end
        local o = ctor{ A = F.A, y = Y, decay = F.decay[1][1] }
        local k = 1
        while F["x" .. k] do
          local x = F["x" .. k][1]
          local scale = 1
          for _, row in ipairs(F["samples" .. k]) do
            for _, v in ipairs(row) do scale = math.max(scale, math.abs(v)) end
          end
          -- The rounding of sums of n + p terms, 4 times over (test_finsum.c).
          local tol = 4 * (#F.A + #x + 4) * 2^-52 * scale
          local value = F["value" .. k][1][1]
          assert.near(value, o:value(x), 4 * (#F.A + #x + 4) * 2^-52 * math.max(1, math.abs(value) * #F.A))
          assert.is_true(maxdiff(o:grad(x):totable(), F["grad" .. k][1]) <= tol)
          local H = o:hess(x):totable()
          for i = 1, #x do assert.is_true(maxdiff(H[i], F["hess" .. k][i]) <= tol * 64) end
          for i = 1, #F.A do
            assert.is_true(maxdiff(o:sample_grad(x, i):totable(), F["samples" .. k][i]) <= tol)
          end
          k = k + 1
        end
        assert.is_true(k > 2)
      end)
    end

    it("passes gradcheck at a random point", function()
      local x = { 0.37, -1.9 }
      for _, o in ipairs({ hasme.least_squares{ A = A, y = y, decay = 0.2 }, hasme.logistic{ A = A, y = lab } }) do
        local r = hasme.gradcheck(o, x)
        assert.is_true(r.ok)
      end
    end)
  end)

  describe("minibatch noise", function()
    -- The closed form: (1/B) (N - B)/(N - 1) (1/N) sum_i (g_i - g)(g_i - g)' (without
    -- replacement), from the per-sample gradients.
    local function closed_form(o, x, B, replace)
      local N, d = o:nsamples(), o:dim()
      local g, G = {}, {}
      for j = 1, d do g[j] = 0 end
      for i = 1, N do
        G[i] = o:sample_grad(x, i):totable()
        for j = 1, d do g[j] = g[j] + G[i][j] / N end
      end
      local C = {}
      for a = 1, d do
        C[a] = {}
        for b = 1, d do
          local s = 0
          for i = 1, N do s = s + (G[i][a] - g[a]) * (G[i][b] - g[b]) end
          C[a][b] = s / N / B * (replace and 1 or (N - B) / (N - 1))
        end
      end
      return C, g
    end

    it("gives the SDE models the closed-form covariance", function()
      local x = { 0.8, -0.45 }
      for _, o in ipairs({ hasme.least_squares{ A = A, y = y }, hasme.logistic{ A = A, y = lab, decay = 0.05 } }) do
        for _, replace in ipairs({ false, true }) do
          local C = closed_form(o, x, 2, replace)
          local S = hasme.minibatch{ batch = 2, replace = replace }:cov(x, o):totable()
          for a = 1, 2 do
            for b = 1, 2 do assert.near(C[a][b], S[a][b], 1e-13 * (1 + math.abs(C[a][b]))) end
          end
        end
      end
    end)

    it("drives minibatch SGD whose one-step covariance is eta^2 times the closed form #slow", function()
      -- x_1 = x_0 - eta g_B(x_0): mean x_0 - eta g, covariance eta^2 Sigma. Each
      -- entry of the sample covariance is compared with the closed form within 5
      -- standard errors, the standard error estimated from the paths themselves.
      local x0, eta, paths = { 0.8, -0.45 }, 0.5, 40000
      for _, o in ipairs({ hasme.least_squares{ A = A, y = y }, hasme.logistic{ A = A, y = lab } }) do
        local C, g = closed_form(o, x0, 2, false)
        local r = hasme.simulate{ objective = o, noise = hasme.minibatch{ batch = 2 }, method = "sgd",
                                  eta = eta, steps = 1, x0 = x0, paths = paths, seed = 2385 }
        local X = r:snapshot(1):totable()
        local m = { 0, 0 }
        for _, row in ipairs(X) do
          m[1], m[2] = m[1] + row[1] / paths, m[2] + row[2] / paths
        end
        for j = 1, 2 do
          local want = x0[j] - eta * g[j]
          assert.near(want, m[j], 5 * eta * math.sqrt(C[j][j] / paths) + 1e-12)
        end
        for a = 1, 2 do
          for b = 1, 2 do
            local s, s2 = 0, 0
            for _, row in ipairs(X) do
              local p = (row[a] - m[a]) * (row[b] - m[b])
              s, s2 = s + p, s2 + p * p
            end
            local mean = s / paths
            local se = math.sqrt(math.max(s2 / paths - mean * mean, 0) / paths)
            assert.near(eta^2 * C[a][b], mean, 5 * se + 1e-12)
          end
        end
      end
    end)

    it("runs every model on them with finite results", function()
      local o = hasme.logistic{ A = A, y = lab, decay = 0.1 }
      local res = hasme.compare{ methods = { "sgd", "sme1", "sme2", "hasme" }, objective = o,
                                 noise = hasme.minibatch{ batch = 3 },
                                 eta = 0.1, steps = 20, x0 = { 0.5, 0.5 }, paths = 200, seed = 7 }
      for _, m in ipairs({ "sgd", "sme1", "sme2", "hasme" }) do
        local mean = res[m]:mean(20)
        assert.is_true(math.abs(mean[1]) < 10 and math.abs(mean[2]) < 10)
        assert.equal(0, res[m].diverged)
      end
    end)
  end)
end)
