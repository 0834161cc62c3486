#!/usr/bin/env bash
# The rseq time-slice extension (rseq_libc_slice_*; tests/kernels/slice.c):
#
# - on a 7.3 kernel built with CONFIG_RSEQ_SLICE_EXTENSION (build-kernel.sh;
#   cached, about 15-25 min cold at -j2), booted with qemu (TCG, -smp 2):
#   the component's registration enables the extension (glibc static with
#   glibc.pthread.rseq=0, musl static), the request/release protocol, forced
#   grants under a competing thread on the same CPU (counted by the kernel's
#   debugfs rseq/stats), an oversubscribed stress with a signal handler that
#   uses the API too, and the fallback where it is not offered (glibc 2.36's
#   own 32-byte registration, rseq blocked by seccomp); with the
#   registration flag refused (refuse_slice_flag.c, seccomp EINVAL, as
#   kernels before 7.0 answer): still registered, enabled by prctl; a negative control
#   (a release that never yields) that must fail; and the kernel's own
#   selftest slice_test (linux-source-7.3, self-registered), which must run
#   its three variants rather than skip;
# - on Debian's stock kernels (fetch.sh: 6.1, 6.12, 7.0, 7.1, 7.3) and on
#   this machine's kernel: the no-op fallback (-EOPNOTSUPP) with
#   registration unchanged, whoever owns it, also with the flag refused;
# - everywhere: the spin lock's held-while-locked extension (lock_slice.c):
#   8 threads hammer one rseq_percpu_spinlock (plain counter exact,
#   slice_ctrl 0 after every unlock, requested == holds where offered, 0
#   elsewhere); on the custom kernel also forced grants of a held lock (a
#   busy thread on the holder's CPU), counted by the lock's own "granted"
#   (holder preemptions avoided), and a negative control (extension off by
#   prctl) that must fail. One "lock-slice KERNEL:" line per kernel gives
#   the figures.
#
# About 75-100 s warm here (the custom guest about 40 s, each stock guest 6 s);
# the first run builds the kernel (about 19 min at -j2 on this loaded
# machine; of the guest times, the lock programs take about 8 s in the custom guest, 3 s in
# each stock one). Needs target/release/librseq_libc.a (cargo build --release). Sizes:
# FORCED_GRANTS (20), STRESS_MS (3000), SLICE_KERNELS (stock kernels to
# boot: "6.1 6.12 7.0 7.1 7.3"), SLICE_CUSTOM_KERNEL (a bzImage to use
# instead of building one; "none": skip that guest). Ends with "N passed,
# N failed, N skipped".
set -u
cd "$(dirname "$0")/../.."
root=$PWD
here=$root/tests/kernels
out=${RSEQ_LIBC_TEST_BUILD:-$root/tests/build}/slice
lib=$root/target/release/librseq_libc.a
mkdir -p "$out"
passed=0 failed=0 skipped=0
t_start=$SECONDS
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; failed=$((failed + 1)); }
skip() { echo "SKIP $1"; skipped=$((skipped + 1)); }
finish() { echo "slice: total $((SECONDS - t_start)) s"; echo "$passed passed, $failed failed, $skipped skipped"; [ "$failed" -eq 0 ]; exit $?; }

forced=${FORCED_GRANTS:-20}
stress_ms=${STRESS_MS:-3000}
stock=${SLICE_KERNELS-6.1 6.12 7.0 7.1 7.3}

[ -f "$lib" ] || { fail "$lib missing: run 'cargo build --release' first"; finish; }
if ! bash "$root/scripts/install-deps.sh" qemu-system-x86 cpio flex bison bc libelf-dev > "$out/deps.log" 2>&1; then
  skip "slice: cannot install qemu-system-x86, cpio and the kernel build tools: $(tail -n 2 "$out/deps.log")"; finish
fi

# ---- kernels ---------------------------------------------------------------
custom=""
case ${SLICE_CUSTOM_KERNEL:-build} in
  none) echo "kernel 7.3-slice none" > "$out/kernel.txt"; false ;;
  build) bash "$here/build-kernel.sh" > "$out/kernel.txt" 2> "$out/kernel.log" ;;
  *) echo "kernel 7.3-slice given $SLICE_CUSTOM_KERNEL" > "$out/kernel.txt" ;;
