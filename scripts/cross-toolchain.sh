#!/usr/bin/env bash
# Makes (once) and prints the path of a Debian trixie tree that cross-builds
# the component for aarch64 and riscv64: Debian's rustc-web/cargo-web with
# the arm64 and riscv64 standard libraries side by side, clippy, the cross
# gcc and binutils, both targets' glibc (static libraries included) and musl.
#
# Why a tree: this host (Debian 12) has no rustup target or rust-src, and
# bookworm's rustc-web 1.96 has an arm64 std but no riscv64 one (riscv64 is
# a release architecture from trixie on). Trixie's plain rustc (1.85) is
# older than the workspace's rust-version, hence the -web packages.
#
# The tree lives in ${RSEQ_LIBC_CROSS_CACHE:-~/.cache/rseq-libc/cross}/KEY,
# KEY a hash of this script (its package list, suite and options): changing
# the list makes a new tree, a warm cache makes no network access. mmdebstrap
# uses its own apt configuration inside the tree; the system's apt sources
# are never read or changed (only mmdebstrap itself is apt-get installed on
# the host when missing). ca-certificates inside the tree lets its cargo
# reach crates.io (the component crates need no crate from it).
#
# Usage: cross-toolchain.sh ARCH   (ARCH: aarch64 | riscv64)
#   prints the tree's path on stdout; exits non-zero, with the reason on
#   stderr, when it cannot be made.
# Builds in it go through scripts/cross-cargo.sh.
set -eu
arch=${1:-}
case $arch in
  aarch64) deb_arch=arm64 ;;
  riscv64) deb_arch=riscv64 ;;
  *) echo "usage: $0 aarch64|riscv64" >&2; exit 2 ;;
esac
suite=trixie
packages=(rustc-web cargo-web rust-web-clippy rustfmt-web
          libstd-rust-web-dev:arm64 libstd-rust-web-dev:riscv64
          gcc-aarch64-linux-gnu gcc-riscv64-linux-gnu
          libc6-dev-arm64-cross libc6-dev-riscv64-cross
          musl-dev:arm64 musl-dev:riscv64
          ca-certificates make cpio gzip)
cache=${RSEQ_LIBC_CROSS_CACHE:-$HOME/.cache/rseq-libc/cross}
key=$(sha256sum "$0" | cut -c1-16)
tree=$cache/$key
if [ ! -f "$tree/.complete" ]; then
  if ! command -v mmdebstrap > /dev/null; then
    [ "$(id -u)" -eq 0 ] || { echo "cross-toolchain: mmdebstrap missing and not root" >&2; exit 1; }
    echo "cross-toolchain: apt-get install mmdebstrap" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      mmdebstrap arch-test > /dev/null 2>&1 ||
      { apt-get update -qq > /dev/null 2>&1 &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
          mmdebstrap arch-test > /dev/null; } ||
      { echo "cross-toolchain: cannot install mmdebstrap" >&2; exit 1; }
  fi
  mkdir -p "$cache"
  rm -rf "$tree.tmp"
  echo "cross-toolchain: making $tree (mmdebstrap $suite, ${#packages[@]} packages)" >&2
  include=$(IFS=,; echo "${packages[*]}")
  # root mode (we are root) needs no subuids; elsewhere unshare mode.
  mode=root; [ "$(id -u)" -eq 0 ] || mode=unshare
  if ! mmdebstrap --mode=$mode --variant=minbase --architectures=amd64,arm64,riscv64 \
       --include="$include" --aptopt='Acquire::Retries "3"' \
       --customize-hook='chroot "$1" rustc --version > "$1/.rustc-version"' \
       $suite "$tree.tmp" http://deb.debian.org/debian > "$cache/$key.log" 2>&1; then
    echo "cross-toolchain: mmdebstrap failed: $(tail -n 5 "$cache/$key.log")" >&2
    rm -rf "$tree.tmp"
    exit 1
  fi
  rm -rf "$tree"
  mv "$tree.tmp" "$tree"
  touch "$tree/.complete"
fi
# The workspace's rust-version must not be newer than the tree's rustc.
root=$(cd "$(dirname "$0")/.." && pwd)
want=$(sed -n 's/^rust-version = "\(.*\)"/\1/p' "$root/Cargo.toml")
have=$(sed -n 's/^rustc \([0-9.]*\).*/\1/p' "$tree/.rustc-version")
if [ -n "$want" ] && [ "$(printf '%s\n%s\n' "$want" "$have" | sort -V | head -n 1)" != "$want" ]; then
  echo "cross-toolchain: the tree's rustc $have is older than rust-version $want" >&2
  exit 1
fi
[ -d "$tree/usr/lib/rustlib/$arch-unknown-linux-gnu" ] ||
  [ -n "$(ls -d "$tree"/usr/lib/rust-web*/lib/rustlib/"$arch"*-unknown-linux-gnu 2> /dev/null)" ] ||
  [ -n "$(ls -d "$tree"/usr/lib/rustlib/"$arch"*-unknown-linux-gnu 2> /dev/null)" ] ||
  { echo "cross-toolchain: no $deb_arch Rust std in $tree" >&2; exit 1; }
echo "$tree"
