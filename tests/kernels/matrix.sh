#!/usr/bin/env bash
# The kernel-generation matrix: the project's tests and the
# kernel's own rseq selftests, inside Debian's 6.1, 6.12, 7.0, 7.1 and 7.3
# cloud kernels booted with qemu (TCG), and the selftests on this machine's
# kernel too.
#
# - Kernels: Debian packages fetched by fetch.sh into
#   ${RSEQ_LIBC_KERNEL_CACHE:-~/.cache/rseq-libc/kernels} (private apt
#   sources, never installed; about 420 MB once, nothing when warm).
# - Each guest boots `-accel tcg,thread=single -cpu max,la57=off -smp 2 -m 1024` with an
#   initramfs of statically linked test programs (plus the host's glibc
#   shared libraries, for the selftests as their Makefile builds them) and
#   init.c as PID 1, which runs /plan and powers off. Results are judged
#   here from the serial console.
# - Hosts (README link lines): glibc static (libc owns), glibc static with
#   glibc.pthread.rseq=0 (component owns), glibc static with rseq blocked
#   (seccomp ENOSYS), glibc dynamic (owns / rseq=0), musl static (+ blocked),
#   standalone static and static-pie (+ blocked).
# - Suites: host_test.c; the standalone constructor/TLS matrix; the pthread
#   hooks' lifecycle, storm, reuse and safety tests; the per-CPU stress
#   (every mode, cpu_id and mm_cid, injected) and the C API test;
#   v2check.c (registration length; no write to a kernel-owned field, with
#   its negative control); the kernel's rseq selftests of linux-source-6.12
#   and -7.3.
# Sizes for TCG: STORM_THREADS (1500), REUSE_THREADS (1000), SAFETY_THREADS
# (200), RSEQ_STRESS_SECONDS (0.3), PERCPU_C_RECORDS (percpu_c_test's
# --records: flush-ring records per writer, 20000), KERNEL_PARAM_SAMPLE (every Nth
# run_param_test.sh invocation inside a guest, 24), KERNELS (names to boot:
# "6.1 6.12 7.0 7.1 7.3"; empty: none, this machine only), HOST_PARAM_SAMPLE (the same on this machine, 16),
# HOST_PERCPU_OPS_TREES (whose basic_percpu_ops tests run on this machine,
# "6.12 7.3"), HOST_PERCPU_OPS_HOSTS (in which hosts, "glibc comp pglibc
# self"), KERNEL_HOST_SELFTESTS (0: none on this machine),
# KERNEL_GUEST_TIMEOUT (seconds per guest, 420), KERNEL_GUEST_JOBS (guests
# run at once, 2), KERNEL_SLOT_FREE_FILE (touched once every guest has
# started and one has finished: tests/kernels/run.sh then starts the next
# script's guests). Ends with "N
# passed, N failed, N skipped".
set -u
cd "$(dirname "$0")/../.."
root=$PWD
here=$root/tests/kernels
out=${RSEQ_LIBC_TEST_BUILD:-$root/tests/build}/kernels
lib=$root/target/release/librseq_libc.a
salib=$root/target/release/librseq_testlibc.a
t_start=$SECONDS
mkdir -p "$out"
passed=0 failed=0 skipped=0
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; failed=$((failed + 1)); }
skip() { echo "SKIP $1"; skipped=$((skipped + 1)); }
finish() { echo "kernels: total $((SECONDS - t_start)) s"; echo "$passed passed, $failed failed, $skipped skipped"; [ "$failed" -eq 0 ]; exit $?; }

storm_threads=${STORM_THREADS:-1500}
reuse_threads=${REUSE_THREADS:-1000}
safety_threads=${SAFETY_THREADS:-200}
stress_secs=${RSEQ_STRESS_SECONDS:-0.3}
percpu_c_records=${PERCPU_C_RECORDS:-20000}
sample=${KERNEL_PARAM_SAMPLE:-24}
kernels=${KERNELS-6.1 6.12 7.0 7.1 7.3}
# Kernels that run a registration longer than 32 bytes in the V2 mode
# (kernel/rseq.c: version 2 when rseq_len > 32; checked against
# linux-source-7.3, and by v2check's negative control in each guest).
v2_kernels=${KERNEL_V2:-7.0 7.1 7.3}
# Kernels that run the kernel's own selftests (6.3+: node_id, mm_cid).
selftest_kernels=${KERNEL_SELFTESTS:-6.12 7.0 7.1 7.3}

for f in "$lib" "$salib"; do
  [ -f "$f" ] || { fail "$f missing: run 'cargo build --release' first"; finish; }
done
if ! bash "$root/scripts/install-deps.sh" qemu-system-x86 cpio > "$out/deps.log" 2>&1; then
  skip "kernel matrix: cannot install qemu-system-x86 and cpio: $(tail -n 2 "$out/deps.log")"; finish
fi
if ! bash "$here/fetch.sh" > "$out/fetch.txt" 2> "$out/fetch.log"; then
  skip "kernel matrix: the Debian kernel packages cannot be fetched: $(tail -n 2 "$out/fetch.log")"; finish
fi
echo "fetched ($((SECONDS - t_start)) s):"; sed 's/^/  /' "$out/fetch.txt"
src612=$(awk '$1 == "source" && $2 == "6.12" {print $3}' "$out/fetch.txt")
src73=$(awk '$1 == "source" && $2 == "7.3" {print $3}' "$out/fetch.txt")

