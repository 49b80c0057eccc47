/*
** lhs_vec.c: hasme.Vec and hasme.Mat, userdata over contiguous doubles, with 1-based
** indexing, arithmetic, conversion from plain Lua tables, and printing.
*/
#include "lhs_vec.h"
#include "lhs_init.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "hs_linalg.h"

/* {====================================================================
** Construction and conversion
** ===================================================================== */

/* The largest vector or matrix: HS_MAXSIZE bytes of doubles (2^37 elements, 1 TiB). */
#define MAXELEMS (HS_MAXSIZE / sizeof(double))

static size_t checkbytes(lua_State *L, size_t count) {
  size_t bytes = 0;
  if (count > MAXELEMS || !hs_mulsize(count, sizeof(double), &bytes))
    lhs_error(L, "cannot allocate %I doubles: a vector or matrix holds at most 2^37 = %I "
              "elements (1 TiB)", (lua_Integer)count, (lua_Integer)MAXELEMS);
  return bytes;
}

/* lua_newuserdatauv in protection: arguments size (light userdata) and nuv. */
static int allocblock(lua_State *L) {
  size_t size = (size_t)(uintptr_t)lua_touserdata(L, 1);
  lua_newuserdatauv(L, size, (int)lua_tointeger(L, 2));
  return 1;
}

/* A userdata of size bytes. A large block that the memory cannot hold is reported
** with its size and the function that asked for it, not as a bare "not enough
** memory"; small ones are allocated directly (no protected call on the hot path). */
#define BIGBLOCK ((size_t)1 << 26)

static void *newblock(lua_State *L, size_t size, int nuv, size_t count) {
  if (size < BIGBLOCK) return lua_newuserdatauv(L, size, nuv);
  lua_pushcfunction(L, allocblock);
  lua_pushlightuserdata(L, (void *)(uintptr_t)size);
  lua_pushinteger(L, nuv);
  int st = lua_pcall(L, 2, 1, 0);
  if (st == LUA_ERRMEM)
    lhs_error(L, "cannot allocate %I doubles (%I MiB): not enough memory", (lua_Integer)count,
              (lua_Integer)(size >> 20));
  if (st != LUA_OK) lua_error(L);
  return lua_touserdata(L, -1);
}

lhs_vec *lhs_newvec(lua_State *L, size_t n) {
  size_t bytes = checkbytes(L, n);
  lhs_vec *v = (lhs_vec *)newblock(L, sizeof(lhs_vec) + bytes, 1, n);
  v->n = n;
  v->data = v->own;
  if (bytes > 0) memset(v->own, 0, bytes);
  luaL_setmetatable(L, LHS_VEC);
  return v;
}

lhs_mat *lhs_newmat(lua_State *L, size_t rows, size_t cols) {
  size_t count = 0;
  if (rows > HS_MAXSIZE || cols > HS_MAXSIZE || !hs_mulsize(rows, cols, &count))
    lhs_error(L, "a matrix of %I x %I elements is too large (at most 2^37 = %I elements, "
              "1 TiB)", (lua_Integer)rows, (lua_Integer)cols, (lua_Integer)MAXELEMS);
  size_t bytes = checkbytes(L, count);
  lhs_mat *m = (lhs_mat *)newblock(L, sizeof(lhs_mat) + bytes, 0, count);
  m->rows = rows;
  m->cols = cols;
  m->data = m->own;
  if (bytes > 0) memset(m->own, 0, bytes);
  luaL_setmetatable(L, LHS_MAT);
  return m;
}

lhs_vec *lhs_pushvec(lua_State *L, const double *x, size_t n) {
  lhs_vec *v = lhs_newvec(L, n);
  if (n > 0) memcpy(v->data, x, n * sizeof(double));
  return v;
}

lhs_mat *lhs_pushmat(lua_State *L, const double *a, size_t rows, size_t cols) {
  lhs_mat *m = lhs_newmat(L, rows, cols);
  if (rows * cols > 0) memcpy(m->data, a, rows * cols * sizeof(double));
  return m;
}

lhs_vec *lhs_tovec(lua_State *L, int idx) {
  return (lhs_vec *)luaL_testudata(L, idx, LHS_VEC);
}

lhs_mat *lhs_tomat(lua_State *L, int idx) {
  return (lhs_mat *)luaL_testudata(L, idx, LHS_MAT);
}

