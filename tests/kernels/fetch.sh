#!/usr/bin/env bash
# Fetches the kernels of the matrix and the kernel sources the selftests come
# from, as Debian packages, into a cache outside the repository
# (${RSEQ_LIBC_KERNEL_CACHE:-~/.cache/rseq-libc/kernels}). apt-get runs with
# a private sources file, list and archive directory: the system's apt
# configuration is never read or changed, nothing is installed. Packages are
# unpacked with dpkg-deb -x and only what the suite needs is kept (each
# vmlinuz; the rseq selftests and the rseq ABI sources of linux-source-6.12
# and -7.3). A warm cache makes no network access.
#
# Each kernel (k/NAME) and source tree (src/NAME) is keyed by the sha256 of
# its inputs (scripts/cache-key.sh): its line in the lists below (package
# name, pinned version) and the steps that unpack it (between the ">>>" and
# "<<<" marks); a changed input fetches and unpacks it again. A directory
# unpacked before the stamps existed is adopted when it holds the package
# its line names.
#
# Usage: fetch.sh  (prints one "kernel NAME VERSION PATH" line per kernel and
# one "source NAME PATH" line per source tree; exits non-zero when one
# cannot be had). RSEQ_LIBC_CACHE_CHECK=1 only says which are fresh.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../../scripts/cache-key.sh
. "$here/../../scripts/cache-key.sh"
cache=${RSEQ_LIBC_KERNEL_CACHE:-$HOME/.cache/rseq-libc/kernels}
apt_dir=$cache/apt
cache_check_mode || mkdir -p "$cache/apt/lists/partial" "$cache/apt/archives/partial" "$cache/debs" "$cache/k" "$cache/src"
cache_check_mode || cat > "$apt_dir/sources.list" <<SRC
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie-backports main
SRC
apt_opts=(-o Dir::Etc::SourceList="$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
          -o Dir::State::Lists="$apt_dir/lists" -o Dir::Cache="$apt_dir" -o Dir::State::status=/dev/null
          -o APT::Architecture=amd64 -o APT::Sandbox::User=root -qq)

# name | package (exact; pinned) | fallback pattern when the archive dropped it.
# bookworm-backports' 6.12 is avoided on purpose: under TCG it double-faults
# in thread/signal storms; trixie's 6.12.117 does not.
kernels=(
  "6.1|linux-image-6.1.0-50-cloud-amd64-unsigned|^linux-image-6\.1\.0-[0-9]*-cloud-amd64-unsigned$"
  "6.12|linux-image-6.12.117+deb13-cloud-amd64-unsigned|^linux-image-6\.12\.[0-9]*+deb13-cloud-amd64-unsigned$"
  "7.0|linux-binary-7.0.13+deb13-cloud-amd64|^linux-binary-7\.0\.[0-9]*+deb13-cloud-amd64$"
  "7.1|linux-binary-7.1.13+deb13-cloud-amd64|^linux-binary-7\.1\.[0-9]*+deb13-cloud-amd64$"
  "7.3|linux-binary-7.3.4+deb13-cloud-amd64|^linux-binary-7\.3\.[0-9]*+deb13-cloud-amd64$"
)
sources=("6.12|linux-source-6.12" "7.3|linux-source-7.3")

updated=0
apt_update() {
  [ $updated = 1 ] && return 0
  apt-get "${apt_opts[@]}" update > "$apt_dir/update.log" 2>&1 ||
    { echo "fetch: apt-get update failed: $(tail -n 3 "$apt_dir/update.log")" >&2; return 1; }
  updated=1
}
# Downloads package $1 (or the newest one matching $2) into debs/, prints its path.
download() {
  local pkg=$1 pattern=${2:-} deb
  deb=$(ls "$cache/debs/${pkg}_"*.deb 2>/dev/null | head -n 1 || true)
  if [ -n "$deb" ]; then echo "$deb"; return 0; fi
  apt_update || return 1
  if ! apt-cache "${apt_opts[@]}" show "$pkg" > /dev/null 2>&1 && [ -n "$pattern" ]; then
    local alt
    alt=$(apt-cache "${apt_opts[@]}" pkgnames | grep -E "$pattern" | sort -V | tail -n 1)
    [ -n "$alt" ] || { echo "fetch: $pkg not in the archive, nor anything like it" >&2; return 1; }
    echo "fetch: $pkg is gone from the archive; using $alt" >&2
    pkg=$alt
    deb=$(ls "$cache/debs/${pkg}_"*.deb 2>/dev/null | head -n 1 || true)
    if [ -n "$deb" ]; then echo "$deb"; return 0; fi
  fi
  (cd "$cache/debs" && apt-get "${apt_opts[@]}" download "$pkg" > "$apt_dir/download.log" 2>&1) ||
    { echo "fetch: apt-get download $pkg failed: $(tail -n 3 "$apt_dir/download.log")" >&2; return 1; }
  ls "$cache/debs/${pkg}_"*.deb | head -n 1
}

