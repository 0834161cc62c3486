#!/usr/bin/env bash
# The Debian packages (debian/, docs/install.md): builds librseq-libc-dev and
# rseq-libc with dpkg-buildpackage -b -us -uc from a copy of the tree under
# tests/build/debian/pkg (dpkg-buildpackage writes the .deb files into the
# source tree's parent directory), runs lintian on them (an error fails the
# suite; warnings are listed), checks their contents (no LLVM bitcode in the
# packaged archives), installs them, builds tests/install/app.c with
#   CC app.c $(pkg-config --static --cflags --libs rseq-libc)
# against the installed files (gcc dynamic and static, musl-gcc static) and
# runs it in its hosts, runs the installed command's report and loads the
# installed GDB extension, then removes the packages (also on interruption:
# the machine is left as found).
# The package build's cargo target directory is tests/build/debian/target,
# kept between runs, and the copy keeps the sources' modification times, so
# a run after the first rebuilds only what changed.
# Needs root or sudo (apt-get); installs dpkg-dev, debhelper, lintian and
# pkg-config through scripts/install-deps.sh.
# Ends with "N passed, N failed, N skipped".
set -u
cd "$(dirname "$0")/../.."
root=$PWD
out=${RSEQ_LIBC_TEST_BUILD:-$root/tests/build}/debian
passed=0 failed=0 skipped=0
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; failed=$((failed + 1)); }
skip() { echo "SKIP $1"; skipped=$((skipped + 1)); }
finish() { echo "$passed passed, $failed failed, $skipped skipped"; [ "$failed" -eq 0 ]; exit; }

SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
if [ -n "$SUDO" ] && ! sudo -n true 2> /dev/null; then
  skip "Debian packages: needs root or password-less sudo (apt-get)"
  finish
fi
mkdir -p "$out"
bash scripts/install-deps.sh dpkg-dev debhelper lintian pkg-config > "$out/deps.log" 2>&1 || true
for tool in dpkg-buildpackage dh lintian pkg-config; do
  if ! command -v $tool > /dev/null; then
    skip "Debian packages: $tool not installed (apt-get install dpkg-dev debhelper lintian pkg-config): $(tail -n 1 "$out/deps.log")"
    finish
  fi
