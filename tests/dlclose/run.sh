#!/usr/bin/env bash
# Unloading a plugin that contains the component (the shared-object build,
# cargo build --release --no-default-features). The component pins such a
# plugin (RTLD_NODELETE from its constructor), so that dlclose leaves it
# mapped; without that:
#   - glibc owns registration: a per-CPU sequence leaves the thread's rseq_cs
#     pointing at the plugin's descriptor, and after dlclose the next
#     preemption, migration or signal makes the kernel read unmapped memory
#     and kill the process (SIGSEGV);
#   - the component owns registration (glibc.pthread.rseq=0): each thread's
#     area is in the plugin's TLS, which dlclose frees; the next module with
#     initial-exec TLS receives the same bytes and the kernel writes into them.
# main.c: dlopen, use, dlclose, then migrate to every allowed CPU, yield and
# take a signal, in two threads, checking areas and a second module's TLS.
# Rows: both owners, the plugin loaded directly or as a dependency of a
# dlopened library; the destructor's fallback when pinning fails (a plugin
# whose dlopen answers NULL); the shared-object build linked into a dynamic
# and a static executable (the constructor must do nothing there); musl.
# RSEQ_DLCLOSE_LIB=path/to/librseq_libc.a tests another archive (e.g. one
# built from an older commit) instead of building the shared-object build.
# Ends with "N passed, N failed, N skipped".
set -u
cd "$(dirname "$0")/../.."
root=$PWD
out=${RSEQ_LIBC_TEST_BUILD:-$root/tests/build}/dlclose
mkdir -p "$out"
passed=0 failed=0 skipped=0
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; failed=$((failed + 1)); }
skip() { echo "SKIP $1"; skipped=$((skipped + 1)); }
finish() { echo "$passed passed, $failed failed, $skipped skipped"; [ "$failed" -eq 0 ]; exit; }

lib=${RSEQ_DLCLOSE_LIB:-}
if [ -z "$lib" ]; then
  lib=$out/so-target/release/librseq_libc.a
  if ! cargo build --release -q -p rseq-libc --no-default-features --target-dir "$out/so-target" \
      > "$out/cargo.log" 2>&1; then
    fail "shared-object build (cargo --no-default-features): $(tail -n 3 "$out/cargo.log")"
    finish
  fi
fi
echo "archive: $lib"

src=tests/dlclose
cflags=(-O2 -g -Wall -Wextra -Werror -I"$root/headers" -I"$root/tests/c")
build() { # name compiler args...
  local name=$1; shift
  if "$@" > "$out/$name.build.log" 2>&1; then return 0; fi
  fail "$name: build failed: $(head -c 600 "$out/$name.build.log")"; return 1
}
run() { # name owner [VAR=value...] command...
  local name=$1 owner=$2; shift 2
  local log="$out/${name//[^A-Za-z0-9_.-]/_}.log" vars=()
  while [[ $1 == *=* ]]; do vars+=("$1"); shift; done
  env "${vars[@]}" EXPECT_OWNER="$owner" timeout 60 "$@" > "$log" 2>&1
  local rc=$?
  if [ $rc -eq 0 ] && grep -qE '^[a-z]+: [0-9]+ passed, 0 failed' "$log"; then
    pass "$name: $(tail -n 1 "$log")"
  else
    local why="exit $rc"; [ $rc -gt 128 ] && why="killed by signal $((rc - 128))"
    fail "$name: $why: $(grep -m 4 -E 'FAIL|passed' "$log" | tr '\n' ' ') (log: $log)"
  fi
}
off=GLIBC_TUNABLES=glibc.pthread.rseq=0

ok=1
build plugin gcc "${cflags[@]}" -fPIC -shared $src/plugin.c "$lib" -o "$out/libplugin.so" || ok=0
build nopin gcc "${cflags[@]}" -fPIC -shared $src/plugin.c $src/nopin.c "$lib" \
  -o "$out/libplugin-nopin.so" || ok=0
build outer gcc "${cflags[@]}" -fPIC -shared $src/outer.c -L"$out" -Wl,--no-as-needed -lplugin -Wl,-rpath,"$out" \
  -o "$out/libouter.so" || ok=0
build tls2 gcc "${cflags[@]}" -fPIC -shared $src/tls2.c -o "$out/libtls2.so" || ok=0
build main gcc "${cflags[@]}" $src/main.c -ldl -lpthread -o "$out/main" || ok=0
[ $ok = 1 ] || finish

p=$out/libplugin.so np=$out/libplugin-nopin.so t2=$out/libtls2.so
# main OPEN PLUGIN OP THREAD MAPPED [TLS2]
run "glibc owns: per-CPU counter in the plugin, 2 threads, dlclose, churn" 1 \
  "$out/main" "$p" "$p" counter 1 1 "$t2"
