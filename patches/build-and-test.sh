#!/usr/bin/env bash
# Builds glibc VERSION (2.36, the default, or 2.43) with the patch series in
# patches/glibc-VERSION/ and the rseq-libc component linked into ld.so and
# libc, then runs glibc's own rseq, TLS and thread start/exit tests, the
# series' tests and glibc's symbol checks against it.
#
#   bash patches/build-and-test.sh [2.36|2.43|all]
#
# Fetches glibc_VERSION.orig.tar.xz from Debian's source package (checksum
# verified), applies the series, configures out of tree with
# --with-rseq-libc and builds. The unpacked tree, the build directory and
# the component's cargo target directory are cached outside the repository
# in ${RSEQ_LIBC_GLIBC_CACHE:-$HOME/.cache/rseq-libc/glibc-VERSION}: a rerun
# after a component change relinks, after a series change it rebuilds only
# what the changed files touch, and with nothing changed it runs no make at
# all. The cache is keyed (scripts/cache-key.sh) by the sha256 of the glibc
# version and tarball checksum, the configure options, the build steps of
# this script (between "# >>> glibc build" and "# <<< glibc build") and the
# toolchain's versions: when one changes, the tree is unpacked and built
# again from nothing (10 to 25 minutes on 2 busy cores). A cache made before
# the stamps is adopted when its recorded configure options match.
# RSEQ_LIBC_CACHE_CHECK=1 only says whether the cache is fresh.
# Prints `N passed, N failed[, N skipped]`;
# exits non-zero on failure. If the source cannot be fetched it prints SKIP
# with the reason and exits 0.
set -u -o pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=../scripts/cache-key.sh
. "$ROOT/scripts/cache-key.sh"
VERSION=${1:-2.36}
if [ "$VERSION" = all ]; then
  # Every version, one after the other; one summary line for all.
  tp=0 tf=0 ts=0 st=0
  for v in 2.36 2.43; do
    log=$(mktemp)
    if cache_check_mode; then RSEQ_LIBC_GLIBC_CACHE= bash "$0" "$v"; continue; fi
    RSEQ_LIBC_GLIBC_CACHE= bash "$0" "$v" 2>&1 | tee "$log"
    [ "${PIPESTATUS[0]}" -eq 0 ] || st=1
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
    rm -f "$log"
    [ -n "$line" ] || { st=1; tf=$((tf + 1)); echo "FAIL: glibc $v: no summary line"; continue; }
    read -r p _ f _ s _ <<<"${line//,/}"
    tp=$((tp + p)) tf=$((tf + f)) ts=$((ts + ${s:-0}))
  done
  cache_check_mode && exit 0
  echo "$tp passed, $tf failed, $ts skipped"
  [ "$st" -eq 0 ] && [ "$tf" -eq 0 ]
  exit
fi
# glibc's own tests run here (besides misc/tst-rseq*, nptl/tst-rseq-nptl,
# the series' tests and the symbol checks): a short subset of thread start
# and exit, TLS and setxid tests; patches/differential.sh runs whole
# subdirectories.
case "$VERSION" in
2.36)
  DEB_VERSION=2.36-9+deb12u14
  ORIG_SHA256=a543c02070d46ccaf866957efd13f10c924daa74c86a90a0254db09a92a708ee
  DEB_SRC=("deb-src http://deb.debian.org/debian bookworm main"
    "deb-src http://deb.debian.org/debian-security bookworm-security main")
  GLIBC_TESTS=(misc/tst-rseq misc/tst-rseq-disable nptl/tst-rseq-nptl
    elf/check-localplt elf/check-initfini)
  ;;
2.43)
  DEB_VERSION=2.43-7
  ORIG_SHA256=b8f0d50a7d4255658efe1f608cacdc4be82bb3c009875626df5968cc64c58880
  DEB_SRC=("deb-src http://deb.debian.org/debian sid main")
  GLIBC_TESTS=(misc/tst-rseq misc/tst-rseq-static misc/tst-rseq-disable
    misc/tst-rseq-disable-static nptl/tst-rseq-nptl nptl/tst-rseq-nptl-static
    elf/tst-rseq-tls-range elf/tst-rseq-tls-range-static
    elf/check-localplt elf/check-initfini)
  ;;
