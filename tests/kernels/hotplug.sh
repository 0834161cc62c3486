#!/usr/bin/env bash
# CPU hotplug, for real: boots Debian kernels (7.3 and 6.12 by default;
# both have CONFIG_HOTPLUG_CPU) in qemu with 4 CPUs (TCG), with init.c as
# PID 1 (it mounts /sys) and the static `rseq-libc` command, which takes
# CPUs 1-3 offline and back through /sys/devices/system/cpu/cpuN/online
# while its workers run the counter, the pool and the flush ring
# (`rseq-libc stress --mode hotplug`, cli/src/stress.rs: after each offline
# step it checks the CPU holds no ring packet and no pool object, and that
# every object is on the global list, an online CPU's list or held; after
# each online step a thread pinned there writes into a packet from the free
# stack and refills its pool list from the global one; more cycles than
# packets prove packets reused; at the end the counter is exact, every
# object found once, every record written read once).
#
# Per kernel: hotplug with membarrier's CPU-targeted rseq fence; hotplug
# with the visiting fallback fence (an offline CPU cannot be visited: its
# list and packet wait, nothing is lost); the flush and reclaim stress
# modes on 4 CPUs; the multi-process shared mode (producer processes, some
# SIGKILLed, a consumer process flushing a shared flush ring through another
# mapping and reclaiming a shared pool with the cross-process fence) while
# another process takes CPUs 1-3 offline and back (`--mode shared
# --hotplug-cycles`: every committed record read once, no object handed out
# twice, packets of an offline CPU deferred until it is back); the RCU torture
# (`--mode rcu --hotplug-cycles 2`, cpu_id and mm_cid: sections that lock on
# a CPU going offline unlock on another, grace periods still wait for them;
# the workers run until the last cycle is done). Judged from the serial console: exit 0 and
# "N passed, 0 failed". Sizes: HOTPLUG_CYCLES (12, more than the 8
# packets), HOTPLUG_THREADS (8), KERNELS ("7.3 6.12").
# Ends with "N passed, N failed, N skipped"; exits non-zero on failure.
set -u
cd "$(dirname "$0")/../.."
root=$PWD
here=$root/tests/kernels
out=${RSEQ_LIBC_TEST_BUILD:-$root/tests/build}/hotplug
lib=$root/target/release/librseq_libc.a
mkdir -p "$out"
passed=0 failed=0 skipped=0
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; failed=$((failed + 1)); }
skip() { echo "SKIP $1"; skipped=$((skipped + 1)); }
finish() { echo "$passed passed, $failed failed, $skipped skipped"; [ "$failed" -eq 0 ]; exit $?; }

cycles=${HOTPLUG_CYCLES:-12}
threads=${HOTPLUG_THREADS:-8}
kernels=${KERNELS:-7.3 6.12}

[ -f "$lib" ] || { fail "$lib missing: run 'cargo build --release' first"; finish; }
if ! bash "$root/scripts/install-deps.sh" qemu-system-x86 cpio > "$out/deps.log" 2>&1; then
  skip "hotplug: cannot install qemu-system-x86 and cpio: $(tail -n 2 "$out/deps.log")"; finish
fi
if ! bash "$here/fetch.sh" > "$out/fetch.txt" 2> "$out/fetch.log"; then
  skip "hotplug: the Debian kernel packages cannot be fetched: $(tail -n 2 "$out/fetch.log")"; finish
fi

stage=$out/root
rm -rf "$stage"; mkdir -p "$stage/bin"
if ! gcc -O2 -Wall -Wextra -static "$here/init.c" -o "$stage/init" > "$out/init.build.log" 2>&1; then
  fail "build init: $(head -c 400 "$out/init.build.log")"; finish
fi
# The stress command, linked statically (glibc), as matrix.sh builds it.
if RUSTFLAGS="-C target-feature=+crt-static" cargo build --release -q -p rseq-libc-cli \
     --target x86_64-unknown-linux-gnu --target-dir "$root/target/kernels-static" > "$out/cli.build.log" 2>&1; then
  cp "$root/target/kernels-static/x86_64-unknown-linux-gnu/release/rseq-libc" "$stage/bin/rseq-libc"
  strip --strip-debug "$stage/bin/rseq-libc"
else
  fail "build the static rseq-libc command: $(tail -n 5 "$out/cli.build.log")"; finish
fi
plan=$stage/plan
stress=(/bin/rseq-libc stress --threads "$threads" --seconds 0.3)
cat > "$plan" << EOF
hotplug 300 -- ${stress[*]} --mode hotplug --cycles $cycles
hotplug-fallback 300 -- ${stress[*]} --mode hotplug --cycles $((cycles / 2)) --fallback-fence
remote-4cpu 120 -- ${stress[*]} --mode flush --mode reclaim --mode pool --mode ring
shared-hotplug 300 -- ${stress[*]} --mode shared --hotplug-cycles $cycles
rcu-hotplug 120 -- ${stress[*]} --mode rcu --hotplug-cycles 2
rcu-hotplug-cid 120 -- ${stress[*]} --mode rcu --mm-cid --hotplug-cycles 2
EOF
(cd "$stage" && find . | cpio -o -H newc --quiet) > "$out/initramfs.cpio"

guest_timeout=${KERNEL_GUEST_TIMEOUT:-900}
for k in $kernels; do
  vmlinuz=$(awk -v k="$k" '$1 == "kernel" && $2 == k {print $4}' "$out/fetch.txt")
  if [ ! -f "${vmlinuz:-/nonexistent}" ]; then
    skip "kernel $k: no vmlinuz in the cache (fetch.sh)"; continue
  fi
  log=$out/console-$k.log
  t0=$SECONDS
  timeout -s KILL "$guest_timeout" qemu-system-x86_64 -accel tcg,thread=single -cpu max,la57=off -smp 4 -m 1024 \
    -nographic -no-reboot -kernel "$vmlinuz" -initrd "$out/initramfs.cpio" \
    -append "console=ttyS0 quiet loglevel=4 panic=-1 rdinit=/init" < /dev/null 2>&1 | tr -d '\r' > "$log"
  logs=$out/logs-$k; rm -rf "$logs"; mkdir -p "$logs"
  awk -v dir="$logs" '
    /^@@BEGIN / { name = $2; file = dir "/" name ".log"; printf "" > file; next }
    /^@@END / { split($3, a, "="); print a[2] > (dir "/" $2 ".rc"); close(file); name = ""; next }
    name != "" { print >> file }' "$log"
  echo "== kernel $k: $(grep -m 1 '^@@KERNEL' "$log" | cut -c 10-), $((SECONDS - t0)) s"
  grep -q '^@@DONE' "$log" ||
    fail "kernel $k: the guest did not finish: $(grep -E 'panic|BUG|Oops' "$log" | head -n 3 | tr '\n' ' ') (log: $log)"
  while read -r name _; do
    rc=$(cat "$logs/$name.rc" 2> /dev/null || echo not-run)
    if [ "$rc" = 0 ] && grep -q ' passed, 0 failed' "$logs/$name.log"; then
      pass "kernel $k: $name: $(grep -E '^PASS' "$logs/$name.log" | cut -c 1-400 | paste -sd' ' -)"
      grep -E '^  cycle' "$logs/$name.log" | head -n 4 | sed 's/^/    /'
    else
      fail "kernel $k: $name: rc=$rc: $(grep -m 5 -E 'FAIL|passed|panicked|rror' "$logs/$name.log" | tr '\n' ' ' | head -c 600) (log: $logs/$name.log)"
    fi
  done < "$plan"
done
finish
