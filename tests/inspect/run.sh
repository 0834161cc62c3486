#!/usr/bin/env bash
# rseq-libc inspect: a correct critical section and deliberately broken ones
# (tests/inspect/cs.c), each built as a PIE, a non-PIE and a static
# executable, a shared object, a relocatable object and a static archive;
# hostile inputs (truncated, not ELF, corrupted); and the project's own
# binaries, which must all validate.
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

if ! command -v gcc > /dev/null || ! command -v ar > /dev/null; then
  skip "generated inputs: gcc or ar not installed (apt-get install gcc binutils)"
else
  # variant: "name macro expected-violation-kind" (good has none).
  variants=(
    "good - -"
    "wrong-signature BROKEN_SIGNATURE wrong_signature"
    "misaligned BROKEN_ALIGNMENT misaligned_descriptor"
    "no-exit BROKEN_NO_EXIT missing_exit_points"
    "unlisted BROKEN_UNLISTED unlisted_descriptor"
    "abort-inside BROKEN_ABORT_INSIDE abort_inside_section"
  )
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
    for file in "$name-pie" "$name-nopie" "$name-static" "lib$name.so" "$name.o" "lib$name.a"; do
      if [ ! -f "$out/$file" ]; then skip "$file: no static libc to link with"; continue; fi
      inspect "$out/$file" > "$out/$file.txt" 2>&1; code=$?
      inspect --json "$out/$file" > "$out/$file.json" 2> /dev/null
      sections=$(grep -m1 -o '"critical_sections": [0-9]*' "$out/$file.json" | grep -o '[0-9]*$')
      if [ "$kind" = - ]; then
        if [ $code = 0 ] && [ "$sections" = 1 ] && grep -q '"valid": true' "$out/$file.json"; then
          pass "$file: 1 critical section, valid"
        else
          fail "$file: exit $code, ${sections:-?} sections: $(grep -m3 -E 'VIOLATION|error' "$out/$file.txt")"
        fi
      else
        if [ $code = 1 ] && grep -q "\"kind\": \"$kind\"" "$out/$file.json" && grep -q "\[$kind\]" "$out/$file.txt"; then
          pass "$file: $kind detected: $(grep -m1 "\[$kind\]" "$out/$file.txt" | sed 's/^ *//')"
        else
          fail "$file: expected $kind and exit 1, got exit $code: $(grep -m3 -E 'VIOLATION|error' "$out/$file.txt")"
        fi
      fi
    done
  done

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
