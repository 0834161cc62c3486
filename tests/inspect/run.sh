#!/usr/bin/env bash
# rseq-libc inspect: a correct critical section and deliberately broken ones
# (tests/inspect/cs.c), each built as a PIE, a non-PIE and a static
# executable, a shared object, a relocatable object and a static archive;
# hostile inputs (truncated, not ELF, corrupted; and about 1.5 MB files from
# inspect/examples/hostile_elf.rs with 20,000 overlapping table headers, huge
# names, overlapping relocation sections, inspected under a 256 MiB
# address-space limit); a bounded fuzz run (cargo +nightly fuzz, 20 s,
# RSEQ_INSPECT_FUZZ_SECONDS=N to change, 0 to skip; the long run is
# scripts/long-tests.sh, docs/testing-budget.md); the same variants built
# for aarch64 and riscv64 with the cross gcc (scripts/cross-toolchain.sh;
# SKIP without root or the tree) and cross-built files with lying headers;
# the abort handler's place per architecture (cs.c's ABORT_INLINE: behind a
# branch after the commit, correct on aarch64 and riscv64, a warning on
# x86-64; BROKEN_FALL_THROUGH: a warning everywhere); the generated per-CPU
# sequences (tests/percpu/percpu_inline_test.c as an object and a shared
# object, for x86-64 and each cross architecture that has them), which must
# validate with no warning; and the project's own binaries, which must all
# validate. The fuzz build's target directory is
# shared by every checkout (RSEQ_LIBC_FUZZ_TARGET, default
# ~/.cache/rseq-libc/fuzz-target): cargo's fingerprints key it, and a fresh
# clone does not rebuild libFuzzer and the sanitized dependencies.
# Ends with "N passed, N failed, N skipped"; exits non-zero on any failure.
set -u
cd "$(dirname "$0")/../.."
root=$PWD
out=${RSEQ_LIBC_TEST_BUILD:-$root/tests/build}/inspect
mkdir -p "$out"
passed=0 failed=0 skipped=0
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; failed=$((failed + 1)); }
skip() { echo "SKIP $1"; skipped=$((skipped + 1)); }
finish() { echo "$passed passed, $failed failed, $skipped skipped"; [ "$failed" -eq 0 ]; exit $?; }

if ! timeout 300 cargo build -q --release -p rseq-libc-cli > "$out/cargo.log" 2>&1; then
  fail "cargo build --release -p rseq-libc-cli: $(tail -n 5 "$out/cargo.log")"
  finish
fi
tool=$root/target/release/rseq-libc
inspect() { timeout 20 "$tool" inspect "$@"; }

# expected_kind KIND ARCH: what a variant's KIND means on ARCH. The abort
# handler's place is per architecture: x86-64's sequences keep it in
# __rseq_failure, aarch64's and riscv64's after the commit behind a branch
# over the signature (librseq's and the kernel selftests' layouts).
expected_kind() {
  case $1:$2 in
    @inline:x86_64 | @fall-through:x86_64) echo warning:abort_outside_failure_section ;;
    @inline:*) echo - ;;
    @fall-through:*) echo warning:signature_falls_through ;;
    *) echo "$1" ;;
  esac
}

