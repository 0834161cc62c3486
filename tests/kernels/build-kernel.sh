#!/usr/bin/env bash
# Builds a small x86_64 kernel for qemu from Debian's linux-source-7.3 with
# the rseq time-slice extension (CONFIG_RSEQ_SLICE_EXTENSION=y), which no
# Debian kernel enables. Everything lives outside the repository, under
# ${RSEQ_LIBC_KERNEL_CACHE:-~/.cache/rseq-libc/kernels}/custom/7.3-slice:
# the source package is fetched with apt-get download through a private
# sources file, list and archive directory (the system's apt configuration is
# never read or changed, nothing is installed), unpacked once, built
# out-of-tree, and the image is cached keyed by the sha256 of its inputs
# (scripts/cache-key.sh): this script (configuration fragment and build
# steps), the source package's name and version, gcc's and ld's versions. A
# warm run with the same key prints the cached image without building; a
# changed input rebuilds (about 10 to 20 minutes at -j2). An image built
# before the stamps existed is adopted when its old key (fragment and
# package) matches.
#
# The configuration is tinyconfig plus the fragment below (what a qemu guest
# of tests/kernels needs: serial console, initramfs, static ELF, proc/sys,
# futex, rseq, membarrier, seccomp filters, timers, CPU hotplug, NUMA and
# preemption), then olddefconfig; every fragment line is checked against the
# final .config so a dependency Kconfig silently dropped fails the build
# instead of producing a kernel without it.
#
# Usage: build-kernel.sh  (prints "kernel 7.3-slice RELEASE PATH"; exits 2
# when the source or a build tool cannot be had, 1 when the build fails).
# RSEQ_LIBC_KERNEL_JOBS sets make's -j (default: every core, nproc).
# RSEQ_LIBC_CACHE_CHECK=1 only says whether the cached image is fresh.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../../scripts/cache-key.sh
. "$here/../../scripts/cache-key.sh"
cache=${RSEQ_LIBC_KERNEL_CACHE:-$HOME/.cache/rseq-libc/kernels}
top=$cache/custom/7.3-slice
jobs=${RSEQ_LIBC_KERNEL_JOBS:-$(nproc 2> /dev/null || echo 2)}
pkg=linux-source-7.3

read -r -d '' fragment <<'CFG' || true
CONFIG_64BIT=y
CONFIG_SMP=y
CONFIG_NR_CPUS=8
CONFIG_PRINTK=y
CONFIG_PRINTK_TIME=y
CONFIG_TTY=y
CONFIG_SERIAL_8250=y
CONFIG_SERIAL_8250_CONSOLE=y
CONFIG_BLK_DEV_INITRD=y
CONFIG_RD_GZIP=y
CONFIG_BINFMT_ELF=y
CONFIG_BINFMT_SCRIPT=y
CONFIG_PROC_FS=y
CONFIG_SYSFS=y
CONFIG_DEVTMPFS=y
CONFIG_DEVTMPFS_MOUNT=y
CONFIG_SHMEM=y
CONFIG_TMPFS=y
CONFIG_MULTIUSER=y
CONFIG_FUTEX=y
CONFIG_EPOLL=y
CONFIG_EVENTFD=y
CONFIG_SIGNALFD=y
CONFIG_TIMERFD=y
CONFIG_RSEQ=y
CONFIG_MEMBARRIER=y
CONFIG_NET=y
CONFIG_SECCOMP=y
CONFIG_SECCOMP_FILTER=y
CONFIG_POSIX_TIMERS=y
CONFIG_HIGH_RES_TIMERS=y
CONFIG_NO_HZ_IDLE=y
CONFIG_HOTPLUG_CPU=y
CONFIG_NUMA=y
CONFIG_X86_64_ACPI_NUMA=y
CONFIG_ACPI=y
CONFIG_ACPI_NUMA=y
CONFIG_PCI=y
CONFIG_SCHED_MC=y
CONFIG_PREEMPT_LAZY=y
CONFIG_RSEQ_SLICE_EXTENSION=y
CONFIG_SCHEDSTATS=y
CONFIG_DEBUG_FS=y
CONFIG_EXPERT=y
CONFIG_RSEQ_STATS=y
CONFIG_X86_MSR=n
CONFIG_MODULES=n
CFG

# The image's key: this script, the source package it is built from, the
# toolchain. key_of is the key before the stamps (fragment and package),
# still written to $top/key for scripts that read it.
key_of() { printf '%s\n%s\n' "$fragment" "$1" | sha256sum | cut -c1-16; }
inputs_of() { cache_key "file:$here/build-kernel.sh" "package $1" "toolchain $(cache_toolchain)"; }
cached_package=$(cat "$top/package" 2> /dev/null || cat "$top/src/package" 2> /dev/null || echo "$pkg unknown")
legacy=0
[ -f "$top/bzImage" ] && [ "$(cat "$top/key" 2> /dev/null)" = "$(key_of "$cached_package")" ] && legacy=1
if cache_check_mode; then
  cache_report 7.3-slice "$top" "$(inputs_of "$cached_package")" "$legacy"
  exit 0
