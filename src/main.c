/* main.c: placeholder executable until the real one lands (replaced whole). */
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>
#include "lhs.h"
int main(int argc, char **argv) {
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, luaopen_hasme_core);
  lua_setfield(L, -2, "hasme.core");
  lua_pop(L, 1);
  luaL_dostring(L, "package.path = 'lua/?.lua;lua/?/init.lua;' .. package.path");
  lua_createtable(L, argc, 0);
  for (int i = 0; i < argc; i++) { lua_pushstring(L, argv[i]); lua_rawseti(L, -2, i - 1); }
  lua_setglobal(L, "arg");
  int rc = argc > 1 ? luaL_dofile(L, argv[1]) : 0;
  if (rc) fprintf(stderr, "%s\n", lua_tostring(L, -1));
  lua_close(L);
  return rc;
}