# check_variant DIR LABEL NAME KIND: inspects the six builds of one cs.c
# variant in DIR (KIND: the violation expected; "-" for none and no
# warning either; "warning:KIND" for that warning and no violation).
check_variant() {
  local dir=$1 label=$2 name=$3 kind=$4 file code sections
  for file in "$name-pie" "$name-nopie" "$name-static" "lib$name.so" "$name.o" "lib$name.a"; do
    if [ ! -f "$dir/$file" ]; then skip "$label$file: no static libc to link with"; continue; fi
    inspect "$dir/$file" > "$dir/$file.txt" 2>&1; code=$?
    inspect --json "$dir/$file" > "$dir/$file.json" 2> /dev/null
    sections=$(grep -m1 -o '"critical_sections": [0-9]*' "$dir/$file.json" | grep -o '[0-9]*$')
    if [ "$kind" = - ] || [ "${kind#warning:}" != "$kind" ]; then
      local warned=${kind#warning:} other
      [ "$kind" = - ] && warned=
      # Every warning but the one expected.
      other=$(grep 'warning: ' "$dir/$file.txt" | grep -v "\[$warned\]\$" | head -n 2)
      [ -z "$warned" ] && other=$(grep -m2 'warning: ' "$dir/$file.txt")
      if [ $code != 0 ] || [ "$sections" != 1 ] || ! grep -q '"valid": true' "$dir/$file.json"; then
        fail "$label$file: exit $code, ${sections:-?} sections: $(grep -m3 -E 'VIOLATION|error' "$dir/$file.txt")"
      elif [ -n "$other" ]; then
        fail "$label$file: unexpected warning: $other"
      elif [ -n "$warned" ] && ! grep -q "\"kind\": \"$warned\"" "$dir/$file.json"; then
        fail "$label$file: valid, but no $warned warning"
      elif [ -n "$warned" ]; then
        pass "$label$file: valid, $warned warned: $(grep -m1 "\[$warned\]" "$dir/$file.txt" | sed 's/^ *warning: //' | head -c 160)"
      else
        pass "$label$file: 1 critical section, valid, no warning"
      fi
    else
      if [ $code = 1 ] && grep -q "\"kind\": \"$kind\"" "$dir/$file.json" && grep -q "\[$kind\]" "$dir/$file.txt"; then
        pass "$label$file: $kind detected: $(grep -m1 "\[$kind\]" "$dir/$file.txt" | sed 's/^ *//')"
      else
        fail "$label$file: expected $kind and exit 1, got exit $code: $(grep -m3 -E 'VIOLATION|error' "$dir/$file.txt")"
      fi
    fi
  done
}
# check_sequences DIR LABEL SOURCE CC: the per-CPU sequences generated for
# the architecture (percpu/seq/*.seq -> headers/rseq-percpu-arch/), in
# DIR/percpu-inline.o and DIR/libpercpu-inline.so (built from SOURCE with
# CC first, unless CC is "-": build-cross.sh built them). Each must
# validate with no warning: a warning on every correct binary is noise.
check_sequences() {
  local dir=$1 label=$2 source=$3 cc=$4 file code sections warnings
  if [ "$cc" != - ]; then
    rm -f "$dir/percpu-inline.o" "$dir/libpercpu-inline.so"
    "$cc" -O2 -Wall -I"$root/headers" -I"$root/tests/c" -c "$source" -o "$dir/percpu-inline.o" 2> "$dir/percpu-inline.build.log" &&
      "$cc" -O2 -Wall -I"$root/headers" -I"$root/tests/c" -fPIC -shared "$source" -o "$dir/libpercpu-inline.so" 2>> "$dir/percpu-inline.build.log" ||
      { fail "${label}generated sequences: build failed: $(head -c 400 "$dir/percpu-inline.build.log")"; return; }
  fi
  if [ -f "$dir/no-sequences" ]; then skip "${label}generated sequences: $(cat "$dir/no-sequences")"; return; fi
  for file in percpu-inline.o libpercpu-inline.so; do
    if [ ! -f "$dir/$file" ]; then fail "${label}generated sequences: $file not built"; continue; fi
    inspect "$dir/$file" > "$dir/$file.txt" 2>&1; code=$?
    sections=$(grep -m1 -oE '[0-9]+ critical section\(s\), [0-9]+ violation' "$dir/$file.txt" | grep -oE '^[0-9]+')
    warnings=$(grep -c 'warning: ' "$dir/$file.txt")
    if [ $code = 0 ] && [ "${sections:-0}" -gt 0 ] && [ "$warnings" = 0 ]; then
      pass "${label}generated sequences $file: $sections critical sections, valid, no warning"
    else
      fail "${label}generated sequences $file: exit $code, ${sections:-?} sections, $warnings warning(s): $(grep -m2 -E 'warning:|VIOLATION|error' "$dir/$file.txt" | head -c 400)"
    fi
  done
}

# variant: "name macro expected-kind" (good has none; @inline and
# @fall-through: per architecture, expected_kind).
variants=(
  "good - -"
  "wrong-signature BROKEN_SIGNATURE wrong_signature"
  "misaligned BROKEN_ALIGNMENT misaligned_descriptor"
  "no-exit BROKEN_NO_EXIT missing_exit_points"
  "unlisted BROKEN_UNLISTED unlisted_descriptor"
  "abort-inside BROKEN_ABORT_INSIDE abort_inside_section"
  "abort-inline ABORT_INLINE @inline"
  "fall-through BROKEN_FALL_THROUGH @fall-through"
)

if ! command -v gcc > /dev/null || ! command -v ar > /dev/null; then
  skip "generated inputs: gcc or ar not installed (apt-get install gcc binutils)"
else
  for v in "${variants[@]}"; do
    read -r name macro kind <<< "$v"
    def=(); [ "$macro" != - ] && def=(-D"$macro")
    cc=(gcc -O2 -Wall -I"$root/headers" "${def[@]}")
    ok=1
    "${cc[@]}" -DWITH_MAIN tests/inspect/cs.c -o "$out/$name-pie" 2> "$out/$name.build.log" &&
      "${cc[@]}" -DWITH_MAIN -no-pie tests/inspect/cs.c -o "$out/$name-nopie" 2>> "$out/$name.build.log" &&
      "${cc[@]}" -fPIC -shared tests/inspect/cs.c -o "$out/lib$name.so" 2>> "$out/$name.build.log" &&
      "${cc[@]}" -c tests/inspect/cs.c -o "$out/$name.o" 2>> "$out/$name.build.log" &&
      rm -f "$out/lib$name.a" && ar rcs "$out/lib$name.a" "$out/$name.o" || ok=0
    "${cc[@]}" -DWITH_MAIN -static tests/inspect/cs.c -o "$out/$name-static" 2>> "$out/$name.build.log" || true
    if [ $ok = 0 ]; then fail "$name: build failed: $(head -c 400 "$out/$name.build.log")"; continue; fi
    check_variant "$out" "" "$name" "$(expected_kind "$kind" x86_64)"
  done

  # The project's generated x86-64 sequences (headers/rseq-percpu-arch/),
  # as tests/percpu's inline test instantiates them: valid, no warning.
  check_sequences "$out" "" "$root/tests/percpu/percpu_inline_test.c" gcc

  # Hostile input: a clear error (exit 2), never a panic (exit 101) or hang.
  good=$out/good-pie
  size=$(stat -c %s "$good")
  head -c 40 "$good" > "$out/truncated-header"
  head -c $((size / 2)) "$good" > "$out/truncated-half"
  printf 'hello, not an ELF file\n' > "$out/not-elf"
  : > "$out/empty"
  # ELFCLASS32 on a 64-bit file.
  cp "$good" "$out/wrong-class"; printf '\001' | dd of="$out/wrong-class" bs=1 seek=4 conv=notrunc status=none
  # e_shnum = 0xffff and e_shoff past the end.
  cp "$good" "$out/huge-shnum"; printf '\377\377' | dd of="$out/huge-shnum" bs=1 seek=60 conv=notrunc status=none
  cp "$good" "$out/bad-shoff"; printf '\377\377\377\377\377\377\377\177' | dd of="$out/bad-shoff" bs=1 seek=40 conv=notrunc status=none
  printf '!<arch>\nbogus-member/   0           0     0     644     99999999  `\n' > "$out/bad-archive.a"
  for file in truncated-header truncated-half not-elf empty wrong-class huge-shnum bad-shoff bad-archive.a; do
    inspect "$out/$file" > "$out/$file.txt" 2>&1; code=$?
    if [ $code = 1 ] || [ $code = 2 ]; then
      pass "hostile $file: exit $code: $(grep -m1 -E 'rseq-libc inspect|VIOLATION|skipped' "$out/$file.txt" | sed 's/^ *//' | head -c 160)"
    else
      fail "hostile $file: exit $code (expected 1 or 2): $(head -c 300 "$out/$file.txt")"
    fi
  done
fi

# aarch64 and riscv64 ELF files, built with Debian's cross gcc in the
# project's cross tree (scripts/cross-toolchain.sh; cached, shared with
# tests/arch-guests): the same variants, each architecture's RSEQ_SIG
# (aarch64 0xd428bc00 as an instruction word, riscv 0xf1401073), and files
# whose header lies about them. riscv64 relocatable objects hold a
# descriptor's post_commit_offset as an R_RISCV_ADD64/SUB64 pair.
for arch in aarch64 riscv64; do
  case $arch in aarch64) sig=0xd428bc00 name=aarch64 other=243 ;; riscv64) sig=0xf1401073 name=riscv other=183 ;; esac
  if [ "$(id -u)" -ne 0 ]; then skip "$arch files: the cross tree needs root (chroot)"; continue; fi
  if ! bash "$root/scripts/cross-toolchain.sh" "$arch" > /dev/null 2> "$out/cross-$arch.log"; then
    skip "$arch files: no cross toolchain: $(tail -n 2 "$out/cross-$arch.log")"; continue
  fi
  xdir=target/cross/inspect-$arch
  rm -rf "$root/$xdir"
  specs=()
  for v in "${variants[@]}"; do read -r vname macro _ <<< "$v"; specs+=("$vname=$macro"); done
  CROSS_RUN=1 bash "$root/scripts/cross-cargo.sh" "$arch" bash tests/inspect/build-cross.sh "$arch" "$xdir" "${specs[@]}" \
    > "$out/cross-build-$arch.log" 2>&1
  if grep -q '^BUILD-FAILED' "$out/cross-build-$arch.log" || [ ! -f "$root/$xdir/good-pie" ]; then
    fail "$arch: building cs.c or the generated sequences with the cross gcc: $(grep -m 2 -E 'BUILD-FAILED|rror' "$out/cross-build-$arch.log" | tr '\n' ' ' | head -c 600)"
    continue
  fi
  for v in "${variants[@]}"; do
    read -r vname _ kind <<< "$v"
    check_variant "$root/$xdir" "$arch " "$vname" "$(expected_kind "$kind" "$arch")"
  done
  check_sequences "$root/$xdir" "$arch " - -
  if grep -q "executable for $name, RSEQ_SIG $sig: 1 critical section" "$root/$xdir/good-pie.txt"; then
    pass "$arch: reported as $name with RSEQ_SIG $sig"
  else
    fail "$arch: not reported as $name with RSEQ_SIG $sig: $(head -n 2 "$root/$xdir/good-pie.txt" | tail -n 1)"
  fi
  # Lying headers: the other architecture's e_machine (its signature is not
  # the one in the file), a machine without rseq, big-endian data, a
  # truncated file. A violation (exit 1) or a clear error (exit 2).
  h=$root/$xdir/hostile; mkdir -p "$h"
  cp "$root/$xdir/good-pie" "$h/other-machine"
  printf "$(printf '\\%03o' "$other")\\000" | dd of="$h/other-machine" bs=1 seek=18 conv=notrunc status=none
  cp "$root/$xdir/good-pie" "$h/unknown-machine"
  printf '\231\231' | dd of="$h/unknown-machine" bs=1 seek=18 conv=notrunc status=none
  cp "$root/$xdir/good-static" "$h/big-endian"
  printf '\002' | dd of="$h/big-endian" bs=1 seek=5 conv=notrunc status=none
  head -c $(($(stat -c %s "$root/$xdir/good.o") * 2 / 3)) "$root/$xdir/good.o" > "$h/truncated.o"
  for e in "other-machine 1 VIOLATION" "unknown-machine 1 unsupported_architecture" \
           "big-endian 2 bad ELF file" "truncated.o 2 bad ELF file"; do
    read -r hname want what <<< "$e"
    inspect "$h/$hname" > "$h/$hname.txt" 2>&1; code=$?
    if [ "$code" = "$want" ] && grep -q "$what" "$h/$hname.txt"; then
      pass "$arch hostile $hname: exit $code: $(grep -m1 "$what" "$h/$hname.txt" | sed 's/^ *//' | head -c 200)"
    else
      fail "$arch hostile $hname: exit $code (expected $want, \"$what\"): $(head -c 300 "$h/$hname.txt")"
    fi
  done