*)
  echo "usage: $0 [2.36|2.43|all]" >&2
  exit 2
  ;;
esac
# Thread start/exit (detached, joined, user stacks), TLS and setxid (the
# signal unregistration leaves deliverable), in both versions.
GLIBC_TESTS+=(nptl/tst-create1 nptl/tst-detach1 nptl/tst-join1 nptl/tst-exit2
  nptl/tst-stack1 nptl/tst-setuid3 elf/tst-tls1 elf/tst-tls-ie)
SERIES_DIR=$ROOT/patches/glibc-$VERSION
CACHE=${RSEQ_LIBC_GLIBC_CACHE:-$HOME/.cache/rseq-libc/glibc-$VERSION}
JOBS=${RSEQ_LIBC_GLIBC_JOBS:-$(nproc 2>/dev/null || echo 2)}
ORIG=glibc_$VERSION.orig.tar.xz
SRC=$CACHE/src/glibc-$VERSION
BUILD=$CACHE/build
ARCHIVE=$CACHE/librseq_libc_glibc.a

passed=0 failed=0 skipped=0
note() { printf '== %s\n' "$*"; }
pass() { passed=$((passed + 1)); printf 'PASS: %s\n' "$*"; }
fail() { failed=$((failed + 1)); printf 'FAIL: %s\n' "$*"; }
skip() { skipped=$((skipped + 1)); printf 'SKIP: %s\n' "$*"; }
summary() {
  echo "$passed passed, $failed failed, $skipped skipped"
  [ "$failed" -eq 0 ]
  exit
}
bail() { # a step every later one needs failed
  fail "$1"
  [ -n "${2:-}" ] && [ -f "$2" ] && tail -n 30 "$2"
  summary
}

CONFIG_OPTS="--prefix=/usr --disable-werror --with-rseq-libc=$ARCHIVE"

# 0. The cache's key. A stale cache loses its tree and build (the download
# and the component's cargo target stay); a cache from before the stamps
# is adopted when it was configured with the same options.
KEY=$(cache_key "glibc $VERSION $DEB_VERSION $ORIG_SHA256" "configure $CONFIG_OPTS" \
  "recipe:$ROOT/patches/build-and-test.sh:glibc build" "toolchain $(cache_toolchain)" \
  "make $(make --version 2>/dev/null | head -n 1)")
legacy=0
[ -f "$CACHE/src/applied.series" ] && [ -f "$BUILD/libc.so" ] &&
  [ "$(cat "$BUILD/configure.opts" 2>/dev/null)" = "$CONFIG_OPTS" ] && legacy=1
if cache_check_mode; then
  cache_report "glibc-$VERSION" "$CACHE" "$KEY" "$legacy"
  exit 0
fi
mkdir -p "$CACHE/dl" "$CACHE/apt/lists/partial"
if ! cache_fresh "$CACHE" "$KEY"; then
  if [ $legacy = 1 ] && [ -z "$(cache_stamp_of "$CACHE")" ]; then
    note "adopting the cache made before cache stamps (same configure options)"
  elif [ -e "$CACHE/src" ] || [ -e "$BUILD" ]; then
    note "an input of the cached build changed (stamp $(cache_stamp_of "$CACHE")): building from nothing"
    rm -rf "$CACHE/src" "$BUILD" "$CACHE/sysroot" "$CACHE/fresh"
  fi
  cache_stamp "$CACHE" "$KEY"
fi

