#!/usr/bin/env bash
# The PMU API (headers/rseq-pmu.h, crate rseq-pmu) on this host, with
# tests/pmu/pmu_test.c linked against target/release/librseq_libc.a
# (glibc static and dynamic; musl static where musl-gcc exists):
#   errors    bad input is a negative errno
#   software  a software event: read(2) reported as RSEQ_PMU_PATH_SOFTWARE,
#             exact; restarts of the read's sequence under forced migration
#             (an injected SIGTRAP whose handler moves the thread)
#   user      rdpmc where a CPU PMU exists; SKIP with the reason elsewhere
#             (this project's VMs: no PMU, software events only)
#   noaccess  rdpmc turned off (/sys/bus/event_source/devices/cpu/rdpmc = 0):
#             read(2) reported as RSEQ_PMU_PATH_NO_ACCESS (SKIP without a PMU)
#   norseq    rseq hidden by seccomp (tests/c/no_rseq_launcher.c): exact
#             through read(2) (the hardware half SKIPs without a PMU)
# The aarch64 guests (tests/arch-guests/run.sh) run the same program where
# the PMU exists. Ends with "N passed, N failed, N skipped".
set -u
cd "$(dirname "$0")/../.."
root=$PWD
lib=$root/target/release/librseq_libc.a
out=${RSEQ_LIBC_TEST_BUILD:-$root/tests/build}/pmu
mkdir -p "$out"
passed=0 failed=0 skipped=0
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; failed=$((failed + 1)); }
skip() { echo "SKIP $1"; skipped=$((skipped + 1)); }
finish() { echo "$passed passed, $failed failed, $skipped skipped"; [ "$failed" -eq 0 ]; exit $?; }

if [ ! -f "$lib" ]; then
  fail "$lib missing: run 'cargo build --release' first"; finish
fi
command -v gcc > /dev/null || { skip "gcc missing"; finish; }
cflags=(-O2 -g -Wall -Wextra -Werror -Iheaders)
hosts=()
build() { # host compiler args...
  local h=$1; shift
  if "$@" > "$out/$h.build.log" 2>&1; then
    hosts+=("$h")
  else
    fail "build $h: $(head -c 400 "$out/$h.build.log")"
  fi
}
build glibc-static gcc "${cflags[@]}" -static tests/pmu/pmu_test.c "$lib" -lpthread -o "$out/pmu-glibc-static"
build glibc-dynamic gcc "${cflags[@]}" tests/pmu/pmu_test.c "$lib" -lpthread -o "$out/pmu-glibc-dynamic"
if command -v musl-gcc > /dev/null; then
  build musl-static musl-gcc "${cflags[@]}" -static tests/pmu/pmu_test.c "$lib" -o "$out/pmu-musl-static"
else
  skip "musl-gcc missing (apt-get install musl-tools): no musl row"
fi
launcher=$out/no_rseq
gcc -O2 -I"$root/tests/c" tests/c/no_rseq_launcher.c -o "$launcher" 2> "$out/launcher.log" || launcher=

# Runs one mode; the program's own SKIP lines become this suite's SKIPs
# (a mode that only skipped is not a pass).
run() { # name command...
  local name=$1; shift
  local log=$out/$name.log
  "$@" > "$log" 2>&1
  local rc=$?
  local summary
  summary=$(tail -n 1 "$log")
  while IFS= read -r line; do
    skip "$name: ${line#SKIP }"
  done < <(grep '^SKIP' "$log")
  if [ "$rc" -ne 0 ] || ! grep -q ', 0 failed' <<< "$summary"; then
    fail "$name (exit $rc): $(grep -m 3 -E '^FAIL' "$log" | tr '\n' ' ' | head -c 600) (log: $log)"
  elif grep -q '^PASS' "$log"; then
    pass "$name: $summary; $(grep '^PASS' "$log" | cut -c 6- | paste -sd ';' -)"
  fi
}

for h in "${hosts[@]}"; do
  prog=$out/pmu-$h
  run "$h errors" "$prog" errors
  run "$h software" "$prog" software
  run "$h user" "$prog" user
  run "$h noaccess" "$prog" noaccess
  if [ -n "$launcher" ]; then
    run "$h norseq" env GLIBC_TUNABLES=glibc.pthread.rseq=0 "$launcher" "$prog" norseq
  fi
done
[ -n "$launcher" ] || skip "no_rseq_launcher did not build: $(head -c 300 "$out/launcher.log")"
finish
