/*
** lhs_stats.c: the hasme.stats functions written in C (hs_stats.c does the work):
** argument checks, conversion of samples, scratch memory as Lua userdata, results.
*/
#include "lhs_init.h"
#include "lhs_vec.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "hs_dist.h"
#include "hs_linalg.h"
#include "hs_stats.h"

/* A covariance must be symmetric to this relative accuracy (hs_asymmetry). */
#define SYM_TOL 1e-10

/* {====================================================================
** Argument helpers
** ===================================================================== */

/* "inf", "-inf" or "nan": a fixed spelling for messages (printf's NaN has a sign). */
static const char *nonfinite_name(double x) {
  return isnan(x) ? "nan" : (x > 0.0 ? "inf" : "-inf");
}

/* Push and return x formatted for a message: %.14g, with inf and nan spelt as above
** (lua_pushfstring's %f would print 0 as "0.0"). */
static const char *numstr(lua_State *L, double x) {
  char buf[40];
  if (!isfinite(x)) return lua_pushstring(L, nonfinite_name(x));
  snprintf(buf, sizeof buf, "%.14g", x);
  return lua_pushstring(L, buf);
}

/* Raise unless x[0..n-1] are all finite, naming the 1-based index. */
static void checkfinite(lua_State *L, int arg, const char *field, const double *x,
                        size_t n) {
  size_t i = hs_stats_nonfinite(n, x);
  if (i < n)
    lhs_fielderror(L, arg, field, "non-finite value at index %I (got %s)",
                   (lua_Integer)i + 1, nonfinite_name(x[i]));
}

/* The same for a matrix, naming [row][column]. */
static void checkfinite_mat(lua_State *L, int arg, const lhs_mat *m) {
  size_t n = m->rows * m->cols, i = hs_stats_nonfinite(n, m->data);
  if (i < n)
    lhs_fielderror(L, arg, NULL, "non-finite value at [%I][%I] (got %s)",
                   (lua_Integer)(i / m->cols) + 1, (lua_Integer)(i % m->cols) + 1,
                   nonfinite_name(m->data[i]));
}

/* A sample: a hasme.Vec or a table of numbers with at least minn finite values. */
static lhs_vec *checksample(lua_State *L, int arg, size_t minn) {
  lhs_vec *v = lhs_checkvec(L, arg);
  if (v->n == 0) luaL_argerror(L, arg, "sample is empty");
  if (v->n < minn)
    lhs_fielderror(L, arg, NULL, "at least %I values needed (got %I)", (lua_Integer)minn,
                   (lua_Integer)v->n);
  checkfinite(L, arg, NULL, v->data, v->n);
  return v;
}

/* Whether argument arg is a matrix: a hasme.Mat, or a table whose first element is
** a table or a hasme.Vec (a row). */
static int ismatrix(lua_State *L, int arg) {
  if (lhs_tomat(L, arg) != NULL) return 1;
  if (lua_type(L, arg) != LUA_TTABLE) return 0;
  lua_geti(L, arg, 1);
  int r = lua_type(L, -1) == LUA_TTABLE || lhs_tovec(L, -1) != NULL;
  lua_pop(L, 1);
  return r;
}

/* A matrix of observations (one per row) with at least minrows rows, finite. */
static lhs_mat *checkobs(lua_State *L, int arg, size_t minrows) {
  lhs_mat *m = lhs_checkmat(L, arg);
  if (m->rows == 0) luaL_argerror(L, arg, "sample is empty");
  if (m->rows < minrows)
    lhs_fielderror(L, arg, NULL, "at least %I rows (observations) needed (got %I)",
                   (lua_Integer)minrows, (lua_Integer)m->rows);
  if (m->cols == 0) luaL_argerror(L, arg, "matrix has no columns");
  checkfinite_mat(L, arg, m);
  return m;
}

/* A sorted copy of v (scratch on the stack). */
static double *sortedcopy(lua_State *L, const lhs_vec *v) {
  double *s = lhs_scratch(L, v->n);
  memcpy(s, v->data, v->n * sizeof(double));
  hs_stats_sort(v->n, s);
  return s;
}

