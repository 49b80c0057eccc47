# hasme: single, non-recursive makefile.
#
#   make            build build/hasme (executable) and build/lib/hasme/core.so (module)
#   make test       build and run every C and Lua test; ends with "N passed, N failed"
#   make test SAN=1 the same, built with AddressSanitizer + UndefinedBehaviorSanitizer
#   make test TSAN=1 the same, built with ThreadSanitizer (build/tsan)
#   make test-mpi   only the MPI tests (tests/mpi, under mpirun --oversubscribe)
#   make fuzz N=..  a long fuzzing campaign of the Lua API (tools/fuzz.lua)
#   make check-all  all of the above plus valgrind (docs/testing.md)
#   make run        run the flagship experiments
#   make bench      benchmarks against the NumPy peer
#   make deps       install the Debian packages hasme needs (apt-get; sudo when not root)
#   make install PREFIX=/usr/local
#   make clean

# ---- change the settings below -------------------------------------------------
PREFIX   ?= /usr/local
CC       ?= gcc
# -fvect-cost-model=dynamic lets -O2 vectorise the loops over the paths of a block;
# -fno-math-errno lets sqrt compile to an instruction (hasme never reads errno from
# libm). Neither changes a result: ISO C mode still forbids reassociation and FMA
# contraction, so vector code computes exactly what scalar code does.
OPT      ?= -O2 -fvect-cost-model=dynamic -fno-math-errno
WARN      = -Wall -Wextra -Wshadow -Wundef -Wwrite-strings -Wconversion \
            -Wdouble-promotion -Wmissing-prototypes -Wstrict-prototypes -Wvla
CSTD      = -std=c11 -pedantic -D_POSIX_C_SOURCE=200809L
# SAN=1 builds everything with ASan + UBSan into build/san (kept apart from the normal
# build); the interpreter states then allocate from the C library instead of the
# small-block pool, so that ASan sees errors inside small Lua objects.
# TSAN=1 builds with ThreadSanitizer into build/tsan (docs/testing.md).
ifeq ($(SAN),1)
BUILD    ?= build/san
SANFLAGS  = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
SANDEFS   = -DLHS_SYSTEM_ALLOC
OPT       = -O1 -g
else ifeq ($(TSAN),1)
BUILD    ?= build/tsan
SANFLAGS  = -fsanitize=thread -fno-omit-frame-pointer
SANDEFS   =
OPT       = -O1 -g
else
BUILD    ?= build
SANFLAGS  =
SANDEFS   =
endif
# make fuzz: the number of calls of the long campaign and its seed.
N        ?= 100000
FUZZSEED ?= 1
# Debian package names the build and the tests need (make deps installs the missing ones).
DEBS      = gcc libc6-dev lua5.4 liblua5.4-dev liblapacke-dev libopenblas-dev libreadline-dev \
            pkg-config lua-busted gnuplot-nox python3-numpy python3-scipy valgrind luarocks \
            openmpi-bin libopenmpi-dev
# MPI support (docs/distributed.md): the shim is built when this compiler wrapper exists.
MPICC    ?= mpicc
# ---------------------------------------------------------------------------------

LUA_CFLAGS := $(shell pkg-config --cflags lua5.4 2>/dev/null)
LUA_LIBS   := $(shell pkg-config --libs lua5.4 2>/dev/null)
# The core (src/core) is compiled without Lua's include path, so an #include of lua.h
# there fails to compile: the numerical library cannot come to depend on Lua.
CFLAGS    = $(CSTD) $(OPT) $(WARN) $(SANFLAGS) $(SANDEFS) -fPIC -fvisibility=hidden -MMD -MP \
            -DHS_PREFIX='"$(PREFIX)"' $(EXTRA_CFLAGS)
CORE_INC  = -Isrc/core -I$(BUILD)/gen
BIND_INC  = -Isrc/lua -Isrc/core $(LUA_CFLAGS)
LDFLAGS  += $(SANFLAGS)
# LAPACKE is loaded at run time (src/core/hs_lapack.c), so it is not linked.
LIBS      = -lm -lpthread -ldl

