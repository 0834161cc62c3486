#!/usr/bin/env bash
# Static guest programs linked against glibc 2.43 patched with
# patches/glibc-2.43/ (libc owns rseq registration through the component),
# for the kernel matrix (tests/kernels/matrix.sh): on a Linux 7.x guest they
# check that glibc publishes the feature size 33 and registers 33 bytes
# aligned 64 (the kernel's V2 mode), and that nothing writes a kernel-owned
# field while registered.
#
#   bash tests/kernels/glibc-patched-guest.sh OUTDIR [LOGDIR]
#
# Writes into OUTDIR only the programs (static executables, no interpreter,
# nothing else needed in the guest; build logs go to LOGDIR, default a new
# temporary directory):
#   host-glibc243p-static   tests/c/host_test.c + librseq_libc.a
#   v2check-glibc243p-static tests/kernels/v2check.c + librseq_libc.a
#   tst-rseq-libc-glibc243p-static  the series' own glibc test
#                           (nptl/tst-rseq-libc-static: registration length
#                           by EBUSY probe, alignment, feature size,
#                           unregistration at thread exit); exits 0 on
#                           success, 77 unsupported, 1 on failure.
# Uses the cached build (~/.cache/rseq-libc/glibc-2.43, or
# RSEQ_LIBC_GLIBC_CACHE); runs patches/build-and-test.sh 2.43 first when
# the build or its link directory is missing (a cold build takes 10 to 20
# minutes). Prints one line per program; exits non-zero if one cannot be
# built, 0 with "SKIP: ..." when the glibc source cannot be fetched.
set -u -o pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:?usage: $0 OUTDIR}
mkdir -p "$out" && out=$(cd "$out" && pwd)
logs=${2:-$(mktemp -d "${TMPDIR:-/tmp}/glibc-patched-guest.XXXXXX")}
mkdir -p "$logs"
C=${RSEQ_LIBC_GLIBC_CACHE:-$HOME/.cache/rseq-libc/glibc-2.43}
B=$C/build
if [ ! -f "$C/link/libc.a" ] || [ ! -f "$C/sysroot/usr/include/stdio.h" ] ||
  [ ! -x "$B/nptl/tst-rseq-libc-static" ]; then
  echo "building patched glibc 2.43 (patches/build-and-test.sh 2.43; log: $logs/glibc-2.43.log)"
  RSEQ_LIBC_GLIBC_CACHE=$C bash "$root/patches/build-and-test.sh" 2.43 >"$logs/glibc-2.43.log" 2>&1
  tail -n 1 "$logs/glibc-2.43.log"
  if grep -q '^SKIP: cannot fetch' "$logs/glibc-2.43.log"; then
    grep -m1 '^SKIP' "$logs/glibc-2.43.log"
    exit 0
  fi
  [ -f "$C/link/libc.a" ] && [ -x "$B/nptl/tst-rseq-libc-static" ] ||
    { echo "FAIL: no patched glibc 2.43 build"; exit 1; }
fi
(cd "$root" && cargo build --release -q -p rseq-libc) || { echo "FAIL: cargo build -p rseq-libc"; exit 1; }
lib=$root/target/release/librseq_libc.a
# The patched tree's headers and the build tree's crt files and libc.a
# (what build-and-test.sh's static host rows use).
cflags=(-O2 -g -Wall -Wextra -Werror -isystem "$C/sysroot/usr/include" -B"$C/link/" -L"$C/link"
  -I"$root/headers" -I"$root/tests/c" -I"$root/tests/pthread-hooks" -static)
st=0
build() { # name args...
  local name=$1
  shift
  if gcc "${cflags[@]}" "$@" -o "$out/$name" >"$logs/$name.build.log" 2>&1; then
    echo "built $out/$name"
  else
    echo "FAIL: build $name: $(head -c 600 "$logs/$name.build.log")"
    st=1
  fi
}
build host-glibc243p-static "$root/tests/c/host_test.c" "$lib" -lpthread
build v2check-glibc243p-static "$root/tests/kernels/v2check.c" "$lib" -lpthread
cp "$B/nptl/tst-rseq-libc-static" "$out/tst-rseq-libc-glibc243p-static" &&
  echo "copied $out/tst-rseq-libc-glibc243p-static" || st=1
exit $st
