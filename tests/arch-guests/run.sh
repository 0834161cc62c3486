#!/usr/bin/env bash
# The component on aarch64 and riscv64, in guests (issue 21, stage 1): for
# each architecture, the crates cross-built with the project's toolchain
# tree (scripts/cross-toolchain.sh, scripts/cross-cargo.sh), static test
# programs linked with Debian's cross gcc against glibc 2.41 and musl, and
# two Debian kernels, trixie's 6.12 and sid's 7.2 (tests/arch-guests/fetch.sh,
# cached), booted with qemu-system (TCG) and tests/kernels/init.c as PID 1.
# qemu-user cannot test rseq (it answers the syscall with ENOSYS).
#
# Rows per guest (EXPECT_* as in tests/kernels/matrix.sh):
#   host_test  glibc static, static-pie and dynamic (with a DT_NEEDED library
#              that has constructors): glibc owns registration, and with
#              glibc.pthread.rseq=0 the component does; musl static (component)
#   hooks      the pthread hooks' lifecycle, storm, reuse and safety tests
#              (sized for TCG), glibc static (owns / rseq=0) and musl static;
#              storm only where the component owns, no setxid, unless
#              ARCH_GUEST_FULL=1
#   pmu        the PMU API (tests/pmu/pmu_test.c, docs/pmu.md): bad input and
#              a software event (restarts under forced migration) in both;
#              on aarch64 cycles read with mrs against read(2), forced
#              migrations, two entries of the one PMU type, the
#              perf_user_access=0 and no-rseq fallbacks (glibc and musl
#              static), and one more boot of the last kernel with
#              -icount shift=0,sleep=off for the instructions event
#              (ARCH_GUEST_PMU_ICOUNT=0 skips it; ARCH_GUEST_PMU_TOLERANCE
#              bounds its deltas, 1000 instructions)
#   hotplug    hotplug.c: CPU 1 offline and back (ARCH_GUEST_HOTPLUG_CYCLES,
#              3) while threads read their area and others are created:
#              registration, owner and cpu_id stay right; glibc static
#              (glibc owns; rseq=0 too with ARCH_GUEST_FULL=1) and musl
#              static
#   st.*       the kernel's rseq selftests of linux-source-6.12 (the x86-64
#              matrix's tree), cross-built and cached
#              (tests/kernels/selftests-cached.sh, SELFTESTS_CROSS_ARCH),
#              plain (glibc owns) and linking the component: basic_test
#              and ARCH_GUEST_PARAM_SAMPLES (1) run_param_test.sh
#              invocations per guest, a different one in each guest;
#              judged by exit status 0
# and, on the build side, clippy -D warnings for the target and rseq-abi's
# unit tests under qemu-user.
# and, where percpu/seq/ARCH.seq exists (aarch64, riscv64), rseq-percpu's
# unit tests in the 7.2 guest (riscv64: without the longest, see
# riscv64_unit_skips); on riscv64 the generated riscv.h's sequences with
# forced aborts (riscv_seq_test.c) in every guest; where the per-CPU C API
# is built too ($percpu_capi_arches: aarch64), in every guest
# (percpu_capi_* below):
#   stress     rseq-libc stress (linked statically): every default mode with
#              forced aborts (the architecture's trap inside every 32nd
#              section), by cpu_id and by mm_cid
#   percpu-c   tests/percpu/percpu_c_test.c (--records small for TCG)
#   inline     tests/percpu/percpu_inline_test.c, plain and as the stress
#              build (delay loops, a forced trap abort in each operation)
#   lock, fork tests/locks' spin locks and fork test
#   glibc static and musl static. Not yet on these architectures
# (docs/architectures.md): the standalone libc (TLS variant I); riscv64's
# per-CPU C API and the CLI's stress; they are SKIP lines.
#
# Needs root (the cross tree's chroot), qemu-system-arm, qemu-system-misc
# (OpenSBI is in qemu-system-data), qemu-user-static and cpio: installed with apt-get when
# missing; a missing tool is a SKIP. ARCH_GUESTS (default "aarch64
# riscv64"), ARCH_GUEST_KERNELS (default "6.12 7.2"), ARCH_GUEST_TIMEOUT
# (seconds per boot, 600: two guests and a build share the two cores),
# ARCH_GUEST_JOBS (guests booted at once, 2), ARCH_GUEST_FULL=1 (every
# hooks row: storm in every host, safety's setxid). The cross target
# directories start from scripts/target-seed.sh's seeds in a fresh clone.
# Ends with "N passed, N failed, N skipped".
set -u
cd "$(dirname "$0")/../.."
root=$PWD
here=$root/tests/arch-guests
out=${RSEQ_LIBC_TEST_BUILD:-$root/tests/build}/arch-guests
t_start=$SECONDS
mkdir -p "$out"
passed=0 failed=0 skipped=0
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; failed=$((failed + 1)); }
skip() { echo "SKIP $1"; skipped=$((skipped + 1)); }
finish() { echo "arch-guests: total $((SECONDS - t_start)) s"; echo "$passed passed, $failed failed, $skipped skipped"; [ "$failed" -eq 0 ]; exit $?; }

arches=${ARCH_GUESTS:-aarch64 riscv64}
kernels=${ARCH_GUEST_KERNELS:-6.12 7.2}
guest_timeout=${ARCH_GUEST_TIMEOUT:-600}
full=${ARCH_GUEST_FULL:-0}
pmu_icount=${ARCH_GUEST_PMU_ICOUNT:-1}
# Largest instructions (user space only) between two reads of the same
# event under -icount (deterministic): one rseq_pmu_read and one
# rseq_pmu_read_entry in between (measured: see docs/pmu.md).
pmu_icount_tolerance=${ARCH_GUEST_PMU_TOLERANCE:-1000}
hotplug_cycles=${ARCH_GUEST_HOTPLUG_CYCLES:-3}
guest_jobs=${ARCH_GUEST_JOBS:-2}
param_samples=${ARCH_GUEST_PARAM_SAMPLES:-1}

