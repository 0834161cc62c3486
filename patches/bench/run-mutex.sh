#!/usr/bin/env bash
# Adaptive mutex throughput under oversubscription, glibc builds side by
# side in the same run: builds mutex-oversubscription.c against each glibc
# build directory given (dynamic, the build's ld.so as interpreter), then
# runs every configuration REPS times, builds interleaved, and prints the
# median acquisitions per second of each.
#
#   bash patches/bench/run-mutex.sh NAME=BUILD_DIR[:GLIBC_TUNABLES] ...
#
# Environment: REPS (5), SECONDS_EACH (2), THREADS (8), CPUS (2), and
# CASES ("crit,noncrit[,spin_count] ...", default "50,50 50,50,32767
# 500,100 500,100,32767"; spin_count sets glibc.pthread.mutex_spin_count).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-$(mktemp -d)}
mkdir -p "$out"
REPS=${REPS:-5} SECONDS_EACH=${SECONDS_EACH:-2} THREADS=${THREADS:-8} CPUS=${CPUS:-2}
CASES=${CASES:-"50,50 50,50,32767 500,100 500,100,32767"}
names=()
declare -A bin tun
for arg in "$@"; do
  name=${arg%%=*} rest=${arg#*=}
  build=${rest%%:*} tunables=
  [ "$rest" != "$build" ] && tunables=${rest#*:}
  names+=("$name") tun[$name]=$tunables
  bin[$name]=$out/oversub-$(basename "$(dirname "$build")")
  [ -x "${bin[$name]}" ] || gcc -O2 -B"$build/csu/" -L"$build" -Wl,-rpath-link="$build:$build/elf" \
    -Wl,--dynamic-linker="$build/elf/ld.so" -Wl,-rpath="$build:$build/nptl:$build/elf" \
    "$here/mutex-oversubscription.c" -o "${bin[$name]}"
done
median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
for c in $CASES; do
  IFS=, read -r crit noncrit spin <<<"$c"
  for name in "${names[@]}"; do : >"$out/$name.$c"; done
  for _ in $(seq "$REPS"); do
    for name in "${names[@]}"; do
      t=${tun[$name]}
      [ -n "$spin" ] && t=${t:+$t:}glibc.pthread.mutex_spin_count=$spin
      env ${t:+GLIBC_TUNABLES=$t} "${bin[$name]}" "$THREADS" "$CPUS" "$SECONDS_EACH" "$crit" "$noncrit" \
        >>"$out/$name.$c"
    done
  done
  line="crit=$crit noncrit=$noncrit spin_count=${spin:-default}:"
  for name in "${names[@]}"; do line+=" $name $(median <"$out/$name.$c")"; done
  echo "$line (load $(cut -d' ' -f1 /proc/loadavg))"
done
