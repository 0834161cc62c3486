#!/usr/bin/env bash
# The test harness's own logic, without booting or building anything:
#
# - tests/kernels/matrix.sh's judge(): a failing stress row's message shows
#   its FAIL lines (every mode's PASS line mentions "aborts", and a plain
#   grep for error words used to fill its quota with them and cut the FAIL
#   line off), and a crash without a verdict shows the crash;
# - the build caches' keys (scripts/cache-key.sh; docs/testing-budget.md):
#   each keyed script, run in its check mode (RSEQ_LIBC_CACHE_CHECK=1)
#   against a scratch cache directory, calls a cache stamped with its
#   current key fresh, and stale once one input changes: in a scratch copy
#   of the script (configuration fragment, pinned package, unpack steps,
#   configure options, tarball checksum, build script), in the cached
#   package version, in the component archive, or in the toolchain (a gcc
#   on PATH that reports another version). The real caches are never read
#   or written;
# - scripts/target-seed.sh: what a seed keeps (third-party units only),
#   where it is restored, when it is replaced.
#
# Ends with "N passed, N failed". A few seconds.
set -u
cd "$(dirname "$0")/../.."
root=$PWD
passed=0 failed=0
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; failed=$((failed + 1)); }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# ---- judge(): what a failing row says ---------------------------------------
# The judging section of matrix.sh (from "# ---- judging" to the next
# section), run with stand-ins for the plan's tables and for fail().
judging=$(awk '/^# ---- judging/ {on = 1; next} on && /^# ---- / {exit} on' tests/kernels/matrix.sh)
judge_message() { # name judge rc log: prints the FAIL message judge() gives
  (
    declare -A J_SUITE J_HOST J_JUDGE
    J_SUITE[$1]=percpu; J_HOST[$1]="glibc static, rseq=0"; J_JUDGE[$1]=$2
    passed=0
    eval "$judging"
    fail() { echo "$1"; }
    judge 6.1 "$1" "$3" "$4" 0
  )
}
log=$tmp/stress.log
{
  echo "stress: 16 threads on 2 CPUs, 0.3 s per mode, index MmCid"
  for m in add cmpstore storestore counter pool; do
    echo "PASS $m: $m: total 54373 exact; 54373 ops, 56142 sections, 1769 aborts (32.53 per 1000 ops) (0.4 s)"
  done
  echo "FAIL ring: ring: 35950 writes: 2 records read twice; 33692 ops, 1094 aborts (32.47 per 1000 ops) (0.4 s)"
  for m in lock flush reclaim; do
    echo "PASS $m: $m: 5284 ops, 11158 sections, 353 aborts (65.24 per 1000 ops) (0.3 s)"
  done
  echo "8 passed, 1 failed"
} > "$log"
msg=$(judge_message stress-cid.gs0 stress 1 "$log")
if [[ $msg == *"FAIL ring: ring: 35950 writes: 2 records read twice"* ]] && [[ $msg == *"8 passed, 1 failed"* ]]; then
  pass "judge: a failing stress row names its failing mode and the summary"
else
  fail "judge: a failing stress row's message lacks its FAIL line or summary: $msg"
fi
# Two failing modes: both shown, the first before the second.
sed -i 's/^PASS pool: pool:/FAIL pool: pool: object 7 handed out twice;/' "$log"
msg=$(judge_message stress-cid.gs0 stress 1 "$log")
if [[ $msg == *"FAIL pool: pool: object 7 handed out twice"*"FAIL ring"* ]]; then
  pass "judge: every FAIL line of a row is shown"
else
  fail "judge: not every FAIL line shown: $msg"
fi
# A program killed before any verdict: its crash line.
printf 'host_test: starting\nthread 3: Segmentation fault (core dumped) in rseq_percpu_add: error\n' > "$tmp/crash.log"
msg=$(judge_message host.gs ok 139 "$tmp/crash.log")
if [[ $msg == *"Segmentation fault"* ]]; then
  pass "judge: a crash without a verdict shows the crash"