# The numerical core (src/core/hs_*.c), the Lua bindings (src/lua/lhs_*.c) and the
# executable (src/main.c).
CORE_SRC  = $(sort $(wildcard src/core/hs_*.c))
BIND_SRC  = $(sort $(wildcard src/lua/lhs_*.c))
# Kernels compiled once per code path (src/core/hs_isa.h): each file below is also
# compiled with -DHS_ISA_TAG=<path> and that path's -march, giving suffixed symbols
# that its plain compilation dispatches to at run time (HASME_ISA forces a path).
# -ffp-contract=off is ISO C mode's default, restated because the wider paths have
# FMA instructions: a*b+c stays two roundings, so every path computes the same bits.
# -fno-trapping-math lets the vectoriser compute both arms of a conditional whose arm
# divides (hasme never reads the floating-point exception flags); unlike the other
# -ffast-math options it changes no value.
ISA_KERNELS = hs_eiglanes hs_vmath
ISA_PATHS   = baseline avx2 avx512
ISA_COMMON   = -ffp-contract=off -fno-trapping-math
ISA_baseline = $(ISA_COMMON)
ISA_avx2     = -march=x86-64-v3 -mtune=generic $(ISA_COMMON)
ISA_avx512   = -march=x86-64-v4 -mtune=generic -mprefer-vector-width=512 $(ISA_COMMON)
ISA_OBJ   = $(foreach k,$(ISA_KERNELS),$(foreach i,$(ISA_PATHS),$(BUILD)/obj/core/$(k)-$(i).o))
# The engine's kernels: their plain compilation is the baseline path (and holds the
# dispatch), so only the wider paths are compiled again. The general kernel has no
# AVX-512 build: its per-lane loops gain nothing from it, and the libm calls they make
# (log1p) ran at half speed from AVX-512 code (W2 a third slower), so its
# AVX-512 path runs the AVX2 code. AVX-512 builds keep gcc's default preference for
# 256-bit vectors there.
ISA_WIDE  = hs_kernel_linear
ISA_AVX2  = hs_kernel_general
ISA_OBJ  += $(foreach k,$(ISA_WIDE),$(foreach i,avx2 avx512,$(BUILD)/obj/core/$(k)-$(i).o))
ISA_OBJ  += $(foreach k,$(ISA_AVX2),$(BUILD)/obj/core/$(k)-avx2.o)
$(foreach k,$(ISA_WIDE),$(BUILD)/obj/core/$(k)-avx512.o): \
  ISA_avx512 = -march=x86-64-v4 -mtune=generic $(ISA_COMMON)
CORE_OBJ  = $(CORE_SRC:src/core/%.c=$(BUILD)/obj/core/%.o) $(ISA_OBJ)
BIND_OBJ  = $(BIND_SRC:src/lua/%.c=$(BUILD)/obj/lua/%.o)
MAIN_OBJ  = $(BUILD)/obj/main.o
CTEST_SRC = $(sort $(wildcard tests/c/test_*.c))
CTEST_BIN = $(CTEST_SRC:tests/c/%.c=$(BUILD)/tests/%)
GEN_HDR   = $(BUILD)/gen/hs_zigtab.h
# The MPI shim: the one object compiled with mpicc, loaded at run time by
# src/core/hs_mpi.c under mpirun or srun, so nothing else links libmpi.
HAVE_MPI := $(shell command -v $(MPICC) >/dev/null 2>&1 && echo 1)
MPI_SHIM  = $(if $(HAVE_MPI),$(BUILD)/lib/hasme/mpishim.so)

.PHONY: all test test-c test-lua test-mpi valgrind valgrind-lua fuzz check-all run bench deps \
        install uninstall rock-install clean check echo

all: $(BUILD)/hasme $(BUILD)/lib/hasme/core.so $(MPI_SHIM)

$(BUILD)/obj/core/%.o: src/core/%.c | $(BUILD)/obj
	$(CC) $(CFLAGS) $(CORE_INC) -c $< -o $@

$(BUILD)/obj/core/%-baseline.o: src/core/%.c | $(BUILD)/obj
	$(CC) $(CFLAGS) $(ISA_baseline) -DHS_ISA_TAG=baseline $(CORE_INC) -c $< -o $@

