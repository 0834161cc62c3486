#!/usr/bin/env bash
# The preemption-tracking spin locks from C (tests/locks/lock_c_test.c) in
# every host: glibc dynamic (glibc owns the area), glibc with
# glibc.pthread.rseq=0 (the component owns it), glibc static, musl static,
# and rseq unavailable (seccomp ENOSYS: the waiter cannot see the holder,
# its budget decides, and the test expects exactly that). Each run: mutual
# exclusion over a plain counter (4 threads per CPU, SIGUSR1 storm), the
# same-CPU preemption check judged by the lock's counters, the NUMA hand-off
# order with given nodes, bad input. Then `rseq-libc inspect` on a binary
# (the waiter's critical section is listed and valid). Needs
# target/release/librseq_libc.a (cargo build --release). Ends with
# "N passed, N failed, N skipped".
set -u
cd "$(dirname "$0")/../.."
root=$PWD
lib=$root/target/release/librseq_libc.a
bin=$root/target/release/rseq-libc
out=${RSEQ_LIBC_TEST_BUILD:-$root/tests/build}/locks
mkdir -p "$out"
passed=0 failed=0 skipped=0
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; failed=$((failed + 1)); }
skip() { echo "SKIP $1"; skipped=$((skipped + 1)); }
finish() { echo "$passed passed, $failed failed, $skipped skipped"; [ "$failed" -eq 0 ]; exit; }

if [ ! -f "$lib" ]; then
  fail "$lib missing: run 'cargo build --release' first"
  finish
fi
src=tests/locks/lock_c_test.c
flags=(-O2 -g -std=gnu11 -Wall -Wextra -Werror -I"$root/headers" -I"$root/tests/c")

run() { # name launcher binary
  local name=$1 launcher=$2 b=$3
  local log=$out/$(echo "$name" | tr ' ,()=/.' '_______').log
  if timeout 120 env $launcher "$b" > "$log" 2>&1 && grep -q ', 0 failed' "$log"; then
    pass "$name: $(grep -m 1 '^pinned' "$log" | sed 's/ (area.*): / /'); $(tail -n 1 "$log")"
  else
    fail "$name: $(grep -m 5 -E 'FAIL|passed' "$log" | tr '\n' ' ') (log: $log)"
  fi
}

if gcc "${flags[@]}" "$src" "$lib" -lpthread -o "$out/lock-glibc" 2> "$out/build-glibc.log"; then
  run "glibc dynamic (libc owns)" "" "$out/lock-glibc"
  run "glibc dynamic, rseq=0 (component owns)" "GLIBC_TUNABLES=glibc.pthread.rseq=0" "$out/lock-glibc"
  if "$bin" inspect "$out/lock-glibc" > "$out/inspect.log" 2>&1; then
    pass "inspect lock-glibc: $(tail -n 1 "$out/inspect.log" | sed 's/^[^:]*: //')"
  else
    fail "inspect lock-glibc: $(grep -m 3 -iE 'violation|error' "$out/inspect.log" | tr '\n' ' ')"
  fi
  launcher=$out/no_rseq
  if gcc -O2 -I"$root/tests/c" -o "$launcher" tests/c/no_rseq_launcher.c 2> "$out/launcher.err"; then
    run "glibc, rseq unavailable (fallback)" "GLIBC_TUNABLES=glibc.pthread.rseq=0 $launcher" "$out/lock-glibc"
    grep -q '^area: no' "$out"/glibc__rseq_unavailable__fallback_.log \
      || fail "rseq unavailable: the run still had an area"
  else
    skip "rseq unavailable: cannot build the seccomp launcher ($(head -1 "$out/launcher.err"))"
  fi
else
  fail "glibc build: $(head -c 600 "$out/build-glibc.log")"
fi
if gcc "${flags[@]}" -static "$src" "$lib" -lpthread -o "$out/lock-glibc-static" 2> "$out/build-static.log"; then
  run "glibc static (libc owns)" "" "$out/lock-glibc-static"
else
  skip "glibc static: $(head -c 200 "$out/build-static.log")"
fi
if command -v musl-gcc > /dev/null; then
  if musl-gcc "${flags[@]}" -static "$src" "$lib" -o "$out/lock-musl" 2> "$out/build-musl.log"; then
    run "musl static (component owns)" "" "$out/lock-musl"
  else
    fail "musl build: $(head -c 600 "$out/build-musl.log")"
  fi
else
  skip "musl static: musl-gcc not installed (bash scripts/install-deps.sh musl-tools)"
fi
finish