/* A finite number argument. */
static double checkfinitenum(lua_State *L, int arg, const char *name) {
  double x = (double)luaL_checknumber(L, arg);
  if (!isfinite(x)) lhs_fielderror(L, arg, NULL, "%s must be finite (got %s)", name,
                                   nonfinite_name(x));
  return x;
}

static double optfinitenum(lua_State *L, int arg, const char *name, double def) {
  return lua_isnoneornil(L, arg) ? def : checkfinitenum(L, arg, name);
}

/* A positive finite number argument. */
static double checkpositive(lua_State *L, int arg, const char *name, double def, int opt) {
  if (opt && lua_isnoneornil(L, arg)) return def;
  double x = checkfinitenum(L, arg, name);
  if (!(x > 0.0)) lhs_fielderror(L, arg, NULL, "%s must be positive (got %s)", name,
                                 numstr(L, x));
  return x;
}

/* The confidence level at arg (default 0.95), strictly between 0 and 1. */
static double checkconf(lua_State *L, int arg, const char *field, double x) {
  if (!(x > 0.0 && x < 1.0))
    lhs_fielderror(L, arg, field, "confidence level must be in (0, 1) (got %s)",
                   numstr(L, x));
  return x;
}

static double optconf(lua_State *L, int arg) {
  if (lua_isnoneornil(L, arg)) return 0.95;
  return checkconf(L, arg, NULL, (double)luaL_checknumber(L, arg));
}

/* The two-sided normal quantile of a confidence level. */
static double conf_z(double conf) {
  return hs_stats_normal_quantile(1.0 - 0.5 * (1.0 - conf));
}

/* A probability in [0, 1] (what names it in messages: "p" or "p[3]"). */
static void checkprob(lua_State *L, int arg, const char *what, double p) {
  if (p >= 0.0 && p <= 1.0) return;
  lhs_fielderror(L, arg, NULL, "%s must be in [0, 1] (got %s)", what, numstr(L, p));
}

/* A non-negative integer count argument (k, n, horizon), at least lo. */
static size_t checkcount(lua_State *L, int arg, const char *name, lua_Integer lo) {
  int isint;
  lua_Integer k = lua_tointegerx(L, arg, &isint);
  if (!isint) {
    if (lua_type(L, arg) == LUA_TNUMBER)
      lhs_fielderror(L, arg, NULL, "%s must be an integer (got %s)", name,
                     lua_tostring(L, arg));
    luaL_typeerror(L, arg, "integer");
  }
  if (k < lo) lhs_fielderror(L, arg, NULL, "%s must be at least %I (got %I)", name, lo, k);
  if ((lua_Unsigned)k > (lua_Unsigned)HS_MAXSIZE)
    lhs_fielderror(L, arg, NULL, "%s is too large (got %I)", name, k);
  return (size_t)k;
}

static void setnum(lua_State *L, const char *k, double v) {
  lua_pushnumber(L, (lua_Number)v);
  lua_setfield(L, -2, k);
}

static void setint(lua_State *L, const char *k, size_t v) {
  lua_pushinteger(L, (lua_Integer)v);
  lua_setfield(L, -2, k);
}

static void setstr(lua_State *L, const char *k, const char *v) {
  lua_pushstring(L, v);
  lua_setfield(L, -2, k);
}

/* }==================================================================== */

/* {====================================================================
** Moments and covariance
** ===================================================================== */

/* stats.mean(x) -> mean, se; for a matrix (one observation per row) the column means
** and their standard errors as vectors. se is nil with a single observation. */
static int stats_mean(lua_State *L) {
  if (ismatrix(L, 1)) {
    lhs_mat *m = checkobs(L, 1, 1);
    lhs_vec *mu = lhs_newvec(L, m->cols);
    lhs_vec *se = m->rows >= 2 ? lhs_newvec(L, m->cols) : NULL;
    for (size_t j = 0; j < m->cols; j++) {
      double var;
      hs_stats_meanvar(m->rows, m->data + j, m->cols, &mu->data[j], &var);
      if (se != NULL) se->data[j] = sqrt(var / (double)m->rows);
    }
    if (se == NULL) lua_pushnil(L);
    return 2;
  }
  lhs_vec *x = checksample(L, 1, 1);
  double mean, var;
  hs_stats_meanvar(x->n, x->data, 1, &mean, &var);
  lua_pushnumber(L, (lua_Number)mean);
  if (x->n >= 2) lua_pushnumber(L, (lua_Number)sqrt(var / (double)x->n));
  else lua_pushnil(L);
  return 2;
}