/* Read element i (1-based) of the table at idx as a number, or raise naming where. */
static double tablenumber(lua_State *L, int idx, lua_Integer i, int arg,
                          const char *field, lua_Integer row) {
  int isnum;
  lua_geti(L, idx, i);
  double x = (double)lua_tonumberx(L, -1, &isnum);
  if (!isnum) {
    if (row > 0)
      lhs_fielderror(L, arg, field, "number expected at [%I][%I], got %s", row, i,
                     luaL_typename(L, -1));
    lhs_fielderror(L, arg, field, "number expected at index %I, got %s", i,
                   luaL_typename(L, -1));
  }
  lua_pop(L, 1);
  return x;
}

/* The length of the table at idx (its __len when it has one), checked to be a size. */
static lua_Integer tablelen(lua_State *L, int idx, int arg, const char *field,
                            lua_Integer row) {
  lua_Integer n = luaL_len(L, idx);
  if (n < 0 || (lua_Unsigned)n > (lua_Unsigned)MAXELEMS) {
    if (row > 0)
      lhs_fielderror(L, arg, field, "row %I has an invalid length %I", row, n);
    lhs_fielderror(L, arg, field, "table has an invalid length %I", n);
  }
  return n;
}

lhs_vec *lhs_checkvec_at(lua_State *L, int idx, int arg, const char *field) {
  lhs_vec *v = lhs_tovec(L, idx);
  if (v != NULL) return v;
  if (lua_type(L, idx) != LUA_TTABLE)
    lhs_fielderror(L, arg, field, "vector expected (hasme.Vec or table of numbers), got %s",
                   luaL_typename(L, idx));
  lua_Integer n = tablelen(L, idx, arg, field, 0);
  v = lhs_newvec(L, (size_t)n);
  for (lua_Integer i = 1; i <= n; i++)
    v->data[i - 1] = tablenumber(L, idx, i, arg, field, 0);
  lua_replace(L, idx);
  return v;
}

lhs_mat *lhs_checkmat_at(lua_State *L, int idx, int arg, const char *field) {
  lhs_mat *m = lhs_tomat(L, idx);
  if (m != NULL) return m;
  if (lua_type(L, idx) != LUA_TTABLE)
    lhs_fielderror(L, arg, field, "matrix expected (hasme.Mat or table of rows), got %s",
                   luaL_typename(L, idx));
  lua_Integer rows = tablelen(L, idx, arg, field, 0);
  lua_Integer cols = 0;
  /* First pass: shapes only, so a ragged table is reported before allocation. */
  for (lua_Integer i = 1; i <= rows; i++) {
    lua_geti(L, idx, i);
    lua_Integer len;
    lhs_vec *rv = lhs_tovec(L, -1);
    if (rv != NULL) len = (lua_Integer)rv->n;
    else if (lua_type(L, -1) == LUA_TTABLE) len = tablelen(L, lua_gettop(L), arg, field, i);
    else
      lhs_fielderror(L, arg, field, "row %I: table or hasme.Vec expected, got %s", i,
                     luaL_typename(L, -1));
    lua_pop(L, 1);
    if (i == 1) cols = len;
    else if (len != cols)
      lhs_fielderror(L, arg, field, "ragged matrix: row %I has %I entries, row 1 has %I",
                     i, len, cols);
  }
  m = lhs_newmat(L, (size_t)rows, (size_t)cols);
  int mi = lua_gettop(L);
  for (lua_Integer i = 1; i <= rows; i++) {
    lua_geti(L, idx, i);
    lhs_vec *rv = lhs_tovec(L, -1);
    double *dst = m->data + (size_t)(i - 1) * (size_t)cols;
    /* A row served by a metamethod may differ from the first pass: check again. */
    if (rv != NULL && rv->n != (size_t)cols)
      lhs_fielderror(L, arg, field, "row %I changed length while being read (%I, then %I)",
                     i, cols, (lua_Integer)rv->n);
    if (rv == NULL && lua_type(L, -1) != LUA_TTABLE)
      lhs_fielderror(L, arg, field, "row %I changed type while being read (now %s)", i,
                     luaL_typename(L, -1));
    if (rv != NULL) memcpy(dst, rv->data, (size_t)cols * sizeof(double));
    else
      for (lua_Integer j = 1; j <= cols; j++)
        dst[j - 1] = tablenumber(L, lua_gettop(L), j, arg, field, i);
    lua_pop(L, 1);
  }
  lua_pushvalue(L, mi);
  lua_replace(L, idx);
  lua_settop(L, mi - 1);
  return m;
}

