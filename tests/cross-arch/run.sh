#!/usr/bin/env bash
# Cross-architecture checks of headers/sys/rseq.h (see README.md here).
#
# For every architecture that has a Debian cross toolchain:
#   layout   struct rseq / struct rseq_cs offsets, sizes, alignment and
#            RSEQ_SIG == the table below, at compile time (layout.c,
#            -std=c11 -Wall -Wextra -Werror -pedantic)
#   build    sig.c (RSEQ_SIG right before an abort label), static link
#   objdump  the signature disassembles to the intended trapping instruction
#   word     at run time, the 4 bytes before the abort label read as data
#            (what the kernel compares) equal RSEQ_SIG
#   trap     executing the signature kills the program with the expected
#            signal (an exit (0) follows it, so surviving is a failure)
# Non-native programs run under qemu-user.  Missing packages are installed
# with apt-get; an architecture whose toolchain cannot be had is SKIPped.
#
# Usage (from anywhere): bash tests/cross-arch/run.sh [ARCH...]
# Ends with "N passed, N failed, N skipped"; exits 1 if anything failed.

set -euo pipefail
export LC_ALL=C
exec </dev/null
ulimit -c 0 2>/dev/null || true

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
HDR="${RSEQ_CROSS_HEADERS:-$ROOT/headers}"   # override: for testing the tests

# name;triplet;packages;qemu name;RSEQ_SIG (REFERENCE.md);objdump regex (ERE);signal;extra CFLAGS
# Signals were observed under qemu-user 7.2 / the x86_64 kernel and are
# hard-coded: ud1/udf/trap4/csrw-to-read-only-CSR raise SIGILL, brk/tw/break
# raise SIGTRAP.  loongarch's is the kernel's do_bp default (not run here).
ARCHES=(
  "x86_64;x86_64-linux-gnu;gcc-x86-64-linux-gnu libc6-dev-amd64-cross;x86_64;0x53053053;ud1[[:space:]]+0x53053053\\(%rip\\),%edi;ILL;"
  "i686;i686-linux-gnu;gcc-i686-linux-gnu libc6-dev-i386-cross;i386;0x53053053;ud1[[:space:]]+0x53053053,%edi;ILL;"
  "arm;arm-linux-gnueabihf;gcc-arm-linux-gnueabihf libc6-dev-armhf-cross;arm;0xe7f5def3;udf[[:space:]]+#24035;ILL;-marm"
  "arm-thumb;arm-linux-gnueabihf;gcc-arm-linux-gnueabihf libc6-dev-armhf-cross;arm;0xe7f5def3;udf[[:space:]]+#243([^0-9]|$);ILL;-mthumb"
  "aarch64;aarch64-linux-gnu;gcc-aarch64-linux-gnu libc6-dev-arm64-cross;aarch64;0xd428bc00;brk[[:space:]]+#0x45e0;TRAP;"
  "powerpc64le;powerpc64le-linux-gnu;gcc-powerpc64le-linux-gnu libc6-dev-ppc64el-cross;ppc64le;0x0fe5000b;twui[[:space:]]+r5,11;TRAP;"
  "ppc64;powerpc64-linux-gnu;gcc-powerpc64-linux-gnu libc6-dev-ppc64-cross;ppc64;0x0fe5000b;twui[[:space:]]+r5,11;TRAP;"
  "mips64el;mips64el-linux-gnuabi64;gcc-mips64el-linux-gnuabi64 libc6-dev-mips64el-cross;mips64el;0x0350000d;break[[:space:]]+0x350;TRAP;"
  "s390x;s390x-linux-gnu;gcc-s390x-linux-gnu libc6-dev-s390x-cross;s390x;0xb2ff0fff;trap4[[:space:]]+4095(\\(%r0\\))?;ILL;"
  "riscv64;riscv64-linux-gnu;gcc-riscv64-linux-gnu libc6-dev-riscv64-cross;riscv64;0xf1401073;csrw[[:space:]]+mhartid,(zero|x0);ILL;"
  "loongarch64;loongarch64-linux-gnu;gcc-loongarch64-linux-gnu libc6-dev-loong64-cross;loongarch64;0x002a0010;break[[:space:]]+0x10([^0-9a-fx]|$);TRAP;"
)

