#!/usr/bin/env bash
# The full test suite: formatting, lints, Rust tests, then every C-level
# suite under tests/*/run.sh against the release build. Installs missing
# Debian packages first (scripts/install-deps.sh). Ends with a time per
# step and one "N passed, N failed, N skipped" line over all suites. Sized
# for 20 minutes warm and 60 cold on 2 cores; the long confirmatory runs
# (glibc differential, fuller kernel matrix, whole run_param_test.sh
# matrices, long fuzzing) are scripts/long-tests.sh: docs/testing-budget.md.
set -u
cd "$(dirname "$0")/.."
start=$SECONDS
RSEQ_LIBC_INSTALL_FUZZ=1 bash scripts/install-deps.sh || { echo "install-deps failed"; exit 1; }

passed=0 failed=0 skipped=0
times=() # "seconds<TAB>result<TAB>name" per step and suite, printed at the end
times+=("$((SECONDS - start))	done	scripts/install-deps.sh")
step() { # name command...
  local name=$1; shift
  echo "== $name"
  local t=$SECONDS r
  if "$@"; then r=PASS; passed=$((passed + 1)); else r=FAIL; failed=$((failed + 1)); fi
  echo "$r $name ($((SECONDS - t)) s)"
  times+=("$((SECONDS - t))	$r	$name")
}

# A fresh clone (CI) starts with the third-party crates that earlier runs
# compiled in every profile (scripts/target-seed.sh); the workspace's own
# crates are always compiled from this checkout.
bash scripts/target-seed.sh restore host target
step "cargo fmt --check" cargo fmt --all -- --check
step "cargo clippy -D warnings" cargo clippy --workspace --all-targets -- -D warnings
# The shared-object build compiles code the default features leave out.
step "cargo clippy -D warnings (shared-object build)" \
  cargo clippy -p rseq-libc --no-default-features -- -D warnings
# The Rust crates' documentation: rustdoc's warnings (broken or private
# intra-doc links, bad code blocks) are errors, and so is any cargo warning
# on the way (such as two targets writing one page).
rustdoc_clean() {
  local out rc
  out=$(RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --workspace 2>&1)
  rc=$?
  printf '%s\n' "$out"
  [ "$rc" -eq 0 ] && ! grep -q '^warning' <<< "$out"
}
step "cargo doc -D warnings" rustdoc_clean
# Rust unit tests and doc-tests (the examples in rseq-percpu's and
# rseq-registration's documentation) run twice: with glibc registering every
# thread, and with glibc's registration off, where the component owns it.
step "cargo test (glibc owns)" cargo test --workspace
step "cargo test (component owns)" env GLIBC_TUNABLES=glibc.pthread.rseq=0 cargo test --workspace
step "cargo build --release" cargo build --release
bash scripts/target-seed.sh save host target

for suite in tests/*/run.sh; do
  echo "== $suite"
  t=$SECONDS
  log=$(mktemp)
  bash "$suite" 2>&1 | tee "$log"
  status=${PIPESTATUS[0]}
  line=$(grep -E '^([A-Za-z-]+: )?[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
  p=$(sed -E 's/.*\b([0-9]+) passed.*/\1/' <<< "$line")
  f=$(sed -E 's/.*\b([0-9]+) failed.*/\1/' <<< "$line")
  s=$(grep -oE '[0-9]+ skipped' <<< "$line" | grep -oE '[0-9]+' || echo 0)
  if [ -z "$line" ]; then
    echo "FAIL $suite: no 'N passed, N failed' line"; failed=$((failed + 1))
  else
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
    if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
      echo "FAIL $suite: exit $status"; failed=$((failed + 1))
    fi
  fi
  rm -f "$log"
  times+=("$((SECONDS - t))	${line:-no summary line}	$suite")
done

# Where the time went: one row per step and suite, in the order run.
echo "== time per step"
printf '%6s  %-40s  %s\n' seconds step result
for row in "${times[@]}"; do
  IFS=$'\t' read -r secs res name <<< "$row"
  printf '%6s  %-40s  %s\n' "$secs" "$name" "$res"
done

echo "== total ($((SECONDS - start)) s)"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
