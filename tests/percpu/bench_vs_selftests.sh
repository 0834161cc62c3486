#!/usr/bin/env bash
# Our per-CPU operations (inline C from headers/rseq-percpu-inline.h, and
# the C calls, which are the Rust sequences of rseq-percpu behind a call)
# beside the kernel rseq selftests' x86-64 sequences (rseq-x86.h and
# rseq-x86-bits.h of Debian's linux-source-7.3, the family librseq carries,
# by the same author), compiled into ONE program with the use-case fast
# paths, their floors, the baselines (glibc sched_getcpu + an atomic on
# that CPU's slot, one shared atomic) and the slow paths (a thread with no
# area): tests/percpu/bench_vs_selftests.c. Interleaved rounds, medians.
# Then the instructions and macro-ops of one iteration of each loop on its
# committing path (objdump, tests/percpu/loop_path.py): load-independent.
#
# The selftests come from tests/kernels/fetch.sh's cache
# (${RSEQ_LIBC_KERNEL_CACHE:-~/.cache/rseq-libc/kernels}/src/7.3), fetched
# when missing; never copied into the repository. SKIP when they cannot be
# had, or on a machine that is not x86-64.
#
# Usage: bench_vs_selftests.sh [ROUNDS [ITERS]] (default 11 2000000).
# BENCH_CONFIGS: "glibc rseq-libc aside" (default): glibc owning
# registration (the reference configuration), rseq-libc owning it
# (GLIBC_TUNABLES=glibc.pthread.rseq=0), and rseq-libc stepped aside (the
# program linked with the selftests' rseq.c, which registers the area:
# only our no-area paths are timed); "glibc" for the first only.
# BENCH_SMOKE=1: a correctness-only run (2 rounds of 20000: every total
# exact, nothing timed is judged), as tests/percpu/run.sh does.
set -eu
cd "$(dirname "$0")/../.."
root=$PWD
out=${RSEQ_LIBC_TEST_BUILD:-$root/tests/build}/percpu
mkdir -p "$out"
rounds=${1:-11} iters=${2:-2000000}
[ "${BENCH_SMOKE:-0}" = 1 ] && { rounds=2; iters=20000; }
lib=$root/target/release/librseq_libc.a
[ -f "$lib" ] || { echo "$lib missing: run 'cargo build --release' first"; exit 1; }
if [ "$(uname -m)" != x86_64 ]; then
  echo "SKIP: the selftests comparison is x86-64 only (rseq-percpu-arch/x86_64.h)"; exit 77
fi
cache=${RSEQ_LIBC_KERNEL_CACHE:-$HOME/.cache/rseq-libc/kernels}
src=$cache/src/7.3
sel=$src/tools/testing/selftests/rseq
if [ ! -f "$sel/rseq-x86-bits.h" ]; then
  bash tests/kernels/fetch.sh > "$out/fetch.log" 2>&1 || true
fi
if [ ! -f "$sel/rseq-x86-bits.h" ]; then
  echo "SKIP: the kernel's rseq selftests (linux-source-7.3) cannot be had: $(tail -n 2 "$out/fetch.log" 2>/dev/null | tr '\n' ' ')"
  exit 77
fi
bin=$out/bench_vs_selftests
# The Rust rows: the library built with the bench-hooks feature (loops of
# the Rust API, src/bench_hooks.rs) into a target directory of its own, so
# the normal build stays as it is. Without it (BENCH_RUST=0, or the build
# fails), the table has no Rust column.
rust_def=() rust_lib=$lib
if [ "${BENCH_RUST:-1}" = 1 ] && [ "${BENCH_SMOKE:-0}" != 1 ]; then
  if cargo build --release -q -p rseq-libc --features bench-hooks --target-dir "$root/target/bench-hooks" \
       > "$out/bench-hooks.build.log" 2>&1; then
    rust_def=(-DBENCH_RUST) rust_lib=$root/target/bench-hooks/release/librseq_libc.a
  else
    echo "note: no Rust rows: cargo build --features bench-hooks failed: $(tail -n 2 "$out/bench-hooks.build.log" | tr '\n' ' ')"
  fi
fi
gcc -O2 -g ${BENCH_CFLAGS:-} "${rust_def[@]}" -Wall -Wextra -Werror -Wno-sign-compare -I"$sel" \
  -I"$root/headers" tests/percpu/bench_vs_selftests.c "$rust_lib" -lpthread -ldl -o "$bin"
