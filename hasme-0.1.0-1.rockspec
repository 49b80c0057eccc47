-- hasme-0.1.0-1.rockspec: the hasme module (hasme.core in C, hasme.* in Lua), the
-- hasme executable and the documentation, built by the project's Makefile.
--   luarocks make                         (in a checkout: build and install)
--   luarocks --tree /tmp/t make           (into another tree)
-- then `eval "$(luarocks --tree /tmp/t path)"; lua5.4 -e 'require "hasme"'`.
-- The Debian packages the build needs are those of `make deps` (liblua5.4-dev,
-- liblapacke-dev, libopenblas-dev, libreadline-dev, pkg-config, gcc).
rockspec_format = "3.0"
package = "hasme"
version = "0.1.0-1"
source = {
  url = "git+file://.",
  tag = "v0.1.0",
}
description = {
  summary = "SGD simulated side by side with the SDEs that model it (SME-1, SME-2, HA-SME)",
  detailed = [[
hasme runs many paths of stochastic gradient descent and of its stochastic
modified equations (SME-1, SME-2 and the Hessian-aware HA-SME of arXiv:2405.18373)
in parallel in C, with reproducible per-path random streams, exact transitions on
quadratics, Euler-Maruyama elsewhere, escape detection and statistics, driven from
Lua 5.4.]],
  license = "MIT",
  labels = { "science", "statistics", "sde", "optimization" },
}
dependencies = {
  "lua >= 5.4, < 5.5",
}
build = {
  type = "make",
  -- The Makefile finds Lua's flags with pkg-config; LuaRocks' own include directory
  -- is passed first so that the Lua LuaRocks targets is the one compiled against.
  build_variables = {
    LUA_CFLAGS = "-I$(LUA_INCDIR)",
  },
  install_target = "rock-install",
  install_variables = {
    LUADIR = "$(LUADIR)",
    LIBDIR = "$(LIBDIR)",
    BINDIR = "$(BINDIR)",
  },
}
