#!/usr/bin/env bash
# Fetches the aarch64 and riscv64 guest kernels, Debian packages of trixie
# (6.12) and sid (7.2), into ${RSEQ_LIBC_KERNEL_CACHE:-~/.cache/rseq-libc/kernels}
# as tests/kernels/fetch.sh does for x86-64: a private apt sources file, list
# and archive directory (the system's apt configuration is never read or
# changed, nothing is installed), dpkg-deb -x, and only the kernel image
# kept, uncompressed (qemu-system-riscv64 loads no gzip), under a directory
# named after the package file: a new package version is a new entry, a warm
# cache makes no network access. sid's Release file is past its Valid-Until
# date (snapshot archive): [check-valid-until=no].
#
# Usage: fetch.sh  (prints "kernel ARCH NAME PACKAGE PATH" per kernel;
# exits non-zero when one cannot be had)
set -eu
cache=${RSEQ_LIBC_KERNEL_CACHE:-$HOME/.cache/rseq-libc/kernels}
apt_dir=$cache/apt-arch
mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial" "$cache/debs" "$cache/k-arch"
cat > "$apt_dir/sources.list" <<SRC
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg arch=arm64,riscv64] http://deb.debian.org/debian trixie main
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg arch=arm64,riscv64 check-valid-until=no] http://deb.debian.org/debian sid main
SRC
apt_opts=(-o Dir::Etc::SourceList="$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
          -o Dir::State::Lists="$apt_dir/lists" -o Dir::Cache="$apt_dir" -o Dir::State::status=/dev/null
          -o APT::Architecture=arm64 -o APT::Architectures::=arm64 -o APT::Architectures::=riscv64
          -o APT::Sandbox::User=root -qq)

# arch | name | package (exact; pinned) | fallback pattern when the archive
# dropped it. cloud-arm64 boots fastest (fewest drivers); riscv64 has one
# flavour. 7.x packages the image in linux-binary-*.
kernels=(
  "aarch64|6.12|linux-image-6.12.117+deb13-cloud-arm64-unsigned|^linux-image-6\.12\.[0-9]*+deb13-cloud-arm64-unsigned$"
  "aarch64|7.2|linux-binary-7.2.13+deb14-cloud-arm64|^linux-binary-7\.2\.[0-9]*+deb14-cloud-arm64$"
  "riscv64|6.12|linux-image-6.12.117+deb13-riscv64|^linux-image-6\.12\.[0-9]*+deb13-riscv64$"
  "riscv64|7.2|linux-binary-7.2.13+deb14-riscv64|^linux-binary-7\.2\.[0-9]*+deb14-riscv64$"
)

updated=0
apt_update() {
  [ $updated = 1 ] && return 0
  apt-get "${apt_opts[@]}" update > "$apt_dir/update.log" 2>&1 ||
    { echo "fetch: apt-get update failed: $(tail -n 3 "$apt_dir/update.log")" >&2; return 1; }
  updated=1
}
# Downloads package $1 (or the newest one matching $2) into debs/, prints its path.
download() {
  local pkg=$1 pattern=$2 deb alt
  deb=$(ls "$cache/debs/${pkg}_"*.deb 2>/dev/null | head -n 1 || true)
  if [ -n "$deb" ]; then echo "$deb"; return 0; fi
  apt_update || return 1
  if ! apt-cache "${apt_opts[@]}" show "$pkg" > /dev/null 2>&1; then
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

for entry in "${kernels[@]}"; do
  IFS='|' read -r arch name pkg pattern <<< "$entry"
  # A warm entry: the pinned package's image, whatever version it was.
  dir=$(ls -d "$cache/k-arch/${pkg}_"* 2>/dev/null | head -n 1 || true)
  if [ -z "$dir" ] || [ ! -f "$dir/Image" ]; then
    deb=$(download "$pkg" "$pattern")
    dir=$cache/k-arch/$(basename "$deb" .deb)
    tmp=$(mktemp -d "$cache/unpack.XXXXXX")
    dpkg-deb -x "$deb" "$tmp"
    img=$(ls "$tmp"/boot/vmlinu[xz]-* "$tmp"/usr/lib/modules/*/vmlinu[xz] 2>/dev/null | head -n 1)
    [ -n "$img" ] || { rm -rf "$tmp"; echo "fetch: no kernel image in $deb" >&2; exit 1; }
    mkdir -p "$dir"
    if gzip -t "$img" 2> /dev/null; then zcat "$img" > "$dir/Image.tmp"; else cp "$img" "$dir/Image.tmp"; fi
    for c in "$tmp"/boot/config-* "$tmp"/usr/lib/modules/*/config; do
      [ -f "$c" ] && cp "$c" "$dir/config" && break
    done
    mv "$dir/Image.tmp" "$dir/Image"
    rm -rf "$tmp"
    rm -f "$deb" # the image is kept; the package is not needed again
  fi
  echo "kernel $arch $name $(basename "$dir") $dir/Image"
done