# The "aside" configuration: the same program linked with the selftests'
# rseq.c (its __rseq_register_current_thread makes rseq-libc step aside
# where glibc does not own registration), which registers the area itself.
aside_bin=
if [ "${BENCH_SMOKE:-0}" != 1 ] && gcc -O2 -g -w -I"$sel" -I"$src/tools/testing/selftests" \
     -I"$src/tools/include" -c "$sel/rseq.c" -o "$out/st_rseq.o" > "$out/st_rseq.build.log" 2>&1 \
   && gcc -O2 -g ${BENCH_CFLAGS:-} "${rust_def[@]}" -DBENCH_STEPPED_ASIDE -Wall -Wextra -Werror \
     -Wno-sign-compare -I"$sel" -I"$root/headers" tests/percpu/bench_vs_selftests.c \
     "$out/st_rseq.o" "$rust_lib" -lpthread -ldl -o "$bin-aside" >> "$out/st_rseq.build.log" 2>&1; then
  aside_bin=$bin-aside
fi

if [ "${BENCH_SMOKE:-0}" = 1 ]; then
  rc=0
  "$bin" "$rounds" "$iters" > "$out/bvs-smoke.log" 2>&1 || rc=$?
  grep '^check\|^skip' "$out/bvs-smoke.log"
  exit $rc
fi

objdump -d --no-show-raw-insn "$bin" > "$out/bvs.dis"
ops="add cbne indexed list ss mc"
fns=""
for op in $ops; do for m in cpu mm; do fns="$fns st_${op}_$m our_${op}_inline_$m our_${op}_call_$m"; done; done
fns="$fns our_counter_inline_cpu our_counter_inline_mm counter_floor pool_inline pool_floor getcpu_atomic"
fns="$fns counter_floor_h pool_floor_h counter_floor_indexed pool_floor_indexed rseq_libc_bench_rust_pool@jmp"
fns="$fns rseq_libc_bench_rust_counter rseq_libc_bench_rust_add rseq_libc_bench_rust_cbne rseq_libc_bench_rust_store_store"
fns="$fns rseq_libc_bench_rust_indexed rseq_libc_bench_rust_list rseq_libc_bench_rust_memcpy"
fns="$fns rseq_libc_bench_rust_counter_handle rseq_libc_bench_rust_pool_handle@jmp"
fns="$fns our_counter_handle_cpu our_counter_handle_mm pool_handle"
python3 tests/percpu/loop_path.py --functions "$out/bvs.dis" $fns > "$out/bvs.insns"

echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs, $(uname -r), $(ldd --version | head -n 1 | sed 's/.* //') glibc; selftests: $(cat "$src/package" 2>/dev/null)"
echo "command: bash tests/percpu/bench_vs_selftests.sh $rounds $iters (medians of $rounds interleaved rounds of $iters operations)"
for config in ${BENCH_CONFIGS:-glibc rseq-libc aside}; do
  log=$out/bvs-$config.log
  echo
  echo "load average before:$(cut -d' ' -f1-3 /proc/loadavg | sed 's/^/ /')"
  case $config in
    glibc) "$bin" "$rounds" "$iters" > "$log" 2>&1 || true ;;
    aside)
      if [ -z "$aside_bin" ]; then
        echo "SKIP (aside): cannot build with the selftests' rseq.c: $(head -c 300 "$out/st_rseq.build.log")"
        continue
      fi
      GLIBC_TUNABLES=glibc.pthread.rseq=0 "$aside_bin" "$rounds" "$iters" > "$log" 2>&1 || true ;;
    *) GLIBC_TUNABLES=glibc.pthread.rseq=0 "$bin" "$rounds" "$iters" > "$log" 2>&1 || true ;;
  esac
  echo "load average after:$(cut -d' ' -f1-3 /proc/loadavg | sed 's/^/ /')"
  if grep -q '^skip' "$log" && ! grep -q '^row' "$log"; then
    echo "SKIP ($config): $(grep -m 1 '^skip' "$log")"
    continue
  fi
  python3 - "$log" "$out/bvs.insns" <<'EOF'
import sys
rows, ins = {}, {}
cfg = ""
for line in open(sys.argv[1]):
    f = line.split()
    if f and f[0] == 'row':
        rows[f[1]] = (float(f[2]), float(f[3]))
    elif f and f[0] == 'config':
        cfg = line.strip()
    elif f and f[0] in ('check', 'skip'):
        print(line.strip())
for line in open(sys.argv[2]):
    f = line.split()
    if len(f) == 3:
        ins[f[0]] = f"{f[1]}/{f[2]}"
print(f"({cfg})")
def ns(k):
    return f"{rows[k][0]:.2f} ({rows[k][1]:.2f})" if k in rows else "-"
