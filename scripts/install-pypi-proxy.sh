#!/usr/bin/env bash
# Installs a pinned proxpi (a caching proxy of a Python package index, from PyPI) into a private virtual
# environment in the versioned tools folder outside the clone. Pods on the test node reach nothing off this
# machine, so tests and `refit dev --kubernetes` run it on the node's bridge address and point builds at it
# (REFIT_PIP_INDEX_URL); it fetches from this machine's own index and keeps what it fetched on disk.
# Progress goes to stderr; the last line of stdout is the venv's `flask` executable (proxpi is a Flask app).
set -euo pipefail

REFIT_PROXPI_VERSION="${REFIT_PROXPI_VERSION:-1.3.1}"
REFIT_HOME="${REFIT_HOME:-$HOME/.cache/refit}"
tools="$REFIT_HOME/tools"
dest="$tools/proxpi-$REFIT_PROXPI_VERSION"
stamp="$dest/.refit-installed"
requirement="proxpi==$REFIT_PROXPI_VERSION"

say() { echo "install-pypi-proxy: $*" >&2; }
complete() { [ "$(cat "$stamp" 2>/dev/null)" = "$requirement" ] && [ -x "$dest/bin/flask" ]; }
found() {
  say "found proxpi $REFIT_PROXPI_VERSION at $dest"
  echo "$dest/bin/flask"
  exit 0
}
cannot_install() {
  say "could not install $requirement: $1. Install Python 3 with venv and pip (Debian: apt-get install -y python3-venv), make PyPI reachable and run this again"
  exit 1
}

if complete; then found; fi
mkdir -p "$tools"
exec 9>"$tools/.proxpi-$REFIT_PROXPI_VERSION.lock"
flock 9
if complete; then found; fi

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
say "installing $requirement from PyPI into $dest (once per machine)"
rm -rf "$dest"
if ! python3 -m venv "$dest" >>"$log" 2>&1 ||
  ! "$dest/bin/python" -m pip install --disable-pip-version-check --no-input "$requirement" >>"$log" 2>&1 ||
  ! "$dest/bin/python" -c 'import proxpi.server' >>"$log" 2>&1; then
  tail -n 30 "$log" >&2
  rm -rf "$dest"
  cannot_install "venv, pip or the import failed (the end of their output is above)"
fi
echo "$requirement" >"$stamp"
say "installed $requirement"
echo "$dest/bin/flask"
