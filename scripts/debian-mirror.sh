#!/usr/bin/env bash
# Prints the Debian archive mirror this machine's apt uses (the URI of its first enabled `deb` source for the
# bookworm suites, not the security archive), read from /etc/apt/sources.list and /etc/apt/sources.list.d/
# (*.list one-line entries and *.sources deb822 stanzas), so setup.sh fetches bookworm-backports from the same
# mirror. LAPIS_APT_ROOT reads another root's files (the tests use it). Exit 1, with the reason, when none is found.
set -euo pipefail
root="${LAPIS_APT_ROOT:-}"
suite="${1:-bookworm}"
files=()
[ -f "$root/etc/apt/sources.list" ] && files+=("$root/etc/apt/sources.list")
for f in "$root"/etc/apt/sources.list.d/*.list "$root"/etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] && files+=("$f")
done
if [ ${#files[@]} -eq 0 ]; then
  echo "debian-mirror: no apt sources in $root/etc/apt/sources.list or $root/etc/apt/sources.list.d/" >&2
  exit 1
fi

# One-line format: `deb [options] URI SUITE COMPONENT...`; deb822: stanzas of `Field: value` lines (a value may
# continue on lines that start with white space), separated by blank lines.
mirror=$(awk -v suite="$suite" '
  function wanted(s) { return (s == suite || index(s, suite "-") == 1) && s != suite "-security" && s !~ /security/ }
  function has(list, word,   n, a, i) { n = split(list, a, /[ \t]+/); for (i = 1; i <= n; i++) if (a[i] == word) return 1; return 0 }
  function stanza_end(   n, u, s, i, found) {
    if (types != "" && has(types, "deb") && tolower(enabled) != "no" && has(comps, "main")) {
      n = split(suites, s, /[ \t]+/); found = 0
      for (i = 1; i <= n; i++) if (wanted(s[i])) found = 1
      if (found) { split(uris, u, /[ \t]+/); if (u[1] != "" && result == "") result = u[1] }
    }
    types = uris = suites = comps = enabled = ""; field = ""
  }
  FNR == 1 { stanza_end(); deb822 = (FILENAME ~ /\.sources$/) }
  /^[ \t]*#/ { next }
  deb822 {
    if ($0 ~ /^[ \t]*$/) { stanza_end(); next }
    if ($0 ~ /^[ \t]/) { line = $0; sub(/^[ \t]+/, "", line); value = line }
    else { field = tolower($0); sub(/:.*/, "", field); value = $0; sub(/^[^:]*:[ \t]*/, "", value) }
    if (field == "types") types = types " " value
    else if (field == "uris") uris = uris " " value
    else if (field == "suites") suites = suites " " value
    else if (field == "components") comps = comps " " value
    else if (field == "enabled") enabled = value
    sub(/^[ \t]+/, "", types); sub(/^[ \t]+/, "", uris); sub(/^[ \t]+/, "", suites); sub(/^[ \t]+/, "", comps)
    next
  }
  $1 == "deb" {
    i = 2
    if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
    uri = $i; s = $(i + 1); comps = ""
    for (j = i + 2; j <= NF; j++) comps = comps " " $j
    if (wanted(s) && has(comps, "main") && result == "") result = uri
    comps = ""
  }
  END { stanza_end(); if (result != "") print result }
' "${files[@]}")
if [ -z "$mirror" ]; then
  echo "debian-mirror: no enabled 'deb' source for $suite (main) in ${files[*]}: add one, or set LAPIS_DEBIAN_MIRROR" >&2
  exit 1
fi
echo "${mirror%/}"