# >>> glibc build
# 1. Source: Debian's orig tarball, checksum verified.
fetch() {
  local apt="$CACHE/apt"
  printf '%s\n' "${DEB_SRC[@]}" >"$apt/sources.list"
  local opts=(-o "Dir::Etc::SourceList=$apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$apt/lists" -o Debug::NoLocking=1)
  command -v apt-get >/dev/null || { echo "apt-get not found"; return 1; }
  apt-get "${opts[@]}" update >"$apt/update.log" 2>&1 || { echo "apt-get update failed"; return 1; }
  # The orig tarball is all this needs: a mirror missing the .dsc or the
  # Debian tarball still counts once the checksum matches.
  (cd "$CACHE/dl" && apt-get "${opts[@]}" source --download-only "glibc=$DEB_VERSION") \
    >"$apt/source.log" 2>&1 || [ -f "$CACHE/dl/$ORIG" ] ||
    { echo "apt-get source glibc=$DEB_VERSION failed"; return 1; }
}
verified() { echo "$ORIG_SHA256  $CACHE/dl/$ORIG" | sha256sum -c --status 2>/dev/null; }
if ! verified; then
  note "fetching glibc $DEB_VERSION source"
  if ! why=$(fetch); then
    echo "SKIP: cannot fetch the glibc source: $why"
    echo "0 passed, 0 failed, 1 skipped"
    exit 0
  fi
  verified || bail "sha256 of $ORIG is not $ORIG_SHA256"
fi

