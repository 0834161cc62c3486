#!/usr/bin/env bash
# Builds and installs rseq-libc into a prefix (docs/install.md):
#   LIBDIR/librseq_libc.a            the component, for programs (startup and
#                                    thread hooks)
#   LIBDIR/librseq_libc_nohooks.a    the --no-default-features build, for
#                                    shared objects (no hooks; pins itself)
#   LIBDIR/pkgconfig/rseq-libc.pc, rseq-libc-nohooks.pc
#   INCLUDEDIR/rseq-libc/            the C headers, with the <sys/rseq.h>
#                                    drop-in (out of the libc's way)
#   DATADIR/rseq-libc/gdb/rseq.py    the GDB extension (and its README)
#   BINDIR/rseq-libc                 the command (unless --no-cli)
# Not installed: the standalone test libc and the patched glibc's glue
# archive (docs/install.md says why).
#
# usage: scripts/install.sh --prefix PREFIX [--destdir DIR] [--libdir DIR]
#          [--includedir DIR] [--bindir DIR] [--datadir DIR]
#          [--no-build | --build-only] [--no-cli]
# --destdir stages the files under DIR (DIR/PREFIX/...) while the .pc files
# name the final PREFIX, as `make install DESTDIR=` does. --no-build installs
# what the last build left (target/release and target/nohooks/release;
# CARGO_TARGET_DIR moves both); --build-only builds and installs nothing
# (debian/rules builds and installs in separate steps). Installing again
# over an installation overwrites the same files with the same contents.
set -eu
cd "$(dirname "$0")/.."
root=$PWD

die() { echo "install.sh: $*" >&2; exit 2; }
usage() {
  sed -n '/^# usage:/,/^#          \[--no-build/s/^# \{0,1\}//p' "$0"
  exit 0
}

prefix= destdir= libdir= includedir= bindir= datadir= build=1 install=1 cli=1
while [ $# -gt 0 ]; do
  case $1 in
    --prefix|--destdir|--libdir|--includedir|--bindir|--datadir)
      [ $# -ge 2 ] || die "$1 needs a value"
      opt=${1#--}; printf -v "$opt" '%s' "$2"; shift 2 ;;
    --prefix=*|--destdir=*|--libdir=*|--includedir=*|--bindir=*|--datadir=*)
      opt=${1%%=*}; opt=${opt#--}; printf -v "$opt" '%s' "${1#*=}"; shift ;;
    --no-build) build=0; shift ;;
    --build-only) install=0; shift ;;
    --no-cli) cli=0; shift ;;
    -h|--help) usage ;;
    *) die "unknown argument '$1' (--help for usage)" ;;
  esac
done

