#!/usr/bin/env bash
# Start-up cost of the standalone host (issue 3): time from exec to main of
# the same program (tests/standalone/startup.c, an empty main that only
# reports the time it was reached) linked -static against glibc (the
# baseline) and against the standalone test libc (-static and -static-pie),
# STARTUP_ROUNDS (default 2000) interleaved rounds; medians and the
# per-round ratio to glibc. About 5 s at 2000 rounds on a 2-core VM.
# tests/standalone/run.sh runs a short version (STARTUP_ROUNDS=200).
# Needs target/release/librseq_testlibc.a (cargo build --release).
set -u
cd "$(dirname "$0")/../.."
root=$PWD
out=${RSEQ_LIBC_TEST_BUILD:-$root/tests/build}/standalone
mkdir -p "$out"
lib=$root/target/release/librseq_testlibc.a
[ -f "$lib" ] || { echo "FAIL: $lib missing: run 'cargo build --release'"; exit 1; }
sa=(-O2 -nostdlib -nostdinc -isystem "$(gcc -print-file-name=include)" -fno-stack-protector
    -I"$root/headers" -I"$root/tests/testlibc/include")
set -e
gcc -O2 -Wall -Wextra -Werror tests/standalone/startup_bench.c -o "$out/startup_bench"
gcc -O2 -static tests/standalone/startup.c -o "$out/startup-glibc-static"
gcc "${sa[@]}" -static tests/standalone/startup.c "$lib" -lgcc -o "$out/startup-testlibc-static"
gcc "${sa[@]}" -static-pie -fpie tests/standalone/startup.c "$lib" -lgcc \
  -o "$out/startup-testlibc-static-pie"
set +e
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs, $(uname -r)"
cd "$out"
STARTUP_ROUNDS=${STARTUP_ROUNDS:-2000} ./startup_bench ./startup-glibc-static \
  ./startup-testlibc-static ./startup-testlibc-static-pie
