#!/usr/bin/env bash
# The per-CPU operations from Rust (rseq-percpu inlined), from inline C
# (headers/rseq-percpu-inline.h) and through the C calls, each beside a
# floor of the same run, in one table: builds tests/percpu/bench_inline.c
# and runs `rseq-libc bench --with-c` on it, which interleaves its Rust
# rounds with one-round runs of bench_inline (best of ROUNDS, default 7),
# all pinned to the CPU it starts on.
# Usage: bench_inline.sh [ROUNDS]. BENCH_INLINE_TABLE=1: also bench_inline's
# own table (C rows only, its rounds in one process).
set -eu
cd "$(dirname "$0")/../.."
root=$PWD
out=${RSEQ_LIBC_TEST_BUILD:-$root/tests/build}/percpu
mkdir -p "$out"
lib=$root/target/release/librseq_libc.a
bin=$root/target/release/rseq-libc
for f in "$lib" "$bin"; do
  [ -f "$f" ] || { echo "$f missing: run 'cargo build --release' first"; exit 1; }
done
gcc -O2 -g -Wall -Wextra -Werror -I"$root/headers" tests/percpu/bench_inline.c "$lib" \
  -lpthread -o "$out/bench_inline"
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs; load average:$(cut -d' ' -f1-3 /proc/loadavg | sed 's/^/ /')"
"$bin" bench --with-c "$out/bench_inline" --rounds "${1:-7}"
if [ "${BENCH_INLINE_TABLE:-0}" = 1 ]; then
  echo
  "$out/bench_inline" "${1:-7}"
fi
echo "load average after:$(cut -d' ' -f1-3 /proc/loadavg | sed 's/^/ /')"
