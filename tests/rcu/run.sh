#!/usr/bin/env bash
# Per-CPU RCU (percpu/src/rcu.rs, the C API and the inline read side):
# rcutorture-style runs that must pass, and negative controls that must fail.
#
# - rseq-libc stress --mode rcu (Rust; injected delays, a forced abort in
#   every 32nd section, signals, migrations), cpu_id and mm_cid; then its
#   negative controls --rcu-broken sync (grace periods end at once) and
#   --rcu-broken reader (readers skip the lock), which must FAIL.
# - tests/rcu/rcu_torture.c (C): the calls and the inline read side, with
#   the inline stress hooks (an int3 in every 32nd section), cpu_id and
#   mm_cid, in glibc dynamic (libc owns the area), glibc with
#   glibc.pthread.rseq=0 (rseq-libc owns it), glibc static, musl static,
#   rseq unavailable (seccomp ENOSYS: the atomic fallback), membarrier
#   unavailable from the start (seccomp ENOSYS: fenced readers) and refused
#   after the process registered (the writer visits every CPU); `rseq-libc inspect' on the
#   inline binary; then the negative-control builds (-DBROKEN_SYNC with the
#   calls and inline, -DBROKEN_READER), which must FAIL, caught by their
#   witness rounds every time.
# Needs target/release/{librseq_libc.a,rseq-libc} (cargo build --release).
# Ends with "N passed, N failed, N skipped".
set -u
cd "$(dirname "$0")/../.."
root=$PWD
lib=$root/target/release/librseq_libc.a
bin=$root/target/release/rseq-libc
out=${RSEQ_LIBC_TEST_BUILD:-$root/tests/build}/rcu
secs=${RSEQ_STRESS_SECONDS:-0.5}
mkdir -p "$out"
passed=0 failed=0 skipped=0
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; failed=$((failed + 1)); }
skip() { echo "SKIP $1"; skipped=$((skipped + 1)); }
finish() { echo "$passed passed, $failed failed, $skipped skipped"; [ "$failed" -eq 0 ]; exit; }

if [ ! -f "$lib" ] || [ ! -x "$bin" ]; then
  fail "$lib or $bin missing: run 'cargo build --release' first"
  finish
fi

# ---- Rust: the stress mode and its negative controls ----
stress() { # name expect(pass|fail) args...
  local name=$1 expect=$2; shift 2
  local log=$out/stress-$name.log
  timeout 120 "$bin" stress --mode rcu --seconds "$secs" "$@" > "$log" 2>&1
  local rc=$?
  if [ "$expect" = pass ]; then
    if [ $rc -eq 0 ] && grep -q '^PASS rcu' "$log"; then
      pass "stress $name: $(grep '^PASS rcu' "$log" | cut -c 11-400)"
    else
      fail "stress $name (exit $rc): $(grep -m 2 -E '^FAIL' "$log" | tr '\n' ' ') (log: $log)"
    fi
  else
    # The control must fail by the torture's own check, not by a crash.
    if [ $rc -eq 1 ] && grep -q '^FAIL rcu: rcu (negative control' "$log"; then
      pass "stress $name fails as it must: $(grep '^FAIL rcu' "$log" | cut -c 11-300)"
    else
      fail "stress $name: the negative control did not fail (exit $rc) (log: $log)"
    fi
  fi
}
stress cpu_id pass
stress mm_cid pass --mm-cid
stress broken-sync fail --rcu-broken sync
stress broken-reader fail --rcu-broken reader

# ---- C: calls and inline, every host ----
src=tests/rcu/rcu_torture.c
flags=(-O2 -g -std=gnu11 -Wall -Wextra -Werror -I"$root/headers" -I"$root/tests/c")

build() { # name compiler [flags...]: 0 when built
  local name=$1 cc=$2; shift 2
  if $cc "${flags[@]}" "$@" "$src" "$lib" -lpthread -o "$out/$name" 2> "$out/$name.build.log"; then
    return 0
  fi
  fail "build $name: $(head -c 400 "$out/$name.build.log")"
  return 1
}

