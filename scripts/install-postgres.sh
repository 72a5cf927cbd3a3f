#!/usr/bin/env bash
# Makes the PostgreSQL server binaries (initdb, pg_ctl, postgres) available to the tests, which start a
# throwaway analytics database of their own. Source: Debian's `postgresql` package, nothing else.
# Prints the version on stderr and the bin folder on the last line of stdout.
set -euo pipefail

say() { echo "install-postgres: $*" >&2; }

is_server_bin() { [ -x "$1/initdb" ] && [ -x "$1/pg_ctl" ] && [ -x "$1/postgres" ]; }

server_bin() { # prints the bin folder of a complete server install, or fails
  local initdb dir
  if initdb="$(command -v initdb 2>/dev/null)"; then
    # Resolved, so a symlink on PATH yields the real folder where pg_ctl and postgres sit too.
    dir="$(dirname "$(readlink -f "$initdb")")"
    if is_server_bin "$dir"; then echo "$dir"; return 0; fi
  fi
  # Debian keeps server binaries off PATH, one folder per major version: take the newest.
  while read -r dir; do
    if is_server_bin "$dir"; then echo "$dir"; return 0; fi
  done < <(compgen -G '/usr/lib/postgresql/*/bin' | sort -V -r)
  return 1
}

found() {
  say "found $("$1/postgres" --version) in $1"
  echo "$1"
  exit 0
}

cannot_install() {
  cat >&2 <<MSG
install-postgres: PostgreSQL's server binaries (initdb, pg_ctl, postgres) are not installed, and $1.
  Refit's tests start a throwaway PostgreSQL server to test the analytics store. Either:
  - run \`apt-get install -y postgresql\` as root (Debian/Ubuntu), or
  - put initdb, pg_ctl and postgres from a PostgreSQL install of your own on PATH.
MSG
  exit 1
}

if dir="$(server_bin)"; then found "$dir"; fi

# shellcheck source=lib/debian-package.sh
source "$(dirname "$0")/lib/debian-package.sh"
install_debian_package postgresql
if dir="$(server_bin)"; then found "$dir"; fi
cannot_install "the postgresql package installed without them"
