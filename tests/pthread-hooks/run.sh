#!/usr/bin/env bash
# The pthread hooks in every host: lifecycle, signal storm and reuse after
# exit (and fork/vfork/posix_spawn inside lifecycle), the safety regressions
# (safety.c: detached and C11 threads, timer threads, setuid, atexit, keys),
# and attribute signal masks (sigmask.c, glibc hosts), linked against
# target/release/librseq_libc.a with the README's plain link lines (the
# component's own pthread_create and thrd_create hook every thread); the
# older -Wl,--wrap=pthread_create and
# -Wl,--defsym=pthread_create=rseq_libc_pthread_create still work (rows).
# Hosts: glibc-owned (control: the hooks do nothing), glibc with
# glibc.pthread.rseq=0 (dynamic and static), musl static and the standalone
# test libc, static and static-pie (component owns). Counts scale with STORM_THREADS (20000), REUSE_THREADS (10000).
# Ends with "N passed, N failed, N skipped".
set -u
cd "$(dirname "$0")/../.."
root=$PWD
lib=$root/target/release/librseq_libc.a
out=${RSEQ_LIBC_TEST_BUILD:-$root/tests/build/pthread-hooks}
mkdir -p "$out"
passed=0 failed=0 skipped=0
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; failed=$((failed + 1)); }
skip() { echo "SKIP $1"; skipped=$((skipped + 1)); }
if [ ! -f "$lib" ]; then
  echo "FAIL: $lib missing: run 'cargo build --release' first"; echo "0 passed, 1 failed"; exit 1
fi
src=tests/pthread-hooks
cflags=(-O2 -g -Wall -Wextra -Werror -I"$root/headers" -I"$root/tests/c" -I"$root/$src")
wrap=(-Wl,--wrap=pthread_create)
interpose=(-Wl,--defsym=pthread_create=rseq_libc_pthread_create)

build() { # name compiler args...
  local name=$1; shift
  if "$@" > "$out/$name.build.log" 2>&1; then return 0; fi
  fail "$name: build failed: $(head -c 600 "$out/$name.build.log")"; return 1
}
run() { # name owner binary [env...]
  local name=$1 owner=$2 bin=$3; shift 3
  local log="$out/${name//[^A-Za-z0-9_.-]/_}.log" t=$SECONDS
  env "$@" EXPECT_OWNER="$owner" timeout -s KILL 120 "$bin" "${RUN_ARGS[@]}" > "$log" 2>&1
  local rc=$?
  if [ $rc -eq 0 ] && grep -q ", 0 failed" "$log"; then
    pass "$name ($((SECONDS - t)) s): $(grep -E '^storm:' "$log" | head -1) $(tail -n 1 "$log")"
  else
    fail "$name: exit $rc: $(grep -m 5 -E 'FAIL|passed' "$log" | tr '\n' ' ') (log: $log)"
  fi
}
off=GLIBC_TUNABLES=glibc.pthread.rseq=0
RUN_ARGS=()
# What static musl publishes in __rseq_size (every thread starts hooked):
# the kernel's AT_RSEQ_FEATURE_SIZE (key 27), 20 where it reports none.
feature_size=$(od -An -tu8 -w16 -v /proc/self/auxv | awk '$1==27 {print $2; f=1} END {if (!f) print 0}')
published=$(( feature_size > 0 ? feature_size : 20 ))

for t in lifecycle storm reuse safety; do
  modes=(""); [ "$t" = safety ] && modes=(detached setxid atexit keys)
  built_gd=0 built_gs=0 built_ms=0
  build "$t-glibc-dynamic" gcc "${cflags[@]}" "$src/$t.c" "$lib" -lpthread \
    -o "$out/$t-glibc-dynamic" && built_gd=1
  build "$t-glibc-static" gcc "${cflags[@]}" -static "$src/$t.c" "$lib" -lpthread \
    -o "$out/$t-glibc-static" && built_gs=1
  if command -v musl-gcc > /dev/null; then
    build "$t-musl-static" musl-gcc "${cflags[@]}" -static "$src/$t.c" "$lib" \
      -o "$out/$t-musl-static" && built_ms=1
  else
    skip "$t: musl static: musl-gcc not installed (apt-get install musl-tools)"
  fi
  for m in "${modes[@]}"; do
    RUN_ARGS=(); name=$t
    [ -n "$m" ] && { RUN_ARGS=("$m"); name="$t $m"; }
    if [ $built_gd = 1 ]; then
      run "$name: glibc dynamic (libc owns; control)" 1 "$out/$t-glibc-dynamic"
      run "$name: glibc dynamic, rseq=0" 2 "$out/$t-glibc-dynamic" "$off" EXPECT_RSEQ_SIZE=0
    fi
    if [ $built_gs = 1 ]; then
      run "$name: glibc static (libc owns; control)" 1 "$out/$t-glibc-static"
      run "$name: glibc static, rseq=0" 2 "$out/$t-glibc-static" "$off" EXPECT_RSEQ_SIZE=0
    fi
    [ $built_ms = 1 ] && run "$name: musl static" 2 "$out/$t-musl-static" EXPECT_RSEQ_SIZE=$published
  done
  RUN_ARGS=()