esac
case $? in
  0) custom=$(awk '$1 == "kernel" {print $4}' "$out/kernel.txt")
     echo "custom kernel: $(cat "$out/kernel.txt") $(grep -h 'built in' "$out/kernel.log" 2> /dev/null)" ;;
  1) if [ "${SLICE_CUSTOM_KERNEL:-}" = none ]; then skip "slice kernel: SLICE_CUSTOM_KERNEL=none"
     else fail "slice kernel: build failed: $(tail -n 5 "$out/kernel.log")"; fi ;;
  2) skip "slice kernel: cannot be had here: $(tail -n 2 "$out/kernel.log")" ;;
  *) fail "slice kernel: build failed: $(tail -n 5 "$out/kernel.log")" ;;
esac
if ! bash "$here/fetch.sh" > "$out/fetch.txt" 2> "$out/fetch.log"; then
  skip "slice: the Debian kernel packages cannot be fetched: $(tail -n 2 "$out/fetch.log")"
  : > "$out/fetch.txt"
fi
src73=$(awk '$1 == "source" && $2 == "7.3" {print $3}' "$out/fetch.txt")

# ---- the ABI numbers against the 7.3 source -----------------------------------
# The Rust constants (abi/src) against the tree the custom kernel is built
# from: uapi rseq.h (compiled), prctl.h and the x86-64 syscall table.
ktree=${RSEQ_LIBC_KERNEL_CACHE:-$HOME/.cache/rseq-libc/kernels}/custom/7.3-slice/src
if [ -f "$ktree/include/uapi/linux/rseq.h" ] && [ -f "$ktree/include/uapi/linux/prctl.h" ]; then
  mkdir -p "$out/abi/linux"
  cp "$ktree/include/uapi/linux/rseq.h" "$out/abi/linux/rseq.h"
  pr() { awk -v n="$1" '$1 == "#" && $2 == "define" && $3 == n {print $4} $1 == "#define" && $2 == n {print $3}' "$ktree/include/uapi/linux/prctl.h" | head -n 1; }
  nr() { awk -v n="$1" '$3 == n {print $1}' "$ktree/arch/x86/entry/syscalls/syscall_64.tbl"; }
  defs=()
  for n in PR_RSEQ_SLICE_EXTENSION PR_RSEQ_SLICE_EXTENSION_GET PR_RSEQ_SLICE_EXTENSION_SET PR_RSEQ_SLICE_EXT_ENABLE; do
    defs+=("-D$n=$(pr $n)")
  done
  defs+=("-DNR_RSEQ_SLICE_YIELD=$(nr rseq_slice_yield)" "-DNR_PRCTL=$(nr prctl)")
  if gcc -O0 -I"$out/abi" "${defs[@]}" "$here/slice_abi.c" -o "$out/abi/slice_abi" > "$out/abi/build.log" 2>&1; then
    # Rust: "pub const NAME: T = EXPR;" with EXPR a literal, "1 << N", or "OTHER + N".
    rust_val() {
      local e; e=$(sed -n "s/^ *pub const $1: [a-z0-9]* = \(.*\);/\1/p" "$root/abi/src/lib.rs" "$root/abi/src/arch/x86_64.rs" | head -n 1)
      [[ $e =~ ^[A-Z_]+ ]] && e=${e/${BASH_REMATCH[0]}/$(rust_val "${BASH_REMATCH[0]}")}
      echo $((e))
    }
    bad=""
    while read -r name val; do
      [ "$(rust_val "$name")" = "$val" ] || bad="$bad $name=$val (Rust $(rust_val "$name"))"
    done < <("$out/abi/slice_abi")
    if [ -z "$bad" ]; then pass "abi: $("$out/abi/slice_abi" | wc -l) slice extension values match linux-source $(cut -d' ' -f4 "$ktree/package")"
    else fail "abi: differ from linux-source-7.3:$bad"; fi
  else
    fail "abi: slice_abi.c: $(head -c 400 "$out/abi/build.log")"
  fi