# Tools the build needs (Debian package names).
missing=()
for t in gawk bison make gcc python3 patch xz; do command -v "$t" >/dev/null || missing+=("$t"); done
if [ ${#missing[@]} -gt 0 ]; then
  pkgs=("${missing[@]/xz/xz-utils}")
  bash "$ROOT/scripts/install-deps.sh" "${pkgs[@]}" >/dev/null 2>&1 || true
  for t in "${missing[@]}"; do command -v "$t" >/dev/null || bail "missing tool $t"; done
fi

# 2. The patched tree. The orig tarball has no manual/: drop it from the
# subdirectories (a build step, not part of the series).
unpack() { # $1: directory to create; the pristine tree in $1/glibc-$VERSION
  rm -rf "$1" && mkdir -p "$1" || return 1
  tar -C "$1" -xf "$CACHE/dl/$ORIG" || return 1
  sed -i '/^all-subdirs/,/^$/ s/ manual / /' "$1/glibc-$VERSION/Makeconfig"
}
series_text() { cat "$SERIES_DIR"/[0-9][0-9][0-9][0-9]-*.patch; }
unpack_and_patch() { # $1: directory to create
  unpack "$1" || return 1
  for p in "$SERIES_DIR"/[0-9][0-9][0-9][0-9]-*.patch; do
    patch -s -p1 -d "$1/glibc-$VERSION" <"$p" || { echo "patch failed: $(basename "$p")"; return 1; }
  done
}
touched_files() { grep -h '^+++ b/' "$@" 2>/dev/null | sed 's|^+++ b/||' | sort -u; }
if [ ! -f "$SRC/Makeconfig" ] || [ ! -f "$CACHE/src/applied.series" ]; then
  note "unpacking and patching"
  unpack_and_patch "$CACHE/src" >"$CACHE/patch.log" 2>&1 || bail "apply the series" "$CACHE/patch.log"
  series_text >"$CACHE/src/applied.series"
elif ! series_text | cmp -s - "$CACHE/src/applied.series"; then
  # The series changed: patch a fresh copy and copy over only the files
  # that differ, so that make rebuilds only what they touch.
  note "series changed: updating the cached tree"
  unpack_and_patch "$CACHE/fresh" >"$CACHE/patch.log" 2>&1 || bail "apply the series" "$CACHE/patch.log"
  series_text >"$CACHE/new.series"
  while read -r f; do
    if [ -f "$CACHE/fresh/glibc-$VERSION/$f" ]; then
      cmp -s "$CACHE/fresh/glibc-$VERSION/$f" "$SRC/$f" ||
        { mkdir -p "$(dirname "$SRC/$f")" && cp "$CACHE/fresh/glibc-$VERSION/$f" "$SRC/$f"; }
    else
      rm -f "$SRC/$f"
    fi
  done < <(touched_files "$CACHE/src/applied.series" "$CACHE/new.series")
  mv -f "$CACHE/new.series" "$CACHE/src/applied.series"
  rm -rf "$CACHE/fresh"
fi

# 3. The component's glibc glue (no TLS, no undefined symbol: see
# glibc-glue/). Copied only when it changed, so make relinks only then.
note "building the component (glibc-glue)"
(cd "$ROOT" && cargo build --release -q -p rseq-libc-glibc --target-dir "$CACHE/cargo-target") \
  >"$CACHE/cargo.log" 2>&1 || bail "cargo build -p rseq-libc-glibc" "$CACHE/cargo.log"
cmp -s "$CACHE/cargo-target/release/librseq_libc_glibc.a" "$ARCHIVE" ||
  cp "$CACHE/cargo-target/release/librseq_libc_glibc.a" "$ARCHIVE"

# 4. Configure (once, or when the options change) and build.
mkdir -p "$BUILD"
if [ ! -f "$BUILD/config.status" ] || [ "$(cat "$BUILD/configure.opts" 2>/dev/null)" != "$CONFIG_OPTS" ] ||
  ! grep -q "^rseq-libc = $ARCHIVE\$" "$BUILD/config.make" 2>/dev/null; then
  note "configuring"
  # shellcheck disable=SC2086
  (cd "$BUILD" && "$SRC/configure" $CONFIG_OPTS) >"$CACHE/configure.log" 2>&1 ||
    bail "configure" "$CACHE/configure.log"
  echo "$CONFIG_OPTS" >"$BUILD/configure.opts"
fi
# make with nothing to do still walks every subdirectory (20 to 40 s): it
# is skipped when the last successful make had the same key, component
# archive and series.
made="$KEY $(sha256sum <"$ARCHIVE" | cut -c1-64) $(sha256sum <"$CACHE/src/applied.series" | cut -c1-64)"
if [ "$(cat "$BUILD/made" 2>/dev/null)" = "$made" ] && [ -f "$BUILD/libc.so" ]; then
  note "glibc is up to date (same inputs as the last successful make)"
else
  note "building glibc (make -j$JOBS; log in $BUILD/make.log)"
  rm -f "$BUILD/made"
  start=$(date +%s)
  make -C "$BUILD" -j"$JOBS" >"$BUILD/make.log" 2>&1 || bail "make" "$BUILD/make.log"
  note "built in $(($(date +%s) - start)) s"
  echo "$made" >"$BUILD/made"
fi
# <<< glibc build
pass "glibc $VERSION + series builds with --with-rseq-libc"

# 5. The component is in ld.so and libc, and nothing of it is exported.
for lib in elf/ld.so libc.so libc.a; do
  # (grep reads everything: with pipefail, grep -q would SIGPIPE nm)
  if nm "$BUILD/$lib" 2>/dev/null | grep ' [tT] __rseq_libc_glibc_register$' >/dev/null; then
    pass "component linked into $lib"
  else
    fail "component linked into $lib"
  fi
done
for lib in elf/ld.so libc.so; do
  if nm -D "$BUILD/$lib" | grep '__rseq_libc' >/dev/null; then
    fail "nothing of the component exported from $lib"
  else
    pass "nothing of the component exported from $lib"
  fi
done
if readelf -lW "$BUILD/elf/ld.so" | grep -q ' TLS '; then
  fail "ld.so has no PT_TLS"
else
  pass "ld.so has no PT_TLS"
fi

# 6. glibc's tests and symbol checks, through its own test driver.
run_glibc_test() { # $1: subdir/test
  local out
  out=$(make -C "$BUILD" test t="$1" 2>&1)
  local result
  result=$(cat "$BUILD/$1.test-result" 2>/dev/null)
  case "$result" in
  PASS:*) pass "$1" ;;
  UNSUPPORTED:*) skip "$1 (unsupported: $(tail -n 3 "$BUILD/$1.out" 2>/dev/null | tr '\n' ' '))" ;;
  *)
    fail "$1"
    printf '%s\n' "$out" | tail -n 20
    ;;
  esac
}
tests=("${GLIBC_TESTS[@]}")
[ -n "${RSEQ_LIBC_GLIBC_EXTRA_TESTS:-}" ] && read -ra extra <<<"$RSEQ_LIBC_GLIBC_EXTRA_TESTS" && tests+=("${extra[@]}")
for f in "$SERIES_DIR"/tests.list; do
  [ -f "$f" ] && while read -r t; do [ -n "$t" ] && tests+=("$t"); done <"$f"