done

# SIGEV_THREAD timers (safety.c -DSAFETY_TIMER links timer_create): their
# callbacks get an area; static musl then publishes no __rseq_size (it
# recycles the timer thread, TLS included, between callbacks).
RUN_ARGS=(timer)
build safety-timer-glibc gcc "${cflags[@]}" -DSAFETY_TIMER "$src/safety.c" "$lib" -lpthread \
  -o "$out/safety-timer-glibc" &&
  { run "safety timer: glibc dynamic (libc owns; control)" 1 "$out/safety-timer-glibc"
    run "safety timer: glibc dynamic, rseq=0" 2 "$out/safety-timer-glibc" "$off" EXPECT_RSEQ_SIZE=0; }
if command -v musl-gcc > /dev/null; then
  build safety-timer-musl musl-gcc "${cflags[@]}" -DSAFETY_TIMER -static "$src/safety.c" "$lib" \
    -o "$out/safety-timer-musl" &&
    run "safety timer: musl static" 2 "$out/safety-timer-musl" EXPECT_RSEQ_SIZE=0
fi
RUN_ARGS=()

# The older link lines still hook: -Wl,--wrap=pthread_create enters the
# same function as the component's pthread_create.
build lifecycle-glibc-wrap gcc "${cflags[@]}" "$src/lifecycle.c" "$lib" "${wrap[@]}" -lpthread \
  -o "$out/lifecycle-glibc-wrap" &&
  run "lifecycle: glibc dynamic, rseq=0, --wrap" 2 "$out/lifecycle-glibc-wrap" "$off"
if command -v musl-gcc > /dev/null; then
  build safety-musl-wrap musl-gcc "${cflags[@]}" -static "$src/safety.c" "$lib" "${wrap[@]}" \
    -o "$out/safety-musl-wrap" && { RUN_ARGS=(detached)
    run "safety detached: musl static, --wrap" 2 "$out/safety-musl-wrap"; RUN_ARGS=(); }
fi

# The standalone host (tests/testlibc, no glibc or musl): the test libc's
# own clone threads run the hooks' start and exit steps
# (NewThreadRegistration, unregister_at_thread_exit); no --wrap needed.
salib=$root/target/release/librseq_testlibc.a
sacflags=(-O2 -g -Wall -Wextra -Werror -nostdlib -nostdinc -isystem "$(gcc -print-file-name=include)"
          -fno-stack-protector -I"$root/headers" -I"$root/tests/testlibc/include"
          -I"$root/tests/c" -I"$root/$src")
if [ -f "$salib" ]; then
  for mode in static static-pie; do
    pie=(); [ "$mode" = static-pie ] && pie=(-fpie)
    for t in lifecycle storm reuse; do
      build "$t-standalone-$mode" gcc "${sacflags[@]}" "-$mode" "${pie[@]}" "$src/$t.c" "$salib" -lgcc \
        -o "$out/$t-standalone-$mode" &&
        run "$t: standalone $mode" 2 "$out/$t-standalone-$mode"
    done
  done
else
  fail "standalone: $salib missing: run 'cargo build --release' first"
fi