if [ "$(id -u)" -ne 0 ]; then
  skip "arch guests: the cross tree needs root (chroot, mount)"; finish
fi
if ! bash "$root/scripts/install-deps.sh" qemu-system-arm qemu-system-misc qemu-user-static cpio > "$out/deps.log" 2>&1; then
  skip "arch guests: cannot install qemu-system-arm, qemu-system-misc, qemu-user-static and cpio: $(tail -n 2 "$out/deps.log")"; finish
fi
if ! bash "$here/fetch.sh" > "$out/fetch.txt" 2> "$out/fetch.log"; then
  skip "arch guests: the Debian kernel packages cannot be fetched: $(tail -n 2 "$out/fetch.log")"; finish
fi
echo "fetched ($((SECONDS - t_start)) s):"; sed 's/^/  /' "$out/fetch.txt"
# linux-source-6.12's rseq selftests, from tests/kernels/fetch.sh's cache
# (the x86-64 matrix's; warm, it makes no network access).
src612=
if bash "$root/tests/kernels/fetch.sh" > "$out/fetch-src.txt" 2> "$out/fetch-src.log"; then
  src612=$(awk '$1 == "source" && $2 == "6.12" {print $3}' "$out/fetch-src.txt")
fi
# run_param_test.sh's invocations, recorded once with stand-ins that log
# their arguments (the guests have 2 CPUs, as -t 12 from this machine's 2).
param_calls=()
record_param_calls() { # the selftests' directory
  local rec=$out/record p l
  rm -rf "$rec"; mkdir -p "$rec"
  cp "$1/run_param_test.sh" "$rec/"
  for p in param_test param_test_compare_twice param_test_mm_cid param_test_mm_cid_compare_twice check_optimized; do
    printf '#!/bin/sh\necho "$(basename "$0") $*" >> "%s/calls"\n' "$rec" > "$rec/$p"; chmod +x "$rec/$p"
  done
  (cd "$rec" && bash run_param_test.sh > /dev/null 2>&1)
  while read -r l; do case $l in check_optimized*) ;; *) param_calls+=("$l") ;; esac; done < "$rec/calls"
}

