#!/usr/bin/env bash
# Runs inside the cross tree (scripts/cross-cargo.sh with CROSS_RUN=1, the
# repository at /src): builds tests/inspect/cs.c's variants for ARCH with
# Debian's cross gcc into OUT (under the repository): a PIE, a non-PIE, a
# static executable, a shared object, a relocatable object and an archive
# per variant. Usage: build-cross.sh ARCH OUT NAME=MACRO...  (MACRO "-" for
# the correct one); a variant that fails to build is a "BUILD-FAILED" line.
# Then the generated per-CPU sequences (percpu-inline.o,
# libpercpu-inline.so) where ARCH has them.
set -u
arch=$1 out=$2
shift 2
cd /src
mkdir -p "$out"
for variant in "$@"; do
  name=${variant%%=*} macro=${variant#*=}
  def=(); [ "$macro" != - ] && def=(-D"$macro")
  cc=("$arch-linux-gnu-gcc" -O2 -Wall -Iheaders "${def[@]}")
  {
    "${cc[@]}" -DWITH_MAIN tests/inspect/cs.c -o "$out/$name-pie" &&
      "${cc[@]}" -DWITH_MAIN -no-pie tests/inspect/cs.c -o "$out/$name-nopie" &&
      "${cc[@]}" -DWITH_MAIN -static tests/inspect/cs.c -o "$out/$name-static" &&
      "${cc[@]}" -fPIC -shared tests/inspect/cs.c -o "$out/lib$name.so" &&
      "${cc[@]}" -c tests/inspect/cs.c -o "$out/$name.o" &&
      rm -f "$out/lib$name.a" && "$arch-linux-gnu-ar" rcs "$out/lib$name.a" "$out/$name.o"
  } > "$out/$name.build.log" 2>&1 || echo "BUILD-FAILED $name: $(head -c 400 "$out/$name.build.log")"
done
# The project's generated per-CPU sequences for ARCH, as tests/percpu's
# inline test instantiates them (an object, and a shared object whose
# library calls stay undefined); "no-sequences" says why when the
# architecture has none yet.
case $arch in aarch64) header=aarch64 ;; riscv64) header=riscv ;; *) header=$arch ;; esac
rm -f "$out/no-sequences" "$out/percpu-inline.o" "$out/libpercpu-inline.so"
if [ ! -f "headers/rseq-percpu-arch/$header.h" ]; then
  echo "no headers/rseq-percpu-arch/$header.h (no generated sequences for $arch)" > "$out/no-sequences"
else
  cc=("$arch-linux-gnu-gcc" -O2 -Wall -Iheaders -Itests/c)
  # riscv64 has no <rseq-percpu-inline.h> support yet (the per-CPU C API is
  # not ported): its arch guests' program instantiates every riscv.h
  # sequence directly.
  src=tests/percpu/percpu_inline_test.c
  [ "$arch" = riscv64 ] && src=tests/arch-guests/riscv_seq_test.c
  {
    "${cc[@]}" -c "$src" -o "$out/percpu-inline.o" &&
      "${cc[@]}" -fPIC -shared "$src" -o "$out/libpercpu-inline.so"
  } > "$out/percpu-inline.build.log" 2>&1 || echo "BUILD-FAILED percpu-inline: $(head -c 400 "$out/percpu-inline.build.log")"
fi
exit 0
