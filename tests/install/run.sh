#!/usr/bin/env bash
# scripts/install.sh and the pkg-config files it writes (docs/install.md).
# Installs into a prefix under tests/build/install, then, from a directory
# outside the tree, builds tests/install/app.c (owner line + an exact
# per-CPU counter from two threads, through the inline header) with
#   CC app.c $(pkg-config --static --cflags --libs rseq-libc)
# for gcc and clang (dynamic and static) and musl-gcc (static, and dynamic
# where musl's loader is installed), and runs each in its hosts: glibc owns,
# glibc.pthread.rseq=0 (the component owns), musl (the component owns).
# Also: the no-hooks archive in a shared object (rseq-libc-nohooks.pc);
# no LLVM bitcode in the installed archives; the installed GDB extension
# loads; the installed command's report finds the installed library;
# installing twice gives the same files; --destdir stages with the final
# prefix in the .pc files (and the staged tree works with
# --define-variable=prefix); bad arguments are refused with a clear error
# and nothing written.
# Needs: cargo build --release first (install.sh builds the no-hooks archive
# into target/nohooks); pkg-config (installed through scripts/install-deps.sh).
# Ends with "N passed, N failed, N skipped".
set -u
cd "$(dirname "$0")/../.."
root=$PWD
out=${RSEQ_LIBC_TEST_BUILD:-$root/tests/build}/install
passed=0 failed=0 skipped=0
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; failed=$((failed + 1)); }
skip() { echo "SKIP $1"; skipped=$((skipped + 1)); }
finish() { echo "$passed passed, $failed failed, $skipped skipped"; [ "$failed" -eq 0 ]; exit; }

if [ ! -f target/release/librseq_libc.a ]; then
  fail "target/release/librseq_libc.a missing: run 'cargo build --release' first"
  finish
fi
bash scripts/install-deps.sh pkg-config > /dev/null 2>&1
if ! command -v pkg-config > /dev/null; then
  skip "pkg-config not installed (apt-get install pkg-config)"
  finish
fi

rm -rf "$out"
mkdir -p "$out/app"
prefix=$out/prefix
version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' Cargo.toml)

# Every installed file with its mode and checksum, relative to $1.
snapshot() { (cd "$1" && find . -type f -printf '%P %m ' -exec sha256sum {} \; | awk '{print $1, $2, $3}' | sort); }
expected_files="bin/rseq-libc
include/rseq-libc/rseq-libc.h
include/rseq-libc/rseq-percpu-arch/aarch64.h
include/rseq-libc/rseq-percpu-arch/riscv.h
include/rseq-libc/rseq-percpu-arch/x86_64.h
include/rseq-libc/rseq-percpu-inline.h
include/rseq-libc/rseq-percpu.h
include/rseq-libc/rseq-pmu.h
include/rseq-libc/sys/rseq.h
lib/librseq_libc.a
lib/librseq_libc_nohooks.a
lib/pkgconfig/rseq-libc-nohooks.pc
lib/pkgconfig/rseq-libc.pc
share/rseq-libc/gdb/README.md
share/rseq-libc/gdb/rseq.py"

start=$SECONDS
if bash scripts/install.sh --prefix "$prefix" > "$out/install1.log" 2>&1; then
  files=$(cd "$prefix" && find . -type f -printf '%P\n' | sort)
  if [ "$files" = "$expected_files" ]; then
    pass "install.sh --prefix: the archives, headers, .pc files, GDB extension and command ($((SECONDS - start)) s)"
  else
    fail "install.sh --prefix: files differ from the expected list: $(diff <(echo "$expected_files") <(echo "$files") | tr '\n' ' ')"
  fi
else
  fail "install.sh --prefix failed: $(tail -n 3 "$out/install1.log" | tr '\n' ' ')"
  finish
fi

export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
unset PKG_CONFIG_LIBDIR PKG_CONFIG_SYSROOT_DIR
line=$(pkg-config --static --cflags --libs rseq-libc 2>&1)
want="-I$prefix/include/rseq-libc $prefix/lib/librseq_libc.a"
if [ "$(echo $line)" = "$want" ] && [ "$(pkg-config --modversion rseq-libc)" = "$version" ]; then
  pass "pkg-config --static --cflags --libs rseq-libc: $line (version $version)"
else
  fail "pkg-config --static --cflags --libs rseq-libc: '$line', expected '$want' (version $(pkg-config --modversion rseq-libc 2>&1))"
