#!/bin/sh
# tests/mpi/run.sh: hasme under MPI, in TAP. Without mpirun every check is skipped with
# a visible message. Run by tests/run.sh (ONLY=mpi for this part alone) from the
# project root; BUILD names the build directory (build, or build/san for SAN=1).
BUILD=${BUILD:-build}
HASME="$BUILD/hasme"
n=0
say() {  # say ok|"not ok" description
  n=$((n + 1)); echo "$1 - $2"
}

if ! command -v mpirun >/dev/null 2>&1; then
  echo "# mpirun not found: the MPI tests are skipped (make deps installs Open MPI)"
  echo "ok - # SKIP mpirun not found"
  exit 0
fi
# Open MPI refuses to run as root unless told; CI runs as root. Users never need this.
if [ "$(id -u)" -eq 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
# libmpi keeps allocations until the process ends: LeakSanitizer would report them.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
MPIRUN="mpirun --oversubscribe"
out=$(mktemp)
trap 'rm -f "$out"' EXIT

# ---- without a launcher: no MPI at all ------------------------------------------
if ldd "$HASME" "$BUILD/lib/hasme/core.so" | grep -q libmpi; then
  say "not ok" "hasme and core.so do not link libmpi"
else
  say ok "hasme and core.so do not link libmpi"
fi
if [ -f "$BUILD/lib/hasme/mpishim.so" ]; then
  say ok "the MPI shim is built"
else
  say "not ok" "the MPI shim is built ($BUILD/lib/hasme/mpishim.so missing)"
fi
r=$(env -u OMPI_COMM_WORLD_SIZE -u PMI_SIZE -u PMIX_RANK "$HASME" -e '
  local m = require("hasme").mpi
  local maps = io.open("/proc/self/maps"):read("a")
  io.write(m.rank(), " ", m.size(), " ", maps:find("libmpi") and "libmpi" or "none")' 2>&1)
[ "$r" = "0 1 none" ] && say ok "without mpirun: rank 0, size 1, libmpi not loaded" ||
  say "not ok" "without mpirun: rank 0, size 1, libmpi not loaded (got: $r)"
if [ "${SAN:-0}" != 1 ]; then   # an ASan-built core.so cannot load into plain lua5.4
  r=$(env -u OMPI_COMM_WORLD_SIZE -u PMI_SIZE -u PMIX_RANK lua5.4 -e "
    package.cpath = '$BUILD/lib/?.so;' .. package.cpath
    local c = require 'hasme.core'
    io.write(c.mpi.rank(), ' ', c.mpi.size())" 2>&1)
  [ "$r" = "0 1" ] && say ok "core.so loads into plain lua5.4 without MPI" ||
    say "not ok" "core.so loads into plain lua5.4 without MPI (got: $r)"
fi
r=$(OMPI_COMM_WORLD_SIZE=2 HASME_MPI_SHIM=/nonexistent/mpishim.so "$HASME" -e 'require "hasme"' 2>&1)
rc=$?
case "$rc:$r" in
  1:*"cannot start MPI: the MPI shim HASME_MPI_SHIM=/nonexistent/mpishim.so cannot be loaded"*)
    say ok "launched without a loadable shim: require fails with the reason" ;;
  *) say "not ok" "launched without a loadable shim: require fails with the reason (status $rc: $r)" ;;
esac

# ---- collectives on 1, 2 and 3 ranks ----------------------------------------------
for np in 1 2 3; do
  timeout 120 $MPIRUN -n $np "$HASME" tests/mpi/collectives.lua "$HASME" > "$out" 2>&1
  rc=$?
  grep -E '^(not )?ok |^#' "$out"
  if [ $rc -ne 0 ] || ! grep -q '^ok ' "$out"; then
    sed 's/^/#   /' "$out" | grep -v '^#   \(not \)\?ok ' | head -40
    say "not ok" "mpirun -n $np tests/mpi/collectives.lua exits with status 0 (got $rc)"
  fi
done

r=$($MPIRUN -n 3 "$HASME" -e '
  local m = require("hasme").mpi
  if m.rank() > 0 then assert(m.mute()) end
  print("printed by rank " .. m.rank())' 2>&1)
[ "$r" = "printed by rank 0" ] && say ok "mute(): only the ranks that did not mute print" ||
  say "not ok" "mute(): only the ranks that did not mute print (got: $r)"

# ---- default threads per rank follow the launcher's binding ------------------------
ncores=$(nproc)
r=$($MPIRUN -n 2 --bind-to core "$HASME" -e 'io.write(require("hasme").mpi.threads(), " ")' 2>&1)
[ "$r" = "1 1 " ] && say ok "ranks bound to one core each default to one thread" ||
  say "not ok" "ranks bound to one core each default to one thread (got: $r)"
r=$($MPIRUN -n 2 --bind-to none "$HASME" -e 'io.write(require("hasme").mpi.threads(), " ")' 2>&1)
want=$((ncores / 2)); [ $want -lt 1 ] && want=1
[ "$r" = "$want $want " ] && say ok "unbound ranks share the $ncores cores: $want threads each" ||
  say "not ok" "unbound ranks share the $ncores cores: $want threads each (got: $r)"
r=$($MPIRUN -n 1 --bind-to none "$HASME" -e 'io.write(require("hasme").mpi.threads())' 2>&1)
[ "$r" = "$ncores" ] && say ok "one unbound rank defaults to every core ($ncores)" ||
  say "not ok" "one unbound rank defaults to every core ($ncores) (got: $r)"

# ---- simulate and compare: the same bytes on 1, 2, 3 ranks x 1, 2 threads ----------
ref=$(mktemp); got=$(mktemp)
env -u OMPI_COMM_WORLD_SIZE -u PMI_SIZE -u PMIX_RANK "$HASME" tests/mpi/simulate.lua "$ref" 1 > "$out" 2>&1
if [ $? -ne 0 ] || [ ! -s "$ref" ]; then
  sed 's/^/#   /' "$out" | head -20
  say "not ok" "tests/mpi/simulate.lua runs without mpirun"
fi
for np in 1 2 3; do
  for th in 1 2; do
    rm -f "$got"
    timeout 300 $MPIRUN --bind-to none -n $np "$HASME" tests/mpi/simulate.lua "$got" $th > "$out" 2>&1
    rc=$?
    if [ $rc -eq 0 ] && cmp -s "$ref" "$got"; then
      say ok "simulate/compare on $np ranks x $th threads: results byte-identical to one process"
    else
      sed 's/^/#   /' "$out" | head -20
      [ -s "$got" ] && cmp "$ref" "$got" | sed 's/^/#   /'
      say "not ok" "simulate/compare on $np ranks x $th threads: results byte-identical to one process (status $rc)"
    fi
  done
done
rm -f "$ref" "$got"

# ---- hasme run: the same result files and output on 1, 2, 3 ranks x 1, 2 threads ---
# Every file but config.json (which records the command, times, ranks and threads)
# and log.txt (times) must be byte-identical to a run without MPI; rank 0 alone
# prints, and writes nothing but the run's directory.
rdir=$(mktemp -d)
mkdir -p "$rdir/tmp"   # TMPDIR of the runs: the other ranks' private directories
exp_run() {  # exp_run DIR NP THREADS EXPERIMENT --set ... : stdout in DIR.out
  _d=$1; _np=$2; _th=$3; _e=$4; shift 4
  if [ "$_np" = 0 ]; then
    env -u OMPI_COMM_WORLD_SIZE -u PMI_SIZE -u PMIX_RANK \
      "$HASME" run "experiments/$_e.lua" "$@" --out "$_d" --threads "$_th" > "$_d.out" 2> "$_d.err"
  else
    TMPDIR="$rdir/tmp" timeout 300 $MPIRUN --bind-to none -n "$_np" \
      "$HASME" run "experiments/$_e.lua" "$@" --out "$_d" --threads "$_th" > "$_d.out" 2> "$_d.err"
  fi
}
for spec in "saddle_escape paths=2000 etas=0.2,0.1" "double_well_escape paths=400 etas=0.1" \
            "quadratic_exactness paths=3000 etas=0.2,0.1"; do
  set -- $spec
  e=$1; shift
  sets=""
  for kv in "$@"; do sets="$sets --set $kv"; done
  # shellcheck disable=SC2086
  exp_run "$rdir/$e-ref" 0 1 "$e" $sets || say "not ok" "hasme run $e without mpirun"
  # Every ranks x threads for the first experiment; 3 x 2 for the others.
  configs="1:1 1:2 2:1 2:2 3:1 3:2"
  [ "$e" = saddle_escape ] || configs="3:2"
  for c in $configs; do
    np=${c%:*}; th=${c#*:}
    {
      d="$rdir/$e-$np-$th"
      # shellcheck disable=SC2086
      exp_run "$d" $np $th "$e" $sets
      rc=$?
      diffs=$(diff -r -x config.json -x log.txt "$rdir/$e-ref" "$d" 2>&1 | head -5)
      sed "s|$d|DIR|g" "$d.out" > "$d.o1"; sed "s|$rdir/$e-ref|DIR|g" "$rdir/$e-ref.out" > "$d.o2"
      if [ $rc -eq 0 ] && [ -z "$diffs" ] && cmp -s "$d.o1" "$d.o2" &&
         grep -q "\"ranks\": $np," "$d/config.json"; then
        say ok "hasme run $e on $np ranks x $th threads: result files and output identical to one process"
      else
        echo "$diffs" | sed 's/^/#   /'
        diff "$d.o2" "$d.o1" | head -10 | sed 's/^/#   /'
        sed 's/^/#   /' "$d.err" | head -10
        say "not ok" "hasme run $e on $np ranks x $th threads: result files and output identical (status $rc)"
      fi
    }
  done
done
# --split points: whole sweep points per rank; the same files, and the first failing
# point (paths=0) ends the sweep as in one process
for spec in "3 paths=600 etas=0.2,0.1 substeps=5,10,20 --seeds 2" \
            "2 paths=800,1000,0,500 etas=0.2,0.1"; do
  set -- $spec
  np=$1; shift
  args=""
  while [ $# -gt 0 ]; do
    case "$1" in --*) args="$args $1 $2"; shift 2 ;; *) args="$args --set $1"; shift ;; esac
  done
  tag=$(echo "$args" | tr -c 'a-z0-9' '_')
  # shellcheck disable=SC2086
  exp_run "$rdir/p$tag-ref" 0 1 saddle_escape $args
  rc0=$?
  # shellcheck disable=SC2086
  exp_run "$rdir/p$tag" $np 1 saddle_escape $args --split points
  rc=$?
  d="$rdir/p$tag"
  diffs=$(diff -r -x config.json -x log.txt "$d-ref" "$d" 2>&1 | head -5)
  sed "s|$d|DIR|g" "$d.out" > "$d.o1"; sed "s|$d-ref|DIR|g" "$d-ref.out" > "$d.o2"
  nerr=$(grep -c '^hasme run' "$d.err")
  if [ $rc -eq $rc0 ] && [ -z "$diffs" ] && cmp -s "$d.o1" "$d.o2" && [ "$nerr" -eq "$(grep -c '^hasme run' "$d-ref.err")" ]; then
    say ok "hasme run --split points on $np ranks ($args): files, output and status as one process"
  else
    echo "$diffs" | sed 's/^/#   /'
    diff "$d.o2" "$d.o1" | head -10 | sed 's/^/#   /'
    sed 's/^/#   /' "$d.err" | head -10
    say "not ok" "hasme run --split points on $np ranks ($args): as one process (status $rc, $rc0)"
  fi
done

# SIGINT to mpirun during hasme run: every rank stops, the record says interrupted,
# and no partial (.tmp) file is left
d="$rdir/sigint"
TMPDIR="$rdir/tmp" $MPIRUN -n 2 "$HASME" run experiments/saddle_escape.lua --set paths=400000 \
  --out "$d" --threads 1 > "$d.out" 2>&1 &
job=$!
i=0
while ! grep -q '"status": "running"' "$d/config.json" 2>/dev/null && [ $i -lt 300 ]; do
  sleep 0.1; i=$((i + 1))
done
sleep 1
t0=$(date +%s)
kill -INT $job
i=0
while kill -0 $job 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
dt=$(($(date +%s) - t0))
tmps=$(find "$d" -name '*.tmp' | wc -l)
if ! kill -0 $job 2>/dev/null && grep -q '"status": "interrupted"' "$d/config.json" &&
   [ "$tmps" -eq 0 ] && [ $dt -le 20 ]; then
  say ok "SIGINT to mpirun during hasme run: stopped in ${dt}s, recorded as interrupted, no partial file"
else
  sed 's/^/#   /' "$d.out" | tail -10
  say "not ok" "SIGINT to mpirun during hasme run: stopped, recorded, no partial file (${dt}s, $tmps .tmp)"
  kill -9 $job 2>/dev/null
fi
wait $job 2>/dev/null

left=$(ls -d "$rdir"/tmp/hasme-rank* 2>/dev/null)
[ -z "$left" ] && say ok "hasme run under mpirun leaves no scratch directory behind" ||
  say "not ok" "hasme run under mpirun leaves no scratch directory behind ($left)"
rm -rf "$rdir"

# ---- the C layer on 2 and 3 ranks (tests/c/test_mpi.c --ranks) ---------------------
for np in 2 3; do
  HASME_MPI_SHIM="$BUILD/lib/hasme/mpishim.so" timeout 120 \
    $MPIRUN -n $np "$BUILD/tests/test_mpi" --ranks > "$out" 2>&1
  rc=$?
  grep -E '^(not )?ok ' "$out" | sed 's/^\(\(not \)\?ok\) [0-9]* -/\1 - test_mpi:/'
  if [ $rc -ne 0 ] || ! grep -q '^ok ' "$out"; then
    sed 's/^/#   /' "$out" | grep -v '^#   \(not \)\?ok ' | head -20
    say "not ok" "mpirun -n $np test_mpi --ranks exits with status 0 (got $rc)"
  fi
done

# ---- an error on one rank ends every rank, and is reported once -------------------
for np in 2 3; do
  t0=$(date +%s)
  timeout 60 $MPIRUN -n $np "$HASME" tests/mpi/fail.lua > "$out" 2>&1
  rc=$?
  dt=$(($(date +%s) - t0))
  nmsg=$(grep -c 'deliberate failure on the last rank' "$out")
  grep -q "^hasme (rank $((np - 1)) of $np): tests/mpi/fail.lua:5: deliberate failure" "$out" ||
    nmsg="$nmsg, without the rank's name"
  if [ $rc -ne 0 ] && [ $rc -ne 124 ] && [ $dt -le 20 ] && [ "$nmsg" = 1 ] &&
     ! grep -q unreachable "$out"; then
    say ok "mpirun -n $np: an error on one rank ends every rank non-zero in ${dt}s, reported once with the rank"
  else
    sed 's/^/#   /' "$out" | head -30
    say "not ok" "mpirun -n $np: an error on one rank ends every rank non-zero (status $rc, ${dt}s, $nmsg reports)"
  fi
done

t0=$(date +%s)
timeout 60 $MPIRUN -n 3 "$HASME" tests/mpi/shared.lua > "$out" 2>&1
rc=$?
dt=$(($(date +%s) - t0))
nmsg=$(grep -c '^hasme: allreduce: vectors of different lengths on different ranks (2 to 3)$' "$out")
nall=$(grep -c 'vectors of different lengths' "$out")
if [ $rc -ne 0 ] && [ $rc -ne 124 ] && [ $dt -le 20 ] && [ "$nmsg" -eq 1 ] && [ "$nall" -eq 1 ]; then
  say ok "mpirun -n 3: an error raised alike on every rank is reported once, by rank 0 (${dt}s)"
else
  sed 's/^/#   /' "$out" | head -30
  say "not ok" "mpirun -n 3: an error raised alike on every rank is reported once (status $rc, ${dt}s, $nall reports)"
fi

for np in 2 3; do
  t0=$(date +%s)
  timeout 60 $MPIRUN -n $np "$HASME" tests/mpi/simfail.lua > "$out" 2>&1
  rc=$?
  dt=$(($(date +%s) - t0))
  want='^hasme: (tests/mpi/simfail.lua:8: )?simulate: error in the escape at path 290, step 1: tests/mpi/simfail.lua:11: predicate refused$'
  nmsg=$(grep -Ec "$want" "$out")
  nall=$(grep -c 'predicate refused' "$out")
  if [ $rc -ne 0 ] && [ $rc -ne 124 ] && [ $dt -le 20 ] && [ "$nmsg" -eq 1 ] && [ "$nall" -eq 1 ] &&
     ! grep -q unreachable "$out"; then
    say ok "mpirun -n $np: a callback raising at path 290 is reported once, as by one process (${dt}s)"
  else
    sed 's/^/#   /' "$out" | head -30
    say "not ok" "mpirun -n $np: a callback raising at path 290 is reported once (status $rc, ${dt}s, $nall reports)"
  fi
done

r=$($MPIRUN -n 2 "$HASME" -e '
  local m = require("hasme").mpi
  if m.rank() == 1 then os.execute("sleep 2") end
  io.write(m.rank(), ":", tostring(m.barrier(0.3)), " ")' 2>&1)
case "$r" in
  *"0:false"*) say ok "barrier(0.3) gives up when a rank does not arrive in time" ;;
  *) say "not ok" "barrier(0.3) gives up when a rank does not arrive in time (got: $r)" ;;
esac

t0=$(date +%s)
timeout 60 $MPIRUN -n 3 "$HASME" tests/mpi/cmpfail.lua > "$out" 2>&1
rc=$?
dt=$(($(date +%s) - t0))
want="^hasme: tests/mpi/cmpfail.lua:7: compare: method 'sgd': error in the escape at path 290, step 1: "
nmsg=$(grep -c "$want" "$out")
nall=$(grep -c 'predicate refused' "$out")
if [ $rc -ne 0 ] && [ $rc -ne 124 ] && [ $dt -le 20 ] && [ "$nmsg" -eq 1 ] && [ "$nall" -eq 1 ]; then
  say ok "mpirun -n 3: compare's error at path 290 is reported once, as by one process (${dt}s)"
else
  sed 's/^/#   /' "$out" | head -30
  say "not ok" "mpirun -n 3: compare's error at path 290 is reported once (status $rc, ${dt}s, $nall reports)"
fi

# abort(code, wait): the ranks that wait leave the abort to the one that reports
t0=$(date +%s)
timeout 60 $MPIRUN -n 3 "$HASME" -e '
  local m = require("hasme").mpi
  if m.rank() > 0 then m.abort(1, 30) end
  os.execute("sleep 1")
  io.stderr:write("rank 0 reports\n")
  os.exit(3)' > "$out" 2>&1
rc=$?
dt=$(($(date +%s) - t0))
if [ $rc -ne 0 ] && [ $rc -ne 124 ] && [ $dt -le 15 ] && grep -q '^rank 0 reports$' "$out"; then
  say ok "abort(1, 30) on ranks 1 and 2 lets rank 0 report, then rank 0's exit ends the job (${dt}s)"
else
  sed 's/^/#   /' "$out" | head -20
  say "not ok" "abort(1, 30) on ranks 1 and 2 lets rank 0 report (status $rc, ${dt}s)"
fi

# ---- SIGINT to mpirun stops every rank -------------------------------------------
token="hasme-mpi-spin-$$"
$MPIRUN -n 2 "$HASME" tests/mpi/spin.lua "$token" > "$out" 2>&1 &
job=$!
i=0
while [ "$(grep -c '^ready' "$out")" -lt 2 ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
ranks=$(pgrep -f "spin.lua $token" | grep -v "^$job\$" | wc -l)
t0=$(date +%s)
kill -INT $job
i=0
while kill -0 $job 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
dt=$(($(date +%s) - t0))
left=$(pgrep -f "spin.lua $token")
if [ "$ranks" -ge 2 ] && ! kill -0 $job 2>/dev/null && [ -z "$left" ] && [ $dt -le 20 ]; then
  say ok "SIGINT to mpirun stops both ranks (${dt}s)"
else
  sed 's/^/#   /' "$out" | head -20
  say "not ok" "SIGINT to mpirun stops both ranks ($ranks ranks seen, ${dt}s, left: $left)"
  for p in $left; do kill -9 "$p" 2>/dev/null; done   # only this run's processes
fi
wait $job 2>/dev/null
exit 0
