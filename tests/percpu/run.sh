#!/usr/bin/env bash
# Bounded stress of the per-CPU operations and use cases (rseq-libc stress):
# every mode with injection in the manner of the kernel's param_test (delay
# loops at three points inside the sections, yield / sleep / signal
# injection, affinity migration) and a forced abort (int3 inside the section)
# in every 32nd section, indexed by cpu_id and by mm_cid; an injected run
# FAILS when a mode saw fewer than 1 abort per 1000 operations (a
# deterministic bound: about 32 per 1000 are forced) or an armed section
# committed. Then shared memory: producer processes and a consumer process
# (stress modes shared and shared-forced, with the negative control). Then
# the atomic fallback with rseq hidden by seccomp (ENOSYS) and glibc's
# registration off.
# Then the C API and the inline C header (headers/rseq-percpu-inline.h) in
# every host (needs gcc; clang, musl-gcc for their rows). Ends with "N passed,
# N failed[, N skipped]".
# RSEQ_STRESS_SECONDS sets the time per mode (default 0.5).
set -u
cd "$(dirname "$0")/../.."
root=$PWD
bin=$root/target/release/rseq-libc
out=${RSEQ_LIBC_TEST_BUILD:-$root/tests/build}/percpu
secs=${RSEQ_STRESS_SECONDS:-0.5}
mkdir -p "$out"
passed=0 failed=0 skipped=0
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; failed=$((failed + 1)); }
skip() { echo "SKIP $1"; skipped=$((skipped + 1)); }

if [ ! -x "$bin" ]; then
  echo "FAIL: $bin missing: run 'cargo build --release' first"
  echo "0 passed, 1 failed"
  exit 1
fi

run() { # name expect-aborts command...
  local name=$1 want_aborts=$2; shift 2
  local log=$out/$name.log
  if "$@" > "$log" 2>&1; then
    # Each PASS line reports "(R per 1000 ops)"; an injected run needs R >= 1
    # in every mode (the stress fails such a mode itself; checked again).
    local modes rates low
    modes=$(grep -c '^PASS' "$log")
    rates=$(grep '^PASS' "$log" | sed -n 's/.*(\([0-9.]*\) per 1000 ops).*/\1/p')
    low=$(printf '%s\n' "$rates" | awk 'NF && $1 < 1' | wc -l)
    if [ "$want_aborts" = yes ] && { [ "$low" -ne 0 ] || [ "$(printf '%s\n' "$rates" | grep -c .)" -ne "$modes" ]; }; then
      fail "$name: a mode below 1 abort per 1000 operations"
    elif [ -z "$rates" ]; then
      # The shared modes report their own figures.
      pass "$name: $(grep -m 1 '^PASS' "$log" | cut -c 6-400)"
    else
      pass "$name: $modes modes; aborts per 1000 ops: $(grep '^PASS' "$log" \
        | sed -n 's/^PASS \([a-z]*\):.*(\([0-9.]*\) per 1000 ops).*/\1 \2/p' | paste -sd, -)"
    fi
  else
    fail "$name (exit $?)"
  fi
  sed 's/^/    /' "$log"
}

threads=$((8 * $(nproc)))
run "stress cpu_id, injected" yes "$bin" stress --seconds "$secs" --threads "$threads"
# mm_cid needs Linux 6.3+ (feature size >= 28); older kernels index by cpu_id.
run "stress mm_cid, injected" yes "$bin" stress --seconds "$secs" --threads "$threads" --mm-cid
run "stress cpu_id, no injection" no "$bin" stress --seconds "$secs" --no-inject
# The reader lock with a long delay inside the read-lock section: without the
# writer's membarrier this run sees writers inside read sections.
run "stress lock, long in-section delay" yes "$bin" stress --mode lock --seconds "$secs" --threads "$threads" --delay 3000
# Remote access (flush ring, pool reclaim) with the fallback fence (the
# consumer visits each CPU instead of membarrier's CPU-targeted command).
# With the fence broken (fence_cpu returning at once) both modes fail:
# duplicated or lost records, objects handed out twice.
run "stress flush+reclaim, fallback fence" yes "$bin" stress --mode flush --mode reclaim --seconds "$secs" --threads "$threads" --fallback-fence
# Shared memory, several processes (cli/src/stress_shared.rs): producer
# processes (4 generations of --threads) write numbered records into a
# shared flush ring and use a shared pool, with the injected stress and
# forced aborts; most of them are SIGKILLed at a deterministic point (inside
# a section, from the handler of their Nth forced abort, or after N
# records); a consumer process flushes through a second mapping of the
# memfd (another address) and reclaims the pool's lists, with the
# cross-process fence. Every committed record read once, no object handed
# out twice, at most one object lost per death. The mode checks its own
# abort rate (the sections run in the children).
run "stress shared: producer processes, consumer process, SIGKILLs" no "$bin" stress --mode shared --seconds "$secs" --threads "$threads"
# The deterministic negative control: a producer process (SCHED_FIFO, so
# that nothing preempts it) spins inside a section while the consumer
# process flushes its CPU's packet. The cross-process fence restarts the
# section or waits for its commit: exact. The private membarrier fence
# (--private-fence; what the flush used before shared rings existed) does
# not reach the other process: records duplicated or lost, the run fails.
if [ "$(nproc)" -lt 2 ]; then
  skip "stress shared-forced: needs 2 CPUs"
