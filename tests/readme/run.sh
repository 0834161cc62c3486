#!/usr/bin/env bash
# The examples of README.md, taken from README.md itself (so a change there
# is tested as written): the link lines (the ```sh block naming
# target/release/librseq_libc.a) each build the ```c program, which runs and
# must count exactly (glibc dynamic also with glibc.pthread.rseq=0, where
# rseq-libc owns registration); the ```toml dependencies and the ```rust
# program become a Cargo project outside the tree (the README's
# "rseq-libc/" path prefix pointed at this checkout), built offline and
# run with glibc owning registration and with glibc.pthread.rseq=0.
# Needs cargo build --release first. Ends with "N passed, N failed, N skipped".
set -u
cd "$(dirname "$0")/../.."
root=$PWD
lib=$root/target/release/librseq_libc.a
out=${RSEQ_LIBC_TEST_BUILD:-$root/tests/build}/readme
mkdir -p "$out"
passed=0 failed=0 skipped=0
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; failed=$((failed + 1)); }
skip() { echo "SKIP $1"; skipped=$((skipped + 1)); }
finish() { echo "$passed passed, $failed failed, $skipped skipped"; [ "$failed" -eq 0 ]; exit; }
if [ ! -f "$lib" ]; then
  fail "$lib missing: run 'cargo build --release' first"
  finish
fi

# Fenced blocks of one language, each preceded by a "@@@ block" line.
blocks() { # language
  awk -v lang="$1" '
    /^```/ && inside { inside = 0; next }
    $0 == "```" lang { inside = 1; print "@@@ block"; next }
    inside { print }' README.md
}
only_block() { # language file: exactly one such block into file
  blocks "$1" | awk 'NR > 1' > "$2"
  [ "$(blocks "$1" | grep -c '^@@@ block$')" -eq 1 ] && [ -s "$2" ]
}

# Tools the link lines name: install the missing ones once (root only).
want=()
for t in cc:gcc musl-gcc:musl-tools; do
  command -v "${t%%:*}" > /dev/null || want+=("${t#*:}")
done
if [ ${#want[@]} -gt 0 ] && { [ "$(id -u)" = 0 ] || command -v sudo > /dev/null; }; then
  bash scripts/install-deps.sh "${want[@]}" > "$out/install.log" 2>&1 ||
    echo "install failed (rows SKIP): $(tail -n 2 "$out/install.log" | tr '\n' ' ')"
fi

# --- C: the program, built by every link line of the README.
run_c() { # name binary [env...]
  local name=$1 bin=$2; shift 2
  local log=$out/$(tr ' ,()=/.' '_______' <<< "$name").log
  if env "$@" timeout 60 "$bin" > "$log" 2>&1 && grep -q '^total 400000 of 400000$' "$log"; then
    pass "$name: $(tr '\n' ' ' < "$log")"
  else
    fail "$name: exit or output wrong: $(head -c 400 "$log" | tr '\n' ' ') (log: $log)"
  fi
}
if ! only_block c "$out/app.c"; then
  fail "README.md: expected exactly one non-empty \`\`\`c block"
else
  n=0 lines=0
  while IFS= read -r line; do
    case $line in *librseq_libc.a*) ;; *) continue ;; esac
    lines=$((lines + 1))
    n=$((n + 1))
    compiler=${line%% *}
    if ! command -v "$compiler" > /dev/null; then
      skip "'$line': $compiler not installed (apt-get install ${compiler/musl-gcc/musl-tools})"
      continue
    fi
    bin=$out/app-$n
    # The line as written, from the repository root, with the extracted
    # source and an output name.
    cmd="${line//app.c/$out/app.c} -o $bin"
    if ! (cd "$root" && eval "$cmd") > "$out/app-$n.build.log" 2>&1; then
      fail "'$line': build failed: $(head -c 600 "$out/app-$n.build.log")"
      continue
    fi
    run_c "'$line'" "$bin"
    # glibc dynamic: also with glibc's registration off (rseq-libc owns it).
    case $line in musl-gcc*|*-static*) ;; *)
      run_c "'$line', glibc.pthread.rseq=0" "$bin" GLIBC_TUNABLES=glibc.pthread.rseq=0 ;;
    esac
  done < <(blocks sh)
  [ "$lines" -ge 3 ] || fail "README.md: expected the 3 link lines in a \`\`\`sh block, found $lines"
fi

# --- Rust: a project outside the tree with the README's dependencies.
if ! command -v cargo > /dev/null; then
  skip "Rust example: cargo not installed (https://rustup.rs)"
elif ! only_block toml "$out/deps.toml" || ! only_block rust "$out/main.rs"; then
  fail "README.md: expected exactly one \`\`\`toml and one \`\`\`rust block"
else
  proj=$(mktemp -d "${TMPDIR:-/tmp}/rseq-libc-readme.XXXXXX")
  trap 'rm -rf "$proj"' EXIT
  mkdir -p "$proj/src"
  cp "$out/main.rs" "$proj/src/main.rs"
  {
    printf '[package]\nname = "readme-example"\nversion = "0.1.0"\nedition = "2021"\n\n'
    sed "s|\"rseq-libc/|\"$root/|" "$out/deps.toml"
  } > "$proj/Cargo.toml"
  # Its own target directory, kept between runs (incremental rebuilds).
  if (cd "$proj" && CARGO_TARGET_DIR=$root/target/readme-example \
      cargo build --offline --quiet) > "$out/rust.build.log" 2>&1; then
    bin=$root/target/readme-example/debug/readme-example
    for mode in owns rseq=0; do
      env_extra=()
      [ "$mode" = rseq=0 ] && env_extra=(GLIBC_TUNABLES=glibc.pthread.rseq=0)
      log=$out/rust-$mode.log
      if env "${env_extra[@]}" timeout 60 "$bin" > "$log" 2>&1 &&
          grep -q '^total 400000$' "$log"; then
        pass "Rust example ($mode): $(tr '\n' ' ' < "$log")"
      else
        fail "Rust example ($mode): $(head -c 400 "$log" | tr '\n' ' ') (log: $log)"
      fi
    done
  else
    fail "Rust example: build failed: $(head -c 800 "$out/rust.build.log")"
  fi
fi
finish