off=GLIBC_TUNABLES=glibc.pthread.rseq=0
# name seconds env... -- program args (init.c's plan format; @FS@ is the
# guest kernel's feature size). trixie's glibc 2.41 publishes __rseq_size =
# feature size (20 on kernels that report none, which these do not).
plan_lines() {
  cat <<PLAN
host.gs 60 EXPECT_OWNER=1 EXPECT_RSEQ_SIZE=@FS@ EXPECT_FEATURE_SIZE=@FS@ -- /bin/host-glibc-static
host.gs0 60 $off EXPECT_OWNER=2 EXPECT_RSEQ_SIZE=0 EXPECT_FEATURE_SIZE=@FS@ -- /bin/host-glibc-static
host.gsp 60 EXPECT_OWNER=1 EXPECT_RSEQ_SIZE=@FS@ EXPECT_FEATURE_SIZE=@FS@ -- /bin/host-glibc-static-pie
host.gsp0 60 $off EXPECT_OWNER=2 EXPECT_RSEQ_SIZE=0 EXPECT_FEATURE_SIZE=@FS@ -- /bin/host-glibc-static-pie
host.gd 60 EXPECT_OWNER=1 EXPECT_RSEQ_SIZE=@FS@ EXPECT_FEATURE_SIZE=@FS@ -- /bin/host-glibc-dynamic
host.gd0 60 $off EXPECT_OWNER=2 EXPECT_RSEQ_SIZE=0 EXPECT_FEATURE_SIZE=@FS@ -- /bin/host-glibc-dynamic
host.ms 60 EXPECT_OWNER=2 EXPECT_RSEQ_SIZE=@FS20@ EXPECT_FEATURE_SIZE=@FS@ -- /bin/host-musl-static
PLAN
  # The pthread hooks (tests/pthread-hooks), sized for TCG: the default set
  # keeps the suite's warm time small; ARCH_GUEST_FULL=1 adds the storm in
  # every host and safety's setxid mode (15-25 s each under TCG). Storm's
  # STORM_SECONDS is only a bound: it is set far above the expected time
  # (a slow guest must not fail it).
  local t m n h hosts sizes="STORM_THREADS=64 STORM_SECONDS=200 REUSE_THREADS=100 SAFETY_THREADS=50"
  for t in lifecycle storm reuse safety; do
    for m in ${modes[$t]}; do
      n=$t; [ "$m" != - ] && n=$t-$m
      [ "$m" = - ] && m=
      hosts="gs gs0 ms"
      if [ "$full" != 1 ]; then
        case $n in storm) hosts="gs0 ms" ;; safety-setxid) continue ;; esac
      fi
      for h in $hosts; do
        case $h in
          gs) echo "$n.gs 240 $sizes EXPECT_OWNER=1 -- /bin/$t-glibc-static $m" ;;
          gs0) echo "$n.gs0 240 $sizes $off EXPECT_OWNER=2 EXPECT_RSEQ_SIZE=0 -- /bin/$t-glibc-static $m" ;;
          ms) echo "$n.ms 240 $sizes EXPECT_OWNER=2 EXPECT_RSEQ_SIZE=@FS20@ -- /bin/$t-musl-static $m" ;;
        esac
      done
    done
  done
  # The PMU API (tests/pmu/pmu_test.c): bad input and the software event
  # (read(2) reported as such; restarts under forced migration) in both
  # architectures; on aarch64 (qemu's armv8_pmuv3 with -cpu max) the
  # counter read with mrs, which must be there (PMU_REQUIRE=1), and the
  # fallbacks: perf_user_access=0, and rseq hidden by seccomp (ENOSYS).
  # riscv64 has no user read yet.
  echo "pmu.errors.gs 60 -- /bin/pmu-glibc-static errors"
  echo "pmu.software.gs 60 -- /bin/pmu-glibc-static software"
  echo "pmu.software.ms 60 -- /bin/pmu-musl-static software"
  if [ "$arch" = aarch64 ]; then
    echo "pmu.user.gs 120 PMU_REQUIRE=1 -- /bin/pmu-glibc-static user"
    echo "pmu.user.ms 120 PMU_REQUIRE=1 -- /bin/pmu-musl-static user"
    echo "pmu.noaccess.gs 60 PMU_REQUIRE=1 -- /bin/pmu-glibc-static noaccess"
    echo "pmu.norseq.gs 60 PMU_REQUIRE=1 $off -- /bin/no-rseq /bin/pmu-glibc-static norseq"
    echo "pmu.norseq.ms 60 PMU_REQUIRE=1 -- /bin/no-rseq /bin/pmu-musl-static norseq"
  fi
}
# The aarch64 guest booted once more with -icount shift=0,sleep=off (instructions
# counted, deterministically: TCG has no instruction event without it),
# on the last kernel only, for the instructions event read with mrs.
icount_plan_lines() {
  echo "pmu.icount.gs 120 PMU_REQUIRE=1 PMU_EVENT=instructions PMU_TOLERANCE=$pmu_icount_tolerance -- /bin/pmu-glibc-static user"
}
declare -A modes=([lifecycle]=- [storm]=- [reuse]=- [safety]="detached setxid atexit keys")
# CPU hotplug (hotplug.c): CPU 1 offline and back while threads read their
# area and short-lived threads are created, where glibc owns and where the
# component does (musl); ARCH_GUEST_FULL=1 adds glibc with rseq=0 (each
# row takes 5-15 s under TCG on a busy machine).
hotplug_lines() {
  local c="HOTPLUG_CYCLES=$hotplug_cycles"
  echo "hotplug.gs 120 $c EXPECT_OWNER=1 -- /bin/hotplug-glibc-static"
  [ "$full" = 1 ] && echo "hotplug.gs0 120 $c $off EXPECT_OWNER=2 -- /bin/hotplug-glibc-static"
  echo "hotplug.ms 120 $c EXPECT_OWNER=2 -- /bin/hotplug-musl-static"
}
# The kernel's rseq selftests of linux-source-6.12, cross-built (plain in
# /st/plain, linking the component in /st/comp), as tests/kernels/matrix.sh
# runs them with glibc owning registration (the component adopts glibc's
# area where linked): basic_test, and $param_samples of run_param_test.sh's
# invocations (recorded with stand-ins, as matrix.sh does), spread over the
# list from an offset that differs per guest so that the guests share it
# out. Judged by exit status 0, as the selftests report.
selftest_lines() { # guest-index
  local g=$1 n=${#param_calls[@]} i j stride
  echo "st.basic_test.glibc 120 CWD=/st/plain -- /st/plain/basic_test"
  echo "st.basic_test.comp 120 CWD=/st/comp -- /st/comp/basic_test"
  [ "$n" -gt 0 ] && [ "$param_samples" -gt 0 ] || return 0
  stride=$((n / param_samples)); [ "$stride" -ge 1 ] || stride=1
  for ((j = 0; j < param_samples && j < n; j++)); do
    i=$(((g * 97 + j * stride) % n))
    echo "st.pt$i.glibc 180 CWD=/st/plain -- /st/plain/${param_calls[$i]}"
    echo "st.pt$i.comp 180 CWD=/st/comp -- /st/comp/${param_calls[$i]}"
  done
}

# ---- the per-CPU C API, the stress and the C per-CPU tests -----------------
# Architectures whose archive has the per-CPU C API (src/percpu_capi.rs,
# headers/rseq-percpu.h): their guests run the rows below.
percpu_capi_arches="aarch64"
# Sized for TCG (measured: docs/architectures.md): the stress runs each of
# its 9 default modes for ARCH_GUEST_STRESS_SECONDS with 8 threads, a forced
# abort in every 32nd section (the stress fails a mode below 1 abort per
# 1000 operations, or one whose armed section committed);
# percpu_c_test's flush-ring writers and shared-ring producers write
# ARCH_GUEST_PERCPU_C_RECORDS records each; percpu_inline_test's stress
# build delays ARCH_GUEST_INLINE_DELAY iterations at each point of every
# section (each operation's forced abort is there whatever the delay);
# lock_c_test's threads take ARCH_GUEST_LOCK_ITERS locks each.
stress_secs=${ARCH_GUEST_STRESS_SECONDS:-0.2}
stress_threads=${ARCH_GUEST_STRESS_THREADS:-8}
percpu_c_records=${ARCH_GUEST_PERCPU_C_RECORDS:-500}
inline_delay=${ARCH_GUEST_INLINE_DELAY:-20}
lock_iters=${ARCH_GUEST_LOCK_ITERS:-1000}

# Builds the static rseq-libc command and the C programs
# (tests/arch-guests/build-percpu.sh) into $out/percpu-$arch.cpio; checks
# the inline binaries' sections with the host's rseq-libc inspect. Sets
# have_percpu_capi=1 when the programs are there.
percpu_capi_build() {
  local pout=target/cross/guest-$arch-percpu cli=target/cross-static/$triple/release/rseq-libc b
  have_percpu_capi=0
  if ! CROSS_RUN=1 bash "$root/scripts/cross-cargo.sh" "$arch" env RUSTFLAGS="-C target-feature=+crt-static" \
       cargo build --release --locked -p rseq-libc-cli --target "$triple" \
       --target-dir /src/target/cross-static > "$out/cli-$arch.log" 2>&1; then
    fail "$arch: the rseq-libc command (static): $(grep -m 3 -E '^error' "$out/cli-$arch.log" | tr '\n' ' ') (log: $out/cli-$arch.log)"
    return
  fi
  CROSS_RUN=1 bash "$root/scripts/cross-cargo.sh" "$arch" bash tests/arch-guests/build-percpu.sh \
    "$arch" "$triple" "$pout" > "$out/build-percpu-$arch.log" 2>&1
  if grep -q '^BUILD-FAILED' "$out/build-percpu-$arch.log" || [ ! -s "$root/$pout/percpu.cpio.tmp" ]; then
    fail "$arch: building the per-CPU C programs: $(grep -m 3 -E 'BUILD-FAILED|rror' "$out/build-percpu-$arch.log" | tr '\n' ' ' | head -c 800)"
    return
  fi
  pass "$arch: the rseq-libc command and the per-CPU C programs link (percpu_c_test, percpu_inline_test plain and stress, lock_c_test: glibc and musl static; fork_test)"
  # The inline sections as a user's program has them (the archive's
  # too): descriptors, signatures, exit points.
  inspect_sections "$arch" "$root/$pout/inline-glibc-static.debug" "$root/$pout/root/bin/inline-musl-static-stress" \
    "${percpu_test:+$root/$percpu_test}"
  mkdir -p "$out/percpu-$arch/bin"
  cp "$root/$cli" "$out/percpu-$arch/bin/rseq-libc"
  "$arch-linux-gnu-strip" --strip-debug "$out/percpu-$arch/bin/rseq-libc" 2> /dev/null ||
    CROSS_RUN=1 bash "$root/scripts/cross-cargo.sh" "$arch" "$arch-linux-gnu-strip" --strip-debug \
      "${out#"$root"/}/percpu-$arch/bin/rseq-libc" 2> /dev/null || true
  (cd "$out/percpu-$arch" && find . -mindepth 1 | cpio -o -H newc --quiet) |
    cat "$root/$pout/percpu.cpio.tmp" - > "$out/percpu-$arch.cpio" && have_percpu_capi=1
}

# The guest's rows (init.c's plan format): the stress in both index modes
# in every guest (glibc owning the area in the first kernel, the component
# in the second); the C API, the inline header (plain and stress), the
# locks: glibc static in one guest and musl static in the other, the
# index modes crossed, so that both kernels see both libcs and both modes
# (ARCH_GUEST_FULL=1: every row in every guest).
percpu_capi_lines() { # guest-index
  local own= st="/bin/rseq-libc stress --seconds $stress_secs --threads $stress_threads" sets=(gs ms) cid=(--mm-cid "")
  [ $(($1 % 2)) = 1 ] && own="$off " sets=(ms gs) cid=("" --mm-cid)
  echo "stress-cpu 300 $own-- $st"
  echo "stress-cid 300 $own-- $st --mm-cid"
  percpu_capi_row percpu-c "${sets[0]}" ${cid[0]}
  percpu_capi_row inline "${sets[1]}" ${cid[0]}
  percpu_capi_row inline-stress "${sets[0]}" ${cid[1]}
  percpu_capi_row lock "${sets[1]}"
  if [ "$full" = 1 ]; then
    percpu_capi_row percpu-c "${sets[1]}" ${cid[1]}
    percpu_capi_row inline "${sets[0]}" ${cid[1]}
    percpu_capi_row inline-stress "${sets[1]}" ${cid[0]}
    percpu_capi_row lock "${sets[0]}"
  fi
  echo "fork.gs 60 -- /bin/fork-glibc-static"
}
percpu_capi_row() { # test gs|ms args...
  local t=$1 h=$2 libc=glibc
  shift 2
  [ "$h" = ms ] && libc=musl
  case $t in
    percpu-c) echo "$t.$h 120 -- /bin/percpu-c-$libc-static --records $percpu_c_records${*:+ $*}" ;;
    inline) echo "$t.$h 120 -- /bin/inline-$libc-static${*:+ $*}" ;;
    inline-stress) echo "$t.$h 120 -- /bin/inline-$libc-static-stress --delay $inline_delay${*:+ $*}" ;;
    lock) echo "$t.$h 120 LOCK_C_ITERS=$lock_iters -- /bin/lock-$libc-static" ;;
  esac
}

