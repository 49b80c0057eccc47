-- hasme: the public Lua API. The C runtime (hasme.core) provides the numerical
-- functions; this module re-exports them and adds the parts written in Lua.
local core = require "hasme.core"

local M = {}
for k, v in pairs(core) do M[k] = v end

return M
