#!/usr/bin/env bash
# The kernel's rseq selftests built by build-selftests.sh, through a cache:
# ${RSEQ_LIBC_KERNEL_CACHE:-~/.cache/rseq-libc/kernels}/selftests/NAME, keyed
# (scripts/cache-key.sh) by the sha256 of build-selftests.sh, the source
# package's name and version, the toolchain's versions and, for the
# programs that link it, the component archive's contents. A fresh cache is
# copied to OUT-DIR; a stale one is built again first (about 5 s of CPU per
# tree). One build at a time per NAME (flock).
#
# Usage: selftests-cached.sh NAME SOURCE-TREE OUT-DIR [librseq_libc.a]
# Prints "cached" or "built (cache was stale)". RSEQ_LIBC_CACHE_CHECK=1
# only says whether the cache is fresh.
# SELFTESTS_CROSS_ARCH=aarch64|riscv64 builds them with that architecture's
# cross gcc inside scripts/cross-toolchain.sh's tree (the tree's key and its
# gcc's version are the toolchain's part of the key); the component archive
# must then lie under the repository (the tree sees it at /src).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=../../scripts/cache-key.sh
. "$here/../../scripts/cache-key.sh"
name=$1 src=$2 dest=$3 component=${4:-}
cross=${SELFTESTS_CROSS_ARCH:-}
slot=${RSEQ_LIBC_KERNEL_CACHE:-$HOME/.cache/rseq-libc/kernels}/selftests/$name
component_sum=none
[ -n "$component" ] && component_sum=$(sha256sum < "$component" | cut -c1-64)
if [ -n "$cross" ]; then
  tree=$(bash "$root/scripts/cross-toolchain.sh" "$cross")
  toolchain="cross $cross $(basename "$tree"): $(chroot "$tree" "$cross-linux-gnu-gcc" --version | head -n 1)"
  case $component in "" | "$root"/*) ;; *) echo "selftests-cached: $component is not under $root" >&2; exit 2 ;; esac
else
  toolchain=$(cache_toolchain)
fi
key=$(cache_key "file:$here/build-selftests.sh" "package $(cat "$src/package" 2> /dev/null)" \
  "toolchain $toolchain" "component $component_sum")
if cache_check_mode; then
  cache_report "selftests $name" "$slot" "$key"
  exit 0
fi
mkdir -p "$slot"
exec 9> "$slot/lock"
flock 9
if cache_fresh "$slot" "$key" && [ -d "$slot/build" ]; then
  echo "cached"
else
  rm -rf "$slot/build.tmp"
  if [ -n "$cross" ]; then
    CROSS_BIND="$(cd "$src" && pwd):/ksrc $slot:/slot" CROSS_RUN=1 bash "$root/scripts/cross-cargo.sh" "$cross" \
      env CC="$cross-linux-gnu-gcc" bash tests/kernels/build-selftests.sh /ksrc /slot/build.tmp \
      ${component:+"/src/${component#"$root"/}"}
  else
    bash "$here/build-selftests.sh" "$src" "$slot/build.tmp" $component
  fi
  rm -rf "$slot/build"
  mv "$slot/build.tmp" "$slot/build"
  cache_stamp "$slot" "$key"
  echo "built (cache was stale)"
fi
rm -rf "$dest"
cp -a "$slot/build" "$dest"
