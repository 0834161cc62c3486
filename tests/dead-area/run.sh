#!/usr/bin/env bash
# An rseq area unregistered behind the component's back (a raw
# rseq(RSEQ_FLAG_UNREGISTER), cpu_id -1, mm_cid 0): every C entry point of
# rseq-libc.h, rseq-percpu.h and the inline header must treat it as no area
# (fallback values or a clear error, never an id from the dead area), in
# every host where a thread has an area: glibc dynamic and static with
# glibc owning the area and with glibc.pthread.rseq=0 (the component owns
# it), and musl static. dead_area.c, linked against
# target/release/librseq_libc.a (cargo build --release first). Ends with
# "N passed, N failed, N skipped".
set -u
cd "$(dirname "$0")/../.."
root=$PWD
lib=$root/target/release/librseq_libc.a
out=${RSEQ_LIBC_TEST_BUILD:-$root/tests/build}/dead-area
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
src=tests/dead-area/dead_area.c
flags=(-O2 -g -std=gnu11 -Wall -Wextra -Werror -I"$root/headers" -I"$root/tests/c")
off=GLIBC_TUNABLES=glibc.pthread.rseq=0

run() { # name owner binary [env...]
  local name=$1 owner=$2 b=$3; shift 3
  local log=$out/$(echo "$name" | tr ' ,()=/.' '_______').log
  if env "$@" EXPECT_OWNER="$owner" timeout 60 "$b" > "$log" 2>&1 && grep -q ', 0 failed' "$log"; then
    pass "$name: $(tail -n 1 "$log")"
  else
    fail "$name: $(grep -m 5 -E 'FAIL|passed' "$log" | tr '\n' ' ') (log: $log)"
  fi
}
build() { # binary compiler args...
  local b=$1; shift
  "$@" > "$b.build.log" 2>&1 && return 0
  fail "build $(basename "$b"): $(head -c 600 "$b.build.log")"; return 1
}

if build "$out/dead-glibc" gcc "${flags[@]}" "$src" "$lib" -lpthread -o "$out/dead-glibc"; then
  run "glibc dynamic (libc owns)" 1 "$out/dead-glibc"
  run "glibc dynamic, rseq=0 (component owns)" 2 "$out/dead-glibc" "$off"
fi
if build "$out/dead-glibc-static" gcc "${flags[@]}" -static "$src" "$lib" -lpthread \
     -o "$out/dead-glibc-static"; then
  run "glibc static (libc owns)" 1 "$out/dead-glibc-static"
  run "glibc static, rseq=0 (component owns)" 2 "$out/dead-glibc-static" "$off"
fi
if command -v musl-gcc > /dev/null; then
  build "$out/dead-musl" musl-gcc "${flags[@]}" -static "$src" "$lib" -o "$out/dead-musl" &&
    run "musl static (component owns)" 2 "$out/dead-musl"
else
  skip "musl static: musl-gcc not installed (bash scripts/install-deps.sh musl-tools)"
fi
finish
