#!/usr/bin/env bash
# Runs inside the cross tree (scripts/cross-cargo.sh with CROSS_RUN=1, the
# repository at /src): builds the static programs of one guest into OUT
# (under the repository, so that both sides see it). The component archive
# is target/cross/TRIPLE/release/librseq_libc.a, built just before.
# Usage: build-guest.sh ARCH TRIPLE OUT   (one line per program that failed
# to build on stderr, as "BUILD-FAILED name: first lines of the log")
set -u
arch=$1 triple=$2 out=$3
cd /src
lib=target/cross/$triple/release/librseq_libc.a
gcc=$arch-linux-gnu-gcc
musl=$arch-linux-musl-gcc
bin=$out/root/bin
rm -rf "$out/root"; mkdir -p "$bin" "$out/logs"
cflags=(-O2 -g -Wall -Wextra -Werror -Iheaders -Itests/c -Itests/pthread-hooks)
build() { # name compiler args...
  local name=$1; shift
  "$@" > "$out/logs/$name.build.log" 2>&1 ||
    echo "BUILD-FAILED $name: $(head -c 600 "$out/logs/$name.build.log")" >&2
}
build init $gcc -O2 -Wall -Wextra -static tests/kernels/init.c -o "$out/root/init"
printf 'int main (void) { return 0; }\n' > "$out/true.c"
build true $gcc -O2 -static "$out/true.c" -o "$bin/true"
build host-glibc-static $gcc "${cflags[@]}" -static tests/c/host_test.c "$lib" -lpthread -o "$bin/host-glibc-static"
build host-glibc-static-pie $gcc "${cflags[@]}" -static-pie -fpie tests/c/host_test.c "$lib" -lpthread \
  -o "$bin/host-glibc-static-pie"
# glibc dynamic: the program, a DT_NEEDED library with constructors
# (tests/c/hostlib.c), and the tree's ld.so and libc in the guest's /lib.
libdir=$out/root/lib/$arch-linux-gnu
mkdir -p "$libdir"
build hostlib $gcc "${cflags[@]}" -fPIC -shared tests/c/hostlib.c -o "$libdir/libhostlib.so"
build host-glibc-dynamic $gcc "${cflags[@]}" -DWITH_HOSTLIB tests/c/host_test.c "$lib" -L"$libdir" -lhostlib \
  -lpthread -o "$bin/host-glibc-dynamic"
sysroot=/usr/$arch-linux-gnu/lib
for so in "$sysroot"/ld-linux-*.so.1; do cp -L "$so" "$out/root/lib/"; done
cp -L "$sysroot/libc.so.6" "$libdir/"
build host-musl-static $musl "${cflags[@]}" -static tests/c/host_test.c "$lib" -o "$bin/host-musl-static"
for t in lifecycle storm reuse safety; do
  build "$t-glibc-static" $gcc "${cflags[@]}" -static "tests/pthread-hooks/$t.c" "$lib" -lpthread \
    -o "$bin/$t-glibc-static"
  build "$t-musl-static" $musl "${cflags[@]}" -static "tests/pthread-hooks/$t.c" "$lib" -o "$bin/$t-musl-static"
done
# The PMU API (tests/pmu/pmu_test.c): glibc (glibc owns the area) and musl
# (the component owns it).
build pmu-glibc-static $gcc "${cflags[@]}" -static tests/pmu/pmu_test.c "$lib" -lpthread -o "$bin/pmu-glibc-static"
build pmu-musl-static $musl "${cflags[@]}" -static tests/pmu/pmu_test.c "$lib" -o "$bin/pmu-musl-static"
build no-rseq $gcc -O2 -static -Itests/c tests/c/no_rseq_launcher.c -o "$bin/no-rseq"
# CPU hotplug under the component (tests/arch-guests/hotplug.c).
build hotplug-glibc-static $gcc "${cflags[@]}" -static tests/arch-guests/hotplug.c "$lib" -lpthread \
  -o "$bin/hotplug-glibc-static"
build hotplug-musl-static $musl "${cflags[@]}" -static tests/arch-guests/hotplug.c "$lib" -o "$bin/hotplug-musl-static"
# Debug info is not needed in the guest; the initramfs stays small.
find "$out/root" -type f \( -perm -u+x -o -name '*.so*' \) -exec "$arch-linux-gnu-strip" --strip-debug {} + 2> /dev/null
(cd "$out/root" && find . | cpio -o -H newc --quiet) > "$out/initramfs.cpio.tmp" ||
  echo "BUILD-FAILED initramfs: cpio" >&2
exit 0