else
  fail "judge: a crash's message lacks it: $msg"
fi

# ---- cache keys --------------------------------------------------------------
# A scratch copy of the scripts, laid out as in the repository, so that a
# copy can be changed without touching the tree.
copy_tree() { # dir
  mkdir -p "$1/scripts" "$1/tests/kernels" "$1/patches"
  cp scripts/cache-key.sh "$1/scripts/"
  cp tests/kernels/build-kernel.sh tests/kernels/fetch.sh tests/kernels/selftests-cached.sh \
    tests/kernels/build-selftests.sh "$1/tests/kernels/" 2> /dev/null
  cp patches/build-and-test.sh "$1/patches/"
}
copy_tree "$tmp/orig"
check() { # tree cache-env script args...: the check mode's lines
  local tree=$1 env=$2; shift 2
  env RSEQ_LIBC_CACHE_CHECK=1 RSEQ_LIBC_KERNEL_CACHE="$tmp/kcache" RSEQ_LIBC_GLIBC_CACHE="$tmp/gcache" \
    ${env:+"$env"} bash "$tree/$1" "${@:2}" 2>&1
}
verdict() { sed -n "s/^cache $1: \([a-z]*\) key .*/\1/p" <<< "$2"; }
key_in() { sed -n "s/^cache $1: [a-z]* key \([0-9a-f]*\) .*/\1/p" <<< "$2"; }
# Stamp every cache the check mode names with its current key.
stamp_all() { # check-output
  local line dir key
  while read -r line; do
    key=$(sed -n 's/^cache .*: [a-z]* key \([0-9a-f]*\) (\(.*\))$/\1/p' <<< "$line")
    dir=$(sed -n 's/^cache .*: [a-z]* key [0-9a-f]* (\(.*\))$/\1/p' <<< "$line")
    [ -n "$dir" ] && mkdir -p "$dir" && echo "$key" > "$dir/.inputs.sha256"
  done <<< "$1"
}
# expect NAME CACHE-NAME VERDICT OUTPUT
expect() {
  local got; got=$(verdict "$2" "$4")
  if [ "$got" = "$3" ]; then pass "$1: $2 $3"; else fail "$1: $2 is '${got:-no verdict}', expected $3: $(head -c 300 <<< "$4")"; fi
}
has_check_mode() { grep -q 'cache_check_mode' "$1" || { fail "$1 has no check mode (RSEQ_LIBC_CACHE_CHECK)"; return 1; }; }

# A gcc that reports another version, for the toolchain input.
mkdir -p "$tmp/newgcc"
printf '#!/bin/sh\n[ "$1" = --version ] && { echo "gcc (Debian 99.1.0-1) 99.1.0"; exit 0; }\nexec /usr/bin/gcc "$@"\n' > "$tmp/newgcc/gcc"
chmod +x "$tmp/newgcc/gcc"
newgcc="PATH=$tmp/newgcc:$PATH"

