#!/usr/bin/env bash
# The archives against every C toolchain and binutils tool this machine has:
#   - links tests/toolchains/app.c (C API, per-CPU call and inline API,
#     a thread) against target/release/librseq_libc.a with gcc, clang and
#     musl-gcc, each with and without -flto (clang also -flto=thin, gold and
#     lld), dynamic and static, and runs it with glibc owning the
#     registration and with the component owning it;
#   - links the shared-object build (--no-default-features) into a shared
#     library with the same compilers and -flto (tests/c's solib.c);
#   - reads every archive the project ships or links (librseq_libc.a, the
#     shared-object build's, librseq_testlibc.a, librseq_libc_glibc.a) with
#     nm (its default plugins from /usr/lib/bfd-plugins, and each LLVM
#     plugin explicitly), objdump -d/-h, readelf -a/-S, ar t/x and ar s
#     (which rebuilds the index through the plugins): exit 0, no error or
#     warning, the exported symbols listed, and no member carrying LLVM
#     bitcode (.llvmbc/.llvmcmd).
# Ends with "N passed, N failed, N skipped". Needs `cargo build --release`
# first. Installs what it lacks when root: the default packages
# (scripts/install-deps.sh: gcc, clang with its LLVMgold plugin, musl-tools)
# and lld; a compiler still missing makes its rows SKIP with the reason.
set -u
cd "$(dirname "$0")/../.."
root=$PWD
lib=$root/target/release/librseq_libc.a
out=${RSEQ_LIBC_TEST_BUILD:-$root/tests/build}/toolchains
mkdir -p "$out"
passed=0 failed=0 skipped=0
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; failed=$((failed + 1)); }
skip() { echo "SKIP $1"; skipped=$((skipped + 1)); }
finish() { echo "$passed passed, $failed failed, $skipped skipped"; [ "$failed" -eq 0 ]; exit; }

if [ ! -f "$lib" ]; then
  fail "$lib missing: run 'cargo build --release' first"
  finish
fi

# Tools: install the missing ones once (root only; apt waits for the lock).
want=()
for t in gcc:gcc clang:clang musl-gcc:musl-tools ld.lld:lld nm:binutils; do
  command -v "${t%%:*}" > /dev/null || want+=("${t#*:}")
