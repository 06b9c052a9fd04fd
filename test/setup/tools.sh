#!/usr/bin/env bash
# `npm test`'s pretest step: the Debian packages the tests run, installed when missing.
# e2fsprogs: the interop tests run the real e2fsck and debugfs (usually in /usr/sbin).
# chromium: test/cli/html.test.ts opens the HTML report in it (through playwright-core).
# A missing tool makes its tests fail, never skip; this step only tries to install it
# (commands run as root on the project's machines; elsewhere it says what to install).
# Then e2fsprogs' own test images are fetched once into .cache/ (test/setup/e2fsprogs-tests.sh:
# offline, test/interop/e2fsprogs-images.test.ts skips and says why; under CI=true this fails).
set -u
export PATH="$PATH:/usr/sbin:/sbin"

install_tools() {
  local missing=()
  if ! command -v e2fsck >/dev/null 2>&1 || ! command -v debugfs >/dev/null 2>&1; then missing+=(e2fsprogs); fi
  if [ ! -x /usr/bin/chromium ]; then missing+=(chromium); fi
  [ "${#missing[@]}" -eq 0 ] && return
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "pretest: the tests need ${missing[*]} (Debian packages); install them, or the tests that run them fail" >&2
    return
  fi
  echo "pretest: installing ${missing[*]}" >&2
  apt-get update -qq >/dev/null 2>&1
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 || echo "pretest: could not install ${missing[*]}" >&2
}

install_tools
bash "$(dirname "$0")/e2fsprogs-tests.sh"