# The slice kernel (build-kernel.sh).
if has_check_mode tests/kernels/build-kernel.sh; then
  out=$(check "$tmp/orig" "" tests/kernels/build-kernel.sh)
  expect "slice kernel, empty cache" 7.3-slice stale "$out"
  mkdir -p "$tmp/kcache/custom/7.3-slice"
  echo "Package: linux-source-7.3 Version: 7.3.4-1~bpo13+1" > "$tmp/kcache/custom/7.3-slice/package"
  out=$(check "$tmp/orig" "" tests/kernels/build-kernel.sh); stamp_all "$out"
  expect "slice kernel, stamped" 7.3-slice fresh "$(check "$tmp/orig" "" tests/kernels/build-kernel.sh)"
  copy_tree "$tmp/frag"; sed -i 's/^CONFIG_NR_CPUS=8$/CONFIG_NR_CPUS=16/' "$tmp/frag/tests/kernels/build-kernel.sh"
  expect "slice kernel, configuration fragment changed" 7.3-slice stale "$(check "$tmp/frag" "" tests/kernels/build-kernel.sh)"
  copy_tree "$tmp/jobs"; sed -i 's/ bzImage >> "\$top\/build.log"/ KCFLAGS=-O1 bzImage >> "$top\/build.log"/' "$tmp/jobs/tests/kernels/build-kernel.sh"
  if cmp -s "$tmp/jobs/tests/kernels/build-kernel.sh" "$tmp/orig/tests/kernels/build-kernel.sh"; then
    fail "slice kernel: the build-step edit did not apply (test out of date)"
  else
    expect "slice kernel, build steps changed" 7.3-slice stale "$(check "$tmp/jobs" "" tests/kernels/build-kernel.sh)"
  fi
  expect "slice kernel, toolchain changed" 7.3-slice stale "$(check "$tmp/orig" "$newgcc" tests/kernels/build-kernel.sh)"
  echo "Package: linux-source-7.3 Version: 7.3.5-1~bpo13+1" > "$tmp/kcache/custom/7.3-slice/package"
  expect "slice kernel, source package version changed" 7.3-slice stale "$(check "$tmp/orig" "" tests/kernels/build-kernel.sh)"
fi

# Debian's kernels and kernel sources (fetch.sh).
if has_check_mode tests/kernels/fetch.sh; then
  out=$(check "$tmp/orig" "" tests/kernels/fetch.sh)
  expect "fetch, empty cache" "kernel 6.1" stale "$out"
  stamp_all "$out"
  out=$(check "$tmp/orig" "" tests/kernels/fetch.sh)
  n_fresh=$(grep -c ': fresh key' <<< "$out")
  [ "$n_fresh" -eq 7 ] && pass "fetch, stamped: 7 caches fresh" || fail "fetch, stamped: $n_fresh of 7 fresh: $out"
  copy_tree "$tmp/pin"; sed -i 's/"6\.1|linux-image-6\.1\.0-50-cloud-amd64-unsigned|/"6.1|linux-image-6.1.0-51-cloud-amd64-unsigned|/' "$tmp/pin/tests/kernels/fetch.sh"
  out=$(check "$tmp/pin" "" tests/kernels/fetch.sh)
  expect "fetch, pinned package changed" "kernel 6.1" stale "$out"
  expect "fetch, pinned package of another kernel changed" "kernel 7.3" fresh "$out"
  copy_tree "$tmp/unpack"; sed -i 's|"\$top/tools/testing/selftests/clone3"|"$top/tools/testing/selftests/clone3" "$top/tools/testing/selftests/futex"|' "$tmp/unpack/tests/kernels/fetch.sh"
  out=$(check "$tmp/unpack" "" tests/kernels/fetch.sh)
  expect "fetch, source unpack steps changed" "source 7.3" stale "$out"
  expect "fetch, source unpack steps changed" "kernel 6.12" fresh "$out"
fi

# The selftests' builds (selftests-cached.sh).
if has_check_mode tests/kernels/selftests-cached.sh; then
  mkdir -p "$tmp/src"; echo "Package: linux-source-7.3 Version: 7.3.4-1~bpo13+1" > "$tmp/src/package"
  echo "archive one" > "$tmp/lib.a"
  out=$(check "$tmp/orig" "" tests/kernels/selftests-cached.sh 7.3-component "$tmp/src" "$tmp/st" "$tmp/lib.a")
  stamp_all "$out"
  expect "selftests, stamped" "selftests 7.3-component" fresh "$(check "$tmp/orig" "" tests/kernels/selftests-cached.sh 7.3-component "$tmp/src" "$tmp/st" "$tmp/lib.a")"
  echo "archive two" > "$tmp/lib.a"
  expect "selftests, component archive changed" "selftests 7.3-component" stale "$(check "$tmp/orig" "" tests/kernels/selftests-cached.sh 7.3-component "$tmp/src" "$tmp/st" "$tmp/lib.a")"
  echo "archive one" > "$tmp/lib.a"
  copy_tree "$tmp/stb"; sed -i 's/^cflags=(-O2 /cflags=(-O3 /' "$tmp/stb/tests/kernels/build-selftests.sh"
  expect "selftests, build-selftests.sh changed" "selftests 7.3-component" stale "$(check "$tmp/stb" "" tests/kernels/selftests-cached.sh 7.3-component "$tmp/src" "$tmp/st" "$tmp/lib.a")"
  echo "Package: linux-source-7.3 Version: 7.3.5-1~bpo13+1" > "$tmp/src/package"
  expect "selftests, source package changed" "selftests 7.3-component" stale "$(check "$tmp/orig" "" tests/kernels/selftests-cached.sh 7.3-component "$tmp/src" "$tmp/st" "$tmp/lib.a")"