fi

# The installed archives hold machine code only (README "Linking"):
# .cargo/config.toml's wrapper applied to install.sh's builds.
for a in librseq_libc.a librseq_libc_nohooks.a; do
  if ! objdump -h "$prefix/lib/$a" > "$out/$a.sections" 2>&1; then
    fail "$a: objdump -h failed: $(head -c 300 "$out/$a.sections")"
  elif grep -q llvmbc "$out/$a.sections"; then
    fail "$a: has .llvmbc sections (LLVM bitcode)"
  else
    pass "$a: no LLVM bitcode ($(grep -c 'file format' "$out/$a.sections") members)"
  fi
done

# A program outside the tree, built with the pkg-config line only.
cp tests/install/app.c tests/install/plugin.c tests/install/plugin_main.c "$out/app/"
cd "$out/app"
off=GLIBC_TUNABLES=glibc.pthread.rseq=0
check_run() { # name expected-owner [VAR=value...] binary
  local name=$1 owner=$2; shift 2
  local log=$out/${name//[^A-Za-z0-9_.-]/_}.log
  env -u GLIBC_TUNABLES timeout 60 env "$@" > "$log" 2>&1
  local rc=$?
  if [ $rc -eq 0 ] && grep -q "^owner=$owner " "$log" && grep -q "^counter=200000 " "$log"; then
    pass "$name: $(tr '\n' ' ' < "$log")"
  else
    fail "$name: exit $rc, expected owner=$owner and counter=200000: $(tr '\n' ' ' < "$log")"
  fi
}
build_app() { # name compiler [flags...]
  local name=$1; shift
  local log=$out/$name.build.log
  # shellcheck disable=SC2046 # the pkg-config line is meant to be split
  if "$@" -O2 -Wall -Wextra -Werror app.c $(pkg-config --static --cflags --libs rseq-libc) \
      -o "$name" > "$log" 2>&1; then
    return 0
  fi
  fail "$name: $* app.c \$(pkg-config ...) failed: $(head -c 600 "$log")"
  return 1
}
for cc in gcc clang; do
  if ! command -v $cc > /dev/null; then
    skip "$cc: not installed (apt-get install $cc)"
    continue
  fi
  for mode in dynamic static; do
    flags=(); [ $mode = static ] && flags=(-static)
    if build_app "$cc-$mode" $cc "${flags[@]}"; then
      check_run "$cc $mode, glibc owns" libc "./$cc-$mode"
      check_run "$cc $mode, $off: component owns" component "$off" "./$cc-$mode"
    fi
  done
done
if ! command -v musl-gcc > /dev/null; then
  skip "musl-gcc: not installed (apt-get install musl-tools)"
else
  build_app musl-static musl-gcc -static && check_run "musl-gcc static: component owns" component ./musl-static
  if [ ! -e /lib/ld-musl-x86_64.so.1 ]; then
    skip "musl-gcc dynamic: no loader /lib/ld-musl-x86_64.so.1"
  else
    build_app musl-dynamic musl-gcc && check_run "musl-gcc dynamic: component owns" component ./musl-dynamic
  fi
fi

# The no-hooks archive in a shared object: the plugin registers through the
# API (no startup hooks in a shared object).
# shellcheck disable=SC2046
if gcc -O2 -Wall -Werror -fPIC -shared plugin.c $(pkg-config --static --cflags --libs rseq-libc-nohooks) \
     -o libplugin.so > "$out/plugin.build.log" 2>&1 &&
   gcc -O2 plugin_main.c -L. -lplugin -Wl,-rpath,"$PWD" -o plugin_main >> "$out/plugin.build.log" 2>&1; then
  for row in "libc" "component $off"; do
    set -- $row
    o=$(env -u GLIBC_TUNABLES ${2:+"$2"} ./plugin_main 2>&1)
    if [ "$o" = "owner=$1" ]; then
      pass "rseq-libc-nohooks.pc: shared object registering through the API${2:+ ($2)}: $o"
    else
      fail "rseq-libc-nohooks.pc: shared object${2:+ ($2)}: '$o', expected owner=$1"
    fi
  done
else
  fail "rseq-libc-nohooks.pc: shared object build failed: $(head -c 600 "$out/plugin.build.log")"
fi
cd "$root"

# The GDB extension at the path the .pc file names.
gdbscript=$(pkg-config --variable=gdbscript rseq-libc)
if ! command -v gdb > /dev/null; then
  skip "GDB extension: gdb not installed (apt-get install gdb)"
elif gdb -nx -batch -ex "source $gdbscript" -ex "help info rseq" > "$out/gdb.log" 2>&1 &&
     grep -qi "rseq" "$out/gdb.log" && ! grep -qi "error\|Traceback" "$out/gdb.log"; then
  pass "GDB extension: source \$(pkg-config --variable=gdbscript rseq-libc) defines 'info rseq'"
else
  fail "GDB extension: $gdbscript: $(head -c 400 "$out/gdb.log")"
fi

# The installed command builds its demo against the installed library, in
# a temporary directory (not next to itself).
if "$prefix/bin/rseq-libc" report > "$out/report.log" 2>&1 &&
   grep -q "^| musl static | component | owner=component " "$out/report.log" &&
   grep -q "^| glibc dynamic | libc | owner=libc " "$out/report.log" &&
   [ ! -e "$prefix/bin/demo-hosts" ]; then
  pass "installed rseq-libc report: demo built against the installed prefix ($(grep -c '| owner=' "$out/report.log") hosts)"
else
  fail "installed rseq-libc report: $(grep -E 'FAIL|UNEXPECTED|musl static|glibc dynamic \|' "$out/report.log" | head -n 4 | tr '\n' ' ') (log: $out/report.log)"
fi

# Idempotent: a second installation over the first gives the same files.
before=$(snapshot "$prefix")
if bash scripts/install.sh --prefix "$prefix" > "$out/install2.log" 2>&1 &&
   [ "$(snapshot "$prefix")" = "$before" ]; then
  pass "installing twice: same files, modes and contents"
else
  fail "installing twice: $(tail -n 2 "$out/install2.log" | tr '\n' ' ') $(diff <(echo "$before") <(snapshot "$prefix") | head -n 4 | tr '\n' ' ')"
fi

# --destdir: staged under DIR, .pc files naming the final prefix; the staged
# tree works through --define-variable=prefix.
final=/opt/rseq-libc-install-test-$$
stage=$out/stage
if bash scripts/install.sh --prefix "$final" --destdir "$stage" --no-build > "$out/install3.log" 2>&1 &&
   [ "$(cd "$stage$final" && find . -type f -printf '%P\n' | sort)" = "$expected_files" ] &&
   [ ! -e "$final" ] && grep -qx "prefix=$final" "$stage$final/lib/pkgconfig/rseq-libc.pc"; then
  # shellcheck disable=SC2046
  if (cd "$out/app" && gcc -O2 app.c $(PKG_CONFIG_PATH=$stage$final/lib/pkgconfig \
        pkg-config --define-variable=prefix="$stage$final" --static --cflags --libs rseq-libc) \
        -o staged > "$out/staged.build.log" 2>&1) &&
     "$out/app/staged" | grep -q "^counter=200000 "; then
    pass "--destdir: staged under DIR/PREFIX, prefix=$final in the .pc files, nothing written to $final, builds with --define-variable=prefix"
  else
    fail "--destdir: the staged tree does not build a program: $(head -c 400 "$out/staged.build.log")"
  fi
else
  fail "--destdir: $(tail -n 2 "$out/install3.log" | tr '\n' ' ') (staged: $(cd "$stage" 2> /dev/null && find . -type f | head -n 3 | tr '\n' ' '))"
fi

# Bad arguments: a clear message, exit status 2, nothing written.
touch "$out/a-file"
bad() { # expected-message args...
  local msg=$1; shift
  local before_bad
  before_bad=$(find "$out" | sort)
  local o rc
  o=$(bash scripts/install.sh "$@" --no-build 2>&1); rc=$?
  if [ $rc -eq 2 ] && [[ $o == *"$msg"* ]] && [ "$(find "$out" | sort)" = "$before_bad" ]; then
    pass "refused: install.sh $*: $o"
  else
    fail "install.sh $*: exit $rc, '$o' (expected exit 2 and '$msg', nothing written)"
  fi
}
bad "not an absolute path" --prefix relative/prefix
bad "exists and is not a directory" --prefix "$out/a-file/sub"
bad "--prefix PREFIX is required"
bad "white space" --prefix "$out/with space"
bad "unknown argument" --prefix "$out/x" --bogus
bad "not an absolute path" --prefix "$out/x" --libdir lib

finish