# A thread that cannot register although its creator is registered ends
# the process (fatal.c): the hooks with status 127 and their message,
# glibc's own path (control) with SIGABRT and glibc's message.
fatal_run() { # name binary expected-status message-pattern owner [env...]
  local name=$1 bin=$2 want=$3 pattern=$4 owner=$5; shift 5
  local log="$out/${name//[^A-Za-z0-9_.-]/_}.log"
  (env "$@" EXPECT_OWNER="$owner" timeout -s KILL 60 "$bin") > "$log" 2>&1
  local rc=$?
  if [ $rc -eq 77 ]; then skip "$name: $(head -n 1 "$log")"
  elif [ $rc -eq "$want" ] && grep -q "$pattern" "$log" && ! grep -q FAIL "$log"; then
    pass "$name: status $rc, \"$(grep -m 1 "$pattern" "$log" | head -c 90)...\""
  else
    fail "$name: status $rc (expected $want and /$pattern/): $(head -c 400 "$log")"
  fi
}
hooks_msg="could not register its rseq area"
if build fatal-glibc-dynamic gcc "${cflags[@]}" "$src/fatal.c" "$lib" -lpthread \
     -o "$out/fatal-glibc-dynamic"; then
  fatal_run "fatal: glibc dynamic (libc owns; control)" "$out/fatal-glibc-dynamic" 134 \
    "rseq registration failed" 1
  fatal_run "fatal: glibc dynamic, rseq=0" "$out/fatal-glibc-dynamic" 127 "$hooks_msg" 2 "$off"
fi
if build fatal-glibc-static gcc "${cflags[@]}" -static "$src/fatal.c" "$lib" \
     -lpthread -o "$out/fatal-glibc-static"; then
  fatal_run "fatal: glibc static, rseq=0" "$out/fatal-glibc-static" 127 "$hooks_msg" 2 "$off"
fi
if command -v musl-gcc > /dev/null &&
   build fatal-musl-static musl-gcc "${cflags[@]}" -static "$src/fatal.c" "$lib" \
     -o "$out/fatal-musl-static"; then
  fatal_run "fatal: musl static" "$out/fatal-musl-static" 127 "$hooks_msg" 2
fi
if [ -f "$salib" ] &&
   build fatal-standalone gcc "${sacflags[@]}" -static "$src/fatal.c" "$salib" -lgcc \
     -o "$out/fatal-standalone"; then
  fatal_run "fatal: standalone static" "$out/fatal-standalone" 127 "$hooks_msg" 2
fi

# A thread whose attribute carries its own signal mask (glibc >= 2.32,
# pthread_attr_setsigmask_np; musl and the test libc have no such API):
# a pending SIGUSR1 only it can take must find its area registered, and it
# must run with the attribute's mask (sigmask.c).
sigmask_run() { # name binary owner [env...]
  local name=$1 bin=$2 owner=$3; shift 3
  local log="$out/${name//[^A-Za-z0-9_.-]/_}.log"
  (env "$@" EXPECT_OWNER="$owner" timeout -s KILL 60 "$bin") > "$log" 2>&1
  local rc=$?
  if [ $rc -eq 77 ]; then skip "$name: $(head -n 1 "$log")"
  elif [ $rc -eq 0 ] && grep -q ", 0 failed" "$log"; then pass "$name: $(head -n 1 "$log")"
  else fail "$name: exit $rc: $(grep -m 5 -E 'FAIL|passed' "$log" | tr '\n' ' ') (log: $log)"
  fi
}
if build sigmask-glibc-dynamic gcc "${cflags[@]}" "$src/sigmask.c" "$lib" -lpthread \
     -o "$out/sigmask-glibc-dynamic"; then
  sigmask_run "sigmask: glibc dynamic (libc owns; control)" "$out/sigmask-glibc-dynamic" 1
  sigmask_run "sigmask: glibc dynamic, rseq=0" "$out/sigmask-glibc-dynamic" 2 "$off"
fi
if build sigmask-glibc-static gcc "${cflags[@]}" -static "$src/sigmask.c" "$lib" \
     -lpthread -o "$out/sigmask-glibc-static"; then
  sigmask_run "sigmask: glibc static (libc owns; control)" "$out/sigmask-glibc-static" 1
  sigmask_run "sigmask: glibc static, rseq=0" "$out/sigmask-glibc-static" 2 "$off"
fi
# Static, with the setter but not the getter: the hooks cannot read a mask
# and refuse (ENOSYS); -Wl,-u,pthread_attr_getsigmask_np links the getter.
if build sigmask-setter-only gcc "${cflags[@]}" -DSETTER_ONLY -static "$src/sigmask.c" "$lib" \
     -lpthread -o "$out/sigmask-setter-only"; then
  if nm "$out/sigmask-setter-only" | grep -q " [TW] pthread_attr_getsigmask_np$"; then
    fail "sigmask: glibc static, setter only: the getter was linked anyway (test premise broken)"
  else
    sigmask_run "sigmask: glibc static, setter only (libc owns; control)" "$out/sigmask-setter-only" 1
    sigmask_run "sigmask: glibc static, setter only, rseq=0: ENOSYS" "$out/sigmask-setter-only" 2 "$off"
  fi
