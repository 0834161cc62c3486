#!/usr/bin/env bash
# Coexistence with programs that register rseq themselves (the kernel's
# rseq selftests and librseq: rseq_register_current_thread; tcmalloc and
# old librseq: their own __rseq_abi), linked with the README's plain link
# lines: where the component would own registration it steps aside, and the
# program's own registration works in every thread (self_registering.c).
# Ends with "N passed, N failed, N skipped".
set -u
cd "$(dirname "$0")/../.."
root=$PWD
lib=$root/target/release/librseq_libc.a
out=${RSEQ_LIBC_TEST_BUILD:-$root/tests/build}/coexist
mkdir -p "$out"
passed=0 failed=0 skipped=0
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; failed=$((failed + 1)); }
skip() { echo "SKIP $1"; skipped=$((skipped + 1)); }
if [ ! -f "$lib" ]; then
  echo "FAIL: $lib missing: run 'cargo build --release' first"; echo "0 passed, 1 failed"; exit 1
fi
cflags=(-O2 -g -Wall -Wextra -Werror -I"$root/headers" -I"$root/tests/c")
off=GLIBC_TUNABLES=glibc.pthread.rseq=0
build() { # name command...
  local name=$1; shift
  if "$@" > "$out/$name.build.log" 2>&1; then return 0; fi
  fail "$name: build failed: $(head -c 600 "$out/$name.build.log")"; return 1
}
run() { # name owner binary [env...]
  local name=$1 owner=$2 bin=$3; shift 3
  local log="$out/${name//[^A-Za-z0-9_.-]/_}.log"
  env "$@" EXPECT_OWNER="$owner" timeout -s KILL 60 "$bin" > "$log" 2>&1
  local rc=$?
  if [ $rc -eq 0 ] && grep -q ", 0 failed" "$log"; then pass "$name: $(tail -n 1 "$log")"
  else fail "$name: exit $rc: $(grep -m 4 -E 'FAIL|passed' "$log" | tr '\n' ' ') (log: $log)"; fi
}
for kind in selftests legacy; do
  defs=(); [ $kind = legacy ] && defs=(-DLEGACY_ABI)
  label="$kind-style"
  if build "$kind-glibc-dynamic" gcc "${cflags[@]}" "${defs[@]}" tests/coexist/self_registering.c \
       "$lib" -lpthread -o "$out/$kind-glibc-dynamic"; then
    run "$label: glibc dynamic (libc owns; control)" 1 "$out/$kind-glibc-dynamic"
    run "$label: glibc dynamic, rseq=0: the program registers itself" 0 "$out/$kind-glibc-dynamic" "$off"
  fi
  if build "$kind-glibc-static" gcc "${cflags[@]}" "${defs[@]}" -static tests/coexist/self_registering.c \
       "$lib" -lpthread -o "$out/$kind-glibc-static"; then
    run "$label: glibc static, rseq=0: the program registers itself" 0 "$out/$kind-glibc-static" "$off"
  fi
  if command -v musl-gcc > /dev/null; then
    build "$kind-musl-static" musl-gcc "${cflags[@]}" "${defs[@]}" -static \
      tests/coexist/self_registering.c "$lib" -o "$out/$kind-musl-static" &&
      run "$label: musl static: the program registers itself" 0 "$out/$kind-musl-static"
  else
    skip "$label: musl static: musl-gcc not installed (apt-get install musl-tools)"
  fi
done
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
