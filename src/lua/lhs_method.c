/*
** lhs_method.c: the methods as Lua sees them: the `method` option (checked against
** the core's list, hs_methods), hasme.methods() and hasme.exact_moments, the closed
** forms of every method on quadratics (src/core/hs_exact.c).
*/
#include "lhs_method.h"

#include <math.h>

#include "lhs_init.h"
#include "lhs_noise.h"
#include "lhs_objective.h"
#include "lhs_vec.h"

#include "hs_exact.h"
#include "hs_method.h"
#include "hs_sim.h"   /* HS_PSD_TOL_DEFAULT */

static const hs_noise nonoise = {HS_NOISE_NONE, 0, 0.0, NULL, NULL, NULL, NULL, 1, NULL, 0, 0, 0};
static const char *const psd_names[] = {"error", "project", NULL};

/* The method option: a name from the core's list (hs_methods). */
const hs_method_type *lhs_checkmethod(lua_State *L) {
  const char *names[16];
  size_t n = 0;
  for (; hs_methods[n] != NULL && n < 15; n++) names[n] = hs_methods[n]->name;
  names[n] = NULL;
  return hs_methods[lhs_optchoicefield(L, 1, 1, "method", "sgd", names)];
}

/* {====================================================================
** hasme.exact_moments
** ===================================================================== */

/* hasme.exact_moments{objective = q, noise = n, method = m, eta = e, x0 = v, step = k,
** psd = 'error', svag_l = l}: the closed-form mean and covariance of x_k
** (docs/methods.md). A split method (SVAG) takes l steps of h = eta/l with noise
** h |w| D z per step: on a quadratic, its own recursion with learning rate h and
** covariance |w|^2 Sigma, at step k l. */
static int method_exact_moments(lua_State *L) {
  static const char *const known[] = {"objective", "noise", "method", "eta", "x0", "step",
                                      "psd", "psd_tol", "svag_l", NULL};
  luaL_checktype(L, 1, LUA_TTABLE);
  lhs_checkfields(L, 1, 1, known);
  if (lua_getfield(L, 1, "objective") == LUA_TNIL)
    lhs_fielderror(L, 1, "objective", "hasme.Objective expected, got nil");
  hs_objective *o = lhs_checkobjective(L, 2, 1, "objective");
  if (o->type != &hs_quadratic_type)
    lhs_fielderror(L, 1, "objective", "closed forms exist for quadratics (hasme.quadratic) only");
  size_t d = o->dim;
  const hs_noise *nz = &nonoise;
  if (lua_getfield(L, 1, "noise") != LUA_TNIL) nz = lhs_checknoise(L, 3, 1, "noise", d);
  if (nz->kind != HS_NOISE_NONE && nz->kind != HS_NOISE_ISO && nz->kind != HS_NOISE_CONST)
    lhs_fielderror(L, 1, "noise", "closed forms need constant Gaussian noise");
  if (lua_getfield(L, 1, "eta") == LUA_TNIL) lhs_fielderror(L, 1, "eta", "number expected, got nil");
  lua_pop(L, 1);
  hs_model m = {lhs_checkmethod(L), d,
                lhs_optnumfield(L, 1, 1, "eta", 0.0), o, nz,
                lhs_optchoicefield(L, 1, 1, "psd", "error", psd_names),
                lhs_optnumfield(L, 1, 1, "psd_tol", HS_PSD_TOL_DEFAULT)};
  if (!(m.eta > 0.0) || !isfinite(m.eta))
    lhs_fielderror(L, 1, "eta", "must be positive and finite (got %f)", (lua_Number)m.eta);
  if (lua_getfield(L, 1, "x0") == LUA_TNIL) lhs_fielderror(L, 1, "x0", "vector expected, got nil");
  lhs_vec *x0 = lhs_checkvecn_at(L, 4, 1, "x0", d);
  lua_Integer k = lhs_optintfield(L, 1, 1, "step", -1, 0, LUA_MAXINTEGER);
  if (k < 0) lhs_fielderror(L, 1, "step", "integer expected, got nil");
  double *Sigma = NULL;
  if (nz->kind != HS_NOISE_NONE) {
    Sigma = lhs_scratch(L, d * d);
    hs_objective dummy = {NULL, d, 0, 0, 1, NULL};
    hs_noise_cov(nz, &dummy, x0->data, Sigma, NULL);
  }
  lua_Integer l = lhs_optintfield(L, 1, 1, "svag_l", 0, 1, 1000000);
  if (m.method->split) {
    if (l == 0)
      lhs_fielderror(L, 1, "svag_l", "must be given for method '%s' (its steps of eta / "
                     "svag_l per step)", m.method->name);
    double w = hs_method_wnorm(m.method, (size_t)l);
    m.eta /= (double)l;
    for (size_t i = 0; Sigma != NULL && i < d * d; i++) Sigma[i] *= w * w;
    if (k > LUA_MAXINTEGER / l) lhs_fielderror(L, 1, "step", "too large for svag_l = %I", l);
    k *= l;
  }
  const hs_quadratic_params *q = o->params;
  lhs_vec *mean = lhs_newvec(L, d);
  lhs_mat *cov = lhs_newmat(L, d, d);
  hs_model_info info = {0.0, 0, NULL};
  hs_status st = hs_exact_moments(&m, q->H, q->b, Sigma, x0->data, (size_t)k, mean->data,
                                  cov->data, &info);
  if (st == HS_EDOM)
    return luaL_error(L, "exact_moments: HA-SME is undefined: eta*lambda_max = %f >= 1 "
                      "(lambda_max = %f)", (lua_Number)(m.eta * info.value), (lua_Number)info.value);
  if (st == HS_ENOTPSD)
    return luaL_error(L, "exact_moments: the HA-SME diffusion is not positive semidefinite "
                      "(eigenvalue %f); pass psd = 'project' to clip it", (lua_Number)info.value);
  if (st != HS_OK) return lhs_statuserror(L, st, "exact_moments", NULL);
  return 2;
}

/* }==================================================================== */

/* hasme.methods(): the methods the engine simulates, in order, as a list of
** {name = "hasme", label = "HA-SME", sde = true} (the core's hs_methods); a method
** that needs a parameter of its own names it (SVAG: param = "svag_l"). */
static int method_list(lua_State *L) {
  lua_newtable(L);
  for (size_t i = 0; hs_methods[i] != NULL; i++) {
    lua_createtable(L, 0, 3);
    lua_pushstring(L, hs_methods[i]->name);
    lua_setfield(L, -2, "name");
    lua_pushstring(L, hs_methods[i]->label);
    lua_setfield(L, -2, "label");
    lua_pushboolean(L, hs_methods[i]->is_sde);
    lua_setfield(L, -2, "sde");
    if (hs_methods[i]->split) {
      lua_pushliteral(L, "svag_l");
      lua_setfield(L, -2, "param");
    }
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  return 1;
}

void lhs_open_method(lua_State *L) {
  lua_pushcfunction(L, method_exact_moments);
  lua_setfield(L, -2, "exact_moments");
  lua_pushcfunction(L, method_list);
  lua_setfield(L, -2, "methods");
}