else
  run "stress shared-forced, cross-process fence" no "$bin" stress --mode shared-forced
  log=$out/shared-forced-private.log
  if "$bin" stress --mode shared-forced --private-fence > "$log" 2>&1; then
    if grep -q inconclusive "$log"; then
      skip "negative control (shared-forced, private fence): $(grep -m 1 -o 'inconclusive.*' "$log" | cut -c 1-200)"
    else
      fail "negative control (shared-forced, private fence): passed, so the test cannot see a missing fence (log: $log)"
    fi
  elif grep -qE 'duplicated records|written true, read false' "$log"; then
    pass "negative control (shared-forced, private fence) fails as it must: $(grep -m 1 '^FAIL' "$log" | cut -c 1-300)"
  else
    fail "negative control (shared-forced, private fence): failed otherwise: $(grep -m 1 -E 'FAIL|rror' "$log" | cut -c 1-300) (log: $log)"
  fi
fi

# The fallback: no rseq at all. The stress must stay exact with 0 aborts.
launcher=$out/no_rseq
if gcc -O2 -I"$root/tests/c" -o "$launcher" tests/c/no_rseq_launcher.c 2>"$out/launcher.err"; then
  log=$out/fallback.log
  if GLIBC_TUNABLES=glibc.pthread.rseq=0 "$launcher" "$bin" stress --seconds "$secs" > "$log" 2>&1 \
     && grep -q 'unavailable: atomic fallback' "$log"; then
    pass "stress without rseq (atomic fallback)"
  else
    fail "stress without rseq (atomic fallback)"
  fi
  sed 's/^/    /' "$log"
else
  skip "stress without rseq: cannot build the seccomp launcher ($(head -1 "$out/launcher.err"))"
fi

# The C API (headers/rseq-percpu.h): every raw operation and use case from
# several threads, exact totals, bad input; by cpu_id, by mm_cid, and with
# rseq hidden (every object's atomic fallback).
lib=$root/target/release/librseq_libc.a
ctest=$out/percpu_c_test
run_c() { # name launcher args...
  local name=$1 launcher=$2; shift 2
  local log=$out/c-$(echo "$name" | tr ' ,()' '____').log
  if timeout 120 $launcher "$ctest" "$@" > "$log" 2>&1 \
     && grep -q ', 0 failed' "$log"; then
    pass "C API, $name: $(tail -n 1 "$log")"
  else
    fail "C API, $name: $(grep -m 5 -E 'FAIL|passed' "$log" | tr '\n' ' ') (log: $log)"
  fi
}
if [ ! -f "$lib" ]; then
  fail "C API: $lib missing"
