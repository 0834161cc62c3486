#!/usr/bin/env bash
# The preemption-tracking spin locks from C (tests/locks/lock_c_test.c) in
# every host: glibc dynamic (glibc owns the area), glibc with
# glibc.pthread.rseq=0 (the component owns it), glibc static, musl static,
# and rseq unavailable (seccomp ENOSYS: the waiter cannot see the holder,
# its budget decides, and the test expects exactly that). Each run: mutual
# exclusion over a plain counter (4 threads per CPU, SIGUSR1 storm), the
# same-CPU preemption check judged by the lock's counters, the NUMA hand-off
# order with given nodes, bad input. Then `rseq-libc inspect` on a binary
# (the waiter's critical section is listed and valid). fork_test.c, in the
# same hosts: the pthread_atfork idiom with waiters in the parent (a NUMA
# waiter of another node, a sleeping spinlock waiter) that the child must
# not inherit. Needs
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
fork_src=tests/locks/fork_test.c
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

# fork_test.c in one host: name compiler launcher-env [compiler flags...]
fork_run() {
  local name=$1 cc=$2 launcher=$3; shift 3
  local b=$out/fork-$(echo "$name" | tr ' ,()=/.' '_______')
  if ! $cc "${flags[@]}" "$@" "$fork_src" "$lib" -lpthread -o "$b" 2> "$b.build.log"; then
    fail "fork: $name: build: $(head -c 400 "$b.build.log")"; return
  fi
  if timeout 60 env $launcher "$b" > "$b.log" 2>&1 && grep -q '^[0-9]* passed, 0 failed' "$b.log"; then
    pass "fork: $name: $(grep '^child:' "$b.log"); parent $(tail -n 1 "$b.log")"
  else
    fail "fork: $name: $(grep -m 5 -E 'FAIL|passed' "$b.log" | tr '\n' ' ') (log: $b.log)"
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

fork_run "glibc dynamic (libc owns)" gcc ""
fork_run "glibc dynamic, rseq=0 (component owns)" gcc "GLIBC_TUNABLES=glibc.pthread.rseq=0"
[ -x "$out/no_rseq" ] &&
  fork_run "glibc, rseq unavailable (fallback)" gcc "GLIBC_TUNABLES=glibc.pthread.rseq=0 $out/no_rseq"
fork_run "glibc static (libc owns)" gcc "" -static
fork_run "glibc static, rseq=0 (component owns)" gcc "GLIBC_TUNABLES=glibc.pthread.rseq=0" -static
if command -v musl-gcc > /dev/null; then
  fork_run "musl static (component owns)" musl-gcc "" -static
else
  skip "fork: musl static: musl-gcc not installed (bash scripts/install-deps.sh musl-tools)"
fi
finish
