#!/usr/bin/env bash
# e2fsprogs' own test images (tests/*/image.gz with e2fsck's expected outputs), fetched once
# into an ignored cache for test/interop/e2fsprogs-images.test.ts; run by test/setup/tools.sh.
#
# Source: Debian bookworm's e2fsprogs source package (its .orig tarball is upstream's 1.47.0,
# the version of the e2fsck the tests run), through apt with a private sources list, lists
# and cache in a scratch directory: the system's apt configuration is neither read nor changed.
# Only image files and expect.1/expect.2/name are kept (bz2 images recompressed as gzip, so the
# test reads one format); then test/setup/e2fsprogs-index.ts writes index.json (block size,
# feature bits, revision, inode size, expect.1's exit status). The cache appears whole or not
# at all (built beside it, renamed into place): index.json present means cached.
#
# Offline or failing: says so, writes the reason to $CACHE.failed (the test prints it when it
# skips) and exits 0; under CI=true it exits 1, since a CI run must not skip the comparison.
set -u
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
CACHE="$ROOT/.cache/e2fsprogs-tests"
SOURCES_LINE='deb-src http://deb.debian.org/debian bookworm main'
PACKAGE=e2fsprogs
[ -f "$CACHE/index.json" ] && exit 0

fail() {
  mkdir -p "$(dirname "$CACHE")"
  echo "$1" > "$CACHE.failed"
  echo "pretest: e2fsprogs test images not fetched: $1 (test/interop/e2fsprogs-images.test.ts will skip)" >&2
  [ "${CI:-}" = "true" ] && { echo "pretest: CI=true: failing, the interop test needs these images" >&2; exit 1; }
  exit 0
}

command -v apt-get >/dev/null 2>&1 || fail "apt-get is not available (the images come from Debian's e2fsprogs source package)"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/lists/partial" "$scratch/cache/archives/partial" "$scratch/src"
echo "$SOURCES_LINE" > "$scratch/sources.list"
apt_private=(-o "Dir::Etc::SourceList=$scratch/sources.list" -o Dir::Etc::SourceParts=/dev/null
  -o "Dir::State::Lists=$scratch/lists" -o "Dir::Cache=$scratch/cache" -o APT::Sandbox::User=root)
# apt-get update exits 0 when a source cannot be reached (it only warns): the lists it left say whether it could
apt-get "${apt_private[@]}" update >"$scratch/log" 2>&1
ls "$scratch"/lists/*Sources* >/dev/null 2>&1 || fail "apt-get update fetched no index of '$SOURCES_LINE' (offline?): $(grep -E '^(W|E|Err):' "$scratch/log" | head -n 2 | tr '\n' ' ')"
(cd "$scratch/src" && apt-get "${apt_private[@]}" source --download-only "$PACKAGE") >"$scratch/log" 2>&1 \
  || fail "apt-get source --download-only $PACKAGE failed: $(tail -n 2 "$scratch/log" | tr '\n' ' ')"
orig="$(ls "$scratch"/src/"${PACKAGE}"_*.orig.tar.* 2>/dev/null | head -n 1)"
[ -n "$orig" ] || fail "the source package held no .orig tarball"
tar -xf "$orig" -C "$scratch/src" --wildcards '*/tests/*' 2>"$scratch/log" || fail "unpacking $(basename "$orig") failed: $(tail -n 1 "$scratch/log")"
tests="$(ls -d "$scratch"/src/*/tests | head -n 1)"

staged="$CACHE.staged.$$"
rm -rf "$staged"
mkdir -p "$staged"
count=0
for dir in "$tests"/*/; do
  name="$(basename "$dir")"
  if [ -f "$dir/image.gz" ]; then
    mkdir -p "$staged/$name" && cp "$dir/image.gz" "$staged/$name/image.gz"
  elif [ -f "$dir/image.bz2" ] && command -v bunzip2 >/dev/null 2>&1; then
    mkdir -p "$staged/$name" && bunzip2 -c "$dir/image.bz2" | gzip -c > "$staged/$name/image.gz"
  else
    continue
  fi
  for f in expect.1 expect.2 name; do [ -f "$dir/$f" ] && cp "$dir/$f" "$staged/$name/$f"; done
  count=$((count + 1))
done
[ "$count" -gt 0 ] || { rm -rf "$staged"; fail "no test images found in $(basename "$orig")"; }
echo "$(basename "$orig")" > "$staged/SOURCE"
node -r "$ROOT/bin/register.js" "$ROOT/test/setup/e2fsprogs-index.ts" "$staged" >"$scratch/log" 2>&1 \
  || { rm -rf "$staged"; fail "writing the index failed: $(tail -n 3 "$scratch/log" | tr '\n' ' ')"; }
rm -rf "$CACHE" "$CACHE.failed"
mv "$staged" "$CACHE"
echo "pretest: $count e2fsprogs test images from $(basename "$orig") cached in ${CACHE#"$ROOT"/}" >&2
exit 0
