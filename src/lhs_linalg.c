/* lhs_linalg.c: placeholder until the linear algebra binding lands (replaced whole). */
#include "lhs.h"
void lhs_open_linalg(lua_State *L) { (void)L; }