def ratio(a, b):
    return f"{rows[a][0] / rows[b][0]:.2f}x" if a in rows and b in rows else "-"
def insn(k):
    return ins.get(k, "-")
if 'aside_our_counter_call_cpu' in rows:
    print("\nrseq-libc stepped aside (the program links the selftests' rseq.c and registers its own area; glibc's registration off): "
          "our counters have no area. Targets: inline <= call <= 2x sched_getcpu + atomic")
    print("| counter increment | mode | inline C | inline C handle | Rust | Rust handle | call | sched_getcpu + atomic | selftests' add on their area | inline / call | inline handle / call | Rust handle / call | call / (getcpu + atomic) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for m, mn in (('cpu', 'cpu_id'), ('mm', 'mm_cid')):
        i, ih, r, h, c, g, st = (f"aside_our_counter_inline_{m}", f"aside_our_counter_handle_{m}", f"aside_rust_counter_{m}",
                                 f"aside_rust_counter_handle_{m}", f"aside_our_counter_call_{m}", "aside_getcpu_atomic", f"aside_st_add_{m}")
        print(f"| stepped aside | {mn} | {ns(i)} | {ns(ih)} | {ns(r)} | {ns(h)} | {ns(c)} | {ns(g)} | {ns(st)} | {ratio(i, c)} | {ratio(ih, c)} | {ratio(h, c)} | {ratio(c, g)} |")
    sys.exit(0)
print("\nPer operation, one iteration with its index read: median (min) ns; "
      "instructions/macro-ops of the committing path")
print("| operation | mode | selftests inline | ours inline C | ours Rust | ours C call | inline C / selftests | Rust / selftests | call / selftests | insns/macro-ops: selftests, inline C, Rust |")
print("|---|---|---|---|---|---|---|---|---|---|")
rust_fn = {'add': 'add', 'cbne': 'cbne', 'indexed': 'indexed', 'list': 'list', 'ss': 'store_store', 'mc': 'memcpy', 'counter': 'counter'}
names = {
    'add': 'add to the index\'s slot (rseq_addv)',
    'cbne': 'compare-and-store (cmpeqv_storev / load_cbne_store)',
    'indexed': 'indexed add (offset_deref_addv / add_indexed)',
    'list': 'list pop + push (cmpnev_storeoffp_load + cmpeqv_storev)',
    'ss': 'compare, store, store (cmpeqv_trystorev_storev)',
    'mc': 'compare, copy 32 bytes, store (cmpeqv_trymemcpy_storev)',
}
for op in ['add', 'cbne', 'indexed', 'list', 'ss', 'mc']:
    for m, mn in (('cpu', 'cpu_id'), ('mm', 'mm_cid')):
        s, i, c, r = f"st_{op}_{m}", f"our_{op}_inline_{m}", f"our_{op}_call_{m}", f"rust_{op}_{m}"
        print(f"| {names[op]} | {mn} | {ns(s)} | {ns(i)} | {ns(r)} | {ns(c)} | {ratio(i, s)} | {ratio(r, s)} | {ratio(c, s)} | {insn(s)}, {insn(i)}, {insn('rseq_libc_bench_rust_' + rust_fn[op])} |")
for m, mn in (('cpu', 'cpu_id'), ('mm', 'mm_cid')):
    s, i, c, r = f"st_add_{m}", f"our_counter_inline_{m}", f"our_counter_call_{m}", f"rust_counter_{m}"
    print(f"| counter object increment (ours: index read inside the section) | {mn} | {ns(s)} | {ns(i)} | {ns(r)} | {ns(c)} | {ratio(i, s)} | {ratio(r, s)} | {ratio(c, s)} | {insn(s)}, {insn(i)}, {insn('rseq_libc_bench_rust_counter')} |")
print("\nUse-case fast paths (cpu_id objects) beside the floor; target <= 1.3x. Floor (run I): the same memory work "
      "without rseq (no descriptor store, no in-section check, no abort exit): the index read as our path reads it "
      "(TLS area pointer, the object's mode byte, the field), the bound check, the slot through one register; the "
      "pool's with its depth bookkeeping. Previous floors beside it: run H's (cpu_id through a pointer kept in a "
      "register, masked, no mode byte; the pool's without the depth words) and runs A-G's (run H's addressed as "
      "base + index); the ring's floor is the same in all three")
print("| use case | inline C | Rust | C call | floor (run I) | inline C / floor | Rust / floor | call / floor | insns/macro-ops: inline C, Rust, floor | floor of run H | inline C / Rust to it | floor of runs A-G | inline C / Rust to it |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for name, i, r, c, f, fh, fi, rfn in (("counter increment", "our_counter_inline_cpu", "rust_counter_cpu", "our_counter_call_cpu", "counter_floor", "counter_floor_h", "counter_floor_indexed", "rseq_libc_bench_rust_counter"),
                             ("pool alloc + free, 64 B", "pool_inline", "rust_pool", "pool_call", "pool_floor", "pool_floor_h", "pool_floor_indexed", "rseq_libc_bench_rust_pool"),
                             ("ring write, 32-byte record", "ring_inline", "rust_ring", "ring_call", "ring_floor", "ring_floor", "ring_floor", "-")):
    print(f"| {name} | {ns(i)} | {ns(r)} | {ns(c)} | {ns(f)} | {ratio(i, f)} | {ratio(r, f)} | {ratio(c, f)} | "
          f"{insn(i)}, {insn(rfn)}, {insn(f)} | {ns(fh)} | {ratio(i, fh)} / {ratio(r, fh)} | {ns(fi)} | {ratio(i, fi)} / {ratio(r, fi)} |")
print("\nThrough handles (inline C: rseq_percpu_inline_counter_handle / _pool_handle; Rust: Counter::handle, Pool::handle): "
      "the thread's area and the object's mode (and a pool's limit) read once, kept in registers by the loop; "
      "Rust's cpu_id sections let their bound check be their cpu_id >= 0 test. Beside the same floors; target <= 1.3x")
print("| use case | inline C handle | Rust handle | floor (run I) | inline C handle / floor | Rust handle / floor | insns/macro-ops: inline C handle, Rust handle, floor |")
print("|---|---|---|---|---|---|---|")
for name, c, h, f, cfn, hfn in (("counter increment, cpu_id", "our_counter_handle_cpu", "rust_counter_handle_cpu", "counter_floor", "our_counter_handle_cpu", "rseq_libc_bench_rust_counter_handle"),
                                ("counter increment, mm_cid", "our_counter_handle_mm", "rust_counter_handle_mm", "counter_floor", "our_counter_handle_mm", "-"),
                                ("pool alloc + free, 64 B", "pool_handle", "rust_pool_handle", "pool_floor", "pool_handle", "rseq_libc_bench_rust_pool_handle")):
    print(f"| {name} | {ns(c)} | {ns(h)} | {ns(f)} | {ratio(c, f)} | {ratio(h, f)} | {insn(cfn)}, {insn(hfn)}, {insn(f)} |")
print("\nBaselines (same run)")
print("| operation | ns | our inline counter is faster by |")
print("|---|---|---|")
for name, k in (("glibc sched_getcpu + atomic on that CPU's slot", "getcpu_atomic"),
                ("one shared atomic", "shared_atomic"), ("empty loop", "empty_loop")):
    print(f"| {name} | {ns(k)} | {ratio(k, 'our_counter_inline_cpu')} |")
print(f"\nHeadline: per-CPU counter vs sched_getcpu + atomic: {ratio('getcpu_atomic', 'rust_counter_cpu')} (Rust), "
      f"{ratio('getcpu_atomic', 'rust_counter_handle_cpu')} (Rust handle), {ratio('getcpu_atomic', 'our_counter_handle_cpu')} (inline C handle), "
      f"{ratio('getcpu_atomic', 'our_counter_inline_cpu')} (inline C), {ratio('getcpu_atomic', 'our_counter_call_cpu')} (C call); "
      f"the seed's slide: 7.7x")
if 'noarea_our_counter_call_cpu' in rows:
    print("\nNo area (a thread whose registration was undone by a raw rseq unregistration): targets inline <= call <= 2x sched_getcpu + atomic")
    print("| operation | mode | inline C | inline C handle | Rust | Rust handle | call | sched_getcpu + atomic (same thread) | inline / call | inline handle / call | Rust / call | Rust handle / call | call / (getcpu + atomic) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for m, mn in (('cpu', 'cpu_id'), ('mm', 'mm_cid')):
        i, ih, r, h, c, g = (f"noarea_our_counter_inline_{m}", f"noarea_our_counter_handle_{m}", f"noarea_rust_counter_{m}",
                             f"noarea_rust_counter_handle_{m}", f"noarea_our_counter_call_{m}", "noarea_getcpu_atomic")
        print(f"| counter increment | {mn} | {ns(i)} | {ns(ih)} | {ns(r)} | {ns(h)} | {ns(c)} | {ns(g)} | {ratio(i, c)} | {ratio(ih, c)} | {ratio(r, c)} | {ratio(h, c)} | {ratio(c, g)} |")
EOF
done
