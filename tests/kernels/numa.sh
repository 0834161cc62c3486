#!/usr/bin/env bash
# The NUMA-aware spin lock on a guest with two NUMA nodes: Debian's 6.12
# and 7.3 cloud kernels (CONFIG_NUMA=y) booted under qemu TCG with
#   -smp 4 -numa node,cpus=0-1,nodeid=0 -numa node,cpus=2-3,nodeid=1
# (each node with 512 MB: qemu wants the nodes' memory to add up to -m)
# run tests/kernels/numa_test.c (static: glibc owning the area, and the
# component owning it with glibc.pthread.rseq=0; musl static when musl-gcc
# is there). Every thread is pinned, so each check is exact: rseq's node_id
# per CPU against getcpu, the hand-off order with real nodes (local first,
# then remote; bound 1 forces the remote node in), and under contention a
# log of every acquisition (local hand-offs stay on the node, remote ones
# change it, no more than BOUND counted local hand-offs in a row, counters
# match the log, exact plain counter).
# Needs target/release/librseq_libc.a (cargo build --release); installs
# qemu-system-x86 and cpio through scripts/install-deps.sh; kernels from
# tests/kernels/fetch.sh (warm cache: nothing downloaded). NUMA_KERNELS
# selects the kernels ("6.12 7.3"). About a minute per kernel under TCG.
# Ends with "N passed, N failed, N skipped".
set -u
cd "$(dirname "$0")/../.."
root=$PWD
here=$root/tests/kernels
out=${RSEQ_LIBC_TEST_BUILD:-$root/tests/build}/kernels-numa
lib=$root/target/release/librseq_libc.a
mkdir -p "$out"
passed=0 failed=0 skipped=0
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; failed=$((failed + 1)); }
skip() { echo "SKIP $1"; skipped=$((skipped + 1)); }
finish() { echo "$passed passed, $failed failed, $skipped skipped"; [ "$failed" -eq 0 ]; exit; }
kernels=${NUMA_KERNELS:-6.12 7.3}

[ -f "$lib" ] || { fail "$lib missing: run 'cargo build --release' first"; finish; }
if ! bash "$root/scripts/install-deps.sh" qemu-system-x86 cpio > "$out/deps.log" 2>&1; then
  skip "numa: cannot install qemu-system-x86 and cpio: $(tail -n 2 "$out/deps.log")"; finish
fi
if ! bash "$here/fetch.sh" > "$out/fetch.txt" 2> "$out/fetch.log"; then
  skip "numa: the Debian kernel packages cannot be fetched: $(tail -n 2 "$out/fetch.log")"; finish
fi

stage=$out/root
rm -rf "$stage"; mkdir -p "$stage/bin"
cflags=(-O2 -g -Wall -Wextra -Werror -I"$root/headers" -I"$root/tests/c")
if ! gcc -O2 -Wall -Wextra -static "$here/init.c" -o "$stage/init" 2> "$out/build.log" \
   || ! gcc "${cflags[@]}" -static "$here/numa_test.c" "$lib" -lpthread -o "$stage/bin/numa-glibc" 2>> "$out/build.log"; then
  fail "numa: build failed: $(head -c 600 "$out/build.log")"; finish
fi
plan=$stage/plan
topo="0 0 1 1"
{
  echo "numa-glibc 240 -- /bin/numa-glibc $topo"
  echo "numa-glibc-rseq0 240 GLIBC_TUNABLES=glibc.pthread.rseq=0 -- /bin/numa-glibc $topo"
} > "$plan"
if command -v musl-gcc > /dev/null \
   && musl-gcc "${cflags[@]}" -static "$here/numa_test.c" "$lib" -o "$stage/bin/numa-musl" 2>> "$out/build.log"; then
  echo "numa-musl 240 -- /bin/numa-musl $topo" >> "$plan"
else
  skip "numa: musl static (musl-gcc missing or build failed)"
fi
(cd "$stage" && find . | cpio -o -H newc --quiet) > "$out/initramfs.cpio"

for k in $kernels; do
  vmlinuz=$(awk -v k="$k" '$1 == "kernel" && $2 == k {print $4}' "$out/fetch.txt")
  [ -f "$vmlinuz" ] || { skip "numa: kernel $k not in the cache"; continue; }
  log=$out/console-$k.log
  t0=$SECONDS
  timeout -s KILL "${NUMA_GUEST_TIMEOUT:-600}" qemu-system-x86_64 -accel tcg,thread=single -cpu max,la57=off \
    -smp 4 -m 1024 -object memory-backend-ram,id=m0,size=512M -object memory-backend-ram,id=m1,size=512M \
    -numa node,cpus=0-1,nodeid=0,memdev=m0 -numa node,cpus=2-3,nodeid=1,memdev=m1 \
    -nographic -no-reboot -kernel "$vmlinuz" -initrd "$out/initramfs.cpio" \
    -append "console=ttyS0 quiet loglevel=4 panic=-1 rdinit=/init" < /dev/null 2>&1 | tr -d '\r' > "$log"
  logs=$out/logs/$k; rm -rf "$logs"; mkdir -p "$logs"
  awk -v dir="$logs" '
    /^@@BEGIN / { name = $2; file = dir "/" name ".log"; printf "" > file; next }
    /^@@END / { split($3, a, "="); print a[2] > (dir "/" $2 ".rc"); close(file); name = ""; next }
    name != "" { print >> file }' "$log"
  echo "== kernel $k: $(grep -m 1 '^@@KERNEL' "$log" | sed 's/^@@KERNEL //'), $((SECONDS - t0)) s"
  grep -q '^@@DONE' "$log" || fail "numa, kernel $k: the guest did not finish (log: $log)"
  while read -r name _; do
    rc=$(cat "$logs/$name.rc" 2>/dev/null || echo not-run)
    if [ "$rc" = 0 ] && grep -q ', 0 failed' "$logs/$name.log"; then
      pass "numa, kernel $k, $name: $(grep -m 1 '^contention' "$logs/$name.log" | sed 's/^contention: //; s/;.*longest/; longest/; s/; stats.*//'); $(grep -m 1 " passed, " "$logs/$name.log")"
    else
      fail "numa, kernel $k, $name (rc=$rc): $(grep -m 5 -E 'FAIL|passed|usage' "$logs/$name.log" | tr '\n' ' ') (log: $logs/$name.log)"
    fi
    sed 's/^/    /' "$logs/$name.log" | grep -E '^    (cpu|bound|contention)' | head -8
  done < "$plan"
done
finish
