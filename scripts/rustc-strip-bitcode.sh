#!/usr/bin/env bash
# cargo's rustc-workspace-wrapper (.cargo/config.toml): runs rustc, then
# removes the LLVM bitcode sections (.llvmbc, .llvmcmd) and the
# address-significance tables (.llvm_addrsig) from every member of a static
# library that rustc wrote, before cargo copies it to target/<profile>/.
#
# Why: a Rust staticlib carries rustc's LLVM bitcode beside the machine code
# in every member: our crates' objects (cargo embeds it because the crates
# are also rlibs the CLI's LTO reads) and the precompiled core and
# compiler_builtins objects of the Rust sysroot, which ship with it and are
# copied into the archive as they are. An LTO linker plugin (clang -flto's
# LLVMgold.so, which GNU nm and ar also load from /usr/lib/bfd-plugins)
# reads that bitcode instead of the machine code and fails when it comes
# from a newer LLVM than its own ("Opaque pointers are only supported in
# -opaque-pointers mode" with Debian 12's clang 14): links fail and nm lists
# nothing. No rustc or cargo option on stable leaves the sysroot's bitcode
# out, hence this step. .llvm_addrsig goes too: it indexes the symbol table,
# which objcopy may renumber; without it lld's ICF just treats every symbol
# of these objects as address-significant.
#
# Anything else (rlibs, binaries, cargo's probes, check builds) passes
# through untouched.
# OBJCOPY overrides the tool (default: objcopy, else llvm-objcopy).
set -u
rustc=$1
shift
"$rustc" "$@" || exit $?

# rustc's arguments, with those of an @file (one per line, which cargo
# uses when a command line gets too long) in its place.
args=()
for arg in "$@"; do
  if [[ $arg == @* && -r ${arg#@} ]]; then
    mapfile -t lines < "${arg#@}"
    args+=("${lines[@]}")
  else
    args+=("$arg")
  fi
done
set -- "${args[@]}"

staticlib=0 link=1 crate_name= out_dir= extra= out_file=
while [ $# -gt 0 ]; do
  arg=$1
  shift
  case $arg in
    --crate-type | --crate-name | --out-dir | --emit | -o | -C | --print)
      [ $# -gt 0 ] || break
      value=$1
      shift
      ;;
    --crate-type=* | --crate-name=* | --out-dir=* | --emit=* | --print=*)
      value=${arg#*=}
      arg=${arg%%=*}
      ;;
    -C*)
      value=${arg#-C}
      arg=-C
      ;;
    *) continue ;;
  esac
  case $arg in
    --crate-type) case ",$value," in *,staticlib,*) staticlib=1 ;; esac ;;
    --crate-name) crate_name=$value ;;
    --out-dir) out_dir=$value ;;
    --emit) case ",$value," in *,link,* | *,link=*) ;; *) link=0 ;; esac ;;
    -o) out_file=$value ;;
    -C) case $value in extra-filename=*) extra=${value#extra-filename=} ;; esac ;;
  esac
done
[ "$staticlib" = 1 ] && [ "$link" = 1 ] || exit 0
archive=${out_file:-${out_dir:-.}/lib$crate_name$extra.a}
[ -f "$archive" ] || exit 0

objcopy=${OBJCOPY:-}
if [ -z "$objcopy" ]; then
  for tool in objcopy llvm-objcopy; do
    if command -v "$tool" > /dev/null 2>&1; then objcopy=$tool; break; fi
  done
fi
if [ -z "$objcopy" ]; then
  echo "error: rustc-strip-bitcode: no objcopy (Debian: apt-get install binutils)" \
    "to remove the LLVM bitcode from $archive; without that, clang -flto and GNU nm" \
    "cannot read the archive" >&2
  exit 1
fi
if ! "$objcopy" --remove-section=.llvmbc --remove-section=.llvmcmd \
    --remove-section=.llvm_addrsig "$archive"; then
  echo "error: rustc-strip-bitcode: $objcopy failed on $archive" >&2
  exit 1
fi
