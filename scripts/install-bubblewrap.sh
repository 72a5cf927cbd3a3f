#!/usr/bin/env bash
# Makes bubblewrap (bwrap) available: the sandbox a worker runs model code in (dependency installs, tests,
# builds, local model servers). Source: Debian's `bubblewrap` package, nothing else.
# Prints the version on stderr and the path of bwrap on the last line of stdout.
set -euo pipefail

say() { echo "install-bubblewrap: $*" >&2; }

found() {
  say "found $("$1" --version) at $1"
  echo "$1"
  exit 0
}

cannot_install() {
  cat >&2 <<MSG
install-bubblewrap: bubblewrap (bwrap) is not installed, and $1.
  A Refit worker runs the code of model repositories confined in a bubblewrap sandbox. Either:
  - run \`apt-get install -y bubblewrap\` as root (Debian/Ubuntu; other distributions package it too), or
  - if every model repository this worker builds is trusted, set REFIT_BUILD_SANDBOX=off on the worker.
MSG
  exit 1
}

if bwrap="$(command -v "${REFIT_BWRAP:-bwrap}" 2>/dev/null)"; then found "$bwrap"; fi

if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as_root=(sudo -n)
else
  cannot_install "this script is neither root nor allowed passwordless sudo"
fi
command -v apt-get >/dev/null 2>&1 || cannot_install "apt-get is not available on this machine"

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
apt_install() { "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >>"$log" 2>&1; }
say "installing Debian's bubblewrap package (once per machine)"
if ! apt_install && ! { "${as_root[@]}" apt-get update -qq >>"$log" 2>&1 && apt_install; }; then
  cat "$log" >&2
  cannot_install "apt-get could not install the bubblewrap package (its output is above)"
fi
if bwrap="$(command -v bwrap 2>/dev/null)"; then found "$bwrap"; fi
cannot_install "the bubblewrap package installed without it"
