#!/usr/bin/env bash
# Builds the kernel's rseq selftests (tools/testing/selftests/rseq of a
# linux-source tree) as their Makefile does (librseq.so, -Wl,-rpath=./,
# -lpthread -ldl), without kbuild: the same compiler lines, one per program
# the Makefile lists. With a component archive as $3, each program also
# links it (the host "a program that links the component").
# CC (default gcc) is the compiler: a cross gcc (aarch64-linux-gnu-gcc,
# riscv64-linux-gnu-gcc, inside scripts/cross-toolchain.sh's tree) builds
# them for that architecture (tools/arch/x86/include only for x86).
# Usage: build-selftests.sh SOURCE-TREE OUT-DIR [librseq_libc.a]
set -eu
top=$(cd "$1" && pwd); out=$2; component=${3:-}
cc=${CC:-gcc}
src=$top/tools/testing/selftests/rseq
mkdir -p "$out"
cflags=(-O2 -Wall -g -I"$src" -I"$top/tools/testing/selftests" -I"$top/tools/include")
case $("$cc" -dumpmachine) in x86_64*) cflags+=(-I"$top/tools/arch/x86/include") ;; esac
cflags+=(-L"$out" -Wl,-rpath=./)
libs=(-lpthread -ldl)
"$cc" "${cflags[@]}" -shared -fPIC "$src/rseq.c" "${libs[@]}" -o "$out/librseq.so"
extra=(); [ -n "$component" ] && extra=("$component")
prog() { # name source defines...
  local name=$1 file=$2; shift 2
  "$cc" "${cflags[@]}" "$@" "$src/$file" "${extra[@]}" "${libs[@]}" -lrseq -o "$out/$name"
}
# The Makefile's TEST_GEN_PROGS and TEST_GEN_PROGS_EXTENDED, with its defines.
progs=$(sed -n '/^TEST_GEN_PROGS/,/^$/p' "$src/Makefile" | tr -d '\\' | tr ' \t' '\n\n' |
        grep -E '^[a-z_]+$' | grep -v '^librseq' | sort -u)
for p in $progs; do
  case $p in
    basic_percpu_ops_mm_cid_test) prog "$p" basic_percpu_ops_test.c -DBUILDOPT_RSEQ_PERCPU_MM_CID ;;
    param_test_benchmark) prog "$p" param_test.c -DBENCHMARK ;;
    param_test_compare_twice) prog "$p" param_test.c -DRSEQ_COMPARE_TWICE ;;
    param_test_mm_cid) prog "$p" param_test.c -DBUILDOPT_RSEQ_PERCPU_MM_CID ;;
    param_test_mm_cid_benchmark) prog "$p" param_test.c -DBUILDOPT_RSEQ_PERCPU_MM_CID -DBENCHMARK ;;
    param_test_mm_cid_compare_twice) prog "$p" param_test.c -DBUILDOPT_RSEQ_PERCPU_MM_CID -DRSEQ_COMPARE_TWICE ;;
    *) prog "$p" "$p.c" ;;
  esac
done
cp "$src"/run_*.sh "$out/"
echo "$progs" | paste -sd' ' > "$out/programs"
