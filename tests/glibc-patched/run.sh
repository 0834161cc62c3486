#!/usr/bin/env bash
# The "glibc 2.36 + rseq-libc" and "glibc 2.43 + rseq-libc" hosts: glibc
# patched with patches/glibc-2.36/ and patches/glibc-2.43/ so that libc owns
# rseq registration through the component, each built and tested by
# patches/build-and-test.sh VERSION (glibc's misc/tst-rseq* and
# nptl/tst-rseq-nptl (2.43: also their static variants and
# elf/tst-rseq-tls-range{,-static}), a short subset of glibc's thread
# start/exit, TLS and setxid tests, the series' nptl/tst-rseq-libc and
# nptl/tst-rseq-libc-static, check-localplt, check-initfini, check-abi, and
# the project's tests/c/host_test.c against the built glibc: dynamic
# through testrun.sh and directly, static; owner libc, component
# (glibc.pthread.rseq=0) and none). See patches/README.md; whole
# subdirectories of glibc's tests: patches/differential.sh.
#
# The unpacked trees and build directories are cached in
# $HOME/.cache/rseq-libc/glibc-VERSION: the first run fetches and builds
# each glibc (about 10 to 20 minutes each on 2 busy cores), later runs
# relink after a component change. Prints SKIP (and exits 0) for a version
# whose source cannot be fetched. RSEQ_LIBC_SKIP_GLIBC=1 skips it on
# purpose; `bash patches/build-and-test.sh 2.43` runs one version.
set -u
here=$(cd "$(dirname "$0")" && pwd)
if [ "${RSEQ_LIBC_SKIP_GLIBC:-0}" = 1 ]; then
  echo "SKIP: RSEQ_LIBC_SKIP_GLIBC=1"
  echo "0 passed, 0 failed, 1 skipped"
  exit 0
fi
exec bash "$here/../../patches/build-and-test.sh" all
