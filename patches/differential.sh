#!/usr/bin/env bash
# Differential run of glibc's own test suites: pristine glibc VERSION
# against glibc VERSION with the series in patches/glibc-VERSION/, same
# configure options (--prefix=/usr --disable-werror; the patched build adds
# --with-rseq-libc=ARCHIVE), each build cached.
#
#   bash patches/differential.sh VERSION [SUBDIR...]     # default: nptl elf misc
#
# 1. the patched build: patches/build-and-test.sh VERSION (fetch, patch,
#    build, its own checks; cached in ~/.cache/rseq-libc/glibc-VERSION);
# 2. the pristine build: the same orig tarball unpacked without the series
#    into $CACHE/pristine/src, built in $CACHE/pristine/build;
# 3. in each build directory, glibc's own driver for each subdirectory's
#    `tests` target (what `make check` runs there: every test of the
#    subdirectory built and run, results in SUBDIR/subdir-tests.sum), as
#    `make -C SRC objdir=BUILD SUBDIR/tests`; the top-level `check` would
#    also run the top-level header checks and install a test root for
#    every subdirectory (tests-container), which this leaves out: container
#    tests then report UNSUPPORTED in both builds;
# 4. PASS/FAIL/UNSUPPORTED/XFAIL/XPASS counts side by side per subdirectory,
#    then every test whose result differs between the builds, and the tests
#    that fail in both (the environment's: kernel, container, missing
#    locales or tools), which the series does not change.
#
# Exits 0 when no test fails in the patched build that passes (or is
# unsupported) in the pristine one. Takes long (a full glibc build per side
# the first time, then the subdirectories' tests: tens of minutes on 2
# cores); not part of scripts/test.sh. Logs and the report:
# $CACHE/differential/. RSEQ_LIBC_GLIBC_JOBS sets make's -j (default: the
# number of CPUs); RSEQ_LIBC_DIFF_PARALLEL=1 runs the two sides at once;
# RSEQ_LIBC_DIFF_REUSE=1 reuses existing results (only the report is
# redone). The pristine build is keyed (scripts/cache-key.sh) by the
# tarball's sha256, its configure options, its build steps below (between
# "# >>> pristine build" and "# <<< pristine build") and the toolchain's
# versions: a changed input unpacks and builds it again from nothing.
set -u -o pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=../scripts/cache-key.sh
. "$ROOT/scripts/cache-key.sh"
VERSION=${1:?usage: $0 VERSION [SUBDIR...]}
shift
SUBDIRS=("$@")
[ ${#SUBDIRS[@]} -gt 0 ] || SUBDIRS=(nptl elf misc)
CACHE=${RSEQ_LIBC_GLIBC_CACHE:-$HOME/.cache/rseq-libc/glibc-$VERSION}
JOBS=${RSEQ_LIBC_GLIBC_JOBS:-$(nproc 2>/dev/null || echo 2)}
ORIG=$CACHE/dl/glibc_$VERSION.orig.tar.xz
PATCHED=$CACHE/build
PRISTINE_SRC=$CACHE/pristine/src/glibc-$VERSION
PRISTINE=$CACHE/pristine/build
OUT=$CACHE/differential
mkdir -p "$OUT"
note() { printf '== %s\n' "$*"; }
die() {
  echo "differential: $*" >&2
  exit 1
}

# 1. The patched build, through the regular script (it fetches the source).
if [ "${RSEQ_LIBC_DIFF_REUSE:-0}" != 1 ]; then
  note "patched build: patches/build-and-test.sh $VERSION (log: $OUT/build-and-test.log)"
  bash "$ROOT/patches/build-and-test.sh" "$VERSION" >"$OUT/build-and-test.log" 2>&1
  tail -n 1 "$OUT/build-and-test.log"
  [ -f "$PATCHED/libc.so" ] || die "the patched build failed (see $OUT/build-and-test.log)"
  [ -f "$ORIG" ] || die "no $ORIG (build-and-test.sh printed SKIP?)"

  # 2. The pristine build: the orig tarball with manual/ dropped from the
  # subdirectories (as build-and-test.sh does; the tarball has none).
  OPTS="--prefix=/usr --disable-werror"
  key=$(cache_key "tarball $(sha256sum <"$ORIG" | cut -c1-64)" "configure $OPTS" \
    "recipe:$ROOT/patches/differential.sh:pristine build" "toolchain $(cache_toolchain)")
  mkdir -p "$CACHE/pristine"
  if ! cache_fresh "$CACHE/pristine" "$key"; then
    [ -e "$PRISTINE" ] && note "an input of the pristine build changed: building it from nothing"
    rm -rf "$CACHE/pristine/src" "$PRISTINE"
  fi
  # >>> pristine build
  if [ ! -f "$PRISTINE_SRC/Makeconfig" ]; then
    note "unpacking the pristine tree"
    rm -rf "$CACHE/pristine/src" && mkdir -p "$CACHE/pristine/src" &&
      tar -C "$CACHE/pristine/src" -xf "$ORIG" || die "unpack $ORIG"
    sed -i '/^all-subdirs/,/^$/ s/ manual / /' "$PRISTINE_SRC/Makeconfig"
  fi
  mkdir -p "$PRISTINE"
  if [ ! -f "$PRISTINE/config.status" ] || [ "$(cat "$PRISTINE/configure.opts" 2>/dev/null)" != "$OPTS" ]; then
    note "configuring the pristine build"
    # shellcheck disable=SC2086
    (cd "$PRISTINE" && "$PRISTINE_SRC/configure" $OPTS) >"$PRISTINE/configure.log" 2>&1 ||
      die "configure (pristine): $PRISTINE/configure.log"
    echo "$OPTS" >"$PRISTINE/configure.opts"
  fi
  note "building pristine glibc $VERSION (make -j$JOBS; log in $PRISTINE/make.log)"
  make -C "$PRISTINE" -j"$JOBS" >"$PRISTINE/make.log" 2>&1 || die "make (pristine): $PRISTINE/make.log"
  # <<< pristine build
  cache_stamp "$CACHE/pristine" "$key"

  # 3. glibc's tests of the subdirectories, in each build.
  targets=()
  for d in "${SUBDIRS[@]}"; do targets+=("$d/tests"); done
  run_side() { # pristine|patched
    local side=$1 b=$PRISTINE s=$PRISTINE_SRC start d
    [ "$side" = patched ] && b=$PATCHED s=$CACHE/src/glibc-$VERSION
    # Every test runs again: outputs of earlier runs (build-and-test.sh's
    # own `make test t=...`) go.
    for d in "${SUBDIRS[@]}"; do rm -f "$b/$d/subdir-tests.sum" "$b/$d"/*.out "$b/$d"/*.test-result; done
    note "$side: make ${targets[*]} (log: $OUT/check-$side.log)"
    start=$(date +%s)
    # -k: a failing test fails its subdirectory's target; the sums count.
    make -r -k -C "$s" objdir="$b" -j"$JOBS" "${targets[@]}" >"$OUT/check-$side.log" 2>&1
    echo "$side: make exited $? after $(($(date +%s) - start)) s" | tee "$OUT/check-$side.time"
  }
  # RSEQ_LIBC_DIFF_PARALLEL=1 runs both sides at once (twice the load,
  # about half the wall time; timing-sensitive tests see the same load on
  # both sides).
  if [ "${RSEQ_LIBC_DIFF_PARALLEL:-0}" = 1 ]; then
    run_side pristine &
    run_side patched &
    wait
  else
    run_side pristine
    run_side patched
  fi
fi

# 4. The report.
results() { # build: "subdir/test RESULT" lines, sorted
  # Each test's own .test-result ("RESULT: subdir/test"): also there when
  # another test of the subdirectory failed to build and no
  # subdir-tests.sum was written.
  local d
  for d in "${SUBDIRS[@]}"; do
    [ -f "$1/$d/subdir-tests.sum" ] || echo "note: no $1/$d/subdir-tests.sum (a test did not build?)" >&2
    cat "$1/$d"/*.test-result 2>/dev/null | awk -F': ' 'NF >= 2 { print $2, $1 }'
  done | sort
}
results "$PRISTINE" >"$OUT/pristine.results"
results "$PATCHED" >"$OUT/patched.results"
{
  echo "glibc $VERSION, subdirectories ${SUBDIRS[*]}: pristine vs patched (patches/glibc-$VERSION)"
  printf '%-6s %-12s %8s %8s\n' subdir result pristine patched
  for d in "${SUBDIRS[@]}" all; do
    for r in PASS FAIL UNSUPPORTED XFAIL XPASS UNRESOLVED; do
      a=$(awk -v d="$d/" -v r="$r" '(d == "all/" || index($1, d) == 1) && $2 == r' "$OUT/pristine.results" | wc -l)
      b=$(awk -v d="$d/" -v r="$r" '(d == "all/" || index($1, d) == 1) && $2 == r' "$OUT/patched.results" | wc -l)
      [ "$a" -eq 0 ] && [ "$b" -eq 0 ] && continue
      printf '%-6s %-12s %8d %8d\n' "$d" "$r" "$a" "$b"
    done
  done
  echo
  echo "tests whose result differs (test: pristine -> patched; '-' = not run):"
  join -a1 -a2 -e - -o 0,1.2,2.2 "$OUT/pristine.results" "$OUT/patched.results" |
    awk '$2 != $3 { print "  " $1 ": " $2 " -> " $3; n++ } END { if (!n) print "  (none)" }'
  echo
  echo "tests that fail in both builds (the environment's):"
  join "$OUT/pristine.results" "$OUT/patched.results" |
    awk '$2 ~ /FAIL|UNRESOLVED/ && $3 ~ /FAIL|UNRESOLVED/ { print "  " $1; n++ } END { if (!n) print "  (none)" }'
} | tee "$OUT/report.txt"
# New failures: FAIL/UNRESOLVED in the patched build where the pristine
# one did not fail.
new=$(join -a2 -e - -o 0,1.2,2.2 "$OUT/pristine.results" "$OUT/patched.results" |
  awk '$3 ~ /^(FAIL|UNRESOLVED)$/ && $2 !~ /^(FAIL|UNRESOLVED)$/' | wc -l)
echo "new failures in the patched build: $new (report: $OUT/report.txt)"
[ "$new" -eq 0 ]