elif gcc -O2 -g -std=gnu11 -Wall -Wextra -Werror -I"$root/headers" -I"$root/tests/c" \
     tests/percpu/percpu_c_test.c "$lib" -lpthread -o "$ctest" 2> "$out/c-build.log"; then
  run_c "cpu_id" ""
  run_c "mm_cid" "" --mm-cid
  # The component owns registration (glibc's off): its own unregistration
  # path as well as a raw one, in the unregistered-thread test.
  run_c "mm_cid, component-owned registration" "env GLIBC_TUNABLES=glibc.pthread.rseq=0" --mm-cid
  # --records, as the kernel matrix's guests run it (tests/kernels/run.sh,
  # PERCPU_C_RECORDS=4000): the shared ring's 3 producers write 4000 each,
  # and a value outside 1-20000 is refused before any test runs.
  run_c "mm_cid, --records 4000" "" --mm-cid --records 4000
  if grep -q '^shared: 3 producer processes wrote 12000 records' "$out/c-mm_cid__--records_4000.log"; then
    pass "C API, --records 4000: 3 x 4000 shared-ring records written and read"
  else
    fail "C API, --records 4000: $(grep -m 1 '^shared:' "$out/c-mm_cid__--records_4000.log")"
  fi
  for bad in 0 20001 x; do
    "$ctest" --records "$bad" > "$out/c-records-$bad.log" 2>&1
    rc=$?
    if [ $rc = 2 ] && grep -q "^percpu_c_test: --records $bad: not a number from 1 to 20000" "$out/c-records-$bad.log" &&
       ! grep -q passed "$out/c-records-$bad.log"; then
      pass "C API, --records $bad: refused (exit 2, before any test)"
    else
      fail "C API, --records $bad: exit $rc: $(head -c 200 "$out/c-records-$bad.log")"
    fi
  done
  if [ -x "$launcher" ]; then
    run_c "no rseq (fallback)" "env GLIBC_TUNABLES=glibc.pthread.rseq=0 $launcher"
    grep -q 'no area: fallback paths' "$out"/c-no_rseq__fallback_.log \
      || fail "C API, no rseq: the run still had an area"
  else
    skip "C API without rseq: no seccomp launcher"
  fi
else
  fail "C API: build failed: $(head -c 600 "$out/c-build.log")"
fi

# The generated sequences (scripts/gen-sequences.py, docs/sequences.md):
# percpu/src/arch/ARCH.rs and headers/rseq-percpu-arch/ARCH.h are what
# percpu/seq/ARCH.seq generates. The negative control edits a copy of one
# generated file by hand and must see --check fail.
if ! command -v python3 > /dev/null; then
  skip "generated sequences: python3 not installed (apt-get install python3)"
