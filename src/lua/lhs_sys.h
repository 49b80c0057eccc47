/*
** lhs_sys.h: the internal module hasme.sys (signals, limits, whole-file writes,
** directory listings, SHA-256) used by the experiment runner
*/
#ifndef HS_LHS_SYS_H
#define HS_LHS_SYS_H

#include <lua.h>

/* Register hasme.sys in package.preload, so that require "hasme.sys" finds it in
** every state that opened hasme.core; it is not a field of the hasme table. */
void lhs_open_sys(lua_State *L);

#endif