# A directory's key, and whether a directory made before the stamps holds
# the package its entry names.
key_of() { cache_key "entry $1" "recipe:$here/fetch.sh:$2"; }
legacy_of() { [ -z "$(cache_stamp_of "$1")" ] && [ "$(awk '{print $2}' "$1/package" 2> /dev/null)" = "$2" ] && echo 1 || echo 0; }
if cache_check_mode; then
  for entry in "${kernels[@]}"; do
    IFS='|' read -r name pkg pattern <<< "$entry"
    l=0; [ -f "$cache/k/$name/vmlinuz" ] && l=$(legacy_of "$cache/k/$name" "$pkg")
    cache_report "kernel $name" "$cache/k/$name" "$(key_of "$entry" "kernel image")" "$l"
  done
  for entry in "${sources[@]}"; do
    IFS='|' read -r name pkg <<< "$entry"
    l=0; [ -f "$cache/src/$name/.done" ] && l=$(legacy_of "$cache/src/$name" "$pkg")
    cache_report "source $name" "$cache/src/$name" "$(key_of "$entry" "kernel source")" "$l"
  done
  exit 0
fi

for entry in "${kernels[@]}"; do
  IFS='|' read -r name pkg pattern <<< "$entry"
  dir=$cache/k/$name
  key=$(key_of "$entry" "kernel image")
  [ -f "$dir/vmlinuz" ] && [ "$(legacy_of "$dir" "$pkg")" = 1 ] && cache_stamp "$dir" "$key"
  if [ ! -f "$dir/vmlinuz" ] || ! cache_fresh "$dir" "$key"; then
# >>> kernel image
    deb=$(download "$pkg" "$pattern")
    tmp=$(mktemp -d "$cache/unpack.XXXXXX")
    dpkg-deb -x "$deb" "$tmp"
    # boot/vmlinuz-RELEASE (linux-image-*), or usr/lib/modules/RELEASE/vmlinuz
    # (linux-binary-* from 7.2 on).
    img=$(ls "$tmp"/boot/vmlinuz-* "$tmp"/usr/lib/modules/*/vmlinuz 2>/dev/null | head -n 1)
    [ -n "$img" ] || { echo "fetch: no vmlinuz in $deb" >&2; exit 1; }
    mkdir -p "$dir"
    cp "$img" "$dir/vmlinuz.tmp"
    case $img in
      */boot/vmlinuz-*) basename "$img" | sed 's/^vmlinuz-//' > "$dir/release" ;;
      *) basename "$(dirname "$img")" > "$dir/release" ;;
    esac
    dpkg-deb -f "$deb" Package Version | paste -sd' ' > "$dir/package"
    # Keep the config to check what the kernel has (CONFIG_RSEQ, serial, ...).
    cp "$tmp"/boot/config-* "$dir/config" 2>/dev/null || true
    rm -rf "$tmp" "$deb"
    mv "$dir/vmlinuz.tmp" "$dir/vmlinuz"
# <<< kernel image
    cache_stamp "$dir" "$key"
  fi
  echo "kernel $name $(cat "$dir/release") $dir/vmlinuz"
done

for entry in "${sources[@]}"; do
  IFS='|' read -r name pkg <<< "$entry"
  dir=$cache/src/$name
  key=$(key_of "$entry" "kernel source")
  [ -f "$dir/.done" ] && [ "$(legacy_of "$dir" "$pkg")" = 1 ] && cache_stamp "$dir" "$key"
  if [ ! -f "$dir/.done" ] || ! cache_fresh "$dir" "$key"; then
# >>> kernel source
    deb=$(download "$pkg")
    tmp=$(mktemp -d "$cache/unpack.XXXXXX")
    dpkg-deb -x "$deb" "$tmp"
    tarball=$(ls "$tmp"/usr/src/linux-source-*.tar.* | head -n 1)
    top=$(basename "$tarball"); top=${top%.tar.*}
    rm -rf "$dir"; mkdir -p "$dir"
    # Only the selftests and the files the ABI facts are checked against.
    tar -xf "$tarball" -C "$dir" --strip-components=1 --wildcards \
      "$top/tools/testing/selftests/rseq" "$top/tools/testing/selftests/kselftest*" \
      "$top/tools/testing/selftests/lib.mk" "$top/tools/include" "$top/tools/arch/x86/include" \
      "$top/include/uapi/linux/rseq.h" "$top/include/linux/rseq*.h" "$top/kernel/rseq*.c" \
      "$top/fs/binfmt_elf.c" "$top/Documentation/userspace-api/rseq.rst" \
      "$top/tools/testing/selftests/clone3" 2> "$dir/tar.log" || true
    [ -d "$dir/tools/testing/selftests/rseq" ] ||
      { echo "fetch: no rseq selftests in $tarball: $(head -c 300 "$dir/tar.log")" >&2; exit 1; }
    dpkg-deb -f "$deb" Package Version | paste -sd' ' > "$dir/package"
    rm -rf "$tmp" "$deb"
# <<< kernel source
    cache_stamp "$dir" "$key"
    touch "$dir/.done"
  fi
  echo "source $name $dir"
done