lhs_vec *lhs_checkvec(lua_State *L, int arg) {
  return lhs_checkvec_at(L, lua_absindex(L, arg), arg, NULL);
}

lhs_mat *lhs_checkmat(lua_State *L, int arg) {
  return lhs_checkmat_at(L, lua_absindex(L, arg), arg, NULL);
}

lhs_vec *lhs_checkvecn_at(lua_State *L, int idx, int arg, const char *field, size_t n) {
  lhs_vec *v = lhs_checkvec_at(L, idx, arg, field);
  if (n > 0 && v->n != n)
    lhs_fielderror(L, arg, field, "vector of length %I expected, got length %I",
                   (lua_Integer)n, (lua_Integer)v->n);
  return v;
}

lhs_mat *lhs_checksquare_at(lua_State *L, int idx, int arg, const char *field, size_t n) {
  lhs_mat *m = lhs_checkmat_at(L, idx, arg, field);
  if (m->rows != m->cols)
    lhs_fielderror(L, arg, field, "square matrix expected, got %Ix%I",
                   (lua_Integer)m->rows, (lua_Integer)m->cols);
  if (n > 0 && m->rows != n)
    lhs_fielderror(L, arg, field, "%Ix%I matrix expected, got %Ix%I", (lua_Integer)n,
                   (lua_Integer)n, (lua_Integer)m->rows, (lua_Integer)m->cols);
  return m;
}

/* }==================================================================== */

/* {====================================================================
** Constructors exposed to Lua
** ===================================================================== */

/* hasme.vec(t | n | v): from a table of numbers, n zeros, or a copy. */
static int vec_new(lua_State *L) {
  if (lua_type(L, 1) == LUA_TNUMBER) {
    lhs_newvec(L, lhs_checksize(L, 1));
    return 1;
  }
  lhs_vec *v = lhs_checkvec(L, 1);
  lhs_pushvec(L, v->data, v->n);
  return 1;
}

/* hasme.mat(t | rows, cols | m): from a table of rows, zeros, or a copy. */
static int mat_new(lua_State *L) {
  if (lua_type(L, 1) == LUA_TNUMBER) {
    size_t rows = lhs_checksize(L, 1);
    size_t cols = lhs_checksize(L, 2);
    lhs_newmat(L, rows, cols);
    return 1;
  }
  lhs_mat *m = lhs_checkmat(L, 1);
  lhs_pushmat(L, m->data, m->rows, m->cols);
  return 1;
}

/* hasme.eye(n): the identity. */
static int mat_eye(lua_State *L) {
  size_t n = lhs_checksize(L, 1);
  lhs_mat *m = lhs_newmat(L, n, n);
  for (size_t i = 0; i < n; i++) m->data[i * n + i] = 1.0;
  return 1;
}

/* hasme.diag(v): the diagonal matrix with v on its diagonal; hasme.diag(m): the
** diagonal of m as a vector. */
static int mat_diag(lua_State *L) {
  lhs_mat *m = lhs_tomat(L, 1);
  if (m != NULL) {
    size_t n = m->rows < m->cols ? m->rows : m->cols;
    lhs_vec *d = lhs_newvec(L, n);
    for (size_t i = 0; i < n; i++) d->data[i] = m->data[i * m->cols + i];
    return 1;
  }
  lhs_vec *v = lhs_checkvec(L, 1);
  lhs_mat *r = lhs_newmat(L, v->n, v->n);
  for (size_t i = 0; i < v->n; i++) r->data[i * v->n + i] = v->data[i];
  return 1;
}

/* hasme.linspace(a, b, n): n evenly spaced values from a to b inclusive. */
static int vec_linspace(lua_State *L) {
  double a = luaL_checknumber(L, 1);
  double b = luaL_checknumber(L, 2);
  size_t n = lhs_checksize(L, 3);
  lhs_vec *v = lhs_newvec(L, n);
  for (size_t i = 0; i < n; i++)
    v->data[i] = n == 1 ? a : a + (b - a) * (double)i / (double)(n - 1);
  if (n > 1) v->data[n - 1] = b;
  return 1;
}

/* }==================================================================== */

/* {====================================================================
** Printing
** ===================================================================== */