fi

# The patched glibc builds (patches/build-and-test.sh).
if has_check_mode patches/build-and-test.sh; then
  out=$(check "$tmp/orig" "" patches/build-and-test.sh 2.36)
  expect "glibc, empty cache" glibc-2.36 stale "$out"
  stamp_all "$out"
  expect "glibc, stamped" glibc-2.36 fresh "$(check "$tmp/orig" "" patches/build-and-test.sh 2.36)"
  copy_tree "$tmp/conf"; sed -i 's/^CONFIG_OPTS="--prefix=\/usr --disable-werror /CONFIG_OPTS="--prefix=\/usr --disable-werror --disable-profile /' "$tmp/conf/patches/build-and-test.sh"
  expect "glibc, configure options changed" glibc-2.36 stale "$(check "$tmp/conf" "" patches/build-and-test.sh 2.36)"
  copy_tree "$tmp/sum"; sed -i 's/^  ORIG_SHA256=a543c0/  ORIG_SHA256=0543c0/' "$tmp/sum/patches/build-and-test.sh"
  expect "glibc, tarball checksum changed" glibc-2.36 stale "$(check "$tmp/sum" "" patches/build-and-test.sh 2.36)"
  copy_tree "$tmp/steps"; sed -i "s/sed -i '\/^all-subdirs\/,\/^\$\/ s\/ manual \/ \/'/sed -i '\/^all-subdirs\/,\/^\$\/ s\/ manual \/ \/; s\/ po \/ \/'/" "$tmp/steps/patches/build-and-test.sh"
  if cmp -s "$tmp/steps/patches/build-and-test.sh" "$tmp/orig/patches/build-and-test.sh"; then
    fail "glibc: the build-step edit did not apply (test out of date)"
  else
    expect "glibc, build steps changed" glibc-2.36 stale "$(check "$tmp/steps" "" patches/build-and-test.sh 2.36)"
  fi
  # The tests' list is not an input of the build.
  copy_tree "$tmp/tests"; sed -i 's/^  nptl\/tst-stack1 /  nptl\/tst-stack1 nptl\/tst-stack2 /' "$tmp/tests/patches/build-and-test.sh"
  expect "glibc, only the test list changed" glibc-2.36 fresh "$(check "$tmp/tests" "" patches/build-and-test.sh 2.36)"
  expect "glibc, toolchain changed" glibc-2.36 stale "$(check "$tmp/orig" "$newgcc" patches/build-and-test.sh 2.36)"
fi