/* stats.var(x) -> unbiased variance; for a matrix, the vector of column variances. */
static int stats_var(lua_State *L) {
  double mean, var;
  if (ismatrix(L, 1)) {
    lhs_mat *m = checkobs(L, 1, 2);
    lhs_vec *v = lhs_newvec(L, m->cols);
    for (size_t j = 0; j < m->cols; j++)
      hs_stats_meanvar(m->rows, m->data + j, m->cols, &mean, &v->data[j]);
    return 1;
  }
  lhs_vec *x = checksample(L, 1, 2);
  hs_stats_meanvar(x->n, x->data, 1, &mean, &var);
  lua_pushnumber(L, (lua_Number)var);
  return 1;
}

/* stats.moments(x) -> {n, mean, var, sd, se, skew, kurt}; skew and kurt are left out
** for a constant sample, where they are undefined (see hs_stats_describe). */
static int stats_moments(lua_State *L) {
  lhs_vec *x = checksample(L, 1, 2);
  hs_stats_moments m;
  hs_stats_describe(x->n, x->data, &m);
  lua_createtable(L, 0, 7);
  setint(L, "n", x->n);
  setnum(L, "mean", m.mean);
  setnum(L, "var", m.var);
  setnum(L, "sd", sqrt(m.var));
  setnum(L, "se", sqrt(m.var / (double)x->n));
  if (m.has_shape) {
    setnum(L, "skew", m.skew);
    setnum(L, "kurt", m.kurt);
  }
  return 1;
}

/* stats.cov(X) -> mean (vec), covariance (mat, divisor n - 1), standard errors of the
** covariance entries (mat; Gaussian formula, see hs_stats_cov_se). */
static int stats_cov(lua_State *L) {
  lhs_mat *X = checkobs(L, 1, 2);
  size_t d = X->cols;
  lhs_vec *mu = lhs_newvec(L, d);
  lhs_mat *C = lhs_newmat(L, d, d);
  lhs_mat *se = lhs_newmat(L, d, d);
  hs_stats_cov(X->rows, d, X->data, mu->data, C->data);
  hs_stats_cov_se(X->rows, d, C->data, se->data);
  return 3;
}

/* }==================================================================== */

/* {====================================================================
** Quantiles and histograms
** ===================================================================== */

/* stats.quantile(x, p) -> number, or a vector for a vector of p: NumPy's "linear". */
static int stats_quantile(lua_State *L) {
  lhs_vec *x = checksample(L, 1, 1);
  if (lua_type(L, 2) == LUA_TNUMBER) {
    double p = (double)lua_tonumber(L, 2);
    checkprob(L, 2, "p", p);
    double *s = sortedcopy(L, x);
    lua_pushnumber(L, (lua_Number)hs_stats_quantile_sorted(x->n, s, p));
    return 1;
  }
  lhs_vec *p = lhs_checkvec(L, 2);
  for (size_t i = 0; i < p->n; i++) {
    if (p->data[i] >= 0.0 && p->data[i] <= 1.0) continue;
    lua_pushfstring(L, "p[%I]", (lua_Integer)i + 1);
    checkprob(L, 2, lua_tostring(L, -1), p->data[i]);
  }
  double *s = sortedcopy(L, x);
  lhs_vec *q = lhs_newvec(L, p->n);
  for (size_t i = 0; i < p->n; i++) q->data[i] = hs_stats_quantile_sorted(x->n, s, p->data[i]);
  return 1;
}

/* stats.median(x) = stats.quantile(x, 0.5). */
static int stats_median(lua_State *L) {
  lhs_vec *x = checksample(L, 1, 1);
  double *s = sortedcopy(L, x);
  lua_pushnumber(L, (lua_Number)hs_stats_quantile_sorted(x->n, s, 0.5));
  return 1;
}

static const char *const hist_fields[] = {"bins", "density", "range", NULL};