elif python3 scripts/gen-sequences.py --check > "$out/gen-check.log" 2>&1; then
  gdir=$out/gen-control
  rm -rf "$gdir" && mkdir -p "$gdir/scripts" "$gdir/percpu/src/arch" "$gdir/headers/rseq-percpu-arch"
  cp scripts/gen-sequences.py "$gdir/scripts/" && cp -r percpu/seq "$gdir/percpu/" \
    && cp percpu/src/arch/*.rs "$gdir/percpu/src/arch/" && cp headers/rseq-percpu-arch/*.h "$gdir/headers/rseq-percpu-arch/"
  sed -i '0,/jnz 4f/s//jnz 5f/' "$gdir/headers/rseq-percpu-arch/x86_64.h"
  if python3 "$gdir/scripts/gen-sequences.py" --check > "$gdir/check.log" 2>&1; then
    fail "generated sequences: --check passed a hand-edited header (negative control)"
  else
    pass "generated sequences: current ($(tail -n 1 "$out/gen-check.log")); a hand edit fails --check"
  fi
else
  fail "generated sequences: $(head -n 12 "$out/gen-check.log" | cut -c 1-200 | paste -sd ' ') (run python3 scripts/gen-sequences.py)"
fi

# Every generated C side (headers/rseq-percpu-arch/ARCH.h) assembles for
# its architecture, with gcc (the host's or ARCH-linux-gnu-gcc) and clang
# --target, and leaves one descriptor per sequence
# (tests/percpu/arch_header_check.c). Compile only: the aarch64 and
# riscv64 sides run in tests/arch-guests (docs/architectures.md).
command -v aarch64-linux-gnu-gcc > /dev/null ||
  bash scripts/install-deps.sh gcc-aarch64-linux-gnu > "$out/deps-cross-gcc.log" 2>&1
command -v riscv64-linux-gnu-gcc > /dev/null ||
  bash scripts/install-deps.sh gcc-riscv64-linux-gnu >> "$out/deps-cross-gcc.log" 2>&1
for h in headers/rseq-percpu-arch/*.h; do
  a=$(basename "$h" .h)
  [ "$a" = riscv ] && a=riscv64 # riscv.h: riscv64 (the header refuses other widths)
  for cc in "$a-linux-gnu-gcc" "clang --target=$a-linux-gnu"; do
    [ "$a" = "$(uname -m)" ] && [ "${cc%% *}" != clang ] && cc=gcc
    if ! command -v "${cc%% *}" > /dev/null; then skip "arch header $a: ${cc%% *} not installed"; continue; fi
    o=$out/arch_header_check-$a-${cc%% *}.o
    if $cc -O2 -Wall -Wextra -Werror -Iheaders "-DARCH_HEADER=\"rseq-percpu-arch/$(basename "$h")\"" \
         -c tests/percpu/arch_header_check.c -o "$o" > "$o.log" 2>&1 \
       && size=$(objdump -h "$o" 2>> "$o.log" | awk '$2 == "__rseq_cs_ptr_array" {print $3}') \
       && [ "$((16#${size:-0}))" -eq 88 ]; then
      pass "arch header $a with ${cc%% *}: 11 sequences assemble, 11 descriptors"
    else
      fail "arch header $a with $cc: $(head -c 400 "$o.log" | tr '\n' ' ') (ptr array: ${size:-none})"
    fi
  done
done

# The head load of the ring write: through the register the section
# compares and commits through, never base + index, which the CPU does not
# hand the previous write's commit early (BENCHMARKS.md, run H). The C
# API's (which inlines the Rust write), and the inline C header's with gcc
# and clang (clang folded the index into it). The pool free (Rust and
# inline C) reads its head inside the section, through the slot's
# register, since run I: no head load before the section to check. Static,
# from objdump (tests/percpu/head_load_check.py): not timed.
if ! command -v objdump > /dev/null; then
  skip "head loads: objdump not installed (apt-get install binutils)"
else
  if [ -f "$lib" ] && objdump -d --no-show-raw-insn "$lib" > "$out/lib.dis" 2> "$out/lib.dis.err" \
     && python3 tests/percpu/head_load_check.py "$out/lib.dis" rseq_percpu_ring_write \
          > "$out/head-load.log" 2>&1; then
    pass "head loads, C API (Rust write): through a base register: $(cut -c 1-150 "$out/head-load.log" | paste -sd ' ')"
  else
    fail "head loads, C API: $(grep -m 2 FAIL "$out/head-load.log" 2>/dev/null | cut -c 1-300 | tr '\n' ' ')$(head -c 200 "$out/lib.dis.err" 2>/dev/null)"
  fi
  for cc in gcc clang; do
    if ! command -v "$cc" > /dev/null; then skip "head loads, inline C with $cc: $cc not installed"; continue; fi
    o=$out/head_load_inline-$cc.o
    if "$cc" -O2 -Wall -Wextra -Werror -I"$root/headers" -c tests/percpu/head_load_inline.c -o "$o" \
         > "$o.log" 2>&1 && objdump -d --no-show-raw-insn "$o" > "$o.dis" 2>> "$o.log" \
       && python3 tests/percpu/head_load_check.py "$o.dis" ring_loop ring_one >> "$o.log" 2>&1; then
      pass "head loads, inline C with $cc -O2: through a base register ($(grep -c '^ok' "$o.log") functions)"
    else
      fail "head loads, inline C with $cc: $(grep -m 2 -E 'FAIL|error' "$o.log" | cut -c 1-300 | tr '\n' ' ')"
    fi
    # The same object's pool_cycle (alloc, use, free in a loop): one
    # iteration's committing path (loop_path.py) touches no stack slot,
    # i.e. the object pointer the alloc writes through OUT stays in a
    # register (the alloc's slow path must not take that address).
    if [ -f "$o.dis" ] && python3 tests/percpu/loop_path.py --functions "$o.dis" -v pool_cycle \
         > "$o.cycle" 2>&1 && grep -q '^pool_cycle [0-9]' "$o.cycle" && ! grep -q '(%rsp)' "$o.cycle"; then
      pass "pool alloc + free, inline C with $cc -O2: the object stays in a register ($(grep '^pool_cycle' "$o.cycle"))"
    else
      fail "pool alloc + free, inline C with $cc: stack traffic on the committing path: $(grep -m 2 '(%rsp)\|Error' "$o.cycle" 2>/dev/null | tr '\n' ' ')"
    fi
  done
fi

# The inline C API (headers/rseq-percpu-inline.h): the header compiles
# everywhere it promises to, with every function's asm assembled; its
# sections pass `rseq-libc inspect'; percpu_inline_test.c runs in every host
# (glibc owning the area, rseq-libc owning it, musl static, the standalone
# test libc, rseq unavailable), by cpu_id and by mm_cid, plainly and as the
# stress build (in-section delay and forced int3 aborts, SIGUSR1 handlers
# running inline increments, migrations).
itest=tests/percpu/percpu_inline_test.c
ihdr=tests/percpu/inline_header_check.c
cp "$ihdr" "$out/inline_header_check.cpp"
for variant in "gcc -std=c99" "gcc -std=c11" "clang -std=c99" "g++ -std=c++11" "clang++ -std=c++11"; do
  cc=${variant%% *}
  src=$ihdr; case $cc in *++) src=$out/inline_header_check.cpp ;; esac
  if ! command -v "$cc" > /dev/null; then skip "inline header with $variant: $cc not installed"; continue; fi
  ok=1
  for opt in -O0 -O2; do
    if ! $variant $opt -pedantic -Wall -Wextra -Werror -I"$root/headers" -c "$src" \
         -o "$out/inline_header_check.o" 2> "$out/inline-hdr.log" \
       || ! "$bin" inspect "$out/inline_header_check.o" > "$out/inline-hdr-inspect.log" 2>&1; then
      fail "inline header with $variant $opt: $(head -c 400 "$out/inline-hdr.log" "$out/inline-hdr-inspect.log")"
      ok=0
      break
    fi
  done
  [ $ok = 1 ] && pass "inline header with $variant -pedantic -Wall -Wextra -Werror (-O0, -O2): $(tail -n 1 "$out/inline-hdr-inspect.log" | sed 's/^[^:]*: //')"
done

run_inline() { # name binary launcher args...
  local name=$1 binary=$2 launcher=$3; shift 3
  local log=$out/inline-$(echo "$name" | tr ' ,()=/.' '_______').log
  last_log=$log
  if timeout 120 env $launcher "$binary" "$@" > "$log" 2>&1 && grep -q ', 0 failed' "$log"; then
    pass "inline C, $name: $(grep -m 1 '^inline, mode' "$log" | sed 's/^inline, //'); $(tail -n 1 "$log")"
  else
    fail "inline C, $name: $(grep -m 5 -E 'FAIL|passed' "$log" | tr '\n' ' ') (log: $log)"
  fi
}

# run_inline_host name binary-prefix launcher: both builds, both modes.
run_inline_host() {
  local name=$1 prefix=$2 launcher=$3
  run_inline "$name, cpu_id" "$prefix" "$launcher"
  run_inline "$name, mm_cid" "$prefix" "$launcher" --mm-cid
  run_inline "$name, stress cpu_id" "$prefix-stress" "$launcher" --delay 200
  run_inline "$name, stress mm_cid" "$prefix-stress" "$launcher" --delay 200 --mm-cid
}

# build_inline prefix compiler flags... -- libraries...: the plain and the
# stress binary.
build_inline() {
  local prefix=$1 cc=$2 pre=()
  shift 2
  while [ "$1" != -- ]; do pre+=("$1"); shift; done
  shift
  if "$cc" "${pre[@]}" "$itest" "$@" -o "$prefix" > "$prefix.build.log" 2>&1 \
     && "$cc" "${pre[@]}" -DINLINE_STRESS "$itest" "$@" -o "$prefix-stress" >> "$prefix.build.log" 2>&1; then
    return 0
  fi
  fail "inline C: build of $prefix failed: $(head -c 600 "$prefix.build.log")"
  return 1
}

icflags=(-O2 -g -Wall -Wextra -Werror -I"$root/headers" -I"$root/tests/c")
nolaunch=""
[ -x "$launcher" ] && nolaunch="GLIBC_TUNABLES=glibc.pthread.rseq=0 $launcher"
if [ -f "$lib" ] && build_inline "$out/inline-glibc" gcc "${icflags[@]}" -std=gnu11 -- "$lib" -lpthread; then
  for b in "$out/inline-glibc" "$out/inline-glibc-stress"; do
    if "$bin" inspect "$b" > "$b.inspect" 2>&1 && grep -q 'rseq_percpu_inline_' "$b.inspect"; then
      pass "inline C: rseq-libc inspect $(basename "$b"): $(tail -n 1 "$b.inspect" | sed 's/^[^:]*: //')"
    else
      fail "inline C: rseq-libc inspect $(basename "$b"): $(grep -m 3 -iE 'violation|error' "$b.inspect" | tr '\n' ' ')"
    fi
  done
  run_inline_host "glibc (libc owns)" "$out/inline-glibc" ""
  run_inline_host "glibc rseq=0 (component owns)" "$out/inline-glibc" "GLIBC_TUNABLES=glibc.pthread.rseq=0"
  if [ -n "$nolaunch" ]; then
    run_inline "glibc, rseq unavailable, cpu_id" "$out/inline-glibc" "$nolaunch"
    run_inline "glibc, rseq unavailable, stress mm_cid" "$out/inline-glibc-stress" "$nolaunch" --delay 200 --mm-cid
    grep -q 'no area: fallback paths' "$last_log" \
      || fail "inline C, rseq unavailable: the run still had an area"
  fi
fi
if command -v musl-gcc > /dev/null; then
  if build_inline "$out/inline-musl" musl-gcc "${icflags[@]}" -static -- "$lib"; then
    run_inline_host "musl static (component owns)" "$out/inline-musl" ""
    [ -n "$nolaunch" ] && run_inline "musl static, rseq unavailable, stress cpu_id" "$out/inline-musl-stress" "$launcher" --delay 200
  fi
else
  skip "inline C, musl static: musl-gcc not installed (apt-get install musl-tools)"
fi
tl=$root/target/release/librseq_testlibc.a
if (cd "$root" && cargo build --release -q -p rseq-testlibc) > "$out/testlibc.build.log" 2>&1; then
  tl_cflags=(-nostdlib -nostdinc -isystem "$(gcc -print-file-name=include)" -fno-stack-protector
             -I"$root/tests/testlibc/include")
  if build_inline "$out/inline-standalone" gcc "${icflags[@]}" "${tl_cflags[@]}" -static -- "$tl" -lgcc; then
    run_inline_host "standalone (component owns)" "$out/inline-standalone" ""
    [ -n "$nolaunch" ] && run_inline "standalone, rseq unavailable, stress cpu_id" "$out/inline-standalone-stress" "$launcher" --delay 200
  fi
else
  fail "inline C, standalone: cargo build -p rseq-testlibc failed: $(head -c 600 "$out/testlibc.build.log")"
fi

# The inline slow paths cost what the calls cost (issue 18): in a thread
# without an area every inline operation looks the area up at most once
# (the call's own lookup), and returns what the call returns; a registered
# thread looks it up once per mode. Counted through a --wrap'ed lookup,
# not timed. glibc owning the area, rseq-libc owning it, rseq unavailable.
if [ -f "$lib" ] && gcc -O2 -g -Wall -Wextra -Werror -I"$root/headers" tests/percpu/inline_slow_path_test.c \
     "$lib" -lpthread -Wl,--wrap=rseq_percpu_inline_area_v2 -o "$out/inline_slow_path" > "$out/isp.build.log" 2>&1; then
  for launch in "" "GLIBC_TUNABLES=glibc.pthread.rseq=0" ${nolaunch:+"$nolaunch"}; do
    log=$out/isp-$(echo "${launch:-glibc}" | tr -c 'a-z0-9\n' '_' | tail -c 40).log
    if timeout 60 env $launch "$out/inline_slow_path" > "$log" 2>&1 && grep -q ', 0 failed' "$log"; then
      pass "inline slow paths, ${launch:-glibc owns}: at most one look-up an operation: $(head -n 1 "$log"); $(tail -n 1 "$log")"
    else
      fail "inline slow paths, ${launch:-glibc owns}: $(grep -m 5 -E 'FAIL|passed' "$log" | tr '\n' ' ') (log: $log)"
    fi
  done
else
  fail "inline slow paths: build failed: $(head -c 600 "$out/isp.build.log")"
fi

# The selftests comparison program (tests/percpu/bench_vs_selftests.sh),
# correctness only: 2 short rounds, every total exact; nothing timed is
# judged. Skipped where the kernel's selftests cannot be fetched.
bvs_log=$out/bvs-smoke-run.log
BENCH_SMOKE=1 bash tests/percpu/bench_vs_selftests.sh > "$bvs_log" 2>&1
case $? in
  0) pass "selftests comparison program (smoke): $(grep -m 1 '^check totals' "$bvs_log" | cut -c1-60)" ;;
  77) skip "selftests comparison program: $(grep -m 1 -E 'SKIP|skip' "$bvs_log")" ;;
  *) fail "selftests comparison program (smoke): $(tail -n 3 "$bvs_log" | tr '\n' ' ')" ;;
esac

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