# ---- build ---------------------------------------------------------------
stage=$out/root
rm -rf "$stage"; mkdir -p "$stage/bin" "$stage/lib/x86_64-linux-gnu" "$stage/lib64" "$stage/st"
bin=$stage/bin
cflags=(-O2 -g -Wall -Wextra -Werror -I"$root/headers" -I"$root/tests/c" -I"$root/tests/pthread-hooks")
sacflags=(-O2 -g -Wall -Wextra -Werror -nostdlib -nostdinc -isystem "$(gcc -print-file-name=include)"
          -fno-stack-protector -I"$root/headers" -I"$root/tests/testlibc/include"
          -I"$root/tests/c" -I"$root/tests/pthread-hooks")
have_musl=0; command -v musl-gcc > /dev/null && have_musl=1
build() { # name compiler args...
  local name=$1; shift
  if "$@" > "$out/$name.build.log" 2>&1; then return 0; fi
  fail "build $name: $(head -c 600 "$out/$name.build.log")"; return 1
}
# The programs build in the background, build_jobs at a time (every core;
# each is one gcc run), alongside the selftests; build_wait collects them.
build_jobs=${KERNEL_BUILD_JOBS:-$(nproc 2> /dev/null || echo 2)}
build_pids=()
rm -f "$out/build-failures"
build_async() { # name compiler args...
  local name=$1 p alive; shift
  while :; do
    alive=()
    for p in "${build_pids[@]}"; do kill -0 "$p" 2> /dev/null && alive+=("$p"); done
    build_pids=("${alive[@]}")
    [ "${#build_pids[@]}" -lt "$build_jobs" ] && break
    wait -n 2> /dev/null || sleep 0.1
  done
  ( "$@" > "$out/$name.build.log" 2>&1 || echo "$name" >> "$out/build-failures" ) &
  build_pids+=("$!")
}
build_wait() {
  local p n
  for p in "${build_pids[@]}"; do wait "$p" 2> /dev/null; done
  build_pids=()
  [ -f "$out/build-failures" ] || return 0
  while read -r n; do fail "build $n: $(head -c 600 "$out/$n.build.log")"; done < "$out/build-failures"
  rm -f "$out/build-failures"
}
t_build=$SECONDS
# The kernel's selftests, plain and linking the component, through their
# cache (selftests-cached.sh), in the background while the programs below
# build.
st_pids=()
for v in 6.12 7.3; do
  s=$src612; [ $v = 7.3 ] && s=$src73
  bash "$here/selftests-cached.sh" "$v" "$s" "$stage/st/$v" > "$out/selftests-$v.build.log" 2>&1 & st_pids+=("$!")
  bash "$here/selftests-cached.sh" "$v-component" "$s" "$stage/st/$v-component" "$lib" > "$out/selftests-$v-component.build.log" 2>&1 & st_pids+=("$!")
done
build_async init gcc -O2 -Wall -Wextra -static "$here/init.c" -o "$stage/init"
# posix_spawn in lifecycle.c runs /bin/true.
printf 'int main (void) { return 0; }\n' > "$out/true.c"
build_async true gcc -O2 -static "$out/true.c" -o "$bin/true"
build_async no_rseq gcc -O2 -I"$root/tests/c" -static tests/c/no_rseq_launcher.c -o "$bin/no_rseq"
# host_test in every host.
build hostlib gcc "${cflags[@]}" -fPIC -shared tests/c/hostlib.c -o "$stage/lib/x86_64-linux-gnu/libhostlib.so"
build_async host-glibc-dynamic gcc "${cflags[@]}" -DWITH_HOSTLIB tests/c/host_test.c "$lib" \
  -L"$stage/lib/x86_64-linux-gnu" -lhostlib -lpthread -o "$bin/host-glibc-dynamic"
build_async host-glibc-static gcc "${cflags[@]}" -static tests/c/host_test.c "$lib" -lpthread -o "$bin/host-glibc-static"
[ $have_musl = 1 ] && build_async host-musl-static musl-gcc "${cflags[@]}" -static tests/c/host_test.c "$lib" -o "$bin/host-musl-static"
for mode in static static-pie; do
  pie=(); [ "$mode" = static-pie ] && pie=(-fpie)
  build_async "host-standalone-$mode" gcc "${cflags[@]}" "${sacflags[@]}" "-$mode" "${pie[@]}" tests/c/host_test.c "$salib" -lgcc -o "$bin/host-standalone-$mode"
  build_async "ctor_matrix-$mode" gcc "${sacflags[@]}" "-$mode" "${pie[@]}" tests/standalone/ctor_matrix.c "$salib" -lgcc -o "$bin/ctor_matrix-$mode"
  for align in 8 64 4096; do
    build_async "tls$align-$mode" gcc "${sacflags[@]}" "-$mode" "${pie[@]}" -DMAX_ALIGN=$align tests/standalone/tls.c "$salib" -lgcc -o "$bin/tls$align-$mode"
  done
  for t in lifecycle storm reuse; do
    build_async "$t-standalone-$mode" gcc "${sacflags[@]}" "-$mode" "${pie[@]}" "tests/pthread-hooks/$t.c" "$salib" -lgcc -o "$bin/$t-standalone-$mode"
  done
done
for t in lifecycle storm reuse safety; do
  build_async "$t-glibc-static" gcc "${cflags[@]}" -static "tests/pthread-hooks/$t.c" "$lib" -lpthread -o "$bin/$t-glibc-static"
  [ $have_musl = 1 ] && build_async "$t-musl-static" musl-gcc "${cflags[@]}" -static "tests/pthread-hooks/$t.c" "$lib" -o "$bin/$t-musl-static"
done
build_async percpu-glibc-static gcc -O2 -g -std=gnu11 -Wall -Wextra -Werror -I"$root/headers" -I"$root/tests/c" -static \
  tests/percpu/percpu_c_test.c "$lib" -lpthread -o "$bin/percpu-glibc-static"