/* Append x to b in a short readable form (6 significant digits, integers plainly). */
static void addnumber(luaL_Buffer *b, double x) {
  char buf[64];
  int len;
  if (x == floor(x) && fabs(x) < 1e15) len = snprintf(buf, sizeof buf, "%.0f", x);
  else len = snprintf(buf, sizeof buf, "%.6g", x);
  if (len > 0 && buf[0] == '-' && buf[1] == '0' && buf[2] == '\0') len = 1, buf[0] = '0';
  luaL_addlstring(b, buf, (size_t)len);
}

#define PRINT_MAX 64   /* elements shown before a vector is abbreviated */

static int vec_tostring(lua_State *L) {
  lhs_vec *v = luaL_checkudata(L, 1, LHS_VEC);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  luaL_addstring(&b, "vec{");
  for (size_t i = 0; i < v->n; i++) {
    if (i > 0) luaL_addstring(&b, ", ");
    if (v->n > PRINT_MAX && i == PRINT_MAX / 2) {
      lua_pushfstring(L, "... (%I entries) ...", (lua_Integer)v->n);
      luaL_addvalue(&b);
      i = v->n - PRINT_MAX / 2 - 1;
      continue;
    }
    addnumber(&b, v->data[i]);
  }
  luaL_addchar(&b, '}');
  luaL_pushresult(&b);
  return 1;
}

/* Matrices print one row per line with columns aligned:
**   mat 2x2
**     1  0.5
**     0    2                                                            */
static int mat_tostring(lua_State *L) {
  lhs_mat *m = luaL_checkudata(L, 1, LHS_MAT);
  size_t rows = m->rows, cols = m->cols;
  if (rows == 0 || cols == 0) {   /* nothing to show (and no loop over 2^40 empty rows) */
    lua_pushfstring(L, "mat %Ix%I", (lua_Integer)rows, (lua_Integer)cols);
    return 1;
  }
  size_t showr = rows > PRINT_MAX / 2 ? 10 : rows;
  size_t showc = cols > 16 ? 8 : cols;
  int width = 1;
  char buf[64];
  for (size_t i = 0; i < rows; i++)
    for (size_t j = 0; j < cols; j++) {
      double x = m->data[i * cols + j];
      int len = (x == floor(x) && fabs(x) < 1e15) ? snprintf(buf, sizeof buf, "%.0f", x)
                                                   : snprintf(buf, sizeof buf, "%.6g", x);
      if (len > width) width = len;
    }
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  lua_pushfstring(L, "mat %Ix%I", (lua_Integer)rows, (lua_Integer)cols);
  luaL_addvalue(&b);
  for (size_t i = 0; i < rows; i++) {
    if (showr < rows && i == showr / 2) {
      luaL_addstring(&b, "\n  ...");
      i = rows - showr / 2 - 1;
      continue;
    }
    luaL_addstring(&b, "\n ");
    for (size_t j = 0; j < cols; j++) {
      if (showc < cols && j == showc / 2) {
        luaL_addstring(&b, "  ...");
        j = cols - showc / 2 - 1;
        continue;
      }
      double x = m->data[i * cols + j];
      if (x == 0.0) x = 0.0;  /* no "-0" */
      int len = (x == floor(x) && fabs(x) < 1e15) ? snprintf(buf, sizeof buf, "%.0f", x)
                                                   : snprintf(buf, sizeof buf, "%.6g", x);
      luaL_addchar(&b, ' ');
      for (int k = len; k < width; k++) luaL_addchar(&b, ' ');
      luaL_addlstring(&b, buf, (size_t)len);
    }
  }
  luaL_pushresult(&b);
  return 1;
}

/* }==================================================================== */

/* {====================================================================
** Element access
** ===================================================================== */

/* Convert a Lua index to 0-based, checking 1 <= i <= n. */
static size_t checkindex(lua_State *L, int idx, size_t n, const char *what) {
  int isint;
  lua_Integer i = lua_tointegerx(L, idx, &isint);
  if (!isint) {
    if (lua_type(L, idx) == LUA_TNUMBER)
      luaL_error(L, "%s index must be an integer (got %s)", what, lua_tostring(L, idx));
    luaL_error(L, "%s index must be an integer (got %s)", what, luaL_typename(L, idx));
  }
  if (i < 1 || (lua_Unsigned)i > (lua_Unsigned)n)
    luaL_error(L, "%s index %I out of range [1, %I]", what, i, (lua_Integer)n);
  return (size_t)(i - 1);
}