done
for t in "${tests[@]}"; do run_glibc_test "$t"; done

if make -C "$BUILD" check-abi >"$BUILD/check-abi.log" 2>&1; then
  pass "check-abi (every library's exported symbols match its abilist)"
else
  fail "check-abi"
  grep -h -A5 '^FAIL\|^[-+][^-+]' "$BUILD/check-abi.log" | head -n 20
fi

# 7. The project's own C host test (tests/c/host_test.c) against the built
# glibc: the "glibc VERSION + rseq-libc" rows of the host matrix.
#
# Headers: the patched tree's, installed with `make install-headers` into
# $CACHE/sysroot (the series changes no public header; the kernel's linux/
# and asm/ come from the system). Link: $CACHE/link holds the build tree's
# crt files, libc.a, and a libc.so linker script naming the build tree's
# libc.so.6, libc_nonshared.a and ld.so; gcc finds them through -B and -L.
# Dynamic programs run through the build tree's testrun.sh (its ld.so and
# library path), one also directly (PT_INTERP = the build tree's ld.so,
# RUNPATH = the build tree), which is how one's own program uses it.
SYSROOT=$CACHE/sysroot LINK=$CACHE/link HOST_OUT=$CACHE/host-test
host_test_setup() {
  if [ ! -f "$SYSROOT/usr/include/stdio.h" ] || [ "$BUILD/libc.so" -nt "$SYSROOT/usr/include/stdio.h" ]; then
    rm -rf "$SYSROOT"
    make -C "$BUILD" install-headers install-bootstrap-headers=yes install_root="$SYSROOT" \
      >"$CACHE/install-headers.log" 2>&1 || return 1
    touch "$SYSROOT/usr/include/stdio.h"
  fi
  mkdir -p "$LINK" "$HOST_OUT"
  local f
  for f in crt1.o Scrt1.o rcrt1.o crti.o crtn.o; do ln -sf "$BUILD/csu/$f" "$LINK/$f"; done
  ln -sf "$BUILD/libc.a" "$LINK/libc.a"
  ln -sf "$BUILD/nptl/libpthread.a" "$LINK/libpthread.a"
  printf 'GROUP ( %s %s AS_NEEDED ( %s ) )\n' "$BUILD/libc.so.6" "$BUILD/libc_nonshared.a" \
    "$BUILD/elf/ld-linux-x86-64.so.2" >"$LINK/libc.so"
  (cd "$ROOT" && cargo build --release -q -p rseq-libc) >"$HOST_OUT/cargo.log" 2>&1 || return 1
  gcc -O2 -I"$ROOT/tests/c" "$ROOT/tests/c/no_rseq_launcher.c" -o "$HOST_OUT/no_rseq" \
    >"$HOST_OUT/no_rseq.log" 2>&1
}
host_row() { # name owner rseq_size launcher... -- program (env in HOST_ENV)
  local name=$1 owner=$2 size=$3 log=$HOST_OUT/row.log
  shift 3
  if env ${HOST_ENV:-} EXPECT_OWNER="$owner" EXPECT_RSEQ_SIZE="$size" \
    EXPECT_FEATURE_SIZE="$feature_size" timeout 60 "$@" >"$log" 2>&1 &&
    grep -q ', 0 failed' "$log"; then
    pass "host test, glibc $VERSION + rseq-libc $name: $(tail -n 1 "$log")"
  else
    fail "host test, glibc $VERSION + rseq-libc $name (owner $owner, __rseq_size $size)"
    grep -m 8 -E 'FAIL|passed|rror' "$log"
  fi
}
note "the project's C host test against the built glibc"
# The kernel's AT_RSEQ_FEATURE_SIZE (key 27), 0 when it reports none; what
# glibc publishes in __rseq_size: 20 without one; at most 32 in 2.36 (its
# area is 32 bytes), the feature size itself from 2.41.
feature_size=$(od -An -tu8 -w16 -v /proc/self/auxv | awk '$1==27 {print $2; f=1} END {if (!f) print 0}')
published=$feature_size
[ "$published" -lt 20 ] && published=20
[ "$VERSION" = 2.36 ] && [ "$published" -gt 32 ] && published=32
if ! host_test_setup; then
  fail "host test setup (install-headers, link directory, cargo build -p rseq-libc)"
  tail -n 5 "$CACHE/install-headers.log" "$HOST_OUT/cargo.log" 2>/dev/null