/* stats.histogram(x [, opts | bins]) -> edges, counts (or densities). opts: bins (a
** count, default 10, or a vector of strictly increasing edges), range = {lo, hi}
** (default: the sample's min and max, widened by 1/2 each way when equal; not with
** explicit edges), density (counts / (bin width * number counted)). */
static int stats_histogram(lua_State *L) {
  lhs_vec *x = checksample(L, 1, 1);
  size_t nbins = 10;
  lhs_vec *edges = NULL;
  int density = 0, hasrange = 0;
  double lo = 0.0, hi = 0.0;
  if (lua_type(L, 2) == LUA_TNUMBER) nbins = checkcount(L, 2, "number of bins", 1);
  else if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TTABLE);
    lhs_checkfields(L, 2, 2, hist_fields);
    density = lhs_optboolfield(L, 2, 2, "density", 0);
    int tb = lua_getfield(L, 2, "bins");
    if (tb == LUA_TNUMBER) {
      lua_Integer k = lhs_optintfield(L, 2, 2, "bins", 10, 1, LUA_MAXINTEGER);
      nbins = (size_t)k;
      lua_pop(L, 1);
    }
    else if (tb != LUA_TNIL) {
      edges = lhs_checkvec_at(L, lua_gettop(L), 2, "bins");   /* stays on the stack */
      if (edges->n < 2)
        lhs_fielderror(L, 2, "bins", "at least 2 edges needed (got %I)",
                       (lua_Integer)edges->n);
      checkfinite(L, 2, "bins", edges->data, edges->n);
      for (size_t i = 1; i < edges->n; i++)
        if (!(edges->data[i] > edges->data[i - 1]))
          lhs_fielderror(L, 2, "bins", "edges must increase strictly (edge %I is %s, "
                         "edge %I is %s)", (lua_Integer)i, numstr(L, edges->data[i - 1]),
                         (lua_Integer)i + 1, numstr(L, edges->data[i]));
    }
    else lua_pop(L, 1);
    int tr = lua_getfield(L, 2, "range");
    if (tr != LUA_TNIL) {
      if (edges != NULL)
        lhs_fielderror(L, 2, "range", "cannot be combined with explicit edges in 'bins'");
      lhs_vec *r = lhs_checkvec_at(L, lua_gettop(L), 2, "range");
      if (r->n != 2)
        lhs_fielderror(L, 2, "range", "{lo, hi} expected (got %I values)", (lua_Integer)r->n);
      checkfinite(L, 2, "range", r->data, 2);
      lo = r->data[0], hi = r->data[1];
      if (!(lo < hi))
        lhs_fielderror(L, 2, "range", "lo must be less than hi (got %s and %s)",
                       numstr(L, lo), numstr(L, hi));
      if (!isfinite(hi - lo)) lhs_fielderror(L, 2, "range", "range too wide");
      hasrange = 1;
    }
    lua_pop(L, 1);
  }
  size_t total, nb = edges != NULL ? edges->n - 1 : nbins;
  lhs_vec *e, *c;
  if (edges != NULL) {
    e = lhs_pushvec(L, edges->data, edges->n);
    c = lhs_newvec(L, nb);
    total = hs_stats_hist_edges(x->n, x->data, edges->n, edges->data, c->data);
  }
  else {
    if (!hasrange) {
      hs_stats_hist_range(x->n, x->data, &lo, &hi);
      if (!isfinite(hi - lo)) luaL_argerror(L, 1, "sample range too wide for a histogram");
    }
    e = lhs_newvec(L, nb + 1);
    c = lhs_newvec(L, nb);
    total = hs_stats_hist_uniform(x->n, x->data, lo, hi, nb, e->data, c->data);
  }
  if (density) {
    if (total == 0)
      lhs_fielderror(L, 2, "density", "no value of the sample falls inside the bins");
    hs_stats_hist_density(nb, e->data, c->data, total);
  }
  return 2;
}

/* }==================================================================== */

/* {====================================================================
** Distributions
** ===================================================================== */