# The stress rows passed on their "N passed, 0 failed" line; this checks
# what makes them a test of the restart path: rseq was registered (no
# atomic fallback), and every mode took forced aborts (its SIGTRAPs sent
# the sections to their abort handlers).
percpu_capi_judge() { # label
  local label=$1 name log modes unforced
  for name in stress-cpu stress-cid; do
    log=$out/logs/$label/$name.log
    [ -f "$log" ] || continue
    modes=$(grep -c '^PASS' "$log")
    unforced=$(grep '^PASS' "$log" | grep -c -v -E ', [1-9][0-9]* forced \(')
    if grep -q 'rseq registered' "$log" && [ "$modes" -ge 9 ] && [ "$unforced" = 0 ]; then
      pass "${label/-/ }: $name: rseq registered, forced aborts in all $modes modes ($(grep '^PASS' "$log" | sed -n 's/^PASS \([a-z]*\):.* \([0-9]*\) forced (.*/\1 \2/p' | paste -sd, -))"
    else
      fail "${label/-/ }: $name: registered and forced aborts in every mode? $modes modes, $unforced without forced aborts: $(head -n 1 "$log" | cut -c1-200) (log: $log)"
    fi
  done
}

# Every crate that builds for aarch64 and riscv64 so far.
component_crates=(-p rseq-abi -p rseq-registration -p rseq-sched-getcpu -p rseq-csu -p rseq-pthread-hooks
                  -p rseq-pthread-interpose -p rseq-pmu -p rseq-libc -p rseq-libc-glibc -p rseq-dl-early-tls)

