#!/usr/bin/env bash
# Debian's Chromium, for the tests' browser check of the Temporal Web UI (driven by playwright-core, which downloads
# no browser of its own). Prints the browser's path; a no-op once it is installed.
set -euo pipefail
say() { echo "install-chromium: $*" >&2; }
cannot_install() {
  say "cannot install Chromium: $*"
  exit 1
}
if ! command -v chromium >/dev/null 2>&1; then
  # shellcheck source=lib/debian-package.sh
  source "$(dirname "$0")/lib/debian-package.sh"
  install_debian_package chromium
fi
command -v chromium