done

# Files built to blow up a reader doing work per header, per overlapping byte
# or per pair of entries: each must finish under a 256 MiB address-space
# limit (an allocation refused aborts it) and a generous timeout, with the
# exit code of its contents, and cap its listing.
hostile=$out/hostile
if ! timeout 300 cargo run -q --release -p rseq-inspect --example hostile_elf -- "$hostile" > "$out/hostile.log" 2>&1; then
  fail "hostile_elf generator: $(tail -n 5 "$out/hostile.log")"
else
  # name expected-exit (1: violations, capped when marked +)
  expected=(
    "valid 0" "duplicate-ptr-array 1+" "overlapping-ptr-array 1+"
    "duplicate-descriptors 1+" "overlapping-descriptors 1+"
    "duplicate-exit-points 1+" "overlapping-exit-points 1+" "huge-sizes 1+"
    "many-program-headers 0" "shared-exit-list 0" "long-section-names 0"
    "long-symbol-names 0" "many-relocation-sections 1"
    "many-dynamic-relocation-sections 1" "archive-long-member-names 0"
  )
  for e in "${expected[@]}"; do
    read -r name want <<< "$e"
    start=$(date +%s%N)
    (ulimit -v 262144 && exec timeout -s KILL 60 "$tool" inspect "$hostile/$name") > "$out/hostile-$name.txt" 2>&1
    code=$?
    ms=$((($(date +%s%N) - start) / 1000000))
    summary=$(grep -a -m1 -E '^/.*critical section\(s\), [0-9]+ violation' "$out/hostile-$name.txt" | sed 's/^.*: \([0-9]* critical\)/\1/')
    if [ "$code" != "${want%+}" ]; then
      fail "hostile $name: exit $code, expected ${want%+} (137: killed at 60 s; 134: aborted, out of memory): $(tail -c 300 "$out/hostile-$name.txt")"
    elif [ "${want%+}" != "$want" ] && ! grep -q 'more violations omitted' "$out/hostile-$name.txt"; then
      fail "hostile $name: the violations listed are not capped ($summary)"
    else
      pass "hostile $name ($(stat -c %s "$hostile/$name") bytes): exit $code in ${ms} ms under ulimit -v 256 MiB: $summary"
    fi
  done
