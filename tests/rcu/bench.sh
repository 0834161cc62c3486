#!/usr/bin/env bash
# The per-CPU RCU beside Debian's liburcu, one run, one table
# (tests/rcu/bench_rcu.c): read lock+unlock inline and through calls
# against urcu-bp, memb, mb, signal and qsbr (quiescent_state), and
# synchronize latency with 1, 100, 1000 and 10000 idle threads; then the
# issue's targets, MET or MISSED. Installs liburcu-dev when missing (root).
# Needs target/release/librseq_libc.a (cargo build --release).
# Usage: bash tests/rcu/bench.sh [--quick]
set -eu
cd "$(dirname "$0")/../.."
root=$PWD
lib=$root/target/release/librseq_libc.a
out=${RSEQ_LIBC_TEST_BUILD:-$root/tests/build}/rcu
mkdir -p "$out"
[ -f "$lib" ] || { echo "$lib missing: run 'cargo build --release' first"; exit 1; }
if ! echo '#include <urcu/urcu-bp.h>' | gcc -E - > /dev/null 2>&1; then
  apt-get install -y liburcu-dev > "$out/apt.log" 2>&1 \
    || { apt-get update > /dev/null 2>&1 && apt-get install -y liburcu-dev > "$out/apt.log" 2>&1; } \
    || { echo "SKIP: liburcu-dev not installable (see $out/apt.log)"; exit 0; }
fi
gcc -O2 -g -std=gnu11 -Wall -Wextra -I"$root/headers" \
  tests/rcu/bench_rcu.c tests/rcu/bench_rcu_calls.c "$lib" \
  -lurcu-memb -lurcu-mb -lurcu-signal -lurcu-bp -lurcu-qsbr -lurcu-common -lpthread \
  -o "$out/bench_rcu"
echo "machine: $(grep -m 1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) CPUs, kernel $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
"$out/bench_rcu" "$@"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
