#!/usr/bin/env bash
# Runs the Python SDK's tests with pytest: the machine's python3 when it has pytest, otherwise a private
# virtual environment with a pinned pytest in the tools folder (PyPI only), made once per machine.
# Extra arguments go to pytest (e.g. --junitxml=FILE for .ci/run's summary).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTEST_VERSION="${PYTEST_VERSION:-9.2.0}"
tools="${REFIT_HOME:-$HOME/.cache/refit}/tools"
python=python3
if ! python3 -c 'import pytest' 2>/dev/null; then
  venv="$tools/pytest-$PYTEST_VERSION"
  if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import pytest' 2>/dev/null; then
    echo "python-tests: installing pytest==$PYTEST_VERSION into $venv (once per machine)" >&2
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "pytest==$PYTEST_VERSION"
  fi
  python="$venv/bin/python"
fi
PYTHONDONTWRITEBYTECODE=1 exec "$python" -m pytest -q sdk/python/tests "$@"
