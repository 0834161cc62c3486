#!/usr/bin/env bash
# The inline C benchmark (tests/percpu/bench_inline.c: C inline, C call and
# floor rows, interleaved rounds, best of N, one process), then the Rust
# rows of `rseq-libc bench` (its counter beside its own floor row), so that
# all three kinds of caller are measured on the same machine minutes apart.
# Args go to bench_inline (ROUNDS COUNTER_ITERS OTHER_ITERS).
set -eu
cd "$(dirname "$0")/../.."
root=$PWD
out=${RSEQ_LIBC_TEST_BUILD:-$root/tests/build}/percpu
mkdir -p "$out"
lib=$root/target/release/librseq_libc.a
[ -f "$lib" ] || { echo "$lib missing: run 'cargo build --release' first"; exit 1; }
gcc -O2 -g -Wall -Wextra -Werror -I"$root/headers" tests/percpu/bench_inline.c "$lib" \
  -lpthread -o "$out/bench_inline"
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs; load average:$(cut -d' ' -f1-3 /proc/loadavg | sed 's/^/ /')"
"$out/bench_inline" "$@"
echo
echo "Rust (rseq-libc bench), its rows for the same operations:"
"$root/target/release/rseq-libc" bench | grep -E '^\| (operation|counter increment, 1 thread|ring buffer|pool: alloc \+ free 64 bytes, 1 thread)'
echo "load average after:$(cut -d' ' -f1-3 /proc/loadavg | sed 's/^/ /')"