/* Apply f to a number or to each element of a vector at argument 1. */
static int map1(lua_State *L, double (*f)(double), int isprob, const char *name) {
  if (lua_type(L, 1) == LUA_TNUMBER) {
    double x = (double)lua_tonumber(L, 1);
    if (isprob) checkprob(L, 1, name, x);
    else if (isnan(x)) lhs_fielderror(L, 1, NULL, "%s must not be nan", name);
    lua_pushnumber(L, (lua_Number)f(x));
    return 1;
  }
  lhs_vec *v = lhs_checkvec(L, 1);
  for (size_t i = 0; i < v->n; i++) {
    double x = v->data[i];
    if (isprob ? (x >= 0.0 && x <= 1.0) : !isnan(x)) continue;
    lua_pushfstring(L, "%s[%I]", name, (lua_Integer)i + 1);
    if (isprob) checkprob(L, 1, lua_tostring(L, -1), x);
    lhs_fielderror(L, 1, NULL, "%s must not be nan", lua_tostring(L, -1));
  }
  lhs_vec *r = lhs_newvec(L, v->n);
  for (size_t i = 0; i < v->n; i++) r->data[i] = f(v->data[i]);
  return 1;
}

/* stats.normal_cdf(x) and stats.normal_quantile(p): number or vector. */
static int stats_normal_cdf(lua_State *L) {
  return map1(L, hs_stats_normal_cdf, 0, "x");
}

static int stats_normal_quantile(lua_State *L) {
  return map1(L, hs_stats_normal_quantile, 1, "p");
}

static double checkdof(lua_State *L, int arg) {
  return checkpositive(L, arg, "dof", 0.0, 0);
}

/* stats.t_cdf(t, dof) and stats.t_quantile(p, dof). */
static int stats_t_cdf(lua_State *L) {
  double t = (double)luaL_checknumber(L, 1);
  if (isnan(t)) luaL_argerror(L, 1, "t must not be nan");
  double dof = checkdof(L, 2);
  lua_pushnumber(L, (lua_Number)hs_stats_t_cdf(t, dof));
  return 1;
}

static int stats_t_quantile(lua_State *L) {
  double p = (double)luaL_checknumber(L, 1);
  checkprob(L, 1, "p", p);
  double dof = checkdof(L, 2);
  lua_pushnumber(L, (lua_Number)hs_stats_t_quantile(p, dof));
  return 1;
}

/* stats.ks_sf(d [, n]): P(D_n >= d) for the two-sided one-sample statistic of a sample
** of size n, or Kolmogorov's limit P(K > d) without n. */
static int stats_ks_sf(lua_State *L) {
  double d = (double)luaL_checknumber(L, 1);
  if (isnan(d)) luaL_argerror(L, 1, "d must not be nan");
  if (lua_isnoneornil(L, 2)) {
    lua_pushnumber(L, (lua_Number)hs_stats_kolmogorov_sf(d));
    return 1;
  }
  size_t n = checkcount(L, 2, "n", 1);
  double *work = lhs_scratch(L, hs_stats_kolmogn_worksize(n, d));
  lua_pushnumber(L, (lua_Number)hs_stats_kolmogn_sf(n, d, work));
  return 1;
}

/* }==================================================================== */

/* {====================================================================
** Comparisons of distributions
** ===================================================================== */

/* stats.ks(x, y) -> D, p: two-sample Kolmogorov-Smirnov. */
static int stats_ks(lua_State *L) {
  lhs_vec *x = checksample(L, 1, 1);
  lhs_vec *y = checksample(L, 2, 1);
  double *sx = sortedcopy(L, x), *sy = sortedcopy(L, y);
  double d = hs_stats_ks2_stat(x->n, sx, y->n, sy);
  double *work = lhs_scratch(L, hs_stats_ks2_worksize(x->n, y->n, d));
  lua_pushnumber(L, (lua_Number)d);
  lua_pushnumber(L, (lua_Number)hs_stats_ks2_pvalue(x->n, y->n, d, work));
  return 2;
}

/* stats.ks_normal(x [, mu, sigma]) -> D, p: one sample against N(mu, sigma^2). */
static int stats_ks_normal(lua_State *L) {
  lhs_vec *x = checksample(L, 1, 1);
  double mu = optfinitenum(L, 2, "mu", 0.0);
  double sigma = checkpositive(L, 3, "sigma", 1.0, 1);
  double *s = sortedcopy(L, x);
  double d = hs_stats_ks_normal_stat(x->n, s, mu, sigma);
  lua_pushnumber(L, (lua_Number)d);
  lua_pushnumber(L, (lua_Number)hs_stats_kolmogorov_sf(sqrt((double)x->n) * d));
  return 2;
}

