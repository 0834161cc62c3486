#!/usr/bin/env bash
# Runs the cross tree's cargo (scripts/cross-toolchain.sh) on this
# repository for ARCH: `cross-cargo.sh aarch64 build --release -p rseq-abi`
# is `cargo build --target aarch64-unknown-linux-gnu --release -p rseq-abi`.
# The repository is bind-mounted at /src of the tree in a private mount
# namespace (nothing shows outside this command); outputs go to
# target/cross/<triple>/ so that the host's own builds are untouched.
# Needs root (chroot and mount), as mmdebstrap's root mode does.
#
# CROSS_RUN=1 runs the arguments as a command in the tree instead of cargo
# (e.g. the cross gcc), in /src. CROSS_BIND="HOST:TREE ..." bind-mounts
# more host directories into the tree for the command (absolute paths, no
# spaces), e.g. a kernel source tree and a cache directory.
set -eu
[ $# -ge 2 ] || { echo "usage: $0 aarch64|riscv64 CARGO-SUBCOMMAND [ARGS...]" >&2; exit 2; }
arch=$1
shift
case $arch in
  aarch64) triple=aarch64-unknown-linux-gnu ;;
  riscv64) triple=riscv64gc-unknown-linux-gnu ;;
  *) echo "cross-cargo: unknown architecture $arch" >&2; exit 2 ;;
esac
root=$(cd "$(dirname "$0")/.." && pwd)
tree=$("$root/scripts/cross-toolchain.sh" "$arch")
if [ "${CROSS_RUN:-0}" = 1 ]; then
  cmd=("$@")
else
  sub=$1
  shift
  cmd=(cargo "$sub" --target "$triple" "$@")
fi
mkdir -p "$tree/src"
# cargo fetches the workspace's index entries (its resolve covers every
# member) through whatever TLS interception the host network has: it trusts
# the host's CA bundle, copied in at every run.
host_ca=${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}
[ -r "$host_ca" ] || host_ca=$tree/etc/ssl/certs/ca-certificates.crt
cp "$host_ca" "$tree/etc/ssl/certs/host-ca-bundle.crt"
linker_var=CARGO_TARGET_$(echo "$triple" | tr 'a-z-' 'A-Z_')_LINKER
gnu=${arch}-linux-gnu
for bind in ${CROSS_BIND:-}; do
  case $bind in /*:/*) mkdir -p "$tree/${bind#*:}" ;; *) echo "cross-cargo: CROSS_BIND entry $bind is not HOST:TREE" >&2; exit 2 ;; esac
done
exec unshare -m --propagation private bash -c '
  set -e
  tree=$1 src=$2 binds=$3
  shift 3
  mount --bind "$src" "$tree/src"
  for bind in $binds; do mount --bind "${bind%%:*}" "$tree/${bind#*:}"; done
  mount --bind /dev "$tree/dev"
  mount -t proc proc "$tree/proc"
  exec chroot "$tree" /usr/bin/env -i HOME=/root PATH=/usr/bin:/bin \
    CARGO_TARGET_DIR=/src/target/cross CARGO_TERM_COLOR=never \
    CARGO_HTTP_CAINFO=/etc/ssl/certs/host-ca-bundle.crt '"$linker_var"'='"$gnu"'-gcc \
    bash -c "cd /src && exec \"\$@\"" cross "$@"
' cross "$tree" "$root" "${CROSS_BIND:-}" "${cmd[@]}"
