#!/usr/bin/env bash
# The "glibc 2.36 + rseq-libc" host: glibc 2.36 patched with
# patches/glibc-2.36/ so that libc owns rseq registration through the
# component, built and tested by patches/build-and-test.sh (glibc's
# misc/tst-rseq, misc/tst-rseq-disable, nptl/tst-rseq-nptl, the series'
# nptl/tst-rseq-libc and nptl/tst-rseq-libc-static, check-localplt,
# check-initfini, check-abi, and the project's tests/c/host_test.c against
# the built glibc: dynamic through testrun.sh and directly, static; owner
# libc, component (glibc.pthread.rseq=0) and none). See patches/README.md.
#
# The unpacked tree and build directory are cached in
# ${RSEQ_LIBC_GLIBC_CACHE:-$HOME/.cache/rseq-libc/glibc-2.36}: the first
# run fetches and builds glibc (588 s measured on 2 busy cores), later runs
# relink after a component change (about 35 s when nothing changed). Prints SKIP (and exits 0) when the
# source cannot be fetched. RSEQ_LIBC_SKIP_GLIBC=1 skips it on purpose.
set -u
here=$(cd "$(dirname "$0")" && pwd)
if [ "${RSEQ_LIBC_SKIP_GLIBC:-0}" = 1 ]; then
  echo "SKIP: RSEQ_LIBC_SKIP_GLIBC=1"
  echo "0 passed, 0 failed, 1 skipped"
  exit 0
fi
exec bash "$here/../../patches/build-and-test.sh" "$@"