[ $have_musl = 1 ] && build_async percpu-musl-static musl-gcc -O2 -g -std=gnu11 -Wall -Wextra -Werror -I"$root/headers" -I"$root/tests/c" -static \
  tests/percpu/percpu_c_test.c "$lib" -o "$bin/percpu-musl-static"
build_async v2check-glibc-static gcc "${cflags[@]}" -static "$here/v2check.c" "$lib" -lpthread -o "$bin/v2check-glibc-static"
[ $have_musl = 1 ] && build_async v2check-musl-static musl-gcc "${cflags[@]}" -static "$here/v2check.c" "$lib" -o "$bin/v2check-musl-static"
# The per-CPU stress is the rseq-libc command, linked statically (glibc).
if RUSTFLAGS="-C target-feature=+crt-static" cargo build --release -q -p rseq-libc-cli \
     --target x86_64-unknown-linux-gnu --target-dir "$root/target/kernels-static" > "$out/cli.build.log" 2>&1; then
  cp "$root/target/kernels-static/x86_64-unknown-linux-gnu/release/rseq-libc" "$bin/rseq-libc"
else
  fail "build the static rseq-libc command: $(tail -n 5 "$out/cli.build.log")"
fi
build_wait
i=0
for n in 6.12 6.12-component 7.3 7.3-component; do
  wait "${st_pids[$i]}" || fail "build selftests-$n: $(tail -c 600 "$out/selftests-$n.build.log")"
  echo "selftests-$n: $(tail -n 1 "$out/selftests-$n.build.log")"
  i=$((i + 1))
done
# The patched glibc 2.36 (built and cached by tests/glibc-patched/run.sh,
# which the test command runs before this): the host test linked against
# its libc.a, and its ld.so and shared libraries under /pg, through which
# the selftests run with the patched glibc owning registration.
pg=${RSEQ_LIBC_GLIBC_CACHE:-$HOME/.cache/rseq-libc/glibc-2.36}
have_pg=0
if [ -x "$pg/build/elf/ld.so" ] && [ -f "$pg/link/libc.a" ] && [ -d "$pg/sysroot/usr/include" ]; then
  mkdir -p "$stage/pg"
  if build host-pglibc-static gcc -O2 -g -Wall -Wextra -Werror -isystem "$pg/sysroot/usr/include" \
       -I"$root/headers" -I"$root/tests/c" -B"$pg/link/" -L"$pg/link" -static tests/c/host_test.c "$lib" \
       -o "$bin/host-pglibc-static"; then
    cp -L "$pg/build/elf/ld.so" "$stage/pg/ld.so"
    cp -L "$pg/build/libc.so" "$stage/pg/libc.so.6"
    for l in nptl/libpthread.so:libpthread.so.0 dlfcn/libdl.so:libdl.so.2 math/libm.so:libm.so.6; do
      [ -f "$pg/build/${l%%:*}" ] && cp -L "$pg/build/${l%%:*}" "$stage/pg/${l#*:}"
    done
    have_pg=1
  fi
else
  skip "the patched glibc 2.36 rows: no build in $pg (bash tests/glibc-patched/run.sh builds it)"
fi
# glibc 2.43 with its series (tests/glibc-patched/run.sh builds and caches
# it before this step): static programs for the V2 kernels, where it must
# publish feature size 33 and register 33 bytes aligned 64.
g243=${RSEQ_LIBC_GLIBC243_CACHE:-$HOME/.cache/rseq-libc/glibc-2.43}
have_g243=0
if [ -f "$g243/link/libc.a" ]; then
  build glibc243-guest env RSEQ_LIBC_GLIBC_CACHE="$g243" bash "$here/glibc-patched-guest.sh" "$bin" "$out/glibc243-logs" &&
    have_g243=1
else
  skip "the patched glibc 2.43 rows: no build in $g243 (bash tests/glibc-patched/run.sh builds it)"
fi
# glibc's shared libraries for the dynamic programs.
for so in $(ldd "$stage/st/7.3/param_test" "$bin/host-glibc-dynamic" 2>/dev/null | awk '$3 ~ /^\// {print $3} $1 ~ /^\// && $1 !~ /:$/ {print $1}' | sort -u); do
  case $so in */libhostlib.so|*/librseq.so) continue ;; esac
  cp -L "$so" "$stage/lib/x86_64-linux-gnu/"
done
cp -L /lib64/ld-linux-x86-64.so.2 "$stage/lib64/"
# Debug info is not needed in the guest; the initramfs stays small.
find "$bin" "$stage/st" -type f -perm -u+x ! -name '*.sh' -exec strip --strip-debug {} + 2> /dev/null
echo "built the guest programs ($((SECONDS - t_build)) s)"

