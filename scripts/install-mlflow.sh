#!/usr/bin/env bash
# Installs a pinned MLflow (tracking server and Python client) into a private virtual environment in the
# versioned tools folder outside the clone, so every clone and CI run on this machine reuses it. The tests
# of the MLflow metric source start a throwaway `mlflow server` from it and log metrics with its client.
# Source: PyPI's `mlflow` package with its `auth` extra (the basic-auth server app), nothing else. Progress goes to stderr; the last line of stdout is the
# path of the `mlflow` executable (its venv's `python` sits beside it).
set -euo pipefail

REFIT_MLFLOW_VERSION="${REFIT_MLFLOW_VERSION:-3.17.2}"
REFIT_HOME="${REFIT_HOME:-$HOME/.cache/refit}"
tools="$REFIT_HOME/tools"
dest="$tools/mlflow-$REFIT_MLFLOW_VERSION"
# Written last: a folder without it is an install that was interrupted, and is redone.
stamp="$dest/.refit-installed"
requirement="mlflow[auth]==$REFIT_MLFLOW_VERSION"

say() { echo "install-mlflow: $*" >&2; }

complete() { [ "$(cat "$stamp" 2>/dev/null)" = "$requirement" ] && [ -x "$dest/bin/mlflow" ] && [ -x "$dest/bin/python" ]; }

found() {
  say "found MLflow $REFIT_MLFLOW_VERSION at $dest/bin/mlflow"
  echo "$dest/bin/mlflow"
  exit 0
}

cannot_install() {
  cat >&2 <<MSG
install-mlflow: could not install MLflow $REFIT_MLFLOW_VERSION: $1.
  Refit's MLflow tests start a throwaway MLflow tracking server from $dest. Either:
  - install Python 3.10 or newer with the venv module and pip (Debian: \`apt-get install -y python3-venv\`)
    and make PyPI reachable, then run this script again, or
  - set REFIT_MLFLOW_VERSION to a version of the \`mlflow\` package that installs on your Python.
MSG
  exit 1
}

if complete; then found; fi

mkdir -p "$tools"
# Two test workers may ask at once: the second waits for the first's install instead of racing it.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$tools/.mlflow-$REFIT_MLFLOW_VERSION.lock"
  flock 9
  if complete; then found; fi
fi

python="$(command -v python3 || command -v python || true)"
[ -n "$python" ] || cannot_install "no python3 on PATH"
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' ||
  cannot_install "$("$python" --version 2>&1) is older than the 3.10 MLflow 3 needs"

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
say "installing $requirement from PyPI into $dest (once per machine; a few minutes)"
started=$SECONDS
# A venv records its own absolute path, so it is made in place (not staged and moved); the stamp says done.
rm -rf "$dest"
if ! "$python" -m venv "$dest" >>"$log" 2>&1 ||
  ! "$dest/bin/python" -m pip install --disable-pip-version-check --no-input "$requirement" >>"$log" 2>&1; then
  tail -n 40 "$log" >&2
  rm -rf "$dest"
  cannot_install "venv or pip failed (the end of their output is above)"
fi
if ! version="$("$dest/bin/mlflow" --version 2>>"$log")"; then
  tail -n 40 "$log" >&2
  rm -rf "$dest"
  cannot_install "it installed but \`mlflow --version\` fails (its output is above)"
fi
echo "$requirement" >"$stamp"
say "installed $version ($(du -sh "$dest" | cut -f1), $((SECONDS - started)) s)"
echo "$dest/bin/mlflow"