# ---- target seeds --------------------------------------------------------------
# scripts/target-seed.sh on scratch target directories and a scratch seed
# cache: a seed holds the third-party units of every profile directory and
# none of the workspace's crates (every package of Cargo.lock without a
# source: were one kept, a fresh clone could take another checkout's
# objects for its own, cargo judging them by mtimes), nor a target
# directory nested in the one saved; it is copied only into a directory
# cargo has not built in; a save with nothing new leaves the seed as it is.
seeds=$tmp/seeds sd=$tmp/seed-target
seed() { RSEQ_LIBC_TARGET_SEED=$seeds bash scripts/target-seed.sh "$@"; }
ws_pkgs=$(awk '/^\[\[package\]\]/ { if (n != "" && !s) print n; n = ""; s = 0 }
               /^name = / { n = $3; gsub(/"/, "", n) } /^source = / { s = 1 }
               END { if (n != "" && !s) print n }' Cargo.lock)
mkdir -p "$sd/release/.fingerprint/serde-1" "$sd/release/deps" "$sd/aarch64-unknown-linux-gnu/debug/.fingerprint/libc-2" \
  "$sd/cross/release/.fingerprint/nested-3"
touch "$sd/release/deps/libserde-1.rlib" "$sd/cross/.rustc_info.json"
for pkg in $ws_pkgs; do
  mkdir -p "$sd/release/.fingerprint/$pkg-9" "$sd/aarch64-unknown-linux-gnu/debug/.fingerprint/$pkg-9"
  touch "$sd/release/deps/lib${pkg//-/_}-9.rlib" "$sd/release/lib${pkg//-/_}.a"
done
seed save t "$sd" > "$tmp/seed.log" 2>&1
kept=$(cd "$seeds/t" 2> /dev/null && find . -path '*/.fingerprint/*' -prune -name '*-*' -printf '%f\n' | sort | paste -sd ' ')
leaked=$(cd "$seeds/t" 2> /dev/null && for pkg in $ws_pkgs; do u=${pkg//-/_}; ls -d ./*/.fingerprint/"$pkg"-* ./*/*/.fingerprint/"$pkg"-* ./*/deps/lib"$u"-* ./*/lib"$u".* 2> /dev/null; done | paste -sd ' ')
if [ "$kept" = "libc-2 serde-1" ] && [ -f "$seeds/t/release/deps/libserde-1.rlib" ] && [ -z "$leaked" ] && [ "$(echo "$ws_pkgs" | wc -w)" -gt 5 ]; then
  pass "target seed: saves the third-party units of every profile ($kept), none of the $(echo "$ws_pkgs" | wc -w) workspace crates, no nested target directory"
else
  fail "target seed: saved units: '$kept' (want 'libc-2 serde-1'), workspace outputs in it: '$leaked' ($(tail -n 1 "$tmp/seed.log"))"
fi
seed restore t "$tmp/seed-fresh" > /dev/null 2>&1
mkdir -p "$tmp/seed-built/release/.fingerprint/own-1"
seed restore t "$tmp/seed-built" > /dev/null 2>&1
if [ -f "$tmp/seed-fresh/release/deps/libserde-1.rlib" ] && [ -d "$tmp/seed-fresh/aarch64-unknown-linux-gnu/debug/.fingerprint/libc-2" ] &&
   [ ! -e "$tmp/seed-built/release/.fingerprint/serde-1" ]; then
  pass "target seed: restored into a directory cargo has not built in, not into one it has"
else
  fail "target seed: restore: fresh: $(cd "$tmp/seed-fresh" 2> /dev/null && find . | paste -sd ' '); built: $(cd "$tmp/seed-built" && find . | paste -sd ' ')"
fi
touch -d '2000-01-01' "$seeds/t/release/deps/libserde-1.rlib"
msg=$(seed save t "$sd" 2>&1)
untouched=$(stat -c %Y "$seeds/t/release/deps/libserde-1.rlib")
mkdir -p "$sd/release/.fingerprint/clap-4"
msg2=$(seed save t "$sd" 2>&1)
if [ "$msg" = "seed t: up to date" ] && [ "$untouched" = "$(date -d '2000-01-01' +%s)" ] &&
   [ -d "$seeds/t/release/.fingerprint/clap-4" ] && [ "$(ls -A "$seeds" | sort | paste -sd ' ')" = ".lock t" ]; then
  pass "target seed: a save with nothing new keeps the seed; a new third-party unit replaces it ($msg2)"
else
  fail "target seed: second save: '$msg' (seed file mtime $untouched), third: '$msg2', seeds: $(ls -A "$seeds" | paste -sd ' ')"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