/* stats.w1(x, y): Wasserstein-1 distance between two empirical laws. */
static int stats_w1(lua_State *L) {
  lhs_vec *x = checksample(L, 1, 1);
  lhs_vec *y = checksample(L, 2, 1);
  double *sx = sortedcopy(L, x), *sy = sortedcopy(L, y);
  lua_pushnumber(L, (lua_Number)hs_stats_w1_sorted(x->n, sx, y->n, sy));
  return 1;
}

/* stats.w1_normal(x [, mu, sigma]): Wasserstein-1 distance to N(mu, sigma^2). */
static int stats_w1_normal(lua_State *L) {
  lhs_vec *x = checksample(L, 1, 1);
  double mu = optfinitenum(L, 2, "mu", 0.0);
  double sigma = checkpositive(L, 3, "sigma", 1.0, 1);
  double *s = sortedcopy(L, x);
  lua_pushnumber(L, (lua_Number)hs_stats_w1_normal_sorted(x->n, s, mu, sigma));
  return 1;
}

/* One Gaussian's parameters at arguments arg (mean) and arg + 1 (covariance): a
** vector and a square matrix of matching size, or two numbers (mean, variance) in one
** dimension. Returns the dimension; *m and *C point at finite data. */
static size_t checkgauss(lua_State *L, int arg, const char *mname, const char *cname,
                         const double **m, const double **C) {
  if (lua_type(L, arg) == LUA_TNUMBER && lua_type(L, arg + 1) == LUA_TNUMBER) {
    lhs_vec *mv = lhs_newvec(L, 1);
    mv->data[0] = (double)lua_tonumber(L, arg);
    lua_replace(L, arg);
    lhs_vec *cv = lhs_newvec(L, 1);
    cv->data[0] = (double)lua_tonumber(L, arg + 1);
    lua_replace(L, arg + 1);
    if (!isfinite(mv->data[0]))
      lhs_fielderror(L, arg, NULL, "%s must be finite (got %s)", mname,
                     nonfinite_name(mv->data[0]));
    if (!isfinite(cv->data[0]))
      lhs_fielderror(L, arg + 1, NULL, "%s must be finite (got %s)", cname,
                     nonfinite_name(cv->data[0]));
    *m = mv->data;
    *C = cv->data;
    return 1;
  }
  lhs_vec *mv = lhs_checkvec(L, arg);
  if (mv->n == 0) lhs_fielderror(L, arg, NULL, "%s is empty", mname);
  checkfinite(L, arg, NULL, mv->data, mv->n);
  lhs_mat *cm = lhs_checkmat(L, arg + 1);
  if (cm->rows != mv->n || cm->cols != mv->n)
    lhs_fielderror(L, arg + 1, NULL, "%s must be %Ix%I to match %s (got %Ix%I)", cname,
                   (lua_Integer)mv->n, (lua_Integer)mv->n, mname, (lua_Integer)cm->rows,
                   (lua_Integer)cm->cols);
  checkfinite_mat(L, arg + 1, cm);
  size_t r, c;
  double diff;
  if (hs_asymmetry_at(cm->rows, cm->data, &r, &c, &diff) > SYM_TOL)
    lhs_fielderror(L, arg + 1, NULL, "%s must be symmetric ([%I][%I] and [%I][%I] differ "
                   "by %s)", cname, (lua_Integer)r + 1, (lua_Integer)c + 1,
                   (lua_Integer)c + 1, (lua_Integer)r + 1, numstr(L, diff));
  *m = mv->data;
  *C = cm->data;
  return mv->n;
}

typedef hs_status (*gaussfn)(size_t, const double *, const double *, const double *,
                             const double *, double, double *, double *,
                             hs_stats_gauss_info *);