PASS=0 FAIL=0 SKIP=0
pass() { PASS=$((PASS + 1)); echo "PASS $1"; }
fail() { FAIL=$((FAIL + 1)); echo "FAIL $1"; }
skip() { SKIP=$((SKIP + 1)); echo "SKIP $1"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
secs() { local ms=$1; printf '%d.%03ds' $((ms / 1000)) $((ms % 1000)); }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/rseq-cross-arch.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
LOG="$WORK/apt.log"

# Only the architectures named on the command line, if any.
if [ $# -gt 0 ]; then
  sel=()
  for row in "${ARCHES[@]}"; do
    for want in "$@"; do
      [ "${row%%;*}" = "$want" ] && sel+=("$row")
    done
  done
  [ ${#sel[@]} -gt 0 ] || { echo "no such architecture: $*" >&2; exit 2; }
  ARCHES=("${sel[@]}")
fi

# ---------------------------------------------------------------- packages

HOST_ARCH=$(uname -m)
host_triplet=""
case "$HOST_ARCH" in
  x86_64) host_triplet=x86_64-linux-gnu ;;
esac

installed() {
  [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" = "install ok installed" ]
}
APT_UPDATED=0
apt_update_once() {
  [ "$APT_UPDATED" = 1 ] && return 0
  APT_UPDATED=1
  echo "apt-get update"
  apt-get -o DPkg::Lock::Timeout=300 update >>"$LOG" 2>&1 ||
    { echo "  apt-get update failed (continuing):"; tail -n 3 "$LOG" | sed 's/^/  /'; }
}
apt_lists_present() { compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; }
candidate() {
  apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ { print $2; exit }'
}
available() { local c; c=$(candidate "$1"); [ -n "$c" ] && [ "$c" != "(none)" ]; }
apt_install() {
  echo "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y \
    --no-install-recommends "$@" >>"$LOG" 2>&1
}

# Packages of one row: the native compiler on a matching host.
row_pkgs() {
  local triplet=$1 pkgs=$2
  if [ "$triplet" = "$host_triplet" ]; then echo "gcc libc6-dev binutils"; else echo "$pkgs"; fi
}

t_install=$(now_ms)
declare -A SKIP_REASON=()
missing_all=()
for row in "${ARCHES[@]}"; do
  IFS=';' read -r name triplet pkgs _ <<<"$row"
  for p in $(row_pkgs "$triplet" "$pkgs"); do
    installed "$p" || missing_all+=("$p")
  done
done
need_qemu=0
for row in "${ARCHES[@]}"; do
  IFS=';' read -r name triplet _ <<<"$row"
  [ "$triplet" = "$host_triplet" ] || need_qemu=1
done
qemu_pkg=""
if [ "$need_qemu" = 1 ] && ! installed qemu-user-static && ! installed qemu-user; then
  qemu_pkg=qemu-user-static
  missing_all+=(qemu-user-static)
fi
# apt-get update (once) when there are no package lists yet, or before
# installing something the lists know about; a package the present lists
# don't have (loongarch on bookworm) is a SKIP without touching the network.
if [ "$(id -u)" != 0 ]; then
  [ ${#missing_all[@]} -eq 0 ] || echo "not root: cannot install ${missing_all[*]}"
elif ! apt_lists_present; then
  apt_update_once
else
  for p in "${missing_all[@]}"; do
    if available "$p"; then apt_update_once; break; fi
  done
fi

# Which rows can be installed (apt-cache candidate), then one batch install.
to_install=()
for row in "${ARCHES[@]}"; do
  IFS=';' read -r name triplet pkgs _ <<<"$row"
  for p in $(row_pkgs "$triplet" "$pkgs"); do
    installed "$p" && continue
    [ -n "${SKIP_REASON[$name]:-}" ] && continue
    if [ "$(id -u)" != 0 ]; then
      SKIP_REASON[$name]="$p is not installed and we are not root"
    elif ! available "$p"; then
      SKIP_REASON[$name]="no package $p in the apt sources ($(. /etc/os-release 2>/dev/null && echo "${PRETTY_NAME:-this system}"))"
    else
      to_install+=("$p")
    fi
  done
done
for row in "${ARCHES[@]}"; do   # don't install half of a skipped row
  IFS=';' read -r name triplet pkgs _ <<<"$row"
  [ -n "${SKIP_REASON[$name]:-}" ] || continue
  keep=()
  for p in "${to_install[@]}"; do
    case " $(row_pkgs "$triplet" "$pkgs") " in *" $p "*) ;; *) keep+=("$p") ;; esac
  done
  to_install=("${keep[@]}")
done
if [ -n "$qemu_pkg" ] && [ "$(id -u)" = 0 ]; then
  if available qemu-user-static; then to_install+=(qemu-user-static)
  elif available qemu-user; then to_install+=(qemu-user)
  fi
fi
if [ ${#to_install[@]} -gt 0 ]; then
  mapfile -t to_install < <(printf '%s\n' "${to_install[@]}" | sort -u)
  if ! apt_install "${to_install[@]}"; then
    echo "  batch install failed; installing one architecture at a time"
    for p in "${to_install[@]}"; do installed "$p" || apt_install "$p" || true; done
  fi
fi
for row in "${ARCHES[@]}"; do
  IFS=';' read -r name triplet pkgs _ <<<"$row"
  [ -n "${SKIP_REASON[$name]:-}" ] && continue
  for p in $(row_pkgs "$triplet" "$pkgs"); do
    installed "$p" || { SKIP_REASON[$name]="apt-get install $p failed (see apt log)"; break; }
  done
done
echo "setup (package checks/installs): $(secs $(($(now_ms) - t_install)))"

# ------------------------------------------------------------------ running

# run_prog STATUSFILE OUTFILE CMD...: runs CMD with a 30 s limit and writes
# "signal N", "exit N", "timeout" or "exec-error" to STATUSFILE.
run_prog() {
  local status=$1 out=$2
  shift 2
  perl -e '
    my $f = shift;
    my $pid = fork;
    defined $pid or die "fork: $!";
    if (!$pid) { exec { $ARGV[0] } @ARGV; print STDERR "exec: $!\n"; exit 127 }
    my $to = 0;
    local $SIG{ALRM} = sub { $to = 1; kill "KILL", $pid };
    alarm 30;
    waitpid $pid, 0;
    my $st = $?;
    alarm 0;
    open my $o, ">", $f or die;
    if ($to) { print $o "timeout\n" }
    elsif ($st & 127) { printf $o "signal %d\n", $st & 127 }
    elsif (($st >> 8) == 127) { print $o "exec-error\n" }
    else { printf $o "exit %d\n", $st >> 8 }
  ' "$status" "$@" >"$out" 2>&1 || echo "exec-error" >"$status"
}

qemu_for() {
  local q
  for q in "qemu-$1-static" "qemu-$1"; do
    command -v "$q" >/dev/null 2>&1 && { echo "$q"; return 0; }
  done
  return 1
}

signame() { kill -l "$1" 2>/dev/null || echo "$1"; }

t_checks=$(now_ms)
declare -a SUMMARY=()
for row in "${ARCHES[@]}"; do
  IFS=';' read -r name triplet pkgs qname sig insn_re want_sig cflags <<<"$row"
  if [ -n "${SKIP_REASON[$name]:-}" ]; then
    skip "$name: ${SKIP_REASON[$name]}"
    SUMMARY+=("$name: skipped")
    continue
  fi
  t_arch=$(now_ms)
  cc="$triplet-gcc" objdump="$triplet-objdump" nm="$triplet-nm"
  d="$WORK/$name"
  mkdir -p "$d"
  extra=()
  [ -n "$cflags" ] && read -r -a extra <<<"$cflags"

  # layout ---------------------------------------------------------------
  if "$cc" -std=c11 -Wall -Wextra -Werror -pedantic "${extra[@]}" \
      -DEXPECTED_RSEQ_SIG="$sig" -I "$HDR" -c "$HERE/layout.c" \
      -o "$d/layout.o" >"$d/layout.log" 2>&1; then
    pass "$name: layout (struct rseq/rseq_cs offsets, sizes, align 32; RSEQ_SIG == $sig)"
  else
    fail "$name: layout"
    sed 's/^/    /' "$d/layout.log" | head -n 20
  fi

  # build ----------------------------------------------------------------
  built=0
  if "$cc" -O2 -Wall -Wextra -Werror "${extra[@]}" -I "$HDR" \
      -c "$HERE/sig.c" -o "$d/sig.o" >"$d/build.log" 2>&1 &&
     "$cc" -static "${extra[@]}" "$d/sig.o" -o "$d/sig" >>"$d/build.log" 2>&1; then
    built=1
    pass "$name: build (sig.c, static)"
  else
    fail "$name: build"
    sed 's/^/    /' "$d/build.log" | head -n 20
  fi

  # objdump --------------------------------------------------------------
  insn="?"
  if [ "$built" = 1 ]; then
    start=$("$nm" "$d/sig.o" | awk '$3 == "rseq_sig_insn" { print $1 }')
    end=$("$nm" "$d/sig.o" | awk '$3 == "rseq_sig_abort" { print $1 }')
    lines=""
    if [ -n "$start" ] && [ -n "$end" ]; then
      lines=$("$objdump" -d -j .text --start-address="0x$start" \
                --stop-address="0x$end" "$d/sig.o" |
              grep -E '^[[:space:]]+[0-9a-f]+:' || true)
    fi
    first=$(printf '%s\n' "$lines" | head -n 1)
    insn=$(printf '%s' "$first" | cut -f3- | tr '\t' ' ' | sed -E 's/ +[#@] .*//; s/ +/ /g; s/ $//')
    bytes=$(printf '%s' "$first" | cut -f2 | sed 's/ *$//')
    if [ -n "$first" ] && printf '%s\n' "$first" | grep -Eq "$insn_re"; then
      pass "$name: objdump: $insn [$bytes]"
    else
      fail "$name: objdump: expected /$insn_re/, got: ${lines:-nothing between rseq_sig_insn and rseq_sig_abort}"
    fi
  else
    fail "$name: objdump (not built)"
  fi

  # word and trap --------------------------------------------------------
  runner=()
  how="native"
  if [ "$built" = 1 ]; then
    if [ "$triplet" != "$host_triplet" ]; then
      if [ "$triplet" = i686-linux-gnu ] && [ "$HOST_ARCH" = x86_64 ]; then
        # Native if the kernel runs 32-bit x86, else qemu.
        run_prog "$d/probe.st" "$d/probe.out" "$d/sig" word
        if [ "$(cat "$d/probe.st")" = exec-error ]; then
          how="qemu"
        fi
      else
        how="qemu"
      fi
    fi
    if [ "$how" = qemu ]; then
      if q=$(qemu_for "$qname"); then
        runner=("$q")
        how="$q"
      else
        how=""
      fi
    fi
  fi
  if [ "$built" != 1 ]; then
    fail "$name: word (not built)"
    fail "$name: trap (not built)"
    got="-"
  elif [ -z "$how" ]; then
    skip "$name: word: no qemu-$qname(-static) (qemu-user-static not installable)"
    skip "$name: trap: no qemu-$qname(-static)"
    got="-"
  else
    run_prog "$d/word.st" "$d/word.out" "${runner[@]}" "$d/sig" word
    st=$(cat "$d/word.st")
    if [ "$st" = "exit 0" ]; then
      pass "$name: word: $(head -n 1 "$d/word.out") ($how)"
    else
      fail "$name: word: $st: $(tr '\n' ' ' <"$d/word.out")"
    fi
    run_prog "$d/trap.st" "$d/trap.out" "${runner[@]}" "$d/sig" trap
    st=$(cat "$d/trap.st")
    got="$st"
    case "$st" in
      signal*)
        n=${st#signal }
        got="SIG$(signame "$n")"
        if [ "SIG$want_sig" = "$got" ]; then
          pass "$name: trap: killed by $got as expected ($how)"
        else
          fail "$name: trap: killed by $got, expected SIG$want_sig ($how)"
        fi
        ;;
      *)
        fail "$name: trap: $st, expected death by SIG$want_sig: $(tr '\n' ' ' <"$d/trap.out")"
        ;;
    esac
  fi
  SUMMARY+=("$name: $insn -> $got [$(secs $(($(now_ms) - t_arch)))]")
done
t_end=$(now_ms)

echo
echo "per architecture (instruction -> signal):"
printf '  %s\n' "${SUMMARY[@]}"
echo "checks took $(secs $((t_end - t_checks))) (setup $(secs $((t_checks - t_install))))"
echo "$PASS passed, $FAIL failed, $SKIP skipped"
[ "$FAIL" = 0 ]