fi

# A bounded fuzz run: libFuzzer with memory blow-ups as findings. Needs a
# nightly toolchain and cargo-fuzz (scripts/install-deps.sh installs it).
fuzz_seconds=${RSEQ_INSPECT_FUZZ_SECONDS:-20}
fuzz_target=${RSEQ_LIBC_FUZZ_TARGET:-$HOME/.cache/rseq-libc/fuzz-target}
if [ "$fuzz_seconds" = 0 ]; then
  skip "bounded fuzz run: RSEQ_INSPECT_FUZZ_SECONDS=0"
elif ! cargo +nightly --version > /dev/null 2>&1; then
  skip "bounded fuzz run: no nightly toolchain (rustup toolchain install nightly)"
elif ! cargo +nightly fuzz --version > /dev/null 2>&1; then
  skip "bounded fuzz run: cargo-fuzz not installed (cargo install --locked cargo-fuzz, or scripts/install-deps.sh)"
elif ! (cd fuzz && timeout 900 cargo +nightly fuzz build -a --target-dir "$fuzz_target" inspect) > "$out/fuzz-build.log" 2>&1; then
  fail "bounded fuzz run: cargo +nightly fuzz build failed: $(tail -n 5 "$out/fuzz-build.log")"
else
  # Seeds: the checked-in corpus and the files built above; a scratch
  # corpus, so that the run leaves the tree as it was.
  corpus=$out/fuzz-corpus
  rm -rf "$corpus" "$out/fuzz-artifacts"; mkdir -p "$corpus" "$out/fuzz-artifacts"
  cp inspect/tests/corpus/* "$corpus"/ 2> /dev/null
  for f in "$out"/good-pie "$out"/libgood.so "$out"/good.o "$out"/libgood.a "$hostile"/valid; do
    [ -f "$f" ] && cp "$f" "$corpus"/
  done
  (cd fuzz && timeout $((fuzz_seconds + 120)) cargo +nightly fuzz run -a --target-dir "$fuzz_target" inspect "$corpus" -- \
    -max_total_time="$fuzz_seconds" -rss_limit_mb=512 -malloc_limit_mb=256 -timeout=10 \
    -max_len=65536 -artifact_prefix="$out/fuzz-artifacts/" -print_final_stats=1) > "$out/fuzz.log" 2>&1
  code=$?
  runs=$(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$out/fuzz.log" | grep -o '[0-9]*$')
  if [ $code = 0 ]; then
    pass "bounded fuzz run: ${fuzz_seconds} s, ${runs:-?} inputs, no crash, leak, OOM (256 MiB malloc) or timeout (10 s)"
  else
    fail "bounded fuzz run: exit $code, reproducer in $out/fuzz-artifacts: $(grep -m3 -E 'ERROR|panicked|SUMMARY' "$out/fuzz.log")"
  fi
fi

# The project's own binaries: every one must validate.
own=("$tool" "$root/target/release/librseq_libc.a")
[ -f "$root/target/release/librseq_testlibc.a" ] && own+=("$root/target/release/librseq_testlibc.a")
# The per-CPU operations' test and bench executables (rseq-percpu), if built.
for f in "$root"/target/{debug,release}/deps/rseq_percpu-* "$root"/target/release/deps/percpu-*; do
  case $f in *.d|*.rlib|*.rmeta|*.o) continue ;; esac
  [ -f "$f" ] && [ -x "$f" ] && own+=("$f")
done
for f in "$root"/tests/build/c/*; do
  [ -f "$f" ] && [ -x "$f" ] && head -c 4 "$f" | grep -q ELF && own+=("$f")
done
for f in "$root"/target/release/examples/* "$root"/tests/build/gdb/*; do
  [ -f "$f" ] && [ -x "$f" ] && head -c 4 "$f" | grep -q ELF && own+=("$f")
done
for f in "${own[@]}"; do
  [ -f "$f" ] || { skip "${f#"$root"/}: not built (cargo build --release; tests/c/run.sh)"; continue; }
  inspect --json "$f" > "$out/own.json" 2>&1; code=$?
  n=$(grep -m1 -o '"critical_sections": [0-9]*' "$out/own.json" | grep -o '[0-9]*$')
  if [ $code = 0 ]; then
    pass "${f#"$root"/}: ${n:-0} critical section(s), valid"
  else
    fail "${f#"$root"/}: exit $code: $(inspect "$f" 2>&1 | grep -m3 -E 'VIOLATION|error|skipped')"
  fi
done
finish