fi
mkdir -p "$top" "$cache/apt/lists/partial" "$cache/apt/archives/partial" "$cache/debs"
# The apt options fetch.sh uses: a private sources file, lists and archive.
apt_dir=$cache/apt
[ -f "$apt_dir/sources.list" ] || cat > "$apt_dir/sources.list" <<SRC
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie-backports main
SRC
apt_opts=(-o Dir::Etc::SourceList="$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
          -o Dir::State::Lists="$apt_dir/lists" -o Dir::Cache="$apt_dir" -o Dir::State::status=/dev/null
          -o APT::Architecture=amd64 -o APT::Sandbox::User=root -qq)

# One build at a time per cache; a second caller waits, then finds the image.
exec 9> "$top/lock"
flock 9
if [ -f "$top/bzImage" ] && [ -f "$top/package" ]; then
  [ $legacy = 1 ] && [ -z "$(cache_stamp_of "$top")" ] && cache_stamp "$top" "$(inputs_of "$(cat "$top/package")")" &&
    echo "build-kernel: adopted the image built before cache stamps (same fragment and package)" >&2
  if cache_fresh "$top" "$(inputs_of "$(cat "$top/package")")"; then
    echo "kernel 7.3-slice $(cat "$top/release") $top/bzImage"
    exit 0
  fi
  echo "build-kernel: an input changed (stamp $(cache_stamp_of "$top")): rebuilding" >&2
fi

# The tree: unpacked once (src/.done), kept for incremental rebuilds.
src=$top/src
deb=$(ls "$cache/debs/${pkg}_"*.deb 2>/dev/null | head -n 1 || true)
# A different source package (a new version downloaded) unpacks again.
if [ -f "$src/.done" ] && [ -n "$deb" ] && [ "$(dpkg-deb -f "$deb" Package Version | paste -sd' ')" != "$(cat "$src/package" 2> /dev/null)" ]; then
  rm -f "$src/.done"
fi
if [ ! -f "$src/.done" ]; then
  if [ -z "$deb" ]; then
    if ! apt-cache "${apt_opts[@]}" show "$pkg" > /dev/null 2>&1; then
      apt-get "${apt_opts[@]}" update > "$apt_dir/update.log" 2>&1 ||
        { echo "build-kernel: apt-get update failed: $(tail -n 3 "$apt_dir/update.log")" >&2; exit 2; }
    fi
    (cd "$cache/debs" && apt-get "${apt_opts[@]}" download "$pkg" > "$apt_dir/download.log" 2>&1) ||
      { echo "build-kernel: apt-get download $pkg failed: $(tail -n 3 "$apt_dir/download.log")" >&2; exit 2; }
    deb=$(ls "$cache/debs/${pkg}_"*.deb | head -n 1)
  fi
  tmp=$(mktemp -d "$top/unpack.XXXXXX")
  dpkg-deb -x "$deb" "$tmp"
  tarball=$(ls "$tmp"/usr/src/linux-source-*.tar.* | head -n 1)
  rm -rf "$src"; mkdir -p "$src"
  tar -xf "$tarball" -C "$src" --strip-components=1
  dpkg-deb -f "$deb" Package Version | paste -sd' ' > "$src/package"
  rm -rf "$tmp"
  touch "$src/.done"
fi

key=$(key_of "$(cat "$src/package")")

for tool in make gcc flex bison bc; do
  command -v $tool > /dev/null || { echo "build-kernel: $tool missing (bash scripts/install-deps.sh flex bison bc libelf-dev)" >&2; exit 2; }
done

obj=$top/obj
mkdir -p "$obj"
printf '%s\n' "$fragment" > "$obj/fragment.config"
start=$(date +%s)
make -s -C "$src" O="$obj" ARCH=x86_64 tinyconfig > "$top/build.log" 2>&1
# merge_config.sh -m: merge into the tinyconfig .config without resetting it.
(cd "$obj" && KCONFIG_CONFIG=.config "$src/scripts/kconfig/merge_config.sh" -m -O "$obj" .config fragment.config) >> "$top/build.log" 2>&1
make -s -C "$src" O="$obj" ARCH=x86_64 olddefconfig >> "$top/build.log" 2>&1
# Every line of the fragment must have survived olddefconfig.
lost=0
while IFS= read -r line; do
  case $line in
    CONFIG_*=n) sym=${line%=n}
      if grep -q "^$sym=" "$obj/.config"; then echo "build-kernel: $sym is set, wanted off" >&2; lost=1; fi ;;
    CONFIG_*) grep -qx "$line" "$obj/.config" || { echo "build-kernel: $line did not survive olddefconfig (a dependency missing)" >&2; lost=1; } ;;
  esac
done <<< "$fragment"
[ $lost = 0 ] || exit 1
make -C "$src" O="$obj" ARCH=x86_64 -j"$jobs" bzImage >> "$top/build.log" 2>&1 ||
  { echo "build-kernel: make failed: $(tail -n 20 "$top/build.log")" >&2; exit 1; }
cp "$obj/arch/x86/boot/bzImage" "$top/bzImage.tmp"
cp "$obj/.config" "$top/config"
make -s -C "$src" O="$obj" ARCH=x86_64 kernelrelease > "$top/release"
cp "$src/package" "$top/package"
mv "$top/bzImage.tmp" "$top/bzImage"
echo "$key" > "$top/key"
cache_stamp "$top" "$(inputs_of "$(cat "$top/package")")"
echo "build-kernel: built in $(( $(date +%s) - start )) s with -j$jobs (log $top/build.log)" >&2
echo "kernel 7.3-slice $(cat "$top/release") $top/bzImage"
