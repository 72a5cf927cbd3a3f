# Sourced by the installers that take a tool from Debian's packages. Defines install_debian_package NAME:
# installs it as root (or with passwordless sudo), refreshing the package lists only when the first try
# fails; on failure it calls the installer's own cannot_install with the reason.

install_debian_package() {
  local package="$1" log
  local as_root
  if [ "$(id -u)" -eq 0 ]; then
    as_root=()
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
  else
    cannot_install "this script is neither root nor allowed passwordless sudo"
  fi
  command -v apt-get >/dev/null 2>&1 || cannot_install "apt-get is not available on this machine"
  log="$(mktemp)"
  say "installing Debian's $package package (once per machine)"
  apt_install() { "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package" >>"$log" 2>&1; }
  # A fresh machine may have no package lists yet: refresh them only when the first try fails.
  if ! apt_install && ! { "${as_root[@]}" apt-get update -qq >>"$log" 2>&1 && apt_install; }; then
    cat "$log" >&2
    rm -f "$log"
    cannot_install "apt-get could not install the $package package (its output is above)"
  fi
  rm -f "$log"
}