# Single-threaded TCG, as tests/kernels does: with one host thread per
# vCPU the x86-64 7.x guests hit stale translations. Each guest keeps one
# host core busy: ARCH_GUEST_JOBS (2, this machine's cores) boot at once,
# in the background, while the next architecture builds; the results are
# judged at the end, in the order the guests were queued.
boot_guest() { # initramfs-name image console-log
  timeout -s KILL "$guest_timeout" "$qemu" -accel tcg,thread=single "${qemu_args[@]}" "${extra_qemu_args[@]}" \
    -smp 2 -m 1024 -nic none -nographic -no-reboot -kernel "$2" -initrd "$out/initramfs-$1.cpio" \
    -append "console=$console loglevel=4 panic=-1 rdinit=/init" < /dev/null 2>&1 | tr -d '\r' > "$3"
}

# One guest, run in the background from its job file (the architecture's
# qemu variables as they were when it was queued).
boot_job() { # label
  local label=$1 t_k=$SECONDS
  # shellcheck disable=SC1090
  source "$out/job-$label.vars"
  local log=$out/console-$label.log
  boot_guest "$initrd" "$image" "$log"
  # A guest that never reached init (no @@KERNEL line: a hang inside the
  # emulated boot, seen once in about 20 riscv64 boots) boots once more;
  # a guest whose programs ran is never retried.
  if ! grep -q '^@@KERNEL' "$log"; then
    echo "$label: the guest did not reach init; booted it again (first console: $log.first)" > "$out/job-$label.note"
    mv "$log" "$log.first"
    boot_guest "$initrd" "$image" "$log"
  fi
  echo $((SECONDS - t_k)) > "$out/job-$label.secs"
}