/* v[i] reads an element; v.name finds a method (the method table is upvalue 1). */
static int vec_index(lua_State *L) {
  lhs_vec *v = (lhs_vec *)lhs_checkself(L, 2, LHS_VEC);
  if (lua_type(L, 2) == LUA_TNUMBER) {
    lua_pushnumber(L, (lua_Number)v->data[checkindex(L, 2, v->n, "vector")]);
    return 1;
  }
  lua_pushvalue(L, 2);
  lua_rawget(L, lua_upvalueindex(1));
  return 1;
}

static int vec_newindex(lua_State *L) {
  lhs_vec *v = (lhs_vec *)lhs_checkself(L, 1, LHS_VEC);
  if (lua_type(L, 2) != LUA_TNUMBER)
    return luaL_error(L, "cannot set field '%s' of a vector (only integer indices)",
                      luaL_tolstring(L, 2, NULL));
  size_t i = checkindex(L, 2, v->n, "vector");
  int isnum;
  double x = (double)lua_tonumberx(L, 3, &isnum);
  if (!isnum)
    return luaL_error(L, "vector element must be a number (got %s)", luaL_typename(L, 3));
  v->data[i] = x;
  return 0;
}

/* m[i] is a view of row i that writes through to m. */
static int mat_index(lua_State *L) {
  lhs_mat *m = (lhs_mat *)lhs_checkself(L, 2, LHS_MAT);
  if (lua_type(L, 2) == LUA_TNUMBER) {
    size_t i = checkindex(L, 2, m->rows, "row");
    lhs_vec *row = (lhs_vec *)lua_newuserdatauv(L, sizeof(lhs_vec), 1);
    row->n = m->cols;
    row->data = m->data + i * m->cols;
    luaL_setmetatable(L, LHS_VEC);
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, -2, 1);  /* pin the parent matrix */
    return 1;
  }
  lua_pushvalue(L, 2);
  lua_rawget(L, lua_upvalueindex(1));
  return 1;
}

/* m[i] = row (a table or vector of matching length) copies into row i. */
static int mat_newindex(lua_State *L) {
  lhs_mat *m = (lhs_mat *)lhs_checkself(L, 1, LHS_MAT);
  if (lua_type(L, 2) != LUA_TNUMBER)
    return luaL_error(L, "cannot set field '%s' of a matrix (only row indices)",
                      luaL_tolstring(L, 2, NULL));
  size_t i = checkindex(L, 2, m->rows, "row");
  lhs_vec *r = lhs_checkvec(L, 3);
  if (r->n != m->cols)
    return luaL_error(L, "row of length %I assigned to a matrix with %I columns",
                      (lua_Integer)r->n, (lua_Integer)m->cols);
  memmove(m->data + i * m->cols, r->data, m->cols * sizeof(double));
  return 0;
}

static int vec_len(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)((lhs_vec *)lhs_checkself(L, 1, LHS_VEC))->n);
  return 1;
}

static int mat_len(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)((lhs_mat *)lhs_checkself(L, 1, LHS_MAT))->rows);
  return 1;
}

static int mat_rows(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)((lhs_mat *)luaL_checkudata(L, 1, LHS_MAT))->rows);
  return 1;
}

static int mat_cols(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)((lhs_mat *)luaL_checkudata(L, 1, LHS_MAT))->cols);
  return 1;
}