else
  skip "abi: no linux-source-7.3 tree (build-kernel.sh unpacks it)"
fi

# ---- guest programs (static) -------------------------------------------------
stage=$out/root
rm -rf "$stage"; mkdir -p "$stage/bin"
bin=$stage/bin
cflags=(-O2 -g -Wall -Wextra -Werror -I"$root/headers" -I"$root/tests/c")
have_musl=0; command -v musl-gcc > /dev/null && have_musl=1
build() { # name compiler args...
  local name=$1; shift
  if "$@" > "$out/$name.build.log" 2>&1; then return 0; fi
  fail "build $name: $(head -c 600 "$out/$name.build.log")"; return 1
}
build init gcc -O2 -Wall -Wextra -static "$here/init.c" -o "$stage/init" || finish
build no_rseq gcc -O2 -I"$root/tests/c" -static tests/c/no_rseq_launcher.c -o "$bin/no_rseq"
build refuse_flag gcc -O2 -Wall -Wextra -Werror -I"$root/tests/c" -static "$here/refuse_slice_flag.c" -o "$bin/refuse_flag"
build slice-glibc gcc "${cflags[@]}" -static "$here/slice.c" "$lib" -lpthread -o "$bin/slice-glibc"
[ $have_musl = 1 ] && build slice-musl musl-gcc "${cflags[@]}" -static "$here/slice.c" "$lib" -o "$bin/slice-musl"
build lock-glibc gcc "${cflags[@]}" -static "$here/lock_slice.c" "$lib" -lpthread -o "$bin/lock-glibc"
[ $have_musl = 1 ] && build lock-musl musl-gcc "${cflags[@]}" -static "$here/lock_slice.c" "$lib" -o "$bin/lock-musl"
# The kernel's selftest, with the Makefile's flags (build-selftests.sh),
# linked statically so that the guest needs no shared libraries.
if [ -n "$src73" ]; then
  st=$src73/tools/testing/selftests/rseq
  build slice_test gcc -O2 -Wall -g -static -I"$st" -I"$src73/tools/testing/selftests" \
    -I"$src73/tools/include" -I"$src73/tools/arch/x86/include" "$st/slice_test.c" "$st/rseq.c" \
    -lpthread -ldl -o "$bin/slice_test"
fi
find "$bin" -type f -exec strip --strip-debug {} + 2> /dev/null