$(BUILD)/obj/core/%-avx2.o: src/core/%.c | $(BUILD)/obj
	$(CC) $(CFLAGS) $(ISA_avx2) -DHS_ISA_TAG=avx2 $(CORE_INC) -c $< -o $@

$(BUILD)/obj/core/%-avx512.o: src/core/%.c | $(BUILD)/obj
	$(CC) $(CFLAGS) $(ISA_avx512) -DHS_ISA_TAG=avx512 $(CORE_INC) -c $< -o $@

$(BUILD)/obj/lua/%.o: src/lua/%.c | $(BUILD)/obj
	$(CC) $(CFLAGS) $(BIND_INC) -c $< -o $@

$(MAIN_OBJ): src/main.c | $(BUILD)/obj
	$(CC) $(CFLAGS) $(BIND_INC) -c $< -o $@

# The ziggurat tables are computed at build time by a small generator (see tools/).
$(GEN_HDR): tools/gen_zigtab.c | $(BUILD)/obj
	@mkdir -p $(BUILD)/gen
	$(CC) -std=c11 -O2 -o $(BUILD)/gen/gen_zigtab $< -lm
	$(BUILD)/gen/gen_zigtab > $@.tmp && mv $@.tmp $@
$(BUILD)/obj/core/hs_normal.o: $(GEN_HDR)

$(BUILD)/hasme: $(MAIN_OBJ) $(BIND_OBJ) $(CORE_OBJ)
	$(CC) $(LDFLAGS) -rdynamic -o $@ $^ $(LUA_LIBS) $(LIBS) -lreadline

# The loadable module for plain lua5.4 (LUA_CPATH=build/lib/?.so); the interpreter
# that loads it provides the Lua API, so it does not link liblua.
$(BUILD)/lib/hasme/core.so: $(BIND_OBJ) $(CORE_OBJ)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -shared -o $@ $^ $(LIBS)

$(BUILD)/lib/hasme/mpishim.so: src/mpi/hs_mpishim.c src/core/hs_mpishim.h src/core/hasme.h
	@mkdir -p $(@D)
	$(MPICC) $(filter-out -MMD -MP,$(CFLAGS)) -Isrc/core -shared -o $@ $< $(LDFLAGS)

$(BUILD)/tests/%: tests/c/%.c $(CORE_OBJ) tests/c/tap.h tests/c/fixture.h | $(BUILD)/tests
	$(CC) $(CFLAGS) $(CORE_INC) -o $@ $< $(CORE_OBJ) $(LDFLAGS) $(LIBS)

$(BUILD)/obj $(BUILD)/tests:
	@mkdir -p $@ $(BUILD)/obj/core $(BUILD)/obj/lua

