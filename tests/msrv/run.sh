#!/usr/bin/env bash
# The workspace's rust-version (Cargo.toml) is the oldest Rust that builds
# it: `cargo +VERSION build --workspace --all-targets --locked` with exactly
# that toolchain must succeed, and `cargo +PREVIOUS check --workspace
# --all-targets --ignore-rust-version` with the minor release before it must
# fail on the code itself (otherwise the
# claim is too high and should be lowered). The toolchains come from rustup
# (installed with `rustup toolchain install V --profile minimal -c
# rustfmt` when missing; SKIP when rustup is absent or cannot install them).
#
# The target directory is shared by every checkout
# (RSEQ_LIBC_MSRV_TARGET, default ~/.cache/rseq-libc/msrv-target): cargo's
# fingerprints key it, and a fresh clone rebuilds only the workspace's own
# crates. Ends with "N passed, N failed, N skipped".
set -u
cd "$(dirname "$0")/../.."
root=$PWD
out=${RSEQ_LIBC_TEST_BUILD:-$root/tests/build}/msrv
target=${RSEQ_LIBC_MSRV_TARGET:-$HOME/.cache/rseq-libc/msrv-target}
mkdir -p "$out"
passed=0 failed=0 skipped=0
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; failed=$((failed + 1)); }
skip() { echo "SKIP $1"; skipped=$((skipped + 1)); }
finish() { echo "$passed passed, $failed failed, $skipped skipped"; [ "$failed" -eq 0 ]; exit $?; }

want=$(sed -n 's/^rust-version = "\([0-9.]*\)"/\1/p' Cargo.toml | head -n 1)
case $want in
  [0-9]*.[0-9]*) ;;
  *) fail "Cargo.toml has no workspace rust-version = \"MAJOR.MINOR\" (found \"$want\")"; finish ;;
esac
major=${want%%.*} minor=${want#*.}; minor=${minor%%.*}
previous=$major.$((minor - 1))
# Every member inherits it.
for manifest in $(sed -n '/^members/s/[][",]/ /gp' Cargo.toml | tr ' ' '\n' | grep -v -e '^members$' -e '^=$' -e '^$'); do
  [ "$manifest" = . ] && continue
  grep -q '^rust-version.workspace = true' "$manifest/Cargo.toml" ||
    fail "$manifest/Cargo.toml does not inherit the workspace's rust-version"
done
if ! command -v rustup > /dev/null; then
  skip "rust-version $want: rustup is not installed (https://rustup.rs), no way to run Rust $want"; finish
fi
# rustfmt too: tests/abi-check's build script has bindgen format what it
# parses.
toolchain() { # version: installed, or installed now
  rustup run "$1" rustc --version > /dev/null 2>&1 && rustup run "$1" rustfmt --version > /dev/null 2>&1 && return 0
  timeout 300 rustup toolchain install "$1" --profile minimal -c rustfmt > "$out/install-$1.log" 2>&1
}
if ! toolchain "$want"; then
  skip "rust-version $want: rustup cannot install Rust $want: $(tail -n 2 "$out/install-$want.log" | tr '\n' ' ')"; finish
fi
t0=$SECONDS
if cargo "+$want" build --workspace --all-targets --locked --target-dir "$target" > "$out/build-$want.log" 2>&1; then
  pass "rust-version $want builds the workspace ($(rustup run "$want" rustc --version); every target, $((SECONDS - t0)) s)"
else
  fail "rust-version $want does not build the workspace: $(grep -m 3 -A 3 -E '^error' "$out/build-$want.log" | tr '\n' ' ' | head -c 800) (log: $out/build-$want.log)"
fi
if ! toolchain "$previous"; then
  skip "Rust $previous: rustup cannot install it: $(tail -n 2 "$out/install-$previous.log" | tr '\n' ' ')"; finish
fi
t0=$SECONDS
if cargo "+$previous" check --workspace --all-targets --locked --ignore-rust-version --target-dir "$target" > "$out/check-$previous.log" 2>&1; then
  fail "Rust $previous checks the workspace too: rust-version $want is not the oldest; lower it"
else
  pass "Rust $previous does not build it, so $want is the oldest ($((SECONDS - t0)) s): $(grep -m 1 -A 1 -E '^error' "$out/check-$previous.log" | tr '\n' ' ' | sed 's/  */ /g' | head -c 300)"
fi
finish
