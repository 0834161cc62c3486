#!/usr/bin/env bash
# glibc's own benchtests for two builds in the same run: each benchmark
# binary (already built in BUILD/benchtests: `make -C SRC/benchtests
# objdir=BUILD subdir=benchtests BUILD/benchtests/bench-NAME`) runs REPS
# times through its build's testrun.sh, the builds interleaved; then
# compare-bench.py prints, per benchmark entry, the median over the runs
# of its "min" (or of its throughput figure) for each build and the
# ratio B/A.
#
#   bash patches/bench/run-benchtests.sh A=BUILD_A B=BUILD_B[:GLIBC_TUNABLES] bench-NAME...
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-$(mktemp -d)}
mkdir -p "$out"
REPS=${REPS:-3}
a=$1 b=$2
shift 2
run() { # name=build[:tunables] bench rep
  local name=${1%%=*} rest=${1#*=}
  local build=${rest%%:*} tunables=
  [ "$rest" != "$build" ] && tunables=${rest#*:}
  env ${tunables:+GLIBC_TUNABLES=$tunables} "$build/testrun.sh" "$build/benchtests/$2" >"$out/$2.$name.$3.json"
}
for bench in "$@"; do
  for rep in $(seq "$REPS"); do
    run "$a" "$bench" "$rep"
    run "$b" "$bench" "$rep"
  done
  python3 "$here/compare-bench.py" "$out" "$bench" "${a%%=*}" "${b%%=*}"
done