/* gauss_w2 and gauss_kl share their checks; kl additionally needs C2 definite. */
static int gausscompare(lua_State *L, gaussfn f, const char *name, int kl) {
  const double *m1, *C1, *m2, *C2;
  size_t d = checkgauss(L, 1, "m1", "C1", &m1, &C1);
  size_t d2 = checkgauss(L, 3, "m2", "C2", &m2, &C2);
  if (d2 != d)
    lhs_fielderror(L, 3, NULL, "m2 has dimension %I but m1 has dimension %I",
                   (lua_Integer)d2, (lua_Integer)d);
  double *work = lhs_scratch(L, hs_stats_gauss_worksize(d));
  double r = 0.0;
  hs_stats_gauss_info info = {0, 0.0, 0.0};
  hs_status st = f(d, m1, C1, m2, C2, HS_STATS_PSD_TOL, &r, work, &info);
  if (st == HS_ENOTPSD) {
    int arg = info.which == 1 ? 2 : 4;
    const char *cname = info.which == 1 ? "C1" : "C2";
    if (kl && info.which == 2)
      lhs_fielderror(L, arg, NULL, "C2 must be positive definite (eigenvalues from %s to "
                     "%s)", numstr(L, info.minw), numstr(L, info.maxw));
    lhs_fielderror(L, arg, NULL, "%s must be positive semidefinite (eigenvalues from %s "
                   "to %s)", cname, numstr(L, info.minw), numstr(L, info.maxw));
  }
  if (st != HS_OK) return lhs_statuserror(L, st, name, NULL);
  lua_pushnumber(L, (lua_Number)r);
  return 1;
}

/* stats.gauss_w2(m1, C1, m2, C2) and stats.gauss_kl(m1, C1, m2, C2). */
static int stats_gauss_w2(lua_State *L) {
  return gausscompare(L, hs_stats_gauss_w2, "gauss_w2", 0);
}

static int stats_gauss_kl(lua_State *L) {
  return gausscompare(L, hs_stats_gauss_kl, "gauss_kl", 1);
}

/* }==================================================================== */

/* {====================================================================
** Intervals, escape statistics, weak error
** ===================================================================== */

/* stats.wilson(k, n [, conf]) -> lo, hi. */
static int stats_wilson(lua_State *L) {
  size_t k = checkcount(L, 1, "k", 0);
  size_t n = checkcount(L, 2, "n", 1);
  if (k > n)
    lhs_fielderror(L, 1, NULL, "k must not exceed n (got k = %I, n = %I)", (lua_Integer)k,
                   (lua_Integer)n);
  double conf = optconf(L, 3), lo, hi;
  hs_stats_wilson(k, n, conf_z(conf), &lo, &hi);
  lua_pushnumber(L, (lua_Number)lo);
  lua_pushnumber(L, (lua_Number)hi);
  return 2;
}

/* Escape steps at argument 1: a sample of -1 / positive integers. */
static lhs_vec *checksteps(lua_State *L) {
  lhs_vec *s = checksample(L, 1, 1);
  size_t bad;
  if (hs_stats_check_steps(s->n, s->data, &bad) != HS_OK)
    lhs_fielderror(L, 1, NULL, "escape step at index %I must be -1 or a positive integer "
                   "(got %s)", (lua_Integer)bad + 1, numstr(L, s->data[bad]));
  return s;
}

/* stats.survival(steps, horizon) -> k (0..horizon), S(k). */
static int stats_survival(lua_State *L) {
  lhs_vec *s = checksteps(L);
  size_t horizon = checkcount(L, 2, "horizon", 1);
  lhs_vec *k = lhs_newvec(L, horizon + 1);
  for (size_t i = 0; i <= horizon; i++) k->data[i] = (double)i;
  lhs_vec *S = lhs_newvec(L, horizon + 1);
  hs_stats_survival(s->n, s->data, horizon, S->data);
  return 2;
}