else
  cflags=(-O2 -g -Wall -Wextra -Werror -isystem "$SYSROOT/usr/include" -I"$ROOT/headers" -I"$ROOT/tests/c"
    -B"$LINK/" -L"$LINK" -Wl,-rpath-link="$BUILD:$BUILD/elf")
  lib=$ROOT/target/release/librseq_libc.a
  no_rseq=$HOST_OUT/no_rseq
  runpath=$BUILD:$BUILD/nptl:$BUILD/elf
  if gcc "${cflags[@]}" -fPIC -shared "$ROOT/tests/c/hostlib.c" -o "$HOST_OUT/libhostlib.so" \
    >"$HOST_OUT/build.log" 2>&1 &&
    gcc "${cflags[@]}" -DWITH_HOSTLIB "$ROOT/tests/c/host_test.c" "$lib" -L"$HOST_OUT" -lhostlib \
      -Wl,-rpath="$HOST_OUT:$runpath" -Wl,--dynamic-linker="$BUILD/elf/ld.so" \
      -o "$HOST_OUT/dynamic" >>"$HOST_OUT/build.log" 2>&1; then
    # Dynamic: libc owns through the component and publishes the feature
    # size; with the tunable off the component registers, and publishes
    # nothing (glibc starts threads no hook sees; docs/hosts.md's host table).
    testrun=$BUILD/testrun.sh
    host_row "dynamic (testrun.sh; libc owns)" 1 "$published" "$testrun" "$HOST_OUT/dynamic"
    host_row "dynamic (own PT_INTERP and RUNPATH; libc owns)" 1 "$published" "$HOST_OUT/dynamic"
    HOST_ENV=GLIBC_TUNABLES=glibc.pthread.rseq=0 \
      host_row "dynamic, glibc.pthread.rseq=0 (component owns)" 2 0 "$testrun" "$HOST_OUT/dynamic"
    host_row "dynamic, rseq unavailable (none)" 0 0 "$no_rseq" "$testrun" "$HOST_OUT/dynamic"
  else
    fail "host test, glibc $VERSION + rseq-libc dynamic: build"
    tail -n 15 "$HOST_OUT/build.log"
  fi
  # Static, against the patched libc.a: glibc's own __rseq_size is linked;
  # with the tunable off it stays 0 (read-only) and the component's area is
  # __rseq_abi.
  if gcc "${cflags[@]}" -static "$ROOT/tests/c/host_test.c" "$lib" -o "$HOST_OUT/static" \
    >"$HOST_OUT/build-static.log" 2>&1; then
    host_row "static (libc owns)" 1 "$published" "$HOST_OUT/static"
    HOST_ENV=GLIBC_TUNABLES=glibc.pthread.rseq=0 \
      host_row "static, glibc.pthread.rseq=0 (component owns)" 2 0 "$HOST_OUT/static"
    host_row "static, rseq unavailable (none)" 0 0 "$no_rseq" "$HOST_OUT/static"
  else
    fail "host test, glibc $VERSION + rseq-libc static: build"
    tail -n 15 "$HOST_OUT/build-static.log"
  fi
fi

summary
