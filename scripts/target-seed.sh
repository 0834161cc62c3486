#!/usr/bin/env bash
# Lets a fresh clone's cargo target directories start with the third-party
# crates already compiled, as a warm checkout has them: CI runs in a fresh
# clone, where every dependency of the workspace (criterion, bindgen, clap,
# serde, ...) would be compiled again in every profile and target. Used for
# target/ (scripts/test.sh) and target/cross, target/cross-static
# (scripts/cross-cargo.sh's builds, tests/arch-guests).
#
# Why a seed and not one target directory shared by every checkout: the
# cross tree mounts every checkout at the same /src, so there cargo names
# the workspace's own crates' outputs the same in every checkout and judges
# them fresh by mtimes: a checkout whose sources are older than another
# checkout's last build would take that build's objects, and another
# checkout could overwrite them between a build and the test that runs
# them (elsewhere a shared directory grows by a copy of the workspace per
# checkout path). So every checkout keeps its own target directory, and the seed, a
# copy of the third-party part only, is copied into one that no cargo has
# used yet. The workspace's crates (Cargo.lock's packages without a source)
# are never in the seed: cargo always compiles them from the checkout's own
# sources. A third-party unit is fresh by its version, features, profile,
# flags and rustc (cargo's fingerprint: no mtime of the checkout in it).
#
# Usage: target-seed.sh restore|save NAME DIR
#   restore  copies the seed NAME into DIR when cargo has built nothing in
#            DIR yet (no profile directory); nothing otherwise, or without
#            a seed
#   save     replaces the seed NAME with DIR's profile directories less the
#            workspace's crates, when DIR holds a third-party unit that the
#            seed lacks (nothing otherwise)
# Seeds live in ${RSEQ_LIBC_TARGET_SEED:-~/.cache/rseq-libc/target-seed}/NAME,
# read under a shared lock and replaced (renamed into place) under an
# exclusive one. Prints one line saying what it did. A seed only grows with
# new dependency versions; deleting it is always safe (the next save makes
# it again).
set -eu
[ $# -eq 3 ] || { echo "usage: $0 restore|save NAME DIR" >&2; exit 2; }
action=$1 name=$2 dir=$3
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${RSEQ_LIBC_TARGET_SEED:-$HOME/.cache/rseq-libc/target-seed}
seed=$cache/$name
mkdir -p "$cache"
exec 9> "$cache/.lock"

# The workspace's packages: Cargo.lock's entries without a source line.
workspace_packages() {
  awk '/^\[\[package\]\]/ { if (n != "" && !s) print n; n = ""; s = 0 }
       /^name = / { n = $3; gsub(/"/, "", n) }
       /^source = / { s = 1 }
       END { if (n != "" && !s) print n }' "$root/Cargo.lock"
}

# The profile directories of a target directory (release, debug, and the
# same under each target triple): those with cargo's .fingerprint in them,
# less those of another target directory inside it (target/cross in
# target/: its own .rustc_info.json).
profile_dirs() { # target-dir
  local p
  (cd "$1" && find . -mindepth 2 -maxdepth 3 -type d -name .fingerprint -printf '%h\n' | sed 's|^\./||' | sort) |
    while read -r p; do
      case $p in */*) [ -e "$1/${p%%/*}/.rustc_info.json" ] && continue ;; esac
      echo "$p"
    done
}

# Third-party units of a target directory, one "profile/.fingerprint/unit" a line.
third_party_units() { # target-dir
  local p
  profile_dirs "$1" | while read -r p; do
    ls "$1/$p/.fingerprint" | sed "s|^|$p/|"
  done | grep -v -F -f <(workspace_packages | sed 's|.*|/&-|') | sort || true
}

case $action in
  restore)
    if [ -d "$dir" ] && [ -n "$(profile_dirs "$dir")" ]; then
      echo "seed $name: $dir already built in; not seeded"
    else
      flock -s 9
      if [ -d "$seed" ]; then
        mkdir -p "$dir"
        cp -a "$seed/." "$dir/"
        echo "seed $name: $dir seeded ($(du -sh "$seed" | cut -f1), $(third_party_units "$seed" | wc -l) units)"
      else
        echo "seed $name: no seed yet ($seed)"
      fi
    fi
    ;;
  save)
    [ -d "$dir" ] && [ -n "$(profile_dirs "$dir")" ] || { echo "seed $name: $dir has no cargo build; nothing saved"; exit 0; }
    new=$(comm -23 <(third_party_units "$dir") <([ -d "$seed" ] && third_party_units "$seed"))
    if [ -z "$new" ]; then
      echo "seed $name: up to date"
      exit 0
    fi
    tmp=$cache/.$name.tmp.$$
    rm -rf "$tmp"
    mkdir -p "$tmp"
    for f in CACHEDIR.TAG .rustc_info.json; do
      if [ -e "$dir/$f" ]; then cp -a "$dir/$f" "$tmp/"; fi
    done
    profile_dirs "$dir" | while read -r p; do
      mkdir -p "$tmp/$(dirname "$p")"
      cp -a "$dir/$p" "$tmp/$p"
    done
    # The workspace's crates out: their fingerprints (so that cargo compiles
    # them whatever the mtimes) and their outputs (space).
    workspace_packages | while read -r pkg; do
      u=${pkg//-/_}
      profile_dirs "$tmp" | while read -r p; do
        (cd "$tmp/$p" && rm -rf .fingerprint/"$pkg"-* build/"$pkg"-* deps/"$u"-* deps/lib"$u"-* \
          incremental/"$u"-* lib"$u".* "$u".d "$pkg")
      done
    done
    flock -x 9
    rm -rf "$seed.old"
    if [ -d "$seed" ]; then mv "$seed" "$seed.old"; fi
    mv "$tmp" "$seed"
    rm -rf "$seed.old"
    echo "seed $name: saved from $dir ($(echo "$new" | wc -l) new units, $(du -sh "$seed" | cut -f1))"
    ;;
  *) echo "usage: $0 restore|save NAME DIR" >&2; exit 2 ;;
esac