[ -n "$prefix" ] || die "--prefix PREFIX is required (e.g. --prefix /usr/local)"
# The directories go into the .pc files, where pkg-config splits on white
# space and expands ${...}: accept only plain absolute paths.
check_dir() { # option value
  case $2 in
    /*) ;;
    *) die "--$1 '$2': not an absolute path" ;;
  esac
  case $2 in
    *[[:space:]\$\'\"\\\`#]*) die "--$1 '$2': white space, quotes, '\$', '#' and '\\' are not supported in installation paths" ;;
  esac
}
prefix=${prefix%/}; [ -n "$prefix" ] || prefix=/
check_dir prefix "$prefix"
libdir=${libdir:-$prefix/lib} includedir=${includedir:-$prefix/include}
bindir=${bindir:-$prefix/bin} datadir=${datadir:-$prefix/share}
for d in libdir includedir bindir datadir; do check_dir "$d" "${!d}"; done
if [ -n "$destdir" ]; then
  case $destdir in /*) ;; *) destdir=$PWD/$destdir ;; esac
  destdir=${destdir%/}
fi
# Fail before building on a destination that cannot be created or written.
[ $install = 1 ] && for d in "$libdir" "$includedir" "$datadir" $([ $cli = 1 ] && echo "$bindir"); do
  p=$destdir$d
  while [ ! -e "$p" ]; do p=$(dirname "$p"); done
  [ -d "$p" ] || die "cannot install into $destdir$d: $p exists and is not a directory"
  [ -w "$p" ] || die "cannot install into $destdir$d: $p is not writable (run as a user who may write there, or use --destdir)"
done

target=${CARGO_TARGET_DIR:-$root/target}
case $target in /*) ;; *) target=$root/$target ;; esac
nohooks_target=$target/nohooks
if [ $build = 1 ]; then
  # From the repository root, so that .cargo/config.toml's rustc wrapper
  # strips the LLVM bitcode from the archives (README "Linking").
  pkgs=(-p rseq-libc); [ $cli = 1 ] && pkgs+=(-p rseq-libc-cli)
  cargo build --release --locked "${pkgs[@]}" --target-dir "$target" ||
    die "cargo build --release failed"
  cargo build --release --locked -p rseq-libc --no-default-features --target-dir "$nohooks_target" ||
    die "cargo build --release --no-default-features failed"
fi
lib=$target/release/librseq_libc.a
nohooks=$nohooks_target/release/librseq_libc.a
cmd=$target/release/rseq-libc
for f in "$lib" "$nohooks" $([ $cli = 1 ] && echo "$cmd"); do
  [ -f "$f" ] || die "$f missing (run without --no-build to build it)"
done
[ $install = 1 ] || exit 0

version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' Cargo.toml)
[ -n "$version" ] || die "no [workspace.package] version in Cargo.toml"

# ${prefix}-relative paths where they are under the prefix, so that a .pc
# file can be redirected with pkg-config --define-variable=prefix=...
rel() { case $1 in "$prefix"/*) echo "\${prefix}${1#"$prefix"}" ;; *) echo "$1" ;; esac; }

pc() { # name archive description
  cat <<EOF
prefix=$prefix
libdir=$(rel "$libdir")
includedir=$(rel "$includedir")
gdbscript=$(rel "$datadir")/rseq-libc/gdb/rseq.py

Name: $1
Description: $3
Version: $version
# -I: <sys/rseq.h> here is a drop-in for glibc's (musl has none) and must be
# found before the libc's. Libs names the archive by path: musl-gcc links
# with -nostdlib and searches only its own directory and the -L options, and
# -L\${libdir} would be dropped for the system directory (pkg-config) or,
# kept, make musl-gcc find glibc's libc there before musl's.
# Libs.private: nothing on glibc >= 2.34 (pthread_*, dl* in libc.a) or musl,
# checked by static links in tests/install/run.sh.
Cflags: -I\${includedir}/rseq-libc
Libs: \${libdir}/$2
Libs.private:
EOF
}

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
pc rseq-libc librseq_libc.a \
  "Linux restartable sequences (rseq) for programs on glibc and musl (static; startup and thread hooks)" \
  > "$stage/rseq-libc.pc"
pc rseq-libc-nohooks librseq_libc_nohooks.a \
  "Linux restartable sequences (rseq) for shared objects (static, position-independent; no startup or thread hooks)" \
  > "$stage/rseq-libc-nohooks.pc"

put() { # mode source destination
  install -D -m "$1" "$2" "$destdir$3" || die "cannot install $3"
}
put 644 "$lib" "$libdir/librseq_libc.a"
put 644 "$nohooks" "$libdir/librseq_libc_nohooks.a"
put 644 "$stage/rseq-libc.pc" "$libdir/pkgconfig/rseq-libc.pc"
put 644 "$stage/rseq-libc-nohooks.pc" "$libdir/pkgconfig/rseq-libc-nohooks.pc"
(cd headers && find . -type f -name '*.h' | sort) | while read -r h; do
  put 644 "headers/${h#./}" "$includedir/rseq-libc/${h#./}"
done
put 644 gdb/rseq.py "$datadir/rseq-libc/gdb/rseq.py"
put 644 gdb/README.md "$datadir/rseq-libc/gdb/README.md"
[ $cli = 1 ] && put 755 "$cmd" "$bindir/rseq-libc"
echo "install.sh: installed rseq-libc $version into ${destdir:+$destdir (staged for) }$prefix"
