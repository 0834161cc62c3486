#!/usr/bin/env bash
# Installs the Debian packages the test suite uses, only those missing.
# Extra package names may be passed as arguments. Needs root (or sudo).
# Also installs cargo-fuzz (crates.io) when a nightly toolchain exists and it
# is missing: tests/inspect/run.sh runs a bounded fuzz run with it.
set -eu
# cargo-fuzz, for the test suite's bounded fuzz run (RSEQ_LIBC_INSTALL_FUZZ=1,
# set by scripts/test.sh), where a nightly toolchain exists.
if [ "${RSEQ_LIBC_INSTALL_FUZZ:-0}" = 1 ] && cargo +nightly --version > /dev/null 2>&1 &&
   ! cargo fuzz --version > /dev/null 2>&1; then
  echo "install-deps: cargo install --locked cargo-fuzz"
  cargo install -q --locked cargo-fuzz || echo "install-deps: cargo-fuzz not installed; the bounded fuzz run will SKIP"
fi
want=(gcc g++ make gawk musl-tools clang libclang-dev gdb "$@")
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "install-deps: installing ${missing[*]}"
SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
