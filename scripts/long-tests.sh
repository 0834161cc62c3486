#!/usr/bin/env bash
# The long confirmatory runs, kept out of the test command's budget
# (scripts/test.sh; docs/testing-budget.md has what each runs, its time and
# the test command's own sizing):
#
#   differential  glibc's whole nptl, elf and misc suites on a pristine and a
#                 patched build of 2.36 and of 2.43 (patches/differential.sh;
#                 a pristine build per version the first time)
#   matrix        tests/kernels/matrix.sh with its own defaults: every 24th
#                 run_param_test.sh invocation in each guest and every 16th
#                 on this machine (the test command: 96th and 64th), the
#                 selftests' basic_percpu_ops tests of both trees in every
#                 host, 1500-thread storms
#   param         the whole run_param_test.sh matrices of the 6.12 and 7.3
#                 selftests (about 3,200 invocations per host) on this
#                 machine's kernel, no guests
#   fuzz          tests/inspect/run.sh with a long fuzz run
#                 (LONG_FUZZ_SECONDS, 1800; the test command: 20 s)
#
# LONG_TESTS selects (default: all four, in that order). Needs `cargo build
# --release` (run here first). Ends with a time per run and one
# "N passed, N failed, N skipped" line.
set -u
cd "$(dirname "$0")/.."
start=$SECONDS
selected=${LONG_TESTS:-differential matrix param fuzz}
passed=0 failed=0 skipped=0
times=()
run() { # name command...
  local name=$1 t=$SECONDS log line p f s status
  shift
  echo "== $name: $*"
  log=$(mktemp)
  "$@" 2>&1 | tee "$log"
  status=${PIPESTATUS[0]}
  line=$(grep -E '^([A-Za-z-]+: )?[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
  rm -f "$log"
  if [ -n "$line" ]; then
    p=$(sed -E 's/.*\b([0-9]+) passed.*/\1/' <<< "$line")
    f=$(sed -E 's/.*\b([0-9]+) failed.*/\1/' <<< "$line")
    s=$(grep -oE '[0-9]+ skipped' <<< "$line" | grep -oE '[0-9]+' || echo 0)
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
    [ "$status" -ne 0 ] && [ "$f" -eq 0 ] && failed=$((failed + 1))
  elif [ "$status" -eq 0 ]; then
    passed=$((passed + 1)); line="exit 0"
  else
    failed=$((failed + 1)); line="exit $status"
  fi
  times+=("$((SECONDS - t))	$line	$name")
}

cargo build --release || { echo "cargo build --release failed"; exit 1; }
for what in $selected; do
  case $what in
    differential)
      # differential.sh ends with its report and exits non-zero on a new
      # failure; no summary line of its own.
      run "glibc 2.36 differential" bash patches/differential.sh 2.36
      run "glibc 2.43 differential" bash patches/differential.sh 2.43 ;;
    matrix)
      run "kernel matrix (matrix.sh defaults)" bash tests/kernels/matrix.sh ;;
    param)
      run "run_param_test.sh, whole matrices, this machine" \
        env KERNELS= HOST_PARAM_SAMPLE=1 bash tests/kernels/matrix.sh ;;
    fuzz)
      run "inspect with a long fuzz run" \
        env RSEQ_INSPECT_FUZZ_SECONDS="${LONG_FUZZ_SECONDS:-1800}" bash tests/inspect/run.sh ;;
    *) echo "unknown long run '$what' (differential matrix param fuzz)"; failed=$((failed + 1)) ;;
  esac
done

echo "== time per run"
printf '%6s  %-50s  %s\n' seconds run result
for row in "${times[@]}"; do
  IFS=$'\t' read -r secs res name <<< "$row"
  printf '%6s  %-50s  %s\n' "$secs" "$name" "$res"
done
echo "== total ($((SECONDS - start)) s)"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
