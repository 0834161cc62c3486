#!/usr/bin/env bash
# Bounded stress of the per-CPU operations and use cases (rseq-libc stress):
# every mode with injection in the manner of the kernel's param_test (delay
# loops at three points inside the sections, yield / sleep / signal
# injection, affinity migration) and a forced abort (int3 inside the section)
# in every 32nd section, indexed by cpu_id and by mm_cid; an injected run
# FAILS when a mode saw fewer than 1 abort per 1000 operations (a
# deterministic bound: about 32 per 1000 are forced) or an armed section
# committed. Then the atomic fallback with rseq hidden by seccomp (ENOSYS)
# and glibc's registration off. Ends with "N passed, N failed[, N skipped]".
# RSEQ_STRESS_SECONDS sets the time per mode (default 0.5).
set -u
cd "$(dirname "$0")/../.."
root=$PWD
bin=$root/target/release/rseq-libc
out=${RSEQ_LIBC_TEST_BUILD:-$root/tests/build}/percpu
secs=${RSEQ_STRESS_SECONDS:-0.5}
mkdir -p "$out"
passed=0 failed=0 skipped=0
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; failed=$((failed + 1)); }
skip() { echo "SKIP $1"; skipped=$((skipped + 1)); }

if [ ! -x "$bin" ]; then
  echo "FAIL: $bin missing: run 'cargo build --release' first"
  echo "0 passed, 1 failed"
  exit 1
fi

run() { # name expect-aborts command...
  local name=$1 want_aborts=$2; shift 2
  local log=$out/$name.log
  if "$@" > "$log" 2>&1; then
    # Each PASS line reports "(R per 1000 ops)"; an injected run needs R >= 1
    # in every mode (the stress fails such a mode itself; checked again).
    local modes rates low
    modes=$(grep -c '^PASS' "$log")
    rates=$(grep '^PASS' "$log" | sed -n 's/.*(\([0-9.]*\) per 1000 ops).*/\1/p')
    low=$(printf '%s\n' "$rates" | awk 'NF && $1 < 1' | wc -l)
    if [ "$want_aborts" = yes ] && { [ "$low" -ne 0 ] || [ "$(printf '%s\n' "$rates" | grep -c .)" -ne "$modes" ]; }; then
      fail "$name: a mode below 1 abort per 1000 operations"
    else
      pass "$name: $modes modes; aborts per 1000 ops: $(grep '^PASS' "$log" \
        | sed -n 's/^PASS \([a-z]*\):.*(\([0-9.]*\) per 1000 ops).*/\1 \2/p' | paste -sd, -)"
    fi
  else
    fail "$name (exit $?)"
  fi
  sed 's/^/    /' "$log"
}

threads=$((8 * $(nproc)))
run "stress cpu_id, injected" yes "$bin" stress --seconds "$secs" --threads "$threads"
# mm_cid needs Linux 6.3+ (feature size >= 28); older kernels index by cpu_id.
run "stress mm_cid, injected" yes "$bin" stress --seconds "$secs" --threads "$threads" --mm-cid
run "stress cpu_id, no injection" no "$bin" stress --seconds "$secs" --no-inject
# The reader lock with a long delay inside the read-lock section: without the
# writer's membarrier this run sees writers inside read sections.
run "stress lock, long in-section delay" yes "$bin" stress --mode lock --seconds "$secs" --threads "$threads" --delay 3000

# The fallback: no rseq at all. The stress must stay exact with 0 aborts.
launcher=$out/no_rseq
if gcc -O2 -I"$root/tests/c" -o "$launcher" tests/c/no_rseq_launcher.c 2>"$out/launcher.err"; then
  log=$out/fallback.log
  if GLIBC_TUNABLES=glibc.pthread.rseq=0 "$launcher" "$bin" stress --seconds "$secs" > "$log" 2>&1 \
     && grep -q 'unavailable: atomic fallback' "$log"; then
    pass "stress without rseq (atomic fallback)"
  else
    fail "stress without rseq (atomic fallback)"
  fi
  sed 's/^/    /' "$log"
else
  skip "stress without rseq: cannot build the seccomp launcher ($(head -1 "$out/launcher.err"))"
fi

# The C API (headers/rseq-percpu.h): every raw operation and use case from
# several threads, exact totals, bad input; by cpu_id, by mm_cid, and with
# rseq hidden (every object's atomic fallback).
lib=$root/target/release/librseq_libc.a
ctest=$out/percpu_c_test
run_c() { # name launcher args...
  local name=$1 launcher=$2; shift 2
  local log=$out/c-$(echo "$name" | tr ' ,()' '____').log
  if timeout 120 $launcher "$ctest" "$@" > "$log" 2>&1 \
     && grep -q ', 0 failed' "$log"; then
    pass "C API, $name: $(tail -n 1 "$log")"
  else
    fail "C API, $name: $(grep -m 5 -E 'FAIL|passed' "$log" | tr '\n' ' ') (log: $log)"
  fi
}
if [ ! -f "$lib" ]; then
  fail "C API: $lib missing"
elif gcc -O2 -g -std=gnu11 -Wall -Wextra -Werror -I"$root/headers" -I"$root/tests/c" \
     tests/percpu/percpu_c_test.c "$lib" -lpthread -o "$ctest" 2> "$out/c-build.log"; then
  run_c "cpu_id" ""
  run_c "mm_cid" "" --mm-cid
  # The component owns registration (glibc's off): its own unregistration
  # path as well as a raw one, in the unregistered-thread test.
  run_c "mm_cid, component-owned registration" "env GLIBC_TUNABLES=glibc.pthread.rseq=0" --mm-cid
  if [ -x "$launcher" ]; then
    run_c "no rseq (fallback)" "env GLIBC_TUNABLES=glibc.pthread.rseq=0 $launcher"
    grep -q 'no area: fallback paths' "$out"/c-no_rseq__fallback_.log \
      || fail "C API, no rseq: the run still had an area"
  else
    skip "C API without rseq: no seccomp launcher"
  fi
else
  fail "C API: build failed: $(head -c 600 "$out/c-build.log")"
fi

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
