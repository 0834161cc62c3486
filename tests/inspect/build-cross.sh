#!/usr/bin/env bash
# Runs inside the cross tree (scripts/cross-cargo.sh with CROSS_RUN=1, the
# repository at /src): builds tests/inspect/cs.c's variants for ARCH with
# Debian's cross gcc into OUT (under the repository): a PIE, a non-PIE, a
# static executable, a shared object, a relocatable object and an archive
# per variant. Usage: build-cross.sh ARCH OUT NAME=MACRO...  (MACRO "-" for
# the correct one); a variant that fails to build is a "BUILD-FAILED" line.
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
exit 0
