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

# shellcheck source=lib/debian-package.sh
source "$(dirname "$0")/lib/debian-package.sh"
install_debian_package bubblewrap
if bwrap="$(command -v bwrap 2>/dev/null)"; then found "$bwrap"; fi
cannot_install "the bubblewrap package installed without it"