-include $(wildcard $(BUILD)/obj/*.d $(BUILD)/obj/core/*.d $(BUILD)/obj/lua/*.d)

# ---- tests ----------------------------------------------------------------------
test: deps
	@$(MAKE) --no-print-directory all $(CTEST_BIN)
	@BUILD=$(BUILD) SAN=$(SAN) TSAN=$(TSAN) sh tests/run.sh

test-c: all $(CTEST_BIN)
	@BUILD=$(BUILD) ONLY=c sh tests/run.sh

test-lua: all
	@BUILD=$(BUILD) ONLY=lua sh tests/run.sh

test-mpi: all
	@BUILD=$(BUILD) SAN=$(SAN) ONLY=mpi sh tests/run.sh

check:
	$(MAKE) --no-print-directory clean all EXTRA_CFLAGS=-Werror

# The C unit tests under valgrind's memcheck: no error, no leak (tests/valgrind.supp
# holds the loader's known false positives).
valgrind: all $(CTEST_BIN)
	@fail=0; for t in $(CTEST_BIN); do \
	  valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect \
	    --error-exitcode=9 --suppressions=tests/valgrind.supp -q $$t > /dev/null \
	    && echo "ok - valgrind $$t" || { echo "not ok - valgrind $$t"; fail=1; }; \
	done; exit $$fail

# Memcheck of a Lua script with callbacks on worker threads (tests/valgrind_callbacks.lua):
# no error and no definite leak.
valgrind-lua: all
	@valgrind --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=9 \
	    --suppressions=tests/valgrind.supp -q $(BUILD)/hasme tests/valgrind_callbacks.lua \
	  && echo "ok - valgrind $(BUILD)/hasme tests/valgrind_callbacks.lua" \
	  || { echo "not ok - valgrind $(BUILD)/hasme tests/valgrind_callbacks.lua"; exit 1; }

# A long fuzzing campaign over the whole Lua API (tools/fuzz.lua; docs/testing.md):
#   make fuzz N=100000 FUZZSEED=1   (SAN=1 to run it on the sanitizer build)
fuzz: all
	@$(BUILD)/hasme tools/fuzz.lua --calls $(N) --seed $(FUZZSEED) --hasme $(BUILD)/hasme

# Everything .ci/run runs: the plain, sanitizer and ThreadSanitizer
# suites, and valgrind's memcheck of the C tests and of a script with callbacks.
check-all:
	$(MAKE) --no-print-directory test
	$(MAKE) --no-print-directory test SAN=1
	$(MAKE) --no-print-directory test TSAN=1
	$(MAKE) --no-print-directory valgrind valgrind-lua

# ---- running --------------------------------------------------------------------
run: deps
	@$(MAKE) --no-print-directory all
	@$(BUILD)/hasme tools/flagship.lua

bench: deps
	@$(MAKE) --no-print-directory all $(BUILD)/bench/rng_bench $(BUILD)/bench/eig_bench
	@BUILD=$(BUILD) $(BUILD)/hasme bench/run.lua
	@BUILD=$(BUILD) $(BUILD)/hasme bench/mpi.lua

$(BUILD)/bench/%: bench/%.c $(CORE_OBJ)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(CORE_INC) -o $@ $< $(CORE_OBJ) $(LDFLAGS) $(LIBS)

deps:
	@sh tools/deps.sh $(DEBS)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/lua/5.4/hasme \
	           $(DESTDIR)$(PREFIX)/share/lua/5.4/hasme
	install -m 755 $(BUILD)/hasme $(DESTDIR)$(PREFIX)/bin/hasme
	install -m 755 $(BUILD)/lib/hasme/core.so $(DESTDIR)$(PREFIX)/lib/lua/5.4/hasme/core.so
	$(if $(MPI_SHIM),install -m 755 $(MPI_SHIM) $(DESTDIR)$(PREFIX)/lib/lua/5.4/hasme/mpishim.so)
	install -m 644 lua/hasme/*.lua $(DESTDIR)$(PREFIX)/share/lua/5.4/hasme/
	install -d $(DESTDIR)$(PREFIX)/share/doc/hasme
	install -m 644 README.md docs/*.md $(DESTDIR)$(PREFIX)/share/doc/hasme/

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/hasme
	rm -rf $(DESTDIR)$(PREFIX)/lib/lua/5.4/hasme $(DESTDIR)$(PREFIX)/share/lua/5.4/hasme \
	       $(DESTDIR)$(PREFIX)/share/doc/hasme

# The install step of the rockspec (hasme-*.rockspec, `luarocks make`): LuaRocks
# gives the directories of the rock, from which it deploys the files into its tree.
# The docs go with the Lua files (LUADIR/hasme/doc), where the REPL's help finds them.
rock-install: all
	install -d $(LIBDIR)/hasme $(LUADIR)/hasme/doc $(BINDIR)
	install -m 755 $(BUILD)/lib/hasme/core.so $(LIBDIR)/hasme/core.so
	$(if $(MPI_SHIM),install -m 755 $(MPI_SHIM) $(LIBDIR)/hasme/mpishim.so)
	install -m 644 lua/hasme/*.lua $(LUADIR)/hasme/
	install -m 644 README.md docs/*.md $(LUADIR)/hasme/doc/
	install -m 755 $(BUILD)/hasme $(BINDIR)/hasme

clean:
	rm -rf build

echo:
	@echo "CC      = $(CC)"
	@echo "CFLAGS  = $(CFLAGS)"
	@echo "LIBS    = $(LIBS)"
	@echo "CORE    = $(CORE_SRC)"
	@echo "BIND    = $(BIND_SRC)"
	@echo "MPICC   = $(MPICC) ($(if $(HAVE_MPI),found,not found: no MPI support))"