done
pkgs=(librseq-libc-dev rseq-libc)
installed_before=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2> /dev/null | grep -q "install ok installed" && installed_before+=("$p")
done
if [ ${#installed_before[@]} -gt 0 ]; then
  skip "Debian packages: ${installed_before[*]} already installed on this machine; not replacing them"
  finish
fi

version=$(dpkg-parsechangelog -l debian/changelog -S Version)
arch=$(dpkg --print-architecture)
src=$out/pkg/rseq-libc-$version
rm -rf "$out/pkg" "$out/x" "$out/app"
mkdir -p "$src" "$out/x" "$out/app"
# A copy of the working tree (committed or not), modification times kept.
tar -C "$root" --exclude=./target --exclude=./tests/build --exclude=./.git -cf - . | tar -C "$src" -xf -

start=$SECONDS
if (cd "$src" && CARGO_TARGET_DIR=$out/target CARGO_HOME=${CARGO_HOME:-$HOME/.cargo} \
      RUSTUP_HOME=${RUSTUP_HOME:-$HOME/.rustup} dpkg-buildpackage -b -us -uc) > "$out/build.log" 2>&1 &&
   [ -f "$out/pkg/librseq-libc-dev_${version}_$arch.deb" ] && [ -f "$out/pkg/rseq-libc_${version}_$arch.deb" ]; then
  pass "dpkg-buildpackage -b -us -uc: librseq-libc-dev and rseq-libc $version ($((SECONDS - start)) s)"
else
  fail "dpkg-buildpackage -b -us -uc: $(grep -m 3 -iE 'error|missing' "$out/build.log" | tr '\n' ' ') (log: $out/build.log)"
  finish
fi
dev=$out/pkg/librseq-libc-dev_${version}_$arch.deb
cli=$out/pkg/rseq-libc_${version}_$arch.deb

# lintian: errors fail; warnings are listed in the PASS line.
lintian --fail-on error "$out/pkg/rseq-libc_${version}_${arch}.changes" > "$out/lintian.log" 2>&1
rc=$?
errors=$(grep -c '^E: ' "$out/lintian.log") warnings=$(grep '^W: ' "$out/lintian.log")
if [ $rc -eq 0 ] && [ "$errors" -eq 0 ]; then
  pass "lintian: no errors, $(echo -n "$warnings" | grep -c .) warnings${warnings:+: $(echo "$warnings" | tr '\n' ' ')}"
else
  fail "lintian: exit $rc, $errors errors: $(grep -E '^[EW]: ' "$out/lintian.log" | head -n 6 | tr '\n' ' ')"
fi

# Contents: what each package ships, and no LLVM bitcode in the archives
# (.cargo/config.toml's wrapper applied in the package build).
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
want_dev="usr/include/rseq-libc/rseq-libc.h
usr/include/rseq-libc/rseq-percpu-arch/aarch64.h
usr/include/rseq-libc/rseq-percpu-arch/riscv.h
usr/include/rseq-libc/rseq-percpu-arch/x86_64.h
usr/include/rseq-libc/rseq-percpu-inline.h
usr/include/rseq-libc/rseq-percpu.h
usr/include/rseq-libc/rseq-pmu.h
usr/include/rseq-libc/sys/rseq.h
usr/lib/$multiarch/librseq_libc.a
usr/lib/$multiarch/librseq_libc_nohooks.a
usr/lib/$multiarch/pkgconfig/rseq-libc-nohooks.pc
usr/lib/$multiarch/pkgconfig/rseq-libc.pc
usr/share/rseq-libc/gdb/rseq.py"
have_dev=$(dpkg-deb -c "$dev" | awk '$1 !~ /^d/ {sub(/^\.\//, "", $6); print $6}' | grep -v '^usr/share/doc/' | sort)
have_cli=$(dpkg-deb -c "$cli")
if [ "$have_dev" = "$want_dev" ] && [[ $have_cli == *" ./usr/bin/rseq-libc"* ]]; then
  pass "contents: librseq-libc-dev ships the archives, headers (none outside /usr/include/rseq-libc), .pc files and GDB extension; rseq-libc ships /usr/bin/rseq-libc"
else
  fail "contents: $(diff <(echo "$want_dev") <(echo "$have_dev") | tr '\n' ' ')"
fi
dpkg-deb -x "$dev" "$out/x"
bitcode=0
for a in "$out/x/usr/lib/$multiarch"/*.a; do
  objdump -h "$a" | grep -q llvmbc && bitcode=1
done
if [ $bitcode = 0 ] && [ -f "$out/x/usr/lib/$multiarch/librseq_libc.a" ]; then
  pass "packaged archives: no .llvmbc section (LLVM bitcode)"
else
  fail "packaged archives: .llvmbc sections present (the rustc wrapper did not apply in the package build)"
fi

# Install; removed at the end, also on interruption.
remove() {
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq -o DPkg::Lock::Timeout=300 \
    "${pkgs[@]}" > "$out/purge.log" 2>&1
}
trap 'remove; exit 130' INT TERM
trap 'remove' EXIT
if $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
     -o DPkg::Lock::Timeout=300 "$dev" "$cli" > "$out/apt-install.log" 2>&1; then
  pass "apt-get install ./librseq-libc-dev.deb ./rseq-libc.deb"
else
  fail "apt-get install: $(tail -n 3 "$out/apt-install.log" | tr '\n' ' ')"
  finish
fi

unset PKG_CONFIG_PATH PKG_CONFIG_LIBDIR PKG_CONFIG_SYSROOT_DIR
line=$(pkg-config --static --cflags --libs rseq-libc 2>&1)
want="-I/usr/include/rseq-libc /usr/lib/$multiarch/librseq_libc.a"
if [ "$(echo $line)" = "$want" ]; then
  pass "installed pkg-config --static --cflags --libs rseq-libc: $line"
else
  fail "installed pkg-config --static --cflags --libs rseq-libc: '$line', expected '$want'"
fi

cp tests/install/app.c "$out/app/"
cd "$out/app"
off=GLIBC_TUNABLES=glibc.pthread.rseq=0
app() { # name expected-owner compiler-and-flags [-- VAR=value]
  local name=$1 owner=$2 cc=$3 env_extra=${4:-}
  local bin=${name//[^A-Za-z0-9_.-]/_}
  # shellcheck disable=SC2046,SC2086 # the flags and the pkg-config line are meant to be split
  if ! $cc -O2 -Wall -Werror app.c $(pkg-config --static --cflags --libs rseq-libc) -o "$bin" > "$bin.build.log" 2>&1; then
    fail "$name: $cc app.c \$(pkg-config ...): $(head -c 400 "$bin.build.log")"
    return
  fi
  local o rc
  o=$(env -u GLIBC_TUNABLES $env_extra timeout 60 "./$bin" 2>&1); rc=$?
  if [ $rc -eq 0 ] && [[ $o == "owner=$owner "* ]] && [[ $o == *"counter=200000 "* ]]; then
    pass "$name: $(echo "$o" | tr '\n' ' ')"
  else
    fail "$name: exit $rc, expected owner=$owner and counter=200000: $(echo "$o" | tr '\n' ' ')"
  fi
}
app "installed, gcc dynamic, glibc owns" libc gcc
app "installed, gcc dynamic, $off: component owns" component gcc "$off"
app "installed, gcc static, glibc owns" libc "gcc -static"
if command -v musl-gcc > /dev/null; then
  app "installed, musl-gcc static: component owns" component "musl-gcc -static"
else
  skip "installed, musl-gcc static: musl-gcc not installed (apt-get install musl-tools)"
fi
cd "$root"

if /usr/bin/rseq-libc report > "$out/report.log" 2>&1 &&
   grep -q "^| musl static | component | owner=component " "$out/report.log" &&
   grep -q "^| glibc dynamic | libc | owner=libc " "$out/report.log"; then
  pass "installed /usr/bin/rseq-libc report: its demo built against the installed package ($(grep -c '| owner=' "$out/report.log") hosts)"
else
  fail "installed /usr/bin/rseq-libc report: $(grep -E 'FAIL|UNEXPECTED|musl static|glibc dynamic \|' "$out/report.log" | head -n 4 | tr '\n' ' ') (log: $out/report.log)"
fi
gdbscript=$(pkg-config --variable=gdbscript rseq-libc)
if ! command -v gdb > /dev/null; then
  skip "installed GDB extension: gdb not installed (apt-get install gdb)"
elif gdb -nx -batch -ex "source $gdbscript" -ex "help info rseq" > "$out/gdb.log" 2>&1 &&
     ! grep -qi "error\|Traceback" "$out/gdb.log"; then
  pass "installed GDB extension: source $gdbscript"
else
  fail "installed GDB extension: $gdbscript: $(head -c 400 "$out/gdb.log")"
fi

remove
trap - EXIT INT TERM
left=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2> /dev/null | grep -q "install ok installed" && left+=("$p")
done
if [ ${#left[@]} -eq 0 ] && [ ! -e /usr/include/rseq-libc ] && [ ! -e /usr/bin/rseq-libc ]; then
  pass "apt-get purge: packages removed, machine as found"
else
  fail "apt-get purge: still installed: ${left[*]} (log: $out/purge.log)"
fi
finish
