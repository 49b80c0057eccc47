#!/bin/sh
# Run every C unit test (build/tests/test_*), the busted specs (tests/spec) and the
# MPI tests (tests/mpi/run.sh, under mpirun), all of which speak TAP, and finish with
# one line "N passed, N failed" over all of them.
# Environment: BUILD (default build), ONLY=c|lua|mpi to run one part, SAN=1 for a
# sanitizer build (whose binaries live under build/san), TSAN=1 for the
# ThreadSanitizer build (build/tsan), where the Lua half is the specs tagged #tsan
# (runs with Lua callbacks on worker states): the whole suite would take too long.
BUILD=${BUILD:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 2
log=$(mktemp)
trap 'rm -f "$log"' EXIT
pass=0; fail=0
if [ "${TSAN:-0}" = 1 ]; then
  # OpenBLAS's own thread pool synchronises in uninstrumented code (TSan would report
  # its spin-waits as races): one BLAS thread; TSan exits 66 after any report.
  export OPENBLAS_NUM_THREADS=1 TSAN_OPTIONS="exitcode=66 ${TSAN_OPTIONS:-}"
fi

count() {  # count TAP lines of "$1" (a file) into pass/fail
  p=$(grep -c '^ok ' "$1"); f=$(grep -c '^not ok ' "$1")
  pass=$((pass + p)); fail=$((fail + f))
}

if [ "${ONLY:-c}" = c ] || [ -z "$ONLY" ]; then
  for t in "$BUILD"/tests/test_*; do
    [ -x "$t" ] || continue
    printf '# %s\n' "$t"
    "$t" > "$log" 2>&1
    rc=$?
    grep -v '^ok ' "$log"
    count "$log"
    if [ $rc -ne 0 ] && ! grep -q '^not ok ' "$log"; then
      echo "not ok - $t exited with status $rc"; fail=$((fail + 1))
    fi
  done
fi

if [ "${ONLY:-lua}" = lua ] || [ -z "$ONLY" ]; then
  printf '# busted tests/spec (under %s/hasme)\n' "$BUILD"
  if [ "${TSAN:-0}" = 1 ]; then
    # TSan reports races as warnings on stderr and exits 66 at the end.
    HASME_BUILD="$BUILD" "$BUILD/hasme" /usr/bin/busted --output=TAP --tags=tsan \
      tests/spec > "$log" 2>&1
  else
    HASME_BUILD="$BUILD" "$BUILD/hasme" /usr/bin/busted --output=TAP --exclude-tags=bench \
      tests/spec > "$log" 2>&1
  fi
  rc=$?
  grep -v '^ok ' "$log"
  count "$log"
  if [ $rc -ne 0 ] && ! grep -q '^not ok ' "$log"; then
    echo "not ok - busted exited with status $rc"; fail=$((fail + 1))
  fi
fi

if [ "${TSAN:-0}" = 1 ]; then
  # Open MPI's own threads are not instrumented; the MPI layer adds no thread of hasme's.
  printf '# tests/mpi/run.sh: skipped under TSAN=1 (run by make test and make test SAN=1)\n'
elif [ "${ONLY:-mpi}" = mpi ] || [ -z "$ONLY" ]; then
  printf '# tests/mpi/run.sh (under mpirun)\n'
  BUILD="$BUILD" SAN="$SAN" sh tests/mpi/run.sh > "$log" 2>&1
  rc=$?
  grep -v '^ok ' "$log"
  count "$log"
  if [ $rc -ne 0 ] && ! grep -q '^not ok ' "$log"; then
    echo "not ok - tests/mpi/run.sh exited with status $rc"; fail=$((fail + 1))
  fi
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
