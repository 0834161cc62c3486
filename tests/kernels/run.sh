#!/usr/bin/env bash
# The kernel step of the README's test command (scripts/test.sh runs every
# tests/*/run.sh): matrix.sh (the project's suites and the kernel's rseq
# selftests inside Debian's 6.1, 6.12, 7.0, 7.1 and 7.3 kernels under qemu,
# and the selftests on this machine's kernel), then the kernel scripts that
# need a guest of their own: hotplug.sh (4-CPU guests, CPUs taken offline
# and back under the per-CPU stress) and slice.sh (the time-slice
# extension on a 7.3 kernel built with it, which build-kernel.sh builds and
# caches on the first run, and its no-op fallback on Debian's kernels) and
# numa.sh (the NUMA lock in two-node guests; hotplug.sh and numa.sh run
# beside matrix.sh's last guest, then beside slice.sh).
#
# Sized for the test command's budget on a busy 2-core machine
# (docs/testing-budget.md): every kernel boots, and every project suite runs
# in every kernel and host; matrix.sh runs this machine's selftests first,
# then boots two guests at a time; of run_param_test.sh's matrices (1,184 and 2,048
# invocations) each guest runs every 96th invocation and this machine every
# 64th, from offsets that differ per kernel; the selftests' basic_percpu_ops
# tests (200 spinning threads, 20 s each) run from the 7.3 tree only, linked
# with the component and under the patched glibc; the hooks' storm starts
# 800 threads instead of 1500. The fuller sampling is `bash
# tests/kernels/matrix.sh` (its defaults: every 24th in guests, every 16th
# here, both trees, every host), the whole matrices `LONG_TESTS=param bash
# scripts/long-tests.sh`. Any knob set in the environment wins.
# RSEQ_LIBC_SKIP_KERNELS=1 skips the step (SKIP).
# Ends with "N passed, N failed, N skipped" over all scripts.
set -u
cd "$(dirname "$0")/../.."
if [ "${RSEQ_LIBC_SKIP_KERNELS:-0}" = 1 ]; then
  echo "SKIP kernels: RSEQ_LIBC_SKIP_KERNELS=1"
  echo "kernels: 0 passed, 0 failed, 1 skipped"
  exit 0
fi
export KERNEL_PARAM_SAMPLE=${KERNEL_PARAM_SAMPLE:-96}
export HOST_PARAM_SAMPLE=${HOST_PARAM_SAMPLE:-64}
export HOST_PERCPU_OPS_TREES=${HOST_PERCPU_OPS_TREES:-7.3}
export HOST_PERCPU_OPS_HOSTS=${HOST_PERCPU_OPS_HOSTS:-comp pglibc}
# 1500 threads per storm by default: 20 s a storm under TCG on a busy host.
export STORM_THREADS=${STORM_THREADS:-800}
# The per-CPU C API test's flush-ring and shared-ring tests: 4000 records
# per writer instead of 20000 (percpu_c_test.c): 3-5 s a run instead of
# 7-18 s, 15 runs, every check still run; tests/percpu runs the 20000.
export PERCPU_C_RECORDS=${PERCPU_C_RECORDS:-4000}
# A guest runs for 1-5 minutes; a busy machine slows qemu several times.
# A guest that hangs costs this much before it is reported.
export KERNEL_GUEST_TIMEOUT=${KERNEL_GUEST_TIMEOUT:-1200}

passed=0 failed=0 skipped=0
count() { # script log status: adds the script's summary line to the totals
  local line p f s
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$2" | tail -n 1)
  if [ -z "$line" ]; then
    echo "FAIL $1: no 'N passed, N failed' line (exit $3)"; failed=$((failed + 1)); return
  fi
  p=$(sed -E 's/^([0-9]+) passed.*/\1/' <<< "$line")
  f=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<< "$line")
  s=$(grep -oE '[0-9]+ skipped' <<< "$line" | grep -oE '[0-9]+' || echo 0)
  passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
  if [ "$3" -ne 0 ] && [ "$f" -eq 0 ]; then
    echo "FAIL $1: exit $3"; failed=$((failed + 1))
  fi
}
run() { # script: its output as it runs
  local log status
  log=$(mktemp)
  echo "== $1"
  bash "$1" 2>&1 | tee "$log"
  status=${PIPESTATUS[0]}
  count "$1" "$log" "$status"
  rm -f "$log"
}
start=$SECONDS
# Each of the other scripts boots one guest at a time (one host core each).
# hotplug.sh then numa.sh start as soon as matrix.sh has started its last
# guest and one of its guests has finished (it touches
# KERNEL_SLOT_FREE_FILE), so they take the core its guests leave idle at
# the end; slice.sh starts when matrix.sh has finished: two guests run at
# once throughout, as in matrix.sh. matrix.sh's output comes as it runs,
# then slice.sh's, then hotplug.sh's and numa.sh's.
side=$(mktemp -d)
echo "== tests/kernels/matrix.sh"
( KERNEL_SLOT_FREE_FILE=$side/slot-free bash tests/kernels/matrix.sh 2>&1
  echo $? > "$side/matrix.status" ) | tee "$side/matrix.log" &
matrix_pid=$!
while [ ! -e "$side/slot-free" ] && kill -0 "$matrix_pid" 2> /dev/null; do sleep 1; done
t=$SECONDS
(
  for script in hotplug numa; do
    bash "tests/kernels/$script.sh" > "$side/$script.log" 2>&1
    echo $? > "$side/$script.status"
  done
  echo $((SECONDS - t)) > "$side/side.secs"
) &
side_pid=$!
wait "$matrix_pid"
count tests/kernels/matrix.sh "$side/matrix.log" "$(cat "$side/matrix.status" 2> /dev/null || echo 1)"
echo "kernels: hotplug.sh started $((t - start)) s into matrix.sh, which took $((SECONDS - start)) s"
t_slice=$SECONDS
run tests/kernels/slice.sh
t_slice=$((SECONDS - t_slice))
wait "$side_pid"
for script in hotplug numa; do
  echo "== tests/kernels/$script.sh (ran beside matrix.sh's last guests and slice.sh)"
  cat "$side/$script.log"
  count "tests/kernels/$script.sh" "$side/$script.log" "$(cat "$side/$script.status" 2> /dev/null || echo 1)"
done
echo "kernels: hotplug.sh and numa.sh $(cat "$side/side.secs" 2> /dev/null || echo '?') s, slice.sh $t_slice s"
rm -rf "$side"
echo "kernels: all scripts $((SECONDS - start)) s"
echo "kernels: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
