# Keys for the build caches under ~/.cache/rseq-libc (sourced by the scripts
# that fill them; docs/testing-budget.md lists every cache and its inputs).
#
# A cache directory holds a stamp, .inputs.sha256: the sha256 of everything
# that went into it (the recipe that built it, the package versions, the
# configuration, the compiler). A script computes the key of what it would
# build now and rebuilds when the stamp differs, so that a changed input
# cannot be served a stale build.
#
# RSEQ_LIBC_CACHE_CHECK=1: a script prints one line per cache it would use,
#   cache NAME: fresh|stale|adopt key KEY (DIR)
# and exits 0 before fetching or building anything (tests/harness uses it
# to check that a changed input makes a cache stale).

# The sha256 of the arguments: "file:PATH" hashes the file's contents, "recipe:PATH:NAME" the
# lines of PATH between "# >>> NAME" and "# <<< NAME" (the part of a script
# that builds, without its tests or comments elsewhere), anything else is
# hashed as text. Each item is framed by its kind and length, so that two
# different lists never hash alike.
cache_key() {
  local item body
  for item in "$@"; do
    case $item in
      file:*) body=$(cat "${item#file:}" 2> /dev/null || echo "<missing ${item#file:}>") ;;
      recipe:*)
        local rest=${item#recipe:}
        body=$(sed -n "/^# >>> ${rest##*:}\$/,/^# <<< ${rest##*:}\$/p" "${rest%:*}")
        [ -n "$body" ] || body="<no recipe ${rest##*:} in ${rest%:*}>" ;;
      *) body=$item ;;
    esac
    printf '%s %s\n%s\n' "${item%%:*}" "${#body}" "$body"
  done | sha256sum | cut -c1-64
}

# The compiler and linker that build a cache's contents (their versions are
# inputs too: a toolchain upgrade rebuilds).
cache_toolchain() {
  printf '%s; %s' "$(gcc --version 2> /dev/null | head -n 1)" "$(ld --version 2> /dev/null | head -n 1)"
}

cache_stamp_of() { cat "$1/.inputs.sha256" 2> /dev/null; }
cache_fresh() { [ "$(cache_stamp_of "$1")" = "$2" ]; } # dir key
cache_stamp() { echo "$2" > "$1/.inputs.sha256"; }     # dir key

# In check mode: print the verdict for one cache. $4 (optional): 1 when a
# cache made before stamps would be adopted (its recorded inputs match).
cache_report() { # name dir key [adoptable]
  local verdict=stale
  if cache_fresh "$2" "$3"; then verdict=fresh
  elif [ "${4:-0}" = 1 ] && [ -z "$(cache_stamp_of "$2")" ]; then verdict=adopt; fi
  echo "cache $1: $verdict key $3 ($2)"
}
cache_check_mode() { [ "${RSEQ_LIBC_CACHE_CHECK:-0}" = 1 ]; }