ctest() { # name expect(pass|fail) launcher-env binary [args...]
  local name=$1 expect=$2 launcher=$3 b=$4; shift 4
  local log=$out/$(echo "$name" | tr ' ,()=/.' '_______').log
  timeout 120 env $launcher "$b" "$@" > "$log" 2>&1
  local rc=$?
  if [ "$expect" = pass ]; then
    if [ $rc -eq 0 ] && grep -q '^[0-9]* passed, 0 failed' "$log"; then
      pass "$name: $(grep -m 1 '^torture:' "$log")"
    else
      fail "$name (exit $rc): $(grep -m 3 -E '^FAIL|passed' "$log" | tr '\n' ' ') (log: $log)"
    fi
  else
    if [ $rc -eq 1 ] && grep -q '^witness rounds: 4 of 4' "$log"; then
      pass "$name fails as it must: $(grep -m 1 '^witness rounds' "$log"); $(tail -n 1 "$log")"
    else
      fail "$name: the negative control did not fail (exit $rc) (log: $log)"
    fi
  fi
}

if build call gcc && build inline gcc -DRCU_INLINE && build inject gcc -DRCU_INLINE -DINJECT; then
  ctest "glibc calls cpu_id" pass "" "$out/call"
  ctest "glibc calls mm_cid" pass "" "$out/call" --mm-cid
  ctest "glibc inline cpu_id" pass "" "$out/inline"
  ctest "glibc inline+injected aborts cpu_id" pass "" "$out/inject"
  ctest "glibc inline+injected aborts mm_cid" pass "" "$out/inject" --mm-cid
  ctest "glibc rseq=0 (component owns) inline+injected" pass \
    "GLIBC_TUNABLES=glibc.pthread.rseq=0" "$out/inject"
  ctest "membarrier refused after registration (writer visits CPUs) inline+injected" pass \
    "" "$out/inject" --no-membarrier
  if gcc -O2 -I"$root/tests/c" -o "$out/no_membarrier" tests/rcu/no_membarrier_launcher.c 2> "$out/nomb.err"; then
    ctest "membarrier unavailable (fenced readers) inline+injected" pass \
      "$out/no_membarrier" "$out/inject" --expect-fenced
  else
    skip "membarrier unavailable: cannot build the seccomp launcher ($(head -1 "$out/nomb.err"))"
  fi
  launcher=$out/no_rseq
  if gcc -O2 -I"$root/tests/c" -o "$launcher" tests/c/no_rseq_launcher.c 2> "$out/launcher.err"; then
    ctest "rseq unavailable (fallback) inline+injected" pass \
      "GLIBC_TUNABLES=glibc.pthread.rseq=0 $launcher" "$out/inject"
  else
    skip "rseq unavailable: cannot build the seccomp launcher ($(head -1 "$out/launcher.err"))"
  fi
  if "$bin" inspect "$out/inline" > "$out/inspect.log" 2>&1 \
      && grep -q ' 0 violation(s): valid' "$out/inspect.log"; then
    pass "inspect inline: $(tail -n 1 "$out/inspect.log" | sed 's/^[^:]*: //')"
  else
    fail "inspect inline: $(grep -m 3 -iE 'violation|error' "$out/inspect.log" | tr '\n' ' ') (log: $out/inspect.log)"
  fi
fi
if build static gcc -static -DRCU_INLINE -DINJECT; then
  ctest "glibc static inline+injected" pass "" "$out/static"
fi
if command -v musl-gcc > /dev/null; then
  if musl-gcc "${flags[@]}" -static -DRCU_INLINE -DINJECT "$src" "$lib" -o "$out/musl" 2> "$out/musl.build.log"; then
    ctest "musl static inline+injected" pass "" "$out/musl"
  else
    fail "build musl: $(head -c 400 "$out/musl.build.log")"
  fi
else
  skip "musl static: musl-gcc missing (apt-get install musl-tools)"
fi

# ---- C negative controls: must fail ----
build broken-sync-call gcc -DBROKEN_SYNC \
  && ctest "negative control: synchronize returns early (calls)" fail "" "$out/broken-sync-call"
build broken-sync-inline gcc -DRCU_INLINE -DBROKEN_SYNC \
  && ctest "negative control: synchronize returns early (inline)" fail "" "$out/broken-sync-inline"
build broken-reader gcc -DRCU_INLINE -DBROKEN_READER \
  && ctest "negative control: readers skip the lock" fail "" "$out/broken-reader"
finish