# ---- plans -----------------------------------------------------------------
# Each entry: NAME JUDGE SECONDS [ENV ...] -- PROGRAM [ARGS ...]. JUDGE: ok
# (exit 0 and ", 0 failed"), mustfail (exit non-zero with FAIL lines: the
# negative control), st (exit 0, every variant run: "skip:0").
declare -A JUDGE
off=GLIBC_TUNABLES=glibc.pthread.rseq=0
plan_fallback() { # the no-op fallback, whoever owns the registration
  add slice.gs ok 60 EXPECT_SLICE=0 EXPECT_OWNER=1 -- /bin/slice-glibc
  add slice.gs0 ok 60 $off EXPECT_SLICE=0 EXPECT_OWNER=2 -- /bin/slice-glibc
  add slice.gsx ok 60 EXPECT_SLICE=0 EXPECT_OWNER=0 -- /bin/no_rseq /bin/slice-glibc
  [ $have_musl = 1 ] && add slice.ms ok 60 EXPECT_SLICE=0 EXPECT_OWNER=2 -- /bin/slice-musl
  [ $have_musl = 1 ] && add slice.msx ok 60 EXPECT_SLICE=0 EXPECT_OWNER=0 -- /bin/no_rseq /bin/slice-musl
  # A kernel that refuses the registration flag: registration unchanged.
  add slice.gs0r ok 60 $off EXPECT_SLICE=0 EXPECT_OWNER=2 -- /bin/refuse_flag /bin/slice-glibc
  [ $have_musl = 1 ] && add slice.msr ok 60 EXPECT_SLICE=0 EXPECT_OWNER=2 -- /bin/refuse_flag /bin/slice-musl
  # The spin lock where no extension is offered: nothing requested.
  [ -x "$bin/lock-glibc" ] && add lock.gs0 ok 60 $off EXPECT_SLICE=0 EXPECT_OWNER=2 -- /bin/lock-glibc
  [ -x "$bin/lock-musl" ] && add lock.ms ok 60 EXPECT_SLICE=0 EXPECT_OWNER=2 -- /bin/lock-musl
}
plan_custom() {
  local sizes=(FORCED_GRANTS=$forced STRESS_MS=$stress_ms)
  # glibc 2.36 registers 32 bytes (legacy mode): no extension there.
  add slice.gs ok 60 EXPECT_SLICE=0 EXPECT_OWNER=1 -- /bin/slice-glibc
  add slice.gsx ok 60 EXPECT_SLICE=0 EXPECT_OWNER=0 -- /bin/no_rseq /bin/slice-glibc
  add slice.gs0 ok 180 $off EXPECT_SLICE=1 EXPECT_OWNER=2 "${sizes[@]}" -- /bin/slice-glibc
  [ $have_musl = 1 ] && add slice.ms ok 180 EXPECT_SLICE=1 EXPECT_OWNER=2 "${sizes[@]}" -- /bin/slice-musl
  # The flag refused (seccomp): still registered, and enabled through prctl.
  add slice.gs0r ok 180 $off EXPECT_SLICE=1 EXPECT_OWNER=2 FORCED_GRANTS=5 STRESS_MS=500 -- /bin/refuse_flag /bin/slice-glibc
  add slice.noyield mustfail 180 $off EXPECT_SLICE=1 EXPECT_OWNER=2 SLICE_FAKE=noyield "${sizes[@]}" STRESS_MS=200 -- /bin/slice-glibc
  [ -x "$bin/slice_test" ] && add selftest.slice_test st 180 $off -- /bin/slice_test
  # The spin lock's extension: granted under oversubscription (counts) and
  # forced (hard); glibc's own 32-byte registration: nothing requested; the
  # extension switched off: the forced grants must fail.
  if [ -x "$bin/lock-glibc" ]; then
    add lock.gs0 ok 180 $off EXPECT_SLICE=1 EXPECT_OWNER=2 -- /bin/lock-glibc
    add lock.gs ok 60 EXPECT_SLICE=0 EXPECT_OWNER=1 -- /bin/lock-glibc
    add lock.off mustfail 60 $off EXPECT_SLICE=1 EXPECT_OWNER=2 LOCK_FAKE=off LOCK_MS=300 LOCK_SECONDS=5 -- /bin/lock-glibc
  fi
  [ -x "$bin/lock-musl" ] && add lock.ms ok 180 EXPECT_SLICE=1 EXPECT_OWNER=2 -- /bin/lock-musl
}
plan=$stage/plan
add() { # name judge seconds args...
  local name=$1 judge=$2 secs=$3; shift 3
  JUDGE[$name]=$judge
  echo "$name $secs $*" >> "$plan"
}
judge() { # kernel name rc log
  local k=$1 name=$2 rc=$3 log=$4 ok=0
  case ${JUDGE[$name]} in
    ok) [ "$rc" = 0 ] && grep -q ', 0 failed' "$log" && ok=1 ;;
    mustfail) [ "$rc" != 0 ] && [ "$rc" != timeout ] && [ "$rc" != not-run ] && grep -q '^FAIL' "$log" && ok=1 ;;
    st) [ "$rc" = 0 ] && grep -q 'Totals: pass:[1-9][0-9]* fail:0 .*skip:0 error:0' "$log" && ok=1 ;;
  esac
  # Information: grant figures.
  grep -E '^(GRANTS|KSTATS)|^# (Total|Success|Yielded|Aborted|Scheduled|Raced) ' "$log" 2> /dev/null | sed "s/^/  [$k $name] /"
  if [ $ok = 1 ]; then
    pass "$k: $name"
  else
    fail "$k: $name: rc=$rc: $(grep -m 5 -E 'FAIL|passed|SKIP|rror' "$log" | tr '\n' ' ' | head -c 500) (log: $log)"
  fi
}