# ---- the plan --------------------------------------------------------------
# Each entry: NAME SUITE HOST JUDGE SECONDS [ENV ...] -- PROGRAM [ARGS ...].
# JUDGE: ok (exit 0 and ", 0 failed"), rc0 (exit 0: selftests), stress
# (exit 0, every mode PASS with >= 1 abort per 1000 ops), v2write (killed
# by SIGSEGV in a V2 kernel, "survived the write" elsewhere).
declare -A J_SUITE J_HOST J_JUDGE
plan=$stage/plan
: > "$plan"
n_entries=0
add() { # name suite host judge seconds args...
  local name=$1 suite=$2 host=$3 judge=$4 secs=$5; shift 5
  J_SUITE[$name]=$suite; J_HOST[$name]=$host; J_JUDGE[$name]=$judge
  echo "$name $secs $*" >> "$plan"
  n_entries=$((n_entries + 1))
}
off=GLIBC_TUNABLES=glibc.pthread.rseq=0
project_plan() {
# host_test: owner, __rseq_size, feature size per host (tests/c/run.sh).
add host.gd host_test "glibc dynamic" ok 60 EXPECT_OWNER=1 EXPECT_RSEQ_SIZE=20 EXPECT_FEATURE_SIZE=@FS@ -- /bin/host-glibc-dynamic
add host.gd0 host_test "glibc dynamic, rseq=0" ok 60 $off EXPECT_OWNER=2 EXPECT_RSEQ_SIZE=0 EXPECT_FEATURE_SIZE=@FS@ -- /bin/host-glibc-dynamic
add host.gs host_test "glibc static" ok 60 EXPECT_OWNER=1 EXPECT_RSEQ_SIZE=20 EXPECT_FEATURE_SIZE=@FS@ -- /bin/host-glibc-static
add host.gs0 host_test "glibc static, rseq=0" ok 60 $off EXPECT_OWNER=2 EXPECT_RSEQ_SIZE=0 EXPECT_FEATURE_SIZE=@FS@ -- /bin/host-glibc-static
add host.gsx host_test "glibc static, rseq blocked" ok 60 EXPECT_OWNER=0 EXPECT_RSEQ_SIZE=0 EXPECT_FEATURE_SIZE=@FS@ -- /bin/no_rseq /bin/host-glibc-static
if [ $have_musl = 1 ]; then
  add host.ms host_test "musl static" ok 60 EXPECT_OWNER=2 EXPECT_RSEQ_SIZE=@FS20@ EXPECT_FEATURE_SIZE=@FS@ -- /bin/host-musl-static
  add host.msx host_test "musl static, rseq blocked" ok 60 EXPECT_OWNER=0 EXPECT_RSEQ_SIZE=0 EXPECT_FEATURE_SIZE=@FS@ -- /bin/no_rseq /bin/host-musl-static
fi
for mode in static static-pie; do
  add "host.sa-$mode" host_test "standalone $mode" ok 60 EXPECT_OWNER=2 EXPECT_RSEQ_SIZE=@FS20@ EXPECT_FEATURE_SIZE=@FS@ -- "/bin/host-standalone-$mode"
  add "host.sax-$mode" host_test "standalone $mode, rseq blocked" ok 60 EXPECT_OWNER=0 EXPECT_RSEQ_SIZE=0 EXPECT_FEATURE_SIZE=@FS@ -- /bin/no_rseq "/bin/host-standalone-$mode"
  # The constructor/TLS matrix (tests/standalone).
  add "ctor.$mode" ctor/TLS "standalone $mode" ok 60 EXPECT_REGISTERED=1 EXPECT_FEATURE_SIZE=@FS20@ -- "/bin/ctor_matrix-$mode"
  add "ctorx.$mode" ctor/TLS "standalone $mode, rseq blocked" ok 60 EXPECT_REGISTERED=0 -- /bin/no_rseq "/bin/ctor_matrix-$mode"
  for align in 8 64 4096; do
    add "tls$align.$mode" ctor/TLS "standalone $mode" ok 60 EXPECT_FEATURE_SIZE=@FS20@ -- "/bin/tls$align-$mode"
  done
done
# The patched glibc 2.36 owns through the component; publishes the
# feature size, at most 32 (patches/README.md).
if [ $have_pg = 1 ]; then
  add host.pgs host_test "patched glibc 2.36 static" ok 60 EXPECT_OWNER=1 EXPECT_RSEQ_SIZE=@FS2032@ EXPECT_FEATURE_SIZE=@FS@ -- /bin/host-pglibc-static
  add host.pgs0 host_test "patched glibc 2.36 static, rseq=0" ok 60 $off EXPECT_OWNER=2 EXPECT_RSEQ_SIZE=0 EXPECT_FEATURE_SIZE=@FS@ -- /bin/host-pglibc-static
fi
# The patched glibc 2.43 on the V2 kernels: libc owns and publishes the
# feature size (33), registers that length (v2check reads it back; its
# negative control is killed), and the series' own test passes.
if [ $have_g243 = 1 ] && [ "${cur_v2:-0}" = 1 ]; then
  add host.g243 host_test "patched glibc 2.43 static" ok 60 EXPECT_OWNER=1 EXPECT_RSEQ_SIZE=@FS@ EXPECT_FEATURE_SIZE=@FS@ -- /bin/host-glibc243p-static
  add host.g2430 host_test "patched glibc 2.43 static, rseq=0" ok 60 $off EXPECT_OWNER=2 EXPECT_RSEQ_SIZE=0 EXPECT_FEATURE_SIZE=@FS@ -- /bin/host-glibc243p-static
  add v2.g243 v2 "patched glibc 2.43 static" ok 120 EXPECT_OWNER=1 V2_ITERS=1000 -- /bin/v2check-glibc243p-static
  add v2w.g243 v2 "patched glibc 2.43 static" v2write 60 EXPECT_OWNER=1 -- /bin/v2check-glibc243p-static write
  add tst.g243 glibc-series "patched glibc 2.43 static" rc0 60 -- /bin/tst-rseq-libc-glibc243p-static
fi
# The pthread hooks.
sizes=(STORM_THREADS=$storm_threads STORM_SECONDS=30 REUSE_THREADS=$reuse_threads SAFETY_THREADS=$safety_threads)
for t in lifecycle storm reuse safety; do
  modes=(""); [ $t = safety ] && modes=(detached setxid atexit keys)
  for m in "${modes[@]}"; do
    n=$t; [ -n "$m" ] && n=$t-$m
    add "$n.gs" hooks "glibc static" ok 240 "${sizes[@]}" EXPECT_OWNER=1 -- "/bin/$t-glibc-static" $m
    add "$n.gs0" hooks "glibc static, rseq=0" ok 240 "${sizes[@]}" $off EXPECT_OWNER=2 EXPECT_RSEQ_SIZE=0 -- "/bin/$t-glibc-static" $m
    [ $have_musl = 1 ] && add "$n.ms" hooks "musl static" ok 240 "${sizes[@]}" EXPECT_OWNER=2 EXPECT_RSEQ_SIZE=@FS20@ -- "/bin/$t-musl-static" $m
    if [ $t != safety ]; then
      for mode in static static-pie; do
        add "$n.sa-$mode" hooks "standalone $mode" ok 240 "${sizes[@]}" EXPECT_OWNER=2 -- "/bin/$t-standalone-$mode"
      done
    fi
  done
done
# The per-CPU stress: every mode, injected, by cpu_id and by mm_cid.
threads=16
add stress-cpu.gs percpu "glibc static" stress 120 -- /bin/rseq-libc stress --seconds "$stress_secs" --threads $threads
add stress-cid.gs percpu "glibc static" stress 120 -- /bin/rseq-libc stress --seconds "$stress_secs" --threads $threads --mm-cid
add stress-cpu.gs0 percpu "glibc static, rseq=0" stress 120 $off -- /bin/rseq-libc stress --seconds "$stress_secs" --threads $threads
add stress-cid.gs0 percpu "glibc static, rseq=0" stress 120 $off -- /bin/rseq-libc stress --seconds "$stress_secs" --threads $threads --mm-cid
# The RCU torture (an extra mode: not in the default list), injected.
add rcu-cpu.gs percpu "glibc static" stress 120 -- /bin/rseq-libc stress --seconds "$stress_secs" --threads $threads --mode rcu
add rcu-cid.gs0 percpu "glibc static, rseq=0" stress 120 $off -- /bin/rseq-libc stress --seconds "$stress_secs" --threads $threads --mode rcu --mm-cid
add percpu-c.gs percpu "glibc static" ok 120 -- /bin/percpu-glibc-static --mm-cid --records "$percpu_c_records"
add percpu-c.gs0 percpu "glibc static, rseq=0" ok 120 $off -- /bin/percpu-glibc-static --mm-cid --records "$percpu_c_records"
[ $have_musl = 1 ] && add percpu-c.ms percpu "musl static" ok 120 -- /bin/percpu-musl-static --mm-cid --records "$percpu_c_records"
# Registration length and kernel-owned fields.
add v2.gs v2 "glibc static" ok 120 EXPECT_OWNER=1 EXPECT_LEN=32 V2_ITERS=1000 -- /bin/v2check-glibc-static
add v2.gs0 v2 "glibc static, rseq=0" ok 120 $off EXPECT_OWNER=2 V2_ITERS=1000 -- /bin/v2check-glibc-static
add v2w.gs0 v2 "glibc static, rseq=0" v2write 60 $off EXPECT_OWNER=2 -- /bin/v2check-glibc-static write
if [ $have_musl = 1 ]; then
  add v2.ms v2 "musl static" ok 120 EXPECT_OWNER=2 V2_ITERS=1000 -- /bin/v2check-musl-static
  add v2w.ms v2 "musl static" v2write 60 EXPECT_OWNER=2 -- /bin/v2check-musl-static write
fi
}
# The kernel's selftests. glibc owns: they adopt its area (6.12's all;
# 7.3's programs built with rseq_no_glibc refuse it: param_test and
# syscall_errors_test, whose run_*.sh set glibc.pthread.rseq=0). Self: as
# 7.3's run_*.sh run them (glibc.pthread.rseq=0, no component). With the
# component linked and glibc.pthread.rseq=0, the component sees that the
# program registers rseq itself and steps aside (docs/hosts.md, "Programs
# that register rseq themselves"): their own registration must succeed.
selftest_plan() { # version kernel-index sample
  local v=$1 k=$2 sample=$3 d="/st/$1" dc="/st/$1-component" p
  # basic_percpu_ops_test (fixed size: 20 s here) does not finish in 60 s
  # under TCG: this machine's kernel only (k = 0). They spin 200 threads
  # for 20 s or more each: HOST_PERCPU_OPS_TREES says which trees' copies
  # run, HOST_PERCPU_OPS_HOSTS in which hosts (glibc comp pglibc self; all
  # by default, the test command keeps 7.3's with the component and with
  # the patched glibc).
  local basics="basic_test" ops_hosts="glibc comp pglibc self"
  case " ${HOST_PERCPU_OPS_TREES:-6.12 7.3} " in *" $v "*)
    [ "$k" = 0 ] && basics="basic_test basic_percpu_ops_test basic_percpu_ops_mm_cid_test"
    ops_hosts=${HOST_PERCPU_OPS_HOSTS:-$ops_hosts} ;;
  esac
  host_in() { # host program: whether the program runs in that host
    case $2 in basic_percpu_ops*) case " $ops_hosts " in *" $1 "*) return 0 ;; esac; return 1 ;; esac
  }
  # 6.12's own registration, on a 7.x kernel (feature size 33), fails to
  # unregister (EINVAL, also without the component): its self-registered
  # rows run on 6.x kernels only.
  local self_ok=1
  case "$v:${cur_kernel:-}" in 6.12:7.*) self_ok=0 ;; esac
  for p in $basics; do
    host_in glibc $p && add "st$v.$p.glibc" "selftests $v" "glibc owns" rc0 120 CWD=$d -- "$d/$p"
    host_in comp $p && add "st$v.$p.comp" "selftests $v" "glibc owns + component" rc0 120 CWD=$dc -- "$dc/$p"
    [ $have_pg = 1 ] && host_in pglibc $p &&
      add "st$v.$p.pglibc" "selftests $v" "patched glibc 2.36 owns" rc0 120 CWD=$d -- /pg/ld.so --library-path /pg "$d/$p"
    [ $self_ok = 1 ] && host_in self $p && add "st$v.$p.self" "selftests $v" "self-registered (rseq=0)" rc0 120 $off CWD=$d -- "$d/$p"
  done
  [ $self_ok = 1 ] &&
    add "st$v.basic_test.comp0" "selftests $v" "component steps aside (rseq=0)" rc0 60 $off CWD=$dc -- "$dc/basic_test"
  if [ $v = 7.3 ]; then
    for p in param_test_benchmark param_test_mm_cid_benchmark; do
      add "st$v.$p.glibc" "selftests $v" "glibc owns" rc0 120 CWD=$d -- "$d/$p" -T i -r 1000 -t 12
      add "st$v.$p.comp" "selftests $v" "glibc owns + component" rc0 120 CWD=$dc -- "$dc/$p" -T i -r 1000 -t 12
    done
    add "st$v.syscall_errors_test.self" "selftests $v" "self-registered (rseq=0)" rc0 60 $off CWD=$d -- "$d/syscall_errors_test"
    add "st$v.syscall_errors_test.comp0" "selftests $v" "component steps aside (rseq=0)" rc0 60 $off CWD=$dc -- "$dc/syscall_errors_test"
    add "st$v.legacy_check.self" "selftests $v" "self-registered (rseq=0)" rc0 60 $off CWD=$d -- "$d/legacy_check"
    add "st$v.legacy_check.glibc" "selftests $v" "glibc owns" rc0 60 CWD=$d -- "$d/legacy_check"
    add "st$v.check_optimized.self" "selftests $v" "self-registered (rseq=0)" opt 60 $off CWD=$d -- "$d/check_optimized"
    add "st$v.slice_test.self" "selftests $v" "self-registered (rseq=0)" rc0 60 $off CWD=$d -- "$d/slice_test"
  fi
  # run_param_test.sh's invocations (recorded with stand-in programs), every
  # $sample-th from an offset that differs per kernel: across the matrix the
  # kernels share out the whole list.
  local i=0 host env_self=() line
  for line in "${param_calls[@]}"; do
    case $line in "$v "*) ;; *) continue ;; esac
    i=$((i + 1))
    [ $(((i + k) % sample)) -eq 0 ] || continue
    set -- ${line#"$v "}
    local prog=$1; shift
    if [ $v = 7.3 ]; then
      add "st$v.pt$i.self" "selftests $v" "self-registered (rseq=0)" rc0 120 $off CWD=$d -- "$d/$prog" "$@"
      add "st$v.pt$i.comp0" "selftests $v" "component steps aside (rseq=0)" rc0 120 $off CWD=$dc -- "$dc/$prog" "$@"
    else
      add "st$v.pt$i.glibc" "selftests $v" "glibc owns" rc0 120 CWD=$d -- "$d/$prog" "$@"
      add "st$v.pt$i.comp" "selftests $v" "glibc owns + component" rc0 120 CWD=$dc -- "$dc/$prog" "$@"
      [ $have_pg = 1 ] && add "st$v.pt$i.pglibc" "selftests $v" "patched glibc 2.36 owns" rc0 120 CWD=$d -- /pg/ld.so --library-path /pg "$d/$prog" "$@"
    fi
  done
}
# Record run_param_test.sh's matrix: the script run with stand-ins that log
# their arguments (the guests have 2 CPUs, as this machine's -t 12 assumes 2).
param_calls=()
for v in 6.12 7.3; do
  rec=$out/record-$v; rm -rf "$rec"; mkdir -p "$rec"
  cp "$stage/st/$v/run_param_test.sh" "$rec/"
  for p in param_test param_test_compare_twice param_test_mm_cid param_test_mm_cid_compare_twice check_optimized; do
    printf '#!/bin/sh\necho "$(basename "$0") $*" >> "%s/calls"\n' "$rec" > "$rec/$p"; chmod +x "$rec/$p"
  done
  (cd "$rec" && bash run_param_test.sh > /dev/null 2>&1)
  while read -r l; do case $l in check_optimized*) ;; *) param_calls+=("$v $l") ;; esac; done < "$rec/calls"
