#!/usr/bin/env bash
# gdb/rseq.py: single-stepping through restartable sequences.
# tests/gdb/percpu_loop.c does 1,000 per-CPU increments, each an rseq
# critical section, on the area rseq-libc registers or adopts.
#  - with the extension, "stepi" from main to exit finishes with the exact
#    total (gdb's own single steps never land inside a section);
#  - without it, the same bounded stepping makes no progress: every attempt
#    aborts;
#  - "next" over the critical section commits with the extension and aborts
#    without; "info rseq" shows the area and the sections.
# Ends with "N passed, N failed, N skipped"; exits non-zero on any failure.
set -u
cd "$(dirname "$0")/../.."
root=$PWD
out=${RSEQ_LIBC_TEST_BUILD:-$root/tests/build}/gdb
mkdir -p "$out"
passed=0 failed=0 skipped=0
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; failed=$((failed + 1)); }
skip() { echo "SKIP $1"; skipped=$((skipped + 1)); }
finish() { echo "$passed passed, $failed failed, $skipped skipped"; [ "$failed" -eq 0 ]; exit $?; }

lib=$root/target/release/librseq_libc.a
if ! command -v gdb > /dev/null; then skip "gdb not installed (apt-get install gdb)"; finish; fi
if ! command -v gcc > /dev/null; then skip "gcc not installed"; finish; fi
if [ ! -f "$lib" ]; then fail "$lib missing: run 'cargo build --release' first"; finish; fi
bin=$out/percpu_loop
if ! gcc -O2 -g -Wall -Wextra -Werror -I"$root/headers" tests/gdb/percpu_loop.c "$lib" -lpthread \
    -o "$bin" > "$out/build.log" 2>&1; then
  fail "build percpu_loop: $(head -c 400 "$out/build.log")"; finish
fi
native=$(timeout 20 "$bin"); code=$?
if [ $code = 77 ]; then skip "no rseq area on this machine: $native"; finish; fi
if [ $code = 0 ]; then pass "native run: $native"; else fail "native run: exit $code: $native"; finish; fi

pin=""
first_cpu=$(awk '/^Cpus_allowed_list/ {split($2, a, /[,-]/); print a[1]}' /proc/self/status)
command -v taskset > /dev/null && [ -n "$first_cpu" ] && pin="taskset -c $first_cpu"
gdb_run() { # log extension(yes/no) commands...
  local log=$1 ext=$2; shift 2
  local args=(-batch -nx -iex "set pagination off" -iex "set confirm off")
  [ "$ext" = yes ] && args+=(-ex "source $root/gdb/rseq.py")
  for c in "$@"; do args+=(-ex "$c"); done
  # One CPU: no migration between reading the CPU number and the section,
  # so an abort means a stop inside the section, not a CPU mismatch.
  timeout 150 $pin gdb "${args[@]}" "$bin" > "$log" 2>&1
}

# With the extension: stepi from main until the program exits.
gdb_run "$out/stepi-with.log" yes "break main" "run" "set \$max_steps = 200000" \
  "source $root/tests/gdb/stepi_loop.py" "info rseq"
summary=$(grep -m1 '^STEPS' "$out/stepi-with.log")
total=$(grep -m1 '^total' "$out/stepi-with.log")
sections=$(grep -m1 '^SECTIONS' "$out/stepi-with.log")
if [[ "$summary" == *"EXITED 0" ]] && [[ "$total" == "total 1000 of 1000"* ]]; then
  pass "stepi with gdb/rseq.py: exited 0 after $(echo "$summary" | awk '{print $2}') steps; program says '$total'; ${sections,,}"
else
  fail "stepi with gdb/rseq.py: '${summary:-no summary}' '${total:-no total}' (log: $out/stepi-with.log)"
fi

# Without it: the same stepping, bounded, never commits.
gdb_run "$out/stepi-without.log" no "break main" "run" "set \$max_steps = 5000" \
  "source $root/tests/gdb/stepi_loop.py"
summary=$(grep -m1 '^STEPS' "$out/stepi-without.log")
read -r _ steps _ _ done _ aborts <<< "$summary"
if [[ "$summary" == *RUNNING* ]] && [ "${done:-1}" = 0 ] && [ "${aborts:-0}" -gt 10 ]; then
  pass "stepi without the extension: no progress: $steps steps, $done increments done, $aborts aborted retries"
else
  fail "stepi without the extension: expected no progress, got '${summary:-no summary}' (log: $out/stepi-without.log)"
fi

# next over the critical section's line; info rseq.
for ext in yes no; do
  gdb_run "$out/next-$ext.log" $ext "break percpu_increment" "run" "info rseq" "info rseq sections" \
    "next" "print \$pc" "print slots[0].count + slots[1].count + slots[2].count + slots[3].count"
  count=$(grep '^\$2 = ' "$out/next-$ext.log" | grep -o '[0-9]*$')
  if [ $ext = yes ]; then
    if [ "$count" = 1 ] && grep -q '^rseq: ran critical section .*(left)' "$out/next-$ext.log"; then
      pass "next over the section with gdb/rseq.py: committed ($(grep -m1 '^rseq: ran' "$out/next-$ext.log"))"
    else
      fail "next with gdb/rseq.py: count '${count:-?}' (log: $out/next-$ext.log)"
    fi
    cpu=$(grep -m1 '^  cpu_id ' "$out/next-$ext.log" | awk '{print $2}')
    if [[ "$cpu" =~ ^[0-9]+$ ]] && grep -q '^  mm_cid ' "$out/next-$ext.log" && grep -q '^  node_id ' "$out/next-$ext.log" \
        && grep -q '^  rseq_cs ' "$out/next-$ext.log" && grep -q '^[0-9]* critical section(s):' "$out/next-$ext.log" \
        && grep -q '^  \[0x[0-9a-f]*, 0x[0-9a-f]*) <percpu_increment+[0-9]*>, abort ' "$out/next-$ext.log"; then
      # The program's own section, beside the library's per-CPU sequences.
      pass "info rseq: cpu_id $cpu, rseq_cs, node_id, mm_cid shown; 'info rseq sections' lists percpu_increment's section among $(grep -m1 -o '^[0-9]* critical section(s)' "$out/next-$ext.log")"
    else
      fail "info rseq: $(grep -A8 '^rseq area' "$out/next-$ext.log" | head -c 400)"
    fi
  else
    if [ "$count" = 0 ]; then
      pass "next over the section without the extension: aborted (slot sum 0)"
    else
      fail "next without the extension: slot sum '${count:-?}', expected an abort (log: $out/next-$ext.log)"
    fi
  fi
done
finish