# One line per kernel: the lock programs' figures (LOCKSLICE lines), the
# negative control left out.
lock_line() { # kernel logs-dir
  local f line=""
  for f in "$2"/lock.*.log; do
    [ -f "$f" ] && [ "$(basename "$f")" != lock.off.log ] || continue
    line="$line; $(basename "$f" .log): $(sed -n 's/^LOCKSLICE //p' "$f" | head -n 1)"
  done
  [ -n "$line" ] && echo "lock-slice $1: ${line#; }"
}

# ---- this machine ------------------------------------------------------------
hostlogs=$out/logs/host; rm -rf "$hostlogs"; mkdir -p "$hostlogs"
: > "$plan"; plan_fallback
while read -r name secs rest; do
  set -- $rest; envs=()
  while [ "$1" != -- ]; do envs+=("$1"); shift; done; shift
  args=(); for a in "$@"; do args+=("${a/#\/bin\//$bin/}"); done
  env -i PATH=/usr/bin:/bin "${envs[@]}" timeout -s KILL "$secs" "${args[@]}" > "$hostlogs/$name.log" 2>&1
  rc=$?; [ $rc = 137 ] && rc=timeout
  judge "host $(uname -r | cut -d- -f1)" "$name" "$rc" "$hostlogs/$name.log"
done < "$plan"
lock_line "host $(uname -r | cut -d- -f1)" "$hostlogs"

# ---- guests ------------------------------------------------------------------
guest_timeout=${KERNEL_GUEST_TIMEOUT:-600}
run_guest() { # label kernel-image
  local k=$1 img=$2 logs=$out/logs/$1
  rm -rf "$logs"; mkdir -p "$logs"
  (cd "$stage" && find . | cpio -o -H newc --quiet) > "$out/initramfs-$k.cpio"
  local t=$SECONDS
  timeout -s KILL "$guest_timeout" qemu-system-x86_64 -accel tcg,thread=single -cpu max,la57=off -smp 2 -m 1024 \
    -nographic -no-reboot -kernel "$img" -initrd "$out/initramfs-$k.cpio" \
    -append "console=ttyS0 quiet loglevel=4 panic=-1 rdinit=/init" < /dev/null 2>&1 | tr -d '\r' > "$out/console-$k.log"
  awk -v dir="$logs" '
    /^@@BEGIN / { name = $2; file = dir "/" name ".log"; printf "" > file; next }
    /^@@END / { split($3, a, "="); print a[2] > (dir "/" $2 ".rc"); close(file); name = ""; next }
    name != "" { print >> file }' "$out/console-$k.log"
  local header; header=$(grep -m 1 '^@@KERNEL' "$out/console-$k.log")
  echo "== kernel $k: ${header#@@KERNEL } ran $(grep -c . "$plan") programs in $((SECONDS - t)) s"
  grep -q '^@@DONE' "$out/console-$k.log" ||
    fail "kernel $k: the guest did not finish (timeout ${guest_timeout}s or crash): $(grep -E 'panic|BUG|Oops|double fault' "$out/console-$k.log" | head -n 3 | tr '\n' ' ') (log: $out/console-$k.log)"
  local name
  while read -r name _; do
    if [ -f "$logs/$name.rc" ]; then
      judge "$k" "$name" "$(cat "$logs/$name.rc")" "$logs/$name.log"
    else
      judge "$k" "$name" not-run /dev/null
    fi
  done < "$plan"
  lock_line "$k" "$logs"
}
if [ -n "$custom" ]; then
  : > "$plan"; plan_custom
  run_guest 7.3-slice "$custom"
fi
for k in $stock; do
  img=$(awk -v k="$k" '$1 == "kernel" && $2 == k {print $4}' "$out/fetch.txt")
  [ -n "$img" ] && [ -f "$img" ] || { skip "kernel $k: not fetched"; continue; }
  : > "$plan"; plan_fallback
  run_guest "$k" "$img"
done
finish
