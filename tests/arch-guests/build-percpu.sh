#!/usr/bin/env bash
# Runs inside the cross tree (scripts/cross-cargo.sh with CROSS_RUN=1, the
# repository at /src), for an architecture with per-CPU sequences
# (percpu/seq/ARCH.seq): the C programs of the per-CPU API, linked
# statically into OUT/root/bin against the component archive built just
# before (target/cross/TRIPLE/release/librseq_libc.a):
#   percpu-c-{glibc,musl}-static       tests/percpu/percpu_c_test.c (the call API)
#   inline-{glibc,musl}-static[-stress] tests/percpu/percpu_inline_test.c
#                                       (the inline header; -stress: its
#                                       delay loops and forced trap aborts)
#   lock-{glibc,musl}-static            tests/locks/lock_c_test.c (spin locks)
#   fork-glibc-static                   tests/locks/fork_test.c
# Usage: build-percpu.sh ARCH TRIPLE OUT   (one "BUILD-FAILED name: log"
# line on stderr per program that failed)
set -u
arch=$1 triple=$2 out=$3
cd /src
lib=target/cross/$triple/release/librseq_libc.a
gcc=$arch-linux-gnu-gcc
musl=$arch-linux-musl-gcc
bin=$out/root/bin
rm -rf "$out/root"; mkdir -p "$bin" "$out/logs"
cflags=(-O2 -g -std=gnu11 -Wall -Wextra -Werror -Iheaders -Itests/c)
build() { # name compiler args...
  local name=$1; shift
  "$@" > "$out/logs/$name.build.log" 2>&1 ||
    echo "BUILD-FAILED $name: $(head -c 600 "$out/logs/$name.build.log")" >&2
}
for libc in glibc musl; do
  cc=$gcc libs=("$lib" -lpthread)
  [ $libc = musl ] && cc=$musl libs=("$lib")
  build "percpu-c-$libc-static" $cc "${cflags[@]}" -static tests/percpu/percpu_c_test.c "${libs[@]}" \
    -o "$bin/percpu-c-$libc-static"
  build "inline-$libc-static" $cc "${cflags[@]}" -static tests/percpu/percpu_inline_test.c "${libs[@]}" \
    -o "$bin/inline-$libc-static"
  build "inline-$libc-static-stress" $cc "${cflags[@]}" -DINLINE_STRESS -static tests/percpu/percpu_inline_test.c \
    "${libs[@]}" -o "$bin/inline-$libc-static-stress"
  build "lock-$libc-static" $cc "${cflags[@]}" -static tests/locks/lock_c_test.c "${libs[@]}" \
    -o "$bin/lock-$libc-static"
done
build fork-glibc-static $gcc "${cflags[@]}" -static tests/locks/fork_test.c "$lib" -lpthread -o "$bin/fork-glibc-static"
# The unstripped inline binaries stay in OUT for objdump (instructions per
# operation: tests/percpu/loop_path.py); the guest gets stripped copies.
cp "$bin/inline-glibc-static" "$out/inline-glibc-static.debug" 2> /dev/null
find "$out/root" -type f -perm -u+x -exec "$arch-linux-gnu-strip" --strip-debug {} + 2> /dev/null
(cd "$out/root" && find . -mindepth 1 | cpio -o -H newc --quiet) > "$out/percpu.cpio.tmp" ||
  echo "BUILD-FAILED percpu.cpio: cpio" >&2
exit 0
