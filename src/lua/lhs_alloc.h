/*
** lhs_alloc.h: interpreter states with hasme's pool allocator
*/
#ifndef HS_LHS_ALLOC_H
#define HS_LHS_ALLOC_H

#include <lua.h>

/* A new state that allocates from its own pool of small blocks (lhs_alloc.c), with a
** panic function and lua5.4's warning behaviour; close it with lhs_closestate.
** NULL when out of memory. */
lua_State *lhs_newstate(void);
void lhs_closestate(lua_State *L);

#endif