static int vec_totable(lua_State *L) {
  lhs_vec *v = luaL_checkudata(L, 1, LHS_VEC);
  lua_createtable(L, (int)(v->n < (size_t)INT32_MAX ? v->n : 0), 0);
  for (size_t i = 0; i < v->n; i++) {
    lua_pushnumber(L, (lua_Number)v->data[i]);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  return 1;
}

static int mat_totable(lua_State *L) {
  lhs_mat *m = luaL_checkudata(L, 1, LHS_MAT);
  luaL_argcheck(L, m->rows <= (size_t)INT32_MAX, 1,
                "matrix has too many rows for a Lua table (at most 2^31 - 1)");
  lua_createtable(L, (int)(m->rows < (size_t)INT32_MAX ? m->rows : 0), 0);
  for (size_t i = 0; i < m->rows; i++) {
    lua_createtable(L, (int)(m->cols < (size_t)INT32_MAX ? m->cols : 0), 0);
    for (size_t j = 0; j < m->cols; j++) {
      lua_pushnumber(L, (lua_Number)m->data[i * m->cols + j]);
      lua_rawseti(L, -2, (lua_Integer)j + 1);
    }
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  return 1;
}

static int vec_copy(lua_State *L) {
  lhs_vec *v = luaL_checkudata(L, 1, LHS_VEC);
  lhs_pushvec(L, v->data, v->n);
  return 1;
}

static int mat_copy(lua_State *L) {
  lhs_mat *m = luaL_checkudata(L, 1, LHS_MAT);
  lhs_pushmat(L, m->data, m->rows, m->cols);
  return 1;
}

/* }==================================================================== */

/* {====================================================================
** Arithmetic
**
** Operands may be vectors, matrices, numbers or plain tables (converted as a vector
** when their first element is a number, as a matrix otherwise).
** ===================================================================== */

enum { K_NUM, K_VEC, K_MAT };

/* Classify operand idx, converting a table in place. */
static int operand(lua_State *L, int idx, const char *op) {
  if (lua_type(L, idx) == LUA_TNUMBER) return K_NUM;
  if (lhs_tovec(L, idx) != NULL) return K_VEC;
  if (lhs_tomat(L, idx) != NULL) return K_MAT;
  if (lua_type(L, idx) == LUA_TTABLE) {
    int t = lua_geti(L, idx, 1);
    lua_pop(L, 1);
    if (t == LUA_TTABLE || lhs_tovec(L, -1) != NULL) {
      lhs_checkmat_at(L, idx, idx, NULL);
      return K_MAT;
    }
    lhs_checkvec_at(L, idx, idx, NULL);
    return K_VEC;
  }
  return luaL_error(L, "attempt to %s a %s value with a vector or matrix", op,
                    luaL_typename(L, idx));
}

static const char *shape(lua_State *L, int idx, int kind) {
  if (kind == K_VEC)
    return lua_pushfstring(L, "vec(%I)", (lua_Integer)lhs_tovec(L, idx)->n);
  if (kind == K_MAT) {
    lhs_mat *m = lhs_tomat(L, idx);
    return lua_pushfstring(L, "mat(%Ix%I)", (lua_Integer)m->rows, (lua_Integer)m->cols);
  }
  return "number";
}

static int shapeerror(lua_State *L, const char *op, int ka, int kb) {
  const char *a = shape(L, 1, ka);
  const char *b = shape(L, 2, kb);
  return luaL_error(L, "shape mismatch: cannot %s %s and %s", op, a, b);
}

/* Element-wise a + s*b for two operands of the same shape. */
static int addsub(lua_State *L, double s, const char *op) {
  int ka = operand(L, 1, op), kb = operand(L, 2, op);
  if (ka != kb || ka == K_NUM) return shapeerror(L, op, ka, kb);
  const double *x, *y;
  double *z;
  size_t n;
  if (ka == K_VEC) {
    lhs_vec *a = lhs_tovec(L, 1), *b = lhs_tovec(L, 2);
    if (a->n != b->n) return shapeerror(L, op, ka, kb);
    n = a->n; x = a->data; y = b->data;
    z = lhs_newvec(L, n)->data;
  }
  else {
    lhs_mat *a = lhs_tomat(L, 1), *b = lhs_tomat(L, 2);
    if (a->rows != b->rows || a->cols != b->cols) return shapeerror(L, op, ka, kb);
    n = a->rows * a->cols; x = a->data; y = b->data;
    z = lhs_newmat(L, a->rows, a->cols)->data;
  }
  for (size_t i = 0; i < n; i++) z[i] = x[i] + s * y[i];
  return 1;
}

static int arith_add(lua_State *L) { return addsub(L, 1.0, "add"); }
static int arith_sub(lua_State *L) { return addsub(L, -1.0, "subtract"); }

/* Push s * (the vector or matrix at idx). */
static void pushscaled(lua_State *L, int idx, int kind, double s) {
  if (kind == K_VEC) {
    lhs_vec *a = lhs_tovec(L, idx);
    double *z = lhs_newvec(L, a->n)->data;
    for (size_t i = 0; i < a->n; i++) z[i] = s * a->data[i];
  }
  else {
    lhs_mat *a = lhs_tomat(L, idx);
    double *z = lhs_newmat(L, a->rows, a->cols)->data;
    for (size_t i = 0; i < a->rows * a->cols; i++) z[i] = s * a->data[i];
  }
}

static int arith_unm(lua_State *L) {
  int k = lhs_tovec(L, 1) != NULL ? K_VEC : lhs_tomat(L, 1) != NULL ? K_MAT : K_NUM;
  if (k == K_NUM)
    return luaL_error(L, "attempt to negate a %s value as a vector or matrix",
                      luaL_typename(L, 1));
  pushscaled(L, 1, k, -1.0);
  return 1;
}

/* s*v, v*s, s*m, m*s, m*v, m*m. v*v is refused: use v:dot(w). */
static int arith_mul(lua_State *L) {
  int ka = operand(L, 1, "multiply"), kb = operand(L, 2, "multiply");
  if (ka == K_NUM && kb == K_NUM)
    return luaL_error(L, "attempt to multiply two numbers as vectors or matrices");
  if (ka == K_NUM) { pushscaled(L, 2, kb, (double)lua_tonumber(L, 1)); return 1; }
  if (kb == K_NUM) { pushscaled(L, 1, ka, (double)lua_tonumber(L, 2)); return 1; }
  if (ka == K_MAT && kb == K_VEC) {
    lhs_mat *a = lhs_tomat(L, 1);
    lhs_vec *x = lhs_tovec(L, 2);
    if (a->cols != x->n) return shapeerror(L, "multiply", ka, kb);
    lhs_vec *y = lhs_newvec(L, a->rows);
    hs_gemv(a->rows, a->cols, 1.0, a->data, x->data, 0.0, y->data);
    return 1;
  }
  if (ka == K_MAT && kb == K_MAT) {
    lhs_mat *a = lhs_tomat(L, 1), *b = lhs_tomat(L, 2);
    if (a->cols != b->rows) return shapeerror(L, "multiply", ka, kb);
    lhs_mat *c = lhs_newmat(L, a->rows, b->cols);
    hs_gemm(a->rows, a->cols, b->cols, a->data, b->data, c->data);
    return 1;
  }
  if (ka == K_VEC && kb == K_VEC)
    return luaL_error(L, "cannot multiply two vectors (use v:dot(w) or v:outer(w))");
  return shapeerror(L, "multiply", ka, kb);
}

static int arith_div(lua_State *L) {
  int ka = operand(L, 1, "divide");
  if (ka == K_NUM || lua_type(L, 2) != LUA_TNUMBER)
    return luaL_error(L, "only division of a vector or matrix by a number is defined");
  pushscaled(L, 1, ka, 1.0 / (double)lua_tonumber(L, 2));
  return 1;
}

/* v == w and m == n compare shapes and elements exactly. */
static int arith_eq(lua_State *L) {
  lhs_vec *a = lhs_tovec(L, 1), *b = lhs_tovec(L, 2);
  if (a != NULL && b != NULL) {
    int eq = a->n == b->n;
    for (size_t i = 0; eq && i < a->n; i++) eq = a->data[i] == b->data[i];
    lua_pushboolean(L, eq);
    return 1;
  }
  lhs_mat *m = lhs_tomat(L, 1), *n = lhs_tomat(L, 2);
  int eq = m != NULL && n != NULL && m->rows == n->rows && m->cols == n->cols;
  for (size_t i = 0; eq && i < m->rows * m->cols; i++) eq = m->data[i] == n->data[i];
  lua_pushboolean(L, eq);
  return 1;
}

static int vec_dot(lua_State *L) {
  lhs_vec *a = luaL_checkudata(L, 1, LHS_VEC);
  lhs_vec *b = lhs_checkvec(L, 2);
  luaL_argcheck(L, a->n == b->n, 2,
                lua_pushfstring(L, "length %I does not match length %I", (lua_Integer)b->n,
                                (lua_Integer)a->n));
  lua_pushnumber(L, (lua_Number)hs_dot(a->n, a->data, b->data));
  return 1;
}

/* v:norm([p]): the p-norm (p = 2 by default; 1, or math.huge for the max norm). */
static int vec_norm(lua_State *L) {
  lhs_vec *a = luaL_checkudata(L, 1, LHS_VEC);
  double p = (double)luaL_optnumber(L, 2, 2.0);
  luaL_argcheck(L, p >= 1.0, 2, "p must be at least 1");
  double r = 0.0;
  if (p == 2.0) r = hs_nrm2(a->n, a->data);
  else if (isinf(p)) for (size_t i = 0; i < a->n; i++) r = fmax(r, fabs(a->data[i]));
  else {
    for (size_t i = 0; i < a->n; i++) r += pow(fabs(a->data[i]), p);
    r = pow(r, 1.0 / p);
  }
  lua_pushnumber(L, (lua_Number)r);
  return 1;
}

static int vec_sum(lua_State *L) {
  lhs_vec *a = luaL_checkudata(L, 1, LHS_VEC);
  double s = 0.0;
  for (size_t i = 0; i < a->n; i++) s += a->data[i];
  lua_pushnumber(L, (lua_Number)s);
  return 1;
}

/* v:outer(w): the matrix v w'. */
static int vec_outer(lua_State *L) {
  lhs_vec *a = luaL_checkudata(L, 1, LHS_VEC);
  lhs_vec *b = lhs_checkvec(L, 2);
  lhs_mat *m = lhs_newmat(L, a->n, b->n);
  for (size_t i = 0; i < a->n; i++)
    for (size_t j = 0; j < b->n; j++) m->data[i * b->n + j] = a->data[i] * b->data[j];
  return 1;
}

static int mat_t(lua_State *L) {
  lhs_mat *a = luaL_checkudata(L, 1, LHS_MAT);
  lhs_mat *t = lhs_newmat(L, a->cols, a->rows);
  if (a->cols > 0)   /* no loop over the rows of an empty matrix */
    for (size_t i = 0; i < a->rows; i++)
      for (size_t j = 0; j < a->cols; j++)
        t->data[j * a->rows + i] = a->data[i * a->cols + j];
  return 1;
}

/* m:norm(): the Frobenius norm. */
static int mat_norm(lua_State *L) {
  lhs_mat *a = luaL_checkudata(L, 1, LHS_MAT);
  lua_pushnumber(L, (lua_Number)hs_nrm2(a->rows * a->cols, a->data));
  return 1;
}

static int mat_trace(lua_State *L) {
  lhs_mat *a = luaL_checkudata(L, 1, LHS_MAT);
  luaL_argcheck(L, a->rows == a->cols, 1, "square matrix expected");
  double s = 0.0;
  for (size_t i = 0; i < a->rows; i++) s += a->data[i * a->cols + i];
  lua_pushnumber(L, (lua_Number)s);
  return 1;
}

/* m:col(j): a copy of column j. (Rows are views: m[i].) */
static int mat_col(lua_State *L) {
  lhs_mat *a = luaL_checkudata(L, 1, LHS_MAT);
  lua_Integer j = luaL_checkinteger(L, 2);
  luaL_argcheck(L, j >= 1 && (lua_Unsigned)j <= (lua_Unsigned)a->cols, 2,
                "column index out of range");
  lhs_vec *c = lhs_newvec(L, a->rows);
  for (size_t i = 0; i < a->rows; i++) c->data[i] = a->data[i * a->cols + (size_t)(j - 1)];
  return 1;
}

/* }==================================================================== */

static const luaL_Reg vec_methods[] = {
  {"copy", vec_copy},
  {"dot", vec_dot},
  {"norm", vec_norm},
  {"outer", vec_outer},
  {"sum", vec_sum},
  {"totable", vec_totable},
  {NULL, NULL}
};

static const luaL_Reg mat_methods[] = {
  {"col", mat_col},
  {"cols", mat_cols},
  {"copy", mat_copy},
  {"norm", mat_norm},
  {"rows", mat_rows},
  {"t", mat_t},
  {"totable", mat_totable},
  {"trace", mat_trace},
  {NULL, NULL}
};

static const luaL_Reg vec_funcs[] = {
  {"diag", mat_diag},
  {"eye", mat_eye},
  {"linspace", vec_linspace},
  {"mat", mat_new},
  {"vec", vec_new},
  {NULL, NULL}
};

static const luaL_Reg vec_meta[] = {
  {"__add", arith_add}, {"__sub", arith_sub}, {"__mul", arith_mul}, {"__div", arith_div},
  {"__unm", arith_unm}, {"__eq", arith_eq},
  {"__index", vec_index}, {"__newindex", vec_newindex}, {"__len", vec_len},
  {"__tostring", vec_tostring},
  {NULL, NULL}
};

static const luaL_Reg mat_meta[] = {
  {"__add", arith_add}, {"__sub", arith_sub}, {"__mul", arith_mul}, {"__div", arith_div},
  {"__unm", arith_unm}, {"__eq", arith_eq},
  {"__index", mat_index}, {"__newindex", mat_newindex}, {"__len", mat_len},
  {"__tostring", mat_tostring},
  {NULL, NULL}
};

void lhs_open_vec(lua_State *L) {
  lhs_newclass(L, LHS_VEC, vec_methods, vec_meta);
  lhs_newclass(L, LHS_MAT, mat_methods, mat_meta);
  luaL_setfuncs(L, vec_funcs, 0);
}
