#!/usr/bin/env bash
# The C host matrix: the same test sources, linked against
# target/release/librseq_libc.a, run in every host this machine has.
# Prints one line per host and ends with "N passed, N failed[, N skipped]".
# Needs: gcc; musl-gcc (Debian: musl-tools) for the musl host; clang for the
# header check with clang. Missing tools make their rows SKIP with the reason.
set -u
cd "$(dirname "$0")/../.."
root=$PWD
lib=$root/target/release/librseq_libc.a
out=${RSEQ_LIBC_TEST_BUILD:-$root/tests/build/c}
mkdir -p "$out"
passed=0 failed=0 skipped=0
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; failed=$((failed + 1)); }
skip() { echo "SKIP $1"; skipped=$((skipped + 1)); }

if [ ! -f "$lib" ]; then
  echo "FAIL: $lib missing: run 'cargo build --release' first"
  echo "0 passed, 1 failed"
  exit 1
fi

# The kernel's AT_RSEQ_FEATURE_SIZE (key 27), 0 when it reports none.
feature_size=$(od -An -tu8 -w16 -v /proc/self/auxv | awk '$1==27 {print $2; f=1} END {if (!f) print 0}')
# What Debian 12's glibc publishes in __rseq_size when it registers (20);
# read from a probe so another glibc gets its own expectation.
cat > "$out/glibc_rseq_size.c" <<'C'
#include <stdio.h>
#include <sys/rseq.h>
int main (void) { printf ("%u\n", __rseq_size); return 0; }
C
gcc -o "$out/glibc_rseq_size" "$out/glibc_rseq_size.c" 2>/dev/null
glibc_size=$("$out/glibc_rseq_size" 2>/dev/null || echo 0)
echo "kernel feature size: $feature_size; glibc __rseq_size: $glibc_size"

cflags=(-O2 -g -Wall -Wextra -Werror -I"$root/headers" -I"$root/tests/c")

build() { # name compiler args...
  local name=$1; shift
  if "$@" > "$out/$name.build.log" 2>&1; then return 0; fi
  fail "$name: build failed: $(head -c 600 "$out/$name.build.log")"
  return 1
}

run_host() { # name owner rseq_size launcher binary
  local name=$1 owner=$2 size=$3 launcher=$4 bin=$5 env_extra=${6:-}
  local log="$out/$name.log"
  if env $env_extra EXPECT_OWNER="$owner" EXPECT_RSEQ_SIZE="$size" \
      EXPECT_FEATURE_SIZE="$feature_size" timeout 60 $launcher "$bin" > "$log" 2>&1 \
      && grep -q ", 0 failed" "$log"; then
    pass "$name: $(tail -n 1 "$log")"
  else
    fail "$name: $(grep -m 5 -E 'FAIL|passed' "$log" | tr '\n' ' ') (log: $log)"
  fi
}

# Headers: C99 pedantic, clang, C++11.
printf '%s\n' '#include <rseq-libc.h>' '#include <rseq-percpu.h>' '#include <rseq-pmu.h>' \
  'int main (void) { return RSEQ_SIG == 0 || sizeof (struct rseq) != 32; }' > "$out/hdr.c"
cp "$out/hdr.c" "$out/hdr.cpp"
for variant in "gcc -std=c99" "gcc -std=c11" "clang -std=c99" "g++ -std=c++11"; do
  cc=${variant%% *}
  src=$out/hdr.c; [ "$cc" = g++ ] && src=$out/hdr.cpp
  if ! command -v "$cc" > /dev/null; then skip "headers with $variant: $cc not installed (apt-get install clang)"; continue; fi
  if $variant -pedantic -Wall -Wextra -Werror -I"$root/headers" "$src" -o "$out/hdr" 2> "$out/hdr.log"; then
    pass "headers with $variant -pedantic -Wall -Wextra -Werror"
  else
    fail "headers with $variant: $(head -c 400 "$out/hdr.log")"
  fi
done

build no_rseq_launcher gcc "${cflags[@]}" tests/c/no_rseq_launcher.c -o "$out/no_rseq" || true
no_rseq=$out/no_rseq