done
echo "run_param_test.sh matrices: 6.12 $(printf '%s\n' "${param_calls[@]}" | grep -c '^6.12 ') invocations, 7.3 $(printf '%s\n' "${param_calls[@]}" | grep -c '^7.3 ')"

# ---- judging ---------------------------------------------------------------
declare -A CELL_P CELL_F
KCOLS=()
# What a failing program said, for the FAIL line: every FAIL line first (a
# stress log's PASS lines all mention "aborts", so a grep for error words
# would fill its quota with them and cut the failing mode off), each trimmed
# to 200 characters; then the summary; error or panic lines only when there
# is no FAIL line (a crash before any verdict).
fail_excerpt() { # logfile
  local fails summary errors
  fails=$(grep -E '^[[:space:]]*FAIL' "$1" | sed -E 's/^[[:space:]]+//' | cut -c1-200 | paste -sd'|' -)
  summary=$(grep -E '[0-9]+ passed, [0-9]+ failed' "$1" | tail -n 1 | cut -c1-120)
  [ -z "$fails" ] &&
    errors=$(grep -v -E '^[[:space:]]*PASS' "$1" | grep -m 3 -E 'rror|panick|abort|Oops|BUG' | cut -c1-200 | paste -sd'|' -)
  printf '%s' "${fails:+$fails | }${errors:+$errors | }${summary:-no summary line}"
}
judge() { # kernel-label name rc logfile v2(0/1)
  local k=$1 name=$2 rc=$3 log=$4 v2=$5 ok=0 why=""
  case ${J_JUDGE[$name]} in
    ok) [ "$rc" = 0 ] && grep -q ', 0 failed' "$log" && ok=1 ;;
    rc0) [ "$rc" = 0 ] && ok=1 ;;
    opt) # check_optimized: registers in the optimized mode where the kernel has it.
      if [ "$v2" = 1 ]; then [ "$rc" = 0 ] && ok=1; else ok=1; fi ;;
    stress)
      if [ "$rc" = 0 ]; then
        local modes rates low
        modes=$(grep -c '^PASS' "$log")
        rates=$(grep '^PASS' "$log" | sed -n 's/.*(\([0-9.]*\) per 1000 ops).*/\1/p')
        low=$(printf '%s\n' "$rates" | awk 'NF && $1 < 1' | wc -l)
        [ "$modes" -gt 0 ] && [ "$low" -eq 0 ] && [ "$(printf '%s\n' "$rates" | grep -c .)" -eq "$modes" ] && ok=1
        why="$modes modes; aborts per 1000 ops: $(grep '^PASS' "$log" | sed -n 's/^PASS \([a-z]*\):.*(\([0-9.]*\) per 1000 ops).*/\1 \2/p' | paste -sd, -)"
      fi ;;
    v2write)
      if [ "$v2" = 1 ]; then [ "$rc" = 139 ] && ok=1; why="killed by SIGSEGV (expected in V2 mode)"
      else [ "$rc" = 0 ] && grep -q 'survived the write' "$log" && ok=1; why="survived (legacy mode)"; fi ;;
  esac
  local key="$k|${J_SUITE[$name]}|${J_HOST[$name]}"
  if [ $ok = 1 ]; then
    CELL_P[$key]=$(( ${CELL_P[$key]:-0} + 1 ))
    [ -n "$why" ] && echo "  ok $name: $why"
    passed=$((passed + 1))
  else
    CELL_F[$key]=$(( ${CELL_F[$key]:-0} + 1 ))
    fail "$k: $name (${J_SUITE[$name]}, ${J_HOST[$name]}): rc=$rc: $(fail_excerpt "$log") (log: $log)"
  fi
}