done
if [ ${#want[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] || command -v sudo > /dev/null; then
    echo "installing ${want[*]}"
    bash scripts/install-deps.sh "${want[@]}" > "$out/install.log" 2>&1 ||
      echo "install failed (rows SKIP): $(tail -n 2 "$out/install.log" | tr '\n' ' ')"
  else
    echo "not root: cannot install ${want[*]}"
  fi
fi
plugins=$(ls /usr/lib/bfd-plugins/ 2>/dev/null | tr '\n' ' ')
echo "bfd plugins (loaded by nm and ar): ${plugins:-none}"

cflags=(-O2 -g -Wall -Wextra -Werror -I"$root/headers" -I"$root/tests/c")

# ---- The program, per toolchain --------------------------------------------
run_app() { # label binary owner [env...]
  local label=$1 bin=$2 owner=$3; shift 3
  local log=$out/$(basename "$bin").$owner.log
  if env "$@" EXPECT_OWNER="$owner" timeout 60 "$bin" > "$log" 2>&1 && grep -q ", 0 failed" "$log"; then
    pass "$label: $(tail -n 1 "$log")"
  else
    fail "$label: $(grep -m 5 -E 'FAIL|passed' "$log" | tr '\n' ' ') (log: $log)"
  fi
}

# name; compiler and flags; the libc's owner expectations ("glibc" runs it
# with glibc registering (owner 1) and with glibc.pthread.rseq=0 (owner 2),
# "musl" once (owner 2)); what the row needs beyond the compiler.
rows=(
  "gcc;gcc;glibc;"
  "gcc -flto;gcc -flto;glibc;"
  "gcc -static;gcc -static;glibc;"
  "gcc -static -flto;gcc -static -flto;glibc;"
  "gcc -flto -fuse-ld=gold;gcc -flto -fuse-ld=gold;glibc;ld.gold"
  "clang;clang;glibc;"
  "clang -flto;clang -flto;glibc;"
  "clang -flto=thin;clang -flto=thin;glibc;"
  "clang -static;clang -static;glibc;"
  "clang -static -flto;clang -static -flto;glibc;"
  "clang -flto -fuse-ld=gold;clang -flto -fuse-ld=gold;glibc;ld.gold"
  "clang -flto -fuse-ld=lld;clang -flto -fuse-ld=lld;glibc;ld.lld"
  "musl-gcc -static;musl-gcc -static;musl;"
  "musl-gcc -static -flto;musl-gcc -static -flto;musl;"
)
for row in "${rows[@]}"; do
  IFS=';' read -r name cc host extra <<< "$row"
  missing=
  for t in ${cc%% *} $extra; do command -v "$t" > /dev/null || missing="$missing $t"; done
  if [ -n "$missing" ]; then
    skip "$name: not installed:$missing (apt-get install gcc clang lld musl-tools binutils)"
    continue
  fi
  bin=$out/app-$(echo "$name" | tr -c 'a-z0-9\n' '_')
  # shellcheck disable=SC2086 # $cc is the compiler and its flags
  if ! $cc "${cflags[@]}" tests/toolchains/app.c "$lib" -lpthread -o "$bin" > "$bin.build.log" 2>&1; then
    fail "$name: link failed: $(grep -m 3 -iE 'error|undefined' "$bin.build.log" | head -c 500)"
    continue
  fi
  if [ -s "$bin.build.log" ]; then
    fail "$name: the link warned: $(head -c 500 "$bin.build.log")"
    continue
  fi
  if [ "$host" = musl ]; then
    run_app "$name (component owns)" "$bin" 2
  else
    run_app "$name (libc owns)" "$bin" 1
    run_app "$name, glibc.pthread.rseq=0 (component owns)" "$bin" 2 GLIBC_TUNABLES=glibc.pthread.rseq=0
  fi
done

# ---- The shared-object build, in a shared library ---------------------------
so_target=$out/so-target
so_lib=$so_target/release/librseq_libc.a
if ! cargo build --release -q -p rseq-libc --no-default-features --target-dir "$so_target" > "$out/so-cargo.log" 2>&1; then
  fail "shared-object build (cargo --no-default-features): $(tail -n 3 "$out/so-cargo.log")"
  so_lib=
else
  for cc in "gcc -flto" "clang -flto"; do
    name="shared object, $cc"
    if ! command -v "${cc%% *}" > /dev/null; then skip "$name: ${cc%% *} not installed"; continue; fi
    # shellcheck disable=SC2086
    if $cc "${cflags[@]}" -fPIC -shared tests/c/solib.c "$so_lib" -o "$out/libsolib.so" > "$out/solib.build.log" 2>&1 &&
       [ ! -s "$out/solib.build.log" ] &&
       gcc "${cflags[@]}" tests/c/so_main.c -L"$out" -lsolib -Wl,-rpath,"$out" -o "$out/so_main" >> "$out/solib.build.log" 2>&1; then
      run_app "$name (libc owns)" "$out/so_main" 1
    else
      fail "$name: link failed or warned: $(head -c 500 "$out/solib.build.log")"
    fi
  done
fi

# ---- Every archive, with every binutils tool -------------------------------
(cd "$root" && cargo build --release -q -p rseq-testlibc -p rseq-libc-glibc) > "$out/archives-cargo.log" 2>&1 ||
  fail "cargo build -p rseq-testlibc -p rseq-libc-glibc: $(tail -n 3 "$out/archives-cargo.log")"

# nm's output lines: blank, a member's name, or a symbol. Anything else is a
# complaint, like bfd's plugin failures ("bfd plugin: LLVM gold plugin has
# failed to create LTO module"), which go to stdout; nm's own ("no
# symbols") go to stderr, which must stay empty.
nm_line='^$|^[^ ]+:$|^[0-9a-f]{16} [A-Za-z?-] [^ ]+$|^ {16} [A-Za-z] [^ ]+$'

check_archive() { # label archive symbol...
  local label=$1 a=$2; shift 2
  local log=$out/tool.log
  if [ ! -f "$a" ]; then fail "$label: $a missing"; return; fi

  # nm: default plugins, then each LLVM plugin named explicitly.
  local nm_runs=("nm") p
  for p in /usr/lib/bfd-plugins/LLVMgold*.so; do [ -e "$p" ] && nm_runs+=("nm --plugin $p"); done
  local nm_cmd
  for nm_cmd in "${nm_runs[@]}"; do
    local rc=0
    # shellcheck disable=SC2086 # $nm_cmd is nm and its options
    $nm_cmd "$a" > "$log" 2> "$log.err" || rc=$?
    grep -vE "$nm_line" "$log" >> "$log.err"
    local missing_syms= s
    for s in "$@"; do
      grep -qE "^[0-9a-f]+ [TWVDBR] $s\$" "$log" || missing_syms="$missing_syms $s"
    done
    if [ "$rc" -eq 0 ] && [ ! -s "$log.err" ] && [ -z "$missing_syms" ]; then
      pass "$label: $nm_cmd lists$(printf ' %s' "$@"), no complaint"
    else
      fail "$label: $nm_cmd: exit $rc, $(wc -l < "$log.err") complaint lines ($(head -n 1 "$log.err" | head -c 300)); not listed:${missing_syms:- none}"
    fi
  done

  # objdump -d: the code of the first symbol is there, no complaint.
  if objdump -d "$a" > "$log" 2> "$log.err" && [ ! -s "$log.err" ] &&
     grep -q "<$1>:" "$log"; then
    pass "$label: objdump -d disassembles $1, no complaint"
  else
    fail "$label: objdump -d: $(head -c 300 "$log.err"); <$1> $(grep -c "<$1>:" "$log") times"
  fi

  # readelf -a over every member: no complaint.
  if readelf -a -W "$a" > "$log" 2> "$log.err" && [ ! -s "$log.err" ]; then
    pass "$label: readelf -a, no complaint"
  else
    fail "$label: readelf -a: $(head -c 300 "$log.err")"
  fi

  # No member carries LLVM bitcode (objdump -h and readelf -S agree).
  local bc_objdump bc_readelf
  bc_objdump=$(objdump -h "$a" 2>&1 | grep -cE '\.llvm(bc|cmd)\b')
  bc_readelf=$(readelf -S -W "$a" 2>&1 | grep -cE '\.llvm(bc|cmd)\b')
  if [ "$bc_objdump" -eq 0 ] && [ "$bc_readelf" -eq 0 ]; then
    pass "$label: no .llvmbc/.llvmcmd section in any member"
  else
    fail "$label: LLVM bitcode sections: $bc_objdump (objdump -h), $bc_readelf (readelf -S)"
  fi

  # ar t, ar x: every member extracted, each an ELF relocatable object.
  local dir=$out/ar-x members count elf
  rm -rf "$dir" && mkdir -p "$dir"
  if members=$(ar t "$a" 2> "$log.err") && [ ! -s "$log.err" ] &&
     (cd "$dir" && ar x "$a") 2> "$log.err" && [ ! -s "$log.err" ]; then
    count=$(printf '%s\n' "$members" | sort -u | wc -l)
    elf=$(cd "$dir" && for f in *; do readelf -h "$f" 2> /dev/null | grep -q 'Type: *REL ' && echo "$f"; done | wc -l)
    if [ "$count" -gt 0 ] && [ "$elf" -eq "$count" ]; then
      pass "$label: ar t lists $count members, ar x extracts them, all ELF relocatable"
    else
      fail "$label: ar: $count members, $elf ELF relocatable after ar x"
    fi
  else
    fail "$label: ar t/x: $(head -c 300 "$log.err")"
  fi

  # ar s on a copy: the index rebuilt through the plugins finds the symbols.
  cp "$a" "$out/copy.a"
  if ar s "$out/copy.a" > "$log" 2>&1 && [ ! -s "$log" ] &&
     nm --print-armap "$out/copy.a" 2> /dev/null | grep -q "^$1 in "; then
    pass "$label: ar s rebuilds the index ($1 in it), no complaint"
  else
    fail "$label: ar s: $(wc -l < "$log") complaint lines ($(head -n 1 "$log" | head -c 300)); $1 $(nm --print-armap "$out/copy.a" 2> /dev/null | grep -c "^$1 in ") times in the index"
  fi
  rm -f "$out/copy.a"
}

check_archive "librseq_libc.a" "$lib" rseq_libc_register_current_thread sched_getcpu getcpu \
  __rseq_offset __rseq_size rseq_percpu_counter_inc pthread_create
if [ -n "$so_lib" ]; then
  check_archive "librseq_libc.a --no-default-features" "$so_lib" rseq_libc_register_current_thread \
    sched_getcpu __rseq_offset rseq_percpu_counter_inc
fi
check_archive "librseq_testlibc.a" "$root/target/release/librseq_testlibc.a" \
  rseq_libc_register_current_thread sched_getcpu __rseq_offset pthread_create malloc printf
check_archive "librseq_libc_glibc.a" "$root/target/release/librseq_libc_glibc.a" \
  __rseq_libc_glibc_register __rseq_libc_glibc_unregister __rseq_libc_glibc_sched_getcpu

finish