# glibc, dynamic: with a DT_NEEDED library whose constructor is checked.
if build hostlib gcc "${cflags[@]}" -fPIC -shared tests/c/hostlib.c -o "$out/libhostlib.so" &&
   build glibc-dynamic gcc "${cflags[@]}" -DWITH_HOSTLIB tests/c/host_test.c "$lib" \
     -L"$out" -lhostlib -Wl,-rpath,"$out" -lpthread -o "$out/glibc-dynamic"; then
  run_host "glibc dynamic (libc owns)" 1 "$glibc_size" "" "$out/glibc-dynamic"
  # __rseq_size stays 0 (the executable's copy): glibc starts some threads
  # itself (timer_create SIGEV_THREAD, mq_notify) where no hook sees them,
  # so the component cannot promise that every thread is registered.
  run_host "glibc dynamic, glibc.pthread.rseq=0 (component owns)" 2 0 "" \
    "$out/glibc-dynamic" GLIBC_TUNABLES=glibc.pthread.rseq=0
  run_host "glibc dynamic, rseq unavailable (none)" 0 0 "$no_rseq" "$out/glibc-dynamic"
  # ld.so run as a command: the kernel passes AT_BASE 0, and the component
  # finds ld.so through DT_DEBUG instead.
  ldso=$(readelf -l "$out/glibc-dynamic" | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p')
  run_host "glibc dynamic, run as ld.so command (libc owns)" 1 "$glibc_size" "$ldso" "$out/glibc-dynamic"
fi

# The component linked into a shared object: built without the
# executable-only startup hooks; the program itself does not link it.
so_target=$out/so-target
if cargo build --release -q -p rseq-libc --no-default-features --target-dir "$so_target" > "$out/so-cargo.log" 2>&1; then
  if build solib gcc "${cflags[@]}" -fPIC -shared tests/c/solib.c "$so_target/release/librseq_libc.a" -o "$out/libsolib.so" &&
     build so_main gcc "${cflags[@]}" tests/c/so_main.c -L"$out" -lsolib -Wl,-rpath,"$out" -o "$out/so_main"; then
    run_host "shared object, glibc dynamic (libc owns)" 1 0 "" "$out/so_main"
    run_host "shared object, glibc.pthread.rseq=0 (component owns)" 2 0 "" "$out/so_main" GLIBC_TUNABLES=glibc.pthread.rseq=0
    run_host "shared object, rseq unavailable (none)" 0 0 "$no_rseq" "$out/so_main"
  fi
else
  fail "shared-object build (cargo --no-default-features): $(tail -n 3 "$out/so-cargo.log")"
fi

# glibc, static. Its own __rseq_size wins over the component's weak one and
# stays 0 when glibc does not register.
if build glibc-static gcc "${cflags[@]}" -static tests/c/host_test.c "$lib" -lpthread -o "$out/glibc-static"; then
  run_host "glibc static (libc owns)" 1 "$glibc_size" "" "$out/glibc-static"
  run_host "glibc static, glibc.pthread.rseq=0 (component owns)" 2 0 "" \
    "$out/glibc-static" GLIBC_TUNABLES=glibc.pthread.rseq=0
  run_host "glibc static, rseq unavailable (none)" 0 0 "$no_rseq" "$out/glibc-static"
fi

# musl, static.
if command -v musl-gcc > /dev/null; then
  if build musl-static musl-gcc "${cflags[@]}" -static tests/c/host_test.c "$lib" -o "$out/musl-static"; then
    run_host "musl static (component owns)" 2 "$feature_size" "" "$out/musl-static"
    run_host "musl static, rseq unavailable (none)" 0 0 "$no_rseq" "$out/musl-static"
  fi
else
  skip "musl static: musl-gcc not installed (apt-get install musl-tools)"
fi

# The standalone test libc (tests/testlibc): no glibc or musl in the
# process; its _start registers the main thread before IFUNCs and
# constructors, in the area dl-early-tls reserves beside the TLS block.
tl=$root/target/release/librseq_testlibc.a
if ! (cd "$root" && cargo build --release -q -p rseq-testlibc) > "$out/testlibc.build.log" 2>&1; then
  fail "standalone: cargo build -p rseq-testlibc failed: $(head -c 600 "$out/testlibc.build.log")"
else
  tl_cflags=(-nostdlib -nostdinc -isystem "$(gcc -print-file-name=include)" -fno-stack-protector
             -I"$root/tests/testlibc/include")
  for mode in static static-pie; do
    pie=(); [ "$mode" = static-pie ] && pie=(-fpie)
    if build "standalone-$mode" gcc "${cflags[@]}" "${tl_cflags[@]}" "-$mode" "${pie[@]}" \
         tests/c/host_test.c "$tl" -lgcc -o "$out/standalone-$mode"; then
      run_host "standalone $mode (component owns)" 2 "$feature_size" "" "$out/standalone-$mode"
      run_host "standalone $mode, rseq unavailable (none)" 0 0 "$no_rseq" "$out/standalone-$mode"
    fi
  done
fi

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