# ---- the guests' plans and initramfs images ---------------------------------
# Every kernel's plan and image first: the guests then run in the
# background, KERNEL_GUEST_JOBS at a time.
guest_list=() # "kernel index v2 release vmlinuz" per guest to boot
idx=0
for k in $kernels; do
  vmlinuz=$(awk -v k="$k" '$1 == "kernel" && $2 == k {print $4}' "$out/fetch.txt")
  rel=$(awk -v k="$k" '$1 == "kernel" && $2 == k {print $3}' "$out/fetch.txt")
  [ -f "$vmlinuz" ] || { fail "kernel $k: no vmlinuz"; continue; }
  idx=$((idx + 1))
  v2=0; case " $v2_kernels " in *" $k "*) v2=1 ;; esac
  cur_v2=$v2
  : > "$plan"
  cur_kernel=$k
  project_plan
  # The selftests of 6.12 and 7.3 assert node_id and mm_cid (Linux 6.3+):
  # not meaningful on older kernels.
  case " $selftest_kernels " in
    *" $k "*) selftest_plan 6.12 "$idx" "$sample"; selftest_plan 7.3 "$idx" "$sample" ;;
    *) skip "kernel $k: the kernel's 6.12 and 7.3 rseq selftests need node_id and mm_cid (Linux 6.3+)" ;;
  esac
  cp "$plan" "$out/plan-$k"
  rm -f "$out/console-$k.log" "$out/guest-secs-$k"
  (cd "$stage" && find . | cpio -o -H newc --quiet) > "$out/initramfs-$k.cpio"
  guest_list+=("$k $v2 $rel $vmlinuz")