/* stats.escape_summary(steps, horizon [, conf]) -> table (see docs/stats.md). */
static int stats_escape_summary(lua_State *L) {
  lhs_vec *s = checksteps(L);
  size_t horizon = checkcount(L, 2, "horizon", 1);
  double conf = optconf(L, 3);
  double *work = lhs_scratch(L, s->n);
  hs_stats_escape e;
  hs_stats_escape_summary(s->n, s->data, horizon, conf, conf_z(conf), work, &e);
  lua_createtable(L, 0, 18);
  setint(L, "n", e.n);
  setint(L, "escaped", e.escaped);
  setint(L, "censored", e.censored);
  setint(L, "horizon", horizon);
  setnum(L, "conf", conf);
  setnum(L, "prob", e.prob);
  setnum(L, "prob_lo", e.prob_lo);
  setnum(L, "prob_hi", e.prob_hi);
  if (e.has_mean) setnum(L, "mean", e.mean);
  if (e.has_mean_se) setnum(L, "mean_se", e.mean_se);
  setnum(L, "mean_censored", e.mean_censored);
  if (e.has_median) {
    setnum(L, "median", e.median);
    if (e.has_median_lo) {
      setnum(L, "median_lo", e.median_lo);
      setnum(L, "median_coverage", e.median_coverage);
    }
    if (e.has_median_hi) setnum(L, "median_hi", e.median_hi);
  }
  /* Why a field is missing, in words. */
  if (!e.has_mean) setstr(L, "mean_note", "no path escaped by the horizon");
  else if (!e.has_mean_se) setstr(L, "mean_note", "one path escaped: no standard error");
  if (!e.has_median)
    setstr(L, "median_note", "at most half of the paths escaped by the horizon: the "
           "median escape step is beyond it");
  else if (!e.has_median_lo)
    setstr(L, "median_note", "too few paths for a distribution-free interval at this "
           "confidence level");
  else if (!e.has_median_hi)
    setstr(L, "median_note", "the upper confidence limit of the median is beyond the "
           "horizon");
  return 1;
}

static const char *const weak_fields[] = {"conf", "paired", NULL};

/* stats.weak_error(a, b [, conf | {paired =, conf =}]) -> {diff, se, dof, lo, hi, abs,
** abs_hi, n, na, nb, paired, conf}. */
static int stats_weak_error(lua_State *L) {
  lhs_vec *a = checksample(L, 1, 2);
  lhs_vec *b = checksample(L, 2, 2);
  int paired = 0;
  double conf = 0.95;
  if (lua_type(L, 3) == LUA_TTABLE) {
    lhs_checkfields(L, 3, 3, weak_fields);
    paired = lhs_optboolfield(L, 3, 3, "paired", 0);
    conf = checkconf(L, 3, "conf", lhs_optnumfield(L, 3, 3, "conf", 0.95));
  }
  else conf = optconf(L, 3);
  if (paired && a->n != b->n)
    lhs_fielderror(L, 2, NULL, "paired samples must have equal lengths (got %I and %I)",
                   (lua_Integer)a->n, (lua_Integer)b->n);
  hs_stats_weak w;
  hs_stats_weak_error(a->n, a->data, b->n, b->data, paired, conf, &w);
  lua_createtable(L, 0, 12);
  setnum(L, "diff", w.diff);
  setnum(L, "se", w.se);
  setnum(L, "dof", w.dof);
  setnum(L, "lo", w.lo);
  setnum(L, "hi", w.hi);
  setnum(L, "abs", fabs(w.diff));
  setnum(L, "abs_hi", fmax(fabs(w.lo), fabs(w.hi)));
  setint(L, "n", paired ? a->n : a->n + b->n);
  setint(L, "na", a->n);
  setint(L, "nb", b->n);
  lua_pushboolean(L, paired);
  lua_setfield(L, -2, "paired");
  setnum(L, "conf", conf);
  return 1;
}

/* }==================================================================== */

static const luaL_Reg stats_funcs[] = {
  {"cov", stats_cov},
  {"escape_summary", stats_escape_summary},
  {"gauss_kl", stats_gauss_kl},
  {"gauss_w2", stats_gauss_w2},
  {"histogram", stats_histogram},
  {"ks", stats_ks},
  {"ks_normal", stats_ks_normal},
  {"ks_sf", stats_ks_sf},
  {"mean", stats_mean},
  {"median", stats_median},
  {"moments", stats_moments},
  {"normal_cdf", stats_normal_cdf},
  {"normal_quantile", stats_normal_quantile},
  {"quantile", stats_quantile},
  {"survival", stats_survival},
  {"t_cdf", stats_t_cdf},
  {"t_quantile", stats_t_quantile},
  {"var", stats_var},
  {"w1", stats_w1},
  {"w1_normal", stats_w1_normal},
  {"weak_error", stats_weak_error},
  {"wilson", stats_wilson},
  {NULL, NULL}
};

void lhs_open_stats(lua_State *L) {
  luaL_newlib(L, stats_funcs);
  lua_setfield(L, -2, "stats");
}