run "component owns (rseq=0): registration only, 2 threads; plugin stays mapped, areas right, next module's TLS untouched" 2 \
  "$off" "$out/main" "$p" "$p" register 1 1 "$t2"
run "component owns (rseq=0): per-CPU counter, 2 threads, dlclose, churn, next module's TLS untouched" 2 \
  "$off" "$out/main" "$p" "$p" counter 1 1 "$t2"
run "glibc owns: plugin as a dependency of a dlopened library" 1 \
  "$out/main" "$out/libouter.so" "$p" counter 1 1
run "component owns (rseq=0): plugin as a dependency of a dlopened library" 2 \
  "$off" "$out/main" "$out/libouter.so" "$p" counter 1 1 "$t2"
# The mechanism, not only its effect: glibc itself reports the marking.
if LD_DEBUG=files EXPECT_OWNER=1 "$out/main" "$p" "$p" counter 0 1 > "$out/ld-debug.log" 2>&1 &&
   grep -q "marking $p \[0\] as NODELETE" "$out/ld-debug.log"; then
  pass "LD_DEBUG=files: glibc marks the plugin NODELETE during its dlopen"
else
  fail "LD_DEBUG=files: no 'marking $p [0] as NODELETE' (log: $out/ld-debug.log)"
fi
# Pinning fails: the destructor releases the unloading thread (one thread:
# the fallback cannot reach others), and the plugin is really unmapped.
run "fallback (pinning fails): glibc owns, counter, dlclose clears rseq_cs" 1 \
  "$out/main" "$np" "$np" counter 0 0
run "fallback (pinning fails): component owns, counter, dlclose unregisters" 2 \
  "$off" "$out/main" "$np" "$np" counter 0 0 "$t2"

# The shared-object build linked into executables: the constructor sees the
# executable (dynamic: a link map named ""; static: no dladdr1) and nothing
# else changes.
if build exe-dynamic gcc "${cflags[@]}" $src/exe_main.c $src/plugin.c "$lib" -lpthread \
    -o "$out/exe-dynamic"; then
  run "executable (glibc dynamic, libc owns)" 1 "$out/exe-dynamic"
  run "executable (glibc dynamic, rseq=0)" 2 "$off" "$out/exe-dynamic"
  if LD_DEBUG=files EXPECT_OWNER=1 "$out/exe-dynamic" > "$out/exe-ld-debug.log" 2>&1 &&
     ! grep -qE "NODELETE|dynamically loaded" "$out/exe-ld-debug.log"; then
    pass "executable: LD_DEBUG=files shows no dlopen (a dlopen of argv[0] would show)"
  else
    fail "executable: LD_DEBUG=files output mentions it (log: $out/exe-ld-debug.log)"
  fi
fi
if build exe-static gcc "${cflags[@]}" -static $src/exe_main.c $src/plugin.c "$lib" -lpthread \
    -o "$out/exe-static"; then
  run "executable (glibc static, libc owns)" 1 "$out/exe-static"
  run "executable (glibc static, rseq=0)" 2 "$off" "$out/exe-static"
fi

# musl refuses to dlopen an object with initial-exec TLS (the component's
# area), so a musl plugin can only be loaded at startup (DT_NEEDED); and
# musl's dlclose never unmaps. Check that the constructor (no dladdr1 in
# musl) and exit stay harmless there, with dlopen/dlclose of the loaded plugin.
if ! command -v musl-gcc > /dev/null; then
  skip "musl: musl-gcc not installed (apt-get install musl-tools)"
elif [ ! -e /lib/ld-musl-x86_64.so.1 ]; then
  skip "musl: no dynamic loader /lib/ld-musl-x86_64.so.1"
else
  mcflags=(-O2 -g -Wall -Wextra -I"$root/headers" -I"$root/tests/c")
  mkdir -p "$out/musl"
  if build plugin-musl musl-gcc "${mcflags[@]}" -fPIC -shared $src/plugin.c "$lib" \
       -o "$out/musl/libplugin.so" &&
     build main-musl musl-gcc "${mcflags[@]}" $src/main.c -L"$out/musl" -Wl,--no-as-needed -lplugin \
       -Wl,-rpath,"$out/musl" -o "$out/musl/main"; then
    run "musl dynamic (plugin loaded at startup): counter, 2 threads, dlclose, churn" 2 \
      EXPECT_WORKER_OWNER=-95 "$out/musl/main" "$out/musl/libplugin.so" "$out/musl/libplugin.so" counter 1 1
  fi
fi
finish
