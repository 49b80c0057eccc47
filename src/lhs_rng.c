/* lhs_rng.c: placeholder until the RNG binding lands (replaced whole). */
#include "lhs.h"
void lhs_open_rng(lua_State *L) { (void)L; }
