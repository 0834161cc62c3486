#!/usr/bin/env bash
# The standalone host (tests/testlibc, no glibc or musl): the
# constructor-time matrix and the TLS tests, each linked -static and
# -static-pie; with rseq and with rseq unavailable (seccomp ENOSYS).
# Ends with "N passed, N failed, N skipped".
set -u
cd "$(dirname "$0")/../.."
root=$PWD
out=${RSEQ_LIBC_TEST_BUILD:-$root/tests/build}/standalone
mkdir -p "$out"
passed=0 failed=0 skipped=0
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; failed=$((failed + 1)); }

if ! cargo build --release -q -p rseq-testlibc > "$out/testlibc.build.log" 2>&1; then
  fail "cargo build -p rseq-testlibc: $(head -c 600 "$out/testlibc.build.log")"
  echo "$passed passed, $failed failed, $skipped skipped"; exit 1
fi
lib=$root/target/release/librseq_testlibc.a
feature_size=$(od -An -tu8 -w16 -v /proc/self/auxv | awk '$1==27 {print $2; f=1} END {if (!f) print 0}')
fs_or_20=$feature_size; [ "$fs_or_20" = 0 ] && fs_or_20=20
cflags=(-O2 -g -Wall -Wextra -Werror -nostdlib -nostdinc -isystem "$(gcc -print-file-name=include)"
        -fno-stack-protector -I"$root/headers" -I"$root/tests/testlibc/include" -I"$root/tests/c")

gcc -O2 -I"$root/tests/c" tests/c/no_rseq_launcher.c -o "$out/no_rseq" 2> "$out/no_rseq.build.log" ||
  fail "no_rseq launcher: $(head -c 300 "$out/no_rseq.build.log")"

build() { # name args...
  local name=$1; shift
  if gcc "${cflags[@]}" "$@" "$lib" -lgcc -o "$out/$name" > "$out/$name.build.log" 2>&1; then return 0; fi
  fail "$name: build failed: $(head -c 600 "$out/$name.build.log")"; return 1
}
run() { # label env... -- command...
  local label=$1; shift
  local log="$out/${label//[^A-Za-z0-9.-]/_}.log"
  if env "$@" > "$log" 2>&1 && grep -q ', 0 failed' "$log"; then
    pass "$label: $(tail -n 1 "$log")"
  else
    fail "$label: $(grep -m 5 -E 'FAIL|passed' "$log" | tr '\n' ' ') (log: $log)"
  fi
}

for mode in static static-pie; do
  pie=(); [ "$mode" = static-pie ] && pie=(-fpie)
  if build "ctor_matrix-$mode" "-$mode" "${pie[@]}" tests/standalone/ctor_matrix.c; then
    run "ctor matrix, $mode" EXPECT_REGISTERED=1 EXPECT_FEATURE_SIZE="$fs_or_20" \
      timeout 30 "$out/ctor_matrix-$mode"
    run "ctor matrix, $mode, rseq unavailable" EXPECT_REGISTERED=0 \
      timeout 30 "$out/no_rseq" "$out/ctor_matrix-$mode"
  fi
  for align in 8 64 4096; do
    if build "tls$align-$mode" "-$mode" "${pie[@]}" -DMAX_ALIGN=$align tests/standalone/tls.c; then
      # The component's own TLS (its 64-aligned area) is in every program,
      # so the segment's alignment is at least 64.
      want=$((align > 64 ? align : 64))
      p_align=$(readelf -lW "$out/tls$align-$mode" | awk '$1 == "TLS" {print $NF}')
      if [ "$((p_align))" = "$want" ]; then pass "tls$align-$mode: PT_TLS p_align $p_align"
      else fail "tls$align-$mode: PT_TLS p_align $p_align, expected $want"; fi
      run "TLS, align $align, 50 threads, $mode" EXPECT_FEATURE_SIZE="$fs_or_20" \
        timeout 30 "$out/tls$align-$mode"
    fi
  done
done

# dl-early-tls's impossible-layout path: a message and status 127 before
# main runs. A real program with its PT_TLS header patched: p_align 48,
# p_filesz > p_memsz, p_memsz 64 TiB (the block cannot be mapped).
impossible() { # label binary message-pattern
  local label=$1 bin=$2 pattern=$3 log="$out/impossible-${1//[^A-Za-z0-9.-]/_}.log"
  timeout 30 "$bin" > "$log" 2>&1
  local rc=$?
  if [ $rc -eq 127 ] && grep -q "^dl-early-tls: .*$pattern" "$log" && ! grep -q FAIL "$log"; then
    pass "impossible TLS, $label: status 127, \"$(head -n 1 "$log")\""
  else
    fail "impossible TLS, $label: status $rc, expected 127 and /$pattern/: $(head -c 300 "$log")"
  fi
}
if ! command -v python3 > /dev/null; then
  skipped=$((skipped + 1)); echo "SKIP impossible TLS (patched headers): python3 not installed"
elif build impossible_tls -static tests/standalone/impossible_tls.c; then
  # Control: unpatched, main runs (and says so).
  if "$out/impossible_tls" 2>&1 | grep -q "main ran"; then
    pass "impossible TLS control: the unpatched program reaches main"
  else
    fail "impossible TLS control: the unpatched program did not reach main"
  fi
  cp "$out/impossible_tls" "$out/impossible_tls-align48"
  cp "$out/impossible_tls" "$out/impossible_tls-filesz"
  cp "$out/impossible_tls" "$out/impossible_tls-huge"
  if python3 tests/standalone/patch_pt_tls.py "$out/impossible_tls-align48" align 48 &&
     python3 tests/standalone/patch_pt_tls.py "$out/impossible_tls-filesz" filesz 0x100000 &&
     python3 tests/standalone/patch_pt_tls.py "$out/impossible_tls-huge" memsz 0x400000000000; then
    impossible "p_align 48" "$out/impossible_tls-align48" "not a power of two"
    impossible "p_filesz > p_memsz" "$out/impossible_tls-filesz" "p_filesz > p_memsz"
    impossible "p_memsz 64 TiB" "$out/impossible_tls-huge" "cannot map"
  else
    fail "impossible TLS: patching PT_TLS failed"
  fi
fi

# Start-up cost, short version (BENCHMARKS.md has the full run:
# bash tests/standalone/startup-bench.sh).
log=$out/startup-bench.log
if STARTUP_ROUNDS=200 bash tests/standalone/startup-bench.sh > "$log" 2>&1 &&
   [ "$(grep -c 'ratio to baseline' "$log")" = 2 ]; then
  pass "startup cost, 200 rounds: $(grep -o 'startup-testlibc-static .*to main: median *[0-9.]* us' "$log" | sed 's/  */ /g'); glibc static $(grep -o 'glibc-static .*to main: median *[0-9.]* us' "$log" | grep -o '[0-9.]* us$'); ratio $(grep 'testlibc-static ' "$log" | grep -o 'to main [0-9.]*' | tail -1)"
else
  fail "startup cost: $(head -c 400 "$log")"
fi

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