fi
if build sigmask-static-u gcc "${cflags[@]}" -DSETTER_ONLY -static "$src/sigmask.c" "$lib" \
     -Wl,-u,pthread_attr_getsigmask_np -lpthread -o "$out/sigmask-static-u"; then
  sigmask_run "sigmask: glibc static, setter only + -Wl,-u,pthread_attr_getsigmask_np, rseq=0" \
    "$out/sigmask-static-u" 2 "$off" EXPECT_CREATE=0
fi
if build sigmask-interpose gcc "${cflags[@]}" "$src/sigmask.c" "$lib" "${interpose[@]}" -lpthread \
     -o "$out/sigmask-interpose"; then
  sigmask_run "sigmask: glibc dynamic, rseq=0, --defsym interposition" "$out/sigmask-interpose" 2 "$off"
fi

# Dynamic symbol interposition: a shared library's own pthread_create call
# is hooked too (lifecycle checks it with -DWITH_HOOKSLIB).
if build hookslib gcc "${cflags[@]}" -fPIC -shared "$src/hookslib.c" -o "$out/libhookslib.so" &&
   build lifecycle-interpose gcc "${cflags[@]}" -DWITH_HOOKSLIB "$src/lifecycle.c" \
     -L"$out" -lhookslib -Wl,-rpath,"$out" "$lib" "${interpose[@]}" -lpthread \
     -o "$out/lifecycle-interpose"; then
  run "lifecycle: glibc dynamic (libc owns; control), --defsym" 1 "$out/lifecycle-interpose"
  run "lifecycle: glibc dynamic, rseq=0, --defsym interposition" 2 "$out/lifecycle-interpose" "$off"
fi
# The plain link line exports the component's pthread_create to the shared
# libraries linked with the program, so their threads are hooked too.
if build lifecycle-hookslib gcc "${cflags[@]}" -DWITH_HOOKSLIB "$src/lifecycle.c" \
     -L"$out" -lhookslib -Wl,-rpath,"$out" "$lib" -lpthread -o "$out/lifecycle-hookslib"; then
  run "lifecycle: glibc dynamic, rseq=0, a shared library's threads" 2 "$out/lifecycle-hookslib" "$off"
fi
# Hidden from the shared library (the archive's symbols made local), the
# library's thread starts unregistered, which the check must see (it
# proves the check can fail); the thread still works, registered lazily.
if build lifecycle-hidden gcc "${cflags[@]}" -DWITH_HOOKSLIB "$src/lifecycle.c" \
     -L"$out" -lhookslib -Wl,-rpath,"$out" "$lib" -Wl,--exclude-libs,ALL -lpthread \
     -o "$out/lifecycle-hidden"; then
  log=$out/lifecycle-hidden.log
  env "$off" EXPECT_OWNER=2 timeout -s KILL 60 "$out/lifecycle-hidden" > "$log" 2>&1
  if grep -q "FAIL.*hookslib_spawn" "$log" && grep -q "lifecycle: .*, 1 failed" "$log"; then
    pass "lifecycle: pthread_create hidden from a shared library: its thread is not hooked (expected failure seen)"
  else
    fail "lifecycle: hidden pthread_create: expected exactly the shared-library check to fail (log: $log)"
  fi
fi

# The cost benchmark (about 60 s; BENCHMARKS.md): PTHREAD_HOOKS_BENCH=1,
# unpinned, then every child pinned to the last CPU (BENCH_CPU).
if [ "${PTHREAD_HOOKS_BENCH:-0}" = 1 ] &&
   build bench gcc "${cflags[@]}" "$src/bench.c" "$lib" -lpthread -o "$out/bench"; then
  musl_bench=()
  command -v musl-gcc > /dev/null && build bench-musl musl-gcc "${cflags[@]}" -static "$src/bench.c" \
    "$lib" -o "$out/bench-musl" && musl_bench=("$out/bench-musl")
  if "$out/bench" "${musl_bench[@]}" | tee "$out/bench.log" | grep -q ", 0 failed"; then
    pass "bench: $(grep ratio "$out/bench.log")"
  else
    fail "bench (log: $out/bench.log)"
  fi
  # The same with creator and new thread on one CPU: the CPU cost alone.
  pin=$(( $(nproc) - 1 ))
  if BENCH_CPU=$pin "$out/bench" | tee "$out/bench-pinned.log" | grep -q ", 0 failed"; then
    pass "bench, pinned to CPU $pin: $(grep ratio "$out/bench-pinned.log")"
  else
    fail "bench, pinned (log: $out/bench-pinned.log)"
  fi
fi

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