# Guests queued (labels), their order for judging, and the running ones.
guest_queue=() guest_order=() guest_pids=()
declare -A guest_weight=()
# Starts queued guests while fewer than $guest_jobs run, the one with the
# largest sum of its rows' time limits first (the aarch64 7.2 guest with
# rseq-percpu's unit tests), so that the longest does not start last.
dispatch_guests() {
  local p alive=() best i
  for p in "${guest_pids[@]}"; do kill -0 "$p" 2> /dev/null && alive+=("$p"); done
  guest_pids=("${alive[@]}")
  while [ ${#guest_queue[@]} -gt 0 ] && [ ${#guest_pids[@]} -lt "$guest_jobs" ]; do
    best=0
    for i in "${!guest_queue[@]}"; do
      [ "${guest_weight[${guest_queue[$i]}]}" -gt "${guest_weight[${guest_queue[$best]}]}" ] && best=$i
    done
    boot_job "${guest_queue[$best]}" &
    guest_pids+=($!)
    unset 'guest_queue[best]'
    guest_queue=("${guest_queue[@]}")
  done
}

# Queues ARCH's guest with kernel K and the initramfs INITRD (with PLAN in
# it); LABEL names the logs.
queue_kernel() { # k initrd label plan
  local k=$1 initrd=$2 label=$3 plan=$4 image pkg
  image=$(awk -v a="$arch" -v k="$k" '$1 == "kernel" && $2 == a && $3 == k {print $5}' "$out/fetch.txt")
  pkg=$(awk -v a="$arch" -v k="$k" '$1 == "kernel" && $2 == a && $3 == k {print $4}' "$out/fetch.txt")
  [ -f "$image" ] || { fail "$label: no kernel image"; return; }
  rm -f "$out/job-$label.note" "$out/job-$label.secs" "$out/console-$label.log.first"
  declare -p qemu qemu_args extra_qemu_args console initrd image pkg plan > "$out/job-$label.vars"
  guest_weight[$label]=$(awk '{ s += $2 } END { print s + 0 }' "$plan")
  guest_queue+=("$label") guest_order+=("$label")
  dispatch_guests
}

# Judges a finished guest: each plan line.
judge_kernel() { # label
  local label=$1 log logs header name rc
  # shellcheck disable=SC1090
  source "$out/job-$label.vars"
  log=$out/console-$label.log logs=$out/logs/$label
  rm -rf "$logs"; mkdir -p "$logs"
  [ -f "$out/job-$label.note" ] && cat "$out/job-$label.note"
  awk -v dir="$logs" '
    /^@@BEGIN / { name = $2; file = dir "/" name ".log"; printf "" > file; next }
    /^@@END / { split($3, a, "="); print a[2] > (dir "/" $2 ".rc"); close(file); name = ""; next }
    name != "" { print >> file }' "$log"
  header=$(grep -m 1 '^@@KERNEL' "$log")
  echo "== ${label/-/ } ($pkg${extra_qemu_args[*]:+, qemu ${extra_qemu_args[*]}}): ${header#@@KERNEL } in $(cat "$out/job-$label.secs" 2> /dev/null || echo '?') s; the longest: $(awk '/^@@END / {sub(/^secs=/, "", $4); print $2, $4}' "$log" | sort -k2 -rn | head -n 3 | awk '{printf "%s%s %s s", (NR > 1 ? ", " : ""), $1, $2}')"
  grep -q '^@@DONE' "$log" ||
    fail "$label: the guest did not finish (timeout ${guest_timeout}s or crash): $(grep -E 'panic|BUG|Oops' "$log" | head -n 3 | tr '\n' ' ') (log: $log)"
  while read -r name _; do
    rc=not-run; [ -f "$logs/$name.rc" ] && rc=$(cat "$logs/$name.rc")
    if [ "$rc" = 0 ] && [ "${name#st.}" != "$name" ]; then
      pass "${label/-/ }: $name (exit 0: $(awk -v n="$name" '$1 == n {sub(/.* -- /, ""); print}' "$plan"))"
    elif [ "$rc" = 0 ] && grep -q -E ', 0 failed|^test result: ok\. [0-9]+ passed; 0 failed' "$logs/$name.log"; then
      pass "${label/-/ }: $name ($(grep -m 1 -E '[0-9]+ passed(,|;) 0 failed' "$logs/$name.log"))"
    else
      fail "${label/-/ }: $name: rc=$rc: $(grep -m 5 -E 'FAIL|passed|rror|abort' "$logs/$name.log" 2>/dev/null | tr '\n' ' ' | head -c 400) (log: $logs/$name.log)"
    fi
  done < "$plan"
}

# riscv64's per-CPU rows (percpu/seq/riscv64.seq; aarch64's are in the
# common block below). rseq-percpu's unit tests run in the 7.2 guest as
# aarch64's, without the ones too long for the suite's budget under
# riscv64 TCG (timed one by one in the 7.2 guest: the three RCU tortures
# 21-39 s, flush_is_exact_with_membarrier 14 s, numa_handoff_invariants 6 s;
# flush_is_exact_in_the_fallback and numa_lock_excludes_many_threads did
# not end within 240 s under single-threaded TCG, and passed in 19 and 32 s
# under multi-threaded TCG: spinning threads, docs/architectures.md);
# ARCH_GUEST_FULL=1 runs the others too (with a larger ARCH_GUEST_TIMEOUT
# on a busy machine). And
# riscv_seq_test.c (the generated riscv.h: every sequence armed with an
# ebreak before its commit, in both index modes, and a threaded counter
# with every 32nd operation trapped, counts exact), glibc static (glibc
# owns the area), in every riscv64 guest.
riscv64_inline=
riscv64_unit_skips() {
  local t
  for t in flush::tests::flush_is_exact_in_the_fallback spinlock::tests::numa_lock_excludes_many_threads; do
    printf ' --skip %s' "$t"
  done
  [ "$full" = 1 ] && return 0
  for t in flush::tests::flush_is_exact_with_membarrier rcu::tests::torture \
           spinlock::tests::numa_handoff_invariants_under_contention; do
    printf ' --skip %s' "$t"
  done
}
riscv64_inline_build() { # builds $gout/riscv_seq_test; sets riscv64_inline
  riscv64_inline=
  if CROSS_RUN=1 bash "$root/scripts/cross-cargo.sh" riscv64 riscv64-linux-gnu-gcc -O2 -g -Wall -Wextra -Werror \
       -Iheaders -static tests/arch-guests/riscv_seq_test.c -o "$gout/riscv_seq_test" -lpthread \
       > "$out/riscv_seq_test-build.log" 2>&1; then
    riscv64_inline=$root/$gout/riscv_seq_test
    pass "riscv64: riscv_seq_test.c (the generated riscv.h) builds with the cross gcc, glibc static"
  else
    fail "riscv64: riscv_seq_test.c: $(head -c 600 "$out/riscv_seq_test-build.log" | tr '\n' ' ')"
  fi
}
# The host's rseq-libc inspect of ARCH's ELF files (the Rust and C per-CPU
# sections): descriptors, RSEQ_SIG before every abort_ip, exit points, and
# no warning (inspect knows each architecture's abort placement: a warning
# on our own sequences is a defect). Empty arguments are skipped.
inspect_sections() { # arch ELF-files
  local arch=$1 cli=$root/target/release/rseq-libc f log
  shift
  if [ ! -x "$cli" ]; then
    skip "$arch: rseq-libc inspect of the per-CPU sections: no target/release/rseq-libc (cargo build --release)"
    return
  fi
  for f in "$@"; do
    [ -n "$f" ] || continue
    log=$out/inspect-$arch-$(basename "$f").log
    if "$cli" inspect "$f" > "$log" 2>&1 && ! grep -q 'warning: ' "$log"; then
      pass "$arch: rseq-libc inspect $(basename "$f"): $(tail -n 1 "$log" | sed 's/^[^:]*: //'), no warning"
    else
      fail "$arch: rseq-libc inspect $(basename "$f"): $(grep -m 3 -E 'VIOLATION|warning: |error' "$log" | tr '\n' ' ' | head -c 400) (log: $log)"
    fi
  done
}
riscv64_inline_plan() { # plan-dir: the inline sequences' row for this guest
  [ -n "$riscv64_inline" ] || return 0
  cp "$riscv64_inline" "$1/bin/riscv-seq-test"
  echo "percpu-inline.gs 120 -- /bin/riscv-seq-test" >> "$1/plan"
}

# A fresh clone's cross target directories start from the third-party
# crates other checkouts compiled (scripts/target-seed.sh: criterion and
# its dependencies for rseq-percpu's tests and clippy, 45 units in each,
# about 2 minutes at low load); the workspace's crates are always compiled
# from this checkout.
for d in cross cross-static; do
  bash "$root/scripts/target-seed.sh" restore "$d" "$root/target/$d" 2>&1
done
g_index=0
for arch in $arches; do
  case $arch in
    aarch64) triple=aarch64-unknown-linux-gnu qemu=qemu-system-aarch64
             qemu_args=(-M virt -cpu max) console=ttyAMA0 ;;
    riscv64) triple=riscv64gc-unknown-linux-gnu qemu=qemu-system-riscv64
             qemu_args=(-M virt -bios default) console=ttyS0 ;;
    *) fail "unknown architecture $arch"; continue ;;
  esac
  t_arch=$SECONDS
  if ! bash "$root/scripts/cross-toolchain.sh" "$arch" > "$out/toolchain-$arch.txt" 2> "$out/toolchain-$arch.log"; then
    skip "$arch: no cross toolchain: $(tail -n 2 "$out/toolchain-$arch.log")"; continue
  fi
  command -v "$qemu" > /dev/null || { skip "$arch: $qemu missing"; continue; }
  # The component, then the guest programs, inside the tree.
  if ! bash "$root/scripts/cross-cargo.sh" "$arch" build --release --locked "${component_crates[@]}" \
       > "$out/cargo-$arch.log" 2>&1; then
    fail "$arch: cargo build of the component crates: $(grep -m 3 -E '^error' "$out/cargo-$arch.log" | tr '\n' ' ')"; continue
  fi
  pass "$arch: the component crates build ($(tail -n 1 "$out/cargo-$arch.log" | sed 's/^ *//'))"
  # The crates that build for this target, clippy-clean for it (the
  # workspace's lints; the host's clippy has no std for the target).
  if bash "$root/scripts/cross-cargo.sh" "$arch" clippy --release --locked "${component_crates[@]}" \
       -- -D warnings > "$out/clippy-$arch.log" 2>&1 &&
     bash "$root/scripts/cross-cargo.sh" "$arch" clippy --release --locked -p rseq-libc \
       --no-default-features -- -D warnings >> "$out/clippy-$arch.log" 2>&1; then
    pass "$arch: clippy -D warnings ($((${#component_crates[@]} / 2)) crates, and rseq-libc --no-default-features)"
  else
    fail "$arch: clippy: $(grep -m 3 -E '^(error|warning)' "$out/clippy-$arch.log" | tr '\n' ' ') (log: $out/clippy-$arch.log)"
  fi
  # rseq-abi's and rseq-dl-early-tls's unit tests under qemu-user (the
  # tree's glibc as the sysroot): syscalls, TLS accessors, fork, weak
  # references; the TLS variant I and II layouts and this target's TLS ABI.
  # qemu-user has no rseq, the guests below test that.
  for crate in rseq-abi rseq-dl-early-tls; do
    tlog=$out/$crate-test-$arch.log
    if ! command -v "qemu-$arch-static" > /dev/null; then
      skip "$arch: qemu-$arch-static missing (qemu-user-static): $crate's unit tests not run"
    elif bash "$root/scripts/cross-cargo.sh" "$arch" test --locked -p "$crate" --no-run > "$tlog" 2>&1 &&
       t=$(sed -n 's/.*Executable unittests src\/lib.rs (\(.*\))$/\1/p' "$tlog" | tail -n 1) &&
       [ -n "$t" ] &&
       "qemu-$arch-static" -L "$(cat "$out/toolchain-$arch.txt")/usr/$arch-linux-gnu" "$root/$t" >> "$tlog" 2>&1; then
      pass "$arch: $crate unit tests under qemu-user ($(grep -m 1 '^test result' "$tlog"))"
    else
      fail "$arch: $crate unit tests: $(grep -m 3 -E '^error|FAILED|panicked' "$tlog" | tr '\n' ' ') (log: $tlog)"
    fi
  done
  gout=target/cross/guest-$arch
  CROSS_RUN=1 bash "$root/scripts/cross-cargo.sh" "$arch" bash tests/arch-guests/build-guest.sh \
    "$arch" "$triple" "$gout" > "$out/build-$arch.log" 2>&1
  if grep -q '^BUILD-FAILED' "$out/build-$arch.log" || [ ! -s "$root/$gout/initramfs.cpio.tmp" ]; then
    fail "$arch: building the guest programs: $(grep -m 3 -E 'BUILD-FAILED|rror' "$out/build-$arch.log" | tr '\n' ' ' | head -c 800)"
    continue
  fi
  pass "$arch: the guest programs link (glibc static, static-pie, dynamic; musl static)"
  skip "$arch: the standalone libc (static, static-pie) is x86-64 only so far (TLS variant I: docs/architectures.md)"
  # The per-CPU sequences (percpu/seq/ARCH.seq): rseq-percpu's unit tests
  # (every operation and use case against real rseq: exact totals under
  # migration, flush and reclaim with membarrier, the locks), linked
  # statically, run in the 7.2 guest only (about 55 s under TCG). Optimized
  # as the release profile, without its fat LTO and single codegen unit
  # (which are for the CLI binary: the archives are not LTO-merged either):
  # 15 s of CPU instead of 47 for the test program, which is compiled in
  # every run since its crates are the workspace's.
  percpu_test= have_percpu_capi=0
  if [ -f "$root/percpu/seq/$arch.seq" ]; then
    if CROSS_RUN=1 bash "$root/scripts/cross-cargo.sh" "$arch" env RUSTFLAGS="-C target-feature=+crt-static" \
         CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 cargo test --release --locked -p rseq-percpu --no-run --target "$triple" \
         --target-dir /src/target/cross-static > "$out/percpu-test-$arch.log" 2>&1 &&
       percpu_test=$(sed -n 's/.*Executable unittests src\/lib.rs (\(.*\))$/\1/p' "$out/percpu-test-$arch.log" | tail -n 1) &&
       [ -n "$percpu_test" ]; then
      pass "$arch: rseq-percpu's unit tests build (static)"
      if bash "$root/scripts/cross-cargo.sh" "$arch" clippy --release --locked -p rseq-percpu --all-targets \
           -- -D warnings > "$out/clippy-percpu-$arch.log" 2>&1; then
        pass "$arch: rseq-percpu clippy -D warnings (--all-targets)"
      else
        fail "$arch: rseq-percpu clippy: $(grep -m 3 -E '^(error|warning)' "$out/clippy-percpu-$arch.log" | tr '\n' ' ') (log: $out/clippy-percpu-$arch.log)"
      fi
    else
      percpu_test=
      fail "$arch: rseq-percpu's unit tests: $(grep -m 3 -E '^error' "$out/percpu-test-$arch.log" | tr '\n' ' ') (log: $out/percpu-test-$arch.log)"
    fi
    case " $percpu_capi_arches " in
      *" $arch "*) percpu_capi_build ;;
      *)
        if [ "$arch" = riscv64 ]; then
          riscv64_inline_build
          inspect_sections riscv64 "$riscv64_inline" "${percpu_test:+$root/$percpu_test}"
          skip "$arch: the per-CPU C API (rseq-percpu.h) and the CLI's stress are not ported yet (docs/architectures.md)"
        else
          skip "$arch: the per-CPU C API, the stress with forced aborts and the inline C tests are not ported yet (docs/architectures.md)"
        fi ;;
    esac
  else
    skip "$arch: the per-CPU API and its tests are x86-64 only so far (docs/architectures.md)"
  fi
  # The kernel's selftests for this architecture, through their cache
  # (keyed by the build script, the source package, the cross tree and
  # gcc, and the component archive), into their own cpio archive.
  have_st=0
  st_dir=$out/st-$arch
  if [ -z "$src612" ]; then
    skip "$arch: the kernel's rseq selftests: no linux-source-6.12 tree: $(tail -n 2 "$out/fetch-src.log")"
  elif rm -rf "$st_dir" && mkdir -p "$st_dir/st" &&
       SELFTESTS_CROSS_ARCH=$arch bash "$root/tests/kernels/selftests-cached.sh" "$arch-6.12" "$src612" \
         "$st_dir/st/plain" > "$out/selftests-$arch.log" 2>&1 &&
       SELFTESTS_CROSS_ARCH=$arch bash "$root/tests/kernels/selftests-cached.sh" "$arch-6.12-component" "$src612" \
         "$st_dir/st/comp" "$root/target/cross/$triple/release/librseq_libc.a" >> "$out/selftests-$arch.log" 2>&1; then
    pass "$arch: the kernel's rseq selftests (linux-source-6.12) built with the cross gcc, plain and linking the component ($(grep -E '^(cached|built)' "$out/selftests-$arch.log" | paste -sd, -))"
    [ ${#param_calls[@]} -gt 0 ] || record_param_calls "$st_dir/st/plain"
    (cd "$st_dir" && find st | cpio -o -H newc --quiet) > "$out/st-$arch.cpio" && have_st=1
  else
    fail "$arch: building the kernel's rseq selftests: $(tail -n 3 "$out/selftests-$arch.log" | tr '\n' ' ' | head -c 600)"
  fi
  echo "$arch: built in $((SECONDS - t_arch)) s"
  for d in cross cross-static; do
    bash "$root/scripts/target-seed.sh" save "$d" "$root/target/$d" 2>&1
  done
  for k in $kernels; do
    g=$((g_index++))
    # The plan goes into a copy of the initramfs (cpio archives concatenate).
    plan_dir=$out/plan-$arch-$k; rm -rf "$plan_dir"; mkdir -p "$plan_dir/bin"
    { plan_lines; hotplug_lines; [ $have_st = 1 ] && selftest_lines "$g"; } > "$plan_dir/plan"
    [ "$have_percpu_capi" = 1 ] && percpu_capi_lines "$g" >> "$plan_dir/plan"
    if [ -n "$percpu_test" ] && [ "$k" = 7.2 ]; then
      cp "$root/$percpu_test" "$plan_dir/bin/percpu-tests"
      "$arch-linux-gnu-strip" --strip-debug "$plan_dir/bin/percpu-tests" 2> /dev/null || true
      echo "percpu-unit 600 -- /bin/percpu-tests --test-threads=1$([ "$arch" = riscv64 ] && riscv64_unit_skips)" >> "$plan_dir/plan"
    fi
    [ "$arch" = riscv64 ] && riscv64_inline_plan "$plan_dir"
    (cd "$plan_dir" && find . -mindepth 1 | cpio -o -H newc --quiet) > "$out/plan-$arch-$k.cpio"
    st_cpio=(); [ $have_st = 1 ] && st_cpio=("$out/st-$arch.cpio")
    [ "$have_percpu_capi" = 1 ] && st_cpio+=("$out/percpu-$arch.cpio")
    cat "$root/$gout/initramfs.cpio.tmp" "${st_cpio[@]}" "$out/plan-$arch-$k.cpio" > "$out/initramfs-$arch-$k.cpio"
    extra_qemu_args=()
    queue_kernel "$k" "$arch-$k" "$arch-$k" "$plan_dir/plan"
  done
  # The instructions event needs -icount (see icount_plan_lines): one more
  # aarch64 boot, on the last kernel, with that plan only.
  if [ "$arch" = aarch64 ] && [ "$pmu_icount" = 1 ]; then
    k=${kernels##* }
    icount_dir=$out/plan-$arch-icount; rm -rf "$icount_dir"; mkdir -p "$icount_dir"
    icount_plan_lines > "$icount_dir/plan"
    (cd "$icount_dir" && echo plan | cpio -o -H newc --quiet) > "$out/plan-$arch-icount.cpio"
    cat "$root/$gout/initramfs.cpio.tmp" "$out/plan-$arch-icount.cpio" > "$out/initramfs-$arch-icount.cpio"
    extra_qemu_args=(-icount shift=0,sleep=off)
    queue_kernel "$k" "$arch-icount" "$arch-$k-icount" "$icount_dir/plan"
    extra_qemu_args=()
  fi
done
t_guests=$SECONDS
while [ ${#guest_queue[@]} -gt 0 ]; do wait -n; dispatch_guests; done
wait
echo "the guests: ${#guest_order[@]} boots, $guest_jobs at a time, $((SECONDS - t_guests)) s after the last build"
# percpu_capi_judge: the stress rows' own checks, where a guest ran them.
for label in "${guest_order[@]}"; do judge_kernel "$label"; percpu_capi_judge "$label"; done
finish