done

# ---- this machine's kernel: the selftests ----------------------------------
hk="host $(uname -r | cut -d- -f1)"
KCOLS+=("$hk")
host_v2=0
hostlogs=$out/logs/host; rm -rf "$hostlogs"; mkdir -p "$hostlogs"
t_host=$SECONDS
run_host_entry() { # plan line
  local name secs envs=() cwd=/tmp
  set -- $1
  name=$1; secs=$2; shift 2
  while [ "$1" != -- ]; do envs+=("$1"); case $1 in CWD=*) cwd=${1#CWD=} ;; esac; shift; done
  shift
  local prog=$1; shift
  prog=${prog/#\/st\//$stage/st/}
  prog=${prog/#\/pg\//$stage/pg/}
  local a args=()
  for a in "$@"; do
    case $a in /st/* | /pg/* | /pg) a=$stage$a ;; esac
    args+=("$a")
  done
  set -- "${args[@]}"
  cwd=${cwd/#\/st\//$stage/st/}
  local t0=$EPOCHREALTIME
  (cd "$cwd" && env -i PATH=/usr/bin:/bin "${envs[@]}" timeout -s KILL "$secs" "$prog" "$@") > "$hostlogs/$name.log" 2>&1
  local rc=$?; [ $rc = 137 ] && rc=timeout
  echo "$name $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.1f", b - a}')" >> "$hostlogs/.secs"
  judge "$hk" "$name" "$rc" "$hostlogs/$name.log" $host_v2
}
# On this kernel: every selftest entry of the plan, with run_param_test.sh's
# matrices sampled every $host_sample-th invocation (the whole of each takes
# over 10 minutes here). Its own plan file: the guests' are in their images.
host_sample=${HOST_PARAM_SAMPLE:-16}
host_plan=$out/plan-host
: > "$plan"
selftest_plan 6.12 0 "$host_sample"
selftest_plan 7.3 0 "$host_sample"
mv "$plan" "$host_plan"
host_entries=$(grep -c . "$host_plan")
[ "${KERNEL_HOST_SELFTESTS:-1}" = 1 ] && while read -r l; do run_host_entry "$l"; done < "$host_plan"
echo "this kernel's selftests: $host_entries programs, $((SECONDS - t_host)) s; the longest: $(sort -k2 -rn "$hostlogs/.secs" 2> /dev/null | head -n 5 | awk '{printf "%s%s %s s", (NR > 1 ? ", " : ""), $1, $2}')"

# ---- the guests, in the background -------------------------------------------
# Single-threaded TCG: with one host thread per vCPU (qemu's default), the
# 7.x kernels' int3-based text patching sometimes hit a stale translation
# (an "Oops: int3" at boot, or in sched_clock_cpu under param_test's yield
# injection): 1 boot in 8 with -smp 4, and the mm_cid memcpy tests with -y
# reproducibly; with thread=single, 0 in 8 boots and those tests pass.
# A single-threaded TCG guest keeps one host core busy: KERNEL_GUEST_JOBS
# guests (2: this machine's core count) run at once. Each program's time
# limit inside a guest, and the guest's own, are several times what it needs
# alone, so a guest slowed by its neighbours is not reported as failing.
# This machine's selftests run before, alone: the basic_percpu_ops tests
# spin 200 threads on a spin lock and slow down past their limit when
# their holders are preempted by guests (seen: 120 s instead of 20 s).
qemu_log() { # kernel vmlinuz log
  timeout -s KILL "$guest_timeout" qemu-system-x86_64 -accel tcg,thread=single -cpu max,la57=off -smp 2 -m 1024 \
    -nographic -no-reboot -kernel "$2" -initrd "$out/initramfs-$1.cpio" \
    -append "console=ttyS0 quiet loglevel=4 panic=-1 rdinit=/init" < /dev/null 2>&1 | tr -d '\r' > "$3"
}
guest_timeout=${KERNEL_GUEST_TIMEOUT:-420}
guest_jobs=${KERNEL_GUEST_JOBS:-2}
t_guests=$SECONDS
(
  running=0
  for g in "${guest_list[@]}"; do
    read -r k _ _ vmlinuz <<< "$g"
    if [ "$running" -ge "$guest_jobs" ]; then wait -n; running=$((running - 1)); fi
    (t=$SECONDS; qemu_log "$k" "$vmlinuz" "$out/console-$k.log"; echo $((SECONDS - t)) > "$out/guest-secs-$k") &
    running=$((running + 1))
  done
  # Every guest has started: from the next one to finish, a core is free
  # for the next script's guests (tests/kernels/run.sh starts them on this
  # file).
  if [ -n "${KERNEL_SLOT_FREE_FILE:-}" ]; then
    [ "$running" -ge "$guest_jobs" ] && wait -n
    touch "$KERNEL_SLOT_FREE_FILE"
  fi
  wait
) &
guests_pid=$!

# ---- the guests' results -----------------------------------------------------
wait "$guests_pid"
echo "the guests: ${#guest_list[@]} kernels, $guest_jobs at a time, $((SECONDS - t_guests)) s"
for g in "${guest_list[@]}"; do
  read -r k v2 rel _ <<< "$g"
  kl="$k"; KCOLS+=("$kl")
  logs=$out/logs/$k; rm -rf "$logs"; mkdir -p "$logs"
  # Split the console into one log per program.
  awk -v dir="$logs" '
    /^@@BEGIN / { name = $2; file = dir "/" name ".log"; printf "" > file; next }
    /^@@END / { split($3, a, "="); print a[2] > (dir "/" $2 ".rc"); close(file); name = ""; next }
    name != "" { print >> file }' "$out/console-$k.log"
  header=$(grep -m 1 '^@@KERNEL' "$out/console-$k.log")
  echo "== kernel $k ($rel): ${header#@@KERNEL } booted and ran $(grep -c . "$out/plan-$k") programs in $(cat "$out/guest-secs-$k" 2> /dev/null || echo '?') s; the longest: $(awk '/^@@END / {sub(/^secs=/, "", $4); print $2, $4}' "$out/console-$k.log" | sort -k2 -rn | head -n 4 | awk '{printf "%s%s %s s", (NR > 1 ? ", " : ""), $1, $2}')"
  grep -q '^@@DONE' "$out/console-$k.log" ||
    fail "kernel $k: the guest did not finish (timeout ${guest_timeout}s or crash): $(grep -E 'panic|BUG|Oops|double fault' "$out/console-$k.log" | head -n 3 | tr '\n' ' ') (log: $out/console-$k.log)"
  while read -r l; do
    name=${l%% *}
    if [ -f "$logs/$name.rc" ]; then
      judge "$kl" "$name" "$(cat "$logs/$name.rc")" "$logs/$name.log" "$v2"
    else
      judge "$kl" "$name" "not-run" /dev/null "$v2"
    fi
  done < "$out/plan-$k"
done

# ---- the table -------------------------------------------------------------
echo
echo "kernel x host x suite (passed/run):"
printf '| suite | host |'; for c in "${KCOLS[@]}"; do printf ' %s |' "$c"; done; echo
printf '|---|---|'; for c in "${KCOLS[@]}"; do printf -- '---|'; done; echo
rows=$(for key in "${!CELL_P[@]}" "${!CELL_F[@]}"; do echo "${key#*|}"; done | sort -u)
while IFS= read -r row; do
  [ -n "$row" ] || continue
  printf '| %s | %s |' "${row%%|*}" "${row#*|}"
  for c in "${KCOLS[@]}"; do
    p=${CELL_P[$c|$row]:-0} f=${CELL_F[$c|$row]:-0}
    if [ $((p + f)) -eq 0 ]; then printf ' - |'; else printf ' %s/%s |' "$p" "$((p + f))"; fi
  done
  echo
done <<< "$rows"
finish
